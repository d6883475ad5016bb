/*
 * internal.h — helpers shared by the library's own files (not installed).
 *
 * The fault guard in its cheapest form. mmk_guard_run() costs a call through
 * a function pointer; library code that touches mapped bytes a few at a time
 * (mmk_read_byte is called once per byte by Python's indexing) guards itself
 * inline instead:
 *
 *     mmk__guard g;
 *     if (MMK__SETJMP(g.env) != 0)
 *         return MMK_EFAULT;       // a SIGBUS hit while g was pushed
 *     mmk__guard_push(&g);
 *     ... touch mapped memory ...
 *     mmk__guard_pop(&g);
 *
 * Rules: MMK__SETJMP (os.h) must be called in the function that pushes (not in a
 * helper that returns); nothing between push and pop may allocate, lock or
 * otherwise leave state behind that the jump would skip; results computed
 * inside are only published after pop; local variables assigned inside and
 * read on the fault path must be volatile (better: read none there). The
 * signal handler unlinks the guard before jumping, so the fault path needs no
 * cleanup. MMK__SETJMP saves no signal mask (no system call): on POSIX the
 * handler runs with SA_NODEFER, so SIGBUS is never left blocked after the
 * jump. The outermost push of a thread makes one system call
 * (mmk__guard_arm), unless re-arming was turned off with mmk_guard_rearm(0).
 * The handler itself is the platform's (os_unix.c: SIGBUS; os_win.c: a
 * vectored handler for EXCEPTION_IN_PAGE_ERROR); it calls mmk__guard_take.
 */
#ifndef MMK_INTERNAL_H
#define MMK_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mmkit.h"
#include "os.h"

typedef struct mmk__guard {
    mmk__jmp_buf env;
    struct mmk__guard *prev; /* the enclosing guard of this thread, or NULL */
} mmk__guard;

/* The innermost guard of the calling thread (NULL outside any guard). */
extern _Thread_local mmk__guard *mmk__guard_top MMK__TLS_MODEL;

/* Called by the platform's fault handler, in the faulting thread: unlinks the
   thread's innermost guard and returns it (the handler then jumps to its
   env), or returns NULL when the thread has no guard (the fault is not ours:
   pass it on). */
mmk__guard *mmk__guard_take(void);

/* Puts the library's SIGBUS handler on top again (installing it the first
   time) and records a handler someone installed over it, so that a fault in
   the guard that follows reaches us. One sigaction() call; only the outermost
   guard of a thread calls it (inner ones are covered by that call). */
void mmk__guard_arm(void);

/* Nonzero after mmk_guard_rearm(0): guards no longer re-arm (the handler was
   installed by that call). Read relaxed: it is a setting, not a publication. */
extern atomic_int mmk__guard_manual;

static inline void mmk__guard_push(mmk__guard *g) {
    if (mmk__guard_top == NULL && !atomic_load_explicit(&mmk__guard_manual, memory_order_relaxed))
        mmk__guard_arm();
    g->prev = mmk__guard_top;
    /* The compiler must not move accesses to mapped memory above these
       stores: the handler reads mmk__guard_top in this same thread. */
    atomic_signal_fence(memory_order_seq_cst);
    mmk__guard_top = g;
    atomic_signal_fence(memory_order_seq_cst);
}

static inline void mmk__guard_pop(mmk__guard *g) {
    atomic_signal_fence(memory_order_seq_cst);
    mmk__guard_top = g->prev;
    atomic_signal_fence(memory_order_seq_cst);
}

/* Guarded memory primitives (guard.c): each returns 0 or MMK_EFAULT and
   writes its result only on success. Any of the pointers may be mapped. */
int mmk__guarded_copy(void *dst, const void *src, size_t n);
int mmk__guarded_move(void *dst, const void *src, size_t n);
/* Index of the first `c` in s[0, n) into *idx, or n when absent. */
int mmk__guarded_memchr(const void *s, int c, size_t n, size_t *idx);

/* Map holds (map.c), for tests: switch the fast per-thread holds off (0) or
   back on (1, where the platform has a process barrier); returns whether
   they were on. Call only while no map function runs in any thread. */
int mmk__map_fast_holds(int enable);

/* A guarded access to [off, off + len) of map m faulted: MMK_EFAULT when the
   file shrank under the range, -ENOSPC when the range has a hole the kernel
   could not back, -EIO otherwise (map.c). The caller holds a view or hold. */
int mmk__map_fault_cause(const mmk_map *m, uint64_t off, uint64_t len);

#endif
