/*
 * pattern.c — compiling a pattern and choosing how to search for it.
 *
 * Three shapes, fastest first:
 *   1. a literal (grep -F, or a regex without metacharacters): the SIMD
 *      literal matcher alone;
 *   2. a regex that cannot match across a line end and that every match of
 *      which contains a known literal: find the literal with the SIMD
 *      matcher, then run PCRE2 only on the line that holds it;
 *   3. any other regex: PCRE2 (JIT) over the subject.
 * Shapes 1 and 2 give exactly the matches shape 3 would: the tests compare
 * them on random and real-looking text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"
#include "pattern.h"

/* ------------------------------------------------------------------------ */
/* Reading a pattern's text                                                  */
/* ------------------------------------------------------------------------ */

/* Index just past the class that starts at p[i] == '[', or SIZE_MAX when it
   is not terminated. A ']' right after '[' or '[^' is a member. */
static size_t skip_class(const uint8_t *p, size_t len, size_t i) {
    size_t j = i + 1;
    if (j < len && p[j] == '^')
        j++;
    if (j < len && p[j] == ']')
        j++;
    while (j < len) {
        if (p[j] == '\\') {
            j += 2;
        } else if (p[j] == '[' && j + 1 < len &&
                   (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
            uint8_t kind = p[j + 1];
            size_t k = j + 2;
            while (k + 1 < len && !(p[k] == kind && p[k + 1] == ']'))
                k++;
            if (k + 1 >= len)
                return SIZE_MAX;
            j = k + 2;
        } else if (p[j] == ']') {
            return j + 1;
        } else {
            j++;
        }
    }
    return SIZE_MAX;
}

static int contains(const uint8_t *p, size_t len, const char *what) {
    size_t n = strlen(what);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(p + i, what, n) == 0)
            return 1;
    return 0;
}

/* The byte a simple escape \e stands for, or -1 when \e is not a plain
   character (a class, an assertion, or something this reader does not model). */
static int escape_byte(uint8_t e) {
    if (!((e >= '0' && e <= '9') || (e >= 'A' && e <= 'Z') || (e >= 'a' && e <= 'z')))
        return e;
    switch (e) {
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    case 'a':
        return 7;
    case 'e':
        return 27;
    default:
        return -1;
    }
}

/* Escapes that match one character other than '\n' or nothing at all
   (assertions), outside a class. */
static int escape_safe_outside(uint8_t e) {
    return e != 'n' && (escape_byte(e) >= 0 || strchr("bBwdAzZG", e) != NULL);
}

/* 1 if no match of the regex can contain '\n'. Conservative: anything it
   does not fully understand (classes like \s or [^...], dotall, newline
   conventions, escapes with arguments, ranges around '\n') gives 0. */
static int regex_excludes_newline(const uint8_t *p, size_t len) {
    if (contains(p, len, "\\Q") || contains(p, len, "(*"))
        return 0;
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c == '\n')
            return 0;
        if (c == '\\') {
            if (i + 1 >= len || !escape_safe_outside(p[i + 1]))
                return 0;
            i += 2;
            continue;
        }
        if (c == '(' && i + 2 < len && p[i + 1] == '?' && p[i + 2] == '#') {
            /* A comment ends at the first ')'; what it holds is not pattern. */
            const uint8_t *close = memchr(p + i, ')', len - i);
            if (!close)
                return 0;
            i = (size_t)(close - p) + 1;
            continue;
        }
        if (c == '(' && i + 1 < len && p[i + 1] == '?') {
            /* Inline flags: refuse any that could turn on dotall. */
            size_t j = i + 2;
            if (j < len && p[j] != 'P' &&
                ((p[j] >= 'a' && p[j] <= 'z') || (p[j] >= 'A' && p[j] <= 'Z') || p[j] == '-' ||
                 p[j] == '^')) {
                for (; j < len && p[j] != ':' && p[j] != ')'; j++)
                    if (p[j] == 's')
                        return 0;
            }
            i += 2;
            continue;
        }
        if (c == '[') {
            size_t end = skip_class(p, len, i);
            if (end == SIZE_MAX)
                return 0;
            size_t j = i + 1;
            if (p[j] == '^')
                return 0;
            /* Members: plain bytes, safe escapes, and ranges of plain bytes
               that do not span '\n'. */
            int prev = -1; /* previous member's byte, -1 when it was not a plain byte */
            int first = 1;
            while (j < end - 1) {
                uint8_t m = p[j];
                if (m == '[' && j + 1 < end - 1 &&
                    (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '='))
                    return 0;
                if (m == '-' && !first && j + 1 < end - 1) {
                    uint8_t hi = p[j + 1];
                    if (prev < 0 || hi == '\\' || hi == '[')
                        return 0;
                    if (prev <= '\n' && hi >= '\n')
                        return 0;
                    prev = -1;
                    j += 2;
                    continue;
                }
                if (m == '\\') {
                    uint8_t e = p[j + 1];
                    int b = escape_byte(e);
                    if (b == '\n' || (b < 0 && !strchr("wdb", e)))
                        return 0;
                    prev = -1; /* escaped range ends are refused above */
                    j += 2;
                } else {
                    if (m == '\n')
                        return 0;
                    prev = m;
                    j++;
                }
                first = 0;
            }
            i = end;
            continue;
        }
        i++;
    }
    return 1;
}

/* Parse a quantifier {n}, {n,}, {n,m} or {,m} at p[i] == '{'. Returns the
   index past it and its minimum in *min, or SIZE_MAX when it is not one. */
static size_t parse_brace(const uint8_t *p, size_t len, size_t i, unsigned long *min) {
    size_t j = i + 1;
    unsigned long n = 0;
    int digits = 0;
    while (j < len && p[j] >= '0' && p[j] <= '9') {
        if (n < 100000)
            n = n * 10 + (unsigned long)(p[j] - '0');
        j++;
        digits++;
    }
    int comma = 0, digits2 = 0;
    if (j < len && p[j] == ',') {
        comma = 1;
        j++;
        while (j < len && p[j] >= '0' && p[j] <= '9') {
            j++;
            digits2++;
        }
    }
    if (j >= len || p[j] != '}')
        return SIZE_MAX;
    if (!digits && !(comma && digits2))
        return SIZE_MAX;
    *min = digits ? n : 0;
    return j + 1;
}

/* A run of literal bytes being collected, and the best one so far. */
typedef struct {
    uint8_t *cur, *best;
    size_t ncur, nbest;
    unsigned long best_score;
} runs;

static unsigned long run_score(const uint8_t *b, size_t n) {
    unsigned long s = 0;
    for (size_t i = 0; i < n; i++)
        s += 300u - mmk__byte_freq(b[i]);
    return s;
}

static void run_commit(runs *r) {
    if (r->ncur == 0)
        return;
    unsigned long s = run_score(r->cur, r->ncur);
    if (s > r->best_score) {
        memcpy(r->best, r->cur, r->ncur);
        r->nbest = r->ncur;
        r->best_score = s;
    }
    r->ncur = 0;
}

int mmk__pattern_analyze(const uint8_t *p, size_t len, mmk__pattern_facts *f) {
    memset(f, 0, sizeof *f);
    f->excludes_newline = regex_excludes_newline(p, len);
    runs r = {0};
    r.cur = malloc(len + 1);
    r.best = malloc(len + 1);
    if (!r.cur || !r.best) {
        free(r.cur);
        free(r.best);
        return -ENOMEM;
    }
    /* Verbs, quoting and \G/\K change what a start offset or a literal means:
       do not reason about such patterns at all. */
    int give_up = contains(p, len, "\\Q") || contains(p, len, "(*") || contains(p, len, "\\G") ||
                  contains(p, len, "\\K");
    int all_literal = 1;
    int prev_literal = 0; /* the previous atom is the last byte of cur */
    size_t i = 0;
    while (i < len && !give_up) {
        uint8_t c = p[i];
        int lit = -1;
        if (c == '\\') {
            if (i + 1 >= len) {
                give_up = 1;
                break;
            }
            lit = escape_byte(p[i + 1]);
            if (lit < 0 && !strchr("bBwWdDsShHvVNRXAzZ", p[i + 1])) {
                give_up = 1; /* escapes with arguments, back-references ... */
                break;
            }
            i += 2;
        } else if (c == '.' || c == '^' || c == '$') {
            i++;
        } else if (c == '[') {
            size_t end = skip_class(p, len, i);
            if (end == SIZE_MAX) {
                give_up = 1;
                break;
            }
            i = end;
        } else if (c == '(') {
            if (i + 1 < len && p[i + 1] == '?') {
                uint8_t k = i + 2 < len ? p[i + 2] : 0;
                if (!strchr(":=!<>P'", k) || k == 0) {
                    give_up = 1; /* inline flags, conditionals, recursion, comments */
                    break;
                }
            }
            size_t depth = 0, j = i;
            while (j < len) {
                if (p[j] == '\\') {
                    j += 2;
                    continue;
                }
                if (p[j] == '[') {
                    j = skip_class(p, len, j);
                    if (j == SIZE_MAX)
                        break;
                    continue;
                }
                if (p[j] == '(')
                    depth++;
                else if (p[j] == ')' && --depth == 0)
                    break;
                j++;
            }
            if (j == SIZE_MAX || j >= len) {
                give_up = 1;
                break;
            }
            i = j + 1;
        } else if (c == '|' || c == ')') {
            give_up = 1;
            break;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            unsigned long min = 0;
            size_t next = i + 1;
            if (c == '+')
                min = 1;
            if (c == '{') {
                next = parse_brace(p, len, i, &min);
                if (next == SIZE_MAX) {
                    give_up = 1; /* a literal '{': keep it simple */
                    break;
                }
            }
            if (next < len && (p[next] == '?' || p[next] == '+'))
                next++;
            unsigned long unused;
            if (next < len &&
                (p[next] == '*' || p[next] == '+' || p[next] == '?' ||
                 (p[next] == '{' && parse_brace(p, len, next, &unused) != SIZE_MAX))) {
                give_up = 1; /* a quantified quantifier: not worth modelling */
                break;
            }
            all_literal = 0;
            if (prev_literal) {
                uint8_t last = r.cur[r.ncur - 1];
                if (min == 0) {
                    r.ncur--;
                    run_commit(&r);
                } else {
                    run_commit(&r);
                    r.cur[r.ncur++] = last; /* the last repetition touches what follows */
                }
            } else {
                run_commit(&r);
            }
            prev_literal = 0;
            i = next;
            continue;
        } else {
            lit = c;
            i++;
        }
        if (lit >= 0) {
            r.cur[r.ncur++] = (uint8_t)lit;
            prev_literal = 1;
        } else {
            all_literal = 0;
            run_commit(&r);
            prev_literal = 0;
        }
    }
    if (give_up) {
        free(r.cur);
        free(r.best);
        return 0;
    }
    if (all_literal) {
        f->is_literal = 1;
        f->literal = r.cur;
        f->literal_len = r.ncur;
        free(r.best);
        return 0;
    }
    run_commit(&r);
    free(r.cur);
    if (r.nbest > 0) {
        f->has_required = 1;
        f->literal = r.best;
        f->literal_len = r.nbest;
    } else {
        free(r.best);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The bytes a match can consume                                             */
/* ------------------------------------------------------------------------ */

/* Sets of bytes, 256 bits. */
typedef struct {
    uint64_t w[4];
} byteset;

static void bs_add(byteset *s, unsigned b) {
    s->w[b >> 6] |= 1ull << (b & 63);
}

static void bs_range(byteset *s, unsigned lo, unsigned hi) {
    for (unsigned b = lo; b <= hi; b++)
        bs_add(s, b);
}

static int bs_has(const byteset *s, unsigned b) {
    return (int)(s->w[b >> 6] >> (b & 63)) & 1;
}

static void bs_or(byteset *d, const byteset *s) {
    for (int k = 0; k < 4; k++)
        d->w[k] |= s->w[k];
}

static byteset bs_not(const byteset *s) {
    byteset r;
    for (int k = 0; k < 4; k++)
        r.w[k] = ~s->w[k];
    return r;
}

/*
 * A class escape (\w \d \s \h and their negations) as two bounds on the
 * bytes it matches: *lo holds bytes it surely matches, *hi every byte it may
 * match. They differ where PCRE2's character tables could say more than
 * ASCII (bytes 0x80-0xFF) and on \s's VT. Returns 0 when e is not one.
 */
static int escape_class(uint8_t e, byteset *lo, byteset *hi) {
    byteset l = {{0}}, h;
    switch (e | 0x20) {
    case 'w':
        bs_range(&l, 'a', 'z');
        bs_range(&l, 'A', 'Z');
        bs_range(&l, '0', '9');
        bs_add(&l, '_');
        break;
    case 'd':
        bs_range(&l, '0', '9');
        break;
    case 's':
        bs_add(&l, '\t');
        bs_add(&l, '\n');
        bs_add(&l, '\f');
        bs_add(&l, '\r');
        bs_add(&l, ' ');
        break;
    case 'h':
        bs_add(&l, '\t');
        bs_add(&l, ' ');
        break;
    default:
        return 0;
    }
    h = l;
    bs_range(&h, 0x80, 0xff);
    if ((e | 0x20) == 's')
        bs_add(&h, 0x0b);
    if (e >= 'A' && e <= 'Z') { /* \W \D \S \H: the complements, bounds swapped */
        byteset nl = bs_not(&h), nh = bs_not(&l);
        l = nl;
        h = nh;
    }
    *lo = l;
    *hi = h;
    return 1;
}

static int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The one byte an escape at p[i] == '\\' stands for, in a class or out of
   one (\b is the backspace in a class), with *next set past it; -1 when it
   is not one byte this reader knows. \v is the VT byte: mmk translates
   Python's \v so. */
static int escape_one_byte(const uint8_t *p, size_t len, size_t i, int in_class, size_t *next) {
    if (i + 1 >= len)
        return -1;
    uint8_t e = p[i + 1];
    *next = i + 2;
    if (e == 'v')
        return 0x0b;
    if (e == 'b' && in_class)
        return 0x08;
    if (e == 'x') {
        size_t j = i + 2;
        int v = 0, digits = 0;
        if (j < len && p[j] == '{') {
            for (j++; j < len && p[j] != '}'; j++) {
                int d = hex_digit(p[j]);
                if (d < 0 || ++digits > 2)
                    return -1;
                v = v * 16 + d;
            }
            if (j >= len || digits == 0)
                return -1;
            *next = j + 1;
            return v;
        }
        while (j < len && digits < 2 && hex_digit(p[j]) >= 0) {
            v = v * 16 + hex_digit(p[j]);
            j++;
            digits++;
        }
        *next = j;
        return v; /* \x alone is NUL */
    }
    return escape_byte(e);
}

/* The class at p[i] == '['. Adds to *a every byte it may match (under
   caseless matching too: a member's other case is added later, over the
   whole set). Returns the index past it, or SIZE_MAX when unsure. */
static size_t class_bytes(const uint8_t *p, size_t len, size_t i, byteset *a) {
    size_t end = skip_class(p, len, i);
    if (end == SIZE_MAX)
        return SIZE_MAX;
    size_t j = i + 1;
    int negated = j < end && p[j] == '^';
    if (negated)
        j++;
    /* Members: lo holds bytes surely in the class, hi bytes perhaps in it. */
    byteset lo = {{0}}, hi = {{0}};
    while (j < end - 1) {
        int b;
        size_t next = j + 1;
        if (p[j] == '[' && (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '='))
            return SIZE_MAX; /* POSIX classes: not modelled */
        if (p[j] == '\\') {
            byteset cl, ch;
            if (escape_class(p[j + 1], &cl, &ch)) {
                bs_or(&lo, &cl);
                bs_or(&hi, &ch);
                j += 2;
                continue;
            }
            b = escape_one_byte(p, end - 1, j, 1, &next);
            if (b < 0)
                return SIZE_MAX;
        } else {
            b = p[j];
        }
        if (next + 1 < end - 1 && p[next] == '-') {
            /* A range b-c, c a byte or a one-byte escape. */
            size_t k = next + 1, after = k + 1;
            int c;
            if (p[k] == '\\') {
                byteset cl, ch;
                if (escape_class(p[k + 1], &cl, &ch))
                    return SIZE_MAX; /* [a-\w]: not modelled */
                c = escape_one_byte(p, end - 1, k, 1, &after);
            } else if (p[k] == '[') {
                return SIZE_MAX;
            } else {
                c = p[k];
            }
            if (c < 0 || c < b)
                return SIZE_MAX;
            bs_range(&lo, (unsigned)b, (unsigned)c);
            bs_range(&hi, (unsigned)b, (unsigned)c);
            j = after;
        } else {
            bs_add(&lo, (unsigned)b);
            bs_add(&hi, (unsigned)b);
            j = next;
        }
    }
    if (negated) {
        byteset n = bs_not(&lo);
        bs_or(a, &n);
    } else {
        bs_or(a, &hi);
    }
    return end;
}

/*
 * Every byte that a match of the regex may consume, into *a (lookaround
 * contents included: more bytes than needed is always safe). Returns 0 when
 * this reader is unsure of the pattern (back-references, recursion, verbs,
 * quoting, extended mode, escapes it does not model ...): then nothing is
 * known. `icase`: the pattern is compiled caseless.
 */
static int regex_alphabet(const uint8_t *p, size_t len, int icase, byteset *a) {
    memset(a, 0, sizeof *a);
    if (contains(p, len, "\\Q") || contains(p, len, "(*"))
        return 0;
    int dotall = 0;
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c == '\\') {
            byteset lo, hi;
            size_t next;
            if (i + 1 >= len)
                return 0;
            if (escape_class(p[i + 1], &lo, &hi)) {
                bs_or(a, &hi);
                i += 2;
                continue;
            }
            if (p[i + 1] != 0 && strchr("bBAzZG", p[i + 1])) { /* assertions */
                i += 2;
                continue;
            }
            int b = escape_one_byte(p, len, i, 0, &next);
            if (b < 0)
                return 0;
            bs_add(a, (unsigned)b);
            i = next;
            continue;
        }
        if (c == '[') {
            i = class_bytes(p, len, i, a);
            if (i == SIZE_MAX)
                return 0;
            continue;
        }
        if (c == '.') {
            byteset d = {{0}};
            bs_add(&d, '\n');
            d = bs_not(&d);
            bs_or(a, &d);
            i++;
            continue;
        }
        if (c == '(' && i + 1 < len && p[i + 1] == '?') {
            size_t j = i + 2;
            if (j >= len)
                return 0;
            if (p[j] == '#') { /* a comment, up to the first ')' */
                const uint8_t *close = memchr(p + j, ')', len - j);
                if (!close)
                    return 0;
                i = (size_t)(close - p) + 1;
                continue;
            }
            if (p[j] != 0 && strchr(":=!>|", p[j])) {
                i = j + 1;
                continue;
            }
            if (p[j] == '<' && j + 1 < len && (p[j + 1] == '=' || p[j + 1] == '!')) {
                i = j + 2;
                continue;
            }
            if (p[j] == '<' || p[j] == '\'' || (p[j] == 'P' && j + 1 < len && p[j + 1] == '<')) {
                /* A named group: skip its name. */
                uint8_t close = p[j] == '\'' ? '\'' : '>';
                const uint8_t *e = memchr(p + j + 1, close, len - j - 1);
                if (!e)
                    return 0;
                i = (size_t)(e - p) + 1;
                continue;
            }
            /* Option letters, then ':' or ')'. Anything else (recursion,
               conditionals, named references, callouts) is not modelled. */
            while (j < len && ((p[j] >= 'a' && p[j] <= 'z') || (p[j] >= 'A' && p[j] <= 'Z') ||
                               p[j] == '-' || p[j] == '^')) {
                if (p[j] == 'x')
                    return 0; /* extended mode: whitespace and # comments */
                if (p[j] == 's')
                    dotall = 1;
                if (p[j] == 'i')
                    icase = 1;
                if (!strchr("aimnsJU-^", p[j])) /* (?a): mmk drops it */
                    return 0;
                j++;
            }
            if (j >= len || (p[j] != ':' && p[j] != ')'))
                return 0;
            i = j + 1;
            continue;
        }
        if (c == '{') {
            unsigned long unused;
            size_t next = parse_brace(p, len, i, &unused);
            if (next != SIZE_MAX) {
                i = next;
                continue;
            }
        }
        if (c != 0 && strchr("()|*+?^$", c)) {
            i++;
            continue;
        }
        bs_add(a, c); /* a literal byte (and '{', '}' that are not quantifiers) */
        i++;
    }
    if (dotall)
        bs_add(a, '\n');
    if (icase) {
        for (unsigned b = 'a'; b <= 'z'; b++)
            if (bs_has(a, b) || bs_has(a, b - 32)) {
                bs_add(a, b);
                bs_add(a, b - 32);
            }
        /* Character tables other than PCRE2's default could fold bytes past
           ASCII: then any of them may match any other. */
        if (a->w[2] | a->w[3])
            bs_range(a, 0x80, 0xff);
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Compiling                                                                 */
/* ------------------------------------------------------------------------ */

/* A required literal pays for itself unless it is one common byte. */
static int worth_prefilter(const uint8_t *lit, size_t n) {
    if (n == 0)
        return 0;
    if (memchr(lit, '\n', n))
        return 0;
    return n >= 2 || mmk__byte_freq(lit[0]) < 120;
}

/* The literal is one byte that PCRE2 knows starts every match: PCRE2 skips
   to it itself, in one call (a vector scan under JIT), where the prefilter
   makes a call per occurrence. grep -o '/[a-z]+/[a-z]+' over an access log
   ('/' many times on every line): 700 -> 470 ms of CPU without it. */
static int first_unit_is(const mmk__regex *re, const uint8_t *lit, size_t n) {
    uint32_t type = 0, unit = 0;
    return n == 1 && pcre2_pattern_info(re->code, PCRE2_INFO_FIRSTCODETYPE, &type) == 0 &&
           type == 1 && pcre2_pattern_info(re->code, PCRE2_INFO_FIRSTCODEUNIT, &unit) == 0 &&
           unit == lit[0];
}

/* The regex compiler's flags for a pattern's flags. */
static unsigned rx_flags(unsigned flags) {
    return ((flags & MMK_PAT_ICASE) ? MMK__RXC_ICASE : 0) |
           ((flags & MMK_PAT_WORD) ? MMK__RXC_WORD : 0) |
           ((flags & MMK_PAT_LINES) ? MMK__RXC_LINES : 0) |
           ((flags & MMK_PAT_LINE_EXACT) ? MMK__RXC_EXACT : 0);
}

int mmk_pattern_compile(mmk_pattern **out, const void *pattern, size_t len, unsigned flags,
                        mmk_pattern_error *err) {
    if (out)
        *out = NULL;
    if (err) {
        err->offset = -1;
        err->message[0] = 0;
    }
    if (err)
        err->index = 0;
    if (!out || (!pattern && len > 0) || (flags & ~(unsigned)MMK__PAT_ALL_FLAGS) ||
        ((flags & MMK_PAT_LINE_EXACT) && !(flags & MMK_PAT_LINES)))
        return -EINVAL;
    const uint8_t *pat = pattern ? pattern : (const uint8_t *)"";
    int icase = (flags & MMK_PAT_ICASE) != 0, word = (flags & MMK_PAT_WORD) != 0;
    mmk_pattern *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->flags = flags;
    int rc;
    if (flags & MMK_PAT_FIXED) {
        p->kind = MMK__PAT_LITERAL;
        rc = mmk__literal_init(&p->lit, pat, len, icase, word);
        if (rc < 0)
            goto fail;
        p->lit.exact = (flags & MMK_PAT_LINE_EXACT) != 0;
        p->excludes_newline = memchr(pat, '\n', len) == NULL;
        *out = p;
        return 0;
    }
    mmk__pattern_facts facts;
    rc = mmk__pattern_analyze(pat, len, &facts);
    if (rc < 0)
        goto fail;
    if (facts.is_literal) {
        p->kind = MMK__PAT_LITERAL;
        rc = mmk__literal_init(&p->lit, facts.literal, facts.literal_len, icase, word);
        p->lit.exact = (flags & MMK_PAT_LINE_EXACT) != 0;
        p->excludes_newline = memchr(facts.literal, '\n', facts.literal_len) == NULL;
        free(facts.literal);
        if (rc < 0)
            goto fail;
        *out = p;
        return 0;
    }
    p->kind = MMK__PAT_REGEX;
    p->excludes_newline = facts.excludes_newline;
    rc = mmk__regex_compile_flags(&p->re, pat, len, rx_flags(flags), err);
    if (rc == 0 && facts.has_required && facts.excludes_newline &&
        worth_prefilter(facts.literal, facts.literal_len) &&
        !first_unit_is(&p->re, facts.literal, facts.literal_len)) {
        rc = mmk__literal_init(&p->lit, facts.literal, facts.literal_len, icase, 0);
        p->has_prefilter = rc == 0;
    }
    byteset a;
    if (rc == 0 && regex_alphabet(pat, len, icase, &a)) {
        for (unsigned b = 0; b < 256; b++) {
            p->seg_stop[b] = !bs_has(&a, b) || (b == '\n' && p->excludes_newline);
            p->seg_narrow |= p->seg_stop[b] && b != '\n';
        }
    }
    free(facts.literal);
    if (rc < 0)
        goto fail;
    *out = p;
    return 0;
fail:
    mmk_pattern_free(p);
    return rc;
}

void mmk_pattern_free(mmk_pattern *p) {
    if (!p)
        return;
    mmk__literal_destroy(&p->lit);
    mmk__regex_destroy(&p->re);
    mmk__multi_destroy(&p->multi);
    free(p);
}

/* ------------------------------------------------------------------------ */
/* Pattern lists (grep -e P1 -e P2, grep -f FILE)                            */
/* ------------------------------------------------------------------------ */

/*
 * A list becomes one regex: (?:P1)|(?:P2)|... — at each position the first
 * listed pattern that matches wins, as in an alternation, and groups number
 * across the list. Each pattern is first checked alone (so an error names
 * its pattern and its own offset), then its text goes into its own
 * non-capturing group, which also scopes its inline options ((?i) in P1
 * stays in P1). What cannot be scoped so is handled here:
 * - leading (*OPTION)s, which PCRE2 reads only at the very start: the limits
 *   are hoisted (the smallest of each kind, applying to the whole list), the
 *   optimisation switches (*NO_...) too, and the others (newline conventions,
 *   (*NOTEMPTY) ...) must be the same for every pattern of the list;
 * - \Q left open at a pattern's end (closed by \E) and an extended-mode
 *   comment running to its end (closed by a newline, which extended mode
 *   ignores: used only where the pattern needs it);
 * - numbered references (\1, (?1), (?(1)...)) after a pattern with groups
 *   would name another pattern's group, and (?R) the whole list: refused,
 *   with a hint (names and relative references work).
 * Literal lists (MMK_PAT_FIXED) escape every byte that is not a letter or
 * digit as \xHH (NUL and '\n' included).
 */

typedef struct list_buf {
    uint8_t *b;
    size_t n, cap;
    int oom;
} list_buf;

static void lb_put(list_buf *x, const void *data, size_t n) {
    if (x->oom || n == 0)
        return;
    if (x->n + n > x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 256;
        while (cap < x->n + n)
            cap *= 2;
        uint8_t *b = realloc(x->b, cap);
        if (!b) {
            x->oom = 1;
            return;
        }
        x->b = b;
        x->cap = cap;
    }
    memcpy(x->b + x->n, data, n);
    x->n += n;
}

static void lb_str(list_buf *x, const char *s) {
    lb_put(x, s, strlen(s));
}

static void list_error(mmk_pattern_error *err, int64_t index, int64_t offset, const char *msg) {
    if (!err)
        return;
    err->index = index;
    err->offset = offset;
    size_t n = strlen(msg);
    if (n >= sizeof err->message)
        n = sizeof err->message - 1;
    memcpy(err->message, msg, n);
    err->message[n] = 0;
}

/* Leading options of one pattern, sorted into the three kinds above. */
enum { LIMIT_DEPTH, LIMIT_HEAP, LIMIT_MATCH, LIMIT_RECURSION, NLIMITS };
static const char *const limit_names[NLIMITS] = {
    "LIMIT_DEPTH=", "LIMIT_HEAP=", "LIMIT_MATCH=", "LIMIT_RECURSION="};
static const char *const switch_names[] = {"NO_AUTO_POSSESS", "NO_DOTSTAR_ANCHOR", "NO_JIT",
                                           "NO_START_OPT"};
#define NSWITCHES (sizeof switch_names / sizeof switch_names[0])

typedef struct lead_opts {
    unsigned long long limit[NLIMITS]; /* ULLONG_MAX: not given */
    int sw[NSWITCHES];
    /* the other options, as (*NAME) texts in the pattern, in a canonical order */
    const uint8_t *other[16];
    size_t other_len[16];
    size_t nother;
} lead_opts;

static int opt_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (an > bn) - (an < bn);
}

/* Split p[0, n) (PCRE2's leading options, each "(*...)") into o. Returns 0,
   or -1 when there are more distinct other options than fit (then the list
   is refused, which never happens with PCRE2's few option names). */
static int lead_parse(const uint8_t *p, size_t n, lead_opts *o) {
    memset(o, 0, sizeof *o);
    for (int k = 0; k < NLIMITS; k++)
        o->limit[k] = ~0ull;
    size_t i = 0;
    while (i + 2 < n && p[i] == '(' && p[i + 1] == '*') {
        const uint8_t *close = memchr(p + i, ')', n - i);
        if (!close)
            break;
        size_t j = (size_t)(close - p) + 1; /* past ')' */
        const uint8_t *name = p + i + 2;
        size_t nl = j - 1 - (i + 2);
        int done = 0;
        for (int k = 0; k < NLIMITS && !done; k++) {
            size_t ln = strlen(limit_names[k]);
            if (nl > ln && memcmp(name, limit_names[k], ln) == 0) {
                unsigned long long v = 0;
                for (size_t q = ln; q < nl && v < 1000000000000ull; q++)
                    v = v * 10 + (unsigned long long)(name[q] - '0');
                if (v < o->limit[k])
                    o->limit[k] = v;
                done = 1;
            }
        }
        for (size_t k = 0; k < NSWITCHES && !done; k++) {
            if (nl == strlen(switch_names[k]) && memcmp(name, switch_names[k], nl) == 0) {
                o->sw[k] = 1;
                done = 1;
            }
        }
        if (!done) {
            /* insert sorted, without duplicates */
            size_t at = 0;
            while (at < o->nother && opt_cmp(o->other[at], o->other_len[at], p + i, j - i) < 0)
                at++;
            if (!(at < o->nother && opt_cmp(o->other[at], o->other_len[at], p + i, j - i) == 0)) {
                if (o->nother == sizeof o->other / sizeof o->other[0])
                    return -1;
                memmove(o->other + at + 1, o->other + at, (o->nother - at) * sizeof *o->other);
                memmove(o->other_len + at + 1, o->other_len + at,
                        (o->nother - at) * sizeof *o->other_len);
                o->other[at] = p + i;
                o->other_len[at] = j - i;
                o->nother++;
            }
        }
        i = j;
    }
    return 0;
}

static int lead_same_other(const lead_opts *a, const lead_opts *b) {
    if (a->nother != b->nother)
        return 0;
    for (size_t k = 0; k < a->nother; k++)
        if (opt_cmp(a->other[k], a->other_len[k], b->other[k], b->other_len[k]) != 0)
            return 0;
    return 1;
}

static const char hexdig[] = "0123456789abcdef";

/* A literal as a regex: letters and digits as they are, every other byte
   as \xHH. */
static void put_escaped(list_buf *x, const uint8_t *lit, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t c = lit[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            lb_put(x, &c, 1);
        } else {
            char e[4] = {'\\', 'x', hexdig[c >> 4], hexdig[c & 15]};
            lb_put(x, e, 4);
        }
    }
}

/* 1 when `(?:body\E)` does not compile although body alone did: an
   extended-mode comment runs to the end of body and swallows the ')'. */
static int needs_newline(const uint8_t *body, size_t n, unsigned rxf) {
    if (!memchr(body, '#', n))
        return 0; /* no comment without '#' */
    list_buf t = {0};
    lb_str(&t, "(?:");
    lb_put(&t, body, n);
    lb_str(&t, "\\E)");
    if (t.oom) {
        free(t.b);
        return 1;
    }
    mmk__regex r;
    int rc = mmk__regex_compile_flags(&r, t.b, t.n, rxf | MMK__RXC_CHECK, NULL);
    free(t.b);
    return rc == MMK_EPATTERN;
}

static const char why_lead[] =
    "leading (*OPTION) applies to the whole list: every pattern of the list needs the same "
    "newline and (*NOTEMPTY...) options";
static const char why_numref[] =
    "numbered reference in a pattern list after a pattern with groups (group numbers run across "
    "the list): use a name or a relative reference such as \\g{-1}";
static const char why_wholeref[] =
    "(?R) and (?0) would recurse into the whole pattern list: name a group and use (?&name)";

int mmk_pattern_compile_list(mmk_pattern **out, const void *const *patterns, const size_t *lens,
                             size_t n, unsigned flags, mmk_pattern_error *err) {
    if (n < 2 || !(flags & MMK_PAT_FIXED) || !out || !lens || !patterns ||
        (flags & ~(unsigned)MMK__PAT_ALL_FLAGS) ||
        ((flags & MMK_PAT_LINE_EXACT) && !(flags & MMK_PAT_LINES)))
        return mmk__pattern_compile_list_regex(out, patterns, lens, n, flags, err);
    /* A list of literals: the multi-literal matcher (a regex alternation of
       hundreds of literals is slow, and PCRE2 refuses thousands). */
    *out = NULL;
    if (err) {
        err->offset = -1;
        err->message[0] = 0;
        err->index = 0;
    }
    int excludes_newline = 1;
    for (size_t i = 0; i < n; i++) {
        if (!patterns[i] && lens[i] > 0)
            return -EINVAL;
        if (lens[i] && memchr(patterns[i], '\n', lens[i]))
            excludes_newline = 0;
    }
    mmk_pattern *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->kind = MMK__PAT_MULTI;
    p->flags = flags;
    p->excludes_newline = excludes_newline;
    int rc = mmk__multi_init(&p->multi, patterns, lens, n, (flags & MMK_PAT_ICASE) != 0,
                             (flags & MMK_PAT_WORD) != 0, (flags & MMK_PAT_LINE_EXACT) != 0);
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int mmk__pattern_compile_list_regex(mmk_pattern **out, const void *const *patterns,
                                    const size_t *lens, size_t n, unsigned flags,
                                    mmk_pattern_error *err) {
    if (out)
        *out = NULL;
    if (err) {
        err->offset = -1;
        err->message[0] = 0;
        err->index = 0;
    }
    if (!out || n == 0 || !patterns || !lens || (flags & ~(unsigned)MMK__PAT_ALL_FLAGS) ||
        ((flags & MMK_PAT_LINE_EXACT) && !(flags & MMK_PAT_LINES)))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!patterns[i] && lens[i] > 0)
            return -EINVAL;
    if (n == 1)
        return mmk_pattern_compile(out, patterns[0], lens[0], flags, err);
    /* Literal lists come here only from the tests (mmk_pattern_compile_list
       gives them the multi-literal matcher). */

    const unsigned rxf = rx_flags(flags);
    list_buf body = {0};
    int rc = 0, excludes_newline = 1;
    lead_opts *lead = NULL;
    size_t *skip = NULL; /* bytes of leading options of each pattern */
    if (flags & MMK_PAT_FIXED) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *lit = lens[i] ? patterns[i] : (const uint8_t *)"";
            lb_str(&body, i ? "|(?:" : "(?:");
            put_escaped(&body, lit, lens[i]);
            lb_str(&body, ")");
            if (memchr(lit, '\n', lens[i]))
                excludes_newline = 0;
        }
    } else {
        lead = calloc(n, sizeof *lead);
        skip = calloc(n, sizeof *skip);
        if (!lead || !skip) {
            rc = -ENOMEM;
            goto out;
        }
        uint32_t groups_before = 0;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *pat = lens[i] ? patterns[i] : (const uint8_t *)"";
            mmk__regex r;
            /* Alone, with the list's flags: errors in the pattern's own terms. */
            rc = mmk__regex_compile_flags(&r, pat, lens[i], rxf | MMK__RXC_CHECK, err);
            if (rc < 0) {
                if (err)
                    err->index = (int64_t)i;
                goto out;
            }
            if (r.wholeref_at >= 0) {
                list_error(err, (int64_t)i, r.wholeref_at, why_wholeref);
                rc = MMK_EPATTERN;
                goto out;
            }
            if (r.numref_at >= 0 && groups_before > 0) {
                list_error(err, (int64_t)i, r.numref_at, why_numref);
                rc = MMK_EPATTERN;
                goto out;
            }
            groups_before += r.groups;
            skip[i] = r.options_len;
            if (lead_parse(pat, skip[i], &lead[i]) < 0 ||
                (i > 0 && !lead_same_other(&lead[0], &lead[i]))) {
                list_error(err, (int64_t)i, 0, why_lead);
                rc = MMK_EPATTERN;
                goto out;
            }
            if (!regex_excludes_newline(pat, lens[i]))
                excludes_newline = 0;
        }
        /* The hoisted options, then each pattern's own text in a group. */
        for (size_t k = 0; k < lead[0].nother; k++)
            lb_put(&body, lead[0].other[k], lead[0].other_len[k]);
        for (size_t k = 0; k < NSWITCHES; k++) {
            int any = 0;
            for (size_t i = 0; i < n; i++)
                any |= lead[i].sw[k];
            if (any) {
                lb_str(&body, "(*");
                lb_str(&body, switch_names[k]);
                lb_str(&body, ")");
            }
        }
        for (int k = 0; k < NLIMITS; k++) {
            unsigned long long v = ~0ull;
            for (size_t i = 0; i < n; i++)
                if (lead[i].limit[k] < v)
                    v = lead[i].limit[k];
            if (v != ~0ull) {
                char num[32];
                snprintf(num, sizeof num, "%llu)", v);
                lb_str(&body, "(*");
                lb_str(&body, limit_names[k]);
                lb_str(&body, num);
            }
        }
        for (size_t i = 0; i < n; i++) {
            const uint8_t *pat = lens[i] ? patterns[i] : (const uint8_t *)"";
            const uint8_t *rest = pat + skip[i];
            size_t rn = lens[i] - skip[i];
            lb_str(&body, i ? "|(?:" : "(?:");
            lb_put(&body, rest, rn);
            lb_str(&body, needs_newline(rest, rn, rxf) ? "\\E\n)" : "\\E)");
        }
    }
    if (body.oom) {
        rc = -ENOMEM;
        goto out;
    }
    mmk_pattern *p = calloc(1, sizeof *p);
    if (!p) {
        rc = -ENOMEM;
        goto out;
    }
    p->kind = MMK__PAT_REGEX;
    p->flags = flags;
    p->excludes_newline = excludes_newline;
    mmk_pattern_error lerr;
    rc = mmk__regex_compile_flags(&p->re, body.b, body.n, rxf | MMK__RXC_DUPNAMES, &lerr);
    if (rc < 0) {
        mmk_pattern_free(p);
        if (rc == MMK_EPATTERN) {
            /* Every pattern compiled alone: what fails is the list as a whole
               (too large for PCRE2, most likely). */
            char msg[sizeof lerr.message];
            snprintf(msg, sizeof msg, "the pattern list as a whole: %.120s", lerr.message);
            list_error(err, -1, -1, msg);
        }
        goto out;
    }
    *out = p;
out:
    free(body.b);
    free(lead);
    free(skip);
    return rc;
}

int mmk_pattern_groups(const mmk_pattern *p) {
    if (!p)
        return -EINVAL;
    return p->kind == MMK__PAT_REGEX ? (int)p->re.groups : 0;
}

int mmk_pattern_group_number(const mmk_pattern *p, const char *name) {
    if (!p || !name)
        return -EINVAL;
    if (p->kind != MMK__PAT_REGEX)
        return MMK_EPATTERN;
    int rc = pcre2_substring_number_from_name(p->re.code, (PCRE2_SPTR)name);
    if (rc > 0)
        return rc;
    if (rc == PCRE2_ERROR_NOUNIQUESUBSTRING) {
        /* One name in several patterns of a list: the first one's number. */
        PCRE2_SPTR first = NULL, last = NULL;
        if (pcre2_substring_nametable_scan(p->re.code, (PCRE2_SPTR)name, &first, &last) > 0 &&
            first)
            return (first[0] << 8) | first[1];
    }
    return MMK_EPATTERN;
}

/* ------------------------------------------------------------------------ */
/* The matcher interface                                                     */
/* ------------------------------------------------------------------------ */

mmk__scratch *mmk__scratch_new(const mmk_pattern *p) {
    mmk__scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (p && p->kind == MMK__PAT_REGEX && mmk__regex_scratch_init(&s->rs, &p->re) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void mmk__scratch_free(mmk__scratch *s) {
    if (!s)
        return;
    mmk__regex_scratch_destroy(&s->rs);
    free(s);
}

/* Position of the last '\n' in s[from, to), or SIZE_MAX. memrchr where the C
   library has it (it is a GNU extension), a plain loop elsewhere. */
static size_t last_newline(const uint8_t *s, size_t from, size_t to) {
    if (to <= from)
        return SIZE_MAX;
    const uint8_t *nl = mmk__memrchr(s + from, '\n', to - from);
    return nl ? (size_t)(nl - s) : SIZE_MAX;
}

/* Position of the last byte in s[from, to) that no match of p can consume
   (p->seg_stop), or SIZE_MAX. Looks at most 256 bytes back byte by byte;
   past them, the last '\n' (one of those bytes) is a start that is early
   enough. */
static size_t last_stop(const mmk_pattern *p, const uint8_t *s, size_t from, size_t to) {
    if (!p->seg_narrow)
        return last_newline(s, from, to);
    const size_t near = to - from > 256 ? to - 256 : from;
    for (size_t i = to; i > near; i--)
        if (p->seg_stop[s[i - 1]])
            return i - 1;
    return last_newline(s, from, near);
}

/*
 * The prefilter search. Every match contains the literal and lies within one
 * line, so a match holding the next occurrence c starts on c's line, at or
 * before c: run the regex over just those starts. If none matches, no match
 * starts at or before c (one starting on an earlier line would hold an
 * earlier occurrence), so go on from c + 1. Where the pattern's matches can
 * consume only some bytes (\w+eth: word bytes), "line" narrows to the run
 * of such bytes around c (last_stop): PCRE2 then tries the starts in one
 * word, not in every word of the line before it.
 *
 * Occurrences are looked for only up to limit - 1, so a search bounded by a
 * chunk never walks the rest of the subject. A match may still start before
 * limit and hold an occurrence at or after it; then it starts after the last
 * newline before limit, and PCRE2 itself is run over those few starts.
 *
 * Partial (more bytes may follow len): the regex runs with partial matching,
 * and an occurrence that the end of the subject cuts is one "at or after
 * limit" too: the last line's starts go to PCRE2, which says whether they
 * wait for more bytes.
 */
static int find_prefiltered(const mmk_pattern *p, mmk__scratch *sc, const uint8_t *s, size_t len,
                            size_t pos, size_t limit, int partial, int notempty_at_pos,
                            size_t *mstart, size_t *mend) {
    const size_t n = p->lit.n;
    if (limit > len + 1)
        limit = len + 1;
    if (pos >= limit || (len < n && !partial))
        return 0;
    size_t floor = pos; /* no match starts before it */
    for (;;) {
        size_t c = SIZE_MAX;
        if (len >= n) {
            const size_t last_start = len - n;
            const size_t bound = limit - 1 < last_start ? limit - 1 : last_start;
            if (floor <= bound)
                c = mmk__literal_scan(&p->lit, s, floor, bound);
            if (c == SIZE_MAX && last_start <= limit - 1 && !partial)
                return 0; /* no occurrence at or after floor at all */
        }
        size_t top = c != SIZE_MAX ? c : limit < len ? limit : len;
        size_t nl = last_stop(p, s, floor, top);
        size_t start = nl != SIZE_MAX ? nl + 1 : floor;
        size_t upto = c != SIZE_MAX ? c + 1 : limit;
        if (start >= upto)
            return 0;
        int ne = notempty_at_pos && start == pos;
        int rc = partial ? mmk__regex_find_partial(&p->re, &sc->rs, s, len, start, upto, ne, mstart,
                                                   mend)
                         : mmk__regex_find(&p->re, &sc->rs, s, len, start, upto, ne, mstart, mend);
        if (rc != 0 || c == SIZE_MAX)
            return rc;
        floor = c + 1;
        if (floor >= limit)
            return 0;
    }
}

int mmk__find(const mmk_pattern *p, mmk__scratch *s, const uint8_t *subject, size_t len, size_t pos,
              size_t limit, int notempty_at_pos, size_t *mstart, size_t *mend) {
    if (p->kind == MMK__PAT_LITERAL) {
        size_t c = mmk__literal_find(&p->lit, subject, len, pos, limit, notempty_at_pos);
        if (c == SIZE_MAX)
            return 0;
        *mstart = c;
        *mend = c + p->lit.n;
        return 1;
    }
    if (p->kind == MMK__PAT_MULTI)
        return mmk__multi_find(&p->multi, subject, len, pos, limit, notempty_at_pos, mstart, mend);
    if (p->has_prefilter)
        return find_prefiltered(p, s, subject, len, pos, limit, 0, notempty_at_pos, mstart, mend);
    return mmk__regex_find(&p->re, &s->rs, subject, len, pos, limit, notempty_at_pos, mstart, mend);
}

int mmk__find_group(const mmk_pattern *p, mmk__scratch *s, int group, size_t *gstart,
                    size_t *gend) {
    if (p->kind != MMK__PAT_REGEX || group < 1)
        return -EINVAL;
    return mmk__regex_group(&p->re, &s->rs, group, gstart, gend);
}

size_t mmk__max_match_len(const mmk_pattern *p) {
    if (p->kind == MMK__PAT_MULTI)
        return p->multi.maxlen;
    return p->kind == MMK__PAT_LITERAL ? p->lit.n : SIZE_MAX;
}

size_t mmk__max_lookbehind(const mmk_pattern *p) {
    if (p->kind == MMK__PAT_MULTI)
        return p->multi.word || p->multi.exact ? 1 : 0;
    if (p->kind == MMK__PAT_LITERAL)
        return p->lit.word || p->lit.exact ? 1 : 0;
    /* +1: \b, \B and a multiline ^ look at the byte before the start too. */
    return p->re.max_lookbehind + 1;
}

int mmk__can_match_empty(const mmk_pattern *p) {
    if (p->kind == MMK__PAT_MULTI)
        return p->multi.empty_index != SIZE_MAX;
    if (p->kind == MMK__PAT_LITERAL)
        return p->lit.n == 0;
    return p->re.min_length == 0;
}

/*
 * Searching a buffer of lines at once (multi-line ^ and $) agrees with
 * searching each line alone when every item sees the same thing either way.
 * Ordinary items only look at the bytes they consume, ^ and $ answer the same
 * at a line boundary as at a subject boundary, and \b, \B and the -w
 * assertions see a '\n' neighbour as they see no neighbour. Then a way through
 * the pattern that matches on the line alone also matches in the buffer, and
 * a match in the buffer without '\n' is one on the line alone. What breaks it:
 * lookaround (sees the next line), \A \z \Z (see the buffer's ends), (?-m)
 * and leading (*OPTION)s such as other newline conventions, and, when an item
 * can consume '\n', anything that commits to a way (atomic and possessive
 * groups and quantifiers, (*PRUNE), (*THEN) ...): in the buffer it may commit
 * to a way through the '\n' where the line alone would have matched.
 */
int mmk__lines_buffer_safe(const mmk_pattern *p) {
    if (p->kind != MMK__PAT_REGEX)
        return 1;
    unsigned items = p->re.items;
    if (items &
        (MMK__RX_LOOKAROUND | MMK__RX_SUBJECT_ANCHOR | MMK__RX_OPTION_M | MMK__RX_START_OPTION))
        return 0;
    if (items & (MMK__RX_ATOMIC | MMK__RX_POSSESSIVE | MMK__RX_VERB))
        return p->excludes_newline;
    return 1;
}

int mmk__is_literal(const mmk_pattern *p) {
    return p->kind == MMK__PAT_LITERAL || p->kind == MMK__PAT_MULTI;
}

int mmk__match_excludes_newline(const mmk_pattern *p) {
    return p->excludes_newline;
}

int mmk__partial_exact(const mmk_pattern *p) {
    return p->kind != MMK__PAT_REGEX || !(p->re.items & MMK__RX_ACCEPT);
}

/* Partial matching (matcher.h). A literal needs no help from PCRE2: its
   matches have a fixed length, so only the last n - 1 positions (and, under
   -w, a match ending at len, whose next byte decides) wait for more bytes.
   Regexes run PCRE2 with PCRE2_PARTIAL_HARD (mmk__regex_find_partial), after
   the prefilter where the pattern has one. */
int mmk__find_partial(const mmk_pattern *p, mmk__scratch *s, const uint8_t *subject, size_t len,
                      size_t pos, size_t limit, int notempty_at_pos, size_t *mstart, size_t *mend) {
    if (limit > len + 1)
        limit = len + 1;
    if (pos >= limit)
        return 0;
    if (p->kind == MMK__PAT_LITERAL) {
        size_t n = p->lit.n;
        size_t c = mmk__literal_find(&p->lit, subject, len, pos, limit, notempty_at_pos);
        /* Under -w / -x the byte after a match ending at len decides. */
        int wait_next = (p->lit.word || p->lit.exact) && c + n == len;
        if (c != SIZE_MAX && !wait_next) {
            *mstart = c;
            *mend = c + n;
            return 1;
        }
        if (c != SIZE_MAX) {
            *mstart = c;
            return 2;
        }
        size_t tail = len + 1 > n ? len + 1 - n : 0; /* starts not tried in full */
        *mstart = tail > pos ? tail : pos;
        return *mstart < limit ? 2 : 0;
    }
    if (p->kind == MMK__PAT_MULTI) {
        /* Determined when every literal at every start up to the match fits
           in what has arrived, and, under -w / -x, the byte after it too. */
        size_t n = p->multi.maxlen, a = 0, b = 0;
        size_t tail = len + 1 > n ? len + 1 - n : 0; /* starts not tried in full */
        size_t wait_from = tail > pos ? tail : pos;
        int bounds = p->multi.word || p->multi.exact;
        int f = mmk__multi_find(&p->multi, subject, len, pos, limit, notempty_at_pos, &a, &b);
        if (f == 1 && a < tail && !(bounds && b == len)) {
            *mstart = a;
            *mend = b;
            return 1;
        }
        if (f == 1) {
            *mstart = a < tail ? a : wait_from;
            return 2;
        }
        *mstart = wait_from;
        return wait_from < limit ? 2 : 0;
    }
    if (!mmk__partial_exact(p)) {
        *mstart = pos; /* nothing is settled before the end */
        return 2;
    }
    if (p->has_prefilter)
        return find_prefiltered(p, s, subject, len, pos, limit, 1, notempty_at_pos, mstart, mend);
    return mmk__regex_find_partial(&p->re, &s->rs, subject, len, pos, limit, notempty_at_pos,
                                   mstart, mend);
}
