"""Starting the window: Qt first, PyTorch in the background."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication

from gui.window import MainWindow


def run(argv: Sequence[str] = ()) -> int:
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("L1 Trainer")
    app.setOrganizationName("l1-trainer")
    window = MainWindow()
    window.show()
    window.load_torch()
    app.aboutToQuit.connect(window.shutdown)
    return app.exec()
