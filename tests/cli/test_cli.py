"""End-to-end tests of mmk on small inputs: every subcommand and option, exit
statuses, error messages, inputs that cannot be mapped, JSON and the progress bar."""
import base64
import collections
import errno
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmkcli import C_ENV, LINUX_ONLY, MMK, POSIX_ONLY, SOURCE_DIR, MmkTestCase, mmk  # noqa: E402

TEXT = (b"In the beginning God created the heaven and the earth.\n"
        b"And the LORD said: Let there be light; and the Lord saw it.\n"
        b"LORDS and lords, the LORD of LORDs.\n"
        b"no match on this line\n"
        b"last line without newline: LORD")


def words_reference(data):
    """Python's word frequencies in mmk's order: count descending, word ascending."""
    c = collections.Counter(data.lower().split())
    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))


def words_text(items):
    return b"".join(w + b" " + str(n).encode() + b"\n" for w, n in items)


class TestTopLevel(MmkTestCase):
    def test_version(self):
        with open(os.path.join(SOURCE_DIR, "include", "mmkit.h")) as f:
            version = re.search(r'#define MMK_VERSION_STRING "([^"]+)"', f.read()).group(1)
        res = mmk("--version")
        self.assertEqual((res.returncode, res.stderr), (0, b""))
        lines = res.stdout.split(b"\n")
        self.assertEqual(lines[0], ("mmk %s" % version).encode())
        # then the formats -z decodes in this build, or "none"
        self.assertRegex(lines[1], rb"^decompress:( none| (gzip|zstd|xz|bzip2)( (zstd|xz|bzip2))*)$")
        self.assertEqual(lines[2:], [b""])

    def test_help(self):
        for args in (["--help"], ["-h"], ["help"]):
            res = mmk(*args)
            self.assertRun(res, None)
            for cmd in (b"count", b"grep", b"lines", b"words"):
                self.assertIn(cmd, res.stdout)
        for cmd in ("count", "grep", "lines", "words"):
            for flag in ["--help"] + ([] if cmd == "grep" else ["-h"]):
                res = mmk(cmd, flag)
                self.assertRun(res, None)
                self.assertTrue(res.stdout.startswith(("Usage: mmk %s" % cmd).encode()),
                                res.stdout)
            self.assertEqual(mmk("help", cmd).stdout, mmk(cmd, "--help").stdout)

    def test_usage_errors(self):
        cases = [
            [],
            ["frobnicate"],
            ["--frobnicate"],
            ["help", "frobnicate"],
            ["count"],
            ["grep"],
            ["count", "--bogus", "x"],
            ["count", "-q", "x"],
            ["lines", "--top", "3"],
            ["grep", "--json", "x"],
            ["count", "x", "-j"],
            ["count", "x", "-j", "abc"],
            ["count", "x", "--threads=-1"],
            ["count", "x", "--chunk-size", "0"],
            ["count", "x", "--chunk-size", "12Q"],
            ["words", "--top", "many"],
            ["count", "--json=yes", "x"],
            ["count", "-f"],
            ["count", "-j", "4097", "x"],
            ["grep", "-n"],
        ]
        for args in cases:
            with self.subTest(args=args):
                res = mmk(*args)
                self.assertEqual(res.returncode, 2, res)
                self.assertEqual(res.stdout, b"")
                self.assertTrue(res.stderr.startswith(b"mmk: "), res.stderr)
                self.assertIn(b"--help", res.stderr)

    def test_grep_h_is_no_filename(self):
        a = self.write("a.txt", b"x\n")
        b = self.write("b.txt", b"x\n")
        self.assertRun(mmk("grep", "-h", "x", a, b), b"x\nx\n")


class TestCount(MmkTestCase):
    def setUp(self):
        self.path = self.write("text.txt", TEXT)

    def count(self, *args, **kw):
        res = mmk("count", *args, **kw)
        self.assertEqual(res.stderr, b"")
        return res

    def test_literal_and_regex(self):
        cases = [
            (["LORD"], rb"LORD", 0),
            (["-i", "lord"], rb"lord", re.I),
            (["-w", "LORD"], rb"(?<![A-Za-z0-9_])LORD(?![A-Za-z0-9_])", 0),
            (["-i", "-w", "lord"], rb"(?<![A-Za-z0-9_])lord(?![A-Za-z0-9_])", re.I),
            (["-iw", "lords"], rb"(?<![A-Za-z0-9_])lords(?![A-Za-z0-9_])", re.I),
            (["[A-Z][a-z]+"], rb"[A-Z][a-z]+", 0),
            (["the|and"], rb"the|and", 0),
            (["e*"], rb"e*", 0),
            ([""], rb"", 0),
            (["\\bl\\w+"], rb"\bl\w+", 0),
        ]
        for args, pattern, flags in cases:
            with self.subTest(args=args):
                want = len(re.findall(pattern, TEXT, flags))
                self.assertRun(self.count(*args, self.path), b"%d\n" % want,
                               0 if want else 1)

    def test_fixed_strings(self):
        data = b"a.b axb a.b a.ba.b [x] (y)"
        path = self.write("fixed.txt", data)
        self.assertRun(self.count("-F", "a.b", path), b"%d\n" % data.count(b"a.b"))
        self.assertRun(self.count("a.b", path), b"%d\n" % len(re.findall(rb"a.b", data)))
        self.assertRun(self.count("-F", "[x]", path), b"1\n")
        self.assertRun(self.count("-F", "(y", path), b"1\n")  # not a regex: no error
        self.assertRun(self.count("-F", "-i", "A.B", path), b"%d\n" % data.count(b"a.b"))

    def test_self_overlapping_literal(self):
        data = b"aaaaaaa abababab aaa\n" * 3
        path = self.write("overlap.txt", data)
        for pat in ("aa", "aaa", "abab", "aba"):
            for extra in ([], ["-F"], ["-j", "2", "--chunk-size", "3"], ["--chunk-size", "1"]):
                with self.subTest(pat=pat, extra=extra):
                    want = len(re.findall(re.escape(pat).encode(), data))
                    self.assertRun(self.count(*extra, pat, path), b"%d\n" % want)

    def test_no_match_exit_1(self):
        self.assertRun(self.count("Zerubbabel", self.path), b"0\n", 1)

    def test_several_files(self):
        other = self.write("other.txt", b"LORD LORD\n")
        none = self.write("none.txt", b"nothing\n")
        res = self.count("LORD", self.path, other, none)
        n = TEXT.count(b"LORD")
        self.assertRun(res, b"%s:%d\n%s:2\n%s:0\n" % (self.path.encode(), n, other.encode(),
                                                      none.encode()))
        self.assertRun(self.count("--no-filename", "LORD", self.path, other), b"%d\n2\n" % n)
        self.assertRun(self.count("-H", "LORD", other), b"%s:2\n" % other.encode())

    def test_option_placement_and_double_dash(self):
        data = b"-x -x --y\n"
        path = self.write("dash.txt", data)
        self.assertRun(self.count("--", "-x", path), b"2\n")
        self.assertRun(self.count("-e", "-x", path), b"2\n")
        self.assertRun(self.count("--regexp=--y", path), b"1\n")
        self.assertRun(self.count("x", path, "-j", "2"), b"2\n")  # options after operands
        self.assertRun(self.count("x", "--", path), b"2\n")
        self.assertRun(self.count("x", path, "--threads=1", "--chunk-size=2K"), b"2\n")
        self.assertRun(self.count("-j1", "x", path), b"2\n")

    def test_threads_and_chunks(self):
        data = (TEXT + b"\n") * 200
        path = self.write("big.txt", data)
        want = len(re.findall(rb"LORD", data))
        for extra in (["-j", "1"], ["-j", "2"], ["-j", "0"], ["--chunk-size", "1"],
                      ["-j", "2", "--chunk-size", "5"], ["--mmap"], ["--no-mmap"],
                      ["--no-mmap", "--chunk-size", "100", "-j", "2"]):
            with self.subTest(extra=extra):
                self.assertRun(self.count(*extra, "LORD", path), b"%d\n" % want)

    def test_binary_file(self):
        data = bytes(range(256)) * 50 + b"\x00\x00LORD\xff\xfe\n\x00" * 300
        path = self.write("binary.bin", data)
        for args, pattern in ((["\\x00"], rb"\x00"), (["[\\x80-\\xff]+"], rb"[\x80-\xff]+"),
                              (["LORD"], rb"LORD"), (["-w", "LORD"], rb"\bLORD\b"),
                              (["\\xff\\xfe\\n"], rb"\xff\xfe\n"), (["."], rb".")):
            for extra in ([], ["-j", "2", "--chunk-size", "100"]):
                with self.subTest(args=args, extra=extra):
                    want = len(re.findall(pattern, data))
                    self.assertRun(self.count(*extra, *args, path), b"%d\n" % want)
        self.assertRun(mmk("lines", path), b"%d %s\n" % (data.count(b"\n"), path.encode()))

    def test_empty_file(self):
        empty = self.write("empty.txt", b"")
        self.assertRun(mmk("grep", "x", empty), b"", 1)
        self.assertRun(mmk("grep", "-c", "x", empty), b"0\n", 1)
        self.assertRun(mmk("lines", empty), b"0 %s\n" % empty.encode())
        self.assertRun(self.count("x", empty), b"0\n", 1)
        self.assertRun(self.count("x*", empty), b"1\n", 0)  # Python: one empty match


class TestGrep(MmkTestCase):
    def setUp(self):
        self.path = self.write("text.txt", TEXT)

    def grep(self, *args, **kw):
        """mmk grep and GNU grep (C locale) on the same arguments."""
        mine = mmk("grep", *args, **kw)
        peer_args = args if "-F" in args else ["-P", *args]  # mmk's syntax is Perl's
        peer = subprocess.run(["grep", *peer_args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=C_ENV, input=kw.get("input"))
        return mine, peer

    def test_same_as_grep(self):
        other = self.write("other.txt", b"LORD\n\nnothing\nthe end\n\n")
        for args in (["LORD"], ["-n", "LORD"], ["-i", "lord"], ["-w", "LORD"], ["-c", "LORD"],
                     ["-c", "-i", "the"], ["-F", "LORD"], ["-n", "-i", "-w", "lords?"],
                     ["-H", "LORD"], ["-Hn", "light"], ["-c", "-H", "LORD"],
                     ["-n", "^And"], ["-c", "LORD$"], ["-n", "^$"], ["-n", "^the|end$"],
                     ["-nw", "^LORDS?"]):
            for files in ([self.path], [self.path, other], [self.path, other, "-h"]):
                with self.subTest(args=args, files=files):
                    mine, peer = self.grep(*args, *files)
                    self.assertEqual(peer.stderr, b"")
                    self.assertRun(mine, peer.stdout, peer.returncode)

    def test_no_match(self):
        self.assertRun(mmk("grep", "Zerubbabel", self.path), b"", 1)
        self.assertRun(mmk("grep", "-c", "Zerubbabel", self.path), b"0\n", 1)

    def test_binary_lines_are_printed_as_bytes(self):
        data = b"plain\nbin\x00ary \xff\xfe match\n\x80\x81 no\nmatch\xc3\x28 end"
        path = self.write("binary.bin", data)
        want = b"bin\x00ary \xff\xfe match\nmatch\xc3\x28 end\n"
        self.assertRun(mmk("grep", "match", path), want)
        peer = subprocess.run(["grep", "-a", "match", path], stdout=subprocess.PIPE, env=C_ENV)
        self.assertEqual(peer.stdout, want)
        self.assertRun(mmk("grep", "-n", "-F", "\x7f", path), b"", 1)


class TestLines(MmkTestCase):
    def wc(self, *args, **kw):
        return subprocess.run(["wc", "-l", *args], stdout=subprocess.PIPE, env=C_ENV,
                              **kw).stdout

    def test_same_as_wc(self):
        a = self.write("a.txt", TEXT)
        b = self.write("b.txt", b"\n" * 12345)
        c = self.write("c.txt", b"no newline at all")
        e = self.write("e.txt", b"")
        for files in ([a], [a, b], [a, b, c, e], [e]):
            with self.subTest(files=files):
                self.assertRun(mmk("lines", *files), self.wc(*files))
        with open(b, "rb") as f:
            self.assertRun(mmk("lines", stdin=f), b"12345\n")
        with open(b, "rb") as f:
            self.assertRun(mmk("lines", a, "-", stdin=f), self.wc(a, "-", stdin=open(b, "rb")))

    def test_json(self):
        a = self.write("a.txt", TEXT)
        b = self.write("b.txt", b"\n" * 7)
        res = mmk("lines", "--json", a, b)
        self.assertRun(res, None)
        doc = json.loads(res.stdout)
        self.assertEqual(doc, {"files": [{"path": a, "lines": TEXT.count(b"\n")},
                                         {"path": b, "lines": 7}],
                               "total": TEXT.count(b"\n") + 7})


class TestWords(MmkTestCase):
    def test_same_as_counter(self):
        data = TEXT + b"\n\tTabs\x0bvertical\x0cfeed\rcr The THE the\n" + b"\xff\x00bin \xffBIN"
        path = self.write("w.txt", data)
        ref = words_reference(data)
        self.assertRun(mmk("words", path), words_text(ref))
        self.assertRun(mmk("words", "--top", "3", path), words_text(ref[:3]))
        self.assertRun(mmk("words", "--top", "0", path), b"")
        self.assertRun(mmk("words", "--top", "100000", path), words_text(ref))

    def test_several_files_are_merged(self):
        a = self.write("a.txt", b"one two two three three three\n")
        b = self.write("b.txt", b"THREE Two zero\n")
        ref = words_reference(b"one two two three three three\nTHREE Two zero\n")
        self.assertRun(mmk("words", a, b), words_text(ref))
        self.assertRun(mmk("words", "-j", "2", "--chunk-size", "3", a, b), words_text(ref))

    def test_json(self):
        data = b"caf\xc3\xa9 CAF\xc3\xa9 bad\xff \"quoted\" back\\slash tab\x01\n"
        path = self.write("j.txt", data)
        res = mmk("words", "--json", path)
        self.assertRun(res, None)
        doc = json.loads(res.stdout)
        ref = words_reference(data)
        self.assertEqual(doc["total"], len(data.split()))
        self.assertEqual(doc["distinct"], len(ref))
        self.assertEqual(doc["files"], [{"path": path, "words": len(data.split()),
                                         "distinct": len(ref)}])
        got = []
        for entry in doc["words"]:
            raw = (base64.b64decode(entry["word_base64"]) if "word_base64" in entry
                   else entry["word"].encode())
            if "word_base64" in entry:
                self.assertEqual(entry["word"], raw.decode("utf-8", "replace"))
            got.append((raw, entry["count"]))
        self.assertEqual(got, ref)
        self.assertNotIn("top", doc)  # a whole table has no "top"
        res = mmk("words", "--json", "--top", "1", path)
        cut = json.loads(res.stdout)
        self.assertEqual(len(cut["words"]), 1)
        self.assertEqual(cut["top"], 1)  # a cut table says so (mmk merge refuses it)
        self.assertEqual(list(cut), ["files", "total", "distinct", "top", "words"])

    def test_empty(self):
        e = self.write("e.txt", b"")
        self.assertRun(mmk("words", e), b"")
        self.assertRun(mmk("words", input=b" \n\t "), b"")


class TestInputs(MmkTestCase):
    """Standard input, '-', FIFOs and /proc files: read() instead of a map."""

    def test_stdin_pipe_and_dash(self):
        ref = len(re.findall(rb"LORD", TEXT))
        for args in (["count", "LORD"], ["count", "LORD", "-"]):
            self.assertRun(mmk(*args, input=TEXT), b"%d\n" % ref)
        self.assertRun(mmk("count", "--mmap", "LORD", input=TEXT), b"%d\n" % ref)
        self.assertRun(mmk("lines", input=TEXT), b"%d\n" % TEXT.count(b"\n"))
        self.assertRun(mmk("lines", "-", input=TEXT), b"%d -\n" % TEXT.count(b"\n"))
        self.assertRun(mmk("words", "-", input=TEXT), words_text(words_reference(TEXT)))
        self.assertRun(mmk("grep", "-c", "LORD", input=TEXT), b"3\n")
        self.assertRun(mmk("grep", "-H", "-n", "light", input=TEXT),
                       b"(standard input):2:And the LORD said: Let there be light; "
                       b"and the Lord saw it.\n")
        path = self.write("f.txt", TEXT)
        self.assertRun(mmk("count", "LORD", path, "-", input=TEXT),
                       b"%s:%d\n(standard input):%d\n" % (path.encode(), ref, ref))

    def test_stdin_regular_file(self):
        path = self.write("f.txt", TEXT * 3)
        for io in ("--mmap", "--no-mmap"):
            with open(path, "rb") as f:
                self.assertRun(mmk("count", io, "LORD", stdin=f),
                               b"%d\n" % (3 * TEXT.count(b"LORD")))

    def test_no_cache(self):
        """--no-cache is taken by every subcommand, changes no output, is
        ignored on standard input and pipes, and (Linux, not tmpfs: fincore)
        leaves the file's pages out of the page cache."""
        data = TEXT * 2000
        path = self.write("f.txt", data)
        with open(path, "rb") as f:
            os.fsync(f.fileno())  # clean pages can be dropped
        runs = [("count", "LORD"), ("count", "-w", "-i", "lord"), ("count", r"\bL\w+"),
                ("grep", "-c", "LORD"), ("grep", "-n", "light"), ("lines",), ("words",),
                ("words", "--top", "3"), ("count", "--by", "0", "L[A-Z]+")]
        for args in runs:
            want = mmk(*args, path)
            self.assertEqual(want.returncode, 0, args)
            for io in ([], ["--mmap"], ["--no-mmap"]):
                self.assertRun(mmk(*args, "--no-cache", *io, path), want.stdout)
            with open(path, "rb") as f:
                self.assertRun(mmk(*args, "--no-cache", "-", stdin=f),
                               mmk(*args, "-", input=data).stdout)
            self.assertRun(mmk(*args, "--no-cache", input=data), mmk(*args, input=data).stdout)
        fincore = shutil.which("fincore")
        on_tmpfs = subprocess.run(["stat", "-f", "-c", "%T", self.tmp], capture_output=True,
                                  text=True).stdout.strip() == "tmpfs"
        if sys.platform.startswith("linux") and fincore and not on_tmpfs:
            def cached():
                r = subprocess.run([fincore, "--bytes", "--noheadings", "--output", "RES", path],
                                   capture_output=True, text=True)
                return int(r.stdout.split()[0])
            for args in runs:
                with open(path, "rb") as f:
                    f.read()
                self.assertGreater(cached(), 0)
                self.assertEqual(mmk(*args, "--no-cache", path).returncode, 0)
                self.assertEqual(cached(), 0, args)

    def test_fifo(self):
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        data = TEXT * 1000

        def writer():
            with open(fifo, "wb") as f:
                f.write(data)

        for args, want in ((["lines"], b"%d %s\n" % (data.count(b"\n"), fifo.encode())),
                           (["count", "-j", "2", "LORD"], b"%d\n" % data.count(b"LORD")),
                           (["count", "--mmap", "LORD"], b"%d\n" % data.count(b"LORD"))):
            with self.subTest(args=args):
                t = threading.Thread(target=writer)
                t.start()
                res = mmk(*args, fifo)
                t.join()
                self.assertRun(res, want)

    @unittest.skipIf(POSIX_ONLY, LINUX_ONLY)
    def test_proc_file(self):
        wc = subprocess.run(["wc", "-l", "/proc/self/status"], stdout=subprocess.PIPE)
        self.assertRun(mmk("lines", "/proc/self/status"), wc.stdout)
        self.assertGreater(int(wc.stdout.split()[0]), 5)
        res = mmk("grep", "-c", "^Name:", "/proc/self/status")
        self.assertRun(res, b"1\n")
        res = mmk("count", "--mmap", "(?m)^Pid:", "/proc/self/status")
        self.assertRun(res, b"1\n")


class TestErrors(MmkTestCase):
    def test_missing_file(self):
        missing = os.path.join(self.tmp, "missing.txt")
        for args in (["count", "x"], ["grep", "x"], ["lines"], ["words"]):
            with self.subTest(args=args):
                self.assertRun(mmk(*args, missing), b"", 2,
                               b"mmk: %s: No such file or directory\n" % missing.encode())

    def test_directory(self):
        # count and grep search a directory operand recursively (tests/cli/test_tree.py).
        for args in (["lines"], ["words"]):
            with self.subTest(args=args):
                self.assertRun(mmk(*args, self.tmp), b"", 2,
                               b"mmk: %s: Is a directory\n" % self.tmp.encode())

    def test_several_files_one_missing(self):
        a = self.write("a.txt", b"x x\n")
        b = self.write("b.txt", b"x\n")
        missing = os.path.join(self.tmp, "nope")
        err = b"mmk: %s: No such file or directory\n" % missing.encode()
        self.assertRun(mmk("count", "x", a, missing, b),
                       b"%s:2\n%s:1\n" % (a.encode(), b.encode()), 2, err)
        self.assertRun(mmk("grep", "x", a, missing, b),
                       b"%s:x x\n%s:x\n" % (a.encode(), b.encode()), 2, err)
        res = mmk("lines", a, missing, b)
        self.assertRun(res, b"1 %s\n1 %s\n2 total\n" % (a.encode(), b.encode()), 2, err)
        self.assertRun(mmk("words", a, missing, b), b"x 3\n", 2, err)
        # Nothing matched anywhere, and an error: still 2.
        self.assertRun(mmk("count", "zzz", a, missing), b"%s:0\n" % a.encode(), 2, err)

    def test_json_with_error(self):
        a = self.write("a.txt", b"x x\n")
        missing = os.path.join(self.tmp, "nope")
        res = mmk("count", "--json", "x", a, missing)
        self.assertEqual(res.returncode, 2)
        doc = json.loads(res.stdout)
        self.assertEqual(doc["total"], 2)
        self.assertEqual(doc["files"][0], {"path": a, "count": 2})
        self.assertEqual(doc["files"][1]["path"], missing)
        self.assertEqual(doc["files"][1]["errname"], "ENOENT")
        self.assertEqual(doc["files"][1]["error"].lower(), "no such file or directory")

    def test_invalid_pattern(self):
        path = self.write("a.txt", b"abc\n")
        for cmd in ("count", "grep"):
            for pat, offset in (("a(", 2), ("[z-a]", 3), ("x{2,1}", 5), ("(?<=a+)b", None)):
                with self.subTest(cmd=cmd, pat=pat):
                    res = mmk(cmd, pat, path)
                    self.assertEqual(res.returncode, 2)
                    self.assertEqual(res.stdout, b"")
                    m = re.fullmatch(rb"mmk: invalid pattern '(.*)': (.+) at offset (\d+)\n",
                                     res.stderr)
                    self.assertTrue(m, res.stderr)
                    self.assertEqual(m.group(1), pat.encode())
                    if offset is not None:
                        self.assertEqual(int(m.group(3)), offset)

    def test_permission_denied(self):
        if os.geteuid() != 0:
            d = tempfile.mkdtemp(dir=self.tmp)
            drop = None
        else:
            # As root, permission checks are bypassed: run mmk as nobody, from a
            # directory nobody may enter, with a copy of the binary nobody may run.
            d = tempfile.mkdtemp(prefix="mmk-perm-")
            os.chmod(d, 0o755)
            drop = lambda: os.setuid(65534)  # noqa: E731
        try:
            binary = os.path.join(d, "mmk")
            shutil.copy(MMK, binary)
            os.chmod(binary, 0o755)
            secret = os.path.join(d, "secret.txt")
            ok = os.path.join(d, "ok.txt")
            for p, mode in ((secret, 0o000), (ok, 0o644)):
                with open(p, "wb") as f:
                    f.write(b"x\n")
                os.chmod(p, mode)
            probe = subprocess.run([binary, "--version"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, preexec_fn=drop)
            if probe.returncode != 0:
                self.skipTest("cannot run mmk as an unprivileged user here: %r" % probe.stderr)
            err = b"mmk: %s: Permission denied\n" % secret.encode()
            for args, out in ((["count", "x"], b"%s:1\n" % ok.encode()),
                              (["lines"], b"1 %s\n1 total\n" % ok.encode()),
                              (["grep", "x"], b"%s:x\n" % ok.encode()),
                              (["words"], b"x 1\n")):
                with self.subTest(args=args):
                    res = subprocess.run([binary, *args, secret, ok], stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, preexec_fn=drop)
                    self.assertRun(res, out, 2, err)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_write_error(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full on this system")
        path = self.write("a.txt", b"x\n")
        with open("/dev/full", "wb") as full:
            res = subprocess.run([MMK, "count", "x", path], stdout=full, stderr=subprocess.PIPE)
        self.assertEqual(res.returncode, 2)
        self.assertEqual(res.stderr.lower(), b"mmk: write error: no space left on device\n")
        # A large output fails at the first full buffer, and is reported once.
        big = self.write("big.txt", b"x marks the spot\n" * 100000)
        for args in (["grep", "x"], ["words"], ["lines"]):
            with open("/dev/full", "wb") as full:
                res = subprocess.run([MMK, *args, big, big], stdout=full, stderr=subprocess.PIPE)
            self.assertEqual(res.returncode, 2, args)
            self.assertEqual(res.stderr.lower(), b"mmk: write error: no space left on device\n")

    def test_broken_pipe_is_quiet(self):
        # Outputs far larger than a pipe buffer.
        path = self.write("big.txt", b"a line that matches\n" * 200000)
        many = self.write("many.txt", b"".join(b"word%d\n" % i for i in range(200000)))
        for args in (["grep", "matches", path], ["grep", "-n", "a", path], ["words", many],
                     ["count", "w"] + [self.write("w.txt", b"w\n")] * 5000):
            with self.subTest(args=args[:4]):
                p = subprocess.Popen([MMK, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
                first = p.stdout.readline()
                p.stdout.close()  # the reader goes away, as `| head -1`
                err = p.stderr.read()
                p.stderr.close()
                status = p.wait(timeout=30)
                self.assertTrue(first)
                self.assertEqual(err, b"")
                self.assertEqual(status, 0)


class TestJson(MmkTestCase):
    def test_count_schema(self):
        a = self.write("a.txt", b"LORD LORD\n")
        b = self.write("b.txt", b"lord\n")
        res = mmk("count", "--json", "-i", "lord", a, b)
        self.assertRun(res, None)
        self.assertEqual(json.loads(res.stdout),
                         {"pattern": "lord", "files": [{"path": a, "count": 2},
                                                       {"path": b, "count": 1}], "total": 3})
        res = mmk("count", "--json", "zzz", a)
        self.assertRun(res, None, 1)
        self.assertEqual(json.loads(res.stdout)["total"], 0)
        res = mmk("count", "--json", "o", input=b"foo")
        self.assertEqual(json.loads(res.stdout), {"pattern": "o", "files": [
            {"path": "-", "count": 2}], "total": 2})

    def test_awkward_paths(self):
        names = [b'quote"back\\slash', b"new\nline\ttab", b"bad\xffutf8", "caf\u00e9".encode()]
        paths = []
        for name in names:
            p = os.path.join(os.fsencode(self.tmp), name)
            with open(p, "wb") as f:
                f.write(b"x\n")
            paths.append(p)
        for cmd in (["count", "x"], ["lines"]):
            with self.subTest(cmd=cmd):
                res = mmk(*cmd, "--json", *paths)
                self.assertRun(res, None)
                doc = json.loads(res.stdout)
                for entry, raw in zip(doc["files"], paths):
                    if "path_base64" in entry:
                        self.assertEqual(base64.b64decode(entry["path_base64"]), raw)
                        self.assertEqual(entry["path"], raw.decode("utf-8", "replace"))
                    else:
                        self.assertEqual(entry["path"].encode(), raw)
                self.assertEqual(["path_base64" in e for e in doc["files"]],
                                 [False, False, True, False])


class TestProgress(MmkTestCase):
    """The bar goes to standard error only when it is a terminal."""

    def run_with_pty(self, *args, env=None):
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([MMK, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=slave, env=env)
            os.close(slave)
            slave = -1
            out = p.stdout.read()
            p.wait(timeout=60)
            return p.returncode, out, self.drain(master)
        finally:
            os.close(master)
            if slave >= 0:
                os.close(slave)

    @staticmethod
    def drain(master):
        """Everything written to the terminal, once its other side is closed."""
        err = b""
        while True:
            ready, _, _ = select.select([master], [], [], 5)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError as e:  # EIO: the terminal's other side is closed
                if e.errno != errno.EIO:
                    raise
                break
            if not chunk:
                break
            err += chunk
        return err

    def setUp(self):
        self.data = TEXT * 2000
        self.path = self.write("p.txt", self.data)
        self.want = b"%d\n" % self.data.count(b"LORD")
        self.env = dict(os.environ, MMK_PROGRESS_THRESHOLD="0", TERM="xterm")

    def test_absent_when_not_a_terminal(self):
        self.assertRun(mmk("count", "LORD", self.path, env=self.env), self.want)
        self.assertRun(mmk("lines", self.path, env=self.env), None)

    def test_present_on_a_terminal(self):
        for args in (["count", "LORD"], ["lines"], ["words", "--top", "1"], ["grep", "-c", "L"]):
            with self.subTest(args=args):
                status, out, err = self.run_with_pty(*args, self.path, env=self.env)
                self.assertEqual(status, 0)
                if args[0] == "count":
                    self.assertEqual(out, self.want)
                self.assertIn(b"%", err)
                self.assertIn(os.path.basename(self.path).encode(), err)
                # Erased at the end: the line is cleared and nothing follows.
                self.assertTrue(err.endswith(b"\r\x1b[K"), err[-80:])

    def test_slow_pipe_shows_bytes_read(self):
        # No size is known for a pipe; the bar appears once the work has
        # taken half a second (the writer below needs more than a second),
        # showing the bytes read so far.
        r, w = os.pipe()

        def writer():
            with os.fdopen(w, "wb") as f:
                for _ in range(12):
                    f.write(TEXT * 100)
                    f.flush()
                    time.sleep(0.1)

        t = threading.Thread(target=writer)
        env = dict(os.environ)
        env.pop("MMK_PROGRESS_THRESHOLD", None)
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([MMK, "lines"], stdin=r, stdout=subprocess.PIPE, stderr=slave,
                                 env=env)
            os.close(r)
            os.close(slave)
            slave = -1
            t.start()
            out = p.stdout.read()
            p.wait(timeout=60)
            t.join()
            err = self.drain(master)
        finally:
            os.close(master)
            if slave >= 0:
                os.close(slave)
        self.assertEqual((p.returncode, out), (0, b"%d\n" % (12 * 100 * TEXT.count(b"\n"))))
        self.assertIn(b" read ", err)
        self.assertNotIn(b"%", err)
        self.assertTrue(err.endswith(b"\r\x1b[K"), err[-80:])

    def test_absent_on_a_dumb_terminal(self):
        # TERM=dumb cannot erase a line: no bar, as with --no-progress.
        env = dict(self.env, TERM="dumb")
        status, out, err = self.run_with_pty("count", "LORD", self.path, env=env)
        self.assertEqual((status, out, err), (0, self.want, b""))

    def test_no_progress_option(self):
        status, out, err = self.run_with_pty("count", "--no-progress", "LORD", self.path,
                                             env=self.env)
        self.assertEqual((status, out, err), (0, self.want, b""))

    def test_small_fast_input_has_no_bar(self):
        env = dict(os.environ)
        env.pop("MMK_PROGRESS_THRESHOLD", None)
        status, out, err = self.run_with_pty("count", "LORD", self.path, env=env)
        self.assertEqual((status, out, err), (0, self.want, b""))

    def test_errors_stay_clean(self):
        missing = os.path.join(self.tmp, "missing")
        status, out, err = self.run_with_pty("count", "LORD", self.path, missing, env=self.env)
        self.assertEqual(status, 2)
        self.assertIn(b"mmk: %s: no such file or directory" % missing.encode(), err.lower())
        # The message starts on a clean line: the bar was erased before it.
        before = err.split(b"mmk: " + missing.encode())[0]
        self.assertTrue(before == b"" or before.endswith(b"\r\x1b[K"), before[-80:])


def run_with_pty_stdout(args, env):
    """Run mmk with standard output on a terminal; returns (status, what it printed)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([MMK, *args], stdin=subprocess.DEVNULL, stdout=slave,
                             stderr=subprocess.PIPE, env=env)
        os.close(slave)
        slave = -1
        out = TestProgress.drain(master)
        p.wait(timeout=60)
        return p.returncode, out
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


class TestGrepOptions(MmkTestCase):
    """grep's options that the differential test (test_grep_options.py) does not cover:
    usage errors, help texts, --color=auto, -z notes, --label, -s, -q after errors."""

    def setUp(self):
        self.path = self.write("text.txt", TEXT)

    def test_usage_errors(self):
        pats = self.write("pats", b"LORD\n")
        cases = [
            ["-m", "x", "LORD"], ["-m", "-1", "LORD"], ["--max-count=", "LORD"],
            ["-A", "x", "LORD"], ["-B", "-2", "LORD"], ["--context=many", "LORD"],
            ["--color=sometimes", "LORD"], ["--colour=yes please", "LORD"],
            ["-f", os.path.join(self.tmp, "missing-patterns")],
            ["-G", "LORD"], ["--basic-regexp", "LORD"], ["--time-format=unix", "LORD"],
            ["--follow", "LORD", "-"], ["--follow", "LORD", self.path, self.path],
            ["--follow", "-z", "LORD", self.path], ["--by", "1", "LORD"], ["--json", "LORD"],
            ["--null=1", "LORD"],
        ]
        for args in cases + [["-f"], ["--label"], ["--include"], ["-e"]]:
            with self.subTest(args=args):
                res = mmk("grep", *args, *([self.path] if args in cases else []))
                self.assertEqual(res.returncode, 2, res)
                self.assertEqual(res.stdout, b"")
                self.assertTrue(res.stderr.startswith(b"mmk: "), res.stderr)
        # Usage errors name the fix; a missing -f file names the file.
        self.assertIn(b"--help", mmk("grep", "-m", "x", "L", self.path).stderr)
        res = mmk("grep", "-f", os.path.join(self.tmp, "missing-patterns"), self.path)
        self.assertIn(b"missing-patterns: no such file", res.stderr.lower())
        self.assertRun(mmk("grep", "-f", pats, self.path), None, 0)
        for args in (["--by", "x", "L"], ["--top", "3", "L"], ["--by", "2", "(L)"],
                     ["--by", "nosuch", "(?<name>L)"], ["--by", "", "L"]):
            with self.subTest(args=args):
                res = mmk("count", *args, self.path)
                self.assertEqual((res.returncode, res.stdout), (2, b""), res)
                self.assertTrue(res.stderr.startswith(b"mmk: "), res.stderr)

    GREP_LONG = ["regexp", "file", "fixed-strings", "ignore-case", "word-regexp", "line-regexp",
                 "extended-regexp", "perl-regexp", "invert-match", "only-matching", "count",
                 "files-with-matches", "files-without-match", "quiet", "silent", "max-count",
                 "no-messages", "line-number", "byte-offset", "with-filename", "no-filename",
                 "label", "null", "after-context", "before-context", "context", "color",
                 "colour", "line-buffered", "text", "decompress", "follow", "since", "until",
                 "time-format", "recursive", "dereference-recursive", "include", "exclude",
                 "exclude-dir", "threads", "mmap", "no-mmap", "no-cache", "chunk-size", "no-progress",
                 "help"]
    COUNT_LONG = ["fixed-strings", "ignore-case", "word-regexp", "regexp", "file", "by", "top", "json",
                  "with-filename", "no-filename", "no-messages", "decompress", "since", "until",
                  "time-format", "recursive", "include", "exclude", "exclude-dir", "threads",
                  "mmap", "no-mmap", "no-cache", "chunk-size", "no-progress", "help"]

    def test_help_lists_every_option(self):
        grep_help = mmk("grep", "--help").stdout
        for name in self.GREP_LONG:
            self.assertIn(b"--" + name.encode(), grep_help)
        # Each of them is accepted (help stops parsing only when reached).
        for short in b"efFiywxEPvoclLqsmnbHhZABCaz":
            self.assertIn(b"-" + bytes([short]) + b",", grep_help + b" -y, -s,")
        self.assertIn(b"ripgrep", grep_help)  # -z is ripgrep's, said so
        count_help = mmk("count", "--help").stdout
        for name in self.COUNT_LONG:
            self.assertIn(b"--" + name.encode(), count_help)

    def test_color_auto_needs_a_capable_terminal(self):
        base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GREP_COLORS")}
        colored = b"\x1b[01;31m\x1b[KLORD\x1b[m\x1b[K"
        for env, args, want in (
                (dict(base, TERM="xterm"), ["--color=auto"], True),
                (dict(base, TERM="xterm"), ["--color"], True),
                (dict(base, TERM="xterm"), [], False),
                (dict(base, TERM="dumb"), ["--color=auto"], False),
                (dict(base, TERM="xterm", NO_COLOR="1"), ["--colour=auto"], False),
                (dict(base, TERM="xterm", NO_COLOR="1"), ["--color=always"], True),
                (dict(base, TERM="xterm"), ["--color=never"], False)):
            with self.subTest(env=(env.get("TERM"), env.get("NO_COLOR")), args=args):
                status, out = run_with_pty_stdout(["grep", *args, "LORD", self.path], env)
                self.assertEqual(status, 0)
                self.assertEqual(colored in out, want, out)
        # Not a terminal: auto is plain.
        res = mmk("grep", "--color=auto", "LORD", self.path, env=dict(base, TERM="xterm"))
        self.assertNotIn(b"\x1b", res.stdout)

    def test_grep_colors(self):
        env = dict(os.environ, GREP_COLORS="ms=04;32:fn=01:ne", LC_ALL="C")
        res = mmk("grep", "--color=always", "-H", "light", self.path, env=env)
        peer = subprocess.run(["grep", "--color=always", "-H", "light", self.path],
                              stdout=subprocess.PIPE, env=env)
        self.assertRun(res, peer.stdout)
        self.assertIn(b"\x1b[04;32mlight\x1b[m", res.stdout)

    def test_count_with_several_patterns(self):
        pats = self.write("count-pats", b"LORD\nlight\n")
        want = b"%d\n" % len(re.findall(rb"LORD|light", TEXT))
        self.assertRun(mmk("count", "-e", "LORD", "-e", "light", self.path), want)
        self.assertRun(mmk("count", "-f", pats, self.path), want)

    def test_label_and_quiet_errors(self):
        missing = os.path.join(self.tmp, "missing")
        res = mmk("grep", "-H", "--label=stdin.txt", "LORD", "-", input=b"the LORD\n")
        self.assertRun(res, b"stdin.txt:the LORD\n")
        # -s: no message about the missing file, status still 2.
        self.assertRun(mmk("grep", "-s", "LORD", missing, self.path), None, 2, b"")
        # -q: a selected line wins over errors, before or after it.
        self.assertRun(mmk("grep", "-q", "LORD", missing, self.path), b"", 0, None)
        self.assertRun(mmk("grep", "-q", "LORD", self.path, missing), b"", 0, None)
        self.assertRun(mmk("grep", "-q", "nothing", self.path, missing), b"", 2, None)

    def test_compressed_file_without_z(self):
        import gzip
        gz = self.write("log.gz", gzip.compress(TEXT))
        res = mmk("grep", "LORD", gz)
        self.assertEqual((res.returncode, res.stdout), (1, b""))
        self.assertEqual(res.stderr, b"mmk: %s: gzip-compressed; use -z (--decompress) to search "
                         b"its contents\n" % gz.encode())
        # The other files are still searched; -s silences the note.
        res = mmk("grep", "-s", "-c", "LORD", gz, self.path)
        self.assertRun(res, b"%s:3\n" % self.path.encode(), 0)


def clf_log(n, start=8 * 3600, step=7, extra_every=0):
    """A common-log-format access log, one line every `step` seconds from `start`;
    every extra_every-th line is followed by a line without a timestamp."""
    lines = []
    for i in range(n):
        t = start + i * step
        lines.append(b'10.0.0.%d - - [30/Nov/2026:%02d:%02d:%02d +0000] "GET /p/%d HTTP/1.1" %d %d' % (
            i % 7, t // 3600, t // 60 % 60, t % 60, i, (200, 404, 500, 200)[i % 4], i * 3))
        if extra_every and i % extra_every == 0:
            lines.append(b"  continuation of request %d" % i)
    return b"\n".join(lines) + b"\n"


class TestCountBy(MmkTestCase):
    """count --by equals grep -oP ... | sort | uniq -c | sort -rn (ties in byte order)."""

    def setUp(self):
        self.a = self.write("a.log", clf_log(3000))
        self.b = self.write("b.log", clf_log(500, extra_every=3))

    def reference(self, pattern, group, paths, flags=0):
        counts = collections.Counter()
        for path in paths:
            with open(path, "rb") as f:
                for line in f.read().split(b"\n"):
                    # Python spells a named group (?P<name>...).
                    py = pattern.replace("(?<", "(?P<").encode()
                    for m in re.finditer(py, line, flags):
                        if m.end() > m.start() and m.group(group) is not None:
                            counts[m.group(group)] += 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    @staticmethod
    def uniq_c(items):
        return b"".join(b"%7d %s\n" % (n, v) for v, n in items)

    def test_groups_numbers_and_names(self):
        for pattern, by, group in ((r'" (\d{3}) ', "1", 1), (r"^\S+", "0", 0),
                                   (r"(?<ip>^\S+) - - \[(?<day>[^:]+)", "ip", 1),
                                   (r"(?<ip>^\S+) - - \[(?<day>[^:]+)", "day", 2),
                                   (r"GET (/p/)(\d)", "2", 2)):
            with self.subTest(pattern=pattern, by=by):
                want = self.reference(pattern, group, [self.a, self.b])
                self.assertRun(mmk("count", "--by", by, pattern, self.a, self.b), self.uniq_c(want))
                self.assertRun(mmk("count", "--by", by, "--top", "2", pattern, self.a, self.b),
                               self.uniq_c(want[:2]))

    def test_same_as_grep_o_sort_uniq_c(self):
        grep = subprocess.run("grep -ohP '\\d{3}(?= \\d+$)' %s %s | sort | uniq -c | sort -rn"
                              % (self.a, self.b), shell=True, stdout=subprocess.PIPE,
                              env=C_ENV).stdout
        mine = mmk("count", "--by", "0", r"\d{3}(?= \d+$)", self.a, self.b)
        self.assertEqual(mine.returncode, 0)

        def norm(out):
            rows = [(int(l[:7]), l[8:]) for l in out.splitlines()]
            return sorted(rows, key=lambda r: (-r[0], r[1]))
        self.assertEqual(norm(mine.stdout), norm(grep))
        self.assertEqual(mine.stdout, self.uniq_c([(v, n) for n, v in norm(grep)]))

    def test_json_and_no_match(self):
        want = self.reference(r'" (\d{3}) ', 1, [self.a])
        res = mmk("count", "--by", "1", "--json", r'" (\d{3}) ', self.a)
        self.assertEqual(res.returncode, 0, res)
        doc = json.loads(res.stdout)
        self.assertEqual(doc["total"], sum(n for _, n in want))
        self.assertEqual(doc["distinct"], len(want))
        self.assertEqual([(v["value"].encode(), v["count"]) for v in doc["values"]], want)
        self.assertNotIn("top", doc)
        cut = json.loads(mmk("count", "--by", "1", "--json", "--top", "1", r'" (\d{3}) ',
                             self.a).stdout)
        self.assertEqual((cut["top"], cut["distinct"], len(cut["values"])), (1, len(want), 1))
        self.assertRun(mmk("count", "--by", "1", "(nothing)", self.a), b"", 1)


class TestTimeRange(MmkTestCase):
    """--since/--until select the lines of a time window, numbered as in the file."""

    def setUp(self):
        self.data = clf_log(5000, extra_every=10)
        self.path = self.write("access.log", self.data)

    def reference(self, since, until):
        """Lines (1-based number, offset, bytes) with since <= t < until, where a line
        without a timestamp takes the time of the line before."""
        out, t, off = [], None, 0
        for i, line in enumerate(self.data.split(b"\n")[:-1]):
            m = re.search(rb"\[30/Nov/2026:(\d\d):(\d\d):(\d\d)", line)
            if m:
                t = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
            if t is not None and since <= t < until:
                out.append((i + 1, off, line))
            off += len(line) + 1
        return out

    def test_window_with_numbers_and_offsets(self):
        for since, until in (("2026-11-30T09:00:00", "2026-11-30T09:30:00"),
                             ("30/Nov/2026:08:00:00 +0000", "2026-11-30T08:00:07"),
                             ("2026-11-30T17:00", None), (None, "2026-11-30T08:10")):
            def secs(s):
                if s is None:
                    return None
                m = re.search(r"(\d\d):(\d\d)(?::(\d\d))?", s.split("T")[-1] if "T" in s
                              else s.split(":", 1)[1])
                return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0)
            want = self.reference(secs(since) if since else -1, secs(until) if until else 1 << 40)
            args = (["--since", since] if since else []) + (["--until", until] if until else [])
            with self.subTest(args=args):
                self.assertRun(mmk("grep", "-n", "-b", *args, "", self.path),
                               b"".join(b"%d:%d:%s\n" % w for w in want), 0 if want else 1)
                n404 = sum(1 for w in want if b'" 404 ' in w[2])
                self.assertRun(mmk("grep", "-c", *args, '" 404 ', self.path), b"%d\n" % n404,
                               0 if n404 else 1)

    def test_errors(self):
        res = mmk("grep", "--since", "2026-11-30", "x", input=self.data)
        self.assertEqual(res.returncode, 2)
        self.assertIn(b"regular file", res.stderr)
        plain = self.write("plain.txt", b"no time here\nnor here\n")
        res = mmk("grep", "--since", "2026-11-30", "here", plain)
        self.assertEqual((res.returncode, res.stdout), (2, b""))
        self.assertIn(b"no line carries a timestamp", res.stderr)
        res = mmk("grep", "--since", "yesterday", "x", self.path)
        self.assertEqual(res.returncode, 2)
        self.assertIn(b"invalid time", res.stderr)

    def test_out_of_order_warns_once(self):
        lines = self.data.split(b"\n")[:-1]
        shuffled = b"\n".join(lines[::-1]) + b"\n"  # newest first
        path = self.write("shuffled.log", shuffled)
        res = mmk("grep", "-c", "--since", "2026-11-30T08:30", "GET", path, path)
        self.assertEqual(res.stderr.count(b"not in time order"), 1, res.stderr)


class TestDecompress(MmkTestCase):
    """-z: results equal zcat FILE | grep ..."""

    def setUp(self):
        import bz2
        import gzip
        import lzma
        # The decoders are optional at build time: mmk --version lists this build's.
        out = mmk("--version").stdout.split(b"\n")
        line = next((l for l in out if l.startswith(b"decompress:")), None)
        self.assertIsNotNone(line, "mmk --version names no decompress: line")
        self.decoders = set(line.split()[1:]) - {b"none"}
        self.data = clf_log(4000, extra_every=5)
        self.files = {"plain": self.write("a.log", self.data)}
        for kind, name, make in (("gz", b"gzip", gzip.compress), ("bz2", b"bzip2", bz2.compress),
                                 ("xz", b"xz", lzma.compress)):
            if name in self.decoders:
                self.files[kind] = self.write("a.log." + kind, make(self.data))
        if b"zstd" in self.decoders and shutil.which("zstd"):
            subprocess.run(["zstd", "-q", "-f", self.files["plain"], "-o",
                            os.path.join(self.tmp, "a.log.zst")], check=True)
            self.files["zst"] = os.path.join(self.tmp, "a.log.zst")

    def need(self, name):
        if name not in self.decoders:
            self.skipTest("mmk built without %s support (mmk --version)" % name.decode())

    def test_unsupported_format_named(self):
        # A format this build cannot decode is an error naming it, never a silent pass-through.
        import bz2
        import gzip
        import lzma
        missing = [(n, m) for n, m in ((b"gzip", gzip.compress), (b"bzip2", bz2.compress),
                                       (b"xz", lzma.compress)) if n not in self.decoders]
        if not missing:
            self.skipTest("mmk decodes gzip, bzip2 and xz in this build")
        for name, make in missing:
            with self.subTest(format=name):
                path = self.write("u.log." + name.decode(), make(self.data))
                res = mmk("grep", "-z", "-c", "GET", path)
                self.assertEqual(res.returncode, 2)
                self.assertIn(b"without " + name, res.stderr)

    def test_same_as_zcat_grep(self):
        # every format this build decodes (and plain text); test_unsupported_format_named covers the rest
        for args in (["-n", "404"], ["-c", "GET /p/1"], ["-o", "-b", r"\d{3} \d+$"],
                     ["-v", "-c", "GET"]):
            peer = subprocess.run(["grep", "-P", "-a", *args], input=self.data,
                                  stdout=subprocess.PIPE, env=C_ENV)
            for kind, path in self.files.items():
                with self.subTest(args=args, kind=kind):
                    self.assertRun(mmk("grep", "-z", *args, path), peer.stdout, peer.returncode)
            if "gz" in self.files:
                with open(self.files["gz"], "rb") as f:
                    self.assertRun(mmk("grep", "-z", *args, stdin=f), peer.stdout,
                                   peer.returncode)
        if "xz" in self.files:
            self.assertRun(mmk("count", "-z", "404", self.files["xz"]),
                           b"%d\n" % self.data.count(b"404"))

    def test_corrupt(self):
        self.need(b"gzip")
        import gzip
        bad = gzip.compress(self.data)
        path = self.write("bad.gz", bad[: len(bad) // 2])
        res = mmk("grep", "-z", "-c", "GET", path)
        self.assertEqual(res.returncode, 2)
        self.assertIn(b"bad.gz", res.stderr)


if __name__ == "__main__":
    unittest.main()
