/*
 * test_no_cache.c — the scan's page-cache steering on a regular file larger
 * than the steering threshold (src/scan.c, cache_steer): read-ahead hints
 * ahead of the workers, our own map unmapped behind the scan, and
 * MMK_SCAN_NO_CACHE dropping the file's pages behind the scan and at its end.
 *
 * Every job (literal and regex counts, line counts, word counts, matching
 * lines, read and mapped, 1 and 2 threads) must give the same results with
 * and without the flag, and the results computed here from what was written.
 * mmk__os.file_advise and mmk__os.advise are wrapped to record the advice the
 * scan gave: WILLNEED over the whole file in order, DONTNEED behind the scan
 * and over the whole input at the end only with the flag, never for pipes;
 * a platform call that fails changes no result. On Linux, mincore() on a map
 * of the file shows its pages gone from the cache after a scan with the flag
 * and still there after one without (skipped on tmpfs, whose pages are the
 * file). Unknown flags are -EINVAL.
 *
 * Files larger than memory are read past the page cache, through a ring of
 * O_DIRECT blocks (dring_* in scan.c); mmk__scan_direct_min forces that path
 * here on the small file: every job over the whole file and over an odd
 * range, with tiny and default chunks, must equal the same job over the
 * bytes in memory, with the ring's reads counted (it was used), and with its
 * open or its reads failing (the scan reads the ordinary way instead).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <sys/vfs.h>
#endif

#include "check.h"
#include "os.h"
#include "scan.h"
#include "test_scan_util.h"

#define MIB (1ull << 20)
/* Larger than SCAN_STEER_MIN (64 MiB) and a few SCAN_BEHIND_STEPs. */
#define COPIES 96u

/* ---- recording the advice ------------------------------------------------ */

#define MAX_CALLS 4096
typedef struct advice_call {
    int advice;
    uint64_t off, len;
} advice_call;
static advice_call calls[MAX_CALLS];
static unsigned ncalls;
static int fail_advice; /* 0: pass through; else the code every call returns */
static unsigned map_dontneed, map_huge;
static int native_dontneed = -1, native_huge = -1;

/* Only the calling thread of a scan gives advice: no lock needed. */
static int rec_file_advise(int fd, uint64_t off, uint64_t len, int advice) {
    if (ncalls < MAX_CALLS)
        calls[ncalls++] = (advice_call){advice, off, len};
    if (fail_advice)
        return fail_advice;
    return mmk__os_default.file_advise(fd, off, len, advice);
}

static int rec_advise(void *addr, size_t len, int native) {
    if (native == native_dontneed)
        map_dontneed++;
    if (native == native_huge)
        map_huge++;
    return mmk__os_default.advise(addr, len, native);
}

/* Whether maps read fast (mmk__os.file_maps_fast), forced both ways so that
   both policies run on every kernel. */
static int forced_fast;
static int forced_maps_fast(int fd) {
    (void)fd;
    return forced_fast;
}

/* Maps of files made while counted_map is installed. */
static unsigned maps_made;
static int counted_map(int fd, uint64_t offset, size_t len, unsigned how, int native_flags,
                       void **addr) {
    maps_made += fd >= 0;
    return mmk__os_default.map(fd, offset, len, how, native_flags, addr);
}

static void rec_reset(void) {
    ncalls = 0;
    map_dontneed = map_huge = 0;
}

static unsigned count_advice(int advice) {
    unsigned n = 0;
    for (unsigned i = 0; i < ncalls; i++)
        n += calls[i].advice == advice;
    return n;
}

/* WILLNEED was given for [0, size) in order, each call where the last ended. */
static int willneed_covers(uint64_t size) {
    uint64_t at = 0;
    for (unsigned i = 0; i < ncalls; i++) {
        if (calls[i].advice != MMK__OS_FILE_WILLNEED)
            continue;
        if (calls[i].off != at)
            return 0;
        at += calls[i].len;
    }
    return at == size;
}

/* MMK_TEST_QUICK (the TSan runs): the heavy jobs (words, regex, spans) and
   most configurations are left out; the advice and residency checks stay. */
static int quick;

/* ---- the file ------------------------------------------------------------ */

static uint8_t *block;
static size_t block_len;
static uint64_t exp_needle, exp_regex, exp_lines, exp_words, exp_lines_with;

/* A 1 MiB block of lines ending with '\n', so copies never join a match. */
static void make_block(void) {
    static const char *words[] = {"alpha", "beta", "gamma", "needle", "delta", "seventh", "x"};
    block_len = MIB;
    block = malloc(block_len);
    size_t n = 0;
    uint64_t needles = 0, eths = 0, lines = 0, wordsn = 0, with = 0;
    while (n < block_len) {
        char line[200];
        size_t k = 0;
        uint64_t ln = 0, le = 0;
        unsigned nw = 1 + (unsigned)check_rnd_below(9);
        for (unsigned w = 0; w < nw; w++) {
            const char *s = words[check_rnd_below(7)];
            k += (size_t)snprintf(line + k, sizeof line - k, "%s%s", w ? " " : "", s);
            ln += strcmp(s, "needle") == 0;
            le += strcmp(s, "seventh") == 0;
        }
        line[k++] = '\n';
        if (n + k > block_len) {
            /* the block ends with one line of 'z's instead */
            size_t left = block_len - n;
            memset(block + n, 'z', left - 1);
            block[block_len - 1] = '\n';
            lines++;
            wordsn += left > 1;
            break;
        }
        memcpy(block + n, line, k);
        n += k;
        lines++;
        wordsn += nw;
        needles += ln;
        eths += le;
        with += ln > 0;
    }
    exp_needle = needles * COPIES;
    exp_regex = eths * COPIES; /* [a-z]+th: only "seventh" ends in th */
    exp_lines = lines * COPIES;
    exp_words = wordsn * COPIES;
    exp_lines_with = with * COPIES;
}

static const char *make_file(const char *name, unsigned copies) {
    const char *path = ts_path(name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    for (unsigned i = 0; i < copies; i++)
        CHECK(fwrite(block, 1, block_len, f) == block_len);
    CHECK(fflush(f) == 0);
    /* Written back, so that the pages are clean and can be dropped. */
    CHECK(fsync(fileno(f)) == 0);
    fclose(f);
    return path;
}

/* ---- the jobs ------------------------------------------------------------ */

typedef struct results {
    uint64_t needle, regex, lines, words, lines_with, line_spans;
} results;

static int count_sink(const mmk_line *l, void *user) {
    (void)l;
    ++*(uint64_t *)user;
    return 0;
}

static results run_all(int fd, const mmk_scan_options *so) {
    results r;
    memset(&r, 0, sizeof r);
    mmk_input in = mmk_input_fd(fd);
    mmk_pattern *lit = NULL, *re = NULL, *lre = NULL;
    CHECK_EQ(mmk_pattern_compile(&lit, "needle", 6, 0, NULL), 0);
    CHECK_EQ(mmk_pattern_compile(&re, "[a-z]+th", 8, 0, NULL), 0);
    CHECK_EQ(mmk_pattern_compile(&lre, "needle", 6, MMK_PAT_LINES, NULL), 0);
    CHECK_EQ(mmk_count(lit, &in, so, &r.needle), 0);
    if (!quick)
        CHECK_EQ(mmk_count(re, &in, so, &r.regex), 0); /* read piecewise, or our own map */
    CHECK_EQ(mmk_count_lines(&in, so, &r.lines), 0);
    mmk_wordtab *wt = NULL;
    if (!quick)
        CHECK_EQ(mmk_word_counts(&in, so, &wt), 0);
    if (wt) {
        r.words = mmk_wordtab_total(wt);
        mmk_wordtab_free(wt);
    }
    mmk_search_options sopt;
    memset(&sopt, 0, sizeof sopt);
    sopt.flags = MMK_SEARCH_COUNT_ONLY;
    mmk_search_result sr;
    memset(&sr, 0, sizeof sr);
    CHECK_EQ(mmk_search(lre, &in, so, &sopt, NULL, &sr), 0);
    r.lines_with = sr.selected;
    sopt.flags = 0;
    uint64_t seen = 0;
    mmk_sink sink = {count_sink, NULL, &seen};
    if (!quick)
        CHECK_EQ(mmk_search(lre, &in, so, &sopt, &sink, &sr), 0);
    r.line_spans = seen;
    mmk_pattern_free(lit);
    mmk_pattern_free(re);
    mmk_pattern_free(lre);
    return r;
}

static void check_expected(const results *r) {
    CHECK_EQ(r->needle, exp_needle);
    CHECK_EQ(r->lines, exp_lines);
    CHECK_EQ(r->lines_with, exp_lines_with);
    if (quick)
        return;
    CHECK_EQ(r->regex, exp_regex);
    CHECK_EQ(r->words, exp_words);
    CHECK_EQ(r->line_spans, exp_lines_with);
}

/* ---- page residency (Linux) ---------------------------------------------- */

#if defined(__linux__)
/* Pages of the file in the page cache, per thousand, or -1 if unknown. */
static int resident_permille(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size == 0) {
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size, ps = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    size_t pages = (len + ps - 1) / ps, in = 0;
    unsigned char *vec = malloc(pages);
    int rc = vec && mincore(p, len, vec) == 0 ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < pages; i++)
        in += vec[i] & 1;
    free(vec);
    munmap(p, len);
    return rc ? -1 : (int)(in * 1000 / pages);
}

/* Read the whole file, so that it is cached. */
static void warm(int fd) {
    uint8_t *b = malloc(MIB);
    uint64_t off = 0;
    int64_t r;
    while ((r = mmk__os_default.pread(fd, b, MIB, off)) > 0)
        off += (uint64_t)r;
    free(b);
}

static int on_tmpfs(const char *path) {
    struct statfs sf;
    return statfs(path, &sf) == 0 && (unsigned long)sf.f_type == 0x01021994UL;
}
#endif

/* ---- the direct ring ------------------------------------------------------ */

static int direct_fd = -1;
static unsigned direct_opens, direct_reads;
static int direct_open_fails;
static unsigned direct_read_fail_after; /* 0: never */
static mmk__mutex rec_mu;

static int rec_open_direct(int fd) {
    if (direct_open_fails)
        return MMK_ENOTSUP;
    int d = mmk__os_default.open_direct(fd);
    if (d >= 0) {
        direct_fd = d;
        direct_opens++;
    }
    return d;
}

/* Called by the ring's reader threads and the workers at once. */
static int64_t rec_pread(int fd, void *buf, size_t n, uint64_t off) {
    if (fd == direct_fd) {
        mmk__mutex_lock(&rec_mu);
        unsigned k = ++direct_reads;
        mmk__mutex_unlock(&rec_mu);
        if (direct_read_fail_after && k > direct_read_fail_after)
            return -EIO;
    }
    return mmk__os_default.pread(fd, buf, n, off);
}

static results run_bytes(const uint8_t *data, size_t n) {
    results r;
    memset(&r, 0, sizeof r);
    mmk_input in = mmk_input_bytes(data, n);
    mmk_pattern *lit = NULL, *re = NULL, *lre = NULL;
    CHECK_EQ(mmk_pattern_compile(&lit, "needle", 6, 0, NULL), 0);
    CHECK_EQ(mmk_pattern_compile(&re, "[a-z]+th", 8, 0, NULL), 0);
    CHECK_EQ(mmk_pattern_compile(&lre, "needle", 6, MMK_PAT_LINES, NULL), 0);
    CHECK_EQ(mmk_count(lit, &in, NULL, &r.needle), 0);
    CHECK_EQ(mmk_count(re, &in, NULL, &r.regex), 0);
    CHECK_EQ(mmk_count_lines(&in, NULL, &r.lines), 0);
    mmk_wordtab *wt = NULL;
    CHECK_EQ(mmk_word_counts(&in, NULL, &wt), 0);
    if (wt) {
        r.words = mmk_wordtab_total(wt);
        mmk_wordtab_free(wt);
    }
    mmk_search_options sopt;
    memset(&sopt, 0, sizeof sopt);
    sopt.flags = MMK_SEARCH_COUNT_ONLY;
    mmk_search_result sr;
    memset(&sr, 0, sizeof sr);
    CHECK_EQ(mmk_search(lre, &in, NULL, &sopt, NULL, &sr), 0);
    r.lines_with = sr.selected;
    r.line_spans = sr.selected;
    mmk_pattern_free(lit);
    mmk_pattern_free(re);
    mmk_pattern_free(lre);
    return r;
}

/* The piecewise jobs over `in` (the ring serves pread sources only). */
static results run_piecewise(const mmk_input *in, const mmk_scan_options *so) {
    results r;
    memset(&r, 0, sizeof r);
    mmk_pattern *lit = NULL, *re = NULL, *lre = NULL;
    CHECK_EQ(mmk_pattern_compile(&lit, "needle", 6, 0, NULL), 0);
    CHECK_EQ(mmk_pattern_compile(&re, "[a-z]+th", 8, 0, NULL), 0);
    CHECK_EQ(mmk_pattern_compile(&lre, "needle", 6, MMK_PAT_LINES, NULL), 0);
    CHECK_EQ(mmk_count(lit, in, so, &r.needle), 0);
    /* a regex count reads piecewise too: through the ring, partial matching
       reading on past a chunk where a match may need more */
    CHECK_EQ(mmk_count(re, in, so, &r.regex), 0);
    CHECK_EQ(mmk_count_lines(in, so, &r.lines), 0);
    mmk_wordtab *wt = NULL;
    if (!quick)
        CHECK_EQ(mmk_word_counts(in, so, &wt), 0);
    if (wt) {
        r.words = mmk_wordtab_total(wt);
        mmk_wordtab_free(wt);
    }
    mmk_search_options sopt;
    memset(&sopt, 0, sizeof sopt);
    sopt.flags = MMK_SEARCH_COUNT_ONLY;
    mmk_search_result sr;
    memset(&sr, 0, sizeof sr);
    CHECK_EQ(mmk_search(lre, in, so, &sopt, NULL, &sr), 0);
    r.lines_with = sr.selected;
    sopt.flags = 0;
    uint64_t seen = 0;
    mmk_sink sink = {count_sink, NULL, &seen};
    if (!quick)
        CHECK_EQ(mmk_search(lre, in, so, &sopt, &sink, &sr), 0);
    r.line_spans = quick ? r.lines_with : seen;
    mmk_pattern_free(lit);
    mmk_pattern_free(re);
    mmk_pattern_free(lre);
    return r;
}

static void check_piecewise_same(const results *a, const results *b) {
    CHECK_EQ(a->needle, b->needle);
    CHECK_EQ(a->regex, b->regex);
    CHECK_EQ(a->lines, b->lines);
    if (!quick)
        CHECK_EQ(a->words, b->words);
    CHECK_EQ(a->lines_with, b->lines_with);
    CHECK_EQ(a->line_spans, b->lines_with);
}

static void test_direct_ring(int fd, uint64_t size) {
    mmk__mutex_init(&rec_mu);
    uint8_t *data = malloc((size_t)size);
    CHECK(data != NULL);
    CHECK_EQ(mmk__os_default.pread(fd, data, (size_t)size, 0), (int64_t)size);
    /* Direct reads exist on Linux file systems that take O_DIRECT; elsewhere
       (the POSIX-only build, macOS, Windows, tmpfs) the scan must read the
       ordinary way with the same results, and never open one. */
    int probe = mmk__os_default.open_direct(fd);
    int have_direct = probe >= 0;
    if (have_direct)
        mmk__os_default.close(probe);
    else
        printf("test_no_cache: no direct reads here (%d): the ring's fallback is checked instead\n",
               probe);
    mmk__os.open_direct = rec_open_direct;
    mmk__os.pread = rec_pread;
    mmk__scan_direct_min = 1;
    /* the whole file and a range that starts and ends off the blocks */
    uint64_t lo = 4 * MIB + 12345, hi = size - 3 * MIB - 777;
    results whole = run_bytes(data, (size_t)size), part = run_bytes(data + lo, (size_t)(hi - lo));
    if (size == (uint64_t)block_len * COPIES)
        check_expected(&whole);
    /* (threads, chunk size, range): default and tiny chunks, 1 and 2 threads */
    static const struct {
        unsigned threads;
        uint64_t chunk;
        unsigned range;
    } cfg[] = {{2, 0, 0}, {2, 4099, 1}, {1, 1 * MIB, 1}, {1, 0, 0}};
    for (unsigned c = 0; c < (quick ? 2 : sizeof cfg / sizeof cfg[0]); c++) {
        mmk_scan_options so = {0};
        so.threads = cfg[c].threads;
        so.chunk_size = cfg[c].chunk;
        so.io = MMK_IO_READ;
        mmk_input in = cfg[c].range ? mmk_input_fd_range(fd, lo, hi - lo) : mmk_input_fd(fd);
        direct_opens = direct_reads = 0;
        results r = run_piecewise(&in, &so);
        check_piecewise_same(&r, cfg[c].range ? &part : &whole);
        /* 4099-byte chunks with 2 workers still fit the ring's window */
        if (have_direct) {
            CHECK(direct_opens > 0);
            CHECK(direct_reads > 0);
        } else {
            CHECK_EQ(direct_opens, 0);
            CHECK_EQ(direct_reads, 0);
        }
    }
    /* AUTO on a file "larger than memory": the ring, whether maps read fast
       there or not; never a map. */
    for (int v = 0; v < 2; v++) {
        mmk_scan_options so = {0};
        so.threads = 2;
        mmk_input in = mmk_input_fd(fd);
        direct_opens = direct_reads = maps_made = 0;
        forced_fast = v;
        mmk__os.file_maps_fast = forced_maps_fast;
        mmk__os.map = counted_map;
        results r = run_piecewise(&in, &so);
        check_piecewise_same(&r, &whole);
        if (have_direct) {
            CHECK(direct_opens > 0);
            CHECK(direct_reads > 0);
        }
        CHECK_EQ(maps_made, 0);
        mmk__os.file_maps_fast = mmk__os_default.file_maps_fast;
        mmk__os.map = mmk__os_default.map;
    }
    /* No direct I/O here, or reads that fail part way: the ordinary way. */
    direct_open_fails = 1;
    mmk_scan_options so = {0};
    so.threads = 2;
    so.io = MMK_IO_READ;
    mmk_input in = mmk_input_fd(fd);
    direct_opens = direct_reads = 0;
    results r = run_piecewise(&in, &so);
    check_piecewise_same(&r, &whole);
    CHECK_EQ(direct_opens, 0);
    direct_open_fails = 0;
    direct_read_fail_after = 5;
    r = run_piecewise(&in, &so);
    check_piecewise_same(&r, &whole);
    in = mmk_input_fd_range(fd, lo, hi - lo);
    r = run_piecewise(&in, &so);
    check_piecewise_same(&r, &part);
    direct_read_fail_after = 0;
    mmk__scan_direct_min = 0;
    mmk__os.open_direct = mmk__os_default.open_direct;
    mmk__os.pread = mmk__os_default.pread;
    free(data);
    mmk__mutex_destroy(&rec_mu);
}

/* ---- tests --------------------------------------------------------------- */

static void test_flags_checked(int fd) {
    mmk_scan_options so = {0};
    so.flags = 1u << 7;
    uint64_t n = 0;
    mmk_input in = mmk_input_fd(fd);
    CHECK_EQ(mmk_count_lines(&in, &so, &n), -EINVAL);
    so.flags = MMK_SCAN_NO_CACHE;
    CHECK_EQ(mmk_count_lines(&in, &so, &n), 0);
    CHECK_EQ(n, exp_lines);
}

static void test_same_results_and_advice(int fd, uint64_t size) {
    int ios[] = {MMK_IO_AUTO, MMK_IO_READ, MMK_IO_MMAP};
    for (unsigned t = quick ? 2 : 1; t <= 2; t++) {
        for (unsigned i = 0; i < 4; i++) {
            for (int nc = 0; nc <= 1; nc++) {
                mmk_scan_options so = {0};
                so.threads = t;
                so.io = ios[i < 3 ? i : 2];
                /* the map twice: where maps read fast (i 2) and where not */
                forced_fast = i == 2;
                mmk__os.file_maps_fast = forced_maps_fast;
                so.flags = nc ? MMK_SCAN_NO_CACHE : 0;
                /* Every job, in a few of the configurations (each is a pass
                   over the file per job). */
                if (nc && i < 3 && (t == 2) == (i != 1) && (!quick || i == 0) && !CHECK_TSAN) {
                    results r = run_all(fd, &so);
                    check_expected(&r);
                }
                /* One literal count alone: the advice of one scan. */
                rec_reset();
                mmk_pattern *lit = NULL;
                CHECK_EQ(mmk_pattern_compile(&lit, "needle", 6, 0, NULL), 0);
                mmk_input in = mmk_input_fd(fd);
                uint64_t n = 0;
                CHECK_EQ(mmk_count(lit, &in, &so, &n), 0);
                mmk_pattern_free(lit);
                CHECK_EQ(n, exp_needle);
                /* Reads get WILLNEED ahead; our map, where maps read fast,
                   gets the kernel's own read-around (hints made it read 4 KiB
                   pages) and huge-page advice where the platform has it;
                   elsewhere WILLNEED ahead like reads. */
                if (so.io == MMK_IO_MMAP && forced_fast) {
                    CHECK_EQ(count_advice(MMK__OS_FILE_WILLNEED), 0);
                    if (native_huge >= 0)
                        CHECK_EQ(map_huge, 1);
                } else {
                    CHECK(willneed_covers(size));
                }
                unsigned drops = count_advice(MMK__OS_FILE_DONTNEED);
                if (nc) {
                    /* behind the scan, then the whole input at the end */
                    CHECK(drops >= 2);
                    CHECK(ncalls > 0);
                    advice_call last = ncalls ? calls[ncalls - 1] : (advice_call){0, 0, 0};
                    CHECK_EQ(last.advice, MMK__OS_FILE_DONTNEED);
                    CHECK_EQ(last.off, 0);
                    CHECK_EQ(last.len, size);
                } else {
                    CHECK_EQ(drops, 0);
                }
                /* Our own map is unmapped behind the scan. */
                if (so.io == MMK_IO_MMAP && native_dontneed >= 0)
                    CHECK(map_dontneed > 0);
                if (so.io != MMK_IO_MMAP)
                    CHECK_EQ(map_dontneed, 0);
            }
        }
    }
    mmk__os.file_maps_fast = mmk__os_default.file_maps_fast;
}

/* A platform call that fails (or is missing) is only advice not taken. */
static void test_failing_advice(int fd) {
    int codes[] = {-EIO, MMK_ENOTSUP};
    for (unsigned i = 0; i < (quick ? 1u : 2u); i++) {
        fail_advice = codes[i];
        mmk_scan_options so = {0};
        so.threads = 2;
        so.flags = MMK_SCAN_NO_CACHE;
        so.io = i == 1 ? MMK_IO_MMAP : MMK_IO_AUTO;
        results r = run_all(fd, &so);
        check_expected(&r);
    }
    fail_advice = 0;
}

/* Pipes and the caller's bytes take the flag and ignore it. */
static void test_streams_ignore_it(void) {
    size_t n = 3 * MIB;
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i += block_len)
        memcpy(data + i, block, block_len);
    mmk_scan_options so = {0};
    so.flags = MMK_SCAN_NO_CACHE;
    so.threads = 2;
    rec_reset();
    ts_child child = TS_NO_CHILD;
    int rfd = ts_pipe_from_child(data, n, &child);
    CHECK(rfd >= 0);
    uint64_t lines = 0;
    mmk_input in = mmk_input_fd(rfd);
    CHECK_EQ(mmk_count_lines(&in, &so, &lines), 0);
    close(rfd);
    ts_reap(child);
    CHECK_EQ(lines, exp_lines / COPIES * 3);
    mmk_input bin = mmk_input_bytes(data, n);
    CHECK_EQ(mmk_count_lines(&bin, &so, &lines), 0);
    CHECK_EQ(lines, exp_lines / COPIES * 3);
    CHECK_EQ(ncalls, 0);
    free(data);
}

#if defined(__linux__)
static void test_pages_dropped(const char *path, int fd) {
    if (on_tmpfs(path)) {
        printf("skip: page residency on tmpfs (the cache is the file)\n");
        return;
    }
    int ios[] = {MMK_IO_READ, MMK_IO_MMAP};
    for (unsigned i = 0; i < 2; i++) {
        mmk_scan_options so = {0};
        so.io = ios[i];
        mmk_pattern *lit = NULL;
        CHECK_EQ(mmk_pattern_compile(&lit, "needle", 6, 0, NULL), 0);
        mmk_input in = mmk_input_fd(fd);
        uint64_t n = 0;
        warm(fd);
        int before = resident_permille(path);
        CHECK_EQ(mmk_count(lit, &in, &so, &n), 0);
        int kept = resident_permille(path);
        so.flags = MMK_SCAN_NO_CACHE;
        CHECK_EQ(mmk_count(lit, &in, &so, &n), 0);
        int after = resident_permille(path);
        mmk_pattern_free(lit);
        printf("io %d: resident before %d/1000, after a scan %d/1000, after a --no-cache "
               "scan %d/1000\n",
               so.io, before, kept, after);
        CHECK(before > 900);
        CHECK(kept > 500); /* without the flag the pages stay */
        CHECK(after < 10); /* with it they are gone */
        CHECK_EQ(n, exp_needle);
    }
}
#endif

int main(void) {
    quick = check_quick();
    make_block();
    const char *path = make_file("nocache", COPIES);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    uint64_t size = (uint64_t)block_len * COPIES;
    mmk__os_advice(MMK_ADVICE_DONTNEED, &native_dontneed);
    mmk__os_advice(MMK_ADVICE_HUGEPAGE, &native_huge);
    mmk__os.file_advise = rec_file_advise;
    mmk__os.advise = rec_advise;
    test_flags_checked(fd);
    test_same_results_and_advice(fd, size);
    /* Under TSan: the scans' threads with the advice and the direct ring; the
       passes that check results of every job, and page residency, run in the
       plain and ASan builds (each is several passes over 96 MiB). */
    if (!CHECK_TSAN)
        test_failing_advice(fd);
    test_streams_ignore_it();
    mmk__os = mmk__os_default;
#if CHECK_TSAN
    /* The ring's threads over 24 MiB (six turns of its four 4 MiB blocks):
       every job over 96 MiB costs minutes under TSan. */
    const char *small = make_file("nocache-small", 24);
    int sfd = open(small, O_RDONLY);
    CHECK(sfd >= 0);
    test_direct_ring(sfd, (uint64_t)block_len * 24);
    close(sfd);
    unlink(small);
#else
    test_direct_ring(fd, size);
#endif
#if defined(__linux__)
    if (!CHECK_TSAN)
        test_pages_dropped(path, fd);
#endif
    close(fd);
    unlink(path);
    return CHECK_DONE();
}
