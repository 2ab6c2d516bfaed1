"""Reading a file the user named: only a regular file, and only as large as it can be.

A FIFO or /dev/zero would hang or fill memory; a file larger than any the app reads is refused
before a byte is read. The callers add what the file was meant to be and what to do.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotAFile(OSError):
    """Not a regular file (a folder, device, FIFO or socket)."""


class TooLarge(OSError):
    """Larger than any file of its kind."""


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes. Raises NotAFile or TooLarge
    (with the size), or the OSError of opening it (FileNotFoundError, PermissionError...)."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise NotAFile(f"{path} is not a regular file")
    if info.st_size > limit:
        raise TooLarge(f"{path} is {info.st_size:,} bytes")
    with open(path, "rb") as fh:
        return fh.read(limit + 1)
