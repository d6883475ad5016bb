/*
 * sys_tls.h — the portable half of cli/sys.h's thread-local slots, included
 * once by each platform file (sys_unix.c, sys_win.c) after it has defined
 * its four primitives: tls_make (create the slot's key: 0 or -1), tls_read,
 * tls_write and tls_yield (let the thread that makes the key run).
 */
#ifndef MMK_CLI_SYS_TLS_H
#define MMK_CLI_SYS_TLS_H

/* The slot, made once: racing first callers wait for the one that makes it. */
static int tls_ready(sys_tls *t) {
    int st = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
    if (st == 0) {
        int expect = 0;
        if (__atomic_compare_exchange_n(&t->state, &expect, 1, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            st = tls_make(t) == 0 ? 2 : 3;
            __atomic_store_n(&t->state, st, __ATOMIC_RELEASE);
        }
    }
    while ((st = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE)) == 1) {
        tls_yield();
    }
    return st == 2;
}

void *sys_tls_get(sys_tls *t) {
    return tls_ready(t) ? tls_read(t) : NULL;
}

int sys_tls_set(sys_tls *t, void *value) {
    return tls_ready(t) ? tls_write(t, value) : -ENOMEM;
}

#endif /* MMK_CLI_SYS_TLS_H */
