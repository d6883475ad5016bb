# The searcher (src/scan.c, src/words.c): counts, spans, matching lines, line
# counts and word frequencies against sequential references, over every input
# kind, chunk size and thread count (TSan runs them too).
mmk_add_c_test(test_scan THREADS ENGINE)
mmk_add_c_test(test_words THREADS ENGINE)
# mmk_search (the searcher and its sinks) against the reference searcher, and
# the reader input over every job.
mmk_add_c_test(test_search THREADS ENGINE)
# Counts cut into parts (mmk_count_part / _fix, what mmkit.dask runs on each
# worker) joined in order against mmk_count.
mmk_add_c_test(test_count_part ENGINE)
# The page-cache steering of regular files of 64 MiB and more: read-ahead
# hints, our map unmapped behind the scan, MMK_SCAN_NO_CACHE (mincore on Linux).
mmk_add_c_test(test_no_cache THREADS)
