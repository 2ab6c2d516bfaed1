"""Writing the app's files safely.

A target is checked before any work is done (a run is not trained only to fail at the save),
written beside itself and renamed over the old file (a crash or a full disk never leaves half a
file), never a device, FIFO or folder, with the permissions the user's umask gives a new file
or those of the file it replaces. A symlink is written through: its target gets the new bytes.
Temporary files of writers that were killed are removed at the next write of the same file.
"""

from __future__ import annotations

import glob
import os
import stat
import tempfile
from pathlib import Path

_TMP_SUFFIX = ".tmp"


class TargetError(OSError):
    """A file cannot be written where the user asked; the message says why and what to do."""


def check_target(path: Path) -> Path:
    """The file that writing `path` will replace (symlinks followed); raises TargetError.

    Checks that the folder exists and takes new files, and that the target, if it exists, is
    a regular file that may be written."""
    real = Path(os.path.realpath(path))
    try:
        info = os.stat(real)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise TargetError(f"cannot write {path}: {exc.strerror}") from exc
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise TargetError(f"cannot write {path}: it is a folder; give a file name")
        if not stat.S_ISREG(info.st_mode):
            raise TargetError(f"cannot write {path}: it is not a regular file (a device, FIFO or "
                              "socket); choose another name")
        if not os.access(real, os.W_OK):
            raise TargetError(f"cannot write {path}: the file is read-only")
    folder = real.parent
    if not folder.is_dir():
        raise TargetError(f"cannot write {path}: the folder {folder} does not exist")
    try:  # the only sure test that a file can be made there (ACLs, read-only mounts, quotas)
        fd, probe = _temp_file(real)
    except OSError as exc:
        raise TargetError(f"cannot write {path}: cannot create files in {folder} ({exc.strerror})") from exc
    os.close(fd)
    os.unlink(probe)
    return real


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one rename, after checking it as check_target does."""
    real = check_target(path)
    remove_stale_temps(real)
    mode = os.stat(real).st_mode & 0o7777 if real.exists() else 0o666 & ~_umask()
    fd, tmp = _temp_file(real)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)  # mkstemp makes 0600 whatever the umask
            os.fsync(fh.fileno())
        os.replace(tmp, real)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete the temporary files beside `target` left by writers that no longer run."""
    if os.name != "posix":  # os.kill(pid, 0) is a liveness test only on POSIX
        return []
    removed = []
    for candidate in target.parent.glob(f".{glob.escape(target.name)}.*{_TMP_SUFFIX}"):
        pid = candidate.name[len(target.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                candidate.unlink()
                removed.append(candidate)
            except OSError:
                pass  # another writer's clean-up got there first, or no permission: harmless
    return removed


def _temp_file(target: Path) -> tuple[int, str]:
    # The writer's PID in the name tells a later writer whether the file is abandoned.
    return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.",
                            suffix=_TMP_SUFFIX)


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
