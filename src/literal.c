/*
 * literal.c — SIMD substring search with runtime CPU dispatch.
 *
 * The filter is the "two rare bytes" scheme: pick two needle positions whose
 * bytes are rare in typical text, compare 16/32/64 text bytes at once against
 * each (shifted by their offsets in the needle), AND the two masks, and verify
 * the few surviving candidates exactly. On English text most vector blocks
 * have no candidate at all, so the loop runs at load speed. (The AVX2 loop
 * tests the rarer byte alone over 128 bytes first and loads the second
 * stream only when that byte occurs; measured faster here than testing both.)
 *
 * Paths: scalar (memchr on the rarest byte, then verify; the fallback on
 * non-x86), SSE2, AVX2, AVX-512BW. All give identical results; tests force
 * each with mmk_set_cpu_path and compare it with a naive reference.
 *
 * Every vector path reads only bytes it may: a block is loaded only when all
 * of its candidate starts lie in [from, last_start], and last_start + n <= len,
 * so the highest byte touched is below len. The leftover starts are done by
 * one overlapping block (masked) or by the scalar loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MMK_X86 1
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 7)
#define MMK_HAVE_AVX512 1
#endif
#endif

#include "literal.h"
#include "mmkit.h"

/* ------------------------------------------------------------------------ */
/* Byte classes                                                              */
/* ------------------------------------------------------------------------ */

static inline uint8_t fold(uint8_t c) {
    return (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

static inline int is_letter(uint8_t c) {
    return fold(c) >= 'a' && fold(c) <= 'z';
}

static inline uint8_t other_case(uint8_t c) {
    if (c >= 'A' && c <= 'Z')
        return (uint8_t)(c + 32);
    if (c >= 'a' && c <= 'z')
        return (uint8_t)(c - 32);
    return c;
}

static inline int is_word_byte(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* How common a byte is in the text people search (English prose, code, logs),
   on a 0..255 scale. Only the order matters: it decides which needle bytes the
   vector filter compares on. Letter ranks follow English letter frequency. */
unsigned mmk__byte_freq(uint8_t b) {
    static const uint8_t lower[26] = {
        /* a */ 225, /* b */ 150, /* c */ 175, /* d */ 195, /* e */ 240, /* f */ 165,
        /* g */ 160, /* h */ 211, /* i */ 218, /* j */ 90,  /* k */ 120, /* l */ 192,
        /* m */ 172, /* n */ 217, /* o */ 222, /* p */ 155, /* q */ 80,  /* r */ 208,
        /* s */ 212, /* t */ 230, /* u */ 180, /* v */ 130, /* w */ 165, /* x */ 85,
        /* y */ 160, /* z */ 80};
    if (b >= 'a' && b <= 'z')
        return lower[b - 'a'];
    if (b >= 'A' && b <= 'Z') {
        /* Capitals follow the lowercase order, scaled down (sentence starts,
           names, acronyms). */
        return 40u + lower[b - 'A'] / 3u;
    }
    if (b >= '0' && b <= '9')
        return b <= '2' ? 110 : 100;
    switch (b) {
    case ' ':
        return 255;
    case '\n':
        return 170;
    case ',':
        return 160;
    case '.':
        return 150;
    case ':':
    case ';':
    case '\'':
    case '-':
        return 105;
    case '"':
    case '\t':
    case '\r':
    case '/':
    case '_':
    case '=':
        return 90;
    case '(':
    case ')':
    case '!':
    case '?':
        return 80;
    case 0:
        return 40;
    default:
        break;
    }
    if (b < 0x20 || b == 0x7f)
        return 10;
    if (b >= 0x80)
        return 30;
    return 50; /* other ASCII punctuation */
}

/* Under -i a letter's filter admits both cases, so its rarity is the sum. */
static unsigned needle_byte_freq(uint8_t b, int icase) {
    unsigned f = mmk__byte_freq(b);
    if (icase && other_case(b) != b)
        f += mmk__byte_freq(other_case(b));
    return f;
}

int mmk__literal_init(mmk__literal *l, const void *needle, size_t n, int icase, int word) {
    memset(l, 0, sizeof *l);
    l->needle = malloc(n ? n : 1);
    if (!l->needle)
        return -ENOMEM;
    if (n)
        memcpy(l->needle, needle, n);
    l->n = n;
    l->icase = icase != 0;
    l->word = word != 0;
    if (l->icase)
        for (size_t i = 0; i < n; i++)
            l->needle[i] = fold(l->needle[i]);
    if (n == 0)
        return 0;

    /* The rarest byte first; then the rarest at another offset, preferring a
       different byte value (two equal bytes filter no better than one) and,
       among equals, the one farthest away (less correlated with the first).
       Two letters side by side count as 48 units more frequent than the
       second is: text is made of common letter pairs, so a pair's
       frequency is not the product of its bytes'. For "eth" the filter took
       't' beside 'h', and "th" occurs 3.5 million times in 50 MB of the
       bench text, "e?h" 388,000 times: 'e' two places off it is now. */
    size_t o1 = 0;
    for (size_t i = 1; i < n; i++)
        if (needle_byte_freq(l->needle[i], l->icase) < needle_byte_freq(l->needle[o1], l->icase))
            o1 = i;
    size_t o2 = o1;
    if (n >= 2) {
        long best = -1;
        for (size_t i = 0; i < n; i++) {
            if (i == o1)
                continue;
            long score = (long)(1024 - needle_byte_freq(l->needle[i], l->icase)) * 4096;
            if (l->needle[i] != l->needle[o1])
                score += 1L << 24;
            size_t dist = i > o1 ? i - o1 : o1 - i;
            if (dist == 1 && is_letter(l->needle[i]) && is_letter(l->needle[o1]))
                score -= 48L * 4096;
            score += (long)(dist < 4095 ? dist : 4095);
            if (score > best) {
                best = score;
                o2 = i;
            }
        }
    }
    l->off1 = o1;
    l->off2 = o2;
    l->b1 = l->needle[o1];
    l->b2 = l->needle[o2];
    l->b1alt = l->icase ? other_case(l->b1) : l->b1;
    l->b2alt = l->icase ? other_case(l->b2) : l->b2;
    if (n <= 8) {
        uint8_t ones[8] = {0};
        memset(ones, 0xff, n);
        memcpy(&l->mask8, ones, 8);
        uint8_t w[8] = {0};
        memcpy(w, l->needle, n);
        memcpy(&l->word8, w, 8);
    }
    l->fold1 = l->b1alt != l->b1 ? 0x20 : 0;
    l->fold2 = l->b2alt != l->b2 ? 0x20 : 0;
    return 0;
}

void mmk__literal_destroy(mmk__literal *l) {
    if (!l)
        return;
    free(l->needle);
    l->needle = NULL;
}

/* ASCII-lowercase eight bytes at once: a byte gets 0x20 added when it is in
   'A'..'Z' (high bit clear, >= 'A', <= 'Z'); per-byte sums never carry. */
static inline uint64_t fold8(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t h = x & (0x7f * ones);
    uint64_t ge_a = h + (0x80 - 'A') * ones;
    uint64_t gt_z = h + (0x80 - 'Z' - 1) * ones;
    uint64_t upper = ge_a & ~gt_z & ~x & (0x80 * ones);
    return x | (upper >> 2);
}

/* 1 if the needle occurs exactly at t (n bytes readable there). Written
   without library calls so that the vector loops that call it keep their
   constants in registers. */
static inline int verify(const mmk__literal *l, const uint8_t *t) {
    const uint8_t *nd = l->needle;
    const size_t n = l->n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t a, b;
        memcpy(&a, t + i, 8);
        memcpy(&b, nd + i, 8);
        if ((l->icase ? fold8(a) : a) != b)
            return 0;
    }
    for (; i < n; i++)
        if ((l->icase ? fold(t[i]) : t[i]) != nd[i])
            return 0;
    return 1;
}

/* verify() for a candidate c of a vector loop, where bytes up to last + n may
   be read: a needle of up to 8 bytes is compared as one masked word. */
static inline int verify_at(const mmk__literal *l, const uint8_t *s, size_t c, size_t last) {
    if (l->n <= 8 && c + 8 <= last + l->n) {
        uint64_t w;
        memcpy(&w, s + c, 8);
        if (l->icase)
            w = fold8(w);
        return ((w ^ l->word8) & l->mask8) == 0;
    }
    return verify(l, s + c);
}

/* ------------------------------------------------------------------------ */
/* Scalar path: memchr on the rarest byte, then verify                       */
/* ------------------------------------------------------------------------ */

static size_t scan_scalar(const mmk__literal *l, const uint8_t *s, size_t from, size_t last) {
    const uint8_t *p1 = s + l->off1;
    size_t i = from;
    if (l->b1 == l->b1alt) {
        while (i <= last) {
            const uint8_t *hit = memchr(p1 + i, l->b1, last - i + 1);
            if (!hit)
                return SIZE_MAX;
            size_t c = (size_t)(hit - p1);
            if (verify(l, s + c))
                return c;
            i = c + 1;
        }
        return SIZE_MAX;
    }
    /* A letter under -i: two memchr streams, one per case, merged in order. */
    size_t next_lo = SIZE_MAX - 1, next_up = SIZE_MAX - 1; /* not yet searched */
    while (i <= last) {
        if (next_lo < i || next_lo == SIZE_MAX - 1) {
            const uint8_t *h = memchr(p1 + i, l->b1, last - i + 1);
            next_lo = h ? (size_t)(h - p1) : SIZE_MAX;
        }
        if (next_up < i || next_up == SIZE_MAX - 1) {
            const uint8_t *h = memchr(p1 + i, l->b1alt, last - i + 1);
            next_up = h ? (size_t)(h - p1) : SIZE_MAX;
        }
        size_t c = next_lo < next_up ? next_lo : next_up;
        if (c == SIZE_MAX)
            return SIZE_MAX;
        if (verify(l, s + c))
            return c;
        i = c + 1;
    }
    return SIZE_MAX;
}

#ifdef MMK_X86

/* Candidates of one block: bit k set means start base + k passed the filter. */
#define MMK_VERIFY_MASK(l, s, base, mask)                                                          \
    do {                                                                                           \
        while (mask) {                                                                             \
            size_t c_ = (base) + (size_t)__builtin_ctzll((unsigned long long)(mask));              \
            if (verify_at((l), (s), c_, last))                                                     \
                return c_;                                                                         \
            (mask) &= (mask)-1;                                                                    \
        }                                                                                          \
    } while (0)

/*
 * Case folding in the filter: for an ASCII letter b (stored lowercase),
 * (x | 0x20) == b holds exactly for x in {b, b - 32}; for any other byte the
 * OR mask is 0 and the test is plain equality. So -i costs one OR per vector
 * and no second compare. The bodies below are written once and instantiated
 * for exact and -i search (icase is a compile-time constant in each).
 */

__attribute__((target("sse2"), always_inline)) static inline unsigned
filter16(const uint8_t *p1, const uint8_t *p2, __m128i v1, __m128i m1, __m128i v2, __m128i m2,
         int icase) {
    __m128i a = _mm_loadu_si128((const __m128i *)p1);
    __m128i b = _mm_loadu_si128((const __m128i *)p2);
    if (icase) {
        a = _mm_or_si128(a, m1);
        b = _mm_or_si128(b, m2);
    }
    return (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, v1), _mm_cmpeq_epi8(b, v2)));
}

__attribute__((target("sse2"), always_inline)) static inline size_t
scan_sse2_body(const mmk__literal *l, const uint8_t *s, size_t from, size_t last, int icase) {
    const __m128i v1 = _mm_set1_epi8((char)l->b1), m1 = _mm_set1_epi8((char)l->fold1);
    const __m128i v2 = _mm_set1_epi8((char)l->b2), m2 = _mm_set1_epi8((char)l->fold2);
    const uint8_t *p1 = s + l->off1, *p2 = s + l->off2;
    size_t i = from;
    if (last - from + 1 < 16)
        return scan_scalar(l, s, from, last);
    for (; i + 63 <= last; i += 64) {
        unsigned m0 = filter16(p1 + i, p2 + i, v1, m1, v2, m2, icase);
        unsigned mk1 = filter16(p1 + i + 16, p2 + i + 16, v1, m1, v2, m2, icase);
        unsigned mk2 = filter16(p1 + i + 32, p2 + i + 32, v1, m1, v2, m2, icase);
        unsigned mk3 = filter16(p1 + i + 48, p2 + i + 48, v1, m1, v2, m2, icase);
        if (m0 | mk1 | mk2 | mk3) {
            uint64_t mask = (uint64_t)m0 | ((uint64_t)mk1 << 16) | ((uint64_t)mk2 << 32) |
                            ((uint64_t)mk3 << 48);
            MMK_VERIFY_MASK(l, s, i, mask);
        }
    }
    for (; i + 15 <= last; i += 16) {
        unsigned mask = filter16(p1 + i, p2 + i, v1, m1, v2, m2, icase);
        MMK_VERIFY_MASK(l, s, i, mask);
    }
    if (i <= last) {
        size_t j = last - 15;
        unsigned mask = filter16(p1 + j, p2 + j, v1, m1, v2, m2, icase);
        mask &= ~0u << (i - j);
        MMK_VERIFY_MASK(l, s, j, mask);
    }
    return SIZE_MAX;
}

__attribute__((target("sse2"))) static size_t scan_sse2(const mmk__literal *l, const uint8_t *s,
                                                        size_t from, size_t last) {
    return l->icase ? scan_sse2_body(l, s, from, last, 1) : scan_sse2_body(l, s, from, last, 0);
}

__attribute__((target("avx2"), always_inline)) static inline __m256i
eq32(const uint8_t *p, __m256i v, __m256i m, int icase) {
    __m256i x = _mm256_loadu_si256((const __m256i *)p);
    if (icase)
        x = _mm256_or_si256(x, m);
    return _mm256_cmpeq_epi8(x, v);
}

__attribute__((target("avx2"), always_inline)) static inline __m256i
filter32(const uint8_t *p1, const uint8_t *p2, __m256i v1, __m256i m1, __m256i v2, __m256i m2,
         int icase) {
    __m256i a = _mm256_loadu_si256((const __m256i *)p1);
    __m256i b = _mm256_loadu_si256((const __m256i *)p2);
    if (icase) {
        a = _mm256_or_si256(a, m1);
        b = _mm256_or_si256(b, m2);
    }
    return _mm256_and_si256(_mm256_cmpeq_epi8(a, v1), _mm256_cmpeq_epi8(b, v2));
}

__attribute__((target("avx2"), always_inline)) static inline size_t
scan_avx2_body(const mmk__literal *l, const uint8_t *s, size_t from, size_t last, int icase) {
    const __m256i v1 = _mm256_set1_epi8((char)l->b1), m1 = _mm256_set1_epi8((char)l->fold1);
    const __m256i v2 = _mm256_set1_epi8((char)l->b2), m2 = _mm256_set1_epi8((char)l->fold2);
    const uint8_t *p1 = s + l->off1, *p2 = s + l->off2;
    size_t i = from;
    if (last - from + 1 < 32)
        return scan_sse2(l, s, from, last);
    /* Four blocks per round. The first needle byte alone is tested first
       (one load stream, like memchr); the second is loaded and compared only
       for rounds where the first occurs at all. */
    for (; i + 127 <= last; i += 128) {
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(p1 + i));
        __m256i x1 = _mm256_loadu_si256((const __m256i *)(p1 + i + 32));
        __m256i x2 = _mm256_loadu_si256((const __m256i *)(p1 + i + 64));
        __m256i x3 = _mm256_loadu_si256((const __m256i *)(p1 + i + 96));
        if (icase) {
            x0 = _mm256_or_si256(x0, m1);
            x1 = _mm256_or_si256(x1, m1);
            x2 = _mm256_or_si256(x2, m1);
            x3 = _mm256_or_si256(x3, m1);
        }
        __m256i e0 = _mm256_cmpeq_epi8(x0, v1), e1 = _mm256_cmpeq_epi8(x1, v1);
        __m256i e2 = _mm256_cmpeq_epi8(x2, v1), e3 = _mm256_cmpeq_epi8(x3, v1);
        __m256i any = _mm256_or_si256(_mm256_or_si256(e0, e1), _mm256_or_si256(e2, e3));
        if (_mm256_testz_si256(any, any))
            continue;
        e0 = _mm256_and_si256(e0, eq32(p2 + i, v2, m2, icase));
        e1 = _mm256_and_si256(e1, eq32(p2 + i + 32, v2, m2, icase));
        e2 = _mm256_and_si256(e2, eq32(p2 + i + 64, v2, m2, icase));
        e3 = _mm256_and_si256(e3, eq32(p2 + i + 96, v2, m2, icase));
        uint64_t lo = (uint64_t)(uint32_t)_mm256_movemask_epi8(e0) |
                      ((uint64_t)(uint32_t)_mm256_movemask_epi8(e1) << 32);
        uint64_t hi = (uint64_t)(uint32_t)_mm256_movemask_epi8(e2) |
                      ((uint64_t)(uint32_t)_mm256_movemask_epi8(e3) << 32);
        MMK_VERIFY_MASK(l, s, i, lo);
        MMK_VERIFY_MASK(l, s, i + 64, hi);
    }
    for (; i + 31 <= last; i += 32) {
        uint32_t mask =
            (uint32_t)_mm256_movemask_epi8(filter32(p1 + i, p2 + i, v1, m1, v2, m2, icase));
        MMK_VERIFY_MASK(l, s, i, mask);
    }
    if (i <= last) {
        size_t j = last - 31;
        uint32_t mask =
            (uint32_t)_mm256_movemask_epi8(filter32(p1 + j, p2 + j, v1, m1, v2, m2, icase));
        mask &= ~0u << (i - j);
        MMK_VERIFY_MASK(l, s, j, mask);
    }
    return SIZE_MAX;
}

__attribute__((target("avx2"))) static size_t scan_avx2(const mmk__literal *l, const uint8_t *s,
                                                        size_t from, size_t last) {
    return l->icase ? scan_avx2_body(l, s, from, last, 1) : scan_avx2_body(l, s, from, last, 0);
}

#ifdef MMK_HAVE_AVX512
__attribute__((target("avx512f,avx512bw"), always_inline)) static inline uint64_t
filter64(const uint8_t *p1, const uint8_t *p2, __m512i v1, __m512i m1, __m512i v2, __m512i m2,
         int icase) {
    __m512i a = _mm512_loadu_si512((const void *)p1);
    __m512i b = _mm512_loadu_si512((const void *)p2);
    if (icase) {
        a = _mm512_or_si512(a, m1);
        b = _mm512_or_si512(b, m2);
    }
    return (uint64_t)(_mm512_cmpeq_epi8_mask(a, v1) & _mm512_cmpeq_epi8_mask(b, v2));
}

__attribute__((target("avx512f,avx512bw,avx2"), always_inline)) static inline size_t
scan_avx512_body(const mmk__literal *l, const uint8_t *s, size_t from, size_t last, int icase) {
    const __m512i v1 = _mm512_set1_epi8((char)l->b1), m1 = _mm512_set1_epi8((char)l->fold1);
    const __m512i v2 = _mm512_set1_epi8((char)l->b2), m2 = _mm512_set1_epi8((char)l->fold2);
    const uint8_t *p1 = s + l->off1, *p2 = s + l->off2;
    size_t i = from;
    if (last - from + 1 < 64)
        return scan_avx2(l, s, from, last);
    for (; i + 127 <= last; i += 128) {
        uint64_t lo = filter64(p1 + i, p2 + i, v1, m1, v2, m2, icase);
        uint64_t hi = filter64(p1 + i + 64, p2 + i + 64, v1, m1, v2, m2, icase);
        if (lo | hi) {
            MMK_VERIFY_MASK(l, s, i, lo);
            MMK_VERIFY_MASK(l, s, i + 64, hi);
        }
    }
    for (; i + 63 <= last; i += 64) {
        uint64_t mask = filter64(p1 + i, p2 + i, v1, m1, v2, m2, icase);
        MMK_VERIFY_MASK(l, s, i, mask);
    }
    if (i <= last) {
        size_t j = last - 63;
        uint64_t mask = filter64(p1 + j, p2 + j, v1, m1, v2, m2, icase);
        mask &= ~0ull << (i - j);
        MMK_VERIFY_MASK(l, s, j, mask);
    }
    return SIZE_MAX;
}

__attribute__((target("avx512f,avx512bw,avx2"))) static size_t
scan_avx512(const mmk__literal *l, const uint8_t *s, size_t from, size_t last) {
    return l->icase ? scan_avx512_body(l, s, from, last, 1) : scan_avx512_body(l, s, from, last, 0);
}
#endif /* MMK_HAVE_AVX512 */
#endif /* MMK_X86 */

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                  */
/* ------------------------------------------------------------------------ */

/* The chosen path; 0 until first use. Read and written with relaxed atomics:
   racing first uses all store the same value. */
static int g_cpu_path;

static int path_supported(int path) {
    switch (path) {
    case MMK_CPU_SCALAR:
        return 1;
#ifdef MMK_X86
    case MMK_CPU_SSE2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("sse2");
    case MMK_CPU_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");
#ifdef MMK_HAVE_AVX512
    case MMK_CPU_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx2");
#endif
#endif
    default:
        return 0;
    }
}

static int best_path(void) {
    for (int p = MMK_CPU_AVX512; p > MMK_CPU_SCALAR; p--)
        if (path_supported(p))
            return p;
    return MMK_CPU_SCALAR;
}

static inline int current_path(void) {
    int p = __atomic_load_n(&g_cpu_path, __ATOMIC_RELAXED);
    if (p == 0) {
        p = best_path();
        __atomic_store_n(&g_cpu_path, p, __ATOMIC_RELAXED);
    }
    return p;
}

int mmk_set_cpu_path(int path) {
    if (path == MMK_CPU_AUTO) {
        __atomic_store_n(&g_cpu_path, best_path(), __ATOMIC_RELAXED);
        return 0;
    }
    if (path < MMK_CPU_SCALAR || path > MMK_CPU_AVX512)
        return -EINVAL;
    if (!path_supported(path))
        return MMK_ENOTSUP;
    __atomic_store_n(&g_cpu_path, path, __ATOMIC_RELAXED);
    return 0;
}

int mmk_cpu_path(void) {
    return current_path();
}

const char *mmk_cpu_path_name(int path) {
    switch (path) {
    case MMK_CPU_AUTO:
        return "auto";
    case MMK_CPU_SCALAR:
        return "scalar";
    case MMK_CPU_SSE2:
        return "sse2";
    case MMK_CPU_AVX2:
        return "avx2";
    case MMK_CPU_AVX512:
        return "avx512";
    default:
        return "unknown";
    }
}

/* The dispatch, inlined into both entry points: mmk__find runs once per
   match, so each call level counts on text with frequent matches. */
static inline size_t scan_dispatch(const mmk__literal *l, const uint8_t *s, size_t from,
                                   size_t last) {
    if (from > last)
        return SIZE_MAX;
    if (l->n == 1 && !l->icase) {
        /* glibc's memchr is already vectorised for every CPU it runs on. */
        const uint8_t *hit = memchr(s + from, l->b1, last - from + 1);
        return hit ? (size_t)(hit - s) : SIZE_MAX;
    }
    switch (current_path()) {
#ifdef MMK_X86
#ifdef MMK_HAVE_AVX512
    case MMK_CPU_AVX512:
        return scan_avx512(l, s, from, last);
#endif
    case MMK_CPU_AVX2:
        return scan_avx2(l, s, from, last);
    case MMK_CPU_SSE2:
        return scan_sse2(l, s, from, last);
#endif
    default:
        return scan_scalar(l, s, from, last);
    }
}

size_t mmk__literal_scan(const mmk__literal *l, const uint8_t *s, size_t from, size_t last) {
    return scan_dispatch(l, s, from, last);
}

/* The whole-word test of -w at a match [c, c + n): what
   (?<![A-Za-z0-9_])lit(?![A-Za-z0-9_]) checks; for -x the whole-line test
   (the match is a line of its subject: ^lit$ in multi-line mode). */
static inline int word_ok(const mmk__literal *l, const uint8_t *s, size_t len, size_t c, size_t n) {
    if (l->exact)
        return (c == 0 || s[c - 1] == '\n') && (c + n == len || s[c + n] == '\n');
    if (c > 0 && is_word_byte(s[c - 1]))
        return 0;
    if (c + n < len && is_word_byte(s[c + n]))
        return 0;
    return 1;
}

size_t mmk__literal_find(const mmk__literal *l, const uint8_t *s, size_t len, size_t pos,
                         size_t limit, int notempty_at_pos) {
    if (limit > len + 1)
        limit = len + 1;
    if (l->n == 0) {
        for (size_t c = pos + (notempty_at_pos ? 1 : 0); c < limit; c++)
            if (!(l->word || l->exact) || word_ok(l, s, len, c, 0))
                return c;
        return SIZE_MAX;
    }
    if (len < l->n || pos >= limit)
        return SIZE_MAX;
    size_t last = len - l->n;
    if (last > limit - 1)
        last = limit - 1;
    size_t c = pos;
    while (c <= last) {
        c = scan_dispatch(l, s, c, last);
        if (c == SIZE_MAX || !(l->word || l->exact) || word_ok(l, s, len, c, l->n))
            return c;
        c++;
    }
    return SIZE_MAX;
}

size_t mmk__literal_find_naive(const mmk__literal *l, const uint8_t *s, size_t len, size_t pos,
                               size_t limit, int notempty_at_pos) {
    for (size_t c = pos; c < limit && c <= len; c++) {
        if (l->n == 0 && notempty_at_pos && c == pos)
            continue;
        if (len - c < l->n)
            break;
        size_t k = 0;
        while (k < l->n && (l->icase ? fold(s[c + k]) : s[c + k]) == l->needle[k])
            k++;
        if (k < l->n)
            continue;
        if (l->exact) {
            if (c > 0 && s[c - 1] != '\n')
                continue;
            if (c + l->n < len && s[c + l->n] != '\n')
                continue;
        } else if (l->word) {
            if (c > 0 && is_word_byte(s[c - 1]))
                continue;
            if (c + l->n < len && is_word_byte(s[c + l->n]))
                continue;
        }
        return c;
    }
    return SIZE_MAX;
}

/* ------------------------------------------------------------------------ */
/* Lists of literals (grep -F -e A -e B, -F -f FILE)                         */
/* ------------------------------------------------------------------------ */

/*
 * Every position is a candidate start: its first k bytes (k = the shortest
 * non-empty literal's length, at most 16), folded under -i, are hashed; a
 * bit map says at once whether any literal begins so, and a bucket lists
 * those literals in list order (only literals with the same first k bytes
 * can match at one start, and they share a bucket), so the first one that matches (and
 * passes the -w / -x test) is the one an alternation would take. An empty
 * literal matches at every position its test passes, unless one listed
 * before it matches there.
 */
static inline uint64_t load_le(const uint8_t *t, size_t n) {
    uint64_t v = 0;
    memcpy(&v, t, n);
    return v;
}

/* The hash of the first k bytes at t (k <= 16; folded under -i). */
static inline size_t multi_hash(const mmk__multi *m, const uint8_t *t) {
    uint64_t k0, k1 = 0;
    if (m->k >= 8) {
        k0 = load_le(t, 8);
        k1 = load_le(t + 8, m->k - 8);
    } else {
        k0 = load_le(t, m->k);
    }
    if (m->icase) {
        k0 = fold8(k0);
        k1 = fold8(k1);
    }
    uint64_t h = (k0 * 0x9e3779b97f4a7c15ull) ^ (k1 * 0xc2b2ae3d27d4eb4full);
    h ^= h >> 29;
    return (size_t)((h * 0xff51afd7ed558ccdull) >> (64 - m->hbits));
}

int mmk__multi_init(mmk__multi *m, const void *const *lits, const size_t *lens, size_t n, int icase,
                    int word, int exact) {
    memset(m, 0, sizeof *m);
    m->icase = icase != 0;
    m->word = word != 0 && !exact;
    m->exact = exact != 0;
    m->n = n;
    m->empty_index = SIZE_MAX;
    size_t total = 0, minlen = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        total += lens[i];
        if (lens[i] == 0 && m->empty_index == SIZE_MAX)
            m->empty_index = i;
        if (lens[i] && lens[i] < minlen)
            minlen = lens[i];
        if (lens[i] > m->maxlen)
            m->maxlen = lens[i];
    }
    m->k = minlen == SIZE_MAX ? 0 : minlen < 16 ? minlen : 16;
    /* about four buckets per literal, 2^12 .. 2^22 */
    m->hbits = 12;
    while (m->hbits < 22 && ((size_t)1 << m->hbits) < 4 * n)
        m->hbits++;
    const size_t nb = (size_t)1 << m->hbits;
    m->off = malloc((n + 1) * sizeof *m->off);
    m->bytes = malloc(total ? total : 1);
    m->bucket_start = calloc(nb + 1, sizeof *m->bucket_start);
    m->bucket_items = malloc((n ? n : 1) * sizeof *m->bucket_items);
    m->bits = calloc(nb / 64, sizeof *m->bits);
    if (!m->off || !m->bytes || !m->bucket_start || !m->bucket_items || !m->bits) {
        mmk__multi_destroy(m);
        return -ENOMEM;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        m->off[i] = o;
        for (size_t q = 0; q < lens[i]; q++) {
            uint8_t c = ((const uint8_t *)lits[i])[q];
            m->bytes[o++] = m->icase ? fold(c) : c;
        }
    }
    m->off[n] = o;
    /* Buckets by counting sort: indices stay in list order in each. */
    for (size_t i = 0; i < n; i++) {
        if (!lens[i])
            continue;
        size_t h = multi_hash(m, m->bytes + m->off[i]);
        m->bucket_start[h + 1]++;
        m->bits[h / 64] |= 1ull << (h % 64);
    }
    for (size_t h = 0; h < nb; h++)
        m->bucket_start[h + 1] += m->bucket_start[h];
    uint32_t *fill = calloc(nb, sizeof *fill);
    if (!fill) {
        mmk__multi_destroy(m);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (!lens[i])
            continue;
        size_t h = multi_hash(m, m->bytes + m->off[i]);
        m->bucket_items[m->bucket_start[h] + fill[h]++] = (uint32_t)i;
    }
    free(fill);
    return 0;
}

void mmk__multi_destroy(mmk__multi *m) {
    if (!m)
        return;
    free(m->off);
    free(m->bytes);
    free(m->bucket_start);
    free(m->bucket_items);
    free(m->bits);
    memset(m, 0, sizeof *m);
}

/* The -w / -x test for a match [c, c + n) (as word_ok). */
static inline int multi_bounds_ok(const mmk__multi *m, const uint8_t *s, size_t len, size_t c,
                                  size_t n) {
    if (m->exact)
        return (c == 0 || s[c - 1] == '\n') && (c + n == len || s[c + n] == '\n');
    if (m->word)
        return !(c > 0 && is_word_byte(s[c - 1])) && !(c + n < len && is_word_byte(s[c + n]));
    return 1;
}

static inline int multi_eq(const mmk__multi *m, const uint8_t *t, size_t i) {
    const uint8_t *nd = m->bytes + m->off[i];
    size_t n = m->off[i + 1] - m->off[i];
    if (!m->icase)
        return memcmp(t, nd, n) == 0;
    for (size_t q = 0; q < n; q++)
        if (fold(t[q]) != nd[q])
            return 0;
    return 1;
}

/* The literal (list index) that matches at c, or SIZE_MAX; empty_ok: the
   empty literal may match here. */
static inline size_t multi_at(const mmk__multi *m, const uint8_t *s, size_t len, size_t c,
                              int empty_ok) {
    if (m->word && c > 0 && is_word_byte(s[c - 1]))
        return SIZE_MAX; /* (?<!\w) comes before every alternative */
    empty_ok = empty_ok && m->empty_index != SIZE_MAX;
    if (m->k && len - c >= m->k) {
        size_t h = multi_hash(m, s + c);
        if (m->bits[h / 64] & (1ull << (h % 64))) {
            for (uint32_t q = m->bucket_start[h]; q < m->bucket_start[h + 1]; q++) {
                size_t i = m->bucket_items[q];
                if (empty_ok && i > m->empty_index) {
                    /* the empty literal comes first here; if its test fails
                       the later ones are still tried, as in an alternation */
                    if (multi_bounds_ok(m, s, len, c, 0))
                        return m->empty_index;
                    empty_ok = 0;
                }
                size_t n = m->off[i + 1] - m->off[i];
                if (n <= len - c && multi_eq(m, s + c, i) && multi_bounds_ok(m, s, len, c, n))
                    return i;
            }
        }
    }
    if (empty_ok && multi_bounds_ok(m, s, len, c, 0))
        return m->empty_index;
    return SIZE_MAX;
}

int mmk__multi_find(const mmk__multi *m, const uint8_t *s, size_t len, size_t pos, size_t limit,
                    int notempty_at_pos, size_t *mstart, size_t *mend) {
    if (limit > len + 1)
        limit = len + 1;
    int has_empty = m->empty_index != SIZE_MAX;
    /* Without an empty literal only starts with k bytes left can match. */
    size_t last = has_empty ? limit : (len >= m->k ? len - m->k + 1 : 0);
    if (last > limit)
        last = limit;
    for (size_t c = pos; c < last; c++) {
        if (!has_empty && m->word && c > 0 && is_word_byte(s[c - 1]))
            continue;
        if (!has_empty) {
            /* the common case: one hash, one bit */
            size_t h = multi_hash(m, s + c);
            if (!(m->bits[h / 64] & (1ull << (h % 64))))
                continue;
        }
        size_t i = multi_at(m, s, len, c, has_empty && !(notempty_at_pos && c == pos));
        if (i != SIZE_MAX) {
            *mstart = c;
            *mend = c + (m->off[i + 1] - m->off[i]);
            return 1;
        }
    }
    return 0;
}

int mmk__multi_find_naive(const mmk__multi *m, const uint8_t *s, size_t len, size_t pos,
                          size_t limit, int notempty_at_pos, size_t *mstart, size_t *mend) {
    if (limit > len + 1)
        limit = len + 1;
    for (size_t c = pos; c < limit; c++) {
        if (m->word && c > 0 && is_word_byte(s[c - 1]))
            continue;
        for (size_t i = 0; i < m->n; i++) {
            size_t n = m->off[i + 1] - m->off[i];
            if (n == 0 && notempty_at_pos && c == pos)
                continue;
            if (n <= len - c && multi_eq(m, s + c, i) && multi_bounds_ok(m, s, len, c, n)) {
                *mstart = c;
                *mend = c + n;
                return 1;
            }
        }
    }
    return 0;
}
