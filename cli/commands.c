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
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sys.h"

/* The tree walk (cli/walk.h) and the follow loop (cli/follow.h) come from
   their own files; until they exist in a build, operands are searched one
   after the other here and --follow says it is not available. */
#if defined(__has_include)
#if __has_include("walk.h")
#include "walk.h"
#define MMK_HAVE_WALK 1
#endif
#if __has_include("follow.h")
#include "follow.h"
#define MMK_HAVE_FOLLOW 1
#endif
#endif

/* One input: a path given on the command line, or standard input. */
typedef struct source {
    const char *path;    /* as given; "-" for standard input */
    const char *display; /* for output prefixes and messages */
    int fd;
    int is_stdin;
    int regular;   /* a regular file */
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
        s->fd = SYS_STDIN;
        s->display = stdin_name;
    } else {
        s->display = path;
        s->fd = sys_open_read(path, 0);
        if (s->fd < 0) {
            return s->fd;
        }
    }
    sys_stat st;
    int rc = sys_fstat(s->fd, &st);
    if (rc < 0) {
        if (!s->is_stdin) {
            sys_close(s->fd);
        }
        return rc;
    }
    if (st.kind == SYS_DIRECTORY) {
        if (!s->is_stdin) {
            sys_close(s->fd);
        }
        return -EISDIR;
    }
    s->regular = st.kind == SYS_REGULAR;
    s->size = st.kind == SYS_REGULAR ? st.size : 0;
    return 0;
}

static void source_close(source *s) {
    if (!s->is_stdin && s->fd >= 0) {
        sys_close(s->fd);
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
    sys_stat st;
    if (code == -EIO && s->fd >= 0 && s->size > 0 && sys_fstat(s->fd, &st) == 0 &&
        st.kind == SYS_REGULAR && st.size < s->size) {
        cli_errorf("%s: file shrank while it was being read (from %llu to %llu bytes)", name,
                   (unsigned long long)s->size, (unsigned long long)st.size);
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

/* Compile the command line's patterns, reporting failures the way grep users
   expect: the pattern, PCRE2's reason and the offset. grep asks for
   MMK_PAT_LINES: each line is its own subject, as grep -P matches it. Several
   patterns (-e, -f) make one list; no pattern at all (-f of an empty file)
   makes one that matches nothing, as grep's empty pattern list. */
static int compile_pattern(const cli_options *o, mmk_pattern **p, int lines) {
    mmk_pattern_error err;
    memset(&err, 0, sizeof err);
    err.offset = -1;
    unsigned flags = o->pattern_flags | (lines ? MMK_PAT_LINES : 0);
    int rc;
    const char *shown = o->pattern;
    if (o->npatterns == 0) {
        rc = mmk_pattern_compile(p, "(*FAIL)", 7, flags & ~(unsigned)MMK_PAT_FIXED, &err);
    } else if (o->npatterns == 1) {
        rc = mmk_pattern_compile(p, o->patterns[0], o->pattern_lens[0], flags, &err);
    } else {
        rc = mmk_pattern_compile_list(p, (const void *const *)o->patterns, o->pattern_lens,
                                      o->npatterns, flags, &err);
        if (rc == MMK_EPATTERN && err.index >= 0 && (size_t)err.index < o->npatterns) {
            shown = o->patterns[err.index];
        }
    }
    if (rc == 0) {
        return 0;
    }
    if (rc == MMK_EPATTERN && err.message[0]) {
        err.message[sizeof err.message - 1] = '\0';
        if (err.offset >= 0) {
            cli_errorf("invalid pattern '%s': %s at offset %lld", shown, err.message,
                       (long long)err.offset);
        } else {
            cli_errorf("invalid pattern '%s': %s", shown, err.message);
        }
    } else {
        cli_errorf("invalid pattern '%s': %s", shown, mmk_strerror(rc));
    }
    return rc;
}

/* ---- inputs of a search: plain, decompressed (-z), a time range ----------- */

/* search_input_open's outcomes besides 0 and a negative code. */
enum { SI_SKIP = 1, SI_FAILED = 2 };

/* One input ready for a search: the bytes to scan and how its line numbers
   and offsets map to the file's. */
typedef struct search_input {
    source s;
    mmk_input in;
    mmk_decoder *dec;     /* -z: the decoder (owned) */
    uint64_t line_base;   /* added to line numbers (--since with -n) */
    uint64_t offset_base; /* added to byte offsets (--since) */
} search_input;

/* The time options of --since / --until. */
static mmk_time_options time_options(const cli_options *o) {
    mmk_time_options to;
    memset(&to, 0, sizeof to);
    to.format = o->time_format;
    return to;
}

/* --since / --until warn once per run about a log that is not in order. */
static volatile int warned_unsorted;

/* Narrow a regular file to the lines of the time window: a map of the file
   for mmk_time_range's binary search (it reads only the pages it probes),
   then the range is scanned from the descriptor. With -n the lines before
   the range are counted so that numbers are the file's. */
static int time_window(const cli_options *o, search_input *si, int need_lines) {
    if (!si->s.regular) {
        cli_errorf("%s: --since/--until need a regular file (a log on disk), not a pipe or "
                   "device",
                   si->s.display);
        return SI_FAILED;
    }
    mmk_time_options to = time_options(o);
    int64_t since = INT64_MIN, until = INT64_MAX;
    if (o->since) {
        mmk_time_parse(o->since, strlen(o->since), &to, &since);
    }
    if (o->until) {
        mmk_time_parse(o->until, strlen(o->until), &to, &until);
    }
    if (si->s.size == 0) {
        si->in = mmk_input_bytes("", 0);
        return 0;
    }
    mmk_map *m = NULL;
    int rc = mmk_open_fd(&m, si->s.fd, NULL);
    uint64_t start = 0, end = 0;
    int sorted = 1;
    if (rc == 0) {
        rc = mmk_time_range(m, since, until, &to, &start, &end, &sorted);
        mmk_free(m);
    }
    if (rc == MMK_ENOTIME) {
        static const char *names[] = {"any known format", "ISO 8601", "syslog", "common-log"};
        int f = o->time_format >= 0 && o->time_format <= 3 ? o->time_format : 0;
        cli_errorf("%s: no line carries a timestamp of %s (see --time-format)", si->s.display,
                   names[f]);
        return SI_FAILED;
    }
    if (rc < 0) {
        return rc;
    }
    if (!sorted && !warned_unsorted) {
        warned_unsorted = 1;
        cli_errorf("%s: warning: the log is not in time order; --since/--until found the "
                   "range by binary search and may miss or add lines",
                   si->s.display);
    }
    si->in = mmk_input_fd_range(si->s.fd, start, end - start);
    si->offset_base = start;
    if (need_lines && start > 0) {
        mmk_input prefix = mmk_input_fd_range(si->s.fd, 0, start);
        mmk_scan_options so = o->scan;
        so.progress = NULL;
        uint64_t lines = 0;
        rc = mmk_count_lines(&prefix, &so, &lines);
        if (rc < 0) {
            return rc;
        }
        si->line_base = lines;
    }
    return 0;
}

/* Small files of a tree are read whole into a buffer of their worker's and
   searched as bytes on that thread: one read instead of the library's fstat,
   fstatfs and pread, the compression check on the bytes already read, and a
   buffer reused from file to file. Files larger than this (and single
   operands, standard input, --mmap) are handed to the library as
   descriptors. */
#define SMALL_READ_LIMIT (1u << 20)

typedef struct small_buf {
    char *data;
    size_t cap;
} small_buf;

static void small_buf_free(void *arg) {
    small_buf *b = arg;
    free(b->data);
    free(b);
}

static sys_tls small_key = SYS_TLS_INIT(small_buf_free);

/* This thread's buffer with room for at least n bytes; NULL when there is no
   memory for it (the caller then reads through the library). */
static small_buf *small_buf_get(size_t n) {
    small_buf *b = sys_tls_get(&small_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b || sys_tls_set(&small_key, b) != 0) {
            free(b);
            return NULL;
        }
    }
    if (b->cap < n) {
        size_t cap = n < 64 * 1024 ? 64 * 1024 : n;
        char *d = realloc(b->data, cap);
        if (!d) {
            return NULL;
        }
        b->data = d;
        b->cap = cap;
    }
    return b;
}

/* Read the whole regular file `fd` (fstat said `size` bytes) into this
   thread's buffer, to its end as it is now. Returns the number of bytes read
   and sets *data, 0 with *data NULL when the file is not read this way (no
   memory, or it grew past twice SMALL_READ_LIMIT while it was read: the
   library reads it from the descriptor instead), or -errno. */
static int64_t small_read(int fd, uint64_t size, const char **data) {
    *data = NULL;
    size_t want = (size_t)size + 1; /* one more: a short read ends the file */
    small_buf *b = small_buf_get(want);
    if (!b) {
        return 0;
    }
    size_t have = 0;
    for (;;) {
        if (have == b->cap) {
            if (b->cap >= 2 * SMALL_READ_LIMIT || !small_buf_get(2 * b->cap)) {
                return 0;
            }
        }
        long long r = sys_pread(fd, b->data + have, b->cap - have, have);
        if (r < 0) {
            return r;
        }
        have += (size_t)r;
        /* A regular file's read comes up short only at its end; a read of 0
           is the end whatever the size said. */
        if (r == 0 || (have < b->cap && have >= size)) {
            break;
        }
    }
    *data = b->data;
    return (int64_t)have;
}

/* Open `path` for a search. Returns 0 (ready; close with
   search_input_close), SI_SKIP when the file is not searched and a note
   said why (compressed without -z), SI_FAILED after an error message (no
   timestamps, not a regular file, a format this build cannot decode), or a
   negative code for the caller to report. Without -z a compressed file is announced on standard
   error instead of being searched as bytes (it never holds the lines the
   user looks for); it then counts as not matching. */
static int search_input_open(const cli_options *o, search_input *si, const char *path,
                             const char *display, int need_lines, int big) {
    memset(si, 0, sizeof *si);
    int rc = source_open(&si->s, path, display);
    if (rc < 0) {
        si->s.path = path;
        si->s.display = display;
        return rc;
    }
    si->s.display = display;
    si->in = mmk_input_fd(si->s.fd);
    int format = MMK_COMP_NONE;
    const char *bytes = NULL;
    if (!big && si->s.regular && !si->s.is_stdin && si->s.size <= SMALL_READ_LIMIT &&
        o->scan.io == MMK_IO_AUTO && !o->since && !o->until) {
        int64_t n = small_read(si->s.fd, si->s.size, &bytes);
        if (n < 0) {
            return (int)n;
        }
        if (bytes && n > 0) {
            format = mmk_compression_detect((const unsigned char *)bytes, (size_t)(n < 8 ? n : 8));
        }
        if (bytes) {
            si->in = mmk_input_bytes(bytes, (uint64_t)n);
        }
    }
    if (!bytes && si->s.regular) {
        unsigned char head[8];
        long long pos = si->s.is_stdin ? sys_tell(si->s.fd) : 0;
        long long n = sys_pread(si->s.fd, head, sizeof head, pos < 0 ? 0 : (uint64_t)pos);
        if (n > 0) {
            format = mmk_compression_detect(head, (size_t)n);
        }
    }
    if (format != MMK_COMP_NONE && !o->decompress) {
        if (!o->no_messages) {
            cli_errorf("%s: %s-compressed; use -z (--decompress) to search its contents", display,
                       mmk_compression_name(format));
        }
        return SI_SKIP;
    }
    if (o->decompress && (format != MMK_COMP_NONE || !si->s.regular)) {
        if (format != MMK_COMP_NONE && !mmk_compression_supported(format)) {
            cli_errorf("%s: %s-compressed, but this mmk was built without %s support", display,
                       mmk_compression_name(format), mmk_compression_name(format));
            return SI_FAILED;
        }
        if (o->since || o->until) {
            cli_errorf("%s: --since/--until need an uncompressed regular file", display);
            return SI_FAILED;
        }
        rc = mmk_decoder_open(&si->dec, si->s.fd, format);
        if (rc < 0) {
            return rc;
        }
        si->in = mmk_input_decoder(si->dec);
        si->s.size = 0; /* progress in decompressed bytes: total unknown */
        return 0;
    }
    if (o->since || o->until) {
        return time_window(o, si, need_lines);
    }
    return 0;
}

static void search_input_close(search_input *si) {
    mmk_decoder_free(si->dec);
    si->dec = NULL;
    source_close(&si->s);
}

/* ---- operands: the tree walk, or one after the other --------------------- */

typedef int (*file_fn)(const char *path, const char *display, int big, void *user);

static const char *stdin_name(const cli_options *o) {
    return o->label ? o->label : "(standard input)";
}

/* 1 when output lines name their file (-H, or several operands / a tree). */
static int names_files(const cli_options *o) {
    if (o->with_filename >= 0) {
        return o->with_filename;
    }
#ifdef MMK_HAVE_WALK
    walk_options wo;
    memset(&wo, 0, sizeof wo);
    wo.recursive = o->recursive > 0;
    wo.follow_links = o->recursive > 1;
    return walk_names_files(o->files, o->nfiles, &wo);
#else
    return o->nfiles > 1 || (o->recursive && o->nfiles == 0);
#endif
}

/* Run fn over every input the operands name, in order; `sequential` asks for
   one file at a time (output that depends on earlier files). Returns grep's
   combined status. */
static int run_operands(const cli_options *o, file_fn fn, void *user, int sequential,
                        volatile int *stop) {
#ifdef MMK_HAVE_WALK
    walk_options wo;
    memset(&wo, 0, sizeof wo);
    wo.recursive = o->recursive > 0;
    wo.follow_links = o->recursive > 1;
    wo.include = o->include;
    wo.ninclude = o->ninclude;
    wo.exclude = o->exclude;
    wo.nexclude = o->nexclude;
    wo.exclude_dir = o->exclude_dir;
    wo.nexclude_dir = o->nexclude_dir;
    wo.include_pos = o->include_pos;
    wo.exclude_pos = o->exclude_pos;
    wo.quiet_errors = o->no_messages;
    wo.threads = sequential ? 1 : o->scan.threads;
    char *dash[] = {(char *)"-"};
    if (o->nfiles == 0 && !o->recursive) {
        return walk_run(dash, 1, &wo, fn, user, stop);
    }
    return walk_run(o->files, o->nfiles, &wo, fn, user, stop);
#else
    (void)sequential;
    int n = operand_count(o), any_error = 0, any_match = 0;
    for (int i = 0; i < n && !(stop && *stop); i++) {
        const char *path = operand(o, i);
        if (o->nfiles == 0 && o->recursive) {
            path = ".";
        }
        int st = fn(path, path, 1, user);
        any_error |= st == EXIT_TROUBLE;
        any_match |= st == EXIT_MATCH;
    }
    return any_error ? EXIT_TROUBLE : any_match ? EXIT_MATCH : EXIT_NOMATCH;
#endif
}

/* count --json: every operand gets an entry, also one that cannot be read
   (the walk reports those itself, without calling fn): operands that exist
   are walked one at a time, the others go to fn, which reports them. */
static int run_operands_each(const cli_options *o, file_fn fn, void *user) {
    if (o->nfiles == 0) {
        return run_operands(o, fn, user, 1, NULL);
    }
    int any_error = 0, any_match = 0;
    for (int i = 0; i < o->nfiles; i++) {
        sys_stat st;
        int status;
        if (strcmp(o->files[i], "-") != 0 && sys_path_stat(o->files[i], &st) < 0) {
            status = fn(o->files[i], o->files[i], 1, user);
        } else {
            cli_options one = *o;
            one.files = o->files + i;
            one.nfiles = 1;
            status = run_operands(&one, fn, user, 1, NULL);
        }
        any_error |= status == EXIT_TROUBLE;
        any_match |= status == EXIT_MATCH;
    }
    return any_error ? EXIT_TROUBLE : any_match ? EXIT_MATCH : EXIT_NOMATCH;
}

/* The name to show for an input the walk hands over. */
static const char *display_name(const cli_options *o, const char *path, const char *display) {
    if (strcmp(path, "-") == 0) {
        return stdin_name(o);
    }
    return display ? display : path;
}

/* ---- word tables (words, count --by) ---------------------------------------- */

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

/* ---- count --------------------------------------------------------------- */

typedef struct count_ctx {
    const mmk_pattern *pattern;
    uint64_t count;
} count_ctx;

static int count_op(const mmk_input *in, const mmk_scan_options *so, void *ctx) {
    count_ctx *c = ctx;
    return mmk_count(c->pattern, in, so, &c->count);
}

typedef struct count_run {
    const cli_options *o;
    const mmk_pattern *pattern;
    int with_name;
    int group;      /* --by */
    sys_mutex lock; /* --by: the tables of the files searched so far */
    mmk_wordtab **tabs;
    size_t ntabs, cap;
    uint64_t total;
    int first_json;
} count_run;

static void report_input_error(const cli_options *o, const search_input *si, int code,
                               int64_t err_off) {
    if (o->no_messages && code != MMK_ELIMIT && code != MMK_EPATTERN) {
        return;
    }
    report_scan(o, &si->s, code, err_off);
}

/* Scan one opened input with the progress bar around it; --mmap on what
   cannot be mapped falls back to reading. */
static int scan_input(const cli_options *o, search_input *si, int big, scan_op op, void *ctx,
                      int64_t *err_off) {
    mmk_scan_options so = o->scan;
    so.error_offset = err_off;
    if (!big) {
        so.threads = 1;
    }
    progress_begin(si->s.display, si->s.size);
    int rc = op(&si->in, &so, ctx);
    if (rc == MMK_ENOTREG && so.io == MMK_IO_MMAP) {
        so.io = MMK_IO_READ;
        rc = op(&si->in, &so, ctx);
    }
    progress_end();
    return rc;
}

static int count_file(const char *path, const char *display, int big, void *user) {
    count_run *c = user;
    const cli_options *o = c->o;
    search_input si;
    display = display_name(o, path, display);
    int rc = search_input_open(o, &si, path, display, 0, big);
    if (rc == SI_SKIP || rc == SI_FAILED) {
        search_input_close(&si);
        if (rc == SI_FAILED) {
            printer_error = 1;
            out_set_pipe_status(EXIT_TROUBLE);
        }
        return rc == SI_SKIP ? EXIT_NOMATCH : EXIT_TROUBLE;
    }
    uint64_t n = 0;
    int64_t err_off = -1;
    if (rc == 0) {
        count_ctx cc = {c->pattern, 0};
        rc = scan_input(o, &si, big, count_op, &cc, &err_off);
        n = cc.count;
    }
    if (rc < 0) {
        report_input_error(o, &si, rc, err_off);
    }
    search_input_close(&si);
    if (o->json) {
        out_str(c->first_json ? "" : ",");
        c->first_json = 0;
        if (rc < 0) {
            json_error_entry(path, rc);
        } else {
            out_char('{');
            out_json_bytes_field("path", path, strlen(path));
            out_str(",\"count\":");
            out_u64(n);
            out_char('}');
        }
    } else if (rc >= 0) {
        if (c->with_name) {
            out_str(display);
            out_char(':');
        }
        out_u64(n);
        out_char('\n');
    }
    if (rc < 0) {
        printer_error = 1;
        out_set_pipe_status(EXIT_TROUBLE);
        return EXIT_TROUBLE;
    }
    sys_mutex_lock(&c->lock);
    c->total += n;
    if (!printer_error) {
        out_set_pipe_status(c->total > 0 ? EXIT_MATCH : EXIT_NOMATCH);
    }
    sys_mutex_unlock(&c->lock);
    return n > 0 ? EXIT_MATCH : EXIT_NOMATCH;
}

typedef struct count_by_ctx {
    const mmk_pattern *pattern;
    int group;
    mmk_wordtab *tab;
} count_by_ctx;

static int count_by_op(const mmk_input *in, const mmk_scan_options *so, void *ctx) {
    count_by_ctx *c = ctx;
    return mmk_count_by(c->pattern, c->group, in, so, &c->tab);
}

static int count_by_file(const char *path, const char *display, int big, void *user) {
    count_run *c = user;
    const cli_options *o = c->o;
    search_input si;
    display = display_name(o, path, display);
    int rc = search_input_open(o, &si, path, display, 0, big);
    if (rc == SI_SKIP || rc == SI_FAILED) {
        search_input_close(&si);
        if (rc == SI_FAILED) {
            printer_error = 1;
            out_set_pipe_status(EXIT_TROUBLE);
        }
        return rc == SI_SKIP ? EXIT_NOMATCH : EXIT_TROUBLE;
    }
    int64_t err_off = -1;
    count_by_ctx cc = {c->pattern, c->group, NULL};
    if (rc == 0) {
        rc = scan_input(o, &si, big, count_by_op, &cc, &err_off);
    }
    if (rc < 0) {
        report_input_error(o, &si, rc, err_off);
        search_input_close(&si);
        mmk_wordtab_free(cc.tab);
        return EXIT_TROUBLE;
    }
    search_input_close(&si);
    uint64_t total = mmk_wordtab_total(cc.tab);
    sys_mutex_lock(&c->lock);
    if (c->ntabs == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        mmk_wordtab **t = realloc(c->tabs, cap * sizeof *t);
        if (!t) {
            sys_mutex_unlock(&c->lock);
            mmk_wordtab_free(cc.tab);
            cli_error(display, mmk_strerror(-ENOMEM));
            return EXIT_TROUBLE;
        }
        c->tabs = t;
        c->cap = cap;
    }
    c->tabs[c->ntabs++] = cc.tab;
    c->total += total;
    sys_mutex_unlock(&c->lock);
    return total > 0 ? EXIT_MATCH : EXIT_NOMATCH;
}

/* --by GROUP: a number, or the name of a named group. */
static int resolve_group(const cli_options *o, const mmk_pattern *p, int *group) {
    const char *by = o->by;
    int groups = mmk_pattern_groups(p);
    if (*by >= '0' && *by <= '9') {
        char *end;
        long v = strtol(by, &end, 10);
        if (*end == '\0' && v >= 0 && v <= groups) {
            *group = (int)v;
            return 0;
        }
        cli_errorf("count: --by %s: the pattern has %d capture group%s (0 = the whole match)", by,
                   groups, groups == 1 ? "" : "s");
        return -1;
    }
    int g = mmk_pattern_group_number(p, by);
    if (g < 0) {
        cli_errorf("count: --by %s: the pattern has no group of that name", by);
        return -1;
    }
    *group = g;
    return 0;
}

/* Print counts per value: `uniq -c` lines (the count right-aligned in 7
   columns, a space, the value), most frequent first, ties in byte order of
   the value; or one JSON document. */
static void print_counts_by(const cli_options *o, int group, word_entry *e, size_t n,
                            uint64_t total) {
    size_t shown = o->top >= 0 && (uint64_t)o->top < n ? (size_t)o->top : n;
    if (!o->json) {
        for (size_t i = 0; i < shown; i++) {
            out_u64_padded(e[i].count, 7);
            out_char(' ');
            out_write(e[i].word, e[i].len);
            out_char('\n');
        }
        return;
    }
    out_char('{');
    out_json_bytes_field("pattern", o->pattern, strlen(o->pattern));
    out_str(",\"group\":");
    out_u64((uint64_t)group);
    out_str(",\"total\":");
    out_u64(total);
    out_str(",\"distinct\":");
    out_u64(n);
    if (shown < n) {
        /* A cut table says so: mmk merge cannot add it up exactly. */
        out_str(",\"top\":");
        out_u64(shown);
    }
    out_str(",\"values\":[");
    for (size_t i = 0; i < shown; i++) {
        out_str(i ? ",{" : "{");
        out_json_bytes_field("value", e[i].word, e[i].len);
        out_str(",\"count\":");
        out_u64(e[i].count);
        out_char('}');
    }
    out_str("]}\n");
}

static int cmd_count_by(const cli_options *o) {
    mmk_pattern *p = NULL;
    if (compile_pattern(o, &p, 1) < 0) {
        return EXIT_TROUBLE;
    }
    count_run c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.pattern = p;
    if (resolve_group(o, p, &c.group) < 0) {
        mmk_pattern_free(p);
        return EXIT_TROUBLE;
    }
    sys_mutex_init(&c.lock);
    int status = run_operands(o, count_by_file, &c, 0, NULL);
    word_entry *e = NULL;
    size_t n = 0;
    int rc = merge_tables(c.tabs, (int)c.ntabs, &e, &n);
    if (rc < 0) {
        cli_error("count", mmk_strerror(rc));
        status = EXIT_TROUBLE;
    } else {
        print_counts_by(o, c.group, e, n, c.total);
    }
    free(e);
    for (size_t i = 0; i < c.ntabs; i++) {
        mmk_wordtab_free(c.tabs[i]);
    }
    free(c.tabs);
    sys_mutex_destroy(&c.lock);
    mmk_pattern_free(p);
    if (status != EXIT_TROUBLE) {
        status = c.total > 0 ? EXIT_MATCH : EXIT_NOMATCH;
    }
    return status;
}

int cmd_count(const cli_options *o) {
    if (o->by) {
        return cmd_count_by(o);
    }
    mmk_pattern *p = NULL;
    if (compile_pattern(o, &p, 0) < 0) {
        return EXIT_TROUBLE;
    }
    count_run c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.pattern = p;
    c.with_name = names_files(o);
    c.first_json = 1;
    sys_mutex_init(&c.lock);
    if (o->json) {
        out_char('{');
        out_json_bytes_field("pattern", o->pattern, strlen(o->pattern));
        out_str(",\"files\":[");
    }
    /* JSON entries are separated by commas in output order: one at a time. */
    int status =
        o->json ? run_operands_each(o, count_file, &c) : run_operands(o, count_file, &c, 0, NULL);
    if (o->json) {
        out_str("],\"total\":");
        out_u64(c.total);
        out_str("}\n");
    }
    sys_mutex_destroy(&c.lock);
    mmk_pattern_free(p);
    if (status != EXIT_TROUBLE) {
        status = c.total > 0 ? EXIT_MATCH : EXIT_NOMATCH;
    }
    return status;
}

/* ---- grep ---------------------------------------------------------------- */

typedef struct grep_run {
    const cli_options *o;
    const mmk_pattern *pattern;
    printer_config pc;
    mmk_search_options so;
    int with_name;
    int quiet_output;  /* -c, -l, -L, -q: no lines are printed */
    volatile int stop; /* -q found a match: start no other file */
    /* --follow */
    printer follow_pr; /* one printer for every block: groups continue across them */
    uint64_t follow_selected;
    int follow_error;
} grep_run;

typedef struct grep_search {
    grep_run *g;
    printer *pr;
    mmk_search_result res;
} grep_search;

static int grep_op(const mmk_input *in, const mmk_scan_options *so, void *ctx) {
    grep_search *gs = ctx;
    mmk_sink sink = printer_sink(gs->pr);
    memset(&gs->res, 0, sizeof gs->res);
    return mmk_search(gs->g->pattern, in, so, &gs->g->so, gs->g->quiet_output ? NULL : &sink,
                      &gs->res);
}

static int grep_file(const char *path, const char *display, int big, void *user) {
    grep_run *g = user;
    const cli_options *o = g->o;
    if (g->stop) {
        return EXIT_NOMATCH;
    }
    display = display_name(o, path, display);
    search_input si;
    int rc = search_input_open(o, &si, path, display, o->line_numbers, big);
    if (rc == SI_SKIP || rc == SI_FAILED) {
        search_input_close(&si);
        if (rc == SI_FAILED) {
            printer_error = 1;
            out_set_pipe_status(EXIT_TROUBLE);
        }
        return rc == SI_SKIP ? EXIT_NOMATCH : EXIT_TROUBLE;
    }
    if (rc < 0) {
        printer_error = 1;
        out_set_pipe_status(EXIT_TROUBLE);
    }
    const char *name = g->with_name ? display : NULL;
    printer pr = {&g->pc, name, si.line_base, si.offset_base, 0};
    grep_search gs;
    memset(&gs, 0, sizeof gs);
    gs.g = g;
    gs.pr = &pr;
    int64_t err_off = -1;
    if (rc == 0) {
        rc = scan_input(o, &si, big, grep_op, &gs, &err_off);
    }
    if (rc < 0) {
        report_input_error(o, &si, rc, err_off);
        search_input_close(&si);
        printer_error = 1;
        out_set_pipe_status(EXIT_TROUBLE);
        if (o->quiet && gs.res.selected > 0) {
            g->stop = 1;
            return EXIT_MATCH;
        }
        return EXIT_TROUBLE;
    }
    search_input_close(&si);
    uint64_t selected = gs.res.selected;
    if (selected > 0 && !printer_error) {
        out_set_pipe_status(EXIT_MATCH);
    }
    if (o->quiet) {
        if (selected > 0) {
            g->stop = 1;
        }
    } else if (o->files_with_matches) {
        if (selected > 0) {
            printer_file_name(&g->pc, display);
        }
    } else if (o->files_without_match) {
        if (selected == 0) {
            printer_file_name(&g->pc, display);
        }
    } else if (o->count_only) {
        printer_count(&g->pc, name, selected);
    }
    if (g->pc.flush_each) {
        out_flush();
    }
    return selected > 0 ? EXIT_MATCH : EXIT_NOMATCH;
}

#ifdef MMK_HAVE_FOLLOW
/* --follow: each block of whole lines is searched as bytes, its numbers and
   offsets shifted to the file's; context does not reach across blocks. */
static int follow_block(const char *bytes, size_t len, uint64_t offset, uint64_t line_no,
                        void *user) {
    grep_run *g = user;
    const cli_options *o = g->o;
    printer *pr = &g->follow_pr;
    pr->cfg = &g->pc;
    pr->name = g->with_name ? o->files[0] : NULL;
    if (line_no <= pr->last_line) {
        pr->last_line = 0; /* numbers restarted: the file was truncated or replaced */
    }
    pr->line_base = line_no - 1;
    pr->offset_base = offset;
    grep_search gs;
    memset(&gs, 0, sizeof gs);
    gs.g = g;
    gs.pr = pr;
    mmk_input in = mmk_input_bytes(bytes, len);
    mmk_scan_options so = o->scan;
    so.progress = NULL;
    mmk_search_options keep = g->so;
    if (o->max_count >= 0) {
        g->so.flags |= MMK_SEARCH_MAX_COUNT;
        g->so.max_count = (uint64_t)o->max_count - g->follow_selected;
    }
    int rc = grep_op(&in, &so, &gs);
    g->so = keep;
    g->follow_selected += gs.res.selected;
    if (gs.res.selected > 0) {
        follow_note_match();
    }
    if (rc < 0) {
        report_scan(o, &(source){.path = o->files[0], .display = o->files[0], .fd = -1}, rc, -1);
        g->follow_error = 1;
        return 1;
    }
    out_flush();
    if (gs.res.selected > 0 && (o->quiet || o->files_with_matches)) {
        if (o->files_with_matches) {
            printer_file_name(&g->pc, o->files[0]);
            out_flush();
        }
        return 1;
    }
    if (o->max_count >= 0 && g->follow_selected >= (uint64_t)o->max_count) {
        return 1;
    }
    return 0;
}
#endif

static int grep_follow(grep_run *g) {
#ifdef MMK_HAVE_FOLLOW
    g->pc.flush_each = 1;
    int status = follow_run(g->o->files[0], follow_block, g);
    /* Interrupted: what -c and -L print at the end of a file. */
    if (g->o->count_only && !g->o->quiet && !g->o->files_with_matches &&
        !g->o->files_without_match && status != EXIT_TROUBLE) {
        printer_count(&g->pc, g->with_name ? g->o->files[0] : NULL, g->follow_selected);
    } else if (g->o->files_without_match && g->follow_selected == 0 && status != EXIT_TROUBLE) {
        printer_file_name(&g->pc, g->o->files[0]);
    }
    if (g->follow_error) {
        return EXIT_TROUBLE;
    }
    if (status == EXIT_TROUBLE) {
        return status;
    }
    return g->follow_selected > 0 ? EXIT_MATCH : EXIT_NOMATCH;
#else
    (void)g;
    cli_errorf("grep: --follow is not available in this build");
    return EXIT_TROUBLE;
#endif
}

int cmd_grep(const cli_options *o) {
    /* grep -m 0 reads nothing, and neither does a search with no pattern at
       all (-f of an empty file), which can select no line; -L still lists. */
    if ((o->max_count == 0 || (o->npatterns == 0 && !o->invert)) && !o->files_without_match) {
        return EXIT_NOMATCH;
    }
    mmk_pattern *p = NULL;
    if (compile_pattern(o, &p, 1) < 0) {
        return EXIT_TROUBLE;
    }
    grep_run g;
    memset(&g, 0, sizeof g);
    g.o = o;
    g.pattern = p;
    g.with_name = names_files(o);
    g.quiet_output = o->quiet || o->files_with_matches || o->files_without_match || o->count_only;
    g.pc.invert = o->invert;
    g.pc.only_matching = o->only_matching;
    g.pc.line_numbers = o->line_numbers;
    g.pc.byte_offset = o->byte_offset;
    g.pc.null_after_name = o->null_after_name;
    g.pc.context = o->before >= 0 || o->after >= 0;
    g.pc.color = o->color == COLOR_ALWAYS;
    /* Lines go out as they are found when someone watches (tail -f | mmk grep). */
    g.pc.flush_each = o->line_buffered || sys_isatty(SYS_STDOUT);
    grep_colors_init(&g.pc.colors);
    if (o->invert) {
        g.so.flags |= MMK_SEARCH_INVERT;
    }
    if (o->only_matching || g.pc.color) {
        /* grep's -o and --color step one byte on after an empty match */
        g.so.flags |= MMK_SEARCH_SPANS | MMK_SEARCH_GREP_STEP;
    } else {
        /* Without spans no line needs more than its first match. */
        g.so.flags |= MMK_SEARCH_FIRST_MATCH;
    }
    if (g.quiet_output) {
        g.so.flags |= MMK_SEARCH_COUNT_ONLY;
    }
    if (!o->line_numbers && !g.pc.context && !o->follow) {
        /* No number is printed or compared: the search need not count lines. */
        g.so.flags |= MMK_SEARCH_NO_LINE_NUMBERS;
    }
    if (o->max_count >= 0) {
        g.so.flags |= MMK_SEARCH_MAX_COUNT;
        g.so.max_count = (uint64_t)o->max_count;
    }
    if (o->quiet || o->files_with_matches || o->files_without_match) {
        /* The first selected line decides: stop the file there. */
        g.so.flags |= MMK_SEARCH_MAX_COUNT;
        g.so.max_count = 1;
    }
    if (!g.quiet_output) {
        g.so.before = o->before > 0 ? (uint32_t)o->before : 0;
        g.so.after = o->after > 0 ? (uint32_t)o->after : 0;
    }
    printer_used = 0;
    int status;
    if (o->follow) {
        status = grep_follow(&g);
    } else {
        /* The "--" before a file's first group depends on the files before
           it: with context, one file at a time. */
        status = run_operands(o, grep_file, &g, g.pc.context, &g.stop);
    }
    if (o->quiet && g.stop) {
        status = EXIT_MATCH; /* grep -q: a match wins over errors */
    }
    mmk_pattern_free(p);
    return status;
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
        sys_stat st;
        int rc = strcmp(path, "-") == 0 ? sys_fstat(SYS_STDIN, &st) : sys_path_stat(path, &st);
        if (rc < 0) {
            continue;
        }
        if (st.kind == SYS_REGULAR) {
            regular += st.size;
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
            if (shown < distinct) {
                /* A cut table says so: mmk merge cannot add it up exactly. */
                out_str(",\"top\":");
                out_u64(shown);
            }
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
