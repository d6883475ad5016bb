/*
 * fuzz_search.c — libFuzzer target: mmk_search (chunked, 1-3 threads) against
 * the reference searcher (mmk__search_ref) on the same bytes: every line
 * handed to the sink (kind, number, offset, newline flag, matches, spans,
 * bytes), every gap, the counts, the stop flag and the return value must be
 * the same.
 *
 * Input: pattern, flags, context, limit/chunk/threads, sink stop, then the
 * text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmkit.h"
#include "scan.h"

/* Buffer-safe and not (lookaround, \A), empty matches, anchors, a literal,
   a '\n'-spanning class, CR and NUL. */
static const char *const pats[] = {"a",      "ab",   "b$",      "^a",    "x*",
                                   "a(?=b)", "^$",   "(?<=a)b", "\\x00", "\\r$",
                                   "a\\s*b", "\\Aa", "[^x]+",   "a|^",   "(?i)AB"};
#define NPATS (sizeof pats / sizeof *pats)

typedef struct trace {
    char *s;
    size_t n, cap;
    size_t lines, stop_after;
    int stop_in_gap;
} trace;

static void tr_add(trace *t, const void *p, size_t n) {
    if (t->n + n > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->n + n)
            cap *= 2;
        t->s = realloc(t->s, cap);
        if (!t->s)
            abort();
        t->cap = cap;
    }
    if (n)
        memcpy(t->s + t->n, p, n);
    t->n += n;
}

static int tr_line(const mmk_line *l, void *user) {
    trace *t = user;
    char b[160];
    int k = snprintf(b, sizeof b, "L%d %llu %llu %d %llu %zu %d|", l->kind,
                     (unsigned long long)l->line_no, (unsigned long long)l->offset, l->newline,
                     (unsigned long long)l->matches, l->nspans, l->spans != NULL);
    tr_add(t, b, (size_t)k);
    for (size_t i = 0; i < l->nspans; i++) {
        k = snprintf(b, sizeof b, "%zu-%zu,", l->spans[i].start, l->spans[i].end);
        tr_add(t, b, (size_t)k);
    }
    tr_add(t, l->bytes, l->len);
    tr_add(t, "\n", 1);
    t->lines++;
    return t->stop_after && !t->stop_in_gap && t->lines == t->stop_after ? 9 : 0;
}

static int tr_gap(void *user) {
    trace *t = user;
    tr_add(t, "--\n", 3);
    return t->stop_after && t->stop_in_gap && t->lines >= t->stop_after ? 9 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 5)
        return 0;
    const char *pat = pats[data[0] % NPATS];
    mmk_search_options so = {0};
    so.flags = data[1] & 0xF;
    so.before = data[2] & 3;
    so.after = (data[2] >> 2) & 3;
    so.max_count = data[3] & 3;
    mmk_scan_options opt = {0};
    opt.chunk_size = 1 + ((data[3] >> 2) & 7);
    opt.threads = 1 + (unsigned)(data[3] >> 5) % 3;
    size_t stop_after = data[4] & 7;
    int stop_in_gap = (data[4] >> 3) & 1;
    data += 5;
    size -= 5;

    mmk_pattern *p = NULL;
    if (mmk_pattern_compile(&p, pat, strlen(pat), MMK_PAT_LINES, NULL) != 0)
        abort();
    mmk_input in = mmk_input_bytes(size ? data : NULL, size);
    trace t[2];
    memset(t, 0, sizeof t);
    mmk_search_result res[2];
    int rc[2];
    for (int r = 0; r < 2; r++) {
        t[r].stop_after = stop_after;
        t[r].stop_in_gap = stop_in_gap;
        mmk_sink sink = {tr_line, tr_gap, &t[r]};
        rc[r] = r ? mmk__search_ref(p, &in, NULL, &so, &sink, &res[r])
                  : mmk_search(p, &in, &opt, &so, &sink, &res[r]);
    }
    if (rc[0] != rc[1] || res[0].selected != res[1].selected || res[0].matches != res[1].matches ||
        res[0].stopped != res[1].stopped || t[0].n != t[1].n ||
        (t[0].n && memcmp(t[0].s, t[1].s, t[0].n) != 0)) {
        fprintf(stderr,
                "fuzz_search: /%s/ flags %u -B%u -A%u max %llu chunk %llu threads %u stop %zu%s\n"
                "  fast: rc %d selected %llu matches %llu stopped %d\n%.*s"
                "  ref:  rc %d selected %llu matches %llu stopped %d\n%.*s",
                pat, so.flags, so.before, so.after, (unsigned long long)so.max_count,
                (unsigned long long)opt.chunk_size, opt.threads, stop_after,
                stop_in_gap ? " (gap)" : "", rc[0], (unsigned long long)res[0].selected,
                (unsigned long long)res[0].matches, res[0].stopped, (int)t[0].n,
                t[0].s ? t[0].s : "", rc[1], (unsigned long long)res[1].selected,
                (unsigned long long)res[1].matches, res[1].stopped, (int)t[1].n,
                t[1].s ? t[1].s : "");
        abort();
    }
    free(t[0].s);
    free(t[1].s);
    mmk_pattern_free(p);
    return 0;
}
