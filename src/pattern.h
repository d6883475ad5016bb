/*
 * pattern.h — the compiled pattern (internal to the matcher layer).
 */
#ifndef MMK_PATTERN_H
#define MMK_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include "literal.h"
#include "matcher.h"
#include "regex.h"

#define MMK__PAT_ALL_FLAGS                                                                         \
    (MMK_PAT_FIXED | MMK_PAT_ICASE | MMK_PAT_WORD | MMK_PAT_LINES | MMK_PAT_LINE_EXACT)

enum mmk__pattern_kind { MMK__PAT_LITERAL = 1, MMK__PAT_REGEX = 2, MMK__PAT_MULTI = 3 };

struct mmk_pattern {
    int kind;
    unsigned flags;
    /* LITERAL: the whole pattern. REGEX with has_prefilter: a literal every
       match contains (searched case-insensitively under -i, never -w). */
    mmk__literal lit;
    int has_prefilter;
    /* REGEX: seg_stop[b] is 1 for bytes that no match can consume ('\n'
       where excludes_newline), as far as a reading of the pattern knows
       (all 0 when it is unsure), and seg_narrow is 1 when bytes other than
       '\n' are among them. With has_prefilter, a match holding an
       occurrence of `lit` then starts after the last such byte before it,
       not just after the line's start. */
    int seg_narrow;
    uint8_t seg_stop[256];
    mmk__regex re;    /* REGEX only */
    mmk__multi multi; /* MULTI only: a list of literals (MMK_PAT_FIXED lists) */
    int excludes_newline;
};

struct mmk__scratch {
    mmk__regex_scratch rs; /* REGEX only */
};

/* Facts about a regex's text, from a conservative reading of it. */
typedef struct mmk__pattern_facts {
    int is_literal;       /* no metacharacters: `literal` is the whole pattern */
    int excludes_newline; /* no match can contain '\n' */
    int has_required;     /* `literal` is contained in every match */
    uint8_t *literal;     /* owned by the caller of mmk__pattern_analyze (free) */
    size_t literal_len;
} mmk__pattern_facts;

/* Read `pattern` (Python/PCRE2 syntax) and fill `f`; answers "no" whenever
   unsure. Returns 0 or -ENOMEM. */
int mmk__pattern_analyze(const uint8_t *pattern, size_t len, mmk__pattern_facts *f);

/* mmk_pattern_compile_list as one PCRE2 alternation, also for literal lists
   (which mmk_pattern_compile_list gives the multi-literal matcher): the
   tests' second opinion. */
int mmk__pattern_compile_list_regex(mmk_pattern **out, const void *const *patterns,
                                    const size_t *lens, size_t n, unsigned flags,
                                    mmk_pattern_error *err);

#endif
