"""Every public API of mmkit used correctly: mypy must accept this file with
the stubs of an installed mmkit (python/tests/typing/check_typing.py). It is
type-checked, never run."""

import array
from typing import Iterator, List, Optional, Tuple

import mmkit
import mmkit as mmap


def standard_api(fd: int) -> None:
    m: mmkit.mmap = mmkit.mmap(fd, 0)
    a = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    b = mmkit.mmap(fd, 0, access=mmkit.ACCESS_READ, offset=0, trackfd=False)
    c = mmkit.mmap(fd, 10, mmkit.MAP_SHARED, mmkit.PROT_READ, mmkit.ACCESS_DEFAULT, 0)
    with mmkit.mmap(fd, 0, access=mmkit.ACCESS_COPY) as d:
        assert isinstance(d, mmkit.mmap)
    n: int = m.find(b"x") + m.find(bytearray(b"x"), 0, 10) + m.rfind(memoryview(b"x"), 1)
    n += m.find(array.array("b", [1]), 0) + m.find(a)
    m.flush()
    m.flush(0, mmkit.PAGESIZE)
    m.flush(mmkit.PAGESIZE)
    m.flush(flags=mmkit.MS_ASYNC)
    m.flush(0, 4096, flags=mmkit.MS_SYNC | mmkit.MS_INVALIDATE)
    a.set_name("cache")
    m.madvise(mmkit.MADV_SEQUENTIAL)
    m.madvise(mmkit.MADV_WILLNEED, 0, 4096)
    m.move(0, 1, 2)
    data: bytes = m.read() + m.read(3) + m.read(None) + m.readline()
    byte: int = m.read_byte()
    m.resize(8192)
    pos: int = m.seek(0) + m.seek(1, 1) + m.tell() + m.size() + len(m)
    ok: bool = m.seekable() and m.closed and (1 in m)
    written: int = m.write(b"abc") + m.write(bytearray(2))
    m.write_byte(65)
    first: int = m[0]
    part: bytes = m[1:3] + m[::2] + bytes(m)
    m[0] = 1
    m[0:3] = b"xyz"
    m[0:1] = memoryview(b"q")
    for one in m:
        part += one
    m.close()
    b.close()
    c.close()
    del data, byte, pos, ok, written, first, part, n
    err: type[OSError] = mmkit.error
    consts: List[int] = [mmkit.ACCESS_WRITE, mmkit.ALLOCATIONGRANULARITY, mmkit.MADV_DONTNEED]
    del err, consts


def extras(path: str) -> None:
    with mmkit.open(path) as mm:
        total: int = mm.count(b"the")
        total += mm.count(rb"\bbegat\b", regex=True, threads=2)
        total += mm.count(b"lord", 0, None, ignore_case=True, whole_word=True)
        spans: Iterator[Tuple[int, int]] = mm.finditer(b"a+", regex=True)
        for start, end in spans:
            total += end - start
        for line in mm.lines(0, None):
            total += len(line)
        total += mm.line_count() + mm.line_count(10, -1)
        buf = bytearray(1 << 16)
        got: int = mm.readinto(buf) + mm.readinto(memoryview(buf), offset=0)
        got += mm.readinto(array.array("d", [0.0] * 8), offset=8)
        words: List[Tuple[bytes, int]] = mmkit.word_counts(mm, top=10)
        words += mmkit.word_counts(b"a b a")
        del total, got, words
    found: List[mmkit.Line] = mmkit.search(rb"a+", path, context=2, spans=True)
    found += mmkit.search([b"x", "y"], b"data", fixed=True, invert=True, max_count=3)
    found += mmkit.search("z", 3, before=1, after=0, threads=2, decompress=True)
    found += mmkit.search(b"q", bytearray(b"q"), start=1, end=-1, line_exact=True, word=True)
    lazy: Iterator[mmkit.Line] = mmkit.search_iter(b"a", path, after=1, max_count=10)
    found += list(lazy)
    for hit in found:
        kind: str = hit.kind
        text: bytes = hit.text
        number: int = hit.line_no + hit.offset + hit.matches
        where_spans: Optional[Tuple[Tuple[int, int], ...]] = hit.spans
        after_gap: bool = hit.gap
        del kind, text, number, where_spans, after_gap
    per_value: List[Tuple[bytes, int]] = mmkit.count_by(rb"(\w+)=", path, 1, top=5)
    per_value += mmkit.count_by(rb"(?P<k>\w+)=", b"a=1", "k", ignore_case=True)
    start, end, in_order = mmkit.time_range(path, "2026-11-30T08", 10**18, format="iso8601")
    start2, end2, _ = mmkit.time_range(mmkit.open(path), since=b"Nov 30 08:00:00", year=2026)
    del per_value, start, end, in_order, start2, end2
    for mode in ("r", "r+", "w", "c"):
        pass
    mmkit.open(path, "r+").close()
    mmkit.open(path, mode="w", offset=3, length=10).close()
    mmkit.open(path.encode(), "c").close()
    try:
        mmkit.open(path)
    except mmkit.PatternError as e:
        msg: str = e.msg
        pat: Optional[bytes] = e.pattern
        where: Optional[int] = e.pos
        del msg, pat, where
    except mmkit.RegexLimitError as e2:
        at: Optional[int] = e2.offset
        del at


def shared_memory() -> None:
    shm: mmkit.SharedMemory = mmkit.shm_open("/x", 4096, create=True, exclusive=False,
                                             readonly=False, mode=0o600, any_owner=False)
    name: str = shm.name
    created: bool = shm.created
    lock = mmkit.Lock(shm, 0, init=created, repair=lambda lk: lk.consistent())
    if lock.acquire(blocking=True, timeout=1.5):
        lock.release()
    try:
        with lock:
            pass
    except mmkit.OwnerDiedError as e:
        e.lock.consistent()
    except mmkit.LockNotRecoverableError:
        pass
    off: int = lock.offset + mmkit.LOCK_SIZE
    state: bool = lock.closed or lock.owner_died
    lock.close()
    shm.unlink()
    mmkit.shm_unlink(b"/x")
    del name, off, state


def dask_api(client: object) -> None:
    import mmkit.dask

    n: int = mmkit.dask.count("ab", ["logs/*.log"], regex=True, client=client)
    n += mmkit.dask.count_lines("a.log", chunk_size=1 << 26)
    pairs: List[Tuple[bytes, int]] = mmkit.dask.word_counts(["a.log", "b.log"], top=10)
    pairs += mmkit.dask.count_by(r"(\d+)", "a.log", 1, top=3)
    for line in mmkit.dask.grep(["a", "b"], "a.log", line_numbers=True):
        where: str = line.path
        no: Optional[int] = line.line_no
        text: bytes = line.text
        del where, no, text
    files: List[Tuple[str, int]] = mmkit.dask.expand("*.log")
    part = mmkit.count_part(b"ab", "a.log", 0, 10, regex=True)
    fixed: Optional[Tuple[int, int, bool]] = mmkit.count_part_fix("ab", None, part, 0, False)
    words = mmkit.word_counts(b"a b", threads=1)
    del n, pairs, files, fixed, words
