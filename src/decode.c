/*
 * decode.c — decompressing streams over a file descriptor (mmk_decoder_*):
 * gzip, zstd, xz and bzip2 through the Debian libraries this build found
 * (cmake/MmkCodecs.cmake defines MMK_HAVE_ZLIB, _ISAL, _ZSTD, _LZMA, _BZ2),
 * and pass-through of input that is not compressed.
 *
 * Shape: one input buffer (DEC_IN_SIZE) that read() fills, one codec state,
 * and a codec `fill` function that decodes into a caller's buffer until it has
 * produced at least one byte, reached the end of the data, or failed. A read
 * of DEC_DIRECT_MIN bytes or more decodes straight into the caller's buffer;
 * a smaller one (down to 1 byte) goes through a staging buffer (DEC_OUT_SIZE),
 * so tiny reads cost a copy, not a library call each. Memory is those two
 * buffers plus the codec's own state and window: 32 KiB for gzip (ISA-L's
 * state is 85 KiB in all), up to 128 MiB for zstd (zstd's default limit,
 * the one zstdcat applies too), the stream's dictionary for xz (64 MiB at
 * xz -9), 3.6 MiB at most for bzip2.
 *
 * The end of the data is never guessed: every codec reports a member, frame
 * or stream that the input stops inside of as MMK_ECORRUPT, after handing out
 * the bytes decoded before it. Several members / frames / streams are read on
 * (as zcat, zstdcat, xzcat and bzcat do). What may follow the last one:
 *   gzip   zero bytes up to the end (gzip ignores those silently too);
 *   zstd   skippable frames (libzstd skips them);
 *   xz     stream padding (zeros in multiples of 4 bytes; liblzma checks);
 *   bzip2  nothing.
 * Anything else after the last complete one is MMK_ECORRUPT, reported after
 * all the data before it. gzip and bzip2 themselves only warn there ("trailing
 * garbage ignored"; gzip exits 2, bzip2 0); the decoder has no channel for a
 * warning and does not drop bytes of its input silently, so it says
 * MMK_ECORRUPT and the caller decides (the output up to there equals zcat's).
 *
 * gzip inflaters, measured here with bench/inflate.c (`inflate -c -r 3 FILE`)
 * on a 500 MB access log compressed with gzip -6 to 76 MB, page-cached, one
 * thread, best of 3, MB/s of output per CPU second (the machine was shared
 * with other jobs: wall-clock figures swung threefold; ranges over 2-4 runs):
 *   ISA-L 2.30 isal_inflate, streaming, 256 KiB reads     1444-1597
 *     (4 KiB to 1 MiB reads, on 100 MB of the log:        1343-1534)
 *   zlib 1.2.13 inflate, streaming, 256 KiB reads          533-549
 *   libdeflate 1.14, the whole member in memory:
 *     decoding alone, into an output buffer already used  741-833
 *     (the same in a loop over one buffer, outside mmkit: 1140-1332)
 *     the whole job (read 76 MB, allocate 560 MB, decode)  133-148
 * libdeflate cannot stream: it needs the whole member in memory and an output
 * buffer of its whole size, whose first touch costs a page fault per page (and
 * memory is not bounded). ISA-L is the fastest and streams in 85 KiB of state,
 * so gzip uses it when present and zlib otherwise. For scale, the command-line
 * tools (CPU time, 100 MB of the log): gzip -dc 227 MB/s; this file's other
 * decoders beside their tools: zstd 884-1067 (zstd -dc 526), xz 97-125 (xz -dc
 * 112), bzip2 14 (bzip2 -dc 15).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmkit.h"

#include "decode.h"
#include "os.h"

#ifdef MMK_HAVE_ZLIB
#include <zlib.h>
#endif
#ifdef MMK_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif
#ifdef MMK_HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif
#ifdef MMK_HAVE_LZMA
#include <lzma.h>
#endif
#ifdef MMK_HAVE_BZ2
#include <bzlib.h>
#endif

enum {
    DEC_IN_SIZE = 128 * 1024,   /* compressed bytes per read() */
    DEC_OUT_SIZE = 128 * 1024,  /* staging buffer for reads below DEC_DIRECT_MIN */
    DEC_DIRECT_MIN = 16 * 1024, /* reads this large decode into the caller's buffer */
    DEC_DETECT = 10             /* bytes mmk_compression_detect needs at most */
};

/* Helpers that a build with only some of the libraries does not call. */
#if defined(__GNUC__)
#define DEC_MAYBE_UNUSED __attribute__((unused))
#else
#define DEC_MAYBE_UNUSED
#endif

/* One call never asks a library for more than this (zlib, ISA-L and bzip2
   count in 32-bit unsigned). */
#define DEC_MAX_CALL ((size_t)1 << 30)

/* Where a gzip / bzip2 decoder is between members (streams). */
enum dec_member_state {
    DEC_BETWEEN = 0, /* before a member: the next byte decides what follows */
    DEC_INSIDE = 1,  /* inside a member */
    DEC_ZEROS = 2    /* gzip: only zero bytes may follow up to the end */
};

struct mmk_decoder {
    int fd;
    int format;   /* enum mmk_compression; NONE = pass-through */
    int inflater; /* gzip: enum mmk__inflater */
    int err;      /* sticky error, 0 if none */
    int done;     /* the end of the data was reported */
    int eof;      /* read() returned 0 */
    uint8_t *in;  /* compressed input: [in_pos, in_len) not yet consumed */
    size_t in_pos, in_len;
    uint8_t *out; /* staged output for small reads: [out_pos, out_len) */
    size_t out_pos, out_len;
    int64_t (*fill)(mmk_decoder *d, uint8_t *out, size_t cap);
    void (*end)(mmk_decoder *d);
    int member;       /* enum dec_member_state (gzip, bzip2) */
    uint64_t members; /* complete members / streams / frames seen */
    int codec_live;   /* bzip2: a bz_stream is initialised */
    int frame_done;   /* zstd: the last call ended a frame; xz: the streams ended */
    void *codec;      /* the library's state */
    int async;        /* decode on a thread of its own (dec_async) */
    struct dec_async *a;
};

/* ---- detection ------------------------------------------------------------ */

int mmk_compression_detect(const void *head, size_t n) {
    const uint8_t *p = head;
    if (!p)
        return MMK_COMP_NONE;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return MMK_COMP_GZIP;
    if (n >= 4) {
        uint32_t m =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        /* a frame, or a skippable frame (pzstd and others start with one) */
        if (m == 0xFD2FB528u || (m & 0xFFFFFFF0u) == 0x184D2A50u)
            return MMK_COMP_ZSTD;
    }
    static const uint8_t xz[6] = {0xfd, '7', 'z', 'X', 'Z', 0};
    if (n >= 6 && memcmp(p, xz, 6) == 0)
        return MMK_COMP_XZ;
    /* "BZh" and a block size digit is also plain text, so the 6 bytes after it
       must start a block (pi) or end an empty stream (sqrt(pi)), as far as
       they are there. */
    if (n >= 4 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' && p[3] <= '9') {
        static const uint8_t block[6] = {0x31, 0x41, 0x59, 0x26, 0x53, 0x59};
        static const uint8_t eos[6] = {0x17, 0x72, 0x45, 0x38, 0x50, 0x90};
        size_t k = n - 4 < 6 ? n - 4 : 6;
        if (memcmp(p + 4, block, k) == 0 || memcmp(p + 4, eos, k) == 0)
            return MMK_COMP_BZIP2;
    }
    return MMK_COMP_NONE;
}

const char *mmk_compression_name(int format) {
    switch (format) {
    case MMK_COMP_NONE:
        return "none";
    case MMK_COMP_GZIP:
        return "gzip";
    case MMK_COMP_ZSTD:
        return "zstd";
    case MMK_COMP_XZ:
        return "xz";
    case MMK_COMP_BZIP2:
        return "bzip2";
    default:
        return "unknown";
    }
}

int mmk_compression_supported(int format) {
    switch (format) {
    case MMK_COMP_NONE:
        return 1;
#if defined(MMK_HAVE_ZLIB) || defined(MMK_HAVE_ISAL)
    case MMK_COMP_GZIP:
        return 1;
#endif
#ifdef MMK_HAVE_ZSTD
    case MMK_COMP_ZSTD:
        return 1;
#endif
#ifdef MMK_HAVE_LZMA
    case MMK_COMP_XZ:
        return 1;
#endif
#ifdef MMK_HAVE_BZ2
    case MMK_COMP_BZIP2:
        return 1;
#endif
    default:
        return 0;
    }
}

/* ---- input ---------------------------------------------------------------- */

/* read() into [dst, dst+n), retrying on EINTR: bytes read (0 at the end) or -errno. */
static int64_t dec_sysread(int fd, void *dst, size_t n) {
    return mmk__os_read(fd, dst, n);
}

/* More input after the unconsumed bytes (moved to the front): bytes added, 0
   at the end of the input (sets eof) or when the buffer is full, or -errno. */
static int64_t dec_read_more(mmk_decoder *d) {
    if (d->eof)
        return 0;
    if (d->in_pos > 0) {
        memmove(d->in, d->in + d->in_pos, d->in_len - d->in_pos);
        d->in_len -= d->in_pos;
        d->in_pos = 0;
    }
    if (d->in_len == DEC_IN_SIZE)
        return 0;
    int64_t r = dec_sysread(d->fd, d->in + d->in_len, DEC_IN_SIZE - d->in_len);
    if (r < 0)
        return r;
    if (r == 0)
        d->eof = 1;
    d->in_len += (size_t)r;
    return r;
}

/* The input is empty: read more unless at its end. 0 or -errno. */
static int dec_need_input(mmk_decoder *d) {
    if (d->in_pos < d->in_len || d->eof)
        return 0;
    int64_t r = dec_read_more(d);
    return r < 0 ? (int)r : 0;
}

/* A call of the library made no progress: it needs more input than is
   buffered. 0 when more came, MMK_ECORRUPT when the input ended (the data
   stops inside a member), -errno. */
DEC_MAYBE_UNUSED static int dec_stalled(mmk_decoder *d) {
    int64_t r = dec_read_more(d);
    if (r < 0)
        return (int)r;
    return r > 0 ? 0 : MMK_ECORRUPT;
}

/* Whether the unconsumed input is empty and no more will come. */
static int dec_input_over(const mmk_decoder *d) {
    return d->in_pos == d->in_len && d->eof;
}

/* gzip and bzip2 between members: 1 when the next member starts, 0 at a clean
   end (the caller reports the end), or a negative code. gzip allows zero
   bytes to the end after a member (`zeros_ok`). */
DEC_MAYBE_UNUSED static int dec_next_member(mmk_decoder *d, int zeros_ok) {
    for (;;) {
        int rc = dec_need_input(d);
        if (rc < 0)
            return rc;
        if (d->member == DEC_ZEROS) {
            while (d->in_pos < d->in_len && d->in[d->in_pos] == 0)
                d->in_pos++;
            if (d->in_pos < d->in_len)
                return MMK_ECORRUPT; /* something other than zeros after the last member */
            if (d->eof)
                return 0;
            continue;
        }
        if (dec_input_over(d))
            return d->members > 0 ? 0 : MMK_ECORRUPT; /* no data of the format at all */
        if (zeros_ok && d->members > 0 && d->in[d->in_pos] == 0) {
            d->member = DEC_ZEROS;
            continue;
        }
        return 1; /* the library checks the header */
    }
}

/* A library call failed with `code` after producing `made` bytes: those are
   handed out first (they are what the data held before the fault, as zcat
   prints them too) and the error comes at the next read. */
DEC_MAYBE_UNUSED static int64_t dec_fail(mmk_decoder *d, size_t made, int code) {
    if (made == 0)
        return code;
    d->err = code;
    return (int64_t)made;
}

/* ---- pass-through ---------------------------------------------------------- */

static int64_t dec_fill_none(mmk_decoder *d, uint8_t *out, size_t cap) {
    if (d->in_pos < d->in_len) { /* the bytes read for detection come first */
        size_t k = d->in_len - d->in_pos < cap ? d->in_len - d->in_pos : cap;
        memcpy(out, d->in + d->in_pos, k);
        d->in_pos += k;
        return (int64_t)k;
    }
    if (d->eof)
        return 0;
    int64_t r = dec_sysread(d->fd, out, cap);
    if (r == 0)
        d->eof = 1;
    return r;
}

/* ---- gzip: ISA-L ----------------------------------------------------------- */

#ifdef MMK_HAVE_ISAL
static int64_t dec_fill_isal(mmk_decoder *d, uint8_t *out, size_t cap) {
    struct inflate_state *s = d->codec;
    for (;;) {
        if (d->member != DEC_INSIDE) {
            int rc = dec_next_member(d, 1);
            if (rc <= 0)
                return rc;
            isal_inflate_reset(s);
            s->crc_flag = ISAL_GZIP; /* header, CRC-32 and length are checked */
            d->member = DEC_INSIDE;
        }
        int rc = dec_need_input(d);
        if (rc < 0)
            return rc;
        size_t avail = d->in_len - d->in_pos;
        s->next_in = d->in + d->in_pos;
        s->avail_in = (uint32_t)avail;
        s->next_out = out;
        s->avail_out = (uint32_t)cap;
        int ret = isal_inflate(s);
        size_t used = avail - s->avail_in;
        size_t made = (size_t)(s->next_out - out);
        d->in_pos += used;
        if (ret < 0)
            return dec_fail(d, made,
                            ret == ISAL_INVALID_STATE || ret == INVALID_PARAM ? -EINVAL
                                                                              : MMK_ECORRUPT);
        if (s->block_state == ISAL_BLOCK_FINISH) {
            d->member = DEC_BETWEEN;
            d->members++;
        }
        if (made > 0)
            return (int64_t)made;
        if (used == 0 && d->member == DEC_INSIDE && (rc = dec_stalled(d)) < 0)
            return rc;
    }
}
#endif

/* ---- gzip: zlib ------------------------------------------------------------ */

#ifdef MMK_HAVE_ZLIB
static int64_t dec_fill_zlib(mmk_decoder *d, uint8_t *out, size_t cap) {
    z_stream *z = d->codec;
    for (;;) {
        if (d->member != DEC_INSIDE) {
            int rc = dec_next_member(d, 1);
            if (rc <= 0)
                return rc;
            if (inflateReset(z) != Z_OK)
                return -EINVAL;
            d->member = DEC_INSIDE;
        }
        int rc = dec_need_input(d);
        if (rc < 0)
            return rc;
        size_t avail = d->in_len - d->in_pos;
        z->next_in = d->in + d->in_pos;
        z->avail_in = (uInt)avail;
        z->next_out = out;
        z->avail_out = (uInt)cap;
        int ret = inflate(z, Z_NO_FLUSH);
        size_t used = avail - z->avail_in;
        size_t made = cap - z->avail_out;
        d->in_pos += used;
        if (ret == Z_MEM_ERROR)
            return dec_fail(d, made, -ENOMEM);
        if (ret == Z_STREAM_END) {
            d->member = DEC_BETWEEN;
            d->members++;
        } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
            /* Z_DATA_ERROR (bad header, data or CRC), Z_NEED_DICT */
            return dec_fail(d, made, MMK_ECORRUPT);
        }
        if (made > 0)
            return (int64_t)made;
        if (used == 0 && d->member == DEC_INSIDE && (rc = dec_stalled(d)) < 0)
            return rc;
    }
}

static void dec_end_zlib(mmk_decoder *d) {
    inflateEnd(d->codec);
    free(d->codec);
}
#endif

/* ---- zstd ------------------------------------------------------------------ */

#ifdef MMK_HAVE_ZSTD
static int64_t dec_fill_zstd(mmk_decoder *d, uint8_t *out, size_t cap) {
    ZSTD_DStream *zs = d->codec;
    for (;;) {
        int rc = dec_need_input(d);
        if (rc < 0)
            return rc;
        if (dec_input_over(d) && d->frame_done)
            return 0;
        ZSTD_inBuffer in = {d->in + d->in_pos, d->in_len - d->in_pos, 0};
        ZSTD_outBuffer o = {out, cap, 0};
        size_t ret = ZSTD_decompressStream(zs, &o, &in);
        d->in_pos += in.pos;
        if (ZSTD_isError(ret)) {
            ZSTD_ErrorCode e = ZSTD_getErrorCode(ret);
            return dec_fail(d, o.pos,
                            e == ZSTD_error_memory_allocation ||
                                    e == ZSTD_error_frameParameter_windowTooLarge
                                ? -ENOMEM
                                : MMK_ECORRUPT);
        }
        /* 0: a frame (or skippable frame) ended and everything was flushed */
        d->frame_done = ret == 0;
        if (o.pos > 0)
            return (int64_t)o.pos;
        if (in.pos == 0) {
            if (dec_input_over(d))
                return d->frame_done ? 0 : MMK_ECORRUPT; /* ends inside a frame */
            if ((rc = dec_stalled(d)) < 0)
                return rc;
        }
    }
}

static void dec_end_zstd(mmk_decoder *d) {
    ZSTD_freeDStream(d->codec);
}
#endif

/* ---- xz -------------------------------------------------------------------- */

#ifdef MMK_HAVE_LZMA
static int64_t dec_fill_xz(mmk_decoder *d, uint8_t *out, size_t cap) {
    lzma_stream *x = d->codec;
    int idle = 0;
    for (;;) {
        int rc = dec_need_input(d);
        if (rc < 0)
            return rc;
        size_t avail = d->in_len - d->in_pos;
        x->next_in = d->in + d->in_pos;
        x->avail_in = avail;
        x->next_out = out;
        x->avail_out = cap;
        /* LZMA_CONCATENATED: only LZMA_FINISH tells it no other stream follows */
        lzma_ret ret = lzma_code(x, dec_input_over(d) ? LZMA_FINISH : LZMA_RUN);
        size_t used = avail - x->avail_in;
        size_t made = cap - x->avail_out;
        d->in_pos += used;
        if (ret == LZMA_STREAM_END) {
            d->members++;
            if (made > 0) {
                d->frame_done = 1; /* report the end at the next call */
                return (int64_t)made;
            }
            return 0;
        }
        if (ret == LZMA_MEM_ERROR || ret == LZMA_MEMLIMIT_ERROR)
            return dec_fail(d, made, -ENOMEM);
        if (ret != LZMA_OK) /* DATA, FORMAT, OPTIONS, BUF (ends early) errors */
            return dec_fail(d, made, MMK_ECORRUPT);
        if (made > 0)
            return (int64_t)made;
        if (used > 0) {
            idle = 0;
        } else if (dec_input_over(d)) {
            /* At the end LZMA_FINISH decides: LZMA_STREAM_END, or LZMA_BUF_ERROR
               at the second call without progress when the data ends early. */
            if (++idle > 2)
                return MMK_ECORRUPT;
        } else {
            /* input left and no progress: more is needed (at the end, LZMA_FINISH) */
            int64_t r = dec_read_more(d);
            if (r < 0)
                return r;
            if (r == 0 && !d->eof)
                return MMK_ECORRUPT;
        }
    }
}

static int64_t dec_fill_xz_outer(mmk_decoder *d, uint8_t *out, size_t cap) {
    if (d->frame_done)
        return 0;
    return dec_fill_xz(d, out, cap);
}

static void dec_end_xz(mmk_decoder *d) {
    lzma_end(d->codec);
    free(d->codec);
}
#endif

/* ---- bzip2 ----------------------------------------------------------------- */

#ifdef MMK_HAVE_BZ2
static int64_t dec_fill_bz2(mmk_decoder *d, uint8_t *out, size_t cap) {
    bz_stream *b = d->codec;
    for (;;) {
        if (d->member != DEC_INSIDE) {
            int rc = dec_next_member(d, 0);
            if (rc <= 0)
                return rc;
            if (d->codec_live) {
                BZ2_bzDecompressEnd(b);
                d->codec_live = 0;
            }
            memset(b, 0, sizeof *b);
            int ret = BZ2_bzDecompressInit(b, 0, 0);
            if (ret != BZ_OK)
                return ret == BZ_MEM_ERROR ? -ENOMEM : -EINVAL;
            d->codec_live = 1;
            d->member = DEC_INSIDE;
        }
        int rc = dec_need_input(d);
        if (rc < 0)
            return rc;
        size_t avail = d->in_len - d->in_pos;
        b->next_in = (char *)(d->in + d->in_pos);
        b->avail_in = (unsigned)avail;
        b->next_out = (char *)out;
        b->avail_out = (unsigned)cap;
        int ret = BZ2_bzDecompress(b);
        size_t used = avail - b->avail_in;
        size_t made = cap - b->avail_out;
        d->in_pos += used;
        if (ret == BZ_MEM_ERROR)
            return dec_fail(d, made, -ENOMEM);
        if (ret == BZ_STREAM_END) {
            d->member = DEC_BETWEEN;
            d->members++;
        } else if (ret != BZ_OK) {
            /* BZ_DATA_ERROR (CRC too), BZ_DATA_ERROR_MAGIC */
            return dec_fail(d, made, MMK_ECORRUPT);
        }
        if (made > 0)
            return (int64_t)made;
        if (used == 0 && d->member == DEC_INSIDE && (rc = dec_stalled(d)) < 0)
            return rc;
    }
}

static void dec_end_bz2(mmk_decoder *d) {
    if (d->codec_live)
        BZ2_bzDecompressEnd(d->codec);
    free(d->codec);
}
#endif

/* ---- the inflater choice (tests, benchmark) ---------------------------------- */

static int dec_inflater_choice = MMK__INFLATE_AUTO;

int mmk__decode_set_inflater(int which) {
    switch (which) {
    case MMK__INFLATE_AUTO:
        break;
    case MMK__INFLATE_ZLIB:
#ifndef MMK_HAVE_ZLIB
        return MMK_ENOTSUP;
#endif
        break;
    case MMK__INFLATE_ISAL:
#ifndef MMK_HAVE_ISAL
        return MMK_ENOTSUP;
#endif
        break;
    default:
        return -EINVAL;
    }
    __atomic_store_n(&dec_inflater_choice, which, __ATOMIC_RELAXED);
    return 0;
}

int mmk__decoder_inflater(const struct mmk_decoder *d) {
    return d && d->format == MMK_COMP_GZIP ? d->inflater : 0;
}

/* ---- decoding on a thread of its own ------------------------------------------ */

/* A reader that decodes and then searches one buffer after the other takes
   decode + search; rg -z overlaps the two (zstd -dc in a subprocess). So a
   decoder of a regular file (on a machine with several cores) decodes on a
   thread of its own, ahead of the reader, into a ring of DEC_SLOTS buffers of
   DEC_SLOT_SIZE bytes; mmk_decoder_read copies out of the ring. The thread
   starts at the first read, stops when the ring is full, and is stopped and
   joined by mmk_decoder_free wherever it is. Bytes, the end and errors reach
   the reader in the order the codec produced them, exactly as without the
   thread: the thread runs the same `fill` functions. Memory: the ring (4 MiB)
   besides the codec's own. */
enum {
    DEC_SLOTS = 4,
    DEC_SLOT_SIZE = 1024 * 1024 /* fewer hand-overs (context switches) than 256 KiB slots */
};

typedef struct dec_async {
    mmk__thread thread;
    int started; /* the thread runs (or ran) */
    mmk__mutex mu;
    mmk__cond filled; /* the reader: a slot was filled, or the end came */
    mmk__cond freed;  /* the thread: a slot was emptied, or stop */
    uint8_t *ring;    /* DEC_SLOTS * DEC_SLOT_SIZE */
    size_t len[DEC_SLOTS];
    uint64_t head, tail; /* slots read < head <= tail (filled) */
    size_t pos;          /* the reader's offset in slot head */
    size_t cur_len;      /* the reader's: the length of slot head while it holds it, or 0 */
    uint64_t head_seen;  /* the reader's copy of head */
    int end;             /* the thread is finished; end_rc after the filled slots */
    int end_rc;          /* 0 (the end of the data) or the error */
    int stop;            /* mmk_decoder_free: finish now */
    /* The reader's own (the thread writes the decoder's err and done). */
    int read_err, read_done;
} dec_async;

/* MMK__ASYNC_*: whether decoders opened from now on use the thread. */
static int dec_async_choice = MMK__ASYNC_AUTO;

int mmk__decode_set_async(int which) {
    if (which != MMK__ASYNC_AUTO && which != MMK__ASYNC_OFF && which != MMK__ASYNC_ON)
        return -EINVAL;
    __atomic_store_n(&dec_async_choice, which, __ATOMIC_RELAXED);
    return 0;
}

int mmk__decoder_async(const struct mmk_decoder *d) {
    return d && d->async;
}

/* Whether a decoder of `fd` decodes on a thread: regular files with several
   cores to run on (a pipe's writer is often the other core's work already). */
static int dec_wants_async(int fd) {
    int which = __atomic_load_n(&dec_async_choice, __ATOMIC_RELAXED);
    if (which != MMK__ASYNC_AUTO)
        return which == MMK__ASYNC_ON;
    mmk__os_stat st;
    if (mmk__os.fstat(fd, &st) != 0 || st.type != MMK__OS_REGULAR)
        return 0;
    return mmk__os_cpu_count() > 1;
}

/* One fill of the codec as mmk_decoder_read makes it, on the thread: a
   non-blocking descriptor that has nothing yet is waited for (the reader of
   a decoder without the thread sees -EAGAIN and retries itself). */
static int64_t dec_fill_blocking(mmk_decoder *d, uint8_t *out, size_t cap) {
    for (;;) {
        int64_t r = d->fill(d, out, cap);
        if (r != -EAGAIN && r != -EWOULDBLOCK)
            return r;
        int w = mmk__os_fd_wait(d->fd);
        if (w < 0)
            return w;
    }
}

static void *dec_thread(void *arg) {
    mmk_decoder *d = arg;
    dec_async *a = d->a;
    for (;;) {
        mmk__mutex_lock(&a->mu);
        while (a->tail - a->head == DEC_SLOTS && !a->stop)
            mmk__cond_wait(&a->freed, &a->mu);
        int stop = a->stop;
        uint64_t slot = a->tail % DEC_SLOTS;
        mmk__mutex_unlock(&a->mu);
        if (stop)
            return NULL;
        /* Fill the slot at least half (fewer hand-overs), as far as the data
           goes. A codec that fails after some bytes hands those out first
           and keeps the error in d->err (dec_fail): it comes after them. */
        uint8_t *dst = a->ring + slot * DEC_SLOT_SIZE;
        size_t got = 0;
        int64_t r = 1;
        while (got < DEC_SLOT_SIZE / 2) {
            r = dec_fill_blocking(d, dst + got, DEC_SLOT_SIZE - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            if (d->err) {
                r = d->err;
                break;
            }
        }
        mmk__mutex_lock(&a->mu);
        if (got > 0) {
            a->len[slot] = got;
            a->tail++;
        }
        if (r <= 0) {
            a->end = 1;
            a->end_rc = (int)r;
        }
        mmk__cond_signal(&a->filled);
        mmk__mutex_unlock(&a->mu);
        if (r <= 0)
            return NULL;
    }
}

/* Set up the ring (the thread starts at the first read). 0 or -ENOMEM. */
static int dec_async_init(mmk_decoder *d) {
    dec_async *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->ring = malloc((size_t)DEC_SLOTS * DEC_SLOT_SIZE);
    if (!a->ring) {
        free(a);
        return -ENOMEM;
    }
    mmk__mutex_init(&a->mu);
    mmk__cond_init(&a->filled);
    mmk__cond_init(&a->freed);
    d->a = a;
    d->async = 1;
    return 0;
}

static void dec_async_free(mmk_decoder *d) {
    dec_async *a = d->a;
    if (!a)
        return;
    if (a->started) {
        mmk__mutex_lock(&a->mu);
        a->stop = 1;
        mmk__cond_signal(&a->freed);
        mmk__mutex_unlock(&a->mu);
        mmk__thread_join(a->thread);
    }
    mmk__mutex_destroy(&a->mu);
    mmk__cond_destroy(&a->filled);
    mmk__cond_destroy(&a->freed);
    free(a->ring);
    free(a);
    d->a = NULL;
}

/* mmk_decoder_read through the ring: as many filled bytes as fit (from
   several slots when they are there), waiting only when none is. The slot
   the reader holds (cur_len > 0) is read without the lock, so that small
   reads cost a copy. Returns -EAGAIN with d->async cleared when no thread
   could be started (nothing was decoded yet: the caller decodes on its own
   thread). */
static int64_t dec_async_read(mmk_decoder *d, uint8_t *buf, size_t n) {
    dec_async *a = d->a;
    if (a->read_err)
        return a->read_err;
    if (a->read_done)
        return 0;
    if (!a->started) {
        if (mmk__thread_create(&a->thread, dec_thread, d) != 0) {
            dec_async_free(d);
            d->async = 0;
            return -EAGAIN;
        }
        a->started = 1;
    }
    size_t done = 0;
    int end_rc = 0;
    for (;;) {
        if (a->pos < a->cur_len) {
            /* The slot is the reader's until head moves past it. */
            uint64_t slot = a->head_seen % DEC_SLOTS;
            size_t k = a->cur_len - a->pos < n - done ? a->cur_len - a->pos : n - done;
            memcpy(buf + done, a->ring + slot * DEC_SLOT_SIZE + a->pos, k);
            done += k;
            a->pos += k;
            if (a->pos == a->cur_len) {
                mmk__mutex_lock(&a->mu);
                a->head++;
                mmk__cond_signal(&a->freed);
                mmk__mutex_unlock(&a->mu);
                a->head_seen++;
                a->pos = 0;
                a->cur_len = 0;
            }
            if (done == n)
                break;
            continue;
        }
        mmk__mutex_lock(&a->mu);
        if (done > 0 && a->head == a->tail) {
            mmk__mutex_unlock(&a->mu); /* hand out what there is, do not wait */
            break;
        }
        while (a->head == a->tail && !a->end)
            mmk__cond_wait(&a->filled, &a->mu);
        if (a->head < a->tail) {
            a->cur_len = a->len[a->head % DEC_SLOTS];
            mmk__mutex_unlock(&a->mu);
            continue;
        }
        end_rc = a->end_rc;
        mmk__mutex_unlock(&a->mu);
        break;
    }
    int64_t r = done > 0 ? (int64_t)done : end_rc;
    if (r == 0)
        a->read_done = 1;
    else if (r < 0)
        a->read_err = (int)r; /* the codec's state is not to be trusted after a failure */
    return r;
}

/* ---- open / read / free ----------------------------------------------------- */

/* Set up the codec of d->format. 0, MMK_ENOTSUP or -ENOMEM. */
static int dec_start_codec(mmk_decoder *d) {
    switch (d->format) {
    case MMK_COMP_NONE:
        d->fill = dec_fill_none;
        return 0;
    case MMK_COMP_GZIP: {
        int which = __atomic_load_n(&dec_inflater_choice, __ATOMIC_RELAXED);
#ifdef MMK_HAVE_ISAL
        if (which == MMK__INFLATE_AUTO)
            which = MMK__INFLATE_ISAL;
#else
        if (which == MMK__INFLATE_AUTO)
            which = MMK__INFLATE_ZLIB;
#endif
#ifdef MMK_HAVE_ISAL
        if (which == MMK__INFLATE_ISAL) {
            struct inflate_state *s = malloc(sizeof *s);
            if (!s)
                return -ENOMEM;
            isal_inflate_init(s);
            d->codec = s;
            d->inflater = MMK__INFLATE_ISAL;
            d->fill = dec_fill_isal;
            d->end = NULL; /* a plain allocation: free() below */
            return 0;
        }
#endif
#ifdef MMK_HAVE_ZLIB
        if (which == MMK__INFLATE_ZLIB) {
            z_stream *z = calloc(1, sizeof *z);
            if (!z)
                return -ENOMEM;
            /* 16 + 15: a gzip wrapper only, 32 KiB window */
            int ret = inflateInit2(z, 16 + MAX_WBITS);
            if (ret != Z_OK) {
                free(z);
                return ret == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
            }
            d->codec = z;
            d->inflater = MMK__INFLATE_ZLIB;
            d->fill = dec_fill_zlib;
            d->end = dec_end_zlib;
            return 0;
        }
#endif
        (void)which;
        return MMK_ENOTSUP;
    }
#ifdef MMK_HAVE_ZSTD
    case MMK_COMP_ZSTD: {
        ZSTD_DStream *zs = ZSTD_createDStream();
        if (!zs)
            return -ENOMEM;
        /* zstd's default limit (and zstdcat's): windows up to 128 MiB, which
           covers zstd --long; larger ones answer -ENOMEM. Said explicitly so
           that a library with another default does not change the bound. */
        size_t r = ZSTD_DCtx_setParameter(zs, ZSTD_d_windowLogMax, 27);
        if (ZSTD_isError(r)) {
            ZSTD_freeDStream(zs);
            return -EINVAL;
        }
        d->codec = zs;
        d->fill = dec_fill_zstd;
        d->end = dec_end_zstd;
        return 0;
    }
#endif
#ifdef MMK_HAVE_LZMA
    case MMK_COMP_XZ: {
        lzma_stream *x = malloc(sizeof *x);
        if (!x)
            return -ENOMEM;
        *x = (lzma_stream)LZMA_STREAM_INIT;
        /* no memory limit (as xz -d); concatenated streams and padding */
        lzma_ret ret = lzma_stream_decoder(x, UINT64_MAX, LZMA_CONCATENATED);
        if (ret != LZMA_OK) {
            free(x);
            return ret == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL;
        }
        d->codec = x;
        d->fill = dec_fill_xz_outer;
        d->end = dec_end_xz;
        return 0;
    }
#endif
#ifdef MMK_HAVE_BZ2
    case MMK_COMP_BZIP2: {
        bz_stream *b = calloc(1, sizeof *b);
        if (!b)
            return -ENOMEM;
        d->codec = b; /* each stream initialises it (dec_fill_bz2) */
        d->fill = dec_fill_bz2;
        d->end = dec_end_bz2;
        return 0;
    }
#endif
    default:
        return MMK_ENOTSUP;
    }
}

int mmk_decoder_open(mmk_decoder **out, int fd, int format) {
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (format < MMK_COMP_NONE || format > MMK_COMP_BZIP2)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    if (!mmk_compression_supported(format))
        return MMK_ENOTSUP;
    mmk_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->fd = fd;
    d->format = format;
    d->in = malloc(DEC_IN_SIZE);
    if (!d->in) {
        free(d);
        return -ENOMEM;
    }
    int rc = 0;
    if (format == MMK_COMP_NONE) {
        /* Detection reads the first bytes; they stay in the input buffer and
           are the first the codec (or the pass-through) sees. */
        while (d->in_len < DEC_DETECT && !d->eof) {
            int64_t r = dec_read_more(d);
            if (r < 0) {
                rc = (int)r;
                break;
            }
        }
        if (rc == 0) {
            d->format = mmk_compression_detect(d->in, d->in_len);
            if (!mmk_compression_supported(d->format))
                rc = MMK_ENOTSUP;
        }
    }
    if (rc == 0)
        rc = dec_start_codec(d);
    if (rc == 0 && d->format != MMK_COMP_NONE && dec_wants_async(fd))
        rc = dec_async_init(d);
    if (rc < 0) {
        mmk_decoder_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int64_t mmk_decoder_read(void *decoder, void *buf, size_t n) {
    mmk_decoder *d = decoder;
    if (!d || !buf || n == 0)
        return -EINVAL;
    if (d->async) {
        int64_t r = dec_async_read(d, buf, n < DEC_MAX_CALL ? n : DEC_MAX_CALL);
        if (d->async)
            return r;
        /* No thread could be started: on as a decoder without one. */
    }
    if (d->out_pos < d->out_len) {
        size_t k = d->out_len - d->out_pos < n ? d->out_len - d->out_pos : n;
        memcpy(buf, d->out + d->out_pos, k);
        d->out_pos += k;
        return (int64_t)k;
    }
    if (d->err)
        return d->err;
    if (d->done)
        return 0;
    int64_t r;
    if (n >= DEC_DIRECT_MIN) {
        r = d->fill(d, buf, n < DEC_MAX_CALL ? n : DEC_MAX_CALL);
    } else {
        if (!d->out && !(d->out = malloc(DEC_OUT_SIZE)))
            return -ENOMEM;
        r = d->fill(d, d->out, DEC_OUT_SIZE);
        if (r > 0) {
            d->out_len = (size_t)r;
            d->out_pos = r < (int64_t)n ? (size_t)r : n;
            memcpy(buf, d->out, d->out_pos);
            r = (int64_t)d->out_pos;
        }
    }
    if (r == 0)
        d->done = 1;
    else if (r < 0 && r != -EAGAIN && r != -EWOULDBLOCK)
        d->err = (int)r; /* a codec's state is not to be trusted after a failure */
    return r;
}

int mmk_decoder_format(const mmk_decoder *d) {
    return d ? d->format : -EINVAL;
}

void mmk_decoder_free(mmk_decoder *d) {
    if (!d)
        return;
    dec_async_free(d); /* the thread stops before the codec goes */
    if (d->end)
        d->end(d);
    else
        free(d->codec);
    free(d->in);
    free(d->out);
    free(d);
}
