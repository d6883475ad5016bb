#!/bin/sh
# Check that the benchmark machinery works, without CTest and without timing
# anything that matters: the driver's own self-test, then a quick run (44 MB
# text, one run per tool) whose counts must all agree and whose report files
# must appear in BUILD_DIR/bench-quick/. Takes well under a minute.
# Usage: sh bench/check.sh BUILD_DIR
set -e
build=${1:?usage: sh bench/check.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
python3 "$here/bench.py" --self-test
python3 "$here/logs/bench_logs.py" --self-test
sh "$here/run.sh" "$build" --quick --logs
out="$build/bench-quick"
for f in BENCHMARKS.md results.json benchmarks.png BENCHMARKS-logs.md logs-results.json; do
  if [ ! -s "$out/$f" ]; then
    echo "bench check: $out/$f missing or empty" >&2
    exit 1
  fi
done
python3 - "$out/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["limit"]["all_threads_gbps"] and r["limit"]["one_thread_gbps"], "no limit figures"
rows = [row for j in r["jobs"] for row in j["rows"]]
timed = [row for row in rows if row["samples"]]
assert len(timed) >= 10, "too few tools ran: %d" % len(timed)
for j in r["jobs"]:
    for ok, c in j["checks"]:
        assert ok, c
print("bench check: ok (%d tool runs, limit %.2f GB/s; mmk: %s; Python module: %s)" % (
    len(timed), r["limit"]["all_threads_gbps"], r["mmk"] or "not built", r["pymod"]))
PY
