"""Print an English-like text of N bytes (deterministic), for machines without
Debian's bible-kjv package. Words are drawn with a Zipf-like law from a fixed
vocabulary that includes the benchmark words (LORD, Zerubbabel, ...eth, ...ah)."""
import random
import sys

WORDS = ("the and of to that in he shall unto for i his a lord they be is him not them it "
         "with all thou thy was god which my me said but ye their have will thee from as are "
         "when this out were upon man by you israel king son up there hath then people came "
         "had house into her come one we children s before your also day land men against "
         "saith giveth cometh goeth maketh taketh knoweth Jonah Noah Hezekiah Josiah Micah "
         "Obadiah Zerubbabel LORD LORD LORD Jerusalem Judah David Moses").split()


def main():
    n = int(sys.argv[1])
    rng = random.Random(1611)
    weights = [1.0 / (i + 1) for i in range(len(WORDS))]
    out, size, verse = [], 0, 0
    while size < n:
        verse += 1
        k = rng.randint(8, 30)
        line = "Ge%d:%d " % (verse // 30 + 1, verse % 30 + 1) + " ".join(
            rng.choices(WORDS, weights, k=k)) + ".\n"
        out.append(line)
        size += len(line)
    sys.stdout.write("".join(out)[:n])


if __name__ == "__main__":
    main()
