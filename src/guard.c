/*
 * guard.c — the fault guard, portable half: a fault raised while the library
 * (or a caller of mmk_guard_run) touches mapped memory becomes MMK_EFAULT
 * instead of killing the process.
 *
 * Each thread has a stack of guards (a thread-local pointer to the innermost
 * one, each guard linking to the one around it). The platform's handler
 * (os_unix.c: SIGBUS; os_win.c: a vectored exception handler for
 * EXCEPTION_IN_PAGE_ERROR) asks mmk__guard_take for the faulting thread's
 * innermost guard; with one, it unlinks it and jumps to it, and the guarded
 * code sees MMK__SETJMP return nonzero and reports MMK_EFAULT. A fault in a
 * thread without a guard is not ours and the handler passes it on. How the
 * POSIX handler stays on top of handlers installed after it and passes faults
 * along their chain is described in os_unix.c.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

_Thread_local mmk__guard *mmk__guard_top MMK__TLS_MODEL;
atomic_int mmk__guard_manual;

int mmk_guard_install(void) {
    return mmk__os_guard_install();
}

int mmk_guard_rearm(int automatic) {
    int was_manual = atomic_exchange_explicit(&mmk__guard_manual, !automatic, memory_order_relaxed);
    int rc = mmk_guard_install(); /* on top now, whichever mode */
    return rc < 0 ? rc : !was_manual;
}

void mmk__guard_arm(void) {
    mmk__os_guard_arm();
}

mmk__guard *mmk__guard_take(void) {
    mmk__guard *g = mmk__guard_top;
    if (g != NULL)
        mmk__guard_top = g->prev;
    return g;
}

/* Runs fn(arg) with a guard pushed; a fault makes it return MMK_EFAULT. */
int mmk_guard_run(int (*fn)(void *arg), void *arg) {
    if (fn == NULL)
        return -EINVAL;
    mmk__guard g;
    if (MMK__SETJMP(g.env) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    int rc = fn(arg);
    mmk__guard_pop(&g);
    return rc;
}

int mmk__guarded_copy(void *dst, const void *src, size_t n) {
    mmk__guard g;
    if (n == 0)
        return 0;
    if (MMK__SETJMP(g.env) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    memcpy(dst, src, n);
    mmk__guard_pop(&g);
    return 0;
}

int mmk__guarded_move(void *dst, const void *src, size_t n) {
    mmk__guard g;
    if (n == 0)
        return 0;
    if (MMK__SETJMP(g.env) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    memmove(dst, src, n);
    mmk__guard_pop(&g);
    return 0;
}

/* Split from mmk__guarded_memchr so that no variable is live across
   sigsetjmp that the empty case would have touched. */
static int guarded_memchr_nonempty(const void *s, int c, size_t n, size_t *idx) {
    mmk__guard g;
    if (MMK__SETJMP(g.env) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    const unsigned char *hit = memchr(s, c, n);
    *idx = hit ? (size_t)(hit - (const unsigned char *)s) : SIZE_MAX;
    mmk__guard_pop(&g);
    return 0;
}

int mmk__guarded_memchr(const void *s, int c, size_t n, size_t *idx) {
    if (n == 0) {
        *idx = 0;
        return 0;
    }
    int rc = guarded_memchr_nonempty(s, c, n, idx);
    if (rc == 0 && *idx == SIZE_MAX)
        *idx = n;
    return rc;
}
