/*
 * progress.c — mmk's progress bar on standard error.
 *
 * The bar appears only when standard error is a terminal (never in pipes,
 * files or logs) whose TERM is not "dumb", and --no-progress was not given, and only for long work:
 * an input of at least 256 MiB (MMK_PROGRESS_THRESHOLD=BYTES in the environment changes that size;
 * tests set 0) or a scan that has run for half a second. It is drawn on one line with '\r' and
 * erased with "\r ESC[K" when the input is done, before any other text reaches the terminal, and on
 * SIGINT/SIGTERM, so the rest of the output stays clean.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sys.h"

#define PROGRESS_DEFAULT_THRESHOLD (256ull << 20)
#define PROGRESS_DELAY_SECONDS 0.5
#define PROGRESS_REDRAW_SECONDS 0.1

static int allowed;
static uint64_t threshold = PROGRESS_DEFAULT_THRESHOLD;
static volatile sig_atomic_t visible; /* read by the signal handler */
static int shown;                     /* the bar was drawn for this input */
static double started, last_draw;
static const char *label = "";
static uint64_t size_hint;
static int columns = 80;

static double now_seconds(void) {
    return sys_now();
}

static const char erase_line[] = "\r\033[K";

static void write_stderr(const char *s, size_t n) {
    if (sys_write(SYS_STDERR, s, n) < 0) {
        /* A terminal that went away: nothing to draw on. */
    }
}

/* Erase the bar before the process dies of an interruption (sys.h). Only
   async-signal-safe calls here. */
static void on_interrupt(void) {
    if (visible) {
        write_stderr(erase_line, sizeof erase_line - 1);
    }
}

void progress_init(int may_show) {
    /* A dumb terminal (TERM=dumb: Emacs shells, some CI logs) cannot erase
       a line, so the bar would leave its frames behind. */
    const char *term = getenv("TERM");
    allowed = may_show && sys_isatty(SYS_STDERR) && !(term && strcmp(term, "dumb") == 0);
    const char *env = getenv("MMK_PROGRESS_THRESHOLD");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == '\0') {
            threshold = v;
        }
    }
    if (allowed) {
        sys_on_interrupt_then_die(on_interrupt);
    }
}

/* Human-readable decimal size: "812 B", "4.4 MB", "1.10 GB". */
static void format_size(char *buf, size_t cap, double bytes) {
    static const char *units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    int u = 0;
    while (bytes >= 1000.0 && u < 5) {
        bytes /= 1000.0;
        u++;
    }
    if (u == 0) {
        snprintf(buf, cap, "%.0f %s", bytes, units[u]);
    } else {
        snprintf(buf, cap, "%.*f %s", bytes < 10.0 ? 2 : 1, bytes, units[u]);
    }
}

static void draw(uint64_t done, uint64_t total) {
    char line[512], dsize[32], tsize[32], rate[32];
    double elapsed = now_seconds() - started;
    format_size(dsize, sizeof dsize, (double)done);
    format_size(rate, sizeof rate, elapsed > 0.0 ? (double)done / elapsed : 0.0);
    int width = columns < (int)sizeof line - 8 ? columns - 1 : (int)sizeof line - 9;
    int n;
    if (total > 0) {
        if (done > total) {
            done = total;
        }
        format_size(tsize, sizeof tsize, (double)total);
        int cells = 24;
        int filled = (int)((double)cells * (double)done / (double)total);
        char bar[32];
        for (int i = 0; i < cells; i++) {
            bar[i] = i < filled ? '#' : '-';
        }
        bar[cells] = '\0';
        n = snprintf(line, sizeof line, "\r[%s] %3d%% %s / %s  %s/s  ", bar,
                     (int)(100.0 * (double)done / (double)total), dsize, tsize, rate);
    } else {
        n = snprintf(line, sizeof line, "\r%s read  %s/s  ", dsize, rate);
    }
    if (n < 0) {
        return;
    }
    if (n > width) {
        n = width;
    }
    /* The input's name, made printable, in what is left of the line; when it
       does not fit, its end (the file's own name) is kept. */
    const char *name = label;
    size_t room = width > n ? (size_t)(width - n) : 0, len = strlen(name);
    if (len > room && room > 3) {
        memcpy(line + n, "...", 3);
        n += 3;
        name += len - (room - 3);
    } else if (len > room) {
        name += len;
    }
    for (const char *p = name; *p && n < width; p++) {
        unsigned char c = (unsigned char)*p;
        line[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    memcpy(line + n, "\033[K", 3);
    n += 3;
    write_stderr(line, (size_t)n);
    visible = 1;
    shown = 1;
    last_draw = now_seconds();
}

void progress_begin(const char *name, uint64_t size) {
    if (!allowed) {
        return;
    }
    label = name;
    size_hint = size;
    shown = 0;
    started = now_seconds();
    int cols = sys_term_columns(SYS_STDERR);
    if (cols >= 20) {
        columns = cols;
    }
    if (size > 0 && size >= threshold) {
        draw(0, size);
    }
}

void progress_update(uint64_t done, uint64_t total, void *user) {
    (void)user;
    if (!allowed) {
        return;
    }
    if (total == 0) {
        total = size_hint;
    }
    double t = now_seconds();
    if (!shown) {
        int big = total > 0 && total >= threshold;
        if (!big && t - started < PROGRESS_DELAY_SECONDS) {
            return;
        }
    } else if (t - last_draw < PROGRESS_REDRAW_SECONDS && !(total > 0 && done >= total)) {
        return;
    }
    draw(done, total);
}

void progress_hide(void) {
    if (visible) {
        visible = 0;
        write_stderr(erase_line, sizeof erase_line - 1);
    }
}

void progress_end(void) {
    progress_hide();
    shown = 0;
}
