/*
 * os.h — the platform layer under map.c (internal).
 *
 * Every system call that opens, sizes or maps a file goes through the table
 * `mmk__os` below, which one file per platform fills in (os_unix.c; an
 * os_win.c would fill the same table from CreateFileMapping/MapViewOfFile).
 * map.c never names a system call, so it is the same on every platform.
 *
 * The table is a plain writable struct on purpose (as SQLite's VFS syscall
 * table): tests replace single entries to inject failures — ftruncate that
 * fails with -ENOSPC, mremap that is missing — and prove that map.c cleans up
 * and rolls back. Nothing in the library writes to it.
 *
 * Conventions: every function returns 0 (or a descriptor / byte count) on
 * success and a negative code on failure (-errno, or MMK_ENOTSUP for a
 * feature the platform lacks). Offsets are 64-bit.
 */
#ifndef MMK_OS_H
#define MMK_OS_H

#include <stddef.h>
#include <stdint.h>

#include "mmkit.h"

/* Flags for mmk__os.open. */
enum mmk__os_open_flags {
    MMK__OS_OPEN_WRITE = 1u << 0,  /* read-write instead of read-only */
    MMK__OS_OPEN_CREATE = 1u << 1, /* create if missing */
    MMK__OS_OPEN_EXCL = 1u << 2    /* with CREATE: fail with -EEXIST if it exists */
};

/* What kind of file a descriptor refers to. */
enum mmk__os_file_type {
    MMK__OS_REGULAR = 1,
    MMK__OS_DIRECTORY = 2,
    MMK__OS_OTHER = 3 /* FIFO, socket, device: not mappable by mmkit */
};

typedef struct mmk__os_stat {
    uint64_t size;
    int type; /* enum mmk__os_file_type */
} mmk__os_stat;

/* How to map, for mmk__os.map. */
enum mmk__os_map_flags {
    MMK__OS_MAP_WRITE = 1u << 0,   /* writable (else read-only) */
    MMK__OS_MAP_PRIVATE = 1u << 1, /* copy-on-write / private anonymous (else shared) */
    MMK__OS_MAP_ANON = 1u << 2,    /* anonymous zeroed memory; fd and offset ignored */
    MMK__OS_MAP_POPULATE = 1u << 3 /* prefault at map time where the platform can */
};

/* Alignment of offsets, lengths and buffers for reads through
   mmk__os.open_direct's descriptors (the largest logical block size in
   common use). */
#define MMK__OS_DIRECT_ALIGN 4096u

/* Advice about a file's cached pages, for mmk__os.file_advise. */
enum mmk__os_file_advice {
    MMK__OS_FILE_WILLNEED = 1, /* start reading the range in; do not wait for it */
    MMK__OS_FILE_DONTNEED = 2  /* drop the range's clean cached pages (no longer needed) */
};

typedef struct mmk__os_methods {
    /* Open `path` close-on-exec without blocking on FIFOs or devices; the
       returned descriptor is in blocking mode. Returns the descriptor or -errno. */
    int (*open)(const char *path, unsigned flags, unsigned mode);
    /* Close a descriptor the library owns. */
    int (*close)(int fd);
    /* A close-on-exec duplicate of `fd`, or -errno. */
    int (*dup)(int fd);
    /* Whether `fd` was opened for reading and/or writing (-EBADF if not a usable descriptor). */
    int (*fd_mode)(int fd, int *readable, int *writable);
    int (*fstat)(int fd, mmk__os_stat *st);
    /* As fstat, by path (follows symbolic links). */
    int (*stat)(const char *path, mmk__os_stat *st);
    /* Set the file's size (grow with zeros or shrink). */
    int (*truncate)(int fd, uint64_t size);
    int (*unlink)(const char *path);
    /* Map `len` bytes of `fd` at `offset` (a multiple of the allocation
       granularity). `native_flags` are OR-ed into the platform's flags. */
    int (*map)(int fd, uint64_t offset, size_t len, unsigned how, int native_flags, void **addr);
    /* Change a mapping's length, moving it if needed; MMK_ENOTSUP where the
       platform cannot (map.c then falls back to unmap + map). On failure the
       old mapping is unchanged. */
    int (*remap)(void *addr, size_t old_len, size_t new_len, void **new_addr);
    int (*unmap)(void *addr, size_t len);
    /* Write back [addr, addr+len) (addr page-aligned); `flags`: enum mmk_flush_flags. */
    int (*sync)(void *addr, size_t len, int flags);
    /* Pass an advice value through (addr page-aligned). */
    int (*advise)(void *addr, size_t len, int native_advice);
    int (*lock)(void *addr, size_t len);
    int (*unlock)(void *addr, size_t len);
    /* A new close-on-exec descriptor for zero-sized, unnamed shared memory that
       can be sized with `truncate` and mapped shared (Linux memfd), so shared
       anonymous maps can grow; MMK_ENOTSUP where the platform has none or
       refuses to give one (no kernel support, a sandbox). */
    int (*anon_fd)(void);
    /* Positional read; returns bytes read (0 at end of file) or -errno. */
    int64_t (*pread)(int fd, void *buf, size_t n, uint64_t offset);
    /* Advice about the page cache of [offset, offset + len) of a regular file
       (enum mmk__os_file_advice), about the file, not a descriptor: nothing
       of the descriptor (its offset, its read-ahead) changes. WILLNEED queues
       reads of the range and returns (scan.c keeps reads in flight ahead of
       its workers); DONTNEED drops the range's clean pages that no map
       holds (scan.c's MMK_SCAN_NO_CACHE, behind the scan). Only advice: the
       bytes read are the same either way. MMK_ENOTSUP where the platform
       has no such thing (macOS, Windows), else 0 or -errno. */
    int (*file_advise)(int fd, uint64_t offset, uint64_t len, int advice);
    /* A new read-only, close-on-exec descriptor of the regular file open as
       `fd` whose reads bypass the page cache (Linux: O_DIRECT; offsets,
       lengths and buffers must then be multiples of MMK__OS_DIRECT_ALIGN),
       or MMK_ENOTSUP where the platform or the file system has none. The
       caller's descriptor is left as it was. scan.c reads files larger than
       memory through it. */
    int (*open_direct)(int fd);
    /* Reserve disk blocks for [offset, offset + len) of the file, so that
       later writes there cannot fail for want of space. Without `keep_size`
       the file grows to offset + len if it is shorter (the blocks are
       allocated, not merely promised as ftruncate does); with `keep_size` the
       size never changes. -ENOSPC, -EDQUOT, -EIO … when the reservation
       fails (the file may then have grown part of the way: the caller puts
       the size back), MMK_ENOTSUP where the platform or the filesystem cannot
       reserve (Linux EOPNOTSUPP: FAT before 6.x, some FUSE and network
       filesystems). */
    int (*allocate)(int fd, uint64_t offset, uint64_t len, int keep_size);
    /* Offset of the first hole (a range without blocks) at or after `offset`;
       the file size when there is none (a filesystem that does not track
       holes reports none). -ENXIO when offset is at or past the end,
       MMK_ENOTSUP where the platform cannot tell. */
    int64_t (*next_hole)(int fd, uint64_t offset);
    /* Sleep about `usec` microseconds (waiting for holders of a map to leave). */
    void (*sleep_us)(unsigned usec);
    /* Make process_barrier usable (once per process): 0, or MMK_ENOTSUP
       where the platform or a sandbox has no such thing. */
    int (*process_barrier_setup)(void);
    /* Run a full memory barrier on every thread of this process that is
       running now (Linux membarrier, private expedited); the others pass one
       when they are scheduled again. Lets the per-call hold of a map use plain
       stores, with the rare close paying for the ordering instead. */
    int (*process_barrier)(void);
    /* 1 where the page cache holds the file open as `fd` in large folios
       that a map takes 2 MiB per fault (Linux 6.16 and later, ext4 or XFS;
       measured on 6.18 and ext4), 0 elsewhere. The maps scan.c makes itself
       then get huge-page advice and no read-ahead hints, which made the
       kernel read 4 KiB pages; its default for files larger than memory is
       the direct ring all the same (see mmk__scan_run). */
    int (*file_maps_fast)(int fd);
} mmk__os_methods;

/* The live table. Tests may replace entries (and must restore them). */
extern mmk__os_methods mmk__os;
/* The platform's original entries, for tests to restore or wrap. */
extern const mmk__os_methods mmk__os_default;

/* Page size and mapping-offset granularity (cached after the first call). */
uint64_t mmk__os_page_size(void);
uint64_t mmk__os_granularity(void);

/* Translate enum mmk_advice to the platform's value: 0, MMK_ENOTSUP (no such
   advice here) or -EINVAL (unknown advice). */
int mmk__os_advice(int advice, int *native);

/* The platform advice that prefaults pages without touching them (Linux
   MADV_POPULATE_READ; MADV_POPULATE_WRITE when `for_write`, which also
   allocates anonymous memory), or MMK_ENOTSUP. */
int mmk__os_populate_advice(int for_write, int *native);

/* Name anonymous memory [addr, addr+len) (addr page-aligned) for
   /proc/PID/maps: 0, MMK_ENOTSUP where the platform or the kernel cannot name
   it (no PR_SET_VMA_ANON_NAME, or memory the kernel does not name, such as a
   memfd), or -errno. `name` was checked by the caller. */
int mmk__os_set_anon_name(void *addr, size_t len, const char *name);

/* ---- threads, clocks and process facts (the rest of the library) --------
 *
 * scan.c, map.c, words.c and the others never name pthreads, the clock or
 * sysconf: they use these. POSIX maps them onto pthreads (os_unix.c);
 * Windows onto its native primitives (os_win.c: CreateThread, SRWLOCK,
 * CONDITION_VARIABLE, InitOnceExecuteOnce, FlsAlloc), not winpthreads. The
 * types are selected here so that callers can embed them; on Windows each is
 * the size of the native object it stands for (one pointer). */
#ifdef _WIN32
typedef struct mmk__thread {
    void *handle;
} mmk__thread;
typedef struct mmk__mutex {
    void *srw; /* SRWLOCK */
} mmk__mutex;
typedef struct mmk__cond {
    void *cv; /* CONDITION_VARIABLE */
} mmk__cond;
typedef struct mmk__once_t {
    void *init_once; /* INIT_ONCE */
} mmk__once_t;
#define MMK__ONCE_INIT                                                                             \
    { 0 }
typedef unsigned long mmk__tls_key; /* an FLS index */
#else
#include <pthread.h>
typedef struct mmk__thread {
    pthread_t tid;
} mmk__thread;
typedef pthread_mutex_t mmk__mutex;
typedef pthread_cond_t mmk__cond;
typedef pthread_once_t mmk__once_t;
#define MMK__ONCE_INIT PTHREAD_ONCE_INIT
typedef pthread_key_t mmk__tls_key;
#endif

/* Start fn(arg) on a new thread: 0, or a negative code (the caller then
   does the work itself or fails cleanly). */
int mmk__thread_create(mmk__thread *t, void *(*fn)(void *), void *arg);
/* Wait for a thread started by mmk__thread_create and free it. */
void mmk__thread_join(mmk__thread t);
/* Mutexes and condition variables of one process. Initialisation cannot
   fail on either platform with default attributes. */
void mmk__mutex_init(mmk__mutex *mu);
void mmk__mutex_destroy(mmk__mutex *mu);
void mmk__mutex_lock(mmk__mutex *mu);
void mmk__mutex_unlock(mmk__mutex *mu);
void mmk__cond_init(mmk__cond *cv);
void mmk__cond_destroy(mmk__cond *cv);
void mmk__cond_wait(mmk__cond *cv, mmk__mutex *mu);
/* Wait at most `ns` nanoseconds (a wake-up may also be spurious). */
void mmk__cond_timedwait(mmk__cond *cv, mmk__mutex *mu, uint64_t ns);
void mmk__cond_signal(mmk__cond *cv);
void mmk__cond_broadcast(mmk__cond *cv);
/* Run fn once per process, whichever thread gets there first; the others
   wait until it has run. */
void mmk__once(mmk__once_t *once, void (*fn)(void));
/* A thread-local key whose non-NULL value is passed to `dtor` when its
   thread exits: 0 or a negative code. */
int mmk__tls_create(mmk__tls_key *key, void (*dtor)(void *));
int mmk__tls_set(mmk__tls_key key, void *value);
/* Run `child` in the child process after fork() (nothing where there is no
   fork): 0 or a negative code. */
int mmk__os_atfork_child(void (*child)(void));
/* Give up the processor to another runnable thread. */
void mmk__os_yield(void);
/* A monotonic clock in nanoseconds (its zero is arbitrary). */
uint64_t mmk__os_now_ns(void);
/* Seconds since 1970-01-01 UTC, the wall clock. */
int64_t mmk__os_wall_seconds(void);
/* Processors online (at least 1). */
unsigned mmk__os_cpu_count(void);
/* Bytes of physical memory, or 0 where unknown. */
uint64_t mmk__os_memory_size(void);

/* ---- descriptors as streams (scan.c, decode.c, tally.c) ---------------- */

/* One read() at the descriptor's own offset, retrying EINTR: bytes read
   (0 at the end) or -errno. */
int64_t mmk__os_read(int fd, void *buf, size_t n);
/* 1 when a read of `fd` would not block now (data or the end are there),
   else 0. Where the platform cannot tell, 1. */
int mmk__os_fd_ready(int fd);
/* Wait until a read of `fd` would not block (data, the end or an error are
   there): 0, or -errno. */
int mmk__os_fd_wait(int fd);
/* 1 for files whose reported size is not their length (Linux procfs and
   sysfs say 0 or 4096 whatever the contents): they are read as streams. */
int mmk__os_size_is_a_guess(int fd);

/* ---- the fault guard's platform half (guard.c has the portable half) ----
 *
 * A guard is a jump buffer the platform's fault handler jumps to. POSIX:
 * sigsetjmp(env, 0) saves no signal mask (no system call; the handler runs
 * with SA_NODEFER). Windows: GCC's __builtin_setjmp, which saves only the
 * frame, stack and resume address, so the jump never runs the C library's
 * SEH unwinding from inside an exception. Both are called as MMK__SETJMP in
 * the function that pushes the guard, and return nonzero after a fault. */
#ifdef _WIN32
typedef void *mmk__jmp_buf[5];
#define MMK__SETJMP(env) __builtin_setjmp(env)
#define MMK__LONGJMP(env) __builtin_longjmp(env, 1)
#else
#include <setjmp.h>
typedef sigjmp_buf mmk__jmp_buf;
#define MMK__SETJMP(env) sigsetjmp(env, 0)
#define MMK__LONGJMP(env) siglongjmp(env, 1)
#endif

/* Install the fault handler the first time, then put it back in front of
   handlers installed over it since (POSIX: one sigaction call): 0 or -errno. */
int mmk__os_guard_install(void);
/* Called by the outermost guard of a thread before it is pushed: forget the
   thread's last passed-on fault and re-install (mmk__os_guard_install). */
void mmk__os_guard_arm(void);

/* initial-exec TLS: reading it from the signal handler never allocates, even
   when libmmkit is inside a dlopen'd module (the Python extension), where the
   general-dynamic model may allocate a thread's block on first use. */
#if defined(__GNUC__) && !defined(_WIN32)
#define MMK__TLS_MODEL __attribute__((tls_model("initial-exec")))
#else
#define MMK__TLS_MODEL
#endif

/* Position of the last byte `c` in s[0, n), or NULL; and of the first
   needle[0, nn) in hay[0, hn), or NULL (hay when nn is 0): the C library's
   memrchr and memmem where it has them (GNU extensions), plain loops
   elsewhere. */
#if defined(__GLIBC__)
#include <string.h>
#define mmk__memrchr memrchr
#define mmk__memmem memmem
#else
#include <string.h>
static inline void *mmk__memmem(const void *hay, size_t hn, const void *needle, size_t nn) {
    const unsigned char *h = (const unsigned char *)hay, *n = (const unsigned char *)needle;
    if (nn == 0)
        return (void *)h;
    while (hn >= nn) {
        const unsigned char *p = (const unsigned char *)memchr(h, n[0], hn - nn + 1);
        if (p == NULL)
            return NULL;
        if (memcmp(p, n, nn) == 0)
            return (void *)p;
        hn -= (size_t)(p - h) + 1;
        h = p + 1;
    }
    return NULL;
}
static inline void *mmk__memrchr(const void *s, int c, size_t n) {
    const unsigned char *p = (const unsigned char *)s + n;
    while (p > (const unsigned char *)s)
        if (*--p == (unsigned char)c)
            return (void *)p;
    return NULL;
}
#endif

/* ---- named shared memory (shm.c) ------------------------------------------
 *
 * `name` is shm.c's validated form: "/" + one component. The descriptor
 * returned is what mmk_open_fd maps and the other calls here take. POSIX:
 * shm_open objects, which live until unlinked. Windows: a section of the
 * paging file named Local\mmkit.<component>, behind a descriptor number of
 * os_win.c's own (not a C runtime one) that the table's entries understand;
 * a section is sized once, when created, and vanishes with its last handle. */
enum mmk__os_shm_how {
    MMK__OS_SHM_OPEN = 0,       /* must exist */
    MMK__OS_SHM_CREATE_EXCL = 1 /* must not exist; created by this call */
};
/* Open or create `name` close-on-exec, read-write or read-only. A created
   object gets exactly `mode` (POSIX permission bits; Windows: an owner-only
   security descriptor, plus everyone's read or write access when `mode`
   gives it to others) and, where the platform must size an object when
   creating it (Windows), `length` bytes (0 there: -EINVAL). A created object
   that could not be finished is removed again. Returns a descriptor or a
   negative code (-EEXIST, -ENOENT, -EACCES …). */
int mmk__os_shm_open(const char *name, int how, int writable, unsigned mode, uint64_t length);
/* Current size of the object (Windows: of its section, a whole number of pages). */
int mmk__os_shm_size(int fd, uint64_t *size);
/* Set the object's size (new bytes read as zero). Windows cannot resize a
   section: 0 when `size` is not larger than it already is, else MMK_ENOTSUP. */
int mmk__os_shm_set_size(int fd, uint64_t size);
/* 0 when the caller's user owns the existing object and it grants no more
   than `mode` (POSIX permission bits; Windows: the section's owner is the
   caller's user), else MMK_EOWNER, or a negative code. */
int mmk__os_shm_check_owner(int fd, unsigned mode);
void mmk__os_shm_close(int fd);
/* Remove the name: 0, -ENOENT … Windows has no such thing (a section goes
   with its last handle): 0 when an object of that name exists, else -ENOENT. */
int mmk__os_shm_unlink(const char *name);

#endif
