#!/bin/sh
# Run the side-by-side benchmarks (make bench runs this after building).
#   sh bench/run.sh BUILD_DIR            full run: BENCHMARKS.md, bench/results.json,
#                                        bench/benchmarks.png (about 6-8 minutes)
#   sh bench/run.sh BUILD_DIR --quick    smoke check on the 44 MB text, one run per
#                                        tool; writes to BUILD_DIR/bench-quick/ only
#   sh bench/run.sh BUILD_DIR --logs     also the log benchmarks afterwards
#                                        (bench/logs/bench_logs.py: a generated
#                                        1 GB access log, a tree of 10,000 logs,
#                                        gzip/zstd copies; its own section of
#                                        BENCHMARKS.md, bench/logs/results.json
#                                        and bench/logs/benchmarks-logs.png)
#   sh bench/run.sh BUILD_DIR --logs-only   only the log benchmarks
# Further options go to bench/bench.py (--runs N, --only JOB,JOB, --out DIR);
# --quick, --runs and --out also to bench_logs.py.
# Exit status: 0 when every tool ran and every count agreed, 1 otherwise.
set -e
if [ $# -lt 1 ]; then
  echo "usage: sh bench/run.sh BUILD_DIR [--quick] [--logs|--logs-only] [bench.py options]" >&2
  exit 2
fi
build=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# --logs / --logs-only are this script's; the options both drivers share are
# collected for bench_logs.py.
logs=0; logs_args=""; n=$#; i=0; prev=""
while [ "$i" -lt "$n" ]; do
  a=$1; shift; i=$((i + 1))
  case $a in
    --logs) logs=1 ;;
    --logs-only) logs=2 ;;
    *)
      case $prev in --runs|--out) logs_args="$logs_args $prev $a" ;; esac
      [ "$a" = --quick ] && logs_args="$logs_args --quick"
      set -- "$@" "$a" ;;
  esac
  prev=$a
done
if [ "$logs" = 2 ]; then
  # shellcheck disable=SC2086  # the collected options are single words
  exec python3 "$here/logs/bench_logs.py" --build "$build" --root "$root" $logs_args
fi
if [ ! -x "$build/bench/limit" ]; then
  cmake --build "$build" --target mmk_bench_limit >&2
fi
# bench.py rewrites BENCHMARKS.md: the section of the last make bench-disk
# (bench/disk/run.py, hours to rerun) is kept and written back after it.
disk_section=$(sed -n '/<!-- bench_disk: begin -->/,/<!-- bench_disk: end -->/p' \
  "$root/BENCHMARKS.md" 2>/dev/null || true)
python3 "$here/bench.py" --build "$build" --root "$root" "$@"
# A full run rewrites BENCHMARKS.md; the random-record section comes from
# its own benchmark and is written back after it.
case " $* " in
  *" --quick "*|*" --out "*) ;;
  *) python3 "$here/records.py" "$build" --update "$root/BENCHMARKS.md"
     # the log section of the last log run is kept (bench.py rewrote the file)
     if [ "$logs" = 0 ] && [ -f "$here/logs/results.json" ]; then
       python3 "$here/logs/bench_logs.py" --render "$here/logs/results.json" \
         --update "$root/BENCHMARKS.md"
     fi
     if [ -n "$disk_section" ] && ! grep -q '<!-- bench_disk: begin -->' "$root/BENCHMARKS.md"; then
       printf '\n%s\n' "$disk_section" >> "$root/BENCHMARKS.md"
     fi ;;
esac
if [ "$logs" = 1 ]; then
  # shellcheck disable=SC2086
  python3 "$here/logs/bench_logs.py" --build "$build" --root "$root" $logs_args
fi
