/*
 * output.c — mmk's standard output: one large buffer flushed with write(2),
 * quiet on a broken pipe, plus JSON string escaping and error messages.
 *
 * A thread may capture its output instead (capture.h): while a capture is set
 * in the thread-local `out_target`, out_* and cli_error* append to it, and the
 * thread that owns the real outputs later emits it in order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "cli.h"
#include "sys.h"

#define OUT_CAP (256u * 1024u)

static char out_buf[OUT_CAP];
static size_t out_len;
static int out_pipe_status = EXIT_TROUBLE;
static int out_is_tty = -1;

/* Standard output and standard error of one file searched on a worker thread
   (see capture.h). Standard output is one growing buffer; each message for
   standard error is kept with the length standard output had when it came,
   so that emitting interleaves the two as they were produced. */
typedef struct err_note {
    size_t at;  /* standard output bytes before this message */
    size_t off; /* the message: err[off, off + len) */
    size_t len;
} err_note;

struct out_capture {
    char *out;
    size_t out_len, out_cap;
    char *err;
    size_t err_len, err_cap;
    err_note *notes;
    size_t nnotes, notes_cap;
    size_t limit;
    out_capture_overflow_fn overflow;
    void *user;
    int in_overflow;
};

/* The calling thread's capture, or NULL: the real outputs. */
static __thread out_capture *out_target;

void out_set_pipe_status(int status) {
    if (out_target) {
        return; /* the thread that emits the capture sets the status */
    }
    out_pipe_status = status;
}

/* Standard output cannot take more (a full disk, an I/O error): say so once
   and stop, as grep does, instead of computing output nobody can receive. */
static void write_failed(int code) {
    char msg[256];
    int n = snprintf(msg, sizeof msg, "mmk: write error: %s\n", mmk_strerror(code));
    progress_hide();
    if (n > 0 && sys_write(SYS_STDERR, msg, (size_t)n) < 0) {
        /* Nowhere left to report to. */
    }
    sys_exit_now(EXIT_TROUBLE);
}

/* Write all of [p, p+n) to standard output. A reader that went away is not an
   error worth a message (as `grep x | head`): the process ends with the
   status the command had reached. */
static void write_all(const char *p, size_t n) {
    if (out_is_tty < 0) {
        out_is_tty = sys_isatty(SYS_STDOUT);
    }
    if (out_is_tty && n > 0) {
        progress_hide(); /* the bar and the output share one terminal */
    }
    while (n > 0) {
        long long w = sys_write(SYS_STDOUT, p, n);
        if (w < 0) {
            if (w == -EPIPE) {
                progress_hide();
                sys_exit_now(out_pipe_status);
            }
            write_failed((int)w);
        }
        p += w;
        n -= (size_t)w;
    }
}

static void real_flush(void) {
    if (out_len > 0) {
        write_all(out_buf, out_len);
        out_len = 0;
    }
}

static void real_write(const void *p, size_t n) {
    if (n > OUT_CAP - out_len) {
        real_flush();
        if (n >= OUT_CAP) {
            write_all(p, n);
            return;
        }
    }
    memcpy(out_buf + out_len, p, n);
    out_len += n;
}

/* A message for standard error, newline included, written in one piece so
   that messages from several processes do not interleave. */
static void real_error(const char *msg, size_t len) {
    real_flush();
    progress_hide();
    if (sys_write(SYS_STDERR, msg, len) < 0) {
        /* Nowhere left to report to. */
    }
}

/* ---- captures ------------------------------------------------------------- */

static void capture_oom(void) {
    static const char msg[] = "mmk: out of memory while holding the output of a file\n";
    if (sys_write(SYS_STDERR, msg, sizeof msg - 1) < 0) {
        /* Nowhere left to report to. */
    }
    sys_exit_now(EXIT_TROUBLE);
}

/* Grow *buf (capacity *cap, *len used) to take n more bytes. */
static void grow(char **buf, size_t *cap, size_t len, size_t n) {
    size_t want = *cap ? *cap : 4096;
    while (want - len < n) {
        if (want > SIZE_MAX / 2) {
            capture_oom();
        }
        want *= 2;
    }
    char *p = realloc(*buf, want);
    if (!p) {
        capture_oom();
    }
    *buf = p;
    *cap = want;
}

/* Make room for n more bytes of standard output in c. Returns 0 when they go
   into c, 1 when the overflow function sent this thread's output to the real
   outputs instead. */
static int capture_reserve(out_capture *c, size_t n) {
    if (c->overflow && !c->in_overflow && c->out_len + c->err_len + n > c->limit) {
        c->in_overflow = 1;
        c->overflow(c, c->user);
        c->in_overflow = 0;
        if (out_target != c) {
            return 1;
        }
    }
    grow(&c->out, &c->out_cap, c->out_len, n);
    return 0;
}

static void capture_error(out_capture *c, const char *msg, size_t len) {
    if (len > c->err_cap - c->err_len) {
        grow(&c->err, &c->err_cap, c->err_len, len);
    }
    if (c->nnotes == c->notes_cap) {
        size_t want = c->notes_cap ? 2 * c->notes_cap : 4;
        err_note *p = realloc(c->notes, want * sizeof *p);
        if (!p) {
            capture_oom();
        }
        c->notes = p;
        c->notes_cap = want;
    }
    memcpy(c->err + c->err_len, msg, len);
    c->notes[c->nnotes++] = (err_note){c->out_len, c->err_len, len};
    c->err_len += len;
}

out_capture *out_capture_new(size_t limit, out_capture_overflow_fn overflow, void *user) {
    out_capture *c = calloc(1, sizeof *c);
    if (c) {
        c->limit = limit;
        c->overflow = overflow;
        c->user = user;
    }
    return c;
}

void out_capture_free(out_capture *c) {
    if (c) {
        free(c->out);
        free(c->err);
        free(c->notes);
        free(c);
    }
}

void out_capture_begin(out_capture *c) {
    out_target = c;
}

void out_capture_end(void) {
    out_target = NULL;
}

int out_capture_active(void) {
    return out_target != NULL;
}

size_t out_capture_size(const out_capture *c) {
    return c->out_len + c->err_len;
}

void out_capture_emit(out_capture *c) {
    size_t at = 0;
    for (size_t i = 0; i < c->nnotes; i++) {
        const err_note *e = &c->notes[i];
        if (e->at > at) {
            real_write(c->out + at, e->at - at);
            at = e->at;
        }
        real_error(c->err + e->off, e->len);
    }
    if (c->out_len > at) {
        real_write(c->out + at, c->out_len - at);
    }
    c->out_len = c->err_len = c->nnotes = 0;
}

void out_capture_go_direct(out_capture *c) {
    out_capture_emit(c);
    if (out_target == c) {
        out_target = NULL;
    }
}

/* ---- the calls the subcommands make ----------------------------------------- */

void out_flush(void) {
    if (out_target) {
        return; /* a capture is written whole when its file is done */
    }
    real_flush();
}

/* out_write into a capture, kept out of line so that the common path stays
   as short as it was before captures existed. */
static __attribute__((noinline)) void capture_write(out_capture *c, const void *p, size_t n) {
    if (n > c->out_cap - c->out_len && capture_reserve(c, n)) {
        real_write(p, n);
        return;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

void out_write(const void *p, size_t n) {
    if (n == 0) {
        return; /* p may be NULL then (an empty line) */
    }
    out_capture *c = out_target;
    if (c) {
        capture_write(c, p, n);
        return;
    }
    if (n <= OUT_CAP - out_len) {
        memcpy(out_buf + out_len, p, n);
        out_len += n;
        return;
    }
    real_write(p, n);
}

void out_str(const char *s) {
    out_write(s, strlen(s));
}

static __attribute__((noinline)) void capture_char(out_capture *c, char ch) {
    if (c->out_len == c->out_cap && capture_reserve(c, 1)) {
        real_write(&ch, 1);
        return;
    }
    c->out[c->out_len++] = ch;
}

void out_char(char ch) {
    out_capture *c = out_target;
    if (c) {
        capture_char(c, ch);
        return;
    }
    if (out_len == OUT_CAP) {
        real_flush();
    }
    out_buf[out_len++] = ch;
}

void out_u64(uint64_t v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    out_write(tmp, (size_t)n);
}

void out_u64_padded(uint64_t v, int width) {
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, "%*" PRIu64, width, v);
    out_write(tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if the bytes
   there are not one (overlong forms, surrogates and values above U+10FFFF are
   invalid, as in Python's strict decoder). */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) {
            lo = 0xA0;
        } else if (c == 0xED) {
            hi = 0x9F;
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return len;
}

size_t out_utf8_sequence(const unsigned char *s, size_t n) {
    return utf8_sequence(s, n);
}

int out_json_string(const char *str, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    int replaced = 0;
    out_char('"');
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            out_char('\\');
            out_char((char)c);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n':
                out_str("\\n");
                break;
            case '\t':
                out_str("\\t");
                break;
            case '\r':
                out_str("\\r");
                break;
            case '\b':
                out_str("\\b");
                break;
            case '\f':
                out_str("\\f");
                break;
            default: {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                out_write(esc, sizeof esc);
            }
            }
            i++;
        } else {
            size_t len = utf8_sequence(s + i, n - i);
            if (len == 0) {
                out_str("\\ufffd");
                replaced = 1;
                i++;
            } else {
                out_write(s + i, len);
                i += len;
            }
        }
    }
    out_char('"');
    return replaced;
}

/* Standard base64 (RFC 4648, with padding) of n bytes, as a JSON string. */
static void out_base64(const unsigned char *s, size_t n) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out_char('"');
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        char q[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63],
                     alphabet[v & 63]};
        out_write(q, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        char q[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63],
                     i + 1 < n ? alphabet[(v >> 6) & 63] : '=', '='};
        out_write(q, 4);
    }
    out_char('"');
}

void out_json_bytes_field(const char *key, const char *s, size_t n) {
    out_char('"');
    out_str(key);
    out_str("\":");
    if (out_json_string(s, n)) {
        out_str(",\"");
        out_str(key);
        out_str("_base64\":");
        out_base64((const unsigned char *)s, n);
    }
}

void cli_error(const char *what, const char *reason) {
    cli_errorf("%s: %s", what, reason);
}

void cli_errorf(const char *fmt, ...) {
    char msg[4096] = "mmk: ";
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg + 5, sizeof msg - 6, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    size_t len = 5 + ((size_t)n < sizeof msg - 7 ? (size_t)n : sizeof msg - 7);
    msg[len++] = '\n';
    if (out_target) {
        capture_error(out_target, msg, len);
        return;
    }
    real_error(msg, len);
}
