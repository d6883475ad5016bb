/*
 * shared_counter — memory shared between processes, with a lock that
 * survives the death of its holder.
 *
 * The parent creates a named shared memory object holding a robust,
 * process-shared mutex and a counter. Child processes open the object by its
 * name, as unrelated programs would, and each adds 1 to the counter many
 * times under the lock. The total comes out exact.
 *
 * If a process dies while it holds the lock, the next locker gets
 * MMK_LOCK_OWNERDEAD: it holds the lock, undoes what the dead process left
 * half-done, and calls mmk_mutex_consistent before going on (see
 * lock_counter). With "--kill-one" the parent kills the last child with
 * SIGKILL at an arbitrary moment, inside or outside the lock, as a crash or
 * the OOM killer would; every process also counts the increments it
 * committed, so the total can still be checked exactly.
 *
 * Usage: shared_counter [PROCESSES [INCREMENTS]] [--kill-one]
 */
#include <mmkit.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCS 64

/*
 * Lock-free atomics are address-free, so they work between processes that map
 * the same memory at different addresses.
 */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "needs lock-free 64-bit atomics");

/* What lives in the shared memory. */
struct shared {
    mmk_mutex lock;
    _Atomic unsigned long long counter;
    _Atomic unsigned long long done[MAX_PROCS]; /* increments each process committed */
    struct {                                    /* the update in progress, to undo it */
        _Atomic unsigned long long who;         /* 1 + the updater's slot; 0: none */
        _Atomic unsigned long long counter, done;
    } undo;
};

/*
 * One increment by the process in `slot`, under the lock. A SIGKILL can land
 * between any two instructions, so the order of the stores is what makes
 * repair possible: first what to put back, then "update in progress", then
 * the update, then "done". The fields are C11 atomics because with plain
 * stores the compiler may drop the store of `who` (it is overwritten before
 * this thread reads it) or move the update ahead of it; atomic operations
 * happen in program order and none is dropped.
 */
static void add_one(struct shared *s, int slot) {
    unsigned long long c = atomic_load(&s->counter);
    unsigned long long d = atomic_load(&s->done[slot]);
    atomic_store(&s->undo.counter, c);
    atomic_store(&s->undo.done, d);
    atomic_store(&s->undo.who, (unsigned long long)slot + 1);
    atomic_store(&s->counter, c + 1);
    atomic_store(&s->done[slot], d + 1);
    atomic_store(&s->undo.who, 0);
}

/*
 * Take the lock. If its previous holder died holding it mid-update, put back
 * the values the undo record kept (the same whichever store it died after)
 * and mark the state consistent, so the lock stays usable. Returns 0 with
 * the lock held, or a negative code without it.
 */
static int lock_counter(struct shared *s) {
    int rc = mmk_mutex_lock(&s->lock);
    if (rc == MMK_LOCK_OWNERDEAD) {
        unsigned long long who = atomic_load(&s->undo.who);
        if (who != 0 && who <= MAX_PROCS) {
            atomic_store(&s->counter, atomic_load(&s->undo.counter));
            atomic_store(&s->done[who - 1], atomic_load(&s->undo.done));
            atomic_store(&s->undo.who, 0);
        }
        fprintf(stderr, "shared_counter: a process died holding the lock; state repaired\n");
        rc = mmk_mutex_consistent(&s->lock);
        if (rc < 0)
            mmk_mutex_unlock(&s->lock);
    }
    return rc;
}

/* One child: open the object by name and add 1 `rounds` times (forever if < 0). */
static int child(const char *name, int slot, long rounds) {
    mmk_map *m;
    int rc = mmk_shm_open(&m, name, 0, 0, 0);
    if (rc < 0) {
        fprintf(stderr, "shared_counter: child: %s\n", mmk_strerror(rc));
        return 1;
    }
    struct shared *s = mmk_data(m);
    for (long r = 0; rounds < 0 || r < rounds; r++) {
        if (lock_counter(s) < 0)
            return 1;
        add_one(s, slot);
        mmk_mutex_unlock(&s->lock);
    }
    mmk_free(m);
    return 0;
}

/*
 * Kill `victim` once it has committed at least `at_least` increments: the
 * moment is arbitrary, wherever in its loop it happens to be. (Its count
 * must pass `at_least`, since the increment in progress may be undone.)
 * Returns 0, or -1 if it died by itself first.
 */
static int kill_when(struct shared *s, int slot, pid_t victim, unsigned long long at_least) {
    while (atomic_load(&s->done[slot]) <= at_least) {
        if (waitpid(victim, NULL, WNOHANG) != 0)
            return -1;
        usleep(1000);
    }
    return kill(victim, SIGKILL);
}

int main(int argc, char **argv) {
    long procs = 4, rounds = 10000;
    int kill_one = 0, pos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--kill-one") == 0)
            kill_one = 1;
        else if (pos++ == 0)
            procs = strtol(argv[i], NULL, 10);
        else
            rounds = strtol(argv[i], NULL, 10);
    }
    if (procs < 1 || procs > MAX_PROCS || rounds < 1) {
        fprintf(stderr, "usage: shared_counter [PROCESSES [INCREMENTS]] [--kill-one]\n");
        return 2;
    }

    /* A name nobody else uses; created 0600, so only this user can open it. */
    char name[64];
    snprintf(name, sizeof name, "/mmk-example-counter-%ld", (long)getpid());
    mmk_map *m;
    mmk_shm_options o = MMK_SHM_OPTIONS_INIT;
    o.length = sizeof(struct shared);
    o.flags = MMK_SHM_CREATE | MMK_SHM_EXCL;
    int created = 0;
    int rc = mmk_shm_open_ex(&m, name, &o, &created);
    if (rc < 0) {
        fprintf(stderr, "shared_counter: %s: %s\n", name, mmk_strerror(rc));
        return 1;
    }
    /*
     * The creator initialises the lock (with EXCL that is always us; without
     * it, `created` says which of the processes opening the name made it).
     */
    struct shared *s = mmk_data(m); /* new objects are zero-filled */
    rc = created ? mmk_mutex_init(&s->lock) : 0;
    if (rc < 0) {
        fprintf(stderr, "shared_counter: mutex: %s\n", mmk_strerror(rc));
        mmk_shm_unlink(name);
        return 1;
    }

    int failed = 0;
    pid_t victim = -1;
    for (long p = 0; p < procs; p++) {
        int is_victim = kill_one && p == procs - 1;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0)
            _exit(child(name, (int)p, is_victim ? -1 : rounds));
        if (pid < 0) {
            perror("fork");
            failed = 1;
            break;
        }
        if (is_victim)
            victim = pid;
    }
    if (victim > 0 && kill_when(s, (int)procs - 1, victim, (unsigned long long)rounds / 2) < 0)
        failed = 1;
    int status, killed = 0;
    while (wait(&status) > 0) {
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && kill_one)
            killed++;
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed = 1;
    }

    /*
     * The name can go now; the memory stays until the last map is freed. A
     * victim that died holding the lock after every other process finished
     * leaves it marked owner-dead: lock_counter repairs that here too.
     */
    mmk_shm_unlink(name);
    unsigned long long total = 0, committed = 0, victim_done = 0;
    if (lock_counter(s) == 0) {
        total = atomic_load(&s->counter);
        for (long p = 0; p < procs; p++) {
            unsigned long long d = atomic_load(&s->done[p]);
            committed += d;
            if (kill_one && p == procs - 1)
                victim_done = d;
            else if (d != (unsigned long long)rounds)
                failed = 1; /* a survivor's increments went missing */
        }
        mmk_mutex_unlock(&s->lock);
    } else {
        failed = 1;
    }
    mmk_mutex_destroy(&s->lock);
    mmk_free(m);

    printf("%ld processes x %ld increments under a robust lock%s\n", procs, rounds,
           kill_one ? " (one killed at an arbitrary moment)" : "");
    if (kill_one)
        printf("the killed process had committed %llu increments\n", victim_done);
    printf("counter = %llu (expected %llu)\n", total, committed);
    return failed || (kill_one && killed != 1) || total != committed ? 1 : 0;
}
