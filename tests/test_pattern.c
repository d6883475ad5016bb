/*
 * test_pattern.c — compiling patterns and the three search shapes:
 * compile errors and flags, literal classification, the required-literal
 * prefilter against plain PCRE2 on word text, empty-match semantics against
 * Python's re, NUL bytes and invalid UTF-8, and scratch per thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "pattern.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static size_t rnd_below(size_t n) {
    return n ? (size_t)(rnd() % n) : 0;
}

static mmk_pattern *compile(const char *pat, unsigned flags) {
    mmk_pattern *p = NULL;
    mmk_pattern_error e;
    int rc = mmk_pattern_compile(&p, pat, strlen(pat), flags, &e);
    if (rc != 0) {
        fprintf(stderr, "compile %s: %d %s\n", pat, rc, e.message);
        CHECK_RC(rc, 0);
        return NULL;
    }
    return p;
}

/* Spans of the leftmost non-overlapping walk, as the searcher does it (and
   as Python's re.finditer: after an empty match, no empty match at the same
   place). Returns the number of matches, -1 on error; spans may be NULL. */
static long walk(const mmk_pattern *p, const uint8_t *s, size_t len, size_t *spans, size_t cap) {
    mmk__scratch *sc = mmk__scratch_new(p);
    if (!sc)
        return -1;
    long n = 0;
    size_t pos = 0;
    int ne = 0;
    while (pos <= len) {
        size_t ms, me;
        int rc = mmk__find(p, sc, s, len, pos, len + 1, ne, &ms, &me);
        if (rc < 0) {
            n = -1;
            break;
        }
        if (rc == 0)
            break;
        if (spans && (size_t)n < cap) {
            spans[2 * n] = ms;
            spans[2 * n + 1] = me;
        }
        n++;
        ne = me == ms;
        pos = me;
    }
    mmk__scratch_free(sc);
    return n;
}

/* ------------------------------------------------------------------------ */

static void test_errors(void) {
    mmk_pattern *p = (mmk_pattern *)&p;
    mmk_pattern_error e;
    CHECK_RC(mmk_pattern_compile(&p, "a)", 2, 0, &e), MMK_EPATTERN);
    CHECK(p == NULL);
    CHECK_EQ(e.offset, 1);
    CHECK(strstr(e.message, "parenthes") != NULL);
    /* The same error, the same offset under -w (which wraps the pattern). */
    CHECK_RC(mmk_pattern_compile(&p, "a)", 2, MMK_PAT_WORD, &e), MMK_EPATTERN);
    CHECK_EQ(e.offset, 1);
    CHECK_RC(mmk_pattern_compile(&p, "(abc", 4, 0, &e), MMK_EPATTERN);
    CHECK_EQ(e.offset, 4);
    CHECK(strstr(e.message, "missing") != NULL);
    CHECK_RC(mmk_pattern_compile(&p, "ab[cd", 5, MMK_PAT_ICASE, &e), MMK_EPATTERN);
    CHECK_EQ(e.offset, 5);
    CHECK_RC(mmk_pattern_compile(&p, "x{3,2}", 6, 0, &e), MMK_EPATTERN);
    CHECK_EQ(e.offset, 5);
    CHECK(e.message[0] != 0);
    CHECK_RC(mmk_pattern_compile(&p, "abc\\", 4, 0, &e), MMK_EPATTERN);
    CHECK_EQ(e.offset, 4);
    CHECK_RC(mmk_pattern_compile(&p, "*a", 2, 0, &e), MMK_EPATTERN);
    CHECK_EQ(e.offset, 0);
    /* Offsets are in the caller's pattern even after {,n} became {0,n}. */
    CHECK_RC(mmk_pattern_compile(&p, "a{,2})", 6, 0, &e), MMK_EPATTERN);
    CHECK_EQ(e.offset, 5);
    CHECK_RC(mmk_pattern_compile(&p, "x\\K", 3, 0, &e), MMK_EPATTERN);
    CHECK_EQ(e.offset, 1);
    CHECK(strstr(e.message, "\\K") != NULL);
    CHECK_RC(mmk_pattern_compile(&p, "ab\\G", 4, 0, &e), MMK_EPATTERN);
    CHECK_EQ(e.offset, 2);
    CHECK_RC(mmk_pattern_compile(&p, "a(*COMMIT)b", 11, 0, &e), MMK_EPATTERN);
    CHECK_EQ(e.offset, 1);
    CHECK_RC(mmk_pattern_compile(&p, "a(*SKIP:n)b", 11, 0, &e), MMK_EPATTERN);
    CHECK_EQ(e.offset, 1);
    /* Inside a class or \Q...\E they are plain characters. */
    const char *quoted = "[(*SKIP)]+\\Q\\G\\K\\E";
    CHECK_OK(mmk_pattern_compile(&p, quoted, strlen(quoted), 0, &e));
    CHECK_EQ(walk(p, (const uint8_t *)"(*SKIP)\\G\\K", 11, NULL, 0), 1);
    mmk_pattern_free(p);
    /* Other verbs are PCRE2's. */
    CHECK_OK(mmk_pattern_compile(&p, "a(*THEN)b|ac", 12, 0, &e));
    CHECK_EQ(walk(p, (const uint8_t *)"ab ac", 5, NULL, 0), 2);
    mmk_pattern_free(p);
    /* UTF mode cannot be switched on from inside the pattern. */
    CHECK_RC(mmk_pattern_compile(&p, "(*UTF)a", 7, 0, &e), MMK_EPATTERN);
    /* err may be NULL. */
    CHECK_RC(mmk_pattern_compile(&p, "(", 1, 0, NULL), MMK_EPATTERN);
    /* Bad arguments. */
    CHECK_RC(mmk_pattern_compile(NULL, "a", 1, 0, &e), -EINVAL);
    CHECK_RC(mmk_pattern_compile(&p, NULL, 1, 0, &e), -EINVAL);
    CHECK_RC(mmk_pattern_compile(&p, "a", 1, 1u << 9, &e), -EINVAL);
    CHECK(p == NULL);
    /* A NULL pattern of length 0 is the empty pattern. */
    CHECK_OK(mmk_pattern_compile(&p, NULL, 0, 0, &e));
    CHECK(p != NULL && mmk__is_literal(p) && mmk__can_match_empty(p));
    mmk_pattern_free(p);
    mmk_pattern_free(NULL);
    mmk__scratch_free(NULL);
}

/* ------------------------------------------------------------------------ */

struct py_case {
    const char *pat;
    size_t pat_len;
    const char *subj;
    size_t subj_len;
    unsigned flags;
    long n;
    size_t spans[16];
};

/* Generated by running Python 3.11's re.finditer on each case (flags: 2 is
   re.IGNORECASE, 4 wraps the pattern in (?<![A-Za-z0-9_])(?:...)(?![A-Za-z0-9_])). */
static const struct py_case py_cases[] = {
    {"a*", 2, "baaac aa", 8, 0, 6, {0, 0, 1, 4, 4, 4, 5, 5, 6, 8, 8, 8}},
    {"x*", 2, "abxd", 4, 0, 5, {0, 0, 1, 1, 2, 3, 3, 3, 4, 4}},
    {"\\b", 2, "ab cd,ef", 8, 0, 6, {0, 0, 2, 2, 3, 3, 5, 5, 6, 6, 8, 8}},
    {"\\B", 2, "ab cd", 5, 0, 2, {1, 1, 4, 4}},
    {"(?=a)", 5, "banana", 6, 0, 3, {1, 1, 3, 3, 5, 5}},
    {"^", 1, "one\012two\012\012three", 14, 0, 1, {0, 0}},
    {"(?m)^", 5, "one\012two\012\012three\012", 15, 0, 5, {0, 0, 4, 4, 8, 8, 9, 9, 15, 15}},
    {"(?m)$", 5, "one\012two\012\012three\012", 15, 0, 5, {3, 3, 7, 7, 8, 8, 14, 14, 15, 15}},
    {"$", 1, "line\012", 5, 0, 2, {4, 4, 5, 5}},
    {"a??", 3, "aab", 3, 0, 6, {0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3}},
    {"", 0, "abc", 3, 0, 4, {0, 0, 1, 1, 2, 2, 3, 3}},
    {"", 0, "ab c", 4, 4, 0, {}},
    {"a|", 2, "bab", 3, 0, 4, {0, 0, 1, 2, 2, 2, 3, 3}},
    {"|a", 2, "bab", 3, 0, 5, {0, 0, 1, 1, 1, 2, 2, 2, 3, 3}},
    {"\\w*", 3, "foo  bar!", 9, 0, 6, {0, 3, 3, 3, 4, 4, 5, 8, 8, 8, 9, 9}},
    {"(?<=a)", 6, "aab", 3, 0, 2, {1, 1, 2, 2}},
    {"[0-9]*", 6, "a12b345", 7, 0, 5, {0, 0, 1, 3, 3, 3, 4, 7, 7, 7}},
    {"\\s*", 3, "a \012 b", 5, 0, 4, {0, 0, 1, 4, 4, 4, 5, 5}},
    {"(?m)^\\s*$", 9, "a\012\012  \012b\012", 8, 0, 2, {2, 5, 8, 8}},
    {"a{,2}", 5, "aaaaa", 5, 0, 4, {0, 2, 2, 4, 4, 5, 5, 5}},
    {"x\\Z", 3, "xx\012", 3, 0, 0, {}},
    {"x$", 2, "xx\012", 3, 0, 1, {1, 2}},
    {"\\v", 2, "\012\013\015\014\013", 5, 0, 2, {1, 2, 4, 5}},
    {"[\\v]+", 5, "\012\013\013\015", 4, 0, 1, {1, 3}},
    {"(?i)[a-c]+", 10, "xAbCx", 5, 0, 1, {1, 4}},
    {"[a-c]+", 6, "xAbCx", 5, 2, 1, {1, 4}},
    {"b*?", 3, "bbb", 3, 0, 7, {0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3}},
    {"(?:ab)*", 7, "ababxab", 7, 0, 4, {0, 4, 4, 4, 5, 7, 7, 7}},
    {"a.b", 3, "a\000b a\377b a\012b", 11, 0, 2, {0, 3, 4, 7}},
    {"\\xff+", 5, "\377\376\377\377\000", 5, 0, 2, {0, 1, 2, 4}},
    {"[^\\x00]+", 8, "ab\000\000cd", 6, 0, 2, {0, 2, 4, 6}},
    {"\\x00", 4, "\000a\000", 3, 0, 2, {0, 1, 2, 3}},
    {"-?foo", 5, "foo -foo x-foo foobar _foo", 26, 4, 3, {0, 3, 4, 8, 11, 14}},
    {"foo|ba", 6, "foo -foo x-foo foobar _foo ba", 29, 4, 4, {0, 3, 5, 8, 11, 14, 27, 29}},
    {"\\w+eth", 6, "Goeth GOETH saith cometh", 24, 2, 3, {0, 5, 6, 11, 18, 24}},
    {"caf\\xc3", 7, "caf\303\251 CAF\303\211", 11, 2, 2, {0, 4, 6, 10}},
    {"a{,}", 4, "aaa{,}", 6, 0, 5, {0, 3, 3, 3, 4, 4, 5, 5, 6, 6}},
    {"a{,x}", 5, "a{,x}", 5, 0, 1, {0, 5}},
    {"(?a)\\w+", 7, "ab\351cd", 5, 0, 2, {0, 2, 3, 5}},
    {"(?ai)ab", 7, "xABab", 5, 0, 2, {1, 3, 3, 5}},
    {"(?i:a)b", 7, "AbAB", 4, 0, 1, {0, 2}},
    {"(?#[)a\\Z(?#])", 13, "a\012a", 3, 0, 1, {2, 3}},
    {"\\bfoo\\b", 7, "foo\351 foo_ \377foo", 14, 0, 2, {0, 3, 11, 14}},
};

static void test_python_semantics(void) {
    for (size_t i = 0; i < sizeof py_cases / sizeof py_cases[0]; i++) {
        const struct py_case *c = &py_cases[i];
        mmk_pattern *p = NULL;
        int rc = mmk_pattern_compile(&p, c->pat, c->pat_len, c->flags, NULL);
        CHECK_RC(rc, 0);
        if (rc)
            continue;
        size_t spans[32];
        long n = walk(p, (const uint8_t *)c->subj, c->subj_len, spans, 16);
        if (n != c->n || memcmp(spans, c->spans, 2 * (size_t)c->n * sizeof spans[0]) != 0) {
            fprintf(stderr, "case %zu /%s/ flags %u: %ld matches, Python has %ld\n", i, c->pat,
                    c->flags, n, c->n);
            CHECK(0);
        } else {
            CHECK(1);
        }
        mmk_pattern_free(p);
    }
}

/* ------------------------------------------------------------------------ */

static void test_classification(void) {
    static const char *const literal[] = {"LORD",    "a\\.b",      "",   "x y",
                                          "\\(x\\)", "tab\\there", "-_-"};
    for (size_t i = 0; i < sizeof literal / sizeof literal[0]; i++) {
        mmk_pattern *p = compile(literal[i], 0);
        CHECK(p && mmk__is_literal(p));
        mmk_pattern_free(p);
        p = compile(literal[i], MMK_PAT_ICASE | MMK_PAT_WORD);
        CHECK(p && mmk__is_literal(p));
        mmk_pattern_free(p);
    }
    static const char *const regex[] = {"a.b",    "ab+",      "(ab)", "a|b",  "^a",
                                        "a$",     "\\bab",    "[ab]", "a{2}", "\\x41",
                                        "(?i)ab", "\\Qab\\E", "ab?"};
    for (size_t i = 0; i < sizeof regex / sizeof regex[0]; i++) {
        mmk_pattern *p = compile(regex[i], 0);
        CHECK(p && !mmk__is_literal(p));
        mmk_pattern_free(p);
    }
    /* MMK_PAT_FIXED takes metacharacters literally. */
    mmk_pattern *p = compile("a.b(", MMK_PAT_FIXED);
    CHECK(p && mmk__is_literal(p) && mmk__max_match_len(p) == 4);
    CHECK_EQ(walk(p, (const uint8_t *)"a.b( axb(", 9, NULL, 0), 1);
    mmk_pattern_free(p);

    /* Which regexes get a prefilter, and on which literal. */
    static const struct {
        const char *pat;
        const char *lit; /* NULL: no prefilter */
    } pre[] = {
        {"[a-z]+eth\\b", "eth"}, {"[A-Z][a-z]+ah\\b", "ah"},
        {"\\bLORD\\b", "LORD"},  {"the [a-z]+", "the "},
        {"ab*cd", "cd"},         {"xab+cd", "xab"},
        {"a|bcd", NULL},         {"[^a]bcd", NULL},
        {"\\sbcd", NULL},        {"bc\\Kd", NULL},
        {"(?i)bcd", NULL},       {"(?s)abc.", NULL},
        {"a.\\nbcd", NULL},      {"e.e", NULL},
        {"x\\Gabc", NULL},
    };
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
        mmk_pattern *q = NULL;
        int rc = mmk_pattern_compile(&q, pre[i].pat, strlen(pre[i].pat), 0, NULL);
        if (strstr(pre[i].pat, "\\K") || strstr(pre[i].pat, "\\G")) {
            CHECK_RC(rc, MMK_EPATTERN);
            continue;
        }
        CHECK_RC(rc, 0);
        if (!q)
            continue;
        if (mmk__is_literal(q)) {
            fprintf(stderr, "%s classified as a literal\n", pre[i].pat);
            CHECK(0);
        }
        if (pre[i].lit) {
            CHECK(q->has_prefilter);
            CHECK(q->lit.n == strlen(pre[i].lit) &&
                  memcmp(q->lit.needle, pre[i].lit, q->lit.n) == 0);
        } else if (q->has_prefilter) {
            fprintf(stderr, "unexpected prefilter for %s\n", pre[i].pat);
            CHECK(0);
        }
        mmk_pattern_free(q);
    }
}

static void test_info(void) {
    mmk_pattern *p = compile("abc", 0);
    CHECK_EQ(mmk__max_match_len(p), 3);
    CHECK_EQ(mmk__max_lookbehind(p), 0);
    CHECK_EQ(mmk__can_match_empty(p), 0);
    CHECK_EQ(mmk__match_excludes_newline(p), 1);
    mmk_pattern_free(p);
    p = compile("abc", MMK_PAT_WORD);
    CHECK_EQ(mmk__max_lookbehind(p), 1);
    mmk_pattern_free(p);
    p = compile("a\nb", MMK_PAT_FIXED);
    CHECK_EQ(mmk__match_excludes_newline(p), 0);
    mmk_pattern_free(p);
    p = compile("", MMK_PAT_FIXED);
    CHECK_EQ(mmk__can_match_empty(p), 1);
    CHECK_EQ(mmk__max_match_len(p), 0);
    mmk_pattern_free(p);
    p = compile("a+b", 0);
    CHECK(mmk__max_match_len(p) == SIZE_MAX);
    CHECK_EQ(mmk__can_match_empty(p), 0);
    CHECK(mmk__max_lookbehind(p) >= 1);
    mmk_pattern_free(p);
    p = compile("(?<=abcd)x", 0);
    CHECK(mmk__max_lookbehind(p) >= 4);
    mmk_pattern_free(p);
    p = compile("a*", 0);
    CHECK_EQ(mmk__can_match_empty(p), 1);
    mmk_pattern_free(p);
    p = compile("\\b", 0);
    CHECK_EQ(mmk__can_match_empty(p), 1);
    mmk_pattern_free(p);

    static const char *const may_newline[] = {
        "\\s",      "a\\nb",         "[^a]",    "(?s).",       "[\\x00-\\x7f]", "[\t-\r]",
        "\\W",      "a\\D",          "\\N",     "\\R",         "\\v",           "\\h",
        "\\x0a",    "\\012",         "\\Qa\\E", "[[:space:]]", "(?s:.)",        "\\H",
        "\\V",      "\\X",           "\\C",     "a\nb",        "[\\s]",         "\\S",
        "\\p{Any}", "(*CR).",        "[\\n]",   "[!-\\x7f]",   "(?ms).",        "\\cJ",
        "[\n]",     "(?#[)[^a](?#])"};
    for (size_t i = 0; i < sizeof may_newline / sizeof may_newline[0]; i++) {
        p = compile(may_newline[i], 0);
        if (p && mmk__match_excludes_newline(p)) {
            fprintf(stderr, "%s claims to exclude newlines\n", may_newline[i]);
            CHECK(0);
        }
        mmk_pattern_free(p);
    }
    static const char *const no_newline[] = {"[a-z]+eth\\b", ".*", "\\w+\\d", "[\\w.]+", "a|b",
                                             "(?i)abc",      "x$", "[ -~]+",  "\\t\\r",  "(?:ab)+"};
    for (size_t i = 0; i < sizeof no_newline / sizeof no_newline[0]; i++) {
        p = compile(no_newline[i], 0);
        CHECK(p && mmk__match_excludes_newline(p));
        mmk_pattern_free(p);
    }
}

/* ------------------------------------------------------------------------ */

static const char *const words[] = {
    "the",      "LORD",     "said", "unto",     "Moses",      "goeth", "saith", "cometh",
    "Jeremiah", "Hezekiah", "Noah", "ah",       "eth",        "and",   "of",    "Zerubbabel",
    "lord",     "Lord",     "thee", "that",     "thou",       "hath",  "shalt", "Israel",
    "God",      "x-eth",    "_eth", "eth_",     "1eth",       "ETH",   "Ah",    "Sarah",
    "bethel",   "foo",      "bar",  "ab",       "abbc",       "abc",   "ac",    "cd",
    "xabbcd",   "e",        "",     "\xff\xfe", "caf\xc3\xa9"};
#define N_WORDS (sizeof words / sizeof words[0])

/* Random "verse" text: lines of words, punctuation, the odd NUL byte, blank
   lines, long lines, and sometimes no final newline. */
static size_t make_text(uint8_t *buf, size_t cap) {
    size_t n = 0;
    while (n + 400 < cap) {
        size_t nw = rnd_below(8) == 0 ? rnd_below(60) : rnd_below(12);
        for (size_t w = 0; w < nw; w++) {
            const char *word = words[rnd_below(N_WORDS)];
            size_t wl = strlen(word);
            memcpy(buf + n, word, wl);
            n += wl;
            switch (rnd_below(12)) {
            case 0:
                buf[n++] = ',';
                break;
            case 1:
                buf[n++] = '.';
                break;
            case 2:
                buf[n++] = 0;
                break;
            default:
                break;
            }
            if (w + 1 < nw)
                buf[n++] = rnd_below(10) ? ' ' : '\t';
        }
        buf[n++] = '\n';
    }
    if (n && (rnd() & 1))
        n--;
    return n;
}

static const char *const prefilter_patterns[] = {
    "[a-z]+eth\\b",
    "[A-Z][a-z]+ah\\b",
    "\\bLORD\\b",
    "the [a-z]+",
    "eth",
    "ah\\b",
    "(?<=h)eth",
    "eth$",
    "^the",
    "th[aeiou]+t",
    "ab+c",
    "ab*cd",
    "ab{2,}c",
    "xab?bcd",
    "\\w+eth\\W?",
    "Lord.{0,5}",
    "LORD.*God",
    "e\\w*th",
    "h?eth",
    "[^a]eth",
    "the|thou",
    "ah(?= )",
    "(?<!\\w)ah",
    "Jer\\w+",
    "a\\x00",
    "\\bsaith,",
    "th(ee|ou)",
    "d$",
    "LORD",
    "",
    "e",
    "Zerubbabel",
    "a\\.b",
    "x-eth",
    "caf\\xc3",
};

/* Every pattern against "(?:pattern)", which is never a literal and never
   prefiltered: plain PCRE2, the reference. Full walks, then random calls with
   random pos, limit, subject end and notempty flag. */
static void test_prefilter_vs_plain(void) {
    static uint8_t text[24000];
    size_t spans_a[2 * 4096], spans_b[2 * 4096];
    unsigned long calls = 0, prefiltered = 0;
    for (int round = 0; round < 4; round++) {
        size_t len = make_text(text, sizeof text);
        if (round == 3) {
            /* One long line: the prefilter's line logic degenerates. */
            for (size_t k = 0; k < len; k++)
                if (text[k] == '\n')
                    text[k] = ' ';
        }
        for (size_t i = 0; i < sizeof prefilter_patterns / sizeof prefilter_patterns[0]; i++) {
            for (unsigned flags = 0; flags < 8; flags += 2) {
                const char *pat = prefilter_patterns[i];
                char ref_pat[128];
                snprintf(ref_pat, sizeof ref_pat, "(?:%s)", pat);
                mmk_pattern *p = compile(pat, flags), *r = compile(ref_pat, flags);
                if (!p || !r) {
                    mmk_pattern_free(p);
                    mmk_pattern_free(r);
                    continue;
                }
                CHECK(!r->has_prefilter && !mmk__is_literal(r));
                prefiltered += p->has_prefilter;
                long na = walk(p, text, len, spans_a, 4096), nb = walk(r, text, len, spans_b, 4096);
                size_t cmp = (size_t)(na < 4096 ? na : 4096);
                if (na != nb || na < 0 ||
                    memcmp(spans_a, spans_b, 2 * cmp * sizeof spans_a[0]) != 0) {
                    fprintf(stderr, "walk differs for /%s/ flags %u: %ld vs %ld\n", pat, flags, na,
                            nb);
                    CHECK(0);
                    mmk_pattern_free(p);
                    mmk_pattern_free(r);
                    continue;
                }
                CHECK(1);
                mmk__scratch *sp = mmk__scratch_new(p), *sr = mmk__scratch_new(r);
                int bad = 0;
                for (int t = 0; t < 150 && !bad; t++) {
                    size_t sub = t % 3 ? len : rnd_below(len + 1);
                    size_t a = rnd_below(sub + 1), b = a + rnd_below(t % 2 ? 64 : sub - a + 2);
                    if (b > sub + 1)
                        b = sub + 1;
                    int ne = (int)(rnd() & 1);
                    size_t s1 = 0, e1 = 0, s2 = 0, e2 = 0;
                    int g1 = mmk__find(p, sp, text, sub, a, b, ne, &s1, &e1);
                    int g2 = mmk__find(r, sr, text, sub, a, b, ne, &s2, &e2);
                    calls++;
                    if (g1 != g2 || (g1 == 1 && (s1 != s2 || e1 != e2))) {
                        fprintf(stderr,
                                "/%s/ flags %u len %zu pos %zu limit %zu ne %d: %d [%zu,%zu) vs %d "
                                "[%zu,%zu)\n",
                                pat, flags, sub, a, b, ne, g1, s1, e1, g2, s2, e2);
                        bad = 1;
                    }
                    if (g1 == 1 && (s1 < a || s1 >= b)) {
                        fprintf(stderr, "/%s/: match start %zu outside [%zu, %zu)\n", pat, s1, a,
                                b);
                        bad = 1;
                    }
                }
                CHECK(!bad);
                /* Soundness of excludes_newline on real matches. */
                if (mmk__match_excludes_newline(p)) {
                    for (long k = 0; k < (long)cmp; k++)
                        CHECK(memchr(text + spans_a[2 * k], '\n',
                                     spans_a[2 * k + 1] - spans_a[2 * k]) == NULL);
                }
                mmk__scratch_free(sp);
                mmk__scratch_free(sr);
                mmk_pattern_free(p);
                mmk_pattern_free(r);
            }
        }
    }
    CHECK(prefiltered > 0);
    printf("prefilter: %lu random calls compared, %lu prefiltered compiles\n", calls, prefiltered);
}

/* Random small regexes over a small alphabet: whatever the analysis makes of
   them (literal, prefiltered or plain), the matches must equal plain PCRE2's. */
static void test_random_regexes(void) {
    static const char *const atoms[] = {
        "a",   "b",        "e",     "t",      "h", "th", "eth", " ",    "\\.", ".", "[a-e]", "\\b",
        "\\w", "(?:ab|e)", "(?=a)", "(?<=b)", "^", "$",  "\\s", "[^a]", "(a)", "x", "\\B",   "\\d"};
    static const char *const quants[] = {"",      "",     "",   "",   "*",  "+",  "?",   "{2}",
                                         "{0,2}", "{1,}", "*?", "+?", "??", "++", "{,2}"};
    static uint8_t text[3000];
    unsigned long compared = 0, prefiltered = 0, literal = 0;
    for (int round = 0; round < 2000; round++) {
        static const char alpha[] = "aabbeeetth. \n";
        size_t len = 200 + rnd_below(sizeof text - 200);
        for (size_t i = 0; i < len; i++)
            text[i] = (uint8_t)alpha[rnd_below(sizeof alpha - 1)];
        char pat[160];
        size_t n = 0;
        size_t natoms = 1 + rnd_below(6);
        for (size_t k = 0; k < natoms; k++) {
            const char *a = atoms[rnd_below(sizeof atoms / sizeof atoms[0])];
            const char *q = quants[rnd_below(sizeof quants / sizeof quants[0])];
            n += (size_t)snprintf(pat + n, sizeof pat - n, "%s%s", a, q);
        }
        unsigned flags = (unsigned)(rnd_below(4) * 2); /* none, ICASE, WORD, both */
        char ref[200];
        snprintf(ref, sizeof ref, "(?:%s)", pat);
        mmk_pattern *p = NULL, *r = NULL;
        int rc1 = mmk_pattern_compile(&p, pat, strlen(pat), flags, NULL);
        int rc2 = mmk_pattern_compile(&r, ref, strlen(ref), flags, NULL);
        CHECK_EQ(rc1, rc2);
        if (rc1 || rc2) {
            mmk_pattern_free(p);
            mmk_pattern_free(r);
            continue;
        }
        prefiltered += p->has_prefilter;
        literal += mmk__is_literal(p);
        /* Half the time the reference runs on PCRE2's interpreter, not its JIT code. */
        if (round & 1)
            r->re.jit = 0;
        static size_t sa[2 * 4096], sb[2 * 4096];
        long na = walk(p, text, len, sa, 4096), nb = walk(r, text, len, sb, 4096);
        size_t cmp = (size_t)(na > 0 && na < 4096 ? na : 0);
        if (na != nb || memcmp(sa, sb, 2 * cmp * sizeof sa[0]) != 0) {
            fprintf(stderr, "random regex /%s/ flags %u: %ld vs %ld matches\n", pat, flags, na, nb);
            CHECK(0);
        } else {
            CHECK(1);
        }
        mmk__scratch *sp = mmk__scratch_new(p), *sr = mmk__scratch_new(r);
        for (int t = 0; t < 30; t++) {
            size_t sub = t % 2 ? len : rnd_below(len + 1);
            size_t a = rnd_below(sub + 1), b = a + rnd_below(sub - a + 2);
            int ne = (int)(rnd() & 1);
            size_t s1 = 0, e1 = 0, s2 = 0, e2 = 0;
            int g1 = mmk__find(p, sp, text, sub, a, b, ne, &s1, &e1);
            int g2 = mmk__find(r, sr, text, sub, a, b, ne, &s2, &e2);
            compared++;
            if (g1 != g2 || (g1 == 1 && (s1 != s2 || e1 != e2))) {
                fprintf(stderr,
                        "random regex /%s/ flags %u len %zu pos %zu limit %zu ne %d: %d [%zu,%zu) "
                        "vs %d [%zu,%zu)\n",
                        pat, flags, sub, a, b, ne, g1, s1, e1, g2, s2, e2);
                CHECK(0);
                break;
            }
        }
        /* excludes_newline must never be claimed wrongly. */
        if (mmk__match_excludes_newline(p))
            for (size_t k = 0; k < cmp; k++)
                CHECK(memchr(text + sa[2 * k], '\n', sa[2 * k + 1] - sa[2 * k]) == NULL);
        mmk__scratch_free(sp);
        mmk__scratch_free(sr);
        mmk_pattern_free(p);
        mmk_pattern_free(r);
    }
    CHECK(prefiltered > 0 && literal > 0);
    printf("random regexes: %lu calls compared, %lu prefiltered, %lu literal\n", compared,
           prefiltered, literal);
}

/* ------------------------------------------------------------------------ */

static void test_subject_bytes(void) {
    /* NUL and invalid UTF-8 are ordinary bytes for literals and regexes. */
    static const uint8_t subj[] = {'a', 0, 'b', 0xff, 'a', 0xc3, 0x28, 'b', 0, 0, 'a', 0xff, 'b'};
    mmk_pattern *p = NULL;
    CHECK_OK(mmk_pattern_compile(&p, "\0", 1, MMK_PAT_FIXED, NULL));
    CHECK_EQ(walk(p, subj, sizeof subj, NULL, 0), 3);
    mmk_pattern_free(p);
    CHECK_OK(mmk_pattern_compile(&p, "\0\0", 2, 0, NULL));
    CHECK(mmk__is_literal(p));
    CHECK_EQ(walk(p, subj, sizeof subj, NULL, 0), 1);
    mmk_pattern_free(p);
    CHECK_OK(mmk_pattern_compile(&p, "a.b", 3, 0, NULL));
    CHECK_EQ(walk(p, subj, sizeof subj, NULL, 0), 2);
    mmk_pattern_free(p);
    CHECK_OK(mmk_pattern_compile(&p, "\xc3(", 2, MMK_PAT_FIXED, NULL));
    CHECK_EQ(walk(p, subj, sizeof subj, NULL, 0), 1);
    mmk_pattern_free(p);
    CHECK_OK(mmk_pattern_compile(&p, "[\x80-\xff]", 5, 0, NULL));
    CHECK_EQ(walk(p, subj, sizeof subj, NULL, 0), 3);
    mmk_pattern_free(p);
    /* An empty subject: only empty patterns match, once. */
    CHECK_OK(mmk_pattern_compile(&p, "", 0, 0, NULL));
    CHECK_EQ(walk(p, NULL, 0, NULL, 0), 1);
    mmk_pattern_free(p);
    CHECK_OK(mmk_pattern_compile(&p, "x*", 2, 0, NULL));
    CHECK_EQ(walk(p, NULL, 0, NULL, 0), 1);
    mmk_pattern_free(p);
    CHECK_OK(mmk_pattern_compile(&p, "x", 1, 0, NULL));
    CHECK_EQ(walk(p, NULL, 0, NULL, 0), 0);
    mmk_pattern_free(p);
}

/* Context before pos: lookbehind, \b and -w see it. */
static void test_context(void) {
    const uint8_t *s = (const uint8_t *)"xfoo foo";
    size_t ms, me;
    mmk_pattern *p = compile("foo", MMK_PAT_WORD);
    mmk__scratch *sc = mmk__scratch_new(p);
    CHECK_EQ(mmk__find(p, sc, s, 8, 1, 9, 0, &ms, &me), 1);
    CHECK_EQ(ms, 5);
    /* The end of the subject is the end of input: "foo" at [5,8) ends a word there,
       but not if the subject goes on with a word byte. */
    CHECK_EQ(mmk__find(p, sc, (const uint8_t *)"xfoo foox", 9, 1, 10, 0, &ms, &me), 0);
    /* limit bounds the start only: a match may run past limit. */
    CHECK_EQ(mmk__find(p, sc, s, 8, 1, 6, 0, &ms, &me), 1);
    CHECK_EQ(me, 8);
    CHECK_EQ(mmk__find(p, sc, s, 8, 1, 5, 0, &ms, &me), 0);
    mmk__scratch_free(sc);
    mmk_pattern_free(p);
    p = compile("\\bfoo", 0);
    sc = mmk__scratch_new(p);
    CHECK_EQ(mmk__find(p, sc, s, 8, 1, 9, 0, &ms, &me), 1);
    CHECK_EQ(ms, 5);
    mmk__scratch_free(sc);
    mmk_pattern_free(p);
    p = compile("(?<=x)foo", 0);
    sc = mmk__scratch_new(p);
    CHECK_EQ(mmk__find(p, sc, s, 8, 1, 9, 0, &ms, &me), 1);
    CHECK_EQ(ms, 1);
    CHECK_EQ(mmk__find(p, sc, s, 8, 2, 9, 0, &ms, &me), 0);
    mmk__scratch_free(sc);
    mmk_pattern_free(p);
    /* notempty_at_pos allows a non-empty match at pos. */
    p = compile("a*", 0);
    sc = mmk__scratch_new(p);
    CHECK_EQ(mmk__find(p, sc, (const uint8_t *)"baa", 3, 1, 4, 1, &ms, &me), 1);
    CHECK(ms == 1 && me == 3);
    CHECK_EQ(mmk__find(p, sc, (const uint8_t *)"baa", 3, 0, 4, 1, &ms, &me), 1);
    CHECK(ms == 1 && me == 3);
    CHECK_EQ(mmk__find(p, sc, (const uint8_t *)"baa", 3, 3, 4, 1, &ms, &me), 0);
    mmk__scratch_free(sc);
    mmk_pattern_free(p);
}

/* A regex too expensive for PCRE2's match limit reports an error, not a wrong count. */
static void test_match_limit(void) {
    mmk_pattern *p = compile("(a+)+$", 0);
    uint8_t s[64];
    memset(s, 'a', sizeof s);
    s[63] = 'b';
    CHECK_RC(walk(p, s, sizeof s, NULL, 0), -1);
    mmk_pattern_free(p);
}

/* ------------------------------------------------------------------------ */

struct thread_job {
    const mmk_pattern *p;
    const uint8_t *s;
    size_t len;
    long count;
};

static void *thread_main(void *arg) {
    struct thread_job *j = arg;
    j->count = walk(j->p, j->s, j->len, NULL, 0);
    return NULL;
}

/* One pattern, shared by threads, one scratch each. */
static void test_threads(void) {
    static uint8_t text[20000];
    size_t len = make_text(text, sizeof text);
    static const char *const pats[] = {"[a-z]+eth\\b", "LORD", "\\w+", "(?i)lord"};
    for (size_t i = 0; i < 4; i++) {
        mmk_pattern *p = compile(pats[i], 0);
        long want = walk(p, text, len, NULL, 0);
        struct thread_job jobs[3];
        pthread_t th[3];
        for (int t = 0; t < 3; t++) {
            jobs[t] = (struct thread_job){p, text, len, -2};
            CHECK_OK(pthread_create(&th[t], NULL, thread_main, &jobs[t]));
        }
        for (int t = 0; t < 3; t++) {
            pthread_join(th[t], NULL);
            CHECK_EQ(jobs[t].count, want);
        }
        CHECK(want > 0);
        mmk_pattern_free(p);
    }
}

int main(void) {
    /* MMK_TEST_SEED picks another reproducible random sequence. */
    if (getenv("MMK_TEST_SEED"))
        rng_state ^= strtoull(getenv("MMK_TEST_SEED"), NULL, 0) * 0x9E3779B97F4A7C15ull | 1;
    test_errors();
    test_python_semantics();
    test_classification();
    test_info();
    test_prefilter_vs_plain();
    test_random_regexes();
    test_subject_bytes();
    test_context();
    test_match_limit();
    test_threads();
    return CHECK_DONE();
}
