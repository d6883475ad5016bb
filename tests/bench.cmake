# The log benchmarks' machinery, untimed (timings never belong in tests):
# bench/logs/bench_logs.py --self-test checks its parsing of every tool's
# output and its answer comparisons, and generates a small corpus with
# bench/logs/gen_logs.py twice: the same bytes for the same seed, every line
# in its format, times in order over the month, the gzip/zstd copies equal to
# the log, the tree complete.
find_program(MMK_BENCH_PYTHON3 NAMES python3 python)
if(MMK_BENCH_PYTHON3)
  add_test(NAME bench_logs_selftest
    COMMAND ${MMK_BENCH_PYTHON3} ${PROJECT_SOURCE_DIR}/bench/logs/bench_logs.py --self-test)
  set_tests_properties(bench_logs_selftest PROPERTIES LABELS "bench" TIMEOUT 120)
endif()
