/*
 * options.c — mmk's command-line parsing and help texts.
 *
 * The conventions of grep and ripgrep: short options can be bundled (-inw),
 * take their value attached or as the next word (-j2, -j 2), long options
 * take it after '=' or as the next word (--threads=2, --threads 2), options
 * may come after operands, `--` ends options, and a lone `-` is standard
 * input. A mistake is a usage error (exit 2) with a hint to --help.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sys.h"

enum opt_id {
    OPT_FIXED,
    OPT_ICASE,
    OPT_WORD,
    OPT_LINE_REGEXP,
    OPT_REGEXP,
    OPT_FILE,
    OPT_INVERT,
    OPT_ONLY_MATCHING,
    OPT_FILES_WITH_MATCHES,
    OPT_FILES_WITHOUT_MATCH,
    OPT_QUIET,
    OPT_NO_MESSAGES,
    OPT_MAX_COUNT,
    OPT_LINE_NUMBER,
    OPT_BYTE_OFFSET,
    OPT_COUNT,
    OPT_WITH_FILENAME,
    OPT_NO_FILENAME,
    OPT_LABEL,
    OPT_NULL,
    OPT_AFTER,
    OPT_BEFORE,
    OPT_CONTEXT,
    OPT_COLOR,
    OPT_EXTENDED,
    OPT_PERL,
    OPT_BASIC,
    OPT_TEXT,
    OPT_DECOMPRESS,
    OPT_FOLLOW,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_TIME_FORMAT,
    OPT_RECURSIVE,
    OPT_DEREF_RECURSIVE,
    OPT_INCLUDE,
    OPT_EXCLUDE,
    OPT_EXCLUDE_DIR,
    OPT_BY,
    OPT_THREADS,
    OPT_MMAP,
    OPT_NO_MMAP,
    OPT_NO_CACHE,
    OPT_JSON,
    OPT_NO_PROGRESS,
    OPT_CHUNK_SIZE,
    OPT_TOP,
    OPT_LINE_BUFFERED,
    OPT_HELP
};

#define CMD_ALL (CMD_COUNT | CMD_GREP | CMD_LINES | CMD_WORDS)
#define CMD_SEARCH (CMD_COUNT | CMD_GREP)

/* Whether an option takes a value: never, always (attached or the next
   word), or optionally (long form only, after '=': --color[=WHEN]). */
enum { VAL_NONE = 0, VAL_REQUIRED = 1, VAL_OPTIONAL = 2 };

/* One option: its short letter (0 if none), long name (NULL if none), whether
   it takes a value, and the subcommands that know it. The first entry that
   matches both the name and the subcommand wins, which lets -h mean
   --no-filename in grep (as in grep) and --help elsewhere. */
typedef struct opt_def {
    char short_name;
    const char *long_name;
    int id;
    int takes_value;
    unsigned commands;
} opt_def;

static const opt_def options[] = {
    {'F', "fixed-strings", OPT_FIXED, 0, CMD_SEARCH},
    {'i', "ignore-case", OPT_ICASE, 0, CMD_SEARCH},
    {'y', NULL, OPT_ICASE, 0, CMD_GREP},
    {'w', "word-regexp", OPT_WORD, 0, CMD_SEARCH},
    {'x', "line-regexp", OPT_LINE_REGEXP, 0, CMD_GREP},
    {'e', "regexp", OPT_REGEXP, 1, CMD_SEARCH},
    {'f', "file", OPT_FILE, 1, CMD_SEARCH},
    {'v', "invert-match", OPT_INVERT, 0, CMD_GREP},
    {'o', "only-matching", OPT_ONLY_MATCHING, 0, CMD_GREP},
    {'l', "files-with-matches", OPT_FILES_WITH_MATCHES, 0, CMD_GREP},
    {'L', "files-without-match", OPT_FILES_WITHOUT_MATCH, 0, CMD_GREP},
    {'q', "quiet", OPT_QUIET, 0, CMD_GREP},
    {0, "silent", OPT_QUIET, 0, CMD_GREP},
    {'s', "no-messages", OPT_NO_MESSAGES, 0, CMD_SEARCH},
    {'m', "max-count", OPT_MAX_COUNT, 1, CMD_GREP},
    {'n', "line-number", OPT_LINE_NUMBER, 0, CMD_GREP},
    {'b', "byte-offset", OPT_BYTE_OFFSET, 0, CMD_GREP},
    {'c', "count", OPT_COUNT, 0, CMD_GREP},
    {'H', "with-filename", OPT_WITH_FILENAME, 0, CMD_SEARCH | CMD_MERGE},
    {'h', "no-filename", OPT_NO_FILENAME, 0, CMD_GREP},
    {0, "no-filename", OPT_NO_FILENAME, 0, CMD_COUNT | CMD_MERGE},
    {0, "label", OPT_LABEL, 1, CMD_GREP},
    {'Z', "null", OPT_NULL, 0, CMD_GREP},
    {'A', "after-context", OPT_AFTER, 1, CMD_GREP},
    {'B', "before-context", OPT_BEFORE, 1, CMD_GREP},
    {'C', "context", OPT_CONTEXT, 1, CMD_GREP},
    {0, "color", OPT_COLOR, VAL_OPTIONAL, CMD_GREP},
    {0, "colour", OPT_COLOR, VAL_OPTIONAL, CMD_GREP},
    {'E', "extended-regexp", OPT_EXTENDED, 0, CMD_GREP},
    {'P', "perl-regexp", OPT_PERL, 0, CMD_SEARCH},
    {'G', "basic-regexp", OPT_BASIC, 0, CMD_GREP},
    {'a', "text", OPT_TEXT, 0, CMD_GREP},
    {'z', "decompress", OPT_DECOMPRESS, 0, CMD_SEARCH},
    {0, "follow", OPT_FOLLOW, 0, CMD_GREP},
    {0, "since", OPT_SINCE, 1, CMD_SEARCH},
    {0, "until", OPT_UNTIL, 1, CMD_SEARCH},
    {0, "time-format", OPT_TIME_FORMAT, 1, CMD_SEARCH},
    {'r', "recursive", OPT_RECURSIVE, 0, CMD_SEARCH},
    {'R', "dereference-recursive", OPT_DEREF_RECURSIVE, 0, CMD_SEARCH},
    {0, "include", OPT_INCLUDE, 1, CMD_SEARCH},
    {0, "exclude", OPT_EXCLUDE, 1, CMD_SEARCH},
    {0, "exclude-dir", OPT_EXCLUDE_DIR, 1, CMD_SEARCH},
    {0, "by", OPT_BY, 1, CMD_COUNT},
    {'j', "threads", OPT_THREADS, 1, CMD_ALL},
    {0, "mmap", OPT_MMAP, 0, CMD_ALL},
    {0, "no-mmap", OPT_NO_MMAP, 0, CMD_ALL},
    {0, "no-cache", OPT_NO_CACHE, 0, CMD_ALL},
    {0, "json", OPT_JSON, 0, CMD_COUNT | CMD_LINES | CMD_WORDS | CMD_MERGE},
    {0, "no-progress", OPT_NO_PROGRESS, 0, CMD_ALL},
    {0, "chunk-size", OPT_CHUNK_SIZE, 1, CMD_ALL},
    {0, "top", OPT_TOP, 1, CMD_WORDS | CMD_COUNT | CMD_MERGE},
    {0, "line-buffered", OPT_LINE_BUFFERED, 0, CMD_GREP},
    {'h', "help", OPT_HELP, 0, CMD_ALL | CMD_MERGE},
};

static const opt_def *find_short(char c, unsigned command) {
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        if (options[i].short_name == c && (options[i].commands & command)) {
            return &options[i];
        }
    }
    return NULL;
}

static const opt_def *find_long(const char *name, size_t len, unsigned command) {
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        const char *l = options[i].long_name;
        if (l && strlen(l) == len && memcmp(l, name, len) == 0 && (options[i].commands & command)) {
            return &options[i];
        }
    }
    return NULL;
}

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
    char what[512];
    snprintf(what, sizeof what, fmt, arg);
    cli_errorf("%s: %s\nTry 'mmk %s --help' for more information.", cmd, what, cmd);
    return EXIT_TROUBLE;
}

/* A decimal count with an optional binary suffix K, M or G (chunk sizes). */
static int parse_size(const char *s, unsigned long long max, int allow_suffix,
                      unsigned long long *out) {
    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) {
        return -1;
    }
    unsigned shift = 0;
    if (allow_suffix && *end) {
        switch (*end) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            return -1;
        }
        end++;
    }
    if (*end != '\0' || v > (max >> shift)) {
        return -1;
    }
    *out = v << shift;
    return 0;
}

/* Append one pattern (n bytes at p, which outlive the options). */
static int add_pattern(cli_options *o, const char *p, size_t n) {
    if (o->npatterns % 16 == 0) {
        size_t cap = o->npatterns + 16;
        const char **np = realloc(o->patterns, cap * sizeof *np);
        if (!np) {
            return -ENOMEM;
        }
        o->patterns = np;
        size_t *nl = realloc(o->pattern_lens, cap * sizeof *nl);
        if (!nl) {
            return -ENOMEM;
        }
        o->pattern_lens = nl;
    }
    o->patterns[o->npatterns] = p;
    o->pattern_lens[o->npatterns] = n;
    o->npatterns++;
    return 0;
}

/* grep -f FILE: one pattern per line ('\n' ends a line, and a final '\n'
   makes no empty pattern); an empty file holds no pattern, so nothing
   matches (as in grep). "-" is standard input. */
static int read_pattern_file(cli_options *o, const char *path) {
    int fd = strcmp(path, "-") == 0 ? SYS_STDIN : sys_open_read(path, 0);
    if (fd < 0) {
        cli_error(path, mmk_strerror(fd));
        return EXIT_TROUBLE;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    int rc = buf ? 0 : -ENOMEM;
    while (rc == 0) {
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
        }
        long long r = sys_read(fd, buf + len, cap - len);
        if (r < 0) {
            rc = (int)r;
        } else if (r == 0) {
            break;
        } else {
            len += (size_t)r;
        }
    }
    if (fd != SYS_STDIN) {
        sys_close(fd);
    }
    if (rc == 0) {
        char **nb = realloc(o->pattern_bufs, (o->npattern_bufs + 1) * sizeof *nb);
        if (!nb) {
            rc = -ENOMEM;
        } else {
            o->pattern_bufs = nb;
            o->pattern_bufs[o->npattern_bufs++] = buf;
        }
    }
    if (rc < 0) {
        free(buf);
        cli_error(path, mmk_strerror(rc));
        return EXIT_TROUBLE;
    }
    for (size_t s = 0; s < len;) {
        const char *nl = memchr(buf + s, '\n', len - s);
        size_t e = nl ? (size_t)(nl - buf) : len;
        if (add_pattern(o, buf + s, e - s) < 0) {
            cli_error(path, mmk_strerror(-ENOMEM));
            return EXIT_TROUBLE;
        }
        s = e + 1;
    }
    o->pattern_given = 1;
    return 0;
}

/* Append a glob; `pos` (may be NULL) receives its place among the
   --include and --exclude options (the last matching one decides, as in
   GNU grep). */
static int add_glob(cli_options *o, const char ***list, int *n, int **pos, const char *value) {
    const char **nl = realloc(*list, (size_t)(*n + 1) * sizeof *nl);
    if (!nl) {
        cli_error(o->name, mmk_strerror(-ENOMEM));
        return EXIT_TROUBLE;
    }
    *list = nl;
    if (pos) {
        int *np = realloc(*pos, (size_t)(*n + 1) * sizeof *np);
        if (!np) {
            cli_error(o->name, mmk_strerror(-ENOMEM));
            return EXIT_TROUBLE;
        }
        *pos = np;
        np[*n] = o->ninclude + o->nexclude;
    }
    nl[(*n)++] = value;
    return 0;
}

static int parse_context(cli_options *o, const char *value, long long *out) {
    unsigned long long v;
    if (parse_size(value, (unsigned long long)UINT32_MAX, 0, &v) < 0) {
        return usage_error(o->name, "invalid context length '%s' (a number of lines)", value);
    }
    *out = (long long)v;
    return 0;
}

/* Apply one option. Returns 0, 1 for help, or EXIT_TROUBLE. */
static int apply(cli_options *o, const opt_def *d, const char *value, const char *spelled) {
    unsigned long long v;
    switch (d->id) {
    case OPT_FIXED:
        o->pattern_flags |= MMK_PAT_FIXED;
        break;
    case OPT_ICASE:
        o->pattern_flags |= MMK_PAT_ICASE;
        break;
    case OPT_WORD:
        o->pattern_flags |= MMK_PAT_WORD;
        break;
    case OPT_LINE_REGEXP:
        o->pattern_flags |= MMK_PAT_LINE_EXACT;
        break;
    case OPT_REGEXP:
        if (add_pattern(o, value, strlen(value)) < 0) {
            cli_error(o->name, mmk_strerror(-ENOMEM));
            return EXIT_TROUBLE;
        }
        o->pattern_given = 1;
        break;
    case OPT_FILE:
        return read_pattern_file(o, value);
    case OPT_INVERT:
        o->invert = 1;
        break;
    case OPT_ONLY_MATCHING:
        o->only_matching = 1;
        break;
    case OPT_FILES_WITH_MATCHES:
        o->files_with_matches = 1;
        o->files_without_match = 0;
        break;
    case OPT_FILES_WITHOUT_MATCH:
        o->files_without_match = 1;
        o->files_with_matches = 0;
        break;
    case OPT_QUIET:
        o->quiet = 1;
        break;
    case OPT_NO_MESSAGES:
        o->no_messages = 1;
        break;
    case OPT_MAX_COUNT:
        if (parse_size(value, (unsigned long long)INT64_MAX, 0, &v) < 0) {
            return usage_error(o->name, "invalid max count '%s' (a number of lines)", value);
        }
        o->max_count = (long long)v;
        break;
    case OPT_LINE_NUMBER:
        o->line_numbers = 1;
        break;
    case OPT_BYTE_OFFSET:
        o->byte_offset = 1;
        break;
    case OPT_COUNT:
        o->count_only = 1;
        break;
    case OPT_WITH_FILENAME:
        o->with_filename = 1;
        break;
    case OPT_NO_FILENAME:
        o->with_filename = 0;
        break;
    case OPT_LABEL:
        o->label = value;
        break;
    case OPT_NULL:
        o->null_after_name = 1;
        break;
    case OPT_AFTER:
        return parse_context(o, value, &o->after);
    case OPT_BEFORE:
        return parse_context(o, value, &o->before);
    case OPT_CONTEXT:
        return parse_context(o, value, &o->context);
    case OPT_COLOR:
        if (!value || strcmp(value, "auto") == 0 || strcmp(value, "tty") == 0 ||
            strcmp(value, "if-tty") == 0) {
            o->color = COLOR_AUTO;
        } else if (strcmp(value, "always") == 0 || strcmp(value, "yes") == 0 ||
                   strcmp(value, "force") == 0) {
            o->color = COLOR_ALWAYS;
        } else if (strcmp(value, "never") == 0 || strcmp(value, "no") == 0 ||
                   strcmp(value, "none") == 0) {
            o->color = COLOR_NEVER;
        } else {
            return usage_error(o->name, "invalid --color value '%s' (auto, always or never)",
                               value);
        }
        break;
    case OPT_EXTENDED:
    case OPT_PERL:
    case OPT_TEXT:
        break; /* PCRE2 syntax either way; every input is searched as text */
    case OPT_BASIC:
        return usage_error(o->name,
                           "%s: basic regular expressions are not supported (mmk "
                           "patterns are Perl/PCRE2 syntax, as grep -P)",
                           spelled);
    case OPT_DECOMPRESS:
        o->decompress = 1;
        break;
    case OPT_FOLLOW:
        o->follow = 1;
        break;
    case OPT_SINCE:
    case OPT_UNTIL: {
        int64_t ns;
        mmk_time_options to = {0};
        if (mmk_time_parse(value, strlen(value), &to, &ns) < 0) {
            return usage_error(o->name,
                               "invalid time '%s' (ISO 8601 such as 2026-11-30T08:29:57 or a "
                               "prefix of it, syslog 'Nov 30 08:29:57', or common-log "
                               "'30/Nov/2026:08:29:57 +0000')",
                               value);
        }
        if (d->id == OPT_SINCE) {
            o->since = value;
        } else {
            o->until = value;
        }
        break;
    }
    case OPT_TIME_FORMAT:
        if (strcmp(value, "auto") == 0) {
            o->time_format = MMK_TIME_AUTO;
        } else if (strcmp(value, "iso8601") == 0 || strcmp(value, "iso") == 0) {
            o->time_format = MMK_TIME_ISO8601;
        } else if (strcmp(value, "syslog") == 0) {
            o->time_format = MMK_TIME_SYSLOG;
        } else if (strcmp(value, "clf") == 0 || strcmp(value, "common") == 0) {
            o->time_format = MMK_TIME_CLF;
        } else {
            return usage_error(o->name, "invalid --time-format '%s' (auto, iso8601, syslog or clf)",
                               value);
        }
        break;
    case OPT_RECURSIVE:
        if (o->recursive < 1) {
            o->recursive = 1;
        }
        break;
    case OPT_DEREF_RECURSIVE:
        o->recursive = 2;
        break;
    case OPT_INCLUDE:
        return add_glob(o, &o->include, &o->ninclude, &o->include_pos, value);
    case OPT_EXCLUDE:
        return add_glob(o, &o->exclude, &o->nexclude, &o->exclude_pos, value);
    case OPT_EXCLUDE_DIR:
        return add_glob(o, &o->exclude_dir, &o->nexclude_dir, NULL, value);
    case OPT_BY:
        if (!*value) {
            return usage_error(o->name, "%s", "--by needs a group number or name");
        }
        o->by = value;
        break;
    case OPT_THREADS:
        if (parse_size(value, 4096, 0, &v) < 0) {
            return usage_error(o->name, "invalid thread count '%s' (0 to 4096; 0 = all cores)",
                               value);
        }
        o->scan.threads = (unsigned)v;
        break;
    case OPT_MMAP:
        o->scan.io = MMK_IO_MMAP;
        break;
    case OPT_NO_MMAP:
        o->scan.io = MMK_IO_READ;
        break;
    case OPT_NO_CACHE:
        o->scan.flags |= MMK_SCAN_NO_CACHE;
        break;
    case OPT_JSON:
        o->json = 1;
        break;
    case OPT_NO_PROGRESS:
        o->no_progress = 1;
        break;
    case OPT_CHUNK_SIZE:
        if (parse_size(value, UINT64_MAX, 1, &v) < 0 || v == 0) {
            return usage_error(o->name, "invalid chunk size '%s' (bytes, at least 1)", value);
        }
        o->scan.chunk_size = v;
        break;
    case OPT_TOP:
        if (parse_size(value, (unsigned long long)INT64_MAX, 0, &v) < 0) {
            return usage_error(o->name, "invalid --top value '%s' (a count)", value);
        }
        o->top = (long long)v;
        break;
    case OPT_LINE_BUFFERED:
        o->line_buffered = 1;
        break;
    case OPT_HELP:
        cli_print_help(o->command);
        return 1;
    }
    return 0;
}

void cli_options_free(cli_options *o) {
    for (size_t i = 0; i < o->npattern_bufs; i++) {
        free(o->pattern_bufs[i]);
    }
    free(o->pattern_bufs);
    free(o->patterns);
    free(o->pattern_lens);
    free(o->include);
    free(o->exclude);
    free(o->exclude_dir);
    free(o->include_pos);
    free(o->exclude_pos);
    o->include_pos = o->exclude_pos = NULL;
    o->pattern_bufs = NULL;
    o->patterns = NULL;
    o->pattern_lens = NULL;
    o->include = o->exclude = o->exclude_dir = NULL;
    o->npatterns = o->npattern_bufs = 0;
}

/* --color=auto: only on a terminal that can show it, and never when the
   NO_COLOR convention (no-color.org) asks for plain text. */
static int color_wanted(int color) {
    if (color != COLOR_AUTO) {
        return color;
    }
    const char *term = getenv("TERM");
    const char *no_color = getenv("NO_COLOR");
    return sys_isatty(SYS_STDOUT) && term && strcmp(term, "dumb") != 0 && !(no_color && *no_color);
}

int cli_parse(int argc, char **argv, unsigned command, cli_options *o) {
    memset(o, 0, sizeof *o);
    o->command = command;
    o->name = argv[0];
    o->with_filename = -1;
    o->top = -1;
    o->max_count = -1;
    o->before = o->after = o->context = -1;
    o->scan.io = MMK_IO_AUTO;
    o->scan.progress = progress_update;

    /* Operands are collected in place at the front of argv + 1. */
    char **operands = argv + 1;
    int noperands = 0;
    int only_operands = 0;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (only_operands || arg[0] != '-' || arg[1] == '\0') {
            operands[noperands++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_operands = 1;
            continue;
        }
        int rc;
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const opt_def *d = find_long(name, len, command);
            if (!d) {
                return usage_error(o->name, "unknown option '%s'", arg);
            }
            const char *value = NULL;
            if (d->takes_value == VAL_REQUIRED) {
                if (eq) {
                    value = eq + 1;
                } else if (i + 1 < argc) {
                    value = argv[++i];
                } else {
                    return usage_error(o->name, "option '%s' needs a value", arg);
                }
            } else if (d->takes_value == VAL_OPTIONAL) {
                value = eq ? eq + 1 : NULL;
            } else if (eq) {
                return usage_error(o->name, "option '--%s' takes no value", d->long_name);
            }
            rc = apply(o, d, value, arg);
            if (rc) {
                return rc;
            }
            continue;
        }
        for (const char *p = arg + 1; *p; p++) {
            if ((command & CMD_GREP) && *p >= '0' && *p <= '9') {
                /* -NUM is -C NUM, as in grep; the digits may be bundled (-2n). */
                const char *q = p;
                while (q[1] >= '0' && q[1] <= '9') {
                    q++;
                }
                char digits[32];
                size_t nd = (size_t)(q - p + 1);
                if (nd >= sizeof digits) {
                    return usage_error(o->name, "invalid context length '%s'", arg);
                }
                memcpy(digits, p, nd);
                digits[nd] = '\0';
                rc = parse_context(o, digits, &o->context);
                if (rc) {
                    return rc;
                }
                p = q;
                continue;
            }
            const opt_def *d = find_short(*p, command);
            char spelled[3] = {'-', *p, '\0'};
            if (!d) {
                return usage_error(o->name, "unknown option '%s'", spelled);
            }
            const char *value = NULL;
            if (d->takes_value == VAL_REQUIRED) {
                if (p[1]) {
                    value = p + 1;
                } else if (i + 1 < argc) {
                    value = argv[++i];
                } else {
                    return usage_error(o->name, "option '%s' needs a value", spelled);
                }
            }
            rc = apply(o, d, value, spelled);
            if (rc) {
                return rc;
            }
            if (value) {
                break;
            }
        }
    }

    if ((command & CMD_SEARCH) && !o->pattern_given) {
        if (noperands == 0) {
            return usage_error(o->name, "%s", "missing PATTERN");
        }
        if (add_pattern(o, operands[0], strlen(operands[0])) < 0) {
            cli_error(o->name, mmk_strerror(-ENOMEM));
            return EXIT_TROUBLE;
        }
        operands++;
        noperands--;
    }
    if (command & CMD_SEARCH) {
        /* -f with an empty file gives no pattern at all: nothing matches. */
        o->pattern = o->npatterns ? o->patterns[0] : "";
    }
    if (o->before < 0) {
        o->before = o->context;
    }
    if (o->after < 0) {
        o->after = o->context;
    }
    o->color = color_wanted(o->color);
    if (o->follow && (noperands != 1 || strcmp(operands[0], "-") == 0)) {
        return usage_error(o->name, "%s", "--follow needs exactly one FILE (not standard input)");
    }
    if (o->follow && (o->since || o->until || o->decompress || o->recursive)) {
        return usage_error(o->name, "%s",
                           "--follow cannot be combined with --since, --until, -z or -r");
    }
    if (o->top >= 0 && (command & CMD_COUNT) && !o->by) {
        return usage_error(o->name, "%s", "--top needs --by");
    }
    o->files = operands;
    o->nfiles = noperands;
    return 0;
}

static const char top_help[] =
    "mmk - count and search in large files, fast (memory-mapped, all cores)\n"
    "\n"
    "Usage: mmk COMMAND [OPTIONS] ...\n"
    "\n"
    "Commands:\n"
    "  count PATTERN [FILE...]   number of matches (leftmost, non-overlapping)\n"
    "  grep PATTERN [FILE...]    print the lines that match\n"
    "  lines [FILE...]           count lines (newline bytes), as wc -l\n"
    "  words [FILE...]           word frequencies, most frequent first\n"
    "  merge [FILE...]           add up the --json outputs of count, lines, words\n"
    "                            (of shards, say) as one run over them all\n"
    "\n"
    "Options:\n"
    "  -h, --help                this help ('mmk COMMAND --help' for a command's)\n"
    "  --version                 print the version\n"
    "\n"
    "With no FILE, or when FILE is -, standard input is read.\n"
    "Exit status: 0 matched / success, 1 nothing matched, 2 error.\n";

static const char common_help[] =
    "  -j, --threads N           worker threads (default 0 = all cores)\n"
    "      --mmap                read files through a memory map\n"
    "      --no-mmap             read files with pread() into buffers\n"
    "      --no-cache            drop files from the page cache behind the scan\n"
    "      --no-progress         never show the progress bar\n"
    "  -h, --help                this help\n";

static const char count_help[] =
    "Usage: mmk count [OPTIONS] PATTERN [FILE...]\n"
    "\n"
    "Print how often PATTERN occurs (leftmost, non-overlapping matches: the\n"
    "count of grep -o PATTERN | wc -l and of Python's len(re.findall(...))).\n"
    "One input: the number. Several: FILE:N per file, as grep -c.\n"
    "PATTERN is a Perl/Python-style regular expression (PCRE2) over bytes;\n"
    "^ and $ match at the start and end of the input ((?m)^ for line starts).\n"
    "\n"
    "With --by GROUP: how often each distinct value of a capture group occurs\n"
    "(0 or a name: see below), over all inputs together, matched line by line as\n"
    "grep -oP does. Lines 'COUNT VALUE' with the count right-aligned in 7\n"
    "columns, most frequent first, equal counts in byte order of the value:\n"
    "the output of grep -oP ... | sort | uniq -c | sort -rn, ties ordered.\n"
    "\n"
    "Options:\n"
    "  -F, --fixed-strings       PATTERN is a literal string\n"
    "  -i, --ignore-case         ASCII case-insensitive\n"
    "  -w, --word-regexp         match whole words only\n"
    "  -e, --regexp PATTERN      a pattern (for patterns starting with -); repeat\n"
    "                            for several: matches of any of them count\n"
    "  -f, --file FILE           one pattern per line of FILE\n"
    "  -P, --perl-regexp         accepted: PCRE2 syntax is the only syntax\n"
    "      --by GROUP            counts per value of capture group GROUP (a number,\n"
    "                            0 = the whole match, or a group's name)\n"
    "      --top N               with --by: only the N most frequent values\n"
    "      --json                one JSON document: {\"files\":[...],\"total\":N}; with\n"
    "                            --by {\"group\":G,\"total\":N,\"distinct\":D,\"values\":[...]}\n"
    "  -H, --with-filename       always print FILE:\n"
    "      --no-filename         never print FILE:\n"
    "  -s, --no-messages         no messages about unreadable or compressed files\n"
    "  -z, --decompress          search the contents of gzip, zstd, xz and bzip2\n"
    "                            files (recognised by their first bytes)\n"
    "      --since TIME          only the lines of a time-ordered log at or after TIME\n"
    "      --until TIME          only the lines before TIME (see mmk grep --help)\n"
    "      --time-format FMT     auto (default), iso8601, syslog or clf\n"
    "  -r, --recursive           search directories (\".\" without FILE)\n"
    "  -R, --dereference-recursive  the same, following every symbolic link\n"
    "      --include GLOB        in directories, only files whose name matches GLOB\n"
    "      --exclude GLOB        in directories, skip files whose name matches GLOB\n"
    "      --exclude-dir GLOB    skip directories whose name matches GLOB\n"
    "      --chunk-size BYTES    bytes per work unit (K, M, G suffixes)\n";

static const char grep_help[] =
    "Usage: mmk grep [OPTIONS] PATTERN [FILE...]\n"
    "\n"
    "Print the lines that contain a match of PATTERN, with the output of\n"
    "GNU grep -P -a (every input is text; bytes are printed as they are).\n"
    "PATTERN is a Perl/Python-style regular expression (PCRE2) over bytes,\n"
    "matched against each line on its own (as grep -P): ^ and $ match at the\n"
    "start and end of the line, and no match reaches into the next line.\n"
    "Directories are searched recursively (entries in byte order of their\n"
    "names). Standard input and pipes are read as lines arrive, in bounded memory.\n"
    "\n"
    "Patterns:\n"
    "  -e, --regexp PATTERN      a pattern; repeat for several (a line matches if\n"
    "                            any of them does)\n"
    "  -f, --file FILE           one pattern per line of FILE (an empty FILE: none,\n"
    "                            so no line matches)\n"
    "  -F, --fixed-strings       the patterns are literal strings\n"
    "  -i, --ignore-case         ASCII case-insensitive (also -y)\n"
    "  -w, --word-regexp         match whole words only\n"
    "  -x, --line-regexp         match whole lines only\n"
    "  -E, --extended-regexp     accepted; patterns are PCRE2 syntax either way\n"
    "  -P, --perl-regexp         accepted; patterns are PCRE2 syntax either way\n"
    "                            (-G, basic regular expressions, is refused)\n"
    "Selection and output:\n"
    "  -v, --invert-match        select the lines that do not match\n"
    "  -o, --only-matching       print each non-empty match on a line of its own\n"
    "  -c, --count               print the number of selected lines per file\n"
    "  -l, --files-with-matches  print the names of files with a selected line\n"
    "  -L, --files-without-match print the names of files without one\n"
    "  -q, --quiet, --silent     print nothing; exit 0 at the first selected line\n"
    "                            (even after errors)\n"
    "  -m, --max-count N         stop a file after N selected lines\n"
    "  -s, --no-messages         no messages about unreadable or compressed files\n"
    "  -n, --line-number         prefix lines with their line number\n"
    "  -b, --byte-offset         prefix lines with their byte offset (with -o: the\n"
    "                            match's)\n"
    "  -H, --with-filename       prefix lines with FILE (default for several files\n"
    "                            or a directory)\n"
    "  -h, --no-filename         never prefix lines with FILE\n"
    "      --label NAME          the name shown for standard input\n"
    "  -Z, --null                a NUL byte after file names instead of ':' (or of\n"
    "                            the newline with -l, -L)\n"
    "  -A, --after-context N     print N lines after each selected line\n"
    "  -B, --before-context N    print N lines before each selected line\n"
    "  -C, --context N, -NUM     N lines before and after; groups that are not\n"
    "                            adjacent are separated by --\n"
    "      --color[=WHEN], --colour[=WHEN]\n"
    "                            highlight matches, names and numbers: never,\n"
    "                            always or auto (default; --color alone: auto):\n"
    "                            auto colors only a terminal whose TERM is not\n"
    "                            dumb, and never when NO_COLOR is set. Colors as\n"
    "                            GNU grep's, from GREP_COLORS (ms mc sl cx fn ln\n"
    "                            bn se, rv, ne)\n"
    "      --line-buffered       write each line at once (the default on a terminal)\n"
    "  -a, --text                accepted; every input is searched as text\n"
    "Inputs:\n"
    "  -z, --decompress          search the contents of gzip, zstd, xz and bzip2\n"
    "                            files (recognised by their first bytes; standard\n"
    "                            input too). NOTE: this is ripgrep's -z, not GNU\n"
    "                            grep's NUL-separated data. Without -z a\n"
    "                            compressed file is not searched: a note on\n"
    "                            standard error says so, and the file is neither\n"
    "                            counted (-c) nor listed (-l, -L)\n"
    "      --follow              after the file's content, print matching lines as\n"
    "                            they are appended, across truncation and rotation\n"
    "                            (as tail -F), until interrupted\n"
    "      --since TIME          only the lines of a time-ordered log at or after\n"
    "                            TIME (found by binary search: only the pages\n"
    "                            needed are read). TIME: ISO 8601 (2026-11-30,\n"
    "                            2026-11-30T08:29:57, ...), syslog (Nov 30 08:29:57)\n"
    "                            or common-log (30/Nov/2026:08:29:57 +0000).\n"
    "                            Lines without a timestamp belong to the line\n"
    "                            before. A log out of order gets a warning\n"
    "      --until TIME          only the lines before TIME\n"
    "      --time-format FMT     the logs' timestamps: auto (default), iso8601,\n"
    "                            syslog or clf\n"
    "  -r, --recursive           search directories (\".\" without FILE); symbolic\n"
    "                            links are followed only when given as FILE\n"
    "  -R, --dereference-recursive  the same, following every symbolic link\n"
    "      --include GLOB        in directories, only files whose name matches GLOB\n"
    "      --exclude GLOB        in directories, skip files whose name matches GLOB\n"
    "      --exclude-dir GLOB    skip directories whose name matches GLOB\n"
    "Performance:\n"
    "  -j, --threads N           worker threads (default 0 = all cores)\n"
    "      --mmap                read files through a memory map\n"
    "      --no-mmap             read files with pread() into buffers\n"
    "      --no-cache            drop files from the page cache behind the scan\n"
    "      --chunk-size BYTES    bytes per work unit (K, M, G suffixes)\n"
    "      --no-progress         never show the progress bar\n"
    "      --help                this help (-h means --no-filename here, as in grep)\n"
    "\n"
    "Exit status: 0 a line was selected, 1 none, 2 an error (also when lines\n"
    "were selected), except with -q when a line was selected.\n";

static const char lines_help[] =
    "Usage: mmk lines [OPTIONS] [FILE...]\n"
    "\n"
    "Count newline bytes, as wc -l; several files: one line each, then a total.\n"
    "\n"
    "Options:\n"
    "      --json                one JSON document: {\"files\":[...],\"total\":N}\n";

static const char words_help[] =
    "Usage: mmk words [OPTIONS] [FILE...]\n"
    "\n"
    "Word frequencies: words are runs of bytes that are not ASCII whitespace,\n"
    "lowercased in ASCII (Python's collections.Counter(data.lower().split())).\n"
    "Prints 'word count' lines, most frequent first, ties in byte order.\n"
    "Several files are counted together.\n"
    "\n"
    "Options:\n"
    "      --top N               only the N most frequent words\n"
    "      --json                one JSON document (see docs/cli.md)\n";

static const char merge_help[] =
    "Usage: mmk merge [OPTIONS] [FILE...]\n"
    "\n"
    "Add up JSON documents written by mmk count, lines and words with their\n"
    "JSON option (counts per value too), e.g. one per shard of a corpus counted\n"
    "on several hosts, and print the result the command would print for all\n"
    "the shards at once: its text output, or with --json its JSON document.\n"
    "A FILE may hold several documents (outputs concatenated); no FILE or -\n"
    "reads standard input. The documents must come from one command with one\n"
    "pattern (and group), and their tables must be whole: run the shards\n"
    "without a top limit and give --top here.\n"
    "\n"
    "Options:\n"
    "      --json                print the merged JSON document\n"
    "      --top N               words, counts per value: only the N first rows\n"
    "                            after the merge\n"
    "  -H, --with-filename       count: always print FILE:\n"
    "      --no-filename         count: never print FILE:\n"
    "  -h, --help                this help\n"
    "\n"
    "Exit status: the command's (count: 1 when the total is 0), or 2 when an\n"
    "input is not such a document, cannot be read, or documents do not fit.\n";

void cli_print_help(unsigned command) {
    switch (command) {
    case CMD_COUNT:
        out_str(count_help);
        out_str(common_help);
        break;
    case CMD_GREP:
        out_str(grep_help);
        break;
    case CMD_LINES:
        out_str(lines_help);
        out_str(common_help);
        break;
    case CMD_WORDS:
        out_str(words_help);
        out_str(common_help);
        break;
    case CMD_MERGE:
        out_str(merge_help);
        break;
    default:
        out_str(top_help);
        break;
    }
}
