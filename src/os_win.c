/*
 * os_win.c — the Windows platform layer (Win32, x86-64; built with mingw-w64).
 *
 * Fills the same `mmk__os` table and free functions as os_unix.c (see os.h)
 * from the Win32 API, so map.c, scan.c and the rest are the same code on
 * both platforms. What differs:
 *
 * - Descriptors. The library's `int fd` is a C runtime descriptor; the
 *   HANDLE under it (_get_osfhandle) is what every call here uses. Files are
 *   opened with CreateFileW (UTF-8 paths converted to UTF-16) and shared for
 *   reading, writing and deleting, as POSIX files are.
 * - Maps. CreateFileMappingW + MapViewOfFile at any offset that is a multiple
 *   of the allocation granularity (64 KiB; map.c maps from the granule below
 *   the requested offset). A view cannot outlive nor exceed its file, and
 *   Windows refuses to shrink a file that has a view (here -EBUSY; map.c then
 *   unmaps, shrinks and maps again). There is no mremap: map.c maps the new
 *   length beside the old one. Private anonymous memory is VirtualAlloc'd;
 *   shared anonymous memory is a pagefile-backed section.
 * - Flushing a view is FlushViewOfFile, and a synchronous flush also
 *   FlushFileBuffers on the view's file: each view remembers a duplicate of
 *   its file's handle (a small list, see view_note).
 * - Errors: GetLastError() values are translated once, in win_error, into
 *   the library's codes (-errno or MMK_E*).
 * - The fault guard: a vectored exception handler for EXCEPTION_IN_PAGE_ERROR
 *   (a mapped file's page could not be read: I/O error, a network drive gone)
 *   and for access violations on mapped file views, taken only in a thread
 *   that has a guard pushed; everything else is passed on.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0602 /* Windows 8: PrefetchVirtualMemory (looked up at run time) */
#endif
#include <windows.h>

#include <aclapi.h>
#include <sddl.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "internal.h"
#include "os.h"

/* ---- errors --------------------------------------------------------------- */

/* The one place a Windows error becomes a library code. */
static int win_error(DWORD e) {
    switch (e) {
    case ERROR_SUCCESS:
        return -EIO; /* a failure without a reason */
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_PATHNAME:
        return -ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_WRITE_PROTECT:
        return -EACCES;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return -EEXIST;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_NOT_ENOUGH_QUOTA:
    case ERROR_WORKING_SET_QUOTA:
        return -ENOMEM;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return -ENOSPC;
    case ERROR_INVALID_HANDLE:
        return -EBADF;
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_NAME:
    case ERROR_NEGATIVE_SEEK:
        return -EINVAL;
    case ERROR_USER_MAPPED_FILE:
        return -EBUSY; /* shrinking a file that has a view */
    case ERROR_FILE_TOO_LARGE:
        return -EFBIG;
    case ERROR_FILENAME_EXCED_RANGE:
        return -ENAMETOOLONG;
    case ERROR_DIRECTORY:
        return -ENOTDIR;
    case ERROR_TOO_MANY_OPEN_FILES:
        return -EMFILE;
    case ERROR_NOACCESS:
        return -EFAULT;
    case ERROR_BROKEN_PIPE:
        return -EPIPE;
    case ERROR_NOT_SUPPORTED:
    case ERROR_CALL_NOT_IMPLEMENTED:
    case ERROR_INVALID_FUNCTION:
        return MMK_ENOTSUP;
    case ERROR_FILE_INVALID:
        return -ENODEV; /* a mapping of an empty or vanished file */
    default:
        return -EIO;
    }
}

static int last_error(void) {
    return win_error(GetLastError());
}

/* Descriptors at or above this number are os_win.c's own: sections of
   named shared memory (see "sections" below), never C runtime ones. */
#define SECTION_FD_BASE 0x40000000

static HANDLE fd_handle(int fd) {
    if (fd < 0 || fd >= SECTION_FD_BASE)
        return INVALID_HANDLE_VALUE;
    return (HANDLE)_get_osfhandle(fd);
}

/* UTF-8 to a malloc'd UTF-16 string: 0, -ENOMEM, or -EINVAL for bytes that
   are not UTF-8 (a name Windows could not hold). */
static int utf8_to_wide(const char *s, wchar_t **out) {
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0)
        return -EINVAL;
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        return -EINVAL;
    }
    *out = w;
    return 0;
}

/* ---- views: which file handle each one maps -------------------------------- */

/* A synchronous flush must reach the disk (FlushFileBuffers), which takes the
   file's handle; the table's sync gets only an address. So every file view
   remembers a duplicate of its file's handle, found again by the view's base
   (VirtualQuery's AllocationBase). Few views exist at once; a list will do. */
typedef struct view_rec {
    void *base;
    HANDLE file;
    struct view_rec *next;
} view_rec;

static SRWLOCK views_lock = SRWLOCK_INIT;
static view_rec *views;

static int view_note(void *base, HANDLE file) {
    view_rec *v = malloc(sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    if (!DuplicateHandle(GetCurrentProcess(), file, GetCurrentProcess(), &v->file, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) {
        int rc = last_error();
        free(v);
        return rc;
    }
    v->base = base;
    AcquireSRWLockExclusive(&views_lock);
    v->next = views;
    views = v;
    ReleaseSRWLockExclusive(&views_lock);
    return 0;
}

static void view_forget(void *base) {
    view_rec *found = NULL;
    AcquireSRWLockExclusive(&views_lock);
    for (view_rec **pp = &views; *pp; pp = &(*pp)->next) {
        if ((*pp)->base == base) {
            found = *pp;
            *pp = found->next;
            break;
        }
    }
    ReleaseSRWLockExclusive(&views_lock);
    if (found) {
        CloseHandle(found->file);
        free(found);
    }
}

/* A duplicate of the file handle of the view holding `base` (the caller
   closes it), or NULL (anonymous memory). */
static HANDLE view_file(void *base) {
    HANDLE h = NULL;
    AcquireSRWLockShared(&views_lock);
    for (view_rec *v = views; v; v = v->next) {
        if (v->base == base) {
            if (!DuplicateHandle(GetCurrentProcess(), v->file, GetCurrentProcess(), &h, 0, FALSE,
                                 DUPLICATE_SAME_ACCESS))
                h = NULL;
            break;
        }
    }
    ReleaseSRWLockShared(&views_lock);
    return h;
}

/* ---- sections: the descriptors of named shared memory --------------------- */

/* mmk_open_fd maps named shared memory through the table below like any
   file, but a section of the paging file is no file: the C runtime cannot
   wrap its handle, and it has no file size. So such a descriptor is a number
   from SECTION_FD_BASE up, indexing this table of section handles with the
   size they were created with (or found with, rounded to pages), and every
   entry of the table that takes a descriptor checks for it first. */
#define SECTION_SLOTS 1024

typedef struct section_rec {
    HANDLE handle; /* NULL: free slot */
    uint64_t size;
    int writable;
} section_rec;

static SRWLOCK sections_lock = SRWLOCK_INIT;
static section_rec sections[SECTION_SLOTS];

/* A descriptor for `h` (taken over: closed on failure), or -EMFILE. */
static int section_add(HANDLE h, uint64_t size, int writable) {
    int fd = -EMFILE;
    AcquireSRWLockExclusive(&sections_lock);
    for (int i = 0; i < SECTION_SLOTS; i++) {
        if (sections[i].handle == NULL) {
            sections[i] = (section_rec){h, size, writable};
            fd = SECTION_FD_BASE + i;
            break;
        }
    }
    ReleaseSRWLockExclusive(&sections_lock);
    if (fd < 0)
        CloseHandle(h);
    return fd;
}

/* 1 and the record when `fd` is a section descriptor, 0 when it is not one
   (a C runtime descriptor), -EBADF for a closed or impossible one. */
static int section_get(int fd, section_rec *out) {
    if (fd < SECTION_FD_BASE)
        return 0;
    if (fd - SECTION_FD_BASE >= SECTION_SLOTS)
        return -EBADF;
    AcquireSRWLockShared(&sections_lock);
    *out = sections[fd - SECTION_FD_BASE];
    ReleaseSRWLockShared(&sections_lock);
    return out->handle ? 1 : -EBADF;
}

static int section_close(int fd) {
    HANDLE h = NULL;
    AcquireSRWLockExclusive(&sections_lock);
    if (fd - SECTION_FD_BASE < SECTION_SLOTS) {
        h = sections[fd - SECTION_FD_BASE].handle;
        sections[fd - SECTION_FD_BASE].handle = NULL;
    }
    ReleaseSRWLockExclusive(&sections_lock);
    return h && CloseHandle(h) ? 0 : -EBADF;
}

/* ---- the table ------------------------------------------------------------ */

static int win_open(const char *path, unsigned flags, unsigned mode) {
    (void)mode; /* Windows files have ACLs, not modes: the directory's apply */
    wchar_t *wpath;
    int rc = utf8_to_wide(path, &wpath);
    if (rc)
        return rc;
    DWORD access = GENERIC_READ | ((flags & MMK__OS_OPEN_WRITE) ? GENERIC_WRITE : 0);
    DWORD disp = OPEN_EXISTING;
    if (flags & MMK__OS_OPEN_CREATE)
        disp = (flags & MMK__OS_OPEN_EXCL) ? CREATE_NEW : OPEN_ALWAYS;
    /* Shared for delete too, so the file can be renamed or unlinked while
       mapped, as on POSIX. BACKUP_SEMANTICS lets a directory open, so that
       map.c sees a directory (-EISDIR) rather than "access denied". */
    HANDLE h = CreateFileW(wpath, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, disp, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_BACKUP_SEMANTICS, NULL);
    DWORD err = GetLastError();
    if (h == INVALID_HANDLE_VALUE) {
        DWORD attr = GetFileAttributesW(wpath);
        free(wpath);
        if (err == ERROR_ACCESS_DENIED && attr != INVALID_FILE_ATTRIBUTES &&
            (attr & FILE_ATTRIBUTE_DIRECTORY))
            return -EISDIR;
        return win_error(err);
    }
    free(wpath);
    int fd =
        _open_osfhandle((intptr_t)h, _O_BINARY | ((flags & MMK__OS_OPEN_WRITE) ? 0 : _O_RDONLY));
    if (fd < 0) {
        CloseHandle(h);
        return -EMFILE;
    }
    return fd;
}

static int win_close(int fd) {
    if (fd >= SECTION_FD_BASE)
        return section_close(fd);
    return _close(fd) == 0 ? 0 : -EBADF;
}

static int win_dup(int fd) {
    section_rec sec;
    int is_sec = section_get(fd, &sec);
    if (is_sec < 0)
        return is_sec;
    if (is_sec) {
        HANDLE h;
        if (!DuplicateHandle(GetCurrentProcess(), sec.handle, GetCurrentProcess(), &h, 0, FALSE,
                             DUPLICATE_SAME_ACCESS))
            return last_error();
        return section_add(h, sec.size, sec.writable);
    }
    int nfd = _dup(fd);
    return nfd >= 0 ? nfd : -errno;
}

/* NtQueryInformationFile(FileAccessInformation): the access a handle was
   opened with, which Win32 does not expose. */
typedef LONG(NTAPI *nt_query_info_fn)(HANDLE, void *iosb, void *info, ULONG len, int cls);

static int win_fd_mode(int fd, int *readable, int *writable) {
    section_rec sec;
    int is_sec = section_get(fd, &sec);
    if (is_sec < 0)
        return is_sec;
    if (is_sec) {
        *readable = 1;
        *writable = sec.writable;
        return 0;
    }
    HANDLE h = fd_handle(fd);
    if (h == INVALID_HANDLE_VALUE)
        return -EBADF;
    static nt_query_info_fn query;
    static atomic_int looked;
    if (!atomic_load(&looked)) {
        HMODULE nt = GetModuleHandleW(L"ntdll.dll");
        if (nt)
            query = (nt_query_info_fn)(void (*)(void))GetProcAddress(nt, "NtQueryInformationFile");
        atomic_store(&looked, 1);
    }
    struct {
        void *status;
        ULONG_PTR info;
    } iosb;
    ACCESS_MASK access = 0;
    if (query && query(h, &iosb, &access, sizeof access, 8 /* FileAccessInformation */) >= 0) {
        *readable = (access & (FILE_READ_DATA | GENERIC_READ | GENERIC_ALL)) != 0;
        *writable = (access & (FILE_WRITE_DATA | GENERIC_WRITE | GENERIC_ALL)) != 0;
        return 0;
    }
    /* Cannot tell: claim both and let the system refuse what it must. */
    *readable = *writable = 1;
    return 0;
}

static int handle_stat(HANDLE h, mmk__os_stat *st) {
    DWORD type = GetFileType(h);
    if (type != FILE_TYPE_DISK) {
        if (type == FILE_TYPE_UNKNOWN && GetLastError() != NO_ERROR)
            return last_error();
        st->size = 0;
        st->type = MMK__OS_OTHER;
        return 0;
    }
    BY_HANDLE_FILE_INFORMATION info;
    if (!GetFileInformationByHandle(h, &info)) {
        /* A disk handle that may not be asked for its information (wine's
           standard input redirected from a file) still has a size: a
           regular file. */
        LARGE_INTEGER size;
        if (!GetFileSizeEx(h, &size))
            return last_error();
        st->size = (uint64_t)size.QuadPart;
        st->type = MMK__OS_REGULAR;
        return 0;
    }
    st->size = ((uint64_t)info.nFileSizeHigh << 32) | info.nFileSizeLow;
    st->type =
        (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ? MMK__OS_DIRECTORY : MMK__OS_REGULAR;
    if (st->type == MMK__OS_DIRECTORY)
        st->size = 0;
    return 0;
}

static int win_fstat(int fd, mmk__os_stat *st) {
    section_rec sec;
    int is_sec = section_get(fd, &sec);
    if (is_sec < 0)
        return is_sec;
    if (is_sec) {
        st->size = sec.size;
        st->type = MMK__OS_REGULAR;
        return 0;
    }
    HANDLE h = fd_handle(fd);
    if (h == INVALID_HANDLE_VALUE)
        return -EBADF;
    return handle_stat(h, st);
}

static int win_stat(const char *path, mmk__os_stat *st) {
    wchar_t *wpath;
    int rc = utf8_to_wide(path, &wpath);
    if (rc)
        return rc;
    WIN32_FILE_ATTRIBUTE_DATA a;
    BOOL ok = GetFileAttributesExW(wpath, GetFileExInfoStandard, &a);
    free(wpath);
    if (!ok)
        return last_error();
    if (a.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
        st->type = MMK__OS_DIRECTORY;
        st->size = 0;
    } else {
        st->type = (a.dwFileAttributes & FILE_ATTRIBUTE_DEVICE) ? MMK__OS_OTHER : MMK__OS_REGULAR;
        st->size = ((uint64_t)a.nFileSizeHigh << 32) | a.nFileSizeLow;
    }
    return 0;
}

static int win_truncate(int fd, uint64_t size) {
    section_rec sec;
    int is_sec = section_get(fd, &sec);
    if (is_sec < 0)
        return is_sec;
    if (is_sec) /* a section of the paging file keeps the size it was made with */
        return size == sec.size ? 0 : MMK_ENOTSUP;
    if (size > (uint64_t)INT64_MAX)
        return -EFBIG;
    HANDLE h = fd_handle(fd);
    if (h == INVALID_HANDLE_VALUE)
        return -EBADF;
    FILE_END_OF_FILE_INFO eof;
    eof.EndOfFile.QuadPart = (LONGLONG)size;
    if (!SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof eof))
        return last_error();
    return 0;
}

static int win_unlink(const char *path) {
    wchar_t *wpath;
    int rc = utf8_to_wide(path, &wpath);
    if (rc)
        return rc;
    BOOL ok = DeleteFileW(wpath);
    free(wpath);
    return ok ? 0 : last_error();
}

static int win_map(int fd, uint64_t offset, size_t len, unsigned how, int native_flags,
                   void **addr) {
    (void)native_flags; /* POSIX MAP_* flags have no meaning here */
    if (len == 0)
        return -EINVAL;
    int write = (how & MMK__OS_MAP_WRITE) != 0, priv = (how & MMK__OS_MAP_PRIVATE) != 0;
    if ((how & MMK__OS_MAP_ANON) && priv) {
        /* Private anonymous memory: committed, zeroed pages. */
        void *p = VirtualAlloc(NULL, len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (p == NULL)
            return last_error();
        *addr = p;
        return 0;
    }
    HANDLE file = INVALID_HANDLE_VALUE; /* a pagefile-backed section for shared anonymous */
    uint64_t max = 0;                   /* a file's section: the file's own size */
    if (how & MMK__OS_MAP_ANON) {
        offset = 0;
        max = len;
    } else {
        file = fd_handle(fd);
        if (file == INVALID_HANDLE_VALUE && fd < SECTION_FD_BASE)
            return -EBADF;
    }
    DWORD protect = !write ? PAGE_READONLY : priv ? PAGE_WRITECOPY : PAGE_READWRITE;
    DWORD access = !write ? FILE_MAP_READ : priv ? FILE_MAP_COPY : FILE_MAP_WRITE | FILE_MAP_READ;
    section_rec sec;
    int is_sec = (how & MMK__OS_MAP_ANON) ? 0 : section_get(fd, &sec);
    if (is_sec < 0)
        return is_sec;
    if (is_sec) { /* named shared memory: a view of its own section */
        if (offset > sec.size || len > sec.size - offset)
            return -EINVAL;
        void *v = MapViewOfFile(sec.handle, access, (DWORD)(offset >> 32), (DWORD)offset, len);
        if (v == NULL)
            return last_error();
        *addr = v;
        return 0;
    }
    HANDLE section = CreateFileMappingW(file, NULL, protect, (DWORD)(max >> 32), (DWORD)max, NULL);
    if (section == NULL)
        return last_error();
    void *p = MapViewOfFile(section, access, (DWORD)(offset >> 32), (DWORD)offset, len);
    int rc = p ? 0 : last_error();
    CloseHandle(section); /* the view keeps the section alive */
    if (rc)
        return rc == -EACCES ? -EINVAL : rc; /* a view past the file's end */
    if (file != INVALID_HANDLE_VALUE && (rc = view_note(p, file)) != 0) {
        UnmapViewOfFile(p);
        return rc;
    }
    if ((how & MMK__OS_MAP_POPULATE) && mmk__os.advise) {
        int native;
        if (mmk__os_populate_advice(0, &native) == 0)
            (void)mmk__os.advise(p, len, native);
    }
    *addr = p;
    return 0;
}

static int win_remap(void *addr, size_t old_len, size_t new_len, void **new_addr) {
    (void)addr, (void)old_len, (void)new_len, (void)new_addr;
    return MMK_ENOTSUP; /* map.c maps the new length, then unmaps the old */
}

static int win_unmap(void *addr, size_t len) {
    (void)len; /* a view or an allocation goes whole */
    MEMORY_BASIC_INFORMATION mbi;
    if (VirtualQuery(addr, &mbi, sizeof mbi) == 0)
        return last_error();
    if (mbi.Type == MEM_PRIVATE)
        return VirtualFree(mbi.AllocationBase, 0, MEM_RELEASE) ? 0 : last_error();
    view_forget(mbi.AllocationBase);
    return UnmapViewOfFile(mbi.AllocationBase) ? 0 : last_error();
}

static int win_sync(void *addr, size_t len, int flags) {
    /* MMK_FLUSH_INVALIDATE needs nothing: views of one file share pages. */
    MEMORY_BASIC_INFORMATION mbi;
    if (VirtualQuery(addr, &mbi, sizeof mbi) == 0)
        return last_error();
    if (mbi.Type != MEM_MAPPED)
        return 0; /* private anonymous memory has nowhere to go */
    if (!FlushViewOfFile(addr, len))
        return last_error();
    if (flags & MMK_FLUSH_ASYNC)
        return 0;
    HANDLE file = view_file(mbi.AllocationBase);
    if (file == NULL)
        return 0; /* shared anonymous memory */
    BOOL ok = FlushFileBuffers(file);
    int rc = ok ? 0 : last_error();
    CloseHandle(file);
    return rc;
}

/* Native advice values of this platform (mmk__os_advice). */
enum { WIN_ADVICE_NONE = 1, WIN_ADVICE_PREFETCH = 2 };

typedef struct {
    PVOID VirtualAddress;
    SIZE_T NumberOfBytes;
} win_range_entry;
typedef BOOL(WINAPI *prefetch_fn)(HANDLE, ULONG_PTR, win_range_entry *, ULONG);

static int win_advise(void *addr, size_t len, int native_advice) {
    if (native_advice == WIN_ADVICE_NONE)
        return 0;
    if (native_advice != WIN_ADVICE_PREFETCH)
        return -EINVAL;
    /* PrefetchVirtualMemory is Windows 8 and later: looked up, not linked. */
    static prefetch_fn prefetch;
    static atomic_int looked;
    if (!atomic_load(&looked)) {
        HMODULE k = GetModuleHandleW(L"kernel32.dll");
        if (k)
            prefetch = (prefetch_fn)(void (*)(void))GetProcAddress(k, "PrefetchVirtualMemory");
        atomic_store(&looked, 1);
    }
    if (prefetch == NULL)
        return MMK_ENOTSUP;
    win_range_entry r = {addr, len};
    return prefetch(GetCurrentProcess(), 1, &r, 0) ? 0 : last_error();
}

static int win_lock(void *addr, size_t len) {
    return VirtualLock(addr, len) ? 0 : last_error();
}

static int win_unlock(void *addr, size_t len) {
    return VirtualUnlock(addr, len) ? 0 : last_error();
}

static int win_anon_fd(void) {
    return MMK_ENOTSUP; /* no memfd: shared anonymous maps keep their first size */
}

/* Windows has no advice about a file's cached pages by range (only
   FILE_FLAG_SEQUENTIAL_SCAN and FILE_FLAG_NO_BUFFERING when a file is
   opened, and the descriptor is the caller's): the scan's read-ahead hints
   and MMK_SCAN_NO_CACHE are no-ops here. */
static int win_file_advise(int fd, uint64_t offset, uint64_t len, int advice) {
    (void)fd, (void)offset, (void)len, (void)advice;
    return MMK_ENOTSUP;
}

/* FILE_FLAG_NO_BUFFERING would need the file reopened by name (ReOpenFile)
   and sector-aligned reads; not done: files larger than memory are read
   through the cache manager as any other. */
static int win_open_direct(int fd) {
    (void)fd;
    return MMK_ENOTSUP;
}

/* ReadFile at an offset. Unlike pread, it moves the handle's file pointer
   (a synchronous handle's position follows every read). */
static int64_t win_pread(int fd, void *buf, size_t n, uint64_t offset) {
    if (fd >= SECTION_FD_BASE)
        return MMK_ENOTSUP; /* sections are mapped, never read */
    if (offset > (uint64_t)INT64_MAX)
        return -EOVERFLOW;
    HANDLE h = fd_handle(fd);
    if (h == INVALID_HANDLE_VALUE)
        return -EBADF;
    if (GetFileType(h) != FILE_TYPE_DISK)
        return -ESPIPE;
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.Offset = (DWORD)offset;
    ov.OffsetHigh = (DWORD)(offset >> 32);
    DWORD want = n > 0x7fffffffu ? 0x7fffffffu : (DWORD)n, got = 0;
    if (!ReadFile(h, buf, want, &got, &ov)) {
        DWORD e = GetLastError();
        if (e == ERROR_HANDLE_EOF)
            return 0;
        return win_error(e);
    }
    return (int64_t)got;
}

static int win_allocate(int fd, uint64_t offset, uint64_t len, int keep_size) {
    if (fd >= SECTION_FD_BASE)
        return MMK_ENOTSUP;
    (void)fd, (void)offset, (void)len, (void)keep_size;
    /* NTFS can reserve (FileAllocationInfo) only from the start of the file
       and never promises the blocks of a later hole: say so, and map.c uses
       a sparse file instead. */
    return len == 0 ? 0 : MMK_ENOTSUP;
}

static int64_t win_next_hole(int fd, uint64_t offset) {
    if (fd >= SECTION_FD_BASE)
        return MMK_ENOTSUP;
    (void)fd, (void)offset;
    return MMK_ENOTSUP;
}

static void win_sleep_us(unsigned usec) {
    Sleep((usec + 999u) / 1000u);
}

static int win_process_barrier_setup(void) {
    return 0;
}

static int win_process_barrier(void) {
    /* A full barrier on every processor running a thread of this process:
       exactly what Linux's private expedited membarrier gives. */
    FlushProcessWriteBuffers();
    return 0;
}

/* Only Linux's large page-cache folios were measured to make a map of a file
   larger than memory the fastest read. */
static int win_file_maps_fast(int fd) {
    (void)fd;
    return 0;
}

#define WIN_METHODS                                                                                \
    {                                                                                              \
        .open = win_open, .close = win_close, .dup = win_dup, .fd_mode = win_fd_mode,              \
        .fstat = win_fstat, .stat = win_stat, .truncate = win_truncate, .unlink = win_unlink,      \
        .map = win_map, .remap = win_remap, .unmap = win_unmap, .sync = win_sync,                  \
        .advise = win_advise, .lock = win_lock, .unlock = win_unlock, .anon_fd = win_anon_fd,      \
        .pread = win_pread, .file_advise = win_file_advise, .open_direct = win_open_direct,        \
        .allocate = win_allocate, .next_hole = win_next_hole, .sleep_us = win_sleep_us,            \
        .process_barrier_setup = win_process_barrier_setup,                                        \
        .process_barrier = win_process_barrier, .file_maps_fast = win_file_maps_fast,              \
    }

const mmk__os_methods mmk__os_default = WIN_METHODS;
mmk__os_methods mmk__os = WIN_METHODS;

static void system_info(uint64_t *page, uint64_t *gran) {
    static _Atomic uint64_t cached_page, cached_gran;
    uint64_t p = atomic_load_explicit(&cached_page, memory_order_relaxed);
    uint64_t g = atomic_load_explicit(&cached_gran, memory_order_relaxed);
    if (p == 0 || g == 0) {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        p = si.dwPageSize ? si.dwPageSize : 4096;
        g = si.dwAllocationGranularity ? si.dwAllocationGranularity : 65536;
        atomic_store_explicit(&cached_page, p, memory_order_relaxed);
        atomic_store_explicit(&cached_gran, g, memory_order_relaxed);
    }
    *page = p;
    *gran = g;
}

uint64_t mmk__os_page_size(void) {
    uint64_t p, g;
    system_info(&p, &g);
    return p;
}

uint64_t mmk__os_granularity(void) {
    /* Views start at multiples of the allocation granularity (64 KiB). */
    uint64_t p, g;
    system_info(&p, &g);
    return g;
}

uint64_t mmk_page_size(void) {
    return mmk__os_page_size();
}

uint64_t mmk_allocation_granularity(void) {
    return mmk__os_granularity();
}

int mmk__os_advice(int advice, int *native) {
    switch (advice) {
    case MMK_ADVICE_NORMAL:
        *native = WIN_ADVICE_NONE; /* the only behaviour Windows has */
        return 0;
    case MMK_ADVICE_WILLNEED:
        *native = WIN_ADVICE_PREFETCH;
        return 0;
    case MMK_ADVICE_SEQUENTIAL:
    case MMK_ADVICE_RANDOM:
    case MMK_ADVICE_DONTNEED:
    case MMK_ADVICE_HUGEPAGE:
        return MMK_ENOTSUP;
    default:
        return -EINVAL;
    }
}

int mmk__os_populate_advice(int for_write, int *native) {
    if (for_write)
        return MMK_ENOTSUP; /* prefetching reads pages in; it never allocates them */
    *native = WIN_ADVICE_PREFETCH;
    return 0;
}

int mmk__os_set_anon_name(void *addr, size_t len, const char *name) {
    (void)addr, (void)len, (void)name;
    return MMK_ENOTSUP;
}

/* ======================================================================== */
/* Threads, clocks and process facts (os.h): Win32 native primitives.        */

_Static_assert(sizeof(mmk__mutex) == sizeof(SRWLOCK), "mmk__mutex holds an SRWLOCK");
_Static_assert(sizeof(mmk__cond) == sizeof(CONDITION_VARIABLE), "mmk__cond holds a CV");
_Static_assert(sizeof(mmk__once_t) == sizeof(INIT_ONCE), "mmk__once_t holds an INIT_ONCE");

typedef struct thread_start {
    void *(*fn)(void *);
    void *arg;
} thread_start;

static DWORD WINAPI thread_main(LPVOID p) {
    thread_start s = *(thread_start *)p;
    free(p);
    (void)s.fn(s.arg);
    return 0;
}

int mmk__thread_create(mmk__thread *t, void *(*fn)(void *), void *arg) {
    thread_start *s = malloc(sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->fn = fn;
    s->arg = arg;
    HANDLE h = CreateThread(NULL, 0, thread_main, s, 0, NULL);
    if (h == NULL) {
        int rc = last_error();
        free(s);
        return rc;
    }
    t->handle = h;
    return 0;
}

void mmk__thread_join(mmk__thread t) {
    WaitForSingleObject(t.handle, INFINITE);
    CloseHandle(t.handle);
}

void mmk__mutex_init(mmk__mutex *mu) {
    InitializeSRWLock((SRWLOCK *)mu);
}

void mmk__mutex_destroy(mmk__mutex *mu) {
    (void)mu; /* an SRWLOCK holds no resources */
}

void mmk__mutex_lock(mmk__mutex *mu) {
    AcquireSRWLockExclusive((SRWLOCK *)mu);
}

void mmk__mutex_unlock(mmk__mutex *mu) {
    ReleaseSRWLockExclusive((SRWLOCK *)mu);
}

void mmk__cond_init(mmk__cond *cv) {
    InitializeConditionVariable((CONDITION_VARIABLE *)cv);
}

void mmk__cond_destroy(mmk__cond *cv) {
    (void)cv;
}

void mmk__cond_wait(mmk__cond *cv, mmk__mutex *mu) {
    SleepConditionVariableSRW((CONDITION_VARIABLE *)cv, (SRWLOCK *)mu, INFINITE, 0);
}

void mmk__cond_timedwait(mmk__cond *cv, mmk__mutex *mu, uint64_t ns) {
    uint64_t ms = (ns + 999999u) / 1000000u;
    if (ms >= INFINITE)
        ms = INFINITE - 1;
    SleepConditionVariableSRW((CONDITION_VARIABLE *)cv, (SRWLOCK *)mu, (DWORD)ms, 0);
}

void mmk__cond_signal(mmk__cond *cv) {
    WakeConditionVariable((CONDITION_VARIABLE *)cv);
}

void mmk__cond_broadcast(mmk__cond *cv) {
    WakeAllConditionVariable((CONDITION_VARIABLE *)cv);
}

typedef struct once_call {
    void (*fn)(void);
} once_call;

static BOOL CALLBACK once_main(PINIT_ONCE once, PVOID param, PVOID *ctx) {
    (void)once, (void)ctx;
    ((once_call *)param)->fn();
    return TRUE;
}

void mmk__once(mmk__once_t *once, void (*fn)(void)) {
    once_call c = {fn};
    InitOnceExecuteOnce((PINIT_ONCE)once, once_main, &c, NULL);
}

/* Thread-exit destructors: fiber-local storage calls a WINAPI callback with
   the value only, so each key gets its own callback slot. */
enum { TLS_KEYS = 4 };
static void (*tls_dtors[TLS_KEYS])(void *);
static atomic_int tls_used;

#define TLS_CALLBACK(i)                                                                            \
    static VOID WINAPI tls_callback_##i(PVOID v) {                                                 \
        if (v && tls_dtors[i])                                                                     \
            tls_dtors[i](v);                                                                       \
    }
TLS_CALLBACK(0)
TLS_CALLBACK(1)
TLS_CALLBACK(2)
TLS_CALLBACK(3)
static PFLS_CALLBACK_FUNCTION const tls_callbacks[TLS_KEYS] = {tls_callback_0, tls_callback_1,
                                                               tls_callback_2, tls_callback_3};

int mmk__tls_create(mmk__tls_key *key, void (*dtor)(void *)) {
    int i = atomic_fetch_add(&tls_used, 1);
    if (i >= TLS_KEYS)
        return -EAGAIN;
    tls_dtors[i] = dtor;
    DWORD k = FlsAlloc(dtor ? tls_callbacks[i] : NULL);
    if (k == FLS_OUT_OF_INDEXES)
        return -EAGAIN;
    *key = k;
    return 0;
}

int mmk__tls_set(mmk__tls_key key, void *value) {
    return FlsSetValue((DWORD)key, value) ? 0 : last_error();
}

int mmk__os_atfork_child(void (*child)(void)) {
    (void)child; /* no fork() on Windows */
    return 0;
}

void mmk__os_yield(void) {
    (void)SwitchToThread();
}

uint64_t mmk__os_now_ns(void) {
    static _Atomic int64_t freq;
    int64_t f = atomic_load_explicit(&freq, memory_order_relaxed);
    if (f == 0) {
        LARGE_INTEGER q;
        QueryPerformanceFrequency(&q);
        f = q.QuadPart > 0 ? q.QuadPart : 1;
        atomic_store_explicit(&freq, f, memory_order_relaxed);
    }
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    uint64_t t = (uint64_t)c.QuadPart;
    return t / (uint64_t)f * 1000000000u + t % (uint64_t)f * 1000000000u / (uint64_t)f;
}

int64_t mmk__os_wall_seconds(void) {
    FILETIME ft;
    GetSystemTimeAsFileTime(&ft);
    uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
    /* 100 ns ticks since 1601-01-01 */
    return (int64_t)(t / 10000000u) - 11644473600LL;
}

uint64_t mmk__os_memory_size(void) {
    MEMORYSTATUSEX ms;
    ms.dwLength = sizeof ms;
    return GlobalMemoryStatusEx(&ms) ? (uint64_t)ms.ullTotalPhys : 0;
}

unsigned mmk__os_cpu_count(void) {
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    if (n == 0) {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        n = si.dwNumberOfProcessors;
    }
    return n > 0 ? (unsigned)n : 1;
}

int64_t mmk__os_read(int fd, void *buf, size_t n) {
    HANDLE h = fd_handle(fd);
    if (h == INVALID_HANDLE_VALUE)
        return -EBADF;
    DWORD want = n > 0x7fffffffu ? 0x7fffffffu : (DWORD)n, got = 0;
    if (!ReadFile(h, buf, want, &got, NULL)) {
        DWORD e = GetLastError();
        if (e == ERROR_BROKEN_PIPE || e == ERROR_HANDLE_EOF)
            return 0; /* the writer is gone: the end of the stream */
        return win_error(e);
    }
    return (int64_t)got;
}

int mmk__os_fd_ready(int fd) {
    HANDLE h = fd_handle(fd);
    if (h == INVALID_HANDLE_VALUE || GetFileType(h) != FILE_TYPE_PIPE)
        return 1;
    DWORD avail = 0;
    if (!PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL))
        return 1; /* broken: a read returns the end at once */
    return avail > 0;
}

int mmk__os_fd_wait(int fd) {
    /* Only pipes can have nothing yet; an anonymous pipe has no event to
       wait on, so look again every millisecond. */
    while (!mmk__os_fd_ready(fd))
        Sleep(1);
    return 0;
}

int mmk__os_size_is_a_guess(int fd) {
    (void)fd; /* no pseudo-filesystems with made-up sizes */
    return 0;
}

/* ======================================================================== */
/* The fault guard's Windows half (guard.c has the portable half).           */

/*
 * A vectored exception handler, first in the process's list. It takes an
 * exception only in a thread that has a guard pushed, and only if it is
 * EXCEPTION_IN_PAGE_ERROR (the page of a mapped file could not be brought
 * in) or an access violation on a mapped view of a file (a view whose
 * section the system has invalidated). Everything else (a wild pointer, a
 * breakpoint, an exception in a thread without a guard) continues the search
 * unchanged, so debuggers, SEH blocks and crash reporters see it as before.
 *
 * It does not jump from inside the exception dispatcher: it rewrites the
 * faulting thread's context to call guard_resume(g) as if the faulting
 * instruction had called it, and continues execution. guard_resume then
 * jumps to the guard from ordinary thread context. The handler list is
 * per process and the guard stack per thread, so threads fault independently.
 */
static void guard_resume(mmk__guard *g) {
    MMK__LONGJMP(g->env);
}

static LONG CALLBACK guard_handler(EXCEPTION_POINTERS *ep) {
    const EXCEPTION_RECORD *rec = ep->ExceptionRecord;
    DWORD code = rec->ExceptionCode;
    if (code == EXCEPTION_ACCESS_VIOLATION) {
        MEMORY_BASIC_INFORMATION mbi;
        void *at = rec->NumberParameters >= 2 ? (void *)rec->ExceptionInformation[1] : NULL;
        if (at == NULL || VirtualQuery(at, &mbi, sizeof mbi) == 0 || mbi.Type != MEM_MAPPED)
            return EXCEPTION_CONTINUE_SEARCH;
    } else if (code != EXCEPTION_IN_PAGE_ERROR) {
        return EXCEPTION_CONTINUE_SEARCH;
    }
    if (mmk__guard_top == NULL)
        return EXCEPTION_CONTINUE_SEARCH;
    mmk__guard *g = mmk__guard_take();
#if defined(__x86_64__) || defined(_M_X64)
    CONTEXT *c = ep->ContextRecord;
    /* A call frame below the faulting one: 16-byte aligned before the
       return address (the faulting instruction's, so unwinders see a
       sensible stack), with the callee's 32-byte home area inside the gap. */
    uintptr_t sp = ((uintptr_t)c->Rsp - 256u) & ~(uintptr_t)15;
    sp -= 8;
    *(DWORD64 *)sp = c->Rip;
    c->Rsp = sp;
    c->Rcx = (DWORD64)(uintptr_t)g;
    c->Rip = (DWORD64)(uintptr_t)guard_resume;
    return EXCEPTION_CONTINUE_EXECUTION;
#else
    guard_resume(g); /* other architectures: jump from the handler itself */
    return EXCEPTION_CONTINUE_SEARCH;
#endif
}

static INIT_ONCE guard_once = INIT_ONCE_STATIC_INIT;
static int guard_install_rc;

static BOOL CALLBACK guard_install_once(PINIT_ONCE once, PVOID param, PVOID *ctx) {
    (void)once, (void)param, (void)ctx;
    if (AddVectoredExceptionHandler(1, guard_handler) == NULL)
        guard_install_rc = last_error();
    return TRUE;
}

int mmk__os_guard_install(void) {
    /* Vectored handlers are called in order and pass on what is not theirs,
       so being first once is enough: nothing to re-arm. */
    InitOnceExecuteOnce(&guard_once, guard_install_once, NULL, NULL);
    return guard_install_rc;
}

void mmk__os_guard_arm(void) {
    (void)mmk__os_guard_install();
}

/* ---- named shared memory (shm.c) ------------------------------------------
 *
 * An mmkit name "/x" is the section Local\mmkit-shm-x of the paging file (the
 * session's namespace, which needs no privilege). What differs from POSIX:
 * a section is sized when it is created and never after; it vanishes with
 * its last handle (there is nothing to unlink, and nothing outlives the
 * processes using it); the size of one opened by name is its view's, a whole
 * number of pages; and access is a security descriptor, not mode bits. */

/* Local\mmkit-shm-<component> in UTF-16 (malloc'd), or -EINVAL for a
   component Windows cannot name (a backslash, or bytes that are not UTF-8). */
static int shm_wide_name(const char *name, wchar_t **out) {
    static const char prefix[] = "Local\\mmkit-shm-";
    const char *comp = name[0] == '/' ? name + 1 : name;
    if (strchr(comp, '\\'))
        return -EINVAL;
    size_t n = strlen(comp);
    char *full = malloc(sizeof prefix + n);
    if (full == NULL)
        return -ENOMEM;
    memcpy(full, prefix, sizeof prefix - 1);
    memcpy(full + sizeof prefix - 1, comp, n + 1);
    int rc = utf8_to_wide(full, out);
    free(full);
    return rc;
}

/* The SID of the process's user (malloc'd TOKEN_USER; the SID is inside). */
static int current_user(TOKEN_USER **out) {
    HANDLE token;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return last_error();
    DWORD n = 0;
    GetTokenInformation(token, TokenUser, NULL, 0, &n);
    TOKEN_USER *tu = n ? malloc(n) : NULL;
    int rc = tu ? 0 : -ENOMEM;
    if (rc == 0 && !GetTokenInformation(token, TokenUser, tu, n, &n))
        rc = last_error();
    CloseHandle(token);
    if (rc) {
        free(tu);
        return rc;
    }
    *out = tu;
    return 0;
}

/* A security descriptor (LocalFree it) owned by the caller's user (named
   explicitly: an elevated administrator's objects are otherwise owned by the
   Administrators group, which the owner check would refuse), giving that
   user all access and nobody else any, unless `mode` opens the object to others: then
   everyone gets read (0044) or read and write (0022) access. */
static int shm_security(unsigned mode, PSECURITY_DESCRIPTOR *sd) {
    TOKEN_USER *tu;
    int rc = current_user(&tu);
    if (rc)
        return rc;
    wchar_t *sid = NULL;
    if (!ConvertSidToStringSidW(tu->User.Sid, &sid)) {
        rc = last_error();
        free(tu);
        return rc;
    }
    free(tu);
    const wchar_t *others = (mode & 0022) ? L"(A;;GA;;;WD)" : (mode & 0044) ? L"(A;;GR;;;WD)" : L"";
    size_t len = 2 * wcslen(sid) + wcslen(others) + 32;
    wchar_t *sddl = malloc(len * sizeof *sddl);
    if (sddl == NULL) {
        LocalFree(sid);
        return -ENOMEM;
    }
    _snwprintf(sddl, len, L"O:%lsD:P(A;;GA;;;%ls)%ls", sid, sid, others);
    sddl[len - 1] = 0;
    LocalFree(sid);
    BOOL ok = ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, sd, NULL);
    rc = ok ? 0 : last_error();
    free(sddl);
    return rc;
}

int mmk__os_shm_open(const char *name, int how, int writable, unsigned mode, uint64_t length) {
    wchar_t *wname;
    int rc = shm_wide_name(name, &wname);
    if (rc)
        return rc;
    HANDLE h = NULL;
    uint64_t size = length;
    if (how == MMK__OS_SHM_CREATE_EXCL) {
        PSECURITY_DESCRIPTOR sd = NULL;
        if (length == 0 || length > (uint64_t)INT64_MAX)
            rc = -EINVAL; /* a section needs its size now, and at least one byte */
        else
            rc = shm_security(mode, &sd);
        if (rc == 0) {
            SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
            h = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, (DWORD)(length >> 32),
                                   (DWORD)length, wname);
            DWORD err = GetLastError();
            if (h == NULL)
                rc = win_error(err);
            else if (err == ERROR_ALREADY_EXISTS) { /* the existing one was opened instead */
                CloseHandle(h);
                h = NULL;
                rc = -EEXIST;
            }
            LocalFree(sd);
        }
        writable = 1;
    } else {
        /* READ_CONTROL: the owner check reads the section's owner. */
        DWORD access = FILE_MAP_READ | READ_CONTROL | (writable ? FILE_MAP_WRITE : 0);
        h = OpenFileMappingW(access, FALSE, wname);
        if (h == NULL)
            rc = last_error();
        void *v = h ? MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0) : NULL;
        MEMORY_BASIC_INFORMATION mbi;
        if (h && v == NULL)
            rc = last_error();
        else if (v && VirtualQuery(v, &mbi, sizeof mbi) == 0)
            rc = last_error();
        else if (v)
            size = mbi.RegionSize;
        if (v)
            UnmapViewOfFile(v);
        if (rc && h) {
            CloseHandle(h);
            h = NULL;
        }
    }
    free(wname);
    if (rc)
        return rc;
    return section_add(h, size, writable);
}

int mmk__os_shm_size(int fd, uint64_t *size) {
    section_rec sec;
    int rc = section_get(fd, &sec);
    if (rc <= 0)
        return rc < 0 ? rc : -EBADF;
    *size = sec.size;
    return 0;
}

int mmk__os_shm_set_size(int fd, uint64_t size) {
    section_rec sec;
    int rc = section_get(fd, &sec);
    if (rc <= 0)
        return rc < 0 ? rc : -EBADF;
    return size <= sec.size ? 0 : MMK_ENOTSUP;
}

/* Only the owner is compared (the security descriptor of a section made by
   mmkit grants what its mode asked; one made otherwise is the owner's
   business). */
int mmk__os_shm_check_owner(int fd, unsigned mode) {
    (void)mode;
    section_rec sec;
    int rc = section_get(fd, &sec);
    if (rc <= 0)
        return rc < 0 ? rc : -EBADF;
    PSID owner = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    DWORD err = GetSecurityInfo(sec.handle, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &owner,
                                NULL, NULL, NULL, &sd);
    if (err != ERROR_SUCCESS)
        return win_error(err);
    TOKEN_USER *tu;
    rc = current_user(&tu);
    if (rc == 0) {
        rc = owner && EqualSid(owner, tu->User.Sid) ? 0 : MMK_EOWNER;
        free(tu);
    }
    LocalFree(sd);
    return rc;
}

void mmk__os_shm_close(int fd) {
    (void)section_close(fd);
}

/* Nothing to remove: the section goes when its last handle is closed, and
   its name with it. 0 when it exists (as shm_unlink would say), else the
   reason it cannot be opened. */
int mmk__os_shm_unlink(const char *name) {
    wchar_t *wname;
    int rc = shm_wide_name(name, &wname);
    if (rc)
        return rc;
    HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, wname);
    rc = h ? 0 : last_error();
    if (h)
        CloseHandle(h);
    free(wname);
    return rc == -EACCES ? 0 : rc; /* someone else's: it exists all the same */
}
