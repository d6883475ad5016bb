/*
 * map.c — the mapped-file object: open/close, Python-style cursor I/O, find,
 * resize, flush, advice, views.
 *
 * Shape of a map: the caller asks for [offset, offset + length) of a file at
 * any byte offset. The system maps from `offset` rounded down to the
 * allocation granularity, so the mapping starts `delta` bytes before what the
 * caller sees; `base` is the system mapping and `base + delta` is what
 * mmk_data() returns. A map of length 0 has no system mapping at all.
 *
 * Every system call goes through the mmk__os table (os.h); every touch of
 * mapped bytes on the caller's behalf runs under the fault guard
 * (internal.h, guard.c) and reports MMK_EFAULT when the file shrank.
 *
 * Concurrency: one atomic state word holds the view count plus CLOSED and
 * BUSY bits. Views are taken by a compare-and-swap that requires "open and
 * not busy"; close and resize take the map exclusively by a compare-and-swap
 * from "open, no views" to BUSY. So a view can never see memory that close
 * or resize is unmapping, with no lock on the per-view path.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "os.h"

#define ST_CLOSED 0x80000000u
#define ST_BUSY 0x40000000u
#define ST_VIEWS 0x3fffffffu

enum map_kind {
    KIND_FILE = 1,        /* a file; fd is the map's own descriptor, or -1 (NO_DUP) */
    KIND_ANON = 2,        /* private anonymous memory */
    KIND_ANON_SHARED = 3  /* shared anonymous; fd is a memfd when the platform has one */
};

#define KNOWN_OPEN_FLAGS                                                                   \
    (MMK_OPEN_CREATE | MMK_OPEN_EXCL | MMK_OPEN_TRUNCATE | MMK_OPEN_GROW | MMK_OPEN_POPULATE | \
     MMK_OPEN_NO_DUP)

struct mmk_map {
    atomic_uint state;  /* view count | ST_CLOSED | ST_BUSY */
    int kind;           /* enum map_kind */
    int access;         /* enum mmk_access */
    int fd;             /* descriptor the map owns, or -1 */
    unsigned how;       /* MMK__OS_MAP_* used for (re)mapping */
    int native_flags;   /* caller's extra mmap flags, reused on remap */
    uint64_t offset;    /* the caller's offset */
    uint64_t delta;     /* offset minus the aligned mapping offset */
    unsigned char *base; /* the system mapping (aligned), NULL when length is 0 */
    uint64_t length;    /* bytes visible to the caller */
    uint64_t pos;       /* cursor, 0 .. length */
};

/* ---- small helpers ------------------------------------------------------ */

static unsigned map_state(const mmk_map *m) {
    return atomic_load_explicit(&((mmk_map *)m)->state, memory_order_acquire);
}

static int map_closed(const mmk_map *m) {
    return (map_state(m) & ST_CLOSED) != 0;
}

static unsigned char *map_bytes(const mmk_map *m) {
    return m->base ? m->base + m->delta : NULL;
}

/* Address of byte `off` of the map; NULL for an empty map (no arithmetic on
   a null pointer: callers pass lengths of 0 then). */
static unsigned char *map_at(const mmk_map *m, uint64_t off) {
    return m->base ? m->base + m->delta + off : NULL;
}

/* Size of the system mapping for a visible length (0: nothing mapped). */
static int map_span(uint64_t delta, uint64_t length, size_t *span) {
    if (length == 0) {
        *span = 0;
        return 0;
    }
    if (length > (uint64_t)PTRDIFF_MAX - delta)
        return -EOVERFLOW;
    *span = (size_t)(delta + length);
    return 0;
}

/* Resolve [offset, offset+length) against the map (length 0: to the end). */
static int map_range(const mmk_map *m, uint64_t offset, uint64_t length, uint64_t *len_out) {
    if (offset > m->length)
        return MMK_ERANGE;
    if (length == 0)
        length = m->length - offset;
    else if (length > m->length - offset)
        return MMK_ERANGE;
    *len_out = length;
    return 0;
}

/* The page-aligned system range covering [offset, offset+len) of the map. */
static void map_page_range(const mmk_map *m, uint64_t offset, uint64_t len, void **addr,
                           size_t *plen) {
    uintptr_t start = (uintptr_t)map_at(m, offset);
    uintptr_t ps = (uintptr_t)mmk__os_page_size();
    uintptr_t aligned = start & ~(ps - 1);
    *addr = (void *)aligned;
    *plen = (size_t)(len + (start - aligned));
}

/* Take the map exclusively (close, resize): from open with no views to BUSY.
   Waits while another exclusive operation runs. */
static int map_begin_exclusive(mmk_map *m) {
    for (;;) {
        unsigned s = atomic_load_explicit(&m->state, memory_order_acquire);
        if (s & ST_CLOSED)
            return MMK_ECLOSED;
        if (s & ST_VIEWS)
            return MMK_EVIEWS;
        if (s & ST_BUSY) {
            sched_yield();
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&m->state, &s, ST_BUSY, memory_order_acq_rel,
                                                  memory_order_acquire))
            return 0;
    }
}

static void map_end_exclusive(mmk_map *m, unsigned final_state) {
    atomic_store_explicit(&m->state, final_state, memory_order_release);
}

/* A new, zeroed handle; NULL when out of memory. */
static mmk_map *map_new(void) {
    mmk_map *m = calloc(1, sizeof *m);
    if (m) {
        atomic_init(&m->state, 0u);
        m->fd = -1;
    }
    return m;
}

/* ---- opening ------------------------------------------------------------ */

/* Check and fill in defaults; `for_fd` selects the flags mmk_open_fd takes. */
static int options_normalize(const mmk_options *opt, mmk_options *o, int for_fd) {
    static const mmk_options defaults = {0, 0, 0, 0, 0, 0};
    *o = opt ? *opt : defaults;
    if (o->access == 0)
        o->access = MMK_ACCESS_READ;
    if (o->access != MMK_ACCESS_READ && o->access != MMK_ACCESS_WRITE &&
        o->access != MMK_ACCESS_COPY)
        return -EINVAL;
    if (o->flags & ~(unsigned)KNOWN_OPEN_FLAGS)
        return -EINVAL;
    if (for_fd && (o->flags & (MMK_OPEN_CREATE | MMK_OPEN_EXCL)))
        return -EINVAL;
    if (!for_fd && (o->flags & MMK_OPEN_NO_DUP))
        return -EINVAL;
    if ((o->flags & MMK_OPEN_EXCL) && !(o->flags & MMK_OPEN_CREATE))
        return -EINVAL;
    /* Growing or truncating the file only makes sense for a map whose writes
       reach the file. */
    if ((o->flags & (MMK_OPEN_GROW | MMK_OPEN_TRUNCATE)) && o->access != MMK_ACCESS_WRITE)
        return -EINVAL;
    if (o->mode == 0)
        o->mode = 0600;
    return 0;
}

/*
 * Map [o->offset, +o->length) of the regular file open on `fd` into `m`.
 * Does not close fd on failure (the caller does). May change the file's size
 * (TRUNCATE, GROW); a GROW is undone when mapping fails afterwards.
 */
static int map_file(mmk_map *m, int fd, const mmk_options *o) {
    mmk__os_stat st;
    int rc = mmk__os.fstat(fd, &st);
    if (rc < 0)
        return rc;
    if (st.type == MMK__OS_DIRECTORY)
        return -EISDIR;
    if (st.type != MMK__OS_REGULAR)
        return MMK_ENOTREG;

    /* Everything is checked before the file is touched: a bad offset or
       length must change nothing on disk. */
    int grow = (o->flags & (MMK_OPEN_GROW | MMK_OPEN_TRUNCATE)) != 0;
    uint64_t size = (o->flags & MMK_OPEN_TRUNCATE) ? 0 : st.size;
    uint64_t offset = o->offset, length = o->length;
    if (length == 0) {
        if (offset > size)
            return MMK_EOFFSET;
        length = size - offset;
    } else if (!grow) {
        if (offset > size)
            return MMK_EOFFSET;
        if (length > size - offset)
            return MMK_ELENGTH;
    } else if (offset > (uint64_t)INT64_MAX || length > (uint64_t)INT64_MAX - offset) {
        return -EFBIG;
    }

    uint64_t gran = mmk__os_granularity();
    uint64_t delta = offset % gran;
    size_t span;
    rc = map_span(delta, length, &span);
    if (rc < 0)
        return rc;

    if (o->flags & MMK_OPEN_TRUNCATE) {
        rc = mmk__os.truncate(fd, 0);
        if (rc < 0)
            return rc;
    }
    int grew = 0;
    if (length > 0 && offset + length > size) { /* only reachable with grow */
        rc = mmk__os.truncate(fd, offset + length);
        if (rc < 0)
            return rc;
        grew = 1;
    }

    unsigned how = 0;
    if (o->access == MMK_ACCESS_WRITE)
        how = MMK__OS_MAP_WRITE;
    else if (o->access == MMK_ACCESS_COPY)
        how = MMK__OS_MAP_WRITE | MMK__OS_MAP_PRIVATE;

    void *base = NULL;
    if (span > 0) {
        unsigned first = how | ((o->flags & MMK_OPEN_POPULATE) ? MMK__OS_MAP_POPULATE : 0);
        rc = mmk__os.map(fd, offset - delta, span, first, o->native_flags, &base);
        if (rc < 0) {
            if (grew)
                (void)mmk__os.truncate(fd, size);
            return rc;
        }
    }

    m->kind = KIND_FILE;
    m->access = o->access;
    m->how = how;
    m->native_flags = o->native_flags;
    m->offset = offset;
    m->delta = delta;
    m->base = base;
    m->length = length;
    m->pos = 0;
    return 0;
}

/* Opens `path` (creating it when asked) and tells whether this call created
   it, so a failure afterwards can remove what it made. */
static int open_path(const char *path, const mmk_options *o, int *created) {
    unsigned of = o->access == MMK_ACCESS_WRITE ? MMK__OS_OPEN_WRITE : 0;
    *created = 0;
    if (!(o->flags & MMK_OPEN_CREATE))
        return mmk__os.open(path, of, 0);
    if (o->flags & MMK_OPEN_EXCL) {
        int fd = mmk__os.open(path, of | MMK__OS_OPEN_CREATE | MMK__OS_OPEN_EXCL, o->mode);
        *created = fd >= 0;
        return fd;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = mmk__os.open(path, of, 0);
        if (fd != -ENOENT)
            return fd;
        fd = mmk__os.open(path, of | MMK__OS_OPEN_CREATE | MMK__OS_OPEN_EXCL, o->mode);
        if (fd >= 0) {
            *created = 1;
            return fd;
        }
        if (fd != -EEXIST)
            return fd;
        /* Someone created it between our two opens: open it as existing. */
    }
    return -EEXIST;
}

/* Opens and maps `path`; the caller owns *out (mmk_free). */
int mmk_open(mmk_map **out, const char *path, const mmk_options *opt) {
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (path == NULL)
        return -EINVAL;
    mmk_options o;
    int rc = options_normalize(opt, &o, 0);
    if (rc < 0)
        return rc;
    mmk_map *m = map_new();
    if (m == NULL)
        return -ENOMEM;
    int created;
    int fd = open_path(path, &o, &created);
    if (fd < 0) {
        free(m);
        /* Sockets cannot be opened at all (-ENXIO on Linux): say why. */
        mmk__os_stat st;
        if (fd == -ENXIO && mmk__os.stat(path, &st) == 0 && st.type == MMK__OS_OTHER)
            return MMK_ENOTREG;
        return fd;
    }
    rc = map_file(m, fd, &o);
    if (rc < 0) {
        (void)mmk__os.close(fd);
        if (created)
            (void)mmk__os.unlink(path);
        free(m);
        return rc;
    }
    m->fd = fd;
    *out = m;
    return 0;
}

/* Maps an open descriptor; duplicates it unless MMK_OPEN_NO_DUP. The caller
   keeps `fd` and owns *out. */
int mmk_open_fd(mmk_map **out, int fd, const mmk_options *opt) {
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (fd == -1)
        return mmk_open_anon(out, opt ? opt->length : 0, MMK_ANON_PRIVATE);
    if (fd < 0)
        return -EBADF;
    mmk_options o;
    int rc = options_normalize(opt, &o, 1);
    if (rc < 0)
        return rc;
    int readable, writable;
    rc = mmk__os.fd_mode(fd, &readable, &writable);
    if (rc < 0)
        return rc;
    if (!readable || (o.access == MMK_ACCESS_WRITE && !writable))
        return MMK_EACCESSMODE;
    mmk_map *m = map_new();
    if (m == NULL)
        return -ENOMEM;
    int own = -1;
    if (!(o.flags & MMK_OPEN_NO_DUP)) {
        own = mmk__os.dup(fd);
        if (own < 0) {
            free(m);
            return own;
        }
    }
    rc = map_file(m, own >= 0 ? own : fd, &o);
    if (rc < 0) {
        if (own >= 0)
            (void)mmk__os.close(own);
        free(m);
        return rc;
    }
    m->fd = own;
    *out = m;
    return 0;
}

/* Zeroed anonymous memory; the caller owns *out. */
int mmk_open_anon(mmk_map **out, uint64_t length, unsigned flags) {
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (flags & ~(unsigned)MMK_ANON_SHARED)
        return -EINVAL;
    if (length > (uint64_t)PTRDIFF_MAX) /* more than any address space holds */
        return -ENOMEM;
    mmk_map *m = map_new();
    if (m == NULL)
        return -ENOMEM;
    m->access = MMK_ACCESS_WRITE;
    int rc = 0;
    void *base = NULL;
    if (flags & MMK_ANON_SHARED) {
        /* Backed by a memfd where possible: its size can grow, so resize of a
           shared anonymous map can grow too (a plain MAP_SHARED|MAP_ANONYMOUS
           mapping cannot be extended: pages past the original size fault). */
        m->kind = KIND_ANON_SHARED;
        int fd = mmk__os.anon_fd();
        if (fd >= 0) {
            m->fd = fd;
            m->how = MMK__OS_MAP_WRITE;
            rc = mmk__os.truncate(fd, length);
            if (rc == 0 && length > 0)
                rc = mmk__os.map(fd, 0, (size_t)length, m->how, 0, &base);
        } else if (fd == MMK_ENOTSUP) {
            m->how = MMK__OS_MAP_WRITE | MMK__OS_MAP_ANON;
            if (length > 0)
                rc = mmk__os.map(-1, 0, (size_t)length, m->how, 0, &base);
        } else {
            rc = fd;
        }
    } else {
        m->kind = KIND_ANON;
        m->how = MMK__OS_MAP_WRITE | MMK__OS_MAP_PRIVATE | MMK__OS_MAP_ANON;
        if (length > 0)
            rc = mmk__os.map(-1, 0, (size_t)length, m->how, 0, &base);
    }
    if (rc < 0) {
        if (m->fd >= 0)
            (void)mmk__os.close(m->fd);
        free(m);
        return rc;
    }
    m->base = base;
    m->length = length;
    *out = m;
    return 0;
}

/* ---- closing ------------------------------------------------------------ */

/* Unmaps and closes the descriptor; the handle lives on until mmk_free. */
int mmk_close(mmk_map *m) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_begin_exclusive(m);
    if (rc == MMK_ECLOSED)
        return 0;
    if (rc < 0)
        return rc;
    size_t span;
    if (m->base && map_span(m->delta, m->length, &span) == 0)
        (void)mmk__os.unmap(m->base, span);
    if (m->fd >= 0)
        (void)mmk__os.close(m->fd);
    m->base = NULL;
    m->fd = -1;
    m->length = 0;
    m->pos = 0;
    map_end_exclusive(m, ST_CLOSED);
    return 0;
}

/* Closes if needed and releases the handle, unless views are outstanding. */
int mmk_free(mmk_map *m) {
    if (m == NULL)
        return 0;
    int rc = mmk_close(m);
    if (rc < 0)
        return rc;
    free(m);
    return 0;
}

int mmk_is_closed(const mmk_map *m) {
    return m == NULL || map_closed(m);
}

/* ---- properties --------------------------------------------------------- */

void *mmk_data(const mmk_map *m) {
    if (m == NULL || map_closed(m))
        return NULL;
    return map_bytes(m);
}

uint64_t mmk_length(const mmk_map *m) {
    if (m == NULL || map_closed(m))
        return 0;
    return m->length;
}

uint64_t mmk_offset(const mmk_map *m) {
    return m ? m->offset : 0;
}

int mmk_access(const mmk_map *m) {
    return m ? m->access : -EINVAL;
}

int mmk_file_size(const mmk_map *m, uint64_t *size) {
    if (m == NULL || size == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (m->kind != KIND_FILE)
        return MMK_EANON;
    if (m->fd < 0)
        return -EBADF;
    mmk__os_stat st;
    int rc = mmk__os.fstat(m->fd, &st);
    if (rc < 0)
        return rc;
    *size = st.size;
    return 0;
}

int mmk_fd(const mmk_map *m) {
    if (m == NULL || map_closed(m) || m->kind != KIND_FILE)
        return -1;
    return m->fd;
}

/* ---- cursor operations -------------------------------------------------- */

int64_t mmk_tell(const mmk_map *m) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    return (int64_t)m->pos;
}

int64_t mmk_seek(mmk_map *m, int64_t offset, int whence) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    int64_t base;
    switch (whence) {
    case MMK_SEEK_SET:
        base = 0;
        break;
    case MMK_SEEK_CUR:
        base = (int64_t)m->pos;
        break;
    case MMK_SEEK_END:
        base = (int64_t)m->length;
        break;
    default:
        return -EINVAL;
    }
    int64_t target;
    if (__builtin_add_overflow(base, offset, &target) || target < 0 ||
        (uint64_t)target > m->length)
        return MMK_ERANGE;
    m->pos = (uint64_t)target;
    return target;
}

int64_t mmk_read(mmk_map *m, void *buf, size_t n) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (buf == NULL && n > 0)
        return -EINVAL;
    uint64_t avail = m->length - m->pos;
    size_t k = n < avail ? n : (size_t)avail;
    if (k > (size_t)INT64_MAX)
        k = (size_t)INT64_MAX;
    int rc = mmk__guarded_copy(buf, map_at(m, m->pos), k);
    if (rc < 0)
        return rc;
    m->pos += k;
    return (int64_t)k;
}

int mmk_read_byte(mmk_map *m) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (m->pos >= m->length)
        return MMK_ERANGE;
    /* Guarded inline rather than through a helper: Python indexing calls
       this once per byte. Nothing computed before sigsetjmp is used after. */
    mmk__guard g;
    if (sigsetjmp(g.env, 0) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    int value = *(const volatile unsigned char *)map_at(m, m->pos);
    mmk__guard_pop(&g);
    m->pos++;
    return value;
}

int64_t mmk_line_length(const mmk_map *m) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    uint64_t avail = m->length - m->pos;
    if (avail == 0)
        return 0;
    size_t idx;
    int rc = mmk__guarded_memchr(map_at(m, m->pos), '\n', (size_t)avail, &idx);
    if (rc < 0)
        return rc;
    return (int64_t)(idx < avail ? idx + 1 : idx);
}

int64_t mmk_readline(mmk_map *m, void *buf, size_t cap) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (buf == NULL && cap > 0)
        return -EINVAL;
    uint64_t avail = m->length - m->pos;
    size_t window = cap < avail ? cap : (size_t)avail;
    if (window == 0)
        return 0;
    const unsigned char *src = map_at(m, m->pos);
    size_t idx;
    int rc = mmk__guarded_memchr(src, '\n', window, &idx);
    if (rc < 0)
        return rc;
    size_t k = idx < window ? idx + 1 : window;
    rc = mmk__guarded_copy(buf, src, k);
    if (rc < 0)
        return rc;
    m->pos += k;
    return (int64_t)k;
}

int64_t mmk_write(mmk_map *m, const void *buf, size_t n) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (m->access == MMK_ACCESS_READ)
        return MMK_EREADONLY;
    if (buf == NULL && n > 0)
        return -EINVAL;
    if (n > m->length - m->pos || n > (size_t)INT64_MAX)
        return MMK_ERANGE;
    int rc = mmk__guarded_copy(map_at(m, m->pos), buf, n);
    if (rc < 0)
        return rc;
    m->pos += n;
    return (int64_t)n;
}

int mmk_write_byte(mmk_map *m, uint8_t byte) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (m->access == MMK_ACCESS_READ)
        return MMK_EREADONLY;
    if (m->pos >= m->length)
        return MMK_ERANGE;
    mmk__guard g;
    if (sigsetjmp(g.env, 0) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    *(volatile unsigned char *)map_at(m, m->pos) = byte;
    mmk__guard_pop(&g);
    m->pos++;
    return 0;
}

/* ---- find / rfind --------------------------------------------------------- */

/* Python slice-index rules for one bound: negative counts from the end, then
   clamp to 0 .. length. */
static uint64_t slice_index(int64_t v, int64_t dflt, uint64_t length) {
    if (v == MMK_DEFAULT_POS)
        v = dflt;
    if (v < 0) {
        /* length <= INT64_MAX (a file size), so this cannot overflow */
        v += (int64_t)length;
        if (v < 0)
            v = 0;
    }
    return (uint64_t)v > length ? length : (uint64_t)v;
}

/* Leftmost needle in hay[0, len) under the guard: offset into *idx or -1. */
static int guarded_memmem(const unsigned char *hay, size_t len, const void *needle, size_t n,
                          int64_t *idx) {
    mmk__guard g;
    const unsigned char *hit = NULL;
    if (sigsetjmp(g.env, 0) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    hit = memmem(hay, len, needle, n);
    mmk__guard_pop(&g);
    *idx = hit ? (int64_t)(hit - hay) : -1;
    return 0;
}

/* Rightmost byte c in s[0, n) under the guard: offset into *idx or -1. */
static int guarded_memrchr(const unsigned char *s, int c, size_t n, int64_t *idx) {
    mmk__guard g;
    const unsigned char *hit = NULL;
    if (sigsetjmp(g.env, 0) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    hit = memrchr(s, c, n);
    mmk__guard_pop(&g);
    *idx = hit ? (int64_t)(hit - s) : -1;
    return 0;
}

/* Copies src[0, n) reversed into dst under the guard. */
static int guarded_copy_reversed(unsigned char *dst, const unsigned char *src, size_t n) {
    mmk__guard g;
    if (sigsetjmp(g.env, 0) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    for (size_t i = 0; i < n; i++)
        dst[i] = src[n - 1 - i];
    mmk__guard_pop(&g);
    return 0;
}

/*
 * Rightmost needle (n >= 2 bytes) in hay[0, len). Linear time whatever the
 * input: the rightmost occurrence in hay is the leftmost occurrence of the
 * reversed needle in the reversed hay, so blocks of hay are copied reversed
 * (under the guard) from the end and searched with memmem (two-way, linear).
 * Consecutive blocks overlap by n - 1 bytes so no occurrence is missed.
 */
static int rfind_long(const unsigned char *hay, size_t len, const unsigned char *needle, size_t n,
                      int64_t *idx) {
    enum { STACK_BUF = 8192, SMALL_NEEDLE = 1024, HEAP_BLOCK = 1 << 16 };
    unsigned char stack_buf[STACK_BUF];
    unsigned char *buf, *rev_needle, *heap;
    size_t cap; /* bytes of hay one round can hold: always more than n - 1 */
    if (n <= SMALL_NEEDLE) {
        heap = malloc(n);
        buf = stack_buf;
        cap = STACK_BUF;
        rev_needle = heap;
    } else {
        if (n > (SIZE_MAX - HEAP_BLOCK) / 2)
            return -ENOMEM;
        cap = HEAP_BLOCK + n;
        heap = malloc(cap + n);
        buf = heap;
        rev_needle = heap ? heap + cap : NULL;
    }
    if (heap == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        rev_needle[i] = needle[n - 1 - i];

    int rc = 0;
    *idx = -1;
    size_t hi = len; /* this round searches hay[lo, hi) */
    while (hi >= n) {
        size_t lo = hi > cap ? hi - cap : 0;
        rc = guarded_copy_reversed(buf, hay + lo, hi - lo);
        if (rc < 0)
            break;
        const unsigned char *hit = memmem(buf, hi - lo, rev_needle, n);
        if (hit) {
            *idx = (int64_t)(hi - (size_t)(hit - buf) - n);
            break;
        }
        if (lo == 0)
            break;
        /* an occurrence starting before lo ends by lo + n - 1 */
        hi = lo + n - 1;
    }
    free(heap);
    return rc;
}

/* Shared part of find/rfind: checks, the searched slice [*s, *e), and the
   answers that need no search. Returns 1 when *pos is already the answer (the
   needle does not fit, or it is empty: found at the slice's start for find,
   its end for rfind), 0 when a search is needed, or a negative error. */
static int find_prepare(const mmk_map *m, const void *needle, size_t n, int64_t start,
                        int64_t end, int reverse, int64_t *pos, uint64_t *s, uint64_t *e) {
    if (m == NULL || pos == NULL || (needle == NULL && n > 0))
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    *s = slice_index(start, (int64_t)m->pos, m->length);
    *e = slice_index(end, (int64_t)m->length, m->length);
    if (*s > *e || n > *e - *s) {
        *pos = -1;
        return 1;
    }
    if (n == 0) {
        *pos = (int64_t)(reverse ? *e : *s);
        return 1;
    }
    return 0;
}

int mmk_find(const mmk_map *m, const void *needle, size_t n, int64_t start, int64_t end,
             int64_t *pos) {
    uint64_t s, e;
    int rc = find_prepare(m, needle, n, start, end, 0, pos, &s, &e);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    int64_t idx;
    rc = guarded_memmem(map_at(m, s), (size_t)(e - s), needle, n, &idx);
    if (rc < 0)
        return rc;
    *pos = idx < 0 ? -1 : (int64_t)s + idx;
    return 0;
}

int mmk_rfind(const mmk_map *m, const void *needle, size_t n, int64_t start, int64_t end,
              int64_t *pos) {
    uint64_t s, e;
    int rc = find_prepare(m, needle, n, start, end, 1, pos, &s, &e);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    int64_t idx;
    const unsigned char *hay = map_at(m, s);
    if (n == 1)
        rc = guarded_memrchr(hay, *(const unsigned char *)needle, (size_t)(e - s), &idx);
    else
        rc = rfind_long(hay, (size_t)(e - s), needle, n, &idx);
    if (rc < 0)
        return rc;
    *pos = idx < 0 ? -1 : (int64_t)s + idx;
    return 0;
}

/* ---- random access ------------------------------------------------------ */

int mmk_move(mmk_map *m, uint64_t dest, uint64_t src, uint64_t count) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (m->access == MMK_ACCESS_READ)
        return MMK_EREADONLY;
    if (src > m->length || count > m->length - src || dest > m->length ||
        count > m->length - dest)
        return MMK_ERANGE;
    return mmk__guarded_move(map_at(m, dest), map_at(m, src), (size_t)count);
}

int mmk_copy_out(const mmk_map *m, uint64_t offset, void *buf, size_t n) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (buf == NULL && n > 0)
        return -EINVAL;
    if (offset > m->length || n > m->length - offset)
        return MMK_ERANGE;
    return mmk__guarded_copy(buf, map_at(m, offset), n);
}

int mmk_copy_in(mmk_map *m, uint64_t offset, const void *buf, size_t n) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (m->access == MMK_ACCESS_READ)
        return MMK_EREADONLY;
    if (buf == NULL && n > 0)
        return -EINVAL;
    if (offset > m->length || n > m->length - offset)
        return MMK_ERANGE;
    return mmk__guarded_copy(map_at(m, offset), buf, n);
}

/* ---- resize ---------------------------------------------------------------- */

/*
 * Point the system mapping at a new visible length, keeping contents. Only
 * the mapping changes; the file (if any) must already be long enough. On
 * failure the old mapping is untouched.
 */
static int remap_region(mmk_map *m, uint64_t new_length) {
    size_t old_span, new_span;
    int rc = map_span(m->delta, m->length, &old_span);
    if (rc == 0)
        rc = map_span(m->delta, new_length, &new_span);
    if (rc < 0)
        return rc;
    if (!m->base)
        old_span = 0;
    void *p = NULL;
    if (new_span == old_span) {
        /* same length: nothing to do */
    } else if (new_span == 0) {
        rc = mmk__os.unmap(m->base, old_span);
        if (rc < 0)
            return rc;
    } else if (old_span == 0) {
        rc = mmk__os.map(m->fd, m->offset - m->delta, new_span, m->how, m->native_flags, &p);
        if (rc < 0)
            return rc;
        m->base = p;
    } else {
        rc = mmk__os.remap(m->base, old_span, new_span, &p);
        if (rc == MMK_ENOTSUP) {
            /* No mremap: map the new length beside the old one, then retire
               the old. File-backed and memfd mappings share their pages through
               the file; private anonymous memory must be copied over. */
            if (m->kind == KIND_ANON_SHARED && m->fd < 0)
                return MMK_ENOTSUP;
            rc = mmk__os.map(m->fd, m->offset - m->delta, new_span, m->how, m->native_flags, &p);
            if (rc < 0)
                return rc;
            if (m->kind == KIND_ANON)
                memcpy(p, m->base, old_span < new_span ? old_span : new_span);
            (void)mmk__os.unmap(m->base, old_span);
        } else if (rc < 0) {
            return rc;
        }
        m->base = p;
    }
    if (new_span == 0)
        m->base = NULL;
    m->length = new_length;
    return 0;
}

/* Resize with the map held exclusively (see mmk_resize for the order). */
static int resize_locked(mmk_map *m, uint64_t new_length) {
    uint64_t old_length = m->length;
    if (new_length == old_length && m->kind != KIND_FILE)
        return 0;
    if (m->fd < 0) {
        /* plain anonymous memory: only the mapping changes. A shared
           MAP_ANONYMOUS mapping cannot grow (pages past its first size raise
           SIGBUS), so growing one is refused. */
        if (m->kind == KIND_ANON_SHARED && new_length > old_length)
            return MMK_ENOTSUP;
        return remap_region(m, new_length);
    }

    /* Backed by a file (or memfd): the file must never be shorter than a
       mapping that covers it, so grow the file before the map and shrink the
       map before the file, undoing the first step if the second fails. */
    if (new_length > (uint64_t)INT64_MAX || m->offset > (uint64_t)INT64_MAX - new_length)
        return -EFBIG;
    uint64_t target = m->offset + new_length;
    mmk__os_stat st;
    int rc = mmk__os.fstat(m->fd, &st);
    if (rc < 0)
        return rc;
    uint64_t old_size = st.size;

    if (new_length >= old_length) {
        int grew = 0;
        if (target > old_size) {
            rc = mmk__os.truncate(m->fd, target);
            if (rc < 0)
                return rc;
            grew = 1;
        }
        rc = remap_region(m, new_length);
        if (rc < 0) {
            if (grew)
                (void)mmk__os.truncate(m->fd, old_size);
            return rc;
        }
        if (target < old_size) {
            /* The map grew but the file was longer still: the file now ends
               where the map does, as Python's resize leaves it. */
            rc = mmk__os.truncate(m->fd, target);
            if (rc < 0) {
                (void)remap_region(m, old_length);
                return rc;
            }
        }
        return 0;
    }

    rc = remap_region(m, new_length);
    if (rc < 0)
        return rc;
    if (target != old_size) {
        rc = mmk__os.truncate(m->fd, target);
        if (rc < 0) {
            /* Put the map back; its pages are still in the file. */
            int back = remap_region(m, old_length);
            (void)back;
            return rc;
        }
    }
    return 0;
}

/* Changes the length of a writable file map or an anonymous map. */
int mmk_resize(mmk_map *m, uint64_t new_length) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (m->kind == KIND_FILE && m->access != MMK_ACCESS_WRITE)
        return MMK_EREADONLY;
    if (m->kind == KIND_FILE && m->fd < 0)
        return -EBADF;
    int rc = map_begin_exclusive(m);
    if (rc < 0)
        return rc;
    rc = resize_locked(m, new_length);
    if (m->pos > m->length)
        m->pos = m->length;
    map_end_exclusive(m, 0);
    return rc;
}

/* ---- flush / advice / populate / lock ----------------------------------- */

int mmk_flush(mmk_map *m, uint64_t offset, uint64_t length, unsigned flags) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (flags & ~(unsigned)(MMK_FLUSH_ASYNC | MMK_FLUSH_INVALIDATE))
        return -EINVAL;
    uint64_t len;
    int rc = map_range(m, offset, length, &len);
    if (rc < 0)
        return rc;
    /* Only shared writable file maps have anything to write back. */
    if (m->kind != KIND_FILE || m->access != MMK_ACCESS_WRITE || len == 0)
        return 0;
    void *addr;
    size_t plen;
    map_page_range(m, offset, len, &addr, &plen);
    return mmk__os.sync(addr, plen, (int)flags);
}

int mmk_advise_native(mmk_map *m, int native_advice, uint64_t offset, uint64_t length) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    uint64_t len;
    int rc = map_range(m, offset, length, &len);
    if (rc < 0)
        return rc;
    if (len == 0)
        return 0;
    void *addr;
    size_t plen;
    map_page_range(m, offset, len, &addr, &plen);
    return mmk__os.advise(addr, plen, native_advice);
}

int mmk_advise(mmk_map *m, int advice, uint64_t offset, uint64_t length) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    int native;
    int rc = mmk__os_advice(advice, &native);
    if (rc < 0)
        return rc;
    rc = mmk_advise_native(m, native, offset, length);
    /* A kernel built without transparent huge pages rejects the advice. */
    if (rc == -EINVAL && advice == MMK_ADVICE_HUGEPAGE)
        return MMK_ENOTSUP;
    return rc;
}

/* Reads one byte per page of [p, p + len) under the guard. */
static int touch_pages(const unsigned char *p, size_t len) {
    uintptr_t ps = (uintptr_t)mmk__os_page_size();
    mmk__guard g;
    if (sigsetjmp(g.env, 0) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    for (size_t i = 0; i < len; i += ps)
        (void)*(const volatile unsigned char *)(p + i);
    mmk__guard_pop(&g);
    return 0;
}

int mmk_populate(mmk_map *m, uint64_t offset, uint64_t length) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    uint64_t len;
    int rc = map_range(m, offset, length, &len);
    if (rc < 0)
        return rc;
    if (len == 0)
        return 0;
    void *addr;
    size_t plen;
    map_page_range(m, offset, len, &addr, &plen);
    /* Anonymous memory is populated for writing so that it is really
       allocated (read faults would map the shared zero page); file pages are
       only read in, so no page is dirtied or copied. */
    int native;
    if (mmk__os_populate_advice(m->kind != KIND_FILE, &native) == 0) {
        rc = mmk__os.advise(addr, plen, native);
        if (rc == 0)
            return 0;
        if (rc == -EFAULT)
            return MMK_EFAULT; /* a page is past the end of the file */
        /* Older kernels do not know the advice: touch the pages instead. */
    }
    return touch_pages(addr, plen);
}

int mmk_lock_pages(mmk_map *m, uint64_t offset, uint64_t length) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    uint64_t len;
    int rc = map_range(m, offset, length, &len);
    if (rc < 0)
        return rc;
    if (len == 0)
        return 0;
    void *addr;
    size_t plen;
    map_page_range(m, offset, len, &addr, &plen);
    return mmk__os.lock(addr, plen);
}

int mmk_unlock_pages(mmk_map *m, uint64_t offset, uint64_t length) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    uint64_t len;
    int rc = map_range(m, offset, length, &len);
    if (rc < 0)
        return rc;
    if (len == 0)
        return 0;
    void *addr;
    size_t plen;
    map_page_range(m, offset, len, &addr, &plen);
    return mmk__os.unlock(addr, plen);
}

/* ---- views ------------------------------------------------------------------ */

/* Counts one more borrower of the map's memory; refused once closed. */
int mmk_view_acquire(mmk_map *m, void **data, uint64_t *length) {
    if (m == NULL)
        return -EINVAL;
    for (;;) {
        unsigned s = atomic_load_explicit(&m->state, memory_order_acquire);
        if (s & ST_CLOSED)
            return MMK_ECLOSED;
        if (s & ST_BUSY) {
            sched_yield(); /* a resize is in progress: wait for its result */
            continue;
        }
        if ((s & ST_VIEWS) == ST_VIEWS)
            return -EOVERFLOW;
        if (atomic_compare_exchange_weak_explicit(&m->state, &s, s + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    if (data)
        *data = map_bytes(m);
    if (length)
        *length = m->length;
    return 0;
}

void mmk_view_release(mmk_map *m) {
    if (m == NULL)
        return;
    unsigned s = atomic_load_explicit(&m->state, memory_order_acquire);
    while ((s & ST_VIEWS) != 0) {
        if (atomic_compare_exchange_weak_explicit(&m->state, &s, s - 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return;
    }
}

unsigned mmk_view_count(const mmk_map *m) {
    if (m == NULL)
        return 0;
    return map_state(m) & ST_VIEWS;
}

/* ---- naming anonymous memory -------------------------------------------- */

int mmk_set_name(mmk_map *m, const char *name) {
    if (m == NULL || name == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    size_t n = strlen(name);
    if (n > MMK_NAME_MAX)
        return -ENAMETOOLONG;
    /* Checked here, so that the kernel's EINVAL can only mean "no support". */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c > 0x7e || strchr("\\`$[]", c) != NULL)
            return -EINVAL;
    }
    if (m->kind == KIND_FILE)
        return -EBADF;
    if (m->length == 0)
        return 0;
    void *addr;
    size_t plen;
    map_page_range(m, 0, m->length, &addr, &plen);
    return mmk__os_set_anon_name(addr, plen, name);
}
