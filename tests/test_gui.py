"""The trainer window, driven as a user would (pytest-qt, offscreen). Assertions are on the
session (what happened) and on what the window shows, never on a worker's private state."""

import csv
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

from l1_trainer.core.app.records import Kind
from l1_trainer.core.app.session import AppState
from l1_trainer.core.training.config import PRESETS
from l1_trainer.core.training.dataset import MnistTensors, unit_float
from l1_trainer.core.training.engine import Trainer
from l1_trainer.core.training.events import RunEnded
from l1_trainer.gui.window import MainWindow

from conftest import REPO

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
def window(qtbot, tmp_path, mnist, monkeypatch):
    """A window with a history of its own: its runs are numbered from #1."""
    monkeypatch.setenv("L1_TRAINER_DATA", str(tmp_path / "history"))
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


def ended(window):
    """The last run, once its thread is over and the session is idle again."""
    session = window.session
    if session.state is AppState.IDLE and session.history and session.history[-1].ended:
        return session.history[-1]
    return None


def run_to_end(qtbot, window, start=None, timeout=60_000):
    (start or window.start)()
    qtbot.waitUntil(lambda: ended(window) is not None, timeout=timeout)
    return ended(window)


def evaluated(qtbot, window):
    qtbot.waitUntil(lambda: window.session.current is not None
                    and window.session.current.evaluation is not None, timeout=30_000)
    return window.session.current


def start_long_run(qtbot, window):
    set_inputs(window, **LONG)
    qtbot.mouseClick(named(window, "startButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.active is not None and window.session.active.steps_done > 0,
                    timeout=30_000)
    return window.session.active


def test_every_control_has_an_object_and_accessible_name(window):
    for name in ["l1WeightInput", "learningRateInput", "epochsInput", "batchSizeInput",
                 "deviceSelect", "presetSelect", "startButton", "pauseButton", "stopButton",
                 "resetButton", "sparsityReadout", "ceLossPlot", "penaltyPlot", "progressBar",
                 "l1MethodSelect"]:
        assert named(window, name).accessibleName(), name


def test_window_appears_without_waiting_for_torch(tmp_path):
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
    env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "PATH": ""}
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
    assert window.session.state is AppState.RUNNING
    assert not named(window, "startButton").isEnabled() and named(window, "stopButton").isEnabled()
    assert not named(window, "epochsInput").isEnabled() and not named(window, "augmentCheck").isEnabled()
    record = ended(window) or run_to_end(qtbot, window, start=lambda: None)
    assert record.ended.status.value == "finished" and record.steps_done == 40
    assert named(window, "startButton").isEnabled()
    line = window.plots.lines[(record, 0)]
    ce, l1, accuracy = line.curves["ce"].line_item, line.curves["l1"].line_item, line.accuracy
    assert line.finished and len(ce.xData) == len(l1.xData) == 40
    assert list(accuracy.getData()[1]) == [100 * m.test_accuracy[0] for m in record.epochs]
    assert 50 < accuracy.getData()[1][-1] <= 100
    current = evaluated(qtbot, window)
    report = window.session.sparsity()
    assert named(window, "sparsityFigure").text() == f"{report.fraction:.1%}" and report.size == 52_544
    bar = named(window, "progressBar")
    assert bar.value() == bar.maximum() == 40
    assert window.status.state.text() == (f"Run #1 finished 2 epoch(s). Current model (run #1): "
                                          f"test accuracy {current.evaluation.accuracy:.2%} on "
                                          "10,000 test images")


def test_second_run_keeps_the_first_as_overlay_and_clear_removes_it(qtbot, window, tmp_path):
    set_inputs(window, **QUICK)
    run_to_end(qtbot, window)
    window.controls.epochs.setValue(3)
    run_to_end(qtbot, window)
    assert len(window.plots.lines) == 2
    # The runs differ in their epochs, so both names say so.
    assert window.plots.legend.entries == ["run #1: L1 1e-4, lr 1e-3, 2 epochs", "run #2: L1 1e-4, lr 1e-3, 3 epochs"]
    colours = [line.colour for line in window.plots.lines.values()]
    assert colours[0] != colours[1]
    qtbot.mouseClick(named(window, "clearRunsButton"), Qt.MouseButton.LeftButton)
    assert window.session.history == [] and not window.plots.lines
    assert window.exports.summaries(tmp_path / "runs.csv") == 0  # one history: summaries went too


def test_pause_holds_training_and_resume_continues(qtbot, window):
    record = start_long_run(qtbot, window)
    pause = named(window, "pauseButton")
    qtbot.mouseClick(pause, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.state is AppState.PAUSED, timeout=5_000)
    assert pause.text() == "Resume" and window.status.state.text() == "Paused"
    step = record.steps_done
    qtbot.wait(300)
    assert record.steps_done == step
    qtbot.mouseClick(pause, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.state is AppState.RUNNING, timeout=5_000)
    qtbot.waitUntil(lambda: record.steps_done > step, timeout=5_000)
    assert pause.text() == "Pause"


def test_stop_ends_the_run_and_says_where(qtbot, window):
    record = start_long_run(qtbot, window)
    qtbot.mouseClick(named(window, "stopButton"), Qt.MouseButton.LeftButton)
    assert window.session.state is AppState.STOPPING
    qtbot.waitUntil(lambda: ended(window) is record, timeout=30_000)
    assert record.ended.status.value == "stopped"
    assert window.plots.lines[(record, 0)].finished
    stopped_at = f"{record.ended.step:,}"
    assert window.status.state.text().startswith(f"Run #1 stopped at step {stopped_at}")
    assert window.status.position.text().endswith(f"step {stopped_at}")
    assert window.status.speed.text() == ""  # no stale "s left"
    assert record.summary()["test_accuracy"] == record.ended.test_accuracy[0]  # its own


@pytest.mark.parametrize("sweep", [False, True])
def test_closing_during_a_run_stops_waits_and_keeps_it(qtbot, tmp_path, mnist, monkeypatch, sweep):
    from l1_trainer.core.files.store import RunStore

    monkeypatch.setenv("L1_TRAINER_DATA", str(tmp_path / "history"))
    window = make_window(qtbot, tmp_path / "close.ini", mnist)
    set_inputs(window, **LONG)
    window.start_sweep("0,1e-3") if sweep else window.start()
    qtbot.waitUntil(lambda: window.session.active is not None and window.session.active.steps_done > 0,
                    timeout=30_000)
    jobs = window.runner.jobs
    assert jobs and any(job.isRunning() for job in jobs)
    window.close()
    assert not any(job.isRunning() for job in jobs)
    kept = RunStore().runs()  # the README's promise: every stopped run is kept, also on close
    assert [(r.kind, r.status) for r in kept] == [("sweep" if sweep else "run", "stopped")] * (1 + sweep)
    assert kept[0].steps > 0


def test_live_changes_are_recorded_and_named_everywhere(qtbot, window, tmp_path):
    record = start_long_run(qtbot, window)
    window.controls.l1_weight.setValue(3e-3)
    qtbot.waitUntil(lambda: len(record.changes) == 1, timeout=10_000)
    step = record.changes[0].step
    marks = window.plots.markers[record]
    assert len(marks) == 2  # a dashed line on the CE and penalty plots
    assert marks[0][1].label.toPlainText() == "L1 3e-3"  # only what changed
    assert window.plots.legend.entries == [f"run #1: L1 1e-4 -> 3e-3 at step {step}, lr 1e-3"]
    assert window.status.state.text() == f"Run #1: L1 1e-4 -> 3e-3 at step {step}, lr 1e-3"
    window.controls.lr.setValue(3e-3)
    qtbot.waitUntil(lambda: len(record.changes) == 2, timeout=10_000)
    window.controller.stop()
    qtbot.waitUntil(lambda: ended(window) is record, timeout=30_000)
    labels = [line.label for _, line in window.plots.markers[record] if getattr(line, "label", None)]
    assert [label.toPlainText() for label in labels] == ["L1 3e-3", "lr 3e-3"]
    assert labels[0].orthoPos != labels[1].orthoPos  # one below the other: they never collide
    step2 = record.changes[1].step
    schedule = f"L1 1e-4 -> 3e-3 at step {step}, lr 1e-3 -> 3e-3 at step {step2}"
    assert window.plots.legend.entries == [f"run #1: {schedule}"]  # the markers stay on the finished run
    assert window.exports.summaries(tmp_path / "runs.csv") == 1
    rows = list(csv.DictReader((tmp_path / "runs.csv").read_text().splitlines()))
    assert rows[0]["schedule"] == schedule
    evaluated(qtbot, window)
    assert window.controller.save_model(tmp_path / "m.safetensors")
    window.session.reset()
    assert window.controller.open_model(tmp_path / "m.safetensors")
    assert window.session.current.trained_with == schedule
    assert f"trained with {schedule}" in window.message.text() and "measuring" in window.message.text()
    qtbot.waitUntil(lambda: "; test accuracy " in window.message.text(), timeout=30_000)  # said once known


def test_an_edit_made_before_the_trainer_exists_is_kept(qtbot, window):
    set_inputs(window, **QUICK)
    window.start()
    window.controls.l1_weight.setValue(2e-3)  # the job thread may not have built the Trainer yet
    record = run_to_end(qtbot, window, start=lambda: None)
    assert [(c.step, c.l1_weights) for c in record.changes] == [(1, (2e-3,))]
    assert record.schedule() == "L1 1e-4 -> 2e-3 at step 1, lr 1e-3"


def test_batch_larger_than_the_images_is_flagged_at_the_fields(qtbot, window):
    set_inputs(window, train_images=1000, epochs=1, batch_size=5000)
    problem = named(window, "fieldProblem")
    assert problem.isVisible()
    assert "Batch size 5,000 is larger than the 1,000 training images" in problem.text()
    assert "border" in named(window, "batchSizeInput").styleSheet()
    assert "border" in named(window, "trainSubsetInput").styleSheet()
    qtbot.mouseClick(named(window, "startButton"), Qt.MouseButton.LeftButton)
    assert window.session.state is AppState.IDLE and not window.session.history
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
    type_into(spin, "3e-5")
    assert spin.value() == pytest.approx(3e-5)
    assert window.controls.l1_weight.slider.value() > 0
    assert not window.message.isVisible()  # a value taken: the complaint has gone
    for typed in ("abc", "nan"):  # letters are kept as typed, then refused with a word
        type_into(spin, typed)
        spin.clearFocus()
        assert f"L1 weight: '{typed}' is not 0 or a number" in window.message.text()
        assert spin.value() == pytest.approx(3e-5)


def test_presets_fill_the_controls(window):
    controls = window.controls
    select = named(window, "presetSelect")
    seed = select.findData("seed")
    assert "chance" in select.itemData(seed, Qt.ItemDataRole.ToolTipRole)
    select.setCurrentIndex(seed)
    values = window.session.settings.values  # the inputs write through the settings model
    assert (values.l1_weight, values.lr, values.epochs, values.batch_size) == (1.0, 1e-4, 5, 64)
    select.setCurrentIndex(select.findData("balanced"))
    assert window.session.settings["l1_weight"] == pytest.approx(1e-4)
    controls.epochs.setValue(3)
    assert select.currentData() == "" and window.session.settings["preset"] == ""  # edited: "Custom"
    window.session.settings.choose_preset("sparse")  # and render from it: the model's value shows
    assert controls.l1_weight.value() == pytest.approx(1e-3) and select.currentData() == "sparse"


def test_the_seed_preset_ticks_notebook_exact_and_the_box_sets_it(window):
    box = named(window, "notebookExactCheck")
    assert not box.isChecked() and not window.session.settings.config().notebook_exact
    select = named(window, "presetSelect")
    select.setCurrentIndex(select.findData("seed"))
    assert box.isChecked() and window.session.settings.config().notebook_exact
    box.setChecked(False)
    assert not window.session.settings.config().notebook_exact
    assert window.session.settings["preset"] == ""  # custom: no longer the Seed preset's settings


def test_augment_is_a_setting_and_off_in_the_notebook_preset(window):
    box = named(window, "augmentCheck")
    assert not window.session.settings.config().augment
    box.setChecked(True)
    assert window.session.settings.config().augment
    select = named(window, "presetSelect")
    select.setCurrentIndex(select.findData("seed"))
    assert not box.isChecked() and not window.session.settings.config().augment


def test_failed_run_shows_its_reason_and_keeps_the_curves(qtbot, tmp_path, mnist):
    train_x = unit_float(mnist.train_images[:1280])
    train_x[:, 0] = float("nan")  # every batch is poisoned: the loss is NaN at step 1
    data = MnistTensors(train_x, mnist.train_y[:1280], mnist.test_x, mnist.test_y)
    window = make_window(qtbot, tmp_path / "fail.ini", data)
    set_inputs(window, **QUICK)
    record = run_to_end(qtbot, window)
    assert record.ended.status.value == "failed" and record.status() == "diverged"
    assert "Training failed: diverged at step 1" in window.message.text()
    assert window.session.current is None  # its starting weights are not shown as a model of its own
    assert window.status.state.text().startswith(f"Run #{record.number} failed at step 1")
    window.close()


def test_threshold_changes_the_readout_after_a_run(qtbot, window):
    set_inputs(window, **QUICK)
    run_to_end(qtbot, window)
    before = window.session.sparsity().fraction
    window.controls.threshold.setValue(0.1)
    after = window.session.sparsity()
    assert after.threshold == pytest.approx(0.1) and after.fraction > before
    assert named(window, "sparsityFigure").text() == f"{after.fraction:.1%}"
    assert "|w| ≤ 0.1" in window.sparsity.caption.text()


def test_reset_clears_curves_readout_summaries_and_status(qtbot, window, tmp_path):
    set_inputs(window, **QUICK)
    run_to_end(qtbot, window)
    reset = named(window, "resetButton")
    assert reset.isEnabled()
    qtbot.mouseClick(reset, Qt.MouseButton.LeftButton)
    assert not window.plots.lines and window.plots.live is None
    assert named(window, "sparsityFigure").text() == "—"
    assert window.status.state.text().startswith("Ready") and window.status.position.text() == ""
    assert window.exports.summaries(tmp_path / "runs.csv") == 0
    assert window.exports.curves(tmp_path / "curves.csv") == 0
    assert not reset.isEnabled()


def test_smoothing_zero_shows_the_raw_values(qtbot, window):
    record = start_long_run(qtbot, window)
    named(window, "smoothingInput").setValue(0)
    curve = window.plots.lines[(record, 0)].curves["ce"]
    raw, smoothed = curve.raw_y, curve.smoothed.data()[1]
    assert len(raw) and np.array_equal(raw, smoothed)
    window.controller.stop()
    qtbot.waitUntil(lambda: ended(window) is record, timeout=30_000)
    window.plots.redraw.now()
    finished_y = curve.line_item.yData  # all of it: getData() is downsampled
    assert np.array_equal(finished_y, record.curves()[1][:, 0])


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
    values = second.session.settings.values
    assert values.l1_weight == pytest.approx(3e-4) and values.epochs == 7
    assert values.penalize_biases is False and second.controls.epochs.value() == 7
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
    assert window.session.state is AppState.RUNNING
    qtbot.waitUntil(lambda: window.session.active.steps_done > 0, timeout=30_000)
    QTest.keyClick(window, Qt.Key.Key_F6)
    qtbot.waitUntil(lambda: window.session.state is AppState.PAUSED, timeout=5_000)
    QTest.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: ended(window) is not None, timeout=10_000)
    assert ended(window).ended.status.value == "stopped"


def test_export_curves_summaries_and_plots(qtbot, window, tmp_path):
    set_inputs(window, **QUICK)
    for _ in range(2):
        run_to_end(qtbot, window)
    assert window.exports.curves(tmp_path / "curves.csv") == 2 * (40 + 2)
    rows = list(csv.DictReader((tmp_path / "curves.csv").read_text().splitlines()))
    steps = [r for r in rows if r["ce"]]
    assert len(steps) == 80
    assert {r["run"] for r in rows} == {"run #1: L1 1e-4, lr 1e-3", "run #2: L1 1e-4, lr 1e-3"}
    assert all(float(r["abs_sum"]) > 0 for r in steps)  # sum |w| beside the weighted terms
    assert float(steps[0]["ce"]) > float(steps[39]["ce"])  # it learned
    accuracy = [float(r["test_accuracy"]) for r in rows if r["test_accuracy"]]
    assert len(accuracy) == 4 and all(0.5 < a <= 1 for a in accuracy)

    assert window.exports.summaries(tmp_path / "runs.csv") == 2
    summary = list(csv.DictReader((tmp_path / "runs.csv").read_text().splitlines()))
    assert summary[0]["status"] == "finished" and summary[0]["steps"] == "40"
    assert 0 <= float(summary[0]["sparsity"]) <= 1

    assert window.exports.plots_png(tmp_path / "plots") == 4
    for part in ("ce", "penalties", "accuracy", "zeros"):
        assert (tmp_path / f"plots-{part}.png").stat().st_size > 1000

    assert window.exports.curves(tmp_path / "missing" / "curves.csv") == 0
    assert "Could not export" in window.message.text()
    os.mkfifo(tmp_path / "fifo-penalties.png")
    assert window.exports.plots_png(tmp_path / "fifo") == 0
    assert "not a regular file" in window.message.text()
    assert not (tmp_path / "fifo-ce.png").exists()  # checked all four before writing any
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo-penalties.png").st_mode)


def test_sweep_tab_fills_the_frontier_and_opens_a_model(qtbot, window, tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr("l1_trainer.gui.controller.default_threads", lambda *a: asked.append(a) or 1)
    set_inputs(window, train_images=3200, epochs=2, batch_size=64)
    view = window.sweep_view
    view.weights_input.setText("0, 1e-3, 1e-2")
    qtbot.mouseClick(named(window, "sweepStartButton"), Qt.MouseButton.LeftButton)
    assert window.session.state is AppState.RUNNING and not named(window, "startButton").isEnabled()
    assert named(window, "pauseButton").isEnabled() and not window.controls.l1_weight.isEnabled()
    record = run_to_end(qtbot, window, start=lambda: None)
    assert record.sweep and record.ended.status.value == "finished"
    assert asked == [(64, 3)]  # the thread count the CLI's sweep would take
    x, y = view.frontier_line.getData()
    assert len(x) == 3 and list(x) == sorted(x)  # more L1, more sparsity
    assert all(len(c.getData()[0]) == 100 for c in view.loss_curves)  # 2 epochs of 50 steps
    table = named(window, "sweepTable")
    assert table.rowCount() == 3 and table.item(1, 0).text() == "1e-3"
    assert [table.item(m, 2).text() for m in range(3)] == ["finished"] * 3
    assert window.status.state.text().startswith("Sweep #1 finished 2 epoch(s)")
    view.table.selectRow(1)
    qtbot.mouseClick(named(window, "sweepOpenButton"), Qt.MouseButton.LeftButton)
    current = evaluated(qtbot, window)
    window.tabs.setCurrentWidget(window.draw)  # the panel takes new weights when it is shown
    assert window.draw.model is not None and current.origin == "sweep #1: L1 1e-3"
    assert current.evaluation.accuracy == pytest.approx(record.test_accuracy(1), abs=1e-6)
    assert window.session.sparsity().fraction == pytest.approx(record.sparsity(1).fraction)
    assert window.exports.sweep(tmp_path / "sweep.csv") == 3


def test_a_sweep_pauses_shows_its_own_progress_and_stops(qtbot, window):
    window.tabs.setCurrentWidget(window.sweep_view)  # where its Start is: its curves draw while seen
    window.sweep_view.weights_input.setText("0, -1")
    qtbot.mouseClick(named(window, "sweepStartButton"), Qt.MouseButton.LeftButton)
    assert window.session.state is AppState.IDLE
    assert "Cannot sweep: l1_weight must be" in window.message.text()
    set_inputs(window, **LONG)
    window.sweep_view.weights_input.setText("0, 1e-4")
    qtbot.mouseClick(named(window, "sweepStartButton"), Qt.MouseButton.LeftButton)
    record = window.session.active
    qtbot.waitUntil(lambda: record.steps_done > 0 and "left" in window.status.speed.text(), timeout=30_000)
    assert window.status.state.text() == "Sweep #1: 2 L1 weights at once"
    qtbot.waitUntil(lambda: "of 46,900" in window.sweep_view.status.text(), timeout=10_000)
    qtbot.mouseClick(named(window, "pauseButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.state is AppState.PAUSED, timeout=5_000)
    qtbot.mouseClick(named(window, "sweepStopButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ended(window) is record, timeout=10_000)
    assert record.ended.status.value == "stopped"
    assert "Sweep stopped" in window.sweep_view.status.text()


def feed(session, trainer):
    """A trainer's events into the session, as the job would deliver them (no thread)."""
    for event in trainer.run():
        if isinstance(event, RunEnded):
            session.end(event)
        else:
            session.apply(event)


def test_a_diverged_sweep_model_is_shown_as_such_and_not_opened(window, mnist):
    config = PRESETS["balanced"].replace(epochs=1, train_subset=640, device="cpu")
    trainer = Trainer(config, mnist, l1_weights=[0.0, 1e-3])
    with torch.no_grad():
        trainer.stack.blocks["layers.1.weight"][1, 0, 0] = float("nan")
    record = window.session.begin(config, [0.0, 1e-3], kind=Kind.SWEEP)
    feed(window.session, trainer)
    table = named(window, "sweepTable")
    assert [table.item(m, 2).text() for m in range(2)] == ["finished", "diverged"]
    assert table.item(1, 3).text() == ""  # no accuracy for a model that is not finite
    assert len(window.sweep_view.frontier_line.getData()[0]) == 1  # only the finite model
    assert not window.controller.open_sweep_model(record, 1)
    assert "diverged" in window.message.text() and window.session.current is None
    assert window.controller.open_sweep_model(record, 0)


def test_the_collapse_message_appears_with_evidence_and_goes_with_a_good_model(window, mnist):
    diagnosis = named(window, "diagnosisBar")
    for config, collapsed in ((PRESETS["seed"].replace(epochs=1, device="cpu"), True),
                              (PRESETS["balanced"].replace(epochs=1, train_subset=100, device="cpu"), False)):
        window.session.begin(config)
        feed(window.session, Trainer(config, mnist))
        assert diagnosis.isVisible() is collapsed, config
        if collapsed:
            assert "collapsed to chance" in diagnosis.label.text() and "Try 1e-4" in diagnosis.label.text()


def test_first_start_shows_the_balanced_preset(window):
    assert named(window, "presetSelect").currentData() == "balanced"
    config, balanced = window.session.settings.config(), PRESETS["balanced"]
    assert (config.l1_weight, config.lr, config.epochs) == (balanced.l1_weight, balanced.lr, balanced.epochs)


def test_l2_is_set_changed_live_and_drawn_dashed(qtbot, window):
    window.controls.l2_weight.setValue(1e-3)
    window.controls.weight_decay.setValue(0.0)
    config = window.session.settings.config()
    assert (config.l2_weight, config.weight_decay) == (1e-3, 0.0)
    record = start_long_run(qtbot, window)
    assert record.config.l2_weight == 1e-3 and not window.controls.weight_decay.isEnabled()
    curves = window.plots.lines[(record, 0)].curves
    qtbot.waitUntil(lambda: "l2" in curves, timeout=10_000)
    assert curves["l2"].line_item.opts["pen"].style() == Qt.PenStyle.DashLine
    window.controls.l2_weight.setValue(0.0)
    qtbot.waitUntil(lambda: bool(record.changes), timeout=10_000)
    step = record.changes[0].step
    window.controller.stop()
    qtbot.waitUntil(lambda: ended(window) is record, timeout=30_000)
    assert record.schedule() == f"L1 1e-4, L2 1e-3 -> 0 at step {step}, lr 1e-3"
    l2 = record.curves()[3][:, 0]
    assert (l2[: step - 1] > 0).all() and (l2[step - 1 :] == 0).all()
    line = window.plots.lines[(record, 0)]
    assert line.finished and list(line.curves) == ["ce", "l1", "l2"]  # L2 dashed, on the penalty plot


def test_chance_lines_accuracy_zoom_and_log_penalties(qtbot, window):
    from l1_trainer.gui.plots import accuracy_range

    assert accuracy_range([93.4, 96.8]) == (90.0, 100.0)
    assert accuracy_range([11.35, 97.0]) == (10.0, 100.0)
    assert accuracy_range([9.8]) == (5.0, 15.0) and accuracy_range([]) == (0.0, 100.0)
    levels = [item.value() for item in window.plots.ce_widget.plotItem.items if hasattr(item, "angle")
              and item.angle == 0]
    assert levels == [pytest.approx(2.302585)]
    # Empty, the plots already have the ranges data will give them, not a band round chance.
    assert window.plots.acc_widget.plotItem.viewRange()[1] == pytest.approx([0, 100])
    assert window.plots.ce_widget.plotItem.viewRange()[1] == pytest.approx([0, 3])
    set_inputs(window, train_images=3200, epochs=2, batch_size=64)
    run_to_end(qtbot, window)
    window.plots.redraw.now()
    low, high = window.plots.acc_widget.plotItem.viewRange()[1]
    assert 50 <= low and high <= 100  # zoomed to the run's accuracies, not 0-100
    named(window, "penaltyLogScaleCheck").setChecked(True)
    assert window.plots.penalty_widget.plotItem.ctrl.logYCheck.isChecked()


def test_runs_survive_a_restart_and_can_be_shown_opened_and_deleted(qtbot, tmp_path, mnist, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setenv("L1_TRAINER_DATA", str(tmp_path / "history"))
    first = make_window(qtbot, tmp_path / "a.ini", mnist)
    set_inputs(first, **QUICK)
    run_to_end(qtbot, first)
    first.controls.l1_weight.setValue(1e-3)
    run_to_end(qtbot, first)
    qtbot.waitUntil(lambda: len(first.session.stored) == 2, timeout=30_000)
    assert first.session.shown_ids() == {1, 2}  # this session's runs are on the plots
    first.close()

    second = make_window(qtbot, tmp_path / "b.ini", mnist)  # a restart: the history is back
    table = named(second, "runsTable")
    assert table.rowCount() == 2 and not second.plots.lines
    table.sortItems(6, Qt.SortOrder.DescendingOrder)  # by test accuracy
    accuracies = [table.item(row, 6).value for row in range(2)]
    assert accuracies == sorted(accuracies, reverse=True)
    row = next(r for r in range(2) if table.item(r, 1).value == 2)
    table.item(row, 0).setCheckState(Qt.CheckState.Checked)  # show run #2's curves
    ((record, _),) = second.plots.lines
    assert record.title == "run #2" and record.schedule() == "L1 1e-3, lr 1e-3"  # as it was named
    assert second.plots.legend.entries == ["run #2: L1 1e-3, lr 1e-3"]
    assert len(record.curves()[0]) == 40 and len(record.epochs) == 2
    table.selectRow(row)
    qtbot.mouseClick(named(second, "runsOpenButton"), Qt.MouseButton.LeftButton)
    current = evaluated(qtbot, second)
    assert current.origin == "run #2" and current.trained_with == "L1 1e-3, lr 1e-3"
    assert current.evaluation.accuracy == pytest.approx(record.test_accuracy(), abs=1e-6)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(named(second, "runsDeleteButton"), Qt.MouseButton.LeftButton)
    assert [run.id for run in second.session.stored] == [1] and not second.plots.lines
    assert not (tmp_path / "history" / "weights" / "2.safetensors").exists()
    assert second.exports.runs(tmp_path / "runs.csv") == 1
    second.close()


def test_a_damaged_history_is_set_aside_and_the_app_starts(qtbot, tmp_path, mnist, monkeypatch):
    history = tmp_path / "history"
    history.mkdir()
    (history / "runs.db").write_bytes(b"not a database at all" * 100)
    monkeypatch.setenv("L1_TRAINER_DATA", str(history))
    window = make_window(qtbot, tmp_path / "c.ini", mnist)
    assert "could not be read (file is not a database); it was kept aside as runs.db.damaged-" in window.message.text()
    assert window.session.stored == [] and named(window, "startButton").isEnabled()
    kept = list(history.glob("runs.db.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"not a database")
    window.close()


def test_text_from_files_and_paths_is_shown_as_text_never_as_markup(qtbot, window, tmp_path):
    from PySide6.QtWidgets import QLabel

    from l1_trainer.core.files.modelfile import save_model
    from l1_trainer.core.training.config import TrainConfig
    from l1_trainer.core.training.model import build_model

    markup = "<h1 style='color:red; font-size:72px'>HACKED</h1><a href='http://x'>link</a><table><tr><td>t"
    path = tmp_path / "<b>bold<b>.safetensors"  # no "/" in a file name
    save_model(path, build_model((64, 32), torch.Generator().manual_seed(0)), TrainConfig(),
               {"schedule": markup, "step": 3, "epoch": 0.5})
    assert window.controller.open_model(path)
    evaluated(qtbot, window)  # the status bar names the model by its file
    qtbot.mouseClick(window.pruning.prune_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.session.pruning) == 1, timeout=30_000)
    window.controller.open_model(tmp_path / "<i>missing<i>.safetensors")  # an error naming a path
    labels = window.findChildren(QLabel)
    shown = {label: label.text().replace("\u200b", "") for label in labels}  # less the places to wrap
    showing = [label for label, text in shown.items()
               if "HACKED" in text or "<i>missing" in text or "<b>bold" in text]
    assert len(showing) >= 2, [label.text() for label in labels]
    rich = {label for label in labels if label.textFormat() != Qt.TextFormat.PlainText}
    # The app's own markup only; the curves' legend escapes every name it is given.
    assert rich <= {window.guide.label, window.draw.prediction, window.plots.legend}
    window.message.show_message("x" * 3000)  # a long unbroken name: it wraps, the window stays
    assert window.minimumSizeHint().width() < 1100 and window.message.text() == "x" * 3000
    (_, legend_label), = window.pruning.plot.plotItem.legend.items
    assert "&lt;b&gt;bold" in legend_label.text and "&lt;h1" in legend_label.text


def test_sweep_labels_never_overlap_nor_leave_the_plot(qtbot, window):
    from l1_trainer.gui.sweep_view import _overlap, place_labels

    points = [(10, 50), (12, 52), (14, 54), (190, 10), (100, 95)]  # pixels, y down
    sizes = [(60, 14)] * len(points)
    bounds = (0, 0, 200, 100)
    anchors = place_labels(points, sizes, bounds)
    boxes = [(x - ax * w, y - ay * h, x - ax * w + w, y - ay * h + h)
             for (x, y), (w, h), anchor in zip(points, sizes, anchors) if anchor for ax, ay in [anchor]]
    assert anchors[0] == (0.0, 1.0) and anchors[1] == (0.0, 0.0)  # crowded: the next one below
    assert anchors[2] is None  # no room left near the first two: not drawn
    assert anchors[3][0] == 1.0  # at the right edge: to the left of its point
    assert all(0 <= b[0] and b[2] <= 200 and 0 <= b[1] and b[3] <= 100 for b in boxes)
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    named(window, "sweepLogSparsityCheck").setChecked(True)
    assert window.sweep_view.frontier.plotItem.ctrl.logXCheck.isChecked()


def test_a_diverged_run_does_not_flatten_the_others(window):
    from l1_trainer.core.training.events import Diverged, RunStatus, Steps, frozen

    def steps(ce):
        n = len(ce)
        step, zeros = np.arange(1, n + 1), frozen(np.zeros((n, 1)))
        return Steps(frozen(step), frozen(step / 20), frozen(step % 20 + 1), frozen(np.array(ce)[:, None]),
                     zeros, zeros, zeros, zeros, counted_at=frozen(step[-1:]), near_zero=frozen(np.zeros((1, 1))),
                     exact_zeros=frozen(np.zeros((1, 1))), samples_per_s=1.0)

    session, config = window.session, PRESETS["balanced"]
    for ce, failed in ((np.linspace(2.3, 0.4, 40), False), (np.logspace(0, 32.6, 40), True)):
        session.begin(config)
        session.apply(steps(ce))
        if failed:
            session.apply(Diverged(40, 0, "diverged", 20))
        session.end(RunEnded(RunStatus.FAILED if failed else RunStatus.FINISHED, "", 40, 2))
    window.plots.redraw.now()
    assert window.plots.ce_widget.plotItem.viewRange()[1][1] == pytest.approx(3)  # not 4e32


def test_step_trains_one_batch_and_shift_step_fifty(qtbot, window, tmp_path):
    set_inputs(window, **LONG)
    step = named(window, "stepButton")
    assert step.isEnabled()
    qtbot.mouseClick(step, Qt.MouseButton.LeftButton)  # from idle: a run that takes one step
    qtbot.waitUntil(lambda: window.session.state is AppState.PAUSED, timeout=30_000)
    record = window.session.active
    assert record.steps_done == 1 and len(record.curves()[0]) == 1  # the step is on the curves
    qtbot.mouseClick(step, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: record.steps_done == 51 and window.session.state is AppState.PAUSED, timeout=30_000)
    # Paused: the status bar says where, at once, and no speed or time left while it waits.
    assert window.status.position.text().endswith("step 51") and window.status.speed.text() == ""
    assert window.exports.curves(tmp_path / "paused.csv") == 51  # the paused run's steps, not a header
    window.controls.step_many.trigger()  # Shift+F7
    qtbot.waitUntil(lambda: record.steps_done == 101 and window.session.state is AppState.PAUSED, timeout=30_000)
    window.controller.stop()
    qtbot.waitUntil(lambda: ended(window) is record, timeout=30_000)
    assert record.ended.step == 101


def test_presentation_mode_is_full_screen_with_larger_text_and_thicker_lines(qtbot, window):
    from PySide6.QtWidgets import QApplication

    normal = QApplication.font().pointSizeF()
    window.presentation.trigger()  # F11
    assert window.isFullScreen() and QApplication.font().pointSizeF() == pytest.approx(1.5 * normal)
    assert window.plots.line_width == pytest.approx(3.75)
    assert "12.5pt" in window.plots.ce_widget.plotItem.titleLabel.opts.get("size", "")  # titles less
    assert window.plots.ce_widget.getAxis("left").style["tickFont"].pointSizeF() == pytest.approx(1.5 * normal)
    window.presentation.trigger()
    assert not window.isFullScreen() and QApplication.font().pointSizeF() == pytest.approx(normal)


def test_l1_vs_l2_trains_side_by_side_and_shows_exact_zeros_only_for_l1(qtbot, window, mnist):
    controls = window.controls
    controls.preset.setCurrentIndex(controls.preset.findData("l1-vs-l2"))
    assert window.session.settings["compare"] and window.session.settings.config().l1_method == "proximal"
    assert named(window, "proximalMethodRadio").isChecked()  # the readout's switch shows it too
    set_inputs(window, train_images=6400, epochs=2, batch_size=64)
    window.tabs.setCurrentWidget(window.weights)
    record = run_to_end(qtbot, window)
    assert record.comparison and (record.l1_weights, record.l2_weights) == ((0.0, 0.0, 0.1), (0.0, 1e-3, 0.0))
    assert window.status.state.text().startswith("Comparison #1 finished")
    assert window.plots.legend.entries == ["#1 no penalty", "#2 L2 1e-3", "#3 L1 0.1"]
    assert len({line.colour for line in window.plots.lines.values()}) == 3
    qtbot.waitUntil(lambda: len(window.session.compared) == 3, timeout=10_000)
    zeros = [int(count.text().split()[0].replace(",", "")) for _, _, count in window.sparsity._bars]
    assert zeros[0] == zeros[1] == 0 and zeros[2] > 1000  # L1 has thousands at exactly 0, L2 none
    assert zeros == [record.sparsity(m).exact_zeros for m in range(3)]
    assert [c.title.text() for c in window.weights.columns] == ["#1 no penalty", "#2 L2 1e-3", "#3 L1 0.1"]
    levels = {c.image.levels[1] for c in window.weights.columns}
    assert len(levels) == 1  # one colour scale for the three
    near, exact = record.zero_curves()[1:]
    assert exact[-1, 2] > 0 and exact[-1, 1] == 0 and near[-1, 1] > near[-1, 0]  # L2 shrinks, no zeros
    named(window, "unweightedCheck").setChecked(True)
    assert all(set(line.curves) == {"ce", "abs_sum", "square_sum"} for line in window.plots.lines.values())
    # Reopened from the Runs tab, once the history holds it (written by a job): side by side.
    qtbot.waitUntil(lambda: record.number + 1 in {run.id for run in window.session.stored}, timeout=30_000)
    window.controller.history.open_run(record.number + 1)
    assert [m.trained_with for m in window.session.compared] == ["no penalty", "L2 1e-3", "L1 0.1"]


@pytest.mark.parametrize("size", [(1024, 700), (1280, 720), (1280, 820)])
def test_the_window_fits_with_nothing_cut_off(window, size):
    from PySide6.QtWidgets import QPushButton

    window.resize(*size)
    assert window.minimumSizeHint().width() <= size[0] and window.minimumSizeHint().height() <= size[1]
    assert not window.controls.form_area.horizontalScrollBar().isVisible()
    window.controls.more.setChecked(True)  # every setting in view: still no field cut off at the right
    area = window.controls.form_area
    assert area.widget().minimumSizeHint().width() <= area.viewport().width()
    window.controls.more.setChecked(False)
    tabs = window.tabs.tabBar()
    assert tabs.sizeHint().width() <= window.tabs.width()  # every tab seen, no scroll arrows
    for button in window.controls.findChildren(QPushButton):
        box = button.geometry().translated(button.parentWidget().mapTo(window, button.pos()) - button.pos())
        assert window.rect().contains(box), button.objectName()
    window.presentation.trigger()  # and on a projector, at 1280 x 720
    assert window.minimumSizeHint().width() <= 1280 and window.controls.summary.isVisible()
    assert "Side by side" in window.controls.summary.text() or "L1 weight" in window.controls.summary.text()
    window.presentation.trigger()
