/*
 * test_shm.c — named shared memory (mmk_shm_open / mmk_shm_unlink) and the
 * process-shared robust mutex, exercised across real processes: fork()ed
 * children write, lock, die holding the lock (SIGKILL) and race on a counter.
 *
 * Every object name carries this process's pid, is remembered when made, and
 * is unlinked at the end even when checks failed; a watchdog alarm turns a
 * deadlock into a failure (and still cleans up) instead of a hung test.
 */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * ThreadSanitizer rightly reports deliberate misuse of a mutex (unlocking one
 * the caller does not hold, relocking its own) and stops the test; the error
 * codes of such misuse are checked by the plain and ASan builds of this test.
 */
#if defined(__SANITIZE_THREAD__)
#define MISUSE_CHECKS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MISUSE_CHECKS 0
#endif
#endif
#ifndef MISUSE_CHECKS
#define MISUSE_CHECKS 1
#endif

/* ---- unique names, remembered for cleanup ------------------------------- */

#define MAX_NAMES 64
static char g_names[MAX_NAMES][NAME_MAX + 3];
static int g_name_count;

/* A fresh name "/mmk-test-<pid>-<tag>" in static storage, remembered for cleanup. */
static const char *test_name(const char *tag) {
    if (g_name_count >= MAX_NAMES) {
        fprintf(stderr, "test_shm: too many names\n");
        _exit(2);
    }
    char *n = g_names[g_name_count++];
    snprintf(n, sizeof g_names[0], "/mmk-test-%ld-%s", (long)getpid(), tag);
    return n;
}

static void unlink_all_names(void) {
    for (int i = 0; i < g_name_count; i++)
        shm_unlink(g_names[i]);
}

/* Watchdog: a deadlocked lock or a child that never exits ends here. */
static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "test_shm: watchdog timeout (deadlock?)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    unlink_all_names();
    _exit(3);
}

/* ---- small process helpers ---------------------------------------------- */

/* Wait for `pid`; returns its exit status, or 128+signal if it was killed. */
static int wait_child(pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

/* Fork with a watchdog of its own in the child (alarms are not inherited). */
static pid_t fork_child(void) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);
        alarm(60);
    }
    return pid;
}

static int read_byte(int fd) {
    unsigned char c;
    ssize_t r;
    do {
        r = read(fd, &c, 1);
    } while (r < 0 && errno == EINTR);
    return r == 1 ? c : -1;
}

static void write_byte(int fd, unsigned char c) {
    ssize_t r;
    do {
        r = write(fd, &c, 1);
    } while (r < 0 && errno == EINTR);
}

static int count_open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* ---- names and arguments ------------------------------------------------ */

static void test_bad_arguments(void) {
    mmk_map *m = (mmk_map *)&m; /* must be reset to NULL on failure */
    char longname[NAME_MAX + 3];

    CHECK_RC(mmk_shm_open(&m, "", 4096, MMK_SHM_CREATE, 0), -EINVAL);
    CHECK(m == NULL);
    CHECK_RC(mmk_shm_open(&m, "/", 4096, MMK_SHM_CREATE, 0), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, NULL, 4096, MMK_SHM_CREATE, 0), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, "a/b", 4096, MMK_SHM_CREATE, 0), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, "/a/b", 4096, MMK_SHM_CREATE, 0), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, "//a", 4096, MMK_SHM_CREATE, 0), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, "/a/", 4096, MMK_SHM_CREATE, 0), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, ".", 4096, MMK_SHM_CREATE, 0), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, "/..", 4096, MMK_SHM_CREATE, 0), -EINVAL);

    /* One byte over the longest name the platform takes. */
    longname[0] = '/';
    memset(longname + 1, 'x', NAME_MAX + 1);
    longname[NAME_MAX + 2] = '\0';
    CHECK_RC(mmk_shm_open(&m, longname, 4096, MMK_SHM_CREATE, 0), -EINVAL);
    CHECK_RC(mmk_shm_unlink(longname), -EINVAL);

    const char *ok = test_name("args");
    CHECK_RC(mmk_shm_open(NULL, ok, 4096, MMK_SHM_CREATE, 0), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, ok, 4096, MMK_SHM_CREATE | (1u << 7), 0), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, ok, 4096, MMK_SHM_EXCL, 0), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, ok, 4096, MMK_SHM_CREATE, 01000), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, ok, 4096, MMK_SHM_CREATE, 04600), -EINVAL);
    CHECK(m == NULL);
    /* None of the refusals above created the object. */
    CHECK_RC(mmk_shm_open(&m, ok, 0, 0, 0), -ENOENT);

    CHECK_RC(mmk_shm_unlink(NULL), -EINVAL);
    CHECK_RC(mmk_shm_unlink(""), -EINVAL);
    CHECK_RC(mmk_shm_unlink("/a/b"), -EINVAL);
    CHECK_RC(mmk_shm_unlink(".."), -EINVAL);
}

/* The longest acceptable name works, with or without the leading slash. */
static void test_longest_name(void) {
    char name[NAME_MAX + 2];
    int n = snprintf(name, sizeof name, "mmk-test-%ld-long-", (long)getpid());
    memset(name + n, 'y', (size_t)(NAME_MAX - n));
    name[NAME_MAX] = '\0';
    CHECK_EQ(strlen(name), NAME_MAX);
    char *slot = g_names[g_name_count++];
    snprintf(slot, sizeof g_names[0], "/%s", name);

    mmk_map *m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, 100, MMK_SHM_CREATE | MMK_SHM_EXCL, 0));
    CHECK_EQ(mmk_length(m), 100);
    mmk_free(m);
    char slashed[NAME_MAX + 3];
    snprintf(slashed, sizeof slashed, "/%s", name);
    m = NULL;
    CHECK_OK(mmk_shm_open(&m, slashed, 0, 0, 0));
    CHECK_EQ(mmk_length(m), 100);
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(slashed));
    CHECK_RC(mmk_shm_unlink(name), -ENOENT);
}

/* ---- create / open / unlink --------------------------------------------- */

static void test_create_open_unlink(void) {
    const char *name = test_name("basic");
    const char *bare = name + 1; /* the same object named without the slash */
    mmk_map *a = NULL, *b = NULL, *c = NULL;

    CHECK_RC(mmk_shm_open(&a, name, 0, 0, 0), -ENOENT);
    CHECK_RC(mmk_shm_open(&a, name, 0, MMK_SHM_READONLY, 0), -ENOENT);
    CHECK_RC(mmk_shm_unlink(name), -ENOENT);

    CHECK_OK(mmk_shm_open(&a, bare, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0));
    if (!a)
        return;
    CHECK_EQ(mmk_length(a), 4096);
    CHECK_EQ(mmk_access(a), MMK_ACCESS_WRITE);
    uint64_t size = 0;
    CHECK_OK(mmk_file_size(a, &size));
    CHECK_EQ(size, 4096);

    /* A new object reads as zeros. */
    unsigned char zeros[4096], buf[4096];
    memset(zeros, 0, sizeof zeros);
    CHECK_OK(mmk_copy_out(a, 0, buf, sizeof buf));
    CHECK_MEM(buf, zeros, sizeof buf);

    static const char msg[] = "shared between maps";
    CHECK_EQ(mmk_write(a, msg, sizeof msg), sizeof msg);

    /* A second map of the same name sees the bytes and shares further writes. */
    CHECK_OK(mmk_shm_open(&b, name, 0, 0, 0));
    if (b) {
        CHECK_EQ(mmk_length(b), 4096);
        CHECK_OK(mmk_copy_out(b, 0, buf, sizeof msg));
        CHECK_MEM(buf, msg, sizeof msg);
        CHECK_OK(mmk_copy_in(b, 1000, "XYZ", 3));
        CHECK_MEM((char *)mmk_data(a) + 1000, "XYZ", 3);
        mmk_free(b);
    }

    /* A shorter length maps a prefix; a longer one is refused. */
    b = NULL;
    CHECK_OK(mmk_shm_open(&b, name, 100, 0, 0));
    CHECK_EQ(mmk_length(b), 100);
    mmk_free(b);
    b = (mmk_map *)&b;
    CHECK_RC(mmk_shm_open(&b, name, 4097, 0, 0), MMK_ELENGTH);
    CHECK(b == NULL);
    CHECK_RC(mmk_shm_open(&b, name, 8192, MMK_SHM_READONLY, 0), MMK_ELENGTH);

    /* EXCL refuses an existing object and leaves it alone. */
    CHECK_RC(mmk_shm_open(&b, name, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0), -EEXIST);
    CHECK_RC(mmk_shm_open(&b, bare, 64, MMK_SHM_CREATE | MMK_SHM_EXCL, 0), -EEXIST);
    CHECK_OK(mmk_file_size(a, &size));
    CHECK_EQ(size, 4096);
    CHECK_MEM(mmk_data(a), msg, sizeof msg);

    /* Plain CREATE opens the existing object: same bytes, never shrunk. */
    b = NULL;
    CHECK_OK(mmk_shm_open(&b, name, 64, MMK_SHM_CREATE, 0));
    CHECK_EQ(mmk_length(b), 64);
    CHECK_MEM(mmk_data(b), msg, sizeof msg);
    mmk_free(b);
    CHECK_OK(mmk_file_size(a, &size));
    CHECK_EQ(size, 4096);

    /* ... and grows one that is still shorter than asked, keeping its bytes. */
    b = NULL;
    CHECK_OK(mmk_shm_open(&b, name, 8192, MMK_SHM_CREATE, 0));
    CHECK_EQ(mmk_length(b), 8192);
    if (b) {
        CHECK_MEM(mmk_data(b), msg, sizeof msg);
        CHECK_EQ(((unsigned char *)mmk_data(b))[8191], 0);
    }
    mmk_free(b);
    CHECK_OK(mmk_file_size(a, &size));
    CHECK_EQ(size, 8192);

    /* Unlink removes the name; maps already open keep working. */
    CHECK_OK(mmk_shm_unlink(name));
    CHECK_RC(mmk_shm_open(&c, name, 0, 0, 0), -ENOENT);
    CHECK_RC(mmk_shm_unlink(bare), -ENOENT);
    CHECK_MEM(mmk_data(a), msg, sizeof msg);
    CHECK_OK(mmk_copy_in(a, 0, "after", 5));
    CHECK_MEM(mmk_data(a), "after", 5);

    /* The name can be created afresh: a new, zeroed object. */
    CHECK_OK(mmk_shm_open(&c, name, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0));
    if (c) {
        CHECK_OK(mmk_copy_out(c, 0, buf, 4096));
        CHECK_MEM(buf, zeros, 4096);
    }
    mmk_free(c);
    CHECK_OK(mmk_shm_unlink(name));
    CHECK_OK(mmk_free(a));
}

/* A zero-length object is a valid empty map, created or opened. */
static void test_empty_object(void) {
    const char *name = test_name("empty");
    mmk_map *m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, 0, MMK_SHM_CREATE | MMK_SHM_EXCL, 0));
    CHECK_EQ(mmk_length(m), 0);
    CHECK(mmk_data(m) == NULL);
    mmk_free(m);
    m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, 0, MMK_SHM_READONLY, 0));
    CHECK_EQ(mmk_length(m), 0);
    mmk_free(m);
    CHECK_RC(mmk_shm_open(&m, name, 1, 0, 0), MMK_ELENGTH);
    CHECK_OK(mmk_shm_unlink(name));
}

/* ---- permissions and descriptors ---------------------------------------- */

static unsigned fd_mode(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return 0xffffffffu;
    return (unsigned)(st.st_mode & 07777);
}

static void test_mode_and_descriptors(void) {
    mode_t old_umask = umask(022);
    const char *name = test_name("mode");
    int fds_before = count_open_fds();
    mmk_map *m = NULL;

    CHECK_OK(mmk_shm_open(&m, name, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0));
    if (m) {
        CHECK(mmk_fd(m) >= 0);
        CHECK_EQ(fd_mode(mmk_fd(m)), 0600);
        CHECK(fcntl(mmk_fd(m), F_GETFD) & FD_CLOEXEC);
        /* The map holds one descriptor; the one used to create it is closed. */
        CHECK_EQ(count_open_fds(), fds_before + 1);
    }
    mmk_free(m);
    CHECK_EQ(count_open_fds(), fds_before);
    CHECK_OK(mmk_shm_unlink(name));

    /* The requested mode is exact even where the umask would clear bits. */
    name = test_name("mode666");
    m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, 16, MMK_SHM_CREATE | MMK_SHM_EXCL, 0666));
    if (m)
        CHECK_EQ(fd_mode(mmk_fd(m)), 0666);
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(name));

    umask(077);
    name = test_name("mode640");
    m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, 16, MMK_SHM_CREATE, 0640));
    if (m)
        CHECK_EQ(fd_mode(mmk_fd(m)), 0640);
    mmk_free(m);
    /* Opening an existing object does not change its mode. */
    m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, 0, MMK_SHM_CREATE, 0666));
    if (m)
        CHECK_EQ(fd_mode(mmk_fd(m)), 0640);
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(name));
    umask(old_umask);

    /* Failed opens leak no descriptor. */
    CHECK_RC(mmk_shm_open(&m, name, 0, 0, 0), -ENOENT);
    CHECK_EQ(count_open_fds(), fds_before);
}

/*
 * A 0600 object is out of reach of another user: -EACCES. As root the check
 * runs in a child that gives up root; otherwise on a 0400 object opened for
 * writing.
 */
static void test_permission_denied(void) {
    const char *name = test_name("perm");
    mmk_map *m = NULL;
    if (geteuid() == 0) {
        CHECK_OK(mmk_shm_open(&m, name, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0));
        pid_t pid = fork_child();
        if (pid == 0) {
            mmk_map *c = NULL;
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(10);
            if (mmk_shm_open(&c, name, 0, 0, 0) != -EACCES)
                _exit(11);
            if (mmk_shm_open(&c, name, 0, MMK_SHM_READONLY, 0) != -EACCES)
                _exit(12);
            if (mmk_shm_open(&c, name, 4096, MMK_SHM_CREATE, 0) != -EACCES)
                _exit(13);
            /* /dev/shm is sticky: only the owner may remove the name. */
            int rc = mmk_shm_unlink(name);
            if (rc != -EACCES && rc != -EPERM)
                _exit(14);
            _exit(0);
        }
        CHECK(pid > 0);
        CHECK_EQ(wait_child(pid), 0);
    } else {
        CHECK_OK(mmk_shm_open(&m, name, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0400));
        mmk_map *w = NULL;
        CHECK_RC(mmk_shm_open(&w, name, 0, 0, 0), -EACCES);
        CHECK_OK(mmk_shm_open(&w, name, 0, MMK_SHM_READONLY, 0));
        mmk_free(w);
    }
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(name));
}

/* ---- read-only maps ----------------------------------------------------- */

static void test_readonly(void) {
    const char *name = test_name("ro");
    mmk_map *w = NULL, *r = NULL;
    CHECK_OK(mmk_shm_open(&w, name, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0));
    CHECK_OK(mmk_copy_in(w, 0, "readable", 8));

    CHECK_OK(mmk_shm_open(&r, name, 0, MMK_SHM_READONLY, 0));
    if (r) {
        CHECK_EQ(mmk_access(r), MMK_ACCESS_READ);
        char buf[8];
        CHECK_EQ(mmk_read(r, buf, 8), 8);
        CHECK_MEM(buf, "readable", 8);
        CHECK_EQ(mmk_seek(r, 0, MMK_SEEK_SET), 0);
        CHECK_RC(mmk_write(r, "nope", 4), MMK_EREADONLY);
        CHECK_RC(mmk_write_byte(r, 'x'), MMK_EREADONLY);
        CHECK_RC(mmk_copy_in(r, 0, "nope", 4), MMK_EREADONLY);
        CHECK_MEM(mmk_data(w), "readable", 8);
        /* The pages themselves are read-only: fcntl says the descriptor is too. */
        CHECK_EQ(fcntl(mmk_fd(r), F_GETFL) & O_ACCMODE, O_RDONLY);
        /* Writes from the writable map show through the read-only one. */
        CHECK_OK(mmk_copy_in(w, 0, "READ", 4));
        CHECK_MEM(mmk_data(r), "READable", 8);
    }
    mmk_free(r);
    mmk_free(w);
    CHECK_OK(mmk_shm_unlink(name));

    /* CREATE | READONLY makes the object but hands back a read-only map. */
    name = test_name("ro-create");
    r = NULL;
    CHECK_OK(mmk_shm_open(&r, name, 512, MMK_SHM_CREATE | MMK_SHM_READONLY, 0));
    CHECK_EQ(mmk_length(r), 512);
    CHECK_EQ(mmk_access(r), MMK_ACCESS_READ);
    CHECK_RC(mmk_write(r, "x", 1), MMK_EREADONLY);
    mmk_free(r);
    /* A read-only open cannot grow an existing object. */
    CHECK_RC(mmk_shm_open(&r, name, 1024, MMK_SHM_CREATE | MMK_SHM_READONLY, 0), MMK_ELENGTH);
    CHECK_OK(mmk_shm_unlink(name));
}

/* ---- failure after creation leaves no name behind ----------------------- */

static void test_no_litter_on_failure(void) {
    const char *name = test_name("litter");
    mmk_map *m = (mmk_map *)&m;
    /* Too big to size (EFBIG) or to map (ENOMEM): whichever fails, no object stays. */
    int rc = mmk_shm_open(&m, name, UINT64_MAX, MMK_SHM_CREATE | MMK_SHM_EXCL, 0);
    CHECK(rc < 0);
    CHECK(m == NULL);
    CHECK_RC(mmk_shm_open(&m, name, 0, 0, 0), -ENOENT);

    rc = mmk_shm_open(&m, name, UINT64_C(1) << 62, MMK_SHM_CREATE, 0);
    CHECK(rc < 0);
    CHECK(m == NULL);
    CHECK_RC(mmk_shm_open(&m, name, 0, 0, 0), -ENOENT);

    /* A failed open of an object someone else created does not remove it. */
    mmk_map *keep = NULL;
    CHECK_OK(mmk_shm_open(&keep, name, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0));
    CHECK_RC(mmk_shm_open(&m, name, 8192, 0, 0), MMK_ELENGTH);
    /* Growing it for a map that then fails puts the old size back. */
    CHECK(mmk_shm_open(&m, name, UINT64_C(1) << 62, MMK_SHM_CREATE, 0) < 0);
    uint64_t size = 0;
    CHECK_OK(mmk_file_size(keep, &size));
    CHECK_EQ(size, 4096);
    mmk_map *again = NULL;
    CHECK_OK(mmk_shm_open(&again, name, 0, 0, 0));
    CHECK_EQ(mmk_length(again), 4096);
    mmk_free(again);
    mmk_free(keep);
    CHECK_OK(mmk_shm_unlink(name));
}

/*
 * The system refuses to size the object (a file size limit makes ftruncate
 * fail with EFBIG): the error comes back and nothing is left behind. Runs in
 * a child so that the limit does not outlive the check.
 */
static void test_size_failure(void) {
    const char *fresh = test_name("fsize-new");
    const char *existing = test_name("fsize-old");
    mmk_map *keep = NULL;
    CHECK_OK(mmk_shm_open(&keep, existing, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0));
    pid_t pid = fork_child();
    if (pid == 0) {
        struct rlimit lim = {8192, 8192};
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
            _exit(10);
        mmk_map *m = (mmk_map *)&m;
        if (mmk_shm_open(&m, fresh, 1 << 20, MMK_SHM_CREATE | MMK_SHM_EXCL, 0) != -EFBIG)
            _exit(11);
        if (m != NULL)
            _exit(12);
        if (mmk_shm_open(&m, fresh, 0, 0, 0) != -ENOENT)
            _exit(13);
        /* Growing an existing object fails the same way and keeps its size. */
        if (mmk_shm_open(&m, existing, 1 << 20, MMK_SHM_CREATE, 0) != -EFBIG)
            _exit(14);
        _exit(0);
    }
    CHECK(pid > 0);
    CHECK_EQ(wait_child(pid), 0);
    uint64_t size = 0;
    CHECK_OK(mmk_file_size(keep, &size));
    CHECK_EQ(size, 4096);
    mmk_free(keep);
    CHECK_OK(mmk_shm_unlink(existing));
    CHECK_RC(mmk_shm_unlink(fresh), -ENOENT);
}

/* ---- data between processes --------------------------------------------- */

static void test_fork_visibility(void) {
    const char *name = test_name("fork");
    mmk_map *m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0));
    if (!m)
        return;
    char expect[64];
    pid_t pid = fork_child();
    if (pid == 0) {
        /* One write through a fresh map of the name, one through the inherited map. */
        char line[64];
        mmk_map *c = NULL;
        int n = snprintf(line, sizeof line, "written by child %ld", (long)getpid());
        if (mmk_shm_open(&c, name, 0, 0, 0) != 0)
            _exit(10);
        if (mmk_copy_in(c, 0, line, (size_t)n + 1) != 0)
            _exit(11);
        mmk_free(c);
        if (mmk_copy_in(m, 2048, "via fork", 9) != 0)
            _exit(12);
        _exit(0);
    }
    CHECK(pid > 0);
    CHECK_EQ(wait_child(pid), 0);
    snprintf(expect, sizeof expect, "written by child %ld", (long)pid);
    char got[64] = {0};
    CHECK_OK(mmk_copy_out(m, 0, got, strlen(expect) + 1));
    CHECK(strcmp(got, expect) == 0);
    CHECK_OK(mmk_copy_out(m, 2048, got, 9));
    CHECK(strcmp(got, "via fork") == 0);
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(name));
}

/* ---- the robust mutex --------------------------------------------------- */

/* What the tests keep in shared memory: a lock and the state it protects. */
typedef struct shared_state {
    mmk_mutex mu;
    uint64_t counter;
    uint64_t half_done; /* set while an update is in progress */
} shared_state;

static shared_state *open_state(const char *name, mmk_map **m) {
    *m = NULL;
    if (mmk_shm_open(m, name, sizeof(shared_state), MMK_SHM_CREATE | MMK_SHM_EXCL, 0) != 0)
        return NULL;
    shared_state *s = mmk_data(*m);
    if (mmk_mutex_init(&s->mu) != 0)
        return NULL;
    return s;
}

static void test_mutex_arguments(void) {
    CHECK_RC(mmk_mutex_init(NULL), -EINVAL);
    CHECK_RC(mmk_mutex_lock(NULL), -EINVAL);
    CHECK_RC(mmk_mutex_trylock(NULL), -EINVAL);
    CHECK_RC(mmk_mutex_unlock(NULL), -EINVAL);
    CHECK_RC(mmk_mutex_consistent(NULL), -EINVAL);
    CHECK_RC(mmk_mutex_destroy(NULL), -EINVAL);
    CHECK(_Alignof(mmk_mutex) >= 8);

    /* In ordinary memory, within one process. */
    mmk_mutex mu;
    CHECK_OK(mmk_mutex_init(&mu));
    if (MISUSE_CHECKS)
        CHECK_RC(mmk_mutex_unlock(&mu), -EPERM);
    CHECK_OK(mmk_mutex_lock(&mu));
    if (MISUSE_CHECKS) {
        CHECK_RC(mmk_mutex_lock(&mu), -EDEADLK);
        /* The owner's own trylock reports the deadlock, as the lock does. */
        CHECK_RC(mmk_mutex_trylock(&mu), -EDEADLK);
    }
    /* Nothing to repair: the owner did not die. */
    CHECK_RC(mmk_mutex_consistent(&mu), -EINVAL);
    CHECK_OK(mmk_mutex_unlock(&mu));
    if (MISUSE_CHECKS)
        CHECK_RC(mmk_mutex_unlock(&mu), -EPERM);
    CHECK_OK(mmk_mutex_trylock(&mu));
    CHECK_OK(mmk_mutex_unlock(&mu));
    CHECK_OK(mmk_mutex_destroy(&mu));
}

/*
 * Fork a child that takes the lock, marks the state half-updated, tells us
 * so and then waits to be killed. Returns the child's pid once it holds the
 * lock, or -1.
 */
static pid_t spawn_holder(shared_state *s) {
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork_child();
    if (pid == 0) {
        close(p[0]);
        if (mmk_mutex_lock(&s->mu) != 0)
            _exit(10);
        s->half_done = 1;
        s->counter += 1000;
        write_byte(p[1], 'L');
        for (;;)
            pause();
    }
    close(p[1]);
    int c = pid > 0 ? read_byte(p[0]) : -1;
    close(p[0]);
    if (c != 'L') {
        if (pid > 0) {
            kill(pid, SIGKILL);
            wait_child(pid);
        }
        return -1;
    }
    return pid;
}

static void kill_holder(pid_t pid) {
    kill(pid, SIGKILL);
    CHECK_EQ(wait_child(pid), 128 + SIGKILL);
}

static void test_owner_died(void) {
    const char *name = test_name("ownerdead");
    mmk_map *m;
    shared_state *s = open_state(name, &m);
    CHECK(s != NULL);
    if (!s) {
        mmk_free(m);
        return;
    }

    /* Round 1: the holder dies; the next locker repairs and the lock lives on. */
    pid_t pid = spawn_holder(s);
    CHECK(pid > 0);
    if (pid > 0) {
        kill_holder(pid);
        CHECK_RC(mmk_mutex_lock(&s->mu), MMK_EOWNERDEAD);
        CHECK_EQ(s->half_done, 1);
        s->counter -= 1000; /* the repair: undo the half-done update */
        s->half_done = 0;
        CHECK_OK(mmk_mutex_consistent(&s->mu));
        CHECK_OK(mmk_mutex_unlock(&s->mu));
        CHECK_OK(mmk_mutex_lock(&s->mu));
        CHECK_EQ(s->counter, 0);
        CHECK_OK(mmk_mutex_unlock(&s->mu));
        CHECK_OK(mmk_mutex_trylock(&s->mu));
        CHECK_OK(mmk_mutex_unlock(&s->mu));
    }

    /* Round 2: trylock reports the dead owner too. */
    pid = spawn_holder(s);
    CHECK(pid > 0);
    if (pid > 0) {
        CHECK_RC(mmk_mutex_trylock(&s->mu), -EBUSY);
        kill_holder(pid);
        CHECK_RC(mmk_mutex_trylock(&s->mu), MMK_EOWNERDEAD);
        s->counter -= 1000;
        s->half_done = 0;
        CHECK_OK(mmk_mutex_consistent(&s->mu));
        CHECK_OK(mmk_mutex_unlock(&s->mu));
    }

    /* Round 3: unlocking without repair makes the lock unrecoverable for everyone. */
    pid = spawn_holder(s);
    CHECK(pid > 0);
    if (pid > 0) {
        kill_holder(pid);
        CHECK_RC(mmk_mutex_lock(&s->mu), MMK_EOWNERDEAD);
        CHECK_OK(mmk_mutex_unlock(&s->mu));
        CHECK_RC(mmk_mutex_lock(&s->mu), MMK_ENOTRECOVERABLE);
        CHECK_RC(mmk_mutex_trylock(&s->mu), MMK_ENOTRECOVERABLE);
        pid_t other = fork_child();
        if (other == 0)
            _exit(mmk_mutex_lock(&s->mu) == MMK_ENOTRECOVERABLE ? 0 : 1);
        CHECK(other > 0);
        CHECK_EQ(wait_child(other), 0);
    }
    CHECK_EQ(s->counter, 1000); /* round 3's half update was never undone */
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(name));
}

/* A lock held by another process: trylock is busy, unlock by us is refused. */
static void test_cross_process_busy(void) {
    const char *name = test_name("busy");
    mmk_map *m;
    shared_state *s = open_state(name, &m);
    CHECK(s != NULL);
    if (!s) {
        mmk_free(m);
        return;
    }
    int locked[2], go[2];
    if (pipe(locked) != 0 || pipe(go) != 0) {
        CHECK(!"pipe");
        return;
    }
    pid_t pid = fork_child();
    if (pid == 0) {
        close(locked[0]);
        close(go[1]);
        if (mmk_mutex_lock(&s->mu) != 0)
            _exit(10);
        write_byte(locked[1], 'L');
        if (read_byte(go[0]) != 'G')
            _exit(11);
        s->counter = 42;
        _exit(mmk_mutex_unlock(&s->mu) == 0 ? 0 : 12);
    }
    close(locked[1]);
    close(go[0]);
    CHECK(pid > 0);
    CHECK_EQ(read_byte(locked[0]), 'L');
    CHECK_RC(mmk_mutex_trylock(&s->mu), -EBUSY);
    if (MISUSE_CHECKS)
        CHECK_RC(mmk_mutex_unlock(&s->mu), -EPERM);
    CHECK_RC(mmk_mutex_trylock(&s->mu), -EBUSY);
    write_byte(go[1], 'G');
    /* Blocks until the child lets go, then sees what it wrote under the lock. */
    CHECK_OK(mmk_mutex_lock(&s->mu));
    CHECK_EQ(s->counter, 42);
    CHECK_OK(mmk_mutex_unlock(&s->mu));
    CHECK_EQ(wait_child(pid), 0);
    close(locked[0]);
    close(go[1]);
    CHECK_OK(mmk_mutex_destroy(&s->mu));
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(name));
}

/*
 * Several processes each add 1 many times with a plain read-modify-write under
 * the lock; any lost update shows in the total. Each child maps the object by
 * name itself, as an unrelated process would.
 */
static void test_counter_under_lock(void) {
    enum { PROCS = 4, ROUNDS = 20000 };
    const char *name = test_name("counter");
    mmk_map *m;
    shared_state *s = open_state(name, &m);
    CHECK(s != NULL);
    if (!s) {
        mmk_free(m);
        return;
    }
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork_child();
        if (pids[i] == 0) {
            mmk_map *c = NULL;
            if (mmk_shm_open(&c, name, 0, 0, 0) != 0)
                _exit(10);
            shared_state *cs = mmk_data(c);
            for (int r = 0; r < ROUNDS; r++) {
                if (mmk_mutex_lock(&cs->mu) != 0)
                    _exit(11);
                volatile uint64_t *counter = &cs->counter;
                uint64_t v = *counter;
                if ((r & 255) == 0)
                    sched_yield(); /* widen the window a lost update would need */
                *counter = v + 1;
                if (mmk_mutex_unlock(&cs->mu) != 0)
                    _exit(12);
            }
            mmk_free(c);
            _exit(0);
        }
        CHECK(pids[i] > 0);
    }
    for (int i = 0; i < PROCS; i++) {
        if (pids[i] > 0)
            CHECK_EQ(wait_child(pids[i]), 0);
    }
    CHECK_OK(mmk_mutex_lock(&s->mu));
    CHECK_EQ(s->counter, (uint64_t)PROCS * ROUNDS);
    CHECK_OK(mmk_mutex_unlock(&s->mu));
    CHECK_OK(mmk_mutex_destroy(&s->mu));
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(name));
}

/* Every test unlinked what it made: nothing of ours is left under /dev/shm. */
static void check_no_leftovers(void) {
    DIR *d = opendir("/dev/shm");
    if (!d)
        return; /* not Linux: nothing to look at */
    char prefix[64];
    snprintf(prefix, sizeof prefix, "mmk-test-%ld-", (long)getpid());
    struct dirent *e;
    int left = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            fprintf(stderr, "left behind: /dev/shm/%s\n", e->d_name);
            left++;
        }
    }
    closedir(d);
    CHECK_EQ(left, 0);
}

int main(void) {
    signal(SIGALRM, on_alarm);
    alarm(120);
    signal(SIGPIPE, SIG_IGN);

    test_bad_arguments();
    test_longest_name();
    test_create_open_unlink();
    test_empty_object();
    test_mode_and_descriptors();
    test_permission_denied();
    test_readonly();
    test_no_litter_on_failure();
    test_size_failure();
    test_fork_visibility();
    test_mutex_arguments();
    test_owner_died();
    test_cross_process_busy();
    test_counter_under_lock();

    check_no_leftovers();
    unlink_all_names();
    alarm(0);
    return CHECK_DONE();
}
