"""mmk grep is line-oriented, streams in bounded memory, and reads files whose
size lies (issue 7).

- Selected lines equal GNU `grep -P -a` (C locale) for random and adversarial
  lines and patterns: classes, \\s, \\n, [^x], anchors, lookaround, \\A \\z,
  empty matches, -i, -w, -F; with forced tiny chunks and 1-3 threads.
- Pipes are read in bounded memory (peak RSS of the child), a line written
  into a pipe comes out before the writer closes it (--line-buffered), and a
  sparse file of some GB with one short line at the end is searched in
  bounded memory.
- /proc and /sys files (size 0 or 4096 whatever they hold) are read to their
  real end by every subcommand, with and without --mmap; a file that shrinks
  during a --no-mmap scan is reported as such, never as a map problem.
- The backtracking limit is reported with the pattern and the byte offset.
"""
import os
import random
import re
import select
import shutil
import subprocess
import sys
import time
import unittest

from mmkcli import C_ENV, LINUX_ONLY, MMK, POSIX_ONLY, MmkTestCase, mmk

QUICK = os.environ.get("MMK_CLI_QUICK") == "1"
HAVE_GREP_P = subprocess.run(["grep", "-P", "x"], input=b"x\n", stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=C_ENV).returncode == 0


def grep_p(args, path):
    r = subprocess.run(["grep", "-a", "-P", *args, path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=C_ENV)
    return r.returncode, r.stdout


# Patterns where a whole-buffer search and grep's per-line one disagree, and
# the usual suspects of line-oriented matching.
PATTERNS = [
    r"b\sc", r"a\nb", r"[^x]+", r"[^x]", r"\s", r"\s+", r"\n", r"^", r"$", r"^$", r"^a", r"b$",
    r"a$", r"^\s*$", r"\Aa", r"b\z", r"a\Z", r"(?<=a)b", r"(?<!a)b", r"a(?=b)", r"a(?!b)",
    r"(?<=\n)a", r"a(?=\n)", r"x*", r"", r"\bab\b", r"a.c", r"a[\s\S]c", r"(?s)a.c", r"ab|ba",
    r"[ab]{3,}", r"(a|\n)+b", r"\Ba", r"a\b", r"\W", r".*", r"(?m)^b", r"c\s*$", r"[[:space:]]a",
    r"\v", r"\h", r"\R", r"a\Rb", r"^(?:a|b)+$", r"(?=a)", r"\x20", r"[\x00-\x09]", r"\Q.\E",
]
ALPHABETS = [b"ab", b"ab \n", b"abc x\n\t", b"aab\n\n", b"a b\r\n"]


class TestLinesLikeGrep(MmkTestCase):
    """Every selected line (and -c, -n) equals grep -P's."""

    def compare(self, path, args, label):
        g_rc, g_out = grep_p(args, path)
        variants = ([], ["-j1", "--chunk-size=1"], ["-j2", "--chunk-size=3"],
                    ["-j3", "--chunk-size=7", "--mmap"], ["-j2", "--chunk-size=5", "--no-mmap"])
        for extra in variants:
            r = mmk("grep", "--no-progress", *extra, *args, path)
            self.assertEqual((r.returncode, r.stdout), (g_rc, g_out),
                             "%s: mmk grep %s %s (stderr %r)" % (label, extra, args, r.stderr))
            if QUICK:
                break
        with open(path, "rb") as f:
            r = mmk("grep", "--no-progress", "-j2", "--chunk-size=4", *args, stdin=f)
        self.assertEqual((r.returncode, r.stdout), (g_rc, g_out), "%s (stdin): %s" % (label, args))

    @unittest.skipUnless(HAVE_GREP_P, "grep -P not available")
    def test_issue_example(self):
        path = self.write("ab", b"a b\nc\n")
        r = mmk("grep", "-n", r"b\sc", path)
        self.assertEqual((r.returncode, r.stdout), (1, b""))
        r = mmk("grep", "(*LIMIT_MATCH=100000)^c", path)
        self.assertEqual((r.returncode, r.stdout), (0, b"c\n"))

    @unittest.skipUnless(HAVE_GREP_P, "grep -P not available")
    def test_random_lines_and_patterns(self):
        rnd = random.Random(7)
        n_files = 3 if QUICK else 6
        for fi in range(n_files):
            alpha = ALPHABETS[fi % len(ALPHABETS)]
            n = rnd.choice([0, 1, 2, 5, 40, 300])
            data = bytes(rnd.choice(alpha) for _ in range(n))
            if fi % 3 == 0:
                data += b"\n"
            path = self.write("rand%d" % fi, data)
            for pat in PATTERNS:
                flags = rnd.choice([["-n"], ["-i"], ["-w"], ["-c"], ["-n", "-w", "-i"]])
                self.compare(path, [*flags, "-e", pat], "file %d %r" % (fi, data[:60]))

    @unittest.skipUnless(HAVE_GREP_P, "grep -P not available")
    def test_fixed_strings(self):
        path = self.write("fixed", b"ab\nb a\nA B\n\nab ab\nxab_\n")
        for lit in ["ab", "b a", "a", "B", "b\na"[:1], " "]:
            for flags in ([], ["-i"], ["-w"], ["-c"]):
                g_rc, g_out = grep_f(flags, lit, path)
                r = mmk("grep", "--no-progress", "-F", *flags, "-e", lit, path)
                self.assertEqual((r.returncode, r.stdout), (g_rc, g_out), (flags, lit))

    @unittest.skipUnless(HAVE_GREP_P, "grep -P not available")
    def test_long_lines_and_no_final_newline(self):
        data = b"x" * 70000 + b"a b\n" + b"c" * 100000 + b"\nend b"
        path = self.write("long", data)
        for pat in [r"b$", r"^c", r"a\sb", r"b\s", r"x{3}a", r"[^x]+c", r"\n"]:
            self.compare(path, ["-n", "-e", pat], "long lines")


def grep_f(flags, lit, path):
    r = subprocess.run(["grep", "-a", "-F", *flags, "-e", lit, path], stdout=subprocess.PIPE,
                       env=C_ENV)
    return r.returncode, r.stdout


def vm_hwm_kib(pid):
    """Peak resident set of a live process, from /proc/PID/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run_watching_rss(argv, feed, stdin_file=None):
    """Run argv, feeding it from `feed` (a generator of bytes) through a pipe,
    sampling the child's peak RSS while it runs. Returns (status, out, peak KiB)."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_file is None else stdin_file,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    if stdin_file is None:
        for block in feed:
            p.stdin.write(block)
            peak = max(peak, vm_hwm_kib(p.pid))
        p.stdin.close()
    else:
        while p.poll() is None:
            try:
                peak = max(peak, vm_hwm_kib(p.pid))
            except OSError:
                break
            time.sleep(0.05)
    # The child is done once its output ends; its peak is read before it is reaped.
    out = p.stdout.read()
    try:
        peak = max(peak, vm_hwm_kib(p.pid))
    except OSError:
        pass
    err = p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    p.wait(timeout=600)
    return p.returncode, out, err, peak


class TestBoundedMemory(MmkTestCase):
    """Streams and long inputs in bounded memory."""

    LIMIT_KIB = 64 * 1024

    def feed(self, total, needle_every):
        line = b"the quick brown fox jumps over the lazy dog %d\n"
        block = b"".join(line % i for i in range(20000))
        sent = 0
        i = 0
        while sent < total:
            yield block
            if i % needle_every == 0:
                yield b"a NEEDLE line\n"
            sent += len(block)
            i += 1

    def test_grep_and_count_on_a_large_pipe(self):
        total = (60 if QUICK else 160) << 20  # either way well past the 64 MiB bound
        blocks = sum(1 for _ in self.feed(total, 1 << 30))  # blocks sent
        for argv in ([MMK, "grep", "-c", "NEEDLE"], [MMK, "grep", "-c", r"N\w+E\b"],
                     [MMK, "count", r"(?s)NEE.{0,5}DLE"], [MMK, "count", "NEEDLE"]):
            rc, out, err, peak = run_watching_rss(argv, self.feed(total, 7))
            self.assertEqual(rc, 0, (argv, err))
            self.assertLess(peak, self.LIMIT_KIB, "%s: peak RSS %d KiB" % (argv, peak))
            self.assertEqual(int(out), (blocks + 6) // 7, argv)
        # The same through Python, on a smaller stream: the counts are exact.
        data = b"".join(self.feed(2 << 20, 3))
        for pat in [r"o\w*r", r"(?s)NEE.{0,5}DLE", r"\d+\n\w", r"(?s)x.*?y|\n\n?", r"e\b"]:
            rc, out, err, _ = run_watching_rss([MMK, "count", pat], iter([data]))
            self.assertEqual(int(out), len(re.findall(pat.encode(), data)), pat)

    def test_line_appears_before_the_writer_closes(self):
        p = subprocess.Popen([MMK, "grep", "--line-buffered", "NEEDLE"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            p.stdin.write(b"nothing here\nfirst NEEDLE\nmore")
            p.stdin.flush()
            ready, _, _ = select.select([p.stdout], [], [], 30)
            self.assertTrue(ready, "no output while the pipe stays open")
            line = p.stdout.readline()
            self.assertEqual(line, b"first NEEDLE\n")
            self.assertIsNone(p.poll(), "mmk must still be reading")
            p.stdin.write(b" NEEDLE again\n")
            p.stdin.close()
            self.assertEqual(p.stdout.read(), b"more NEEDLE again\n")
            self.assertEqual(p.wait(timeout=30), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()

    def test_sparse_file_with_one_line_at_the_end(self):
        path = os.path.join(self.tmp, "sparse")
        size = (1 if QUICK else 3) << 30
        with open(path, "wb") as f:
            f.truncate(size)
            f.seek(size)
            f.write(b"\nthe one NEEDLE line\n")
        try:
            for argv in ([MMK, "grep", "-n", "NEEDLE", path], [MMK, "grep", "-c", "o\\w+", path]):
                rc, out, err, peak = run_watching_rss(argv, None, stdin_file=subprocess.DEVNULL)
                self.assertEqual(rc, 0, err)
                self.assertLess(peak, self.LIMIT_KIB, "%s: peak RSS %d KiB" % (argv, peak))
                self.assertEqual(out, b"2:the one NEEDLE line\n" if "-n" in argv else b"1\n")
        finally:
            os.unlink(path)


class TestSizeLies(MmkTestCase):
    """Files whose size is not their length are read to their real end."""

    def check_file(self, path):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            self.skipTest("%s not readable" % path)
        for io in ([], ["--mmap"], ["--no-mmap"]):
            r = mmk("lines", *io, path)
            self.assertEqual(r.returncode, 0, (path, io, r.stderr))
            self.assertEqual(int(r.stdout.split()[0]), data.count(b"\n"), (path, io))
            r = mmk("count", *io, "e", path)
            self.assertIn(r.returncode, (0, 1), (path, io, r.stderr))
            self.assertEqual(int(r.stdout), data.count(b"e"), (path, io))
            r = mmk("count", *io, "[a-z]+", path)
            self.assertEqual(int(r.stdout), len(re.findall(rb"[a-z]+", data)), (path, io))
            r = mmk("words", *io, path)
            self.assertEqual(r.returncode, 0, (path, io, r.stderr))
            r = mmk("grep", *io, "-c", "e", path)
            self.assertEqual(int(r.stdout), sum(1 for l in data.split(b"\n")[:-1] if b"e" in l)
                             + (1 if not data.endswith(b"\n") and b"e" in data.split(b"\n")[-1]
                                else 0), (path, io))

    @unittest.skipIf(POSIX_ONLY, LINUX_ONLY)
    def test_proc_self_status(self):
        # Each process reads its own file: the fields (lines) are the same.
        with open("/proc/self/status", "rb") as f:
            data = f.read()
        for io in ([], ["--mmap"], ["--no-mmap"]):
            r = mmk("lines", *io, "/proc/self/status")
            self.assertEqual(int(r.stdout.split()[0]), data.count(b"\n"), io)
            r = mmk("grep", *io, "-c", ":", "/proc/self/status")
            self.assertEqual(int(r.stdout), data.count(b"\n"), io)
            r = mmk("count", *io, r"(?m)^\w+:", "/proc/self/status")
            self.assertEqual(int(r.stdout), data.count(b"\n"), io)

    @unittest.skipIf(POSIX_ONLY, LINUX_ONLY)
    def test_proc_files_of_a_sleeping_process(self):
        # A sleeping process's status and maps stay as they are: every
        # subcommand must see exactly what Python reads.
        child = subprocess.Popen(["sleep", "60"])
        try:
            time.sleep(0.2)
            for name in ("status", "maps", "limits"):
                self.check_file("/proc/%d/%s" % (child.pid, name))
        finally:
            child.kill()
            child.wait()

    @unittest.skipIf(POSIX_ONLY, LINUX_ONLY)
    def test_sys_files(self):
        candidates = ["/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/uevent_seqnum",
                      "/sys/devices/system/cpu/online"]
        found = [c for c in candidates if os.access(c, os.R_OK)]
        if not found:
            self.skipTest("no readable /sys file")
        for c in found:
            self.check_file(c)

    def test_file_shrinking_during_a_no_mmap_scan(self):
        path = self.write("shrink", b"")
        big = b"ab cd\n" * (16 << 20)  # 96 MiB
        with open(path, "wb") as f:
            f.write(big)
        # The reader of mmk's output is slow: mmk fills the pipe, and while it
        # waits the file is cut to 1 MiB. The error must say what happened.
        p = subprocess.Popen([MMK, "grep", "--no-mmap", "-j1", "ab", path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.read(1 << 16)
        os.truncate(path, 1 << 20)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 2, err)
        self.assertIn(b"shrank", err)
        self.assertNotIn(b"map", err)


class TestLimitMessage(MmkTestCase):
    def test_match_limit_reported_with_offset(self):
        path = self.write("limit", b"ok line\n" + b"a" * 40 + b"b c\n")
        pat = "(*LIMIT_MATCH=1000)(a+)+c"
        for cmd in (["grep"], ["count"]):
            r = mmk(*cmd, pat, path)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(b"too complex for the backtracking engine", r.stderr)
            self.assertIn(pat.encode(), r.stderr)
            self.assertRegex(r.stderr, rb"byte (\d+)")
            at = int(re.search(rb"byte (\d+)", r.stderr).group(1))
            if cmd == ["grep"]:
                self.assertEqual(at, 8)  # the second line, searched alone from its start
            else:
                self.assertLessEqual(at, 48)  # a whole-input search from at or before the line


if __name__ == "__main__":
    unittest.main()
