"""Misuses of mmkit that the stubs must make mypy reject: every line marked
`# E: text` must get exactly one error whose message contains text, and no
other line may get one (python/tests/typing/check_typing.py). Type-checked,
never run."""

import mmkit


def misuse(fd: int, path: str, mode: str) -> None:
    m = mmkit.mmap(fd, 0)
    mmkit.open(path, "rb")  # E: Argument 2 to "open" has incompatible type "Literal['rb']"
    mmkit.open(path, "w+")  # E: Argument 2 to "open" has incompatible type "Literal['w+']"
    mmkit.open(path, mode)  # E: Argument 2 to "open" has incompatible type "str"
    mmkit.open(path, mode="x")  # E: Argument "mode" to "open" has incompatible type
    m.flush(0, 10, mmkit.MS_SYNC)  # E: Too many positional arguments for "flush"
    m.flush(flags="sync")  # E: Argument "flags" to "flush" of "mmap" has incompatible type "str"
    m.set_name(b"cache")  # E: Argument 1 to "set_name" of "mmap" has incompatible type "bytes"
    m.count("text")  # E: Argument 1 to "count" of "mmap" has incompatible type "str"
    m.find("text")  # E: Argument 1 to "find" of "mmap" has incompatible type "str"
    m.finditer("a+", regex=True)  # E: Argument 1 to "finditer" of "mmap" has incompatible type "str"
    m.write("text")  # E: Argument 1 to "write" of "mmap" has incompatible type "str"
    m.readinto(bytearray(4), offset="0")  # E: Argument "offset" to "readinto" of "mmap" has incompatible type "str"
    s: str = m.read()  # E: Incompatible types in assignment (expression has type "bytes", variable has type "str")
    i: str = m[0]  # E: Incompatible types in assignment (expression has type "int", variable has type "str")
    m[0] = b"a"  # E: No overload variant of "__setitem__" of "mmap" matches argument types "int", "bytes"
    mmkit.word_counts("some text")  # E: Argument 1 to "word_counts" has incompatible type "str"
    mmkit.search(b"a", 1.5)  # E: Argument 2 to "search" has incompatible type "float"
    mmkit.search(b"a", b"data", invert="yes")  # E: Argument "invert" to "search" has incompatible type "str"
    mmkit.count_by(b"(a)", b"a", 1.0)  # E: Argument 3 to "count_by" has incompatible type "float"
    mmkit.time_range(b"2026-11-30 log")  # E: Argument 1 to "time_range" has incompatible type "bytes"
    mmkit.time_range("x.log", format="rfc822")  # E: Argument "format" to "time_range" has incompatible type
    mmkit.shm_open(42)  # E: Argument 1 to "shm_open" has incompatible type "int"
    mmkit.Lock(m, init="yes")  # E: Argument "init" to "Lock" has incompatible type "str"
    m.set_name()  # E: Too few arguments for "set_name" of "mmap"
    m.no_such_method()  # E: "mmap" has no attribute "no_such_method"
    mmkit.ReadableBuffer  # E: Module has no attribute "ReadableBuffer"
    del s, i


def dask_misuse() -> None:
    import mmkit.dask

    mmkit.dask.count_lines("a.log", chunk_size="64M")  # E: Argument "chunk_size" to "count_lines" has incompatible type "str"
    mmkit.dask.count(1, "a.log")  # E: Argument 1 to "count" has incompatible type "int"
