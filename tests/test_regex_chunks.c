/*
 * test_regex_chunks.c — every pattern PCRE2 accepts either counts the same
 * for every chunk size and thread count, or is refused with a reason.
 *
 * The searcher starts PCRE2 at chunk boundaries and after every match, so an
 * item whose answer depends on where a search starts would make counts depend
 * on the chunking. Which items do is first shown on PCRE2 itself: a search
 * from S must find the first position p >= S where an attempt anchored at p
 * succeeds, and report the match where that attempt began. (*COMMIT), (*SKIP),
 * \G and (*NOTEMPTY_ATSTART) break the first rule and \K the second, on
 * random subjects; (*PRUNE), (*THEN), (*ACCEPT), (*FAIL) and (*MARK) keep
 * both. mmkit refuses exactly the first group — found by PCRE2's own
 * tokenisation, so comments, extended mode, \Q...\E and classes cannot hide
 * them — and random patterns mixing verbs, comments, quoting and classes are
 * counted with tiny chunks and 1-3 threads against a sequential walk, over
 * the bytes in memory, over a file read piecewise (chunks that hold 1-3 bytes
 * past their end and read on by partial matching) and over a stream of
 * small reads.
 */
#include <errno.h>
#include <stdint.h>

#include "pattern.h"
#include "scan.h"
#include "test_scan_util.h"

/* ------------------------------------------------------------------------ */
/* PCRE2's own behaviour                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    int found; /* 1 match, 0 none, -1 error */
    size_t start, end, attempt;
} hit;

static hit pcre2_search(pcre2_code *code, pcre2_match_data *md, const uint8_t *s, size_t len,
                        size_t from, uint32_t opts) {
    hit h = {0, 0, 0, 0};
    int rc = pcre2_match(code, (PCRE2_SPTR)s, len, from, opts | PCRE2_NO_JIT, md, NULL);
    if (rc >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        h.found = 1;
        h.start = ov[0];
        h.end = ov[1];
        h.attempt = pcre2_get_startchar(md);
    } else if (rc != PCRE2_ERROR_NOMATCH) {
        h.found = -1;
    }
    return h;
}

/* 0 when the pattern behaved as if start-independent on `tries` random
   subjects; 1 when a search from some S differs from the first anchored
   attempt at p >= S; 2 when a match is reported away from where its attempt
   began. */
static int start_dependence(const char *pat, uint32_t options, int tries) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pat, strlen(pat), PCRE2_NEVER_UTF | options, &ec, &eo, NULL);
    CHECK(code != NULL);
    if (!code)
        return -1;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int verdict = 0;
    for (int t = 0; t < tries && !verdict; t++) {
        uint8_t s[12];
        size_t len = check_rnd_below(sizeof s);
        for (size_t i = 0; i < len; i++)
            s[i] = (uint8_t) "abc"[check_rnd_below(3)];
        for (size_t from = 0; from <= len && !verdict; from++) {
            hit h = pcre2_search(code, md, s, len, from, 0);
            if (h.found == 1 && h.start != h.attempt) {
                verdict = 2;
                break;
            }
            hit first = {0, 0, 0, 0};
            for (size_t p = from; p <= len; p++) {
                first = pcre2_search(code, md, s, len, p, PCRE2_ANCHORED);
                if (first.found)
                    break;
            }
            if (h.found != first.found ||
                (h.found == 1 && (h.start != first.start || h.end != first.end)))
                verdict = 1;
        }
    }
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    return verdict;
}

static void test_which_constructs(void) {
    static const struct {
        const char *pat;
        int depends; /* expected verdict */
    } cases[] = {
        {"a(*COMMIT)b", 1},         {"(*COMMIT)ab|c", 1},
        {"aa(*SKIP)c|ab", 1},       {"a\\Kb", 2},
        {"a(*PRUNE)b|ac", 0},       {"a+(*PRUNE)b|a", 0},
        {"a(*THEN)b|ac", 0},        {"(?:a(*THEN)b|a)c", 0},
        {"a(*ACCEPT)b|c", 0},       {"(?:a(*ACCEPT))?b", 0},
        {"a(*FAIL)|b", 0},          {"(*MARK:x)a|b(*:y)c", 0},
        {"(*NO_START_OPT)ab|c", 0}, {"(*LIMIT_MATCH=1000)a+b", 0},
        {"(*NOTEMPTY)a?b?", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int v = start_dependence(cases[i].pat, 0, 400);
        if (v != cases[i].depends) {
            fprintf(stderr, "/%s/: start dependence %d, expected %d\n", cases[i].pat, v,
                    cases[i].depends);
            CHECK(0);
        } else {
            CHECK(1);
        }
        /* mmkit refuses exactly the start-dependent ones. */
        mmk_pattern *p = NULL;
        mmk_pattern_error e;
        int rc = mmk_pattern_compile(&p, cases[i].pat, strlen(cases[i].pat), 0, &e);
        CHECK_RC(rc, cases[i].depends ? MMK_EPATTERN : 0);
        if (rc == MMK_EPATTERN) {
            CHECK(strstr(e.message, "not supported") != NULL);
            CHECK(e.offset >= 0 && (size_t)e.offset < strlen(cases[i].pat));
        }
        mmk_pattern_free(p);
    }
    /* (*THEN) is start-independent except where PCRE2 anchors a leading .* to
       line starts (it does not turn that off for (*THEN) as it does for
       (*PRUNE)); mmkit compiles patterns with verbs without that shortcut. */
    CHECK_EQ(start_dependence(".*?(*THEN)c", 0, 400), 1);
    CHECK_EQ(start_dependence(".*?(*THEN)c", PCRE2_NO_DOTSTAR_ANCHOR, 400), 0);
    CHECK_EQ(start_dependence("(?:.*?(*THEN)c|.*b)", PCRE2_NO_DOTSTAR_ANCHOR, 400), 0);
    CHECK_EQ(start_dependence(".*?(*PRUNE)c", 0, 400), 0);
    mmk_pattern *p = NULL;
    CHECK_OK(mmk_pattern_compile(&p, ".*?(*THEN)c", 11, 0, NULL));
    mmk_input in = mmk_input_bytes("abc\nc", 5);
    for (uint64_t chunk = 1; chunk <= 6; chunk++) {
        mmk_scan_options o = {0};
        o.chunk_size = chunk;
        uint64_t n = 0;
        CHECK_OK(mmk_count(p, &in, &o, &n));
        CHECK_EQ(n, 2);
    }
    mmk_pattern_free(p);
}

/* ------------------------------------------------------------------------ */
/* Refusals however the construct is written                                 */
/* ------------------------------------------------------------------------ */

static void test_refusals(void) {
    static const struct {
        const char *pat;
        int64_t offset; /* -1: accepted */
        const char *why;
    } cases[] = {
        /* The reported one: an extended-mode comment hid (*COMMIT) from a text scan. */
        {"(*NO_START_OPT)(?x)#[\n(*COMMIT)b", 22, "(*COMMIT)"},
        {"(?x)a # [\n \\K b", 11, "\\K"},
        {"(?x) ( a (*SKIP) ) b", 9, "(*SKIP)"},
        {"a(?#[)\\G", 6, "\\G"},
        {"(?(DEFINE)(?<c>(*COMMIT)))b(?&c)", 15, "(*COMMIT)"},
        {"(?=a(*COMMIT))a", 4, "(*COMMIT)"},
        {"a(*COMMIT:n)b", 1, "(*COMMIT)"},
        {"(*SKIP:n)b", 0, "(*SKIP)"},
        {"(*LIMIT_MATCH=9)(*NOTEMPTY_ATSTART)a?", 16, "(*NOTEMPTY_ATSTART)"},
        {"(?i)x\\Ky", 5, "\\K"},
        /* Not items: quoted, class members, comments. */
        {"\\Q(*COMMIT)\\K\\G\\E", -1, NULL},
        {"[(*SKIP)K]", -1, NULL},
        {"a(?#(*COMMIT\\K)b", -1, NULL},
        {"(?x)a # (*COMMIT) \\K \\G\nb", -1, NULL},
        {"\\\\K", -1, NULL},
        {"(*MARK:COMMIT)a", -1, NULL},
        {"(*LIMIT_MATCH=100000)a+b", -1, NULL},
        {"(*LIMIT_DEPTH=1000)(*LIMIT_HEAP=1000)(*NO_START_OPT)^ab", -1, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (unsigned flags = 0; flags <= MMK_PAT_LINES; flags += MMK_PAT_LINES) {
            mmk_pattern *p = NULL;
            mmk_pattern_error e;
            int rc = mmk_pattern_compile(&p, cases[i].pat, strlen(cases[i].pat),
                                         flags | (i & 1 ? MMK_PAT_WORD : 0), &e);
            if (cases[i].offset < 0) {
                if (rc != 0)
                    fprintf(stderr, "/%s/ refused: %s\n", cases[i].pat, e.message);
                CHECK_RC(rc, 0);
            } else {
                CHECK_RC(rc, MMK_EPATTERN);
                CHECK_EQ(e.offset, cases[i].offset);
                if (rc == MMK_EPATTERN && !strstr(e.message, cases[i].why)) {
                    fprintf(stderr, "/%s/: message '%s'\n", cases[i].pat, e.message);
                    CHECK(0);
                }
            }
            mmk_pattern_free(p);
        }
    }
    /* The reported pattern is refused, so no chunk size can count it wrongly. */
    const char *pat = "(*NO_START_OPT)(?x)#[\n(*COMMIT)b";
    mmk_pattern *p = NULL;
    CHECK_RC(mmk_pattern_compile(&p, pat, strlen(pat), 0, NULL), MMK_EPATTERN);
    /* Leading limits keep working, also under MMK_PAT_LINES. */
    pat = "(*LIMIT_MATCH=100000)b";
    for (unsigned flags = 0; flags <= MMK_PAT_LINES; flags += MMK_PAT_LINES) {
        CHECK_OK(mmk_pattern_compile(&p, pat, strlen(pat), flags, NULL));
        mmk_input in = mmk_input_bytes("abab\nbb b", 9);
        uint64_t n = 0;
        CHECK_OK(mmk_count(p, &in, NULL, &n));
        CHECK_EQ(n, 5);
        mmk_pattern_free(p);
    }
}

/* ------------------------------------------------------------------------ */
/* Random patterns, tiny chunks                                              */
/* ------------------------------------------------------------------------ */

static uint64_t sequential(const mmk_pattern *p, const uint8_t *s, size_t len, int *err) {
    mmk__scratch *sc = mmk__scratch_new(p);
    uint64_t n = 0;
    size_t pos = 0;
    int ne = 0;
    *err = 0;
    while (pos <= len) {
        size_t ms, me;
        int rc = mmk__find(p, sc, s, len, pos, len + 1, ne, &ms, &me);
        if (rc < 0)
            *err = rc;
        if (rc <= 0)
            break;
        n++;
        ne = me == ms;
        pos = me;
    }
    mmk__scratch_free(sc);
    return n;
}

static void put(char *b, size_t *n, size_t cap, const char *s) {
    size_t l = strlen(s);
    if (*n + l < cap) {
        memcpy(b + *n, s, l);
        *n += l;
        b[*n] = 0;
    }
}

/* A stream of small reads (1-7 bytes each), for the partial-matching path. */
typedef struct dribble {
    const uint8_t *s;
    size_t len, at;
} dribble;

static int64_t dribble_read(void *user, void *buf, size_t n) {
    dribble *d = user;
    size_t k = 1 + (size_t)check_rnd_below(7);
    if (k > n)
        k = n;
    if (k > d->len - d->at)
        k = d->len - d->at;
    memcpy(buf, d->s + d->at, k);
    d->at += k;
    return (int64_t)k;
}

static void test_random_chunks(void) {
    static const char *const atoms[] = {"a",
                                        "b",
                                        "ab",
                                        "[ab]",
                                        "[^a]",
                                        "\\w",
                                        ".",
                                        "\\s",
                                        "(?:a|b)",
                                        "(a|ab)",
                                        "(*PRUNE)",
                                        "(*THEN)",
                                        "(*ACCEPT)",
                                        "(*FAIL)",
                                        "(*MARK:m)",
                                        "(*COMMIT)",
                                        "(*SKIP)",
                                        "\\K",
                                        "\\G",
                                        "(?#(*COMMIT))",
                                        "\\Q(*SKIP)\\E",
                                        "[(*COMMIT)]",
                                        "\\Q\\K\\E",
                                        "(?=a)",
                                        "(?<=b)",
                                        "(?>a|ab)",
                                        "\\b",
                                        "^",
                                        "$",
                                        "\\1",
                                        " ",
                                        "#x\n",
                                        "(?x)",
                                        "(?-x)",
                                        "\\\\",
                                        "(?:a(*THEN)b|a)"};
    static const char *const quants[] = {"", "", "", "*", "+", "?", "*?", "+?", "{0,2}", "*+"};
    static const uint64_t chunks[] = {1, 2, 3, 5, 8, 64, 4096};
    static const char alpha[] = "aab b_\n";
    unsigned long counted = 0, refused = 0, compared = 0;
    /* Quick mode (under wine, where each scan's threads start slowly): fewer. */
    int rounds = check_quick() ? 150 : 1200;
    for (int round = 0; round < rounds; round++) {
        char pat[256];
        size_t n = 0;
        pat[0] = 0;
        if (check_rnd_below(4) == 0)
            put(pat, &n, sizeof pat,
                check_rnd_below(2) ? "(*NO_START_OPT)" : "(*LIMIT_MATCH=100000)");
        size_t natoms = 1 + check_rnd_below(5);
        for (size_t k = 0; k < natoms; k++) {
            put(pat, &n, sizeof pat, atoms[check_rnd_below(sizeof atoms / sizeof atoms[0])]);
            put(pat, &n, sizeof pat, quants[check_rnd_below(sizeof quants / sizeof quants[0])]);
            if (check_rnd_below(8) == 0)
                put(pat, &n, sizeof pat, "|");
        }
        mmk_pattern *p = NULL;
        mmk_pattern_error e;
        unsigned flags = check_rnd_below(3) == 0 ? MMK_PAT_WORD : 0;
        int rc = mmk_pattern_compile(&p, pat, n, flags, &e);
        if (rc != 0) {
            CHECK_RC(rc, MMK_EPATTERN);
            CHECK(e.message[0] != 0);
            refused++;
            continue;
        }
        uint8_t text[300];
        size_t len = 50 + check_rnd_below(sizeof text - 50);
        for (size_t i = 0; i < len; i++)
            text[i] = (uint8_t)alpha[check_rnd_below(sizeof alpha - 1)];
        int err;
        uint64_t want = sequential(p, text, len, &err);
        if (err) {
            CHECK_RC(err, MMK_ELIMIT);
            mmk_pattern_free(p);
            continue;
        }
        counted++;
        int bad = 0;
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0] && !bad; c++) {
            for (unsigned th = 1; th <= 3 && !bad; th++) {
                mmk_scan_options o = {0};
                o.chunk_size = chunks[c];
                o.threads = th;
                mmk_input in = mmk_input_bytes(text, len);
                uint64_t got = 0;
                int r = mmk_count(p, &in, &o, &got);
                compared++;
                if (r != 0 || got != want) {
                    fprintf(stderr,
                            "/%s/ flags %u chunk %llu threads %u: %d, count %llu, "
                            "sequential %llu\n",
                            pat, flags, (unsigned long long)chunks[c], th, r,
                            (unsigned long long)got, (unsigned long long)want);
                    bad = 1;
                }
            }
        }
        /* The same text as a file read with pread, each chunk holding 1-3
           bytes past its end to start with (partial matching reads on), and
           as a stream of small reads (partial matching over the stream). */
        for (int v = 0; v < 4 && !bad; v++) {
            mmk_scan_options o = {0};
            o.chunk_size = chunks[check_rnd_below(4)];
            o.threads = 1 + (unsigned)v % 2;
            uint64_t got = 0;
            int r;
            if (v < 3) {
                ts_input t;
                CHECK_EQ(ts_input_open(&t, TS_FD_READ, text, len), 0);
                o.io = t.io;
                mmk__scan_grow_first = 1 + (uint64_t)v;
                r = mmk_count(p, &t.in, &o, &got);
                mmk__scan_grow_first = 0;
                ts_input_close(&t);
            } else {
                dribble d = {text, len, 0};
                mmk_input in = mmk_input_reader(dribble_read, &d);
                r = mmk_count(p, &in, &o, &got);
            }
            compared++;
            if (r != 0 || got != want) {
                fprintf(stderr, "/%s/ flags %u %s chunk %llu: %d, count %llu, sequential %llu\n",
                        pat, flags, v < 3 ? "pread" : "stream", (unsigned long long)o.chunk_size, r,
                        (unsigned long long)got, (unsigned long long)want);
                bad = 1;
            }
        }
        CHECK(!bad);
        mmk_pattern_free(p);
    }
    CHECK(counted * 4 > (unsigned long)rounds && refused * 6 > (unsigned long)rounds);
    printf("random chunked counts: %lu patterns counted (%lu scans compared), %lu refused\n",
           counted, compared, refused);
}

int main(void) {
    check_rng = 0xC0FFEE1234567ull * 0x9E3779B97F4A7C15ull; /* this test's own sequence */
    if (getenv("MMK_TEST_SEED"))
        check_rng ^= strtoull(getenv("MMK_TEST_SEED"), NULL, 0) * 0x9E3779B97F4A7C15ull | 1;
    test_which_constructs();
    test_refusals();
    test_random_chunks();
    return CHECK_DONE();
}
