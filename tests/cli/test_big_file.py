"""mmk over a file larger than 4 GiB: a sparse 5 GiB file (holes cost no disk)
with marker lines before 4 GiB, across the 4 GiB boundary and past 4.5 GiB.
`mmk count`, `mmk lines`, `mmk grep -n -b` (line numbers and byte offsets) and
`mmk grep -o -b` (match offsets) must give the numbers computed here from what
was written; the holes read as NUL bytes, which are not newlines. Runs against
the native mmk and, in the 32-bit tree (m32_cli_big_file), against a 32-bit
mmk for which the file is larger than the address space.
"""
import os
import unittest

from mmkcli import MmkTestCase, mmk

GIB = 1 << 30
SIZE = 5 * GIB
NEEDLE = b"MARKER"
PIECES = [
    (1000, b"first MARKER a\n"),
    (4 * GIB - 11, b"\nstraddle MARKER b\n"),  # "MA" ends at 2**32 - 1
    (4 * GIB + GIB // 2 + 12345, b"\nlate MARKER c\nlate MARKER d MARKER\n"),
    (SIZE - 3 * 4096 - 7, b"\nlast MARKER e"),  # the last line has no newline
]
QUICK = os.environ.get("MMK_CLI_QUICK") == "1"


def byte_at(off):
    for start, text in PIECES:
        if start <= off < start + len(text):
            return text[off - start]
    return 0


def expected():
    """(newlines, [(match_off, line_no, line_off, line_end)]) from PIECES."""
    newlines, line_start, matches, open_from = 0, 0, [], 0
    for start, text in PIECES:
        for k, b in enumerate(text):
            if b == ord("\n"):
                for i in range(open_from, len(matches)):
                    matches[i][3] = start + k
                open_from = len(matches)
                newlines += 1
                line_start = start + k + 1
            elif text[k:k + len(NEEDLE)] == NEEDLE:
                matches.append([start + k, newlines + 1, line_start, None])
    for i in range(open_from, len(matches)):
        matches[i][3] = SIZE
    return newlines, matches


def line_bytes(a, b):
    """The bytes of [a, b): zeros but for the pieces (short lines only)."""
    return bytes(byte_at(o) for o in range(a, b))


class BigFileTest(MmkTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.path = os.path.join(cls.tmp, "big5g")
        with open(cls.path, "wb") as f:
            f.truncate(SIZE)
            for off, text in PIECES:
                f.seek(off)
                f.write(text)
        cls.newlines, cls.matches = expected()

    def run_mmk(self, *args):
        r = mmk(*args, timeout=900)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r.stdout

    def test_count(self):
        self.assertEqual(self.run_mmk("count", "MARKER", self.path).split(),
                         [str(len(self.matches)).encode()])

    def test_lines(self):
        out = self.run_mmk("lines", self.path).split()
        self.assertEqual(out[0], str(self.newlines).encode())

    def test_grep_line_numbers_and_offsets(self):
        want = b""
        seen = set()
        for _, line_no, a, b in self.matches:
            if a in seen:
                continue
            seen.add(a)
            want += b"%d:%d:" % (line_no, a) + line_bytes(a, b) + b"\n"
        self.assertEqual(self.run_mmk("grep", "-n", "-b", "MARKER", self.path), want)

    @unittest.skipIf(QUICK, "quick mode: the match offsets are checked by test_big_file")
    def test_grep_match_offsets(self):
        want = b"".join(b"%d:%d:MARKER\n" % (line_no, off) for off, line_no, _, _ in self.matches)
        self.assertEqual(self.run_mmk("grep", "-o", "-n", "-b", "MARKER", self.path), want)


if __name__ == "__main__":
    unittest.main()
