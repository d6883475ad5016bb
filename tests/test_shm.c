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
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm_lock.h"

/*
 * ThreadSanitizer rightly reports deliberate misuse of a mutex (unlocking one
 * the caller does not hold, relocking its own) and stops the test; the error
 * codes of such misuse are checked by the plain and ASan builds of this test.
 */
#define MISUSE_CHECKS (!CHECK_TSAN)

/* ---- unique names, remembered for cleanup ------------------------------- */

#define MAX_NAMES 128
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

/* ---- whose object: owner and mode of an existing object ----------------- */

/* Size, owner and mode of the object `name`, read with the system's calls. */
static int raw_stat(const char *name, struct stat *st) {
    int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = fstat(fd, st) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static uint64_t raw_size(const char *name) {
    struct stat st;
    return raw_stat(name, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

/*
 * The caller's own object with a mode wider than asked for is refused with
 * MMK_EOWNER, whatever the flags, and nothing about it changes; a mode within
 * the requested one, or MMK_SHM_ANY_OWNER, opens it.
 */
static void test_mode_wider_than_asked(void) {
    const char *name = test_name("wide");
    int fds_before = count_open_fds();
    mmk_map *keep = NULL, *m = (mmk_map *)&m;
    CHECK_OK(mmk_shm_open(&keep, name, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0644));
    if (!keep)
        return;
    CHECK_OK(mmk_copy_in(keep, 0, "mine", 4));

    /* mode 0 means 0600: 0644 is wider. CREATE would also have grown it. */
    CHECK_RC(mmk_shm_open(&m, name, 8192, MMK_SHM_CREATE, 0), MMK_EOWNER);
    CHECK(m == NULL);
    CHECK_EQ(raw_size(name), 4096);
    CHECK_RC(mmk_shm_open(&m, name, 8192, MMK_SHM_CREATE, 0600), MMK_EOWNER);
    CHECK_RC(mmk_shm_open(&m, name, 0, 0, 0), MMK_EOWNER);
    CHECK_RC(mmk_shm_open(&m, name, 0, MMK_SHM_READONLY, 0), MMK_EOWNER);
    CHECK_RC(mmk_shm_open(&m, name, 0, 0, 0640), MMK_EOWNER); /* other-read is extra */
    CHECK_RC(mmk_shm_open(&m, name, 0, 0, 0604), MMK_EOWNER); /* group-read is extra */
    CHECK_EQ(raw_size(name), 4096);
    CHECK_EQ(count_open_fds(), fds_before + 1); /* only keep's descriptor */

    /* Exactly the mode, or a wider request, is fine: the object is within it. */
    m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, 0, 0, 0644));
    mmk_free(m);
    m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, 8192, MMK_SHM_CREATE, 0666));
    CHECK_EQ(mmk_length(m), 8192);
    mmk_free(m);
    CHECK_EQ(raw_size(name), 8192);
    m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, 0, MMK_SHM_READONLY | MMK_SHM_ANY_OWNER, 0));
    if (m)
        CHECK_MEM(mmk_data(m), "mine", 4);
    mmk_free(m);

    /* A narrower object than asked is fine too. */
    struct stat st;
    CHECK(fchmod(mmk_fd(keep), 0400) == 0);
    m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, 0, MMK_SHM_READONLY, 0));
    mmk_free(m);
    /* Special bits count as wider than any requested mode (which has none). */
    CHECK(fchmod(mmk_fd(keep), 01600) == 0);
    CHECK_OK(raw_stat(name, &st));
    if ((st.st_mode & 07777) == 01600) {
        CHECK_RC(mmk_shm_open(&m, name, 0, 0, 0777), MMK_EOWNER);
    }
    mmk_free(keep);
    CHECK_OK(mmk_shm_unlink(name));
    CHECK_EQ(count_open_fds(), fds_before);
}

/*
 * Another user's object under the name: the attack is to plant it with mode
 * 0666 before the victim's open-or-create, then read what the victim writes.
 * Refused with MMK_EOWNER, not grown, not written. Needs root to act as two
 * users; returns without checks otherwise (test_mode_wider_than_asked covers
 * the mode half for any user).
 */
static void test_planted_by_other_user(void) {
    if (geteuid() != 0) {
        printf("test_planted_by_other_user: not root, cannot act as another user\n");
        return;
    }
    const uid_t nobody = 65534;
    const char *planted = test_name("planted");
    const char *chowned = test_name("chowned");
    const char *own = test_name("seteuid");

    /* The other user creates the object, world-readable and writable. */
    pid_t pid = fork_child();
    if (pid == 0) {
        mmk_map *c = NULL;
        if (setgid(nobody) != 0 || setuid(nobody) != 0)
            _exit(10);
        if (mmk_shm_open(&c, planted, 4096, MMK_SHM_CREATE | MMK_SHM_EXCL, 0666) != 0)
            _exit(11);
        /* Its own object, its own mode: the owner itself may open it. */
        mmk_map *again = NULL;
        if (mmk_shm_open(&again, planted, 0, 0, 0666) != 0)
            _exit(12);
        mmk_free(again);
        mmk_free(c);
        _exit(0);
    }
    CHECK(pid > 0);
    CHECK_EQ(wait_child(pid), 0);
    struct stat st;
    CHECK_OK(raw_stat(planted, &st));
    CHECK_EQ(st.st_uid, nobody);
    CHECK_EQ(st.st_mode & 0777, 0666);

    mmk_map *m = (mmk_map *)&m;
    int created = 7;
    mmk_shm_options o = MMK_SHM_OPTIONS_INIT;
    o.length = 8192;
    o.flags = MMK_SHM_CREATE;
    CHECK_RC(mmk_shm_open_ex(&m, planted, &o, &created), MMK_EOWNER);
    CHECK(m == NULL);
    CHECK_EQ(created, 7); /* not written on failure */
    /* Even asking for 0666 itself: the owner is wrong. */
    CHECK_RC(mmk_shm_open(&m, planted, 8192, MMK_SHM_CREATE, 0666), MMK_EOWNER);
    CHECK_RC(mmk_shm_open(&m, planted, 0, 0, 0666), MMK_EOWNER);
    CHECK_RC(mmk_shm_open(&m, planted, 0, MMK_SHM_READONLY, 0666), MMK_EOWNER);
    CHECK_OK(raw_stat(planted, &st));
    CHECK_EQ(st.st_size, 4096);
    CHECK_EQ(st.st_uid, nobody);
    CHECK_EQ(st.st_mode & 0777, 0666);
    /* Deliberate sharing between users: ANY_OWNER opens it, still unchanged. */
    m = NULL;
    CHECK_OK(mmk_shm_open(&m, planted, 0, MMK_SHM_ANY_OWNER, 0));
    CHECK_EQ(mmk_length(m), 4096);
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(planted));

    /* The same with an object handed to the other user by fchown, mode 0600. */
    int fd = shm_open(chowned, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(ftruncate(fd, 100) == 0);
        CHECK(fchown(fd, nobody, nobody) == 0);
        CHECK(fchmod(fd, 0600) == 0);
        close(fd);
        m = (mmk_map *)&m;
        CHECK_RC(mmk_shm_open(&m, chowned, 4096, MMK_SHM_CREATE, 0), MMK_EOWNER);
        CHECK(m == NULL);
        CHECK_EQ(raw_size(chowned), 100);
        CHECK_OK(mmk_shm_unlink(chowned));
    }

    /*
     * The owner is compared with the effective user: a process whose
     * effective uid is nobody (real uid still root) uses its own objects, and
     * refuses root's.
     */
    mmk_map *rootobj = NULL;
    const char *root_name = test_name("rootobj");
    CHECK_OK(mmk_shm_open(&rootobj, root_name, 64, MMK_SHM_CREATE | MMK_SHM_EXCL, 0666));
    pid = fork_child();
    if (pid == 0) {
        mmk_map *c = NULL;
        if (setegid(nobody) != 0 || seteuid(nobody) != 0)
            _exit(10);
        if (mmk_shm_open(&c, own, 64, MMK_SHM_CREATE | MMK_SHM_EXCL, 0) != 0)
            _exit(11);
        mmk_free(c);
        c = NULL;
        if (mmk_shm_open(&c, own, 128, MMK_SHM_CREATE, 0) != 0)
            _exit(12);
        mmk_free(c);
        if (mmk_shm_open(&c, root_name, 0, 0, 0666) != MMK_EOWNER)
            _exit(13);
        if (mmk_shm_unlink(own) != 0)
            _exit(14);
        _exit(0);
    }
    CHECK(pid > 0);
    CHECK_EQ(wait_child(pid), 0);
    mmk_free(rootobj);
    CHECK_OK(mmk_shm_unlink(root_name));
}

/* ---- who created it: mmk_shm_open_ex ------------------------------------ */

static void test_open_ex(void) {
    const char *name = test_name("ex");
    mmk_map *m = NULL;
    int created = 7;
    mmk_shm_options o = MMK_SHM_OPTIONS_INIT;
    CHECK_EQ(o.size, sizeof(mmk_shm_options));
    CHECK(o.length == 0 && o.flags == 0 && o.mode == 0);

    /* NULL options: open an existing object, whole length. */
    CHECK_RC(mmk_shm_open_ex(&m, name, NULL, &created), -ENOENT);
    CHECK_EQ(created, 7);

    o.length = 256;
    o.flags = MMK_SHM_CREATE;
    CHECK_OK(mmk_shm_open_ex(&m, name, &o, &created));
    CHECK_EQ(created, 1);
    CHECK_EQ(mmk_length(m), 256);
    mmk_free(m);
    m = NULL;
    created = 7;
    CHECK_OK(mmk_shm_open_ex(&m, name, &o, &created));
    CHECK_EQ(created, 0);
    mmk_free(m);
    m = NULL;
    CHECK_OK(mmk_shm_open_ex(&m, name, NULL, &created));
    CHECK_EQ(created, 0);
    CHECK_EQ(mmk_length(m), 256);
    mmk_free(m);
    m = NULL;
    CHECK_OK(mmk_shm_open_ex(&m, name, &o, NULL)); /* created may be NULL */
    mmk_free(m);
    created = 7;
    o.flags = MMK_SHM_CREATE | MMK_SHM_EXCL;
    CHECK_RC(mmk_shm_open_ex(&m, name, &o, &created), -EEXIST);
    CHECK_EQ(created, 7);
    CHECK_RC(mmk_shm_open_ex(NULL, name, &o, &created), -EINVAL);

    /* A brand-new object created by CREATE | READONLY still reports created. */
    const char *ro = test_name("ex-ro");
    o.flags = MMK_SHM_CREATE | MMK_SHM_READONLY;
    m = NULL;
    CHECK_OK(mmk_shm_open_ex(&m, ro, &o, &created));
    CHECK_EQ(created, 1);
    CHECK_EQ(mmk_access(m), MMK_ACCESS_READ);
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(ro));

    /* The size field: too small or absurd is refused, before anything is made. */
    const char *fresh = test_name("ex-size");
    o.flags = MMK_SHM_CREATE;
    o.size = 0;
    CHECK_RC(mmk_shm_open_ex(&m, fresh, &o, &created), -EINVAL);
    o.size = sizeof(mmk_shm_options) - sizeof(unsigned) - 1;
    CHECK_RC(mmk_shm_open_ex(&m, fresh, &o, &created), -EINVAL);
    o.size = (size_t)1 << 20;
    CHECK_RC(mmk_shm_open_ex(&m, fresh, &o, &created), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, fresh, 0, 0, 0), -ENOENT);

    /*
     * A caller built against a newer header passes a bigger struct: fine
     * while the fields this library does not know are zero, refused (and
     * nothing created) when one is set.
     */
    struct {
        mmk_shm_options known;
        uint64_t future[2];
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.known.size = sizeof newer;
    newer.known.length = 64;
    newer.known.flags = MMK_SHM_CREATE;
    newer.future[1] = 1;
    CHECK_RC(mmk_shm_open_ex(&m, fresh, &newer.known, &created), -EINVAL);
    CHECK_RC(mmk_shm_open(&m, fresh, 0, 0, 0), -ENOENT);
    newer.future[1] = 0;
    m = NULL;
    CHECK_OK(mmk_shm_open_ex(&m, fresh, &newer.known, &created));
    CHECK_EQ(created, 1);
    CHECK_EQ(mmk_length(m), 64);
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(fresh));

    /* Unknown flags are refused through the options too. */
    o = (mmk_shm_options)MMK_SHM_OPTIONS_INIT;
    o.flags = MMK_SHM_CREATE | (1u << 9);
    CHECK_RC(mmk_shm_open_ex(&m, fresh, &o, &created), -EINVAL);
    CHECK_OK(mmk_shm_unlink(name));
}

/*
 * Processes race to open-or-create one name, released together: exactly one
 * of them is told it created the object. It initialises the lock and raises
 * a ready flag; the others wait for the flag, then all add to a counter
 * under the lock, which must come out exact.
 */
typedef struct race_state {
    mmk_mutex mu;
    _Atomic uint64_t ready;
    uint64_t counter;
} race_state;

static void test_create_race(void) {
    enum { PROCS = 6, ROUNDS = 20, ADDS = 50 };
    for (int round = 0; round < ROUNDS; round++) {
        char tag[32];
        snprintf(tag, sizeof tag, "race%d", round);
        const char *name = test_name(tag);
        int go[2];
        if (pipe(go) != 0) {
            CHECK(!"pipe");
            return;
        }
        pid_t pids[PROCS];
        for (int i = 0; i < PROCS; i++) {
            pids[i] = fork_child();
            if (pids[i] == 0) {
                close(go[1]);
                char c;
                while (read(go[0], &c, 1) < 0 && errno == EINTR)
                    ; /* returns 0 when the parent closes its end: all start */
                mmk_shm_options o = MMK_SHM_OPTIONS_INIT;
                o.length = sizeof(race_state);
                o.flags = MMK_SHM_CREATE;
                mmk_map *m = NULL;
                int created = -1;
                if (mmk_shm_open_ex(&m, name, &o, &created) != 0)
                    _exit(10);
                race_state *s = mmk_data(m);
                if (created) {
                    if (mmk_mutex_init(&s->mu) != 0)
                        _exit(11);
                    atomic_store(&s->ready, 1);
                } else {
                    while (!atomic_load(&s->ready))
                        sched_yield();
                }
                for (int a = 0; a < ADDS; a++) {
                    if (mmk_mutex_lock(&s->mu) != 0)
                        _exit(12);
                    s->counter++;
                    mmk_mutex_unlock(&s->mu);
                }
                mmk_free(m);
                _exit(created == 1 ? 1 : created == 0 ? 0 : 13);
            }
        }
        close(go[0]);
        close(go[1]); /* the start signal */
        int creators = 0, failed = 0;
        for (int i = 0; i < PROCS; i++) {
            if (pids[i] <= 0) {
                failed++;
                continue;
            }
            int st = wait_child(pids[i]);
            if (st == 1)
                creators++;
            else if (st != 0)
                failed++;
        }
        CHECK_EQ(failed, 0);
        CHECK_EQ(creators, 1);
        mmk_map *m = NULL;
        CHECK_OK(mmk_shm_open(&m, name, 0, 0, 0));
        if (m) {
            race_state *s = mmk_data(m);
            CHECK_EQ(s->counter, PROCS * ADDS);
            mmk_mutex_destroy(&s->mu);
        }
        mmk_free(m);
        CHECK_OK(mmk_shm_unlink(name));
    }
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

/* The mutex flavour the tests below run with (shm_lock.h): "robust", "file". */
static const char *g_flavour = "default";

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
    /* "Locked, owner died" is a success: positive, so `< 0` means "not locked". */
    CHECK(MMK_LOCK_OWNERDEAD > 0);
    /* Its old negative code is retired, not reused. */
    CHECK(strcmp(mmk_errname(-5010), "UNKNOWN") == 0);

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
        CHECK_RC(mmk_mutex_lock(&s->mu), MMK_LOCK_OWNERDEAD);
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
        CHECK_RC(mmk_mutex_trylock(&s->mu), MMK_LOCK_OWNERDEAD);
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
        CHECK_RC(mmk_mutex_lock(&s->mu), MMK_LOCK_OWNERDEAD);
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
    CHECK_OK(mmk_mutex_destroy(&s->mu));
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

/*
 * Lock holders killed at arbitrary moments. The protected state is a counter
 * and each process's count of its own committed increments; an update writes
 * an undo record first and clears it last, all with C11 atomics so that the
 * compiler keeps the stores and their order (plain stores between lock and
 * unlock may be merged or reordered at -O2, and a SIGKILL lands between any
 * two instructions). Whoever gets MMK_LOCK_OWNERDEAD rolls the record back.
 * Whatever the moments of death, the counter equals the sum of the committed
 * counts afterwards.
 */
enum { JOURNAL_PROCS = 4 };

typedef struct journal_state {
    mmk_mutex mu;
    _Atomic uint64_t counter;
    _Atomic uint64_t done[JOURNAL_PROCS];
    _Atomic uint64_t undo_who; /* 1 + slot of the process mid-update; 0: none */
    _Atomic uint64_t undo_counter;
    _Atomic uint64_t undo_done;
    _Atomic uint64_t repairs;
} journal_state;

static int journal_lock(journal_state *s) {
    int rc = mmk_mutex_lock(&s->mu);
    if (rc == MMK_LOCK_OWNERDEAD) {
        uint64_t who = atomic_load(&s->undo_who);
        if (who != 0 && who <= JOURNAL_PROCS) {
            atomic_store(&s->counter, atomic_load(&s->undo_counter));
            atomic_store(&s->done[who - 1], atomic_load(&s->undo_done));
            atomic_store(&s->undo_who, 0);
        }
        atomic_fetch_add(&s->repairs, 1);
        rc = mmk_mutex_consistent(&s->mu);
    }
    return rc;
}

static void journal_add(journal_state *s, int slot) {
    uint64_t c = atomic_load(&s->counter), d = atomic_load(&s->done[slot]);
    atomic_store(&s->undo_counter, c);
    atomic_store(&s->undo_done, d);
    atomic_store(&s->undo_who, (uint64_t)slot + 1);
    /* Now and then a longer update, so that kills land inside one (a file
       lock spends most of its time in the kernel, outside the update). */
    if ((d & 31) == 0)
        sched_yield();
    atomic_store(&s->counter, c + 1);
    atomic_store(&s->done[slot], d + 1);
    atomic_store(&s->undo_who, 0);
}

/* A worker that adds under the lock until it is killed. */
static pid_t spawn_journal_worker(journal_state *s, int slot) {
    pid_t pid = fork_child();
    if (pid == 0) {
        for (;;) {
            if (journal_lock(s) < 0)
                _exit(10);
            journal_add(s, slot);
            if (mmk_mutex_unlock(&s->mu) != 0)
                _exit(11);
        }
    }
    return pid;
}

static void test_kill_anywhere(void) {
    enum { KILLS = 24 };
    const char *name = test_name("journal");
    mmk_map *m = NULL;
    CHECK_OK(mmk_shm_open(&m, name, sizeof(journal_state), MMK_SHM_CREATE | MMK_SHM_EXCL, 0));
    if (!m)
        return;
    journal_state *s = mmk_data(m);
    CHECK_OK(mmk_mutex_init(&s->mu));
    pid_t pids[JOURNAL_PROCS];
    for (int i = 0; i < JOURNAL_PROCS; i++) {
        pids[i] = spawn_journal_worker(s, i);
        CHECK(pids[i] > 0);
    }
    int kills = 0, broken = 0;
    for (int k = 0; k < KILLS && !broken; k++) {
        int i = k % JOURNAL_PROCS;
        /* Let the victim commit a random number of increments more, then kill it. */
        uint64_t target = atomic_load(&s->done[i]) + 1 + check_rnd_below(2000);
        while (atomic_load(&s->done[i]) < target) {
            int st;
            if (waitpid(pids[i], &st, WNOHANG) != 0) {
                broken = 1; /* the worker failed on its own */
                break;
            }
            sched_yield();
        }
        if (broken)
            break;
        kill(pids[i], SIGKILL);
        CHECK_EQ(wait_child(pids[i]), 128 + SIGKILL);
        kills++;
        pids[i] = spawn_journal_worker(s, i);
        CHECK(pids[i] > 0);
    }
    CHECK_EQ(broken, 0);
    for (int i = 0; i < JOURNAL_PROCS; i++) {
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            CHECK_EQ(wait_child(pids[i]), 128 + SIGKILL);
        }
    }
    int rc = journal_lock(s);
    CHECK(rc == 0);
    uint64_t sum = 0;
    for (int i = 0; i < JOURNAL_PROCS; i++)
        sum += atomic_load(&s->done[i]);
    CHECK_EQ(atomic_load(&s->undo_who), 0);
    CHECK_EQ(atomic_load(&s->counter), sum);
    CHECK(sum >= (uint64_t)kills);
    if (rc == 0)
        CHECK_OK(mmk_mutex_unlock(&s->mu));
    CHECK_OK(mmk_mutex_destroy(&s->mu));
    printf(
        "test_kill_anywhere (%s lock): %d workers killed, %llu locks repaired, %llu increments\n",
        g_flavour, kills + JOURNAL_PROCS, (unsigned long long)atomic_load(&s->repairs),
        (unsigned long long)sum);
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(name));
}

/* ---- every flavour: threads, uninitialised memory ----------------------- */

/* Memory no mmk_mutex_init touched (or a destroyed mutex) is refused. */
static void test_mutex_uninitialised(void) {
    mmk_mutex mu;
    memset(&mu, 0, sizeof mu);
    CHECK_RC(mmk_mutex_lock(&mu), -EINVAL);
    CHECK_RC(mmk_mutex_trylock(&mu), -EINVAL);
    CHECK_RC(mmk_mutex_unlock(&mu), -EINVAL);
    CHECK_RC(mmk_mutex_consistent(&mu), -EINVAL);
    CHECK_RC(mmk_mutex_destroy(&mu), -EINVAL);
    CHECK_OK(mmk_mutex_init(&mu));
    CHECK_OK(mmk_mutex_destroy(&mu));
    CHECK_RC(mmk_mutex_lock(&mu), -EINVAL);
}

typedef struct thread_job {
    shared_state *s;
    int rounds;
    int failures;
    int try_rc, unlock_rc, consistent_rc;
} thread_job;

/* Add 1 `rounds` times with a plain read-modify-write under the lock. */
static void *counter_thread(void *p) {
    thread_job *j = p;
    for (int r = 0; r < j->rounds; r++) {
        if (mmk_mutex_lock(&j->s->mu) != 0) {
            j->failures++;
            return NULL;
        }
        volatile uint64_t *counter = &j->s->counter;
        uint64_t v = *counter;
        if ((r & 127) == 0)
            sched_yield();
        *counter = v + 1;
        if (mmk_mutex_unlock(&j->s->mu) != 0)
            j->failures++;
    }
    return NULL;
}

/* What another thread gets from a lock the main thread holds. */
static void *intruder_thread(void *p) {
    thread_job *j = p;
    j->try_rc = mmk_mutex_trylock(&j->s->mu);
    j->unlock_rc = MISUSE_CHECKS ? mmk_mutex_unlock(&j->s->mu) : -EPERM;
    j->consistent_rc = mmk_mutex_consistent(&j->s->mu);
    return NULL;
}

/* Run THREADS counter threads in this process; 0 when all went well. */
static int run_counter_threads(shared_state *s, int threads, int rounds) {
    pthread_t t[8];
    thread_job jobs[8];
    int failures = 0;
    for (int i = 0; i < threads; i++) {
        jobs[i] = (thread_job){.s = s, .rounds = rounds};
        if (pthread_create(&t[i], NULL, counter_thread, &jobs[i]) != 0)
            return -1;
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failures += jobs[i].failures;
    }
    return failures;
}

/*
 * The threads of one process exclude each other as processes do, and a
 * thread cannot take, unlock or repair a lock another thread of its own
 * process holds. Then threads of two processes at once.
 */
static void test_threads_exclude(void) {
    enum { THREADS = 3, ROUNDS = 3000 };
    const char *name = test_name("threads");
    mmk_map *m;
    shared_state *s = open_state(name, &m);
    CHECK(s != NULL);
    if (!s) {
        mmk_free(m);
        return;
    }
    CHECK_OK(mmk_mutex_lock(&s->mu));
    thread_job j = {.s = s};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, intruder_thread, &j) == 0);
    pthread_join(t, NULL);
    CHECK_EQ(j.try_rc, -EBUSY);
    CHECK_EQ(j.unlock_rc, -EPERM);
    CHECK_EQ(j.consistent_rc, -EINVAL); /* nothing to repair */
    CHECK_OK(mmk_mutex_unlock(&s->mu));

    CHECK_EQ(run_counter_threads(s, THREADS, ROUNDS), 0);
    CHECK_EQ(s->counter, (uint64_t)THREADS * ROUNDS);

    pid_t pid = fork_child();
    if (pid == 0)
        _exit(run_counter_threads(s, THREADS, ROUNDS) == 0 ? 0 : 10);
    CHECK(pid > 0);
    CHECK_EQ(run_counter_threads(s, THREADS, ROUNDS), 0);
    CHECK_EQ(wait_child(pid), 0);
    CHECK_EQ(s->counter, (uint64_t)3 * THREADS * ROUNDS);
    CHECK_OK(mmk_mutex_destroy(&s->mu));
    mmk_free(m);
    CHECK_OK(mmk_shm_unlink(name));
}

/* ---- the file flavour's own properties ---------------------------------- */

/* How many lock files (shm_lock_file.c: /tmp/mmkit-lock-PID-*) process `pid` made. */
static int count_lock_files(long pid, char *one, size_t n) {
    DIR *d = opendir("/tmp");
    if (!d)
        return -1;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "mmkit-lock-%ld-", pid);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            if (one)
                snprintf(one, n, "/tmp/%s", e->d_name);
            count++;
        }
    }
    closedir(d);
    return count;
}

/*
 * The lock file: one per mutex, 0600 and the caller's, removed by destroy;
 * destroy refuses while another process holds the lock; a mutex of another
 * user cannot be used (the file is out of reach, or not the caller's).
 */
static void test_file_lock_file(void) {
    if (strcmp(g_flavour, "file") != 0)
        return;
    char path[PATH_MAX];
    int before = count_lock_files((long)getpid(), NULL, 0);
    const char *name = test_name("lockfile");
    mmk_map *m;
    shared_state *s = open_state(name, &m);
    CHECK(s != NULL);
    if (!s) {
        mmk_free(m);
        return;
    }
    CHECK_EQ(count_lock_files((long)getpid(), path, sizeof path), before + 1);
    struct stat st;
    CHECK(lstat(path, &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK_EQ(st.st_mode & 07777, 0600);
    CHECK_EQ(st.st_uid, geteuid());

    /* Held by another process: destroy refuses; after its death, repair and destroy. */
    pid_t pid = spawn_holder(s);
    CHECK(pid > 0);
    if (pid > 0) {
        CHECK_RC(mmk_mutex_destroy(&s->mu), -EBUSY);
        kill_holder(pid);
        CHECK_RC(mmk_mutex_lock(&s->mu), MMK_LOCK_OWNERDEAD);
        CHECK_RC(mmk_mutex_destroy(&s->mu), -EBUSY); /* held by ourselves */
        s->counter -= 1000;
        s->half_done = 0;
        CHECK_OK(mmk_mutex_consistent(&s->mu));
        CHECK_OK(mmk_mutex_unlock(&s->mu));
    }
    CHECK_OK(mmk_mutex_destroy(&s->mu));
    CHECK_EQ(count_lock_files((long)getpid(), NULL, 0), before);

    if (geteuid() == 0) {
        /*
         * Another user cannot open a 0600 lock file: the lock fails, nothing
         * changes. The mutex is made by a child, so that the other user's
         * process does not inherit this one's open lock file.
         */
        pid = fork_child();
        if (pid == 0)
            _exit(mmk_mutex_init(&s->mu) == 0 ? 0 : 10);
        CHECK(pid > 0);
        CHECK_EQ(wait_child(pid), 0);
        pid = fork_child();
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(10);
            if (mmk_mutex_lock(&s->mu) != -EACCES)
                _exit(11);
            if (mmk_mutex_trylock(&s->mu) != -EACCES)
                _exit(12);
            _exit(0);
        }
        CHECK(pid > 0);
        CHECK_EQ(wait_child(pid), 0);
        CHECK_OK(mmk_mutex_lock(&s->mu));
        CHECK_OK(mmk_mutex_unlock(&s->mu));
        CHECK_OK(mmk_mutex_destroy(&s->mu));

        /* A lock file that is not the caller's is refused (MMK_EOWNER): made
           by a child, so that this process has not opened it yet. */
        pid = fork_child();
        if (pid == 0)
            _exit(mmk_mutex_init(&s->mu) == 0 ? 0 : 10);
        CHECK(pid > 0);
        CHECK_EQ(wait_child(pid), 0);
        CHECK_EQ(count_lock_files((long)pid, path, sizeof path), 1);
        CHECK(chown(path, 65534, 65534) == 0);
        CHECK_RC(mmk_mutex_lock(&s->mu), MMK_EOWNER);
        CHECK(unlink(path) == 0);
        /* Its name gone: the bytes name no lock any more. */
        CHECK_RC(mmk_mutex_lock(&s->mu), -EINVAL);
    } else {
        printf("test_file_lock_file: other-user checks need root, skipped\n");
    }
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
    /* Nor a lock file of ours (the file flavour's, destroyed by every test). */
    CHECK_EQ(count_lock_files((long)getpid(), NULL, 0), 0);
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
    test_mode_wider_than_asked();
    test_planted_by_other_user();
    test_open_ex();
    test_create_race();
    test_readonly();
    test_no_litter_on_failure();
    test_size_failure();
    test_fork_visibility();

    /* Every mutex test once per flavour this build has (shm_lock.h). */
    static const char *const flavours[] = {"robust", "file"};
    for (size_t i = 0; i < sizeof flavours / sizeof flavours[0]; i++) {
        if (mmk__lock_select(flavours[i]) != 0) {
            printf("test_shm: no %s lock in this build\n", flavours[i]);
            continue;
        }
        g_flavour = flavours[i];
        printf("test_shm: mutex tests with the %s lock\n", g_flavour);
        test_mutex_arguments();
        test_mutex_uninitialised();
        test_owner_died();
        test_cross_process_busy();
        test_counter_under_lock();
        test_threads_exclude();
        test_kill_anywhere();
        test_file_lock_file();
    }
    CHECK_OK(mmk__lock_select(NULL));

    check_no_leftovers();
    unlink_all_names();
    alarm(0);
    return CHECK_DONE();
}
