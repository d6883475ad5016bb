/*
 * mmkit_mmap.c — the mmkit.mmap type: the standard mmap.mmap API (CPython
 * 3.13's behaviour, messages and exception types) over libmmkit, plus the
 * counting and searching extras.
 *
 * Every access to mapped bytes goes through a library call that runs under
 * the fault guard (mmk_copy_out, mmk_copy_in, mmk_find, mmk_count, ...), so a
 * file truncated under the map gives OSError(EFAULT) instead of SIGBUS. The
 * only raw access is the buffer protocol, which cannot be guarded.
 *
 * Threads: with the GIL held nothing else runs Python code, so short
 * operations touch the map directly. Long ones are "in flight": they take a
 * library view (mmkit_op_begin) and then release the GIL. close() and
 * resize() never unmap memory under them: close() marks the object closing
 * (every new operation then fails as on a closed map), releases the GIL and
 * waits until the operations in flight have finished, then closes. Only
 * exported buffers, which can live forever, make close() refuse.
 */
#include "mmkit_module.h"

#include <structmember.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define CHECK_VALID(self, err)                                                                     \
    do {                                                                                           \
        if (mmkit_mmap_check_valid(self) < 0)                                                      \
            return err;                                                                            \
    } while (0)

#define CHECK_VALID_OR_RELEASE(self, err, buffer)                                                  \
    do {                                                                                           \
        if (mmkit_mmap_check_valid(self) < 0) {                                                    \
            PyBuffer_Release(&(buffer));                                                           \
            return err;                                                                            \
        }                                                                                          \
    } while (0)

/*
 * 0 if the map can be used now; -1 with ValueError if it is closed or being
 * closed (the standard module's message) or being resized by another thread.
 */
int mmkit_mmap_check_valid(MmapObject *self) {
    if (self->map == NULL || self->closing || mmk_is_closed(self->map)) {
        PyErr_SetString(PyExc_ValueError, "mmap closed or invalid");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_ValueError, "mmap is being resized by another thread");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Operations in flight                                                      */
/* ------------------------------------------------------------------------ */

/*
 * One lock and condition for every map object: the counts change only
 * around GIL releases, and the condition is broadcast only when a close() or
 * resize() is waiting. The lock is never held while taking the GIL, and the
 * GIL is never taken while holding it, so the two cannot deadlock; a waiter
 * releases the GIL before it takes the lock.
 */
static pthread_mutex_t flight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flight_done = PTHREAD_COND_INITIALIZER;
/* Bumped in a forked child: operations counted before the fork ran in
   threads the child does not have, so their counts are void there. */
static unsigned long fork_epoch;

/* pthread_atfork child handler: the lock may have been held by a thread
   that does not exist in the child. */
void mmkit_fork_child(void) {
    pthread_mutex_init(&flight_lock, NULL);
    pthread_cond_init(&flight_done, NULL);
    fork_epoch++;
}

/*
 * With flight_lock held: in a forked child, forget the operations that were
 * in flight in the parent's other threads and give back the library views
 * they held (theirs and the ones the library took inside their scans). The
 * child has only the forking thread, so every view of this map that is not
 * an export (exported buffers were copied into the child and release theirs)
 * belonged to one of them: os.fork() runs with the GIL held, so no thread was
 * between taking a view and counting itself in flight. A resize() that was
 * in flight will never finish here either.
 */
static void flight_epoch_check(MmapObject *self) {
    if (self->flight_epoch != fork_epoch) {
        self->flight_epoch = fork_epoch;
        if (self->inflight > 0 && self->map != NULL) {
            unsigned views = mmk_view_count(self->map);
            for (unsigned i = (unsigned)self->exports; i < views; i++)
                mmk_view_release(self->map);
            self->busy = 0;
        }
        self->inflight = 0;
        self->flight_waiters = 0;
    }
}

static void flight_add(MmapObject *self, Py_ssize_t delta) {
    pthread_mutex_lock(&flight_lock);
    flight_epoch_check(self);
    self->inflight += delta;
    if (self->inflight < 0)
        self->inflight = 0; /* an operation begun before a fork, ended in the child */
    if (delta < 0 && self->flight_waiters > 0)
        pthread_cond_broadcast(&flight_done);
    pthread_mutex_unlock(&flight_lock);
}

/*
 * Begin an operation that will release the GIL: the map must be usable (as
 * CHECK_VALID), a library view is taken, and the operation counts as in
 * flight until mmkit_op_end, which must follow with the GIL held and before
 * any Python code runs (a close() in this thread would wait for itself).
 * Returns 0, or -1 with an exception set.
 */
int mmkit_op_begin(MmapObject *self) {
    if (mmkit_mmap_check_valid(self) < 0)
        return -1;
    /* Counted before the view is taken: in a forked child, the first count
       settles the parent's stale views, and this view must not be among
       them. */
    flight_add(self, 1);
    int rc = mmk_view_acquire(self->map, NULL, NULL);
    if (rc < 0) {
        flight_add(self, -1);
        mmkit_error(rc);
        return -1;
    }
    return 0;
}

void mmkit_op_end(MmapObject *self) {
    mmk_view_release(self->map);
    flight_add(self, -1);
}

/* Release the GIL and block (no spinning) until at most `allowed`
   operations are in flight. */
static void wait_for_flights(MmapObject *self, Py_ssize_t allowed) {
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&flight_lock);
    flight_epoch_check(self);
    self->flight_waiters++;
    while (self->inflight > allowed)
        pthread_cond_wait(&flight_done, &flight_lock);
    self->flight_waiters--;
    pthread_mutex_unlock(&flight_lock);
    Py_END_ALLOW_THREADS
}

/* Sleep about a millisecond with the GIL released. */
static void short_wait(void) {
    Py_BEGIN_ALLOW_THREADS
    mmkit_os_sleep_ns(1000 * 1000);
    Py_END_ALLOW_THREADS
}

/*
 * Raise the exception for a failed scan over the map from `base`: the
 * library reports MMK_ELIMIT's offset relative to the scan's input, and the
 * exception gives it as a map offset.
 */
PyObject *mmkit_scan_error(MmapObject *self, int rc, int64_t input_offset, Py_ssize_t base) {
    mmkit_errctx ctx = {self->module, NULL, input_offset >= 0 ? input_offset + base : -1, NULL,
                        NULL};
    return mmkit_raise(rc, &ctx);
}

static inline Py_ssize_t map_size(MmapObject *self) {
    return (Py_ssize_t)mmk_length(self->map);
}

static int is_writable(MmapObject *self) {
    if (self->access != PYMM_ACCESS_READ)
        return 1;
    PyErr_SetString(PyExc_TypeError, "mmap can't modify a readonly memory map.");
    return 0;
}

/* Python slice rules for [start, end) over `size` bytes: negative values count
   from the end, everything is clamped, and end is never below start. */
void mmkit_resolve_range(Py_ssize_t size, Py_ssize_t start, int start_given, Py_ssize_t end,
                         int end_given, Py_ssize_t *out_start, Py_ssize_t *out_end) {
    if (!start_given) {
        start = 0;
    } else if (start < 0) {
        start += size;
        if (start < 0)
            start = 0;
    } else if (start > size) {
        start = size;
    }
    if (!end_given) {
        end = size;
    } else if (end < 0) {
        end += size;
        if (end < 0)
            end = 0;
    } else if (end > size) {
        end = size;
    }
    if (end < start)
        end = start;
    *out_start = start;
    *out_end = end;
}

/* ------------------------------------------------------------------------ */
/* Guarded copies                                                            */
/* ------------------------------------------------------------------------ */

/* Copy n bytes between the map at `off` and buf (owned by the caller): out of
   the map when `into_map` is 0, into it otherwise. Long copies release the
   GIL under a view. Returns 0, or -1 with an exception set. */
static int copy_bytes(MmapObject *self, Py_ssize_t off, void *buf, Py_ssize_t n, int into_map) {
    int rc;
    if (n <= 0)
        return 0;
    int release = n >= PYMM_NOGIL_THRESHOLD;
    if (release && mmkit_op_begin(self) < 0)
        return -1;
    PyThreadState *released = release ? PyEval_SaveThread() : NULL;
    rc = into_map ? mmk_copy_in(self->map, (uint64_t)off, buf, (size_t)n)
                  : mmk_copy_out(self->map, (uint64_t)off, buf, (size_t)n);
    if (release) {
        PyEval_RestoreThread(released);
        mmkit_op_end(self);
    }
    if (rc < 0) {
        mmkit_error(rc);
        return -1;
    }
    return 0;
}

static int copy_out(MmapObject *self, Py_ssize_t off, void *buf, Py_ssize_t n) {
    return copy_bytes(self, off, buf, n, 0);
}

static int copy_in(MmapObject *self, Py_ssize_t off, const void *buf, Py_ssize_t n) {
    self->changes++;
    return copy_bytes(self, off, (void *)buf, n, 1);
}

/* A new bytes object holding map[off, off+n). */
static PyObject *bytes_from_map(MmapObject *self, Py_ssize_t off, Py_ssize_t n) {
    if (n == 1) {
        unsigned char c;
        if (copy_out(self, off, &c, 1) < 0)
            return NULL;
        return PyBytes_FromStringAndSize((const char *)&c, 1); /* shared 1-byte object */
    }
    PyObject *b = PyBytes_FromStringAndSize(NULL, n);
    if (b == NULL)
        return NULL;
    if (copy_out(self, off, PyBytes_AS_STRING(b), n) < 0) {
        Py_DECREF(b);
        return NULL;
    }
    return b;
}

/* ------------------------------------------------------------------------ */
/* Construction and destruction                                              */
/* ------------------------------------------------------------------------ */

static MmapObject *mmap_alloc(PyTypeObject *type, PyObject *module) {
    MmapObject *self = (MmapObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->map = NULL;
    self->pos = 0;
    self->exports = 0;
    self->offset = 0;
    self->access = PYMM_ACCESS_DEFAULT;
    self->trackfd = 1;
    self->page_rules = 0;
    self->busy = 0;
    self->closing = 0;
    self->snapshot = 0;
    self->inflight = 0;
    self->flight_waiters = 0;
    self->flight_epoch = fork_epoch;
    self->changes = 0;
    self->weakreflist = NULL;
    Py_INCREF(module);
    self->module = module;
    return self;
}

/*
 * Wrap a map opened by mmkit.open(): the new object owns `map` (it is freed
 * with the object, or here if the object cannot be created).
 */
PyObject *mmkit_mmap_from_map(PyObject *module, mmk_map *map, int access, long long offset) {
    mmkit_state *st = mmkit_get_state(module);
    MmapObject *self = mmap_alloc(st->mmap_type, module);
    if (self == NULL) {
        (void)mmk_free(map);
        return NULL;
    }
    self->map = map;
    self->access = access;
    self->offset = offset;
    return (PyObject *)self;
}

/*
 * As mmkit_mmap_from_map, for an instance of `type`: mmkit.mmap or a subtype
 * made in C whose extra fields start zeroed (mmkit.SharedMemory).
 */
PyObject *mmkit_mmap_from_map_type(PyObject *module, PyTypeObject *type, mmk_map *map, int access,
                                   long long offset) {
    MmapObject *self = mmap_alloc(type, module);
    if (self == NULL) {
        (void)mmk_free(map);
        return NULL;
    }
    self->map = map;
    self->access = access;
    self->offset = offset;
    return (PyObject *)self;
}

/*
 * mmap(fileno, length, flags=MAP_SHARED, prot=PROT_WRITE|PROT_READ,
 *      access=ACCESS_DEFAULT, offset=0, *, trackfd=True)
 * with the standard module's checks, in its order, and its messages.
 */
static PyObject *mmap_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"fileno", "length", "flags",   "prot",
                             "access", "offset", "trackfd", NULL};
    int fd, flags = MAP_SHARED, prot = PROT_WRITE | PROT_READ;
    int access = PYMM_ACCESS_DEFAULT, trackfd = 1;
    Py_ssize_t map_size;
    long long offset = 0;

    PyObject *module = mmkit_module_of_type(type);
    if (module == NULL)
        return NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "in|iiiL$p", kwlist, &fd, &map_size, &flags, &prot,
                                     &access, &offset, &trackfd))
        return NULL;
    if (map_size < 0) {
        PyErr_SetString(PyExc_OverflowError, "memory mapped length must be positive");
        return NULL;
    }
    if (offset < 0) {
        PyErr_SetString(PyExc_OverflowError, "memory mapped offset must be positive");
        return NULL;
    }
    if (access != PYMM_ACCESS_DEFAULT &&
        (flags != MAP_SHARED || prot != (PROT_WRITE | PROT_READ))) {
        PyErr_SetString(PyExc_ValueError, "mmap can't specify both access and flags, prot.");
        return NULL;
    }
    switch (access) {
    case PYMM_ACCESS_READ:
        flags = MAP_SHARED;
        prot = PROT_READ;
        break;
    case PYMM_ACCESS_WRITE:
        flags = MAP_SHARED;
        prot = PROT_READ | PROT_WRITE;
        break;
    case PYMM_ACCESS_COPY:
        flags = MAP_PRIVATE;
        prot = PROT_READ | PROT_WRITE;
        break;
    case PYMM_ACCESS_DEFAULT:
        if ((prot & PROT_READ) && (prot & PROT_WRITE)) {
            /* stays ACCESS_DEFAULT */
        } else if (prot & PROT_WRITE) {
            access = PYMM_ACCESS_WRITE;
        } else {
            access = PYMM_ACCESS_READ;
        }
        break;
    default:
        PyErr_SetString(PyExc_ValueError, "mmap invalid access parameter.");
        return NULL;
    }
    if (PySys_Audit("mmap.__new__", "iniL", fd, map_size, access, offset) < 0)
        return NULL;

    int zero_device = 0;
    if (fd != -1) {
        mmkit_os_fileinfo st;
        int fstat_rc;
        Py_BEGIN_ALLOW_THREADS
        fstat_rc = mmkit_os_fstat(fd, &st);
        Py_END_ALLOW_THREADS
        /* Mapping /dev/zero is the old way to ask for anonymous memory; the
           library maps regular files only, so give it anonymous memory. */
        if (fstat_rc == 0 && st.kind == MMKIT_OS_ZERO_DEVICE)
            zero_device = 1;
        if (fstat_rc == 0 && st.kind == MMKIT_OS_REGULAR) {
            long long file_size = st.size > (uint64_t)LLONG_MAX ? LLONG_MAX : (long long)st.size;
            if (map_size == 0) {
                if (file_size == 0) {
                    PyErr_SetString(PyExc_ValueError, "cannot mmap an empty file");
                    return NULL;
                }
                if (offset >= file_size) {
                    PyErr_SetString(PyExc_ValueError, "mmap offset is greater than file size");
                    return NULL;
                }
                if (file_size - offset > PY_SSIZE_T_MAX) {
                    PyErr_SetString(PyExc_ValueError, "mmap length is too large");
                    return NULL;
                }
                map_size = (Py_ssize_t)(file_size - offset);
            } else if (offset > file_size || file_size - offset < (long long)map_size) {
                PyErr_SetString(PyExc_ValueError, "mmap length is greater than file size");
                return NULL;
            }
        }
    }
    /* What mmap(2) itself refuses (the library would accept both). */
    if (map_size == 0 || offset % (long long)mmk_allocation_granularity() != 0) {
        errno = EINVAL;
        return PyErr_SetFromErrno(PyExc_OSError);
    }

    mmk_map *map = NULL;
    int rc;
    if (fd == -1 || zero_device) {
        unsigned anon = (flags & MAP_PRIVATE) ? MMK_ANON_PRIVATE : MMK_ANON_SHARED;
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_open_anon(&map, (uint64_t)map_size, anon);
        Py_END_ALLOW_THREADS
    } else {
        mmk_options opt;
        memset(&opt, 0, sizeof opt);
        if (!(prot & PROT_WRITE))
            opt.access = MMK_ACCESS_READ;
        else if (flags & MAP_PRIVATE)
            opt.access = MMK_ACCESS_COPY;
        else
            opt.access = MMK_ACCESS_WRITE;
        opt.offset = (uint64_t)offset;
        opt.length = (uint64_t)map_size;
        opt.flags = trackfd ? 0u : (unsigned)MMK_OPEN_NO_DUP;
        /* Flags beyond the sharing type (MAP_POPULATE, MAP_NORESERVE, ...) go
           to the system as they are. */
        opt.native_flags = flags & ~(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS);
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_open_fd(&map, fd, &opt);
        Py_END_ALLOW_THREADS
    }
    if (rc < 0)
        return mmkit_error(rc);

    MmapObject *self = mmap_alloc(type, module);
    if (self == NULL) {
        (void)mmk_free(map);
        return NULL;
    }
    self->map = map;
    self->offset = offset;
    self->access = access;
    self->trackfd = trackfd;
    self->page_rules = 1;
    return (PyObject *)self;
}

static int mmap_traverse(MmapObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->module);
    return 0;
}

static int mmap_clear(MmapObject *self) {
    Py_CLEAR(self->module);
    return 0;
}

static void mmap_dealloc(MmapObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->map != NULL) {
        mmk_map *map = self->map;
        self->map = NULL;
        /* Unmapping a large map takes a while: let other threads run. No view
           can be outstanding: buffers and scans hold references to self. */
        Py_BEGIN_ALLOW_THREADS
        mmk_free(map);
        Py_END_ALLOW_THREADS
    }
    Py_CLEAR(self->module);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* ------------------------------------------------------------------------ */
/* The standard methods                                                      */
/* ------------------------------------------------------------------------ */

PyDoc_STRVAR(close_doc, "close()\n\n"
                        "Close the map: unmap it and close its file descriptor. Later operations\n"
                        "raise ValueError; closing twice is allowed. Raises BufferError while\n"
                        "buffers of the map are exported (memoryview, numpy arrays, ...), as the\n"
                        "standard module does. Operations that other threads are running on the\n"
                        "map with the GIL released are waited for (the GIL is released\n"
                        "meanwhile); operations they start afterwards raise ValueError.");

static PyObject *mmap_close_method(MmapObject *self, PyObject *unused) {
    if (self->exports > 0) {
        PyErr_SetString(PyExc_BufferError, "cannot close exported pointers exist");
        return NULL;
    }
    if (self->map == NULL || mmk_is_closed(self->map))
        Py_RETURN_NONE;
    /* From here on every new operation fails as on a closed map, and no new
       buffer can be exported; then wait for the ones in flight (a resize()
       included) to finish. They need the GIL only to end, and the wait
       releases it. */
    self->closing = 1;
    self->changes++;
    wait_for_flights(self, 0);
    int rc;
    for (int attempt = 0;; attempt++) {
        rc = mmk_close(self->map);
        /* Every view this module takes is an export (refused above, and none
           can start while closing) or an operation in flight (finished). A
           library that also counts its own calls in progress may still report
           one for a moment: wait briefly, without spinning. */
        if (rc != MMK_EVIEWS || self->exports > 0 || attempt >= 1000)
            break;
        short_wait();
    }
    if (rc == MMK_EVIEWS) {
        self->closing = 0;
        if (self->exports > 0)
            PyErr_SetString(PyExc_BufferError, "cannot close exported pointers exist");
        else
            PyErr_SetString(PyExc_BufferError,
                            "cannot close: libmmkit reports views of the map held outside "
                            "this object");
        return NULL;
    }
    if (rc < 0) {
        self->closing = 0;
        return mmkit_error(rc);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(read_byte_doc,
             "read_byte() -> int\n\n"
             "Return the byte at the current position as an int and advance by one.\n"
             "ValueError at the end of the map.");

static PyObject *mmap_read_byte_method(MmapObject *self, PyObject *unused) {
    CHECK_VALID(self, NULL);
    if (self->pos >= map_size(self)) {
        PyErr_SetString(PyExc_ValueError, "read byte out of range");
        return NULL;
    }
    unsigned char c;
    if (copy_out(self, self->pos, &c, 1) < 0)
        return NULL;
    self->pos += 1;
    return PyLong_FromLong((long)c);
}

/* Offset just past the line that starts at `from` (its '\n' included), or
   `end` when no newline follows. -1 with an exception on failure. */
static Py_ssize_t line_end(MmapObject *self, Py_ssize_t from, Py_ssize_t end) {
    int64_t at = -1;
    int rc;
    if (from >= end)
        return end;
    if (end - from >= PYMM_NOGIL_THRESHOLD) {
        if (mmkit_op_begin(self) < 0)
            return -1;
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_find(self->map, "\n", 1, from, end, &at);
        Py_END_ALLOW_THREADS
        mmkit_op_end(self);
    } else {
        rc = mmk_find(self->map, "\n", 1, from, end, &at);
    }
    if (rc < 0) {
        mmkit_error(rc);
        return -1;
    }
    return at < 0 ? end : (Py_ssize_t)at + 1;
}

PyDoc_STRVAR(readline_doc,
             "readline() -> bytes\n\n"
             "Return the bytes from the current position up to and including the next\n"
             "newline (or to the end of the map) and advance past them. b'' at the end.");

/*
 * The line of the map that starts at `from`, up to and including its '\n'
 * or up to `end` (at most the map's length): what readline() returns there,
 * read from the map as it is now. *stop receives the offset after the line.
 * Returns a new bytes object, or NULL with an exception set.
 */
PyObject *mmkit_read_line(MmapObject *self, Py_ssize_t from, Py_ssize_t end, Py_ssize_t *stop) {
    Py_ssize_t size = map_size(self);
    if (end > size)
        end = size;
    if (from >= end) {
        *stop = from;
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    /* Most lines are short: copy a small block once and look for the newline
       in the copy (one guarded library call instead of a search and a copy).
       If the block reaches into pages lost to truncation, fall back to the
       exact path, which fails only if the line itself is lost. */
    char block[512];
    Py_ssize_t want = end - from < (Py_ssize_t)sizeof block ? end - from : (Py_ssize_t)sizeof block;
    if (mmk_copy_out(self->map, (uint64_t)from, block, (size_t)want) == 0) {
        const char *nl = memchr(block, '\n', (size_t)want);
        if (nl != NULL || from + want == end) {
            Py_ssize_t n = nl != NULL ? nl - block + 1 : want;
            PyObject *line = PyBytes_FromStringAndSize(block, n);
            if (line != NULL)
                *stop = from + n;
            return line;
        }
    }
    Py_ssize_t after = line_end(self, from, end);
    if (after < 0)
        return NULL;
    PyObject *result = bytes_from_map(self, from, after - from);
    if (result != NULL)
        *stop = after;
    return result;
}

static PyObject *mmap_readline_method(MmapObject *self, PyObject *unused) {
    CHECK_VALID(self, NULL);
    Py_ssize_t stop = self->pos;
    PyObject *line = mmkit_read_line(self, self->pos, map_size(self), &stop);
    if (line != NULL)
        self->pos = stop;
    return line;
}

/* read()'s argument: an int, or None for "everything". */
static int optional_size_converter(PyObject *obj, void *ptr) {
    Py_ssize_t *out = (Py_ssize_t *)ptr;
    if (obj == Py_None)
        return 1;
    if (!PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "argument should be integer or None, not '%.200s'",
                     Py_TYPE(obj)->tp_name);
        return 0;
    }
    Py_ssize_t v = PyNumber_AsSsize_t(obj, PyExc_OverflowError);
    if (v == -1 && PyErr_Occurred())
        return 0;
    *out = v;
    return 1;
}

PyDoc_STRVAR(read_doc, "read([n]) -> bytes\n\n"
                       "Return up to n bytes from the current position and advance past them.\n"
                       "With no argument, None or a negative n, read to the end of the map.");

static PyObject *mmap_read_method(MmapObject *self, PyObject *args) {
    Py_ssize_t num_bytes = PY_SSIZE_T_MAX;
    CHECK_VALID(self, NULL);
    if (!PyArg_ParseTuple(args, "|O&:read", optional_size_converter, &num_bytes))
        return NULL;
    CHECK_VALID(self, NULL);
    Py_ssize_t size = map_size(self);
    Py_ssize_t remaining = self->pos < size ? size - self->pos : 0;
    if (num_bytes < 0 || num_bytes > remaining)
        num_bytes = remaining;
    PyObject *result = bytes_from_map(self, self->pos, num_bytes);
    if (result != NULL)
        self->pos += num_bytes;
    return result;
}

/*
 * A search over a short range, run by mmk_guard_run on the mapped bytes
 * directly: memchr for the needle's first byte, then a compare. A library
 * search pays a fixed set-up per call that dominates loops of short finds
 * (`while (i := m.find(sub, i + 1)) >= 0`). The compare work is bounded:
 * once failed candidates cost more than a few times the bytes scanned (a
 * needle like b"aaab" in b"aaaa..."), the job stops and the caller finishes
 * with the library's linear-time search.
 */
/* Bytes searched with the GIL held before a long find() releases it. */
#define FIND_WINDOW ((Py_ssize_t)64 * 1024)

typedef struct {
    const unsigned char *hay; /* mapped bytes [start, end) */
    size_t len;
    const unsigned char *needle;
    size_t n;      /* >= 1 */
    size_t resume; /* out: where the job stopped when it gave up */
    int64_t found; /* out: offset in hay, or -1 */
    int gave_up;   /* out */
} short_find_job;

static int short_find(void *arg) {
    short_find_job *job = arg;
    const unsigned char *hay = job->hay, *needle = job->needle;
    size_t n = job->n, last = job->len - n; /* candidates start at 0 .. last */
    size_t at = 0, wasted = 0;
    unsigned char first = needle[0];
    while (at <= last) {
        const unsigned char *p = memchr(hay + at, first, last - at + 1);
        if (p == NULL)
            break;
        size_t i = (size_t)(p - hay);
        if (n == 1 || memcmp(p + 1, needle + 1, n - 1) == 0) {
            job->found = (int64_t)i;
            return 0;
        }
        wasted += n;
        at = i + 1;
        if (wasted > 4 * at + 4096) {
            job->gave_up = 1;
            job->resume = at;
            return 0;
        }
    }
    job->found = -1;
    return 0;
}

/*
 * The search behind find()/rfind() on a resolved range [start, end) with
 * end - start >= len >= 1: the lowest (or highest) offset, or -1, into
 * *found. Returns 0, or -1 with an exception set.
 */
static int find_in_map(MmapObject *self, const void *needle, Py_ssize_t len, Py_ssize_t start,
                       Py_ssize_t end, int reverse, int64_t *found) {
    int rc = 0;
    /* Matches are often near: search a window on the starting side with the
       GIL held first, and release the GIL only for the rest of a long range.
       The rest overlaps the window by len - 1 bytes so nothing is missed. */
    Py_ssize_t total = end - start, window = total;
    int split = 0;
    if (total >= PYMM_NOGIL_THRESHOLD && FIND_WINDOW + len - 1 < total) {
        window = FIND_WINDOW + len - 1;
        split = 1;
    }
    if (!reverse) {
        /* The GIL is held: the map cannot be closed or resized meanwhile, so
           its address is stable for the guarded job. */
        short_find_job job = {(const unsigned char *)mmk_data(self->map) + start,
                              (size_t)window,
                              needle,
                              (size_t)len,
                              0,
                              -1,
                              0};
        rc = mmk_guard_run(short_find, &job);
        if (rc == 0 && job.gave_up)
            rc = mmk_find(self->map, needle, (size_t)len, start + (Py_ssize_t)job.resume,
                          start + window, found);
        else if (rc == 0)
            *found = job.found < 0 ? -1 : start + job.found;
        start += window - (len - 1);
    } else {
        rc = mmk_rfind(self->map, needle, (size_t)len, end - window, end, found);
        end -= window - (len - 1);
    }
    if (rc == 0 && *found < 0 && split) {
        if (mmkit_op_begin(self) < 0)
            return -1;
        Py_BEGIN_ALLOW_THREADS
        rc = reverse ? mmk_rfind(self->map, needle, (size_t)len, start, end, found)
                     : mmk_find(self->map, needle, (size_t)len, start, end, found);
        Py_END_ALLOW_THREADS
        mmkit_op_end(self);
    }
    if (rc < 0) {
        mmkit_error(rc);
        return -1;
    }
    return 0;
}

/* find()/rfind() once the arguments are converted: Python's rules for
   start/end, an empty needle found at the start (find) or end (rfind). */
static PyObject *gfind_core(MmapObject *self, const void *needle, Py_ssize_t len, Py_ssize_t start,
                            Py_ssize_t end, int reverse) {
    Py_ssize_t size = map_size(self);
    if (start < 0) {
        start += size;
        if (start < 0)
            start = 0;
    } else if (start > size) {
        start = size;
    }
    if (end < 0) {
        end += size;
        if (end < 0)
            end = 0;
    } else if (end > size) {
        end = size;
    }
    int64_t found = -1;
    if (end >= start && end - start >= len) {
        if (len == 0)
            found = reverse ? end : start;
        else if (find_in_map(self, needle, len, start, end, reverse, &found) < 0)
            return NULL;
    }
    return PyLong_FromLongLong((long long)found);
}

/* The general path, with the standard module's argument parsing (and so its
   exact error messages). */
static PyObject *mmap_gfind(MmapObject *self, PyObject *args, int reverse) {
    Py_buffer view;
    CHECK_VALID(self, NULL);
    Py_ssize_t start = self->pos, end = map_size(self);
    if (!PyArg_ParseTuple(args, reverse ? "y*|nn:rfind" : "y*|nn:find", &view, &start, &end))
        return NULL;
    CHECK_VALID_OR_RELEASE(self, NULL, view);
    PyObject *result = gfind_core(self, view.buf, view.len, start, end, reverse);
    PyBuffer_Release(&view);
    return result;
}

/*
 * The fast path for the common call shapes (a bytes-like needle and exact
 * ints): no argument tuple, no format parsing. Anything else, including every
 * error, goes through mmap_gfind, which reports it as the standard module does.
 */
static PyObject *mmap_gfind_fast(MmapObject *self, PyObject *const *args, Py_ssize_t nargs,
                                 int reverse) {
    if (nargs >= 1 && nargs <= 3 && mmkit_mmap_check_valid(self) == 0) {
        Py_ssize_t pos[2] = {self->pos, map_size(self)};
        int ok = 1;
        for (Py_ssize_t i = 1; i < nargs && ok; i++) {
            if (!PyLong_CheckExact(args[i])) {
                ok = 0;
                break;
            }
            pos[i - 1] = PyLong_AsSsize_t(args[i]);
            if (pos[i - 1] == -1 && PyErr_Occurred()) {
                PyErr_Clear();
                ok = 0;
            }
        }
        if (ok && PyBytes_CheckExact(args[0]))
            return gfind_core(self, PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), pos[0],
                              pos[1], reverse);
        if (ok && PyObject_CheckBuffer(args[0])) {
            Py_buffer view;
            if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) == 0) {
                PyObject *result = NULL;
                if (mmkit_mmap_check_valid(self) == 0)
                    result = gfind_core(self, view.buf, view.len, pos[0], pos[1], reverse);
                PyBuffer_Release(&view);
                return result;
            }
            PyErr_Clear();
        }
    } else {
        PyErr_Clear();
    }
    PyObject *tuple = PyTuple_New(nargs);
    if (tuple == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        Py_INCREF(args[i]);
        PyTuple_SET_ITEM(tuple, i, args[i]);
    }
    PyObject *result = mmap_gfind(self, tuple, reverse);
    Py_DECREF(tuple);
    return result;
}

PyDoc_STRVAR(find_doc, "find(sub[, start[, end]]) -> int\n\n"
                       "Return the lowest index where sub is found entirely within [start, end),\n"
                       "or -1. start defaults to the current position, end to the map's length;\n"
                       "negative values count from the end. Large ranges are searched with the\n"
                       "GIL released.");

static PyObject *mmap_find_method(MmapObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return mmap_gfind_fast(self, args, nargs, 0);
}

PyDoc_STRVAR(rfind_doc,
             "rfind(sub[, start[, end]]) -> int\n\n"
             "Return the highest index where sub is found entirely within [start, end),\n"
             "or -1. Arguments as find().");

static PyObject *mmap_rfind_method(MmapObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return mmap_gfind_fast(self, args, nargs, 1);
}

PyDoc_STRVAR(write_doc, "write(bytes) -> int\n\n"
                        "Write the bytes at the current position, advance past them and return\n"
                        "how many were written. ValueError if they do not fit before the end;\n"
                        "TypeError on a read-only map.");

static PyObject *mmap_write_method(MmapObject *self, PyObject *args) {
    Py_buffer data;
    CHECK_VALID(self, NULL);
    if (!PyArg_ParseTuple(args, "y*:write", &data))
        return NULL;
    CHECK_VALID_OR_RELEASE(self, NULL, data);
    if (!is_writable(self)) {
        PyBuffer_Release(&data);
        return NULL;
    }
    Py_ssize_t size = map_size(self);
    if (self->pos > size || size - self->pos < data.len) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "data out of range");
        return NULL;
    }
    if (copy_in(self, self->pos, data.buf, data.len) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    self->pos += data.len;
    Py_ssize_t written = data.len;
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(written);
}

PyDoc_STRVAR(write_byte_doc,
             "write_byte(byte)\n\n"
             "Write the integer byte (0-255) at the current position and advance by one.");

static PyObject *mmap_write_byte_method(MmapObject *self, PyObject *args) {
    unsigned char value;
    CHECK_VALID(self, NULL);
    if (!PyArg_ParseTuple(args, "b:write_byte", &value))
        return NULL;
    CHECK_VALID(self, NULL);
    if (!is_writable(self))
        return NULL;
    if (self->pos >= map_size(self)) {
        PyErr_SetString(PyExc_ValueError, "write byte out of range");
        return NULL;
    }
    if (copy_in(self, self->pos, &value, 1) < 0)
        return NULL;
    self->pos += 1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(bytes_doc, "__bytes__() -> bytes\n\n"
                        "bytes(m): a copy of the whole map, read under the fault guard (OSError\n"
                        "instead of SIGBUS if the file shrank; the GIL is released for large\n"
                        "maps). bytes() calls __bytes__ before it would use the buffer.");

static PyObject *mmap_bytes_method(MmapObject *self, PyObject *unused) {
    CHECK_VALID(self, NULL);
    return bytes_from_map(self, 0, map_size(self));
}

PyDoc_STRVAR(readinto_doc,
             "readinto($self, buffer, /, offset=None)\n"
             "--\n"
             "\n"
             "Copy bytes of the map into buffer (any writable bytes-like object:\n"
             "bytearray, memoryview, array, numpy array) under the fault guard and\n"
             "return how many were copied: len(buffer) bytes, fewer at the end of the\n"
             "map, 0 there. Without offset: from the current position, which advances,\n"
             "as io's readinto(). With offset: from that map offset; the position does\n"
             "not move (as os.preadv). OSError if the file shrank under the map.");

static PyObject *mmap_readinto_method(MmapObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"", "offset", NULL};
    Py_buffer dst;
    PyObject *offset_obj = Py_None;
    CHECK_VALID(self, NULL);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "w*|O:readinto", kwlist, &dst, &offset_obj))
        return NULL;
    Py_ssize_t from = 0;
    int given = 0;
    if (mmkit_optional_ssize(offset_obj, &from, &given) < 0) {
        PyBuffer_Release(&dst);
        return NULL;
    }
    if (given && from < 0) {
        PyBuffer_Release(&dst);
        PyErr_SetString(PyExc_ValueError, "readinto offset must not be negative");
        return NULL;
    }
    CHECK_VALID_OR_RELEASE(self, NULL, dst);
    Py_ssize_t size = map_size(self);
    if (!given)
        from = self->pos;
    Py_ssize_t n = from < size ? size - from : 0;
    if (n > dst.len)
        n = dst.len;
    int rc = 0;
    uintptr_t base = (uintptr_t)mmk_data(self->map), target = (uintptr_t)dst.buf;
    if (n > 0 && base != 0 && target >= base && target < base + (uintptr_t)size) {
        /* The buffer is memory of this very map (a writable export lies
           wholly inside it): the ranges may overlap, which only a move
           handles. */
        rc = mmk_move(self->map, (uint64_t)(target - base), (uint64_t)from, (uint64_t)n);
        if (rc < 0)
            mmkit_error(rc);
        rc = rc < 0 ? -1 : 0;
    } else if (n > 0) {
        rc = copy_out(self, from, dst.buf, n);
    }
    PyBuffer_Release(&dst);
    if (rc < 0)
        return NULL;
    if (!given)
        self->pos = from + n;
    return PyLong_FromSsize_t(n);
}

PyDoc_STRVAR(size_doc, "size() -> int\n\n"
                       "Return the size of the underlying file (which can differ from len(m)).\n"
                       "OSError (EBADF) for anonymous maps and maps made with trackfd=False.");

static PyObject *mmap_size_method(MmapObject *self, PyObject *unused) {
    CHECK_VALID(self, NULL);
    if (!self->trackfd)
        return mmkit_os_error(EBADF, strerror(EBADF));
    if (self->snapshot) /* the content read from a file whose size lies */
        return PyLong_FromSsize_t(map_size(self));
    uint64_t size = 0;
    int rc = mmk_file_size(self->map, &size);
    if (rc < 0)
        return mmkit_error(rc);
    return PyLong_FromUnsignedLongLong((unsigned long long)size);
}

PyDoc_STRVAR(resize_doc,
             "resize(newsize)\n\n"
             "Change the map's length to newsize, growing or truncating the file to\n"
             "offset + newsize. Needs a writable shared map (TypeError otherwise) with\n"
             "no buffers exported (BufferError) and made with trackfd=True (ValueError).\n"
             "The position is kept, even past the new end. Operations other threads run\n"
             "with the GIL released are waited for; meanwhile new ones raise ValueError.");

static PyObject *mmap_resize_method(MmapObject *self, PyObject *args) {
    Py_ssize_t new_size;
    CHECK_VALID(self, NULL);
    if (!PyArg_ParseTuple(args, "n:resize", &new_size))
        return NULL;
    CHECK_VALID(self, NULL);
    if (self->exports > 0) {
        PyErr_SetString(PyExc_BufferError, "mmap can't resize with extant buffers exported.");
        return NULL;
    }
    if (self->access != PYMM_ACCESS_WRITE && self->access != PYMM_ACCESS_DEFAULT) {
        PyErr_SetString(PyExc_TypeError,
                        "mmap can't resize a readonly or copy-on-write memory map.");
        return NULL;
    }
    if (!self->trackfd) {
        PyErr_SetString(PyExc_ValueError, "mmap can't resize with trackfd=False.");
        return NULL;
    }
    if (new_size < 0 || PY_SSIZE_T_MAX - new_size < self->offset) {
        PyErr_SetString(PyExc_ValueError, "new size out of range");
        return NULL;
    }
    if (new_size == 0 && self->page_rules) {
        /* mremap(2) refuses a zero length; refuse before touching the file. */
        errno = EINVAL;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    /* New operations now fail with ValueError; the resize counts as in flight
       (a close() waits for it) and waits for the operations already in
       flight, then takes the map. */
    int rc;
    self->busy = 1;
    flight_add(self, 1);
    wait_for_flights(self, 1);
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_resize(self->map, (uint64_t)new_size);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    self->changes++;
    flight_add(self, -1);
    if (rc == MMK_EREADONLY) {
        PyErr_SetString(PyExc_TypeError,
                        "mmap can't resize a readonly or copy-on-write memory map.");
        return NULL;
    }
    if (rc == MMK_EVIEWS) {
        PyErr_SetString(PyExc_BufferError,
                        "mmap can't resize: libmmkit reports views of the map held outside "
                        "this object");
        return NULL;
    }
    if (rc < 0)
        return mmkit_error(rc);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(follow_file_doc,
             "follow_file() -> int\n\n"
             "Fit the map's length to the file's current size (size() - offset, 0 when\n"
             "the file is now shorter than the offset) and return the new length. The\n"
             "file is never changed, so read, write and copy maps can all follow a file\n"
             "another process grows or shrinks. As resize(): BufferError while buffers\n"
             "are exported, ValueError with trackfd=False; OSError (EBADF) for anonymous\n"
             "maps. A copy map keeps the pages it wrote that stay within the new length.\n"
             "The position is kept, even past the new end.");

static PyObject *mmap_follow_file_method(MmapObject *self, PyObject *unused) {
    (void)unused;
    CHECK_VALID(self, NULL);
    if (self->exports > 0) {
        PyErr_SetString(PyExc_BufferError,
                        "mmap can't follow the file with extant buffers exported.");
        return NULL;
    }
    if (!self->trackfd) {
        PyErr_SetString(PyExc_ValueError, "mmap can't follow the file with trackfd=False.");
        return NULL;
    }
    /* As resize(): new operations fail with ValueError while the map may
       move, and the ones in flight (GIL released) finish first. */
    int rc;
    uint64_t length = 0;
    self->busy = 1;
    flight_add(self, 1);
    wait_for_flights(self, 1);
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_follow_file(self->map, &length);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    self->changes++;
    flight_add(self, -1);
    if (rc == MMK_EVIEWS) {
        PyErr_SetString(PyExc_BufferError,
                        "mmap can't follow the file: libmmkit reports views of the map held "
                        "outside this object");
        return NULL;
    }
    if (rc < 0)
        return mmkit_error(rc);
    return PyLong_FromUnsignedLongLong((unsigned long long)length);
}

PyDoc_STRVAR(tell_doc, "tell() -> int\n\nReturn the current position.");

static PyObject *mmap_tell_method(MmapObject *self, PyObject *unused) {
    CHECK_VALID(self, NULL);
    return PyLong_FromSsize_t(self->pos);
}

PyDoc_STRVAR(flush_doc, "flush([offset[, size]], *, flags=MS_SYNC)\n\n"
                        "Write changes in [offset, offset+size) back to the file (default: from\n"
                        "offset to the end) and wait until written. offset must be a multiple of\n"
                        "PAGESIZE (OSError otherwise, as with msync(2)). flags (as Python 3.15):\n"
                        "MS_SYNC (0 means the same) or MS_ASYNC (schedule the write and return),\n"
                        "either one optionally | MS_INVALIDATE; anything else is OSError(EINVAL).\n"
                        "Does nothing for ACCESS_READ and ACCESS_COPY maps. Runs with the GIL\n"
                        "released.");

/* Python's MS_* flags (the platform's msync values, as 3.15 exports them) to
   enum mmk_flush_flags; -1 for a combination msync(2) refuses. */
static int flush_flags_from_python(int flags, unsigned *out) {
#if defined(MS_SYNC) && defined(MS_ASYNC) && defined(MS_INVALIDATE)
    if (flags & ~(MS_SYNC | MS_ASYNC | MS_INVALIDATE))
        return -1;
    if ((flags & MS_SYNC) && (flags & MS_ASYNC))
        return -1;
    /* As msync(2) on Linux: MS_INVALIDATE alone does not wait. */
    int sync = (flags & MS_SYNC) || flags == 0;
    *out = (sync ? MMK_FLUSH_SYNC : MMK_FLUSH_ASYNC) |
           ((flags & MS_INVALIDATE) ? MMK_FLUSH_INVALIDATE : 0);
    return 0;
#else
    if (flags != 0)
        return -1;
    *out = MMK_FLUSH_SYNC;
    return 0;
#endif
}

static PyObject *mmap_flush_method(MmapObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"", "", "flags", NULL};
    Py_ssize_t offset = 0;
    Py_ssize_t size = -1;
    int flags = 0;
    CHECK_VALID(self, NULL);
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|nn$i:flush", kwlist, &offset, &size, &flags))
        return NULL;
    int size_given = PyTuple_GET_SIZE(args) >= 2;
    CHECK_VALID(self, NULL);
    Py_ssize_t msize = map_size(self);
    if (!size_given)
        size = msize - offset; /* as 3.15: flush(offset) flushes to the end */
    if (size < 0 || offset < 0 || msize - offset < size) {
        PyErr_SetString(PyExc_ValueError, "flush values out of range");
        return NULL;
    }
    unsigned lib_flags;
    if (flush_flags_from_python(flags, &lib_flags) < 0)
        return mmkit_os_error(EINVAL, "flush flags must be MS_SYNC or MS_ASYNC, optionally "
                                      "| MS_INVALIDATE");
    if (self->access == PYMM_ACCESS_READ || self->access == PYMM_ACCESS_COPY)
        Py_RETURN_NONE;
    if (self->page_rules && offset % (Py_ssize_t)mmk_page_size() != 0) {
        errno = EINVAL;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (size == 0)
        Py_RETURN_NONE; /* the library reads length 0 as "to the end" */
    if (mmkit_op_begin(self) < 0)
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_flush(self->map, (uint64_t)offset, (uint64_t)size, lib_flags);
    Py_END_ALLOW_THREADS
    mmkit_op_end(self);
    if (rc < 0)
        return mmkit_error(rc);
    Py_RETURN_NONE;
}

/* Python 3.15's limit: its 13-byte prefix "cpython:mmap:" and the name share
   the kernel's 80 bytes. mmkit names the memory NAME itself, but keeps the
   limit so that a name is valid for both modules. */
#define PYMM_NAME_MAX 66

PyDoc_STRVAR(set_name_doc,
             "set_name(name, /)\n\n"
             "Name the map's anonymous memory, shown as [anon:NAME] (or\n"
             "[anon_shmem:NAME]) in /proc/PID/maps (Linux 5.17+ with\n"
             "CONFIG_ANON_VMA_NAME). name: str of at most 66 bytes of printable ASCII\n"
             "other than \\ ` $ [ ]. ValueError for a longer name or a file-backed map,\n"
             "OSError(EINVAL) where the kernel cannot name the memory.");

static PyObject *mmap_set_name_method(MmapObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "set_name() argument must be str, not %.50s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    Py_ssize_t n;
    const char *name = PyUnicode_AsUTF8AndSize(arg, &n);
    if (name == NULL)
        return NULL;
    if ((size_t)n != strlen(name)) {
        PyErr_SetString(PyExc_ValueError, "embedded null character");
        return NULL;
    }
    CHECK_VALID(self, NULL);
    /* The order of 3.15's checks: length, then file-backed, then the kernel. */
    if (n > PYMM_NAME_MAX) {
        PyErr_SetString(PyExc_ValueError, "name is too long");
        return NULL;
    }
    uint64_t file_size;
    if (mmk_file_size(self->map, &file_size) != MMK_EANON) {
        PyErr_SetString(PyExc_ValueError, "Cannot set annotation on non-anonymous mappings");
        return NULL;
    }
    int rc = mmk_set_name(self->map, name);
    if (rc == -EINVAL)
        return mmkit_os_error(EINVAL, "set_name(): the name may hold only printable ASCII "
                                      "other than \\ ` $ [ ]");
    if (rc == MMK_ENOTSUP)
        return mmkit_os_error(EINVAL, "set_name(): this kernel cannot name this memory "
                                      "(needs Linux 5.17+ built with CONFIG_ANON_VMA_NAME; "
                                      "a memfd-backed shared map cannot be named)");
    if (rc < 0)
        return mmkit_error(rc);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(madvise_doc,
             "madvise(option[, start[, length]])\n\n"
             "Advise the kernel about [start, start+length) (default: from start to the\n"
             "end) with one of the MADV_* constants. Runs with the GIL released.");

static PyObject *mmap_madvise_method(MmapObject *self, PyObject *args) {
    int option;
    Py_ssize_t start = 0;
    CHECK_VALID(self, NULL);
    Py_ssize_t length = map_size(self);
    if (!PyArg_ParseTuple(args, "i|nn:madvise", &option, &start, &length))
        return NULL;
    CHECK_VALID(self, NULL);
    Py_ssize_t size = map_size(self);
    if (start < 0 || start >= size) {
        PyErr_SetString(PyExc_ValueError, "madvise start out of bounds");
        return NULL;
    }
    if (length < 0) {
        PyErr_SetString(PyExc_ValueError, "madvise length invalid");
        return NULL;
    }
    if (PY_SSIZE_T_MAX - start < length) {
        PyErr_SetString(PyExc_OverflowError, "madvise length too large");
        return NULL;
    }
    if (start + length > size)
        length = size - start;
    if (self->page_rules && start % (Py_ssize_t)mmk_page_size() != 0) {
        errno = EINVAL;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (length == 0)
        Py_RETURN_NONE; /* the library reads length 0 as "to the end" */
    if (mmkit_op_begin(self) < 0)
        return NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_advise_native(self->map, option, (uint64_t)start, (uint64_t)length);
    Py_END_ALLOW_THREADS
    mmkit_op_end(self);
    if (rc < 0)
        return mmkit_error(rc);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(seek_doc, "seek(pos[, whence]) -> int\n\n"
                       "Set the current position: whence 0 (os.SEEK_SET, default) from the start,\n"
                       "1 (SEEK_CUR) from the current position, 2 (SEEK_END) from the end.\n"
                       "Returns the new position. ValueError if it would leave 0..len(m).");

static PyObject *mmap_seek_method(MmapObject *self, PyObject *args) {
    Py_ssize_t dist;
    int how = 0;
    CHECK_VALID(self, NULL);
    if (!PyArg_ParseTuple(args, "n|i:seek", &dist, &how))
        return NULL;
    CHECK_VALID(self, NULL);
    Py_ssize_t size = map_size(self), where;
    switch (how) {
    case 0:
        where = dist;
        break;
    case 1:
        if (PY_SSIZE_T_MAX - self->pos < dist)
            goto out_of_range;
        where = self->pos + dist;
        break;
    case 2:
        if (PY_SSIZE_T_MAX - size < dist)
            goto out_of_range;
        where = size + dist;
        break;
    default:
        PyErr_SetString(PyExc_ValueError, "unknown seek type");
        return NULL;
    }
    if (where > size || where < 0)
        goto out_of_range;
    self->pos = where;
    return PyLong_FromSsize_t(self->pos);

out_of_range:
    PyErr_SetString(PyExc_ValueError, "seek out of range");
    return NULL;
}

PyDoc_STRVAR(seekable_doc, "seekable() -> True\n\nmmap objects are always seekable.");

static PyObject *mmap_seekable_method(MmapObject *self, PyObject *unused) {
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(move_doc, "move(dest, src, count)\n\n"
                       "Copy count bytes from offset src to offset dest inside the map (the\n"
                       "ranges may overlap). ValueError if either range leaves the map.");

static PyObject *mmap_move_method(MmapObject *self, PyObject *args) {
    Py_ssize_t dest, src, cnt;
    CHECK_VALID(self, NULL);
    if (!PyArg_ParseTuple(args, "nnn:move", &dest, &src, &cnt))
        return NULL;
    CHECK_VALID(self, NULL);
    if (!is_writable(self))
        return NULL;
    Py_ssize_t size = map_size(self);
    if (dest < 0 || src < 0 || cnt < 0 || size - dest < cnt || size - src < cnt) {
        PyErr_SetString(PyExc_ValueError, "source, destination, or count out of range");
        return NULL;
    }
    if (cnt == 0)
        Py_RETURN_NONE;
    self->changes++;
    int rc;
    if (cnt >= PYMM_NOGIL_THRESHOLD) {
        if (mmkit_op_begin(self) < 0)
            return NULL;
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_move(self->map, (uint64_t)dest, (uint64_t)src, (uint64_t)cnt);
        Py_END_ALLOW_THREADS
        mmkit_op_end(self);
    } else {
        rc = mmk_move(self->map, (uint64_t)dest, (uint64_t)src, (uint64_t)cnt);
    }
    if (rc < 0)
        return mmkit_error(rc);
    Py_RETURN_NONE;
}

static PyObject *mmap_closed_get(MmapObject *self, void *closure) {
    return PyBool_FromLong(self->map == NULL || self->closing || mmk_is_closed(self->map));
}

static PyObject *mmap_enter(MmapObject *self, PyObject *unused) {
    CHECK_VALID(self, NULL);
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *mmap_exit(MmapObject *self, PyObject *args) {
    return mmap_close_method(self, NULL);
}

static const char *access_name(int access) {
    switch (access) {
    case PYMM_ACCESS_READ:
        return "ACCESS_READ";
    case PYMM_ACCESS_WRITE:
        return "ACCESS_WRITE";
    case PYMM_ACCESS_COPY:
        return "ACCESS_COPY";
    default:
        return "ACCESS_DEFAULT";
    }
}

/* The standard module's repr; mmkit.mmap itself shows as "mmap.mmap" so that
   code (and tests) matching the standard repr keep working. */
static PyObject *mmap_repr(MmapObject *self) {
    const char *name = Py_TYPE(self)->tp_name;
    if (self->module != NULL && Py_TYPE(self) == mmkit_get_state(self->module)->mmap_type)
        name = "mmap.mmap";
    if (self->map == NULL || self->closing || mmk_is_closed(self->map))
        return PyUnicode_FromFormat("<%s closed=True>", name);
    return PyUnicode_FromFormat("<%s closed=False, access=%s, length=%zd, pos=%zd, offset=%lld>",
                                name, access_name(self->access), map_size(self), self->pos,
                                self->offset);
}

/* ------------------------------------------------------------------------ */
/* Extras: counting, searching, lines                                        */
/* ------------------------------------------------------------------------ */

/* Parse the common (pattern, start, end, regex, ignore_case, whole_word)
   arguments; on success *pat holds a pattern reference and the range is
   resolved against the current length. */
static int parse_pattern_args(MmapObject *self, PyObject *args, PyObject *kwds, const char *fmt,
                              char **kwlist, pymm_pattern **pat, unsigned *pat_flags,
                              Py_ssize_t *start, Py_ssize_t *end, int *end_given,
                              PyObject **threads_obj, int *empty) {
    Py_buffer sub;
    PyObject *start_obj = Py_None, *end_obj = Py_None;
    int regex = 0, icase = 0, word = 0;
    Py_ssize_t s = 0, e = 0;
    int s_given = 0, e_given = 0;
    int ok;
    if (threads_obj != NULL)
        ok = PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &sub, &start_obj, &end_obj,
                                         &regex, &icase, &word, threads_obj);
    else
        ok = PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &sub, &start_obj, &end_obj,
                                         &regex, &icase, &word);
    if (!ok)
        return -1;
    if (mmkit_optional_ssize(start_obj, &s, &s_given) < 0 ||
        mmkit_optional_ssize(end_obj, &e, &e_given) < 0) {
        PyBuffer_Release(&sub);
        return -1;
    }
    if (mmkit_mmap_check_valid(self) < 0) {
        PyBuffer_Release(&sub);
        return -1;
    }
    mmkit_resolve_range(map_size(self), s, s_given, e, e_given, start, end);
    if (end_given != NULL)
        *end_given = e_given;
    unsigned flags = 0;
    if (!regex)
        flags |= MMK_PAT_FIXED;
    if (icase)
        flags |= MMK_PAT_ICASE;
    if (word)
        flags |= MMK_PAT_WORD;
    *pat_flags = flags;
    if (empty != NULL)
        *empty = sub.len == 0 && !regex && !word;
    *pat = mmkit_pattern_get(self->module, sub.buf, sub.len, flags);
    PyBuffer_Release(&sub);
    return *pat == NULL ? -1 : 0;
}

PyDoc_STRVAR(count_doc, "count($self, /, sub, start=None, end=None, *, regex=False,\n"
                        "      ignore_case=False, whole_word=False, threads=None)\n"
                        "--\n"
                        "\n"
                        "Count the non-overlapping occurrences of sub in m[start:end]: exactly\n"
                        "len(re.findall(re.escape(sub), m[start:end])), or with regex=True\n"
                        "len(re.findall(sub, m[start:end])) for a Perl/Python-syntax bytes regex.\n"
                        "ignore_case: ASCII case-insensitive. whole_word: the match is neither\n"
                        "preceded nor followed by an ASCII word character [A-Za-z0-9_].\n"
                        "threads: worker threads (None: all cores). Runs with the GIL released\n"
                        "(a close() in another thread waits for it). mmkit.PatternError for an\n"
                        "invalid regex, mmkit.RegexLimitError when the regex is too complex for\n"
                        "the backtracking engine on this input, OSError if the file shrank under\n"
                        "the map.");

static PyObject *mmap_count_method(MmapObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"sub",         "start",      "end",     "regex",
                             "ignore_case", "whole_word", "threads", NULL};
    pymm_pattern *pat = NULL;
    unsigned flags = 0, threads = 0;
    Py_ssize_t start, end;
    PyObject *threads_obj = Py_None;
    CHECK_VALID(self, NULL);
    if (parse_pattern_args(self, args, kwds, "y*|OO$pppO:count", kwlist, &pat, &flags, &start, &end,
                           NULL, &threads_obj, NULL) < 0)
        return NULL;
    if (mmkit_threads_arg(threads_obj, &threads) < 0 || mmkit_mmap_check_valid(self) < 0 ||
        mmkit_op_begin(self) < 0) {
        mmkit_pattern_put(pat);
        return NULL;
    }
    mmk_scan_options opt;
    memset(&opt, 0, sizeof opt);
    int64_t limit_at = -1;
    opt.threads = threads;
    opt.error_offset = &limit_at;
    mmk_input in;
    int from_file = mmkit_scan_input(self, start, end, &in);
    uint64_t n = 0;
    const mmk_pattern *p = mmkit_pattern_ptr(pat);
    int rc;
    if (end - start >= PYMM_NOGIL_THRESHOLD / 16) {
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_count(p, &in, &opt, &n);
        if (rc < 0 && from_file && rc != MMK_ELIMIT) {
            /* The file no longer holds the range (or would not be read):
               the map gives its own answer, as if the file had not been
               used (OSError past the file's end, zeros in a cut last page). */
            in = mmk_input_map(self->map, start, end);
            rc = mmk_count(p, &in, &opt, &n);
        }
        Py_END_ALLOW_THREADS
    } else {
        rc = mmk_count(p, &in, &opt, &n);
    }
    mmkit_op_end(self);
    mmkit_pattern_put(pat);
    if (rc < 0)
        return mmkit_scan_error(self, rc, limit_at, start);
    return PyLong_FromUnsignedLongLong((unsigned long long)n);
}

/*
 * The input a scan of m[start:end] reads. Where the map's content is the
 * file's page cache (ACCESS_READ and ACCESS_WRITE maps of a regular file,
 * shared, with the descriptor kept), a long range is read from the file
 * range [offset + start, offset + end) with pread: faulting the map in costs
 * about twice as much as pread (measured with mmk count --mmap / --no-mmap,
 * see docs/python.md). Copy-on-write maps (their written pages are private),
 * anonymous maps and snapshots are scanned in place. Returns 1 for a file
 * range: a scan that fails on it is then run again over the map (the file
 * may have been truncated; the map decides what that means).
 */
int mmkit_scan_input(MmapObject *self, Py_ssize_t start, Py_ssize_t end, mmk_input *in) {
    int access = mmk_access(self->map);
    int fd = mmk_fd(self->map);
    if (end - start >= PYMM_NOGIL_THRESHOLD / 16 && self->trackfd && !self->snapshot && fd >= 0 &&
        (access == MMK_ACCESS_READ || access == MMK_ACCESS_WRITE)) {
        *in = mmk_input_fd_range(fd, mmk_offset(self->map) + (uint64_t)start,
                                 (uint64_t)(end - start));
        return 1;
    }
    *in = mmk_input_map(self->map, start, end);
    return 0;
}

PyDoc_STRVAR(grep_doc,
             "grep($self, /, pattern, start=None, end=None, *, regex=False,\n"
             "     ignore_case=False, whole_word=False, invert=False, line_numbers=False,\n"
             "     threads=None)\n"
             "--\n"
             "\n"
             "Iterate over the lines of m[start:end] that contain a match of pattern\n"
             "(grep): each line as bytes with its b'\\n' (the last line has none if the\n"
             "range does not end with one), as lines() and readline() give it. Each\n"
             "line is matched without its b'\\n', as grep does: the lines are those of\n"
             "[l for l in m.lines(start, end) if re.search(p, l.rstrip(b'\\n'))], which\n"
             "is the same as re.search(p, l) unless the pattern itself matches or looks\n"
             "at the newline (\\n, \\s, [^...], \\Z at the end of a line).\n"
             "Options as count(). invert: the lines without a match instead.\n"
             "line_numbers: yield (line_number, offset, line) tuples: line_number counts\n"
             "from 1 at start, offset is the line's map offset. The range is searched\n"
             "with every core and the GIL released, in batches of at most 16 MiB of\n"
             "lines, so memory stays bounded whatever the map's size. A batch's lines\n"
             "are as the map held them when it was searched.\n"
             "ValueError once the map is closed, OSError if the file shrank under it.");

static PyObject *mmap_grep_method(MmapObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"pattern",    "start",  "end",          "regex",   "ignore_case",
                             "whole_word", "invert", "line_numbers", "threads", NULL};
    Py_buffer sub;
    PyObject *start_obj = Py_None, *end_obj = Py_None, *threads_obj = Py_None;
    int regex = 0, icase = 0, word = 0, invert = 0, numbers = 0;
    Py_ssize_t s = 0, e = 0, start, end;
    int s_given = 0, e_given = 0;
    unsigned threads = 0;
    CHECK_VALID(self, NULL);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*|OO$pppppO:grep", kwlist, &sub, &start_obj,
                                     &end_obj, &regex, &icase, &word, &invert, &numbers,
                                     &threads_obj))
        return NULL;
    if (mmkit_optional_ssize(start_obj, &s, &s_given) < 0 ||
        mmkit_optional_ssize(end_obj, &e, &e_given) < 0 ||
        mmkit_threads_arg(threads_obj, &threads) < 0 || mmkit_mmap_check_valid(self) < 0) {
        PyBuffer_Release(&sub);
        return NULL;
    }
    mmkit_resolve_range(map_size(self), s, s_given, e, e_given, &start, &end);
    unsigned flags = MMK_PAT_LINES;
    if (!regex)
        flags |= MMK_PAT_FIXED;
    if (icase)
        flags |= MMK_PAT_ICASE;
    if (word)
        flags |= MMK_PAT_WORD;
    pymm_pattern *pat = mmkit_pattern_get(self->module, sub.buf, sub.len, flags);
    PyBuffer_Release(&sub);
    if (pat == NULL)
        return NULL;
    PyObject *it = mmkit_grep_new(self, pat, invert, numbers, threads, start, end, e_given);
    if (it == NULL)
        mmkit_pattern_put(pat);
    return it;
}

PyDoc_STRVAR(finditer_doc,
             "finditer($self, /, pattern, start=None, end=None, *, regex=False,\n"
             "         ignore_case=False, whole_word=False)\n"
             "--\n"
             "\n"
             "Iterate over the non-overlapping matches of pattern in m[start:end] as\n"
             "(start, end) spans in map offsets: the spans re.finditer() gives for\n"
             "re.escape(pattern) (or for the regex, with regex=True) over that slice.\n"
             "Options as count(). Matches are produced in batches with the GIL\n"
             "released. If the map is changed through this object (write, slice\n"
             "assignment, move, resize) during the iteration, the rest of the range is\n"
             "searched again from the end of the last span produced, so no span ever\n"
             "lies past len(m); end=None follows the map's current length.\n"
             "ValueError once the map is closed, OSError if the file shrank under it.");

static PyObject *mmap_finditer_method(MmapObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"pattern", "start", "end", "regex", "ignore_case", "whole_word", NULL};
    pymm_pattern *pat = NULL;
    unsigned flags = 0;
    Py_ssize_t start, end;
    int empty = 0, end_given = 0;
    CHECK_VALID(self, NULL);
    if (parse_pattern_args(self, args, kwds, "y*|OO$ppp:finditer", kwlist, &pat, &flags, &start,
                           &end, &end_given, NULL, &empty) < 0)
        return NULL;
    /* Literal searches can stop after a batch and resume at the last match's
       end with the same result; a regex or a whole-word test may look at bytes
       before the resume point, so those scan the range in one go. */
    int batched = (flags & MMK_PAT_FIXED) && !(flags & MMK_PAT_WORD);
    PyObject *it = mmkit_spans_new(self, pat, empty ? 1u : 0u, batched, start, end, end_given);
    if (it == NULL)
        mmkit_pattern_put(pat);
    return it;
}

static int parse_range(MmapObject *self, PyObject *args, PyObject *kwds, const char *fmt,
                       Py_ssize_t *start, Py_ssize_t *end, int *end_given) {
    static char *kwlist[] = {"start", "end", NULL};
    PyObject *start_obj = Py_None, *end_obj = Py_None;
    Py_ssize_t s = 0, e = 0;
    int s_given = 0, e_given = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &start_obj, &end_obj))
        return -1;
    if (mmkit_optional_ssize(start_obj, &s, &s_given) < 0 ||
        mmkit_optional_ssize(end_obj, &e, &e_given) < 0)
        return -1;
    if (mmkit_mmap_check_valid(self) < 0)
        return -1;
    mmkit_resolve_range(map_size(self), s, s_given, e, e_given, start, end);
    if (end_given != NULL)
        *end_given = e_given;
    return 0;
}

PyDoc_STRVAR(lines_doc, "lines($self, /, start=None, end=None)\n"
                        "--\n"
                        "\n"
                        "Iterate over the lines of m[start:end]. Each line is a bytes object that\n"
                        "includes its b'\\n', as readline() returns it; the last line has none if\n"
                        "the range does not end with a newline. The iterator keeps its own\n"
                        "position (it does not move the map's): each line is read from the map as\n"
                        "it is when the line is produced, so writes and resize() are seen, and\n"
                        "nothing past the current end is produced (end=None follows the current\n"
                        "length). OSError if the file shrank under the map; ValueError once the\n"
                        "map is closed.");

static PyObject *mmap_lines_method(MmapObject *self, PyObject *args, PyObject *kwds) {
    Py_ssize_t start, end;
    int end_given = 0;
    CHECK_VALID(self, NULL);
    if (parse_range(self, args, kwds, "|OO:lines", &start, &end, &end_given) < 0)
        return NULL;
    return mmkit_lines_new(self, start, end, end_given);
}

PyDoc_STRVAR(line_count_doc,
             "line_count($self, /, start=None, end=None)\n"
             "--\n"
             "\n"
             "The number of lines lines(start, end) yields: the number of b'\\n' in\n"
             "m[start:end], plus one if the range is not empty and does not end with a\n"
             "newline. Multi-threaded, GIL released.");

static PyObject *mmap_line_count_method(MmapObject *self, PyObject *args, PyObject *kwds) {
    Py_ssize_t start, end;
    CHECK_VALID(self, NULL);
    if (parse_range(self, args, kwds, "|OO:line_count", &start, &end, NULL) < 0)
        return NULL;
    if (start == end)
        return PyLong_FromLong(0);
    unsigned char last;
    if (copy_out(self, end - 1, &last, 1) < 0 || mmkit_op_begin(self) < 0)
        return NULL;
    mmk_input in = mmk_input_map(self->map, start, end);
    uint64_t n = 0;
    int rc;
    if (end - start >= PYMM_NOGIL_THRESHOLD / 16) {
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_count_lines(&in, NULL, &n);
        Py_END_ALLOW_THREADS
    } else {
        rc = mmk_count_lines(&in, NULL, &n);
    }
    mmkit_op_end(self);
    if (rc < 0)
        return mmkit_error(rc);
    if (last != '\n')
        n += 1;
    return PyLong_FromUnsignedLongLong((unsigned long long)n);
}

/* ------------------------------------------------------------------------ */
/* Sequence, mapping and buffer protocols                                    */
/* ------------------------------------------------------------------------ */

static Py_ssize_t mmap_length(MmapObject *self) {
    CHECK_VALID(self, -1);
    return map_size(self);
}

/* m[i] through the sequence protocol (iteration): a 1-byte bytes object. */
static PyObject *mmap_item(MmapObject *self, Py_ssize_t i) {
    CHECK_VALID(self, NULL);
    if (i < 0 || i >= map_size(self)) {
        PyErr_SetString(PyExc_IndexError, "mmap index out of range");
        return NULL;
    }
    return bytes_from_map(self, i, 1);
}

static int mmap_ass_item(MmapObject *self, Py_ssize_t i, PyObject *v) {
    CHECK_VALID(self, -1);
    if (i < 0 || i >= map_size(self)) {
        PyErr_SetString(PyExc_IndexError, "mmap index out of range");
        return -1;
    }
    if (v == NULL) {
        PyErr_SetString(PyExc_TypeError, "mmap object doesn't support item deletion");
        return -1;
    }
    if (!(PyBytes_Check(v) && PyBytes_GET_SIZE(v) == 1)) {
        PyErr_SetString(PyExc_IndexError, "mmap assignment must be length-1 bytes()");
        return -1;
    }
    if (!is_writable(self))
        return -1;
    return copy_in(self, i, PyBytes_AS_STRING(v), 1);
}

/*
 * `x in m`. The standard type has no __contains__, so Python iterates and
 * compares each 1-byte bytes item with x; this gives the same answers, with a
 * guarded memchr for the common case of a bytes object.
 */
static int mmap_contains(MmapObject *self, PyObject *x) {
    CHECK_VALID(self, -1);
    Py_ssize_t size = map_size(self);
    if (PyBytes_CheckExact(x)) {
        if (PyBytes_GET_SIZE(x) != 1)
            return 0;
        int64_t at = -1;
        int rc;
        if (size >= PYMM_NOGIL_THRESHOLD) {
            if (mmkit_op_begin(self) < 0)
                return -1;
            Py_BEGIN_ALLOW_THREADS
            rc = mmk_find(self->map, PyBytes_AS_STRING(x), 1, 0, size, &at);
            Py_END_ALLOW_THREADS
            mmkit_op_end(self);
        } else {
            rc = mmk_find(self->map, PyBytes_AS_STRING(x), 1, 0, size, &at);
        }
        if (rc < 0) {
            mmkit_error(rc);
            return -1;
        }
        return at >= 0;
    }
    if (PyLong_CheckExact(x))
        return 0; /* bytes == int is always False */
    for (Py_ssize_t i = 0;; i++) {
        CHECK_VALID(self, -1);
        if (i >= map_size(self))
            return 0;
        PyObject *item = bytes_from_map(self, i, 1);
        if (item == NULL)
            return -1;
        int cmp = PyObject_RichCompareBool(item, x, Py_EQ);
        Py_DECREF(item);
        if (cmp != 0)
            return cmp;
    }
}

/* Gather the bytes of a slice with a step other than 1 into out. */
static int gather_step(MmapObject *self, Py_ssize_t start, Py_ssize_t step, Py_ssize_t n,
                       char *out) {
    Py_ssize_t first = step > 0 ? start : start + (n - 1) * step;
    Py_ssize_t span = (n - 1) * (step > 0 ? step : -step) + 1;
    if (span <= ((Py_ssize_t)1 << 16) || span / 4 <= n) {
        /* Dense enough: one guarded copy of the whole span. */
        char *tmp = PyMem_Malloc((size_t)span);
        if (tmp == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        if (copy_out(self, first, tmp, span) < 0) {
            PyMem_Free(tmp);
            return -1;
        }
        Py_ssize_t cur = start - first;
        for (Py_ssize_t i = 0; i < n; i++) {
            out[i] = tmp[cur];
            if (i + 1 < n)
                cur += step; /* never past the last item: a huge step would overflow */
        }
        PyMem_Free(tmp);
        return 0;
    }
    Py_ssize_t cur = start;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (copy_out(self, cur, out + i, 1) < 0)
            return -1;
        if (i + 1 < n)
            cur += step;
    }
    return 0;
}

static PyObject *mmap_subscript(MmapObject *self, PyObject *item) {
    CHECK_VALID(self, NULL);
    if (PyIndex_Check(item)) {
        Py_ssize_t i = PyNumber_AsSsize_t(item, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            return NULL;
        CHECK_VALID(self, NULL);
        Py_ssize_t size = map_size(self);
        if (i < 0)
            i += size;
        if (i < 0 || i >= size) {
            PyErr_SetString(PyExc_IndexError, "mmap index out of range");
            return NULL;
        }
        unsigned char c;
        if (copy_out(self, i, &c, 1) < 0)
            return NULL;
        return PyLong_FromLong((long)c);
    }
    if (PySlice_Check(item)) {
        Py_ssize_t start, stop, step;
        if (PySlice_Unpack(item, &start, &stop, &step) < 0)
            return NULL;
        CHECK_VALID(self, NULL);
        Py_ssize_t slicelen = PySlice_AdjustIndices(map_size(self), &start, &stop, step);
        if (slicelen <= 0)
            return PyBytes_FromStringAndSize(NULL, 0);
        if (step == 1)
            return bytes_from_map(self, start, slicelen);
        PyObject *result = PyBytes_FromStringAndSize(NULL, slicelen);
        if (result == NULL)
            return NULL;
        if (gather_step(self, start, step, slicelen, PyBytes_AS_STRING(result)) < 0) {
            Py_DECREF(result);
            return NULL;
        }
        return result;
    }
    PyErr_SetString(PyExc_TypeError, "mmap indices must be integers");
    return NULL;
}

static int mmap_ass_subscript(MmapObject *self, PyObject *item, PyObject *value) {
    CHECK_VALID(self, -1);
    if (!is_writable(self))
        return -1;
    if (PyIndex_Check(item)) {
        Py_ssize_t i = PyNumber_AsSsize_t(item, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            return -1;
        CHECK_VALID(self, -1);
        Py_ssize_t size = map_size(self);
        if (i < 0)
            i += size;
        if (i < 0 || i >= size) {
            PyErr_SetString(PyExc_IndexError, "mmap index out of range");
            return -1;
        }
        if (value == NULL) {
            PyErr_SetString(PyExc_TypeError, "mmap doesn't support item deletion");
            return -1;
        }
        if (!PyIndex_Check(value)) {
            PyErr_SetString(PyExc_TypeError, "mmap item value must be an int");
            return -1;
        }
        Py_ssize_t v = PyNumber_AsSsize_t(value, PyExc_TypeError);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (v < 0 || v > 255) {
            PyErr_SetString(PyExc_ValueError, "mmap item value must be in range(0, 256)");
            return -1;
        }
        CHECK_VALID(self, -1);
        unsigned char c = (unsigned char)v;
        return copy_in(self, i, &c, 1);
    }
    if (PySlice_Check(item)) {
        Py_ssize_t start, stop, step;
        Py_buffer vbuf;
        if (PySlice_Unpack(item, &start, &stop, &step) < 0)
            return -1;
        CHECK_VALID(self, -1);
        Py_ssize_t slicelen = PySlice_AdjustIndices(map_size(self), &start, &stop, step);
        if (value == NULL) {
            PyErr_SetString(PyExc_TypeError, "mmap object doesn't support slice deletion");
            return -1;
        }
        if (PyObject_GetBuffer(value, &vbuf, PyBUF_SIMPLE) < 0)
            return -1;
        if (vbuf.len != slicelen) {
            PyErr_SetString(PyExc_IndexError, "mmap slice assignment is wrong size");
            PyBuffer_Release(&vbuf);
            return -1;
        }
        CHECK_VALID_OR_RELEASE(self, -1, vbuf);
        int rc = 0;
        if (slicelen == 0) {
            /* nothing to do */
        } else if (step == 1) {
            rc = copy_in(self, start, vbuf.buf, slicelen);
        } else {
            const char *src = (const char *)vbuf.buf;
            /* No `cur += step` after the last item: with a huge step it
               would overflow. */
            Py_ssize_t cur = start;
            for (Py_ssize_t i = 0; i < slicelen && rc == 0; i++) {
                rc = copy_in(self, cur, src + i, 1);
                if (i + 1 < slicelen)
                    cur += step;
            }
        }
        PyBuffer_Release(&vbuf);
        return rc;
    }
    PyErr_SetString(PyExc_TypeError, "mmap indices must be integer");
    return -1;
}

/* Where a zero-length map's buffer points: never dereferenced, but not NULL. */
static char empty_buffer[1];

/*
 * Export the map's memory. Each export holds a library view, so the map
 * cannot be closed or resized under it, and bumps `exports` for the standard
 * module's messages. The pointer is raw: reading it after the file shrank is
 * a SIGBUS, which no library can prevent.
 */
static int mmap_getbuffer(MmapObject *self, Py_buffer *view, int flags) {
    CHECK_VALID(self, -1);
    void *data = NULL;
    uint64_t len = 0;
    int rc = mmk_view_acquire(self->map, &data, &len);
    if (rc < 0) {
        mmkit_error(rc);
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, data != NULL ? data : empty_buffer,
                          (Py_ssize_t)len, self->access == PYMM_ACCESS_READ, flags) < 0) {
        mmk_view_release(self->map);
        return -1;
    }
    self->exports++;
    return 0;
}

static void mmap_releasebuffer(MmapObject *self, Py_buffer *view) {
    self->exports--;
    mmk_view_release(self->map);
}

/* ------------------------------------------------------------------------ */
/* The type                                                                  */
/* ------------------------------------------------------------------------ */

static PyMethodDef mmap_methods[] = {
    {"close", METH(mmap_close_method), METH_NOARGS, close_doc},
    {"find", METH(mmap_find_method), METH_FASTCALL, find_doc},
    {"rfind", METH(mmap_rfind_method), METH_FASTCALL, rfind_doc},
    {"flush", METH(mmap_flush_method), METH_VARARGS | METH_KEYWORDS, flush_doc},
    {"madvise", METH(mmap_madvise_method), METH_VARARGS, madvise_doc},
    {"move", METH(mmap_move_method), METH_VARARGS, move_doc},
    {"read", METH(mmap_read_method), METH_VARARGS, read_doc},
    {"read_byte", METH(mmap_read_byte_method), METH_NOARGS, read_byte_doc},
    {"readline", METH(mmap_readline_method), METH_NOARGS, readline_doc},
    {"resize", METH(mmap_resize_method), METH_VARARGS, resize_doc},
    {"follow_file", METH(mmap_follow_file_method), METH_NOARGS, follow_file_doc},
    {"seek", METH(mmap_seek_method), METH_VARARGS, seek_doc},
    {"seekable", METH(mmap_seekable_method), METH_NOARGS, seekable_doc},
    {"set_name", METH(mmap_set_name_method), METH_O, set_name_doc},
    {"size", METH(mmap_size_method), METH_NOARGS, size_doc},
    {"tell", METH(mmap_tell_method), METH_NOARGS, tell_doc},
    {"write", METH(mmap_write_method), METH_VARARGS, write_doc},
    {"write_byte", METH(mmap_write_byte_method), METH_VARARGS, write_byte_doc},
    {"__enter__", METH(mmap_enter), METH_NOARGS,
     "__enter__() -> self\n\nContext manager entry; ValueError if closed."},
    {"__exit__", METH(mmap_exit), METH_VARARGS,
     "__exit__(*exc_info)\n\nContext manager exit: close()."},
    {"__bytes__", METH(mmap_bytes_method), METH_NOARGS, bytes_doc},
    {"readinto", METH(mmap_readinto_method), METH_VARARGS | METH_KEYWORDS, readinto_doc},
    {"count", METH(mmap_count_method), METH_VARARGS | METH_KEYWORDS, count_doc},
    {"grep", METH(mmap_grep_method), METH_VARARGS | METH_KEYWORDS, grep_doc},
    {"finditer", METH(mmap_finditer_method), METH_VARARGS | METH_KEYWORDS, finditer_doc},
    {"lines", METH(mmap_lines_method), METH_VARARGS | METH_KEYWORDS, lines_doc},
    {"line_count", METH(mmap_line_count_method), METH_VARARGS | METH_KEYWORDS, line_count_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef mmap_getset[] = {
    {"closed", (getter)mmap_closed_get, NULL, "True once the map has been closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef mmap_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(MmapObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(mmap_doc,
             "mmap(fileno, length, flags=MAP_SHARED, prot=PROT_WRITE|PROT_READ,\n"
             "     access=ACCESS_DEFAULT, offset=0, *, trackfd=True)\n"
             "\n"
             "Map length bytes of the file open as fileno, starting at offset (a\n"
             "multiple of ALLOCATIONGRANULARITY), exactly as the standard mmap.mmap.\n"
             "fileno -1 maps anonymous memory. length 0 maps the whole file from offset.\n"
             "access is ACCESS_READ, ACCESS_WRITE or ACCESS_COPY (or give flags and\n"
             "prot instead). trackfd=False does not duplicate the descriptor (then\n"
             "size() and resize() are unavailable).\n"
             "\n"
             "Works like a bytearray and a file: indexing, slicing, len(), iteration,\n"
             "read/write/seek, find/rfind, the buffer protocol (re works on it). Unlike\n"
             "the standard type, reading a map whose file was truncated raises OSError\n"
             "instead of crashing with SIGBUS. Extras: count(), finditer(), lines(),\n"
             "line_count(), readinto(); see also mmkit.open() and mmkit.word_counts().");

static PyType_Slot mmap_slots[] = {
    {Py_tp_new, mmap_new},
    {Py_tp_dealloc, mmap_dealloc},
    {Py_tp_traverse, mmap_traverse},
    {Py_tp_clear, mmap_clear},
    {Py_tp_repr, mmap_repr},
    {Py_tp_doc, (void *)mmap_doc},
    {Py_tp_methods, mmap_methods},
    {Py_tp_members, mmap_members},
    {Py_tp_getset, mmap_getset},
    {Py_sq_length, mmap_length},
    {Py_sq_item, mmap_item},
    {Py_sq_ass_item, mmap_ass_item},
    {Py_sq_contains, mmap_contains},
    {Py_mp_length, mmap_length},
    {Py_mp_subscript, mmap_subscript},
    {Py_mp_ass_subscript, mmap_ass_subscript},
    {Py_bf_getbuffer, mmap_getbuffer},
    {Py_bf_releasebuffer, mmap_releasebuffer},
    {0, NULL},
};

PyType_Spec mmkit_mmap_spec = {
    .name = "mmkit.mmap",
    .basicsize = sizeof(MmapObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = mmap_slots,
};
