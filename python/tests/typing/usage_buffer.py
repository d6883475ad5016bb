"""An mmkit.mmap passed where the standard library takes a bytes-like
object. Type checkers accept this only where typeshed types bytes-like
arguments with the buffer protocol (collections.abc.Buffer, typeshed since
mid-2023); with an older typeshed (Debian 12's mypy 1.0.1) the standard
library's signatures list the builtin buffer types by name and an
mmkit.mmap is not among them. check_typing.py checks this file only with a
typeshed that has the protocol. Type-checked, never run."""

import hashlib
import re

import mmkit


def stdlib_takes_a_map(fd: int) -> None:
    m = mmkit.mmap(fd, 0)
    view = memoryview(m)
    digest: str = hashlib.sha256(m).hexdigest()
    found = re.search(b"x", m)
    count = sum(1 for _ in re.finditer(b"Zerubbabel", m))
    del view, digest, found, count
    m.close()
