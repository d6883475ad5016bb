/*
 * merge.c — `mmk merge`: adds up the JSON documents that `mmk count`,
 * `count --by`, `lines` and `words` print with --json (one per shard of a
 * corpus, say, counted on several hosts) and prints what the command would
 * have printed for all the shards at once, as text or as its JSON document.
 *
 * Exactness rests on whole tables: a table cut by --top is refused (the rows
 * below the cut are unknown, so no sum over shards can be exact). The JSON
 * reader below is mmk's own, small and strict: anything that is not JSON
 * (RFC 8259) or not the command's schema is an error naming the input and
 * the byte offset, and nothing is printed until every input was read and
 * checked.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sys.h"

/* ---- the JSON reader --------------------------------------------------------- */

enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT };

/* Deeper nesting than any mmk document has is refused before it can use up
   the stack (the reader is recursive). */
#define JSON_MAX_DEPTH 64

/* One parsed value. Strings are decoded in place in the input buffer (no
   escape is shorter than the bytes it stands for), numbers keep their text.
   Containers link their children by number: 0 is none, else index + 1. */
typedef struct jnode {
    int type;
    size_t offset; /* where the value starts in the input */
    char *str;     /* J_STRING: the decoded bytes; J_NUMBER: the text */
    size_t len;
    const char *key; /* a member of an object: its decoded name */
    size_t key_len;
    size_t first, next; /* first child; next sibling */
} jnode;

/* One input being read: its bytes (owned by the merge), its name for
   messages, and the nodes of the document being read. */
typedef struct jreader {
    const char *name;
    char *buf;
    size_t len, pos;
    jnode *nodes;
    size_t nnodes, cap;
} jreader;

/* `mmk: merge: NAME: byte N: what`, and -1 for the caller to return. */
static int merge_fail(const char *name, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int merge_fail(const char *name, size_t offset, const char *fmt, ...) {
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    cli_errorf("merge: %s: byte %llu: %s", name, (unsigned long long)offset, what);
    return -1;
}

static jnode *jat(const jreader *r, size_t id) {
    return &r->nodes[id - 1];
}

/* A new node; its number (index + 1), or 0 when memory ran out (reported). */
static size_t jnew(jreader *r, int type, size_t offset) {
    if (r->nnodes == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        jnode *n = cap > SIZE_MAX / sizeof *n ? NULL : realloc(r->nodes, cap * sizeof *n);
        if (!n) {
            merge_fail(r->name, offset, "%s", mmk_strerror(-ENOMEM));
            return 0;
        }
        r->nodes = n;
        r->cap = cap;
    }
    jnode *n = &r->nodes[r->nnodes++];
    memset(n, 0, sizeof *n);
    n->type = type;
    n->offset = offset;
    return r->nnodes;
}

static void skip_space(jreader *r) {
    while (r->pos < r->len) {
        char c = r->buf[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        r->pos++;
    }
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* The string at r->pos (which is '"'), decoded in place. */
static int parse_string(jreader *r, char **out, size_t *out_len) {
    size_t start = r->pos++;
    char *w = r->buf + r->pos;
    char *first = w;
    for (;;) {
        if (r->pos >= r->len) {
            return merge_fail(r->name, start, "string without its closing quote");
        }
        unsigned char c = (unsigned char)r->buf[r->pos];
        if (c == '"') {
            r->pos++;
            break;
        }
        if (c < 0x20) {
            return merge_fail(r->name, r->pos, "control character 0x%02x in a string", c);
        }
        if (c != '\\') {
            size_t n = out_utf8_sequence((const unsigned char *)r->buf + r->pos, r->len - r->pos);
            if (n == 0) {
                return merge_fail(r->name, r->pos, "a string that is not UTF-8");
            }
            memmove(w, r->buf + r->pos, n);
            w += n;
            r->pos += n;
            continue;
        }
        size_t esc = r->pos;
        if (r->pos + 1 >= r->len) {
            return merge_fail(r->name, start, "string without its closing quote");
        }
        char e = r->buf[r->pos + 1];
        r->pos += 2;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            *w++ = e;
            continue;
        case 'b':
            *w++ = '\b';
            continue;
        case 'f':
            *w++ = '\f';
            continue;
        case 'n':
            *w++ = '\n';
            continue;
        case 'r':
            *w++ = '\r';
            continue;
        case 't':
            *w++ = '\t';
            continue;
        case 'u':
            break;
        default:
            return merge_fail(r->name, esc, "invalid escape in a string");
        }
        unsigned cp, lo;
        if (r->len - r->pos < 4 || hex4(r->buf + r->pos, &cp) < 0) {
            return merge_fail(r->name, esc, "\\u needs four hex digits");
        }
        r->pos += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return merge_fail(r->name, esc, "a low surrogate without its high surrogate");
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (r->len - r->pos < 6 || r->buf[r->pos] != '\\' || r->buf[r->pos + 1] != 'u' ||
                hex4(r->buf + r->pos + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
                return merge_fail(r->name, esc, "a high surrogate without its low surrogate");
            }
            r->pos += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp < 0x80) {
            *w++ = (char)cp;
        } else if (cp < 0x800) {
            *w++ = (char)(0xC0 | cp >> 6);
            *w++ = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            *w++ = (char)(0xE0 | cp >> 12);
            *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *w++ = (char)(0x80 | (cp & 0x3F));
        } else {
            *w++ = (char)(0xF0 | cp >> 18);
            *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
            *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *w++ = (char)(0x80 | (cp & 0x3F));
        }
    }
    *out = first;
    *out_len = (size_t)(w - first);
    return 0;
}

static int is_digit(const jreader *r) {
    return r->pos < r->len && r->buf[r->pos] >= '0' && r->buf[r->pos] <= '9';
}

/* A number as JSON writes them; its text is kept (jint reads it). */
static size_t parse_number(jreader *r) {
    size_t start = r->pos;
    if (r->buf[r->pos] == '-') {
        r->pos++;
    }
    if (r->pos < r->len && r->buf[r->pos] == '0') {
        r->pos++;
    } else if (is_digit(r)) {
        while (is_digit(r)) {
            r->pos++;
        }
    } else {
        merge_fail(r->name, start, "invalid number");
        return 0;
    }
    if (r->pos < r->len && r->buf[r->pos] == '.') {
        r->pos++;
        if (!is_digit(r)) {
            merge_fail(r->name, start, "invalid number");
            return 0;
        }
        while (is_digit(r)) {
            r->pos++;
        }
    }
    if (r->pos < r->len && (r->buf[r->pos] == 'e' || r->buf[r->pos] == 'E')) {
        r->pos++;
        if (r->pos < r->len && (r->buf[r->pos] == '+' || r->buf[r->pos] == '-')) {
            r->pos++;
        }
        if (!is_digit(r)) {
            merge_fail(r->name, start, "invalid number");
            return 0;
        }
        while (is_digit(r)) {
            r->pos++;
        }
    }
    size_t id = jnew(r, J_NUMBER, start);
    if (id) {
        jat(r, id)->str = r->buf + start;
        jat(r, id)->len = r->pos - start;
    }
    return id;
}

static size_t parse_value(jreader *r, int depth);

/* An array or object at r->pos ('[' or '{'). */
static size_t parse_container(jreader *r, int depth) {
    int object = r->buf[r->pos] == '{';
    char close = object ? '}' : ']';
    size_t id = jnew(r, object ? J_OBJECT : J_ARRAY, r->pos);
    if (!id) {
        return 0;
    }
    if (depth >= JSON_MAX_DEPTH) {
        merge_fail(r->name, r->pos, "nested more than %d deep", JSON_MAX_DEPTH);
        return 0;
    }
    r->pos++;
    skip_space(r);
    if (r->pos < r->len && r->buf[r->pos] == close) {
        r->pos++;
        return id;
    }
    size_t last = 0;
    for (;;) {
        char *key = NULL;
        size_t key_len = 0, key_at = r->pos;
        if (object) {
            if (r->pos >= r->len || r->buf[r->pos] != '"') {
                merge_fail(r->name, r->pos, "%s",
                           r->pos >= r->len ? "unexpected end of input" : "expected a member name");
                return 0;
            }
            if (parse_string(r, &key, &key_len) < 0) {
                return 0;
            }
            for (size_t c = jat(r, id)->first; c; c = jat(r, c)->next) {
                if (jat(r, c)->key_len == key_len && memcmp(jat(r, c)->key, key, key_len) == 0) {
                    merge_fail(r->name, key_at, "member \"%.*s\" appears twice", (int)key_len, key);
                    return 0;
                }
            }
            skip_space(r);
            if (r->pos >= r->len || r->buf[r->pos] != ':') {
                merge_fail(r->name, r->pos, "expected ':' after a member name");
                return 0;
            }
            r->pos++;
            skip_space(r);
        }
        size_t child = parse_value(r, depth + 1);
        if (!child) {
            return 0;
        }
        jat(r, child)->key = key;
        jat(r, child)->key_len = key_len;
        if (last) {
            jat(r, last)->next = child;
        } else {
            jat(r, id)->first = child;
        }
        last = child;
        skip_space(r);
        if (r->pos < r->len && r->buf[r->pos] == ',') {
            r->pos++;
            skip_space(r);
            continue;
        }
        if (r->pos < r->len && r->buf[r->pos] == close) {
            r->pos++;
            return id;
        }
        merge_fail(r->name, r->pos, "%s",
                   r->pos >= r->len ? "unexpected end of input"
                   : object         ? "expected ',' or '}'"
                                    : "expected ',' or ']'");
        return 0;
    }
}

/* The value at r->pos (after white space); its node number, or 0 after a
   message. */
static size_t parse_value(jreader *r, int depth) {
    if (r->pos >= r->len) {
        merge_fail(r->name, r->pos, "unexpected end of input");
        return 0;
    }
    char c = r->buf[r->pos];
    static const struct {
        const char *word;
        int type;
    } literals[] = {{"null", J_NULL}, {"false", J_FALSE}, {"true", J_TRUE}};
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        size_t n = strlen(literals[i].word);
        if (c == literals[i].word[0]) {
            if (r->len - r->pos < n || memcmp(r->buf + r->pos, literals[i].word, n) != 0) {
                break;
            }
            size_t id = jnew(r, literals[i].type, r->pos);
            r->pos += n;
            return id;
        }
    }
    if (c == '"') {
        size_t id = jnew(r, J_STRING, r->pos);
        if (id && parse_string(r, &jat(r, id)->str, &jat(r, id)->len) < 0) {
            return 0;
        }
        return id;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        return parse_number(r);
    }
    if (c == '[' || c == '{') {
        return parse_container(r, depth);
    }
    if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7F) {
        merge_fail(r->name, r->pos, "unexpected character '%c'", c);
    } else {
        merge_fail(r->name, r->pos, "unexpected byte 0x%02x", (unsigned char)c);
    }
    return 0;
}

/* ---- reading the commands' schemas ------------------------------------------ */

enum doc_kind { KIND_COUNT = 1, KIND_COUNT_BY, KIND_LINES, KIND_WORDS };

static const char *kind_name(int kind) {
    switch (kind) {
    case KIND_COUNT:
        return "mmk count";
    case KIND_COUNT_BY:
        return "mmk count --by";
    case KIND_LINES:
        return "mmk lines";
    default:
        return "mmk words";
    }
}

/* One entry of "files": a result or an error, in input order. The bytes
   point into the inputs' buffers, which live until the end of the merge. */
typedef struct file_entry {
    const char *path, *error, *errname; /* error: NULL for a result */
    size_t path_len, error_len, errname_len;
    uint64_t n, distinct; /* count / lines / words; words: distinct */
} file_entry;

/* One row of a words or values table, with the document it came from. */
typedef struct row {
    const char *bytes;
    size_t len;
    uint64_t count;
    size_t doc;
} row;

/* Where a document was: for messages about it after it was read. */
typedef struct doc_place {
    const char *name;
    size_t offset;
} doc_place;

typedef struct merge_state {
    int kind;
    doc_place first; /* the first document, named when another does not fit */
    const char *pattern;
    size_t pattern_len;
    uint64_t group;
    file_entry *files;
    size_t nfiles, files_cap;
    row *rows;
    size_t nrows, rows_cap;
    doc_place *docs;
    size_t ndocs, docs_cap;
    uint64_t total;
} merge_state;

/* The member `key` of object `obj`, or 0. */
static size_t jmember(const jreader *r, size_t obj, const char *key) {
    size_t n = strlen(key);
    for (size_t c = jat(r, obj)->first; c; c = jat(r, c)->next) {
        if (jat(r, c)->key_len == n && memcmp(jat(r, c)->key, key, n) == 0) {
            return c;
        }
    }
    return 0;
}

/* Every member of `obj` is one of `allowed` (NULL-terminated) and every one
   of `required` is there. */
static int check_members(const jreader *r, size_t obj, const char *what, const char *const *allowed,
                         const char *const *required) {
    for (size_t c = jat(r, obj)->first; c; c = jat(r, c)->next) {
        const jnode *m = jat(r, c);
        int known = 0;
        for (const char *const *a = allowed; *a && !known; a++) {
            known = strlen(*a) == m->key_len && memcmp(*a, m->key, m->key_len) == 0;
        }
        if (!known) {
            return merge_fail(r->name, m->offset, "unknown member \"%.*s\" in %s", (int)m->key_len,
                              m->key, what);
        }
    }
    for (const char *const *q = required; *q; q++) {
        if (!jmember(r, obj, *q)) {
            return merge_fail(r->name, jat(r, obj)->offset, "%s without its \"%s\" member", what,
                              *q);
        }
    }
    return 0;
}

/* A count: a JSON integer from 0 to 2^64 - 1. */
static int jint(const jreader *r, size_t id, const char *what, uint64_t *out) {
    const jnode *n = jat(r, id);
    if (n->type != J_NUMBER) {
        return merge_fail(r->name, n->offset, "%s is not a number", what);
    }
    if (n->str[0] == '-') {
        return merge_fail(r->name, n->offset, "%s is negative (%.*s)", what, (int)n->len, n->str);
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n->len; i++) {
        char c = n->str[i];
        if (c < '0' || c > '9') {
            return merge_fail(r->name, n->offset, "%s is not a whole number (%.*s)", what,
                              (int)n->len, n->str);
        }
        if (v > (UINT64_MAX - (uint64_t)(c - '0')) / 10) {
            return merge_fail(r->name, n->offset, "%s is too large (%.*s: more than 64 bits)", what,
                              (int)n->len, n->str);
        }
        v = v * 10 + (uint64_t)(c - '0');
    }
    *out = v;
    return 0;
}

static int jint_member(const jreader *r, size_t obj, const char *key, uint64_t *out) {
    char what[64];
    snprintf(what, sizeof what, "\"%s\"", key);
    size_t id = jmember(r, obj, key);
    if (!id) { /* check_members makes this unreachable; a message beats a wild read */
        return merge_fail(r->name, jat(r, obj)->offset, "no %s member", what);
    }
    return jint(r, id, what, out);
}

static int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decode standard base64 in place: only the form mmk writes (padded, no
   line breaks, unused bits zero), so that writing it again gives the same
   text. Returns the decoded length, or -1. */
static long long base64_decode(char *s, size_t n) {
    if (n % 4 != 0) {
        return -1;
    }
    size_t out = 0;
    for (size_t i = 0; i < n; i += 4) {
        int pad = 0;
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = base64_value(s[i + k]);
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                d = 0;
                pad++;
            } else if (d < 0 || pad) {
                return -1;
            }
            v = v << 6 | (uint32_t)d;
        }
        if ((pad == 1 && (v & 0xFF)) || (pad == 2 && (v & 0xFFFF))) {
            return -1;
        }
        s[out++] = (char)(v >> 16);
        if (pad < 2) {
            s[out++] = (char)(v >> 8);
        }
        if (pad < 1) {
            s[out++] = (char)v;
        }
    }
    return (long long)out;
}

/* Whether `str` is what out_json_string shows of the bytes b: valid UTF-8
   as it is, every other byte as U+FFFD. *replaced says whether a byte was
   replaced. */
static int shown_as(const char *b, size_t n, const char *str, size_t len, int *replaced) {
    static const char fffd[] = "\xEF\xBF\xBD";
    size_t i = 0, j = 0;
    *replaced = 0;
    while (i < n) {
        size_t k = out_utf8_sequence((const unsigned char *)b + i, n - i);
        const char *piece = k ? b + i : fffd;
        size_t plen = k ? k : 3;
        if (len - j < plen || memcmp(str + j, piece, plen) != 0) {
            return 0;
        }
        *replaced |= k == 0;
        i += k ? k : 1;
        j += plen;
    }
    return j == len;
}

/* The bytes of string member `key` of `obj`: from "KEY_base64" when the
   document has it (the exact bytes of a value that is not UTF-8), else the
   string itself. */
static int jbytes_member(const jreader *r, size_t obj, const char *key, const char **out,
                         size_t *out_len) {
    size_t id = jmember(r, obj, key);
    if (!id) { /* check_members makes this unreachable; a message beats a wild read */
        return merge_fail(r->name, jat(r, obj)->offset, "no \"%s\" member", key);
    }
    const jnode *n = jat(r, id);
    if (n->type != J_STRING) {
        return merge_fail(r->name, n->offset, "\"%s\" is not a string", key);
    }
    char b64[64];
    snprintf(b64, sizeof b64, "%s_base64", key);
    size_t bid = jmember(r, obj, b64);
    *out = n->str;
    *out_len = n->len;
    if (!bid) {
        return 0;
    }
    jnode *bn = jat(r, bid);
    if (bn->type != J_STRING) {
        return merge_fail(r->name, bn->offset, "\"%s\" is not a string", b64);
    }
    long long len = base64_decode(bn->str, bn->len);
    if (len < 0) {
        return merge_fail(r->name, bn->offset, "\"%s\" is not standard padded base64", b64);
    }
    bn->len = (size_t)len;
    bn->type = J_NULL; /* decoded: not to be decoded again */
    int replaced;
    if (!shown_as(bn->str, bn->len, n->str, n->len, &replaced) || !replaced) {
        return merge_fail(r->name, bn->offset,
                          "\"%s\" does not hold the bytes of \"%s\" (that are not UTF-8)", b64,
                          key);
    }
    *out = bn->str;
    *out_len = bn->len;
    return 0;
}

static int add_overflows(uint64_t *sum, uint64_t v) {
    return __builtin_add_overflow(*sum, v, sum);
}

/* Append to a growing array of `size`-byte items. */
static void *grow_array(void *p, size_t *cap, size_t n, size_t size) {
    if (n < *cap) {
        return p;
    }
    size_t want = *cap ? 2 * *cap : 64;
    if (want > SIZE_MAX / size) {
        return NULL;
    }
    void *q = realloc(p, want * size);
    if (q) {
        *cap = want;
    }
    return q;
}

/* The "files" array of a count, lines or words document into st->files; the
   sum of its numbers must be the document's "total". */
static int take_files(merge_state *st, const jreader *r, size_t root, uint64_t doc_total) {
    static const char *const error_members[] = {"path", "path_base64", "error", "errname", NULL};
    static const char *const error_required[] = {"path", "error", "errname", NULL};
    static const char *const count_members[] = {"path", "path_base64", "count", NULL};
    static const char *const count_required[] = {"path", "count", NULL};
    static const char *const lines_members[] = {"path", "path_base64", "lines", NULL};
    static const char *const lines_required[] = {"path", "lines", NULL};
    static const char *const words_members[] = {"path", "path_base64", "words", "distinct", NULL};
    static const char *const words_required[] = {"path", "words", "distinct", NULL};
    const char *const *members = st->kind == KIND_COUNT   ? count_members
                                 : st->kind == KIND_LINES ? lines_members
                                                          : words_members;
    const char *const *required = st->kind == KIND_COUNT   ? count_required
                                  : st->kind == KIND_LINES ? lines_required
                                                           : words_required;
    const char *number = required[1];
    size_t arr = jmember(r, root, "files");
    if (jat(r, arr)->type != J_ARRAY) {
        return merge_fail(r->name, jat(r, arr)->offset, "\"files\" is not an array");
    }
    uint64_t sum = 0;
    for (size_t c = jat(r, arr)->first; c; c = jat(r, c)->next) {
        if (jat(r, c)->type != J_OBJECT) {
            return merge_fail(r->name, jat(r, c)->offset, "an entry of \"files\" is not an object");
        }
        file_entry f;
        memset(&f, 0, sizeof f);
        if (jmember(r, c, "error")) {
            if (check_members(r, c, "an error entry", error_members, error_required) < 0 ||
                jbytes_member(r, c, "path", &f.path, &f.path_len) < 0 ||
                jbytes_member(r, c, "error", &f.error, &f.error_len) < 0 ||
                jbytes_member(r, c, "errname", &f.errname, &f.errname_len) < 0) {
                return -1;
            }
        } else {
            if (check_members(r, c, "an entry of \"files\"", members, required) < 0 ||
                jbytes_member(r, c, "path", &f.path, &f.path_len) < 0 ||
                jint_member(r, c, number, &f.n) < 0 ||
                (st->kind == KIND_WORDS && jint_member(r, c, "distinct", &f.distinct) < 0)) {
                return -1;
            }
            if (add_overflows(&sum, f.n)) {
                return merge_fail(r->name, jat(r, c)->offset,
                                  "the \"%s\" of \"files\" add up to more than 64 bits", number);
            }
        }
        st->files = grow_array(st->files, &st->files_cap, st->nfiles, sizeof *st->files);
        if (!st->files) {
            return merge_fail(r->name, jat(r, c)->offset, "%s", mmk_strerror(-ENOMEM));
        }
        st->files[st->nfiles++] = f;
    }
    if (sum != doc_total) {
        return merge_fail(r->name, jat(r, root)->offset,
                          "\"total\" is %llu but the \"%s\" of \"files\" add up to %llu",
                          (unsigned long long)doc_total, number, (unsigned long long)sum);
    }
    return 0;
}

/* The table of a words or count --by document into st->rows. It must be
   whole: "top" (or fewer rows than "distinct") means --top cut it. */
static int take_table(merge_state *st, const jreader *r, size_t root, uint64_t doc_total) {
    int words = st->kind == KIND_WORDS;
    const char *table = words ? "words" : "values";
    const char *key = words ? "word" : "value";
    const char *things = words ? "words" : "values";
    uint64_t distinct = 0, top = 0;
    if (jint_member(r, root, "distinct", &distinct) < 0) {
        return -1;
    }
    size_t top_id = jmember(r, root, "top");
    if (top_id) {
        if (jint(r, top_id, "\"top\"", &top) < 0) {
            return -1;
        }
        return merge_fail(r->name, jat(r, root)->offset,
                          "the %s table was cut by --top %llu; run the shards without --top and "
                          "give --top to mmk merge",
                          key, (unsigned long long)top);
    }
    size_t arr = jmember(r, root, table);
    if (jat(r, arr)->type != J_ARRAY) {
        return merge_fail(r->name, jat(r, arr)->offset, "\"%s\" is not an array", table);
    }
    char b64[32];
    snprintf(b64, sizeof b64, "%s_base64", key);
    const char *const members[] = {key, b64, "count", NULL};
    const char *const required[] = {key, "count", NULL};
    uint64_t sum = 0, nrows = 0;
    for (size_t c = jat(r, arr)->first; c; c = jat(r, c)->next) {
        if (jat(r, c)->type != J_OBJECT) {
            return merge_fail(r->name, jat(r, c)->offset, "an entry of \"%s\" is not an object",
                              table);
        }
        row w;
        w.doc = st->ndocs;
        if (check_members(r, c, words ? "an entry of \"words\"" : "an entry of \"values\"", members,
                          required) < 0 ||
            jbytes_member(r, c, key, &w.bytes, &w.len) < 0 ||
            jint_member(r, c, "count", &w.count) < 0) {
            return -1;
        }
        if (w.count == 0) {
            return merge_fail(r->name, jat(r, c)->offset, "a count of 0 in the \"%s\" table",
                              table);
        }
        if (add_overflows(&sum, w.count)) {
            return merge_fail(r->name, jat(r, c)->offset,
                              "the counts of the \"%s\" table add up to more than 64 bits", table);
        }
        st->rows = grow_array(st->rows, &st->rows_cap, st->nrows, sizeof *st->rows);
        if (!st->rows) {
            return merge_fail(r->name, jat(r, c)->offset, "%s", mmk_strerror(-ENOMEM));
        }
        st->rows[st->nrows++] = w;
        nrows++;
    }
    if (nrows != distinct) {
        return merge_fail(r->name, jat(r, root)->offset,
                          "the %s table holds %llu of %llu distinct %s: it was cut (by --top); "
                          "run the shards without --top and give --top to mmk merge",
                          key, (unsigned long long)nrows, (unsigned long long)distinct, things);
    }
    if (sum != doc_total) {
        return merge_fail(r->name, jat(r, root)->offset,
                          "\"total\" is %llu but the counts of the %s table add up to %llu",
                          (unsigned long long)doc_total, key, (unsigned long long)sum);
    }
    return 0;
}

/* One parsed document (root node `root`) into the merge. */
static int take_document(merge_state *st, jreader *r, size_t root) {
    const jnode *doc = jat(r, root);
    if (doc->type != J_OBJECT) {
        return merge_fail(r->name, doc->offset,
                          "not a JSON object (mmk merge reads what mmk count, lines and words "
                          "print with --json)");
    }
    int kind = jmember(r, root, "values") || jmember(r, root, "group") ? KIND_COUNT_BY
               : jmember(r, root, "words")                             ? KIND_WORDS
               : jmember(r, root, "pattern")                           ? KIND_COUNT
               : jmember(r, root, "files")                             ? KIND_LINES
                                                                       : 0;
    if (!kind) {
        return merge_fail(r->name, doc->offset,
                          "not a document of mmk count, lines or words --json (no \"files\", "
                          "\"words\" or \"values\" member)");
    }
    static const char *const count_members[] = {"pattern", "pattern_base64", "files", "total",
                                                NULL};
    static const char *const count_required[] = {"pattern", "files", "total", NULL};
    static const char *const by_members[] = {
        "pattern", "pattern_base64", "group", "total", "distinct", "top", "values", NULL};
    static const char *const by_required[] = {"pattern",  "group",  "total",
                                              "distinct", "values", NULL};
    static const char *const lines_members[] = {"files", "total", NULL};
    static const char *const words_members[] = {"files", "total", "distinct", "top", "words", NULL};
    static const char *const words_required[] = {"files", "total", "distinct", "words", NULL};
    char what[64];
    snprintf(what, sizeof what, "a document of %s --json", kind_name(kind));
    int rc = kind == KIND_COUNT      ? check_members(r, root, what, count_members, count_required)
             : kind == KIND_COUNT_BY ? check_members(r, root, what, by_members, by_required)
             : kind == KIND_LINES    ? check_members(r, root, what, lines_members, lines_members)
                                     : check_members(r, root, what, words_members, words_required);
    if (rc < 0) {
        return -1;
    }
    if (st->kind && st->kind != kind) {
        return merge_fail(r->name, doc->offset,
                          "a document of %s --json cannot be merged with the %s --json document "
                          "of %s (byte %llu)",
                          kind_name(kind), kind_name(st->kind), st->first.name,
                          (unsigned long long)st->first.offset);
    }
    const char *pattern = NULL;
    size_t pattern_len = 0;
    uint64_t group = 0, total = 0;
    if (kind == KIND_COUNT || kind == KIND_COUNT_BY) {
        if (jbytes_member(r, root, "pattern", &pattern, &pattern_len) < 0) {
            return -1;
        }
    }
    if (kind == KIND_COUNT_BY && jint_member(r, root, "group", &group) < 0) {
        return -1;
    }
    if (jint_member(r, root, "total", &total) < 0) {
        return -1;
    }
    if (st->kind) {
        if (pattern &&
            (pattern_len != st->pattern_len || memcmp(pattern, st->pattern, pattern_len) != 0)) {
            return merge_fail(r->name, doc->offset,
                              "pattern '%.*s' is not the pattern '%.*s' of %s (byte %llu): "
                              "counts of different patterns do not add up",
                              (int)pattern_len, pattern, (int)st->pattern_len, st->pattern,
                              st->first.name, (unsigned long long)st->first.offset);
        }
        if (kind == KIND_COUNT_BY && group != st->group) {
            return merge_fail(r->name, doc->offset,
                              "--by group %llu is not the group %llu of %s (byte %llu): counts of "
                              "different groups do not add up",
                              (unsigned long long)group, (unsigned long long)st->group,
                              st->first.name, (unsigned long long)st->first.offset);
        }
    } else {
        st->kind = kind;
        st->first.name = r->name;
        st->first.offset = doc->offset;
        st->pattern = pattern;
        st->pattern_len = pattern_len;
        st->group = group;
    }
    st->docs = grow_array(st->docs, &st->docs_cap, st->ndocs, sizeof *st->docs);
    if (!st->docs) {
        return merge_fail(r->name, doc->offset, "%s", mmk_strerror(-ENOMEM));
    }
    st->docs[st->ndocs] = (doc_place){r->name, doc->offset};
    rc = kind == KIND_COUNT_BY ? take_table(st, r, root, total) : take_files(st, r, root, total);
    if (rc == 0 && kind == KIND_WORDS) {
        rc = take_table(st, r, root, total);
    }
    if (rc < 0) {
        return -1;
    }
    st->ndocs++;
    if (add_overflows(&st->total, total)) {
        return merge_fail(r->name, doc->offset, "the totals add up to more than 64 bits");
    }
    return 0;
}

/* Read all of `path` ("-": standard input) into a buffer the caller frees. */
static int read_whole(const char *path, char **out, size_t *out_len) {
    int fd = strcmp(path, "-") == 0 ? SYS_STDIN : sys_open_read(path, 0);
    if (fd < 0) {
        return fd;
    }
    size_t len = 0, cap = 64 * 1024;
    char *buf = malloc(cap);
    int rc = buf ? 0 : -ENOMEM;
    while (rc == 0) {
        if (len == cap) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        long long n = sys_read(fd, buf + len, cap - len);
        if (n < 0) {
            rc = (int)n;
        } else if (n == 0) {
            break;
        } else {
            len += (size_t)n;
        }
    }
    if (fd != SYS_STDIN) {
        sys_close(fd);
    }
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* Every document of one input into the merge. */
static int take_input(merge_state *st, jreader *r) {
    size_t docs = 0;
    for (;;) {
        skip_space(r);
        if (r->pos >= r->len) {
            break;
        }
        r->nnodes = 0;
        size_t root = parse_value(r, 0);
        if (!root || take_document(st, r, root) < 0) {
            return -1;
        }
        docs++;
    }
    if (docs == 0) {
        return merge_fail(r->name, r->len, "no JSON document (an empty input)");
    }
    return 0;
}

/* ---- merging and printing ----------------------------------------------------- */

static int cmp_row_bytes(const row *a, const row *b) {
    size_t m = a->len < b->len ? a->len : b->len;
    int c = m ? memcmp(a->bytes, b->bytes, m) : 0;
    if (c != 0) {
        return c;
    }
    return a->len < b->len ? -1 : a->len > b->len;
}

static int by_bytes_then_doc(const void *x, const void *y) {
    const row *a = x, *b = y;
    int c = cmp_row_bytes(a, b);
    if (c != 0) {
        return c;
    }
    return a->doc < b->doc ? -1 : a->doc > b->doc;
}

/* The commands' order: count descending, then bytes ascending. */
static int by_count_then_bytes(const void *x, const void *y) {
    const row *a = x, *b = y;
    if (a->count != b->count) {
        return a->count > b->count ? -1 : 1;
    }
    return cmp_row_bytes(a, b);
}

/* Add up equal values of the tables (a value twice in one table is an
   error) and sort the result as the commands sort theirs. */
static int merge_rows(merge_state *st) {
    if (st->nrows < 2) {
        return 0;
    }
    qsort(st->rows, st->nrows, sizeof *st->rows, by_bytes_then_doc);
    size_t w = 0;
    for (size_t i = 1; i < st->nrows; i++) {
        row *a = &st->rows[w], *b = &st->rows[i];
        if (cmp_row_bytes(a, b) != 0) {
            st->rows[++w] = *b;
            continue;
        }
        if (a->doc == b->doc) {
            const doc_place *d = &st->docs[b->doc];
            return merge_fail(d->name, d->offset, "'%.*s' appears twice in the table", (int)b->len,
                              b->bytes);
        }
        if (add_overflows(&a->count, b->count)) {
            return merge_fail(st->docs[b->doc].name, st->docs[b->doc].offset,
                              "the counts of '%.*s' add up to more than 64 bits", (int)b->len,
                              b->bytes);
        }
        a->doc = b->doc; /* a later duplicate within b's document is still seen */
    }
    st->nrows = w + 1;
    qsort(st->rows, st->nrows, sizeof *st->rows, by_count_then_bytes);
    return 0;
}

static void json_file_entry(const merge_state *st, const file_entry *f) {
    out_char('{');
    out_json_bytes_field("path", f->path, f->path_len);
    if (f->error) {
        out_str(",\"error\":");
        out_json_string(f->error, f->error_len);
        out_str(",\"errname\":");
        out_json_string(f->errname, f->errname_len);
        out_char('}');
        return;
    }
    out_str(st->kind == KIND_COUNT   ? ",\"count\":"
            : st->kind == KIND_LINES ? ",\"lines\":"
                                     : ",\"words\":");
    out_u64(f->n);
    if (st->kind == KIND_WORDS) {
        out_str(",\"distinct\":");
        out_u64(f->distinct);
    }
    out_char('}');
}

/* An input that failed in a shard, as the command reported it on standard
   error; `-` is shown as the command shows standard input. */
static void report_entry(const file_entry *f, const char *stdin_display) {
    int is_stdin = f->path_len == 1 && f->path[0] == '-';
    cli_errorf("%.*s: %.*s", is_stdin ? (int)strlen(stdin_display) : (int)f->path_len,
               is_stdin ? stdin_display : f->path, (int)f->error_len, f->error);
}

static void print_path(const file_entry *f, const char *stdin_display) {
    if (f->path_len == 1 && f->path[0] == '-') {
        out_str(stdin_display);
    } else {
        out_write(f->path, f->path_len);
    }
}

static int digits(uint64_t v) {
    int n = 1;
    for (; v >= 10; v /= 10) {
        n++;
    }
    return n;
}

static void print_merged(const merge_state *st, const cli_options *o, size_t shown) {
    if (o->json) {
        /* The commands report a failed input on standard error also with
           --json (the stream apart from the document). */
        for (size_t i = 0; i < st->nfiles; i++) {
            if (st->files[i].error) {
                report_entry(&st->files[i], st->kind == KIND_LINES ? "-" : "(standard input)");
            }
        }
        out_char('{');
        if (st->kind == KIND_COUNT || st->kind == KIND_COUNT_BY) {
            out_json_bytes_field("pattern", st->pattern, st->pattern_len);
            out_char(',');
        }
        if (st->kind == KIND_COUNT_BY) {
            out_str("\"group\":");
            out_u64(st->group);
            out_str(",\"total\":");
            out_u64(st->total);
            out_char(',');
        } else {
            out_str("\"files\":[");
            for (size_t i = 0; i < st->nfiles; i++) {
                out_str(i ? "," : "");
                json_file_entry(st, &st->files[i]);
            }
            out_str("],\"total\":");
            out_u64(st->total);
            out_str(st->kind == KIND_WORDS ? "," : "}\n");
        }
        if (st->kind == KIND_WORDS || st->kind == KIND_COUNT_BY) {
            const char *key = st->kind == KIND_WORDS ? "word" : "value";
            out_str("\"distinct\":");
            out_u64(st->nrows);
            if (shown < st->nrows) {
                out_str(",\"top\":");
                out_u64(shown);
            }
            out_str(st->kind == KIND_WORDS ? ",\"words\":[" : ",\"values\":[");
            for (size_t i = 0; i < shown; i++) {
                out_str(i ? ",{" : "{");
                out_json_bytes_field(key, st->rows[i].bytes, st->rows[i].len);
                out_str(",\"count\":");
                out_u64(st->rows[i].count);
                out_char('}');
            }
            out_str("]}\n");
        }
        return;
    }
    switch (st->kind) {
    case KIND_COUNT: {
        int with_name = o->with_filename >= 0 ? o->with_filename : st->nfiles > 1;
        for (size_t i = 0; i < st->nfiles; i++) {
            const file_entry *f = &st->files[i];
            if (f->error) {
                report_entry(f, "(standard input)");
                continue;
            }
            if (with_name) {
                print_path(f, "(standard input)");
                out_char(':');
            }
            out_u64(f->n);
            out_char('\n');
        }
        break;
    }
    case KIND_LINES: {
        /* wc's column width comes from the files' sizes, which the documents
           do not hold: the numbers are aligned to the widest one (at least 7
           columns with standard input among them, as wc). */
        int width = 1;
        if (st->nfiles > 1) {
            width = digits(st->total);
            for (size_t i = 0; i < st->nfiles; i++) {
                if (st->files[i].path_len == 1 && st->files[i].path[0] == '-' && width < 7) {
                    width = 7;
                }
            }
        }
        for (size_t i = 0; i < st->nfiles; i++) {
            const file_entry *f = &st->files[i];
            if (f->error) {
                report_entry(f, "-");
                continue;
            }
            out_u64_padded(f->n, width);
            /* One "-" alone is standard input read implicitly: wc names no file. */
            if (!(st->nfiles == 1 && f->path_len == 1 && f->path[0] == '-')) {
                out_char(' ');
                out_write(f->path, f->path_len);
            }
            out_char('\n');
        }
        if (st->nfiles > 1) {
            out_u64_padded(st->total, width);
            out_str(" total\n");
        }
        break;
    }
    case KIND_WORDS:
        for (size_t i = 0; i < st->nfiles; i++) {
            if (st->files[i].error) {
                report_entry(&st->files[i], "(standard input)");
            }
        }
        for (size_t i = 0; i < shown; i++) {
            out_write(st->rows[i].bytes, st->rows[i].len);
            out_char(' ');
            out_u64(st->rows[i].count);
            out_char('\n');
        }
        break;
    default:
        for (size_t i = 0; i < shown; i++) {
            out_u64_padded(st->rows[i].count, 7);
            out_char(' ');
            out_write(st->rows[i].bytes, st->rows[i].len);
            out_char('\n');
        }
        break;
    }
}

static void usage_error(const char *what) {
    cli_errorf("merge: %s\nTry 'mmk merge --help' for more information.", what);
}

int cmd_merge(const cli_options *o) {
    int n = o->nfiles ? o->nfiles : 1;
    jreader *readers = calloc((size_t)n, sizeof *readers);
    merge_state st;
    memset(&st, 0, sizeof st);
    int status = 0;
    if (!readers) {
        cli_error("merge", mmk_strerror(-ENOMEM));
        return EXIT_TROUBLE;
    }
    for (int i = 0; i < n && status == 0; i++) {
        const char *path = o->nfiles ? o->files[i] : "-";
        jreader *r = &readers[i];
        r->name = strcmp(path, "-") == 0 ? "(standard input)" : path;
        int rc = read_whole(path, &r->buf, &r->len);
        if (rc < 0) {
            cli_error(r->name, mmk_strerror(rc));
            status = EXIT_TROUBLE;
        } else if (take_input(&st, r) < 0) {
            status = EXIT_TROUBLE;
        }
        /* The nodes are done with; the bytes stay (entries point into them). */
        free(r->nodes);
        r->nodes = NULL;
    }
    if (status == 0 && o->top >= 0 && st.kind != KIND_WORDS && st.kind != KIND_COUNT_BY) {
        usage_error("--top applies to words and counts per value (count --by), not to the "
                    "documents of mmk count or mmk lines");
        status = EXIT_TROUBLE;
    }
    if (status == 0 && o->with_filename >= 0 && st.kind != KIND_COUNT) {
        usage_error("-H and --no-filename apply to the documents of mmk count");
        status = EXIT_TROUBLE;
    }
    if (status == 0 && merge_rows(&st) < 0) {
        status = EXIT_TROUBLE;
    }
    if (status == 0) {
        int any_error = 0;
        for (size_t i = 0; i < st.nfiles; i++) {
            any_error |= st.files[i].error != NULL;
        }
        switch (st.kind) {
        case KIND_COUNT:
            status = any_error ? EXIT_TROUBLE : st.total > 0 ? EXIT_MATCH : EXIT_NOMATCH;
            break;
        case KIND_COUNT_BY:
            status = st.total > 0 ? EXIT_MATCH : EXIT_NOMATCH;
            break;
        default:
            status = any_error ? EXIT_TROUBLE : EXIT_MATCH;
            break;
        }
        size_t shown = o->top >= 0 && (uint64_t)o->top < st.nrows ? (size_t)o->top : st.nrows;
        out_set_pipe_status(status);
        print_merged(&st, o, shown);
    }
    for (int i = 0; i < n; i++) {
        free(readers[i].buf);
    }
    free(readers);
    free(st.files);
    free(st.rows);
    free(st.docs);
    return status;
}
