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
 * Concurrency: one atomic 64-bit state word holds the view count, the hold
 * count and CLOSED / BUSY / CLOSING bits. Views (buffers, scans) and holds
 * (every library call that touches mapped bytes, for its duration) are taken
 * by a compare-and-swap that requires "open, not busy, not closing"; close
 * and resize take the map exclusively by a compare-and-swap from "open, no
 * views, no holds" to BUSY. So neither a view nor a library call can see
 * memory that close or resize is unmapping, with no lock on either path.
 * mmk_close refuses while anything is held; mmk_close_wait sets CLOSING (new
 * holds and views are refused from then on) and waits for holds to leave.
 *
 * Disk space: growth reserves the blocks it adds (fallocate), and a write
 * into a shared file map first reserves the written range unless the map
 * already knows it has no holes (`backed_end`), so a full disk makes the
 * call fail before any byte changes instead of faulting half way.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "os.h"

#define ST_VIEWS 0x3fffffffull   /* bits 0-29: outstanding views */
#define ST_BUSY (1ull << 30)     /* close or resize is changing the map */
#define ST_CLOSED (1ull << 31)   /* closed for good */
#define ST_HOLD_ONE (1ull << 32) /* one library call in flight (bits 32-61) */
#define ST_HOLDS (0x3fffffffull << 32)
#define ST_CLOSING (1ull << 62) /* mmk_close_wait is draining the holds */

/* What the map knows about reserving disk blocks before writes. */
enum reserve_state {
    RESERVE_UNPROBED = 0, /* the holes of the file were not looked at yet */
    RESERVE_PROBED = 1,   /* backed_end is what the filesystem said */
    RESERVE_NONE = 2      /* the filesystem cannot reserve: writes go straight in */
};

enum map_kind {
    KIND_FILE = 1,       /* a file; fd is the map's own descriptor, or -1 (NO_DUP) */
    KIND_ANON = 2,       /* private anonymous memory */
    KIND_ANON_SHARED = 3 /* shared anonymous; fd is a memfd when the platform has one */
};

#define KNOWN_OPEN_FLAGS                                                                           \
    (MMK_OPEN_CREATE | MMK_OPEN_EXCL | MMK_OPEN_TRUNCATE | MMK_OPEN_GROW | MMK_OPEN_POPULATE |     \
     MMK_OPEN_NO_DUP)

struct mmk_map {
    _Atomic uint64_t state; /* views | holds | ST_CLOSED | ST_BUSY | ST_CLOSING */
    int kind;               /* enum map_kind */
    int access;             /* enum mmk_access */
    int fd;                 /* descriptor the map owns, or -1 */
    unsigned how;           /* MMK__OS_MAP_* used for (re)mapping */
    int native_flags;       /* caller's extra mmap flags, reused on remap */
    uint64_t offset;        /* the caller's offset */
    uint64_t delta;         /* offset minus the aligned mapping offset */
    unsigned char *base;    /* the system mapping (aligned), NULL when length is 0 */
    uint64_t length;        /* bytes visible to the caller */
    uint64_t pos;           /* cursor, 0 .. length */
    /* File offsets [offset, backed_end) are known to have no holes, so writes
       there need no reservation. Only grows while the map keeps its shape;
       resize starts it again. */
    _Atomic uint64_t backed_end;
    atomic_int reserve; /* enum reserve_state */
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t map_state(const mmk_map *m) {
    return atomic_load_explicit(&((mmk_map *)m)->state, memory_order_acquire);
}

static int map_closed(const mmk_map *m) {
    return (map_state(m) & (ST_CLOSED | ST_CLOSING)) != 0;
}

/* Wait a little longer each time: yield first, then sleep up to 1 ms (a hold
   can last as long as a find over a large map). */
static void map_backoff(unsigned *round) {
    if (*round < 64)
        mmk__os_yield();
    else
        mmk__os.sleep_us(*round < 200 ? 50u : 1000u);
    (*round)++;
}

/*
 * Holds. Every library call that touches mapped bytes holds the map for its
 * duration, so close and resize never unmap under it. Two kinds:
 *
 * - fast (where the platform has a process-wide barrier: Linux membarrier):
 *   the thread writes the map's address into its own slot, then reads the
 *   state word; releasing is one store. No read-modify-write, no fence: a
 *   contended cache line would cost more than the 1-byte copy it protects.
 *   Close and resize, after publishing BUSY or CLOSING, run
 *   mmk__os.process_barrier (a full barrier on every running thread of the
 *   process) and then look through all slots. A thread that read the state
 *   before BUSY was visible has its slot store visible by then, so either
 *   the call sees BUSY and backs off, or the closer sees the slot and backs
 *   off (the Dekker pattern with the expensive half of the fence moved to
 *   the rare side, as userspace RCU does).
 * - counted: a compare-and-swap on the hold count in the state word. Used
 *   where there is no process barrier, for a thread's first call (which
 *   makes its slot), and for a hold taken while the same thread already
 *   holds a map.
 */
typedef struct hold_slot {
    _Atomic(const mmk_map *) map; /* the map held fast, or NULL; written by the owner */
    atomic_int in_use;            /* owned by a live thread */
    unsigned counted;             /* the owner's counted holds outstanding (owner only) */
    struct hold_slot *next;       /* the list is push-only: slots are reused, never freed */
} hold_slot;

static _Atomic(hold_slot *) hold_slots;
static _Thread_local hold_slot *hold_mine MMK__TLS_MODEL;
static atomic_int hold_fast;    /* decided once, before the first map exists */
static int hold_fast_available; /* the platform has the barrier (set once) */
static mmk__once_t hold_once = MMK__ONCE_INIT;
static mmk__tls_key hold_key;

static void hold_thread_exit(void *p) {
    hold_slot *slot = p;
    /* The thread has left the library for good (even one cancelled inside a
       call, at msync say): its slot holds nothing and is free for the next. */
    atomic_store_explicit(&slot->map, NULL, memory_order_release);
    atomic_store_explicit(&slot->in_use, 0, memory_order_release);
}

/* In the child of fork() only the forking thread lives on: the slots of the
   others are free, whatever they held at the moment of the fork. */
static void hold_after_fork(void) {
    for (hold_slot *slot = atomic_load_explicit(&hold_slots, memory_order_acquire); slot;
         slot = slot->next) {
        if (slot == hold_mine)
            continue;
        atomic_store_explicit(&slot->map, NULL, memory_order_relaxed);
        atomic_store_explicit(&slot->in_use, 0, memory_order_release);
    }
}

static void hold_setup(void) {
    if (mmk__os.process_barrier_setup() == 0 && mmk__tls_create(&hold_key, hold_thread_exit) == 0 &&
        mmk__os_atfork_child(hold_after_fork) == 0) {
        hold_fast_available = 1;
        atomic_store_explicit(&hold_fast, 1, memory_order_release);
    }
}

/* Tests: switch fast holds off (0) or back on (1) when the platform has
   them; returns whether they were on. Only while no map call runs. */
int mmk__map_fast_holds(int enable) {
    mmk__once(&hold_once, hold_setup);
    int was = atomic_load(&hold_fast);
    atomic_store(&hold_fast, enable && hold_fast_available);
    return was;
}

/* Give the calling thread a slot (a free one or a new one); best effort. */
static void hold_register(void) {
    hold_slot *slot;
    for (slot = atomic_load_explicit(&hold_slots, memory_order_acquire); slot; slot = slot->next) {
        int idle = 0;
        if (atomic_compare_exchange_strong(&slot->in_use, &idle, 1))
            break;
    }
    if (slot == NULL) {
        slot = calloc(1, sizeof *slot);
        if (slot == NULL)
            return; /* this thread keeps using counted holds */
        atomic_init(&slot->map, NULL);
        atomic_init(&slot->in_use, 1);
        hold_slot *head = atomic_load_explicit(&hold_slots, memory_order_relaxed);
        do {
            slot->next = head;
        } while (!atomic_compare_exchange_weak_explicit(
            &hold_slots, &head, slot, memory_order_release, memory_order_relaxed));
    }
    slot->counted = 0;
    if (mmk__tls_set(hold_key, slot) != 0) {
        atomic_store_explicit(&slot->in_use, 0, memory_order_release);
        return;
    }
    hold_mine = slot;
}

/* The counted hold: waits while a resize runs (its result is what the call
   must see). */
static int map_hold_counted(mmk_map *m) {
    uint64_t s = atomic_load_explicit(&m->state, memory_order_relaxed);
    for (;;) {
        if (s & (ST_CLOSED | ST_CLOSING))
            return MMK_ECLOSED;
        if ((s & ST_BUSY) || (s & ST_HOLDS) == ST_HOLDS) {
            mmk__os_yield();
            s = atomic_load_explicit(&m->state, memory_order_relaxed);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&m->state, &s, s + ST_HOLD_ONE,
                                                  memory_order_acquire, memory_order_relaxed))
            break;
    }
    if (hold_mine == NULL && atomic_load_explicit(&hold_fast, memory_order_relaxed))
        hold_register();
    if (hold_mine)
        hold_mine->counted++;
    return 0;
}

/*
 * Hold the map for the duration of one library call: until map_unhold, close
 * and resize cannot unmap it. Lock-free. Returns 0 or MMK_ECLOSED (closed,
 * or being closed).
 */
static int map_hold(const mmk_map *cm) {
    mmk_map *m = (mmk_map *)cm;
    hold_slot *slot = hold_mine;
    if (slot && slot->counted == 0 &&
        atomic_load_explicit(&slot->map, memory_order_relaxed) == NULL &&
        atomic_load_explicit(&hold_fast, memory_order_relaxed)) {
        atomic_store_explicit(&slot->map, cm, memory_order_relaxed);
        /* Keeps the compiler from moving the load above the store; the CPU
           side of the fence is the closer's process barrier. */
        atomic_signal_fence(memory_order_seq_cst);
        uint64_t s = atomic_load_explicit(&m->state, memory_order_acquire);
        if (!(s & (ST_CLOSED | ST_CLOSING | ST_BUSY)))
            return 0;
        atomic_store_explicit(&slot->map, NULL, memory_order_release);
    }
    return map_hold_counted(m);
}

static void map_unhold(const mmk_map *cm) {
    hold_slot *slot = hold_mine;
    if (slot && slot->counted == 0) {
        /* Release: the closer that reads NULL here sees this call's accesses
           as finished. */
        atomic_store_explicit(&slot->map, NULL, memory_order_release);
        return;
    }
    if (slot)
        slot->counted--;
    atomic_fetch_sub_explicit(&((mmk_map *)cm)->state, ST_HOLD_ONE, memory_order_release);
}

/*
 * After BUSY or CLOSING is published: 1 if a fast hold on `m` may still be
 * in flight, 0 if none is, or a negative error when the barrier failed.
 * With `barrier` 0 it only looks again (the barrier already ran).
 */
static int map_fast_held(const mmk_map *m, int barrier) {
    if (!atomic_load_explicit(&hold_fast, memory_order_acquire))
        return 0;
    if (barrier) {
        int rc = mmk__os.process_barrier();
        if (rc < 0)
            return rc;
    }
    for (hold_slot *slot = atomic_load_explicit(&hold_slots, memory_order_acquire); slot;
         slot = slot->next)
        if (atomic_load_explicit(&slot->map, memory_order_acquire) == m)
            return 1;
    return 0;
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
        uint64_t s = atomic_load_explicit(&m->state, memory_order_acquire);
        if (s & ST_CLOSED)
            return MMK_ECLOSED;
        if (s & (ST_VIEWS | ST_HOLDS | ST_CLOSING))
            return MMK_EVIEWS;
        if (s & ST_BUSY) {
            mmk__os_yield();
            continue;
        }
        if (!atomic_compare_exchange_weak_explicit(&m->state, &s, ST_BUSY, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        int held = map_fast_held(m, 1);
        if (held == 0)
            return 0;
        /* A call is inside the map (or the barrier failed): give it back. */
        atomic_store_explicit(&m->state, s, memory_order_release);
        return held < 0 ? held : MMK_EVIEWS;
    }
}

static void map_end_exclusive(mmk_map *m, uint64_t final_state) {
    atomic_store_explicit(&m->state, final_state, memory_order_release);
}

/* A new, zeroed handle; NULL when out of memory. */
static mmk_map *map_new(void) {
    /* How calls hold maps is settled before the first map can be shared. */
    mmk__once(&hold_once, hold_setup);
    mmk_map *m = calloc(1, sizeof *m);
    if (m) {
        atomic_init(&m->state, 0u);
        atomic_init(&m->backed_end, 0u);
        atomic_init(&m->reserve, RESERVE_UNPROBED);
        m->fd = -1;
    }
    return m;
}

/* ---- disk space --------------------------------------------------------- */

/*
 * Grow the file on `fd` from `size` to `target` bytes, reserving the blocks of
 * [from, target) (from >= size: what a map will cover), so that writing there
 * later cannot fail for want of space. Where the filesystem cannot reserve,
 * the file is grown sparse (ftruncate) as a plain mmap user would. On failure
 * the file has its old size again.
 */
static int grow_file(int fd, uint64_t size, uint64_t from, uint64_t target) {
    int rc = mmk__os.allocate(fd, from, target - from, 0);
    if (rc == MMK_ENOTSUP)
        return mmk__os.truncate(fd, target);
    if (rc < 0) {
        /* Some filesystems (ext4) raise the size chunk by chunk before they
           run out: put it back, which also frees the blocks past it. */
        mmk__os_stat st;
        if (mmk__os.fstat(fd, &st) != 0 || st.size != size)
            (void)mmk__os.truncate(fd, size);
        return rc;
    }
    return 0;
}

/* Raise m->backed_end to at least `end` (it only grows while the map holds). */
static void backed_raise(mmk_map *m, uint64_t end) {
    uint64_t cur = atomic_load_explicit(&m->backed_end, memory_order_relaxed);
    while (cur < end &&
           !atomic_compare_exchange_weak_explicit(&m->backed_end, &cur, end, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

/* The slow part of map_reserve: the range is not known to be backed. */
static int reserve_slow(mmk_map *m, uint64_t a, uint64_t b) {
    int state = atomic_load_explicit(&m->reserve, memory_order_relaxed);
    if (state == RESERVE_NONE)
        return 0;
    if (state == RESERVE_UNPROBED) {
        /* Once per map shape: one lseek(SEEK_HOLE) finds how much of the map
           is dense; for an ordinary file that is all of it, and no write
           ever comes here again. */
        int64_t hole = mmk__os.next_hole(m->fd, m->offset);
        if (hole >= 0)
            backed_raise(m, (uint64_t)hole);
        atomic_store_explicit(&m->reserve, RESERVE_PROBED, memory_order_relaxed);
        if (b <= atomic_load_explicit(&m->backed_end, memory_order_relaxed))
            return 0;
    }
    /* Never reserve past the end of the file: blocks there would be kept
       (KEEP_SIZE) and the write faults anyway, as a truncation. */
    mmk__os_stat st;
    int rc = mmk__os.fstat(m->fd, &st);
    if (rc < 0)
        return rc;
    if (a >= st.size)
        return 0;
    if (b > st.size)
        b = st.size;
    rc = mmk__os.allocate(m->fd, a, b - a, 1);
    if (rc == MMK_ENOTSUP) {
        atomic_store_explicit(&m->reserve, RESERVE_NONE, memory_order_relaxed);
        return 0;
    }
    if (rc < 0)
        return rc;
    uint64_t backed = atomic_load_explicit(&m->backed_end, memory_order_relaxed);
    if (a <= backed) {
        /* The dense prefix now reaches at least b: find where it ends, so a
           sparse file filled front to back pays one reservation per write. */
        int64_t hole = mmk__os.next_hole(m->fd, backed);
        backed_raise(m, hole >= 0 && (uint64_t)hole > b ? (uint64_t)hole : b);
    }
    return 0;
}

/*
 * Before writing [off, off + len) of a shared file map: make sure the disk
 * has blocks for it, so a full disk fails the call (-ENOSPC, -EDQUOT, -EIO)
 * before any byte changes instead of faulting half way through the copy.
 * The common case (the range is known to be dense) is one atomic load.
 * Call with the map held.
 */
static int map_reserve(mmk_map *m, uint64_t off, uint64_t len) {
    if (len == 0 || m->kind != KIND_FILE || m->access != MMK_ACCESS_WRITE || m->fd < 0)
        return 0;
    uint64_t a = m->offset + off, b = a + len;
    if (b <= atomic_load_explicit(&m->backed_end, memory_order_relaxed))
        return 0;
    return reserve_slow(m, a, b);
}

/*
 * A guarded access to [off, off + len) of the map faulted: name the real
 * cause. MMK_EFAULT only when the file is now shorter than the range (it was
 * truncated); when the file still covers it, the kernel could not supply the
 * page: -ENOSPC when the range has a hole (no block for it and none to be
 * had: full disk or quota), otherwise -EIO (the page could not be read).
 * A memfd-backed anonymous map faults only when shared memory runs out.
 * Call with the map held.
 */
static int fault_cause(const mmk_map *m, uint64_t off, uint64_t len) {
    if (m->kind == KIND_ANON_SHARED && m->fd >= 0)
        return -ENOMEM;
    if (m->kind != KIND_FILE || m->fd < 0)
        return MMK_EFAULT;
    mmk__os_stat st;
    uint64_t a = m->offset + off, b = a + len;
    if (mmk__os.fstat(m->fd, &st) != 0 || st.size < b)
        return MMK_EFAULT;
    int64_t hole = mmk__os.next_hole(m->fd, a);
    if (hole >= 0 && (uint64_t)hole < b)
        return -ENOSPC;
    return -EIO;
}

int mmk__map_fault_cause(const mmk_map *m, uint64_t off, uint64_t len) {
    return fault_cause(m, off, len);
}

/* rc from a guarded access to [off, off + len): MMK_EFAULT is made precise. */
static int guarded_result(const mmk_map *m, int rc, uint64_t off, uint64_t len) {
    return rc == MMK_EFAULT ? fault_cause(m, off, len) : rc;
}

/*
 * Shared anonymous memory backed by a memfd is not counted against the
 * system's commit limit (the kernel creates it "noreserve"), so without a
 * check a 1 TiB map would succeed and touching it would summon the OOM
 * killer. Ask the kernel the question it asks for an ordinary
 * MAP_SHARED|MAP_ANONYMOUS map of that size: map one, accounted, and let it
 * go at once. Nothing is touched, so this costs two system calls.
 */
static int anon_account_check(uint64_t length) {
    if (length == 0)
        return 0;
    if (length > (uint64_t)PTRDIFF_MAX)
        return -ENOMEM;
    void *p = NULL;
    int rc = mmk__os.map(-1, 0, (size_t)length, MMK__OS_MAP_WRITE | MMK__OS_MAP_ANON, 0, &p);
    if (rc < 0)
        return rc;
    (void)mmk__os.unmap(p, (size_t)length);
    return 0;
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
        rc = grow_file(fd, size, offset > size ? offset : size, offset + length);
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
        int fd = anon_account_check(length);
        if (fd == 0)
            fd = mmk__os.anon_fd();
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

/* Unmap and close the descriptor of a map the caller holds exclusively. */
static void close_locked(mmk_map *m) {
    size_t span;
    if (m->base && map_span(m->delta, m->length, &span) == 0)
        (void)mmk__os.unmap(m->base, span);
    if (m->fd >= 0)
        (void)mmk__os.close(m->fd);
    m->base = NULL;
    m->fd = -1;
    m->length = 0;
    m->pos = 0;
}

/* Unmaps and closes the descriptor; the handle lives on until mmk_free. */
int mmk_close(mmk_map *m) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_begin_exclusive(m);
    if (rc == MMK_ECLOSED)
        return 0;
    if (rc < 0)
        return rc;
    close_locked(m);
    map_end_exclusive(m, ST_CLOSED);
    return 0;
}

/* Refuses new holds and views, waits for the holds in flight, then closes. */
int mmk_close_wait(mmk_map *m) {
    if (m == NULL)
        return -EINVAL;
    unsigned round = 0;
    for (;;) {
        uint64_t s = atomic_load_explicit(&m->state, memory_order_acquire);
        if (s & ST_CLOSED)
            return 0;
        if (s & ST_CLOSING) {
            /* Another thread is closing it: done when that thread is. */
            map_backoff(&round);
            continue;
        }
        if (s & ST_VIEWS)
            return MMK_EVIEWS; /* borrowed memory cannot be waited for */
        if (s & ST_BUSY) {
            mmk__os_yield();
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&m->state, &s, s | ST_CLOSING,
                                                  memory_order_acq_rel, memory_order_acquire))
            break;
    }
    /* From here no hold or view can start; the holds in flight end by
       themselves (each is one library call). The acquire pairs with their
       release, so everything they did is visible before the unmap. */
    round = 0;
    int held;
    while ((held = map_fast_held(m, 1)) < 0)
        map_backoff(&round); /* no barrier, no certainty: try again */
    while (held || (atomic_load_explicit(&m->state, memory_order_acquire) & ST_HOLDS)) {
        map_backoff(&round);
        held = map_fast_held(m, 0);
    }
    close_locked(m);
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
    if (m == NULL || map_hold(m) != 0)
        return NULL;
    void *p = map_bytes(m);
    map_unhold(m);
    return p;
}

uint64_t mmk_length(const mmk_map *m) {
    if (m == NULL || map_hold(m) != 0)
        return 0;
    uint64_t len = m->length;
    map_unhold(m);
    return len;
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
    if (m->kind != KIND_FILE)
        return map_closed(m) ? MMK_ECLOSED : MMK_EANON;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    mmk__os_stat st;
    rc = m->fd < 0 ? -EBADF : mmk__os.fstat(m->fd, &st);
    map_unhold(m);
    if (rc < 0)
        return rc;
    *size = st.size;
    return 0;
}

int mmk_fd(const mmk_map *m) {
    if (m == NULL || m->kind != KIND_FILE || map_hold(m) != 0)
        return -1;
    int fd = m->fd;
    map_unhold(m);
    return fd;
}

/* ---- cursor operations -------------------------------------------------- */

int64_t mmk_tell(const mmk_map *m) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    int64_t pos = (int64_t)m->pos;
    map_unhold(m);
    return pos;
}

int64_t mmk_seek(mmk_map *m, int64_t offset, int whence) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    int64_t base = 0, target;
    switch (whence) {
    case MMK_SEEK_SET:
        break;
    case MMK_SEEK_CUR:
        base = (int64_t)m->pos;
        break;
    case MMK_SEEK_END:
        base = (int64_t)m->length;
        break;
    default:
        map_unhold(m);
        return -EINVAL;
    }
    if (__builtin_add_overflow(base, offset, &target) || target < 0 ||
        (uint64_t)target > m->length) {
        map_unhold(m);
        return MMK_ERANGE;
    }
    m->pos = (uint64_t)target;
    map_unhold(m);
    return target;
}

int64_t mmk_read(mmk_map *m, void *buf, size_t n) {
    if (m == NULL || (buf == NULL && n > 0))
        return m == NULL || !map_closed(m) ? -EINVAL : MMK_ECLOSED;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    uint64_t avail = m->length - m->pos;
    size_t k = n < avail ? n : (size_t)avail;
    if (k > (size_t)INT64_MAX)
        k = (size_t)INT64_MAX;
    rc = guarded_result(m, mmk__guarded_copy(buf, map_at(m, m->pos), k), m->pos, k);
    if (rc == 0)
        m->pos += k;
    map_unhold(m);
    return rc < 0 ? rc : (int64_t)k;
}

/* One byte at the cursor under the guard: 0..255 or MMK_EFAULT. Guarded
   inline rather than through a helper: Python indexing calls this once per
   byte. Nothing computed before sigsetjmp is used after. */
static int read_byte_at(const unsigned char *p) {
    mmk__guard g;
    if (MMK__SETJMP(g.env) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    int value = *(const volatile unsigned char *)p;
    mmk__guard_pop(&g);
    return value;
}

int mmk_read_byte(mmk_map *m) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    if (m->pos >= m->length) {
        rc = MMK_ERANGE;
    } else {
        rc = read_byte_at(map_at(m, m->pos));
        if (rc >= 0)
            m->pos++;
        else
            rc = fault_cause(m, m->pos, 1);
    }
    map_unhold(m);
    return rc;
}

int64_t mmk_line_length(const mmk_map *m) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    uint64_t avail = m->length - m->pos;
    size_t idx = 0;
    rc = guarded_result(m, mmk__guarded_memchr(map_at(m, m->pos), '\n', (size_t)avail, &idx),
                        m->pos, avail);
    map_unhold(m);
    if (rc < 0)
        return rc;
    return (int64_t)(idx < avail ? idx + 1 : idx);
}

int64_t mmk_readline(mmk_map *m, void *buf, size_t cap) {
    if (m == NULL || (buf == NULL && cap > 0))
        return m == NULL || !map_closed(m) ? -EINVAL : MMK_ECLOSED;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    uint64_t avail = m->length - m->pos;
    size_t window = cap < avail ? cap : (size_t)avail;
    size_t k = 0;
    if (window > 0) {
        const unsigned char *src = map_at(m, m->pos);
        size_t idx;
        rc = mmk__guarded_memchr(src, '\n', window, &idx);
        if (rc == 0) {
            k = idx < window ? idx + 1 : window;
            rc = mmk__guarded_copy(buf, src, k);
        }
        rc = guarded_result(m, rc, m->pos, window);
        if (rc == 0)
            m->pos += k;
    }
    map_unhold(m);
    return rc < 0 ? rc : (int64_t)k;
}

int64_t mmk_write(mmk_map *m, const void *buf, size_t n) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    if (m->access == MMK_ACCESS_READ)
        rc = MMK_EREADONLY;
    else if (buf == NULL && n > 0)
        rc = -EINVAL;
    else if (n > m->length - m->pos || n > (size_t)INT64_MAX)
        rc = MMK_ERANGE;
    else
        rc = map_reserve(m, m->pos, n);
    if (rc == 0)
        rc = guarded_result(m, mmk__guarded_copy(map_at(m, m->pos), buf, n), m->pos, n);
    if (rc == 0)
        m->pos += n;
    map_unhold(m);
    return rc < 0 ? rc : (int64_t)n;
}

/* Stores one byte under the guard: 0 or MMK_EFAULT. */
static int write_byte_at(unsigned char *p, uint8_t byte) {
    mmk__guard g;
    if (MMK__SETJMP(g.env) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    *(volatile unsigned char *)p = byte;
    mmk__guard_pop(&g);
    return 0;
}

int mmk_write_byte(mmk_map *m, uint8_t byte) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    if (m->access == MMK_ACCESS_READ)
        rc = MMK_EREADONLY;
    else if (m->pos >= m->length)
        rc = MMK_ERANGE;
    else
        rc = map_reserve(m, m->pos, 1);
    if (rc == 0)
        rc = guarded_result(m, write_byte_at(map_at(m, m->pos), byte), m->pos, 1);
    if (rc == 0)
        m->pos++;
    map_unhold(m);
    return rc;
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
    if (MMK__SETJMP(g.env) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    hit = mmk__memmem(hay, len, needle, n);
    mmk__guard_pop(&g);
    *idx = hit ? (int64_t)(hit - hay) : -1;
    return 0;
}

/* Rightmost byte c in s[0, n) under the guard: offset into *idx or -1. */
static int guarded_mmk__memrchr(const unsigned char *s, int c, size_t n, int64_t *idx) {
    mmk__guard g;
    const unsigned char *hit = NULL;
    if (MMK__SETJMP(g.env) != 0)
        return MMK_EFAULT;
    mmk__guard_push(&g);
    hit = mmk__memrchr(s, c, n);
    mmk__guard_pop(&g);
    *idx = hit ? (int64_t)(hit - s) : -1;
    return 0;
}

/* Copies src[0, n) reversed into dst under the guard. */
static int guarded_copy_reversed(unsigned char *dst, const unsigned char *src, size_t n) {
    mmk__guard g;
    if (MMK__SETJMP(g.env) != 0)
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
        const unsigned char *hit = mmk__memmem(buf, hi - lo, rev_needle, n);
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
   its end for rfind), 0 when a search is needed, or a negative error. On 0
   the map is held: the caller searches, then calls map_unhold. */
static int find_prepare(const mmk_map *m, const void *needle, size_t n, int64_t start, int64_t end,
                        int reverse, int64_t *pos, uint64_t *s, uint64_t *e) {
    if (m == NULL || pos == NULL || (needle == NULL && n > 0))
        return -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    /* The cursor is read only when it is the default: a find with explicit
       bounds may run beside the thread that owns the cursor. */
    *s = slice_index(start, start == MMK_DEFAULT_POS ? (int64_t)m->pos : 0, m->length);
    *e = slice_index(end, (int64_t)m->length, m->length);
    if (*s > *e || n > *e - *s) {
        *pos = -1;
        map_unhold(m);
        return 1;
    }
    if (n == 0) {
        *pos = (int64_t)(reverse ? *e : *s);
        map_unhold(m);
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
    rc = guarded_result(m, rc, s, e - s);
    map_unhold(m);
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
        rc = guarded_mmk__memrchr(hay, *(const unsigned char *)needle, (size_t)(e - s), &idx);
    else
        rc = rfind_long(hay, (size_t)(e - s), needle, n, &idx);
    rc = guarded_result(m, rc, s, e - s);
    map_unhold(m);
    if (rc < 0)
        return rc;
    *pos = idx < 0 ? -1 : (int64_t)s + idx;
    return 0;
}

/* ---- random access ------------------------------------------------------ */

int mmk_move(mmk_map *m, uint64_t dest, uint64_t src, uint64_t count) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    if (m->access == MMK_ACCESS_READ)
        rc = MMK_EREADONLY;
    else if (src > m->length || count > m->length - src || dest > m->length ||
             count > m->length - dest)
        rc = MMK_ERANGE;
    else
        rc = map_reserve(m, dest, count);
    if (rc == 0) {
        rc = mmk__guarded_move(map_at(m, dest), map_at(m, src), (size_t)count);
        uint64_t lo = dest < src ? dest : src;
        rc = guarded_result(m, rc, lo, (dest < src ? src : dest) + count - lo);
    }
    map_unhold(m);
    return rc;
}

int mmk_copy_out(const mmk_map *m, uint64_t offset, void *buf, size_t n) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    if (buf == NULL && n > 0)
        rc = -EINVAL;
    else if (offset > m->length || n > m->length - offset)
        rc = MMK_ERANGE;
    else
        rc = guarded_result(m, mmk__guarded_copy(buf, map_at(m, offset), n), offset, n);
    map_unhold(m);
    return rc;
}

int mmk_copy_in(mmk_map *m, uint64_t offset, const void *buf, size_t n) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    if (m->access == MMK_ACCESS_READ)
        rc = MMK_EREADONLY;
    else if (buf == NULL && n > 0)
        rc = -EINVAL;
    else if (offset > m->length || n > m->length - offset)
        rc = MMK_ERANGE;
    else
        rc = map_reserve(m, offset, n);
    if (rc == 0)
        rc = guarded_result(m, mmk__guarded_copy(map_at(m, offset), buf, n), offset, n);
    map_unhold(m);
    return rc;
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
            if (m->kind == KIND_ANON_SHARED && m->fd < 0) {
                /* Shared anonymous memory lives in the mapping alone: it can
                   only lose its tail (growing was refused by the caller). */
                if (new_span > old_span)
                    return MMK_ENOTSUP;
                size_t ps = (size_t)mmk__os_page_size();
                size_t keep = (new_span + ps - 1) / ps * ps, had = (old_span + ps - 1) / ps * ps;
                rc = keep < had ? mmk__os.unmap((char *)m->base + keep, had - keep) : 0;
                if (rc < 0)
                    return rc;
                m->length = new_length;
                return 0;
            }
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

/* Make the file `target` bytes long, shorter than it is, while the map has
   its new length. Windows refuses to shrink a file that has a view (-EBUSY
   from the platform layer): take the view down, shrink the file, map again.
   On failure the map has its new length (or, if even that cannot be mapped
   again, none). */
static int shrink_file_under_map(mmk_map *m, uint64_t target) {
    int rc = mmk__os.truncate(m->fd, target);
    if (rc != -EBUSY || m->base == NULL)
        return rc;
    uint64_t length = m->length;
    rc = remap_region(m, 0);
    if (rc < 0)
        return rc;
    int trc = mmk__os.truncate(m->fd, target);
    rc = remap_region(m, length);
    return trc < 0 ? trc : rc;
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
        if (m->kind == KIND_ANON_SHARED && new_length > old_length) {
            /* As mremap would account the growth of an ordinary shared
               anonymous map (see anon_account_check). */
            rc = anon_account_check(new_length - old_length);
            if (rc < 0)
                return rc;
        }
        if (target > old_size) {
            uint64_t from = m->offset > old_size ? m->offset : old_size;
            rc = m->kind == KIND_FILE ? grow_file(m->fd, old_size, from, target)
                                      : mmk__os.truncate(m->fd, target);
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
            rc = shrink_file_under_map(m, target);
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
        rc = target < old_size ? shrink_file_under_map(m, target) : mmk__os.truncate(m->fd, target);
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
    if (m->kind != KIND_FILE && new_length > (uint64_t)PTRDIFF_MAX)
        return -ENOMEM; /* as mmk_open_anon: more than any address space holds (32-bit) */
    int rc = map_begin_exclusive(m);
    if (rc < 0)
        return rc;
    rc = resize_locked(m, new_length);
    if (m->pos > m->length)
        m->pos = m->length;
    /* The map has a new shape: what it knew about holes is looked up again. */
    atomic_store_explicit(&m->backed_end, 0, memory_order_relaxed);
    atomic_store_explicit(&m->reserve, RESERVE_UNPROBED, memory_order_relaxed);
    map_end_exclusive(m, 0);
    return rc;
}

/*
 * The length a file map should have for a file of `size` bytes: what lies
 * past the map's offset, 0 when the file now ends before it.
 */
static uint64_t follow_length(const mmk_map *m, uint64_t size) {
    return size > m->offset ? size - m->offset : 0;
}

/*
 * Fits the view of a file map to the file's current size, never touching
 * the file. A copy-on-write map keeps the pages it wrote only through mremap,
 * so without it such a map refuses rather than silently dropping them.
 */
int mmk_follow_file(mmk_map *m, uint64_t *new_length) {
    if (m == NULL)
        return -EINVAL;
    if (map_closed(m))
        return MMK_ECLOSED;
    if (m->kind != KIND_FILE)
        return MMK_EANON;
    if (m->fd < 0)
        return -EBADF;

    /* A reader polls this: when the size has not moved, answer under a
       plain hold (no process barrier, views and other threads' calls do not
       refuse it). */
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    mmk__os_stat st;
    rc = mmk__os.fstat(m->fd, &st);
    uint64_t have = m->length;
    map_unhold(m);
    if (rc < 0)
        return rc;
    if (follow_length(m, st.size) == have) {
        if (new_length)
            *new_length = have;
        return 0;
    }

    rc = map_begin_exclusive(m);
    if (rc < 0)
        return rc;
    /* Asked again: the file may have moved while the map was being taken. */
    rc = mmk__os.fstat(m->fd, &st);
    uint64_t want = follow_length(m, st.size);
    if (rc == 0 && m->access == MMK_ACCESS_COPY && m->base && want > 0 && want != m->length) {
        /* Only mremap carries the private pages over; remap_region's
           fallback (a fresh mapping) would show the file's bytes instead. */
        size_t old_span, new_span;
        void *p = NULL;
        rc = map_span(m->delta, m->length, &old_span);
        if (rc == 0)
            rc = map_span(m->delta, want, &new_span);
        if (rc == 0)
            rc = mmk__os.remap(m->base, old_span, new_span, &p);
        if (rc == 0) {
            m->base = p;
            m->length = want;
        }
    } else if (rc == 0) {
        rc = remap_region(m, want);
    }
    if (m->pos > m->length)
        m->pos = m->length;
    /* A new shape: what the map knew about holes is looked up again (another
       process may have grown the file sparse). */
    atomic_store_explicit(&m->backed_end, 0, memory_order_relaxed);
    atomic_store_explicit(&m->reserve, RESERVE_UNPROBED, memory_order_relaxed);
    uint64_t len = m->length;
    map_end_exclusive(m, 0);
    if (rc < 0)
        return rc;
    if (new_length)
        *new_length = len;
    return 0;
}

/* ---- flush / advice / populate / lock ----------------------------------- */

int mmk_flush(mmk_map *m, uint64_t offset, uint64_t length, unsigned flags) {
    if (m == NULL)
        return -EINVAL;
    if (flags & ~(unsigned)(MMK_FLUSH_ASYNC | MMK_FLUSH_INVALIDATE))
        return map_closed(m) ? MMK_ECLOSED : -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    uint64_t len;
    rc = map_range(m, offset, length, &len);
    /* Only shared writable file maps have anything to write back. */
    if (rc == 0 && m->kind == KIND_FILE && m->access == MMK_ACCESS_WRITE && len > 0) {
        void *addr;
        size_t plen;
        map_page_range(m, offset, len, &addr, &plen);
        rc = mmk__os.sync(addr, plen, (int)flags);
    }
    map_unhold(m);
    return rc;
}

/* Which page operation map_pages runs. */
enum page_op { PAGE_ADVISE, PAGE_LOCK, PAGE_UNLOCK };

/* Runs a page operation over [offset, offset + length) with the map held. */
static int map_pages(mmk_map *m, int op, int native_advice, uint64_t offset, uint64_t length) {
    if (m == NULL)
        return -EINVAL;
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    uint64_t len;
    rc = map_range(m, offset, length, &len);
    if (rc == 0 && len > 0) {
        void *addr;
        size_t plen;
        map_page_range(m, offset, len, &addr, &plen);
        if (op == PAGE_ADVISE)
            rc = mmk__os.advise(addr, plen, native_advice);
        else if (op == PAGE_LOCK)
            rc = mmk__os.lock(addr, plen);
        else
            rc = mmk__os.unlock(addr, plen);
    }
    map_unhold(m);
    return rc;
}

int mmk_advise_native(mmk_map *m, int native_advice, uint64_t offset, uint64_t length) {
    return map_pages(m, PAGE_ADVISE, native_advice, offset, length);
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
    rc = map_pages(m, PAGE_ADVISE, native, offset, length);
    /* A kernel built without transparent huge pages rejects the advice. */
    if (rc == -EINVAL && advice == MMK_ADVICE_HUGEPAGE)
        return MMK_ENOTSUP;
    return rc;
}

/* Reads one byte per page of [p, p + len) under the guard. */
static int touch_pages(const unsigned char *p, size_t len) {
    uintptr_t ps = (uintptr_t)mmk__os_page_size();
    mmk__guard g;
    if (MMK__SETJMP(g.env) != 0)
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
    int rc = map_hold(m);
    if (rc < 0)
        return rc;
    uint64_t len;
    rc = map_range(m, offset, length, &len);
    if (rc == 0 && len > 0) {
        void *addr;
        size_t plen;
        map_page_range(m, offset, len, &addr, &plen);
        /* Anonymous memory is populated for writing so that it is really
           allocated (read faults would map the shared zero page); file pages
           are only read in, so no page is dirtied or copied. */
        int native;
        rc = MMK_ENOTSUP;
        if (mmk__os_populate_advice(m->kind != KIND_FILE, &native) == 0) {
            rc = mmk__os.advise(addr, plen, native);
            if (rc == -EFAULT)
                rc = MMK_EFAULT; /* a page could not be faulted in */
        }
        /* Older kernels do not know the advice: touch the pages instead. */
        if (rc != 0 && rc != MMK_EFAULT)
            rc = touch_pages(addr, plen);
        rc = guarded_result(m, rc, offset, len);
    }
    map_unhold(m);
    return rc;
}

int mmk_lock_pages(mmk_map *m, uint64_t offset, uint64_t length) {
    return map_pages(m, PAGE_LOCK, 0, offset, length);
}

int mmk_unlock_pages(mmk_map *m, uint64_t offset, uint64_t length) {
    return map_pages(m, PAGE_UNLOCK, 0, offset, length);
}

/* ---- views ------------------------------------------------------------------ */

/* Counts one more borrower of the map's memory; refused once closed. */
int mmk_view_acquire(mmk_map *m, void **data, uint64_t *length) {
    if (m == NULL)
        return -EINVAL;
    for (;;) {
        uint64_t s = atomic_load_explicit(&m->state, memory_order_acquire);
        if (s & (ST_CLOSED | ST_CLOSING))
            return MMK_ECLOSED;
        if (s & ST_BUSY) {
            mmk__os_yield(); /* a resize is in progress: wait for its result */
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
    uint64_t s = atomic_load_explicit(&m->state, memory_order_acquire);
    while ((s & ST_VIEWS) != 0) {
        if (atomic_compare_exchange_weak_explicit(&m->state, &s, s - 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return;
    }
}

unsigned mmk_view_count(const mmk_map *m) {
    if (m == NULL)
        return 0;
    return (unsigned)(map_state(m) & ST_VIEWS);
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
