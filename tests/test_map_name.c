/*
 * test_map_name.c — mmk_set_name and mmk_flush's flags (what Python 3.15's
 * set_name and flush(flags=) sit on): every error path, the flags as they
 * reach the platform layer (through a wrapped mmk__os.sync), and, where the
 * kernel names anonymous memory (probed with prctl directly), the name in
 * /proc/self/maps; elsewhere the documented MMK_ENOTSUP.
 */
#include <errno.h>
#include <sys/mman.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include "os.h"
#include "test_core_util.h"

/* ---- flush flags ----------------------------------------------------------- */

static int last_sync_flags = -1;
static int record_sync(void *addr, size_t len, int flags) {
    last_sync_flags = flags;
    return mmk__os_default.sync(addr, len, flags);
}

static void test_flush_flags(void) {
    uint64_t ps = mmk_page_size();
    const char *p = tpath("flush.bin");
    char *zeros = calloc(3, ps);
    CHECK(zeros != NULL);
    if (zeros == NULL)
        return;
    CHECK_OK(write_file(p, zeros, 3 * ps));
    free(zeros);
    mmk_options o = {0};
    o.access = MMK_ACCESS_WRITE;
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, p, &o));
    if (m == NULL)
        return;
    mmk__os.sync = record_sync;
    const unsigned ok[] = {MMK_FLUSH_SYNC, MMK_FLUSH_ASYNC, MMK_FLUSH_INVALIDATE,
                           MMK_FLUSH_ASYNC | MMK_FLUSH_INVALIDATE};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        last_sync_flags = -1;
        CHECK_OK(mmk_copy_in(m, i, "x", 1));
        CHECK_OK(mmk_flush(m, 0, 0, ok[i]));
        CHECK_EQ(last_sync_flags, ok[i]);
        char c = 0;
        CHECK_EQ(read_file_at(p, i, &c, 1), 1);
        CHECK_EQ(c, 'x');
    }
    /* Unknown bits: -EINVAL before any system call. */
    last_sync_flags = -1;
    CHECK_RC(mmk_flush(m, 0, 0, 1u << 2), -EINVAL);
    CHECK_RC(mmk_flush(m, 0, 0, ~0u), -EINVAL);
    CHECK_EQ(last_sync_flags, -1);
    /* MS_INVALIDATE over locked pages is EBUSY on Linux: the flag reached msync. */
#if defined(__linux__)
    void *data = mmk_data(m);
    /* ASan's mlock interceptor does nothing (and says 0). */
    if (UNDER_SANITIZER) {
        printf("note: under a sanitizer mlock does nothing: EBUSY not checked\n");
    } else if (mlock(data, ps) == 0) {
        CHECK_OK(mmk_flush(m, 0, ps, MMK_FLUSH_SYNC));
        CHECK_RC(mmk_flush(m, 0, ps, MMK_FLUSH_SYNC | MMK_FLUSH_INVALIDATE), -EBUSY);
        munlock(data, ps);
        CHECK_OK(mmk_flush(m, 0, ps, MMK_FLUSH_SYNC | MMK_FLUSH_INVALIDATE));
    } else {
        printf("note: mlock refused (%s): EBUSY for MMK_FLUSH_INVALIDATE not checked\n",
               strerror(errno));
    }
#endif
    mmk__os.sync = mmk__os_default.sync;
    CHECK_OK(mmk_close(m));
    CHECK_RC(mmk_flush(m, 0, 0, MMK_FLUSH_INVALIDATE), MMK_ECLOSED);
    CHECK_OK(mmk_free(m));
    unlink(p);
}

/* ---- set_name ---------------------------------------------------------------- */

/* Whether the kernel names private anonymous memory: the reference. */
static int kernel_names_memory(void) {
#if defined(__linux__)
    size_t n = mmk_page_size();
    void *a = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED)
        return 0;
    int ok = prctl(0x53564d41 /* PR_SET_VMA */, 0 /* PR_SET_VMA_ANON_NAME */, (unsigned long)a,
                   (unsigned long)n, (unsigned long)"mmkit-probe") == 0;
    munmap(a, n);
    return ok;
#else
    return 0;
#endif
}

/* The /proc/self/maps line of the mapping holding addr contains `want`. */
static int maps_line_has(const void *addr, const char *want) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return 0;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)addr >= lo &&
            (uintptr_t)addr < hi) {
            found = strstr(line, want) != NULL;
            break;
        }
    }
    fclose(f);
    return found;
}

static void test_set_name(void) {
    uint64_t ps = mmk_page_size();
    int naming = kernel_names_memory();
    mmk_map *priv = NULL, *shared = NULL, *empty = NULL, *file = NULL;
    CHECK_OK(mmk_open_anon(&priv, 2 * ps, MMK_ANON_PRIVATE));
    CHECK_OK(mmk_open_anon(&shared, ps, MMK_ANON_SHARED));
    CHECK_OK(mmk_open_anon(&empty, 0, MMK_ANON_PRIVATE));
    const char *p = tpath("name.bin");
    CHECK_OK(write_file(p, "abc", 3));
    mmk_options o = {0};
    o.access = MMK_ACCESS_READ;
    CHECK_OK(mmk_open(&file, p, &o));
    if (!priv || !shared || !empty || !file)
        return;

    /* Argument errors come first, on every kind of map. */
    CHECK_RC(mmk_set_name(NULL, "x"), -EINVAL);
    CHECK_RC(mmk_set_name(priv, NULL), -EINVAL);
    char longest[MMK_NAME_MAX + 2];
    memset(longest, 'n', sizeof longest);
    longest[MMK_NAME_MAX + 1] = '\0';
    CHECK_RC(mmk_set_name(priv, longest), -ENAMETOOLONG);
    const char *bad[] = {"a[b", "b]", "$HOME", "back\\slash", "`", "tab\t", "\x7f", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_RC(mmk_set_name(priv, bad[i]), -EINVAL);
    CHECK_RC(mmk_set_name(file, "file"), -EBADF);
    CHECK_OK(mmk_set_name(empty, "nothing-to-name"));

    longest[MMK_NAME_MAX] = '\0'; /* exactly the limit */
    if (naming) {
        CHECK_OK(mmk_set_name(priv, "mmkit-c-test"));
        CHECK(maps_line_has(mmk_data(priv), "[anon:mmkit-c-test]"));
        CHECK(maps_line_has((char *)mmk_data(priv) + ps, "[anon:mmkit-c-test]"));
        CHECK_OK(mmk_set_name(priv, longest));
        CHECK(maps_line_has(mmk_data(priv), longest));
        CHECK_OK(mmk_set_name(priv, "")); /* an empty name is a name */
        /* Shared: named by the kernel (6.2+) unless it is a memfd. */
        int rc = mmk_set_name(shared, "mmkit-c-shared");
        if (maps_line_has(mmk_data(shared), "memfd:"))
            CHECK_RC(rc, MMK_ENOTSUP);
        else if (rc == 0)
            CHECK(maps_line_has(mmk_data(shared), "[anon_shmem:mmkit-c-shared]"));
        else
            CHECK_RC(rc, MMK_ENOTSUP);
    } else {
        printf("note: this kernel does not name anonymous memory: MMK_ENOTSUP checked\n");
        CHECK_RC(mmk_set_name(priv, "mmkit-c-test"), MMK_ENOTSUP);
        CHECK_RC(mmk_set_name(priv, longest), MMK_ENOTSUP);
        CHECK_RC(mmk_set_name(shared, "mmkit-c-shared"), MMK_ENOTSUP);
    }
    CHECK_OK(mmk_close(priv));
    CHECK_RC(mmk_set_name(priv, "x"), MMK_ECLOSED);
    CHECK_OK(mmk_free(priv));
    CHECK_OK(mmk_free(shared));
    CHECK_OK(mmk_free(empty));
    CHECK_OK(mmk_free(file));
    unlink(p);
}

int main(void) {
    test_flush_flags();
    test_set_name();
    return CHECK_DONE();
}
