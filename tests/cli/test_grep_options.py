"""mmk grep against GNU grep, byte for byte: the differential test of grep's options.

Real log text (an access log and a syslog generated here with realistic fields, a part
of the King James Bible, and a small file of awkward bytes: CRLF, NUL, invalid UTF-8,
no final newline) is searched with many patterns under many option sets (-v -o -c -l
-L -q -m -x -w -i -n -b -H -h -A -B -C -NUM -Z --color=always, -e -e, -f) over one
file, several files and standard input. mmk grep's standard output and exit status
must equal those of `grep -P -a` in the C locale (GNU grep 3.8). grep -P takes a
single pattern, so the peer of `-e A -e B` (and of -f) is the alternation
`(?:A)|(?:B)`, which is what a pattern list means. The size of the run
(patterns x option sets x file sets) and the mismatches are printed.
"""
import concurrent.futures
import os
import random
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmkcli import MMK, MmkTestCase, kjv_path  # noqa: E402

ENV = {k: v for k, v in os.environ.items() if k not in ("GREP_COLORS", "GREP_COLOR", "NO_COLOR")}
ENV.update(LC_ALL="C", TERM="dumb")

HAVE_GREP_P = subprocess.run(["grep", "-P", "x"], input=b"x\n", stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL).returncode == 0


def grep_version():
    try:
        out = subprocess.run(["grep", "--version"], stdout=subprocess.PIPE).stdout
        return out.split(b"\n")[0].decode()
    except OSError:
        return ""


def access_log(rng, n):
    """Combined log format lines, ordered by time."""
    ips = ["10.0.%d.%d" % (rng.randrange(4), rng.randrange(256)) for _ in range(40)]
    paths = ["/", "/index.html", "/login", "/api/v1/users", "/api/v1/orders/%d", "/static/app.js",
             "/static/style.css", "/wp-login.php", "/search?q=%s", "/favicon.ico"]
    words = ["lord", "light", "error", "root", "GET", "kernel"]
    agents = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "curl/7.88.1",
              "Googlebot/2.1 (+http://www.google.com/bot.html)", "python-requests/2.28.1"]
    methods = ["GET"] * 8 + ["POST", "HEAD", "PUT", "DELETE"]
    statuses = [200] * 12 + [301, 302, 304, 400, 401, 403, 404, 404, 500, 503]
    lines = []
    t = 8 * 3600
    for _ in range(n):
        t += rng.randrange(3)
        p = rng.choice(paths)
        if "%d" in p:
            p = p % rng.randrange(1000)
        elif "%s" in p:
            p = p % rng.choice(words)
        lines.append('%s - %s [30/Nov/2026:%02d:%02d:%02d +0000] "%s %s HTTP/1.1" %d %d "-" "%s"' % (
            rng.choice(ips), rng.choice(["-", "-", "alice", "bob"]), t // 3600 % 24, t // 60 % 60,
            t % 60, rng.choice(methods), p, rng.choice(statuses), rng.randrange(20, 60000),
            rng.choice(agents)))
    return ("\n".join(lines) + "\n").encode()


def syslog(rng, n):
    hosts = ["web1", "db2"]
    procs = [("sshd", "Accepted publickey for root from 10.0.1.%d port 22 ssh2"),
             ("sshd", "Failed password for invalid user admin from 10.0.2.%d port 4242 ssh2"),
             ("kernel", "[%d.123456] eth0: link up, 1000 Mbps, full duplex"),
             ("CRON", "(root) CMD (run-parts /etc/cron.hourly) #%d"),
             ("systemd", "Started Session %d of user alice."),
             ("nginx", "error: upstream timed out (110: Connection timed out) #%d")]
    lines = []
    t = 8 * 3600
    for _ in range(n):
        t += rng.randrange(5)
        name, msg = rng.choice(procs)
        lines.append("Nov 30 %02d:%02d:%02d %s %s[%d]: %s" % (
            t // 3600 % 24, t // 60 % 60, t % 60, rng.choice(hosts), name, rng.randrange(100, 999),
            msg % rng.randrange(255)))
        if rng.randrange(40) == 0:
            lines.append("")
    return ("\n".join(lines) + "\n").encode()


EDGE = (b"alpha GET\r\nbeta\r\n\r\n\n\x00bin GET 404 lord\n\xff\xfe high 200 \xc3\x28\n"
        b"  indented root\n\tx\n404\nGET\nlast line without newline GET 200")

# (pattern list, label). One pattern is given as the operand; several as -e each.
PATTERNS = [
    ["GET"],
    ["404"],
    [r"\d{3} \d+"],
    [r"^Nov 30 08:0\d"],
    [r"sshd\[\d+\]: (Failed|Accepted)"],
    [r"error|fail"],
    ["lord"],
    [r"\bthe\b"],
    ["^$"],
    [r"\d*"],
    [r"[A-Z]{4,}"],
    [r"\.php"],
    [r"[^ ]+$"],
    ["root"],
    ["Zerubbabel-not-there"],
    [r"(?<=\[)\d+"],
    [r"|an"],  # an empty match and a longer one at one place: grep's -o steps on
    ["GET", "POST"],
    ["light", r"\d{4}"],
]

OPTION_SETS = [
    [], ["-v"], ["-o"], ["-c"], ["-l"], ["-L"], ["-q"], ["-m", "2"], ["-x"], ["-w"], ["-i"],
    ["-n"], ["-b"], ["-H"], ["-h"], ["-A", "1"], ["-B", "2"], ["-C", "1"], ["-2"], ["-Z"],
    ["--color=always"], ["-n", "-b", "-o"], ["-c", "-v"], ["-c", "-m", "3"], ["-o", "-b"],
    ["-n", "-C", "2", "-m", "3"], ["-v", "-A", "1"], ["-o", "-v"], ["-l", "-v"],
    ["-Z", "-l"], ["-Z", "-n", "-H"], ["--color=always", "-n", "-C", "1"],
    ["--color=always", "-o", "-b"], ["--color=always", "-v", "-C", "1"],
    ["-w", "-o"], ["-i", "-o", "-n"], ["-x", "-c"], ["-m", "1", "-A", "3"],
    ["-B", "1", "-n", "-b"], ["-L", "-v"], ["-q", "-v"], ["-A", "0"], ["-c", "-Z", "-H"],
    ["--color=always", "-l"], ["-o", "-C", "1"], ["-i", "-w", "-c"],
    ["--color=always", "-c", "-H"], ["--color=always", "-L", "-Z"],
    ["--color=always", "-o", "-v", "-A", "1"], ["-b", "-A", "1", "-v", "-n"],
]


class TestGrepDifferential(MmkTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rng = random.Random(8)
        cls.files = {}
        for name, data in (("access.log", access_log(rng, 1500)), ("syslog", syslog(rng, 1200)),
                           ("edge.txt", EDGE), ("empty.txt", b"")):
            path = os.path.join(cls.tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            cls.files[name] = name
        with open(kjv_path(), "rb") as f:
            kjv = b"".join(f.readlines()[:1500])
        with open(os.path.join(cls.tmp, "kjv.txt"), "wb") as f:
            f.write(kjv)
        with open(os.path.join(cls.tmp, "access.log"), "rb") as f:
            cls.stdin_data = f.read()

    def run_pair(self, patterns, opts, files, stdin):
        """(mmk result, grep result) for one combination, run in self.tmp (relative names, as
        grep prints them)."""
        mine = [MMK, "grep", "--no-progress", *opts]
        if len(patterns) == 1:
            mine.append(patterns[0])
            peer_pattern = patterns[0]
        else:
            for p in patterns:
                mine += ["-e", p]
            peer_pattern = "|".join("(?:%s)" % p for p in patterns)
        peer = ["grep", "-P", "-a", *opts, "-e", peer_pattern]
        if len(patterns) == 1 and patterns[0].startswith("-"):
            mine[-1:] = ["-e", patterns[0]]
        mine += files
        peer += files
        kw = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=self.tmp,
                  timeout=60)
        if stdin is None:
            kw["stdin"] = subprocess.DEVNULL
        else:
            kw["input"] = stdin
        a = subprocess.run(mine, **kw)
        b = subprocess.run(peer, **kw)
        return a, b

    @unittest.skipUnless(HAVE_GREP_P, "GNU grep with -P is needed as the reference")
    def test_differential(self):
        file_sets = [
            (["access.log"], None),
            (["syslog", "kjv.txt"], None),
            (["edge.txt"], None),
            ([], self.stdin_data),
            (["edge.txt", "-", "empty.txt", "syslog"], EDGE),
        ]
        # Every pattern meets every option set; each such pair runs over a rotating choice of
        # the file sets (2 of 5; 1 in the quick run under ASan), so every file set meets every
        # pattern and every option set while the run stays within a minute on 2 cores.
        # The quick run (under ASan) also takes only every third pattern and option set pair.
        quick = bool(os.environ.get("MMK_CLI_QUICK"))
        per_pair = 1 if quick else 2
        combos = []
        for i, p in enumerate(PATTERNS):
            for j, o in enumerate(OPTION_SETS):
                if quick and (i * len(OPTION_SETS) + j) % 3:
                    continue
                for k in range(per_pair):
                    combos.append((p, o, file_sets[(i + j + k * 2) % len(file_sets)]))
        mismatches = []

        def one(combo):
            patterns, opts, (files, stdin) = combo
            a, b = self.run_pair(patterns, opts, files, stdin)
            if (a.stdout, a.returncode) != (b.stdout, b.returncode):
                return (patterns, opts, files, a, b)
            return None

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for r in pool.map(one, combos):
                if r:
                    mismatches.append(r)
        print("\ndifferential vs %s: %d patterns x %d option sets x %d of %d file sets = %d "
              "combinations, %d mismatches" % (grep_version(), len(PATTERNS), len(OPTION_SETS),
                                               per_pair, len(file_sets), len(combos),
                                               len(mismatches)),
              file=sys.stderr)
        for patterns, opts, files, a, b in mismatches[:15]:
            print("MISMATCH mmk grep %s %s %s: status %d vs %d\n  mmk:  %r\n  grep: %r\n  "
                  "stderr: %r" % (opts, patterns, files, a.returncode, b.returncode,
                                  a.stdout[:300], b.stdout[:300], a.stderr[:200]),
                  file=sys.stderr)
        self.assertEqual(len(mismatches), 0, "%d of %d combinations differ from GNU grep"
                         % (len(mismatches), len(combos)))

    @unittest.skipUnless(HAVE_GREP_P, "GNU grep with -P is needed as the reference")
    def test_pattern_file(self):
        """-f FILE: one pattern per line, compared with the alternation; an empty file
        matches nothing (and -v then selects every line)."""
        pats = os.path.join(self.tmp, "pats.txt")
        with open(pats, "wb") as f:
            f.write(b"sshd\\[\\d+\\]\nlord\n404\n")
        empty = os.path.join(self.tmp, "nopats.txt")
        open(empty, "wb").close()
        for opts in ([], ["-c"], ["-o", "-n"], ["-v", "-c"]):
            for files in (["syslog", "access.log"], ["edge.txt"]):
                with self.subTest(opts=opts, files=files):
                    mine = subprocess.run([MMK, "grep", "-f", pats, *opts, *files],
                                          stdout=subprocess.PIPE, env=ENV, cwd=self.tmp)
                    peer = subprocess.run(["grep", "-P", "-a", "-e", r"(?:sshd\[\d+\])|(?:lord)|(?:404)",
                                           *opts, *files], stdout=subprocess.PIPE, env=ENV,
                                          cwd=self.tmp)
                    self.assertEqual((mine.stdout, mine.returncode),
                                     (peer.stdout, peer.returncode))
                    mine = subprocess.run([MMK, "grep", "-f", empty, *opts, *files],
                                          stdout=subprocess.PIPE, env=ENV, cwd=self.tmp)
                    peer = subprocess.run(["grep", "-a", "-f", empty, *opts, *files],
                                          stdout=subprocess.PIPE, env=ENV, cwd=self.tmp)
                    self.assertEqual((mine.stdout, mine.returncode),
                                     (peer.stdout, peer.returncode))


if __name__ == "__main__":
    unittest.main()
