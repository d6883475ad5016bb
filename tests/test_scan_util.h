/*
 * test_scan_util.h — helpers shared by the searcher's tests (test_scan.c,
 * test_words.c): deterministic random numbers, scratch files, a pipe fed by a
 * child process, and running one job over every kind of input.
 */
#ifndef MMK_TEST_SCAN_UTIL_H
#define MMK_TEST_SCAN_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _WIN32
#include <io.h>
#include <windows.h>
#else
#include <sys/wait.h>
#endif

#include "check.h"
#include "wordtab.h"

/* Random bytes drawn from `alphabet`. Caller frees. */
static inline uint8_t *ts_random_text(size_t n, const char *alphabet, size_t alen) {
    uint8_t *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)alphabet[check_rnd_below(alen)];
    return b;
}

/* A path in the scratch directory, unique to this process and `name`. */
static inline const char *ts_path(const char *name) {
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, 512, "%s/scan-%ld-%s", check_tmpdir(), (long)getpid(), name);
    return b;
}

static inline int ts_write_file(const char *path, const void *data, size_t n) {
    return check_write_file(path, data, n, 0600);
}

/* A pipe whose read end is returned; a writer (a child process on POSIX, a
   thread on Windows, which has no fork) writes data[0, n) into it in uneven
   pieces (short reads on the other side) and finishes. *child receives it
   (wait with ts_reap). */
#ifdef _WIN32
typedef HANDLE ts_child;
#define TS_NO_CHILD NULL
typedef struct ts_writer {
    int fd;
    size_t n;
    uint8_t data[];
} ts_writer;
static DWORD WINAPI ts_writer_main(void *arg) {
    ts_writer *w = arg;
    const uint8_t *p = w->data;
    size_t left = w->n, step = 1;
    DWORD rc = 0;
    while (left > 0) {
        unsigned k = (unsigned)(step < left ? step : left);
        int r = _write(w->fd, p, k);
        if (r <= 0) {
            rc = 1;
            break;
        }
        p += r;
        left -= (size_t)r;
        step = step * 3 + 1;
    }
    _close(w->fd);
    free(w);
    return rc;
}
static inline int ts_pipe_from_child(const void *data, size_t n, ts_child *child) {
    int fds[2];
    if (_pipe(fds, 1 << 16, _O_BINARY) != 0)
        return -1;
    ts_writer *w = malloc(sizeof *w + n + 1);
    w->fd = fds[1];
    w->n = n;
    if (n)
        memcpy(w->data, data, n);
    HANDLE h = CreateThread(NULL, 0, ts_writer_main, w, 0, NULL);
    if (!h) {
        free(w);
        _close(fds[0]);
        _close(fds[1]);
        return -1;
    }
    *child = h;
    return fds[0];
}
static inline int ts_reap(ts_child h) {
    DWORD code = 1;
    WaitForSingleObject(h, INFINITE);
    GetExitCodeThread(h, &code);
    CloseHandle(h);
    return (int)code;
}
#else
typedef pid_t ts_child;
#define TS_NO_CHILD ((pid_t)-1)
static inline int ts_pipe_from_child(const void *data, size_t n, ts_child *child) {
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        const char *p = data;
        size_t left = n, step = 1;
        while (left > 0) {
            size_t k = step < left ? step : left;
            ssize_t w = write(fds[1], p, k);
            if (w <= 0)
                _exit(1);
            p += w;
            left -= (size_t)w;
            step = step * 3 + 1;
        }
        _exit(0);
    }
    close(fds[1]);
    *child = pid;
    return fds[0];
}

static inline int ts_reap(ts_child pid) {
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
#endif

/* The input kinds every job is checked over. */
enum {
    TS_BYTES,
    TS_MAP,     /* a map of a file with junk around the data, scanned as a range */
    TS_FD_MMAP, /* regular file, MMK_IO_MMAP */
    TS_FD_READ, /* regular file, MMK_IO_READ */
    TS_FD_AUTO, /* regular file, MMK_IO_AUTO */
    TS_PIPE,    /* a pipe fed by a child process */
    TS_NKINDS
};
static const char *const ts_kind_names[TS_NKINDS] = {"bytes",   "map",     "fd-mmap",
                                                     "fd-read", "fd-auto", "pipe"};

/* A prepared input: call ts_input_open, run the job on `in`, then ts_input_close. */
typedef struct ts_input {
    mmk_input in;
    mmk_map *map;
    int fd;
    ts_child child;
    int io;
} ts_input;

/* Prepare `data` as input kind `kind`. Returns 0 or -1. */
static inline int ts_input_open(ts_input *t, int kind, const uint8_t *data, size_t n) {
    memset(t, 0, sizeof *t);
    t->fd = -1;
    t->child = TS_NO_CHILD;
    const char *path = ts_path("input");
    switch (kind) {
    case TS_BYTES:
        t->in = mmk_input_bytes(data, n);
        return 0;
    case TS_MAP: {
        /* junk before and after; the range picks the data out (slice rules). */
        size_t pre = 1 + check_rnd_below(9), post = check_rnd_below(9);
        uint8_t *b = malloc(pre + n + post + 1);
        memset(b, 'J', pre + n + post);
        if (n)
            memcpy(b + pre, data, n);
        int rc = ts_write_file(path, b, pre + n + post);
        free(b);
        if (rc)
            return -1;
        if (mmk_open(&t->map, path, NULL) != 0)
            return -1;
        unlink(path);
        int64_t total = (int64_t)(pre + n + post);
        int64_t start =
            check_rnd_below(2) ? (int64_t)pre : (int64_t)pre - total; /* negative form */
        if (start == 0) /* -0 is 0: the whole map, so use the positive form */
            start = (int64_t)pre;
        int64_t end = post == 0 && check_rnd_below(2) ? MMK_DEFAULT_POS
                      : check_rnd_below(2)            ? (int64_t)(pre + n)
                                                      : -(int64_t)post;
        if (end == 0) /* -0 is 0: the empty slice, so use the positive form */
            end = (int64_t)(pre + n);
        t->in = mmk_input_map(t->map, start, end);
        return 0;
    }
    case TS_FD_MMAP:
    case TS_FD_READ:
    case TS_FD_AUTO:
        if (ts_write_file(path, data, n))
            return -1;
        t->fd = open(path, O_RDONLY | O_CLOEXEC | O_BINARY);
        unlink(path);
        if (t->fd < 0)
            return -1;
        t->in = mmk_input_fd(t->fd);
        t->io = kind == TS_FD_MMAP ? MMK_IO_MMAP : kind == TS_FD_READ ? MMK_IO_READ : MMK_IO_AUTO;
        return 0;
    case TS_PIPE:
        t->fd = ts_pipe_from_child(data, n, &t->child);
        if (t->fd < 0)
            return -1;
        t->in = mmk_input_fd(t->fd);
        return 0;
    }
    return -1;
}

static inline void ts_input_close(ts_input *t) {
    if (t->map) {
        CHECK_EQ(mmk_view_count(t->map), 0);
        CHECK_OK(mmk_free(t->map));
    }
    if (t->fd >= 0)
        close(t->fd);
    if (t->child != TS_NO_CHILD)
        CHECK_EQ(ts_reap(t->child), 0);
    /* Windows cannot remove a file that is still open: ts_input_open's
       unlink may have failed there, so the file goes now. */
    unlink(ts_path("input"));
}

/* Under ThreadSanitizer (CHECK_TSAN) the randomized tests run an eighth of
   their rounds: its job is finding races, which a few rounds of every shape
   do. Quick mode (MMK_TEST_QUICK=1: the other sanitizers, wine): a quarter. */
#define TS_ROUNDS(n) (CHECK_TSAN ? ((n) + 7) / 8 : check_quick() ? ((n) + 3) / 4 : (n))

static const uint64_t ts_chunks[] = {1, 2, 3, 5, 7, 64, 4096, 0};
static const unsigned ts_threads[] = {1, 2, 3, 8};
#define TS_NCHUNKS (sizeof ts_chunks / sizeof ts_chunks[0])
#define TS_NTHREADS (sizeof ts_threads / sizeof ts_threads[0])

/* A job that builds a table of counts (mmk_word_counts, mmk_count_by). */
typedef int (*ts_table_job)(const void *ctx, const mmk_input *in, const mmk_scan_options *o,
                            mmk_wordtab **out);

/* The workers' tables merge without piling up (mmk__merge_slot): nkeys
   distinct keys, lines `<tag>NNNNNN` in a scattered order, over four workers'
   tables (more tables than cores: merges of tables of one size); the keys of
   the others take a few probes each on their way into the first (merged in
   slot order: hundreds to thousands). A run where one worker took every chunk
   merges nothing and checks nothing. */
static inline void ts_check_merge_spread(char tag, size_t nkeys, ts_table_job job,
                                         const void *ctx) {
    const size_t n = nkeys * 8;
    char *d = malloc(n + 1);
    CHECK(d != NULL);
    if (!d)
        return;
    for (size_t i = 0; i < nkeys; i++)
        snprintf(d + 8 * i, 9, "%c%06zu\n", tag, (size_t)((uint64_t)i * 7919 % nkeys));
    mmk_input in = mmk_input_bytes(d, n);
    mmk_scan_options o = {0};
    o.threads = 4;
    o.chunk_size = 64 << 10;
    mmk__merge_check = 1;
    unsigned merged = 0;
    for (int attempt = 0; attempt < 6; attempt++) {
        mmk_wordtab *t = NULL;
        mmk__merge_tables = mmk__merge_keys = mmk__merge_steps = 0;
        CHECK_OK(job(ctx, &in, &o, &t));
        CHECK_EQ(mmk_wordtab_size(t), nkeys);
        mmk_wordtab_free(t);
        if (mmk__merge_tables < 2)
            continue;
        merged++;
        CHECK(mmk__merge_keys > nkeys / 8);
        CHECK(mmk__merge_steps < 16 * mmk__merge_keys);
    }
    CHECK(merged > 0);
    mmk__merge_check = 0;
    free(d);
}

#endif
