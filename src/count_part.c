/*
 * count_part.c — counts cut into parts that run in other processes or on
 * other machines (mmk_count_part, mmk_count_part_fix; mmkit.dask uses them).
 *
 * The idea is the searcher's (scan.c): a part is counted speculatively, as if
 * the previous match had ended exactly at its start, over a subject that is
 * the whole input (lookbehind sees before the part, matches run past it).
 * Joining the parts in order, the true state the previous parts left is
 * known; where it differs from the speculation, the search is run again from
 * the true state until it finds a match the speculation also found. From
 * there on the two agree: a search attempt at a position does not depend on
 * where the search began, only the state after a match (its end, and whether
 * it was empty) decides what follows, and that state is the same after the
 * same match.
 *
 * Unlike scan.c's merge, the speculation's matches are not all at hand (a
 * part keeps only its first MMK_COUNT_PART_RECORD, it travels between
 * processes), so the re-scan walks in step with a re-run of the speculation
 * past the record: both sequences are strictly increasing in (start, end),
 * and the first match they share is found by a merge walk. Each reads the
 * bytes up to that match only.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "matcher.h"
#include "pattern.h"
#include "scan.h"

/* What a part's search reads: the whole input in memory (bytes, a map's
   view, or a map of the file made here). */
typedef struct part_subject {
    const uint8_t *data;
    uint64_t len;
    int mapped;        /* read under the fault guard */
    mmk_map *view_map; /* a view we hold */
    mmk_map *own_map;  /* a map we made (of a descriptor) */
    uint64_t map_lo;   /* MAP inputs: the range, for a fault's cause */
} part_subject;

static void subject_close(part_subject *s) {
    if (s->view_map)
        mmk_view_release(s->view_map);
    if (s->own_map)
        mmk_free(s->own_map);
    memset(s, 0, sizeof *s);
}

/* The subject of an empty input: PCRE2 wants a pointer even for 0 bytes. */
static const uint8_t no_bytes[1];

static int subject_open_any(const mmk_input *in, part_subject *s);

static int subject_open(const mmk_input *in, part_subject *s) {
    int rc = subject_open_any(in, s);
    if (rc == 0 && !s->data)
        s->data = no_bytes;
    return rc;
}

static int subject_open_any(const mmk_input *in, part_subject *s) {
    memset(s, 0, sizeof *s);
    void *data = NULL;
    uint64_t len = 0;
    int rc;
    switch (in->kind) {
    case MMK_INPUT_BYTES:
        if (!in->data && in->size)
            return -EINVAL;
        s->data = in->data;
        s->len = in->size;
        return 0;
    case MMK_INPUT_MAP: {
        uint64_t lo, hi;
        if (!in->map)
            return -EINVAL;
        rc = mmk_view_acquire(in->map, &data, &len);
        if (rc)
            return rc;
        s->view_map = in->map;
        mmk__slice_range(in->start, in->end, len, &lo, &hi);
        s->data = data ? (const uint8_t *)data + lo : NULL;
        s->len = hi - lo;
        s->map_lo = lo;
        s->mapped = 1;
        return 0;
    }
    case MMK_INPUT_FD: {
        mmk_options mo = {0};
        if (in->fd < 0)
            return -EBADF;
        if (in->flags & ~(unsigned)MMK_INPUT_RANGE)
            return -EINVAL;
        mo.access = MMK_ACCESS_READ;
        if (in->flags & MMK_INPUT_RANGE) {
            if (in->start < 0 || in->end < in->start)
                return -EINVAL;
            if (in->end == in->start)
                return 0; /* an empty range: nothing to map */
            mo.offset = (uint64_t)in->start;
            mo.length = (uint64_t)(in->end - in->start);
        }
        rc = mmk_open_fd(&s->own_map, in->fd, &mo);
        if (rc == MMK_EOFFSET || rc == MMK_ELENGTH)
            rc = -EIO; /* the file does not hold the range */
        if (rc) {
            s->own_map = NULL;
            return rc;
        }
        rc = mmk_view_acquire(s->own_map, &data, &len);
        if (rc) {
            subject_close(s);
            return rc;
        }
        s->view_map = s->own_map;
        s->data = data;
        s->len = len;
        s->mapped = 1;
        return 0;
    }
    default:
        return -EINVAL; /* streams: a part needs the bytes around it */
    }
}

typedef struct part_run {
    const mmk_pattern *p;
    mmk__scratch *sc;
    const part_subject *sub;
    uint64_t limit;  /* matches start before this (end, or length + 1 at the end) */
    int64_t err_off; /* where a failing search started */
    /* part */
    uint64_t start, end;
    mmk_part *out;
    /* fix */
    const mmk_part *spec;
    uint64_t pos;
    int ne;
} part_run;

/* Leftmost match starting in [pos, limit) with Python's empty-match rule. */
static int part_find(part_run *r, uint64_t pos, int ne, uint64_t *a, uint64_t *b) {
    if (pos >= r->limit)
        return 0;
    size_t ms = 0, me = 0;
    int f = mmk__find(r->p, r->sc, r->sub->data, (size_t)r->sub->len, (size_t)pos, (size_t)r->limit,
                      ne, &ms, &me);
    if (f < 0)
        r->err_off = (int64_t)pos;
    if (f == 1) {
        *a = ms;
        *b = me;
    }
    return f;
}

/* The speculative search of a part (under the guard for mapped inputs). */
static int part_scan(void *arg) {
    part_run *r = arg;
    mmk_part *o = r->out;
    uint64_t pos = r->start, a = 0, b = 0, n = 0;
    int ne = 0;
    for (;;) {
        int f = part_find(r, pos, ne, &a, &b);
        if (f < 0)
            return f;
        if (f == 0)
            break;
        if (n < MMK_COUNT_PART_RECORD) {
            o->rec[n][0] = a;
            o->rec[n][1] = b;
        }
        n++;
        ne = a == b;
        pos = b;
    }
    o->count = n;
    o->nrec = (uint32_t)(n < MMK_COUNT_PART_RECORD ? n : MMK_COUNT_PART_RECORD);
    o->next_pos = n ? pos : r->start;
    o->next_notempty = n ? ne : 0;
    return 0;
}

/* Set *exact: `before` re-scanned matches, then the speculation's from index
   k on (k <= count); the state after them is the speculation's when it has
   any left, else (pos, ne). */
static void part_answer(const mmk_part *spec, uint64_t before, uint64_t k, uint64_t pos, int ne,
                        mmk_part *exact) {
    uint64_t count = before + (spec->count - k);
    memset(exact, 0, sizeof *exact);
    exact->start = spec->start;
    exact->end = spec->end;
    exact->count = count;
    if (k < spec->count) {
        exact->next_pos = spec->next_pos;
        exact->next_notempty = spec->next_notempty;
    } else {
        exact->next_pos = pos;
        exact->next_notempty = ne;
    }
}

/*
 * The answer from the recorded matches alone, where they show it: returns 1
 * (exact set) or 0 (the bytes are needed). The argument, for a true state
 * (pos, ne) past the speculative entry: let i be the first recorded match
 * that ends after pos. If pos lies inside it (a_i < pos), only a search can
 * tell. Otherwise pos is in the gap before match i (or after the last one),
 * where the speculation tried every position from the end of match i-1 and
 * found nothing before a_i; so does a search from pos, except where the
 * empty-match rules differ at pos itself: an empty match i-1 at pos that the
 * true state allows is found again (the speculation from there on), and an
 * empty match i at pos that the true state forbids leaves exactly the state
 * the speculation had after it.
 */
static int part_fix_recorded(const mmk_part *spec, uint64_t pos, int ne, mmk_part *exact) {
    uint64_t n = spec->count;
    uint32_t nr = spec->nrec, i = 0;
    while (i < nr && pos >= spec->rec[i][1])
        i++;
    if (i < nr && pos > spec->rec[i][0])
        return 0; /* inside speculative match i */
    if (i == nr && nr < n)
        return 0; /* past the record */
    uint64_t prev_pos = i == 0 ? spec->start : spec->rec[i - 1][1];
    int prev_ne = i == 0 ? 0 : spec->rec[i - 1][0] == spec->rec[i - 1][1];
    int spec_ne = pos == prev_pos ? prev_ne : 0;
    if (ne < spec_ne) {
        part_answer(spec, 0, i - 1, pos, ne, exact); /* the empty match i-1 again */
        return 1;
    }
    if (i == nr) {
        part_answer(spec, 0, n, pos, ne, exact); /* nothing after pos */
        return 1;
    }
    uint64_t k = i;
    if (spec->rec[i][0] == pos && ne && !spec_ne && spec->rec[i][0] == spec->rec[i][1])
        k = i + 1;
    part_answer(spec, 0, k, pos, ne, exact);
    return 1;
}

/* (a, b) < (c, d) in the order both match sequences increase in. */
static int span_less(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    return a < c || (a == c && b < d);
}

/* The re-scan in step with the speculation (under the guard when mapped). */
static int part_walk(void *arg) {
    part_run *r = arg;
    const mmk_part *spec = r->spec;
    uint64_t n = spec->count;
    /* the speculation: match k (from the record, then searched again) */
    uint64_t k = 0, sa = 0, sb = 0;
    uint64_t sp = 0; /* state after the last searched-again match */
    int sne = 0, s_have = 0;
    /* the re-scan */
    uint64_t tp = r->pos, ta = 0, tb = 0, tcount = 0;
    int tne = r->ne;
    for (;;) {
        int f = part_find(r, tp, tne, &ta, &tb);
        if (f < 0)
            return f;
        if (f == 0) {
            part_answer(spec, tcount, n, tp, tne, r->out);
            return 0;
        }
        /* Bring the speculation to its first match not before (ta, tb). */
        for (;;) {
            if (k >= n)
                break;
            if (!s_have) {
                if (k < spec->nrec) {
                    sa = spec->rec[k][0];
                    sb = spec->rec[k][1];
                } else {
                    if (k == spec->nrec && k > 0) {
                        sp = spec->rec[k - 1][1];
                        sne = spec->rec[k - 1][0] == spec->rec[k - 1][1];
                    }
                    int g = part_find(r, sp, sne, &sa, &sb);
                    if (g < 0)
                        return g;
                    if (g == 0)
                        return -EIO; /* the bytes changed since the part was counted */
                    sp = sb;
                    sne = sa == sb;
                }
                s_have = 1;
            }
            if (!span_less(sa, sb, ta, tb))
                break;
            k++;
            s_have = 0;
        }
        if (k < n && sa == ta && sb == tb) {
            part_answer(spec, tcount, k, tp, tne, r->out);
            return 0;
        }
        tcount++;
        tne = ta == tb;
        tp = tb;
    }
}

static int run_guarded(const part_subject *s, int (*fn)(void *), void *arg) {
    return s->mapped ? mmk_guard_run(fn, arg) : fn(arg);
}

/* A fault in the caller's map: the map knows whether the file shrank. */
static int fault_cause(const mmk_input *in, const part_subject *s, int rc) {
    if (rc == MMK_EFAULT && in->kind == MMK_INPUT_MAP)
        return mmk__map_fault_cause(in->map, s->map_lo, s->len);
    if (rc == MMK_EFAULT && in->kind == MMK_INPUT_FD)
        return -EIO;
    return rc;
}

int mmk_count_part(const mmk_pattern *p, const mmk_input *in, uint64_t start, uint64_t end,
                   const mmk_scan_options *opt, mmk_part *part) {
    if (opt && opt->error_offset)
        *opt->error_offset = -1;
    if (!p || !in || !part || start > end || (p->flags & MMK_PAT_LINES))
        return -EINVAL;
    part_subject s;
    int rc = subject_open(in, &s);
    if (rc)
        return rc;
    if (end > s.len) {
        subject_close(&s);
        return in->kind == MMK_INPUT_FD ? -EIO : -EINVAL;
    }
    mmk__scratch *sc = mmk__scratch_new(p);
    if (!sc) {
        subject_close(&s);
        return -ENOMEM;
    }
    mmk_part out;
    memset(&out, 0, sizeof out);
    out.start = start;
    out.end = end;
    part_run r = {p, sc, &s, end == s.len ? end + 1 : end, -1, start, end, &out, NULL, 0, 0};
    rc = run_guarded(&s, part_scan, &r);
    rc = fault_cause(in, &s, rc);
    mmk__scratch_free(sc);
    subject_close(&s);
    if ((rc == MMK_ELIMIT || rc == MMK_EPATTERN) && opt && opt->error_offset)
        *opt->error_offset = r.err_off;
    if (rc == 0)
        *part = out;
    return rc;
}

int mmk_count_part_fix(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                       const mmk_part *part, uint64_t pos, int notempty, mmk_part *exact) {
    if (opt && opt->error_offset)
        *opt->error_offset = -1;
    if (!p || !part || !exact || (p->flags & MMK_PAT_LINES))
        return -EINVAL;
    /* Only what mmk_count_part can have made. */
    uint32_t want =
        part->count < MMK_COUNT_PART_RECORD ? (uint32_t)part->count : MMK_COUNT_PART_RECORD;
    if (part->start > part->end || part->nrec != want)
        return -EINVAL;
    for (uint32_t i = 0; i < part->nrec; i++) {
        uint64_t a = part->rec[i][0], b = part->rec[i][1];
        if (a < part->start || a > part->end || b < a ||
            (i > 0 && !span_less(part->rec[i - 1][0], part->rec[i - 1][1], a, b)) ||
            (i > 0 && a < part->rec[i - 1][1]))
            return -EINVAL;
    }
    int ne = notempty != 0;
    mmk_part out;
    if (pos < part->start || (pos == part->start && !ne)) {
        part_answer(part, 0, 0, pos, ne, &out); /* the speculation was right */
        *exact = out;
        return 0;
    }
    if (part_fix_recorded(part, pos, ne, &out)) {
        *exact = out;
        return 0;
    }
    if (!in)
        return 1;
    part_subject s;
    int rc = subject_open(in, &s);
    if (rc)
        return rc;
    if (part->end > s.len) {
        subject_close(&s);
        return in->kind == MMK_INPUT_FD ? -EIO : -EINVAL;
    }
    mmk__scratch *sc = mmk__scratch_new(p);
    if (!sc) {
        subject_close(&s);
        return -ENOMEM;
    }
    part_run r = {p,    sc,  &s, part->end == s.len ? part->end + 1 : part->end, -1, 0, 0, &out,
                  part, pos, ne};
    rc = run_guarded(&s, part_walk, &r);
    rc = fault_cause(in, &s, rc);
    mmk__scratch_free(sc);
    subject_close(&s);
    if ((rc == MMK_ELIMIT || rc == MMK_EPATTERN) && opt && opt->error_offset)
        *opt->error_offset = r.err_off;
    if (rc == 0)
        *exact = out;
    return rc;
}
