"""mmap.follow_file(): a map follows the size of a file that another process
grows or shrinks, without the file being changed.

Growth comes from a forked child writing through its own descriptor; every
check compares the map with os.pread of the same file. Refusals: exported
buffers (BufferError, as resize), trackfd=False (ValueError), anonymous maps
(OSError EBADF), closed maps (ValueError).
"""

import errno
import mmap as stdmmap
import os
import random
import unittest

import mmkit
from mmkit_testutil import POSIX_ONLY, TempDirTestCase

PAGE = mmkit.PAGESIZE
GRAN = mmkit.ALLOCATIONGRANULARITY


def expected_length(path, offset):
    return max(0, os.path.getsize(path) - offset)


class FollowFileTest(TempDirTestCase):
    def assert_matches_file(self, mm, path, offset=0):
        want = expected_length(path, offset)
        self.assertEqual(len(mm), want)
        fd = os.open(path, os.O_RDONLY)
        try:
            self.assertEqual(mm[:], os.pread(fd, want, offset) if want else b"")
        finally:
            os.close(fd)

    def open_map(self, path, access, offset=0):
        with open(path, "r+b" if access == mmkit.ACCESS_WRITE else "rb") as f:
            return mmkit.mmap(f.fileno(), 0, access=access, offset=offset)

    def test_grown_by_another_process(self):
        path = self.make_file(b"".join(i.to_bytes(8, "little") * 8 for i in range(10)))
        for access in (mmkit.ACCESS_READ, mmkit.ACCESS_WRITE, mmkit.ACCESS_COPY):
            with self.subTest(access=access):
                mm = self.open_map(path, access)
                before = len(mm)
                pid = os.fork()
                if pid == 0:
                    try:
                        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                        first = before // 64
                        for i in range(first, first + 50):
                            os.write(fd, i.to_bytes(8, "little") * 8)
                        os.close(fd)
                    finally:
                        os._exit(0)
                _, status = os.waitpid(pid, 0)
                self.assertEqual(status, 0)
                self.assertEqual(len(mm), before)  # not seen by itself
                size = mm.size()
                self.assertEqual(size, before + 50 * 64)
                if POSIX_ONLY and access == mmkit.ACCESS_COPY:
                    self.check_copy_map_refuses(mm, before)
                    mm.close()
                    continue
                self.assertEqual(mm.follow_file(), size)
                self.assertEqual(len(mm), size)
                for i in range(size // 64):
                    self.assertEqual(int.from_bytes(mm[i * 64:i * 64 + 8], "little"), i)
                self.assert_matches_file(mm, path)
                self.assertEqual(os.path.getsize(path), size)  # file unchanged
                self.assertEqual(mm.follow_file(), size)  # nothing new
                mm.close()

    def test_shrink_offset_and_position(self):
        data = bytes(random.Random(1).getrandbits(8) for _ in range(4 * GRAN))
        path = self.make_file(data)
        mm = self.open_map(path, mmkit.ACCESS_READ, offset=GRAN)
        mm.seek(0, os.SEEK_END)
        end = mm.tell()
        os.truncate(path, GRAN + 100)
        self.assertEqual(mm.follow_file(), 100)
        self.assert_matches_file(mm, path, GRAN)
        self.assertEqual(mm.tell(), end)  # kept, as resize() keeps it
        self.assertEqual(mm.read(), b"")
        os.truncate(path, GRAN - 1)  # now shorter than the offset
        self.assertEqual(mm.follow_file(), 0)
        self.assertEqual(len(mm), 0)
        with open(path, "wb") as f:
            f.write(data)
        self.assertEqual(mm.follow_file(), 3 * GRAN)
        self.assert_matches_file(mm, path, GRAN)
        mm.close()

    def test_write_map_follows_and_writes(self):
        path = self.make_file(b"x" * 10)
        mm = self.open_map(path, mmkit.ACCESS_WRITE)
        os.truncate(path, 3 * PAGE)
        self.assertEqual(mm.follow_file(), 3 * PAGE)
        mm[2 * PAGE:2 * PAGE + 2] = b"OK"
        mm.flush()
        with open(path, "rb") as f:
            f.seek(2 * PAGE)
            self.assertEqual(f.read(2), b"OK")
        self.assertEqual(os.path.getsize(path), 3 * PAGE)
        mm.close()

    def check_copy_map_refuses(self, mm, length):
        """The POSIX-only build has no mremap: a copy-on-write map cannot
        change its length without losing its private pages, so follow_file()
        raises OSError(ENOTSUP) and nothing changes (docs/platforms.md)."""
        with self.assertRaises(OSError) as cm:
            mm.follow_file()
        self.assertEqual(cm.exception.errno, errno.ENOTSUP)
        self.assertEqual(len(mm), length)

    def test_copy_map_keeps_its_writes(self):
        path = self.make_file(b"f" * PAGE)
        mm = self.open_map(path, mmkit.ACCESS_COPY)
        mm[0:4] = b"priv"
        with open(path, "ab") as f:
            f.write(b"g" * PAGE)
        if POSIX_ONLY:
            self.check_copy_map_refuses(mm, PAGE)
            self.assertEqual(mm[0:4], b"priv")
            mm.close()
            return
        self.assertEqual(mm.follow_file(), 2 * PAGE)
        self.assertEqual(mm[0:4], b"priv")
        self.assertEqual(mm[PAGE:PAGE + 4], b"gggg")
        with open(path, "rb") as f:
            self.assertEqual(f.read(4), b"ffff")  # never reached the file
        mm.close()

    def test_random_interleavings_against_pread(self):
        rng = random.Random(7)
        path = self.make_file(b"")
        fd = os.open(path, os.O_RDWR)
        self.addCleanup(os.close, fd)
        os.write(fd, bytes(rng.getrandbits(8) for _ in range(PAGE)))
        accesses = [mmkit.ACCESS_READ, mmkit.ACCESS_WRITE, mmkit.ACCESS_COPY]
        if POSIX_ONLY:
            accesses.remove(mmkit.ACCESS_COPY)  # refused there: the tests above check it
        for access in accesses:
            mm = self.open_map(path, access)
            for _ in range(60):
                op = rng.randrange(3)
                size = os.path.getsize(path)
                if op == 0:
                    os.pwrite(fd, os.urandom(rng.randrange(1, PAGE)), size)
                elif op == 1:
                    os.truncate(path, rng.randrange(0, 3 * PAGE))
                elif size:
                    at = rng.randrange(size)
                    os.pwrite(fd, os.urandom(rng.randrange(1, size - at + 1)), at)
                self.assertEqual(mm.follow_file(), expected_length(path, 0))
                self.assert_matches_file(mm, path)
            mm.close()

    def test_refusals(self):
        path = self.make_file(b"a" * 100)
        mm = self.open_map(path, mmkit.ACCESS_READ)
        view = memoryview(mm)
        with self.assertRaises(BufferError):
            mm.follow_file()
        with open(path, "ab") as f:
            f.write(b"b" * 100)
        with self.assertRaises(BufferError):
            mm.follow_file()
        self.assertEqual(len(mm), 100)
        view.release()
        self.assertEqual(mm.follow_file(), 200)
        mm.close()
        with self.assertRaises(ValueError):
            mm.follow_file()

        with open(path, "rb") as f:
            nd = mmkit.mmap(f.fileno(), 0, access=mmkit.ACCESS_READ, trackfd=False)
        with self.assertRaises(ValueError):
            nd.follow_file()
        nd.close()

        anon = mmkit.mmap(-1, 100)
        with self.assertRaises(OSError) as cm:
            anon.follow_file()
        self.assertEqual(cm.exception.errno, errno.EBADF)
        anon.close()

        with self.assertRaises(TypeError):
            mmkit.mmap(-1, 10).follow_file(1)

    def test_not_in_the_standard_module(self):
        # An extension over mmap: the standard object has no such method.
        self.assertFalse(hasattr(stdmmap.mmap, "follow_file"))
        self.assertTrue(callable(mmkit.mmap.follow_file))


if __name__ == "__main__":
    unittest.main()
