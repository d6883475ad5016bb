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
 * and refuse what would make results depend on where a search starts (the
 * searcher starts at chunk boundaries and after every match): \K reports a
 * match start after where the match began, \G anchors at the start offset,
 * (*COMMIT) and (*SKIP) stop or redirect the advance of the start. Python's
 * re has none of the four.
 * Returns 0, -ENOMEM or MMK_EPATTERN (err filled).
 */
static int translate(const uint8_t *p, size_t len, xbuf *out, mmk_pattern_error *err) {
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
            } else if (e == 'K' && !in_class) {
                set_error(err, (int64_t)i,
                          "\\K is not supported (a match must start where it is reported)");
                return MMK_EPATTERN;
            } else if (e == 'G' && !in_class) {
                set_error(
                    err, (int64_t)i,
                    "\\G is not supported (matches must not depend on where a search starts)");
                return MMK_EPATTERN;
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
        if (c == '(' && i + 1 < len && p[i + 1] == '*') {
            static const char *const verbs[] = {"(*COMMIT", "(*SKIP"};
            for (size_t k = 0; k < 2; k++) {
                size_t vl = strlen(verbs[k]);
                if (len - i >= vl && memcmp(p + i, verbs[k], vl) == 0 &&
                    (len - i == vl || p[i + vl] == ')' || p[i + vl] == ':')) {
                    set_error(err, (int64_t)i,
                              "(*COMMIT) and (*SKIP) are not supported (matches must not depend "
                              "on where a search starts)");
                    return MMK_EPATTERN;
                }
            }
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

int mmk__regex_compile(mmk__regex *r, const uint8_t *pattern, size_t len, int icase, int word,
                       int multiline, mmk_pattern_error *err) {
    static const char pre[] = "(?<![A-Za-z0-9_])(?:";
    /* \E closes a \Q left open at the end of the pattern (and is ignored
       otherwise), so the closing assertion is never quoted. */
    static const char post[] = "\\E)(?![A-Za-z0-9_])";
    static const char post_nl[] = "\\E\n)(?![A-Za-z0-9_])";
    memset(r, 0, sizeof *r);
    xbuf x = {0};
    int rc = translate(pattern, len, &x, err);
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
    if (multiline)
        opts |= PCRE2_MULTILINE;

    pcre2_code *code = NULL;
    rc = compile_buf(&x, len, opts, cc, &code, err);
    if (rc == 0 && word) {
        /* The plain pattern compiled, so errors are reported against it; now
           the -w form. A trailing (?x) comment would swallow the closing part,
           hence the retry with a newline, which ends it (and is ignored in
           extended mode, the only mode where the first attempt can fail so). */
        pcre2_code_free(code);
        code = NULL;
        for (int attempt = 0; attempt < 2 && !code; attempt++) {
            xbuf w = {0};
            xput(&w, pre, sizeof pre - 1, 0);
            xput(&w, x.b, x.n, 0);
            if (x.n && !w.oom) /* the user's bytes keep their own offsets */
                memcpy(w.src + (sizeof pre - 1), x.src, x.n * sizeof *x.src);
            if (attempt == 0)
                xput(&w, post, sizeof post - 1, len);
            else
                xput(&w, post_nl, sizeof post_nl - 1, len);
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
    pcre2_compile_context_free(cc);
    xfree(&x);
    if (rc < 0)
        return rc;

    r->code = code;
    r->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    uint32_t v = 0;
    if (pcre2_pattern_info(code, PCRE2_INFO_MAXLOOKBEHIND, &v) == 0)
        r->max_lookbehind = v;
    v = 0;
    if (pcre2_pattern_info(code, PCRE2_INFO_MINLENGTH, &v) == 0)
        r->min_length = v;
    return 0;
}

void mmk__regex_destroy(mmk__regex *r) {
    if (!r)
        return;
    pcre2_code_free(r->code);
    r->code = NULL;
}

int mmk__regex_scratch_init(mmk__regex_scratch *rs, const mmk__regex *r) {
    memset(rs, 0, sizeof *rs);
    rs->md = pcre2_match_data_create(1, NULL);
    rs->mc = pcre2_match_context_create(NULL);
    if (!rs->md || !rs->mc)
        goto fail;
    if (r->jit) {
        /* Deeply nested or heavily backtracking patterns need more than the
           default 32 KiB machine-stack area; grow up to 8 MiB on demand. */
        rs->jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
        if (!rs->jit_stack)
            goto fail;
        pcre2_jit_stack_assign(rs->mc, NULL, rs->jit_stack);
    }
    return 0;
fail:
    mmk__regex_scratch_destroy(rs);
    return -ENOMEM;
}

void mmk__regex_scratch_destroy(mmk__regex_scratch *rs) {
    if (!rs)
        return;
    pcre2_match_data_free(rs->md);
    pcre2_match_context_free(rs->mc);
    pcre2_jit_stack_free(rs->jit_stack);
    memset(rs, 0, sizeof *rs);
}

int mmk__regex_find(const mmk__regex *r, mmk__regex_scratch *rs, const uint8_t *s, size_t len,
                    size_t pos, size_t limit, int notempty_at_pos, size_t *mstart, size_t *mend) {
    if (limit > len + 1)
        limit = len + 1;
    if (pos >= limit)
        return 0;
    /* The offset limit is the last offset a match may start at. */
    pcre2_set_offset_limit(rs->mc, limit - 1);
    uint32_t opts = notempty_at_pos ? PCRE2_NOTEMPTY_ATSTART : 0;
    /* PCRE2 wants a non-NULL subject even when it is empty. */
    PCRE2_SPTR subj = s ? (PCRE2_SPTR)s : (PCRE2_SPTR) "";
    int rc = r->jit ? pcre2_jit_match(r->code, subj, len, pos, opts, rs->md, rs->mc)
                    : pcre2_match(r->code, subj, len, pos, opts | PCRE2_NO_JIT, rs->md, rs->mc);
    if (rc >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rs->md);
        *mstart = ov[0];
        *mend = ov[1];
        return 1;
    }
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_NOMEMORY)
        return -ENOMEM;
    /* Match, depth, heap or JIT stack limit: the pattern is too expensive
       for this input. */
    return MMK_EPATTERN;
}
