/*
 * test_big_file.c — a file larger than 4 GiB (and, in the 32-bit tree, larger
 * than the address space): a sparse 5 GiB file (ftruncate: the holes cost no
 * disk) with marker lines written before 4 GiB, across the 4 GiB boundary and
 * past 4.5 GiB. Line counts, match counts, line numbers, line offsets and
 * match offsets through the C API must all be exact, and maps at offsets past
 * 4 GiB must show the markers. The expected numbers are computed here from
 * what was written: the holes read as NUL bytes, which are not newlines, so
 * a line can hold gigabytes of NULs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define GIB (1ull << 30)
#define FILE_SIZE (5 * GIB)

/* The written pieces, in file order, far apart (zeros between them). */
struct piece {
    uint64_t off;
    const char *text;
};
static const struct piece pieces[] = {
    {1000, "first MARKER a\n"},
    /* "MARKER" straddles 4 GiB: its "MA" ends at 2^32 - 1. */
    {4 * GIB - 11, "\nstraddle MARKER b\n"},
    {4 * GIB + GIB / 2 + 12345, "\nlate MARKER c\nlate MARKER d MARKER\n"},
    /* The last line has no newline: it runs to the end of the file. */
    {FILE_SIZE - 3 * 4096 - 7, "\nlast MARKER e"},
};
#define NPIECES (sizeof pieces / sizeof pieces[0])
static const char needle[] = "MARKER";

/* What the file holds, from `pieces` alone: one entry per MARKER. */
struct expect {
    uint64_t match_off;
    uint64_t line_no;
    uint64_t line_off;
    uint64_t line_len; /* without the newline */
};
static struct expect exp_match[16];
static size_t nexp;
static uint64_t exp_newlines;

static void compute_expected(void) {
    uint64_t nl = 0, line_start = 0;
    size_t first_open = 0; /* exp_match[first_open..nexp) are on the line not yet ended */
    for (size_t i = 0; i < NPIECES; i++) {
        const char *t = pieces[i].text;
        size_t n = strlen(t);
        for (size_t k = 0; k < n; k++) {
            uint64_t at = pieces[i].off + k;
            if (t[k] == '\n') {
                for (; first_open < nexp; first_open++)
                    exp_match[first_open].line_len = at - exp_match[first_open].line_off;
                nl++;
                line_start = at + 1;
            } else if (n - k >= strlen(needle) && memcmp(t + k, needle, strlen(needle)) == 0) {
                struct expect *e = &exp_match[nexp++];
                e->match_off = at;
                e->line_no = nl + 1;
                e->line_off = line_start;
            }
        }
    }
    for (; first_open < nexp; first_open++)
        exp_match[first_open].line_len = FILE_SIZE - exp_match[first_open].line_off;
    exp_newlines = nl;
}

/* The file, made once: sparse, so it costs a few pages of disk. */
static int make_file(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)FILE_SIZE) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    for (size_t i = 0; i < NPIECES; i++) {
        size_t n = strlen(pieces[i].text);
        if (pwrite(fd, pieces[i].text, n, (off_t)pieces[i].off) != (ssize_t)n) {
            close(fd);
            return -EIO;
        }
    }
    return fd;
}

/* ---- the searcher ------------------------------------------------------- */

struct seen {
    uint64_t span_off[16];
    size_t nspans;
    struct {
        uint64_t line_no, offset, len, matches;
        char tail[32]; /* the line's last bytes */
    } line[16];
    size_t nlines;
};

static int on_span(uint64_t start, uint64_t end, void *user) {
    struct seen *s = user;
    CHECK_EQ(end - start, strlen(needle));
    if (s->nspans < 16)
        s->span_off[s->nspans] = start;
    s->nspans++;
    return 0;
}

static int on_line(const mmk_line *l, void *user) {
    struct seen *s = user;
    if (s->nlines < 16) {
        s->line[s->nlines].line_no = l->line_no;
        s->line[s->nlines].offset = l->offset;
        s->line[s->nlines].len = l->len;
        s->line[s->nlines].matches = l->matches;
        size_t k = l->len < 31 ? l->len : 31;
        memcpy(s->line[s->nlines].tail, l->bytes + l->len - k, k);
        s->line[s->nlines].tail[k] = 0;
        /* spans are relative to the line */
        for (size_t q = 0; q < l->nspans; q++)
            on_span(l->offset + l->spans[q].start, l->offset + l->spans[q].end, &s[1]);
    }
    s->nlines++;
    return 0;
}

/* The lines the sink saw are the expected ones: numbers, offsets, lengths,
   match counts, and their text ends as written. */
static void check_lines(const struct seen *s, uint64_t base) {
    size_t want = 0;
    for (size_t i = 0; i < nexp; i++)
        if (i == 0 || exp_match[i].line_off != exp_match[i - 1].line_off)
            want++;
    CHECK_EQ(s->nlines, want);
    size_t li = 0;
    for (size_t i = 0; i < nexp && li < s->nlines && li < 16; li++) {
        const struct expect *e = &exp_match[i];
        uint64_t m = 0;
        while (i < nexp && exp_match[i].line_off == e->line_off)
            i++, m++;
        CHECK_EQ(s->line[li].line_no, e->line_no);
        CHECK_EQ(s->line[li].offset, e->line_off - base);
        CHECK_EQ(s->line[li].len, e->line_len);
        CHECK_EQ(s->line[li].matches, m);
        /* the last piece of text on the line, from what was written */
        uint64_t end = e->line_off + e->line_len;
        for (size_t p = 0; p < NPIECES; p++) {
            uint64_t po = pieces[p].off, pn = strlen(pieces[p].text);
            if (end > po && end <= po + pn) {
                size_t k = s->line[li].len < 31 ? (size_t)s->line[li].len : 31;
                size_t j = k < end - po ? k : (size_t)(end - po);
                CHECK_MEM(s->line[li].tail + k - j, pieces[p].text + (end - po) - j, j);
            }
        }
    }
}

static void test_search(int fd, int maps_ok) {
    mmk_pattern *lit = NULL, *lines = NULL, *rx = NULL;
    CHECK_OK(mmk_pattern_compile(&lit, needle, strlen(needle), MMK_PAT_FIXED, NULL));
    CHECK_OK(mmk_pattern_compile(&lines, needle, strlen(needle), MMK_PAT_LINES, NULL));
    /* a whole-input regex (no line rules): its matches have no length bound */
    CHECK_OK(mmk_pattern_compile(&rx, "MARK(?:ER)", 10, 0, NULL));
    mmk_input in = {0};
    in.kind = MMK_INPUT_FD;
    in.fd = fd;

    uint64_t n = 0;
    CHECK_OK(mmk_count_lines(&in, NULL, &n));
    CHECK_EQ(n, exp_newlines);
    n = 0;
    CHECK_OK(mmk_count(lit, &in, NULL, &n));
    CHECK_EQ(n, nexp);
    n = 0;
    CHECK_OK(mmk_count(rx, &in, NULL, &n));
    CHECK_EQ(n, nexp);

    /* grep -n -b -o: lines (numbers, offsets) and the matches' offsets */
    struct seen s[2];
    memset(s, 0, sizeof s);
    mmk_search_options so = {0};
    so.flags = MMK_SEARCH_SPANS;
    mmk_sink sink = {on_line, NULL, s};
    mmk_search_result res;
    CHECK_OK(mmk_search(lines, &in, NULL, &so, &sink, &res));
    CHECK_EQ(res.matches, nexp);
    check_lines(&s[0], 0);
    CHECK_EQ(s[1].nspans, nexp);
    for (size_t i = 0; i < nexp && i < s[1].nspans; i++)
        CHECK_EQ(s[1].span_off[i], exp_match[i].match_off);

    /* the whole-input matcher's offsets */
    memset(s, 0, sizeof s);
    CHECK_OK(mmk_matches(rx, &in, NULL, on_span, &s[1]));
    CHECK_EQ(s[1].nspans, nexp);
    for (size_t i = 0; i < nexp && i < s[1].nspans; i++)
        CHECK_EQ(s[1].span_off[i], exp_match[i].match_off);

    /* a range of the file that starts past 4 GiB: offsets relative to it */
    uint64_t base = 4 * GIB + 4096;
    mmk_input r = mmk_input_fd_range(fd, base, FILE_SIZE - base);
    n = 0;
    CHECK_OK(mmk_count(lit, &r, NULL, &n));
    size_t past = 0;
    while (past < nexp && exp_match[past].match_off < base)
        past++;
    CHECK_EQ(n, nexp - past);
    /* the spans of a range are found over a map of the range alone */
    memset(s, 0, sizeof s);
    CHECK_OK(mmk_matches(lit, &r, NULL, on_span, &s[1]));
    if (maps_ok) {
        CHECK_EQ(s[1].nspans, nexp - past);
        for (size_t i = past; i < nexp && i - past < s[1].nspans; i++)
            CHECK_EQ(s[1].span_off[i - past], exp_match[i].match_off - base);
    }

    mmk_pattern_free(lit);
    mmk_pattern_free(lines);
    mmk_pattern_free(rx);
}

/* ---- maps --------------------------------------------------------------- */

/* Whether a map at an offset past 4 GiB shows the file's bytes there. Always
   on a kernel; qemu-i386 7.2 (the emulator the 32-bit tree falls back to on
   kernels that run no 32-bit program) cuts mmap offsets to 32 bits, which no
   library can work around: then the checks that read such maps are left out,
   with a note, and only where an emulator runs the test. */
static int maps_past_4g_work(int fd) {
    uint64_t off = (pieces[2].off + 1) & ~(uint64_t)4095;
    char want[4096];
    if (pread(fd, want, sizeof want, (off_t)off) != (ssize_t)sizeof want)
        return 0;
    void *p = mmap(NULL, sizeof want, PROT_READ, MAP_SHARED, fd, (off_t)off);
    if (p == MAP_FAILED)
        return 0;
    int same = memcmp(p, want, sizeof want) == 0;
    munmap(p, sizeof want);
    if (!same && getenv("MMK_TEST_EMULATOR")) {
        printf("note: under %s a map at an offset past 4 GiB shows other bytes (the "
               "emulator cuts mmap offsets to 32 bits): the checks of such maps are left "
               "to a native 32-bit run\n",
               getenv("MMK_TEST_EMULATOR"));
        return 0;
    }
    CHECK(same);
    return 1;
}

static void test_maps(int fd, int maps_ok) {
    mmk_options o = {0};
    o.access = MMK_ACCESS_READ;
    mmk_map *m = NULL;

    /* A window at a byte offset past 4.5 GiB, not page-aligned: it starts
       exactly at the marker line. */
    const struct piece *late = &pieces[2];
    o.offset = late->off + 1;
    o.length = 64;
    CHECK_OK(mmk_open_fd(&m, fd, &o));
    if (m) {
        CHECK_EQ(mmk_offset(m), late->off + 1);
        CHECK_EQ(mmk_length(m), 64);
    }
    if (m && maps_ok) {
        CHECK_MEM(mmk_data(m), late->text + 1, strlen(late->text) - 1);
        int64_t pos = -1;
        CHECK_OK(mmk_find(m, "d MARKER", 8, 0, MMK_DEFAULT_POS, &pos));
        CHECK_EQ(pos, strstr(late->text, "d MARKER") - late->text - 1);
        uint64_t size = 0;
        CHECK_OK(mmk_file_size(m, &size));
        CHECK_EQ(size, FILE_SIZE);
        /* the search runs over the window alone */
        mmk_pattern *lit = NULL;
        CHECK_OK(mmk_pattern_compile(&lit, needle, strlen(needle), MMK_PAT_FIXED, NULL));
        uint64_t n = 0;
        mmk_input in = mmk_input_map(m, MMK_DEFAULT_POS, MMK_DEFAULT_POS);
        CHECK_OK(mmk_count(lit, &in, NULL, &n));
        CHECK_EQ(n, 3);
        mmk_pattern_free(lit);
    }
    if (m) {
        CHECK_OK(mmk_free(m));
        m = NULL;
    }

    /* The window across 4 GiB: the straddling marker reads whole. */
    const struct piece *mid = &pieces[1];
    o.offset = mid->off;
    o.length = strlen(mid->text);
    CHECK_OK(mmk_open_fd(&m, fd, &o));
    if (m) {
        char buf[64];
        CHECK_OK(mmk_copy_out(m, 0, buf, strlen(mid->text)));
        CHECK_MEM(buf, mid->text, strlen(mid->text));
        CHECK_OK(mmk_free(m));
        m = NULL;
    }

    /* The window of the last bytes, to the end of the file (length 0). */
    const struct piece *last = &pieces[3];
    o.offset = last->off;
    o.length = 0;
    CHECK_OK(mmk_open_fd(&m, fd, &o));
    if (m) {
        CHECK_EQ(mmk_length(m), FILE_SIZE - last->off);
        if (maps_ok)
            CHECK_MEM(mmk_data(m), last->text, strlen(last->text));
        CHECK_OK(mmk_free(m));
        m = NULL;
    }

    /* The whole file: mapped where the address space holds it; refused with
       a clear error where it cannot (a 32-bit process), the handle unset. */
    o.offset = 0;
    o.length = 0;
    int rc = mmk_open_fd(&m, fd, &o);
    if (sizeof(void *) >= 8) {
        CHECK_OK(rc);
        if (m) {
            int64_t pos = -1;
            CHECK_OK(mmk_find(m, "last MARKER", 11, (int64_t)(4 * GIB), MMK_DEFAULT_POS, &pos));
            CHECK_EQ(pos, last->off + 1);
            CHECK_OK(mmk_free(m));
        }
    } else {
        CHECK(rc == -ENOMEM || rc == -EOVERFLOW);
        CHECK(m == NULL);
        printf("note: a map of the whole %llu-byte file is refused here: %s\n",
               (unsigned long long)FILE_SIZE, mmk_strerror(rc));
    }
}

int main(void) {
    compute_expected();
    char path[4096];
    snprintf(path, sizeof path, "%s/big_file_%ld.dat", check_tmpdir(), (long)getpid());
    int fd = make_file(path);
    if (fd < 0) {
        fprintf(stderr, "cannot make a sparse %llu-byte file at %s: %s\n",
                (unsigned long long)FILE_SIZE, path, mmk_strerror(fd));
        CHECK(0);
        return CHECK_DONE();
    }
    unlink(path); /* the descriptor keeps it while the test runs */
    printf("%zu markers, %llu newlines, %zu-bit pointers\n", nexp, (unsigned long long)exp_newlines,
           sizeof(void *) * 8);
    int maps_ok = maps_past_4g_work(fd);
    test_search(fd, maps_ok);
    test_maps(fd, maps_ok);
    close(fd);
    return CHECK_DONE();
}
