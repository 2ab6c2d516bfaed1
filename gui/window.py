"""The trainer window: layout, menus, dialogs and persistence.

Data flows engine -> job (its QThread) -> controller -> session -> views: the views subscribe to
the Qt-free session and render from it, and user actions go to the controller, which starts
jobs. The GUI thread never runs a training step and never waits on a job, except in closeEvent,
where it stops them and waits for their threads to end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.app.records import Kind
from ..core.app.session import AppState, CurrentModel, Session
from ..core.app.settings import FIELDS
from ..core.files.version import app_version
from ..core.training.config import TrainConfig, compared_weights, parse_weights, sweep_grid
from .controller import Controller
from .controls import ControlsPanel
from .draw_panel import DrawPanel
from .exports import Exports
from .gallery import Gallery
from .help import WHAT_IS_L1, FirstRunGuide, about_text, shortcuts_text
from .help import show as show_help_box
from .inputs import MessageBar
from .jobs import JobRunner
from .plots import CurvesTab
from .presentation import Presentation
from .pruning_view import PruningView
from .runs_view import RunsView
from .sparsity_view import SparsityReadout
from .status import StatusReadout
from .sweep_view import SweepView
from .weights_view import WeightsView

if TYPE_CHECKING:  # they import PyTorch, which the window loads in the background
    from ..core.training.dataset import MnistTensors
    from ..core.training.devices import DeviceInfo

SIDE_PANEL = 270  # lets the window fit a 1024 x 700 screen with room for the tabs


class MainWindow(QMainWindow):
    torchReady = Signal()  # PyTorch and MNIST are loaded: Start is enabled
    fatalError = Signal(str)  # the app cannot work (no PyTorch, damaged data): say so and exit
    closed = Signal()  # the window has closed for good (the app quits on it)

    def __init__(self, settings: QSettings | None = None, data_dir: Path | None = None,
                 data: MnistTensors | None = None) -> None:
        """`data`: MNIST tensors already in memory; by default they are loaded at start."""
        super().__init__()
        self.setWindowTitle(f"L1 Trainer {app_version()}")
        self.settings = settings or QSettings("l1-trainer", "L1 Trainer")
        self.session = session = Session()
        self.runner = JobRunner(self)
        self.controller = Controller(session, self.runner, data_dir, data)
        self.controls = ControlsPanel(session.settings)
        self.curves = CurvesTab(session)
        self.plots = self.curves.plots
        self.sparsity = SparsityReadout(session)
        self.message = MessageBar()
        self.diagnosis = MessageBar(name="diagnosisBar")
        self.guide = FirstRunGuide(self.settings)
        self.draw = DrawPanel(session)
        self.gallery = Gallery(session)
        self.pruning = PruningView(session)
        self.weights = WeightsView(session)
        self.sweep_view = SweepView(session)
        self.runs_view = RunsView(session)
        self.exports = Exports(self, session, self.plots, self.sweep_view)
        self.tabs = QTabWidget()
        self._presentation = Presentation(self, self.plots, [self.controls, self.sparsity], self.tabs)
        self.status = StatusReadout(self.statusBar(), session)
        self._ready = False  # torchReady was emitted
        self._rendered_with_model = False
        self._close_when_loaded = False
        self._build()
        self._menus()
        self._connect()
        self._restore()
        self.controller.history.open()
        self._render()

    # ---- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.controls.setFixedWidth(SIDE_PANEL)
        self.tabs.setObjectName("viewTabs")
        for widget, title in ((self.curves, "Curves"), (self.weights, "Weights"), (self.draw, "Draw"),
                              (self.gallery, "Test images"), (self.pruning, "Pruning"),
                              (self.sweep_view, "Sweep"), (self.runs_view, "Runs")):
            self.tabs.addTab(widget, title)
        middle = QVBoxLayout()
        for bar_widget in (self.guide, self.message, self.diagnosis):
            middle.addWidget(bar_widget)
        middle.addWidget(self.tabs, 1)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.controls)
        layout.addLayout(middle, 1)
        layout.addWidget(self.sparsity)
        self.setCentralWidget(central)

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = _action(self, "&Open model…", self.open_model_dialog, QKeySequence.StandardKey.Open)
        self.save_action = _action(self, "&Save model…", self.save_model_dialog, QKeySequence.StandardKey.Save)
        file_menu.addActions([self.open_action, self.save_action])
        file_menu.addSeparator()
        actions = {}
        for text, name, pattern, export in (
                ("Export loss curves (CSV)…", "curves.csv", "CSV (*.csv)", self.exports.curves),
                ("Export run summaries (CSV)…", "runs.csv", "CSV (*.csv)", self.exports.summaries),
                ("Export plots (three PNG files)…", "plots", "PNG (*.png)", self.exports.plots_png),
                ("Export model as &ONNX…", "model.onnx", "ONNX (*.onnx)", self.controller.export_onnx),
                ("Export run as &script…", "train_run.py", "Python (*.py)", self.controller.export_script)):
            if name == "model.onnx":
                file_menu.addSeparator()
            actions[name] = _action(self,
                text, lambda _=False, t=text, n=name, p=pattern, e=export: self.exports.dialog(t, n, p, e))
            file_menu.addAction(actions[name])
        self.onnx_action, self.script_action = actions["model.onnx"], actions["train_run.py"]
        file_menu.addSeparator()
        file_menu.addAction(_action(self, "&Quit", self.close, QKeySequence.StandardKey.Quit))
        self.menuBar().addMenu("&Run").addActions(list(self.controls.menu_actions.values()))
        self.presentation = self._presentation.action
        self.menuBar().addMenu("&View").addAction(self.presentation)
        help_menu = self.menuBar().addMenu("&Help")
        for title, html in (("What is L1 regularization?", WHAT_IS_L1),
                            ("Keyboard shortcuts", shortcuts_text()),
                            ("About L1 Trainer", about_text())):
            help_menu.addAction(_action(self, title, lambda _=False, t=title, h=html: show_help_box(self, t, h)))

    def _connect(self) -> None:
        session, controller, controls = self.session, self.controller, self.controls
        buttons = controls.buttons
        buttons["startButton"].clicked.connect(self.start)
        buttons["pauseButton"].clicked.connect(controller.toggle_pause)
        buttons["stopButton"].clicked.connect(controller.stop)
        buttons["resetButton"].clicked.connect(self.reset)
        buttons["stepButton"].clicked.connect(self._step_clicked)
        controls.step_many.triggered.connect(lambda: self.step(50))
        controls.inputRejected.connect(self.message.show_rejection)
        for name in FIELDS:  # a value taken: the complaint about the last one goes
            session.settings.events[name].connect(lambda _: self.message.value_taken())
        self.draw.trainRequested.connect(self.start)
        self.draw.loadRequested.connect(self.open_model_dialog)
        self.gallery.drawOverRequested.connect(self.draw_over)
        self.pruning.pruneRequested.connect(controller.prune)
        self.sweep_view.runRequested.connect(self.start_sweep)
        self.sweep_view.stopRequested.connect(controller.stop)
        self.sweep_view.openRequested.connect(controller.open_sweep_model)
        self.sweep_view.export_button.clicked.connect(
            lambda: self.exports.dialog("Export sweep results", "sweep.csv", "CSV (*.csv)", self.exports.sweep))
        self.runs_view.showRequested.connect(controller.history.show)
        self.runs_view.openRequested.connect(controller.history.open_run)
        self.runs_view.deleteRequested.connect(self.delete_stored)
        self.runs_view.scriptRequested.connect(lambda run_id: self.exports.dialog(
            f"Export run #{run_id} as script", f"train_run_{run_id}.py", "Python (*.py)",
            lambda path: controller.history.export_script(run_id, path)))
        self.runs_view.exportRequested.connect(
            lambda: self.exports.dialog("Export kept runs", "runs.csv", "CSV (*.csv)", self.exports.runs))
        session.events.notice.connect(self.message.show_message)
        session.events.diagnosis.connect(self._diagnosis)
        for emitter in (session.events.runs, session.events.run_ended):
            emitter.connect(lambda *_: self._render())
        session.events.model.connect(self._model_changed)
        session.events.state.connect(self._state_changed)

    def _state_changed(self, state: AppState) -> None:
        self._render()
        if state is AppState.IDLE and not self._ready:
            self._ready = True
            self.torchReady.emit()
        if self._close_when_loaded and state is not AppState.LOADING:
            self.close()

    def _model_changed(self, model: CurrentModel | None) -> None:
        # Only when there starts or stops being a model: new weights come four times a second.
        if (model is not None) != self._rendered_with_model:
            self._render()

    def _render(self) -> None:
        self._rendered_with_model = self.session.current is not None
        can = self.session.enabled()
        self.controls.set_enabled(can, paused=self.session.state is AppState.PAUSED)
        self.sparsity.set_enabled_method(can.settings)
        self.open_action.setEnabled(can.open_model)
        self.save_action.setEnabled(can.save_model)
        self.onnx_action.setEnabled(can.save_model)
        self.script_action.setEnabled(can.save_model)
        self.pruning.prune_button.setEnabled(can.prune)
        sweeping = self.session.active is not None and self.session.active.sweep
        self.sweep_view.set_enabled(can.start, sweeping and can.stop)

    def _diagnosis(self, text: str) -> None:
        self.diagnosis.show_message(text, "info") if text else self.diagnosis.hide()

    # ---- start-up ---------------------------------------------------------------------------

    def load_torch(self) -> None:
        """Import PyTorch and read MNIST in the background; Start is enabled when it is ready."""
        self.controller.load(self._loaded, self._load_failed)

    def _loaded(self, devices: list[DeviceInfo], auto_label: str) -> None:
        assert self.controller.data is not None  # loaded with the devices
        self.gallery.images = self.controller.data.test_x
        wanted = self.session.settings["device"]
        if not self.controls.set_devices(devices, auto_label):
            self.session.notify(f"The device used last time ({wanted}) is not available on this "
                                "machine; using Auto.", "info")

    def _load_failed(self, message: str) -> None:
        if self.isVisible():  # not after the user closed the window while it loaded
            self.fatalError.emit(message)

    # ---- what the user asks -----------------------------------------------------------------

    @Slot()
    def start(self) -> None:
        """A run, or with "Side by side" on, the comparison: no penalty, L2 alone, L1 alone."""
        if self.session.state is AppState.IDLE and (config := self._config("Cannot start")):
            self._begin(config)

    def _begin(self, config: TrainConfig, steps: int | None = None) -> None:
        self.message.hide()
        if self.session.settings["compare"]:
            self.controller.start(config, *compared_weights(config), steps=steps, kind=Kind.COMPARISON)
        else:
            self.controller.start(config, steps=steps)

    @Slot(str, str)
    def start_sweep(self, l1_text: str, l2_text: str = "0") -> None:
        """Train one model per typed L1 and L2 weight pairing at once, with the panel's other
        settings."""
        if self.session.state is not AppState.IDLE:
            return
        try:
            l1, l2 = sweep_grid(parse_weights(l1_text), parse_weights(l2_text, "l2_weight"))
        except ValueError as exc:
            self.session.notify(f"Cannot sweep: {exc}")
            return
        if config := self._config("Cannot sweep"):
            self.message.hide()
            self.controller.start(config, l1, l2, kind=Kind.SWEEP)

    def _config(self, failure: str) -> TrainConfig | None:
        try:
            return self.session.settings.config()
        except ValueError as exc:
            self.session.notify(f"{failure}: {exc}")
            return None

    @Slot()
    def _step_clicked(self) -> None:
        shift = QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier
        self.step(50 if shift else 1)

    def step(self, steps: int) -> None:
        """Train `steps` mini-batches and pause: from a pause, or as the start of a new run."""
        if self.session.state is AppState.PAUSED:
            self.controller.advance(steps)
        elif self.session.state is AppState.IDLE and (config := self._config("Cannot start")):
            self._begin(config, steps)

    def draw_over(self, image: np.ndarray) -> None:
        """A test image onto the drawing canvas, to change by hand and watch the prediction."""
        self.tabs.setCurrentWidget(self.draw)
        self.draw.canvas.set_image(image)

    @Slot()
    def reset(self) -> None:
        if self.session.state is AppState.IDLE:
            self.message.hide()
            self.session.reset()

    # ---- files and exports ------------------------------------------------------------------

    @Slot()
    def open_model_dialog(self) -> None:
        if not self.session.enabled().open_model:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open model", str(Path.home()),
                                              "Models (*.safetensors);;All files (*)")
        if path:
            self.controller.open_model(Path(path))

    @Slot()
    def save_model_dialog(self) -> None:
        if path := self.exports.ask_path("Save model", "model.safetensors", "Models (*.safetensors)"):
            self.controller.save_model(path.with_suffix(".safetensors"))

    @Slot(int)
    def delete_stored(self, run_id: int) -> None:
        answer = QMessageBox.question(self, "Delete a kept run",
                                      f"Delete run #{run_id} and its weights from the history? "
                                      "This cannot be undone.")
        if answer == QMessageBox.StandardButton.Yes:
            self.controller.history.delete(run_id)

    # ---- persistence and closing -------------------------------------------------------------

    def _restore(self) -> None:
        self.session.settings.restore({name: self.settings.value(f"controls/{name}") for name in FIELDS})
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:  # a first start: 1280 x 820, or the screen it opens on if that is smaller
            screen = self.screen().availableGeometry()
            self.resize(min(1280, screen.width()), min(820, screen.height()))
        smoothing = self.settings.value("plots/smoothing")
        if smoothing is not None:
            self.curves.smoothing.setValue(int(smoothing))

    def _save(self) -> None:
        for name, value in dataclasses.asdict(self.session.settings.values).items():
            self.settings.setValue(f"controls/{name}", value)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("plots/smoothing", self.curves.smoothing.value())
        self.settings.sync()

    def shutdown(self) -> None:
        """Stop every job and wait for its thread; safe to call twice."""
        self.controller.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._save()
        if self.session.state is AppState.LOADING:
            # PyTorch is still importing (seconds), and an import cannot be interrupted: the
            # window goes at once, and the close completes when the import is done.
            self.hide()
            event.ignore()
            self._close_when_loaded = True
            return
        self.shutdown()
        event.accept()
        self.closed.emit()


def _action(parent: QMainWindow, text: str, slot: Callable,
            shortcut: str | QKeySequence.StandardKey | None = None) -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(shortcut)
    action.triggered.connect(slot)
    return action
