"""Run CPython's own mmap test suite against mmkit.

Usage: python3.X conformance.py   (with the mmkit build for that Python on
PYTHONPATH, e.g. PYTHONPATH=build/python-3.X)

The suite is read from where it is installed with this interpreter
(Lib/test/test_mmap.py); its one `import_module('mmap')` is pointed at
'mmkit' in memory. The file itself is never copied or changed. The same
suite is also run against the standard mmap module in the same process, and
the run passes only if

  * every test passes against mmkit (no failure, no error), and
  * no test is skipped with mmkit that runs with the standard module, and
  * both runs ran the same tests, and
  * every constant and every public method of the standard module exists
    in mmkit with the same value.

Exit status: 0 on success, 1 on any failure, 77 when this Python has no
`test` package (some distributions ship Python without it).
"""

import importlib.util
import os
import sys
import tempfile
import time
import types
import unittest

NEEDLE = "import_module('mmap')"
SKIP_EXIT = 77


class RecordingResult(unittest.TextTestResult):
    """A TextTestResult that also remembers which tests were skipped and why."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.skipped_ids = {}
        self.run_ids = set()

    def startTest(self, test):
        super().startTest(test)
        self.run_ids.add(short_id(test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.skipped_ids[short_id(test)] = reason


def short_id(test):
    """'test_mmap_std.MmapTests.test_basic' -> 'MmapTests.test_basic'."""
    parts = test.id().split(".")
    return ".".join(parts[1:]) if len(parts) > 1 else parts[0]


def find_suite():
    """Path of this interpreter's installed test_mmap.py, or None."""
    try:
        spec = importlib.util.find_spec("test.test_mmap")
    except ImportError:
        return None
    if spec is None or not spec.origin or not os.path.exists(spec.origin):
        return None
    return spec.origin


def load_suite(path, module_name, target):
    """Load the suite from its installed file as module `module_name`, with
    its import of the mmap module pointed at `target`."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = text.count(NEEDLE)
    if found != 1:
        raise SystemExit("conformance: expected exactly one %s in %s, found %d"
                         % (NEEDLE, path, found))
    if target != "mmap":
        text = text.replace(NEEDLE, "import_module(%r)" % target)
    module = types.ModuleType(module_name)
    module.__file__ = path
    sys.modules[module_name] = module
    exec(compile(text, path, "exec"), module.__dict__)
    return module


def run_suite(module, label):
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromModule(module)
    stream = sys.stdout
    print("---- test_mmap against %s ----" % label, flush=True)
    runner = unittest.TextTestRunner(stream=stream, verbosity=1,
                                     resultclass=RecordingResult)
    started = time.monotonic()
    result = runner.run(suite)
    result.seconds = time.monotonic() - started
    return result


def counts(result):
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    return passed, failed, skipped


def check_api(problems):
    """Every constant and public method of the standard module exists in
    mmkit, constants with equal values."""
    import mmap
    import mmkit
    for name in dir(mmap):
        if name.startswith("_"):
            continue
        if not hasattr(mmkit, name):
            problems.append("mmkit lacks mmap.%s" % name)
        elif name.isupper() and getattr(mmkit, name) != getattr(mmap, name):
            problems.append("mmkit.%s = %r, mmap.%s = %r" % (
                name, getattr(mmkit, name), name, getattr(mmap, name)))
    for name in dir(mmap.mmap):
        if name.startswith("_") and name not in ("__enter__", "__exit__",
                                                 "__getitem__", "__setitem__",
                                                 "__len__", "__buffer__"):
            continue
        if not hasattr(mmkit.mmap, name):
            problems.append("mmkit.mmap lacks %s" % name)
    if mmkit.error is not OSError:
        problems.append("mmkit.error is not OSError")


def main():
    version = "%d.%d" % sys.version_info[:2]
    path = find_suite()
    if path is None:
        print("conformance: SKIPPED for Python %s (%s): this Python has no 'test' "
              "package (test_mmap.py is not installed)" % (version, sys.executable))
        return SKIP_EXIT
    import mmkit  # noqa: F401  (fail early, with a clear error, if it is missing)
    print("conformance: Python %s (%s)" % (version, sys.executable))
    print("conformance: suite %s" % path)
    print("conformance: mmkit from %s" % sys.modules["mmkit"].__file__)

    workdir = tempfile.mkdtemp(prefix="mmkit-conformance-")
    old_cwd = os.getcwd()
    os.chdir(workdir)  # test_mmap creates its files (TESTFN) in the current directory
    try:
        std_module = load_suite(path, "test_mmap_standard", "mmap")
        std = run_suite(std_module, "the standard mmap module")
        mmkit_module = load_suite(path, "test_mmap_mmkit", "mmkit")
        mk = run_suite(mmkit_module, "mmkit")
    finally:
        os.chdir(old_cwd)
        try:
            for name in os.listdir(workdir):
                os.unlink(os.path.join(workdir, name))
            os.rmdir(workdir)
        except OSError:
            pass

    problems = []
    for kind, items in (("FAIL", mk.failures), ("ERROR", mk.errors)):
        for test, _ in items:
            problems.append("%s with mmkit: %s" % (kind, short_id(test)))
    for test in mk.unexpectedSuccesses:
        problems.append("unexpected success with mmkit: %s" % short_id(test))
    # Checks beyond the tests' own verdicts; each counts as one failure.
    extra = []
    only_mmkit = sorted(set(mk.skipped_ids) - set(std.skipped_ids))
    for name in only_mmkit:
        extra.append("skipped with mmkit but run with mmap: %s (%s)"
                     % (name, mk.skipped_ids[name]))
    if mk.run_ids != std.run_ids:
        extra.append("different tests ran: only mmap %s, only mmkit %s" % (
            sorted(std.run_ids - mk.run_ids), sorted(mk.run_ids - std.run_ids)))
    check_api(extra)
    problems += extra

    sp, sf, ss = counts(std)
    mp, mf, ms = counts(mk)
    print()
    print("conformance: Python %s, standard mmap: %d passed, %d failed, %d skipped (%.1f s)"
          % (version, sp, sf, ss, std.seconds))
    print("conformance: Python %s, mmkit:         %d passed, %d failed, %d skipped (%.1f s)"
          % (version, mp, mf, ms, mk.seconds))
    print("conformance: skipped with mmkit but not with mmap: %s"
          % (", ".join(only_mmkit) if only_mmkit else "none"))
    for name, reason in sorted(mk.skipped_ids.items()):
        print("conformance:   skipped in both: %s (%s)" % (name, reason))
    for p in problems:
        print("conformance: PROBLEM: %s" % p)
    print("conformance: %d passed, %d failed, %d skipped" % (mp, mf + len(extra), ms))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
