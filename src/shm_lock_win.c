/*
 * shm_lock_win.c — mmk_mutex as a Windows named mutex (the Windows flavour).
 *
 * mmk_mutex_init picks a random name, Local\mmkit-lock-<pid>-<random>, and
 * keeps it in the mutex's 64 bytes; every process opens (or, if every handle
 * was closed meanwhile, re-creates) the kernel mutex of that name and keeps
 * one handle in a per-process table. A Windows mutex belongs to a thread, so
 * the threads of one process exclude each other in the kernel, and when the
 * holding thread or its process ends, the next wait returns WAIT_ABANDONED:
 * the holder died. A "held" word in the shared bytes (set after acquiring,
 * cleared before releasing) covers the case where the kernel object itself
 * went away with its last handle: a locker that finds it set knows as well.
 * Either way the result is MMK_LOCK_OWNERDEAD and the consistent /
 * not-recoverable protocol of the other flavours (src/shm_lock.h).
 *
 * Windows mutexes are recursive; the table remembers the holding thread so
 * that relocking gives -EDEADLK, as everywhere else.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm_lock.h"

#define WIN_TAG UINT64_C(0x6b636f6c6e69776d) /* "mwinlock" */

enum { STATE_OK = 0, STATE_INCONSISTENT = 1, STATE_UNRECOVERABLE = 2 };

typedef struct win_mutex {
    volatile LONG held;  /* 1 while held, else 0 */
    volatile LONG state; /* STATE_* */
    uint32_t creator;    /* pid of the process that initialised it */
    unsigned char id[12];
    unsigned char spare[MMK__LOCK_TAG_OFFSET - 24];
    uint64_t tag;
} win_mutex;

_Static_assert(sizeof(win_mutex) == sizeof(mmk_mutex), "win_mutex is mmk_mutex's size");
_Static_assert(offsetof(win_mutex, tag) == MMK__LOCK_TAG_OFFSET, "the tag is last");

static win_mutex *wm_of(mmk_mutex *mu) {
    return (win_mutex *)(void *)mu->opaque.bytes;
}

typedef struct win_entry {
    struct win_entry *next;
    uint32_t creator;
    unsigned char id[12];
    HANDLE handle;
    volatile LONG owner; /* id of the holding thread of this process, 0 if none */
} win_entry;

static SRWLOCK g_table_lock = SRWLOCK_INIT;
static win_entry *g_entries;

static void win_name(wchar_t *buf, size_t n, uint32_t creator, const unsigned char id[12]) {
    static const wchar_t hexd[] = L"0123456789abcdef";
    static const wchar_t prefix[] = L"Local\\mmkit-lock-";
    size_t k = 0;
    for (const wchar_t *p = prefix; *p && k + 1 < n; p++)
        buf[k++] = *p;
    wchar_t digits[12];
    int nd = 0;
    do {
        digits[nd++] = hexd[creator % 10];
        creator /= 10;
    } while (creator && nd < 12);
    while (nd > 0 && k + 1 < n)
        buf[k++] = digits[--nd];
    if (k + 1 < n)
        buf[k++] = L'-';
    for (int i = 0; i < 12 && k + 2 < n; i++) {
        buf[k++] = hexd[id[i] >> 4];
        buf[k++] = hexd[id[i] & 15];
    }
    buf[k] = 0;
}

static int win_error(DWORD e) {
    switch (e) {
    case ERROR_ACCESS_DENIED:
        return -EACCES;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return -ENOMEM;
    case ERROR_INVALID_HANDLE:
        return -EINVAL;
    default:
        return -EIO;
    }
}

/* Open or create the kernel mutex named by the bytes; a new handle or an error. */
static int win_open(uint32_t creator, const unsigned char id[12], HANDLE *out) {
    wchar_t name[96];
    win_name(name, sizeof name / sizeof name[0], creator, id);
    HANDLE h = CreateMutexW(NULL, FALSE, name);
    if (!h)
        return win_error(GetLastError());
    *out = h;
    return 0;
}

static int entry_get(const win_mutex *wm, int open_it, win_entry **out) {
    AcquireSRWLockExclusive(&g_table_lock);
    win_entry *e = g_entries;
    while (e && !(e->creator == wm->creator && memcmp(e->id, wm->id, sizeof e->id) == 0))
        e = e->next;
    int rc = 0;
    if (!e && !open_it) {
        rc = -ENOENT;
    } else if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) {
            rc = -ENOMEM;
        } else if ((rc = win_open(wm->creator, wm->id, &e->handle)) < 0) {
            free(e);
            e = NULL;
        } else {
            e->creator = wm->creator;
            memcpy(e->id, wm->id, sizeof e->id);
            e->next = g_entries;
            g_entries = e;
        }
    }
    ReleaseSRWLockExclusive(&g_table_lock);
    if (rc == 0)
        *out = e;
    return rc;
}

static void random_id(unsigned char id[12]) {
    static volatile LONG counter;
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    uint64_t x = (uint64_t)t.QuadPart ^ ((uint64_t)GetCurrentThreadId() << 32) ^
                 (uint64_t)(uintptr_t)id ^
                 (uint64_t)InterlockedIncrement(&counter) * UINT64_C(0x9e3779b97f4a7c15);
    for (int i = 0; i < 12; i++) {
        x += UINT64_C(0x9e3779b97f4a7c15);
        uint64_t z = x;
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        id[i] = (unsigned char)(z ^ (z >> 31));
    }
}

static int win_init(mmk_mutex *mu) {
    uint32_t creator = (uint32_t)GetCurrentProcessId();
    unsigned char id[12];
    HANDLE h = NULL;
    for (int attempt = 0; attempt < 16 && !h; attempt++) {
        random_id(id);
        wchar_t name[96];
        win_name(name, sizeof name / sizeof name[0], creator, id);
        h = CreateMutexW(NULL, FALSE, name);
        if (!h)
            return win_error(GetLastError());
        if (GetLastError() == ERROR_ALREADY_EXISTS) { /* taken: another name */
            CloseHandle(h);
            h = NULL;
        }
    }
    if (!h)
        return -EEXIST;
    win_entry *e = calloc(1, sizeof *e);
    if (!e) {
        CloseHandle(h);
        return -ENOMEM;
    }
    e->creator = creator;
    memcpy(e->id, id, sizeof e->id);
    e->handle = h;
    AcquireSRWLockExclusive(&g_table_lock);
    e->next = g_entries;
    g_entries = e;
    ReleaseSRWLockExclusive(&g_table_lock);
    memset(mu->opaque.bytes, 0, sizeof mu->opaque.bytes);
    win_mutex *wm = wm_of(mu);
    wm->creator = creator;
    memcpy(wm->id, id, sizeof wm->id);
    mmk__lock_set_tag(mu, WIN_TAG);
    return 0;
}

static int win_acquire(mmk_mutex *mu, DWORD timeout) {
    win_mutex *wm = wm_of(mu);
    win_entry *e;
    int rc = entry_get(wm, 1, &e);
    if (rc < 0)
        return rc;
    LONG me = (LONG)GetCurrentThreadId();
    if (e->owner == me)
        return -EDEADLK;
    if (InterlockedCompareExchange(&wm->state, 0, 0) == STATE_UNRECOVERABLE)
        return MMK_ENOTRECOVERABLE;
    DWORD w = WaitForSingleObject(e->handle, timeout);
    if (w == WAIT_TIMEOUT)
        return -EBUSY;
    if (w != WAIT_OBJECT_0 && w != WAIT_ABANDONED)
        return win_error(GetLastError());
    if (InterlockedCompareExchange(&wm->state, 0, 0) == STATE_UNRECOVERABLE) {
        ReleaseMutex(e->handle);
        return MMK_ENOTRECOVERABLE;
    }
    LONG before = InterlockedExchange(&wm->held, 1);
    e->owner = me;
    if (w == WAIT_ABANDONED || before != 0) {
        InterlockedExchange(&wm->state, STATE_INCONSISTENT);
        return MMK_LOCK_OWNERDEAD;
    }
    return 0;
}

static int win_lock(mmk_mutex *mu) {
    return win_acquire(mu, INFINITE);
}

static int win_trylock(mmk_mutex *mu) {
    return win_acquire(mu, 0);
}

static int win_unlock(mmk_mutex *mu) {
    win_mutex *wm = wm_of(mu);
    win_entry *e;
    if (entry_get(wm, 0, &e) < 0 || e->owner != (LONG)GetCurrentThreadId())
        return -EPERM;
    InterlockedCompareExchange(&wm->state, STATE_UNRECOVERABLE, STATE_INCONSISTENT);
    e->owner = 0;
    InterlockedExchange(&wm->held, 0);
    return ReleaseMutex(e->handle) ? 0 : win_error(GetLastError());
}

static int win_consistent(mmk_mutex *mu) {
    win_mutex *wm = wm_of(mu);
    if (InterlockedCompareExchange(&wm->state, 0, 0) != STATE_INCONSISTENT)
        return -EINVAL;
    win_entry *e;
    if (entry_get(wm, 0, &e) < 0 || e->owner != (LONG)GetCurrentThreadId())
        return -EPERM;
    InterlockedExchange(&wm->state, STATE_OK);
    return 0;
}

/* Forget the mutex here; -EBUSY while some thread or process holds it. */
static int win_destroy(mmk_mutex *mu) {
    win_mutex *wm = wm_of(mu);
    win_entry *e;
    int rc = entry_get(wm, 1, &e);
    if (rc < 0)
        return rc;
    if (e->owner != 0 || InterlockedCompareExchange(&wm->held, 0, 0) != 0)
        return -EBUSY;
    DWORD w = WaitForSingleObject(e->handle, 0);
    if (w == WAIT_TIMEOUT)
        return -EBUSY;
    if (w == WAIT_OBJECT_0 || w == WAIT_ABANDONED)
        ReleaseMutex(e->handle);
    AcquireSRWLockExclusive(&g_table_lock);
    for (win_entry **p = &g_entries; *p; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            break;
        }
    }
    ReleaseSRWLockExclusive(&g_table_lock);
    CloseHandle(e->handle);
    free(e);
    memset(mu->opaque.bytes, 0, sizeof mu->opaque.bytes);
    return 0;
}

const mmk__lock_flavour mmk__lock_win = {
    .name = "win",
    .tag = WIN_TAG,
    .init = win_init,
    .lock = win_lock,
    .trylock = win_trylock,
    .unlock = win_unlock,
    .consistent = win_consistent,
    .destroy = win_destroy,
};
