"""Type stubs for mmkit: a drop-in superset of the standard mmap module."""

import os
import sys
from collections.abc import Iterator
from typing import Literal, NoReturn, Optional, Union, overload

# Self and TypeAlias: typing_extensions is only read here, by the type checker,
# which always has its stubs (typeshed's stdlib); nothing is imported at run time.
from typing_extensions import Self, TypeAlias

# Bytes-like arguments, as typeshed types them. On 3.12+ any object with the
# buffer protocol (collections.abc.Buffer, which mmkit.mmap is). Before 3.12
# typeshed's own alias, _typeshed.ReadableBuffer / WriteableBuffer (a
# protocol in recent typeshed, a union of the builtin buffer types in older
# ones), plus mmkit.mmap itself, which older unions cannot list.
if sys.version_info >= (3, 12):
    from collections.abc import Buffer

    _ReadableBuffer: TypeAlias = Buffer
    _WriteableBuffer: TypeAlias = Buffer
else:
    from _typeshed import ReadableBuffer as _TSReadableBuffer
    from _typeshed import WriteableBuffer as _TSWriteableBuffer

    _ReadableBuffer: TypeAlias = Union[_TSReadableBuffer, mmap]
    _WriteableBuffer: TypeAlias = Union[_TSWriteableBuffer, mmap]

__version__: str

error = OSError

class PatternError(ValueError):
    """An invalid pattern; attributes as re.error."""

    msg: str
    pattern: Optional[bytes]
    pos: Optional[int]
    offset: Optional[int]
    # search() / count_by(): which pattern of a list failed (0 for a single
    # pattern); absent on errors from the mmap methods.
    index: int

class RegexLimitError(RuntimeError):
    """The regex is too complex for the backtracking engine on this input."""

    offset: Optional[int]

ACCESS_DEFAULT: int
ACCESS_READ: int
ACCESS_WRITE: int
ACCESS_COPY: int
PAGESIZE: int
ALLOCATIONGRANULARITY: int

# Platform constants (present where the platform defines them, as in the
# standard module of Python 3.13).
MAP_SHARED: int
MAP_PRIVATE: int
MAP_ANON: int
MAP_ANONYMOUS: int
MAP_DENYWRITE: int
MAP_EXECUTABLE: int
MAP_POPULATE: int
MAP_STACK: int
MAP_NORESERVE: int
MAP_32BIT: int
PROT_READ: int
PROT_WRITE: int
PROT_EXEC: int
MADV_NORMAL: int
MADV_RANDOM: int
MADV_SEQUENTIAL: int
MADV_WILLNEED: int
MADV_DONTNEED: int
MADV_REMOVE: int
MADV_DONTFORK: int
MADV_DOFORK: int
MADV_HWPOISON: int
MADV_MERGEABLE: int
MADV_UNMERGEABLE: int
MADV_HUGEPAGE: int
MADV_NOHUGEPAGE: int
MADV_DONTDUMP: int
MADV_DODUMP: int
MADV_FREE: int
# flush(flags=...), as Python 3.15's module.
MS_SYNC: int
MS_ASYNC: int
MS_INVALIDATE: int

_Index = int
_Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

class mmap:
    """A memory-mapped file or anonymous memory; see the module docs."""

    def __new__(
        cls,
        fileno: int,
        length: int,
        flags: int = ...,
        prot: int = ...,
        access: int = ...,
        offset: int = ...,
        *,
        trackfd: bool = ...,
    ) -> Self: ...
    # -- the standard API -------------------------------------------------
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def find(self, sub: _ReadableBuffer, start: int = ..., end: int = ..., /) -> int: ...
    def rfind(self, sub: _ReadableBuffer, start: int = ..., end: int = ..., /) -> int: ...
    def flush(self, offset: int = ..., size: int = ..., /, *, flags: int = ...) -> None:
        """Write back [offset, offset+size); flags: MS_SYNC (default) or
        MS_ASYNC, optionally | MS_INVALIDATE (as Python 3.15)."""
    def set_name(self, name: str, /) -> None:
        """Name anonymous memory for /proc/PID/maps (as Python 3.15)."""
    def madvise(self, option: int, start: int = ..., length: int = ..., /) -> None: ...
    def move(self, dest: int, src: int, count: int, /) -> None: ...
    def read(self, n: Optional[int] = ..., /) -> bytes: ...
    def read_byte(self) -> int: ...
    def readline(self) -> bytes: ...
    def resize(self, newsize: int, /) -> None: ...
    def follow_file(self) -> int: ...
    def seek(self, pos: int, whence: int = ..., /) -> int: ...
    def seekable(self) -> bool: ...
    def size(self) -> int: ...
    def tell(self) -> int: ...
    def write(self, bytes: _ReadableBuffer, /) -> int: ...
    def write_byte(self, byte: int, /) -> None: ...
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, key: _Index, /) -> int: ...
    @overload
    def __getitem__(self, key: slice, /) -> bytes: ...
    @overload
    def __setitem__(self, key: _Index, value: int, /) -> None: ...
    @overload
    def __setitem__(self, key: slice, value: _ReadableBuffer, /) -> None: ...
    def __delitem__(self, key: Union[_Index, slice], /) -> NoReturn: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def __bytes__(self) -> bytes: ...
    def __contains__(self, value: object, /) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *args: object) -> None: ...
    # In every version, as typeshed's mmap.mmap: checkers test bytes-likeness
    # with this protocol.
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __release_buffer__(self, buffer: memoryview, /) -> None: ...
    # -- mmkit extras ---------------------------------------------------------
    def readinto(self, buffer: _WriteableBuffer, /, offset: Optional[int] = None) -> int:
        """Copy into a writable buffer (guarded); from the position (which
        advances) or from offset (which leaves the position alone)."""
    def count(
        self,
        sub: _ReadableBuffer,
        start: Optional[int] = None,
        end: Optional[int] = None,
        *,
        regex: bool = False,
        ignore_case: bool = False,
        whole_word: bool = False,
        threads: Optional[int] = None,
    ) -> int:
        """Non-overlapping occurrences of sub in self[start:end]."""
    @overload
    def grep(
        self,
        pattern: _ReadableBuffer,
        start: Optional[int] = None,
        end: Optional[int] = None,
        *,
        regex: bool = False,
        ignore_case: bool = False,
        whole_word: bool = False,
        invert: bool = False,
        line_numbers: Literal[False] = False,
        threads: Optional[int] = None,
    ) -> Iterator[bytes]:
        """The lines of self[start:end] (each with its b'\\n') holding a match
        of pattern (invert: holding none); each line is matched without its
        b'\\n', as grep does."""
    @overload
    def grep(
        self,
        pattern: _ReadableBuffer,
        start: Optional[int] = None,
        end: Optional[int] = None,
        *,
        regex: bool = False,
        ignore_case: bool = False,
        whole_word: bool = False,
        invert: bool = False,
        line_numbers: Literal[True],
        threads: Optional[int] = None,
    ) -> Iterator[tuple[int, int, bytes]]:
        """(line_number, map_offset, line) for the lines grep() yields; the
        line number counts from 1 at start."""
    def finditer(
        self,
        pattern: _ReadableBuffer,
        start: Optional[int] = None,
        end: Optional[int] = None,
        *,
        regex: bool = False,
        ignore_case: bool = False,
        whole_word: bool = False,
    ) -> Iterator[tuple[int, int]]:
        """(start, end) spans of the non-overlapping matches, in map offsets."""
    def lines(self, start: Optional[int] = None, end: Optional[int] = None) -> Iterator[bytes]:
        """The lines of self[start:end], each with its b'\\n'."""
    def line_count(self, start: Optional[int] = None, end: Optional[int] = None) -> int:
        """How many lines lines(start, end) yields."""

_OpenMode: TypeAlias = Literal["r", "r+", "w", "c"]

def open(path: _Path, mode: _OpenMode = "r", offset: int = 0, length: int = 0) -> mmap:
    """Map a file by path: 'r', 'r+', 'w' (create/grow) or 'c' (copy-on-write)."""

def word_counts(
    buffer: _ReadableBuffer, top: Optional[int] = None, *, threads: Optional[int] = None
) -> list[tuple[bytes, int]]:
    """Counter(data.lower().split()) as pairs sorted by count desc, word asc."""

# -- the searcher: grep -P lines, counts per value, time ranges -------------

_Pattern: TypeAlias = Union[str, bytes, _ReadableBuffer]
_Patterns: TypeAlias = Union[_Pattern, "list[_Pattern]", "tuple[_Pattern, ...]"]
# bytes-like objects are data; a path in bytes must come as os.PathLike.
_Source: TypeAlias = Union[_ReadableBuffer, mmap, str, "os.PathLike[str]", "os.PathLike[bytes]", int]

class Line(tuple[object, ...]):
    """A line found by search(): a named tuple (a struct sequence)."""

    n_fields: int
    n_sequence_fields: int
    n_unnamed_fields: int
    @property
    def kind(self) -> Literal["match", "context"]: ...
    @property
    def line_no(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def text(self) -> bytes: ...
    @property
    def matches(self) -> int: ...
    @property
    def spans(self) -> Optional[tuple[tuple[int, int], ...]]: ...
    @property
    def gap(self) -> bool: ...

def search(
    pattern: _Patterns,
    source: _Source,
    *,
    fixed: bool = False,
    ignore_case: bool = False,
    word: bool = False,
    line_exact: bool = False,
    invert: bool = False,
    before: Optional[int] = None,
    after: Optional[int] = None,
    context: Optional[int] = None,
    max_count: Optional[int] = None,
    spans: bool = False,
    threads: Optional[int] = 0,
    decompress: bool = False,
    start: Optional[int] = None,
    end: Optional[int] = None,
) -> list[Line]:
    """grep -P over source: the selected lines and their context, as Line records."""

def search_iter(
    pattern: _Patterns,
    source: _Source,
    *,
    fixed: bool = False,
    ignore_case: bool = False,
    word: bool = False,
    line_exact: bool = False,
    invert: bool = False,
    before: Optional[int] = None,
    after: Optional[int] = None,
    context: Optional[int] = None,
    max_count: Optional[int] = None,
    spans: bool = False,
    threads: Optional[int] = 0,
    decompress: bool = False,
    start: Optional[int] = None,
    end: Optional[int] = None,
) -> Iterator[Line]:
    """search() as an iterator, a batch at a time in bounded memory."""

def count_by(
    pattern: _Patterns,
    source: _Source,
    group: Union[int, str] = 0,
    *,
    fixed: bool = False,
    ignore_case: bool = False,
    word: bool = False,
    threads: Optional[int] = 0,
    decompress: bool = False,
    top: Optional[int] = None,
    start: Optional[int] = None,
    end: Optional[int] = None,
) -> list[tuple[bytes, int]]:
    """Matches per value of a capture group, sorted by count desc, value asc."""

def time_range(
    source: Union[mmap, str, "os.PathLike[str]", "os.PathLike[bytes]"],
    since: Union[None, int, str, bytes] = None,
    until: Union[None, int, str, bytes] = None,
    format: Optional[Literal["auto", "iso8601", "syslog", "clf"]] = None,
    *,
    year: int = 0,
    utc_offset: int = 0,
) -> tuple[int, int, bool]:
    """(start, end, sorted): the byte range of a log's lines in [since, until)."""

# -- counts cut into parts (what each mmkit.dask task runs) -------------------

# (start, end, count, next_pos, next_notempty, record): plain data that pickles.
_Part: TypeAlias = "tuple[int, int, int, int, bool, tuple[tuple[int, int], ...]]"
_PartSource: TypeAlias = Union[_ReadableBuffer, mmap, str, "os.PathLike[str]", "os.PathLike[bytes]"]

def count_part(
    pattern: Union[str, _ReadableBuffer],
    source: _PartSource,
    start: int,
    end: int,
    *,
    regex: bool = False,
    ignore_case: bool = False,
    whole_word: bool = False,
) -> _Part:
    """The matches starting in source[start:end], found as if the previous
    match had ended at start (the whole source is the subject)."""

def count_part_fix(
    pattern: Union[str, _ReadableBuffer],
    source: Optional[_PartSource],
    part: _Part,
    pos: int,
    notempty: bool,
    *,
    regex: bool = False,
    ignore_case: bool = False,
    whole_word: bool = False,
) -> Optional[tuple[int, int, bool]]:
    """(count, next_pos, next_notempty): the part's exact count given the end of
    the last match before it; None when source is None and bytes are needed."""

# -- shared memory between processes ------------------------------------------

from collections.abc import Callable as _Callable

LOCK_SIZE: int

class SharedMemory(mmap):
    """A map of named shared memory, from shm_open(); not instantiable."""

    @property
    def name(self) -> str:
        """The name with its leading '/'."""
    @property
    def created(self) -> bool:
        """Whether the shm_open() call that returned this map created the object."""
    def unlink(self) -> None: ...

def shm_open(
    name: Union[str, bytes],
    size: int = 0,
    *,
    create: bool = False,
    exclusive: bool = False,
    readonly: bool = False,
    mode: int = 0o600,
    any_owner: bool = False,
) -> SharedMemory:
    """Open (create=True: or create) named shared memory and map it."""

def shm_unlink(name: Union[str, bytes]) -> None:
    """Remove the name; open maps stay valid."""

class OwnerDiedError(RuntimeError):
    """The previous holder died; the raising thread holds the lock (.lock)."""

    lock: Lock

class LockNotRecoverableError(RuntimeError):
    """An owner-died lock was released without consistent()."""

class Lock:
    """A robust process-shared lock in LOCK_SIZE bytes of a shared map."""

    def __new__(
        cls,
        buffer: _WriteableBuffer,
        offset: int = 0,
        *,
        init: bool = False,
        repair: Optional[_Callable[[Lock], object]] = None,
    ) -> Self: ...
    def acquire(self, blocking: bool = True, timeout: Optional[float] = None) -> bool: ...
    def release(self) -> None: ...
    def consistent(self) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *args: object) -> None: ...
    @property
    def offset(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    @property
    def owner_died(self) -> bool: ...

# The fault guard (see docs/python.md, "The fault guard").
def guard_install() -> None: ...
def guard_rearm(automatic: bool) -> bool: ...
