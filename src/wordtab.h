/*
 * wordtab.h — building an mmk_wordtab (words.c) from counts made elsewhere
 * (tally.c: counts per value).
 */
#ifndef MMK_WORDTAB_H
#define MMK_WORDTAB_H

#include <stddef.h>
#include <stdint.h>

#include "mmkit.h"

/* One distinct value: its bytes are arena[off, off + len). */
typedef struct mmk__wordtab_item {
    uint64_t off, len, count;
} mmk__wordtab_item;

/*
 * A table of the n items (distinct values, counts >= 1), sorted by count
 * descending, then bytes ascending. On success the table takes `arena` (a
 * malloc'd block, may be NULL when every value is empty) and *out owns it;
 * on failure (-ENOMEM) the caller still owns arena. `items` is copied.
 */
int mmk__wordtab_new(uint8_t *arena, const mmk__wordtab_item *items, size_t n, mmk_wordtab **out);

/*
 * The slot to visit i-th, for i in [0, cap), when one worker's open-addressing
 * table (cap slots, a power of two) is merged into another that hashes the
 * same way. In slot order the keys would arrive sorted by their home slots
 * and pile up in one ever longer run of occupied slots, every insertion
 * probing to its end: over a 1 GB access log (millions of distinct words)
 * `mmk words` took 24.7 s with two workers and 3.5 s with one. Multiplying
 * by an odd constant permutes [0, cap) in an order unrelated to the hash.
 */
static inline size_t mmk__merge_slot(size_t i, size_t cap) {
    return (size_t)(((uint64_t)i * 0x9e3779b97f4a7c15ull) & (uint64_t)(cap - 1));
}

/*
 * Tests: while mmk__merge_check is set, each merge of worker tables (words.c,
 * tally.c) leaves in mmk__merge_tables the number of tables merged, in
 * mmk__merge_keys the keys merged into the first from the others, and in
 * mmk__merge_steps the probes those insertions made past the keys' home
 * slots (about one per key when keys are spread; thousands when they pile
 * up).
 */
extern int mmk__merge_check;
extern uint64_t mmk__merge_tables, mmk__merge_keys, mmk__merge_steps;

/* A merge's figures, kept while a test asks for them. */
static inline void mmk__merge_note(uint64_t tables, uint64_t keys, uint64_t steps) {
    if (mmk__merge_check) {
        mmk__merge_tables = tables;
        mmk__merge_keys = keys;
        mmk__merge_steps = steps;
    }
}

#endif
