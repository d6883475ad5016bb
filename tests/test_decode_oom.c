/*
 * test_decode_oom.c — the decoders under allocation failure: every malloc,
 * calloc and realloc made while opening a decoder and reading it (in mmkit and
 * in zlib, libzstd, liblzma, libbz2) is made to fail in turn. Each must give
 * -ENOMEM (at the open or at a read) or the whole, right output, and free
 * everything it allocated.
 *
 * It replaces the C library's allocator entry points, so it runs without the
 * sanitizers (decode.cmake registers the plain build only), and only on glibc.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "decode.h"

#ifdef __GLIBC__
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static long fail_at = -1, alloc_count;
static long live; /* blocks allocated and not yet freed */

/* Exported (the build hides symbols by default), so that the libraries'
   own allocations come here too. */
#define OOM_EXPORT __attribute__((visibility("default")))

static int inject(void) {
    return fail_at >= 0 && alloc_count++ == fail_at;
}

OOM_EXPORT void *malloc(size_t n) {
    void *r = inject() ? NULL : __libc_malloc(n);
    live += r != NULL;
    return r;
}

OOM_EXPORT void *calloc(size_t n, size_t size) {
    void *r = inject() ? NULL : __libc_calloc(n, size);
    live += r != NULL;
    return r;
}

OOM_EXPORT void *realloc(void *p, size_t n) {
    if (inject())
        return NULL;
    void *r = __libc_realloc(p, n);
    live += (r != NULL) - (p != NULL);
    return r;
}

OOM_EXPORT void free(void *p) {
    live -= p != NULL;
    __libc_free(p);
}

static char dir[512];
static uint8_t data[60000];
static uint8_t got[sizeof data + 1];

/* Decode `file` with allocation number `k` failing: 0 when it gave the data,
   -ENOMEM when it said so, another code on a wrong answer. *tried is set
   when allocation k happened at all. */
static int attempt(const char *file, long k, int *tried) {
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    long before = live;
    alloc_count = 0;
    fail_at = k;
    mmk_decoder *d = NULL;
    int rc = mmk_decoder_open(&d, fd, MMK_COMP_NONE);
    size_t n = 0;
    if (rc == 0) {
        /* a small read first (the staging buffer), then large ones */
        int64_t r = mmk_decoder_read(d, got, 1);
        while (r > 0) {
            n += (size_t)r;
            if (n > sizeof data) {
                r = -ERANGE;
                break;
            }
            r = mmk_decoder_read(d, got + n, sizeof got - n);
        }
        rc = (int)r;
        mmk_decoder_free(d);
    }
    fail_at = -1;
    *tried = alloc_count > k;
    close(fd);
    CHECK_EQ(live, before); /* everything allocated was freed */
    if (rc == 0 && (n != sizeof data || memcmp(got, data, n) != 0))
        return -EILSEQ;
    return rc;
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/test_decode_oom.%d", check_tmpdir(), (int)getpid());
    if (mkdir(dir, 0700) != 0) {
        perror(dir);
        return 2;
    }
    printf("allocation failures in the decoders\n"); /* stdout's buffer, before counting */
    /* log-like lines: several deflate blocks, one bzip2 block */
    size_t pos = 0;
    for (unsigned i = 0; pos < sizeof data; i++) {
        char line[100];
        int k = snprintf(line, sizeof line, "2026-11-30T08:%02u:%02u host%u GET /item/%u 200\n",
                         i / 60 % 60, i % 60, i % 7, (unsigned)(check_rnd() % 100000));
        for (int j = 0; j < k && pos < sizeof data; j++)
            data[pos++] = (uint8_t)line[j];
    }
    char raw[600];
    snprintf(raw, sizeof raw, "%s/data", dir);
    CHECK_OK(check_write_file(raw, data, sizeof data, 0600));

    static const struct {
        int format;
        const char *tool;
        int inflater;
    } cases[] = {{MMK_COMP_NONE, NULL, 0},
                 {MMK_COMP_GZIP, "gzip", MMK__INFLATE_ISAL},
                 {MMK_COMP_GZIP, "gzip", MMK__INFLATE_ZLIB},
                 {MMK_COMP_ZSTD, "zstd -q", 0},
                 {MMK_COMP_XZ, "xz", 0},
                 {MMK_COMP_BZIP2, "bzip2", 0}};
    /* The decoding thread's counts would race with this file's (and glibc
       keeps a thread's TLS past its join): the reads run on the caller's
       thread here; the ring the thread would fill is allocated by the open,
       checked below. */
    CHECK_OK(mmk__decode_set_async(MMK__ASYNC_OFF));
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *name = mmk_compression_name(cases[c].format);
        char file[700], cmd[2000];
        snprintf(file, sizeof file, "%s/data.%zu", dir, c);
        if (!mmk_compression_supported(cases[c].format) ||
            (cases[c].inflater && mmk__decode_set_inflater(cases[c].inflater) != 0)) {
            printf("skipped: %s (not in this build)\n", name);
            continue;
        }
        if (cases[c].tool) {
            snprintf(cmd, sizeof cmd, "%s -c < '%s' > '%s' 2>/dev/null", cases[c].tool, raw, file);
            int st = system(cmd);
            if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                printf("skipped: %s (no %s command)\n", name, cases[c].tool);
                continue;
            }
        } else {
            CHECK_OK(check_write_file(file, data, sizeof data, 0600));
        }
        long k = 0, nomem = 0;
        for (;; k++) {
            int tried = 0;
            int rc = attempt(file, k, &tried);
            CHECK(rc == 0 || rc == -ENOMEM);
            if (rc != 0 && rc != -ENOMEM)
                fprintf(stderr, "  %s: allocation %ld failed: %d (%s)\n", name, k, rc,
                        mmk_errname(rc));
            nomem += rc == -ENOMEM;
            if (!tried) {
                CHECK_OK(rc); /* no failure injected: the whole data */
                break;
            }
        }
        CHECK(nomem > 0); /* some allocation mattered */
        if (cases[c].format != MMK_COMP_NONE) {
            /* With the decoding thread: every allocation of the open (the
               codec, the ring; no thread starts before the first read). */
            CHECK_OK(mmk__decode_set_async(MMK__ASYNC_ON));
            long opens = 0;
            for (long j = 0;; j++) {
                int fd = open(file, O_RDONLY | O_CLOEXEC);
                long before = live;
                alloc_count = 0;
                fail_at = j;
                mmk_decoder *d = NULL;
                int rc = mmk_decoder_open(&d, fd, MMK_COMP_NONE);
                fail_at = -1;
                int tried = alloc_count > j;
                if (rc == 0) {
                    CHECK_EQ(mmk__decoder_async(d), 1);
                    mmk_decoder_free(d);
                }
                close(fd);
                CHECK_EQ(live, before);
                CHECK(rc == 0 || rc == -ENOMEM);
                CHECK(tried ? rc == -ENOMEM : rc == 0);
                opens += tried;
                if (!tried)
                    break;
            }
            CHECK(opens > 0);
            CHECK_OK(mmk__decode_set_async(MMK__ASYNC_OFF));
        }
        printf("%s%s%s: %ld allocations failed in turn, %ld gave -ENOMEM\n", name,
               cases[c].inflater ? " with " : "",
               cases[c].inflater == MMK__INFLATE_ISAL   ? "isa-l"
               : cases[c].inflater == MMK__INFLATE_ZLIB ? "zlib"
                                                        : "",
               k, nomem);
        mmk__decode_set_inflater(MMK__INFLATE_AUTO);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return CHECK_DONE();
}
#else
int main(void) {
    printf("skipped: allocation failures are injected on glibc only\n");
    return 0;
}
#endif
