/*
 * test_core_views.c — views and close/resize from several threads at once
 * (runs under TSan too): a view is either refused (MMK_ECLOSED) or sees the
 * whole, still-mapped memory; close succeeds exactly once, when the last view
 * is gone; resize never moves memory under a view.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "test_core_util.h"

enum { THREADS = 3 };

struct racer {
    mmk_map *m;
    uint64_t expect_len;
    long views, refused, bad;
};

/* Takes views until the map is closed, reading the first and last byte of
   each (ASan/TSan would see a read of unmapped or racing memory). */
static void *view_racer(void *arg) {
    struct racer *r = arg;
    for (;;) {
        void *d;
        uint64_t len;
        int rc = mmk_view_acquire(r->m, &d, &len);
        if (rc == MMK_ECLOSED) {
            r->refused++;
            break;
        }
        if (rc != 0 || len != r->expect_len || d == NULL) {
            r->bad++;
            break;
        }
        /* read across the whole view: memory that outlived it would crash here */
        const volatile unsigned char *p = d;
        uint64_t vs = 0, want = 0;
        for (uint64_t i = 0; i + 1 < len; i += 61, want++)
            vs += p[i] == 'v';
        if (vs != want || p[len - 1] != 'w')
            r->bad++;
        r->views++;
        mmk_view_release(r->m);
        /* on two cores three tight readers would almost never leave a
           moment with no view out; the closer needs one */
        if (r->views % 4 == 0)
            sched_yield();
    }
    return NULL;
}

static void race_close_against_views(const char *path, uint64_t size) {
    long total_views = 0, total_busy = 0;
    for (int round = 0; round < 30; round++) {
        mmk_map *m = NULL;
        CHECK_OK(mmk_open(&m, path, NULL));
        pthread_t th[THREADS];
        struct racer rs[THREADS];
        for (int i = 0; i < THREADS; i++) {
            rs[i] = (struct racer){m, size, 0, 0, 0};
            CHECK_EQ(pthread_create(&th[i], NULL, view_racer, &rs[i]), 0);
        }
        /* let the readers get going, then close as soon as no view is out */
        for (int i = 0; i < 100 * (round % 4); i++)
            sched_yield();
        int rc, busy = 0;
        while ((rc = mmk_close(m)) == MMK_EVIEWS) {
            busy++;
            sched_yield();
        }
        CHECK_OK(rc);
        CHECK_EQ(mmk_is_closed(m), 1);
        for (int i = 0; i < THREADS; i++) {
            pthread_join(th[i], NULL);
            CHECK_EQ(rs[i].bad, 0);
            CHECK_EQ(rs[i].refused, 1);
            total_views += rs[i].views;
        }
        total_busy += busy;
        CHECK_EQ(mmk_view_count(m), 0);
        CHECK_OK(mmk_close(m));
        CHECK_OK(mmk_free(m));
    }
    /* the race really happened: views were taken, and close was refused
       while they were out */
    CHECK(total_views > 0);
    printf("close race: %ld views taken, close refused %ld times\n", total_views, total_busy);
}

/* ---- two threads closing at once --------------------------------------- */

struct closer {
    mmk_map *m;
    int rc;
};

static void *close_it(void *arg) {
    struct closer *c = arg;
    c->rc = mmk_close(c->m);
    return NULL;
}

static void race_double_close(const char *path) {
    for (int round = 0; round < 50; round++) {
        mmk_map *m = NULL;
        CHECK_OK(mmk_open(&m, path, NULL));
        struct closer a = {m, 1}, b = {m, 1};
        pthread_t ta, tb;
        pthread_create(&ta, NULL, close_it, &a);
        pthread_create(&tb, NULL, close_it, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CHECK_OK(a.rc);
        CHECK_OK(b.rc);
        CHECK_EQ(mmk_is_closed(m), 1);
        CHECK_OK(mmk_free(m));
    }
}

/* ---- resize against views ------------------------------------------------ */

struct resizer_view {
    mmk_map *m;
    uint64_t ps;
    atomic_int *stop;
    long bad, views;
};

/* Lengths the resizing thread uses: ps .. 5 ps + 10. */
static int plausible_length(uint64_t len, uint64_t ps) {
    return len >= ps && len <= 5 * ps + 10;
}

/* While a view is held the map must not change: the view's memory stays
   mapped (its last byte is read; a stale pointer would crash under the
   sanitizers), and the map reports the same pointer and length. */
static void *view_during_resize(void *arg) {
    struct resizer_view *r = arg;
    while (!atomic_load(r->stop)) {
        void *d;
        uint64_t len;
        if (mmk_view_acquire(r->m, &d, &len) != 0) {
            r->bad++;
            break;
        }
        const volatile unsigned char *p = d;
        if (!plausible_length(len, r->ps) || p[0] != 's')
            r->bad++;
        (void)p[len - 1];
        if (mmk_data(r->m) != d || mmk_length(r->m) != len)
            r->bad++;
        r->views++;
        mmk_view_release(r->m);
    }
    return NULL;
}

static void race_resize_against_views(void) {
    mmk_map *m = NULL;
    uint64_t ps = mmk_page_size();
    CHECK_OK(mmk_open_anon(&m, ps, MMK_ANON_PRIVATE));
    ((unsigned char *)mmk_data(m))[0] = 's';
    atomic_int stop;
    atomic_init(&stop, 0);
    struct resizer_view rv[2] = {{m, ps, &stop, 0, 0}, {m, ps, &stop, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, view_during_resize, &rv[i]);
    int resized = 0, refused = 0;
    for (int i = 0; i < 3000; i++) {
        uint64_t len = ps + (uint64_t)(i * 37 % 5) * ps + (uint64_t)(i % 11);
        int rc = mmk_resize(m, len);
        if (rc == 0) {
            resized++;
        } else {
            CHECK_RC(rc, MMK_EVIEWS);
            refused++;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(rv[i].bad, 0);
    }
    CHECK_EQ(resized + refused, 3000);
    CHECK(plausible_length(mmk_length(m), ps));
    CHECK_EQ(((unsigned char *)mmk_data(m))[0], 's');
    CHECK_OK(mmk_free(m));
}

int main(void) {
    const char *tp = tpath("views");
    char path[512];
    snprintf(path, sizeof path, "%s", tp);
    uint64_t size = 3 * mmk_page_size() + 5;
    unsigned char *data = malloc(size);
    memset(data, 'v', size);
    data[size - 1] = 'w';
    CHECK_EQ(write_file(path, data, size), 0);
    free(data);
    race_close_against_views(path, size);
    race_double_close(path);
    race_resize_against_views();
    unlink(path);
    return CHECK_DONE();
}
