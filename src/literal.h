/*
 * literal.h — the SIMD literal matcher (internal to the matcher layer).
 *
 * A compiled needle plus the two "rare" byte positions the vector filters
 * compare on. The searcher never sees this: it goes through matcher.h, and
 * pattern.c decides when a pattern is (or contains) a literal.
 */
#ifndef MMK_LITERAL_H
#define MMK_LITERAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct mmk__literal {
    uint8_t *needle; /* owned; lowercased (ASCII) when icase, so verification folds one side */
    size_t n;
    int icase;
    int word;
    int exact; /* -x: the match must be a whole line (set after mmk__literal_init; it
                  replaces `word`, which a whole line satisfies anyway) */
    /* Offsets of the two filter bytes (off1 != off2 when n >= 2) and the byte
       values the text must hold there: b1/b2 and, under icase, their other
       ASCII case in b1alt/b2alt (equal to b1/b2 when not a letter). */
    size_t off1, off2;
    uint8_t b1, b2, b1alt, b2alt;
    /* 0x20 when b1/b2 is a letter under icase (the filter ORs it into the
       text byte, folding both cases onto the lowercase b1/b2), else 0. */
    uint8_t fold1, fold2;
    /* Needles of up to 8 bytes as a word and the mask of its bytes, for a
       one-load exact check. */
    uint64_t word8, mask8;
} mmk__literal;

/* Prepare `l` for `needle` (n bytes, copied). Returns 0 or -ENOMEM. */
int mmk__literal_init(mmk__literal *l, const void *needle, size_t n, int icase, int word);

/* Release what mmk__literal_init allocated; `l` itself belongs to the caller. */
void mmk__literal_destroy(mmk__literal *l);

/*
 * Leftmost start c with pos <= c < limit where the needle occurs in s[0, len)
 * and, with `word`, is not preceded/followed by [A-Za-z0-9_] (bytes before pos
 * and the end at len count); with `exact`, is preceded by the start or '\n' and
 * followed by len or '\n'. An empty needle matches at every c <= len that
 * passes the word test; notempty_at_pos then skips c == pos. limit may be
 * len + 1 to allow an empty match at len. Returns c, or SIZE_MAX when none.
 */
size_t mmk__literal_find(const mmk__literal *l, const uint8_t *s, size_t len, size_t pos,
                         size_t limit, int notempty_at_pos);

/*
 * Leftmost occurrence of the needle (ignoring `word`) starting in
 * [from, last_start]; the caller guarantees last_start + n <= len. Returns the
 * start or SIZE_MAX. This is the raw SIMD search, also used by the regex
 * prefilter.
 */
size_t mmk__literal_scan(const mmk__literal *l, const uint8_t *s, size_t from, size_t last_start);

/* The slow, obviously correct reference the tests compare every path with. */
size_t mmk__literal_find_naive(const mmk__literal *l, const uint8_t *s, size_t len, size_t pos,
                               size_t limit, int notempty_at_pos);

/* A list of literals (MMK_PAT_FIXED lists): at each start the first listed
   literal that matches there, as an alternation of them would take. */
typedef struct mmk__multi {
    size_t n;
    size_t *off; /* literal i is bytes[off[i], off[i + 1]) (folded under icase) */
    uint8_t *bytes;
    int icase, word, exact; /* exact (-x) replaces word */
    size_t maxlen;
    size_t empty_index; /* the first empty literal, or SIZE_MAX */
    size_t k;           /* bytes hashed per start: the shortest non-empty length, at most 16 */
    unsigned hbits;     /* log2 of the number of buckets */
    uint32_t *bucket_start, *bucket_items; /* literals by the hash of their first k bytes */
    uint64_t *bits;                        /* non-empty buckets */
} mmk__multi;

/* Prepare `m` for the n literals (copied). Returns 0 or -ENOMEM. */
int mmk__multi_init(mmk__multi *m, const void *const *lits, const size_t *lens, size_t n, int icase,
                    int word, int exact);
void mmk__multi_destroy(mmk__multi *m);

/* As mmk__literal_find, for a list: 1 with the match's span, or 0. */
int mmk__multi_find(const mmk__multi *m, const uint8_t *s, size_t len, size_t pos, size_t limit,
                    int notempty_at_pos, size_t *mstart, size_t *mend);

/* The slow, obviously correct reference: every start, every literal in order. */
int mmk__multi_find_naive(const mmk__multi *m, const uint8_t *s, size_t len, size_t pos,
                          size_t limit, int notempty_at_pos, size_t *mstart, size_t *mend);

/* Relative frequency rank of a byte in typical text (higher = more common). */
unsigned mmk__byte_freq(uint8_t b);

#endif
