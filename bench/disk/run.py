"""Files larger than memory: mmk against ripgrep and the machine's read rate (make bench-disk).

    sudo python3 bench/disk/run.py BUILD_DIR [--keep] [--passes N] [--only NAME,...]

Environment: MMK_DISK_FILE (where the text goes; default BUILD_DIR/bench-disk/big.txt,
which must be on the disk being measured), MMK_DISK_SIZE (bytes, default 26e9, with a
suffix G/M allowed), MMK_DISK_SMALL=1 (allow a file smaller than memory: quick
trials; the figures then say nothing about files larger than memory).

What it does:
- refuses (exit 2, one line saying why) when not root (caches are dropped through
  /proc/sys/vm/drop_caches), when the file would not be larger than memory, or when
  the disk lacks room for it;
- writes the text (bench/disk/gen.py: a 64 MiB block of English-like lines,
  rotated differently in each copy, a rare word planted once per copy), unless the
  file is there with its manifest (FILE.json) from an earlier --keep run;
- builds bench/disk/probe.c (reads with several requests in flight);
- for every command: sync, drop the page cache, then run it, timing the whole
  process and reading its peak resident memory and CPU time (GNU time, else
  wait4's rusage), the load average before it and the file's pages cached after
  it (fincore, when installed); counts are checked against the manifest (a wrong
  count fails the run);
- does that in --passes passes (default 2), the second in the reverse order:
  the virtual disk's host caches part of the file between runs, and a command
  run right after another that read the same bytes finds more of them there.
  Each row reports its best pass (and the other times beside it); the bar is the
  fastest read of any pass, and each mmk row is compared with its peer (the
  ripgrep or wc command doing the same job) best against best;
- writes bench/disk/RESULTS.md (the table) and its summary between markers in
  BENCHMARKS.md, and removes the file (kept with --keep).

A pass over 26 GB takes 5-60 s per command depending on the disk, and the whole
run 15-40 minutes. The figures are whole-process wall times on whatever else the machine
is doing (the load is recorded beside each)."""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BEGIN = "<!-- bench_disk: begin -->"
END = "<!-- bench_disk: end -->"


def die(msg):
    print("bench-disk: " + msg, file=sys.stderr)
    sys.exit(2)


def parse_size(s):
    s = s.strip()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:].upper(), 1)
    return int(float(s[:-1] if mult != 1 else s) * mult)


def mem_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def cached_bytes(path):
    """The file's bytes in the page cache (fincore), or None."""
    if not shutil.which("fincore"):
        return None
    r = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", path],
                       capture_output=True, text=True)
    try:
        return int(r.stdout.split()[0])
    except (ValueError, IndexError):
        return None


def run(argv, tmpdir):
    """Run argv once; returns (seconds, peak RSS in bytes, stdout, exit status, stderr).
    The peak RSS comes from GNU time (/usr/bin/time -f %M) when installed: a
    child forked from Python starts with Python's resident memory, which its
    own rusage would count; else from wait4's rusage."""
    gtime = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    rss_file = os.path.join(tmpdir, "rss")
    cmd = [gtime, "-f", "%M %U %S", "-o", rss_file] + argv if gtime else argv
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Output is small (counts, a word table): read it all, then reap.
    out, err = p.stdout.read(), p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.monotonic() - t0
    rss = ru.ru_maxrss * 1024
    cpu = ru.ru_utime + ru.ru_stime
    if gtime:
        try:
            with open(rss_file) as f:
                last = f.read().splitlines()[-1].split()
            rss, cpu = int(last[0]) * 1024, float(last[1]) + float(last[2])
        except (OSError, ValueError, IndexError):
            pass
    return secs, rss, cpu, out.decode(errors="replace"), os.waitstatus_to_exitcode(status), \
        err.decode(errors="replace")


def first_int(text):
    for tok in text.replace(":", " ").split():
        if tok.isdigit():
            return int(tok)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--keep", action="store_true", help="keep the file (and its manifest)")
    ap.add_argument("--only", default="", help="comma-separated names of the rows to run")
    ap.add_argument("--passes", type=int, default=2,
                    help="times each command runs, every other pass in reverse order (default 2)")
    a = ap.parse_args()

    mmk = os.path.join(a.build, "mmk")
    if not os.access(mmk, os.X_OK):
        die("%s is not built (make build first)" % mmk)
    if os.geteuid() != 0:
        die("needs root: the page cache is dropped before every run "
            "(echo 3 > /proc/sys/vm/drop_caches); run it with sudo")
    size = parse_size(os.environ.get("MMK_DISK_SIZE", "26000000000"))
    path = os.environ.get("MMK_DISK_FILE") or os.path.join(a.build, "bench-disk", "big.txt")
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mem = mem_total()
    if size <= mem and not os.environ.get("MMK_DISK_SMALL"):
        die("MMK_DISK_SIZE=%d is not larger than this machine's memory (%d bytes); "
            "set a larger size (or MMK_DISK_SMALL=1 for a quick trial)" % (size, mem))

    manifest_path = path + ".json"
    manifest = None
    if os.path.exists(path) and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
        if manifest.get("bytes") != os.path.getsize(path) or \
                abs(manifest["bytes"] - size) > (128 << 20):
            manifest = None
    if manifest is None:
        free = shutil.disk_usage(os.path.dirname(path)).free
        have = os.path.getsize(path) if os.path.exists(path) else 0
        if free + have < size + (2 << 30):
            die("%s has %.1f GB free; the file needs %.1f GB plus 2 GiB to spare"
                % (os.path.dirname(path), (free + have) / 1e9, size / 1e9))
        print("writing %.1f GB of text to %s ..." % (size / 1e9, path), flush=True)
        t0 = time.monotonic()
        out = subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), path, str(size)],
                             capture_output=True, text=True, check=True).stdout
        manifest = json.loads(out)
        with open(manifest_path, "w") as f:
            json.dump(manifest, f)
        print("  written in %.0f s" % (time.monotonic() - t0), flush=True)
    m = manifest

    probe = os.path.join(a.build, "bench-disk", "probe")
    os.makedirs(os.path.dirname(probe), exist_ok=True)
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-O2", "-pthread", os.path.join(HERE, "probe.c"), "-o", probe], check=True)

    rare, freq, regex = m["rare"], m["frequent"], m["regex"]
    rg = shutil.which("rg")
    # (name, kind, argv, expected number or None): kind "read" rows are the
    # machine's ways of reading the file; the fastest of them is the bar.
    rows = [
        ("dd iflag=direct bs=4M", "read",
         ["dd", "if=" + path, "of=/dev/null", "iflag=direct", "bs=4M"], None),
        ("dd bs=1M (buffered)", "read", ["dd", "if=" + path, "of=/dev/null", "bs=1M"], None),
        ("probe: O_DIRECT, 4 reads of 4 MiB in flight", "read",
         [probe, "-m", "direct", "-t", "4", "-b", str(4 << 20), path], None),
        ("probe: buffered, 4 reads of 4 MiB in flight", "read",
         [probe, "-m", "buffered", "-t", "4", "-b", str(4 << 20), path], None),
        ("probe: map, a byte of every page (kernel read-around)", "read",
         [probe, "-m", "map", path], None),
        ("mmk count RARE", "mmk", [mmk, "count", "--no-progress", rare, path], m["rare_count"]),
        ("mmk count --mmap RARE", "mmk", [mmk, "count", "--no-progress", "--mmap", rare, path],
         m["rare_count"]),
        ("mmk count --no-cache RARE", "mmk",
         [mmk, "count", "--no-progress", "--no-cache", rare, path], m["rare_count"]),
        ("mmk count FREQUENT", "mmk", [mmk, "count", "--no-progress", freq, path],
         m["frequent_count"]),
        ("mmk count REGEX", "mmk", [mmk, "count", "--no-progress", regex, path],
         m["regex_count"]),
        ("mmk grep -c RARE", "mmk", [mmk, "grep", "--no-progress", "-c", rare, path],
         m["rare_count"]),
        ("mmk lines", "mmk", [mmk, "lines", "--no-progress", path], m["lines"]),
        ("mmk lines --mmap", "mmk", [mmk, "lines", "--no-progress", "--mmap", path], m["lines"]),
        ("mmk words --top 5", "mmk", [mmk, "words", "--no-progress", "--top", "5", path], None),
        ("wc -l", "peer", ["wc", "-l", path], m["lines"]),
    ]
    if rg:
        rows += [
            ("rg --count-matches RARE (maps the file)", "peer",
             [rg, "--count-matches", rare, path], m["rare_count"]),
            ("rg --no-mmap --count-matches RARE", "peer",
             [rg, "--no-mmap", "--count-matches", rare, path], m["rare_count"]),
            ("rg --count-matches FREQUENT", "peer", [rg, "--count-matches", freq, path],
             m["frequent_count"]),
            ("rg --count-matches REGEX", "peer", [rg, "--count-matches", regex, path],
             m["regex_count"]),
            ("rg -c RARE", "peer", [rg, "-c", rare, path], m["rare_count"]),
        ]
    if a.only:
        keep = set(x.strip() for x in a.only.split(","))
        rows = [r for r in rows if r[0] in keep or r[1] == "read"]

    runs = {name: [] for name, _, _, _ in rows}
    failed = []
    tmpdir = tempfile.mkdtemp(prefix="bench-disk-")
    for p in range(max(1, a.passes)):
        print("pass %d of %d%s" % (p + 1, a.passes, " (reverse order)" if p % 2 else ""),
              flush=True)
        for name, kind, argv, want in (rows if p % 2 == 0 else rows[::-1]):
            load = loadavg()
            drop_caches()
            secs, rss, cpu, out, rc, err = run(argv, tmpdir)
            cached = cached_bytes(path)
            got = first_int(out) if want is not None else None
            ok = rc == 0 and (want is None or got == want)
            if not ok:
                failed.append("%s: exit %d, printed %r (expected %r) %s"
                              % (name, rc, out[:80], want, err.strip()[:200]))
            r = {"name": name, "kind": kind, "argv": argv, "seconds": round(secs, 2),
                 "rate": m["bytes"] / secs / 1e9, "max_rss": rss, "cpu": round(cpu, 2),
                 "load": load, "cached_after": cached, "ok": ok}
            runs[name].append(r)
            print("%-48s %7.1f s %6.3f GB/s  cpu %6.1f s  rss %7.1f MB  load %5.2f  cached %s%s"
                  % (name, secs, r["rate"], cpu, rss / 1e6, load,
                     "-" if cached is None else "%.1f GB" % (cached / 1e9),
                     "" if ok else "  WRONG"), flush=True)
    # Each row's best pass, with every pass's time.
    results = []
    for name, _, _, _ in rows:
        best = dict(min(runs[name], key=lambda r: r["seconds"]))
        best["passes"] = [r["seconds"] for r in runs[name]]
        best["ok"] = all(r["ok"] for r in runs[name])
        results.append(best)

    shutil.rmtree(tmpdir, ignore_errors=True)
    report(results, m, mem, path, a.keep)
    if not a.keep:
        os.unlink(path)
        os.unlink(manifest_path)
    if failed:
        print("bench-disk: wrong answers:\n  " + "\n  ".join(failed), file=sys.stderr)
        sys.exit(1)


# Each mmk job's peer: the ripgrep (or wc) command that does the same job.
PEERS = {
    "mmk count RARE": "rg --count-matches RARE (maps the file)",
    "mmk count --mmap RARE": "rg --count-matches RARE (maps the file)",
    "mmk count --no-cache RARE": "rg --count-matches RARE (maps the file)",
    "mmk count FREQUENT": "rg --count-matches FREQUENT",
    "mmk count REGEX": "rg --count-matches REGEX",
    "mmk grep -c RARE": "rg -c RARE",
    "mmk lines": "wc -l",
    "mmk lines --mmap": "wc -l",
}


def report(results, m, mem, path, keep):
    reads = [r for r in results if r["kind"] == "read"]
    best = max(reads, key=lambda r: r["rate"]) if reads else None
    by_name = {r["name"]: r for r in results}
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    L = []
    w = L.append
    w("# Files larger than memory (bench/disk)")
    w("")
    w("Generated by `make bench-disk` (`bench/disk/run.py`) on %s: a %.2f GB text file "
      "(%d lines) on the local disk, on a machine with %.2f GB of memory and %d cores. "
      "Before every command the page cache was dropped (`sync; echo 3 > "
      "/proc/sys/vm/drop_caches`); every command ran once per pass, the second pass in the "
      "reverse order (the virtual disk's host caches part of the file between runs), timed "
      "as a whole process; each row shows its best pass, with every pass's seconds beside "
      "it; *cpu* is that run's user + system time (above the seconds: more than one core "
      "busy); peak RSS from GNU time; *cached after* is the file's bytes in the page cache "
      "after the command (`fincore`); *load* is the 1-minute load average before it (other "
      "work on the machine shows in the figures). Every count was checked against the "
      "generator's manifest."
      % (date, m["bytes"] / 1e9, m["lines"], mem / 1e9, os.cpu_count() or 0))
    w("")
    w("RARE = `%s` (%d times), FREQUENT = `%s` (%d), REGEX = `%s` (%d matches)."
      % (m["rare"], m["rare_count"], m["frequent"], m["frequent_count"], m["regex"],
         m["regex_count"]))
    w("")
    if best:
        w("Fastest way this machine read the file: **%s**, %.3f GB/s." % (best["name"],
                                                                          best["rate"]))
        w("")
    w("| command | seconds | passes | GB/s | of the fastest read | vs its peer | cpu | "
      "peak RSS | cached after | load |")
    w("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        frac = "%.0f %%" % (100 * r["rate"] / best["rate"]) if best else "-"
        peer = by_name.get(PEERS.get(r["name"], ""))
        vs = "%.2f× `%s`" % (peer["seconds"] / r["seconds"], peer["name"]) if peer else "-"
        cached = "-" if r["cached_after"] is None else "%.1f GB" % (r["cached_after"] / 1e9)
        w("| `%s`%s | %.1f | %s | %.3f | %s | %s | %.1f s | %.0f MB | %s | %.1f |"
          % (r["name"], "" if r["ok"] else " **wrong**", r["seconds"],
             " / ".join("%.1f" % x for x in r["passes"]), r["rate"], frac, vs, r["cpu"],
             r["max_rss"] / 1e6, cached, r["load"]))
    w("")
    w("*vs its peer*: the peer's best time over the command's (above 1 = faster than the "
      "peer). The file was %s." % ("kept (--keep)" if keep else "removed afterwards"))
    text = "\n".join(L) + "\n"
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write(text)
    # The summary in BENCHMARKS.md, between its markers.
    S = [BEGIN, "", "## Files larger than memory", ""]
    if best:
        S.append("A %.1f GB file on a %.1f GB machine, caches dropped before each command "
                 "(%s; full table and method: [bench/disk/RESULTS.md](bench/disk/RESULTS.md)). "
                 "Fastest read: %s, %.3f GB/s."
                 % (m["bytes"] / 1e9, mem / 1e9, date, best["name"], best["rate"]))
        S.append("")
        S.append("| command | seconds (best pass) | of the fastest read | vs its peer | cpu | "
                 "peak RSS |")
        S.append("|---|---:|---:|---:|---:|---:|")
        for r in results:
            if r["kind"] != "read":
                peer = by_name.get(PEERS.get(r["name"], ""))
                S.append("| `%s` | %.1f | %.0f %% | %s | %.1f s | %.0f MB |"
                         % (r["name"], r["seconds"], 100 * r["rate"] / best["rate"],
                            "%.2f×" % (peer["seconds"] / r["seconds"]) if peer else "-",
                            r["cpu"], r["max_rss"] / 1e6))
    S += ["", END]
    md = os.path.join(ROOT, "BENCHMARKS.md")
    old = open(md).read() if os.path.exists(md) else ""
    sec = "\n".join(S)
    if BEGIN in old and END in old:
        a, b = old.index(BEGIN), old.index(END) + len(END)
        new = old[:a] + sec + old[b:]
    else:
        new = old.rstrip("\n") + "\n\n" + sec + "\n"
    with open(md, "w") as f:
        f.write(new)
    print("wrote bench/disk/RESULTS.md and the section of BENCHMARKS.md")


if __name__ == "__main__":
    main()
