"""The fault guard works whatever SIGBUS handler Python code installs, in
either order around ``import mmkit``: signal.signal(SIGBUS, ...),
faulthandler.enable() after or before the import, and pytest's order (a
conftest imports mmkit, then the runner enables faulthandler). A read of a
truncated map raises OSError(EFAULT) in each, without a false "Fatal Python
error" and without spinning; and a real unguarded SIGBUS afterwards (a raw
buffer of the map touched past the end of the file) is still reported by
faulthandler and kills the process with SIGBUS.

Each case runs in its own interpreter (sys.executable, with this process's
environment, so PYTHONPATH finds the same module) under a timeout: a fault
that repeats forever is a failure, not a hang.
"""

import os
import signal
import subprocess
import sys
import textwrap
import unittest

from mmkit_testutil import TempDirTestCase

TIMEOUT = 60
FATAL = "Fatal Python error"

# Shared by every child: a map whose second page is gone (the file was cut to
# one page behind the map's back), and every guarded way of reading it.
PRELUDE = textwrap.dedent(
    """
    import errno, os, sys
    PAGE = os.sysconf("SC_PAGE_SIZE")
    TMP = sys.argv[1]

    def truncated_map(mmkit):
        path = os.path.join(TMP, "data-%d" % os.getpid())
        with open(path, "wb") as f:
            f.write(b"x" * (2 * PAGE))
        with open(path, "rb") as f:
            m = mmkit.mmap(f.fileno(), 0, access=mmkit.ACCESS_READ)
        os.truncate(path, PAGE)
        return m

    def guarded_reads(m):
        def efault(fn):
            try:
                fn()
            except OSError as e:
                assert e.errno == errno.EFAULT, e
            else:
                raise AssertionError("no OSError")
        for _ in range(3):
            efault(lambda: m[PAGE])
            efault(lambda: m[PAGE - 4:PAGE + 4])
            efault(lambda: m.find(b"y", PAGE))
        assert m[0] == ord("x") and m[:2] == b"xx"
        print("GUARDED-OK", flush=True)

    def unguarded_touch(m):
        # A raw buffer is not guarded: this is a real SIGBUS.
        print("TOUCHING", flush=True)
        view = memoryview(m)
        return view[PAGE]
    """
)


class GuardOrderTest(TempDirTestCase):
    def run_child(self, body):
        code = PRELUDE + textwrap.dedent(body)
        try:
            return subprocess.run(
                [sys.executable, "-c", code, self.dir],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=TIMEOUT,
                universal_newlines=True,
            )
        except subprocess.TimeoutExpired:
            pass  # fail outside the handler: the command line is noise here
        self.fail("the child spun: no end after %d s" % TIMEOUT)

    def assert_guarded_clean_exit(self, proc):
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("GUARDED-OK", proc.stdout)
        self.assertIn("DONE", proc.stdout)
        self.assertNotIn(FATAL, proc.stderr)

    def assert_reported_crash(self, proc):
        """A real fault: faulthandler's report, once, and death by SIGBUS."""
        self.assertIn("GUARDED-OK", proc.stdout)
        self.assertIn("TOUCHING", proc.stdout)
        self.assertEqual(proc.returncode, -signal.SIGBUS, proc.stderr)
        self.assertEqual(proc.stderr.count(FATAL), 1, proc.stderr)
        self.assertIn("Bus error", proc.stderr)
        self.assertIn("unguarded_touch", proc.stderr)  # the traceback

    def test_signal_handler_after_import(self):
        proc = self.run_child(
            """
            import signal, mmkit
            seen = []
            signal.signal(signal.SIGBUS, lambda sig, frame: seen.append(sig))
            m = truncated_map(mmkit)
            guarded_reads(m)
            for _ in range(1000):  # give a tripped Python handler time to run
                pass
            assert seen == [], seen
            print("DONE", flush=True)
            """
        )
        self.assert_guarded_clean_exit(proc)

    def test_signal_handler_then_real_fault_dies_instead_of_spinning(self):
        # Without mmkit this spins forever: Python's C handler only sets a flag
        # and the access faults again. mmkit passes the fault to it once and
        # then lets the default action end the process.
        proc = self.run_child(
            """
            import signal, mmkit
            signal.signal(signal.SIGBUS, lambda sig, frame: None)
            m = truncated_map(mmkit)
            guarded_reads(m)
            unguarded_touch(m)
            print("SURVIVED", flush=True)
            """
        )
        self.assertIn("GUARDED-OK", proc.stdout)
        self.assertNotIn("SURVIVED", proc.stdout)
        self.assertEqual(proc.returncode, -signal.SIGBUS, proc.stderr)

    def test_faulthandler_after_import(self):
        proc = self.run_child(
            """
            import faulthandler, mmkit
            faulthandler.enable()
            m = truncated_map(mmkit)
            guarded_reads(m)
            assert faulthandler.is_enabled()
            print("DONE", flush=True)
            """
        )
        self.assert_guarded_clean_exit(proc)

    def test_faulthandler_before_import(self):
        proc = self.run_child(
            """
            import faulthandler
            faulthandler.enable()
            import mmkit
            m = truncated_map(mmkit)
            guarded_reads(m)
            print("DONE", flush=True)
            """
        )
        self.assert_guarded_clean_exit(proc)

    def test_pytest_order(self):
        # pytest loads conftest.py files first, then its faulthandler plugin
        # enables faulthandler on a duplicate of stderr, runs the tests, and
        # disables it again at the end.
        with open(self.path("conftest.py"), "w") as f:
            f.write("import mmkit\n")
        proc = self.run_child(
            """
            import faulthandler
            sys.path.insert(0, TMP)
            import conftest
            mmkit = conftest.mmkit
            faulthandler.enable(file=os.dup(2), all_threads=True)
            def test_reads():
                guarded_reads(truncated_map(mmkit))
            test_reads()
            faulthandler.disable()
            test_reads()
            print("DONE", flush=True)
            """
        )
        self.assert_guarded_clean_exit(proc)

    def test_real_fault_reported_after_import_then_faulthandler(self):
        proc = self.run_child(
            """
            import faulthandler, mmkit
            faulthandler.enable()
            m = truncated_map(mmkit)
            guarded_reads(m)
            unguarded_touch(m)
            print("SURVIVED", flush=True)
            """
        )
        self.assert_reported_crash(proc)

    def test_real_fault_reported_faulthandler_then_import(self):
        proc = self.run_child(
            """
            import faulthandler
            faulthandler.enable()
            import mmkit
            m = truncated_map(mmkit)
            guarded_reads(m)
            unguarded_touch(m)
            """
        )
        self.assert_reported_crash(proc)

    def test_real_fault_reported_in_pytest_order(self):
        with open(self.path("conftest.py"), "w") as f:
            f.write("import mmkit\n")
        proc = self.run_child(
            """
            import faulthandler
            sys.path.insert(0, TMP)
            import conftest
            mmkit = conftest.mmkit
            faulthandler.enable(file=sys.stderr, all_threads=True)
            m = truncated_map(mmkit)
            guarded_reads(m)
            unguarded_touch(m)
            """
        )
        self.assert_reported_crash(proc)

    def test_everything_then_real_fault(self):
        # All of the above in one process, in the unfriendly order: the guard
        # still works and faulthandler still reports the real crash.
        proc = self.run_child(
            """
            import faulthandler, signal
            faulthandler.enable()
            import mmkit
            m = truncated_map(mmkit)
            guarded_reads(m)
            signal.signal(signal.SIGBUS, signal.SIG_DFL)
            guarded_reads(m)
            faulthandler.disable()
            faulthandler.enable()
            guarded_reads(m)
            unguarded_touch(m)
            """
        )
        self.assert_reported_crash(proc)


if __name__ == "__main__":
    unittest.main()


class GuardBehindTheWrappersTest(GuardOrderTest):
    """The module re-arms after signal.signal() and faulthandler by wrapping
    them, so small operations pay no system call. A handler installed behind
    those wrappers (a reference to signal.signal taken before the import
    stands in for a C extension's sigaction) is put under the guard again by
    mmkit.guard_install(), or by mmkit.guard_rearm(True)."""

    def test_signal_is_wrapped_and_still_works(self):
        proc = self.run_child(
            """
            import signal, faulthandler
            before = signal.signal
            import mmkit
            assert signal.signal is not before
            h = lambda sig, frame: None
            old = signal.signal(signal.SIGUSR1, h)
            assert old is signal.SIG_DFL, old
            assert signal.getsignal(signal.SIGUSR1) is h
            assert signal.signal(signal.SIGUSR1, signal.SIG_DFL) is h
            faulthandler.enable(); assert faulthandler.is_enabled()
            faulthandler.disable(); assert not faulthandler.is_enabled()
            import importlib; importlib.reload(mmkit)  # a second exec wraps nothing twice
            print("DONE", flush=True)
            """
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("DONE", proc.stdout)

    def test_handler_behind_the_wrappers_then_guard_install(self):
        proc = self.run_child(
            """
            import signal
            raw_signal = signal.signal
            import mmkit
            seen = []
            raw_signal(signal.SIGBUS, lambda sig, frame: seen.append(sig))
            mmkit.guard_install()
            m = truncated_map(mmkit)
            guarded_reads(m)
            assert seen == [], seen
            print("DONE", flush=True)
            """
        )
        self.assert_guarded_clean_exit(proc)

    def test_handler_behind_the_wrappers_with_rearm_per_call(self):
        proc = self.run_child(
            """
            import signal
            raw_signal = signal.signal
            import mmkit
            assert mmkit.guard_rearm(True) is False
            raw_signal(signal.SIGBUS, lambda sig, frame: None)
            m = truncated_map(mmkit)
            guarded_reads(m)
            assert mmkit.guard_rearm(False) is True
            print("DONE", flush=True)
            """
        )
        self.assert_guarded_clean_exit(proc)
