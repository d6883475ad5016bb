/*
 * shm_lock_robust.c — mmk_mutex as a pthread robust, process-shared,
 * error-checking mutex (Linux; the default there).
 *
 * The kernel's robust-futex list tells the next locker that the holder died
 * (EOWNERDEAD), be it a process or a single thread. The pthread_mutex_t
 * lives in the caller's 64 opaque bytes, which are shared between processes,
 * so nothing but the pthread functions ever touches them (the flavour's tag
 * sits after it, in the last 8 bytes).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "shm_lock.h"

#if defined(__SANITIZE_THREAD__)
#define MMK__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MMK__TSAN 1
#endif
#endif
#ifndef MMK__TSAN
#define MMK__TSAN 0
#endif
#if MMK__TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define ROBUST_TAG UINT64_C(0x7473756272786d6d) /* "mmxrobst" */

_Static_assert(sizeof(pthread_mutex_t) <= MMK__LOCK_TAG_OFFSET,
               "pthread_mutex_t must fit inside mmk_mutex before the tag");
_Static_assert(_Alignof(pthread_mutex_t) <= _Alignof(mmk_mutex),
               "mmk_mutex must be aligned for pthread_mutex_t");

static pthread_mutex_t *mutex_os(mmk_mutex *mu) {
    return (pthread_mutex_t *)(void *)mu->opaque.bytes;
}

/* pthread functions return an error number; give it the library's meaning. */
static int robust_result(int rc) {
    switch (rc) {
    case 0:
        return 0;
    case EOWNERDEAD:
        return MMK_LOCK_OWNERDEAD; /* locked: a success, so positive */
    case ENOTRECOVERABLE:
        return MMK_ENOTRECOVERABLE;
    case ENOTSUP:
        return MMK_ENOTSUP;
    default:
        return -rc;
    }
}

/*
 * Error-checking, so that relocking by the owner reports -EDEADLK and an
 * unlock by a non-owner -EPERM, rather than hanging or corrupting the lock.
 */
static int robust_init(mmk_mutex *mu) {
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc != 0)
        return robust_result(rc);
    rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    if (rc == 0) {
        memset(mu->opaque.bytes, 0, sizeof mu->opaque.bytes);
        rc = pthread_mutex_init(mutex_os(mu), &attr);
        if (rc == 0)
            mmk__lock_set_tag(mu, ROBUST_TAG);
    }
    pthread_mutexattr_destroy(&attr);
    return robust_result(rc);
}

static int robust_lock(mmk_mutex *mu) {
    return robust_result(pthread_mutex_lock(mutex_os(mu)));
}

/*
 * A timed lock whose deadline has already passed, rather than
 * pthread_mutex_trylock: glibc's trylock (2.36 and others) returns
 * ENOTRECOVERABLE for an unrecoverable robust mutex but leaves the lock word
 * taken, so every later locker in every process then blocks forever instead
 * of getting ENOTRECOVERABLE. The timed lock shares the correct path of
 * pthread_mutex_lock and gives ETIMEDOUT where trylock gives EBUSY.
 */
static int robust_trylock(mmk_mutex *mu) {
    static const struct timespec already_past = {0, 0};
    int rc = pthread_mutex_timedlock(mutex_os(mu), &already_past);
#if MMK__TSAN
    /*
     * ThreadSanitizer's timedlock wrapper records the lock only for 0; tell
     * it that EOWNERDEAD leaves the caller holding the lock too.
     */
    if (rc == EOWNERDEAD) {
        __tsan_mutex_pre_lock(mutex_os(mu), __tsan_mutex_try_lock);
        __tsan_mutex_post_lock(mutex_os(mu), __tsan_mutex_try_lock, 0);
    }
#endif
    return rc == ETIMEDOUT ? -EBUSY : robust_result(rc);
}

static int robust_unlock(mmk_mutex *mu) {
    return robust_result(pthread_mutex_unlock(mutex_os(mu)));
}

static int robust_consistent(mmk_mutex *mu) {
    return robust_result(pthread_mutex_consistent(mutex_os(mu)));
}

static int robust_destroy(mmk_mutex *mu) {
    int rc = robust_result(pthread_mutex_destroy(mutex_os(mu)));
    if (rc == 0)
        mmk__lock_set_tag(mu, 0); /* a later lock says -EINVAL */
    return rc;
}

const mmk__lock_flavour mmk__lock_robust = {
    .name = "robust",
    .tag = ROBUST_TAG,
    .init = robust_init,
    .lock = robust_lock,
    .trylock = robust_trylock,
    .unlock = robust_unlock,
    .consistent = robust_consistent,
    .destroy = robust_destroy,
};
