/*
 * fuzz_words.c — libFuzzer target: mmk_word_counts against
 * collections.Counter(data.lower().split()) (sorted by count descending, then
 * bytewise), and mmk_count_lines against counting '\n', each sequentially and
 * with tiny chunks over 1-3 threads, on every CPU path.
 *
 * Input: cpu path, chunk size, threads, then the data.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmkit.h"

typedef struct {
    const uint8_t *w; /* lowercased copy, in the reference's buffer */
    size_t len;
    uint64_t count;
} ref_word;

static int is_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int by_word(const void *x, const void *y) {
    const ref_word *a = x, *b = y;
    return cmp_bytes(a->w, a->len, b->w, b->len);
}

static int by_count_then_word(const void *x, const void *y) {
    const ref_word *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return cmp_bytes(a->w, a->len, b->w, b->len);
}

/* The reference table: *out (n entries) points into *lowered. */
static size_t ref_words(const uint8_t *data, size_t size, uint8_t **lowered, ref_word **out) {
    uint8_t *low = malloc(size ? size : 1);
    ref_word *v = malloc((size / 2 + 1) * sizeof *v);
    if (!low || !v)
        abort();
    for (size_t i = 0; i < size; i++)
        low[i] = data[i] >= 'A' && data[i] <= 'Z' ? (uint8_t)(data[i] + 32) : data[i];
    size_t n = 0;
    for (size_t i = 0; i < size;) {
        while (i < size && is_space(low[i]))
            i++;
        size_t s = i;
        while (i < size && !is_space(low[i]))
            i++;
        if (i > s)
            v[n++] = (ref_word){low + s, i - s, 1};
    }
    qsort(v, n, sizeof *v, by_word);
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        if (d > 0 && by_word(&v[d - 1], &v[i]) == 0)
            v[d - 1].count++;
        else
            v[d++] = v[i];
    }
    qsort(v, d, sizeof *v, by_count_then_word);
    *lowered = low;
    *out = v;
    return d;
}

static void check_table(const char *run, const mmk_wordtab *t, const ref_word *want, size_t n,
                        uint64_t total) {
    if (mmk_wordtab_size(t) != n || mmk_wordtab_total(t) != total) {
        fprintf(stderr, "fuzz_words: %s: %zu distinct / %llu words, expected %zu / %llu\n", run,
                mmk_wordtab_size(t), (unsigned long long)mmk_wordtab_total(t), n,
                (unsigned long long)total);
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        const char *w = NULL;
        size_t len = 0;
        uint64_t count = 0;
        if (mmk_wordtab_get(t, i, &w, &len, &count) != 0 || len != want[i].len ||
            (len && memcmp(w, want[i].w, len) != 0) || count != want[i].count) {
            fprintf(stderr, "fuzz_words: %s: entry %zu is '%.*s' x %llu, expected '%.*s' x %llu\n",
                    run, i, (int)len, w ? w : "", (unsigned long long)count, (int)want[i].len,
                    (const char *)want[i].w, (unsigned long long)want[i].count);
            abort();
        }
    }
    if (mmk_wordtab_get(t, n, &(const char *){NULL}, &(size_t){0}, &(uint64_t){0}) != -EINVAL) {
        fprintf(stderr, "fuzz_words: %s: entry past the end is not -EINVAL\n", run);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3)
        return 0;
    int cpu = MMK_CPU_SCALAR + data[0] % 4;
    uint64_t chunk = 1 + data[1] % 64;
    unsigned threads = 1 + data[2] % 3;
    data += 3;
    size -= 3;
    if (mmk_set_cpu_path(cpu) != 0) {
        if (cpu != MMK_CPU_AVX512)
            abort();
        mmk_set_cpu_path(MMK_CPU_SCALAR);
    }

    uint8_t *lowered;
    ref_word *want;
    size_t n = ref_words(data, size, &lowered, &want);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += want[i].count;
    uint64_t newlines = 0;
    for (size_t i = 0; i < size; i++)
        newlines += data[i] == '\n';

    mmk_input in = mmk_input_bytes(size ? data : NULL, size); /* empty: NULL, as callers may */
    mmk_scan_options runs[2] = {{0}, {0}};
    runs[0].threads = 1;
    runs[1].threads = threads;
    runs[1].chunk_size = chunk;
    const char *names[2] = {"sequential", "chunked"};
    for (int r = 0; r < 2; r++) {
        mmk_wordtab *t = NULL;
        int rc = mmk_word_counts(&in, &runs[r], &t);
        if (rc != 0) {
            fprintf(stderr, "fuzz_words: %s mmk_word_counts failed: %s\n", names[r],
                    mmk_strerror(rc));
            abort();
        }
        check_table(names[r], t, want, n, total);
        mmk_wordtab_free(t);

        uint64_t got = 0;
        rc = mmk_count_lines(&in, &runs[r], &got);
        if (rc != 0 || got != newlines) {
            fprintf(stderr, "fuzz_words: %s mmk_count_lines: rc %d, %llu lines, expected %llu\n",
                    names[r], rc, (unsigned long long)got, (unsigned long long)newlines);
            abort();
        }
    }
    free(lowered);
    free(want);
    return 0;
}
