"""close() while other threads use the map.

The standard module closes at once and the other thread's next operation
raises ValueError. mmkit releases the GIL during long operations, so a
close() can arrive while one is in flight: it must then mark the map closed
for every new operation, wait for the operations in flight (the GIL
released meanwhile, no spinning) and close. Only exported buffers
(memoryview, numpy) make close() refuse with BufferError, as in the standard
module.
"""

import os
import sys
import threading
import time

import mmkit
from mmkit_testutil import QUICK, TempDirTestCase

SIZE = 1 << 24  # anonymous, never touched: reads come from the zero page
JOIN = 120      # seconds: only a deadlock takes this long


def start_reader(m, op):
    """Loop op(m) in a daemon thread until it raises. Returns (thread, state).
    state['done'] counts completed operations; state['after'] those that
    completed after the main thread set state['closing']."""
    state = {"done": 0, "after": 0, "closing": False, "error": None, "other": None}

    def loop():
        try:
            while True:
                op(m)
                state["done"] += 1
                if state["closing"]:
                    state["after"] += 1
        except ValueError as e:
            state["error"] = e
        except BaseException as e:  # noqa: BLE001 - anything else is a failure
            state["other"] = e

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t, state


def wait_running(state, t):
    """Block until the reader finished one operation (so it is looping)."""
    while state["done"] == 0 and t.is_alive():
        time.sleep(0.001)


class CloseWhileInFlightTest(TempDirTestCase):
    ROUNDS = 3 if QUICK else 8

    def rounds(self, op, make=lambda: mmkit.mmap(-1, SIZE), single=True):
        """Each round: a reader loops op on a fresh map, the main thread
        closes it once. close() must return (no BufferError), the map must be
        closed and the reader must stop with the closed-map ValueError.
        single: op is one operation (not a sequence of several, where the one
        in flight completes and the next raises)."""
        waited = 0
        for _ in range(self.ROUNDS):
            m = make()
            t, state = start_reader(m, op)
            wait_running(state, t)
            state["closing"] = True
            m.close()  # raises on failure: the point of the test
            self.assertTrue(m.closed)
            t.join(JOIN)
            self.assertFalse(t.is_alive(), "reader still running: deadlock?")
            self.assertIsNone(state["other"], repr(state["other"]))
            self.assertIsInstance(state["error"], ValueError)
            self.assertEqual(str(state["error"]), "mmap closed or invalid")
            waited += state["after"]
            # closing again is allowed
            m.close()
        # A reader spends nearly all its time in flight (GIL released), so
        # close() arrived during an operation, waited for it, and the
        # operation completed: in some round at least.
        if single:
            self.assertGreater(waited, 0)

    def test_find(self):
        self.rounds(lambda m: m.find(b"needle"))

    def test_rfind(self):
        self.rounds(lambda m: m.rfind(b"needle"))

    def test_count(self):
        self.rounds(lambda m: m.count(b"needle", threads=1))

    def test_count_regex_all_threads(self):
        self.rounds(lambda m: m.count(rb"ne+dle", regex=True))

    def test_read(self):
        def op(m):
            m.seek(0)
            m.read()
        self.rounds(op, make=lambda: mmkit.mmap(-1, SIZE // 4))

    def test_full_slice(self):
        self.rounds(lambda m: m[:], make=lambda: mmkit.mmap(-1, SIZE // 4))

    def test_bytes_and_readinto(self):
        buf = bytearray(SIZE // 4)
        self.rounds(lambda m: (bytes(m), m.readinto(buf, 0)),
                    make=lambda: mmkit.mmap(-1, SIZE // 4), single=False)

    def test_line_count_and_word_counts(self):
        self.rounds(lambda m: (m.line_count(), mmkit.word_counts(m)), single=False)

    def test_finditer_regex(self):
        # a regex finditer scans its whole range in one go (in flight)
        self.rounds(lambda m: list(m.finditer(rb"x+", regex=True)))

    def test_iterators_in_a_loop(self):
        def make():
            m = mmkit.mmap(-1, 1 << 18)
            m[:] = b"ab\n" * ((1 << 18) // 3) + b"x" * ((1 << 18) % 3)
            return m

        def op(m):
            for _ in m.lines():
                pass
            for _ in m.finditer(b"b\n"):
                pass
        self.rounds(op, make=make, single=False)

    def test_file_backed_map(self):
        p = self.make_file(b"the quick brown fox\n" * (1 << 19))

        def make():
            with open(p, "rb") as f:
                return mmkit.mmap(f.fileno(), 0, access=mmkit.ACCESS_READ)
        self.rounds(lambda m: m.count(b"fox", threads=1), make=make)
        self.assertEqual(os.path.getsize(p), 20 << 19)  # nothing changed on disk

    def test_many_readers(self):
        m = mmkit.mmap(-1, SIZE)
        readers = [start_reader(m, op) for op in (
            lambda m: m.find(b"x"), lambda m: m.count(b"x", threads=1),
            lambda m: m.rfind(b"x"), lambda m: m.line_count())]
        for t, state in readers:
            wait_running(state, t)
        m.close()
        for t, state in readers:
            t.join(JOIN)
            self.assertFalse(t.is_alive())
            self.assertIsNone(state["other"], repr(state["other"]))
            self.assertEqual(str(state["error"]), "mmap closed or invalid")

    def test_two_threads_close(self):
        for _ in range(self.ROUNDS):
            m = mmkit.mmap(-1, SIZE)
            t, state = start_reader(m, lambda m: m.count(b"x", threads=1))
            wait_running(state, t)
            errors = []

            def closer():
                try:
                    m.close()
                except BaseException as e:  # noqa: BLE001
                    errors.append(e)

            c = threading.Thread(target=closer)
            c.start()
            m.close()
            c.join(JOIN)
            t.join(JOIN)
            self.assertEqual(errors, [])
            self.assertTrue(m.closed)
            self.assertEqual(str(state["error"]), "mmap closed or invalid")

    def test_operations_during_close_fail_as_closed(self):
        # While close() waits, the object reports closed and everything raises
        # the closed-map ValueError, exports included.
        m = mmkit.mmap(-1, SIZE)
        seen = {}
        t, state = start_reader(m, lambda m: m.count(b"x", threads=1))
        wait_running(state, t)

        def prober():
            # runs once close() has begun: while it waits with the GIL
            # released for the count in flight, or after it returned
            while not m.closed:
                time.sleep(0.0005)
            seen["closed"] = m.closed
            for name, call in (("len", lambda: len(m)), ("read", m.read),
                               ("memoryview", lambda: memoryview(m)),
                               ("find", lambda: m.find(b"x")),
                               ("resize", lambda: m.resize(10))):
                try:
                    call()
                    seen[name] = "ok"
                except ValueError as e:
                    seen[name] = str(e)

        state["closing"] = True
        probe = threading.Thread(target=prober)
        probe.start()
        m.close()
        probe.join(JOIN)
        t.join(JOIN)
        self.assertTrue(seen["closed"])
        for name in ("len", "read", "memoryview", "find", "resize"):
            self.assertEqual(seen[name], "mmap closed or invalid", name)

    def test_resize_in_flight_then_close(self):
        p = self.make_file(b"a" * (1 << 20))
        with open(p, "r+b") as f:
            m = mmkit.mmap(f.fileno(), 0)
        stop = threading.Event()
        outcomes = []

        def resizer():
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    m.resize((1 << 20) + (n % 7) * 4096)
                except ValueError as e:
                    outcomes.append(str(e))
                    return
                except BaseException as e:  # noqa: BLE001
                    outcomes.append(e)
                    return

        t = threading.Thread(target=resizer)
        t.start()
        time.sleep(0.05)
        m.close()
        stop.set()
        t.join(JOIN)
        self.assertTrue(m.closed)
        self.assertEqual(outcomes, ["mmap closed or invalid"])


class ExportsStillRefuseTest(TempDirTestCase):
    def test_memoryview_refuses_close_as_standard(self):
        import mmap as std
        for mod in (std, mmkit):
            m = mod.mmap(-1, 4096)
            mv = memoryview(m)
            with self.assertRaises(BufferError) as cm:
                m.close()
            self.assertEqual(str(cm.exception), "cannot close exported pointers exist")
            self.assertFalse(m.closed)
            mv.release()
            m.close()
            self.assertTrue(m.closed)

    def test_export_refuses_at_once_while_a_reader_is_in_flight(self):
        m = mmkit.mmap(-1, SIZE)
        t, state = start_reader(m, lambda m: m.count(b"x", threads=1))
        wait_running(state, t)
        mv = memoryview(m)
        with self.assertRaises(BufferError):
            m.close()
        self.assertFalse(m.closed)
        self.assertEqual(mv[0], 0)  # the export still reads the memory
        self.assertIsNone(state["error"])  # the reader was not disturbed
        mv.release()
        m.close()
        t.join(JOIN)
        self.assertEqual(str(state["error"]), "mmap closed or invalid")

    def test_numpy_array_refuses_close(self):
        try:
            import numpy
        except ImportError:
            self.skipTest("numpy is not installed for %s" % sys.executable)
        m = mmkit.mmap(-1, 4096)
        a = numpy.frombuffer(m, dtype=numpy.uint8)
        with self.assertRaises(BufferError):
            m.close()
        del a
        m.close()


@__import__("unittest").skipUnless(hasattr(os, "fork"), "needs os.fork")
class CloseAfterForkTest(TempDirTestCase):
    def test_child_closes_a_map_the_parent_was_scanning(self):
        # The child has no reader thread: the operation that was in flight in
        # the parent is void there, and close() must not wait for it.
        import warnings
        m = mmkit.mmap(-1, SIZE)
        t, state = start_reader(m, lambda m: m.count(b"x", threads=1))
        wait_running(state, t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
            pid = os.fork()
        if pid == 0:
            code = 1
            try:
                # operations in flight in the child itself work and count
                # (the parent's stale ones are settled first)
                if m.count(b"x", threads=1) != 0 or m[:] != bytes(SIZE):
                    code = 3
                    raise AssertionError("wrong results in the child")
                m.close()
                code = 0 if m.closed else 2
            except BaseException as e:  # noqa: BLE001 - reported through the exit status
                os.write(2, ("child: %r\n" % (e,)).encode())
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode")
                         else status >> 8, 0)
        m.close()
        t.join(JOIN)
        self.assertEqual(str(state["error"]), "mmap closed or invalid")


if __name__ == "__main__":
    import unittest
    unittest.main()
