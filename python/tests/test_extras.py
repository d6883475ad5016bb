"""The extras of mmkit (count, finditer, lines, line_count, word_counts,
open) against plain-Python references: re.findall/re.finditer,
collections.Counter(data.lower().split()) and a split on b'\\n'."""

import collections
import errno
import os
import random
import re
import stat

import mmkit
from mmkit_testutil import TempDirTestCase, split_lines, random_bytes


def ref_spans(pattern, data, regex=False, ignore_case=False, whole_word=False):
    """What finditer()/count() must give, computed with the re module."""
    expr = pattern if regex else re.escape(pattern)
    if whole_word:
        expr = rb"(?<![A-Za-z0-9_])(?:" + expr + rb")(?![A-Za-z0-9_])"
    flags = re.IGNORECASE if ignore_case else 0
    # re.IGNORECASE on bytes patterns is ASCII-only, as mmkit's.
    return [m.span() for m in re.finditer(expr, data, flags)]


def ref_word_counts(data):
    counts = collections.Counter(data.lower().split())
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def random_text(rng, size, alphabet=b"ab \n"):
    return random_bytes(rng, size, alphabet)


class ExtrasTest(TempDirTestCase):
    def map_bytes(self, data, name="data.bin"):
        p = self.make_file(data, name)
        m = mmkit.open(p)
        self.addCleanup(m.close)
        return m

    def check_pattern(self, m, data, pattern, **opts):
        spans = ref_spans(pattern, data, **opts)
        self.assertEqual(m.count(pattern, **opts), len(spans), (pattern, opts))
        self.assertEqual(list(m.finditer(pattern, **opts)), spans, (pattern, opts))

    def test_count_and_finditer_random(self):
        rng = random.Random(1)
        for trial in range(60):
            alphabet = rng.choice([b"ab", b"ab \n", b"aAbB_ \n", b"xyz\x00\xff"])
            data = random_text(rng, rng.choice([0, 1, 5, 100, 3000]), alphabet)
            m = self.map_bytes(data, "t%d.bin" % trial)
            for _ in range(6):
                pat = random_text(rng, rng.randrange(1, 4), alphabet)
                opts = {}
                if rng.random() < 0.3:
                    opts["ignore_case"] = True
                if rng.random() < 0.3:
                    opts["whole_word"] = True
                self.check_pattern(m, data, pat, **opts)

    def test_self_overlapping_patterns(self):
        data = b"aaaaaaaaaaabababababaabaabaab" * 50 + b"aaa"
        m = self.map_bytes(data)
        for pat in (b"aa", b"aaa", b"aba", b"abab", b"aab", b"a", b"b"):
            self.check_pattern(m, data, pat)

    def test_regex(self):
        rng = random.Random(2)
        words = [b"Zerubbabel", b"the", b"The", b"LORD", b"and", b"\n", b"x_y", b"42"]
        data = b" ".join(rng.choice(words) for _ in range(3000))
        m = self.map_bytes(data)
        for pat in (rb"\bthe\b", rb"[A-Z]\w+", rb"\d+", rb"L.RD", rb"(?:and|the) ",
                    rb"^the", rb"(?m)^the", rb"e$", rb"a*", rb"x?"):
            self.check_pattern(m, data, pat, regex=True)
        self.check_pattern(m, data, rb"the|lord", regex=True, ignore_case=True)
        self.check_pattern(m, data, rb"th\w", regex=True, whole_word=True)

    def test_random_regexes_against_re(self):
        """Random regexes holding a literal (the engine's prefilter then runs
        PCRE2 only from the last byte no match can hold: classes, negated
        classes, escapes, case-insensitivity) against re.finditer."""
        rng = random.Random(3)
        atoms = [rb"\w", rb"\W", rb"\d", rb"\S", rb"\s", b"[a-c]", b"[^a-c]", b"[^ ]",
                 rb"[\x41-\x43]", rb"\x2d", b"[.-]", rb"[^\s.]", b"a", b"e", b"th", b".",
                 rb"\.", b"[]a]", b"[^]b]", rb"\b", b"(?:ab|e)", b"(?<=a)", b"(?=e)",
                 rb"[\w.]", b"[A-Z]", b"1", b"_", rb"[^\W_]"]
        quants = [b"", b"", b"", b"*", b"+", b"?", b"{2}", b"{1,3}", b"*?", b"+?"]
        alphabet = b"aabbeeetthh. \n\tAE1-_],"
        checked = 0
        for trial in range(40):
            data = random_text(rng, rng.choice([100, 2000, 20000]), alphabet)
            m = self.map_bytes(data, "rx%d.bin" % trial)
            for _ in range(8):
                pat = b"".join(rng.choice(atoms) + rng.choice(quants)
                               for _ in range(rng.randrange(1, 4)))
                pat += rng.choice([b"eth", b"ab", b"the", rb"e\.a"])
                opts = {"regex": True}
                if rng.random() < 0.25:
                    opts["ignore_case"] = True
                if rng.random() < 0.15:
                    opts["whole_word"] = True
                try:
                    re.compile(pat)
                except re.error:
                    continue  # not a pattern for Python either (a repeated assertion ...)
                checked += 1
                self.check_pattern(m, data, pat, **opts)
            m.close()
        self.assertGreater(checked, 200)

    def test_ranges(self):
        data = b"one two one three one\n" * 40
        m = self.map_bytes(data)
        n = len(data)
        for start in (None, 0, 3, -5, n, n + 10, -n - 10):
            for end in (None, 0, 7, -1, n, n + 10, -n - 10):
                sl = data[slice(start, end)]
                off = slice(start, end).indices(n)[0]
                for pat in (b"one", b"e", b""):
                    want = [(s + off, e + off) for s, e in ref_spans(pat, sl)]
                    self.assertEqual(list(m.finditer(pat, start, end)), want,
                                     (pat, start, end))
                    self.assertEqual(m.count(pat, start, end), len(want))
                self.assertEqual(list(m.lines(start, end)), split_lines(sl), (start, end))
                self.assertEqual(m.line_count(start, end), len(split_lines(sl)))
        self.assertEqual(m.count(b"one", start=5, end=100), len(re.findall(b"one", data[5:100])))

    def test_empty_pattern(self):
        data = b"abc"
        m = self.map_bytes(data)
        self.assertEqual(m.count(b""), 4)
        self.assertEqual(list(m.finditer(b"")), [(0, 0), (1, 1), (2, 2), (3, 3)])

    def test_large_inputs_cross_internal_batches(self):
        # More matches than one finditer batch, lines longer than one block,
        # and enough bytes to be split over threads.
        rng = random.Random(3)
        chunks = []
        for _ in range(3000):
            chunks.append(random_text(rng, rng.randrange(0, 200), b"ab \n"))
            if rng.random() < 0.002:
                chunks.append(b"x" * 600000)  # a line longer than a block
        data = b"".join(chunks)
        m = self.map_bytes(data)
        for pat in (b"a", b"ab", b"aba", b"b \n"):
            spans = ref_spans(pat, data)
            self.assertEqual(list(m.finditer(pat)), spans)
            self.assertEqual(m.count(pat), len(spans))
            self.assertEqual(m.count(pat, threads=1), len(spans))
            self.assertEqual(m.count(pat, threads=2), len(spans))
        self.assertEqual(list(m.lines()), split_lines(data))
        self.assertEqual(m.line_count(), len(split_lines(data)))
        big = b"Zerubbabel the " * 200000
        mb = self.map_bytes(big, "big.bin")
        self.assertEqual(mb.count(b"Zerubbabel"), 200000)
        self.assertEqual(sum(1 for _ in mb.finditer(b"the")), 200000)

    def test_lines_edge_cases(self):
        for data in (b"", b"\n", b"\n\n", b"a", b"a\n", b"a\nb", b"\n\na\n\n", b"\r\n\r"):
            m = self.map_bytes(data, "e%d.bin" % len(data))
            self.assertEqual(list(m.lines()), split_lines(data), data)
            self.assertEqual(m.line_count(), len(split_lines(data)), data)

    def test_lines_match_readline_loop(self):
        rng = random.Random(4)
        data = random_text(rng, 50000, b"abc\n\n")
        m = self.map_bytes(data)
        self.assertEqual(list(m.lines()), list(iter(m.readline, b"")))
        self.assertEqual(m.tell(), len(data))
        it = m.lines()
        self.assertIs(iter(it), it)

    def test_word_counts(self):
        rng = random.Random(5)
        for trial in range(30):
            data = random_text(rng, rng.choice([0, 10, 1000, 20000]),
                               b"aAbB \t\n\r\x0b\x0c\x1c\xc3\xa9")
            want = ref_word_counts(data)
            self.assertEqual(mmkit.word_counts(data), want)
            self.assertEqual(mmkit.word_counts(bytearray(data)), want)
            self.assertEqual(mmkit.word_counts(memoryview(data)), want)
            m = self.map_bytes(data, "w%d.bin" % trial)
            self.assertEqual(mmkit.word_counts(m), want)
            self.assertEqual(mmkit.word_counts(m, top=3), want[:3])
            self.assertEqual(mmkit.word_counts(data, top=0), [])

    def test_word_counts_bible_like_text(self):
        words = [b"In", b"the", b"beginning", b"God", b"created", b"THE", b"heaven", b"and",
                 b"earth.", b"And", b"the"]
        rng = random.Random(6)
        data = b" ".join(rng.choice(words) + rng.choice([b"", b"\n"]) for _ in range(100000))
        m = self.map_bytes(data)
        self.assertEqual(mmkit.word_counts(m), ref_word_counts(data))

    def test_argument_errors(self):
        m = self.map_bytes(b"abc")
        with self.assertRaises(TypeError):
            m.count("abc")
        with self.assertRaises(TypeError):
            m.count(b"a", 1.5)
        with self.assertRaisesRegex(ValueError, "threads"):
            m.count(b"a", threads=0)
        with self.assertRaises(TypeError):
            m.count(b"a", threads="2")
        with self.assertRaisesRegex(ValueError, "invalid pattern"):
            m.count(b"a(", regex=True)
        with self.assertRaisesRegex(ValueError, "invalid pattern"):
            m.finditer(b"[z-a]", regex=True)
        with self.assertRaises(TypeError):
            m.lines(1.0)
        with self.assertRaises(TypeError):
            mmkit.word_counts("text")
        with self.assertRaises(TypeError):
            mmkit.word_counts(b"x", top="1")
        with self.assertRaisesRegex(ValueError, "top"):
            mmkit.word_counts(b"x", top=-1)
        with self.assertRaises(TypeError):
            m.find(b"a", start=1)  # as the standard module: positional only

    def test_pattern_cache_survives_churn(self):
        rng = random.Random(8)
        data = random_text(rng, 5000, b"abcd")
        m = self.map_bytes(data)
        pats = [random_text(rng, 3, b"abcd") for _ in range(60)]
        live = [(p, m.finditer(p)) for p in pats[:20]]  # hold patterns across evictions
        for p in pats * 2:
            self.assertEqual(m.count(p), len(ref_spans(p, data)))
            self.assertEqual(m.count(p, regex=True, ignore_case=True),
                             len(ref_spans(p, data, regex=True, ignore_case=True)))
        for p, it in live:
            self.assertEqual(list(it), ref_spans(p, data))


class OpenTest(TempDirTestCase):
    def test_modes(self):
        p = self.make_file(b"hello world")
        m = mmkit.open(p)
        self.assertEqual(m[:], b"hello world")
        self.assertIn("access=ACCESS_READ", repr(m))
        with self.assertRaises(TypeError):
            m[0] = 1
        m.close()

        m = mmkit.open(p, "r+")
        m[0:5] = b"HELLO"
        m.flush()
        m.close()
        with open(p, "rb") as f:
            self.assertEqual(f.read(), b"HELLO world")

        m = mmkit.open(p, "c")
        m[:] = b"x" * 11
        self.assertEqual(m[:], b"x" * 11)
        with self.assertRaises(TypeError):
            m.resize(20)
        m.close()
        with open(p, "rb") as f:
            self.assertEqual(f.read(), b"HELLO world")

        q = self.path("new.bin")
        m = mmkit.open(q, "w", length=100)
        self.assertEqual(len(m), 100)
        m[99] = 7
        m.close()
        self.assertEqual(os.path.getsize(q), 100)
        self.assertEqual(stat.S_IMODE(os.stat(q).st_mode) & 0o077, 0)

    def test_any_offset_and_length(self):
        data = bytes(range(256)) * 50
        p = self.make_file(data)
        for offset in (0, 1, 7, 4095, 4096, 4097, len(data) - 1, len(data)):
            m = mmkit.open(p, offset=offset)
            self.assertEqual(m[:], data[offset:])
            self.assertIn("offset=%d" % offset, repr(m))
            m.close()
            if offset < len(data):
                m = mmkit.open(p, offset=offset, length=1)
                self.assertEqual(m[:], data[offset:offset + 1])
                m.close()

    def test_empty_file(self):
        p = self.make_file(b"")
        m = mmkit.open(p)
        self.assertEqual(len(m), 0)
        self.assertEqual(m[:], b"")
        self.assertEqual(m.read(), b"")
        self.assertEqual(m.readline(), b"")
        self.assertEqual(m.find(b""), 0)
        self.assertEqual(m.find(b"a"), -1)
        self.assertEqual(m.count(b"a"), 0)
        self.assertEqual(list(m.lines()), [])
        self.assertEqual(m.line_count(), 0)
        self.assertEqual(mmkit.word_counts(m), [])
        self.assertEqual(bytes(memoryview(m)), b"")
        self.assertEqual(m.size(), 0)
        with self.assertRaises(IndexError):
            m[0]
        m.close()

    def test_descriptor_is_closed_with_the_map(self):
        p = self.make_file(b"abc")
        before = set(os.listdir("/proc/self/fd"))
        m = mmkit.open(p)
        m.close()
        self.assertEqual(set(os.listdir("/proc/self/fd")), before)

    def test_errors(self):
        p = self.make_file(b"abc")
        with self.assertRaises(FileNotFoundError) as cm:
            mmkit.open(self.path("missing"))
        self.assertEqual(cm.exception.filename, self.path("missing"))
        with self.assertRaises(IsADirectoryError):
            mmkit.open(self.dir)
        with self.assertRaisesRegex(ValueError, "mode"):
            mmkit.open(p, "x")
        with self.assertRaisesRegex(ValueError, "offset"):
            mmkit.open(p, offset=-1)
        with self.assertRaisesRegex(ValueError, "past the end"):
            mmkit.open(p, offset=4)
        with self.assertRaisesRegex(ValueError, "past the end"):
            mmkit.open(p, offset=1, length=3)
        with self.assertRaises(ValueError):
            mmkit.open(p + "\0x")
        with self.assertRaises(TypeError):
            mmkit.open(42)
        if os.geteuid() != 0:
            os.chmod(p, 0o400)
            with self.assertRaises(PermissionError):
                mmkit.open(p, "r+")
        fifo = self.path("fifo")
        os.mkfifo(fifo)
        with self.assertRaises(OSError):
            mmkit.open(fifo)
        # nothing changed on disk
        with open(p, "rb") as f:
            self.assertEqual(f.read(), b"abc")

    def test_pathlike(self):
        import pathlib
        p = self.make_file(b"xyz")
        m = mmkit.open(pathlib.Path(p))
        self.assertEqual(m[:], b"xyz")
        m.close()
        m = mmkit.open(os.fsencode(p))
        self.assertEqual(m[:], b"xyz")
        m.close()

    def test_errno_of_fifo(self):
        fifo = self.path("fifo2")
        os.mkfifo(fifo)
        with self.assertRaises(OSError) as cm:
            mmkit.open(fifo)
        self.assertIn(cm.exception.errno, (errno.ENODEV, None, errno.EACCES, errno.EINVAL))


if __name__ == "__main__":
    import unittest
    unittest.main()
