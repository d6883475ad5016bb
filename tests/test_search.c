/*
 * test_search.c — the searcher (mmk_search) and the reader input.
 *
 * mmk_search is compared with the reference searcher (mmk__search_ref: the
 * input collected whole, then one line at a time) on random and adversarial
 * inputs, over every input kind, tiny chunks and several threads; the
 * reference itself is compared with GNU grep -P (when installed) on fixed
 * cases. Every line, gap, count and stop value must be the same.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "scan.h"
#include "test_scan_util.h"

/* Under a sanitizer (ASan: a few times slower, TSan: 10-20 times) the
   randomized and differential parts run fewer cases: their job there is
   finding memory errors and races, which every shape run a few times does. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SEARCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SEARCH_SANITIZED 1
#endif
#endif
#if CHECK_TSAN
#define SEARCH_ROUNDS(n) (((n) + 7) / 8)
#define SEARCH_GREP_EVERY 12
#elif defined(SEARCH_SANITIZED)
#define SEARCH_ROUNDS(n) (((n) + 3) / 4)
#define SEARCH_GREP_EVERY 6
#else
#define SEARCH_ROUNDS(n) (check_quick() ? ((n) + 3) / 4 : (n))
#define SEARCH_GREP_EVERY 1
#endif

/* ---- a growing text buffer ----------------------------------------------- */

typedef struct tbuf {
    char *s;
    size_t n, cap;
} tbuf;

static void tb_add(tbuf *t, const void *p, size_t n) {
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->n + n + 1)
            cap *= 2;
        t->s = realloc(t->s, cap);
        t->cap = cap;
    }
    if (n)
        memcpy(t->s + t->n, p, n);
    t->n += n;
    t->s[t->n] = 0;
}

static void tb_printf(tbuf *t, const char *fmt, ...)
    __attribute__((format(CHECK_PRINTF_FORMAT, 2, 3)));
static void tb_printf(tbuf *t, const char *fmt, ...) {
    char b[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof b) {
        tb_add(t, b, (size_t)n);
        return;
    }
    /* Longer than b (a grep line with a long scratch path): format again in full. */
    char *big = malloc((size_t)n + 1);
    if (big == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tb_add(t, big, (size_t)n);
    free(big);
}

/* ---- sinks --------------------------------------------------------------- */

/* Records everything a sink sees: a transcript (every field of every line,
   the gaps) and grep's output format for the same events. */
typedef struct rec {
    tbuf log;  /* exact transcript */
    tbuf grep; /* grep -n's output */
    size_t lines;
    size_t
        stop_after; /* return stop_value from the line callback after this many lines (0: never) */
    int stop_value;
    int stop_in_gap; /* ... or from the gap callback */
} rec;

static int rec_line(const mmk_line *l, void *user) {
    rec *r = user;
    r->lines++;
    tb_printf(&r->log, "L%d no=%llu off=%llu nl=%d m=%llu len=%zu ns=%zu sp=%d [", l->kind,
              (unsigned long long)l->line_no, (unsigned long long)l->offset, l->newline,
              (unsigned long long)l->matches, l->len, l->nspans, l->spans != NULL);
    for (size_t i = 0; i < l->nspans; i++)
        tb_printf(&r->log, "%zu-%zu,", l->spans[i].start, l->spans[i].end);
    tb_add(&r->log, "] ", 2);
    tb_add(&r->log, l->bytes, l->len);
    tb_add(&r->log, "\n", 1);
    tb_printf(&r->grep, "%llu%c", (unsigned long long)l->line_no,
              l->kind == MMK_LINE_SELECTED ? ':' : '-');
    tb_add(&r->grep, l->bytes, l->len);
    tb_add(&r->grep, "\n", 1);
    if (r->stop_after && !r->stop_in_gap && r->lines == r->stop_after)
        return r->stop_value;
    return 0;
}

static int rec_gap(void *user) {
    rec *r = user;
    tb_add(&r->log, "--\n", 3);
    tb_add(&r->grep, "--\n", 3);
    if (r->stop_after && r->stop_in_gap && r->lines >= r->stop_after)
        return r->stop_value;
    return 0;
}

static void rec_free(rec *r) {
    free(r->log.s);
    free(r->grep.s);
}

/* ---- readers ------------------------------------------------------------- */

/* A reader over bytes in uneven pieces; fails with `fail` after `fail_at`
   bytes when fail is non-zero. */
typedef struct mem_reader {
    const uint8_t *data;
    size_t n, at, step;
    int fail;
    size_t fail_at;
    unsigned calls;
} mem_reader;

static int64_t mem_read(void *user, void *buf, size_t n) {
    mem_reader *m = user;
    m->calls++;
    if (m->fail && m->at >= m->fail_at)
        return m->fail;
    size_t k = m->n - m->at;
    if (k > n)
        k = n;
    if (m->step && k > m->step)
        k = m->step;
    if (m->fail && m->at + k > m->fail_at)
        k = m->fail_at - m->at;
    if (k)
        memcpy(buf, m->data + m->at, k);
    m->at += k;
    m->step = m->step * 3 % 97 + 1; /* uneven pieces */
    return (int64_t)k;
}

/* A reader that claims more bytes than it was given room for. */
static int64_t liar_read(void *user, void *buf, size_t n) {
    (void)user;
    (void)buf;
    return (int64_t)n + 1;
}

/* ---- inputs -------------------------------------------------------------- */

enum { K_READER = TS_NKINDS, K_NKINDS };

typedef struct kin {
    ts_input t;
    mem_reader mr;
} kin;

static int kin_open(kin *k, int kind, const uint8_t *data, size_t n) {
    memset(k, 0, sizeof *k);
    if (kind == K_READER) {
        k->t.fd = -1;
        k->t.child = TS_NO_CHILD;
        k->mr.data = data;
        k->mr.n = n;
        k->mr.step = 1 + check_rnd_below(13);
        k->t.in = mmk_input_reader(mem_read, &k->mr);
        return 0;
    }
    return ts_input_open(&k->t, kind, data, n);
}

/* read_all: the search read its input to the end, so a pipe's writer must
   have finished cleanly; a search that stopped early (a sink's stop value,
   max_count) may leave it killed by SIGPIPE. */
static void kin_close(kin *k, int read_all) {
    if (k->t.child != TS_NO_CHILD && !read_all) {
        close(k->t.fd);
        k->t.fd = -1;
        ts_reap(k->t.child);
        k->t.child = TS_NO_CHILD;
    }
    ts_input_close(&k->t);
}

static const char *kind_name(int kind) {
    return kind == K_READER ? "reader" : ts_kind_names[kind];
}

/* ---- helpers ------------------------------------------------------------- */

static mmk_pattern *compile(const char *pat, unsigned flags) {
    mmk_pattern *p = NULL;
    mmk_pattern_error err;
    int rc = mmk_pattern_compile(&p, pat, strlen(pat), flags, &err);
    if (rc) {
        fprintf(stderr, "compile %s: %s (%s)\n", pat, mmk_strerror(rc), err.message);
        return NULL;
    }
    return p;
}

typedef struct outcome {
    int rc;
    mmk_search_result res;
    rec r;
} outcome;

static void run_search(int ref, const mmk_pattern *p, const mmk_input *in,
                       const mmk_scan_options *opt, const mmk_search_options *so, outcome *o,
                       size_t stop_after, int stop_value, int stop_in_gap) {
    memset(o, 0, sizeof *o);
    o->r.stop_after = stop_after;
    o->r.stop_value = stop_value;
    o->r.stop_in_gap = stop_in_gap;
    mmk_sink sink = {rec_line, rec_gap, &o->r};
    memset(&o->res, 0xAB, sizeof o->res);
    o->rc = ref ? mmk__search_ref(p, in, opt, so, &sink, &o->res)
                : mmk_search(p, in, opt, so, &sink, &o->res);
}

/* ---- GNU grep as the reference's reference ------------------------------- */

static int have_grep_p(void) {
    return system("printf 'a\\n' | grep -P -q 'a' 2>/dev/null") == 0;
}

/* Run a shell script and return its standard output (caller frees). The
   script goes through a file: as one `sh -c` argument, hundreds of cases with
   a long build path pass Linux's 128 KiB limit of one argument (E2BIG). */
static char *shell_output(const char *script) {
    char path[1024], cmd[1100];
    snprintf(path, sizeof path, "%s", ts_path("grep-cases.sh"));
    if (ts_write_file(path, script, strlen(script)) != 0)
        return NULL;
    snprintf(cmd, sizeof cmd, "sh '%s'", path);
    FILE *f = popen(cmd, "r");
    if (!f) {
        unlink(path);
        return NULL;
    }
    tbuf t = {0};
    tb_add(&t, "", 0);
    char b[4096];
    size_t k;
    while ((k = fread(b, 1, sizeof b, f)) > 0)
        tb_add(&t, b, k);
    pclose(f);
    unlink(path);
    return t.s;
}

#define GREP_SEP "@@mmk-grep-case@@\n"

/* The file holding text ti for grep. */
static const char *grep_text_path(size_t ti) {
    char name[16];
    snprintf(name, sizeof name, "g%zu", ti);
    return ts_path(name);
}

/* One case: grep's options and the search options that mean the same. */
typedef struct grep_case {
    size_t ti, pi;
    char opts[64];
    mmk_search_options so;
} grep_case;

/* The reference against GNU grep -P -a -n: every case runs in one shell
   (one grep per case, outputs separated by a marker line). */
static void test_reference_vs_grep(void) {
    if (!have_grep_p()) {
        printf(
            "note: GNU grep -P not found; the reference is checked against fixed answers only\n");
        return;
    }
    static const char *const texts[] = {
        "a\nb\na\nc\nd\ne\na\nf\ng\nh\ni\na\n",
        "x\nab\n\nb\nabab\nc\n\n\nab\nzz",
        "foo bar\r\nbaz\r\n\r\nfoo\r\nqux\nfoo",
        "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\neleven\n",
    };
    static const char *const pats[] = {"a", "b$", "^$", "o+", "e", "^.{3}$", "x*"};
    static const struct {
        const char *opt;
        uint32_t before, after;
    } ctx[] = {{"", 0, 0},    {"-A1", 0, 1}, {"-B1", 1, 0},    {"-C1", 1, 1},
               {"-B3", 3, 0}, {"-A3", 0, 3}, {"-A2 -B1", 1, 2}};
    size_t nt = sizeof texts / sizeof *texts, np = sizeof pats / sizeof *pats;
    size_t nc = sizeof ctx / sizeof *ctx, ncases = 0, nall = 0;
    grep_case *cases = calloc(nt * np * nc * 2 * 3, sizeof *cases);
    tbuf script = {0};
    tb_add(&script, "export LC_ALL=C\n", 16);
    for (size_t ti = 0; ti < nt; ti++) {
        CHECK_EQ(ts_write_file(grep_text_path(ti), texts[ti], strlen(texts[ti])), 0);
        for (size_t pi = 0; pi < np; pi++)
            for (size_t ci = 0; ci < nc; ci++)
                for (int inv = 0; inv < 2; inv++)
                    for (int m = 0; m <= 2; m++) { /* m 0: no -m (-m 0 reads nothing: test_fixed) */
                        if (++nall % SEARCH_GREP_EVERY)
                            continue;
                        grep_case *gc = &cases[ncases++];
                        gc->ti = ti;
                        gc->pi = pi;
                        snprintf(gc->opts, sizeof gc->opts, "%s%s", ctx[ci].opt, inv ? " -v" : "");
                        gc->so.flags = inv ? MMK_SEARCH_INVERT : 0;
                        gc->so.before = ctx[ci].before;
                        gc->so.after = ctx[ci].after;
                        if (m) {
                            snprintf(gc->opts + strlen(gc->opts),
                                     sizeof gc->opts - strlen(gc->opts), " -m%d", m);
                            gc->so.flags |= MMK_SEARCH_MAX_COUNT;
                            gc->so.max_count = (uint64_t)m;
                        }
                        tb_printf(&script, "grep -P -a -n %s -e '%s' '%s'; printf '%s'\n", gc->opts,
                                  pats[pi], grep_text_path(ti), "@@mmk-grep-case@@\\n");
                    }
    }
    char *out = shell_output(script.s);
    CHECK(out != NULL);
    const char *at = out ? out : "";
    size_t same = 0;
    for (size_t k = 0; k < ncases; k++) {
        const grep_case *gc = &cases[k];
        const char *end = strstr(at, GREP_SEP);
        CHECK(end != NULL);
        if (!end)
            break;
        size_t glen = (size_t)(end - at);
        mmk_pattern *p = compile(pats[gc->pi], MMK_PAT_LINES);
        mmk_input in = mmk_input_bytes(texts[gc->ti], strlen(texts[gc->ti]));
        /* The reference, then the fast path with small chunks and threads. */
        for (int ref = 1; ref >= 0; ref--) {
            mmk_scan_options opt = {0};
            opt.chunk_size = ref ? 0 : 1 + k % 7;
            opt.threads = ref ? 1 : 1 + (unsigned)(k % 3);
            outcome o;
            run_search(ref, p, &in, &opt, &gc->so, &o, 0, 0, 0);
            CHECK_OK(o.rc);
            const char *mine = o.r.grep.s ? o.r.grep.s : "";
            if (strlen(mine) == glen && memcmp(mine, at, glen) == 0) {
                same += ref;
                check_passed_++;
            } else {
                check_failed_++;
                fprintf(stderr,
                        "%s differs from grep -P -n %s -e '%s' on text %zu:\n--- grep\n%.*s"
                        "--- mmk\n%s",
                        ref ? "the reference" : "mmk_search", gc->opts, pats[gc->pi], gc->ti,
                        (int)glen, at, mine);
            }
            rec_free(&o.r);
        }
        mmk_pattern_free(p);
        at = end + strlen(GREP_SEP);
    }
    for (size_t ti = 0; ti < nt; ti++)
        unlink(grep_text_path(ti));
    printf("reference vs GNU grep: %zu of %zu cases identical\n", same, ncases);
    free(out);
    free(script.s);
    free(cases);
}

/* ---- fixed answers --------------------------------------------------------- */

/* The search (ref 0) or the reference (ref 1) prints `want` as grep would
   and, unless log_part is NULL, logs a line holding log_part. Returns the
   number of selected lines. */
static uint64_t check_grep_text(int ref, const mmk_pattern *p, const mmk_input *in,
                                const mmk_search_options *so, const char *want,
                                const char *log_part) {
    outcome o;
    run_search(ref, p, in, NULL, so, &o, 0, 0, 0);
    CHECK_OK(o.rc);
    CHECK(strcmp(o.r.grep.s, want) == 0);
    if (log_part)
        CHECK(strstr(o.r.log.s, log_part) != NULL);
    rec_free(&o.r);
    return o.res.selected;
}

static void test_fixed(void) {
    mmk_pattern *p = compile("a", MMK_PAT_LINES);
    const char *text = "a\nb\nc\nd\na\nb\nab"; /* no final newline */
    mmk_input in = mmk_input_bytes(text, strlen(text));
    for (int ref = 0; ref < 2; ref++) {
        mmk_search_options so = {0};
        so.flags = MMK_SEARCH_SPANS;
        so.after = 1;
        outcome o;
        run_search(ref, p, &in, NULL, &so, &o, 0, 0, 0);
        CHECK_OK(o.rc);
        CHECK_EQ(o.res.selected, 3);
        CHECK_EQ(o.res.matches, 3);
        CHECK_EQ(o.res.stopped, 0);
        CHECK(strcmp(o.r.grep.s, "1:a\n2-b\n--\n5:a\n6-b\n7:ab\n") == 0);
        CHECK(strstr(o.r.log.s, "L1 no=7 off=12 nl=0 m=1 len=2 ns=1 sp=1 [0-1,] ab\n") != NULL);
        rec_free(&o.r);

        /* Inverted, -m 2: context lines are the matching ones and carry spans. */
        so.flags = MMK_SEARCH_INVERT | MMK_SEARCH_MAX_COUNT | MMK_SEARCH_SPANS;
        so.max_count = 2;
        so.before = 1;
        so.after = 0;
        run_search(ref, p, &in, NULL, &so, &o, 0, 0, 0);
        CHECK_OK(o.rc);
        CHECK_EQ(o.res.selected, 2);
        CHECK_EQ(o.res.matches, 0);
        CHECK_EQ(o.res.stopped, 1);
        CHECK(strcmp(o.r.grep.s, "1-a\n2:b\n3:c\n") == 0);
        CHECK(strstr(o.r.log.s, "L2 no=1 off=0 nl=1 m=1 len=1 ns=1 sp=1 [0-1,] a\n") != NULL);
        CHECK(strstr(o.r.log.s, "L1 no=2 off=2 nl=1 m=0 len=1 ns=0 sp=0 [] b\n") != NULL);
        rec_free(&o.r);

        /* Context wider than the input: every line, once, no gap. */
        so.flags = 0;
        so.before = UINT32_MAX;
        so.after = UINT32_MAX;
        check_grep_text(ref, p, &in, &so, "1:a\n2-b\n3-c\n4-d\n5:a\n6-b\n7:ab\n", NULL);

        /* -m 0 selects nothing. */
        so.flags = MMK_SEARCH_MAX_COUNT;
        so.max_count = 0;
        run_search(ref, p, &in, NULL, &so, &o, 0, 0, 0);
        CHECK_OK(o.rc);
        CHECK_EQ(o.res.selected, 0);
        CHECK_EQ(o.r.lines, 0);
        rec_free(&o.r);

        /* Unnumbered: the same lines with line_no 0, also where the lines
           are counted anyway (context, inverted). */
        so.flags = MMK_SEARCH_NO_LINE_NUMBERS | MMK_SEARCH_SPANS;
        so.before = so.after = 0;
        CHECK_EQ(check_grep_text(ref, p, &in, &so, "0:a\n0:a\n0:ab\n",
                                 "L1 no=0 off=12 nl=0 m=1 len=2 ns=1 sp=1 [0-1,] ab\n"),
                 3);
        so.flags = MMK_SEARCH_NO_LINE_NUMBERS | MMK_SEARCH_INVERT | MMK_SEARCH_MAX_COUNT;
        so.max_count = 2;
        check_grep_text(ref, p, &in, &so, "0:b\n0:c\n", NULL);
        so.flags = MMK_SEARCH_NO_LINE_NUMBERS;
        so.after = 1;
        run_search(ref, p, &in, NULL, &so, &o, 0, 0, 0);
        CHECK_OK(o.rc);
        CHECK(strstr(o.r.log.s, "no=0 off=2 ") != NULL); /* the context line after line 1 */
        CHECK(strstr(o.r.log.s, "no=2") == NULL);
        so.after = 0;
        rec_free(&o.r);

        /* Count only: no line handed out. */
        so.flags = MMK_SEARCH_COUNT_ONLY;
        run_search(ref, p, &in, NULL, &so, &o, 0, 0, 0);
        CHECK_OK(o.rc);
        CHECK_EQ(o.res.selected, 3);
        CHECK_EQ(o.res.matches, 3);
        CHECK_EQ(o.r.lines, 0);
        rec_free(&o.r);

        /* Empty matches: `x*` matches every line once more than its length. */
        mmk_pattern *e = compile("x*", MMK_PAT_LINES);
        so.flags = MMK_SEARCH_SPANS;
        run_search(ref, e, &in, NULL, &so, &o, 0, 0, 0);
        CHECK_OK(o.rc);
        CHECK_EQ(o.res.selected, 7);
        CHECK_EQ(o.res.matches, 6 * 2 + 3);
        CHECK(strstr(o.r.log.s, "L1 no=7 off=12 nl=0 m=3 len=2 ns=3 sp=1 [0-0,1-1,2-2,] ab\n") !=
              NULL);
        rec_free(&o.r);
        mmk_pattern_free(e);
    }
    mmk_pattern_free(p);
}

/* ---- errors ---------------------------------------------------------------- */

static void test_errors(void) {
    mmk_pattern *whole = compile("a", 0);
    mmk_pattern *p = compile("a", MMK_PAT_LINES);
    const char *text = "a\nb\n";
    mmk_input in = mmk_input_bytes(text, 4);
    mmk_search_result res;
    CHECK_RC(mmk_search(whole, &in, NULL, NULL, NULL, &res), -EINVAL);
    CHECK_RC(mmk__search_ref(whole, &in, NULL, NULL, NULL, &res), -EINVAL);
    CHECK_RC(mmk_search(NULL, &in, NULL, NULL, NULL, &res), -EINVAL);
    CHECK_RC(mmk_search(p, NULL, NULL, NULL, NULL, &res), -EINVAL);
    mmk_search_options bad = {0};
    bad.flags = 1u << 9;
    CHECK_RC(mmk_search(p, &in, NULL, &bad, NULL, &res), -EINVAL);
    /* NULL sink, options and result are allowed. */
    CHECK_OK(mmk_search(p, &in, NULL, NULL, NULL, NULL));
    mmk_input noread = mmk_input_reader(NULL, NULL);
    CHECK_RC(mmk_search(p, &noread, NULL, NULL, NULL, &res), -EINVAL);
    CHECK_RC(mmk_count_lines(&noread, NULL, &(uint64_t){0}), -EINVAL);
    mmk_input liar = mmk_input_reader(liar_read, NULL);
    uint64_t n = 0;
    CHECK_RC(mmk_count_lines(&liar, NULL, &n), -EIO);
    CHECK_RC(mmk_search(p, &liar, NULL, NULL, NULL, &res), -EIO);
    mmk_pattern_free(whole);
    mmk_pattern_free(p);

    /* PCRE2's backtracking limit: MMK_ELIMIT, and where the failing search
       started (the line's start), from the fast path and the reference. */
    mmk_pattern *bt = compile("(a+)+$", MMK_PAT_LINES);
    tbuf t = {0};
    tb_add(&t, "xx\nab\n", 6);
    for (int i = 0; i < 40; i++)
        tb_add(&t, "a", 1);
    tb_add(&t, "b\nok\n", 5);
    for (int kind = 0; kind < K_NKINDS && bt; kind++) {
        for (int ref = 0; ref < 2; ref++) {
            kin k;
            CHECK_OK(kin_open(&k, kind, (const uint8_t *)t.s, t.n));
            int64_t err_off = 0;
            mmk_scan_options opt = {0};
            opt.io = k.t.io;
            opt.chunk_size = 3;
            opt.error_offset = &err_off;
            mmk_search_options so = {0};
            so.before = 1;
            outcome o;
            run_search(ref, bt, &k.t.in, &opt, &so, &o, 0, 0, 0);
            kin_close(&k, 1);
            CHECK_RC(o.rc, MMK_ELIMIT);
            CHECK_EQ(err_off, 6);
            rec_free(&o.r);
        }
    }
    free(t.s);
    mmk_pattern_free(bt);
}

/* ---- the reader input for every job ------------------------------------------ */

typedef struct line_acc {
    tbuf t;
} line_acc;

static int acc_line(const char *line, size_t len, uint64_t no, uint64_t off, uint64_t m,
                    void *user) {
    line_acc *a = user;
    tb_printf(&a->t, "%llu %llu %llu:", (unsigned long long)no, (unsigned long long)off,
              (unsigned long long)m);
    tb_add(&a->t, line, len);
    tb_add(&a->t, "\n", 1);
    return 0;
}

static int acc_span(uint64_t s, uint64_t e, void *user) {
    line_acc *a = user;
    tb_printf(&a->t, "%llu-%llu ", (unsigned long long)s, (unsigned long long)e);
    return 0;
}

static void test_reader_jobs(void) {
    check_rng = 0x1234567;
    static const char alpha[] = "ab \n\nxyz";
    const char *pats[] = {"ab", "a[bx]+", "(?s)b.*?a", "x*"};
    for (int round = 0; round < SEARCH_ROUNDS(40); round++) {
        size_t n = check_rnd_below(3000);
        uint8_t *d = ts_random_text(n, alpha, sizeof alpha - 1);
        for (size_t pi = 0; pi < sizeof pats / sizeof *pats; pi++) {
            for (int lines = 0; lines < 2; lines++) {
                mmk_pattern *p = compile(pats[pi], lines ? MMK_PAT_LINES : 0);
                mmk_scan_options opt = {0};
                opt.threads = 1 + (unsigned)check_rnd_below(3);
                opt.chunk_size = check_rnd_below(2) ? 1 + check_rnd_below(7) : 0;
                mmk_input bin = mmk_input_bytes(d, n);
                mem_reader mr = {d, n, 0, 1 + check_rnd_below(50), 0, 0, 0};
                mmk_input rin = mmk_input_reader(mem_read, &mr);
                uint64_t c1 = 0, c2 = 0;
                CHECK_OK(mmk_count(p, &bin, &opt, &c1));
                CHECK_OK(mmk_count(p, &rin, &opt, &c2));
                CHECK_EQ(c1, c2);
                line_acc a1 = {{0}}, a2 = {{0}};
                mr.at = 0;
                CHECK_OK(mmk_matches(p, &bin, &opt, acc_span, &a1));
                CHECK_OK(mmk_matches(p, &rin, &opt, acc_span, &a2));
                CHECK(a1.t.n == a2.t.n && (a1.t.n == 0 || memcmp(a1.t.s, a2.t.s, a1.t.n) == 0));
                free(a1.t.s);
                free(a2.t.s);
                memset(&a1, 0, sizeof a1);
                memset(&a2, 0, sizeof a2);
                mr.at = 0;
                uint64_t m1 = 0, m2 = 0;
                CHECK_OK(mmk_match_lines(p, &bin, &opt, acc_line, &a1, &m1));
                CHECK_OK(mmk_match_lines(p, &rin, &opt, acc_line, &a2, &m2));
                CHECK_EQ(m1, m2);
                CHECK(a1.t.n == a2.t.n && (a1.t.n == 0 || memcmp(a1.t.s, a2.t.s, a1.t.n) == 0));
                free(a1.t.s);
                free(a2.t.s);
                mmk_pattern_free(p);
            }
        }
        mem_reader mr = {d, n, 0, 7, 0, 0, 0};
        mmk_input rin = mmk_input_reader(mem_read, &mr);
        mmk_input bin = mmk_input_bytes(d, n);
        uint64_t l1 = 0, l2 = 0;
        CHECK_OK(mmk_count_lines(&bin, NULL, &l1));
        CHECK_OK(mmk_count_lines(&rin, NULL, &l2));
        CHECK_EQ(l1, l2);
        mmk_wordtab *w1 = NULL, *w2 = NULL;
        mr.at = 0;
        CHECK_OK(mmk_word_counts(&bin, NULL, &w1));
        CHECK_OK(mmk_word_counts(&rin, NULL, &w2));
        CHECK_EQ(mmk_wordtab_size(w1), mmk_wordtab_size(w2));
        CHECK_EQ(mmk_wordtab_total(w1), mmk_wordtab_total(w2));
        for (size_t i = 0; i < mmk_wordtab_size(w1) && i < mmk_wordtab_size(w2); i++) {
            const char *a, *b;
            size_t la, lb;
            uint64_t ca, cb;
            CHECK_OK(mmk_wordtab_get(w1, i, &a, &la, &ca));
            CHECK_OK(mmk_wordtab_get(w2, i, &b, &lb, &cb));
            CHECK(la == lb && ca == cb && memcmp(a, b, la) == 0);
        }
        mmk_wordtab_free(w1);
        mmk_wordtab_free(w2);
        free(d);
    }
}

/* max_count ends the reading: a stream is read no further than the chunks
   around the last selected line (and its trailing context). */
static void test_max_count_stops_reading(void) {
    tbuf t = {0};
    for (int i = 0; i < 20000; i++)
        tb_printf(&t, i == 10 || i == 30 ? "match %d\n" : "line %d\n", i);
    mmk_pattern *p = compile("match", MMK_PAT_LINES);
    for (unsigned threads = 1; threads <= 3; threads++) {
        for (uint32_t after = 0; after <= 2; after++) {
            mem_reader mr = {(const uint8_t *)t.s, t.n, 0, 50, 0, 0, 0};
            mmk_input in = mmk_input_reader(mem_read, &mr);
            mmk_scan_options opt = {0};
            opt.threads = threads;
            opt.chunk_size = 256;
            mmk_search_options so = {0};
            so.flags = MMK_SEARCH_MAX_COUNT;
            so.max_count = 2;
            so.after = after;
            outcome o;
            run_search(0, p, &in, &opt, &so, &o, 0, 0, 0);
            CHECK_OK(o.rc);
            CHECK_EQ(o.res.selected, 2);
            CHECK_EQ(o.res.stopped, 1);
            CHECK_EQ(o.r.lines, 2 + 2 * after); /* each selected line has its after-context */
            /* 256-byte chunks, a few per worker in flight: far from all of it */
            CHECK(mr.at < t.n / 4);
            rec_free(&o.r);
        }
    }
    mmk_pattern_free(p);
    free(t.s);
}

/* A reader's error is the scan's answer, for every job. */
static void test_reader_errors(void) {
    const char *text = "abc\nabd\nxyz\nab\n";
    size_t n = strlen(text);
    mmk_pattern *lp = compile("ab", MMK_PAT_LINES);
    mmk_pattern *wp = compile("(?s)a.*d", 0);
    for (size_t at = 0; at <= n; at += 3) {
        for (int err = 0; err < 2; err++) {
            int code = err ? -EIO : MMK_ECORRUPT;
            mem_reader mr = {(const uint8_t *)text, n, 0, 2, code, at, 0};
            mmk_input in = mmk_input_reader(mem_read, &mr);
            uint64_t c = 0;
            CHECK_RC(mmk_count(lp, &in, NULL, &c), code);
            mr.at = 0;
            CHECK_RC(mmk_count(wp, &in, NULL, &c), code);
            mr.at = 0;
            CHECK_RC(mmk_count_lines(&in, NULL, &c), code);
            mr.at = 0;
            mmk_wordtab *w = NULL;
            CHECK_RC(mmk_word_counts(&in, NULL, &w), code);
            mr.at = 0;
            line_acc a = {{0}};
            CHECK_RC(mmk_match_lines(wp, &in, NULL, acc_line, &a, NULL), code);
            free(a.t.s);
            for (int ref = 0; ref < 2; ref++) {
                mr.at = 0;
                mmk_search_options so = {0};
                so.after = 1;
                outcome o;
                run_search(ref, lp, &in, NULL, &so, &o, 0, 0, 0);
                CHECK_RC(o.rc, code);
                rec_free(&o.r);
            }
        }
    }
    mmk_pattern_free(lp);
    mmk_pattern_free(wp);
}

/* ---- the fast path against the reference --------------------------------- */

static int outcome_same(const outcome *a, const outcome *b) {
    return a->rc == b->rc && a->res.selected == b->res.selected &&
           a->res.matches == b->res.matches && a->res.stopped == b->res.stopped &&
           a->r.log.n == b->r.log.n &&
           (a->r.log.n == 0 || memcmp(a->r.log.s, b->r.log.s, a->r.log.n) == 0);
}

static void report_diff(const char *what, const outcome *fast, const outcome *ref) {
    fprintf(stderr,
            "%s\n  fast: rc=%d selected=%llu matches=%llu stopped=%d\n%s"
            "  ref:  rc=%d selected=%llu matches=%llu stopped=%d\n%s",
            what, fast->rc, (unsigned long long)fast->res.selected,
            (unsigned long long)fast->res.matches, fast->res.stopped,
            fast->r.log.s ? fast->r.log.s : "", ref->rc, (unsigned long long)ref->res.selected,
            (unsigned long long)ref->res.matches, ref->res.stopped,
            ref->r.log.s ? ref->r.log.s : "");
}

/* Random lines from a small alphabet with the awkward cases mixed in: empty
   lines, CRLF, NUL bytes, runs longer than a chunk, no final newline. */
static uint8_t *random_lines(size_t *np) {
    size_t want = check_rnd_below(4) == 0 ? check_rnd_below(40) : check_rnd_below(1500);
    tbuf t = {0};
    tb_add(&t, "", 0);
    while (t.n < want) {
        switch (check_rnd_below(8)) {
        case 0:
            tb_add(&t, "\n", 1);
            break;
        case 1:
            tb_add(&t, "ab\r\n", 4);
            break;
        case 2:
            tb_add(&t, "a\0b\n", 4);
            break;
        case 3: { /* a long line */
            size_t k = 20 + check_rnd_below(200);
            uint8_t *x = ts_random_text(k, "abc ", 4);
            tb_add(&t, x, k);
            tb_add(&t, "\n", 1);
            free(x);
            break;
        }
        default: {
            size_t k = check_rnd_below(8);
            uint8_t *x = ts_random_text(k, "abcx", 4);
            tb_add(&t, x, k);
            tb_add(&t, "\n", 1);
            free(x);
            break;
        }
        }
    }
    if (t.n && check_rnd_below(2))
        t.n--; /* no final newline */
    *np = t.n;
    return (uint8_t *)t.s;
}

static void test_fast_vs_reference(void) {
    check_rng = 0xC0FFEE;
    /* buffer-safe and not (lookaround), empty matches, a literal, anchors;
       buffer-safe ones whose first match in the buffer may run over a '\n'
       (b[^x]*a, b\s*a) or whose way depends on what follows the line
       (a|ab, \b, greedy alternatives): the line's first match is taken from
       the buffer search only when it has no '\n' */
    static const char *const pats[] = {"ab",
                                       "b$",
                                       "^a",
                                       "x*",
                                       "a(?=b)",
                                       "^$",
                                       "c+a|ba",
                                       "(?<=a)b",
                                       "\\x00",
                                       "\\r$",
                                       "abc",
                                       "a.c",
                                       "|ab",
                                       "a*?",
                                       "(?:)|b",
                                       "b[^x]*a",
                                       "b\\s*a",
                                       "a|ab",
                                       "(?:a|ab)(?:c|bc)?",
                                       "\\bab|c\\b",
                                       "a[bc]+"};
    int rounds = SEARCH_ROUNDS(60), compared = 0;
    for (int round = 0; round < rounds; round++) {
        size_t n = 0;
        uint8_t *d = random_lines(&n);
        const char *pat = pats[check_rnd_below(sizeof pats / sizeof *pats)];
        mmk_pattern *p = compile(pat, MMK_PAT_LINES);
        CHECK(p != NULL);
        for (int kind = 0; kind < K_NKINDS && p; kind++) {
            for (int variant = 0; variant < 6; variant++) {
                mmk_search_options so = {0};
                so.before = (uint32_t)check_rnd_below(4);
                so.after = (uint32_t)check_rnd_below(4);
                if (check_rnd_below(2))
                    so.flags |= MMK_SEARCH_INVERT;
                if (check_rnd_below(2))
                    so.flags |= MMK_SEARCH_SPANS;
                if (check_rnd_below(3) == 0) {
                    so.flags |= MMK_SEARCH_MAX_COUNT;
                    so.max_count = check_rnd_below(4);
                }
                if (check_rnd_below(6) == 0)
                    so.flags |= MMK_SEARCH_COUNT_ONLY;
                if (check_rnd_below(3) == 0)
                    so.flags |= MMK_SEARCH_GREP_STEP;
                if (check_rnd_below(3) == 0)
                    so.flags |= MMK_SEARCH_FIRST_MATCH;
                if (check_rnd_below(3) == 0) {
                    /* Unnumbered: without context and -v the lines go
                       uncounted (grep without -n), the path to check. */
                    so.flags |= MMK_SEARCH_NO_LINE_NUMBERS;
                    if (check_rnd_below(3))
                        so.before = so.after = 0;
                    if (check_rnd_below(2))
                        so.flags &= ~(unsigned)MMK_SEARCH_INVERT;
                }
                mmk_scan_options opt = {0};
                opt.threads = 1 + (unsigned)check_rnd_below(3);
                opt.chunk_size =
                    check_rnd_below(3) ? 1 + check_rnd_below(7) : 1 + check_rnd_below(300);
                /* Half the runs with a window of a few chunks: it adapts. */
                mmk__scan_bulky_window =
                    check_rnd_below(2) ? opt.chunk_size * (1 + check_rnd_below(12)) : 0;
                size_t stop_after = check_rnd_below(4) == 0 ? 1 + check_rnd_below(5) : 0;
                int stop_in_gap = check_rnd_below(3) == 0;
                outcome fast, ref;
                kin k;
                if (kin_open(&k, kind, d, n) != 0) {
                    CHECK(!"input set-up");
                    continue;
                }
                opt.io = k.t.io;
                run_search(0, p, &k.t.in, &opt, &so, &fast, stop_after, 42, stop_in_gap);
                mmk__scan_bulky_window = 0;
                kin_close(&k,
                          fast.rc == 0 && !fast.res.stopped && !(so.flags & MMK_SEARCH_MAX_COUNT));
                /* The reference reads the same bytes from memory. */
                mmk_input bin = mmk_input_bytes(d, n);
                run_search(1, p, &bin, NULL, &so, &ref, stop_after, 42, stop_in_gap);
                compared++;
                if (outcome_same(&fast, &ref)) {
                    check_passed_++;
                } else {
                    check_failed_++;
                    char what[256];
                    snprintf(what, sizeof what,
                             "round %d: /%s/ on %s, %zu bytes, threads %u chunk %llu, flags %u "
                             "max %llu -B%u -A%u stop %zu%s",
                             round, pat, kind_name(kind), n, opt.threads,
                             (unsigned long long)opt.chunk_size, so.flags,
                             (unsigned long long)so.max_count, so.before, so.after, stop_after,
                             stop_in_gap ? " (gap)" : "");
                    report_diff(what, &fast, &ref);
                }
                rec_free(&fast.r);
                rec_free(&ref.r);
            }
        }
        mmk_pattern_free(p);
        free(d);
    }
    printf("fast path vs reference: %d comparisons\n", compared);
}

/* For the tests over megabytes: search d as input kind `kind` with the
   engine and as bytes with the reference, and compare. A difference is
   reported by its counts and log sizes (the logs are megabytes). Returns the
   lines the engine selected. */
static uint64_t check_kind_vs_reference(const mmk_pattern *p, int kind, const uint8_t *d, size_t n,
                                        mmk_scan_options *opt, const mmk_search_options *so,
                                        const char *what) {
    kin k;
    if (kin_open(&k, kind, d, n) != 0) {
        CHECK(!"input set-up");
        return 0;
    }
    opt->io = k.t.io;
    outcome fast, ref;
    run_search(0, p, &k.t.in, opt, so, &fast, 0, 0, 0);
    kin_close(&k, 1);
    mmk_input bin = mmk_input_bytes(d, n);
    run_search(1, p, &bin, NULL, so, &ref, 0, 0, 0);
    CHECK_OK(fast.rc);
    if (outcome_same(&fast, &ref)) {
        check_passed_++;
    } else {
        check_failed_++;
        fprintf(stderr,
                "%s on %s: fast rc=%d sel=%llu log %zu bytes, ref rc=%d sel=%llu log %zu bytes\n",
                what, kind_name(kind), fast.rc, (unsigned long long)fast.res.selected, fast.r.log.n,
                ref.rc, (unsigned long long)ref.res.selected, ref.r.log.n);
    }
    uint64_t selected = fast.res.selected;
    rec_free(&fast.r);
    rec_free(&ref.r);
    return selected;
}

/* Lines longer than the engine holds whole (4 MiB, pread): searched
   piecewise, read back by the merge when handed out (selected, context,
   inverted), and the lines around them. */
static void test_long_lines(void) {
    check_rng = 0xABCDEF;
    const size_t big = ((size_t)6 << 20) + 4321;
    static const char *const pats[] = {"ab", "zq", "^a", "q$"};
    for (int round = 0; round < SEARCH_ROUNDS(8); round++) {
        tbuf t = {0};
        tb_add(&t, "ab\nxx\nyy\n", 9);
        uint8_t *x = ts_random_text(big, "abcdef", 6);
        if (round & 1)
            memcpy(x + big / 2, "zq", 2); /* a match in the middle of the long line */
        tb_add(&t, x, big);
        free(x);
        tb_add(&t, round & 2 ? "q\nxx\nab\nyy\n" : "\nxx\nab", round & 2 ? 12 : 6);
        const char *pat = pats[round % 4];
        mmk_pattern *p = compile(pat, MMK_PAT_LINES);
        for (int kind = TS_FD_READ; kind <= TS_FD_AUTO; kind++) {
            mmk_search_options so = {0};
            so.before = (uint32_t)check_rnd_below(3);
            so.after = (uint32_t)check_rnd_below(3);
            so.flags = MMK_SEARCH_SPANS | (round & 4 ? MMK_SEARCH_INVERT : 0);
            mmk_scan_options opt = {0};
            opt.threads = 1 + (unsigned)check_rnd_below(2);
            opt.chunk_size = check_rnd_below(2) ? 4096 : 0;
            char what[96];
            snprintf(what, sizeof what, "long line round %d /%s/", round, pat);
            CHECK(check_kind_vs_reference(p, kind, (const uint8_t *)t.s, t.n, &opt, &so, what) > 0);
        }
        mmk_pattern_free(p);
        free(t.s);
    }
}

/* Searches whose results copy lines (context, spans) keep a window of a
   couple of MiB of input in flight, in smaller batches: 3 MiB of short
   lines, default chunks, two and three workers, every input kind, against
   the reference. */
static void test_bounded_window(void) {
    check_rng = 0xB0B0;
    static const char *const pats[] = {"ab", "a[bc]+", "c$"};
    tbuf t = {0};
    while (t.n < ((size_t)3 << 20) + 777) {
        size_t k = check_rnd_below(60);
        uint8_t *x = ts_random_text(k, "abcx ", 5);
        tb_add(&t, x, k);
        tb_add(&t, "\n", 1);
        free(x);
    }
    for (int round = 0; round < SEARCH_ROUNDS(4); round++) {
        const char *pat = pats[round % 3];
        mmk_pattern *p = compile(pat, MMK_PAT_LINES);
        CHECK(p != NULL);
        /* Lean runs: every other input kind (each is half a minute under
           TSan). */
        for (int kind = 0; kind < K_NKINDS && p; kind += check_lean() ? 2 : 1) {
            mmk_search_options so = {0};
            so.before = (uint32_t)check_rnd_below(3);
            so.after = (uint32_t)check_rnd_below(7);
            so.flags = (round & 1 ? MMK_SEARCH_SPANS | MMK_SEARCH_GREP_STEP : 0) |
                       (round == 2 ? MMK_SEARCH_INVERT : 0);
            mmk_scan_options opt = {0};
            opt.threads = 2 + (unsigned)(round & 1);
            char what[96];
            snprintf(what, sizeof what, "bounded window round %d /%s/", round, pat);
            CHECK(check_kind_vs_reference(p, kind, (const uint8_t *)t.s, t.n, &opt, &so, what) >
                  1000);
        }
        mmk_pattern_free(p);
    }
    free(t.s);
}

/* The adaptive window of searches that copy lines (scan.c's window_adapt):
   an input whose matches come in stretches (none for a while, then on
   every line, then none again) makes the window grow over the sparse
   stretches and fall back at the dense ones, with the window set to a few
   chunks. Every input kind, with context and without, against the
   reference; and the window must have moved both ways. */
static void test_adaptive_window(void) {
    check_rng = 0xADA97;
    tbuf t = {0};
    for (int stretch = 0; stretch < 9; stretch++) {
        int dense = stretch % 3 == 1;
        size_t lines = dense ? 300 + check_rnd_below(300) : 2000 + check_rnd_below(2000);
        for (size_t i = 0; i < lines; i++) {
            size_t k = check_rnd_below(40);
            uint8_t *x = ts_random_text(k, "bcx ", 4);
            tb_add(&t, x, k);
            if (dense || check_rnd_below(500) == 0)
                tb_add(&t, " ab", 3);
            tb_add(&t, "\n", 1);
            free(x);
        }
    }
    mmk_pattern *p = compile("ab", MMK_PAT_LINES);
    CHECK(p != NULL);
    uint64_t grown0 = mmk__scan_window_grown, shrunk0 = mmk__scan_window_shrunk;
    for (int round = 0; round < 4 && p; round++) {
        for (int kind = 0; kind < K_NKINDS; kind += check_lean() ? 2 : 1) {
            mmk_search_options so = {0};
            so.before = round & 1 ? 2 : 0;
            so.after = round & 2 ? 3 : 0;
            if (round == 0 && kind % 2)
                so.flags = MMK_SEARCH_NO_LINE_NUMBERS; /* lines not counted */
            mmk_scan_options opt = {0};
            opt.threads = 2 + (unsigned)(round & 1);
            opt.chunk_size = 512 + 256 * (uint64_t)round;
            char what[96];
            snprintf(what, sizeof what, "adaptive window round %d (-B%u -A%u, chunk %llu)", round,
                     so.before, so.after, (unsigned long long)opt.chunk_size);
            mmk__scan_bulky_window = opt.chunk_size * (2 + (uint64_t)round);
            uint64_t selected =
                check_kind_vs_reference(p, kind, (const uint8_t *)t.s, t.n, &opt, &so, what);
            mmk__scan_bulky_window = 0;
            CHECK(selected > 1000);
        }
    }
    /* Inputs read by the calling thread alone (streams) and runs with one
       worker keep a fixed window; the others must have adapted. */
    CHECK(mmk__scan_window_grown > grown0);
    CHECK(mmk__scan_window_shrunk > shrunk0);
    printf("adaptive window: grown %llu times, shrunk %llu times\n",
           (unsigned long long)(mmk__scan_window_grown - grown0),
           (unsigned long long)(mmk__scan_window_shrunk - shrunk0));
    mmk_pattern_free(p);
    free(t.s);
}

/* Python's empty-match rule (the default; the spans re.finditer gives) and
   grep's (MMK_SEARCH_GREP_STEP): `printf 'ab\n' | grep -oP '|ab'` prints
   nothing, because after the empty match at 0 grep moves on one byte. */
static void test_grep_step(void) {
    struct {
        const char *pat, *text, *python, *grep;
    } cases[] = {
        {"|ab", "ab\nxab\n", "[0-0,0-2,2-2,][0-0,1-1,1-3,3-3,]",
         "[0-0,1-1,2-2,][0-0,1-1,2-2,3-3,]"},
        {"a*?", "ab\n", "[0-0,0-1,1-1,2-2,]", "[0-0,1-1,2-2,]"},
        {"a*", "baa\n", "[0-0,1-3,3-3,]", "[0-0,1-3,3-3,]"},
        {"(?:)|b", "bb\n", "[0-0,0-1,1-1,1-2,2-2,]", "[0-0,1-1,2-2,]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mmk_pattern *p = compile(cases[i].pat, MMK_PAT_LINES);
        CHECK(p != NULL);
        for (int step = 0; step < 2 && p; step++) {
            for (int ref = 0; ref < 2; ref++) {
                mmk_search_options so = {0};
                so.flags = MMK_SEARCH_SPANS | (step ? MMK_SEARCH_GREP_STEP : 0);
                mmk_input in = mmk_input_bytes(cases[i].text, strlen(cases[i].text));
                outcome o;
                run_search(ref, p, &in, NULL, &so, &o, 0, 0, 0);
                CHECK_OK(o.rc);
                /* the spans of every line, in the log's "[a-b,]" notation */
                char got[256] = "";
                for (const char *q = o.r.log.s; (q = strstr(q, " [")) != NULL; q++) {
                    const char *e = strchr(q, ']');
                    strncat(got, q + 1, (size_t)(e - q));
                }
                const char *want = step ? cases[i].grep : cases[i].python;
                if (strcmp(got, want) != 0)
                    fprintf(stderr, "%s step=%d ref=%d: %s, want %s\n", cases[i].pat, step, ref,
                            got, want);
                CHECK(strcmp(got, want) == 0);
                rec_free(&o.r);
            }
        }
        mmk_pattern_free(p);
    }
}

int main(void) {
    test_errors();
    test_fixed();
    test_grep_step();
    test_reader_jobs();
    test_reader_errors();
    test_max_count_stops_reading();
    test_reference_vs_grep();
    test_fast_vs_reference();
    test_long_lines();
    test_bounded_window();
    test_adaptive_window();
    return CHECK_DONE();
}
