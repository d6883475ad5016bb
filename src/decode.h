/*
 * decode.h — internal hooks of the decoders (src/decode.c) for tests and the
 * benchmark. The public API is in include/mmkit.h ("Compressed inputs").
 */
#ifndef MMK_DECODE_H
#define MMK_DECODE_H

/* gzip inflaters. */
enum mmk__inflater {
    MMK__INFLATE_AUTO = 0, /* ISA-L when this build has it, else zlib */
    MMK__INFLATE_ZLIB = 1,
    MMK__INFLATE_ISAL = 2
};

/* Choose the inflater of the gzip decoders opened from now on (process-wide;
   tests use it to run every case through both). Returns 0, or MMK_ENOTSUP when
   that inflater is not in this build, -EINVAL for an unknown value. */
int mmk__decode_set_inflater(int which);

/* The inflater a gzip decoder uses (enum mmk__inflater, never AUTO), or 0 for
   a decoder of another format. */
int mmk__decoder_inflater(const struct mmk_decoder *d);

/* Whether decoders decode on a thread of their own, ahead of the reader. */
enum mmk__async {
    MMK__ASYNC_AUTO = 0, /* regular files, on a machine with more than one core */
    MMK__ASYNC_OFF = 1,  /* never */
    MMK__ASYNC_ON = 2    /* every compressed input, pipes too (tests) */
};

/* Choose for the decoders opened from now on (process-wide; tests run every
   case both ways). 0, or -EINVAL for an unknown value. */
int mmk__decode_set_async(int which);

/* 1 when decoder d decodes on a thread of its own, else 0. */
int mmk__decoder_async(const struct mmk_decoder *d);

#endif
