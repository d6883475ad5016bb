#!/bin/sh
# Run one libFuzzer target for a while: first over its seed corpus, then
# fuzzing. New inputs go to WORK/corpus (never into the source tree), crash
# reproducers to WORK/crash-*. Exit 77 (skipped) when the target was not built.
# Usage: run.sh FUZZER SECONDS SEEDS WORK [libFuzzer options...]
exe=$1
secs=$2
seeds=$3
work=$4
shift 4
if [ ! -x "$exe" ]; then
  echo "skipped: $(basename "$exe") was not built (needs clang and libclang-rt-dev)"
  exit 77
fi
mkdir -p "$work/corpus"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:handle_sigbus=0:allow_user_segv_handler=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
exec "$exe" -max_total_time="$secs" -max_len=4096 -timeout=60 -rss_limit_mb=2048 \
  -print_final_stats=1 -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$work/" "$@" "$work/corpus" "$seeds"
