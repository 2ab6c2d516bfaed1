"""The freedesktop menu entry and icons, in the user's data folder (Linux desktops)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from l1_trainer.core.resources import resource

APP_ID = "l1-trainer"
PNG_SIZES = (16, 32, 48, 64, 128, 256)


def data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share when it is unset or relative (the XDG spec says to
    ignore a relative path)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def launcher() -> str:
    """The Exec line: the installed GUI launcher if there is one, else this Python with -m."""
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
            + [icons / f"{s}x{s}" / "apps" / f"{APP_ID}.png" for s in PNG_SIZES])


def install(home: Path | None = None) -> list[Path]:
    """Write the .desktop file and the icons, all or nothing; returns what was written.

    Each file is written beside its place first; only when all of them are on disk are they
    renamed into place, and a failure removes whatever this call had written."""
    targets = paths(home)
    contents = [entry_text(launcher()).encode(), resource("icons", f"{APP_ID}.svg").read_bytes()]
    contents += [resource("icons", f"{APP_ID}-{size}.png").read_bytes() for size in PNG_SIZES]
    made: list[Path] = []  # folders this call created, files and renamed targets, to undo
    staged: list[Path] = []
    try:
        for target, data in zip(targets, contents):
            made += _make_folders(target.parent)
            staged.append(target.with_name(f".{target.name}.{os.getpid()}.tmp"))
            staged[-1].write_bytes(data)
        for temp, target in zip(staged, targets):
            os.replace(temp, target)
            made.append(target)
    except OSError as exc:
        for path in [*staged, *reversed(made)]:  # files before the folders holding them
            _remove(path)
        where = exc.filename or home or data_home()
        raise OSError(f"could not install the menu entry: {where}: {exc.strerror or exc}; "
                      "nothing was installed") from exc
    return targets


def uninstall(home: Path | None = None) -> list[Path]:
    """Remove what install wrote; returns what was there."""
    removed = [p for p in paths(home) if p.exists()]
    for path in removed:
        path.unlink()
    return removed


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
