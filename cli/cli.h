/*
 * cli.h — internals of the `mmk` tool, shared by the files in cli/.
 *
 * mmk uses only the public header mmkit.h, as any outside user of the library
 * would. The pieces here are the tool's own: option parsing, a buffered
 * standard output, JSON string escaping, the progress bar, and the four
 * subcommands.
 */
#ifndef MMK_CLI_H
#define MMK_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "mmkit.h"

/* Exit statuses, as grep: 0 something matched / success, 1 nothing matched, 2 error. */
enum { EXIT_MATCH = 0, EXIT_NOMATCH = 1, EXIT_TROUBLE = 2 };

/* Subcommands, also used as bits in the option table. */
enum cli_command {
    CMD_COUNT = 1u << 0,
    CMD_GREP = 1u << 1,
    CMD_LINES = 1u << 2,
    CMD_WORDS = 1u << 3,
    CMD_MERGE = 1u << 4
};

/* --color: never, always, or auto (decided at start: a terminal, TERM not dumb,
   NO_COLOR unset). */
enum cli_color { COLOR_NEVER = 0, COLOR_ALWAYS = 1, COLOR_AUTO = 2 };

/* Everything the command line asked for. Strings point into argv, except the
   patterns read with -f (owned; cli_options_free releases them). */
typedef struct cli_options {
    unsigned command;      /* enum cli_command */
    const char *name;      /* "count", "grep", ... */
    const char *pattern;   /* count, grep: the first pattern (for messages) */
    const char **patterns; /* grep: every -e / -f pattern (or the operand), npatterns */
    size_t *pattern_lens;
    size_t npatterns;
    int pattern_given;   /* -e or -f was given (then the first operand is a file) */
    char **pattern_bufs; /* the contents of each -f FILE (owned) */
    size_t npattern_bufs;
    unsigned pattern_flags;           /* enum mmk_pattern_flags */
    int line_numbers;                 /* grep -n */
    int byte_offset;                  /* grep -b */
    int count_only;                   /* grep -c */
    int invert;                       /* grep -v */
    int only_matching;                /* grep -o */
    int files_with_matches;           /* grep -l */
    int files_without_match;          /* grep -L */
    int quiet;                        /* grep -q */
    int no_messages;                  /* -s */
    int null_after_name;              /* grep -Z */
    long long max_count;              /* grep -m; -1 = none */
    long long before, after, context; /* -B, -A, -C / -NUM; -1 = not given */
    int color;                        /* enum cli_color, resolved to NEVER/ALWAYS by cli_parse */
    const char *label;                /* --label: the name of standard input */
    int line_buffered;                /* grep --line-buffered: write each line at once */
    int with_filename; /* -1 automatic (several files), 0 never (-h), 1 always (-H) */
    int json;
    int no_progress;
    int decompress;            /* -z */
    int follow;                /* grep --follow */
    const char *since, *until; /* --since / --until (NULL: open) */
    int time_format;           /* enum mmk_time_format */
    int recursive;             /* 0, 1 (-r), 2 (-R: follow symlinks) */
    const char **include, **exclude, **exclude_dir;
    int ninclude, nexclude, nexclude_dir;
    int *include_pos, *exclude_pos; /* order of --include / --exclude on the command line */
    const char *by;                 /* count --by GROUP */
    long long top;                  /* words, count --by: --top; -1 = all */
    mmk_scan_options scan;
    char **files; /* operands after the pattern; none means standard input */
    int nfiles;
} cli_options;

/* Release what cli_parse allocated (patterns read with -f, glob lists). */
void cli_options_free(cli_options *o);

/* Parse argv for one subcommand (argv[0] is the subcommand's name). Returns
   0 to run, 1 when help was printed (exit 0), or EXIT_TROUBLE after printing a
   usage error. */
int cli_parse(int argc, char **argv, unsigned command, cli_options *o);

/* Usage texts. */
void cli_print_help(unsigned command); /* 0 = top level */

/* ---- standard output: one large buffer, written with write(2) ---------- */

/* Queue n bytes for standard output. A broken pipe ends the process quietly
   with the status given to out_set_pipe_status (grep x big | head). */
void out_write(const void *p, size_t n);
void out_str(const char *s);
void out_char(char c);
void out_u64(uint64_t v);
void out_u64_padded(uint64_t v, int width);
/* Write everything queued. A write error other than a broken pipe (a full
   disk) is reported as `mmk: write error: reason` and ends the process with
   status 2. */
void out_flush(void);
/* The exit status to use if the reader of standard output goes away. */
void out_set_pipe_status(int status);
/* Write `s` (n bytes) as a JSON string literal: valid UTF-8 is kept, control
   characters, '"' and '\\' are escaped, and each byte that is not part of
   valid UTF-8 becomes U+FFFD. Returns 1 if a byte was replaced, else 0. */
int out_json_string(const char *s, size_t n);
/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), or 0 when the
   bytes there are not one: the test out_json_string applies. */
size_t out_utf8_sequence(const unsigned char *s, size_t n);
/* Write `"key":"value"` for a byte string; when the value is not valid UTF-8,
   also `,"key_base64":"..."` holding the exact bytes. */
void out_json_bytes_field(const char *key, const char *s, size_t n);

/* Report an error as `mmk: what: reason` on standard error (after flushing
   standard output so the two streams stay in order on a terminal). */
void cli_error(const char *what, const char *reason);
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- progress bar on standard error ------------------------------------- */

/* Decide once whether a bar may ever be shown (stderr is a terminal and
   --no-progress was not given). */
void progress_init(int allowed);
/* A new input starts: `label` names it, `size` is its size if known (0 if not). */
void progress_begin(const char *label, uint64_t size);
/* The mmk_scan_options callback. */
void progress_update(uint64_t done, uint64_t total, void *user);
/* The input is done: erase the bar if it is shown. */
void progress_end(void);
/* Erase the bar if shown (before other text goes to the same terminal). */
void progress_hide(void);

/* ---- subcommands --------------------------------------------------------- */

int cmd_count(const cli_options *o);
int cmd_grep(const cli_options *o);
int cmd_lines(const cli_options *o);
int cmd_words(const cli_options *o);
int cmd_merge(const cli_options *o); /* merge.c */

/* ---- the grep printer (printer.c) ----------------------------------------- */

/* GREP_COLORS as GNU grep reads them (SGR parameter strings; "" = none). */
typedef struct grep_colors {
    char ms[32], mc[32], sl[32], cx[32], fn[32], ln[32], bn[32], se[32];
    int rv, ne;
} grep_colors;

/* Fill *c with GNU grep's defaults, then apply GREP_COLORS from the
   environment (a malformed entry stops the parse there, as in grep). */
void grep_colors_init(grep_colors *c);

/* What the printer shows: fixed for a whole run. */
typedef struct printer_config {
    int invert, only_matching, line_numbers, byte_offset, null_after_name;
    int context;    /* -A/-B/-C given (even 0): groups are separated by "--" */
    int color;      /* 1: colored with `colors` */
    int flush_each; /* --line-buffered or a terminal */
    grep_colors colors;
} printer_config;

/* One file's printer: an mmk_sink's user. `name` is NULL when lines carry no
   file name. line_base / offset_base shift the search's line numbers and
   offsets to the file's (--since ranges, --follow blocks). */
typedef struct printer {
    const printer_config *cfg;
    const char *name;
    uint64_t line_base, offset_base;
    uint64_t last_line; /* line number of the last line handed (0: none in this file) */
} printer;

/* The sink that prints a search's lines as grep does. */
mmk_sink printer_sink(printer *pr);
/* grep -c / -l / -L lines. */
void printer_count(const printer_config *cfg, const char *name, uint64_t count);
void printer_file_name(const printer_config *cfg, const char *name);
/* Forget that earlier files printed something (for tests of one run). */
extern volatile int printer_used;
/* An input failed (the status is 2 whatever else happens). */
extern volatile int printer_error;

#endif /* MMK_CLI_H */
