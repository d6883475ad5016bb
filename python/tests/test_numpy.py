"""numpy over mmkit maps: the recipes of docs/python.md ("numpy recipes"),
extracted from the document and run exactly as written (their output compared
with the output the document shows), and the cases behind them checked
against np.fromfile: frombuffer with dtypes and offsets, writes through the
map, BufferError while an array is alive, and the guarded readinto() copy
when the file shrinks.

numpy is not installed for every interpreter the suite runs under: without
it the whole module is skipped with one message (CTest's python_unit_system
runs it under Debian's /usr/bin/python3 with python3-numpy)."""

import errno
import os
import re
import subprocess
import sys
import unittest

try:
    import numpy as np
except ImportError:
    raise unittest.SkipTest("numpy is not installed for %s (%s): the numpy recipes of "
                            "docs/python.md run under Debian's python3 with python3-numpy"
                            % (sys.executable, sys.version.split()[0]))

import mmkit
from mmkit_testutil import TempDirTestCase

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "python.md")
RECIPE = re.compile(r"<!-- numpy recipe: ([\w-]+) -->\n```python\n(.*?)```\n\nprints\n\n"
                    r"```text\n(.*?)```\n", re.S)
RECIPE_NAMES = ["array", "records", "write", "close", "readinto"]
PAGE = mmkit.PAGESIZE


def doc_recipes():
    with open(DOC, encoding="utf-8") as f:
        return RECIPE.findall(f.read())


class DocRecipesTest(TempDirTestCase):
    def test_every_recipe_is_found(self):
        # A recipe renamed or reformatted in the document must not silently
        # drop out of the test.
        self.assertEqual([name for name, _, _ in doc_recipes()], RECIPE_NAMES)

    def test_recipes_run_as_written(self):
        # In order, in one directory, each as its own script with this
        # interpreter and this build of mmkit.
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [os.path.dirname(os.path.abspath(mmkit.__file__))]
            + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        for name, code, expected in doc_recipes():
            with self.subTest(recipe=name):
                proc = subprocess.run([sys.executable, "-c", code], cwd=self.dir, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      universal_newlines=True, timeout=120)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(proc.stdout, expected)
                self.assertEqual(proc.stderr, "")


class NumpyOverMapTest(TempDirTestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(10)
        self.data = rng.integers(0, 256, size=16 * PAGE + 123, dtype=np.uint8)
        self.file = self.make_file(self.data.tobytes())

    def test_frombuffer_matches_fromfile(self):
        rec = np.dtype([("a", "<u2"), ("b", "<f4"), ("c", "S3")])  # 9 bytes, packed
        with mmkit.open(self.file) as mm:
            for dtype, offset in ((np.uint8, 0), (np.uint32, 4), ("<f8", 3), (rec, 1),
                                  (rec, 1000)):
                dtype = np.dtype(dtype)
                with self.subTest(dtype=str(dtype), offset=offset):
                    count = (len(mm) - offset) // dtype.itemsize
                    a = np.frombuffer(mm, dtype=dtype, count=count, offset=offset)
                    ref = np.fromfile(self.file, dtype=dtype, count=count, offset=offset)
                    self.assertEqual(a.tobytes(), ref.tobytes())
                    self.assertFalse(a.flags.writeable)
                    with self.assertRaises(ValueError):
                        a[0] = a[1]
                    del a

    def test_write_through_array_then_flush(self):
        with open(self.file, "r+b") as f:
            mm = mmkit.mmap(f.fileno(), 0, access=mmkit.ACCESS_WRITE)
            a = np.frombuffer(mm, dtype=np.uint8, count=4 * PAGE, offset=PAGE)
            self.assertTrue(a.flags.writeable)
            a[:] = 0xAB
            self.assertEqual(mm[PAGE:PAGE + 3], b"\xab\xab\xab")  # same memory
            del a
            mm.flush(PAGE, 4 * PAGE)
            mm.close()
        expect = self.data.copy()
        expect[PAGE:5 * PAGE] = 0xAB
        self.assertEqual(np.fromfile(self.file, dtype=np.uint8).tobytes(), expect.tobytes())

    def test_copy_map_array_does_not_reach_file(self):
        with mmkit.open(self.file, "c") as mm:
            a = np.frombuffer(mm, dtype=np.uint8)
            a[:10] = 0
            self.assertEqual(mm[:10], bytes(10))
            del a
        self.assertEqual(np.fromfile(self.file, dtype=np.uint8)[:10].tobytes(),
                         self.data[:10].tobytes())

    def test_close_and_resize_refused_while_array_alive(self):
        with open(self.file, "r+b") as f:
            mm = mmkit.mmap(f.fileno(), 0)
        a = np.frombuffer(mm, dtype=np.uint8)
        view = a[5:49].view(np.uint16)
        del a
        # The standard module's messages.
        with self.assertRaisesRegex(BufferError, "cannot close exported pointers exist"):
            mm.close()
        with self.assertRaisesRegex(BufferError, "can't resize with extant buffers exported"):
            mm.resize(PAGE)
        # The map is untouched and still usable, through the array and directly.
        self.assertFalse(mm.closed)
        self.assertEqual(len(mm), len(self.data))
        self.assertEqual(view.tobytes(), self.data[5:49].tobytes())
        self.assertEqual(mm[5:9], self.data[5:9].tobytes())
        del view
        mm.close()
        self.assertTrue(mm.closed)

    def test_readinto_numpy_matches_fromfile(self):
        with mmkit.open(self.file) as mm:
            for dtype, offset, n in ((np.uint8, 0, 100), (np.float64, 7, 1000),
                                     (np.int32, 3 * PAGE + 1, 5000)):
                with self.subTest(dtype=dtype, offset=offset):
                    a = np.empty(n, dtype=dtype)
                    got = mm.readinto(a, offset=offset)
                    self.assertEqual(got, a.nbytes)
                    self.assertEqual(mm.tell(), 0)
                    ref = np.fromfile(self.file, dtype=dtype, count=n, offset=offset)
                    self.assertEqual(a.tobytes(), ref.tobytes())
            # Without offset: from the position, which advances by bytes.
            mm.seek(10)
            a = np.empty(3, dtype=np.uint64)
            self.assertEqual(mm.readinto(a), 24)
            self.assertEqual(mm.tell(), 34)
            self.assertEqual(a.tobytes(), self.data[10:34].tobytes())
            # At the end: a short count, then 0.
            tail = np.empty(1000, dtype=np.uint8)
            self.assertEqual(mm.readinto(tail, offset=len(mm) - 23), 23)
            self.assertEqual(tail[:23].tobytes(), self.data[-23:].tobytes())
            self.assertEqual(mm.readinto(tail, offset=len(mm)), 0)

    def test_readinto_refuses_strided_and_readonly_arrays(self):
        with mmkit.open(self.file) as mm:
            for target in (np.zeros(64, np.uint8)[::2], np.zeros((8, 8), np.uint8)[:, 1],
                           np.frombuffer(bytes(64), np.uint8)):
                with self.assertRaisesRegex(TypeError, "read-write bytes-like object"):
                    mm.readinto(target, offset=0)
            self.assertEqual(mm.tell(), 0)

    def test_truncated_file_readinto_raises_and_keeps_position(self):
        # The file shrinks to 5 pages and 10 bytes under a 16-page map: pages
        # 0-5 are still backed (page 5 reads zeros past byte 10), 6-15 are not.
        mm = mmkit.open(self.file)
        self.addCleanup(mm.close)
        keep = 5 * PAGE + 10
        with open(self.file, "r+b") as f:
            f.truncate(keep)
        whole = np.empty(len(mm), dtype=np.uint8)
        for offset, n in ((0, len(mm)), (4 * PAGE, 3 * PAGE), (6 * PAGE, 100),
                          (len(mm) - 8, 8)):
            with self.subTest(offset=offset, n=n):
                with self.assertRaises(OSError) as cm:
                    mm.readinto(whole[:n], offset=offset)
                self.assertEqual(cm.exception.errno, errno.EFAULT)
        mm.seek(3 * PAGE)
        with self.assertRaises(OSError):
            mm.readinto(whole)  # from the position, crossing the new end
        self.assertEqual(mm.tell(), 3 * PAGE)  # nothing counted as read
        # What is still backed by the file (up to the end of its last page,
        # which reads as zeros past the new end of file) copies exactly.
        ok = np.empty(keep, dtype=np.uint8)
        self.assertEqual(mm.readinto(ok, offset=0), keep)
        self.assertEqual(ok.tobytes(), self.data[:keep].tobytes())
        self.assertEqual(np.fromfile(self.file, dtype=np.uint8).tobytes(), ok.tobytes())


if __name__ == "__main__":
    unittest.main()
