/*
 * hello_map — the classic first memory-map program, with mmkit.
 *
 * Write a small file, map it read-write, read a line through the map,
 * overwrite the first five bytes in place, seek back and read the line again.
 * The change reaches the file itself: the program reads it back with stdio to
 * show that.
 *
 * Usage: hello_map [FILE]      (default: hello.txt in the current directory)
 */
#include <mmkit.h>

#include <stdio.h>
#include <string.h>

static const char first_line[] = "Hello, memory map!\n";
static const char second_line[] = "Mapped files are just memory.\n";

/* Report an mmkit error the way a command-line tool would, and fail. */
static int fail(const char *what, int rc) {
    fprintf(stderr, "hello_map: %s: %s (%s)\n", what, mmk_strerror(rc), mmk_errname(rc));
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "hello.txt";

    FILE *f = fopen(path, "wb");
    if (!f || fputs(first_line, f) < 0 || fputs(second_line, f) < 0 || fclose(f) != 0) {
        perror(path);
        return 1;
    }

    /* The whole file, read-write and shared: writes through the map reach the file. */
    mmk_options opt = {0};
    opt.access = MMK_ACCESS_WRITE;
    mmk_map *m;
    int rc = mmk_open(&m, path, &opt);
    if (rc < 0)
        return fail(path, rc);

    char line[128];
    int64_t n = mmk_readline(m, line, sizeof line);
    if (n < 0)
        return fail("readline", (int)n);
    fwrite(line, 1, (size_t)n, stdout);

    /* The C spelling of Python's mm[:5] = b"World". */
    rc = mmk_copy_in(m, 0, "World", 5);
    if (rc < 0)
        return fail("write", rc);

    mmk_seek(m, 0, MMK_SEEK_SET);
    n = mmk_readline(m, line, sizeof line);
    if (n < 0)
        return fail("readline", (int)n);
    fwrite(line, 1, (size_t)n, stdout);

    rc = mmk_flush(m, 0, 0, MMK_FLUSH_SYNC);
    if (rc < 0)
        return fail("flush", rc);
    rc = mmk_free(m);
    if (rc < 0)
        return fail("close", rc);

    /* Read the file the ordinary way: the change is there. */
    char disk[128] = {0};
    f = fopen(path, "rb");
    size_t got = f ? fread(disk, 1, sizeof disk - 1, f) : 0;
    if (f)
        fclose(f);
    if (got != strlen(first_line) + strlen(second_line) ||
        memcmp(disk, "World, memory map!\n", 19) != 0 || strcmp(disk + 19, second_line) != 0) {
        fprintf(stderr, "hello_map: %s does not hold what was written through the map\n", path);
        return 1;
    }
    return 0;
}
