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

enum opt_id {
    OPT_FIXED,
    OPT_ICASE,
    OPT_WORD,
    OPT_REGEXP,
    OPT_LINE_NUMBER,
    OPT_COUNT,
    OPT_WITH_FILENAME,
    OPT_NO_FILENAME,
    OPT_THREADS,
    OPT_MMAP,
    OPT_NO_MMAP,
    OPT_JSON,
    OPT_NO_PROGRESS,
    OPT_CHUNK_SIZE,
    OPT_TOP,
    OPT_LINE_BUFFERED,
    OPT_HELP
};

#define CMD_ALL (CMD_COUNT | CMD_GREP | CMD_LINES | CMD_WORDS)
#define CMD_SEARCH (CMD_COUNT | CMD_GREP)

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
    {'w', "word-regexp", OPT_WORD, 0, CMD_SEARCH},
    {'e', "regexp", OPT_REGEXP, 1, CMD_SEARCH},
    {'n', "line-number", OPT_LINE_NUMBER, 0, CMD_GREP},
    {'c', "count", OPT_COUNT, 0, CMD_GREP},
    {'H', "with-filename", OPT_WITH_FILENAME, 0, CMD_SEARCH},
    {'h', "no-filename", OPT_NO_FILENAME, 0, CMD_GREP},
    {0, "no-filename", OPT_NO_FILENAME, 0, CMD_COUNT},
    {'j', "threads", OPT_THREADS, 1, CMD_ALL},
    {0, "mmap", OPT_MMAP, 0, CMD_ALL},
    {0, "no-mmap", OPT_NO_MMAP, 0, CMD_ALL},
    {0, "json", OPT_JSON, 0, CMD_COUNT | CMD_LINES | CMD_WORDS},
    {0, "no-progress", OPT_NO_PROGRESS, 0, CMD_ALL},
    {0, "chunk-size", OPT_CHUNK_SIZE, 1, CMD_ALL},
    {0, "top", OPT_TOP, 1, CMD_WORDS},
    {0, "line-buffered", OPT_LINE_BUFFERED, 0, CMD_GREP},
    {'h', "help", OPT_HELP, 0, CMD_ALL},
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
    case OPT_REGEXP:
        if (o->pattern) {
            return usage_error(o->name, "%s: only one pattern can be given", spelled);
        }
        o->pattern = value;
        break;
    case OPT_LINE_NUMBER:
        o->line_numbers = 1;
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

int cli_parse(int argc, char **argv, unsigned command, cli_options *o) {
    memset(o, 0, sizeof *o);
    o->command = command;
    o->name = argv[0];
    o->with_filename = -1;
    o->top = -1;
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
            if (d->takes_value) {
                if (eq) {
                    value = eq + 1;
                } else if (i + 1 < argc) {
                    value = argv[++i];
                } else {
                    return usage_error(o->name, "option '%s' needs a value", arg);
                }
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
            const opt_def *d = find_short(*p, command);
            if (!d) {
                char spelled[3] = {'-', *p, '\0'};
                return usage_error(o->name, "unknown option '%s'", spelled);
            }
            char spelled[3] = {'-', *p, '\0'};
            const char *value = NULL;
            if (d->takes_value) {
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

    if ((command & CMD_SEARCH) && !o->pattern) {
        if (noperands == 0) {
            return usage_error(o->name, "%s", "missing PATTERN");
        }
        o->pattern = operands[0];
        operands++;
        noperands--;
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
    "Options:\n"
    "  -F, --fixed-strings       PATTERN is a literal string\n"
    "  -i, --ignore-case         ASCII case-insensitive\n"
    "  -w, --word-regexp         match whole words only\n"
    "  -e, --regexp PATTERN      the pattern (for patterns starting with -)\n"
    "  -H, --with-filename       always print FILE:\n"
    "      --no-filename         never print FILE:\n"
    "      --json                one JSON document: {\"files\":[...],\"total\":N}\n";

static const char grep_help[] =
    "Usage: mmk grep [OPTIONS] PATTERN [FILE...]\n"
    "\n"
    "Print the lines that contain a match of PATTERN (bytes, as they are).\n"
    "PATTERN is a Perl/Python-style regular expression (PCRE2) over bytes,\n"
    "matched against each line on its own (as grep -P): ^ and $ match at the\n"
    "start and end of the line, and no match reaches into the next line.\n"
    "Standard input and pipes are read as lines arrive, in bounded memory.\n"
    "\n"
    "Options:\n"
    "  -F, --fixed-strings       PATTERN is a literal string\n"
    "  -i, --ignore-case         ASCII case-insensitive\n"
    "  -w, --word-regexp         match whole words only\n"
    "  -e, --regexp PATTERN      the pattern (for patterns starting with -)\n"
    "  -n, --line-number         prefix each line with its line number\n"
    "  -c, --count               print the number of matching lines instead\n"
    "      --line-buffered       write each line at once (the default on a terminal)\n"
    "  -H, --with-filename       always prefix lines with FILE:\n"
    "  -h, --no-filename         never prefix lines with FILE:\n"
    "      --help                this help (-h means --no-filename here, as in grep)\n"
    "  -j, --threads N           worker threads (default 0 = all cores)\n"
    "      --mmap                read files through a memory map\n"
    "      --no-mmap             read files with pread() into buffers\n"
    "      --no-progress         never show the progress bar\n";

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
    default:
        out_str(top_help);
        break;
    }
}
