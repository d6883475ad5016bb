/*
 * capture.h — per-thread capture of mmk's output (cli/output.c).
 *
 * When several files are searched at once (cli/walk.c), each file's standard
 * output and standard error must reach the terminal whole and in walk order.
 * A worker thread makes out_* and cli_error* write into the capture of the
 * file it searches; whoever holds the output later writes the capture to the
 * real standard output and standard error, the two streams interleaved as
 * they were produced. A thread with no capture writes to the real outputs, as
 * before: the single-file path pays one thread-local load per call.
 */
#ifndef MMK_CLI_CAPTURE_H
#define MMK_CLI_CAPTURE_H

#include <stddef.h>

typedef struct out_capture out_capture;

/* Called (on the capturing thread, from inside an out_* call) when the
   capture holds more than its limit. The function may block; it either
   returns (the capture keeps growing) or calls out_capture_go_direct. */
typedef void (*out_capture_overflow_fn)(out_capture *c, void *user);

/* A new, empty capture; NULL when out of memory. `limit` (bytes of both
   streams) and `overflow` (may be NULL: no limit) as above. Free with
   out_capture_free. */
out_capture *out_capture_new(size_t limit, out_capture_overflow_fn overflow, void *user);
void out_capture_free(out_capture *c);

/* From now on, out_* and cli_error* on the calling thread write into `c`
   (NULL: to the real outputs again). The capture stays owned by the caller. */
void out_capture_begin(out_capture *c);
void out_capture_end(void);

/* Bytes held (both streams). */
size_t out_capture_size(const out_capture *c);

/* Write everything `c` holds to the real outputs, in the order it was
   produced (standard output through mmk's output buffer), and empty it. Only
   the thread that currently owns the real outputs may call this. */
void out_capture_emit(out_capture *c);

/* From inside an overflow function: emit what `c` holds and send the rest of
   this thread's output straight to the real outputs (the caller must own
   them until out_capture_end). */
void out_capture_go_direct(out_capture *c);

/* 1 when the calling thread currently writes into a capture. */
int out_capture_active(void);

#endif /* MMK_CLI_CAPTURE_H */
