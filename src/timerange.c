/*
 * timerange.c — timestamps of log lines, and the byte range of a time window
 * of a time-ordered log found by binary search over its map.
 *
 * Calendar arithmetic is our own (days from a proleptic Gregorian date, the
 * era-of-400-years method): no locale, no TZ, no timegm. A timestamp without
 * a zone is local time at mmk_time_options.utc_offset seconds east of UTC.
 *
 * The search reads the map in place under one fault guard (internal.h): every
 * probe is a memchr to the next line start and a parse of a few dozen bytes,
 * so a window of a 1 GB log costs about 30 probes and the pages they touch.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "mmkit.h"
#include "os.h"

#define NS_PER_SEC 1000000000LL
#define SECS_PER_DAY 86400LL

/* ---- calendar --------------------------------------------------------------- */

static int is_leap(int64_t y) {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int days_in_month(int64_t y, int mon) {
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mon == 2 && is_leap(y) ? 29 : days[mon - 1];
}

/* Days from 1970-01-01 to y-mon-day. Years are counted from March so that the
   leap day is the last day of a year; 400 years (an era) are 146097 days. */
static int64_t days_from_civil(int64_t y, int mon, int day) {
    y -= mon <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                           /* [0, 399] */
    int64_t doy = (153 * (mon > 2 ? mon - 3 : mon + 9) + 2) / 5 + day - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                   /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* The (Gregorian) year holding day z since 1970-01-01: the inverse of the above. */
static int64_t year_of_day(int64_t z) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153; /* month counted from March */
    return yoe + era * 400 + (mp >= 10);
}

/* A timestamp as written, before it is placed on the time line. */
typedef struct stamp {
    int64_t year; /* 0 when the text has none (syslog) */
    int mon, day, hour, min, sec;
    int64_t frac_ns;
    int has_zone;
    int64_t zone_s; /* seconds east of UTC when has_zone */
} stamp;

typedef struct time_ctx {
    int year;           /* syslog year from the options (0: from the clock) */
    int64_t utc_offset; /* seconds east of UTC of zone-less stamps */
    int64_t now_local;  /* the clock, in the zone-less stamps' local time */
} time_ctx;

/* Local seconds since the epoch of a stamp in year y, or -1 if the date does
   not exist (2026-02-29, Nov 31). */
static int local_seconds(const stamp *st, int64_t y, int64_t *out) {
    if (y < 1 || y > 9999 || st->mon < 1 || st->mon > 12 || st->day < 1 ||
        st->day > days_in_month(y, st->mon) || st->hour > 23 || st->min > 59 || st->sec > 60)
        return -1;
    *out = days_from_civil(y, st->mon, st->day) * SECS_PER_DAY + st->hour * 3600LL +
           st->min * 60LL + st->sec;
    return 0;
}

/*
 * Nanoseconds since 1970-01-01 UTC of a stamp, or -1 when it names no
 * instant int64 nanoseconds can hold (1677..2262). A syslog stamp carries no
 * year: it takes the options' year, else the clock's year unless that puts it
 * more than a day in the future, then the year before (a log read in January
 * that began in December). A day of slack absorbs clock and zone skew.
 */
static int stamp_ns(const stamp *st, const time_ctx *c, int64_t *ns) {
    int64_t secs;
    if (st->year != 0) {
        if (local_seconds(st, st->year, &secs) != 0)
            return -1;
    } else if (c->year != 0) {
        if (local_seconds(st, c->year, &secs) != 0)
            return -1;
    } else {
        int64_t y = year_of_day(c->now_local >= 0 ? c->now_local / SECS_PER_DAY
                                                  : (c->now_local + 1) / SECS_PER_DAY - 1);
        if (local_seconds(st, y, &secs) != 0 || secs > c->now_local + SECS_PER_DAY) {
            if (local_seconds(st, y - 1, &secs) != 0)
                return -1;
        }
    }
    secs -= st->has_zone ? st->zone_s : c->utc_offset;
    int64_t r;
    if (__builtin_mul_overflow(secs, NS_PER_SEC, &r) || __builtin_add_overflow(r, st->frac_ns, &r))
        return -1;
    *ns = r;
    return 0;
}

/* ---- lexing ---------------------------------------------------------------- */

/* A cursor over bytes [p, end). The parsers read no byte at or after end. */
typedef struct cur {
    const unsigned char *p, *end;
} cur;

static int is_digit(int c) {
    return c >= '0' && c <= '9';
}

static int peek(const cur *c) {
    return c->p < c->end ? *c->p : -1;
}

static int eat(cur *c, int ch) {
    if (peek(c) != ch)
        return 0;
    c->p++;
    return 1;
}

/* Exactly n digits. */
static int num(cur *c, int n, int *v) {
    if (c->end - c->p < n)
        return 0;
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(c->p[i]))
            return 0;
        x = x * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *v = x;
    return 1;
}

/* One or two digits. */
static int num12(cur *c, int *v) {
    if (!num(c, 1, v))
        return 0;
    int d;
    if (is_digit(peek(c)) && num(c, 1, &d))
        *v = *v * 10 + d;
    return 1;
}

/* A decimal fraction after '.' or ',' (Python's logging writes a comma):
   digits past the ninth are read and dropped. Nothing when absent. */
static int fraction(cur *c, int64_t *ns) {
    *ns = 0;
    if (c->end - c->p < 2 || (c->p[0] != '.' && c->p[0] != ',') || !is_digit(c->p[1]))
        return 1;
    c->p++;
    int64_t scale = NS_PER_SEC / 10;
    while (is_digit(peek(c))) {
        *ns += (*c->p - '0') * scale;
        scale /= 10;
        c->p++;
    }
    return 1;
}

/* English month abbreviation, any case (no locale): 1..12, or 0. */
static int month_name(cur *c) {
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    if (c->end - c->p < 3)
        return 0;
    char m[3];
    for (int i = 0; i < 3; i++)
        m[i] = (char)(c->p[i] | 0x20);
    for (int i = 0; i < 12; i++)
        if (memcmp(names + 3 * i, m, 3) == 0) {
            c->p += 3;
            return i + 1;
        }
    return 0;
}

/* A zone: Z, or +hh, +hhmm, +hh:mm (or '-'). Without one, the cursor does not move. */
static void zone(cur *c, stamp *st) {
    if (peek(c) == 'Z' || peek(c) == 'z') {
        c->p++;
        st->has_zone = 1;
        st->zone_s = 0;
        return;
    }
    int sign = peek(c) == '+' ? 1 : peek(c) == '-' ? -1 : 0;
    if (sign == 0)
        return;
    cur t = *c;
    t.p++;
    int hh, mm = 0;
    if (!num(&t, 2, &hh) || hh > 23)
        return;
    cur u = t;
    if (eat(&u, ':')) {
        if (!num(&u, 2, &mm))
            return;
        t = u;
    } else if (is_digit(peek(&t))) {
        if (!num(&t, 2, &mm))
            return;
    }
    if (mm > 59)
        return;
    *c = t;
    st->has_zone = 1;
    st->zone_s = sign * (hh * 3600LL + mm * 60LL);
}

/*
 * ISO 8601: YYYY-MM-DD(T| )hh:mm:ss[(.|,)frac][Z|±hh[:mm]]. In a log line
 * (`whole` 0) the seconds are required and what follows may be anything but a
 * digit. For an argument (`whole` 1) a prefix from the date on is enough and
 * the text must end there.
 */
static int parse_iso(cur *c, stamp *st, int whole) {
    memset(st, 0, sizeof *st);
    int y;
    if (!num(c, 4, &y) || !eat(c, '-') || !num(c, 2, &st->mon) || !eat(c, '-') ||
        !num(c, 2, &st->day))
        return 0;
    st->year = y == 0 ? -1 : y; /* year 0 is out of range, not "no year" */
    if (whole && c->p == c->end)
        return 1;
    int sep = peek(c);
    if (sep != 'T' && sep != 't' && sep != ' ')
        return 0;
    c->p++;
    if (!num(c, 2, &st->hour))
        return 0;
    if (eat(c, ':')) {
        if (!num(c, 2, &st->min))
            return 0;
        if (eat(c, ':')) {
            if (!num(c, 2, &st->sec))
                return 0;
            fraction(c, &st->frac_ns);
        } else if (!whole) {
            return 0;
        }
    } else if (!whole) {
        return 0;
    }
    zone(c, st);
    return whole ? c->p == c->end : !is_digit(peek(c));
}

/* syslog: Mmm dd hh:mm:ss, the day space-padded or not. An argument may stop
   after the day, the hour or the minute. */
static int parse_syslog(cur *c, stamp *st, int whole) {
    memset(st, 0, sizeof *st);
    if ((st->mon = month_name(c)) == 0 || !eat(c, ' '))
        return 0;
    eat(c, ' '); /* "Nov  3" */
    if (!num12(c, &st->day))
        return 0;
    if (whole && c->p == c->end)
        return 1;
    if (!eat(c, ' ') || !num(c, 2, &st->hour))
        return 0;
    if (whole && c->p == c->end)
        return 1;
    if (!eat(c, ':') || !num(c, 2, &st->min))
        return 0;
    if (whole && c->p == c->end)
        return 1;
    if (!eat(c, ':') || !num(c, 2, &st->sec))
        return 0;
    fraction(c, &st->frac_ns);
    return whole ? c->p == c->end : !is_digit(peek(c));
}

/* Common log format, after its '[': dd/Mmm/yyyy:hh:mm:ss[.frac] ±hhmm]. In a
   line the ']' must follow; an argument's closing ']' is checked by the caller. */
static int parse_clf(cur *c, stamp *st, int whole) {
    memset(st, 0, sizeof *st);
    int y;
    if (!num12(c, &st->day) || !eat(c, '/') || (st->mon = month_name(c)) == 0 || !eat(c, '/') ||
        !num(c, 4, &y) || !eat(c, ':') || !num(c, 2, &st->hour) || !eat(c, ':') ||
        !num(c, 2, &st->min) || !eat(c, ':') || !num(c, 2, &st->sec))
        return 0;
    st->year = y == 0 ? -1 : y;
    fraction(c, &st->frac_ns);
    if (!eat(c, ' '))
        return 0;
    zone(c, st);
    if (!st->has_zone)
        return 0;
    return whole ? 1 : peek(c) == ']';
}

/* ---- parsing an argument ---------------------------------------------------- */

static int ctx_init(time_ctx *c, const mmk_time_options *opt) {
    mmk_time_options o = {0};
    if (opt)
        o = *opt;
    if (o.format < MMK_TIME_AUTO || o.format > MMK_TIME_CLF || o.year < 0 || o.year > 9999 ||
        o.utc_offset < -48 * 3600 || o.utc_offset > 48 * 3600)
        return -EINVAL;
    c->year = o.year;
    c->utc_offset = o.utc_offset;
    c->now_local = mmk__os_wall_seconds() + o.utc_offset;
    return 0;
}

int mmk_time_parse(const char *text, size_t len, const mmk_time_options *opt, int64_t *ns) {
    time_ctx ctx;
    if ((text == NULL && len > 0) || ns == NULL || ctx_init(&ctx, opt) != 0)
        return -EINVAL;
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    stamp st;
    cur c = {p, end};
    int ok = parse_iso(&c, &st, 1);
    if (!ok) {
        c = (cur){p, end};
        ok = parse_syslog(&c, &st, 1);
    }
    if (!ok) {
        /* with or without its brackets */
        int bracket = len > 0 && p[0] == '[';
        c = (cur){p + bracket, end - (bracket && end[-1] == ']')};
        ok = (!bracket || end[-1] == ']') && len > (size_t)bracket && parse_clf(&c, &st, 1) &&
             c.p == c.end;
    }
    int64_t r;
    if (!ok || stamp_ns(&st, &ctx, &r) != 0)
        return -EINVAL;
    *ns = r;
    return 0;
}

/* ---- timestamps of lines ----------------------------------------------------- */

/* The binary search's state. Everything it reads of the map is read inside
   the guard that mmk_time_range pushes; nothing here allocates. */
typedef struct search {
    const unsigned char *base;
    uint64_t len;
    int format; /* enum mmk_time_format; AUTO until the first stamp is found */
    time_ctx ctx;
    /* the last line looked at (probes often land in the same line) */
    uint64_t memo_line, memo_eol;
    int memo_found;
    int64_t memo_t;
    /* what the probes saw: probe(x) found the stamped line at q with time t
       (the bounds a search starts from, and the order check) */
    unsigned nprobes;
    uint64_t probe_x[256], probe_pos[256];
    int64_t probe_t[256];
} search;

static int stamp_at(search *s, cur c, int format, int64_t *t) {
    stamp st;
    int ok = format == MMK_TIME_ISO8601  ? parse_iso(&c, &st, 0)
             : format == MMK_TIME_SYSLOG ? parse_syslog(&c, &st, 0)
                                         : parse_clf(&c, &st, 0);
    return ok && stamp_ns(&st, &s->ctx, t) == 0;
}

/*
 * The timestamp of the line starting at `line`: 1 (with *t) or 0. *eol gets
 * the offset of the line's '\n' (or the map's end) when it was needed, else
 * UINT64_MAX. In AUTO, the first format found becomes the search's format.
 */
static int line_stamp(search *s, uint64_t line, int64_t *t, uint64_t *eol) {
    if (line == s->memo_line) {
        *eol = s->memo_eol;
        *t = s->memo_t;
        return s->memo_found;
    }
    const unsigned char *p = s->base + line, *end = s->base + s->len;
    int f = s->format, found = 0;
    *eol = UINT64_MAX;
    /* at the line's start */
    for (int k = MMK_TIME_ISO8601; k <= MMK_TIME_SYSLOG && !found; k++)
        if ((f == MMK_TIME_AUTO || f == k) && stamp_at(s, (cur){p, end}, k, t)) {
            found = 1;
            s->format = k;
        }
    if (!found && f != MMK_TIME_SYSLOG) {
        /* after a '[' anywhere in the line */
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *le = nl ? nl : end;
        *eol = (uint64_t)(le - s->base);
        for (const unsigned char *q = p; !found && (q = memchr(q, '[', (size_t)(le - q))); q++)
            for (int k = MMK_TIME_CLF; k >= MMK_TIME_ISO8601 && !found; k -= 2)
                if ((f == MMK_TIME_AUTO || f == k) && stamp_at(s, (cur){q + 1, le}, k, t)) {
                    found = 1;
                    s->format = k;
                }
    }
    s->memo_line = line;
    s->memo_eol = *eol;
    s->memo_found = found;
    s->memo_t = found ? *t : 0;
    return found;
}

/* The first line at or after line start `line` and before `limit` that
   carries a timestamp: 1 with *q (its start) and *t, or 0. */
static int first_stamp(search *s, uint64_t line, uint64_t limit, uint64_t *q, int64_t *t) {
    while (line < limit) {
        uint64_t eol;
        if (line_stamp(s, line, t, &eol)) {
            *q = line;
            return 1;
        }
        if (eol == UINT64_MAX) {
            const unsigned char *nl = memchr(s->base + line, '\n', (size_t)(s->len - line));
            eol = nl ? (uint64_t)(nl - s->base) : s->len;
        }
        line = eol + 1;
    }
    return 0;
}

static void note_probe(search *s, uint64_t x, uint64_t q, int64_t t) {
    if (s->nprobes < sizeof s->probe_pos / sizeof s->probe_pos[0]) {
        s->probe_x[s->nprobes] = x;
        s->probe_pos[s->nprobes] = q;
        s->probe_t[s->nprobes++] = t;
    }
}

/* Like first_stamp, from the first line start at or after byte x (< limit). */
static int probe(search *s, uint64_t x, uint64_t limit, uint64_t *q, int64_t *t) {
    uint64_t line = 0;
    if (x > 0) {
        const unsigned char *nl = memchr(s->base + x - 1, '\n', (size_t)(limit - x));
        if (nl == NULL)
            return 0; /* no line starts in [x, limit) */
        line = (uint64_t)(nl - s->base) + 1;
    }
    if (!first_stamp(s, line, limit, q, t))
        return 0;
    note_probe(s, x, *q, *t);
    return 1;
}

/* Record the last stamped line after `after` (the first one's start), for the
   order check and as a bound for the searches: a log whose last stamp is
   earlier than its first is out of order even when the window's search needed
   no probe. Only the last MiB is looked at, so a long unstamped tail costs no
   more than that. */
static void probe_last(search *s, uint64_t after) {
    uint64_t end = s->len;
    while (end > after + 1) {
        /* the line that ends at end (its '\n' at end - 1, or the map's end) */
        uint64_t scan_to = s->base[end - 1] == '\n' ? end - 1 : end;
        const unsigned char *nl = mmk__memrchr(s->base + after, '\n', (size_t)(scan_to - after));
        uint64_t line = nl ? (uint64_t)(nl - s->base) + 1 : after;
        uint64_t eol;
        int64_t t;
        if (line <= after || s->len - line > ((uint64_t)1 << 20))
            return;
        if (line_stamp(s, line, &t, &eol)) {
            note_probe(s, line, line, t);
            return;
        }
        end = line;
    }
}

/*
 * Where a boundary search stands. Every x < lo probes to a record earlier
 * than v (the record before lo has time t_lo); the records from hi on are not
 * earlier, and hi_q is the first stamped line at or after hi (hi = len and
 * hi_q = len stand for "none"), with time t_hi when has_t_hi.
 */
typedef struct bracket {
    uint64_t lo, hi, hi_q;
    int64_t t_lo, t_hi;
    int has_t_hi;
} bracket;

/* The tightest bracket for v that the probes so far give, from lo_min on. */
static bracket known_bracket(const search *s, int64_t v, uint64_t lo_min, int64_t t_lo_min) {
    bracket b = {lo_min, s->len, s->len, t_lo_min, 0, 0};
    for (unsigned i = 0; i < s->nprobes; i++) {
        uint64_t x = s->probe_x[i], q = s->probe_pos[i];
        int64_t t = s->probe_t[i];
        if (t < v && q + 1 > b.lo) {
            b.lo = q + 1;
            b.t_lo = t;
        } else if (t >= v && x < b.hi) {
            b.hi = x;
            b.hi_q = q;
            b.t_hi = t;
            b.has_t_hi = 1;
        }
    }
    if (b.lo > b.hi) /* the probes disagree: the log is out of order */
        b = (bracket){lo_min, s->len, s->len, t_lo_min, 0, 0};
    return b;
}

/*
 * The start of the first record (a stamped line and the unstamped lines after
 * it) whose time is >= v, or the map's length when there is none.
 *
 * A log's time grows at a roughly steady rate, so the search first guesses by
 * interpolation between the times at its two ends, then probes a margin to
 * the other side of the guess to bracket the answer (widening the margin
 * eightfold while it does not), then guesses again inside the new bracket:
 * a window of a 1 GB log takes a handful of probes instead of thirty, which
 * matters when each one is a disk read. Bisection takes over where there is
 * nothing to interpolate, where the margin reaches half the bracket, and after
 * 200 steps (an adversarial log), so the worst case stays O(log n) probes.
 */
static uint64_t boundary(search *s, int64_t v, uint64_t lo_min, int64_t t_lo_min) {
    enum { GUESS, BELOW, ABOVE, HALVE } next = GUESS;
    bracket b = known_bracket(s, v, lo_min, t_lo_min);
    uint64_t margin = 0;
    for (unsigned steps = 0; b.lo < b.hi; steps++) {
        uint64_t span = b.hi - b.lo, mid, q = 0;
        int64_t t = 0;
        int kind = steps >= 200 ? HALVE : next;
        if (kind == GUESS && !(b.has_t_hi && v > b.t_lo && v <= b.t_hi && b.t_hi > b.t_lo))
            kind = HALVE;
        if ((kind == BELOW || kind == ABOVE) && margin >= span / 2)
            kind = HALVE;
        if (kind == GUESS) {
            double f = ((double)v - (double)b.t_lo) / ((double)b.t_hi - (double)b.t_lo);
            mid = b.lo + (uint64_t)(f * (double)span);
            if (mid >= b.hi)
                mid = b.hi - 1;
        } else if (kind == BELOW) {
            mid = b.hi - margin;
        } else if (kind == ABOVE) {
            mid = b.lo + margin;
        } else {
            mid = b.lo + span / 2;
        }
        int found = probe(s, mid, b.hi, &q, &t);
        int earlier = found && t < v;
        if (earlier) {
            b.lo = q + 1;
            b.t_lo = t;
        } else {
            /* not found: no stamped line in [mid, hi), so mid probes as hi does */
            if (found) {
                b.hi_q = q;
                b.t_hi = t;
                b.has_t_hi = 1;
            }
            b.hi = mid;
        }
        if (kind == GUESS) {
            margin = span / 256 > 4096 ? span / 256 : 4096;
            next = earlier ? ABOVE : BELOW;
        } else if (kind == BELOW || kind == ABOVE) {
            if (earlier == (kind == BELOW))
                next = GUESS; /* bracketed */
            else
                margin *= 8;
        } else {
            next = GUESS;
        }
    }
    return b.hi_q;
}

/* 1 when the probes, in file order, never saw time go backwards. */
static int probes_in_order(search *s) {
    unsigned n = s->nprobes;
    for (unsigned i = 1; i < n; i++) { /* insertion sort by position: n is small */
        uint64_t p = s->probe_pos[i];
        int64_t t = s->probe_t[i];
        unsigned j = i;
        for (; j > 0 && s->probe_pos[j - 1] > p; j--) {
            s->probe_pos[j] = s->probe_pos[j - 1];
            s->probe_t[j] = s->probe_t[j - 1];
        }
        s->probe_pos[j] = p;
        s->probe_t[j] = t;
    }
    for (unsigned i = 1; i < n; i++)
        if (s->probe_t[i] < s->probe_t[i - 1])
            return 0;
    return 1;
}

/* The whole search, inside the guard. */
static int range_search(search *s, int64_t since, int64_t until, uint64_t *start, uint64_t *end) {
    uint64_t q0;
    int64_t t0;
    /* The first stamped line fixes the format (AUTO) and owns the lines before it. */
    if (!probe(s, 0, s->len, &q0, &t0))
        return MMK_ENOTIME;
    probe_last(s, q0);
    uint64_t a = t0 >= since ? 0 : boundary(s, since, q0 + 1, t0);
    uint64_t b;
    if (until <= since)
        b = a;
    else if (until == INT64_MAX)
        b = s->len; /* nothing is at or after the end of time */
    else if (t0 >= until)
        b = 0;
    else
        b = boundary(s, until, a > q0 + 1 ? a : q0 + 1, t0);
    if (b < a) /* only when the log is out of order */
        b = a;
    *start = a;
    *end = b;
    return 0;
}

int mmk_time_range(mmk_map *m, int64_t since, int64_t until, const mmk_time_options *opt,
                   uint64_t *start, uint64_t *end, int *sorted) {
    search s;
    if (m == NULL || start == NULL || end == NULL || ctx_init(&s.ctx, opt) != 0)
        return -EINVAL;
    void *data;
    uint64_t len;
    int rc = mmk_view_acquire(m, &data, &len);
    if (rc < 0)
        return rc;
    if (len == 0) {
        mmk_view_release(m);
        return MMK_ENOTIME;
    }
    s.base = data;
    s.len = len;
    s.format = opt ? opt->format : MMK_TIME_AUTO;
    s.memo_line = UINT64_MAX;
    s.nprobes = 0;
    uint64_t a = 0, b = 0;
    mmk__guard g;
    if (MMK__SETJMP(g.env) != 0) {
        /* A page of the map could not be read: the file shrank (MMK_EFAULT)
           or the kernel failed to supply it; the map knows which. */
        rc = mmk__map_fault_cause(m, 0, len);
        (void)mmk_advise(m, MMK_ADVICE_NORMAL, 0, 0);
        mmk_view_release(m);
        return rc;
    }
    /* The probes are random reads: without this each fault of a cold file
       reads around it (the device's read-ahead, 8 MiB on the test VM: 96 MB
       read for one window of a 1 GB log instead of 1 MB). Advice is only an
       optimisation, so its failure is ignored. */
    (void)mmk_advise(m, MMK_ADVICE_RANDOM, 0, 0);
    mmk__guard_push(&g);
    rc = range_search(&s, since, until, &a, &b);
    mmk__guard_pop(&g);
    (void)mmk_advise(m, MMK_ADVICE_NORMAL, 0, 0);
    mmk_view_release(m);
    if (rc < 0)
        return rc;
    *start = a;
    *end = b;
    if (sorted)
        *sorted = probes_in_order(&s);
    return 0;
}
