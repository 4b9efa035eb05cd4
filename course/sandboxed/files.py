"""Reading a file an untrusted party controls: a regular file, size-capped, never a link.

``os.open`` with ``O_NOFOLLOW | O_NONBLOCK`` and ``fstat`` on the open descriptor: a symbolic
link is refused (not followed), a named pipe or a device is refused without blocking, and the
type is checked on the file actually opened (no race between a check and the open).

>>> import tempfile, os
>>> folder = tempfile.mkdtemp()
>>> _ = open(os.path.join(folder, "a.txt"), "w").write("hello")
>>> read_regular(os.path.join(folder, "a.txt"), 10)
b'hello'
>>> os.mkfifo(os.path.join(folder, "pipe"))
>>> read_regular(os.path.join(folder, "pipe"), 10)
Traceback (most recent call last):
...
course.sandboxed.files.NotRegular: not a regular file
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager


class NotRegular(ValueError):
    """A link, pipe, device or folder where a regular file was expected."""


class TooLarge(ValueError):
    """A file larger than the cap."""


@contextmanager
def open_regular(path: str | os.PathLike, max_bytes: int) -> Iterator[tuple[int, int]]:
    """``(fd, size)`` of a regular file no larger than ``max_bytes`` (closed on exit)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno in (40, 6):  # ELOOP (a link), ENXIO (a socket or a pipe without a writer)
            raise NotRegular("not a regular file (a link or a special file)") from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular("not a regular file")
        if info.st_size > max_bytes:
            raise TooLarge(f"{info.st_size:,} bytes, more than the {max_bytes:,} allowed")
        yield fd, info.st_size
    finally:
        os.close(fd)


def read_regular(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of a regular file (see the module docstring), at most ``max_bytes``."""
    with open_regular(path, max_bytes) as (fd, _):
        chunks = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # it grew while being read
        raise TooLarge(f"more than the {max_bytes:,} bytes allowed")
    return data


def copy_regular(src: str | os.PathLike, dest: str | os.PathLike, max_bytes: int) -> int:
    """Copy a regular file (see the module docstring) to ``dest``; return the bytes copied."""
    copied = 0
    with open_regular(src, max_bytes) as (fd, _), open(dest, "wb") as out:
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            copied += len(chunk)
            if copied > max_bytes:
                raise TooLarge(f"more than the {max_bytes:,} bytes allowed")
            out.write(chunk)
    return copied
