"""Writing the app's files safely.

A target is checked before any work is done (a run is not trained only to fail at the save):
the folder exists, takes new files and has room, and the target is a regular file that may be
written, not a folder, device, FIFO, socket or a file under /dev or /proc. The bytes go to a
temporary file beside it, which is flushed and renamed over it, so a crash or a full disk never
leaves half a file. A new file gets the mode the user's umask gives; a replaced one keeps its
permissions (never set-user-ID) and, where the system allows, its owner. A symlink is written
through: its target gets the new bytes. Temporary files of writers that were killed are removed
at the next write into the same folder.

The app's own folder (the run history) is another matter: nothing inside it is followed.
`write_private` refuses a folder that is a link, makes its temporary file with mkstemp
(O_EXCL|O_NOFOLLOW) and renames it over the name, which replaces a link found there instead of
writing through it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

_TMP_PREFIX = ".l1-trainer-"
_TMP_NAME = re.compile(r"^\.l1-trainer-(\d+)-[a-z0-9_]+\.tmp$")  # mkstemp's random part
_SYSTEM_TREES = ("/dev/", "/proc/", "/sys/")


class TargetError(OSError):
    """A file cannot be written where the user asked; the message says why and what to do."""


def check_target(path: Path | str, size: int = 0) -> Path:
    """The file that writing `path` will replace (symlinks followed); raises TargetError.

    `size`: the bytes about to be written, for the free-space check."""
    text = os.fspath(path)
    if text.endswith(os.sep):
        raise TargetError(f"cannot write {text}: the name ends with '{os.sep}'; give a file name")
    given = os.path.abspath(text)
    real = Path(os.path.realpath(text))
    if any(name.startswith(_SYSTEM_TREES) for name in (given, str(real) + os.sep)):
        raise TargetError(f"cannot write {text}: it is a device or system file; choose a file name "
                          "in a folder of yours")
    try:
        info = os.stat(real)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise TargetError(f"cannot write {text}: {exc.strerror}") from exc
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise TargetError(f"cannot write {text}: it is a folder; give a file name")
        if not stat.S_ISREG(info.st_mode):
            raise TargetError(f"cannot write {text}: it is not a regular file (a device, FIFO or "
                              "socket); choose another name")
        # Root may write anything: a file nobody may write is read-only for us too.
        if not os.access(real, os.W_OK) or not info.st_mode & 0o222:
            raise TargetError(f"cannot write {text}: the file is read-only")
    folder = real.parent
    if not folder.is_dir():
        raise TargetError(f"cannot write {text}: the folder {folder} does not exist")
    try:  # the only sure test that a file can be made there (ACLs, read-only mounts, quotas)
        fd, probe = _temp_file(folder)
    except OSError as exc:
        raise TargetError(f"cannot write {text}: cannot create files in {folder} ({exc.strerror})") from exc
    os.close(fd)
    os.unlink(probe)
    free = shutil.disk_usage(folder).free
    if size > free:
        raise TargetError(f"cannot write {text}: {size:,} bytes needed, {free:,} free in {folder}; "
                          "free some space or choose another folder")
    return real


def write_atomic(path: Path | str, data: bytes) -> None:
    """Replace `path` with `data` in one rename, after checking it as check_target does."""
    real = check_target(path, len(data))
    remove_stale_temps(real.parent)
    _replace(real, data, os.stat(real) if real.exists() else None)


def write_private(path: Path, data: bytes) -> None:
    """Replace `path`, a file in the app's own folder, with `data` without following any link:
    a folder that is a link is refused, and a link at `path` is replaced, not written through."""
    folder = path.parent
    if folder.is_symlink() or not folder.is_dir():
        raise TargetError(f"cannot write {path}: {folder} is not a folder of L1 Trainer's own "
                          "(it is a link, or missing); links in its data folder are never followed")
    remove_stale_temps(folder)
    _replace(path, data, None)


def _replace(path: Path, data: bytes, old: os.stat_result | None) -> None:
    """Write `data` to a new temporary file beside `path`, sync it, and rename it over `path`."""
    fd, tmp = _temp_file(path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            _take_over(fh.fileno(), old)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete the temporary files in `folder` left by writers that no longer run."""
    if os.name != "posix":  # os.kill(pid, 0) is a liveness test only on POSIX
        return []
    removed = []
    for candidate in folder.glob(f"{_TMP_PREFIX}*.tmp"):
        found = _TMP_NAME.match(candidate.name)
        if found and not _alive(int(found.group(1))):
            try:
                candidate.unlink()
                removed.append(candidate)
            except OSError:
                pass  # another writer's clean-up got there first, or no permission: harmless
    return removed


def _take_over(fd: int, old: os.stat_result | None) -> None:
    """The new file's mode (and owner): the replaced file's, or what the umask gives."""
    if old is None:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 whatever the umask
        return
    os.fchmod(fd, stat.S_IMODE(old.st_mode) & 0o777)  # no set-user-ID, set-group-ID or sticky
    try:
        os.fchown(fd, old.st_uid, old.st_gid)
    except OSError:
        pass  # only root may give a file away: it stays the writer's


def _temp_file(folder: Path) -> tuple[int, str]:
    # mkstemp opens with O_EXCL (and O_NOFOLLOW where there is one): never an existing file.
    # Named by the writer's PID, not the target's name (which may be as long as the system
    # allows): a later writer can tell from the PID whether the file is abandoned.
    return tempfile.mkstemp(dir=folder, prefix=f"{_TMP_PREFIX}{os.getpid()}-", suffix=".tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere the only way to read it is to set it, then put it back
    os.umask(mask)
    return mask
