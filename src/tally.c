/*
 * tally.c — counts per value (mmk_count_by, `mmk count --by GROUP`): what
 * `grep -oP PATTERN | sort | uniq -c` computes, for a capture group or the
 * whole match, in one pass on every core.
 *
 * A line job over the engine's chunks (scan.h, line_cut: a chunk owns the
 * lines that start in it and its subject holds them whole), so chunks are
 * independent and the result is exact for every chunking and thread count.
 * Each worker counts the values it finds into its own hash table (no locks
 * on the hot path); at the end the tables are merged into one and sorted
 * (words.c builds and sorts the mmk_wordtab). Memory: the engine's chunks
 * (bounded for pipes and readers as for every line job), the distinct
 * values, and a line longer than the engine holds (read whole here).
 *
 * The matches are those grep -o prints: each line is its own subject;
 * leftmost match from the line's start; after a non-empty match the search
 * goes on at its end, after an empty match one byte further, and empty
 * matches are not counted. (Python's finditer differs only after an empty
 * match: it looks for a non-empty match at the same place first, so for
 * `|ab` on "ab" it finds "ab" where grep -o prints nothing.)
 *
 * Within a chunk, patterns that mmk__lines_buffer_safe allows are searched
 * over the owned lines as one buffer: a match without '\n' is exactly the
 * match the line alone gives from the same place (same way through the
 * pattern, so the same groups); a match holding a '\n' sends its line to be
 * searched alone. Others are searched line by line. Over dense lines a
 * regex is searched by one JIT call per region where it allows
 * (mmk__regex_scan_compile: a callout counts each match at its end).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"
#include "os.h"
#include "pattern.h"
#include "scan.h"
#include "tally_hooks.h"
#include "wordtab.h"

/* ------------------------------------------------------------------------ */
/* A table of distinct values                                                */
/* ------------------------------------------------------------------------ */

/*
 * Open addressing, linear probing, one cache line per slot. Most values (a
 * status code, an address, a path) fit the slot's head, so a lookup reads
 * one line of memory: with tens of thousands of distinct values the table
 * outgrows the caches, and a second read (of the bytes kept elsewhere) per
 * lookup was what made counting paths slow. Longer values compare their
 * head in the slot and the rest in the arena. Every value's bytes are also
 * in the arena, which becomes the result's (mmk__wordtab_new).
 */
#define VAL_HEAD 36

typedef struct val_slot {
    uint64_t count; /* 0 marks an empty slot */
    uint64_t off;   /* the value's bytes are arena[off, off + len) */
    uint64_t len;
    uint32_t tag;           /* the hash's high half (the low bits index) */
    uint8_t head[VAL_HEAD]; /* the value's first bytes */
} val_slot;

typedef struct val_table {
    val_slot *slots;
    void *slots_mem; /* the block slots lie in */
    size_t cap;      /* power of two */
    size_t n;
    uint8_t *arena;
    size_t arena_len, arena_cap;
    uint64_t steps; /* probes past a value's home slot (for tests) */
} val_table;

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t load32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The n <= 8 bytes p[0, n) as one word, without a call to memcpy: two
   overlapping 4-byte loads from 4 bytes on, the first, middle and last byte
   below. For one length n the word tells the bytes apart (every byte is in
   it), which is all val_hash and short_eq need. */
static inline uint64_t load_upto8(const uint8_t *p, size_t n) {
    if (n >= 4)
        return load32(p) | load32(p + n - 4) << 32;
    if (n == 0)
        return 0;
    return (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16;
}

/* Every bit of the value reaches the low bits the table indexes by. The
   last word of a value over 8 bytes is its last 8 bytes (overlapping the
   word before): no byte-by-byte tail. */
static inline uint64_t val_hash(const uint8_t *p, size_t n) {
    uint64_t h = 0x243f6a8885a308d3ull ^ ((uint64_t)n * 0x9e3779b97f4a7c15ull), w;
    if (n <= 8) {
        w = load_upto8(p, n);
    } else {
        size_t i = 0;
        for (; i + 8 < n; i += 8) {
            h = (h ^ load64(p + i)) * 0xff51afd7ed558ccdull;
            h ^= h >> 32;
        }
        w = load64(p + n - 8);
    }
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 32);
}

/* Whether p[0, n) holds a '\n'. A match is mostly short (a path, an
   address): words here beat a call to memchr. */
static inline int has_newline(const uint8_t *p, size_t n) {
    const uint64_t ones = 0x0101010101010101ull, nl = ones * '\n', high = ones << 7;
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (p[i] == '\n')
                return 1;
        return 0;
    }
    if (n > 64)
        return memchr(p, '\n', n) != NULL;
    for (size_t i = 0;; i += 8) {
        /* the last word ends at n, overlapping the one before */
        uint64_t x = load64(p + (i + 8 < n ? i : n - 8)) ^ nl;
        if ((x - ones) & ~x & high) /* a zero byte: a '\n' in the word */
            return 1;
        if (i + 8 >= n)
            return 0;
    }
}

/* a[0, n) == b[0, n) for n <= VAL_HEAD, in words (the last one overlapping
   the one before) rather than a call to memcmp. */
static inline int short_eq(const uint8_t *a, const uint8_t *b, size_t n) {
    if (n <= 8)
        return load_upto8(a, n) == load_upto8(b, n);
    for (size_t i = 0; i + 8 < n; i += 8)
        if (load64(a + i) != load64(b + i))
            return 0;
    return load64(a + n - 8) == load64(b + n - 8);
}

/* cap zeroed slots on a cache line boundary (a huge page's for a big
   table, where the kernel may back it with huge pages: fewer TLB misses
   for a table read at random), or NULL; *mem is the block to free. */
static val_slot *slots_new(size_t cap, void **mem) {
    size_t size = cap * sizeof(val_slot), huge = (size_t)2 << 20;
    size_t align = size >= huge ? huge : 64;
    uint8_t *m = malloc(size + align);
    *mem = m;
    if (!m)
        return NULL;
    uint8_t *p = m + (align - (uintptr_t)m % align);
    int native;
    if (size >= huge && mmk__os_advice(MMK_ADVICE_HUGEPAGE, &native) == 0)
        (void)mmk__os.advise(p, size, native);
    memset(p, 0, size);
    return (val_slot *)p;
}

static int table_init(val_table *t) {
    t->cap = 256;
    t->slots = slots_new(t->cap, &t->slots_mem);
    return t->slots ? 0 : -ENOMEM;
}

static void table_free(val_table *t) {
    free(t->slots_mem);
    free(t->arena);
    memset(t, 0, sizeof *t);
}

/* The bytes of slot e's value. An empty value has no bytes, and a table that
   holds only empty values has no arena: a null pointer plus an offset is
   undefined, so those point at a static empty string. */
static const uint8_t *slot_bytes(const val_table *t, const val_slot *e) {
    static const uint8_t none[1];
    return t->arena ? t->arena + e->off : none;
}

static int table_grow(val_table *t) {
    size_t cap = t->cap * 2;
    void *mem;
    val_slot *ns = slots_new(cap, &mem);
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        const val_slot *e = &t->slots[i];
        if (!e->count)
            continue;
        size_t k = (size_t)val_hash(slot_bytes(t, e), (size_t)e->len) & (cap - 1);
        while (ns[k].count)
            k = (k + 1) & (cap - 1);
        ns[k] = *e;
    }
    free(t->slots_mem);
    t->slots = ns;
    t->slots_mem = mem;
    t->cap = cap;
    return 0;
}

static int slot_holds(const val_table *t, const val_slot *e, const uint8_t *v, size_t n) {
    if (e->len != n)
        return 0;
    if (n <= VAL_HEAD)
        return short_eq(e->head, v, n);
    return short_eq(e->head, v, VAL_HEAD) &&
           memcmp(t->arena + e->off + VAL_HEAD, v + VAL_HEAD, n - VAL_HEAD) == 0;
}

/* Add `count` to the value v[0, n) (hash h). */
static int table_add_slow(val_table *t, const uint8_t *v, size_t n, uint64_t h, uint64_t count) {
    size_t mask = t->cap - 1, k = (size_t)h & mask;
    uint32_t tag = (uint32_t)(h >> 32);
    for (;;) {
        val_slot *e = &t->slots[k];
        if (!e->count)
            break;
        if (e->tag == tag && slot_holds(t, e, v, n)) {
            e->count += count;
            return 0;
        }
        k = (k + 1) & mask;
        t->steps++;
    }
    if (t->arena_len + n > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : (size_t)1 << 14;
        while (cap < t->arena_len + n)
            cap *= 2;
        uint8_t *na = realloc(t->arena, cap);
        if (!na)
            return -ENOMEM;
        t->arena = na;
        t->arena_cap = cap;
    }
    if (n)
        memcpy(t->arena + t->arena_len, v, n);
    val_slot *e = &t->slots[k];
    e->tag = tag;
    e->off = t->arena_len;
    e->len = n;
    e->count = count;
    if (n)
        memcpy(e->head, v, n < VAL_HEAD ? n : VAL_HEAD);
    t->arena_len += n;
    t->n++;
    return t->n * 4 > t->cap * 3 ? table_grow(t) : 0;
}

/* table_add_slow, with the common case inline: the value is in its home
   slot and short (a status code, most paths). */
static inline int table_add(val_table *t, const uint8_t *v, size_t n, uint64_t h, uint64_t count) {
    val_slot *e = &t->slots[(size_t)h & (t->cap - 1)];
    if (e->count && e->tag == (uint32_t)(h >> 32) && e->len == n && n <= VAL_HEAD &&
        short_eq(e->head, v, n)) {
        e->count += count;
        return 0;
    }
    return table_add_slow(t, v, n, h, count);
}

/* ------------------------------------------------------------------------ */
/* The job                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct tally_job {
    const mmk_pattern *p;
    int group;
    int buffer_safe;
    pcre2_code *scan; /* mmk__regex_scan_compile's code, or NULL */
    /* pread sources: where a line longer than the engine holds is read on */
    int fd;
    uint64_t file_base, file_end;
    mmk_wordtab *out;
} tally_job;

/* A value found but not yet counted (tally_wctx.pend). */
typedef struct pend_val {
    const uint8_t *v;
    size_t n;
    uint64_t h;
} pend_val;

#define PEND 4 /* a power of two */

/* Where tj->scan's callout is (scan_callout): the region searched, where
   the search goes on, and why it stopped. */
typedef struct scan_state {
    const uint8_t *sub;
    int group, nl_free;
    size_t next;    /* after the last match seen: its end, or one byte on if empty */
    size_t a, b;    /* the match holding a '\n' that stopped the search */
    uint64_t found; /* matches seen */
    int rc;         /* take_value's error that stopped it, or 0 */
} scan_state;

typedef struct tally_wctx {
    mmk__scratch *sc;
    PCRE2_SIZE *ov; /* REGEX: the scratch's ovector (the last match's groups) */
    val_table t;
    pend_val pend[PEND]; /* the last values found, counted PEND finds later */
    size_t npend;        /* values found so far; pend[i % PEND] for the last PEND */
    int ready;
    int dense; /* the last region matched on most lines: PCRE2 alone (region_find) */
    pcre2_match_context *scan_mc; /* tj->scan's: the callout (scan_callout) */
    int scan_off;                 /* tj->scan failed here once: not tried again */
    scan_state st;
    uint8_t *line; /* a long line read whole */
    size_t line_cap;
} tally_wctx;

static void tally_wctx_free(void *arg) {
    tally_wctx *w = arg;
    mmk__scratch_free(w->sc);
    pcre2_match_context_free(w->scan_mc);
    table_free(&w->t);
    free(w->line);
}

/* A table of at most this many slots (16 KiB) stays in the L1 cache: its
   lookups do not wait for memory, and fetching ahead would only cost. */
#define NEAR_CAP 256

/*
 * Count the match [a, b) of subject s (found with w->sc just now). The
 * group is read from the scratch's ovector, where every search of a regex
 * (mmk__find, mmk__regex_find, direct_find) leaves it. In a big table a
 * value is counted PEND values later, its slot fetched now: with many
 * distinct values the table outgrows the caches, and the wait for the slot
 * then overlaps the search for the next matches instead of stalling. The
 * bytes stay valid until pend_flush, which every caller runs before its
 * subject goes (the end of a region, of a long line).
 */
static inline int take_value(tally_wctx *w, const uint8_t *v, size_t n) {
    uint64_t h = val_hash(v, n);
    if (w->t.cap <= NEAR_CAP && w->npend == 0)
        return table_add(&w->t, v, n, h, 1);
    __builtin_prefetch(&w->t.slots[(size_t)h & (w->t.cap - 1)]);
    pend_val *q = &w->pend[w->npend++ % PEND];
    int rc = 0;
    if (w->npend > PEND)
        rc = table_add(&w->t, q->v, q->n, q->h, 1);
    q->v = v;
    q->n = n;
    q->h = h;
    return rc;
}

static int take(const tally_job *tj, tally_wctx *w, const uint8_t *s, size_t a, size_t b) {
    if (tj->group > 0) {
        /* mmk_count_by allows a group only where the pattern has it, and the
           match data holds every group (mmk__regex_scratch_init) */
        const PCRE2_SIZE *g = w->ov + 2 * tj->group;
        if (g[0] == PCRE2_UNSET)
            return 0; /* the group did not take part: not counted */
        a = g[0];
        b = g[1];
    }
    return take_value(w, s + a, b - a);
}

/* Count the values take left pending. */
static int pend_flush(tally_wctx *w) {
    size_t k = w->npend < PEND ? w->npend : PEND;
    int rc = 0;
    for (size_t i = w->npend - k; i < w->npend && rc == 0; i++) {
        const pend_val *q = &w->pend[i % PEND];
        rc = table_add(&w->t, q->v, q->n, q->h, 1);
    }
    w->npend = 0;
    return rc;
}

/* The matches of one line searched alone, from `pos` in it; `at` is the
   line's input offset (for MMK_ELIMIT's error offset). */
static int line_alone(const tally_job *tj, tally_wctx *w, mmk__chunk *c, const uint8_t *line,
                      size_t len, size_t pos, uint64_t at) {
    size_t a = 0, b = 0;
    while (pos <= len) {
        int f = mmk__find(tj->p, w->sc, line, len, pos, len + 1, 0, &a, &b);
        if (f < 0) {
            c->err_off = (int64_t)(at + pos);
            return f;
        }
        if (f == 0)
            return 0;
        if (a == b) {
            pos = a + 1; /* grep -o: an empty match is skipped, one byte on */
            continue;
        }
        int rc = take(tj, w, line, a, b);
        if (rc)
            return rc;
        pos = b;
    }
    return 0;
}

/* Which search a buffer of lines gets (tally_hooks.h). */
int mmk__tally_route = MMK__TALLY_ROUTE_AUTO;
unsigned long mmk__tally_scan_stops;
unsigned long mmk__tally_overruns;

/*
 * PCRE2's JIT alone over sub[0, end) from pos, called here rather than
 * through mmk__regex_find: the offset limit is set once per region (to end,
 * where it stops nothing), and the ovector's address is kept, so a match
 * costs the JIT's own call and no more. Anything but a match or no match
 * (the JIT stack, limits) goes to mmk__regex_find, which knows them all.
 */
static int direct_find(tally_wctx *w, const mmk__regex *re, const uint8_t *sub, size_t end,
                       size_t pos, size_t *a, size_t *b) {
    int rc = pcre2_jit_match(re->code, sub, end, pos, 0, w->sc->rs.md, w->sc->rs.mc);
    if (rc >= 0) {
        *a = w->ov[0];
        *b = w->ov[1];
        return 1;
    }
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    return mmk__regex_find(re, &w->sc->rs, sub, end, pos, end + 1, 0, a, b);
}

/*
 * The leftmost match in sub[pos, end] for a search over many lines. A regex
 * with a required literal (the matcher's prefilter: the literal first, then
 * PCRE2 over the starts of its line) pays where the literal is rare; where
 * nearly every line holds it (HTTP/ in an access log) it doubles PCRE2's own
 * start-up search (the JIT's first-byte scan and its required-byte check),
 * and PCRE2 alone over the buffer is about twice as fast. Both give the same
 * match, so the choice is only speed: the last region's matches per byte
 * decide it.
 */
static int region_find(const tally_job *tj, tally_wctx *w, const uint8_t *sub, size_t end,
                       size_t pos, size_t *a, size_t *b) {
    const mmk_pattern *p = tj->p;
    int direct = mmk__tally_route == MMK__TALLY_ROUTE_AUTO
                     ? w->dense
                     : mmk__tally_route == MMK__TALLY_ROUTE_REGEX;
    if (direct && p->kind == MMK__PAT_REGEX) {
        if (p->re.jit)
            return direct_find(w, &p->re, sub, end, pos, a, b);
        return mmk__regex_find(&p->re, &w->sc->rs, sub, end, pos, end + 1, 0, a, b);
    }
    return mmk__find(p, w->sc, sub, end, pos, end + 1, 0, a, b);
}

/* tj->scan's callout, at the end of every match: counts it as take would
   (the group from the callout's ovector, which holds the groups below
   capture_top), or stops the search at a match holding a '\n' (the line
   alone decides it) or at an error. */
static int scan_callout(pcre2_callout_block *cb, void *arg) {
    tally_wctx *w = arg;
    scan_state *st = &w->st;
    if (cb->callout_number != MMK__REGEX_SCAN_CALLOUT)
        return 0; /* (none: a pattern with callouts has no scan code) */
    size_t a = cb->start_match, b = cb->current_position;
    st->found++;
    if (a == b) {
        st->next = a + 1; /* grep -o: not counted, one byte on ((*SKIP) does the same) */
        return 0;
    }
    if (!st->nl_free && has_newline(st->sub + a, b - a)) {
        st->a = a;
        st->b = b;
        return PCRE2_ERROR_CALLOUT;
    }
    st->next = b;
    if (st->group > 0) {
        const PCRE2_SIZE *g = cb->offset_vector + 2 * st->group;
        if ((uint32_t)st->group >= cb->capture_top || g[0] == PCRE2_UNSET)
            return 0; /* the group did not take part: not counted */
        a = g[0];
        b = g[1];
    }
    int rc = take_value(w, st->sub + a, b - a);
    if (rc) {
        st->rc = rc;
        return PCRE2_ERROR_CALLOUT;
    }
    return 0;
}

/*
 * Every match in sub[*pos, end] by one call of tj->scan (a call of the JIT
 * per match costs about a fifth of a dense search's time), counted by
 * scan_callout. Returns 0 when the search reached the end, 1 when it
 * stopped at a match holding a '\n' (w->st.a, w->st.b; *pos is where the
 * search for it began), 2 when PCRE2 stopped it otherwise (a limit, the JIT
 * stack: the caller searches on from *pos match by match), or take_value's
 * error.
 */
static int scan_region(const tally_job *tj, tally_wctx *w, const uint8_t *sub, size_t end,
                       size_t *pos, uint64_t *found, int nl_free) {
    scan_state *st = &w->st;
    memset(st, 0, sizeof *st);
    st->sub = sub;
    st->group = tj->group;
    st->nl_free = nl_free;
    st->next = *pos;
    int rc = pcre2_jit_match(tj->scan, sub, end, *pos, 0, w->sc->rs.md, w->scan_mc);
    *pos = st->next;
    *found += st->found;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_CALLOUT)
        return st->rc ? st->rc : 1;
    return 2; /* (a match is impossible: the code ends in (*F)) */
}

/* The start of the line holding position a, given that one starts at lo <= a
   (memrchr walks back from a: the cost is that line's length). */
static size_t line_start(const uint8_t *sub, size_t lo, size_t a) {
    const uint8_t *q = a > lo ? mmk__memrchr(sub + lo, '\n', a - lo) : NULL;
    return q ? (size_t)(q - sub) + 1 : lo;
}

/* The complete lines [ls, le) of chunk c's subject (le ends a line). */
static int tally_region(const tally_job *tj, tally_wctx *w, mmk__chunk *c, size_t ls, size_t le) {
    const uint8_t *sub = c->sub;
    size_t end = sub[le - 1] == '\n' ? le - 1 : le; /* the lines as one buffer */
    size_t pos = ls;
    if (tj->buffer_safe) {
        /* A match holding no '\n' is the one its line alone gives from pos,
           so line ends are looked for only when a match holds one (never
           when the pattern cannot match '\n'): no walk over the lines. */
        const int nl_free = mmk__match_excludes_newline(tj->p);
        const int regex = tj->p->kind == MMK__PAT_REGEX;
        if (regex) /* direct_find's: no start is past end */
            pcre2_set_offset_limit(w->sc->rs.mc, end);
        uint64_t found = 0;
        int limited = 0;
        /* Bytes that matches holding a '\n' ran past their lines: each such
           search costs about that much and settles one line ('(lord)[^q]*god'
           on text without a 'q' searched to the region's last "god" from
           every line with "lord"). Past the region's size in all, the rest
           goes line by line. */
        size_t overrun = 0;
        const size_t overrun_max = (end - ls) + ((size_t)64 << 10);
        /* Dense lines: every match by one call where the pattern allows. */
        int scan = tj->scan && !w->scan_off &&
                   (mmk__tally_route == MMK__TALLY_ROUTE_SCAN ||
                    (mmk__tally_route == MMK__TALLY_ROUTE_AUTO && w->dense));
        for (;; found++) {
            size_t a = 0, b = 0;
            if (pos > end)
                break;
            int f;
            if (scan) {
                f = scan_region(tj, w, sub, end, &pos, &found, nl_free);
                if (f < 0)
                    return f;
                if (f == 0)
                    break;
                if (f == 2) {
                    /* match by match from here, and so on in this worker */
                    __atomic_fetch_add(&mmk__tally_scan_stops, 1, __ATOMIC_RELAXED);
                    scan = 0;
                    w->scan_off = 1;
                    continue;
                }
                a = w->st.a; /* a match holding a '\n', found from pos */
                b = w->st.b;
            } else {
                f = region_find(tj, w, sub, end, pos, &a, &b);
            }
            if (f == MMK_ELIMIT) {
                /* a search over many lines can reach a limit no line alone
                   reaches (grep -P answers per line): the lines settle it */
                limited = 1;
                break;
            }
            if (f < 0) {
                c->err_off = (int64_t)(c->sub_off + pos);
                return f;
            }
            if (f == 0)
                break;
            int rc = 0;
            const uint8_t *yq = nl_free || a == b || !has_newline(sub + a, b - a)
                                    ? NULL
                                    : memchr(sub + a, '\n', b - a);
            if (!yq) {
                if (a == b) {
                    pos = a + 1; /* grep -o: one byte on (past a '\n': the next line) */
                } else {
                    rc = take(tj, w, sub, a, b);
                    pos = b;
                }
            } else {
                /* It holds a '\n': the line alone decides. */
                size_t x = line_start(sub, ls, a), y = (size_t)(yq - sub);
                rc = line_alone(tj, w, c, sub + x, y - x, pos > x ? pos - x : 0, c->sub_off + x);
                pos = y + 1;
                if (regex) /* line_alone's searches set their own */
                    pcre2_set_offset_limit(w->sc->rs.mc, end);
                overrun += b - y;
                if (rc == 0 && overrun > overrun_max && pos <= end) {
                    __atomic_fetch_add(&mmk__tally_overruns, 1, __ATOMIC_RELAXED);
                    limited = 1; /* line by line from pos, a line start */
                    break;
                }
            }
            if (rc)
                return rc;
        }
        /* One match per 256 bytes or more: most lines of a log match. */
        w->dense = found * 256 >= le - ls;
        if (!limited)
            return 0;
    }
    /* Line by line from pos (the line that holds it starts after the last
       '\n' before it). */
    for (size_t x = line_start(sub, ls, pos); x <= end;) {
        const uint8_t *yq = x < end ? memchr(sub + x, '\n', end - x) : NULL;
        size_t y = yq ? (size_t)(yq - sub) : end;
        int rc = line_alone(tj, w, c, sub + x, y - x, pos > x ? pos - x : 0, c->sub_off + x);
        if (rc)
            return rc;
        x = y + 1;
    }
    return 0;
}

/* The last owned line of a pread chunk is longer than the engine holds
   (c->line_open): read it whole from the file and search it. */
static int tally_long_line(const tally_job *tj, tally_wctx *w, mmk__chunk *c, size_t x) {
    const size_t step = (size_t)1 << 20;
    size_t have = c->sub_len - x;
    uint64_t off = tj->file_base + c->sub_off + c->sub_len;
    for (int first = 1;; first = 0) {
        if (have + step > w->line_cap) {
            size_t cap = w->line_cap ? w->line_cap : step;
            while (cap < have + step)
                cap *= 2;
            uint8_t *nb = realloc(w->line, cap);
            if (!nb)
                return -ENOMEM;
            w->line = nb;
            w->line_cap = cap;
        }
        if (first)
            memcpy(w->line, c->sub + x, have);
        size_t want = step;
        if (off >= tj->file_end)
            break; /* the input ends the line */
        if (tj->file_end - off < want)
            want = (size_t)(tj->file_end - off);
        int64_t r = mmk__os.pread(tj->fd, w->line + have, want, off);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return -EIO; /* the file shrank under the scan */
        const uint8_t *nl = memchr(w->line + have, '\n', (size_t)r);
        if (nl) {
            have = (size_t)(nl - w->line);
            break;
        }
        have += (size_t)r;
        off += (uint64_t)r;
    }
    return line_alone(tj, w, c, w->line, have, 0, c->sub_off + x);
}

static int tally_chunk(mmk__job *j, void *wctx, mmk__chunk *c) {
    tally_job *tj = mmk__job_spec(j)->user;
    tally_wctx *w = wctx;
    if (!w->ready) {
        if (!w->sc && !(w->sc = mmk__scratch_new(tj->p)))
            return -ENOMEM;
        if (tj->scan && !w->scan_mc) {
            w->scan_mc = pcre2_match_context_create(NULL);
            if (!w->scan_mc)
                return -ENOMEM;
            pcre2_set_callout(w->scan_mc, scan_callout, w);
        }
        if (tj->p->kind == MMK__PAT_REGEX)
            w->ov = pcre2_get_ovector_pointer(w->sc->rs.md);
        int rc = table_init(&w->t);
        if (rc)
            return rc;
        w->ready = 1;
    }
    const uint8_t *sub = c->sub;
    size_t slen = c->sub_len;
    /* Owned lines [ls, le) in subject offsets, as the engine's line jobs
       find them: from the first line start at or after s (only [s - 1,
       e - 1) is looked at) to the first line start at or after e. */
    size_t s = (size_t)(c->s - c->sub_off), e = (size_t)(c->e - c->sub_off), ls, le;
    if (c->s == 0) {
        ls = 0;
    } else {
        const uint8_t *q = e > s ? memchr(sub + (s - 1), '\n', e - s) : NULL;
        ls = q ? (size_t)(q - sub) + 1 : e;
    }
    if (ls >= e || ls >= slen)
        return 0;
    size_t open_at = SIZE_MAX;
    if (c->line_open) {
        const uint8_t *q = mmk__memrchr(sub + ls, '\n', slen - ls);
        le = q ? (size_t)(q - sub) + 1 : ls;
        open_at = le;
    } else {
        const uint8_t *q = memchr(sub + (e - 1), '\n', slen - (e - 1));
        le = q ? (size_t)(q - sub) + 1 : slen;
    }
    int rc = 0;
    if (le > ls)
        rc = tally_region(tj, w, c, ls, le);
    /* The pending values point into this chunk's subject (and the long
       line's buffer): counted before either goes. */
    int f = pend_flush(w);
    if (rc == 0)
        rc = f;
    if (rc == 0 && open_at != SIZE_MAX) {
        rc = tally_long_line(tj, w, c, open_at);
        f = pend_flush(w);
        if (rc == 0)
            rc = f;
    }
    return rc;
}

/* Merge every worker's table into the first, and sort it into the result
   (which takes that table's arena). */
static int tally_finish(mmk__job *j, void **wctxs, unsigned nctx, int rc) {
    if (rc)
        return rc;
    tally_job *tj = mmk__job_spec(j)->user;
    val_table *base = NULL;
    uint64_t tables = 0, keys = 0, steps0 = 0;
    for (unsigned i = 0; i < nctx; i++) {
        tally_wctx *w = wctxs[i];
        if (!w->ready)
            continue;
        tables++;
        if (!base) {
            base = &w->t;
            steps0 = base->steps;
            continue;
        }
        for (size_t k = 0; k < w->t.cap; k++) {
            const val_slot *e = &w->t.slots[mmk__merge_slot(k, w->t.cap)];
            if (!e->count)
                continue;
            keys++;
            const uint8_t *v = slot_bytes(&w->t, e);
            if ((rc = table_add(base, v, (size_t)e->len, val_hash(v, (size_t)e->len), e->count)) !=
                0)
                return rc;
        }
    }
    mmk__merge_note(tables, keys, base ? base->steps - steps0 : 0);
    size_t n = base ? base->n : 0;
    mmk__wordtab_item *items = malloc((n ? n : 1) * sizeof *items);
    if (!items)
        return -ENOMEM;
    size_t m = 0;
    for (size_t k = 0; base && k < base->cap; k++) {
        const val_slot *e = &base->slots[k];
        if (!e->count)
            continue;
        items[m].off = e->off;
        items[m].len = e->len;
        items[m].count = e->count;
        m++;
    }
    rc = mmk__wordtab_new(base ? base->arena : NULL, items, m, &tj->out);
    if (rc == 0 && base)
        base->arena = NULL; /* the table owns it now */
    free(items);
    return rc;
}

int mmk_count_by(const mmk_pattern *p, int group, const mmk_input *in, const mmk_scan_options *opt,
                 mmk_wordtab **out) {
    if (out)
        *out = NULL;
    if (!p || !in || !out || !(p->flags & MMK_PAT_LINES))
        return -EINVAL;
    int groups = mmk_pattern_groups(p);
    if (group < 0 || group > groups)
        return -EINVAL;
    tally_job tj;
    memset(&tj, 0, sizeof tj);
    tj.p = p;
    tj.group = group;
    tj.buffer_safe = mmk__lines_buffer_safe(p);
    tj.fd = -1;
    if (in->kind == MMK_INPUT_FD) {
        /* What a line longer than the engine holds is read on from. */
        tj.fd = in->fd;
        if (in->flags & MMK_INPUT_RANGE) {
            tj.file_base = (uint64_t)in->start;
            tj.file_end = (uint64_t)in->end;
        } else {
            mmk__os_stat st;
            tj.file_end = in->fd >= 0 && mmk__os.fstat(in->fd, &st) == 0 && st.size > 0
                              ? st.size
                              : UINT64_MAX;
        }
    }
    /* The scan code (one JIT call per region rather than per match) where
       the pattern allows it, for an input big enough to pay for its compile
       (a tree of small files is counted file by file). */
    const uint64_t scan_min = (uint64_t)1 << 20;
    int route = mmk__tally_route;
    if (tj.buffer_safe && p->kind == MMK__PAT_REGEX &&
        (route == MMK__TALLY_ROUTE_SCAN ||
         (route == MMK__TALLY_ROUTE_AUTO &&
          (in->kind == MMK_INPUT_BYTES ? in->size >= scan_min
           : in->kind == MMK_INPUT_FD  ? tj.file_end - tj.file_base >= scan_min
                                       : 1)))) {
        /* MMK_ENOTSUP or no memory: matches are found one call each */
        (void)mmk__regex_scan_compile(&p->re, &tj.scan);
    }
    mmk__jobspec spec;
    memset(&spec, 0, sizeof spec);
    spec.wctx_size = sizeof(tally_wctx);
    spec.before = 1; /* a chunk sees the byte before s: is s a line start? */
    spec.line_cut = 1;
    spec.chunk = tally_chunk;
    spec.finish = tally_finish;
    spec.wctx_free = tally_wctx_free;
    spec.user = &tj;
    int rc = mmk__scan_run(&spec, in, opt);
    pcre2_code_free(tj.scan);
    if (rc == 0)
        *out = tj.out;
    else
        mmk_wordtab_free(tj.out);
    return rc;
}
