/*
 * test_platform.c — what the platform layer (src/os_unix.c, src/os_win.c)
 * must give the same on every platform, through the public API only, so it
 * runs on Linux and under wine (win_test_platform): a UTF-8 file name, maps at
 * offsets that are not multiples of the allocation granularity (64 KiB on
 * Windows), growth and shrinking of a file map with contents kept, flushes,
 * locking, advice, the scan engine's threads (the same counts with 1 to 8
 * threads, from a map and from a descriptor), and errors translated into the
 * library's codes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#ifdef _WIN32
#include <io.h>
#include <windows.h>
#endif

static char path_buf[1024];

/* A file of this process in the scratch directory: the plain, ASan and TSan
   builds (and the wine run) may run at the same time. */
static const char *tmp_file(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%ld-%s", check_tmpdir(), (long)getpid(), name);
    return path_buf;
}

/* The byte at file offset i of the test files: changes every byte. */
static uint8_t pattern_byte(uint64_t i) {
    return (uint8_t)(i * 131u + (i >> 8) * 7u + 1u);
}

static void test_offsets(void) {
    /* Three granules and a bit; maps starting anywhere inside see exactly
       the file's bytes from there. */
    uint64_t gran = mmk_allocation_granularity();
    CHECK(gran >= mmk_page_size());
    CHECK(gran % mmk_page_size() == 0);
    size_t n = (size_t)(3 * gran + 1234);
    uint8_t *data = malloc(n);
    CHECK(data != NULL);
    if (!data)
        return;
    for (size_t i = 0; i < n; i++)
        data[i] = pattern_byte(i);
    /* A name that is not ASCII, created and opened by the library: UTF-8
       through the wide API on Windows (the C library's narrow calls would
       read it in the ANSI code page there). */
    const char *path = tmp_file("plat-\xc3\xa9t\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac.bin");
    {
        mmk_options co = {0};
        co.access = MMK_ACCESS_WRITE;
        co.flags = MMK_OPEN_CREATE | MMK_OPEN_TRUNCATE;
        co.length = n;
        mmk_map *w = NULL;
        CHECK_OK(mmk_open(&w, path, &co));
        if (w) {
            memcpy(mmk_data(w), data, n);
            CHECK_OK(mmk_free(w));
        }
    }
    const uint64_t offs[] = {0, 1, 4095, 4096, gran - 1, gran, gran + 1, 2 * gran + 777, n - 1, n};
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        mmk_options o = {0};
        o.offset = offs[k];
        mmk_map *m = NULL;
        CHECK_OK(mmk_open(&m, path, &o));
        if (!m)
            continue;
        CHECK_EQ(mmk_length(m), n - offs[k]);
        if (n > offs[k])
            CHECK_MEM(mmk_data(m), data + offs[k], n - offs[k]);
        uint8_t b[64];
        int64_t got = mmk_read(m, b, sizeof b);
        size_t want = n - offs[k] < sizeof b ? n - offs[k] : sizeof b;
        CHECK_EQ(got, (int64_t)want);
        CHECK_MEM(b, data + offs[k], want);
        CHECK_OK(mmk_free(m));
    }
    /* An offset and a length: only that range. */
    mmk_options o = {0};
    o.offset = gran + 3;
    o.length = 5000;
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, &o));
    if (m) {
        CHECK_EQ(mmk_length(m), 5000);
        CHECK_MEM(mmk_data(m), data + gran + 3, 5000);
        CHECK_OK(mmk_free(m));
    }
    /* Past the end: the library's own code, not a system error. */
    o.offset = n + 1;
    o.length = 0;
    CHECK_RC(mmk_open(&m, path, &o), MMK_EOFFSET);
    o.offset = 10;
    o.length = n;
    CHECK_RC(mmk_open(&m, path, &o), MMK_ELENGTH);
#ifdef _WIN32
    {
        /* The file has the UTF-16 name the UTF-8 one stands for. */
        wchar_t wpath[1024];
        const char *dir = check_tmpdir(); /* ASCII */
        size_t k = 0;
        for (; dir[k] && k < 900; k++)
            wpath[k] = (wchar_t)(unsigned char)dir[k];
        char pid[32];
        snprintf(pid, sizeof pid, "/%ld-", (long)getpid());
        for (size_t j = 0; pid[j]; j++)
            wpath[k++] = (wchar_t)pid[j];
        const wchar_t *tail = L"plat-\u00e9t\u00e9-\u65e5\u672c.bin";
        for (size_t j = 0; tail[j]; j++)
            wpath[k++] = tail[j];
        wpath[k] = 0;
        FILE *wf = _wfopen(wpath, L"rb");
        CHECK(wf != NULL);
        if (wf)
            fclose(wf);
        CHECK_EQ(_wremove(wpath), 0);
    }
#else
    CHECK_EQ(remove(path), 0);
#endif
    free(data);
}

static void test_errors(void) {
    mmk_map *m = NULL;
    CHECK_RC(mmk_open(&m, tmp_file("plat-no-such-file"), NULL), -ENOENT);
    CHECK(m == NULL);
    CHECK_RC(mmk_open(&m, check_tmpdir(), NULL), -EISDIR);
    const char *path = tmp_file("plat-excl.bin");
    CHECK_EQ(check_write_file(path, "x", 1, 0600), 0);
    mmk_options o = {0};
    o.access = MMK_ACCESS_WRITE;
    o.flags = MMK_OPEN_CREATE | MMK_OPEN_EXCL;
    o.length = 10;
    CHECK_RC(mmk_open(&m, path, &o), -EEXIST);
    CHECK_EQ(remove(path), 0);
}

static void test_resize(void) {
    const char *path = tmp_file("plat-resize.bin");
    size_t n = 100000;
    uint8_t *data = malloc(n);
    CHECK(data != NULL);
    if (!data)
        return;
    for (size_t i = 0; i < n; i++)
        data[i] = pattern_byte(i);
    CHECK_EQ(check_write_file(path, data, n, 0600), 0);
    mmk_options o = {0};
    o.access = MMK_ACCESS_WRITE;
    o.offset = 70001; /* not a multiple of any granularity */
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, &o));
    if (!m) {
        free(data);
        return;
    }
    CHECK_EQ(mmk_length(m), n - 70001);
    /* Grow: the file grows with zeros, the old bytes stay. */
    CHECK_OK(mmk_resize(m, 200000));
    CHECK_EQ(mmk_length(m), 200000);
    uint64_t fsize = 0;
    CHECK_OK(mmk_file_size(m, &fsize));
    CHECK_EQ(fsize, 70001 + 200000);
    const uint8_t *p = mmk_data(m);
    CHECK_MEM(p, data + 70001, n - 70001);
    int zeros = 1;
    for (size_t i = n - 70001; i < 200000; i++)
        zeros &= p[i] == 0;
    CHECK(zeros);
    /* Writes through the map reach the file. */
    memset((uint8_t *)mmk_data(m) + 150000, 'W', 10);
    CHECK_OK(mmk_flush(m, 0, 0, MMK_FLUSH_SYNC));
    CHECK_OK(mmk_flush(m, 100, 5000, MMK_FLUSH_ASYNC));
    /* Shrink: on Windows the view must go before the file can shrink. */
    CHECK_OK(mmk_resize(m, 12345));
    CHECK_EQ(mmk_length(m), 12345);
    CHECK_OK(mmk_file_size(m, &fsize));
    CHECK_EQ(fsize, 70001 + 12345);
    CHECK_MEM(mmk_data(m), data + 70001, 12345);
    CHECK_OK(mmk_resize(m, 160000));
    CHECK_EQ(((const uint8_t *)mmk_data(m))[150000], 0); /* cut off above, zero again */
    memset((uint8_t *)mmk_data(m) + 150000, 'V', 3);
    CHECK_OK(mmk_free(m));
    /* Read back through a new read-only map. */
    m = NULL;
    CHECK_OK(mmk_open(&m, path, NULL));
    if (m) {
        CHECK_EQ(mmk_length(m), 70001 + 160000);
        CHECK_MEM(mmk_data(m), data, 70001 + 12345);
        CHECK_MEM((const uint8_t *)mmk_data(m) + 70001 + 150000, "VVV", 3);
        CHECK_OK(mmk_free(m));
    }
    CHECK_EQ(remove(path), 0);
    free(data);
}

static void test_lock_advise(void) {
    const char *path = tmp_file("plat-lock.bin");
    uint8_t buf[20000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = pattern_byte(i);
    CHECK_EQ(check_write_file(path, buf, sizeof buf, 0600), 0);
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, NULL));
    if (!m)
        return;
    CHECK_OK(mmk_lock_pages(m, 0, 0));
    CHECK_OK(mmk_unlock_pages(m, 0, 0));
    CHECK_OK(mmk_advise(m, MMK_ADVICE_NORMAL, 0, 0));
    CHECK_OK(mmk_advise(m, MMK_ADVICE_WILLNEED, 100, 5000));
    CHECK_RC(mmk_advise(m, 99, 0, 0), -EINVAL);
    CHECK_MEM(mmk_data(m), buf, sizeof buf);
    CHECK_OK(mmk_free(m));
    CHECK_EQ(remove(path), 0);
}

/* The scan engine's threads: the same count whatever the thread count and
   chunk size, from a map and from a descriptor (pread). */
static void test_threads(void) {
    const char *path = tmp_file("plat-scan.txt");
    size_t n = 3u << 20;
    char *text = malloc(n);
    CHECK(text != NULL);
    if (!text)
        return;
    uint64_t want = 0;
    check_rng = 42;
    for (size_t i = 0; i < n; i++) {
        text[i] = "abcd\n"[check_rnd_below(5)];
    }
    for (size_t i = 0; i + 3 <= n; i++)
        if (memcmp(text + i, "abc", 3) == 0)
            want++;
    CHECK_EQ(check_write_file(path, text, n, 0600), 0);
    mmk_pattern *p = NULL;
    CHECK_OK(mmk_pattern_compile(&p, "abc", 3, MMK_PAT_FIXED, NULL));
    mmk_pattern *re = NULL;
    CHECK_OK(mmk_pattern_compile(&re, "ab+c", 4, 0, NULL)); /* the regex engine (PCRE2) */
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, NULL));
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (p && m && f) {
        const unsigned threads[] = {1, 2, 3, 8};
        const uint64_t chunks[] = {0, 4096, 100001};
        for (size_t t = 0; t < 4; t++) {
            for (size_t c = 0; c < 3; c++) {
                mmk_scan_options so = {0};
                so.threads = threads[t];
                so.chunk_size = chunks[c];
                mmk_input in = {0};
                in.kind = MMK_INPUT_MAP;
                in.map = m;
                in.start = MMK_DEFAULT_POS;
                in.end = MMK_DEFAULT_POS;
                uint64_t got = 0;
                CHECK_OK(mmk_count(p, &in, &so, &got));
                CHECK_EQ(got, want);
                mmk_input fin = {0};
                fin.kind = MMK_INPUT_FD;
                fin.fd = fileno(f);
                got = 0;
                CHECK_OK(mmk_count(p, &fin, &so, &got));
                CHECK_EQ(got, want);
                if (re) {
                    got = 0;
                    CHECK_OK(mmk_count(re, &in, &so, &got));
                    CHECK(got >= want); /* "abc" and longer runs of b */
                }
            }
        }
        uint64_t lines = 0, want_lines = 0;
        for (size_t i = 0; i < n; i++)
            want_lines += text[i] == '\n';
        mmk_input in = {0};
        in.kind = MMK_INPUT_MAP;
        in.map = m;
        in.start = MMK_DEFAULT_POS;
        in.end = MMK_DEFAULT_POS;
        CHECK_OK(mmk_count_lines(&in, NULL, &lines));
        CHECK_EQ(lines + (text[n - 1] != '\n'), want_lines + (text[n - 1] != '\n'));
    }
    if (f)
        fclose(f);
    if (m)
        CHECK_OK(mmk_free(m));
    mmk_pattern_free(p);
    mmk_pattern_free(re);
    CHECK_EQ(remove(path), 0);
    free(text);
}

#ifdef _WIN32
/* The fault guard's Windows half: a vectored handler that takes
   EXCEPTION_IN_PAGE_ERROR (and access violations on file views) only in a
   thread with a guard, and passes everything else on. A real in-page error
   needs a failing disk or network drive; RaiseException delivers the same
   exception record through the same handlers. */
static int raise_in_page_error(void *arg) {
    (void)arg;
    ULONG_PTR info[3] = {0, 0, (ULONG_PTR)0xC000009C /* STATUS_DEVICE_DATA_ERROR */};
    RaiseException(EXCEPTION_IN_PAGE_ERROR, 0, 3, info);
    return 0; /* not reached: the guard jumps out */
}

static int write_read_only_view(void *arg) {
    *(volatile uint8_t *)arg = 1; /* an access violation on a mapped view */
    return 0;
}

static volatile LONG passed_on;

static LONG CALLBACK last_handler(EXCEPTION_POINTERS *ep) {
    if (ep->ExceptionRecord->ExceptionCode != EXCEPTION_IN_PAGE_ERROR)
        return EXCEPTION_CONTINUE_SEARCH;
    InterlockedIncrement(&passed_on);
    return EXCEPTION_CONTINUE_EXECUTION; /* a raised exception: RaiseException returns */
}

static DWORD WINAPI guard_thread(LPVOID arg) {
    int *rc = arg;
    for (int i = 0; i < 200; i++)
        if (mmk_guard_run(raise_in_page_error, NULL) != MMK_EFAULT)
            (*rc)++;
    return 0;
}

static void test_guard_windows(void) {
    CHECK_OK(mmk_guard_install());
    void *last = AddVectoredExceptionHandler(0, last_handler);
    CHECK(last != NULL);
    CHECK_RC(mmk_guard_run(raise_in_page_error, NULL), MMK_EFAULT);
    CHECK_EQ(passed_on, 0);
    /* Without a guard the exception is not ours: the next handler gets it. */
    ULONG_PTR info[3] = {0, 0, 0};
    RaiseException(EXCEPTION_IN_PAGE_ERROR, 0, 3, info);
    CHECK_EQ(passed_on, 1);
    /* Guards nest: the inner one takes the fault, the outer one stays. */
    CHECK_RC(mmk_guard_run(raise_in_page_error, NULL), MMK_EFAULT);
    CHECK_RC(mmk_guard_run(raise_in_page_error, NULL), MMK_EFAULT);
    /* Threads fault independently. */
    int bad[4] = {0, 0, 0, 0};
    HANDLE th[4];
    for (int i = 0; i < 4; i++)
        th[i] = CreateThread(NULL, 0, guard_thread, &bad[i], 0, NULL);
    for (int i = 0; i < 4; i++) {
        CHECK(th[i] != NULL);
        if (th[i]) {
            WaitForSingleObject(th[i], INFINITE);
            CloseHandle(th[i]);
        }
        CHECK_EQ(bad[i], 0);
    }
    CHECK_EQ(passed_on, 1);
    /* An access violation on a read-only view of a file, in a guard. */
    const char *path = tmp_file("plat-guard.bin");
    CHECK_EQ(check_write_file(path, "abcdefgh", 8, 0600), 0);
    mmk_map *m = NULL;
    CHECK_OK(mmk_open(&m, path, NULL));
    if (m) {
        CHECK_RC(mmk_guard_run(write_read_only_view, mmk_data(m)), MMK_EFAULT);
        CHECK_MEM(mmk_data(m), "abcdefgh", 8);
        /* Windows refuses to shrink a file that has a view (wine too), so
           the POSIX "file truncated under the map" fault cannot happen. */
        FILE *f = fopen(path, "r+b");
        CHECK(f != NULL);
        if (f) {
            CHECK(_chsize_s(_fileno(f), 2) != 0);
            fclose(f);
        }
        CHECK_OK(mmk_free(m));
    }
    CHECK_EQ(remove(path), 0);
    if (last)
        RemoveVectoredExceptionHandler(last);
}
#endif

int main(void) {
#ifdef _WIN32
    test_guard_windows();
#endif
    test_offsets();
    test_errors();
    test_resize();
    test_lock_advise();
    test_threads();
    return CHECK_DONE();
}
