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
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* Raise OSError(err, message); OSError picks the subclass for err. Returns NULL. */
PyObject *mmkit_os_error(int err, const char *message) {
    PyObject *args = Py_BuildValue("(is)", err, message);
    if (args != NULL) {
        PyErr_SetObject(PyExc_OSError, args);
        Py_DECREF(args);
    }
    return NULL;
}

/*
 * Raise the Python exception that matches a library error code, with the
 * standard module's exception type wherever one exists. Returns NULL.
 */
PyObject *mmkit_error(int rc) {
    switch (rc) {
    case MMK_ECLOSED:
        PyErr_SetString(PyExc_ValueError, "mmap closed or invalid");
        return NULL;
    case MMK_EFAULT:
        /* The file shrank under the map: the access would have been a SIGBUS. */
        return mmkit_os_error(EFAULT, mmk_strerror(rc));
    case MMK_EVIEWS:
        PyErr_SetString(PyExc_BufferError, mmk_strerror(rc));
        return NULL;
    case MMK_EREADONLY:
        PyErr_SetString(PyExc_TypeError, "mmap can't modify a readonly memory map.");
        return NULL;
    case MMK_ERANGE:
    case MMK_EOFFSET:
    case MMK_ELENGTH:
    case MMK_EPATTERN:
        PyErr_SetString(PyExc_ValueError, mmk_strerror(rc));
        return NULL;
    case MMK_ENOTSUP:
        return mmkit_os_error(EOPNOTSUPP, mmk_strerror(rc));
    case MMK_EACCESSMODE:
        /* What mmap(2) says (and so the standard module) when the
           descriptor's mode does not allow the access. */
        return mmkit_os_error(EACCES, strerror(EACCES));
    case MMK_ENOTREG:
        return mmkit_os_error(ENODEV, strerror(ENODEV));
    case MMK_EPAGEALIGN:
        return mmkit_os_error(EINVAL, mmk_strerror(rc));
    case MMK_EANON:
        /* The standard module fstat()s descriptor -1 for anonymous maps. */
        return mmkit_os_error(EBADF, strerror(EBADF));
    default:
        break;
    }
    if (rc < 0 && rc > -4096) {
        errno = -rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyErr_SetString(PyExc_OSError, mmk_strerror(rc));
    return NULL;
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
 * ValueError (bad pattern) or MemoryError set.
 */
pymm_pattern *mmkit_pattern_get(const void *bytes, Py_ssize_t len, unsigned flags) {
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
            if (perr.offset >= 0)
                PyErr_Format(PyExc_ValueError, "invalid pattern at offset %lld: %s",
                             (long long)perr.offset, perr.message);
            else
                PyErr_Format(PyExc_ValueError, "invalid pattern: %s", perr.message);
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
    if (strcmp(mode, "r") == 0 || strcmp(mode, "rb") == 0) {
        opt.access = MMK_ACCESS_READ;
    } else if (strcmp(mode, "r+") == 0 || strcmp(mode, "r+b") == 0) {
        opt.access = MMK_ACCESS_WRITE;
    } else if (strcmp(mode, "w") == 0 || strcmp(mode, "w+") == 0 || strcmp(mode, "wb") == 0 ||
               strcmp(mode, "w+b") == 0) {
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

    mmk_map *map = NULL;
    int rc;
    const char *path = PyBytes_AS_STRING(path_bytes);
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_open(&map, path, &opt);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_bytes);
    if (rc < 0) {
        if (rc > -4096) {
            errno = -rc;
            return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path_obj);
        }
        if (rc == MMK_EOFFSET || rc == MMK_ELENGTH || rc == MMK_ENOTREG) {
            /* Name the file, as the errno errors do. */
            PyErr_Format(rc == MMK_ENOTREG ? PyExc_OSError : PyExc_ValueError, "%s: %R",
                         mmk_strerror(rc), path_obj);
            return NULL;
        }
        return mmkit_error(rc);
    }
    int access = opt.access == MMK_ACCESS_READ    ? PYMM_ACCESS_READ
                 : opt.access == MMK_ACCESS_WRITE ? PYMM_ACCESS_WRITE
                                                  : PYMM_ACCESS_COPY;
    return mmkit_mmap_from_map(module, map, access, offset);
}

PyDoc_STRVAR(mmkit_word_counts_doc,
             "word_counts($module, /, buffer, top=None)\n"
             "--\n"
             "\n"
             "Count word frequencies in *buffer* (any bytes-like object, or an\n"
             "mmkit.mmap, which is read under the fault guard). Words are maximal runs\n"
             "of bytes that are not ASCII whitespace, lowercased in ASCII: the result\n"
             "equals collections.Counter(data.lower().split()). Returns (word, count)\n"
             "pairs sorted by count descending, then word ascending; *top* keeps only\n"
             "the first *top* pairs. Runs on all cores with the GIL released.");

static PyObject *mmkit_word_counts(PyObject *module, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"buffer", "top", NULL};
    PyObject *obj = NULL, *top_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:word_counts", kwlist, &obj, &top_obj))
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
        if (mmkit_mmap_check_valid(mm) < 0)
            return NULL;
        rc = mmk_view_acquire(mm->map, NULL, NULL);
        if (rc < 0)
            return mmkit_error(rc);
        mmk_input in = mmk_input_map(mm->map, MMK_DEFAULT_POS, MMK_DEFAULT_POS);
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_word_counts(&in, NULL, &tab);
        Py_END_ALLOW_THREADS
        mmk_view_release(mm->map);
    } else {
        Py_buffer view;
        if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0)
            return NULL;
        mmk_input in = mmk_input_bytes(view.buf, (uint64_t)view.len);
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_word_counts(&in, NULL, &tab);
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

static int guard_noop(void *arg) {
    (void)arg;
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
    if (PyModule_AddType(m, st->mmap_type) < 0)
        return -1;
    if (mmkit_shm_init(m) < 0) /* shm_open, SharedMemory, Lock (mmkit_shm.c) */
        return -1;

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

    /* Install the library's SIGBUS handler now, at import: a handler that
       is installed later (faulthandler.enable()) would take SIGBUS first. */
    (void)mmk_guard_run(guard_noop, NULL);
    return 0;
}

static int mmkit_traverse(PyObject *m, visitproc visit, void *arg) {
    mmkit_state *st = mmkit_get_state(m);
    if (st != NULL) {
        Py_VISIT(st->mmap_type);
        Py_VISIT(st->lines_type);
        Py_VISIT(st->spans_type);
    }
    return 0;
}

static int mmkit_clear(PyObject *m) {
    mmkit_state *st = mmkit_get_state(m);
    if (st != NULL) {
        Py_CLEAR(st->mmap_type);
        Py_CLEAR(st->lines_type);
        Py_CLEAR(st->spans_type);
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
