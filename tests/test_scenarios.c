/*
 * test_scenarios.c — real-life situations across processes and failures:
 * another process truncates a mapped file while we read it; anonymous shared
 * memory written by a child; flush and re-open; copy-on-write isolation;
 * failed resizes (injected through the os table) that must leave map and file
 * exactly as they were; open-time failures that must leave no trace; a sparse
 * file larger than 4 GiB mapped at an offset past 4 GiB.
 */
#include <sys/mman.h>

#include "os.h"
#include "test_core_util.h"

static uint64_t ps;

/* ---- a child truncates the file under our map ----------------------------- */

static const char *g_path;
static uint64_t g_keep;

static int child_truncates(void *arg) {
    (void)arg;
    return truncate(g_path, (off_t)g_keep) == 0 ? 0 : 1;
}

static int guarded_sum(void *arg) {
    const volatile unsigned char *p = arg;
    int s = 0;
    for (uint64_t i = 0; i < 8 * ps; i += ps)
        s += p[i];
    return s;
}

static int advise_unknown(void *addr, size_t len, int advice) {
    (void)addr, (void)len, (void)advice;
    return -EINVAL;
}

static void scenario_truncated_by_other_process(void) {
    const char *path = tpath("shrinks");
    uint64_t size = 16 * ps;
    unsigned char *data = malloc(size);
    memset(data, 'a', size);
    for (uint64_t i = ps - 1; i < size; i += ps)
        data[i] = '\n';
    CHECK_EQ(write_file(path, data, size), 0);
    mmk_options o = {0};
    o.access = MMK_ACCESS_WRITE;
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, &o));
    mmk_map *r = NULL;
    CHECK_OK(mmk_open(&r, path, NULL)); /* and a read-only one */

    g_path = path;
    g_keep = 2 * ps;
    int st = run_child(child_truncates, NULL);
    CHECK(CHILD_EXITED_WITH(st, 0));
    uint64_t fs = 0;
    CHECK_OK(mmk_file_size(m, &fs));
    CHECK_EQ(fs, 2 * ps);
    CHECK_EQ(mmk_length(m), size); /* the map does not know yet */

    unsigned char *buf = malloc(size);
    /* what is still in the file reads fine */
    CHECK_EQ(mmk_read(m, buf, 2 * ps), 2 * ps);
    CHECK_MEM(buf, data, 2 * ps);
    /* past it: MMK_EFAULT from everything that touches the bytes, and the
       cursor stays where it was */
    CHECK_EQ(mmk_seek(m, 3 * ps, MMK_SEEK_SET), 3 * ps);
    CHECK_RC(mmk_read(m, buf, 10), MMK_EFAULT);
    CHECK_EQ(mmk_tell(m), 3 * ps);
    CHECK_RC(mmk_read_byte(m), MMK_EFAULT);
    CHECK_RC(mmk_readline(m, buf, size), MMK_EFAULT);
    CHECK_RC(mmk_line_length(m), MMK_EFAULT);
    CHECK_RC(mmk_write(m, "xyz", 3), MMK_EFAULT);
    CHECK_RC(mmk_write_byte(m, 'x'), MMK_EFAULT);
    CHECK_EQ(mmk_tell(m), 3 * ps);
    CHECK_EQ(mmk_seek(m, ps, MMK_SEEK_SET), ps);
    CHECK_RC(mmk_read(m, buf, 4 * ps), MMK_EFAULT); /* starts fine, ends past the end */
    CHECK_EQ(mmk_tell(m), ps);
    int64_t pos;
    CHECK_RC(mmk_find(m, "zz", 2, 0, MMK_DEFAULT_POS, &pos), MMK_EFAULT);
    CHECK_RC(mmk_find(m, "z", 1, 0, MMK_DEFAULT_POS, &pos), MMK_EFAULT);
    CHECK_OK(mmk_find(m, "zz", 2, 0, (int64_t)(2 * ps), &pos)); /* stays inside */
    CHECK_EQ(pos, -1);
    CHECK_RC(mmk_rfind(m, "a\n", 2, 0, MMK_DEFAULT_POS, &pos), MMK_EFAULT);
    CHECK_RC(mmk_rfind(m, "a", 1, 0, MMK_DEFAULT_POS, &pos), MMK_EFAULT);
    CHECK_OK(mmk_rfind(m, "a\n", 2, 0, (int64_t)(2 * ps), &pos));
    CHECK_EQ(pos, (int64_t)(2 * ps - 2));
    CHECK_RC(mmk_copy_out(m, 5 * ps, buf, 1), MMK_EFAULT);
    CHECK_RC(mmk_copy_in(m, 5 * ps, "q", 1), MMK_EFAULT);
    CHECK_RC(mmk_move(m, 5 * ps, 0, 10), MMK_EFAULT);
    CHECK_RC(mmk_move(m, 0, 5 * ps, 10), MMK_EFAULT);
    CHECK_RC(mmk_populate(m, 0, 0), MMK_EFAULT);
    CHECK_OK(mmk_populate(m, 0, 2 * ps));
    /* the same through the page-touching fallback (kernels without
       MADV_POPULATE_READ) */
    mmk__os_methods saved = mmk__os;
    mmk__os.advise = advise_unknown;
    CHECK_RC(mmk_populate(m, 0, 0), MMK_EFAULT);
    CHECK_OK(mmk_populate(m, 0, 2 * ps));
    mmk__os = saved;
    CHECK_RC(mmk_guard_run(guarded_sum, mmk_data(m)), MMK_EFAULT);
    CHECK_RC(mmk_read_byte(r), 'a');
    CHECK_EQ(mmk_seek(r, 10 * ps, MMK_SEEK_SET), 10 * ps);
    CHECK_RC(mmk_read_byte(r), MMK_EFAULT);
    CHECK_RC(mmk_read(r, buf, 1), MMK_EFAULT);
    /* a view holder that guards its own reads */
    void *vd;
    uint64_t vl;
    CHECK_OK(mmk_view_acquire(r, &vd, &vl));
    CHECK_RC(mmk_guard_run(guarded_sum, vd), MMK_EFAULT);
    mmk_view_release(r);

    /* resize makes the map and the file agree again; new bytes are zeros */
    CHECK_OK(mmk_resize(m, size));
    CHECK_EQ(file_size_of(path), size);
    CHECK_EQ(mmk_seek(m, 3 * ps, MMK_SEEK_SET), 3 * ps);
    CHECK_EQ(mmk_read_byte(m), 0);
    CHECK_EQ(mmk_guard_run(guarded_sum, mmk_data(m)), 'a' + 'a');
    /* and the process goes on and can close everything */
    CHECK_OK(mmk_free(m));
    CHECK_OK(mmk_free(r));
    free(buf);
    free(data);
    unlink(path);
}

/* ---- anonymous shared memory across fork ----------------------------------- */

static mmk_map *g_map;
static int g_pipe[2];

static int child_writes_map(void *arg) {
    const char *msg = arg;
    return mmk_copy_in(g_map, 0, msg, strlen(msg)) == 0 ? 0 : 1;
}

static int child_writes_after_signal(void *arg) {
    (void)arg;
    char c;
    if (read(g_pipe[0], &c, 1) != 1)
        return 2;
    /* the parent grew its map meanwhile; this child still has the old one */
    return mmk_copy_in(g_map, 10, "late", 4) == 0 ? 0 : 1;
}

static int anon_fd_missing(void) {
    return MMK_ENOTSUP;
}

static void scenario_anonymous_shared(void) {
    for (int no_memfd = 0; no_memfd <= 1; no_memfd++) {
        mmk__os_methods saved = mmk__os;
        if (no_memfd)
            mmk__os.anon_fd = anon_fd_missing;
        mmk_map *m = NULL;
        CHECK_OK(mmk_open_anon(&m, ps, MMK_ANON_SHARED));
        mmk__os = saved;
        g_map = m;
        int st = run_child(child_writes_map, "hello from the child");
        CHECK(CHILD_EXITED_WITH(st, 0));
        CHECK_MEM(mmk_data(m), "hello from the child", 20);
        if (no_memfd || !anon_fd_available()) { /* the POSIX-only build has none */
            /* a MAP_SHARED|MAP_ANONYMOUS mapping cannot grow (its pages past
               the first size would fault), only shrink */
            CHECK_RC(mmk_resize(m, 2 * ps), MMK_ENOTSUP);
            CHECK_EQ(mmk_length(m), ps);
            CHECK_OK(mmk_resize(m, 100));
            CHECK_MEM(mmk_data(m), "hello from the child", 20);
        } else {
            /* grow, and the memory is still shared with children forked before */
            CHECK_EQ(pipe(g_pipe), 0);
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid == 0)
                _exit(child_writes_after_signal(NULL));
            CHECK_OK(mmk_resize(m, 3 * ps));
            CHECK_EQ(write(g_pipe[1], "go", 1), 1);
            int status;
            waitpid(pid, &status, 0);
            CHECK(CHILD_EXITED_WITH(status, 0));
            close(g_pipe[0]);
            close(g_pipe[1]);
            CHECK_MEM((char *)mmk_data(m) + 10, "late", 4);
            /* and with children forked after the resize, in the new pages */
            CHECK_OK(mmk_copy_in(m, 2 * ps, "", 0));
            g_map = m;
            st = run_child(child_writes_map, "again");
            CHECK(CHILD_EXITED_WITH(st, 0));
            CHECK_MEM(mmk_data(m), "again", 5);
            CHECK_EQ(((unsigned char *)mmk_data(m))[3 * ps - 1], 0);
        }
        CHECK_OK(mmk_free(m));
    }
    /* private: the child's writes stay in the child */
    mmk_map *m = NULL;
    CHECK_OK(mmk_open_anon(&m, ps, MMK_ANON_PRIVATE));
    g_map = m;
    int st = run_child(child_writes_map, "private");
    CHECK(CHILD_EXITED_WITH(st, 0));
    CHECK_MEM(mmk_data(m), "\0\0\0\0\0\0\0", 7);
    CHECK_OK(mmk_free(m));
}

/* ---- flush, re-open, copy-on-write ------------------------------------------- */

static int child_checks_file(void *arg) {
    const char *path = arg;
    char buf[8];
    if (read_file_at(path, 0, buf, 8) != 8)
        return 2;
    return memcmp(buf, "original", 8) == 0 ? 0 : 1;
}

static void scenario_flush_and_copy(void) {
    const char *path = tpath("flush");
    uint64_t size = 5 * ps + 77;
    unsigned char *data = calloc(1, size);
    memcpy(data, "original", 8);
    CHECK_EQ(write_file(path, data, size), 0);

    /* copy-on-write: writes stay in this map, another process sees the file */
    mmk_options o = {0};
    o.access = MMK_ACCESS_COPY;
    o.offset = 0;
    mmk_map *c = NULL;
    CHECK_OK(mmk_open(&c, path, &o));
    CHECK_OK(mmk_copy_in(c, 0, "modified", 8));
    CHECK_OK(mmk_copy_in(c, size - 8, "modified", 8));
    CHECK_OK(mmk_flush(c, 0, 0, MMK_FLUSH_SYNC));
    int st = run_child(child_checks_file, (void *)path);
    CHECK(CHILD_EXITED_WITH(st, 0));
    CHECK_OK(mmk_free(c));
    unsigned char tail[8];
    CHECK_EQ(read_file_at(path, size - 8, tail, 8), 8);
    CHECK_MEM(tail, "\0\0\0\0\0\0\0\0", 8);

    /* shared write map at an odd offset: flush, then the file and a new map have it */
    o.access = MMK_ACCESS_WRITE;
    o.offset = ps + 3;
    mmk_map *w = NULL;
    CHECK_OK(mmk_open(&w, path, &o));
    CHECK_OK(mmk_copy_in(w, 0, "written", 7));
    CHECK_OK(mmk_copy_in(w, 3 * ps, "later", 5));
    CHECK_OK(mmk_flush(w, 0, 7, MMK_FLUSH_SYNC));
    CHECK_OK(mmk_flush(w, 3 * ps, 5, MMK_FLUSH_ASYNC));
    CHECK_OK(mmk_flush(w, 0, 0, MMK_FLUSH_SYNC));
    char buf[8];
    CHECK_EQ(read_file_at(path, ps + 3, buf, 7), 7);
    CHECK_MEM(buf, "written", 7);
    CHECK_OK(mmk_free(w));
    mmk_map *r = NULL;
    CHECK_OK(mmk_open(&r, path, NULL));
    CHECK_MEM((char *)mmk_data(r) + ps + 3, "written", 7);
    CHECK_MEM((char *)mmk_data(r) + 4 * ps + 3, "later", 5);
    CHECK_MEM(mmk_data(r), "original", 8);
    CHECK_OK(mmk_free(r));
    free(data);
    unlink(path);
}

/* ---- failure injection --------------------------------------------------------- */

static int inj_calls;
static int fail_truncate(int fd, uint64_t size) {
    (void)fd, (void)size;
    inj_calls++;
    return -ENOSPC;
}
static int alloc_unsupported(int fd, uint64_t off, uint64_t len, int keep) {
    (void)fd, (void)off, (void)len, (void)keep;
    inj_calls++;
    return MMK_ENOTSUP;
}
static int alloc_enospc(int fd, uint64_t off, uint64_t len, int keep) {
    (void)fd, (void)off, (void)len, (void)keep;
    inj_calls++;
    return -ENOSPC;
}
static int fail_remap(void *a, size_t o, size_t n, void **p) {
    (void)a, (void)o, (void)n, (void)p;
    inj_calls++;
    return -ENOMEM;
}
static int missing_remap(void *a, size_t o, size_t n, void **p) {
    (void)a, (void)o, (void)n, (void)p;
    inj_calls++;
    return MMK_ENOTSUP;
}
static int fail_map(int fd, uint64_t off, size_t len, unsigned how, int nf, void **addr) {
    (void)fd, (void)off, (void)len, (void)how, (void)nf, (void)addr;
    inj_calls++;
    return -ENOMEM;
}
static int fail_dup(int fd) {
    (void)fd;
    inj_calls++;
    return -EMFILE;
}
static int fail_fstat(int fd, mmk__os_stat *st) {
    (void)fd, (void)st;
    inj_calls++;
    return -EIO;
}
static int fail_anon_fd(void) {
    inj_calls++;
    return -EMFILE;
}
/* Truncate that works for growing and fails for shrinking. */
static int fail_shrink_truncate(int fd, uint64_t size) {
    mmk__os_stat st;
    if (mmk__os_default.fstat(fd, &st) == 0 && size < st.size) {
        inj_calls++;
        return -EIO;
    }
    return mmk__os_default.truncate(fd, size);
}

/* Number of open descriptors of this process. */
static int count_fds(void) {
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) != -1;
    return n;
}

/* Checks that `m` still has length `len`, base `d` and the bytes `want`,
   and that the file has `fsize` bytes. */
static void expect_unchanged(mmk_map *m, const char *path, void *d, uint64_t len,
                             const unsigned char *want, uint64_t fsize) {
    CHECK_EQ(mmk_length(m), len);
    CHECK(mmk_data(m) == d);
    CHECK_MEM(mmk_data(m), want, len);
    CHECK_EQ(file_size_of(path), fsize);
    CHECK_EQ(mmk_view_count(m), 0);
    CHECK_EQ(mmk_is_closed(m), 0);
}

static void scenario_resize_failures(void) {
    const char *path = tpath("inject");
    uint64_t size = 4 * ps + 10;
    unsigned char *data = malloc(size);
    fill_random(data, size, 99, 0);
    mmk__os_methods saved = mmk__os;
    uint64_t offs[] = {0, 1, ps + 1};
    for (size_t k = 0; k < 3; k++) {
        uint64_t off = offs[k], len = size - off;
        CHECK_EQ(write_file(path, data, size), 0);
        mmk_options o = {0};
        o.access = MMK_ACCESS_WRITE;
        o.offset = off;
        mmk_map *m = NULL;
        CHECK_OK(mmk_open(&m, path, &o));
        void *d = mmk_data(m);
        CHECK_EQ(mmk_seek(m, 7, MMK_SEEK_SET), 7);

        /* grow: the file cannot grow (no blocks to reserve) */
        inj_calls = 0;
        mmk__os.allocate = alloc_enospc;
        CHECK_RC(mmk_resize(m, len + 3 * ps), -ENOSPC);
        mmk__os = saved;
        CHECK(inj_calls > 0);
        expect_unchanged(m, path, d, len, data + off, size);
        /* grow on a filesystem that cannot reserve: ftruncate, which fails */
        inj_calls = 0;
        mmk__os.allocate = alloc_unsupported;
        mmk__os.truncate = fail_truncate;
        CHECK_RC(mmk_resize(m, len + 3 * ps), -ENOSPC);
        mmk__os = saved;
        CHECK_EQ(inj_calls, 2);
        expect_unchanged(m, path, d, len, data + off, size);
        /* grow: the file grew but the mapping cannot: the file goes back */
        inj_calls = 0;
        mmk__os.remap = fail_remap;
        CHECK_RC(mmk_resize(m, len + 3 * ps), -ENOMEM);
        mmk__os = saved;
        CHECK(inj_calls > 0);
        expect_unchanged(m, path, d, len, data + off, size);
        /* shrink: the mapping shrank, the file cannot: the mapping comes back */
        inj_calls = 0;
        mmk__os.truncate = fail_shrink_truncate;
        CHECK_RC(mmk_resize(m, 5), -EIO);
        CHECK(inj_calls > 0);
        CHECK_EQ(mmk_length(m), len);
        CHECK_MEM(mmk_data(m), data + off, len);
        CHECK_EQ(file_size_of(path), size);
        d = mmk_data(m); /* the restored mapping may sit elsewhere */
        /* shrink: cannot remap at all */
        mmk__os = saved;
        mmk__os.remap = fail_remap;
        CHECK_RC(mmk_resize(m, 5), -ENOMEM);
        mmk__os = saved;
        expect_unchanged(m, path, d, len, data + off, size);
        /* grow while the file is longer than the new map: shrinking the file fails */
        CHECK_OK(mmk_resize(m, 10));
        d = mmk_data(m);
        CHECK_EQ(truncate(path, (off_t)size), 0);
        mmk__os.truncate = fail_shrink_truncate;
        CHECK_RC(mmk_resize(m, 20), -EIO);
        mmk__os = saved;
        CHECK_EQ(mmk_length(m), 10);
        CHECK_MEM(mmk_data(m), data + off, 10);
        CHECK_EQ(file_size_of(path), size);
        CHECK_EQ(mmk_tell(m), 7);
        /* fstat failing stops a resize before anything happens */
        d = mmk_data(m);
        mmk__os.fstat = fail_fstat;
        CHECK_RC(mmk_resize(m, 30), -EIO);
        mmk__os = saved;
        expect_unchanged(m, path, d, 10, data + off, size);

        /* no mremap on this platform: unmap + map keeps working, contents kept */
        inj_calls = 0;
        mmk__os.remap = missing_remap;
        CHECK_OK(mmk_resize(m, len + 2 * ps));
        CHECK_MEM(mmk_data(m), data + off, 10);
        CHECK_EQ(file_size_of(path), off + len + 2 * ps);
        CHECK_OK(mmk_copy_in(m, len + 2 * ps - 1, "E", 1));
        CHECK_OK(mmk_resize(m, 3));
        CHECK_MEM(mmk_data(m), data + off, 3);
        mmk__os = saved;
        CHECK(inj_calls > 0);
        CHECK_EQ(file_size_of(path), off + 3);
        CHECK_OK(mmk_free(m));
    }

    /* anonymous maps without mremap */
    for (unsigned flags = 0; flags <= MMK_ANON_SHARED; flags++) {
        /* Without memfd either (the POSIX-only build) shared anonymous
           memory cannot grow at all: the no_memfd case above. */
        if (flags == MMK_ANON_SHARED && !anon_fd_available())
            continue;
        mmk_map *m = NULL;
        CHECK_OK(mmk_open_anon(&m, 2 * ps, flags));
        CHECK_OK(mmk_copy_in(m, 0, data, 2 * ps));
        mmk__os.remap = missing_remap;
        CHECK_OK(mmk_resize(m, 5 * ps));
        CHECK_MEM(mmk_data(m), data, 2 * ps);
        CHECK_OK(mmk_resize(m, ps));
        CHECK_MEM(mmk_data(m), data, ps);
        mmk__os = saved;
        /* and a failing remap leaves them alone */
        void *d = mmk_data(m);
        mmk__os.remap = fail_remap;
        CHECK_RC(mmk_resize(m, 3 * ps), -ENOMEM);
        mmk__os = saved;
        CHECK(mmk_data(m) == d);
        CHECK_EQ(mmk_length(m), ps);
        CHECK_MEM(mmk_data(m), data, ps);
        CHECK_OK(mmk_free(m));
    }
    mmk_map *m = NULL;
    mmk__os.anon_fd = fail_anon_fd;
    CHECK_RC(mmk_open_anon(&m, ps, MMK_ANON_SHARED), -EMFILE);
    mmk__os = saved;
    CHECK(m == NULL);
    mmk__os.map = fail_map;
    CHECK_RC(mmk_open_anon(&m, ps, MMK_ANON_SHARED), -ENOMEM);
    CHECK_RC(mmk_open_anon(&m, ps, MMK_ANON_PRIVATE), -ENOMEM);
    mmk__os = saved;

    /* open-time failures leave no trace on disk or in the descriptor table */
    int fds_before = count_fds();
    CHECK_EQ(write_file(path, data, size), 0);
    mmk_options o = {0};
    o.access = MMK_ACCESS_WRITE;
    o.offset = 1;
    o.length = 3 * size;
    o.flags = MMK_OPEN_GROW;
    mmk__os.map = fail_map;
    CHECK_RC(mmk_open(&m, path, &o), -ENOMEM);
    CHECK(m == NULL);
    CHECK_EQ(file_size_of(path), size); /* the grow was undone */
    unlink(path);
    o.offset = 0;
    o.length = 10;
    o.flags = MMK_OPEN_CREATE | MMK_OPEN_GROW;
    CHECK_RC(mmk_open(&m, path, &o), -ENOMEM);
    CHECK_EQ(access(path, F_OK), -1); /* created by the call, removed again */
    mmk__os = saved;
    CHECK_EQ(write_file(path, data, size), 0);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    mmk__os.dup = fail_dup;
    CHECK_RC(mmk_open_fd(&m, fd, &o), -EINVAL); /* CREATE is not for descriptors */
    o.flags = 0;
    o.length = 0;
    CHECK_RC(mmk_open_fd(&m, fd, &o), -EMFILE);
    mmk__os = saved;
    mmk__os.fstat = fail_fstat;
    CHECK_RC(mmk_open_fd(&m, fd, &o), -EIO);
    CHECK_RC(mmk_open(&m, path, &o), -EIO);
    mmk__os = saved;
    mmk__os.map = fail_map;
    CHECK_RC(mmk_open_fd(&m, fd, &o), -ENOMEM);
    mmk__os = saved;
    close(fd);
    CHECK_EQ(file_size_of(path), size);
    CHECK_EQ(count_fds(), fds_before); /* every failed open closed what it opened */
    unlink(path);
    free(data);
}

/* ---- beyond 4 GiB ---------------------------------------------------------------- */

static void scenario_large_sparse_file(void) {
    const char *path = tpath("big");
    const uint64_t four_g = 4ull << 30, size = 5ull << 30;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
        CHECK(!"cannot make a sparse 5 GiB file here");
        return;
    }
    const char marker[] = "marker past four gigabytes";
    CHECK_EQ(pwrite(fd, marker, sizeof marker - 1, (off_t)(four_g + 3)), (long)sizeof marker - 1);
    close(fd);

    mmk_options o = {0};
    o.offset = four_g + 3;
    o.length = 100;
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, &o));
    CHECK_EQ(mmk_offset(m), four_g + 3);
    CHECK_MEM(mmk_data(m), marker, sizeof marker - 1);
    int64_t pos;
    CHECK_OK(mmk_find(m, "four", 4, MMK_DEFAULT_POS, MMK_DEFAULT_POS, &pos));
    CHECK_EQ(pos, 12);
    CHECK_OK(mmk_free(m));

    /* to the end of the file from there */
    o.length = 0;
    CHECK_OK(mmk_open(&m, path, &o));
    CHECK_EQ(mmk_length(m), size - four_g - 3);
    CHECK_OK(mmk_free(m));

    /* the whole file, then offsets past 4 GiB inside it; a 32-bit process
       cannot hold 5 GiB, and the open says so */
    o.offset = 0;
    if ((uint64_t)SIZE_MAX < size) {
        CHECK_RC(mmk_open(&m, path, &o), -EOVERFLOW);
    } else {
        CHECK_OK(mmk_open(&m, path, &o));
        CHECK_EQ(mmk_length(m), size);
        char buf[sizeof marker];
        CHECK_OK(mmk_copy_out(m, four_g + 3, buf, sizeof marker - 1));
        CHECK_MEM(buf, marker, sizeof marker - 1);
        CHECK_OK(mmk_find(m, marker, sizeof marker - 1, (int64_t)four_g - 100,
                          (int64_t)four_g + 100, &pos));
        CHECK_EQ(pos, (int64_t)(four_g + 3));
        CHECK_EQ(mmk_seek(m, (int64_t)(four_g + 3), MMK_SEEK_SET), (int64_t)(four_g + 3));
        CHECK_EQ(mmk_read_byte(m), 'm');
        CHECK_OK(mmk_free(m));
    }

    /* offsets past the end, and growing a file to past 4 GiB */
    o.offset = size + 1;
    CHECK_RC(mmk_open(&m, path, &o), MMK_EOFFSET);
    o.access = MMK_ACCESS_WRITE;
    o.offset = size + 5;
    o.length = 10;
    o.flags = MMK_OPEN_GROW;
    CHECK_OK(mmk_open(&m, path, &o));
    CHECK_EQ(file_size_of(path), (long long)(size + 15));
    CHECK_OK(mmk_copy_in(m, 0, "0123456789", 10));
    CHECK_OK(mmk_resize(m, 20));
    CHECK_EQ(file_size_of(path), (long long)(size + 25));
    CHECK_OK(mmk_free(m));
    unlink(path);
}

int main(void) {
    ps = mmk_page_size();
    scenario_truncated_by_other_process();
    scenario_anonymous_shared();
    scenario_flush_and_copy();
    scenario_resize_failures();
    scenario_large_sparse_file();
    return CHECK_DONE();
}
