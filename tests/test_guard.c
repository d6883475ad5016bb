/*
 * test_guard.c — the fault guard: a SIGBUS inside mmk_guard_run (or a library
 * function) becomes MMK_EFAULT; nesting; many faults in a row; faults in many
 * threads at once; a SIGBUS outside any guard still kills the process (or
 * reaches the handler that was installed before mmkit's); SIGSEGV is never
 * swallowed.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "test_core_util.h"

static uint64_t ps;

/* A file of `pages` pages, mapped through mmkit, then cut to `keep` bytes
   behind the map's back: touching past `keep` (rounded up to a page) faults. */
static mmk_map *truncated_map(const char *name, unsigned pages, uint64_t keep) {
    const char *path = tpath(name);
    size_t n = (size_t)(pages * ps);
    unsigned char *buf = malloc(n);
    memset(buf, 'x', n);
    CHECK_EQ(write_file(path, buf, n), 0);
    free(buf);
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, NULL));
    CHECK_EQ(truncate(path, (off_t)keep), 0);
    unlink(path);
    return m;
}

struct touch {
    const volatile unsigned char *p;
    int value;
};

static int touch_fn(void *arg) {
    struct touch *t = arg;
    t->value = *t->p;
    return 11;
}

static int return_value_fn(void *arg) {
    return *(int *)arg;
}

static int sigbus_blocked(void) {
    sigset_t set;
    sigemptyset(&set);
    pthread_sigmask(SIG_BLOCK, NULL, &set);
    return sigismember(&set, SIGBUS);
}

/* ---- chaining to a handler installed before mmkit's ---------------------- */

static void user_bus_handler(int sig) {
    (void)sig;
    _exit(42);
}

static int child_chain_to_user(void *arg) {
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = user_bus_handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) != 0)
        return 2;
    mmk_map *m = truncated_map("chain", 2, 0);
    struct touch t = {(const unsigned char *)mmk_data(m), 0};
    /* mmkit's handler goes on top of the user's here... */
    if (mmk_guard_run(touch_fn, &t) != MMK_EFAULT)
        return 3;
    /* ...and a fault outside any guard reaches the user's handler. */
    return *(const volatile unsigned char *)mmk_data(m) + 100;
}

/* ---- faults outside a guard ---------------------------------------------- */

static int child_unguarded_fault(void *arg) {
    (void)arg;
    mmk_map *m = truncated_map("unguarded", 2, 0);
    struct touch t = {(const unsigned char *)mmk_data(m), 0};
    if (mmk_guard_run(touch_fn, &t) != MMK_EFAULT) /* handler installed, guard works */
        return 3;
    return *(const volatile unsigned char *)mmk_data(m); /* must die here */
}

static int child_raise_unguarded(void *arg) {
    (void)arg;
    int v = 0;
    CHECK_EQ(mmk_guard_run(return_value_fn, &v), 0);
    raise(SIGBUS); /* sent, not a fault: the default action still applies */
    return 5;
}

static int child_segv_in_guard(void *arg) {
    (void)arg;
    void *p = mmap(NULL, (size_t)ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct touch t = {p, 0};
    int rc = mmk_guard_run(touch_fn, &t); /* SIGSEGV: never turned into an error */
    return rc == MMK_EFAULT ? 7 : 8;
}

/* ---- nesting ------------------------------------------------------------- */

struct nest {
    const volatile unsigned char *good, *bad;
    int depth, fault_at;
    int inner_rc;
};

static int nest_fn(void *arg) {
    struct nest *n = arg;
    int d = n->depth++;
    (void)*n->good;
    if (d == n->fault_at)
        (void)*n->bad;
    if (d < 40) {
        int rc = mmk_guard_run(nest_fn, n);
        if (d == n->fault_at - 1)
            n->inner_rc = rc;
        else if (rc != 0 && rc != MMK_EFAULT)
            return -1;
    }
    return 0;
}

struct outer {
    const volatile unsigned char *good, *bad;
    int inner_rc;
};

static int inner_faults(void *arg) {
    struct outer *o = arg;
    (void)*o->bad;
    return 1;
}

static int outer_survives(void *arg) {
    struct outer *o = arg;
    o->inner_rc = mmk_guard_run(inner_faults, o);
    return 5 + *o->good - 'x';
}

static int inner_ok(void *arg) {
    struct outer *o = arg;
    return *o->good == 'x' ? 9 : -1;
}

static int outer_faults_after_inner(void *arg) {
    struct outer *o = arg;
    o->inner_rc = mmk_guard_run(inner_ok, o);
    (void)*o->bad;
    return 1;
}

/* ---- threads ------------------------------------------------------------- */

struct thread_arg {
    const unsigned char *base;
    int faults, oks;
};

static void *thread_faults(void *arg) {
    struct thread_arg *a = arg;
    for (int i = 0; i < 2000; i++) {
        struct touch t = {a->base + (i % 2 ? ps : 0) + (uint64_t)(i % 97), 0};
        int rc = mmk_guard_run(touch_fn, &t);
        if (i % 2 ? rc == MMK_EFAULT : (rc == 11 && t.value == 'x'))
            (i % 2 ? a->faults++ : a->oks++);
    }
    return NULL;
}

int main(void) {
    ps = mmk_page_size();

    /* First, before this process installs mmkit's handler: a child installs
       its own, then mmkit's goes on top and passes unguarded faults down. */
    int st = run_child(child_chain_to_user, NULL);
    CHECK(CHILD_EXITED_WITH(st, 42));

    /* Plain runs give back what fn returns. */
    int values[] = {0, 17, -3, MMK_EFAULT - 1};
    for (size_t i = 0; i < 4; i++)
        CHECK_EQ(mmk_guard_run(return_value_fn, &values[i]), values[i]);
    CHECK_RC(mmk_guard_run(NULL, NULL), -EINVAL);

    /* A fault becomes MMK_EFAULT, again and again, and never leaves SIGBUS
       blocked behind. */
    mmk_map *m = truncated_map("basic", 3, ps);
    const unsigned char *d = mmk_data(m);
    struct touch t = {d, 0};
    CHECK_EQ(mmk_guard_run(touch_fn, &t), 11);
    CHECK_EQ(t.value, 'x');
    t.p = d + ps;
    CHECK_RC(mmk_guard_run(touch_fn, &t), MMK_EFAULT);
    CHECK(!sigbus_blocked());
    int efaults = 0;
    for (int i = 0; i < 20000; i++) {
        t.p = d + ps + (uint64_t)(i % 3) * ps / 2;
        efaults += mmk_guard_run(touch_fn, &t) == MMK_EFAULT;
    }
    CHECK_EQ(efaults, 20000);
    CHECK(!sigbus_blocked());
    /* Library calls on the same memory report it too. */
    uint8_t buf[16];
    CHECK_RC(mmk_copy_out(m, ps, buf, sizeof buf), MMK_EFAULT);
    CHECK_OK(mmk_copy_out(m, 0, buf, 1));
    CHECK_EQ(buf[0], 'x');

    /* Nesting: an inner fault stops only the inner guard. */
    struct outer o = {d, d + 2 * ps, 0};
    CHECK_EQ(mmk_guard_run(outer_survives, &o), 5);
    CHECK_RC(o.inner_rc, MMK_EFAULT);
    o.inner_rc = 0;
    CHECK_RC(mmk_guard_run(outer_faults_after_inner, &o), MMK_EFAULT);
    CHECK_EQ(o.inner_rc, 9);
    for (int fault_at = 0; fault_at <= 40; fault_at += 8) {
        struct nest n = {d, d + ps, 0, fault_at, 1};
        int rc = mmk_guard_run(nest_fn, &n);
        if (fault_at == 0) {
            CHECK_RC(rc, MMK_EFAULT);
        } else {
            CHECK_RC(rc, 0);
            CHECK_RC(n.inner_rc, MMK_EFAULT);
        }
        CHECK_EQ(n.depth, fault_at + 1);
    }
    /* After all that, this thread is outside any guard again: an unguarded
       fault would kill it (checked in a child below). */

    /* Many threads faulting at once each get their own result. */
    enum { NT = 4 };
    pthread_t th[NT];
    struct thread_arg ta[NT];
    for (int i = 0; i < NT; i++) {
        ta[i] = (struct thread_arg){d, 0, 0};
        CHECK_EQ(pthread_create(&th[i], NULL, thread_faults, &ta[i]), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(ta[i].faults, 1000);
        CHECK_EQ(ta[i].oks, 1000);
    }
    CHECK_OK(mmk_free(m));

    /* Outside a guard a SIGBUS is the process's death, as without mmkit. */
    st = run_child(child_unguarded_fault, NULL);
    CHECK(CHILD_KILLED_BY(st, SIGBUS));
    st = run_child(child_raise_unguarded, NULL);
    CHECK(CHILD_KILLED_BY(st, SIGBUS));
    /* SIGSEGV is not mmkit's business: the child must not get an error back.
       (Under a sanitizer its own SEGV report ends the child instead.) */
    st = run_child(child_segv_in_guard, NULL);
    CHECK(!CHILD_EXITED_WITH(st, 7) && !CHILD_EXITED_WITH(st, 8));
    if (!UNDER_SANITIZER)
        CHECK(CHILD_KILLED_BY(st, SIGSEGV));
    return CHECK_DONE();
}
