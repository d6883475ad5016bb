/*
 * sys_win.c — the `mmk` tool's system interface (cli/sys.h) on Windows.
 *
 * Paths and the command line are UTF-8 inside mmk and UTF-16 at the wide
 * Win32 calls. Standard output is written in binary (no "\n" -> "\r\n"), so
 * `mmk grep` gives the same bytes as on Linux when redirected; on a console,
 * text goes through WriteConsoleW so UTF-8 shows whatever the console's code
 * page. Files are opened sharing read, write and delete, so a log being
 * followed can still be written, renamed and deleted by its writer.
 * Directories are listed with FindFirstFileExW/FindNextFileW; a file's
 * identity (loop detection, rotation) is its volume serial and file index.
 * Ctrl-C and Ctrl-Break come through SetConsoleCtrlHandler; `grep --follow`
 * waits on a directory change notification with a 100 ms poll.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <process.h>
#include <shellapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"

_Static_assert(sizeof(sys_mutex) >= sizeof(SRWLOCK), "sys_mutex holds an SRWLOCK");
_Static_assert(sizeof(sys_cond) >= sizeof(CONDITION_VARIABLE),
               "sys_cond holds a CONDITION_VARIABLE");

/* ---- UTF-8 <-> UTF-16, errors -------------------------------------------------- */

/* A malloc'd UTF-16 copy of the UTF-8 string s, or NULL (invalid UTF-8 or out
   of memory: errno says which). */
static wchar_t *wide(const char *s) {
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0) {
        errno = ENOENT; /* a name that cannot be spelled in UTF-16 names nothing */
        return NULL;
    }
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (!w) {
        errno = ENOMEM;
        return NULL;
    }
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
    return w;
}

/* A malloc'd UTF-8 copy of the UTF-16 string w, or NULL. */
static char *narrow(const wchar_t *w) {
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = n > 0 ? malloc((size_t)n) : NULL;
    if (s) {
        WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
    }
    return s;
}

/* A Win32 error as a negative errno, the CLI's currency. */
static int win_error(DWORD e) {
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_PATHNAME:
    case ERROR_INVALID_DRIVE:
        return -ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
        return -EACCES;
    case ERROR_DIRECTORY:
        return -ENOTDIR;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return -ENOMEM;
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
        return -EPIPE;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return -ENOSPC;
    case ERROR_FILENAME_EXCED_RANGE:
        return -ENAMETOOLONG;
    case ERROR_CANT_RESOLVE_FILENAME:
        return -ELOOP;
    case ERROR_INVALID_HANDLE:
        return -EBADF;
    case ERROR_INVALID_PARAMETER:
        return -EINVAL;
    default:
        return -EIO;
    }
}

static HANDLE fd_handle(int fd) {
    return (HANDLE)_get_osfhandle(fd);
}

/* ---- process start ----------------------------------------------------------- */

void sys_init(int *argc, char ***argv) {
    /* The bytes mmk writes are the bytes that arrive: no CRLF translation,
       and no ^Z end of file on standard input. */
    _setmode(0, _O_BINARY);
    _setmode(1, _O_BINARY);
    _setmode(2, _O_BINARY);
    /* The arguments as typed, in UTF-8 (main's argv is in the ANSI code page,
       which cannot hold every name). Kept until the process ends. */
    int n = 0;
    wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &n);
    if (!wargv || n < 1) {
        return;
    }
    char **args = calloc((size_t)n + 1, sizeof *args);
    for (int i = 0; args && i < n; i++) {
        args[i] = narrow(wargv[i]);
        if (!args[i]) {
            return; /* out of memory: keep the ANSI arguments */
        }
    }
    LocalFree(wargv);
    if (args) {
        *argc = n;
        *argv = args;
    }
}

void sys_exit_now(int status) {
    _exit(status);
}

/* ---- files -------------------------------------------------------------------- */

static void fill_info(sys_stat *out, const BY_HANDLE_FILE_INFORMATION *fi) {
    DWORD a = fi->dwFileAttributes;
    out->kind = (a & FILE_ATTRIBUTE_DIRECTORY) ? SYS_DIRECTORY
                : (a & FILE_ATTRIBUTE_DEVICE)  ? SYS_OTHER
                                               : SYS_REGULAR;
    out->size = ((uint64_t)fi->nFileSizeHigh << 32) | fi->nFileSizeLow;
    out->dev = fi->dwVolumeSerialNumber;
    out->ino = ((uint64_t)fi->nFileIndexHigh << 32) | fi->nFileIndexLow;
    if (out->kind == SYS_DIRECTORY) {
        out->size = 0;
    }
}

/* Describe an open handle: disk files by their information, pipes and
   consoles as SYS_OTHER of unknown size. */
static int handle_stat(HANDLE h, sys_stat *out) {
    memset(out, 0, sizeof *out);
    DWORD type = GetFileType(h);
    if (type != FILE_TYPE_DISK) {
        if (type == FILE_TYPE_UNKNOWN && GetLastError() != NO_ERROR) {
            return win_error(GetLastError());
        }
        out->kind = SYS_OTHER;
        return 0;
    }
    BY_HANDLE_FILE_INFORMATION fi;
    if (!GetFileInformationByHandle(h, &fi)) {
        /* A handle that may not be asked for its information (wine's
           standard input redirected from a file) still has a size: a
           regular file with no identity. */
        LARGE_INTEGER size;
        if (!GetFileSizeEx(h, &size)) {
            return win_error(GetLastError());
        }
        out->kind = SYS_REGULAR;
        out->size = (uint64_t)size.QuadPart;
        return 0;
    }
    fill_info(out, &fi);
    return 0;
}

/* CreateFileW for looking at (not reading) `path`; FILE_FLAG_BACKUP_SEMANTICS
   lets it open directories. */
static HANDLE open_for_info(const wchar_t *path, int nofollow) {
    return CreateFileW(path, FILE_READ_ATTRIBUTES,
                       FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                       FILE_FLAG_BACKUP_SEMANTICS | (nofollow ? FILE_FLAG_OPEN_REPARSE_POINT : 0),
                       NULL);
}

/* Describe the file at the wide path (following links unless nofollow: then
   a reparse point is SYS_SYMLINK). */
static int wide_stat(const wchar_t *path, int nofollow, sys_stat *out) {
    HANDLE h = open_for_info(path, nofollow);
    if (h == INVALID_HANDLE_VALUE) {
        return win_error(GetLastError());
    }
    BY_HANDLE_FILE_INFORMATION fi;
    int rc = 0;
    if (!GetFileInformationByHandle(h, &fi)) {
        rc = win_error(GetLastError());
    } else {
        fill_info(out, &fi);
        if (nofollow && (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
            out->kind = SYS_SYMLINK;
        }
    }
    CloseHandle(h);
    return rc;
}

int sys_open_read(const char *path, int nonblock) {
    (void)nonblock; /* disk files never block; pipes are read as they come */
    wchar_t *w = wide(path);
    if (!w) {
        return -errno;
    }
    HANDLE h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        /* A directory refuses to open for reading with "access denied";
           say what grep says on POSIX. */
        DWORD a = GetFileAttributesW(w);
        free(w);
        if (e == ERROR_ACCESS_DENIED && a != INVALID_FILE_ATTRIBUTES &&
            (a & FILE_ATTRIBUTE_DIRECTORY)) {
            return -EISDIR;
        }
        return win_error(e);
    }
    free(w);
    int fd = _open_osfhandle((intptr_t)h, _O_RDONLY | _O_BINARY);
    if (fd < 0) {
        CloseHandle(h);
        return -EMFILE;
    }
    return fd;
}

void sys_close(int fd) {
    if (fd >= 0) {
        _close(fd);
    }
}

long long sys_read(int fd, void *buf, size_t n) {
    /* ReadFile on the handle, not _read: the C runtime may remember that it
       reached the end of a file (wine's does) and never look again, while
       `grep --follow` reads on after the end as the file grows. */
    HANDLE h = fd_handle(fd);
    if (h == INVALID_HANDLE_VALUE) {
        return -EBADF;
    }
    DWORD want = n > 0x40000000u ? 0x40000000u : (DWORD)n, got = 0;
    if (!ReadFile(h, buf, want, &got, NULL)) {
        DWORD e = GetLastError();
        /* A pipe whose writer went away is the end of the input. */
        return e == ERROR_BROKEN_PIPE || e == ERROR_HANDLE_EOF ? 0 : win_error(e);
    }
    return got;
}

long long sys_pread(int fd, void *buf, size_t n, uint64_t offset) {
    HANDLE h = fd_handle(fd);
    if (h == INVALID_HANDLE_VALUE) {
        return -EBADF;
    }
    /* ReadFile at an offset moves a synchronous handle's file pointer; put
       it back, so that a later read(2)-style read starts where it did. */
    long long pos = _lseeki64(fd, 0, SEEK_CUR);
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.Offset = (DWORD)offset;
    ov.OffsetHigh = (DWORD)(offset >> 32);
    DWORD got = 0;
    DWORD want = n > 0x40000000u ? 0x40000000u : (DWORD)n;
    BOOL ok = ReadFile(h, buf, want, &got, &ov);
    DWORD e = ok ? NO_ERROR : GetLastError();
    if (pos >= 0) {
        _lseeki64(fd, pos, SEEK_SET);
    }
    if (!ok && e != ERROR_HANDLE_EOF) {
        return win_error(e);
    }
    return got;
}

long long sys_tell(int fd) {
    if (GetFileType(fd_handle(fd)) != FILE_TYPE_DISK) {
        return -ESPIPE;
    }
    long long pos = _lseeki64(fd, 0, SEEK_CUR);
    return pos < 0 ? -errno : pos;
}

int sys_rewind(int fd) {
    return _lseeki64(fd, 0, SEEK_SET) < 0 ? -errno : 0;
}

static int is_console(HANDLE h) {
    DWORD mode;
    return GetFileType(h) == FILE_TYPE_CHAR && GetConsoleMode(h, &mode);
}

/* UTF-8 to a console: as UTF-16, so it shows right whatever the console's
   code page. A multibyte character cut at the end of a write is held back
   (per stream) until the next write; bytes that are not UTF-8 show as
   U+FFFD. Returns n or a negative errno. */
static long long console_write(int fd, HANDLE h, const char *p, size_t n) {
    static char held[3][4];
    static size_t nheld[3];
    int slot = fd == 1 ? 1 : fd == 2 ? 2 : 0;
    size_t total = nheld[slot] + n;
    char *tmp = malloc(total ? total : 1);
    if (!tmp) {
        return -ENOMEM;
    }
    memcpy(tmp, held[slot], nheld[slot]);
    memcpy(tmp + nheld[slot], p, n);
    /* Find where the last complete character ends. */
    size_t end = total, back = 0;
    while (back < 3 && back < total && ((unsigned char)tmp[total - 1 - back] & 0xc0) == 0x80) {
        back++;
    }
    if (back < total) {
        unsigned char lead = (unsigned char)tmp[total - 1 - back];
        size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (need > back + 1) {
            end = total - 1 - back; /* the last character is not complete yet */
        }
    }
    nheld[slot] = total - end;
    memcpy(held[slot], tmp + end, nheld[slot]);
    long long rc = (long long)n;
    int wn = end ? MultiByteToWideChar(CP_UTF8, 0, tmp, (int)end, NULL, 0) : 0;
    wchar_t *w = wn > 0 ? malloc((size_t)wn * sizeof *w) : NULL;
    if (wn > 0 && !w) {
        rc = -ENOMEM;
    } else if (wn > 0) {
        MultiByteToWideChar(CP_UTF8, 0, tmp, (int)end, w, wn);
        for (int off = 0; off < wn;) {
            DWORD done = 0;
            if (!WriteConsoleW(h, w + off, (DWORD)(wn - off), &done, NULL)) {
                rc = win_error(GetLastError());
                break;
            }
            off += (int)done;
        }
    }
    free(w);
    free(tmp);
    return rc;
}

long long sys_write(int fd, const void *buf, size_t n) {
    HANDLE h = fd_handle(fd);
    if (h == INVALID_HANDLE_VALUE) {
        return -EBADF;
    }
    if (is_console(h)) {
        return console_write(fd, h, buf, n);
    }
    DWORD want = n > 0x40000000u ? 0x40000000u : (DWORD)n, done = 0;
    if (!WriteFile(h, buf, want, &done, NULL)) {
        return win_error(GetLastError()); /* a reader gone: ERROR_NO_DATA -> -EPIPE */
    }
    return done;
}

int sys_fstat(int fd, sys_stat *st) {
    HANDLE h = fd_handle(fd);
    if (h == INVALID_HANDLE_VALUE) {
        return -EBADF;
    }
    return handle_stat(h, st);
}

int sys_path_stat(const char *path, sys_stat *st) {
    wchar_t *w = wide(path);
    if (!w) {
        return -errno;
    }
    int rc = wide_stat(w, 0, st);
    free(w);
    return rc;
}

/* ---- directories -------------------------------------------------------------- */

struct sys_dir {
    wchar_t *path; /* the directory, with a separator at the end */
    size_t path_len;
    HANDLE find;
    int pending; /* fd holds an entry not handed out yet (the first) */
    int at_end;
    WIN32_FIND_DATAW fd;
    char *name; /* the current entry's name in UTF-8 */
};

static int is_link(const WIN32_FIND_DATAW *f) {
    return (f->dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) &&
           (f->dwReserved0 == IO_REPARSE_TAG_SYMLINK ||
            f->dwReserved0 == IO_REPARSE_TAG_MOUNT_POINT);
}

int sys_dir_open(sys_dir **out, const char *path, int nofollow, sys_stat *st) {
    *out = NULL;
    wchar_t *w = wide(path);
    if (!w) {
        return -errno;
    }
    int rc = wide_stat(w, nofollow, st);
    if (rc == 0 && st->kind == SYS_SYMLINK) {
        rc = -ELOOP;
    } else if (rc == 0 && st->kind != SYS_DIRECTORY) {
        rc = -ENOTDIR;
    }
    if (rc == 0 && nofollow) {
        /* dev/ino of the directory itself, not of a link to it */
        rc = wide_stat(w, 0, st);
    }
    sys_dir *d = rc == 0 ? calloc(1, sizeof *d) : NULL;
    size_t len = wcslen(w);
    wchar_t *pattern = rc == 0 ? malloc((len + 3) * sizeof *pattern) : NULL;
    if (rc == 0 && (!d || !pattern)) {
        rc = -ENOMEM;
    }
    if (rc < 0) {
        free(d);
        free(pattern);
        free(w);
        return rc;
    }
    memcpy(pattern, w, len * sizeof *w);
    if (len > 0 && w[len - 1] != L'/' && w[len - 1] != L'\\' && w[len - 1] != L':') {
        pattern[len++] = L'\\';
    }
    pattern[len] = L'*';
    pattern[len + 1] = 0;
    free(w);
    d->find = FindFirstFileExW(pattern, FindExInfoBasic, &d->fd, FindExSearchNameMatch, NULL,
                               FIND_FIRST_EX_LARGE_FETCH);
    if (d->find == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        if (e != ERROR_FILE_NOT_FOUND && e != ERROR_NO_MORE_FILES) {
            free(pattern);
            free(d);
            return win_error(e);
        }
        d->at_end = 1; /* an empty drive root has not even "." */
    } else {
        d->pending = 1;
    }
    pattern[len] = 0;
    d->path = pattern;
    d->path_len = len;
    *out = d;
    return 0;
}

int sys_dir_next(sys_dir *d, const char **name, int *type) {
    if (d->at_end) {
        return 0;
    }
    if (!d->pending) {
        if (!FindNextFileW(d->find, &d->fd)) {
            DWORD e = GetLastError();
            d->at_end = 1;
            return e == ERROR_NO_MORE_FILES ? 0 : win_error(e);
        }
    }
    d->pending = 0;
    free(d->name);
    d->name = narrow(d->fd.cFileName);
    if (!d->name) {
        return -ENOMEM;
    }
    *name = d->name;
    DWORD a = d->fd.dwFileAttributes;
    *type = is_link(&d->fd)                  ? SYS_DT_LNK
            : (a & FILE_ATTRIBUTE_DIRECTORY) ? SYS_DT_DIR
            : (a & FILE_ATTRIBUTE_DEVICE)    ? SYS_DT_OTHER
                                             : SYS_DT_REG;
    return 1;
}

int sys_dir_stat(sys_dir *d, const char *name, int follow, sys_stat *st) {
    /* The entry just listed, not followed: the listing already says what it
       is (no second look at the disk, as d_type on POSIX). */
    if (!follow && d->name && strcmp(name, d->name) == 0) {
        memset(st, 0, sizeof *st);
        DWORD a = d->fd.dwFileAttributes;
        st->kind = is_link(&d->fd)                  ? SYS_SYMLINK
                   : (a & FILE_ATTRIBUTE_DIRECTORY) ? SYS_DIRECTORY
                   : (a & FILE_ATTRIBUTE_DEVICE)    ? SYS_OTHER
                                                    : SYS_REGULAR;
        if (st->kind == SYS_REGULAR) {
            st->size = ((uint64_t)d->fd.nFileSizeHigh << 32) | d->fd.nFileSizeLow;
        }
        return 0;
    }
    wchar_t *w = wide(name);
    if (!w) {
        return -errno;
    }
    size_t n = wcslen(w);
    wchar_t *full = malloc((d->path_len + n + 1) * sizeof *full);
    if (!full) {
        free(w);
        return -ENOMEM;
    }
    memcpy(full, d->path, d->path_len * sizeof *full);
    memcpy(full + d->path_len, w, (n + 1) * sizeof *full);
    free(w);
    int rc = wide_stat(full, !follow, st);
    free(full);
    return rc;
}

void sys_dir_close(sys_dir *d) {
    if (!d) {
        return;
    }
    if (d->find != INVALID_HANDLE_VALUE && d->find != NULL) {
        FindClose(d->find);
    }
    free(d->path);
    free(d->name);
    free(d);
}

/* ---- globs (Windows has no fnmatch) ---------------------------------------------- */

static int class_has(const char *name, size_t len, unsigned char c) {
    static const struct {
        const char *name;
        int (*fn)(int);
    } classes[] = {{"alnum", isalnum}, {"alpha", isalpha}, {"blank", isblank},
                   {"cntrl", iscntrl}, {"digit", isdigit}, {"graph", isgraph},
                   {"lower", islower}, {"print", isprint}, {"punct", ispunct},
                   {"space", isspace}, {"upper", isupper}, {"xdigit", isxdigit}};
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        if (strlen(classes[i].name) == len && memcmp(classes[i].name, name, len) == 0) {
            return c < 0x80 && classes[i].fn(c);
        }
    }
    return 0;
}

/* The bracket expression at *gp ('[' included) against c: 1 or 0, with *gp
   moved past it; -1 when it has no closing ']' (then '[' is an ordinary
   character, as fnmatch reads it). */
static int bracket(const char **gp, unsigned char c) {
    const char *g = *gp + 1;
    int negate = *g == '!' || *g == '^';
    if (negate) {
        g++;
    }
    int hit = 0, first = 1;
    for (;;) {
        if (*g == '\0') {
            return -1;
        }
        if (*g == ']' && !first) {
            g++;
            break;
        }
        first = 0;
        if (g[0] == '[' && g[1] == ':') {
            const char *e = strstr(g + 2, ":]");
            if (e) {
                hit |= class_has(g + 2, (size_t)(e - (g + 2)), c);
                g = e + 2;
                continue;
            }
        }
        unsigned char lo = (unsigned char)*g;
        if (lo == '\\' && g[1]) {
            lo = (unsigned char)*++g;
        }
        g++;
        unsigned char hi = lo;
        if (g[0] == '-' && g[1] && g[1] != ']') {
            g++;
            hi = (unsigned char)*g;
            if (hi == '\\' && g[1]) {
                hi = (unsigned char)*++g;
            }
            g++;
        }
        if (lo <= c && c <= hi) {
            hit = 1;
        }
    }
    *gp = g;
    return hit != negate;
}

/* One pattern element (not '*') at *gp against c; moves *gp past it. */
static int element(const char **gp, unsigned char c) {
    const char *g = *gp;
    if (*g == '?') {
        *gp = g + 1;
        return 1;
    }
    if (*g == '[') {
        int r = bracket(gp, c);
        if (r >= 0) {
            return r;
        }
    }
    if (*g == '\\') {
        if (g[1] == '\0') {
            *gp = g + 1;
            return 0; /* a pattern ending in a lone '\' matches nothing, as in glibc */
        }
        g++;
    }
    *gp = g + 1;
    return (unsigned char)*g == c;
}

int sys_glob_match(const char *glob, const char *name) {
    /* Without FNM_PATHNAME a '*' matches anything, so only the last '*' ever
       needs to be retried: when an element fails, give that '*' one more
       byte. Linear in practice, never exponential. */
    const char *g = glob, *s = name, *star_g = NULL, *star_s = NULL;
    for (;;) {
        if (*g == '*') {
            while (*g == '*') {
                g++;
            }
            if (*g == '\0') {
                return 1;
            }
            star_g = g;
            star_s = s;
            continue;
        }
        if (*s == '\0') {
            if (*g == '\0') {
                return 1;
            }
        } else if (*g != '\0' && element(&g, (unsigned char)*s)) {
            s++;
            continue;
        }
        if (!star_g || *star_s == '\0') {
            return 0;
        }
        g = star_g;
        s = ++star_s;
    }
}

/* ---- terminals, clock, processors --------------------------------------------- */

int sys_isatty(int fd) {
    HANDLE h = fd_handle(fd);
    return h != INVALID_HANDLE_VALUE && is_console(h);
}

int sys_term_columns(int fd) {
    CONSOLE_SCREEN_BUFFER_INFO info;
    if (!GetConsoleScreenBufferInfo(fd_handle(fd), &info)) {
        return 0;
    }
    return info.srWindow.Right - info.srWindow.Left + 1;
}

double sys_now(void) {
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart / (double)f.QuadPart;
}

unsigned sys_cpu_count(void) {
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n < 1 ? 1u : (unsigned)n;
}

/* ---- interruption --------------------------------------------------------------- */

/* Ctrl-C arrives on a thread of its own. While a follow is waiting it only
   notes the interruption and wakes the wait; otherwise it runs the hook and
   ends the process with the status Windows gives an interrupted program. */
static void (*interrupt_fn)(void);
static volatile LONG watching;
static volatile LONG interrupted;
static HANDLE wake_event;
static int handler_installed;

static BOOL WINAPI on_console_event(DWORD type) {
    if (type != CTRL_C_EVENT && type != CTRL_BREAK_EVENT && type != CTRL_CLOSE_EVENT) {
        return FALSE;
    }
    if (watching) {
        InterlockedExchange(&interrupted, 1);
        if (wake_event) {
            SetEvent(wake_event);
        }
        return TRUE;
    }
    if (interrupt_fn) {
        interrupt_fn();
        ExitProcess(STATUS_CONTROL_C_EXIT);
    }
    return FALSE; /* the default: the process ends */
}

static void install_handler(void) {
    if (!handler_installed) {
        handler_installed = SetConsoleCtrlHandler(on_console_event, TRUE) != 0;
    }
}

void sys_on_interrupt_then_die(void (*fn)(void)) {
    interrupt_fn = fn;
    install_handler();
}

/* ---- grep --follow ---------------------------------------------------------------- */

#define POLL_MS 100

struct sys_watch {
    HANDLE change; /* directory change notification, or INVALID_HANDLE_VALUE */
};

int sys_watch_interrupted(void) {
    return interrupted != 0;
}

sys_watch *sys_watch_new(const char *path) {
    sys_watch *w = calloc(1, sizeof *w);
    if (!w) {
        return NULL;
    }
    w->change = INVALID_HANDLE_VALUE;
    InterlockedExchange(&interrupted, 0);
    if (!wake_event) {
        wake_event = CreateEventW(NULL, FALSE, FALSE, NULL);
    }
    install_handler();
    InterlockedExchange(&watching, 1);
    /* The directory's changes (names, sizes, writes) wake the wait early;
       the 100 ms poll is what is relied on, since NTFS updates a growing
       file's directory entry lazily. */
    const char *slash = strrchr(path, '/'), *bslash = strrchr(path, '\\');
    if (!slash || (bslash && bslash > slash)) {
        slash = bslash;
    }
    size_t len = slash ? (size_t)(slash - path) + 1 : 0;
    char *dir = malloc(len + 2);
    if (dir) {
        if (len) {
            memcpy(dir, path, len);
            dir[len] = '\0';
        } else {
            strcpy(dir, ".");
        }
        wchar_t *wd = wide(dir);
        if (wd) {
            w->change = FindFirstChangeNotificationW(wd, FALSE,
                                                     FILE_NOTIFY_CHANGE_FILE_NAME |
                                                         FILE_NOTIFY_CHANGE_SIZE |
                                                         FILE_NOTIFY_CHANGE_LAST_WRITE);
            free(wd);
        }
        free(dir);
    }
    return w;
}

void sys_watch_file_changed(sys_watch *w) {
    (void)w; /* the directory's notification covers the new file too */
}

void sys_watch_wait(sys_watch *w) {
    if (interrupted) {
        return;
    }
    HANDLE hs[2];
    DWORD n = 0;
    if (wake_event) {
        hs[n++] = wake_event;
    }
    if (w->change != INVALID_HANDLE_VALUE) {
        hs[n++] = w->change;
    }
    DWORD r = n ? WaitForMultipleObjects(n, hs, FALSE, POLL_MS) : (Sleep(POLL_MS), WAIT_TIMEOUT);
    if (n == 2 && r == WAIT_OBJECT_0 + 1) {
        FindNextChangeNotification(w->change); /* re-arm; the state is looked at again */
    }
}

void sys_watch_free(sys_watch *w) {
    if (!w) {
        return;
    }
    InterlockedExchange(&watching, 0);
    if (w->change != INVALID_HANDLE_VALUE) {
        FindCloseChangeNotification(w->change);
    }
    free(w);
}

/* ---- threads ------------------------------------------------------------------- */

void sys_mutex_init(sys_mutex *m) {
    InitializeSRWLock((PSRWLOCK)m);
}

void sys_mutex_destroy(sys_mutex *m) {
    (void)m; /* an SRWLOCK holds no resources */
}

void sys_mutex_lock(sys_mutex *m) {
    AcquireSRWLockExclusive((PSRWLOCK)m);
}

void sys_mutex_unlock(sys_mutex *m) {
    ReleaseSRWLockExclusive((PSRWLOCK)m);
}

void sys_cond_init(sys_cond *c) {
    InitializeConditionVariable((PCONDITION_VARIABLE)c);
}

void sys_cond_destroy(sys_cond *c) {
    (void)c;
}

void sys_cond_wait(sys_cond *c, sys_mutex *m) {
    SleepConditionVariableSRW((PCONDITION_VARIABLE)c, (PSRWLOCK)m, INFINITE, 0);
}

void sys_cond_signal(sys_cond *c) {
    WakeConditionVariable((PCONDITION_VARIABLE)c);
}

void sys_cond_broadcast(sys_cond *c) {
    WakeAllConditionVariable((PCONDITION_VARIABLE)c);
}

static unsigned __stdcall thread_main(void *p) {
    sys_thread *t = p;
    t->fn(t->arg);
    return 0;
}

int sys_thread_start(sys_thread *t, void *(*fn)(void *), void *arg) {
    t->fn = fn;
    t->arg = arg;
    /* _beginthreadex, not CreateThread: the C runtime's per-thread state
       (errno) is set up for the thread. */
    uintptr_t h = _beginthreadex(NULL, 0, thread_main, t, 0, NULL);
    if (h == 0) {
        return -errno;
    }
    t->handle = (void *)h;
    return 0;
}

void sys_thread_join(sys_thread *t) {
    WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
}

/* ---- thread-local slots ------------------------------------------------ */

/* Fiber-local storage: unlike TlsAlloc it calls `destroy` at a thread's end. */
static int tls_make(sys_tls *t) {
    DWORD k = FlsAlloc((PFLS_CALLBACK_FUNCTION)(void (*)(void))t->destroy);
    if (k == FLS_OUT_OF_INDEXES) {
        return -1;
    }
    t->key = (unsigned long)k;
    return 0;
}

static void tls_yield(void) {
    SwitchToThread();
}

static void *tls_read(sys_tls *t) {
    return FlsGetValue((DWORD)t->key);
}

static int tls_write(sys_tls *t, void *value) {
    return FlsSetValue((DWORD)t->key, value) ? 0 : -ENOMEM;
}

#include "sys_tls.h"
