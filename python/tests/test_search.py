"""mmkit.search(), mmkit.count_by() and mmkit.time_range() against plain-Python
references.

search(): each line (without its b'\\n') is its own subject, as grep -P has
it; the reference runs Python's re over the lines one at a time (finditer
for the matches and spans, Python's empty-match rules) and decides selection,
context, gaps and max_count the way GNU grep's main loop does. Patterns are
chosen to mean the same to PCRE2 and to Python's re. count_by(): a Counter of
the group's values over re.finditer per line, empty matches skipped.
Every source kind (bytes, bytearray, memoryview, mmkit.mmap of a file and
anonymous, str path, os.PathLike, descriptor of a file and of a pipe, and
compressed files with decompress=True) gives the same answer.
"""

import bz2
import collections
import errno
import gzip
import itertools
import lzma
import os
import pathlib
import random
import re
import shutil
import subprocess
import threading
import unittest

import mmkit
from mmkit_testutil import TempDirTestCase, random_bytes

WORD = rb"[A-Za-z0-9_]"


def ref_expr(patterns, fixed=False, ignore_case=False, word=False, line_exact=False):
    """A Python re for the pattern (bytes) or list of patterns as search() reads it."""
    if not isinstance(patterns, (list, tuple)):
        patterns = [patterns]
    parts = []
    for p in patterns:
        if isinstance(p, str):
            p = p.encode()
        e = re.escape(p) if fixed else p
        if word:
            e = rb"(?<!" + WORD + rb")(?:" + e + rb")(?!" + WORD + rb")"
        parts.append(rb"(?:" + e + rb")")
    expr = b"|".join(parts)
    if line_exact:
        expr = rb"^(?:" + expr + rb")$"
    return re.compile(expr, re.IGNORECASE if ignore_case else 0)


def ref_lines(data):
    """(offset, text) of each line: '\\n' ends a line; no line after a final one."""
    out = []
    off = 0
    n = len(data)
    while off < n:
        nl = data.find(b"\n", off)
        end = n if nl < 0 else nl
        out.append((off, data[off:end]))
        off = end + 1
    return out


def ref_search(data, expr, invert=False, before=0, after=0, max_count=None, spans=False):
    """The Line tuples search() gives, by GNU grep's rules."""
    out = []
    if max_count == 0:
        return out
    selected = 0
    pending = 0
    last_out = 0
    lines = ref_lines(data)

    def emit(no, kind):
        nonlocal last_out
        off, text = lines[no - 1]
        ms = [m.span() for m in expr.finditer(text)]
        gap = bool((before or after) and last_out and no != last_out + 1)
        last_out = no
        has_spans = spans and ((kind == "match") != invert)
        out.append((kind, no, off, text, len(ms), tuple(ms) if has_spans else None, gap))

    for no, (off, text) in enumerate(lines, 1):
        if max_count is not None and selected == max_count:
            if pending == 0:
                break
            pending -= 1
            emit(no, "context")
            continue
        sel = (expr.search(text) is not None) != invert
        if sel:
            selected += 1
            for k in range(max(no - before, last_out + 1, 1), no):
                emit(k, "context")
            emit(no, "match")
            pending = after
        elif pending:
            pending -= 1
            emit(no, "context")
    return out


def ref_count_by(data, expr, group=0):
    c = collections.Counter()
    for _, text in ref_lines(data):
        for m in expr.finditer(text):
            if m.start() == m.end():
                continue
            v = m.group(group)
            if v is not None:
                c[v] += 1
    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))


def as_tuples(lines):
    return [tuple(line) for line in lines]


# (pattern, options) that mean the same to PCRE2 and Python's re.
PATTERNS = [
    (b"a", {}),
    (b"ab", {}),
    (b"aB", {"ignore_case": True}),
    (b"ab", {"word": True}),
    (b"b a", {"fixed": True}),
    (b"a.b", {"fixed": True}),
    (b"", {"fixed": True}),
    (rb"^a", {}),
    (rb"b$", {}),
    (rb"^$", {}),
    (rb"^\s*$", {}),
    (rb"a[^a]b", {}),
    (rb"[AB]{2,}", {}),
    (rb"\bab?\b", {"ignore_case": True}),
    (rb"a*", {}),
    (rb"(?=b)", {}),
    (rb"b|", {}),
    (rb"ab|ba", {"line_exact": True}),
    (rb"[ab_ ]*", {"line_exact": True}),
    ([b"ab", b"B_"], {}),
    ([b"a b", rb"^_", b"AA"], {"ignore_case": True}),
    ([b"a", b"b"], {"fixed": True, "word": True}),
    ([b"ab", b"a"], {"line_exact": True}),
    ("a_", {}),
]

OPTIONS = [
    dict(invert=inv, before=b, after=a, max_count=m, spans=s)
    for inv, (b, a), m, s in itertools.product(
        (False, True), ((0, 0), (1, 0), (0, 2), (2, 1)), (None, 0, 1, 3), (False, True))
]


def random_data(rng, size, alphabet=b"abAB_ \n"):
    return random_bytes(rng, size, alphabet)


def adversarial_data():
    return [
        b"",
        b"\n",
        b"\n\n\n",
        b"a",
        b"a\n",
        b"ab",
        b"ab\nab\n\nab",
        b"\r\n" * 3,
        b"a\x00b\nab\x00\n",
        b"x" * 5000 + b"ab\n" + b"y" * 70000 + b"\nab",
        b"ab\n" * 300,
        b"_ab_ ab\nAB\nba ab ba\n\xff\xfeab\n",
    ]


class SearchReferenceTest(unittest.TestCase):
    """search() over bytes against the reference, every option combination."""

    def check(self, data, pattern, popts, sopts, threads=0, **extra):
        expr = ref_expr(pattern, **popts)
        want = ref_search(data, expr, **sopts)
        got = mmkit.search(pattern, data, threads=threads, **popts, **sopts, **extra)
        self.assertIsInstance(got, list)
        for line in got:
            self.assertIsInstance(line, mmkit.Line)
        self.assertEqual(as_tuples(got), want, (data[:200], pattern, popts, sopts))
        return got

    def test_every_option_combination(self):
        rng = random.Random(1)
        datasets = [random_data(rng, 600) for _ in range(2)] + adversarial_data()[:6]
        n = 0
        for pattern, popts in PATTERNS:
            for sopts in OPTIONS:
                for data in datasets:
                    self.check(data, pattern, popts, sopts)
                    n += 1
        self.assertGreater(n, 10000)

    def test_random(self):
        rng = random.Random(2)
        for _ in range(150):
            data = random_data(rng, rng.randrange(0, 3000), b"abAB_ \n\n\r\x00")
            pattern, popts = rng.choice(PATTERNS)
            sopts = dict(invert=rng.random() < 0.3, before=rng.randrange(4),
                         after=rng.randrange(4), spans=rng.random() < 0.5,
                         max_count=rng.choice([None, None, 0, 1, 2, 10]))
            self.check(data, pattern, popts, sopts, threads=rng.choice([0, 1, 2]))

    def test_adversarial(self):
        for data in adversarial_data():
            for pattern, popts in PATTERNS:
                self.check(data, pattern, popts, dict(before=1, after=1, spans=True))
                self.check(data, pattern, popts, dict(invert=True, after=1, spans=True))

    def test_large_input_on_threads(self):
        # Several chunks: lines and context across chunk boundaries.
        rng = random.Random(3)
        line_pool = [b"alpha beta", b"", b"gamma ab", b"x" * 300, b"ab ab ab", b"delta"]
        data = b"\n".join(rng.choice(line_pool) for _ in range(60000))
        for sopts in (dict(), dict(before=2, after=1, spans=True),
                      dict(invert=True, max_count=5000), dict(after=3, max_count=100)):
            for threads in (1, 2):
                self.check(data, b"ab", {}, sopts, threads=threads)

    def test_context_sets_before_and_after_unless_given(self):
        data = b"\n".join(b"%d" % i for i in range(40))
        expr = ref_expr(b"^2[05]$")
        self.assertEqual(as_tuples(mmkit.search(rb"^2[05]$", data, context=2)),
                         ref_search(data, expr, before=2, after=2))
        self.assertEqual(as_tuples(mmkit.search(rb"^2[05]$", data, context=2, after=0)),
                         ref_search(data, expr, before=2, after=0))
        self.assertEqual(as_tuples(mmkit.search(rb"^2[05]$", data, context=3, before=1)),
                         ref_search(data, expr, before=1, after=3))

    def test_line_fields(self):
        data = b"one ab\ntwo\nthree\nfour\nfive ab ab\n"
        got = mmkit.search(b"ab", data, before=1, spans=True)
        self.assertEqual([g.kind for g in got], ["match", "context", "match"])
        self.assertEqual([g.gap for g in got], [False, True, False])
        last = got[-1]
        self.assertEqual(last.line_no, 5)
        self.assertEqual(last.offset, data.index(b"five"))
        self.assertEqual(last.text, b"five ab ab")
        self.assertEqual(last.matches, 2)
        self.assertEqual(last.spans, ((5, 7), (8, 10)))
        self.assertEqual(got[1].spans, None)
        self.assertEqual(last, ("match", 5, data.index(b"five"), b"five ab ab", 2,
                                ((5, 7), (8, 10)), False))
        self.assertEqual(mmkit.Line.n_fields, 7)
        # No context: no gaps, whatever lies between.
        self.assertEqual([g.gap for g in mmkit.search(b"ab", data)], [False, False])

    def test_str_pattern_is_utf8(self):
        data = "caf\u00e9 ok\nnon\n".encode()
        self.assertEqual([g.line_no for g in mmkit.search("\u00e9", data)], [1])
        self.assertEqual([g.line_no for g in mmkit.search(["\u00e9", "no"], data)], [1, 2])


class SearchIterTest(TempDirTestCase):
    """search_iter(): search()'s lines, a batch at a time. Tiny batches (the
    private mmkit._search_iter_batch) make every option resume many times."""

    def tiny_batches(self, lines, nbytes=0):
        old = mmkit._search_iter_batch(lines, nbytes)
        self.addCleanup(mmkit._search_iter_batch, *old)

    def test_every_option_with_tiny_batches(self):
        rng = random.Random(30)
        datasets = [random_data(rng, 500), b"ab\n" * 40 + b"x\n" * 5 + b"ab",
                    b"\n".join(b"ab" if rng.random() < 0.5 else b"cd" for _ in range(120))]
        n = 0
        for lines in (1, 2, 3, 7):
            self.tiny_batches(lines)
            for pattern, popts in PATTERNS[::3]:
                expr = ref_expr(pattern, **popts)
                for sopts in OPTIONS[::3]:
                    for data in datasets:
                        it = mmkit.search_iter(pattern, data, **popts, **sopts)
                        got = as_tuples(it)
                        self.assertEqual(got, ref_search(data, expr, **sopts),
                                         (lines, data[:60], pattern, popts, sopts))
                        n += 1
        self.assertGreater(n, 1000)

    def test_byte_limit(self):
        self.tiny_batches(1 << 20, 50)
        rng = random.Random(31)
        data = b"\n".join(random_data(rng, rng.randrange(80), b"ab_ ") for _ in range(400))
        for sopts in (dict(), dict(before=2, after=1, spans=True), dict(invert=True, after=2),
                      dict(before=1, after=1, max_count=60)):
            self.assertEqual(as_tuples(mmkit.search_iter(b"ab", data, **sopts)),
                             ref_search(data, ref_expr(b"ab"), **sopts))

    def test_sources(self):
        self.tiny_batches(5)
        rng = random.Random(32)
        data = random_data(rng, 30000)
        path = self.make_file(data)
        cases = [(b"ab", dict(before=1, after=2, spans=True)),
                 (rb"^a", dict(invert=True, max_count=300, before=1, after=1))]
        m = mmkit.open(path)
        self.addCleanup(m.close)
        fd = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        for p, so in cases:
            want = as_tuples(mmkit.search(p, data, **so))
            self.assertGreater(len(want), 100)
            for src in (data, bytearray(data), m, path, pathlib.Path(path), fd):
                self.assertEqual(as_tuples(mmkit.search_iter(p, src, **so)), want, type(src))
            want = as_tuples(mmkit.search(p, data, start=1000, end=-1000, **so))
            for src in (data, m, path, fd):
                self.assertEqual(
                    as_tuples(mmkit.search_iter(p, src, start=1000, end=-1000, **so)), want)
            r, w = os.pipe()
            t = threading.Thread(target=SourceKindsTest.feed, args=(w, data))
            t.start()
            try:
                # A pipe is one batch.
                self.assertEqual(as_tuples(mmkit.search_iter(p, r, **so)),
                                 as_tuples(mmkit.search(p, data, **so)))
            finally:
                os.close(r)  # first: a writer blocked on a full pipe then ends
                t.join()

    def test_files_whose_size_lies(self):
        # procfs says 0, sysfs 4096: read as streams in one batch.
        self.tiny_batches(1)
        for path in ("/proc/self/cmdline", "/proc/self/limits",
                     "/sys/kernel/mm/transparent_hugepage/enabled"):
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            self.assertEqual(as_tuples(mmkit.search_iter(b".", path)),
                             as_tuples(mmkit.search(b".", data)), path)
            self.assertEqual(as_tuples(mmkit.search(b".", path)),
                             as_tuples(mmkit.search(b".", data)), path)

    def test_large_input_default_batches(self):
        # More than one default batch (65536 lines): dense output, context.
        data = b"".join(b"ab %d\n" % i if i % 7 else b"zz\n" for i in range(100000))
        it = mmkit.search_iter(b"ab", data, after=1, threads=2)
        got = as_tuples(it)
        self.assertEqual(got, as_tuples(mmkit.search(b"ab", data, after=1, threads=2)))
        self.assertEqual(sum(1 for g in got if g[0] == "match"), 100000 - 100000 // 7 - 1)

    def test_map_closed_between_batches(self):
        self.tiny_batches(2)
        m = mmkit.mmap(-1, 4000)
        m[:] = b"ab\n" * 1333 + b"x"
        it = mmkit.search_iter(b"ab", m)
        first = next(it)
        self.assertEqual((first.line_no, first.text), (1, b"ab"))
        next(it)
        m.close()  # not in use between batches
        with self.assertRaisesRegex(ValueError, "closed"):
            list(it)
        self.assertEqual(list(it), [])

    def test_buffer_stays_exported(self):
        b = bytearray(b"ab\nab\n")
        it = mmkit.search_iter(b"ab", b)
        with self.assertRaises(BufferError):
            b.extend(b"x")
        self.assertEqual(len(list(it)), 2)
        b.extend(b"x")  # released when exhausted
        it = mmkit.search_iter(b"ab", b)
        del it
        b.extend(b"y")  # and when dropped

    def test_errors(self):
        with self.assertRaises(mmkit.PatternError):
            mmkit.search_iter(b"(", b"")
        with self.assertRaises(FileNotFoundError):
            mmkit.search_iter(b"a", self.path("missing"))
        with self.assertRaises(ValueError):
            mmkit.search_iter(b"a", b"", before=-1)
        data = b"x" * 100 + b"\n" + b"a" * 30000 + b"b\n"
        it = mmkit.search_iter(rb"(a+)+$", data, threads=1)
        with self.assertRaises(mmkit.RegexLimitError) as cm:
            next(it)
        self.assertLessEqual(cm.exception.offset, 101)
        self.assertEqual(list(it), [])


class SourceKindsTest(TempDirTestCase):
    """Every kind of source gives the bytes' answer."""

    def setUp(self):
        super().setUp()
        rng = random.Random(4)
        # Over 64 KiB: a shared file map is then read from its file (pread).
        self.data = random_data(rng, 90000) + b"\nend ab"
        self.file = self.make_file(self.data)
        self.cases = [(b"ab", {}, dict(before=1, after=2, spans=True)),
                      ([rb"^a", b"B_"], {"ignore_case": True}, dict(invert=True, max_count=50)),
                      (b"a", {"fixed": True, "word": True}, dict(after=1))]

    def expected(self):
        return [as_tuples(mmkit.search(p, self.data, **po, **so)) for p, po, so in self.cases]

    def run_cases(self, make_source, **extra):
        got = []
        for p, po, so in self.cases:
            src = make_source()
            got.append(as_tuples(mmkit.search(p, src, **po, **so, **extra)))
        return got

    def test_reference_agrees_on_the_data(self):
        for (p, po, so), want in zip(self.cases, self.expected()):
            self.assertEqual(want, ref_search(self.data, ref_expr(p, **po), **so))

    def test_buffers(self):
        want = self.expected()
        self.assertEqual(self.run_cases(lambda: bytearray(self.data)), want)
        self.assertEqual(self.run_cases(lambda: memoryview(self.data)), want)

    def test_paths(self):
        want = self.expected()
        self.assertEqual(self.run_cases(lambda: self.file), want)
        self.assertEqual(self.run_cases(lambda: pathlib.Path(self.file)), want)
        self.assertEqual(self.run_cases(lambda: pathlib.Path(os.fsencode(self.file).decode())),
                         want)

    def test_maps(self):
        want = self.expected()
        with open(self.file, "rb") as f:
            m = mmkit.mmap(f.fileno(), 0, access=mmkit.ACCESS_READ)
        self.addCleanup(m.close)
        self.assertEqual(self.run_cases(lambda: m), want)
        m2 = mmkit.open(self.file)
        self.addCleanup(m2.close)
        self.assertEqual(self.run_cases(lambda: m2, threads=1), want)
        anon = mmkit.mmap(-1, len(self.data))
        anon[:] = self.data
        self.addCleanup(anon.close)
        self.assertEqual(self.run_cases(lambda: anon), want)
        # A map is usable afterwards (the scan's hold was released).
        anon.close()
        m2.close()

    def test_descriptors(self):
        want = self.expected()
        fd = os.open(self.file, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.assertEqual(self.run_cases(lambda: fd), want)
        os.fstat(fd)  # still open

    def test_pipe(self):
        want = self.expected()
        got = []
        for p, po, so in self.cases:
            r, w = os.pipe()
            t = threading.Thread(target=self.feed, args=(w, self.data))
            t.start()
            try:
                got.append(as_tuples(mmkit.search(p, r, **po, **so)))
            finally:
                # A search that stops early (max_count, quiet) leaves the
                # rest unread: closing the read end first ends the writer
                # (BrokenPipeError) instead of leaving it blocked on a full
                # pipe while we wait for it.
                os.close(r)
                t.join()
        self.assertEqual(got, want)

    @staticmethod
    def feed(w, data):
        try:
            for i in range(0, len(data), 777):
                os.write(w, data[i:i + 777])
        except BrokenPipeError:
            pass  # the reader stopped early and closed its end
        finally:
            os.close(w)

    def test_ranges(self):
        """start/end: the answer for data[start:end], offsets in the source."""
        m = mmkit.open(self.file)
        self.addCleanup(m.close)
        fd = os.open(self.file, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        n = len(self.data)
        rng = random.Random(8)
        ranges = [(None, None), (0, n), (1, None), (None, 5000), (777, 12345), (-300, None),
                  (5000, 4000), (n + 10, None), (-n - 5, -1)]
        ranges += [(rng.randrange(n), rng.randrange(n)) for _ in range(4)]
        for start, end in ranges:
            s, e, _ = slice(start, end).indices(n)
            e = max(s, e)
            for p, po, so in self.cases:
                want = [line[:2] + (line[2] + s,) + line[3:]
                        for line in as_tuples(mmkit.search(p, self.data[s:e], **po, **so))]
                for src in (self.data, m, self.file, fd):
                    got = mmkit.search(p, src, start=start, end=end, **po, **so)
                    self.assertEqual(as_tuples(got), want, (start, end, type(src)))
                if isinstance(p, bytes):
                    self.assertEqual(mmkit.search(p, memoryview(self.data), start=start, end=end),
                                     mmkit.search(p, self.data, start=start, end=end))

    def test_range_errors(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        os.close(w)
        with self.assertRaisesRegex(ValueError, "regular file"):
            mmkit.search(b"a", r, start=1)
        with self.assertRaisesRegex(ValueError, "decompress"):
            mmkit.search(b"a", self.file, start=1, decompress=True)
        with self.assertRaises(TypeError):
            mmkit.search(b"a", self.data, start=1.0)
        data = b"x" * 100 + b"\n" + b"a" * 30000 + b"b\n"
        with self.assertRaises(mmkit.RegexLimitError) as cm:
            mmkit.search(rb"(a+)+$", data, start=50, threads=1)
        self.assertGreaterEqual(cm.exception.offset, 50)
        self.assertLessEqual(cm.exception.offset, 101)

    def test_file_truncated_under_the_map(self):
        m = mmkit.open(self.file)
        self.addCleanup(m.close)
        os.truncate(self.file, 1000)
        for call in (lambda: mmkit.search(b"ab", m), lambda: mmkit.count_by(b"ab", m)):
            with self.assertRaises(OSError) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.EFAULT)
        # The part the file still holds is searched as usual.
        self.assertEqual(as_tuples(mmkit.search(b"ab", m, end=1000)),
                         as_tuples(mmkit.search(b"ab", self.data[:1000])))

    def test_closed_map(self):
        m = mmkit.mmap(-1, 10)
        m.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            mmkit.search(b"a", m)
        with self.assertRaisesRegex(ValueError, "closed"):
            mmkit.count_by(b"a", m)

    def test_map_can_close_after_search(self):
        m = mmkit.open(self.file)
        mmkit.search(b"ab", m)
        m.close()  # no view left behind
        self.assertTrue(m.closed)


def compressors():
    """(name, compress function) for the formats Python can write here."""
    out = [("gzip", gzip.compress), ("bzip2", bz2.compress),
           ("xz", lambda d: lzma.compress(d, format=lzma.FORMAT_XZ))]
    zstd = shutil.which("zstd")
    if zstd:
        out.append(("zstd", lambda d: subprocess.run([zstd, "-q", "-c"], input=d,
                                                     stdout=subprocess.PIPE,
                                                     check=True).stdout))
    return out


def decoder_available():
    """False while the library has no decoders (mmk_decoder_open: ENOTSUP)."""
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        mmkit.search(b"x", fd, decompress=True)
    except OSError as e:
        if e.errno == errno.EOPNOTSUPP:
            return False
        raise
    finally:
        os.close(fd)
    return True


class DecompressTest(TempDirTestCase):
    def setUp(self):
        super().setUp()
        if not decoder_available():
            self.skipTest("this build's library has no decoders yet (mmk_decoder_open)")
        rng = random.Random(5)
        self.data = b"".join(b"%d %s\n" % (i, random_data(rng, rng.randrange(40)))
                             for i in range(3000))

    def test_formats_give_the_plain_answer(self):
        want = as_tuples(mmkit.search(rb"a[bB]", self.data, context=1, spans=True))
        counts = mmkit.count_by(rb"a([bB_])", self.data, 1) if self.have_count_by() else None
        for name, compress in compressors():
            with self.subTest(format=name):
                path = self.make_file(compress(self.data), "data." + name)
                got = mmkit.search(rb"a[bB]", path, context=1, spans=True, decompress=True)
                self.assertEqual(as_tuples(got), want)
                got = mmkit.search_iter(rb"a[bB]", path, context=1, spans=True, decompress=True)
                self.assertEqual(as_tuples(got), want)
                fd = os.open(path, os.O_RDONLY)
                try:
                    got = mmkit.search(rb"a[bB]", fd, context=1, spans=True, decompress=True)
                finally:
                    os.close(fd)
                self.assertEqual(as_tuples(got), want)
                if counts is not None:
                    self.assertEqual(
                        mmkit.count_by(rb"a([bB_])", path, 1, decompress=True), counts)

    def test_pipe(self):
        want = as_tuples(mmkit.search(rb"a[bB]", self.data, after=2))
        for name, compress in compressors():
            with self.subTest(format=name):
                r, w = os.pipe()
                t = threading.Thread(target=SourceKindsTest.feed, args=(w, compress(self.data)))
                t.start()
                try:
                    got = mmkit.search(rb"a[bB]", r, after=2, decompress=True)
                finally:
                    os.close(r)  # first: a writer blocked on a full pipe then ends
                    t.join()
                self.assertEqual(as_tuples(got), want)

    def test_descriptor_is_read_from_its_position(self):
        head = b"ab first\n"
        path = self.make_file(head + gzip.compress(self.data), "tail.gz")
        fd = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        os.lseek(fd, len(head), os.SEEK_SET)
        self.assertEqual(as_tuples(mmkit.search(b"ab", fd, decompress=True)),
                         as_tuples(mmkit.search(b"ab", self.data)))

    def test_plain_data_passes_through(self):
        path = self.make_file(self.data)
        self.assertEqual(as_tuples(mmkit.search(b"ab", path, decompress=True)),
                         as_tuples(mmkit.search(b"ab", self.data)))

    def test_corrupt_data(self):
        bad = bytearray(gzip.compress(self.data))
        bad[len(bad) // 2:] = b"\x00" * (len(bad) - len(bad) // 2)
        path = self.make_file(bytes(bad), "bad.gz")
        with self.assertRaises(OSError) as cm:
            mmkit.search(b"ab", path, decompress=True)
        self.assertIn("corrupt", str(cm.exception))
        self.assertEqual(cm.exception.filename, path)
        truncated = self.make_file(gzip.compress(self.data)[:200], "short.gz")
        with self.assertRaises(OSError):
            mmkit.search(b"ab", truncated, decompress=True)

    @staticmethod
    def have_count_by():
        try:
            mmkit.count_by(b"a", b"a")
        except OSError as e:
            if e.errno == errno.EOPNOTSUPP:
                return False
            raise
        return True


class SearchErrorsTest(TempDirTestCase):
    def test_pattern_error_names_the_pattern(self):
        with self.assertRaises(mmkit.PatternError) as cm:
            mmkit.search(b"a(", b"data")
        self.assertEqual(cm.exception.index, 0)
        self.assertEqual(cm.exception.pattern, b"a(")
        with self.assertRaises(mmkit.PatternError) as cm:
            mmkit.search([b"ok", b"fine", b"[z", b"x"], b"data")
        e = cm.exception
        self.assertIsInstance(e, ValueError)
        self.assertEqual(e.index, 2)
        self.assertEqual(e.pattern, b"[z")
        self.assertIsInstance(e.pos, int)
        with self.assertRaises(mmkit.PatternError) as cm:
            mmkit.count_by([b"(a)", b"b)"], b"data")
        self.assertEqual(cm.exception.index, 1)

    def test_regex_limit(self):
        data = b"x" * 100 + b"\n" + b"a" * 30000 + b"b\n"
        with self.assertRaises(mmkit.RegexLimitError) as cm:
            mmkit.search(rb"(a+)+$", data, threads=1)
        self.assertIsInstance(cm.exception, RuntimeError)
        self.assertIsInstance(cm.exception.offset, int)
        self.assertLessEqual(cm.exception.offset, 101)

    def test_os_errors_name_the_file(self):
        missing = self.path("missing.log")
        for fn in (mmkit.search, mmkit.count_by):
            with self.assertRaises(FileNotFoundError) as cm:
                fn(b"a", missing)
            self.assertEqual(cm.exception.errno, errno.ENOENT)
            self.assertEqual(cm.exception.filename, missing)
            with self.assertRaises(IsADirectoryError) as cm:
                fn(b"a", self.dir)
            self.assertEqual(cm.exception.filename, self.dir)
        fd = os.open(self.make_file(b"abc\n"), os.O_RDONLY)
        os.close(fd)
        with self.assertRaises(OSError) as cm:
            mmkit.search(b"a", fd)
        self.assertEqual(cm.exception.errno, errno.EBADF)

    def test_bad_arguments(self):
        d = b"a\nb\n"
        for kw in (dict(before=-1), dict(after=-1), dict(context=-2), dict(max_count=-1),
                   dict(threads=-1), dict(before=1 << 40)):
            with self.subTest(kw=kw), self.assertRaises(ValueError):
                mmkit.search(b"a", d, **kw)
        for kw in (dict(before=1.5), dict(max_count="3"), dict(context=True)):
            with self.subTest(kw=kw), self.assertRaises(TypeError):
                mmkit.search(b"a", d, **kw)
        with self.assertRaisesRegex(ValueError, "empty"):
            mmkit.search([], d)
        with self.assertRaisesRegex(ValueError, "decompress"):
            mmkit.search(b"a", d, decompress=True)
        with self.assertRaises(TypeError):
            mmkit.search(b"a", 3.5)
        with self.assertRaises(TypeError):
            mmkit.search(3, d)
        with self.assertRaises(TypeError):
            mmkit.search([b"a", 3], d)
        with self.assertRaises(ValueError):
            mmkit.search(b"a", -1)
        with self.assertRaises(TypeError):
            mmkit.search(b"a", d, 1)  # options are keyword-only

    def test_bytes_are_data_not_a_path(self):
        path = self.make_file(b"inside\n")
        self.assertEqual(mmkit.search(b"inside", os.fsencode(path)), [])
        self.assertEqual(len(mmkit.search(b"inside", path)), 1)


class CountByTest(TempDirTestCase):
    def setUp(self):
        super().setUp()
        try:
            mmkit.count_by(b"a", b"a")
        except OSError as e:
            if e.errno == errno.EOPNOTSUPP:
                self.skipTest("this build's library has no mmk_count_by yet")
            raise

    CASES = [
        (rb"[ab]+", 0, {}),
        (rb"a(b*)", 1, {}),
        (rb"(a)|(b)", 2, {}),
        (rb"(?P<w>[A-Za-z]{1,8})_", "w", {}),  # bounded: re backtracks quadratically
        (rb"ab", 0, {"ignore_case": True}),
        (rb"a b", 0, {"fixed": True}),
        (rb"a|b", 0, {"word": True}),
        (rb"a*", 0, {}),
        ([rb"(a)b", rb"(B)"], 2, {}),
        ([rb"(a)b", rb"(B)"], 1, {"ignore_case": True}),
    ]

    def test_against_counter(self):
        rng = random.Random(6)
        datasets = [random_data(rng, 4000) for _ in range(3)] + adversarial_data()
        for data in datasets:
            for pattern, group, popts in self.CASES:
                expr = ref_expr(pattern, **popts)
                g = expr.groupindex[group] if isinstance(group, str) else group
                if isinstance(pattern, list) and g:
                    g = g  # groups are numbered across the list, as in the alternation
                want = ref_count_by(data, expr, g)
                for threads in (0, 1):
                    got = mmkit.count_by(pattern, data, group, threads=threads, **popts)
                    self.assertEqual(got, want, (data[:100], pattern, group, popts))

    def test_sources_and_top(self):
        rng = random.Random(7)
        data = random_data(rng, 50000)
        path = self.make_file(data)
        want = ref_count_by(data, re.compile(rb"a[ab_]"))
        self.assertEqual(mmkit.count_by(rb"a[ab_]", path), want)
        self.assertEqual(mmkit.count_by(rb"a[ab_]", pathlib.Path(path)), want)
        m = mmkit.open(path)
        self.addCleanup(m.close)
        self.assertEqual(mmkit.count_by(rb"a[ab_]", m), want)
        fd = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.assertEqual(mmkit.count_by(rb"a[ab_]", fd), want)
        self.assertEqual(mmkit.count_by(rb"a[ab_]", data, top=2), want[:2])
        self.assertEqual(mmkit.count_by(rb"a[ab_]", data, top=0), [])

    def test_large_input_on_threads(self):
        rng = random.Random(9)
        words = [b"GET", b"POST", b"get", b"PUT", b"x" * 200, b""]
        data = b"\n".join(b"%s /p%d %s" % (rng.choice(words), rng.randrange(50), rng.choice(words))
                          for _ in range(40000))
        path = self.make_file(data)
        expr = re.compile(rb"([A-Z]+) /p(\d)")
        for g in (0, 1, 2):
            want = ref_count_by(data, expr, g)
            for threads in (1, 2):
                self.assertEqual(mmkit.count_by(expr.pattern, data, g, threads=threads), want)
                self.assertEqual(mmkit.count_by(expr.pattern, path, g, threads=threads), want)

    def test_regex_limit(self):
        data = b"x" * 100 + b"\n" + b"a" * 30000 + b"b\n"
        with self.assertRaises(mmkit.RegexLimitError) as cm:
            mmkit.count_by(rb"(a+)+$", data, threads=1)
        self.assertLessEqual(cm.exception.offset, 101)

    def test_bad_groups(self):
        with self.assertRaisesRegex(ValueError, "out of range"):
            mmkit.count_by(rb"(a)", b"a", 2)
        with self.assertRaisesRegex(ValueError, "out of range"):
            mmkit.count_by(rb"(a)", b"a", -1)
        with self.assertRaisesRegex(ValueError, "no group named"):
            mmkit.count_by(rb"(?P<x>a)", b"a", "y")
        with self.assertRaises(TypeError):
            mmkit.count_by(rb"(a)", b"a", 1.0)
        with self.assertRaises(ValueError):
            mmkit.count_by(rb"(a)", b"a", top=-1)


if __name__ == "__main__":
    unittest.main()


# ---------------------------------------------------------------------------
# time_range()

import datetime  # noqa: E402

UTC = datetime.timezone.utc
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def ns_of(dt):
    """Nanoseconds since the epoch of an aware datetime (exact)."""
    delta = dt - datetime.datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def stamp(fmt, dt):
    if fmt == "iso8601":
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (dt.microsecond // 1000)
    if fmt == "iso8601-space":
        return dt.strftime("%Y-%m-%d %H:%M:%S") + "+00:00"
    if fmt == "syslog":
        return "%s %2d %s" % (MONTHS[dt.month - 1], dt.day, dt.strftime("%H:%M:%S"))
    if fmt == "clf":
        return "[%02d/%s/%d:%s +0000]" % (dt.day, MONTHS[dt.month - 1], dt.year,
                                          dt.strftime("%H:%M:%S"))
    raise AssertionError(fmt)


def make_log(rng, fmt, n, start=datetime.datetime(2026, 11, 30, 8, 0, 0, tzinfo=UTC)):
    """A time-ordered log: (bytes, [(offset, ns or None)]) with continuation
    lines (no timestamp) now and then, equal times too."""
    t = start
    lines, stamps = [], []
    off = 0
    for i in range(n):
        if i and rng.random() < 0.15:
            text = "    continued %d" % i
            ns = None
        else:
            t += datetime.timedelta(milliseconds=rng.choice([0, 1, 250, 1000, 61000]))
            s = stamp(fmt, t)
            if fmt == "clf":
                text = '10.0.0.%d - - %s "GET /x%d HTTP/1.1" 200 %d' % (i % 250, s, i, i)
            else:
                text = "%s host app[%d]: event %d" % (s, i, i)
            ns = ns_of(t.replace(microsecond=t.microsecond // 1000 * 1000)
                       if fmt == "iso8601" else t.replace(microsecond=0))
        b = text.encode() + b"\n"
        lines.append(b)
        stamps.append((off, ns))
        off += len(b)
    return b"".join(lines), stamps


def ref_time_range(data, stamps, since, until):
    """[start, end) of the lines with since <= t < until; untimed lines go
    with the line before (the first timed line for those before it)."""
    first = next(ns for _, ns in stamps if ns is not None)
    groups = []  # (offset, ns) of each line carrying a time, untimed ones folded in
    cur = first
    for off, ns in stamps:
        if ns is not None:
            cur = ns
        groups.append((off, cur))
    lo = since if since is not None else -(1 << 63)
    hi = until if until is not None else (1 << 63) - 1
    start = next((off for off, t in groups if t >= lo), len(data))
    end = next((off for off, t in groups if t >= hi), len(data))
    return start, max(start, end)


def time_range_available():
    """False while the library has no mmk_time_range (EOPNOTSUPP)."""
    line = b"2026-11-30T08:00:00Z up\n"
    m = mmkit.mmap(-1, len(line))
    m[:] = line
    try:
        mmkit.time_range(m)
    except OSError as e:
        if e.errno == errno.EOPNOTSUPP:
            return False
        raise
    finally:
        m.close()
    return True


class TimeRangeTest(TempDirTestCase):
    def setUp(self):
        super().setUp()
        if not time_range_available():
            self.skipTest("this build's library has no mmk_time_range yet")

    def check_log(self, fmt, rng, n=400, **kw):
        data, stamps = make_log(rng, fmt, n)
        path = self.make_file(data, "log-%s.txt" % fmt)
        m = mmkit.open(path)
        self.addCleanup(m.close)
        times = sorted({ns for _, ns in stamps if ns is not None})
        probes = [None, times[0], times[-1], times[0] - 1, times[-1] + 1]
        probes += [rng.choice(times) for _ in range(15)] + [rng.choice(times) + 1 for _ in range(5)]
        for _ in range(60):
            since, until = rng.choice(probes), rng.choice(probes)
            want = ref_time_range(data, stamps, since, until)
            for src in (m, path):
                start, end, is_sorted = mmkit.time_range(src, since, until, **kw)
                if since is not None and until is not None and until <= since:
                    self.assertEqual(start, end)
                    continue
                self.assertEqual((start, end), want, (fmt, since, until))
                self.assertIs(is_sorted, True)

    def test_iso8601(self):
        self.check_log("iso8601", random.Random(10))
        self.check_log("iso8601", random.Random(11), format="iso8601")

    def test_iso8601_with_space_and_zone(self):
        self.check_log("iso8601-space", random.Random(12))

    def test_syslog(self):
        self.check_log("syslog", random.Random(13), year=2026)
        self.check_log("syslog", random.Random(14), format="syslog", year=2026)

    def test_clf(self):
        self.check_log("clf", random.Random(15))
        self.check_log("clf", random.Random(16), format="clf")

    def test_text_bounds_equal_nanoseconds(self):
        data, stamps = make_log(random.Random(17), "iso8601", 300)
        path = self.make_file(data)
        since = datetime.datetime(2026, 11, 30, 8, 10, 0, tzinfo=UTC)
        until = datetime.datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)
        want = mmkit.time_range(path, ns_of(since), ns_of(until))
        self.assertEqual(mmkit.time_range(path, "2026-11-30T08:10:00Z", "2026-11-30T09"), want)
        self.assertEqual(mmkit.time_range(path, b"2026-11-30 08:10", "2026-11-30T09:00:00+00:00"),
                         want)
        self.assertEqual(want[:2], ref_time_range(data, stamps, ns_of(since), ns_of(until)))

    def test_utc_offset(self):
        # The same log without zones, read as UTC+1: every time is an hour earlier.
        data, stamps = make_log(random.Random(18), "iso8601", 200)
        plain_lines = [line.replace(b"Z host", b" host") for line in data.splitlines(True)]
        plain = b"".join(plain_lines)
        offsets = list(itertools.accumulate([0] + [len(x) for x in plain_lines[:-1]]))
        plain_stamps = [(off, ns) for off, (_, ns) in zip(offsets, stamps)]
        path = self.make_file(plain)
        hour = 3600 * 10**9
        since, until = stamps[50][1] or stamps[51][1], stamps[150][1] or stamps[151][1]
        want = ref_time_range(plain, plain_stamps, since, until)
        self.assertEqual(mmkit.time_range(path, since - hour, until - hour, utc_offset=3600)[:2],
                         want)
        self.assertEqual(mmkit.time_range(path, since, until)[:2], want)
        self.assertNotEqual(mmkit.time_range(path, since, until, utc_offset=3600)[:2], want)

    def test_out_of_order_is_reported(self):
        data, _ = make_log(random.Random(19), "iso8601", 500)
        backwards = b"".join(reversed(data.splitlines(keepends=True)))
        path = self.make_file(backwards)
        start, end, is_sorted = mmkit.time_range(path, "2026-11-30T08:30", "2026-11-30T09")
        self.assertIs(is_sorted, False)
        self.assertLessEqual(start, end)

    def test_window_then_search(self):
        data, stamps = make_log(random.Random(20), "clf", 3000)
        path = self.make_file(data)
        times = [ns for _, ns in stamps if ns is not None]
        since, until = times[700], times[2100]
        start, end, _ = mmkit.time_range(path, since, until)
        self.assertEqual((start, end), ref_time_range(data, stamps, since, until))
        got = mmkit.search(rb'"GET /x\d*7 ', path, start=start, end=end)
        want = [(off, text) for off, text in ref_lines(data)
                if start <= off < end and re.search(rb'"GET /x\d*7 ', text)]
        self.assertEqual([(g.offset, g.text) for g in got], want)
        self.assertGreater(len(want), 10)

    def test_errors(self):
        path = self.make_file(b"no time here\nnor here\n")
        with self.assertRaisesRegex(ValueError, "timestamp"):
            mmkit.time_range(path, "2026-11-30")
        good = self.make_file(b"2026-11-30T08:00:00Z a\n", "good.log")
        with self.assertRaisesRegex(ValueError, "since"):
            mmkit.time_range(good, "yesterday")
        with self.assertRaisesRegex(ValueError, "format"):
            mmkit.time_range(good, format="rfc2822")
        with self.assertRaises(TypeError):
            mmkit.time_range(good, 1.5)
        with self.assertRaises(TypeError):
            mmkit.time_range(b"2026-11-30T08:00:00Z a\n")
        with self.assertRaises(FileNotFoundError) as cm:
            mmkit.time_range(self.path("missing"))
        self.assertEqual(cm.exception.filename, self.path("missing"))
        m = mmkit.open(good)
        m.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            mmkit.time_range(m)
