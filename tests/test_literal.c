/*
 * test_literal.c — the SIMD literal matcher against a naive reference, on
 * every CPU path this machine can run, with the subject placed right before
 * an unreadable guard page so that any read past its end faults.
 */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#ifndef _WIN32
#include <sys/mman.h>
#include <unistd.h>
#endif
#include "matcher.h"

static int ref_word(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
static uint8_t ref_fold(uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
}

/* The reference: try every start in order, as the definition says. */
static int ref_find(const uint8_t *nd, size_t n, unsigned flags, const uint8_t *s, size_t len,
                    size_t pos, size_t limit, int notempty, size_t *ms) {
    for (size_t c = pos; c < limit && c <= len; c++) {
        if (n == 0 && notempty && c == pos)
            continue;
        if (c + n > len)
            return 0;
        size_t k;
        for (k = 0; k < n; k++) {
            uint8_t a = s[c + k], b = nd[k];
            if (flags & MMK_PAT_ICASE) {
                a = ref_fold(a);
                b = ref_fold(b);
            }
            if (a != b)
                break;
        }
        if (k < n)
            continue;
        if (flags & MMK_PAT_WORD) {
            if (c > 0 && ref_word(s[c - 1]))
                continue;
            if (c + n < len && ref_word(s[c + n]))
                continue;
        }
        *ms = c;
        return 1;
    }
    return 0;
}

/* A buffer whose last byte sits right before a PROT_NONE page. */
typedef struct {
    uint8_t *base;
    size_t size, page;
} guarded;

static int guarded_init(guarded *g, size_t max_len) {
#ifdef _WIN32
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    g->page = si.dwPageSize;
#else
    g->page = (size_t)sysconf(_SC_PAGESIZE);
#endif
    size_t body = (max_len + g->page - 1) / g->page * g->page;
    g->size = body + g->page;
#ifdef _WIN32
    void *m = VirtualAlloc(NULL, g->size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!m)
        return -1;
    g->base = m;
    DWORD old;
    return VirtualProtect(g->base + body, g->page, PAGE_NOACCESS, &old) ? 0 : -1;
#else
    void *m = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    g->base = m;
    return mprotect(g->base + body, g->page, PROT_NONE);
#endif
}

static void guarded_free(guarded *g) {
#ifdef _WIN32
    VirtualFree(g->base, 0, MEM_RELEASE);
#else
    munmap(g->base, g->size);
#endif
}

/* Where a subject of `len` bytes must start to end at the guard page. */
static uint8_t *guarded_at(guarded *g, size_t len) {
    return g->base + (g->size - g->page) - len;
}

static const char *const alphabets[] = {
    "ab", "aab", "abc", "aA", "aAbB_ ", "the quick brown fox THE LORD Zerubbabel 0123456789 _-,.\n",
};
#define N_ALPHA (sizeof alphabets / sizeof alphabets[0])

static void fill(uint8_t *d, size_t n, int alpha) {
    if (alpha < 0) {
        for (size_t i = 0; i < n; i++)
            d[i] = (uint8_t)check_rnd();
        return;
    }
    const char *a = alphabets[alpha];
    size_t k = strlen(a);
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)a[check_rnd_below(k)];
}

static unsigned long compared;

/* Compare every mmk__find result of one needle against the reference over
   one subject: the full leftmost non-overlapping walk, then random calls. */
static void check_needle(const uint8_t *nd, size_t n, unsigned flags, const uint8_t *s,
                         size_t len) {
    mmk_pattern *p = NULL;
    int rc = mmk_pattern_compile(&p, nd, n, MMK_PAT_FIXED | flags, NULL);
    CHECK_RC(rc, 0);
    if (rc)
        return;
    CHECK(mmk__is_literal(p));
    CHECK_EQ(mmk__max_match_len(p), n);
    mmk__scratch *sc = mmk__scratch_new(p);
    CHECK(sc != NULL);
    int bad = 0;
    /* The walk the searcher does: after an empty match, forbid another at the same place. */
    size_t pos = 0;
    int ne = 0;
    while (pos <= len && !bad) {
        size_t ms = 0, me = 0, rs = 0;
        int got = mmk__find(p, sc, s, len, pos, len + 1, ne, &ms, &me);
        int want = ref_find(nd, n, flags, s, len, pos, len + 1, ne, &rs);
        compared++;
        if (got != want || (got == 1 && (ms != rs || me != rs + n))) {
            bad = 1;
            fprintf(
                stderr,
                "walk mismatch: n=%zu flags=%u len=%zu pos=%zu got=%d@%zu want=%d@%zu path=%s\n", n,
                flags, len, pos, got, ms, want, rs, mmk_cpu_path_name(mmk_cpu_path()));
            break;
        }
        if (!got)
            break;
        ne = me == ms;
        pos = me;
    }
    CHECK(!bad);
    for (int t = 0; t < 40 && !bad; t++) {
        size_t a = check_rnd_below(len + 1), b = check_rnd_below(len + 2);
        size_t ps = a < b ? a : b, lim = a < b ? b : a;
        size_t sub_len = len;
        if (t & 1) {
            /* A shorter subject: the end of input moves (lookahead, word test). */
            sub_len = lim + check_rnd_below(len - (lim > len ? len : lim) + 1);
            if (sub_len > len)
                sub_len = len;
            if (lim > sub_len + 1)
                lim = sub_len + 1;
            if (ps > lim)
                ps = lim;
        }
        int ne2 = (int)(check_rnd() & 1);
        size_t ms = 0, me = 0, rs = 0;
        /* The subject must end at the guard page, so shift it. */
        const uint8_t *sub = s + (len - sub_len);
        int got = mmk__find(p, sc, sub, sub_len, ps > sub_len ? sub_len : ps, lim, ne2, &ms, &me);
        int want = ref_find(nd, n, flags, sub, sub_len, ps > sub_len ? sub_len : ps, lim, ne2, &rs);
        compared++;
        if (got != want || (got == 1 && (ms != rs || me != rs + n))) {
            bad = 1;
            fprintf(stderr,
                    "call mismatch: n=%zu flags=%u len=%zu pos=%zu limit=%zu ne=%d got=%d@%zu "
                    "want=%d@%zu\n",
                    n, flags, sub_len, ps, lim, ne2, got, ms, want, rs);
        }
    }
    CHECK(!bad);
    mmk__scratch_free(sc);
    mmk_pattern_free(p);
}

static void random_round(guarded *g, size_t max_len) {
    static uint8_t needle[128];
    for (size_t n = 0; n <= 100; n++) {
        for (int rep = 0; rep < 12; rep++) {
            int alpha = (int)check_rnd_below(N_ALPHA + 1) - 1;
            size_t len;
            switch (rep % 3) {
            case 0:
                len = check_rnd_below(80);
                break;
            case 1:
                len = check_rnd_below(400);
                break;
            default:
                len = check_rnd_below(max_len + 1);
                break;
            }
            uint8_t *s = guarded_at(g, len);
            fill(s, len, alpha);
            if (len >= n && (check_rnd() & 3)) {
                /* A needle cut from the subject (so it occurs), sometimes
                   with one byte changed (a near miss). */
                size_t at = check_rnd_below(len - n + 1);
                memcpy(needle, s + at, n);
                if (n && (check_rnd() & 3) == 0)
                    needle[check_rnd_below(n)] ^= (uint8_t)(1u << check_rnd_below(8));
            } else {
                fill(needle, n, alpha);
            }
            /* Self-overlapping needles ("aaaa", "abab") stress restarts. */
            if (n >= 2 && rep % 6 == 5) {
                for (size_t k = 0; k < n; k++)
                    needle[k] = (uint8_t)(k % 2 ? 'b' : 'a');
            }
            unsigned flags = 0;
            if (check_rnd() & 1)
                flags |= MMK_PAT_ICASE;
            if ((check_rnd() & 3) == 0)
                flags |= MMK_PAT_WORD;
            check_needle(needle, n, flags, s, len);
        }
    }
}

/* Fixed adversarial cases: periodic text with periodic needles. */
static void adversarial(guarded *g) {
    static const char *const texts[] = {
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
        "abababababababababababababababababababababababababababababababababababa",
        "aabaabaabaabaabaabaabaabaabaabaabaabaabaabaabaabaabaabaabaabaabaabaab",
        "foo foo_foo Foo FOO foofoo foo, (foo) 1foo foo1 foo"};
    static const char *const needles[] = {
        "a",    "aa",  "aaa", "ab", "aba",
        "abab", "aab", "baa", "b",  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
        "foo",  "FOO"};
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        size_t len = strlen(texts[t]);
        uint8_t *s = guarded_at(g, len);
        memcpy(s, texts[t], len);
        for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++)
            for (unsigned flags = 0; flags < 8; flags += 2)
                check_needle((const uint8_t *)needles[k], strlen(needles[k]), flags, s, len);
    }
}

/* Long subjects with rare matches exercise the unrolled vector loops. */
static void long_subjects(guarded *g, size_t max_len) {
    for (int rep = 0; rep < 20; rep++) {
        size_t len = max_len - check_rnd_below(200);
        uint8_t *s = guarded_at(g, len);
        fill(s, len, 5);
        const char *nd = rep % 2 ? "Zerubbabel" : "LORD";
        size_t n = strlen(nd);
        for (int k = 0; k < 5; k++) {
            size_t at = check_rnd_below(len - n + 1);
            memcpy(s + at, nd, n);
        }
        /* Right at the end, so the last block and the guard page meet. */
        memcpy(s + len - n, nd, n);
        check_needle((const uint8_t *)nd, n, rep % 4 >= 2 ? MMK_PAT_ICASE : 0, s, len);
    }
}

static int cpu_has(int path) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    switch (path) {
    case MMK_CPU_SSE2:
        return __builtin_cpu_supports("sse2");
    case MMK_CPU_AVX2:
        return __builtin_cpu_supports("avx2");
    case MMK_CPU_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    default:
        return path == MMK_CPU_SCALAR;
    }
#else
    return path == MMK_CPU_SCALAR;
#endif
}

int main(void) {
    /* MMK_TEST_SEED picks another reproducible random sequence. */
    if (getenv("MMK_TEST_SEED"))
        check_rng ^= strtoull(getenv("MMK_TEST_SEED"), NULL, 0) * 0x9E3779B97F4A7C15ull | 1;
    const size_t max_len = 5000;
    guarded g;
    if (guarded_init(&g, max_len) != 0) {
        perror("guard page");
        return 1;
    }

    /* Path names and the dispatch knobs. */
    CHECK(strcmp(mmk_cpu_path_name(MMK_CPU_SCALAR), "scalar") == 0);
    CHECK(strcmp(mmk_cpu_path_name(MMK_CPU_SSE2), "sse2") == 0);
    CHECK(strcmp(mmk_cpu_path_name(MMK_CPU_AVX2), "avx2") == 0);
    CHECK(strcmp(mmk_cpu_path_name(MMK_CPU_AVX512), "avx512") == 0);
    CHECK(strcmp(mmk_cpu_path_name(99), "unknown") == 0);
    CHECK_RC(mmk_set_cpu_path(99), -EINVAL);
    CHECK_RC(mmk_set_cpu_path(-1), -EINVAL);
    int auto_path = mmk_cpu_path();
    CHECK(auto_path >= MMK_CPU_SCALAR && auto_path <= MMK_CPU_AVX512);
    CHECK(cpu_has(auto_path));

    int paths_run = 0;
    for (int path = MMK_CPU_SCALAR; path <= MMK_CPU_AVX512; path++) {
        int before = mmk_cpu_path();
        int rc = mmk_set_cpu_path(path);
        if (cpu_has(path)) {
#if !defined(__x86_64__) && !defined(__i386__)
            CHECK_RC(rc, 0);
#else
            /* A CPU may support AVX-512 that an old compiler could not build. */
            CHECK(rc == 0 || (path == MMK_CPU_AVX512 && rc == MMK_ENOTSUP));
#endif
        } else {
            CHECK_RC(rc, MMK_ENOTSUP);
        }
        if (rc != 0) {
            CHECK_EQ(mmk_cpu_path(), before); /* a refused path changes nothing */
            continue;
        }
        CHECK_EQ(mmk_cpu_path(), path);
        printf("path %s\n", mmk_cpu_path_name(path));
        paths_run++;
        random_round(&g, max_len);
        adversarial(&g);
        long_subjects(&g, max_len);
    }
    CHECK(paths_run >= 1);
    CHECK_OK(mmk_set_cpu_path(MMK_CPU_AUTO));
    CHECK_EQ(mmk_cpu_path(), auto_path);
    printf("%lu find calls compared\n", compared);
    guarded_free(&g);
    return CHECK_DONE();
}
