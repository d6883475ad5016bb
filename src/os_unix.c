/*
 * os_unix.c — the POSIX platform layer (Linux, the BSDs, macOS).
 *
 * The only file of libmmkit that calls open/fstat/mmap/mremap/msync/madvise/
 * mlock/ftruncate/pread. Each wrapper turns the system's -1/errno convention
 * into mmkit's negative return codes and retries EINTR where that is safe.
 * map.c reaches these through the `mmk__os` table (see os.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Linux's extras — mremap, memfd_create, MAP_POPULATE, MADV_POPULATE_*,
 * MADV_HUGEPAGE, membarrier, VMA names, fallocate — sit behind this one
 * macro. The POSIX-only build (MMK_POSIX_ONLY, a CMake option) turns them off
 * and uses only what macOS and FreeBSD offer, so that Linux runs (and the
 * tests prove) the code paths of those systems: every caller of a feature
 * that is missing gets MMK_ENOTSUP and takes its fallback.
 */
#if defined(__linux__) && !(defined(MMK_POSIX_ONLY) && MMK_POSIX_ONLY)
#define MMK__LINUX_EXTRAS 1
#else
#define MMK__LINUX_EXTRAS 0
#endif

#if MMK__LINUX_EXTRAS
#include <linux/membarrier.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#endif

#include "os.h"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_NOCTTY
#define O_NOCTTY 0
#endif

static int unix_open(const char *path, unsigned flags, unsigned mode) {
    /* O_NONBLOCK so that opening a FIFO without a writer does not hang; map.c
       rejects anything that is not a regular file right after. */
    int oflags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    oflags |= (flags & MMK__OS_OPEN_WRITE) ? O_RDWR : O_RDONLY;
    if (flags & MMK__OS_OPEN_CREATE)
        oflags |= O_CREAT;
    if (flags & MMK__OS_OPEN_EXCL)
        oflags |= O_EXCL;
    int fd;
    do {
        fd = open(path, oflags, (mode_t)mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

static int unix_close(int fd) {
    /* Not retried on EINTR: on Linux the descriptor is gone either way. */
    return close(fd) == 0 ? 0 : -errno;
}

static int unix_dup(int fd) {
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return nfd >= 0 ? nfd : -errno;
}

static int unix_fd_mode(int fd, int *readable, int *writable) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
#ifdef O_PATH
    if (fl & O_PATH)
        return -EBADF; /* a path-only descriptor can be neither read nor mapped */
#endif
    int acc = fl & O_ACCMODE;
    *readable = acc == O_RDONLY || acc == O_RDWR;
    *writable = acc == O_WRONLY || acc == O_RDWR;
    return 0;
}

static void stat_convert(const struct stat *sb, mmk__os_stat *st);

static int unix_fstat(int fd, mmk__os_stat *st) {
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return -errno;
    stat_convert(&sb, st);
    return 0;
}

static int unix_stat(const char *path, mmk__os_stat *st) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -errno;
    stat_convert(&sb, st);
    return 0;
}

static void stat_convert(const struct stat *sb, mmk__os_stat *st) {
    st->size = sb->st_size > 0 ? (uint64_t)sb->st_size : 0;
    if (S_ISREG(sb->st_mode))
        st->type = MMK__OS_REGULAR;
    else if (S_ISDIR(sb->st_mode))
        st->type = MMK__OS_DIRECTORY;
    else
        st->type = MMK__OS_OTHER;
}

static int unix_truncate(int fd, uint64_t size) {
    if (size > (uint64_t)INT64_MAX)
        return -EFBIG;
    int rc;
    do {
        rc = ftruncate(fd, (off_t)size);
    } while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : -errno;
}

static int unix_unlink(const char *path) {
    return unlink(path) == 0 ? 0 : -errno;
}

static int unix_map(int fd, uint64_t offset, size_t len, unsigned how, int native_flags,
                    void **addr) {
    if (offset > (uint64_t)INT64_MAX)
        return -EOVERFLOW;
    int prot = PROT_READ | ((how & MMK__OS_MAP_WRITE) ? PROT_WRITE : 0);
    int flags = (how & MMK__OS_MAP_PRIVATE) ? MAP_PRIVATE : MAP_SHARED;
    if (how & MMK__OS_MAP_ANON) {
        flags |= MAP_ANONYMOUS;
        fd = -1;
        offset = 0;
    }
#if MMK__LINUX_EXTRAS && defined(MAP_POPULATE)
    if (how & MMK__OS_MAP_POPULATE)
        flags |= MAP_POPULATE;
#endif
    void *p = mmap(NULL, len, prot, flags | native_flags, fd, (off_t)offset);
    if (p == MAP_FAILED)
        return -errno;
    *addr = p;
    return 0;
}

static int unix_remap(void *addr, size_t old_len, size_t new_len, void **new_addr) {
#if MMK__LINUX_EXTRAS && defined(MREMAP_MAYMOVE)
    void *p = mremap(addr, old_len, new_len, MREMAP_MAYMOVE);
    if (p == MAP_FAILED)
        return -errno;
    *new_addr = p;
    return 0;
#else
    (void)addr, (void)old_len, (void)new_len, (void)new_addr;
    return MMK_ENOTSUP;
#endif
}

static int unix_unmap(void *addr, size_t len) {
    return munmap(addr, len) == 0 ? 0 : -errno;
}

/* `flags` are enum mmk_flush_flags. */
static int unix_sync(void *addr, size_t len, int flags) {
    int native = (flags & MMK_FLUSH_ASYNC) ? MS_ASYNC : MS_SYNC;
#ifdef MS_INVALIDATE
    if (flags & MMK_FLUSH_INVALIDATE)
        native |= MS_INVALIDATE;
#endif
    return msync(addr, len, native) == 0 ? 0 : -errno;
}

static int unix_advise(void *addr, size_t len, int native_advice) {
#if defined(MADV_NORMAL)
    return madvise(addr, len, native_advice) == 0 ? 0 : -errno;
#else
    (void)addr, (void)len, (void)native_advice;
    return MMK_ENOTSUP;
#endif
}

static int unix_lock(void *addr, size_t len) {
    return mlock(addr, len) == 0 ? 0 : -errno;
}

static int unix_unlock(void *addr, size_t len) {
    return munlock(addr, len) == 0 ? 0 : -errno;
}

static int unix_anon_fd(void) {
#if MMK__LINUX_EXTRAS && defined(MFD_CLOEXEC)
    int fd = memfd_create("mmkit-anon", MFD_CLOEXEC);
    if (fd >= 0)
        return fd;
    /* Out of descriptors is an error the caller should see; an old kernel
       or a sandbox that forbids memfd just means "use the fallback". */
    if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
        return -errno;
    return MMK_ENOTSUP;
#else
    return MMK_ENOTSUP;
#endif
}

static int64_t unix_pread(int fd, void *buf, size_t n, uint64_t offset) {
    if (offset > (uint64_t)INT64_MAX)
        return -EOVERFLOW;
    ssize_t r;
    do {
        r = pread(fd, buf, n, (off_t)offset);
    } while (r < 0 && errno == EINTR);
    return r >= 0 ? (int64_t)r : -errno;
}

/* posix_fadvise is POSIX (Linux, the BSDs); macOS has none. On Linux
   WILLNEED is the page cache's forced read-ahead (the reads are queued, not
   waited for) and DONTNEED invalidates the clean pages that no map holds. */
static int unix_file_advise(int fd, uint64_t offset, uint64_t len, int advice) {
#if defined(POSIX_FADV_WILLNEED) && defined(POSIX_FADV_DONTNEED)
    if (offset > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - offset)
        return -EOVERFLOW;
    int native;
    if (advice == MMK__OS_FILE_WILLNEED)
        native = POSIX_FADV_WILLNEED;
    else if (advice == MMK__OS_FILE_DONTNEED)
        native = POSIX_FADV_DONTNEED;
    else
        return -EINVAL;
    /* posix_fadvise returns the error number rather than setting errno. */
    int rc = posix_fadvise(fd, (off_t)offset, (off_t)len, native);
    return rc == 0 ? 0 : -rc;
#else
    (void)fd, (void)offset, (void)len, (void)advice;
    return MMK_ENOTSUP;
#endif
}

/* Linux: O_DIRECT on a new open file description of the same file (through
   /proc/self/fd, so the caller's descriptor keeps its flags and offset).
   File systems without direct I/O (tmpfs before 6.6, some FUSE) refuse the
   open with EINVAL: MMK_ENOTSUP, read the ordinary way. */
static int unix_open_direct(int fd) {
#if MMK__LINUX_EXTRAS && defined(O_DIRECT)
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int d;
    do {
        d = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT | O_NOCTTY);
    } while (d < 0 && errno == EINTR);
    if (d >= 0)
        return d;
    if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
        return -errno;
    return MMK_ENOTSUP;
#else
    (void)fd;
    return MMK_ENOTSUP;
#endif
}

static int unix_allocate(int fd, uint64_t offset, uint64_t len, int keep_size) {
    if (offset > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - offset)
        return -EFBIG;
    if (len == 0)
        return 0;
#if MMK__LINUX_EXTRAS && defined(FALLOC_FL_KEEP_SIZE)
    /* fallocate() itself, not posix_fallocate(): where the filesystem cannot
       reserve, glibc's emulation writes a byte into every block, which races
       with other writers of a shared file; mmkit falls back to a sparse file
       instead and says so. */
    int rc;
    do {
        rc = fallocate(fd, keep_size ? FALLOC_FL_KEEP_SIZE : 0, (off_t)offset, (off_t)len);
    } while (rc != 0 && errno == EINTR);
    if (rc == 0)
        return 0;
    if (errno == EOPNOTSUPP || errno == ENOSYS)
        return MMK_ENOTSUP;
    return -errno;
#elif !defined(__APPLE__)
    /* POSIX's posix_fallocate (FreeBSD, NetBSD, Solaris; glibc in the
       POSIX-only build). macOS has none: its F_PREALLOCATE reserves blocks
       without a way to say which, so mmkit calls reservation unsupported. */
    if (keep_size) {
        /* posix_fallocate grows a file shorter than offset + len, so it
           keeps the size only for a range inside the file (the holes of a
           sparse file, what mmkit reserves with keep_size). */
        struct stat sb;
        if (fstat(fd, &sb) != 0)
            return -errno;
        if (sb.st_size < 0 || offset + len > (uint64_t)sb.st_size)
            return MMK_ENOTSUP;
    }
    int rc = posix_fallocate(fd, (off_t)offset, (off_t)len);
    if (rc == EINVAL || rc == EOPNOTSUPP || rc == ENODEV)
        return MMK_ENOTSUP; /* ZFS and others: the filesystem cannot reserve */
    return rc == 0 ? 0 : -rc;
#else
    (void)fd, (void)keep_size;
    return MMK_ENOTSUP;
#endif
}

static int64_t unix_next_hole(int fd, uint64_t offset) {
#ifdef SEEK_HOLE
    if (offset > (uint64_t)INT64_MAX)
        return -EOVERFLOW;
    off_t r = lseek(fd, (off_t)offset, SEEK_HOLE);
    if (r >= 0)
        return (int64_t)r;
    if (errno == EINVAL)
        return MMK_ENOTSUP;
    return -errno;
#else
    (void)fd, (void)offset;
    return MMK_ENOTSUP;
#endif
}

static void unix_sleep_us(unsigned usec) {
    struct timespec ts = {(time_t)(usec / 1000000u), (long)(usec % 1000000u) * 1000L};
    (void)nanosleep(&ts, NULL);
}

static int unix_process_barrier_setup(void) {
#if MMK__LINUX_EXTRAS && defined(SYS_membarrier)
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
        return 0;
#endif
    return MMK_ENOTSUP;
}

static int unix_process_barrier(void) {
#if MMK__LINUX_EXTRAS && defined(SYS_membarrier)
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
        return 0;
    return -errno;
#else
    return MMK_ENOTSUP;
#endif
}

/* Linux 6.16 and later keep ext4 files in the page cache in large folios
   (XFS did before), which a map takes 2 MiB per fault; other filesystems
   (network, FUSE, overlay, btrfs) are left to the measured default, reads. */
static int unix_file_maps_fast(int fd) {
#if MMK__LINUX_EXTRAS
    static int kernel; /* 0 unknown, 1 no, 2 yes */
    int v = __atomic_load_n(&kernel, __ATOMIC_RELAXED);
    if (!v) {
        struct utsname u;
        int major = 0, minor = 0;
        if (uname(&u) == 0)
            sscanf(u.release, "%d.%d", &major, &minor);
        v = major > 6 || (major == 6 && minor >= 16) ? 2 : 1;
        __atomic_store_n(&kernel, v, __ATOMIC_RELAXED);
    }
    if (v != 2)
        return 0;
    struct statfs sf;
    if (fstatfs(fd, &sf) != 0)
        return 0;
    return (unsigned long)sf.f_type == 0xef53UL         /* ext2/3/4 */
           || (unsigned long)sf.f_type == 0x58465342UL; /* XFS */
#else
    (void)fd;
    return 0;
#endif
}

#define UNIX_METHODS                                                                               \
    {                                                                                              \
        .open = unix_open, .close = unix_close, .dup = unix_dup, .fd_mode = unix_fd_mode,          \
        .fstat = unix_fstat, .stat = unix_stat, .truncate = unix_truncate, .unlink = unix_unlink,  \
        .map = unix_map, .remap = unix_remap, .unmap = unix_unmap, .sync = unix_sync,              \
        .advise = unix_advise, .lock = unix_lock, .unlock = unix_unlock, .anon_fd = unix_anon_fd,  \
        .pread = unix_pread, .file_advise = unix_file_advise, .open_direct = unix_open_direct,     \
        .allocate = unix_allocate, .next_hole = unix_next_hole, .sleep_us = unix_sleep_us,         \
        .process_barrier_setup = unix_process_barrier_setup,                                       \
        .process_barrier = unix_process_barrier, .file_maps_fast = unix_file_maps_fast,            \
    }

const mmk__os_methods mmk__os_default = UNIX_METHODS;
mmk__os_methods mmk__os = UNIX_METHODS;

uint64_t mmk__os_page_size(void) {
    static _Atomic uint64_t cached;
    uint64_t v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v == 0) {
        long ps = sysconf(_SC_PAGESIZE);
        v = ps > 0 ? (uint64_t)ps : 4096;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}

uint64_t mmk__os_granularity(void) {
    /* POSIX mmap offsets need page alignment only. */
    return mmk__os_page_size();
}

uint64_t mmk_page_size(void) {
    return mmk__os_page_size();
}

uint64_t mmk_allocation_granularity(void) {
    return mmk__os_granularity();
}

int mmk__os_advice(int advice, int *native) {
    switch (advice) {
#ifdef MADV_NORMAL
    case MMK_ADVICE_NORMAL:
        *native = MADV_NORMAL;
        return 0;
    case MMK_ADVICE_SEQUENTIAL:
        *native = MADV_SEQUENTIAL;
        return 0;
    case MMK_ADVICE_RANDOM:
        *native = MADV_RANDOM;
        return 0;
    case MMK_ADVICE_WILLNEED:
        *native = MADV_WILLNEED;
        return 0;
    case MMK_ADVICE_DONTNEED:
        *native = MADV_DONTNEED;
        return 0;
#else
    case MMK_ADVICE_NORMAL:
    case MMK_ADVICE_SEQUENTIAL:
    case MMK_ADVICE_RANDOM:
    case MMK_ADVICE_WILLNEED:
    case MMK_ADVICE_DONTNEED:
        return MMK_ENOTSUP;
#endif
    case MMK_ADVICE_HUGEPAGE:
#if MMK__LINUX_EXTRAS && defined(MADV_HUGEPAGE)
        *native = MADV_HUGEPAGE;
        return 0;
#else
        return MMK_ENOTSUP;
#endif
    default:
        return -EINVAL;
    }
}

int mmk__os_populate_advice(int for_write, int *native) {
#if MMK__LINUX_EXTRAS && defined(MADV_POPULATE_READ) && defined(MADV_POPULATE_WRITE)
    *native = for_write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
    return 0;
#else
    (void)for_write, (void)native;
    return MMK_ENOTSUP;
#endif
}

/* Linux 5.17+ (older headers lack the constants: the values are the ABI). */
#if MMK__LINUX_EXTRAS && !defined(PR_SET_VMA)
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

int mmk__os_set_anon_name(void *addr, size_t len, const char *name) {
#if MMK__LINUX_EXTRAS
    if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)addr, (unsigned long)len,
              (unsigned long)name) == 0)
        return 0;
    /* EINVAL (the name was checked): a kernel without the feature; EBADF:
       memory that is not anonymous to the kernel (a memfd). */
    if (errno == EINVAL || errno == EBADF)
        return MMK_ENOTSUP;
    return -errno;
#else
    (void)addr, (void)len, (void)name;
    return MMK_ENOTSUP;
#endif
}

/* ======================================================================== */
/*
 * The fault guard's POSIX half (guard.c has the portable half): a SIGBUS raised while the library
 * (or a caller of mmk_guard_run) touches mapped memory becomes MMK_EFAULT instead of killing the
 * process.
 *
 * How: one process-wide SIGBUS handler. When SIGBUS arrives in a thread with
 * a guard, the handler unlinks that guard (mmk__guard_take) and siglongjmps
 * to it; the guarded code sees sigsetjmp
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
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "internal.h"

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
    /* Unlinked first, so the jump target's fault path needs no cleanup and a
       fault in an enclosing guard goes to that guard. */
    mmk__guard *g = mmk__guard_take();
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
    /* Leave with the signal mask the thread had when it faulted. With
       SA_NODEFER that is already the mask in force, but wrappers that call
       this handler for the kernel (TSan, some debuggers) block signals around
       it; sigsetjmp(env, 0) restores nothing, so set it here. One system
       call per fault only; the fault-free path stays free of them. */
    if (ctx != NULL)
        pthread_sigmask(SIG_SETMASK, &((ucontext_t *)ctx)->uc_sigmask, NULL);
    MMK__LONGJMP(g->env);
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

int mmk__os_guard_install(void) {
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

void mmk__os_guard_arm(void) {
    guard_last_fault.valid = 0;
    /* If sigaction fails (it cannot for SIGBUS with valid arguments), the
       next guard tries again; faults stay what they were without mmkit. */
    (void)mmk__os_guard_install();
}

/* ======================================================================== */
/* Threads, clocks and process facts (os.h): pthreads and POSIX clocks.      */

#include <poll.h>
#include <sched.h>

int mmk__thread_create(mmk__thread *t, void *(*fn)(void *), void *arg) {
    int rc = pthread_create(&t->tid, NULL, fn, arg);
    return rc == 0 ? 0 : -rc;
}

void mmk__thread_join(mmk__thread t) {
    (void)pthread_join(t.tid, NULL);
}

void mmk__mutex_init(mmk__mutex *mu) {
    (void)pthread_mutex_init(mu, NULL);
}

void mmk__mutex_destroy(mmk__mutex *mu) {
    (void)pthread_mutex_destroy(mu);
}

void mmk__mutex_lock(mmk__mutex *mu) {
    (void)pthread_mutex_lock(mu);
}

void mmk__mutex_unlock(mmk__mutex *mu) {
    (void)pthread_mutex_unlock(mu);
}

void mmk__cond_init(mmk__cond *cv) {
    (void)pthread_cond_init(cv, NULL);
}

void mmk__cond_destroy(mmk__cond *cv) {
    (void)pthread_cond_destroy(cv);
}

void mmk__cond_wait(mmk__cond *cv, mmk__mutex *mu) {
    (void)pthread_cond_wait(cv, mu);
}

void mmk__cond_timedwait(mmk__cond *cv, mmk__mutex *mu, uint64_t ns) {
    /* The condition variable's clock is the default one, CLOCK_REALTIME. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t nsec = (uint64_t)ts.tv_nsec + ns % 1000000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u + nsec / 1000000000u);
    ts.tv_nsec = (long)(nsec % 1000000000u);
    (void)pthread_cond_timedwait(cv, mu, &ts);
}

void mmk__cond_signal(mmk__cond *cv) {
    (void)pthread_cond_signal(cv);
}

void mmk__cond_broadcast(mmk__cond *cv) {
    (void)pthread_cond_broadcast(cv);
}

void mmk__once(mmk__once_t *once, void (*fn)(void)) {
    (void)pthread_once(once, fn);
}

int mmk__tls_create(mmk__tls_key *key, void (*dtor)(void *)) {
    int rc = pthread_key_create(key, dtor);
    return rc == 0 ? 0 : -rc;
}

int mmk__tls_set(mmk__tls_key key, void *value) {
    int rc = pthread_setspecific(key, value);
    return rc == 0 ? 0 : -rc;
}

int mmk__os_atfork_child(void (*child)(void)) {
    int rc = pthread_atfork(NULL, NULL, child);
    return rc == 0 ? 0 : -rc;
}

void mmk__os_yield(void) {
    (void)sched_yield();
}

uint64_t mmk__os_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t mmk__os_wall_seconds(void) {
    return (int64_t)time(NULL);
}

unsigned mmk__os_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

uint64_t mmk__os_memory_size(void) {
#ifdef _SC_PHYS_PAGES
    long pages = sysconf(_SC_PHYS_PAGES);
    return pages > 0 ? (uint64_t)pages * mmk__os_page_size() : 0;
#else
    return 0;
#endif
}

int64_t mmk__os_read(int fd, void *buf, size_t n) {
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0)
            return (int64_t)r;
        if (errno != EINTR)
            return -errno;
    }
}

int mmk__os_fd_ready(int fd) {
    struct pollfd pf = {fd, POLLIN, 0};
    return poll(&pf, 1, 0) != 0;
}

int mmk__os_fd_wait(int fd) {
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, -1) < 0 && errno != EINTR)
        return -errno;
    return 0;
}

int mmk__os_size_is_a_guess(int fd) {
#if MMK__LINUX_EXTRAS
    struct statfs sf;
    if (fstatfs(fd, &sf) != 0)
        return 0;
    switch ((unsigned long)sf.f_type) {
    case 0x9fa0UL:     /* procfs */
    case 0x62656572UL: /* sysfs */
    case 0x64626720UL: /* debugfs */
    case 0x74726163UL: /* tracefs */
    case 0x73636673UL: /* securityfs */
    case 0x27e0ebUL:   /* cgroup */
    case 0x63677270UL: /* cgroup2 */
    case 0x62656570UL: /* configfs */
    case 0x6e736673UL: /* nsfs */
        return 1;
    default:
        return 0;
    }
#else
    (void)fd;
    return 0;
#endif
}

/* ---- named shared memory (shm.c) ------------------------------------------ */

/* With MMK__OS_SHM_CREATE_EXCL the object is created with permission bits
   exactly `mode` (fchmod afterwards, because the umask may have removed
   some); shm.c sizes it afterwards, so `length` is not needed here. */
int mmk__os_shm_open(const char *name, int how, int writable, unsigned mode, uint64_t length) {
    (void)length;
    int oflag = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC;
    if (how == MMK__OS_SHM_CREATE_EXCL)
        oflag |= O_CREAT | O_EXCL;
    int fd = shm_open(name, oflag, (mode_t)mode);
    if (fd < 0)
        return -errno;
    if (how == MMK__OS_SHM_CREATE_EXCL && fchmod(fd, (mode_t)mode) != 0) {
        int err = -errno;
        close(fd);
        shm_unlink(name);
        return err;
    }
    return fd;
}

int mmk__os_shm_size(int fd, uint64_t *size) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    *size = st.st_size < 0 ? 0 : (uint64_t)st.st_size;
    return 0;
}

int mmk__os_shm_set_size(int fd, uint64_t size) {
    return unix_truncate(fd, size);
}

/* fstat on the descriptor, not stat on the name, so the answer is about the
   very object that will be mapped; and once it is ours, only we (or root)
   can widen its mode afterwards. Another user's object, or one open to more
   people than asked, could be read or changed behind the caller's back. */
int mmk__os_shm_check_owner(int fd, unsigned mode) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (st.st_uid != geteuid())
        return MMK_EOWNER;
    if ((unsigned)(st.st_mode & 07777) & ~mode)
        return MMK_EOWNER;
    return 0;
}

void mmk__os_shm_close(int fd) {
    close(fd);
}

int mmk__os_shm_unlink(const char *name) {
    return shm_unlink(name) == 0 ? 0 : -errno;
}
