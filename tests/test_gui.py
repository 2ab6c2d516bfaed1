"""The trainer window, driven as a user would (pytest-qt, offscreen)."""

import os
import stat
import subprocess
import sys

import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

from conftest import REPO
from l1_trainer.core.data import MnistTensors
from l1_trainer.gui.window import MainWindow

QUICK = {"train_images": 1280, "epochs": 2, "batch_size": 64}  # 20 steps an epoch
LONG = {"train_images": 60_000, "epochs": 50, "batch_size": 64}


def make_window(qtbot, path, data):
    window = MainWindow(QSettings(str(path), QSettings.Format.IniFormat), data=data)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.torchReady, timeout=60_000):
        window.load_torch()
    return window


@pytest.fixture()
def window(qtbot, tmp_path, mnist):
    window = make_window(qtbot, tmp_path / "settings.ini", mnist)
    yield window
    window.close()  # stops a run and waits for its thread


def set_inputs(window, train_images, epochs, batch_size):
    controls = window.controls
    controls.train_images.setValue(train_images)
    controls.epochs.setValue(epochs)
    controls.batch_size.setValue(batch_size)


def named(window, name):
    widget = window.findChild(QWidget, name)
    assert widget is not None, name
    return widget


def start_long_run(qtbot, window):
    set_inputs(window, **LONG)
    qtbot.mouseClick(named(window, "startButton"), Qt.MouseButton.LeftButton)
    # Wait on what the GUI thread shows, never on the worker's own signals: pytest-qt would
    # run its callback (and stop its timer) in the worker's thread.
    qtbot.waitUntil(lambda: window.plots.ce.raw.n > 0, timeout=30_000)


def test_every_control_has_an_object_and_accessible_name(window):
    for name in ["l1WeightInput", "learningRateInput", "epochsInput", "batchSizeInput",
                 "deviceSelect", "presetSelect", "startButton", "pauseButton", "stopButton",
                 "resetButton", "sparsityReadout", "ceLossPlot", "l1LossPlot", "progressBar",
                 "l1MethodSelect"]:
        assert named(window, name).accessibleName(), name


def test_window_appears_without_waiting_for_torch():
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from l1_trainer.gui.window import MainWindow\n"
        "w = MainWindow()\n"
        "w.show()\n"
        "app.processEvents()\n"
        "assert w.isVisible()\n"
        "assert 'torch' not in sys.modules, 'the window imported torch'\n"
        "assert not w.controls.buttons['startButton'].isEnabled()\n"
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(REPO / "tests"), "PATH": ""}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            env={**env, "XDG_CONFIG_HOME": "/nonexistent"})
    assert result.returncode == 0, result.stderr


def test_device_list_names_only_devices_that_exist(window):
    select = named(window, "deviceSelect")
    names = [select.itemData(i) for i in range(select.count())]
    assert names[:2] == ["auto", "cpu"]
    assert any(n.startswith("cuda") for n in names) == torch.cuda.is_available()
    assert select.currentData() == "auto" and select.currentText().startswith("Auto (")


def test_short_run_streams_curves_accuracy_and_sparsity(qtbot, window):
    set_inputs(window, **QUICK)
    assert named(window, "sparsityFigure").text() == "—"
    qtbot.mouseClick(named(window, "startButton"), Qt.MouseButton.LeftButton)
    assert window.state == "running"
    assert not named(window, "startButton").isEnabled() and named(window, "stopButton").isEnabled()
    assert not named(window, "epochsInput").isEnabled()
    qtbot.waitUntil(lambda: window.last_epoch is not None, timeout=30_000)
    qtbot.waitUntil(lambda: window.plots.ce.raw.n >= 20)
    with qtbot.waitSignal(window.runFinished, timeout=30_000) as finished:
        pass
    assert finished.args[0].status.value == "finished"
    assert window.state == "idle" and named(window, "startButton").isEnabled()
    assert window.plots.overlay_count == 1  # the run stays as a faded overlay
    (_, ce), (_, l1), (_, acc) = (item.getData() for _, item in window.plots._overlays)
    assert len(ce) == len(l1) == 40 and len(acc) == 2 and 50 < acc[-1] <= 100
    assert named(window, "sparsityFigure").text().endswith("%")
    assert window.sparsity.report is not None and window.sparsity.report.size == 52_544
    bar = named(window, "progressBar")
    assert bar.value() == bar.maximum() == 40
    assert "Finished 2 epoch(s)" in window.status.state.text()


def test_second_run_keeps_the_first_as_overlay_and_clear_removes_it(qtbot, window):
    set_inputs(window, **QUICK)
    for _ in range(2):
        with qtbot.waitSignal(window.runFinished, timeout=30_000):
            window.start()
    assert window.plots.overlay_count == 2
    qtbot.mouseClick(named(window, "clearRunsButton"), Qt.MouseButton.LeftButton)
    assert window.plots.overlay_count == 0


def test_pause_holds_training_and_resume_continues(qtbot, window):
    start_long_run(qtbot, window)
    pause = named(window, "pauseButton")
    qtbot.mouseClick(pause, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state == "paused", timeout=5_000)
    assert pause.text() == "Resume"
    step = window.worker._trainer.step
    qtbot.wait(300)
    assert window.worker._trainer.step == step
    qtbot.mouseClick(pause, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state == "running", timeout=5_000)
    qtbot.waitUntil(lambda: window.worker._trainer.step > step, timeout=5_000)
    assert pause.text() == "Pause"


def test_stop_ends_the_run_and_keeps_the_curves(qtbot, window):
    start_long_run(qtbot, window)
    qtbot.mouseClick(named(window, "stopButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.last_run is not None, timeout=10_000)
    assert window.last_run.status.value == "stopped"
    qtbot.waitUntil(lambda: window.state == "idle")
    assert window.plots.overlay_count == 1
    assert "Stopped at step" in window.status.state.text()


def test_closing_during_a_run_stops_and_waits_for_the_thread(qtbot, tmp_path, mnist):
    window = make_window(qtbot, tmp_path / "close.ini", mnist)
    start_long_run(qtbot, window)
    thread, worker = window.thread, window.worker
    window.close()
    assert not thread.isRunning()
    assert worker._trainer._stop.is_set()


def test_live_l1_weight_change_reaches_the_engine_and_is_marked(qtbot, window):
    start_long_run(qtbot, window)
    window.controls.l1_weight.setValue(3e-3)
    qtbot.waitUntil(lambda: len(window.plots._markers) == 2, timeout=5_000)  # one on each loss plot
    assert window.worker._trainer.l1_weight == pytest.approx(3e-3)
    label = window.plots._markers[0][1].label.toPlainText()
    assert label == "L1 3e-3, lr 1e-3"
    window.stop()


def test_batch_larger_than_the_images_is_flagged_at_the_fields(qtbot, window):
    set_inputs(window, train_images=1000, epochs=1, batch_size=5000)
    problem = named(window, "fieldProblem")
    assert problem.isVisible()
    assert "Batch size 5,000 is larger than the 1,000 training images" in problem.text()
    assert "border" in named(window, "batchSizeInput").styleSheet()
    assert "border" in named(window, "trainSubsetInput").styleSheet()
    qtbot.mouseClick(named(window, "startButton"), Qt.MouseButton.LeftButton)
    assert window.thread is None and window.state == "idle"
    assert "Batch size 5,000 is larger than the 1,000 training images" in window.message.text()
    window.controls.train_images.setValue(6000)
    assert not problem.isVisible() and not named(window, "batchSizeInput").styleSheet()


def type_into(box, text):
    box.setFocus()
    box.lineEdit().selectAll()
    QTest.keyClicks(box.lineEdit(), text)
    QTest.keyClick(box.lineEdit(), Qt.Key.Key_Return)


@pytest.mark.parametrize(("field", "typed", "message"), [
    ("epochsInput", "1e9", "Epochs: '1e9' is not a whole number from 1 to 1,000; kept 10."),
    ("trainSubsetInput", "99999999999",
     "Training images: '99999999999' is not a whole number from 100 to 60,000; kept 60,000."),
    ("batchSizeInput", "-1", "Batch size: '-1' is not a whole number from 1 to 60,000; kept 64."),
    ("seedInput", "4.5", "Random seed: '4.5' is not a whole number"),
])
def test_integer_fields_refuse_text_they_cannot_take_and_say_why(window, field, typed, message):
    box = named(window, field)
    before = box.value()
    type_into(box, typed)
    assert box.value() == before and box.text() == box.textFromValue(before)
    assert message in window.message.text()
    type_into(box, "2,000" if field == "trainSubsetInput" else "32")
    assert box.value() == (2000 if field == "trainSubsetInput" else 32)


def test_out_of_range_typing_is_not_accepted(qtbot, window):
    spin = window.controls.l1_weight.spin_box
    spin.setValue(1e-4)
    type_into(spin, "50")
    spin.clearFocus()
    assert spin.value() == pytest.approx(1e-4)
    assert "L1 weight: '50' is not 0 or a number from 1e-06 to 10; kept 0.0001." in window.message.text()
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin.lineEdit(), "3e-5")
    QTest.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert spin.value() == pytest.approx(3e-5)
    assert window.controls.l1_weight.slider.value() > 0


def test_presets_fill_the_controls(window):
    controls = window.controls
    select = named(window, "presetSelect")
    seed = select.findData("seed")
    assert "chance" in select.itemData(seed, Qt.ItemDataRole.ToolTipRole)
    select.setCurrentIndex(seed)
    values = controls.config_values()
    assert (values["l1_weight"], values["lr"], values["epochs"], values["batch_size"]) == (1.0, 1e-4, 5, 64)
    select.setCurrentIndex(select.findData("balanced"))
    assert controls.config_values()["l1_weight"] == pytest.approx(1e-4)
    controls.epochs.setValue(3)
    assert select.currentData() is None  # edited, so "Custom"


def test_failed_run_shows_its_reason_and_keeps_the_curves(qtbot, tmp_path, mnist):
    train_x = mnist.train_x[:1280].clone()
    train_x[:, 0] = float("nan")  # every batch is poisoned: the loss is NaN at step 1
    data = MnistTensors(train_x, mnist.train_y[:1280], mnist.test_x, mnist.test_y)
    window = make_window(qtbot, tmp_path / "fail.ini", data)
    set_inputs(window, **QUICK)
    with qtbot.waitSignal(window.runFinished, timeout=30_000) as finished:
        window.start()
    assert finished.args[0].status.value == "failed"
    assert "Training failed: diverged at step 1" in window.message.text()
    assert window.state == "idle"
    window.close()


def test_threshold_changes_the_readout_after_a_run(qtbot, window):
    set_inputs(window, **QUICK)
    with qtbot.waitSignal(window.runFinished, timeout=30_000):
        window.start()
    before = window.sparsity.report.fraction
    window.controls.threshold.setValue(0.1)
    after = window.sparsity.report
    assert after.threshold == pytest.approx(0.1) and after.fraction > before
    assert "|w| ≤ 0.1" in window.sparsity.caption.text()


def test_reset_clears_curves_and_readout(qtbot, window):
    set_inputs(window, **QUICK)
    with qtbot.waitSignal(window.runFinished, timeout=30_000):
        window.start()
    reset = named(window, "resetButton")
    assert reset.isEnabled()
    qtbot.mouseClick(reset, Qt.MouseButton.LeftButton)
    assert window.plots.overlay_count == 0 and window.plots.ce.raw.n == 0
    assert named(window, "sparsityFigure").text() == "—"
    assert not reset.isEnabled()


def test_smoothing_zero_shows_the_raw_values(qtbot, window):
    set_inputs(window, **QUICK)
    window.start()
    qtbot.waitUntil(lambda: window.last_epoch is not None, timeout=30_000)
    named(window, "smoothingInput").setValue(0)
    raw, smoothed = window.plots.ce.raw.data()[1], window.plots.ce.smoothed.data()[1]
    assert len(raw) and (raw == smoothed).all()


def test_settings_and_geometry_persist_across_windows(qtbot, tmp_path, mnist):
    path = tmp_path / "persist.ini"
    first = make_window(qtbot, path, mnist)
    first.controls.l1_weight.setValue(3e-4)
    first.controls.epochs.setValue(7)
    first.controls.penalize_biases.setChecked(False)
    named(first, "smoothingInput").setValue(20)
    first.resize(first.width(), 640)  # the offscreen screen is 800 px wide, so keep the width
    first.close()
    second = make_window(qtbot, path, mnist)
    values = second.controls.config_values()
    assert values["l1_weight"] == pytest.approx(3e-4) and values["epochs"] == 7
    assert values["penalize_biases"] is False
    assert named(second, "smoothingInput").value() == 20
    assert second.height() == 640  # the default is 820
    second.close()


def test_restored_device_that_is_gone_is_reported(qtbot, tmp_path, mnist):
    path = tmp_path / "device.ini"
    settings = QSettings(str(path), QSettings.Format.IniFormat)
    settings.setValue("controls/device", "cuda:7")
    settings.sync()
    window = make_window(qtbot, path, mnist)
    assert "cuda:7" in window.message.text() and "not available" in window.message.text()
    assert named(window, "deviceSelect").currentData() == "auto"
    window.close()


def test_keyboard_shortcuts_drive_the_run(qtbot, window):
    set_inputs(window, **LONG)
    window.activateWindow()  # window-wide shortcuts fire in the active window
    qtbot.waitActive(window)
    QTest.keyClick(window, Qt.Key.Key_F5)
    assert window.state == "running"
    qtbot.waitUntil(lambda: window.plots.ce.raw.n > 0, timeout=30_000)
    QTest.keyClick(window, Qt.Key.Key_F6)
    qtbot.waitUntil(lambda: window.state == "paused", timeout=5_000)
    QTest.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: window.state == "idle", timeout=5_000)
    assert window.last_run.status.value == "stopped"


def test_export_curves_summaries_and_plots(qtbot, window, tmp_path):
    import csv

    set_inputs(window, **QUICK)
    for _ in range(2):
        with qtbot.waitSignal(window.runFinished, timeout=30_000):
            window.start()
    assert window.export_curves(tmp_path / "curves.csv") == 2 * (40 + 2)
    rows = list(csv.DictReader((tmp_path / "curves.csv").read_text().splitlines()))
    steps = [r for r in rows if r["ce"]]
    assert len(steps) == 80 and {r["run"] for r in rows} == {"L1 1e-4, lr 1e-3"}
    assert float(steps[0]["ce"]) > float(steps[39]["ce"])  # it learned
    accuracy = [float(r["test_accuracy"]) for r in rows if r["test_accuracy"]]
    assert len(accuracy) == 4 and all(0.5 < a <= 1 for a in accuracy)

    assert window.export_summaries(tmp_path / "runs.csv") == 2
    summary = list(csv.DictReader((tmp_path / "runs.csv").read_text().splitlines()))
    assert summary[0]["status"] == "finished" and summary[0]["steps"] == "40"
    assert 0 <= float(summary[0]["sparsity"]) <= 1

    assert window.export_plots(tmp_path / "plots") == 3
    for part in ("ce", "l1", "accuracy"):
        assert (tmp_path / f"plots-{part}.png").stat().st_size > 1000

    assert window.export_curves(tmp_path / "missing" / "curves.csv") == 0
    assert "Could not export" in window.message.text()
    os.mkfifo(tmp_path / "fifo-l1.png")
    assert window.export_plots(tmp_path / "fifo") == 0
    assert "not a regular file" in window.message.text()
    assert not (tmp_path / "fifo-ce.png").exists()  # checked all three before writing any
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo-l1.png").st_mode)


def test_sweep_tab_fills_the_frontier_and_opens_a_point_as_the_model(qtbot, window, tmp_path):
    set_inputs(window, train_images=3200, epochs=2, batch_size=64)
    view = window.sweep_view
    view.weights_input.setText("0, 1e-3, 1e-2")
    with qtbot.waitSignal(window.sweepFinished, timeout=60_000):
        qtbot.mouseClick(named(window, "sweepStartButton"), Qt.MouseButton.LeftButton)
        assert window.state == "sweeping" and not named(window, "startButton").isEnabled()
    assert window.state == "idle"
    x, y = view.frontier_line.getData()
    assert len(x) == 3 and list(x) == sorted(x)  # more L1, more sparsity
    assert all(len(c.getData()[0]) == 100 for c in view.loss_curves)  # 2 epochs of 50 steps
    assert named(window, "sweepTable").rowCount() == 3
    assert named(window, "sweepTable").item(1, 0).text() == "1e-3"
    view.table.selectRow(1)
    with qtbot.waitSignal(window.evaluationFinished, timeout=30_000):
        qtbot.mouseClick(named(window, "sweepOpenButton"), Qt.MouseButton.LeftButton)
    assert window.draw.model is not None
    assert window.test_accuracy == pytest.approx(view.points[1].test_accuracy, abs=1e-6)
    assert window.sparsity.report.fraction == pytest.approx(view.points[1].sparsity.fraction)
    assert window.export_sweep(tmp_path / "sweep.csv") == 3


def test_a_diverged_sweep_model_is_shown_as_such_and_not_opened(window, mnist):
    from l1_trainer.core.config import PRESETS
    from l1_trainer.core.sweep import SweepTrainer

    trainer = SweepTrainer(PRESETS["balanced"].replace(epochs=1, train_subset=640, device="cpu"),
                           [0.0, 1e-3], mnist)
    with torch.no_grad():
        trainer.params[0][1, 0, 0] = float("nan")
    window._sweep_config = trainer.config
    result = list(trainer.run())[-1]
    window.sweep_view.add_epoch(result, trainer.config.steps_per_epoch)
    assert named(window, "sweepTable").item(1, 1).text() == "diverged"
    assert len(window.sweep_view.frontier_line.getData()[0]) == 1  # only the finite model
    window.open_sweep_point(result.points[1])
    assert "diverged" in window.message.text() and window.draw.model is None


def test_sweep_can_be_stopped_and_rejects_bad_weights(qtbot, window):
    window.sweep_view.weights_input.setText("0, -1")
    qtbot.mouseClick(named(window, "sweepStartButton"), Qt.MouseButton.LeftButton)
    assert window.state == "idle" and "Cannot sweep: l1_weight must be" in window.message.text()
    set_inputs(window, **LONG)
    window.sweep_view.weights_input.setText("0, 1e-4")
    qtbot.mouseClick(named(window, "sweepStartButton"), Qt.MouseButton.LeftButton)
    qtbot.wait(300)
    with qtbot.waitSignal(window.sweepFinished, timeout=10_000):
        qtbot.mouseClick(named(window, "sweepStopButton"), Qt.MouseButton.LeftButton)
    assert "stopped in epoch 1" in window.sweep_view.status.text()
    assert window.state == "idle"


def test_first_start_shows_the_balanced_preset(window):
    from l1_trainer.core.config import PRESETS

    assert named(window, "presetSelect").currentData() == "balanced"
    config, balanced = window.controls.config(), PRESETS["balanced"]
    assert (config.l1_weight, config.lr, config.epochs) == (balanced.l1_weight, balanced.lr, balanced.epochs)
