/*
 * search_ref.c — the reference searcher: mmk_search done the slow, obvious
 * way, for tests to compare the fast path (scan.c) with.
 *
 * The input is first collected whole into memory through the engine (so every
 * input kind, the fault guard and the reader streams are the engine's), then
 * walked one line at a time on the calling thread: each line is searched
 * alone with mmk__find under Python's empty-match rules, and the selection,
 * context, gaps and max-count are decided line after line exactly as GNU
 * grep's main loop does. Memory is the whole input; speed is one thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"
#include "pattern.h"
#include "scan.h"

/* ---- collecting the input ---------------------------------------------- */

typedef struct collect_res {
    uint8_t *b;
    size_t n, cap;
} collect_res;

typedef struct collect_job {
    uint8_t *b;
    size_t n, cap;
} collect_job;

static int grow(uint8_t **b, size_t *cap, size_t need) {
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : c * 2;
    uint8_t *nb = realloc(*b, c);
    if (!nb)
        return -ENOMEM;
    *b = nb;
    *cap = c;
    return 0;
}

/* Worker: copy the owned bytes [s, e) out of the subject (under the guard
   when they are mapped: the engine runs chunk functions guarded). */
static int collect_chunk(mmk__job *j, void *wctx, mmk__chunk *c) {
    (void)j;
    (void)wctx;
    collect_res *r = c->res;
    size_t n = (size_t)(c->e - c->s);
    r->n = 0;
    int rc = grow(&r->b, &r->cap, n);
    if (rc)
        return rc;
    if (n)
        memcpy(r->b, c->sub + (c->s - c->sub_off), n);
    r->n = n;
    return 0;
}

static int collect_merge(mmk__job *j, mmk__chunk *c) {
    collect_job *cj = mmk__job_spec(j)->user;
    collect_res *r = c->res;
    int rc = grow(&cj->b, &cj->cap, cj->n + r->n + 1);
    if (rc)
        return rc;
    if (r->n)
        memcpy(cj->b + cj->n, r->b, r->n);
    cj->n += r->n;
    return 0;
}

static void collect_res_free(void *arg) {
    free(((collect_res *)arg)->b);
}

/* ---- the line walk ------------------------------------------------------- */

typedef struct ref_walk {
    const mmk_pattern *p;
    mmk__scratch *sc;
    const uint8_t *data;
    size_t n;
    const mmk_search_options *so;
    const mmk_sink *sink;
    mmk_search_result *res;
    mmk_span *spans;
    size_t nspans, spans_cap;
    uint64_t last_out; /* line number of the last line handed out (0: none yet) */
    int64_t err_off;
    int grep_step;  /* MMK_SEARCH_GREP_STEP */
    int first_only; /* MMK_SEARCH_FIRST_MATCH without MMK_SEARCH_SPANS */
} ref_walk;

/* Line i's bounds: [*ls, *le) and whether a '\n' ends it. */
typedef struct ref_line {
    size_t ls, le;
    int newline;
} ref_line;

/* Matches of the line alone (Python's re.finditer rules within the line);
   spans kept in w->spans. */
static int ref_matches(ref_walk *w, const ref_line *l, uint64_t *count) {
    const uint8_t *line = w->data + l->ls;
    size_t len = l->le - l->ls, pos = 0, a = 0, b = 0;
    int ne = 0;
    uint64_t n = 0;
    w->nspans = 0;
    for (;;) {
        int f = mmk__find(w->p, w->sc, line, len, pos, len + 1, ne, &a, &b);
        if (f < 0) {
            w->err_off = (int64_t)(l->ls + pos);
            return f;
        }
        if (f == 0)
            break;
        n++;
        if (w->nspans == w->spans_cap) {
            size_t cap = w->spans_cap ? w->spans_cap * 2 : 16;
            mmk_span *nv = realloc(w->spans, cap * sizeof *nv);
            if (!nv)
                return -ENOMEM;
            w->spans = nv;
            w->spans_cap = cap;
        }
        w->spans[w->nspans].start = a;
        w->spans[w->nspans].end = b;
        w->nspans++;
        if (a == b && w->grep_step) {
            ne = 0; /* grep -o: on one byte after an empty match */
            pos = b + 1;
        } else {
            ne = a == b;
            pos = b;
        }
        if (pos > len || (pos == len && ne))
            break;
    }
    if (w->first_only && n > 1)
        n = 1; /* MMK_SEARCH_FIRST_MATCH: a matching line counts once */
    *count = n;
    return 0;
}

/* Hand line `no` to the sink, after a gap when it does not follow the last
   line handed out and context was asked for. */
static int ref_emit(ref_walk *w, const ref_line *l, uint64_t no, int kind, uint64_t matches,
                    int with_spans) {
    int rc = 0;
    if ((w->so->before || w->so->after) && w->last_out && no != w->last_out + 1 && w->sink->gap)
        rc = w->sink->gap(w->sink->user);
    w->last_out = no;
    if (rc || !w->sink->line)
        return rc;
    mmk_line ln;
    memset(&ln, 0, sizeof ln);
    ln.bytes = l->le > l->ls ? (const char *)w->data + l->ls : "";
    ln.len = l->le - l->ls;
    ln.line_no = (w->so->flags & MMK_SEARCH_NO_LINE_NUMBERS) ? 0 : no;
    ln.offset = l->ls;
    ln.kind = kind;
    ln.newline = l->newline;
    ln.matches = matches;
    if (with_spans && (w->so->flags & MMK_SEARCH_SPANS)) {
        static const mmk_span no_spans[1];
        ln.spans = w->nspans ? w->spans : no_spans; /* non-NULL even when there are none */
        ln.nspans = w->nspans;
    }
    return w->sink->line(&ln, w->sink->user);
}

static int ref_walk_lines(ref_walk *w) {
    const mmk_search_options *so = w->so;
    int invert = (so->flags & MMK_SEARCH_INVERT) != 0;
    int emit = !(so->flags & MMK_SEARCH_COUNT_ONLY);
    int limited = (so->flags & MMK_SEARCH_MAX_COUNT) != 0;
    uint64_t pending = 0;  /* after-context lines still to give */
    ref_line *ring = NULL; /* bounds of every line so far (a reference: memory is no concern) */
    size_t nring = 0, ring_cap = 0;
    int rc = 0;
    if (limited && so->max_count == 0) {
        w->res->stopped = 1; /* grep -m 0: stop before reading anything */
        return 0;
    }
    for (size_t at = 0; at < w->n;) {
        const uint8_t *q = memchr(w->data + at, '\n', w->n - at);
        ref_line l = {at, q ? (size_t)(q - w->data) : w->n, q != NULL};
        at = q ? l.le + 1 : w->n;
        if (nring == ring_cap) {
            size_t cap = ring_cap ? ring_cap * 2 : 64;
            ref_line *nv = realloc(ring, cap * sizeof *nv);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            ring = nv;
            ring_cap = cap;
        }
        ring[nring++] = l;
        uint64_t no = nring;
        if (limited && w->res->selected == so->max_count) {
            /* The limit is reached: only the trailing context is still given,
               whatever the lines hold (grep 3.8 prints them as context). */
            if (pending == 0 || !emit)
                break;
            uint64_t m = 0;
            if ((rc = ref_matches(w, &l, &m)) != 0)
                break;
            pending--;
            if (emit && (rc = ref_emit(w, &l, no, MMK_LINE_CONTEXT, m, invert)) != 0)
                break;
            continue;
        }
        uint64_t m = 0;
        if ((rc = ref_matches(w, &l, &m)) != 0)
            break;
        int selected = invert ? m == 0 : m > 0;
        if (selected) {
            w->res->selected++;
            if (!invert)
                w->res->matches += m;
            if (limited && w->res->selected == so->max_count)
                w->res->stopped = 1;
            if (emit) {
                uint64_t from = no > so->before ? no - so->before : 1;
                if (from <= w->last_out)
                    from = w->last_out + 1;
                for (uint64_t k = from; k < no && rc == 0; k++) {
                    /* A before-context line never matched (else it would be
                       selected), or, inverted, always did: count it again. */
                    uint64_t cm = 0;
                    ref_line cl = ring[k - 1];
                    if ((rc = ref_matches(w, &cl, &cm)) == 0)
                        rc = ref_emit(w, &cl, k, MMK_LINE_CONTEXT, cm, invert);
                }
                if (rc)
                    break;
                if ((rc = ref_matches(w, &l, &m)) != 0 ||
                    (rc = ref_emit(w, &l, no, MMK_LINE_SELECTED, m, !invert)) != 0)
                    break;
            }
            pending = so->after;
        } else if (pending > 0) {
            pending--;
            if (emit && (rc = ref_emit(w, &l, no, MMK_LINE_CONTEXT, m, invert)) != 0)
                break;
        }
    }
    free(ring);
    return rc;
}

int mmk__search_ref(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                    const mmk_search_options *so, const mmk_sink *sink, mmk_search_result *res) {
    mmk__search_defaults d;
    int rc = mmk__search_prepare(p, in, opt, &so, &sink, &res, &d);
    if (rc)
        return rc;

    collect_job cj = {0};
    mmk__jobspec spec = {0};
    spec.res_size = sizeof(collect_res);
    spec.chunk = collect_chunk;
    spec.merge = collect_merge;
    spec.res_free = collect_res_free;
    spec.user = &cj;
    rc = 0;
    if (!((so->flags & MMK_SEARCH_MAX_COUNT) && so->max_count == 0))
        rc = mmk__scan_run(&spec, in, opt);
    if (rc) {
        free(cj.b);
        return rc;
    }
    ref_walk w;
    memset(&w, 0, sizeof w);
    w.p = p;
    w.sc = mmk__scratch_new(p);
    w.data = cj.b;
    w.n = cj.n;
    w.so = so;
    w.sink = sink;
    w.res = res;
    w.err_off = -1;
    w.grep_step = (so->flags & MMK_SEARCH_GREP_STEP) != 0;
    w.first_only = (so->flags & MMK_SEARCH_FIRST_MATCH) != 0 && (so->flags & MMK_SEARCH_SPANS) == 0;
    rc = w.sc ? ref_walk_lines(&w) : -ENOMEM;
    if ((rc == MMK_ELIMIT || rc == MMK_EPATTERN) && opt && opt->error_offset)
        *opt->error_offset = w.err_off;
    mmk__scratch_free(w.sc);
    free(w.spans);
    free(cj.b);
    return rc;
}
