"""Regenerate docs/screenshot.png from the real window, mid-run.

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" python docs/take_screenshot.py

It trains the "Sparse" preset for 3 epochs (kept as a faded overlay), then starts "Balanced",
raises the L1 weight to 1e-3 halfway through epoch 2 (a dashed marker), and grabs the screen
in epoch 4.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gui.window import MainWindow  # noqa: E402


def main() -> None:
    app = QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "shot.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1400, 860)
    window.show()
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshot.png"
    stages = iter(["sparse", "balanced"])

    def run_next() -> None:
        preset = next(stages, None)
        if preset is None:
            return
        select = window.controls.preset
        select.setCurrentIndex(select.findData(preset))
        window.controls.epochs.setValue(3 if preset == "sparse" else 10)
        window.start()
        if preset == "balanced":
            poll.start(50)

    def watch() -> None:  # a GUI-thread timer reading what the window shows
        epoch = window.status.progress.value() / window._config.steps_per_epoch
        if epoch > 1.5 and window.controls.l1_weight.value() != 1e-3:
            window.controls.l1_weight.setValue(1e-3)
        if epoch > 3.6:
            poll.stop()
            grab()

    poll = QTimer()
    poll.timeout.connect(watch)

    def grab() -> None:
        app.primaryScreen().grabWindow(0).copy(window.frameGeometry()).save(str(out))
        print(f"saved {out}")
        window.close()
        app.quit()

    window.runFinished.connect(lambda ended: QTimer.singleShot(200, run_next))
    window.torchReady.connect(run_next)
    window.load_torch()
    app.exec()


if __name__ == "__main__":
    main()
