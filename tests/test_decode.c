/*
 * test_decode.c — mmk_decoder_* (src/decode.c) against the command-line tools.
 *
 * Log-like text, binary data, empty and 1-byte inputs are compressed with
 * gzip, zstd, xz and bzip2 (levels, multi-member / multi-frame / multi-stream
 * concatenations, zstd --long and skippable frames, xz padding, gzip headers
 * with every optional field) and decoded with random read sizes (1..64 KiB),
 * 1-byte reads, 1 MiB reads and through a pipe written in random pieces; the
 * output must equal the input and what zcat / zstdcat / xzcat / bzcat print.
 * Truncated files, corrupted bytes and trailing garbage must give
 * MMK_ECORRUPT (after exactly the data before the garbage), where the tool
 * fails as well. gzip runs through both inflaters (ISA-L and zlib) when the
 * build has them. A format whose tool or library is missing is skipped with
 * one line. Then detection on every magic and near-misses, pass-through of
 * data that is not compressed, forced formats and the API's errors.
 * Each case's reads alternate between the decoding thread (files and pipes)
 * and the reader's own thread; test_async checks which decoders take the
 * thread and that freeing a decoder whose thread runs ahead stops it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "decode.h"

static char dir[512];

/* ---- helpers --------------------------------------------------------------- */

/* Run a shell command (printf-style); its exit status, or -1. */
static int run(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static int have_tool(const char *name) {
    return run("command -v %s >/dev/null 2>&1", name) == 0;
}

static const char *path(const char *name) {
    static char buf[8][700];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void bytes_add(bytes *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

/* n bytes equal at a and b (either may be NULL when n is 0) */
static int same(const void *a, const void *b, size_t n) {
    return n == 0 || memcmp(a, b, n) == 0;
}

static bytes read_all(const char *file) {
    bytes b = {0};
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return b;
    uint8_t buf[65536];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        bytes_add(&b, buf, (size_t)r);
    close(fd);
    return b;
}

static void write_bytes(const char *file, const void *p, size_t n) {
    if (check_write_file(file, p, n, 0600) != 0) {
        fprintf(stderr, "cannot write %s\n", file);
        exit(2);
    }
}

/* Log-like text: lines of a web service's log with varying fields. */
static bytes gen_log(size_t n) {
    static const char *const paths[] = {
        "/",      "/api/v1/users", "/api/v1/orders", "/static/app.js",
        "/login", "/search",       "/img/logo.png",  "/health"};
    static const char *const levels[] = {"INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"};
    bytes b = {0};
    char line[512];
    unsigned t = 0;
    while (b.n < n) {
        t += (unsigned)check_rnd_below(3);
        int k = snprintf(line, sizeof line,
                         "2026-11-30T%02u:%02u:%02u.%03uZ host%02u app[%u]: %s %s %s?id=%u "
                         "status=%u bytes=%u\n",
                         t / 3600 % 24, t / 60 % 60, t % 60, (unsigned)check_rnd_below(1000),
                         (unsigned)check_rnd_below(16), (unsigned)(1000 + check_rnd_below(50)),
                         levels[check_rnd_below(6)], check_rnd_below(8) ? "GET" : "POST",
                         paths[check_rnd_below(8)], (unsigned)check_rnd_below(100000),
                         check_rnd_below(10) ? 200u : 404u, (unsigned)check_rnd_below(90000));
        bytes_add(&b, line, (size_t)k);
    }
    b.n = n;
    return b;
}

static bytes gen_random(size_t n) {
    bytes b = {0};
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)check_rnd();
        bytes_add(&b, &c, 1);
    }
    return b;
}

/* CRC-32 (gzip's), bit by bit: only the tests' gzip headers need it. */
static uint32_t crc32_of(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

/* ---- decoding -------------------------------------------------------------- */

enum read_mode { READ_RANDOM, READ_ONE, READ_BIG, READ_PIPE, READ_MODES };
static const char *const mode_names[] = {"random sizes", "1-byte reads", "1 MiB reads",
                                         "pipe, random sizes"};

/* Writes a file into a pipe in pieces of 1..4096 bytes (a thread: the decoder
   reads the other end). */
typedef struct pipe_job {
    bytes data;
    int fd;
    uint64_t rng;
} pipe_job;

static void *pipe_writer(void *arg) {
    pipe_job *j = arg;
    size_t off = 0;
    while (off < j->data.n) {
        j->rng = j->rng * 6364136223846793005ull + 1442695040888963407ull;
        size_t k = 1 + (size_t)(j->rng >> 33) % 4096;
        if (k > j->data.n - off)
            k = j->data.n - off;
        ssize_t w = write(j->fd, j->data.p + off, k);
        if (w <= 0)
            break; /* the decoder stopped reading (an error): EPIPE */
        off += (size_t)w;
    }
    close(j->fd);
    return NULL;
}

/* Decode `file` (format as given to mmk_decoder_open) in `mode` into *out.
   Returns the code that ended the reads: 0 at the end, or the error. Checks
   the read contract on the way: every read returns 1..n bytes, an end stays
   an end, an error repeats. *format gets mmk_decoder_format, *open_rc the
   open's result. */
static int decode(const char *file, int format, int mode, bytes *out, int *got_format,
                  int *open_rc) {
    out->n = 0;
    int fd, pfd[2] = {-1, -1};
    pthread_t writer;
    pipe_job job = {{0}, -1, check_rnd()};
    if (mode == READ_PIPE) {
        job.data = read_all(file);
        if (pipe2(pfd, O_CLOEXEC) != 0)
            return -errno;
        job.fd = pfd[1];
        if (pthread_create(&writer, NULL, pipe_writer, &job) != 0)
            return -EAGAIN;
        fd = pfd[0];
    } else {
        fd = open(file, O_RDONLY | O_CLOEXEC);
    }
    mmk_decoder *d = NULL;
    *open_rc = mmk_decoder_open(&d, fd, format);
    int rc = *open_rc;
    if (rc == 0) {
        *got_format = mmk_decoder_format(d);
        static uint8_t buf[1 << 20];
        int sizes_ok = 1;
        for (;;) {
            size_t n = mode == READ_ONE   ? 1
                       : mode == READ_BIG ? sizeof buf
                                          : 1 + check_rnd_below(65536);
            int64_t r = mmk_decoder_read(d, buf, n);
            if (r > 0) {
                sizes_ok &= r <= (int64_t)n;
                bytes_add(out, buf, (size_t)r);
                continue;
            }
            rc = (int)r;
            CHECK_RC(mmk_decoder_read(d, buf, n), rc); /* the end or the error stays */
            break;
        }
        CHECK(sizes_ok);
        mmk_decoder_free(d);
    } else {
        CHECK(d == NULL);
    }
    close(fd); /* a writer still writing gets EPIPE and ends */
    if (mode == READ_PIPE)
        pthread_join(writer, NULL);
    free(job.data.p);
    return rc;
}

/* What a case must give. */
enum expect {
    EXPECT_OK,      /* the data, then the end */
    EXPECT_TAIL,    /* the data, then MMK_ECORRUPT (something after the last member) */
    EXPECT_PREFIX,  /* a prefix of the data, then MMK_ECORRUPT (truncated) */
    EXPECT_CORRUPT, /* MMK_ECORRUPT at some point (a corrupted byte) */
    EXPECT_NOMEM    /* -ENOMEM (a zstd window over the limit) */
};

static int current_format;
static const char *current_tool;
static const char *current_inflater = "";
static unsigned cases_run;
static int tool_checks; /* 0 while gzip runs again with the second inflater */

/* Decode `file` in every read mode (error cases in fewer) and check it against
   `want` and the tool's verdict (`tool_rc`, `tool_out`). */
static void check_case(const char *label, const char *file, const bytes *want, int expect) {
    cases_run++;
    int modes[READ_MODES] = {READ_RANDOM, READ_ONE, READ_BIG, READ_PIPE};
    int nmodes = expect == EXPECT_OK || expect == EXPECT_TAIL ? 4 : 3;
    if (want->n > (8u << 20))
        nmodes = nmodes > 3 ? 3 : nmodes; /* 1-byte reads of large data: slow for nothing */
    for (int m = 0; m < nmodes; m++) {
        int mode = modes[m];
        if (want->n > (8u << 20) && mode == READ_ONE)
            mode = READ_PIPE;
        /* With the decoding thread and without, in turn: each read mode of
           each format meets both across the cases. */
        int async = (m + cases_run) % 2;
        CHECK_OK(mmk__decode_set_async(async ? MMK__ASYNC_ON : MMK__ASYNC_OFF));
        bytes got = {0};
        int fmt = -1, open_rc;
        int rc = decode(file, MMK_COMP_NONE, mode, &got, &fmt, &open_rc);
        int ok = open_rc == 0 && fmt == current_format;
        switch (expect) {
        case EXPECT_OK:
            ok = ok && rc == 0 && got.n == want->n && same(got.p, want->p, got.n);
            break;
        case EXPECT_TAIL:
            ok = ok && rc == MMK_ECORRUPT && got.n == want->n && same(got.p, want->p, got.n);
            break;
        case EXPECT_PREFIX:
            ok = ok && rc == MMK_ECORRUPT && got.n <= want->n && same(got.p, want->p, got.n);
            break;
        case EXPECT_CORRUPT:
            ok = ok && rc == MMK_ECORRUPT;
            break;
        case EXPECT_NOMEM:
            ok = ok && rc == -ENOMEM;
            break;
        }
        CHECK(ok);
        if (!ok)
            fprintf(stderr,
                    "  %s%s%s: %s (%s%s): open %d format %d, ended with %d (%s), %zu bytes "
                    "of %zu\n",
                    mmk_compression_name(current_format), *current_inflater ? "/" : "",
                    current_inflater, label, mode_names[mode], async ? ", decoding thread" : "",
                    open_rc, fmt, rc, mmk_errname(rc), got.n, want->n);
        free(got.p);
    }
    CHECK_OK(mmk__decode_set_async(MMK__ASYNC_AUTO));
}

/* The tool's decompression of `file`: its exit status, its output in *out. */
static int tool_decode(const char *file, bytes *out) {
    const char *ref = path("tool.out");
    int st = run("%s -dc < '%s' > '%s' 2>/dev/null", current_tool, file, ref);
    *out = read_all(ref);
    return st;
}

/* A case compared with the tool as well: the tool must succeed (EXPECT_OK,
   output `want`), print `want` and complain (EXPECT_TAIL: gzip exits 2, bzip2
   0 with a warning, zstd and xz 1), or fail (the others). */
static void check_with_tool(const char *label, const char *file, const bytes *want, int expect) {
    if (tool_checks) {
        bytes t;
        int st = tool_decode(file, &t);
        int ok;
        if (expect == EXPECT_OK)
            ok = st == 0 && t.n == want->n && same(t.p, want->p, t.n);
        else if (expect == EXPECT_TAIL)
            ok = t.n == want->n && same(t.p, want->p, t.n);
        else
            ok = st != 0;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  the tool disagrees: %s -dc on %s (%s): status %d, %zu bytes\n",
                    current_tool, label, file, st, t.n);
        free(t.p);
    }
    check_case(label, file, want, expect);
}

/* ---- the formats ------------------------------------------------------------ */

typedef struct dataset {
    const char *name;
    bytes data;
} dataset;

static dataset sets[8];
static int nsets;

static void make_sets(void) {
    check_rng = 0x5EED0001;
    sets[nsets++] = (dataset){"empty", {0}};
    sets[nsets].name = "one-byte";
    bytes_add(&sets[nsets++].data, "x", 1);
    sets[nsets++] = (dataset){"log-1k", gen_log(1000)};
    sets[nsets++] = (dataset){"log-300k", gen_log(300 * 1000)};
    sets[nsets++] = (dataset){"log-1200k", gen_log(1200 * 1000 + 7)};
    sets[nsets++] = (dataset){"random-200k", gen_random(200 * 1000)};
    bytes rep = {0};
    for (int i = 0; i < (1 << 20); i++)
        bytes_add(&rep, i % 4096 == 4095 ? "\n" : "a", 1);
    sets[nsets++] = (dataset){"repeated-1m", rep};
    for (int i = 0; i < nsets; i++)
        write_bytes(path(sets[i].name), sets[i].data.p, sets[i].data.n);
}

static const dataset *set_named(const char *name) {
    for (int i = 0; i < nsets; i++)
        if (strcmp(sets[i].name, name) == 0)
            return &sets[i];
    return NULL;
}

/* Compress data set `s` with `flags` into `out` (a path); 0 or -1. */
static int compress(const char *flags, const dataset *s, const char *out) {
    return run("%s %s -c < '%s' > '%s'", current_tool, flags, path(s->name), out) == 0 ? 0 : -1;
}

static void cat_files(const char *out, const char *const *files, int n) {
    bytes all = {0};
    for (int i = 0; i < n; i++) {
        bytes b = read_all(files[i]);
        bytes_add(&all, b.p, b.n);
        free(b.p);
    }
    write_bytes(out, all.p, all.n);
    free(all.p);
}

/* The cases every format shares. `levels` are the tool's flags tried on the
   300 KB log (the first is used for the others). */
static void format_cases(const char *ext, const char *const *levels, int nlevels) {
    char name[128], label[256];
    /* every data set at the default level; the 300 KB log at every level */
    for (int i = 0; i < nsets; i++) {
        int nl = strcmp(sets[i].name, "log-300k") == 0 ? nlevels : 1;
        for (int l = 0; l < nl; l++) {
            snprintf(name, sizeof name, "%s.%d.%s", sets[i].name, l, ext);
            if (compress(levels[l], &sets[i], path(name)) != 0) {
                CHECK(!"the tool compressed");
                continue;
            }
            snprintf(label, sizeof label, "%s %s", sets[i].name, levels[l]);
            check_with_tool(label, path(name), &sets[i].data, EXPECT_OK);
        }
    }
    /* several members / frames / streams, an empty one among them */
    {
        const char *parts[] = {"log-300k.0", "empty.0", "log-1k.0", "log-1200k.0", "one-byte.0"};
        const char *files[5];
        bytes want = {0};
        for (int i = 0; i < 5; i++) {
            char nm[128];
            snprintf(nm, sizeof nm, "%s.%s", parts[i], ext);
            files[i] = path(nm);
            char setname[64];
            snprintf(setname, sizeof setname, "%.*s", (int)(strchr(parts[i], '.') - parts[i]),
                     parts[i]);
            const dataset *s = set_named(setname);
            bytes_add(&want, s->data.p, s->data.n);
        }
        snprintf(name, sizeof name, "multi.%s", ext);
        cat_files(path(name), files, 5);
        check_with_tool("5 members", path(name), &want, EXPECT_OK);
        free(want.p);
    }
    /* truncated: the decoder gives a prefix of the data, then MMK_ECORRUPT */
    snprintf(name, sizeof name, "log-300k.0.%s", ext);
    bytes whole = read_all(path(name));
    const bytes *want = &set_named("log-300k")->data;
    size_t cuts[] = {10, 40, whole.n / 3, whole.n / 2, whole.n - 5, whole.n - 1};
    for (int i = 0; i < 6; i++) {
        snprintf(label, sizeof label, "truncated to %zu of %zu bytes", cuts[i], whole.n);
        write_bytes(path("cut"), whole.p, cuts[i]);
        check_with_tool(label, path("cut"), want, EXPECT_PREFIX);
    }
    /* a member that ends early followed by a whole one is no better */
    {
        bytes two = {0};
        bytes_add(&two, whole.p, whole.n / 2);
        bytes_add(&two, whole.p, whole.n);
        write_bytes(path("cut2"), two.p, two.n);
        check_with_tool("truncated member, then a whole one", path("cut2"), want, EXPECT_CORRUPT);
        free(two.p);
    }
    /* a corrupted byte: an error wherever the tool finds one */
    size_t spots[] = {whole.n / 2, whole.n / 3, whole.n - 9, whole.n - 3};
    for (int i = 0; i < 4; i++) {
        bytes bad = {0};
        bytes_add(&bad, whole.p, whole.n);
        bad.p[spots[i]] ^= 0x55;
        write_bytes(path("bad"), bad.p, bad.n);
        bytes t;
        int st = tool_decode(path("bad"), &t);
        snprintf(label, sizeof label, "byte %zu of %zu corrupted", spots[i], whole.n);
        if (st == 0) /* the change did not matter to the tool: nor to the decoder */
            check_case(label, path("bad"), &t, EXPECT_OK);
        else
            check_case(label, path("bad"), want, EXPECT_CORRUPT);
        free(t.p);
        free(bad.p);
    }
    /* trailing garbage: all the data, then MMK_ECORRUPT */
    {
        const char *tails[] = {"junk\n", "\x01", "\xff\xff\xff\xff\xff\xff\xff\xff"};
        size_t tail_n[] = {5, 1, 8};
        for (int i = 0; i < 3; i++) {
            bytes g = {0};
            bytes_add(&g, whole.p, whole.n);
            bytes_add(&g, tails[i], tail_n[i]);
            write_bytes(path("garbage"), g.p, g.n);
            snprintf(label, sizeof label, "%zu bytes of trailing garbage", tail_n[i]);
            check_with_tool(label, path("garbage"), want, EXPECT_TAIL);
            free(g.p);
        }
    }
    free(whole.p);
}

static void gzip_cases(void) {
    static const char *const levels[] = {"-6", "-1", "-9", "-n", "-3 -n"};
    format_cases("gz", levels, 5);
    bytes whole = read_all(path("log-300k.0.gz"));
    const bytes *want = &set_named("log-300k")->data;
    /* zero bytes after the last member: ignored, as gzip does */
    for (size_t z = 1; z <= 70000; z *= 263) {
        bytes g = {0};
        bytes_add(&g, whole.p, whole.n);
        for (size_t i = 0; i < z; i++)
            bytes_add(&g, "", 1);
        write_bytes(path("zeros.gz"), g.p, g.n);
        char label[64];
        snprintf(label, sizeof label, "%zu trailing zero bytes", z);
        check_with_tool(label, path("zeros.gz"), want, EXPECT_OK);
        /* zeros, then something else: all the data, then MMK_ECORRUPT */
        bytes_add(&g, "z", 1);
        write_bytes(path("zeros.gz"), g.p, g.n);
        snprintf(label, sizeof label, "%zu zero bytes, then garbage", z);
        check_with_tool(label, path("zeros.gz"), want, EXPECT_TAIL);
        /* zeros, then another member: gzip calls that garbage too */
        g.n -= 1;
        bytes_add(&g, whole.p, whole.n);
        write_bytes(path("zeros.gz"), g.p, g.n);
        snprintf(label, sizeof label, "%zu zero bytes, then a member", z);
        check_with_tool(label, path("zeros.gz"), want, EXPECT_TAIL);
        free(g.p);
    }
    /* every optional header field (FEXTRA, FNAME, FCOMMENT, FHCRC) */
    bytes plain = read_all(path("log-300k.3.gz")); /* gzip -n: a 10-byte header */
    CHECK(plain.n > 18 && plain.p[3] == 0);
    for (int bad_crc = 0; bad_crc < 2; bad_crc++) {
        bytes g = {0};
        uint8_t h[10];
        memcpy(h, plain.p, 10);
        h[3] = 4 | 8 | 16 | 2;
        bytes_add(&g, h, 10);
        bytes_add(&g,
                  "\x05\x00"
                  "ABCDE",
                  7);
        bytes_add(&g, "x.log", 6);
        bytes_add(&g, "a comment", 10);
        uint32_t c = crc32_of(g.p, g.n) & 0xFFFF;
        if (bad_crc)
            c ^= 1;
        uint8_t hc[2] = {(uint8_t)c, (uint8_t)(c >> 8)};
        bytes_add(&g, hc, 2);
        bytes_add(&g, plain.p + 10, plain.n - 10);
        write_bytes(path("header.gz"), g.p, g.n);
        check_with_tool(bad_crc ? "header with a wrong FHCRC" : "header with every field",
                        path("header.gz"), want, bad_crc ? EXPECT_CORRUPT : EXPECT_OK);
        free(g.p);
    }
    /* the trailer's CRC-32 and length */
    for (int k = 0; k < 2; k++) {
        bytes g = {0};
        bytes_add(&g, whole.p, whole.n);
        g.p[g.n - 8 + 4 * k] ^= 1;
        write_bytes(path("trailer.gz"), g.p, g.n);
        check_with_tool(k ? "wrong ISIZE" : "wrong CRC-32", path("trailer.gz"), want,
                        EXPECT_CORRUPT);
        free(g.p);
    }
    free(plain.p);
    free(whole.p);
}

/* A zstd skippable frame of `n` payload bytes (magic 0x184D2A5X). */
static void add_skippable(bytes *b, unsigned variant, uint32_t n) {
    uint8_t h[8] = {(uint8_t)(0x50 + variant),
                    0x2A,
                    0x4D,
                    0x18,
                    (uint8_t)n,
                    (uint8_t)(n >> 8),
                    (uint8_t)(n >> 16),
                    (uint8_t)(n >> 24)};
    bytes_add(b, h, 8);
    for (uint32_t i = 0; i < n; i++)
        bytes_add(b, "s", 1);
}

static void zstd_cases(void) {
    static const char *const levels[] = {"-q -3",     "-q -1",         "-q -9",
                                         "-q --long", "-q --no-check", "-q --fast=3"};
    format_cases("zst", levels, 6);
    bytes whole = read_all(path("log-300k.0.zst"));
    const bytes *want = &set_named("log-300k")->data;
    /* skippable frames before, between and after the frames */
    {
        bytes g = {0}, w = {0};
        add_skippable(&g, 0, 10);
        bytes_add(&g, whole.p, whole.n);
        add_skippable(&g, 7, 0);
        add_skippable(&g, 15, 70000);
        bytes_add(&g, whole.p, whole.n);
        add_skippable(&g, 3, 5);
        bytes_add(&w, want->p, want->n);
        bytes_add(&w, want->p, want->n);
        write_bytes(path("skip.zst"), g.p, g.n);
        check_with_tool("skippable frames around two frames", path("skip.zst"), &w, EXPECT_OK);
        g.n = 0;
        add_skippable(&g, 1, 100);
        write_bytes(path("skip.zst"), g.p, g.n);
        bytes none = {0};
        check_with_tool("only a skippable frame", path("skip.zst"), &none, EXPECT_OK);
        write_bytes(path("skip.zst"), g.p, g.n - 1);
        check_with_tool("a truncated skippable frame", path("skip.zst"), &none, EXPECT_PREFIX);
        free(g.p);
        free(w.p);
    }
    /* a window over 128 MiB: zstd's limit (and zstdcat's) */
    /* from a pipe the size is unknown, so the frame keeps its 256 MiB window */
    if (run("cat '%s' | zstd -q --long=28 -c > '%s'", path("log-300k"), path("big-window.zst")) ==
        0)
        check_with_tool("window of 256 MiB", path("big-window.zst"), want, EXPECT_NOMEM);
    free(whole.p);
}

static void xz_cases(void) {
    static const char *const levels[] = {
        "-1", "-0", "-6", "--check=none", "--check=crc32", "--check=sha256", "--format=xz -0e"};
    format_cases("xz", levels, 7);
    bytes whole = read_all(path("log-300k.0.xz"));
    const bytes *want = &set_named("log-300k")->data;
    /* stream padding: multiples of 4 zero bytes after and between streams */
    size_t pads[] = {4, 8, 4096, 3, 5, 1};
    for (int i = 0; i < 6; i++) {
        for (int between = 0; between < 2; between++) {
            bytes g = {0}, w = {0};
            bytes_add(&g, whole.p, whole.n);
            bytes_add(&w, want->p, want->n);
            for (size_t k = 0; k < pads[i]; k++)
                bytes_add(&g, "", 1);
            if (between) {
                bytes_add(&g, whole.p, whole.n);
                bytes_add(&w, want->p, want->n);
            }
            write_bytes(path("pad.xz"), g.p, g.n);
            char label[64];
            snprintf(label, sizeof label, "%zu bytes of padding%s", pads[i],
                     between ? " between streams" : "");
            int ok = pads[i] % 4 == 0;
            /* a bad padding at the end comes after all the data; between
               streams the second stream is not reached */
            check_with_tool(label, path("pad.xz"), between && !ok ? want : &w,
                            ok ? EXPECT_OK : EXPECT_TAIL);
            free(g.p);
            free(w.p);
        }
    }
    free(whole.p);
}

static void bzip2_cases(void) {
    static const char *const levels[] = {"-9", "-1", "-5"};
    format_cases("bz2", levels, 3);
}

/* The data of `name` compressed by the current tool must be refused with
   MMK_ENOTSUP by a build without the format. */
static void check_unsupported(const char *ext) {
    char name[64];
    snprintf(name, sizeof name, "log-1k.%s", ext);
    if (compress("", set_named("log-1k"), path(name)) != 0)
        return;
    bytes got = {0};
    int fmt, open_rc;
    CHECK_RC(decode(path(name), MMK_COMP_NONE, READ_RANDOM, &got, &fmt, &open_rc), MMK_ENOTSUP);
    int fd = open(path(name), O_RDONLY | O_CLOEXEC);
    mmk_decoder *d = (mmk_decoder *)&got; /* must be overwritten with NULL */
    CHECK_RC(mmk_decoder_open(&d, fd, current_format), MMK_ENOTSUP);
    CHECK(d == NULL);
    close(fd);
    free(got.p);
}

/* ---- detection ------------------------------------------------------------- */

static void test_detect(void) {
    static const struct {
        const char *head;
        size_t n;
        int format;
    } cases[] = {
        {"\x1f\x8b", 2, MMK_COMP_GZIP},
        {"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10, MMK_COMP_GZIP},
        {"\x28\xb5\x2f\xfd", 4, MMK_COMP_ZSTD},
        {"\x28\xb5\x2f\xfd\x04\x58", 6, MMK_COMP_ZSTD},
        {"\x50\x2a\x4d\x18", 4, MMK_COMP_ZSTD},
        {"\x5f\x2a\x4d\x18\x00\x00\x00\x00", 8, MMK_COMP_ZSTD},
        {"\xfd"
         "7zXZ\0",
         6, MMK_COMP_XZ},
        {"\xfd"
         "7zXZ\0\0\x04",
         8, MMK_COMP_XZ},
        {"BZh91AY&SY", 10, MMK_COMP_BZIP2},
        {"BZh1\x17\x72\x45\x38\x50\x90", 10, MMK_COMP_BZIP2},
        {"BZh5", 4, MMK_COMP_BZIP2}, /* as far as the bytes go */
        {"BZh91AY", 7, MMK_COMP_BZIP2},
        /* near misses */
        {"", 0, MMK_COMP_NONE},
        {"\x1f", 1, MMK_COMP_NONE},
        {"\x1f\x8c", 2, MMK_COMP_NONE},
        {"\x1e\x8b", 2, MMK_COMP_NONE},
        {"\x1f\x9d\x90", 3, MMK_COMP_NONE}, /* compress(1) .Z: not read */
        {"\x28\xb5\x2f", 3, MMK_COMP_NONE},
        {"\x28\xb5\x2f\xfe", 4, MMK_COMP_NONE},
        {"\x29\xb5\x2f\xfd", 4, MMK_COMP_NONE},
        {"\x4f\x2a\x4d\x18", 4, MMK_COMP_NONE},
        {"\x60\x2a\x4d\x18", 4, MMK_COMP_NONE},
        {"\x50\x2a\x4d\x19", 4, MMK_COMP_NONE},
        {"\xfd"
         "7zXZ",
         5, MMK_COMP_NONE},
        {"\xfd"
         "7zXZ\1",
         6, MMK_COMP_NONE},
        {"\xfd"
         "7zxZ\0",
         6, MMK_COMP_NONE},
        {"\x5d\x00\x00\x80\x00", 5, MMK_COMP_NONE}, /* .lzma: not read */
        {"BZh", 3, MMK_COMP_NONE},
        {"BZh0", 4, MMK_COMP_NONE},
        {"BZh:", 4, MMK_COMP_NONE},
        {"BZh9 is what the file starts with\n", 34, MMK_COMP_NONE},
        {"BZh91AY&SX", 10, MMK_COMP_NONE},
        {"BZh9\x17\x72\x45\x38\x50\x91", 10, MMK_COMP_NONE},
        {"bZh91AY&SY", 10, MMK_COMP_NONE},
        {"2026-11-30T08:29:57Z hello\n", 27, MMK_COMP_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int f = mmk_compression_detect(cases[i].head, cases[i].n);
        CHECK_EQ(f, cases[i].format);
        if (f != cases[i].format)
            fprintf(stderr, "  detect case %zu\n", i);
        /* detection only looks at the first bytes: more after them changes nothing */
        uint8_t longer[64];
        memcpy(longer, cases[i].head, cases[i].n);
        memset(longer + cases[i].n, 0xAB, sizeof longer - cases[i].n);
        if (cases[i].n >= 10 || cases[i].format != MMK_COMP_BZIP2)
            CHECK_EQ(mmk_compression_detect(longer, cases[i].n >= 10 ? 64 : cases[i].n),
                     cases[i].format);
    }
    /* every single-byte change inside a magic is a miss (or another format) */
    static const struct {
        const char *magic;
        size_t n;
        int format;
    } magics[] = {{"\x1f\x8b", 2, MMK_COMP_GZIP},
                  {"\x28\xb5\x2f\xfd", 4, MMK_COMP_ZSTD},
                  {"\xfd"
                   "7zXZ\0",
                   6, MMK_COMP_XZ},
                  {"BZh91AY&SY", 10, MMK_COMP_BZIP2}};
    for (size_t m = 0; m < 4; m++) {
        for (size_t i = 0; i < magics[m].n; i++) {
            for (int x = 1; x < 256; x++) {
                uint8_t h[16];
                memcpy(h, magics[m].magic, magics[m].n);
                h[i] ^= (uint8_t)x;
                int f = mmk_compression_detect(h, magics[m].n);
                /* "BZh" + another digit is still bzip2 */
                int still =
                    magics[m].format == MMK_COMP_BZIP2 && i == 3 && h[3] >= '1' && h[3] <= '9';
                CHECK(f == (still ? MMK_COMP_BZIP2 : MMK_COMP_NONE));
            }
        }
    }
    CHECK_EQ(mmk_compression_detect(NULL, 10), MMK_COMP_NONE);
    CHECK(strcmp(mmk_compression_name(MMK_COMP_NONE), "none") == 0);
    CHECK(strcmp(mmk_compression_name(MMK_COMP_GZIP), "gzip") == 0);
    CHECK(strcmp(mmk_compression_name(MMK_COMP_ZSTD), "zstd") == 0);
    CHECK(strcmp(mmk_compression_name(MMK_COMP_XZ), "xz") == 0);
    CHECK(strcmp(mmk_compression_name(MMK_COMP_BZIP2), "bzip2") == 0);
    CHECK(strcmp(mmk_compression_name(99), "unknown") == 0);
    CHECK(strcmp(mmk_compression_name(-1), "unknown") == 0);
    CHECK_EQ(mmk_compression_supported(MMK_COMP_NONE), 1);
    CHECK_EQ(mmk_compression_supported(99), 0);
    CHECK_EQ(mmk_compression_supported(-1), 0);
}

/* ---- pass-through, forced formats, errors ----------------------------------- */

static void test_passthrough(void) {
    static const struct {
        const char *p;
        size_t n;
    } raw[] = {
        {"", 0},
        {"x", 1},
        {"\x1f", 1},
        {"\xfd"
         "7zXZ",
         5},
        {"BZh9 is how this text starts\n", 29},
        {"BZh", 3},
        {"hello, world\n", 13},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        write_bytes(path("raw"), raw[i].p, raw[i].n);
        for (int mode = 0; mode < READ_MODES; mode++) {
            bytes got = {0};
            int fmt = -1, open_rc;
            CHECK_RC(decode(path("raw"), MMK_COMP_NONE, mode, &got, &fmt, &open_rc), 0);
            CHECK_EQ(fmt, MMK_COMP_NONE);
            CHECK(got.n == raw[i].n && same(got.p, raw[i].p, got.n));
            free(got.p);
        }
    }
    /* the larger data sets, unchanged */
    for (int i = 0; i < nsets; i++) {
        for (int mode = 0; mode < READ_MODES; mode++) {
            bytes got = {0};
            int fmt = -1, open_rc;
            CHECK_RC(decode(path(sets[i].name), MMK_COMP_NONE, mode, &got, &fmt, &open_rc), 0);
            CHECK_EQ(fmt, MMK_COMP_NONE);
            CHECK(got.n == sets[i].data.n && same(got.p, sets[i].data.p, got.n));
            free(got.p);
        }
    }
    /* the decoder reads from the descriptor's position */
    write_bytes(path("raw"), "0123456789abcdefghij", 20);
    int fd = open(path("raw"), O_RDONLY | O_CLOEXEC);
    CHECK_EQ(lseek(fd, 7, SEEK_SET), 7);
    mmk_decoder *d;
    CHECK_OK(mmk_decoder_open(&d, fd, MMK_COMP_NONE));
    char buf[32];
    CHECK_EQ(mmk_decoder_read(d, buf, sizeof buf), 13);
    CHECK(memcmp(buf, "789abcdefghij", 13) == 0);
    CHECK_EQ(mmk_decoder_read(d, buf, sizeof buf), 0);
    mmk_decoder_free(d);
    close(fd);
}

/* A format forced on data that is not of it: MMK_ECORRUPT at the first read
   (open only reads when it detects). */
static void test_forced(void) {
    static const int formats[] = {MMK_COMP_GZIP, MMK_COMP_ZSTD, MMK_COMP_XZ, MMK_COMP_BZIP2};
    write_bytes(path("text"), "plain text, not compressed\n", 27);
    write_bytes(path("nothing"), "", 0);
    write_bytes(path("zeros"), "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    const char *files[] = {path("text"), path("nothing"), path("zeros")};
    for (int f = 0; f < 4; f++) {
        if (!mmk_compression_supported(formats[f]))
            continue;
        for (int k = 0; k < 3; k++) {
            for (int mode = 0; mode < READ_MODES; mode++) {
                bytes got = {0};
                int fmt = -1, open_rc;
                int rc = decode(files[k], formats[f], mode, &got, &fmt, &open_rc);
                CHECK_RC(open_rc, 0);
                CHECK_EQ(fmt, formats[f]);
                CHECK_RC(rc, MMK_ECORRUPT);
                CHECK_EQ(got.n, 0);
                free(got.p);
            }
        }
    }
    /* a file of one format forced as another */
    const char *gz = path("log-1k.0.gz"), *xz = path("log-1k.0.xz");
    if (access(gz, R_OK) == 0 && mmk_compression_supported(MMK_COMP_XZ)) {
        bytes got = {0};
        int fmt, open_rc;
        CHECK_RC(decode(gz, MMK_COMP_XZ, READ_RANDOM, &got, &fmt, &open_rc), MMK_ECORRUPT);
        free(got.p);
    }
    if (access(xz, R_OK) == 0 && mmk_compression_supported(MMK_COMP_GZIP)) {
        bytes got = {0};
        int fmt, open_rc;
        CHECK_RC(decode(xz, MMK_COMP_GZIP, READ_RANDOM, &got, &fmt, &open_rc), MMK_ECORRUPT);
        free(got.p);
    }
    /* forced and right: as detected */
    if (access(gz, R_OK) == 0 && mmk_compression_supported(MMK_COMP_GZIP)) {
        bytes got = {0};
        int fmt, open_rc;
        CHECK_RC(decode(gz, MMK_COMP_GZIP, READ_ONE, &got, &fmt, &open_rc), 0);
        const bytes *want = &set_named("log-1k")->data;
        CHECK(got.n == want->n && same(got.p, want->p, got.n));
        free(got.p);
    }
}

static void test_errors(void) {
    mmk_decoder *d = (mmk_decoder *)&d;
    CHECK_RC(mmk_decoder_open(NULL, 0, MMK_COMP_NONE), -EINVAL);
    CHECK_RC(mmk_decoder_open(&d, 0, 5), -EINVAL);
    CHECK(d == NULL);
    CHECK_RC(mmk_decoder_open(&d, 0, -1), -EINVAL);
    CHECK_RC(mmk_decoder_open(&d, -1, MMK_COMP_NONE), -EBADF);
    CHECK_RC(mmk_decoder_open(&d, -1, MMK_COMP_GZIP), -EBADF);
    CHECK(d == NULL);
    /* detection reads: a directory or a write-only descriptor fails there */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK_RC(mmk_decoder_open(&d, fd, MMK_COMP_NONE), -EISDIR);
    CHECK(d == NULL);
    close(fd);
    fd = open(path("wronly"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK_RC(mmk_decoder_open(&d, fd, MMK_COMP_NONE), -EBADF);
    /* with a format given, the first read reports it */
    if (mmk_compression_supported(MMK_COMP_BZIP2)) {
        CHECK_OK(mmk_decoder_open(&d, fd, MMK_COMP_BZIP2));
        char c;
        CHECK_RC(mmk_decoder_read(d, &c, 1), -EBADF);
        CHECK_RC(mmk_decoder_read(d, &c, 1), -EBADF);
        mmk_decoder_free(d);
    }
    close(fd);
    /* reads */
    write_bytes(path("raw"), "abc", 3);
    fd = open(path("raw"), O_RDONLY | O_CLOEXEC);
    CHECK_OK(mmk_decoder_open(&d, fd, MMK_COMP_NONE));
    char buf[8];
    CHECK_RC(mmk_decoder_read(d, buf, 0), -EINVAL);
    CHECK_RC(mmk_decoder_read(d, NULL, 4), -EINVAL);
    CHECK_RC(mmk_decoder_read(NULL, buf, 4), -EINVAL);
    CHECK_EQ(mmk_decoder_read(d, buf, 2), 2);
    CHECK_EQ(mmk_decoder_read(d, buf + 2, 8), 1);
    CHECK(memcmp(buf, "abc", 3) == 0);
    CHECK_EQ(mmk_decoder_read(d, buf, 8), 0);
    CHECK_EQ(mmk_decoder_read(d, buf, 8), 0);
    CHECK_EQ(mmk_decoder_format(d), MMK_COMP_NONE);
    mmk_decoder_free(d);
    close(fd);
    CHECK_RC(mmk_decoder_format(NULL), -EINVAL);
    mmk_decoder_free(NULL);
    /* a non-blocking descriptor without data: -EAGAIN, which does not stick */
    int pfd[2];
    CHECK_OK(pipe2(pfd, O_NONBLOCK | O_CLOEXEC));
    CHECK_RC(mmk_decoder_open(&d, pfd[0], MMK_COMP_NONE), -EAGAIN);
    const char *gz = path("log-1k.0.gz");
    if (mmk_compression_supported(MMK_COMP_GZIP) && access(gz, R_OK) == 0) {
        CHECK_OK(mmk_decoder_open(&d, pfd[0], MMK_COMP_GZIP));
        CHECK_RC(mmk_decoder_read(d, buf, 1), -EAGAIN);
        bytes z = read_all(gz);
        CHECK(z.n > 20 && z.n < 4096);
        CHECK_EQ(write(pfd[1], z.p, 20), 20); /* a header and a little more */
        char big[2000];
        CHECK_RC(mmk_decoder_read(d, big, sizeof big), -EAGAIN);
        CHECK_EQ(write(pfd[1], z.p + 20, z.n - 20), (ssize_t)(z.n - 20));
        close(pfd[1]);
        pfd[1] = -1;
        bytes got = {0};
        int64_t r;
        while ((r = mmk_decoder_read(d, big, 1 + check_rnd_below(sizeof big))) > 0)
            bytes_add(&got, big, (size_t)r);
        CHECK_EQ(r, 0);
        const bytes *want = &set_named("log-1k")->data;
        CHECK(got.n == want->n && same(got.p, want->p, got.n));
        mmk_decoder_free(d);
        free(z.p);
        free(got.p);
    }
    close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    /* the inflater hook */
    CHECK_RC(mmk__decode_set_inflater(7), -EINVAL);
    CHECK_OK(mmk__decode_set_inflater(MMK__INFLATE_AUTO));
    CHECK_EQ(mmk__decoder_inflater(NULL), 0);
}

/* The decoding thread (src/decode.c, "decoding on a thread of its own"):
   which decoders use it, and a decoder freed while its thread runs ahead
   (grep -q, -l, -m stop reading early) stops it and frees everything. The
   data and errors through the thread are the format cases' (main runs them
   with and without it). */
static void test_async(void) {
    CHECK_RC(mmk__decode_set_async(7), -EINVAL);
    CHECK_EQ(mmk__decoder_async(NULL), 0);
    const char *files[] = {"log-1200k.0.gz", "log-1200k.0.zst", "log-1200k.0.xz",
                           "log-1200k.0.bz2"};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const bytes *want = &set_named("log-1200k")->data;
    for (int f = 0; f < 4; f++) {
        const char *file = path(files[f]);
        if (access(file, R_OK) != 0)
            continue; /* that format is not in this build or has no tool */
        for (int mode = 0; mode < 3; mode++) {
            static const int modes[] = {MMK__ASYNC_AUTO, MMK__ASYNC_ON, MMK__ASYNC_OFF};
            CHECK_OK(mmk__decode_set_async(modes[mode]));
            int fd = open(file, O_RDONLY | O_CLOEXEC);
            mmk_decoder *d = NULL;
            CHECK_OK(mmk_decoder_open(&d, fd, MMK_COMP_NONE));
            int expect =
                modes[mode] == MMK__ASYNC_ON || (modes[mode] == MMK__ASYNC_AUTO && cores > 1);
            CHECK_EQ(mmk__decoder_async(d), expect);
            /* stop after a byte, after a little, or at half of the data */
            static uint8_t buf[1 << 16];
            size_t stop_at = mode == 0 ? 1 : mode == 1 ? 70000 : want->n / 2, got = 0;
            while (got < stop_at) {
                size_t n = stop_at - got < sizeof buf ? stop_at - got : sizeof buf;
                int64_t r = mmk_decoder_read(d, buf, n);
                CHECK(r > 0);
                if (r <= 0)
                    break;
                CHECK(same(buf, want->p + got, (size_t)r));
                got += (size_t)r;
            }
            mmk_decoder_free(d); /* the thread, ahead by a ring or done, stops */
            close(fd);
        }
    }
    /* Pass-through never uses the thread; a pipe only when asked to. */
    CHECK_OK(mmk__decode_set_async(MMK__ASYNC_ON));
    int fd = open(path("log-1k"), O_RDONLY | O_CLOEXEC);
    mmk_decoder *d = NULL;
    CHECK_OK(mmk_decoder_open(&d, fd, MMK_COMP_NONE));
    CHECK_EQ(mmk__decoder_async(d), 0);
    mmk_decoder_free(d);
    close(fd);
    const char *gz = path("log-1k.0.gz");
    if (access(gz, R_OK) == 0) {
        for (int mode = 0; mode < 2; mode++) {
            CHECK_OK(mmk__decode_set_async(mode ? MMK__ASYNC_ON : MMK__ASYNC_AUTO));
            int pfd[2];
            CHECK_OK(pipe2(pfd, O_CLOEXEC));
            bytes z = read_all(gz);
            CHECK_EQ(write(pfd[1], z.p, z.n), (ssize_t)z.n); /* fits in the pipe */
            close(pfd[1]);
            CHECK_OK(mmk_decoder_open(&d, pfd[0], MMK_COMP_NONE));
            CHECK_EQ(mmk__decoder_async(d), mode);
            bytes got = {0};
            int64_t r;
            static uint8_t big[4096];
            while ((r = mmk_decoder_read(d, big, 1 + check_rnd_below(sizeof big))) > 0)
                bytes_add(&got, big, (size_t)r);
            CHECK_EQ(r, 0);
            const bytes *w = &set_named("log-1k")->data;
            CHECK(got.n == w->n && same(got.p, w->p, got.n));
            mmk_decoder_free(d);
            close(pfd[0]);
            free(z.p);
            free(got.p);
        }
    }
    CHECK_OK(mmk__decode_set_async(MMK__ASYNC_AUTO));
}

/* ---- main ------------------------------------------------------------------ */

int main(void) {
    snprintf(dir, sizeof dir, "%s/test_decode.%d", check_tmpdir(), (int)getpid());
    if (mkdir(dir, 0700) != 0) {
        perror(dir);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    test_detect();
    make_sets();
    test_passthrough();

    static const struct {
        int format;
        const char *tool, *ext;
        void (*cases)(void);
    } formats[] = {{MMK_COMP_GZIP, "gzip", "gz", gzip_cases},
                   {MMK_COMP_ZSTD, "zstd", "zst", zstd_cases},
                   {MMK_COMP_XZ, "xz", "xz", xz_cases},
                   {MMK_COMP_BZIP2, "bzip2", "bz2", bzip2_cases}};
    /* Under TSan (CHECK_TSAN) gzip alone, with one inflater: the decoder's
       thread and its hand-over are the same for every format, and each
       format's cases are a few hundred tool runs and decodes that the plain
       and ASan builds check. */
    for (int f = 0; f < (CHECK_TSAN ? 1 : 4); f++) {
        current_format = formats[f].format;
        current_tool = formats[f].tool;
        current_inflater = "";
        if (!have_tool(formats[f].tool)) {
            printf("skipped: %s (no %s command)\n", mmk_compression_name(current_format),
                   formats[f].tool);
            continue;
        }
        if (!mmk_compression_supported(current_format)) {
            printf("skipped: %s (not in this build; checked that it answers MMK_ENOTSUP)\n",
                   mmk_compression_name(current_format));
            check_unsupported(formats[f].ext);
            continue;
        }
        unsigned before = cases_run;
        tool_checks = 1;
        if (current_format == MMK_COMP_GZIP) {
            static const int inflaters[] = {MMK__INFLATE_ISAL, MMK__INFLATE_ZLIB};
            static const char *const names[] = {"isa-l", "zlib"};
            for (int k = 0; k < 2; k++) {
                if (mmk__decode_set_inflater(inflaters[k]) != 0) {
                    printf("skipped: gzip with %s (not in this build)\n", names[k]);
                    continue;
                }
                current_inflater = names[k];
                /* the decoder uses the inflater asked for */
                int fd = open(path("log-1k"), O_RDONLY | O_CLOEXEC);
                mmk_decoder *d;
                CHECK_OK(mmk_decoder_open(&d, fd, MMK_COMP_GZIP));
                CHECK_EQ(mmk__decoder_inflater(d), inflaters[k]);
                mmk_decoder_free(d);
                close(fd);
                formats[f].cases();
                tool_checks = 0;
                if (CHECK_TSAN)
                    break; /* one inflater there */
            }
            CHECK_OK(mmk__decode_set_inflater(MMK__INFLATE_AUTO));
        } else {
            formats[f].cases();
        }
        printf("%s: %u cases\n", mmk_compression_name(current_format), cases_run - before);
    }
    CHECK_OK(mmk__decode_set_async(MMK__ASYNC_AUTO));
    test_async();
    test_forced();
    test_errors();

    run("rm -rf '%s'", dir);
    return CHECK_DONE();
}
