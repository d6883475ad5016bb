# Type stubs of mmkit.dask (python/mmkit/dask.py); the client is a
# distributed.Client, typed as Any so that type checking needs no Dask.
import os
from collections.abc import Iterable
from typing import Any, NamedTuple, Optional, Union

_Path = Union[str, "os.PathLike[str]"]
_Paths = Union[_Path, Iterable[_Path]]
_Pattern = Union[str, bytes]
_Patterns = Union[_Pattern, "list[_Pattern]", "tuple[_Pattern, ...]"]

DEFAULT_CHUNK_SIZE: int

class GrepLine(NamedTuple):
    path: str
    line_no: Optional[int]
    offset: int
    text: bytes

def expand(paths: _Paths) -> list[tuple[str, int]]: ...
def count(
    pattern: _Pattern,
    paths: _Paths,
    *,
    regex: bool = False,
    ignore_case: bool = False,
    whole_word: bool = False,
    client: Any = None,
    chunk_size: int = ...,
) -> int: ...
def count_lines(paths: _Paths, *, client: Any = None, chunk_size: int = ...) -> int: ...
def word_counts(
    paths: _Paths, top: Optional[int] = None, *, client: Any = None, chunk_size: int = ...
) -> list[tuple[bytes, int]]: ...
def grep(
    pattern: _Patterns,
    paths: _Paths,
    *,
    fixed: bool = False,
    ignore_case: bool = False,
    word: bool = False,
    line_exact: bool = False,
    invert: bool = False,
    line_numbers: bool = False,
    client: Any = None,
    chunk_size: int = ...,
) -> list[GrepLine]: ...
def count_by(
    pattern: _Patterns,
    paths: _Paths,
    group: Union[int, str] = 0,
    *,
    fixed: bool = False,
    ignore_case: bool = False,
    word: bool = False,
    top: Optional[int] = None,
    client: Any = None,
    chunk_size: int = ...,
) -> list[tuple[bytes, int]]: ...
