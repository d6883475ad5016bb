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

#define UNIX_METHODS                                                                               \
    {                                                                                              \
        .open = unix_open, .close = unix_close, .dup = unix_dup, .fd_mode = unix_fd_mode,          \
        .fstat = unix_fstat, .stat = unix_stat, .truncate = unix_truncate, .unlink = unix_unlink,  \
        .map = unix_map, .remap = unix_remap, .unmap = unix_unmap, .sync = unix_sync,              \
        .advise = unix_advise, .lock = unix_lock, .unlock = unix_unlock, .anon_fd = unix_anon_fd,  \
        .pread = unix_pread, .allocate = unix_allocate, .next_hole = unix_next_hole,               \
        .sleep_us = unix_sleep_us, .process_barrier_setup = unix_process_barrier_setup,            \
        .process_barrier = unix_process_barrier,                                                   \
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
