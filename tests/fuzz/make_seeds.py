#!/usr/bin/env python3
"""Write the seed corpora of tests/fuzz/corpus/ (run from anywhere; the files
are committed, so this only needs re-running when the seeds change). Each
seed is a meaningful case in the target's input format; libFuzzer mutates
from there."""
import hashlib
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
FIXED, ICASE, WORD, LINES = 1, 2, 4, 8

TEXT = (b"In the beginning God created the heaven and the earth.\n"
        b"And the earth was without form, and void; and darkness was upon the face of the deep.\n"
        b"And God said, Let there be light: and there was light.\n")


def pattern_seed(flags, pat, subject, cpu=0, chunk=3, threads=2):
    # flags, cpu path (scalar + n % 4), chunk size (1 + n % 64), threads (1 + n % 3),
    # pattern length, pattern, subject
    return bytes([flags, cpu, chunk, threads, len(pat)]) + pat + subject


def pattern_seeds():
    s = []
    fixed = [
        (b"the", TEXT), (b"aa", b"aaaaaaa"), (b"abab", b"abababababab"), (b"", b"abc"),
        (b"x", b""), (b"light", TEXT), (b"The", TEXT), (b"and the", TEXT),
        (b"foo", b"foo food _foo foo. (foo) foo_ 9foo foo"), (b"a\nb", b"a\nb\na\nb"),
        (b"\x00\xff", b"\x00\xff\x00\xff\xff\x00"), (b"ab", b"AbaBAB ab aB"),
        (b"longer needle here", b"longer needle her longer needle here!"),
    ]
    for i, (p, t) in enumerate(fixed):
        for fl in ((FIXED, FIXED | ICASE | WORD), (FIXED | WORD, FIXED | ICASE | LINES))[i % 2]:
            s.append(pattern_seed(fl, p, t, cpu=i % 4, chunk=i % 7, threads=i % 3))
    regexes = [
        rb"\w+", rb"a*", rb"^", rb"$", rb"(?m)^\w", rb"\bthe\b", rb"a|b", rb"\Z", rb"\v",
        rb"x{,3}", rb"(?i)GOD", rb"(?<=a)b", rb"(?=e)", rb"[^\n]*", rb"t.e", rb"\d+",
        rb"(a+)+b", rb"\Qa.b", rb"(?a)\w+", rb"[[:alpha:]]+", rb"colou?r", rb"^.*$", rb"",
        rb"(", rb"[", "\\".encode(), rb"\K", rb"\G", rb"(*SKIP)", rb"e\b", rb"\B", rb"(?s).",
        rb"ab|b", rb"a??", rb"(?x) a b # comment", rb"[]a]", rb"\x00", rb"(?<!\w)and",
        rb"light\.$", rb"(?m)$",
    ]
    subjects = [TEXT, b"aab ab b a\nb\n\nab", b"colour color\ncolouur\n", b"", b"\n", b"a.b a\x0bb\n"]
    for i, p in enumerate(regexes):
        t = subjects[i % len(subjects)]
        fl = [0, ICASE, WORD, LINES, ICASE | WORD | LINES][i % 5]
        s.append(pattern_seed(fl, p, t, cpu=i % 4, chunk=(i * 5) % 64, threads=i % 3))
    return s


def words_seeds():
    return [bytes([c % 4, (c * 7) % 64, c % 3]) + d for c, d in enumerate([
        TEXT, b"", b"   ", b"The the THE tHe\nand And AND", b"a\tb\nc\vd\fe\rf g",
        b"word", b"\n\n\n", b"x\xff\xfe \xc3\xa9T\xc3\xa9 \xc3\xa9t\xc3\xa9", b"no newline at end",
        b"\x00 \x00\x00 \x1c\x1d", b"Zz zZ ZZ zz _a_ _A_", TEXT * 3,
        b"a " * 40 + b"b " * 39, b"long" * 60 + b" long" * 2, b"\r\n\r\n x \r\n",
    ])]


def cli_seed(cmd, *args):
    # subcommand (count, grep, lines, words), then NUL-separated arguments
    return bytes([cmd]) + b"\0".join(args)


def cli_seeds():
    C, G, L, W = 0, 1, 2, 3
    return [
        cli_seed(C, b"-F", b"abc", b"file"), cli_seed(C, b"-inw", b"the", b"a", b"b"),
        cli_seed(C, b"-j2", b"x"), cli_seed(C, b"-j", b"2", b"x"), cli_seed(C, b"--threads=2", b"x"),
        cli_seed(C, b"--threads", b"4096", b"x"), cli_seed(C, b"--threads=4097", b"x"),
        cli_seed(C, b"--chunk-size=4K", b"x"), cli_seed(C, b"--chunk-size=0", b"x"),
        cli_seed(C, b"--chunk-size", b"18446744073709551615", b"x"),
        cli_seed(C, b"--chunk-size=17179869184G", b"x"), cli_seed(C, b"-e", b"-x", b"f"),
        cli_seed(C, b"--", b"-file", b"-"), cli_seed(C, b"--json", b"--no-filename", b"x", b"f"),
        cli_seed(C, b"--help"), cli_seed(C), cli_seed(C, b"--bogus"), cli_seed(C, b"-j"),
        cli_seed(C, b"-e", b"a", b"-e", b"b"), cli_seed(C, b"--mmap", b"--no-mmap", b"x"),
        cli_seed(G, b"-h", b"x", b"f"), cli_seed(G, b"-cnH", b"x"), cli_seed(G, b"--help"),
        cli_seed(G, b"-nj3", b"x"), cli_seed(G, b"--regexp=a=b", b"f"), cli_seed(G, b"--json", b"x"),
        cli_seed(L, b"--json", b"a", b"b"), cli_seed(L, b"-F"), cli_seed(L, b"--no-progress", b"-"),
        cli_seed(L, b"-h"), cli_seed(W, b"--top=5", b"f"), cli_seed(W, b"--top", b"x"),
        cli_seed(W, b"--top=9223372036854775807"), cli_seed(W, b"--top=9223372036854775808"),
        cli_seed(W, b"--json=1"), cli_seed(W, b"-"), cli_seed(W, b""),
    ]


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for data in seeds:
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("fuzz_pattern", pattern_seeds())
    write("fuzz_words", words_seeds())
    write("fuzz_cli", cli_seeds())
