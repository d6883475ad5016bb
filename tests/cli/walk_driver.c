/*
 * walk_driver.c — a small grep over cli/walk.c, for tests/cli/test_tree.py.
 *
 * It runs walk_run with a search function of its own (a fixed string, line by
 * line, read() into memory), so the walk, the ordered output of concurrent
 * searches and the output capture are tested apart from `mmk grep`. Options:
 *   -r -R -s -q --include=G --exclude=G --exclude-dir=G -jN   as walk_options
 *   --repeat=N   print each selected line N times (huge outputs: streaming)
 *   --shuffle    sleep a pseudo-random time per file (finishing order mixed)
 *   --stderr     write a message to standard error before and after each file's lines
 *   --big        print `big:DISPLAY` for each file searched with big = 1
 *   --rss        at the end, print `rss:KIB` (peak resident set, VmHWM) on standard error
 * Output: `DISPLAY:LINE` when walk_names_files says so, else `LINE`.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "cli.h"
#include "walk.h"

typedef struct driver {
    const char *pattern;
    int names, repeat, shuffle, err_lines, show_big, quiet_errors, quiet, rss;
    volatile int stop;
} driver;

static int search(const char *path, const char *display, int big, void *user) {
    driver *d = user;
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (!d->quiet_errors) {
            cli_error(display, mmk_strerror(-errno));
        }
        return EXIT_TROUBLE;
    }
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    int status = EXIT_NOMATCH;
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            if (!d->quiet_errors) {
                cli_error(display, mmk_strerror(-errno));
            }
            status = EXIT_TROUBLE;
            break;
        }
        if (r == 0) {
            break;
        }
        len += (size_t)r;
    }
    if (fd != STDIN_FILENO) {
        close(fd);
    }
    if (d->shuffle) {
        unsigned h = 2166136261u;
        for (const char *p = display; *p; p++) {
            h = (h ^ (unsigned char)*p) * 16777619u;
        }
        /* Up to 0.5 ms: far longer than a small file's search, so the
           finishing order is mixed, and short enough that the tree tests'
           2,000-file runs stay quick (3 ms cost test_tree 18 s). */
        struct timespec ts = {0, (long)(h % 500u) * 1000L};
        nanosleep(&ts, NULL);
    }
    if (d->show_big && big) {
        out_str("big:");
        out_str(display);
        out_char('\n');
    }
    if (d->err_lines) {
        cli_errorf("%s: before", display);
    }
    size_t plen = strlen(d->pattern);
    for (size_t s = 0; s < len && status != EXIT_TROUBLE;) {
        char *nl = memchr(buf + s, '\n', len - s);
        size_t e = nl ? (size_t)(nl - buf) : len;
        if (memmem(buf + s, e - s, d->pattern, plen)) {
            status = EXIT_MATCH;
            if (d->quiet) {
                __atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
                break;
            }
            for (int i = 0; i < d->repeat; i++) {
                if (d->names) {
                    out_str(display);
                    out_char(':');
                }
                out_write(buf + s, e - s);
                out_char('\n');
            }
        }
        s = e + 1;
    }
    if (d->err_lines) {
        cli_errorf("%s: after", display);
    }
    free(buf);
    return status;
}

int main(int argc, char **argv) {
    static const char *inc[64], *exc[64], *exd[64];
    static int inc_pos[64], exc_pos[64];
    walk_options wo;
    memset(&wo, 0, sizeof wo);
    wo.include = inc;
    wo.exclude = exc;
    wo.exclude_dir = exd;
    wo.include_pos = inc_pos;
    wo.exclude_pos = exc_pos;
    signal(SIGPIPE, SIG_IGN); /* as mmk: a reader that goes away is EPIPE (output.c) */
    driver d;
    memset(&d, 0, sizeof d);
    d.repeat = 1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-r") == 0) {
            wo.recursive = 1;
        } else if (strcmp(a, "-R") == 0) {
            wo.recursive = wo.follow_links = 1;
        } else if (strcmp(a, "-s") == 0) {
            wo.quiet_errors = d.quiet_errors = 1;
        } else if (strcmp(a, "-q") == 0) {
            d.quiet = 1;
        } else if (strncmp(a, "-j", 2) == 0) {
            wo.threads = (unsigned)atoi(a + 2);
        } else if (strncmp(a, "--include=", 10) == 0 && wo.ninclude < 64) {
            inc_pos[wo.ninclude] = i;
            inc[wo.ninclude++] = a + 10;
        } else if (strncmp(a, "--exclude=", 10) == 0 && wo.nexclude < 64) {
            exc_pos[wo.nexclude] = i;
            exc[wo.nexclude++] = a + 10;
        } else if (strncmp(a, "--exclude-dir=", 14) == 0 && wo.nexclude_dir < 64) {
            exd[wo.nexclude_dir++] = a + 14;
        } else if (strncmp(a, "--repeat=", 9) == 0) {
            d.repeat = atoi(a + 9);
        } else if (strcmp(a, "--shuffle") == 0) {
            d.shuffle = 1;
        } else if (strcmp(a, "--stderr") == 0) {
            d.err_lines = 1;
        } else if (strcmp(a, "--big") == 0) {
            d.show_big = 1;
        } else if (strcmp(a, "--rss") == 0) {
            d.rss = 1;
        } else if (strcmp(a, "--no-positions") == 0) {
            wo.include_pos = wo.exclude_pos = NULL;
        } else if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else {
            cli_errorf("unknown option '%s'", a);
            return EXIT_TROUBLE;
        }
    }
    if (i >= argc) {
        cli_errorf("usage: walk_driver [options] PATTERN [FILE...]");
        return EXIT_TROUBLE;
    }
    d.pattern = argv[i++];
    char **ops = argv + i;
    int nops = argc - i;
    d.names = walk_names_files(ops, nops, &wo);
    int status = walk_run(ops, nops, &wo, search, &d, &d.stop);
    out_flush();
    if (d.rss) {
        /* VmHWM belongs to this program's address space (getrusage's maxrss
           also counts the parent's before exec). */
        char line[256];
        FILE *f = fopen("/proc/self/status", "r");
        while (f && fgets(line, sizeof line, f)) {
            if (strncmp(line, "VmHWM:", 6) == 0) {
                cli_errorf("rss:%ld", strtol(line + 6, NULL, 10));
            }
        }
        if (f) {
            fclose(f);
        }
    }
    if (d.quiet && d.stop) {
        return EXIT_MATCH;
    }
    return status;
}
