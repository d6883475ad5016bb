/*
 * probe.c — how fast can this machine read a file at all, with several
 * requests in flight (bench/disk; not part of the library).
 *
 *   probe [-m direct|buffered|map] [-t THREADS] [-b BYTES] FILE
 *
 * THREADS threads (default 8) take the next BYTES-sized block of the file
 * (default 1 MiB) from one shared counter and pread() it, so up to THREADS
 * reads are in flight at once; -m direct opens the file with O_DIRECT (no
 * page cache: what the device gives), -m buffered reads through the page
 * cache (with the kernel's read-ahead on top). -m map maps the file (one
 * thread; huge-page advice, no other hint) and reads one byte of every 4 KiB
 * page in order, so the kernel's read-around brings the file in: where the
 * page cache holds large folios (Linux 6.16+) a fault maps 2 MiB of them.
 * The bytes are not looked at. Prints "BYTES SECONDS GB/s" on one line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fd;
static size_t block;
static uint64_t size;
static _Atomic uint64_t next_block;
static _Atomic uint64_t total;
static _Atomic int failed;

static void *reader(void *arg) {
    (void)arg;
    void *buf = NULL;
    /* O_DIRECT wants the buffer, offset and length aligned (4 KiB is enough
       for every device here). */
    if (posix_memalign(&buf, 4096, block) != 0) {
        failed = ENOMEM;
        return NULL;
    }
    uint64_t got = 0;
    for (;;) {
        uint64_t off = atomic_fetch_add(&next_block, 1) * block;
        if (off >= size)
            break;
        size_t want = size - off < block ? (size_t)(size - off) : block;
        /* O_DIRECT: a short tail is read as a whole aligned block; the
           kernel returns what the file holds. */
        size_t ask = (want + 4095) & ~(size_t)4095;
        ssize_t r = pread(fd, buf, ask, (off_t)off);
        if (r < 0) {
            failed = errno;
            break;
        }
        got += (uint64_t)r;
    }
    atomic_fetch_add(&total, got);
    free(buf);
    return NULL;
}

int main(int argc, char **argv) {
    int direct = 0, map = 0, threads = 8, opt;
    block = 1 << 20;
    uint64_t limit = 0;
    while ((opt = getopt(argc, argv, "m:t:b:l:")) != -1) {
        if (opt == 'l') {
            limit = strtoull(optarg, NULL, 0);
            continue;
        }
        if (opt == 'm' && (!strcmp(optarg, "direct") || !strcmp(optarg, "buffered") ||
                           !strcmp(optarg, "map"))) {
            direct = !strcmp(optarg, "direct");
            map = !strcmp(optarg, "map");
        } else if (opt == 't' && atoi(optarg) > 0 && atoi(optarg) <= 256)
            threads = atoi(optarg);
        else if (opt == 'b' && strtoull(optarg, NULL, 0) >= 4096 &&
                 strtoull(optarg, NULL, 0) % 4096 == 0)
            block = (size_t)strtoull(optarg, NULL, 0);
        else {
            fprintf(stderr, "usage: probe [-m direct|buffered|map] [-t 1..256] [-b BYTES, a multiple "
                            "of 4096] FILE\n");
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: probe [-m direct|buffered|map] [-t 1..256] [-b BYTES] FILE\n");
        return 2;
    }
    fd = open(argv[optind], O_RDONLY | (direct ? O_DIRECT : 0));
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "probe: %s: %s\n", argv[optind], strerror(errno));
        return 1;
    }
    size = (uint64_t)st.st_size;
    if (limit && limit < size)
        size = limit;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (map) {
        const volatile uint8_t *m =
            size ? mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0) : NULL;
        if (size && m == MAP_FAILED) {
            fprintf(stderr, "probe: %s: %s\n", argv[optind], strerror(errno));
            return 1;
        }
#ifdef MADV_HUGEPAGE
        if (size)
            (void)madvise((void *)m, (size_t)size, MADV_HUGEPAGE);
#endif
        unsigned sum = 0;
        for (uint64_t off = 0; off < size; off += 4096)
            sum += m[off];
        total = size + (sum & 0); /* every page was read */
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("%llu %.3f %.3f\n", (unsigned long long)total, s, (double)total / s / 1e9);
        return 0;
    }
    pthread_t tid[256];
    int started = 0;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, reader, NULL) == 0)
            started++;
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (failed || started == 0) {
        fprintf(stderr, "probe: %s: %s\n", argv[optind], strerror(failed ? failed : EAGAIN));
        return 1;
    }
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%llu %.3f %.3f\n", (unsigned long long)total, s, (double)total / s / 1e9);
    return total == size ? 0 : 1;
}
