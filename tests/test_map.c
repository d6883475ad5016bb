/*
 * test_map.c — every map operation and its error paths, single-threaded:
 * opening (paths, descriptors, anonymous memory, any offset, empty files,
 * create/truncate/grow), cursor I/O with Python's mmap semantics, find/rfind
 * against a naive reference, move/copy, resize, flush, advice, views, and
 * every operation on NULL and on closed maps.
 */
#include <limits.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "os.h"
#include "test_core_util.h"

static uint64_t ps;

/* ---- helpers ------------------------------------------------------------- */

static mmk_options opts(int access, uint64_t offset, uint64_t length, unsigned flags) {
    mmk_options o = {0};
    o.access = access;
    o.offset = offset;
    o.length = length;
    o.flags = flags;
    return o;
}

/* Map `path` with the given options; NULL (and a failed check) on error. */
static mmk_map *open_ok(const char *path, int access, uint64_t offset, uint64_t length,
                        unsigned flags) {
    mmk_options o = opts(access, offset, length, flags);
    mmk_map *m = NULL;
    int rc = mmk_open(&m, path, &o);
    CHECK_RC(rc, 0);
    return rc == 0 ? m : NULL;
}

static int open_rc(const char *path, int access, uint64_t offset, uint64_t length, unsigned flags) {
    mmk_options o = opts(access, offset, length, flags);
    mmk_map *m = (mmk_map *)&o; /* must be overwritten with NULL on failure */
    int rc = mmk_open(&m, path, &o);
    if (rc == 0)
        mmk_free(m);
    else
        CHECK(m == NULL);
    return rc;
}

/* ---- Python-semantics reference for find/rfind ----------------------------- */

static int64_t ref_clamp(int64_t v, int64_t dflt, int64_t len) {
    if (v == MMK_DEFAULT_POS)
        v = dflt;
    if (v < 0) {
        v += len;
        if (v < 0)
            v = 0;
    }
    return v > len ? len : v;
}

static int64_t ref_find(const unsigned char *h, int64_t len, const unsigned char *nd, int64_t n,
                        int64_t cursor, int64_t start, int64_t end, int reverse) {
    int64_t s = ref_clamp(start, cursor, len), e = ref_clamp(end, len, len);
    if (s > e || n > e - s)
        return -1;
    if (!reverse) {
        for (int64_t i = s; i + n <= e; i++)
            if (n == 0 || memcmp(h + i, nd, (size_t)n) == 0)
                return i;
    } else {
        for (int64_t i = e - n; i >= s; i--)
            if (n == 0 || memcmp(h + i, nd, (size_t)n) == 0)
                return i;
    }
    return -1;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_bad_arguments(const char *path) {
    mmk_map *m = (mmk_map *)1;
    mmk_options o = {0};
    CHECK_RC(mmk_open(NULL, path, NULL), -EINVAL);
    CHECK_RC(mmk_open(&m, NULL, NULL), -EINVAL);
    CHECK(m == NULL);
    CHECK_RC(open_rc(path, 4, 0, 0, 0), -EINVAL);
    CHECK_RC(open_rc(path, -1, 0, 0, 0), -EINVAL);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, 0, 0, 1u << 20), -EINVAL);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, 0, 0, MMK_OPEN_NO_DUP), -EINVAL);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, 0, 100, MMK_OPEN_GROW), -EINVAL);
    CHECK_RC(open_rc(path, MMK_ACCESS_COPY, 0, 100, MMK_OPEN_GROW), -EINVAL);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, 0, 0, MMK_OPEN_TRUNCATE), -EINVAL);
    CHECK_RC(open_rc(path, MMK_ACCESS_WRITE, 0, 0, MMK_OPEN_EXCL), -EINVAL);
    CHECK_RC(mmk_open_fd(NULL, 0, NULL), -EINVAL);
    o.flags = MMK_OPEN_CREATE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK_RC(mmk_open_fd(&m, fd, &o), -EINVAL);
    CHECK(m == NULL);
    close(fd);
    CHECK_RC(mmk_open_anon(NULL, 10, 0), -EINVAL);
    CHECK_RC(mmk_open_anon(&m, 10, 2), -EINVAL);
    CHECK_RC(mmk_open_anon(&m, UINT64_MAX, 0), -ENOMEM);
}

static void test_open_errors(void) {
    const char *dir = tpath("dir");
    mkdir(dir, 0700);
    CHECK_RC(open_rc(tpath("missing"), MMK_ACCESS_READ, 0, 0, 0), -ENOENT);
    CHECK_RC(open_rc(tpath("missing/x"), MMK_ACCESS_READ, 0, 0, 0), -ENOENT);
    CHECK_RC(open_rc(dir, MMK_ACCESS_READ, 0, 0, 0), -EISDIR);
    CHECK_RC(open_rc(dir, MMK_ACCESS_WRITE, 0, 0, 0), -EISDIR);
    CHECK_RC(open_rc(dir, MMK_ACCESS_COPY, 0, 0, 0), -EISDIR);
    rmdir(dir);

    /* A FIFO without a writer must not block the open, and cannot be mapped. */
    const char *fifo = tpath("fifo");
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    CHECK_RC(open_rc(fifo, MMK_ACCESS_READ, 0, 0, 0), MMK_ENOTREG);
    CHECK_RC(open_rc(fifo, MMK_ACCESS_WRITE, 0, 0, 0), MMK_ENOTREG);
    int ffd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    mmk_map *m = NULL;
    CHECK_RC(mmk_open_fd(&m, ffd, NULL), MMK_ENOTREG);
    close(ffd);
    unlink(fifo);
    CHECK_RC(open_rc("/dev/null", MMK_ACCESS_READ, 0, 0, 0), MMK_ENOTREG);

    /* Sockets: neither a socket file nor a socket descriptor can be mapped. */
    const char *sock = tpath("sock");
    int sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    if (strlen(sock) < sizeof sa.sun_path && bind(sfd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        CHECK_RC(open_rc(sock, MMK_ACCESS_READ, 0, 0, 0), MMK_ENOTREG);
        CHECK_RC(open_rc(sock, MMK_ACCESS_WRITE, 0, 0, 0), MMK_ENOTREG);
        unlink(sock);
    }
    CHECK_RC(mmk_open_fd(&m, sfd, NULL), MMK_ENOTREG);
    close(sfd);

    /* Descriptors: bad numbers, wrong open modes. */
    CHECK_RC(mmk_open_fd(&m, -2, NULL), -EBADF);
    CHECK_RC(mmk_open_fd(&m, 987654, NULL), -EBADF);
    const char *f = tpath("modes");
    CHECK_EQ(write_file(f, "0123456789", 10), 0);
    int rfd = open(f, O_RDONLY | O_CLOEXEC), wfd = open(f, O_WRONLY | O_CLOEXEC);
    mmk_options o = opts(MMK_ACCESS_WRITE, 0, 0, 0);
    CHECK_RC(mmk_open_fd(&m, rfd, &o), MMK_EACCESSMODE);
    o.access = MMK_ACCESS_READ;
    CHECK_RC(mmk_open_fd(&m, wfd, &o), MMK_EACCESSMODE);
    o.access = MMK_ACCESS_COPY;
    CHECK_RC(mmk_open_fd(&m, wfd, &o), MMK_EACCESSMODE);
    CHECK_OK(mmk_open_fd(&m, rfd, &o)); /* copy-on-write needs only read */
    CHECK_OK(mmk_free(m));
#ifdef O_PATH
    int pfd = open(f, O_PATH | O_CLOEXEC);
    CHECK_RC(mmk_open_fd(&m, pfd, NULL), -EBADF);
    close(pfd);
#endif
    close(rfd);
    close(wfd);
    unlink(f);
}

/* As root permissions do not apply: drop to "nobody" in a child. */
static int child_permission(void *arg) {
    const char *base = arg;
    char ro[600], rw[600];
    snprintf(ro, sizeof ro, "%s/ro", base);
    snprintf(rw, sizeof rw, "%s/secret", base);
    if (setgid(65534) != 0 || setuid(65534) != 0)
        return 10;
    if (open_rc(rw, MMK_ACCESS_READ, 0, 0, 0) != -EACCES)
        return 11;
    if (open_rc(rw, MMK_ACCESS_WRITE, 0, 0, 0) != -EACCES)
        return 12;
    if (open_rc(ro, MMK_ACCESS_WRITE, 0, 0, 0) != -EACCES)
        return 13;
    if (open_rc(ro, MMK_ACCESS_READ, 0, 0, 0) != 0) /* readable by all */
        return 14;
    return 0;
}

static void test_permissions(void) {
    char base[128];
    snprintf(base, sizeof base, "/tmp/mmk-core-perm-%ld", (long)getpid());
    CHECK_EQ(mkdir(base, 0755), 0);
    char ro[600], rw[600];
    snprintf(ro, sizeof ro, "%s/ro", base);
    snprintf(rw, sizeof rw, "%s/secret", base);
    CHECK_EQ(write_file(rw, "secret", 6), 0);
    CHECK_EQ(chmod(rw, 0600), 0);
    CHECK_EQ(write_file(ro, "public", 6), 0);
    CHECK_EQ(chmod(ro, 0644), 0);
    int st = run_child(child_permission, base);
    CHECK(CHILD_EXITED_WITH(st, 0));
    unlink(rw);
    unlink(ro);
    rmdir(base);
}

static void test_offsets(const char *path, const unsigned char *data, uint64_t size) {
    uint64_t offsets[] = {0, 1, 7, ps - 1, ps, ps + 1, 2 * ps - 1, 2 * ps + 3, size - 1, size};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        uint64_t off = offsets[i];
        uint64_t lens[] = {0, 1, size - off, (size - off) / 2};
        for (size_t j = 0; j < 4; j++) {
            uint64_t len = lens[j];
            if (off == size && len > 0)
                continue;
            for (int access = MMK_ACCESS_READ; access <= MMK_ACCESS_COPY; access++) {
                mmk_map *m = open_ok(path, access, off, len, 0);
                if (!m)
                    continue;
                uint64_t want = len ? len : size - off;
                CHECK_EQ(mmk_length(m), want);
                CHECK_EQ(mmk_offset(m), off);
                CHECK_EQ(mmk_access(m), access);
                if (want == 0) {
                    CHECK(mmk_data(m) == NULL);
                } else {
                    CHECK(mmk_data(m) != NULL);
                    CHECK_MEM(mmk_data(m), data + off, want);
                }
                /* the same through mmk_open_fd */
                int fd = open(path, (access == MMK_ACCESS_WRITE ? O_RDWR : O_RDONLY) | O_CLOEXEC);
                mmk_options o = opts(access, off, len, 0);
                mmk_map *m2 = NULL;
                CHECK_OK(mmk_open_fd(&m2, fd, &o));
                close(fd);
                if (m2) {
                    CHECK_EQ(mmk_length(m2), want);
                    if (want)
                        CHECK_MEM(mmk_data(m2), data + off, want);
                    /* read from the cursor covers exactly the range */
                    unsigned char *buf = malloc(want + 16);
                    CHECK_EQ(mmk_read(m2, buf, want + 16), want);
                    CHECK(want == 0 || memcmp(buf, data + off, want) == 0);
                    CHECK_EQ(mmk_read(m2, buf, 16), 0);
                    free(buf);
                    CHECK_OK(mmk_free(m2));
                }
                CHECK_OK(mmk_free(m));
            }
        }
    }
    /* Out of range. */
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, size + 1, 0, 0), MMK_EOFFSET);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, size + 1, 1, 0), MMK_EOFFSET);
    CHECK_RC(open_rc(path, MMK_ACCESS_WRITE, size + ps, 0, 0), MMK_EOFFSET);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, UINT64_MAX, 0, 0), MMK_EOFFSET);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, (uint64_t)INT64_MAX + 1, 0, 0), MMK_EOFFSET);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, 0, size + 1, 0), MMK_ELENGTH);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, size, 1, 0), MMK_ELENGTH);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, 1, size, 0), MMK_ELENGTH);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, 1, UINT64_MAX, 0), MMK_ELENGTH);
    CHECK_RC(open_rc(path, MMK_ACCESS_COPY, 0, UINT64_MAX, 0), MMK_ELENGTH);
    CHECK_RC(open_rc(path, MMK_ACCESS_WRITE, size / 2, (uint64_t)INT64_MAX, 0), MMK_ELENGTH);
    CHECK_RC(open_rc(path, MMK_ACCESS_WRITE, 1, (uint64_t)INT64_MAX, MMK_OPEN_GROW), -EFBIG);
    CHECK_RC(open_rc(path, MMK_ACCESS_WRITE, UINT64_MAX, 1, MMK_OPEN_GROW), -EFBIG);
    CHECK_EQ(file_size_of(path), size); /* none of that touched the file */
}

static void test_empty(void) {
    const char *path = tpath("empty");
    CHECK_EQ(write_file(path, "", 0), 0);
    for (int access = MMK_ACCESS_READ; access <= MMK_ACCESS_COPY; access++) {
        mmk_map *m = open_ok(path, access, 0, 0, 0);
        if (!m)
            continue;
        unsigned char buf[4];
        int64_t pos = 99;
        CHECK_EQ(mmk_length(m), 0);
        CHECK(mmk_data(m) == NULL);
        CHECK_EQ(mmk_read(m, buf, 4), 0);
        CHECK_EQ(mmk_read(m, NULL, 0), 0);
        CHECK_RC(mmk_read_byte(m), MMK_ERANGE);
        CHECK_EQ(mmk_readline(m, buf, 4), 0);
        CHECK_EQ(mmk_line_length(m), 0);
        CHECK_OK(mmk_find(m, "", 0, MMK_DEFAULT_POS, MMK_DEFAULT_POS, &pos));
        CHECK_EQ(pos, 0);
        CHECK_OK(mmk_rfind(m, "", 0, MMK_DEFAULT_POS, MMK_DEFAULT_POS, &pos));
        CHECK_EQ(pos, 0);
        CHECK_OK(mmk_find(m, "a", 1, MMK_DEFAULT_POS, MMK_DEFAULT_POS, &pos));
        CHECK_EQ(pos, -1);
        CHECK_OK(mmk_rfind(m, "a", 1, 0, 10, &pos));
        CHECK_EQ(pos, -1);
        CHECK_EQ(mmk_seek(m, 0, MMK_SEEK_END), 0);
        CHECK_RC(mmk_seek(m, 1, MMK_SEEK_SET), MMK_ERANGE);
        CHECK_OK(mmk_copy_out(m, 0, NULL, 0));
        CHECK_RC(mmk_copy_out(m, 0, buf, 1), MMK_ERANGE);
        CHECK_OK(mmk_flush(m, 0, 0, 0));
        CHECK_OK(mmk_advise(m, MMK_ADVICE_WILLNEED, 0, 0));
        CHECK_OK(mmk_populate(m, 0, 0));
        CHECK_OK(mmk_lock_pages(m, 0, 0));
        CHECK_OK(mmk_unlock_pages(m, 0, 0));
        void *d = (void *)1;
        uint64_t l = 5;
        CHECK_OK(mmk_view_acquire(m, &d, &l));
        CHECK(d == NULL);
        CHECK_EQ(l, 0);
        mmk_view_release(m);
        if (access == MMK_ACCESS_READ) {
            CHECK_RC(mmk_write(m, "", 0), MMK_EREADONLY);
        } else {
            CHECK_EQ(mmk_write(m, "", 0), 0);
            CHECK_RC(mmk_write(m, "x", 1), MMK_ERANGE);
            CHECK_RC(mmk_write_byte(m, 'x'), MMK_ERANGE);
            CHECK_OK(mmk_move(m, 0, 0, 0));
        }
        if (access == MMK_ACCESS_WRITE) {
            /* grows from nothing */
            CHECK_OK(mmk_resize(m, 10));
            CHECK_EQ(mmk_length(m), 10);
            CHECK_EQ(mmk_write(m, "abcdefghij", 10), 10);
            CHECK_OK(mmk_flush(m, 0, 0, 0));
            CHECK_EQ(file_size_of(path), 10);
            CHECK_OK(mmk_resize(m, 0));
            CHECK_EQ(file_size_of(path), 0);
            CHECK(mmk_data(m) == NULL);
            CHECK_EQ(mmk_tell(m), 0);
        }
        CHECK_OK(mmk_free(m));
    }
    /* offset == size with length 0 is a valid empty map too */
    CHECK_EQ(write_file(path, "abc", 3), 0);
    mmk_map *m = open_ok(path, MMK_ACCESS_READ, 3, 0, 0);
    if (m) {
        CHECK_EQ(mmk_length(m), 0);
        CHECK(mmk_data(m) == NULL);
        CHECK_OK(mmk_free(m));
    }
    unlink(path);
}

static void test_create_truncate_grow(void) {
    const char *path = tpath("created");
    unlink(path);
    mmk_map *m = open_ok(path, MMK_ACCESS_READ, 0, 0, MMK_OPEN_CREATE);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(st.st_size, 0);
    CHECK_EQ(mmk_length(m), 0);
    CHECK_OK(mmk_free(m));
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, 0, 0, MMK_OPEN_CREATE | MMK_OPEN_EXCL), -EEXIST);
    unlink(path);

    /* create + grow with an explicit mode */
    mmk_options o = opts(MMK_ACCESS_WRITE, 0, 3 * ps + 5, MMK_OPEN_CREATE | MMK_OPEN_EXCL | MMK_OPEN_GROW);
    o.mode = 0640;
    m = NULL;
    CHECK_OK(mmk_open(&m, path, &o));
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0640);
    CHECK_EQ(st.st_size, 3 * ps + 5);
    CHECK_EQ(mmk_length(m), 3 * ps + 5);
    CHECK_EQ(((unsigned char *)mmk_data(m))[3 * ps + 4], 0);
    CHECK_OK(mmk_free(m));

    /* grow at an offset past the end */
    m = open_ok(path, MMK_ACCESS_WRITE, 5 * ps + 1, 10, MMK_OPEN_GROW);
    CHECK_EQ(file_size_of(path), 5 * ps + 11);
    CHECK_EQ(mmk_write(m, "0123456789", 10), 10);
    CHECK_OK(mmk_free(m));
    char buf[10];
    CHECK_EQ(read_file_at(path, 5 * ps + 1, buf, 10), 10);
    CHECK_MEM(buf, "0123456789", 10);
    /* grow never shrinks a longer file */
    m = open_ok(path, MMK_ACCESS_WRITE, 0, 5, MMK_OPEN_GROW);
    CHECK_EQ(file_size_of(path), 5 * ps + 11);
    CHECK_OK(mmk_free(m));

    /* truncate: the old contents are gone, the new length is zeros */
    m = open_ok(path, MMK_ACCESS_WRITE, 0, 7, MMK_OPEN_TRUNCATE);
    CHECK_EQ(file_size_of(path), 7);
    CHECK_MEM(mmk_data(m), "\0\0\0\0\0\0\0", 7);
    CHECK_OK(mmk_free(m));
    /* a bad offset is found before anything is truncated */
    CHECK_EQ(write_file(path, "abc", 3), 0);
    CHECK_RC(open_rc(path, MMK_ACCESS_WRITE, 10, 0, MMK_OPEN_TRUNCATE), MMK_EOFFSET);
    CHECK_EQ(file_size_of(path), 3);
    m = open_ok(path, MMK_ACCESS_WRITE, 0, 0, MMK_OPEN_TRUNCATE);
    CHECK_EQ(mmk_length(m), 0);
    CHECK_EQ(file_size_of(path), 0);
    CHECK_OK(mmk_free(m));
    unlink(path);

    /* A file this call created is removed again when the map fails. */
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, 5, 0, MMK_OPEN_CREATE), MMK_EOFFSET);
    CHECK_EQ(access(path, F_OK), -1);
    CHECK_RC(open_rc(path, MMK_ACCESS_WRITE, 0, 5, MMK_OPEN_CREATE), MMK_ELENGTH);
    CHECK_EQ(access(path, F_OK), -1);
    /* ...but an existing one is left alone */
    CHECK_EQ(write_file(path, "abc", 3), 0);
    CHECK_RC(open_rc(path, MMK_ACCESS_READ, 5, 0, MMK_OPEN_CREATE), MMK_EOFFSET);
    CHECK_EQ(file_size_of(path), 3);
    unlink(path);
}

static void test_descriptors(const char *path, uint64_t size) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    mmk_options o = opts(MMK_ACCESS_WRITE, 0, 0, 0);
    mmk_map *m = NULL;
    CHECK_OK(mmk_open_fd(&m, fd, &o));
    int mfd = mmk_fd(m);
    CHECK(mfd >= 0 && mfd != fd);
    CHECK(fcntl(mfd, F_GETFD) & FD_CLOEXEC);
    close(fd); /* the map has its own */
    uint64_t fs = 0;
    CHECK_OK(mmk_file_size(m, &fs));
    CHECK_EQ(fs, size);
    CHECK_OK(mmk_resize(m, size + 1));
    CHECK_EQ(file_size_of(path), size + 1);
    CHECK_OK(mmk_resize(m, size));
    CHECK_EQ(file_size_of(path), size);
    CHECK_OK(mmk_close(m));
    CHECK(fcntl(mfd, F_GETFD) == -1); /* closed with the map */
    CHECK_OK(mmk_free(m));

    /* NO_DUP: the caller's descriptor is used as is and not tracked */
    fd = open(path, O_RDWR | O_CLOEXEC);
    o.flags = MMK_OPEN_NO_DUP;
    CHECK_OK(mmk_open_fd(&m, fd, &o));
    CHECK_EQ(mmk_fd(m), -1);
    CHECK_RC(mmk_file_size(m, &fs), -EBADF);
    CHECK_RC(mmk_resize(m, 10), -EBADF);
    CHECK_EQ(mmk_length(m), size);
    CHECK_OK(mmk_free(m));
    CHECK(fcntl(fd, F_GETFD) != -1); /* still the caller's */
    close(fd);

    /* mmk_open's own descriptor is close-on-exec too */
    m = open_ok(path, MMK_ACCESS_READ, 0, 0, 0);
    CHECK(fcntl(mmk_fd(m), F_GETFD) & FD_CLOEXEC);
    CHECK_OK(mmk_free(m));

    /* fd -1: anonymous, private */
    o = opts(0, 0, 3000, 0);
    CHECK_OK(mmk_open_fd(&m, -1, &o));
    CHECK_EQ(mmk_length(m), 3000);
    CHECK_EQ(mmk_fd(m), -1);
    CHECK_RC(mmk_file_size(m, &fs), MMK_EANON);
    CHECK_OK(mmk_free(m));
}

static void test_cursor(const char *path) {
    const char text[] = "first line\nsecond\n\nlast without newline";
    const size_t tl = sizeof text - 1;
    CHECK_EQ(write_file(path, text, tl), 0);
    mmk_map *m = open_ok(path, MMK_ACCESS_WRITE, 0, 0, 0);
    char buf[64];

    CHECK_EQ(mmk_tell(m), 0);
    CHECK_EQ(mmk_line_length(m), 11);
    CHECK_EQ(mmk_tell(m), 0);
    CHECK_EQ(mmk_readline(m, buf, sizeof buf), 11);
    CHECK_MEM(buf, "first line\n", 11);
    CHECK_EQ(mmk_readline(m, buf, 3), 3); /* capped */
    CHECK_MEM(buf, "sec", 3);
    CHECK_EQ(mmk_readline(m, buf, sizeof buf), 4);
    CHECK_MEM(buf, "ond\n", 4);
    CHECK_EQ(mmk_readline(m, buf, sizeof buf), 1);
    CHECK_EQ(mmk_line_length(m), 20);
    CHECK_EQ(mmk_readline(m, buf, sizeof buf), 20);
    CHECK_MEM(buf, "last without newline", 20);
    CHECK_EQ(mmk_readline(m, buf, sizeof buf), 0);
    CHECK_EQ(mmk_line_length(m), 0);
    CHECK_EQ(mmk_readline(m, NULL, 0), 0);
    CHECK_RC(mmk_readline(m, NULL, 5), -EINVAL);

    /* seek */
    CHECK_EQ(mmk_seek(m, 0, MMK_SEEK_SET), 0);
    CHECK_EQ(mmk_seek(m, 6, MMK_SEEK_CUR), 6);
    CHECK_EQ(mmk_seek(m, -4, MMK_SEEK_END), (int64_t)tl - 4);
    CHECK_EQ(mmk_seek(m, 0, MMK_SEEK_END), (int64_t)tl);
    CHECK_RC(mmk_seek(m, 1, MMK_SEEK_END), MMK_ERANGE);
    CHECK_RC(mmk_seek(m, -1, MMK_SEEK_SET), MMK_ERANGE);
    CHECK_RC(mmk_seek(m, -(int64_t)tl - 1, MMK_SEEK_CUR), MMK_ERANGE);
    CHECK_RC(mmk_seek(m, INT64_MAX, MMK_SEEK_CUR), MMK_ERANGE);
    CHECK_RC(mmk_seek(m, INT64_MAX, MMK_SEEK_END), MMK_ERANGE);
    CHECK_RC(mmk_seek(m, INT64_MIN, MMK_SEEK_END), MMK_ERANGE);
    CHECK_RC(mmk_seek(m, 0, 3), -EINVAL);
    CHECK_RC(mmk_seek(m, 0, -1), -EINVAL);
    CHECK_EQ(mmk_tell(m), (int64_t)tl); /* unchanged by the failures */

    /* read / read_byte */
    CHECK_EQ(mmk_seek(m, 0, MMK_SEEK_SET), 0);
    CHECK_EQ(mmk_read(m, buf, 5), 5);
    CHECK_MEM(buf, "first", 5);
    CHECK_EQ(mmk_read_byte(m), ' ');
    CHECK_EQ(mmk_tell(m), 6);
    CHECK_RC(mmk_read(m, NULL, 1), -EINVAL);
    CHECK_EQ(mmk_read(m, NULL, 0), 0);
    CHECK_EQ(mmk_seek(m, -1, MMK_SEEK_END), (int64_t)tl - 1);
    CHECK_EQ(mmk_read_byte(m), 'e');
    CHECK_RC(mmk_read_byte(m), MMK_ERANGE);
    CHECK_EQ(mmk_read(m, buf, 10), 0);
    CHECK_EQ(mmk_seek(m, -3, MMK_SEEK_END), (int64_t)tl - 3);
    CHECK_EQ(mmk_read(m, buf, SIZE_MAX), 3); /* huge n: only what is there */

    /* write: all or nothing */
    CHECK_EQ(mmk_seek(m, -2, MMK_SEEK_END), (int64_t)tl - 2);
    CHECK_RC(mmk_write(m, "XYZ", 3), MMK_ERANGE);
    CHECK_EQ(mmk_tell(m), (int64_t)tl - 2);
    CHECK_MEM((char *)mmk_data(m) + tl - 2, "ne", 2);
    CHECK_RC(mmk_write(m, "XYZ", SIZE_MAX), MMK_ERANGE);
    CHECK_RC(mmk_write(m, NULL, 1), -EINVAL);
    CHECK_EQ(mmk_write(m, "XY", 2), 2);
    CHECK_EQ(mmk_tell(m), (int64_t)tl);
    CHECK_RC(mmk_write_byte(m, 'Q'), MMK_ERANGE);
    CHECK_EQ(mmk_seek(m, 0, MMK_SEEK_SET), 0);
    CHECK_OK(mmk_write_byte(m, 'F'));
    CHECK_EQ(mmk_tell(m), 1);
    CHECK_MEM(mmk_data(m), "First", 5);

    /* copy_in / copy_out */
    CHECK_OK(mmk_copy_in(m, 6, "LINE", 4));
    CHECK_OK(mmk_copy_out(m, 0, buf, 11));
    CHECK_MEM(buf, "First LINE\n", 11);
    CHECK_RC(mmk_copy_out(m, tl - 1, buf, 2), MMK_ERANGE);
    CHECK_RC(mmk_copy_out(m, tl + 1, buf, 0), MMK_ERANGE);
    CHECK_RC(mmk_copy_out(m, UINT64_MAX, buf, 1), MMK_ERANGE);
    CHECK_RC(mmk_copy_out(m, 1, buf, SIZE_MAX), MMK_ERANGE);
    CHECK_RC(mmk_copy_out(m, 0, NULL, 1), -EINVAL);
    CHECK_OK(mmk_copy_out(m, tl, buf, 0));
    CHECK_RC(mmk_copy_in(m, tl - 1, "ab", 2), MMK_ERANGE);
    CHECK_RC(mmk_copy_in(m, 0, NULL, 1), -EINVAL);

    /* move, overlapping both ways, and its ranges */
    CHECK_OK(mmk_copy_in(m, 0, "0123456789", 10));
    CHECK_OK(mmk_move(m, 2, 0, 5));
    CHECK_MEM(mmk_data(m), "0101234789", 10);
    CHECK_OK(mmk_move(m, 0, 3, 5));
    CHECK_MEM(mmk_data(m), "1234734789", 10);
    CHECK_OK(mmk_move(m, 0, 0, tl));
    CHECK_OK(mmk_move(m, tl, 0, 0));
    CHECK_RC(mmk_move(m, 0, 1, tl), MMK_ERANGE);
    CHECK_RC(mmk_move(m, 1, 0, tl), MMK_ERANGE);
    CHECK_RC(mmk_move(m, 0, UINT64_MAX, 2), MMK_ERANGE);
    CHECK_RC(mmk_move(m, UINT64_MAX, 0, 2), MMK_ERANGE);
    CHECK_RC(mmk_move(m, 1, 0, UINT64_MAX), MMK_ERANGE);
    CHECK_RC(mmk_move(m, tl + 1, 0, 0), MMK_ERANGE);

    /* the writes reached the file */
    CHECK_OK(mmk_flush(m, 0, 0, MMK_FLUSH_SYNC));
    CHECK_EQ(read_file_at(path, 0, buf, 10), 10);
    CHECK_MEM(buf, "1234734789", 10);
    CHECK_OK(mmk_free(m));
}

static void test_find(void) {
    /* random text over small alphabets, random needles taken from it or not,
       random start/end incl. negative, default and huge values, random cursor */
    enum { N = 3000 };
    unsigned char *hay = malloc(N);
    const char *path = tpath("find");
    uint64_t seed = 12345;
    int64_t specials[] = {MMK_DEFAULT_POS, INT64_MAX, INT64_MIN + 1, -1, 0, -N, -N - 1, N, N + 1};
    for (int round = 0; round < 12; round++) {
        unsigned alpha = round % 3 == 0 ? 2 : round % 3 == 1 ? 4 : 0;
        int64_t len = round == 11 ? 0 : (int64_t)(rng_next(&seed) % N) + 1;
        fill_random(hay, (size_t)len, (uint64_t)round + 1, alpha);
        CHECK_EQ(write_file(path, hay, (size_t)len), 0);
        mmk_map *m = open_ok(path, MMK_ACCESS_READ, 0, 0, 0);
        if (!m)
            continue;
        for (int q = 0; q < 400; q++) {
            unsigned char nd[40];
            int64_t n = (int64_t)(rng_next(&seed) % 8);
            if (q % 5 == 0)
                n = (int64_t)(rng_next(&seed) % 40);
            if (len > n && q % 2 == 0)
                memcpy(nd, hay + rng_next(&seed) % (uint64_t)(len - n + 1), (size_t)n);
            else
                fill_random(nd, (size_t)n, rng_next(&seed), alpha);
            int64_t start = q % 4 == 0 ? specials[rng_next(&seed) % 9]
                                       : (int64_t)(rng_next(&seed) % (uint64_t)(2 * len + 3)) - len - 1;
            int64_t end = q % 3 == 0 ? specials[rng_next(&seed) % 9]
                                     : (int64_t)(rng_next(&seed) % (uint64_t)(2 * len + 3)) - len - 1;
            int64_t cursor = (int64_t)(rng_next(&seed) % (uint64_t)(len + 1));
            CHECK_EQ(mmk_seek(m, cursor, MMK_SEEK_SET), cursor);
            int64_t pos = 42, want;
            CHECK_OK(mmk_find(m, nd, (size_t)n, start, end, &pos));
            want = ref_find(hay, len, nd, n, cursor, start, end, 0);
            if (pos != want)
                fprintf(stderr, "find len=%lld n=%lld start=%lld end=%lld cur=%lld\n",
                        (long long)len, (long long)n, (long long)start, (long long)end,
                        (long long)cursor);
            CHECK_EQ(pos, want);
            CHECK_OK(mmk_rfind(m, nd, (size_t)n, start, end, &pos));
            want = ref_find(hay, len, nd, n, cursor, start, end, 1);
            if (pos != want)
                fprintf(stderr, "rfind len=%lld n=%lld start=%lld end=%lld cur=%lld\n",
                        (long long)len, (long long)n, (long long)start, (long long)end,
                        (long long)cursor);
            CHECK_EQ(pos, want);
            CHECK_EQ(mmk_tell(m), cursor); /* find does not move the cursor */
        }
        CHECK_OK(mmk_free(m));
    }
    free(hay);

    /* Adversarial: long runs of one byte, needles that almost match
       everywhere, needles longer than rfind's internal blocks, and matches
       straddling its block boundaries. */
    size_t big = 300000;
    hay = malloc(big);
    memset(hay, 'a', big);
    hay[big / 3] = 'b';
    hay[big - 70000] = 'b';
    CHECK_EQ(write_file(path, hay, big), 0);
    mmk_map *m = open_ok(path, MMK_ACCESS_READ, 0, 0, 0);
    size_t nlens[] = {2, 3, 100, 1023, 1024, 1025, 5000, 8191, 8192, 70001};
    unsigned char *nd = malloc(80000);
    for (size_t k = 0; k < sizeof nlens / sizeof nlens[0]; k++) {
        size_t n = nlens[k];
        for (int variant = 0; variant < 3; variant++) {
            memset(nd, 'a', n);
            if (variant == 1)
                nd[n - 1] = 'b'; /* "aaa…ab" */
            else if (variant == 2)
                nd[0] = 'b'; /* "baaa…a" */
            for (int w = 0; w < 3; w++) {
                int64_t start = w == 0 ? 0 : w == 1 ? 1000 : (int64_t)big / 2;
                int64_t end = w == 2 ? (int64_t)big - 1 : MMK_DEFAULT_POS;
                int64_t pos;
                CHECK_OK(mmk_find(m, nd, n, start, end, &pos));
                CHECK_EQ(pos, ref_find(hay, (int64_t)big, nd, (int64_t)n, 0, start, end, 0));
                CHECK_OK(mmk_rfind(m, nd, n, start, end, &pos));
                CHECK_EQ(pos, ref_find(hay, (int64_t)big, nd, (int64_t)n, 0, start, end, 1));
            }
        }
    }
    /* a unique needle placed at every distance from the end (block seams) */
    for (size_t k = 0; k < 40; k++) {
        size_t n = 2 + k % 7 * 300, at = big - n - (k * 7919) % 140000;
        memset(hay, 'a', big);
        for (size_t i = 0; i < n; i++)
            hay[at + i] = (unsigned char)('c' + i % 3);
        CHECK_EQ(write_file(path, hay, big), 0);
        mmk_map *m2 = open_ok(path, MMK_ACCESS_READ, 0, 0, 0);
        int64_t pos;
        CHECK_OK(mmk_rfind(m2, hay + at, n, 0, MMK_DEFAULT_POS, &pos));
        CHECK_EQ(pos, (int64_t)at);
        CHECK_OK(mmk_find(m2, hay + at, n, 0, MMK_DEFAULT_POS, &pos));
        CHECK_EQ(pos, (int64_t)at);
        CHECK_OK(mmk_free(m2));
    }
    free(nd);
    free(hay);
    int64_t pos;
    CHECK_RC(mmk_find(m, NULL, 1, 0, 0, &pos), -EINVAL);
    CHECK_RC(mmk_find(m, "a", 1, 0, 0, NULL), -EINVAL);
    CHECK_RC(mmk_rfind(m, NULL, 1, 0, 0, &pos), -EINVAL);
    CHECK_OK(mmk_find(m, NULL, 0, 5, 3, &pos));
    CHECK_EQ(pos, -1); /* empty needle, start > end */
    CHECK_OK(mmk_find(m, NULL, 0, 5, 9, &pos));
    CHECK_EQ(pos, 5);
    CHECK_OK(mmk_rfind(m, NULL, 0, 5, 9, &pos));
    CHECK_EQ(pos, 9);
    CHECK_OK(mmk_free(m));
    unlink(path);
}

static void test_read_only_and_copy(const char *path, const unsigned char *data, uint64_t size) {
    mmk_map *m = open_ok(path, MMK_ACCESS_READ, 0, 0, 0);
    CHECK_RC(mmk_write(m, "x", 1), MMK_EREADONLY);
    CHECK_RC(mmk_write(m, "", 0), MMK_EREADONLY);
    CHECK_RC(mmk_write_byte(m, 'x'), MMK_EREADONLY);
    CHECK_RC(mmk_move(m, 0, 1, 1), MMK_EREADONLY);
    CHECK_RC(mmk_copy_in(m, 0, "x", 1), MMK_EREADONLY);
    CHECK_RC(mmk_resize(m, size * 2), MMK_EREADONLY);
    CHECK_RC(mmk_resize(m, 1), MMK_EREADONLY);
    CHECK_OK(mmk_flush(m, 0, 0, 0));
    CHECK_EQ(mmk_tell(m), 0);
    CHECK_EQ(mmk_length(m), size);
    CHECK_OK(mmk_free(m));

    /* copy-on-write: visible in the map, never in the file */
    m = open_ok(path, MMK_ACCESS_COPY, 1, 0, 0);
    CHECK_EQ(mmk_write(m, "COPY", 4), 4);
    CHECK_OK(mmk_write_byte(m, '!'));
    CHECK_OK(mmk_move(m, 10, 0, 5));
    CHECK_MEM(mmk_data(m), "COPY!", 5);
    CHECK_OK(mmk_flush(m, 0, 0, 0));
    CHECK_OK(mmk_flush(m, 0, 0, MMK_FLUSH_ASYNC));
    CHECK_RC(mmk_resize(m, 5), MMK_EREADONLY);
    mmk_map *r = open_ok(path, MMK_ACCESS_READ, 0, 0, 0);
    CHECK_MEM(mmk_data(r), data, size);
    CHECK_OK(mmk_free(r));
    CHECK_OK(mmk_free(m));
    unsigned char *buf = malloc(size);
    CHECK_EQ(read_file_at(path, 0, buf, size), size);
    CHECK_MEM(buf, data, size);
    free(buf);
}

static void test_closed_and_null(const char *path) {
    mmk_map *m = open_ok(path, MMK_ACCESS_WRITE, 1, 0, 0);
    uint64_t off = mmk_offset(m);
    CHECK_OK(mmk_close(m));
    CHECK_OK(mmk_close(m)); /* again: fine */
    CHECK_EQ(mmk_is_closed(m), 1);
    CHECK(mmk_data(m) == NULL);
    CHECK_EQ(mmk_length(m), 0);
    CHECK_EQ(mmk_offset(m), off);
    CHECK_EQ(mmk_access(m), MMK_ACCESS_WRITE);
    CHECK_EQ(mmk_fd(m), -1);
    CHECK_EQ(mmk_view_count(m), 0);
    uint64_t sz;
    char buf[8];
    int64_t pos;
    void *d;
    CHECK_RC(mmk_file_size(m, &sz), MMK_ECLOSED);
    CHECK_RC(mmk_tell(m), MMK_ECLOSED);
    CHECK_RC(mmk_seek(m, 0, MMK_SEEK_SET), MMK_ECLOSED);
    CHECK_RC(mmk_read(m, buf, 1), MMK_ECLOSED);
    CHECK_RC(mmk_read_byte(m), MMK_ECLOSED);
    CHECK_RC(mmk_line_length(m), MMK_ECLOSED);
    CHECK_RC(mmk_readline(m, buf, 8), MMK_ECLOSED);
    CHECK_RC(mmk_write(m, "a", 1), MMK_ECLOSED);
    CHECK_RC(mmk_write_byte(m, 'a'), MMK_ECLOSED);
    CHECK_RC(mmk_find(m, "a", 1, MMK_DEFAULT_POS, MMK_DEFAULT_POS, &pos), MMK_ECLOSED);
    CHECK_RC(mmk_rfind(m, "a", 1, MMK_DEFAULT_POS, MMK_DEFAULT_POS, &pos), MMK_ECLOSED);
    CHECK_RC(mmk_move(m, 0, 1, 1), MMK_ECLOSED);
    CHECK_RC(mmk_copy_out(m, 0, buf, 1), MMK_ECLOSED);
    CHECK_RC(mmk_copy_in(m, 0, buf, 1), MMK_ECLOSED);
    CHECK_RC(mmk_resize(m, 10), MMK_ECLOSED);
    CHECK_RC(mmk_flush(m, 0, 0, 0), MMK_ECLOSED);
    CHECK_RC(mmk_advise(m, MMK_ADVICE_NORMAL, 0, 0), MMK_ECLOSED);
    CHECK_RC(mmk_advise_native(m, MADV_NORMAL, 0, 0), MMK_ECLOSED);
    CHECK_RC(mmk_populate(m, 0, 0), MMK_ECLOSED);
    CHECK_RC(mmk_lock_pages(m, 0, 0), MMK_ECLOSED);
    CHECK_RC(mmk_unlock_pages(m, 0, 0), MMK_ECLOSED);
    CHECK_RC(mmk_view_acquire(m, &d, &sz), MMK_ECLOSED);
    mmk_view_release(m); /* harmless */
    CHECK_EQ(mmk_view_count(m), 0);
    CHECK_OK(mmk_free(m));

    /* NULL handles */
    CHECK_RC(mmk_close(NULL), -EINVAL);
    CHECK_OK(mmk_free(NULL));
    CHECK_EQ(mmk_is_closed(NULL), 1);
    CHECK(mmk_data(NULL) == NULL);
    CHECK_EQ(mmk_length(NULL), 0);
    CHECK_EQ(mmk_offset(NULL), 0);
    CHECK_RC(mmk_access(NULL), -EINVAL);
    CHECK_EQ(mmk_fd(NULL), -1);
    CHECK_RC(mmk_file_size(NULL, &sz), -EINVAL);
    CHECK_RC(mmk_tell(NULL), -EINVAL);
    CHECK_RC(mmk_seek(NULL, 0, 0), -EINVAL);
    CHECK_RC(mmk_read(NULL, buf, 1), -EINVAL);
    CHECK_RC(mmk_read_byte(NULL), -EINVAL);
    CHECK_RC(mmk_line_length(NULL), -EINVAL);
    CHECK_RC(mmk_readline(NULL, buf, 1), -EINVAL);
    CHECK_RC(mmk_write(NULL, "a", 1), -EINVAL);
    CHECK_RC(mmk_write_byte(NULL, 1), -EINVAL);
    CHECK_RC(mmk_find(NULL, "a", 1, 0, 0, &pos), -EINVAL);
    CHECK_RC(mmk_rfind(NULL, "a", 1, 0, 0, &pos), -EINVAL);
    CHECK_RC(mmk_move(NULL, 0, 0, 0), -EINVAL);
    CHECK_RC(mmk_copy_out(NULL, 0, buf, 1), -EINVAL);
    CHECK_RC(mmk_copy_in(NULL, 0, buf, 1), -EINVAL);
    CHECK_RC(mmk_resize(NULL, 1), -EINVAL);
    CHECK_RC(mmk_flush(NULL, 0, 0, 0), -EINVAL);
    CHECK_RC(mmk_advise(NULL, 0, 0, 0), -EINVAL);
    CHECK_RC(mmk_advise_native(NULL, 0, 0, 0), -EINVAL);
    CHECK_RC(mmk_populate(NULL, 0, 0), -EINVAL);
    CHECK_RC(mmk_lock_pages(NULL, 0, 0), -EINVAL);
    CHECK_RC(mmk_unlock_pages(NULL, 0, 0), -EINVAL);
    CHECK_RC(mmk_view_acquire(NULL, &d, &sz), -EINVAL);
    mmk_view_release(NULL);
    CHECK_EQ(mmk_view_count(NULL), 0);
}

static void test_views(const char *path, uint64_t size) {
    mmk_map *m = open_ok(path, MMK_ACCESS_WRITE, 3, 0, 0);
    void *d = NULL;
    uint64_t l = 0;
    CHECK_OK(mmk_view_acquire(m, &d, &l));
    CHECK(d == mmk_data(m));
    CHECK_EQ(l, size - 3);
    CHECK_OK(mmk_view_acquire(m, NULL, NULL));
    CHECK_EQ(mmk_view_count(m), 2);
    CHECK_RC(mmk_close(m), MMK_EVIEWS);
    CHECK_RC(mmk_resize(m, 10), MMK_EVIEWS);
    CHECK_RC(mmk_free(m), MMK_EVIEWS);
    /* nothing changed: still open, same memory, still usable */
    CHECK_EQ(mmk_is_closed(m), 0);
    CHECK(mmk_data(m) == d);
    CHECK_EQ(mmk_length(m), size - 3);
    CHECK_EQ(file_size_of(path), size);
    char c;
    CHECK_OK(mmk_copy_out(m, 0, &c, 1));
    mmk_view_release(m);
    CHECK_RC(mmk_close(m), MMK_EVIEWS);
    mmk_view_release(m);
    CHECK_EQ(mmk_view_count(m), 0);
    mmk_view_release(m); /* one too many: ignored, no underflow */
    CHECK_EQ(mmk_view_count(m), 0);
    CHECK_OK(mmk_resize(m, 10));
    CHECK_OK(mmk_resize(m, size - 3));
    CHECK_OK(mmk_close(m));
    CHECK_OK(mmk_free(m));
}

static void test_resize_file(const char *path, const unsigned char *data, uint64_t size) {
    uint64_t offsets[] = {0, 1, ps - 1, ps + 1, 4097};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        uint64_t off = offsets[i];
        CHECK_EQ(write_file(path, data, size), 0);
        mmk_map *m = open_ok(path, MMK_ACCESS_WRITE, off, 100, 0);
        if (!m)
            continue;
        CHECK_EQ(mmk_seek(m, 50, MMK_SEEK_SET), 50);
        /* grow past the end of the file */
        uint64_t big = size - off + 3 * ps + 17;
        CHECK_OK(mmk_resize(m, big));
        CHECK_EQ(mmk_length(m), big);
        CHECK_EQ(file_size_of(path), off + big);
        CHECK_MEM(mmk_data(m), data + off, size - off);
        CHECK_EQ(((unsigned char *)mmk_data(m))[big - 1], 0);
        CHECK_EQ(mmk_tell(m), 50);
        CHECK_OK(mmk_copy_in(m, big - 3, "end", 3));
        /* shrink */
        CHECK_OK(mmk_resize(m, 20));
        CHECK_EQ(mmk_length(m), 20);
        CHECK_EQ(file_size_of(path), off + 20);
        CHECK_EQ(mmk_tell(m), 20); /* clamped */
        CHECK_MEM(mmk_data(m), data + off, 20);
        /* to zero and back */
        CHECK_OK(mmk_resize(m, 0));
        CHECK(mmk_data(m) == NULL);
        CHECK_EQ(file_size_of(path), off);
        CHECK_OK(mmk_resize(m, 5));
        CHECK_EQ(file_size_of(path), off + 5);
        CHECK_MEM(mmk_data(m), "\0\0\0\0\0", 5);
        /* same length: the file still ends where the map does */
        CHECK_EQ(truncate(path, (off_t)(off + 5 + ps)), 0);
        CHECK_OK(mmk_resize(m, 5));
        CHECK_EQ(file_size_of(path), off + 5);
        CHECK_RC(mmk_resize(m, (uint64_t)INT64_MAX), -EFBIG);
        CHECK_RC(mmk_resize(m, UINT64_MAX), -EFBIG);
        CHECK_EQ(mmk_length(m), 5);
        CHECK_OK(mmk_free(m));
    }
    /* an unchanged prefix survives a grow/shrink cycle of the file */
    CHECK_EQ(write_file(path, data, size), 0);
    mmk_map *m = open_ok(path, MMK_ACCESS_WRITE, 0, 0, 0);
    CHECK_OK(mmk_resize(m, 2 * size));
    CHECK_OK(mmk_resize(m, size));
    CHECK_OK(mmk_free(m));
    unsigned char *buf = malloc(size);
    CHECK_EQ(read_file_at(path, 0, buf, size), size);
    CHECK_MEM(buf, data, size);
    free(buf);
}

static void test_anon(void) {
    for (unsigned flags = 0; flags <= MMK_ANON_SHARED; flags++) {
        mmk_map *m = NULL;
        CHECK_OK(mmk_open_anon(&m, 5000, flags));
        CHECK_EQ(mmk_length(m), 5000);
        CHECK_EQ(mmk_access(m), MMK_ACCESS_WRITE);
        CHECK_EQ(mmk_fd(m), -1);
        uint64_t sz;
        CHECK_RC(mmk_file_size(m, &sz), MMK_EANON);
        const unsigned char *d = mmk_data(m);
        int zero = 1;
        for (int i = 0; i < 5000; i++)
            zero &= d[i] == 0;
        CHECK(zero);
        CHECK_EQ(mmk_write(m, "anonymous", 9), 9);
        CHECK_OK(mmk_flush(m, 0, 0, 0));
        if (flags == MMK_ANON_SHARED && !anon_fd_available()) {
            /* No memfd (the POSIX-only build, macOS): shared anonymous
               memory cannot grow, only shrink, and a refusal changes nothing. */
            CHECK_RC(mmk_resize(m, 3 * ps + 1), MMK_ENOTSUP);
            CHECK_EQ(mmk_length(m), 5000);
            CHECK_OK(mmk_resize(m, 4));
            CHECK_MEM(mmk_data(m), "anon", 4);
            CHECK_EQ(mmk_tell(m), 4);
            CHECK_OK(mmk_free(m));
            continue;
        }
        CHECK_OK(mmk_resize(m, 3 * ps + 1));
        CHECK_EQ(mmk_length(m), 3 * ps + 1);
        CHECK_MEM(mmk_data(m), "anonymous", 9);
        CHECK_OK(mmk_copy_in(m, 3 * ps, "z", 1));
        CHECK_OK(mmk_resize(m, 4));
        CHECK_MEM(mmk_data(m), "anon", 4);
        CHECK_EQ(mmk_tell(m), 4);
        CHECK_OK(mmk_resize(m, 0));
        CHECK(mmk_data(m) == NULL);
        CHECK_OK(mmk_resize(m, 100));
        CHECK_EQ(((unsigned char *)mmk_data(m))[99], 0);
        CHECK_OK(mmk_free(m));
        CHECK_OK(mmk_open_anon(&m, 0, flags));
        CHECK_EQ(mmk_length(m), 0);
        CHECK(mmk_data(m) == NULL);
        CHECK_OK(mmk_resize(m, 2 * ps));
        CHECK_OK(mmk_copy_in(m, 2 * ps - 1, "q", 1));
        CHECK_OK(mmk_free(m));
    }
}

static void test_control(const char *path, uint64_t size) {
    mmk_map *m = open_ok(path, MMK_ACCESS_WRITE, 5, 0, 0);
    uint64_t len = size - 5;
    /* flush ranges */
    CHECK_OK(mmk_flush(m, 0, 0, MMK_FLUSH_SYNC));
    CHECK_OK(mmk_flush(m, 1, 1, MMK_FLUSH_ASYNC));
    CHECK_OK(mmk_flush(m, len, 0, 0));
    CHECK_OK(mmk_flush(m, len - 1, 1, 0));
    CHECK_RC(mmk_flush(m, len + 1, 0, 0), MMK_ERANGE);
    CHECK_RC(mmk_flush(m, len - 1, 2, 0), MMK_ERANGE);
    CHECK_RC(mmk_flush(m, 1, UINT64_MAX, 0), MMK_ERANGE);
    CHECK_RC(mmk_flush(m, 0, 0, 4), -EINVAL);
    /* advice */
    for (int a = MMK_ADVICE_NORMAL; a <= MMK_ADVICE_DONTNEED; a++)
        CHECK_OK(mmk_advise(m, a, 0, 0));
    int hp = mmk_advise(m, MMK_ADVICE_HUGEPAGE, 0, 0);
    CHECK(hp == 0 || hp == MMK_ENOTSUP);
    CHECK_RC(mmk_advise(m, 99, 0, 0), -EINVAL);
    CHECK_RC(mmk_advise(m, -1, 0, 0), -EINVAL);
    CHECK_RC(mmk_advise(m, MMK_ADVICE_NORMAL, len + 1, 0), MMK_ERANGE);
    CHECK_RC(mmk_advise(m, MMK_ADVICE_NORMAL, 0, len + 1), MMK_ERANGE);
    CHECK_OK(mmk_advise_native(m, MADV_SEQUENTIAL, 3, 10));
    CHECK_RC(mmk_advise_native(m, 12345, 0, 0), -EINVAL);
    CHECK_RC(mmk_advise_native(m, MADV_NORMAL, 0, len + 1), MMK_ERANGE);
    mmk_map *a = NULL;
    CHECK_OK(mmk_open_anon(&a, 4 * ps, 0));
    hp = mmk_advise(a, MMK_ADVICE_HUGEPAGE, 0, 0);
    CHECK(hp == 0 || hp == MMK_ENOTSUP);
    CHECK_OK(mmk_populate(a, 0, 0));
    CHECK_OK(mmk_free(a));
    /* populate, lock */
    CHECK_OK(mmk_populate(m, 0, 0));
    CHECK_OK(mmk_populate(m, 7, 1));
    CHECK_RC(mmk_populate(m, len + 1, 0), MMK_ERANGE);
    CHECK_RC(mmk_populate(m, 0, len + 1), MMK_ERANGE);
    CHECK_OK(mmk_lock_pages(m, 0, 0));
    CHECK_OK(mmk_unlock_pages(m, 0, 0));
    CHECK_OK(mmk_lock_pages(m, 1, 2));
    CHECK_OK(mmk_unlock_pages(m, 1, 2));
    CHECK_RC(mmk_lock_pages(m, len + 1, 0), MMK_ERANGE);
    CHECK_RC(mmk_unlock_pages(m, 0, len + 1), MMK_ERANGE);
    CHECK_OK(mmk_free(m));
}

static int advise_says_einval(void *addr, size_t len, int adv) {
    (void)addr, (void)len, (void)adv;
    return -EINVAL;
}

/* Without MADV_POPULATE_READ (older kernels) populate touches every page. */
static void test_populate_fallback(const char *path) {
    mmk__os_methods saved = mmk__os;
    mmk__os.advise = advise_says_einval;
    mmk_map *m = open_ok(path, MMK_ACCESS_READ, 1, 0, 0);
    CHECK_OK(mmk_populate(m, 0, 0));
    CHECK_OK(mmk_populate(m, 100, 10));
    CHECK_OK(mmk_free(m));
    mmk__os = saved;
}

int main(void) {
    ps = mmk_page_size();
    CHECK(ps >= 512 && (ps & (ps - 1)) == 0);
    CHECK(mmk_allocation_granularity() >= ps && mmk_allocation_granularity() % ps == 0);

    uint64_t size = 3 * ps + 123;
    unsigned char *data = malloc(size);
    fill_random(data, size, 7, 0);
    char path[512]; /* tpath's buffers are reused: keep our own copy */
    snprintf(path, sizeof path, "%s", tpath("data"));
    CHECK_EQ(write_file(path, data, size), 0);

    test_bad_arguments(path);
    test_open_errors();
    test_permissions();
    test_offsets(path, data, size);
    test_empty();
    test_create_truncate_grow();
    test_descriptors(path, size);
    test_read_only_and_copy(path, data, size);
    test_closed_and_null(path);
    test_views(path, size);
    test_control(path, size);
    test_populate_fallback(path);
    test_anon();
    test_find();
    test_resize_file(path, data, size);
    test_cursor(path);

    unlink(path);
    free(data);
    return CHECK_DONE();
}
