/*
 * sys_unix.c — the `mmk` tool's system interface (cli/sys.h) on POSIX
 * systems. Linux adds inotify for `grep --follow`; elsewhere, and in the
 * POSIX-only build (MMK_POSIX_ONLY), the follow polls.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && !(defined(MMK_POSIX_ONLY) && MMK_POSIX_ONLY)
#define SYS_INOTIFY 1
#include <sys/inotify.h>
#endif

#include "sys.h"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_DIRECTORY
#define O_DIRECTORY 0
#endif
#ifndef O_NOFOLLOW
#define O_NOFOLLOW 0
#endif

/* ---- process start ----------------------------------------------------------- */

void sys_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    /* A reader that goes away shows up as EPIPE from write(), which ends mmk
       quietly (see output.c) instead of killing it with a signal mid-line. */
    signal(SIGPIPE, SIG_IGN);
}

void sys_exit_now(int status) {
    _exit(status);
}

/* ---- files -------------------------------------------------------------------- */

static void fill_stat(sys_stat *out, const struct stat *st) {
    out->kind = S_ISREG(st->st_mode)   ? SYS_REGULAR
                : S_ISDIR(st->st_mode) ? SYS_DIRECTORY
                : S_ISLNK(st->st_mode) ? SYS_SYMLINK
                                       : SYS_OTHER;
    out->size = st->st_size > 0 ? (uint64_t)st->st_size : 0;
    out->dev = (uint64_t)st->st_dev;
    out->ino = (uint64_t)st->st_ino;
}

int sys_open_read(const char *path, int nonblock) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
    return fd < 0 ? -errno : fd;
}

void sys_close(int fd) {
    if (fd >= 0) {
        close(fd);
    }
}

long long sys_read(int fd, void *buf, size_t n) {
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0) {
            return r;
        }
        if (errno != EINTR) {
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
    }
}

long long sys_pread(int fd, void *buf, size_t n, uint64_t offset) {
    for (;;) {
        ssize_t r = pread(fd, buf, n, (off_t)offset);
        if (r >= 0) {
            return r;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
}

long long sys_tell(int fd) {
    off_t pos = lseek(fd, 0, SEEK_CUR);
    return pos < 0 ? -errno : (long long)pos;
}

int sys_rewind(int fd) {
    return lseek(fd, 0, SEEK_SET) < 0 ? -errno : 0;
}

long long sys_write(int fd, const void *buf, size_t n) {
    for (;;) {
        ssize_t w = write(fd, buf, n);
        if (w >= 0) {
            return w;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
}

int sys_fstat(int fd, sys_stat *out) {
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    fill_stat(out, &st);
    return 0;
}

int sys_path_stat(const char *path, sys_stat *out) {
    struct stat st;
    if (stat(path, &st) < 0) {
        return -errno;
    }
    fill_stat(out, &st);
    return 0;
}

/* ---- directories -------------------------------------------------------------- */

struct sys_dir {
    DIR *d;
};

int sys_dir_open(sys_dir **out, const char *path, int nofollow, sys_stat *st) {
    *out = NULL;
    int fd =
        open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY | (nofollow ? O_NOFOLLOW : 0));
    if (fd < 0) {
        return -errno;
    }
    int rc = sys_fstat(fd, st);
    sys_dir *d = rc == 0 ? malloc(sizeof *d) : NULL;
    if (rc == 0 && !d) {
        rc = -ENOMEM;
    }
    if (rc == 0) {
        d->d = fdopendir(fd);
        if (!d->d) {
            rc = -errno;
            free(d);
        }
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *out = d;
    return 0;
}

int sys_dir_next(sys_dir *d, const char **name, int *type) {
    errno = 0;
    struct dirent *de = readdir(d->d);
    if (!de) {
        return errno ? -errno : 0;
    }
    *name = de->d_name;
#ifdef DT_UNKNOWN /* d_type is not POSIX; where it is missing, every entry is looked at */
    switch (de->d_type) {
    case DT_REG:
        *type = SYS_DT_REG;
        break;
    case DT_DIR:
        *type = SYS_DT_DIR;
        break;
    case DT_LNK:
        *type = SYS_DT_LNK;
        break;
    case DT_UNKNOWN:
        *type = SYS_DT_UNKNOWN;
        break;
    default:
        *type = SYS_DT_OTHER;
    }
#else
    *type = SYS_DT_UNKNOWN;
#endif
    return 1;
}

int sys_dir_stat(sys_dir *d, const char *name, int follow, sys_stat *out) {
    struct stat st;
    if (fstatat(dirfd(d->d), name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0) {
        return -errno;
    }
    fill_stat(out, &st);
    return 0;
}

void sys_dir_close(sys_dir *d) {
    if (d) {
        closedir(d->d);
        free(d);
    }
}

int sys_glob_match(const char *glob, const char *name) {
    return fnmatch(glob, name, 0) == 0;
}

/* ---- terminals, clock, processors --------------------------------------------- */

int sys_isatty(int fd) {
    return isatty(fd);
}

int sys_term_columns(int fd) {
    struct winsize ws;
    return ioctl(fd, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

double sys_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

unsigned sys_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (unsigned)n;
}

/* ---- interruption --------------------------------------------------------------- */

static void (*interrupt_fn)(void);

/* Run the hook and die of the signal as if mmk had not caught it, so the
   shell sees the usual status. Only async-signal-safe calls here. */
static void on_fatal_signal(int sig) {
    if (interrupt_fn) {
        interrupt_fn();
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

void sys_on_interrupt_then_die(void (*fn)(void)) {
    interrupt_fn = fn;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn ? on_fatal_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- grep --follow ---------------------------------------------------------------- */

#define POLL_MS 100
#define SAFETY_POLL_MS 1000

struct sys_watch {
    const char *path;
    struct sigaction old_int, old_term;
    int ino_fd; /* inotify, or -1 */
    int wd_file, wd_dir;
};

/* Signals end the follow: the handler notes which one and wakes the wait
   through a pipe. */
static volatile sig_atomic_t stop_signal;
static int wake_pipe[2] = {-1, -1};

static void on_stop_signal(int sig) {
    int saved = errno;
    stop_signal = sig;
    if (wake_pipe[1] >= 0) {
        ssize_t w = write(wake_pipe[1], "", 1);
        (void)w;
    }
    errno = saved;
}

int sys_watch_interrupted(void) {
    return stop_signal != 0;
}

static int open_wake_pipe(void) {
    if (pipe(wake_pipe) != 0) {
        return -errno;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
        fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
    }
    return 0;
}

sys_watch *sys_watch_new(const char *path) {
    sys_watch *w = calloc(1, sizeof *w);
    if (!w) {
        return NULL;
    }
    w->path = path;
    w->ino_fd = w->wd_file = w->wd_dir = -1;
    stop_signal = 0;
    if (open_wake_pipe() != 0) {
        wake_pipe[0] = wake_pipe[1] = -1; /* signals still end the wait's poll */
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &w->old_int);
    sigaction(SIGTERM, &sa, &w->old_term);
#ifdef SYS_INOTIFY
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    w->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->ino_fd >= 0 && dir) {
        w->wd_dir =
            inotify_add_watch(w->ino_fd, dir, IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
    }
    if (w->ino_fd >= 0 && w->wd_dir < 0) {
        /* without the directory a re-created file goes unseen: poll instead */
        close(w->ino_fd);
        w->ino_fd = -1;
    }
    free(dir);
#endif
    return w;
}

void sys_watch_file_changed(sys_watch *w) {
#ifdef SYS_INOTIFY
    if (w->ino_fd < 0) {
        return;
    }
    if (w->wd_file >= 0) {
        inotify_rm_watch(w->ino_fd, w->wd_file);
    }
    w->wd_file = inotify_add_watch(w->ino_fd, w->path,
                                   IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
#else
    (void)w;
#endif
}

void sys_watch_wait(sys_watch *w) {
    struct pollfd p[2];
    int n = 0;
    if (wake_pipe[0] >= 0) {
        p[n++] = (struct pollfd){.fd = wake_pipe[0], .events = POLLIN};
    }
    int ino = n;
    if (w->ino_fd >= 0) {
        p[n++] = (struct pollfd){.fd = w->ino_fd, .events = POLLIN};
    }
    if (stop_signal) {
        return;
    }
    int r = poll(p, (nfds_t)n, w->ino_fd >= 0 ? SAFETY_POLL_MS : POLL_MS);
    if (r > 0 && w->ino_fd >= 0 && (p[ino].revents & POLLIN)) {
        char ev[4096]; /* the events only wake us: the state is looked at again */
        while (read(w->ino_fd, ev, sizeof ev) > 0) {
        }
    }
}

void sys_watch_free(sys_watch *w) {
    if (!w) {
        return;
    }
    if (w->ino_fd >= 0) {
        close(w->ino_fd);
    }
    sigaction(SIGINT, &w->old_int, NULL);
    sigaction(SIGTERM, &w->old_term, NULL);
    for (int i = 0; i < 2; i++) {
        if (wake_pipe[i] >= 0) {
            close(wake_pipe[i]);
        }
        wake_pipe[i] = -1;
    }
    free(w);
}

/* ---- threads ------------------------------------------------------------------- */

void sys_mutex_init(sys_mutex *m) {
    pthread_mutex_init(m, NULL);
}

void sys_mutex_destroy(sys_mutex *m) {
    pthread_mutex_destroy(m);
}

void sys_mutex_lock(sys_mutex *m) {
    pthread_mutex_lock(m);
}

void sys_mutex_unlock(sys_mutex *m) {
    pthread_mutex_unlock(m);
}

void sys_cond_init(sys_cond *c) {
    pthread_cond_init(c, NULL);
}

void sys_cond_destroy(sys_cond *c) {
    pthread_cond_destroy(c);
}

void sys_cond_wait(sys_cond *c, sys_mutex *m) {
    pthread_cond_wait(c, m);
}

void sys_cond_signal(sys_cond *c) {
    pthread_cond_signal(c);
}

void sys_cond_broadcast(sys_cond *c) {
    pthread_cond_broadcast(c);
}

int sys_thread_start(sys_thread *t, void *(*fn)(void *), void *arg) {
    return -pthread_create(t, NULL, fn, arg);
}

void sys_thread_join(sys_thread *t) {
    pthread_join(*t, NULL);
}

/* ---- thread-local slots ------------------------------------------------ */

static int tls_make(sys_tls *t) {
    pthread_key_t k;
    if (pthread_key_create(&k, t->destroy) != 0) {
        return -1;
    }
    t->key = (unsigned long)k;
    return 0;
}

static void tls_yield(void) {
    sched_yield();
}

static void *tls_read(sys_tls *t) {
    return pthread_getspecific((pthread_key_t)t->key);
}

static int tls_write(sys_tls *t, void *value) {
    int rc = pthread_setspecific((pthread_key_t)t->key, value);
    return rc == 0 ? 0 : -rc;
}

#include "sys_tls.h"
