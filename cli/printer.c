/*
 * printer.c — mmk grep's printer: a sink (mmk_sink) that formats the lines a
 * search hands it byte for byte as GNU grep 3.8 (`grep -P -a`) prints them:
 * FILE and separator prefixes (':' for selected lines, '-' for context, NUL
 * after the name with -Z), -n line numbers, -b byte offsets (of the line; of
 * the match with -o), -o, the "--" between groups of context, and GNU grep's
 * colors (GREP_COLORS, with its "\33[K" erase sequences).
 *
 * The group separator follows grep's rule (grep.c, prtext): when any of
 * -A/-B/-C was given (even 0), a group of lines that does not continue the
 * last line printed from the same file is preceded by "--", once anything was
 * selected before it, in this file or an earlier one.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Something was selected earlier in this run (grep's static `used`). Files
   searched concurrently could set it out of order, so the CLI searches files
   one after the other when context is asked for. */
volatile int printer_used;
volatile int printer_error;

/* GREP_COLORS: `key=value` pairs separated by ':'; a boolean key (rv, ne) has
   no value. Keys the printer does not know are skipped, as grep skips them;
   a malformed entry ends the parse (what was read before it stays). */
void grep_colors_init(grep_colors *c) {
    memset(c, 0, sizeof *c);
    strcpy(c->ms, "01;31");
    strcpy(c->mc, "01;31");
    strcpy(c->fn, "35");
    strcpy(c->ln, "32");
    strcpy(c->bn, "32");
    strcpy(c->se, "36");
    const char *env = getenv("GREP_COLORS");
    if (!env || !*env) {
        return;
    }
    const char *p = env;
    while (*p) {
        const char *key = p;
        while (*p && *p != '=' && *p != ':') {
            p++;
        }
        size_t klen = (size_t)(p - key);
        const char *val = NULL;
        size_t vlen = 0;
        if (*p == '=') {
            val = ++p;
            while (*p && *p != ':') {
                if (!((*p >= '0' && *p <= '9') || *p == ';')) {
                    return; /* grep stops at a value that is not SGR digits */
                }
                p++;
            }
            vlen = (size_t)(p - val);
        }
        if (*p == ':') {
            p++;
        }
        if (klen == 2 && memcmp(key, "rv", 2) == 0 && !val) {
            c->rv = 1;
            continue;
        }
        if (klen == 2 && memcmp(key, "ne", 2) == 0 && !val) {
            c->ne = 1;
            continue;
        }
        struct {
            const char *key;
            char *dst;
        } keys[] = {{"mt", c->ms}, {"ms", c->ms}, {"mc", c->mc}, {"sl", c->sl}, {"cx", c->cx},
                    {"fn", c->fn}, {"ln", c->ln}, {"bn", c->bn}, {"se", c->se}};
        char *dst = NULL;
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            if (klen == 2 && memcmp(key, keys[k].key, 2) == 0) {
                dst = keys[k].dst;
                if (k == 0) { /* mt sets both match colors */
                    if (!val || vlen >= sizeof c->mc) {
                        return;
                    }
                    memcpy(c->mc, val, vlen);
                    c->mc[vlen] = '\0';
                }
            }
        }
        if (dst) {
            if (!val || vlen >= sizeof c->ms) {
                return;
            }
            memcpy(dst, val, vlen);
            dst[vlen] = '\0';
        }
    }
}

/* grep's pr_sgr_start / pr_sgr_end: nothing for an empty color. */
static void sgr_start(const printer_config *cfg, const char *color) {
    if (!cfg->color || !*color) {
        return;
    }
    out_str("\33[");
    out_str(color);
    out_str(cfg->colors.ne ? "m" : "m\33[K");
}

static void sgr_end(const printer_config *cfg, const char *color) {
    if (!cfg->color || !*color) {
        return;
    }
    out_str(cfg->colors.ne ? "\33[m" : "\33[m\33[K");
}

static void print_sep(const printer_config *cfg, char sep) {
    sgr_start(cfg, cfg->colors.se);
    out_char(sep);
    sgr_end(cfg, cfg->colors.se);
}

static void print_name(const printer_config *cfg, const char *name) {
    sgr_start(cfg, cfg->colors.fn);
    out_str(name);
    sgr_end(cfg, cfg->colors.fn);
}

static void print_number(const printer_config *cfg, const char *color, uint64_t v, char sep) {
    sgr_start(cfg, color);
    out_u64(v);
    sgr_end(cfg, color);
    print_sep(cfg, sep);
}

/* grep's print_line_head: FILE, line number, byte offset, each followed by
   the separator (after the name a NUL instead with -Z). */
static void print_head(const printer *pr, uint64_t line_no, uint64_t offset, char sep) {
    const printer_config *cfg = pr->cfg;
    if (pr->name) {
        print_name(cfg, pr->name);
        if (cfg->null_after_name) {
            out_char('\0');
        } else {
            print_sep(cfg, sep);
        }
    }
    if (cfg->line_numbers) {
        print_number(cfg, cfg->colors.ln, line_no, sep);
    }
    if (cfg->byte_offset) {
        print_number(cfg, cfg->colors.bn, offset, sep);
    }
}

/* The line's bytes with its matches colored (grep's print_line_middle and
   print_line_tail): text before a match in the line color, the match in the
   match color, the rest of the line (without a final '\r') in the line color. */
static void print_colored(const printer_config *cfg, const mmk_line *l, const char *line_color,
                          const char *match_color, int matching) {
    size_t cur = 0;
    if (matching && *match_color && l->spans) {
        for (size_t i = 0; i < l->nspans; i++) {
            const mmk_span *s = &l->spans[i];
            if (s->end <= s->start || s->start < cur || s->end > l->len) {
                continue; /* grep skips empty matches */
            }
            sgr_start(cfg, line_color);
            out_write(l->bytes + cur, s->start - cur);
            sgr_start(cfg, match_color);
            out_write(l->bytes + s->start, s->end - s->start);
            sgr_end(cfg, match_color);
            cur = s->end;
        }
    }
    if (*line_color) {
        size_t tail = l->len - cur;
        if (tail > 0 && l->bytes[l->len - 1] == '\r') {
            tail--;
        }
        if (tail > 0) {
            sgr_start(cfg, line_color);
            out_write(l->bytes + cur, tail);
            sgr_end(cfg, line_color);
            cur += tail;
        }
    }
    out_write(l->bytes + cur, l->len - cur);
}

static int printer_line(const mmk_line *l, void *user) {
    printer *pr = user;
    const printer_config *cfg = pr->cfg;
    uint64_t line_no = l->line_no + pr->line_base;
    uint64_t offset = l->offset + pr->offset_base;
    int selected = l->kind == MMK_LINE_SELECTED;
    /* A line that holds matches: a selected one, or a context one under -v. */
    int matching = selected ^ cfg->invert;

    if (cfg->context && printer_used && (pr->last_line == 0 || line_no != pr->last_line + 1)) {
        /* A group starts (trailing context always continues one). */
        sgr_start(cfg, cfg->colors.se);
        out_str("--");
        sgr_end(cfg, cfg->colors.se);
        out_char('\n');
    }
    pr->last_line = line_no;
    if (selected) {
        printer_used = 1;
        /* A reader that goes away now (grep x | head) leaves grep's status. */
        out_set_pipe_status(printer_error ? EXIT_TROUBLE : EXIT_MATCH);
    }

    const char *match_color = selected ? cfg->colors.ms : cfg->colors.mc;
    const char *line_color =
        (selected ^ (cfg->invert && cfg->colors.rv)) ? cfg->colors.sl : cfg->colors.cx;
    if (cfg->only_matching) {
        if (!matching || !l->spans) {
            return 0;
        }
        char sep = cfg->invert ? '-' : ':';
        for (size_t i = 0; i < l->nspans; i++) {
            const mmk_span *s = &l->spans[i];
            if (s->end <= s->start || s->end > l->len) {
                continue; /* grep -o prints no empty match */
            }
            print_head(pr, line_no, offset + s->start, sep);
            sgr_start(cfg, match_color);
            out_write(l->bytes + s->start, s->end - s->start);
            sgr_end(cfg, match_color);
            out_char('\n');
        }
    } else {
        print_head(pr, line_no, offset, selected ? ':' : '-');
        if (cfg->color && (*line_color || *match_color)) {
            print_colored(cfg, l, line_color, match_color, matching);
        } else {
            out_write(l->bytes, l->len);
        }
        out_char('\n');
    }
    if (cfg->flush_each) {
        out_flush();
    }
    return 0;
}

mmk_sink printer_sink(printer *pr) {
    mmk_sink s = {printer_line, NULL, pr};
    return s;
}

void printer_count(const printer_config *cfg, const char *name, uint64_t count) {
    if (name) {
        print_name(cfg, name);
        if (cfg->null_after_name) {
            out_char('\0');
        } else {
            print_sep(cfg, ':');
        }
    }
    out_u64(count);
    out_char('\n');
}

void printer_file_name(const printer_config *cfg, const char *name) {
    print_name(cfg, name);
    out_char(cfg->null_after_name ? '\0' : '\n');
}
