#!/usr/bin/env python3
"""Log work, side by side: mmk against ripgrep, GNU grep, ugrep, zgrep and
awk | sort | uniq -c on a generated log corpus (bench/logs/gen_logs.py).

    python3 bench/logs/bench_logs.py --build BUILD [--quick] [--size 1G]
        [--runs N] [--only JOB,...] [--out DIR] [--corpus DIR]
    python3 bench/logs/bench_logs.py --render RESULTS_JSON [--update FILE]
    python3 bench/logs/bench_logs.py --self-test

Run through `sh bench/run.sh BUILD --logs` (or --logs-only). Standard library
only; the timing method is bench/bench.py's (its helpers are imported):

- every time is a whole process, start to exit (a pipeline through `sh -c`,
  pipes included; a single command directly), on page-cached files (read
  once with cat first);
- one untimed warm-up run per tool, whose output is the tool's answer; the
  answers of all tools of a job must agree (counts equal, tables of counts per
  value equal, file lists equal as sets, printed lines equal byte for byte)
  before the timings mean anything — a disagreement is printed loudly, marked
  in the report and makes the exit status 1;
- then round-robin timed runs (the order rotating each round), the median
  reported; slow tools get fewer runs (bench.py's plan_runs).

A job whose mmk option does not exist yet (probed in `mmk grep --help` /
`mmk count --help`) is skipped with one line saying which option is missing.

Outputs: a full run replaces the log section of BENCHMARKS.md (between its
markers; appended when absent) and writes bench/logs/results.json and
bench/logs/benchmarks-logs.png. With --quick (a 50 MB log, a tree of 1,000
files, one run per tool) or --out DIR they go to DIR (default
BUILD/bench-quick/) as BENCHMARKS-logs.md, logs-results.json,
benchmarks-logs.png, and BENCHMARKS.md is not touched.
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import bench as B  # noqa: E402  (bench/bench.py: timing helpers, machine info)

BEGIN = "<!-- bench_logs.py: begin -->"
END = "<!-- bench_logs.py: end -->"

# The one-hour window of the --since/--until jobs: the middle of the month the
# generator writes (the file spans November 2026 whatever its size), so the
# window's first line is about half-way through the file.
WINDOW = ("2026-11-15T12:00:00", "2026-11-15T13:00:00", r"\[15/Nov/2026:12:")

# ---------------------------------------------------------------------------
# Answers: what a tool printed, reduced to what must agree
# ---------------------------------------------------------------------------


def parse_int(text):
    """The number a tool printed (a count, `wc -l`), or None."""
    return B.parse_count(text)


def parse_uniq(text):
    """{value: count} from `uniq -c` lines ("   12 value")."""
    table = {}
    for line in text.splitlines():
        m = re.match(r"^\s*(\d+) (.*)$", line)
        if not m:
            raise ValueError("not a 'uniq -c' line: %r" % line[:80])
        table[m.group(2)] = table.get(m.group(2), 0) + int(m.group(1))
    return table


def parse_table(text, order):
    """{value: count} from mmk count --by's text output: `order` is
    "count-first" ("N value", as uniq -c) or "value-first" ("value N", as
    mmk words), found by probe_by_format()."""
    if order == "count-first":
        return parse_uniq(text)
    table = {}
    for line in text.splitlines():
        value, _, n = line.rpartition(" ")
        if not n.isdigit():
            raise ValueError("not a 'value count' line: %r" % line[:80])
        table[value] = table.get(value, 0) + int(n)
    return table


def top_key(table, n):
    """What two top-N tables must share when ties are cut differently: the
    sorted counts of the N largest, and the values whose count is above the
    N-th (those are in every correct top N)."""
    counts = sorted(table.values(), reverse=True)[:n]
    if not counts:
        return ((), ())
    cut = counts[-1]
    sure = sorted(v for v, c in table.items() if c > cut)
    return (tuple(counts), tuple(sure))


def digest(text):
    """Printed lines compared byte for byte (shown as lines + hash)."""
    return "%d lines, sha256 %s" % (text.count("\n"), hashlib.sha256(
        text.encode("utf-8", "surrogateescape")).hexdigest()[:12])


def help_has(help_text, opt):
    """Whether a --help text lists option `opt` ("-v", "--since")."""
    if opt.startswith("--"):
        return re.search(r"(?:^|[\s,\[])%s(?:[\s=,\[\]]|$)" % re.escape(opt), help_text,
                         re.M) is not None
    return re.search(r"(?:^|[\s,\[])%s(?:[\s,=\]]|$)" % re.escape(opt), help_text,
                     re.M) is not None


def ratio_ok(kind, value, goal):
    if value is None:
        return None
    return value < goal if kind == "below" else value >= goal


def self_test():
    assert parse_int("42\n") == 42 and parse_int("") is None
    assert parse_uniq("  3 a b\n 10 200\n") == {"a b": 3, "200": 10}
    assert parse_table("  3 x\n  1 y\n", "count-first") == {"x": 3, "y": 1}
    assert parse_table("x 3\ny z 1\n", "value-first") == {"x": 3, "y z": 1}
    try:
        parse_uniq("x\n")
        raise AssertionError("bad uniq line accepted")
    except ValueError:
        pass
    t1 = {"a": 5, "b": 4, "c": 2, "d": 2}
    t2 = {"a": 5, "b": 4, "d": 2}  # a top 3 that cut the tie at 2 the other way
    assert top_key(t1, 3) == top_key({"a": 5, "b": 4, "c": 2}, 3) == top_key(t2, 3)
    assert top_key(t1, 3) != top_key({"a": 5, "b": 3, "c": 2}, 3)
    h = "  -v, --invert-match   x\n      --since TIME   y\n  -C, --context N\n"
    assert help_has(h, "-v") and help_has(h, "--since") and help_has(h, "-C")
    assert not help_has(h, "-z") and not help_has(h, "--until") and not help_has(h, "--in")
    assert help_has("  -m N, --max-count=N\n", "-m") and help_has("  [--by GROUP]", "--by")
    assert ratio_ok("below", 0.01, 0.02) and not ratio_ok("below", 0.03, 0.02)
    assert ratio_ok("atleast", 2.0, 2.0) and ratio_ok("atleast", None, 1) is None
    assert digest("a\nb\n").startswith("2 lines")
    check_corpus()
    print("bench_logs.py self-test: ok")


CLF_LINE = re.compile(
    rb'^(\d{1,3}(?:\.\d{1,3}){3}) - (\S+) \[(\d\d)/Nov/2026:(\d\d):(\d\d):(\d\d) \+0000\] '
    rb'"([A-Z]+) (/\S*) (HTTP/[0-9.]+)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$')
SYSLOG_LINE = re.compile(rb"^Nov ([ \d]\d) (\d\d):(\d\d):(\d\d) (\S+) ([\w/]+)\[(\d+)\]: .+$")


def check_corpus():
    """gen_logs.py on a small corpus: every line has its format, times never go
    back and span the month, the compressed copies hold the same bytes, the
    tree has its files, and the same seed gives the same bytes."""
    import gzip
    gen = os.path.join(HERE, "gen_logs.py")
    with tempfile.TemporaryDirectory() as td:
        outs = []
        for d in ("a", "b"):
            p = subprocess.run([sys.executable, gen, os.path.join(td, d), "--size", "1M",
                                "--syslog-size", "200K", "--tree-files", "60",
                                "--tree-file-size", "1K"], capture_output=True, check=True)
            outs.append(p.stdout.decode().strip().splitlines()[-1])
        a = os.path.join(td, "a")
        with open(outs[0]) as f:
            man = json.load(f)["files"]
        acc = open(os.path.join(a, "access.log"), "rb").read()
        assert acc == open(os.path.join(td, "b", "access.log"), "rb").read(), "not deterministic"
        assert abs(len(acc) - (1 << 20)) < 1000 and man["access.log"]["bytes"] == len(acc)
        last, statuses, hours = -1, {}, set()
        for line in acc.splitlines():
            m = CLF_LINE.match(line)
            assert m, "not a combined-format line: %r" % line[:120]
            t = ((int(m.group(3)) - 1) * 24 + int(m.group(4))) * 3600 + int(m.group(5)) * 60 + \
                int(m.group(6))
            assert t >= last, "time goes back: %r" % line[:60]
            last = t
            statuses[m.group(10)] = statuses.get(m.group(10), 0) + 1
            hours.add(t // 3600)
        n = acc.count(b"\n")
        assert n == man["access.log"]["lines"]
        assert man["access.log"]["first"].startswith("01/Nov/2026:00:00")
        assert man["access.log"]["last"].startswith("30/Nov/2026:23:5")
        assert len(hours) > 690, "a month of hours: %d" % len(hours)  # evenly spread
        assert 0.7 < statuses[b"200"] / n < 0.9 and len(statuses) >= 8, statuses
        if "access.log.gz" in man:
            assert gzip.decompress(open(os.path.join(a, "access.log.gz"), "rb").read()) == acc
        if "access.log.zst" in man:
            p = subprocess.run(["zstd", "-dc", os.path.join(a, "access.log.zst")],
                               capture_output=True, check=True)
            assert p.stdout == acc
        syslog = open(os.path.join(a, "syslog"), "rb").read()
        last, cont = (0, 0), 0
        for line in syslog.splitlines():
            if line.startswith(b"\t"):
                cont += 1
                continue
            m = SYSLOG_LINE.match(line)
            assert m, "not a syslog line: %r" % line[:120]
            t = (int(m.group(1)), int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4)))
            assert t >= last, "syslog time goes back: %r" % line[:60]
            last = t
        assert cont > 0, "no continuation lines"
        files = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(a, "tree")) for f in fs]
        assert len(files) == 60 == man["tree"]["files"]
        assert any(f.endswith(".log.1") for f in files) and any(f.endswith(".log") for f in files)
        assert all(os.path.getsize(f) > 0 for f in files)


# ---------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------


class Tool:
    def __init__(self, key, label, family, cmd, role="peer", parse="int"):
        self.key, self.label, self.family, self.cmd = key, label, family, cmd
        self.role = role      # mmk, ref (the answer the others are checked against), peer
        self.parse = parse    # int, uniq, by, top10, by-top10, digest, set
        self.samples, self.answer, self.shown = [], None, None
        self.error, self.missing = None, False


class Job:
    def __init__(self, jid, title, nbytes, tools, targets, needs=(), note=""):
        self.id, self.title, self.nbytes = jid, title, nbytes
        self.tools, self.targets = tools, targets
        self.needs = needs    # mmk options the job uses: ("grep", "-z"), ...
        self.note = note
        self.skipped = None
        self.checks = []


def q(s):
    return shlex.quote(s)


def build_jobs(c, mmk, by_order):
    """c: the corpus paths and sizes. Command lines run by sh in the corpus
    directory (file names relative to it, as printed)."""
    M = q(mmk)
    A, GZ, ZST, T = "access.log", "access.log.gz", "access.log.zst", "tree"
    sA = c["bytes"]["access.log"]
    jobs = []

    def single(ratio=2.0):
        return [("mmk ≥ ripgrep", "speedup", "rg", 1.0),
                ("mmk ≥ %g× ripgrep (single large file)" % ratio, "speedup", "rg", ratio)]

    # 1. count the lines that do not match
    p = '" 200 '
    jobs.append(Job("invert", "Count non-matching lines: `grep -c -v '%s'` (requests not 200)" % p,
                    sA, [
                        Tool("mmk", "mmk grep -c -v", "mmk", "%s grep -c -v %s %s" % (M, q(p), A), "mmk"),
                        Tool("rg", "rg -c -v", "rg", "rg -c -v %s %s" % (q(p), A)),
                        Tool("grep", "grep -c -v -P", "grep", "grep -c -v -P %s %s" % (q(p), A), "ref"),
                        Tool("ugrep", "ugrep -c -v -P", "ugrep", "ugrep -c -v -P %s %s" % (q(p), A)),
                    ], single(), needs=(("grep", "-v"), ("grep", "-c"))))

    # 2. only the matches, counted by wc -l
    p = r"/[a-z]+/[a-z]+"
    jobs.append(Job("only", "Matches, one per line: `grep -o '%s' | wc -l`" % p, sA, [
        Tool("mmk", "mmk grep -o | wc -l", "mmk", "%s grep -o %s %s | wc -l" % (M, q(p), A), "mmk"),
        Tool("rg", "rg -o | wc -l", "rg", "rg -o %s %s | wc -l" % (q(p), A)),
        Tool("grep", "grep -oP | wc -l", "grep", "grep -oP %s %s | wc -l" % (q(p), A), "ref"),
        Tool("ugrep", "ugrep -o -P | wc -l", "ugrep", "ugrep -o -P %s %s | wc -l" % (q(p), A)),
        Tool("mmk-count", "mmk count (same matches, counted)", "mmk",
             "%s count --no-progress %s %s" % (M, q(p), A)),
    ], single(), needs=(("grep", "-o"),)))

    # 3. context lines around a rare match
    p = r"/admin/debug/\w+"
    jobs.append(Job("context", "Context: `grep -C 2 '%s'` (about 1 line in 50,000)" % p, sA, [
        Tool("mmk", "mmk grep -C 2", "mmk", "%s grep -C 2 %s %s" % (M, q(p), A), "mmk", "digest"),
        Tool("rg", "rg -C 2", "rg", "rg -C 2 %s %s" % (q(p), A), parse="digest"),
        Tool("grep", "grep -C 2 -P", "grep", "grep -C 2 -P %s %s" % (q(p), A), "ref", "digest"),
        Tool("ugrep", "ugrep -C 2 -P", "ugrep", "ugrep -C 2 -P %s %s" % (q(p), A), parse="digest"),
    ], single(), needs=(("grep", "-C"),),
        note="The printed lines (with `--` between groups) must be the same bytes for every tool."))

    # 3b. a syslog's stack traces: the line and the 6 continuation lines after it
    if "syslog" in c["bytes"]:
        p, S = r"ERROR unhandled exception in worker \d+", "syslog"
        jobs.append(Job("syslog-after", "Stack traces in a syslog: `grep -A 6 '%s'`" % p,
                        c["bytes"]["syslog"], [
                            Tool("mmk", "mmk grep -A 6", "mmk", "%s grep -A 6 %s %s" % (M, q(p), S),
                                 "mmk", "digest"),
                            Tool("rg", "rg -A 6", "rg", "rg -A 6 %s %s" % (q(p), S), parse="digest"),
                            Tool("grep", "grep -A 6 -P", "grep", "grep -A 6 -P %s %s" % (q(p), S),
                                 "ref", "digest"),
                            Tool("ugrep", "ugrep -A 6 -P", "ugrep", "ugrep -A 6 -P %s %s" % (q(p), S),
                                 parse="digest"),
                        ], single(), needs=(("grep", "-A"),),
                        note="The syslog is a tenth of the access log's size; its errors are "
                             "followed by indented traceback lines."))

    # 4. which files of the tree match
    p = "ERROR unhandled"
    nt = c["tree_files"]
    jobs.append(Job("files", "Files with a match in a tree of %s small logs: `-l`" % format(nt, ","),
                    c["bytes"]["tree"], [
                        Tool("mmk", "mmk grep -l", "mmk", "%s grep -l %s %s" % (M, q(p), T), "mmk", "set"),
                        Tool("rg", "rg -l --no-ignore", "rg", "rg -l --no-ignore %s %s" % (q(p), T),
                             parse="set"),
                        Tool("grep", "grep -r -l -P", "grep", "grep -r -l -P %s %s" % (q(p), T), "ref",
                             "set"),
                        Tool("ugrep", "ugrep -r -l -P", "ugrep", "ugrep -r -l -P %s %s" % (q(p), T),
                             parse="set"),
                    ], [("mmk ≥ ripgrep", "speedup", "rg", 1.0)], needs=(("grep", "-l"),),
                    note="Compared as sets of paths (ripgrep's order varies from run to run). "
                         "ripgrep runs with --no-ignore: the corpus lives in an ignored build "
                         "directory."))

    # 5. the matching lines of the tree
    p = r"Failed password for invalid user \w+ from"
    jobs.append(Job("tree", "Matching lines in the tree: `grep -r '%s' | wc -l`" % p,
                    c["bytes"]["tree"], [
                        Tool("mmk", "mmk grep -r | wc -l", "mmk", "%s grep -r %s %s | wc -l" % (M, q(p), T),
                             "mmk"),
                        Tool("rg", "rg --no-ignore | wc -l", "rg",
                             "rg --no-ignore %s %s | wc -l" % (q(p), T)),
                        Tool("grep", "grep -r -P | wc -l", "grep", "grep -r -P %s %s | wc -l" % (q(p), T),
                             "ref"),
                        Tool("ugrep", "ugrep -r -P | wc -l", "ugrep",
                             "ugrep -r -P %s %s | wc -l" % (q(p), T)),
                    ], [("mmk ≥ ripgrep", "speedup", "rg", 1.0)], needs=(("grep", "-r"),)))

    # 6.-7. compressed copies
    p = '" 50[0-9] '
    for fmt, path, cat, zg in (("gz", GZ, "gzip -dc", "zgrep"), ("zst", ZST, "zstd -dc", "zstdgrep")):
        if path not in c["bytes"]:
            continue
        jobs.append(Job("z" + fmt, "Compressed (%s, %s MB unpacked): `-z -c '%s'`" % (
            fmt, format(sA // 10 ** 6, ","), p), sA, [
                Tool("mmk", "mmk grep -z -c", "mmk", "%s grep -z -c %s %s" % (M, q(p), path), "mmk"),
                Tool("rg", "rg -z -c", "rg", "rg -z -c %s %s" % (q(p), path)),
                Tool("ugrep", "ugrep -z -c -P", "ugrep", "ugrep -z -c -P %s %s" % (q(p), path)),
                Tool(zg, "%s -c -P" % zg, "zgrep", "%s -c -P %s %s" % (zg, q(p), path)),
                Tool("grep", "%s | grep -c -P" % cat, "grep", "%s %s | grep -c -P %s" % (cat, path, q(p)),
                     "ref"),
            ], single(), needs=(("grep", "-z"),),
            note="GB/s and ratios are by the unpacked size."))

    # 8.-10. counts per value
    for jid, what, pat, group, awk, grep_p, top in (
            ("by-status", "status codes", r'HTTP/[0-9.]+" (\d{3}) ', 1, "{print $9}",
             r'HTTP/[0-9.]+" \K\d{3}(?= )', None),
            ("by-ip", "top 10 client IPs", r"^\S+", 0, "{print $1}", r"^\S+", 10),
            ("by-path", "top 10 paths", r'"[A-Z]+ ([^ ?"]+)', 1, '{split($7, a, "?"); print a[1]}',
             r'"[A-Z]+ \K[^ ?"]+', 10)):
        head = " | head -%d" % top if top else ""
        tail = " | sort | uniq -c | sort -rn" + head
        topt = " --top %d" % top if top else ""
        parse = "top10" if top else "uniq"
        rg_cmd = ("rg -o -r '$%d' %s %s" % (group, q(pat), A) if group else
                  "rg -o %s %s" % (q(pat), A))
        jobs.append(Job(jid, "Counts per value, %s: `mmk count --by %d%s '%s'`" % (
            what, group, topt, pat), sA, [
                Tool("mmk", "mmk count --by %d%s" % (group, topt), "mmk",
                     "%s count --no-progress --by %d%s %s %s" % (M, group, topt, q(pat), A), "mmk",
                     ("by-top10" if top else "by") + ":" + by_order),
                Tool("awk", "awk | sort | uniq -c | sort -rn" + head.replace("|", "|"), "awk",
                     "awk %s %s%s" % (q(awk), A, tail), "ref", parse),
                Tool("grep", "grep -oP | sort | uniq -c | sort -rn" + head, "grep",
                     "grep -oP %s %s%s" % (q(grep_p), A, tail), parse=parse),
                Tool("rg", "rg -o | sort | uniq -c | sort -rn" + head, "rg", rg_cmd + tail,
                     parse=parse),
            ], [("mmk ≥ 10× awk | sort | uniq -c", "speedup", "awk", 10.0),
                ("mmk ≥ ripgrep pipeline", "speedup", "rg", 1.0)],
            needs=(("count", "--by"),) + ((("count", "--top"),) if top else ()),
            note=("Tables compared whole." if not top else
                  "Top 10 compared as the 10 largest counts and the values above the 10th "
                  "(ties at the cut may be listed differently).")))

    # 11.-12. a one-hour window
    since, until, prefix = WINDOW
    tw = "--since %s --until %s" % (since, until)
    jobs.append(Job("since-first", "First line of a one-hour window (whole process): "
                    "`mmk grep %s -m1 .`" % tw, sA, [
                        Tool("mmk", "mmk grep --since --until -m1 .", "mmk",
                             "%s grep %s -m1 . %s" % (M, tw, A), "mmk", "digest"),
                        Tool("rg", "rg -m1 '%s'" % prefix, "rg", "rg -m1 %s %s" % (q(prefix), A),
                             parse="digest"),
                        Tool("grep", "grep -m1 -P '%s'" % prefix, "grep",
                             "grep -m1 -P %s %s" % (q(prefix), A), "ref", "digest"),
                        Tool("ugrep", "ugrep -m1 -P '%s'" % prefix, "ugrep",
                             "ugrep -m1 -P %s %s" % (q(prefix), A), parse="digest"),
                    ], [("mmk < 20 ms whole process", "below", "mmk", 0.020)],
                    needs=(("grep", "--since"), ("grep", "--until"), ("grep", "-m")),
                    note="The peers have no time ranges: they look for the hour's timestamp "
                         "prefix from the start of the file; mmk finds the window's start by "
                         "binary search over the map."))
    jobs.append(Job("since-count", "Lines in a one-hour window: `mmk grep %s -c .`" % tw, sA, [
        Tool("mmk", "mmk grep --since --until -c .", "mmk", "%s grep %s -c . %s" % (M, tw, A), "mmk"),
        Tool("rg", "rg -c '%s'" % prefix, "rg", "rg -c %s %s" % (q(prefix), A)),
        Tool("grep", "grep -c -P '%s'" % prefix, "grep", "grep -c -P %s %s" % (q(prefix), A), "ref"),
        Tool("ugrep", "ugrep -c -P '%s'" % prefix, "ugrep", "ugrep -c -P %s %s" % (q(prefix), A)),
    ], single(), needs=(("grep", "--since"), ("grep", "--until"), ("grep", "-c"))))
    return jobs


def answer_of(tool, out):
    kind = tool.parse
    if kind == "int":
        a = parse_int(out)
        if a is None:
            raise ValueError("printed no single number: %r" % out[:80])
        return a, format(a, ",")
    if kind == "digest":
        d = digest(out)
        return d, d
    if kind == "set":
        s = tuple(sorted(x[2:] if x.startswith("./") else x for x in out.splitlines()))
        return s, "%d files" % len(s)
    if kind.startswith("by"):
        base, _, order = kind.partition(":")
        t = parse_table(out, order)
        if base == "by-top10":
            return top_key(t, 10), "top 10: %s" % ", ".join(str(x) for x in top_key(t, 10)[0][:3]) + "…"
        return t, "%d values, %s in all" % (len(t), format(sum(t.values()), ","))
    if kind == "uniq":
        t = parse_uniq(out)
        return t, "%d values, %s in all" % (len(t), format(sum(t.values()), ","))
    if kind == "top10":
        k = top_key(parse_uniq(out), 10)
        return k, "top 10: %s" % ", ".join(str(x) for x in k[0][:3]) + "…"
    raise ValueError(kind)


def run_cmd(cmd, cwd, env):
    """Run one command line: through sh when it is a pipeline, else directly
    (so a 10 ms job does not also time a shell's start-up)."""
    shell = "|" in cmd
    argv = cmd if shell else shlex.split(cmd)
    r0 = time.perf_counter()
    p = subprocess.run(argv, shell=shell, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    dt = time.perf_counter() - r0
    if p.returncode not in (0, 1):
        err = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError("exit %d: %s" % (p.returncode, (err[-1] if err else "")[:200]))
    return dt, p.stdout.decode("utf-8", "surrogateescape")


def measure(job, runs, quick, cwd, env, log):
    live = []
    for t in job.tools:
        if t.error:
            continue
        try:
            dt, out = run_cmd(t.cmd, cwd, env)
            t.answer, t.shown = answer_of(t, out)
        except (OSError, RuntimeError, ValueError) as e:
            t.error = str(e)
            log("  %-40s FAILED (%s)" % (t.label, t.error))
            continue
        if quick:
            t.samples.append(dt)  # the warm-up is the one run of a quick check
            continue
        live.append((t, B.plan_runs(dt, runs, quick)))
    # the answers must agree before timing means anything
    ref = next((t for t in job.tools if t.role == "ref" and t.answer is not None), None)
    base = ref or next((t for t in job.tools if t.answer is not None), None)
    for t in job.tools:
        if t is base or t.answer is None:
            continue
        if t.answer == base.answer:
            job.checks.append((True, "%s agrees with %s (%s)" % (t.label, base.label, t.shown)))
        else:
            msg = "MISMATCH: %s gives %s, %s gives %s" % (t.label, t.shown, base.label, base.shown)
            job.checks.append((False, msg))
            log("!!!!! %s: %s" % (job.id, msg))
    rounds = max([n for _, n in live], default=0)
    for r in range(rounds):
        for t, n in B.rotate(live, r):
            if r >= n or t.error:
                continue
            try:
                dt, _ = run_cmd(t.cmd, cwd, env)
            except (OSError, RuntimeError) as e:
                t.error = str(e)
                continue
            t.samples.append(dt)
    for t in job.tools:
        if t.samples:
            log("  %-44s median %8.4f s over %d  %s" % (t.label, B.median(t.samples),
                                                         len(t.samples), t.shown))


def evaluate(job):
    by = {t.key: t for t in job.tools}
    mmk = by.get("mmk")
    ms = B.median(mmk.samples) if mmk and mmk.samples else None
    rows = []
    for t in job.tools:
        s = B.median(t.samples) if t.samples else None
        rows.append({"key": t.key, "label": t.label, "family": t.family,
                     "cmd": B.portable(t.cmd), "samples": [round(x, 6) for x in t.samples],
                     "median_s": s, "gbps": B.gbps(job.nbytes, s),
                     "speedup_of_mmk": (s / ms) if (s and ms and t is not mmk) else None,
                     "answer": t.shown, "error": t.error, "missing": t.missing})
    targets = []
    mismatch = any(not ok for ok, _ in job.checks)
    for text, kind, other, goal in job.targets:
        value, shown = None, "not measured"
        if kind == "below" and ms is not None:
            value, shown = ms, "%.1f ms" % (1000 * ms)
        elif kind == "speedup":
            o = by.get(other)
            if ms and o and o.samples:
                value = B.median(o.samples) / ms
                shown = "%.2f×" % value
        reached = ratio_ok("below" if kind == "below" else "atleast", value, goal)
        if job.skipped:
            shown, reached = "skipped: " + job.skipped, None
        if mismatch and reached is not None:
            shown += " (answers disagree!)"
        targets.append({"job": job.id, "target": text, "value": value, "shown": shown,
                        "reached": reached})
    return rows, targets


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------


def write_chart(path_png, results, workdir):
    """Whole-process seconds per job and tool family (log scale, lower is better)."""
    gp = shutil.which("gnuplot")
    if not gp:
        return "gnuplot not installed: no chart"
    fams = [("mmk", "mmk"), ("rg", "ripgrep"), ("grep", "GNU grep"), ("ugrep", "ugrep"),
            ("zgrep", "zgrep / zstdgrep"), ("awk", "awk | sort | uniq -c")]
    lines, ymin, ymax = [], 1e9, 1e-9
    for j in results["jobs"]:
        if j["skipped"]:
            continue
        vals = []
        for fam, _ in fams:
            r = next((r for r in j["rows"] if r["family"] == fam and r["median_s"]
                      and (fam != "mmk" or r["key"] == "mmk")), None)
            vals.append("%.5f" % r["median_s"] if r else "?")
            if r:
                ymin, ymax = min(ymin, r["median_s"]), max(ymax, r["median_s"])
        lines.append('"%s" %s' % (j["id"], " ".join(vals)))
    if not lines:
        return "nothing to chart (every job skipped)"
    dat = os.path.join(workdir, "logs.dat")
    with open(dat, "w") as f:
        f.write("\n".join(lines) + "\n")
    plots = ["'%s' using %d:xtic(1) title '%s'" % (dat, i + 2, name)
             for i, (_, name) in enumerate(fams)]
    cairo = B._has_pngcairo(gp)
    script = """
set terminal {term} size 1200,620 {font}
set output '{out}'
set title "Log work on a {mb} MB access log and a tree of {nt} files (whole process, median; lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing '?'
set logscale y
set yrange [{ymin}:{ymax}]
set ylabel 'seconds (log scale)'
set grid ytics
set key below horizontal
set xtics nomirror rotate by -30
set arrow from graph 0, first 0.02 to graph 1, first 0.02 nohead dt 2 lc rgb 'gray30'
set label '20 ms' at graph 0.005, first 0.023 font ',8' tc rgb 'gray30'
plot {plots}
""".format(term="pngcairo" if cairo else "png", font="font 'sans,10'" if cairo else "",
           out=path_png, mb=format(results.get("access_bytes", 0) // 10 ** 6, ","),
           nt=format(results["tree_files"], ","), ymin=max(ymin / 2, 1e-4), ymax=ymax * 2,
           plots=", \\\n     ".join(plots))
    gpf = os.path.join(workdir, "logs.gp")
    with open(gpf, "w") as f:
        f.write(script)
    p = subprocess.run([gp, gpf], capture_output=True)
    if p.returncode != 0:
        return "gnuplot failed: " + p.stderr.decode("utf-8", "replace")[-300:]
    return None


def section(results, chart_rel):
    L = [BEGIN]
    w = L.append
    w("## Log work: mmk against ripgrep, GNU grep, ugrep, zgrep, awk | sort | uniq -c")
    w("")
    w("Written by `sh bench/run.sh BUILD --logs` (`python3 bench/logs/bench_logs.py`) from the "
      "measurements of %s UTC; raw figures in `%s`. Do not edit by hand." % (
          results["date"], results["json_name"]))
    if results["quick"]:
        w("")
        w("**Quick smoke run: small corpus, one run per tool — the figures are not meaningful, "
          "only that everything runs and agrees.**")
    w("")
    m = results["machine"]
    w("- Machine: %s, %d logical cores; load before / after: %s / %s." % (
        m["cpu"], m["cores"], results["load_before"], results["load_after"]))
    w("- Corpus (`python3 bench/logs/gen_logs.py`, seed %d): %s; a tree of %s small logs "
      "(%s bytes) in nested directories with rotated names; gzip and zstd copies of the access "
      "log. Read once with `cat` first (page-cached)." % (
          results["seed"], results["access_desc"], format(results["tree_files"], ","),
          format(results["tree_bytes"], ",")))
    w("- Every time is a whole process, start to exit (a pipeline runs under `sh -c`, pipes "
      "included; a single command runs directly); tools round-robin, one untimed warm-up each, median of %d timed runs (slow tools "
      "fewer). Environment `LC_ALL=C` for every tool (GNU grep's fast byte mode; `sort` "
      "bytewise)." % results["runs"])
    w("- Before any timing, every tool's answer is checked against the reference (GNU grep or "
      "awk): counts equal, tables of counts per value equal, file lists equal as sets, printed "
      "lines equal byte for byte. *mmk speed-up* = the tool's median time ÷ mmk's.")
    w("")
    w("### Targets")
    w("")
    w("| Job | Target | Measured | Reached |")
    w("|---|---|---|---|")
    for t in results["targets"]:
        reached = {True: "yes", False: "**no**", None: "not measured"}[t["reached"]]
        w("| %s | %s | %s | %s |" % (t["job"], t["target"].replace("|", "\\|"),
                                     t["shown"].replace("|", "/"), reached))
    w("")
    for j in results["jobs"]:
        w("### " + j["title"])
        w("")
        if j["skipped"]:
            w("Skipped: %s." % j["skipped"])
            w("")
            continue
        w("| Tool | Median s | GB/s | mmk speed-up | Answer | Runs |")
        w("|---|---:|---:|---:|---|---:|")
        for r in j["rows"]:
            label = r["label"].replace("|", "\\|")
            if r["error"]:
                w("| %s | %s: %s | | | | |" % (label, "not run" if r["missing"] else "failed",
                                             r["error"].replace("|", "/")))
                continue
            sp = "1×" if r["key"] == "mmk" else B.fmt(r["speedup_of_mmk"], ".2f") + (
                "×" if r["speedup_of_mmk"] else "")
            w("| %s | %s | %s | %s | %s | %d |" % (
                label, B.fmt(r["median_s"], ".4f"), B.fmt(r["gbps"], ".2f"), sp,
                (r["answer"] or "—").replace("|", "/"), len(r["samples"])))
        w("")
        bad = [c for ok, c in j["checks"] if not ok]
        if bad:
            for c in bad:
                w("**%s**" % c)
        elif j["checks"]:
            w("Answers agree.")
        if j["note"]:
            w(j["note"])
        w("")
        w("<details><summary>commands</summary>")
        w("")
        for r in j["rows"]:
            w("- `%s`" % r["cmd"].replace("`", "'"))
        w("")
        w("</details>")
        w("")
    if results["missing"]:
        w("### Not measured")
        w("")
        for s in results["missing"]:
            w("- " + s)
        w("")
    if results.get("chart_error"):
        w("(no chart: %s)" % results["chart_error"])
    else:
        w("![whole-process seconds per log job and tool](%s)" % chart_rel)
    w(END)
    return "\n".join(L) + "\n"


def update(path, text):
    """Replace the section between the markers in `path`, or append it."""
    old = open(path).read() if os.path.exists(path) else ""
    if BEGIN in old and END in old:
        a, b = old.index(BEGIN), old.index(END) + len(END)
        new = old[:a] + text.rstrip("\n") + old[b:]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def probe_by_format(mmk, env, workdir):
    """How `mmk count --by` prints a row: "count-first" or "value-first"."""
    p = os.path.join(workdir, "by-probe.txt")
    with open(p, "w") as f:
        f.write("xy\nxy\nxz\n")
    r = subprocess.run([mmk, "count", "--by", "1", "x(.)", p], capture_output=True, env=env)
    out = r.stdout.decode("utf-8", "replace")
    if re.search(r"^\s*2 y$", out, re.M):
        return "count-first"
    if re.search(r"^y\s+2$", out, re.M):
        return "value-first"
    return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build")
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(HERE)))
    ap.add_argument("--quick", action="store_true", help="small corpus, one run per tool")
    ap.add_argument("--size", default=None, help="access log size (default 1G; quick: 50M)")
    ap.add_argument("--tree-files", type=int, default=None, help="default 10000; quick: 1000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default=None)
    ap.add_argument("--corpus", default=None, help="default BUILD/corpus/logs[-quick]")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--render", metavar="RESULTS_JSON")
    ap.add_argument("--update", metavar="FILE", help="with --render: the Markdown file to update")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return 0
    if a.render:
        with open(a.render) as f:
            results = json.load(f)
        rel = results.get("chart_rel", "benchmarks-logs.png")
        text = section(results, rel)
        if a.update:
            update(a.update, text)
            print("bench_logs: updated %s" % a.update, file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0
    if not a.build:
        ap.error("--build is required")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    build = os.path.abspath(a.build)
    root = os.path.abspath(a.root)
    B.PATH_ALIASES[:] = [(os.path.realpath(sys.executable), "python3"), (sys.executable, "python3")]
    if not build.startswith(root + os.sep):
        B.PATH_ALIASES.append((build + os.sep, "BUILD/"))
    B.PATH_ALIASES.append((root + os.sep, ""))

    size = a.size or ("50M" if a.quick else "1G")
    nfiles = a.tree_files if a.tree_files is not None else (1000 if a.quick else 10000)
    cdir = os.path.abspath(a.corpus or os.path.join(build, "corpus",
                                                    "logs-quick" if a.quick else "logs"))
    seed = 8
    g = subprocess.run([sys.executable, os.path.join(HERE, "gen_logs.py"), cdir, "--size", size,
                        "--tree-files", str(nfiles), "--seed", str(seed)],
                       stdout=subprocess.PIPE, check=True)
    with open(g.stdout.decode().strip().splitlines()[-1]) as f:
        manifest = json.load(f)
    files = manifest["files"]
    nbytes = {name: info["bytes"] for name, info in files.items()}
    subprocess.run("cat access.log access.log.gz access.log.zst syslog > /dev/null 2>&1; "
                   "find tree -type f -exec cat {} + > /dev/null", shell=True, cwd=cdir)

    env = dict(os.environ, LC_ALL="C")
    missing = []
    mmk = B.find_mmk(build)
    helps = {}
    if mmk is None:
        missing.append("mmk not built in %s" % B.portable(build))
    else:
        for cmd in ("grep", "count"):
            p = subprocess.run([mmk, cmd, "--help"], capture_output=True, env=env)
            helps[cmd] = p.stdout.decode("utf-8", "replace")
    with tempfile.TemporaryDirectory() as td:
        by_order = probe_by_format(mmk, env, td) if mmk and help_has(helps.get("count", ""),
                                                                      "--by") else "unknown"
    c = {"bytes": nbytes, "tree_files": files.get("tree", {}).get("files", 0)}
    jobs = build_jobs(c, mmk or "BUILD/mmk", by_order)
    if a.only:
        keep = set(a.only.split(","))
        jobs = [j for j in jobs if j.id in keep]
    for j in jobs:
        if mmk is None:
            j.skipped = "mmk not built"
        else:
            lack = ["mmk %s %s" % (cmd, opt) for cmd, opt in j.needs
                    if not help_has(helps.get(cmd, ""), opt)]
            if lack:
                j.skipped = "%s not available yet (not in --help)" % ", ".join(lack)
        if j.skipped:
            log("bench_logs: skip %s: %s" % (j.id, j.skipped))
            continue
        for t in j.tools:
            exe = shlex.split(t.cmd)[0]
            if t.family != "mmk" and shutil.which(exe) is None:
                t.error, t.missing = "%s not installed" % exe, True
                missing.append("%s: %s not installed" % (t.label, exe))
            elif t.parse.endswith(":unknown"):
                t.error = "could not tell the row format of `mmk count --by` (probe)"

    log("bench_logs: %s; access.log %d bytes; tree %d files; load %s" % (
        "QUICK" if a.quick else "full", nbytes["access.log"], c["tree_files"], B.loadavg()))
    load_before, started = B.loadavg(), time.time()
    all_targets, rjobs = [], []
    for j in jobs:
        if not j.skipped:
            log("== " + j.title)
            measure(j, a.runs, a.quick, cdir, env, log)
        rows, tg = evaluate(j)
        all_targets += tg
        rjobs.append({"id": j.id, "title": j.title, "skipped": j.skipped, "rows": rows,
                      "checks": j.checks, "targets": tg, "note": j.note, "bytes": j.nbytes})

    in_tree = not (a.quick or a.out)
    out_dir = os.path.join(root, "bench", "logs") if in_tree else (
        a.out or os.path.join(build, "bench-quick"))
    os.makedirs(out_dir, exist_ok=True)
    if in_tree:
        md, js, png = (os.path.join(root, "BENCHMARKS.md"), os.path.join(out_dir, "results.json"),
                       os.path.join(out_dir, "benchmarks-logs.png"))
        chart_rel, json_name = "bench/logs/benchmarks-logs.png", "bench/logs/results.json"
    else:
        md, js, png = (os.path.join(out_dir, "BENCHMARKS-logs.md"),
                       os.path.join(out_dir, "logs-results.json"),
                       os.path.join(out_dir, "benchmarks-logs.png"))
        chart_rel, json_name = "benchmarks-logs.png", "logs-results.json"
    acc = files["access.log"]
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "quick": a.quick, "runs": 1 if a.quick else a.runs, "machine": B.machine_info(),
        "load_before": load_before, "load_after": B.loadavg(),
        "elapsed_s": round(time.time() - started, 1), "seed": seed,
        "access_desc": "a %s-byte combined-format access log (%s lines, %s to %s)" % (
            format(acc["bytes"], ","), format(acc["lines"], ","), acc["first"], acc["last"]),
        "access_bytes": acc["bytes"], "tree_files": c["tree_files"], "tree_bytes": nbytes.get("tree", 0),
        "mmk": B.portable(mmk), "by_format": by_order, "targets": all_targets, "jobs": rjobs,
        "missing": missing, "json_name": json_name, "chart_rel": chart_rel}
    with tempfile.TemporaryDirectory() as td:
        results["chart_error"] = write_chart(png, results, td)
    with open(js, "w") as f:
        json.dump(results, f, indent=1)
    if in_tree:
        update(md, section(results, chart_rel))
    else:
        with open(md, "w") as f:
            f.write(section(results, chart_rel))
    log("bench_logs: wrote %s, %s, %s (%.0f s)" % (md, js, png, time.time() - started))
    for t in all_targets:
        if t["shown"].startswith("skipped"):
            continue  # said once above
        log("  target %-12s %-40s %-28s %s" % (t["job"], t["target"], t["shown"],
                                               {True: "reached", False: "NOT reached",
                                                None: "not measured"}[t["reached"]]))
    bad = [c for j in rjobs for ok, c in j["checks"] if not ok]
    failed = [(j["id"], r["label"]) for j in rjobs for r in j["rows"]
              if r["error"] and not r["missing"]]
    for jid, label in failed:
        log("bench_logs: %s: %s failed" % (jid, label))
    if bad:
        log("bench_logs: %d MISMATCH(ES)" % len(bad))
    return 1 if (bad or failed) else 0


if __name__ == "__main__":
    sys.exit(main())
