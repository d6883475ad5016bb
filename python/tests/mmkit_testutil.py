"""Helpers shared by the mmkit unit tests."""

import os
import shutil
import tempfile
import unittest

# Quick mode (MMK_TEST_QUICK=1: the runs for the Pythons other than the
# default one, and the POSIX-only tree's): the heaviest data-driven tests
# draw fewer rounds. Their C paths are the same for every Python version; the
# default python3 runs them all.
QUICK = os.environ.get("MMK_TEST_QUICK", "") not in ("", "0")


def test_tmpdir():
    """A fresh directory for one test case's files (under $MMK_TEST_TMP when set)."""
    base = os.environ.get("MMK_TEST_TMP") or None
    if base:
        os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix="mmkit-py-", dir=base)


class TempDirTestCase(unittest.TestCase):
    """Gives each test self.dir, removed afterwards, and self.path(name)."""

    def setUp(self):
        self.dir = test_tmpdir()
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name="data.bin"):
        return os.path.join(self.dir, name)

    def make_file(self, data, name="data.bin"):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(data)
        return p


def split_lines(data):
    """Reference for mmap.lines(): pieces ending with b'\\n', plus an
    unterminated tail if there is one."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def outcome(fn, *args, **kwargs):
    """('ok', value) or ('raise', exception type, message) for comparisons."""
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as e:  # noqa: BLE001 - comparing any exception is the point
        return ("raise", type(e), str(e))


def random_bytes(rng, size, alphabet):
    """size bytes drawn from alphabet with rng (a random.Random): fast for
    inputs of tens of megabytes (each random byte picks alphabet[b % len])."""
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    return rng.randbytes(size).translate(table)


# Set by the CTest entries that run these tests against the POSIX-only build
# (tests/clang.cmake): Linux-only knowledge is off there (docs/platforms.md).
POSIX_ONLY = os.environ.get("MMK_POSIX_ONLY") == "1"
