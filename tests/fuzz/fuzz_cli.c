/*
 * fuzz_cli.c — libFuzzer target: mmk's argument parser (cli/options.c, with
 * cli/output.c and cli/progress.c linked as they are in mmk).
 *
 * cli_parse neither exits nor forks: a usage error is a message on standard
 * error and EXIT_TROUBLE, help text is queued on mmk's standard-output buffer
 * (flushed to /dev/null here). So it is called directly, in process.
 *
 * The oracle: every accepted command line is written back in one canonical
 * spelling (-F -i -w ... --threads=N ... -e PATTERN -- FILES) and parsed again;
 * both parses must give the same options. Plus what the parser promises: the
 * result is 0, 1 (help) or EXIT_TROUBLE; a search command always has a
 * pattern; operands are strings from argv.
 *
 * Input: the subcommand (first byte), then the arguments separated by NUL.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX_ARGS 64

static const struct {
    const char *name;
    unsigned command;
} commands[] = {
    {"count", CMD_COUNT},
    {"grep", CMD_GREP},
    {"lines", CMD_LINES},
    {"words", CMD_WORDS},
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    /* Help text is written to standard output when mmk's buffer fills. */
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        close(fd);
    }
    return 0;
}

static void die(const char *what, int argc, char **argv) {
    fprintf(stderr, "fuzz_cli: %s\n  command line:", what);
    for (int i = 0; i < argc; i++)
        fprintf(stderr, " '%s'", argv[i]);
    fprintf(stderr, "\n");
    abort();
}

static int same_str(const char *a, const char *b) {
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Write the options back as a command line; returns argc. The strings are
   the originals or live in `num` (room for three numbers). */
static int canonical(const cli_options *o, char **out, char num[3][48]) {
    int n = 0;
    out[n++] = (char *)o->name;
    if (o->pattern_flags & MMK_PAT_FIXED)
        out[n++] = "-F";
    if (o->pattern_flags & MMK_PAT_ICASE)
        out[n++] = "-i";
    if (o->pattern_flags & MMK_PAT_WORD)
        out[n++] = "-w";
    if (o->pattern_flags & MMK_PAT_LINE_EXACT)
        out[n++] = "-x";
    if (o->invert)
        out[n++] = "-v";
    if (o->only_matching)
        out[n++] = "-o";
    if (o->files_with_matches)
        out[n++] = "-l";
    if (o->files_without_match)
        out[n++] = "-L";
    if (o->quiet)
        out[n++] = "-q";
    if (o->no_messages)
        out[n++] = "-s";
    if (o->byte_offset)
        out[n++] = "-b";
    if (o->decompress)
        out[n++] = "-z";
    if (o->line_numbers)
        out[n++] = "-n";
    if (o->count_only)
        out[n++] = "-c";
    if (o->with_filename == 1)
        out[n++] = "-H";
    else if (o->with_filename == 0)
        out[n++] = "--no-filename";
    if (o->json)
        out[n++] = "--json";
    if (o->no_progress)
        out[n++] = "--no-progress";
    if (o->scan.io == MMK_IO_MMAP)
        out[n++] = "--mmap";
    else if (o->scan.io == MMK_IO_READ)
        out[n++] = "--no-mmap";
    if (o->scan.threads) {
        snprintf(num[0], sizeof num[0], "--threads=%u", o->scan.threads);
        out[n++] = num[0];
    }
    if (o->scan.chunk_size) {
        snprintf(num[1], sizeof num[1], "--chunk-size=%llu",
                 (unsigned long long)o->scan.chunk_size);
        out[n++] = num[1];
    }
    if (o->by) {
        out[n++] = "--by";
        out[n++] = (char *)o->by;
    }
    if (o->top >= 0) {
        snprintf(num[2], sizeof num[2], "--top=%lld", o->top);
        out[n++] = num[2];
    }
    if (o->pattern) {
        out[n++] = "-e";
        out[n++] = (char *)o->pattern;
    }
    out[n++] = "--";
    for (int i = 0; i < o->nfiles; i++)
        out[n++] = o->files[i];
    out[n] = NULL;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned which = data[0] % 4;
    char *buf = malloc(size + 1);
    if (!buf)
        abort();
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    char *argv[MAX_ARGS + 1];
    char *orig[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = (char *)commands[which].name;
    if (size > 1) {
        for (char *p = buf; argc < MAX_ARGS && p <= buf + size - 1;) {
            argv[argc++] = p;
            p += strlen(p) + 1;
        }
    }
    argv[argc] = NULL;
    memcpy(orig, argv, sizeof argv);

    cli_options o;
    int rc = cli_parse(argc, argv, commands[which].command, &o);
    if (rc != 0 && rc != 1 && rc != EXIT_TROUBLE)
        die("cli_parse returned something other than 0, 1 or 2", argc, orig);
    if (rc == 0) {
        unsigned cmd = commands[which].command;
        if (o.command != cmd || !same_str(o.name, commands[which].name))
            die("wrong command", argc, orig);
        if ((cmd & (CMD_COUNT | CMD_GREP)) ? !o.pattern : o.pattern != NULL)
            die("a search without a pattern, or a pattern for lines/words", argc, orig);
        if (o.nfiles < 0 || o.nfiles > argc - 1 || o.scan.threads > 4096)
            die("operand count or thread count out of range", argc, orig);
        if (o.scan.progress != progress_update)
            die("progress callback not set", argc, orig);
        if (o.pattern_flags &
            ~(unsigned)(MMK_PAT_FIXED | MMK_PAT_ICASE | MMK_PAT_WORD | MMK_PAT_LINE_EXACT))
            die("unknown pattern flags", argc, orig);
        for (int i = 0; i < o.nfiles; i++) {
            int found = 0;
            for (int k = 1; k < argc && !found; k++)
                found = o.files[i] == orig[k];
            if (!found)
                die("an operand that is not one of the arguments", argc, orig);
        }

        char *again[2 * MAX_ARGS + 32];
        char num[3][48];
        int n = canonical(&o, again, num);
        char *shown[2 * MAX_ARGS + 32];
        memcpy(shown, again, (size_t)(n + 1) * sizeof *again);
        cli_options o2;
        int rc2 = cli_parse(n, again, cmd, &o2);
        if (rc2 != 0)
            die("the canonical spelling of an accepted command line is refused", n, shown);
        if (o2.command != o.command || !same_str(o2.name, o.name) ||
            !same_str(o2.pattern, o.pattern) || o2.pattern_flags != o.pattern_flags ||
            o2.line_numbers != o.line_numbers || o2.count_only != o.count_only ||
            o2.with_filename != o.with_filename || o2.json != o.json ||
            o2.no_progress != o.no_progress || o2.top != o.top ||
            o2.scan.threads != o.scan.threads || o2.scan.chunk_size != o.scan.chunk_size ||
            o2.scan.io != o.scan.io || o2.nfiles != o.nfiles || o2.invert != o.invert ||
            o2.only_matching != o.only_matching || o2.files_with_matches != o.files_with_matches ||
            o2.files_without_match != o.files_without_match || o2.quiet != o.quiet ||
            o2.no_messages != o.no_messages || o2.byte_offset != o.byte_offset ||
            o2.decompress != o.decompress || !same_str(o2.by, o.by))
            die("the canonical spelling parses to different options", n, shown);
        for (int i = 0; i < o.nfiles; i++)
            if (!same_str(o2.files[i], o.files[i]))
                die("the canonical spelling has different operands", n, shown);
        cli_options_free(&o2);
    }
    /* cli_parse owns what -e, -f and the glob options collected, whatever it
       returned (as mmk's main frees it). */
    cli_options_free(&o);
    free(buf);
    return 0;
}
