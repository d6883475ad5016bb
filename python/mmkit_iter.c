/*
 * mmkit_iter.c — the iterators behind mmkit.mmap.lines() and
 * mmkit.mmap.finditer().
 *
 * Both work in batches so that the per-item cost is a few memory operations
 * and one Python object, never a library call with a lock:
 * - lines: a block of the map (whole lines, up to LINES_BLOCK bytes) is copied
 *   out under the fault guard with the GIL released, and lines are cut from
 *   the private copy;
 * - finditer: the library reports up to SPANS_BATCH matches per call (with
 *   the GIL released) into an array that the iterator then hands out.
 * Each batch holds a library view while the GIL is released, so closing the
 * map from another thread meanwhile raises there instead of unmapping memory
 * under the copy. Between batches the map may be closed: the next item then
 * raises ValueError, as every other operation on a closed map does.
 */
#include "mmkit_module.h"

#include <string.h>

#define LINES_BLOCK ((Py_ssize_t)256 * 1024)
#define SPANS_BATCH 8192

/* ------------------------------------------------------------------------ */
/* lines()                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD MmapObject *mm; /* strong reference; NULL once exhausted */
    Py_ssize_t next;              /* map offset of the first byte not yet copied */
    Py_ssize_t end;               /* end of the range */
    char *buf;                    /* private copy of whole lines: buf[at, len) still to hand out */
    Py_ssize_t cap, len, at;
    int busy; /* a refill is running with the GIL released */
} LinesIter;

/*
 * Make `it->buf` hold at least `need` bytes. Returns 0 or -1 with
 * MemoryError. Only called with the GIL held and the iterator marked busy.
 */
static int lines_reserve(LinesIter *it, Py_ssize_t need) {
    if (need <= it->cap)
        return 0;
    char *nb = PyMem_RawRealloc(it->buf, (size_t)need);
    if (nb == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    it->buf = nb;
    it->cap = need;
    return 0;
}

/*
 * Copy the next block of whole lines into the private buffer. A line longer
 * than the block is found with a guarded search and copied whole. Returns 0
 * (it->len is 0 at the end of the range) or -1 with an exception set.
 */
static int lines_refill(LinesIter *it) {
    MmapObject *mm = it->mm;
    Py_ssize_t size = (Py_ssize_t)mmk_length(mm->map);
    Py_ssize_t end = it->end < size ? it->end : size; /* the map may have shrunk */
    it->len = it->at = 0;
    if (it->next >= end)
        return 0;
    Py_ssize_t want = end - it->next;
    if (want > LINES_BLOCK)
        want = LINES_BLOCK;
    if (lines_reserve(it, want) < 0)
        return -1;

    int rc = mmk_view_acquire(mm->map, NULL, NULL);
    if (rc < 0) {
        mmkit_error(rc);
        return -1;
    }
    Py_ssize_t keep = want;
    int64_t nl = -1;
    int need_long_line = 0;
    it->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_copy_out(mm->map, (uint64_t)it->next, it->buf, (size_t)want);
    if (rc == 0 && it->next + want < end) {
        /* Not the last block: hand out whole lines only. */
        const char *last = memrchr(it->buf, '\n', (size_t)want);
        if (last != NULL) {
            keep = last - it->buf + 1;
        } else {
            need_long_line = 1;
            rc = mmk_find(mm->map, "\n", 1, it->next + want, end, &nl);
        }
    }
    Py_END_ALLOW_THREADS
    if (rc == 0 && need_long_line) {
        Py_ssize_t stop = nl < 0 ? end : (Py_ssize_t)nl + 1;
        keep = stop - it->next;
        if (lines_reserve(it, keep) < 0) {
            rc = 1; /* exception already set */
        } else {
            Py_BEGIN_ALLOW_THREADS
            rc = mmk_copy_out(mm->map, (uint64_t)(it->next + want), it->buf + want,
                              (size_t)(keep - want));
            Py_END_ALLOW_THREADS
        }
    }
    it->busy = 0;
    mmk_view_release(mm->map);
    if (rc != 0) {
        if (rc < 0)
            mmkit_error(rc);
        return -1;
    }
    it->len = keep;
    it->next += keep;
    return 0;
}

static void lines_finish(LinesIter *it) {
    Py_CLEAR(it->mm);
    PyMem_RawFree(it->buf);
    it->buf = NULL;
    it->cap = it->len = it->at = 0;
}

static PyObject *lines_next(LinesIter *it) {
    if (it->mm == NULL)
        return NULL;
    if (it->busy) {
        PyErr_SetString(PyExc_ValueError, "lines iterator already executing");
        return NULL;
    }
    if (mmkit_mmap_check_valid(it->mm) < 0)
        return NULL;
    if (it->at >= it->len) {
        if (lines_refill(it) < 0)
            return NULL;
        if (it->len == 0) {
            lines_finish(it);
            return NULL;
        }
    }
    const char *p = it->buf + it->at;
    Py_ssize_t avail = it->len - it->at;
    const char *nl = memchr(p, '\n', (size_t)avail);
    Py_ssize_t n = nl != NULL ? nl - p + 1 : avail;
    it->at += n;
    return PyBytes_FromStringAndSize(p, n);
}

static int lines_traverse(LinesIter *it, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->mm);
    return 0;
}

static int lines_clear(LinesIter *it) {
    if (!it->busy)
        Py_CLEAR(it->mm);
    return 0;
}

static void lines_dealloc(LinesIter *it) {
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    Py_CLEAR(it->mm);
    PyMem_RawFree(it->buf);
    tp->tp_free((PyObject *)it);
    Py_DECREF(tp);
}

static PyType_Slot lines_slots[] = {
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, lines_next},
    {Py_tp_traverse, lines_traverse},
    {Py_tp_clear, lines_clear},
    {Py_tp_dealloc, lines_dealloc},
    {Py_tp_doc, (void *)"Iterator over the lines of an mmkit.mmap (see mmap.lines())."},
    {0, NULL},
};

PyType_Spec mmkit_lines_spec = {
    .name = "mmkit.lines_iterator",
    .basicsize = sizeof(LinesIter),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#if PY_VERSION_HEX >= 0x030A0000
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = lines_slots,
};

static mmkit_state *state_of(MmapObject *mm) {
    if (mm->module == NULL) {
        PyErr_SetString(PyExc_ValueError, "mmap closed or invalid");
        return NULL;
    }
    return mmkit_get_state(mm->module);
}

/* A new lines iterator over mm[start:end] (a resolved range). */
PyObject *mmkit_lines_new(MmapObject *mm, Py_ssize_t start, Py_ssize_t end) {
    mmkit_state *st = state_of(mm);
    if (st == NULL)
        return NULL;
    LinesIter *it = PyObject_GC_New(LinesIter, st->lines_type);
    if (it == NULL)
        return NULL;
    Py_INCREF(mm);
    it->mm = mm;
    it->next = start;
    it->end = end;
    it->buf = NULL;
    it->cap = it->len = it->at = 0;
    it->busy = 0;
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

/* ------------------------------------------------------------------------ */
/* finditer()                                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD MmapObject *mm; /* strong reference; NULL once exhausted */
    pymm_pattern *pat;            /* one reference */
    int batched;                  /* the scan may stop after a batch and resume */
    int empty;                    /* empty literal: a match at every position */
    int done;                     /* no more batches to scan */
    int busy;
    Py_ssize_t next; /* where the next batch starts scanning */
    Py_ssize_t end;
    uint64_t *spans; /* pairs (start, end) in map offsets */
    size_t count, at, cap;
} SpansIter;

/* Collects spans from mmk_matches (runs without the GIL: raw allocator). */
typedef struct {
    uint64_t *spans;
    size_t count, cap, limit;
    uint64_t base;
    int oom;
} span_sink;

#define SPANS_STOP 2 /* our callback's "batch full" return value */

static int span_collect(uint64_t start, uint64_t end, void *user) {
    span_sink *s = user;
    if (s->count == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 1024;
        uint64_t *n = PyMem_RawRealloc(s->spans, ncap * 2 * sizeof *n);
        if (n == NULL) {
            s->oom = 1;
            return SPANS_STOP;
        }
        s->spans = n;
        s->cap = ncap;
    }
    s->spans[2 * s->count] = s->base + start;
    s->spans[2 * s->count + 1] = s->base + end;
    s->count++;
    return (s->limit != 0 && s->count >= s->limit) ? SPANS_STOP : 0;
}

/* Fill the span array with the next batch. Returns 0 (count 0 at the end)
   or -1 with an exception set. */
static int spans_refill(SpansIter *it) {
    MmapObject *mm = it->mm;
    it->count = it->at = 0;
    if (it->done)
        return 0;
    Py_ssize_t size = (Py_ssize_t)mmk_length(mm->map);
    Py_ssize_t end = it->end < size ? it->end : size;

    if (it->empty) {
        /* re.finditer(b'', data) matches at every position, end included. */
        if (it->next > end) {
            it->done = 1;
            return 0;
        }
        size_t n = (size_t)(end - it->next) + 1;
        if (n > SPANS_BATCH)
            n = SPANS_BATCH;
        if (it->cap < n) {
            uint64_t *ns = PyMem_RawRealloc(it->spans, n * 2 * sizeof *ns);
            if (ns == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            it->spans = ns;
            it->cap = n;
        }
        for (size_t i = 0; i < n; i++)
            it->spans[2 * i] = it->spans[2 * i + 1] = (uint64_t)it->next + i;
        it->count = n;
        it->next += (Py_ssize_t)n;
        return 0;
    }
    if (it->next > end) {
        it->done = 1;
        return 0;
    }

    span_sink sink = {it->spans, 0, it->cap, it->batched ? SPANS_BATCH : 0, (uint64_t)it->next, 0};
    mmk_scan_options opt;
    memset(&opt, 0, sizeof opt);
    /* A batch stops early: one thread stops promptly, more would scan ahead
       for nothing. A whole-range scan uses every core. */
    opt.threads = it->batched ? 1 : 0;
    mmk_input in = mmk_input_map(mm->map, it->next, end);
    const mmk_pattern *p = mmkit_pattern_ptr(it->pat);

    int rc = mmk_view_acquire(mm->map, NULL, NULL);
    if (rc < 0) {
        mmkit_error(rc);
        return -1;
    }
    it->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_matches(p, &in, &opt, span_collect, &sink);
    Py_END_ALLOW_THREADS
    it->busy = 0;
    mmk_view_release(mm->map);
    it->spans = sink.spans;
    it->cap = sink.cap;
    if (sink.oom) {
        PyErr_NoMemory();
        return -1;
    }
    if (rc < 0) {
        mmkit_error(rc);
        return -1;
    }
    it->count = sink.count;
    if (rc == SPANS_STOP && sink.count > 0) {
        /* Batches are only used for non-empty literals: every match is
           non-empty and the search resumes right after the last one. */
        it->next = (Py_ssize_t)sink.spans[2 * sink.count - 1];
    } else {
        it->done = 1;
    }
    return 0;
}

static void spans_finish(SpansIter *it) {
    Py_CLEAR(it->mm);
    PyMem_RawFree(it->spans);
    it->spans = NULL;
    it->count = it->at = it->cap = 0;
}

static PyObject *spans_next(SpansIter *it) {
    if (it->mm == NULL)
        return NULL;
    if (it->busy) {
        PyErr_SetString(PyExc_ValueError, "finditer iterator already executing");
        return NULL;
    }
    if (mmkit_mmap_check_valid(it->mm) < 0)
        return NULL;
    if (it->at >= it->count) {
        if (spans_refill(it) < 0)
            return NULL;
        if (it->count == 0) {
            spans_finish(it);
            return NULL;
        }
    }
    size_t i = it->at++;
    PyObject *t = PyTuple_New(2);
    if (t == NULL)
        return NULL;
    PyObject *a = PyLong_FromUnsignedLongLong((unsigned long long)it->spans[2 * i]);
    PyObject *b = PyLong_FromUnsignedLongLong((unsigned long long)it->spans[2 * i + 1]);
    if (a == NULL || b == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        Py_DECREF(t);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, a);
    PyTuple_SET_ITEM(t, 1, b);
    return t;
}

static int spans_traverse(SpansIter *it, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->mm);
    return 0;
}

static int spans_clear(SpansIter *it) {
    if (!it->busy)
        Py_CLEAR(it->mm);
    return 0;
}

static void spans_dealloc(SpansIter *it) {
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    Py_CLEAR(it->mm);
    mmkit_pattern_put(it->pat);
    PyMem_RawFree(it->spans);
    tp->tp_free((PyObject *)it);
    Py_DECREF(tp);
}

static PyType_Slot spans_slots[] = {
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, spans_next},
    {Py_tp_traverse, spans_traverse},
    {Py_tp_clear, spans_clear},
    {Py_tp_dealloc, spans_dealloc},
    {Py_tp_doc, (void *)"Iterator over match spans in an mmkit.mmap (see mmap.finditer())."},
    {0, NULL},
};

PyType_Spec mmkit_spans_spec = {
    .name = "mmkit.finditer_iterator",
    .basicsize = sizeof(SpansIter),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#if PY_VERSION_HEX >= 0x030A0000
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = spans_slots,
};

/*
 * A new finditer iterator over mm[start:end]. Takes over the caller's
 * reference to `pat` on success only.
 */
PyObject *mmkit_spans_new(MmapObject *mm, pymm_pattern *pat, unsigned empty, int batched,
                          Py_ssize_t start, Py_ssize_t end) {
    mmkit_state *st = state_of(mm);
    if (st == NULL)
        return NULL;
    SpansIter *it = PyObject_GC_New(SpansIter, st->spans_type);
    if (it == NULL)
        return NULL;
    Py_INCREF(mm);
    it->mm = mm;
    it->pat = pat;
    it->batched = batched;
    it->empty = empty != 0;
    it->done = 0;
    it->busy = 0;
    it->next = start;
    it->end = end;
    it->spans = NULL;
    it->count = it->at = it->cap = 0;
    PyObject_GC_Track(it);
    return (PyObject *)it;
}
