/*
 * follow.h — `mmk grep --follow`: read a file as it grows, as `tail -F` does.
 */
#ifndef MMK_FOLLOW_H
#define MMK_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

/* Memory bound: when this many bytes of one line are waiting without its
   end, they are handed out as a piece (no '\n'; the next block goes on with
   the same line and line_no). A longer line that arrives whole within one
   read may be handed whole. The buffer stays under this plus one read (1 MiB). */
#ifndef FOLLOW_LINE_CAP /* a test build may make it small */
#define FOLLOW_LINE_CAP ((size_t)64 << 20)
#endif

/*
 * Follow `path` from its start (existing content first), as tail -F does: hand
 * complete lines (blocks of whole lines ending in '\n'; `offset` = file offset
 * of block start, `line_no` = 1-based number of its first line, both
 * restarting at 0/1 after truncation or rotation) to fn until interrupted
 * (SIGINT/SIGTERM -> returns EXIT_MATCH/EXIT_NOMATCH as grep's status would)
 * or fn returns non-zero. Truncation and rotation by rename are reported on
 * stderr like tail -F ("mmk: FILE: file truncated", "mmk: FILE has been
 * replaced; following new file"). Memory bounded (document the cap for one line).
 *
 * As built:
 * - A block ends in '\n' except (a) a piece of a line longer than
 *   FOLLOW_LINE_CAP (the next block continues the same line: same line_no)
 *   and (b) the unterminated last line of a file that is left for good
 *   (replaced, truncated) or of the file when the follow ends by a signal:
 *   it is handed out as it is, as grep would read it.
 * - Rotation by rename (or delete) and re-create: the old file is read to
 *   its end (a writer that has not reopened yet still reaches us), then the
 *   new one is opened. While the name is missing the old descriptor keeps
 *   being read and the name is watched; a name missing at the start is
 *   waited for ("mmk: FILE: No such file or directory; waiting for it to
 *   appear"), as tail -F does.
 * - Truncation is seen when the file is shorter than what was read; reading
 *   restarts at 0. A file truncated and written past its old size before
 *   the next look is not seen as truncated (tail -F has the same blind spot).
 * - Waiting uses inotify (the file and its directory) with a 1 s safety poll;
 *   without inotify it polls every 100 ms. Standard output is flushed before
 *   each wait, so lines appear as they are written.
 * - The status on SIGINT/SIGTERM: EXIT_MATCH when fn called
 *   follow_note_match() during this run, else EXIT_NOMATCH. When fn returns
 *   non-zero, that value is returned. An unreadable file (a directory, no
 *   permission, an I/O error) is reported on stderr and gives EXIT_TROUBLE.
 *   The handlers in place before are restored on return.
 */
int follow_run(const char *path,
               int (*fn)(const char *bytes, size_t len, uint64_t offset, uint64_t line_no,
                         void *user),
               void *user);

/* Called by fn when a block held a selected line: the status of an
   interrupted follow becomes EXIT_MATCH. */
void follow_note_match(void);

#endif /* MMK_FOLLOW_H */
