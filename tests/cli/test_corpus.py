"""mmk on the real King James text (4.4 MB; generated English-like text where the
bible package is missing): counts equal grep -o | wc -l and Python's re,
lines equal wc -l, words equal collections.Counter, for several thread counts,
chunk sizes and both I/O paths."""
import collections
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmkcli import C_ENV, MmkTestCase, grep_o_count, kjv_path, mmk  # noqa: E402

# (mmk arguments, Python pattern, Python flags, grep -o arguments or None)
CASES = [
    (["Zerubbabel"], rb"Zerubbabel", 0, ["-F", "Zerubbabel"]),
    (["LORD"], rb"LORD", 0, ["-F", "LORD"]),
    (["the"], rb"the", 0, ["-F", "the"]),
    (["-F", "the"], rb"the", 0, ["-F", "the"]),
    (["-i", "lord"], rb"lord", re.I, ["-i", "-F", "lord"]),
    (["-w", "LORD"], rb"(?<![A-Za-z0-9_])LORD(?![A-Za-z0-9_])", 0, ["-w", "-F", "LORD"]),
    (["-i", "-w", "the"], rb"(?<![A-Za-z0-9_])the(?![A-Za-z0-9_])", re.I, ["-iwF", "the"]),
    ([r"[a-z]+eth\b"], rb"[a-z]+eth\b", 0, ["-P", r"[a-z]+eth\b"]),
    ([r"[A-Z][a-z]+ah\b"], rb"[A-Z][a-z]+ah\b", 0, ["-P", r"[A-Z][a-z]+ah\b"]),
    (["ss"], rb"ss", 0, ["-F", "ss"]),      # self-overlapping literal
    (["-F", "eee"], rb"eee", 0, ["-F", "eee"]),
    (["x*"], rb"x*", 0, None),              # empty matches: Python's rules
    ([r"\d+:\d+"], rb"\d+:\d+", 0, ["-P", r"\d+:\d+"]),
    (["Jesus|Moses"], rb"Jesus|Moses", 0, ["-P", "Jesus|Moses"]),
    (["(?m)^Ge1:"], rb"(?m)^Ge1:", 0, ["-P", "^Ge1:"]),      # anchors at chunk edges
    ([r"(?m)Amen\.$"], rb"(?m)Amen\.$", 0, ["-P", r"Amen\.$"]),
    (["^In the"], rb"^In the", 0, None),                    # start of input only
]

CONFIGS = [
    [],
    ["-j", "1"],
    ["-j", "2"],
    ["-j", "2", "--chunk-size", "4099"],
    ["--no-mmap", "-j", "2", "--chunk-size", "65537"],
    ["--mmap", "-j", "1", "--chunk-size", "1000003"],
]
if os.environ.get("MMK_CLI_QUICK"):  # the sanitizer run: fewer configurations
    CONFIGS = [CONFIGS[0], CONFIGS[3], CONFIGS[4]]


class TestKjv(MmkTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.path = kjv_path()
        with open(cls.path, "rb") as f:
            cls.data = f.read()
        # A slice for the tiniest chunk sizes (each chunk is a unit of work).
        cls.small = os.path.join(cls.tmp, "slice.txt")
        with open(cls.small, "wb") as f:
            f.write(cls.data[:60000])

    def test_counts_match_python_and_grep(self):
        for args, pattern, flags, grep_args in CASES:
            want = len(re.findall(pattern, self.data, flags))
            if grep_args is not None:
                self.assertEqual(grep_o_count(grep_args, self.path), want, args)
            for config in CONFIGS:
                with self.subTest(args=args, config=config):
                    res = mmk("count", *config, *args, self.path)
                    self.assertRun(res, b"%d\n" % want, 0 if want else 1)

    def test_tiny_chunks(self):
        # Chunks of 1 byte make every byte a unit of work: a shorter slice.
        tiny = self.write("tiny.txt", self.data[:12000])
        for path, data, configs in (
                (tiny, self.data[:12000], (["--chunk-size", "1", "-j", "2"],
                                           ["--chunk-size", "2", "--no-mmap"])),
                (self.small, self.data[:60000], (["--chunk-size", "7"],
                                                 ["--chunk-size", "64", "-j", "2", "--no-mmap"]))):
            for args, pattern, flags, _ in CASES:
                want = len(re.findall(pattern, data, flags))
                for config in configs:
                    with self.subTest(args=args, config=config, size=len(data)):
                        res = mmk("count", *config, *args, path)
                        self.assertRun(res, b"%d\n" % want, 0 if want else 1)

    def test_json_count(self):
        res = mmk("count", "--json", "LORD", self.path, self.small)
        self.assertRun(res, None)
        doc = json.loads(res.stdout)
        a, b = self.data.count(b"LORD"), self.data[:60000].count(b"LORD")
        self.assertEqual(doc, {"pattern": "LORD", "files": [{"path": self.path, "count": a},
                                                            {"path": self.small, "count": b}],
                               "total": a + b})

    def test_grep_matches_gnu_grep(self):
        for args in (["-n", "Zerubbabel"], ["-c", "LORD"], ["-w", "-i", "lord"],
                     ["-n", r"[A-Z][a-z]+ah\b"], ["-c", "^Ge1:"], ["-n", "Amen\\.$"]):
            peer = subprocess.run(["grep", "-P", *args, self.path], stdout=subprocess.PIPE,
                                  env=C_ENV)
            for config in ([], ["-j", "2", "--chunk-size", "4099"], ["--no-mmap"]):
                with self.subTest(args=args, config=config):
                    self.assertRun(mmk("grep", *config, *args, self.path), peer.stdout,
                                   peer.returncode)

    def test_lines_match_wc(self):
        wc = subprocess.run(["wc", "-l", self.path], stdout=subprocess.PIPE, env=C_ENV).stdout
        for config in ([], ["-j", "1"], ["-j", "2", "--chunk-size", "1001"], ["--mmap"],
                       ["--no-mmap"]):
            with self.subTest(config=config):
                self.assertRun(mmk("lines", *config, self.path), wc)
        self.assertRun(mmk("lines", "--chunk-size", "1", "-j", "2", self.small),
                       b"%d %s\n" % (self.data[:60000].count(b"\n"), self.small.encode()))
        res = mmk("lines", "--json", self.path)
        self.assertEqual(json.loads(res.stdout)["total"], self.data.count(b"\n"))

    def test_words_match_counter(self):
        ref = sorted(collections.Counter(self.data.lower().split()).items(),
                     key=lambda kv: (-kv[1], kv[0]))
        text = b"".join(w + b" " + str(n).encode() + b"\n" for w, n in ref)
        outputs = []
        for config in ([], ["-j", "1"], ["-j", "2", "--chunk-size", "4099"], ["--no-mmap"],
                       ["--mmap"]):
            with self.subTest(config=config):
                res = mmk("words", *config, self.path)
                self.assertRun(res, text)
                outputs.append(res.stdout)
        res = mmk("words", "--top", "10", self.path)
        self.assertRun(res, b"".join(text.splitlines(keepends=True)[:10]))
        res = mmk("words", "--json", "--top", "10", self.path)
        doc = json.loads(res.stdout)
        self.assertEqual(doc["total"], sum(n for _, n in ref))
        self.assertEqual(doc["distinct"], len(ref))
        self.assertEqual(doc["top"], 10)  # the table was cut
        self.assertEqual([(e["word"].encode(), e["count"]) for e in doc["words"]], ref[:10])

    def test_mmap_and_read_agree(self):
        for args in (["count", "-i", "lord"], ["grep", "-n", "Jerusalem"], ["lines"],
                     ["words", "--top", "50"]):
            with self.subTest(args=args):
                a = mmk(*args, "--mmap", self.path)
                b = mmk(*args, "--no-mmap", self.path)
                with open(self.path, "rb") as f:
                    c = mmk(*args, input=None, stdin=f)  # stdin: a regular file
                self.assertEqual(a.returncode, 0)
                self.assertEqual((a.stdout, a.stderr), (b.stdout, b.stderr))
                pipe = mmk(*args, input=self.data)
                self.assertEqual(c.stdout, pipe.stdout)
                if args[0] == "lines":  # wc names the file, not standard input
                    self.assertEqual(a.stdout, c.stdout[:-1] + b" %s\n" % self.path.encode())
                else:
                    self.assertEqual(a.stdout, c.stdout)

if __name__ == "__main__":
    unittest.main()
