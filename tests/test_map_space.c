/*
 * test_map_space.c — a map never half-applies a write when the disk is full,
 * and anonymous maps respect the system's commit limit.
 *
 * On a real 1 MiB tmpfs (mounted here when the test may mount; otherwise that
 * part says why it is skipped): growing a map past the free space fails with
 * -ENOSPC and leaves file and map as they were; writing into a hole of a
 * sparse file fails before any byte changes; a fault that is not a truncation
 * is named -ENOSPC / -EIO instead of MMK_EFAULT. The same paths are driven
 * through the os table with injected ENOSPC / EDQUOT / EIO on any filesystem.
 * Anonymous maps of 1 TiB are refused as the kernel refuses a plain
 * MAP_SHARED|MAP_ANONYMOUS (or MAP_PRIVATE) map of that size.
 */
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "os.h"
#include "test_core_util.h"

static uint64_t ps;
static mmk__os_methods saved;

/* ---- injected failures ----------------------------------------------------- */

static int inj_calls, inj_code;
static int alloc_fails(int fd, uint64_t off, uint64_t len, int keep) {
    (void)fd, (void)off, (void)len, (void)keep;
    inj_calls++;
    return inj_code;
}
/* Grows the file half way (as ext4 does chunk by chunk), then runs out. */
static int alloc_fails_half_way(int fd, uint64_t off, uint64_t len, int keep) {
    inj_calls++;
    if (!keep)
        (void)mmk__os_default.truncate(fd, off + len / 2);
    return -ENOSPC;
}
static int alloc_unsupported(int fd, uint64_t off, uint64_t len, int keep) {
    (void)fd, (void)off, (void)len, (void)keep;
    inj_calls++;
    return MMK_ENOTSUP;
}
static int alloc_counted(int fd, uint64_t off, uint64_t len, int keep) {
    inj_calls++;
    return mmk__os_default.allocate(fd, off, len, keep);
}
/* Every offset is a hole: reservation cannot be skipped. */
static int64_t hole_here(int fd, uint64_t off) {
    (void)fd;
    return (int64_t)off;
}
/* No holes anywhere: a fault on a covered range is then a read error. */
static int64_t no_holes(int fd, uint64_t off) {
    mmk__os_stat st;
    (void)off;
    return mmk__os_default.fstat(fd, &st) == 0 ? (int64_t)st.size : -EIO;
}

static int all_bytes_are(const char *path, uint64_t off, uint64_t n, unsigned char c) {
    unsigned char *buf = malloc((size_t)n);
    int ok = buf && read_file_at(path, off, buf, (size_t)n) == (long long)n;
    for (uint64_t i = 0; ok && i < n; i++)
        ok = buf[i] == c;
    free(buf);
    return ok;
}

static unsigned long long free_blocks(const char *dir) {
    struct statvfs sv;
    return statvfs(dir, &sv) == 0 ? (unsigned long long)sv.f_bfree : 0;
}

static mmk_map *open_write(const char *path, uint64_t length, unsigned flags) {
    mmk_options o = {0};
    o.access = MMK_ACCESS_WRITE;
    o.length = length;
    o.flags = flags;
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, &o));
    return m;
}

/* ---- on a real full filesystem --------------------------------------------------- */

/* Growth past the free space: -ENOSPC, nothing changed, no block kept. */
static void full_disk_growth(const char *dir) {
    char path[600], fresh[600];
    snprintf(path, sizeof path, "%s/grow", dir);
    snprintf(fresh, sizeof fresh, "%s/fresh", dir);
    unsigned char *a = malloc(4096);
    memset(a, 'A', 4096);
    CHECK_EQ(write_file(path, a, 4096), 0);
    unsigned long long before = free_blocks(dir);

    mmk_map *m = open_write(path, 0, 0);
    void *d = mmk_data(m);
    CHECK_RC(mmk_resize(m, 4u << 20), -ENOSPC);
    CHECK_EQ(mmk_length(m), 4096);
    CHECK(mmk_data(m) == d);
    CHECK_MEM(mmk_data(m), a, 4096);
    CHECK_EQ(file_size_of(path), 4096);
    CHECK_EQ(free_blocks(dir), before);
    /* the map still works, and a growth that fits succeeds and is backed */
    CHECK_OK(mmk_copy_in(m, 0, "still", 5));
    CHECK_OK(mmk_resize(m, 8192));
    CHECK_EQ(file_size_of(path), 8192);
    CHECK_OK(mmk_copy_in(m, 4096, "grown", 5));
    CHECK_OK(mmk_free(m));

    /* MMK_OPEN_GROW past the free space, on an existing and on a new file */
    mmk_options o = {0};
    o.access = MMK_ACCESS_WRITE;
    o.length = 4u << 20;
    o.flags = MMK_OPEN_GROW;
    before = free_blocks(dir);
    m = (mmk_map *)&o;
    CHECK_RC(mmk_open(&m, path, &o), -ENOSPC);
    CHECK(m == NULL);
    CHECK_EQ(file_size_of(path), 8192);
    o.flags = MMK_OPEN_GROW | MMK_OPEN_CREATE | MMK_OPEN_EXCL;
    CHECK_RC(mmk_open(&m, fresh, &o), -ENOSPC);
    CHECK_EQ(file_size_of(fresh), -1); /* the file it created is gone again */
    CHECK_EQ(free_blocks(dir), before);
    unlink(path);
    free(a);
}

/* The scenario: a sparse 4 MiB file on a 1 MiB disk; writing 3 MiB
   into it must fail before any byte changes. */
static void full_disk_write_into_holes(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/sparse", dir);
    CHECK_EQ(write_file(path, "", 0), 0);
    CHECK_EQ(truncate(path, 4 << 20), 0);
    unsigned long long before = free_blocks(dir);
    size_t n = 3u << 20;
    unsigned char *b = malloc(n);
    memset(b, 'B', n);

    mmk_map *m = open_write(path, 0, 0);
    CHECK_RC(mmk_copy_in(m, 0, b, n), -ENOSPC);
    CHECK(all_bytes_are(path, 0, 4u << 20, 0));
    CHECK_EQ(file_size_of(path), 4 << 20);
    CHECK_EQ(free_blocks(dir), before);
    CHECK_RC(mmk_write(m, b, n), -ENOSPC);
    CHECK_EQ(mmk_tell(m), 0);
    CHECK_RC(mmk_move(m, 1u << 20, 0, n), -ENOSPC);
    CHECK(all_bytes_are(path, 0, 4u << 20, 0));
    CHECK_EQ(free_blocks(dir), before);

    /* what fits is written, and writing it again costs no reservation */
    inj_calls = 0;
    mmk__os.allocate = alloc_counted;
    CHECK_OK(mmk_copy_in(m, 0, b, 64 * 1024));
    CHECK_EQ(inj_calls, 1);
    for (int i = 0; i < 100; i++)
        CHECK_OK(mmk_copy_in(m, (uint64_t)i * 100, "x", 1));
    CHECK_OK(mmk_write_byte(m, 'y'));
    CHECK_EQ(inj_calls, 1);
    /* front to back: each write past the dense prefix reserves once */
    CHECK_OK(mmk_copy_in(m, 64 * 1024, b, 4096));
    CHECK_OK(mmk_copy_in(m, 64 * 1024 + 4096, b, 4096));
    CHECK_EQ(inj_calls, 3);
    CHECK_OK(mmk_copy_in(m, 64 * 1024 + 100, b, 4096));
    CHECK_EQ(inj_calls, 3);
    mmk__os = saved;
    CHECK_OK(mmk_flush(m, 0, 0, MMK_FLUSH_SYNC));
    CHECK(all_bytes_are(path, 10000, 60000, 'B'));
    CHECK_OK(mmk_free(m));
    unlink(path);
    free(b);
}

/* A filler file that takes every free block; 0 when the disk is full, else -1. */
static int fill_disk(const char *filler) {
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char block[4096];
    memset(block, 'F', sizeof block);
    while (write(fd, block, sizeof block) > 0) {
    }
    int full = errno == ENOSPC;
    close(fd);
    return full ? 0 : -1;
}

/* Faults that are not truncations: named -ENOSPC (a hole the disk cannot
   back) or -EIO, never MMK_EFAULT; a real truncation still is MMK_EFAULT. */
static void full_disk_fault_causes(const char *dir) {
    char path[600], filler[600];
    snprintf(path, sizeof path, "%s/holes", dir);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    unsigned char page[4096];
    memset(page, 'D', sizeof page);
    CHECK_EQ(write_file(path, page, sizeof page), 0); /* first page dense */
    CHECK_EQ(truncate(path, 16 * 4096), 0);           /* the rest a hole */
    mmk_map *m = open_write(path, 0, 0);
    CHECK_EQ(fill_disk(filler), 0);

    /* a filesystem that cannot reserve: the write faults, and says why */
    mmk__os.allocate = alloc_unsupported;
    CHECK_RC(mmk_copy_in(m, 8 * 4096, "z", 1), -ENOSPC);
    CHECK_EQ(mmk_seek(m, 9 * 4096, MMK_SEEK_SET), 9 * 4096);
    CHECK_RC(mmk_write_byte(m, 'z'), -ENOSPC);
    mmk__os = saved;
    /* reading a hole of a shared map needs a page too (tmpfs) */
    unsigned char buf[16];
    int rc = mmk_copy_out(m, 10 * 4096, buf, sizeof buf);
    CHECK(rc == 0 || rc == -ENOSPC);
    if (rc == -ENOSPC) {
        CHECK_EQ(mmk_seek(m, 10 * 4096, MMK_SEEK_SET), 10 * 4096);
        CHECK_RC(mmk_read_byte(m), -ENOSPC);
        CHECK_RC(mmk_read(m, buf, sizeof buf), -ENOSPC);
        CHECK_RC(mmk_line_length(m), -ENOSPC);
        int64_t pos;
        CHECK_RC(mmk_find(m, "q", 1, 0, MMK_DEFAULT_POS, &pos), -ENOSPC);
        /* a scan over the map names the same cause (one thread and many) */
        mmk_pattern *pat = NULL;
        CHECK_OK(mmk_pattern_compile(&pat, "q", 1, MMK_PAT_FIXED, NULL));
        for (unsigned threads = 1; threads <= 2; threads++) {
            mmk_input in = mmk_input_map(m, MMK_DEFAULT_POS, MMK_DEFAULT_POS);
            mmk_scan_options so = {0};
            so.threads = threads;
            so.chunk_size = 4096;
            uint64_t n = 0;
            CHECK_RC(mmk_count(pat, &in, &so, &n), -ENOSPC);
        }
        mmk_pattern_free(pat);
        /* the same fault where the filesystem shows no hole is a read error */
        mmk__os.next_hole = no_holes;
        CHECK_RC(mmk_copy_out(m, 10 * 4096, buf, sizeof buf), -EIO);
        mmk__os = saved;
    } else {
        printf("note: reading a hole on a full tmpfs did not fault on this kernel\n");
    }
    /* the dense page reads fine */
    CHECK_OK(mmk_copy_out(m, 0, buf, sizeof buf));
    CHECK_MEM(buf, page, sizeof buf);
    /* a real truncation is still MMK_EFAULT */
    CHECK_EQ(truncate(path, 4096), 0);
    CHECK_RC(mmk_copy_out(m, 12 * 4096, buf, 1), MMK_EFAULT);
    CHECK_RC(mmk_copy_in(m, 12 * 4096, "t", 1), MMK_EFAULT);
    CHECK_OK(mmk_free(m));
    unlink(filler);
    unlink(path);
}

static void on_small_tmpfs(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/space-%ld", check_tmpdir(), (long)getpid());
    if (mkdir(dir, 0700) != 0) {
        CHECK(0);
        return;
    }
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700") != 0) {
        printf("skip: full-disk part (mounting a 1 MiB tmpfs is not permitted here: %s)\n",
               strerror(errno));
        rmdir(dir);
        return;
    }
    full_disk_growth(dir);
    full_disk_write_into_holes(dir);
    full_disk_fault_causes(dir);
    CHECK_EQ(umount2(dir, MNT_DETACH), 0);
    rmdir(dir);
}

/* ---- injected through the os table (any filesystem) ---------------------------- */

static void injected_growth(void) {
    const char *path = tpath("grow");
    unsigned char data[1000];
    fill_random(data, sizeof data, 7, 0);
    int codes[] = {-ENOSPC, -EDQUOT, -EIO};
    for (int k = 0; k < 3; k++) {
        CHECK_EQ(write_file(path, data, sizeof data), 0);
        mmk_map *m = open_write(path, 0, 0);
        void *d = mmk_data(m);
        inj_calls = 0;
        inj_code = codes[k];
        mmk__os.allocate = alloc_fails;
        CHECK_RC(mmk_resize(m, 10 * ps), codes[k]);
        mmk_options o = {0};
        o.access = MMK_ACCESS_WRITE;
        o.length = 20 * ps;
        o.flags = MMK_OPEN_GROW;
        mmk_map *g = NULL;
        CHECK_RC(mmk_open(&g, path, &o), codes[k]);
        mmk__os = saved;
        CHECK_EQ(inj_calls, 2);
        CHECK_EQ(mmk_length(m), sizeof data);
        CHECK(mmk_data(m) == d);
        CHECK_MEM(mmk_data(m), data, sizeof data);
        CHECK_EQ(file_size_of(path), sizeof data);
        CHECK_OK(mmk_free(m));
    }
    /* a reservation that grew the file part of the way: the size goes back */
    mmk_map *m = open_write(path, 0, 0);
    mmk__os.allocate = alloc_fails_half_way;
    CHECK_RC(mmk_resize(m, 10 * ps), -ENOSPC);
    CHECK_EQ(file_size_of(path), sizeof data);
    mmk_options o = {0};
    o.access = MMK_ACCESS_WRITE;
    o.offset = 3 * ps + 5;
    o.length = 20 * ps;
    o.flags = MMK_OPEN_GROW;
    mmk_map *g = NULL;
    CHECK_RC(mmk_open(&g, path, &o), -ENOSPC);
    CHECK_EQ(file_size_of(path), sizeof data);
    mmk__os = saved;
    CHECK_MEM(mmk_data(m), data, sizeof data);
    /* where the filesystem cannot reserve, growth makes a sparse file */
    inj_calls = 0;
    mmk__os.allocate = alloc_unsupported;
    CHECK_OK(mmk_resize(m, 10 * ps));
    mmk__os = saved;
    CHECK_EQ(inj_calls, 1);
    CHECK_EQ(file_size_of(path), 10 * ps);
    CHECK_MEM(mmk_data(m), data, sizeof data);
    CHECK_OK(mmk_free(m));
    /* growth at an offset reserves only what the map covers */
    CHECK_EQ(write_file(path, data, 10), 0);
    inj_calls = 0;
    mmk__os.allocate = alloc_counted;
    o.offset = 4 * ps;
    o.length = ps;
    CHECK_OK(mmk_open(&g, path, &o));
    mmk__os = saved;
    CHECK_EQ(inj_calls, 1);
    CHECK_EQ(file_size_of(path), 5 * ps);
    CHECK_OK(mmk_copy_in(g, 0, "at offset", 9));
    CHECK_OK(mmk_free(g));
    unlink(path);
}

static void injected_writes(void) {
    const char *path = tpath("holes");
    CHECK_EQ(write_file(path, "", 0), 0);
    CHECK_EQ(truncate(path, (off_t)(8 * ps)), 0);
    mmk_map *m = open_write(path, 0, 0);
    unsigned char b[300];
    memset(b, 'b', sizeof b);
    int codes[] = {-ENOSPC, -EDQUOT, -EIO};
    for (int k = 0; k < 3; k++) {
        inj_calls = 0;
        inj_code = codes[k];
        mmk__os.allocate = alloc_fails;
        mmk__os.next_hole = hole_here;
        CHECK_RC(mmk_copy_in(m, ps - 10, b, sizeof b), codes[k]);
        CHECK_RC(mmk_write(m, b, sizeof b), codes[k]);
        CHECK_RC(mmk_write_byte(m, 'c'), codes[k]);
        CHECK_RC(mmk_move(m, 2 * ps, 0, 100), codes[k]);
        CHECK_EQ(inj_calls, 4);
        mmk__os = saved;
        CHECK_EQ(mmk_tell(m), 0);
        CHECK(all_bytes_are(path, 0, 8 * ps, 0));
    }
    /* a filesystem that cannot reserve is asked once, then writes go in */
    inj_calls = 0;
    mmk__os.allocate = alloc_unsupported;
    mmk__os.next_hole = hole_here;
    CHECK_OK(mmk_copy_in(m, 0, b, sizeof b));
    CHECK_OK(mmk_copy_in(m, 5 * ps, b, sizeof b));
    mmk__os = saved;
    CHECK_EQ(inj_calls, 1);
    /* copy and read maps never reserve */
    mmk_options o = {0};
    o.access = MMK_ACCESS_COPY;
    mmk_map *c = NULL;
    CHECK_OK(mmk_open(&c, path, &o));
    inj_calls = 0;
    inj_code = -ENOSPC;
    mmk__os.allocate = alloc_fails;
    mmk__os.next_hole = hole_here;
    CHECK_OK(mmk_copy_in(c, 7 * ps, b, sizeof b));
    mmk__os = saved;
    CHECK_EQ(inj_calls, 0);
    CHECK_OK(mmk_free(c));
    /* a write past the end of a truncated file reserves nothing and is
       MMK_EFAULT, as before */
    CHECK_EQ(truncate(path, (off_t)ps), 0);
    inj_calls = 0;
    mmk__os.allocate = alloc_counted;
    CHECK_RC(mmk_copy_in(m, 3 * ps, b, 10), MMK_EFAULT);
    mmk__os = saved;
    CHECK_EQ(inj_calls, 0);
    CHECK_EQ(file_size_of(path), ps);
    CHECK_OK(mmk_free(m));
    unlink(path);
}

/* ---- anonymous maps and the commit limit ------------------------------------------ */

static int overcommit_mode(void) {
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = -1;
    if (f) {
        if (fscanf(f, "%d", &mode) != 1)
            mode = -1;
        fclose(f);
    }
    return mode;
}

/* 0 when the kernel grants a plain anonymous map of `len`, else -errno. */
static int plain_anon(uint64_t len, int shared) {
    if ((uint64_t)(size_t)len != len)
        return -ENOMEM; /* more than a 32-bit address space: mmap cannot even be asked */
    void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE,
                   (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    munmap(p, (size_t)len);
    return 0;
}

static int anon_fail_map(int fd, uint64_t off, size_t len, unsigned how, int nf, void **addr) {
    inj_calls++;
    if (how & MMK__OS_MAP_ANON)
        return -ENOMEM;
    return mmk__os_default.map(fd, off, len, how, nf, addr);
}

static void anon_commit_limit(void) {
    uint64_t tib = 1ull << 40;
    int mode = overcommit_mode();
    if (mode == 1)
        printf("note: vm.overcommit_memory is 1 (always overcommit): the kernel grants 1 TiB "
               "itself, so mmkit is checked against a plain mmap of that size\n");
    for (int shared = 0; shared <= 1; shared++) {
        unsigned flags = shared ? MMK_ANON_SHARED : MMK_ANON_PRIVATE;
        int plain = plain_anon(tib, shared);
        if (mode != 1)
            CHECK_RC(plain, -ENOMEM);
        mmk_map *m = NULL;
        int rc = mmk_open_anon(&m, tib, flags);
        CHECK_RC(rc, plain);
        if (rc == 0)
            CHECK_OK(mmk_free(m));
        else
            CHECK(m == NULL);
        /* growing to it is refused the same way, and changes nothing */
        CHECK_OK(mmk_open_anon(&m, ps, flags));
        CHECK_OK(mmk_copy_in(m, 0, "keep", 4));
        void *d = mmk_data(m);
        rc = mmk_resize(m, tib);
        /* Without memfd (the POSIX-only build) shared anonymous memory
           cannot grow at all. */
        int grows = !shared || anon_fd_available();
        CHECK_RC(rc, grows ? plain : MMK_ENOTSUP);
        if (rc != 0) {
            CHECK_EQ(mmk_length(m), ps);
            CHECK(mmk_data(m) == d);
            CHECK_MEM(mmk_data(m), "keep", 4);
        }
        if (grows)
            CHECK_OK(mmk_resize(m, 2 * ps)); /* a small growth still works */
        CHECK_MEM(mmk_data(m), "keep", 4);
        CHECK_OK(mmk_free(m));
    }
    /* a refused commit check leaves no descriptor behind */
    mmk_map *m = NULL;
    inj_calls = 0;
    mmk__os.map = anon_fail_map;
    CHECK_RC(mmk_open_anon(&m, ps, MMK_ANON_SHARED), -ENOMEM);
    mmk__os = saved;
    CHECK(inj_calls > 0);
    CHECK(m == NULL);
}

int main(void) {
    ps = mmk_page_size();
    saved = mmk__os;
    injected_growth();
    injected_writes();
    anon_commit_limit();
    on_small_tmpfs();
    return CHECK_DONE();
}
