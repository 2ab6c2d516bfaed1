"""The freedesktop menu entry and icons, in the user's data folder (Linux desktops)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

APP_ID = "l1-trainer"
ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
PNG_SIZES = (16, 32, 48, 64, 128, 256)


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def launcher() -> str:
    """The Exec line: the installed GUI launcher if there is one, else this Python and main.py."""
    gui = Path(sys.executable).with_name("l1-trainer-gui")
    found = str(gui) if gui.exists() else shutil.which("l1-trainer-gui")
    if found:
        return _quote(found)
    return f"{_quote(sys.executable)} {_quote(str(Path(__file__).resolve().parent.parent / 'main.py'))}"


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
    """Write the .desktop file and the icons; returns what was written."""
    entry, svg, *pngs = paths(home)
    for path in (entry, svg, *pngs):
        path.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(entry_text(launcher()))
    shutil.copyfile(ICONS / f"{APP_ID}.svg", svg)
    for size, png in zip(PNG_SIZES, pngs):
        shutil.copyfile(ICONS / f"{APP_ID}-{size}.png", png)
    return [entry, svg, *pngs]


def uninstall(home: Path | None = None) -> list[Path]:
    """Remove what install wrote; returns what was there."""
    removed = [p for p in paths(home) if p.exists()]
    for path in removed:
        path.unlink()
    return removed


def _quote(arg: str) -> str:
    # The Desktop Entry spec: quote arguments with reserved characters, escaping " ` $ and \\.
    if any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
        return f'"{escaped}"'
    return arg
