"""mmkit.dask: mmkit's counts and searches over many files on a Dask cluster.

Each file is cut into tasks of ``(path, start, end)`` (``chunk_size`` bytes,
64 MiB by default), so that one big file is shared by many workers. A task
sends only its path and offsets; the worker maps or reads its own range of
the file and counts it in C with one thread, the GIL released. The partial
results come back small (counts, tables, matching lines) and are joined on
the client:

* ``count``: a worker counts its range speculatively, as if the previous
  match had ended at the range's start, with the whole file as the subject
  (``mmkit.count_part``). The client joins the ranges of a file in order
  (``mmkit.count_part_fix``); where a match ran across a boundary and the
  range's recorded first matches do not show the answer, one small fix task
  re-reads only the bytes needed. The result equals ``mmkit.mmap.count`` over
  the whole file for every pattern (matches across boundaries, empty
  matches, lookbehind), i.e. ``len(re.findall(...))``.
* ``count_lines``: newlines per range, added (what ``wc -l`` prints).
* ``word_counts``: a range counts the words that start in it (the words.c
  rule), read to their end past the range; tables are added.
* ``grep`` and ``count_by``: a range owns the lines that start in it and reads
  past its end to finish its last one (each line is its own subject: grep
  -P); lines come back in file order, line numbers from the per-range line
  counts summed; counts per value are added and ``top`` is applied after.

Files are given as paths or globs, expanded and measured on the client: the
workers must see the same files under the same paths (a shared filesystem).
``client=None`` uses the current Dask client. docs/dask.md has the design,
task sizing and what limits scaling.
"""

from __future__ import annotations

import errno
import functools
import glob
import os
import pickle
import re
import stat
from collections import Counter
from typing import Any, Iterable, NamedTuple, Optional, Union

import mmkit

__all__ = ["DEFAULT_CHUNK_SIZE", "GrepLine", "count", "count_by", "count_lines", "expand",
           "grep", "word_counts"]

#: Bytes per task: large enough that a task's fixed cost (scheduling, opening
#: and mapping the file, about a millisecond) is lost in its scan (tens of
#: milliseconds at several GB/s), small enough that a file is shared by many
#: workers and a slow worker holds up little.
DEFAULT_CHUNK_SIZE = 64 << 20

PathArg = Union[str, "os.PathLike[str]"]


class GrepLine(NamedTuple):
    """A line grep() selected: its file, line number (None unless asked for),
    byte offset of its start in the file, and its bytes without the newline."""

    path: str
    line_no: Optional[int]
    offset: int
    text: bytes


# -- the client side ----------------------------------------------------------

def _client(client: Any) -> Any:
    if client is not None:
        return client
    try:
        from distributed import get_client
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise ImportError("mmkit.dask needs Dask's distributed scheduler "
                          "(Debian: python3-distributed; pip install distributed)") from e
    try:
        return get_client()
    except ValueError as e:
        raise ValueError("mmkit.dask: no Dask client: pass client= or start a "
                         "distributed.Client first") from e


def expand(paths: Union[PathArg, Iterable[PathArg]]) -> list[tuple[str, int]]:
    """The files a call works on, in order, with their sizes: each path as
    given (absolute), each glob (a path with * ? or [) as its sorted matches
    that are regular files. A missing path or a glob that matches no file is
    FileNotFoundError, a directory IsADirectoryError (naming the path)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for p in paths:
        p = os.fspath(p)
        if isinstance(p, bytes):
            p = os.fsdecode(p)
        if glob.has_magic(p):
            found = []
            for m in sorted(glob.glob(p)):
                st = os.stat(m)
                if stat.S_ISREG(st.st_mode):
                    found.append((os.path.abspath(m), st.st_size))
            if not found:
                raise FileNotFoundError(errno.ENOENT, "no file matches the glob", p)
            out.extend(found)
            continue
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), p)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.ENODEV, "not a regular file (a task needs offsets into it)", p)
        out.append((os.path.abspath(p), st.st_size))
    return out


def _ranges(size: int, chunk_size: int) -> list[tuple[int, int]]:
    return [(s, min(s + chunk_size, size)) for s in range(0, size, chunk_size)]


def _check_chunk(chunk_size: int) -> int:
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError("chunk_size must be an int >= 1, not %r" % (chunk_size,))
    return chunk_size


def _pattern(pattern: Union[str, bytes]) -> bytes:
    if isinstance(pattern, str):
        return pattern.encode("utf-8")
    return bytes(pattern)


def _top(counter: "Counter[bytes]", top: Optional[int]) -> list[tuple[bytes, int]]:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if top is not None:
        if top < 0:
            raise ValueError("top must not be negative")
        items = items[:top]
    return items


def _packed(fn: Any, *args: Any, **kw: Any) -> bytes:
    """fn's result as one pickle, made on the worker. Distributed sends a
    dict or list result element by element: the 17 word tables of the 1.1 GB
    King James text (58,733 words each) took 12.3 s to reach the client that
    way and 1.1 s pickled whole."""
    return pickle.dumps(fn(*args, **kw), protocol=pickle.HIGHEST_PROTOCOL)


def _run(client: Any, fn: Any, jobs: list[tuple[Any, ...]], **kw: Any) -> list[Any]:
    """Run fn(*job, **kw) for each job on the cluster; results in job order.
    pure=False: a file may change between calls, so results are never reused."""
    if not jobs:
        return []
    futures = client.map(functools.partial(_packed, fn), *zip(*jobs), pure=False, **kw)
    try:
        return [pickle.loads(b) for b in client.gather(futures)]
    finally:
        for f in futures:
            f.release()


# -- what runs on the workers ---------------------------------------------------

_SPACE = re.compile(rb"[ \t\n\v\f\r]")
_NEWLINE = re.compile(rb"\n")


def _cut(fd: int, x: int, size: int, sep: "re.Pattern[bytes]", after: int) -> int:
    """The first place at or after x where a word (sep = whitespace, after =
    0) or a line (sep = newline, after = 1) can start: x itself when x is 0,
    the end, or follows a separator; else just past the word or line that
    runs across x (reading on until its end)."""
    if x <= 0:
        return 0
    if x >= size:
        return size
    if sep.match(os.pread(fd, 1, x - 1)):
        return x
    pos, step = x, 4096
    while pos < size:
        block = os.pread(fd, min(step, size - pos), pos)
        if not block:
            raise OSError(errno.EIO, "the file is shorter than when the tasks were planned")
        m = sep.search(block)
        if m:
            return pos + m.start() + after
        pos += len(block)
        step = min(step * 2, 1 << 20)
    return size


def _owned(path: str, start: int, end: int, sep: "re.Pattern[bytes]",
           after: int) -> tuple[int, int]:
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        return (_cut(f.fileno(), start, size, sep, after),
                _cut(f.fileno(), end, size, sep, after))


def _count_task(path: str, start: int, end: int, *, pattern: bytes,
                flags: dict[str, bool]) -> Any:
    return mmkit.count_part(pattern, path, start, end, **flags)


def _fix_task(path: str, part: Any, pos: int, ne: bool, *, pattern: bytes,
              flags: dict[str, bool]) -> Any:
    return mmkit.count_part_fix(pattern, path, part, pos, ne, **flags)


def _lines_task(path: str, start: int, end: int) -> int:
    if end <= start:
        return 0
    with mmkit.open(path, "r", offset=start, length=end - start) as m:
        n = m.line_count()
        return n - 1 if m[len(m) - 1] != 10 else n


def _words_task(path: str, start: int, end: int) -> dict[bytes, int]:
    s, e = _owned(path, start, end, _SPACE, 0)
    if e <= s:
        return {}
    with mmkit.open(path, "r", offset=s, length=e - s) as m:
        return dict(mmkit.word_counts(m, threads=1))


def _grep_task(path: str, start: int, end: int, *, pattern: Any, opts: dict[str, Any],
               numbers: bool) -> tuple[list[tuple[int, int, bytes]], int]:
    s, e = _owned(path, start, end, _NEWLINE, 1)
    if e <= s:
        return [], 0
    found = mmkit.search(pattern, path, start=s, end=e, threads=1, **opts)
    lines = [(ln.offset, ln.line_no, ln.text) for ln in found]
    nlines = 0
    if numbers:
        with mmkit.open(path, "r", offset=s, length=e - s) as m:
            nlines = m.line_count()
    return lines, nlines


def _count_by_task(path: str, start: int, end: int, *, pattern: Any, group: Union[int, str],
                   opts: dict[str, Any]) -> dict[bytes, int]:
    s, e = _owned(path, start, end, _NEWLINE, 1)
    if e <= s:
        return {}
    return dict(mmkit.count_by(pattern, path, group, start=s, end=e, threads=1, **opts))


# -- the calls ------------------------------------------------------------------

def count(pattern: Union[str, bytes], paths: Union[PathArg, Iterable[PathArg]], *,
          regex: bool = False, ignore_case: bool = False, whole_word: bool = False,
          client: Any = None, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """The matches of pattern in the files (paths or globs), summed: for each
    file exactly mmkit.open(path).count(pattern, regex=..., ...), i.e.
    len(re.findall(pattern, data)) with regex=True (re.escape'd without)."""
    chunk_size = _check_chunk(chunk_size)
    files = expand(paths)
    pat = _pattern(pattern)
    flags = {"regex": regex, "ignore_case": ignore_case, "whole_word": whole_word}
    mmkit.count_part(pat, b"", 0, 0, **flags)  # a bad pattern fails here, once
    client = _client(client)
    plan = [[(path, s, e) for s, e in (_ranges(size, chunk_size) or [(0, 0)])]
            for path, size in files]
    parts = iter(_run(client, _count_task, [job for jobs in plan for job in jobs],
                      pattern=pat, flags=flags))
    per_file = [[next(parts) for _ in jobs] for jobs in plan]

    # Join each file's parts in order: (next part, pos, notempty). A part
    # whose fix needs bytes waits for a fix task; the files waiting are
    # served together, one round of fix tasks at a time.
    total = 0
    state = [[0, 0, False] for _ in files]
    waiting = list(range(len(files)))
    while waiting:
        need = []
        for f in waiting:
            st = state[f]
            while st[0] < len(per_file[f]):
                exact = mmkit.count_part_fix(pat, None, per_file[f][st[0]], st[1], st[2],
                                             **flags)
                if exact is None:
                    need.append(f)
                    break
                total += exact[0]
                st[:] = [st[0] + 1, exact[1], exact[2]]
        jobs = [(files[f][0], per_file[f][state[f][0]], state[f][1], state[f][2]) for f in need]
        for f, exact in zip(need, _run(client, _fix_task, jobs, pattern=pat, flags=flags)):
            total += exact[0]
            state[f][:] = [state[f][0] + 1, exact[1], exact[2]]
        waiting = [f for f in need if state[f][0] < len(per_file[f])]
    return total


def count_lines(paths: Union[PathArg, Iterable[PathArg]], *, client: Any = None,
                chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """The newlines in the files (what wc -l prints), summed."""
    chunk_size = _check_chunk(chunk_size)
    files = expand(paths)
    client = _client(client)
    jobs = [(path, s, e) for path, size in files for s, e in _ranges(size, chunk_size)]
    return sum(_run(client, _lines_task, jobs))


def word_counts(paths: Union[PathArg, Iterable[PathArg]], top: Optional[int] = None, *,
                client: Any = None,
                chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[tuple[bytes, int]]:
    """mmkit.word_counts over all the files: Counter(data.lower().split())
    added over the files, as (word, count) pairs by count descending, then
    word ascending; top keeps the first top pairs (after the merge)."""
    chunk_size = _check_chunk(chunk_size)
    if top is not None and top < 0:
        raise ValueError("top must not be negative")
    files = expand(paths)
    client = _client(client)
    jobs = [(path, s, e) for path, size in files for s, e in _ranges(size, chunk_size)]
    total: Counter[bytes] = Counter()
    for table in _run(client, _words_task, jobs):
        total.update(table)
    return _top(total, top)


def _search_opts(fixed: bool, ignore_case: bool, word: bool,
                 line_exact: bool) -> dict[str, Any]:
    return {"fixed": fixed, "ignore_case": ignore_case, "word": word, "line_exact": line_exact}


def _check_search_pattern(pattern: Any, opts: dict[str, Any]) -> None:
    mmkit.search(pattern, b"", **opts)  # a bad pattern fails here, once


def grep(pattern: Any, paths: Union[PathArg, Iterable[PathArg]], *, fixed: bool = False,
         ignore_case: bool = False, word: bool = False, line_exact: bool = False,
         invert: bool = False, line_numbers: bool = False, client: Any = None,
         chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[GrepLine]:
    """The lines of the files that mmkit.search(pattern, path, ...) selects
    (grep -P; a list of patterns is grep -e P1 -e P2), in file order, as
    GrepLine(path, line_no, offset, text); line_no counts from 1 in each file
    when line_numbers is true, else None."""
    chunk_size = _check_chunk(chunk_size)
    files = expand(paths)
    opts = _search_opts(fixed, ignore_case, word, line_exact)
    _check_search_pattern(pattern, opts)
    opts["invert"] = invert
    client = _client(client)
    jobs = [(path, s, e) for path, size in files for s, e in _ranges(size, chunk_size)]
    out = []
    base, prev = 0, None
    for (path, _, _), (lines, nlines) in zip(
            jobs, _run(client, _grep_task, jobs, pattern=pattern, opts=opts,
                       numbers=line_numbers)):
        if path != prev:
            base, prev = 0, path
        for offset, line_no, text in lines:
            out.append(GrepLine(path, base + line_no if line_numbers else None, offset, text))
        base += nlines
    return out


def count_by(pattern: Any, paths: Union[PathArg, Iterable[PathArg]],
             group: Union[int, str] = 0, *, fixed: bool = False, ignore_case: bool = False,
             word: bool = False, top: Optional[int] = None, client: Any = None,
             chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[tuple[bytes, int]]:
    """mmkit.count_by over all the files: the matches per value of a capture
    group (grep -oP ... | sort | uniq -c), added over the files, sorted by
    count descending, then value ascending; top applies after the merge."""
    chunk_size = _check_chunk(chunk_size)
    if top is not None and top < 0:
        raise ValueError("top must not be negative")
    files = expand(paths)
    opts = {"fixed": fixed, "ignore_case": ignore_case, "word": word}
    mmkit.count_by(pattern, b"", group, **opts)  # a bad pattern or group fails here, once
    client = _client(client)
    jobs = [(path, s, e) for path, size in files for s, e in _ranges(size, chunk_size)]
    total: Counter[bytes] = Counter()
    for table in _run(client, _count_by_task, jobs, pattern=pattern, group=group, opts=opts):
        total.update(table)
    return _top(total, top)
