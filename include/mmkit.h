/*
 * mmkit.h — memory-mapped file processing done properly.
 *
 * The one public header of libmmkit. Everything the `mmk` tool and the Python
 * module use is declared here; nothing else is public.
 *
 * Conventions
 * -----------
 * - Public names start with `mmk_` / `MMK_`; internal ones with `mmk__`.
 * - Functions return 0 (or a non-negative count/position) on success and a
 *   negative error code on failure: either `-errno` (for example `-ENOENT`)
 *   or one of the library codes `MMK_E*` below, which live in their own range
 *   (-5000 and below) so they never collide with an errno. `mmk_strerror()`
 *   and `mmk_errname()` explain any code. Output parameters are written only
 *   on success unless stated otherwise.
 * - The library never exits, aborts or prints, and never raises a signal of
 *   its own.
 * - Offsets and lengths are 64-bit everywhere (`uint64_t` / `int64_t`), so
 *   files larger than 4 GiB work on every platform; on a 32-bit platform a map
 *   longer than the address space fails with `-ENOMEM` or `-EOVERFLOW`.
 * - Threads. Every map function may run in one thread while another thread
 *   calls mmk_close, mmk_close_wait or mmk_resize on the same map: each call
 *   that touches mapped bytes or the map's shape (copy in/out, find/rfind,
 *   move, flush, advise, populate, lock/unlock pages, read/readline/
 *   line_length/read_byte/write/write_byte/seek/tell, length/data/file size,
 *   scans) holds the map for its duration, so the memory is never unmapped
 *   under it: it either completes or returns MMK_ECLOSED, and a concurrent
 *   mmk_close returns MMK_EVIEWS instead of unmapping (mmk_close_wait waits
 *   for such calls). The hold costs a few nanoseconds (no atomic
 *   read-modify-write where the platform has a process-wide barrier: Linux
 *   membarrier). Not covered: mmk_free (no thread may use the handle once it
 *   is freed), and raw pointers (mmk_data, views) used after a close.
 *   The cursor is not synchronised: the cursor operations (read/write/seek/
 *   readline/read_byte/write_byte, and find/rfind with MMK_DEFAULT_POS as
 *   start) from two threads at once need your own lock, as for a `FILE *`.
 *   The mapped bytes themselves are not synchronised either: two threads
 *   writing (or one writing, one reading) the same bytes race, as in memory.
 *   `mmk_view_acquire`, `mmk_view_release`, `mmk_close` and every scan
 *   function are safe to call concurrently with each other on one map.
 *
 * Caveats
 * -------
 * - Raw pointers are not fault-guarded. `mmk_data()` and a view's pointer give
 *   direct access to the mapped pages. If the file is truncated by someone
 *   else while mapped, touching a page past the new end of file raises SIGBUS
 *   (POSIX) or EXCEPTION_IN_PAGE_ERROR (Windows) in *your* code, and the
 *   library cannot turn that into an error. Every library function that reads
 *   or writes mapped bytes on your behalf (read, readline, find, copy, write,
 *   move, scans, counts) runs under the fault guard and returns `MMK_EFAULT`
 *   instead. Use `mmk_guard_run()` to guard your own code the same way.
 * - Network filesystems (NFS, SMB, FUSE): another host's writes may not be
 *   visible through a map until the page cache is revalidated, `flush` may
 *   report success before the server has the data, and truncation by another
 *   host shows up as `MMK_EFAULT`. Use read()/write() based I/O where
 *   coherence across hosts matters.
 * - Growth while mapped: a map covers the length it had when it was opened or
 *   last resized. Bytes another process appends to the file afterwards are not
 *   visible through the map; `mmk_file_size()` shows the new size and
 *   `mmk_follow_file()` (any file map) extends the view to it.
 * - Copy-on-write maps (`MMK_ACCESS_COPY`) see the file's later changes only
 *   on pages they have not written to yet (the operating system's rule).
 * - Locked pages (`mmk_lock_pages`) count against RLIMIT_MEMLOCK.
 * - Disk space. Writing through a shared map allocates disk blocks when a
 *   page is first written; on a full disk the kernel can only raise SIGBUS.
 *   mmkit therefore reserves blocks before promising them: growing a file
 *   (mmk_resize, MMK_OPEN_GROW, MMK_OPEN_TRUNCATE with a length) allocates
 *   what the map will cover (fallocate), and a write through a writable
 *   file map (copy_in, write, write_byte, move) first reserves the range it
 *   writes unless the map knows that range has no holes (it asks the
 *   filesystem once, lseek SEEK_HOLE, and remembers the dense prefix, so an
 *   ordinary file pays nothing per write). A full disk or quota then fails
 *   the call with -ENOSPC / -EDQUOT (or -EIO) before any byte changes, and
 *   a failed growth leaves file and map as they were.
 *   Where the filesystem cannot reserve (fallocate EOPNOTSUPP: some FUSE,
 *   network and old FAT filesystems; platforms without fallocate) growth
 *   makes a sparse file as a plain mmap user would, and a write into a hole
 *   on a full disk faults part way: the call then returns -ENOSPC (or -EIO),
 *   but the bytes before the failing page may already be written.
 *   Copy-on-write filesystems (btrfs, ZFS) need new blocks even to
 *   overwrite, which no reservation covers: the same partial outcome is
 *   possible there. Maps without a tracked descriptor (MMK_OPEN_NO_DUP)
 *   cannot reserve either. Holes punched by someone else into a range the
 *   map already knows as dense are not noticed.
 * - Faults that are not truncations. When a guarded access faults although
 *   the file still covers the range, the call returns -ENOSPC (the range has
 *   a hole the disk cannot back: tmpfs raises this even for reads) or -EIO
 *   (the page could not be read), not MMK_EFAULT; MMK_EFAULT means the file
 *   really is shorter than the range now. A memfd-backed shared anonymous
 *   map that cannot get a page reports -ENOMEM. (Scans report faults
 *   themselves.)
 * - Fork. A hold or view another thread had at the moment of fork() stays
 *   counted in the child where it is a counted one (platforms without a
 *   process barrier; views always), so the child's mmk_close of that map
 *   returns MMK_EVIEWS (and mmk_close_wait would wait for a thread that does
 *   not exist there): in a child, close maps that no other thread was using
 *   at the fork, or just let the child exit.
 */
#ifndef MMKIT_H
#define MMKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(MMK_SHARED_BUILD)
#define MMK_API __declspec(dllexport)
#elif defined(_WIN32) && defined(MMK_SHARED)
#define MMK_API __declspec(dllimport)
#elif defined(__GNUC__)
#define MMK_API __attribute__((visibility("default")))
#else
#define MMK_API
#endif

#define MMK_VERSION_MAJOR 0
#define MMK_VERSION_MINOR 1
#define MMK_VERSION_PATCH 0
#define MMK_VERSION_STRING "0.1.0"

/** The library's version string ("0.1.0"); static storage. */
MMK_API const char *mmk_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Library error codes, generated from one X-macro table (also used by
 * mmk_strerror and mmk_errname). Each is negative and below -5000. -5010 is
 * retired and never reused: it was MMK_EOWNERDEAD, which reported a lock
 * that had in fact been acquired; that is now the positive
 * MMK_LOCK_OWNERDEAD, so code still comparing with the old name stops
 * compiling instead of silently skipping its repair.
 */
#define MMK_ERRNO_MAP(XX)                                                                  \
    XX(EFAULT, -5001, "mapped file shrank under the map (access past the end of the file)") \
    XX(ECLOSED, -5002, "map is closed")                                                     \
    XX(EVIEWS, -5003, "map is in use (buffers, scans or calls in other threads hold it)")   \
    XX(ERANGE, -5004, "offset or length out of range of the map")                           \
    XX(EREADONLY, -5005, "map is read-only")                                                \
    XX(EOFFSET, -5006, "offset is past the end of the file")                                \
    XX(ELENGTH, -5007, "offset + length goes past the end of the file")                     \
    XX(EPATTERN, -5008, "invalid pattern")                                                  \
    XX(ENOTSUP, -5009, "operation not supported on this platform or map")                   \
    XX(ENOTRECOVERABLE, -5011, "lock is not recoverable (owner died and state was not repaired)") \
    XX(ENOTREG, -5012, "not a regular file (cannot be mapped)")                             \
    XX(EACCESSMODE, -5013, "access mode does not fit the file's open mode")                 \
    XX(EANON, -5014, "operation needs a file-backed map")                                   \
    XX(EPAGEALIGN, -5015, "offset must be a multiple of the allocation granularity")       \
    XX(ELIMIT, -5016, "pattern too complex for the backtracking engine on this input (match, depth or heap limit reached)") \
    XX(EOWNER, -5017, "existing shared memory object is owned by another user or its mode is wider than requested") \
    XX(ECORRUPT, -5018, "compressed data is corrupt or ends early")                         \
    XX(ENOTIME, -5019, "no line carries a timestamp of the expected format")

enum mmk_errno {
#define MMK__ERR_ENUM(name, value, text) MMK_##name = value,
    MMK_ERRNO_MAP(MMK__ERR_ENUM)
#undef MMK__ERR_ENUM
    MMK__ERRNO_END = -5999
};

/**
 * A human-readable message for any code this library returns: library codes,
 * negative errno values, and 0 ("success"). Unknown codes give
 * "unknown error". The string has static storage; never free it. Thread-safe.
 */
MMK_API const char *mmk_strerror(int code);

/**
 * The symbolic name of a code: "MMK_EFAULT", "ENOENT", "OK" for 0,
 * "UNKNOWN" for anything else. Static storage. Thread-safe.
 */
MMK_API const char *mmk_errname(int code);

/* ------------------------------------------------------------------------ */
/* Opening and closing maps                                                  */
/* ------------------------------------------------------------------------ */

/** Access modes, as Python's ACCESS_READ / ACCESS_WRITE / ACCESS_COPY. */
enum mmk_access {
    MMK_ACCESS_READ = 1,  /**< read-only, shared with the file */
    MMK_ACCESS_WRITE = 2, /**< read-write, writes reach the file (shared) */
    MMK_ACCESS_COPY = 3   /**< read-write copy-on-write: writes never reach the file */
};

/** Flags for mmk_options.flags. */
enum mmk_open_flags {
    MMK_OPEN_CREATE = 1u << 0,   /**< mmk_open: create the file if missing (mode below) */
    MMK_OPEN_EXCL = 1u << 1,     /**< with CREATE: fail with -EEXIST if it exists */
    MMK_OPEN_TRUNCATE = 1u << 2, /**< mmk_open: truncate to 0 first (needs a length to map) */
    MMK_OPEN_GROW = 1u << 3,     /**< extend the file to offset+length if shorter (write maps) */
    MMK_OPEN_POPULATE = 1u << 4, /**< prefault the pages at open (MAP_POPULATE where present) */
    MMK_OPEN_NO_DUP = 1u << 5,   /**< mmk_open_fd: use the caller's descriptor as is instead of
                                      duplicating it (Python's trackfd=False: then the map does
                                      not track the file: no size/resize) */
};

/**
 * Options for mmk_open / mmk_open_fd. Zero-initialise and set what you need:
 * `mmk_options o = {0};` means read-only, whole file, offset 0.
 */
typedef struct mmk_options {
    int access;       /**< enum mmk_access; 0 means MMK_ACCESS_READ */
    uint64_t offset;  /**< any byte offset; aligned internally, the map starts exactly here */
    uint64_t length;  /**< bytes to map; 0 means from offset to the end of the file */
    unsigned flags;   /**< enum mmk_open_flags */
    unsigned mode;    /**< permission bits for MMK_OPEN_CREATE; 0 means 0600 */
    int native_flags; /**< extra platform mmap flags OR-ed in (POSIX MAP_*); 0 normally */
} mmk_options;

/** An open map. Opaque; created by mmk_open*, released by mmk_free. */
typedef struct mmk_map mmk_map;

/**
 * Map the file at `path`. `opt` may be NULL (read-only, whole file).
 *
 * The file is opened read-only for MMK_ACCESS_READ and MMK_ACCESS_COPY and
 * read-write for MMK_ACCESS_WRITE, with close-on-exec. The map owns that
 * descriptor until mmk_close.
 *
 * Empty files (or offset == file size with length 0) give a valid map of
 * length 0: mmk_data() returns NULL, reads return 0 bytes, find finds the
 * empty needle only.
 *
 * On success *out receives a new map that the caller owns and must release
 * with mmk_free(). On failure *out is set to NULL.
 *
 * Errors: -EINVAL (NULL out/path, bad access, bad flags), -ENOENT, -EACCES,
 * -EISDIR, MMK_ENOTREG (FIFO, socket, device that cannot be mapped),
 * MMK_EOFFSET (offset > file size), MMK_ELENGTH (offset + length > file size
 * on a map that may not grow the file), -ENOMEM, -EOVERFLOW (does not fit the
 * address space), -EMFILE, -ENOSPC / -EDQUOT / -EIO (MMK_OPEN_GROW could not
 * reserve the blocks of the grown part: the file keeps its size, and a file
 * this call created is removed again; see Caveats), any other -errno from
 * the system.
 */
MMK_API int mmk_open(mmk_map **out, const char *path, const mmk_options *opt);

/**
 * Map an open descriptor `fd` (as Python's mmap(fileno, ...)). Unless
 * MMK_OPEN_NO_DUP is set, the descriptor is duplicated (close-on-exec) and the
 * caller keeps ownership of `fd`. The descriptor's open mode must allow the
 * access: MMK_EACCESSMODE otherwise (for example a write map of an O_RDONLY
 * descriptor). Passing fd == -1 is the same as mmk_open_anon(opt->length,
 * private).
 *
 * Errors: as mmk_open, plus -EBADF and MMK_EACCESSMODE.
 */
MMK_API int mmk_open_fd(mmk_map **out, int fd, const mmk_options *opt);

/** Flags for mmk_open_anon. */
enum mmk_anon_flags {
    MMK_ANON_PRIVATE = 0,     /**< private to this process (copied on fork) */
    MMK_ANON_SHARED = 1u << 0 /**< shared with children created by fork() */
};

/**
 * Map `length` bytes of zeroed anonymous memory, read-write. `length` may be
 * 0 (a valid empty map). The map has no file: mmk_file_size returns
 * MMK_EANON, resize works for private maps by remapping (contents kept up to
 * the smaller length) and for shared maps where the platform supports mremap.
 *
 * The system's memory limits apply as to a plain anonymous mmap: a length
 * (or a growth by mmk_resize) that the kernel would refuse for
 * MAP_PRIVATE|MAP_ANONYMOUS, respectively MAP_SHARED|MAP_ANONYMOUS, fails
 * with -ENOMEM (Linux overcommit rules: with vm.overcommit_memory 0, more
 * than RAM + swap at once; with 2, more than the commit limit; with 1,
 * anything the address space holds). Shared maps are backed by a memfd on
 * Linux, which the kernel does not account, so mmkit asks the question
 * itself by mapping (and at once unmapping) an accounted region of that
 * size; under strict accounting (mode 2) the commit is checked, not held
 * for the map's life.
 *
 * Errors: -EINVAL (NULL out, unknown flags), -ENOMEM.
 */
MMK_API int mmk_open_anon(mmk_map **out, uint64_t length, unsigned flags);

/**
 * Unmap and close the file descriptor. The handle stays valid: every later
 * operation on it returns MMK_ECLOSED (mmk_is_closed reports 1), and it must
 * still be released with mmk_free. Closing a closed map returns 0.
 *
 * Safe to call while other threads use the map: it never unmaps under them.
 * If views are outstanding, or another thread is inside a library call on the
 * map at that moment (a copy, find, write … holds the map for its duration),
 * it returns MMK_EVIEWS and changes nothing; try again, or use
 * mmk_close_wait. MMK_EVIEWS also while another thread's mmk_close_wait is
 * draining the map.
 *
 * Errors: MMK_EVIEWS (nothing is changed), -EINVAL for NULL.
 */
MMK_API int mmk_close(mmk_map *m);

/**
 * Close the map, waiting for library calls in flight on it in other threads
 * to finish first. From the moment it starts, every new operation on the map
 * (and every new view) fails with MMK_ECLOSED, so the wait is bounded by the
 * calls already running (a find over a large map, a copy): no new ones can
 * join. Then it unmaps and closes as mmk_close. Returns 0 (also when the map
 * was closed already, or another thread's mmk_close_wait closed it meanwhile).
 * Views (mmk_view_acquire: buffers, scans) are not waited for, since their
 * holders may never let go: if any is outstanding when it starts it returns
 * MMK_EVIEWS at once and changes nothing. Must not be called from inside a
 * library call on the same map (a scan callback of a scan over this map holds
 * a view, so it gets MMK_EVIEWS). Thread-safe; this is what a waiting close()
 * of a binding is built on.
 * Errors: MMK_EVIEWS, -EINVAL for NULL.
 */
MMK_API int mmk_close_wait(mmk_map *m);

/**
 * Close the map if still open and release the handle. NULL is allowed. If
 * views are outstanding the handle is NOT released and MMK_EVIEWS is returned;
 * otherwise returns 0 and `m` must not be used again.
 */
MMK_API int mmk_free(mmk_map *m);

/** 1 if the map is closed, 0 if open. NULL gives 1. */
MMK_API int mmk_is_closed(const mmk_map *m);

/**
 * Start of the mapped range (exactly the requested offset, however it was
 * aligned internally). NULL for a closed or zero-length map. Not fault-guarded:
 * see Caveats. Valid until the map is closed or resized.
 */
MMK_API void *mmk_data(const mmk_map *m);

/** Length of the map in bytes (0 when closed). */
MMK_API uint64_t mmk_length(const mmk_map *m);

/** The file offset the map starts at (as requested). */
MMK_API uint64_t mmk_offset(const mmk_map *m);

/** The access mode (enum mmk_access) the map was opened with. */
MMK_API int mmk_access(const mmk_map *m);

/**
 * The current size of the underlying file, which may differ from the map's
 * length (another process may have grown or truncated it).
 * Errors: MMK_ECLOSED, MMK_EANON (anonymous map), -EBADF (no tracked
 * descriptor: MMK_OPEN_NO_DUP), other -errno from fstat.
 */
MMK_API int mmk_file_size(const mmk_map *m, uint64_t *size);

/**
 * The descriptor the map holds (-1 for anonymous or closed maps). Still owned
 * by the map: do not close it.
 */
MMK_API int mmk_fd(const mmk_map *m);

/** The system's page size and allocation granularity (mapping offsets align to it). */
MMK_API uint64_t mmk_page_size(void);
MMK_API uint64_t mmk_allocation_granularity(void);

/* ------------------------------------------------------------------------ */
/* Cursor and byte-array operations (Python mmap semantics)                  */
/* ------------------------------------------------------------------------ */

/** `whence` values for mmk_seek (same numbers as SEEK_SET/CUR/END). */
enum mmk_whence { MMK_SEEK_SET = 0, MMK_SEEK_CUR = 1, MMK_SEEK_END = 2 };

/** Default start/end for find/rfind: start at the cursor (find/rfind), end at the map's end. */
#define MMK_DEFAULT_POS INT64_MIN

/**
 * The cursor position (0 .. length). Returns MMK_ECLOSED when closed.
 *
 * Faults (all functions below that read or write mapped bytes): MMK_EFAULT
 * when the file is now shorter than the bytes touched (truncated under the
 * map); -ENOSPC or -EIO when it is not and the page still could not be
 * supplied (see Caveats). A function that fails this way changes nothing it
 * reports (cursor, output counts).
 */
MMK_API int64_t mmk_tell(const mmk_map *m);

/**
 * Move the cursor to `offset` relative to `whence`. The new position must be
 * within 0 .. length inclusive (else MMK_ERANGE and the cursor is unchanged).
 * Returns the new position (>= 0) or an error: MMK_ERANGE, -EINVAL (bad
 * whence), MMK_ECLOSED.
 */
MMK_API int64_t mmk_seek(mmk_map *m, int64_t offset, int whence);

/**
 * Copy up to `n` bytes from the cursor into `buf` and advance the cursor.
 * Returns the number of bytes copied (0 at the end of the map) or an error:
 * MMK_ECLOSED, MMK_EFAULT (file shrank: nothing is counted as read and the
 * cursor is unchanged), -EINVAL (NULL buf with n > 0).
 */
MMK_API int64_t mmk_read(mmk_map *m, void *buf, size_t n);

/** Read one byte at the cursor and advance: 0..255, or MMK_ERANGE at the end, MMK_ECLOSED, MMK_EFAULT. */
MMK_API int mmk_read_byte(mmk_map *m);

/**
 * Length of the line at the cursor: bytes up to and including the next '\n',
 * or up to the end of the map. 0 at the end. Does not move the cursor.
 * Errors: MMK_ECLOSED, MMK_EFAULT.
 */
MMK_API int64_t mmk_line_length(const mmk_map *m);

/**
 * Copy the line at the cursor (up to and including '\n', at most `cap`
 * bytes) into `buf` and advance past what was copied. Returns the bytes copied
 * (0 at the end) or an error as mmk_read.
 */
MMK_API int64_t mmk_readline(mmk_map *m, void *buf, size_t cap);

/**
 * Write `n` bytes at the cursor and advance. All or nothing: if fewer than `n`
 * bytes remain, nothing is written and MMK_ERANGE is returned. Returns `n`.
 * On a writable file map the range is reserved on disk first (Caveats): a
 * full disk or quota gives -ENOSPC / -EDQUOT / -EIO and nothing is written.
 * Errors: MMK_EREADONLY, MMK_ERANGE, MMK_ECLOSED, MMK_EFAULT, -ENOSPC,
 * -EDQUOT, -EIO, -EINVAL.
 */
MMK_API int64_t mmk_write(mmk_map *m, const void *buf, size_t n);

/** Write one byte at the cursor and advance. Errors as mmk_write. */
MMK_API int mmk_write_byte(mmk_map *m, uint8_t byte);

/**
 * Lowest index >= start where `needle` (n bytes) occurs entirely within
 * [start, end). start and end follow Python slice rules: MMK_DEFAULT_POS
 * means the cursor (start) or the map length (end); negative values count from
 * the end; values are clamped to 0 .. length. An empty needle is found at
 * start (if start <= end). On success returns 0 and sets *pos to the index or
 * to -1 when not found.
 * Errors: MMK_ECLOSED, MMK_EFAULT, -EINVAL (NULL needle with n > 0, NULL pos).
 */
MMK_API int mmk_find(const mmk_map *m, const void *needle, size_t n, int64_t start, int64_t end,
                     int64_t *pos);

/** As mmk_find but the highest index. */
MMK_API int mmk_rfind(const mmk_map *m, const void *needle, size_t n, int64_t start, int64_t end,
                      int64_t *pos);

/**
 * Copy `count` bytes from offset `src` to offset `dest` (overlap allowed, as
 * memmove). Both ranges must lie within the map (MMK_ERANGE otherwise). The
 * destination is reserved on disk first, as for mmk_write.
 * Errors: MMK_EREADONLY, MMK_ERANGE, MMK_ECLOSED, MMK_EFAULT, -ENOSPC,
 * -EDQUOT, -EIO.
 */
MMK_API int mmk_move(mmk_map *m, uint64_t dest, uint64_t src, uint64_t count);

/** Copy n bytes at `offset` out into `buf`. Errors: MMK_ERANGE, MMK_ECLOSED, MMK_EFAULT, -EINVAL. */
MMK_API int mmk_copy_out(const mmk_map *m, uint64_t offset, void *buf, size_t n);

/**
 * Copy n bytes from `buf` into the map at `offset`. The range is reserved on
 * disk first, as for mmk_write: a full disk fails the call before any byte
 * changes. Errors: MMK_EREADONLY, MMK_ERANGE, MMK_ECLOSED, MMK_EFAULT,
 * -ENOSPC, -EDQUOT, -EIO, -EINVAL.
 */
MMK_API int mmk_copy_in(mmk_map *m, uint64_t offset, const void *buf, size_t n);

/* ------------------------------------------------------------------------ */
/* Lifecycle and control                                                     */
/* ------------------------------------------------------------------------ */

/**
 * Change the map's length to `new_length`, growing or shrinking the file
 * underneath to offset + new_length (file-backed MMK_ACCESS_WRITE maps), or
 * remapping (anonymous maps). Uses mremap where the platform has it. The
 * cursor is clamped to the new length. A failed resize leaves the map and the
 * file exactly as they were: the file is grown before the map, and shrunk
 * only after the map was shrunk. Growing a file reserves the blocks of the
 * grown part (fallocate; sparse where the filesystem cannot, see Caveats), so
 * a full disk is -ENOSPC here rather than a fault at the first write.
 * Growing an anonymous map is checked against the memory limits as
 * mmk_open_anon. MMK_EVIEWS also while another thread is inside a call on the
 * map (try again).
 * Errors: MMK_EREADONLY (read or copy maps: as Python, resize needs a writable
 * shared map), MMK_EVIEWS, MMK_ECLOSED, MMK_ENOTSUP, -ENOMEM, -ENOSPC,
 * -EDQUOT, -EIO, -EFBIG, -EBADF (MMK_OPEN_NO_DUP).
 */
MMK_API int mmk_resize(mmk_map *m, uint64_t new_length);

/**
 * Fit the map's length to the file's current size: file size - offset, or 0
 * when the file is now shorter than the map's offset. The file is never
 * changed, so this works on every file map: MMK_ACCESS_READ, WRITE and COPY.
 * It is how a reader follows a file another process grows (or shrinks)
 * without re-opening it; mmk_resize instead sets the file to the map. The
 * cursor is clamped to the new length; mmk_data() may move. On success
 * *new_length (may be NULL) receives the new length.
 *
 * When the size has not changed it returns at once without taking the map,
 * so polling it is cheap (one fstat) and succeeds while views are out. When
 * the length must change it takes the map as mmk_resize does: MMK_EVIEWS
 * while views are outstanding or another thread is inside a call on the map
 * (nothing is changed; try again). Other threads' calls afterwards see the
 * new length; the fault guard works as before (a file shrunk again after
 * this call gives MMK_EFAULT past its end).
 *
 * Copy-on-write maps keep the pages they wrote that still lie within the new
 * length (the mapping is moved with mremap, private pages and all); pages a
 * shrink cuts off lose their private contents, and growing again shows the
 * file's bytes there. Where the platform has no mremap, changing the length
 * of a non-empty copy-on-write map returns MMK_ENOTSUP rather than drop its
 * writes.
 *
 * Errors: MMK_EANON (anonymous maps have no file), MMK_ECLOSED, MMK_EVIEWS,
 * -EBADF (MMK_OPEN_NO_DUP: the map does not track the file), MMK_ENOTSUP
 * (above), -ENOMEM, -EOVERFLOW (does not fit the address space), -EINVAL
 * (NULL map), other -errno from fstat/mremap. On error the map is unchanged.
 */
MMK_API int mmk_follow_file(mmk_map *m, uint64_t *new_length);

/** Flags for mmk_flush. */
enum mmk_flush_flags {
    MMK_FLUSH_SYNC = 0,            /**< wait until written (msync MS_SYNC) */
    MMK_FLUSH_ASYNC = 1u << 0,     /**< schedule the write and return (MS_ASYNC) */
    MMK_FLUSH_INVALIDATE = 1u << 1 /**< also invalidate other maps of the file (MS_INVALIDATE;
                                        ignored where the platform has no such flag) */
};

/**
 * Write modified pages in [offset, offset + length) back to the file.
 * length 0 means to the end of the map. Anonymous and copy-on-write maps
 * return 0 without doing anything (there is nothing to write back).
 * Errors: MMK_ERANGE, MMK_ECLOSED, -EINVAL (a flag other than those of enum
 * mmk_flush_flags), -EBUSY (MMK_FLUSH_INVALIDATE over locked pages), -EIO and
 * other -errno.
 */
MMK_API int mmk_flush(mmk_map *m, uint64_t offset, uint64_t length, unsigned flags);

/** Portable advice for mmk_advise. */
enum mmk_advice {
    MMK_ADVICE_NORMAL = 0,
    MMK_ADVICE_SEQUENTIAL = 1,
    MMK_ADVICE_RANDOM = 2,
    MMK_ADVICE_WILLNEED = 3,
    MMK_ADVICE_DONTNEED = 4,
    MMK_ADVICE_HUGEPAGE = 5 /**< MMK_ENOTSUP where the platform has no transparent huge pages */
};

/**
 * Tell the kernel how [offset, offset+length) will be used (length 0: to the
 * end). Errors: MMK_ERANGE, MMK_ECLOSED, MMK_ENOTSUP, -EINVAL (unknown advice).
 */
MMK_API int mmk_advise(mmk_map *m, int advice, uint64_t offset, uint64_t length);

/**
 * Pass a platform advice value (POSIX MADV_*) through unchanged, as Python's
 * mmap.madvise does. Offsets as mmk_advise. Errors: those of madvise as
 * -errno, MMK_ENOTSUP on platforms without madvise, MMK_ERANGE, MMK_ECLOSED.
 */
MMK_API int mmk_advise_native(mmk_map *m, int native_advice, uint64_t offset, uint64_t length);

/**
 * Fault the pages of [offset, offset+length) into memory now (length 0: to
 * the end), under the fault guard. Errors: MMK_ERANGE, MMK_ECLOSED, MMK_EFAULT.
 */
MMK_API int mmk_populate(mmk_map *m, uint64_t offset, uint64_t length);

/**
 * Lock the pages of [offset, offset+length) in RAM (mlock) / unlock them.
 * length 0: to the end. Errors: -ENOMEM, -EPERM (RLIMIT_MEMLOCK), MMK_ERANGE,
 * MMK_ECLOSED.
 */
MMK_API int mmk_lock_pages(mmk_map *m, uint64_t offset, uint64_t length);
MMK_API int mmk_unlock_pages(mmk_map *m, uint64_t offset, uint64_t length);

/** Longest name mmk_set_name accepts, in bytes (the kernel's limit, without the NUL). */
#define MMK_NAME_MAX 79

/**
 * Name the anonymous memory of map `m` (from mmk_open_anon) so that it shows
 * as `[anon:NAME]` (private) or `[anon_shmem:NAME]` (shared) in
 * /proc/PID/maps and smaps: Linux 5.17+ built with CONFIG_ANON_VMA_NAME
 * (PR_SET_VMA_ANON_NAME). The name is copied by the kernel; a later call
 * replaces it, and it goes away with the memory. A map of length 0 has no
 * memory to name: 0 and nothing done.
 * `name`: 0 to MMK_NAME_MAX bytes of printable ASCII (0x20-0x7e) other than
 * `\`, `` ` ``, `$`, `[` and `]` (what the kernel accepts).
 * Errors: -EINVAL (NULL map or name, a byte the kernel refuses), -ENAMETOOLONG
 * (longer than MMK_NAME_MAX), MMK_ECLOSED, -EBADF (a file-backed map: only
 * anonymous memory can be named), MMK_ENOTSUP (the platform or the kernel
 * cannot name memory, or the shared anonymous memory is a memfd, which the
 * kernel does not name), other -errno from the kernel.
 */
MMK_API int mmk_set_name(mmk_map *m, const char *name);

/* ------------------------------------------------------------------------ */
/* Views                                                                     */
/* ------------------------------------------------------------------------ */

/**
 * Borrow the map's memory. On success *data and *length describe the whole
 * map (data is NULL when length is 0) and the map's view count goes up by
 * one; until the matching mmk_view_release, mmk_close, mmk_free and
 * mmk_resize refuse with MMK_EVIEWS. The pointer is raw (see Caveats).
 * `data` and `length` may be NULL. Thread-safe against mmk_close.
 * Errors: MMK_ECLOSED, -EINVAL (NULL map).
 */
MMK_API int mmk_view_acquire(mmk_map *m, void **data, uint64_t *length);

/** Give back one view taken by mmk_view_acquire. Thread-safe. */
MMK_API void mmk_view_release(mmk_map *m);

/** Number of outstanding views. */
MMK_API unsigned mmk_view_count(const mmk_map *m);

/* ------------------------------------------------------------------------ */
/* Fault guard                                                               */
/* ------------------------------------------------------------------------ */

/*
 * The guard's contract with other SIGBUS handlers (POSIX)
 * -------------------------------------------------------
 * The guard needs its own SIGBUS handler to be the one the kernel calls. It
 * installs it on first use and puts it back on top at the start of every
 * guarded operation (the outermost guard of a thread; nested ones are
 * covered): one sigaction() call per operation, whatever was installed in
 * the meantime (a sigaction() of your own, Python's signal.signal() or
 * faulthandler.enable(), a crash reporter). So the guard works in every
 * installation order, in every thread. (A handler installed by another
 * thread at the very moment between an operation's re-arm and its fault gets
 * that fault; it still becomes MMK_EFAULT if the handler passes it on.)
 *
 * Chaining: a SIGBUS outside any guard is not mmkit's. It goes to the
 * handlers installed after mmkit's, the most recent first, as if they were
 * still installed (their sa_handler or sa_sigaction form, their sa_mask and
 * SA_NODEFER; SA_RESETHAND is not emulated); when such a handler passes the
 * signal on to its predecessor (which is mmkit's), by calling it or by
 * restoring it and raising, the signal goes to the next one, and last to the
 * action that was in place before mmkit's handler. SIG_DFL anywhere ends the
 * chain: the default disposition is restored and the process dies of SIGBUS
 * as it would have without mmkit (SIG_IGN ignores a signal sent with kill()
 * and acts as SIG_DFL for a real fault, as the kernel does). Each handler
 * sees a fault at most once. A handler that returns from a real fault without
 * removing its cause would see it again forever; mmkit passes the repeat one
 * step further instead (so in the end the process dies of SIGBUS). The chain
 * keeps the 7 most recent actions (16 distinct ones in a process's life);
 * one that was taken out by putting mmkit's back (faulthandler.disable())
 * stays in it.
 *
 * If you install a SIGBUS handler: nothing to do, it keeps receiving the
 * faults that are not mmkit's. It is only installed for the kernel until the
 * next guarded operation, so do not rely on reading it back with sigaction().
 */

/**
 * Install the fault guard's SIGBUS handler now, or put it back on top if
 * something was installed over it (that handler is then chained to, see
 * above). Every guarded operation does this itself; call it to have the
 * handler in place at a time of your choosing (at start-up, before creating
 * threads, or right after installing your own handler, so that even a fault
 * before the next guarded operation follows the chaining above) and to learn
 * of a failure. Thread-safe. Returns 0 or -errno from sigaction().
 */
MMK_API int mmk_guard_install(void);

/**
 * Turn the re-arming at the start of every guarded operation on (automatic
 * != 0, the default) or off. Off saves one sigaction() call per guarded
 * operation, which costs what any system call costs on the machine (measured
 * in a virtual machine with page-table isolation: 1.5-3.5 µs, against 5-10 ns
 * for a whole guarded 1-byte mmk_copy_out without it). Turn it
 * off only if no SIGBUS handler will be installed after mmkit's, or if you
 * call mmk_guard_install() after installing one: a handler installed over
 * mmkit's then receives the guarded faults (and Python's signal.signal()
 * handler would make them repeat forever). Either call installs the handler
 * now. Thread-safe. Returns the previous setting (1 automatic, 0 off) or
 * -errno from sigaction().
 */
MMK_API int mmk_guard_rearm(int automatic);

/**
 * Run fn(arg) under the fault guard: a SIGBUS (or Windows in-page error)
 * raised in this thread while fn runs stops fn and makes mmk_guard_run return
 * MMK_EFAULT; otherwise it returns what fn returned. fn must not hold locks or
 * allocate in a way that a jump out of it would leak (the jump skips the rest
 * of fn). Nesting is allowed. Thread-safe. Costs one sigaction() call when
 * it is not nested in another guard (unless mmk_guard_rearm(0)).
 */
MMK_API int mmk_guard_run(int (*fn)(void *arg), void *arg);

/* ------------------------------------------------------------------------ */
/* Shared memory between processes                                           */
/* ------------------------------------------------------------------------ */

/** Flags for mmk_shm_open and mmk_shm_options.flags. */
enum mmk_shm_flags {
    MMK_SHM_CREATE = 1u << 0,   /**< create if missing, sized to `length` */
    MMK_SHM_EXCL = 1u << 1,     /**< with CREATE: fail with -EEXIST if it exists */
    MMK_SHM_READONLY = 1u << 2, /**< map read-only */
    MMK_SHM_ANY_OWNER = 1u << 3 /**< accept an existing object that another user owns or
                                     whose mode is wider than `mode` (deliberate sharing
                                     between users); without it such objects give
                                     MMK_EOWNER */
};

/**
 * Open (or create) named shared memory `name` ("/something" on POSIX; a name
 * without the leading slash is accepted and one is added) and map it
 * read-write and shared. With MMK_SHM_CREATE a new object is created with
 * exactly `mode` (0 means 0600; the umask does not apply) and sized to
 * `length`; when opening an existing object `length` 0 means its current size.
 *
 * An existing object is used only if it is owned by the caller's effective
 * user and its permission bits are no wider than `mode` (0 = 0600); else the
 * call fails with MMK_EOWNER and changes nothing (the object is not grown).
 * This keeps another user from planting a world-readable object under the
 * name and reading what the caller then writes into it. The check is made on
 * the opened descriptor, not the name. MMK_SHM_ANY_OWNER skips it.
 *
 * With MMK_SHM_CREATE (not EXCL, not READONLY) an existing object shorter than
 * `length` is grown to it; objects are never shrunk. If the call fails after
 * creating or growing the object, the object is removed again or gets its old
 * size back. The caller owns *out (mmk_free); *out is NULL on failure.
 *
 * This call does not say whether it created the object; mmk_shm_open_ex does.
 *
 * Errors: -EINVAL (bad name, flags or mode, NULL out), -ENOENT, -EEXIST,
 * -EACCES, MMK_EOWNER, MMK_ELENGTH (an existing object shorter than `length`
 * that this call may not grow), -EFBIG, -ENOMEM, other -errno; MMK_ENOTSUP on
 * Windows for now.
 */
MMK_API int mmk_shm_open(mmk_map **out, const char *name, uint64_t length, unsigned flags,
                         unsigned mode);

/**
 * Options for mmk_shm_open_ex. Start from MMK_SHM_OPTIONS_INIT, which zeroes
 * every field and sets `size`, then set what you need. `size` lets the struct
 * grow: later fields (a Windows security descriptor or namespace, say) are
 * appended; a caller built against an older header passes its smaller size
 * and gets their defaults; a library older than the caller's header accepts
 * a larger size only if the fields it does not know are all zero (-EINVAL
 * otherwise).
 */
typedef struct mmk_shm_options {
    size_t size;     /**< sizeof(mmk_shm_options) as the caller compiled it */
    uint64_t length; /**< as mmk_shm_open's `length` */
    unsigned flags;  /**< enum mmk_shm_flags */
    unsigned mode;   /**< as mmk_shm_open's `mode`; 0 means 0600 */
} mmk_shm_options;

#define MMK_SHM_OPTIONS_INIT {sizeof(mmk_shm_options), 0, 0, 0}

/**
 * mmk_shm_open with options, and a report of what happened: on success
 * *created (may be NULL) is 1 if this call created the object, 0 if it opened
 * an existing one. The creator is the one to initialise what lives in the
 * object (its mmk_mutex, a header). Race-free: when any number of processes
 * open-or-create one name at once (MMK_SHM_CREATE without EXCL), exactly one
 * of them gets *created == 1 (an exclusive create is tried first, then an
 * open of the existing object). Until the creator has initialised it, the
 * others see zeros: put a flag in the object that the creator sets last if
 * they must wait. `opt` NULL means MMK_SHM_OPTIONS_INIT (open an existing
 * object, whole length). Errors as mmk_shm_open, plus -EINVAL for a `size`
 * too small or for unknown non-zero option fields.
 */
MMK_API int mmk_shm_open_ex(mmk_map **out, const char *name, const mmk_shm_options *opt,
                            int *created);

/** Remove the name of shared memory `name`; maps stay valid. Errors: -ENOENT, -EACCES, -EINVAL. */
MMK_API int mmk_shm_unlink(const char *name);

/**
 * A process-shared, robust mutex meant to live inside a shared map. Place it
 * at an offset aligned to 8 bytes; initialise once with mmk_mutex_init (the
 * process that created the object: see mmk_shm_open_ex).
 *
 * If a process dies while holding it, the next mmk_mutex_lock or trylock
 * returns MMK_LOCK_OWNERDEAD, a positive value: the call succeeded and the
 * caller now holds the lock, but the state it protects may be half-updated.
 * The caller repairs that state and calls mmk_mutex_consistent before
 * unlocking; unlocking without that makes the mutex permanently
 * MMK_ENOTRECOVERABLE. Because it is a success, `if (mmk_mutex_lock(mu) < 0)`
 * correctly treats it as "locked"; test for it with `== MMK_LOCK_OWNERDEAD`.
 */
typedef struct mmk_mutex {
    union {
        unsigned char bytes[64];
#if defined(__GNUC__) || defined(__clang__)
        uint64_t align __attribute__((aligned(8))); /* 8 on 32-bit x86 too (4 there otherwise) */
#else
        uint64_t align;
#endif
    } opaque;
} mmk_mutex;

/** Positive results of mmk_mutex_lock / mmk_mutex_trylock (successes). */
enum mmk_lock_result {
    MMK_LOCK_OWNERDEAD = 1 /**< locked; the previous owner died holding the lock: repair the
                                protected state, then mmk_mutex_consistent */
};

/** Initialise a process-shared robust mutex in place. Errors: -EINVAL, -ENOMEM, MMK_ENOTSUP. */
MMK_API int mmk_mutex_init(mmk_mutex *mu);

/**
 * Lock, waiting as long as it takes. Returns 0 (locked) or MMK_LOCK_OWNERDEAD
 * (locked; repair, then mmk_mutex_consistent). Errors: MMK_ENOTRECOVERABLE,
 * -EDEADLK (the caller already holds it), -EINVAL.
 */
MMK_API int mmk_mutex_lock(mmk_mutex *mu);

/** As mmk_mutex_lock but fails with -EBUSY instead of waiting. */
MMK_API int mmk_mutex_trylock(mmk_mutex *mu);

/** Unlock. Errors: -EPERM (not the owner), -EINVAL. */
MMK_API int mmk_mutex_unlock(mmk_mutex *mu);

/**
 * Mark the state protected by a mutex locked with MMK_LOCK_OWNERDEAD as
 * repaired. Errors: -EINVAL (the lock was not taken with MMK_LOCK_OWNERDEAD),
 * -EPERM (not the owner).
 */
MMK_API int mmk_mutex_consistent(mmk_mutex *mu);

/** Destroy (no process may hold or wait on it). */
MMK_API int mmk_mutex_destroy(mmk_mutex *mu);

/* ------------------------------------------------------------------------ */
/* Search engine: patterns, inputs, scans                                    */
/* ------------------------------------------------------------------------ */

/** Flags for mmk_pattern_compile. */
enum mmk_pattern_flags {
    MMK_PAT_FIXED = 1u << 0, /**< the pattern is a literal byte string (grep -F) */
    MMK_PAT_ICASE = 1u << 1, /**< ASCII case-insensitive */
    MMK_PAT_WORD = 1u << 2,  /**< whole word: the match is neither preceded nor followed by
                                  an ASCII word character [A-Za-z0-9_] */
    MMK_PAT_LINES = 1u << 3  /**< grep semantics (grep -P): every line is its own subject.
                                  ^ and $ match at line boundaries (PCRE2's multi-line mode),
                                  no match contains '\n', lookaround does not see the
                                  neighbouring lines. Scans with such a pattern count and
                                  report matches line by line */,
    MMK_PAT_LINE_EXACT = 1u << 4 /**< with MMK_PAT_LINES (else -EINVAL): the match must be
                                      the whole line (grep -x: ^(?:P)$); for a list, any one
                                      pattern of the list. Implies MMK_PAT_WORD's condition
                                      (a whole line has no neighbours), as grep -P -x -w */
};

/** A compiled pattern: immutable, shareable between threads. */
typedef struct mmk_pattern mmk_pattern;

/** Where compilation failed, filled by mmk_pattern_compile on MMK_EPATTERN. */
typedef struct mmk_pattern_error {
    int64_t offset;      /**< byte offset in the pattern, or -1 */
    char message[160];   /**< PCRE2's reason, NUL-terminated */
    int64_t index;       /**< mmk_pattern_compile_list: which pattern failed (else 0) */
} mmk_pattern_error;

/**
 * Compile `pattern` (len bytes; NUL bytes allowed). Without MMK_PAT_FIXED it
 * is a regular expression in Perl/Python syntax (PCRE2, JIT-compiled), bytes
 * semantics: no UTF-8 validity is required of the pattern's subject. A pattern
 * that is a plain literal is searched with the SIMD literal matcher; a regex
 * with a required literal uses it as a prefilter.
 * Scans start a search at chunk boundaries and after every match, so items
 * whose answer depends on where a search starts are refused, wherever they
 * appear (also inside groups, after comments, in extended mode): \K, \G,
 * (*COMMIT), (*SKIP) and a leading (*NOTEMPTY_ATSTART). (*PRUNE), (*THEN),
 * (*ACCEPT), (*FAIL), (*MARK) and leading options such as (*LIMIT_MATCH=n)
 * work. Where the PCRE2 in use has known JIT bugs (before 10.43: atomic and
 * possessive groups, (*ACCEPT), alternations), such patterns are matched by PCRE2's
 * interpreter or without its start-up optimisation, so answers stay exact.
 * The caller owns *out (mmk_pattern_free). `err` may be NULL.
 * Errors: MMK_EPATTERN (err says where and why: a syntax error PCRE2 reports,
 * or one of the refused items above), -EINVAL, -ENOMEM.
 */
MMK_API int mmk_pattern_compile(mmk_pattern **out, const void *pattern, size_t len, unsigned flags,
                                mmk_pattern_error *err);

/**
 * Compile a list of patterns into one that matches where any of them matches
 * (grep -e P1 -e P2, grep -f FILE): at each position the leftmost match of
 * any pattern, the first listed winning a tie as in an alternation. n >= 1;
 * patterns[i] has lens[i] bytes (NUL bytes allowed; an empty pattern matches
 * the empty string everywhere, as in grep). `flags` apply to each (with
 * MMK_PAT_FIXED every pattern is a literal). Capture groups are numbered
 * across the list in order (the first pattern's groups first); one group
 * name may appear in several patterns. Each pattern's inline options ((?i),
 * (?x)) and an unterminated \Q stay within it. Leading (*OPTION)s: limits
 * ((*LIMIT_MATCH=n) ...) apply to the whole list (the smallest of each kind),
 * as do (*NO_...) switches; other leading options (newline conventions,
 * (*NOTEMPTY)) must be the same in every pattern. Refused in a list (they
 * would name another pattern's group or the whole list): numbered
 * references (\1, \g{1}, (?1), (?(1)...)) after a pattern with groups, and
 * (?R) / (?0) anywhere; names and relative references (\g{-1}) work. Each
 * pattern is checked alone first: on MMK_EPATTERN, err->index (when err is
 * not NULL) names the failing pattern and err->offset is an offset in that
 * pattern (index -1 when only the list as a whole fails: too large for
 * PCRE2). Errors as mmk_pattern_compile, and -EINVAL for n == 0 or a NULL
 * pattern with a length.
 */
MMK_API int mmk_pattern_compile_list(mmk_pattern **out, const void *const *patterns,
                                     const size_t *lens, size_t n, unsigned flags,
                                     mmk_pattern_error *err);

/** Number of capture groups of a pattern (0 for literals; -EINVAL for NULL). The
    -w and -x forms add none. */
MMK_API int mmk_pattern_groups(const mmk_pattern *p);

/**
 * The number of the capture group named `name` (NUL-terminated; the
 * smallest when a list uses the name in several patterns), or MMK_EPATTERN
 * when the pattern has no group of that name (-EINVAL for NULL).
 */
MMK_API int mmk_pattern_group_number(const mmk_pattern *p, const char *name);

/** Release a pattern. NULL allowed. */
MMK_API void mmk_pattern_free(mmk_pattern *p);

/**
 * What bytes a scan reads. Build one with mmk_input_bytes / mmk_input_map /
 * mmk_input_fd / mmk_input_fd_range. The input does not own what it points to.
 */
typedef struct mmk_input {
    int kind;          /**< MMK_INPUT_BYTES, MMK_INPUT_MAP or MMK_INPUT_FD */
    const void *data;  /**< BYTES: the bytes */
    uint64_t size;     /**< BYTES: their count */
    mmk_map *map;      /**< MAP: the map (a view is held during the scan) */
    int64_t start;     /**< MAP: range start (Python slice rules, MMK_DEFAULT_POS = 0);
                            FD with MMK_INPUT_RANGE: file offset of the first byte */
    int64_t end;       /**< MAP: range end (Python slice rules, MMK_DEFAULT_POS = length);
                            FD with MMK_INPUT_RANGE: file offset past the last byte */
    int fd;            /**< FD: regular files are mapped or pread (from offset 0); pipes and
                            ttys are read with read(), procfs/sysfs files with pread()
                            in sequence to their real end */
    unsigned flags;    /**< FD: MMK_INPUT_RANGE, or 0 for the whole file */
    /** READER: the next bytes of a stream (a decompressor, a socket the caller
        reads): up to n bytes into buf; returns how many (> 0), 0 at the end,
        or a negative code, which the scan returns. Called from one thread at a
        time, in order. The input is searched as a pipe is: in bounded memory. */
    int64_t (*read)(void *read_user, void *buf, size_t n);
    void *read_user;   /**< READER: handed to read */
} mmk_input;

enum mmk_input_kind {
    MMK_INPUT_BYTES = 1,
    MMK_INPUT_MAP = 2,
    MMK_INPUT_FD = 3,
    MMK_INPUT_READER = 4
};

/**
 * mmk_input.flags. MMK_INPUT_RANGE (FD only): scan exactly the file bytes
 * [start, end), read with pread (or a map of the file); the offsets a scan
 * reports (matches, lines, MMK_ELIMIT's error_offset) are relative to
 * `start`. The descriptor must be a readable regular file with positions
 * (else -EINVAL, or the error of the first read). The range is never read as
 * a stream, never extended or cut: a file that does not hold the whole range
 * when the scan starts or while it runs (it was truncated) fails with -EIO.
 */
enum mmk_input_flags { MMK_INPUT_RANGE = 1u << 0 };

static inline mmk_input mmk_input_bytes(const void *data, uint64_t size) {
    mmk_input in = {MMK_INPUT_BYTES, data, size, NULL, 0, 0, -1, 0, NULL, NULL};
    return in;
}
static inline mmk_input mmk_input_map(mmk_map *m, int64_t start, int64_t end) {
    mmk_input in = {MMK_INPUT_MAP, NULL, 0, m, start, end, -1, 0, NULL, NULL};
    return in;
}
static inline mmk_input mmk_input_fd(int fd) {
    mmk_input in = {MMK_INPUT_FD, NULL, 0, NULL, 0, 0, fd, 0, NULL, NULL};
    return in;
}
/** The bytes [offset, offset + length) of the regular file `fd` (MMK_INPUT_RANGE). */
static inline mmk_input mmk_input_fd_range(int fd, uint64_t offset, uint64_t length) {
    mmk_input in = {MMK_INPUT_FD, NULL, 0, NULL, (int64_t)offset, (int64_t)(offset + length),
                    fd, MMK_INPUT_RANGE, NULL, NULL};
    return in;
}
/** A stream the caller produces (MMK_INPUT_READER), e.g. mmk_decoder_read. */
static inline mmk_input mmk_input_reader(int64_t (*read)(void *read_user, void *buf, size_t n),
                                         void *read_user) {
    mmk_input in = {MMK_INPUT_READER, NULL, 0, NULL, 0, 0, -1, 0, read, read_user};
    return in;
}

/** How a scan reads a regular file (MMK_INPUT_FD). */
enum mmk_io {
    MMK_IO_AUTO = 0, /**< choose per job (the faster measured path) */
    MMK_IO_MMAP = 1, /**< map the file (mmk --mmap) */
    MMK_IO_READ = 2  /**< pread into a buffer per thread (mmk --no-mmap) */
};

/** Options for scans; zero-initialise for defaults. */
typedef struct mmk_scan_options {
    unsigned threads;     /**< worker threads; 0 = all online cores */
    uint64_t chunk_size;  /**< bytes per work unit; 0 = automatic. Any value >= 1 gives
                               the same results (tests force tiny chunks) */
    int io;               /**< enum mmk_io */
    /** Called from the calling thread now and then with bytes done / total
        (total 0 when unknown, e.g. a pipe). May be NULL. */
    void (*progress)(uint64_t done, uint64_t total, void *user);
    void *progress_user;
    /** If non-NULL: set to -1 when the scan starts; when it fails with MMK_ELIMIT,
        the input offset (relative to the input's start, as match offsets are)
        at which the search that hit the limit started; -1 otherwise. */
    int64_t *error_offset;
    unsigned flags; /**< enum mmk_scan_flags, OR-ed; 0 = none */
} mmk_scan_options;

/** Flags for mmk_scan_options.flags. */
enum mmk_scan_flags {
    /** A regular file (MMK_INPUT_FD) leaves the page cache as the scan goes:
        the clean cached pages of the bytes already scanned are dropped behind
        the scan (and all of the input's at its end, also those that were
        cached before it started), so a one-off scan of a file larger than
        memory does not push other programs' data out of memory. Pages that
        other processes have mapped or that are not yet written back stay.
        Ignored for bytes, maps the caller gave, pipes and other streams, and
        where the platform cannot drop pages (macOS, Windows: no such call).
        The results are the same. */
    MMK_SCAN_NO_CACHE = 1u << 0
};

/**
 * Count the leftmost non-overlapping matches of `p` in `in`: the count that
 * Python's len(re.findall(p, data)) and `grep -o p | wc -l` give (for
 * patterns that can match empty, Python's re rules). Exact for any chunking
 * and thread count. `opt` may be NULL.
 * With MMK_PAT_LINES the matches are found line by line: each line (without
 * its '\n'; the empty string after a final '\n' is no line) is its own
 * subject, and the count is the sum over the lines of
 * len(re.findall(p, line)) with Python's empty-match rules within the line
 * (so `x*` counts 1 on an empty line, `^` counts once per line). mmk_matches
 * and mmk_match_lines report these same matches.
 * Streams (pipes, /proc and /sys files) are read in bounded memory: with
 * MMK_PAT_LINES and for literals, a few chunks plus the longest line; for
 * other regexes by PCRE2 partial matching, the chunk size plus the longest
 * partial match (only bytes from the earliest place where a match may still
 * be completing are kept). A regex with (*ACCEPT) is the exception: PCRE2
 * 10.42 gets partial matching wrong for it, so a stream is kept whole until
 * its end (a file is mapped instead); bound such a pipe's size yourself.
 * Regular files whose size is a guess (procfs,
 * sysfs) are read as streams to their real end; a regular file that ends
 * before its size (it shrank during a pread scan) is read again as a stream
 * when no result was handed out yet, and fails with -EIO otherwise.
 * Errors: MMK_EFAULT (a mapped file shrank during the scan), MMK_ECLOSED,
 * -EINVAL, -ENOMEM, -EIO (a file shrank during a pread scan, or the device)
 * and other -errno from reading; MMK_ELIMIT when PCRE2's match, depth, heap
 * or JIT-stack limit is reached on this input (catastrophic backtracking,
 * e.g. `(a+)+$` on a long run of 'a' followed by 'b'; nothing is counted,
 * opt->error_offset says where; a leading (*LIMIT_MATCH=n) in the pattern
 * sets the limit); MMK_EPATTERN when PCRE2 refuses the pattern while
 * matching (a recursion that would loop without consuming input).
 */
MMK_API int mmk_count(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                      uint64_t *count);

/**
 * Report each match [start, end) (offsets relative to the input's start), in
 * order, from the calling thread. Returning non-zero from `cb` stops the scan
 * and mmk_matches returns that value. Errors as mmk_count (MMK_ELIMIT and
 * MMK_EPATTERN included; matches reported before the error stand).
 */
MMK_API int mmk_matches(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                        int (*cb)(uint64_t start, uint64_t end, void *user), void *user);

/**
 * Report each line that contains a match, in order, from the calling thread:
 * `line` points at its bytes (without the '\n'; valid only during the call),
 * `line_no` is 1-based, `offset` is the line's start in the input, and
 * `matches` how many matches it holds. Non-zero from `cb` stops the scan and is
 * returned. *matched_lines (may be NULL) receives the number of lines
 * reported. Errors as mmk_count (MMK_ELIMIT and MMK_EPATTERN included).
 */
MMK_API int mmk_match_lines(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                            int (*cb)(const char *line, size_t len, uint64_t line_no,
                                      uint64_t offset, uint64_t matches, void *user),
                            void *user, uint64_t *matched_lines);

/* ------------------------------------------------------------------------ */
/* Counts split into parts (several processes or machines: mmkit.dask)      */
/* ------------------------------------------------------------------------ */

/** Speculative matches an mmk_count_part keeps for mmk_count_part_fix. */
#define MMK_COUNT_PART_RECORD 16

/**
 * One part of a count of an input cut into consecutive parts [0, e1),
 * [e1, e2), ... [ek, length) that are counted separately (each part in its own
 * process or machine) and joined in order. Plain data: it can be copied,
 * sent to another process and handed back to mmk_count_part_fix.
 */
typedef struct mmk_part {
    uint64_t start, end; /**< the part: matches starting in [start, end) are its own (with
                              end == the input's length, an empty match at the end too) */
    uint64_t count;      /**< its matches (mmk_count_part: found as if the search entered
                              the part at start; mmk_count_part_fix: exact) */
    uint64_t next_pos;   /**< where the search goes on after the part: the end of its last
                              match (it may lie past `end`); the entry position when count
                              is 0 */
    int next_notempty;   /**< 1 when that last match was empty (the next match may not be
                              empty at next_pos: Python's rule) */
    uint32_t nrec;       /**< matches in rec: the first ones, min(count, MMK_COUNT_PART_RECORD)
                              (0 in mmk_count_part_fix's answer) */
    uint64_t rec[MMK_COUNT_PART_RECORD][2]; /**< their [start, end) */
} mmk_part;

/**
 * Count the part [start, end) of `in` (start <= end <= the input's length)
 * speculatively: the leftmost non-overlapping matches of `p` (as mmk_count,
 * Python's rules) found by a search that enters the part at `start` as if the
 * previous match had ended exactly there, counting those that start in
 * [start, end). The whole input is the subject: lookbehind and \b see the
 * bytes before `start`, a match may run past `end` (to the input's end),
 * lookahead sees past it. So only the bytes from start (less the pattern's
 * lookbehind) to the end of the part's last match are read. One thread; the
 * caller runs parts in parallel. `in` is bytes, a map (its range is the
 * input), or a descriptor of a regular file, mapped read-only (with
 * MMK_INPUT_RANGE, the range). The part's first matches are recorded for
 * mmk_count_part_fix, which turns the speculation into the exact count.
 * `p` must not have MMK_PAT_LINES (-EINVAL): line patterns split at line
 * starts instead (mmk_search over line-aligned ranges). `opt` (may be NULL):
 * only error_offset is used.
 * Errors: -EINVAL (NULL arguments, start > end, a line pattern, a stream
 * input), -EIO (a file that does not hold [0, end)), MMK_EFAULT (a map
 * shrank), MMK_ECLOSED, -ENOMEM, MMK_ELIMIT, MMK_EPATTERN.
 */
MMK_API int mmk_count_part(const mmk_pattern *p, const mmk_input *in, uint64_t start,
                           uint64_t end, const mmk_scan_options *opt, mmk_part *part);

/**
 * The exact count of a part, given `part` (from mmk_count_part over the same
 * pattern and input) and the true state the parts before it left: `pos`, the
 * end of the last match before the part (0 for the input's first part), and
 * `notempty`, 1 when that match was empty. Sets exact->count, next_pos and
 * next_notempty (start and end copied, nrec 0); joining the parts in order,
 * each with the previous part's exact next_pos / next_notempty, gives
 * exactly mmk_count's answer: the sum of the exact counts.
 * When the speculation was right (pos < start, or pos == start after a
 * non-empty match) or the true state falls where the recorded matches show
 * the answer, nothing is read. Otherwise the search is run again from
 * (pos, notempty) in step with the speculation's matches until both find the
 * same match (from there on they agree), reading only the bytes up to that
 * point. `in` may be NULL: then the function answers only when nothing needs
 * to be read, and returns 1 (exact untouched) when the bytes are needed.
 * Returns 0 (or 1 as said). Errors: -EINVAL (a part that mmk_count_part
 * cannot have made), -EIO (the input no longer holds what the part found:
 * it changed), and those of mmk_count_part.
 */
MMK_API int mmk_count_part_fix(const mmk_pattern *p, const mmk_input *in,
                               const mmk_scan_options *opt, const mmk_part *part,
                               uint64_t pos, int notempty, mmk_part *exact);

/* ------------------------------------------------------------------------ */
/* The searcher and its sinks (what `mmk grep` is built of)                  */
/* ------------------------------------------------------------------------ */

/**
 * A search walks an input (bytes, map, file, pipe, reader) in chunks over
 * threads and hands lines, in input order and from the calling thread, to a
 * sink; printers (mmk's, a Python caller's) format them. Lines follow the
 * MMK_PAT_LINES rules: a line ends at '\n' (not part of it), the empty string
 * after a final '\n' is no line, a last line without '\n' is a line.
 */

/** A table of distinct byte strings and their counts, sorted (mmk_word_counts,
    mmk_count_by). */
typedef struct mmk_wordtab mmk_wordtab;

/** A match inside a line: bytes [start, end) of mmk_line.bytes. */
typedef struct mmk_span {
    size_t start, end;
} mmk_span;

/** mmk_line.kind */
enum mmk_line_kind {
    MMK_LINE_SELECTED = 1, /**< a line the search selects: one that matches, or with
                                MMK_SEARCH_INVERT one that does not (grep's ':' lines) */
    MMK_LINE_CONTEXT = 2   /**< a context line around selected ones (grep's '-' lines) */
};

/** One line handed to a sink; valid only during the call. */
typedef struct mmk_line {
    const char *bytes;   /**< the line, without its '\n' */
    size_t len;
    uint64_t line_no;    /**< 1-based, counted from the input's start (0 with
                              MMK_SEARCH_NO_LINE_NUMBERS) */
    uint64_t offset;     /**< byte offset of the line's start, relative to the input's start */
    int kind;            /**< enum mmk_line_kind */
    int newline;         /**< 1 when the line ends with '\n' in the input, 0 for a last line
                              without one */
    uint64_t matches;    /**< matches in the line (leftmost non-overlapping, Python's
                              empty-match rules; 0 for a line that does not match) */
    const mmk_span *spans; /**< with MMK_SEARCH_SPANS: the matches' spans in order, for
                                the lines grep calls matching (selected ones, or context
                                ones with MMK_SEARCH_INVERT; the same rule holds for the
                                trailing context after max_count), empty matches
                                included; else NULL */
    size_t nspans;       /**< number of spans (== matches when spans are given) */
} mmk_line;

/** Where a search's lines go. Each callback may be NULL; a non-zero return stops
    the search and mmk_search returns that value. */
typedef struct mmk_sink {
    int (*line)(const mmk_line *line, void *user);
    /** Called between two groups of lines that are not adjacent when context is
        asked for (grep's "--"), never before the first group. */
    int (*gap)(void *user);
    void *user;
} mmk_sink;

/** mmk_search_options.flags */
enum mmk_search_flags {
    MMK_SEARCH_INVERT = 1u << 0,    /**< select the lines that do not match (grep -v) */
    MMK_SEARCH_SPANS = 1u << 1,     /**< fill mmk_line.spans (grep -o, --color) */
    MMK_SEARCH_MAX_COUNT = 1u << 2, /**< stop after max_count selected lines (grep -m;
                                         max_count 0 selects none); trailing context after
                                         the last one is still given, as grep does */
    MMK_SEARCH_COUNT_ONLY = 1u << 3, /**< hand no lines to the sink; only the result's counts
                                          (grep -c, -l, -q: fastest path) */
    MMK_SEARCH_GREP_STEP = 1u << 4   /**< matches (spans and counts) step as grep -o and
                                          --color do: after an empty match the next search
                                          starts one byte further on, where Python's rule
                                          (the default) allows a non-empty match at the same
                                          place: `|ab` on "ab" is then three empty matches
                                          and no "ab". Which lines are selected is the same
                                          under both rules */,
    MMK_SEARCH_FIRST_MATCH = 1u << 5 /**< without MMK_SEARCH_SPANS: search each line only up
                                          to its first match; mmk_line.matches and the
                                          result's matches then count a matching line as 1
                                          (all grep needs without -o and --color: -c, -l,
                                          -v, plain lines; much less work on dense
                                          patterns) */,
    MMK_SEARCH_NO_LINE_NUMBERS = 1u << 6 /**< the sink needs no line numbers:
                                              mmk_line.line_no is 0 for every line. Without
                                              context and MMK_SEARCH_INVERT the workers then
                                              do not count the input's lines at all (grep
                                              without -n: the search costs what a count
                                              costs plus the lines it copies) */
};

/** Options of mmk_search; zero-initialise for defaults (no context, no limit). */
typedef struct mmk_search_options {
    unsigned flags;      /**< enum mmk_search_flags */
    uint64_t max_count;  /**< with MMK_SEARCH_MAX_COUNT */
    uint32_t before;     /**< context lines before each selected line (grep -B) */
    uint32_t after;      /**< context lines after each selected line (grep -A) */
} mmk_search_options;

/** What a search found. */
typedef struct mmk_search_result {
    uint64_t selected;   /**< selected lines (what grep -c prints, with -m applied) */
    uint64_t matches;    /**< matches in the selected lines (0 with MMK_SEARCH_INVERT) */
    int stopped;         /**< 1 when max_count was reached: the search ended there (after
                              the trailing context) without reading on, whether or not
                              more input followed (max_count 0: nothing is read) */
} mmk_search_result;

/**
 * Search `in` for the lines of `p` and hand them to `sink` in input order from
 * the calling thread. `p` must have MMK_PAT_LINES (else -EINVAL). `so`, `sink`
 * and `res` may be NULL. The counts of a search are those of mmk_count /
 * mmk_match_lines; the selected lines, context and gaps are those of
 * `grep -P` with the same options. Streams are read in bounded memory (a few
 * chunks, the longest line and the context lines). Errors as mmk_match_lines;
 * res holds what was found before an error or a stop.
 */
MMK_API int mmk_search(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                       const mmk_search_options *so, const mmk_sink *sink,
                       mmk_search_result *res);

/**
 * Counts per value (`mmk count --by`): for each match of `p` (an
 * MMK_PAT_LINES pattern, else -EINVAL) the bytes of capture group `group`
 * (0: the whole match; a match where the group did not take part is not
 * counted; a group that matched empty counts the empty value) are tallied.
 * The matches are those `grep -oP` prints: per line, leftmost, the next
 * search at the end of a non-empty match or one byte after an empty one,
 * empty matches not counted. (This differs from mmk_count's Python rules
 * only where an empty match and a longer one start at the same place:
 * `|ab` on "ab" counts nothing, as grep -o prints nothing.) The table is
 * sorted by count descending, then by value ascending (bytewise), and read
 * with mmk_wordtab_size / _total / _get / _free; the caller owns *out (set
 * to NULL on failure). Exact, one pass, all threads: the same as
 * `grep -oP ... | sort | uniq -c`. Memory: the scan's chunks (bounded for
 * streams, as every line scan), the distinct values, and the longest line.
 * Errors as mmk_count, and -EINVAL when group is out of range (< 0 or >
 * mmk_pattern_groups(p)) or an argument is NULL.
 */
MMK_API int mmk_count_by(const mmk_pattern *p, int group, const mmk_input *in,
                         const mmk_scan_options *opt, mmk_wordtab **out);

/* ------------------------------------------------------------------------ */
/* Compressed inputs                                                         */
/* ------------------------------------------------------------------------ */

/**
 * Compression formats, recognised by their magic bytes. bzip2's "BZh" and
 * block size digit are plain text too, so the 6 bytes after them must start a
 * block (31 41 59 26 53 59) or end an empty stream (17 72 45 38 50 90), as
 * far as the bytes given go.
 */
enum mmk_compression {
    MMK_COMP_NONE = 0,
    MMK_COMP_GZIP = 1,  /**< 1f 8b (gzip; several members are read on, as zcat does) */
    MMK_COMP_ZSTD = 2,  /**< 28 b5 2f fd, or a skippable frame (5X 2a 4d 18) */
    MMK_COMP_XZ = 3,    /**< fd 37 7a 58 5a 00 */
    MMK_COMP_BZIP2 = 4  /**< "BZh", a digit 1-9, then pi or sqrt(pi) in BCD */
};

/** The format whose magic starts `head` (n bytes, n >= 10 is enough), or MMK_COMP_NONE. */
MMK_API int mmk_compression_detect(const void *head, size_t n);

/** "gzip", "zstd", "xz", "bzip2", "none", or "unknown" for another value. */
MMK_API const char *mmk_compression_name(int format);

/** 1 if this build can decode the format (MMK_COMP_NONE: always), else 0. */
MMK_API int mmk_compression_supported(int format);

/** A decompressing stream over a file descriptor. */
typedef struct mmk_decoder mmk_decoder;

/**
 * Open a decoder reading `fd` from its current position. `format` is an enum
 * mmk_compression, or MMK_COMP_NONE to detect it from the first bytes (input
 * that is not compressed then passes through unchanged, the bytes read for
 * detection first). Only detection reads here (up to 10 bytes, waiting for
 * them on a pipe); with a format given, the first mmk_decoder_read reports
 * data that is not of it. Memory is bounded: buffers of a few hundred KiB and
 * the format's window (gzip 32 KiB; zstd up to 128 MiB, zstd's own default
 * limit, which covers --long; xz the stream's dictionary, 64 MiB at -9;
 * bzip2 up to 3.6 MiB). gzip is inflated with ISA-L where the build has it
 * (about twice zlib's speed), else with zlib. A decoder is used by one
 * thread at a time. Errors: -EINVAL, -EBADF (fd < 0), -ENOMEM, MMK_ENOTSUP
 * (the format's library is not in this build, also for a detected format),
 * -errno of read().
 */
MMK_API int mmk_decoder_open(mmk_decoder **out, int fd, int format);

/**
 * The next decompressed bytes: up to n into buf. Returns how many (> 0), 0 at
 * the end of the data, or a negative code: MMK_ECORRUPT (not valid data of the
 * format, or it ends early), -ENOMEM (also: a zstd frame whose window exceeds
 * 128 MiB, which zstdcat refuses too), -EINVAL (n == 0 or NULL arguments),
 * -errno of read(). Never returns 0 before the end: a file that stops inside
 * a member, frame or stream is MMK_ECORRUPT, after the bytes decoded before
 * that point. Several gzip members, zstd frames, xz streams and bzip2 streams
 * are read on. After the last one, gzip may be followed by zero bytes
 * (ignored, as gzip does), zstd by skippable frames, xz by its stream
 * padding; anything else is MMK_ECORRUPT, reported after all the data before
 * it (zcat and bzcat print that data and only warn; the decoder drops no
 * input silently and lets the caller decide). Checksums are verified (gzip
 * CRC-32 and length, zstd's checksum when present, xz's check, bzip2's
 * CRCs). The end and errors (except -EAGAIN) repeat at later calls. Any n
 * works, 1 included (small reads are served from a staging buffer). Its
 * signature fits mmk_input_reader: mmk_input_reader((int64_t (*)(void *,
 * void *, size_t)) mmk_decoder_read, d) — or use mmk_input_decoder.
 */
MMK_API int64_t mmk_decoder_read(void *decoder, void *buf, size_t n);

/** The format being decoded (after detection; MMK_COMP_NONE when passing through),
    -EINVAL for NULL. */
MMK_API int mmk_decoder_format(const mmk_decoder *d);

/** Release a decoder (does not close fd). NULL allowed. */
MMK_API void mmk_decoder_free(mmk_decoder *d);

/** The decompressed bytes of a decoder as a scan input. */
static inline mmk_input mmk_input_decoder(mmk_decoder *d) {
    return mmk_input_reader(mmk_decoder_read, d);
}

/* ------------------------------------------------------------------------ */
/* Time ranges of logs                                                       */
/* ------------------------------------------------------------------------ */

/** Timestamp formats of log lines. */
enum mmk_time_format {
    MMK_TIME_AUTO = 0,    /**< the format of the first line that carries one of those below */
    MMK_TIME_ISO8601 = 1, /**< 2026-11-30T08:29:57(.123)(Z|+01:00|+0100|+01) or with a space
                               (or 't') for T, a fraction after '.' or ',', at the line's
                               start or right after a '[' anywhere in the line */
    MMK_TIME_SYSLOG = 2,  /**< Nov 30 08:29:57 at the line's start, the day space-padded or
                               not (the year: see mmk_time_options.year) */
    MMK_TIME_CLF = 3      /**< [30/Nov/2026:08:29:57 +0000] anywhere in the line (the
                               common and combined log formats) */
};

/** Options of mmk_time_range and mmk_time_parse; zero-initialise for defaults. */
typedef struct mmk_time_options {
    int format; /**< enum mmk_time_format (mmk_time_range only) */
    /** The year of syslog timestamps, 1..9999. 0: from the clock, the current
        year unless that puts the timestamp more than a day after now, then
        the year before; so a log of up to a year that crosses a New Year
        (Dec ... Jan) stays in order. With a year given, every syslog line is
        in that year and such a log is out of order. */
    int year;
    int64_t utc_offset; /**< seconds east of UTC of timestamps without a zone (0: UTC),
                             at most 48 hours either way; never the TZ environment */
} mmk_time_options;

/**
 * Parse one timestamp (a --since / --until argument): any of the formats
 * above whatever opt->format says (the common log format with or without
 * its brackets), a prefix of ISO 8601 (2026-11-30, 2026-11-30T08,
 * 2026-11-30 08:29, each with an optional zone after the time), or a prefix
 * of syslog (Nov 30, Nov 30 08, Nov 30 08:29). The whole text must be the
 * timestamp and the date must exist (2026-13-01, Nov 31 and Feb 29 of a
 * common year are errors). Sets *ns to nanoseconds since 1970-01-01 UTC
 * (1677-09-21 to 2262-04-11 fit). `opt` may be NULL. Returns 0 or -EINVAL
 * (*ns unchanged).
 */
MMK_API int mmk_time_parse(const char *text, size_t len, const mmk_time_options *opt,
                           int64_t *ns);

/**
 * Find, by binary search over the map `m` (a log ordered by time), the byte
 * range [*start, *end) of the lines whose time t is since <= t < until
 * (INT64_MIN / INT64_MAX for an open side). A line without a timestamp belongs
 * to the line before; lines before the first timestamp belong to the first.
 * A date that does not exist (2026-02-29) is no timestamp. Reads only the
 * pages the search probes: the first stamped line, the last one, and
 * O(log n) probes, each a look for the next line start and a timestamp
 * (interpolation first, so usually a handful). The map is advised
 * MMK_ADVICE_RANDOM during the call and MMK_ADVICE_NORMAL after it (a cold
 * file is then read a page per probe, not a read-ahead window).
 * The range starts at a line start and ends after a '\n' or at the end;
 * until <= since gives an empty range at the start of since. When the log is
 * not in order the range is that of a binary search over it (some lines in
 * the window may be missed or extra; start <= end still, both at line
 * starts); `*sorted` (may be NULL) is set to 0 when the probes (first and
 * last stamped lines included) saw time go backwards, else 1: an unordered
 * log the probes did not catch still gets 1.
 * Errors: -EINVAL (NULL map, start or end; bad options), MMK_ECLOSED,
 * MMK_EFAULT (the file shrank; -EIO or -ENOSPC when the kernel could not
 * supply a page), and MMK_ENOTIME when no line of the map carries a
 * timestamp of the format (an empty map included). On error *start, *end and
 * *sorted are unchanged.
 */
MMK_API int mmk_time_range(mmk_map *m, int64_t since, int64_t until,
                           const mmk_time_options *opt, uint64_t *start, uint64_t *end,
                           int *sorted);

/**
 * Count '\n' bytes (what `wc -l` prints). Errors as mmk_count, except the
 * pattern ones (MMK_ELIMIT, MMK_EPATTERN).
 */
MMK_API int mmk_count_lines(const mmk_input *in, const mmk_scan_options *opt, uint64_t *lines);


/**
 * Count word frequencies: words are maximal runs of bytes that are not ASCII
 * whitespace (space, \t, \n, \v, \f, \r), lowercased in ASCII — the result of
 * collections.Counter(data.lower().split()) on bytes. The table is sorted by
 * count descending, then by word ascending (bytewise). The caller owns *out
 * (mmk_wordtab_free). Errors as mmk_count, except the pattern ones
 * (MMK_ELIMIT, MMK_EPATTERN).
 */
MMK_API int mmk_word_counts(const mmk_input *in, const mmk_scan_options *opt, mmk_wordtab **out);

/** Number of distinct words. */
MMK_API size_t mmk_wordtab_size(const mmk_wordtab *t);

/** Total number of words (sum of all counts). */
MMK_API uint64_t mmk_wordtab_total(const mmk_wordtab *t);

/**
 * Entry i (0-based, in sorted order): the word's bytes (not NUL-terminated,
 * owned by the table) and its count. Returns 0, or -EINVAL when i is out of
 * range.
 */
MMK_API int mmk_wordtab_get(const mmk_wordtab *t, size_t i, const char **word, size_t *len,
                            uint64_t *count);

/** Release a table. NULL allowed. */
MMK_API void mmk_wordtab_free(mmk_wordtab *t);

/* ------------------------------------------------------------------------ */
/* Testing and introspection knobs                                           */
/* ------------------------------------------------------------------------ */

/** CPU paths of the literal matcher. */
enum mmk_cpu_path {
    MMK_CPU_AUTO = 0,
    MMK_CPU_SCALAR = 1,
    MMK_CPU_SSE2 = 2,
    MMK_CPU_AVX2 = 3,
    MMK_CPU_AVX512 = 4
};

/**
 * Force the literal matcher's CPU path for the whole process (tests compare
 * every path with the scalar reference). Returns 0, or MMK_ENOTSUP if this
 * CPU or build cannot run that path. MMK_CPU_AUTO restores the default.
 * Not meant to be called while scans run.
 */
MMK_API int mmk_set_cpu_path(int path);

/** The path in use now (enum mmk_cpu_path, never AUTO). */
MMK_API int mmk_cpu_path(void);

/** Name of a CPU path: "scalar", "sse2", "avx2", "avx512". */
MMK_API const char *mmk_cpu_path_name(int path);

#ifdef __cplusplus
}
#endif

#endif /* MMKIT_H */
