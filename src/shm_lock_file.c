/*
 * shm_lock_file.c — mmk_mutex from a lock file the kernel releases when its
 * holder dies (every POSIX system; the only flavour of the POSIX-only build,
 * and what macOS needs: it has no robust process-shared mutexes).
 *
 * mmk_mutex_init creates an empty companion file, MMK_LOCK_DIR/mmkit-lock-
 * <creator pid>-<random> (mode 0600, created exclusively, so nobody can
 * plant it), whose name the mutex's bytes carry. Locking is a POSIX record
 * lock (fcntl F_SETLKW) on its first byte: when a process dies, however it
 * dies, the kernel drops its record locks. That alone would hide the death,
 * so the mutex also keeps a "held" word in the shared bytes: the holder sets
 * it (to its pid) right after getting the file lock and clears it right
 * before letting go. A locker that finds it set got the lock from a holder
 * that never unlocked — it died — and so returns MMK_LOCK_OWNERDEAD, with
 * the same consistent / not-recoverable protocol as a robust pthread mutex.
 *
 * Record locks belong to a process, not a thread, so the threads of one
 * process first take a per-process pthread mutex (one per lock file): only
 * the thread holding it asks the kernel. Open-file-description locks
 * (F_OFD_SETLKW) would work per thread but are shared by a forked child,
 * which would then hold its parent's lock; record locks are not inherited.
 * flock() is not used either: on macOS it does not work on shm_open objects,
 * and a file lock must be on a file every user of the mutex can open by name.
 *
 * What differs from the robust flavour (docs/platforms.md): a thread that
 * exits holding the lock leaves it held by its (live) process; every process
 * using the mutex holds one descriptor for the lock file until it exits (or
 * destroys the mutex); a mutex never destroyed leaves its empty lock file
 * behind; only processes of the user that initialised the mutex can use it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm_lock.h"

/* Where lock files live: one fixed directory every process agrees on
   ($TMPDIR differs between users and sessions). */
#ifndef MMK_LOCK_DIR
#define MMK_LOCK_DIR "/tmp"
#endif

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_NOFOLLOW
#define O_NOFOLLOW 0
#endif

#define FILE_TAG UINT64_C(0x6b636f6c656c6966) /* "filelock" */

enum { STATE_OK = 0, STATE_INCONSISTENT = 1, STATE_UNRECOVERABLE = 2 };

/* The caller's 64 bytes, shared by every process using the mutex. */
typedef struct file_mutex {
    _Atomic uint32_t held;  /* pid of the holder while held, else 0 */
    _Atomic uint32_t state; /* STATE_*: after an owner's death, until repaired */
    uint32_t creator;       /* pid of the process that initialised it (the file name) */
    unsigned char id[12];   /* random part of the file name */
    unsigned char spare[MMK__LOCK_TAG_OFFSET - 24];
    uint64_t tag;
} file_mutex;

_Static_assert(sizeof(file_mutex) == sizeof(mmk_mutex), "file_mutex is mmk_mutex's size");
_Static_assert(offsetof(file_mutex, tag) == MMK__LOCK_TAG_OFFSET, "the tag is last");
_Static_assert(_Alignof(file_mutex) <= _Alignof(mmk_mutex), "mmk_mutex is aligned enough");

static file_mutex *fm_of(mmk_mutex *mu) {
    return (file_mutex *)(void *)mu->opaque.bytes;
}

/* ---- this process's open lock files ------------------------------------ */

/* One per lock file this process has used; freed by destroy only. */
typedef struct lock_entry {
    struct lock_entry *next;
    uint32_t creator;
    unsigned char id[12];
    int fd;
    pthread_mutex_t local;   /* the threads of this process take it first */
    _Atomic uintptr_t owner; /* the holding thread's token, 0 if none here */
} lock_entry;

static pthread_mutex_t g_table_lock = PTHREAD_MUTEX_INITIALIZER;
static lock_entry *g_entries;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

/* A value unique to the calling thread (the address of a thread-local). */
static _Thread_local char t_token;
static uintptr_t thread_token(void) {
    return (uintptr_t)&t_token;
}

static void atfork_prepare(void) {
    pthread_mutex_lock(&g_table_lock);
}

static void atfork_parent(void) {
    pthread_mutex_unlock(&g_table_lock);
}

/*
 * The child has one thread, the forking one, and no record locks (they are
 * not inherited): nobody here holds anything, whatever the parent's threads
 * held. A per-process mutex the forking thread held is unlocked; one that a
 * thread the child does not have held is made anew. Descriptors stay usable.
 */
static void atfork_child(void) {
    uintptr_t me = thread_token();
    for (lock_entry *e = g_entries; e; e = e->next) {
        if (atomic_load(&e->owner) == me)
            pthread_mutex_unlock(&e->local);
        else if (pthread_mutex_trylock(&e->local) == 0)
            pthread_mutex_unlock(&e->local);
        else
            pthread_mutex_init(&e->local, NULL);
        atomic_store(&e->owner, 0);
    }
    pthread_mutex_unlock(&g_table_lock);
}

static void atfork_register(void) {
    (void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void lock_path(char *buf, size_t n, uint32_t creator, const unsigned char id[12]) {
    char hex[25];
    for (int i = 0; i < 12; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    snprintf(buf, n, "%s/mmkit-lock-%lu-%s", MMK_LOCK_DIR, (unsigned long)creator, hex);
}

/* Is the descriptor a lock file this process may use? */
static int check_lock_file(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    if (st.st_uid != geteuid())
        return MMK_EOWNER;
    return 0;
}

static lock_entry *entry_find_locked(uint32_t creator, const unsigned char id[12]) {
    for (lock_entry *e = g_entries; e; e = e->next) {
        if (e->creator == creator && memcmp(e->id, id, sizeof e->id) == 0)
            return e;
    }
    return NULL;
}

/* Add an entry for the open lock file `fd` (taken over, also on failure). */
static int entry_add_locked(uint32_t creator, const unsigned char id[12], int fd,
                            lock_entry **out) {
    lock_entry *e = calloc(1, sizeof *e);
    if (!e) {
        close(fd);
        return -ENOMEM;
    }
    int rc = pthread_mutex_init(&e->local, NULL);
    if (rc != 0) {
        free(e);
        close(fd);
        return -rc;
    }
    e->creator = creator;
    memcpy(e->id, id, sizeof e->id);
    e->fd = fd;
    atomic_init(&e->owner, 0);
    e->next = g_entries;
    g_entries = e;
    *out = e;
    return 0;
}

/*
 * This process's entry for the mutex's lock file, opening the file the first
 * time. With `open_it` 0 only an existing entry is returned (-ENOENT else).
 */
static int entry_get(const file_mutex *fm, int open_it, lock_entry **out) {
    pthread_once(&g_atfork_once, atfork_register);
    pthread_mutex_lock(&g_table_lock);
    lock_entry *e = entry_find_locked(fm->creator, fm->id);
    int rc = 0;
    if (e) {
        *out = e;
    } else if (!open_it) {
        rc = -ENOENT;
    } else {
        char path[sizeof MMK_LOCK_DIR + 64];
        lock_path(path, sizeof path, fm->creator, fm->id);
        int fd;
        do {
            fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0) {
            /* No lock file: the mutex was destroyed (or the bytes are garbage). */
            rc = errno == ENOENT ? -EINVAL : -errno;
        } else if ((rc = check_lock_file(fd)) < 0) {
            close(fd);
        } else {
            rc = entry_add_locked(fm->creator, fm->id, fd, out);
        }
    }
    pthread_mutex_unlock(&g_table_lock);
    return rc;
}

/* A record lock on the lock file's first byte: F_WRLCK or F_UNLCK. */
static int record_lock(int fd, short type, int wait) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    int rc;
    do {
        rc = fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
    } while (rc != 0 && errno == EINTR);
    if (rc == 0)
        return 0;
    if (!wait && (errno == EACCES || errno == EAGAIN))
        return -EBUSY;
    return -errno; /* EDEADLK: the kernel saw a cycle of processes waiting */
}

static uint32_t self_pid(void) {
    return (uint32_t)getpid();
}

/* ---- the flavour ------------------------------------------------------- */

/* Random bytes for a lock file's name; O_EXCL makes a collision harmless. */
static void random_id(unsigned char id[12]) {
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
        while (got < 12) {
            ssize_t r = read(fd, id + got, 12 - got);
            if (r <= 0) {
                if (r < 0 && errno == EINTR)
                    continue;
                break;
            }
            got += (size_t)r;
        }
        close(fd);
    }
    if (got == 12)
        return;
    /* No /dev/urandom (a chroot): the time, an address and a counter. */
    static _Atomic uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)id ^
                 atomic_fetch_add(&counter, 1) * UINT64_C(0x9e3779b97f4a7c15);
    for (int i = 0; i < 12; i++) {
        x += UINT64_C(0x9e3779b97f4a7c15);
        uint64_t z = x;
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        id[i] = (unsigned char)(z ^ (z >> 31));
    }
}

static int file_init(mmk_mutex *mu) {
    file_mutex *fm = fm_of(mu);
    uint32_t creator = self_pid();
    unsigned char id[12];
    char path[sizeof MMK_LOCK_DIR + 64];
    int fd = -EEXIST;
    for (int attempt = 0; attempt < 16 && fd == -EEXIST; attempt++) {
        random_id(id);
        lock_path(path, sizeof path, creator, id);
        do {
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0)
            fd = -errno;
    }
    if (fd < 0)
        return fd;
    /* The umask may have taken the owner's write bit, which a write lock needs. */
    if (fchmod(fd, 0600) != 0) {
        int err = -errno;
        close(fd);
        unlink(path);
        return err;
    }
    pthread_once(&g_atfork_once, atfork_register);
    pthread_mutex_lock(&g_table_lock);
    lock_entry *e;
    int rc = entry_add_locked(creator, id, fd, &e);
    pthread_mutex_unlock(&g_table_lock);
    if (rc < 0) {
        unlink(path);
        return rc;
    }
    memset(mu->opaque.bytes, 0, sizeof mu->opaque.bytes);
    atomic_init(&fm->held, 0);
    atomic_init(&fm->state, STATE_OK);
    fm->creator = creator;
    memcpy(fm->id, id, sizeof fm->id);
    mmk__lock_set_tag(mu, FILE_TAG);
    return 0;
}

static int file_acquire(mmk_mutex *mu, int wait) {
    file_mutex *fm = fm_of(mu);
    lock_entry *e;
    int rc = entry_get(fm, 1, &e);
    if (rc < 0)
        return rc;
    uintptr_t me = thread_token();
    if (atomic_load(&e->owner) == me)
        return -EDEADLK;
    if (atomic_load(&fm->state) == STATE_UNRECOVERABLE)
        return MMK_ENOTRECOVERABLE;
    rc = wait ? pthread_mutex_lock(&e->local) : pthread_mutex_trylock(&e->local);
    if (rc != 0)
        return -rc; /* EBUSY: another thread of this process holds it */
    rc = record_lock(e->fd, F_WRLCK, wait);
    if (rc < 0) {
        pthread_mutex_unlock(&e->local);
        return rc;
    }
    /* The last holder may have unlocked without repairing while we waited. */
    if (atomic_load(&fm->state) == STATE_UNRECOVERABLE) {
        (void)record_lock(e->fd, F_UNLCK, 0);
        pthread_mutex_unlock(&e->local);
        return MMK_ENOTRECOVERABLE;
    }
    /*
     * Set after the kernel gave us the lock: a holder that dies before this
     * store had not returned from its lock yet, so changed nothing.
     */
    uint32_t before = atomic_exchange(&fm->held, self_pid());
    atomic_store(&e->owner, me);
    if (before != 0) {
        atomic_store(&fm->state, STATE_INCONSISTENT);
        return MMK_LOCK_OWNERDEAD;
    }
    return 0;
}

static int file_lock(mmk_mutex *mu) {
    return file_acquire(mu, 1);
}

static int file_trylock(mmk_mutex *mu) {
    return file_acquire(mu, 0);
}

static int file_unlock(mmk_mutex *mu) {
    file_mutex *fm = fm_of(mu);
    lock_entry *e;
    if (entry_get(fm, 0, &e) < 0 || atomic_load(&e->owner) != thread_token())
        return -EPERM;
    /* Unlocked without repair: nobody may trust the state again. */
    if (atomic_load(&fm->state) == STATE_INCONSISTENT)
        atomic_store(&fm->state, STATE_UNRECOVERABLE);
    atomic_store(&e->owner, 0);
    atomic_store(&fm->held, 0); /* cleared before the kernel lets the next one in */
    int rc = record_lock(e->fd, F_UNLCK, 0);
    pthread_mutex_unlock(&e->local);
    return rc;
}

static int file_consistent(mmk_mutex *mu) {
    file_mutex *fm = fm_of(mu);
    if (atomic_load(&fm->state) != STATE_INCONSISTENT)
        return -EINVAL;
    lock_entry *e;
    if (entry_get(fm, 0, &e) < 0 || atomic_load(&e->owner) != thread_token())
        return -EPERM;
    atomic_store(&fm->state, STATE_OK);
    return 0;
}

/*
 * Remove the lock file and forget it here. -EBUSY while a thread or a
 * process holds the lock. Other processes that used the mutex keep their
 * descriptor of the (now nameless) file until they exit.
 */
static int file_destroy(mmk_mutex *mu) {
    file_mutex *fm = fm_of(mu);
    lock_entry *e;
    int rc = entry_get(fm, 1, &e);
    if (rc < 0)
        return rc;
    if (atomic_load(&e->owner) != 0)
        return -EBUSY;
    if (pthread_mutex_trylock(&e->local) != 0)
        return -EBUSY;
    rc = record_lock(e->fd, F_WRLCK, 0);
    if (rc < 0) {
        pthread_mutex_unlock(&e->local);
        return rc;
    }
    char path[sizeof MMK_LOCK_DIR + 64];
    lock_path(path, sizeof path, fm->creator, fm->id);
    (void)unlink(path);
    pthread_mutex_lock(&g_table_lock);
    for (lock_entry **p = &g_entries; *p; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            break;
        }
    }
    pthread_mutex_unlock(&g_table_lock);
    close(e->fd); /* drops our record lock */
    pthread_mutex_unlock(&e->local);
    pthread_mutex_destroy(&e->local);
    free(e);
    memset(mu->opaque.bytes, 0, sizeof mu->opaque.bytes); /* a later lock says -EINVAL */
    return 0;
}

const mmk__lock_flavour mmk__lock_file = {
    .name = "file",
    .tag = FILE_TAG,
    .init = file_init,
    .lock = file_lock,
    .trylock = file_trylock,
    .unlock = file_unlock,
    .consistent = file_consistent,
    .destroy = file_destroy,
};
