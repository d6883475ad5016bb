/*
 * count_word — how often does a word occur in a big text file?
 *
 * The classic memory-map demonstration is a regular expression run over a map
 * of the whole file. mmkit's scan engine does the same job on all cores, with
 * the same count as Python's re.finditer: leftmost, non-overlapping matches
 * (so "the" is also counted inside "other"; add -w for whole words only).
 *
 * Usage: count_word [-w] [-i] FILE WORD
 *   -w  whole words only      -i  ignore ASCII case
 * Prints "mmk_count: N".
 */
#include <mmkit.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int usage(void) {
    fprintf(stderr, "usage: count_word [-w] [-i] FILE WORD\n");
    return 2;
}

int main(int argc, char **argv) {
    unsigned flags = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "-w") == 0)
            flags |= MMK_PAT_WORD;
        else if (strcmp(argv[i], "-i") == 0)
            flags |= MMK_PAT_ICASE;
        else
            return usage();
    }
    if (argc - i != 2)
        return usage();
    const char *path = argv[i], *word = argv[i + 1];

    /* The word is a regular expression, as in re.finditer(word, mm). */
    mmk_pattern *pat;
    mmk_pattern_error perr;
    int rc = mmk_pattern_compile(&pat, word, strlen(word), flags, &perr);
    if (rc < 0) {
        if (rc == MMK_EPATTERN)
            fprintf(stderr, "count_word: bad pattern at offset %lld: %s\n", (long long)perr.offset,
                    perr.message);
        else
            fprintf(stderr, "count_word: %s\n", mmk_strerror(rc));
        return 2;
    }

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(path);
        mmk_pattern_free(pat);
        return 2;
    }

    /*
     * An input over the descriptor: mmkit maps the file or reads it in
     * blocks, whichever is faster for the job, and splits it over all cores.
     * mmk_input_map(m, MMK_DEFAULT_POS, MMK_DEFAULT_POS) would scan a map
     * opened with mmk_open instead.
     */
    mmk_input in = mmk_input_fd(fd);
    uint64_t count = 0;
    rc = mmk_count(pat, &in, NULL, &count);
    close(fd);
    mmk_pattern_free(pat);
    if (rc < 0) {
        fprintf(stderr, "count_word: %s: %s\n", path, mmk_strerror(rc));
        return 2;
    }
    printf("mmk_count: %llu\n", (unsigned long long)count);
    return 0;
}
