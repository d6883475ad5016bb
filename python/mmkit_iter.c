/*
 * mmkit_iter.c — the iterators behind mmkit.mmap.lines(), mmkit.mmap.grep() and
 * mmkit.mmap.finditer().
 *
 * lines() and finditer() see the map as it is when they produce an item,
 * never a stale copy and never bytes past the current end:
 * - lines: each line is read from the map when it is produced, at the
 *   iterator's own position, exactly as readline() would read it there (one
 *   guarded copy of a small block per line; CPython's own per-line costs are
 *   of the same order, see docs/python.md);
 * - finditer: the library reports up to SPANS_BATCH matches per call (with
 *   the GIL released, as an operation in flight) into an array that the
 *   iterator then hands out. The batch remembers the map's change counter;
 *   if the map was changed through its object since (write, move, resize,
 *   close), the rest of the batch is dropped and the search starts again
 *   from the end of the last span produced, over the map as it is.
 * grep() hands out the lines of one searched window at a time (see below):
 * they are as the map held them when that window was searched.
 * A range given with end=None follows the map's current length. Between
 * items the map may be closed: the next item then raises ValueError, as
 * every other operation on a closed map does.
 */
#include "mmkit_module.h"

#include <errno.h>
#include <string.h>

#define SPANS_BATCH 8192

/* ------------------------------------------------------------------------ */
/* lines()                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD MmapObject *mm; /* strong reference; NULL once exhausted */
    Py_ssize_t next;              /* map offset of the next line */
    Py_ssize_t end;               /* end of the range (PY_SSIZE_T_MAX: the map's end) */
} LinesIter;

static void lines_finish(LinesIter *it) {
    Py_CLEAR(it->mm);
}

static PyObject *lines_next(LinesIter *it) {
    MmapObject *mm = it->mm;
    if (mm == NULL)
        return NULL;
    if (mmkit_mmap_check_valid(mm) < 0)
        return NULL;
    Py_ssize_t size = (Py_ssize_t)mmk_length(mm->map);
    Py_ssize_t end = it->end < size ? it->end : size;
    if (it->next >= end) {
        lines_finish(it);
        return NULL;
    }
    Py_ssize_t stop = it->next;
    PyObject *line = mmkit_read_line(mm, it->next, end, &stop);
    if (line != NULL)
        it->next = stop;
    return line;
}

static int lines_traverse(LinesIter *it, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->mm);
    return 0;
}

static int lines_clear(LinesIter *it) {
    Py_CLEAR(it->mm);
    return 0;
}

static void lines_dealloc(LinesIter *it) {
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    Py_CLEAR(it->mm);
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

/* A new lines iterator over mm[start:end] (a resolved range; without
   end_given the iterator follows the map's length). */
PyObject *mmkit_lines_new(MmapObject *mm, Py_ssize_t start, Py_ssize_t end, int end_given) {
    mmkit_state *st = state_of(mm);
    if (st == NULL)
        return NULL;
    LinesIter *it = PyObject_GC_New(LinesIter, st->lines_type);
    if (it == NULL)
        return NULL;
    Py_INCREF(mm);
    it->mm = mm;
    it->next = start;
    it->end = end_given ? end : PY_SSIZE_T_MAX;
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
    Py_ssize_t next;            /* where the next batch starts scanning */
    Py_ssize_t end;             /* end of the range (PY_SSIZE_T_MAX: the map's end) */
    Py_ssize_t resume;          /* end of the last span produced (the range start before any) */
    int produced;               /* a span has been produced */
    int last_empty;             /* the last span produced was empty */
    Py_ssize_t skip_empty_at;   /* drop an empty span here from the next batch (-1: none) */
    unsigned long long changes; /* the map's change counter when the batch was scanned */
    uint64_t *spans;            /* pairs (start, end) in map offsets */
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
    it->changes = mm->changes;
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
    int64_t limit_at = -1;
    opt.error_offset = &limit_at;
    /* A batch stops early: one thread stops promptly, more would scan ahead
       for nothing. A whole-range scan uses every core. */
    opt.threads = it->batched ? 1 : 0;
    mmk_input in = mmk_input_map(mm->map, it->next, end);
    const mmk_pattern *p = mmkit_pattern_ptr(it->pat);

    if (mmkit_op_begin(mm) < 0)
        return -1;
    int rc;
    it->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_matches(p, &in, &opt, span_collect, &sink);
    Py_END_ALLOW_THREADS
    it->busy = 0;
    mmkit_op_end(mm);
    it->spans = sink.spans;
    it->cap = sink.cap;
    if (sink.oom) {
        PyErr_NoMemory();
        return -1;
    }
    if (rc < 0) {
        mmkit_scan_error(mm, rc, limit_at, it->next);
        return -1;
    }
    it->count = sink.count;
    if (it->skip_empty_at >= 0 && sink.count > 0 && sink.spans[0] == sink.spans[1] &&
        sink.spans[0] == (uint64_t)it->skip_empty_at)
        it->at = 1; /* produced before the map changed: Python's rules allow no repeat */
    it->skip_empty_at = -1;
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
    MmapObject *mm = it->mm;
    if (mmkit_mmap_check_valid(mm) < 0)
        return NULL;
    Py_ssize_t size = (Py_ssize_t)mmk_length(mm->map);
    if (it->changes != mm->changes ||
        (it->at < it->count && it->spans[2 * it->at + 1] > (uint64_t)size)) {
        /* The map changed since the batch was scanned: what is left of the
           batch may be stale or past the end. Search again from where the
           iteration stands, over the map as it is. */
        it->count = it->at = 0;
        it->done = 0;
        if (it->empty) {
            it->next = it->produced ? it->resume + 1 : it->resume;
        } else {
            it->next = it->resume;
            it->skip_empty_at = it->produced && it->last_empty ? it->resume : -1;
        }
    }
    while (it->at >= it->count) {
        if (spans_refill(it) < 0)
            return NULL;
        if (it->count == 0) {
            spans_finish(it);
            return NULL;
        }
    }
    size_t i = it->at++;
    it->produced = 1;
    it->resume = (Py_ssize_t)it->spans[2 * i + 1];
    it->last_empty = it->spans[2 * i] == it->spans[2 * i + 1];
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
                          Py_ssize_t start, Py_ssize_t end, int end_given) {
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
    it->end = end_given ? end : PY_SSIZE_T_MAX;
    it->resume = start;
    it->produced = 0;
    it->last_empty = 0;
    it->skip_empty_at = -1;
    it->changes = mm->changes;
    it->spans = NULL;
    it->count = it->at = it->cap = 0;
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

/* ------------------------------------------------------------------------ */
/* grep()                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Matching lines (the default): one mmk_match_lines call searches from the
 * next unsearched line to the end of the range with every core and the GIL
 * released, and the callback copies the lines into the iterator; it stops
 * the search when GREP_BATCH_BYTES or GREP_BATCH_LINES are held, and the next
 * search resumes at the line after the last one taken (its number tells how
 * many lines lie before). Lines are independent subjects (MMK_PAT_LINES), so
 * the batches give exactly what one search would, and memory stays bounded.
 * A selective pattern runs as one search: with the range cut into 8 MiB
 * windows, a profile of grep over the 1.1 GB text showed about a third of
 * the time allocating and faulting in per-chunk result buffers anew. A
 * stop throws away what the workers had read ahead (at most a few dozen
 * MiB), which only dense results pay, and they cost far more in objects.
 * invert=True needs the bytes of the lines without a match: the range is
 * copied a window at a time (GREP_WINDOW_MIN bytes, doubling up to
 * GREP_WINDOW_MAX, cut just after a newline; a longer line is one window)
 * and the window is searched in memory.
 * Why not a background thread feeding a queue: a producer blocked on a full
 * queue would hold the map in flight, and a close() from the consumer's
 * thread would then wait for it forever.
 */
#define GREP_WINDOW_MIN ((Py_ssize_t)8 << 20)
#define GREP_WINDOW_MAX ((Py_ssize_t)64 << 20)
/* Matching lines: a search stops after this many bytes or lines. */
#define GREP_BATCH_BYTES ((size_t)16 << 20)
#define GREP_BATCH_LINES ((size_t)1 << 18)
#define GREP_BATCH_FULL 2 /* grep_collect's "batch full" return value */
/* The matching lines' arena starts this large: a block the allocator maps
   and the system backs only where lines are written, so a selective search
   touches a page per 4 KiB of lines, where doubling from 64 KiB copied and
   touched the lines about twice (a page fault costs 16 us on the 2-core VM
   of BENCHMARKS.md: 360 faults on mm.grep of a rare word over 1.1 GB). */
#define GREP_ARENA_FIRST ((size_t)2 << 20)
/* ... and is backed ahead of the copies in steps of this many bytes, one
   system call instead of 64 faults (mmkit_os_prefault) */
#define GREP_ARENA_STEP ((size_t)256 << 10)

typedef struct {
    uint64_t off;     /* the line's map offset */
    uint64_t len;     /* without its '\n' */
    uint64_t line_no; /* 1-based within the window */
    size_t text;      /* its bytes in the arena (not for invert) */
} grep_rec;

typedef struct {
    PyObject_HEAD MmapObject *mm; /* strong reference; NULL once exhausted */
    pymm_pattern *pat;            /* one reference */
    int invert, numbers, busy;
    unsigned threads;
    Py_ssize_t next;       /* map offset where the next window starts (a line start) */
    Py_ssize_t end;        /* end of the range (PY_SSIZE_T_MAX: the map's end) */
    uint64_t lines_before; /* lines of the range before `next` */
    Py_ssize_t window;     /* bytes of the next window (before the cut) */
    /* the current window [win_lo, win_hi) */
    Py_ssize_t win_lo, win_hi;
    uint64_t win_base; /* lines of the range before win_lo */
    grep_rec *recs;    /* matching lines, in order */
    size_t nrec, at, cap;
    uint8_t *arena; /* matching lines' bytes (not for invert) */
    size_t arena_len, arena_cap;
    size_t arena_ready; /* arena bytes known backed by memory (prefaulted or written) */
    uint8_t *win;       /* invert: the window's bytes */
    size_t win_cap;
    Py_ssize_t inv_pos; /* invert: map offset of the next line to consider */
    uint64_t inv_line;  /* invert: its number in the range */
    int oom;
} GrepIter;

/* mmk_match_lines callback (runs without the GIL: raw allocator). */
static int grep_collect(const char *line, size_t len, uint64_t line_no, uint64_t offset,
                        uint64_t matches, void *user) {
    GrepIter *it = user;
    (void)matches;
    if (it->nrec == it->cap) {
        size_t ncap = it->cap ? it->cap * 2 : 256;
        grep_rec *n = PyMem_RawRealloc(it->recs, ncap * sizeof *n);
        if (n == NULL) {
            it->oom = 1;
            return 1;
        }
        it->recs = n;
        it->cap = ncap;
    }
    grep_rec *r = &it->recs[it->nrec];
    r->off = (uint64_t)it->win_lo + offset;
    r->len = len;
    r->line_no = line_no;
    r->text = it->arena_len;
    if (!it->invert) {
        if (it->arena_len + len > it->arena_cap) {
            size_t ncap = it->arena_cap ? it->arena_cap : GREP_ARENA_FIRST;
            while (ncap < it->arena_len + len)
                ncap *= 2;
            uint8_t *n = PyMem_RawRealloc(it->arena, ncap);
            if (n == NULL) {
                it->oom = 1;
                return 1;
            }
            it->arena = n;
            it->arena_cap = ncap;
            it->arena_ready = it->arena_len; /* what a move copied */
        }
        if (it->arena_len + len > it->arena_ready) {
            /* arena_ready >= arena_len always: the backed bytes run on. */
            size_t upto = it->arena_len + len + GREP_ARENA_STEP;
            if (upto > it->arena_cap)
                upto = it->arena_cap;
            mmkit_os_prefault(it->arena + it->arena_ready, upto - it->arena_ready);
            it->arena_ready = upto;
        }
        if (len)
            memcpy(it->arena + it->arena_len, line, len);
        it->arena_len += len;
    }
    it->nrec++;
    if (!it->invert && (it->arena_len >= GREP_BATCH_BYTES || it->nrec >= GREP_BATCH_LINES))
        return GREP_BATCH_FULL;
    return 0;
}

/* mmk_search's sink for the matching lines: the same collection. */
static int grep_sink_line(const mmk_line *l, void *user) {
    return grep_collect(l->bytes, l->len, l->line_no, l->offset, l->matches, user);
}

/* Read the window's bytes into it->win (invert): from the file where the map
   is its page cache, else (or if the file no longer holds them) through the
   map under the fault guard. */
static int grep_load_window(GrepIter *it, const mmk_input *in, size_t n) {
    if (it->win_cap < n) {
        uint8_t *w = PyMem_RawRealloc(it->win, n ? n : 1);
        if (w == NULL)
            return -ENOMEM;
        it->win = w;
        it->win_cap = n;
    }
    if (in->kind == MMK_INPUT_FD) {
        if (mmkit_os_pread(in->fd, it->win, n, (uint64_t)in->start) == (int64_t)n)
            return 0;
    }
    return mmk_copy_out(it->mm->map, (uint64_t)it->win_lo, it->win, n);
}

/* Search the next window: the map is in flight and the GIL released. */
static int grep_scan_window(GrepIter *it, Py_ssize_t end, int64_t *limit_at) {
    mmk_map *map = it->mm->map;
    Py_ssize_t cut = end;
    if (it->invert && end - it->next > it->window) {
        int64_t nl = -1;
        int rc = mmk_find(map, "\n", 1, it->next + it->window - 1, end, &nl);
        if (rc < 0)
            return rc;
        cut = nl < 0 ? end : (Py_ssize_t)nl + 1;
    }
    it->win_lo = it->next;
    it->win_hi = cut;
    mmk_scan_options opt;
    memset(&opt, 0, sizeof opt);
    opt.threads = it->threads;
    opt.error_offset = limit_at;
    const mmk_pattern *p = mmkit_pattern_ptr(it->pat);
    mmk_input in;
    int from_file = mmkit_scan_input(it->mm, it->win_lo, cut, &in);
    uint64_t newlines = 0;
    int rc;
    if (it->invert) {
        /* The window's bytes are needed anyway: search the copy. */
        rc = grep_load_window(it, &in, (size_t)(cut - it->win_lo));
        if (rc < 0)
            return rc;
        mmk_input bytes = mmk_input_bytes(it->win, (uint64_t)(cut - it->win_lo));
        rc = mmk_match_lines(p, &bytes, &opt, grep_collect, it, NULL);
        if (rc == 0)
            rc = mmk_count_lines(&bytes, &opt, &newlines);
    } else {
        /* Without numbers asked for, the search need not count lines. */
        mmk_search_options so;
        memset(&so, 0, sizeof so);
        so.flags = MMK_SEARCH_FIRST_MATCH | (it->numbers ? 0 : MMK_SEARCH_NO_LINE_NUMBERS);
        mmk_sink sink = {grep_sink_line, NULL, it};
        for (;;) {
            it->nrec = it->arena_len = 0;
            rc = mmk_search(p, &in, &opt, &so, &sink, NULL);
            if (rc < 0 && from_file && rc != MMK_ELIMIT && !it->oom) {
                /* The file no longer holds the window: the map decides. */
                from_file = 0;
                in = mmk_input_map(map, it->win_lo, cut);
                continue;
            }
            break;
        }
        if (rc == GREP_BATCH_FULL && it->nrec > 0) {
            /* Resume at the line after the last one taken; the lines
               before it are known from its number. */
            const grep_rec *last = &it->recs[it->nrec - 1];
            uint64_t stop = last->off + last->len;
            cut = stop < (uint64_t)end ? (Py_ssize_t)stop + 1 : end;
            newlines = last->line_no;
            rc = 0;
        }
        it->win_hi = cut;
    }
    if (it->oom)
        return -ENOMEM;
    if (rc < 0)
        return rc;
    it->win_base = it->lines_before;
    it->lines_before += newlines;
    it->next = cut;
    if (it->window < GREP_WINDOW_MAX)
        it->window *= 2;
    it->inv_pos = it->win_lo;
    it->inv_line = it->win_base + 1;
    return 0;
}

/* Make the next window current. Returns 1 (a window), 0 (the range is done)
   or -1 with an exception set. */
static int grep_refill(GrepIter *it) {
    MmapObject *mm = it->mm;
    it->nrec = it->at = it->arena_len = 0;
    it->win_lo = it->win_hi = it->inv_pos = it->next;
    Py_ssize_t size = (Py_ssize_t)mmk_length(mm->map);
    Py_ssize_t end = it->end < size ? it->end : size;
    if (it->next >= end)
        return 0;
    if (mmkit_op_begin(mm) < 0)
        return -1;
    int64_t limit_at = -1;
    Py_ssize_t base = it->next;
    int rc;
    it->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = grep_scan_window(it, end, &limit_at);
    Py_END_ALLOW_THREADS
    it->busy = 0;
    mmkit_op_end(mm);
    if (rc < 0) {
        it->nrec = it->at = 0;
        it->win_hi = it->inv_pos = it->win_lo;
        it->oom = 0;
        if (rc == -ENOMEM) {
            PyErr_NoMemory();
            return -1;
        }
        mmkit_scan_error(mm, rc, limit_at, base);
        return -1;
    }
    return 1;
}

/* The item for a line: bytes, or (line_number, offset, bytes). */
static PyObject *grep_item(GrepIter *it, uint64_t line_no, uint64_t off, const uint8_t *text,
                           size_t len, int add_nl) {
    PyObject *line = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(len + (add_nl ? 1 : 0)));
    if (line == NULL)
        return NULL;
    char *d = PyBytes_AS_STRING(line);
    if (len)
        memcpy(d, text, len);
    if (add_nl)
        d[len] = '\n';
    if (!it->numbers)
        return line;
    return Py_BuildValue("(KKN)", (unsigned long long)line_no, (unsigned long long)off, line);
}

static void grep_finish(GrepIter *it) {
    Py_CLEAR(it->mm);
    PyMem_RawFree(it->recs);
    PyMem_RawFree(it->arena);
    PyMem_RawFree(it->win);
    it->recs = NULL;
    it->arena = it->win = NULL;
    it->nrec = it->at = it->cap = it->arena_len = it->arena_cap = it->arena_ready = it->win_cap = 0;
}

static PyObject *grep_next(GrepIter *it) {
    if (it->mm == NULL)
        return NULL;
    if (it->busy) {
        PyErr_SetString(PyExc_ValueError, "grep iterator already executing");
        return NULL;
    }
    if (mmkit_mmap_check_valid(it->mm) < 0)
        return NULL;
    for (;;) {
        if (!it->invert && it->at < it->nrec) {
            grep_rec *r = &it->recs[it->at++];
            return grep_item(it, it->win_base + r->line_no, r->off, it->arena + r->text,
                             (size_t)r->len, r->off + r->len < (uint64_t)it->win_hi);
        }
        if (it->invert && it->inv_pos < it->win_hi) {
            /* The lines of the window in order, skipping the matching ones. */
            Py_ssize_t pos = it->inv_pos;
            const uint8_t *w = it->win + (pos - it->win_lo);
            size_t room = (size_t)(it->win_hi - pos);
            const uint8_t *nl = memchr(w, '\n', room);
            size_t len = nl ? (size_t)(nl - w) + 1 : room;
            uint64_t line_no = it->inv_line++;
            it->inv_pos = pos + (Py_ssize_t)len;
            if (it->at < it->nrec && it->recs[it->at].off == (uint64_t)pos) {
                it->at++;
                continue;
            }
            return grep_item(it, line_no, (uint64_t)pos, w, len, 0);
        }
        int r = grep_refill(it);
        if (r < 0)
            return NULL;
        if (r == 0) {
            grep_finish(it);
            return NULL;
        }
    }
}

static int grep_traverse(GrepIter *it, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->mm);
    return 0;
}

static int grep_clear(GrepIter *it) {
    if (!it->busy)
        Py_CLEAR(it->mm);
    return 0;
}

static void grep_dealloc(GrepIter *it) {
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    grep_finish(it);
    mmkit_pattern_put(it->pat);
    tp->tp_free((PyObject *)it);
    Py_DECREF(tp);
}

static PyType_Slot grep_slots[] = {
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, grep_next},
    {Py_tp_traverse, grep_traverse},
    {Py_tp_clear, grep_clear},
    {Py_tp_dealloc, grep_dealloc},
    {Py_tp_doc, (void *)"Iterator over the matching lines of an mmkit.mmap (see mmap.grep())."},
    {0, NULL},
};

PyType_Spec mmkit_grep_spec = {
    .name = "mmkit.grep_iterator",
    .basicsize = sizeof(GrepIter),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
#if PY_VERSION_HEX >= 0x030A0000
             | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
    ,
    .slots = grep_slots,
};

/*
 * A new grep iterator over mm[start:end] (a resolved range; without
 * end_given the iterator follows the map's length). Takes over the caller's
 * reference to `pat` (compiled with MMK_PAT_LINES) on success only.
 */
PyObject *mmkit_grep_new(MmapObject *mm, pymm_pattern *pat, int invert, int numbers,
                         unsigned threads, Py_ssize_t start, Py_ssize_t end, int end_given) {
    mmkit_state *st = state_of(mm);
    if (st == NULL)
        return NULL;
    GrepIter *it = PyObject_GC_New(GrepIter, st->grep_type);
    if (it == NULL)
        return NULL;
    Py_INCREF(mm);
    it->mm = mm;
    it->pat = pat;
    it->invert = invert != 0;
    it->numbers = numbers != 0;
    it->busy = 0;
    it->threads = threads;
    it->next = start;
    it->end = end_given ? end : PY_SSIZE_T_MAX;
    it->lines_before = 0;
    it->window = GREP_WINDOW_MIN;
    it->win_lo = it->win_hi = it->inv_pos = start;
    it->win_base = 0;
    it->inv_line = 1;
    it->recs = NULL;
    it->nrec = it->at = it->cap = 0;
    it->arena = NULL;
    it->arena_len = it->arena_cap = it->arena_ready = 0;
    it->win = NULL;
    it->win_cap = 0;
    it->oom = 0;
    PyObject_GC_Track(it);
    return (PyObject *)it;
}
