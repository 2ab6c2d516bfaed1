"""The left panel: the settings' inputs, which write through the settings model and render from
it (core/app/settings.py), and the run buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ..core.app.numbers import short
from ..core.app.session import Enabled
from ..core.app.settings import CUSTOM, FIELDS, Settings, batch_problem
from ..core.training.config import MNIST_TRAIN_SIZE
from .inputs import Expander, IntSpinBox, LogInput, plain_label

PRESET_ITEMS = [
    ("Custom", CUSTOM, "Your own settings."),
    ("Seed notebook", "seed",
     "The notebook's settings: L1 weight 1.0, lr 1e-4, 5 epochs. The penalty is so strong that "
     "every weight is driven to zero and the net collapses to chance (10%, CE = ln 10)."),
    ("No regularization", "none", "L1 weight 0, lr 1e-3, 10 epochs: about 97.2% and no sparsity."),
    ("Balanced (L1 1e-4)", "balanced",
     "L1 weight 1e-4, lr 1e-3, 10 epochs: about 97.0% with half the weights near zero."),
    ("Sparse (L1 1e-3)", "sparse",
     "L1 weight 1e-3, lr 1e-3, 10 epochs: about 93.7% with 85% of the weights near zero."),
    ("L1 vs L2 (side by side)", "l1-vs-l2",
     "Three models on the same batches: no penalty, L2 1e-3 alone, L1 0.1 alone (proximal). In "
     "a few seconds L1 has thousands of weights at exactly zero and L2 none: L2 only shrinks "
     "them. 5 epochs, about 95-97% each."),
]
METHODS = [("Penalty (notebook)", "penalty"), ("Proximal (exact zeros)", "proximal")]
BUTTONS = [  # objectName, text, shortcut, tooltip
    ("startButton", "Start", "F5", "Train a new model with these settings"),
    ("pauseButton", "Pause", "F6", "Pause or resume the run"),
    ("stopButton", "Stop", "Shift+F5", "Stop after the current step; the curves stay"),
    ("resetButton", "Reset", "Ctrl+R", "Forget the model and clear all curves"),
    ("stepButton", "Step", "F7", "Train one mini-batch, then pause (Shift+F7 or Shift-click: 50)"),
]


METHOD_TIP = ("Penalty adds the L1 term's gradient, as the notebook does: every step pushes each "
              "weight by lr × L1 weight towards zero, and a weight at zero is pushed past it, so "
              "weights jitter around zero and are never exactly 0. Proximal shrinks each weight by "
              "lr × L1 weight after every step and stops at zero, so weights become exactly 0.")
# Each input: (attribute, object name, accessible name, tooltip).
DESCRIPTIONS = (
    ("preset", "presetSelect", "Preset", "Fill every setting from a tested preset."),
    ("l1_weight", "l1WeightInput", "L1 weight",
     "How hard sum(|w|) pulls every weight towards zero. Small (1e-5 to 1e-3) prunes "
     "unneeded weights; too large (about 0.01 and up here) zeroes them all and the net "
     "guesses. Can be changed while training."),
    ("l2_weight", "l2WeightInput", "L2 weight",
     "How hard sum(w²) pulls weights towards zero: big weights pay much more than small "
     "ones, so L2 makes weights small but rarely zero (L1 makes them exactly small). "
     "With both, the elastic net. Can be changed while training."),
    ("weight_decay", "weightDecayInput", "Weight decay",
     "AdamW's decoupled weight decay (0.01 in the notebook): every step shrinks each "
     "weight by lr × decay, outside the loss, so Adam's scaling does not touch it. "
     "Help → What is L1 regularization? explains how it differs from L2."),
    ("lr", "learningRateInput", "Learning rate",
     "Step size of the optimizer. Can be changed while training."),
    ("epochs", "epochsInput", "Epochs", "Passes over the training images."),
    ("batch_size", "batchSizeInput", "Batch size", "Images per training step."),
    ("train_images", "trainSubsetInput", "Training images",
     "Train on the first N of the 60,000 images: fewer is faster, for demos."),
    ("optimizer", "optimizerSelect", "Optimizer", "AdamW as in the notebook, or SGD."),
    ("device", "deviceSelect", "Device", "Where to train: only devices found here."),
    ("seed", "seedInput", "Random seed", "Same seed, same settings: same numbers."),
    ("penalize_biases", "penalizeBiasesCheck", "Penalize biases",
     "The notebook penalizes biases as well as weights."),
    ("augment", "augmentCheck", "Augment the training digits",
     "Randomly rotate, slant, shift and thicken or thin the training digits, so that the "
     "network also reads digits written unlike MNIST's (in the Draw tab). "
     "Off in the notebook."),
    ("notebook_exact", "notebookExactCheck", "Notebook-exact arithmetic",
     "Compute AdamW as the seed notebook's loop does, to its last digits (the Seed preset). "
     "Off: PyTorch's fused AdamW, which rounds differently and makes a step about a tenth faster."),
    ("l1_method", "l1MethodSelect", "L1 method",
     METHOD_TIP),
    ("compare", "compareCheck", "Side by side",
     "Train three models at once on the same batches: no penalty, the L2 weight alone and the "
     "L1 weight alone, shown side by side in every view."),
    ("threshold", "thresholdInput", "Sparsity threshold",
     "Weights with |w| at or below this count as zero in the sparsity readout."),
)


class RunButtons(QWidget):
    """Start, Pause, Stop, Reset and Step, each with the action (the Run menu, a shortcut)
    that triggers it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons = {name: QPushButton(text) for name, text, _, _ in BUTTONS}
        # The shortcuts live on actions (the window's Run menu), which trigger the buttons.
        self.menu_actions = {name: QAction(text, self) for name, text, _, _ in BUTTONS}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        for i, (name, text, key, tip) in enumerate(BUTTONS):
            button, action = self.buttons[name], self.menu_actions[name]
            button.setObjectName(name)
            button.setAccessibleName(text)
            button.setToolTip(f"{tip} ({key})")
            action.setShortcut(QKeySequence(key))
            action.setToolTip(tip)
            action.triggered.connect(button.click)
            grid.addWidget(button, i // 2, i % 2)
        self.step_many = QAction("Step 50 mini-batches", self)
        self.step_many.setShortcut(QKeySequence("Shift+F7"))
        self.menu_actions["stepManyAction"] = self.step_many

    def set_enabled(self, can: Enabled, paused: bool) -> None:
        for name, on in (("startButton", can.start), ("pauseButton", can.pause),
                         ("stopButton", can.stop), ("resetButton", can.reset), ("stepButton", can.step)):
            self.buttons[name].setEnabled(on)
            self.menu_actions[name].setEnabled(on)
        pause_text = "Resume" if paused else "Pause"
        self.buttons["pauseButton"].setText(pause_text)
        self.menu_actions["pauseButton"].setText(pause_text)
        self.step_many.setEnabled(can.step)


Binding = tuple[Callable[[], Any], Callable[[Any], None], SignalInstance]  # read, show, edited


class ControlsPanel(QWidget):
    """An input per setting: what the user types goes to the settings model, and the inputs
    show what the model holds (a preset, a restored setting, the readout's method switch).
    Nothing reads the truth back from here."""

    inputRejected = Signal(str)  # typed text a field did not take, and why

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.preset = QComboBox()
        for i, (label, key, tip) in enumerate(PRESET_ITEMS):
            self.preset.addItem(label, key)
            self.preset.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.l1_weight = LogInput(1e-6, 10.0, allow_zero=True)
        self.l2_weight = LogInput(1e-6, 10.0, allow_zero=True)
        self.lr = LogInput(1e-6, 1.0, allow_zero=False)
        self.weight_decay = LogInput(1e-6, 1.0, allow_zero=True)
        self.epochs = IntSpinBox(1, 1000)
        self.batch_size = IntSpinBox(1, MNIST_TRAIN_SIZE)
        self.train_images = IntSpinBox(100, MNIST_TRAIN_SIZE, step=1000)
        self.optimizer = QComboBox()
        self.optimizer.addItem("AdamW", "adamw")
        self.optimizer.addItem("SGD with momentum", "sgd")
        self.device = QComboBox()
        self.device.addItem("Auto", "auto")
        self.seed = IntSpinBox(0, 2**31 - 1)
        self.penalize_biases = QCheckBox("Penalize biases too")
        self.augment = QCheckBox("Augment (other hands)")
        self.notebook_exact = QCheckBox("Notebook-exact (slower)")
        self.l1_method = QComboBox()
        for text, key in METHODS:
            self.l1_method.addItem(text, key)
        self.compare = QCheckBox("none, L2, L1")
        for combo in (self.preset, self.optimizer, self.device, self.l1_method):
            # Long item texts must not widen the panel: the box shows what fits, the list all.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
        self.threshold = LogInput(1e-6, 1.0, allow_zero=True)
        self.field_problem = plain_label()  # a conflict between fields, shown under them
        self.field_problem.setObjectName("fieldProblem")
        self.field_problem.setWordWrap(True)
        self.field_problem.setStyleSheet("color:#a3231b;")
        self.field_problem.hide()
        self.run_buttons = RunButtons()
        self.buttons, self.menu_actions = self.run_buttons.buttons, self.run_buttons.menu_actions
        self.step_many = self.run_buttons.step_many
        self.more = Expander("More settings", "moreSettingsButton")  # what a demo seldom needs
        self.summary = plain_label()  # the settings in short, in place of the form on a projector
        self.summary.setObjectName("settingsSummary")
        self.summary.setWordWrap(True)
        self._showing = False  # the inputs are being set from the model, not by the user
        self._describe_inputs()
        self._lay_out()
        self._bind()

    def _describe_inputs(self) -> None:
        for attribute, name, label, tip in DESCRIPTIONS:
            widget = getattr(self, attribute)
            widget.setObjectName(name)
            if isinstance(widget, LogInput):
                widget.set_accessible(label, tip)
            else:
                widget.setAccessibleName(label)
                widget.setToolTip(tip)

    def _lay_out(self) -> None:
        """The settings a lesson turns in view, the rest behind "More settings", the buttons
        below them outside the scrolling part: never cut off, never a sideways scrollbar."""
        main = _form([("Preset", self.preset), ("Side by side", self.compare), ("L1 weight", self.l1_weight),
                      ("L1 method", self.l1_method), ("L2 weight", self.l2_weight),
                      ("Learning rate", self.lr), ("Epochs", self.epochs),
                      ("Images", self.train_images)])
        main.addRow(self.field_problem)
        extra = QWidget()
        # Labels no wider than the main form's and the boxes across both columns: the panel's
        # width fits the main form, and a wider row would cut every field off at its right.
        extra_form = _form([("Batch size", self.batch_size), ("Weight decay", self.weight_decay),
                            ("Optimizer", self.optimizer), ("Device", self.device), ("Seed", self.seed),
                            ("", self.penalize_biases), ("", self.augment), ("", self.notebook_exact),
                            ("Threshold", self.threshold)])
        extra_form.setContentsMargins(0, 0, 0, 0)
        extra.setLayout(extra_form)
        extra.hide()
        self.more.setToolTip("Batch size, weight decay, optimizer, device, seed, biases, augmentation, "
                             "notebook-exact arithmetic and the sparsity threshold")
        self.more.toggled.connect(extra.setVisible)
        box = QVBoxLayout()
        box.addLayout(main)
        box.addWidget(self.more)
        box.addWidget(extra)
        box.addStretch(1)
        group = QGroupBox("Settings")
        group.setLayout(box)
        self.form_area = QScrollArea()
        self.form_area.setWidget(group)
        self.form_area.setWidgetResizable(True)
        self.form_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.form_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.summary.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.form_area, 1)
        layout.addWidget(self.summary, 1, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.run_buttons)

    # ---- the settings model in and out ------------------------------------------------------

    def _bindings(self) -> dict[str, Binding]:
        """Each setting's input: how to read it, how to show a value in it, when it is edited."""
        def box(combo: QComboBox) -> Binding:
            return (combo.currentData, lambda v: combo.setCurrentIndex(max(combo.findData(v), 0)),
                    combo.currentIndexChanged)

        def check(tick: QCheckBox) -> Binding:
            return tick.isChecked, tick.setChecked, tick.toggled

        def number(field: LogInput | IntSpinBox) -> Binding:
            return field.value, field.setValue, field.valueChanged

        return {
            "preset": box(self.preset), "compare": check(self.compare), "l1_weight": number(self.l1_weight),
            "l1_method": box(self.l1_method), "l2_weight": number(self.l2_weight), "lr": number(self.lr),
            "epochs": number(self.epochs), "train_images": number(self.train_images),
            "batch_size": number(self.batch_size), "weight_decay": number(self.weight_decay),
            "optimizer": box(self.optimizer), "device": box(self.device), "seed": number(self.seed),
            "penalize_biases": check(self.penalize_biases), "augment": check(self.augment),
            "notebook_exact": check(self.notebook_exact), "threshold": number(self.threshold),
        }

    def _bind(self) -> None:
        bindings = self._bindings()
        assert set(bindings) == set(FIELDS), "every setting has its input"
        for name, (read, show, edited) in bindings.items():
            edited.connect(lambda *_, n=name, r=read: self._edited(n, r()))
            self.settings.events[name].connect(lambda value, s=show: self._show(s, value))
            self._show(show, self.settings[name])
        for name in FIELDS:
            self.settings.events[name].connect(lambda _: self._summarize())
        for name in ("batch_size", "train_images"):
            self.settings.events[name].connect(lambda _: self._check_batch())
        for field in (self.epochs, self.batch_size, self.train_images, self.seed):
            field.rejected.connect(self.inputRejected)
        for log_field in (self.l1_weight, self.l2_weight, self.lr, self.weight_decay, self.threshold):
            log_field.spin_box.rejected.connect(self.inputRejected)
        self._summarize()

    def _edited(self, name: str, value: Any) -> None:
        if self._showing:
            return
        try:
            if name == "preset":
                self.settings.choose_preset(value)
            else:
                self.settings.set(name, value)
        except ValueError as exc:  # what the input took but a run cannot: said, and shown back
            self.inputRejected.emit(str(exc))
            self._show(self._bindings()[name][1], self.settings[name])

    def _show(self, show: Callable[[Any], None], value: Any) -> None:
        self._showing = True
        try:
            show(value)
        finally:
            self._showing = False

    def set_presenting(self, on: bool) -> None:
        """On a projector the form gives way to the settings in short, large enough to read."""
        self.form_area.setVisible(not on)
        self.summary.setVisible(on)

    def _summarize(self) -> None:
        v = self.settings.values
        lines = [f"Preset: {self.preset.currentText()}"]
        if v.compare:
            lines.append("Side by side: none, L2, L1")
        lines += [f"L1 weight {short(v.l1_weight)}, {v.l1_method}", f"L2 weight {short(v.l2_weight)}",
                  f"Learning rate {short(v.lr)}", f"{v.epochs} epoch(s), {v.train_images:,} images"]
        self.summary.setText("\n".join(lines))

    def _check_batch(self) -> None:
        """Flag both fields, and say why under them, while the batch outgrows the images."""
        problem = batch_problem(self.settings.values)
        for field in (self.batch_size, self.train_images):
            field.setStyleSheet("QSpinBox { border: 2px solid #d9534f; }" if problem else "")
        self.field_problem.setText(problem)
        self.field_problem.setVisible(bool(problem))

    def set_devices(self, devices: list, auto_label: str) -> bool:
        """Offer `auto` (naming what it picks) and each device that exists here.

        Returns False when the device chosen before (e.g. restored) is not among them; the
        setting is then Auto."""
        wanted = self.settings["device"]
        self._showing = True
        try:
            self.device.clear()
            self.device.addItem(f"Auto ({auto_label})", "auto")
            for info in devices:
                self.device.addItem(info.label, info.name)
        finally:
            self._showing = False
        found = self.device.findData(wanted) >= 0
        self.settings.set("device", wanted if found else "auto")
        self._show(self._bindings()["device"][1], self.settings["device"])
        return found

    # ---- run state --------------------------------------------------------------------------

    def set_enabled(self, can: Enabled, paused: bool) -> None:
        """Enable what the session allows now (core.app.session.enabled decides)."""
        self.run_buttons.set_enabled(can, paused)
        for widget in (self.preset, self.epochs, self.batch_size, self.train_images,
                       self.optimizer, self.device, self.seed, self.penalize_biases, self.augment,
                       self.notebook_exact, self.l1_method, self.weight_decay, self.compare, self.threshold):
            widget.setEnabled(can.settings)
        self.l1_weight.setEnabled(can.live_l1)
        self.l2_weight.setEnabled(can.live_l2)
        self.lr.setEnabled(can.live_lr)


def _form(rows: list[tuple[str, QWidget]]) -> QFormLayout:
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    for label, widget in rows:
        if label:
            form.addRow(plain_label(label), widget)
        else:
            form.addRow(widget)
    return form
