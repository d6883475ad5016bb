/*
 * test_words.c — mmk_word_counts against a naive counter
 * (collections.Counter(data.lower().split()) done by hand: split on ASCII
 * whitespace, lowercase, qsort, count runs, sort by count then word), on
 * random and adversarial text, for many chunk sizes and thread counts over
 * bytes, map ranges, regular files (mapped and pread) and pipes.
 */
#include "test_scan_util.h"

typedef struct ref_word {
    const uint8_t *w; /* lowercased copy */
    size_t len;
    uint64_t count;
} ref_word;

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int cmp_word(const void *pa, const void *pb) {
    const ref_word *a = pa, *b = pb;
    return cmp_bytes(a->w, a->len, b->w, b->len);
}

static int cmp_count(const void *pa, const void *pb) {
    const ref_word *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return cmp_word(pa, pb);
}

static int is_ws(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* The naive reference. *nout distinct words; *lower owns the bytes. */
static ref_word *ref_counts(const uint8_t *d, size_t n, size_t *nout, uint8_t **lower,
                            uint64_t *total) {
    uint8_t *lo = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        lo[i] = d[i] >= 'A' && d[i] <= 'Z' ? (uint8_t)(d[i] + 32) : d[i];
    ref_word *v = malloc((n / 2 + 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && is_ws(lo[i]))
            i++;
        if (i >= n)
            break;
        size_t s = i;
        while (i < n && !is_ws(lo[i]))
            i++;
        v[k].w = lo + s;
        v[k].len = i - s;
        v[k].count = 1;
        k++;
    }
    *total = k;
    qsort(v, k, sizeof *v, cmp_word);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u && cmp_word(&v[u - 1], &v[i]) == 0)
            v[u - 1].count++;
        else
            v[u++] = v[i];
    }
    qsort(v, u, sizeof *v, cmp_count);
    *nout = u;
    *lower = lo;
    return v;
}

static unsigned long shown;

static void check_one(int kind, const uint8_t *d, size_t n, uint64_t chunk, unsigned threads,
                      const ref_word *want, size_t nwant, uint64_t total) {
    ts_input t;
    CHECK_EQ(ts_input_open(&t, kind, d, n), 0);
    mmk_scan_options o = {0};
    o.io = t.io;
    o.chunk_size = chunk;
    o.threads = threads;
    mmk_wordtab *wt = NULL;
    CHECK_RC(mmk_word_counts(&t.in, &o, &wt), 0);
    ts_input_close(&t);
    if (!wt)
        return;
    int ok = mmk_wordtab_size(wt) == nwant && mmk_wordtab_total(wt) == total;
    for (size_t i = 0; ok && i < nwant; i++) {
        const char *w;
        size_t len;
        uint64_t c;
        ok = mmk_wordtab_get(wt, i, &w, &len, &c) == 0 && c == want[i].count &&
             cmp_bytes((const uint8_t *)w, len, want[i].w, want[i].len) == 0;
    }
    CHECK(ok);
    if (!ok && shown++ < 5)
        fprintf(
            stderr,
            "  words differ: kind %s chunk %llu threads %u len %zu (got %zu/%llu, want %zu/%llu)\n",
            ts_kind_names[kind], (unsigned long long)chunk, threads, n, mmk_wordtab_size(wt),
            (unsigned long long)mmk_wordtab_total(wt), nwant, (unsigned long long)total);
    CHECK_RC(mmk_wordtab_get(wt, nwant, NULL, NULL, NULL), -EINVAL);
    mmk_wordtab_free(wt);
}

static void run_case(const uint8_t *d, size_t n, int full) {
    size_t nw;
    uint8_t *lower;
    uint64_t total;
    ref_word *want = ref_counts(d, n, &nw, &lower, &total);
    static unsigned cfg;
    for (int kind = 0; kind < TS_NKINDS; kind++)
        for (size_t ci = 0; ci < TS_NCHUNKS; ci++)
            for (size_t ti = 0; ti < TS_NTHREADS; ti++) {
                if (!(kind == TS_BYTES && full) && (cfg++ % 11) != 0)
                    continue;
                if (kind == TS_PIPE && (cfg % 3) != 0)
                    continue;
                uint64_t chunk = ts_chunks[ci] * (n > 20000 ? 101 : 1);
                check_one(kind, d, n, chunk, ts_threads[ti], want, nw, total);
            }
    free(want);
    free(lower);
}

static int words_job(const void *ctx, const mmk_input *in, const mmk_scan_options *o,
                     mmk_wordtab **out) {
    (void)ctx;
    return mmk_word_counts(in, o, out);
}

int main(void) {
    ts_check_merge_spread('w', 600000, words_job, NULL);
    /* Small alphabets with every whitespace byte, upper case, high and NUL bytes. */
    static const char alpha1[] = "aAbB \t\n\v\f\r";
    static const char alpha2[] = "abcdefghijKLMNOP_\x80\xff \n";
    static const char alpha3[] = "xX\0 ";
    run_case((const uint8_t *)"", 0, 1);
    run_case((const uint8_t *)"   \n\t ", 6, 1);
    run_case((const uint8_t *)"Hello hello HELLO", 17, 1);
    for (int round = 0; round < TS_ROUNDS(24); round++) {
        const char *alpha = round % 3 == 0 ? alpha1 : round % 3 == 1 ? alpha2 : alpha3;
        size_t alen = round % 3 == 0 ? sizeof alpha1 - 1 : round % 3 == 1 ? sizeof alpha2 - 1 : 4;
        size_t n = check_rnd_below(round < 20 ? 200 : 60000);
        uint8_t *d = ts_random_text(n, alpha, alen);
        /* Sometimes long words: runs of letters of 8..40 bytes, across chunks. */
        if (round % 4 == 3)
            for (size_t i = 0; i + 40 < n; i += 41)
                for (size_t k = 0; k < 8 + check_rnd_below(32); k++)
                    d[i + k] =
                        (uint8_t)('a' + check_rnd_below(2) + (check_rnd_below(2) ? 0 : 'A' - 'a'));
        run_case(d, n, round < 12);
        free(d);
    }
    /* Words of 1..200 bytes: shorter and longer than a 64-byte block, ending
       in the next block, filling it, or running past it. */
    for (int round = 0; round < TS_ROUNDS(4); round++) {
        size_t m = 20000 + check_rnd_below(40000), i = 0;
        uint8_t *w = malloc(m);
        while (i < m) {
            size_t len = 1 + check_rnd_below(round % 2 ? 200 : 70);
            for (size_t k = 0; k < len && i < m; k++)
                w[i++] = (uint8_t) "abAB"[check_rnd_below(round < 2 ? 2 : 4)];
            if (i < m)
                w[i++] = (uint8_t) " \t\n\r"[check_rnd_below(4)];
        }
        run_case(w, m, 0);
        free(w);
    }
    /* One word as long as the input, and no words at all, over pread and pipes. */
    size_t n = 300000;
    uint8_t *d = malloc(n);
    memset(d, 'Q', n);
    run_case(d, n, 0);
    memset(d, ' ', n);
    d[n / 2] = 'w';
    run_case(d, n, 0);
    free(d);
    /* Bad arguments. */
    mmk_wordtab *wt = NULL;
    mmk_input in = mmk_input_bytes("a", 1);
    CHECK_RC(mmk_word_counts(NULL, NULL, &wt), -EINVAL);
    CHECK_RC(mmk_word_counts(&in, NULL, NULL), -EINVAL);
    mmk_input bad = mmk_input_bytes(NULL, 3);
    CHECK_RC(mmk_word_counts(&bad, NULL, &wt), -EINVAL);
    CHECK(wt == NULL);
    CHECK_EQ(mmk_wordtab_size(NULL), 0);
    CHECK_EQ(mmk_wordtab_total(NULL), 0);
    CHECK_RC(mmk_wordtab_get(NULL, 0, NULL, NULL, NULL), -EINVAL);
    mmk_wordtab_free(NULL);
    return CHECK_DONE();
}
