"""Shared helpers for the end-to-end tests of the `mmk` tool.

The tests run the built binary named by $MMK (tests/cli.cmake passes it) and
compare its output and exit status with what grep, wc and Python give on the
same bytes. Standard library only.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

MMK = os.environ.get("MMK", "")
# A program that runs mmk (MMK_CLI_WRAPPER="wine" for an mmk.exe; see
# tests/cli/run_wrapped.py): mmk() starts [*WRAPPER, MMK, ...].
WRAPPER = shlex.split(os.environ.get("MMK_CLI_WRAPPER", ""))
SOURCE_DIR = os.environ.get(
    "MMK_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
# Set by the CTest entries that run mmk of the POSIX-only build
# (tests/clang.cmake): its Linux-only knowledge is off (docs/platforms.md).
POSIX_ONLY = os.environ.get("MMK_POSIX_ONLY") == "1"
LINUX_ONLY = ("the POSIX-only build knows no filesystem whose sizes lie (procfs, sysfs: "
              "Linux knowledge, off there as on macOS and the BSDs; docs/platforms.md)")
BUILD_DIR = os.environ.get("MMK_BUILD_DIR") or (os.path.dirname(MMK) if MMK else "")

# Byte semantics for the peers: grep and wc in the C locale.
C_ENV = dict(os.environ, LC_ALL="C")


def mmk(*args, input=None, stdin=None, env=None, timeout=60, **kw):
    """Run mmk with bytes/str arguments; returns the CompletedProcess (bytes)."""
    if input is None and stdin is None:
        stdin = subprocess.DEVNULL
    if WRAPPER and env is None:
        env = dict(os.environ, WINEDEBUG=os.environ.get("WINEDEBUG", "-all"))
    # Under wine, a start can fail in wine itself: in one CI run of 207 tests,
    # `mmk lines` ended with status 1 and no output at all, which mmk never
    # does for lines (0 or 2, and a message), and 15 reruns passed. With
    # WINEDEBUG=-all wine says nothing. So a wrapped start that ends 1 with no
    # output is started once more (a search without a match gives the same
    # again), with standard input rewound, and the retry is logged.
    start = None
    if WRAPPER and stdin is not None and hasattr(stdin, "fileno"):
        try:
            start = os.lseek(stdin.fileno(), 0, os.SEEK_CUR)
        except OSError:
            start = None
    res = subprocess.run([*WRAPPER, MMK, *args], input=input, stdin=stdin, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, timeout=timeout, **kw)
    if (WRAPPER and res.returncode == 1 and not res.stdout and not res.stderr
            and (stdin is None or start is not None or stdin == subprocess.DEVNULL)):
        if start is not None:
            os.lseek(stdin.fileno(), start, os.SEEK_SET)
        again = subprocess.run([*WRAPPER, MMK, *args], input=input, stdin=stdin,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               timeout=timeout, **kw)
        if again.returncode != 1 or again.stdout or again.stderr:
            print("mmkcli: %s ended 1 with no output; the second start gave status %d"
                  % (" ".join(map(str, [*WRAPPER, "mmk", *args])), again.returncode),
                  file=sys.stderr)
        res = again
    return res


_corpus = None


def kjv_path():
    """Path of the 4.4 MB King James text (generated text without the bible package),
    made once by scripts/corpus.sh in the build directory."""
    global _corpus
    if _corpus is None:
        out_dir = os.path.join(BUILD_DIR or tempfile.gettempdir(), "corpus")
        res = subprocess.run(["sh", os.path.join(SOURCE_DIR, "scripts", "corpus.sh"), out_dir,
                              "kjv"], stdout=subprocess.PIPE, check=True)
        _corpus = res.stdout.decode().strip()
    return _corpus


def python_count(pattern, data, flags=0):
    """The reference count: Python's leftmost non-overlapping matches."""
    return len(re.findall(pattern, data, flags))


def grep_o_count(args, path):
    """`grep -o ARGS path | wc -l`, in the C locale."""
    grep = subprocess.Popen(["grep", "-o", *args, path], stdout=subprocess.PIPE, env=C_ENV)
    wc = subprocess.run(["wc", "-l"], stdin=grep.stdout, stdout=subprocess.PIPE, env=C_ENV)
    grep.stdout.close()
    grep.wait()
    return int(wc.stdout)


class MmkTestCase(unittest.TestCase):
    """A test case with a private temporary directory (self.tmp)."""

    @classmethod
    def setUpClass(cls):
        if not MMK or not os.access(MMK, os.X_OK):
            raise RuntimeError("set MMK to the path of the built mmk binary (got %r)" % MMK)
        base = os.environ.get("MMK_TEST_TMP") or None
        if base:
            os.makedirs(base, exist_ok=True)
        cls.tmp = tempfile.mkdtemp(prefix="mmk-cli-", dir=base)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assertRun(self, res, stdout=None, status=0, stderr=b""):
        """Check a run's exit status, standard output and standard error (None: any)."""
        msg = "status %d, stdout %r, stderr %r" % (res.returncode, res.stdout[:400], res.stderr)
        self.assertEqual(res.returncode, status, msg)
        if stdout is not None:
            self.assertEqual(res.stdout, stdout, msg)
        if stderr is not None:
            # The reasons come from mmk_strerror, whose capitalisation is the
            # library's choice ("no such file or directory").
            self.assertEqual(res.stderr.lower(), stderr.lower(), msg)
