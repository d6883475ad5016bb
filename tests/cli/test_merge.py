"""`mmk merge`: the --json outputs of count, count --by, lines and words over
shards of a corpus, merged, equal byte for byte what the command prints over
all the shards at once (text and JSON, with and without --top); and every
input merge cannot add up exactly is an error (exit status 2, nothing on
standard output), never a crash or a silent skip.

The differential test cuts real text (the KJV corpus of the CLI tests) with
bytes that are not UTF-8 mixed in, and random bytes, into k = 1..5 shards at
random places (inside words too), runs the command with --json on each shard,
merges, and compares with the command given all the shard files.
"""
import base64
import json
import os
import random
import re
import stat
import unittest

from mmkcli import MmkTestCase, kjv_path, mmk

QUICK = os.environ.get("MMK_CLI_QUICK") == "1"

# (name, arguments before the files); each runs with --json per shard.
COMMANDS = [
    ("count -F", ["count", "-F", "LORD."]),
    ("count -i", ["count", "-i", "lord"]),
    ("count regex", ["count", r"[a-z]+eth\b"]),
    ("count no match", ["count", "Zzyzx"]),
    ("lines", ["lines"]),
    ("words", ["words"]),
    ("count --by 1", ["count", "--by", "1", r"\b(\w+)eth\b"]),
    ("count --by name", ["count", "--by", "who", r"the (?<who>[A-Z]\w+)"]),
    ("count --by 0", ["count", "--by", "0", r"\S*[\x80-\xff]\S*"]),
]

TABLES = ("words", "count --by 1", "count --by name", "count --by 0")
# Under the sanitizers (MMK_CLI_QUICK) every run costs ten times more: one
# command of each shape.
QUICK_COMMANDS = ("count -F", "lines", "words", "count --by name", "count --by 0")
# --top values given to both sides besides none: one per shard set, in turn.
TOPS = (7, 0, 10 ** 6, 1)


def corpus(rng):
    """Real text with bytes that are not UTF-8 in words and between them, and a
    stretch of random bytes."""
    with open(kjv_path(), "rb") as f:
        text = f.read(120_000 if QUICK else 400_000)
    out = bytearray()
    for i, line in enumerate(text.splitlines(keepends=True)):
        if i % 37 == 5:
            words = line.split(b" ")
            k = rng.randrange(len(words))
            words[k] = words[k][:2] + bytes([rng.choice([0xff, 0xfe, 0xc3, 0x80, 0xe2])]) + \
                words[k][2:]
            line = b" ".join(words)
        out += line
    out += bytes(rng.randrange(256) for _ in range(3000))
    out += b"\nThe LORD a.b eth the Zion\xff\xfe\n"
    return bytes(out)


class TestMergeDifferential(MmkTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rng = random.Random(0x6d657267)
        cls.data = corpus(cls.rng)

    def shards(self, k, tag):
        """k shard files cut at random places (inside words too); one name is
        not UTF-8."""
        cuts = sorted(self.rng.sample(range(1, len(self.data)), k - 1))
        bounds = [0, *cuts, len(self.data)]
        paths = []
        for i in range(k):
            name = b"%s-%d%s.txt" % (tag.encode(), i, b"\xff" if i == 1 else b"")
            path = os.path.join(self.tmp.encode(), name)
            with open(path, "wb") as f:
                f.write(self.data[bounds[i]:bounds[i + 1]])
            paths.append(path)
        return paths

    def merge_inputs(self, docs, tag):
        """The shard documents given to merge: all in one file, one file
        each, or some concatenated; returns (args, stdin)."""
        how = self.rng.randrange(4)
        if how == 0:
            return [], b"".join(docs)
        files = []
        groups = [[d] for d in docs] if how == 1 else [docs] if how == 2 else \
            [docs[:len(docs) // 2], docs[len(docs) // 2:]]
        for i, g in enumerate(groups):
            if not g:
                continue
            path = os.path.join(self.tmp, "%s-doc%d.json" % (tag, i))
            with open(path, "wb") as f:
                f.write(b"".join(g))
            files.append(path)
        return files, None

    def check(self, name, args, paths, tag, top=7):
        docs = []
        for p in paths:
            res = mmk(*args, "--json", p)
            self.assertIn(res.returncode, (0, 1, 2), res)
            docs.append(res.stdout)
        files, stdin = self.merge_inputs(docs, tag)
        for top in (None, top) if name in TABLES else (None,):
            topt = [] if top is None else ["--top", str(top)]
            for json_out in (False, True):
                jt = ["--json"] if json_out else []
                want = mmk(*args, *topt, *jt, *paths)
                got = mmk("merge", *topt, *jt, *files, input=stdin)
                msg = "%s k=%d top=%s json=%s\ngot %r\nwant %r" % (
                    name, len(paths), top, json_out, got, want)
                self.assertEqual(got.returncode, want.returncode, msg)
                self.assertEqual(got.stderr, want.stderr, msg)
                if name == "lines" and not json_out and len(paths) > 1:
                    # wc's column width comes from the files' sizes, which the
                    # documents do not hold: the same numbers and names.
                    self.assertEqual([l.split() for l in got.stdout.splitlines()],
                                     [l.split() for l in want.stdout.splitlines()], msg)
                    self.assertNotEqual(got.stdout, b"")
                else:
                    self.assertEqual(got.stdout, want.stdout, msg)
                if json_out:
                    doc = json.loads(got.stdout)
                    if top is not None and name in TABLES:
                        table = doc["words"] if name == "words" else doc["values"]
                        self.assertEqual("top" in doc, top < doc["distinct"], msg)
                        self.assertEqual(len(table), min(top, doc["distinct"]), msg)

    def test_shards_merge_exactly(self):
        for k in (1, 3) if QUICK else range(1, 6):
            paths = self.shards(k, "k%d" % k)
            for i, (name, args) in enumerate(COMMANDS):
                if QUICK and name not in QUICK_COMMANDS:
                    continue
                with self.subTest(name=name, k=k):
                    self.check(name, args, paths, "m%d" % k, TOPS[(k + i) % len(TOPS)])

    def test_random_bytes(self):
        """Shards of random bytes: every byte value in words and values."""
        rng = random.Random(7)
        data = bytes(rng.choice(b"ab \n\t\xff\xc3\xa9\x00\"\\") for _ in range(20000))
        for k in (3,) if QUICK else (1, 3, 5):
            cuts = sorted(rng.sample(range(1, len(data)), k - 1))
            bounds = [0, *cuts, len(data)]
            paths = []
            for i in range(k):
                p = os.path.join(self.tmp, "rand%d-%d" % (k, i))
                with open(p, "wb") as f:
                    f.write(data[bounds[i]:bounds[i + 1]])
                paths.append(p)
            for name, args in (("words", ["words"]),
                               ("count --by 0", ["count", "--by", "0", r"[^ \n]+"]),
                               ("count regex", ["count", r"a\xffb|\\"]),
                               ("lines", ["lines"]))[:2 if QUICK else 4]:
                with self.subTest(name=name, k=k):
                    self.check(name, args, paths, "r%d" % k)

    def test_error_entries_are_kept(self):
        """A shard with an input that failed: merge keeps its entry, reports it
        as the command does and exits 2."""
        a = self.write("e-a.txt", b"LORD the LORD\n")
        b = self.write("e-b.txt", b"the end LORD\n")
        missing = os.path.join(self.tmp, "e-missing.txt")
        for args in (["count", "LORD"], ["lines"], ["words"]):
            with self.subTest(args=args):
                d1 = mmk(*args, "--json", a, missing).stdout
                d2 = mmk(*args, "--json", b).stdout
                for jt in ([], ["--json"]):
                    want = mmk(*args, *jt, a, missing, b)
                    got = mmk("merge", *jt, input=d1 + d2)
                    self.assertEqual(got.returncode, 2)
                    self.assertEqual(got.returncode, want.returncode)
                    self.assertEqual(got.stderr, want.stderr)
                    if args != ["lines"] or jt:
                        self.assertEqual(got.stdout, want.stdout)

    def test_standard_input_and_names(self):
        """count over standard input shows "(standard input)" as count does;
        -H and --no-filename work as in count."""
        a = self.write("n-a.txt", b"LORD\n")
        d_stdin = mmk("count", "--json", "LORD", input=b"LORD LORD\n").stdout
        d_a = mmk("count", "--json", "LORD", a).stdout
        got = mmk("merge", input=d_stdin + d_a)
        self.assertRun(got, b"(standard input):2\n%s:1\n" % a.encode())
        self.assertRun(mmk("merge", "--no-filename", input=d_stdin + d_a), b"2\n1\n")
        self.assertRun(mmk("merge", "-H", input=d_a), b"%s:1\n" % a.encode())
        self.assertRun(mmk("merge", input=d_a), b"1\n")
        # lines over standard input read implicitly: the number alone, as wc -l.
        d = mmk("lines", "--json", input=b"a\nb\n").stdout
        self.assertRun(mmk("merge", input=d), mmk("lines", input=b"a\nb\n").stdout)

    def test_merged_documents_merge_again(self):
        """A merge's JSON is the command's document, so merges can be merged
        (shards of shards): the same as one merge of all of them."""
        docs = [mmk("words", "--json", input=b"a b %d c\xff a\n" % i).stdout for i in range(5)]
        flat = mmk("merge", "--json", input=b"".join(docs))
        left = mmk("merge", "--json", input=b"".join(docs[:2])).stdout
        right = mmk("merge", "--json", input=b"".join(docs[2:])).stdout
        self.assertRun(mmk("merge", "--json", input=left + right), flat.stdout)
        self.assertRun(mmk("merge", "--top", "2", input=left + right),
                       b"a 10\nb 5\n")

    def test_exit_status(self):
        zero = mmk("count", "--json", "Zzyzx", input=b"nothing here\n").stdout
        self.assertRun(mmk("merge", input=zero + zero), b"(standard input):0\n" * 2, 1)
        empty_by = mmk("count", "--by", "1", "--json", "(Zzyzx)", input=b"x\n").stdout
        self.assertRun(mmk("merge", input=empty_by + empty_by), b"", 1)
        empty_words = mmk("words", "--json", input=b"").stdout
        self.assertRun(mmk("merge", input=empty_words), b"", 0)


def doc_words(rows, files=None):
    files = files if files is not None else [{"path": "f", "words": sum(n for _, n in rows),
                                              "distinct": len(rows)}]
    return json.dumps({"files": files, "total": sum(n for _, n in rows), "distinct": len(rows),
                       "words": [{"word": w, "count": n} for w, n in rows]}).encode() + b"\n"


class TestMergeRefuses(MmkTestCase):
    """Each input that cannot be merged exactly: status 2, nothing on standard
    output, one message naming the input (and for malformed JSON the byte)."""

    def refused(self, stdin=None, args=(), message=None):
        res = mmk("merge", *args, input=stdin)
        msg = repr(res)
        self.assertEqual(res.returncode, 2, msg)
        self.assertEqual(res.stdout, b"", msg)
        self.assertTrue(res.stderr.startswith(b"mmk: "), msg)
        self.assertEqual(res.stderr.count(b"\n"), 1 if b"Try" not in res.stderr else 2, msg)
        self.assertNotIn(b"runtime error", res.stderr)
        self.assertNotIn(b"Sanitizer", res.stderr)
        if message is not None:
            self.assertIn(message, res.stderr, msg)
        return res

    def setUp(self):
        self.words = mmk("words", "--json", input=b"the LORD the end\n").stdout
        self.count = mmk("count", "--json", "LORD", input=b"the LORD the end\n").stdout
        self.lines = mmk("lines", "--json", input=b"a\nb\n").stdout
        self.by = mmk("count", "--by", "1", "--json", r"(\w+)", input=b"a b a\n").stdout

    def test_truncated_documents(self):
        """Proper prefixes of valid documents (every third; every 13th under
        the sanitizers) are refused with their byte offset."""
        for doc in (self.words, self.count, self.lines, self.by):
            for cut in range(1, len(doc.rstrip()), 13 if QUICK else 3):
                with self.subTest(doc=doc[:30], cut=cut):
                    res = self.refused(doc[:cut])
                    self.assertRegex(res.stderr, rb"^mmk: merge: \(standard input\): byte \d+: ")
            self.refused(doc + doc[:len(doc) // 2])  # a second document cut short

    def test_malformed_json(self):
        cases = [
            (b'{"files":[],"total":0,}', b"byte 22: expected a member name"),
            (b'{"files":[] "total":0}', b"byte 12: expected ',' or '}'"),
            (b'{"files":[],"total":0} x', b"byte 23: unexpected character 'x'"),
            (b'{files:[],"total":0}', b"byte 1: expected a member name"),
            (b"{\"files\":[],\"total\":0\x00}", b"byte 21: expected ',' or '}'"),
            (b"{\"files\":[],\"total\":\x00}", b"byte 20: unexpected byte 0x00"),
            (b'{"files":[{"path":"a\xff","lines":1}],"total":1}', b"not UTF-8"),
            (b'{"files":[{"path":"a\tb","lines":1}],"total":1}', b"control character"),
            (b'{"files":[{"path":"\\ud800","lines":1}],"total":1}', b"surrogate"),
            (b'{"files":[{"path":"\\udc00x","lines":1}],"total":1}', b"surrogate"),
            (b'{"files":[{"path":"\\u12","lines":1}],"total":1}', b"four hex digits"),
            (b'{"files":[{"path":"\\q","lines":1}],"total":1}', b"invalid escape"),
            (b'{"files":[],"total":01}', b"byte 21: expected ',' or '}'"),
            (b'{"files":[],"total":-}', b"invalid number"),
            (b'{"files":[],"total":1.}', b"invalid number"),
            (b'{"files":[],"total":tru}', b"unexpected character 't'"),
            (b"[" * 100000, b"nested more than 64 deep"),
            (b'{"files":[],"files":[],"total":0}', b'"files" appears twice'),
            (b'\xef\xbb\xbf{"files":[],"total":0}', b"unexpected byte 0xef"),
        ]
        for doc, message in cases:
            with self.subTest(doc=doc[:60]):
                self.refused(doc, message=message)

    def test_wrong_schema(self):
        cases = [
            (b'[]', b"not a JSON object"),
            (b'"words"', b"not a JSON object"),
            (b'{"total":3}', b'no "files", "words" or "values" member'),
            (b'{"files":[],"total":"0"}', b'"total" is not a number'),
            (b'{"files":{},"total":0}', b'"files" is not an array'),
            (b'{"files":[],"total":-1}', b'"total" is negative (-1)'),
            (b'{"files":[],"total":1.0}', b'"total" is not a whole number (1.0)'),
            (b'{"files":[],"total":1e3}', b'"total" is not a whole number (1e3)'),
            (b'{"files":[],"total":18446744073709551616}', b"too large"),
            (b'{"files":[],"total":99999999999999999999999999}', b"too large"),
            (b'{"files":[],"total":1}', b'"total" is 1 but the "lines" of "files" add up to 0'),
            (b'{"files":[]}', b'without its "total" member'),
            (b'{"files":[],"total":0,"extra":1}', b'unknown member "extra"'),
            (b'{"files":[3],"total":0}', b"is not an object"),
            (b'{"files":[{"path":"a","lines":1,"count":1}],"total":1}', b'unknown member "count"'),
            (b'{"files":[{"path":"a"}],"total":0}', b'without its "lines" member'),
            (b'{"files":[{"path":7,"lines":1}],"total":1}', b'"path" is not a string'),
            (b'{"files":[{"path":"a","error":"x"}],"total":0}', b'without its "errname"'),
            (b'{"files":[{"path":"a","lines":null}],"total":0}', b'"lines" is not a number'),
            (b'{"files":[{"path":"\\ufffd","path_base64":"YQ==","lines":1}],"total":1}',
             b"does not hold the bytes"),
            (b'{"files":[{"path":"\\ufffd","path_base64":"/w","lines":1}],"total":1}',
             b"not standard padded base64"),
            (b'{"files":[{"path":"\\ufffd","path_base64":"/x==","lines":1}],"total":1}',
             b"not standard padded base64"),
            (b'{"files":[{"path":"a","path_base64":"YQ==","lines":1}],"total":1}',
             b"does not hold the bytes"),
            (b'{"files":[],"total":1,"distinct":1,"words":[{"word":"a","count":1}]}',
             b'"total" is 1 but the "words" of "files" add up to 0'),
            (doc_words([("a", 2), ("a", 1)]), b"'a' appears twice in the table"),
            (doc_words([("a", 0)]), b"a count of 0"),
            (b'{"pattern":"x","group":1,"total":2,"distinct":1,"values":[{"value":"a","count":1}]}',
             b'"total" is 2 but the counts of the value table add up to 1'),
            (b'{"pattern":"x","group":-1,"total":0,"distinct":0,"values":[]}', b"negative"),
            (b'{"pattern":1,"files":[],"total":0}', b'"pattern" is not a string'),
        ]
        for doc, message in cases:
            with self.subTest(doc=doc[:70]):
                self.refused(doc, message=message)

    def test_mixed_kinds_patterns_groups(self):
        a = self.write("kind-a.json", self.words)
        b = self.write("kind-b.json", self.lines)
        res = self.refused(args=[a, b])
        self.assertIn(b"kind-b.json: byte 0: a document of mmk lines --json cannot be merged "
                      b"with the mmk words --json document of " + a.encode(), res.stderr)
        self.refused(self.count + self.by, message=b"mmk count --by --json cannot be merged")
        other = mmk("count", "--json", "God", input=b"God\n").stdout
        self.refused(self.count + other,
                     message=b"pattern 'God' is not the pattern 'LORD' of (standard input)")
        by2 = mmk("count", "--by", "0", "--json", r"(\w+)", input=b"a b a\n").stdout
        self.refused(self.by + by2, message=b"--by group 0 is not the group 1")
        by3 = mmk("count", "--by", "1", "--json", r"(\w)", input=b"a b a\n").stdout
        self.refused(self.by + by3, message=b"pattern '(\\w)' is not the pattern '(\\w+)'")

    def test_cut_tables(self):
        text = b"a b b c c c d d d d\n"
        for args, table in ((["words"], b"word"), (["count", "--by", "0", r"\w"], b"value")):
            cut = mmk(*args, "--json", "--top", "2", input=text).stdout
            doc = json.loads(cut)
            self.assertEqual(doc["top"], 2)
            self.assertEqual(doc["distinct"], 4)
            whole = mmk(*args, "--json", "--top", "4", input=text).stdout
            self.assertNotIn("top", json.loads(whole))
            self.assertEqual(whole, mmk(*args, "--json", input=text).stdout)
            self.refused(whole + cut, message=b"byte %d: the %s table was cut by --top 2; run "
                         b"the shards without --top and give --top to mmk merge"
                         % (len(whole), table))
            # Without "top" (an older mmk), fewer rows than "distinct" is a cut too.
            del doc["top"]
            self.refused(json.dumps(doc).encode(),
                         message=b"the %s table holds 2 of 4 distinct" % table)
            self.assertRun(mmk("merge", "--top", "2", input=whole), mmk(*args, "--top", "2",
                                                                        input=text).stdout)

    def test_empty_missing_unreadable(self):
        self.refused(b"", message=b"(standard input): byte 0: no JSON document (an empty input)")
        self.refused(b" \n\t\r\n", message=b"byte 5: no JSON document")
        empty = self.write("empty.json", b"")
        good = self.write("good.json", self.words)
        self.refused(args=[good, empty], message=b"empty.json: byte 0: no JSON document")
        missing = os.path.join(self.tmp, "missing.json")
        self.refused(args=[good, missing],
                     message=b"mmk: %s: no such file or directory" % missing.encode())
        self.refused(args=[self.tmp], message=b"is a directory")
        if os.geteuid() != 0:
            secret = self.write("secret.json", self.words)
            os.chmod(secret, 0)
            self.refused(args=[good, secret], message=b"permission denied")
        else:
            # root reads a mode-000 file: a file whose read fails instead.
            self.refused(args=[good, "/proc/self/mem"], message=b"/proc/self/mem: ")

    def test_usage(self):
        self.refused(self.count, args=["--top", "3"], message=b"--top applies to words")
        self.refused(self.lines, args=["--top", "3"], message=b"--top applies to words")
        self.refused(self.words, args=["-H"], message=b"-H and --no-filename apply")
        self.refused(self.words, args=["--top", "x"], message=b"invalid --top value")
        self.refused(self.words, args=["-j", "2"], message=b"unknown option '-j'")
        self.assertIn(b"Usage: mmk merge", mmk("merge", "--help").stdout)
        self.assertIn(b"merge [FILE...]", mmk("--help").stdout)
        self.assertEqual(mmk("help", "merge").stdout, mmk("merge", "--help").stdout)

    def test_overflow(self):
        big = 2 ** 64 - 1
        doc = json.dumps({"pattern": "x", "files": [{"path": "a", "count": big}],
                          "total": big}).encode()
        self.assertRun(mmk("merge", input=doc), b"%d\n" % big)
        self.refused(doc + doc, message=b"the totals add up to more than 64 bits")
        w = doc_words([("a", big)])
        self.refused(w + w, message=b"add up to more than 64 bits")
        two = json.dumps({"pattern": "x", "files": [{"path": "a", "count": big},
                                                    {"path": "b", "count": 1}],
                          "total": 0}).encode()
        self.refused(two, message=b"add up to more than 64 bits")

    def test_exact_bytes_key_the_tables(self):
        """Two different invalid words shown alike ("\\ufffd") stay apart; the
        same bytes from two shards add up; escapes are written as mmk writes
        them."""
        d1 = mmk("words", "--json", input=b"\xff \xfe \xff x\\\"y \xc3\xa9\n").stdout
        d2 = mmk("words", "--json", input=b"\xfe \x01\n").stdout
        got = mmk("merge", "--json", input=d1 + d2)
        self.assertEqual(got.returncode, 0, got)
        doc = json.loads(got.stdout)
        rows = [(base64.b64decode(e["word_base64"]) if "word_base64" in e else
                 e["word"].encode(), e["count"]) for e in doc["words"]]
        self.assertEqual(rows, [(b"\xfe", 2), (b"\xff", 2), (b"\x01", 1), (b'x\\"y', 1),
                                (b"\xc3\xa9", 1)])
        a = self.write("x1", b"\xff \xfe \xff x\\\"y \xc3\xa9\n")
        b = self.write("x2", b"\xfe \x01\n")
        want = mmk("words", "--json", a, b).stdout
        self.assertEqual(got.stdout, want.replace(a.encode(), b"-").replace(b.encode(), b"-"))
        self.assertEqual(mmk("merge", input=d1 + d2).stdout, mmk("words", a, b).stdout)

    def test_random_mutations_never_crash(self):
        """Bytes of valid documents changed at random: merge answers 0, 1 or 2,
        never dies of a signal or a sanitizer report."""
        rng = random.Random(11)
        base = [self.words, self.count, self.lines, self.by]
        for i in range(25 if QUICK else 150):
            doc = bytearray(rng.choice(base) + rng.choice(base))
            for _ in range(rng.randrange(1, 4)):
                at = rng.randrange(len(doc))
                op = rng.randrange(3)
                if op == 0:
                    doc[at] = rng.choice(b'{}[]",:0123456789-.eE\\u \xff')
                elif op == 1:
                    del doc[at]
                else:
                    doc.insert(at, rng.choice(b'{}[]",:01-\\'))
            res = mmk("merge", "--json", input=bytes(doc))
            with self.subTest(i=i, doc=bytes(doc)):
                self.assertIn(res.returncode, (0, 1, 2), res)
                self.assertNotIn(b"Sanitizer", res.stderr)
                self.assertNotIn(b"runtime error", res.stderr)
                if res.returncode == 2:
                    self.assertEqual(res.stdout, b"")
                else:
                    json.loads(res.stdout)


if __name__ == "__main__":
    unittest.main()
