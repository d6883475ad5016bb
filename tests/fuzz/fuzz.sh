#!/bin/sh
# make fuzz: run every libFuzzer target for SECONDS each. The targets come
# from BUILD itself when it is a clang tree, else from BUILD/clang (built here
# if needed). Inputs found stay in BUILD/fuzz-work/<target>/corpus, so each
# run continues where the last one stopped; crash reproducers land in
# BUILD/fuzz-work/<target>/ and the run stops with the failure.
# Usage: fuzz.sh BUILD SECONDS
set -e
build=$1
secs=${2:-300}
src=$(cd "$(dirname "$0")/../.." && pwd)
targets="fuzz_pattern fuzz_words fuzz_cli"
if grep -q '^CMAKE_C_COMPILER_ID:.*Clang' "$build/CMakeCache.txt" 2>/dev/null ||
   grep -q 'CMAKE_C_COMPILER:.*clang' "$build/CMakeCache.txt" 2>/dev/null; then
  cmake --build "$build" --target $targets
  bin="$build/tests"
else
  rc=0
  # The main tree's MMK_FUZZ_LINES holds for the clang tree too.
  lines=$(sed -n 's/^MMK_FUZZ_LINES:BOOL=//p' "$build/CMakeCache.txt" 2>/dev/null)
  sh "$src/tests/fuzz/clang-tree.sh" "$src" "$build/clang" -DMMK_FUZZ_LINES=${lines:-ON} $targets || rc=$?
  [ $rc = 77 ] && exit 0
  [ $rc = 0 ] || exit $rc
  bin="$build/clang/tests"
fi
status=0
mkdir -p "$build/fuzz-work"
for t in $targets; do
  extra=""
  [ "$t" = fuzz_cli ] && extra=-close_fd_mask=2
  log="$build/fuzz-work/$t.log"
  echo "== $t: $secs s (log: $log)"
  if sh "$src/tests/fuzz/run.sh" "$bin/$t" "$secs" "$src/tests/fuzz/corpus/$t" \
    "$build/fuzz-work/$t" $extra >"$log" 2>&1; then
    grep -E '^(INFO: seed corpus|Done |stat::number_of_executed_units|stat::peak_rss)' "$log" || true
  else
    grep -v -E '^#[0-9]+.*(NEW|REDUCE|pulse|RELOAD)' "$log" | tail -60
    echo "== $t FAILED (reproducer above, full log: $log)"
    status=1
  fi
done
exit $status
