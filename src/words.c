/*
 * words.c — word frequencies: collections.Counter(data.lower().split()).
 *
 * Each worker counts the words that START in its chunks into its own
 * open-addressing hash table (no locks on the hot path); a word that runs past
 * the chunk's end is read to its end (the subject reaches that far: memory
 * inputs are whole, buffered ones are extended or cut at whitespace by the
 * engine). Words are lowercased on the fly while they are hashed; words of
 * up to 16 bytes live inside their slot, longer ones in an arena per table.
 * At the end the tables are merged into the first, then sorted by count
 * descending and word ascending into one table that owns every word's bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"
#include "scan.h"
#include "wordtab.h"

/* SSE2 is part of x86-64; a 32-bit x86 build has it only with -msse2. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__)
#include <emmintrin.h>
#define MMK_WORDS_SSE2 1
#endif

/* One distinct word in a worker's table. count 0 marks an empty slot. Words
   of up to 16 bytes live in the slot itself (k0, k1: the lowercased bytes,
   zero-padded), so finding them touches nothing else; longer ones keep their
   first 8 bytes in k0 and their arena offset in k1. */
typedef struct word_entry {
    uint64_t k0, k1;
    uint64_t count;
    uint64_t meta; /* len << 24, and for long words 24 bits of the hash */
} word_entry;

#define WORD_SHORT 16

typedef struct word_table {
    word_entry *slots;
    size_t cap;     /* power of two */
    unsigned shift; /* 64 - log2(cap): slots are indexed by a hash's top bits */
    size_t n;
    uint8_t *arena; /* bytes of the long words */
    size_t arena_len, arena_cap;
    uint8_t *tmp; /* lowercased copy of a long word */
    size_t tmp_cap;
    uint64_t steps; /* probes past a key's home slot (for tests) */
} word_table;

/* The result: entries sorted, each word's bytes in one arena. */
typedef struct tab_entry {
    uint64_t off, len, count;
} tab_entry;

struct mmk_wordtab {
    size_t n;
    uint64_t total;
    tab_entry *entries;
    uint8_t *arena;
};

/* ASCII whitespace as bytes.split() sees it, and ASCII lowercasing. */
static uint8_t space_tab[256];
static uint8_t lower_tab[256];
/* Masks of the bytes of a word of n <= 16 bytes in the first and in the
   second 8 bytes of little-endian loads: a table rather than a shift under a
   branch, which word lengths make unpredictable. */
static uint64_t keep_lo[WORD_SHORT + 1], keep_hi[WORD_SHORT + 1];

static void tables_fill(void) {
    for (int i = 0; i < 256; i++) {
        space_tab[i] = i == ' ' || (i >= '\t' && i <= '\r');
        lower_tab[i] = (uint8_t)(i >= 'A' && i <= 'Z' ? i + 32 : i);
    }
    for (unsigned n = 0; n <= WORD_SHORT; n++) {
        keep_lo[n] = n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
        keep_hi[n] = n <= 8 ? 0 : n >= 16 ? ~0ull : (1ull << (8 * (n - 8))) - 1;
    }
}

static mmk__once_t tables_once = MMK__ONCE_INIT;

static void tables_init(void) {
    mmk__once(&tables_once, tables_fill);
}

/* gcc 12's -O2 vectorizer pairs the two 8-byte halves of a short word's key
   into one SSE register (through a store and a reload), then takes them
   apart again for the hash: about a tenth of words' time on the 1 GB text.
   An empty asm that says it may change one half keeps them scalar. */
#if defined(__GNUC__)
#define KEEP_SCALAR(x) __asm__("" : "+r"(x))
#else
#define KEEP_SCALAR(x) (void)(x)
#endif

static uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Lowercase 8 bytes at once: add 0x20 to bytes in 'A'..'Z' only. */
static inline uint64_t lower8(uint64_t x) {
    const uint64_t h = 0x8080808080808080ull;
    uint64_t low = x & ~h;                       /* bytes with the top bit cleared */
    uint64_t ge_a = low + 0x3f3f3f3f3f3f3f3full; /* top bit set when byte >= 'A' (0x41) */
    uint64_t gt_z = low + 0x2525252525252525ull; /* top bit set when byte > 'Z' (0x5a) */
    uint64_t is_up = ge_a & ~gt_z & ~x & h;
    return x | (is_up >> 2);
}

/* The top bits of a product depend on every bit of the key; the table
   indexes by the top bits. */
static inline uint64_t short_hash(uint64_t k0, uint64_t k1, size_t n) {
    return ((k1 * 0xc2b2ae3d27d4eb4full) ^ k0 ^ n) * 0x9e3779b97f4a7c15ull;
}

static uint64_t long_hash(const uint8_t *p, size_t n) {
    uint64_t h = 0x243f6a8885a308d3ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = (h ^ load64(p + i)) * 0xff51afd7ed558ccdull + (h >> 29);
    uint64_t w = 0;
    memcpy(&w, p + i, n - i);
    return ((h ^ w) * 0xc4ceb9fe1a85ec53ull) * 0x9e3779b97f4a7c15ull;
}

static inline uint64_t make_meta(size_t n, uint64_t h) {
    return ((uint64_t)n << 24) | ((h >> 8) & 0xffffff);
}

static int table_init(word_table *t) {
    t->cap = 1 << 12;
    t->shift = 64 - 12;
    t->slots = calloc(t->cap, sizeof *t->slots);
    return t->slots ? 0 : -ENOMEM;
}

static void table_free(word_table *t) {
    free(t->slots);
    free(t->arena);
    free(t->tmp);
    memset(t, 0, sizeof *t);
}

/* The full hash of an entry (for growing the table). */
static uint64_t entry_hash(const word_table *t, const word_entry *e) {
    size_t n = (size_t)(e->meta >> 24);
    return n <= WORD_SHORT ? short_hash(e->k0, e->k1, n) : long_hash(t->arena + e->k1, n);
}

static int table_grow(word_table *t) {
    size_t cap = t->cap * 2;
    word_entry *ns = calloc(cap, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].count)
            continue;
        size_t k = (size_t)(entry_hash(t, &t->slots[i]) >> (t->shift - 1));
        while (ns[k].count)
            k = (k + 1) & (cap - 1);
        ns[k] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = cap;
    t->shift--;
    return 0;
}

/* Put a new entry in empty slot k. */
static int table_put(word_table *t, size_t k, const word_entry *e) {
    t->slots[k] = *e;
    t->n++;
    if (t->n * 4 > t->cap * 3)
        return table_grow(t);
    return 0;
}

/* Whether slot e holds the short word k0, k1 with meta `meta`. meta is never
   0 for a word (len >= 1), so an empty slot never matches; one branch for
   the key's three words. */
static inline int short_is(const word_entry *e, uint64_t k0, uint64_t k1, uint64_t meta) {
    return ((e->k0 ^ k0) | (e->k1 ^ k1) | (e->meta ^ meta)) == 0;
}

/* Add `count` to the word of n <= 16 bytes (lowercased, zero-padded k0, k1). */
static inline int add_short(word_table *t, uint64_t k0, uint64_t k1, size_t n, uint64_t count) {
    uint64_t h = short_hash(k0, k1, n), meta = (uint64_t)n << 24;
    size_t mask = t->cap - 1, k = (size_t)(h >> t->shift);
    for (;;) {
        word_entry *e = &t->slots[k];
        if (short_is(e, k0, k1, meta)) {
            e->count += count;
            return 0;
        }
        if (!e->count) {
            word_entry ne = {k0, k1, count, meta};
            return table_put(t, k, &ne);
        }
        k = (k + 1) & mask;
        t->steps++;
    }
}

/* Add `count` to the lowercased word w[0, n), n > 16. */
static int add_long(word_table *t, const uint8_t *w, size_t n, uint64_t count) {
    uint64_t h = long_hash(w, n), meta = make_meta(n, h), k0 = load64(w);
    size_t mask = t->cap - 1, k = (size_t)(h >> t->shift);
    for (;;) {
        word_entry *e = &t->slots[k];
        if (!e->count)
            break;
        if (e->meta == meta && e->k0 == k0 && memcmp(t->arena + e->k1, w, n) == 0) {
            e->count += count;
            return 0;
        }
        k = (k + 1) & mask;
        t->steps++;
    }
    if (t->arena_len + n > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 1 << 16;
        while (cap < t->arena_len + n)
            cap *= 2;
        uint8_t *na = realloc(t->arena, cap);
        if (!na)
            return -ENOMEM;
        t->arena = na;
        t->arena_cap = cap;
    }
    memcpy(t->arena + t->arena_len, w, n);
    word_entry ne = {k0, t->arena_len, count, meta};
    t->arena_len += n;
    return table_put(t, k, &ne);
}

/* Count the word p[w0, w0 + n); p holds len bytes. */
static inline int add_word(word_table *t, const uint8_t *p, size_t len, size_t w0, size_t n) {
    if (n <= WORD_SHORT) {
        uint64_t k0, k1;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* The word's bytes are the low bytes of a load only on little-endian
           machines; elsewhere (and near the end) they are copied into a
           zeroed buffer, which needs no masking. */
        if (len - w0 >= 16) {
            k0 = lower8(load64(p + w0)) & keep_lo[n];
            k1 = lower8(load64(p + w0 + 8)) & keep_hi[n];
        } else
#endif
        {
            uint8_t b[16] = {0};
            memcpy(b, p + w0, n);
            k0 = lower8(load64(b));
            k1 = lower8(load64(b + 8));
        }
        return add_short(t, k0, k1, n, 1);
    }
    if (n > t->tmp_cap) {
        size_t cap = t->tmp_cap ? t->tmp_cap : 256;
        while (cap < n)
            cap *= 2;
        uint8_t *nt = realloc(t->tmp, cap);
        if (!nt)
            return -ENOMEM;
        t->tmp = nt;
        t->tmp_cap = cap;
    }
    for (size_t q = 0; q < n; q++)
        t->tmp[q] = lower_tab[p[w0 + q]];
    return add_long(t, t->tmp, n, 1);
}

/* Bit i set when p[i] is whitespace, for 64 bytes. */
static inline uint64_t space_mask64(const uint8_t *p) {
#ifdef MMK_WORDS_SSE2
    const __m128i sp = _mm_set1_epi8(' '), nine = _mm_set1_epi8(9), four = _mm_set1_epi8(4);
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i d = _mm_sub_epi8(v, nine); /* \t..\r become 0..4 */
        __m128i r = _mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(_mm_min_epu8(d, four), d));
        m |= (uint64_t)(uint16_t)_mm_movemask_epi8(r) << (16 * k);
    }
    return m;
#else
    uint64_t m = 0;
    for (int k = 0; k < 64; k++)
        m |= (uint64_t)space_tab[p[k]] << k;
    return m;
#endif
}

/* dst[0, 64) = the 64 bytes at src, lowercased. */
static inline void lower64(uint8_t *dst, const uint8_t *src) {
#ifdef MMK_WORDS_SSE2
    const __m128i a = _mm_set1_epi8('A'), z = _mm_set1_epi8(25), bit = _mm_set1_epi8(0x20);
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + 16 * k));
        __m128i d = _mm_sub_epi8(v, a); /* 'A'..'Z' become 0..25 */
        __m128i up = _mm_cmpeq_epi8(_mm_min_epu8(d, z), d);
        _mm_storeu_si128((__m128i *)(void *)(dst + 16 * k),
                         _mm_add_epi8(v, _mm_and_si128(up, bit)));
    }
#else
    for (int k = 0; k < 64; k++)
        dst[k] = lower_tab[src[k]];
#endif
}

/* The reference walk, also used for the last bytes of a subject: count the
   words starting in [s, e) of p[0, len); `prev_space` says whether the byte
   before s is whitespace (or s is the input's start). */
static int count_words_scalar(word_table *t, const uint8_t *p, size_t len, size_t s, size_t e,
                              int prev_space) {
    size_t i = s;
    if (!prev_space)
        while (i < e && !space_tab[p[i]])
            i++;
    while (i < e) {
        while (i < e && space_tab[p[i]])
            i++;
        if (i >= e)
            break;
        size_t n = 0;
        while (i + n < len && !space_tab[p[i + n]])
            n++;
        int rc = add_word(t, p, len, i, n);
        if (rc)
            return rc;
        i += n;
    }
    return 0;
}

/* 64 bytes at a time: a whitespace bit mask gives every word start (a
   non-space after a space) and its end (the next space bit) without a
   branch per byte. */
static int count_words(word_table *t, const uint8_t *p, size_t len, size_t s, size_t e,
                       int prev_space) {
    size_t i = s;
    uint64_t carry = prev_space ? 1 : 0;
    uint64_t ws = 0;
    /* This block's bytes lowercased, then the next block's (zeros past the
       end of the subject): a word of up to 16 bytes starting in this block
       is two loads from it, masked to its length, whatever the subject's
       end. */
    uint8_t lb[128];
    word_entry *slots = t->slots;
    unsigned shift = t->shift;
    if (i < e && len - i >= 64) {
        ws = space_mask64(p + i);
        lower64(lb + 64, p + i);
    }
    while (i < e && len - i >= 64) {
        /* The next block's mask (0 when there is no whole next block) ends
           the words that run past this block without a branch on them; a
           word it does not end (no space in the next 64 bytes either) is
           walked to its end byte by byte. */
        uint64_t next = 0;
        memcpy(lb, lb + 64, 64);
        if (len - i >= 128) {
            next = space_mask64(p + i + 64);
            lower64(lb + 64, p + i + 64);
        } else {
            size_t r = len - i - 64;
            for (size_t q = 0; q < r; q++)
                lb[64 + q] = lower_tab[p[i + 64 + q]];
            memset(lb + 64 + r, 0, 64 - r);
        }
        uint64_t starts = ~ws & ((ws << 1) | carry);
        /* Word ends (a space after a non-space) pair with the starts in
           order, once the end of a word begun before the block (the byte
           before it is no space) is dropped. */
        uint64_t ends = ws & ~((ws << 1) | carry);
        if (!carry)
            ends &= ends - 1;
        if (e - i < 64)
            starts &= (1ull << (e - i)) - 1; /* only words that start in the chunk */
        carry = ws >> 63;
        /* The next block's first space ends a word that runs out of this
           one (0: no whole next block, or no space in it). */
        const size_t over = next ? 64 + (size_t)__builtin_ctzll(next) : 0;
        while (starts) {
            unsigned b = (unsigned)__builtin_ctzll(starts);
            starts &= starts - 1;
            size_t n;
            if (ends) {
                n = (size_t)__builtin_ctzll(ends) - b;
                ends &= ends - 1;
            } else if (over) {
                n = over - b;
            } else {
                /* from the block's end: a next block of 0 may be unread */
                n = 64 - b;
                while (i + b + n < len && !space_tab[p[i + b + n]])
                    n++;
            }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            if (n <= WORD_SHORT) {
                uint64_t k0 = load64(lb + b) & keep_lo[n];
                KEEP_SCALAR(k0);
                uint64_t k1 = load64(lb + b + 8) & keep_hi[n];
                /* Most words are found in their first slot: that probe
                   here, with the table's address and shift in registers
                   (a count's store could be the table's fields to the
                   compiler, which then reloads them for every word);
                   anything else through add_short. */
                word_entry *f = &slots[short_hash(k0, k1, n) >> shift];
                if (short_is(f, k0, k1, (uint64_t)n << 24)) {
                    f->count++;
                    continue;
                }
                int rc = add_short(t, k0, k1, n, 1);
                if (rc)
                    return rc;
                slots = t->slots; /* it may have grown */
                shift = t->shift;
                continue;
            }
#endif
            int rc = add_word(t, p, len, i + b, n);
            if (rc)
                return rc;
            slots = t->slots;
            shift = t->shift;
        }
        ws = next;
        i += 64;
    }
    if (i < e)
        return count_words_scalar(t, p, len, i, e, (int)carry);
    return 0;
}

typedef struct words_wctx {
    word_table t;
    int ready;
} words_wctx;

static int words_chunk(mmk__job *j, void *wctx, mmk__chunk *c) {
    words_wctx *w = wctx;
    if (!w->ready) {
        int rc = table_init(&w->t);
        if (rc)
            return rc;
        w->ready = 1;
    }
    size_t s = (size_t)(c->s - c->sub_off), e = (size_t)(c->e - c->sub_off);
    int prev_space = c->s == 0 || (s > 0 && space_tab[c->sub[s - 1]]);
    return count_words(&w->t, c->sub, c->sub_len, s, e, prev_space);
}

static void words_wctx_free(void *wctx) {
    words_wctx *w = wctx;
    table_free(&w->t);
}

static int entry_cmp(const tab_entry *a, const tab_entry *b, const uint8_t *arena) {
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    size_t n = a->len < b->len ? (size_t)a->len : (size_t)b->len;
    int c = n ? memcmp(arena + a->off, arena + b->off, n) : 0;
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* qsort has no context argument everywhere (qsort_r differs between
   platforms); a merge sort with the arena passed along does the job. */
static void sort_entries(tab_entry *v, size_t n, tab_entry *tmp, const uint8_t *arena) {
    if (n < 2)
        return;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            tab_entry x = v[i];
            size_t k = i;
            while (k > 0 && entry_cmp(&x, &v[k - 1], arena) < 0) {
                v[k] = v[k - 1];
                k--;
            }
            v[k] = x;
        }
        return;
    }
    size_t h = n / 2;
    sort_entries(v, h, tmp, arena);
    sort_entries(v + h, n - h, tmp, arena);
    size_t a = 0, b = h, o = 0;
    while (a < h && b < n)
        tmp[o++] = entry_cmp(&v[b], &v[a], arena) < 0 ? v[b++] : v[a++];
    while (a < h)
        tmp[o++] = v[a++];
    while (b < n)
        tmp[o++] = v[b++];
    memcpy(v, tmp, n * sizeof *v);
}

typedef struct words_job {
    mmk_wordtab *out;
} words_job;

/* The bytes of entry e of table t (short words are unpacked into buf). */
static const uint8_t *entry_bytes(const word_table *t, const word_entry *e, uint8_t buf[16]) {
    size_t n = (size_t)(e->meta >> 24);
    if (n > WORD_SHORT)
        return t->arena + e->k1;
    memcpy(buf, &e->k0, 8);
    memcpy(buf + 8, &e->k1, 8);
    return buf;
}

int mmk__merge_check;
uint64_t mmk__merge_tables, mmk__merge_keys, mmk__merge_steps;

/* Merge every worker's table into the first, then build the sorted result
   (which owns one arena holding every word). */
static int words_finish(mmk__job *j, void **wctxs, unsigned nctx, int rc) {
    if (rc)
        return rc;
    words_job *wj = mmk__job_spec(j)->user;
    word_table *base = NULL;
    uint64_t tables = 0, keys = 0, steps0 = 0;
    for (unsigned i = 0; i < nctx; i++) {
        words_wctx *w = wctxs[i];
        if (!w->ready)
            continue;
        tables++;
        if (!base) {
            base = &w->t;
            steps0 = base->steps;
            continue;
        }
        for (size_t k = 0; k < w->t.cap; k++) {
            word_entry *e = &w->t.slots[mmk__merge_slot(k, w->t.cap)];
            if (!e->count)
                continue;
            keys++;
            size_t n = (size_t)(e->meta >> 24);
            rc = n <= WORD_SHORT ? add_short(base, e->k0, e->k1, n, e->count)
                                 : add_long(base, w->t.arena + e->k1, n, e->count);
            if (rc)
                return rc;
        }
    }
    mmk__merge_note(tables, keys, base ? base->steps - steps0 : 0);
    mmk_wordtab *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    if (base && base->n) {
        size_t bytes = 0;
        for (size_t k = 0; k < base->cap; k++)
            if (base->slots[k].count)
                bytes += (size_t)(base->slots[k].meta >> 24);
        t->entries = malloc(base->n * sizeof *t->entries);
        tab_entry *tmp = malloc(base->n * sizeof *tmp);
        t->arena = malloc(bytes ? bytes : 1);
        if (!t->entries || !tmp || !t->arena) {
            free(tmp);
            mmk_wordtab_free(t);
            return -ENOMEM;
        }
        size_t n = 0, off = 0;
        for (size_t k = 0; k < base->cap; k++) {
            const word_entry *e = &base->slots[k];
            if (!e->count)
                continue;
            uint8_t buf[16];
            size_t len = (size_t)(e->meta >> 24);
            memcpy(t->arena + off, entry_bytes(base, e, buf), len);
            t->entries[n].off = off;
            t->entries[n].len = len;
            t->entries[n].count = e->count;
            t->total += e->count;
            off += len;
            n++;
        }
        sort_entries(t->entries, n, tmp, t->arena);
        free(tmp);
        t->n = n;
    }
    wj->out = t;
    return 0;
}

int mmk_word_counts(const mmk_input *in, const mmk_scan_options *opt, mmk_wordtab **out) {
    if (!in || !out)
        return -EINVAL;
    tables_init();
    words_job wj = {0};
    mmk__jobspec spec = {0};
    spec.wctx_size = sizeof(words_wctx);
    spec.before = 1;
    spec.word_cut = 1;
    spec.chunk = words_chunk;
    spec.wctx_free = words_wctx_free;
    spec.finish = words_finish;
    spec.user = &wj;
    int rc = mmk__scan_run(&spec, in, opt);
    if (rc == 0)
        *out = wj.out;
    else
        mmk_wordtab_free(wj.out);
    return rc;
}

int mmk__wordtab_new(uint8_t *arena, const mmk__wordtab_item *items, size_t n, mmk_wordtab **out) {
    mmk_wordtab *t = calloc(1, sizeof *t);
    tab_entry *v = malloc((n ? n : 1) * sizeof *v), *tmp = malloc((n ? n : 1) * sizeof *tmp);
    /* Never a NULL arena: mmk_wordtab_get hands out arena + off even for an
       empty value. */
    uint8_t *own = arena ? NULL : malloc(1);
    if (!t || !v || !tmp || (!arena && !own)) {
        free(t);
        free(v);
        free(tmp);
        free(own);
        return -ENOMEM;
    }
    if (!arena)
        arena = own;
    for (size_t i = 0; i < n; i++) {
        v[i].off = items[i].off;
        v[i].len = items[i].len;
        v[i].count = items[i].count;
        t->total += items[i].count;
    }
    sort_entries(v, n, tmp, arena);
    free(tmp);
    t->n = n;
    t->entries = v;
    t->arena = arena;
    *out = t;
    return 0;
}

size_t mmk_wordtab_size(const mmk_wordtab *t) {
    return t ? t->n : 0;
}

uint64_t mmk_wordtab_total(const mmk_wordtab *t) {
    return t ? t->total : 0;
}

int mmk_wordtab_get(const mmk_wordtab *t, size_t i, const char **word, size_t *len,
                    uint64_t *count) {
    if (!t || i >= t->n)
        return -EINVAL;
    const tab_entry *e = &t->entries[i];
    if (word)
        *word = (const char *)t->arena + e->off;
    if (len)
        *len = (size_t)e->len;
    if (count)
        *count = e->count;
    return 0;
}

void mmk_wordtab_free(mmk_wordtab *t) {
    if (!t)
        return;
    free(t->entries);
    free(t->arena);
    free(t);
}
