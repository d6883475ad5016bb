/*
 * test_map_follow.c — mmk_follow_file: a map follows the size of a file that
 * someone else grows or shrinks, without the file being touched. Growth by
 * another process (fork), shrinking, offsets past the new end, views and
 * holds, closed/anonymous/NO_DUP maps, copy-on-write pages, injected
 * failures, random interleavings compared with pread of the file, and
 * another thread reading while the map follows (ASan/TSan variants).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "os.h"
#include "test_core_util.h"

static uint64_t ps;
static mmk__os_methods saved;

/* Everything the map shows equals what pread reads from the file at the same
   offsets, and the map is exactly as long as the file past its offset. */
static void expect_matches_file(mmk_map *m, const char *path) {
    long long size = file_size_of(path);
    uint64_t off = mmk_offset(m);
    uint64_t want = (uint64_t)size > off ? (uint64_t)size - off : 0;
    CHECK_EQ(mmk_length(m), want);
    if (want == 0) {
        CHECK(mmk_data(m) == NULL);
        return;
    }
    unsigned char *a = malloc(want), *b = malloc(want);
    CHECK(a && b);
    CHECK_OK(mmk_copy_out(m, 0, a, want));
    CHECK_EQ(read_file_at(path, off, b, want), (long long)want);
    CHECK_MEM(a, b, want);
    free(a);
    free(b);
}

static int append_file(const char *path, const void *data, size_t n) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, data, n);
    close(fd);
    return w == (ssize_t)n ? 0 : -1;
}

/* ---- another process appends records; the reader follows -------------- */

#define REC 64

static void fill_record(unsigned char *r, uint32_t seq) {
    for (int i = 0; i < REC; i++)
        r[i] = (unsigned char)(seq * 31u + (unsigned)i);
    memcpy(r, &seq, sizeof seq);
}

static void grown_by_child(void) {
    const char *path = tpath("grow");
    unsigned char rec[REC];
    CHECK_OK(write_file(path, "", 0));
    for (uint32_t s = 0; s < 10; s++) {
        fill_record(rec, s);
        CHECK_OK(append_file(path, rec, REC));
    }
    for (int access = MMK_ACCESS_READ; access <= MMK_ACCESS_COPY; access++) {
        mmk_map *m = NULL;
        mmk_options o = {.access = access};
        CHECK_OK(mmk_open(&m, path, &o));
        uint64_t before = mmk_length(m);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            /* The writer: another process, with its own descriptor. */
            unsigned char r[REC];
            for (uint32_t s = 0; s < 100; s++) {
                fill_record(r, (uint32_t)(before / REC) + s);
                if (append_file(path, r, REC) != 0)
                    _exit(1);
            }
            _exit(0);
        }
        int status = 0;
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* The map did not see the growth by itself... */
        CHECK_EQ(mmk_length(m), before);
        uint64_t size = 0, len = 0;
        CHECK_OK(mmk_file_size(m, &size));
        CHECK_EQ(size, before + 100 * REC);
        /* ... and sees every new record once it follows. */
        if (access == MMK_ACCESS_COPY && !remap_available()) {
            /* No mremap (the POSIX-only build): a private map cannot follow
               without losing its own pages, so it refuses. */
            CHECK_RC(mmk_follow_file(m, &len), MMK_ENOTSUP);
            CHECK_EQ(mmk_length(m), before);
            CHECK_OK(mmk_free(m));
            continue;
        }
        CHECK_OK(mmk_follow_file(m, &len));
        CHECK_EQ(len, size);
        CHECK_EQ(mmk_length(m), size);
        for (uint64_t s = 0; s < size / REC; s++) {
            CHECK_OK(mmk_copy_out(m, s * REC, rec, REC));
            uint32_t seq;
            memcpy(&seq, rec, sizeof seq);
            CHECK_EQ(seq, s);
        }
        expect_matches_file(m, path);
        /* Nothing on disk changed. */
        CHECK_EQ(file_size_of(path), (long long)size);
        /* Following again with no change: same length, nothing to do. */
        CHECK_OK(mmk_follow_file(m, NULL));
        CHECK_EQ(mmk_length(m), size);
        CHECK_OK(mmk_free(m));
    }
    unlink(path);
}

/* ---- shrinking, offsets, cursor, the fault guard ------------------------ */

static void shrink_and_offsets(void) {
    const char *path = tpath("shrink");
    size_t n = 8 * ps;
    unsigned char *data = malloc(n);
    CHECK(data != NULL);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    uint64_t offsets[] = {0, 1, ps - 1, ps, 3 * ps + 5};
    for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
        uint64_t off = offsets[k];
        CHECK_OK(write_file(path, data, n));
        mmk_map *m = NULL;
        mmk_options o = {.access = MMK_ACCESS_READ, .offset = off};
        CHECK_OK(mmk_open(&m, path, &o));
        CHECK_EQ(mmk_seek(m, 0, 2), (int64_t)(n - off));

        /* Shrunk by someone else: past the end the guard reports a fault... */
        CHECK_EQ(truncate(path, (off_t)(off + 2 * ps + 10)), 0);
        unsigned char b;
        CHECK_RC(mmk_copy_out(m, 4 * ps, &b, 1), MMK_EFAULT);
        /* ... and after following, the map simply ends there. */
        uint64_t len = 0;
        CHECK_OK(mmk_follow_file(m, &len));
        CHECK_EQ(len, 2 * ps + 10);
        CHECK_EQ(mmk_tell(m), (int64_t)len); /* the cursor is clamped */
        CHECK_RC(mmk_copy_out(m, 4 * ps, &b, 1), MMK_ERANGE);
        expect_matches_file(m, path);

        /* Shorter than the offset: a map of length 0, not an error. */
        if (off > 0) {
            CHECK_EQ(truncate(path, (off_t)(off - 1)), 0);
            CHECK_OK(mmk_follow_file(m, &len));
            CHECK_EQ(len, 0);
            CHECK(mmk_data(m) == NULL);
            CHECK_EQ(mmk_tell(m), 0);
            expect_matches_file(m, path);
        }
        /* Exactly at the offset: length 0 too. */
        CHECK_EQ(truncate(path, (off_t)off), 0);
        CHECK_OK(mmk_follow_file(m, &len));
        CHECK_EQ(len, 0);
        /* Grown back from nothing: mapped anew. */
        CHECK_OK(write_file(path, data, n));
        CHECK_OK(mmk_follow_file(m, &len));
        CHECK_EQ(len, n - off);
        expect_matches_file(m, path);
        CHECK_OK(mmk_free(m));
    }
    free(data);
    unlink(path);
}

/* ---- refusals ------------------------------------------------------------ */

static void refusals(void) {
    const char *path = tpath("refuse");
    unsigned char page[64];
    memset(page, 'a', sizeof page);
    CHECK_OK(write_file(path, page, sizeof page));

    CHECK_RC(mmk_follow_file(NULL, NULL), -EINVAL);

    /* Anonymous maps have no file to follow. */
    for (unsigned f = 0; f <= MMK_ANON_SHARED; f++) {
        mmk_map *a = NULL;
        CHECK_OK(mmk_open_anon(&a, ps, f));
        CHECK_RC(mmk_follow_file(a, NULL), MMK_EANON);
        CHECK_EQ(mmk_length(a), ps);
        CHECK_OK(mmk_free(a));
    }

    /* A closed map. */
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, NULL));
    CHECK_OK(mmk_close(m));
    CHECK_RC(mmk_follow_file(m, NULL), MMK_ECLOSED);
    CHECK_OK(mmk_free(m));

    /* NO_DUP: the map does not track the file (as resize / file size). */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    mmk_options nd = {.flags = MMK_OPEN_NO_DUP};
    CHECK_OK(mmk_open_fd(&m, fd, &nd));
    uint64_t len = 99;
    CHECK_RC(mmk_follow_file(m, &len), -EBADF);
    CHECK_EQ(len, 99); /* output untouched on error */
    CHECK_OK(mmk_free(m));
    close(fd);

    /* Views: a change of length is refused while memory is lent out; the
       same length is answered (polling with a view out works). */
    CHECK_OK(mmk_open(&m, path, NULL));
    void *p = NULL;
    uint64_t vlen = 0;
    CHECK_OK(mmk_view_acquire(m, &p, &vlen));
    CHECK_OK(mmk_follow_file(m, &len));
    CHECK_EQ(len, sizeof page);
    CHECK_OK(append_file(path, page, sizeof page));
    CHECK_RC(mmk_follow_file(m, &len), MMK_EVIEWS);
    CHECK_EQ(mmk_length(m), sizeof page);
    CHECK(mmk_data(m) == p);
    mmk_view_release(m);
    CHECK_OK(mmk_follow_file(m, &len));
    CHECK_EQ(len, 2 * sizeof page);
    expect_matches_file(m, path);
    CHECK_OK(mmk_free(m));
    unlink(path);
}

/* ---- a writable map: follow, then write; the file keeps its size ------- */

static void write_map_follows(void) {
    const char *path = tpath("write");
    CHECK_OK(write_file(path, "0123456789", 10));
    mmk_map *m = NULL;
    mmk_options o = {.access = MMK_ACCESS_WRITE};
    CHECK_OK(mmk_open(&m, path, &o));
    /* Grown sparse by someone else (ftruncate): a hole the map must not
       assume is backed. */
    CHECK_EQ(truncate(path, (off_t)(3 * ps)), 0);
    uint64_t len = 0;
    CHECK_OK(mmk_follow_file(m, &len));
    CHECK_EQ(len, 3 * ps);
    CHECK_EQ(file_size_of(path), (long long)(3 * ps));
    CHECK_OK(mmk_copy_in(m, 2 * ps + 1, "XY", 2));
    CHECK_OK(mmk_flush(m, 0, 0, MMK_FLUSH_SYNC));
    char b[2];
    CHECK_EQ(read_file_at(path, 2 * ps + 1, b, 2), 2);
    CHECK_MEM(b, "XY", 2);
    expect_matches_file(m, path);
    /* Shrunk by someone else: following never grows the file back. */
    CHECK_EQ(truncate(path, 4), 0);
    CHECK_OK(mmk_follow_file(m, &len));
    CHECK_EQ(len, 4);
    CHECK_EQ(file_size_of(path), 4);
    CHECK_OK(mmk_free(m));
    unlink(path);
}

/* ---- copy-on-write: private pages within the new length survive -------- */

static int missing_remap(void *a, size_t o, size_t n, void **p) {
    (void)a, (void)o, (void)n, (void)p;
    return MMK_ENOTSUP;
}

static int fail_fstat(int fd, mmk__os_stat *st) {
    (void)fd, (void)st;
    return -EIO;
}

static void copy_map_follows(void) {
    const char *path = tpath("copy");
    size_t n = 2 * ps;
    unsigned char *data = malloc(4 * ps);
    CHECK(data != NULL);
    memset(data, 'f', 4 * ps);
    CHECK_OK(write_file(path, data, n));
    mmk_map *m = NULL;
    mmk_options o = {.access = MMK_ACCESS_COPY};
    CHECK_OK(mmk_open(&m, path, &o));
    CHECK_OK(mmk_copy_in(m, 1, "priv", 4));      /* page 0 written privately */
    CHECK_OK(mmk_copy_in(m, ps + 2, "gone", 4)); /* page 1 too */
    CHECK_OK(append_file(path, data, 2 * ps));   /* the file grows to 4 pages */
    uint64_t len = 0;

    /* No mremap: refused, nothing changes (the private pages stay). */
    mmk__os.remap = missing_remap;
    CHECK_RC(mmk_follow_file(m, &len), MMK_ENOTSUP);
    mmk__os = saved;
    CHECK_EQ(mmk_length(m), n);
    unsigned char b[4];
    CHECK_OK(mmk_copy_out(m, 1, b, 4));
    CHECK_MEM(b, "priv", 4);
    if (!remap_available()) {
        /* The POSIX-only build: no mremap ever, the rest needs it. */
        CHECK_RC(mmk_follow_file(m, &len), MMK_ENOTSUP);
        CHECK_OK(mmk_free(m));
        free(data);
        unlink(path);
        return;
    }

    CHECK_OK(mmk_follow_file(m, &len));
    CHECK_EQ(len, 4 * ps);
    CHECK_OK(mmk_copy_out(m, 1, b, 4));
    CHECK_MEM(b, "priv", 4); /* kept */
    CHECK_OK(mmk_copy_out(m, ps + 2, b, 4));
    CHECK_MEM(b, "gone", 4);
    CHECK_OK(mmk_copy_out(m, 3 * ps, b, 4));
    CHECK_MEM(b, "ffff", 4); /* the file's new bytes */
    /* The file itself never saw the private writes. */
    CHECK_EQ(read_file_at(path, 1, b, 4), 4);
    CHECK_MEM(b, "ffff", 4);

    /* A shrink cuts page 1 off; growing again shows the file's bytes. */
    CHECK_EQ(truncate(path, (off_t)ps), 0);
    CHECK_OK(mmk_follow_file(m, &len));
    CHECK_EQ(len, ps);
    CHECK_OK(append_file(path, data, ps));
    CHECK_OK(mmk_follow_file(m, &len));
    CHECK_EQ(len, 2 * ps);
    CHECK_OK(mmk_copy_out(m, 1, b, 4));
    CHECK_MEM(b, "priv", 4);
    CHECK_OK(mmk_copy_out(m, ps + 2, b, 4));
    CHECK_MEM(b, "ffff", 4);
    CHECK_OK(mmk_free(m));

    /* A read map without mremap still follows (a fresh mapping shows the
       same file pages). */
    CHECK_OK(mmk_open(&m, path, NULL));
    CHECK_OK(append_file(path, data, ps));
    mmk__os.remap = missing_remap;
    CHECK_OK(mmk_follow_file(m, &len));
    mmk__os = saved;
    CHECK_EQ(len, 3 * ps);
    expect_matches_file(m, path);

    /* fstat failing: the error, and the map as it was. */
    CHECK_OK(append_file(path, data, 10));
    mmk__os.fstat = fail_fstat;
    CHECK_RC(mmk_follow_file(m, &len), -EIO);
    mmk__os = saved;
    CHECK_EQ(mmk_length(m), 3 * ps);
    CHECK_OK(mmk_follow_file(m, &len));
    CHECK_EQ(len, 3 * ps + 10);
    CHECK_OK(mmk_free(m));
    free(data);
    unlink(path);
}

/* ---- random interleavings against pread -------------------------------- */

static void random_interleavings(void) {
    const char *path = tpath("random");
    size_t cap = 6 * ps;
    unsigned char *buf = malloc(cap);
    CHECK(buf != NULL);
    check_rng = 0x5eed0f011011ull;
    for (int round = 0; round < 6; round++) {
        for (size_t i = 0; i < cap; i++)
            buf[i] = (unsigned char)check_rnd();
        CHECK_OK(write_file(path, buf, check_rnd_below(cap)));
        uint64_t off = round % 2 ? check_rnd_below(2 * ps) : 0;
        int access = 1 + round % 3;
        if (access == MMK_ACCESS_COPY && !remap_available())
            continue; /* the POSIX-only build: a private map cannot follow */
        if ((uint64_t)file_size_of(path) < off)
            CHECK_EQ(truncate(path, (off_t)off), 0);
        mmk_map *m = NULL;
        mmk_options o = {.access = access, .offset = off};
        CHECK_OK(mmk_open(&m, path, &o));
        int fd = open(path, O_RDWR | O_CLOEXEC);
        CHECK(fd >= 0);
        for (int step = 0; step < 150; step++) {
            size_t r = check_rnd_below(4);
            if (r == 0) { /* append */
                size_t k = check_rnd_below(ps + 50);
                CHECK_OK(append_file(path, buf, k));
            } else if (r == 1) { /* truncate anywhere up to the cap */
                CHECK_EQ(ftruncate(fd, (off_t)check_rnd_below(cap)), 0);
            } else if (r == 2) { /* rewrite bytes inside the file */
                long long size = file_size_of(path);
                if (size > 0) {
                    size_t at = check_rnd_below((size_t)size);
                    size_t k = check_rnd_below((size_t)size - at) + 1;
                    CHECK_EQ(pwrite(fd, buf + check_rnd_below(cap - k), k, (off_t)at), (ssize_t)k);
                }
            } else if (file_size_of(path) > (long long)cap) {
                CHECK_EQ(ftruncate(fd, (off_t)cap), 0);
            }
            uint64_t len = 0;
            CHECK_OK(mmk_follow_file(m, &len));
            CHECK_EQ(len, mmk_length(m));
            expect_matches_file(m, path);
            CHECK(mmk_tell(m) <= (int64_t)len);
            if (len > 0)
                CHECK_EQ(mmk_seek(m, (int64_t)check_rnd_below(len + 1), 0) >= 0, 1);
        }
        close(fd);
        CHECK_OK(mmk_free(m));
    }
    free(buf);
    unlink(path);
}

/* ---- another thread reads while the map follows growth ----------------- */

static unsigned char pattern_byte(uint64_t i) {
    return (unsigned char)(i * 7 + 3);
}

static _Atomic int growing_done; /* the main thread grew the file for the last time */

static void *reader_thread(void *arg) {
    mmk_map *m = arg;
    uint64_t rng = 0x1234567ull;
    unsigned long bad = 0;
    unsigned long reads = 0;
    while (!atomic_load(&growing_done) || reads < 1000) {
        reads++;
        uint64_t len = mmk_length(m);
        if (len < 16)
            continue;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t off = (rng >> 11) % (len - 15);
        unsigned char b[16];
        int rc = mmk_copy_out(m, off, b, 16);
        if (rc == MMK_ERANGE)
            continue; /* cannot happen: the file only grows here */
        if (rc != 0)
            bad++;
        for (int k = 0; k < 16 && rc == 0; k++)
            if (b[k] != pattern_byte(off + (uint64_t)k))
                bad++;
    }
    return (void *)(uintptr_t)bad;
}

static void follow_while_reading(void) {
    const char *path = tpath("threads");
    size_t chunk = 1000;
    unsigned char *buf = malloc(chunk * 400);
    CHECK(buf != NULL);
    for (uint64_t i = 0; i < chunk * 400; i++)
        buf[i] = pattern_byte(i);
    CHECK_OK(write_file(path, buf, chunk));
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, NULL));
    pthread_t t;
    atomic_store(&growing_done, 0);
    CHECK_EQ(pthread_create(&t, NULL, reader_thread, m), 0);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    unsigned long grown = 0, refused = 0;
    for (size_t n = 1; n < 400; n++) {
        CHECK_EQ(pwrite(fd, buf + n * chunk, chunk, (off_t)(n * chunk)), (ssize_t)chunk);
        uint64_t len = 0;
        int rc;
        /* A call of the reader may be in flight: MMK_EVIEWS, nothing changed. */
        while ((rc = mmk_follow_file(m, &len)) == MMK_EVIEWS) {
            refused++;
            sched_yield();
        }
        CHECK_OK(rc);
        CHECK_EQ(len, (n + 1) * chunk);
        grown++;
    }
    atomic_store(&growing_done, 1);
    void *bad = NULL;
    CHECK_EQ(pthread_join(t, &bad), 0);
    CHECK_EQ((uintptr_t)bad, 0);
    CHECK_EQ(grown, 399);
    CHECK_EQ(mmk_length(m), 400 * chunk);
    printf("follow while reading: grew %lu times, refused %lu times\n", grown, refused);
    close(fd);
    CHECK_OK(mmk_free(m));
    free(buf);
    unlink(path);
}

int main(void) {
    ps = mmk_page_size();
    saved = mmk__os;
    grown_by_child();
    shrink_and_offsets();
    refusals();
    write_map_follows();
    copy_map_follows();
    random_interleavings();
    follow_while_reading();
    return CHECK_DONE();
}
