# The decoders (src/decode.c): gzip (ISA-L and zlib), zstd, xz, bzip2 and
# pass-through against the command-line tools; formats whose tool or library
# is missing are skipped with one line each.
mmk_add_c_test(test_decode)
