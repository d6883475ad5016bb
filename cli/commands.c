/*
 * commands.c — mmk's subcommands: count, grep, lines, words.
 *
 * Each input is opened here (so a missing file, a directory or a permission
 * problem is reported with its name) and handed to the library as a
 * descriptor; the library chooses a map, pread() or read() for it (pipes,
 * terminals and /proc files cannot be mapped and are read). One bad input is
 * reported and the others are still processed; the exit status is then 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* One input: a path given on the command line, or standard input. */
typedef struct source {
    const char *path;    /* as given; "-" for standard input */
    const char *display; /* for output prefixes and messages */
    int fd;
    int is_stdin;
    uint64_t size; /* regular files: their size; otherwise 0 (unknown) */
} source;

/* The operands, or "-" alone when there are none. */
static const char *operand(const cli_options *o, int i) {
    return o->nfiles == 0 ? "-" : o->files[i];
}

static int operand_count(const cli_options *o) {
    return o->nfiles == 0 ? 1 : o->nfiles;
}

/* Open one input for reading. On success the caller closes it with
   source_close. Returns 0 or -errno (-EISDIR for a directory, as grep and wc
   report it). */
static int source_open(source *s, const char *path, const char *stdin_name) {
    memset(s, 0, sizeof *s);
    s->path = path;
    if (strcmp(path, "-") == 0) {
        s->is_stdin = 1;
        s->fd = STDIN_FILENO;
        s->display = stdin_name;
    } else {
        s->display = path;
        s->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) {
            return -errno;
        }
    }
    struct stat st;
    if (fstat(s->fd, &st) < 0) {
        int rc = -errno;
        if (!s->is_stdin) {
            close(s->fd);
        }
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!s->is_stdin) {
            close(s->fd);
        }
        return -EISDIR;
    }
    s->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    return 0;
}

static void source_close(source *s) {
    if (!s->is_stdin && s->fd >= 0) {
        close(s->fd);
    }
    s->fd = -1;
}

/* What a subcommand does with one input. */
typedef int (*scan_op)(const mmk_input *in, const mmk_scan_options *so, void *ctx);

/* Run `op` over an open input with the progress bar around it. --mmap on
   something that cannot be mapped falls back to reading, as ripgrep's
   --mmap does ("when possible"). *err_off receives where a search hit the
   backtracking limit (MMK_ELIMIT). */
static int source_scan(const cli_options *o, source *s, scan_op op, void *ctx, int64_t *err_off) {
    mmk_input in = mmk_input_fd(s->fd);
    mmk_scan_options so = o->scan;
    so.error_offset = err_off;
    progress_begin(s->display, s->size);
    int rc = op(&in, &so, ctx);
    if (rc == MMK_ENOTREG && so.io == MMK_IO_MMAP) {
        so.io = MMK_IO_READ;
        rc = op(&in, &so, ctx);
    }
    progress_end();
    return rc;
}

/* Report a failed input. Two failures get words of their own: the
   backtracking limit (which pattern, where), and a regular file that came up
   short of its size while it was read (it shrank during the scan: the
   library says -EIO, the size now tells what happened). */
static void report_scan(const cli_options *o, const source *s, int code, int64_t err_off) {
    const char *name = s->display ? s->display : s->path;
    /* A compiled pattern cannot become invalid during a scan: MMK_EPATTERN
       from one is a limit too (what matchers said before MMK_ELIMIT). */
    if (code == MMK_ELIMIT || code == MMK_EPATTERN) {
        if (err_off >= 0) {
            cli_errorf("%s: pattern '%s' is too complex for the backtracking engine on this "
                       "input (match limit reached in a search from byte %lld)",
                       name, o->pattern, (long long)err_off);
        } else {
            cli_errorf("%s: pattern '%s' is too complex for the backtracking engine on this "
                       "input (match limit reached)",
                       name, o->pattern);
        }
        return;
    }
    struct stat st;
    if (code == -EIO && s->fd >= 0 && s->size > 0 && fstat(s->fd, &st) == 0 &&
        S_ISREG(st.st_mode) && (uint64_t)st.st_size < s->size) {
        cli_errorf("%s: file shrank while it was being read (from %llu to %llu bytes)", name,
                   (unsigned long long)s->size, (unsigned long long)st.st_size);
        return;
    }
    cli_error(name, mmk_strerror(code));
}

static void report(const source *s, int code) {
    cli_error(s->display ? s->display : s->path, mmk_strerror(code));
}

static void json_error_entry(const char *path, int code) {
    out_char('{');
    out_json_bytes_field("path", path, strlen(path));
    out_str(",\"error\":");
    const char *msg = mmk_strerror(code);
    out_json_string(msg, strlen(msg));
    out_str(",\"errname\":");
    const char *name = mmk_errname(code);
    out_json_string(name, strlen(name));
    out_char('}');
}

/* Compile the command line's pattern, reporting failures the way grep users
   expect: the pattern, PCRE2's reason and the offset. grep asks for
   MMK_PAT_LINES: each line is its own subject, as grep -P matches it. */
static int compile_pattern(const cli_options *o, mmk_pattern **p, int lines) {
    mmk_pattern_error err;
    memset(&err, 0, sizeof err);
    err.offset = -1;
    unsigned flags = o->pattern_flags | (lines ? MMK_PAT_LINES : 0);
    int rc = mmk_pattern_compile(p, o->pattern, strlen(o->pattern), flags, &err);
    if (rc == 0) {
        return 0;
    }
    if (rc == MMK_EPATTERN && err.message[0]) {
        err.message[sizeof err.message - 1] = '\0';
        if (err.offset >= 0) {
            cli_errorf("invalid pattern '%s': %s at offset %lld", o->pattern, err.message,
                       (long long)err.offset);
        } else {
            cli_errorf("invalid pattern '%s': %s", o->pattern, err.message);
        }
    } else {
        cli_errorf("invalid pattern '%s': %s", o->pattern, mmk_strerror(rc));
    }
    return rc;
}

static int search_status(int any_error, uint64_t matched) {
    return any_error ? EXIT_TROUBLE : matched > 0 ? EXIT_MATCH : EXIT_NOMATCH;
}

/* ---- count --------------------------------------------------------------- */

typedef struct count_ctx {
    const mmk_pattern *pattern;
    uint64_t count;
} count_ctx;

static int count_op(const mmk_input *in, const mmk_scan_options *so, void *ctx) {
    count_ctx *c = ctx;
    return mmk_count(c->pattern, in, so, &c->count);
}

int cmd_count(const cli_options *o) {
    mmk_pattern *p = NULL;
    if (compile_pattern(o, &p, 0) < 0) {
        return EXIT_TROUBLE;
    }
    int n = operand_count(o);
    int with_name = o->with_filename < 0 ? n > 1 : o->with_filename;
    uint64_t total = 0;
    int any_error = 0, first = 1;
    if (o->json) {
        out_char('{');
        out_json_bytes_field("pattern", o->pattern, strlen(o->pattern));
        out_str(",\"files\":[");
    }
    for (int i = 0; i < n; i++) {
        source s;
        count_ctx c = {p, 0};
        int64_t err_off = -1;
        int rc = source_open(&s, operand(o, i), "(standard input)");
        if (rc == 0) {
            rc = source_scan(o, &s, count_op, &c, &err_off);
            if (rc < 0) {
                report_scan(o, &s, rc, err_off);
            }
            source_close(&s);
        } else {
            report(&s, rc);
        }
        if (o->json) {
            out_str(first ? "" : ",");
            first = 0;
        }
        if (rc < 0) {
            any_error = 1;
            if (o->json) {
                json_error_entry(s.path, rc);
            }
        } else {
            total += c.count;
            if (o->json) {
                out_char('{');
                out_json_bytes_field("path", s.path, strlen(s.path));
                out_str(",\"count\":");
                out_u64(c.count);
                out_char('}');
            } else {
                if (with_name) {
                    out_str(s.display);
                    out_char(':');
                }
                out_u64(c.count);
                out_char('\n');
            }
        }
        out_set_pipe_status(search_status(any_error, total));
    }
    if (o->json) {
        out_str("],\"total\":");
        out_u64(total);
        out_str("}\n");
    }
    mmk_pattern_free(p);
    return search_status(any_error, total);
}

/* ---- grep ---------------------------------------------------------------- */

typedef struct grep_ctx {
    const mmk_pattern *pattern;
    const cli_options *o;
    const char *prefix; /* NULL: no file name prefix */
    uint64_t matched_lines;
    int any_error;
    int flush_each; /* write every line at once (--line-buffered, a terminal) */
} grep_ctx;

static int grep_line(const char *line, size_t len, uint64_t line_no, uint64_t offset,
                     uint64_t matches, void *user) {
    grep_ctx *g = user;
    (void)offset;
    (void)matches;
    out_set_pipe_status(g->any_error ? EXIT_TROUBLE : EXIT_MATCH);
    if (g->o->count_only) {
        return 0;
    }
    if (g->prefix) {
        out_str(g->prefix);
        out_char(':');
    }
    if (g->o->line_numbers) {
        out_u64(line_no);
        out_char(':');
    }
    out_write(line, len);
    out_char('\n');
    if (g->flush_each) {
        out_flush();
    }
    return 0;
}

static int grep_op(const mmk_input *in, const mmk_scan_options *so, void *ctx) {
    grep_ctx *g = ctx;
    uint64_t lines = 0;
    int rc = mmk_match_lines(g->pattern, in, so, grep_line, g, &lines);
    if (rc >= 0) {
        g->matched_lines = lines;
    }
    return rc;
}

int cmd_grep(const cli_options *o) {
    mmk_pattern *p = NULL;
    if (compile_pattern(o, &p, 1) < 0) {
        return EXIT_TROUBLE;
    }
    int n = operand_count(o);
    int with_name = o->with_filename < 0 ? n > 1 : o->with_filename;
    uint64_t total = 0;
    int any_error = 0;
    /* Lines go out as they are found when someone watches (tail -f | mmk grep). */
    int flush_each = o->line_buffered || isatty(STDOUT_FILENO);
    for (int i = 0; i < n; i++) {
        source s;
        grep_ctx g = {p, o, NULL, 0, any_error, flush_each};
        int64_t err_off = -1;
        int rc = source_open(&s, operand(o, i), "(standard input)");
        if (rc == 0) {
            g.prefix = with_name ? s.display : NULL;
            rc = source_scan(o, &s, grep_op, &g, &err_off);
            if (rc < 0) {
                report_scan(o, &s, rc, err_off);
            }
            source_close(&s);
        } else {
            report(&s, rc);
        }
        if (rc < 0) {
            any_error = 1;
            continue;
        }
        total += g.matched_lines;
        if (o->count_only) {
            if (with_name) {
                out_str(s.display);
                out_char(':');
            }
            out_u64(g.matched_lines);
            out_char('\n');
        }
        out_set_pipe_status(search_status(any_error, total));
    }
    mmk_pattern_free(p);
    return search_status(any_error, total);
}

/* ---- lines --------------------------------------------------------------- */

static int lines_op(const mmk_input *in, const mmk_scan_options *so, void *ctx) {
    return mmk_count_lines(in, so, ctx);
}

/* The column width wc uses: the digits of the total size of the regular
   files, at least 7 when one input is not a regular file; 1 for one input. */
static int lines_width(const cli_options *o) {
    int n = operand_count(o);
    if (n == 1) {
        return 1;
    }
    uint64_t regular = 0;
    int minimum = 1, width = 1;
    for (int i = 0; i < n; i++) {
        const char *path = operand(o, i);
        struct stat st;
        int rc = strcmp(path, "-") == 0 ? fstat(STDIN_FILENO, &st) : stat(path, &st);
        if (rc < 0) {
            continue;
        }
        if (S_ISREG(st.st_mode)) {
            regular += (uint64_t)st.st_size;
        } else {
            minimum = 7;
        }
    }
    for (; regular >= 10; regular /= 10) {
        width++;
    }
    return width < minimum ? minimum : width;
}

int cmd_lines(const cli_options *o) {
    int n = operand_count(o);
    int width = o->json ? 0 : lines_width(o);
    uint64_t total = 0;
    int any_error = 0, first = 1;
    if (o->json) {
        out_str("{\"files\":[");
    }
    for (int i = 0; i < n; i++) {
        source s;
        uint64_t lines = 0;
        int rc = source_open(&s, operand(o, i), "-");
        if (rc == 0) {
            rc = source_scan(o, &s, lines_op, &lines, NULL);
            if (rc < 0) {
                report_scan(o, &s, rc, -1);
            }
            source_close(&s);
        } else if (rc < 0) {
            report(&s, rc);
        }
        if (o->json) {
            out_str(first ? "" : ",");
            first = 0;
        }
        if (rc < 0) {
            any_error = 1;
            if (o->json) {
                json_error_entry(s.path, rc);
            }
            continue;
        }
        total += lines;
        if (o->json) {
            out_char('{');
            out_json_bytes_field("path", s.path, strlen(s.path));
            out_str(",\"lines\":");
            out_u64(lines);
            out_char('}');
            continue;
        }
        out_u64_padded(lines, width);
        if (o->nfiles > 0) { /* wc names no file when it reads stdin implicitly */
            out_char(' ');
            out_str(s.path);
        }
        out_char('\n');
    }
    if (o->json) {
        out_str("],\"total\":");
        out_u64(total);
        out_str("}\n");
    } else if (n > 1) {
        out_u64_padded(total, width);
        out_str(" total\n");
    }
    return any_error ? EXIT_TROUBLE : EXIT_MATCH;
}

/* ---- words --------------------------------------------------------------- */

typedef struct word_entry {
    const char *word; /* owned by one of the tables */
    size_t len;
    uint64_t count;
} word_entry;

static int cmp_bytes(const word_entry *a, const word_entry *b) {
    size_t m = a->len < b->len ? a->len : b->len;
    int c = m ? memcmp(a->word, b->word, m) : 0;
    if (c != 0) {
        return c;
    }
    return a->len < b->len ? -1 : a->len > b->len;
}

static int by_word(const void *x, const void *y) {
    return cmp_bytes(x, y);
}

/* The library's order: count descending, then word ascending (bytewise). */
static int by_count_then_word(const void *x, const void *y) {
    const word_entry *a = x, *b = y;
    if (a->count != b->count) {
        return a->count > b->count ? -1 : 1;
    }
    return cmp_bytes(a, b);
}

static int words_op(const mmk_input *in, const mmk_scan_options *so, void *ctx) {
    return mmk_word_counts(in, so, (mmk_wordtab **)ctx);
}

/* Merge several files' tables into one sorted list: gather every entry,
   sort by word, add up equal words, sort by count. One table is already in
   the final order. On success *out (caller frees) holds *n entries. */
static int merge_tables(mmk_wordtab **tabs, int ntabs, word_entry **out, size_t *n) {
    size_t all = 0;
    for (int t = 0; t < ntabs; t++) {
        all += mmk_wordtab_size(tabs[t]);
    }
    word_entry *e = malloc((all ? all : 1) * sizeof *e);
    if (!e) {
        return -ENOMEM;
    }
    size_t k = 0;
    for (int t = 0; t < ntabs; t++) {
        size_t size = mmk_wordtab_size(tabs[t]);
        for (size_t i = 0; i < size; i++) {
            if (mmk_wordtab_get(tabs[t], i, &e[k].word, &e[k].len, &e[k].count) == 0) {
                k++;
            }
        }
    }
    if (ntabs > 1 && k > 1) {
        qsort(e, k, sizeof *e, by_word);
        size_t w = 0;
        for (size_t i = 1; i < k; i++) {
            if (cmp_bytes(&e[w], &e[i]) == 0) {
                e[w].count += e[i].count;
            } else {
                e[++w] = e[i];
            }
        }
        k = w + 1;
        qsort(e, k, sizeof *e, by_count_then_word);
    }
    *out = e;
    *n = k;
    return 0;
}

int cmd_words(const cli_options *o) {
    int n = operand_count(o);
    mmk_wordtab **tabs = calloc((size_t)n, sizeof *tabs);
    const char **paths = calloc((size_t)n, sizeof *paths);
    int *codes = calloc((size_t)n, sizeof *codes);
    if (!tabs || !paths || !codes) {
        free(tabs);
        free(paths);
        free(codes);
        cli_error("words", mmk_strerror(-ENOMEM));
        return EXIT_TROUBLE;
    }
    int any_error = 0, ntabs = 0;
    for (int i = 0; i < n; i++) {
        source s;
        mmk_wordtab *t = NULL;
        int rc = source_open(&s, operand(o, i), "(standard input)");
        if (rc == 0) {
            rc = source_scan(o, &s, words_op, &t, NULL);
            if (rc < 0) {
                report_scan(o, &s, rc, -1);
            }
            source_close(&s);
        } else {
            report(&s, rc);
        }
        paths[i] = s.path;
        codes[i] = rc < 0 ? rc : 0;
        if (rc < 0) {
            any_error = 1;
            continue;
        }
        tabs[ntabs++] = t;
    }

    word_entry *e = NULL;
    size_t distinct = 0;
    int rc = merge_tables(tabs, ntabs, &e, &distinct);
    if (rc < 0) {
        cli_error("words", mmk_strerror(rc));
        any_error = 1;
    } else {
        size_t shown = o->top >= 0 && (uint64_t)o->top < distinct ? (size_t)o->top : distinct;
        if (o->json) {
            uint64_t total = 0;
            out_str("{\"files\":[");
            for (int i = 0, t = 0; i < n; i++) {
                out_str(i ? "," : "");
                if (codes[i] < 0) {
                    json_error_entry(paths[i], codes[i]);
                    continue;
                }
                out_char('{');
                out_json_bytes_field("path", paths[i], strlen(paths[i]));
                out_str(",\"words\":");
                out_u64(mmk_wordtab_total(tabs[t]));
                out_str(",\"distinct\":");
                out_u64(mmk_wordtab_size(tabs[t]));
                out_char('}');
                total += mmk_wordtab_total(tabs[t]);
                t++;
            }
            out_str("],\"total\":");
            out_u64(total);
            out_str(",\"distinct\":");
            out_u64(distinct);
            out_str(",\"words\":[");
            for (size_t i = 0; i < shown; i++) {
                out_str(i ? ",{" : "{");
                out_json_bytes_field("word", e[i].word, e[i].len);
                out_str(",\"count\":");
                out_u64(e[i].count);
                out_char('}');
            }
            out_str("]}\n");
        } else {
            for (size_t i = 0; i < shown; i++) {
                out_write(e[i].word, e[i].len);
                out_char(' ');
                out_u64(e[i].count);
                out_char('\n');
            }
        }
    }
    free(e);
    for (int t = 0; t < ntabs; t++) {
        mmk_wordtab_free(tabs[t]);
    }
    free(tabs);
    free(paths);
    free(codes);
    return any_error ? EXIT_TROUBLE : EXIT_MATCH;
}
