/*
 * matcher.h — the internal matcher interface (what matches), between the
 * pattern compilers (literal.c, regex.c, pattern.c) and the searcher (scan.c).
 *
 * A matcher answers one question: where is the leftmost match at or after a
 * position. The searcher builds every count, span list and line report out of
 * that, and owns chunking, threads and exactness across chunk boundaries.
 */
#ifndef MMK_MATCHER_H
#define MMK_MATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "mmkit.h"

/* Per-thread matching state (PCRE2 match data, literal scratch). One per
   thread; created for a pattern and used only with that pattern. */
typedef struct mmk__scratch mmk__scratch;

/* New scratch for `p`; NULL when out of memory. The caller frees it. */
mmk__scratch *mmk__scratch_new(const mmk_pattern *p);
void mmk__scratch_free(mmk__scratch *s);

/*
 * Leftmost match M of `p` in subject[0, len) with pos <= M.start < limit
 * (pos <= limit <= len + 1: limit len + 1 lets an empty match start at len, as
 * the searcher's last chunk needs). The match may extend up to len. Bytes before pos are
 * context only (lookbehind, \b, whole-word checks see them); byte len is the
 * end of input for lookahead and whole-word checks. When notempty_at_pos is
 * non-zero, an empty match at pos is not allowed (a non-empty one at pos, or any
 * match further on, is): that is how Python's re continues after an empty match.
 *
 * Returns 1 and sets *mstart, *mend when found; 0 when there is none; a negative
 * code on failure: MMK_ELIMIT when PCRE2's match, depth, heap or JIT-stack
 * limit stopped the search (catastrophic backtracking), -ENOMEM.
 * Reads mapped memory: callers run it under the fault guard.
 */
int mmk__find(const mmk_pattern *p, mmk__scratch *s, const uint8_t *subject, size_t len, size_t pos,
              size_t limit, int notempty_at_pos, size_t *mstart, size_t *mend);

/*
 * The capture group `group` (1 .. mmk_pattern_groups(p)) of the match the
 * last successful mmk__find with this scratch returned: sets *gstart, *gend
 * (offsets in that call's subject) and returns 1; 0 when the group did not
 * take part in the match; -EINVAL for a group the pattern does not have
 * (literal patterns have none: group 0 is the match mmk__find returned).
 */
int mmk__find_group(const mmk_pattern *p, mmk__scratch *s, int group, size_t *gstart, size_t *gend);

/* Longest possible match in bytes, or SIZE_MAX when unbounded (most regexes). */
size_t mmk__max_match_len(const mmk_pattern *p);

/* Bytes of context before a match start the matcher may look at (lookbehind,
   \b, -w): 0 for a plain literal, 1 for -w, PCRE2's max lookbehind otherwise. */
size_t mmk__max_lookbehind(const mmk_pattern *p);

/* 1 if the pattern can match the empty string. */
int mmk__can_match_empty(const mmk_pattern *p);

/* 1 if every match is a fixed literal (possibly -i / -w) handled by literal.c. */
int mmk__is_literal(const mmk_pattern *p);

/* 1 if no match can contain '\n' (literal without '\n'; regex where PCRE2 says so
   is not knowable in general: then 0). Lets the searcher split on lines. */
int mmk__match_excludes_newline(const mmk_pattern *p);

/* For MMK_PAT_LINES patterns: 1 when searching a buffer of many lines and
   then confirming each candidate's line on its own finds every line that has
   a match (the pattern has no lookaround, \A, \z, \Z, (?-m), leading
   (*OPTION) other than limits, and no atomic or possessive item or verb that
   could commit to a way through a '\n': no item whose answer differs between
   "this line alone" and "this line inside a buffer"); 0 when each line must
   be searched alone. Decided from PCRE2's own tokens of the pattern. */
int mmk__lines_buffer_safe(const mmk_pattern *p);

/*
 * Streaming search (PCRE2 partial matching): as mmk__find, but subject[0, len)
 * is only what has arrived so far and more bytes may follow. Returns 1 with
 * a match that no further byte can change; 0 when no match starts in [pos,
 * limit) whatever follows; 2 when a match starting at *mstart or later may
 * need bytes not read yet (every start before *mstart fails whatever
 * follows): the caller keeps the bytes from *mstart - mmk__max_lookbehind(p)
 * on, appends more and searches again from *mstart. Negative code on failure
 * (MMK_ELIMIT for the backtracking limits). When no byte will follow, call
 * mmk__find instead.
 */
int mmk__find_partial(const mmk_pattern *p, mmk__scratch *s, const uint8_t *subject, size_t len,
                      size_t pos, size_t limit, int notempty_at_pos, size_t *mstart, size_t *mend);

/* 0 when mmk__find_partial can say nothing before the input ends: a regex
   with (*ACCEPT), whose partial results PCRE2 gets wrong (a stream of small
   reads counted more matches than the whole input in memory). It then
   answers 2 at pos until the end comes; callers that can (regex counts of
   files) keep such patterns in memory instead. */
int mmk__partial_exact(const mmk_pattern *p);

#endif
