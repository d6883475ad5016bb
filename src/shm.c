/*
 * shm.c — named shared memory and the process-shared robust mutex.
 *
 * Every system call sits in the platform layer (mmk__os_shm_* in src/os.h:
 * shm_open on POSIX, sections of the paging file on Windows); the mutex's
 * flavours, one file each (shm_lock_robust.c, shm_lock_file.c,
 * shm_lock_win.c), sit behind src/shm_lock.h and the public mmk_mutex_*
 * below. The name rules, argument checks and the create/open protocol
 * around them are the same on every platform.
 * Mapping itself goes through the public mmk_open_fd, exactly as an outside
 * user would do it.
 */
#include "mmkit.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "os.h"
#include "shm_lock.h"

/* The longest name component the platform accepts for a shared memory object. */
#if defined(NAME_MAX)
#define SHM_NAME_MAX NAME_MAX
#else
#define SHM_NAME_MAX 255
#endif

/* A validated shared memory name: always "/" + 1..SHM_NAME_MAX bytes. */
typedef struct shm_name {
    char path[SHM_NAME_MAX + 2];
} shm_name;

/*
 * Turn the caller's `name` into the platform form in `out`: one leading '/',
 * then a non-empty component without further '/'. "." and ".." are refused
 * because they would name a directory, not an object. Returns 0 or -EINVAL.
 */
static int shm_name_make(shm_name *out, const char *name) {
    if (!name)
        return -EINVAL;
    if (name[0] == '/')
        name++;
    size_t len = strlen(name);
    if (len == 0 || len > SHM_NAME_MAX)
        return -EINVAL;
    if (memchr(name, '/', len))
        return -EINVAL;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -EINVAL;
    out->path[0] = '/';
    memcpy(out->path + 1, name, len + 1);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Named shared memory                                                       */
/* ------------------------------------------------------------------------ */

#define SHM_KNOWN_FLAGS (MMK_SHM_CREATE | MMK_SHM_EXCL | MMK_SHM_READONLY | MMK_SHM_ANY_OWNER)

/* The end of the fields every caller's mmk_shm_options has (the first version). */
#define SHM_OPTIONS_V1_END (offsetof(mmk_shm_options, mode) + sizeof(unsigned))

/* A size beyond any plausible future struct: a garbage `size` is refused, not read from. */
#define SHM_OPTIONS_MAX 4096

/*
 * Copy the caller's options into `o` (this library's layout, defaults in the
 * fields the caller's struct does not have). A caller built against a newer
 * header may pass a larger struct, accepted only if every field this library
 * does not know is zero, since a set one would ask for something that would
 * silently not happen. (So fields appended later must leave no padding
 * between them: padding bytes of an automatic struct need not be zero.)
 */
static int shm_options_read(mmk_shm_options *o, const mmk_shm_options *opt) {
    memset(o, 0, sizeof *o);
    if (!opt)
        return 0;
    if (opt->size < SHM_OPTIONS_V1_END || opt->size > SHM_OPTIONS_MAX)
        return -EINVAL;
    size_t known = opt->size < sizeof *o ? opt->size : sizeof *o;
    memcpy(o, opt, known);
    const unsigned char *extra = (const unsigned char *)opt;
    for (size_t i = sizeof *o; i < opt->size; i++) {
        if (extra[i] != 0)
            return -EINVAL;
    }
    o->size = sizeof *o;
    return 0;
}

/*
 * Get a descriptor for `path`, creating the object when asked. *created says
 * whether this call created it (only then is it sized here and unlinked again
 * if a later step fails). Open-or-create tries an exclusive create first, so
 * the caller always knows who created the object; if another process removes
 * the name between the two attempts, the loop simply tries again.
 */
static int shm_acquire(const char *path, unsigned flags, unsigned mode, uint64_t length,
                       int *created) {
    int writable = !(flags & MMK_SHM_READONLY);
    *created = 0;
    if (!(flags & MMK_SHM_CREATE))
        return mmk__os_shm_open(path, MMK__OS_SHM_OPEN, writable, mode, 0);
    for (int attempt = 0; attempt < 100; attempt++) {
        /* A new object must be sized, which needs a writable descriptor. */
        int fd = mmk__os_shm_open(path, MMK__OS_SHM_CREATE_EXCL, 1, mode, length);
        if (fd >= 0) {
            *created = 1;
            return fd;
        }
        if (fd != -EEXIST || (flags & MMK_SHM_EXCL))
            return fd;
        fd = mmk__os_shm_open(path, MMK__OS_SHM_OPEN, writable, mode, 0);
        if (fd != -ENOENT)
            return fd;
    }
    return -EAGAIN;
}

/*
 * Open or create the shared memory object `name` and map it through
 * mmk_open_fd. The map holds its own duplicate of the descriptor; ours is
 * closed before returning. The caller owns *out and releases it with
 * mmk_free; the name itself lives on until mmk_shm_unlink.
 */
int mmk_shm_open_ex(mmk_map **out, const char *name, const mmk_shm_options *opt, int *created) {
    if (!out)
        return -EINVAL;
    *out = NULL;
    mmk_shm_options o;
    int rc = shm_options_read(&o, opt);
    if (rc < 0)
        return rc;
    unsigned flags = o.flags, mode = o.mode;
    uint64_t length = o.length;
    if (flags & ~(unsigned)SHM_KNOWN_FLAGS)
        return -EINVAL;
    if ((flags & MMK_SHM_EXCL) && !(flags & MMK_SHM_CREATE))
        return -EINVAL;
    if (mode & ~0777u)
        return -EINVAL;
    if (mode == 0)
        mode = 0600;
    shm_name nm;
    rc = shm_name_make(&nm, name);
    if (rc < 0)
        return rc;

    int is_new;
    int fd = shm_acquire(nm.path, flags, mode, length, &is_new);
    if (fd < 0)
        return fd;

    /*
     * Someone else's object, or one readable or writable by more people than
     * the caller asked for, is refused before anything about it changes.
     */
    if (!is_new && !(flags & MMK_SHM_ANY_OWNER)) {
        rc = mmk__os_shm_check_owner(fd, mode);
        if (rc < 0) {
            mmk__os_shm_close(fd);
            return rc;
        }
    }

    uint64_t size = 0;
    rc = mmk__os_shm_size(fd, &size);
    /*
     * A new object is sized here. With plain CREATE an existing object that
     * is still shorter than `length` is grown too: its creator may simply not
     * have reached its own ftruncate yet, and the object is never shrunk.
     * A read-only open of an existing object cannot grow it: MMK_ELENGTH.
     */
    int may_grow = is_new || ((flags & MMK_SHM_CREATE) && !(flags & MMK_SHM_READONLY));
    uint64_t old_size = size;
    int grew = 0;
    if (rc == 0 && may_grow && size < length) {
        rc = mmk__os_shm_set_size(fd, length);
        grew = rc == 0;
        size = length;
    }
    if (rc == 0 && length > size)
        rc = MMK_ELENGTH;
    if (rc == 0) {
        mmk_options mo = {0};
        mo.access = (flags & MMK_SHM_READONLY) ? MMK_ACCESS_READ : MMK_ACCESS_WRITE;
        mo.length = length;
        rc = mmk_open_fd(out, fd, &mo);
    }
    if (rc < 0) {
        *out = NULL;
        /*
         * A failed open changes nothing: a new object goes away again, an
         * existing one gets its old size back unless someone has resized it
         * meanwhile.
         */
        uint64_t now = 0;
        if (is_new)
            mmk__os_shm_unlink(nm.path);
        else if (grew && mmk__os_shm_size(fd, &now) == 0 && now == length)
            mmk__os_shm_set_size(fd, old_size);
    }
    mmk__os_shm_close(fd);
    if (rc < 0)
        return rc;
    if (created)
        *created = is_new;
    return 0;
}

int mmk_shm_open(mmk_map **out, const char *name, uint64_t length, unsigned flags, unsigned mode) {
    mmk_shm_options o = MMK_SHM_OPTIONS_INIT;
    o.length = length;
    o.flags = flags;
    o.mode = mode;
    return mmk_shm_open_ex(out, name, &o, NULL);
}

/* Remove the name; existing maps of the object stay valid until freed. */
int mmk_shm_unlink(const char *name) {
    shm_name nm;
    int rc = shm_name_make(&nm, name);
    if (rc < 0)
        return rc;
    return mmk__os_shm_unlink(nm.path);
}

/* ------------------------------------------------------------------------ */
/* Process-shared robust mutex: handed to the flavour that made it            */
/* ------------------------------------------------------------------------ */

static const mmk__lock_flavour *const lock_flavours[] = {MMK__LOCK_FLAVOURS};
#define LOCK_FLAVOURS (sizeof lock_flavours / sizeof lock_flavours[0])

/* Index into lock_flavours of what mmk_mutex_init uses (tests change it). */
static _Atomic unsigned lock_init_flavour;

int mmk__lock_select(const char *name) {
    for (unsigned i = 0; i < LOCK_FLAVOURS; i++) {
        if (!name || strcmp(name, lock_flavours[i]->name) == 0) {
            atomic_store(&lock_init_flavour, i);
            return 0;
        }
    }
    return MMK_ENOTSUP;
}

/* The flavour whose tag the mutex carries; NULL for memory none initialised. */
static const mmk__lock_flavour *lock_flavour(const mmk_mutex *mu) {
    uint64_t tag = mmk__lock_tag(mu);
    for (unsigned i = 0; i < LOCK_FLAVOURS; i++) {
        if (lock_flavours[i]->tag == tag)
            return lock_flavours[i];
    }
    return NULL;
}

/* Initialise in place; the caller owns the memory (usually inside a shared map). */
int mmk_mutex_init(mmk_mutex *mu) {
    return mu ? lock_flavours[atomic_load(&lock_init_flavour)]->init(mu) : -EINVAL;
}

/* Wait for the lock; MMK_LOCK_OWNERDEAD (> 0) means held by the caller, state to be repaired. */
int mmk_mutex_lock(mmk_mutex *mu) {
    const mmk__lock_flavour *f = mu ? lock_flavour(mu) : NULL;
    return f ? f->lock(mu) : -EINVAL;
}

int mmk_mutex_trylock(mmk_mutex *mu) {
    const mmk__lock_flavour *f = mu ? lock_flavour(mu) : NULL;
    return f ? f->trylock(mu) : -EINVAL;
}

int mmk_mutex_unlock(mmk_mutex *mu) {
    const mmk__lock_flavour *f = mu ? lock_flavour(mu) : NULL;
    return f ? f->unlock(mu) : -EINVAL;
}

/* Only meaningful while holding a lock obtained with MMK_LOCK_OWNERDEAD. */
int mmk_mutex_consistent(mmk_mutex *mu) {
    const mmk__lock_flavour *f = mu ? lock_flavour(mu) : NULL;
    return f ? f->consistent(mu) : -EINVAL;
}

int mmk_mutex_destroy(mmk_mutex *mu) {
    const mmk__lock_flavour *f = mu ? lock_flavour(mu) : NULL;
    return f ? f->destroy(mu) : -EINVAL;
}
