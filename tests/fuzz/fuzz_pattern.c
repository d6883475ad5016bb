/*
 * fuzz_pattern.c — libFuzzer target: pattern compile, mmk_count and
 * mmk_matches against slow references, for every flag, CPU path, tiny chunk
 * sizes and 1-3 threads.
 *
 * References:
 *   MMK_PAT_FIXED  a naive byte-by-byte search with the documented semantics
 *                  (ASCII case folding, whole word = not preceded/followed by
 *                  [A-Za-z0-9_], leftmost non-overlapping, Python's empty-match
 *                  rules for the empty needle);
 *   regexes        PCRE2's interpreter (pcre2_match with PCRE2_NO_JIT) in a
 *                  leftmost non-overlapping loop with Python's empty-match rules,
 *                  run on the code regex.c compiles (mmk__regex_compile: the
 *                  same Python-spelling translation, options and -w wrapper),
 *                  so every shape pattern.c picks (literal, prefiltered regex,
 *                  plain PCRE2 JIT) and the searcher's chunking are checked
 *                  against one plain PCRE2 search.
 *   MMK_PAT_LINES  every line is its own subject: the same references run on
 *                  each line alone (lines end at '\n'; a final '\n' does not
 *                  start another line; an empty input has no lines).
 * Besides the references, the sequential engine (threads 1, automatic chunks)
 * is compared with the chunked, threaded run.
 *
 * Input: flags, cpu path, chunk size, threads, pattern length, pattern, subject.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmkit.h"
#include "regex.h"

/* MMK_PAT_LINES is checked unless built with -DMMK_FUZZ_LINES=0. */
#ifndef MMK_FUZZ_LINES
#define MMK_FUZZ_LINES 1
#endif

/* Reference searches give up (and the input is not compared) past this many
   PCRE2 backtracking steps: the interpreter is much slower than the JIT. */
#define REF_MATCH_LIMIT 200000u

typedef struct {
    uint64_t *v; /* start, end pairs */
    size_t n, cap;
} spans;

static void spans_add(spans *s, uint64_t a, uint64_t b) {
    if (s->n + 2 > s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            abort();
    }
    s->v[s->n++] = a;
    s->v[s->n++] = b;
}

static int is_word(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static uint8_t lower(uint8_t c) {
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Does the needle occur at s[c] (c + n <= len) under the flags? */
static int fixed_at(const uint8_t *s, size_t len, size_t c, const uint8_t *needle, size_t n,
                    int icase, int word) {
    for (size_t k = 0; k < n; k++) {
        uint8_t a = s[c + k], b = needle[k];
        if (icase ? lower(a) != lower(b) : a != b)
            return 0;
    }
    if (word && ((c > 0 && is_word(s[c - 1])) || (c + n < len && is_word(s[c + n]))))
        return 0;
    return 1;
}

/* Leftmost non-overlapping occurrences of the needle in s[0, len), spans
   shifted by `base`. */
static void ref_fixed(const uint8_t *s, size_t len, uint64_t base, const uint8_t *needle, size_t n,
                      int icase, int word, spans *out) {
    size_t pos = 0;
    int notempty = 0;
    while (pos <= len) {
        size_t c = pos + (notempty && n == 0 ? 1 : 0);
        while (c + n <= len && !fixed_at(s, len, c, needle, n, icase, word))
            c++;
        if (c + n > len)
            return;
        spans_add(out, base + c, base + c + n);
        pos = c + n;
        notempty = n == 0;
    }
}

/* Python's finditer over s[0, len) with PCRE2's interpreter. Returns 0, or -1
   when the reference gave up (match limit) and the input is not compared. */
static int ref_regex(const pcre2_code *code, pcre2_match_data *md, pcre2_match_context *mc,
                     const uint8_t *s, size_t len, uint64_t base, spans *out) {
    size_t pos = 0;
    int notempty = 0;
    PCRE2_SPTR subj = len ? (PCRE2_SPTR)s : (PCRE2_SPTR) "";
    while (pos <= len) {
        uint32_t opts = PCRE2_NO_JIT | (notempty ? PCRE2_NOTEMPTY_ATSTART : 0);
        int rc = pcre2_match(code, subj, len, pos, opts, md, mc);
        if (rc == PCRE2_ERROR_NOMATCH)
            return 0;
        if (rc < 0)
            return -1;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] < ov[0] || ov[0] < pos)
            return -1; /* \K-like reports; regex.c refuses \K, so not expected */
        spans_add(out, base + ov[0], base + ov[1]);
        notempty = ov[0] == ov[1];
        pos = ov[1];
    }
    return 0;
}

static int collect(uint64_t start, uint64_t end, void *user) {
    spans_add(user, start, end);
    return 0;
}

static void fail(const char *what, const uint8_t *pat, size_t plen, unsigned flags, int cpu,
                 uint64_t chunk, unsigned threads, uint64_t got, uint64_t want) {
    fprintf(stderr, "fuzz_pattern: %s: got %llu, expected %llu\n", what, (unsigned long long)got,
            (unsigned long long)want);
    fprintf(stderr, "  flags %s%s%s%s, cpu %s, chunk %llu, threads %u, pattern (%zu bytes) '",
            flags & MMK_PAT_FIXED ? "F" : "-", flags & MMK_PAT_ICASE ? "I" : "-",
            flags & MMK_PAT_WORD ? "W" : "-", flags & MMK_PAT_LINES ? "L" : "-",
            mmk_cpu_path_name(cpu), (unsigned long long)chunk, threads, plen);
    if (plen)
        fwrite(pat, 1, plen, stderr);
    fprintf(stderr, "'\n");
    abort();
}

static int is_limit_error(int rc) {
    /* Scan-time errors a pattern may legitimately hit on adversarial input:
       the backtracking limit (MMK_ELIMIT where defined, MMK_EPATTERN before). */
#ifdef MMK_ELIMIT
    if (rc == MMK_ELIMIT)
        return 1;
#endif
    return rc == MMK_EPATTERN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 5)
        return 0;
    unsigned flags = data[0] & (MMK_PAT_FIXED | MMK_PAT_ICASE | MMK_PAT_WORD | MMK_PAT_LINES);
    if (!MMK_FUZZ_LINES)
        flags &= ~(unsigned)MMK_PAT_LINES;
    int cpu = MMK_CPU_SCALAR + data[1] % 4;
    uint64_t chunk = 1 + data[2] % 64;
    unsigned threads = 1 + data[3] % 3;
    size_t plen = data[4];
    data += 5;
    size -= 5;
    if (plen > size)
        plen = size;
    /* Empty pattern and subject are passed as NULL, as callers may. */
    const uint8_t *pat = plen ? data : NULL;
    size_t slen = size - plen;
    const uint8_t *subj = slen ? data + plen : NULL;

    if (mmk_set_cpu_path(cpu) != 0) {
        if (cpu != MMK_CPU_AVX512)
            abort(); /* scalar, SSE2 and AVX2 run on every x86-64 this runs on */
        cpu = MMK_CPU_SCALAR;
        mmk_set_cpu_path(cpu);
    }

    int icase = (flags & MMK_PAT_ICASE) != 0, word = (flags & MMK_PAT_WORD) != 0;
    int lines = (flags & MMK_PAT_LINES) != 0;
    mmk_pattern *p = NULL;
    mmk_pattern_error perr;
    int rc = mmk_pattern_compile(&p, pat, plen, flags, &perr);

    /* The reference compile: regex.c's own, the interpreter runs its code. */
    mmk__regex ref;
    memset(&ref, 0, sizeof ref);
    int ref_rc = 0;
    if (!(flags & MMK_PAT_FIXED))
        ref_rc = mmk__regex_compile(&ref, pat, plen, icase, word, lines, NULL);
    if (rc != ref_rc) {
        fail("compile result differs from regex.c's compile", pat, plen, flags, cpu, chunk, threads,
             (uint64_t)(int64_t)rc, (uint64_t)(int64_t)ref_rc);
    }
    if (rc != 0) {
        if (rc != MMK_EPATTERN || (flags & MMK_PAT_FIXED) || perr.offset < 0 ||
            (uint64_t)perr.offset > plen || !perr.message[0])
            fail("compile error without a valid position and message", pat, plen, flags, cpu, chunk,
                 threads, (uint64_t)(int64_t)rc, (uint64_t)(int64_t)perr.offset);
        return 0;
    }

    /* Reference spans. */
    spans want = {0};
    int compare = 1;
    pcre2_match_data *md = NULL;
    pcre2_match_context *mc = NULL;
    if (!(flags & MMK_PAT_FIXED)) {
        md = pcre2_match_data_create(1, NULL);
        mc = pcre2_match_context_create(NULL);
        if (!md || !mc)
            abort();
        pcre2_set_match_limit(mc, REF_MATCH_LIMIT);
    }
    const uint8_t *text = subj ? subj : (const uint8_t *)""; /* no arithmetic on NULL */
    const uint8_t *needle = pat ? pat : (const uint8_t *)"";
    size_t ls = 0;
    do {
        size_t le = slen;
        if (lines) {
            if (ls == slen)
                break; /* an empty input, or the end after a final '\n' */
            const uint8_t *nl = memchr(text + ls, '\n', slen - ls);
            le = nl ? (size_t)(nl - text) : slen;
        }
        if (flags & MMK_PAT_FIXED)
            ref_fixed(text + ls, le - ls, ls, needle, plen, icase, word, &want);
        else if (ref_regex(ref.code, md, mc, text + ls, le - ls, ls, &want) < 0)
            compare = 0;
        ls = le + 1;
    } while (lines && compare && ls <= slen);
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    mmk__regex_destroy(&ref);

    mmk_input in = mmk_input_bytes(subj, slen);
    mmk_scan_options seq = {0};
    seq.threads = 1;
    mmk_scan_options par = {0};
    par.threads = threads;
    par.chunk_size = chunk;

    uint64_t n_seq = 0, n_par = 0;
    int rc_seq = mmk_count(p, &in, &seq, &n_seq);
    int rc_par = mmk_count(p, &in, &par, &n_par);
    spans got = {0};
    int rc_spans = mmk_matches(p, &in, &par, collect, &got);

    if (is_limit_error(rc_seq) || is_limit_error(rc_par) || is_limit_error(rc_spans)) {
        compare = 0; /* too expensive for this input: no count to compare */
    } else if (rc_seq != 0 || rc_par != 0 || rc_spans != 0) {
        fail("scan failed", pat, plen, flags, cpu, chunk, threads,
             (uint64_t)(int64_t)(rc_seq   ? rc_seq
                                 : rc_par ? rc_par
                                          : rc_spans),
             0);
    }
    if (!compare && rc_seq == 0 && rc_par == 0 && rc_spans == 0) {
        /* No reference: the engine must still agree with itself. */
        if (n_par != n_seq)
            fail("chunked mmk_count differs from the sequential one", pat, plen, flags, cpu, chunk,
                 threads, n_par, n_seq);
        if (got.n / 2 != n_seq)
            fail("mmk_matches span count differs from mmk_count", pat, plen, flags, cpu, chunk,
                 threads, got.n / 2, n_seq);
    }
    if (compare) {
        uint64_t nwant = want.n / 2;
        if (n_seq != nwant)
            fail("sequential mmk_count differs from the reference", pat, plen, flags, cpu, chunk,
                 threads, n_seq, nwant);
        if (n_par != nwant)
            fail("chunked mmk_count differs from the reference", pat, plen, flags, cpu, chunk,
                 threads, n_par, nwant);
        if (got.n != want.n)
            fail("mmk_matches reports a different number of spans", pat, plen, flags, cpu, chunk,
                 threads, got.n / 2, nwant);
        for (size_t i = 0; i < want.n; i++) {
            if (got.v[i] != want.v[i]) {
                fprintf(stderr, "span %zu: [%llu, %llu) expected [%llu, %llu)\n", i / 2,
                        (unsigned long long)got.v[i & ~(size_t)1], (unsigned long long)got.v[i | 1],
                        (unsigned long long)want.v[i & ~(size_t)1],
                        (unsigned long long)want.v[i | 1]);
                fail("mmk_matches span differs from the reference", pat, plen, flags, cpu, chunk,
                     threads, got.v[i], want.v[i]);
            }
        }
    }
    free(got.v);
    free(want.v);
    mmk_pattern_free(p);
    return 0;
}
