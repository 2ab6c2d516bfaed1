"""Regenerate the README's screenshots from the real window.

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" python docs/take_screenshot.py [VIEW]

VIEW is one of:
- curves (the default): trains the "Sparse" preset for 3 epochs (kept as a faded overlay), then
  starts "Balanced", raises the L1 weight to 1e-3 halfway through epoch 2 (a dashed marker) and
  grabs the window in epoch 4 (docs/screenshot.png).
- draw: trains "Balanced" with augmentation for 3 epochs, draws a 7 with the mouse and grabs the
  draw panel: the prediction and the hidden units firing (docs/draw.png).
- gallery: trains "Balanced" for 3 epochs, clicks the confusion matrix's largest mix-up and the
  first of its images (docs/gallery.png).
- weights: trains "Sparse" with the proximal method at L1 0.3 for 3 epochs and grabs the
  Weights tab: dead units, the input mask, the histograms (docs/weights.png).
- runs: trains two short runs and grabs the Runs tab (docs/runs.png).
- sweep: trains 8 L1 weights at once for 3 epochs and grabs the Sweep tab (docs/sweep.png).
- compare, compare-weights, compare-presenting: the "L1 vs L2" preset at 1280 x 720, grabbed in
  its third epoch: the Curves tab, the Weights tab, and the Curves tab in presentation mode
  (run those on a 1280x720 screen: `-s "-screen 0 1280x720x24"`) (docs/compare*.png).
The run history goes to a temporary folder, not the user's.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ["L1_TRAINER_DATA"] = tempfile.mkdtemp(prefix="l1-trainer-shot-")

from PySide6.QtCore import QPoint, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from l1_trainer.gui.window import MainWindow  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT = {"curves": "screenshot.png", "draw": "draw.png", "gallery": "gallery.png",
       "weights": "weights.png", "runs": "runs.png", "sweep": "sweep.png", "compare": "compare.png",
       "compare-weights": "compare-weights.png", "compare-presenting": "compare-presenting.png"}
COMPARE = [("l1-vs-l2", 5, {})]
# Each view's runs: (preset, epochs, other settings).
RUNS = {
    "curves": [("sparse", 3, {}), ("balanced", 10, {})],
    "draw": [("balanced", 3, {"augment": True})],
    "gallery": [("balanced", 3, {})],
    "weights": [("sparse", 3, {"l1_method": "proximal", "l1_weight": 0.3})],
    "runs": [("sparse", 1, {}), ("balanced", 1, {"augment": True})],
    "sweep": [],
    "compare": COMPARE, "compare-weights": COMPARE, "compare-presenting": COMPARE,
}
TABS = {"draw": "Draw", "gallery": "Test images", "weights": "Weights", "runs": "Runs",
        "sweep": "Sweep"}


def main() -> None:
    view = sys.argv[1] if len(sys.argv) > 1 else "curves"
    if view not in OUT:
        sys.exit(f"VIEW must be one of {', '.join(OUT)}")
    app = QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "shot.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(*((1280, 720) if view.startswith("compare") else (1400, 860)))
    window.show()
    if view.startswith("compare"):
        window.guide.hide()
        window.tabs.setCurrentIndex(1 if view == "compare-weights" else 0)
        if view == "compare-presenting":
            window.presentation.trigger()
    out = REPO / "docs" / OUT[view]
    stages = iter(RUNS[view])

    def run_next() -> None:
        stage = next(stages, None)
        if view == "sweep" and not done and window.session.active is None and not window.session.history:
            window.controls.epochs.setValue(3)
            return window.start_sweep("0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2")
        if stage is None:
            return finish()
        preset, epochs, changes = stage
        controls = window.controls
        controls.preset.setCurrentIndex(controls.preset.findData(preset))
        controls.epochs.setValue(epochs)
        # Through the inputs, as a user would: the preset then reads "Custom" where it should.
        if "augment" in changes:
            controls.augment.setChecked(changes["augment"])
        if "l1_method" in changes:
            controls.l1_method.setCurrentIndex(controls.l1_method.findData(changes["l1_method"]))
        if "l1_weight" in changes:
            controls.l1_weight.setValue(changes["l1_weight"])
        window.start()
        if (view == "curves" and preset == "balanced") or view.startswith("compare"):
            poll.start(50)

    def finish() -> None:
        if view in TABS:
            window.tabs.setCurrentIndex(next(i for i in range(window.tabs.count())
                                             if window.tabs.tabText(i) == TABS[view]))
        if view == "draw":
            draw_seven()
        elif view == "gallery":
            show_mix_up()
        else:
            QTimer.singleShot(800, grab)

    def draw_seven() -> None:
        canvas = window.draw.canvas
        stroke = [QPoint(60, 60), QPoint(140, 58), QPoint(215, 62), QPoint(180, 130),
                  QPoint(150, 190), QPoint(130, 240)]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, stroke[0])
        for a, b in zip(stroke[:-1], stroke[1:]):
            for t in range(1, 9):
                QTest.mouseMove(canvas, a + (b - a) * (t / 8))
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, stroke[-1])
        QTimer.singleShot(800, grab)

    def show_mix_up() -> None:
        current = window.session.current
        if current is None or current.evaluation is None:  # the evaluation runs after the run
            return QTimer.singleShot(200, show_mix_up)
        counts = window.gallery.evaluation.confusion()
        off = counts.clone()
        off.fill_diagonal_(0)
        true, predicted = divmod(int(off.argmax()), 10)
        window.gallery.matrix.setCurrentCell(true, predicted)
        window.gallery.matrix.cellClicked.emit(true, predicted)
        window.gallery.errors.setCurrentRow(0)
        QTimer.singleShot(500, grab)

    def watch() -> None:  # a GUI-thread timer reading what the window shows
        record = window.session.active
        if record is None:
            return
        epoch = record.steps_done / record.config.steps_per_epoch
        if view.startswith("compare"):
            if epoch > 2.4:
                poll.stop()
                QTimer.singleShot(300, grab)  # the Weights tab redraws once a second
            return
        if epoch > 1.5 and window.controls.l1_weight.value() != 1e-3:
            window.controls.l1_weight.setValue(1e-3)
        if epoch > 3.6:
            poll.stop()
            grab()

    poll = QTimer()
    poll.timeout.connect(watch)

    def grab() -> None:
        done.append(True)
        app.primaryScreen().grabWindow(0).copy(window.frameGeometry()).save(str(out))
        print(f"saved {out}")
        window.close()
        app.quit()

    done: list[bool] = []

    def ended(record) -> None:
        if not done:
            QTimer.singleShot(200, run_next)

    window.session.events.run_ended.connect(ended)
    window.torchReady.connect(run_next)
    window.load_torch()
    app.exec()


if __name__ == "__main__":
    main()
