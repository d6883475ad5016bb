/*
 * error.c — the one table of error codes mmkit can return, and the two
 * functions that explain them.
 *
 * The library's own codes come from MMK_ERRNO_MAP in mmkit.h; the errno
 * values the library passes through come from MMK__SYS_ERRNO_MAP below. Both
 * tables expand into one switch per function, so a name and its message can
 * never drift apart. strerror() is not used: its buffer is not thread-safe and
 * its wording differs between C libraries.
 */
#include <errno.h>

#include "mmkit.h"

/* errno values the library can return as -errno, with mmkit's own wording.
   Entries for codes a platform lacks are skipped by the #ifdef wrappers below. */
#define MMK__SYS_ERRNO_COMMON(XX)                                                   \
    XX(EPERM, "operation not permitted")                                            \
    XX(ENOENT, "no such file or directory")                                         \
    XX(EINTR, "interrupted system call")                                            \
    XX(EIO, "input/output error")                                                   \
    XX(ENXIO, "no such device or address")                                          \
    XX(E2BIG, "argument list too long")                                             \
    XX(EBADF, "bad file descriptor")                                                \
    XX(EAGAIN, "resource temporarily unavailable")                                  \
    XX(ENOMEM, "not enough memory or address space")                                \
    XX(EACCES, "permission denied")                                                 \
    XX(EFAULT, "bad address")                                                       \
    XX(EBUSY, "device or resource busy")                                            \
    XX(EEXIST, "file exists")                                                       \
    XX(EXDEV, "cross-device link")                                                  \
    XX(ENODEV, "no such device (the file system does not support mapping)")         \
    XX(ENOTDIR, "not a directory")                                                  \
    XX(EISDIR, "is a directory")                                                    \
    XX(EINVAL, "invalid argument")                                                  \
    XX(ENFILE, "too many open files in the system")                                 \
    XX(EMFILE, "too many open files")                                               \
    XX(ENOTTY, "inappropriate ioctl for device")                                    \
    XX(ETXTBSY, "text file busy")                                                   \
    XX(EFBIG, "file too large")                                                     \
    XX(ENOSPC, "no space left on device")                                           \
    XX(ESPIPE, "illegal seek (not a seekable file)")                                \
    XX(EROFS, "read-only file system")                                              \
    XX(EMLINK, "too many links")                                                    \
    XX(EPIPE, "broken pipe")                                                        \
    XX(EDOM, "numerical argument out of domain")                                    \
    XX(ERANGE, "numerical result out of range")                                     \
    XX(EDEADLK, "resource deadlock avoided")                                        \
    XX(ENAMETOOLONG, "file name too long")                                          \
    XX(ENOLCK, "no locks available")                                                \
    XX(ENOSYS, "function not implemented")                                          \
    XX(ENOTEMPTY, "directory not empty")                                            \
    XX(ELOOP, "too many levels of symbolic links")                                  \
    XX(EOVERFLOW, "value too large (does not fit the address space or file offset)") \
    XX(EOPNOTSUPP, "operation not supported")                                       \
    XX(ETIMEDOUT, "connection timed out")                                           \
    XX(EOWNERDEAD, "owner died")                                                    \
    XX(ENOTRECOVERABLE, "state not recoverable")

/* Codes that may share a value with another errno on some platforms
   (EWOULDBLOCK == EAGAIN, ENOTSUP == EOPNOTSUPP on Linux): listed only when
   distinct, so the switch has no duplicate case labels. */

const char *mmk_version(void) {
    return MMK_VERSION_STRING;
}

const char *mmk_strerror(int code) {
    switch (code) {
    case 0:
        return "success";
#define MMK__LIB_MSG(name, value, text) \
    case value:                         \
        return text;
        MMK_ERRNO_MAP(MMK__LIB_MSG)
#undef MMK__LIB_MSG
#define MMK__SYS_MSG(name, text) \
    case -name:                  \
        return text;
        MMK__SYS_ERRNO_COMMON(MMK__SYS_MSG)
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
        MMK__SYS_MSG(ENOTSUP, "not supported")
#endif
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
        MMK__SYS_MSG(EWOULDBLOCK, "operation would block")
#endif
#undef MMK__SYS_MSG
    default:
        return "unknown error";
    }
}

const char *mmk_errname(int code) {
    switch (code) {
    case 0:
        return "OK";
#define MMK__LIB_NAME(name, value, text) \
    case value:                          \
        return "MMK_" #name;
        MMK_ERRNO_MAP(MMK__LIB_NAME)
#undef MMK__LIB_NAME
#define MMK__SYS_NAME(name, text) \
    case -name:                   \
        return #name;
        MMK__SYS_ERRNO_COMMON(MMK__SYS_NAME)
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
        MMK__SYS_NAME(ENOTSUP, "")
#endif
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
        MMK__SYS_NAME(EWOULDBLOCK, "")
#endif
#undef MMK__SYS_NAME
    default:
        return "UNKNOWN";
    }
}
