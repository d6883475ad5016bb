"""mmap.grep() against the plain-Python reference: the lines readline()
gives, kept when re.search finds the pattern in the line without its
newline (grep's rule); for patterns that neither match nor look at the
newline that is exactly [l for l in iter(m.readline, b"") if re.search(p, l)]."""

import errno
import mmap as stdmmap
import os
import random
import re
import threading

import mmkit
from mmkit_testutil import QUICK, TempDirTestCase, split_lines, random_bytes

# grep() searches a first window of this many bytes, then windows twice as
# large up to 64 MiB (GREP_WINDOW_MIN/MAX in mmkit_iter.c).
WINDOW = 8 << 20


def ref_expr(pattern, regex=False, whole_word=False):
    expr = pattern if regex else re.escape(pattern)
    if whole_word:
        expr = rb"(?<![A-Za-z0-9_])(?:" + expr + rb")(?![A-Za-z0-9_])"
    return expr


def ref_grep(data, pattern, regex=False, ignore_case=False, whole_word=False, invert=False):
    """(line_number, offset, line) for each line of data that grep() yields."""
    expr = re.compile(ref_expr(pattern, regex, whole_word), re.IGNORECASE if ignore_case else 0)
    out = []
    off = 0
    for no, line in enumerate(split_lines(data), 1):
        subject = line[:-1] if line.endswith(b"\n") else line
        if (expr.search(subject) is not None) != invert:
            out.append((no, off, line))
        off += len(line)
    return out


def random_lines(rng, size, alphabet=b"abAB_ \n"):
    return random_bytes(rng, size, alphabet)


PATTERNS = [
    (b"a", {}),
    (b"ab", {}),
    (b"aB", {"ignore_case": True}),
    (b"ab", {"whole_word": True}),
    (b"b a", {}),
    (b"\x00", {}),
    (b"\r", {}),
    (rb"^a", {"regex": True}),
    (rb"b$", {"regex": True}),
    (rb"^$", {"regex": True}),
    (rb"^\s*$", {"regex": True}),
    (rb"\r$", {"regex": True}),
    (rb"a[^a]b", {"regex": True}),
    (rb"[AB]{2,}", {"regex": True}),
    (rb"\bab?\b", {"regex": True, "ignore_case": True}),
    (rb"(?<!a)b", {"regex": True}),
    (rb"a(?=\x00)", {"regex": True}),
    (rb"x*", {"regex": True}),
    (rb"ab|ba", {"regex": True, "whole_word": True}),
]


class GrepTest(TempDirTestCase):
    def map_bytes(self, data, name="data.bin", access=None):
        p = self.make_file(data, name)
        if access is None:
            m = mmkit.open(p)
        else:
            f = open(p, "r+b")
            self.addCleanup(f.close)
            m = mmkit.mmap(f.fileno(), 0, access=access)
        self.addCleanup(m.close)
        return m

    def check(self, m, data, pattern, start=None, end=None, **opts):
        base = slice(start, end).indices(len(data))[0]
        want = [(no, base + off, line) for no, off, line in ref_grep(data[start:end], pattern, **opts)]
        got = list(m.grep(pattern, start, end, line_numbers=True, **opts))
        self.assertEqual(got, want, (pattern, start, end, opts))
        self.assertEqual(list(m.grep(pattern, start, end, **opts)), [t[2] for t in want])

    def test_random_data(self):
        rng = random.Random(20)
        for alphabet in (b"abAB_ \n", b"ab\n\n\r\x00 ", b"a\n"):
            data = random_lines(rng, 5000, alphabet)
            for ending in (b"", b"\n", b"ab", b"\r\n"):
                d = data + ending
                m = self.map_bytes(d, "r%d.bin" % rng.randrange(1 << 30))
                for pattern, opts in PATTERNS:
                    for invert in (False, True):
                        self.check(m, d, pattern, invert=invert, **opts)

    def test_adversarial_lines(self):
        cases = [
            b"",
            b"\n",
            b"\n\n\n",
            b"a",
            b"a\n",
            b"\na",
            b"ab\r\nab\r\n\r\n",
            b"\x00\x00\n\x00a\x00\nb",
            b"word words sword word_ Word\nwordy\n word\n",
            b"x" * 70000 + b"ab\n" + b"y" * 70000,
        ]
        for i, d in enumerate(cases):
            if not d:
                continue  # an empty file cannot be mapped; see test_empty_ranges
            m = self.map_bytes(d, "adv%d.bin" % i)
            for pattern, opts in PATTERNS + [(b"word", {"whole_word": True}), (b"WORD", {"ignore_case": True, "whole_word": True})]:
                for invert in (False, True):
                    self.check(m, d, pattern, invert=invert, **opts)

    def test_equals_the_readline_loop(self):
        # For patterns that do not match or look at b"\n" the newline makes no
        # difference: the reference loop of the issue, as it is.
        rng = random.Random(21)
        data = random_lines(rng, 20000, b"abcAB _\n\r\x00")
        m = self.map_bytes(data)
        for p in (b"ab", rb"a\w", rb"^a", rb"b$", rb"[ab]{3}", rb"(?i)cab", rb"\bc\b", rb"^$"):
            m.seek(0)
            want = [l for l in iter(m.readline, b"") if re.search(p, l)]
            self.assertEqual(list(m.grep(p, regex=True)), want, p)

    def test_newline_is_not_part_of_the_subject(self):
        # The documented difference from re.search(p, l) on l with its b"\n":
        # grep matches each line without it, as grep does.
        m = self.map_bytes(b"a\nb\nc")
        self.assertIsNotNone(re.search(rb"a\s", b"a\n"))  # the readline loop would keep it
        self.assertEqual(list(m.grep(rb"a\s", regex=True)), [])
        self.assertEqual(list(m.grep(rb"\n", regex=True)), [])
        self.assertEqual(list(m.grep(rb"b\Z", regex=True)), [b"b\n"])
        self.assertEqual(list(m.grep(rb"[^x]$", regex=True)), [b"a\n", b"b\n", b"c"])

    def test_ranges(self):
        rng = random.Random(22)
        data = random_lines(rng, 200000, b"abAB \n")
        m = self.map_bytes(data)
        n = len(data)
        ranges = [(None, None), (0, n), (1, None), (None, -1), (-1000, None), (n, None), (5, 5), (n + 10, None)]
        ranges += [tuple(sorted(rng.sample(range(n + 1), 2))) for _ in range(6)]
        for start, end in ranges:
            for pattern, opts in ((b"ab", {}), (rb"^b", {"regex": True}), (b"AB", {"ignore_case": True})):
                for invert in (False, True):
                    self.check(m, data, pattern, start, end, invert=invert, **opts)

    def test_windows_and_long_lines(self):
        # More than two windows, a line longer than a window, and a window
        # boundary in every position relative to the lines.
        # Windows of 8 + 16 + ... MiB: three windows and more.
        rng = random.Random(23)
        noise = bytes(rng.randrange(256) for _ in range(1 << 16)).translate(
            bytes(b"ab \x00"[i % 4] for i in range(256))
        )
        parts = []
        size = 0
        while size < 3 * WINDOW + 100000:
            if rng.random() < 0.0005:
                line = b"q" * (WINDOW + 1000) + b" Zerubbabel\n"  # longer than the first window
            else:
                at = rng.randrange(len(noise) - 300)
                line = noise[at : at + rng.randrange(0, 300)]
                line += (b" Zerubbabel" if rng.random() < 0.01 else b"") + b"\n"
            parts.append(line)
            size += len(line)
        parts.insert(len(parts) // 3, b"q" * (WINDOW + 1000) + b"\n")  # and one without a match
        data = b"".join(parts) + b"tail Zerubbabel"
        m = self.map_bytes(data)
        want = ref_grep(data, b"Zerubbabel")
        self.assertEqual(list(m.grep(b"Zerubbabel", line_numbers=True)), want)
        self.assertEqual(list(m.grep(b"Zerubbabel", line_numbers=True, threads=1)), want)
        inv = ref_grep(data, b"Zerubbabel", invert=True)
        self.assertEqual(list(m.grep(b"Zerubbabel", invert=True, line_numbers=True)), inv)
        self.assertEqual(len(want) + len(inv), len(split_lines(data)))
        # every line matches: the search stops after 16 MiB of lines and resumes
        every = list(m.grep(rb"^", regex=True, line_numbers=True))
        self.assertEqual(every, ref_grep(data, rb"^", regex=True))
        start = WINDOW - 17
        self.check(m, data, rb"a b", start, None, regex=True)

    def test_batches_of_many_short_lines(self):
        # More matching lines than one batch holds (2**18): the search stops
        # and resumes at the next line, line numbers continue.
        data = b"x\n\n" * 200000 + b"x"
        m = self.map_bytes(data)
        cases = ((rb"^$", {"regex": True}), (b"x", {}))
        for pattern, opts in cases[:1] if QUICK else cases:
            for invert in (False,) if QUICK else (False, True):
                self.check(m, data, pattern, invert=invert, **opts)
            self.check(m, data, pattern, 3, -2, **opts)

    def test_map_kinds(self):
        rng = random.Random(24)
        data = random_lines(rng, 300000, b"ab \n")
        for access in (stdmmap.ACCESS_READ, stdmmap.ACCESS_WRITE, stdmmap.ACCESS_COPY):
            m = self.map_bytes(data, "k%d.bin" % access, access=access)
            self.check(m, data, b"ab a")
            self.check(m, data, b"ab a", invert=True)
        # Writes through a shared map and private writes of a copy map are seen.
        for access in (stdmmap.ACCESS_WRITE, stdmmap.ACCESS_COPY):
            m = self.map_bytes(data, "w%d.bin" % access, access=access)
            d = bytearray(data)
            for at in (0, 100000, len(data) - 12):
                m[at : at + 10] = b"Zerubbabel"
                d[at : at + 10] = b"Zerubbabel"
            self.check(m, bytes(d), b"Zerubbabel")
            self.check(m, bytes(d), b"Zerubbabel", invert=True)
        anon = mmkit.mmap(-1, len(data))
        self.addCleanup(anon.close)
        anon[:] = data
        self.check(anon, data, b"ab a")

    def test_empty_ranges(self):
        m = self.map_bytes(b"ab\n")
        self.assertEqual(list(m.grep(b"ab", 3)), [])
        self.assertEqual(list(m.grep(b"", 3)), [])
        self.assertEqual(list(m.grep(b"")), [b"ab\n"])
        self.assertEqual(list(m.grep(b"", invert=True)), [])

    def test_closing_while_iterating(self):
        data = b"ab\n" * 100000
        m = self.map_bytes(data)
        it = m.grep(b"ab")
        self.assertEqual(next(it), b"ab\n")
        m.close()
        with self.assertRaises(ValueError):
            next(it)
        with self.assertRaises(ValueError):
            next(it)
        with self.assertRaises(ValueError):
            m.grep(b"ab")

    def test_close_from_another_thread_waits_for_the_scan(self):
        rng = random.Random(25)
        data = random_lines(rng, 3 * WINDOW, b"ab \n")
        m = self.map_bytes(data)
        results = []

        def consume():
            try:
                results.append(sum(1 for _ in m.grep(rb"a b", regex=True)))
            except ValueError as e:
                results.append(e)

        t = threading.Thread(target=consume)
        t.start()
        m.close()  # waits for a window in flight; later windows see a closed map
        t.join()
        self.assertEqual(len(results), 1)
        r = results[0]
        if isinstance(r, ValueError):
            self.assertIn("closed", str(r))
        else:
            self.assertEqual(r, len(ref_grep(data, rb"a b", regex=True)))

    def test_truncated_file(self):
        data = b"ab\n" * 100000
        p = self.make_file(data, "t.bin")
        for access in (stdmmap.ACCESS_READ, stdmmap.ACCESS_WRITE, stdmmap.ACCESS_COPY):
            with open(p, "wb") as f:
                f.write(data)
            f = open(p, "r+b")
            m = mmkit.mmap(f.fileno(), 0, access=access)
            os.truncate(p, 4096 * 3)
            for invert in (False, True):
                with self.assertRaises(OSError) as cm:
                    list(m.grep(b"ab", invert=invert))
                self.assertEqual(cm.exception.errno, errno.EFAULT)
            self.assertEqual(list(m.grep(b"ab", 0, 4096 * 3)), split_lines(data[: 4096 * 3]))
            m.close()
            f.close()

    def test_arguments(self):
        m = self.map_bytes(b"ab\n")
        with self.assertRaises(TypeError):
            m.grep("ab")
        with self.assertRaises(TypeError):
            m.grep(b"ab", 0, 1, False)  # options are keyword-only
        with self.assertRaises(TypeError):
            m.grep(b"ab", threads="2")
        with self.assertRaises(ValueError):
            m.grep(b"ab", threads=0)
        with self.assertRaises(mmkit.PatternError):
            m.grep(b"(", regex=True)
        self.assertEqual(list(m.grep(pattern=b"b", start=1, end=None, threads=1)), [b"b\n"])
        it = m.grep(b"ab")
        self.assertIs(iter(it), it)
        self.assertEqual(list(it), [b"ab\n"])
        self.assertEqual(list(it), [])
