#!/bin/sh
# Run the side-by-side benchmarks (make bench runs this after building).
#   sh bench/run.sh BUILD_DIR            full run: BENCHMARKS.md, bench/results.json,
#                                        bench/benchmarks.png (about 6-8 minutes)
#   sh bench/run.sh BUILD_DIR --quick    smoke check on the 44 MB text, one run per
#                                        tool; writes to BUILD_DIR/bench-quick/ only
# Further options go to bench/bench.py (--runs N, --only JOB,JOB, --out DIR).
# Exit status: 0 when every tool ran and every count agreed, 1 otherwise.
set -e
if [ $# -lt 1 ]; then
  echo "usage: sh bench/run.sh BUILD_DIR [--quick] [bench.py options]" >&2
  exit 2
fi
build=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
if [ ! -x "$build/bench/limit" ]; then
  cmake --build "$build" --target mmk_bench_limit >&2
fi
python3 "$here/bench.py" --build "$build" --root "$root" "$@"
# A full run rewrites BENCHMARKS.md; the random-record section comes from
# its own benchmark and is written back after it.
case " $* " in
  *" --quick "*|*" --out "*) ;;
  *) python3 "$here/records.py" "$build" --update "$root/BENCHMARKS.md" ;;
esac
