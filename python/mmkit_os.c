/*
 * mmkit_os.c — the few facts about the operating system the `mmkit` module
 * needs beyond the library: which device is /dev/zero, and which files lie
 * about their size. Platform knowledge lives here only; the module's other
 * files use these functions.
 *
 * Linux knows both from device numbers and filesystem magic numbers. The
 * POSIX-only build (MMK_POSIX_ONLY, for macOS and the BSDs) compares with
 * stat("/dev/zero") and knows no lying filesystems (procfs files there are
 * read through mmk_open's own checks).
 */
#include "mmkit_module.h"

#include <sys/stat.h>

#if defined(__linux__) && !(defined(MMK_POSIX_ONLY) && MMK_POSIX_ONLY)
#define MMKIT_OS_LINUX 1
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#endif

int mmkit_os_is_zero_device(const struct stat *st) {
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
