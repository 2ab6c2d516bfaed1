"""The trainer window: controls on the left, live curves in the middle, sparsity on the right.

Data flows one way: engine -> TrainingWorker (its QThread) -> queued signals -> these slots.
The GUI thread never runs a training step and never waits on the worker, except in closeEvent,
where it stops the run and waits for the thread to end.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, QThread, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSlider,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from l1_trainer.core.config import TrainConfig
from l1_trainer.gui.controls import ControlsPanel
from l1_trainer.gui.draw_panel import DrawPanel
from l1_trainer.gui.gallery import Gallery
from l1_trainer.gui.help import WHAT_IS_L1, about_text, shortcuts_text
from l1_trainer.gui.help import show as show_help_box
from l1_trainer.gui.inputs import MessageBar
from l1_trainer.gui.labels import run_label, short
from l1_trainer.gui.plots import LossPlots
from l1_trainer.gui.pruning_view import PruningView
from l1_trainer.gui.sweep_view import SweepView
from l1_trainer.gui.weights_view import WeightsView
from l1_trainer.gui.sparsity_view import SparsityReadout
from l1_trainer.gui.status import StatusReadout
from l1_trainer.gui.worker import SweepThread, TestSetJob, TrainingWorker

CHANCE_CE = math.log(10)
# The weight images redraw once a second during a run: each frame holds the GIL for a while.
WEIGHTS_INTERVAL_S = 1.0


class TorchLoader(QThread):
    """Imports PyTorch (about 4 s here) off the GUI thread so that the window shows at once.

    A QThread subclass rather than a worker object: it runs one function and needs no event
    loop or slots of its own."""

    loaded = Signal(object, str, object)  # list[DeviceInfo], what `auto` picks, MNIST or None
    failed = Signal(str)

    def __init__(self, load_data: bool) -> None:
        super().__init__()
        self._load_data = load_data

    def run(self) -> None:
        try:
            import l1_trainer.core.engine  # noqa: F401  (torch, torchvision and the engine, once)
        except Exception as exc:  # noqa: BLE001  a broken install must show as a message
            self.failed.emit(f"PyTorch could not be loaded ({exc}). Reinstall L1 Trainer with "
                             "the set-up command in its README.")
            return
        try:
            from l1_trainer.core.data import DataError, load_mnist
            from l1_trainer.core.devices import available_devices, resolve_device

            # Verified and read once, here: damaged data shows at start, and Start is quick.
            data = load_mnist("cpu") if self._load_data else None

            devices = available_devices()
            auto = resolve_device("auto")
            label = next((d.label for d in devices if d.name.split(":")[0] == auto.type), "CPU")
            self.loaded.emit(devices, label, data)
        except DataError as exc:
            self.failed.emit(f"The bundled MNIST data is damaged: {exc}")
        except Exception as exc:  # noqa: BLE001  never a silent dead thread
            self.failed.emit(f"L1 Trainer could not start: {type(exc).__name__}: {exc}")


def worker_threads() -> int:
    """PyTorch threads for training: every core but one, which stays with the GUI."""
    return max(1, (os.cpu_count() or 2) - 1)


class MainWindow(QMainWindow):
    torchReady = Signal()
    fatalError = Signal(str)  # the app cannot work (no PyTorch, damaged data): say so and exit
    evaluationFinished = Signal()  # the gallery and test_accuracy reflect the current model
    pruningFinished = Signal(object)  # list[PrunePoint], once the curve is on the Pruning tab
    runFinished = Signal(object)  # RunEnded, once the thread has ended and Start is enabled
    sweepFinished = Signal()
    closed = Signal()  # the window has closed for good (the app quits on it)

    def __init__(
        self,
        settings: QSettings | None = None,
        data_dir: Path | None = None,
        data: object | None = None,
    ) -> None:
        """`data`: MNIST tensors already in memory; by default the first run loads them."""
        super().__init__()
        from l1_trainer.core.version import app_version

        self.setWindowTitle(f"L1 Trainer {app_version()}")
        self.settings = settings or QSettings("l1-trainer", "L1 Trainer")
        self.data_dir = data_dir
        self.controls = ControlsPanel()
        self.plots = LossPlots()
        self.sparsity = SparsityReadout()
        self.message = MessageBar()
        self.guide = MessageBar(name="firstRunGuide")
        self.draw = DrawPanel()
        self.gallery = Gallery()
        self.pruning = PruningView()
        self.weights = WeightsView()
        self.sweep_view = SweepView()
        self.tabs = QTabWidget()
        self.status = StatusReadout(self.statusBar())
        self._build()
        self._connect()
        self.thread: QThread | None = None
        self.worker: TrainingWorker | None = None
        self._loader: TorchLoader | None = None
        self._jobs: list[TestSetJob] = []  # background test-set work in flight
        self._sweep: SweepThread | None = None
        self._data = data  # MNIST tensors, loaded by the first run and reused
        self._snapshot = None  # the latest WeightSnapshot
        self._config: TrainConfig | None = None
        self._warned_collapse = False
        self._ended = None  # the last run's RunEnded
        self.last_epoch = None  # the last EpochMetrics
        self.test_accuracy: float | None = None  # of the current model, once evaluated
        self._opened: str | None = None  # the notice for a model file being evaluated
        self._prune_label = ""  # the legend entry of the pruning curve being computed
        self._weights_drawn_at = 0.0
        self._sweep_config: TrainConfig | None = None
        self.summaries: list[dict] = []  # one row per finished, stopped or failed run
        self._state = "loading"
        self._restore()
        self._set_state("loading")
        self._show_guide_once()

    # ---- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setFixedWidth(340)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setObjectName("smoothingInput")
        self.smoothing.setAccessibleName("Curve smoothing")
        self.smoothing.setToolTip("Exponential smoothing of the loss curves, as in TensorBoard")
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(round(100 * self.plots.smoothing))
        self.smoothing.setMinimumWidth(160)
        self.clear_runs = QPushButton("Clear old runs")
        self.clear_runs.setObjectName("clearRunsButton")
        self.clear_runs.setAccessibleName("Clear old runs")
        self.clear_runs.setToolTip("Remove the faded curves of earlier runs")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Smoothing"))
        bar.addWidget(self.smoothing)
        bar.addStretch(1)
        bar.addWidget(self.clear_runs)

        curves = QWidget()
        curves_layout = QVBoxLayout(curves)
        curves_layout.addWidget(self.plots, 1)
        curves_layout.addLayout(bar)
        self.tabs.setObjectName("viewTabs")
        self.tabs.addTab(curves, "Curves")
        self.tabs.addTab(self.weights, "Weights")
        self.tabs.addTab(self.draw, "Draw a digit")
        self.tabs.addTab(self.gallery, "Test images")
        self.tabs.addTab(self.pruning, "Pruning")
        self.tabs.addTab(self.sweep_view, "Sweep")
        middle = QVBoxLayout()
        middle.addWidget(self.guide)
        middle.addWidget(self.message)
        middle.addWidget(self.tabs, 1)

        self.sparsity.setFixedWidth(270)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(scroll)
        layout.addLayout(middle, 1)
        layout.addWidget(self.sparsity)
        self.setCentralWidget(central)

        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open model…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.open_model_dialog)
        self.save_action = QAction("&Save model…", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.triggered.connect(self.save_model_dialog)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addActions([self.open_action, self.save_action])
        file_menu.addSeparator()
        for text, slot in (("Export loss curves (CSV)…", self.export_curves_dialog),
                           ("Export run summaries (CSV)…", self.export_summaries_dialog),
                           ("Export plots (PNG)…", self.export_plots_dialog)):
            action = QAction(text, self)
            action.triggered.connect(slot)
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        self.menuBar().addMenu("&Run").addActions(list(self.controls.actions.values()))
        help_menu = self.menuBar().addMenu("&Help")
        for text, title, html in (
            ("What is L1 regularization?", "What is L1 regularization?", WHAT_IS_L1),
            ("Keyboard shortcuts", "Keyboard shortcuts", shortcuts_text()),
            ("About L1 Trainer", "About L1 Trainer", about_text()),
        ):
            action = QAction(text, self)
            action.triggered.connect(lambda _=False, t=title, h=html: self.show_help(t, h))
            help_menu.addAction(action)

    def _connect(self) -> None:
        buttons = self.controls.buttons
        buttons["startButton"].clicked.connect(self.start)
        buttons["pauseButton"].clicked.connect(self.toggle_pause)
        buttons["stopButton"].clicked.connect(self.stop)
        buttons["resetButton"].clicked.connect(self.reset)
        self.controls.l1WeightChanged.connect(self._l1_weight_changed)
        self.controls.inputRejected.connect(self.message.show_message)
        self.controls.learningRateChanged.connect(self._lr_changed)
        self.controls.thresholdChanged.connect(self._threshold_changed)
        self.smoothing.valueChanged.connect(self._smoothing_changed)
        self.clear_runs.clicked.connect(self.plots.clear_old_runs)
        self.draw.trainRequested.connect(self.start)
        self.draw.loadRequested.connect(self.open_model_dialog)
        self.pruning.pruneRequested.connect(self.prune)
        self.tabs.currentChanged.connect(self._refresh_weights)
        self.sweep_view.runRequested.connect(self.start_sweep)
        self.sweep_view.stopRequested.connect(self.stop_sweep)
        self.sweep_view.openRequested.connect(self.open_sweep_point)
        self.sweep_view.export_button.clicked.connect(self.export_sweep_dialog)

    def show_help(self, title: str, html: str):  # -> QMessageBox
        return show_help_box(self, title, html)

    def _show_guide_once(self) -> None:
        """A first start (no saved settings) gets a short guide, until it is dismissed."""
        if self.settings.value("guide/dismissed", "false") == "true":
            return
        self.guide.show_message(
            "<b>Welcome.</b> 1. Pick a preset on the left (Balanced is a good start). "
            "2. Press <b>Start</b> (F5) and watch the curves. 3. Watch the <b>sparsity</b> on the "
            "right grow: that is L1 at work. 4. Open <b>Draw a digit</b> and draw one. "
            "Help → What is L1 regularization? explains more.", "info")
        self.guide.dismissed.connect(self._guide_dismissed)

    @Slot()
    def _guide_dismissed(self) -> None:
        self.settings.setValue("guide/dismissed", "true")
        self.settings.sync()

    # ---- start-up ---------------------------------------------------------------------------

    def load_torch(self) -> None:
        """Import PyTorch in the background; Start is enabled when it is ready."""
        self._loader = TorchLoader(load_data=self.data_dir is None and self._data is None)
        self._loader.loaded.connect(self._torch_loaded)
        self._loader.failed.connect(self._torch_failed)
        self._loader.start()

    @Slot(object, str, object)
    def _torch_loaded(self, devices: list, auto_label: str, data: object) -> None:
        import torch

        if data is not None:
            self._data = data
        torch.set_num_threads(worker_threads())  # set here, it holds in the QThread too
        wanted = self.controls.device.currentData()
        if not self.controls.set_devices(devices, auto_label):
            self.message.show_message(
                f"The device used last time ({wanted}) is not available on this machine; "
                "using Auto.", "info")
        self._set_state("idle")
        self.status.set_state("Ready: pick a preset and press Start")
        self.torchReady.emit()

    @Slot(str)
    def _torch_failed(self, message: str) -> None:
        self.message.show_message(message)
        self.status.set_state("Cannot train")
        if self.isVisible():  # not after the user closed the window while it loaded
            self.fatalError.emit(message)

    # ---- run control ------------------------------------------------------------------------

    @Slot()
    def start(self) -> None:
        if self._state != "idle":
            return
        try:
            config = self.controls.config()
        except ValueError as exc:
            self.message.show_message(f"Cannot start: {exc}")
            return
        self.message.hide()
        self._config = config
        self._warned_collapse = False
        self._ended = None
        self.test_accuracy = None
        self.plots.start_run(run_label(config), config.epochs)
        self.status.start(config)
        self.status.set_state("Loading MNIST…" if self._data is None else "Starting…")
        self.worker = TrainingWorker(config, self._data, self.data_dir)
        self.thread = QThread()
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # Direct: quit() is thread-safe, and closeEvent may be blocked in wait() meanwhile.
        self.worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.worker.dataLoaded.connect(self._data_loaded)
        self.worker.runStarted.connect(self._run_started)
        self.worker.stepsReady.connect(self._steps)
        self.worker.epochFinished.connect(self._epoch_finished)
        self.worker.hyperparamsChanged.connect(self._hyperparams_changed)
        self.worker.pausedChanged.connect(self._paused_changed)
        self.worker.weightsUpdated.connect(self._weights_updated)
        self.worker.finished.connect(self._finished)
        # Qt's pattern: the worker is freed in its own thread as that thread ends.
        self.thread.finished.connect(self.worker.deleteLater)
        self.thread.finished.connect(self.thread.deleteLater)
        self.thread.finished.connect(self._thread_finished)
        self._set_state("running")
        self.thread.start()

    @Slot()
    def toggle_pause(self) -> None:
        if self.worker is None:
            return
        if self._state == "paused":
            self.worker.resume()
        else:
            self.worker.pause()

    @Slot()
    def stop(self) -> None:
        if self.worker is not None and self._state in ("running", "paused"):
            self.worker.stop()
            self._set_state("stopping")
            self.status.set_state("Stopping…")

    @Slot()
    def reset(self) -> None:
        if self._state != "idle":
            return
        self.plots.clear_old_runs()
        self.plots.clear_live()
        self.sparsity.clear()
        self.draw.set_model(None)
        self.gallery.clear()
        self._snapshot = None
        self.message.hide()
        self.status.set_state("Ready: pick a preset and press Start")
        self._set_state("idle")

    def _set_state(self, state: str) -> None:
        self._state = state
        has_results = self._snapshot is not None or self.plots.overlay_count > 0
        self.controls.set_state(state, has_results)
        self.open_action.setEnabled(state == "idle")
        self.save_action.setEnabled(self._snapshot is not None and state != "loading")
        self.pruning.prune_button.setEnabled(self._snapshot is not None and state == "idle")
        self.sweep_view.set_running(state == "sweeping", can_start=state == "idle")

    @property
    def state(self) -> str:
        return self._state

    # ---- live edits -------------------------------------------------------------------------

    @Slot(float)
    def _l1_weight_changed(self, value: float) -> None:
        self._live_edit(lambda: self.worker.set_l1_weight(value))

    @Slot(float)
    def _lr_changed(self, value: float) -> None:
        self._live_edit(lambda: self.worker.set_lr(value))

    def _live_edit(self, apply) -> None:
        if self.worker is None or self._state not in ("running", "paused"):
            return
        try:
            apply()
        except ValueError as exc:
            self.message.show_message(f"Not applied: {exc}")

    @Slot(float)
    def _threshold_changed(self, value: float) -> None:
        if self.worker is not None:
            self.worker.threshold = value
        if self._snapshot is not None:
            from l1_trainer.core.sparsity import sparsity

            self.sparsity.show_report(sparsity(self._snapshot.weights(), value))
            self._refresh_weights()

    @Slot()
    def _refresh_weights(self) -> None:
        """Redraw the weight images and histograms, only while their tab is on screen."""
        if self._snapshot is not None and self.tabs.currentWidget() is self.weights:
            self.weights.show_weights(self._snapshot.weights(), self.controls.threshold.value())
            self._weights_drawn_at = time.perf_counter()

    @Slot(int)
    def _smoothing_changed(self, value: int) -> None:
        self.plots.set_smoothing(value / 100)

    # ---- worker signals ---------------------------------------------------------------------

    @Slot(object)
    def _data_loaded(self, data: object) -> None:
        self._data = data

    @Slot(object)
    def _run_started(self, config: TrainConfig) -> None:
        self.status.set_state(f"Training: {run_label(config)}")

    @Slot(object)
    def _steps(self, steps: list) -> None:
        epochs = np.fromiter((s.epoch for s in steps), float, len(steps))
        ce = np.fromiter((s.ce for s in steps), float, len(steps))
        l1 = np.fromiter((s.l1 for s in steps), float, len(steps))
        self.plots.add_steps(epochs, ce, l1)
        last = steps[-1]
        self.status.update(last.step, last.samples_per_s, self._config.batch_size)

    @Slot(object)
    def _epoch_finished(self, metrics) -> None:
        self.last_epoch = metrics
        self.test_accuracy = metrics.test_accuracy
        self.plots.add_accuracy(metrics.epoch, metrics.test_accuracy)
        self.status.set_state(
            f"Epoch {metrics.epoch}: test accuracy {metrics.test_accuracy:.2%}, "
            f"{metrics.seconds:.1f} s"
        )
        ce = self.plots.ce.smoothed.data()[1]
        if (not self._warned_collapse and metrics.test_accuracy < 0.2 and len(ce)
                and abs(ce[-1] - CHANCE_CE) < 0.02):
            self._warned_collapse = True
            self.message.show_message(
                f"The network has collapsed to chance: test accuracy {metrics.test_accuracy:.1%} "
                f"and cross-entropy ≈ ln 10 = {CHANCE_CE:.3f}. The L1 weight "
                f"({self._config.l1_weight:g}) outweighs what the data can hold up, so every "
                "weight is pulled to zero. Try 1e-4.", "info")

    @Slot(object)
    def _hyperparams_changed(self, change) -> None:
        epoch = (change.step - 1) / self._config.steps_per_epoch
        self.plots.mark_change(epoch, f"L1 {short(change.l1_weight)}, lr {short(change.lr)}")

    @Slot(bool)
    def _paused_changed(self, paused: bool) -> None:
        if self._state in ("running", "paused"):
            self._set_state("paused" if paused else "running")
            self.status.set_state("Paused" if paused else f"Training: {run_label(self._config)}")

    @Slot(object)
    def _weights_updated(self, update: tuple) -> None:
        from l1_trainer.core.inference import model_from_state

        self._snapshot, report = update
        self.save_action.setEnabled(True)
        self.draw.set_model(model_from_state(self._snapshot.state))  # a copy: never live tensors
        if report.threshold == self.controls.threshold.value():  # else the next one will match
            self.sparsity.show_report(report)
        if time.perf_counter() - self._weights_drawn_at >= WEIGHTS_INTERVAL_S:
            self._refresh_weights()

    @Slot(object)
    def _finished(self, ended) -> None:
        self.plots.end_run()
        status = ended.status.value
        if status == "failed":
            self.message.show_message(f"Training failed: {ended.reason}")
            self.status.set_state("Failed")
        elif status == "stopped":
            self.status.set_state(f"Stopped at step {ended.step:,}")
        else:
            self.status.set_state(f"Finished {ended.epochs_done} epoch(s)")
        self._ended = ended
        self._summarise(ended)
        self._evaluate()

    @property
    def last_run(self):  # -> RunEnded | None
        """How the last run ended (set as soon as the worker reports it)."""
        return self._ended

    @Slot()
    def _thread_finished(self) -> None:
        self.worker = self.thread = None
        self._set_state("idle")
        self.runFinished.emit(self._ended)

    # ---- sweep ----------------------------------------------------------------------------------

    @Slot(str)
    def start_sweep(self, text: str) -> None:
        """Train one model per typed L1 weight at once, with the panel's other settings."""
        from l1_trainer.core.sweep import parse_weights

        if self._state != "idle":
            return
        try:
            weights = parse_weights(text)
            config = self.controls.config()
            for weight in weights:
                config.replace(l1_weight=weight)
        except ValueError as exc:
            self.message.show_message(f"Cannot sweep: {exc}")
            return
        self.message.hide()
        self._sweep_config = config
        self._sweep = SweepThread(config, weights, self._data, self.data_dir)
        self._sweep.epochDone.connect(self._sweep_epoch)
        self._sweep.failed.connect(self.message.show_message)
        self._sweep.finished.connect(self._sweep_ended)
        self.sweep_view.start(weights)
        self._set_state("sweeping")
        self.status.set_state(f"Sweeping {len(weights)} L1 weights at once…")
        self._sweep.start()

    @Slot()
    def stop_sweep(self) -> None:
        if self._sweep is not None:
            self._sweep.stop()

    @Slot(object)
    def _sweep_epoch(self, result) -> None:
        self.sweep_view.add_epoch(result, self._sweep_config.steps_per_epoch)

    @Slot()
    def _sweep_ended(self) -> None:
        self._sweep.deleteLater()
        self._sweep = None
        self._set_state("idle")
        self.status.set_state("Sweep done: pick a row to open it as a model")
        self.sweepFinished.emit()

    @Slot(object)
    def open_sweep_point(self, point) -> None:
        from l1_trainer.core.inference import model_from_state

        if point.diverged:
            self.message.show_message(f"The model with L1 weight {short(point.l1_weight)} diverged: "
                                      "its weights are not finite numbers, so it cannot be opened.")
            return
        config = self._sweep_config.replace(l1_weight=point.l1_weight)
        self._use_model(model_from_state(point.state), config, {},
                        f"Opened the sweep's model with {run_label(config)}")

    def export_sweep(self, path: Path) -> int:
        from l1_trainer.core.export import write_csv
        from l1_trainer.core.sweep import CSV_HEADER

        return self._export(path, lambda: write_csv(path, CSV_HEADER, self.sweep_view.rows()))

    @Slot()
    def export_sweep_dialog(self) -> None:
        if path := self._ask_path("Export sweep results", "sweep.csv", "CSV (*.csv)"):
            self.export_sweep(path.with_suffix(".csv"))

    # ---- export ---------------------------------------------------------------------------------

    SUMMARY_FIELDS = ("run", "l1_weight", "lr", "l1_method", "epochs", "batch_size", "seed",
                      "status", "steps", "epochs_done", "test_accuracy", "sparsity", "exact_zeros")

    def _summarise(self, ended) -> None:
        config, report = self._config, self.sparsity.report
        self.summaries.append({
            "run": run_label(config), "l1_weight": config.l1_weight, "lr": config.lr,
            "l1_method": config.l1_method, "epochs": config.epochs,
            "batch_size": config.batch_size, "seed": config.seed, "status": ended.status.value,
            "steps": ended.step, "epochs_done": ended.epochs_done,
            "test_accuracy": self.last_epoch.test_accuracy if self.last_epoch else "",
            "sparsity": report.fraction if report else "",
            "exact_zeros": report.exact_zeros if report else "",
        })

    def export_curves(self, path: Path) -> int:
        """Every finished run's per-step losses and per-epoch accuracy, one row per point."""
        from l1_trainer.core.export import write_csv

        rows = []
        for run in self.plots.finished_runs:
            rows += [(run.label, f"{e:.6f}", ce, l1, "") for e, ce, l1 in zip(run.epochs, run.ce, run.l1)]
            rows += [(run.label, f"{e:g}", "", "", a / 100) for e, a in zip(run.accuracy_epochs, run.accuracy)]
        return self._export(path, lambda: write_csv(path, ("run", "epoch", "ce", "l1", "test_accuracy"), rows))

    def export_summaries(self, path: Path) -> int:
        from l1_trainer.core.export import write_csv

        rows = [[row[f] for f in self.SUMMARY_FIELDS] for row in self.summaries]
        return self._export(path, lambda: write_csv(path, self.SUMMARY_FIELDS, rows))

    def export_plots(self, stem: Path) -> int:
        return self._export(stem, lambda: len(self.plots.export_png(stem)))

    def _export(self, path: Path, write) -> int:
        try:
            count = write()
        except OSError as exc:
            self.message.show_message(f"Could not export to {path}: {exc.strerror or exc}")
            return 0
        self.message.show_message(f"Exported to {path}", "info")
        return count

    def _ask_path(self, title: str, name: str, pattern: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path.home() / name), pattern)
        return Path(path) if path else None

    @Slot()
    def export_curves_dialog(self) -> None:
        if path := self._ask_path("Export loss curves", "curves.csv", "CSV (*.csv)"):
            self.export_curves(path.with_suffix(".csv"))

    @Slot()
    def export_summaries_dialog(self) -> None:
        if path := self._ask_path("Export run summaries", "runs.csv", "CSV (*.csv)"):
            self.export_summaries(path.with_suffix(".csv"))

    @Slot()
    def export_plots_dialog(self) -> None:
        if path := self._ask_path("Export plots (three PNG files)", "plots", "PNG (*.png)"):
            self.export_plots(path.with_suffix(""))

    # ---- evaluation and model files -----------------------------------------------------------

    def _start_job(self, compute, what: str, done) -> None:
        """Run compute(model, test images, labels) on the current weights in the background."""
        job = TestSetJob(self._snapshot.state, self._data, self.data_dir, compute, what)
        job.done.connect(done)
        job.failed.connect(self.message.show_message)
        job.finished.connect(self._job_ended)
        self._jobs.append(job)
        job.start()

    @Slot()
    def _job_ended(self) -> None:
        job = self.sender()
        self._jobs.remove(job)
        job.deleteLater()

    def _evaluate(self) -> None:
        """Predict the whole test set with the current weights, for the gallery."""
        from l1_trainer.core.inference import evaluate

        if self._snapshot is not None:
            self._start_job(evaluate, "Evaluating the model", self._evaluated)

    @Slot(object, object)
    def _evaluated(self, evaluation, data) -> None:
        self._data = data
        self.test_accuracy = evaluation.accuracy
        self.gallery.set_evaluation(data.test_x, evaluation)
        self.status.set_state(f"Current model: test accuracy {evaluation.accuracy:.2%} "
                              f"on {len(evaluation.labels):,} test images")
        if self._opened is not None:
            self.message.show_message(f"{self._opened}; test accuracy {evaluation.accuracy:.2%}.", "info")
            self._opened = None
        self.evaluationFinished.emit()

    @Slot()
    def prune(self) -> None:
        """Add the current model's pruning curve to the Pruning tab (computed in the background)."""
        from l1_trainer.core.pruning import pruning_curve

        if self._snapshot is None or self._config is None:
            return
        self._prune_label = f"{run_label(self._config)}, {self._config.l1_method}"
        self.pruning.prune_button.setEnabled(False)
        # A bound slot, not a lambda: a lambda would run in the job's thread.
        self._start_job(pruning_curve, "Pruning the model", self._pruned)

    @Slot(object, object)
    def _pruned(self, points: list, data: object) -> None:
        self._data = data
        self.pruning.add_curve(points, self._prune_label)
        self.pruning.prune_button.setEnabled(self._state == "idle")
        self.pruningFinished.emit(points)

    @Slot()
    def save_model_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", str(Path.home() / "model.safetensors"), "Models (*.safetensors)")
        if path:
            self.save_model(Path(path).with_suffix(".safetensors"))

    @Slot()
    def open_model_dialog(self) -> None:
        if self._state != "idle":
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open model", str(Path.home()),
                                              "Models (*.safetensors);;All files (*)")
        if path:
            self.load_model(Path(path))

    def save_model(self, path: Path) -> bool:
        """Write the latest weights with the run's settings and results; report in the window."""
        from l1_trainer.core.inference import model_from_state
        from l1_trainer.core.modelfile import ModelFileError, save_model

        if self._snapshot is None or self._config is None:
            self.message.show_message("There is no model to save yet: train or load one first.")
            return False
        summary = {"step": self._snapshot.step, "epoch": self._snapshot.epoch,
                   "test_accuracy": self.test_accuracy,
                   "sparsity": self.sparsity.report.fraction if self.sparsity.report else None}
        try:
            save_model(path, model_from_state(self._snapshot.state), self._config, summary)
        except (OSError, ModelFileError) as exc:
            self.message.show_message(f"Could not save {path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        self.message.show_message(f"Saved the model to {path}", "info")
        return True

    def load_model(self, path: Path) -> bool:
        """Make a saved model the current one; a bad file changes nothing and says why."""
        from l1_trainer.core.modelfile import ModelFileError, load_model

        try:
            model, config, summary = load_model(path)
        except ModelFileError as exc:
            self.message.show_message(f"Could not open the model: {exc}")
            return False
        self._use_model(model, config, summary,
                        f"Opened {path.name}: trained with {run_label(config)}, {config.epochs} epoch(s)")
        return True

    def _use_model(self, model, config: TrainConfig, summary: dict, notice: str) -> None:
        """Make `model` the current one: draw panel, sparsity, weights, gallery, accuracy."""
        from l1_trainer.core.events import WeightSnapshot
        from l1_trainer.core.sparsity import sparsity

        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        step = int(summary.get("step") or 0)
        self._snapshot = WeightSnapshot(step, float(summary.get("epoch") or 0.0), state)
        self._config = config
        self.test_accuracy = None
        self.draw.set_model(model)
        self.sparsity.show_report(sparsity(self._snapshot.weights(), self.controls.threshold.value()))
        self._refresh_weights()
        self._opened = notice
        self.message.show_message(f"{notice}; measuring its test accuracy…", "info")
        self._set_state(self._state)
        self._evaluate()

    # ---- persistence and closing -------------------------------------------------------------

    def _restore(self) -> None:
        self.controls.restore(self.settings)
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        smoothing = self.settings.value("plots/smoothing")
        if smoothing is not None:
            self.smoothing.setValue(int(smoothing))

    def _save(self) -> None:
        self.controls.save(self.settings)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("plots/smoothing", self.smoothing.value())
        self.settings.sync()

    def shutdown(self) -> None:
        """Stop the run and wait for both background threads; safe to call twice."""
        if self.worker is not None:
            self.worker.stop()
        if self._sweep is not None:
            self._sweep.stop()
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()
        for helper in [self._loader, self._sweep, *self._jobs]:
            if helper is not None:
                helper.wait()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._save()
        if self._loader is not None and self._loader.isRunning():
            # PyTorch is still importing (seconds), and an import cannot be interrupted: the
            # window goes at once, and the close completes when the import is done.
            self.hide()
            event.ignore()
            self._loader.finished.connect(self.close, Qt.ConnectionType.UniqueConnection)
            return
        self.shutdown()
        event.accept()
        self.closed.emit()
