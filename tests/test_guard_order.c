/*
 * test_guard_order.c — the fault guard keeps working whatever SIGBUS handlers
 * are installed around mmkit's, in whichever order, and passes the faults
 * that are not its own on to them: each scenario runs in a child process that
 * starts with no mmkit handler (the parent never uses a guard), reports what
 * its handlers saw through a pipe, and ends by exiting or by a signal that the
 * parent checks.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>

#include "test_core_util.h"

static uint64_t ps;

/* ---- child plumbing ------------------------------------------------------- */

/* The child's end of the report pipe: handlers write one letter per call
   (write() is async-signal-safe). */
static int report_fd = -1;

static void note(char c) {
    ssize_t r = write(report_fd, &c, 1);
    (void)r;
}

struct outcome {
    int status;
    char seen[64]; /* letters the child's handlers wrote, in order */
};

/* Runs fn() in a child with a report pipe; collects its letters and status. */
static struct outcome run_scenario(int (*fn)(void)) {
    struct outcome o;
    memset(&o, 0, sizeof o);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        report_fd = p[1];
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl);
        alarm(60); /* a fault that spins is a failure, not a hang */
        _exit(fn());
    }
    close(p[1]);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(p[0], o.seen + got, sizeof o.seen - 1 - got);
        if (r > 0 && (got += (size_t)r) < sizeof o.seen - 1)
            continue;
        if (r < 0 && errno == EINTR)
            continue;
        break;
    }
    close(p[0]);
    while (waitpid(pid, &o.status, 0) < 0 && errno == EINTR) {
    }
    return o;
}

/* A file of `pages` pages mapped through mmkit, then cut to `keep` bytes
   behind the map's back: touching past `keep` (rounded up to a page) faults.
   The path stays (for the fix-up scenario) and is removed by the parent. */
static char order_path[512]; /* set by the parent, so children share it */

static const char *scenario_path(void) {
    return order_path;
}

static mmk_map *truncated_map(unsigned pages, uint64_t keep) {
    const char *path = scenario_path();
    size_t n = (size_t)(pages * ps);
    unsigned char *buf = malloc(n);
    memset(buf, 'x', n);
    CHECK_EQ(write_file(path, buf, n), 0);
    free(buf);
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, NULL));
    CHECK_EQ(truncate(path, (off_t)keep), 0);
    return m;
}

/* Guarded reads of the lost page: each must be MMK_EFAULT. Returns 0 if so. */
static int guarded_reads_fail(mmk_map *m) {
    unsigned char b[8];
    for (int i = 0; i < 3; i++)
        if (mmk_copy_out(m, ps + (uint64_t)i, b, sizeof b) != MMK_EFAULT)
            return 1;
    if (mmk_copy_out(m, 0, b, 1) != 0 || b[0] != 'x')
        return 1;
    return 0;
}

/* The '|' in the report separates what handlers saw during the guarded
   reads (nothing, ever) from what they see of this unguarded one. */
static int unguarded_touch(const mmk_map *m) {
    note('|');
    return *((const volatile unsigned char *)mmk_data(m) + ps);
}

static void install(int flags, void (*handler)(int), void (*action)(int, siginfo_t *, void *),
                    struct sigaction *prev) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    if (action) {
        sa.sa_sigaction = action;
        sa.sa_flags = SA_SIGINFO | flags;
    } else {
        sa.sa_handler = handler;
        sa.sa_flags = flags;
    }
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGBUS, &sa, prev), 0);
}

/* ---- handlers -------------------------------------------------------------- */

static const volatile unsigned char *expected_addr;

/* A program's own last word on SIGBUS: it reports and exits. */
static void exit_plain(int sig) {
    note(sig == SIGBUS ? 'P' : '?');
    _exit(42);
}

static void exit_info(int sig, siginfo_t *info, void *ctx) {
    (void)ctx;
    note(sig == SIGBUS && info->si_addr == (void *)expected_addr ? 'I' : '?');
    _exit(43);
}

/* Handlers that pass the signal on to the one they displaced, the two ways
   programs do it: by calling it, or by putting it back and raising again
   (faulthandler's way). */
static struct sigaction prev_a, prev_b, prev_r;

static void call_previous(const struct sigaction *prev, int sig, siginfo_t *info, void *ctx) {
    if (prev->sa_flags & SA_SIGINFO)
        prev->sa_sigaction(sig, info, ctx);
    else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN)
        prev->sa_handler(sig);
    else
        note('!'); /* not expected in these scenarios */
}

static void chain_a(int sig, siginfo_t *info, void *ctx) {
    note('A');
    call_previous(&prev_a, sig, info, ctx);
}

static void chain_b(int sig, siginfo_t *info, void *ctx) {
    note('B');
    call_previous(&prev_b, sig, info, ctx);
}

static void restore_and_raise(int sig) {
    note('R');
    sigaction(sig, &prev_r, NULL);
    raise(sig);
}

/* Python's C-level handler: sets a flag and returns. */
static void flag_and_return(int sig) {
    (void)sig;
    note('F');
}

/* Removes the cause: the file grows back, the access re-runs and succeeds. */
static void fix_up(int sig) {
    (void)sig;
    note('U');
    if (truncate(scenario_path(), (off_t)(4 * ps)) != 0)
        _exit(90);
}

/* A program with its own recovery: its handler jumps back into the program
   (sigsetjmp/siglongjmp), leaving mmkit's pass of the fault unfinished. */
static sigjmp_buf recover_env;

static void jump_back(int sig) {
    (void)sig;
    note('J');
    siglongjmp(recover_env, 1);
}

static int __attribute__((noinline)) touch_at_depth(const mmk_map *m, int depth) {
    volatile char pad[256];
    pad[0] = (char)depth;
    if (depth > 0)
        return touch_at_depth(m, depth - 1) + pad[0] - depth;
    return *((const volatile unsigned char *)mmk_data(m) + ps);
}

/* ---- scenarios ------------------------------------------------------------- */

/* mmkit first, then the program's handler (sa_handler form). */
static int after_plain(void) {
    mmk_map *m = truncated_map(2, ps);
    if (mmk_guard_install() != 0)
        return 2;
    install(0, exit_plain, NULL, NULL);
    if (guarded_reads_fail(m))
        return 3;
    return unguarded_touch(m) + 100; /* must end in exit_plain */
}

/* The same with an SA_SIGINFO handler, which must see the real siginfo. */
static int after_info(void) {
    mmk_map *m = truncated_map(2, ps);
    if (guarded_reads_fail(m)) /* installs mmkit's through a guard */
        return 3;
    install(0, NULL, exit_info, NULL);
    expected_addr = (const unsigned char *)mmk_data(m) + ps;
    if (guarded_reads_fail(m))
        return 4;
    return unguarded_touch(m) + 100;
}

/* The program's handler first, then mmkit's. */
static int before(void) {
    install(0, exit_plain, NULL, NULL);
    mmk_map *m = truncated_map(2, ps);
    if (guarded_reads_fail(m))
        return 3;
    return unguarded_touch(m) + 100;
}

/* One below and two above, each passing on by calling its predecessor: the
   unguarded fault goes B (most recent), A, then the one below, once each. */
static int stacked(void) {
    install(0, NULL, exit_info, NULL);
    mmk_map *m = truncated_map(2, ps);
    expected_addr = (const unsigned char *)mmk_data(m) + ps;
    if (mmk_guard_install() != 0)
        return 2;
    install(0, NULL, chain_a, &prev_a);
    if (guarded_reads_fail(m))
        return 3;
    install(0, NULL, chain_b, &prev_b);
    if (guarded_reads_fail(m))
        return 4;
    return unguarded_touch(m) + 100;
}

/* faulthandler's way: put the predecessor back and raise; SIG_DFL below, so
   the process dies of SIGBUS after the handler ran once. */
static int raise_again(void) {
    mmk_map *m = truncated_map(2, ps);
    if (mmk_guard_install() != 0)
        return 2;
    install(SA_NODEFER, restore_and_raise, NULL, &prev_r);
    if (guarded_reads_fail(m))
        return 3;
    return unguarded_touch(m) + 100;
}

/* The same without SA_NODEFER: the raise is held until the handler returns. */
static int raise_again_deferred(void) {
    mmk_map *m = truncated_map(2, ps);
    if (mmk_guard_install() != 0)
        return 2;
    install(0, restore_and_raise, NULL, &prev_r);
    if (guarded_reads_fail(m))
        return 3;
    return unguarded_touch(m) + 100;
}

/* A handler that returns without removing the cause (Python's): the guarded
   faults never reach it; the unguarded one does, once, and then the process
   dies of SIGBUS instead of faulting forever. */
static int flag_only(void) {
    mmk_map *m = truncated_map(2, ps);
    if (mmk_guard_install() != 0)
        return 2;
    install(0, flag_and_return, NULL, NULL);
    if (guarded_reads_fail(m))
        return 3;
    return unguarded_touch(m) + 100;
}

/* A handler that removes the cause: the access re-runs and succeeds (grown
   back, the page reads as zeros). */
static int fixed_up(void) {
    mmk_map *m = truncated_map(2, ps);
    if (mmk_guard_install() != 0)
        return 2;
    install(0, fix_up, NULL, NULL);
    if (guarded_reads_fail(m))
        return 3;
    int v = unguarded_touch(m);
    return v == 0 ? 50 : 51;
}

/* Each fault reaches the recovering handler, however much deeper on the stack
   than the pass it jumped out of: a left pass is not taken for an enclosing
   one. Then, with mmkit's on top again, the next one above gets a fault. */
static int jumped_out(void) {
    mmk_map *m = truncated_map(2, ps);
    if (mmk_guard_install() != 0)
        return 2;
    install(0, jump_back, NULL, NULL);
    if (guarded_reads_fail(m))
        return 3;
    note('|');
    int depths[] = {0, 4, 40, 1, 80};
    for (int i = 0; i < 5; i++)
        if (sigsetjmp(recover_env, 1) == 0)
            return touch_at_depth(m, depths[i]) + 100; /* must jump back */
    install(0, exit_plain, NULL, NULL);
    if (guarded_reads_fail(m))
        return 4;
    return touch_at_depth(m, 60) + 100;
}

/* SIG_DFL installed after mmkit's: guarded faults are still errors, an
   unguarded one is the process's death. */
static int default_after(void) {
    mmk_map *m = truncated_map(2, ps);
    if (mmk_guard_install() != 0)
        return 2;
    signal(SIGBUS, SIG_DFL);
    if (guarded_reads_fail(m))
        return 3;
    return unguarded_touch(m) + 100;
}

/* SIG_IGN installed after mmkit's: a sent SIGBUS is ignored, a real fault
   still kills (the kernel does not let a fault be ignored either). */
static int ignore_after(void) {
    mmk_map *m = truncated_map(2, ps);
    if (mmk_guard_install() != 0)
        return 2;
    signal(SIGBUS, SIG_IGN);
    if (guarded_reads_fail(m))
        return 3;
    raise(SIGBUS);
    note('S'); /* survived the sent one */
    return unguarded_touch(m) + 100;
}

/* Re-arming turned off, then the program puts mmkit's back itself after
   installing its own: the contract of mmk_guard_rearm(0). */
static int manual_then_install(void) {
    mmk_map *m = truncated_map(2, ps);
    if (mmk_guard_rearm(0) != 1 || mmk_guard_rearm(0) != 0)
        return 2;
    install(0, flag_and_return, NULL, NULL);
    if (mmk_guard_install() != 0)
        return 2;
    if (guarded_reads_fail(m))
        return 3;
    return unguarded_touch(m) + 100;
}

/* Off means off: a handler installed over mmkit's gets the guarded fault. */
static int manual_is_off(void) {
    mmk_map *m = truncated_map(2, ps);
    if (mmk_guard_rearm(0) != 1)
        return 2;
    install(0, exit_plain, NULL, NULL);
    note('G');
    return guarded_reads_fail(m) + 10;
}

/* And back to automatic. */
static int manual_then_automatic(void) {
    mmk_map *m = truncated_map(2, ps);
    if (mmk_guard_rearm(0) != 1 || mmk_guard_rearm(1) != 0)
        return 2;
    install(0, exit_plain, NULL, NULL);
    if (guarded_reads_fail(m))
        return 3;
    return unguarded_touch(m) + 100;
}

/* ---- threads --------------------------------------------------------------- */

static atomic_int stop_installing;
static struct sigaction prev_t; /* mmkit's; written before the race */

/* Installed over and over by one thread while others fault under guards; it
   passes on to the handler it displaced first (mmkit's). A guarded fault that
   reaches it (installed between a re-arm and the fault) comes back to mmkit
   that way and still becomes MMK_EFAULT. */
static void thread_chain(int sig, siginfo_t *info, void *ctx) {
    if (atomic_load(&stop_installing))
        note('T');
    call_previous(&prev_t, sig, info, ctx);
}

static void *installer(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_installing)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = thread_chain;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, NULL);
        sched_yield();
    }
    return NULL;
}

struct fault_thread {
    mmk_map *m;
    int efaults, oks;
};

static void *fault_loop(void *arg) {
    struct fault_thread *t = arg;
    unsigned char b[4];
    for (int i = 0; i < 3000; i++) {
        int bad = i % 2;
        int rc = mmk_copy_out(t->m, bad ? ps + (uint64_t)(i % 97) : (uint64_t)(i % 97), b, 4);
        if (bad ? rc == MMK_EFAULT : (rc == 0 && b[0] == 'x'))
            (bad ? t->efaults++ : t->oks++);
    }
    return NULL;
}

static int threads(void) {
    install(0, NULL, exit_info, NULL); /* below: the end of the chain */
    mmk_map *m = truncated_map(2, ps);
    expected_addr = (const unsigned char *)mmk_data(m) + ps;
    if (mmk_guard_install() != 0)
        return 2;
    /* Make prev_t mmkit's before the race starts. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = thread_chain;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &prev_t);
    pthread_t inst, th[4];
    struct fault_thread ft[4];
    if (pthread_create(&inst, NULL, installer, NULL) != 0)
        return 4;
    for (int i = 0; i < 4; i++) {
        ft[i] = (struct fault_thread){m, 0, 0};
        if (pthread_create(&th[i], NULL, fault_loop, &ft[i]) != 0)
            return 4;
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    atomic_store(&stop_installing, 1);
    pthread_join(inst, NULL);
    for (int i = 0; i < 4; i++)
        if (ft[i].efaults != 1500 || ft[i].oks != 1500)
            return 5;
    /* mmkit's on top again, thread_chain recorded above it: an unguarded
       fault goes to thread_chain once, then to the handler below mmkit's. */
    if (mmk_guard_install() != 0)
        return 6;
    return unguarded_touch(m) + 100;
}

/* ---- main ------------------------------------------------------------------ */

/* ThreadSanitizer emulates sigaction() in user space: it keeps every action in
 * a table it copies byte by byte without a lock, so one thread's sigaction()
 * racing another's can hand out a torn action (seen: a handler address whose
 * low bytes came from guard_handler and the rest from thread_chain, which mmkit
 * then recorded and called). The kernel's sigaction() is atomic; the "threads"
 * race is run by the plain and ASan builds of this test, not under TSan
 * (CHECK_TSAN, tests/check.h).
 */

struct scenario {
    const char *name;
    int (*fn)(void);
    const char *seen; /* what the handlers must have reported */
    int exit_code;    /* how the child must end: this exit code... */
    int sig;          /* ...or, if nonzero, death by this signal */
};

static const struct scenario scenarios[] = {
    {"after_plain", after_plain, "|P", 42, 0},
    {"after_info", after_info, "|I", 43, 0},
    {"before", before, "|P", 42, 0},
    {"stacked", stacked, "|BAI", 43, 0},
    {"raise_again", raise_again, "|R", 0, SIGBUS},
    {"raise_again_deferred", raise_again_deferred, "|R", 0, SIGBUS},
    {"flag_only", flag_only, "|F", 0, SIGBUS},
    {"fixed_up", fixed_up, "|U", 50, 0},
    {"jumped_out", jumped_out, "|JJJJJP", 42, 0},
    {"default_after", default_after, "|", 0, SIGBUS},
    {"ignore_after", ignore_after, "S|", 0, SIGBUS},
    {"manual_then_install", manual_then_install, "|F", 0, SIGBUS},
    {"manual_is_off", manual_is_off, "GP", 42, 0},
    {"manual_then_automatic", manual_then_automatic, "|P", 42, 0},
    {"threads", threads, "|TI", 43, 0},
};

static void expect(const struct scenario *sc, struct outcome o) {
    const char *name = sc->name;
    if (strcmp(o.seen, sc->seen) != 0) {
        fprintf(stderr, "%s: handlers saw \"%s\", expected \"%s\"\n", name, o.seen, sc->seen);
        CHECK(0);
    }
    if (sc->sig) {
        if (!CHILD_KILLED_BY(o.status, sc->sig))
            fprintf(stderr, "%s: status %#x, expected death by signal %d\n", name, o.status,
                    sc->sig);
        CHECK(CHILD_KILLED_BY(o.status, sc->sig));
    } else {
        if (!CHILD_EXITED_WITH(o.status, sc->exit_code))
            fprintf(stderr, "%s: status %#x, expected exit %d\n", name, o.status, sc->exit_code);
        CHECK(CHILD_EXITED_WITH(o.status, sc->exit_code));
    }
}

/* Usage: test_guard_order [scenario [here]] (all by default; `here`: run it in
   this process, its handlers' letters on stderr). */
int main(int argc, char **argv) {
    ps = mmk_page_size();
    snprintf(order_path, sizeof order_path, "%s", tpath("order"));
    /* This process never uses a guard: every child starts without mmkit's
       handler, so "before" really is before. */
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        if (argc >= 2 && strcmp(argv[1], scenarios[i].name) != 0)
            continue;
        if (CHECK_TSAN && scenarios[i].fn == threads) {
            fprintf(stderr, "threads: skipped under ThreadSanitizer (its sigaction() emulation "
                            "tears actions that threads install concurrently)\n");
            continue;
        }
        if (argc >= 3 && strcmp(argv[2], "here") == 0) { /* debugging: no child */
            report_fd = 2;
            return scenarios[i].fn();
        }
        expect(&scenarios[i], run_scenario(scenarios[i].fn));
    }
    unlink(scenario_path());
    return CHECK_DONE();
}
