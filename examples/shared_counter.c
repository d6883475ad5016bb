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
 * MMK_EOWNERDEAD: it holds the lock, repairs what the dead process may have
 * left half-done, and calls mmk_mutex_consistent before going on (see
 * lock_counter). The last child here dies on purpose while holding the lock
 * ("--kill-one") to show that.
 *
 * Usage: shared_counter [PROCESSES [INCREMENTS]] [--kill-one]
 */
#include <mmkit.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What lives in the shared memory. */
struct shared {
    mmk_mutex lock;
    uint64_t counter;
    uint64_t pending; /* an increment in progress: set before, cleared after */
};

/*
 * Take the lock. If its previous holder died holding it, undo that holder's
 * half-finished increment (pending says whether there is one) and mark the
 * state consistent, so the lock stays usable.
 */
static int lock_counter(struct shared *s) {
    int rc = mmk_mutex_lock(&s->lock);
    if (rc == MMK_EOWNERDEAD) {
        if (s->pending) {
            s->counter -= s->pending;
            s->pending = 0;
        }
        fprintf(stderr, "shared_counter: a process died holding the lock; state repaired\n");
        rc = mmk_mutex_consistent(&s->lock);
    }
    return rc;
}

/* One child: open the object by name and add 1 `rounds` times. */
static int child(const char *name, long rounds, int die_holding_lock) {
    mmk_map *m;
    int rc = mmk_shm_open(&m, name, 0, 0, 0);
    if (rc < 0) {
        fprintf(stderr, "shared_counter: child: %s\n", mmk_strerror(rc));
        return 1;
    }
    struct shared *s = mmk_data(m);
    for (long r = 0; r < rounds; r++) {
        if (lock_counter(s) < 0)
            return 1;
        s->pending = 1;
        s->counter += 1;
        if (die_holding_lock && r == rounds / 2)
            raise(SIGKILL); /* dies mid-update, holding the lock */
        s->pending = 0;
        mmk_mutex_unlock(&s->lock);
    }
    mmk_free(m);
    return 0;
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
    if (procs < 1 || procs > 64 || rounds < 1) {
        fprintf(stderr, "usage: shared_counter [PROCESSES [INCREMENTS]] [--kill-one]\n");
        return 2;
    }

    /* A name nobody else uses; created 0600, so only this user can open it. */
    char name[64];
    snprintf(name, sizeof name, "/mmk-example-counter-%ld", (long)getpid());
    mmk_map *m;
    int rc = mmk_shm_open(&m, name, sizeof(struct shared), MMK_SHM_CREATE | MMK_SHM_EXCL, 0);
    if (rc < 0) {
        fprintf(stderr, "shared_counter: %s: %s\n", name, mmk_strerror(rc));
        return 1;
    }
    struct shared *s = mmk_data(m); /* new objects are zero-filled */
    rc = mmk_mutex_init(&s->lock);
    if (rc < 0) {
        fprintf(stderr, "shared_counter: mutex: %s\n", mmk_strerror(rc));
        mmk_shm_unlink(name);
        return 1;
    }

    int failed = 0;
    for (long p = 0; p < procs; p++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0)
            _exit(child(name, rounds, kill_one && p == procs - 1));
        if (pid < 0) {
            perror("fork");
            failed = 1;
            break;
        }
    }
    int status, killed = 0;
    while (wait(&status) > 0) {
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && kill_one)
            killed++;
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed = 1;
    }

    /*
     * The name can go now; the memory stays until the last map is freed. A
     * victim that died after every other process finished leaves the lock
     * marked owner-dead: lock_counter repairs that here too.
     */
    mmk_shm_unlink(name);
    uint64_t expected = (uint64_t)procs * (uint64_t)rounds;
    if (kill_one)
        expected -= (uint64_t)(rounds - rounds / 2); /* the victim's unfinished share */
    uint64_t total = 0;
    if (lock_counter(s) == 0) {
        total = s->counter;
        mmk_mutex_unlock(&s->lock);
    } else {
        failed = 1;
    }
    mmk_mutex_destroy(&s->lock);
    mmk_free(m);

    printf("%ld processes x %ld increments under a robust lock%s\n", procs, rounds,
           kill_one ? " (one killed while holding it)" : "");
    printf("counter = %llu (expected %llu)\n", (unsigned long long)total,
           (unsigned long long)expected);
    return failed || (kill_one && killed != 1) || total != expected ? 1 : 0;
}
