/*
 * test_match_oom.c — the matchers under allocation failure: every malloc,
 * calloc and realloc of compiling a pattern, making a scratch and searching
 * (in mmkit and in PCRE2) is made to fail in turn. Each must give -ENOMEM or
 * a working result, never a crash or a wrong answer.
 *
 * It replaces the C library's allocator entry points, so it runs without the
 * sanitizers (matcher.cmake registers the plain build only), and only on glibc.
 */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "pattern.h"

#ifdef __GLIBC__
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static long fail_at = -1, alloc_count;
static long live; /* blocks allocated and not yet freed */

static int inject(void) {
    return fail_at >= 0 && alloc_count++ == fail_at;
}

void *malloc(size_t n) {
    void *r = inject() ? NULL : __libc_malloc(n);
    live += r != NULL;
    return r;
}

void *calloc(size_t n, size_t size) {
    void *r = inject() ? NULL : __libc_calloc(n, size);
    live += r != NULL;
    return r;
}

void *realloc(void *p, size_t n) {
    if (inject())
        return NULL;
    void *r = __libc_realloc(p, n);
    live += (p == NULL && r != NULL) - (p != NULL && n == 0 && r == NULL);
    return r;
}

void free(void *p) {
    live -= p != NULL;
    __libc_free(p);
}

static const char text[] = "In the beginning God created the heaven and the earth.\n"
                           "And the LORD said unto Moses, Go thy way; he goeth forth.\n"
                           "Hezekiah and Jeremiah saith unto the LORD\n";

/* Compile, search, release; the match count, or a negative code. With
   interp, PCRE2's interpreter is used instead of its JIT code. */
static long scenario(const char *pat, unsigned flags, int interp) {
    mmk_pattern *p = NULL;
    mmk_pattern_error e;
    int rc = mmk_pattern_compile(&p, pat, strlen(pat), flags, &e);
    if (rc < 0)
        return rc;
    if (interp && p->kind == MMK__PAT_REGEX)
        p->re.jit = 0;
    mmk__scratch *sc = mmk__scratch_new(p);
    if (!sc) {
        mmk_pattern_free(p);
        return -ENOMEM;
    }
    long n = 0;
    size_t pos = 0, len = sizeof text - 1;
    int ne = 0;
    while (pos <= len) {
        size_t ms, me;
        int f = mmk__find(p, sc, (const uint8_t *)text, len, pos, len + 1, ne, &ms, &me);
        if (f < 0) {
            n = f;
            break;
        }
        if (f == 0)
            break;
        n++;
        ne = me == ms;
        pos = me;
    }
    mmk__scratch_free(sc);
    mmk_pattern_free(p);
    return n;
}

int main(void) {
    static const struct {
        const char *pat;
        unsigned flags;
    } cases[] = {
        {"LORD", MMK_PAT_FIXED},
        {"lord", MMK_PAT_ICASE},
        {"the", MMK_PAT_WORD},
        {"[a-z]+eth\\b", 0},
        {"[A-Z][a-z]+ah\\b", 0},
        {"a{,2}\\Z|(?a)x", 0},
        {"th(e|ou)", MMK_PAT_WORD},
        {"(?m)^\\w+", MMK_PAT_ICASE},
        {"", 0},
        {"x)", 0},
    };
    unsigned long injected = 0;
    /* Every scenario, failed or not, must free every block it allocated. */
    long live_before = live;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int interp = 0; interp < 2; interp++) {
            long want = scenario(cases[i].pat, cases[i].flags, interp);
            if (i + 1 < sizeof cases / sizeof cases[0])
                CHECK(want > 0);
            else
                CHECK_RC(want, MMK_EPATTERN); /* errors stay errors */
            for (long at = 0; at < 100000; at++) {
                alloc_count = 0;
                fail_at = at;
                long got = scenario(cases[i].pat, cases[i].flags, interp);
                fail_at = -1;
                if (alloc_count <= at) {
                    /* Ran without reaching the injected failure: done. */
                    CHECK_EQ(got, want);
                    CHECK_EQ(live, live_before);
                    break;
                }
                injected++;
                if (live != live_before) {
                    fprintf(stderr, "/%s/ failing allocation %ld leaks %ld blocks\n", cases[i].pat,
                            at, live - live_before);
                    CHECK(0);
                    live_before = live;
                }
                if (got != want && got != -ENOMEM) {
                    fprintf(stderr, "/%s/ failing allocation %ld: got %ld, want %ld or -ENOMEM\n",
                            cases[i].pat, at, got, want);
                    CHECK(0);
                }
            }
        }
    }
    CHECK(injected > 50);
    printf("%lu allocation failures injected\n", injected);
    return CHECK_DONE();
}
#else
int main(void) {
    printf("allocation failure injection needs glibc\n");
    return CHECK_DONE();
}
#endif
