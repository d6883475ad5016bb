"""What mmkit does better than the standard module, safely:

* a file truncated under the map raises OSError(EFAULT) from every method
  that reads (or writes) the mapped bytes, where the standard module dies of
  SIGBUS; the interpreter keeps running (all of this runs in-process);
* long scans release the GIL, so other threads run meanwhile;
* closing a map while another thread scans it waits for the scan instead of
  unmapping the memory under it (test_close.py).
"""

import errno
import os
import re
import threading

import mmkit
from mmkit_testutil import TempDirTestCase

PAGE = mmkit.PAGESIZE


class TruncationTest(TempDirTestCase):
    def truncated_map(self, access=mmkit.ACCESS_READ, keep=0, pages=8):
        data = (b"word one two\nthree four\n" * (pages * PAGE // 24 + 1))[:pages * PAGE]
        p = self.make_file(data)
        with open(p, "rb" if access == mmkit.ACCESS_READ else "r+b") as f:
            m = mmkit.mmap(f.fileno(), 0, access=access)
        self.addCleanup(m.close)
        self.assertEqual(m[:5], b"word ")  # readable before
        os.truncate(p, keep)
        return m

    def assertFault(self, call, what):
        with self.assertRaises(OSError, msg=what) as cm:
            call()
        self.assertEqual(cm.exception.errno, errno.EFAULT, what)
        self.assertIn("shrank", str(cm.exception), what)

    def test_every_reading_method_raises(self):
        m = self.truncated_map()
        n = len(m)
        calls = {
            "read": lambda: m.read(),
            "read(n)": lambda: m.read(10),
            "read_byte": m.read_byte,
            "readline": m.readline,
            "find": lambda: m.find(b"zzz"),
            "find(start,end)": lambda: m.find(b"three", PAGE, 3 * PAGE),
            "rfind": lambda: m.rfind(b"zzz"),
            "rfind(1 byte)": lambda: m.rfind(b"\x01"),
            "index": lambda: m[PAGE + 3],
            "negative index": lambda: m[-1],
            "slice": lambda: m[10:20],
            "full slice": lambda: m[:],
            "step slice": lambda: m[::7],
            "iteration": lambda: list(m),
            "in": lambda: b"\x01" in m,
            "in (generic)": lambda: bytearray(b"\x01") in m,
            "count": lambda: m.count(b"three"),
            "count regex": lambda: m.count(rb"t\w+", regex=True),
            "count threads=1": lambda: m.count(b"three", threads=1),
            "finditer": lambda: list(m.finditer(b"three")),
            "finditer regex": lambda: list(m.finditer(rb"f\w+", regex=True)),
            "lines": lambda: list(m.lines()),
            "line_count": lambda: m.line_count(),
            "word_counts": lambda: mmkit.word_counts(m),
            "re over a readline loop": lambda: [m.readline() for _ in range(n)],
        }
        for what, call in calls.items():
            m.seek(0)
            self.assertFault(call, what)
        # Still usable for what does not touch the lost pages.
        self.assertEqual(len(m), n)
        self.assertEqual(m.tell(), 0)
        self.assertFalse(m.closed)
        m.close()

    def test_partial_truncation(self):
        m = self.truncated_map(keep=2 * PAGE)
        self.assertEqual(m[:4], b"word")            # still in the file
        self.assertEqual(len(m[:2 * PAGE]), 2 * PAGE)
        self.assertFault(lambda: m[2 * PAGE], "index past the new end")
        self.assertFault(lambda: m[PAGE:3 * PAGE], "slice across the new end")
        m.seek(2 * PAGE - 5)
        self.assertFault(lambda: m.read(10), "read across the new end")
        self.assertEqual(m.tell(), 2 * PAGE - 5)    # nothing counted as read
        self.assertFault(lambda: m.count(b"four"), "count")
        self.assertEqual(m.count(b"four", 0, 2 * PAGE),
                         len(re.findall(b"four", m[:2 * PAGE])))

    def test_writes_raise(self):
        m = self.truncated_map(access=mmkit.ACCESS_WRITE)
        self.assertFault(lambda: m.write(b"abc"), "write")
        self.assertFault(lambda: m.write_byte(1), "write_byte")
        self.assertFault(lambda: m.__setitem__(5, 1), "item assignment")
        self.assertFault(lambda: m.__setitem__(slice(0, 3), b"abc"), "slice assignment")
        self.assertFault(lambda: m.__setitem__(slice(0, 6, 2), b"abc"), "step assignment")
        self.assertFault(lambda: m.move(0, PAGE, 10), "move")
        self.assertEqual(m.tell(), 0)

    def test_interpreter_keeps_running(self):
        m = self.truncated_map()
        for _ in range(100):
            with self.assertRaises(OSError):
                m[:]
        self.assertEqual(sum(range(10)), 45)


class ThreadsTest(TempDirTestCase):
    SIZE = 1 << 26  # anonymous, never touched: reads come from the zero page

    def reopen(self):
        self.m = mmkit.mmap(-1, self.SIZE)
        return self.m

    def test_other_thread_runs_during_count(self):
        # With a huge switch interval the main thread keeps the GIL until it
        # blocks or releases it. The worker waits for `go`, then counts to
        # 1000 and blocks again. So the worker's count is 1000 right after
        # m.count() returns exactly when count() released the GIL, and 0 if
        # it held it throughout.
        import sys
        m = self.reopen()
        progress = {"n": 0}
        go, stop = threading.Event(), threading.Event()

        def worker():
            go.wait()
            for _ in range(1000):
                progress["n"] += 1
            stop.wait()

        old = sys.getswitchinterval()
        sys.setswitchinterval(1000.0)
        t = threading.Thread(target=worker)
        try:
            t.start()
            before = progress["n"]
            go.set()
            # The worker may not be scheduled during one count on a busy
            # machine; while this thread holds the GIL it cannot run at all,
            # so reading progress between counts is exact.
            for _ in range(50):
                total = m.count(b"needle", threads=1)
                if progress["n"]:
                    break
            after = progress["n"]
        finally:
            stop.set()
            sys.setswitchinterval(old)
            t.join()
        self.assertEqual(total, 0)
        self.assertEqual((before, after), (0, 1000))
        m.close()

    def test_iterators_after_close(self):
        m = mmkit.mmap(-1, 3 * (1 << 20))
        m[:] = b"line\n" * (3 * (1 << 20) // 5) + b"x" * (3 * (1 << 20) % 5)
        lines = m.lines()
        spans = m.finditer(b"line")
        self.assertEqual(next(lines), b"line\n")
        self.assertEqual(next(spans), (0, 4))
        m.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            next(lines)
        with self.assertRaisesRegex(ValueError, "closed"):
            next(spans)

    def test_concurrent_scans_share_a_map(self):
        data = b"alpha beta gamma\n" * 100000
        p = self.make_file(data)
        m = mmkit.open(p)
        results = []

        def scan():
            results.append((m.count(b"beta"), m.line_count(), len(list(m.lines())),
                            sum(1 for _ in m.finditer(b"gamma"))))

        threads = [threading.Thread(target=scan) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [(100000, 100000, 100000, 100000)] * 4)
        m.close()

    def test_resize_while_scanning_waits(self):
        # resize() waits for a count in flight instead of refusing: the
        # resizer never sees BufferError; a count started during the resize
        # raises ValueError, every other count is exact.
        p = self.make_file(b"abc\n" * (1 << 20))
        with open(p, "r+b") as f:
            m = mmkit.mmap(f.fileno(), 0)
        errors, resizes = [], [0]
        stop = threading.Event()

        def resizer():
            size = len(m)
            while not stop.is_set():
                try:
                    m.resize(size)
                    resizes[0] += 1
                except Exception as e:  # noqa: BLE001 - any exception is a failure
                    errors.append(e)

        t = threading.Thread(target=resizer)
        t.start()
        try:
            for _ in range(20):
                try:
                    self.assertEqual(m.count(b"abc"), 1 << 20)
                except ValueError as e:
                    self.assertIn("resized", str(e))
        finally:
            stop.set()
            t.join()
        self.assertEqual(errors, [])
        self.assertGreater(resizes[0], 0)
        m.close()


if __name__ == "__main__":
    import unittest
    unittest.main()
