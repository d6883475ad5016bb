"""Write a large English-like text file fast, for bench/disk (standard library only).

    python3 bench/disk/gen.py FILE BYTES

One block of about 64 MiB is drawn once (the vocabulary and Zipf-like law of
scripts/gentext.py, deterministic); the file is that block written again and
again, each copy rotated to a different line boundary so that no two copies
line up. Every copy holds the rare word exactly once (planted in one line),
so its count in the file is the number of copies. The file is a whole number
of copies (BYTES rounded down, at least one copy). The expected counts are
printed as JSON on standard output: bytes, blocks, lines, and the count of
the rare word, the frequent word and the regex's matches (non-overlapping,
as Python's re counts them), which bench/disk/run.py checks mmk and ripgrep
against."""
import json
import os
import random
import re
import sys

WORDS = ("the and of to that in he shall unto for i his a lord they be is him not them it "
         "with all thou thy was god which my me said but ye their have will thee from as are "
         "when this out were upon man by you israel king son up there hath then people came "
         "had house into her come one we children s before your also day land men against "
         "saith giveth cometh goeth maketh taketh knoweth Jonah Noah Hezekiah Josiah Micah "
         "Obadiah Zerubbabel LORD LORD LORD Jerusalem Judah David Moses").split()
RARE = "Zaphnathpaaneah"
FREQUENT = "LORD"
REGEX = r"\w+eth"
BLOCK = 64 << 20


def block():
    rng = random.Random(1611)
    weights = [1.0 / (i + 1) for i in range(len(WORDS))]
    lines, size, verse = [], 0, 0
    while size < BLOCK:
        verse += 1
        k = rng.randint(8, 30)
        # 50 chapters of 30 verses, as a book of the KJV has: 1,500 distinct
        # labels (a label per line would make mmk words a hash-table test)
        line = "Ge%d:%d " % (verse // 30 % 50 + 1, verse % 30 + 1) + " ".join(
            rng.choices(WORDS, weights, k=k)) + ".\n"
        if verse == 1000:
            line = "Ge34:1 and " + RARE + " the ruler of the land.\n"
        lines.append(line)
        size += len(line)
    return "".join(lines).encode()


def main():
    path, want = sys.argv[1], int(sys.argv[2])
    data = block()
    n = max(1, want // len(data))
    starts = [m.end() for m in re.finditer(b"\n", data)][:-1]
    rng = random.Random(42)
    view = memoryview(data)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for i in range(n):
            cut = 0 if i == 0 else starts[rng.randrange(len(starts))]
            parts = [view[cut:], view[:cut]] if cut else [view]
            for part in parts:
                done = 0
                while done < len(part):
                    done += os.write(fd, part[done:])
        os.fsync(fd)
    finally:
        os.close(fd)
    text = data.decode()
    print(json.dumps({
        "bytes": n * len(data), "blocks": n,
        "lines": n * data.count(b"\n"),
        "rare": RARE, "rare_count": n * data.count(RARE.encode()),
        "frequent": FREQUENT, "frequent_count": n * data.count(FREQUENT.encode()),
        "regex": REGEX, "regex_count": n * len(re.findall(REGEX, text)),
    }))


if __name__ == "__main__":
    main()
