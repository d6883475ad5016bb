/*
 * mmkitmodule.c — the `mmkit` extension module: a drop-in superset of
 * Python's standard `mmap` module over libmmkit.
 *
 * This file holds the module itself: multi-phase initialisation, the
 * constants the standard module exports, the mapping of library error codes
 * to Python exceptions, the small cache of compiled patterns, and the
 * module-level functions open() and word_counts(). The mmap type is in
 * mmkit_mmap.c and the lines()/finditer() iterators in mmkit_iter.c.
 */
#include "mmkit_module.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

/* ------------------------------------------------------------------------ */
/* Module state                                                              */
/* ------------------------------------------------------------------------ */

mmkit_state *mmkit_get_state(PyObject *module) {
    return (mmkit_state *)PyModule_GetState(module);
}

/*
 * The mmkit module a type belongs to: the type itself or the first heap type
 * of this module in its MRO (a Python subclass of mmkit.mmap has no module of
 * its own). Returns a borrowed reference, or NULL with TypeError set.
 * (PyType_GetModuleByDef does this from 3.11 on; this works on 3.9 too.)
 */
PyObject *mmkit_module_of_type(PyTypeObject *type) {
    PyObject *mro = type->tp_mro;
    if (mro != NULL && PyTuple_Check(mro)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
            PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
            if (!PyType_HasFeature(base, Py_TPFLAGS_HEAPTYPE))
                continue;
            PyObject *mod = ((PyHeapTypeObject *)base)->ht_module;
            if (mod != NULL && PyModule_GetDef(mod) == &mmkit_module_def)
                return mod;
        }
    }
    PyErr_SetString(PyExc_TypeError, "type is not an mmkit.mmap type");
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

static PyObject *none_ref(void) {
    Py_INCREF(Py_None);
    return Py_None;
}

/* Set exc(message) and attach attributes: `names` and `values` pair up. */
static void raise_with_attrs(PyObject *exc, PyObject *message, int n, const char *const *names,
                             PyObject *const *values) {
    PyObject *err = message != NULL ? PyObject_CallOneArg(exc, message) : NULL;
    if (err != NULL) {
        for (int i = 0; i < n; i++) {
            if (PyObject_SetAttrString(err, names[i], values[i]) < 0) {
                Py_CLEAR(err);
                break;
            }
        }
    }
    if (err != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(err), err);
        Py_DECREF(err);
    }
}

/* MMK_EPATTERN: mmkit.PatternError(ValueError) with re.error's attributes
   (msg, pattern, pos) and `offset` (the same as pos). */
static PyObject *raise_pattern_error(const mmkit_errctx *ctx) {
    PyObject *exc = PyExc_ValueError;
    if (ctx->module != NULL && mmkit_get_state(ctx->module)->pattern_error != NULL)
        exc = mmkit_get_state(ctx->module)->pattern_error;
    const mmk_pattern_error *perr = ctx->perr;
    int have_reason = perr != NULL && perr->message[0];
    const char *why = have_reason ? perr->message : mmk_strerror(MMK_EPATTERN);
    long long at = perr != NULL ? (long long)perr->offset : -1;
    PyObject *message;
    if (at >= 0)
        message = PyUnicode_FromFormat("invalid pattern at offset %lld: %s", at, why);
    else if (have_reason)
        message = PyUnicode_FromFormat("invalid pattern: %s", why);
    else
        message = PyUnicode_FromString(why);
    PyObject *msg = PyUnicode_FromString(why);
    PyObject *pos = at >= 0 ? PyLong_FromLongLong(at) : none_ref();
    if (message != NULL && msg != NULL && pos != NULL) {
        const char *names[] = {"msg", "pattern", "pos", "offset"};
        PyObject *values[] = {msg, ctx->pattern != NULL ? ctx->pattern : Py_None, pos, pos};
        raise_with_attrs(exc, message, 4, names, values);
    }
    Py_XDECREF(message);
    Py_XDECREF(msg);
    Py_XDECREF(pos);
    return NULL;
}

/* MMK_ELIMIT: mmkit.RegexLimitError(RuntimeError) saying where. */
static PyObject *raise_limit_error(const mmkit_errctx *ctx) {
    PyObject *exc = PyExc_RuntimeError;
    if (ctx->module != NULL && mmkit_get_state(ctx->module)->limit_error != NULL)
        exc = mmkit_get_state(ctx->module)->limit_error;
    long long at = (long long)ctx->limit_offset;
    PyObject *message =
        at >= 0 ? PyUnicode_FromFormat("pattern too complex for the backtracking engine on this "
                                       "input at byte %lld (PCRE2's match, depth or heap limit "
                                       "was reached)",
                                       at)
                : PyUnicode_FromString("pattern too complex for the backtracking engine on this "
                                       "input (PCRE2's match, depth or heap limit was reached)");
    PyObject *offset = at >= 0 ? PyLong_FromLongLong(at) : none_ref();
    if (message != NULL && offset != NULL) {
        const char *names[] = {"offset"};
        PyObject *values[] = {offset};
        raise_with_attrs(exc, message, 1, names, values);
    }
    Py_XDECREF(message);
    Py_XDECREF(offset);
    return NULL;
}

/* OSError(err, text[, path]): OSError picks the subclass for err. */
static PyObject *raise_os_error(int err, const char *text, PyObject *path) {
    PyObject *args =
        path != NULL ? Py_BuildValue("(isO)", err, text, path) : Py_BuildValue("(is)", err, text);
    if (args != NULL) {
        PyErr_SetObject(PyExc_OSError, args);
        Py_DECREF(args);
    }
    return NULL;
}

/* ValueError naming the file when one is known. */
static PyObject *raise_value_error(const char *text, PyObject *path) {
    if (path != NULL)
        PyErr_Format(PyExc_ValueError, "%s: %R", text, path);
    else
        PyErr_SetString(PyExc_ValueError, text);
    return NULL;
}

/*
 * The one place where a library error code becomes a Python exception, with
 * the standard module's exception type wherever one exists:
 *   MMK_ECLOSED                  ValueError("mmap closed or invalid")
 *   MMK_EFAULT                   OSError(EFAULT): the file shrank under the map
 *   MMK_EVIEWS                   BufferError
 *   MMK_EREADONLY                TypeError (as the standard module)
 *   MMK_ERANGE/EOFFSET/ELENGTH   ValueError
 *   MMK_EPATTERN                 mmkit.PatternError (a ValueError)
 *   MMK_ELIMIT                   mmkit.RegexLimitError (a RuntimeError)
 *   MMK_ENOTSUP                  OSError(EOPNOTSUPP)
 *   MMK_EACCESSMODE              OSError(EACCES), as mmap(2) says
 *   MMK_ENOTREG                  OSError(ENODEV), as mmap(2) says
 *   MMK_EPAGEALIGN               OSError(EINVAL)
 *   MMK_EANON                    OSError(EBADF), as the standard module's fstat(-1)
 *   other -errno                 OSError(errno) (its subclass), with the path if known
 * `ctx` may be NULL. Returns NULL.
 */
PyObject *mmkit_raise(int rc, const mmkit_errctx *ctx) {
    static const mmkit_errctx none = {NULL, NULL, -1, NULL, NULL};
    if (ctx == NULL)
        ctx = &none;
    switch (rc) {
    case MMK_ECLOSED:
        PyErr_SetString(PyExc_ValueError, "mmap closed or invalid");
        return NULL;
    case MMK_EFAULT:
        return raise_os_error(EFAULT, mmk_strerror(rc), ctx->path);
    case MMK_EVIEWS:
        PyErr_SetString(PyExc_BufferError, mmk_strerror(rc));
        return NULL;
    case MMK_EREADONLY:
        PyErr_SetString(PyExc_TypeError, "mmap can't modify a readonly memory map.");
        return NULL;
    case MMK_ERANGE:
    case MMK_EOFFSET:
    case MMK_ELENGTH:
        return raise_value_error(mmk_strerror(rc), ctx->path);
    case MMK_EPATTERN:
        return raise_pattern_error(ctx);
    case MMK_ELIMIT:
        return raise_limit_error(ctx);
    case MMK_ENOTSUP:
        return raise_os_error(EOPNOTSUPP, mmk_strerror(rc), ctx->path);
    case MMK_EACCESSMODE:
        return raise_os_error(EACCES, strerror(EACCES), ctx->path);
    case MMK_ENOTREG:
        return raise_os_error(ENODEV, mmk_strerror(rc), ctx->path);
    case MMK_EPAGEALIGN:
        return raise_os_error(EINVAL, mmk_strerror(rc), ctx->path);
    case MMK_EANON:
        return raise_os_error(EBADF, strerror(EBADF), ctx->path);
    default:
        break;
    }
    if (rc < 0 && rc > -4096) {
        errno = -rc;
        if (ctx->path != NULL)
            return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, ctx->path);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyErr_Format(PyExc_OSError, "%s (%s)", mmk_strerror(rc), mmk_errname(rc));
    return NULL;
}

/* mmkit_raise without context. */
PyObject *mmkit_error(int rc) {
    return mmkit_raise(rc, NULL);
}

/* Raise OSError(err, message); OSError picks the subclass for err. Returns NULL. */
PyObject *mmkit_os_error(int err, const char *message) {
    return raise_os_error(err, message, NULL);
}

/* ------------------------------------------------------------------------ */
/* Argument helpers                                                          */
/* ------------------------------------------------------------------------ */

/*
 * Convert an optional slice-style index: None (or NULL) means "not given";
 * integers out of Py_ssize_t range are clamped, as slice indices are.
 * Returns 0, or -1 with TypeError set.
 */
int mmkit_optional_ssize(PyObject *obj, Py_ssize_t *out, int *given) {
    if (obj == NULL || obj == Py_None) {
        *given = 0;
        *out = 0;
        return 0;
    }
    if (!PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "start and end must be integers or None, not '%.200s'",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t v = PyNumber_AsSsize_t(obj, NULL);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = v;
    *given = 1;
    return 0;
}

/* threads=None (all cores) or a positive integer. Returns 0 or -1 with an error set. */
int mmkit_threads_arg(PyObject *obj, unsigned *out) {
    if (obj == NULL || obj == Py_None) {
        *out = 0;
        return 0;
    }
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "threads must be an int or None, not '%.200s'",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    long v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 1 || v > 4096) {
        PyErr_SetString(PyExc_ValueError, "threads must be between 1 and 4096 (or None)");
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Pattern cache                                                             */
/* ------------------------------------------------------------------------ */

/*
 * Compiling a regex (PCRE2 with JIT) costs far more than a short search, and
 * loops like `for w in words: mm.count(w)` repeat patterns, so the last few
 * compiled patterns are kept. Entries are reference counted because a scan
 * running with the GIL released keeps using its pattern while another thread
 * may push it out of the cache. The table and the counts are only touched
 * with the GIL held.
 */
struct pymm_pattern {
    mmk_pattern *pat;
    char *key;
    Py_ssize_t len;
    unsigned flags;
    unsigned long long last_use;
    int refs; /* users, plus one while the entry is in the table */
};

#define PATTERN_CACHE_SLOTS 16
static pymm_pattern *pattern_cache[PATTERN_CACHE_SLOTS];
static unsigned long long pattern_clock;

static void pattern_free(pymm_pattern *p) {
    mmk_pattern_free(p->pat);
    PyMem_RawFree(p->key);
    PyMem_RawFree(p);
}

/* Drop one reference; the last one frees the pattern. */
void mmkit_pattern_put(pymm_pattern *p) {
    if (p != NULL && --p->refs == 0)
        pattern_free(p);
}

const mmk_pattern *mmkit_pattern_ptr(pymm_pattern *p) {
    return p->pat;
}

/*
 * A compiled pattern for (bytes, flags), from the cache or freshly compiled.
 * The caller owns one reference (mmkit_pattern_put). Returns NULL with
 * mmkit.PatternError (bad pattern; from `module`'s types) or MemoryError set.
 */
pymm_pattern *mmkit_pattern_get(PyObject *module, const void *bytes, Py_ssize_t len,
                                unsigned flags) {
    int free_slot = -1, oldest = 0;
    for (int i = 0; i < PATTERN_CACHE_SLOTS; i++) {
        pymm_pattern *e = pattern_cache[i];
        if (e == NULL) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (e->flags == flags && e->len == len && memcmp(e->key, bytes, (size_t)len) == 0) {
            e->last_use = ++pattern_clock;
            e->refs++;
            return e;
        }
        if (pattern_cache[oldest] == NULL || e->last_use < pattern_cache[oldest]->last_use)
            oldest = i;
    }

    pymm_pattern *p = PyMem_RawCalloc(1, sizeof *p);
    if (p == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    p->key = PyMem_RawMalloc(len > 0 ? (size_t)len : 1);
    if (p->key == NULL) {
        PyMem_RawFree(p);
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(p->key, bytes, (size_t)len);
    p->len = len;
    p->flags = flags;

    mmk_pattern_error perr;
    memset(&perr, 0, sizeof perr);
    int rc = mmk_pattern_compile(&p->pat, bytes, (size_t)len, flags, &perr);
    if (rc < 0) {
        PyMem_RawFree(p->key);
        PyMem_RawFree(p);
        if (rc == MMK_EPATTERN) {
            perr.message[sizeof perr.message - 1] = '\0';
            PyObject *pattern = PyBytes_FromStringAndSize(bytes, len);
            if (pattern == NULL)
                return NULL;
            mmkit_errctx ctx = {module, NULL, -1, &perr, pattern};
            mmkit_raise(rc, &ctx);
            Py_DECREF(pattern);
            return NULL;
        }
        if (rc == -ENOMEM) {
            PyErr_NoMemory();
            return NULL;
        }
        mmkit_error(rc);
        return NULL;
    }

    int slot = free_slot;
    if (slot < 0) {
        slot = oldest;
        mmkit_pattern_put(pattern_cache[slot]);
    }
    p->last_use = ++pattern_clock;
    p->refs = 2; /* the table's and the caller's */
    pattern_cache[slot] = p;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Module functions                                                          */
/* ------------------------------------------------------------------------ */

int mmkit_open_path_read(PyObject *path) {
    PyObject *fs = NULL;
    if (!PyUnicode_FSConverter(path, &fs))
        return -1;
    int fd, err = 0;
    Py_BEGIN_ALLOW_THREADS
    fd = mmkit_os_open_read(PyBytes_AS_STRING(fs), &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(fs);
    if (fd < 0) {
        errno = err;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    }
    return fd;
}

/*
 * Read the whole file at `path` with read() (the GIL released) into *out
 * (PyMem_Raw, the caller frees) and *len. Returns 0 or a negative errno.
 */
static int read_whole_file(const char *path, char **out, size_t *len) {
    int err = 0;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    Py_BEGIN_ALLOW_THREADS
    int open_err = 0;
    int fd = mmkit_os_open_read(path, &open_err);
    if (fd < 0) {
        err = -open_err;
    } else {
        for (;;) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16384;
                char *nb = PyMem_RawRealloc(buf, ncap);
                if (nb == NULL) {
                    err = -ENOMEM;
                    break;
                }
                buf = nb;
                cap = ncap;
            }
            int64_t got = mmkit_os_read(fd, buf + n, cap - n);
            if (got < 0) {
                err = (int)got;
                break;
            }
            if (got == 0)
                break;
            n += (size_t)got;
        }
        mmkit_os_close(fd);
    }
    Py_END_ALLOW_THREADS
    if (err < 0) {
        PyMem_RawFree(buf);
        return err;
    }
    *out = buf;
    *len = n;
    return 0;
}

/*
 * mmkit.open() of a file whose size lies: its content, as read() gives it,
 * in private anonymous memory; offset and length select from that content
 * as they would from a file. The map is read-only to the user ('r') or a
 * private writable copy ('c'); size() gives the length of the content.
 */
static PyObject *open_snapshot(PyObject *module, const char *path, PyObject *path_obj,
                               const mmk_options *opt) {
    char *data = NULL;
    size_t len = 0;
    mmkit_errctx ctx = {module, path_obj, -1, NULL, NULL};
    int rc = read_whole_file(path, &data, &len);
    if (rc < 0)
        return mmkit_raise(rc, &ctx);
    uint64_t from = opt->offset, n = opt->length;
    if (from > len) {
        rc = MMK_EOFFSET;
    } else if (n == 0) {
        n = len - from;
    } else if (n > len - from) {
        rc = MMK_ELENGTH;
    }
    mmk_map *map = NULL;
    if (rc == 0)
        rc = mmk_open_anon(&map, n, MMK_ANON_PRIVATE);
    if (rc == 0 && n > 0)
        rc = mmk_copy_in(map, 0, data + from, (size_t)n);
    PyMem_RawFree(data);
    if (rc < 0) {
        (void)mmk_free(map);
        return mmkit_raise(rc, &ctx);
    }
    int access = opt->access == MMK_ACCESS_READ ? PYMM_ACCESS_READ : PYMM_ACCESS_COPY;
    PyObject *obj = mmkit_mmap_from_map(module, map, access, (long long)from);
    if (obj != NULL)
        ((MmapObject *)obj)->snapshot = 1;
    return obj;
}

PyDoc_STRVAR(mmkit_open_doc,
             "open($module, /, path, mode='r', offset=0, length=0)\n"
             "--\n"
             "\n"
             "Map the file at *path* in one call and return the map; the file's\n"
             "descriptor is owned by the map and closed with it.\n"
             "\n"
             "mode: 'r' read-only (ACCESS_READ), 'r+' read-write (ACCESS_WRITE),\n"
             "'w' read-write, creating the file if missing and growing it to\n"
             "offset+length if shorter (never truncating), 'c' copy-on-write\n"
             "(ACCESS_COPY: writes stay private to the map).\n"
             "offset: any byte offset (no alignment needed). length: bytes to map;\n"
             "0 maps from offset to the end of the file. Empty files are allowed and\n"
             "give a map of length 0.\n"
             "\n"
             "Files whose size is not their content's (procfs reports 0, sysfs 4096)\n"
             "are read with read() to their real end instead: the map then holds what\n"
             "open(path, 'rb').read() gives, in private memory (read-only for 'r', a\n"
             "private copy for 'c'; 'r+' and 'w' raise OSError).\n"
             "\n"
             "Raises FileNotFoundError, PermissionError, IsADirectoryError and other\n"
             "OSErrors naming the path; ValueError for a bad mode or an offset/length\n"
             "past the end of the file.");

static PyObject *mmkit_open(PyObject *module, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"path", "mode", "offset", "length", NULL};
    PyObject *path_obj = NULL, *path_bytes = NULL;
    const char *mode = "r";
    long long offset = 0, length = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|sLL:open", kwlist, &path_obj, &mode, &offset,
                                     &length))
        return NULL;
    mmk_options opt;
    memset(&opt, 0, sizeof opt);
    /* Exactly the four documented modes (and the stub's Literal): no aliases
       such as 'rb' or 'w+', whose meaning for open() ('w' truncates) would
       mislead here. */
    if (strcmp(mode, "r") == 0) {
        opt.access = MMK_ACCESS_READ;
    } else if (strcmp(mode, "r+") == 0) {
        opt.access = MMK_ACCESS_WRITE;
    } else if (strcmp(mode, "w") == 0) {
        opt.access = MMK_ACCESS_WRITE;
        opt.flags = MMK_OPEN_CREATE | MMK_OPEN_GROW;
    } else if (strcmp(mode, "c") == 0) {
        opt.access = MMK_ACCESS_COPY;
    } else {
        PyErr_Format(PyExc_ValueError, "mode must be 'r', 'r+', 'w' or 'c', not '%.50s'", mode);
        return NULL;
    }
    if (offset < 0) {
        PyErr_SetString(PyExc_ValueError, "offset must not be negative");
        return NULL;
    }
    if (length < 0) {
        PyErr_SetString(PyExc_ValueError, "length must not be negative");
        return NULL;
    }
    if (!PyUnicode_FSConverter(path_obj, &path_bytes))
        return NULL;
    opt.offset = (uint64_t)offset;
    opt.length = (uint64_t)length;

    const char *path = PyBytes_AS_STRING(path_bytes);
    int lies = mmkit_os_size_lies(path);
    if (lies) {
        PyObject *result = NULL;
        if (opt.access == MMK_ACCESS_WRITE) {
            /* ENODEV: what mmap(2) says of files it cannot map. */
            raise_os_error(ENODEV,
                           "cannot map for writing a file whose size is not its content's "
                           "(procfs, sysfs, ...); open it with mode 'r' or 'c'",
                           path_obj);
        } else {
            result = open_snapshot(module, path, path_obj, &opt);
        }
        Py_DECREF(path_bytes);
        return result;
    }

    mmk_map *map = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_open(&map, path, &opt);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_bytes);
    if (rc < 0) {
        mmkit_errctx ctx = {module, path_obj, -1, NULL, NULL};
        return mmkit_raise(rc, &ctx);
    }
    int access = opt.access == MMK_ACCESS_READ    ? PYMM_ACCESS_READ
                 : opt.access == MMK_ACCESS_WRITE ? PYMM_ACCESS_WRITE
                                                  : PYMM_ACCESS_COPY;
    return mmkit_mmap_from_map(module, map, access, offset);
}

PyDoc_STRVAR(mmkit_word_counts_doc,
             "word_counts($module, /, buffer, top=None, *, threads=None)\n"
             "--\n"
             "\n"
             "Count word frequencies in *buffer* (any bytes-like object, or an\n"
             "mmkit.mmap, which is read under the fault guard). Words are maximal runs\n"
             "of bytes that are not ASCII whitespace, lowercased in ASCII: the result\n"
             "equals collections.Counter(data.lower().split()). Returns (word, count)\n"
             "pairs sorted by count descending, then word ascending; *top* keeps only\n"
             "the first *top* pairs. Runs with the GIL released on *threads* worker\n"
             "threads (None: all cores).");

static PyObject *mmkit_word_counts(PyObject *module, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"buffer", "top", "threads", NULL};
    PyObject *obj = NULL, *top_obj = Py_None, *threads_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O$O:word_counts", kwlist, &obj, &top_obj,
                                     &threads_obj))
        return NULL;
    mmk_scan_options opt;
    memset(&opt, 0, sizeof opt);
    if (mmkit_threads_arg(threads_obj, &opt.threads) < 0)
        return NULL;
    Py_ssize_t top = PY_SSIZE_T_MAX;
    if (top_obj != Py_None) {
        if (!PyLong_Check(top_obj)) {
            PyErr_Format(PyExc_TypeError, "top must be an int or None, not '%.200s'",
                         Py_TYPE(top_obj)->tp_name);
            return NULL;
        }
        top = PyLong_AsSsize_t(top_obj);
        if (top == -1 && PyErr_Occurred())
            return NULL;
        if (top < 0) {
            PyErr_SetString(PyExc_ValueError, "top must not be negative");
            return NULL;
        }
    }

    mmkit_state *st = mmkit_get_state(module);
    mmk_wordtab *tab = NULL;
    int rc;
    if (PyObject_TypeCheck(obj, st->mmap_type)) {
        /* Read through the library, guarded: a raw buffer of the map could
           SIGBUS if the file shrank. The view keeps the map open meanwhile. */
        MmapObject *mm = (MmapObject *)obj;
        if (mmkit_op_begin(mm) < 0)
            return NULL;
        mmk_input in = mmk_input_map(mm->map, MMK_DEFAULT_POS, MMK_DEFAULT_POS);
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_word_counts(&in, &opt, &tab);
        Py_END_ALLOW_THREADS
        mmkit_op_end(mm);
    } else {
        Py_buffer view;
        if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0)
            return NULL;
        mmk_input in = mmk_input_bytes(view.buf, (uint64_t)view.len);
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_word_counts(&in, &opt, &tab);
        Py_END_ALLOW_THREADS
        PyBuffer_Release(&view);
    }
    if (rc < 0)
        return mmkit_error(rc);

    size_t n = mmk_wordtab_size(tab);
    if ((size_t)top < n)
        n = (size_t)top;
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL) {
        mmk_wordtab_free(tab);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *word = NULL;
        size_t len = 0;
        uint64_t count = 0;
        rc = mmk_wordtab_get(tab, i, &word, &len, &count);
        if (rc < 0) {
            Py_DECREF(list);
            mmk_wordtab_free(tab);
            return mmkit_error(rc);
        }
        PyObject *item = Py_BuildValue("(y#K)", word, (Py_ssize_t)len, (unsigned long long)count);
        if (item == NULL) {
            Py_DECREF(list);
            mmk_wordtab_free(tab);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    mmk_wordtab_free(tab);
    return list;
}

static PyMethodDef mmkit_functions[] = {
    {"open", (PyCFunction)(void (*)(void))mmkit_open, METH_VARARGS | METH_KEYWORDS, mmkit_open_doc},
    {"word_counts", (PyCFunction)(void (*)(void))mmkit_word_counts, METH_VARARGS | METH_KEYWORDS,
     mmkit_word_counts_doc},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------------ */
/* Initialisation                                                            */
/* ------------------------------------------------------------------------ */

static int add_int(PyObject *m, const char *name, long long value) {
    PyObject *v = PyLong_FromLongLong(value);
    if (v == NULL)
        return -1;
    if (PyModule_AddObject(m, name, v) < 0) {
        Py_DECREF(v);
        return -1;
    }
    return 0;
}

static int mmkit_exec(PyObject *m) {
    mmkit_state *st = mmkit_get_state(m);

    st->mmap_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &mmkit_mmap_spec, NULL);
    if (st->mmap_type == NULL)
        return -1;
    st->lines_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &mmkit_lines_spec, NULL);
    if (st->lines_type == NULL)
        return -1;
    st->spans_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &mmkit_spans_spec, NULL);
    if (st->spans_type == NULL)
        return -1;
    st->grep_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &mmkit_grep_spec, NULL);
    if (st->grep_type == NULL)
        return -1;
    if (PyModule_AddType(m, st->mmap_type) < 0)
        return -1;
    /* search(), search_iter(), count_by(), time_range() and Line (mmkit_search.c). */
    if (mmkit_search_init(m) < 0)
        return -1;
    if (mmkit_shm_init(m) < 0) /* shm_open, SharedMemory, Lock (mmkit_shm.c) */
        return -1;
    if (mmkit_part_init(m) < 0) /* count_part, count_part_fix (mmkit_part.c) */
        return -1;

    st->pattern_error = PyErr_NewExceptionWithDoc(
        "mmkit.PatternError",
        "An invalid pattern (a ValueError). Attributes as re.error: msg (PCRE2's\n"
        "reason), pattern (the pattern as bytes), pos (byte offset in the pattern\n"
        "where compilation failed, or None); offset is the same as pos.",
        PyExc_ValueError, NULL);
    if (st->pattern_error == NULL)
        return -1;
    Py_INCREF(st->pattern_error);
    if (PyModule_AddObject(m, "PatternError", st->pattern_error) < 0) {
        Py_DECREF(st->pattern_error);
        return -1;
    }
    st->limit_error = PyErr_NewExceptionWithDoc(
        "mmkit.RegexLimitError",
        "A regex search gave up: the pattern is too complex for the backtracking\n"
        "engine on this input (PCRE2's match, depth or heap limit was reached).\n"
        "A RuntimeError, like RecursionError: the pattern is valid, this input\n"
        "makes it too expensive. offset: the map offset where the search that\n"
        "hit the limit started, or None.",
        PyExc_RuntimeError, NULL);
    if (st->limit_error == NULL)
        return -1;
    Py_INCREF(st->limit_error);
    if (PyModule_AddObject(m, "RegexLimitError", st->limit_error) < 0) {
        Py_DECREF(st->limit_error);
        return -1;
    }

    Py_INCREF(PyExc_OSError);
    if (PyModule_AddObject(m, "error", PyExc_OSError) < 0) {
        Py_DECREF(PyExc_OSError);
        return -1;
    }
    if (PyModule_AddStringConstant(m, "__version__", mmk_version()) < 0)
        return -1;

    if (add_int(m, "PAGESIZE", (long long)mmk_page_size()) < 0 ||
        add_int(m, "ALLOCATIONGRANULARITY", (long long)mmk_allocation_granularity()) < 0 ||
        add_int(m, "ACCESS_DEFAULT", PYMM_ACCESS_DEFAULT) < 0 ||
        add_int(m, "ACCESS_READ", PYMM_ACCESS_READ) < 0 ||
        add_int(m, "ACCESS_WRITE", PYMM_ACCESS_WRITE) < 0 ||
        add_int(m, "ACCESS_COPY", PYMM_ACCESS_COPY) < 0)
        return -1;

#define ADD_CONST(name)                                                                            \
    do {                                                                                           \
        if (add_int(m, #name, (long long)(name)) < 0)                                              \
            return -1;                                                                             \
    } while (0)

        /* The platform constants the standard module (3.13) exports, where the
           platform defines them. */
#ifdef PROT_EXEC
    ADD_CONST(PROT_EXEC);
#endif
#ifdef PROT_READ
    ADD_CONST(PROT_READ);
#endif
#ifdef PROT_WRITE
    ADD_CONST(PROT_WRITE);
#endif
#ifdef MAP_SHARED
    ADD_CONST(MAP_SHARED);
#endif
#ifdef MAP_PRIVATE
    ADD_CONST(MAP_PRIVATE);
#endif
#ifdef MAP_DENYWRITE
    ADD_CONST(MAP_DENYWRITE);
#endif
#ifdef MAP_EXECUTABLE
    ADD_CONST(MAP_EXECUTABLE);
#endif
#ifdef MAP_ANONYMOUS
    if (add_int(m, "MAP_ANON", (long long)MAP_ANONYMOUS) < 0)
        return -1;
    ADD_CONST(MAP_ANONYMOUS);
#endif
#ifdef MAP_POPULATE
    ADD_CONST(MAP_POPULATE);
#endif
#ifdef MAP_STACK
    ADD_CONST(MAP_STACK);
#endif
#ifdef MAP_ALIGNED_SUPER
    ADD_CONST(MAP_ALIGNED_SUPER);
#endif
#ifdef MAP_CONCEAL
    ADD_CONST(MAP_CONCEAL);
#endif
#ifdef MAP_NORESERVE
    ADD_CONST(MAP_NORESERVE);
#endif
#ifdef MAP_NOEXTEND
    ADD_CONST(MAP_NOEXTEND);
#endif
#ifdef MAP_HASSEMAPHORE
    ADD_CONST(MAP_HASSEMAPHORE);
#endif
#ifdef MAP_NOCACHE
    ADD_CONST(MAP_NOCACHE);
#endif
#ifdef MAP_JIT
    ADD_CONST(MAP_JIT);
#endif
#ifdef MAP_RESILIENT_CODESIGN
    ADD_CONST(MAP_RESILIENT_CODESIGN);
#endif
#ifdef MAP_RESILIENT_MEDIA
    ADD_CONST(MAP_RESILIENT_MEDIA);
#endif
#ifdef MAP_32BIT
    ADD_CONST(MAP_32BIT);
#endif
#ifdef MAP_TRANSLATED_ALLOW_EXECUTE
    ADD_CONST(MAP_TRANSLATED_ALLOW_EXECUTE);
#endif
#ifdef MAP_UNIX03
    ADD_CONST(MAP_UNIX03);
#endif
#ifdef MAP_TPRO
    ADD_CONST(MAP_TPRO);
#endif
/* flush(flags=...), as Python 3.15 */
#ifdef MS_SYNC
    ADD_CONST(MS_SYNC);
#endif
#ifdef MS_ASYNC
    ADD_CONST(MS_ASYNC);
#endif
#ifdef MS_INVALIDATE
    ADD_CONST(MS_INVALIDATE);
#endif
#ifdef MADV_NORMAL
    ADD_CONST(MADV_NORMAL);
#endif
#ifdef MADV_RANDOM
    ADD_CONST(MADV_RANDOM);
#endif
#ifdef MADV_SEQUENTIAL
    ADD_CONST(MADV_SEQUENTIAL);
#endif
#ifdef MADV_WILLNEED
    ADD_CONST(MADV_WILLNEED);
#endif
#ifdef MADV_DONTNEED
    ADD_CONST(MADV_DONTNEED);
#endif
#ifdef MADV_REMOVE
    ADD_CONST(MADV_REMOVE);
#endif
#ifdef MADV_DONTFORK
    ADD_CONST(MADV_DONTFORK);
#endif
#ifdef MADV_DOFORK
    ADD_CONST(MADV_DOFORK);
#endif
#ifdef MADV_HWPOISON
    ADD_CONST(MADV_HWPOISON);
#endif
#ifdef MADV_MERGEABLE
    ADD_CONST(MADV_MERGEABLE);
#endif
#ifdef MADV_UNMERGEABLE
    ADD_CONST(MADV_UNMERGEABLE);
#endif
#ifdef MADV_SOFT_OFFLINE
    ADD_CONST(MADV_SOFT_OFFLINE);
#endif
#ifdef MADV_HUGEPAGE
    ADD_CONST(MADV_HUGEPAGE);
#endif
#ifdef MADV_NOHUGEPAGE
    ADD_CONST(MADV_NOHUGEPAGE);
#endif
#ifdef MADV_DONTDUMP
    ADD_CONST(MADV_DONTDUMP);
#endif
#ifdef MADV_DODUMP
    ADD_CONST(MADV_DODUMP);
#endif
#ifdef MADV_FREE
    ADD_CONST(MADV_FREE);
#endif
#ifdef MADV_NOSYNC
    ADD_CONST(MADV_NOSYNC);
#endif
#ifdef MADV_AUTOSYNC
    ADD_CONST(MADV_AUTOSYNC);
#endif
#ifdef MADV_NOCORE
    ADD_CONST(MADV_NOCORE);
#endif
#ifdef MADV_CORE
    ADD_CONST(MADV_CORE);
#endif
#ifdef MADV_PROTECT
    ADD_CONST(MADV_PROTECT);
#endif
#ifdef MADV_FREE_REUSABLE
    ADD_CONST(MADV_FREE_REUSABLE);
#endif
#ifdef MADV_FREE_REUSE
    ADD_CONST(MADV_FREE_REUSE);
#endif
#undef ADD_CONST

    /* The fault guard: installed now, re-armed after Python changes SIGBUS
       handling (mmkit_guard.c). */
    if (mmkit_guard_init(m) < 0)
        return -1;

    /* Operations in flight belong to threads; a forked child has only the
       thread that forked (see mmkit_fork_child). Registered once. */
    static int atfork_registered;
    if (!atfork_registered) {
        if (pthread_atfork(NULL, NULL, mmkit_fork_child) != 0) {
            PyErr_SetString(PyExc_RuntimeError, "pthread_atfork failed");
            return -1;
        }
        atfork_registered = 1;
    }
    return 0;
}

static int mmkit_traverse(PyObject *m, visitproc visit, void *arg) {
    mmkit_state *st = mmkit_get_state(m);
    if (st != NULL) {
        Py_VISIT(st->mmap_type);
        Py_VISIT(st->lines_type);
        Py_VISIT(st->spans_type);
        Py_VISIT(st->grep_type);
        Py_VISIT(st->line_type);
        Py_VISIT(st->search_iter_type);
        Py_VISIT(st->pattern_error);
        Py_VISIT(st->limit_error);
    }
    return 0;
}

static int mmkit_clear(PyObject *m) {
    mmkit_state *st = mmkit_get_state(m);
    if (st != NULL) {
        Py_CLEAR(st->mmap_type);
        Py_CLEAR(st->lines_type);
        Py_CLEAR(st->spans_type);
        Py_CLEAR(st->grep_type);
        Py_CLEAR(st->line_type);
        Py_CLEAR(st->search_iter_type);
        Py_CLEAR(st->pattern_error);
        Py_CLEAR(st->limit_error);
    }
    return 0;
}

static void mmkit_free(void *m) {
    (void)mmkit_clear((PyObject *)m);
}

static PyModuleDef_Slot mmkit_slots[] = {
    {Py_mod_exec, (void *)mmkit_exec},
    {0, NULL},
};

PyDoc_STRVAR(mmkit_module_doc,
             "Memory-mapped files done properly: a drop-in superset of the standard mmap\n"
             "module over libmmkit.\n"
             "\n"
             "`import mmkit as mmap` runs code written for the standard module unchanged.\n"
             "On top of it: a file truncated under the map raises OSError instead of\n"
             "killing the process with SIGBUS; long operations release the GIL; and\n"
             "mmap.count(), finditer(), lines(), line_count(), word_counts() and open()\n"
             "give exact, multi-threaded searching and counting.");

PyModuleDef mmkit_module_def = {
    PyModuleDef_HEAD_INIT,        .m_name = "mmkit",
    .m_doc = mmkit_module_doc,    .m_size = sizeof(mmkit_state),
    .m_methods = mmkit_functions, .m_slots = mmkit_slots,
    .m_traverse = mmkit_traverse, .m_clear = mmkit_clear,
    .m_free = mmkit_free,
};

PyMODINIT_FUNC PyInit_mmkit(void) {
    return PyModuleDef_Init(&mmkit_module_def);
}
