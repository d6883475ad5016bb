#!/bin/sh
# make demo: count words in a ~1.1 GB text with mmk and with the classic Python
# approach (re.finditer over mmap.mmap), side by side, and check they agree.
# Usage: demo.sh BUILD_DIR
set -e
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
mmk=$build/mmk
if [ ! -x "$mmk" ]; then
  echo "demo: $mmk not found; build first (make)" >&2
  exit 2
fi

# Run a command, print "SECONDS STATUS" on the first line and its standard
# output after it. Timing with python3's perf_counter around the process.
timed() {
  python3 -c '
import subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)
dt = time.perf_counter() - t
sys.stdout.write("%.6f %d\n" % (dt, r.returncode))
sys.stdout.flush()
sys.stdout.buffer.write(r.stdout)
' "$@"
}

# Arithmetic in python3: POSIX sh has integers only.
calc() { python3 -c "print($1)"; }

echo "mmk demo — counting words in a large text file"
echo
file=$(sh "$here/corpus.sh" "$build/corpus" kjv-1g)
size=$(wc -c < "$file" | tr -d ' ')
echo "input : $file ($(calc "'%.2f GB' % ($size / 1e9)"), the King James Bible repeated 250 times)"

printf "warming the page cache (one read of the whole file) ... "
out=$(timed sh -c 'cat "$1" > /dev/null' sh "$file")
echo "$(calc "'%.2f s' % ${out%% *}")"
echo

python_count='
import mmap, re, sys
word = sys.argv[1].encode()
with open(sys.argv[2], "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
    print(sum(1 for _ in re.finditer(word, mm)))
'

status=0
printf "%-12s %-34s %12s %10s %12s\n" "word" "tool" "count" "time" "throughput"
for word in LORD Zerubbabel; do
  out=$(timed "$mmk" count --no-progress "$word" "$file")
  mt=$(echo "$out" | sed -n 1p | cut -d' ' -f1)
  mc=$(echo "$out" | sed -n 2p)
  if [ -z "$mc" ]; then
    echo "demo: mmk count $word failed" >&2
    exit 1
  fi
  printf "%-12s %-34s %12s %8.3f s %7.2f GB/s\n" "$word" "mmk count" "$mc" "$mt" \
    "$(calc "$size / $mt / 1e9")"

  out=$(timed python3 -c "$python_count" "$word" "$file")
  pt=$(echo "$out" | sed -n 1p | cut -d' ' -f1)
  pc=$(echo "$out" | sed -n 2p)
  printf "%-12s %-34s %12s %8.3f s %7.2f GB/s\n" "" "python re.finditer over mmap.mmap" "$pc" \
    "$pt" "$(calc "$size / $pt / 1e9")"
  if [ "$mc" = "$pc" ]; then
    echo "             -> the counts agree; $(calc "'mmk is %.1fx faster' % ($pt / $mt) if $pt >= $mt else 'mmk is %.1fx SLOWER' % ($mt / $pt)")"
  else
    echo "             -> MISMATCH: mmk counted $mc, Python counted $pc" >&2
    status=1
  fi
done
echo

out=$(timed "$mmk" lines --no-progress "$file")
lt=$(echo "$out" | sed -n 1p | cut -d' ' -f1)
lc=$(echo "$out" | sed -n 2p | cut -d' ' -f1)
out=$(timed wc -l "$file")
wt=$(echo "$out" | sed -n 1p | cut -d' ' -f1)
wcl=$(echo "$out" | sed -n 2p | cut -d' ' -f1)
echo "mmk lines : $lc lines in $(calc "'%.3f s (%.2f GB/s)' % ($lt, $size / $lt / 1e9)");" \
  "wc -l: $wcl in $(calc "'%.3f s' % $wt")"
if [ "$lc" != "$wcl" ]; then
  echo "demo: MISMATCH between mmk lines and wc -l" >&2
  status=1
fi

# Word frequencies: the full table of every distinct word of the whole text.
file44=$(sh "$here/corpus.sh" "$build/corpus" kjv-1g)
size44=$(wc -c < "$file44" | tr -d ' ')
out=$(timed "$mmk" words --no-progress --top 10 "$file44")
wt=${out%% *}
echo "mmk words --top 10 on $file44 ($(calc "'%.2f GB' % ($size44 / 1e9)")):" \
  "$(calc "'%.3f s (%.2f GB/s)' % ($wt, $size44 / $wt / 1e9)")"
echo "$out" | sed 1d | sed 's/^/    /'
echo
if [ $status -eq 0 ]; then
  echo "demo: all counts agree"
fi
exit $status
