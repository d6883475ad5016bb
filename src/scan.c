/*
 * scan.c — the searcher: how bytes are walked.
 *
 * One engine (mmk__scan_run) resolves an input into memory (bytes, a map
 * view, a mapped file, a slurped stream) or a descriptor read piecewise
 * (pread for regular files, read for pipes), cuts it into chunks, lets worker
 * threads run a job's chunk function on them, and hands the results to the
 * job's merge function on the calling thread in input order. The jobs on top
 * of it: counting matches, reporting match spans and matching lines of
 * whole-input patterns (here), the line searcher (mmk_search: every
 * MMK_PAT_LINES job, with count, spans and lines as its sinks; here),
 * counting lines (here) and word frequencies (words.c).
 *
 * Exactness across chunks (counts, spans, lines): a worker scans its chunk
 * speculatively, as if the previous match had ended exactly at the chunk's
 * start, over a subject that reaches past the chunk (so matches may run past
 * its end and lookbehind sees before its start). The merge knows the true
 * state the previous chunk left (where its last match ended and whether it was
 * empty). When that differs from the speculation, it re-scans only the
 * positions the speculation never tried (the inside of speculative matches
 * the true state lands in) until the two agree on a match, after which the
 * speculative results are exact. See fix_chunk() for the argument.
 *
 * How each input is read:
 * - bytes and map ranges are scanned in place (a map view is held for the
 *   whole scan, so close and resize refuse meanwhile);
 * - a regular file is mapped (MMK_IO_MMAP) or read with pread() into one
 *   small buffer per worker (MMK_IO_READ, and MMK_IO_AUTO, which measured
 *   faster here) by the jobs that can work piecewise: literal counts (with
 *   max_lookbehind bytes of context before a chunk and max_match_len + 1
 *   after it), line counts, word counts (a word running past a chunk is read
 *   to its end) and every MMK_PAT_LINES job (line-aligned chunks: the line
 *   running past a chunk is read to its end, up to SCAN_LINE_HOLD; the rest
 *   of a longer one is searched piecewise), and whole-input regex counts
 *   (SCAN_GROW_FIRST bytes past a chunk to start with, read on while PCRE2's
 *   partial matching says a match may need more: mmk__chunk_more; past
 *   SCAN_GROW_MAX the count runs again over the file mapped). Whole-input
 *   regex spans and matching lines map the file whatever MMK_IO_READ says:
 *   such a match may be of any length;
 * - pipes, ttys, reader callbacks (MMK_INPUT_READER) and files whose size
 *   is a guess (procfs, sysfs: 0 or 4096) are streamed: in chunks with the context carried over for
 * the piecewise jobs (for line jobs, each read() up to its last '\n' is a chunk), by PCRE2 partial
 * matching for whole-input regex counts and spans (find_stream_run), and read completely into
 * memory only for whole-input matching lines;
 * - a regular file that turns out shorter than its size (short pread) is
 *   read again as a stream if no result was handed out yet, else -EIO;
 * - a file range (MMK_INPUT_RANGE) is read like a regular file, pread at
 *   the range's offset plus the input offset (job_pread), or mapped whole
 *   and scanned from the range's start; it is never streamed, and a file
 *   that does not hold the range gives -EIO.
 * Every read of mapped memory (workers and the merge) runs under the fault
 * guard, so a file truncated during a scan gives MMK_EFAULT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "matcher.h"
#include "os.h"
#include "pattern.h"
#include "scan.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MMK_SCAN_X86 1
#endif

/* ------------------------------------------------------------------------ */
/* Newline counting                                                          */
/* ------------------------------------------------------------------------ */

/* The reference: one byte at a time. */
uint64_t mmk__count_newlines_scalar(const uint8_t *p, size_t n) {
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += p[i] == '\n';
    return c;
}

#ifdef MMK_SCAN_X86
/* Compare 32 bytes at a time; each match subtracts -1 from a byte counter, and
   the counters are summed (psadbw) before any of them can wrap at 255. */
__attribute__((target("avx2"))) static uint64_t newlines_avx2(const uint8_t *p, size_t n) {
    const __m256i nl = _mm256_set1_epi8('\n');
    const __m256i zero = _mm256_setzero_si256();
    uint64_t total = 0;
    size_t i = 0;
    while (n - i >= 128) {
        size_t rounds = (n - i) / 128;
        if (rounds > 63)
            rounds = 63; /* 4 counters per lane per round: 63 * 4 = 252 < 256 */
        __m256i acc = zero;
        for (size_t r = 0; r < rounds; r++, i += 128) {
            __m256i a = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + i)), nl);
            __m256i b = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + i + 32)), nl);
            __m256i c = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + i + 64)), nl);
            __m256i d = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + i + 96)), nl);
            acc =
                _mm256_sub_epi8(acc, _mm256_add_epi8(_mm256_add_epi8(a, b), _mm256_add_epi8(c, d)));
        }
        /* Stored, not extracted: _mm256_extract_epi64 is x86-64 only (-m32 has no 64-bit
           general registers). */
        uint64_t sums[4];
        _mm256_storeu_si256((__m256i *)(void *)sums, _mm256_sad_epu8(acc, zero));
        total += sums[0] + sums[1] + sums[2] + sums[3];
    }
    while (n - i >= 32) {
        __m256i a = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(p + i)), nl);
        total += (uint64_t)__builtin_popcount((unsigned)_mm256_movemask_epi8(a));
        i += 32;
    }
    return total + mmk__count_newlines_scalar(p + i, n - i);
}
#endif

static int cpu_has_avx2(void) {
#ifdef MMK_SCAN_X86
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
#else
    return 0;
#endif
}

uint64_t mmk__count_newlines_avx2(const uint8_t *p, size_t n, int *ok) {
#ifdef MMK_SCAN_X86
    if (cpu_has_avx2()) {
        *ok = 1;
        return newlines_avx2(p, n);
    }
#endif
    *ok = 0;
    return 0;
}

/* Follows the literal matcher's CPU path, so forcing "scalar" for tests or
   debugging turns the vector code off here too. */
uint64_t mmk__count_newlines(const uint8_t *p, size_t n) {
    if (n == 0)
        return 0; /* p may be NULL (an empty map): no arithmetic on it */
#ifdef MMK_SCAN_X86
    if (n >= 64 && mmk_cpu_path() >= MMK_CPU_AVX2 && cpu_has_avx2())
        return newlines_avx2(p, n);
#endif
    /* memchr is vectorised in every libc; fine for short and non-AVX2 input. */
    uint64_t c = 0;
    const uint8_t *q = p, *end = p + n;
    while (q < end && (q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
        c++;
        q++;
    }
    return c;
}

/* ------------------------------------------------------------------------ */
/* The engine                                                                */
/* ------------------------------------------------------------------------ */

enum { SRC_MEM = 1, SRC_PREAD = 2, SRC_STREAM = 3 };

#define SCAN_DEFAULT_CHUNK ((uint64_t)1 << 20)
/* pread chunks: 256 KiB. Measured on the 2-core reference machine over the
   page-cached 1.1 GB KJV text, whole mmk processes, 64 KiB -> 256 KiB: count
   of a rare word 117 -> 89 ms, lines 103 -> 78 ms, grep of a rare word
   145 -> 117 ms, words 1.29 -> 1.19 s, a frequent word 417 -> 389 ms, a
   regex unchanged; the buffer still stays in the core's L2 (512 KiB). Jobs
   with bulky results keep their window in bytes (SCAN_BULKY_WINDOW). */
#define SCAN_PREAD_CHUNK ((uint64_t)1 << 18)
#define SCAN_MAX_BUFFERED_CHUNK ((uint64_t)1 << 28)
#define SCAN_MAX_THREADS 256
/* pread line jobs hold a line whole up to this length; the rest of a longer
   one is searched piecewise (lines_long_line) */
#define SCAN_LINE_HOLD ((uint64_t)4 << 20)
/* grows jobs (regex counts read with pread): what a chunk's subject holds
   past its end to start with (mmk__scan_grow_first overrides it), and at
   most (mmk__chunk_more). */
#define SCAN_GROW_FIRST ((uint64_t)4 << 10)
#define SCAN_GROW_MAX ((uint64_t)16 << 20)
/* All of a job's chunks together read at most this much past their ends (a
   quarter of the input, at least SCAN_GROW_BUDGET_MIN) before the count runs
   again in memory: a pattern whose every attempt runs to the end of the
   input (`lord[^q]*god` on text without "god" after the last "lord") would
   otherwise reread the file's tail once per chunk (a 16 MiB file: 1.44 s,
   against 0.15 s mapped). mmk__scan_grow_budget overrides it. */
#define SCAN_GROW_BUDGET_MIN ((uint64_t)1 << 20)
uint64_t mmk__scan_grow_first = 0, mmk__scan_grow_max = 0, mmk__scan_grow_fallbacks = 0;
uint64_t mmk__scan_deferred = 0, mmk__scan_deferred_rescans = 0;
uint64_t mmk__scan_lines_overruns = 0;
uint64_t mmk__scan_grow_budget = 0;
static uint64_t grow_first(void) {
    return mmk__scan_grow_first ? mmk__scan_grow_first : SCAN_GROW_FIRST;
}
/* input bytes in flight for jobs with bulky results (jobspec.bulky_res);
   with jobspec.res_bytes, result bytes in flight (the window adapts) */
#define SCAN_BULKY_WINDOW ((uint64_t)2 << 20)
/* First sizes of a search chunk's records and copy arena (lines_res.recs,
   .arena); they double. Small, because every slot has its own and a
   selective search leaves a line or two per chunk: the first touch of a
   page costs a fault (16 us on the 2-core VM of BENCHMARKS.md), and 4 KiB
   or more per slot was a page per slot and buffer, 256 faults for 128 slots. */
#define SEARCH_RECS_MIN ((size_t)16)
#define SEARCH_ARENA_MIN ((size_t)1024)
/* Read-ahead for regular files (cache_steer): reads are kept queued up to
   this many bytes past what the workers may already be reading, given to
   the kernel in steps of SCAN_AHEAD_STEP; pages behind the scan are let go
   in steps of SCAN_BEHIND_STEP, SCAN_BEHIND_LAG behind the merge. */
#define SCAN_AHEAD ((uint64_t)64 << 20)
#define SCAN_AHEAD_STEP ((uint64_t)8 << 20)
#define SCAN_BEHIND_STEP ((uint64_t)32 << 20)
#define SCAN_BEHIND_LAG ((uint64_t)16 << 20)
#define SCAN_BEHIND_ALIGN ((uint64_t)2 << 20)
/* Files below this size get no read-ahead hints and keep their map whole. */
#define SCAN_STEER_MIN ((uint64_t)64 << 20)
#define SCAN_PROGRESS_BYTES ((uint64_t)64 << 20)
#define SCAN_PROGRESS_NS 100000000LL

typedef struct direct_ring direct_ring;

struct mmk__job {
    const mmk__jobspec *spec;
    int kind;
    int mapped;         /* subject bytes are mapped memory: read under the guard */
    const uint8_t *mem; /* SRC_MEM */
    uint64_t total;     /* SRC_MEM, SRC_PREAD; streams: bytes read so far */
    uint64_t grown;     /* grows jobs: bytes mmk__chunk_more read (atomic) */
    int own_map_fast;   /* the scan's own map of a file that maps fast: no hints */
    int fd;             /* SRC_PREAD, SRC_STREAM */
    uint64_t base;      /* SRC_PREAD: file offset of input byte 0 (MMK_INPUT_RANGE) */
    uint64_t cs;        /* chunk size */
    uint64_t nchunks;   /* SRC_MEM, SRC_PREAD */
    unsigned W;         /* slots: chunks in flight at most */
    uint64_t batch;     /* chunks a worker takes at once */
    /* The adaptive window (bulky_res jobs with res_bytes, else wlim == W):
       chunks in flight at most now, between wmin and W, and the batch that
       goes with it (between batch_min and batch_max); sparse: chunks merged
       in a row whose results fit the budget at twice the window */
    unsigned wlim, wmin;
    uint64_t batch_min, batch_max, sparse;
    int adapt;
    /* Adaptive jobs: the slot of chunk k is slotp[k % W], taken from the
       stack of free slots (freep, nfree) when k becomes available and given
       back when it is merged, so a window smaller than W cycles over the
       slots it last used (their result memory is warm) instead of all W.
       NULL otherwise: chunk k's slot is slots[k % W]. */
    mmk__chunk **slotp, **freep;
    unsigned nfree;
    mmk__chunk *slots;
    unsigned nworkers; /* 0: the calling thread does everything */
    void **wctxs;

    mmk__mutex mu;
    mmk__cond work_cv, main_cv;
    uint64_t next;  /* next chunk index a worker takes */
    uint64_t avail; /* chunks below this index may be taken */
    int closed;     /* no chunk beyond avail will come */
    int abort;
    int err;
    int main_waiting; /* the calling thread sleeps until chunk wait_k is done */
    uint64_t wait_k;

    /* streams */
    uint8_t *carry; /* input bytes [carry_off, carry_off + carry_len) kept for the next chunk */
    size_t carry_len, carry_cap;
    uint64_t carry_off;
    uint64_t stream_s; /* owned start of the next chunk */
    int eof;
    int stream_pread; /* a regular file read as a stream: pread at read_off (the
                         descriptor's own offset is left alone) */
    uint64_t read_off;
    int own_stream; /* the job's stream_run reads the stream itself */
    /* MMK_INPUT_READER: the caller's callback is the stream (fd is -1) */
    int64_t (*reader)(void *read_user, void *buf, size_t n);
    void *reader_user;

    /* where a matcher hit its limit (the first failing chunk's err_off) */
    int64_t err_off;
    uint64_t merged; /* chunks merged so far: results were handed out */

    /* pread sources: the calling thread's buffer (inline chunks, reloads) */
    uint8_t *main_buf;
    size_t main_cap;

    /* The page cache of a regular file we read or mapped (cache_steer) */
    int cache_fd;        /* -1: no steering */
    uint64_t cache_base; /* file offset of input byte 0 */
    uint64_t ahead;      /* WILLNEED was given for input bytes below this */
    uint64_t behind;     /* pages below this were let go */
    int no_cache;        /* MMK_SCAN_NO_CACHE: drop the pages behind the scan */
    mmk_map *own_map;    /* our map of the file: unmap its pages behind the scan */
    direct_ring *ring;   /* pread sources larger than memory: read past the cache */

    /* progress */
    void (*progress)(uint64_t, uint64_t, void *);
    void *progress_user;
    uint64_t reported_bytes;
    uint64_t reported_at; /* mmk__os_now_ns */
};

const mmk__jobspec *mmk__job_spec(const mmk__job *j) {
    return j->spec;
}
int mmk__job_mapped(const mmk__job *j) {
    return j->mapped;
}

int mmk__job_guard(const mmk__job *j, int (*fn)(void *), void *arg) {
    return j->mapped ? mmk_guard_run(fn, arg) : fn(arg);
}

static long long elapsed_ns(uint64_t since) {
    return (long long)(mmk__os_now_ns() - since);
}

/* Report progress if enough bytes or time went by (or `force`). */
static void report_progress(mmk__job *j, uint64_t done, int force) {
    if (!j->progress)
        return;
    if (!force && done - j->reported_bytes < SCAN_PROGRESS_BYTES &&
        elapsed_ns(j->reported_at) < SCAN_PROGRESS_NS)
        return;
    j->reported_bytes = done;
    j->reported_at = mmk__os_now_ns();
    j->progress(done, j->kind == SRC_STREAM ? 0 : j->total, j->progress_user);
}

/* Make sure a buffer holds `need` bytes; keeps its contents. */
static int buf_reserve(uint8_t **buf, size_t *cap_io, size_t need) {
    if (need <= *cap_io)
        return 0;
    size_t cap = *cap_io ? *cap_io : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *b = realloc(*buf, cap);
    if (!b)
        return -ENOMEM;
    *buf = b;
    *cap_io = cap;
    return 0;
}

static int chunk_reserve(mmk__chunk *c, size_t need) {
    return buf_reserve(&c->buf, &c->buf_cap, need);
}

static int is_space_byte(uint8_t b) {
    return b == ' ' || (b >= '\t' && b <= '\r');
}

/* ------------------------------------------------------------------------ */
/* Reading past the page cache (files larger than memory)                    */
/* ------------------------------------------------------------------------ */

/* A file larger than memory cannot stay cached: by the time a scan ends, its
   first pages have been pushed out (and other programs' data with them), so
   the page cache only costs. Measured on bench/disk's 26 GB file on the
   2-core reference VM (24 GiB): buffered preads spent ~23 s of system time
   per pass in page-cache work (allocation, reclaim, copies), and under other
   load the scan ran at 0.2-0.4 GB/s, where four 4 MiB O_DIRECT reads in
   flight (bench/disk/probe.c) read 0.66-0.94 GB/s at almost no CPU. So such
   files are read by a ring of SCAN_RING_SLOTS aligned blocks of
   SCAN_RING_BLOCK bytes that SCAN_RING_READERS threads fill with direct
   reads ahead of the workers; job_pread copies from the ring. Anything the
   ring does not hold (behind it, too far ahead, a failed read, the end of a
   file that shrank) is read with an ordinary pread, so results never depend
   on the ring. */
#define SCAN_RING_BLOCK ((uint64_t)4 << 20)
#define SCAN_RING_SLOTS 24u
#define SCAN_RING_READERS 4u

/* Files at least this large (0: the machine's memory) use the ring; tests
   set it to force the ring on small files. */
uint64_t mmk__scan_direct_min = 0;

/* The bulky window's bytes (0: SCAN_BULKY_WINDOW); tests set it to a few
   chunks so that the adaptive window grows and shrinks on small inputs. */
uint64_t mmk__scan_bulky_window = 0;

/* How often an adaptive window grew and fell back (tests check that their
   inputs reach both). */
uint64_t mmk__scan_window_grown = 0, mmk__scan_window_shrunk = 0;

static uint64_t bulky_window(void) {
    return mmk__scan_bulky_window ? mmk__scan_bulky_window : SCAN_BULKY_WINDOW;
}

struct direct_ring {
    int fd;        /* our O_DIRECT descriptor */
    uint64_t end;  /* file offset where the input ends */
    uint8_t *mem;  /* SCAN_RING_SLOTS blocks, aligned */
    void *mem_raw; /* what malloc gave */
    uint64_t blk[SCAN_RING_SLOTS];
    int64_t got[SCAN_RING_SLOTS]; /* bytes read into the slot; -1 reading; < -1 failed */
    unsigned pins[SCAN_RING_SLOTS];
    uint64_t next;    /* next block to read */
    uint64_t release; /* blocks below this are not needed any more */
    int stop;
    mmk__mutex mu;
    /* Two kinds of sleepers, woken only when they may go on: readers
       (read_cv: the release point moved, a pinned slot came free, stop) and
       copiers (data_cv: a block was read, stop). With one condition for both,
       every chunk's copy woke the four readers: 30,000 context switches a
       second and 7-9 s of kernel time per 26 GB words or regex pass. */
    mmk__cond read_cv, data_cv;
    unsigned pin_waiters;  /* readers asleep on a pinned slot */
    unsigned data_waiters; /* copiers asleep on a block */
    mmk__thread th[SCAN_RING_READERS];
    unsigned nth;
};

static void *dring_reader(void *arg) {
    direct_ring *r = arg;
    mmk__mutex_lock(&r->mu);
    for (;;) {
        unsigned slot = (unsigned)(r->next % SCAN_RING_SLOTS);
        while (!r->stop && (r->next * SCAN_RING_BLOCK >= r->end ||
                            r->next >= r->release + SCAN_RING_SLOTS || r->pins[slot])) {
            unsigned pinned = r->pins[slot] != 0;
            r->pin_waiters += pinned;
            mmk__cond_wait(&r->read_cv, &r->mu);
            r->pin_waiters -= pinned;
            slot = (unsigned)(r->next % SCAN_RING_SLOTS);
        }
        if (r->stop)
            break;
        uint64_t b = r->next++;
        r->blk[slot] = b;
        r->got[slot] = -1;
        mmk__mutex_unlock(&r->mu);
        /* Aligned whole blocks; the last one ends where the file does (a
           direct read returns what the file holds). */
        uint64_t off = b * SCAN_RING_BLOCK, want = SCAN_RING_BLOCK, have = 0;
        uint8_t *dst = r->mem + (size_t)slot * SCAN_RING_BLOCK;
        int64_t res = 0;
        while (have < want) {
            int64_t n = mmk__os.pread(r->fd, dst + have, (size_t)(want - have), off + have);
            if (n < 0) {
                res = n < -1 ? n : -2;
                break;
            }
            if (n == 0 || (uint64_t)n % MMK__OS_DIRECT_ALIGN)
                have += (uint64_t)n, want = have; /* the end of the file */
            else
                have += (uint64_t)n;
        }
        mmk__mutex_lock(&r->mu);
        r->got[slot] = res < 0 ? res : (int64_t)have;
        if (r->data_waiters)
            mmk__cond_broadcast(&r->data_cv);
    }
    mmk__mutex_unlock(&r->mu);
    return NULL;
}

/* Blocks wholly below file offset `off` may be reused. */
static void dring_release(direct_ring *r, uint64_t off) {
    uint64_t b = off / SCAN_RING_BLOCK;
    mmk__mutex_lock(&r->mu);
    if (b > r->release) {
        r->release = b;
        mmk__cond_broadcast(&r->read_cv);
        if (r->data_waiters)
            mmk__cond_broadcast(&r->data_cv); /* a wait below the release point ends */
    }
    mmk__mutex_unlock(&r->mu);
}

/* Copy what the ring holds of [off, off + n) (file offsets) from its start
   on; returns the bytes copied (less than n: read the rest with pread). A
   block within SCAN_RING_SLOTS of the release point is waited for: the
   readers reach it without the scan moving on. */
static size_t dring_copy(direct_ring *r, uint8_t *dst, size_t n, uint64_t off) {
    size_t done = 0;
    mmk__mutex_lock(&r->mu);
    while (done < n && off + done < r->end) {
        uint64_t b = (off + done) / SCAN_RING_BLOCK;
        unsigned slot = (unsigned)(b % SCAN_RING_SLOTS);
        while (!r->stop && b >= r->release && b < r->release + SCAN_RING_SLOTS &&
               !(r->blk[slot] == b && r->got[slot] != -1 && b < r->next)) {
            r->data_waiters++;
            mmk__cond_wait(&r->data_cv, &r->mu);
            r->data_waiters--;
        }
        if (r->stop || b < r->release || b >= r->release + SCAN_RING_SLOTS || r->got[slot] < 0)
            break;
        uint64_t in = off + done - b * SCAN_RING_BLOCK;
        if ((uint64_t)r->got[slot] <= in)
            break; /* past what the file held: pread says why */
        size_t k = (size_t)((uint64_t)r->got[slot] - in);
        if (k > n - done)
            k = n - done;
        r->pins[slot]++;
        mmk__mutex_unlock(&r->mu);
        memcpy(dst + done, r->mem + (size_t)slot * SCAN_RING_BLOCK + in, k);
        mmk__mutex_lock(&r->mu);
        if (--r->pins[slot] == 0 && r->pin_waiters)
            mmk__cond_broadcast(&r->read_cv);
        done += k;
    }
    mmk__mutex_unlock(&r->mu);
    return done;
}

static void dring_free(direct_ring *r) {
    if (!r)
        return;
    mmk__mutex_lock(&r->mu);
    r->stop = 1;
    mmk__cond_broadcast(&r->read_cv);
    mmk__cond_broadcast(&r->data_cv);
    mmk__mutex_unlock(&r->mu);
    for (unsigned i = 0; i < r->nth; i++)
        mmk__thread_join(r->th[i]);
    mmk__mutex_destroy(&r->mu);
    mmk__cond_destroy(&r->read_cv);
    mmk__cond_destroy(&r->data_cv);
    mmk__os.close(r->fd);
    free(r->mem_raw);
    free(r);
}

/* A ring for file range [start, end) of `fd`, or NULL (no direct reads
   here, no memory, no thread: the scan reads the ordinary way). */
static direct_ring *dring_start(int fd, uint64_t start, uint64_t end) {
    int dfd = mmk__os.open_direct(fd);
    if (dfd < 0)
        return NULL;
    direct_ring *r = calloc(1, sizeof *r);
    size_t bytes = (size_t)SCAN_RING_BLOCK * SCAN_RING_SLOTS;
    void *raw = r ? malloc(bytes + MMK__OS_DIRECT_ALIGN) : NULL;
    if (!raw) {
        free(r);
        mmk__os.close(dfd);
        return NULL;
    }
    r->fd = dfd;
    r->end = end;
    r->mem_raw = raw;
    r->mem = (uint8_t *)raw +
             (MMK__OS_DIRECT_ALIGN - (uintptr_t)raw % MMK__OS_DIRECT_ALIGN) % MMK__OS_DIRECT_ALIGN;
    r->next = r->release = start / SCAN_RING_BLOCK;
    for (unsigned i = 0; i < SCAN_RING_SLOTS; i++)
        r->blk[i] = UINT64_MAX;
    mmk__mutex_init(&r->mu);
    mmk__cond_init(&r->read_cv);
    mmk__cond_init(&r->data_cv);
    for (unsigned i = 0; i < SCAN_RING_READERS; i++) {
        if (mmk__thread_create(&r->th[r->nth], dring_reader, r) != 0)
            break;
        r->nth++;
    }
    if (r->nth == 0) {
        dring_free(r);
        return NULL;
    }
    return r;
}

/* A pread that found the end of the file before the size fstat gave: the
   file shrank during the scan, or it is a pseudo-file whose size is a guess.
   Internal only: mmk__scan_run turns it into a re-read as a stream (when no
   result was handed out yet) or -EIO. */
#define SCAN_ESHORT (-5999)

/* pread exactly n bytes at off. */
static int pread_full(int fd, uint8_t *dst, size_t n, uint64_t off) {
    while (n > 0) {
        int64_t r = mmk__os.pread(fd, dst, n, off);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return SCAN_ESHORT;
        dst += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* pread exactly n bytes at input offset off of a pread source (from the
   direct ring as far as it holds them). */
static int job_pread(const mmk__job *j, uint8_t *dst, size_t n, uint64_t off) {
    size_t k = j->ring ? dring_copy(j->ring, dst, n, j->base + off) : 0;
    return k == n ? 0 : pread_full(j->fd, dst + k, n - k, j->base + off + k);
}

/* Input offset `off` in chunk c's subject. The subject of an empty map is
   NULL, and NULL + 0 is undefined in C: no arithmetic on it. */
static const uint8_t *sub_at(const mmk__chunk *c, uint64_t off) {
    return off == c->sub_off ? c->sub : c->sub + (off - c->sub_off);
}

/* Set up chunk k of a random-access source: bounds, and for pread sources
   its bytes with their context, read into the caller's buffer *bufp (a
   worker's own, reused chunk after chunk so it stays in the cache). */
static int chunk_prepare(mmk__job *j, mmk__chunk *c, uint64_t k, uint8_t **bufp, size_t *capp) {
    c->index = k;
    c->s = k * j->cs;
    if (c->s > j->total)
        c->s = j->total;
    c->e = j->total - c->s > j->cs ? c->s + j->cs : j->total;
    c->last = k + 1 == j->nchunks;
    if (j->kind == SRC_MEM) {
        c->sub = j->mem;
        c->sub_off = 0;
        c->sub_len = (size_t)j->total;
        c->sub_is_end = 1;
        return 0;
    }
    const mmk__jobspec *sp = j->spec;
    uint64_t lo = c->s > sp->before ? c->s - sp->before : 0;
    /* Lines: a little past e in the same pread, where the line running
       across e usually ends (saves a second pread per chunk). */
    uint64_t after = sp->line_cut ? 512 : sp->after;
    uint64_t hi = j->total - c->e > after ? c->e + after : j->total;
    int rc = buf_reserve(bufp, capp, (size_t)(hi - lo));
    if (rc == 0)
        rc = job_pread(j, (*bufp), (size_t)(hi - lo), lo);
    /* Words: a word that starts in the chunk and runs across e is read to
       its end (a chunk inside one long word owns nothing and is not extended). */
    if (rc == 0 && sp->word_cut && hi < j->total && c->e > c->s &&
        !is_space_byte((*bufp)[c->e - 1 - lo])) {
        int starts_inside = c->s == 0 || is_space_byte((*bufp)[c->s - 1 - lo]);
        for (uint64_t q = c->s; !starts_inside && q < c->e; q++)
            starts_inside = is_space_byte((*bufp)[q - lo]);
        uint64_t step = 256;
        while (starts_inside && hi < j->total) {
            uint64_t more = j->total - hi < step ? j->total - hi : step;
            if (step < 65536)
                step *= 2;
            rc = buf_reserve(bufp, capp, (size_t)(hi - lo + more));
            if (rc == 0)
                rc = job_pread(j, (*bufp) + (hi - lo), (size_t)more, hi);
            if (rc)
                break;
            int ended = 0;
            for (uint64_t q = hi; !ended && q < hi + more; q++)
                ended = is_space_byte((*bufp)[q - lo]);
            hi += more;
            if (ended)
                break;
        }
    }
    /* Lines: when the chunk owns a line start (s == 0 or a '\n' in
       [s - 1, e - 1)), its last line is read on to its '\n', up to
       SCAN_LINE_HOLD bytes past e (longer lines are the job's to finish). */
    c->line_open = 0;
    if (rc == 0 && sp->line_cut && hi < j->total && c->e > c->s &&
        !memchr((*bufp) + (c->e - 1 - lo), '\n', (size_t)(hi - (c->e - 1))) &&
        (c->s == 0 || memchr((*bufp) + (c->s - 1 - lo), '\n', (size_t)(c->e - c->s)))) {
        uint64_t step = 4096;
        while (hi < j->total) {
            if (hi - c->e >= SCAN_LINE_HOLD) {
                c->line_open = 1;
                break;
            }
            uint64_t more = j->total - hi < step ? j->total - hi : step;
            if (step < ((uint64_t)1 << 20))
                step *= 2;
            rc = buf_reserve(bufp, capp, (size_t)(hi - lo + more));
            if (rc == 0)
                rc = job_pread(j, (*bufp) + (hi - lo), (size_t)more, hi);
            if (rc)
                break;
            int ended = memchr((*bufp) + (hi - lo), '\n', (size_t)more) != NULL;
            hi += more;
            if (ended)
                break;
        }
    }
    c->sub = (*bufp);
    c->sub_off = lo;
    c->sub_len = (size_t)(hi - lo);
    c->sub_is_end = hi == j->total;
    c->grow_buf = bufp;
    c->grow_cap = capp;
    return rc;
}

int mmk__chunk_more(mmk__job *j, mmk__chunk *c) {
    if (j->kind != SRC_PREAD || c->sub_is_end || !c->grow_buf)
        return -EINVAL;
    uint64_t hi = c->sub_off + c->sub_len, past = hi - c->e;
    uint64_t more = past < grow_first() ? grow_first() : past;
    uint64_t most = mmk__scan_grow_max ? mmk__scan_grow_max : SCAN_GROW_MAX;
    if (past >= most)
        return MMK__SCAN_EGROW;
    if (more > most - past)
        more = most - past;
    if (more > j->total - hi)
        more = j->total - hi;
    uint64_t budget = mmk__scan_grow_budget;
    if (!budget)
        budget = j->total / 4 > SCAN_GROW_BUDGET_MIN ? j->total / 4 : SCAN_GROW_BUDGET_MIN;
    if (__atomic_add_fetch(&j->grown, more, __ATOMIC_RELAXED) > budget)
        return MMK__SCAN_EGROW;
    int rc = buf_reserve(c->grow_buf, c->grow_cap, c->sub_len + (size_t)more);
    if (rc == 0)
        rc = job_pread(j, *c->grow_buf + c->sub_len, (size_t)more, hi);
    c->sub = *c->grow_buf;
    if (rc == 0) {
        c->sub_len += (size_t)more;
        c->sub_is_end = hi + more == j->total;
    }
    return rc;
}

/* Make a merged chunk's bytes available to the calling thread again: a
   worker's pread buffer has moved on by then. */
static int chunk_reload(mmk__job *j, mmk__chunk *c) {
    if (c->sub || j->kind != SRC_PREAD)
        return 0;
    return chunk_prepare(j, c, c->index, &j->main_buf, &j->main_cap);
}

/* One read() (or pread() at the stream's offset for a regular file read as
   a stream); returns bytes read (0 at the end) or -errno. */
static int64_t read_once(mmk__job *j, uint8_t *dst, size_t n) {
    if (j->reader) {
        if (n > (size_t)INT64_MAX)
            n = (size_t)INT64_MAX;
        int64_t r = j->reader(j->reader_user, dst, n);
        /* A reader's own negative code is the scan's answer; one that claims
           more bytes than it was given room for is broken: -EIO, not an
           overrun of our buffer. */
        if (r < 0)
            return r == SCAN_ESHORT ? -EIO : r;
        if ((uint64_t)r > (uint64_t)n)
            return -EIO;
        j->read_off += (uint64_t)r;
        return r;
    }
    for (;;) {
        int64_t r = j->stream_pread ? mmk__os.pread(j->fd, dst, n, j->read_off)
                                    : mmk__os_read(j->fd, dst, n);
        if (r == -ESPIPE && j->stream_pread) {
            j->stream_pread = 0; /* a "regular" file without positions: read it */
            continue;
        }
        if (r < 0)
            return r;
        j->read_off += (uint64_t)r;
        return r;
    }
}

int64_t mmk__job_read(mmk__job *j, uint8_t *dst, size_t n) {
    int64_t r = read_once(j, dst, n);
    if (r > 0) {
        j->total += (uint64_t)r;
        report_progress(j, j->total, 0);
    }
    return r;
}

/* read() until `n` bytes or end of stream; returns bytes read or -errno. */
static int64_t read_some(mmk__job *j, uint8_t *dst, size_t n, int *eof) {
    size_t got = 0;
    while (got < n) {
        int64_t r = read_once(j, dst + got, n - got);
        if (r < 0)
            return (int64_t)r;
        if (r == 0) {
            *eof = 1;
            break;
        }
        got += (size_t)r;
    }
    return (int64_t)got;
}

/* Keep, for the stream's next chunk, the bytes from `before` before e to
   the end of what chunk c's buffer holds. */
static int stream_carry(mmk__job *j, mmk__chunk *c, uint64_t e) {
    uint64_t base = c->sub_off, have = c->sub_len;
    uint64_t keep_from = e > j->spec->before ? e - j->spec->before : 0;
    if (keep_from < base)
        keep_from = base;
    size_t keep = (size_t)(base + have - keep_from);
    if (keep > j->carry_cap) {
        uint8_t *nb = realloc(j->carry, keep);
        if (!nb)
            return -ENOMEM;
        j->carry = nb;
        j->carry_cap = keep;
    }
    if (keep)
        memcpy(j->carry, c->buf + (keep_from - base), keep);
    j->carry_len = keep;
    j->carry_off = keep_from;
    j->stream_s = e;
    return 0;
}

/* Produce the next chunk of a stream into c (calling thread). The buffer
   starts with the carried bytes (context before the chunk and bytes already
   read past the previous chunk's end). */
static int stream_produce(mmk__job *j, mmk__chunk *c, uint64_t k) {
    const mmk__jobspec *sp = j->spec;
    uint64_t s = j->stream_s;
    int rc = chunk_reserve(c, j->carry_len + (size_t)j->cs + sp->after);
    if (rc)
        return rc;
    if (j->carry_len)
        memcpy(c->buf, j->carry, j->carry_len);
    size_t have = j->carry_len; /* bytes in buf, from carry_off */
    uint64_t base = j->carry_off;
    uint64_t e = 0;
    size_t span_bytes = (size_t)j->cs;
    for (;;) {
        size_t want = (size_t)(s - base) + span_bytes + sp->after;
        if (!j->eof && have < want) {
            rc = chunk_reserve(c, want);
            if (rc)
                return rc;
            int64_t got = read_some(j, c->buf + have, want - have, &j->eof);
            if (got < 0)
                return (int)got;
            have += (size_t)got;
            j->total += (uint64_t)got;
        }
        uint64_t d = base + have;
        if (j->eof) {
            e = d;
            break;
        }
        if (!sp->word_cut) {
            e = d - sp->after;
            break;
        }
        /* Cut after the last whitespace so no word straddles chunks. */
        size_t i = have;
        while (i > (size_t)(s - base) && !is_space_byte(c->buf[i - 1]))
            i--;
        if (i > (size_t)(s - base)) {
            e = base + i;
            break;
        }
        /* One giant word so far: the chunk takes in more. */
        span_bytes *= 2;
    }
    c->index = k;
    c->s = s;
    c->e = e;
    c->last = j->eof && e == base + have;
    c->sub = c->buf;
    c->sub_off = base;
    c->sub_len = have;
    c->sub_is_end = j->eof;
    return stream_carry(j, c, e);
}

/* Produce the next chunk of a stream for a line job: whatever read()
   returns, cut after its last '\n', becomes a chunk at once (so a line
   written into a pipe is searched as soon as it arrives, and `tail -f | mmk
   grep` works); a chunk holds at most about chunk_size bytes plus the line
   running across its end, so memory stays bounded by the longest line. */
static int stream_produce_lines(mmk__job *j, mmk__chunk *c, uint64_t k) {
    uint64_t s = j->stream_s, base = j->carry_off;
    int rc = chunk_reserve(c, j->carry_len + (size_t)j->cs);
    if (rc)
        return rc;
    if (j->carry_len)
        memcpy(c->buf, j->carry, j->carry_len);
    size_t have = j->carry_len;
    uint64_t e;
    for (;;) {
        if (j->eof) {
            e = base + have;
            break;
        }
        if (c->buf_cap - have < (size_t)j->cs / 2) {
            rc = chunk_reserve(c, have + (size_t)j->cs);
            if (rc)
                return rc;
        }
        int64_t got = read_once(j, c->buf + have, c->buf_cap - have);
        if (got < 0)
            return (int)got;
        if (got == 0) {
            j->eof = 1;
            continue;
        }
        const uint8_t *nl = mmk__memrchr(c->buf + have, '\n', (size_t)got);
        have += (size_t)got;
        j->total += (uint64_t)got;
        if (nl) {
            e = base + (uint64_t)(nl - c->buf) + 1;
            break;
        }
    }
    c->index = k;
    c->s = s;
    c->e = e;
    c->last = j->eof && e == base + have;
    c->sub = c->buf;
    c->sub_off = base;
    c->sub_len = have;
    c->sub_is_end = j->eof;
    return stream_carry(j, c, e);
}

typedef struct chunk_call {
    mmk__job *j;
    void *wctx;
    mmk__chunk *c;
} chunk_call;

static int chunk_trampoline(void *arg) {
    chunk_call *cc = arg;
    return cc->j->spec->chunk(cc->j, cc->wctx, cc->c);
}

static int chunk_run(mmk__job *j, void *wctx, mmk__chunk *c) {
    chunk_call cc = {j, wctx, c};
    return mmk__job_guard(j, chunk_trampoline, &cc);
}

typedef struct worker_arg {
    mmk__job *j;
    void *wctx;
    uint8_t *buf; /* pread sources: this worker's buffer */
    size_t cap;
} worker_arg;

static mmk__chunk *slot_of(const mmk__job *j, uint64_t k) {
    return j->slotp ? j->slotp[k % j->W] : &j->slots[k % j->W];
}

/* Adaptive jobs: give chunks [from, upto), which are becoming available,
   their slots (the most recently freed first). At most W chunks are in
   flight, so there is one. */
static void slots_assign(mmk__job *j, uint64_t from, uint64_t upto) {
    if (!j->slotp)
        return;
    for (uint64_t k = from; k < upto; k++)
        j->slotp[k % j->W] = j->freep[--j->nfree];
}

/* Workers take `batch` consecutive chunks at a time (one hand-off per
   ~64 KiB however small the chunks), except at the end. */
static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    mmk__job *j = wa->j;
    mmk__mutex_lock(&j->mu);
    for (;;) {
        while (!j->abort && (j->next >= j->avail || (!j->closed && j->avail - j->next < j->batch)))
            mmk__cond_wait(&j->work_cv, &j->mu);
        if (j->abort || j->next >= j->avail)
            break;
        uint64_t k0 = j->next, k1 = j->avail - k0 < j->batch ? j->avail : k0 + j->batch;
        j->next = k1;
        mmk__mutex_unlock(&j->mu);
        int rc = 0;
        int64_t err_off = -1;
        uint64_t k = k0;
        for (; k < k1 && rc == 0; k++) {
            mmk__chunk *c = slot_of(j, k);
            c->err_off = -1;
            rc = j->kind == SRC_STREAM ? 0 : chunk_prepare(j, c, k, &wa->buf, &wa->cap);
            if (rc == 0)
                rc = chunk_run(j, wa->wctx, c);
            if (j->kind == SRC_PREAD)
                c->sub = NULL; /* the buffer moves on; the merge reloads if it must */
            c->rc = rc;
            if (rc)
                err_off = c->err_off;
        }
        mmk__mutex_lock(&j->mu);
        for (uint64_t q = k0; q < k; q++)
            slot_of(j, q)->done = 1;
        if (rc < 0 && !j->err) {
            j->err = rc;
            j->err_off = err_off;
            j->abort = 1;
            mmk__cond_broadcast(&j->work_cv);
        }
        /* Wake the calling thread only for the chunk it waits on (or an error). */
        if (j->main_waiting && (j->err || (j->wait_k >= k0 && j->wait_k < k)))
            mmk__cond_signal(&j->main_cv);
    }
    mmk__mutex_unlock(&j->mu);
    return NULL;
}

/* Sleep (holding j->mu between wake-ups) until chunk c, index k, is done or
   the job failed, reporting progress about every SCAN_PROGRESS_NS. */
static void sleep_until_done(mmk__job *j, const mmk__chunk *c, uint64_t k, uint64_t done_bytes) {
    j->wait_k = k;
    j->main_waiting = 1;
    while (!c->done && !j->err) {
        if (j->progress) {
            mmk__cond_timedwait(&j->main_cv, &j->mu, SCAN_PROGRESS_NS);
            if (!c->done && !j->err) {
                mmk__mutex_unlock(&j->mu);
                report_progress(j, done_bytes, 0);
                mmk__mutex_lock(&j->mu);
            }
        } else {
            mmk__cond_wait(&j->main_cv, &j->mu);
        }
    }
    j->main_waiting = 0;
}

/* Wait until chunk c (index k) is done (or the job failed), reporting
   progress.
   Merge lag: when c is not done yet, the calling thread first sleeps until
   chunk k + wlim / 4 (or the last one the workers will take) is done too,
   then merges what is done in a row: a wake-up per quarter window instead
   of one per batch. Wake-ups are what a merge costs beside the workers: on
   the 2-core VM, mmk count of a rare word over the 1.1 GB text switched
   context 2,085 times per run, where the machine-limit reader
   (bench/limit.c) switches 13 times. The workers have the rest of the
   window to go on with meanwhile. Not for streams (the calling thread reads
   them, and lines come out as they arrive), nor for jobs whose merge may
   stop them early. */
static int wait_chunk(mmk__job *j, mmk__chunk *c, uint64_t k, uint64_t done_bytes) {
    mmk__mutex_lock(&j->mu);
    uint64_t lag = j->wlim / 4;
    /* Only a chunk the workers take without the calling thread: they take
       whole batches from what is available, or the rest once it is closed. */
    uint64_t sure = j->closed ? j->avail : j->next + (j->avail - j->next) / j->batch * j->batch;
    if (!c->done && !j->err && lag > 1 && j->kind != SRC_STREAM && !j->spec->stops_early &&
        sure > k + 1) {
        uint64_t t = k + lag < sure - 1 ? k + lag : sure - 1;
        sleep_until_done(j, slot_of(j, t), t, done_bytes);
    }
    sleep_until_done(j, c, k, done_bytes);
    int rc = c->done ? c->rc : j->err;
    if (c->done && c->rc)
        j->err_off = c->err_off;
    if (rc == 0 && j->err)
        rc = j->err;
    mmk__mutex_unlock(&j->mu);
    return rc;
}

/* 1 when a read() of the stream would not block (data or the end are
   there). A reader cannot be asked: it is taken as ready (a decompressor
   computes rather than waits), so its chunks keep every worker busy. */
static int stream_ready(const mmk__job *j) {
    if (j->reader)
        return 1;
    return mmk__os_fd_ready(j->fd);
}

/* Steer the page cache of a regular file as the scan goes (called by the
   calling thread with `done`, the input bytes merged so far).
   Ahead: a file read through the cache gets the kernel's read-ahead, one
   window at a time, and two workers' interleaved small preads on one
   descriptor look partly random to it. So for files of SCAN_STEER_MIN and
   more the calling thread, which mostly waits, asks the kernel (WILLNEED)
   to read SCAN_AHEAD bytes past what the workers may be reading, in steps,
   so that several reads are in flight. (Files larger than memory use the
   direct ring instead, whose readers release blocks here. On the 26 GB
   file of bench/disk the hints alone were within the noise of the shared
   2-core VM, 62-165 s per pass either way: the kernel's CPU time for the
   cache, not the reads in flight, decided there.) On a cached file a hint
   finds every page present and costs a page-cache walk per step.
   Behind: our own map of a large file is unmapped behind the scan (the
   pages stay cached; the process's resident memory stays bounded instead of
   growing to the file's size), and with MMK_SCAN_NO_CACHE the file's clean
   pages behind the scan are dropped. Only advice: a failure changes no
   result, and pages needed again are read again. */
static void cache_steer(mmk__job *j, uint64_t done) {
    if (j->cache_fd < 0)
        return;
    if (j->ring)
        dring_release(j->ring, j->base + (done > SCAN_BEHIND_LAG ? done - SCAN_BEHIND_LAG : 0));
    uint64_t window = (uint64_t)j->W * j->cs;
    uint64_t want = done + window + SCAN_AHEAD;
    if (want > j->total || want < done)
        want = j->total;
    /* In SCAN_AHEAD_STEP pieces: Linux reads at most the read-ahead size
       (often 128 KiB .. 8 MiB) of one WILLNEED call and ignores the rest. */
    while (want > j->ahead && (want - j->ahead >= SCAN_AHEAD_STEP || want == j->total)) {
        uint64_t n = want - j->ahead < SCAN_AHEAD_STEP ? want - j->ahead : SCAN_AHEAD_STEP;
        int rc =
            mmk__os.file_advise(j->cache_fd, j->cache_base + j->ahead, n, MMK__OS_FILE_WILLNEED);
        /* A platform or filesystem without the call: no more hints. */
        j->ahead = rc == MMK_ENOTSUP || rc == -ENOSYS ? j->total : j->ahead + n;
    }
    uint64_t lag = done > SCAN_BEHIND_LAG ? done - SCAN_BEHIND_LAG : 0;
    lag -= lag % SCAN_BEHIND_ALIGN; /* whole 2 MiB folios: a PMD is unmapped, never split */
    if ((j->own_map || j->no_cache) && lag >= j->behind + SCAN_BEHIND_STEP) {
        uint64_t a = j->behind, n = lag - a;
        if (j->own_map)
            (void)mmk_advise(j->own_map, MMK_ADVICE_DONTNEED, a, n);
        if (j->no_cache)
            (void)mmk__os.file_advise(j->cache_fd, j->cache_base + a, n, MMK__OS_FILE_DONTNEED);
        j->behind = lag;
    }
}

/* The adaptive window of a job with bulky results (calling thread, after a
   chunk is done and before its merge; res: the bytes its result holds).
   The budget is SCAN_BULKY_WINDOW bytes of results in flight, as the
   bounded window keeps SCAN_BULKY_WINDOW bytes of input in flight: a chunk
   whose result would break it at the current window brings the window back
   to its minimum at once; after a window's worth of chunks in a row whose
   results would fit at twice the window, it doubles (up to W, the slots
   allocated). The results of a dense stretch that follows a sparse one then
   touch at most W slots' fresh memory once before the window is small
   again. Workers see the new window at the next hand-over (job_loop). */
static void window_adapt(mmk__job *j, size_t res) {
    uint64_t r = res ? res : 1;
    uint64_t budget = bulky_window();
    if (r * j->wlim > budget) {
        if (j->wlim > j->wmin)
            __atomic_add_fetch(&mmk__scan_window_shrunk, 1, __ATOMIC_RELAXED);
        j->wlim = j->wmin;
        j->sparse = 0;
        return;
    }
    if (j->wlim >= j->W || r * 2 * j->wlim > budget) {
        j->sparse = 0;
        return;
    }
    if (++j->sparse >= j->wlim) {
        j->wlim = j->wlim * 2 < j->W ? j->wlim * 2 : j->W;
        j->sparse = 0;
        __atomic_add_fetch(&mmk__scan_window_grown, 1, __ATOMIC_RELAXED);
    }
}

/* The batch for the window between its bounds: two batches per worker in
   flight, as at the minimum. */
static uint64_t window_batch(const mmk__job *j) {
    uint64_t b = j->wlim / (2 * (uint64_t)(j->nworkers ? j->nworkers : 1));
    return b < j->batch_min ? j->batch_min : b > j->batch_max ? j->batch_max : b;
}

/* The main loop on the calling thread: produce (streams), wait, merge. */
static int job_loop(mmk__job *j) {
    const mmk__jobspec *sp = j->spec;
    uint64_t produced = 0, merged_bytes = 0;
    int rc = 0;
    for (uint64_t k = 0;; k++) {
        if (j->kind == SRC_STREAM) {
            while (!j->eof && produced < k + j->W) {
                /* Lines: never wait for more input while a chunk that has
                   arrived is still to be reported. */
                if (sp->line_cut && produced > k && !stream_ready(j))
                    break;
                mmk__chunk *pc = &j->slots[produced % j->W];
                /* The slot's previous chunk was merged: nobody reads it now. */
                rc = sp->line_cut ? stream_produce_lines(j, pc, produced)
                                  : stream_produce(j, pc, produced);
                if (rc)
                    return rc;
                produced++;
                if (j->nworkers) {
                    mmk__mutex_lock(&j->mu);
                    j->avail = produced;
                    j->closed = j->eof;
                    /* A batch of new chunks needs one worker; the end needs all of them. */
                    if (j->closed)
                        mmk__cond_broadcast(&j->work_cv);
                    else if (j->avail - j->next >= j->batch)
                        mmk__cond_signal(&j->work_cv);
                    mmk__mutex_unlock(&j->mu);
                }
                if (!j->nworkers)
                    break; /* inline: one chunk at a time */
            }
            if (k >= produced)
                break;
        } else if (k >= j->nchunks) {
            break;
        }
        cache_steer(j, merged_bytes);
        mmk__chunk *c = slot_of(j, k);
        if (j->nworkers) {
            rc = wait_chunk(j, c, k, merged_bytes);
        } else {
            c->err_off = -1;
            rc = j->kind == SRC_STREAM ? 0 : chunk_prepare(j, c, k, &j->main_buf, &j->main_cap);
            if (rc == 0)
                rc = chunk_run(j, j->wctxs[0], c);
            if (rc)
                j->err_off = c->err_off;
        }
        if (rc)
            return rc;
        j->merged++;
        if (j->adapt)
            window_adapt(j, sp->res_bytes(c->res));
        if (sp->merge) {
            rc = sp->merge(j, c);
            if (rc)
                return rc;
        }
        merged_bytes = c->e;
        if (j->nworkers) {
            mmk__mutex_lock(&j->mu);
            c->done = 0;
            if (j->kind != SRC_STREAM) {
                if (j->slotp)
                    j->freep[j->nfree++] = c;
                /* A window that shrank leaves what was handed out handed out. */
                uint64_t avail = k + 1 + j->wlim < j->nchunks ? k + 1 + j->wlim : j->nchunks;
                if (avail > j->avail) {
                    slots_assign(j, j->avail, avail);
                    j->avail = avail;
                }
                if (j->adapt)
                    j->batch = window_batch(j);
                j->closed = j->avail == j->nchunks;
            }
            if (j->closed)
                mmk__cond_broadcast(&j->work_cv);
            else if (j->avail > j->next && j->avail - j->next >= j->batch)
                mmk__cond_signal(&j->work_cv);
            mmk__mutex_unlock(&j->mu);
        }
        report_progress(j, merged_bytes, 0);
    }
    return 0;
}

void mmk__slice_range(int64_t start, int64_t end, uint64_t len, uint64_t *lo, uint64_t *hi) {
    int64_t n = (int64_t)len;
    int64_t a = start == MMK_DEFAULT_POS ? 0 : start;
    int64_t b = end == MMK_DEFAULT_POS ? n : end;
    if (a < 0)
        a = a + n < 0 ? 0 : a + n;
    if (a > n)
        a = n;
    if (b < 0)
        b = b + n < 0 ? 0 : b + n;
    if (b > n)
        b = n;
    if (b < a)
        b = a;
    *lo = (uint64_t)a;
    *hi = (uint64_t)b;
}

/* Read a whole stream into memory (jobs that need every byte at once). */
static int slurp_stream(mmk__job *j, uint8_t **out, uint64_t *len) {
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    if (!b)
        return -ENOMEM;
    for (;;) {
        if (n == cap) {
            uint8_t *nb = cap > SIZE_MAX / 2 ? NULL : realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return -ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
        int64_t r = read_once(j, b + n, cap - n);
        if (r < 0) {
            free(b);
            return (int)r;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = b;
    *len = n;
    return 0;
}

static int scan_run_once(const mmk__jobspec *spec, const mmk_input *in, const mmk_scan_options *opt,
                         int force_stream, uint64_t *merged, int64_t *err_off) {
    mmk__job job;
    memset(&job, 0, sizeof job);
    mmk__job *j = &job;
    j->err_off = -1;
    j->spec = spec;
    j->fd = -1;
    j->cache_fd = -1;
    j->progress = opt->progress;
    j->progress_user = opt->progress_user;
    j->reported_at = mmk__os_now_ns();

    mmk_map *view_map = NULL;         /* a view we hold and must release */
    uint64_t map_lo = 0, map_len = 0; /* MAP inputs: the range scanned, for a fault's cause */
    mmk_map *own_map = NULL;          /* a map we opened and must free */
    uint8_t *slurped = NULL;
    int rc = 0;

    switch (in->kind) {
    case MMK_INPUT_BYTES:
        if (!in->data && in->size)
            return -EINVAL;
        j->kind = SRC_MEM;
        j->mem = in->data;
        j->total = in->size;
        break;
    case MMK_INPUT_MAP: {
        if (!in->map)
            return -EINVAL;
        void *data = NULL;
        uint64_t len = 0, lo, hi;
        rc = mmk_view_acquire(in->map, &data, &len);
        if (rc)
            return rc;
        view_map = in->map;
        mmk__slice_range(in->start, in->end, len, &lo, &hi);
        map_lo = lo;
        map_len = hi - lo;
        j->kind = SRC_MEM;
        j->mapped = 1;
        j->mem = data ? (const uint8_t *)data + lo : NULL;
        j->total = hi - lo;
        break;
    }
    case MMK_INPUT_FD: {
        mmk__os_stat st;
        if (in->fd < 0)
            return -EBADF;
        rc = mmk__os.fstat(in->fd, &st);
        if (rc)
            return rc;
        if (st.type == MMK__OS_DIRECTORY)
            return -EISDIR;
        if (in->flags & MMK_INPUT_RANGE) {
            /* An exact range of a regular file (the Python module scans a
               map's file range this way: pread costs about half of faulting
               the map in). Never a stream: the range is the input. */
            if (st.type != MMK__OS_REGULAR || mmk__os_size_is_a_guess(in->fd) || in->start < 0 ||
                in->end < in->start)
                return -EINVAL;
            if (st.size < (uint64_t)in->end)
                return -EIO; /* the file no longer holds the range */
            j->total = (uint64_t)(in->end - in->start);
            if (j->total == 0) {
                j->kind = SRC_MEM; /* nothing to read */
                break;
            }
            if ((spec->needs_memory && !spec->grows) || opt->io == MMK_IO_MMAP) {
                /* A window of the range alone: a 32-bit process can map a
                   range past 4 GiB of a file larger than its address space. */
                mmk_options mo = {0};
                mo.access = MMK_ACCESS_READ;
                mo.offset = (uint64_t)in->start;
                mo.length = j->total;
                rc = mmk_open_fd(&own_map, in->fd, &mo);
                if (rc == MMK_EOFFSET || rc == MMK_ELENGTH)
                    rc = -EIO; /* shrank since the fstat */
                if (rc)
                    return rc;
                void *data = NULL;
                uint64_t len = 0;
                rc = mmk_view_acquire(own_map, &data, &len);
                if (rc == 0 && len < j->total) {
                    mmk_view_release(own_map);
                    rc = -EIO; /* shrank between fstat and the map */
                }
                if (rc) {
                    mmk_free(own_map);
                    return rc;
                }
                view_map = own_map;
                j->kind = SRC_MEM;
                j->mapped = 1;
                j->mem = data;
            } else {
                j->kind = SRC_PREAD;
                j->fd = in->fd;
                j->base = (uint64_t)in->start;
            }
            j->cache_fd = in->fd;
            j->cache_base = (uint64_t)in->start;
            break;
        }
        if (st.type == MMK__OS_REGULAR && st.size > 0 && !force_stream &&
            !mmk__os_size_is_a_guess(in->fd)) {
            int io = opt->io;
            /* AUTO: pread for the jobs that can work piecewise, the map for
               the others. Measured on the 2-core reference machine over the
               page-cached 1.1 GB text: touching every byte ran at 4.4 GB/s
               (1 thread) and 7.2 GB/s (2 threads) through a map, at 4.6 and
               8.5 GB/s with pread into a 32 KiB buffer per thread (1 MiB
               buffers: 2.0 and 3.8 GB/s, hence small chunks for pread); line
               counts ran at 7.6 GB/s mapped and 10.3 GB/s with pread. */
            /* AUTO, a file larger than memory: pread too, which takes it
               through the direct ring (mmk__scan_run). The map was chosen
               here where maps read fast (mmk__os.file_maps_fast), after
               bench/disk on one 2-core VM (Linux 6.18, ext4): a rare word's
               26 GB count took 6.6-8.1 s mapped, 13.3-14.5 s through the
               ring. On another VM of the same kind (free page reporting to
               its host, whose page-cache pages cost a host fault each time
               they are reused) the map cost 10-36 s of CPU per pass and
               took 16.2-24.4 s, the ring 14.1-16.6 s at 3-4 s of CPU, and
               words 19.0 s against 24.3 s, regex 15.9 against 22.8. The ring
               keeps the CPU for the work and the other programs' cache
               alone; --mmap (MMK_IO_MMAP) still maps. */
            if (io == MMK_IO_AUTO)
                io = MMK_IO_READ;
            if (spec->needs_memory && !(spec->grows && io == MMK_IO_READ))
                io = MMK_IO_MMAP;
            if (io == MMK_IO_MMAP) {
                mmk_options mo = {0};
                mo.access = MMK_ACCESS_READ;
                rc = mmk_open_fd(&own_map, in->fd, &mo);
                if (rc == MMK_ENOTREG || rc == -ENODEV || rc == -EINVAL ||
                    ((rc == -EOVERFLOW || rc == -ENOMEM) && spec->stream_run)) {
                    /* A "regular" file the system will not map (some
                       pseudo-filesystems), or one larger than the address
                       space (a 32-bit process) for a job that can read a
                       stream: read it as a stream instead. */
                    own_map = NULL;
                    rc = 0;
                    goto as_stream;
                }
                if (rc)
                    return rc;
                void *data = NULL;
                uint64_t len = 0;
                rc = mmk_view_acquire(own_map, &data, &len);
                if (rc) {
                    mmk_free(own_map);
                    return rc;
                }
                view_map = own_map;
                /* Where maps read fast: no MADV_SEQUENTIAL and no WILLNEED
                   hints (cache_steer). On Linux 6.18 both made the page
                   cache read in 4 KiB pages (397,000 faults and 7-8 s of
                   kernel time per 26 GB pass, 14.3 s) where the kernel's own
                   read-around reads 2 MiB folios that a fault maps whole
                   (16,000 faults, 7.8 s); huge-page advice lets it use them
                   from the first fault (6.6 s). Elsewhere (older kernels,
                   other filesystems and systems, none measured with it) the
                   sequential advice and WILLNEED ahead of the scan stay. */
                j->own_map_fast = mmk__os.file_maps_fast(in->fd);
                if (j->own_map_fast)
                    (void)mmk_advise(own_map, MMK_ADVICE_HUGEPAGE, 0, 0);
                else
                    (void)mmk_advise(own_map, MMK_ADVICE_SEQUENTIAL, 0, 0);
                j->kind = SRC_MEM;
                j->mapped = 1;
                j->mem = data;
                j->total = len;
            } else {
                j->kind = SRC_PREAD;
                j->fd = in->fd;
                j->total = st.size;
            }
            j->cache_fd = in->fd;
        } else {
        as_stream:
            j->fd = in->fd;
            j->stream_pread = st.type == MMK__OS_REGULAR;
            if (!spec->needs_memory) {
                j->kind = SRC_STREAM;
                break;
            }
            if (spec->stream_run) {
                j->kind = SRC_STREAM;
                j->own_stream = 1;
                break;
            }
            /* Pipes and /proc files with a job that needs the whole input. */
            rc = slurp_stream(j, &slurped, &j->total);
            if (rc)
                return rc;
            j->kind = SRC_MEM;
            j->mem = slurped;
        }
        break;
    }
    case MMK_INPUT_READER:
        /* A stream like a pipe, produced by the caller's callback. */
        if (!in->read)
            return -EINVAL;
        j->reader = in->read;
        j->reader_user = in->read_user;
        if (!spec->needs_memory) {
            j->kind = SRC_STREAM;
            break;
        }
        if (spec->stream_run) {
            j->kind = SRC_STREAM;
            j->own_stream = 1;
            break;
        }
        rc = slurp_stream(j, &slurped, &j->total);
        if (rc)
            return rc;
        j->kind = SRC_MEM;
        j->mem = slurped;
        break;
    default:
        return -EINVAL;
    }

    unsigned threads = opt->threads ? opt->threads : mmk__os_cpu_count();
    if (threads > SCAN_MAX_THREADS)
        threads = SCAN_MAX_THREADS;
    /* pread copies into the chunk's buffer: small buffers stay in the
       cache (64 KiB measured about twice as fast as 1 MiB, 256 KiB faster
       still: SCAN_PREAD_CHUNK). */
    j->cs = opt->chunk_size        ? opt->chunk_size
            : j->kind == SRC_PREAD ? SCAN_PREAD_CHUNK
                                   : SCAN_DEFAULT_CHUNK;
    if (j->kind != SRC_MEM && j->cs > SCAN_MAX_BUFFERED_CHUNK)
        j->cs = SCAN_MAX_BUFFERED_CHUNK; /* chunks that are buffers stay allocatable */
    if (j->kind == SRC_STREAM) {
        j->nworkers = threads > 1 && !j->own_stream ? threads : 0;
    } else {
        j->nchunks = j->total == 0 ? 1 : (j->total - 1) / j->cs + 1;
        uint64_t nw = threads < j->nchunks ? threads : j->nchunks;
        j->nworkers = nw > 1 ? (unsigned)nw : 0;
    }
    j->batch = j->cs >= (1u << 20) ? 1 : (1u << 20) / j->cs;
    if (j->batch > 256)
        j->batch = 256;
    if (j->kind == SRC_STREAM)
        j->batch = 1; /* the calling thread reads each chunk anyway */
    /* Slots hold results, not bytes (except for streams), so a deep window
       costs little and keeps workers busy when the calling thread is slow
       to be scheduled. */
    uint64_t w = j->nworkers ? (j->kind == SRC_STREAM ? 4 : 16) * j->nworkers * j->batch : 1;
    if (spec->bulky_res && j->nworkers && j->kind != SRC_STREAM) {
        /* Results that copy lines touch fresh memory in every slot on its
           first use (the workers run ahead and fill the window at least
           once), and page faults cost more than the copies: measured on mmk
           grep -A 6 over a 107 MB syslog (pread, 64 KiB chunks), 512 slots
           took 5,100 faults and 150 ms of CPU, 64 slots 1,100 faults and
           90 ms, 32 slots 700 and 78 ms. So the window holds
           SCAN_BULKY_WINDOW bytes of input: two batches per worker, batches
           made smaller to fit. */
        uint64_t wb = bulky_window() / j->cs, per = 2 * (uint64_t)j->nworkers;
        j->batch_max = j->batch;
        if (j->batch > wb / per)
            j->batch = wb / per ? wb / per : 1;
        if (wb < per * j->batch)
            wb = per * j->batch;
        /* Sparse results (a selective grep) do not fill the window's slots,
           and the small window then costs hand-overs: measured on mm.grep of
           a rare word over the 1.1 GB text, 8 slots of 256 KiB took 0.13 s
           where count's 128 slots take 0.09 s. With res_bytes the window
           starts bounded and grows while the results stay small
           (job_loop). */
        if (w > wb) {
            if (spec->res_bytes) {
                j->adapt = 1;
                j->wmin = (unsigned)wb;
            } else {
                w = wb;
            }
        }
    }
    if (j->kind != SRC_STREAM && w > j->nchunks)
        w = j->nchunks; /* never more slots than chunks */
    j->W = (unsigned)w;
    if (!j->adapt || j->wmin >= j->W) {
        j->adapt = 0;
        j->wmin = j->W;
    }
    j->wlim = j->wmin;
    j->batch_min = j->batch;
    if (j->cache_fd >= 0) {
        j->no_cache = (opt->flags & MMK_SCAN_NO_CACHE) != 0;
        uint64_t direct_min = mmk__scan_direct_min ? mmk__scan_direct_min : mmk__os_memory_size();
        /* Larger than memory: the direct ring, if the workers' lead fits in it. */
        if (j->kind == SRC_PREAD && direct_min && j->total >= direct_min &&
            (uint64_t)j->W * j->cs + SCAN_BEHIND_LAG + 2 * SCAN_RING_BLOCK <=
                (uint64_t)SCAN_RING_SLOTS * SCAN_RING_BLOCK)
            j->ring = dring_start(j->fd, j->base, j->base + j->total);
        if (j->total < SCAN_STEER_MIN || j->ring)
            j->ahead = j->total; /* small: the kernel's own read-ahead does; the ring reads ahead */
        else if (view_map == own_map) {
            j->own_map = own_map;
            if (own_map && j->own_map_fast)
                j->ahead = j->total; /* our map: the kernel's read-around (see above) */
        }
        if (!j->no_cache && j->ahead == j->total && !j->own_map && !j->ring)
            j->cache_fd = -1;
    }

    j->slots = calloc(j->W, sizeof *j->slots);
    unsigned nctx = j->nworkers ? j->nworkers : 1;
    j->wctxs = calloc(nctx, sizeof *j->wctxs);
    worker_arg *wargs = calloc(nctx, sizeof *wargs);
    mmk__thread *tids = calloc(nctx, sizeof *tids);
    unsigned started = 0;
    int mu_ok = 0;
    if (!j->slots || !j->wctxs || !wargs || !tids) {
        rc = -ENOMEM;
        goto out;
    }
    for (unsigned i = 0; i < j->W; i++) {
        if (spec->res_size && !(j->slots[i].res = calloc(1, spec->res_size))) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if (j->adapt) {
        j->slotp = calloc(j->W, sizeof *j->slotp);
        j->freep = calloc(j->W, sizeof *j->freep);
        if (!j->slotp || !j->freep) {
            rc = -ENOMEM;
            goto out;
        }
        for (unsigned i = 0; i < j->W; i++)
            j->freep[i] = &j->slots[j->W - 1 - i]; /* slots[0] on top */
        j->nfree = j->W;
    }
    for (unsigned i = 0; i < nctx; i++) {
        if (!(j->wctxs[i] = calloc(1, spec->wctx_size ? spec->wctx_size : 1))) {
            rc = -ENOMEM;
            goto out;
        }
    }
    mmk__mutex_init(&j->mu);
    mmk__cond_init(&j->work_cv);
    mmk__cond_init(&j->main_cv);
    mu_ok = 1;
    if (j->kind != SRC_STREAM) {
        j->avail = j->wlim < j->nchunks ? j->wlim : j->nchunks;
        j->closed = j->avail == j->nchunks;
        slots_assign(j, 0, j->avail);
    }
    for (unsigned i = 0; i < j->nworkers; i++) {
        wargs[i].j = j;
        wargs[i].wctx = j->wctxs[i];
        if (mmk__thread_create(&tids[i], worker_main, &wargs[i]) != 0)
            break; /* fewer workers (or none: the calling thread works) give the same results */
        started++;
    }
    j->nworkers = started;
    if (!started && j->adapt) {
        /* The calling thread does every chunk in turn: one slot at a time,
           no window to adapt. */
        j->adapt = 0;
        free(j->slotp);
        j->slotp = NULL;
    }
    if (rc == 0)
        rc = j->own_stream ? spec->stream_run(j, j->wctxs[0]) : job_loop(j);
    if (started) {
        mmk__mutex_lock(&j->mu);
        j->abort = 1;
        mmk__cond_broadcast(&j->work_cv);
        mmk__mutex_unlock(&j->mu);
        for (unsigned i = 0; i < started; i++)
            mmk__thread_join(tids[i]);
    }
    if (rc == 0)
        report_progress(j, j->total, 1);
    if (spec->finish)
        rc = spec->finish(j, j->wctxs, nctx, rc);

out:
    dring_free(j->ring); /* the workers are gone */
    if (j->wctxs) {
        for (unsigned i = 0; i < nctx; i++) {
            if (j->wctxs[i] && spec->wctx_free)
                spec->wctx_free(j->wctxs[i]);
            free(j->wctxs[i]);
        }
    }
    if (j->slots) {
        for (unsigned i = 0; i < j->W; i++) {
            if (j->slots[i].res && spec->res_free)
                spec->res_free(j->slots[i].res);
            free(j->slots[i].res);
            free(j->slots[i].buf);
        }
    }
    if (mu_ok) {
        mmk__mutex_destroy(&j->mu);
        mmk__cond_destroy(&j->work_cv);
        mmk__cond_destroy(&j->main_cv);
    }
    free(j->slots);
    free(j->slotp);
    free(j->freep);
    free(j->wctxs);
    if (wargs)
        for (unsigned i = 0; i < nctx; i++)
            free(wargs[i].buf);
    free(wargs);
    free(tids);
    free(j->carry);
    free(j->main_buf);
    free(slurped);
    /* A fault in the caller's map: the file shrank (MMK_EFAULT), or the
       kernel could not supply a page of a file that did not (full disk,
       I/O error): the map knows which. */
    if (rc == MMK_EFAULT && view_map && view_map == in->map)
        rc = mmk__map_fault_cause(view_map, map_lo, map_len);
    if (view_map)
        mmk_view_release(view_map);
    if (own_map)
        mmk_free(own_map);
    /* MMK_SCAN_NO_CACHE: all of the input leaves the cache at the end (our
       map is gone, so no page of it is held by us any more). */
    if (j->no_cache && j->total)
        (void)mmk__os.file_advise(j->cache_fd, j->cache_base, j->total, MMK__OS_FILE_DONTNEED);
    *merged = j->merged;
    *err_off = j->err_off;
    return rc;
}

int mmk__scan_run(const mmk__jobspec *spec, const mmk_input *in, const mmk_scan_options *opt) {
    mmk_scan_options defaults = {0};
    if (!opt)
        opt = &defaults;
    if (opt->error_offset)
        *opt->error_offset = -1;
    if (!spec || !in)
        return -EINVAL;
    if (opt->io < MMK_IO_AUTO || opt->io > MMK_IO_READ)
        return -EINVAL;
    if (opt->flags & ~(unsigned)MMK_SCAN_NO_CACHE)
        return -EINVAL;
    if (in->kind == MMK_INPUT_FD && (in->flags & ~(unsigned)MMK_INPUT_RANGE))
        return -EINVAL;
    if (in->kind == MMK_INPUT_FD && (in->flags & MMK_INPUT_RANGE)) {
        /* A range is exact: a file that shrank under it is an error, never
           re-read as a stream (that would scan other bytes). */
        int64_t err_off_r = -1;
        uint64_t merged_r = 0;
        int rc = scan_run_once(spec, in, opt, 0, &merged_r, &err_off_r);
        if (rc == SCAN_ESHORT || rc == MMK_EFAULT)
            rc = -EIO;
        if ((rc == MMK_ELIMIT || rc == MMK_EPATTERN) && opt->error_offset)
            *opt->error_offset = err_off_r;
        return rc;
    }
    uint64_t merged = 0;
    int64_t err_off = -1;
    int rc = scan_run_once(spec, in, opt, 0, &merged, &err_off);
    if ((rc == SCAN_ESHORT || rc == MMK_EFAULT) && in->kind == MMK_INPUT_FD && merged == 0) {
        /* The file ended before its size said (a short pread, or a fault in
           the map we made of it) before any result was handed out: read it
           as a stream to its real end instead. */
        rc = scan_run_once(spec, in, opt, 1, &merged, &err_off);
    }
    if (rc == SCAN_ESHORT)
        rc = -EIO; /* it shrank after results were given: they cannot be taken back */
    if ((rc == MMK_ELIMIT || rc == MMK_EPATTERN) && opt->error_offset)
        *opt->error_offset = err_off;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Counting lines                                                            */
/* ------------------------------------------------------------------------ */

typedef struct lines_job {
    uint64_t lines;
} lines_job;

static int lines_chunk(mmk__job *j, void *wctx, mmk__chunk *c) {
    uint64_t *res = c->res;
    *res = mmk__count_newlines(sub_at(c, c->s), (size_t)(c->e - c->s));
    return 0;
}

static int lines_merge(mmk__job *j, mmk__chunk *c) {
    lines_job *lj = mmk__job_spec(j)->user;
    lj->lines += *(uint64_t *)c->res;
    return 0;
}

int mmk_count_lines(const mmk_input *in, const mmk_scan_options *opt, uint64_t *lines) {
    if (!in || !lines)
        return -EINVAL;
    lines_job lj = {0};
    mmk__jobspec spec = {0};
    spec.res_size = sizeof(uint64_t);
    spec.chunk = lines_chunk;
    spec.merge = lines_merge;
    spec.user = &lj;
    int rc = mmk__scan_run(&spec, in, opt);
    if (rc == 0)
        *lines = lj.lines;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Matching: counts, spans, lines                                            */
/* ------------------------------------------------------------------------ */

/* Speculative matches recorded per chunk when only counting: enough for the
   merge to find the point where a re-scan agrees with the speculation. */
#define FIND_RECORD 64

enum { MODE_COUNT = 1, MODE_SPANS = 2, MODE_LINES = 3, MODE_SEARCH = 4 };

typedef struct span {
    uint64_t a, b;
} span;

typedef struct span_vec {
    span *v;
    size_t n, cap;
} span_vec;

static int span_push(span_vec *sv, uint64_t a, uint64_t b) {
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 64;
        span *nv = realloc(sv->v, cap * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        sv->v = nv;
        sv->cap = cap;
    }
    sv->v[sv->n].a = a;
    sv->v[sv->n].b = b;
    sv->n++;
    return 0;
}

/* What a worker leaves for the merge. */
typedef struct find_res {
    uint64_t n;      /* matches starting in the chunk, from the speculative entry */
    span_vec rec;    /* the first FIND_RECORD of them (count) or all (spans, lines) */
    uint64_t xpos;   /* exit state: where the next search would start */
    int xne;         /* ... and whether an empty match there is forbidden */
    uint64_t nl;     /* lines mode: newlines in [s, e) */
    uint64_t *nlrel; /* lines mode: newlines in [s, a) for each recorded match */
    size_t nlrel_cap;
    int deferred; /* not scanned: a match of an earlier chunk's speculation covers it */
} find_res;

/* A line to report, collected under the guard, reported outside it. */
typedef struct line_rec {
    uint64_t off, len, line_no, matches;
    size_t text; /* offset of the copied bytes in the byte arena, or SIZE_MAX */
} line_rec;

typedef struct search_ring search_ring;

typedef struct find_job {
    const mmk_pattern *p;
    int mode;
    mmk__scratch *scratch; /* the calling thread's, for re-scans */
    /* true state after the chunks merged so far */
    uint64_t pos;
    int ne;
    uint64_t count;
    span_vec fix; /* re-scanned matches of the chunk being merged */
    /* The speculative match that ran furthest past its chunk (count and
       spans): [cover_a, cover_b), under cover_mu. */
    mmk__mutex cover_mu;
    uint64_t cover_a, cover_b;
    /* spans */
    int (*span_cb)(uint64_t, uint64_t, void *);
    /* lines */
    int (*line_cb)(const char *, size_t, uint64_t, uint64_t, uint64_t, void *);
    void *user;
    uint64_t nl_before; /* newlines before the chunk being merged */
    int open;           /* a line group is open */
    line_rec cur;       /* the open group */
    uint64_t cur_end;   /* offset of the open line's '\n' (or the end of input) */
    uint64_t floor;     /* the next line starts at or after this offset */
    line_rec *lines;
    size_t nlines, lines_cap;
    uint8_t *arena;
    size_t arena_len, arena_cap;
    uint64_t matched_lines;
    /* search (MODE_SEARCH, MMK_PAT_LINES only): what mmk_search asked for */
    const mmk_sink *sink;
    mmk_search_result *sres;
    int invert, limited, count_only;
    uint64_t max_count;
    uint64_t s_before, s_after; /* context kept by the workers (0 when only counting) */
    int s_spans;                /* spans are handed out */
    int grep_step;              /* MMK_SEARCH_GREP_STEP: on one byte after an empty match */
    int first_only;             /* MMK_SEARCH_FIRST_MATCH without spans: a line's first match */
    int s_records;              /* workers record lines (else they only count) */
    int s_text;                 /* records carry the lines' bytes */
    int s_lines;                /* workers track the lines (records, inverted counts) */
    int s_numbers;              /* ... and count them: line indices are line numbers (else a
                                   record's idx only orders the chunk's records) */
    int no_numbers;             /* MMK_SEARCH_NO_LINE_NUMBERS: line_no 0 for the sink */
    uint64_t last_out;          /* line number of the last line handed out (0: none) */
    uint64_t after_until;       /* lines up to this number are after-context */
    int limit_hit;              /* max_count selected lines were handed out */
    int done;                   /* the search ended by max_count (a stop that is no error) */
    search_ring *ring;          /* the unreported lines that may become before-context */
    mmk_span *sp_buf;           /* a line's spans, relative to the line */
    size_t sp_cap;
    uint8_t *lazy_buf; /* a long line read back for the sink */
    size_t lazy_cap;
} find_job;

typedef struct find_wctx {
    mmk__scratch *scratch;
} find_wctx;

/* The scratch of this worker, made on first use. */
static mmk__scratch *wctx_scratch(find_wctx *w, const mmk_pattern *p) {
    if (!w->scratch)
        w->scratch = mmk__scratch_new(p);
    return w->scratch;
}

static void find_wctx_free(void *arg) {
    find_wctx *w = arg;
    mmk__scratch_free(w->scratch);
}

static void find_res_free(void *arg) {
    find_res *r = arg;
    free(r->rec.v);
    free(r->nlrel);
}

/* Leftmost match starting in [pos, limit) of the chunk's subject, in input
   offsets. The last chunk also lets a match start at the end of input. A
   grows job's pread subject that stops short of the end is searched with
   partial matching, and read on while a match may need more bytes. */
static int chunk_find(mmk__job *j, const find_job *fj, mmk__scratch *sc, mmk__chunk *c,
                      uint64_t pos, uint64_t limit, int ne, uint64_t *a, uint64_t *b) {
    size_t ms = 0, me = 0;
    int r;
    for (;;) {
        size_t at = (size_t)(pos - c->sub_off), lim = (size_t)(limit - c->sub_off);
        if (c->sub_is_end || !mmk__job_spec(j)->grows) {
            r = mmk__find(fj->p, sc, c->sub, c->sub_len, at, lim, ne, &ms, &me);
            break;
        }
        r = mmk__find_partial(fj->p, sc, c->sub, c->sub_len, at, lim, ne, &ms, &me);
        if (r != 2)
            break;
        /* No start before ms can match; one at ms or later may need more. */
        if (ms + c->sub_off >= limit)
            return 0;
        if (ms + c->sub_off != pos) {
            pos = ms + c->sub_off;
            ne = 0;
        }
        r = mmk__chunk_more(j, c);
        if (r)
            return r;
    }
    if (r < 0)
        c->err_off = (int64_t)pos; /* where the search that failed started */
    if (r == 1) {
        *a = ms + c->sub_off;
        *b = me + c->sub_off;
    }
    return r;
}

static uint64_t chunk_limit(const mmk__chunk *c) {
    return c->last && c->sub_is_end ? c->e + 1 : c->e;
}

/*
 * A match that runs far past its chunk ((?s)BEGIN.*END, [^q]*q on text
 * without a q) is found again from every chunk it covers, each time over the
 * rest of its length: a file of n chunks took n such scans (1 GB of text
 * without a 'q', lord[^q]*god: 220 s). So a worker notes the match of its
 * speculation that runs furthest past its chunk, and a chunk that such a
 * match (of an earlier chunk) covers whole is not scanned but deferred: the
 * merge then skips it when the exact state is past its end, as it is when
 * that speculation was right, or scans it plainly from the exact state.
 */
static void cover_note(find_job *fj, uint64_t a, uint64_t b) {
    mmk__mutex_lock(&fj->cover_mu);
    if (b > fj->cover_b || (b == fj->cover_b && a < fj->cover_a)) {
        fj->cover_a = a;
        fj->cover_b = b;
    }
    mmk__mutex_unlock(&fj->cover_mu);
}

/* 1 when the noted match starts before s and ends at or after limit. */
static int cover_holds(find_job *fj, uint64_t s, uint64_t limit) {
    mmk__mutex_lock(&fj->cover_mu);
    int covered = fj->cover_b > 0 && fj->cover_a < s && fj->cover_b >= limit;
    mmk__mutex_unlock(&fj->cover_mu);
    return covered;
}

/* The speculative scan of one chunk (worker). */
static int find_chunk(mmk__job *j, void *wctx, mmk__chunk *c) {
    find_job *fj = mmk__job_spec(j)->user;
    find_res *r = c->res;
    mmk__scratch *sc = wctx_scratch(wctx, fj->p);
    if (!sc)
        return -ENOMEM;
    size_t keep = fj->mode == MODE_COUNT ? FIND_RECORD : SIZE_MAX;
    uint64_t pos = c->s, limit = chunk_limit(c), n = 0, a = 0, b = 0;
    uint64_t nl = 0, nl_at = c->s;
    int ne = 0;
    const int may_defer = fj->mode == MODE_COUNT || fj->mode == MODE_SPANS;
    r->rec.n = 0;
    r->deferred = 0;
    if (may_defer && cover_holds(fj, c->s, limit)) {
        __atomic_add_fetch(&mmk__scan_deferred, 1, __ATOMIC_RELAXED);
        r->deferred = 1;
        r->n = 0;
        r->xpos = c->s;
        r->xne = 0;
        return 0;
    }
    while (pos < limit) {
        int f = chunk_find(j, fj, sc, c, pos, limit, ne, &a, &b);
        if (f < 0)
            return f;
        if (f == 0)
            break;
        if (may_defer && b > limit)
            cover_note(fj, a, b);
        if (r->rec.n < keep) {
            int e = span_push(&r->rec, a, b);
            if (e)
                return e;
            if (fj->mode == MODE_LINES) {
                if (r->nlrel_cap < r->rec.cap) {
                    uint64_t *nv = realloc(r->nlrel, r->rec.cap * sizeof *nv);
                    if (!nv)
                        return -ENOMEM;
                    r->nlrel = nv;
                    r->nlrel_cap = r->rec.cap;
                }
                nl += mmk__count_newlines(sub_at(c, nl_at), (size_t)(a - nl_at));
                nl_at = a;
                r->nlrel[r->rec.n - 1] = nl;
            }
        }
        n++;
        ne = a == b;
        pos = b;
    }
    r->n = n;
    r->xpos = n ? pos : c->s;
    r->xne = n ? ne : 0;
    if (fj->mode == MODE_LINES)
        r->nl = nl + mmk__count_newlines(sub_at(c, nl_at), (size_t)(c->e - nl_at));
    return 0;
}

/* Record a re-scanned match. */
static int fix_take(find_job *fj, uint64_t a, uint64_t b) {
    fj->count++;
    return fj->mode == MODE_COUNT ? 0 : span_push(&fj->fix, a, b);
}

typedef struct fix_call {
    mmk__job *j;
    find_job *fj;
    mmk__chunk *c;
    size_t sync; /* speculative matches from this index on are exact */
} fix_call;

/* Re-scan chunk fc->c plainly from (*pos, *ne) up to lim, taking every
   match; leaves the state after the last one. */
static int fix_rescan(fix_call *fc, uint64_t *pos, int *ne, uint64_t lim) {
    find_job *fj = fc->fj;
    uint64_t a = 0, b = 0;
    while (*pos < lim) {
        int f = chunk_find(fc->j, fj, fj->scratch, fc->c, *pos, lim, *ne, &a, &b);
        if (f <= 0)
            return f;
        int e = fix_take(fj, a, b);
        if (e)
            return e;
        *ne = a == b;
        *pos = b;
    }
    return 0;
}

/*
 * Turn the speculative result of chunk c into the exact one, given the true
 * state (fj->pos, fj->ne) that the previous chunks left. Exact matches end up
 * as: fj->fix (re-scanned), then the speculative ones from index `sync` on.
 *
 * Why this is enough: a search attempt at position q (does a match start at q,
 * and which) does not depend on where the search began, except that an
 * attempt at the search's own start may forbid an empty match. The
 * speculative scan tried every position of the chunk except the insides of
 * its own matches; so a re-scan from the true state needs to try only those
 * insides (and settle the empty-match cases at the edges). As soon as the
 * re-scan reaches a position the speculation tried with the same rules, both
 * continue identically: from there the speculative matches are the exact
 * ones. When the speculation recorded only its first matches (counting), a
 * re-scan that outruns the record falls back to a plain re-scan of the rest.
 */
static int fix_chunk(void *arg) {
    fix_call *fc = arg;
    find_job *fj = fc->fj;
    mmk__chunk *c = fc->c;
    find_res *r = c->res;
    const span *v = r->rec.v;
    size_t nv = r->rec.n;
    uint64_t n = r->n;
    uint64_t pos = fj->pos, lim = chunk_limit(c), a = 0, b = 0;
    int ne = fj->ne;
    size_t i = 0;
    fj->fix.n = 0;

    if (r->deferred) {
        /* Not scanned: every match from the exact state on is re-scanned. */
        if (pos < c->s) {
            pos = c->s; /* the chunks before tried every start before s */
            ne = 0;
        }
        if (pos < lim)
            __atomic_add_fetch(&mmk__scan_deferred_rescans, 1, __ATOMIC_RELAXED);
        int e = fix_rescan(fc, &pos, &ne, lim);
        if (e)
            return e;
        fc->sync = 0;
        goto unsynced;
    }
    if (pos < c->s || (pos == c->s && ne == 0)) {
        fc->sync = 0;
        goto synced;
    }
    for (;;) {
        if (pos >= lim) {
            fc->sync = (size_t)n; /* every speculative match starts before pos */
            goto unsynced;
        }
        while (i < nv && pos >= v[i].b)
            i++;
        if (i == nv && nv < n) {
            /* Past what the speculation recorded: re-scan the rest plainly. */
            int e = fix_rescan(fc, &pos, &ne, lim);
            if (e)
                return e;
            fc->sync = (size_t)n;
            goto unsynced;
        }
        uint64_t prev_pos = i == 0 ? c->s : v[i - 1].b;
        int prev_ne = i == 0 ? 0 : v[i - 1].a == v[i - 1].b;
        if (i < nv && pos > v[i].a) {
            /* Inside speculative match i, where the speculation never tried. */
            uint64_t l2 = v[i].b < lim ? v[i].b : lim;
            int f = chunk_find(fc->j, fj, fj->scratch, c, pos, l2, ne, &a, &b);
            if (f < 0)
                return f;
            if (f == 0) {
                fc->sync = i + 1;
                if (v[i].b <= lim)
                    goto synced; /* nothing before b_i: the speculation's state after match i */
                /* Match i runs past the chunk: [lim, b_i) is the next chunk's to try. */
                goto unsynced;
            }
            int e = fix_take(fj, a, b);
            if (e)
                return e;
            ne = a == b;
            pos = b;
            continue;
        }
        /* In the gap before match i (or after the last one): every position
           from pos on was tried by the speculation and failed, except where
           the rules for empty matches differ. */
        int spec_flag = pos == prev_pos ? prev_ne : 0;
        if (ne < spec_flag) {
            /* The speculation had an empty match at pos (its match i-1) after
               forbidding... no: it found it; the re-scan finds the same. */
            fc->sync = i - 1;
            goto synced;
        }
        if (i == nv) {
            fc->sync = (size_t)n; /* no more matches in the chunk */
            goto unsynced;
        }
        /* At a_i: both find match i, unless only the re-scan forbids an empty
           match there and match i is empty; then the re-scan's state equals
           the speculation's state after match i. */
        fc->sync = i;
        if (v[i].a == pos && ne && !(v[i].a == prev_pos && prev_ne) && v[i].a == v[i].b)
            fc->sync = i + 1;
        goto synced;
    }
synced:
    fj->count += n - fc->sync;
    if (n > 0 && fc->sync < n) {
        fj->pos = r->xpos;
        fj->ne = r->xne;
    } else if (n > 0 && fc->sync == n && fc->sync > 0) {
        /* Agreed at the end: the speculation's exit state is the true one. */
        fj->pos = r->xpos;
        fj->ne = r->xne;
    } else {
        fj->pos = pos;
        fj->ne = ne;
    }
    return 0;
unsynced:
    fj->pos = pos;
    fj->ne = ne;
    return 0;
}

typedef struct lines_call {
    mmk__job *j;
    fix_call *fc;
} lines_call;
static int lines_collect(void *arg);

static int find_merge(mmk__job *j, mmk__chunk *c) {
    find_job *fj = mmk__job_spec(j)->user;
    fix_call fc = {j, fj, c, 0};
    const find_res *dr = c->res;
    if (dr->deferred ? fj->pos < chunk_limit(c)
                     : !(fj->pos < c->s || (fj->pos == c->s && !fj->ne))) {
        int lr = chunk_reload(j, c); /* a re-scan reads the chunk's bytes */
        if (lr)
            return lr;
    }
    int rc = mmk__job_guard(j, fix_chunk, &fc);
    if (rc) {
        j->err_off = c->err_off;
        return rc;
    }
    find_res *r = c->res;
    if (fj->mode == MODE_SPANS) {
        for (size_t i = 0; i < fj->fix.n; i++) {
            rc = fj->span_cb(fj->fix.v[i].a, fj->fix.v[i].b, fj->user);
            if (rc)
                return rc;
        }
        for (size_t i = fc.sync; i < r->n; i++) {
            rc = fj->span_cb(r->rec.v[i].a, r->rec.v[i].b, fj->user);
            if (rc)
                return rc;
        }
    } else if (fj->mode == MODE_LINES) {
        lines_call lc = {j, &fc};
        fj->nlines = 0;
        fj->arena_len = 0;
        rc = mmk__job_guard(j, lines_collect, &lc);
        if (rc)
            return rc;
        for (size_t i = 0; i < fj->nlines; i++) {
            line_rec *lr = &fj->lines[i];
            /* An empty line copied from a map has no arena yet: no NULL + 0. */
            const char *text = lr->text == SIZE_MAX ? (const char *)sub_at(c, lr->off)
                               : fj->arena          ? (const char *)fj->arena + lr->text
                                                    : "";
            fj->matched_lines++;
            rc = fj->line_cb(text, (size_t)lr->len, lr->line_no, lr->off, lr->matches, fj->user);
            if (rc)
                return rc;
        }
        fj->nl_before += r->nl;
    }
    return 0;
}

/* Close the open line group: queue it for reporting (copying its bytes when
   they are mapped, so the callback never touches the map). */
static int lines_flush(mmk__job *j, mmk__chunk *c) {
    find_job *fj = mmk__job_spec(j)->user;
    if (!fj->open)
        return 0;
    fj->open = 0;
    if (fj->nlines == fj->lines_cap) {
        size_t cap = fj->lines_cap ? fj->lines_cap * 2 : 256;
        line_rec *nl = realloc(fj->lines, cap * sizeof *nl);
        if (!nl)
            return -ENOMEM;
        fj->lines = nl;
        fj->lines_cap = cap;
    }
    line_rec lr = fj->cur;
    lr.text = SIZE_MAX;
    if (mmk__job_mapped(j)) {
        if (fj->arena_len + lr.len > fj->arena_cap) {
            size_t cap = fj->arena_cap ? fj->arena_cap : 4096;
            while (cap < fj->arena_len + lr.len)
                cap *= 2;
            uint8_t *na = realloc(fj->arena, cap);
            if (!na)
                return -ENOMEM;
            fj->arena = na;
            fj->arena_cap = cap;
        }
        if (lr.len)
            memcpy(fj->arena + fj->arena_len, c->sub + (lr.off - c->sub_off), (size_t)lr.len);
        lr.text = fj->arena_len;
        fj->arena_len += (size_t)lr.len;
    }
    fj->lines[fj->nlines++] = lr;
    return 0;
}

/* Add one match (starting at a, with nl newlines before it in the input) to
   the line groups. Lines jobs run on memory: sub is the whole input. */
static int lines_add(mmk__job *j, mmk__chunk *c, uint64_t a, uint64_t nl) {
    find_job *fj = mmk__job_spec(j)->user;
    const uint8_t *sub = c->sub;
    uint64_t total = c->sub_len;
    /* An empty match at the end of input after the last newline is on no line. */
    if (a == total && (total == 0 || sub[total - 1] == '\n'))
        return 0;
    if (fj->open && a <= fj->cur_end) {
        fj->cur.matches++;
        return 0;
    }
    int rc = lines_flush(j, c);
    if (rc)
        return rc;
    uint64_t floor = fj->floor; /* no line starts before the previous line's end */
    const uint8_t *q = a > floor ? mmk__memrchr(sub + floor, '\n', (size_t)(a - floor)) : NULL;
    uint64_t start = q ? (uint64_t)(q - sub) + 1 : floor;
    const uint8_t *nlp = a < total ? memchr(sub + a, '\n', (size_t)(total - a)) : NULL;
    uint64_t end = nlp ? (uint64_t)(nlp - sub) : total;
    fj->open = 1;
    fj->cur.off = start;
    fj->cur.len = end - start;
    fj->cur.line_no = nl + 1;
    fj->cur.matches = 1;
    fj->cur_end = end;
    fj->floor = end < total ? end + 1 : total;
    return 0;
}

static int lines_collect(void *arg) {
    lines_call *lc = arg;
    mmk__job *j = lc->j;
    find_job *fj = mmk__job_spec(j)->user;
    mmk__chunk *c = lc->fc->c;
    find_res *r = c->res;
    uint64_t nl = 0, nl_at = c->s;
    for (size_t i = 0; i < fj->fix.n; i++) {
        uint64_t a = fj->fix.v[i].a;
        nl += mmk__count_newlines(sub_at(c, nl_at), (size_t)(a - nl_at));
        nl_at = a;
        int rc = lines_add(j, c, a, fj->nl_before + nl);
        if (rc)
            return rc;
    }
    for (size_t i = lc->fc->sync; i < r->n; i++) {
        int rc = lines_add(j, c, r->rec.v[i].a, fj->nl_before + r->nlrel[i]);
        if (rc)
            return rc;
    }
    if (c->last)
        return lines_flush(j, c);
    return 0;
}

static void ring_free(search_ring *rg);

static void find_job_free(find_job *fj) {
    mmk__scratch_free(fj->scratch);
    free(fj->fix.v);
    free(fj->lines);
    free(fj->arena);
    ring_free(fj->ring);
    free(fj->sp_buf);
    free(fj->lazy_buf);
}

/*
 * The partial-match walks (a stream, a line longer than a chunk): a search
 * found no complete match in buf[0, *have) (input bytes from *base). Go on
 * from the earliest start still open (f == 2: at a) or from the end of the
 * bytes held (f == 0), keep `back` bytes of lookbehind before that, drop the
 * rest, and make room for `step` more bytes. 0 or -ENOMEM.
 */
static int partial_slide(int f, size_t a, size_t back, size_t step, uint8_t **buf, size_t *cap,
                         size_t *have, uint64_t *base, uint64_t *pos, int *ne) {
    uint64_t next = f == 2 ? *base + a : *base + *have;
    if (next != *pos)
        *ne = 0;
    *pos = next;
    uint64_t keep_from = *pos - *base > back ? *pos - back : *base;
    size_t drop = (size_t)(keep_from - *base);
    if (drop) {
        memmove(*buf, *buf + drop, *have - drop);
        *have -= drop;
        *base = keep_from;
    }
    return buf_reserve(buf, cap, *have + step);
}

/*
 * Counts and spans of a regex over a stream, in bounded memory, with PCRE2
 * partial matching: the buffer keeps only the bytes from the earliest start
 * of a match that may still need bytes not read yet (and the lookbehind
 * before it). Memory: the read size (chunk_size, 1 MiB by default) plus the
 * longest partial match, e.g. the whole rest of the input for `(?s)a.*b` after
 * an 'a' with no 'b' yet; patterns whose matches are short keep a few bytes.
 * A regex with (*ACCEPT) keeps the whole stream (mmk__find_partial settles
 * nothing before the end: PCRE2 10.42's partial matching is wrong for it).
 * The results are those of the whole input in memory: a complete match is
 * reported only when no further byte can change it.
 */
static int find_stream_run(mmk__job *j, void *wctx) {
    find_job *fj = mmk__job_spec(j)->user;
    mmk__scratch *sc = wctx_scratch(wctx, fj->p);
    if (!sc)
        return -ENOMEM;
    size_t back = mmk__max_lookbehind(fj->p);
    size_t step = j->cs < ((uint64_t)1 << 30) ? (size_t)j->cs : (size_t)1 << 30;
    uint8_t *buf = NULL;
    size_t cap = 0, have = 0;
    uint64_t base = 0, pos = 0; /* buf[0] is input byte base; the search is at pos */
    int ne = 0, eof = 0, rc = 0;
    for (;;) {
        size_t a = 0, b = 0;
        int f = 0;
        if (have > 0 || eof) {
            size_t at = (size_t)(pos - base);
            f = eof ? mmk__find(fj->p, sc, buf, have, at, have + 1, ne, &a, &b)
                    : mmk__find_partial(fj->p, sc, buf, have, at, have + 1, ne, &a, &b);
            if (f < 0) {
                j->err_off = (int64_t)pos;
                rc = f;
                break;
            }
        }
        if (f == 1) {
            fj->count++;
            if (fj->mode == MODE_SPANS) {
                rc = fj->span_cb(base + a, base + b, fj->user);
                if (rc)
                    break;
            }
            ne = a == b;
            pos = base + b;
            continue;
        }
        if (eof)
            break; /* f == 0 at the end: no more matches */
        /* No complete match yet: more bytes. */
        rc = partial_slide(f, a, back, step, &buf, &cap, &have, &base, &pos, &ne);
        if (rc)
            break;
        int64_t got = mmk__job_read(j, buf + have, cap - have);
        if (got < 0) {
            rc = (int)got;
            break;
        }
        if (got == 0)
            eof = 1;
        have += (size_t)got;
    }
    free(buf);
    return rc;
}

/* Shared set-up of the three matching jobs. */
static int run_find(find_job *fj, const mmk_input *in, const mmk_scan_options *opt) {
    mmk__jobspec spec = {0};
    spec.res_size = sizeof(find_res);
    spec.wctx_size = sizeof(find_wctx);
    size_t maxlen = mmk__max_match_len(fj->p);
    spec.needs_memory = fj->mode != MODE_COUNT || !mmk__is_literal(fj->p) || maxlen == SIZE_MAX;
    /* Counts of unbounded patterns read files piecewise too (partial
       matching says when a chunk needs more bytes); spans stay in memory, as
       a fallback to it after spans were handed out could not take them back. */
    spec.grows = fj->mode == MODE_COUNT && spec.needs_memory && mmk__partial_exact(fj->p);
    spec.before = mmk__max_lookbehind(fj->p);
    spec.after = spec.grows ? grow_first() : spec.needs_memory ? 0 : maxlen + 1;
    spec.chunk = find_chunk;
    spec.merge = find_merge;
    spec.res_free = find_res_free;
    spec.wctx_free = find_wctx_free;
    if (fj->mode != MODE_LINES)
        spec.stream_run = find_stream_run;
    spec.user = fj;
    fj->scratch = mmk__scratch_new(fj->p);
    if (!fj->scratch)
        return -ENOMEM;
    mmk__mutex_init(&fj->cover_mu);
    int rc = mmk__scan_run(&spec, in, opt);
    if (rc == MMK__SCAN_EGROW) {
        /* A match attempt ran more than SCAN_GROW_MAX bytes past a chunk
           (`(?s)a.*b` on a large file, say), or the chunks together read
           more than the growth budget past their ends: count again over the
           input in memory (the file mapped), from the start. */
        __atomic_add_fetch(&mmk__scan_grow_fallbacks, 1, __ATOMIC_RELAXED);
        fj->count = 0;
        fj->pos = 0;
        fj->ne = 0;
        fj->cover_a = fj->cover_b = 0;
        spec.grows = 0;
        spec.after = 0;
        rc = mmk__scan_run(&spec, in, opt);
    }
    mmk__mutex_destroy(&fj->cover_mu);
    find_job_free(fj);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Line-oriented matching (MMK_PAT_LINES: grep -P semantics)                  */
/* ------------------------------------------------------------------------ */

/*
 * Every line is its own subject, so chunks that hold whole lines are
 * independent: no speculation and no re-scan, the merge only adds up and
 * reports in order. A chunk owns the lines that start in [s, e) (a line
 * starts at 0 and after each '\n'; the empty string after a final '\n' is no
 * line); the engine's line_cut makes buffered subjects hold them whole.
 *
 * Within a chunk, the fast path (mmk__lines_buffer_safe) searches the owned
 * lines as one buffer and settles each candidate on its own line: a match
 * without '\n' is a match of its line; one that holds a '\n' sends its line
 * to be searched alone. Either way the search goes on at the next line. The
 * slow path searches every line alone. Counts and spans are always those of
 * the line alone (Python's re rules for empty matches within the line).
 */

/* A line as the search's workers see it: where it is, what it holds, and
   (records) whether the chunk selects it and where its bytes are kept. */
typedef struct sline {
    uint64_t off, len; /* input offset of its first byte, bytes without the '\n' */
    uint64_t idx;      /* index of the line in the chunk (0: the chunk's first line) */
    uint64_t matches;
    size_t span0, nsp; /* its spans: lines_res.spans.v[span0 .. span0 + nsp) */
    int newline;       /* a '\n' ends it */
    int lazy;          /* a line longer than the engine holds: read back by the merge */
    int selected;
    size_t text; /* records: subject offset (in place) or arena offset */
} sline;

/* What a worker leaves for the merge. */
typedef struct lines_res {
    uint64_t count;  /* matches in the owned lines */
    uint64_t mlines; /* owned lines that match */
    uint64_t owned;  /* search: owned lines */
    uint64_t nl;     /* lines mode: '\n' bytes in the owned lines */
    span_vec spans;  /* spans mode: the matches */
    uint8_t *arena;  /* copies of the recorded lines' bytes when the subject will be gone */
    size_t arena_len, arena_cap;
    int in_place; /* line_rec.text is an offset into the subject, not the arena */
    const uint8_t *sub;
    uint64_t sub_off;
    /* search: the lines the merge may hand out, in input order: the selected
       ones, the context around them inside the chunk, the chunk's first
       `after` and last `before` lines (context for selected lines of the
       chunks around it) */
    sline *recs;
    size_t nrecs, recs_cap;
    /* search, while the worker walks the chunk: the last `before` lines not
       recorded (circular), the first line not classified yet, how many
       after-context lines are still due */
    sline *q;
    size_t q_cap, q_n, q_head;
    size_t *tmp;
    size_t tmp_cap;
    size_t cur;
    uint64_t cur_idx, after_left;
} lines_res;

/* What a search chunk's result holds: records, copied bytes, spans. */
static size_t lines_res_bytes(const void *arg) {
    const lines_res *r = arg;
    return r->nrecs * sizeof(sline) + (r->in_place ? 0 : r->arena_len) +
           r->spans.n * sizeof *r->spans.v;
}

static void lines_res_free(void *arg) {
    lines_res *r = arg;
    free(r->spans.v);
    free(r->arena);
    free(r->recs);
    free(r->q);
    free(r->tmp);
}

static int sw_match(const find_job *fj, mmk__chunk *c, lines_res *r, size_t x, size_t y,
                    uint64_t idx, uint64_t matches, size_t span0);
static int sw_selected(const find_job *fj, mmk__chunk *c, lines_res *r, sline l);
static int sw_other(const find_job *fj, mmk__chunk *c, lines_res *r, sline l);
static int search_merge(mmk__job *j, mmk__chunk *c);

/* Matches of the line [x, y) of subject `sub` searched alone; offsets in
   the input are sub_off + ... . Counts them into *n and pushes spans when
   asked. stop_at_first: only whether there is one. first_a, first_b: the
   line's first match when the caller knows it (offsets in the line), else
   SIZE_MAX. */
static int line_alone(const find_job *fj, mmk__scratch *sc, mmk__chunk *c, const uint8_t *sub,
                      uint64_t sub_off, size_t x, size_t y, span_vec *spans, int stop_at_first,
                      size_t first_a, size_t first_b, uint64_t *n) {
    const uint8_t *line = sub + x;
    size_t len = y - x, pos = 0, a = 0, b = 0;
    int ne = 0;
    *n = 0;
    for (;;) {
        int f;
        if (first_a != SIZE_MAX) {
            a = first_a;
            b = first_b;
            first_a = SIZE_MAX;
            f = 1;
        } else {
            f = mmk__find(fj->p, sc, line, len, pos, len + 1, ne, &a, &b);
        }
        if (f < 0) {
            c->err_off = (int64_t)(sub_off + x + pos);
            return f;
        }
        if (f == 0)
            return 0;
        (*n)++;
        if (spans) {
            int e = span_push(spans, sub_off + x + a, sub_off + x + b);
            if (e)
                return e;
        }
        if (stop_at_first)
            return 0;
        if (a == b && fj->grep_step) {
            ne = 0; /* grep -o: on one byte after an empty match */
            pos = b + 1;
        } else {
            ne = a == b;
            pos = b;
        }
        if (pos > len || (pos == len && ne))
            return 0;
    }
}

/* Settle the line [x, y): count its matches alone and record it. first_a,
   first_b: its first match (subject offsets) when known, else SIZE_MAX. */
static int lines_take(const find_job *fj, mmk__scratch *sc, mmk__chunk *c, lines_res *r,
                      const uint8_t *sub, size_t x, size_t y, uint64_t nl, size_t first_a,
                      size_t first_b) {
    uint64_t n = 0;
    size_t span0 = r->spans.n;
    if (first_a != SIZE_MAX) {
        first_a -= x;
        first_b -= x;
    }
    int rc = line_alone(fj, sc, c, sub, c->sub_off, x, y, fj->s_spans ? &r->spans : NULL,
                        fj->first_only, first_a, first_b, &n);
    if (rc || n == 0)
        return rc;
    r->count += n;
    r->mlines++;
    return fj->s_records ? sw_match(fj, c, r, x, y, nl, n, span0) : 0;
}

static int lines_region(mmk__job *j, find_job *fj, mmk__scratch *sc, mmk__chunk *c, lines_res *r,
                        size_t ls, size_t le);

/*
 * The last owned line of a pread chunk, starting at subject offset x, is
 * longer than the engine holds (c->line_open): search it as a stream of
 * pieces read with pread, with PCRE2 partial matching, so memory stays at a
 * piece plus the longest partial match. A matching line is then read whole
 * for the callback (the line itself is the least a caller of mmk_match_lines
 * gets); counts and spans never need it whole.
 */
static int lines_long_line(mmk__job *j, find_job *fj, mmk__scratch *sc, mmk__chunk *c, lines_res *r,
                           size_t x) {
    const uint64_t x_abs = c->sub_off + x;
    size_t back = mmk__max_lookbehind(fj->p);
    const size_t step = (size_t)1 << 20;
    uint8_t *buf = NULL;
    size_t cap = 0, have = c->sub_len - x, span0 = r->spans.n;
    int spans = fj->s_spans;
    uint64_t base = x_abs, pos = x_abs, next_read = c->sub_off + c->sub_len, count = 0;
    int ne = 0, end = 0, has_nl = 0, rc = buf_reserve(&buf, &cap, have + step);
    if (rc)
        return rc;
    memcpy(buf, c->sub + x, have);
    for (;;) {
        size_t a = 0, b = 0;
        size_t at = (size_t)(pos - base);
        /* The subject is the line alone: a search from a cut inside it has
           lookbehind bytes before pos, never a line start (^, \A) there. */
        int f = end ? mmk__find(fj->p, sc, buf, have, at, have + 1, ne, &a, &b)
                    : mmk__find_partial(fj->p, sc, buf, have, at, have + 1, ne, &a, &b);
        if (f < 0) {
            c->err_off = (int64_t)pos;
            rc = f;
            break;
        }
        if (f == 1) {
            count++;
            if (spans && (rc = span_push(&r->spans, base + a, base + b)) != 0)
                break;
            if (a == b && fj->grep_step && b < have) {
                /* grep -o: on one byte after an empty match (an empty match
                   at the end of what was read so far steps by Python's
                   rule: the next byte is not here yet). */
                ne = 0;
                pos = base + b + 1;
            } else {
                ne = a == b;
                pos = base + b;
            }
            continue;
        }
        if (end)
            break;
        if ((rc = partial_slide(f, a, back, step, &buf, &cap, &have, &base, &pos, &ne)) != 0)
            break;
        size_t want = step;
        if (next_read >= j->total) {
            end = 1; /* the file ends the line */
            continue;
        }
        if (j->total - next_read < want)
            want = (size_t)(j->total - next_read);
        if ((rc = job_pread(j, buf + have, want, next_read)) != 0)
            break;
        const uint8_t *nlp = memchr(buf + have, '\n', want);
        if (nlp) {
            want = (size_t)(nlp - (buf + have));
            end = has_nl = 1;
        }
        have += want;
        next_read += want;
    }
    uint64_t line_end = base + have; /* the '\n' or the end of the file */
    free(buf);
    if (rc)
        return rc;
    if (fj->first_only && count > 1)
        count = 1; /* MMK_SEARCH_FIRST_MATCH: a matching line counts once */
    r->count += count;
    {
        /* Its bytes are read back by the merge if it is handed out. */
        r->mlines += count > 0;
        r->nl += (uint64_t)has_nl;
        r->owned++;
        if (!fj->s_records)
            return 0;
        sline l;
        memset(&l, 0, sizeof l);
        l.off = x_abs;
        l.len = line_end - x_abs;
        l.idx = r->owned - 1;
        l.matches = count;
        l.span0 = span0;
        l.nsp = r->spans.n - span0;
        l.newline = has_nl;
        l.lazy = 1;
        r->cur_idx = r->owned;
        return (count > 0) != fj->invert ? sw_selected(fj, c, r, l) : sw_other(fj, c, r, l);
    }
    return 0;
}

/* ---- the search's workers: which lines of a chunk the merge may need ---- */

/*
 * A chunk's lines are classified in order: selected (matching, or not with
 * MMK_SEARCH_INVERT) or not. The worker records every selected line, the
 * lines within `after` after and `before` before a selected line of the
 * chunk, the chunk's first `after` lines and its last `before` lines (which
 * may be context for selected lines in the chunks around it). So every line
 * the merge can hand out is recorded by its chunk, and the merge, walking the
 * records in input order, needs only the last `before` records it has not
 * handed out and the number of the last after-context line.
 *
 * Unrecorded lines that may still become before-context wait in a queue of
 * `before` entries; a queued line is always newer than every record of the
 * chunk (a non-selected line is recorded only while every line since the last
 * selected one was recorded too), so records stay in input order.
 */

static int sw_record(const find_job *fj, mmk__chunk *c, lines_res *r, sline l) {
    if (r->nrecs == r->recs_cap) {
        size_t cap = r->recs_cap ? r->recs_cap * 2 : SEARCH_RECS_MIN;
        sline *nv = realloc(r->recs, cap * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        r->recs = nv;
        r->recs_cap = cap;
    }
    if (fj->s_text && !l.lazy) {
        size_t x = (size_t)(l.off - c->sub_off);
        if (r->in_place) {
            l.text = x;
        } else {
            /* The chunk's records are distinct lines of its subject, so
               their copies never outgrow it: the arena doubles from a few
               KiB up to the subject's size. Not sized to the subject at
               once: a block that large comes from mmap, and a search whose
               chunks each copy a line or two then paid an mmap, a munmap
               (with its TLB shootdown) and page faults per slot. */
            size_t need = r->arena_len + (size_t)l.len;
            if (need > r->arena_cap) {
                size_t cap = r->arena_cap ? r->arena_cap * 2 : SEARCH_ARENA_MIN;
                if (cap > c->sub_len)
                    cap = c->sub_len;
                if (cap < need)
                    cap = need;
                uint8_t *na = realloc(r->arena, cap);
                if (!na)
                    return -ENOMEM;
                r->arena = na;
                r->arena_cap = cap;
            }
            if (l.len)
                memcpy(r->arena + r->arena_len, c->sub + x, (size_t)l.len);
            l.text = r->arena_len;
            r->arena_len += (size_t)l.len;
        }
    }
    r->recs[r->nrecs++] = l;
    return 0;
}

/* Queue an unrecorded line (the oldest falls out past `before` entries). */
static int sw_queue(const find_job *fj, lines_res *r, sline l) {
    if (fj->s_before == 0)
        return 0;
    if (r->q_n == r->q_cap && r->q_cap < fj->s_before) {
        size_t cap = r->q_cap ? r->q_cap * 2 : 8;
        if (cap > fj->s_before)
            cap = (size_t)fj->s_before;
        sline *nv = malloc(cap * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        for (size_t i = 0; i < r->q_n; i++)
            nv[i] = r->q[(r->q_head + i) % r->q_cap];
        free(r->q);
        r->q = nv;
        r->q_cap = cap;
        r->q_head = 0;
    }
    if (r->q_n < r->q_cap) {
        r->q[(r->q_head + r->q_n) % r->q_cap] = l;
        r->q_n++;
    } else {
        r->q[r->q_head] = l;
        r->q_head = (r->q_head + 1) % r->q_cap;
    }
    return 0;
}

/* Record the queued lines from index min_idx on, and empty the queue. */
static int sw_flush(const find_job *fj, mmk__chunk *c, lines_res *r, uint64_t min_idx) {
    int rc = 0;
    for (size_t i = 0; i < r->q_n && rc == 0; i++) {
        sline l = r->q[(r->q_head + i) % r->q_cap];
        if (l.idx >= min_idx)
            rc = sw_record(fj, c, r, l);
    }
    r->q_n = 0;
    r->q_head = 0;
    return rc;
}

static int sw_selected(const find_job *fj, mmk__chunk *c, lines_res *r, sline l) {
    int rc = sw_flush(fj, c, r, l.idx > fj->s_before ? l.idx - fj->s_before : 0);
    if (rc)
        return rc;
    l.selected = 1;
    r->after_left = fj->s_after;
    return sw_record(fj, c, r, l);
}

static int sw_other(const find_job *fj, mmk__chunk *c, lines_res *r, sline l) {
    l.selected = 0;
    if (r->after_left > 0) {
        r->after_left--;
        return sw_record(fj, c, r, l);
    }
    if (l.idx < fj->s_after)
        return sw_record(fj, c, r, l);
    return sw_queue(fj, r, l);
}

/* The subject's line starting at x, ending before b (a line start or the
   end of the owned bytes). */
static sline sw_line_at(mmk__chunk *c, size_t x, size_t b, uint64_t idx) {
    const uint8_t *q = x < b ? memchr(c->sub + x, '\n', b - x) : NULL;
    sline l;
    memset(&l, 0, sizeof l);
    l.off = c->sub_off + x;
    l.len = (q ? (size_t)(q - c->sub) : b) - x;
    l.idx = idx;
    l.newline = q != NULL;
    return l;
}

/* The lines [r->cur, b) of the subject, n of them, match nothing. */
static int sw_run(const find_job *fj, mmk__chunk *c, lines_res *r, size_t b, uint64_t n) {
    size_t a = r->cur;
    uint64_t i0 = r->cur_idx;
    int rc = 0;
    r->cur = b;
    r->cur_idx = i0 + n;
    if (n == 0)
        return 0;
    if (fj->invert) {
        /* every one is selected */
        for (uint64_t k = 0; k < n && rc == 0; k++) {
            sline l = sw_line_at(c, a, b, i0 + k);
            a = (size_t)(l.off + l.len - c->sub_off) + 1;
            rc = sw_selected(fj, c, r, l);
        }
        return rc;
    }
    /* None is selected: the first ones may be after-context (or the chunk's
       first lines), the last `before` ones wait in the queue; the lines in
       between are never needed and never looked at. */
    uint64_t head = fj->s_after > i0 ? fj->s_after - i0 : 0;
    uint64_t kf = r->after_left > head ? r->after_left : head;
    if (kf > n)
        kf = n;
    r->after_left = r->after_left > kf ? r->after_left - kf : 0;
    for (uint64_t k = 0; k < kf && rc == 0; k++) {
        sline l = sw_line_at(c, a, b, i0 + k);
        a = (size_t)(l.off + l.len - c->sub_off) + 1;
        rc = sw_record(fj, c, r, l);
    }
    uint64_t rest = n - kf, nq = rest < fj->s_before ? rest : fj->s_before;
    if (rc || nq == 0)
        return rc;
    if (r->tmp_cap < nq) {
        size_t *nv = realloc(r->tmp, (size_t)nq * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        r->tmp = nv;
        r->tmp_cap = (size_t)nq;
    }
    /* the starts of the last nq lines, walking back from b */
    size_t y = b;
    for (uint64_t k = 0; k < nq; k++) {
        size_t end = y > a && c->sub[y - 1] == '\n' ? y - 1 : y;
        const uint8_t *q = end > a ? mmk__memrchr(c->sub + a, '\n', end - a) : NULL;
        y = q ? (size_t)(q - c->sub) + 1 : a;
        r->tmp[nq - 1 - k] = y;
    }
    for (uint64_t k = 0; k < nq && rc == 0; k++) {
        sline l = sw_line_at(c, r->tmp[k], b, i0 + n - nq + k);
        rc = sw_queue(fj, r, l);
    }
    return rc;
}

/* A matching line [x, y) with index idx: the lines before it since the last
   one match nothing. */
static int sw_match(const find_job *fj, mmk__chunk *c, lines_res *r, size_t x, size_t y,
                    uint64_t idx, uint64_t matches, size_t span0) {
    if (!fj->s_numbers)
        idx = r->cur_idx; /* lines not counted: no context, so no line between matters */
    int rc = sw_run(fj, c, r, x, idx - r->cur_idx);
    if (rc)
        return rc;
    sline l;
    memset(&l, 0, sizeof l);
    l.off = c->sub_off + x;
    l.len = y - x;
    l.idx = idx;
    l.matches = matches;
    l.span0 = span0;
    l.nsp = r->spans.n - span0;
    l.newline = y < c->sub_len && c->sub[y] == '\n';
    r->cur = l.newline ? y + 1 : y;
    r->cur_idx = idx + 1;
    return fj->invert ? sw_other(fj, c, r, l) : sw_selected(fj, c, r, l);
}

/* The end of the chunk's lines (total of them): the chunk's last `before`
   lines not recorded yet are recorded. */
static int sw_finish(const find_job *fj, mmk__chunk *c, lines_res *r, uint64_t total) {
    return sw_flush(fj, c, r, total > fj->s_before ? total - fj->s_before : 0);
}

static int lines_chunk_run(mmk__job *j, void *wctx, mmk__chunk *c) {
    find_job *fj = mmk__job_spec(j)->user;
    lines_res *r = c->res;
    r->count = 0;
    r->mlines = 0;
    r->owned = 0;
    r->nrecs = 0;
    r->q_n = 0;
    r->q_head = 0;
    r->after_left = 0;
    r->cur_idx = 0;
    r->nl = 0;
    r->spans.n = 0;
    r->arena_len = 0;
    r->sub_off = c->sub_off;
    r->sub = c->sub;
    /* Bytes of unmapped memory (bytes inputs, stream buffers) stay until the
       merge; pread buffers move on and mapped bytes must not reach the
       callback unguarded, so those lines are copied. */
    r->in_place = (j->kind == SRC_MEM && !j->mapped) || j->kind == SRC_STREAM;
    mmk__scratch *sc = wctx_scratch(wctx, fj->p);
    if (!sc)
        return -ENOMEM;
    const uint8_t *sub = c->sub;
    size_t slen = c->sub_len;
    /* Owned region [ls, le) in subject offsets: from the first line start at
       or after s to the first line start at or after e. */
    size_t s = (size_t)(c->s - c->sub_off), e = (size_t)(c->e - c->sub_off), ls, le;
    if (c->s == 0) {
        ls = 0;
    } else {
        /* Only [s - 1, e - 1) is looked at: chunks inside a long line own
           nothing and cost no walk to its end. */
        const uint8_t *q = e > s ? memchr(sub + (s - 1), '\n', e - s) : NULL;
        ls = q ? (size_t)(q - sub) + 1 : e;
    }
    if (ls >= e || ls >= slen)
        return 0;
    size_t open_at = SIZE_MAX; /* start of a line too long to hold, searched piecewise */
    if (c->line_open) {
        const uint8_t *q = mmk__memrchr(sub + ls, '\n', slen - ls);
        le = q ? (size_t)(q - sub) + 1 : ls;
        open_at = le;
    } else {
        const uint8_t *q = memchr(sub + (e - 1), '\n', slen - (e - 1));
        le = q ? (size_t)(q - sub) + 1 : slen;
    }
    int rc = 0;
    r->cur = ls;
    if (le > ls)
        rc = lines_region(j, fj, sc, c, r, ls, le);
    if (rc == 0 && fj->mode == MODE_SEARCH && fj->s_numbers) {
        r->owned = le > ls ? r->nl + (sub[le - 1] != '\n') : 0;
        if (fj->s_records)
            rc = sw_run(fj, c, r, le, r->owned - r->cur_idx);
    } else if (rc == 0 && fj->mode == MODE_SEARCH && fj->s_lines) {
        /* Lines not counted: the records are numbered in order. */
        r->owned = r->cur_idx;
        r->cur = le;
    }
    if (rc == 0 && open_at != SIZE_MAX)
        rc = lines_long_line(j, fj, sc, c, r, open_at);
    if (rc == 0 && fj->mode == MODE_SEARCH && fj->s_records)
        rc = sw_finish(fj, c, r, r->owned);
    return rc;
}

/* The complete lines [ls, le) of chunk c's subject (le ends a line). */
static int lines_region(mmk__job *j, find_job *fj, mmk__scratch *sc, mmk__chunk *c, lines_res *r,
                        size_t ls, size_t le) {
    (void)j;
    const uint8_t *sub = c->sub;
    /* The lines as one buffer: [ls, end) without the last line's '\n'. */
    size_t end = sub[le - 1] == '\n' ? le - 1 : le;
    int lines_mode = fj->s_numbers;
    uint64_t nl = 0;
    size_t nl_at = ls;
    int rc = 0;
    /* Where the line-by-line search starts: at once for patterns that are
       not buffer-safe; where a buffer search hit PCRE2's limit otherwise (a
       search across many lines can reach a limit that no line alone reaches,
       and grep -P answers per line: the lines then settle it, and a limit
       they reach is reported at that line's start). */
    size_t slow_from = ls;
    if (mmk__lines_buffer_safe(fj->p)) {
        size_t pos = ls, a = 0, b = 0;
        /* Bytes that buffer matches ran past their own lines: each such
           search costs about that much, and settles only its line (grep -c
           'lord[^q]*god' on text without a 'q': every line with "lord" a
           search to the region's last "god", 7.4 s for 100 MB). Past the
           region's size in all, the rest of the region goes line by line. */
        size_t overrun = 0;
        const size_t overrun_max = (end - ls) + ((size_t)64 << 10);
        slow_from = SIZE_MAX;
        while (pos <= end) {
            int f = mmk__find(fj->p, sc, sub, end, pos, end + 1, 0, &a, &b);
            if (f == MMK_ELIMIT) {
                slow_from = pos; /* a line start */
                break;
            }
            if (f < 0) {
                c->err_off = (int64_t)(c->sub_off + pos);
                return f;
            }
            if (f == 0)
                break;
            const uint8_t *lq = a > pos ? mmk__memrchr(sub + pos, '\n', a - pos) : NULL;
            size_t x = lq ? (size_t)(lq - sub) + 1 : pos;
            const uint8_t *yq = a < end ? memchr(sub + a, '\n', end - a) : NULL;
            size_t y = yq ? (size_t)(yq - sub) : end;
            if (lines_mode) {
                nl += mmk__count_newlines(sub + nl_at, x - nl_at);
                nl_at = x;
            }
            /* A match without '\n' is the first match of its line alone
               too: the pattern is buffer-safe (every way through it that
               stays in the line answers the same in the buffer and on the
               line alone, so PCRE2 tries the same starts in the same order
               and takes the same way), and no match starts in the buffer
               between pos (a line start) and a. The line's other matches
               are searched for on the line alone, as a match with '\n'
               settles nothing about it. */
            int inside = b <= y;
            rc = lines_take(fj, sc, c, r, sub, x, y, nl, inside ? a : SIZE_MAX,
                            inside ? b : SIZE_MAX);
            if (rc)
                return rc;
            pos = y + 1;
            if (!inside) {
                overrun += b - y;
                if (overrun > overrun_max && pos <= end) {
                    __atomic_add_fetch(&mmk__scan_lines_overruns, 1, __ATOMIC_RELAXED);
                    slow_from = pos; /* a line start */
                    break;
                }
            }
        }
    }
    if (slow_from != SIZE_MAX) {
        nl += mmk__count_newlines(sub + nl_at, slow_from - nl_at);
        for (size_t x = slow_from; x <= end;) {
            const uint8_t *yq = x < end ? memchr(sub + x, '\n', end - x) : NULL;
            size_t y = yq ? (size_t)(yq - sub) : end;
            rc = lines_take(fj, sc, c, r, sub, x, y, nl, SIZE_MAX, SIZE_MAX);
            if (rc)
                return rc;
            nl++;
            x = y + 1;
        }
        nl_at = le;
        if (sub[le - 1] != '\n')
            nl--;
    }
    if (lines_mode)
        r->nl = nl + mmk__count_newlines(sub + nl_at, le - nl_at);
    return 0;
}

/* ---- the search's merge: lines and gaps in input order ------------------ */

/* A line the merge has seen but not handed out, kept (bytes and spans
   copied, since its chunk's storage is reused) in case a selected line
   follows within `before` lines. */
typedef struct ring_ent {
    uint64_t line_no, off, len, matches;
    int newline, lazy;
    uint8_t *text;
    size_t text_cap;
    mmk_span *spans;
    size_t nsp, sp_cap;
} ring_ent;

struct search_ring {
    ring_ent *v;
    size_t cap, n, head; /* circular, at most `before` entries */
};

static void ring_free(search_ring *rg) {
    if (!rg)
        return;
    for (size_t i = 0; i < rg->cap; i++) {
        free(rg->v[i].text);
        free(rg->v[i].spans);
    }
    free(rg->v);
    free(rg);
}

/* The spans of record l as mmk_spans relative to its line, in fj->sp_buf. */
static int search_spans(find_job *fj, const lines_res *r, const sline *l) {
    if (fj->sp_cap < l->nsp) {
        mmk_span *nv = realloc(fj->sp_buf, l->nsp * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        fj->sp_buf = nv;
        fj->sp_cap = l->nsp;
    }
    for (size_t i = 0; i < l->nsp; i++) {
        fj->sp_buf[i].start = (size_t)(r->spans.v[l->span0 + i].a - l->off);
        fj->sp_buf[i].end = (size_t)(r->spans.v[l->span0 + i].b - l->off);
    }
    return 0;
}

/* A long line's bytes, read back (pread sources only). */
static int search_lazy_text(mmk__job *j, find_job *fj, uint64_t off, uint64_t len,
                            const char **text) {
    if (len > SIZE_MAX - 1)
        return -ENOMEM;
    int rc = buf_reserve(&fj->lazy_buf, &fj->lazy_cap, (size_t)len + 1);
    if (rc == 0 && len)
        rc = job_pread(j, fj->lazy_buf, (size_t)len, off);
    *text = (const char *)fj->lazy_buf;
    return rc;
}

/* Hand one line to the sink, after a gap where it does not follow the last
   line handed out and context was asked for. Spans are given for the lines
   grep calls matching: selected ones, or context ones when inverted. */
static int search_emit(mmk__job *j, find_job *fj, uint64_t line_no, uint64_t off, uint64_t len,
                       const char *text, int lazy, int newline, uint64_t matches, int kind,
                       const mmk_span *spans, size_t nsp) {
    int rc = 0;
    if ((fj->s_before || fj->s_after) && fj->last_out && line_no != fj->last_out + 1 &&
        fj->sink->gap)
        rc = fj->sink->gap(fj->sink->user);
    fj->last_out = line_no;
    if (rc || !fj->sink->line)
        return rc;
    /* Without text (mmk_matches' spans) a long line is not read back and
       bytes is "" whatever len says: that sink never reads them. */
    if (lazy && fj->s_text && (rc = search_lazy_text(j, fj, off, len, &text)) != 0)
        return rc;
    if (!fj->s_text)
        text = "";
    mmk_line ln;
    memset(&ln, 0, sizeof ln);
    ln.bytes = len ? text : "";
    ln.len = (size_t)len;
    ln.line_no = fj->no_numbers ? 0 : line_no;
    ln.offset = off;
    ln.kind = kind;
    ln.newline = newline;
    ln.matches = matches;
    if (fj->s_spans && (kind == MMK_LINE_SELECTED) != fj->invert) {
        static const mmk_span no_spans[1];
        ln.spans = spans ? spans : no_spans; /* non-NULL even when there are none */
        ln.nspans = spans ? nsp : 0;
    }
    return fj->sink->line(&ln, fj->sink->user);
}

static const char *rec_text(const lines_res *r, const sline *l) {
    const uint8_t *base = r->in_place ? r->sub : r->arena;
    return base && l->len ? (const char *)base + l->text : "";
}

static int search_emit_rec(mmk__job *j, find_job *fj, const lines_res *r, const sline *l,
                           uint64_t line_no, int kind) {
    int spans = fj->s_spans && (kind == MMK_LINE_SELECTED) != fj->invert;
    if (spans) {
        int rc = search_spans(fj, r, l);
        if (rc)
            return rc;
    }
    return search_emit(j, fj, line_no, l->off, l->len, l->lazy ? NULL : rec_text(r, l), l->lazy,
                       l->newline, l->matches, kind, spans ? fj->sp_buf : NULL, l->nsp);
}

/* Keep record l (line line_no) in the ring. */
static int ring_push(find_job *fj, const lines_res *r, const sline *l, uint64_t line_no) {
    search_ring *rg = fj->ring;
    if (!rg && !(rg = fj->ring = calloc(1, sizeof *rg)))
        return -ENOMEM;
    if (rg->n == rg->cap && rg->cap < fj->s_before) {
        size_t cap = rg->cap ? rg->cap * 2 : 8;
        if (cap > fj->s_before)
            cap = (size_t)fj->s_before;
        ring_ent *nv = calloc(cap, sizeof *nv);
        if (!nv)
            return -ENOMEM;
        for (size_t i = 0; i < rg->cap; i++)
            nv[i] = rg->v[(rg->head + i) % rg->cap];
        free(rg->v);
        rg->v = nv;
        rg->cap = cap;
        rg->head = 0;
    }
    ring_ent *e;
    if (rg->n < rg->cap) {
        e = &rg->v[(rg->head + rg->n) % rg->cap];
        rg->n++;
    } else {
        e = &rg->v[rg->head];
        rg->head = (rg->head + 1) % rg->cap;
    }
    e->line_no = line_no;
    e->off = l->off;
    e->len = l->len;
    e->matches = l->matches;
    e->newline = l->newline;
    e->lazy = l->lazy;
    e->nsp = 0;
    if (!l->lazy) {
        int rc = buf_reserve(&e->text, &e->text_cap, (size_t)l->len + 1);
        if (rc)
            return rc;
        if (l->len)
            memcpy(e->text, rec_text(r, l), (size_t)l->len);
    }
    /* As before-context it is a context line: spans only when inverted. */
    if (fj->s_spans && fj->invert) {
        int rc = search_spans(fj, r, l);
        if (rc == 0 && e->sp_cap < l->nsp) {
            mmk_span *nv = realloc(e->spans, l->nsp * sizeof *nv);
            if (!nv)
                rc = -ENOMEM;
            else {
                e->spans = nv;
                e->sp_cap = l->nsp;
            }
        }
        if (rc)
            return rc;
        if (l->nsp)
            memcpy(e->spans, fj->sp_buf, l->nsp * sizeof *e->spans);
        e->nsp = l->nsp;
    }
    return 0;
}

/* Hand out the ring's lines that are before-context of line line_no; empty it. */
static int ring_flush(mmk__job *j, find_job *fj, uint64_t line_no) {
    search_ring *rg = fj->ring;
    if (!rg)
        return 0;
    uint64_t from = line_no > fj->s_before ? line_no - fj->s_before : 1;
    int rc = 0;
    for (size_t i = 0; i < rg->n && rc == 0; i++) {
        ring_ent *e = &rg->v[(rg->head + i) % rg->cap];
        if (e->line_no < from || e->line_no <= fj->last_out || e->line_no >= line_no)
            continue;
        rc = search_emit(j, fj, e->line_no, e->off, e->len, (const char *)e->text, e->lazy,
                         e->newline, e->matches, MMK_LINE_CONTEXT, e->spans, e->nsp);
    }
    rg->n = 0;
    rg->head = 0;
    return rc;
}

/* The end by max_count: the merge's stop value, which mmk_search turns into 0. */
static int search_done(find_job *fj) {
    fj->done = 1;
    return 1;
}

static int search_merge(mmk__job *j, mmk__chunk *c) {
    find_job *fj = mmk__job_spec(j)->user;
    lines_res *r = c->res;
    mmk_search_result *res = fj->sres;
    if (!fj->s_records) {
        /* Counting only: whole chunks at a time. */
        uint64_t sel = fj->invert ? r->owned - r->mlines : r->mlines;
        if (fj->limited && res->selected + sel >= fj->max_count) {
            res->selected = fj->max_count;
            res->stopped = 1;
            return search_done(fj);
        }
        res->selected += sel;
        if (!fj->invert)
            res->matches += r->count;
        return 0;
    }
    uint64_t base = fj->nl_before;
    int rc = 0;
    for (size_t i = 0; i < r->nrecs; i++) {
        const sline *l = &r->recs[i];
        uint64_t no = base + l->idx + 1;
        if (fj->limit_hit) {
            /* Only the trailing context is still given, whatever it holds. */
            if (no > fj->after_until)
                return search_done(fj);
            rc = search_emit_rec(j, fj, r, l, no, MMK_LINE_CONTEXT);
        } else if (l->selected) {
            res->selected++;
            if (!fj->invert)
                res->matches += l->matches;
            if (!fj->count_only) {
                rc = ring_flush(j, fj, no);
                if (rc == 0)
                    rc = search_emit_rec(j, fj, r, l, no, MMK_LINE_SELECTED);
            }
            fj->after_until = no + fj->s_after;
            if (fj->limited && res->selected == fj->max_count) {
                fj->limit_hit = 1;
                res->stopped = 1;
                if (rc == 0 && (fj->count_only || fj->s_after == 0))
                    return search_done(fj);
            }
        } else if (no <= fj->after_until) {
            rc = search_emit_rec(j, fj, r, l, no, MMK_LINE_CONTEXT);
        } else if (fj->s_before) {
            rc = ring_push(fj, r, l, no);
        }
        if (rc)
            return rc;
    }
    fj->nl_before += r->nl;
    if (fj->limit_hit && base + r->owned >= fj->after_until)
        return search_done(fj);
    return 0;
}

/*
 * The line searcher: every MMK_PAT_LINES job runs here, as mmk_search with a
 * sink (mmk_count: counting only; mmk_matches: the spans of the selected
 * lines; mmk_match_lines: the selected lines). `text` 0: the sink never reads
 * the lines' bytes (spans only), so workers copy none and long lines are not
 * read back. The options are valid (mmk_search checks the caller's).
 */
static int search_run(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                      const mmk_search_options *so, const mmk_sink *sink, mmk_search_result *res,
                      int text) {
    memset(res, 0, sizeof *res);
    if ((so->flags & MMK_SEARCH_MAX_COUNT) && so->max_count == 0) {
        if (opt && opt->error_offset)
            *opt->error_offset = -1;
        res->stopped = 1; /* grep -m 0: nothing is selected, nothing read */
        return 0;
    }
    find_job fj;
    memset(&fj, 0, sizeof fj);
    fj.p = p;
    fj.mode = MODE_SEARCH;
    fj.sink = sink;
    fj.sres = res;
    fj.invert = (so->flags & MMK_SEARCH_INVERT) != 0;
    fj.limited = (so->flags & MMK_SEARCH_MAX_COUNT) != 0;
    fj.count_only = (so->flags & MMK_SEARCH_COUNT_ONLY) != 0;
    fj.max_count = so->max_count;
    fj.grep_step = (so->flags & MMK_SEARCH_GREP_STEP) != 0;
    fj.first_only =
        (so->flags & MMK_SEARCH_FIRST_MATCH) != 0 && (so->flags & MMK_SEARCH_SPANS) == 0;
    if (!fj.count_only) {
        fj.s_before = so->before;
        fj.s_after = so->after;
        fj.s_spans = (so->flags & MMK_SEARCH_SPANS) != 0;
        fj.s_text = text;
    }
    /* Counting needs no record of the lines, except the first max_count
       matching ones' counts (inverted: the number of lines does). */
    fj.s_records = !fj.count_only || (fj.limited && !fj.invert);
    fj.s_lines = fj.s_records || fj.invert;
    /* Lines are counted for the sink's numbers, and wherever the merge
       reasons in line numbers: context, and inverted selection (whose
       records are every line). */
    fj.no_numbers = (so->flags & MMK_SEARCH_NO_LINE_NUMBERS) != 0;
    fj.s_numbers =
        fj.s_lines && (fj.invert || fj.s_before || fj.s_after || !(fj.no_numbers || fj.count_only));

    mmk__jobspec spec = {0};
    spec.res_size = sizeof(lines_res);
    spec.wctx_size = sizeof(find_wctx);
    spec.before = 1; /* a chunk sees the byte before s: is s a line start? */
    spec.line_cut = 1;
    spec.bulky_res = fj.s_records && fj.s_text;
    spec.stops_early = fj.limited;
    spec.res_bytes = lines_res_bytes;
    spec.chunk = lines_chunk_run;
    spec.merge = search_merge;
    spec.res_free = lines_res_free;
    spec.wctx_free = find_wctx_free;
    spec.user = &fj;
    int rc = mmk__scan_run(&spec, in, opt);
    find_job_free(&fj);
    if (fj.done && rc == 1)
        rc = 0; /* max_count ended it */
    return rc;
}

/* mmk_matches over lines: each span of each matching line. */
typedef struct spans_sink {
    int (*cb)(uint64_t start, uint64_t end, void *user);
    void *user;
} spans_sink;

static int spans_sink_line(const mmk_line *l, void *user) {
    spans_sink *ss = user;
    for (size_t i = 0; i < l->nspans; i++) {
        int rc = ss->cb(l->offset + l->spans[i].start, l->offset + l->spans[i].end, ss->user);
        if (rc)
            return rc;
    }
    return 0;
}

/* mmk_match_lines over lines: the selected lines. */
typedef struct lines_sink {
    int (*cb)(const char *line, size_t len, uint64_t line_no, uint64_t offset, uint64_t matches,
              void *user);
    void *user;
} lines_sink;

static int lines_sink_line(const mmk_line *l, void *user) {
    lines_sink *ls = user;
    return ls->cb(l->bytes, l->len, l->line_no, l->offset, l->matches, ls->user);
}

int mmk_count(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
              uint64_t *count) {
    if (!p || !in || !count)
        return -EINVAL;
    if (p->flags & MMK_PAT_LINES) {
        mmk_search_options so = {0};
        mmk_search_result res;
        mmk_sink sink = {0};
        so.flags = MMK_SEARCH_COUNT_ONLY;
        int rc = search_run(p, in, opt, &so, &sink, &res, 0);
        if (rc == 0)
            *count = res.matches;
        return rc;
    }
    find_job fj;
    memset(&fj, 0, sizeof fj);
    fj.p = p;
    fj.mode = MODE_COUNT;
    int rc = run_find(&fj, in, opt);
    if (rc == 0)
        *count = fj.count;
    return rc;
}

int mmk_matches(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                int (*cb)(uint64_t start, uint64_t end, void *user), void *user) {
    if (!p || !in || !cb)
        return -EINVAL;
    if (p->flags & MMK_PAT_LINES) {
        mmk_search_options so = {0};
        mmk_search_result res;
        spans_sink ss = {cb, user};
        mmk_sink sink = {spans_sink_line, NULL, &ss};
        so.flags = MMK_SEARCH_SPANS;
        return search_run(p, in, opt, &so, &sink, &res, 0);
    }
    find_job fj;
    memset(&fj, 0, sizeof fj);
    fj.p = p;
    fj.mode = MODE_SPANS;
    fj.span_cb = cb;
    fj.user = user;
    return run_find(&fj, in, opt);
}

int mmk_match_lines(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                    int (*cb)(const char *line, size_t len, uint64_t line_no, uint64_t offset,
                              uint64_t matches, void *user),
                    void *user, uint64_t *matched_lines) {
    if (!p || !in || !cb)
        return -EINVAL;
    if (p->flags & MMK_PAT_LINES) {
        mmk_search_options so = {0};
        mmk_search_result res;
        lines_sink ls = {cb, user};
        mmk_sink sink = {lines_sink_line, NULL, &ls};
        int rc = search_run(p, in, opt, &so, &sink, &res, 1);
        if (rc >= 0 && matched_lines)
            *matched_lines = res.selected;
        return rc;
    }
    find_job fj;
    memset(&fj, 0, sizeof fj);
    fj.p = p;
    fj.mode = MODE_LINES;
    fj.line_cb = cb;
    fj.user = user;
    int rc = run_find(&fj, in, opt);
    if (rc >= 0 && matched_lines)
        *matched_lines = fj.matched_lines;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The searcher's public entry                                               */
/* ------------------------------------------------------------------------ */

int mmk__search_prepare(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
                        const mmk_search_options **so, const mmk_sink **sink,
                        mmk_search_result **res, mmk__search_defaults *d) {
    memset(d, 0, sizeof *d);
    if (!*so)
        *so = &d->so;
    if (!*sink)
        *sink = &d->sink;
    if (!*res)
        *res = &d->res;
    memset(*res, 0, sizeof **res);
    if (opt && opt->error_offset)
        *opt->error_offset = -1;
    if (!p || !in || !(p->flags & MMK_PAT_LINES))
        return -EINVAL;
    if ((*so)->flags & ~(unsigned)(MMK_SEARCH_INVERT | MMK_SEARCH_SPANS | MMK_SEARCH_MAX_COUNT |
                                   MMK_SEARCH_GREP_STEP | MMK_SEARCH_FIRST_MATCH |
                                   MMK_SEARCH_COUNT_ONLY | MMK_SEARCH_NO_LINE_NUMBERS))
        return -EINVAL;
    return 0;
}

int mmk_search(const mmk_pattern *p, const mmk_input *in, const mmk_scan_options *opt,
               const mmk_search_options *so, const mmk_sink *sink, mmk_search_result *res) {
    mmk__search_defaults d;
    int rc = mmk__search_prepare(p, in, opt, &so, &sink, &res, &d);
    if (rc)
        return rc;
    return search_run(p, in, opt, so, sink, res, 1);
}
