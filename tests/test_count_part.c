/*
 * test_count_part.c — mmk_count_part / mmk_count_part_fix: an input cut into
 * random parts, each counted speculatively and joined in order with the fix,
 * must give mmk_count's answer (the searcher's exact count, tested against
 * naive references in test_scan.c) and leave the state after the input's last
 * match, for every pattern shape: literals, self-overlapping literals, empty
 * matches, lookbehind and lookahead across part boundaries, whole words,
 * matches longer than a part. Each fix is asked first without the input (it
 * must answer exactly when it needs no bytes, and agree with the fix that
 * reads them) and then with it. Inputs: bytes, a map, a file descriptor and a
 * file range. Then every error path.
 */
#include "test_scan_util.h"

typedef struct last_match {
    uint64_t n, pos;
    int ne;
} last_match;

static int note_match(uint64_t a, uint64_t b, void *user) {
    last_match *m = user;
    m->n++;
    m->pos = b;
    m->ne = a == b;
    return 0;
}

static uint64_t stat_needed, stat_recorded;

/* Count `in` (n bytes) cut at the sorted cuts[0..ncuts) and check it. */
static void check_parts(const mmk_pattern *p, const mmk_input *in, uint64_t n, const uint64_t *cuts,
                        size_t ncuts, const char *what) {
    uint64_t want = 0;
    mmk_scan_options one = {0};
    one.threads = 1;
    CHECK_OK(mmk_count(p, in, &one, &want));
    last_match lm = {0, 0, 0};
    CHECK_OK(mmk_matches(p, in, &one, note_match, &lm));
    uint64_t pos = 0, total = 0, s = 0;
    int ne = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        uint64_t e = i < ncuts ? cuts[i] : n;
        mmk_part part, fixed, fixed2;
        int rc = mmk_count_part(p, in, s, e, NULL, &part);
        CHECK_OK(rc);
        if (rc)
            return;
        CHECK_EQ(part.start, s);
        CHECK_EQ(part.end, e);
        CHECK(part.nrec ==
              (part.count < MMK_COUNT_PART_RECORD ? part.count : MMK_COUNT_PART_RECORD));
        rc = mmk_count_part_fix(p, NULL, NULL, &part, pos, ne, &fixed);
        CHECK(rc == 0 || rc == 1);
        int r2 = mmk_count_part_fix(p, in, NULL, &part, pos, ne, &fixed2);
        CHECK_OK(r2);
        if (rc == 1) {
            stat_needed++;
        } else {
            stat_recorded++;
            /* What the record showed is what the bytes show. */
            CHECK_EQ(fixed.count, fixed2.count);
            CHECK_EQ(fixed.next_pos, fixed2.next_pos);
            CHECK_EQ(fixed.next_notempty, fixed2.next_notempty);
        }
        CHECK_EQ(fixed2.nrec, 0);
        total += fixed2.count;
        pos = fixed2.next_pos;
        ne = fixed2.next_notempty;
        s = e;
    }
    if (total != want)
        fprintf(stderr, "  %s: parts counted %llu, mmk_count %llu\n", what,
                (unsigned long long)total, (unsigned long long)want);
    CHECK_EQ(total, want);
    if (lm.n) {
        CHECK_EQ(pos, lm.pos);
        CHECK_EQ(ne, lm.ne);
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct pat_case {
    const char *pat;
    unsigned flags;
} pat_case;

static const pat_case pats[] = {
    {"a", MMK_PAT_FIXED},
    {"aa", MMK_PAT_FIXED},
    {"aba", MMK_PAT_FIXED},
    {"abab", MMK_PAT_FIXED},
    {"ab", MMK_PAT_FIXED | MMK_PAT_ICASE},
    {"ab", MMK_PAT_FIXED | MMK_PAT_WORD},
    {"", 0},
    {"a*", 0},
    {"b*", 0},
    {"|ab", 0},
    {"a|ab", 0},
    {"ab|a", 0},
    {"(?<=a)b", 0},
    {"(?<=ab)a+", 0},
    {"a(?=b)", 0},
    {"\\bab", 0},
    {"a.{0,5}b", 0},
    {"a[^\\n]*", 0},
    {"(?s)a.*b", 0},
    {"aa(?!a)", 0},
    {"^a", 0},
    {"(?m)^a", 0},
    {"(?m)b$", 0},
    {"\\z", 0},
    {"(?:ab)+", 0},
    {"[ab]{3}", 0},
    {"\\s+", 0},
    {"\\w+", 0},
};

static void random_rounds(void) {
    static const char alpha[] = "aaab \nA";
    int rounds = (int)TS_ROUNDS(300);
    for (int round = 0; round < rounds; round++) {
        size_t n = check_rnd_below(round % 7 == 0 ? 400 : 60);
        uint8_t *d = ts_random_text(n, alpha, sizeof alpha - 1);
        if (round % 5 == 1)
            memset(d, 'a', n); /* long runs: matches longer than parts, no resync */
        size_t ncuts = n ? check_rnd_below(8) : 0;
        uint64_t cuts[8];
        for (size_t i = 0; i < ncuts; i++)
            cuts[i] = check_rnd_below(n + 1);
        qsort(cuts, ncuts, sizeof cuts[0], cmp_u64);
        mmk_input in = mmk_input_bytes(d, n);
        for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
            mmk_pattern *p = NULL;
            if (mmk_pattern_compile(&p, pats[k].pat, strlen(pats[k].pat), pats[k].flags, NULL)) {
                CHECK(!"pattern compiles");
                continue;
            }
            check_parts(p, &in, n, cuts, ncuts, pats[k].pat);
            mmk_pattern_free(p);
        }
        free(d);
    }
    /* Cuts at every position of a small adversarial input, every pattern. */
    const char *adv = "aaaaabababab aab\n\nabaabaaba a";
    size_t an = strlen(adv);
    mmk_input in = mmk_input_bytes(adv, an);
    for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
        mmk_pattern *p = NULL;
        CHECK_OK(mmk_pattern_compile(&p, pats[k].pat, strlen(pats[k].pat), pats[k].flags, NULL));
        for (uint64_t c1 = 0; c1 <= an; c1++) {
            for (uint64_t c2 = c1; c2 <= an; c2 += 3) {
                uint64_t cuts[2] = {c1, c2};
                check_parts(p, &in, an, cuts, 2, pats[k].pat);
            }
        }
        mmk_pattern_free(p);
    }
}

/* Many matches per part: the walk goes past the record. */
static void dense(void) {
    size_t n = 5000;
    uint8_t *d = ts_random_text(n, "aaaaaaab", 8);
    mmk_input in = mmk_input_bytes(d, n);
    const char *dp[] = {"a", "aa", "aaa", "a+b?", "(?<=a)a"};
    for (size_t k = 0; k < 5; k++) {
        mmk_pattern *p = NULL;
        CHECK_OK(mmk_pattern_compile(&p, dp[k], strlen(dp[k]), 0, NULL));
        for (int r = 0; r < 20; r++) {
            uint64_t cuts[6];
            for (int i = 0; i < 6; i++)
                cuts[i] = check_rnd_below(n + 1);
            qsort(cuts, 6, sizeof cuts[0], cmp_u64);
            check_parts(p, &in, n, cuts, 6, dp[k]);
        }
        mmk_pattern_free(p);
    }
    free(d);
}

/* The same answers over a map, a descriptor and a file range. */
static void input_kinds(void) {
    const char *text = "abab aab\nab\nbaab abab ab";
    size_t n = strlen(text);
    const char *path = ts_path("count_part");
    CHECK_OK(ts_write_file(path, text, n));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_BINARY);
    CHECK(fd >= 0);
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, NULL));
    mmk_pattern *p = NULL;
    CHECK_OK(mmk_pattern_compile(&p, "(?<=a)b|ab", 10, 0, NULL));
    uint64_t cuts[3] = {3, 10, 11};
    mmk_input inputs[3] = {mmk_input_fd(fd), mmk_input_map(m, MMK_DEFAULT_POS, MMK_DEFAULT_POS),
                           mmk_input_bytes(text, n)};
    for (int i = 0; i < 3; i++)
        check_parts(p, &inputs[i], n, cuts, 3, "kinds");
    /* A range of the file is its own input: offsets relative to it. */
    mmk_input r = mmk_input_fd_range(fd, 5, 12);
    mmk_input rb = mmk_input_bytes(text + 5, 12);
    mmk_part a, b;
    CHECK_OK(mmk_count_part(p, &r, 2, 9, NULL, &a));
    CHECK_OK(mmk_count_part(p, &rb, 2, 9, NULL, &b));
    CHECK_EQ(a.count, b.count);
    CHECK_EQ(a.next_pos, b.next_pos);
    mmk_input mr = mmk_input_map(m, 5, 17);
    CHECK_OK(mmk_count_part(p, &mr, 2, 9, NULL, &a));
    CHECK_EQ(a.count, b.count);
    /* An empty file: the empty pattern matches once. */
    const char *epath = ts_path("count_part_empty");
    CHECK_OK(ts_write_file(epath, "", 0));
    int efd = open(epath, O_RDONLY | O_CLOEXEC | O_BINARY);
    mmk_pattern *empty = NULL;
    CHECK_OK(mmk_pattern_compile(&empty, "", 0, 0, NULL));
    mmk_input ein = mmk_input_fd(efd);
    CHECK_OK(mmk_count_part(empty, &ein, 0, 0, NULL, &a));
    CHECK_EQ(a.count, 1);
    mmk_input er = mmk_input_fd_range(fd, 4, 0);
    CHECK_OK(mmk_count_part(empty, &er, 0, 0, NULL, &a));
    CHECK_EQ(a.count, 1);
    mmk_pattern_free(empty);
    close(efd);

    /* Errors. */
    CHECK_RC(mmk_count_part(p, &inputs[0], 0, n + 1, NULL, &a), -EIO);
    CHECK_RC(mmk_count_part(p, &inputs[2], 0, n + 1, NULL, &a), -EINVAL);
    CHECK_RC(mmk_count_part(p, &inputs[2], 5, 4, NULL, &a), -EINVAL);
    CHECK_RC(mmk_count_part(NULL, &inputs[2], 0, 1, NULL, &a), -EINVAL);
    CHECK_RC(mmk_count_part(p, NULL, 0, 1, NULL, &a), -EINVAL);
    CHECK_RC(mmk_count_part(p, &inputs[2], 0, 1, NULL, NULL), -EINVAL);
    mmk_input bad_fd = mmk_input_fd(-1);
    CHECK_RC(mmk_count_part(p, &bad_fd, 0, 0, NULL, &a), -EBADF);
    mmk_input past = mmk_input_fd_range(fd, 5, 1000);
    CHECK_RC(mmk_count_part(p, &past, 0, 1, NULL, &a), -EIO);
    mmk_input reader = mmk_input_reader(NULL, NULL);
    CHECK_RC(mmk_count_part(p, &reader, 0, 0, NULL, &a), -EINVAL);
    mmk_pattern *lines = NULL;
    CHECK_OK(mmk_pattern_compile(&lines, "ab", 2, MMK_PAT_LINES, NULL));
    CHECK_RC(mmk_count_part(lines, &inputs[2], 0, 1, NULL, &a), -EINVAL);
    CHECK_OK(mmk_count_part(p, &inputs[2], 0, n, NULL, &a));
    CHECK_RC(mmk_count_part_fix(lines, &inputs[2], NULL, &a, 0, 0, &b), -EINVAL);
    mmk_pattern_free(lines);
    mmk_part forged = a;
    forged.nrec = 0; /* count > 0 with nothing recorded: not made by mmk_part */
    CHECK_RC(mmk_count_part_fix(p, &inputs[2], NULL, &forged, 1, 0, &b), -EINVAL);
    forged = a;
    forged.rec[1][0] = forged.rec[0][0]; /* out of order */
    CHECK_RC(mmk_count_part_fix(p, &inputs[2], NULL, &forged, 1, 0, &b), -EINVAL);
    CHECK_RC(mmk_count_part_fix(p, &inputs[2], NULL, NULL, 1, 0, &b), -EINVAL);
    /* A closed map. */
    CHECK_OK(mmk_close(m));
    CHECK_RC(mmk_count_part(p, &inputs[1], 0, 1, NULL, &a), MMK_ECLOSED);
    mmk_free(m);
    mmk_pattern_free(p);
    close(fd);

    /* The input changed between the part and its fix: -EIO, not a wrong count. */
    char aa[41], changed[41];
    memset(aa, 'a', 40);
    memset(changed, 'a', 33);
    memset(changed + 33, 'b', 7);
    mmk_pattern *two = NULL;
    CHECK_OK(mmk_pattern_compile(&two, "aa", 2, MMK_PAT_FIXED, NULL));
    mmk_input ain = mmk_input_bytes(aa, 40), cin = mmk_input_bytes(changed, 40);
    CHECK_OK(mmk_count_part(two, &ain, 0, 40, NULL, &a));
    CHECK_EQ(a.count, 20);
    CHECK_RC(mmk_count_part_fix(two, NULL, NULL, &a, 31, 0, &b), 1); /* inside (30, 32) */
    CHECK_RC(mmk_count_part_fix(two, &cin, NULL, &a, 31, 0, &b), -EIO);
    CHECK_OK(mmk_count_part_fix(two, &ain, NULL, &a, 31, 0, &b));
    CHECK_EQ(b.count, 4); /* (31,33) (33,35) (35,37) (37,39) */
    CHECK_EQ(b.next_pos, 39);
    mmk_pattern_free(two);

    /* The regex limit reports where the failing search started. */
    mmk_pattern *bt = NULL;
    const char *btp = "(*LIMIT_MATCH=1000)(a+)+$";
    CHECK_OK(mmk_pattern_compile(&bt, btp, strlen(btp), 0, NULL));
    char slow[64];
    memset(slow, 'a', 63);
    slow[63] = 'b';
    mmk_input sin = mmk_input_bytes(slow, 64);
    int64_t where = 7;
    mmk_scan_options so = {0};
    so.error_offset = &where;
    CHECK_RC(mmk_count_part(bt, &sin, 10, 64, &so, &a), MMK_ELIMIT);
    CHECK_EQ(where, 10);
    mmk_pattern_free(bt);
}

int main(void) {
    random_rounds();
    dense();
    input_kinds();
    /* Both ways of fixing were taken (else the test proves less than it says). */
    CHECK(stat_needed > 100);
    CHECK(stat_recorded > 100);
    printf("fixes: %llu from the record, %llu reading the input\n",
           (unsigned long long)stat_recorded, (unsigned long long)stat_needed);
    return CHECK_DONE();
}
