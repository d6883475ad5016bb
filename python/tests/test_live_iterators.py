"""Iterators see the map as it is when they produce an item: after a write,
a resize, a close or a truncation of the file, no item holds old bytes or
offsets past len(m), and the iterator raises a clear error where it cannot
go on. Also bytes(m) and readinto(), the guarded ways to copy a whole map.
"""

import errno
import os
import re

import mmkit
from mmkit_testutil import TempDirTestCase, split_lines

PAGE = mmkit.PAGESIZE


class Base(TempDirTestCase):
    def writable_map(self, data):
        p = self.make_file(data)
        with open(p, "r+b") as f:
            m = mmkit.mmap(f.fileno(), 0)
        self.addCleanup(m.close)
        return p, m


class LinesTest(Base):
    DATA = b"".join(b"line %05d\n" % i for i in range(3000))  # 11 bytes a line

    def test_write_ahead_is_seen(self):
        _, m = self.writable_map(self.DATA)
        it = m.lines()
        self.assertEqual(next(it), b"line 00000\n")
        m[11:22] = b"CHANGED 01\n"          # the next line
        m.seek(33)
        m.write(b"WRITTEN 03\n")            # the one after
        self.assertEqual(next(it), b"CHANGED 01\n")
        self.assertEqual(next(it), b"line 00002\n")
        self.assertEqual(next(it), b"WRITTEN 03\n")
        # a write far ahead, beyond any block a buffer would have held
        m[len(m) - 11:] = b"last line!\n"
        self.assertEqual(list(it)[-1], b"last line!\n")

    def test_write_without_newlines_joins_lines(self):
        _, m = self.writable_map(self.DATA)
        it = m.lines()
        next(it)
        m[21] = ord(b"-")                   # the newline of line 1
        self.assertEqual(next(it), b"line 00001-line 00002\n")

    def test_shrink_stops_at_the_new_end(self):
        _, m = self.writable_map(self.DATA)
        it = m.lines()
        first = [next(it) for _ in range(10)]
        m.resize(115)                       # in the middle of line 10
        rest = list(it)
        self.assertEqual(first + rest, split_lines(self.DATA[:115]))
        self.assertEqual(rest[-1], b"line ")  # never past the end

    def test_shrink_before_the_position(self):
        _, m = self.writable_map(self.DATA)
        it = m.lines()
        for _ in range(100):
            next(it)
        m.resize(50)
        self.assertEqual(list(it), [])

    def test_growth_is_followed_without_an_end(self):
        _, m = self.writable_map(self.DATA[:110])
        it = m.lines()
        bounded = m.lines(0, 110)
        self.assertEqual(len([next(it) for _ in range(9)]), 9)
        m.resize(220)
        m[110:] = self.DATA[110:220]
        self.assertEqual(list(it), split_lines(self.DATA[99:220]))
        self.assertEqual(list(bounded), split_lines(self.DATA[:110]))

    def test_close(self):
        _, m = self.writable_map(self.DATA)
        it = m.lines()
        next(it)
        m.close()
        with self.assertRaisesRegex(ValueError, "^mmap closed or invalid$"):
            next(it)

    def test_truncated_file(self):
        data = self.DATA * 4
        p, m = self.writable_map(data)
        it = m.lines()
        self.assertEqual(next(it), b"line 00000\n")
        os.truncate(p, PAGE)
        got = []
        with self.assertRaises(OSError) as cm:
            for line in it:
                got.append(line)
        self.assertEqual(cm.exception.errno, errno.EFAULT)
        # every line produced was still backed by the file, and exact
        self.assertEqual(b"line 00000\n" + b"".join(got), data[:len(got) * 11 + 11])
        self.assertLessEqual(len(got) * 11 + 11, PAGE + 11)


class SpansTest(Base):
    DATA = (b"alpha beta gamma delta\n" * 4000)

    def check_live(self, m, it, pattern, regex=False):
        """Drain it; each span must be a match of pattern in the map as it
        is when produced."""
        out = []
        for s, e in it:
            self.assertLessEqual(e, len(m))
            if regex:
                self.assertIsNotNone(re.fullmatch(pattern, m[s:e]), (s, e))
            else:
                self.assertEqual(m[s:e], pattern)
            out.append((s, e))
        return out

    def test_literal_after_writes(self):
        _, m = self.writable_map(self.DATA)
        it = m.finditer(b"beta")
        first = [next(it) for _ in range(3)]
        self.assertEqual(first, [(6, 10), (29, 33), (52, 56)])
        # remove the next match, add one elsewhere, far ahead too
        m[75:79] = b"BETA"
        m[0:4] = b"beta"                    # behind: not produced again
        m[len(m) - 5:len(m) - 1] = b"beta"
        rest = self.check_live(m, it, b"beta")
        expected = [(s + 56, e + 56) for s, e in
                    (x.span() for x in re.finditer(b"beta", m[56:]))]
        self.assertEqual(rest, expected)
        self.assertNotIn((75, 79), rest)
        self.assertEqual(rest[-1], (len(m) - 5, len(m) - 1))

    def test_regex_after_writes(self):
        _, m = self.writable_map(self.DATA)
        pat = rb"g\w+a"
        it = m.finditer(pat, regex=True)
        self.assertEqual(next(it), (11, 16))
        m[34:39] = b"GAMMA"
        m[100:105] = b"gotta"
        rest = self.check_live(m, it, pat, regex=True)
        expected = [(s + 16, e + 16) for s, e in
                    (x.span() for x in re.finditer(pat, m[16:]))]
        self.assertEqual(rest, expected)

    def test_whole_word_and_icase_after_writes(self):
        _, m = self.writable_map(self.DATA)
        it = m.finditer(b"DELTA", ignore_case=True, whole_word=True)
        self.assertEqual(next(it), (17, 22))
        m[40:45] = b"deltax"[:5]
        m[41:46] = b"xdelt"
        got = [(s, e) for s, e in it]
        for s, e in got:
            self.assertEqual(m[s:e].lower(), b"delta")
        expected = [(x.start() + 22, x.end() + 22) for x in
                    re.finditer(rb"(?i)(?<![A-Za-z0-9_])delta(?![A-Za-z0-9_])", m[22:])]
        self.assertEqual(got, expected)

    def test_shrink_never_yields_past_the_end(self):
        for kwargs in ({}, {"regex": True}, {"whole_word": True}):
            _, m = self.writable_map(self.DATA)
            it = m.finditer(b"gamma", **kwargs)
            next(it)
            m.resize(1000)
            rest = self.check_live(m, it, b"gamma", regex=kwargs.get("regex", False))
            self.assertEqual(rest[-1][1] <= 1000, True)
            self.assertEqual(len(rest), m[:].count(b"gamma") - 1, kwargs)

    def test_empty_pattern_follows_resize(self):
        _, m = self.writable_map(b"abcdef")
        it = m.finditer(b"")
        self.assertEqual([next(it) for _ in range(3)], [(0, 0), (1, 1), (2, 2)])
        m.resize(4)
        self.assertEqual(list(it), [(3, 3), (4, 4)])

    def test_empty_regex_match_not_repeated(self):
        _, m = self.writable_map(b"xxaxx")
        it = m.finditer(rb"a*", regex=True)
        self.assertEqual(next(it), (0, 0))
        m[4] = ord(b"a")
        rest = list(it)
        self.assertEqual(rest, [(1, 1), (2, 3), (3, 3), (4, 5), (5, 5)])
        self.assertEqual([(0, 0)] + rest,
                         [x.span() for x in re.finditer(rb"a*", m[:])])

    def test_close(self):
        for kwargs in ({}, {"regex": True}):
            _, m = self.writable_map(self.DATA)
            it = m.finditer(b"delta", **kwargs)
            next(it)
            m.close()
            with self.assertRaisesRegex(ValueError, "^mmap closed or invalid$"):
                next(it)

    def test_truncated_file(self):
        for kwargs in ({}, {"regex": True}):
            data = self.DATA * 2
            p, m = self.writable_map(data)
            it = m.finditer(b"delta", **kwargs)
            os.truncate(p, PAGE)
            with self.assertRaises(OSError) as cm:
                list(it)
            self.assertEqual(cm.exception.errno, errno.EFAULT)


class ByteIterationTest(Base):
    """iter(m) (the standard type's iteration, 1-byte items) is live too."""

    def test_resize_and_write(self):
        _, m = self.writable_map(b"abcdef")
        it = iter(m)
        self.assertEqual(next(it), b"a")
        m[1] = ord(b"B")
        self.assertEqual(next(it), b"B")
        m.resize(3)
        self.assertEqual(list(it), [b"c"])

    def test_truncated_file(self):
        p, m = self.writable_map(b"x" * (3 * PAGE))
        it = iter(m)
        next(it)
        os.truncate(p, 0)
        with self.assertRaises(OSError) as cm:
            next(it)
        self.assertEqual(cm.exception.errno, errno.EFAULT)


class WholeCopyTest(Base):
    def test_bytes_uses_the_guarded_copy(self):
        data = os.urandom(3 * PAGE + 5)
        p, m = self.writable_map(data)
        self.assertEqual(bytes(m), data)
        self.assertEqual(m.__bytes__(), data)
        os.truncate(p, PAGE)
        with self.assertRaises(OSError) as cm:
            bytes(m)  # the standard module dies of SIGBUS here
        self.assertEqual(cm.exception.errno, errno.EFAULT)
        self.assertEqual(bytes(m[:PAGE]), data[:PAGE])

    def test_bytes_of_empty_and_closed(self):
        m = mmkit.open(self.make_file(b""))
        self.assertEqual(bytes(m), b"")
        m.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            bytes(m)

    def test_readinto_like_io(self):
        import io
        data = os.urandom(10000)
        _, m = self.writable_map(data)
        ref = io.BytesIO(data)
        for size in (0, 1, 100, 4096, 8000):
            a, b = bytearray(size), bytearray(size)
            self.assertEqual(m.readinto(a), ref.readinto(b))
            self.assertEqual(a, b)
            self.assertEqual(m.tell(), ref.tell())
        self.assertEqual(m.readinto(bytearray(10)), 0)  # at the end

    def test_readinto_at_an_offset(self):
        import array
        data = os.urandom(9000)
        _, m = self.writable_map(data)
        m.seek(7)
        a = array.array("I", [0] * 400)
        self.assertEqual(m.readinto(a, offset=1000), 400 * a.itemsize)
        self.assertEqual(a.tobytes(), data[1000:1000 + 400 * a.itemsize])
        self.assertEqual(m.tell(), 7)                    # position untouched
        buf = bytearray(100)
        self.assertEqual(m.readinto(buf, 8950), 50)       # short at the end
        self.assertEqual(buf[:50], data[8950:])
        self.assertEqual(m.readinto(buf, offset=10 ** 6), 0)
        mv = memoryview(bytearray(64))[8:24]
        self.assertEqual(m.readinto(mv, offset=1), 16)
        self.assertEqual(bytes(mv), data[1:17])
        with self.assertRaises(ValueError):
            m.readinto(buf, offset=-1)
        with self.assertRaises(TypeError):
            m.readinto(b"read-only target")
        with self.assertRaises(TypeError):
            m.readinto(buf, offset="0")

    def test_readinto_own_memory(self):
        _, m = self.writable_map(bytes(range(256)) * 4)
        mv = memoryview(m)
        self.assertEqual(m.readinto(mv[10:20], offset=5), 10)  # overlapping move
        self.assertEqual(m[10:20], bytes(range(5, 15)))
        mv.release()

    def test_readinto_numpy(self):
        try:
            import numpy
        except ImportError:
            self.skipTest("numpy is not installed")
        data = os.urandom(4096)
        _, m = self.writable_map(data)
        a = numpy.zeros(512, dtype=numpy.uint64)
        self.assertEqual(m.readinto(a, offset=0), 4096)
        self.assertEqual(a.tobytes(), data)

    def test_readinto_truncated_file(self):
        data = os.urandom(4 * PAGE)
        p, m = self.writable_map(data)
        os.truncate(p, PAGE)
        buf = bytearray(2 * PAGE)
        with self.assertRaises(OSError) as cm:
            m.readinto(buf)
        self.assertEqual(cm.exception.errno, errno.EFAULT)
        self.assertEqual(m.tell(), 0)  # nothing counted as read
        with self.assertRaises(OSError):
            m.readinto(buf, offset=0)
        small = bytearray(PAGE)
        self.assertEqual(m.readinto(small, offset=0), PAGE)
        self.assertEqual(small, data[:PAGE])

    def test_hash_a_map(self):
        import hashlib
        data = os.urandom(3 * PAGE)
        _, m = self.writable_map(data)
        self.assertEqual(hashlib.sha256(bytes(m)).hexdigest(), hashlib.sha256(data).hexdigest())
        h, buf = hashlib.sha256(), bytearray(1000)
        while n := m.readinto(buf):
            h.update(buf[:n])
        self.assertEqual(h.hexdigest(), hashlib.sha256(data).hexdigest())


if __name__ == "__main__":
    import unittest
    unittest.main()
