/*
 * mmkit_search.c — the searcher and its sinks for Python: mmkit.search()
 * (grep -P lines with context, inverted, counted, with spans), mmkit.count_by()
 * (counts per value of a capture group) and mmkit.time_range() (the byte range
 * of a time window of a log).
 *
 * A source is a bytes-like object, an mmkit.mmap, a path (str or os.PathLike)
 * or a file descriptor (int); with decompress=True a path or descriptor is read
 * through a decoder (gzip, zstd, xz, bzip2 by magic bytes; other data passes
 * through). The library does the work with the GIL released; search()'s sink
 * copies the lines into C arrays (the raw allocator needs no GIL) and the
 * Python objects are built afterwards, so no Python code runs during a scan.
 */
#include "mmkit_module.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* Set attribute `name` of the exception being raised (keeps the exception
   if that fails: the attribute is an extra). */
static void exc_set_attr(const char *name, PyObject *value) {
    PyObject *type, *val, *tb;
    PyErr_Fetch(&type, &val, &tb);
    PyErr_NormalizeException(&type, &val, &tb);
    if (val != NULL && PyObject_SetAttrString(val, name, value) < 0)
        PyErr_Clear();
    PyErr_Restore(type, val, tb);
}

/* The exception of a failed scan or table call: the library's mapping, with
   a few codes the generic mapping does not know worded here. */
static PyObject *raise_scan(PyObject *module, int rc, PyObject *path, int64_t limit_at) {
    if (rc == -ENOMEM)
        return PyErr_NoMemory();
    if (rc == MMK_ENOTIME) {
        PyErr_SetString(PyExc_ValueError, mmk_strerror(rc));
        return NULL;
    }
    if (rc == MMK_ECORRUPT) {
        /* No errno fits corrupt data (gzip.BadGzipFile has none either):
           OSError(None, message, path). */
        PyObject *exc_args =
            Py_BuildValue("(OsO)", Py_None, mmk_strerror(rc), path != NULL ? path : Py_None);
        if (exc_args != NULL) {
            PyErr_SetObject(PyExc_OSError, exc_args);
            Py_DECREF(exc_args);
        }
        return NULL;
    }
    mmkit_errctx ctx = {module, path, limit_at, NULL, NULL};
    return mmkit_raise(rc, &ctx);
}

/* ------------------------------------------------------------------------ */
/* Patterns: one (from the module's cache) or a list                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    pymm_pattern *cached; /* a single pattern: a cache reference */
    mmk_pattern *own;     /* a list: compiled here */
} patref;

static const mmk_pattern *patref_ptr(const patref *r) {
    return r->cached != NULL ? mmkit_pattern_ptr(r->cached) : r->own;
}

static void patref_release(patref *r) {
    if (r->cached != NULL)
        mmkit_pattern_put(r->cached);
    mmk_pattern_free(r->own);
    r->cached = NULL;
    r->own = NULL;
}

/* One pattern as bytes (a new reference): str is taken as UTF-8, anything
   else must be bytes-like. */
static PyObject *pattern_bytes(PyObject *obj) {
    if (PyUnicode_Check(obj))
        return PyUnicode_AsUTF8String(obj);
    if (PyObject_CheckBuffer(obj))
        return PyBytes_FromObject(obj);
    PyErr_Format(PyExc_TypeError,
                 "pattern must be str, a bytes-like object or a list of them, not '%.200s'",
                 Py_TYPE(obj)->tp_name);
    return NULL;
}

/*
 * Compile `obj` (str, bytes-like, or a list/tuple of them) with `flags`.
 * A failing pattern raises mmkit.PatternError whose `index` names it in the
 * list (0 for a single pattern). Returns 0 or -1 with an exception set.
 */
static int pattern_arg(PyObject *module, PyObject *obj, unsigned flags, patref *out) {
    out->cached = NULL;
    out->own = NULL;
    if (!PyList_Check(obj) && !PyTuple_Check(obj)) {
        PyObject *b = pattern_bytes(obj);
        if (b == NULL)
            return -1;
        out->cached = mmkit_pattern_get(module, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), flags);
        Py_DECREF(b);
        if (out->cached == NULL) {
            if (PyErr_ExceptionMatches(mmkit_get_state(module)->pattern_error)) {
                PyObject *zero = PyLong_FromLong(0);
                if (zero != NULL) {
                    exc_set_attr("index", zero);
                    Py_DECREF(zero);
                }
            }
            return -1;
        }
        return 0;
    }
    PyObject *seq = PySequence_Tuple(obj);
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    if (n == 0) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "the pattern list is empty");
        return -1;
    }
    PyObject *items = PyTuple_New(n);
    const void **ptrs = PyMem_Malloc((size_t)n * sizeof *ptrs);
    size_t *lens = PyMem_Malloc((size_t)n * sizeof *lens);
    int result = -1;
    if (items == NULL || ptrs == NULL || lens == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = pattern_bytes(PyTuple_GET_ITEM(seq, i));
        if (b == NULL)
            goto done;
        PyTuple_SET_ITEM(items, i, b);
        ptrs[i] = PyBytes_AS_STRING(b);
        lens[i] = (size_t)PyBytes_GET_SIZE(b);
    }
    mmk_pattern_error perr;
    memset(&perr, 0, sizeof perr);
    int rc;
    /* A long list (grep -f) takes a while to compile: the bytes objects
       are kept alive by `items`. */
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_pattern_compile_list(&out->own, ptrs, lens, (size_t)n, flags, &perr);
    Py_END_ALLOW_THREADS
    if (rc == MMK_EPATTERN) {
        perr.message[sizeof perr.message - 1] = '\0';
        Py_ssize_t at = perr.index >= 0 && perr.index < n ? (Py_ssize_t)perr.index : 0;
        mmkit_errctx ctx = {module, NULL, -1, &perr, PyTuple_GET_ITEM(items, at)};
        mmkit_raise(rc, &ctx);
        PyObject *index = PyLong_FromLongLong((long long)perr.index);
        if (index != NULL) {
            exc_set_attr("index", index);
            Py_DECREF(index);
        }
        out->own = NULL;
    } else if (rc < 0) {
        raise_scan(module, rc, NULL, -1);
        out->own = NULL;
    } else {
        result = 0;
    }
done:
    PyMem_Free(ptrs);
    PyMem_Free(lens);
    Py_XDECREF(items);
    Py_DECREF(seq);
    return result;
}

/* ------------------------------------------------------------------------ */
/* Sources                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    mmk_input in;
    MmapObject *mm;   /* an mmkit.mmap in flight (mmkit_op_begin), or NULL */
    int from_file;    /* mm: `in` is the map's file range (retry over the map on failure) */
    Py_ssize_t start; /* the range searched: source offset of the input's first byte */
    Py_ssize_t end;   /* mm: its end */
    Py_buffer view;   /* a bytes-like object's buffer */
    int have_view;
    int fd, own_fd;   /* a descriptor (ours when own_fd: from a path) */
    mmk_decoder *dec; /* decompress=True */
    PyObject *path;   /* the path given, for errors (borrowed), or NULL */
} source;

static void source_close(source *s) {
    if (s->dec != NULL) {
        mmk_decoder_free(s->dec);
        s->dec = NULL;
    }
    if (s->own_fd && s->fd >= 0) {
        mmkit_os_close(s->fd);
        s->fd = -1;
        s->own_fd = 0;
    }
    if (s->have_view) {
        PyBuffer_Release(&s->view);
        s->have_view = 0;
    }
    if (s->mm != NULL) {
        mmkit_op_end(s->mm);
        s->mm = NULL;
    }
}

static int is_path_like(PyObject *obj) {
    return PyUnicode_Check(obj) || (!PyBytes_Check(obj) && !PyByteArray_Check(obj) &&
                                    PyObject_HasAttrString((PyObject *)Py_TYPE(obj), "__fspath__"));
}

/* start= / end= of a source: Python slice rules (None for the ends, negative
   values from the end, clamped). */
typedef struct {
    Py_ssize_t start, end;
    int start_given, end_given;
} range_arg;

static int range_parse(PyObject *start_obj, PyObject *end_obj, range_arg *r) {
    if (mmkit_optional_ssize(start_obj, &r->start, &r->start_given) < 0 ||
        mmkit_optional_ssize(end_obj, &r->end, &r->end_given) < 0)
        return -1;
    return 0;
}

/*
 * Resolve `obj` into a scan input (GIL held). Bytes-like objects are data
 * (a path in bytes must come as os.PathLike or str); an int is a descriptor
 * the caller keeps; a path is opened here and closed by source_close. With
 * `decompress` a path or descriptor is read through a decoder. `range`
 * (may be NULL) selects bytes of a buffer, a map or a regular file. `what`
 * names the function in messages. Returns 0 or -1 with an exception set.
 */
static int source_open(PyObject *module, PyObject *obj, int decompress, const range_arg *range,
                       const char *what, source *s) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    int ranged = range != NULL && (range->start_given || range->end_given);
    mmkit_state *st = mmkit_get_state(module);
    if (PyObject_TypeCheck(obj, st->mmap_type)) {
        if (decompress) {
            PyErr_Format(PyExc_ValueError, "%s: decompress=True needs a path or a file descriptor",
                         what);
            return -1;
        }
        MmapObject *mm = (MmapObject *)obj;
        if (mmkit_op_begin(mm) < 0)
            return -1;
        s->mm = mm;
        s->start = 0;
        s->end = (Py_ssize_t)mmk_length(mm->map);
        if (ranged)
            mmkit_resolve_range(s->end, range->start, range->start_given, range->end,
                                range->end_given, &s->start, &s->end);
        s->from_file = mmkit_scan_input(mm, s->start, s->end, &s->in);
        return 0;
    }
    if (decompress && ranged) {
        PyErr_Format(PyExc_ValueError, "%s: start and end cannot be used with decompress=True",
                     what);
        return -1;
    }
    if (PyLong_Check(obj) && !PyBool_Check(obj)) {
        long fd = PyLong_AsLong(obj);
        if (fd == -1 && PyErr_Occurred())
            return -1;
        if (fd > INT_MAX) {
            PyErr_SetString(PyExc_OverflowError, "file descriptor is too large");
            return -1;
        }
        if (fd < 0) {
            PyErr_SetString(PyExc_ValueError, "file descriptor cannot be a negative integer");
            return -1;
        }
        s->fd = (int)fd;
    } else if (is_path_like(obj)) {
        s->path = obj;
        int fd = mmkit_open_path_read(obj);
        if (fd < 0)
            return -1;
        s->fd = fd;
        s->own_fd = 1;
    } else if (PyObject_CheckBuffer(obj)) {
        if (decompress) {
            PyErr_Format(PyExc_ValueError, "%s: decompress=True needs a path or a file descriptor",
                         what);
            return -1;
        }
        if (PyObject_GetBuffer(obj, &s->view, PyBUF_SIMPLE) < 0)
            return -1;
        s->have_view = 1;
        s->start = 0;
        s->end = s->view.len;
        if (ranged)
            mmkit_resolve_range(s->view.len, range->start, range->start_given, range->end,
                                range->end_given, &s->start, &s->end);
        s->in =
            mmk_input_bytes((const char *)s->view.buf + s->start, (uint64_t)(s->end - s->start));
        return 0;
    } else {
        PyErr_Format(PyExc_TypeError,
                     "%s: source must be a bytes-like object, an mmkit.mmap, a path (str or "
                     "os.PathLike) or a file descriptor (int), not '%.200s'",
                     what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (decompress) {
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_decoder_open(&s->dec, s->fd, MMK_COMP_NONE);
        Py_END_ALLOW_THREADS
        if (rc < 0) {
            s->dec = NULL;
            raise_scan(module, rc, s->path, -1);
            source_close(s);
            return -1;
        }
        s->in = mmk_input_decoder(s->dec);
    } else if (ranged) {
        /* A range of the file's bytes as they are now (pread or a map). */
        mmkit_os_fileinfo sb;
        int err = mmkit_os_fstat(s->fd, &sb);
        if (err != 0) {
            errno = err;
            if (s->path != NULL)
                PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, s->path);
            else
                PyErr_SetFromErrno(PyExc_OSError);
            source_close(s);
            return -1;
        }
        if (sb.kind != MMKIT_OS_REGULAR) {
            PyErr_Format(PyExc_ValueError, "%s: start and end need a regular file, a map or bytes",
                         what);
            source_close(s);
            return -1;
        }
        Py_ssize_t size = sb.size > (uint64_t)PY_SSIZE_T_MAX ? PY_SSIZE_T_MAX : (Py_ssize_t)sb.size;
        mmkit_resolve_range(size, range->start, range->start_given, range->end, range->end_given,
                            &s->start, &s->end);
        s->in = mmk_input_fd_range(s->fd, (uint64_t)s->start, (uint64_t)(s->end - s->start));
    } else {
        s->in = mmk_input_fd(s->fd);
    }
    return 0;
}

/* The pattern flags shared by search() and count_by(). */
static unsigned pattern_flags(int fixed, int icase, int word, int line_exact) {
    unsigned flags = MMK_PAT_LINES;
    if (fixed)
        flags |= MMK_PAT_FIXED;
    if (icase)
        flags |= MMK_PAT_ICASE;
    if (word)
        flags |= MMK_PAT_WORD;
    if (line_exact)
        flags |= MMK_PAT_LINE_EXACT;
    return flags;
}

/* threads: 0 or None for all cores, else 1..4096. */
static int threads_arg(PyObject *obj, unsigned *out) {
    if (obj != NULL && PyLong_Check(obj) && !PyBool_Check(obj)) {
        long v = PyLong_AsLong(obj);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (v == 0) {
            *out = 0;
            return 0;
        }
        if (v < 0) {
            PyErr_SetString(PyExc_ValueError, "threads must not be negative (0: all cores)");
            return -1;
        }
    }
    return mmkit_threads_arg(obj, out);
}

/* A count argument: None (not given) or an int >= 0. */
static int count_arg(PyObject *obj, const char *name, uint64_t *out, int *given) {
    *given = 0;
    if (obj == NULL || obj == Py_None)
        return 0;
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not '%.200s'", name,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyObject_RichCompareBool(obj, Py_False, Py_LT) == 1) {
        PyErr_Format(PyExc_ValueError, "%s must not be negative", name);
        return -1;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(obj);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *out = (uint64_t)v;
    *given = 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* search()                                                                  */
/* ------------------------------------------------------------------------ */

/* One line the sink received: its bytes and spans live in the arenas. */
typedef struct {
    uint64_t line_no, offset, matches;
    size_t text, len;    /* in the text arena */
    size_t span, nspans; /* in the span arena */
    int kind, gap, has_spans;
} line_rec;

typedef struct {
    line_rec *recs;
    size_t n, cap;
    char *text;
    size_t tlen, tcap;
    mmk_span *spans;
    size_t slen, scap;
    int gap_pending;
    int invert, want_spans;
    uint64_t base; /* added to the offsets: the source offset of the input's start */
    /* search_iter(): a batch of a longer search */
    uint64_t line_base;    /* added to the line numbers: lines of the source before the input */
    uint64_t drop_through; /* lines numbered up to this were handed out by the last batch */
    int batched;           /* stop at a selected line once the batch is full */
    size_t batch_lines, batch_bytes; /* what "full" is */
    uint64_t selected;               /* selected lines collected */
    int oom;
} collector;

static void collector_reset(collector *c) {
    c->n = c->tlen = c->slen = 0;
    c->selected = 0;
    c->gap_pending = 0;
    c->oom = 0;
}

static void collector_free(collector *c) {
    PyMem_RawFree(c->recs);
    PyMem_RawFree(c->text);
    PyMem_RawFree(c->spans);
    c->recs = NULL;
    c->text = NULL;
    c->spans = NULL;
}

/* Make room for `more` items of `size` bytes after `used` (raw allocator: no GIL). */
static int reserve(void **buf, size_t *cap, size_t used, size_t more, size_t size) {
    if (used + more <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < used + more) {
        if (ncap > ((size_t)-1 / 2) / size)
            return -1;
        ncap *= 2;
    }
    void *n = PyMem_RawRealloc(*buf, ncap * size);
    if (n == NULL)
        return -1;
    *buf = n;
    *cap = ncap;
    return 0;
}

/* mmk_sink callbacks: run on the calling thread without the GIL. */
static int collect_gap(void *user) {
    ((collector *)user)->gap_pending = 1;
    return 0;
}

/* search_iter(): a batch stops at a selected line once it holds this many
   bytes or lines (the overshoot is at most the context between two selected
   lines), and the search resumes at that line (see SearchIter). */
#define ITER_BATCH_BYTES ((size_t)16 << 20)
#define ITER_BATCH_LINES ((size_t)1 << 16)
#define ITER_STOP 2 /* collect_line's "batch full" */
/* The limits in use: tests make them tiny (mmkit._search_iter_batch) so that
   every option meets many resumptions. Read and written with the GIL held. */
static size_t iter_batch_lines = ITER_BATCH_LINES, iter_batch_bytes = ITER_BATCH_BYTES;

static int collect_line(const mmk_line *ln, void *user) {
    collector *c = user;
    if (ln->line_no + c->line_base <= c->drop_through) {
        /* The line a resumed search starts with was handed out before
           (counted here as the selected line it is). */
        c->gap_pending = 0;
        if (ln->kind == MMK_LINE_SELECTED)
            c->selected++;
        return 0;
    }
    if (reserve((void **)&c->recs, &c->cap, c->n, 1, sizeof *c->recs) < 0 ||
        reserve((void **)&c->text, &c->tcap, c->tlen, ln->len, 1) < 0 ||
        reserve((void **)&c->spans, &c->scap, c->slen, ln->spans ? ln->nspans : 0,
                sizeof *c->spans) < 0) {
        c->oom = 1;
        return 1;
    }
    line_rec *r = &c->recs[c->n++];
    r->line_no = ln->line_no + c->line_base;
    r->offset = ln->offset + c->base;
    r->matches = ln->matches;
    r->kind = ln->kind;
    r->gap = c->gap_pending;
    c->gap_pending = 0;
    r->text = c->tlen;
    r->len = ln->len;
    if (ln->len)
        memcpy(c->text + c->tlen, ln->bytes, ln->len);
    c->tlen += ln->len;
    /* Spans belong to the lines that match: selected ones, or the context
       of an inverted search. */
    r->has_spans = c->want_spans && ((ln->kind == MMK_LINE_SELECTED) != c->invert);
    r->span = c->slen;
    r->nspans = 0;
    if (r->has_spans && ln->spans != NULL && ln->nspans) {
        memcpy(c->spans + c->slen, ln->spans, ln->nspans * sizeof *ln->spans);
        c->slen += ln->nspans;
        r->nspans = ln->nspans;
    }
    if (ln->kind == MMK_LINE_SELECTED) {
        c->selected++;
        if (c->batched && (c->n >= c->batch_lines || c->tlen >= c->batch_bytes))
            return ITER_STOP;
    }
    return 0;
}

static PyStructSequence_Field line_fields[] = {
    {"kind", "'match' for a selected line (with invert=True: one without a match), "
             "'context' for a context line"},
    {"line_no", "1-based line number in the source"},
    {"offset", "byte offset of the line's start in the source"},
    {"text", "the line's bytes, without its b'\\n'"},
    {"matches", "number of matches in the line"},
    {"spans", "with spans=True, for lines that match (selected ones; with invert=True the "
              "context lines): a tuple of (start, end) offsets within text; else None"},
    {"gap", "True on the first line of a group that does not follow the previous group "
            "(where grep prints '--'), else False"},
    {NULL, NULL},
};

static PyStructSequence_Desc line_desc = {
    "mmkit.Line",
    "A line found by mmkit.search(): (kind, line_no, offset, text, matches, spans, gap).",
    line_fields,
    7,
};

/* The Line object for record i of the collector. */
static PyObject *line_object(PyObject *module, const collector *c, size_t i) {
    mmkit_state *st = mmkit_get_state(module);
    const line_rec *r = &c->recs[i];
    PyObject *item = PyStructSequence_New(st->line_type);
    if (item == NULL)
        return NULL;
    /* Unset items are NULL, which the struct sequence's dealloc skips. */
    PyObject *kind = PyUnicode_InternFromString(r->kind == MMK_LINE_SELECTED ? "match" : "context");
    if (kind == NULL)
        goto fail;
    PyStructSequence_SET_ITEM(item, 0, kind);
    PyObject *v[4] = {PyLong_FromUnsignedLongLong((unsigned long long)r->line_no),
                      PyLong_FromUnsignedLongLong((unsigned long long)r->offset),
                      PyBytes_FromStringAndSize(c->text + r->text, (Py_ssize_t)r->len),
                      PyLong_FromUnsignedLongLong((unsigned long long)r->matches)};
    int ok = 1;
    for (int k = 0; k < 4; k++) {
        if (v[k] == NULL)
            ok = 0;
        else
            PyStructSequence_SET_ITEM(item, k + 1, v[k]);
    }
    if (!ok)
        goto fail;
    PyObject *spans;
    if (r->has_spans) {
        spans = PyTuple_New((Py_ssize_t)r->nspans);
        if (spans == NULL)
            goto fail;
        for (size_t k = 0; k < r->nspans; k++) {
            const mmk_span *sp = &c->spans[r->span + k];
            PyObject *pair = Py_BuildValue("(nn)", (Py_ssize_t)sp->start, (Py_ssize_t)sp->end);
            if (pair == NULL) {
                Py_DECREF(spans);
                goto fail;
            }
            PyTuple_SET_ITEM(spans, (Py_ssize_t)k, pair);
        }
    } else {
        spans = Py_None;
        Py_INCREF(spans);
    }
    PyStructSequence_SET_ITEM(item, 5, spans);
    PyObject *gap = r->gap ? Py_True : Py_False;
    Py_INCREF(gap);
    PyStructSequence_SET_ITEM(item, 6, gap);
    return item;
fail:
    Py_DECREF(item);
    return NULL;
}

/* The list of Line objects for what the collector holds. */
static PyObject *build_lines(PyObject *module, const collector *c) {
    PyObject *list = PyList_New((Py_ssize_t)c->n);
    if (list == NULL)
        return NULL;
    for (size_t i = 0; i < c->n; i++) {
        PyObject *item = line_object(module, c, i);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

PyDoc_STRVAR(mmkit_search_doc,
             "search($module, /, pattern, source, *, fixed=False, ignore_case=False,\n"
             "       word=False, line_exact=False, invert=False, before=0, after=0,\n"
             "       context=None, max_count=None, spans=False, threads=0, decompress=False,\n"
             "       start=None, end=None)\n"
             "--\n"
             "\n"
             "Search source line by line as `grep -P` does and return a list of\n"
             "mmkit.Line records (kind, line_no, offset, text, matches, spans, gap) in\n"
             "source order. Each line (without its b'\\n') is its own subject.\n"
             "\n"
             "pattern: a Perl/Python-syntax regex (str is taken as UTF-8; bytes\n"
             "semantics), or a list of them (grep -e P1 -e P2: a line matches where\n"
             "any does). fixed: literal strings (grep -F). ignore_case: ASCII\n"
             "case-insensitive. word: whole words (grep -w). line_exact: the match\n"
             "must be the whole line (grep -x).\n"
             "source: a bytes-like object (searched as data), an mmkit.mmap, a path\n"
             "(str or os.PathLike; a path in bytes must be wrapped, bytes are data) or\n"
             "an open file descriptor (int; a regular file is searched from offset 0,\n"
             "a pipe from where it is; the descriptor stays open). decompress=True\n"
             "(paths and descriptors): gzip, zstd, xz and bzip2 data, recognised by\n"
             "their magic bytes, is decompressed and the result searched (as zcat |\n"
             "grep); other data is searched as it is. A descriptor is then read from\n"
             "its current position. start, end: search only source[start:end] (slice\n"
             "rules) of a buffer, a map or a regular file; offsets stay the source's,\n"
             "line numbers count from 1 at start (what time_range() gives fits).\n"
             "\n"
             "invert: select the lines without a match (grep -v). before / after:\n"
             "context lines around each selected line (grep -B / -A); context sets\n"
             "both where they are not given (grep -C). max_count: stop after that many\n"
             "selected lines (grep -m; the trailing context is still given). spans:\n"
             "fill Line.spans. threads: worker threads (0: all cores).\n"
             "\n"
             "Line.kind is 'match' for a selected line (with invert, one without a\n"
             "match) and 'context' for a context line. Line.gap is True on the first\n"
             "line of a group that does not follow the previous one (where grep\n"
             "prints '--'; only with context). The whole result is built in memory;\n"
             "use max_count or mmkit.mmap.grep() to bound it. The scan runs on all\n"
             "cores with the GIL released.\n"
             "\n"
             "Raises mmkit.PatternError (its index names the failing pattern of a\n"
             "list), mmkit.RegexLimitError (offset: where in the source), OSError\n"
             "(with errno and filename; corrupt compressed data too), ValueError for\n"
             "bad arguments, TypeError for a source of another type.");

/* What search() and search_iter() were asked, with the pattern and source
   ready. Release with search_params_release. */
typedef struct {
    patref pat;
    source src;
    mmk_search_options so;
    unsigned threads;
    int invert, want_spans;
    int range_given; /* start or end was given */
} search_params;

static void search_params_release(search_params *sp) {
    source_close(&sp->src);
    patref_release(&sp->pat);
}

/* *src_obj (may be NULL) receives the source argument (borrowed). */
static int parse_search_args(PyObject *module, PyObject *args, PyObject *kwds, const char *fmt,
                             const char *what, search_params *sp, PyObject **src_obj_out) {
    static char *kwlist[] = {"pattern",    "source", "fixed",   "ignore_case", "word",
                             "line_exact", "invert", "before",  "after",       "context",
                             "max_count",  "spans",  "threads", "decompress",  "start",
                             "end",        NULL};
    PyObject *pat_obj, *src_obj, *before_obj = NULL, *after_obj = NULL, *context_obj = Py_None;
    PyObject *max_obj = Py_None, *threads_obj = NULL, *start_obj = Py_None, *end_obj = Py_None;
    int fixed = 0, icase = 0, word = 0, exact = 0, invert = 0, want_spans = 0, decompress = 0;
    memset(sp, 0, sizeof *sp);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &pat_obj, &src_obj, &fixed, &icase,
                                     &word, &exact, &invert, &before_obj, &after_obj, &context_obj,
                                     &max_obj, &want_spans, &threads_obj, &decompress, &start_obj,
                                     &end_obj))
        return -1;
    if (src_obj_out != NULL)
        *src_obj_out = src_obj;
    range_arg range;
    if (range_parse(start_obj, end_obj, &range) < 0)
        return -1;
    uint64_t before = 0, after = 0, context = 0, max_count = 0;
    int before_given, after_given, context_given, max_given;
    if (count_arg(before_obj, "before", &before, &before_given) < 0 ||
        count_arg(after_obj, "after", &after, &after_given) < 0 ||
        count_arg(context_obj, "context", &context, &context_given) < 0 ||
        count_arg(max_obj, "max_count", &max_count, &max_given) < 0 ||
        threads_arg(threads_obj, &sp->threads) < 0)
        return -1;
    if (!before_given)
        before = context;
    if (!after_given)
        after = context;
    if (before > UINT32_MAX || after > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "before, after and context must be below 2**32");
        return -1;
    }
    sp->so.before = (uint32_t)before;
    sp->so.after = (uint32_t)after;
    if (invert)
        sp->so.flags |= MMK_SEARCH_INVERT;
    if (want_spans)
        sp->so.flags |= MMK_SEARCH_SPANS;
    if (max_given) {
        sp->so.flags |= MMK_SEARCH_MAX_COUNT;
        sp->so.max_count = max_count;
    }
    sp->invert = invert;
    sp->want_spans = want_spans;
    sp->range_given = range.start_given || range.end_given;
    if (pattern_arg(module, pat_obj, pattern_flags(fixed, icase, word, exact), &sp->pat) < 0)
        return -1;
    if (source_open(module, src_obj, decompress, &range, what, &sp->src) < 0) {
        patref_release(&sp->pat);
        return -1;
    }
    return 0;
}

/*
 * One mmk_search over `in` into `col` with the GIL released (the caller holds
 * it). A map read from its file is searched again over the map when that
 * fails (the file no longer holds the range: the map decides, an error past
 * the file's end, as mmap.count() does).
 */
static int run_search(const mmk_pattern *p, mmk_input *in, int from_file, mmk_map *map,
                      Py_ssize_t start, Py_ssize_t end, const mmk_search_options *so,
                      unsigned threads, collector *col, int64_t *limit_at) {
    mmk_sink sink = {collect_line, collect_gap, col};
    mmk_scan_options opt;
    memset(&opt, 0, sizeof opt);
    opt.threads = threads;
    opt.error_offset = limit_at;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_search(p, in, &opt, so, &sink, NULL);
    if (rc != 0 && rc != ITER_STOP && from_file && rc != MMK_ELIMIT && !col->oom) {
        collector_reset(col);
        *in = mmk_input_map(map, start, end);
        rc = mmk_search(p, in, &opt, so, &sink, NULL);
    }
    Py_END_ALLOW_THREADS
    return rc;
}

static PyObject *mmkit_search(PyObject *module, PyObject *args, PyObject *kwds) {
    search_params sp;
    if (parse_search_args(module, args, kwds, "OO|$pppppOOOOpOpOO:search", "search", &sp, NULL) < 0)
        return NULL;
    collector col;
    memset(&col, 0, sizeof col);
    col.invert = sp.invert;
    col.want_spans = sp.want_spans;
    col.base = (uint64_t)sp.src.start;
    int64_t limit_at = -1;
    int rc = run_search(patref_ptr(&sp.pat), &sp.src.in, sp.src.from_file,
                        sp.src.mm != NULL ? sp.src.mm->map : NULL, sp.src.start, sp.src.end, &sp.so,
                        sp.threads, &col, &limit_at);
    PyObject *path = sp.src.path;
    Py_XINCREF(path);
    if (limit_at >= 0)
        limit_at += sp.src.start;
    search_params_release(&sp);
    PyObject *result = NULL;
    if (col.oom)
        PyErr_NoMemory();
    else if (rc != 0)
        raise_scan(module, rc, path, limit_at);
    else
        result = build_lines(module, &col);
    Py_XDECREF(path);
    collector_free(&col);
    return result;
}

/* ------------------------------------------------------------------------ */
/* search_iter()                                                             */
/* ------------------------------------------------------------------------ */

/*
 * The lines of search() a batch at a time, in bounded memory. A batch is one
 * mmk_search from `pos` (GIL released) whose sink stops at a selected line L
 * once ITER_BATCH_BYTES or ITER_BATCH_LINES are held. The next batch searches
 * again from L's start, with line numbers and max_count carried over, and
 * drops L: what grep does after a selected line (its after-context, the
 * before-context of the next one, the gap) depends only on that line having
 * been selected, and every line is its own subject, so the batches give
 * exactly the lines one search gives. Only sources that can be read again
 * from an offset are batched: bytes, maps and regular files; a pipe, a
 * procfs file or decompressed data is one batch (all of it in memory).
 * A map is in use only while a batch is searched (close() between batches
 * makes the next one raise ValueError); a batch's lines are as the map held
 * them when it was searched. A regular file is read as long as it was when
 * the iterator began.
 */
typedef struct {
    PyObject_HEAD PyObject *module; /* strong: the Line type lives in its state */
    PyObject *src_obj;              /* strong: the source (keeps a path or a map alive) */
    MmapObject *mm;                 /* the source when it is a map (borrowed from src_obj) */
    search_params sp;               /* sp.src stays open: buffer view, descriptor, decoder */
    int resumable;                  /* batches can start anywhere (else: one batch) */
    Py_ssize_t pos, end;            /* source range still to search */
    uint64_t line_base;             /* lines of the source before pos */
    uint64_t drop_through;          /* line number handed out last by a stopped batch */
    uint64_t selected_before;       /* selected lines before pos */
    collector col;                  /* the current batch */
    size_t at;                      /* next record of it to hand out */
    int done, busy, active;         /* active: sp holds resources */
} SearchIter;

static void iter_release(SearchIter *it) {
    if (it->active) {
        search_params_release(&it->sp);
        it->active = 0;
    }
    collector_free(&it->col);
    it->col.n = it->at = 0;
    it->done = 1;
}

/* Search the next batch. Returns 0, or -1 with an exception set. */
static int iter_batch(SearchIter *it) {
    collector *col = &it->col;
    collector_reset(col);
    it->at = 0;
    mmk_input in = it->sp.src.in;
    int from_file = 0;
    Py_ssize_t end = it->end;
    if (it->resumable) {
        if (it->mm != NULL) {
            if (mmkit_op_begin(it->mm) < 0)
                return -1;
            Py_ssize_t len = (Py_ssize_t)mmk_length(it->mm->map);
            if (end > len)
                end = len;
            if (it->pos > end)
                it->pos = end;
            from_file = mmkit_scan_input(it->mm, it->pos, end, &in);
        } else if (it->sp.src.have_view) {
            in = mmk_input_bytes((const char *)it->sp.src.view.buf + it->pos,
                                 (uint64_t)(end - it->pos));
        } else {
            in = mmk_input_fd_range(it->sp.src.fd, (uint64_t)it->pos, (uint64_t)(end - it->pos));
        }
    }
    col->base = (uint64_t)it->pos;
    col->line_base = it->line_base;
    col->drop_through = it->drop_through;
    col->batched = it->resumable;
    col->batch_lines = iter_batch_lines;
    col->batch_bytes = iter_batch_bytes;
    mmk_search_options so = it->sp.so;
    if (so.flags & MMK_SEARCH_MAX_COUNT)
        so.max_count -= it->selected_before;
    int64_t limit_at = -1;
    it->busy = 1;
    int rc =
        run_search(patref_ptr(&it->sp.pat), &in, from_file, it->mm != NULL ? it->mm->map : NULL,
                   it->pos, end, &so, it->sp.threads, col, &limit_at);
    it->busy = 0;
    if (it->resumable && it->mm != NULL)
        mmkit_op_end(it->mm);
    if (col->oom) {
        PyErr_NoMemory();
        return -1;
    }
    if (rc == ITER_STOP && col->n > 0) {
        /* Resume at the selected line the batch stopped at. */
        const line_rec *last = &col->recs[col->n - 1];
        it->selected_before += col->selected - 1;
        it->line_base = last->line_no - 1;
        it->drop_through = last->line_no;
        it->pos = (Py_ssize_t)last->offset;
        return 0;
    }
    if (rc != 0) {
        col->n = 0;
        raise_scan(it->module, rc, it->sp.src.path,
                   limit_at >= 0 ? limit_at + (int64_t)it->pos : -1);
        return -1;
    }
    it->done = 1;
    return 0;
}

static PyObject *iter_next(SearchIter *it) {
    if (it->busy) {
        PyErr_SetString(PyExc_ValueError, "search iterator already executing");
        return NULL;
    }
    for (;;) {
        if (it->at < it->col.n)
            return line_object(it->module, &it->col, it->at++);
        if (it->done || !it->active) {
            iter_release(it);
            return NULL;
        }
        if (iter_batch(it) < 0) {
            iter_release(it);
            return NULL;
        }
    }
}

static int iter_traverse(SearchIter *it, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->module);
    Py_VISIT(it->src_obj);
    return 0;
}

static int iter_clear(SearchIter *it) {
    if (!it->busy) {
        iter_release(it);
        it->mm = NULL;
        Py_CLEAR(it->src_obj);
    }
    return 0;
}

static void iter_dealloc(SearchIter *it) {
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    iter_release(it);
    Py_CLEAR(it->src_obj);
    Py_CLEAR(it->module);
    tp->tp_free((PyObject *)it);
    Py_DECREF(tp);
}

static PyType_Slot iter_slots[] = {
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, iter_next},
    {Py_tp_traverse, iter_traverse},
    {Py_tp_clear, iter_clear},
    {Py_tp_dealloc, iter_dealloc},
    {Py_tp_doc, (void *)"Iterator over the lines of mmkit.search_iter()."},
    {0, NULL},
};

static PyType_Spec iter_spec = {
    .name = "mmkit.search_iterator",
    .basicsize = sizeof(SearchIter),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#if PY_VERSION_HEX >= 0x030A0000
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = iter_slots,
};

PyDoc_STRVAR(mmkit_search_iter_doc,
             "search_iter($module, /, pattern, source, *, fixed=False, ignore_case=False,\n"
             "            word=False, line_exact=False, invert=False, before=0, after=0,\n"
             "            context=None, max_count=None, spans=False, threads=0,\n"
             "            decompress=False, start=None, end=None)\n"
             "--\n"
             "\n"
             "search() as an iterator of mmkit.Line records, in bounded memory: the\n"
             "source is searched a batch at a time (at most about 16 MiB or 65536\n"
             "lines, with the GIL released), each batch resuming where the last one\n"
             "stopped, and the lines are exactly search()'s. Bytes, maps and regular\n"
             "files are batched; pipes, procfs files and decompress=True are searched\n"
             "in one batch. A bytes-like source stays exported (a bytearray cannot be\n"
             "resized) until the iterator is exhausted or dropped. A map is in use only\n"
             "while a batch is searched: after close() the next batch raises\n"
             "ValueError; a batch's lines are as the map held them then. A file is\n"
             "read as long as it was when search_iter() was called. Errors of the\n"
             "source and arguments are raised by the call, errors of the search by the\n"
             "next() that meets them.");

static PyObject *mmkit_search_iter(PyObject *module, PyObject *args, PyObject *kwds) {
    mmkit_state *st = mmkit_get_state(module);
    SearchIter *it = PyObject_GC_New(SearchIter, st->search_iter_type);
    if (it == NULL)
        return NULL;
    it->module = module;
    Py_INCREF(module);
    it->src_obj = NULL;
    it->mm = NULL;
    memset(&it->col, 0, sizeof it->col);
    it->at = 0;
    it->done = it->busy = it->active = 0;
    it->resumable = 0;
    it->pos = it->end = 0;
    it->line_base = it->drop_through = it->selected_before = 0;
    PyObject_GC_Track(it);
    PyObject *src_obj = NULL;
    if (parse_search_args(module, args, kwds, "OO|$pppppOOOOpOpOO:search_iter", "search_iter",
                          &it->sp, &src_obj) < 0) {
        Py_DECREF(it);
        return NULL;
    }
    it->active = 1;
    it->src_obj = src_obj;
    Py_INCREF(src_obj);
    it->col.invert = it->sp.invert;
    it->col.want_spans = it->sp.want_spans;
    source *src = &it->sp.src;
    it->pos = src->start;
    it->end = src->end;
    if (src->mm != NULL) {
        /* In use only while a batch runs. */
        it->mm = src->mm;
        mmkit_op_end(src->mm);
        src->mm = NULL;
        it->resumable = 1;
    } else if (src->have_view) {
        it->resumable = 1;
    } else if (src->dec == NULL && src->fd >= 0) {
        mmkit_os_fileinfo sb;
        if (it->sp.range_given) {
            it->resumable = 1; /* source_open made it a range of a regular file */
        } else if (mmkit_os_fstat(src->fd, &sb) == 0 && sb.kind == MMKIT_OS_REGULAR &&
                   sb.size > 4096) {
            /* Files whose size lies say 0 (procfs) or 4096 (sysfs) and are
               read as streams: one batch, as is any file that small. */
            it->resumable = 1;
            it->pos = 0;
            it->end = sb.size > (uint64_t)PY_SSIZE_T_MAX ? PY_SSIZE_T_MAX : (Py_ssize_t)sb.size;
        }
    }
    return (PyObject *)it;
}

/* ------------------------------------------------------------------------ */
/* count_by()                                                                */
/* ------------------------------------------------------------------------ */

/* group: an int (0 = the whole match) or a group's name. Returns the number
   or -1 with ValueError/TypeError set. */
static int group_arg(PyObject *obj, const mmk_pattern *p) {
    int groups = mmk_pattern_groups(p);
    if (PyUnicode_Check(obj)) {
        const char *name = PyUnicode_AsUTF8(obj);
        if (name == NULL)
            return -1;
        int g = mmk_pattern_group_number(p, name);
        if (g < 0) {
            PyErr_Format(PyExc_ValueError, "the pattern has no group named %R", obj);
            return -1;
        }
        return g;
    }
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "group must be an int or a str, not '%.200s'",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    long g = PyLong_AsLong(obj);
    if (g == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
    }
    if (g < 0 || g > groups) {
        PyErr_Format(PyExc_ValueError, "group %R is out of range: the pattern has %d group%s", obj,
                     groups, groups == 1 ? "" : "s");
        return -1;
    }
    return (int)g;
}

PyDoc_STRVAR(mmkit_count_by_doc,
             "count_by($module, /, pattern, source, group=0, *, fixed=False,\n"
             "         ignore_case=False, word=False, threads=0, decompress=False,\n"
             "         top=None, start=None, end=None)\n"
             "--\n"
             "\n"
             "Count the matches of pattern in source per value of capture group\n"
             "`group` (an int, 0 for the whole match, or a group's name): a list of\n"
             "(value, count) pairs, value as bytes, sorted by count descending, then\n"
             "value ascending. Matches are found line by line as search() finds them\n"
             "(leftmost non-overlapping per line); empty matches are not counted (as\n"
             "grep -o skips them), nor matches in which the group did not take part.\n"
             "The same as `grep -oP ... | sort | uniq -c | sort -rn`. top keeps the\n"
             "first `top` pairs. pattern, source, fixed, ignore_case, word, threads,\n"
             "decompress, start and end as search(). Exact, one pass, all cores, the GIL\n"
             "released. Errors as search(); ValueError for a group that is not in\n"
             "the pattern.");

static PyObject *mmkit_count_by(PyObject *module, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"pattern", "source",     "group", "fixed", "ignore_case", "word",
                             "threads", "decompress", "top",   "start", "end",         NULL};
    PyObject *pat_obj, *src_obj, *group_obj = NULL, *threads_obj = NULL, *top_obj = Py_None;
    PyObject *start_obj = Py_None, *end_obj = Py_None;
    int fixed = 0, icase = 0, word = 0, decompress = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O$pppOpOOO:count_by", kwlist, &pat_obj,
                                     &src_obj, &group_obj, &fixed, &icase, &word, &threads_obj,
                                     &decompress, &top_obj, &start_obj, &end_obj))
        return NULL;
    unsigned threads = 0;
    uint64_t top = 0;
    int top_given = 0;
    range_arg range;
    if (threads_arg(threads_obj, &threads) < 0 || count_arg(top_obj, "top", &top, &top_given) < 0 ||
        range_parse(start_obj, end_obj, &range) < 0)
        return NULL;
    patref pat;
    if (pattern_arg(module, pat_obj, pattern_flags(fixed, icase, word, 0), &pat) < 0)
        return NULL;
    const mmk_pattern *p = patref_ptr(&pat);
    int group = 0;
    if (group_obj != NULL && (group = group_arg(group_obj, p)) < 0) {
        patref_release(&pat);
        return NULL;
    }
    source src;
    if (source_open(module, src_obj, decompress, &range, "count_by", &src) < 0) {
        patref_release(&pat);
        return NULL;
    }
    mmk_scan_options opt;
    memset(&opt, 0, sizeof opt);
    int64_t limit_at = -1;
    opt.threads = threads;
    opt.error_offset = &limit_at;
    mmk_wordtab *tab = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_count_by(p, group, &src.in, &opt, &tab);
    if (rc < 0 && src.from_file && rc != MMK_ELIMIT) {
        src.in = mmk_input_map(src.mm->map, src.start, src.end);
        rc = mmk_count_by(p, group, &src.in, &opt, &tab);
    }
    Py_END_ALLOW_THREADS
    PyObject *path = src.path;
    Py_XINCREF(path);
    if (limit_at >= 0)
        limit_at += src.start;
    source_close(&src);
    patref_release(&pat);
    if (rc < 0) {
        raise_scan(module, rc, path, limit_at);
        Py_XDECREF(path);
        return NULL;
    }
    Py_XDECREF(path);
    size_t n = mmk_wordtab_size(tab);
    if (top_given && top < n)
        n = (size_t)top;
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        const char *value = NULL;
        size_t len = 0;
        uint64_t count = 0;
        rc = mmk_wordtab_get(tab, i, &value, &len, &count);
        PyObject *item =
            rc < 0 ? mmkit_error(rc)
                   : Py_BuildValue("(y#K)", value, (Py_ssize_t)len, (unsigned long long)count);
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    mmk_wordtab_free(tab);
    return list;
}

/* ------------------------------------------------------------------------ */
/* time_range()                                                              */
/* ------------------------------------------------------------------------ */

static int time_format_arg(PyObject *obj, int *out) {
    *out = MMK_TIME_AUTO;
    if (obj == NULL || obj == Py_None)
        return 0;
    static const struct {
        const char *name;
        int format;
    } names[] = {{"auto", MMK_TIME_AUTO},
                 {"iso8601", MMK_TIME_ISO8601},
                 {"syslog", MMK_TIME_SYSLOG},
                 {"clf", MMK_TIME_CLF}};
    if (PyUnicode_Check(obj)) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (PyUnicode_CompareWithASCIIString(obj, names[i].name) == 0) {
                *out = names[i].format;
                return 0;
            }
        }
    }
    PyErr_Format(PyExc_ValueError,
                 "format must be None, 'auto', 'iso8601', 'syslog' or 'clf', not %R", obj);
    return -1;
}

/* since/until: None (open), int nanoseconds since the epoch, or a timestamp
   as str/bytes parsed with mmk_time_parse. */
static int time_bound_arg(PyObject *obj, const char *name, const mmk_time_options *to,
                          int64_t open_value, int64_t *out) {
    if (obj == NULL || obj == Py_None) {
        *out = open_value;
        return 0;
    }
    if (PyLong_Check(obj) && !PyBool_Check(obj)) {
        long long v = PyLong_AsLongLong(obj);
        if (v == -1 && PyErr_Occurred())
            return -1;
        *out = (int64_t)v;
        return 0;
    }
    PyObject *b = NULL;
    if (PyUnicode_Check(obj))
        b = PyUnicode_AsUTF8String(obj);
    else if (PyBytes_Check(obj)) {
        b = obj;
        Py_INCREF(b);
    } else {
        PyErr_Format(PyExc_TypeError,
                     "%s must be None, an int (nanoseconds) or a timestamp (str or bytes), "
                     "not '%.200s'",
                     name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (b == NULL)
        return -1;
    int64_t ns = 0;
    int rc = mmk_time_parse(PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b), to, &ns);
    Py_DECREF(b);
    if (rc < 0) {
        PyErr_Format(PyExc_ValueError, "%s: not a timestamp mmkit can read: %R", name, obj);
        return -1;
    }
    *out = ns;
    return 0;
}

PyDoc_STRVAR(mmkit_time_range_doc,
             "time_range($module, /, source, since=None, until=None, format=None, *,\n"
             "           year=0, utc_offset=0)\n"
             "--\n"
             "\n"
             "The byte range (start, end, sorted) of the lines of a time-ordered log\n"
             "whose time t is since <= t < until, found by binary search over the map\n"
             "(only the pages the search probes are read). source: an mmkit.mmap or a\n"
             "path (str or os.PathLike, mapped read-only for the call). since/until:\n"
             "None (open), an int (nanoseconds since 1970-01-01 UTC), or a timestamp\n"
             "as str/bytes (ISO 8601 or a prefix of it such as '2026-11-30T08',\n"
             "syslog 'Nov 30 08:29:57', common-log '30/Nov/2026:08:29:57 +0000').\n"
             "format: None or 'auto' (the first format found), 'iso8601', 'syslog',\n"
             "'clf'. year: the year of syslog timestamps (0: this year). utc_offset:\n"
             "seconds east of UTC of timestamps without a zone.\n"
             "A line without a timestamp belongs to the line before. sorted is False\n"
             "when a probe saw time go backwards: the log is out of order and the\n"
             "range is only what a binary search finds. m[start:end] are the lines.\n"
             "ValueError when no line carries a timestamp of the format, or for a\n"
             "timestamp that cannot be read; OSError if the file shrank.");

static PyObject *mmkit_time_range(PyObject *module, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"source", "since", "until", "format", "year", "utc_offset", NULL};
    PyObject *src_obj, *since_obj = Py_None, *until_obj = Py_None, *format_obj = Py_None;
    int year = 0;
    long long utc_offset = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOO$iL:time_range", kwlist, &src_obj,
                                     &since_obj, &until_obj, &format_obj, &year, &utc_offset))
        return NULL;
    mmk_time_options to;
    memset(&to, 0, sizeof to);
    if (time_format_arg(format_obj, &to.format) < 0)
        return NULL;
    to.year = year;
    to.utc_offset = (int64_t)utc_offset;
    int64_t since, until;
    if (time_bound_arg(since_obj, "since", &to, INT64_MIN, &since) < 0 ||
        time_bound_arg(until_obj, "until", &to, INT64_MAX, &until) < 0)
        return NULL;

    mmkit_state *st = mmkit_get_state(module);
    uint64_t start = 0, end = 0;
    int sorted = 1, rc;
    PyObject *path = NULL;
    if (PyObject_TypeCheck(src_obj, st->mmap_type)) {
        MmapObject *mm = (MmapObject *)src_obj;
        if (mmkit_op_begin(mm) < 0)
            return NULL;
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_time_range(mm->map, since, until, &to, &start, &end, &sorted);
        Py_END_ALLOW_THREADS
        mmkit_op_end(mm);
    } else if (is_path_like(src_obj)) {
        PyObject *fs = NULL;
        if (!PyUnicode_FSConverter(src_obj, &fs))
            return NULL;
        path = src_obj;
        mmk_options mo;
        memset(&mo, 0, sizeof mo);
        mo.access = MMK_ACCESS_READ;
        mmk_map *map = NULL;
        Py_BEGIN_ALLOW_THREADS
        rc = mmk_open(&map, PyBytes_AS_STRING(fs), &mo);
        if (rc == 0)
            rc = mmk_time_range(map, since, until, &to, &start, &end, &sorted);
        if (map != NULL)
            (void)mmk_free(map);
        Py_END_ALLOW_THREADS
        Py_DECREF(fs);
    } else {
        PyErr_Format(PyExc_TypeError,
                     "time_range: source must be an mmkit.mmap or a path (str or os.PathLike), "
                     "not '%.200s'",
                     Py_TYPE(src_obj)->tp_name);
        return NULL;
    }
    if (rc < 0)
        return raise_scan(module, rc, path, -1);
    return Py_BuildValue("(KKO)", (unsigned long long)start, (unsigned long long)end,
                         sorted ? Py_True : Py_False);
}

/* The module's Line and search iterator types (in its state). */
static int add_types(PyObject *m, mmkit_state *st) {
    st->line_type = PyStructSequence_NewType(&line_desc);
    if (st->line_type == NULL)
        return -1;
    Py_INCREF(st->line_type);
    if (PyModule_AddObject(m, "Line", (PyObject *)st->line_type) < 0) {
        Py_DECREF(st->line_type);
        return -1;
    }
    st->search_iter_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &iter_spec, NULL);
    return st->search_iter_type == NULL ? -1 : 0;
}

/* mmkit._search_iter_batch(lines, bytes): set the batch limits of
   search_iter() (0 restores a default); returns the old ones. For tests. */
static PyObject *mmkit_search_iter_batch(PyObject *module, PyObject *args) {
    Py_ssize_t lines, bytes;
    if (!PyArg_ParseTuple(args, "nn:_search_iter_batch", &lines, &bytes))
        return NULL;
    if (lines < 0 || bytes < 0) {
        PyErr_SetString(PyExc_ValueError, "batch limits must not be negative");
        return NULL;
    }
    PyObject *old =
        Py_BuildValue("(nn)", (Py_ssize_t)iter_batch_lines, (Py_ssize_t)iter_batch_bytes);
    iter_batch_lines = lines ? (size_t)lines : ITER_BATCH_LINES;
    iter_batch_bytes = bytes ? (size_t)bytes : ITER_BATCH_BYTES;
    return old;
}

static PyMethodDef mmkit_search_functions[] = {
    {"_search_iter_batch", METH(mmkit_search_iter_batch), METH_VARARGS, NULL},
    {"search", METH(mmkit_search), METH_VARARGS | METH_KEYWORDS, mmkit_search_doc},
    {"search_iter", METH(mmkit_search_iter), METH_VARARGS | METH_KEYWORDS, mmkit_search_iter_doc},
    {"count_by", METH(mmkit_count_by), METH_VARARGS | METH_KEYWORDS, mmkit_count_by_doc},
    {"time_range", METH(mmkit_time_range), METH_VARARGS | METH_KEYWORDS, mmkit_time_range_doc},
    {NULL, NULL, 0, NULL},
};

/* search(), search_iter(), count_by(), time_range() and their types. */
int mmkit_search_init(PyObject *m) {
    if (add_types(m, mmkit_get_state(m)) < 0)
        return -1;
    return PyModule_AddFunctions(m, mmkit_search_functions);
}
