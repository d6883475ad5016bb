/*
 * mmkit_part.c — counts cut into parts that run in other processes or on
 * other machines: mmkit.count_part() and mmkit.count_part_fix() over
 * mmk_count_part / mmk_count_part_fix (include/mmkit.h). mmkit.dask is built
 * on them: each worker counts its part of a file, the client joins the parts
 * in order and asks a worker for a fix only where the bytes are needed.
 *
 * A part travels as a plain tuple (start, end, count, next_pos,
 * next_notempty, record), record a tuple of (start, end) pairs, so that it
 * pickles without this module's types.
 */
#include <errno.h>
#include <string.h>

#include "mmkit_module.h"

/* What a part reads: a path (opened here), an mmkit.mmap (held in flight) or
   a bytes-like object; or nothing (count_part_fix with None). */
typedef struct {
    mmk_input in;
    int have_in;
    int fd;
    MmapObject *mm;
    Py_buffer view;
    int have_view;
    PyObject *path; /* borrowed, for errors */
} part_source;

static void part_source_close(part_source *s) {
    if (s->fd >= 0) {
        mmkit_os_close(s->fd);
        s->fd = -1;
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

static int part_source_open(PyObject *module, PyObject *obj, int allow_none, part_source *s) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    if (obj == Py_None && allow_none)
        return 0;
    mmkit_state *st = mmkit_get_state(module);
    if (PyObject_TypeCheck(obj, st->mmap_type)) {
        MmapObject *mm = (MmapObject *)obj;
        if (mmkit_op_begin(mm) < 0)
            return -1;
        s->mm = mm;
        s->in = mmk_input_map(mm->map, MMK_DEFAULT_POS, MMK_DEFAULT_POS);
        s->have_in = 1;
        return 0;
    }
    if (PyUnicode_Check(obj) || (!PyObject_CheckBuffer(obj) &&
                                 PyObject_HasAttrString((PyObject *)Py_TYPE(obj), "__fspath__"))) {
        int fd = mmkit_open_path_read(obj);
        if (fd < 0)
            return -1;
        mmkit_os_fileinfo sb;
        if (mmkit_os_fstat(fd, &sb) == 0 && sb.kind != MMKIT_OS_REGULAR) {
            mmkit_os_close(fd); /* parts need a regular file (directories: EISDIR above) */
            errno = ENODEV;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, obj);
            return -1;
        }
        s->fd = fd;
        s->path = obj;
        s->in = mmk_input_fd(fd);
        s->have_in = 1;
        return 0;
    }
    if (PyObject_CheckBuffer(obj)) {
        if (PyObject_GetBuffer(obj, &s->view, PyBUF_SIMPLE) < 0)
            return -1;
        s->have_view = 1;
        s->in = mmk_input_bytes(s->view.buf, (uint64_t)s->view.len);
        s->have_in = 1;
        return 0;
    }
    PyErr_Format(PyExc_TypeError,
                 "source must be a path (str or os.PathLike), an mmkit.mmap or a bytes-like "
                 "object%s, not '%.200s'",
                 allow_none ? " (or None)" : "", Py_TYPE(obj)->tp_name);
    return -1;
}

/* The pattern: bytes-like or str (UTF-8), compiled as mmap.count() does. */
static pymm_pattern *part_pattern(PyObject *module, PyObject *obj, int regex, int icase, int word) {
    unsigned flags = 0;
    if (!regex)
        flags |= MMK_PAT_FIXED;
    if (icase)
        flags |= MMK_PAT_ICASE;
    if (word)
        flags |= MMK_PAT_WORD;
    if (PyUnicode_Check(obj)) {
        Py_ssize_t len = 0;
        const char *text = PyUnicode_AsUTF8AndSize(obj, &len);
        if (text == NULL)
            return NULL;
        return mmkit_pattern_get(module, text, len, flags);
    }
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    pymm_pattern *p = mmkit_pattern_get(module, view.buf, view.len, flags);
    PyBuffer_Release(&view);
    return p;
}

static PyObject *part_to_tuple(const mmk_part *p) {
    PyObject *rec = PyTuple_New((Py_ssize_t)p->nrec);
    if (rec == NULL)
        return NULL;
    for (uint32_t i = 0; i < p->nrec; i++) {
        PyObject *pair = Py_BuildValue("(KK)", (unsigned long long)p->rec[i][0],
                                       (unsigned long long)p->rec[i][1]);
        if (pair == NULL) {
            Py_DECREF(rec);
            return NULL;
        }
        PyTuple_SET_ITEM(rec, (Py_ssize_t)i, pair);
    }
    return Py_BuildValue("(KKKKON)", (unsigned long long)p->start, (unsigned long long)p->end,
                         (unsigned long long)p->count, (unsigned long long)p->next_pos,
                         p->next_notempty ? Py_True : Py_False, rec);
}

static int u64_item(PyObject *seq, Py_ssize_t i, uint64_t *out) {
    PyObject *v = PySequence_GetItem(seq, i);
    if (v == NULL)
        return -1;
    unsigned long long x = PyLong_Check(v) ? PyLong_AsUnsignedLongLong(v) : (unsigned long long)-1;
    if (!PyLong_Check(v) && !PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "a part holds ints");
    Py_DECREF(v);
    if (x == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *out = (uint64_t)x;
    return 0;
}

/* A part tuple back into C (its validity is the library's to check). */
static int part_from_tuple(PyObject *obj, mmk_part *p) {
    memset(p, 0, sizeof *p);
    if (!PyTuple_Check(obj) || PyTuple_GET_SIZE(obj) != 6) {
        PyErr_SetString(PyExc_TypeError,
                        "part must be the tuple count_part() returned: (start, end, count, "
                        "next_pos, next_notempty, record)");
        return -1;
    }
    if (u64_item(obj, 0, &p->start) < 0 || u64_item(obj, 1, &p->end) < 0 ||
        u64_item(obj, 2, &p->count) < 0 || u64_item(obj, 3, &p->next_pos) < 0)
        return -1;
    int t = PyObject_IsTrue(PyTuple_GET_ITEM(obj, 4));
    if (t < 0)
        return -1;
    p->next_notempty = t;
    PyObject *rec = PyTuple_GET_ITEM(obj, 5);
    if (!PyTuple_Check(rec) || PyTuple_GET_SIZE(rec) > MMK_COUNT_PART_RECORD) {
        PyErr_SetString(PyExc_ValueError, "part: the record is not one count_part() made");
        return -1;
    }
    p->nrec = (uint32_t)PyTuple_GET_SIZE(rec);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(rec); i++) {
        PyObject *pair = PyTuple_GET_ITEM(rec, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_ValueError, "part: the record is not one count_part() made");
            return -1;
        }
        if (u64_item(pair, 0, &p->rec[i][0]) < 0 || u64_item(pair, 1, &p->rec[i][1]) < 0)
            return -1;
    }
    return 0;
}

static PyObject *part_error(PyObject *module, int rc, const part_source *s, int64_t limit_at) {
    mmkit_errctx ctx = {module, s->path, limit_at, NULL, NULL};
    return mmkit_raise(rc, &ctx);
}

PyDoc_STRVAR(count_part_doc,
             "count_part($module, /, pattern, source, start, end, *, regex=False,\n"
             "           ignore_case=False, whole_word=False)\n"
             "--\n"
             "\n"
             "One part of a count cut into parts (what each mmkit.dask task runs): the\n"
             "matches of pattern (options as mmap.count()) that start in source[start:end],\n"
             "found as if the previous match had ended at start, with the whole source as\n"
             "the subject (lookbehind sees before start, matches run past end). source is\n"
             "a path, an mmkit.mmap or a bytes-like object. Returns the part as a tuple\n"
             "(start, end, count, next_pos, next_notempty, record) for count_part_fix(),\n"
             "which makes the count exact given the state the previous parts left. One\n"
             "thread, the GIL released.");

static PyObject *mmkit_count_part(PyObject *module, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"pattern", "source",      "start",      "end",
                             "regex",   "ignore_case", "whole_word", NULL};
    PyObject *pat_obj, *src_obj;
    unsigned long long start, end;
    int regex = 0, icase = 0, word = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOKK|$ppp:count_part", kwlist, &pat_obj, &src_obj,
                                     &start, &end, &regex, &icase, &word))
        return NULL;
    if (start > end) {
        PyErr_Format(PyExc_ValueError, "count_part: start %llu is after end %llu", start, end);
        return NULL;
    }
    pymm_pattern *pat = part_pattern(module, pat_obj, regex, icase, word);
    if (pat == NULL)
        return NULL;
    part_source s;
    if (part_source_open(module, src_obj, 0, &s) < 0) {
        mmkit_pattern_put(pat);
        return NULL;
    }
    mmk_part part;
    int64_t limit_at = -1;
    mmk_scan_options opt;
    memset(&opt, 0, sizeof opt);
    opt.error_offset = &limit_at;
    const mmk_pattern *p = mmkit_pattern_ptr(pat);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_count_part(p, &s.in, (uint64_t)start, (uint64_t)end, &opt, &part);
    Py_END_ALLOW_THREADS
    PyObject *res = rc < 0 ? part_error(module, rc, &s, limit_at) : part_to_tuple(&part);
    part_source_close(&s);
    mmkit_pattern_put(pat);
    return res;
}

PyDoc_STRVAR(count_part_fix_doc,
             "count_part_fix($module, /, pattern, source, part, pos, notempty, *,\n"
             "               regex=False, ignore_case=False, whole_word=False)\n"
             "--\n"
             "\n"
             "The exact count of a part from count_part() (same pattern, options and\n"
             "source), given where the last match before it ended (pos; 0 for the first\n"
             "part) and whether it was empty (notempty): (count, next_pos, next_notempty),\n"
             "the last two to hand to the next part. Reads only the bytes it needs, and\n"
             "none where the speculation was right or its record shows the answer. With\n"
             "source None it reads nothing: then it returns None when the bytes are needed.");

static PyObject *mmkit_count_part_fix(PyObject *module, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"pattern", "source",      "part",       "pos", "notempty",
                             "regex",   "ignore_case", "whole_word", NULL};
    PyObject *pat_obj, *src_obj, *part_obj;
    unsigned long long pos;
    int notempty = 0, regex = 0, icase = 0, word = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOKp|$ppp:count_part_fix", kwlist, &pat_obj,
                                     &src_obj, &part_obj, &pos, &notempty, &regex, &icase, &word))
        return NULL;
    mmk_part part, exact;
    if (part_from_tuple(part_obj, &part) < 0)
        return NULL;
    pymm_pattern *pat = part_pattern(module, pat_obj, regex, icase, word);
    if (pat == NULL)
        return NULL;
    part_source s;
    if (part_source_open(module, src_obj, 1, &s) < 0) {
        mmkit_pattern_put(pat);
        return NULL;
    }
    int64_t limit_at = -1;
    mmk_scan_options opt;
    memset(&opt, 0, sizeof opt);
    opt.error_offset = &limit_at;
    const mmk_pattern *p = mmkit_pattern_ptr(pat);
    int rc;
    const mmk_input *in = s.have_in ? &s.in : NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_count_part_fix(p, in, &opt, &part, (uint64_t)pos, notempty, &exact);
    Py_END_ALLOW_THREADS
    PyObject *res;
    if (rc == -EINVAL) {
        res = NULL;
        PyErr_SetString(PyExc_ValueError,
                        "count_part_fix: the part is not one count_part() made (or the pattern "
                        "is a line pattern)");
    } else if (rc < 0) {
        res = part_error(module, rc, &s, limit_at);
    } else if (rc == 1) {
        Py_INCREF(Py_None);
        res = Py_None;
    } else {
        res = Py_BuildValue("(KKO)", (unsigned long long)exact.count,
                            (unsigned long long)exact.next_pos,
                            exact.next_notempty ? Py_True : Py_False);
    }
    part_source_close(&s);
    mmkit_pattern_put(pat);
    return res;
}

static PyMethodDef part_functions[] = {
    {"count_part", METH(mmkit_count_part), METH_VARARGS | METH_KEYWORDS, count_part_doc},
    {"count_part_fix", METH(mmkit_count_part_fix), METH_VARARGS | METH_KEYWORDS,
     count_part_fix_doc},
    {NULL, NULL, 0, NULL},
};

int mmkit_part_init(PyObject *module) {
    return PyModule_AddFunctions(module, part_functions);
}
