"""Regenerate the README's screenshots from the real window.

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" python docs/take_screenshot.py
    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" python docs/take_screenshot.py --draw

It trains the "Sparse" preset for 3 epochs (kept as a faded overlay), then starts "Balanced",
raises the L1 weight to 1e-3 halfway through epoch 2 (a dashed marker), and grabs the screen
in epoch 4 (docs/screenshot.png). With --draw it trains "Balanced" for 3 epochs, draws a 7 on
the canvas with the mouse and grabs the draw panel's prediction (docs/draw.png).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QPoint, QSettings, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from l1_trainer.gui.window import MainWindow

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    app = QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "shot.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1400, 860)
    window.show()
    drawing = "--draw" in sys.argv
    out = REPO / "docs" / ("draw.png" if drawing else "screenshot.png")
    stages = iter(["balanced"] if drawing else ["sparse", "balanced"])

    def run_next() -> None:
        preset = next(stages, None)
        if preset is None:
            return
        select = window.controls.preset
        select.setCurrentIndex(select.findData(preset))
        window.controls.epochs.setValue(3 if preset == "sparse" or drawing else 10)
        window.start()
        if drawing:
            window.session.events.evaluation.connect(lambda model: draw_seven())
        elif preset == "balanced":
            poll.start(50)

    def draw_seven() -> None:
        window.tabs.setCurrentWidget(window.draw)
        canvas = window.draw.canvas
        stroke = [QPoint(60, 60), QPoint(140, 58), QPoint(215, 62), QPoint(180, 130),
                  QPoint(150, 190), QPoint(130, 240)]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, stroke[0])
        for a, b in zip(stroke[:-1], stroke[1:]):
            for t in range(1, 9):
                QTest.mouseMove(canvas, a + (b - a) * (t / 8))
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, stroke[-1])
        QTimer.singleShot(500, grab)

    def watch() -> None:  # a GUI-thread timer reading what the window shows
        record = window.session.active
        if record is None:
            return
        epoch = record.step / record.config.steps_per_epoch
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

    window.session.events.run_ended.connect(lambda record: QTimer.singleShot(200, run_next))
    window.torchReady.connect(run_next)
    window.load_torch()
    app.exec()


if __name__ == "__main__":
    main()
