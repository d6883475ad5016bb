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
    CMD_WORDS = 1u << 3
};

/* Everything the command line asked for. Strings point into argv. */
typedef struct cli_options {
    unsigned command;       /* enum cli_command */
    const char *name;       /* "count", "grep", ... */
    const char *pattern;    /* count, grep */
    unsigned pattern_flags; /* enum mmk_pattern_flags */
    int line_numbers;       /* grep -n */
    int count_only;         /* grep -c */
    int line_buffered;      /* grep --line-buffered: write each line at once */
    int with_filename;      /* -1 automatic (several files), 0 never (-h), 1 always (-H) */
    int json;
    int no_progress;
    long long top; /* words --top; -1 = all */
    mmk_scan_options scan;
    char **files; /* operands after the pattern; none means standard input */
    int nfiles;
} cli_options;

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

#endif /* MMK_CLI_H */
