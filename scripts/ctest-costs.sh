#!/bin/sh
# Writes tests/ctest-costs.txt from the output of a `make test` run (LOG): each
# test's measured seconds in CTest's cost-data format. A fresh build tree is
# seeded with it (tests/CMakeLists.txt), so ctest -j starts the longest tests
# first. Usage: scripts/ctest-costs.sh LOG
set -eu
log=${1:?usage: scripts/ctest-costs.sh LOG}
out=$(dirname "$0")/../tests/ctest-costs.txt
sed -n -E 's/.*Test +#[0-9]+: ([^ ]+) .* ([0-9.]+) sec$/\1 1 \2/p' "$log" > "$out.tmp"
test -s "$out.tmp" || { echo "ctest-costs: no test times in $log" >&2; rm -f "$out.tmp"; exit 1; }
echo "---" >> "$out.tmp"
mv "$out.tmp" "$out"
echo "ctest-costs: $(($(wc -l < "$out") - 1)) tests written to tests/ctest-costs.txt"
