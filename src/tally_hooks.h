/*
 * tally_hooks.h — what tests may set in tally.c (counts per value): which
 * search a buffer of lines gets, so that each is compared with the
 * reference whatever the input's density would choose.
 */
#ifndef MMK_TALLY_HOOKS_H
#define MMK_TALLY_HOOKS_H

enum {
    MMK__TALLY_ROUTE_AUTO = 0,    /* by the last region's matches per byte */
    MMK__TALLY_ROUTE_MATCHER = 1, /* always mmk__find (the prefilter where the pattern has one) */
    MMK__TALLY_ROUTE_REGEX = 2,   /* always PCRE2 alone for regex patterns, a call per match */
    MMK__TALLY_ROUTE_SCAN = 3     /* always every match by one call (mmk__regex_scan_compile)
                                     where the pattern allows, else as REGEX */
};

/* MMK__TALLY_ROUTE_*; set only while no count is running (tests). */
extern int mmk__tally_route;

/* How many times a one-call search (MMK__TALLY_ROUTE_SCAN) was stopped by
   PCRE2 (a limit) and went on match by match (atomic, relaxed: tests read
   it between counts). */
extern unsigned long mmk__tally_scan_stops;

/* How many regions went line by line because matches holding a '\n' ran
   too far past their lines (tally_region; atomic, relaxed). */
extern unsigned long mmk__tally_overruns;

#endif
