/*
 * follow.c — `mmk grep --follow`: a file read as it grows, across truncation
 * and rotation, in bounded memory (see follow.h for the contract).
 *
 * One loop: read the current descriptor to its end, handing out whole lines;
 * then look at what happened to the file (shorter than what was read:
 * truncated; the name now leads to another file: rotated) and otherwise wait
 * for a change (inotify, or a 100 ms poll) or a signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/inotify.h>
#endif

#include "cli.h"
#include "follow.h"

#define READ_CHUNK ((size_t)1 << 20)
#define POLL_MS 100
#define SAFETY_POLL_MS 1000

typedef int (*follow_fn)(const char *, size_t, uint64_t, uint64_t, void *);

typedef struct follower {
    const char *path;
    follow_fn fn;
    void *user;
    int fd; /* the file being read, or -1 while its name is missing */
    dev_t dev;
    ino_t ino;
    uint64_t pos;     /* file offset of the next read */
    uint64_t buf_off; /* file offset of buf[0] */
    uint64_t line_no; /* number of the line buf[0] is in */
    char *buf;        /* bytes read and not handed out yet (an unfinished line) */
    size_t len, cap;
    int ino_fd; /* inotify, or -1 */
    int wd_file, wd_dir;
    char *dir;
    int stopped; /* fn returned non-zero: its value is in stop_value */
    int stop_value;
} follower;

/* Signals end the follow: the handler notes which one and wakes the wait. */
static volatile sig_atomic_t stop_signal;
static int wake_pipe[2] = {-1, -1};
static int matched;

void follow_note_match(void) {
    matched = 1;
}

static void on_stop_signal(int sig) {
    int saved = errno;
    stop_signal = sig;
    if (wake_pipe[1] >= 0) {
        ssize_t w = write(wake_pipe[1], "", 1);
        (void)w;
    }
    errno = saved;
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
        if (stop_signal)
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
        ssize_t n = read(f->fd, f->buf + f->len, room < READ_CHUNK ? room : READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        size_t old = f->len;
        f->len += (size_t)n;
        f->pos += (uint64_t)n;
        const char *nl = memrchr(f->buf + old, '\n', (size_t)n);
        int rc = 0;
        if (nl)
            rc = hand_out(f, (size_t)(nl - f->buf) + 1);
        else if (f->len >= FOLLOW_LINE_CAP)
            rc = hand_out(f, FOLLOW_LINE_CAP); /* a piece of a very long line */
        if (rc != 0)
            return rc;
    }
}

/* (Re)point the inotify watch at the file now under the name. */
static void watch_file(follower *f) {
#ifdef __linux__
    if (f->ino_fd < 0)
        return;
    if (f->wd_file >= 0)
        inotify_rm_watch(f->ino_fd, f->wd_file);
    f->wd_file = inotify_add_watch(f->ino_fd, f->path,
                                   IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
#else
    (void)f;
#endif
}

/* Open the file under the name: 1 opened, 0 missing, or a negative errno. */
static int open_current(follower *f) {
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        int err = S_ISDIR(st.st_mode) ? EISDIR : errno;
        close(fd);
        return -err;
    }
    f->fd = fd;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    restart(f);
    watch_file(f);
    return 1;
}

static void close_current(follower *f) {
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* Wait for a change to the file or its directory, a signal, or the poll
   interval. Standard output is written out first. */
static void wait_change(follower *f) {
    out_flush();
    struct pollfd p[2];
    int n = 0;
    p[n++] = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
    if (f->ino_fd >= 0)
        p[n++] = (struct pollfd){.fd = f->ino_fd, .events = POLLIN};
    if (stop_signal)
        return;
    int r = poll(p, (nfds_t)n, f->ino_fd >= 0 ? SAFETY_POLL_MS : POLL_MS);
    if (r > 0 && n > 1 && (p[1].revents & POLLIN)) {
        char ev[4096]; /* the events only wake us: the state is looked at again */
        while (read(f->ino_fd, ev, sizeof ev) > 0) {
        }
    }
}

static void watch_setup(follower *f) {
    f->ino_fd = f->wd_file = f->wd_dir = -1;
#ifdef __linux__
    const char *slash = strrchr(f->path, '/');
    f->dir =
        slash ? strndup(f->path, slash == f->path ? 1 : (size_t)(slash - f->path)) : strdup(".");
    f->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (f->ino_fd >= 0 && f->dir)
        f->wd_dir = inotify_add_watch(f->ino_fd, f->dir,
                                      IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
    if (f->ino_fd >= 0 && f->wd_dir < 0) {
        /* without the directory a re-created file goes unseen: poll instead */
        close(f->ino_fd);
        f->ino_fd = -1;
    }
#endif
}

int follow_run(const char *path, follow_fn fn, void *user) {
    follower f = {0};
    f.path = path;
    f.fn = fn;
    f.user = user;
    f.fd = -1;
    restart(&f);
    stop_signal = 0;
    matched = 0;
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        report(&f, -errno);
        return EXIT_TROUBLE;
    }
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    watch_setup(&f);

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
        if (rc == 0 && stop_signal)
            rc = hand_out_rest(&f);
        if (rc > 0 || stop_signal) {
            status = f.stopped ? f.stop_value : matched ? EXIT_MATCH : EXIT_NOMATCH;
            break;
        }
        struct stat st, cur;
        if (f.fd >= 0 && fstat(f.fd, &st) == 0 && S_ISREG(st.st_mode) &&
            (uint64_t)st.st_size < f.pos) {
            if (hand_out_rest(&f)) {
                status = f.stop_value;
                break;
            }
            cli_errorf("%s: file truncated", path);
            if (lseek(f.fd, 0, SEEK_SET) < 0) {
                report(&f, -errno);
                status = EXIT_TROUBLE;
                break;
            }
            restart(&f);
            continue;
        }
        int named = stat(path, &cur) == 0;
        if (named && (f.fd < 0 || cur.st_dev != f.dev || cur.st_ino != f.ino)) {
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
#ifdef __linux__
    if (f.ino_fd >= 0)
        close(f.ino_fd);
#endif
    free(f.dir);
    free(f.buf);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    wake_pipe[0] = wake_pipe[1] = -1;
    return status;
}
