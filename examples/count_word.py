"""count_word.py -- how often does a word occur in a big text file?

The classic way: map the file and run a regular expression over the map,
counting matches one Python object at a time. mmkit's way: mm.count(), which
gives the same number (leftmost, non-overlapping matches) from C, on all
cores, without creating a match object per hit.

Usage: python3 count_word.py FILE WORD
"""
import re
import sys

import mmkit

if len(sys.argv) != 3:
    sys.exit("usage: count_word.py FILE WORD")
path, word = sys.argv[1], sys.argv[2].encode()

with open(path, "rb") as f:
    with mmkit.mmap(f.fileno(), 0, access=mmkit.ACCESS_READ) as mm:
        # The classic: one match object per occurrence.
        classic = sum(1 for _ in re.finditer(word, mm))
        # mmkit: the same count in one call (regex=True: `word` is a pattern,
        # as it is for re.finditer; without it, a plain substring).
        fast = mm.count(word, regex=True)

print("re.finditer: %d" % classic)
print("mm.count: %d" % fast)
if classic != fast:
    sys.exit("count_word.py: the two counts differ")
