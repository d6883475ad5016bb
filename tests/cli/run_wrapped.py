"""Run the basic cases of tests/cli/test_cli.py against an mmk started through a
wrapper: the Windows build under wine.

    MMK=build/win/mmk.exe MMK_CLI_WRAPPER=wine python3 tests/cli/run_wrapped.py

Every case listed below runs mmk only through mmkcli.mmk(), which puts the
wrapper in front, and compares the same bytes as on Linux (mmk.exe writes
binary standard output, so "\n" stays "\n"). Left out are the cases that test
what only POSIX has or that start mmk directly: FIFOs, /proc, /dev/full,
permissions dropped with setuid, SIGPIPE, the pseudo-terminal of the progress
bar and --color=auto, and file names that are not UTF-8 (Windows names are
UTF-16). Exit status: 0 all passed, 1 a failure, 77 (skipped) when MMK or the
wrapper is missing.
"""
import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mmkcli  # noqa: E402

BASIC = {
    "TestTopLevel": None,  # None: every test of the class
    "TestCount": None,
    "TestGrep": None,
    "TestLines": None,
    "TestWords": None,
    "TestInputs": ["test_stdin_pipe_and_dash", "test_stdin_regular_file"],
    "TestErrors": ["test_missing_file", "test_directory", "test_several_files_one_missing",
                   "test_json_with_error", "test_invalid_pattern"],
    "TestJson": ["test_count_schema"],
    "TestGrepOptions": ["test_usage_errors", "test_help_lists_every_option", "test_grep_colors",
                        "test_count_with_several_patterns", "test_label_and_quiet_errors",
                        "test_compressed_file_without_z"],
    "TestCountBy": None,
    "TestTimeRange": None,
}

QUICK_PER_CLASS = 4


def main():
    if not mmkcli.MMK or not os.path.exists(mmkcli.MMK):
        print("run_wrapped: MMK does not name a built mmk; skipped")
        return 77
    if mmkcli.WRAPPER and not shutil.which(mmkcli.WRAPPER[0]):
        print("run_wrapped: %s is not installed; skipped" % mmkcli.WRAPPER[0])
        return 77
    os.environ.setdefault("WINEDEBUG", "-all")
    # Under wine: the first wine program of a wine server starts wine's system
    # processes, which inherit its stdout and stderr and live as long as the
    # server. Were that program a test's mmk.exe, the test's pipes would stay
    # open and the test would wait on them. So a persistent server is started
    # first (under ctest, win_build has already started one: this start then
    # fails harmlessly, and win_stop stops it), and the first program runs
    # with no output streams. It is also the slow first start of a fresh
    # prefix, done here rather than inside a test's timeout.
    owned_server = False
    if os.path.basename(mmkcli.WRAPPER[0]) == "wine" and shutil.which("wineserver"):
        owned_server = subprocess.run(["wineserver", "-p"], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL).returncode == 0
    subprocess.run([*mmkcli.WRAPPER, mmkcli.MMK, "--version"], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    try:
        return run_suite()
    finally:
        if owned_server:
            subprocess.run(["wineserver", "-k"], stderr=subprocess.DEVNULL)


def run_suite():
    import test_cli  # noqa: E402  (after sys.path is set)

    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for cls_name, names in BASIC.items():
        cls = getattr(test_cli, cls_name)
        if names is None:
            names = loader.getTestCaseNames(cls)
            # Each mmk start costs wine about 0.2 s: quick mode (make test) takes the
            # first QUICK_PER_CLASS cases of the whole classes.
            if os.environ.get("MMK_CLI_QUICK"):
                names = names[:QUICK_PER_CLASS]
            suite.addTests(cls(name) for name in names)
        else:
            suite.addTests(cls(name) for name in names)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
