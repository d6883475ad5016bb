/*
 * main.c — the `mmk` command: picks the subcommand, runs it, and makes sure
 * standard output is written out before the process ends.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sys.h"

static const struct {
    const char *name;
    unsigned command;
    int (*run)(const cli_options *o);
} commands[] = {
    // clang-format off
    {"count", CMD_COUNT, cmd_count},
    {"grep", CMD_GREP, cmd_grep},
    {"lines", CMD_LINES, cmd_lines},
    {"words", CMD_WORDS, cmd_words},
    {"merge", CMD_MERGE, cmd_merge},
    // clang-format on
};

/* Write out what is queued for standard output (a write error ends the
   process in out_flush) and return the command's status. */
static int finish(int status) {
    out_flush();
    return status;
}

static int top_level_usage_error(const char *fmt, const char *arg) {
    char what[512];
    snprintf(what, sizeof what, fmt, arg);
    cli_errorf("%s\nTry 'mmk --help' for more information.", what);
    return EXIT_TROUBLE;
}

int main(int argc, char **argv) {
    /* A reader that goes away shows up as -EPIPE from sys_write, which ends
       mmk quietly (see output.c) instead of killing it with a signal
       mid-line; on Windows argv becomes UTF-8 and stdout binary. */
    sys_init(&argc, &argv);

    if (argc < 2) {
        return finish(top_level_usage_error("%s", "missing command (count, grep, lines, words)"));
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        cli_print_help(0);
        return finish(0);
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        out_str("mmk ");
        out_str(mmk_version());
        /* What -z can read: the decoders are optional at build time, so
           scripts (and tests) ask here before relying on one. */
        out_str("\ndecompress:");
        int any = 0;
        for (int f = MMK_COMP_GZIP; f <= MMK_COMP_BZIP2; f++) {
            if (mmk_compression_supported(f)) {
                out_char(' ');
                out_str(mmk_compression_name(f));
                any = 1;
            }
        }
        out_str(any ? "\n" : " none\n");
        return finish(0);
    }
    if (strcmp(cmd, "help") == 0) {
        unsigned which = 0;
        for (size_t i = 0; argc > 2 && i < sizeof commands / sizeof commands[0]; i++) {
            if (strcmp(argv[2], commands[i].name) == 0) {
                which = commands[i].command;
            }
        }
        if (argc > 2 && which == 0) {
            return finish(top_level_usage_error("unknown command '%s'", argv[2]));
        }
        cli_print_help(which);
        return finish(0);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].name) != 0) {
            continue;
        }
        cli_options o;
        int rc = cli_parse(argc - 1, argv + 1, commands[i].command, &o);
        if (rc == 1) {
            cli_options_free(&o);
            return finish(0); /* help was printed */
        }
        if (rc != 0) {
            cli_options_free(&o);
            return finish(rc);
        }
        progress_init(!o.no_progress);
        if (commands[i].command & (CMD_LINES | CMD_WORDS)) {
            out_set_pipe_status(EXIT_MATCH);
        }
        int status = commands[i].run(&o);
        cli_options_free(&o);
        return finish(status);
    }
    if (cmd[0] == '-') {
        return finish(top_level_usage_error("unknown option '%s'", cmd));
    }
    return finish(top_level_usage_error("unknown command '%s'", cmd));
}
