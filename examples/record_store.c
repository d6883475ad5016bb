/*
 * record_store — the database use of a map: a file of fixed-size records,
 * updated in place at random through a write map, grown by appending, and
 * read at the same time by another process through a read-only map that
 * follows the file's growth.
 *
 * The file:
 *
 *   offset 0      header, 64 bytes: "MMKREC01", slot size (64), slots per
 *                 record (2), then at offset 16 the published record count
 *   offset 64     record 0: two 64-byte slots, A then B
 *   offset 192    record 1: ...
 *
 *   a slot:       id (8) | seq (8) | payload (40) | checksum (8)
 *
 * A slot is valid when its checksum (FNV-1a over its first 56 bytes) holds,
 * its id is the record's number and its seq is not 0; the record's value is
 * its valid slot with the higher seq. Records at or past the published
 * count do not exist, whatever bytes are there.
 *
 * Why it survives a SIGKILL of the writer at any instruction (and, since
 * every step is flushed before the next, a crash of the whole machine):
 *
 * - Update in place: the new version goes into the record's OTHER slot
 *   (the one not holding the current value), with seq + 1, and is flushed.
 *   Killed half way, that slot is torn and its checksum fails, but the
 *   current value sits untouched in the first slot: the record is intact.
 *   The flush before the next update matters: the next one overwrites the
 *   slot that was current, so the new one must be on disk by then.
 * - Append: write the record's slot A past the published count, flush it,
 *   THEN store count + 1 in the header and flush the header. Killed before
 *   the count store, the record was never published and is overwritten by
 *   the next append; killed after it, the record is complete (it was
 *   written, and flushed, first). Publishing first would expose garbage.
 * - Growth: when the records fill the file, mmk_resize doubles it; the new
 *   space is zeros (invalid slots), unpublished until a count covers it.
 *
 * The reader maps the file read-only and calls mmk_follow_file whenever
 * the count says there are records past the end of its map: it sees the
 * file grow without re-opening it. It reads the count first and the records
 * after (an acquire fence between, matching the writer's release fence
 * before the count store), so a published record is always complete. It may
 * meet a slot being written (a torn slot): then the other slot is valid; if
 * a slow reader finds both changing, it reads the record again.
 *
 * Usage:
 *   record_store write FILE APPENDS UPDATES [SEED]  append and update, then
 *                                                   print the store's state
 *   record_store verify FILE                        check every published record
 *   record_store torture FILE ROUNDS                a writer SIGKILLed at random
 *                                                   moments, ROUNDS times, and a
 *                                                   reader following the file
 */
#define _POSIX_C_SOURCE 200809L /* kill, nanosleep */
#include <mmkit.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLOT 64
#define HEADER 64
#define RECORD (2 * SLOT)
#define COUNT_AT 16
#define PAYLOAD 40
static const char MAGIC[8] = {'M', 'M', 'K', 'R', 'E', 'C', '0', '1'};

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rd64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* A slot holding version `seq` of record `id`: the payload is a function of
   both, so a verifier can check the bytes, not only the checksum. */
static void make_slot(unsigned char *s, uint64_t id, uint64_t seq) {
    memcpy(s, &id, 8);
    memcpy(s + 8, &seq, 8);
    uint64_t st = id * 1000003u + seq;
    for (int i = 0; i < PAYLOAD; i += 8) {
        uint64_t v = splitmix(&st);
        memcpy(s + 16 + i, &v, 8);
    }
    uint64_t sum = fnv1a(s, SLOT - 8);
    memcpy(s + SLOT - 8, &sum, 8);
}

/* The slot's seq if it is a valid version of record `id`, else 0. */
static uint64_t slot_seq(const unsigned char *s, uint64_t id) {
    uint64_t seq = rd64(s + 8);
    if (rd64(s) != id || seq == 0 || rd64(s + SLOT - 8) != fnv1a(s, SLOT - 8))
        return 0;
    unsigned char want[SLOT];
    make_slot(want, id, seq);
    return memcmp(s, want, SLOT) == 0 ? seq : 0;
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "record_store: %s: %s\n", what, mmk_strerror(rc));
    return 1;
}

/* ---- the writer --------------------------------------------------------- */

typedef struct store {
    mmk_map *m;
    uint64_t count;    /* published records */
    uint64_t capacity; /* records the file has room for */
} store;

static int store_open(store *st, const char *path) {
    mmk_options o = {.access = MMK_ACCESS_WRITE, .flags = MMK_OPEN_CREATE};
    int rc = mmk_open(&st->m, path, &o);
    if (rc < 0)
        return rc;
    if (mmk_length(st->m) == 0) { /* a new file: write the header */
        unsigned char h[HEADER] = {0};
        memcpy(h, MAGIC, 8);
        h[8] = SLOT;
        h[12] = 2;
        if ((rc = mmk_resize(st->m, HEADER)) < 0 || (rc = mmk_copy_in(st->m, 0, h, HEADER)) < 0 ||
            (rc = mmk_flush(st->m, 0, 0, MMK_FLUSH_SYNC)) < 0)
            return rc;
    }
    unsigned char h[HEADER];
    if ((rc = mmk_copy_out(st->m, 0, h, HEADER)) < 0)
        return rc;
    if (memcmp(h, MAGIC, 8) != 0)
        return -EINVAL; /* not a record store */
    st->count = rd64(h + COUNT_AT);
    st->capacity = (mmk_length(st->m) - HEADER) / RECORD;
    return st->count <= st->capacity ? 0 : MMK_ELENGTH;
}

/*
 * Writes n bytes at `off`. The torture test sets `slow_writes`: then the
 * bytes go 8 at a time with a pause between, as if every store faulted, so
 * that a kill often lands inside a write (one plain 64-byte copy takes
 * nanoseconds, and a kill would almost never catch one).
 */
static int slow_writes;

static int put(store *st, uint64_t off, const void *buf, size_t n) {
    if (!slow_writes)
        return mmk_copy_in(st->m, off, buf, n);
    for (size_t i = 0; i < n; i += 8) {
        int rc = mmk_copy_in(st->m, off + i, (const char *)buf + i, n - i < 8 ? n - i : 8);
        if (rc < 0)
            return rc;
        struct timespec pause = {0, 200000};
        nanosleep(&pause, NULL);
    }
    return 0;
}

static uint64_t rec_off(uint64_t id) {
    return HEADER + id * RECORD;
}

static int store_append(store *st) {
    int rc;
    if (st->count == st->capacity) {
        /* small steps at first, so the growth (and the reader following
           it) happens early */
        uint64_t cap = st->capacity ? 2 * st->capacity : 4;
        if ((rc = mmk_resize(st->m, HEADER + cap * RECORD)) < 0)
            return rc;
        st->capacity = cap;
    }
    uint64_t id = st->count;
    unsigned char r[RECORD] = {0}; /* slot B stays invalid */
    make_slot(r, id, 1);
    /* 1. the record, durable before anything points at it */
    if ((rc = put(st, rec_off(id), r, RECORD)) < 0 ||
        (rc = mmk_flush(st->m, rec_off(id), RECORD, MMK_FLUSH_SYNC)) < 0)
        return rc;
    /* 2. publish: one aligned 8-byte store of the new count, after the
       record's stores (the release fence orders them for a reader on
       another CPU), then flushed */
    uint64_t count = id + 1;
    atomic_thread_fence(memory_order_release);
    if ((rc = put(st, COUNT_AT, &count, 8)) < 0 ||
        (rc = mmk_flush(st->m, 0, HEADER, MMK_FLUSH_SYNC)) < 0)
        return rc;
    st->count = count;
    return 0;
}

static int store_update(store *st, uint64_t id) {
    unsigned char r[RECORD];
    int rc = mmk_copy_out(st->m, rec_off(id), r, RECORD);
    if (rc < 0)
        return rc;
    uint64_t a = slot_seq(r, id), b = slot_seq(r + SLOT, id);
    if (a == 0 && b == 0)
        return MMK_EFAULT; /* cannot happen in a store written by this program */
    /* the new version goes over the slot that is not the current value */
    int target = a >= b ? 1 : 0;
    uint64_t seq = (a > b ? a : b) + 1;
    unsigned char s[SLOT];
    make_slot(s, id, seq);
    uint64_t off = rec_off(id) + (uint64_t)target * SLOT;
    if ((rc = put(st, off, s, SLOT)) < 0)
        return rc;
    return mmk_flush(st->m, off, SLOT, MMK_FLUSH_SYNC);
}

/* APPENDS appends and UPDATES updates of random published records, mixed. */
static int run_writer(const char *path, long appends, long updates, uint64_t seed, int quiet) {
    store st;
    int rc = store_open(&st, path);
    if (rc < 0)
        return fail(path, rc);
    long a = 0, u = 0;
    while ((appends < 0 || a < appends) || u < updates) {
        int append = st.count == 0 || u >= updates ||
                     ((appends < 0 || a < appends) && splitmix(&seed) % 3 == 0);
        if (append) {
            rc = store_append(&st);
            a++;
        } else {
            rc = store_update(&st, splitmix(&seed) % st.count);
            u++;
        }
        if (rc < 0)
            return fail(append ? "append" : "update", rc);
    }
    if (!quiet)
        printf("published %llu records, capacity %llu, %ld appends, %ld updates\n",
               (unsigned long long)st.count, (unsigned long long)st.capacity, a, u);
    rc = mmk_free(st.m);
    return rc < 0 ? fail("close", rc) : 0;
}

/* ---- the reader --------------------------------------------------------- */

/*
 * Checks records [0, count) of the read map `m` (which covers them). Returns
 * the number of records with no valid slot; `live` says a writer may be
 * writing meanwhile (then a record whose two slots both look torn is read
 * again a few times).
 */
static uint64_t check_records(mmk_map *m, uint64_t count, int live, uint64_t *seq_sum) {
    uint64_t bad = 0;
    for (uint64_t id = 0; id < count; id++) {
        uint64_t a = 0, b = 0;
        for (int tries = 0; tries < (live ? 1000 : 1); tries++) {
            unsigned char r[RECORD];
            if (mmk_copy_out(m, rec_off(id), r, RECORD) < 0)
                break;
            a = slot_seq(r, id);
            b = slot_seq(r + SLOT, id);
            if (a || b)
                break;
        }
        if (a == 0 && b == 0)
            bad++;
        *seq_sum += a > b ? a : b;
    }
    return bad;
}

/* The published count, as a reader must read it: then an acquire fence, so
   the records it covers are read after it. */
static int read_count(mmk_map *m, uint64_t *count) {
    int rc = mmk_copy_out(m, COUNT_AT, count, 8);
    atomic_thread_fence(memory_order_acquire);
    return rc;
}

static int verify(const char *path) {
    mmk_map *m = NULL;
    mmk_options o = {.access = MMK_ACCESS_READ};
    int rc = mmk_open(&m, path, &o);
    if (rc < 0)
        return fail(path, rc);
    unsigned char h[HEADER];
    uint64_t count = 0, seqs = 0;
    if ((rc = mmk_copy_out(m, 0, h, HEADER)) < 0 || (rc = read_count(m, &count)) < 0)
        return fail(path, rc);
    if (memcmp(h, MAGIC, 8) != 0 || rec_off(count) > mmk_length(m)) {
        fprintf(stderr, "record_store: %s: bad header\n", path);
        return 1;
    }
    uint64_t bad = check_records(m, count, 0, &seqs);
    printf("%llu published records, %llu versions, %llu bad\n", (unsigned long long)count,
           (unsigned long long)seqs, (unsigned long long)bad);
    mmk_free(m);
    return bad ? 1 : 0;
}

static volatile sig_atomic_t stop_reading;
static void on_term(int sig) {
    (void)sig;
    stop_reading = 1;
}

/*
 * The reader process: a read-only map that follows the file's growth. Each
 * pass reads the count, follows the file if the count reaches past the map,
 * and checks every published record. Exits 0 if nothing was ever wrong.
 */
static int follow_reader(const char *path) {
    mmk_map *m = NULL;
    mmk_options o = {.access = MMK_ACCESS_READ};
    int rc = mmk_open(&m, path, &o);
    if (rc < 0)
        return fail(path, rc);
    uint64_t last = 0, passes = 0, follows = 0, bad = 0;
    for (;;) {
        /* After SIGTERM one more pass, so the last count is checked too. */
        int last_pass = stop_reading;
        uint64_t count = 0, seqs = 0, len = 0;
        if ((rc = read_count(m, &count)) < 0)
            return fail("count", rc);
        if (rec_off(count) > mmk_length(m)) {
            if ((rc = mmk_follow_file(m, &len)) < 0)
                return fail("follow", rc);
            follows++;
            if (rec_off(count) > len) { /* the count was published after the growth */
                fprintf(stderr, "reader: count %llu past the file (%llu bytes)\n",
                        (unsigned long long)count, (unsigned long long)len);
                bad++;
            }
        }
        if (count < last) {
            fprintf(stderr, "reader: the count went back from %llu to %llu\n",
                    (unsigned long long)last, (unsigned long long)count);
            bad++;
        }
        last = count;
        bad += check_records(m, count, 1, &seqs);
        passes++;
        if (last_pass)
            break;
    }
    fprintf(stderr, "reader: %llu passes, followed the file %llu times, up to %llu records\n",
            (unsigned long long)passes, (unsigned long long)follows, (unsigned long long)last);
    mmk_free(m);
    return bad ? 1 : 0;
}

/* ---- the torture test --------------------------------------------------- */

static int torture(const char *path, int rounds) {
    unlink(path);
    if (run_writer(path, 1, 0, 1, 1) != 0) /* a store with one record */
        return 1;
    pid_t reader = fork();
    if (reader == 0) {
        signal(SIGTERM, on_term);
        _exit(follow_reader(path));
    }
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    int killed = 0, failures = 0;
    for (int r = 0; r < rounds; r++) {
        pid_t w = fork();
        if (w == 0) { /* appends and updates until killed */
            slow_writes = 1;
            _exit(run_writer(path, -1, LONG_MAX, seed + (uint64_t)r, 1));
        }
        /* a random moment, 5-150 ms in */
        long ns = 5000000L + (long)(splitmix(&seed) % 145000000u);
        struct timespec pause = {0, ns};
        nanosleep(&pause, NULL);
        kill(w, SIGKILL);
        int status;
        waitpid(w, &status, 0);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            killed++;
        else
            failures++; /* the writer stopped by itself: an error */
        /* As after a crash: open afresh, every published record must hold. */
        fflush(stdout);
        pid_t v = fork();
        if (v == 0) {
            FILE *null = freopen("/dev/null", "w", stdout);
            (void)null;
            _exit(verify(path));
        }
        waitpid(v, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "round %d: verification failed\n", r);
            failures++;
        }
    }
    kill(reader, SIGTERM);
    int status;
    waitpid(reader, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "the reader saw a bad record\n");
        failures++;
    }
    printf("torture: %d rounds, writer killed %d times, %s\n", rounds, killed,
           failures ? "FAILED" : "every published record valid, reader agreed");
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "write") == 0)
        return run_writer(argv[2], atol(argv[3]), atol(argv[4]),
                          argc > 5 ? strtoull(argv[5], NULL, 10) : 1, 0);
    if (argc == 3 && strcmp(argv[1], "verify") == 0)
        return verify(argv[2]);
    if (argc == 4 && strcmp(argv[1], "torture") == 0)
        return torture(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: record_store write FILE APPENDS UPDATES [SEED]\n"
                    "       record_store verify FILE\n"
                    "       record_store torture FILE ROUNDS\n");
    return 2;
}
