/*
 * limit — how fast can this machine merely load every byte of a file?
 *
 * The benchmarks report mmkit's throughput as a fraction of this number, so it
 * must be the cheapest possible full pass: every 8-byte word of the file is
 * loaded and folded into a checksum (so the compiler cannot drop the loads),
 * and nothing else is done. Two ways to reach the bytes are measured:
 *
 *   map       mmap() the whole file read-only and touch it (page faults and
 *             page-table set-up are part of the cost, as for any map user);
 *   populate  the same, but each thread first asks the kernel to fill the page
 *             tables of its unit in one go (MADV_POPULATE_READ, Linux 5.14+;
 *             elsewhere MAP_POPULATE on the whole map) instead of fault by fault;
 *   pread     pread() 1 MiB blocks (-b: another size) into a private buffer per
 *             thread and touch the buffer (the copy out of the page cache is
 *             the cost; a buffer that fits the L2 cache is cheaper to touch).
 *
 * Threads take work units from a shared counter, so a thread slowed by other
 * load on the machine does not hold the others back. The benchmark driver
 * times the whole process (start to exit, open/map/unmap included); the
 * figure printed here is the in-process time of open..close, for reference.
 *
 * Usage: limit [-t THREADS] [-m map|populate|pread] [-b PREAD_BUFFER_BYTES] FILE
 * Prints: "<method> threads=<n> bytes=<n> seconds=<s> gbps=<x> checksum=<hex>"
 * Needs only POSIX and pthreads, not mmkit: it measures the machine, not us.
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

#define READ_BLOCK (1u << 20) /* default pread buffer per thread: 1 MiB */
#define MAP_UNIT (8u << 20)   /* map work unit: 8 MiB, a multiple of any page size */

enum method { M_MAP, M_POPULATE, M_PREAD };

struct job {
    enum method method;
    int fd;
    const unsigned char *base; /* the map (map methods) */
    uint64_t size;
    uint64_t unit;             /* bytes per work unit (the pread buffer size for pread) */
    atomic_uint_fast64_t next; /* next unit index to hand out */
    int error;                 /* first errno seen by a worker, 0 if none */
    pthread_mutex_t error_lock;
};

struct worker {
    struct job *job;
    uint64_t checksum;
    pthread_t tid;
};

/*
 * Fold n bytes at p into a checksum: four independent accumulators so the
 * loop is bound by loads, not by one dependency chain. Words are read with
 * memcpy so unaligned tails are fine; the compiler turns it into plain loads.
 */
static uint64_t touch(const unsigned char *p, size_t n) {
    uint64_t a = 0, b = 0, c = 0, d = 0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p + i, 8);
        memcpy(&w1, p + i + 8, 8);
        memcpy(&w2, p + i + 16, 8);
        memcpy(&w3, p + i + 24, 8);
        a ^= w0;
        b += w1;
        c ^= w2;
        d += w3;
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        a ^= w;
    }
    for (; i < n; i++)
        b += p[i];
    return a ^ b ^ c ^ d;
}

static void record_error(struct job *job, int err) {
    pthread_mutex_lock(&job->error_lock);
    if (!job->error)
        job->error = err;
    pthread_mutex_unlock(&job->error_lock);
}

/* One worker: take units until the file is exhausted. */
static void *work(void *arg) {
    struct worker *w = arg;
    struct job *job = w->job;
    unsigned char *buf = NULL;
    if (job->method == M_PREAD) {
        if (posix_memalign((void **)&buf, 4096, job->unit) != 0) {
            record_error(job, ENOMEM);
            return NULL;
        }
    }
    uint64_t sum = 0;
    for (;;) {
        uint64_t idx = atomic_fetch_add(&job->next, 1);
        uint64_t off = idx * job->unit;
        if (off >= job->size)
            break;
        uint64_t len = job->size - off < job->unit ? job->size - off : job->unit;
        if (job->method == M_PREAD) {
            uint64_t done = 0;
            while (done < len) {
                ssize_t r = pread(job->fd, buf + done, len - done, (off_t)(off + done));
                if (r < 0) {
                    if (errno == EINTR)
                        continue;
                    record_error(job, errno);
                    goto out;
                }
                if (r == 0) {
                    record_error(job, EIO); /* the file shrank under us */
                    goto out;
                }
                done += (uint64_t)r;
            }
            sum ^= touch(buf, len);
        } else {
#ifdef MADV_POPULATE_READ
            if (job->method == M_POPULATE)
                (void)madvise((void *)(job->base + off), len, MADV_POPULATE_READ);
#endif
            sum ^= touch(job->base + off, len);
        }
    }
out:
    free(buf);
    w->checksum = sum;
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int usage(void) {
    fprintf(stderr, "usage: limit [-t THREADS] [-m map|populate|pread] [-b BYTES] FILE\n");
    return 2;
}

int main(int argc, char **argv) {
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    enum method method = M_MAP;
    const char *method_name = "map";
    long block = READ_BLOCK;
    int opt;
    while ((opt = getopt(argc, argv, "t:m:b:")) != -1) {
        switch (opt) {
        case 't':
            threads = strtol(optarg, NULL, 10);
            if (threads < 1 || threads > 1024)
                return usage();
            break;
        case 'b':
            block = strtol(optarg, NULL, 10);
            if (block < 4096 || block > (1L << 30) || block % 4096)
                return usage();
            break;
        case 'm':
            method_name = optarg;
            if (!strcmp(optarg, "map"))
                method = M_MAP;
            else if (!strcmp(optarg, "populate"))
                method = M_POPULATE;
            else if (!strcmp(optarg, "pread"))
                method = M_PREAD;
            else
                return usage();
            break;
        default:
            return usage();
        }
    }
    if (optind + 1 != argc)
        return usage();
    if (threads < 1)
        threads = 1;

    double t0 = now();
    struct job job;
    memset(&job, 0, sizeof job);
    job.method = method;
    atomic_init(&job.next, 0);
    pthread_mutex_init(&job.error_lock, NULL);
    job.fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
    if (job.fd < 0) {
        fprintf(stderr, "limit: %s: %s\n", argv[optind], strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(job.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "limit: %s: not a regular file\n", argv[optind]);
        return 1;
    }
    job.size = (uint64_t)st.st_size;
    job.unit = method == M_PREAD ? (uint64_t)block : MAP_UNIT;
    void *map = NULL;
    if (method != M_PREAD && job.size > 0) {
        int flags = MAP_PRIVATE;
#ifndef MADV_POPULATE_READ
        if (method == M_POPULATE)
            flags |= MAP_POPULATE;
#endif
        map = mmap(NULL, job.size, PROT_READ, flags, job.fd, 0);
        if (map == MAP_FAILED) {
            fprintf(stderr, "limit: mmap: %s\n", strerror(errno));
            return 1;
        }
        job.base = map;
    }

    struct worker *ws = calloc((size_t)threads, sizeof *ws);
    if (!ws) {
        fprintf(stderr, "limit: out of memory\n");
        return 1;
    }
    for (long i = 0; i < threads; i++) {
        ws[i].job = &job;
        if (i > 0 && pthread_create(&ws[i].tid, NULL, work, &ws[i]) != 0) {
            fprintf(stderr, "limit: cannot start thread %ld\n", i);
            return 1;
        }
    }
    work(&ws[0]); /* the main thread works too */
    uint64_t checksum = ws[0].checksum;
    for (long i = 1; i < threads; i++) {
        pthread_join(ws[i].tid, NULL);
        checksum ^= ws[i].checksum;
    }
    if (map)
        munmap(map, job.size);
    close(job.fd);
    double secs = now() - t0;
    if (job.error) {
        fprintf(stderr, "limit: read error: %s\n", strerror(job.error));
        return 1;
    }
    printf("%s threads=%ld unit=%llu bytes=%llu seconds=%.6f gbps=%.3f checksum=%016llx\n", method_name,
           threads, (unsigned long long)job.unit, (unsigned long long)job.size, secs, secs > 0 ? (double)job.size / secs / 1e9 : 0.0,
           (unsigned long long)checksum);
    free(ws);
    return 0;
}
