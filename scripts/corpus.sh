#!/bin/sh
# Make (once) and print the path of a reference text, cached in DIR:
#   kjv      the King James Bible, 4.4 MB (Debian's bible-kjv: bible -f "Gen1:1-Rev22:21")
#   kjv-44m  it repeated 10 times
#   kjv-1g   it repeated 250 times (about 1.1 GB)
# Where the bible package is missing, an English-like text of the same size is
# generated instead (deterministic), and a note says so on standard error.
# Usage: corpus.sh DIR kjv|kjv-44m|kjv-1g
# Several test processes may ask at once: each writes its own temporary file
# and renames it into place, so a reader sees a whole file or none.
set -e
dir=$1; name=${2:-kjv-1g}
mkdir -p "$dir"
base="$dir/kjv.txt"
if [ ! -s "$base" ]; then
  tmp="$base.$$.tmp"
  if command -v bible >/dev/null 2>&1 && bible -f "Gen1:1-Rev22:21" > "$tmp" 2>/dev/null \
     && [ -s "$tmp" ]; then
    mv "$tmp" "$base"
  else
    rm -f "$tmp"
    echo "mmkit: bible-kjv not installed; using a generated English-like text" >&2
    python3 "$(dirname "$0")/gentext.py" 4404412 > "$tmp"
    mv "$tmp" "$base"
  fi
fi
case "$name" in
  kjv) times=1 ;;
  kjv-44m) times=10 ;;
  kjv-1g) times=250 ;;
  *) echo "corpus.sh: unknown corpus $name" >&2; exit 2 ;;
esac
out="$dir/$name.txt"
if [ "$times" -gt 1 ]; then
  want=$(( $(wc -c < "$base") * times ))
  if [ ! -s "$out" ] || [ "$(wc -c < "$out")" -ne "$want" ]; then
    tmp="$out.$$.tmp"
    i=0; : > "$tmp"
    while [ $i -lt $times ]; do cat "$base" >> "$tmp"; i=$((i+1)); done
    mv "$tmp" "$out"
  fi
fi
echo "$out"
