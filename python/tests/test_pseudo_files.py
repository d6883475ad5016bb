"""mmkit.open() of files whose size is not their content's size: procfs
reports 0, sysfs 4096. They are read with read() to their real end, so the
map holds what open(path, 'rb').read() gives."""

import errno
import os
import unittest

import mmkit
from mmkit_testutil import POSIX_ONLY

STATUS = "/proc/self/status"
THP = "/sys/kernel/mm/transparent_hugepage/enabled"


def stable_lines(data):
    """/proc/self/status changes between two reads (memory figures): compare
    the lines that name the process instead."""
    keep = (b"Name:", b"Umask:", b"Tgid:", b"Pid:", b"PPid:", b"Uid:", b"Gid:")
    return [line for line in data.split(b"\n") if line.startswith(keep)]


LINUX_ONLY = (
    "the POSIX-only build knows no filesystem whose sizes lie (procfs, sysfs: Linux "
    "knowledge, off there as on macOS and the BSDs; docs/platforms.md)"
)


class ProcfsTest(unittest.TestCase):
    def setUp(self):
        if POSIX_ONLY and self._testMethodName != "test_missing_proc_file":
            self.skipTest(LINUX_ONLY)
        if not os.path.exists(STATUS):
            self.skipTest("%s is absent on this system" % STATUS)

    def test_status_reads_to_its_real_end(self):
        self.assertEqual(os.stat(STATUS).st_size, 0)  # the size that lies
        with open(STATUS, "rb") as f:
            expected = f.read()
        with mmkit.open(STATUS) as m:
            data = m[:]
            self.assertGreater(len(m), 0)
            self.assertEqual(len(data), len(m))
            self.assertEqual(stable_lines(data), stable_lines(expected))
            self.assertTrue(data.startswith(b"Name:"))
            self.assertTrue(data.endswith(b"\n"))
            self.assertEqual(m.size(), len(m))
            # everything that reads the map sees the content
            self.assertEqual(m.count(b"Pid:"), expected.count(b"Pid:"))
            self.assertEqual(m.readline(), expected.split(b"\n")[0] + b"\n")
            self.assertEqual(list(m.lines()), [l + b"\n" for l in data.split(b"\n")[:-1]])
            self.assertEqual(bytes(m), data)

    def test_read_only_to_the_user(self):
        with mmkit.open(STATUS) as m:
            with self.assertRaises(TypeError):
                m[0] = 65
            with self.assertRaises(TypeError):
                m.write(b"x")
            with self.assertRaises(TypeError):
                m.resize(10)
            mv = memoryview(m)
            self.assertTrue(mv.readonly)
            mv.release()

    def test_copy_mode_is_a_private_copy(self):
        with mmkit.open(STATUS, "c") as m:
            m[0:4] = b"NAME"
            self.assertEqual(m[:5], b"NAME:")
        with open(STATUS, "rb") as f:
            self.assertTrue(f.read().startswith(b"Name:"))

    def test_offset_and_length_select_from_the_content(self):
        with open(STATUS, "rb") as f:
            expected = f.read()
        with mmkit.open(STATUS, offset=6, length=4) as m:
            self.assertEqual(m[:], expected[6:10])
        with self.assertRaisesRegex(ValueError, "past the end of the file"):
            mmkit.open(STATUS, offset=1 << 30)
        with self.assertRaisesRegex(ValueError, "past the end of the file"):
            mmkit.open(STATUS, offset=1, length=1 << 30)

    def test_write_modes_are_refused(self):
        for mode in ("r+", "w"):
            with self.assertRaises(OSError) as cm:
                mmkit.open(STATUS, mode)
            self.assertEqual(cm.exception.errno, errno.ENODEV)
            self.assertEqual(cm.exception.filename, STATUS)
            self.assertIn("mode 'r' or 'c'", str(cm.exception))

    def test_missing_proc_file(self):
        with self.assertRaises(FileNotFoundError) as cm:
            mmkit.open("/proc/self/no-such-file")
        self.assertEqual(cm.exception.filename, "/proc/self/no-such-file")


class SysfsTest(unittest.TestCase):
    def test_transparent_hugepage_enabled(self):
        if POSIX_ONLY:
            self.skipTest(LINUX_ONLY)
        if not os.path.exists(THP):
            self.skipTest("%s is absent on this system (no transparent huge pages)" % THP)
        with open(THP, "rb") as f:
            expected = f.read()
        self.assertNotEqual(os.stat(THP).st_size, len(expected))  # 4096: the size lies
        with mmkit.open(THP) as m:
            self.assertEqual(m[:], expected)
            self.assertEqual(len(m), len(expected))
            self.assertEqual(m.find(b"["), expected.find(b"["))


if __name__ == "__main__":
    unittest.main()
