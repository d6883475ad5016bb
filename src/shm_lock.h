/*
 * shm_lock.h — the flavours of mmk_mutex (internal).
 *
 * mmk_mutex is 64 opaque bytes in the caller's (usually shared) memory; the
 * public functions in shm.c hand each call to the flavour that initialised
 * those bytes. A flavour marks its mutexes with its tag in the last 8 bytes,
 * so several flavours can live in one build (Linux tests both) and memory
 * that no flavour initialised is refused with -EINVAL.
 *
 *   robust  pthread robust, process-shared mutex (shm_lock_robust.c): Linux.
 *   file    a lock on a companion file, which the kernel releases when its
 *           holder dies, plus a "held" word in the mutex (shm_lock_file.c):
 *           every POSIX system; the only one of the POSIX-only build.
 *   win     a named Windows mutex, whose WAIT_ABANDONED says the holder
 *           died (shm_lock_win.c).
 *
 * Every flavour gives the same results: 0 or MMK_LOCK_OWNERDEAD when locked,
 * -EBUSY from trylock, -EDEADLK when the calling thread holds it already,
 * -EPERM when unlocking or repairing a lock the thread does not hold,
 * MMK_ENOTRECOVERABLE after an unlock without mmk_mutex_consistent.
 */
#ifndef MMK_SHM_LOCK_H
#define MMK_SHM_LOCK_H

#include <stdint.h>
#include <string.h>

#include "mmkit.h"

/* Where a flavour's tag sits in mmk_mutex's bytes (the last 8). */
#define MMK__LOCK_TAG_OFFSET 56

typedef struct mmk__lock_flavour {
    const char *name; /* "robust", "file", "win" */
    uint64_t tag;     /* marks the mutexes this flavour initialised */
    int (*init)(mmk_mutex *mu);
    int (*lock)(mmk_mutex *mu);
    int (*trylock)(mmk_mutex *mu);
    int (*unlock)(mmk_mutex *mu);
    int (*consistent)(mmk_mutex *mu);
    int (*destroy)(mmk_mutex *mu);
} mmk__lock_flavour;

extern const mmk__lock_flavour mmk__lock_robust;
extern const mmk__lock_flavour mmk__lock_file;
extern const mmk__lock_flavour mmk__lock_win;

/* The flavours this build has, the default (what mmk_mutex_init uses) first. */
#if defined(_WIN32)
#define MMK__LOCK_FLAVOURS &mmk__lock_win
#elif defined(__linux__) && !(defined(MMK_POSIX_ONLY) && MMK_POSIX_ONLY)
#define MMK__LOCK_FLAVOURS &mmk__lock_robust, &mmk__lock_file
#else
#define MMK__LOCK_FLAVOURS &mmk__lock_file
#endif

static inline uint64_t mmk__lock_tag(const mmk_mutex *mu) {
    uint64_t t;
    memcpy(&t, mu->opaque.bytes + MMK__LOCK_TAG_OFFSET, sizeof t);
    return t;
}

static inline void mmk__lock_set_tag(mmk_mutex *mu, uint64_t tag) {
    memcpy(mu->opaque.bytes + MMK__LOCK_TAG_OFFSET, &tag, sizeof tag);
}

/*
 * For tests: make mmk_mutex_init use the flavour `name` from now on in this
 * process (NULL: the default again). Mutexes already initialised keep
 * theirs. 0, or MMK_ENOTSUP if this build has no such flavour.
 */
int mmk__lock_select(const char *name);

#endif
