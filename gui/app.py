"""Starting the window: Qt first, PyTorch in the background; clear words when it cannot start."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QMessageBox

from ..core.files.resources import ICON_SIZES, resource
from .window import MainWindow


def no_display_reason() -> str | None:
    """Why Qt could not open a window here (Linux without a display), or None."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("no display found (neither DISPLAY nor WAYLAND_DISPLAY is set): start L1 Trainer "
            "from a desktop session, or train on the command line with `l1-trainer train`")


def app_icon() -> QIcon:
    """The icon at every size shipped, read through importlib.resources (no file path needed)."""
    icon = QIcon()
    for size in ICON_SIZES:
        pixmap = QPixmap()
        # No format argument: Qt reads it from the data (PySide6 6.8's stub types it as bytes, 6.11's as str).
        pixmap.loadFromData(resource("icons", f"l1-trainer-{size}.png").read_bytes())
        icon.addPixmap(pixmap)
    return icon


def run(argv: Sequence[str] = ()) -> int:
    reason = no_display_reason()
    if reason:
        print(f"l1-trainer: error: {reason}", file=sys.stderr)
        return 1
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0], *argv])
    app.setApplicationName("L1 Trainer")
    app.setOrganizationName("l1-trainer")
    app.setDesktopFileName("l1-trainer")  # Wayland shells match the window to the menu entry
    app.setWindowIcon(app_icon())
    window = MainWindow()

    def fatal(message: str) -> None:
        QMessageBox.critical(window, "L1 Trainer cannot start", message)
        app.exit(1)

    window.fatalError.connect(fatal)
    # The window says when it is closed for good (also after a close that waited, hidden, for
    # PyTorch to load, which Qt's last-window rule misses): one way to quit, not two.
    app.setQuitOnLastWindowClosed(False)
    window.closed.connect(app.quit)
    window.show()
    window.load_torch()
    app.aboutToQuit.connect(window.shutdown)
    return app.exec()
