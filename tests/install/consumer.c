/* An outside program using an installed mmkit: writes a file, maps it, counts a word. */
#include <mmkit.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "consumer.txt";
    FILE *f = fopen(path, "wb");
    if (!f)
        return 2;
    for (int i = 0; i < 1000; i++)
        fputs("In the beginning the LORD made LORDLORD and a lord.\n", f);
    fclose(f);
    mmk_map *m;
    int rc = mmk_open(&m, path, NULL);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", path, mmk_strerror(rc));
        return 2;
    }
    mmk_pattern *p;
    rc = mmk_pattern_compile(&p, "LORD", 4, MMK_PAT_FIXED, NULL);
    if (rc < 0)
        return 2;
    mmk_input in = mmk_input_map(m, MMK_DEFAULT_POS, MMK_DEFAULT_POS);
    uint64_t n = 0;
    rc = mmk_count(p, &in, NULL, &n);
    printf("%s %llu\n", rc == 0 ? "count" : mmk_errname(rc), (unsigned long long)n);
    mmk_pattern_free(p);
    mmk_free(m);
    /* the decoders: a static link needs the compression libraries too */
    printf("gzip %s\n", mmk_compression_supported(MMK_COMP_GZIP) ? "supported" : "not built");
    return rc == 0 && n == 3000 ? 0 : 1;
}
