"""mmap.count() over maps whose content is the file's page cache
(ACCESS_READ, ACCESS_WRITE) reads the file range with pread instead of
faulting the map in. These tests hold it to the map path's answers
(a copy-on-write map of the same file is always scanned in place) and to
re.findall, through writes, private writes, appends and truncation."""

import errno
import mmap as stdmmap
import os
import random
import re

import mmkit
from mmkit_testutil import TempDirTestCase, random_bytes

# Ranges at least this long are read from the file (PYMM_NOGIL_THRESHOLD / 16).
FILE_SCAN_MIN = 1 << 16


def ref_count(pattern, data, regex=False, ignore_case=False, whole_word=False):
    expr = pattern if regex else re.escape(pattern)
    if whole_word:
        expr = rb"(?<![A-Za-z0-9_])(?:" + expr + rb")(?![A-Za-z0-9_])"
    return len(re.findall(expr, data, re.IGNORECASE if ignore_case else 0))


def random_data(rng, size, alphabet=b"abAB_ \n"):
    return random_bytes(rng, size, alphabet)


PATTERNS = [
    (b"a", {}),
    (b"ab", {}),
    (b"aba", {}),
    (b"b \n", {}),
    (b"ab", {"ignore_case": True}),
    (b"ab", {"whole_word": True}),
    (b"a_b", {"whole_word": True, "ignore_case": True}),
    (rb"a[bB]+", {"regex": True}),
    (rb"\bab\b", {"regex": True}),
    (rb"(?m)^a", {"regex": True}),
    (rb"b$", {"regex": True}),
    (rb"[^a\n]{3}", {"regex": True}),
    (rb"a|b_", {"regex": True, "ignore_case": True}),
    (rb"(?<=b)a", {"regex": True}),
]


class CountFromFileTest(TempDirTestCase):
    def setUp(self):
        super().setUp()
        rng = random.Random(10)
        # Several pread chunks and more than one thread's share.
        self.data = random_data(rng, 3 * FILE_SCAN_MIN + 12345)
        self.file = self.make_file(self.data)

    def open_map(self, access, offset=0, length=0):
        f = open(self.file, "r+b")
        self.addCleanup(f.close)
        m = mmkit.mmap(f.fileno(), length, access=access, offset=offset)
        self.addCleanup(m.close)
        return m

    def test_counts_equal_map_path_and_re(self):
        read = mmkit.open(self.file)
        self.addCleanup(read.close)
        write = self.open_map(stdmmap.ACCESS_WRITE)
        copy = self.open_map(stdmmap.ACCESS_COPY)  # always scanned in place
        rng = random.Random(11)
        n = len(self.data)
        ranges = [(None, None), (0, n), (1, n - 1), (FILE_SCAN_MIN - 3, None), (-FILE_SCAN_MIN * 2, -7)]
        ranges += [tuple(sorted(rng.sample(range(n + 1), 2))) for _ in range(4)]
        for pattern, opts in PATTERNS:
            for start, end in ranges:
                want = ref_count(pattern, self.data[start:end], **opts)
                for m in (read, write, copy):
                    for threads in (None, 1, 2):
                        got = m.count(pattern, start, end, threads=threads, **opts)
                        self.assertEqual(got, want, (pattern, opts, start, end, threads))

    def test_map_at_an_offset(self):
        gran = stdmmap.ALLOCATIONGRANULARITY
        for access in (stdmmap.ACCESS_READ, stdmmap.ACCESS_WRITE):
            m = self.open_map(access, offset=gran, length=len(self.data) - gran - 100)
            view = self.data[gran : len(self.data) - 100]
            for pattern, opts in PATTERNS:
                self.assertEqual(m.count(pattern, **opts), ref_count(pattern, view, **opts))
                self.assertEqual(
                    m.count(pattern, 5, -5, **opts), ref_count(pattern, view[5:-5], **opts)
                )

    def test_writes_through_a_shared_map_are_counted(self):
        m = self.open_map(stdmmap.ACCESS_WRITE)
        data = bytearray(self.data)
        rng = random.Random(12)
        for _ in range(20):
            at = rng.randrange(len(data) - 10)
            m[at : at + 10] = b"Zerubbabel"
            data[at : at + 10] = b"Zerubbabel"
        m.seek(FILE_SCAN_MIN)
        m.write(b"Zerubbabel")
        data[FILE_SCAN_MIN : FILE_SCAN_MIN + 10] = b"Zerubbabel"
        self.assertEqual(m.count(b"Zerubbabel"), bytes(data).count(b"Zerubbabel"))
        self.assertEqual(m.count(b"zerubbabel", ignore_case=True), bytes(data).count(b"Zerubbabel"))
        # Another map of the file sees the same bytes.
        other = mmkit.open(self.file)
        self.addCleanup(other.close)
        self.assertEqual(other.count(b"Zerubbabel"), bytes(data).count(b"Zerubbabel"))

    def test_private_writes_of_a_copy_map_are_counted(self):
        m = self.open_map(stdmmap.ACCESS_COPY)
        before = self.data.count(b"Zerubbabel")
        for at in (0, FILE_SCAN_MIN + 3, len(self.data) - 10):
            m[at : at + 10] = b"Zerubbabel"
        self.assertEqual(m.count(b"Zerubbabel"), before + 3)
        self.assertEqual(m.count(rb"Zer\w+", regex=True), before + 3)
        # The file itself did not change.
        with open(self.file, "rb") as f:
            self.assertEqual(f.read(), self.data)

    def test_bytes_appended_past_the_map_are_not_counted(self):
        m = self.open_map(stdmmap.ACCESS_READ)
        want = ref_count(b"ab", self.data)
        with open(self.file, "ab") as f:
            f.write(b"ab" * 100000)
        self.assertEqual(m.count(b"ab"), want)
        self.assertEqual(m.count(b"ab", -FILE_SCAN_MIN * 2), ref_count(b"ab", self.data[-FILE_SCAN_MIN * 2 :]))

    def test_truncated_file(self):
        page = stdmmap.PAGESIZE
        for access in (stdmmap.ACCESS_READ, stdmmap.ACCESS_WRITE):
            with open(self.file, "wb") as f:
                f.write(self.data)
            m = self.open_map(access)
            keep = 2 * FILE_SCAN_MIN
            os.truncate(self.file, keep)
            # A range the file still holds is counted as before.
            self.assertEqual(m.count(b"a", 0, keep), ref_count(b"a", self.data[:keep]))
            self.assertEqual(m.count(rb"a\w", 0, keep, regex=True), ref_count(rb"a\w", self.data[:keep], regex=True))
            # Ranges past the file's end: OSError as through the map, no crash.
            for args in ((), (keep + page,), (0, keep + 2 * page)):
                with self.assertRaises(OSError) as cm:
                    m.count(b"a", *args)
                self.assertEqual(cm.exception.errno, errno.EFAULT, args)
                with self.assertRaises(OSError):
                    m.count(rb"a\w", *args, regex=True)
            # The map is still usable after the error.
            self.assertEqual(m.count(b"a", 0, 100), self.data[:100].count(b"a"))
            m.close()
            os.truncate(self.file, 0)

    def test_file_grown_back_after_truncation(self):
        m = self.open_map(stdmmap.ACCESS_READ)
        os.truncate(self.file, 100)
        with self.assertRaises(OSError):
            m.count(b"a")
        with open(self.file, "r+b") as f:
            f.seek(100)
            f.write(self.data[100:])
        self.assertEqual(m.count(b"a"), self.data.count(b"a"))

    def test_closed_map(self):
        m = self.open_map(stdmmap.ACCESS_READ)
        m.close()
        with self.assertRaises(ValueError):
            m.count(b"a")
