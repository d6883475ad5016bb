#!/usr/bin/env python3
"""The database use, measured: random 64-byte record reads and in-place
updates through a map, side by side with pread/pwrite, in C and in Python.

    python3 bench/records.py BUILD_DIR [--mib 1024] [--ops 200000]
        [--py-ops 200000] [--runs 3] [--file PATH] [--update BENCHMARKS.md]

BUILD_DIR must hold bench/records (target mmk_bench_records; `make bench`
builds it) and python/ with the mmkit module. The file (default
BUILD_DIR/bench-records/records.bin, MIB MiB) should be larger than the L3
cache and smaller than memory; the C program makes it and reads it into the
page cache. Then, in this process, the Python cases run round-robin over the
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
    # shared map takes a write fault the first time a clean page is written).
    for mm in (mk, sm):
        for off in range(0, size, page):
            mm[off + 63:off + 64] = mm[off + 63:off + 64]
    os.fsync(fd)
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
                t0 = time.perf_counter_ns()
                fn(offs, rec)
                t = (time.perf_counter_ns() - t0) / ops
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
    l3 = os.sysconf("SC_LEVEL3_CACHE_SIZE") if "SC_LEVEL3_CACHE_SIZE" in os.sysconf_names else 0
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return cpu, os.cpu_count(), l3, mem


def fmt(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def report(c, py, args, load_before, load_after, size):
    cpu, ncpu, l3, mem = machine()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    L = []
    L.append(BEGIN)
    L.append("## The database use: random 64-byte records, map vs pread/pwrite")
    L.append("")
    L.append(f"Written by `python3 bench/records.py BUILD_DIR --update BENCHMARKS.md` on {when} "
             "(bench/run.sh rewrites the sections above; run records.py after it).")
    L.append("")
    L.append(f"- Machine: {cpu}, {ncpu} logical cores, L3 {l3 / 2**20:.0f} MiB (as the system "
             f"reports it), {mem / 2**30:.1f} GiB RAM; Python {platform.python_version()}. "
             f"Load average before / after: {load_before} / {load_after}.")
    L.append(f"- File: {size / 2**20:.0f} MiB of 64-byte records (larger than L3, smaller than "
             "memory), in the page cache (read once, fsync'ed before timing). Every operation "
             "reads or overwrites one whole record at a random record number, drawn before the "
             "timing (a new set per run). Median ns per operation of "
             f"{c['pread'][1]} runs × {c['pread'][2]:,} operations (C) and "
             f"{args.runs} runs × {args.py_ops:,} (Python), round-robin within reads and "
             "within updates. Maps are in steady state (every page mapped and written once "
             "before timing) except the *first touch* rows. Updates are not synced per "
             "operation (neither side is).")
    L.append("- *syscall* is one `getppid` system call: what entering the kernel costs on "
             "this machine. It is high here (a virtual machine, 2 cores shared with other "
             "work); where a system call costs ~100 ns, pread/pwrite cost less and the "
             "ratios below shrink accordingly.")
    L.append("")
    L.append("### C (`bench/records.c`)")
    L.append("")
    L.append("| Operation | ns/op | vs pread / pwrite |")
    L.append("|---|---:|---:|")
    names = [
        ("syscall", "one system call (getppid)", None),
        ("pread", "`pread` 64 B", "pread"),
        ("map_copy_out", "`mmk_copy_out` 64 B (guarded, holds the map)", "pread"),
        ("map_pointer", "`memcpy` from `mmk_data()` (one `mmk_guard_run` around the loop)",
         "pread"),
        ("map_first_touch_read", "the same, first pass over a fresh map (minor faults)",
         "pread"),
        ("pwrite", "`pwrite` 64 B", "pwrite"),
        ("map_copy_in", "`mmk_copy_in` 64 B", "pwrite"),
        ("map_pointer_write", "`memcpy` into `mmk_data()`", "pwrite"),
        ("map_first_touch_write", "the same, first writes to clean pages (write faults)",
         "pwrite"),
    ]
    for key, label, ref in names:
        if key not in c:
            continue
        ratio = f"{c[ref][0] / c[key][0]:.1f}× faster" if ref and key != ref else ""
        if ref and key != ref and c[key][0] > c[ref][0]:
            ratio = f"{c[key][0] / c[ref][0]:.1f}× slower"
        L.append(f"| {label} | {fmt(c[key][0])} | {ratio} |")
    L.append("")
    L.append("### Python (`bench/records.py`)")
    L.append("")
    L.append("| Operation | ns/op | vs os.pread / os.pwrite |")
    L.append("|---|---:|---:|")
    pnames = [
        ("py_loop", "`for off in offs: pass` (the loop alone)", None),
        ("py_pread", "`os.pread(fd, 64, off)`", "py_pread"),
        ("py_mmkit_slice", "mmkit `mm[off:off+64]`", "py_pread"),
        ("py_mmap_slice", "standard `mmap` `mm[off:off+64]`", "py_pread"),
        ("py_pwrite", "`os.pwrite(fd, rec, off)`", "py_pwrite"),
        ("py_mmkit_assign", "mmkit `mm[off:off+64] = rec`", "py_pwrite"),
        ("py_mmap_assign", "standard `mmap` `mm[off:off+64] = rec`", "py_pwrite"),
    ]
    for key, label, ref in pnames:
        if key not in py:
            continue
        ratio = f"{py[ref][0] / py[key][0]:.1f}× faster" if ref and key != ref else ""
        if ref and key != ref and py[key][0] > py[ref][0]:
            ratio = f"{py[key][0] / py[ref][0]:.1f}× slower"
        L.append(f"| {label} | {fmt(py[key][0])} | {ratio} |")
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
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--ops", type=int, default=200000)
    ap.add_argument("--py-ops", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--file")
    ap.add_argument("--update")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    exe = os.path.join(build, "bench", "records")
    if not os.access(exe, os.X_OK):
        subprocess.run(["cmake", "--build", build, "--target", "mmk_bench_records"], check=True)
    path = args.file or os.path.join(build, "bench-records", "records.bin")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sys.path.insert(0, os.path.join(build, "python"))
    import mmkit

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out = subprocess.run([exe, "-s", str(args.mib), "-n", str(args.ops), "-r", str(args.runs), path],
                         check=True, capture_output=True, text=True).stdout
    sys.stderr.write(out)
    c = parse_c(out)
    py = py_cases(path, args.py_ops, args.runs, mmkit)
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    section = report(c, py, args, load_before, load_after, os.path.getsize(path))
    sys.stdout.write(section)
    if args.update:
        update(args.update, section)


if __name__ == "__main__":
    main()
