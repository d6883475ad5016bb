/*
 * mmkit_os.c — what the `mmkit` module asks of the operating system beyond
 * the library: files by descriptor (what a descriptor is, opening a path,
 * positioned reads), the clock, sleeping, the process id, backing fresh
 * memory in one call (mmkit_os_prefault), and two facts:
 * which device is /dev/zero, and which files lie about their size. The
 * module's other files call these functions and no system call of their own.
 *
 * Linux knows both from device numbers and filesystem magic numbers. The
 * POSIX-only build (MMK_POSIX_ONLY, for macOS and the BSDs) compares with
 * stat("/dev/zero") and knows no lying filesystems (procfs files there are
 * read through mmk_open's own checks).
 */
#include "mmkit_module.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && !(defined(MMK_POSIX_ONLY) && MMK_POSIX_ONLY)
#define MMKIT_OS_LINUX 1
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#endif

static int is_zero_device(const struct stat *st) {
    if (!S_ISCHR(st->st_mode))
        return 0;
#ifdef MMKIT_OS_LINUX
    return major(st->st_rdev) == 1 && minor(st->st_rdev) == 5; /* Linux's mem driver, 1:5 */
#else
    /* Device numbers are not portable: ask what /dev/zero is here. */
    struct stat zero;
    return stat("/dev/zero", &zero) == 0 && S_ISCHR(zero.st_mode) && zero.st_rdev == st->st_rdev;
#endif
}

int mmkit_os_fstat(int fd, mmkit_os_fileinfo *out) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    out->size = 0;
    if (S_ISREG(st.st_mode)) {
        out->kind = MMKIT_OS_REGULAR;
        out->size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    } else if (S_ISDIR(st.st_mode)) {
        out->kind = MMKIT_OS_DIRECTORY;
    } else if (is_zero_device(&st)) {
        out->kind = MMKIT_OS_ZERO_DEVICE;
    } else {
        out->kind = MMKIT_OS_OTHER;
    }
    return 0;
}

int mmkit_os_open_read(const char *path, int *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        *err = EISDIR;
        return -1;
    }
    return fd;
}

void mmkit_os_close(int fd) {
    close(fd);
}

int64_t mmkit_os_pread(int fd, void *buf, size_t n, uint64_t offset) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(offset + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (int64_t)got;
}

int64_t mmkit_os_read(int fd, void *buf, size_t n) {
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0)
            return (int64_t)r;
        if (errno != EINTR)
            return -errno;
    }
}

double mmkit_os_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void mmkit_os_sleep_ns(long ns) {
    struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
    nanosleep(&ts, NULL);
}

void mmkit_os_prefault(void *p, size_t n) {
#if defined(MMKIT_OS_LINUX) && defined(MADV_POPULATE_WRITE)
    /* The whole pages inside [p, p + n); an older kernel says EINVAL, and
       the pages then fault in one by one as before. */
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t b = ((uintptr_t)p + n) & ~((uintptr_t)page - 1);
    if (page > 0 && b > a)
        (void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)n;
#endif
}

long mmkit_os_pid(void) {
    return (long)getpid();
}

int mmkit_os_size_lies(const char *path) {
#ifdef MMKIT_OS_LINUX
    struct statfs sfs;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = statfs(path, &sfs);
    Py_END_ALLOW_THREADS
    if (rc != 0)
        return 0;
    switch ((unsigned long)sfs.f_type) {
    case 0x9fa0UL:     /* PROC_SUPER_MAGIC */
    case 0x62656572UL: /* SYSFS_MAGIC */
    case 0x64626720UL: /* DEBUGFS_MAGIC */
    case 0x74726163UL: /* TRACEFS_MAGIC */
    case 0x73636673UL: /* SECURITYFS_MAGIC */
    case 0x27e0ebUL:   /* CGROUP_SUPER_MAGIC */
    case 0x63677270UL: /* CGROUP2_SUPER_MAGIC */
    case 0x62656570UL: /* CONFIGFS_MAGIC */
    case 0x6165676cUL: /* PSTOREFS_MAGIC */
    case 0xcafe4a11UL: /* BPF_FS_MAGIC */
    case 0xde5e81e4UL: /* EFIVARFS_MAGIC */
        break;
    default:
        return 0;
    }
    struct stat st;
    Py_BEGIN_ALLOW_THREADS
    rc = stat(path, &st);
    Py_END_ALLOW_THREADS
    return rc == 0 && S_ISREG(st.st_mode);
#else
    (void)path;
    return 0;
#endif
}
