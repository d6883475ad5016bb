/*
 * tally_hooks.h — what tests may set in tally.c (counts per value): which
 * search a buffer of lines gets, so that both are compared with the
 * reference whatever the input's density would choose.
 */
#ifndef MMK_TALLY_HOOKS_H
#define MMK_TALLY_HOOKS_H

enum {
    MMK__TALLY_ROUTE_AUTO = 0,    /* by the last region's matches per byte */
    MMK__TALLY_ROUTE_MATCHER = 1, /* always mmk__find (the prefilter where the pattern has one) */
    MMK__TALLY_ROUTE_REGEX = 2    /* always PCRE2 alone for regex patterns */
};

/* MMK__TALLY_ROUTE_*; set only while no count is running (tests). */
extern int mmk__tally_route;

#endif
