#!/usr/bin/env python3
"""Side-by-side benchmarks of mmk / the mmkit Python module against their peers.

Run through bench/run.sh (make bench). Standard library only.

Method, in short (BENCHMARKS.md says it in full):
- Every timed run is a whole process, start to exit (subprocess +
  time.perf_counter), on a page-cached file (warmed with cat first).
- Within a job the tools run round-robin, one run each per round, the order
  rotating every round, so machine noise hits all tools alike; each job also
  runs the machine-limit probe (bench/limit) in its rounds, so "% of limit" is
  a ratio of figures measured side by side.
- One untimed warm-up run per tool (it also gives the count that is checked
  and the run time that decides how many timed runs a slow tool gets);
  medians are reported.
- Every tool's count is compared with mmk's and with the reference (GNU grep
  -o | wc -l, wc -l, wc -w); a mismatch is printed loudly and marked.

Outputs: BENCHMARKS.md (repo root), bench/results.json, bench/benchmarks.png.
With --quick (44 MB text, one run each, no warm-up) they go to
BUILD/bench-quick/ instead, so a smoke check never overwrites real results.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------
# Small pure helpers (covered by --self-test)
# ---------------------------------------------------------------------------


def parse_count(text):
    """The count a tool printed, or None when its output holds no single number.

    Accepts "5500", "5500 file" (wc), "file:5500", and pyjobs' "count=5500 ...".
    A file name such as kjv-1g.txt is not mistaken for a number because only
    whole whitespace/colon-separated tokens made of digits count.
    """
    m = re.search(r"(?:^|\s)count=(\d+)", text)
    if m:
        return int(m.group(1))
    tokens = [t for t in re.split(r"[\s:]+", text.strip()) if t]
    digits = [t for t in tokens if t.isdigit()]
    if len(digits) == 1:
        return int(digits[0])
    return None


def parse_kv(text):
    """key=value pairs printed by bench/limit and bench/pyjobs.py."""
    return dict(re.findall(r"(\w+)=(\S+)", text))


def median(values):
    return statistics.median(values) if values else None


def gbps(nbytes, seconds):
    if not seconds or seconds <= 0:
        return None
    return nbytes / seconds / 1e9


def speedup(mmk_gbps, tool_gbps):
    """How many times faster mmk is than a tool, by throughput (works across
    files of different sizes, e.g. Python on the 44 MB text)."""
    if not mmk_gbps or not tool_gbps:
        return None
    return mmk_gbps / tool_gbps


def rotate(items, k):
    if not items:
        return []
    k %= len(items)
    return items[k:] + items[:k]


def plan_runs(warm_seconds, runs, quick):
    """Timed runs for a tool whose warm-up took warm_seconds: all `runs` for
    fast tools, fewer for slow ones so that `make bench` stays near 10 min."""
    if quick:
        return 1
    if warm_seconds is None or warm_seconds < 2.5:
        return runs
    if warm_seconds < 12:
        return min(runs, 3)
    return 1


def fmt(x, spec, none="—"):
    return none if x is None else format(x, spec)


def parse_word_table(text):
    """{word: count} from 'word count' lines (mmk words, pyjobs words-check)."""
    table = {}
    for line in text.splitlines():
        word, _, n = line.rpartition(" ")
        if not n.isdigit():
            raise ValueError("not a 'word count' line: %r" % line[:80])
        table[word] = int(n)
    return table


def self_test():
    assert parse_count("5500\n") == 5500
    assert parse_count("7775500 /x/kjv-1g.txt\n") == 7775500
    assert parse_count("kjv-1g.txt:42\n") == 42
    assert parse_count("count=17 seconds=0.5 extra=3\n") == 17
    assert parse_count("") is None
    assert parse_count("1 2\n") is None
    assert parse_kv("map threads=2 gbps=7.5") == {"threads": "2", "gbps": "7.5"}
    assert median([3, 1, 2]) == 2 and median([4, 1, 2, 3]) == 2.5 and median([]) is None
    assert gbps(2e9, 2.0) == 1.0 and gbps(1, 0) is None
    assert speedup(10.0, 2.5) == 4.0 and speedup(None, 1) is None
    assert rotate([1, 2, 3], 1) == [2, 3, 1] and rotate([1, 2, 3], 3) == [1, 2, 3]
    assert plan_runs(0.1, 5, False) == 5 and plan_runs(5, 5, False) == 3
    assert plan_runs(30, 5, False) == 1 and plan_runs(0.1, 5, True) == 1
    assert parse_word_table("the 3\nand 2\n") == {"the": 3, "and": 2}
    try:
        parse_word_table("the three\n")
        raise AssertionError("bad table accepted")
    except ValueError:
        pass
    assert fmt(None, ".2f") == "—" and fmt(1.234, ".2f") == "1.23"
    print("bench.py self-test: ok")


# ---------------------------------------------------------------------------
# Tools and jobs
# ---------------------------------------------------------------------------


class Tool:
    """One command in a job. `cmd` is an argv list, or a string run by sh."""

    def __init__(self, key, label, family, cmd, path, role="peer", stdout_null=False,
                 env=None, inproc=False, ok_codes=(0, 1)):
        self.key = key
        self.label = label
        self.family = family  # mmk, rg, grep, ugrep, wc, python, limit, mmkit-py, mmap-py
        self.cmd = cmd
        self.path = path      # the file it reads (GB/s is its size / time)
        self.role = role      # mmk, peer, ref (reference count), limit
        self.stdout_null = stdout_null
        self.env = env or {}
        self.inproc = inproc  # prints seconds= of its own work (pyjobs)
        self.ok_codes = ok_codes
        self.samples = []     # whole-process seconds
        self.inproc_samples = []
        self.cpu_samples = []  # (user, sys) seconds per timed run
        self.last_cpu = (0.0, 0.0)
        self.count = None
        self.error = None
        self.missing = False  # not installed / not built: reported, not a failure
        self.extra = {}

    def display_cmd(self):
        if isinstance(self.cmd, str):
            return portable(self.cmd)
        return portable(" ".join(shlex.quote(c) for c in self.cmd))


class Job:
    def __init__(self, jid, title, path, tools, targets=(), note="", chart=None, inproc=False):
        self.id = jid
        self.title = title
        self.path = path      # main file: the limit rows read it
        self.tools = list(tools)
        self.targets = list(targets)  # (text, kind, args...)
        self.note = note
        self.chart = chart    # x label in the chart, None = not charted
        self.inproc = inproc  # rate the tools by their in-process seconds
        self.checks = []      # (ok, text)
        self.limit_gbps = None
        self.samples_taken = False


def run_once(tool, env_base):
    env = dict(env_base)
    env.update(tool.env)
    shell = isinstance(tool.cmd, str)
    # One child at a time, so the change in RUSAGE_CHILDREN is its CPU time
    # (with a shell pipeline's, as the shell reaps them).
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(tool.cmd, shell=shell, env=env,
                       stdout=subprocess.DEVNULL if tool.stdout_null else subprocess.PIPE,
                       stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    tool.last_cpu = (r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime)
    out = "" if tool.stdout_null else p.stdout.decode("utf-8", "replace")
    if p.returncode not in tool.ok_codes:
        err = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError("exit %d: %s" % (p.returncode, (err[-1] if err else "")[:200]))
    return dt, out


def record(tool, dt, out, timed):
    kv = parse_kv(out)
    if timed:
        tool.samples.append(dt)
        tool.cpu_samples.append(tool.last_cpu)
        if tool.inproc and "seconds" in kv:
            tool.inproc_samples.append(float(kv["seconds"]))
    if not tool.stdout_null:
        c = parse_count(out)
        if c is not None:
            tool.count = c
        for k in ("extra", "gbps"):
            if k in kv:
                tool.extra[k] = kv[k]


def measure(job, runs, quick, env, log):
    """Warm up, then round-robin timed runs; fills tool.samples."""
    live = []
    for t in job.tools:
        if t.error:
            continue
        if quick:
            live.append((t, 1))
            continue
        try:
            dt, out = run_once(t, env)
        except (OSError, RuntimeError) as e:
            t.error = str(e)
            log("  %-28s FAILED (%s)" % (t.label, t.error))
            continue
        record(t, dt, out, timed=False)
        live.append((t, plan_runs(dt, runs, quick)))
    rounds = max([n for _, n in live], default=0)
    for r in range(rounds):
        for t, n in rotate(live, r):
            if r >= n or t.error:
                continue
            try:
                dt, out = run_once(t, env)
            except (OSError, RuntimeError) as e:
                t.error = str(e)
                log("  %-28s FAILED (%s)" % (t.label, t.error))
                continue
            record(t, dt, out, timed=True)
    for t in job.tools:
        if t.samples:
            log("  %-34s median %8.3f s over %d  count=%s" % (
                t.label, median(t.samples), len(t.samples), t.count))


# ---------------------------------------------------------------------------
# The benchmark definition
# ---------------------------------------------------------------------------


def sh_quote(s):
    return shlex.quote(s)


# Prefixes of this machine's absolute paths and what the written results say
# instead, so BENCHMARKS.md and results.json name commands as a reader runs
# them from the repository: the interpreter as python3, the repository's own
# files relative to it, a build directory outside it as BUILD. Set by main().
PATH_ALIASES = []


def portable(text):
    """text with this machine's absolute paths replaced (see PATH_ALIASES)."""
    if not isinstance(text, str):
        return text
    for prefix, alias in PATH_ALIASES:
        text = text.replace(prefix, alias)
    # any other interpreter (another CPython the module was built for)
    return re.sub(r"/[^\s`'\"]*/bin/(python3[\d.]*)", r"\1", text)


def find_mmk(build):
    for cand in ("mmk", "cli/mmk"):
        p = os.path.join(build, cand)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def find_python_module(build):
    """(interpreter, PYTHONPATH) that can import the built mmkit, or (None, why)."""
    pydir = os.path.join(build, "python")
    # The package (mmkit/__init__.*.so, as python/CMakeLists.txt builds it),
    # or a flat module (mmkit*.so); PYTHONPATH is the directory that holds it.
    pkgs = sorted(glob.glob(os.path.join(pydir, "**", "mmkit", "__init__*.so"), recursive=True))
    flat = sorted(glob.glob(os.path.join(pydir, "**", "mmkit*.so"), recursive=True))
    if not pkgs and not flat:
        return None, "no mmkit module built under BUILD/python"
    so = pkgs[0] if pkgs else flat[0]
    path = os.path.dirname(os.path.dirname(so)) if pkgs else os.path.dirname(so)
    cands = [sys.executable]
    m = re.search(r"cpython-3(\d+)", os.path.basename(so))
    if m:
        ver = "3." + m.group(1)
        cands += [shutil.which("python" + ver) or "",
                  "/root/.pyenv/versions/%s/bin/python3" % ver]
        cands += sorted(glob.glob("/root/.pyenv/versions/%s.*/bin/python3" % ver))
    last = "no interpreter found"
    for py in cands:
        if not py or not os.path.exists(py):
            continue
        p = subprocess.run([py, "-c", "import mmkit, mmap; mmkit.mmap; print('ok')"],
                           env=dict(os.environ, PYTHONPATH=path), capture_output=True)
        if p.returncode == 0:
            return (py, path), None
        err = p.stderr.decode("utf-8", "replace").strip().splitlines()
        last = "%s: %s" % (os.path.basename(so), err[-1] if err else "import failed")
    return None, last


def build_jobs(a, big, small, mmk, mmk_why, nthreads, pymod, pywhy):
    py = sys.executable
    scale = round(os.path.getsize(big) / os.path.getsize(small))
    pyjobs = os.path.join(HERE, "pyjobs.py")
    limit = os.path.join(a.build, "bench", "limit")
    jobs = []

    # (key, label, limit arguments): pread with the 1 MiB buffer of the design,
    # and with 256 KiB, which fits the L2 cache and measured as fast or faster.
    methods = (("map", "map", ["-m", "map"]), ("populate", "populate", ["-m", "populate"]),
               ("pread", "pread 1 MiB", ["-m", "pread"]),
               ("pread256k", "pread 256 KiB", ["-m", "pread", "-b", "262144"]))

    def limit_tools(path):
        return [Tool("limit-%s" % key, "limit: %s, %d threads" % (label, nthreads), "limit",
                     [limit, "-t", str(nthreads)] + args + [path], path, role="limit")
                for key, label, args in methods]

    def mmk_tool(key, label, args, path, **kw):
        if mmk is None or mmk_why:
            t = Tool(key, label, "mmk", [mmk or "BUILD/mmk"] + args, path, role="mmk", **kw)
            t.error = mmk_why or "mmk not built"
            t.missing = True
            return t
        return Tool(key, label, "mmk", [mmk] + args, path, role="mmk", **kw)

    # 1. the machine limit
    lim = []
    for key, label, args in methods:
        for n in sorted({1, nthreads}):
            lim.append(Tool("%s-%d" % (key, n), "%s, %d thread%s" % (label, n, "s" if n > 1 else ""),
                            "limit", [limit, "-t", str(n)] + args + [big], big, role="limit"))
    jobs.append(Job("limit", "Machine limit: load every byte of the page-cached file", big, lim))

    # 2.-3. literals
    for jid, word, chart, targets in (
            ("rare", "Zerubbabel", "Zerubbabel",
             [("mmk ≥ 85 % of the all-threads limit", "limit_frac", "mmk", 0.85)]),
            ("frequent", "LORD", "LORD",
             [("mmk ≥ 3× ripgrep", "speedup", "mmk", "rg", 3.0)])):
        tools = [
            mmk_tool("mmk", "mmk count", ["count", "--no-progress", word, big], big),
            mmk_tool("mmk-mmap", "mmk count --mmap", ["count", "--no-progress", "--mmap", word, big], big),
            mmk_tool("mmk-pread", "mmk count --no-mmap",
                     ["count", "--no-progress", "--no-mmap", word, big], big),
            Tool("rg", "rg --count-matches", "rg", ["rg", "--count-matches", word, big], big),
            Tool("grep", "grep -o | wc -l", "grep",
                 "grep -o %s %s | wc -l" % (sh_quote(word), sh_quote(big)), big, role="ref"),
            Tool("ugrep", "ugrep -c -o", "ugrep", ["ugrep", "-c", "-o", word, big], big),
            Tool("python", "Python re.finditer over mmap", "python",
                 [py, pyjobs, "finditer", word, big], big),
        ] + limit_tools(big)
        jobs.append(Job(jid, "Count a %s word: `%s`" % ("rare" if jid == "rare" else "frequent", word),
                        big, tools, targets, chart=chart))

    # 4. whole word
    tools = [
        mmk_tool("mmk", "mmk count -w", ["count", "--no-progress", "-w", "LORD", big], big),
        Tool("rg", "rg -w --count-matches", "rg", ["rg", "-w", "--count-matches", "LORD", big], big),
        Tool("grep", "grep -ow | wc -l", "grep", "grep -ow LORD %s | wc -l" % sh_quote(big), big,
             role="ref"),
        Tool("ugrep", "ugrep -w -c -o", "ugrep", ["ugrep", "-w", "-c", "-o", "LORD", big], big),
        Tool("python", "Python re.finditer(rb'\\bLORD\\b') (44 MB)", "python",
             [py, pyjobs, "finditer", r"\bLORD\b", small], small),
    ] + limit_tools(big)
    jobs.append(Job("word", "Count a whole word: `-w LORD`", big, tools,
                    [("mmk ≥ 5× rg -w", "speedup", "mmk", "rg", 5.0)], chart="-w LORD",
                    note="Python's pattern is `\\bLORD\\b` (the same matches as -w here)."))

    # 5.-6. regexes
    for jid, pat in (("regex-eth", r"[a-z]+eth\b"), ("regex-ah", r"[A-Z][a-z]+ah\b")):
        tools = [
            mmk_tool("mmk", "mmk count", ["count", "--no-progress", pat, big], big),
            Tool("rg", "rg --count-matches", "rg", ["rg", "--count-matches", pat, big], big),
            Tool("grep", "grep -oE | wc -l", "grep",
                 "grep -oE %s %s | wc -l" % (sh_quote(pat), sh_quote(big)), big, role="ref"),
            Tool("ugrep", "ugrep -P -c -o", "ugrep", ["ugrep", "-P", "-c", "-o", pat, big], big),
            Tool("python", "Python re.finditer over mmap (44 MB)", "python",
                 [py, pyjobs, "finditer", pat, small], small),
        ] + limit_tools(big)
        jobs.append(Job(jid, "Count a regex: `%s`" % pat, big, tools,
                        [("mmk ≥ ripgrep", "speedup", "mmk", "rg", 1.0),
                         ("mmk ≥ 20× Python re (by throughput)", "speedup", "mmk", "python", 20.0)],
                        chart=pat,
                        note="ugrep runs with -P (PCRE2 JIT), its faster engine for these "
                             "patterns. Python runs on the 44 MB text (it needs ~30 s per GB); "
                             "its ratio compares throughputs, and its count is scaled ×%d to "
                             "compare with the others." % scale))
    # 7. lines
    tools = [
        mmk_tool("mmk", "mmk lines", ["lines", "--no-progress", big], big),
        Tool("wc", "wc -l", "wc", ["wc", "-l", big], big, role="ref"),
    ] + limit_tools(big)
    jobs.append(Job("lines", "Count lines: `mmk lines` vs `wc -l`", big, tools,
                    [("mmk ≥ 2× wc -l", "speedup", "mmk", "wc", 2.0)], chart="lines"))

    # 8. words
    tools = [
        mmk_tool("mmk", "mmk words > /dev/null", ["words", "--no-progress", big], big,
                 stdout_null=True),
        Tool("wc", "wc -w (only counts)", "wc", ["wc", "-w", big], big, role="ref"),
        Tool("python", "Python Counter(data.lower().split()) (44 MB)", "python",
             [py, pyjobs, "counter", small], small),
    ] + limit_tools(big)
    jobs.append(Job("words", "Word frequencies: `mmk words` (full sorted table) vs `wc -w`", big,
                    tools, [("mmk ≥ 3× wc -w", "speedup", "mmk", "wc", 3.0)], chart="words",
                    note="mmk builds and prints the full frequency table; wc -w only counts. "
                         "Both checked: mmk's table on the 44 MB text equals Python's Counter "
                         "exactly, and its counts on the big text sum to wc -w."))

    # 9.-11. the Python module, timed in-process
    if True:
        interp, pypath = pymod or (sys.executable, "")
        env = {"PYTHONPATH": pypath}
        for jid, title, path, a_args, b_args, label_a, label_b, factor in (
                ("py-count", "Python module: count `b\"Zerubbabel\"`", big,
                 ["mmkit-count", "Zerubbabel"], ["finditer", "Zerubbabel"],
                 "mmkit: mm.count(b'Zerubbabel')",
                 "mmap: sum(1 for _ in re.finditer(...))", 20.0),
                ("py-lines", "Python module: iterate over lines (44 MB)", small,
                 ["mmkit-lines"], ["readline"], "mmkit: for line in mm.lines()",
                 "mmap: for line in iter(mm.readline, b'')", 3.0),
                ("py-find", "Python module: find every `b\"LORD\"` by repeated mm.find (44 MB)",
                 small, ["mmkit-find", "LORD"], ["find", "LORD"],
                 "mmkit: mm.find loop", "mmap: mm.find loop", 1.0),
                ("py-grep", "Python module: lines holding `b\"Zerubbabel\"`", big,
                 ["mmkit-grep-list", "Zerubbabel"], ["grep-loop-issue", "Zerubbabel"],
                 "mmkit: list(mm.grep(b'Zerubbabel'))",
                 "mmap: [l for l in iter(mm.readline, b'') if re.search(p, l)]", 20.0)):
            tools = [Tool("mmkit", label_a, "mmkit-py", [interp, pyjobs] + a_args + [path], path,
                          role="mmk", env=env, inproc=True),
                     Tool("mmap", label_b, "mmap-py", [interp, pyjobs] + b_args + [path], path,
                          role="ref", env=env, inproc=True)]
            targets = [("mmkit ≥ %g× the standard module" % factor, "speedup", "mmkit", "mmap",
                        factor)]
            if jid == "py-grep":
                # Issue 10 defines the reference loop (re.search(p, l), as
                # above); beside it, a stricter one with the pattern compiled
                # once (rx.search(l)), whose ratio is shown as a second target.
                tools.append(Tool("mmap-rx", "mmap: [l for l in iter(mm.readline, b'') if "
                                  "rx.search(l)], rx compiled once", "mmap-py",
                                  [interp, pyjobs, "grep-loop-list", "Zerubbabel", path], path,
                                  role="peer", env=env, inproc=True))
                targets.append(("mmkit ≥ 20× the loop with the pattern compiled once (stricter)",
                                "speedup", "mmkit", "mmap-rx", 20.0))
            if not pymod:
                for t in tools:
                    t.error, t.missing = "module mmkit not available: %s" % pywhy, True
            jobs.append(Job(jid, title, path, tools, targets, inproc=True))
        # 12. mm.count() against the CLI: the map of a regular file is read
        # with pread as mmk count reads the file. mmk is timed as a whole
        # process; the Python side from `import mmkit` to the count's return
        # (pyjobs' seconds=), without the interpreter's own start, which is
        # 25-85 ms here before any of mmkit runs (python3 -c pass) and alone
        # exceeds a fifth of mmk's whole time.
        tools = [mmk_tool("mmk", "mmk count Zerubbabel", ["count", "--no-progress", "Zerubbabel",
                                                             big], big),
                 Tool("mmkit", "python3: import mmkit; mmkit.mmap(FILE).count(b'Zerubbabel')",
                      "mmkit-py", [interp, pyjobs, "mmkit-count", "Zerubbabel", big], big,
                      role="peer", env=env, inproc=True)]
        if not pymod:
            tools[1].error, tools[1].missing = "module mmkit not available: %s" % pywhy, True
        jobs.append(Job("py-count-cli",
                        "Python mm.count (import, map, count) vs `mmk count` (whole process)", big,
                        tools, [("mm.count within 1.2× of mmk count", "speedup", "mmkit", "mmk",
                                 1 / 1.2)]))
    return jobs


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


def tool_rate(job, t):
    """(seconds, GB/s) for a tool: whole-process medians, or in-process for
    the Python module jobs."""
    if job.inproc or (t.inproc and t.inproc_samples):
        s = median(t.inproc_samples)
    else:
        s = median(t.samples)
    return s, gbps(os.path.getsize(t.path), s)


def evaluate(job, scale, log):
    """Counts checks, per-job limit, ratios. Returns a list of row dicts."""
    by = {t.key: t for t in job.tools}
    lims = [tool_rate(job, t)[1] for t in job.tools if t.role == "limit" and t.samples]
    lims = [x for x in lims if x]
    job.limit_gbps = max(lims) if lims else None

    # counts: literals and lines/words are checked against the reference tool
    ref = next((t for t in job.tools if t.role == "ref" and t.count is not None), None)
    mmk = by.get("mmk") or by.get("mmkit")
    base = mmk if (mmk and mmk.count is not None) else ref
    if job.id != "limit" and base is not None:
        for t in job.tools:
            if t.role == "limit" or t.count is None or t is base:
                continue
            c = t.count
            if t.path != base.path:
                c = c * scale
            if c != base.count:
                msg = "COUNT MISMATCH: %s gives %d%s, %s gives %d" % (
                    t.label, t.count, " (×%d = %d)" % (scale, c) if t.path != base.path else "",
                    base.label, base.count)
                job.checks.append((False, msg))
                log("!!!!! " + job.title + ": " + msg)
            else:
                job.checks.append((True, "%s agrees (%d)" % (t.label, t.count)))
    rows = []
    mmk_gbps = tool_rate(job, mmk)[1] if (mmk and mmk.samples) else None
    for t in job.tools:
        if t.role == "limit" and job.id != "limit":
            continue
        s, g = tool_rate(job, t) if t.samples else (None, None)
        rows.append({
            "key": t.key, "label": t.label, "family": t.family, "cmd": t.display_cmd(),
            "file": os.path.basename(t.path), "bytes": os.path.getsize(t.path),
            "samples": [round(x, 6) for x in t.samples],
            "inproc_samples": [round(x, 6) for x in t.inproc_samples],
            "median_s": s, "median_whole_s": median(t.samples), "gbps": g,
            "median_user_s": median([u for u, _ in t.cpu_samples]),
            "median_sys_s": median([x for _, x in t.cpu_samples]),
            "speedup_of_mmk": None if t is mmk else speedup(mmk_gbps, g),
            "pct_of_limit": (100.0 * g / job.limit_gbps) if (g and job.limit_gbps and
                                                             t.path == job.path and not job.inproc)
            else None,
            "count": t.count, "error": t.error, "missing": t.missing, "extra": t.extra})
    return rows


def judge(job, rows, global_limit):
    by = {r["key"]: r for r in rows}
    out = []
    for tgt in job.targets:
        text, kind = tgt[0], tgt[1]
        value, reached, shown = None, None, "not measured"
        if kind == "limit_frac":
            r = by.get(tgt[2])
            if r and r["gbps"] and job.limit_gbps:
                value = r["gbps"] / job.limit_gbps
                reached = value >= tgt[3]
                shown = "%.0f %% of %.2f GB/s" % (100 * value, job.limit_gbps)
        elif kind == "speedup":
            a, b = by.get(tgt[2]), by.get(tgt[3])
            if a and b and a["gbps"] and b["gbps"]:
                value = a["gbps"] / b["gbps"]
                reached = value >= tgt[4]
                shown = "%.2f×" % value
                need = tgt[4] * b["gbps"]
                lim = job.limit_gbps or global_limit
                if not reached and lim and need > lim:
                    shown += " (the target needs %.1f GB/s, above the machine limit of %.1f)" % (
                        need, lim)
        if job.checks and any(not ok for ok, _ in job.checks):
            shown += " (count mismatch!)"
        out.append({"job": job.id, "target": text, "value": value, "shown": shown,
                    "reached": reached})
    return out


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------


def machine_info():
    info = {"cpu": platform.processor() or "", "cores": os.cpu_count(),
            "kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            info["memory_gib"] = round(kb / 2**20, 1)
    except OSError:
        pass
    vers = {}
    for name, cmd in (("rg", ["rg", "--version"]), ("grep", ["grep", "--version"]),
                      ("ugrep", ["ugrep", "--version"]), ("wc", ["wc", "--version"]),
                      ("gnuplot", ["gnuplot", "--version"]), ("gcc", ["gcc", "--version"]),
                      ("python3", [sys.executable, "--version"])):
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=10)
            first = (p.stdout or p.stderr).decode("utf-8", "replace").strip().splitlines()
            vers[name] = first[0] if first else "?"
        except (OSError, subprocess.SubprocessError):
            vers[name] = "not installed"
    info["versions"] = vers
    return info


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def write_chart(path_png, results, workdir):
    """GB/s per job per tool family, log scale, with the machine limit lines."""
    gp = shutil.which("gnuplot")
    if not gp:
        return "gnuplot not installed: no chart"
    fams = [("mmk", "mmk"), ("rg", "ripgrep"), ("grep", "GNU grep"), ("ugrep", "ugrep"),
            ("wc", "wc"), ("python", "Python")]
    dat = os.path.join(workdir, "chart.dat")
    lines = []
    ymax, ymin = 1.0, 10.0
    for j in results["jobs"]:
        if not j.get("chart"):
            continue
        vals = []
        for fam, _ in fams:
            r = next((r for r in j["rows"] if r["family"] == fam and r["gbps"]), None)
            if r and fam == "mmk" and r["key"] != "mmk":
                r = next((x for x in j["rows"] if x["key"] == "mmk" and x["gbps"]), r)
            vals.append("%.4f" % r["gbps"] if r else "?")
            if r:
                ymax, ymin = max(ymax, r["gbps"]), min(ymin, r["gbps"])
        vals.append("%.4f" % j["limit_gbps"] if j["limit_gbps"] else "?")
        label = j["chart"].replace("\\", "\\\\").replace('"', "'")
        lines.append('"%s" %s' % (label, " ".join(vals)))
    if not lines:
        return "nothing to chart"
    with open(dat, "w") as f:
        f.write("\n".join(lines) + "\n")
    lims = [j["limit_gbps"] for j in results["jobs"] if j.get("chart") and j["limit_gbps"]]
    if lims:
        ymax = max(ymax, max(lims))
    plots = []
    for i, (_, name) in enumerate(fams):
        plots.append("'%s' using %d:xtic(1) title '%s'" % (dat, i + 2, name))
    plots.append("'%s' using %d title 'machine limit, %d threads (same rounds)' "
                 "lc rgb 'gray30' fillstyle pattern 4 border -1"
                 % (dat, len(fams) + 2, results["machine"]["cores"]))
    script = """
set terminal {term} size 1200,620 {font}
set output '{out}'
set title "Throughput on the page-cached King James text (whole process, median; higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing '?'
set logscale y
set yrange [{ymin}:{ymax}]
set ylabel 'GB/s (log scale)'
set grid ytics
set key below horizontal
set xtics nomirror
plot {plots}
""".format(term="pngcairo" if _has_pngcairo(gp) else "png",
           font="font 'sans,10'" if _has_pngcairo(gp) else "",
           out=path_png, ymin=max(ymin / 2, 0.005), ymax=ymax * 2,
           plots=", \\\n     ".join(plots))
    gpf = os.path.join(workdir, "chart.gp")
    with open(gpf, "w") as f:
        f.write(script)
    p = subprocess.run([gp, gpf], capture_output=True)
    if p.returncode != 0:
        return "gnuplot failed: " + p.stderr.decode("utf-8", "replace")[-300:]
    return None


def _has_pngcairo(gp):
    p = subprocess.run([gp, "-e", "set terminal"], capture_output=True)
    return b"pngcairo" in (p.stdout + p.stderr)


def write_markdown(path, results, chart_rel, quick):
    m = results["machine"]
    L = []
    w = L.append
    w("# mmkit benchmarks")
    w("")
    w("Written by `bench/run.sh` (`make bench`) from the measurements of %s UTC; "
      "raw figures in `%s`. Do not edit by hand: run `make bench` again."
      % (results["date"], results["json_name"]))
    if quick:
        w("")
        w("**Quick smoke run (`--quick`): 44 MB text, one run per tool, no warm-up — "
          "the figures are not meaningful, only that everything runs and agrees.**")
    w("")
    w("## Machine")
    w("")
    w("- CPU: %s, %d logical cores; %s GiB RAM" % (m["cpu"], m["cores"], m.get("memory_gib", "?")))
    w("- Kernel: Linux %s" % m["kernel"])
    w("- Load average before / after the run: %s / %s (other work on the machine makes "
      "figures noisier; ratios measured side by side are the robust part)"
      % (results["load_before"], results["load_after"]))
    w("- Tools: " + "; ".join("%s" % v for v in m["versions"].values()))
    w("- mmk: `%s`; Python module: %s" % (results["mmk"] or "not built", results["pymod"]))
    w("")
    w("## Method")
    w("")
    w("- Corpus: the King James Bible (Debian `bible-kjv`, `bible -f \"Gen1:1-Rev22:21\"`, "
      "4.4 MB) repeated to **%s** (%d bytes)%s by `scripts/corpus.sh`; read once with "
      "`cat > /dev/null` first, so every run reads the page cache."
      % (results["big"], results["big_bytes"], "" if results["big"] == results["small"] else
         " and to %s (%d bytes, for the slow Python cases)" % (results["small"],
                                                              results["small_bytes"])))
    w("- Every time is a **whole process, start to exit** (Python `subprocess` around "
      "`time.perf_counter()`), including open, map/read, unmap and, for Python, the "
      "interpreter's start-up. The exception is the Python module section, which "
      "rates the module by the in-process time of the work itself (also shown: the "
      "whole-process time).")
    w("- Within a job the tools run **round-robin**: one run of each per round, the order "
      "rotating every round, so machine noise hits all of them alike. One untimed warm-up "
      "run per tool first. Reported: the **median** of %s timed runs (slow tools get 3 or "
      "1, see the runs column). The machine-limit job runs first and again last, its "
      "samples pooled." % results["runs"])
    w("- **Machine limit** (`bench/limit.c`): the whole-process rate of merely loading every "
      "8-byte word of the page-cached file (xor/sum so the loads stay), through a map "
      "(touched page by page, or after MADV_POPULATE_READ per work unit) and by `pread()` "
      "into a 1 MiB buffer per thread (and, since a buffer that fits the L2 cache can be "
      "faster, a 256 KiB one), with 1 thread and with all threads; the fastest "
      "method is the limit. Each job also runs the all-threads limit (all four variants) in "
      "its own rounds, and *% of limit* divides by that job's limit, so both figures met "
      "the same noise.")
    w("- *mmk speed-up* = mmk's GB/s ÷ the tool's GB/s (on different files, e.g. Python on "
      "the 44 MB text, this compares throughputs). *CPU user+sys* is the child's CPU time "
      "(median; above the wall time when several cores work; sys is the kernel's share: "
      "page faults, unmapping, copies out of the page cache).")
    w("- Counts: every tool's count is checked against mmk's (and mmk against the reference "
      "tool: `grep -o | wc -l`, `wc -l`, `wc -w`); results on the 44 MB text are scaled ×%d. "
      "A mismatch is marked **COUNT MISMATCH** below." % results["scale"])
    w("")
    w("## Targets")
    w("")
    w("| Job | Target | Measured | Reached |")
    w("|---|---|---|---|")
    for t in results["targets"]:
        reached = {True: "yes", False: "**no**", None: "not measured"}[t["reached"]]
        w("| %s | %s | %s | %s |" % (t["job"], t["target"], t["shown"], reached))
    w("")
    lim = results["limit"]
    w("## Machine limit")
    w("")
    w("Limit, %s: **%s GB/s with 1 thread**, **%s GB/s with %d threads** (the fastest "
      "method; the limit job's samples, first and last pass pooled)." % (results["big"], fmt(lim.get("one_thread_gbps"), ".2f"),
                       fmt(lim.get("all_threads_gbps"), ".2f"), m["cores"]))
    w("")
    for j in results["jobs"]:
        if j["id"] == "limit":
            w("| Method | Median s | GB/s | CPU user+sys s | Runs |")
            w("|---|---:|---:|---:|---:|")
            for r in j["rows"]:
                cpu = "—" if r["median_user_s"] is None else "%.2f + %.2f" % (
                    r["median_user_s"], r["median_sys_s"])
                w("| %s | %s | %s | %s | %d |" % (r["label"], fmt(r["median_s"], ".3f"),
                                                 fmt(r["gbps"], ".2f"), cpu, len(r["samples"])))
            w("")
    w("## Results")
    w("")
    for j in results["jobs"]:
        if j["id"] == "limit":
            continue
        w("### " + j["title"])
        w("")
        if j["inproc"]:
            w("| Tool | Median s (in-process) | Whole process s | GB/s | mmkit speed-up | Count | Runs |")
            w("|---|---:|---:|---:|---:|---:|---:|")
        else:
            w("| Tool | Median s | GB/s | mmk speed-up | % of limit | CPU user+sys s | Count | Runs |")
            w("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in j["rows"]:
            label = r["label"].replace("|", "\\|")  # a pipe would end the table cell
            if r["error"]:
                w("| %s | %s: %s | | | | | | |" % (label, "not run" if r["missing"] else "failed",
                                                r["error"].replace("|", "/")))
                continue
            sp = "—" if r["speedup_of_mmk"] is None else "%.2f×" % r["speedup_of_mmk"]
            if r["key"] in ("mmk", "mmkit"):
                sp = "1×"
            cnt = fmt(r["count"], ",d")
            if j["inproc"]:
                w("| %s | %s | %s | %s | %s | %s | %d |" % (
                    label, fmt(r["median_s"], ".3f"), fmt(r["median_whole_s"], ".3f"),
                    fmt(r["gbps"], ".3f"), sp, cnt, len(r["samples"])))
            else:
                cpu = "—" if r["median_user_s"] is None else "%.2f + %.2f" % (
                    r["median_user_s"], r["median_sys_s"])
                w("| %s | %s | %s | %s | %s | %s | %s | %d |" % (
                    label, fmt(r["median_s"], ".3f"), fmt(r["gbps"], ".3f"), sp,
                    fmt(r["pct_of_limit"], ".0f"), cpu, cnt, len(r["samples"])))
        if not j["inproc"] and j["limit_gbps"]:
            w("| *machine limit, all threads (this job's rounds)* | | %.3f | | 100 | | | |"
              % j["limit_gbps"])
        w("")
        bad = [c for ok, c in j["checks"] if not ok]
        if bad:
            for c in bad:
                w("**%s**" % c)
        elif j["checks"]:
            w("Counts agree.")
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
    if results["extra_checks"]:
        w("## Other checks")
        w("")
        for ok, c in results["extra_checks"]:
            w("- %s%s" % ("" if ok else "**FAILED:** ", c))
        w("")
    if results["missing"]:
        w("## Not measured")
        w("")
        for s in results["missing"]:
            w("- " + s)
        w("")
    w("## Chart")
    w("")
    if results.get("chart_error"):
        w("(no chart: %s)" % results["chart_error"])
    else:
        w("![throughput per job and tool](%s)" % chart_rel)
    w("")
    with open(path, "w") as f:
        f.write("\n".join(L))


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=False)
    ap.add_argument("--root", default=os.path.dirname(HERE))
    ap.add_argument("--quick", action="store_true", help="44 MB text, 1 run, no warm-up")
    ap.add_argument("--runs", type=int, default=5, help="timed runs for fast tools")
    ap.add_argument("--only", default="", help="comma-separated job ids (limit always runs)")
    ap.add_argument("--out", default=None, help="output directory for BENCHMARKS.md etc.")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--render", metavar="RESULTS_JSON",
                    help="only rewrite BENCHMARKS.md and the chart from a results.json")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return 0
    if a.render:
        with open(a.render) as f:
            results = json.load(f)
        out = os.path.dirname(os.path.abspath(a.render))
        in_tree = os.path.abspath(out) == os.path.join(os.path.abspath(a.root), "bench")
        md = os.path.join(a.root if in_tree else out, "BENCHMARKS.md")
        with tempfile.TemporaryDirectory() as td:
            results["chart_error"] = write_chart(os.path.join(out, "benchmarks.png"), results, td)
        write_markdown(md, results, "bench/benchmarks.png" if in_tree else "benchmarks.png",
                       results.get("quick"))
        print("bench: rewrote %s" % md, file=sys.stderr)
        return 0
    if not a.build:
        ap.error("--build is required")
    a.build = os.path.abspath(a.build)
    root = os.path.abspath(a.root)
    PATH_ALIASES[:] = [(os.path.realpath(sys.executable), "python3"), (sys.executable, "python3")]
    if not a.build.startswith(root + os.sep):
        PATH_ALIASES.append((a.build + os.sep, "BUILD/"))
    PATH_ALIASES.append((root + os.sep, ""))

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    corpus_sh = os.path.join(a.root, "scripts", "corpus.sh")
    cdir = os.path.join(a.build, "corpus")

    def corpus(name):
        p = subprocess.run(["sh", corpus_sh, cdir, name], capture_output=True, check=True)
        return p.stdout.decode().strip().splitlines()[-1]

    small = corpus("kjv-44m")
    big = small if a.quick else corpus("kjv-1g")
    for f in {small, big}:
        subprocess.run("cat %s > /dev/null" % sh_quote(f), shell=True, check=True)
    scale = round(os.path.getsize(big) / os.path.getsize(small))

    mmk = find_mmk(a.build)
    pymod, pywhy = find_python_module(a.build)
    missing = []
    mmk_why = None
    if mmk is None:
        mmk_why = "mmk not built in %s" % a.build
    else:
        p = subprocess.run([mmk, "count", "LORD", small], capture_output=True)
        if p.returncode != 0:
            mmk_why = "mmk does not work yet: `mmk count LORD` exited %d: %s" % (
                p.returncode, p.stderr.decode("utf-8", "replace").strip()[:200])
    if mmk_why:
        missing.append(mmk_why)
    if pymod is None:
        missing.append("Python module mmkit: %s" % pywhy)
    if not os.path.exists(os.path.join(a.build, "bench", "limit")):
        log("bench: %s/bench/limit is missing (cmake --build BUILD --target mmk_bench_limit)"
            % a.build)
        return 2

    nthreads = os.cpu_count() or 1
    env = dict(os.environ, LC_ALL="C")
    jobs = build_jobs(a, big, small, mmk, mmk_why, nthreads, pymod, pywhy)
    for j in jobs:  # a missing peer is skipped with a note, not an error
        for t in j.tools:
            exe = t.cmd.split()[0] if isinstance(t.cmd, str) else t.cmd[0]
            if t.error is None and shutil.which(exe) is None and not os.path.exists(exe):
                t.error = "%s not installed" % exe
                t.missing = True
                missing.append("%s: %s not installed" % (t.label, exe))
    if a.only:
        keep = set(a.only.split(",")) | {"limit"}
        jobs = [j for j in jobs if j.id in keep]

    log("bench: %s; %s; %d threads; load %s" % (
        "QUICK" if a.quick else "full", os.path.basename(big), nthreads, loadavg()))
    load_before = loadavg()
    started = time.time()
    all_targets, results_jobs = [], []
    glim = None
    # The limit job runs first and again last (its samples pooled), so the
    # machine limit in the summary reflects the whole run, not its first minute.
    order = jobs + [j for j in jobs if j.id == "limit" and not a.quick]
    for j in order:
        log("== " + j.title + (" (second pass)" if j.samples_taken else ""))
        measure(j, a.runs, a.quick, env, log)
        j.samples_taken = True
    for j in jobs:
        rows = evaluate(j, scale, log)
        if j.id == "limit":
            glim = max([r["gbps"] for r in rows if r["gbps"]], default=None)
        tg = judge(j, rows, glim)
        all_targets += tg
        results_jobs.append({"id": j.id, "title": j.title, "file": os.path.basename(j.path),
                             "chart": j.chart, "inproc": j.inproc, "note": j.note,
                             "limit_gbps": j.limit_gbps, "rows": rows,
                             "checks": j.checks, "targets": tg})

    # limit summary from the dedicated job
    limit = {}
    for j in results_jobs:
        if j["id"] == "limit":
            one = [r["gbps"] for r in j["rows"] if r["key"].endswith("-1") and r["gbps"]]
            allt = [r["gbps"] for r in j["rows"] if r["key"].endswith("-%d" % nthreads)
                    and r["gbps"]]
            limit = {"one_thread_gbps": max(one) if one else None,
                     "all_threads_gbps": max(allt) if allt else None}

    # untimed correctness checks of mmk words
    extra_checks = []
    if mmk and not mmk_why and (not a.only or "words" in a.only.split(",")):
        p1 = subprocess.run([mmk, "words", "--no-progress", small], capture_output=True, env=env)
        p2 = subprocess.run([sys.executable, os.path.join(HERE, "pyjobs.py"), "words-check", small],
                            capture_output=True, env=env)
        if p1.returncode == 0 and p1.stdout == p2.stdout:
            extra_checks.append((True, "`mmk words %s` is byte-for-byte the table of Python's "
                                       "Counter(data.lower().split()) (%d distinct words)"
                                 % (os.path.basename(small), p1.stdout.count(b"\n"))))
        else:
            why = "exit %d" % p1.returncode if p1.returncode else "tables differ"
            extra_checks.append((False, "`mmk words` vs Python Counter on %s: %s"
                                 % (os.path.basename(small), why)))
            log("!!!!! mmk words disagrees with Python's Counter: " + why)
        if not a.quick:
            p3 = subprocess.run([mmk, "words", "--no-progress", big], capture_output=True, env=env)
            wcj = next((j for j in jobs if j.id == "words"), None)
            wc = next((t.count for t in wcj.tools if t.key == "wc"), None) if wcj else None
            try:
                total = sum(parse_word_table(p3.stdout.decode("latin-1")).values())
            except ValueError:
                total = None
            ok = p3.returncode == 0 and total is not None and total == wc
            extra_checks.append((ok, "`mmk words %s`: counts sum to %s, wc -w says %s"
                                 % (os.path.basename(big), total, wc)))
            if not ok:
                log("!!!!! mmk words total disagrees with wc -w")

    out_dir = a.out or (os.path.join(a.build, "bench-quick") if a.quick else a.root)
    os.makedirs(out_dir, exist_ok=True)
    if a.quick or a.out:
        md_path = os.path.join(out_dir, "BENCHMARKS.md")
        json_path = os.path.join(out_dir, "results.json")
        png_path = os.path.join(out_dir, "benchmarks.png")
        chart_rel, json_name = "benchmarks.png", "results.json"
    else:
        md_path = os.path.join(a.root, "BENCHMARKS.md")
        json_path = os.path.join(a.root, "bench", "results.json")
        png_path = os.path.join(a.root, "bench", "benchmarks.png")
        chart_rel, json_name = "bench/benchmarks.png", "bench/results.json"

    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "quick": a.quick, "runs": a.runs, "machine": machine_info(),
        "load_before": load_before, "load_after": loadavg(),
        "elapsed_s": round(time.time() - started, 1),
        "big": os.path.basename(big), "big_bytes": os.path.getsize(big),
        "small": os.path.basename(small), "small_bytes": os.path.getsize(small),
        "scale": scale, "mmk": portable(mmk),
        "pymod": portable("`%s` with %s" % (pymod[1], pymod[0])) if pymod
        else "not available (%s)" % portable(pywhy),
        "limit": limit, "targets": all_targets, "jobs": results_jobs,
        "extra_checks": extra_checks, "missing": missing, "json_name": json_name}
    with tempfile.TemporaryDirectory() as td:
        results["chart_error"] = write_chart(png_path, results, td)
    with open(json_path, "w") as f:
        json.dump(results, f, indent=1)
    write_markdown(md_path, results, chart_rel, a.quick)
    log("bench: wrote %s, %s, %s (%.0f s)" % (md_path, json_path, png_path,
                                             time.time() - started))
    for t in all_targets:
        log("  target %-10s %-40s %-24s %s" % (t["job"], t["target"], t["shown"],
                                               {True: "reached", False: "NOT reached",
                                                None: "not measured"}[t["reached"]]))
    bad = [c for j in results_jobs for ok, c in j["checks"] if not ok]
    bad += [c for ok, c in extra_checks if not ok]
    failed = [(j["id"], r["label"]) for j in results_jobs for r in j["rows"]
              if r["error"] and not r["missing"]]
    for jid, label in failed:
        log("bench: %s: %s failed" % (jid, label))
    if bad:
        log("bench: %d COUNT MISMATCH(ES)" % len(bad))
    return 1 if (bad or failed) else 0


if __name__ == "__main__":
    sys.exit(main())
