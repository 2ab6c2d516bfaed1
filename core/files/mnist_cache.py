"""An unpacked copy of the bundled MNIST files, so that a start reads them instead of gunzipping.

Each file is kept under its published SHA-256 (of the unpacked bytes) in the user's cache
folder, and is hashed again on every read: a damaged, altered or foreign file is never used,
only replaced. Nothing inside the folder is followed: the folder and its files are opened with
O_NOFOLLOW and written with mkstemp and a rename (`write_private`). The folder holds the four
files of the current bundle and nothing else (55 MB); one that cannot be written (read-only,
full) only means that the next start unpacks again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import platformdirs

from .writing import write_private

CACHE_ENV = "L1_TRAINER_CACHE"  # another folder for the cache (the tests use one of their own)
_SUFFIX = ".idx"
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


def cache_folder() -> Path:
    """Where the unpacked files live: $L1_TRAINER_CACHE, or the user's cache folder."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path(platformdirs.user_cache_dir("l1-trainer")) / "mnist"


def read_cached(sha256: str, limit: int) -> bytearray | None:
    """The unpacked file whose SHA-256 is `sha256`, if the cache holds it intact; else None."""
    try:
        with _folder_fd(cache_folder()) as folder:
            fd = os.open(sha256 + _SUFFIX, os.O_RDONLY | _NO_FOLLOW, dir_fd=folder)
            with os.fdopen(fd, "rb") as fh:
                info = os.fstat(fh.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
                    return None
                data = bytearray(info.st_size)  # writable: the tensors use it without a copy
                if fh.readinto(data) != info.st_size:
                    return None
    except OSError:  # missing, a link, unreadable: unpack the bundle instead
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def store(sha256: str, data: bytes, current: set[str]) -> None:
    """Keep `data` (whose SHA-256 was checked) for the next start, and remove any file that is
    not one of the `current` bundle's. Quietly does nothing where the cache cannot be written."""
    folder = cache_folder()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(folder / (sha256 + _SUFFIX), data)
        for old in folder.glob("*" + _SUFFIX):
            if old.stem not in current:
                old.unlink()
    except OSError:  # TargetError too
        pass  # a read-only or full disk: the bundle is unpacked again next time, nothing is lost


@contextlib.contextmanager
def _folder_fd(folder: Path) -> Iterator[int]:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NO_FOLLOW)
    try:
        yield fd
    finally:
        os.close(fd)
