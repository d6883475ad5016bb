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

#endif
