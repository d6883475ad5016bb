/*
 * test_shm_portable.c — named shared memory and the process-shared mutex on
 * every platform: the part of test_shm that needs no fork, so it runs under
 * wine too (tests/win.cmake). Two maps of one name in one process, threads,
 * and a second process started as a second copy of this program (system()),
 * which dies holding the mutex.
 *
 * Where Windows differs (docs/platforms.md) the test checks the Windows
 * behaviour there: a section's size is fixed when it is created and is read
 * back in whole pages, and it lives while any handle does, unlink or not.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "os.h"
#include "shm_lock.h"

#ifdef _WIN32
#include <process.h>
#include <windows.h>

#include <aclapi.h>
#define getpid _getpid
#else
#include <unistd.h>
#endif

static char name_buf[128];

/* A name of this process (the plain, ASan, TSan and wine runs may overlap). */
static const char *shm_name(const char *what) {
    snprintf(name_buf, sizeof name_buf, "/mmk-portable-%ld-%s", (long)getpid(), what);
    return name_buf;
}

/* The size an existing object of `len` bytes reports when opened by name. */
static uint64_t opened_size(uint64_t len) {
#ifdef _WIN32
    uint64_t page = mmk_page_size();
    return (len + page - 1) / page * page; /* a view's size, in pages */
#else
    return len;
#endif
}

static void test_names(void) {
    mmk_map *m = (mmk_map *)1;
    CHECK_RC(mmk_shm_open(&m, NULL, 16, MMK_SHM_CREATE, 0600), -EINVAL);
    CHECK(m == NULL);
    CHECK_RC(mmk_shm_open(&m, "", 16, MMK_SHM_CREATE, 0600), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, "/a/b", 16, MMK_SHM_CREATE, 0600), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, "..", 16, MMK_SHM_CREATE, 0600), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, shm_name("missing"), 0, 0, 0), -ENOENT);
    CHECK_RC(mmk_shm_unlink(shm_name("missing")), -ENOENT);
}

/* Create, exclusive create, open twice, data both ways, read-only, sizes. */
static void test_create_open(void) {
    const char *nm = shm_name("basic");
    char name[128];
    snprintf(name, sizeof name, "%s", nm);
    (void)mmk_shm_unlink(name);

    mmk_shm_options o = MMK_SHM_OPTIONS_INIT;
    o.length = 10000;
    o.flags = MMK_SHM_CREATE | MMK_SHM_EXCL;
    mmk_map *a = NULL, *b = NULL, *r = NULL, *x = NULL;
    int created = -1;
    CHECK_OK(mmk_shm_open_ex(&a, name, &o, &created));
    CHECK_EQ(created, 1);
    CHECK_EQ(mmk_length(a), 10000);
    unsigned char *pa = mmk_data(a);
    for (size_t i = 0; i < 10000; i++)
        CHECK(pa[i] == 0);

    /* Exclusive create of an existing name fails and leaves it alone. */
    CHECK_RC(mmk_shm_open_ex(&x, name, &o, &created), -EEXIST);
    CHECK(x == NULL);

    /* Open-or-create of an existing name opens it (created = 0). */
    o.flags = MMK_SHM_CREATE;
    CHECK_OK(mmk_shm_open_ex(&b, name, &o, &created));
    CHECK_EQ(created, 0);
    unsigned char *pb = mmk_data(b);
    CHECK(pa != pb);
    for (size_t i = 0; i < 10000; i++)
        pa[i] = (unsigned char)(i * 7 + 3);
    CHECK_MEM(pa, pb, 10000);
    pb[9999] = 0xa5;
    CHECK(pa[9999] == 0xa5);
    CHECK_OK(mmk_free(b));

    /* Whole length of an existing object: what the platform reports. */
    CHECK_OK(mmk_shm_open(&b, name, 0, 0, 0));
    CHECK_EQ(mmk_length(b), opened_size(10000));
    CHECK_MEM(mmk_data(b), pa, 10000);
    CHECK_OK(mmk_free(b));

    /* A shorter map of it, and one longer than it is: MMK_ELENGTH. */
    CHECK_OK(mmk_shm_open(&b, name, 100, 0, 0));
    CHECK_EQ(mmk_length(b), 100);
    CHECK_OK(mmk_free(b));
    CHECK_RC(mmk_shm_open(&x, name, opened_size(10000) + 1, 0, 0), MMK_ELENGTH);
    CHECK_RC(mmk_shm_open(&x, name, opened_size(10000) + 1, MMK_SHM_READONLY, 0), MMK_ELENGTH);

    /* Read-only: sees the data, may not write. */
    CHECK_OK(mmk_shm_open(&r, name, 10000, MMK_SHM_READONLY, 0));
    CHECK_MEM(mmk_data(r), pa, 10000);
    pa[5] = 0x5a;
    CHECK(((unsigned char *)mmk_data(r))[5] == 0x5a);
    CHECK_OK(mmk_free(r));

    /* Open-or-create asking for more than there is: POSIX grows the object;
       a Windows section keeps the size it was created with. */
    o.length = 3 * opened_size(10000);
#ifdef _WIN32
    CHECK_RC(mmk_shm_open_ex(&x, name, &o, &created), MMK_ENOTSUP);
    CHECK(x == NULL);
#else
    CHECK_OK(mmk_shm_open_ex(&x, name, &o, &created));
    CHECK_EQ(created, 0);
    CHECK_EQ(mmk_length(x), o.length);
    CHECK_MEM(mmk_data(x), pa, 10000);
    CHECK(((unsigned char *)mmk_data(x))[o.length - 1] == 0);
    CHECK_OK(mmk_free(x));
#endif

    /* Resizing the map resizes the object on POSIX; a section cannot change
       size, so on Windows the map stays as it was. */
    CHECK_OK(mmk_shm_open(&b, name, 10000, 0, 0));
#ifdef _WIN32
    CHECK_RC(mmk_resize(b, 20 * opened_size(10000)), MMK_ENOTSUP);
    CHECK_EQ(mmk_length(b), 10000);
#else
    CHECK_OK(mmk_resize(b, 20 * opened_size(10000)));
    CHECK_EQ(mmk_length(b), 20 * opened_size(10000));
#endif
    CHECK_MEM(mmk_data(b), pa, 10000);
    CHECK_OK(mmk_free(b));

    /* Unlink: POSIX forgets the name at once; Windows keeps the object, and
       so its name, while any handle (a's map) is open. */
    CHECK_OK(mmk_shm_unlink(name));
#ifdef _WIN32
    CHECK_OK(mmk_shm_open(&b, name, 10000, 0, 0));
    CHECK_MEM(mmk_data(b), pa, 10000);
    CHECK_OK(mmk_free(b));
#else
    CHECK_RC(mmk_shm_open(&b, name, 10000, 0, 0), -ENOENT);
    CHECK_RC(mmk_shm_unlink(name), -ENOENT);
#endif
    CHECK_OK(mmk_free(a));
    /* With every map gone the object is gone on both. */
    CHECK_RC(mmk_shm_open(&b, name, 0, 0, 0), -ENOENT);
    CHECK_RC(mmk_shm_unlink(name), -ENOENT);

#ifdef _WIN32
    /* A section is sized when created: zero bytes cannot be. */
    CHECK_RC(mmk_shm_open(&x, name, 0, MMK_SHM_CREATE, 0600), -EINVAL);
    CHECK(x == NULL);
#endif
}

#ifdef _WIN32
/* The section's security descriptor names the caller's user alone (and
   everyone, with read access only, when the mode gives others read). */
static void check_dacl(const char *name, unsigned expect_aces) {
    wchar_t wname[200];
    swprintf(wname, 200, L"Local\\mmkit-shm-%hs", name + 1);
    HANDLE h = OpenFileMappingW(READ_CONTROL, FALSE, wname);
    CHECK(h != NULL);
    if (!h)
        return;
    PACL dacl = NULL;
    PSID owner = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    CHECK_EQ(GetSecurityInfo(h, SE_KERNEL_OBJECT,
                             DACL_SECURITY_INFORMATION | OWNER_SECURITY_INFORMATION, &owner, NULL,
                             &dacl, NULL, &sd),
             ERROR_SUCCESS);
    HANDLE token;
    CHECK(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token));
    unsigned char buf[256];
    DWORD n = 0;
    CHECK(GetTokenInformation(token, TokenUser, buf, sizeof buf, &n));
    CloseHandle(token);
    PSID me = ((TOKEN_USER *)buf)->User.Sid;
    CHECK(owner && EqualSid(owner, me));
    CHECK(dacl != NULL);
    if (dacl) {
        CHECK_EQ(dacl->AceCount, expect_aces);
        ACCESS_ALLOWED_ACE *ace = NULL;
        CHECK(GetAce(dacl, 0, (void **)&ace));
        CHECK(ace && ace->Header.AceType == ACCESS_ALLOWED_ACE_TYPE &&
              EqualSid((PSID)&ace->SidStart, me));
    }
    LocalFree(sd);
    CloseHandle(h);
}
#endif

/* Owner-only: a new object is ours alone, and opening one we own passes the
   owner check. (Another user's object is test_shm's, POSIX only.) */
static void test_owner_only(void) {
    char name[128];
    snprintf(name, sizeof name, "%s", shm_name("owner"));
    (void)mmk_shm_unlink(name);
    mmk_map *a = NULL, *b = NULL;
    CHECK_OK(mmk_shm_open(&a, name, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0600));
#ifdef _WIN32
    check_dacl(name, 1);
#endif
    CHECK_OK(mmk_shm_open(&b, name, 4096, 0, 0600));
    CHECK_OK(mmk_free(b));
    CHECK_OK(mmk_free(a));
    (void)mmk_shm_unlink(name);

    CHECK_OK(mmk_shm_open(&a, name, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0644));
#ifdef _WIN32
    check_dacl(name, 2);
#endif
    CHECK_OK(mmk_shm_open(&b, name, 4096, MMK_SHM_READONLY, 0644));
    CHECK_OK(mmk_free(b));
    CHECK_OK(mmk_free(a));
    (void)mmk_shm_unlink(name);
}

/* The shared block: a mutex and a counter. */
typedef struct shared {
    mmk_mutex mu;
    uint64_t counter;
    uint64_t child_saw;
} shared;

typedef struct worker {
    const char *name;
    int rounds;
    int rc;
    shared *s; /* die_holding: the creator's map */
} worker;

/* Each thread maps the object itself (its own map of the same name) and
   adds to the counter under the mutex. */
static void *count_worker(void *p) {
    worker *w = p;
    mmk_map *m = NULL;
    w->rc = mmk_shm_open(&m, w->name, sizeof(shared), 0, 0);
    if (w->rc < 0)
        return NULL;
    shared *s = mmk_data(m);
    for (int i = 0; i < w->rounds && w->rc >= 0; i++) {
        w->rc = mmk_mutex_lock(&s->mu);
        if (w->rc != 0)
            break;
        uint64_t v = s->counter;
        mmk__os_yield();
        s->counter = v + 1;
        w->rc = mmk_mutex_unlock(&s->mu);
    }
    int frc = mmk_free(m);
    if (w->rc >= 0)
        w->rc = frc;
    return NULL;
}

/* A thread that locks and ends without unlocking. It uses the creator's
   map: Linux marks a robust mutex of a dead thread through the address the
   thread locked it at, which must still be mapped. */
static void *die_holding(void *p) {
    worker *w = p;
    w->rc = mmk_mutex_lock(&w->s->mu);
    w->s->counter = 77;
    return NULL;
}

static void test_threads(const char *flavour) {
    char name[128];
    snprintf(name, sizeof name, "%s", shm_name(flavour));
    (void)mmk_shm_unlink(name);
    mmk_map *m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, sizeof(shared), MMK_SHM_CREATE | MMK_SHM_EXCL, 0600));
    shared *s = mmk_data(m);
    CHECK_OK(mmk_mutex_init(&s->mu));

    enum { THREADS = 4, ROUNDS = 500 };
    worker w[THREADS];
    mmk__thread t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){name, ROUNDS, -1, NULL};
        CHECK_OK(mmk__thread_create(&t[i], count_worker, &w[i]));
    }
    for (int i = 0; i < THREADS; i++) {
        mmk__thread_join(t[i]);
        CHECK_OK(w[i].rc);
    }
    CHECK_EQ(s->counter, (uint64_t)THREADS * ROUNDS);

    /* A thread that dies holding the lock: the robust and Windows flavours
       tell the next locker (the file flavour's lock belongs to the process,
       which lives on: docs/platforms.md). */
    if (strcmp(flavour, "file") != 0) {
        worker d = {name, 1, -1, s};
        mmk__thread dt;
        CHECK_OK(mmk__thread_create(&dt, die_holding, &d));
        mmk__thread_join(dt);
        CHECK_OK(d.rc);
        CHECK_EQ(s->counter, 77);
        CHECK_RC(mmk_mutex_lock(&s->mu), MMK_LOCK_OWNERDEAD);
        s->counter = 0;
        CHECK_OK(mmk_mutex_consistent(&s->mu));
        CHECK_OK(mmk_mutex_unlock(&s->mu));
        CHECK_OK(mmk_mutex_lock(&s->mu));
        CHECK_OK(mmk_mutex_unlock(&s->mu));
    }
    CHECK_OK(mmk_mutex_destroy(&s->mu));
    CHECK_OK(mmk_free(m));
    (void)mmk_shm_unlink(name);
}

/* The child: a second copy of this program, started with
   "child <name> <flavour>". It sees the parent's data, writes its answer,
   takes the mutex and exits holding it. */
static int child_main(const char *name, const char *flavour) {
    if (mmk__lock_select(flavour) != 0)
        return 2;
    mmk_map *m = NULL;
    if (mmk_shm_open(&m, name, sizeof(shared), 0, 0) != 0)
        return 3;
    shared *s = mmk_data(m);
    if (mmk_mutex_lock(&s->mu) != 0)
        return 4;
    s->child_saw = s->counter;
    s->counter = 12345;
    /* Dies holding the lock, the map still open (which Linux needs to mark
       the robust mutex), without the exit handlers (LeakSanitizer's). */
    fflush(stdout);
    _exit(0);
}

static void test_child_process(const char *argv0, const char *flavour) {
    char name[128];
    snprintf(name, sizeof name, "%s", shm_name("child"));
    (void)mmk_shm_unlink(name);
    mmk_map *m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, sizeof(shared), MMK_SHM_CREATE | MMK_SHM_EXCL, 0600));
    shared *s = mmk_data(m);
    CHECK_OK(mmk_mutex_init(&s->mu));
    s->counter = 4242;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "\"%s\" child %s %s", argv0, name, flavour);
    int rc = system(cmd);
    CHECK_EQ(rc, 0);
    if (rc == 0) {
        CHECK_EQ(s->child_saw, 4242);
        CHECK_EQ(s->counter, 12345);
        CHECK_RC(mmk_mutex_lock(&s->mu), MMK_LOCK_OWNERDEAD);
        CHECK_OK(mmk_mutex_consistent(&s->mu));
        CHECK_OK(mmk_mutex_unlock(&s->mu));
    }
    CHECK_OK(mmk_mutex_destroy(&s->mu));
    CHECK_OK(mmk_free(m));
    (void)mmk_shm_unlink(name);
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return child_main(argv[2], argv[3]);
    test_names();
    test_create_open();
    test_owner_only();
    /* The mutex tests once per flavour this build has (shm_lock.h). */
    static const char *const flavours[] = {"robust", "file", "win"};
    for (size_t i = 0; i < sizeof flavours / sizeof flavours[0]; i++) {
        if (mmk__lock_select(flavours[i]) != 0)
            continue;
        printf("test_shm_portable: mutex tests with the %s lock\n", flavours[i]);
        test_threads(flavours[i]);
        test_child_process(argv[0], flavours[i]);
    }
    CHECK_OK(mmk__lock_select(NULL));
    return CHECK_DONE();
}
