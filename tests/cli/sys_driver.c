/*
 * sys_driver.c — drives mmk's system interface (cli/sys.h) alone, so that
 * tests/cli/test_sys.py can compare what sys_unix.c and sys_win.c (under
 * wine) say about the same things. Output is plain bytes, the same on every
 * platform when the implementations agree.
 *
 *   sys_driver glob < lines      each line "GLOB\tNAME": prints 1 or 0
 *   sys_driver list DIR          the entries of DIR, sorted: "name kind size"
 *                                (sizes for regular files; "." and ".." left out)
 *   sys_driver stat PATH         "kind size" or "error"
 *   sys_driver cat PATH          the file's bytes to standard output
 *   sys_driver pread PATH OFF N  N bytes at OFF
 *   sys_driver threads N         N threads add to a counter under a mutex,
 *                                waiting on a condition: prints N * 1000
 *   sys_driver args ARG...       each argument in hex, one per line
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"

static void put(const char *s, size_t n) {
    while (n > 0) {
        long long w = sys_write(SYS_STDOUT, s, n);
        if (w <= 0) {
            sys_exit_now(3);
        }
        s += w;
        n -= (size_t)w;
    }
}

static void puts_out(const char *s) {
    put(s, strlen(s));
}

static const char *kind_name(int kind) {
    switch (kind) {
    case SYS_REGULAR:
        return "file";
    case SYS_DIRECTORY:
        return "dir";
    case SYS_SYMLINK:
        return "link";
    default:
        return "other";
    }
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read all of standard input (binary). */
static char *read_stdin(size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            buf = realloc(buf, (cap *= 2) + 1);
        }
        long long r = sys_read(SYS_STDIN, buf + n, cap - n);
        if (r <= 0) {
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int do_glob(void) {
    size_t len;
    char *all = read_stdin(&len);
    for (char *line = all; line < all + len;) {
        char *nl = memchr(line, '\n', (size_t)(all + len - line));
        if (nl) {
            *nl = '\0';
        }
        char *tab = strchr(line, '\t');
        if (tab) {
            *tab = '\0';
            puts_out(sys_glob_match(line, tab + 1) ? "1\n" : "0\n");
        }
        if (!nl) {
            break;
        }
        line = nl + 1;
    }
    free(all);
    return 0;
}

static int do_list(const char *path) {
    sys_dir *d;
    sys_stat st;
    int rc = sys_dir_open(&d, path, 0, &st);
    if (rc < 0) {
        puts_out("error\n");
        return 1;
    }
    char **lines = NULL;
    size_t n = 0;
    const char *name;
    int type;
    while (sys_dir_next(d, &name, &type) > 0) {
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            continue;
        }
        sys_stat es;
        char line[1024];
        if (sys_dir_stat(d, name, 0, &es) < 0) {
            snprintf(line, sizeof line, "%s error\n", name);
        } else {
            snprintf(line, sizeof line, "%s %s %llu\n", name, kind_name(es.kind),
                     es.kind == SYS_REGULAR ? (unsigned long long)es.size : 0ull);
        }
        lines = realloc(lines, (n + 1) * sizeof *lines);
        lines[n++] = strdup(line);
    }
    sys_dir_close(d);
    if (n > 1) {
        qsort(lines, n, sizeof *lines, cmp_str);
    }
    for (size_t i = 0; i < n; i++) {
        puts_out(lines[i]);
        free(lines[i]);
    }
    free(lines);
    return 0;
}

static int do_stat(const char *path) {
    sys_stat st;
    char line[128];
    if (sys_path_stat(path, &st) < 0) {
        puts_out("error\n");
        return 1;
    }
    snprintf(line, sizeof line, "%s %llu\n", kind_name(st.kind),
             st.kind == SYS_REGULAR ? (unsigned long long)st.size : 0ull);
    puts_out(line);
    return 0;
}

static int do_cat(const char *path) {
    int fd = sys_open_read(path, 0);
    if (fd < 0) {
        puts_out("error\n");
        return 1;
    }
    char buf[65536];
    long long r;
    while ((r = sys_read(fd, buf, sizeof buf)) > 0) {
        put(buf, (size_t)r);
    }
    sys_close(fd);
    if (r < 0) {
        puts_out("error\n"); /* a directory: refused at open or at the first read */
    }
    return r < 0;
}

static int do_pread(const char *path, uint64_t off, size_t n) {
    int fd = sys_open_read(path, 0);
    if (fd < 0) {
        puts_out("error\n");
        return 1;
    }
    char *buf = malloc(n ? n : 1);
    long long r = sys_pread(fd, buf, n, off);
    /* The offset of the descriptor is untouched by a pread. */
    long long pos = sys_tell(fd);
    if (r >= 0) {
        put(buf, (size_t)r);
    }
    char line[64];
    snprintf(line, sizeof line, "\n@%lld\n", pos);
    puts_out(line);
    free(buf);
    sys_close(fd);
    return r < 0;
}

static struct {
    sys_mutex mu;
    sys_cond cv;
    int started;
    unsigned long total;
} shared;

static void *worker(void *arg) {
    unsigned nthreads = *(unsigned *)arg;
    sys_mutex_lock(&shared.mu);
    shared.started++;
    sys_cond_broadcast(&shared.cv);
    /* Everyone waits for everyone: the condition variable must wake them. */
    while ((unsigned)shared.started < nthreads) {
        sys_cond_wait(&shared.cv, &shared.mu);
    }
    sys_mutex_unlock(&shared.mu);
    for (int i = 0; i < 1000; i++) {
        sys_mutex_lock(&shared.mu);
        shared.total++;
        sys_mutex_unlock(&shared.mu);
    }
    return NULL;
}

static int do_threads(unsigned n) {
    sys_thread *t = calloc(n, sizeof *t);
    sys_mutex_init(&shared.mu);
    sys_cond_init(&shared.cv);
    for (unsigned i = 0; i < n; i++) {
        if (sys_thread_start(&t[i], worker, &n) != 0) {
            puts_out("error\n");
            return 1;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        sys_thread_join(&t[i]);
    }
    char line[64];
    snprintf(line, sizeof line, "%lu\n", shared.total);
    puts_out(line);
    sys_cond_destroy(&shared.cv);
    sys_mutex_destroy(&shared.mu);
    free(t);
    return 0;
}

int main(int argc, char **argv) {
    sys_init(&argc, &argv);
    if (argc >= 2 && strcmp(argv[1], "glob") == 0) {
        return do_glob();
    }
    if (argc == 3 && strcmp(argv[1], "list") == 0) {
        return do_list(argv[2]);
    }
    if (argc == 3 && strcmp(argv[1], "stat") == 0) {
        return do_stat(argv[2]);
    }
    if (argc == 3 && strcmp(argv[1], "cat") == 0) {
        return do_cat(argv[2]);
    }
    if (argc == 5 && strcmp(argv[1], "pread") == 0) {
        return do_pread(argv[2], strtoull(argv[3], NULL, 10), (size_t)strtoull(argv[4], NULL, 10));
    }
    if (argc == 3 && strcmp(argv[1], "threads") == 0) {
        return do_threads((unsigned)strtoul(argv[2], NULL, 10));
    }
    if (argc >= 2 && strcmp(argv[1], "args") == 0) {
        for (int i = 2; i < argc; i++) {
            for (const unsigned char *p = (const unsigned char *)argv[i]; *p; p++) {
                char hex[4];
                snprintf(hex, sizeof hex, "%02x", *p);
                puts_out(hex);
            }
            puts_out("\n");
        }
        return 0;
    }
    puts_out("usage: sys_driver glob|list|stat|cat|pread|threads|args ...\n");
    return 2;
}
