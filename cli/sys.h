/*
 * sys.h — everything the `mmk` tool asks of the operating system, behind one
 * small interface: files and directories, standard streams and terminals, the
 * clock, threads, signals (Ctrl-C) and the wait of `grep --follow`.
 *
 * cli/sys_unix.c implements it with POSIX (plus inotify on Linux), and
 * cli/sys_win.c with Win32; CMake compiles one of them. The other files in
 * cli/ hold no platform code: no platform #ifdef outside sys_*.c and this
 * header (which only picks the size of the thread types).
 *
 * Conventions: functions return 0 (or a count) on success and a negative
 * errno value on failure, as the library does, so mmk_strerror() explains it.
 * Paths are UTF-8 on every platform (sys_win.c converts to UTF-16 for the
 * wide Win32 calls). Descriptors are the C runtime's int descriptors, the
 * kind mmk_input_fd() and mmk_open_fd() take.
 */
#ifndef MMK_CLI_SYS_H
#define MMK_CLI_SYS_H

#include <stddef.h>
#include <stdint.h>

/* The standard streams' descriptors (0, 1, 2 on every platform). */
enum { SYS_STDIN = 0, SYS_STDOUT = 1, SYS_STDERR = 2 };

/* ---- process start ----------------------------------------------------------- */

/* Called first in main: makes a broken pipe show up as -EPIPE from
   sys_write (not a signal), puts the standard streams in binary mode where a
   platform translates newlines, and on Windows replaces *argv with the
   command line in UTF-8 (the strings live until the process ends). */
void sys_init(int *argc, char ***argv);

/* End the process now with `status`, without running atexit handlers or
   flushing stdio (async-signal-safe; output.c flushes its own buffer first). */
void sys_exit_now(int status) __attribute__((noreturn));

/* ---- files -------------------------------------------------------------------- */

enum sys_file_kind { SYS_REGULAR, SYS_DIRECTORY, SYS_SYMLINK, SYS_OTHER };

/* What the walk and the commands need to know about a file. `dev` and `ino`
   identify it (loop detection, rotation: the volume serial and file index on
   Windows). */
typedef struct sys_stat {
    int kind; /* enum sys_file_kind */
    uint64_t size;
    uint64_t dev, ino;
} sys_stat;

/* Open `path` read-only (close-on-exec, binary). `nonblock` asks for
   non-blocking reads where the platform has them (a fifo being followed).
   Returns the descriptor or a negative errno. */
int sys_open_read(const char *path, int nonblock);
void sys_close(int fd);
/* read(2), restarted after a signal: bytes read, 0 at the end, or -errno
   (-EAGAIN when a non-blocking descriptor has nothing yet). */
long long sys_read(int fd, void *buf, size_t n);
/* pread(2) at `offset`: bytes read or -errno. */
long long sys_pread(int fd, void *buf, size_t n, uint64_t offset);
/* The descriptor's current offset, or -errno (a pipe: -ESPIPE). */
long long sys_tell(int fd);
/* Move the descriptor's offset back to 0. */
int sys_rewind(int fd);
/* write(2), restarted after a signal: bytes written or -errno (-EPIPE when
   the reader went away). */
long long sys_write(int fd, const void *buf, size_t n);
int sys_fstat(int fd, sys_stat *st);
/* stat(2): follows symbolic links. */
int sys_path_stat(const char *path, sys_stat *st);

/* ---- directories -------------------------------------------------------------- */

typedef struct sys_dir sys_dir;

/* Entry types as the directory listing tells them (SYS_DT_UNKNOWN: ask
   sys_dir_stat). */
enum sys_dirent_type { SYS_DT_UNKNOWN, SYS_DT_REG, SYS_DT_DIR, SYS_DT_LNK, SYS_DT_OTHER };

/* Open the directory `path` for listing and describe it in *st (its dev/ino
   for loop detection). With `nofollow`, a symbolic link is refused with
   -ELOOP (and a file with -ENOTDIR). Returns 0 with *out set, or -errno. */
int sys_dir_open(sys_dir **out, const char *path, int nofollow, sys_stat *st);
/* The next entry ("." and ".." included, in the system's order): 1 with
 *name (valid until the next call) and *type set, 0 at the end, or -errno. */
int sys_dir_next(sys_dir *d, const char **name, int *type);
/* Describe the entry `name` of the directory, following a symbolic link when
   `follow`. Returns 0 or -errno. */
int sys_dir_stat(sys_dir *d, const char *name, int follow, sys_stat *st);
void sys_dir_close(sys_dir *d);

/* fnmatch(3) with no flags, as GNU grep applies --include/--exclude globs:
   '*' and '?' also match '/' and a leading '.'; [...] sets with ranges, '!'
   or '^' negation and [:class:]; '\' quotes. Returns 1 on a match. */
int sys_glob_match(const char *glob, const char *name);

/* ---- terminals, clock, processors --------------------------------------------- */

/* 1 when `fd` is a terminal (a console on Windows). */
int sys_isatty(int fd);
/* The terminal's width in columns, or 0 when unknown. */
int sys_term_columns(int fd);
/* Seconds on a monotonic clock. */
double sys_now(void);
/* Processors available to the process (at least 1). */
unsigned sys_cpu_count(void);

/* ---- interruption (SIGINT/SIGTERM, Ctrl-C) ------------------------------------- */

/* Call `fn` (async-signal-safe code only) when the user interrupts the
   process (SIGINT, SIGTERM; Ctrl-C, Ctrl-Break, console close on Windows),
   after which the process dies of the interruption as if nothing had caught
   it (shells see the usual status). NULL removes it. */
void sys_on_interrupt_then_die(void (*fn)(void));

/* ---- grep --follow: waiting for a file to change ------------------------------- */

typedef struct sys_watch sys_watch;

/* Start watching `path` (and its directory, so a re-created file is seen).
   While a watch exists, an interruption does not end the process: it is
   noted (sys_watch_interrupted) and wakes sys_watch_wait. Returns NULL when
   out of memory. Watching falls back to polling where the platform has no
   change notification. */
sys_watch *sys_watch_new(const char *path);
/* The file under the name changed (reopened): watch the new one. */
void sys_watch_file_changed(sys_watch *w);
/* Wait for a change, an interruption, or a short poll interval. */
void sys_watch_wait(sys_watch *w);
/* 1 once the user interrupted the process while watching. */
int sys_watch_interrupted(void);
/* Stop watching; the interruption behaviour from before sys_watch_new is
   restored. NULL allowed. */
void sys_watch_free(sys_watch *w);

/* ---- threads ------------------------------------------------------------------- */

/* Storage for a mutex, a condition variable and a thread handle, sized for
   the platform (a pthread type, or an SRWLOCK / CONDITION_VARIABLE /
   HANDLE). Opaque: use the functions. */
#ifdef _WIN32
typedef struct sys_mutex {
    void *p;
} sys_mutex;
typedef struct sys_cond {
    void *p;
} sys_cond;
typedef struct sys_thread {
    void *handle;
    void *(*fn)(void *);
    void *arg;
} sys_thread;
#else
#include <pthread.h>
typedef pthread_mutex_t sys_mutex;
typedef pthread_cond_t sys_cond;
typedef pthread_t sys_thread;
#endif

void sys_mutex_init(sys_mutex *m);
void sys_mutex_destroy(sys_mutex *m);
void sys_mutex_lock(sys_mutex *m);
void sys_mutex_unlock(sys_mutex *m);
void sys_cond_init(sys_cond *c);
void sys_cond_destroy(sys_cond *c);
void sys_cond_wait(sys_cond *c, sys_mutex *m);
void sys_cond_signal(sys_cond *c);
void sys_cond_broadcast(sys_cond *c);
/* Start fn(arg) on a new thread: 0 or a negative errno. On Windows the
   sys_thread must stay where it is until joined. */
int sys_thread_start(sys_thread *t, void *(*fn)(void *), void *arg);
void sys_thread_join(sys_thread *t);

/* A thread-local slot: each thread sees its own value (NULL at first); when
   a thread that set a value ends, `destroy` gets it. The slot is made at the
   first call of sys_tls_get or sys_tls_set, thread-safely. */
typedef struct sys_tls {
    void (*destroy)(void *);
    int state; /* 0 not made, 1 being made, 2 made, 3 failed */
    unsigned long key;
} sys_tls;
#define SYS_TLS_INIT(destroy) {(destroy), 0, 0}
void *sys_tls_get(sys_tls *t);
/* 0, or a negative errno when there is no slot (the caller does without). */
int sys_tls_set(sys_tls *t, void *value);

#endif /* MMK_CLI_SYS_H */
