/*
 * test_map_threads.c — nothing unmaps under a library call (runs under ASan
 * and TSan too). Threads hammer every operation that touches mapped bytes
 * (copy in/out, find/rfind, move, flush, advise, populate, page locking,
 * cursor I/O, length/data/file size) while another thread closes the map,
 * round after round on a fresh map: no crash, every call either works or
 * answers MMK_ECLOSED once the map is closed, and every close either succeeds
 * or answers MMK_EVIEWS. mmk_close_wait is checked deterministically with a
 * call parked inside the map (an injected msync that waits for the test).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "internal.h"
#include "os.h"
#include "test_core_util.h"

/* The map's zones: each writer has its own, and everything read is in a
   zone nobody writes while the threads run (a data race on the bytes would
   be the test's own, and TSan would rightly report it). */
enum { SIZE = 64 * 1024, WORKERS = 4, Q = SIZE / 4, ZONE_W0 = 0, ZONE_W3 = Q, ZONE_READ = 2 * Q };

struct worker {
    mmk_map *m;
    int role;
    long ops, closed, bad;
    int last_bad; /* the first unexpected code, for the message */
};

/* An unexpected return code: counted and remembered. */
static void bad(struct worker *w, long long rc) {
    if (w->bad++ == 0)
        w->last_bad = (int)rc;
}

/* rc of one call: success (>= 0) or one of the codes this call may give. */
static int settle(struct worker *w, long long rc, int also) {
    w->ops++;
    if (rc == MMK_ECLOSED) {
        w->closed++;
        return 1;
    }
    if (rc < 0 && rc != also)
        bad(w, rc);
    return 0;
}

static void *hammer(void *arg) {
    struct worker *w = arg;
    mmk_map *m = w->m;
    unsigned char buf[4096];
    uint64_t s = (uint64_t)w->role * 7919 + 1;
    for (;;) {
        uint64_t r = rng_next(&s);
        uint64_t off = ZONE_READ + r % (2 * Q - sizeof buf);
        uint64_t woff = r % (Q - sizeof buf);
        int64_t pos;
        int done = 0;
        switch (w->role) {
        case 0: /* bulk copies and moves */
            done |= settle(w, mmk_copy_out(m, off, buf, 1), 0);
            done |= settle(w, mmk_copy_out(m, off, buf, sizeof buf), 0);
            done |= settle(w, mmk_copy_in(m, ZONE_W0 + woff, "w", 1), 0);
            done |= settle(w, mmk_copy_in(m, ZONE_W0 + woff, buf, 512), 0);
            done |= settle(w, mmk_move(m, ZONE_W0 + woff, SIZE - 1024, 1000), 0);
            break;
        case 1: /* searches over the whole map */
            done |= settle(w, mmk_find(m, "needle", 6, ZONE_READ, MMK_DEFAULT_POS, &pos), 0);
            done |= settle(w, mmk_rfind(m, "ne", 2, ZONE_READ, MMK_DEFAULT_POS, &pos), 0);
            done |= settle(w, mmk_rfind(m, "n", 1, ZONE_READ, MMK_DEFAULT_POS, &pos), 0);
            break;
        case 2: /* page-level control */
            done |= settle(w, mmk_flush(m, off, 100, MMK_FLUSH_ASYNC), 0);
            done |= settle(w, mmk_advise(m, MMK_ADVICE_WILLNEED, 0, 0), MMK_ENOTSUP);
            done |= settle(w, mmk_populate(m, off, 4096), 0);
            {
                int rc = mmk_lock_pages(m, off, 4096);
                /* RLIMIT_MEMLOCK may forbid it: that is the system's answer */
                done |= settle(w, rc, rc == -EPERM || rc == -ENOMEM ? rc : 0);
                if (rc == 0)
                    done |= settle(w, mmk_unlock_pages(m, off, 4096), 0);
            }
            {
                uint64_t fs;
                done |= settle(w, mmk_file_size(m, &fs), MMK_EANON);
            }
            (void)mmk_data(m); /* raw pointer: only asked for, never used */
            w->ops++;
            if (mmk_length(m) != SIZE && !mmk_is_closed(m))
                bad(w, -1);
            break;
        default: /* the one cursor thread (the cursor is not shared) */
            done |= settle(w, mmk_seek(m, (int64_t)off, MMK_SEEK_SET), 0);
            done |= settle(w, mmk_read(m, buf, 300), 0);
            done |= settle(w, mmk_readline(m, buf, sizeof buf), 0);
            done |= settle(w, mmk_line_length(m), 0);
            done |= settle(w, mmk_read_byte(m), MMK_ERANGE);
            done |= settle(w, mmk_seek(m, (int64_t)(ZONE_W3 + woff), MMK_SEEK_SET), 0);
            done |= settle(w, mmk_write(m, "cursor", 6), MMK_ERANGE);
            done |= settle(w, mmk_write_byte(m, 'c'), MMK_ERANGE);
            done |= settle(w, mmk_tell(m), 0);
            break;
        }
        if (done) {
            /* closed for good: every call says so from now on */
            int64_t p;
            if (mmk_copy_out(m, 0, buf, 1) != MMK_ECLOSED ||
                mmk_find(m, "n", 1, 0, MMK_DEFAULT_POS, &p) != MMK_ECLOSED ||
                mmk_read_byte(m) != MMK_ECLOSED || mmk_flush(m, 0, 0, 0) != MMK_ECLOSED)
                bad(w, -2);
            return NULL;
        }
        if (w->ops % 16 == 0)
            sched_yield(); /* two cores: leave the closer a moment */
    }
}

/* One round: a fresh map, WORKERS threads on it, the main thread closing. */
static void round_against_close(int round, long *busy, long *ops) {
    mmk_map *m = NULL;
    if (round % 3 == 2) {
        CHECK_OK(mmk_open_anon(&m, SIZE, round % 2 ? MMK_ANON_SHARED : MMK_ANON_PRIVATE));
    } else {
        mmk_options o = {0};
        o.access = MMK_ACCESS_WRITE;
        CHECK_OK(mmk_open(&m, tpath("threads"), &o));
    }
    if (m == NULL)
        return;
    CHECK_OK(mmk_copy_in(m, SIZE - 100, "needle\n", 7));
    pthread_t th[WORKERS];
    struct worker ws[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        ws[i] = (struct worker){m, i, 0, 0, 0, 0};
        CHECK_EQ(pthread_create(&th[i], NULL, hammer, &ws[i]), 0);
    }
    /* let the workers get going, then close: plain close retried on
       MMK_EVIEWS in even rounds, the waiting close in odd ones */
    for (int i = 0; i < 200 + round * 37 % 500; i++)
        sched_yield();
    int rc;
    if (round % 2 == 0) {
        while ((rc = mmk_close(m)) == MMK_EVIEWS) {
            (*busy)++;
            sched_yield();
        }
    } else {
        rc = mmk_close_wait(m);
    }
    CHECK_RC(rc, 0);
    CHECK_EQ(mmk_is_closed(m), 1);
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(ws[i].bad, 0);
        if (ws[i].bad)
            fprintf(stderr, "round %d worker %d: unexpected %s\n", round, i,
                    mmk_errname(ws[i].last_bad));
        CHECK(ws[i].closed > 0);
        *ops += ws[i].ops;
    }
    CHECK_RC(mmk_close(m), 0);
    CHECK_RC(mmk_close_wait(m), 0);
    CHECK_OK(mmk_free(m));
}

/* ---- mmk_close_wait, deterministically ------------------------------------- */

static atomic_int parked, unpark;
static int parked_sync(void *addr, size_t len, int async) {
    atomic_store(&parked, 1);
    while (!atomic_load(&unpark))
        sched_yield();
    return mmk__os_default.sync(addr, len, async);
}

static atomic_int fast_now; /* fast holds are on for this part */

static int close_in_child(void *arg) {
    int rc = mmk_close(arg);
    if (rc == MMK_EVIEWS)
        return 2;
    return rc == 0 && mmk_is_closed(arg) ? 0 : 1;
}

static void *flush_thread(void *arg) {
    /* a first call of the thread, so that the flush takes the fast hold
       where there is one (a thread's first hold is a counted one) */
    unsigned char b;
    if (mmk_copy_out(arg, 0, &b, 1) != 0)
        return (void *)(intptr_t)-1;
    return (void *)(intptr_t)mmk_flush(arg, 0, 0, MMK_FLUSH_SYNC);
}

static void *close_wait_thread(void *arg) {
    return (void *)(intptr_t)mmk_close_wait(arg);
}

static void close_wait_drains(void) {
    mmk_options o = {0};
    o.access = MMK_ACCESS_WRITE;
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, tpath("threads"), &o));
    mmk__os_methods saved = mmk__os;
    mmk__os.sync = parked_sync;
    atomic_store(&parked, 0);
    atomic_store(&unpark, 0);
    pthread_t f, c;
    CHECK_EQ(pthread_create(&f, NULL, flush_thread, m), 0);
    while (!atomic_load(&parked))
        sched_yield();
    /* a call is inside the map: a plain close refuses and changes nothing */
    CHECK_RC(mmk_close(m), MMK_EVIEWS);
    CHECK_EQ(mmk_is_closed(m), 0);
    unsigned char b;
    CHECK_OK(mmk_copy_out(m, 0, &b, 1));
    /* in a child of fork() the parked thread does not exist: where its hold
       is a per-thread one, the child can close (a counted hold, like a view,
       stays counted in the child, which is then told MMK_EVIEWS) */
    int st = run_child(close_in_child, m);
    CHECK(CHILD_EXITED_WITH(st, 0) || (!atomic_load(&fast_now) && CHILD_EXITED_WITH(st, 2)));
    if (atomic_load(&fast_now))
        CHECK(CHILD_EXITED_WITH(st, 0));
    /* the waiting close shuts the door at once and waits for the call */
    CHECK_EQ(pthread_create(&c, NULL, close_wait_thread, m), 0);
    while (!mmk_is_closed(m))
        sched_yield();
    CHECK_RC(mmk_copy_out(m, 0, &b, 1), MMK_ECLOSED);
    CHECK_RC(mmk_view_acquire(m, NULL, NULL), MMK_ECLOSED);
    CHECK_RC(mmk_resize(m, 10), MMK_ECLOSED);
    CHECK_RC(mmk_close(m), MMK_EVIEWS); /* still being drained */
    CHECK_RC(mmk_free(m), MMK_EVIEWS);
    atomic_store(&unpark, 1);
    void *rf, *rcw;
    pthread_join(f, &rf);
    pthread_join(c, &rcw);
    mmk__os = saved;
    CHECK_RC((intptr_t)rf, 0); /* the call in flight finished normally */
    CHECK_RC((intptr_t)rcw, 0);
    CHECK_RC(mmk_close(m), 0);
    CHECK_OK(mmk_free(m));

    /* views are not waited for: MMK_EVIEWS at once, nothing changed */
    CHECK_OK(mmk_open(&m, tpath("threads"), &o));
    CHECK_OK(mmk_view_acquire(m, NULL, NULL));
    CHECK_RC(mmk_close_wait(m), MMK_EVIEWS);
    CHECK_EQ(mmk_is_closed(m), 0);
    CHECK_OK(mmk_copy_out(m, 0, &b, 1));
    mmk_view_release(m);
    CHECK_RC(mmk_close_wait(m), 0);
    CHECK_RC(mmk_close_wait(NULL), -EINVAL);
    CHECK_OK(mmk_free(m));
}

int main(void) {
    unsigned char *data = malloc(SIZE);
    fill_random(data, SIZE, 5, 26);
    for (size_t i = 77; i < SIZE; i += 80)
        data[i] = '\n';
    CHECK_EQ(write_file(tpath("threads"), data, SIZE), 0);
    /* both kinds of hold (map.c): fast per-thread slots where the platform
       has a process barrier, counted ones everywhere */
    int fast = mmk__map_fast_holds(1);
    printf("fast holds %savailable here\n", fast ? "" : "not ");
    for (int kind = 0; kind < 2; kind++) {
        mmk__map_fast_holds(kind == 0);
        atomic_store(&fast_now, kind == 0 && fast);
        close_wait_drains();
        long busy = 0, ops = 0;
        int rounds = UNDER_SANITIZER ? 8 : 30;
        for (int r = 0; r < rounds; r++)
            round_against_close(r, &busy, &ops);
        printf("%s holds: %d rounds, %ld calls, %ld closes refused with MMK_EVIEWS and retried\n",
               kind == 0 && fast ? "fast" : "counted", rounds, ops, busy);
    }
    mmk__map_fast_holds(1);
    unlink(tpath("threads"));
    free(data);
    return CHECK_DONE();
}
