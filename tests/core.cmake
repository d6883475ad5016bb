# Core tests (map.c, guard.c, os_unix.c, error.c): errors, every map
# operation and error path, the fault guard, multi-process scenarios and
# failure injection, views racing close/resize across threads.
mmk_add_c_test(test_error)
mmk_add_c_test(test_guard THREADS)
mmk_add_c_test(test_map)
mmk_add_c_test(test_map_name)
mmk_add_c_test(test_scenarios)
mmk_add_c_test(test_core_views THREADS)
mmk_add_c_test(test_map_space)
mmk_add_c_test(test_map_threads THREADS)
mmk_add_c_test(test_guard_order THREADS)
mmk_add_c_test(test_map_follow THREADS)
# Time ranges of logs (timerange.c): parsing, binary search against a linear
# reference on generated logs, truncation under the map.
mmk_add_c_test(test_timerange ENGINE)
