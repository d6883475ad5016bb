/*
 * scan.h — the searcher's internal interface: the chunked, multi-threaded
 * walk over an input (scan.c) that the counting, matching, line and word jobs
 * (scan.c, words.c) plug into, and the newline counters tests compare.
 *
 * An input (bytes, a map range, a file descriptor) is resolved once into a
 * "source": either a block of memory (bytes, a map view, a mapped file) or a
 * descriptor read with pread() (regular files) or read() (pipes, ttys, /proc).
 * The source is cut into chunks of about chunk_size bytes. Each chunk owns the
 * input range [s, e); the job's chunk function runs on a worker thread and may
 * look at bytes outside [s, e) as far as the subject reaches (the whole input
 * for memory sources; `before`/`after` bytes of context for buffered ones).
 * Chunks are then handed, in input order, to the job's merge function on the
 * calling thread, which is where exactness across chunk boundaries is restored.
 */
#ifndef MMK_SCAN_H
#define MMK_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "mmkit.h"

/* One chunk as a job's functions see it. The subject pointer is valid until
   the chunk has been merged. */
typedef struct mmk__chunk {
    uint64_t index;     /* 0, 1, 2 ... in input order */
    uint64_t s, e;      /* owned input range */
    int last;           /* the final chunk: also owns position e (the end of input) */
    const uint8_t *sub; /* subject: sub[i] is input byte sub_off + i */
    uint64_t sub_off;
    size_t sub_len;
    int sub_is_end; /* sub ends at the end of the input (not a buffer cut) */
    int line_open;  /* line_cut, pread: the last owned line is longer than the engine
                       holds; sub stops inside it (the job reads the rest itself) */
    void *res;      /* the job's per-chunk result (job->res_size bytes, kept across reuse) */
    /* engine-private */
    uint8_t **grow_buf; /* pread: the buffer sub lives in, for mmk__chunk_more */
    size_t *grow_cap;
    uint8_t *buf;
    size_t buf_cap;
    int done;
    int rc;
    int64_t err_off; /* set by the job with a failing rc: where the failed search started */
} mmk__chunk;

typedef struct mmk__job mmk__job;

/* What a job plugs into the engine. */
typedef struct mmk__jobspec {
    size_t res_size;  /* bytes of per-chunk result storage (zeroed once, then reused) */
    size_t wctx_size; /* bytes of per-worker context (zeroed) */
    size_t before;    /* buffered sources: context bytes before s */
    size_t after;     /* buffered sources: bytes after e (a match starting before e ends there) */
    int word_cut;     /* buffered sources: extend a chunk so the word running at e ends in it */
    int line_cut;     /* buffered sources: a chunk owns the lines that start in [s, e) and its
                         subject holds them whole (pread: read on to the '\n' ending the last
                         one; streams: e is cut after the last '\n' read so far, and a chunk
                         is made of what read() returned, so lines come out as they arrive) */
    int needs_memory; /* the job needs the whole input in memory (unbounded regex, spans) */
    int grows;        /* ... unless the file is read with pread: then a chunk's subject
                         starts with `after` bytes past e, and the chunk function (or the
                         merge) reads on with mmk__chunk_more while a match may need more */
    int bulky_res;    /* a chunk's result may hold about as many bytes as the chunk (copied
                         lines): the chunks in flight are bounded in bytes, not only in count */
    /* bulky_res jobs: the bytes a done chunk's result holds (read before its
       merge). With it the window adapts: it grows while the results are
       small and falls back to SCAN_BULKY_WINDOW's bound when they are not.
       May be NULL (the window stays bounded). */
    size_t (*res_bytes)(const void *res);
    /* The merge may end the job early (max_count, -q, -l): the calling thread
       then merges each chunk as soon as it is done, where it otherwise sleeps
       until a chunk a quarter of the window further on is done too. */
    int stops_early;
    /* Per-chunk work on a worker; returns 0 or a negative code. Reads subject
       bytes (guarded by the engine when they are mapped). */
    int (*chunk)(mmk__job *j, void *wctx, mmk__chunk *c);
    /* Merge on the calling thread, chunk after chunk in input order; may
       return non-zero to stop (a callback's value) or a negative code. May be
       NULL. Mapped reads inside it must be guarded by the job
       (mmk__job_guard); for pread sources the chunk's bytes are gone by then
       unless the job reloads them. */
    int (*merge)(mmk__job *j, mmk__chunk *c);
    /* Releases what a per-chunk result holds (at the end). May be NULL. */
    void (*res_free)(void *res);
    /* Releases what a worker context holds (at the end, after `finish`). */
    void (*wctx_free)(void *wctx);
    /* Called once on the calling thread after the last chunk (or on error,
       with the error) while worker contexts still exist. May be NULL. */
    int (*finish)(mmk__job *j, void **wctxs, unsigned nctx, int rc);
    /* For jobs that need the whole input in memory: run over a stream in
       bounded memory instead of reading it whole first (calling thread, no
       workers; read with mmk__job_read). May be NULL. */
    int (*stream_run)(mmk__job *j, void *wctx);
    void *user; /* the job's own state */
} mmk__jobspec;

/* Run a job over an input. Returns 0, a job's non-zero stop value, or a
   negative code. */
/* A MAP input's range [start, end) resolved with Python's slice rules against
   the map's length len (MMK_DEFAULT_POS: the start or the end): *lo <= *hi. */
void mmk__slice_range(int64_t start, int64_t end, uint64_t len, uint64_t *lo, uint64_t *hi);

int mmk__scan_run(const mmk__jobspec *spec, const mmk_input *in, const mmk_scan_options *opt);

/* For job functions: the job's spec, and whether subject bytes are mapped
   memory that must be read under the fault guard. */
const mmk__jobspec *mmk__job_spec(const mmk__job *j);
int mmk__job_mapped(const mmk__job *j);

/* A grows job's chunk of a pread source: read more of the input into its
   subject (about doubling what it holds past e). 0, a read error, or
   MMK__SCAN_EGROW when it holds as much past e as the engine allows
   (16 MiB): the job may then run again with the input in memory. Not for
   a chunk whose subject already reaches the end of the input. */
#define MMK__SCAN_EGROW (-5998)
int mmk__chunk_more(mmk__job *j, mmk__chunk *c);

/* For stream_run: one read() of the stream (pread at the stream's offset for
   a regular file read as one); bytes read, 0 at the end, or -errno. */
int64_t mmk__job_read(mmk__job *j, uint8_t *dst, size_t n);

/* Run fn(arg) under the fault guard if the job's bytes are mapped, else
   directly. */
int mmk__job_guard(const mmk__job *j, int (*fn)(void *), void *arg);

/* The reference searcher (search_ref.c): mmk_search's contract done the
   obvious way (the input collected whole, then one line at a time on the
   calling thread). Tests compare mmk_search with it. */
int mmk__search_ref(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                    const mmk_search_options *so, const mmk_sink *sink, mmk_search_result *res);

/* What mmk_search and mmk__search_ref both do first: NULL options, sink and
   result stand for the zeroed ones in *d, the result is cleared, the error
   offset reset; -EINVAL for a missing pattern or input, a pattern without
   MMK_PAT_LINES, or an unknown search flag. */
typedef struct mmk__search_defaults {
    mmk_search_options so;
    mmk_sink sink;
    mmk_search_result res;
} mmk__search_defaults;
int mmk__search_prepare(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                        const mmk_search_options **so, const mmk_sink **sink,
                        mmk_search_result **res, mmk__search_defaults *d);

/* Newline counters: the dispatched one, and the paths tests compare. */
/* Regular files at least this large are read past the page cache (O_DIRECT
   through a ring of blocks, scan.c); 0 means the machine's memory. Tests set
   it to reach that path with small files. */
extern uint64_t mmk__scan_direct_min;
/* Bytes in flight for jobs with bulky results (scan.c's window_adapt); 0
   means the default, 2 MiB. Tests set it to a few chunks to exercise the
   adaptive window. */
extern uint64_t mmk__scan_bulky_window;
/* What a grows job's pread subject holds past a chunk's end to start with
   (and the first step of mmk__chunk_more); 0 means the default, 4 KiB.
   Tests set it to 1 so that small inputs take the partial-matching path. */
extern uint64_t mmk__scan_grow_first;
/* The most it holds past the end before MMK__SCAN_EGROW; 0 means the
   default, 16 MiB. Tests lower it to reach the fallback. */
extern uint64_t mmk__scan_grow_max;
/* The most all of a job's chunks read past their ends together before
   MMK__SCAN_EGROW; 0 means the default, a quarter of the input, at least
   1 MiB. */
extern uint64_t mmk__scan_grow_budget;
/* How many counts ran again in memory after MMK__SCAN_EGROW (for tests). */
extern uint64_t mmk__scan_grow_fallbacks;
/* Tests: chunks of regex counts and spans not scanned by their worker
   because an earlier chunk's speculative match covered them (find_chunk),
   and those of them the merge then scanned after all. */
extern uint64_t mmk__scan_deferred, mmk__scan_deferred_rescans;
/* Tests: line searches whose buffer matches ran so far past their lines that
   the rest of a region was searched line by line (lines_region). */
extern uint64_t mmk__scan_lines_overruns;
extern uint64_t mmk__scan_window_grown, mmk__scan_window_shrunk;

uint64_t mmk__count_newlines(const uint8_t *p, size_t n);
uint64_t mmk__count_newlines_scalar(const uint8_t *p, size_t n);
/* 0 when the CPU has no AVX2 (then *ok is set to 0). */
uint64_t mmk__count_newlines_avx2(const uint8_t *p, size_t n, int *ok);

#endif
