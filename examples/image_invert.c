/*
 * image_invert — image processing in place through a memory map.
 *
 * Map a binary greyscale PGM image (P5) read-write, find where the pixels
 * start, turn every pixel p into maxval - p right in the mapped memory, flush
 * it to the file, and check the file with ordinary reads. No copy of the image
 * is read in or written out; the inversion runs under mmkit's fault guard, so
 * a file truncated by someone else meanwhile gives an error, not a crash.
 *
 * Usage: image_invert --create FILE WIDTH HEIGHT   write a test gradient
 *        image_invert FILE                          invert FILE in place
 * Pixel (x, y) of the test gradient is (x + 2y) mod 256.
 */
#include <mmkit.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int create_gradient(const char *path, long w, long h) {
    if (w < 1 || h < 1 || w > 65535 || h > 65535) {
        fprintf(stderr, "image_invert: bad size %ldx%ld\n", w, h);
        return 2;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f, "P5\n# mmkit example gradient\n%ld %ld\n255\n", w, h);
    for (long y = 0; y < h; y++)
        for (long x = 0; x < w; x++)
            fputc((int)((x + 2 * y) & 255), f);
    if (fclose(f) != 0) {
        perror(path);
        return 1;
    }
    printf("%s: %ldx%ld test gradient written\n", path, w, h);
    return 0;
}

/* Skip whitespace and '#' comments in a PGM header. */
static size_t skip_space(const unsigned char *p, size_t i, size_t n) {
    while (i < n) {
        if (p[i] == '#') {
            while (i < n && p[i] != '\n')
                i++;
        } else if (isspace(p[i])) {
            i++;
        } else {
            break;
        }
    }
    return i;
}

static size_t read_number(const unsigned char *p, size_t i, size_t n, long *out) {
    long v = 0;
    size_t start = i;
    while (i < n && isdigit(p[i]) && v < 1000000)
        v = v * 10 + (p[i++] - '0');
    *out = i > start ? v : -1;
    return i;
}

/*
 * Parse the P5 header in head[0..n): on success *pixels_at is where the
 * raster starts (just after the single whitespace byte that ends the header).
 */
static int parse_pgm(const unsigned char *head, size_t n, long *w, long *h, long *maxval,
                     size_t *pixels_at) {
    if (n < 2 || head[0] != 'P' || head[1] != '5')
        return -1;
    size_t i = skip_space(head, 2, n);
    i = skip_space(head, read_number(head, i, n, w), n);
    i = skip_space(head, read_number(head, i, n, h), n);
    i = read_number(head, i, n, maxval);
    if (*w < 1 || *h < 1 || *maxval < 1 || *maxval > 255 || i >= n || !isspace(head[i]))
        return -1;
    *pixels_at = i + 1;
    return 0;
}

struct invert_job {
    unsigned char *pixels;
    size_t count;
    unsigned char maxval;
};

/* maxval - p; a pixel above maxval (invalid in PGM) becomes 0. */
static unsigned char inverted(unsigned char p, unsigned char maxval) {
    return p > maxval ? 0 : (unsigned char)(maxval - p);
}

/* Runs under mmk_guard_run: touches the mapped pixels directly. */
static int invert_pixels(void *arg) {
    struct invert_job *job = arg;
    for (size_t i = 0; i < job->count; i++)
        job->pixels[i] = inverted(job->pixels[i], job->maxval);
    return 0;
}

static int invert_file(const char *path) {
    mmk_options opt = {0};
    opt.access = MMK_ACCESS_WRITE;
    mmk_map *m;
    int rc = mmk_open(&m, path, &opt);
    if (rc < 0) {
        fprintf(stderr, "image_invert: %s: %s\n", path, mmk_strerror(rc));
        return 1;
    }

    /* The header is small: copy it out (a guarded read) and parse the copy. */
    unsigned char head[512];
    size_t head_len = mmk_length(m) < sizeof head ? (size_t)mmk_length(m) : sizeof head;
    long w = 0, h = 0, maxval = 0;
    size_t at = 0;
    if (mmk_copy_out(m, 0, head, head_len) < 0 ||
        parse_pgm(head, head_len, &w, &h, &maxval, &at) < 0) {
        fprintf(stderr, "image_invert: %s: not an 8-bit binary PGM (P5) image\n", path);
        mmk_free(m);
        return 1;
    }
    size_t count = (size_t)w * (size_t)h;
    if (at + count > mmk_length(m)) {
        fprintf(stderr, "image_invert: %s: image data is cut short\n", path);
        mmk_free(m);
        return 1;
    }

    /* Keep the original pixels to check the result against. */
    unsigned char *before = malloc(count);
    if (!before || mmk_copy_out(m, at, before, count) < 0) {
        fprintf(stderr, "image_invert: out of memory\n");
        free(before);
        mmk_free(m);
        return 1;
    }

    struct invert_job job = {(unsigned char *)mmk_data(m) + at, count, (unsigned char)maxval};
    rc = mmk_guard_run(invert_pixels, &job);
    if (rc == 0)
        rc = mmk_flush(m, 0, 0, MMK_FLUSH_SYNC);
    int close_rc = mmk_free(m);
    if (rc < 0 || close_rc < 0) {
        fprintf(stderr, "image_invert: %s: %s\n", path, mmk_strerror(rc < 0 ? rc : close_rc));
        free(before);
        return 1;
    }
    printf("%s: %ldx%ld, maxval %ld: inverted %zu pixels in place\n", path, w, h, maxval, count);

    /* Read the file back the ordinary way and compare every pixel. */
    unsigned char *after = malloc(count);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = (after && fd >= 0) ? pread(fd, after, count, (off_t)at) : -1;
    if (fd >= 0)
        close(fd);
    size_t bad = got == (ssize_t)count ? 0 : count;
    for (size_t i = 0; bad == 0 && i < count; i++)
        if (after[i] != inverted(before[i], (unsigned char)maxval))
            bad = i + 1;
    free(before);
    free(after);
    if (bad) {
        fprintf(stderr, "image_invert: %s: the file does not hold the inverted image\n", path);
        return 1;
    }
    printf("verified: the file holds the inverted image\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--create") == 0)
        return create_gradient(argv[2], strtol(argv[3], NULL, 10), strtol(argv[4], NULL, 10));
    if (argc == 2 && argv[1][0] != '-')
        return invert_file(argv[1]);
    fprintf(stderr, "usage: image_invert --create FILE WIDTH HEIGHT\n"
                    "       image_invert FILE\n");
    return 2;
}
