/*
 * check.h — the C tests' assertion macros. A failed CHECK prints where and
 * why and counts a failure; the test goes on. CHECK_DONE() prints the summary
 * ("N passed, N failed") and gives main's exit status.
 */
#ifndef MMK_CHECK_H
#define MMK_CHECK_H

#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmkit.h"
#ifdef _WIN32
#include <io.h>
#include <windows.h>
#endif

/* Windows (mingw, the tests under wine): no O_CLOEXEC, and files must be
   opened in binary mode or the C library rewrites line ends. */
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_BINARY
#define O_BINARY 0
#endif

/* The format attribute of the tests' printf-like helpers: with mingw's C99
   printf (__USE_MINGW_ANSI_STDIO, set by tests/win/win-tree.sh) it is
   gnu_printf, which knows %zu. */
#ifdef __MINGW_PRINTF_FORMAT
#define CHECK_PRINTF_FORMAT __MINGW_PRINTF_FORMAT
#else
#define CHECK_PRINTF_FORMAT printf
#endif

static unsigned long check_passed_, check_failed_;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passed_++;                                                                       \
        } else {                                                                                   \
            check_failed_++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

/* Compare two integers and show both on failure. */
#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ == check_b_) {                                                                \
            check_passed_++;                                                                       \
        } else {                                                                                   \
            check_failed_++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", __FILE__,         \
                    __LINE__, #a, #b, check_a_, check_b_);                                         \
        }                                                                                          \
    } while (0)

/* An mmkit call that must return exactly `code`; shows the names on failure. */
#define CHECK_RC(call, code)                                                                       \
    do {                                                                                           \
        long long check_rc_ = (long long)(call);                                                   \
        long long check_want_ = (long long)(code);                                                 \
        if (check_rc_ == check_want_) {                                                            \
            check_passed_++;                                                                       \
        } else {                                                                                   \
            check_failed_++;                                                                       \
            fprintf(stderr, "%s:%d: %s returned %lld (%s: %s), expected %lld (%s)\n", __FILE__,    \
                    __LINE__, #call, check_rc_, mmk_errname((int)check_rc_),                       \
                    mmk_strerror((int)check_rc_), check_want_, mmk_errname((int)check_want_));     \
        }                                                                                          \
    } while (0)

#define CHECK_OK(call) CHECK_RC(call, 0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

#define CHECK_DONE()                                                                               \
    (printf("%lu passed, %lu failed\n", check_passed_, check_failed_), check_failed_ ? 1 : 0)

/* A scratch directory for this test's files (MMK_TEST_TMP, else /tmp). */
static inline const char *check_tmpdir(void) {
    const char *d = getenv("MMK_TEST_TMP");
    return d && *d ? d : "/tmp";
}

/* An open descriptor of the directory `path` (to check that the library
   refuses it), or -1. Windows' C library cannot open directories: there the
   handle comes from CreateFile with backup semantics. */
static inline int check_open_dir(const char *path) {
#ifdef _WIN32
    HANDLE h =
        CreateFileA(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    int fd = _open_osfhandle((intptr_t)h, _O_RDONLY);
    if (fd < 0)
        CloseHandle(h);
    return fd;
#else
    return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
#endif
}

/* CHECK_TSAN: 1 in a ThreadSanitizer build (10-20 times slower, and every
   large buffer costs shadow-memory page faults). Its job is finding races:
   the tests run each threaded shape there a few times, not every random
   draw and every size, which the plain and ASan builds cover. */
#if defined(__SANITIZE_THREAD__)
#define CHECK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHECK_TSAN 1
#endif
#endif
#ifndef CHECK_TSAN
#define CHECK_TSAN 0
#endif

/* Quick mode: MMK_TEST_QUICK=1 (set for the runs under wine, where every
   system call is slower) asks the randomized tests for fewer rounds; every
   shape is still covered, only fewer random draws of each. */
static inline int check_quick(void) {
    const char *q = getenv("MMK_TEST_QUICK");
    return q && *q && *q != '0';
}

/* Lean: under TSan or in quick mode (the other sanitizers, wine, qemu), the
   heaviest single passes (multi-MiB lines, tiny-chunk scans) run in part;
   the plain build runs all of them. */
static inline int check_lean(void) {
    return CHECK_TSAN || check_quick();
}

/* xorshift64*: reproducible pseudo-random numbers shared by the tests. A test
   that wants its own sequence sets check_rng before drawing. */
static uint64_t check_rng = 0x9E3779B97F4A7C15ull;
static inline uint64_t check_rnd(void) {
    check_rng ^= check_rng >> 12;
    check_rng ^= check_rng << 25;
    check_rng ^= check_rng >> 27;
    return check_rng * 0x2545F4914F6CDD1Dull;
}
static inline size_t check_rnd_below(size_t n) {
    return n ? (size_t)(check_rnd() % n) : 0;
}

/* Create (or replace) `path` with permission `mode`, holding exactly
   data[0, n). Returns 0 or -1. */
static inline int check_write_file(const char *path, const void *data, size_t n, unsigned mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_BINARY, mode);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return close(fd);
}

#endif
