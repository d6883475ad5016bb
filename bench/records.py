#!/usr/bin/env python3
"""The database use, measured: random 64-byte record reads and in-place
updates through a map, side by side with pread/pwrite, in C and in Python.

    python3 bench/records.py BUILD_DIR [--mib 64,1024] [--ops 100000]
        [--py-ops 50000] [--runs 3] [--dir DIR] [--update BENCHMARKS.md]

BUILD_DIR must hold bench/records (target mmk_bench_records; `make bench`
builds it) and python/ with the mmkit module. For each size in --mib a file
of that many MiB (DIR/records-MIB.bin, DIR defaulting to
BUILD_DIR/bench-records) is measured; the large one should be larger than
the L3 cache and smaller than memory, the small one shows the same access
within a small working set. The C program makes each file and reads it into
the page cache. Then, in this process, the Python cases run round-robin over the
same kind of random record numbers:

    reads:   os.pread(fd, 64, off)   mmkit mm[off:off+64]   mmap mm[off:off+64]
    updates: os.pwrite(fd, rec, off) mmkit mm[off:off+64] = rec   (and mmap)

A loop that does nothing per record is timed too (the interpreter's share).
The result is printed as a Markdown section; --update FILE replaces that
section in FILE (between its markers), or appends it. Timed, so not a test.
"""

import argparse
import mmap as stdmmap
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time

BEGIN = "<!-- records.py: begin -->"
END = "<!-- records.py: end -->"
REC = 64


def parse_c(out):
    rows = {}
    for line in out.splitlines():
        m = re.match(r"(\w+) ns_per_op=([0-9.]+) runs=(\d+) ops=(\d+)", line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), int(m.group(3)), int(m.group(4)))
    return rows


def py_cases(path, ops, runs, mmkit):
    size = os.path.getsize(path)
    n = size // REC
    fd = os.open(path, os.O_RDWR)
    f = open(path, "r+b")
    mk = mmkit.mmap(f.fileno(), 0)
    sm = stdmmap.mmap(f.fileno(), 0)
    page = stdmmap.PAGESIZE
    # Steady state: every page of both maps mapped and written once (a
    # shared map takes a write fault the first time a clean page is written;
    # an fsync would make every page clean again, so none follows).
    os.fsync(fd)
    for mm in (mk, sm):
        for off in range(0, size, page):
            mm[off + 63:off + 64] = mm[off + 63:off + 64]
    rng = random.Random(20261130)
    stamp = [0]

    def offsets():
        return [rng.randrange(n) * REC for _ in range(ops)]

    def record():
        stamp[0] += 1
        return bytes([stamp[0] & 0xFF]) * REC

    def loop_only(offs, rec):
        for off in offs:
            pass

    def pread(offs, rec):
        p = os.pread
        for off in offs:
            p(fd, REC, off)

    def mk_read(offs, rec):
        for off in offs:
            mk[off:off + REC]

    def sm_read(offs, rec):
        for off in offs:
            sm[off:off + REC]

    def pwrite(offs, rec):
        p = os.pwrite
        for off in offs:
            p(fd, rec, off)

    def mk_write(offs, rec):
        for off in offs:
            mk[off:off + REC] = rec

    def sm_write(offs, rec):
        for off in offs:
            sm[off:off + REC] = rec

    groups = [
        [("py_loop", loop_only, 0), ("py_pread", pread, 0), ("py_mmkit_slice", mk_read, 0),
         ("py_mmap_slice", sm_read, 0)],
        [("py_pwrite", pwrite, 1), ("py_mmkit_assign", mk_write, 1),
         ("py_mmap_assign", sm_write, 1)],
    ]
    samples = {}
    for group in groups:
        for r in range(runs):
            for j in range(len(group)):
                name, fn, writes = group[(j + r) % len(group)]
                offs = offsets()
                rec = record()
                # CPU time of this thread (user + system): wall time on a
                # shared machine would add the time other processes ran.
                t0 = time.thread_time_ns()
                fn(offs, rec)
                t = (time.thread_time_ns() - t0) / ops
                if writes and os.pread(fd, REC, offs[-1]) != rec:
                    sys.exit(f"records.py: {name}: the last update is not in the file")
                samples.setdefault(name, []).append(t)
    mk.close()
    sm.close()
    f.close()
    os.close(fd)
    return {k: (statistics.median(v), runs, ops) for k, v in samples.items()}


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        l3 = int(subprocess.run(["getconf", "LEVEL3_CACHE_SIZE"], capture_output=True,
                                text=True).stdout.strip() or 0)
    except (OSError, ValueError):
        l3 = 0
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return cpu, os.cpu_count(), l3, mem


def fmt(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def report(results, args, load_before, load_after):
    cpu, ncpu, l3, mem = machine()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sizes = [mib for mib, _, _ in results]
    c0 = results[0][1]
    L = [BEGIN, "## The database use: random 64-byte records, map vs pread/pwrite", ""]
    L.append(f"Written by `python3 bench/records.py BUILD_DIR --update BENCHMARKS.md` on {when} "
             "(bench/run.sh rewrites this file without this section: run records.py after it).")
    L.append("")
    L.append(f"- Machine: {cpu}, {ncpu} logical cores, L3 {l3 / 2**20:.0f} MiB (as the system "
             f"reports it), {mem / 2**30:.1f} GiB RAM; Python {platform.python_version()}. "
             f"Load average before / after: {load_before} / {load_after}.")
    L.append("- Files: " + " and ".join(f"{m} MiB" for m in sizes) + " of 64-byte records, in "
             "the page cache (written, fsync'ed and read once before timing). Every operation "
             "reads or overwrites one whole record at a random record number, drawn before the "
             "timing (a new set per run). Median CPU ns (user + system, of the measuring thread; "
             "the machine was shared, so wall time would add other processes' time) per "
             "operation of "
             f"{c0['pread'][1]} runs × {c0['pread'][2]:,} operations (C) and "
             f"{args.runs} runs × {args.py_ops:,} (Python), round-robin within reads and "
             "within updates. Maps are in steady state (every page mapped and written once "
             "before timing) except the *first touch* rows. Updates are not synced per "
             "operation (neither side is).")
    L.append("- *syscall* is one `getppid` system call: what entering the kernel costs on "
             "this machine (a virtual machine; 2 cores shared with other work).")
    L.append("")

    def table(title, names, key_of, ref_label):
        L.append(f"### {title}")
        L.append("")
        head = "| Operation |" + "".join(f" {m} MiB ns/op | vs {ref_label} |" for m in sizes)
        L.append(head)
        L.append("|---|" + "---:|---:|" * len(sizes))
        for key, label, ref in names:
            row = f"| {label} |"
            for _, c, py in results:
                d = key_of(c, py)
                if key not in d:
                    row += " | |"
                    continue
                v = d[key][0]
                ratio = ""
                if ref and key != ref and ref in d:
                    r = d[ref][0]
                    ratio = f"{r / v:.1f}× faster" if v <= r else f"{v / r:.1f}× slower"
                row += f" {fmt(v)} | {ratio} |"
            L.append(row)
        L.append("")

    table("C (`bench/records.c`)", [
        ("syscall", "one system call (getppid)", None),
        ("pread", "`pread` 64 B", "pread"),
        ("map_copy_out", "`mmk_copy_out` 64 B (guarded, holds the map)", "pread"),
        ("map_pointer", "`memcpy` from `mmk_data()` (one `mmk_guard_run` around the loop)",
         "pread"),
        ("map_first_touch_read", "the same, first pass over a fresh map (minor faults)",
         "pread"),
        ("anon_pointer", "the same loop over anonymous memory of the file's size (no file)",
         "pread"),
        ("pwrite", "`pwrite` 64 B", "pwrite"),
        ("map_copy_in", "`mmk_copy_in` 64 B", "pwrite"),
        ("map_pointer_write", "`memcpy` into `mmk_data()`", "pwrite"),
        ("map_first_touch_write", "the same, first writes to clean pages (write faults)",
         "pwrite"),
    ], lambda c, py: c, "pread / pwrite")
    table("Python (`bench/records.py`)", [
        ("py_loop", "`for off in offs: pass` (the loop alone)", None),
        ("py_pread", "`os.pread(fd, 64, off)`", "py_pread"),
        ("py_mmkit_slice", "mmkit `mm[off:off+64]`", "py_pread"),
        ("py_mmap_slice", "standard `mmap` `mm[off:off+64]`", "py_pread"),
        ("py_pwrite", "`os.pwrite(fd, rec, off)`", "py_pwrite"),
        ("py_mmkit_assign", "mmkit `mm[off:off+64] = rec`", "py_pwrite"),
        ("py_mmap_assign", "standard `mmap` `mm[off:off+64] = rec`", "py_pwrite"),
    ], lambda c, py: py, "os.pread / os.pwrite")
    L.append("Reading the figures:")
    L.append("")
    L.append("- *Latency against overlap.* The `memcpy` loops issue independent loads, so the "
             "CPU overlaps many cache and TLB misses; one library call (`mmk_copy_out`, a "
             "Python slice) per record leaves far less overlap, so those rows show closer to "
             "the full latency of a random access. The anonymous-memory row is the same loop "
             "with no file behind the memory: the cost of random access itself on this machine.")
    L.append("- *Updates through a map cost a store while the page is dirty*, and a write fault "
             "(the filesystem's page_mkwrite) on the first store after the page was clean: the "
             "*first touch* write row. The kernel writes dirty pages back after about 30 s "
             "(`vm.dirty_expire_centisecs`), which makes them clean again, so updates spread "
             "over more pages than are rewritten within that time keep paying the fault; the "
             "C update rows, timed more than 30 s after the warm-up pass dirtied the pages, "
             "show that on the large file, the Python rows (timed within seconds of it) show "
             "the dirty-page cost. `pwrite` pays the filesystem's write path on every call.")
    L.append("- Updates are not durable in either column until flushed (`mmk_flush`/"
             "`mm.flush()` against `fsync`); the record_store example flushes every step.")
    L.append(END)
    return "\n".join(L) + "\n"


def update(path, section):
    text = open(path).read() if os.path.exists(path) else ""
    if BEGIN in text and END in text:
        a = text.index(BEGIN)
        b = text.index(END) + len(END)
        text = text[:a] + section.rstrip("\n") + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--mib", default="64,1024")
    ap.add_argument("--ops", type=int, default=100000)
    ap.add_argument("--py-ops", type=int, default=50000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir")
    ap.add_argument("--update")
    ap.add_argument("--from-log", help="report a saved run (this program's stderr) again")
    args = ap.parse_args()
    if args.from_log:
        results = []
        text = open(args.from_log).read()
        for part in text.split("# file=")[1:]:
            mib = int(re.search(r"size_mib=(\d+)", part).group(1))
            rows = parse_c(part)
            c = {k: v for k, v in rows.items() if not k.startswith("py_")}
            py = {k: v for k, v in rows.items() if k.startswith("py_")}
            results.append((mib, c, py))
        args.runs = next(iter(results[0][2].values()))[1]
        args.py_ops = next(iter(results[0][2].values()))[2]
        section = report(results, args, "(not recorded)", "(not recorded)")
        sys.stdout.write(section)
        if args.update:
            update(args.update, section)
        return
    build = os.path.abspath(args.build)
    exe = os.path.join(build, "bench", "records")
    if not os.access(exe, os.X_OK):
        subprocess.run(["cmake", "--build", build, "--target", "mmk_bench_records"], check=True)
    folder = args.dir or os.path.join(build, "bench-records")
    os.makedirs(folder, exist_ok=True)
    sys.path.insert(0, os.path.join(build, "python"))
    import mmkit

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results = []
    for mib in (int(x) for x in args.mib.split(",")):
        path = os.path.join(folder, f"records-{mib}.bin")
        out = subprocess.run([exe, "-s", str(mib), "-n", str(args.ops), "-r", str(args.runs),
                              path], check=True, capture_output=True, text=True).stdout
        sys.stderr.write(out)
        c = parse_c(out)
        py = py_cases(path, args.py_ops, args.runs, mmkit)
        for k, v in py.items():
            sys.stderr.write(f"{k} ns_per_op={v[0]:.1f} runs={v[1]} ops={v[2]}\n")
        results.append((mib, c, py))
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    section = report(results, args, load_before, load_after)
    sys.stdout.write(section)
    if args.update:
        update(args.update, section)


if __name__ == "__main__":
    main()
