"""Directory trees (issue 8, point 3): mmk's walk (cli/walk.c).

Two tools run the same checks: `mmk grep` (the real command) and walk_driver
(tests/cli/walk_driver.c: a fixed-string grep over cli/walk.c alone, with
knobs to mix the finishing order of files, write to standard error around each
file's lines and produce huge outputs). For both:
- output equals GNU `grep -r -a` (C locale) as a multiset of lines, standard
  error likewise (`grep:` read as `mmk:`, case aside), and the exit status is
  grep's: for a tree of ~2,000 small files in nested directories, odd names
  (spaces, a newline, a leading '-', non-UTF-8 bytes, ':'), symlinks to files
  and directories, dangling links and loops under -r and -R, fifos, a deep
  tree, unreadable files and directories (as an unprivileged user),
  --include/--exclude/--exclude-dir on trees and on operands, trailing
  slashes, the working directory with no operand;
- the order is the documented one, byte for byte, on every run and with 1, 2,
  4 and 8 files at once: operands in order, entries sorted bytewise, depth
  first (a reference walk in Python computes it).
The driver alone: standard error and standard output of each file stay
interleaved as produced, a file with a huge output streams in bounded memory
and in order, big files and standard input are searched alone, and -q starts
no file after the first match.
"""
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import unittest

from mmkcli import C_ENV, MMK

DRIVER = os.environ.get("MMK_WALK_DRIVER", "")
DRIVER_ONLY = os.environ.get("MMK_TREE_DRIVER_ONLY") == "1"
PAT = b"needle"
STATUS_NAMES = {0: "match", 1: "no match", 2: "trouble"}


def fs(x):
    return x if isinstance(x, bytes) else os.fsencode(x)


def run(argv, cwd=None, input=None, stderr=subprocess.PIPE, timeout=300, env=None):
    return subprocess.run([fs(a) for a in argv], cwd=cwd, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=stderr, timeout=timeout,
                          env=env or C_ENV)


def gnu_grep(opts, operands, cwd=None, prefix=()):
    return run([*prefix, "grep", "-a", "-F", *opts, PAT, *operands], cwd=cwd)


def norm_err(err):
    """grep's messages read as mmk's, sorted, case aside."""
    return sorted(line.replace(b"grep: ", b"mmk: ", 1).lower() for line in err.splitlines())


# ---- the reference walk: the documented order ----------------------------------

def child_name(shown, name):
    if shown == b"":
        return name
    return shown + name if shown.endswith(b"/") else shown + b"/" + name


def trim_operand(op):
    """An operand's trailing slashes kept as one, as GNU grep's fts shows it."""
    n = len(op)
    if n > 2 and op.endswith(b"/"):
        while n > 1 and op[n - 2:n - 1] == b"/":
            n -= 1
    return op[:n]


def ref_files(operands, follow=False, cwd=None):
    """The files the walk searches, in its order: [(path to open, name shown)]."""
    base = fs(cwd) if cwd else b""
    files = []

    def full(p):
        return os.path.join(base, p) if base else p

    def visit(path, shown, ancestors):
        st = os.stat(full(path) if path else (base or b"."))
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            return
        try:
            names = sorted(os.listdir(full(path) if path else (base or b".")))
        except OSError:
            return
        for name in names:
            p = child_name(path, name)
            disp = child_name(shown, name)
            lst = os.lstat(full(p))
            st = lst
            if stat.S_ISLNK(lst.st_mode):
                if not follow:
                    continue
                try:
                    st = os.stat(full(p))
                except OSError:
                    continue
            if stat.S_ISDIR(st.st_mode):
                visit(p, disp, ancestors | {key})
            elif stat.S_ISREG(st.st_mode):
                files.append((p, disp))

    if not operands:
        visit(b"", b"", frozenset())
    for op in map(fs, operands):
        st = os.stat(full(op))
        if stat.S_ISDIR(st.st_mode):
            visit(trim_operand(op), trim_operand(op), frozenset())
        else:
            files.append((op, op))
    return files


def ref_output(files, cwd=None, names=True):
    out = []
    for path, disp in files:
        with open(os.path.join(fs(cwd), path) if cwd else path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for line in lines:
            if PAT in line:
                out.append((disp + b":" if names else b"") + line + b"\n")
    return b"".join(out)


# ---- trees -------------------------------------------------------------------------

def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def make_many(root, dirs=10, subs=5, files=40):
    """~dirs*subs*files small files in nested directories; every third has a match."""
    n = 0
    for d in range(dirs):
        for s in range(subs):
            sub = os.path.join(root, "d%02d" % d, "s%d" % s)
            os.makedirs(sub)
            for f in range(files):
                body = b"line %d of file %d\n" % (f, n)
                if n % 3 == 0:
                    body += b"a needle in %d/%d/%d\n" % (d, s, f)
                body += b"tail %d\n" % n
                write(os.path.join(sub, "f%03d.txt" % f), body)
                n += 1
        write(os.path.join(root, "d%02d" % d, "top.log"), b"needle top %d\n" % d)
    return n


ODD_NAMES = [b"a b", b"new\nline", b"-dash", b"\xff\xfe bytes", b"caf\xc3\xa9", b"B", b"a",
             b"a.txt", b"a0", b"x:y", b"tab\there", b"*star", b"[br]", b".hidden"]


def make_odd(root):
    os.makedirs(root)
    for i, name in enumerate(ODD_NAMES):
        write(os.path.join(fs(root), name), b"needle %d\nno\n" % i)
    os.makedirs(os.path.join(fs(root), b"a.d", b"-sub dir"))
    write(os.path.join(fs(root), b"a.d", b"-sub dir", b"\x80x"), b"needle deep\n")
    write(os.path.join(fs(root), b"last"), b"needle without newline")


def make_links(root):
    real = os.path.join(root, "real")
    os.makedirs(real)
    write(os.path.join(real, "f"), b"needle in real\n")
    write(os.path.join(root, "file"), b"needle in file\n")
    os.symlink("real", os.path.join(root, "linkdir"))
    os.symlink("file", os.path.join(root, "linkfile"))
    os.symlink("nowhere", os.path.join(root, "dangling"))
    os.symlink("..", os.path.join(real, "up"))
    os.symlink("../real", os.path.join(real, "self"))


class TreeChecks:
    """The checks, for a tool that runs a grep over trees (see the subclasses)."""

    @classmethod
    def setUpClass(cls):
        base = os.environ.get("MMK_TEST_TMP") or None
        if base:
            os.makedirs(base, exist_ok=True)
        cls.tmp = tempfile.mkdtemp(prefix="mmk-tree-", dir=base)
        cls.many = os.path.join(cls.tmp, "many")
        # Under the sanitizers (MMK_CLI_QUICK) a smaller tree: the same shapes, fewer files.
        cls.nmany = make_many(cls.many, dirs=4 if os.environ.get("MMK_CLI_QUICK") else 10)
        cls.odd = os.path.join(cls.tmp, "odd")
        make_odd(cls.odd)
        cls.links = os.path.join(cls.tmp, "links")
        make_links(cls.links)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tool_argv(self, opts, operands, threads=None, prefix=()):
        raise NotImplementedError

    def tool(self, opts, operands, threads=None, cwd=None, input=None, prefix=(), stderr=None):
        raise NotImplementedError

    def assertLike(self, opts, operands, cwd=None, prefix=(), grep_opts=None):
        """Same lines, messages and status as GNU grep (order aside)."""
        ours = self.tool(opts, operands, cwd=cwd, prefix=prefix)
        ref = gnu_grep(grep_opts if grep_opts is not None else opts, operands, cwd=cwd,
                       prefix=prefix)
        what = "%s %s: ours %s %r / grep %s %r" % (opts, operands, ours.returncode,
                                                   ours.stderr[:300], ref.returncode,
                                                   ref.stderr[:300])
        self.assertEqual(sorted(ours.stdout.splitlines()), sorted(ref.stdout.splitlines()),
                         what)
        self.assertEqual(norm_err(ours.stderr), norm_err(ref.stderr), what)
        self.assertEqual(ours.returncode, ref.returncode, what)
        return ours

    def assertOrdered(self, opts, operands, follow=False, cwd=None, threads=(1, 2, 4, 8),
                      runs=3, names=True):
        """Byte for byte the documented order, on every run and thread count."""
        want = ref_output(ref_files(operands, follow, cwd), cwd, names)
        self.assertTrue(want)
        for t in threads:
            for r in range(runs):
                res = self.tool(opts, operands, threads=t, cwd=cwd)
                self.assertIn(res.returncode, (0, 2), res.stderr[:300])
                if res.stdout != want:
                    a, b = res.stdout.splitlines(), want.splitlines()
                    diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y),
                                min(len(a), len(b)))
                    self.fail("threads %d run %d: order differs at line %d: %r / want %r"
                              % (t, r, diff, a[diff:diff + 2], b[diff:diff + 2]))

    # ---- order and equality with grep -------------------------------------------------

    def test_many_small_files(self):
        self.assertLike(["-r"], [self.many])
        self.assertOrdered(["-r"], [self.many])

    def test_operands_in_order(self):
        ops = [os.path.join(self.many, "d03"), os.path.join(self.odd, "a"),
               os.path.join(self.many, "d01", "s2")]
        self.assertLike(["-r"], ops)
        self.assertOrdered(["-r"], ops, threads=(1, 4), runs=2)

    def test_odd_names(self):
        self.assertLike(["-r"], [self.odd])
        self.assertOrdered(["-r"], [self.odd])

    def test_no_operand_searches_dot(self):
        res = self.assertLike(["-r"], [], cwd=self.odd)
        self.assertNotIn(b"./", res.stdout)
        self.assertOrdered(["-r"], [], cwd=self.odd, threads=(1, 2), runs=2)

    def test_operand_spellings(self):
        d = os.path.join(self.many, "d02")
        for op in (d + "/", d + "//", d + "/./s1", "./" + os.path.relpath(d, self.tmp)):
            with self.subTest(op=op):
                cwd = self.tmp if op.startswith("./") else None
                self.assertLike(["-r"], [op], cwd=cwd)
                self.assertOrdered(["-r"], [op], cwd=cwd, threads=(2,), runs=1)

    def test_single_file_names_no_file(self):
        f = os.path.join(self.many, "d00", "top.log")
        res = self.assertLike(["-r"], [f])
        self.assertEqual(res.stdout, b"needle top 0\n")
        self.assertLike(["-r"], [f, f])

    def test_deep_tree(self):
        root = os.path.join(self.tmp, "deep")
        path = root
        for i in range(60):
            path = os.path.join(path, "l%02d" % i)
            os.makedirs(path, exist_ok=True)
            write(os.path.join(path, "f"), b"needle at %d\n" % i)
        self.assertLike(["-r"], [root])
        self.assertOrdered(["-r"], [root], threads=(1, 2), runs=1)

    # ---- symlinks ------------------------------------------------------------------------

    def test_symlinks_r(self):
        res = self.assertLike(["-r"], [self.links])
        self.assertNotIn(b"linkdir", res.stdout)
        self.assertNotIn(b"linkfile", res.stdout)
        self.assertOrdered(["-r"], [self.links], threads=(1, 2), runs=2)
        # An operand that is a link is followed, to a directory or a file.
        self.assertLike(["-r"], [os.path.join(self.links, "linkdir")])
        self.assertLike(["-r"], [os.path.join(self.links, "linkfile"),
                                 os.path.join(self.links, "linkdir")])
        self.assertLike(["-r"], [os.path.join(self.links, "dangling")])

    def test_symlinks_R(self):
        res = self.assertLike(["-R"], [self.links])
        self.assertIn(b"linkdir/f:needle", res.stdout)
        self.assertIn(b"recursive directory loop", res.stderr)
        self.assertEqual(res.returncode, 2)  # the dangling link
        self.assertOrdered(["-R"], [self.links], follow=True, threads=(1, 2), runs=2)
        self.assertLike(["-R", "-s"], [self.links])

    def test_loop_alone_keeps_status(self):
        root = os.path.join(self.tmp, "loop")
        os.makedirs(os.path.join(root, "a"))
        write(os.path.join(root, "a", "f"), b"needle\n")
        os.symlink("..", os.path.join(root, "a", "up"))
        res = self.assertLike(["-R"], [root])
        self.assertEqual(res.returncode, 0)
        self.assertEqual(res.stderr.count(b"warning: recursive directory loop"), 1)
        self.assertLike(["-R", "-s"], [root])

    def test_fifo_in_tree_skipped_operand_read(self):
        root = os.path.join(self.tmp, "fifo")
        os.makedirs(root)
        os.mkfifo(os.path.join(root, "pipe"))
        write(os.path.join(root, "g"), b"needle g\n")
        self.assertLike(["-r"], [root])
        # grep -R opens the fifo and waits for a writer; the walk skips it.
        res = self.tool(["-R"], [root])
        self.assertEqual((res.returncode, res.stdout), (0, root.encode() + b"/g:needle g\n"))
        # Given as an operand, a fifo is read (as grep reads devices it is given).
        fifo = os.path.join(root, "pipe")
        writer = threading.Thread(target=lambda: write(fifo, b"x\nneedle via fifo\n"))
        writer.start()
        res = self.tool(["-r"], [fifo])
        if writer.is_alive():  # the tool never opened the fifo: release the writer
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join()
        self.assertEqual((res.returncode, res.stdout), (0, b"needle via fifo\n"))

    # ---- --include / --exclude / --exclude-dir ------------------------------------------

    def make_globs(self):
        root = os.path.join(self.tmp, "globs")
        if os.path.isdir(root):
            return root
        for d in ("d/sub", "e", ".hd", "dd"):
            os.makedirs(os.path.join(root, d))
        for f in ("a.c", "b.h", "foo.c", ".hid", "d/x.c", "d/sub/y.log", "e/z.c", ".hd/q",
                  "dd/w.h", "d/sub/foo.c"):
            write(os.path.join(root, f), b"needle %s\n" % f.encode())
        return root

    GLOB_CASES = [
        ["--include=*.c"], ["--exclude=*.c"], ["--include=*.c", "--exclude=foo.c"],
        ["--include=*.h", "--exclude=a*"], ["--include=*.c", "--include=*.h"],
        ["--exclude-dir=sub"], ["--exclude-dir=d*"], ["--exclude-dir=d/sub"],
        ["--include=*.log", "--exclude-dir=e"], ["--include=.*"], ["--exclude=*"],
        ["--include=[ab].*"], ["--include=d*"], ["--exclude-dir=*.c"], ["--exclude=d"],
    ]

    def test_include_exclude_tree(self):
        root = self.make_globs()
        for opts in self.GLOB_CASES:
            with self.subTest(opts=opts):
                self.assertLike(["-r", *opts], [root])

    def test_include_exclude_operands(self):
        root = self.make_globs()
        a, b, x = (os.path.join(root, f) for f in ("a.c", "b.h", "d/x.c"))
        d = os.path.join(root, "d")
        cases = [
            (["--exclude=a.c"], [a, b]), (["--exclude=*a.c"], [a, b]),
            (["--exclude=" + a], [a, b]), (["--exclude=d/x.c"], [x, b]),
            (["--include=*.h"], [a]), (["--include=*.h"], [a, b]),
            (["--exclude=" + root[:2] + "*"], [a, b]),
            (["--exclude-dir=d"], [d, b]), (["--exclude-dir=" + d], [d, b]),
            (["--exclude=d"], [d, b]), (["--exclude-dir=d"], [d + "/", b]),
        ]
        for opts, ops in cases:
            with self.subTest(opts=opts, ops=ops):
                self.assertLike(["-r", *opts], ops)

    def test_exclude_dir_no_operand(self):
        root = self.make_globs()
        for opts in (["--exclude-dir=*"], ["--exclude-dir=."], ["--exclude-dir=d"]):
            with self.subTest(opts=opts):
                self.assertLike(["-r", *opts], [], cwd=root)
        self.assertLike(["-r", "--exclude-dir=."], ["."], cwd=root)

    # ---- statuses --------------------------------------------------------------------------

    def test_statuses(self):
        missing = os.path.join(self.tmp, "missing")
        self.assertEqual(self.assertLike(["-r"], [self.links, missing]).returncode, 2)
        self.assertEqual(self.assertLike(["-r", "-s"], [missing, self.many]).returncode, 2)
        empty = os.path.join(self.tmp, "nomatch")
        os.makedirs(os.path.join(empty, "x"), exist_ok=True)
        write(os.path.join(empty, "x", "f"), b"hay\n")
        self.assertEqual(self.assertLike(["-r"], [empty]).returncode, 1)
        self.assertEqual(self.assertLike(["-r"], [os.path.join(empty, "x")]).returncode, 1)

    def test_quiet(self):
        res = self.tool(["-r", "-q"], [self.many])
        self.assertEqual((res.returncode, res.stdout), (0, b""))
        empty = os.path.join(self.tmp, "quiet-nomatch")
        os.makedirs(empty, exist_ok=True)
        write(os.path.join(empty, "f"), b"hay\n")
        self.assertEqual(self.tool(["-r", "-q"], [empty]).returncode, 1)

    def test_reader_goes_away(self):
        # `mmk grep -r ... | head -1`: the first line arrives, the reader closes
        # the pipe, and the process ends quietly with the status reached
        # (a match) instead of searching on or hanging in its workers.
        for t in (1, 4):
            with self.subTest(threads=t):
                argv = self.tool_argv(["-r"], [self.many], threads=t)
                p = subprocess.Popen([fs(a) for a in argv], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=C_ENV)
                first = p.stdout.readline()
                p.stdout.close()
                err = p.stderr.read()
                p.wait(timeout=120)
                p.stderr.close()
                self.assertEqual(first, ref_output(ref_files([self.many])[:1]))
                self.assertEqual((p.returncode, err), (0, b""))

    # ---- permissions (as an unprivileged user) -----------------------------------------

    def test_unreadable(self):
        if os.geteuid() == 0:
            prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            if not shutil.which("setpriv") or run([*prefix, "true"]).returncode != 0:
                self.skipTest("running as root and cannot become nobody with setpriv: "
                              "chmod 000 does not stop root")
        else:
            prefix = []
        top = tempfile.mkdtemp(prefix="mmk-tree-perm-")
        try:
            os.chmod(top, 0o755)
            root = os.path.join(top, "P")
            for d in ("closed", "noexec", "ok/deeper"):
                os.makedirs(os.path.join(root, d))
            for f in ("a", "secret", "closed/x", "noexec/y", "ok/deeper/z", "ok/secret2"):
                write(os.path.join(root, f), b"needle %s\n" % f.encode())
            os.chmod(os.path.join(root, "secret"), 0)
            os.chmod(os.path.join(root, "ok", "secret2"), 0)
            os.chmod(os.path.join(root, "closed"), 0)
            os.chmod(os.path.join(root, "noexec"), 0o644)
            probe = run([*prefix, "cat", os.path.join(root, "secret")])
            if probe.returncode == 0:
                self.skipTest("chmod 000 does not stop this user from reading")
            res = self.assertLike(["-r"], [root], prefix=prefix)
            self.assertEqual(res.returncode, 2)
            self.assertIn(b"permission denied", res.stderr.lower())
            res = self.assertLike(["-r", "-s"], [root], prefix=prefix)
            self.assertEqual((res.returncode, res.stderr), (2, b""))
            self.assertLike(["-r"], [os.path.join(root, "closed"), os.path.join(root, "a")],
                            prefix=prefix)
            self.assertLike(["-r"], [os.path.join(root, "secret")], prefix=prefix)
            # The order of what can be read is still the documented one.
            want = b"".join(b"%s:needle %s\n" % (os.path.join(root, f).encode(), f.encode())
                            for f in ("a", "ok/deeper/z"))
            for t in (1, 2):
                self.assertEqual(self.tool(["-r"], [root], threads=t, prefix=prefix).stdout,
                                 want)
        finally:
            for dirpath, dirnames, filenames in os.walk(top):
                for n in dirnames + filenames:
                    os.chmod(os.path.join(dirpath, n), 0o755)
            shutil.rmtree(top, ignore_errors=True)


@unittest.skipIf(DRIVER_ONLY, "the TSan run covers the driver alone")
class TestTreeMmk(TreeChecks, unittest.TestCase):
    """`mmk grep` over trees."""

    @classmethod
    def setUpClass(cls):
        if not MMK or not os.access(MMK, os.X_OK):
            raise RuntimeError("set MMK to the path of the built mmk binary (got %r)" % MMK)
        super().setUpClass()

    def tool_argv(self, opts, operands, threads=None, prefix=()):
        j = ["-j", str(threads)] if threads else []
        return [*prefix, MMK, "grep", *j, *opts, PAT, *operands]

    def tool(self, opts, operands, threads=None, cwd=None, input=None, prefix=(), stderr=None):
        return run(self.tool_argv(opts, operands, threads, prefix), cwd=cwd, input=input,
                   stderr=stderr or subprocess.PIPE)

    def test_big_file_among_small(self):
        root = os.path.join(self.tmp, "bigmix")
        os.makedirs(root)
        for i in range(30):
            write(os.path.join(root, "s%02d" % i), b"x\nneedle small %d\n" % i)
        chunk = b"".join(b"needle big line %d\n" % i for i in range(20000))
        write(os.path.join(root, "s15b"), chunk * ((9 << 20) // len(chunk) + 1))
        self.assertOrdered(["-r"], [root], threads=(1, 2, 4), runs=2)

    def test_small_file_sizes(self):
        """Small files are read whole into a reused buffer of their worker (up to
        1 MiB; larger ones through the library): sizes around the buffer's first
        size and the limit, empty files, no final newline, in one tree, with the
        options that print numbers and offsets."""
        root = os.path.join(self.tmp, "sizes")
        os.makedirs(root)
        line = b"x" * 40 + b" needle here\n"
        for size in (0, 1, 60, 4095, 4096, 65535, 65536, 65537, (1 << 20) - 1, 1 << 20,
                     (1 << 20) + 1, 2 << 20, 3 << 20):
            body = (line * (size // len(line) + 1))[:size]
            if size % 2:
                body = body[:-1] + b"q" if body else body  # no final newline
            write(os.path.join(root, "f%08d" % size), body)
        write(os.path.join(root, "only-needle"), b"needle")
        for opts in (["-r"], ["-r", "-n"], ["-r", "-b"], ["-r", "-c"], ["-r", "-l"],
                     ["-r", "-L"], ["-r", "-v", "-c"], ["-r", "-m", "3"]):
            self.assertLike(opts, [root])

    def test_small_compressed_files(self):
        """A small compressed file in a tree: a note without -z, its contents with
        -z (as `zcat | grep`), the plain files around it as grep -r."""
        import gzip
        root = os.path.join(self.tmp, "smallz")
        os.makedirs(root)
        plain = b"one needle\ntwo\nthree needle\n"
        write(os.path.join(root, "a.log"), plain)
        write(os.path.join(root, "b.log.gz"), gzip.compress(b"gz needle 1\nnone\ngz needle 2\n"))
        write(os.path.join(root, "c.log"), b"needle c\n")
        res = self.tool(["-r"], [root])
        self.assertEqual(res.returncode, 0, res.stderr)
        a, c = os.path.join(fs(root), b"a.log"), os.path.join(fs(root), b"c.log")
        b = os.path.join(fs(root), b"b.log.gz")
        self.assertEqual(res.stdout, a + b":one needle\n" + a + b":three needle\n" +
                         c + b":needle c\n")
        self.assertEqual(res.stderr, b"mmk: " + b + b": gzip-compressed; use -z (--decompress) "
                         b"to search its contents\n")
        res = self.tool(["-r", "-z", "-n"], [root])
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, a + b":1:one needle\n" + a + b":3:three needle\n" +
                         b + b":1:gz needle 1\n" + b + b":3:gz needle 2\n" +
                         c + b":1:needle c\n")
        self.assertEqual(res.stderr, b"")

    def test_huge_outputs_in_order(self):
        root = os.path.join(self.tmp, "hugeout")
        os.makedirs(root)
        chunk = b"".join(b"needle %06d of a long run of matching lines\n" % i
                         for i in range(1000))
        for i in range(12):
            body = chunk * 80 if i % 4 == 1 else b"needle small %d\n" % i
            write(os.path.join(root, "f%02d" % i), body)  # 3.6 MB: captured, then direct
        self.assertOrdered(["-r"], [root], threads=(2, 4), runs=2)


class TestTreeDriver(TreeChecks, unittest.TestCase):
    """walk_driver: cli/walk.c with a search function of the test's own."""

    @classmethod
    def setUpClass(cls):
        if not DRIVER or not os.access(DRIVER, os.X_OK):
            raise RuntimeError("set MMK_WALK_DRIVER to the built walk_driver (got %r)" % DRIVER)
        super().setUpClass()

    def tool_argv(self, opts, operands, threads=None, prefix=(), extra=("--shuffle",)):
        j = ["-j%d" % threads] if threads else []
        return [*prefix, DRIVER, *extra, *j, *opts, PAT, *operands]

    def tool(self, opts, operands, threads=None, cwd=None, input=None, prefix=(), stderr=None,
             extra=("--shuffle",)):
        return run(self.tool_argv(opts, operands, threads, prefix, extra), cwd=cwd, input=input,
                   stderr=stderr or subprocess.PIPE)

    def test_include_exclude_order(self):
        # GNU grep: the last matching glob decides; a file matching none is
        # skipped when the first glob given was an --include.
        root = self.make_globs()
        for opts in (["--exclude=foo.c", "--include=*.c"], ["--exclude=a*", "--include=*.h"],
                     ["--include=*.h", "--exclude=a*", "--include=a.c"],
                     ["--exclude=*.c", "--include=foo.c", "--exclude=*"]):
            with self.subTest(opts=opts):
                self.assertLike(["-r", *opts], [root])
        # Without positions, the --include globs count as given first.
        ours = self.tool(["--no-positions", "-r", "--exclude=foo.c", "--include=*.c"], [root])
        ref = gnu_grep(["-r", "--include=*.c", "--exclude=foo.c"], [root])
        self.assertEqual(sorted(ours.stdout.splitlines()), sorted(ref.stdout.splitlines()))

    def test_stderr_stays_with_its_file(self):
        want = []
        for path, disp in ref_files([self.many]):
            want.append(b"mmk: %s: before\n" % disp)
            want.append(ref_output([(path, disp)]))
            want.append(b"mmk: %s: after\n" % disp)
        want = b"".join(want)
        for t in (1, 3, 8):
            res = self.tool(["-r"], [self.many], threads=t, stderr=subprocess.STDOUT,
                            extra=("--shuffle", "--stderr"))
            self.assertEqual(res.returncode, 0)
            self.assertEqual(res.stdout, want, "threads %d" % t)

    def huge_tree(self):
        root = os.path.join(self.tmp, "huge")
        if not os.path.isdir(root):
            os.makedirs(root)
            for i in range(40):
                write(os.path.join(root, "f%02d" % i), b"needle %02d\n" % i)
        return root

    def test_huge_output_streams(self):
        # Every file prints its line 20,000 times (~2 MB, ~80 MB in all):
        # the output is in order and the driver's memory stays far below it.
        root = self.huge_tree()
        want = b"".join((b"%s/f%02d:needle %02d\n" % (root.encode(), i, i)) * 20000
                        for i in range(40))
        for t in (2, 4):
            out_path = os.path.join(self.tmp, "huge.out")
            with open(out_path, "wb") as out:
                res = subprocess.run([DRIVER, "--rss", "--repeat=20000", "-j%d" % t, "-r", PAT,
                                      root], stdout=out, stderr=subprocess.PIPE, env=C_ENV)
            with open(out_path, "rb") as f:
                got = f.read()
            os.unlink(out_path)
            self.assertEqual(res.returncode, 0)
            self.assertTrue(got == want, "threads %d: output differs" % t)
            self.assertTrue(res.stderr.startswith(b"mmk: rss:"), res.stderr)
            peak = int(res.stderr[9:])
            # KiB; the sanitizers add shadow memory of their own. Half the ~80 MB
            # output: what a buffer-everything walk could not stay under (a quiet
            # machine measures ~4 MB; a loaded one lets finished output pile up
            # to the walk's 32 MiB pause mark).
            self.assertLess(peak, 40 * 1024 if "san" not in DRIVER else 400 * 1024,
                            "threads %d: peak RSS %d KiB" % (t, peak))

    def test_big_files_and_stdin_alone(self):
        root = os.path.join(self.tmp, "big")
        os.makedirs(root)
        write(os.path.join(root, "a"), b"needle a\n")
        write(os.path.join(root, "b"), b"needle b\n" + b"." * (8 << 20))
        write(os.path.join(root, "c"), b"needle c\n")
        r = root.encode()
        res = self.tool(["-r"], [root], threads=4, extra=("--big",))
        self.assertEqual(res.stdout, b"%s/a:needle a\nbig:%s/b\n%s/b:needle b\n%s/c:needle c\n"
                         % (r, r, r, r))
        # One file, standard input: searched alone, with every core.
        res = self.tool([], [os.path.join(root, "a")], threads=4, extra=("--big",))
        self.assertEqual(res.stdout, b"big:%s/a\nneedle a\n" % r)
        res = self.tool([], ["-", os.path.join(root, "a")], threads=4, input=b"needle in\n",
                        extra=("--big",))
        self.assertEqual(res.stdout, b"big:(standard input)\n(standard input):needle in\n"
                         b"%s/a:needle a\n" % r)
        res = self.tool([], [], input=b"needle stdin\n", extra=("--big",))
        self.assertEqual(res.stdout, b"big:(standard input)\nneedle stdin\n")

    def test_quiet_starts_nothing_after_a_match(self):
        # One file at a time: the first file matches, no other one is started.
        res = self.tool(["-r", "-q"], [self.many], threads=1, extra=("--stderr",))
        first = ref_files([self.many])[0][1]
        self.assertEqual((res.returncode, res.stdout), (0, b""))
        self.assertEqual(res.stderr, b"mmk: %s: before\nmmk: %s: after\n" % (first, first))
        # Several at once: what was started is reported whole, in walk order.
        order = [d for _, d in ref_files([self.many])]
        res = self.tool(["-r", "-q"], [self.many], threads=4, extra=("--stderr",))
        self.assertEqual((res.returncode, res.stdout), (0, b""))
        seen = [line[5:-8] for line in res.stderr.splitlines() if line.endswith(b": before")]
        self.assertLess(len(seen), len(order))
        self.assertEqual(seen, sorted(seen, key=order.index))


if __name__ == "__main__":
    unittest.main()
