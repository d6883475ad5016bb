/*
 * mmkit_module.h — declarations shared by the files of the `mmkit` extension
 * module (mmkitmodule.c, mmkit_mmap.c, mmkit_iter.c, mmkit_search.c, ...).
 * Not installed.
 *
 * The extension is written against include/mmkit.h only, as any outside user
 * of libmmkit would be. One source builds for CPython 3.9 to 3.13; APIs that
 * appeared later are guarded with PY_VERSION_HEX.
 */
#ifndef MMKIT_MODULE_H
#define MMKIT_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#include "mmkit.h"

/* A method's C function as the PyMethodDef member (through void (*)(void), so
   compilers accept the different parameter types). */
#define METH(f) ((PyCFunction)(void (*)(void))(f))

/* Python's access constants (same numbers as the standard mmap module). */
enum { PYMM_ACCESS_DEFAULT = 0, PYMM_ACCESS_READ = 1, PYMM_ACCESS_WRITE = 2, PYMM_ACCESS_COPY = 3 };

/* Ranges at least this long are searched/copied with the GIL released (and a
   library view held so the map cannot be closed or resized meanwhile). Shorter
   ones run with the GIL held: the view and the GIL round trip would cost more
   than the work. */
#define PYMM_NOGIL_THRESHOLD ((Py_ssize_t)1 << 20)

/* Per-module state: the heap types and the module's own exceptions. */
typedef struct {
    PyTypeObject *mmap_type;
    PyTypeObject *lines_type;
    PyTypeObject *spans_type;
    PyTypeObject *grep_type;
    PyTypeObject *line_type;        /* mmkit.Line (mmkit_search.c) */
    PyTypeObject *search_iter_type; /* search_iter()'s iterator (mmkit_search.c) */
    PyObject *pattern_error;        /* mmkit.PatternError(ValueError) */
    PyObject *limit_error;          /* mmkit.RegexLimitError(RuntimeError) */
} mmkit_state;

/*
 * The mmap object. `map` is owned (mmk_free in dealloc); it is NULL only for
 * an object whose construction failed. The cursor lives here rather than in
 * the library so that Python's exact rules hold (a cursor left past the end
 * by resize() stays where it was, as in CPython).
 */
typedef struct {
    PyObject_HEAD mmk_map *map;
    Py_ssize_t pos;     /* cursor; may exceed the length after resize() */
    Py_ssize_t exports; /* outstanding buffer exports (each holds a library view) */
    long long offset;   /* file offset the map starts at (for repr) */
    int access;         /* PYMM_ACCESS_* as the caller asked for it */
    int trackfd;        /* 0: trackfd=False (no size(), no resize()) */
    int page_rules;     /* created by the standard constructor: flush/madvise
                           offsets must be page multiples, as with mmap(2) */
    int busy;           /* a resize() with the GIL released is in progress */
    int closing;        /* close() has begun: new operations fail as on a closed map */
    int snapshot;       /* content read from a file whose size lies (procfs, sysfs) */
    /* Operations running with the GIL released (each holds a library view),
       and threads waiting for them to finish (close, resize). Both are only
       touched under the flight lock in mmkit_mmap.c. */
    Py_ssize_t inflight;
    Py_ssize_t flight_waiters;
    unsigned long flight_epoch; /* fork epoch the counts belong to */
    unsigned long long changes; /* bumped by every change made through this object
                                   (writes, move, resize, close): iterators compare it */
    PyObject *weakreflist;
    PyObject *module; /* strong reference: where the heap types live */
} MmapObject;

/*
 * What a library error code refers to, for mmkit_raise(). Every field is
 * optional (zero / NULL / -1 for "not known").
 */
typedef struct {
    PyObject *module;              /* borrowed: where mmkit's own exception types live */
    PyObject *path;                /* borrowed: the file the call was about */
    int64_t limit_offset;          /* MMK_ELIMIT: map/input offset of the failing search */
    const mmk_pattern_error *perr; /* MMK_EPATTERN: where and why compilation failed */
    PyObject *pattern;             /* borrowed: the pattern (bytes) for PatternError.pattern */
} mmkit_errctx;

/* A compiled pattern shared through the module's small LRU cache. */
typedef struct pymm_pattern pymm_pattern;

/* mmkitmodule.c */
extern PyModuleDef mmkit_module_def;
mmkit_state *mmkit_get_state(PyObject *module);
PyObject *mmkit_module_of_type(PyTypeObject *type);
PyObject *mmkit_raise(int rc, const mmkit_errctx *ctx);
PyObject *mmkit_error(int rc);
PyObject *mmkit_os_error(int err, const char *message);
pymm_pattern *mmkit_pattern_get(PyObject *module, const void *bytes, Py_ssize_t len,
                                unsigned flags);
const mmk_pattern *mmkit_pattern_ptr(pymm_pattern *p);
void mmkit_pattern_put(pymm_pattern *p);
int mmkit_optional_ssize(PyObject *obj, Py_ssize_t *out, int *given);
int mmkit_threads_arg(PyObject *obj, unsigned *out);
/* Open the path-like `path` for reading (a directory: EISDIR): the descriptor,
   or -1 with OSError(filename=path) raised. The GIL is released meanwhile. */
int mmkit_open_path_read(PyObject *path);

/* mmkit_mmap.c */
extern PyType_Spec mmkit_mmap_spec;
int mmkit_mmap_check_valid(MmapObject *self);
int mmkit_op_begin(MmapObject *self);
void mmkit_op_end(MmapObject *self);
PyObject *mmkit_scan_error(MmapObject *self, int rc, int64_t input_offset, Py_ssize_t base);
PyObject *mmkit_read_line(MmapObject *self, Py_ssize_t from, Py_ssize_t end, Py_ssize_t *stop);
void mmkit_fork_child(void);
int mmkit_scan_input(MmapObject *self, Py_ssize_t start, Py_ssize_t end, mmk_input *in);
PyObject *mmkit_mmap_from_map(PyObject *module, mmk_map *map, int access, long long offset);
PyObject *mmkit_mmap_from_map_type(PyObject *module, PyTypeObject *type, mmk_map *map, int access,
                                   long long offset);
void mmkit_resolve_range(Py_ssize_t size, Py_ssize_t start, int start_given, Py_ssize_t end,
                         int end_given, Py_ssize_t *out_start, Py_ssize_t *out_end);

/* mmkit_iter.c */
extern PyType_Spec mmkit_lines_spec;
extern PyType_Spec mmkit_spans_spec;
extern PyType_Spec mmkit_grep_spec;
PyObject *mmkit_lines_new(MmapObject *map, Py_ssize_t start, Py_ssize_t end, int end_given);
PyObject *mmkit_spans_new(MmapObject *map, pymm_pattern *pat, unsigned pat_flags, int batched,
                          Py_ssize_t start, Py_ssize_t end, int end_given);
PyObject *mmkit_grep_new(MmapObject *map, pymm_pattern *pat, int invert, int numbers,
                         unsigned threads, Py_ssize_t start, Py_ssize_t end, int end_given);

/* mmkit_search.c: search(), search_iter(), count_by(), time_range(), Line. */
int mmkit_search_init(PyObject *module);

/* mmkit_part.c: count_part(), count_part_fix() (what mmkit.dask runs). */
int mmkit_part_init(PyObject *module);

/* mmkit_shm.c */
int mmkit_shm_init(PyObject *module);
/* mmkit_guard.c: guard_install/guard_rearm, and the re-arm after signal.signal() and faulthandler.
 */
int mmkit_guard_init(PyObject *module);
/* mmkit_os.c: the module's calls to the operating system beyond the library
   (files by descriptor, the clock, sleeping, the process id) and the platform
   facts (Linux knowledge only there). None of these touch the GIL: callers
   release it around the ones that may block. */
enum { MMKIT_OS_OTHER = 0, MMKIT_OS_REGULAR, MMKIT_OS_DIRECTORY, MMKIT_OS_ZERO_DEVICE };
typedef struct {
    int kind;      /* MMKIT_OS_* (ZERO_DEVICE: /dev/zero, mapping it asks for anonymous memory) */
    uint64_t size; /* bytes, for a regular file */
} mmkit_os_fileinfo;
/* What fd is. 0, or an errno value. */
int mmkit_os_fstat(int fd, mmkit_os_fileinfo *out);
/* Open path for reading (close-on-exec, no controlling terminal); a directory
   is refused with EISDIR. The descriptor, or -1 with *err set. */
int mmkit_os_open_read(const char *path, int *err);
void mmkit_os_close(int fd);
/* Read up to n bytes at offset (retrying interrupted and short reads): the
   number read (less than n only at the end of the file), or -errno. */
int64_t mmkit_os_pread(int fd, void *buf, size_t n, uint64_t offset);
/* Read up to n bytes from the descriptor's position (retrying interrupted
   reads): the number read (0 at the end), or -errno. */
int64_t mmkit_os_read(int fd, void *buf, size_t n);
/* A monotonic clock in seconds; sleep about `ns` nanoseconds; the process id. */
double mmkit_os_monotonic(void);
void mmkit_os_sleep_ns(long ns);
long mmkit_os_pid(void);
/* Back the pages of fresh private memory [p, p + n) in one call instead of a
   fault per page (Linux 5.14+: MADV_POPULATE_WRITE; elsewhere nothing).
   Without the GIL is fine. */
void mmkit_os_prefault(void *p, size_t n);
/* 1 when path is a regular file whose st_size is not the size of what read()
   returns (procfs reports 0, sysfs 4096, ...): mmkit.open() reads those
   instead of mapping them. 0 otherwise, also when the path cannot be looked at. */
int mmkit_os_size_lies(const char *path);

#endif
