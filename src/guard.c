/*
 * guard.c — the fault guard: a SIGBUS raised while the library (or a caller
 * of mmk_guard_run) touches mapped memory becomes MMK_EFAULT instead of
 * killing the process.
 *
 * How: one process-wide SIGBUS handler, installed once. Each thread has a
 * stack of guards (a thread-local pointer to the innermost one, each guard
 * linking to the one around it). When SIGBUS arrives in a thread with a guard,
 * the handler unlinks that guard and siglongjmps to it; the guarded code sees
 * sigsetjmp return 1 and reports MMK_EFAULT. A SIGBUS in a thread with no
 * guard is not ours: it goes to whatever handler was installed before (for
 * the default disposition: the default is restored and the faulting
 * instruction re-runs, so the process dies of the real signal with a
 * truthful core dump). SIGSEGV is never handled: a wild pointer stays a crash.
 *
 * Cost of a guard: a TLS store, sigsetjmp without a signal mask (no system
 * call) and a TLS store. Cheap enough for per-byte calls from Python.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "internal.h"

_Thread_local mmk__guard *mmk__guard_top MMK__TLS_MODEL;
atomic_int mmk__guard_ready;

static struct sigaction guard_previous; /* the SIGBUS action before ours */
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

/* Hand a SIGBUS that is not ours to whoever had it before us. */
static void guard_chain(int sig, siginfo_t *info, void *ctx) {
    const struct sigaction *prev = &guard_previous;
    if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction) {
            prev->sa_sigaction(sig, info, ctx);
            return;
        }
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
        return;
    }
    if (prev->sa_handler == SIG_IGN && info->si_code <= 0)
        return; /* someone sent SIGBUS with kill() and it was being ignored */
    /* Default action (a hardware fault cannot really be ignored either):
       restore SIG_DFL. Returning re-runs the faulting instruction, which now
       kills the process with SIGBUS; a signal that came from kill()/raise()
       would not recur, so raise it again. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGBUS, &dfl, NULL);
    if (info->si_code <= 0)
        raise(SIGBUS);
}

static void guard_handler(int sig, siginfo_t *info, void *ctx) {
    mmk__guard *g = mmk__guard_top;
    if (g == NULL) {
        int saved = errno;
        guard_chain(sig, info, ctx);
        errno = saved;
        return;
    }
    /* Unlink first, so the jump target's fault path needs no cleanup and a
       fault in an enclosing guard goes to that guard. */
    mmk__guard_top = g->prev;
    /* Leave with the signal mask the thread had when it faulted. With
       SA_NODEFER that is already the mask in force, but wrappers that call
       this handler for the kernel (TSan, some debuggers) block signals around
       it; sigsetjmp(env, 0) restores nothing, so set it here. One system
       call per fault only; the fault-free path stays free of them. */
    if (ctx != NULL)
        pthread_sigmask(SIG_SETMASK, &((ucontext_t *)ctx)->uc_sigmask, NULL);
    siglongjmp(g->env, 1);
}

static void guard_install_once(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = guard_handler;
    /* SA_NODEFER: SIGBUS is not blocked while the handler runs, so leaving it
       with siglongjmp needs no mask restore (sigsetjmp(env, 0) is enough).
       SA_ONSTACK: use the thread's alternate stack if it has one. */
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &guard_previous) == 0)
        atomic_store_explicit(&mmk__guard_ready, 1, memory_order_release);
}

void mmk__guard_install(void) {
    pthread_once(&guard_once, guard_install_once);
    /* If sigaction failed (it cannot for SIGBUS with valid arguments), every
       guard retries through here: harmless, and faults stay fatal as before. */
}

/* Runs fn(arg) with a guard pushed; a fault makes it return MMK_EFAULT. */
int mmk_guard_run(int (*fn)(void *arg), void *arg) {
    if (fn == NULL)
        return -EINVAL;
    mmk__guard g;
    if (sigsetjmp(g.env, 0) != 0)
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
    if (sigsetjmp(g.env, 0) != 0)
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
    if (sigsetjmp(g.env, 0) != 0)
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
    if (sigsetjmp(g.env, 0) != 0)
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
