/*
 * regex.c — the PCRE2 matcher: Python-flavoured syntax, bytes semantics,
 * JIT-compiled when the platform allows, interpreter otherwise.
 *
 * Bytes semantics: the pattern is compiled without UTF/UCP (and may not turn
 * them on), so the subject is any bytes — invalid UTF-8 and NUL are ordinary
 * characters — and \w, \d, \s, \b and case folding are ASCII, as in Python's
 * re on bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regex.h"

/* A growable output buffer that remembers, for every byte it holds, the
   offset in the caller's pattern it came from (so PCRE2's error offsets can
   be reported in the caller's terms). */
typedef struct {
    uint8_t *b;
    size_t *src;
    size_t n, cap;
    int oom;
} xbuf;

static void xput(xbuf *x, const void *data, size_t n, size_t src) {
    if (x->oom || n == 0)
        return;
    if (x->n + n > x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 64;
        while (cap < x->n + n)
            cap *= 2;
        uint8_t *b = realloc(x->b, cap);
        if (!b) {
            x->oom = 1;
            return;
        }
        x->b = b;
        size_t *s = realloc(x->src, cap * sizeof *s);
        if (!s) {
            x->oom = 1;
            return;
        }
        x->src = s;
        x->cap = cap;
    }
    memcpy(x->b + x->n, data, n);
    for (size_t i = 0; i < n; i++)
        x->src[x->n + i] = src;
    x->n += n;
}

static void xfree(xbuf *x) {
    free(x->b);
    free(x->src);
}

static void set_error(mmk_pattern_error *err, int64_t offset, const char *msg) {
    if (!err)
        return;
    err->offset = offset;
    size_t n = strlen(msg);
    if (n >= sizeof err->message)
        n = sizeof err->message - 1;
    memcpy(err->message, msg, n);
    err->message[n] = 0;
}

static int is_digit(uint8_t c) {
    return c >= '0' && c <= '9';
}

/*
 * Translate the Python spellings PCRE2 reads differently:
 *   \Z     Python: end of subject only   -> PCRE2 \z (PCRE2's \Z also matches
 *          before a final newline)
 *   \v     Python: the VT byte            -> \x0b (PCRE2: any vertical space)
 *   {,n}   Python: {0,n}, and {,} is {0,}   -> {0,n}, {0,} (PCRE2 10.42: literal text)
 *   (?a)   Python: ASCII classes (the bytes default) -> dropped (PCRE2 10.42
 *          rejects the flag)
 * Constructs that make results depend on where a search starts are refused
 * later, from PCRE2's own reading of the pattern (scan_items below), not here.
 * Returns 0 or -ENOMEM.
 */
static int translate(const uint8_t *p, size_t len, xbuf *out) {
    size_t i = 0;
    int in_class = 0, quoted = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (quoted) {
            if (c == '\\' && i + 1 < len && p[i + 1] == 'E') {
                quoted = 0;
                xput(out, p + i, 2, i);
                i += 2;
            } else {
                xput(out, p + i, 1, i);
                i++;
            }
            continue;
        }
        if (c == '\\') {
            if (i + 1 >= len) {
                xput(out, p + i, 1, i); /* PCRE2 reports the error */
                i++;
                continue;
            }
            uint8_t e = p[i + 1];
            if (e == 'Q') {
                quoted = 1;
            } else if (e == 'v') {
                xput(out, "\\x0b", 4, i);
                i += 2;
                continue;
            } else if (e == 'Z' && !in_class) {
                xput(out, "\\z", 2, i);
                i += 2;
                continue;
            }
            xput(out, p + i, 2, i);
            i += 2;
            continue;
        }
        if (in_class) {
            if (c == '[' && i + 1 < len &&
                (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
                /* POSIX [:name:] inside a class: copy through its closing "x]". */
                uint8_t kind = p[i + 1];
                size_t j = i + 2;
                while (j + 1 < len && !(p[j] == kind && p[j + 1] == ']'))
                    j++;
                if (j + 1 < len) {
                    xput(out, p + i, j + 2 - i, i);
                    i = j + 2;
                    continue;
                }
            }
            if (c == ']')
                in_class = 0;
            xput(out, p + i, 1, i);
            i++;
            continue;
        }
        if (c == '[') {
            in_class = 1;
            size_t j = i + 1;
            if (j < len && p[j] == '^')
                j++;
            if (j < len && p[j] == ']')
                j++; /* a leading ']' is a member, not the end */
            xput(out, p + i, j - i, i);
            i = j;
            continue;
        }
        if (c == '(' && i + 2 < len && p[i + 1] == '?' && p[i + 2] == '#') {
            /* A comment, up to the first ')': copied as it is. */
            const uint8_t *close = memchr(p + i, ')', len - i);
            size_t end = close ? (size_t)(close - p) + 1 : len;
            xput(out, p + i, end - i, i);
            i = end;
            continue;
        }
        if (c == '(' && i + 2 < len && p[i + 1] == '?') {
            /* Inline flags: Python's (?a) (ASCII classes) is what bytes
               patterns get anyway, and PCRE2 10.42 does not know it: drop it. */
            size_t j = i + 2;
            int has_a = 0;
            while (j < len &&
                   ((p[j] >= 'a' && p[j] <= 'z') || (p[j] >= 'A' && p[j] <= 'Z') || p[j] == '-')) {
                has_a |= p[j] == 'a';
                j++;
            }
            if (has_a && j < len && (p[j] == ')' || p[j] == ':')) {
                xput(out, p + i, 2, i);
                for (size_t k = i + 2; k <= j; k++)
                    if (p[k] != 'a')
                        xput(out, p + k, 1, k);
                i = j + 1;
                continue;
            }
        }
        if (c == '{' && i + 2 < len && p[i + 1] == ',') {
            size_t j = i + 2;
            while (j < len && is_digit(p[j]))
                j++;
            if (j < len && p[j] == '}') {
                xput(out, "{0", 2, i);
                xput(out, p + i + 1, j + 1 - (i + 1), i + 1);
                i = j + 1;
                continue;
            }
        }
        xput(out, p + i, 1, i);
        i++;
    }
    return out->oom ? -ENOMEM : 0;
}

/* Compile out->b; on a PCRE2 error fill err with the caller's offset. */
static int compile_buf(const xbuf *x, size_t user_len, uint32_t opts, pcre2_compile_context *cc,
                       pcre2_code **code, mmk_pattern_error *err) {
    int ec = 0;
    PCRE2_SIZE eoff = 0;
    *code = pcre2_compile(x->n ? (PCRE2_SPTR)x->b : (PCRE2_SPTR) "", x->n, opts, &ec, &eoff, cc);
    if (*code)
        return 0;
    if (ec == PCRE2_ERROR_NOMEMORY || ec == PCRE2_ERROR_HEAP_FAILED)
        return -ENOMEM;
    if (err) {
        PCRE2_UCHAR msg[sizeof err->message];
        if (pcre2_get_error_message(ec, msg, sizeof msg) < 0)
            strcpy((char *)msg, "invalid pattern");
        int64_t off = eoff < x->n ? (int64_t)x->src[eoff] : (int64_t)user_len;
        set_error(err, off, (const char *)msg);
    }
    return MMK_EPATTERN;
}

/* ------------------------------------------------------------------------ */
/* PCRE2's own reading of a pattern                                          */
/* ------------------------------------------------------------------------ */

/*
 * Compiled with PCRE2_AUTO_CALLOUT, a pattern holds a callout before every
 * item, and pcre2_callout_enumerate reports each one's pattern_position and
 * next_item_length: PCRE2's own tokenisation. Comments, extended-mode
 * whitespace, \Q...\E quoting and class contents are already resolved by it,
 * so an item is recognised by how its text starts: "\K", "(*COMMIT", "(?>".
 * Leading (*OPTION)s get no callout; they are the text before the first item.
 */
typedef struct {
    const uint8_t *p; /* the pattern as compiled */
    size_t n;
    unsigned items;     /* MMK__RX_* */
    size_t first;       /* lowest item position */
    size_t bad;         /* position of the first refused item, or SIZE_MAX */
    const char *why;    /* and why it is refused */
    size_t options_end; /* just past the leading (*OPTION)s */
    size_t numref;      /* position of the first numbered reference, or SIZE_MAX */
    size_t wholeref;    /* position of the first (?R) or (?0), or SIZE_MAX */
} item_scan;

static int text_starts(const uint8_t *t, size_t n, const char *what) {
    size_t k = strlen(what);
    return n >= k && memcmp(t, what, k) == 0;
}

static int is_lower(uint8_t c) {
    return c >= 'a' && c <= 'z';
}

static int is_digit_byte(uint8_t c) {
    return c >= '0' && c <= '9';
}

/* An item that names a group by its absolute number, or the whole pattern:
   \1 (or an octal escape spelt the same way), \g1, \g{1}, \g<1>, \g'1',
   (?1), (?(1)...), (?(R1)...): 1; (?R) and (?0): 2. In a pattern list the
   first would name another pattern's group (numbers run across the list)
   and the second recurse into the whole list, so lists refuse them
   (mmk__regex.numref_at, wholeref_at); relative and named references are
   fine. */
static int numbered_reference(const uint8_t *t, size_t n) {
    if (n >= 2 && t[0] == '\\' && t[1] >= '1' && t[1] <= '9')
        return 1;
    if (n >= 3 && t[0] == '\\' && t[1] == 'g') {
        size_t k = 2;
        if (k < n && (t[k] == '{' || t[k] == '<' || t[k] == '\''))
            k++;
        return k < n && is_digit_byte(t[k]);
    }
    if (n >= 3 && t[0] == '(' && t[1] == '?') {
        if ((t[2] == '0' && n >= 4 && t[3] == ')') || t[2] == 'R')
            return 2; /* the whole pattern: in a list, the whole list */
        if (is_digit_byte(t[2]))
            return 1;
        if (n >= 4 && t[2] == '(')
            return is_digit_byte(t[3]) || (t[3] == 'R' && n >= 5 && is_digit_byte(t[4]));
    }
    return 0;
}

static void refuse_item(item_scan *st, size_t pos, const char *why) {
    if (pos < st->bad) {
        st->bad = pos;
        st->why = why;
    }
}

/* Messages for the constructs whose answer depends on where a search starts:
   the searcher starts at chunk boundaries and after every match, so they
   would make counts depend on the chunk size. Python's re has none of them. */
static const char why_k[] = "\\K is not supported (a match must start where it is reported)";
static const char why_g[] =
    "\\G is not supported (matches must not depend on where a search starts)";
static const char why_verb[] = "(*COMMIT) and (*SKIP) are not supported (matches must not depend "
                               "on where a search starts)";
static const char why_ne[] = "(*NOTEMPTY_ATSTART) is not supported (matches must not depend on "
                             "where a search starts)";

/* Where the quantifier of a class item t[0, n) starts: after the class's
   closing ']', so that a '?' or '+' among its members ("[^ ?+]+") is not
   read as one (a quantifier character, then '+': possessive). Only where
   the end is plain to see (no nested '[', as in [:alpha:], no \Q) and
   nothing but quantifier characters follows; else 1 (the whole text, which
   costs caution, never correctness). */
static size_t class_quantifier_at(const uint8_t *t, size_t n) {
    size_t i = 1;
    if (i < n && t[i] == '^')
        i++;
    if (i < n && t[i] == ']')
        i++; /* a leading ']' is a member */
    for (; i < n && t[i] != ']'; i++) {
        if (t[i] == '[' || (t[i] == '\\' && i + 1 < n && t[i + 1] == 'Q'))
            return 1;
        if (t[i] == '\\')
            i++;
    }
    if (i >= n)
        return 1;
    for (size_t k = i + 1; k < n; k++)
        if (!memchr("*+?{},0123456789", t[k], 16))
            return 1;
    return i + 1;
}

static int item_cb(pcre2_callout_enumerate_block *b, void *user) {
    item_scan *st = user;
    size_t pos = b->pattern_position;
    if (pos > st->n)
        return 0;
    size_t n = b->next_item_length < st->n - pos ? b->next_item_length : st->n - pos;
    const uint8_t *t = st->p + pos;
    int ref;
    if (pos < st->first)
        st->first = pos;
    if (n == 0)
        return 0;
    if (t[0] == '|') {
        st->items |= MMK__RX_ALTERNATION;
    } else if ((ref = numbered_reference(t, n)) != 0) {
        size_t *at = ref == 2 ? &st->wholeref : &st->numref;
        if (pos < *at)
            *at = pos;
    } else if (text_starts(t, n, "\\K")) {
        refuse_item(st, pos, why_k);
    } else if (text_starts(t, n, "\\G")) {
        refuse_item(st, pos, why_g);
    } else if (text_starts(t, n, "\\A") || text_starts(t, n, "\\z") || text_starts(t, n, "\\Z")) {
        st->items |= MMK__RX_SUBJECT_ANCHOR;
    } else if (text_starts(t, n, "(?=") || text_starts(t, n, "(?!") || text_starts(t, n, "(?<=") ||
               text_starts(t, n, "(?<!") || text_starts(t, n, "(?*") || text_starts(t, n, "(?<*")) {
        st->items |= MMK__RX_LOOKAROUND;
        if (!text_starts(t, n, "(?<=") && !text_starts(t, n, "(?<!"))
            st->items |= MMK__RX_LOOKAHEAD;
    } else if (text_starts(t, n, "(?>")) {
        st->items |= MMK__RX_ATOMIC;
    } else if (n >= 3 && t[0] == '(' && t[1] == '*' && is_lower(t[2])) {
        /* (*name: ...) groups: atomic, script runs, or lookaround. */
        if (text_starts(t, n, "(*atomic") || text_starts(t, n, "(*asr:"))
            st->items |= MMK__RX_ATOMIC;
        else if (!text_starts(t, n, "(*sr:") && !text_starts(t, n, "(*script_run:"))
            st->items |= MMK__RX_LOOKAROUND | MMK__RX_LOOKAHEAD; /* or behind: either way */
    } else if (n >= 2 && t[0] == '(' && t[1] == '*') {
        /* A backtracking verb. (*COMMIT) ends the whole search and (*SKIP)
           moves the next start: both depend on where the search began.
           (*PRUNE), (*THEN), (*ACCEPT), (*FAIL) act within one attempt at
           one start position, and (*MARK) does nothing to the match. */
        if (text_starts(t, n, "(*COMMIT") || text_starts(t, n, "(*SKIP"))
            refuse_item(st, pos, why_verb);
        else if (!text_starts(t, n, "(*MARK") && !text_starts(t, n, "(*:"))
            st->items |= MMK__RX_VERB;
        if (text_starts(t, n, "(*ACCEPT"))
            st->items |= MMK__RX_ACCEPT;
    } else if (n >= 3 && t[0] == '(' && t[1] == '?') {
        /* An option setting (?flags) or (?flags:...): note one that may turn
           multi-line mode off ((?-m), (?^)). */
        size_t j = 2;
        int minus = 0, m_off = 0;
        while (j < n && ((t[j] >= 'a' && t[j] <= 'z') || (t[j] >= 'A' && t[j] <= 'Z') ||
                         t[j] == '-' || t[j] == '^')) {
            minus |= t[j] == '-';
            m_off |= t[j] == '^' || (minus && t[j] == 'm');
            j++;
        }
        if (m_off && j < n && (t[j] == ')' || t[j] == ':'))
            st->items |= MMK__RX_OPTION_M;
    }
    /* A quantifier belongs to the item it follows, so a possessive one shows
       in the item's text as a '+' after a quantifier character ("a*+",
       "){2}+", "a* +" in extended mode); after ')' it makes the group atomic.
       A class member, quoted character or comment may look the same: that
       costs caution, never correctness. */
    int quantifier = 0;
    for (size_t k = t[0] == '[' ? class_quantifier_at(t, n) : 1; k < n; k++) {
        if (t[k] == '+' && quantifier) {
            st->items |= MMK__RX_POSSESSIVE;
            if (t[0] == ')')
                st->items |= MMK__RX_ATOMIC;
            break;
        }
        quantifier |= t[k] == '*' || t[k] == '+' || t[k] == '?' || t[k] == '}';
    }
    return 0;
}

/* The leading (*OPTION)s, in p[0, end): PCRE2 reads them only at the very
   start, one after another. */
static void scan_start_options(item_scan *st, size_t end) {
    size_t i = 0;
    while (i + 2 <= end && st->p[i] == '(' && st->p[i + 1] == '*') {
        const uint8_t *close = memchr(st->p + i, ')', end - i);
        if (!close)
            break;
        size_t j = (size_t)(close - st->p);
        const uint8_t *name = st->p + i + 2;
        size_t nl = j - (i + 2);
        if (nl == 16 && memcmp(name, "NOTEMPTY_ATSTART", 16) == 0)
            refuse_item(st, i, why_ne);
        else if (!text_starts(name, nl, "LIMIT_") && !text_starts(name, nl, "NO_") &&
                 !(nl == 8 && memcmp(name, "NOTEMPTY", 8) == 0))
            st->items |= MMK__RX_START_OPTION; /* newline conventions, \R ... */
        i = j + 1;
    }
    st->options_end = i;
}

/* The caller's offset of position pos of x (-1 for SIZE_MAX). */
static int64_t user_offset(const xbuf *x, size_t pos, size_t user_len) {
    if (pos == SIZE_MAX)
        return -1;
    return pos < x->n ? (int64_t)x->src[pos] : (int64_t)user_len;
}

/* Read the compiled text x with PCRE2's tokens: fill r->items, and refuse
   what makes answers depend on where a search starts. Returns 0, -ENOMEM or
   MMK_EPATTERN (err filled). */
static int scan_items(mmk__regex *r, const xbuf *x, size_t user_len, uint32_t opts,
                      pcre2_compile_context *cc, size_t *options_end, mmk_pattern_error *err) {
    pcre2_code *code = NULL;
    int rc = compile_buf(x, user_len, opts | PCRE2_AUTO_CALLOUT, cc, &code, err);
    if (rc == MMK_EPATTERN) {
        /* The pattern compiled without the callouts, so only a size limit
           can stop it with them. */
        if (err) {
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "pattern too large to check its items (%.100s)",
                     err->message);
            set_error(err, err->offset, msg);
        }
    }
    if (rc < 0)
        return rc;
    item_scan st = {x->n ? x->b : (const uint8_t *)"",
                    x->n,
                    0,
                    SIZE_MAX,
                    SIZE_MAX,
                    NULL,
                    0,
                    SIZE_MAX,
                    SIZE_MAX};
    rc = pcre2_callout_enumerate(code, item_cb, &st);
    /* Read here: the code that is searched may be compiled without PCRE2's
       start-up optimisations, which include this bound. Callouts and the -w
       assertions match nothing, so it is the bound of every form. */
    uint32_t minlen = 0;
    if (pcre2_pattern_info(code, PCRE2_INFO_MINLENGTH, &minlen) == 0)
        r->min_length = minlen;
    pcre2_code_free(code);
    if (rc != 0)
        return rc == PCRE2_ERROR_NOMEMORY ? -ENOMEM : MMK_EPATTERN;
    scan_start_options(&st, st.first == SIZE_MAX ? st.n : st.first);
    r->items = st.items;
    *options_end = st.options_end;
    r->numref_at = user_offset(x, st.numref, user_len);
    r->wholeref_at = user_offset(x, st.wholeref, user_len);
    if (st.bad != SIZE_MAX) {
        set_error(err, st.bad < x->n ? (int64_t)x->src[st.bad] : (int64_t)user_len, st.why);
        return MMK_EPATTERN;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The JIT's known wrong answers                                             */
/* ------------------------------------------------------------------------ */

/*
 * PCRE2's JIT before 10.43 gives wrong answers in four places, found by
 * differential testing against its interpreter (tests/test_regex_jit.c):
 * - atomic groups and groups with a possessive quantifier: a lazy quantifier
 *   at the end of an atomic group stops the first-character optimiser early
 *   ("(?>[^a]+?)a" finds nothing in "_ a"; PCRE2 issue #347, fixed for
 *   10.43), and possessive groups lose captures and mishandle
 *   PCRE2_NOTEMPTY_ATSTART (#324 and relatives). Interpreter only.
 * - its start-up optimisation after an alternation whose branches differ in
 *   length, followed by a repeat ("(?:a|)b*a" finds nothing in "a"; #336).
 *   JIT without PCRE2_NO_START_OPTIMIZE agrees with the interpreter.
 * - its start-up optimisation before (*PRUNE) or (*THEN) after a lazy
 *   repeat: "x+?(*PRUNE)a" finds nothing in "xxa" from 0, where the
 *   interpreter and Perl find "xa" at 1 (random patterns counted in 1-byte
 *   chunks, tests/test_regex_chunks.c, found it: each chunk's search starts
 *   at the position the whole-input one skipped). JIT without
 *   PCRE2_NO_START_OPTIMIZE agrees with the interpreter.
 * - a capture set inside a repeated group by (*ACCEPT) and then undone by
 *   backtracking stays set ("((*ACCEPT))*\1b" matches "b" at 0 when an empty
 *   match there is barred). Interpreter only.
 * With these left out of the random patterns no difference remained. These
 * are the reduced cases: subject, start, whether an empty match at the start
 * is forbidden.
 */
static const struct jit_case {
    const char *pat, *subj;
    size_t start;
    int notempty;
} jit_cases[] = {
    {"(?>[^a]+?)a", "_ a", 0, 0},  {"(?>a+?)b", "aab", 0, 0},
    {"(?>\\w+?)a", "x_a", 0, 0},   {"(\\S{2}|\\S){2,}+", "ba", 0, 1},
    {"(\\N*?)++", "_", 0, 1},      {"(?:(\\D)*+)?\\1", "a_b", 2, 0},
    {"()*+b|\\1", " ba ", 3, 1},   {"(?:a|)b*a", "a", 0, 0},
    {"(?:ab|a)b+b", "abb", 0, 0},  {"(?:|ab)b*b", "ab", 0, 0},
    {"(?:a|\\b).*a", "ab", 0, 0},  {"((*ACCEPT))*\\1b", "b", 0, 1},
    {"x+?(*PRUNE)a", "xxa", 0, 0}, {"\\s+?(*THEN)a", "  a", 0, 0},
};

const char *mmk__regex_jit_case(size_t i, const char **subj, size_t *start, int *notempty) {
    if (i >= sizeof jit_cases / sizeof jit_cases[0])
        return NULL;
    *subj = jit_cases[i].subj;
    *start = jit_cases[i].start;
    *notempty = jit_cases[i].notempty;
    return jit_cases[i].pat;
}

/* 1 when this JIT disagrees with the interpreter on a known case: -1 when a
   case could not be run (no memory), 0 when it agrees on all. */
static int jit_disagrees(void) {
    int found = 0;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        return -1;
    for (size_t i = 0; i < sizeof jit_cases / sizeof jit_cases[0] && !found; i++) {
        int ec;
        PCRE2_SIZE eo;
        const struct jit_case *c = &jit_cases[i];
        pcre2_code *code =
            pcre2_compile((PCRE2_SPTR)c->pat, strlen(c->pat), PCRE2_NEVER_UTF, &ec, &eo, NULL);
        if (!code) {
            found = -1;
            break;
        }
        if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0) {
            uint32_t o = c->notempty ? PCRE2_NOTEMPTY_ATSTART : 0;
            size_t sl = strlen(c->subj);
            int a =
                pcre2_match(code, (PCRE2_SPTR)c->subj, sl, c->start, o | PCRE2_NO_JIT, md, NULL);
            PCRE2_SIZE s0 = a >= 0 ? pcre2_get_ovector_pointer(md)[0] : 0;
            int b = pcre2_jit_match(code, (PCRE2_SPTR)c->subj, sl, c->start, o, md, NULL);
            PCRE2_SIZE s1 = b >= 0 ? pcre2_get_ovector_pointer(md)[0] : 0;
            if ((a >= 0) != (b >= 0) || s0 != s1)
                found = 1;
        }
        pcre2_code_free(code);
    }
    pcre2_match_data_free(md);
    return found;
}

int mmk__regex_jit_atomic_unreliable(void) {
    /* 0 unknown, 1 reliable, 2 unreliable; recomputing in a race is harmless. */
    static int cached;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v)
        return v == 2;
    char ver[64] = "";
    int major = 0, minor = 0;
    if (pcre2_config(PCRE2_CONFIG_VERSION, ver) > 0)
        sscanf(ver, "%d.%d", &major, &minor);
    /* Before 10.43 by version; later ones only if the known cases still fail. */
    int bad = major < 10 || (major == 10 && minor < 43);
    if (!bad) {
        int d = jit_disagrees();
        if (d < 0)
            return 1; /* cannot tell now: be careful, and ask again next time */
        bad = d;
    }
    __atomic_store_n(&cached, bad ? 2 : 1, __ATOMIC_RELAXED);
    return bad;
}

/* 1 when this PCRE2 (interpreter and JIT alike) loses a match to its
   start-up optimisation after a leading lookahead: the lookahead's first
   code unit is taken as the match's first, and the same unit, required
   later in the pattern, is then looked for after it: "(?=a)x?a" finds
   nothing in "ab" (Python's re finds "a"; PCRE2 10.42; random patterns
   counted over a file read piecewise, tests/test_regex_chunks.c, found it).
   Without the optimisation both engines agree with Python. */
static int lookahead_start_unreliable(void) {
    static int cached; /* 0 unknown, 1 reliable, 2 unreliable */
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v)
        return v == 2;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR) "(?=a)x?a", 8, PCRE2_NEVER_UTF, &ec, &eo, NULL);
    pcre2_match_data *md = code ? pcre2_match_data_create(1, NULL) : NULL;
    int rc = md ? pcre2_match(code, (PCRE2_SPTR) "ab", 2, 0, PCRE2_NO_JIT, md, NULL) : -99;
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    if (rc == -99)
        return 1; /* cannot tell now (no memory): be careful, ask again next time */
    __atomic_store_n(&cached, rc < 0 ? 2 : 1, __ATOMIC_RELAXED);
    return rc < 0;
}

int mmk__regex_compile(mmk__regex *r, const uint8_t *pattern, size_t len, int icase, int word,
                       int multiline, mmk_pattern_error *err) {
    unsigned f = (icase ? MMK__RXC_ICASE : 0) | (word ? MMK__RXC_WORD : 0) |
                 (multiline ? MMK__RXC_LINES : 0);
    return mmk__regex_compile_flags(r, pattern, len, f, err);
}

int mmk__regex_compile_flags(mmk__regex *r, const uint8_t *pattern, size_t len, unsigned rxflags,
                             mmk_pattern_error *err) {
    /* -w: (?<!\w)(?:P)(?!\w) with ASCII \w, as grep -P -w; -x: ^(?:P)$ as
       grep -P -x (which then ignores -w: a whole line has no neighbours). */
    static const char pre_w[] = "(?<![A-Za-z0-9_])(?:";
    /* \E closes a \Q left open at the end of the pattern (and is ignored
       otherwise), so the closing assertion is never quoted. */
    static const char post_w[] = "\\E)(?![A-Za-z0-9_])";
    static const char post_w_nl[] = "\\E\n)(?![A-Za-z0-9_])";
    static const char pre_x[] = "^(?:";
    static const char post_x[] = "\\E)$";
    static const char post_x_nl[] = "\\E\n)$";
    const int icase = (rxflags & MMK__RXC_ICASE) != 0, exact = (rxflags & MMK__RXC_EXACT) != 0;
    const int word = (rxflags & MMK__RXC_WORD) != 0 && !exact;
    const char *pre = exact ? pre_x : pre_w, *post = exact ? post_x : post_w,
               *post_nl = exact ? post_x_nl : post_w_nl;
    const size_t pre_len = strlen(pre);
    memset(r, 0, sizeof *r);
    r->numref_at = r->wholeref_at = -1;
    xbuf x = {0};
    int rc = translate(pattern, len, &x);
    if (rc < 0) {
        xfree(&x);
        return rc;
    }
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) {
        xfree(&x);
        return -ENOMEM;
    }
    /* Python's '.' and '$' know only '\n' as a line end, whatever PCRE2's
       build default is. */
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    /* ALT_CIRCUMFLEX: a multiline ^ also matches after a final newline, as in Python. */
    uint32_t opts =
        PCRE2_NEVER_UTF | PCRE2_NEVER_UCP | PCRE2_USE_OFFSET_LIMIT | PCRE2_ALT_CIRCUMFLEX;
    if (icase)
        opts |= PCRE2_CASELESS;
    if (rxflags & MMK__RXC_LINES)
        opts |= PCRE2_MULTILINE;
    if (rxflags & MMK__RXC_DUPNAMES)
        opts |= PCRE2_DUPNAMES;

    pcre2_code *code = NULL;
    size_t options_end = 0;
    rc = compile_buf(&x, len, opts, cc, &code, err);
    /* The user's pattern alone: the -w wrapper's assertions are known. */
    if (rc == 0)
        rc = scan_items(r, &x, len, opts, cc, &options_end, err);
    if (rc == 0 && !(r->items & MMK__RX_ATOMIC) &&
        (r->items & (MMK__RX_ALTERNATION | MMK__RX_VERB)) && mmk__regex_jit_atomic_unreliable()) {
        /* The same JIT skips to a wrong start after an alternation whose
           branches differ in length followed by a repeat: (?:a|)b*a finds
           nothing in "a" (PCRE2 issue #336, fixed for 10.43); and before
           (*PRUNE) or (*THEN) after a lazy repeat: x+?(*PRUNE)a finds
           nothing in "xxa". Its start-up optimisation is what goes wrong;
           without it the JIT agrees with the interpreter
           (tests/test_regex_jit.c). */
        opts |= PCRE2_NO_START_OPTIMIZE;
    }
    if (rc == 0 && (r->items & MMK__RX_LOOKAHEAD) && lookahead_start_unreliable())
        opts |= PCRE2_NO_START_OPTIMIZE; /* both engines: see lookahead_start_unreliable */
    if (rc == 0 && (opts & PCRE2_NO_START_OPTIMIZE)) {
        pcre2_code_free(code);
        code = NULL;
        rc = compile_buf(&x, len, opts, cc, &code, err);
    }
    if (rc == 0 && (r->items & MMK__RX_VERB)) {
        /* PCRE2 lets a leading .* anchor a pattern to line starts (an attempt
           that fails at p would fail at p + 1 too) and turns that off for
           (*PRUNE) and (*SKIP), but not for (*THEN), which can fail an
           attempt just as (*PRUNE) does: `.*?(*THEN)c` then finds nothing in
           "abc" from 0 but "c" from 1. Without the shortcut every start is tried. */
        opts |= PCRE2_NO_DOTSTAR_ANCHOR;
        pcre2_code_free(code);
        code = NULL;
        rc = compile_buf(&x, len, opts, cc, &code, err);
    }
    if (rc < 0) {
        pcre2_code_free(code);
        code = NULL;
    }
    r->options_len = options_end < x.n ? x.src[options_end] : len;
    if (rc == 0) {
        uint32_t groups = 0;
        if (pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &groups) == 0)
            r->groups = groups;
    }
    if (rc == 0 && (rxflags & MMK__RXC_CHECK)) {
        /* Only the answer "does it compile, and what is in it" was asked. */
        pcre2_code_free(code);
        pcre2_compile_context_free(cc);
        xfree(&x);
        return 0;
    }
    if (rc == 0 && (word || exact)) {
        /* The plain pattern compiled, so errors are reported against it; now
           the -w form. A trailing (?x) comment would swallow the closing part,
           hence the retry with a newline, which ends it (and is ignored in
           extended mode, the only mode where the first attempt can fail so). */
        pcre2_code_free(code);
        code = NULL;
        for (int attempt = 0; attempt < 2 && !code; attempt++) {
            /* Leading (*OPTION)s must stay at the very start. */
            xbuf w = {0};
            xput(&w, x.b, options_end, 0);
            xput(&w, pre, pre_len, 0);
            if (x.n > options_end) /* an empty pattern has no buffer: no NULL + 0 */
                xput(&w, x.b + options_end, x.n - options_end, 0);
            if (x.n && !w.oom) { /* the user's bytes keep their own offsets */
                memcpy(w.src, x.src, options_end * sizeof *x.src);
                memcpy(w.src + options_end + pre_len, x.src + options_end,
                       (x.n - options_end) * sizeof *x.src);
            }
            if (attempt == 0)
                xput(&w, post, strlen(post), len);
            else
                xput(&w, post_nl, strlen(post_nl), len);
            if (w.oom) {
                xfree(&w);
                rc = -ENOMEM;
                break;
            }
            rc = compile_buf(&w, len, opts, cc, &code, err);
            xfree(&w);
            if (rc == -ENOMEM)
                break;
        }
    }
    if (rc == 0 && !word && !exact && x.n) {
        /* for mmk__regex_scan_compile; without it (no memory) there is
           only no scan code */
        r->text = malloc(x.n);
        if (r->text) {
            memcpy(r->text, x.b, x.n);
            r->text_len = x.n;
            r->text_options_end = options_end;
            r->text_opts = opts;
        }
    }
    pcre2_compile_context_free(cc);
    xfree(&x);
    if (rc < 0)
        return rc;

    r->code = code;
    /* PCRE2's interpreter gives the answer where its JIT is known to be wrong. */
    int jit_ok =
        !((r->items & (MMK__RX_ATOMIC | MMK__RX_ACCEPT)) && mmk__regex_jit_atomic_unreliable());
    size_t jit_size = 0;
    /* A (*NO_JIT) pattern "JIT-compiles" to nothing: check the code is there. */
    r->jit = jit_ok && pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0 &&
             pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jit_size) == 0 && jit_size > 0;
    /* Partial matching (reads past memory, streams) runs JIT code of its own. */
    r->jit_partial = r->jit && pcre2_jit_compile(code, PCRE2_JIT_PARTIAL_HARD) == 0;
    uint32_t v = 0;
    if (pcre2_pattern_info(code, PCRE2_INFO_MAXLOOKBEHIND, &v) == 0)
        r->max_lookbehind = v;
    return 0;
}

void mmk__regex_destroy(mmk__regex *r) {
    if (!r)
        return;
    pcre2_code_free(r->code);
    r->code = NULL;
    free(r->text);
    r->text = NULL;
}

static int count_callout(pcre2_callout_enumerate_block *b, void *arg) {
    (void)b;
    ++*(size_t *)arg;
    return 0;
}

int mmk__regex_scan_compile(const mmk__regex *r, pcre2_code **out) {
    static const char pre[] = "(?:";
    /* \E closes a \Q left open at the end (as the -w wrapper's does); a
       trailing (?x) comment would swallow the suffix, hence the retry with a
       newline, which ends it (as for -w: the first form then cannot compile,
       its group being open). */
    static const char *const post[] = {"\\E)(?C255)(*SKIP)(*F)", "\\E\n)(?C255)(*SKIP)(*F)"};
    *out = NULL;
    size_t callouts = 0;
    if (!r->jit || !r->text || (r->items & (MMK__RX_VERB | MMK__RX_ACCEPT)) ||
        r->wholeref_at >= 0 || pcre2_callout_enumerate(r->code, count_callout, &callouts) != 0 ||
        callouts != 0)
        return MMK_ENOTSUP;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc)
        return -ENOMEM;
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF); /* as mmk__regex_compile_flags */
    int rc = MMK_ENOTSUP;
    for (int attempt = 0; attempt < 2 && rc == MMK_ENOTSUP; attempt++) {
        size_t pl = strlen(post[attempt]), n = r->text_len + sizeof pre - 1 + pl;
        uint8_t *b = malloc(n);
        if (!b) {
            rc = -ENOMEM;
            break;
        }
        /* Leading (*OPTION)s stay at the very start. */
        size_t k = r->text_options_end;
        memcpy(b, r->text, k);
        memcpy(b + k, pre, sizeof pre - 1);
        memcpy(b + k + sizeof pre - 1, r->text + k, r->text_len - k);
        memcpy(b + r->text_len + sizeof pre - 1, post[attempt], pl);
        int ec;
        PCRE2_SIZE eo;
        /* the offset limit stays unset: the code needs none */
        pcre2_code *code =
            pcre2_compile((PCRE2_SPTR)b, n, r->text_opts & ~PCRE2_USE_OFFSET_LIMIT, &ec, &eo, cc);
        free(b);
        if (!code) {
            if (ec == PCRE2_ERROR_NOMEMORY || ec == PCRE2_ERROR_HEAP_FAILED)
                rc = -ENOMEM;
            continue;
        }
        size_t jit_size = 0;
        if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0 &&
            pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jit_size) == 0 && jit_size > 0) {
            *out = code;
            rc = 0;
        } else {
            pcre2_code_free(code);
            break; /* no JIT: no gain */
        }
    }
    pcre2_compile_context_free(cc);
    return rc;
}

int mmk__regex_scratch_init(mmk__regex_scratch *rs, const mmk__regex *r) {
    memset(rs, 0, sizeof *rs);
    /* Room for the groups too: mmk__find_group reads them after a match. */
    rs->md = pcre2_match_data_create(r->groups + 1, NULL);
    rs->mc = pcre2_match_context_create(NULL);
    if (!rs->md || !rs->mc)
        goto fail;
    /* The JIT stack is made on demand (mmk__regex_find): most searches fit
       in the default 32 KiB machine-stack area, and making the 8 MiB stack
       costs an mmap and a munmap (a TLB shootdown on every core running the
       process) per scratch, which is per file in a tree search. */
    return 0;
fail:
    mmk__regex_scratch_destroy(rs);
    return -ENOMEM;
}

int mmk__regex_group(const mmk__regex *r, mmk__regex_scratch *rs, int group, size_t *gstart,
                     size_t *gend) {
    if (group < 0 || (uint32_t)group > r->groups ||
        (uint32_t)group >= pcre2_get_ovector_count(rs->md))
        return -EINVAL;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rs->md);
    if (ov[2 * group] == PCRE2_UNSET)
        return 0;
    *gstart = ov[2 * group];
    *gend = ov[2 * group + 1];
    return 1;
}

void mmk__regex_scratch_destroy(mmk__regex_scratch *rs) {
    if (!rs)
        return;
    pcre2_match_data_free(rs->md);
    pcre2_match_context_free(rs->mc);
    pcre2_jit_stack_free(rs->jit_stack);
    memset(rs, 0, sizeof *rs);
}

/* One pcre2 match call with the offset limit set (limit - 1: the last start
   allowed), JIT where compiled for the mode, growing the JIT stack once when
   the default one is too small. Returns PCRE2's code. */
static int regex_run(const mmk__regex *r, mmk__regex_scratch *rs, const uint8_t *s, size_t len,
                     size_t pos, size_t limit, uint32_t opts, int jit) {
    pcre2_set_offset_limit(rs->mc, limit - 1);
    /* PCRE2 wants a non-NULL subject even when it is empty. */
    PCRE2_SPTR subj = s ? (PCRE2_SPTR)s : (PCRE2_SPTR) "";
    int rc = jit ? pcre2_jit_match(r->code, subj, len, pos, opts, rs->md, rs->mc)
                 : pcre2_match(r->code, subj, len, pos, opts | PCRE2_NO_JIT, rs->md, rs->mc);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && jit && !rs->jit_stack) {
        /* Deeply nested or heavily backtracking patterns need more than the
           default 32 KiB machine-stack area: grow up to 8 MiB, and match
           again (the same match: the stack changes only how deep it may go). */
        rs->jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
        if (!rs->jit_stack)
            return PCRE2_ERROR_NOMEMORY;
        pcre2_jit_stack_assign(rs->mc, NULL, rs->jit_stack);
        rc = pcre2_jit_match(r->code, subj, len, pos, opts, rs->md, rs->mc);
    }
    return rc;
}

/* A failed match's code as mmkit's. */
static int regex_failure(int rc) {
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_NOMEMORY)
        return -ENOMEM;
    /* Match, depth, heap or JIT stack limit: the pattern is too expensive
       for this input (catastrophic backtracking). */
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
        return MMK_ELIMIT;
    return MMK_EPATTERN; /* PCRE2 refused the pattern at match time */
}

int mmk__regex_find(const mmk__regex *r, mmk__regex_scratch *rs, const uint8_t *s, size_t len,
                    size_t pos, size_t limit, int notempty_at_pos, size_t *mstart, size_t *mend) {
    if (limit > len + 1)
        limit = len + 1;
    if (pos >= limit)
        return 0;
    uint32_t opts = notempty_at_pos ? PCRE2_NOTEMPTY_ATSTART : 0;
    int rc = regex_run(r, rs, s, len, pos, limit, opts, r->jit);
    if (rc >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rs->md);
        *mstart = ov[0];
        *mend = ov[1];
        return 1;
    }
    return regex_failure(rc);
}

/* A hard partial result wins over a complete match that more bytes could
   still change (a greedy run, $, \b or a lookahead at the end). */
int mmk__regex_find_partial(const mmk__regex *r, mmk__regex_scratch *rs, const uint8_t *s,
                            size_t len, size_t pos, size_t limit, int notempty_at_pos,
                            size_t *mstart, size_t *mend) {
    if (limit > len + 1)
        limit = len + 1;
    if (pos >= limit)
        return 0;
    uint32_t opts = PCRE2_PARTIAL_HARD | (notempty_at_pos ? PCRE2_NOTEMPTY_ATSTART : 0);
    int rc = regex_run(r, rs, s, len, pos, limit, opts, r->jit_partial);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rs->md);
    if (rc >= 0) {
        *mstart = ov[0];
        *mend = ov[1];
        return 1;
    }
    if (rc == PCRE2_ERROR_PARTIAL) {
        *mstart = ov[0] > pos ? ov[0] : pos;
        return 2;
    }
    return regex_failure(rc);
}
