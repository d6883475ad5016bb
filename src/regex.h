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

/* What PCRE2's own reading of the user's pattern shows (mmk__regex.items). */
enum {
    MMK__RX_ATOMIC = 1u << 0,         /* an atomic group, or a group with a possessive quantifier */
    MMK__RX_POSSESSIVE = 1u << 1,     /* an item that may have a possessive quantifier */
    MMK__RX_LOOKAROUND = 1u << 2,     /* a lookahead or lookbehind assertion */
    MMK__RX_SUBJECT_ANCHOR = 1u << 3, /* \A, \z or \Z */
    MMK__RX_VERB = 1u << 4,           /* (*PRUNE), (*THEN), (*ACCEPT), (*FAIL) */
    MMK__RX_OPTION_M = 1u << 5,       /* an option setting that may turn (?m) off */
    MMK__RX_START_OPTION = 1u << 6,   /* a leading (*OPTION) other than limits and NO_... */
    MMK__RX_ALTERNATION = 1u << 7,    /* a '|' */
    MMK__RX_ACCEPT = 1u << 8,         /* (*ACCEPT) */
    MMK__RX_LOOKAHEAD = 1u << 9       /* a lookaround other than (?<= and (?<! (with LOOKAROUND) */
};

typedef struct mmk__regex {
    pcre2_code *code; /* owned */
    int jit;          /* 1 when JIT-compiled (pcre2_jit_match may be used) */
    int jit_partial;  /* 1 when also JIT-compiled for PCRE2_PARTIAL_HARD */
    unsigned items;   /* MMK__RX_* */
    size_t max_lookbehind;
    size_t min_length;   /* PCRE2's lower bound on a match's length */
    uint32_t groups;     /* capture groups */
    size_t options_len;  /* bytes of leading (*OPTION)s in the caller's pattern */
    int64_t numref_at;   /* caller's offset of the first \1, (?1), (?(1) ... item, or -1 */
    int64_t wholeref_at; /* caller's offset of the first (?R) or (?0), or -1 */
    /* What mmk__regex_scan_compile builds on: the text PCRE2 compiled (owned;
       NULL under -w/-x or without JIT), its leading (*OPTION)s' length and
       the compile options. */
    uint8_t *text;
    size_t text_len, text_options_end;
    uint32_t text_opts;
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
 * PCRE2_MULTILINE (MMK_PAT_LINES). Items whose answer depends on where a
 * search starts (\K, \G, (*COMMIT), (*SKIP), (*NOTEMPTY_ATSTART)) are refused,
 * as found by PCRE2's own tokenisation. JIT is not used where this PCRE2's JIT
 * is known to answer wrongly. Returns 0, -ENOMEM, or MMK_EPATTERN with `err`
 * (may be NULL) holding the offset in the caller's pattern and the reason.
 */
int mmk__regex_compile(mmk__regex *r, const uint8_t *pattern, size_t len, int icase, int word,
                       int multiline, mmk_pattern_error *err);
void mmk__regex_destroy(mmk__regex *r);

/* The number of the callout that mmk__regex_scan_compile's code calls at
   the end of every match. */
#define MMK__REGEX_SCAN_CALLOUT 255

/*
 * A code that finds every match of r in one pcre2_jit_match call, for
 * callers that want all of them (counts per value): r's pattern P as
 * (?:P)(?C255)(*SKIP)(*F). At the end of each match the callout (number
 * MMK__REGEX_SCAN_CALLOUT) sees it (start_match, current_position, the
 * groups below capture_top); (*SKIP)(*F) then fails the attempt and the
 * search goes on at the match's end, or one byte on after an empty match:
 * the leftmost non-overlapping matches, as a loop of mmk__regex_find calls
 * from each match's end finds them, without a call per match. Only where
 * that holds and the JIT runs it: no (*ACCEPT) or verb (they would end or
 * steer the attempt before the callout), no (?R) (it would recurse into the
 * suffix), no callout of the caller's, no -w/-x wrapper. Returns 0 with
 * *out (the caller frees it with pcre2_code_free), MMK_ENOTSUP where it
 * does not hold, or -ENOMEM.
 */
int mmk__regex_scan_compile(const mmk__regex *r, pcre2_code **out);

/* mmk__regex_compile_flags */
enum {
    MMK__RXC_ICASE = 1u << 0,    /* PCRE2_CASELESS */
    MMK__RXC_WORD = 1u << 1,     /* -w: (?<!\w)(?:P)(?!\w) */
    MMK__RXC_LINES = 1u << 2,    /* PCRE2_MULTILINE (MMK_PAT_LINES) */
    MMK__RXC_EXACT = 1u << 3,    /* -x: ^(?:P)$ (with LINES; -w is then implied) */
    MMK__RXC_DUPNAMES = 1u << 4, /* PCRE2_DUPNAMES (pattern lists: one name in several) */
    MMK__RXC_CHECK = 1u << 5     /* only check the pattern: fill items, groups, options_len
                                    and the reference offsets; r->code stays NULL */
};

/* mmk__regex_compile with MMK__RXC_* flags. */
int mmk__regex_compile_flags(mmk__regex *r, const uint8_t *pattern, size_t len, unsigned rxflags,
                             mmk_pattern_error *err);

/* Scratch for `r`, owned by one thread; 0 or -ENOMEM. */
int mmk__regex_scratch_init(mmk__regex_scratch *rs, const mmk__regex *r);
void mmk__regex_scratch_destroy(mmk__regex_scratch *rs);

/*
 * Leftmost match starting in [pos, limit) (limit <= len + 1), with the whole
 * subject s[0, len) visible as context. notempty_at_pos forbids an empty
 * match at pos. Returns 1 (and the span), 0, or a negative code: MMK_ELIMIT
 * when PCRE2's match, depth, heap or JIT-stack limit stopped the search,
 * -ENOMEM.
 */
int mmk__regex_find(const mmk__regex *r, mmk__regex_scratch *rs, const uint8_t *s, size_t len,
                    size_t pos, size_t limit, int notempty_at_pos, size_t *mstart, size_t *mend);

/*
 * mmk__regex_find over a subject that more bytes may follow (PCRE2_PARTIAL_HARD,
 * JIT-compiled for it where the complete code is): 1 with a match that no
 * further byte can change; 0 when no match starts in [pos, limit) whatever
 * follows; 2 when a match starting at *mstart (>= pos) or later may need
 * bytes past len (every start before *mstart fails whatever follows).
 * Negative codes as mmk__regex_find.
 */
int mmk__regex_find_partial(const mmk__regex *r, mmk__regex_scratch *rs, const uint8_t *s,
                            size_t len, size_t pos, size_t limit, int notempty_at_pos,
                            size_t *mstart, size_t *mend);

/* Group `group` of the last match found with rs: 1 (and its span), 0 when
   it did not take part, -EINVAL when r has no such group. */
int mmk__regex_group(const mmk__regex *r, mmk__regex_scratch *rs, int group, size_t *gstart,
                     size_t *gend);

/* 1 when this PCRE2's JIT is known to answer wrongly for atomic and
   possessive groups, (*ACCEPT), and with its start-up optimisation after
   alternations (before 10.43, or a known case still fails). */
int mmk__regex_jit_atomic_unreliable(void);

/* The known JIT cases, for tests: the i-th pattern (NULL past the end), its
   subject, start offset and whether an empty match at the start is barred. */
const char *mmk__regex_jit_case(size_t i, const char **subj, size_t *start, int *notempty);

#endif
