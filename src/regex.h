/*
 * regex.h — the PCRE2 matcher (internal to the matcher layer).
 */
#ifndef MMK_REGEX_H
#define MMK_REGEX_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "mmkit.h"

typedef struct mmk__regex {
    pcre2_code *code; /* owned */
    int jit;          /* 1 when JIT-compiled (pcre2_jit_match may be used) */
    size_t max_lookbehind;
    size_t min_length; /* PCRE2's lower bound on a match's length */
} mmk__regex;

/* Per-thread match state. */
typedef struct mmk__regex_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *jit_stack;
} mmk__regex_scratch;

/*
 * Compile `pattern` (Python/Perl syntax, bytes) into `r`. Python spellings
 * PCRE2 reads differently are translated first (\Z, \v, {,n}); -w wraps the
 * pattern in ASCII word-boundary assertions; `multiline` compiles with
 * PCRE2_MULTILINE (MMK_PAT_LINES). Returns 0, -ENOMEM, or
 * MMK_EPATTERN with `err` (may be NULL) holding the offset in the caller's
 * pattern and PCRE2's message.
 */
int mmk__regex_compile(mmk__regex *r, const uint8_t *pattern, size_t len, int icase, int word,
                       int multiline, mmk_pattern_error *err);
void mmk__regex_destroy(mmk__regex *r);

/* Scratch for `r`, owned by one thread; 0 or -ENOMEM. */
int mmk__regex_scratch_init(mmk__regex_scratch *rs, const mmk__regex *r);
void mmk__regex_scratch_destroy(mmk__regex_scratch *rs);

/*
 * Leftmost match starting in [pos, limit) (limit <= len + 1), with the whole
 * subject s[0, len) visible as context. notempty_at_pos forbids an empty
 * match at pos. Returns 1 (and the span), 0, or a negative code.
 */
int mmk__regex_find(const mmk__regex *r, mmk__regex_scratch *rs, const uint8_t *s, size_t len,
                    size_t pos, size_t limit, int notempty_at_pos, size_t *mstart, size_t *mend);

#endif
