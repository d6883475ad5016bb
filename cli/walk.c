/*
 * walk.c — the walk over operands and directory trees, and the concurrent,
 * ordered search of the files it finds (see walk.h for what is walked).
 *
 * Threads. The calling thread walks and queues files into a ring of
 * WALK_WINDOW items, WALK_BATCH at a time; `threads` workers take them in walk
 * order, runs of up to WALK_TAKE (fewer when few are queued), and run the
 * search with their output captured (capture.h). Output leaves in walk order
 * through one token, `emitting`: whoever holds it writes the captures of the
 * finished items at the head of the ring and moves the head on; the thread
 * that finishes the head item takes the token if nobody holds it, and the
 * holder looks at the head again before it lets go, so a finished head never
 * waits for a thread that is not coming. A worker whose capture outgrows
 * WALK_CAPTURE_LIMIT waits until its item is the head and the token is free,
 * takes the token, writes what it holds and then writes straight to the real
 * outputs until its file is done. Big files run on the calling thread when
 * everything before them has been written, with no capture at all. When the
 * window is full, the calling thread searches the next queued file itself
 * (as a worker, captured) rather than sleep until there is room.
 *
 * Memory: at most WALK_WINDOW items are queued or unwritten; workers start no
 * new item while finished, unwritten captures hold more than
 * WALK_PENDING_BUDGET bytes; a running capture holds at most about
 * WALK_CAPTURE_LIMIT bytes. The walk holds the sorted entries of each
 * directory on the current path.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "cli.h"
#include "sys.h"
#include "walk.h"

#define WALK_MAX_THREADS 256u
#define WALK_BATCH 64 /* files queued, or captures written, under one lock */
#define WALK_TAKE 8   /* files a worker takes at once, at most */

enum { ITEM_QUEUED, ITEM_RUNNING, ITEM_DONE };

typedef struct walker walker;

/* A file queued for a worker, or a message of the walk's own, in walk order. */
typedef struct walk_item {
    walker *w;
    uint64_t seq;     /* position in walk order */
    char *path;       /* owned; also the name shown */
    out_capture *cap; /* owned; NULL for a message suppressed by -s */
    int state;
    int status;      /* EXIT_* of the file; a message: EXIT_TROUBLE or EXIT_NOMATCH (a warning) */
    int direct;      /* its worker writes straight to the real outputs */
    int skipped;     /* not searched: stop was set first */
    int pipe_status; /* the status to exit with if the reader goes away while it is written */
} walk_item;

struct walker {
    const walk_options *wo;
    walk_fn fn;
    void *user;
    volatile int *stop;
    int stopped; /* stop seen by the walking thread: walk no further */

    /* Status of the files searched so far; under `mu` once workers run. */
    int any_error, any_match;
    /* Status of what has been written so far (the status to exit with if the
       reader of standard output goes away). */
    int out_error, out_match;

    /* The pool. parallel: several files may be searched at once; pool: the
       workers have been started (from then on all output goes through the
       ring). */
    int parallel, pool;
    unsigned nthreads, started;
    sys_thread *threads;
    sys_mutex mu;
    sys_cond work;      /* workers: an item was queued, or the end */
    sys_cond state;     /* an item finished, the head moved, the token was released */
    sys_cond room;      /* the walking thread: room_need items fit in the window */
    unsigned room_need; /* 0, or the room the walking thread waits for */
    walk_item ring[WALK_WINDOW];
    uint64_t head, next, tail; /* written < head <= next (started) <= tail (queued) */
    int emitting;              /* the output token is held */
    int finished;              /* the walk queues nothing more */
    size_t pending_bytes;      /* held by finished, unwritten captures */

    /* Small files found but not queued yet (queued WALK_BATCH at a time). */
    char *batch[WALK_BATCH];
    int nbatch;

    /* The path of the entry being looked at (what is shown; opened as is,
       "." when empty). */
    char *path;
    size_t path_len, path_cap;

    /* Directories on the current path, for loop detection. */
    struct dir_id {
        uint64_t dev;
        uint64_t ino;
    } * dirs;
    size_t ndirs, dirs_cap;
};

/* ---- small helpers --------------------------------------------------------- */

static void walk_oom(void) {
    static const char msg[] = "mmk: out of memory while walking directories\n";
    if (sys_write(SYS_STDERR, msg, sizeof msg - 1) < 0) {
        /* Nowhere left to report to. */
    }
    sys_exit_now(EXIT_TROUBLE);
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) {
        walk_oom();
    }
    return p;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static int stop_set(walker *w) {
    if (!w->stopped && w->stop && __atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
        w->stopped = 1;
    }
    return w->stopped;
}

static int combine(int any_error, int any_match) {
    return any_error ? EXIT_TROUBLE : any_match ? EXIT_MATCH : EXIT_NOMATCH;
}

static void count_status(int *any_error, int *any_match, int status) {
    if (status == EXIT_TROUBLE) {
        *any_error = 1;
    } else if (status == EXIT_MATCH) {
        *any_match = 1;
    }
}

/* ---- which names are skipped ------------------------------------------------ */

/* GNU grep's matching of a glob against a name: inside a tree the entry's own
   name; on the command line the operand as given, or any part of it that
   follows a '/' (so --exclude=x.c skips dir/x.c given as an operand). No
   fnmatch flags: '*' matches '/' and a leading '.'. */
static int glob_matches(const char *glob, const char *name, int command_line) {
    if (sys_glob_match(glob, name)) {
        return 1;
    }
    if (command_line) {
        for (const char *p = name; *p; p++) {
            if (p[0] == '/' && p[1] != '/' && sys_glob_match(glob, p + 1)) {
                return 1;
            }
        }
    }
    return 0;
}

/* --include / --exclude, as GNU grep combines them: the matching glob given
   last decides; a file that matches none is skipped when the first glob given
   was an --include. Without positions, the --include globs count as given
   first (`--include='*.c' --exclude=foo.c`: the .c files but foo.c). */
static int file_skipped(const walk_options *wo, const char *name, int command_line) {
    if (wo->ninclude <= 0 && wo->nexclude <= 0) {
        return 0;
    }
    long last = -1, first = -1;
    int last_include = 0, first_include = 0;
    for (int i = 0; i < wo->ninclude; i++) {
        long pos = wo->include_pos ? wo->include_pos[i] : i;
        if (first < 0 || pos < first) {
            first = pos;
            first_include = 1;
        }
        if (pos > last && glob_matches(wo->include[i], name, command_line)) {
            last = pos;
            last_include = 1;
        }
    }
    for (int i = 0; i < wo->nexclude; i++) {
        long pos = wo->exclude_pos ? wo->exclude_pos[i] : (long)wo->ninclude + i;
        if (first < 0 || pos < first) {
            first = pos;
            first_include = 0;
        }
        if (pos > last && glob_matches(wo->exclude[i], name, command_line)) {
            last = pos;
            last_include = 0;
        }
    }
    return last >= 0 ? !last_include : first_include;
}

static int dir_skipped(const walk_options *wo, const char *name, int command_line) {
    for (int i = 0; i < wo->nexclude_dir; i++) {
        if (glob_matches(wo->exclude_dir[i], name, command_line)) {
            return 1;
        }
    }
    return 0;
}

/* ---- the pool and the ordered output --------------------------------------- */

/* Write the finished items at the head of the ring, in order, a run of them
   at a time. Called with `mu` held; takes the token unless the caller holds
   it already, and lets it go when the head is not finished. The items of a
   run stay in the ring (the head has not moved) until they are written, and
   only the token's holder touches finished items. */
static void emit_ready(walker *w, int have_token) {
    if (!have_token) {
        if (w->emitting) {
            return; /* the holder looks at the head again before letting go */
        }
        w->emitting = 1;
    }
    while (w->head < w->tail && w->ring[w->head % WALK_WINDOW].state == ITEM_DONE) {
        uint64_t end = w->head;
        size_t bytes = 0;
        while (end < w->tail && end - w->head < WALK_BATCH &&
               w->ring[end % WALK_WINDOW].state == ITEM_DONE) {
            walk_item *it = &w->ring[end % WALK_WINDOW];
            if (!it->skipped) {
                count_status(&w->out_error, &w->out_match, it->status);
            }
            it->pipe_status = combine(w->out_error, w->out_match);
            bytes += it->cap ? out_capture_size(it->cap) : 0;
            end++;
        }
        uint64_t start = w->head;
        sys_mutex_unlock(&w->mu);
        for (uint64_t i = start; i < end; i++) {
            walk_item *it = &w->ring[i % WALK_WINDOW];
            if (it->cap && out_capture_size(it->cap) > 0) {
                out_set_pipe_status(it->pipe_status);
                out_capture_emit(it->cap);
            }
            out_capture_free(it->cap);
            free(it->path);
            it->cap = NULL;
            it->path = NULL;
        }
        sys_mutex_lock(&w->mu);
        int over_budget = w->pending_bytes > WALK_PENDING_BUDGET;
        w->pending_bytes -= bytes;
        w->head = end;
        if (over_budget) {
            sys_cond_broadcast(&w->work); /* budget */
        }
        sys_cond_broadcast(&w->state); /* the head moved */
        if (w->room_need && WALK_WINDOW - (w->tail - w->head) >= w->room_need) {
            /* Woken once for a batch, not once per file written. */
            sys_cond_signal(&w->room);
        }
    }
    w->emitting = 0;
    sys_cond_broadcast(&w->state);
    if (w->room_need && WALK_WINDOW - (w->tail - w->head) >= w->room_need) {
        sys_cond_signal(&w->room);
    }
}

/* The capture of a running item outgrew WALK_CAPTURE_LIMIT (called inside an
   out_* call on its worker): wait until every earlier item is written, then
   write this one's output directly from here on. */
static void item_overflow(out_capture *c, void *user) {
    walk_item *it = user;
    walker *w = it->w;
    sys_mutex_lock(&w->mu);
    while (w->head != it->seq || w->emitting) {
        sys_cond_wait(&w->state, &w->mu);
    }
    w->emitting = 1;
    it->direct = 1;
    /* Output is written: a line was selected (grep's status if the reader
       goes away now). */
    int status = combine(w->out_error, 1);
    sys_mutex_unlock(&w->mu);
    out_set_pipe_status(status);
    out_capture_go_direct(c);
}

/* An item is done (mu held). */
static void item_done(walker *w, walk_item *it, int status) {
    it->status = status;
    it->state = ITEM_DONE;
    if (!it->skipped) {
        count_status(&w->any_error, &w->any_match, status);
    }
    if (it->direct) {
        /* Its output is out already; this thread holds the token. */
        count_status(&w->out_error, &w->out_match, status);
        out_capture_free(it->cap);
        free(it->path);
        it->cap = NULL;
        it->path = NULL;
        w->head++;
        emit_ready(w, 1);
        sys_cond_broadcast(&w->work);
        return;
    }
    w->pending_bytes += it->cap ? out_capture_size(it->cap) : 0;
    if (it->seq == w->head) {
        emit_ready(w, 0);
    }
}

/* Search one started item with its output captured (mu held; released
   during the search). */
static void run_item(walker *w, walk_item *it) {
    if (it->state == ITEM_DONE) {
        return; /* a message of the walk's own, queued finished */
    }
    if (w->stop && __atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
        it->skipped = 1;
        item_done(w, it, EXIT_NOMATCH);
        return;
    }
    sys_mutex_unlock(&w->mu);
    it->cap = out_capture_new(WALK_CAPTURE_LIMIT, item_overflow, it);
    if (!it->cap) {
        walk_oom();
    }
    out_capture_begin(it->cap);
    int status = w->fn(it->path, it->path, 0, w->user);
    out_capture_end();
    sys_mutex_lock(&w->mu);
    item_done(w, it, status);
}

static void *worker_main(void *arg) {
    walker *w = arg;
    sys_mutex_lock(&w->mu);
    for (;;) {
        while ((w->next == w->tail && !w->finished) ||
               (w->next < w->tail && w->pending_bytes > WALK_PENDING_BUDGET)) {
            sys_cond_wait(&w->work, &w->mu);
        }
        if (w->next == w->tail) {
            break; /* finished */
        }
        /* Take a run of items (fewer when few are queued, so that every
           worker gets some): one lock for several small files. */
        uint64_t first = w->next, take = (w->tail - w->next) / (2 * w->nthreads);
        take = take < 1 ? 1 : take > WALK_TAKE ? WALK_TAKE : take;
        w->next += take;
        for (uint64_t i = first; i < w->next; i++) {
            walk_item *it = &w->ring[i % WALK_WINDOW];
            if (it->state == ITEM_QUEUED) {
                it->state = ITEM_RUNNING;
            }
        }
        if (w->next < w->tail) {
            sys_cond_signal(&w->work); /* more for another worker */
        }
        for (uint64_t i = first; i < first + take; i++) {
            run_item(w, &w->ring[i % WALK_WINDOW]);
        }
    }
    sys_mutex_unlock(&w->mu);
    return NULL;
}

/* Start workers, up to `threads` and no more than files have been queued (a
   directory of three files on a 64-core machine starts three). Returns 0 when
   not even the first could be started: the walk then goes on in the calling
   thread. Only the walking thread starts and joins workers. */
static int pool_grow(walker *w, uint64_t queued) {
    if (!w->threads) {
        w->threads = xrealloc(NULL, w->nthreads * sizeof *w->threads);
    }
    while (w->started < w->nthreads && w->started < queued) {
        if (sys_thread_start(&w->threads[w->started], worker_main, w) != 0) {
            break;
        }
        w->started++;
    }
    if (w->started == 0) {
        w->parallel = 0;
        return 0;
    }
    w->pool = 1;
    return 1;
}

/* Wait (mu held) until n more items fit in the window. Meanwhile the walking
   thread searches queued files itself, as a worker does: on a busy machine a
   thread that sleeps here loses its share of the cores, and the files it
   searches are the next in line anyway. */
static void wait_room(walker *w, unsigned n) {
    while (w->tail - w->head + n > WALK_WINDOW) {
        emit_ready(w, 0);
        if (w->tail - w->head + n <= WALK_WINDOW) {
            break;
        }
        if (w->next < w->tail && w->pending_bytes <= WALK_PENDING_BUDGET) {
            walk_item *it = &w->ring[w->next % WALK_WINDOW];
            w->next++;
            if (it->state == ITEM_QUEUED) {
                it->state = ITEM_RUNNING;
            }
            run_item(w, it);
            continue;
        }
        w->room_need = n;
        sys_cond_wait(&w->room, &w->mu);
        w->room_need = 0;
    }
}

/* Queue an item (mu held), waiting for room in the window. */
static walk_item *queue_item(walker *w, char *path) {
    wait_room(w, 1);
    walk_item *it = &w->ring[w->tail % WALK_WINDOW];
    memset(it, 0, sizeof *it);
    it->w = w;
    it->seq = w->tail;
    it->path = path;
    it->state = ITEM_QUEUED;
    w->tail++;
    return it;
}

/* Wait until everything queued has been searched and written (mu held). */
static void drain(walker *w) {
    while (w->head != w->tail || w->emitting) {
        emit_ready(w, 0);
        if (w->head != w->tail || w->emitting) {
            sys_cond_wait(&w->state, &w->mu);
        }
    }
}

/* Queue the small files found so far, under one lock. */
static void flush_batch(walker *w) {
    if (w->nbatch == 0) {
        return;
    }
    sys_mutex_lock(&w->mu);
    wait_room(w, (unsigned)w->nbatch);
    for (int i = 0; i < w->nbatch; i++) {
        queue_item(w, w->batch[i]);
    }
    w->nbatch = 0;
    uint64_t queued = w->tail;
    sys_cond_broadcast(&w->work);
    sys_mutex_unlock(&w->mu);
    pool_grow(w, queued);
}

/* ---- what the walk hands on ------------------------------------------------- */

/* A message of the walk's own about `name`: an error (status 2) or, with
   warning set, grep's loop warning (no change of status). */
static void note(walker *w, const char *name, int code, int warning) {
    const char *shown = name[0] ? name : ".";
    int quiet = w->wo->quiet_errors;
    if (!w->pool) {
        if (!warning) {
            w->any_error = 1;
        }
        if (!quiet) {
            if (warning) {
                cli_errorf("%s: warning: recursive directory loop", shown);
            } else {
                cli_error(shown, mmk_strerror(code));
            }
        }
        return;
    }
    flush_batch(w);
    out_capture *cap = NULL;
    if (!quiet) {
        cap = out_capture_new(SIZE_MAX, NULL, NULL);
        if (!cap) {
            walk_oom();
        }
        out_capture_begin(cap);
        if (warning) {
            cli_errorf("%s: warning: recursive directory loop", shown);
        } else {
            cli_error(shown, mmk_strerror(code));
        }
        out_capture_end();
    }
    sys_mutex_lock(&w->mu);
    walk_item *it = queue_item(w, NULL);
    it->cap = cap;
    item_done(w, it, warning ? EXIT_NOMATCH : EXIT_TROUBLE);
    sys_mutex_unlock(&w->mu);
}

/* Search one file alone on this thread, with no capture, after everything
   before it has been written. */
static void run_alone(walker *w, const char *path, const char *display, int big) {
    if (w->pool) {
        flush_batch(w);
        sys_mutex_lock(&w->mu);
        drain(w);
        sys_mutex_unlock(&w->mu);
    }
    if (stop_set(w)) {
        return;
    }
    out_set_pipe_status(combine(w->out_error, w->out_match));
    int status = w->fn(path, display, big, w->user);
    if (w->pool) {
        sys_mutex_lock(&w->mu);
    }
    count_status(&w->any_error, &w->any_match, status);
    count_status(&w->out_error, &w->out_match, status);
    if (w->pool) {
        sys_mutex_unlock(&w->mu);
    }
}

/* A file found by the walk (or given as an operand): `path` is w->path or an
   operand; `size` its size when regular, `regular` whether it is. */
static void hand_file(walker *w, const char *path, int regular, uint64_t size) {
    if (stop_set(w)) {
        return;
    }
    int big = !regular || size >= WALK_BIG_FILE;
    if (big || !w->parallel || (!w->pool && !pool_grow(w, 1))) {
        run_alone(w, path, path, big);
        return;
    }
    w->batch[w->nbatch++] = xstrdup(path);
    if (w->nbatch == WALK_BATCH) {
        flush_batch(w);
    }
}

/* ---- the walk ----------------------------------------------------------------- */

enum { ENT_FILE, ENT_DIR, ENT_ERROR };

typedef struct walk_entry {
    const char *name;
    size_t name_off;
    int kind;
    int err; /* ENT_ERROR: the -errno to report */
    uint64_t size;
} walk_entry;

static int entry_cmp(const void *a, const void *b) {
    return strcmp(((const walk_entry *)a)->name, ((const walk_entry *)b)->name);
}

/* Append "/name" (or "name" after a '/' or at the root) to the path; returns
   the old length for path_cut. */
static size_t path_add(walker *w, const char *name) {
    size_t old = w->path_len, n = strlen(name);
    int slash = old > 0 && w->path[old - 1] != '/';
    if (old + slash + n + 1 > w->path_cap) {
        w->path_cap = 2 * (old + slash + n + 1);
        w->path = xrealloc(w->path, w->path_cap);
    }
    if (slash) {
        w->path[w->path_len++] = '/';
    }
    memcpy(w->path + w->path_len, name, n + 1);
    w->path_len += n;
    return old;
}

static void path_cut(walker *w, size_t len) {
    w->path_len = len;
    w->path[len] = '\0';
}

/* Set the path to an operand, with its trailing slashes cut to one as GNU
   grep's directory walk (fts) does: `dir//` is shown as `dir/`. */
static void path_set(walker *w, const char *s) {
    size_t len = strlen(s);
    if (len > 2 && s[len - 1] == '/') {
        while (len > 1 && s[len - 2] == '/') {
            len--;
        }
    }
    if (len + 1 > w->path_cap) {
        w->path_cap = 2 * (len + 1);
        w->path = xrealloc(w->path, w->path_cap);
    }
    memcpy(w->path, s, len);
    path_cut(w, len);
}

/* What one directory entry is, as far as the walk cares (the entry's name is
   `name` in the directory open as `dfd`). Returns 0 to skip it. */
static int classify(walker *w, sys_dir *dir, const char *name, int type, walk_entry *e) {
    const walk_options *wo = w->wo;
    sys_stat st;
    int rc;
    switch (type) {
    case SYS_DT_DIR:
        e->kind = ENT_DIR;
        return 1;
    case SYS_DT_REG:
        if (file_skipped(wo, name, 0)) {
            return 0; /* no stat for what is skipped anyway */
        }
        if ((rc = sys_dir_stat(dir, name, 0, &st)) < 0) {
            e->kind = ENT_ERROR;
            e->err = rc;
            return 1;
        }
        break;
    case SYS_DT_LNK:
    case SYS_DT_UNKNOWN:
        if (type == SYS_DT_LNK && !wo->follow_links) {
            return 0;
        }
        if ((rc = sys_dir_stat(dir, name, wo->follow_links, &st)) < 0) {
            /* A dangling link (-R) or an entry that cannot be looked at: as
               grep, a file for --include/--exclude, then an error. */
            if (file_skipped(wo, name, 0)) {
                return 0;
            }
            e->kind = ENT_ERROR;
            e->err = rc;
            return 1;
        }
        break;
    default:
        return 0; /* fifos, sockets, devices: skipped inside trees, as grep -r */
    }
    if (st.kind == SYS_DIRECTORY) {
        e->kind = ENT_DIR;
        return 1;
    }
    if (st.kind != SYS_REGULAR) {
        return 0; /* a symlink under -r, a special file */
    }
    if (type != SYS_DT_REG && file_skipped(wo, name, 0)) {
        return 0;
    }
    e->kind = ENT_FILE;
    e->size = st.size;
    return 1;
}

/* Walk the directory at w->path (opened without following a symlink when
   nofollow: an entry of a tree under -r that was swapped for a link). */
static void walk_dir(walker *w, int nofollow) {
    const char *open_path = w->path_len ? w->path : ".";
    sys_dir *d;
    sys_stat st;
    int rc = sys_dir_open(&d, open_path, nofollow, &st);
    if (rc < 0) {
        if (nofollow && (rc == -ELOOP || rc == -ENOTDIR)) {
            return; /* became a symlink or a file since it was listed */
        }
        note(w, w->path, rc, 0);
        return;
    }
    for (size_t i = 0; i < w->ndirs; i++) {
        if (w->dirs[i].dev == st.dev && w->dirs[i].ino == st.ino) {
            note(w, w->path, 0, 1);
            sys_dir_close(d);
            return;
        }
    }
    if (w->ndirs == w->dirs_cap) {
        w->dirs_cap = w->dirs_cap ? 2 * w->dirs_cap : 16;
        w->dirs = xrealloc(w->dirs, w->dirs_cap * sizeof *w->dirs);
    }
    w->dirs[w->ndirs++] = (struct dir_id){st.dev, st.ino};

    /* Read the whole directory first: its entries are visited sorted, and the
       directory's descriptor is closed before descending (deep trees do not
       use up descriptors). */
    walk_entry *ents = NULL;
    size_t n = 0, cap = 0;
    char *names = NULL;
    size_t names_len = 0, names_cap = 0;
    int read_err = 0;
    for (;;) {
        const char *name;
        int type;
        int more = sys_dir_next(d, &name, &type);
        if (more <= 0) {
            read_err = more;
            break;
        }
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) {
            continue;
        }
        walk_entry e;
        memset(&e, 0, sizeof e);
        if (!classify(w, d, name, type, &e)) {
            continue;
        }
        size_t len = strlen(name) + 1;
        if (names_len + len > names_cap) {
            names_cap = 2 * (names_len + len) + 4096;
            names = xrealloc(names, names_cap);
        }
        memcpy(names + names_len, name, len);
        e.name_off = names_len;
        names_len += len;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            ents = xrealloc(ents, cap * sizeof *ents);
        }
        ents[n++] = e;
    }
    sys_dir_close(d);
    for (size_t i = 0; i < n; i++) {
        ents[i].name = names + ents[i].name_off;
    }
    if (n > 1) {
        qsort(ents, n, sizeof *ents, entry_cmp); /* ents is NULL when n == 0 */
    }

    for (size_t i = 0; i < n && !stop_set(w); i++) {
        const walk_entry *e = &ents[i];
        size_t old = path_add(w, e->name);
        switch (e->kind) {
        case ENT_DIR:
            if (!dir_skipped(w->wo, e->name, 0)) {
                walk_dir(w, !w->wo->follow_links);
            }
            break;
        case ENT_FILE:
            hand_file(w, w->path, 1, e->size);
            break;
        default:
            note(w, w->path, e->err, 0);
        }
        path_cut(w, old);
    }
    if (read_err < 0) {
        note(w, w->path, read_err, 0);
    }
    free(ents);
    free(names);
    w->ndirs--;
}

/* One operand: standard input, a directory (descended) or anything else
   (searched, whatever its kind, as grep reads devices named on its command
   line). */
static void walk_operand(walker *w, const char *op) {
    if (strcmp(op, "-") == 0) {
        run_alone(w, "-", "(standard input)", 1);
        return;
    }
    sys_stat st;
    int rc = sys_path_stat(op, &st);
    if (rc < 0) {
        note(w, op, rc, 0);
        return;
    }
    if (st.kind == SYS_DIRECTORY) {
        if (dir_skipped(w->wo, op, 1)) {
            return;
        }
        path_set(w, op);
        walk_dir(w, 0);
        return;
    }
    if (file_skipped(w->wo, op, 1)) {
        return;
    }
    hand_file(w, op, st.kind == SYS_REGULAR, st.size);
}

int walk_names_files(char *const *operands, int noperands, const walk_options *wo) {
    if (noperands > 1 || (noperands == 0 && wo->recursive)) {
        return 1;
    }
    sys_stat st;
    return noperands == 1 && strcmp(operands[0], "-") != 0 &&
           sys_path_stat(operands[0], &st) == 0 && st.kind == SYS_DIRECTORY;
}

static unsigned thread_count(const walk_options *wo) {
    long n = wo->threads ? (long)wo->threads : (long)sys_cpu_count();
    if (n < 1) {
        n = 1;
    }
    return n > (long)WALK_MAX_THREADS ? WALK_MAX_THREADS : (unsigned)n;
}

int walk_run(char *const *operands, int noperands, const walk_options *wo, walk_fn fn, void *user,
             volatile int *stop) {
    walker *w = calloc(1, sizeof *w);
    if (!w) {
        walk_oom();
    }
    w->wo = wo;
    w->fn = fn;
    w->user = user;
    w->stop = stop;
    w->nthreads = thread_count(wo);
    sys_stat st;
    int single_file =
        noperands == 1 && (strcmp(operands[0], "-") == 0 ||
                           (sys_path_stat(operands[0], &st) == 0 && st.kind != SYS_DIRECTORY));
    if (noperands == 0 && !wo->recursive) {
        run_alone(w, "-", "(standard input)", 1);
    } else if (single_file) {
        /* One file, searched as before the walk existed: here, with every
           core, no capture (unless an include/exclude glob skips it). */
        if (strcmp(operands[0], "-") == 0) {
            run_alone(w, "-", "(standard input)", 1);
        } else if (!file_skipped(wo, operands[0], 1)) {
            run_alone(w, operands[0], operands[0], 1);
        }
    } else {
        sys_mutex_init(&w->mu);
        sys_cond_init(&w->work);
        sys_cond_init(&w->state);
        sys_cond_init(&w->room);
        w->parallel = w->nthreads > 1;
        if (noperands == 0) {
            path_set(w, ""); /* "." shown as "" + "name": no "./" */
            walk_dir(w, 0);
        }
        for (int i = 0; i < noperands && !stop_set(w); i++) {
            walk_operand(w, operands[i]);
        }
        if (w->pool) {
            flush_batch(w);
            sys_mutex_lock(&w->mu);
            w->finished = 1;
            sys_cond_broadcast(&w->work);
            drain(w);
            sys_mutex_unlock(&w->mu);
            for (unsigned i = 0; i < w->started; i++) {
                sys_thread_join(&w->threads[i]);
            }
        }
        sys_cond_destroy(&w->state);
        sys_cond_destroy(&w->room);
        sys_cond_destroy(&w->work);
        sys_mutex_destroy(&w->mu);
    }
    int status = combine(w->any_error, w->any_match);
    free(w->threads);
    free(w->path);
    free(w->dirs);
    free(w);
    return status;
}
