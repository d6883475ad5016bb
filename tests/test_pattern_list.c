/*
 * test_pattern_list.c — pattern lists (grep -e P1 -e P2, -f FILE), whole-line
 * matching (MMK_PAT_LINE_EXACT, grep -x) and capture groups:
 * - a list against its patterns compiled alone (at each place the leftmost
 *   match of any, the first listed winning a tie), on random lists and text,
 *   over every input kind, tiny chunks and 1..3 threads;
 * - -x against PCRE2's own anchoring (PCRE2_ANCHORED | PCRE2_ENDANCHORED on
 *   each line) and literal comparison;
 * - GNU grep 3.8 (`grep -P 'A|B'`, -x, -w, -i, `grep -F -f`) on generated log
 *   text: selected lines and -o output;
 * - every failure path: n == 0, bad arguments, a bad pattern in the middle
 *   (err->index and the pattern's own offset), refused references and
 *   leading options.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "pattern.h"
#include "test_scan_util.h"

static int compile_list(mmk_pattern **p, const char *const *pats, size_t n, unsigned flags,
                        mmk_pattern_error *err) {
    size_t lens[64];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(pats[i]);
    return mmk_pattern_compile_list(p, (const void *const *)pats, lens, n, flags, err);
}

/* The non-empty match spans of a pattern over bytes, as "a-b," text. */
typedef struct span_text {
    char *s;
    size_t n, cap;
    const uint8_t *data;
    int bytes; /* append the matched bytes instead of offsets */
    int skip_empty;
} span_text;

static int span_cb(uint64_t a, uint64_t b, void *user) {
    span_text *t = user;
    if (t->skip_empty && a == b)
        return 0;
    size_t need = t->bytes ? (size_t)(b - a) + 1 : 48;
    if (t->n + need + 1 > t->cap) {
        t->cap = (t->n + need + 1) * 2;
        t->s = realloc(t->s, t->cap);
    }
    if (t->bytes) {
        memcpy(t->s + t->n, t->data + a, (size_t)(b - a));
        t->n += (size_t)(b - a);
        t->s[t->n++] = '\n';
    } else {
        t->n += (size_t)snprintf(t->s + t->n, t->cap - t->n, "%llu-%llu,", (unsigned long long)a,
                                 (unsigned long long)b);
    }
    t->s[t->n] = 0;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Failure paths                                                             */
/* ------------------------------------------------------------------------ */

static void test_errors(void) {
    mmk_pattern *p = (mmk_pattern *)&p;
    mmk_pattern_error err;
    const char *one[] = {"a"};
    size_t len1 = 1;
    CHECK_RC(mmk_pattern_compile_list(&p, (const void *const *)one, &len1, 0, 0, &err), -EINVAL);
    CHECK(p == NULL);
    CHECK_RC(mmk_pattern_compile_list(NULL, (const void *const *)one, &len1, 1, 0, &err), -EINVAL);
    CHECK_RC(mmk_pattern_compile_list(&p, NULL, &len1, 1, 0, &err), -EINVAL);
    CHECK_RC(mmk_pattern_compile_list(&p, (const void *const *)one, NULL, 1, 0, &err), -EINVAL);
    const void *nullpat[] = {"a", NULL};
    size_t nl_lens[] = {1, 3};
    CHECK_RC(mmk_pattern_compile_list(&p, nullpat, nl_lens, 2, 0, &err), -EINVAL);
    nl_lens[1] = 0; /* NULL with length 0 is the empty pattern */
    CHECK_OK(mmk_pattern_compile_list(&p, nullpat, nl_lens, 2, 0, &err));
    mmk_pattern_free(p);
    CHECK_RC(compile_list(&p, one, 1, 1u << 9, &err), -EINVAL);
    /* -x needs line semantics, alone and in a list */
    CHECK_RC(compile_list(&p, one, 1, MMK_PAT_LINE_EXACT, &err), -EINVAL);
    CHECK_RC(mmk_pattern_compile(&p, "a", 1, MMK_PAT_LINE_EXACT, &err), -EINVAL);
    const char *two[] = {"a", "b"};
    CHECK_RC(compile_list(&p, two, 2, MMK_PAT_LINE_EXACT | MMK_PAT_FIXED, &err), -EINVAL);

    /* A bad pattern in the middle: its index, and the offset and reason it
       has alone. */
    static const char *const bad[] = {"a(b",    "x[a-", "(?<n>",     "ab\\",
                                      "a{2,1}", "\\Kx", "x(*COMMIT)"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        for (size_t at = 0; at < 3; at++) {
            const char *pats[3] = {"abc", "(d)e", "f|g"};
            pats[at] = bad[k];
            mmk_pattern_error alone, e;
            memset(&e, 0x55, sizeof e);
            CHECK_RC(mmk_pattern_compile(&p, bad[k], strlen(bad[k]), MMK_PAT_LINES, &alone),
                     MMK_EPATTERN);
            CHECK_EQ(alone.index, 0);
            p = (mmk_pattern *)&p;
            CHECK_RC(compile_list(&p, pats, 3, MMK_PAT_LINES, &e), MMK_EPATTERN);
            CHECK(p == NULL);
            CHECK_EQ(e.index, at);
            CHECK_EQ(e.offset, alone.offset);
            CHECK(strcmp(e.message, alone.message) == 0);
            CHECK(e.message[0] != 0);
        }
    }
    /* err may be NULL */
    const char *badlist[] = {"a", "("};
    CHECK_RC(compile_list(&p, badlist, 2, 0, NULL), MMK_EPATTERN);

    /* Numbered references after a pattern with groups would name another
       pattern's group: refused at the reference, with a hint. */
    static const struct {
        const char *first, *second;
        int ok;
        int64_t offset;
    } refs[] = {
        {"(a)", "(b)\\1", 0, 3},
        {"(a)", "(x)\\g{1}", 0, 3},
        {"(a)", "(b)(?1)", 0, 3},
        {"(a)", "(b)(?(1)c|d)", 0, 3},
        {"(a)", "(b)\\g{-1}", 1, -1},
        {"(a)", "(?<n>b)\\k<n>", 1, -1},
        {"(a)\\1", "b", 1, -1},
        {"a", "(b)\\1", 1, -1},
        {"(a)", "(?R)", 0, 0},
        {"a(?R)?", "b", 0, 1},
        {"(a)", "\\0", 1, -1},
        {"(a)", "[\\1]", 1, -1},
        {"(a)", "(?:b)\\g{+1}(c)", 1, -1},
    };
    for (size_t k = 0; k < sizeof refs / sizeof refs[0]; k++) {
        const char *pats[] = {refs[k].first, refs[k].second};
        int rc = compile_list(&p, pats, 2, MMK_PAT_LINES, &err);
        if (refs[k].ok) {
            CHECK_OK(rc);
            mmk_pattern_free(p);
        } else {
            CHECK_RC(rc, MMK_EPATTERN);
            CHECK_EQ(err.offset, refs[k].offset);
            CHECK_EQ(err.index, refs[k].first[0] == 'a' && refs[k].first[1] == '(' ? 0 : 1);
        }
    }

    /* Leading options: limits and (*NO_...) switches are hoisted; the others
       must agree across the list. */
    const char *lim[] = {"(*LIMIT_MATCH=100)a", "(*LIMIT_MATCH=5000)(*NO_JIT)b", "c"};
    CHECK_OK(compile_list(&p, lim, 3, MMK_PAT_LINES, &err));
    mmk_pattern_free(p);
    const char *same[] = {"(*LF)a", "(*LF)b"};
    CHECK_OK(compile_list(&p, same, 2, MMK_PAT_LINES, &err));
    mmk_pattern_free(p);
    const char *differ[] = {"(*LF)a", "b", "(*CR)c"};
    CHECK_RC(compile_list(&p, differ, 3, MMK_PAT_LINES, &err), MMK_EPATTERN);
    CHECK_EQ(err.index, 1);
    const char *ne[] = {"a", "(*NOTEMPTY)b"};
    CHECK_RC(compile_list(&p, ne, 2, MMK_PAT_LINES, &err), MMK_EPATTERN);
    CHECK_EQ(err.index, 1);
    const char *utf[] = {"a", "(*UTF)b"};
    CHECK_RC(compile_list(&p, utf, 2, MMK_PAT_LINES, &err), MMK_EPATTERN);
    CHECK_EQ(err.index, 1);

    /* groups and names of every shape */
    CHECK_RC(mmk_pattern_groups(NULL), -EINVAL);
    CHECK_RC(mmk_pattern_group_number(NULL, "x"), -EINVAL);
    CHECK_OK(mmk_pattern_compile(&p, "abc", 3, MMK_PAT_LINES, &err));
    CHECK_EQ(mmk_pattern_groups(p), 0);
    CHECK_RC(mmk_pattern_group_number(p, "abc"), MMK_EPATTERN);
    mmk_pattern_free(p);
}

/* ------------------------------------------------------------------------ */
/* Hand-checked semantics                                                    */
/* ------------------------------------------------------------------------ */

static void check_spans(const char *const *pats, size_t n, unsigned flags, const char *text,
                        const char *want) {
    mmk_pattern *p = NULL;
    mmk_pattern_error err;
    int rc = compile_list(&p, pats, n, flags, &err);
    CHECK_OK(rc);
    if (rc) {
        fprintf(stderr, "  %s (pattern %lld at %lld)\n", err.message, (long long)err.index,
                (long long)err.offset);
        return;
    }
    span_text st = {0};
    st.data = (const uint8_t *)text;
    st.bytes = 1;
    mmk_input in = mmk_input_bytes(text, strlen(text));
    CHECK_OK(mmk_matches(p, &in, NULL, span_cb, &st));
    int same = strcmp(st.s ? st.s : "", want) == 0;
    if (!same)
        fprintf(stderr, "  list starting %s on \"%s\": got \"%s\", want \"%s\"\n", pats[0], text,
                st.s ? st.s : "", want);
    CHECK(same);
    free(st.s);
    mmk_pattern_free(p);
}

static void test_semantics(void) {
    const char *icase_scope[] = {"(?i)abc", "def"};
    check_spans(icase_scope, 2, MMK_PAT_LINES, "ABC DEF def\n", "ABC\ndef\n");
    const char *comment[] = {"(?x) a # comment", "b"};
    check_spans(comment, 2, MMK_PAT_LINES, "xab\n", "a\nb\n");
    const char *quote[] = {"\\Qa(", "b"};
    check_spans(quote, 2, MMK_PAT_LINES, "a(b\n", "a(\nb\n");
    const char *tie[] = {"a", "ab"};
    check_spans(tie, 2, MMK_PAT_LINES, "ab\n", "a\n");
    const char *tie2[] = {"ab", "a"};
    check_spans(tie2, 2, MMK_PAT_LINES, "ab a\n", "ab\na\n");
    const char *fixed[] = {"a.c", "x+", "(", ""};
    check_spans(fixed, 3, MMK_PAT_LINES | MMK_PAT_FIXED, "abc a.c x+ xx (\n", "a.c\nx+\n(\n");
    const char *nul[] = {"a\0b", "\n"};
    {
        const void *pp[] = {nul[0], nul[1]};
        size_t lens[] = {3, 1};
        mmk_pattern *p = NULL;
        CHECK_OK(mmk_pattern_compile_list(&p, pp, lens, 2, MMK_PAT_FIXED, NULL));
        uint64_t c = 0;
        mmk_input in = mmk_input_bytes("xa\0b\nab\n", 8);
        CHECK_OK(mmk_count(p, &in, NULL, &c));
        CHECK_EQ(c, 3);
        mmk_pattern_free(p);
    }
    const char *exact[] = {"foo", "bar baz"};
    check_spans(exact, 2, MMK_PAT_LINES | MMK_PAT_LINE_EXACT, "foo\nfoox\nbar baz\n xfoo\n",
                "foo\nbar baz\n");
    const char *exact_w[] = {"fo+", "-a"};
    check_spans(exact_w, 2, MMK_PAT_LINES | MMK_PAT_LINE_EXACT | MMK_PAT_WORD, "foo\nfoox\n-a\n",
                "foo\n-a\n");
    const char *exact_fi[] = {"FOO"};
    check_spans(exact_fi, 1, MMK_PAT_LINES | MMK_PAT_LINE_EXACT | MMK_PAT_FIXED | MMK_PAT_ICASE,
                "foo\nfoox\nFoO", "foo\nFoO\n");
    const char *exact_fl[] = {"a.b", "c"};
    check_spans(exact_fl, 2, MMK_PAT_LINES | MMK_PAT_LINE_EXACT | MMK_PAT_FIXED,
                "a.b\naxb\nc\ncc\n", "a.b\nc\n");
    const char *word[] = {"ab", "c+"};
    check_spans(word, 2, MMK_PAT_LINES | MMK_PAT_WORD, "ab abc ccc xc c\n", "ab\nccc\nc\n");
    const char *opts[] = {"(*LIMIT_MATCH=100000)a+", "(*NO_START_OPT)b"};
    check_spans(opts, 2, MMK_PAT_LINES, "aab\n", "aa\nb\n");

    mmk_pattern *p = NULL;
    mmk_input in;

    /* A hoisted limit applies to the whole list. */
    const char *lim[] = {"x", "(*LIMIT_MATCH=2000)(a+)+$"};
    CHECK_OK(compile_list(&p, lim, 2, MMK_PAT_LINES, NULL));
    static uint8_t s[3000];
    memset(s, 'a', sizeof s - 2);
    s[sizeof s - 2] = 'b';
    s[sizeof s - 1] = '\n';
    in = mmk_input_bytes(s, sizeof s);
    uint64_t c = 0;
    CHECK_RC(mmk_count(p, &in, NULL, &c), MMK_ELIMIT);
    mmk_pattern_free(p);

    /* Groups number across the list; one name in several patterns is
       allowed, and names its first group. */
    const char *named[] = {"(?<ip>\\d+)(x)?", "(?<user>\\w+)", "(?<ip>[a-f:]+)"};
    CHECK_OK(compile_list(&p, named, 3, MMK_PAT_LINES, NULL));
    CHECK_EQ(mmk_pattern_groups(p), 4);
    CHECK_EQ(mmk_pattern_group_number(p, "ip"), 1);
    CHECK_EQ(mmk_pattern_group_number(p, "user"), 3);
    CHECK_RC(mmk_pattern_group_number(p, "nope"), MMK_EPATTERN);
    mmk_pattern_free(p);
    const char *fx[] = {"(a)", "(b)"};
    CHECK_OK(compile_list(&p, fx, 2, MMK_PAT_FIXED, NULL));
    CHECK_EQ(mmk_pattern_groups(p), 0); /* literals have no groups */
    mmk_pattern_free(p);
    CHECK_OK(mmk_pattern_compile(&p, "(a)(?:b)(c(d))", 14, 0, NULL));
    CHECK_EQ(mmk_pattern_groups(p), 3);
    mmk_pattern_free(p);
    CHECK_OK(mmk_pattern_compile(&p, "(a)(?:b)(c(d))", 14,
                                 MMK_PAT_WORD | MMK_PAT_LINES | MMK_PAT_LINE_EXACT, NULL));
    CHECK_EQ(mmk_pattern_groups(p), 3); /* the -w / -x wrappers add none */
    mmk_pattern_free(p);
}

/* mmk_match_lines with a NULL callback is refused; count selected lines
   with a callback instead. */
static int count_line(const char *line, size_t len, uint64_t no, uint64_t off, uint64_t m,
                      void *user) {
    (void)line, (void)len, (void)no, (void)off, (void)m;
    ++*(uint64_t *)user;
    return 0;
}

static void test_empty_selects_all(void) {
    const char *empty[] = {"zzz", ""};
    mmk_pattern *p = NULL;
    CHECK_OK(compile_list(&p, empty, 2, MMK_PAT_LINES, NULL));
    static const char text[] = "a\n\nzzz\nb";
    mmk_input in = mmk_input_bytes(text, sizeof text - 1);
    uint64_t sel = 0, reported = 0;
    CHECK_OK(mmk_match_lines(p, &in, NULL, count_line, &reported, &sel));
    CHECK_EQ(sel, 4);
    CHECK_EQ(reported, 4);
    mmk_pattern_free(p);
    const char *empty_f[] = {"", "q"};
    CHECK_OK(compile_list(&p, empty_f, 2, MMK_PAT_LINES | MMK_PAT_FIXED, NULL));
    sel = 0;
    CHECK_OK(mmk_match_lines(p, &in, NULL, count_line, &reported, &sel));
    CHECK_EQ(sel, 4);
    mmk_pattern_free(p);
}

/* ------------------------------------------------------------------------ */
/* Random lists against their patterns alone                                 */
/* ------------------------------------------------------------------------ */

static const char *const atoms[] = {"a",      "b",       "ab",    "a+",   "b*",       "[ab]",
                                    "\\w+",   "x?",      "(a|b)", "\\bb", "a$",       "^b",
                                    ".",      "(?i)A",   "\\d",   "c{2}", "(?:ab|a)", "[^a ]",
                                    "a(?=b)", "(?<=a)b", "",      "\\s",  "(?>a+)b",  "a*?"};
#define NATOMS (sizeof atoms / sizeof atoms[0])

/* The reference: each pattern alone, per line, Python's rules; at each step
   the leftmost match of any, the first listed winning a tie. */
static char *reference_spans(mmk_pattern **alone, mmk__scratch **sc, size_t n, const uint8_t *d,
                             size_t len) {
    span_text st = {0};
    st.data = d;
    st.s = calloc(1, 1);
    st.cap = 1;
    for (size_t x = 0; x < len;) {
        const uint8_t *q = memchr(d + x, '\n', len - x);
        size_t y = q ? (size_t)(q - d) : len, ll = y - x, pos = 0;
        int ne = 0;
        for (;;) {
            size_t ba = SIZE_MAX, bb = 0;
            for (size_t i = 0; i < n; i++) {
                size_t a, b;
                if (mmk__find(alone[i], sc[i], d + x, ll, pos, ll + 1, ne, &a, &b) == 1 && a < ba) {
                    ba = a;
                    bb = b;
                }
            }
            if (ba == SIZE_MAX)
                break;
            span_cb(x + ba, x + bb, &st);
            ne = ba == bb;
            pos = bb;
            if (pos > ll || (pos == ll && ne))
                break;
        }
        x = y + 1;
    }
    return st.s;
}

static void test_random_lists(void) {
    static uint8_t text[700];
    static const char alpha[] = "aabbc x1\n";
    check_rng = 0x1157;
    unsigned rounds = TS_ROUNDS(400);
    for (unsigned r = 0; r < rounds; r++) {
        size_t n = 2 + check_rnd_below(3);
        char bufs[4][64];
        const char *pats[4];
        int fixed = check_rnd_below(4) == 0;
        for (size_t i = 0; i < n; i++) {
            if (fixed) {
                size_t k = check_rnd_below(4);
                for (size_t q = 0; q < k; q++)
                    bufs[i][q] = "ab.( \\x"[check_rnd_below(7)];
                bufs[i][k] = 0;
            } else {
                snprintf(bufs[i], sizeof bufs[i], "%s%s", atoms[check_rnd_below(NATOMS)],
                         atoms[check_rnd_below(NATOMS)]);
            }
            pats[i] = bufs[i];
        }
        unsigned flags = MMK_PAT_LINES | (fixed ? MMK_PAT_FIXED : 0) |
                         (check_rnd_below(4) == 0 ? MMK_PAT_ICASE : 0) |
                         (check_rnd_below(4) == 0 ? MMK_PAT_WORD : 0);
        size_t len = check_rnd_below(sizeof text);
        for (size_t i = 0; i < len; i++)
            text[i] = (uint8_t)alpha[check_rnd_below(sizeof alpha - 1)];
        mmk_pattern *alone[4] = {0}, *list = NULL;
        mmk__scratch *sc[4] = {0};
        int ok = 1;
        for (size_t i = 0; i < n; i++) {
            CHECK_OK(mmk_pattern_compile(&alone[i], pats[i], strlen(pats[i]), flags, NULL));
            ok &= alone[i] != NULL;
            if (alone[i])
                sc[i] = mmk__scratch_new(alone[i]);
        }
        CHECK_OK(compile_list(&list, pats, n, flags, NULL));
        if (ok && list) {
            char *want = reference_spans(alone, sc, n, text, len);
            ts_input ti;
            int kind = (int)check_rnd_below(TS_NKINDS);
            CHECK_OK(ts_input_open(&ti, kind, text, len));
            mmk_scan_options o = {0};
            o.chunk_size = 1 + check_rnd_below(8);
            o.threads = 1 + (unsigned)check_rnd_below(3);
            o.io = ti.io;
            span_text got = {0};
            got.s = calloc(1, 1);
            CHECK_OK(mmk_matches(list, &ti.in, &o, span_cb, &got));
            ts_input_close(&ti);
            int same = strcmp(got.s, want) == 0;
            if (!same)
                fprintf(stderr, "  list %s | %s%s%s (flags %u, %s): got %s want %s\n", pats[0],
                        pats[1], n > 2 ? " | " : "", n > 2 ? pats[2] : "", flags,
                        ts_kind_names[kind], got.s, want);
            CHECK(same);
            free(got.s);
            free(want);
        }
        for (size_t i = 0; i < n; i++) {
            mmk__scratch_free(sc[i]);
            mmk_pattern_free(alone[i]);
        }
        mmk_pattern_free(list);
    }
}

/* ------------------------------------------------------------------------ */
/* Literal lists: the multi-literal matcher against its naive reference and  */
/* against the same list as one PCRE2 alternation                            */
/* ------------------------------------------------------------------------ */

static void test_multi_literals(void) {
    static uint8_t text[500];
    static const char alpha[] = "aAb _x\n";
    check_rng = 0x3317;
    unsigned rounds = TS_ROUNDS(500);
    for (unsigned r = 0; r < rounds; r++) {
        size_t n = 2 + check_rnd_below(5);
        char bufs[6][8];
        const void *pats[6];
        size_t lens[6];
        for (size_t i = 0; i < n; i++) {
            size_t k = check_rnd_below(r % 3 == 0 ? 4 : 6);
            if (k == 0 && check_rnd_below(3))
                k = 1 + check_rnd_below(3); /* empty literals now and then */
            for (size_t q = 0; q < k; q++)
                bufs[i][q] = alpha[check_rnd_below(sizeof alpha - 1)];
            pats[i] = bufs[i];
            lens[i] = k;
        }
        unsigned flags = MMK_PAT_FIXED | (check_rnd_below(3) == 0 ? MMK_PAT_ICASE : 0) |
                         (check_rnd_below(3) == 0 ? MMK_PAT_WORD : 0) |
                         (check_rnd_below(2) ? MMK_PAT_LINES : 0);
        if ((flags & MMK_PAT_LINES) && check_rnd_below(3) == 0)
            flags |= MMK_PAT_LINE_EXACT;
        size_t len = check_rnd_below(sizeof text);
        for (size_t i = 0; i < len; i++)
            text[i] = (uint8_t)alpha[check_rnd_below(sizeof alpha - 1)];
        mmk_pattern *multi = NULL, *rx = NULL;
        CHECK_OK(mmk_pattern_compile_list(&multi, pats, lens, n, flags, NULL));
        CHECK_OK(mmk__pattern_compile_list_regex(&rx, pats, lens, n, flags, NULL));
        if (!multi || !rx) {
            mmk_pattern_free(multi);
            mmk_pattern_free(rx);
            continue;
        }
        CHECK_EQ(multi->kind, MMK__PAT_MULTI);
        /* the matcher against the naive walk, from every start */
        for (size_t pos = 0; pos <= len; pos++) {
            int ne = (int)check_rnd_below(2);
            size_t limit = pos + 1 + check_rnd_below(len + 2 - pos);
            size_t a1 = 0, b1 = 0, a2 = 0, b2 = 0;
            int f1 = mmk__find(multi, NULL, text, len, pos, limit, ne, &a1, &b1);
            int f2 = mmk__multi_find_naive(&multi->multi, text, len, pos, limit, ne, &a2, &b2);
            CHECK_EQ(f1, f2);
            if (f1 == 1 && f2 == 1 && (a1 != a2 || b1 != b2)) {
                fprintf(stderr, "  multi at %zu: %zu-%zu, naive %zu-%zu\n", pos, a1, b1, a2, b2);
                CHECK(0);
            }
        }
        /* whole scans against the PCRE2 alternation, every input kind */
        int kind = (int)check_rnd_below(TS_NKINDS);
        span_text got = {0}, want = {0};
        got.s = calloc(1, 1);
        want.s = calloc(1, 1);
        ts_input ti;
        mmk_scan_options o = {0};
        CHECK_OK(ts_input_open(&ti, kind, text, len));
        o.chunk_size = 1 + check_rnd_below(8);
        o.threads = 1 + (unsigned)check_rnd_below(3);
        o.io = ti.io;
        CHECK_OK(mmk_matches(multi, &ti.in, &o, span_cb, &got));
        ts_input_close(&ti);
        mmk_input in = mmk_input_bytes(text, len);
        CHECK_OK(mmk_matches(rx, &in, NULL, span_cb, &want));
        int same = strcmp(got.s, want.s) == 0;
        if (!same)
            fprintf(stderr, "  literal list of %zu (flags %u, %s): got %s want %s\n", n, flags,
                    ts_kind_names[kind], got.s, want.s);
        CHECK(same);
        uint64_t c1 = 0, c2 = 0;
        CHECK_OK(ts_input_open(&ti, kind, text, len));
        o.io = ti.io;
        CHECK_OK(mmk_count(multi, &ti.in, &o, &c1));
        ts_input_close(&ti);
        CHECK_OK(mmk_count(rx, &in, NULL, &c2));
        CHECK_EQ(c1, c2);
        free(got.s);
        free(want.s);
        mmk_pattern_free(multi);
        mmk_pattern_free(rx);
    }
    /* A long list: thousands of literals, one bucket per few. */
    size_t n = 20000;
    char **lits = malloc(n * sizeof *lits);
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        lits[i] = malloc(32);
        lens[i] = (size_t)snprintf(lits[i], 32, "/api/v1/users/%zu/", i * 7);
    }
    mmk_pattern *p = NULL;
    CHECK_OK(mmk_pattern_compile_list(&p, (const void *const *)lits, lens, n,
                                      MMK_PAT_FIXED | MMK_PAT_LINES, NULL));
    static const char text2[] = "GET /api/v1/users/14/ x\nGET /api/v1/users/15/\n/api/v1/users/"
                                "139993/ /api/v1/users/139994/\n";
    mmk_input in = mmk_input_bytes(text2, sizeof text2 - 1);
    uint64_t c = 0;
    CHECK_OK(mmk_count(p, &in, NULL, &c));
    CHECK_EQ(c, 2); /* 14 = 2 * 7 and 139993 = 19999 * 7 */
    mmk_pattern_free(p);
    for (size_t i = 0; i < n; i++)
        free(lits[i]);
    free(lits);
    free(lens);
}

/* ------------------------------------------------------------------------ */
/* -x against PCRE2's own anchoring                                          */
/* ------------------------------------------------------------------------ */

static int ascii_fold_eq(const uint8_t *a, const uint8_t *b, size_t n, int icase) {
    for (size_t i = 0; i < n; i++) {
        uint8_t x = a[i], y = b[i];
        if (icase) {
            x = (uint8_t)(x >= 'A' && x <= 'Z' ? x + 32 : x);
            y = (uint8_t)(y >= 'A' && y <= 'Z' ? y + 32 : y);
        }
        if (x != y)
            return 0;
    }
    return 1;
}

static void test_exact(void) {
    static uint8_t text[600];
    static const char alpha[] = "aAbb x1\n\n";
    check_rng = 0xe4ac7;
    pcre2_match_data *md = pcre2_match_data_create(8, NULL);
    unsigned rounds = TS_ROUNDS(300);
    for (unsigned r = 0; r < rounds; r++) {
        size_t n = 1 + check_rnd_below(3);
        char bufs[3][64];
        const char *pats[3];
        int fixed = check_rnd_below(3) == 0, icase = check_rnd_below(3) == 0;
        for (size_t i = 0; i < n; i++) {
            if (fixed) {
                size_t k = check_rnd_below(4);
                for (size_t q = 0; q < k; q++)
                    bufs[i][q] = "ab x"[check_rnd_below(4)];
                bufs[i][k] = 0;
            } else {
                snprintf(bufs[i], sizeof bufs[i], "%s%s", atoms[check_rnd_below(NATOMS)],
                         atoms[check_rnd_below(NATOMS)]);
            }
            pats[i] = bufs[i];
        }
        size_t len = check_rnd_below(sizeof text);
        for (size_t i = 0; i < len; i++)
            text[i] = (uint8_t)alpha[check_rnd_below(sizeof alpha - 1)];
        /* Reference: lines that some pattern matches whole. */
        pcre2_code *codes[3] = {0};
        for (size_t i = 0; i < n && !fixed; i++) {
            int ec;
            PCRE2_SIZE eo;
            codes[i] =
                pcre2_compile((PCRE2_SPTR)pats[i], PCRE2_ZERO_TERMINATED,
                              PCRE2_NEVER_UTF | (icase ? PCRE2_CASELESS : 0), &ec, &eo, NULL);
            CHECK(codes[i] != NULL);
        }
        uint64_t want = 0;
        for (size_t x = 0; x < len;) {
            const uint8_t *q = memchr(text + x, '\n', len - x);
            size_t y = q ? (size_t)(q - text) : len;
            int hit = 0;
            for (size_t i = 0; i < n && !hit; i++) {
                if (fixed)
                    hit = strlen(pats[i]) == y - x &&
                          ascii_fold_eq(text + x, (const uint8_t *)pats[i], y - x, icase);
                else if (codes[i])
                    hit = pcre2_match(codes[i], text + x, y - x, 0,
                                      PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NO_JIT, md,
                                      NULL) >= 0;
            }
            want += (uint64_t)hit;
            x = y + 1;
        }
        for (size_t i = 0; i < n; i++)
            pcre2_code_free(codes[i]);
        unsigned flags = MMK_PAT_LINES | MMK_PAT_LINE_EXACT | (fixed ? MMK_PAT_FIXED : 0) |
                         (icase ? MMK_PAT_ICASE : 0) | (check_rnd_below(3) == 0 ? MMK_PAT_WORD : 0);
        mmk_pattern *p = NULL;
        CHECK_OK(compile_list(&p, pats, n, flags, NULL));
        if (!p)
            continue;
        /* Under -x each line has at most one match: the count is the
           number of lines. */
        ts_input ti;
        int kind = (int)check_rnd_below(TS_NKINDS);
        CHECK_OK(ts_input_open(&ti, kind, text, len));
        mmk_scan_options o = {0};
        o.chunk_size = 1 + check_rnd_below(8);
        o.threads = 1 + (unsigned)check_rnd_below(3);
        o.io = ti.io;
        uint64_t got = 0;
        CHECK_OK(mmk_count(p, &ti.in, &o, &got));
        ts_input_close(&ti);
        if (got != want)
            fprintf(stderr, "  -x %s%s%s (flags %u): %llu lines, reference %llu\n", pats[0],
                    n > 1 ? " | " : "", n > 1 ? pats[1] : "", flags, (unsigned long long)got,
                    (unsigned long long)want);
        CHECK_EQ(got, want);
        mmk_pattern_free(p);
    }
    pcre2_match_data_free(md);
}

/* ------------------------------------------------------------------------ */
/* GNU grep                                                                  */
/* ------------------------------------------------------------------------ */

static size_t make_log(uint8_t *b, size_t cap) {
    static const char *const words[] = {"GET",  "POST", "error", "ERROR", "warn", "info",
                                        "user", "ann",  "bob",   "a.b",   "x+y",  "/api/v1",
                                        "200",  "404",  "-",     "[x]",   "id=7", "Error"};
    size_t n = 0;
    check_rng = 0x9e9;
    while (n + 200 < cap) {
        size_t k = check_rnd_below(8);
        for (size_t i = 0; i < k; i++) {
            const char *w = words[check_rnd_below(sizeof words / sizeof words[0])];
            n += (size_t)snprintf((char *)b + n, cap - n, "%s%s", i ? " " : "", w);
        }
        b[n++] = '\n';
    }
    return n;
}

static char *run_capture(const char *cmd, size_t *n) {
    FILE *f = popen(cmd, "r");
    size_t cap = 1 << 16;
    char *s = malloc(cap);
    *n = 0;
    size_t r;
    while (f && (r = fread(s + *n, 1, cap - *n - 1, f)) > 0) {
        *n += r;
        if (cap - *n < 1024)
            s = realloc(s, cap *= 2);
    }
    s[*n] = 0;
    if (f)
        pclose(f);
    return s;
}

static void test_grep(void) {
    size_t cap = 1 << 20;
    uint8_t *b = malloc(cap);
    size_t n = make_log(b, cap);
    const char *path = ts_path("grep-log");
    const char *pfile = ts_path("grep-pats");
    CHECK_OK(ts_write_file(path, b, n));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (system("printf 'a\\n' | grep -qP 'a|b' 2>/dev/null") != 0) {
        fprintf(stderr, "no grep -P here: differential skipped\n");
        close(fd);
        unlink(path);
        free(b);
        return;
    }
    /* The list, its flags, and the grep command line that must agree. */
    static const struct {
        const char *pats[3];
        size_t n;
        unsigned flags;
        const char *grep_opts;
        const char *grep_pat; /* -P: one alternation; NULL: -f with the list */
    } cases[] = {
        {{"error", "warn"}, 2, 0, "-P", "error|warn"},
        {{"(?i)error", "ann|bob"}, 2, 0, "-P", "(?i)error|ann|bob"},
        {{"er+or", "\\d+"}, 2, MMK_PAT_ICASE, "-Pi", "er+or|\\d+"},
        {{"user", "an+"}, 2, MMK_PAT_WORD, "-Pw", "user|an+"},
        {{"GET.*", "POST \\S+"}, 2, MMK_PAT_LINE_EXACT, "-Px", "GET.*|POST \\S+"},
        {{"[a-z]+", "\\w+ \\w+"},
         2,
         MMK_PAT_LINE_EXACT | MMK_PAT_ICASE,
         "-Pxi",
         "[a-z]+|\\w+ \\w+"},
        {{"a.b", "x+y", "[x]"}, 3, MMK_PAT_FIXED, "-F", NULL},
        {{"ERROR", "x+y"}, 2, MMK_PAT_FIXED | MMK_PAT_ICASE, "-Fi", NULL},
        {{"a.b", "-"}, 2, MMK_PAT_FIXED | MMK_PAT_WORD, "-Fw", NULL},
        {{"GET", "a.b"}, 2, MMK_PAT_FIXED | MMK_PAT_LINE_EXACT, "-Fx", NULL},
        {{"user", "/api/v1"}, 2, MMK_PAT_FIXED, "-F", NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mmk_pattern *p = NULL;
        CHECK_OK(compile_list(&p, cases[k].pats, cases[k].n, MMK_PAT_LINES | cases[k].flags, NULL));
        if (!p)
            continue;
        char cmd[1024], pats_arg[512];
        if (cases[k].grep_pat) {
            snprintf(pats_arg, sizeof pats_arg, "'%s'", cases[k].grep_pat);
        } else {
            char list[256] = "";
            for (size_t i = 0; i < cases[k].n; i++) {
                strcat(list, cases[k].pats[i]);
                strcat(list, "\n");
            }
            CHECK_OK(ts_write_file(pfile, list, strlen(list)));
            snprintf(pats_arg, sizeof pats_arg, "-f '%s'", pfile);
        }
        /* selected lines: grep -c */
        snprintf(cmd, sizeof cmd, "LC_ALL=C grep -c %s %s '%s'", cases[k].grep_opts, pats_arg,
                 path);
        size_t gl;
        char *g = run_capture(cmd, &gl);
        uint64_t sel = 0, reported = 0;
        mmk_input in = mmk_input_fd(fd);
        mmk_scan_options o = {0};
        o.threads = 2;
        CHECK_OK(mmk_match_lines(p, &in, &o, count_line, &reported, &sel));
        if (strtoull(g, NULL, 10) != sel)
            fprintf(stderr, "  %s: grep %s, mmk %llu\n", cmd, g, (unsigned long long)sel);
        CHECK_EQ(strtoull(g, NULL, 10), sel);
        CHECK(sel > 0);
        free(g);
        /* -o: the matches (grep -F -o prefers the longest at a place where
           a list of literals would take the first listed: compare -o for
           regex lists only) */
        if (cases[k].grep_pat) {
            snprintf(cmd, sizeof cmd, "LC_ALL=C grep -o %s %s '%s'", cases[k].grep_opts, pats_arg,
                     path);
            g = run_capture(cmd, &gl);
            span_text st = {0};
            st.data = b;
            st.bytes = 1;
            st.skip_empty = 1;
            st.s = calloc(1, 1);
            CHECK_OK(mmk_matches(p, &in, &o, span_cb, &st));
            int same = st.n == gl && memcmp(st.s, g, gl) == 0;
            if (!same)
                fprintf(stderr, "  %s: output differs (%zu vs %zu bytes)\n", cmd, gl, st.n);
            CHECK(same);
            free(st.s);
            free(g);
        }
        mmk_pattern_free(p);
    }
    close(fd);
    unlink(path);
    unlink(pfile);
    free(b);
}

int main(void) {
    test_errors();
    test_semantics();
    test_empty_selects_all();
    test_random_lists();
    test_multi_literals();
    test_exact();
    test_grep();
    return CHECK_DONE();
}
