"""Run mmkit's Python unit tests (what ctest's python_unit* entries run).

The same as `python -m unittest discover` over this directory, with two
additions for unattended runs: each test's name is printed as it starts
(verbosity 2, so a hang shows where it is), and a watchdog dumps every
thread's stack and ends the run with status 1 if the whole run takes longer
than MMK_TEST_WATCHDOG seconds (default 270, under ctest's 300 s limit).
MMK_TEST_ONLY=WORD runs only the tests whose id holds WORD (python_unit_system:
the numpy tests, under the interpreter that has numpy).
"""
import faulthandler
import os
import sys
import unittest


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    faulthandler.dump_traceback_later(int(os.environ.get("MMK_TEST_WATCHDOG", "270")), exit=True)
    suite = unittest.defaultTestLoader.discover(here, top_level_dir=here)
    only = os.environ.get("MMK_TEST_ONLY")
    if only:
        suite = unittest.TestSuite(t for t in flatten(suite) if only in t.id())
        if suite.countTestCases() == 0:
            print("run_unit: no test id holds %r" % only)
            return 1
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    faulthandler.cancel_dump_traceback_later()
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
