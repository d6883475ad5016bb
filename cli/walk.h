/*
 * walk.h — mmk's walk over files and directory trees (cli/walk.c), and the
 * concurrent, ordered execution of a search over the files it finds.
 *
 * What is walked, as GNU grep -r walks it: operands in the order given;
 * directories descended depth first, each directory's entries sorted bytewise
 * by name, so the order is the same on every run. Names are shown as grep
 * shows them: `dir/sub/file` (an operand's trailing slashes are kept as one:
 * `dir/` gives `dir/file`); with -r and no operand, "." is searched and names
 * are shown without "./". Inside a tree, fifos, sockets and devices are
 * skipped (as grep -r; operands of any kind are read), and so are symbolic
 * links unless follow_links (-R); a symbolic link given as an operand is
 * always followed. With -R, a link back to a directory on the current path is
 * reported as grep does (`mmk: PATH: warning: recursive directory loop`, no
 * change of status) and not descended. An entry that cannot be read (no
 * permission, vanished, dangling link under -R) is reported as
 * `mmk: PATH: reason` unless quiet_errors, and makes the final status 2.
 *
 * Several files are searched at once on `threads` worker threads, each small
 * file with its own output captured (capture.h) and emitted whole, in walk
 * order, as soon as every earlier file is done. At most WALK_WINDOW files are
 * pending at a time, and a file whose output grows past WALK_CAPTURE_LIMIT
 * waits until it is the oldest pending file and then writes directly, so
 * memory stays bounded whatever the tree or the output. Large regular files
 * (>= WALK_BIG_FILE bytes) and operands that are not regular files (standard
 * input, fifos, devices) are searched alone, after every earlier file is
 * done, on the calling thread and with big = 1, so that the engine spreads
 * them over all cores. A single operand that is not a directory is searched
 * directly (no thread, no capture) with big = 1.
 */
#ifndef MMK_CLI_WALK_H
#define MMK_CLI_WALK_H

#define WALK_BIG_FILE (8u << 20)        /* bytes: a regular file searched alone */
#define WALK_WINDOW 256                 /* files pending (started or unemitted) at most */
#define WALK_CAPTURE_LIMIT (1u << 20)   /* bytes a pending file may hold before it waits */
#define WALK_PENDING_BUDGET (32u << 20) /* bytes all finished, unemitted files may hold */

typedef struct walk_options {
    int recursive;    /* -r/-R given: with no operands, search "." (paths shown without "./") */
    int follow_links; /* -R: follow every symlink; -r follows only symlinks given as operands */
    const char *const *include;
    int ninclude; /* --include=GLOB: basename fnmatch; files only */
    const char *const *exclude;
    int nexclude; /* --exclude=GLOB: basename fnmatch; files */
    const char *const *exclude_dir;
    int nexclude_dir; /* --exclude-dir=GLOB */
    int quiet_errors; /* -s: do not print unreadable-entry messages (status is still 2) */
    unsigned threads; /* files searched at once (0 = cores) */
    /* Optional (NULL: every --include counts as given before every --exclude):
       the position on the command line of each --include and --exclude (any
       increasing numbering, e.g. argv indexes), for GNU grep's rule: the last
       given glob that matches a file decides; a file that matches none is
       skipped when the first given was an --include. */
    const int *include_pos;
    const int *exclude_pos;
} walk_options;

/* Search one file (or "-" for standard input). `display` is the name to print. Runs on a worker
   thread when several files are searched at once, with standard output and standard error captured
   for this file (out_* and cli_error* write to the capture) and emitted whole, in walk order.
   Returns the file's status: EXIT_MATCH, EXIT_NOMATCH or EXIT_TROUBLE. `big` is 1 for a file
   searched alone with all threads (large regular files, stdin), 0 for a small one searched with
   threads = 1. The walk does not open files: fn opens `path` and reports its own errors (a file
   that vanished or cannot be read) as `mmk: DISPLAY: reason` (quiet under -s). For standard input,
   path is "-" and display "(standard input)". */
typedef int (*walk_fn)(const char *path, const char *display, int big, void *user);

/* Walk the operands (directories are always descended; the order: operands as given, within a
   directory entries sorted bytewise by name, depth first), calling fn for each file. Returns the
   combined status (grep's rules: 2 if any error, else 0 if any match, else 1). `stop` (may be NULL)
   is polled: when it becomes non-zero (grep -q found a match) no new file is started; the files
   already finished are still emitted. (grep -q exits 0 after a match even when errors came before
   it: the caller decides that.) With noperands == 0 and not recursive, standard input is searched.
 */
int walk_run(char *const *operands, int noperands, const walk_options *wo, walk_fn fn, void *user,
             volatile int *stop);

/* 1 when the operands make the output name files (several operands, or any directory). */
int walk_names_files(char *const *operands, int noperands, const walk_options *wo);

#endif /* MMK_CLI_WALK_H */
