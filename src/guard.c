/*
 * guard.c — the fault guard: a SIGBUS raised while the library (or a caller
 * of mmk_guard_run) touches mapped memory becomes MMK_EFAULT instead of
 * killing the process.
 *
 * How: one process-wide SIGBUS handler. Each thread has a stack of guards (a
 * thread-local pointer to the innermost one, each guard linking to the one
 * around it). When SIGBUS arrives in a thread with a guard, the handler
 * unlinks that guard and siglongjmps to it; the guarded code sees sigsetjmp
 * return 1 and reports MMK_EFAULT. SIGSEGV is never handled: a wild pointer
 * stays a crash.
 *
 * Staying on top. Anyone may install a SIGBUS handler after ours (a C
 * program's sigaction, Python's signal.signal, faulthandler.enable(), a crash
 * reporter); the kernel would then deliver a guarded fault to them, not to us
 * (Python's handler returns and the access faults forever; faulthandler
 * prints a false fatal error). So the outermost guard of each operation
 * re-arms: one sigaction() call installs ours and returns what was there. If
 * that was not ours, it was installed over ours and goes to the front of the
 * chain below. No cheaper check exists: the disposition lives in the kernel
 * and reading it is the same system call as replacing it. mmk_guard_rearm(0)
 * turns the re-arm off for programs that keep the order themselves.
 *
 * Passing on. A SIGBUS in a thread with no guard is not ours. It is passed
 * along the chain: the actions found installed over ours, most recent first,
 * then the one ours displaced when it was first installed. The first gets it
 * as if it were still installed; when it passes the signal on to its own
 * predecessor (ours: we were on top when it was installed), the re-entry is
 * recognised (deeper on the same stack) and goes one step further. Past the
 * end the default action applies: the default disposition is restored, a
 * hardware fault re-runs and kills the process with a truthful SIGBUS, a sent
 * signal is raised again. Every handler therefore sees a fault at most once
 * and the chain always ends. A handler that returns from a hardware fault
 * without fixing its cause (Python's C-level handler only sets a flag) sees
 * the same fault again at once: that repeat goes one step further too, so the
 * process dies of SIGBUS instead of spinning forever.
 *
 * Limits: a handler that was taken out by putting ours back (faulthandler.
 * disable() does) stays in the chain (a disabled faulthandler just returns);
 * a handler installed by another thread between a guard's re-arm and its
 * fault gets that fault (it works if it passes faults on, as all the above
 * do).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

_Thread_local mmk__guard *mmk__guard_top MMK__TLS_MODEL;
atomic_int mmk__guard_manual;

enum {
    GUARD_SLOTS = 16,    /* distinct actions ever recorded (4-bit indices) */
    GUARD_CHAIN_MAX = 7, /* actions a fault that is not ours is passed along */
};

/* All of these are written before guard_installed / guard_chain publish
   them (release) and never change afterwards, so the signal handler reads
   them without a lock (acquire). Slot 0 is the action ours displaced when it
   was first installed ("below"); the others were found installed over ours. */
static struct sigaction guard_ours;
static struct sigaction guard_slots[GUARD_SLOTS];
static atomic_int guard_installed;
/* The chain a fault that is not ours is passed along. Bits 0-2: its length;
   then 4 bits per action, the index of its slot, the most recently found
   first and "below" last. One word, so that the signal handler always sees a
   consistent chain. */
static atomic_uint guard_chain;
/* Writers of the above (never the signal handler) hold this flag. A spin flag,
   not a mutex: a guarded call from inside a signal handler must not block. */
static atomic_flag guard_writing = ATOMIC_FLAG_INIT;
static unsigned guard_nslots; /* slots in use; only read/written under the flag */

/* Per thread: the frame of the handler call that is passing a fault on (so a
   re-entry from the handler it called can be told from a new fault), and the
   last hardware fault passed on that returned (so a repeat can be told). */
struct guard_pass {
    void *frame;
    const siginfo_t *info; /* what it was given */
    unsigned level;
};
struct guard_last {
    uintptr_t addr, pc, sp;
    unsigned level;
    int valid;
};
static _Thread_local struct guard_pass guard_pass_state MMK__TLS_MODEL;
static _Thread_local struct guard_last guard_last_fault MMK__TLS_MODEL;

static void guard_handler(int sig, siginfo_t *info, void *ctx);

static int action_is_ours(const struct sigaction *a) {
    return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == guard_handler;
}

/* Same handler, flags and mask (the mask compared signal by signal: the
   bytes of a sigset_t beyond what the kernel fills are undefined). */
static int action_same(const struct sigaction *a, const struct sigaction *b) {
    if ((a->sa_flags & SA_SIGINFO) != (b->sa_flags & SA_SIGINFO) || a->sa_flags != b->sa_flags)
        return 0;
    if ((a->sa_flags & SA_SIGINFO) ? a->sa_sigaction != b->sa_sigaction
                                   : a->sa_handler != b->sa_handler)
        return 0;
    for (int s = 1; s < 65; s++)
        if (sigismember(&a->sa_mask, s) != sigismember(&b->sa_mask, s))
            return 0;
    return 1;
}

/* Where the faulting instruction was, to recognise the same fault re-run.
   Without a known context layout the fault address alone has to do. */
static void fault_context(const void *ctx, uintptr_t *pc, uintptr_t *sp) {
    *pc = 0;
    *sp = 0;
    if (ctx == NULL)
        return;
    const ucontext_t *uc = ctx;
#if defined(__linux__) && defined(__x86_64__) && defined(REG_RIP)
    *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    *sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__linux__) && defined(__i386__) && defined(REG_EIP)
    *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_EIP];
    *sp = (uintptr_t)uc->uc_mcontext.gregs[REG_ESP];
#elif defined(__linux__) && defined(__aarch64__)
    *pc = (uintptr_t)uc->uc_mcontext.pc;
    *sp = (uintptr_t)uc->uc_mcontext.sp;
#else
    (void)uc;
#endif
}

/* The default action for SIGBUS: restore SIG_DFL. A hardware fault re-runs
   the faulting instruction when we return, which now kills the process with
   SIGBUS (and a truthful core dump); a signal sent with kill()/raise() would
   not recur, so raise it again. */
static void guard_default(int sig, const siginfo_t *info) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (info->si_code <= 0)
        raise(sig);
}

/* Call `a` as the kernel would have: with its mask (and the signal itself,
   unless SA_NODEFER) blocked meanwhile. NULL means the default action. A
   hardware fault cannot really be ignored: SIG_IGN acts as SIG_DFL then. */
static void guard_call(const struct sigaction *a, int sig, siginfo_t *info, void *ctx) {
    int siginfo = a != NULL && (a->sa_flags & SA_SIGINFO);
    if (a == NULL || (siginfo ? a->sa_sigaction == NULL
                              : a->sa_handler == SIG_DFL || a->sa_handler == SIG_IGN)) {
        if (a != NULL && !siginfo && a->sa_handler == SIG_IGN && info->si_code <= 0)
            return; /* sent with kill() and being ignored */
        guard_default(sig, info);
        return;
    }
    /* The mask the kernel would give it: the interrupted code's, plus its
       sa_mask, plus the signal unless SA_NODEFER. Built from the context, not
       from the mask in force here: wrappers that call our handler for the
       kernel (TSan) block every signal around it, which would hold back a
       raise() in the handler until we return and lose its place in the
       chain. */
    sigset_t during, old;
    if (ctx != NULL)
        during = ((const ucontext_t *)ctx)->uc_sigmask;
    else
        pthread_sigmask(SIG_BLOCK, NULL, &during);
    for (int s = 1; s < 65; s++)
        if (sigismember(&a->sa_mask, s) == 1)
            sigaddset(&during, s);
    if (!(a->sa_flags & SA_NODEFER))
        sigaddset(&during, sig);
    pthread_sigmask(SIG_SETMASK, &during, &old);
    if (siginfo)
        a->sa_sigaction(sig, info, ctx);
    else
        a->sa_handler(sig);
    /* A signal the handler raised while it was blocked arrives here, with
       our own mask back (that of the interrupted code: SA_NODEFER, empty
       sa_mask), re-entering guard_pass_on one level further down, as it
       would have reached the handler's predecessor when the handler
       returned. */
    if (ctx != NULL)
        pthread_sigmask(SIG_SETMASK, &((const ucontext_t *)ctx)->uc_sigmask, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* A SIGBUS that is not ours: hand it to the action at `level` of the chain,
   or past its end to the default action. */
static void guard_pass_on(int sig, siginfo_t *info, void *ctx) {
    void *frame = __builtin_frame_address(0);
    struct guard_pass outer = guard_pass_state;
    uintptr_t addr = (uintptr_t)info->si_addr, pc, sp;
    fault_context(ctx, &pc, &sp);
    unsigned level = 0;
    /* A re-entry from the handler we called is deeper on the stack (stacks
       grow down) and is either a call of ours with the siginfo we gave it,
       or a signal this process sent itself (restore and raise). A real fault
       is always a new one, as for the kernel (it re-enters a handler that
       faults itself only with SA_NODEFER; without it, the fault is fatal).
       This keeps a pass that was left with a jump (a handler with its own
       siglongjmp recovery) from being mistaken for an enclosing one. */
    int self_sent = info->si_code <= 0 && info->si_pid == getpid();
    if (outer.frame != NULL && (uintptr_t)frame < (uintptr_t)outer.frame &&
        (info == outer.info || self_sent)) {
        level = outer.level + 1;
    } else {
        outer.frame = NULL;
        outer.info = NULL;
        outer.level = 0;
        const struct guard_last *last = &guard_last_fault;
        if (info->si_code > 0 && last->valid && last->addr == addr && last->pc == pc &&
            last->sp == sp)
            level = last->level + 1; /* re-run of a fault a handler returned from */
    }
    guard_pass_state.frame = frame;
    guard_pass_state.info = info;
    guard_pass_state.level = level;

    unsigned chain = atomic_load_explicit(&guard_chain, memory_order_acquire);
    const struct sigaction *a = NULL;
    if (level < (chain & 7u))
        a = &guard_slots[(chain >> (3 + 4 * level)) & 15u];
    guard_call(a, sig, info, ctx);

    guard_pass_state = outer;
    if (outer.frame == NULL && info->si_code > 0)
        guard_last_fault = (struct guard_last){addr, pc, sp, level, 1};
}

static void guard_handler(int sig, siginfo_t *info, void *ctx) {
    mmk__guard *g = mmk__guard_top;
    if (g == NULL) {
        int saved = errno;
        siginfo_t none;
        if (info == NULL) { /* called by a handler that had no siginfo to pass */
            memset(&none, 0, sizeof none);
            none.si_signo = sig;
            none.si_code = SI_USER;
            none.si_pid = getpid();
            info = &none;
        }
        guard_pass_on(sig, info, ctx);
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

/* Publish `chain` with the action of `slot` put at its front (moved there if
   it was in it already: the latest installation is what its installer wants
   first). When the chain is full, the oldest entry above "below" goes. */
static void guard_chain_push(unsigned slot) {
    unsigned old = atomic_load_explicit(&guard_chain, memory_order_relaxed);
    unsigned keep[GUARD_CHAIN_MAX], n = 0;
    for (unsigned i = 0; i < (old & 7u); i++) {
        unsigned s = (old >> (3 + 4 * i)) & 15u;
        if (s != slot)
            keep[n++] = s;
    }
    if (n == GUARD_CHAIN_MAX) {
        keep[n - 2] = keep[n - 1];
        n--;
    }
    unsigned list = slot;
    for (unsigned i = 0; i < n; i++)
        list |= keep[i] << (4 * (i + 1));
    atomic_store_explicit(&guard_chain, (n + 1) | list << 3, memory_order_release);
}

/* Record `found`, an action that was installed over ours, at the front of
   the chain. Never blocks: if another thread is recording at the same moment,
   this one gives up (that other re-arm has put ours on top too). */
static void guard_note_above(const struct sigaction *found) {
    if (atomic_flag_test_and_set_explicit(&guard_writing, memory_order_acquire))
        return;
    unsigned slot = 0;
    while (slot < guard_nslots && !action_same(found, &guard_slots[slot]))
        slot++;
    if (slot == guard_nslots && guard_nslots < GUARD_SLOTS)
        guard_slots[guard_nslots++] = *found;
    if (slot < guard_nslots)
        guard_chain_push(slot);
    atomic_flag_clear_explicit(&guard_writing, memory_order_release);
}

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static int guard_install_rc; /* written by guard_install_once only */

static void guard_install_once(void) {
    struct sigaction sa, prev;
    memset(&sa, 0, sizeof sa);
    memset(&prev, 0, sizeof prev);
    sa.sa_sigaction = guard_handler;
    /* SA_NODEFER: SIGBUS is not blocked while the handler runs, so leaving it
       with siglongjmp needs no mask restore (sigsetjmp(env, 0) is enough).
       SA_ONSTACK: use the thread's alternate stack if it has one. */
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    guard_ours = sa;
    if (sigaction(SIGBUS, &sa, &prev) != 0) {
        guard_install_rc = -errno;
        return;
    }
    /* Nobody else writes the slots before guard_installed is set: re-arms
       only record once it is. */
    guard_slots[0] = prev;
    guard_nslots = 1;
    atomic_store_explicit(&guard_chain, 1u, memory_order_release); /* [slot 0] */
    atomic_store_explicit(&guard_installed, 1, memory_order_release);
}

int mmk_guard_install(void) {
    if (!atomic_load_explicit(&guard_installed, memory_order_acquire)) {
        pthread_once(&guard_once, guard_install_once);
        if (!atomic_load_explicit(&guard_installed, memory_order_acquire))
            return guard_install_rc;
    }
    struct sigaction old;
    if (sigaction(SIGBUS, &guard_ours, &old) != 0)
        return -errno;
    if (!action_is_ours(&old))
        guard_note_above(&old);
    return 0;
}

int mmk_guard_rearm(int automatic) {
    int was_manual = atomic_exchange_explicit(&mmk__guard_manual, !automatic, memory_order_relaxed);
    int rc = mmk_guard_install(); /* on top now, whichever mode */
    return rc < 0 ? rc : !was_manual;
}

void mmk__guard_arm(void) {
    guard_last_fault.valid = 0;
    /* If sigaction fails (it cannot for SIGBUS with valid arguments), the
       next guard tries again; faults stay what they were without mmkit. */
    (void)mmk_guard_install();
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
