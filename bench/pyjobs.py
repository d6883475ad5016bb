"""The Python side of the mmkit benchmarks: one job per invocation.

bench.py runs this file as a separate process, once per timed run, so Python
jobs are timed the same way as every other tool (whole process, start to
exit). Each job also measures its own work with time.perf_counter(), from just
before the file is opened to just after the result is known, so that the
Python module comparison can leave the interpreter's start-up out.

Output, one line: "count=<n> seconds=<in-process seconds> [extra=<n>]".

Jobs (FILE is always the last argument):
  finditer PATTERN FILE   the classic: sum(1 for _ in re.finditer(PATTERN, mm))
                          over a standard mmap.mmap (ACCESS_READ)
  counter FILE            collections.Counter(data.lower().split()); count is
                          the total number of words, extra the distinct ones
  readline FILE           for line in iter(mm.readline, b"") over mmap.mmap
  find NEEDLE FILE        every occurrence by repeated mm.find(NEEDLE, pos)
                          over mmap.mmap (non-overlapping, as a count)
  mmkit-count NEEDLE FILE mm.count(NEEDLE) over mmkit.mmap
  mmkit-lines FILE        for line in mm.lines() over mmkit.mmap
  mmkit-find NEEDLE FILE  the find loop over mmkit.mmap
  grep-loop NEEDLE FILE   the reference grep: the lines of iter(mm.readline, b"")
                          for which re.search(NEEDLE, l), over mmap.mmap; count
                          is the number of lines (streamed, not kept: building
                          a list of them costs the same for both and is timed
                          by grep-loop-list / mmkit-grep-list)
  mmkit-grep NEEDLE FILE  the lines of mm.grep(NEEDLE) over mmkit.mmap (a literal)
  grep-loop-list, mmkit-grep-list NEEDLE FILE  the same, kept in a list
  grep-loop-issue NEEDLE FILE  issue 10's reference loop as written there:
                          [l for l in iter(mm.readline, b"") if re.search(p, l)]
                          with p = re.escape(NEEDLE), over mmap.mmap (re.search
                          looks p up in re's cache on every line; grep-loop
                          compiles it once, a stricter reference)
  words-check FILE        print the Counter table as "word count" lines,
                          most frequent first, ties in byte order (used to
                          verify `mmk words`, not timed)
"""

import collections
import mmap
import re
import sys
import time


def _open_map(module, path):
    f = open(path, "rb")
    return f, module.mmap(f.fileno(), 0, access=module.ACCESS_READ)


def job_finditer(pattern, path):
    rx = re.compile(pattern.encode())
    f, mm = _open_map(mmap, path)
    with f, mm:
        return sum(1 for _ in rx.finditer(mm)), None


def job_counter(path):
    with open(path, "rb") as f:
        data = f.read()
    c = collections.Counter(data.lower().split())
    return sum(c.values()), len(c)


def job_readline(module, path):
    f, mm = _open_map(module, path)
    n = 0
    with f, mm:
        for _line in iter(mm.readline, b""):
            n += 1
    return n, None


def job_find(module, needle, path):
    f, mm = _open_map(module, path)
    n = 0
    step = len(needle)
    with f, mm:
        pos = mm.find(needle, 0)
        while pos >= 0:
            n += 1
            pos = mm.find(needle, pos + step)
    return n, None


def job_mmkit_count(needle, path):
    import mmkit

    f, mm = _open_map(mmkit, path)
    with f, mm:
        return mm.count(needle), None


def job_mmkit_lines(path):
    import mmkit

    f, mm = _open_map(mmkit, path)
    n = 0
    with f, mm:
        for _line in mm.lines():
            n += 1
    return n, None


def job_grep_loop(needle, path, keep):
    rx = re.compile(re.escape(needle))
    f, mm = _open_map(mmap, path)
    with f, mm:
        if keep:
            return len([line for line in iter(mm.readline, b"") if rx.search(line)]), None
        return sum(1 for line in iter(mm.readline, b"") if rx.search(line)), None


def job_grep_loop_issue(needle, path):
    p = re.escape(needle)
    f, mm = _open_map(mmap, path)
    with f, mm:
        return len([l for l in iter(mm.readline, b"") if re.search(p, l)]), None  # noqa: E741


def job_mmkit_grep(needle, path, keep):
    import mmkit

    f, mm = _open_map(mmkit, path)
    with f, mm:
        if keep:
            return len(list(mm.grep(needle))), None
        return sum(1 for _line in mm.grep(needle)), None


def words_check(path):
    with open(path, "rb") as f:
        c = collections.Counter(f.read().lower().split())
    out = sys.stdout.buffer
    for word, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])):
        out.write(word + b" " + str(n).encode() + b"\n")


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    job, args = argv[1], argv[2:]
    if job == "words-check":
        words_check(args[0])
        return 0
    t0 = time.perf_counter()
    if job == "finditer":
        count, extra = job_finditer(args[0], args[1])
    elif job == "counter":
        count, extra = job_counter(args[0])
    elif job == "readline":
        count, extra = job_readline(mmap, args[0])
    elif job == "find":
        count, extra = job_find(mmap, args[0].encode(), args[1])
    elif job == "mmkit-count":
        count, extra = job_mmkit_count(args[0].encode(), args[1])
    elif job == "mmkit-lines":
        count, extra = job_mmkit_lines(args[0])
    elif job in ("grep-loop", "grep-loop-list"):
        count, extra = job_grep_loop(args[0].encode(), args[1], job.endswith("-list"))
    elif job == "grep-loop-issue":
        count, extra = job_grep_loop_issue(args[0].encode(), args[1])
    elif job in ("mmkit-grep", "mmkit-grep-list"):
        count, extra = job_mmkit_grep(args[0].encode(), args[1], job.endswith("-list"))
    elif job == "mmkit-find":
        import mmkit

        count, extra = job_find(mmkit, args[0].encode(), args[1])
    else:
        print("pyjobs: unknown job " + job, file=sys.stderr)
        return 2
    secs = time.perf_counter() - t0
    line = "count=%d seconds=%.6f" % (count, secs)
    if extra is not None:
        line += " extra=%d" % extra
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
