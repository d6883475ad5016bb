/*
 * test_core_util.h — small helpers shared by the core tests (maps, guard,
 * scenarios): scratch files, deterministic random bytes, child processes.
 */
#ifndef MMK_TEST_CORE_UTIL_H
#define MMK_TEST_CORE_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* A path in the scratch directory, unique to this process and `name`. The
   buffer is one of 16 reused in turn: copy a path that must live long. */
static inline const char *tpath(const char *name) {
    static char bufs[16][512];
    static int next;
    char *b = bufs[next++ % 16];
    snprintf(b, 512, "%s/core-%ld-%s", check_tmpdir(), (long)getpid(), name);
    return b;
}

/* Creates (or replaces) `path` holding exactly `data[0, n)`. Returns 0 or -1. */
static inline int write_file(const char *path, const void *data, size_t n) {
    return check_write_file(path, data, n, 0644);
}

/* Size of the file at `path`, or -1. */
static inline long long file_size_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* pread n bytes at off of `path` into buf; returns bytes read or -1. */
static inline long long read_file_at(const char *path, uint64_t off, void *buf, size_t n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return (long long)got;
}

/* Deterministic pseudo-random bytes from a small alphabet (alpha 0: all 256). */
static inline uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static inline void fill_random(unsigned char *buf, size_t n, uint64_t seed, unsigned alpha) {
    uint64_t s = seed * 2654435761u + 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng_next(&s);
        buf[i] = alpha ? (unsigned char)('a' + r % alpha) : (unsigned char)r;
    }
}

/* Runs fn() in a child process with core dumps off; returns the wait status. */
static inline int run_child(int (*fn)(void *), void *arg) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl);
        _exit(fn(arg));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

#define CHILD_EXITED_WITH(st, code) (WIFEXITED(st) && WEXITSTATUS(st) == (code))
#define CHILD_KILLED_BY(st, sig) (WIFSIGNALED(st) && WTERMSIG(st) == (sig))

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

#include "os.h"

/*
 * What the platform layer of this build offers (os.h): the POSIX-only build
 * (MMK_POSIX_ONLY, as on macOS) has neither mremap nor memfd, and the tests
 * then expect the documented MMK_ENOTSUP or fallback instead.
 */
static inline int anon_fd_available(void) {
    int fd = mmk__os_default.anon_fd();
    if (fd >= 0)
        (void)mmk__os_default.close(fd);
    return fd >= 0;
}

static inline int remap_available(void) {
    void *p = NULL;
    return mmk__os_default.remap(NULL, 0, 0, &p) != MMK_ENOTSUP;
}

#endif
