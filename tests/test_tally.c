/*
 * test_tally.c — mmk_count_by (counts per value of a capture group) against a
 * slow reference that runs PCRE2 itself over each line with grep -o's rules
 * (leftmost match, on at its end, one byte on after an empty match, empty
 * matches not counted), on random and adversarial text, for every input kind
 * (bytes, map ranges, regular files mapped and pread, pipes), chunk sizes
 * 1..7 and more, and 1..3 threads; lines longer than the engine holds; a
 * differential against `grep -oP ... | sort | uniq -c` and Python's re on
 * generated log text; and every failure path.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "matcher.h"
#include "pattern.h"
#include "tally_hooks.h"
#include "test_scan_util.h"

/* ------------------------------------------------------------------------ */
/* The reference                                                             */
/* ------------------------------------------------------------------------ */

typedef struct ref_val {
    uint8_t *b;
    size_t len;
    uint64_t count;
} ref_val;

typedef struct ref_tab {
    ref_val *v;
    size_t n, cap;
} ref_tab;

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int cmp_val(const void *pa, const void *pb) {
    const ref_val *a = pa, *b = pb;
    return cmp_bytes(a->b, a->len, b->b, b->len);
}

static int cmp_count(const void *pa, const void *pb) {
    const ref_val *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return cmp_val(pa, pb);
}

static void ref_push(ref_tab *t, const uint8_t *b, size_t n) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = realloc(t->v, t->cap * sizeof *t->v);
    }
    t->v[t->n].b = malloc(n ? n : 1);
    if (n)
        memcpy(t->v[t->n].b, b, n);
    t->v[t->n].len = n;
    t->v[t->n].count = 1;
    t->n++;
}

/* Sort, merge equal values, sort by count descending then value. */
static void ref_finish(ref_tab *t) {
    if (t->n)
        qsort(t->v, t->n, sizeof *t->v, cmp_val);
    size_t u = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (u && cmp_val(&t->v[u - 1], &t->v[i]) == 0) {
            t->v[u - 1].count += t->v[i].count;
            free(t->v[i].b);
        } else {
            t->v[u++] = t->v[i];
        }
    }
    t->n = u;
    if (t->n)
        qsort(t->v, t->n, sizeof *t->v, cmp_count);
}

static void ref_free(ref_tab *t) {
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].b);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* PCRE2 over each line alone, grep -o's loop. Returns 0, or -1 when PCRE2
   refuses the pattern or hits a limit. */
static int ref_count_by(const char *pat, int icase, int group, const uint8_t *d, size_t n,
                        ref_tab *out) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                      PCRE2_NEVER_UTF | (icase ? PCRE2_CASELESS : 0), &ec, &eo, NULL);
    if (!code)
        return -1;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    int rc = 0;
    for (size_t x = 0; x < n && rc == 0;) {
        const uint8_t *nl = memchr(d + x, '\n', n - x);
        size_t y = nl ? (size_t)(nl - d) : n;
        const uint8_t *line = d + x;
        size_t len = y - x, pos = 0;
        while (pos <= len) {
            int m = pcre2_match(code, line ? line : (const uint8_t *)"", len, pos, PCRE2_NO_JIT, md,
                                NULL);
            if (m == PCRE2_ERROR_NOMATCH)
                break;
            if (m < 0) {
                rc = -1;
                break;
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            if (ov[0] == ov[1]) {
                pos = ov[0] + 1;
                continue;
            }
            if (ov[2 * group] != PCRE2_UNSET)
                ref_push(out, line + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
            pos = ov[1];
        }
        x = y + 1;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    ref_finish(out);
    return rc;
}

/* 1 when the table equals the reference entry by entry. */
static int same_table(const mmk_wordtab *t, const ref_tab *r, const char *what) {
    uint64_t total = 0;
    for (size_t i = 0; i < r->n; i++)
        total += r->v[i].count;
    if (mmk_wordtab_size(t) != r->n || mmk_wordtab_total(t) != total) {
        fprintf(stderr, "%s: %zu values (total %llu), reference %zu (total %llu)\n", what,
                mmk_wordtab_size(t), (unsigned long long)mmk_wordtab_total(t), r->n,
                (unsigned long long)total);
        return 0;
    }
    for (size_t i = 0; i < r->n; i++) {
        const char *w;
        size_t len;
        uint64_t c;
        if (mmk_wordtab_get(t, i, &w, &len, &c) != 0 || c != r->v[i].count ||
            cmp_bytes((const uint8_t *)w, len, r->v[i].b, r->v[i].len) != 0) {
            fprintf(stderr, "%s: entry %zu differs: '%.*s' x%llu, reference '%.*s' x%llu\n", what,
                    i, (int)len, w, (unsigned long long)c, (int)r->v[i].len,
                    (const char *)r->v[i].b, (unsigned long long)r->v[i].count);
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Random and adversarial text                                               */
/* ------------------------------------------------------------------------ */

static const char *const tally_patterns[] = {
    "(a+)",
    "(b|c)",
    "([ab]+)x",
    "x(y)?z",
    "(\\w+)=(\\d*)",
    "\\b(\\w)",
    "(a*)",
    "(|ab)",
    "x*",
    "(?:(a)|b)+",
    "^(\\w+)",
    "(\\w+)$",
    "(?<=a)(b+)",
    "(a)(?=b)",
    "(?i)(A+)",
    "a(?:(b)|(c))",
    "(\\d+)",
    "([^ ]*) ",
    "(a|ab)(c|bcd)?",
    "ab",
    "(\\s)",
    "(?<v>[xyz]+)",
    "((a)|(b))+",
    "(a)?b",
    "(.)\\1",
    "(?>a+)(b)",
    "a++(b)",
    "(\\w)(?!\\w)",
    "\\x00(.)",
    ".",
    "(?m)^(.)",
    "(a(*ACCEPT)b)",
    "(a)(*PRUNE)b",
    "z|(?:(x)|y)",
    "(\\w+)\\s+\\1",
    "(?x) (a+) # a comment to the end", /* the scan code's suffix after a newline */
    "(b)\\Qa(",                         /* ... after a \\Q left open */
    "(?:(a)|b)(?C1)",                   /* a callout: no scan code */
    "(a|b(?R))",                        /* (?R): no scan code */
};
#define NPAT (sizeof tally_patterns / sizeof tally_patterns[0])

/* Lines of a small alphabet with NUL and 0xff bytes, empty lines, no final
   newline sometimes. */
static size_t random_text(uint8_t *b, size_t cap) {
    static const char alpha[] = "aabbcxyz= 0123_\n\n";
    size_t n = check_rnd_below(cap);
    for (size_t i = 0; i < n; i++) {
        size_t k = check_rnd_below(sizeof alpha); /* includes the NUL at the end */
        b[i] = k == sizeof alpha - 1 ? (check_rnd_below(2) ? 0 : 0xff) : (uint8_t)alpha[k];
    }
    return n;
}

static int count_by_input(const mmk_pattern *p, int group, int kind, const uint8_t *d, size_t n,
                          uint64_t chunk, unsigned threads, mmk_wordtab **out) {
    ts_input ti;
    if (ts_input_open(&ti, kind, d, n) != 0)
        return -9999;
    mmk_scan_options o = {0};
    o.chunk_size = chunk;
    o.threads = threads;
    o.io = ti.io;
    int rc = mmk_count_by(p, group, &ti.in, &o, out);
    ts_input_close(&ti);
    return rc;
}

static void test_random(void) {
    static uint8_t text[1500];
    static const uint64_t chunks[] = {1, 2, 3, 4, 5, 6, 7, 13, 64, 0};
    check_rng = 0x7a11e5;
    unsigned rounds = TS_ROUNDS(260);
    for (unsigned r = 0; r < rounds; r++) {
        const char *pat = tally_patterns[r % NPAT];
        size_t n = random_text(text, r < NPAT ? 60 : sizeof text);
        int icase = check_rnd_below(4) == 0;
        mmk_pattern *p = NULL;
        CHECK_OK(mmk_pattern_compile(&p, pat, strlen(pat),
                                     MMK_PAT_LINES | (icase ? MMK_PAT_ICASE : 0), NULL));
        if (!p)
            continue;
        int groups = mmk_pattern_groups(p);
        int group = (int)check_rnd_below((size_t)groups + 1);
        ref_tab ref = {0};
        CHECK_OK(ref_count_by(pat, icase, group, text, n, &ref));
        int kind = (int)check_rnd_below(TS_NKINDS);
        uint64_t chunk = chunks[check_rnd_below(sizeof chunks / sizeof chunks[0])];
        unsigned threads = 1 + (unsigned)check_rnd_below(3);
        mmk__tally_route = (int)check_rnd_below(4); /* tally_hooks.h: every search */
        mmk_wordtab *t = NULL;
        int rc = count_by_input(p, group, kind, text, n, chunk, threads, &t);
        mmk__tally_route = MMK__TALLY_ROUTE_AUTO;
        CHECK_OK(rc);
        if (rc == 0 && !same_table(t, &ref, pat))
            fprintf(stderr, "  pattern %s group %d, %s, chunk %llu, %u threads, %zu bytes\n", pat,
                    group, ts_kind_names[kind], (unsigned long long)chunk, threads, n);
        CHECK(rc == 0 && same_table(t, &ref, pat));
        mmk_wordtab_free(t);
        ref_free(&ref);
        mmk_pattern_free(p);
    }
}

/* Every input kind, chunk size and thread count on one text: the same table. */
static void test_every_shape(void) {
    static const char text[] = "GET /a 200 user=ann\nPOST /b 404 user=bob\n\nGET /a 200 user=\n"
                               "PUT /c 500 user=ann\nGET /a 200\nget /A 201 user=ann";
    static const struct {
        const char *pat;
        int group;
    } cases[] = {{"^(\\w+) (\\S+)", 1}, {"^(\\w+) (\\S+)", 2}, {"user=(\\w*)", 1},
                 {"\\d+", 0},           {"(?i)get", 0},        {"user=(x)?", 1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mmk_pattern *p = NULL;
        CHECK_OK(mmk_pattern_compile(&p, cases[k].pat, strlen(cases[k].pat), MMK_PAT_LINES, NULL));
        ref_tab ref = {0};
        CHECK_OK(ref_count_by(cases[k].pat, 0, cases[k].group, (const uint8_t *)text,
                              sizeof text - 1, &ref));
        for (int kind = 0; kind < TS_NKINDS; kind++) {
            /* (every other chunk size under TSan, which is 10-20 times slower) */
            for (uint64_t chunk = 1; chunk <= 8; chunk += TS_ROUNDS(4) == 4 ? 1 : 2) {
                for (unsigned threads = 1; threads <= 3; threads++) {
                    mmk_wordtab *t = NULL;
                    int rc = count_by_input(p, cases[k].group, kind, (const uint8_t *)text,
                                            sizeof text - 1, chunk == 8 ? 0 : chunk, threads, &t);
                    CHECK_OK(rc);
                    int same = rc == 0 && same_table(t, &ref, cases[k].pat);
                    if (!same)
                        fprintf(stderr, "  %s, chunk %llu, %u threads\n", ts_kind_names[kind],
                                (unsigned long long)chunk, threads);
                    CHECK(same);
                    mmk_wordtab_free(t);
                }
            }
        }
        ref_free(&ref);
        mmk_pattern_free(p);
    }
    /* Hand-checked values: user=(\w*) counts ann 3, bob 1 and the empty value once. */
    mmk_pattern *p = NULL;
    CHECK_OK(mmk_pattern_compile(&p, "user=(\\w*)", 10, MMK_PAT_LINES, NULL));
    mmk_input in = mmk_input_bytes(text, sizeof text - 1);
    mmk_wordtab *t = NULL;
    CHECK_OK(mmk_count_by(p, 1, &in, NULL, &t));
    const char *w;
    size_t len;
    uint64_t c;
    CHECK_EQ(mmk_wordtab_size(t), 3);
    CHECK_EQ(mmk_wordtab_total(t), 5);
    CHECK(mmk_wordtab_get(t, 0, &w, &len, &c) == 0 && len == 3 && memcmp(w, "ann", 3) == 0 &&
          c == 3);
    CHECK(mmk_wordtab_get(t, 1, &w, &len, &c) == 0 && len == 0 && c == 1);
    CHECK(mmk_wordtab_get(t, 2, &w, &len, &c) == 0 && len == 3 && memcmp(w, "bob", 3) == 0 &&
          c == 1);
    CHECK_RC(mmk_wordtab_get(t, 3, &w, &len, &c), -EINVAL);
    mmk_wordtab_free(t);
    mmk_pattern_free(p);
}

/* Literal patterns (the SIMD matcher: no groups) and pattern lists. */
static void test_literals_and_lists(void) {
    static const char text[] = "a.b a.b\nA.B xa.by\n\na.b";
    mmk_pattern *p = NULL;
    CHECK_OK(
        mmk_pattern_compile(&p, "a.b", 3, MMK_PAT_LINES | MMK_PAT_FIXED | MMK_PAT_ICASE, NULL));
    CHECK_EQ(mmk_pattern_groups(p), 0);
    mmk_input in = mmk_input_bytes(text, sizeof text - 1);
    mmk_wordtab *t = NULL;
    CHECK_OK(mmk_count_by(p, 0, &in, NULL, &t));
    const char *w;
    size_t len;
    uint64_t c;
    CHECK_EQ(mmk_wordtab_size(t), 2);
    CHECK(mmk_wordtab_get(t, 0, &w, &len, &c) == 0 && len == 3 && memcmp(w, "a.b", 3) == 0 &&
          c == 4);
    CHECK(mmk_wordtab_get(t, 1, &w, &len, &c) == 0 && len == 3 && memcmp(w, "A.B", 3) == 0 &&
          c == 1);
    mmk_wordtab_free(t);
    CHECK_RC(mmk_count_by(p, 1, &in, NULL, &t), -EINVAL);
    CHECK(t == NULL);
    mmk_pattern_free(p);

    /* A list: groups numbered across it; each pattern's own group counts. */
    static const char log[] = "ip=1.2.3.4 user=ann\nuser=bob ip=5.6.7.8\nip=1.2.3.4\n";
    const char *pats[] = {"ip=(\\S+)", "user=(\\w+)"};
    size_t lens[] = {strlen(pats[0]), strlen(pats[1])};
    CHECK_OK(mmk_pattern_compile_list(&p, (const void *const *)pats, lens, 2, MMK_PAT_LINES, NULL));
    CHECK_EQ(mmk_pattern_groups(p), 2);
    in = mmk_input_bytes(log, sizeof log - 1);
    CHECK_OK(mmk_count_by(p, 1, &in, NULL, &t));
    CHECK_EQ(mmk_wordtab_size(t), 2);
    CHECK_EQ(mmk_wordtab_total(t), 3);
    CHECK(mmk_wordtab_get(t, 0, &w, &len, &c) == 0 && len == 7 && memcmp(w, "1.2.3.4", 7) == 0 &&
          c == 2);
    mmk_wordtab_free(t);
    CHECK_OK(mmk_count_by(p, 2, &in, NULL, &t));
    CHECK_EQ(mmk_wordtab_size(t), 2);
    CHECK_EQ(mmk_wordtab_total(t), 2);
    mmk_wordtab_free(t);
    CHECK_OK(mmk_count_by(p, 0, &in, NULL, &t));
    CHECK_EQ(mmk_wordtab_total(t), 5);
    mmk_wordtab_free(t);
    mmk_pattern_free(p);
}

/* Lines longer than the engine holds whole (4 MiB for pread): read on. */
static void test_long_lines(void) {
    size_t n = (9u << 20) + 12345;
    uint8_t *d = malloc(n);
    check_rng = 0x10a9;
    for (size_t i = 0; i < n; i++)
        d[i] = "abc d"[check_rnd_below(5)];
    d[100] = '\n';
    d[n - 5000] = '\n';
    const char *pat = "(a)b?(c)?";
    mmk_pattern *p = NULL;
    CHECK_OK(mmk_pattern_compile(&p, pat, strlen(pat), MMK_PAT_LINES, NULL));
    /* Lean runs (a minute for all of it under TSan): group 2 alone, read
       and piped. */
    for (int group = check_lean() ? 2 : 0; group <= 2; group += 2) {
        ref_tab ref = {0};
        CHECK_OK(ref_count_by(pat, 0, group, d, n, &ref));
        static const int kinds[] = {TS_FD_READ, TS_PIPE, TS_FD_MMAP};
        for (size_t k = 0; k < (check_lean() ? 2u : 3u); k++) {
            mmk_wordtab *t = NULL;
            int rc = count_by_input(p, group, kinds[k], d, n, 0, 2, &t);
            CHECK_OK(rc);
            CHECK(rc == 0 && same_table(t, &ref, "long line"));
            mmk_wordtab_free(t);
        }
        /* A range that ends inside the long line: nothing past it is read. */
        const char *path = ts_path("long");
        CHECK_OK(ts_write_file(path, d, n));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        unlink(path);
        ref_tab rref = {0};
        CHECK_OK(ref_count_by(pat, 0, group, d + 50, (6u << 20), &rref));
        mmk_input in = mmk_input_fd_range(fd, 50, 6u << 20);
        mmk_scan_options o = {0};
        o.io = MMK_IO_READ;
        o.threads = 2;
        mmk_wordtab *t = NULL;
        CHECK_OK(mmk_count_by(p, group, &in, &o, &t));
        CHECK(same_table(t, &rref, "long line range"));
        mmk_wordtab_free(t);
        close(fd);
        ref_free(&rref);
        ref_free(&ref);
    }
    mmk_pattern_free(p);
    free(d);
}

/* ------------------------------------------------------------------------ */
/* Failure paths                                                             */
/* ------------------------------------------------------------------------ */

static void test_errors(void) {
    mmk_pattern *p = NULL, *plain = NULL;
    CHECK_OK(mmk_pattern_compile(&p, "(a)(?<name>b)", 13, MMK_PAT_LINES, NULL));
    CHECK_OK(mmk_pattern_compile(&plain, "(a)", 3, 0, NULL));
    mmk_input in = mmk_input_bytes("ab\n", 3);
    mmk_wordtab *t = (mmk_wordtab *)&in; /* must be reset to NULL on failure */
    CHECK_RC(mmk_count_by(p, 3, &in, NULL, &t), -EINVAL);
    CHECK(t == NULL);
    CHECK_RC(mmk_count_by(p, -1, &in, NULL, &t), -EINVAL);
    CHECK_RC(mmk_count_by(plain, 1, &in, NULL, &t), -EINVAL); /* not MMK_PAT_LINES */
    CHECK_RC(mmk_count_by(NULL, 0, &in, NULL, &t), -EINVAL);
    CHECK_RC(mmk_count_by(p, 0, NULL, NULL, &t), -EINVAL);
    CHECK_RC(mmk_count_by(p, 0, &in, NULL, NULL), -EINVAL);
    CHECK_EQ(mmk_pattern_group_number(p, "name"), 2);
    CHECK_RC(mmk_pattern_group_number(p, "nope"), MMK_EPATTERN);
    CHECK_RC(mmk_pattern_group_number(p, NULL), -EINVAL);
    CHECK_RC(mmk_pattern_group_number(NULL, "name"), -EINVAL);
    mmk_input bad = mmk_input_fd(-1);
    CHECK_RC(mmk_count_by(p, 0, &bad, NULL, &t), -EBADF);
    int dfd = check_open_dir(check_tmpdir());
    mmk_input dir = mmk_input_fd(dfd);
    CHECK_RC(mmk_count_by(p, 0, &dir, NULL, &t), -EISDIR);
    close(dfd);
    mmk_scan_options bad_io = {0};
    bad_io.io = 7;
    CHECK_RC(mmk_count_by(p, 0, &in, &bad_io, &t), -EINVAL);
    mmk_pattern_free(p);
    mmk_pattern_free(plain);

    /* Catastrophic backtracking on one line: MMK_ELIMIT at that line, no table. */
    static uint8_t s[4000];
    memcpy(s, "ok line\n", 8);
    memset(s + 8, 'a', sizeof s - 10);
    s[sizeof s - 2] = 'b';
    s[sizeof s - 1] = '\n';
    CHECK_OK(mmk_pattern_compile(&p, "(*LIMIT_MATCH=5000)(a+)+$", 25, MMK_PAT_LINES, NULL));
    for (uint64_t chunk = 0; chunk < 3; chunk++) {
        int64_t where = 0;
        mmk_scan_options o = {0};
        o.error_offset = &where;
        o.chunk_size = chunk * 100;
        in = mmk_input_bytes(s, sizeof s);
        t = NULL;
        CHECK_RC(mmk_count_by(p, 1, &in, &o, &t), MMK_ELIMIT);
        CHECK(t == NULL);
        CHECK_EQ(where, 8);
    }
    mmk_pattern_free(p);
}

/* ------------------------------------------------------------------------ */
/* Differential: GNU grep and Python's re on generated log text              */
/* ------------------------------------------------------------------------ */

static size_t make_log(uint8_t *b, size_t cap) {
    static const char *const methods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE", "HEAD"};
    static const char *const paths[] = {"/",
                                        "/index.html",
                                        "/api/v1/items",
                                        "/login",
                                        "/static/app.js",
                                        "/img/logo.png",
                                        "/api/v1/users/42"};
    static const char *const users[] = {"ann", "bob", "carol", "dave", "-", "eve_1"};
    static const int statuses[] = {200, 200, 200, 304, 404, 500, 301, 201};
    size_t n = 0;
    check_rng = 0xca11;
    while (n + 300 < cap) {
        int k = snprintf(
            (char *)b + n, cap - n,
            "10.%u.%u.%u - %s [30/Nov/2026:08:%02u:%02u +0000] \"%s %s HTTP/1.1\" %d %u "
            "user=%s level=%s\n",
            (unsigned)check_rnd_below(3), (unsigned)check_rnd_below(4),
            (unsigned)check_rnd_below(20), users[check_rnd_below(6)], (unsigned)check_rnd_below(60),
            (unsigned)check_rnd_below(60), methods[check_rnd_below(7)], paths[check_rnd_below(7)],
            statuses[check_rnd_below(8)], (unsigned)check_rnd_below(5000),
            users[check_rnd_below(6)], check_rnd_below(5) ? "info" : "ERROR");
        n += (size_t)k;
        if (check_rnd_below(50) == 0)
            b[n++] = '\n'; /* an empty line now and then */
    }
    return n;
}

/* Read "  COUNT VALUE" lines (uniq -c) into a reference table. */
static int read_uniq(FILE *f, ref_tab *r) {
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char *q = line;
        while (*q == ' ')
            q++;
        char *end;
        unsigned long long c = strtoull(q, &end, 10);
        if (end == q || *end != ' ')
            return -1;
        end++;
        size_t len = strlen(end);
        if (len && end[len - 1] == '\n')
            len--;
        ref_push(r, (const uint8_t *)end, len);
        r->v[r->n - 1].count = c;
    }
    ref_finish(r);
    return 0;
}

static int have_tool(const char *cmd) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s >/dev/null 2>&1", cmd);
    return system(buf) == 0;
}

static void test_differential(void) {
    size_t cap = 3u << 20;
    uint8_t *b = malloc(cap);
    size_t n = make_log(b, cap);
    const char *path = ts_path("log");
    CHECK_OK(ts_write_file(path, b, n));
    int grep_ok = have_tool("printf 'ab\\n' | grep -oP 'a\\Kb'");
    int py_ok = have_tool("python3 -c 'import re'");
    /* mmk's pattern, its group, and a grep -oP pattern printing just that. */
    static const struct {
        const char *pat;
        int group;
        const char *grep_pat;
        int icase;
    } cases[] = {
        {"\\d+\\.\\d+\\.\\d+\\.\\d+", 0, "\\d+\\.\\d+\\.\\d+\\.\\d+", 0},
        {"\"(GET|POST|PUT|DELETE|HEAD) ", 1, "\"\\K(GET|POST|PUT|DELETE|HEAD)(?= )", 0},
        {"\" (\\d{3}) ", 1, "\" \\K\\d{3}(?= )", 0},
        {"user=(\\w+)", 1, "user=\\K\\w+", 0},
        {"\\b(\\w+)\\.(?:js|png|html)\\b", 1, "\\b\\w+(?=\\.(?:js|png|html)\\b)", 0},
        {"error|get", 0, "error|get", 1},
        {"/api/v1/(\\w+)(?:/(\\d+))?", 2, "/api/v1/\\w+/\\K\\d+", 0},
        {":(\\d\\d)(?=:)", 1, ":\\K\\d\\d(?=:)", 0},
        {"[a-z]*", 0, "[a-z]*", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mmk_pattern *p = NULL;
        unsigned flags = MMK_PAT_LINES | (cases[k].icase ? MMK_PAT_ICASE : 0);
        CHECK_OK(mmk_pattern_compile(&p, cases[k].pat, strlen(cases[k].pat), flags, NULL));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        mmk_input in = mmk_input_fd(fd);
        mmk_wordtab *t = NULL;
        CHECK_OK(mmk_count_by(p, cases[k].group, &in, NULL, &t));
        close(fd);
        ref_tab ref = {0};
        CHECK_OK(ref_count_by(cases[k].pat, cases[k].icase, cases[k].group, b, n, &ref));
        CHECK(same_table(t, &ref, cases[k].pat));
        ref_free(&ref);
        if (grep_ok) {
            char cmd[1024];
            snprintf(cmd, sizeof cmd, "LC_ALL=C grep -oP%s '%s' '%s' | LC_ALL=C sort | uniq -c",
                     cases[k].icase ? "i" : "", cases[k].grep_pat, path);
            FILE *f = popen(cmd, "r");
            ref_tab g = {0};
            CHECK_OK(read_uniq(f, &g));
            CHECK_EQ(pclose(f), 0);
            if (!same_table(t, &g, "grep -oP | sort | uniq -c"))
                fprintf(stderr, "  %s\n", cmd);
            CHECK(same_table(t, &g, cases[k].grep_pat));
            CHECK(g.n > 0);
            ref_free(&g);
        }
        if (py_ok) {
            /* Python's re with grep -o's loop: search from pos in each line. */
            char cmd[2048];
            snprintf(cmd, sizeof cmd,
                     "python3 -c 'import re,sys,collections\n"
                     "r=re.compile(sys.argv[1].encode(),re.I if sys.argv[3]==\"1\" else 0)\n"
                     "g=int(sys.argv[2]);c=collections.Counter()\n"
                     "for ln in open(sys.argv[4],\"rb\").read().split(b\"\\n\"):\n"
                     "  p=0\n"
                     "  while p<=len(ln):\n"
                     "    m=r.search(ln,p)\n"
                     "    if not m: break\n"
                     "    if m.end()==m.start(): p=m.start()+1; continue\n"
                     "    if m.group(g) is not None: c[m.group(g)]+=1\n"
                     "    p=m.end()\n"
                     "for v,k in c.items(): sys.stdout.buffer.write(b\"%%d %%s\\n\"%%(k,v))\n"
                     "' '%s' %d %d '%s'",
                     cases[k].pat, cases[k].group, cases[k].icase, path);
            FILE *f = popen(cmd, "r");
            ref_tab py = {0};
            CHECK_OK(read_uniq(f, &py));
            CHECK_EQ(pclose(f), 0);
            CHECK(same_table(t, &py, "python re"));
            ref_free(&py);
        }
        mmk_wordtab_free(t);
        mmk_pattern_free(p);
    }
    unlink(path);
    free(b);
}

/* ------------------------------------------------------------------------ */
/* The searches of a buffer of lines (tally_hooks.h routes)                  */
/* ------------------------------------------------------------------------ */

/* Log-like lines built from fragments that stress the fast paths: a
   required literal several times on a line and at its ends, matches that
   start before the literal, CR before the newline, empty lines and values,
   invalid UTF-8 and NUL, no final newline sometimes. */
static size_t log_text(uint8_t *b, size_t cap) {
    static const char *const frag[] = {"HTTP/1.1\" 200 ",
                                       "HTTP/",
                                       "HTTP/2\" 404 ",
                                       "xHTTP/1.0\" 301 ",
                                       "\"GET /a?q HTTP/1.1\" 500 ",
                                       "\"POST /b/c ",
                                       "\"get /d ",
                                       "\"GET  ",
                                       "\"",
                                       " ",
                                       "\r",
                                       "\xff\xfe",
                                       "\0",
                                       "12345",
                                       "/p?",
                                       "http/9\" 777 ",
                                       "\" 200 ",
                                       "HTTP/.\" 1234 "};
    size_t n = 0, want = check_rnd_below(cap);
    while (n < want) {
        size_t k = check_rnd_below(sizeof frag / sizeof frag[0] + 3);
        const char *f = k < sizeof frag / sizeof frag[0] ? frag[k] : "\n";
        size_t fl = k == 12 ? 1 : strlen(f);
        if (n + fl > cap)
            break;
        memcpy(b + n, f, fl);
        n += fl;
    }
    return n;
}

/* Which patterns a buffer of lines serves (regex.c reads a class's members
   apart from its quantifier): the benchmark's path pattern is one, and a
   possessive repeat of a class that takes '\n' is still refused. */
static void test_buffer_safe(void) {
    static const struct {
        const char *pat;
        int safe;
    } cases[] = {
        {"\"[A-Z]+ ([^ ?\"]+)", 1}, {"[^?]+x", 1},  {"[^+?]*", 1},  {"[]?]+x", 1},
        {"[^\\]?]+x", 1},           {"[^?]++x", 0}, {"[^?]*+x", 0}, {"[^]?]++x", 0},
        {"[^\\]?]{2}+x", 0},        {"[^?]?+x", 0}, {"a++", 1},     {"(?>[^x]+)y", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mmk_pattern *p = NULL;
        CHECK_OK(mmk_pattern_compile(&p, cases[k].pat, strlen(cases[k].pat), MMK_PAT_LINES, NULL));
        if (!p)
            continue;
        if (mmk__lines_buffer_safe(p) != cases[k].safe)
            fprintf(stderr, "  %s: buffer-safe %d\n", cases[k].pat, mmk__lines_buffer_safe(p));
        CHECK_EQ(mmk__lines_buffer_safe(p), cases[k].safe);
        mmk_pattern_free(p);
    }
}

static void test_routes(void) {
    static const struct {
        const char *pat;
        int group;
    } cases[] = {
        {"HTTP/[0-9.]+\" (\\d{3}) ", 1}, /* the benchmark's status codes: literal first */
        {"HTTP/[0-9.]+\" (\\d{3}) ", 0},
        {"\"[A-Z]+ ([^ ?\"]+)", 1}, /* its paths: [^ ?"] takes '\n' */
        {"\"([^ \"]*)", 1},         /* buffer-safe and takes '\n': lines alone */
        {"^\\S+", 0},               /* its client addresses */
        {"x?HTTP/(\\S*)", 1},       /* a match may start before the literal */
        {"(\\S*)HTTP/", 1},         /* ... and end at it, values empty */
        {"(\\d+)\\r?$", 1},         /* CR LF line ends */
        {"(?i)http/([\\d.]*)", 1},  /* the literal without case */
        {"GET (\\S*)", 1},
        {"\\d{3}", 0},
        {"HTTP/", 0},
    };
    static uint8_t text[3000];
    static const uint64_t chunks[] = {1, 3, 7, 16, 64, 0};
    check_rng = 0x4077e5;
    unsigned rounds = TS_ROUNDS(240);
    for (unsigned r = 0; r < rounds; r++) {
        size_t k = r % (sizeof cases / sizeof cases[0]);
        size_t n = log_text(text, r < 24 ? 100 : sizeof text);
        mmk_pattern *p = NULL;
        CHECK_OK(mmk_pattern_compile(&p, cases[k].pat, strlen(cases[k].pat), MMK_PAT_LINES, NULL));
        if (!p)
            continue;
        ref_tab ref = {0};
        CHECK_OK(ref_count_by(cases[k].pat, 0, cases[k].group, text, n, &ref));
        for (int route = MMK__TALLY_ROUTE_AUTO; route <= MMK__TALLY_ROUTE_SCAN; route++) {
            mmk__tally_route = route;
            int kind = (int)check_rnd_below(TS_NKINDS);
            uint64_t chunk = chunks[check_rnd_below(sizeof chunks / sizeof chunks[0])];
            unsigned threads = 1 + (unsigned)check_rnd_below(2);
            mmk_wordtab *t = NULL;
            int rc = count_by_input(p, cases[k].group, kind, text, n, chunk, threads, &t);
            CHECK_OK(rc);
            int same = rc == 0 && same_table(t, &ref, cases[k].pat);
            if (!same)
                fprintf(stderr, "  pattern %s group %d, route %d, %s, chunk %llu, %u threads\n",
                        cases[k].pat, cases[k].group, route, ts_kind_names[kind],
                        (unsigned long long)chunk, threads);
            CHECK(same);
            mmk_wordtab_free(t);
        }
        mmk__tally_route = MMK__TALLY_ROUTE_AUTO;
        ref_free(&ref);
        mmk_pattern_free(p);
    }
}

/* The value table's short cuts (tally.c: words of a value compared and
   hashed in place, a '\n' looked for in words, small tables counted at
   once, big ones ahead of time) against the reference: values of every
   length 0..80 that differ from one another in one byte at each position,
   few of them (a table that stays small) and thousands (one that grows),
   and matches across a line end with the '\n' at every position. */
static void test_value_table(void) {
    static uint8_t text[1 << 20];
    static const uint64_t chunks[] = {64, 333, 4096, 65536, 0};
    check_rng = 0x7ab1e5;
    const char *pat = "=([^;]*);"; /* [^;] takes '\n': a buffer match may cross one */
    mmk_pattern *p = NULL;
    CHECK_OK(mmk_pattern_compile(&p, pat, strlen(pat), MMK_PAT_LINES, NULL));
    if (!p)
        return;
    for (unsigned round = 0; round < TS_ROUNDS(12); round++) {
        /* few: lengths 0..9, values 'a'* with one 'b' or 0xff; many: 0..80 */
        int many = round % 2, maxlen = many ? 80 : 9;
        size_t n = 0;
        for (int len = 0; len <= maxlen; len++) {
            for (int at = -1; at < len; at++) {
                unsigned times = 1 + (unsigned)check_rnd_below(3);
                for (unsigned t = 0; t < times && n + len + 8 < sizeof text; t++) {
                    text[n++] = '=';
                    for (int i = 0; i < len; i++)
                        text[n++] = i == at ? (check_rnd_below(2) ? 'b' : 0xff) : 'a';
                    /* sometimes a '\n' inside: the line alone has no value */
                    if (len && check_rnd_below(4) == 0)
                        text[n - 1 - check_rnd_below((size_t)len)] = '\n';
                    text[n++] = ';';
                    text[n++] = check_rnd_below(3) ? '\n' : ' ';
                }
            }
        }
        ref_tab ref = {0};
        CHECK_OK(ref_count_by(pat, 0, 1, text, n, &ref));
        for (int route = MMK__TALLY_ROUTE_AUTO; route <= MMK__TALLY_ROUTE_SCAN; route++) {
            mmk__tally_route = route;
            int kind = (int)check_rnd_below(TS_NKINDS);
            uint64_t chunk = chunks[check_rnd_below(sizeof chunks / sizeof chunks[0])];
            unsigned threads = 1 + (unsigned)check_rnd_below(3);
            mmk_wordtab *t = NULL;
            int rc = count_by_input(p, 1, kind, text, n, chunk, threads, &t);
            CHECK_OK(rc);
            int same = rc == 0 && same_table(t, &ref, pat);
            if (!same)
                fprintf(stderr, "  %s values, route %d, %s, chunk %llu, %u threads\n",
                        many ? "many" : "few", route, ts_kind_names[kind],
                        (unsigned long long)chunk, threads);
            CHECK(same);
            /* the two sizes of table the short cuts switch between */
            CHECK(rc != 0 || (many ? mmk_wordtab_size(t) > 1000 : mmk_wordtab_size(t) <= 100));
            mmk_wordtab_free(t);
        }
        mmk__tally_route = MMK__TALLY_ROUTE_AUTO;
        ref_free(&ref);
    }
    mmk_pattern_free(p);
}

/* Which patterns get the one-call search's code (mmk__regex_scan_compile),
   and that a limit reached over many lines, where each line alone stays
   below it, sends the search on match by match with the same answer. */
static void test_scan_code(void) {
    static const struct {
        const char *pat;
        unsigned flags;
        int ok;
    } cases[] = {
        {"HTTP/[0-9.]+\" (\\d{3}) ", 0, 1},
        {"\"[A-Z]+ ([^ ?\"]+)", 0, 1},
        {"(?x) (a+) # comment", 0, 1},
        {"(b)\\Qa(", 0, 1},
        {"(*LF)(a)", 0, 1},
        {"(a)(*PRUNE)b", 0, 0},
        {"(a(*ACCEPT)b)", 0, 0},
        {"(a|b(?R))", 0, 0},
        {"(a)(?C1)", 0, 0},
        {"(a)", MMK_PAT_WORD, 0},
        {"(a)", MMK_PAT_LINE_EXACT, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mmk_pattern *p = NULL;
        CHECK_OK(mmk_pattern_compile(&p, cases[k].pat, strlen(cases[k].pat),
                                     MMK_PAT_LINES | cases[k].flags, NULL));
        if (!p)
            continue;
        pcre2_code *code = NULL;
        int rc = p->kind == MMK__PAT_REGEX ? mmk__regex_scan_compile(&p->re, &code) : -1;
        if (rc != (cases[k].ok ? 0 : MMK_ENOTSUP))
            fprintf(stderr, "  %s: scan code %d\n", cases[k].pat, rc);
        CHECK_EQ(rc, cases[k].ok ? 0 : MMK_ENOTSUP);
        CHECK(cases[k].ok ? code != NULL : code == NULL);
        pcre2_code_free(code);
        mmk_pattern_free(p);
    }

    /* ((a+)+)+b backtracks exponentially on a line of a's without b: 18
       a's stay below PCRE2's match limit (10 million) alone, and some
       hundred such lines in one call go over it. */
    static uint8_t text[20000];
    size_t n = 0;
    for (int line = 0; n + 40 < sizeof text; line++) {
        if (line % 7 == 0) {
            memcpy(text + n, "aab aaab", 8);
            n += 8;
        } else {
            memset(text + n, 'a', 18);
            n += 18;
        }
        text[n++] = '\n';
    }
    const char *pat = "((a+)+)+b";
    mmk_pattern *p = NULL;
    CHECK_OK(mmk_pattern_compile(&p, pat, strlen(pat), MMK_PAT_LINES, NULL));
    if (!p)
        return;
    ref_tab ref = {0};
    CHECK_OK(ref_count_by(pat, 0, 2, text, n, &ref));
    unsigned long stops = __atomic_load_n(&mmk__tally_scan_stops, __ATOMIC_RELAXED);
    mmk__tally_route = MMK__TALLY_ROUTE_SCAN;
    mmk_wordtab *t = NULL;
    int rc = count_by_input(p, 2, TS_BYTES, text, n, 0, 1, &t);
    mmk__tally_route = MMK__TALLY_ROUTE_AUTO;
    CHECK_OK(rc);
    CHECK(rc == 0 && same_table(t, &ref, pat));
    CHECK(__atomic_load_n(&mmk__tally_scan_stops, __ATOMIC_RELAXED) > stops);
    mmk_wordtab_free(t);
    ref_free(&ref);
    mmk_pattern_free(p);
}

/* Matches holding a '\n' that run far past their lines ((a)[^x]*b on text
   without an 'x': from every line with an 'a' to the region's last 'b'):
   past the region's size in all, the region's rest goes line by line, with
   the reference's table, on both routes. */
static void test_overrun(void) {
    size_t n = (size_t)300 << 10;
    /* lines of about 16 bytes, without an 'x' */
    uint8_t *text = ts_random_text(n, "ab cab cab cab c\n", 17);
    static const char *const over_pats[] = {"(a)[^x]*b", "(b[^x]?)[^x]*a\\b"};
    unsigned long before = __atomic_load_n(&mmk__tally_overruns, __ATOMIC_RELAXED);
    for (size_t pi = 0; pi < 2; pi++) {
        const char *pat = over_pats[pi];
        mmk_pattern *p = NULL;
        CHECK_OK(mmk_pattern_compile(&p, pat, strlen(pat), MMK_PAT_LINES, NULL));
        if (!p)
            continue;
        ref_tab ref = {0};
        CHECK_OK(ref_count_by(pat, 0, 1, text, n, &ref));
        for (int route = 0; route < 2; route++)
            for (int kind = TS_BYTES; kind <= TS_MAP; kind++) {
                mmk__tally_route = route ? MMK__TALLY_ROUTE_SCAN : MMK__TALLY_ROUTE_AUTO;
                mmk_wordtab *tab = NULL;
                int rc = count_by_input(p, 1, kind, text, n, 65536, 1 + (unsigned)route, &tab);
                mmk__tally_route = MMK__TALLY_ROUTE_AUTO;
                CHECK_OK(rc);
                CHECK(rc == 0 && same_table(tab, &ref, pat));
                mmk_wordtab_free(tab);
            }
        ref_free(&ref);
        mmk_pattern_free(p);
    }
    CHECK(__atomic_load_n(&mmk__tally_overruns, __ATOMIC_RELAXED) > before);
    free(text);
}

/* The workers' value tables merge without piling up, as words' do. */
static int by_job(const void *ctx, const mmk_input *in, const mmk_scan_options *o,
                  mmk_wordtab **out) {
    return mmk_count_by(ctx, 1, in, o, out);
}

static void test_merge_spread(void) {
    mmk_pattern *p = NULL;
    CHECK_OK(mmk_pattern_compile(&p, "v(\\d+)", 6, MMK_PAT_LINES, NULL));
    ts_check_merge_spread('v', 400000, by_job, p);
    mmk_pattern_free(p);
}

int main(void) {
    test_merge_spread();
    test_errors();
    test_every_shape();
    test_literals_and_lists();
    test_random();
    test_buffer_safe();
    test_routes();
    test_value_table();
    test_scan_code();
    test_overrun();
    test_long_lines();
    test_differential();
    return CHECK_DONE();
}
