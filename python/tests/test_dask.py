"""mmkit.dask on a LocalCluster (two worker processes, one thread each),
against the local engine (mmkit's own calls over each whole file) and against
plain Python (re.findall, collections.Counter, line filters), on random and
adversarial files cut into tiny tasks (chunk sizes of a few bytes), so that
task boundaries fall inside matches, lines, words and multi-byte patterns,
between empty matches and behind lookbehinds; many files and globs, empty
files, errors, top after the merge. Skipped, with the reason, where Dask's
distributed scheduler does not import.

PartTest checks the primitive the count is built on (mmkit.count_part /
count_part_fix) without Dask, in every interpreter."""

import collections
import glob
import os
import random
import re
import shutil
import unittest

import mmkit
from mmkit_testutil import test_tmpdir

try:
    from distributed import Client, LocalCluster

    import mmkit.dask as mdask

    NO_DASK = None
except Exception as e:  # noqa: BLE001 - any failure to import means "no Dask here"
    NO_DASK = "Dask's distributed does not import here (%s: %s)" % (type(e).__name__, e)
if not NO_DASK and os.environ.get("MMK_TEST_DASK") == "0":
    NO_DASK = "run apart, by the CTest entry python_dask (MMK_TEST_DASK=0)"

# Patterns for count(): (pattern, regex) with a plain-Python reference
# re.findall(pattern if regex else re.escape(pattern), data).
COUNT_PATTERNS = [
    (b"a", False), (b"aa", False), (b"aba", False), (b"\xc3\xa9", False),
    (b"\xc3\xa9a", False), (b"", True), (b"a*", True), (b"|ab", True), (b"ab|a", True),
    (b"(?<=a)b", True), (b"(?<=\xc3\xa9)a+", True), (b"a(?=b)", True), (b"\\bab", True),
    (b"a.{0,4}b", True), (b"(?s)a.*?b", True), (b"aa(?!a)", True), (b"(?m)^a", True),
    (b"(?![\\s\\S])", True), (b"(?:ab)+", True), (b"[ab]{3}", True), (b"\\s+", True),
]


def random_text(rng, n, alphabet=b"aaab \n\xc3\xa9A"):
    return bytes(rng.choice(alphabet) for _ in range(n))


def python_count(pattern, regex, data):
    return len(re.findall(pattern if regex else re.escape(pattern), data))


def join_parts(pattern, data, cuts, **flags):
    """Count data cut at cuts with count_part / count_part_fix in order;
    also how many fixes needed the bytes."""
    total, pos, ne, needed = 0, 0, False, 0
    bounds = [0] + list(cuts) + [len(data)]
    for s, e in zip(bounds, bounds[1:]):
        part = mmkit.count_part(pattern, data, s, e, **flags)
        exact = mmkit.count_part_fix(pattern, None, part, pos, ne, **flags)
        with_bytes = mmkit.count_part_fix(pattern, data, part, pos, ne, **flags)
        if exact is None:
            needed += 1
        elif exact != with_bytes:
            raise AssertionError("the record and the bytes disagree: %r %r" % (exact, with_bytes))
        total += with_bytes[0]
        pos, ne = with_bytes[1], with_bytes[2]
    return total, needed


class PartTest(unittest.TestCase):
    """The parts joined in order give re.findall's count."""

    def test_random_cuts(self):
        rng = random.Random(11)
        needed = 0
        for _ in range(60):
            data = random_text(rng, rng.randrange(0, 200))
            if rng.random() < 0.2:
                data = b"a" * len(data)
            cuts = sorted(rng.randrange(0, len(data) + 1) for _ in range(rng.randrange(0, 6)))
            for pattern, regex in COUNT_PATTERNS:
                got, n = join_parts(pattern, data, cuts, regex=regex)
                needed += n
                self.assertEqual(got, python_count(pattern, regex, data), (pattern, data, cuts))
        self.assertGreater(needed, 20)  # the fixes that read bytes were exercised

    def test_sources_and_errors(self):
        d = test_tmpdir()
        self.addCleanup(shutil.rmtree, d, True)
        p = os.path.join(d, "f")
        with open(p, "wb") as f:
            f.write(b"abab aab")
        with mmkit.open(p) as m:
            for src in (p, m, b"abab aab", bytearray(b"abab aab")):
                self.assertEqual(mmkit.count_part("ab", src, 0, 8)[2], 3)
        with self.assertRaises(FileNotFoundError):
            mmkit.count_part("a", os.path.join(d, "missing"), 0, 0)
        with self.assertRaises(IsADirectoryError):
            mmkit.count_part("a", d, 0, 0)
        with self.assertRaises(OSError):
            mmkit.count_part("a", p, 0, 9)  # past the end of the file
        with self.assertRaises(ValueError):
            mmkit.count_part("a", p, 5, 4)
        with self.assertRaises(mmkit.PatternError):
            mmkit.count_part("(", p, 0, 1, regex=True)
        with self.assertRaises(TypeError):
            mmkit.count_part("a", 3.5, 0, 1)
        part = mmkit.count_part("ab", p, 0, 8)
        with self.assertRaises(ValueError):
            mmkit.count_part_fix("ab", p, part[:2] + (5,) + part[3:], 1, False)
        with self.assertRaises(TypeError):
            mmkit.count_part_fix("ab", p, (1, 2), 1, False)


@unittest.skipIf(NO_DASK, NO_DASK)
class DaskTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = test_tmpdir()
        cls.cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                   dashboard_address=None, silence_logs=40)
        cls.client = Client(cls.cluster)
        rng = random.Random(5)
        cls.files = []
        # Small files and tiny tasks: a task costs milliseconds of Dask's time.
        datas = [random_text(rng, 300), b"a" * 101, b"", random_text(rng, 150, b"ab\n"),
                 ("\xe9\xe9a \u00f1and\u00fa\n" * 6).encode(), b"ab\nab", b"\n\n\n"]
        for i, data in enumerate(datas):
            cls.files.append(cls.write("f%d.txt" % i, data))
        cls.datas = datas

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.cluster.close()
        shutil.rmtree(cls.dir, True)

    @classmethod
    def write(cls, name, data):
        p = os.path.join(cls.dir, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        return p

    # -- count ---------------------------------------------------------------

    def test_count_every_pattern(self):
        # Every other pattern (PartTest runs them all without Dask).
        for k, (pattern, regex) in enumerate(COUNT_PATTERNS[::2] + COUNT_PATTERNS[9:10]):
            chunk = (3, 7, 16)[k % 3]
            want = sum(python_count(pattern, regex, d) for d in self.datas)
            local = 0
            for p in self.files:
                with mmkit.open(p) as m:
                    local += m.count(pattern, regex=regex)
            got = mdask.count(pattern, self.files, regex=regex, chunk_size=chunk)
            self.assertEqual(got, want, (pattern, chunk))
            self.assertEqual(local, want, pattern)

    def test_count_options_and_long_matches(self):
        data = b"aAb ab Ab_ab xab ab\n" * 8
        p = self.write("opts.txt", data)
        self.assertEqual(mdask.count("ab", p, ignore_case=True, chunk_size=5),
                         len(re.findall(b"(?i)ab", data)))
        self.assertEqual(mdask.count("ab", p, whole_word=True, chunk_size=5),
                         len(re.findall(rb"(?<![A-Za-z0-9_])ab(?![A-Za-z0-9_])", data)))
        # One match running over many tasks, and a str pattern with a non-ASCII letter.
        long = b"x" + b"a" * 100 + b"b" + "\u00e9".encode() * 40
        q = self.write("long.txt", long)
        self.assertEqual(mdask.count("a+b", q, regex=True, chunk_size=5), 1)
        self.assertEqual(mdask.count("\u00e9\u00e9", q, chunk_size=3), 20)
        self.assertEqual(mdask.count("(?<=a)a", q, regex=True, chunk_size=7), 99)

    # -- lines, words ------------------------------------------------------------

    def test_count_lines(self):
        for chunk in (2, 1000):
            self.assertEqual(mdask.count_lines(self.files, chunk_size=chunk),
                             sum(d.count(b"\n") for d in self.datas))

    def test_word_counts(self):
        want = collections.Counter()
        local = collections.Counter()
        for p, d in zip(self.files, self.datas):
            want.update(d.lower().split())
            with mmkit.open(p) as m:
                local.update(dict(mmkit.word_counts(m)))
        ordered = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))
        self.assertEqual(local, want)
        for chunk in (2, 9):
            self.assertEqual(mdask.word_counts(self.files, chunk_size=chunk), ordered)
        self.assertEqual(mdask.word_counts(self.files, top=3, chunk_size=4), ordered[:3])

    def test_top_after_merge(self):
        a = self.write("top/a.txt", b"x x x y y")
        b = self.write("top/b.txt", b"y y z")
        self.assertEqual(mdask.word_counts([a, b], top=1, chunk_size=2), [(b"y", 4)])
        self.assertEqual(mdask.count_by(r"(\w)", [a, b], 1, top=2, chunk_size=3),
                         [(b"y", 4), (b"x", 3)])

    # -- grep, count_by ------------------------------------------------------------

    def reference_lines(self, pattern, data, invert=False):
        rx = re.compile(pattern)
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        out, off = [], 0
        for n, line in enumerate(lines, 1):
            if bool(rx.search(line)) != invert:
                out.append((n, off, line))
            off += len(line) + 1
        return out

    def test_grep(self):
        cases = [(rb"a+b", {}), (rb"^a", {}), (rb"b$", {}), (rb"(?<=a)b", {}), (rb"", {}),
                 ("\u00e9a".encode(), {}), (rb"ab", {"invert": True}), (rb"\s", {})]
        for k, (pattern, opts) in enumerate(cases):
            chunk = (4, 9, 30)[k % 3]
            want, local = [], []
            for p, d in zip(self.files, self.datas):
                want += [(p, n, off, t)
                         for n, off, t in self.reference_lines(pattern, d, **opts)]
                local += [(p, ln.line_no, ln.offset, ln.text)
                          for ln in mmkit.search(pattern, p, **opts)]
            self.assertEqual(local, want, pattern)
            got = mdask.grep(pattern, self.files, line_numbers=True, chunk_size=chunk, **opts)
            self.assertEqual([tuple(g) for g in got], want, (pattern, chunk))
            if k % 4:
                continue
            plain = mdask.grep(pattern, self.files, chunk_size=chunk, **opts)
            self.assertEqual([(g.path, g.offset, g.text) for g in plain],
                             [(p, off, t) for p, _, off, t in want])
            self.assertTrue(all(g.line_no is None for g in plain))

    def test_count_by(self):
        for chunk in (2, 11):
            want = collections.Counter()
            local = collections.Counter()
            for p, d in zip(self.files, self.datas):
                for line in d.split(b"\n"):
                    want.update(m.group(1) for m in re.finditer(rb"(a+)b", line))
                local.update(dict(mmkit.count_by(rb"(a+)b", p, 1)))
            ordered = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))
            self.assertEqual(local, want)
            self.assertEqual(mdask.count_by(rb"(a+)b", self.files, 1, chunk_size=chunk), ordered)

    # -- many files, globs, errors ---------------------------------------------------

    def test_globs_and_many_files(self):
        rng = random.Random(9)
        datas = {}
        for i in range(14):
            datas["many/%02d.log" % i] = random_text(rng, rng.randrange(0, 60), b"ab \n")
        paths = {name: self.write(name, d) for name, d in datas.items()}
        os.makedirs(os.path.join(self.dir, "many", "sub.log"), exist_ok=True)  # a directory
        pattern = os.path.join(self.dir, "many", "*.log")
        order = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
        self.assertEqual([p for p, _ in mdask.expand(pattern)], order)
        explicit = paths["many/03.log"]
        want = sum(d.count(b"ab") for d in datas.values()) + datas["many/03.log"].count(b"ab")
        self.assertEqual(mdask.count("ab", [pattern, explicit], chunk_size=9), want)
        got = mdask.grep("b", [pattern], chunk_size=13, line_numbers=True)
        self.assertEqual([g.path for g in got], sorted(g.path for g in got))  # file order
        self.assertEqual(len(got), sum(len(self.reference_lines(rb"b", d))
                                       for d in datas.values()))

    def test_empty_file(self):
        e = self.files[2]
        self.assertEqual(mdask.count("", e, regex=True), 1)  # re.findall('', '') == ['']
        self.assertEqual(mdask.count("a", e), 0)
        self.assertEqual(mdask.count_lines(e), 0)
        self.assertEqual(mdask.word_counts(e), [])
        self.assertEqual(mdask.grep("", e), [])
        self.assertEqual(mdask.count_by("(a)", e, 1), [])

    def test_errors(self):
        missing = os.path.join(self.dir, "missing.txt")
        with self.assertRaises(FileNotFoundError) as cm:
            mdask.count("a", [self.files[0], missing])
        self.assertEqual(cm.exception.filename, missing)
        with self.assertRaises(FileNotFoundError) as cm:
            mdask.grep("a", os.path.join(self.dir, "nothing*.txt"))
        self.assertIn("no file matches", str(cm.exception))
        with self.assertRaises(IsADirectoryError):
            mdask.count_lines(self.dir)
        with self.assertRaises(mmkit.PatternError):
            mdask.count("(", self.files, regex=True)
        with self.assertRaises(mmkit.PatternError):
            mdask.grep("(", self.files)
        with self.assertRaises(ValueError):
            mdask.count("a", self.files, chunk_size=0)
        with self.assertRaises(ValueError):
            mdask.word_counts(self.files, top=-1)
        # A file that vanished after planning: the worker's error comes back.
        gone = self.write("gone.txt", b"abc")
        plan = mdask.expand(gone)
        os.unlink(gone)
        with self.assertRaises(FileNotFoundError):
            self.client.submit(mdask._count_task, plan[0][0], 0, 3, pattern=b"a",
                               flags={}, pure=False).result()


if __name__ == "__main__":
    unittest.main()
