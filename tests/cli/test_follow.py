"""End-to-end tests of `mmk grep --follow PATTERN FILE` (cli/follow.c): the
existing content first, then lines as they are appended; truncation and
rotation by rename survived as `tail -F` does, with its notes on stderr; a
name that is missing is waited for; SIGINT and SIGTERM end it with grep's
status (0 something matched, 1 nothing).

Registration: add `follow` to the suite list in tests/cli.cmake
(`foreach(suite cli corpus grep follow)`), which runs
`python3 -m unittest -v test_follow` from tests/cli with $MMK set, once
`mmk grep --follow` calls follow_run (cli/commands.c, the cli helper's part).
Run by hand: MMK=build/mmk python3 -m unittest -v test_follow (in tests/cli).
"""
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmkcli import MMK, MmkTestCase  # noqa: E402

# Generous: the ASan build is slow, and the machine is shared. The waits end
# as soon as the expected output is there.
WAIT = 15.0


class Follow:
    """A running `mmk grep --follow`, its standard output and error collected
    by threads so that the test can wait for what it expects."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([MMK, "grep", "--follow", *args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = bytearray()
        self.err = bytearray()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._pump, args=(s, b), daemon=True)
                        for s, b in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self.threads:
            t.start()

    def _pump(self, stream, buf):
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return
            with self.lock:
                buf.extend(chunk)

    def snapshot(self):
        with self.lock:
            return bytes(self.out), bytes(self.err)

    def wait_for(self, test, what):
        """Wait until test(out, err) holds; fail with what was seen otherwise."""
        deadline = time.monotonic() + WAIT
        while True:
            out, err = self.snapshot()
            if test(out, err):
                return out, err
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("%s: not seen; exit %r, stdout %r, stderr %r"
                                     % (what, self.proc.poll(), out, err))
            time.sleep(0.02)

    def wait_out(self, expected):
        return self.wait_for(lambda out, err: out == expected, "stdout == %r" % expected)

    def wait_handler(self, sig):
        """Wait until mmk catches sig (it installs its handlers at start; a
        signal sent before that, on a slow or loaded machine, would kill it
        with the default action). Where /proc/PID/status does not say, a
        short sleep stands in."""
        status = "/proc/%d/status" % self.proc.pid
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with open(status) as f:
                    caught = [l for l in f if l.startswith("SigCgt:")]
            except OSError:
                caught = []
            if not caught:
                time.sleep(0.3)
                return
            if int(caught[0].split()[1], 16) >> (int(sig) - 1) & 1:
                return
            time.sleep(0.02)

    def stop(self, sig=signal.SIGINT):
        """Send sig and return (status, stdout, stderr)."""
        self.wait_handler(sig)
        self.proc.send_signal(sig)
        try:
            status = self.proc.wait(timeout=WAIT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for t in self.threads:
            t.join(timeout=WAIT)
        out, err = self.snapshot()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return status, out, err


def append(path, data):
    with open(path, "ab") as f:
        f.write(data)


class TestFollow(MmkTestCase):
    def setUp(self):
        self.path = os.path.join(self.tmp, "%s.log" % self._testMethodName)
        self.followers = []

    def tearDown(self):
        for f in self.followers:
            if f.proc.poll() is None:
                f.proc.kill()
                f.proc.wait()
                f.proc.stdout.close()
                f.proc.stderr.close()

    def follow(self, *args):
        f = Follow(*args)
        self.followers.append(f)
        return f

    def test_existing_then_appended(self):
        self.write(os.path.basename(self.path), b"GET /a 200\nGET /b 404\nPOST /c 404\n")
        f = self.follow("404", self.path)
        f.wait_out(b"GET /b 404\nPOST /c 404\n")
        append(self.path, b"GET /d 200\nGET /e 404\n")
        f.wait_out(b"GET /b 404\nPOST /c 404\nGET /e 404\n")
        append(self.path, b"GET /f 404\n")
        f.wait_out(b"GET /b 404\nPOST /c 404\nGET /e 404\nGET /f 404\n")
        status, out, err = f.stop()
        self.assertEqual(status, 0)
        self.assertEqual(out, b"GET /b 404\nPOST /c 404\nGET /e 404\nGET /f 404\n")
        self.assertEqual(err, b"")

    def test_nothing_matched_status_1(self):
        self.write(os.path.basename(self.path), b"a\nb\n")
        f = self.follow("zzz", self.path)
        append(self.path, b"c\n")
        time.sleep(0.3)
        status, out, err = f.stop()
        self.assertEqual((status, out, err), (1, b"", b""))

    def test_sigterm_ends_cleanly(self):
        self.write(os.path.basename(self.path), b"x 1\n")
        f = self.follow("x", self.path)
        f.wait_out(b"x 1\n")
        status, out, err = f.stop(signal.SIGTERM)
        self.assertEqual((status, out, err), (0, b"x 1\n", b""))

    def test_partial_line_waits_for_its_end(self):
        self.write(os.path.basename(self.path), b"")
        f = self.follow("match", self.path)
        append(self.path, b"first mat")
        time.sleep(0.5)
        self.assertEqual(f.snapshot()[0], b"")  # half a line is not a line yet
        append(self.path, b"ch here\nno\n")
        f.wait_out(b"first match here\n")
        status, out, _ = f.stop()
        self.assertEqual((status, out), (0, b"first match here\n"))

    def test_truncation(self):
        self.write(os.path.basename(self.path), b"old 1\nold 2\nold 3\n")
        f = self.follow("-n", "o", self.path)
        f.wait_out(b"1:old 1\n2:old 2\n3:old 3\n")
        with open(self.path, "r+b") as w:  # copytruncate, as logrotate does it
            w.truncate(0)
        f.wait_for(lambda out, err: b"file truncated" in err, "the truncation note")
        append(self.path, b"new one\nskip\nnew two\n")
        # line numbers start again at 1 in the truncated file
        f.wait_out(b"1:old 1\n2:old 2\n3:old 3\n1:new one\n3:new two\n")
        status, out, err = f.stop()
        self.assertEqual(status, 0)
        self.assertEqual(err, b"mmk: %s: file truncated\n" % self.path.encode())

    def test_rotation_by_rename(self):
        self.write(os.path.basename(self.path), b"hit 1\n")
        f = self.follow("hit", self.path)
        f.wait_out(b"hit 1\n")
        os.rename(self.path, self.path + ".1")
        # the writer has not reopened yet: its lines still reach the old file
        append(self.path + ".1", b"hit 2 (old file)\n")
        f.wait_out(b"hit 1\nhit 2 (old file)\n")
        self.write(os.path.basename(self.path), b"hit 3 (new file)\nmiss\n")
        f.wait_for(lambda out, err: out.endswith(b"hit 3 (new file)\n"), "the new file")
        append(self.path, b"hit 4\n")
        f.wait_out(b"hit 1\nhit 2 (old file)\nhit 3 (new file)\nhit 4\n")
        status, out, err = f.stop()
        self.assertEqual(status, 0)
        self.assertEqual(err, b"mmk: %s has been replaced; following new file\n"
                         % self.path.encode())

    def test_rotation_by_delete_and_recreate(self):
        self.write(os.path.basename(self.path), b"hit a\n")
        f = self.follow("hit", self.path)
        f.wait_out(b"hit a\n")
        os.unlink(self.path)
        time.sleep(0.3)
        self.write(os.path.basename(self.path), b"hit b\n")
        f.wait_out(b"hit a\nhit b\n")
        status, out, err = f.stop()
        self.assertEqual((status, out), (0, b"hit a\nhit b\n"))
        self.assertIn(b"following new file", err)

    def test_missing_file_is_waited_for(self):
        f = self.follow("hit", self.path)
        f.wait_for(lambda out, err: b"waiting for it to appear" in err, "the waiting note")
        self.write(os.path.basename(self.path), b"hit 1\nmiss\n")
        f.wait_out(b"hit 1\n")
        status, out, _ = f.stop()
        self.assertEqual((status, out), (0, b"hit 1\n"))

    def test_many_lines_in_order(self):
        self.write(os.path.basename(self.path), b"")
        f = self.follow("^line [0-9]*7$", self.path)
        expected = b""
        for batch in range(20):
            data = b"".join(b"line %d\n" % (batch * 500 + i) for i in range(500))
            append(self.path, data)
            expected += b"".join(l + b"\n" for l in data.split(b"\n") if l.endswith(b"7"))
        f.wait_out(expected)
        status, out, _ = f.stop()
        self.assertEqual((status, out), (0, expected))


if __name__ == "__main__":
    unittest.main()
