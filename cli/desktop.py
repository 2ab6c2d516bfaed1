"""The freedesktop menu entry and icons, in the user's data folder (Linux desktops)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..core.files.resources import ICON_SIZES, resource

APP_ID = "l1-trainer"


def data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share when it is unset or relative (the XDG spec says to
    ignore a relative path). Raises OSError when there is no home folder to put it in."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if os.path.isabs(value):
        return Path(value)
    try:
        home = Path.home()
    except (RuntimeError, KeyError) as exc:  # no HOME and no account entry
        raise OSError("there is no home folder to install into: set HOME or XDG_DATA_HOME") from exc
    if not home.is_absolute() or home == Path("/"):  # HOME= (empty) would mean the root folder
        raise OSError(f"the home folder {str(home)!r} is not usable: set HOME or XDG_DATA_HOME")
    return home / ".local" / "share"


def launcher() -> str:
    """The Exec line: the standalone app's own executable (it opens the window when given no
    arguments), the installed GUI launcher if there is one, else this Python with -m."""
    if getattr(sys, "frozen", False):  # PyInstaller's bundle: sys.executable is the app
        return _quote(sys.executable)
    gui = Path(sys.executable).with_name("l1-trainer-gui")
    found = str(gui) if gui.exists() else shutil.which("l1-trainer-gui")
    if found:
        return _quote(found)
    return f"{_quote(sys.executable)} -m l1_trainer.main"


def entry_text(exec_line: str) -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.0",
        "Name=L1 Trainer",
        "GenericName=Neural network trainer",
        "Comment=Train a small neural network on handwritten digits and watch L1 regularization make it sparse",
        f"Exec={exec_line}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Science;ArtificialIntelligence;",
        "Keywords=neural;network;MNIST;lasso;sparsity;machine learning;",
        f"StartupWMClass={APP_ID}",
        "",
    ])


def paths(home: Path | None = None) -> list[Path]:
    home = home or data_home()
    icons = home / "icons" / "hicolor"
    return ([home / "applications" / f"{APP_ID}.desktop", icons / "scalable" / "apps" / f"{APP_ID}.svg"]
            + [icons / f"{s}x{s}" / "apps" / f"{APP_ID}.png" for s in ICON_SIZES])


def install(home: Path | None = None) -> list[Path]:
    """Write the .desktop file and the icons, all or nothing; returns what was written.

    Every file is written beside its place first. Only when all are on disk are they renamed
    into place, each earlier version kept aside until the end: a failure puts back what was
    there before and removes what this call wrote."""
    targets = paths(home)
    for target in targets:
        if target.is_dir() and not target.is_symlink():
            raise OSError(f"could not install the menu entry: {target} is a folder; remove it first")
    contents = [entry_text(launcher()).encode(), resource("icons", f"{APP_ID}.svg").read_bytes()]
    contents += [resource("icons", f"{APP_ID}-{size}.png").read_bytes() for size in ICON_SIZES]
    made: list[Path] = []  # folders and files this call created, to undo
    kept: list[tuple[Path, Path]] = []  # (earlier version set aside, where it belongs)
    target = targets[0]
    try:
        staged = []
        for target, data in zip(targets, contents):
            made += _make_folders(target.parent)
            staged.append(_aside(target, "new"))
            made.append(staged[-1])
            staged[-1].write_bytes(data)
        for temp, target in zip(staged, targets):
            if target.exists() or target.is_symlink():
                os.replace(target, _aside(target, "old"))
                kept.append((_aside(target, "old"), target))
            os.replace(temp, target)
            made.append(target)
    except OSError as exc:
        for path in reversed(made):  # files before the folders that hold them
            _remove(path)
        for old, place in kept:
            os.replace(old, place)
        raise OSError(f"could not install the menu entry: {target}: {exc.strerror or exc}; "
                      "nothing was changed") from exc
    for old, _ in kept:
        old.unlink()
    return targets


def uninstall(home: Path | None = None) -> list[Path]:
    """Remove what install wrote; returns what was there."""
    removed = [p for p in paths(home) if p.is_file() or p.is_symlink()]
    for path in removed:
        path.unlink()
    return removed


def _aside(target: Path, why: str) -> Path:
    return target.with_name(f".{target.name}.{why}.{os.getpid()}")


def _make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; returns those created, outermost first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass  # a folder another program has filled meanwhile stays


def _quote(arg: str) -> str:
    # The Desktop Entry spec: quote arguments with reserved characters, escaping " ` $ and \\.
    if any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
        return f'"{escaped}"'
    return arg
