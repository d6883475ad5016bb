/*
 * follow.c — `mmk grep --follow`: a file read as it grows, across truncation
 * and rotation, in bounded memory (see follow.h for the contract).
 *
 * One loop: read the current descriptor to its end, handing out whole lines;
 * then look at what happened to the file (shorter than what was read:
 * truncated; the name now leads to another file: rotated) and otherwise wait
 * for a change (sys_watch_wait: inotify on Linux, else a 100 ms poll) or an
 * interruption.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "follow.h"
#include "sys.h"

#define READ_CHUNK ((size_t)1 << 20)

typedef int (*follow_fn)(const char *, size_t, uint64_t, uint64_t, void *);

typedef struct follower {
    const char *path;
    follow_fn fn;
    void *user;
    int fd; /* the file being read, or -1 while its name is missing */
    uint64_t dev, ino;
    uint64_t pos;     /* file offset of the next read */
    uint64_t buf_off; /* file offset of buf[0] */
    uint64_t line_no; /* number of the line buf[0] is in */
    char *buf;        /* bytes read and not handed out yet (an unfinished line) */
    size_t len, cap;
    sys_watch *watch; /* waits for changes; notes an interruption */
    int stopped;      /* fn returned non-zero: its value is in stop_value */
    int stop_value;
} follower;

static int matched;

void follow_note_match(void) {
    matched = 1;
}

/* The last '\n' in [p, p + n), or NULL (memrchr is not everywhere). */
static const char *last_newline(const char *p, size_t n) {
    while (n > 0) {
        if (p[--n] == '\n') {
            return p + n;
        }
    }
    return NULL;
}

/* err: a negative errno. */
static void report(const follower *f, int err) {
    cli_error(f->path, mmk_strerror(err));
}

/* Hand buf[0, n) to fn and drop it from the buffer. Returns 1 when fn asked
   to stop (its value kept in stop_value), else 0. */
static int hand_out(follower *f, size_t n) {
    if (n == 0)
        return 0;
    int rc = f->fn(f->buf, n, f->buf_off, f->line_no, f->user);
    if (rc != 0) {
        f->stopped = 1;
        f->stop_value = rc;
    }
    for (const char *p = f->buf, *e = f->buf + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
        f->line_no++;
    memmove(f->buf, f->buf + n, f->len - n);
    f->len -= n;
    f->buf_off += n;
    return f->stopped;
}

/* The file being read is left for good: its unterminated last line goes out as is. */
static int hand_out_rest(follower *f) {
    return hand_out(f, f->len);
}

/* Start over at the beginning of the current (or a new) file. */
static void restart(follower *f) {
    f->pos = 0;
    f->buf_off = 0;
    f->line_no = 1;
    f->len = 0;
}

/*
 * Read the descriptor to its end, handing out whole lines. Returns 0 at the
 * end (or on a signal), 1 when fn asked to stop, or a negative errno.
 */
static int drain(follower *f) {
    if (f->fd < 0)
        return 0;
    for (;;) {
        if (sys_watch_interrupted())
            return 0;
        if (f->cap - f->len < READ_CHUNK && f->cap < FOLLOW_LINE_CAP + READ_CHUNK) {
            size_t cap = f->cap ? f->cap : READ_CHUNK;
            while (cap - f->len < READ_CHUNK && cap < FOLLOW_LINE_CAP + READ_CHUNK)
                cap *= 2;
            char *nb = realloc(f->buf, cap);
            if (nb == NULL)
                return -ENOMEM;
            f->buf = nb;
            f->cap = cap;
        }
        size_t room = f->cap - f->len;
        long long n = sys_read(f->fd, f->buf + f->len, room < READ_CHUNK ? room : READ_CHUNK);
        if (n == -EAGAIN)
            return 0;
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0;
        size_t old = f->len;
        f->len += (size_t)n;
        f->pos += (uint64_t)n;
        const char *nl = last_newline(f->buf + old, (size_t)n);
        int rc = 0;
        if (nl)
            rc = hand_out(f, (size_t)(nl - f->buf) + 1);
        else if (f->len >= FOLLOW_LINE_CAP)
            rc = hand_out(f, FOLLOW_LINE_CAP); /* a piece of a very long line */
        if (rc != 0)
            return rc;
    }
}

/* Open the file under the name: 1 opened, 0 missing, or a negative errno. */
static int open_current(follower *f) {
    int fd = sys_open_read(f->path, 1);
    if (fd < 0)
        return fd == -ENOENT || fd == -ENOTDIR ? 0 : fd;
    sys_stat st;
    int rc = sys_fstat(fd, &st);
    if (rc != 0 || st.kind == SYS_DIRECTORY) {
        sys_close(fd);
        return rc != 0 ? rc : -EISDIR;
    }
    f->fd = fd;
    f->dev = st.dev;
    f->ino = st.ino;
    restart(f);
    sys_watch_file_changed(f->watch);
    return 1;
}

static void close_current(follower *f) {
    if (f->fd >= 0)
        sys_close(f->fd);
    f->fd = -1;
}

/* Wait for a change to the file or its directory, an interruption, or the
   poll interval. Standard output is written out first. */
static void wait_change(follower *f) {
    out_flush();
    sys_watch_wait(f->watch);
}

int follow_run(const char *path, follow_fn fn, void *user) {
    follower f = {0};
    f.path = path;
    f.fn = fn;
    f.user = user;
    f.fd = -1;
    restart(&f);
    matched = 0;
    f.watch = sys_watch_new(path);
    if (!f.watch) {
        report(&f, -ENOMEM);
        return EXIT_TROUBLE;
    }

    int status = -1, rc = open_current(&f);
    if (rc == 0)
        cli_errorf("%s: %s; waiting for it to appear", path, mmk_strerror(-ENOENT));
    else if (rc < 0) {
        report(&f, rc);
        status = EXIT_TROUBLE;
    }
    while (status < 0) {
        rc = drain(&f);
        if (rc < 0) {
            report(&f, rc);
            status = EXIT_TROUBLE;
            break;
        }
        if (rc == 0 && sys_watch_interrupted())
            rc = hand_out_rest(&f);
        if (rc > 0 || sys_watch_interrupted()) {
            status = f.stopped ? f.stop_value : matched ? EXIT_MATCH : EXIT_NOMATCH;
            break;
        }
        sys_stat st, cur;
        if (f.fd >= 0 && sys_fstat(f.fd, &st) == 0 && st.kind == SYS_REGULAR && st.size < f.pos) {
            if (hand_out_rest(&f)) {
                status = f.stop_value;
                break;
            }
            cli_errorf("%s: file truncated", path);
            if ((rc = sys_rewind(f.fd)) < 0) {
                report(&f, rc);
                status = EXIT_TROUBLE;
                break;
            }
            restart(&f);
            continue;
        }
        int named = sys_path_stat(path, &cur) == 0;
        if (named && (f.fd < 0 || cur.dev != f.dev || cur.ino != f.ino)) {
            /* another file has the name: finish the old one, then switch */
            int had = f.fd >= 0;
            rc = drain(&f);
            if (rc == 0)
                rc = hand_out_rest(&f);
            if (rc != 0) {
                if (rc < 0)
                    report(&f, rc);
                status = rc < 0 ? EXIT_TROUBLE : f.stop_value;
                break;
            }
            close_current(&f);
            rc = open_current(&f);
            if (rc < 0) {
                report(&f, rc);
                status = EXIT_TROUBLE;
                break;
            }
            if (rc > 0)
                cli_errorf(had ? "%s has been replaced; following new file"
                               : "%s has appeared; following new file",
                           path);
            continue;
        }
        wait_change(&f);
    }

    out_flush();
    close_current(&f);
    free(f.buf);
    sys_watch_free(f.watch);
    return status;
}
