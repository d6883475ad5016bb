/*
 * inflate.c — decompression throughput of mmk_decoder (every format it reads)
 * and, for gzip, of the three inflaters it could be built on: ISA-L and zlib
 * streaming through mmk_decoder, libdeflate on the whole file in memory (it
 * cannot stream). Prints MB/s of decompressed output, best of the runs.
 * The figures in src/decode.c come from here.
 *
 * Usage: inflate [-r RUNS] [-b READ_SIZE] FILE...
 *   each FILE is decoded by mmk_decoder (format detected); a gzip file also
 *   with zlib and with libdeflate when this build has them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mmkit.h"

#include "decode.h"

#ifdef MMK_BENCH_LIBDEFLATE
#include <libdeflate.h>
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Decode `path` with mmk_decoder in reads of `bs` bytes: output bytes, or -1. */
static int64_t run_decoder(const char *path, size_t bs, uint8_t *buf, int *format) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    mmk_decoder *d;
    int rc = mmk_decoder_open(&d, fd, MMK_COMP_NONE);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", path, mmk_strerror(rc));
        close(fd);
        return -1;
    }
    *format = mmk_decoder_format(d);
    int64_t total = 0, r;
    while ((r = mmk_decoder_read(d, buf, bs)) > 0)
        total += r;
    mmk_decoder_free(d);
    close(fd);
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", path, mmk_strerror((int)r));
        return -1;
    }
    return total;
}

#ifdef MMK_BENCH_LIBDEFLATE
/* The output buffer of run_libdeflate, kept from run to run. */
static uint8_t *ld_out;
static size_t ld_cap;

/* The whole file in memory, every member decoded in one call each into one
   output buffer: output bytes, or -1. *decode_s is the time of the
   decompression calls alone. The output buffer is kept between runs: the
   first run pays a page fault per page of fresh memory (slow on this VM:
   seconds for 500 MB), which is part of what the whole-buffer approach costs,
   reported separately as the first run's total. */
static int64_t run_libdeflate(const char *path, double *decode_s) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -1;
    size_t n = (size_t)st.st_size, have = 0;
    uint8_t *in = malloc(n ? n : 1);
    while (in && have < n) {
        ssize_t r = read(fd, in + have, n - have);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    close(fd);
    if (!in || have != n || n < 18) {
        free(in);
        return -1;
    }
    if (!ld_out) {
        /* ISIZE of the last member (its size mod 2^32) and an eighth more;
           grown below when there are several members */
        size_t cap = (size_t)in[n - 4] | (size_t)in[n - 3] << 8 | (size_t)in[n - 2] << 16 |
                     (size_t)in[n - 1] << 24;
        ld_cap = cap < (1u << 20) ? (1u << 20) : cap + (cap >> 3);
        ld_out = malloc(ld_cap);
    }
    struct libdeflate_decompressor *dd = libdeflate_alloc_decompressor();
    int64_t total = 0;
    size_t pos = 0;
    *decode_s = 0;
    while (ld_out && dd && pos < n) {
        size_t used = 0, made = 0;
        double t0 = now();
        enum libdeflate_result res = libdeflate_gzip_decompress_ex(
            dd, in + pos, n - pos, ld_out + total, ld_cap - (size_t)total, &used, &made);
        *decode_s += now() - t0;
        if (res == LIBDEFLATE_INSUFFICIENT_SPACE) {
            uint8_t *bigger = realloc(ld_out, ld_cap * 2);
            if (!bigger)
                break;
            ld_out = bigger;
            ld_cap *= 2;
            continue;
        }
        if (res != LIBDEFLATE_SUCCESS) {
            total = -1;
            break;
        }
        pos += used;
        total += (int64_t)made;
    }
    libdeflate_free_decompressor(dd);
    free(in);
    return ld_out ? total : -1;
}
#endif

int main(int argc, char **argv) {
    int runs = 3;
    size_t bs = 256 * 1024;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc)
            bs = (size_t)strtoull(argv[++i], NULL, 10);
        else
            break;
    }
    if (i >= argc || runs < 1 || bs < 1) {
        fprintf(stderr, "usage: inflate [-r RUNS] [-b READ_SIZE] FILE...\n");
        return 2;
    }
    uint8_t *buf = malloc(bs);
    if (!buf)
        return 2;
    for (; i < argc; i++) {
        const char *path = argv[i];
        int format = 0;
        /* gzip: ISA-L and zlib in turn; other formats: the one decoder */
        static const int inflaters[] = {MMK__INFLATE_ISAL, MMK__INFLATE_ZLIB};
        static const char *const names[] = {"isa-l", "zlib"};
        for (int k = 0; k < 2; k++) {
            if (mmk__decode_set_inflater(inflaters[k]) != 0)
                continue;
            double best = 0;
            int64_t bytes = -1;
            for (int r = 0; r < runs; r++) {
                double t0 = now();
                bytes = run_decoder(path, bs, buf, &format);
                double t = now() - t0;
                if (bytes < 0)
                    return 1;
                if (best == 0 || t < best)
                    best = t;
            }
            printf("%s\t%s\tmmk_decoder %s, %zu-byte reads\t%.0f MB/s\t(%lld bytes)\n", path,
                   mmk_compression_name(format), format == MMK_COMP_GZIP ? names[k] : "", bs,
                   (double)bytes / best / 1e6, (long long)bytes);
            if (format != MMK_COMP_GZIP)
                break;
        }
        mmk__decode_set_inflater(MMK__INFLATE_AUTO);
#ifdef MMK_BENCH_LIBDEFLATE
        if (format == MMK_COMP_GZIP) {
            double first = 0, best_decode = 0;
            int64_t bytes = -1;
            for (int r = 0; r < runs + 1; r++) {
                double decode = 0, t0 = now();
                bytes = run_libdeflate(path, &decode);
                double t = now() - t0;
                if (bytes < 0) {
                    fprintf(stderr, "%s: libdeflate failed\n", path);
                    return 1;
                }
                if (r == 0)
                    first = t;
                else if (best_decode == 0 || decode < best_decode)
                    best_decode = decode;
            }
            free(ld_out);
            ld_out = NULL;
            printf("%s\tgzip\tlibdeflate, whole file: decoding alone, warm output buffer\t%.0f "
                   "MB/s\n",
                   path, (double)bytes / best_decode / 1e6);
            printf("%s\tgzip\tlibdeflate, whole file: first run (read, allocate, decode)\t%.0f "
                   "MB/s\t(%lld bytes)\n",
                   path, (double)bytes / first / 1e6, (long long)bytes);
        }
#endif
    }
    free(buf);
    return 0;
}
