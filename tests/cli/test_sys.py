"""mmk's system interface (cli/sys.h) on its own, through tests/cli/sys_driver.c.

The POSIX build (MMK_SYS_DRIVER, sys_unix.c) is checked against Python's own
view of the same files, and its glob matcher is glibc's fnmatch, the
reference. When MMK_SYS_DRIVER_WIN names the Windows build of the driver
(sys_win.c), it runs through MMK_CLI_WRAPPER (wine) and must print the very
same bytes as the POSIX build: directory listings, sizes, file contents
(binary standard output: no CRLF), pread that leaves the offset alone,
threads, UTF-8 arguments, and the glob matcher on random and awkward globs.
"""
import os
import random
import shlex
import shutil
import subprocess
import tempfile
import unittest

DRIVER = os.environ.get("MMK_SYS_DRIVER", "")
DRIVER_WIN = os.environ.get("MMK_SYS_DRIVER_WIN", "")
WRAPPER = shlex.split(os.environ.get("MMK_CLI_WRAPPER", "wine"))
WIN_ENV = dict(os.environ, WINEDEBUG=os.environ.get("WINEDEBUG", "-all"))

AWKWARD_GLOBS = [
    "*", "?", "*.c", "a*b", "*a*b*", "[ab]", "[!ab]", "[^ab]", "[a-c]x", "[]a]", "[!]a]",
    "[a-]", "[-a]", "[", "[a", "a[", "\\*", "\\", "a\\", "[\\]]", "[[:alpha:]]*",
    "[[:digit:]]", "[![:digit:]]", "[[:alpha:][:digit:]]", "*/*", "*.", ".*", "**a", "a**",
    "[[:bogus:]]", "[z-a]", "*[", "\\[a]",
]
AWKWARD_NAMES = [
    "", "a", "b", "ab", "abc", "a.c", ".c", "x.c", "dir/x.c", "]", "-", "[", "\\", "a\\",
    "*", "1", "a1", "za", "ax", "bx", "cx", "]a", "!", "^", "a/b", ".hidden", "[a]",
]


def run(cmd, data=None, env=None):
    return subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, timeout=300)


def random_cases(seed, n):
    rng = random.Random(seed)
    glob_chars = "ab.*?[]!^-\\/:"
    name_chars = "ab./-]["
    cases = []
    for _ in range(n):
        g = "".join(rng.choice(glob_chars) for _ in range(rng.randint(0, 7)))
        s = "".join(rng.choice(name_chars) for _ in range(rng.randint(0, 7)))
        cases.append((g, s))
    return cases


class SysDriverCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not DRIVER or not os.access(DRIVER, os.X_OK):
            raise unittest.SkipTest("set MMK_SYS_DRIVER to the built sys_driver")
        base = os.environ.get("MMK_TEST_TMP") or None
        if base:
            os.makedirs(base, exist_ok=True)
        cls.tmp = tempfile.mkdtemp(prefix="mmk-sys-", dir=base)
        tree = os.path.join(cls.tmp, "tree")
        os.makedirs(os.path.join(tree, "sub", "deeper"))
        files = {"a.txt": b"one\ntwo\n", "b.bin": bytes(range(256)) * 3,
                 "empty": b"", "sub/c.c": b"int x;\r\n", "sub/deeper/d": b"d" * 70000,
                 "caf\u00e9.txt": b"\xc3\xa9\n"}
        for name, data in files.items():
            with open(os.path.join(tree, name), "wb") as f:
                f.write(data)
        cls.tree = tree
        cls.files = files

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def native(self, *args, data=None):
        return run([DRIVER, *args], data)

    def glob_input(self):
        cases = [(g, s) for g in AWKWARD_GLOBS for s in AWKWARD_NAMES]
        cases += random_cases(9, 20000)
        return "".join("%s\t%s\n" % c for c in cases).encode(), cases

    def commands(self):
        big = os.path.join(self.tree, "sub", "deeper", "d")
        return [
            ("list", self.tree), ("list", os.path.join(self.tree, "sub")),
            ("list", os.path.join(self.tree, "missing")),
            ("stat", os.path.join(self.tree, "a.txt")), ("stat", self.tree),
            ("stat", os.path.join(self.tree, "missing")),
            ("cat", os.path.join(self.tree, "b.bin")), ("cat", os.path.join(self.tree, "sub", "c.c")),
            ("cat", self.tree),
            ("pread", big, "65536", "10"), ("pread", os.path.join(self.tree, "a.txt"), "4", "100"),
            ("threads", "4"), ("args", "plain", "caf\u00e9", "\u65e5\u672c", "sp ace", ""),
        ]


class TestPosix(SysDriverCase):
    def test_glob_is_fnmatch(self):
        # sys_unix.c is fnmatch(3); the Windows matcher is compared with it below.
        data, cases = self.glob_input()
        res = self.native("glob", data=data)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(len(res.stdout.split()), len(cases))

    def test_list_and_stat(self):
        out = self.native("list", self.tree).stdout.decode()
        want = []
        for name in sorted(os.listdir(self.tree), key=os.fsencode):
            p = os.path.join(self.tree, name)
            if os.path.isdir(p):
                want.append("%s dir 0" % name)
            else:
                want.append("%s file %d" % (name, os.path.getsize(p)))
        self.assertEqual(out.splitlines(), want)
        self.assertEqual(self.native("stat", os.path.join(self.tree, "b.bin")).stdout,
                         b"file 768\n")
        self.assertEqual(self.native("stat", self.tree).stdout, b"dir 0\n")
        self.assertEqual(self.native("stat", os.path.join(self.tree, "nope")).stdout,
                         b"error\n")

    def test_cat_pread_threads(self):
        for name, data in self.files.items():
            self.assertEqual(self.native("cat", os.path.join(self.tree, name)).stdout, data)
        res = self.native("pread", os.path.join(self.tree, "b.bin"), "250", "10")
        self.assertEqual(res.stdout, bytes(range(250, 256)) + bytes(range(4)) + b"\n@0\n")
        self.assertEqual(self.native("threads", "8").stdout, b"8000\n")
        self.assertEqual(self.native("args", "caf\u00e9", "").stdout, b"636166c3a9\n\n")


@unittest.skipUnless(DRIVER_WIN, "MMK_SYS_DRIVER_WIN (the Windows build of sys_driver) not given")
class TestWindowsSameAsPosix(SysDriverCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not shutil.which(WRAPPER[0]):
            raise unittest.SkipTest("%s is not installed" % WRAPPER[0])

    def win(self, *args, data=None):
        return run([*WRAPPER, DRIVER_WIN, *args], data, env=WIN_ENV)

    def test_glob_same_as_fnmatch(self):
        data, cases = self.glob_input()
        want = self.native("glob", data=data).stdout.split()
        got = self.win("glob", data=data).stdout.split()
        self.assertEqual(len(got), len(cases))
        bad = [(cases[i], want[i], got[i]) for i in range(len(cases)) if want[i] != got[i]]
        self.assertEqual(bad[:20], [], "%d of %d differ" % (len(bad), len(cases)))

    def test_same_bytes(self):
        for cmd in self.commands():
            with self.subTest(cmd=cmd):
                want, got = self.native(*cmd), self.win(*cmd)
                self.assertEqual(got.stdout, want.stdout)
                self.assertEqual(got.returncode, want.returncode)


if __name__ == "__main__":
    unittest.main()
