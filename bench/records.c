/*
 * records.c — the database use, measured: random 64-byte record reads and
 * in-place updates through a map, side by side with pread()/pwrite(), on a
 * page-cached file larger than the L3 cache and smaller than memory.
 *
 *   records [-s MIB] [-n OPS] [-r RUNS] FILE
 *
 * FILE is created (or re-made when its size differs) as MIB MiB of 64-byte
 * records and read once, so every method reads the page cache. Each method
 * runs RUNS times, round-robin (reads first, then updates), each run over
 * OPS random record numbers drawn before its timing, and the median CPU
 * ns/op of the thread (user + system; the median wall-clock ns/op beside it)
 * is printed, one line per method:
 *
 *   METHOD ns_per_op=F runs=R ops=N wall_ns_per_op=W
 *
 * Methods: syscall (getppid: the price of entering the kernel here); pread;
 * map_copy_out (mmk_copy_out: fault-guarded, holds the map); map_pointer
 * (memcpy from mmk_data() inside one mmk_guard_run); anon_pointer (the same
 * loop over anonymous memory of the file's size); pwrite, map_copy_in and
 * map_pointer_write for updates; and a fresh map's first random pass
 * (map_first_touch_read/_write: a minor fault per page first touched, a
 * write fault per page first written). Reads xor what they read into a sink
 * that is printed, so no load is optimised away; the last update of every
 * run is checked through pread. Not a test: it only times.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* syscall */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mmkit.h"

#define REC 64

static uint64_t *idx;       /* record numbers of one run */
static uint64_t n_ops;      /* operations per run */
static uint64_t n_records;  /* records in the file */
static uint64_t sink;       /* what reads xor together */
static unsigned char *base; /* the map's bytes for the pointer methods */

/* CPU time of this thread (user + system, page faults included): on a
   machine shared with other work, wall time would add the time other
   processes ran. The wall time is printed beside it. */
static double now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static void draw_indices(void) {
    for (uint64_t i = 0; i < n_ops; i++)
        idx[i] = rnd() % n_records;
}

/* The record an update writes: its number and the run's stamp. */
static void make_record(unsigned char *r, uint64_t rec, uint64_t stamp) {
    memset(r, (int)(stamp & 0xff), REC);
    memcpy(r, &rec, 8);
    memcpy(r + 8, &stamp, 8);
}

static int make_file(const char *path, uint64_t size) {
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size == size)
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t chunk = 1u << 20;
    unsigned char *buf = malloc(chunk);
    if (!buf) {
        close(fd);
        return -1;
    }
    for (uint64_t off = 0; off < size; off += chunk) {
        for (size_t r = 0; r < chunk; r += REC)
            make_record(buf + r, (off + r) / REC, 0);
        if (pwrite(fd, buf, chunk, (off_t)off) != (ssize_t)chunk) {
            free(buf);
            close(fd);
            return -1;
        }
    }
    free(buf);
    return close(fd);
}

/* Read the whole file once so it sits in the page cache. */
static int warm_cache(int fd, uint64_t size) {
    size_t chunk = 1u << 20;
    unsigned char *buf = malloc(chunk);
    if (!buf)
        return -1;
    for (uint64_t off = 0; off < size; off += chunk)
        if (pread(fd, buf, chunk, (off_t)off) != (ssize_t)chunk) {
            free(buf);
            return -1;
        }
    free(buf);
    return 0;
}

static int fd_g;
static mmk_map *map_g;
static uint64_t stamp_g = 1;

/* What one system call costs here, for reading the pread/pwrite figures. */
static int run_syscall(void) {
    uint64_t x = 0;
    for (uint64_t i = 0; i < n_ops; i++)
        x += (uint64_t)syscall(SYS_getppid);
    sink ^= x;
    return 0;
}

static int run_pread(void) {
    unsigned char r[REC];
    uint64_t x = 0;
    for (uint64_t i = 0; i < n_ops; i++) {
        if (pread(fd_g, r, REC, (off_t)(idx[i] * REC)) != REC)
            return -1;
        uint64_t w;
        memcpy(&w, r + 8, 8);
        x ^= w ^ r[63];
    }
    sink ^= x;
    return 0;
}

static int run_copy_out(void) {
    unsigned char r[REC];
    uint64_t x = 0;
    for (uint64_t i = 0; i < n_ops; i++) {
        if (mmk_copy_out(map_g, idx[i] * REC, r, REC) != 0)
            return -1;
        uint64_t w;
        memcpy(&w, r + 8, 8);
        x ^= w ^ r[63];
    }
    sink ^= x;
    return 0;
}

static int pointer_reads(void *arg) {
    (void)arg;
    unsigned char r[REC];
    uint64_t x = 0;
    for (uint64_t i = 0; i < n_ops; i++) {
        memcpy(r, base + idx[i] * REC, REC);
        uint64_t w;
        memcpy(&w, r + 8, 8);
        x ^= w ^ r[63];
    }
    sink ^= x;
    return 0;
}

static int run_pointer(void) {
    return mmk_guard_run(pointer_reads, NULL);
}

/* The same loop over anonymous memory of the file's size: what a random
   access to memory costs here, file or not. */
static unsigned char *anon_base;
static int run_anon_pointer(void) {
    unsigned char *file_base = base;
    base = anon_base;
    int rc = mmk_guard_run(pointer_reads, NULL);
    base = file_base;
    return rc;
}

static int run_pwrite(void) {
    unsigned char r[REC];
    for (uint64_t i = 0; i < n_ops; i++) {
        make_record(r, idx[i], stamp_g);
        if (pwrite(fd_g, r, REC, (off_t)(idx[i] * REC)) != REC)
            return -1;
    }
    return 0;
}

static int run_copy_in(void) {
    unsigned char r[REC];
    for (uint64_t i = 0; i < n_ops; i++) {
        make_record(r, idx[i], stamp_g);
        if (mmk_copy_in(map_g, idx[i] * REC, r, REC) != 0)
            return -1;
    }
    return 0;
}

static int pointer_writes(void *arg) {
    (void)arg;
    unsigned char r[REC];
    for (uint64_t i = 0; i < n_ops; i++) {
        make_record(r, idx[i], stamp_g);
        memcpy(base + idx[i] * REC, r, REC);
    }
    return 0;
}

static int run_pointer_write(void) {
    return mmk_guard_run(pointer_writes, NULL);
}

/* The last update of a run must be what pread reads back (map and file are
   one page cache). */
static int check_last_update(void) {
    uint64_t rec = idx[n_ops - 1];
    unsigned char want[REC], got[REC];
    make_record(want, rec, stamp_g);
    if (pread(fd_g, got, REC, (off_t)(rec * REC)) != REC || memcmp(want, got, REC) != 0) {
        fprintf(stderr, "records: update of record %llu not seen through pread\n",
                (unsigned long long)rec);
        return -1;
    }
    return 0;
}

typedef struct method {
    const char *name;
    int (*run)(void);
    int writes;
    double *samples;
    double *walls;
} method;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int open_map(void) {
    mmk_options o = {.access = MMK_ACCESS_WRITE};
    int rc = mmk_open_fd(&map_g, fd_g, &o);
    if (rc < 0) {
        fprintf(stderr, "records: map: %s\n", mmk_strerror(rc));
        return -1;
    }
    base = mmk_data(map_g);
    return 0;
}

/* One timed pass of `run` over freshly drawn records: CPU ns per operation
   (*wall: wall-clock ns per operation). */
static double timed(int (*run)(void), int writes, double *wall) {
    draw_indices();
    stamp_g++;
    double w0 = now_ns(CLOCK_MONOTONIC), t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    if (run() != 0) {
        fprintf(stderr, "records: a run failed\n");
        exit(1);
    }
    double t = (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / (double)n_ops;
    *wall = (now_ns(CLOCK_MONOTONIC) - w0) / (double)n_ops;
    if (writes && check_last_update() != 0)
        exit(1);
    return t;
}

int main(int argc, char **argv) {
    uint64_t mib = 1024;
    int runs = 3;
    n_ops = 200000;
    /* This program installs no SIGBUS handler of its own, so the guard needs
       no re-arm per call (mmkit.h, "Fault guard"): the figures are those of
       the copies, not of one sigaction() per call, as they were measured. */
    if (mmk_guard_rearm(0) < 0)
        return 1;
    int opt;
    while ((opt = getopt(argc, argv, "s:n:r:")) != -1) {
        if (opt == 's')
            mib = strtoull(optarg, NULL, 10);
        else if (opt == 'n')
            n_ops = strtoull(optarg, NULL, 10);
        else if (opt == 'r')
            runs = atoi(optarg);
        else
            goto usage;
    }
    if (optind + 1 != argc || mib == 0 || n_ops == 0 || runs < 1)
        goto usage;
    const char *path = argv[optind];
    uint64_t size = mib << 20;
    n_records = size / REC;
    idx = malloc(n_ops * sizeof *idx);
    if (!idx || make_file(path, size) != 0) {
        fprintf(stderr, "records: cannot make %s: %s\n", path, strerror(errno));
        return 1;
    }
    fd_g = open(path, O_RDWR | O_CLOEXEC);
    /* Written back and cached: no writeback of the file's creation runs
       under the timings. */
    if (fd_g < 0 || fsync(fd_g) != 0 || warm_cache(fd_g, size) != 0) {
        fprintf(stderr, "records: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }

    /* A fresh map's first random pass pays a minor fault per page it
       touches first (and a write fault for the first write of a page). */
    if (open_map() != 0)
        return 1;
    double first_read_wall, first_write_wall;
    double first_read = timed(run_pointer, 0, &first_read_wall);
    double first_write = timed(run_pointer_write, 1, &first_write_wall);
    mmk_free(map_g);
    if (fsync(fd_g) != 0)
        return 1;

    /* Steady state: every page mapped and written once. */
    if (open_map() != 0 || mmk_populate(map_g, 0, 0) != 0)
        return 1;
    stamp_g++;
    volatile unsigned char *vb = base;
    for (uint64_t off = 0; off < size; off += (uint64_t)mmk_page_size())
        vb[off + 63] = vb[off + 63]; /* write fault once per page */

    mmk_map *anon = NULL;
    if (mmk_open_anon(&anon, size, MMK_ANON_PRIVATE) != 0)
        return 1;
    anon_base = mmk_data(anon);
    memset(anon_base, 1, size);

    method methods[] = {
        {"syscall", run_syscall, 0, NULL, NULL},
        {"pread", run_pread, 0, NULL, NULL},
        {"map_copy_out", run_copy_out, 0, NULL, NULL},
        {"map_pointer", run_pointer, 0, NULL, NULL},
        {"anon_pointer", run_anon_pointer, 0, NULL, NULL},
        {"pwrite", run_pwrite, 1, NULL, NULL},
        {"map_copy_in", run_copy_in, 1, NULL, NULL},
        {"map_pointer_write", run_pointer_write, 1, NULL, NULL},
    };
    size_t nm = sizeof methods / sizeof methods[0];
    /* Reads first (no dirty pages being written back under them), then
       writes; within each group round-robin, the order rotating, so noise
       hits every method alike. */
    size_t groups[][2] = {{0, 5}, {5, nm}};
    for (size_t k = 0; k < nm; k++) {
        methods[k].samples = calloc((size_t)runs, sizeof(double));
        methods[k].walls = calloc((size_t)runs, sizeof(double));
    }
    for (size_t g = 0; g < 2; g++) {
        size_t lo = groups[g][0], cnt = groups[g][1] - lo;
        for (int r = 0; r < runs; r++)
            for (size_t j = 0; j < cnt; j++) {
                method *mt = &methods[lo + (j + (size_t)r) % cnt];
                mt->samples[r] = timed(mt->run, mt->writes, &mt->walls[r]);
            }
    }

    printf("# file=%s size_mib=%llu records=%llu ops=%llu runs=%d sink=%llx\n", path,
           (unsigned long long)mib, (unsigned long long)n_records, (unsigned long long)n_ops, runs,
           (unsigned long long)sink);
    for (size_t k = 0; k < nm; k++) {
        qsort(methods[k].samples, (size_t)runs, sizeof(double), cmp_double);
        qsort(methods[k].walls, (size_t)runs, sizeof(double), cmp_double);
        printf("%s ns_per_op=%.1f runs=%d ops=%llu wall_ns_per_op=%.1f\n", methods[k].name,
               methods[k].samples[runs / 2], runs, (unsigned long long)n_ops,
               methods[k].walls[runs / 2]);
        free(methods[k].samples);
        free(methods[k].walls);
    }
    printf("map_first_touch_read ns_per_op=%.1f runs=1 ops=%llu wall_ns_per_op=%.1f\n", first_read,
           (unsigned long long)n_ops, first_read_wall);
    printf("map_first_touch_write ns_per_op=%.1f runs=1 ops=%llu wall_ns_per_op=%.1f\n",
           first_write, (unsigned long long)n_ops, first_write_wall);
    mmk_free(map_g);
    mmk_free(anon);
    close(fd_g);
    free(idx);
    return 0;

usage:
    fprintf(stderr, "usage: records [-s MIB] [-n OPS] [-r RUNS] FILE\n");
    return 2;
}
