"""The left panel: presets, hyperparameter inputs and the run buttons."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Signal, Slot
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
from ..core.training.config import COMPARED_PRESETS, MNIST_TRAIN_SIZE, PRESETS, TrainConfig
from .inputs import Expander, IntSpinBox, LogInput, plain_label

PRESET_ITEMS = [
    ("Custom", None, "Your own settings."),
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
        self.actions = {name: QAction(text, self) for name, text, _, _ in BUTTONS}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        for i, (name, text, key, tip) in enumerate(BUTTONS):
            button, action = self.buttons[name], self.actions[name]
            button.setObjectName(name)
            button.setAccessibleName(text)
            button.setToolTip(f"{tip} ({key})")
            action.setShortcut(QKeySequence(key))
            action.setToolTip(tip)
            action.triggered.connect(button.click)
            grid.addWidget(button, i // 2, i % 2)
        self.step_many = QAction("Step 50 mini-batches", self)
        self.step_many.setShortcut(QKeySequence("Shift+F7"))
        self.actions["stepManyAction"] = self.step_many

    def render(self, can: Enabled, paused: bool) -> None:
        for name, on in (("startButton", can.start), ("pauseButton", can.pause),
                         ("stopButton", can.stop), ("resetButton", can.reset), ("stepButton", can.step)):
            self.buttons[name].setEnabled(on)
            self.actions[name].setEnabled(on)
        pause_text = "Resume" if paused else "Pause"
        self.buttons["pauseButton"].setText(pause_text)
        self.actions["pauseButton"].setText(pause_text)
        self.step_many.setEnabled(can.step)


class ControlsPanel(QWidget):
    """Builds a TrainConfig from its inputs; says nothing about runs except through signals."""

    l1WeightChanged = Signal(float)
    l2WeightChanged = Signal(float)
    learningRateChanged = Signal(float)
    thresholdChanged = Signal(float)
    l1MethodChanged = Signal(str)
    inputRejected = Signal(str)  # typed text a field did not take, and why

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
        self.buttons, self.actions = self.run_buttons.buttons, self.run_buttons.actions
        self.step_many = self.run_buttons.step_many
        self.more = Expander("More settings", "moreSettingsButton")  # what a demo seldom needs
        self.summary = plain_label()  # the settings in short, in place of the form on a projector
        self.summary.setObjectName("settingsSummary")
        self.summary.setWordWrap(True)
        self._applying = False
        self._describe_inputs()
        self._lay_out()
        # A first start shows a useful run: the balanced preset, not the notebook's collapse.
        self.preset.setCurrentIndex(self.preset.findData("balanced"))
        self.apply_config(PRESETS["balanced"])
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.l1_weight.valueChanged.connect(self.l1WeightChanged)
        self.l2_weight.valueChanged.connect(self.l2WeightChanged)
        self.lr.valueChanged.connect(self.learningRateChanged)
        self.threshold.valueChanged.connect(self.thresholdChanged)
        self.l1_method.currentIndexChanged.connect(lambda: self.l1MethodChanged.emit(self.l1_method.currentData()))
        for signal in self.edit_signals():
            signal.connect(self._edited)
        for field in (self.epochs, self.batch_size, self.train_images, self.seed):
            field.rejected.connect(self.inputRejected)
        for field in (self.l1_weight, self.l2_weight, self.lr, self.weight_decay, self.threshold):
            field.spin_box.rejected.connect(self.inputRejected)
        self.batch_size.valueChanged.connect(self._check_batch)
        self.train_images.valueChanged.connect(self._check_batch)
        for signal in [*self.edit_signals(), self.preset.currentIndexChanged, self.compare.toggled]:
            signal.connect(self._summarize)
        self._summarize()

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
        extra.setLayout(_form([("Batch size", self.batch_size), ("Weight decay", self.weight_decay),
                               ("Optimizer", self.optimizer), ("Device", self.device), ("Seed", self.seed),
                               ("", self.penalize_biases), ("", self.augment),
                               ("Sparsity threshold", self.threshold)]))
        extra.layout().setContentsMargins(0, 0, 0, 0)
        extra.hide()
        self.more.setToolTip("Batch size, weight decay, optimizer, device, seed, biases, augmentation "
                             "and the sparsity threshold")
        self.more.toggled.connect(extra.setVisible)
        box = QVBoxLayout()
        box.addLayout(main)
        box.addWidget(self.more)
        box.addWidget(extra)
        box.addStretch(1)
        settings = QGroupBox("Settings")
        settings.setLayout(box)
        self.scroll = QScrollArea()
        self.scroll.setWidget(settings)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.summary.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll, 1)
        layout.addWidget(self.summary, 1, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.run_buttons)

    def set_presenting(self, on: bool) -> None:
        """On a projector the form gives way to the settings in short, large enough to read."""
        self.scroll.setVisible(not on)
        self.summary.setVisible(on)

    @Slot()
    def _summarize(self) -> None:
        lines = [f"Preset: {self.preset.currentText()}"]
        if self.compare.isChecked():
            lines.append("Side by side: none, L2, L1")
        lines += [f"L1 weight {short(self.l1_weight.value())}, {self.l1_method.currentData()}",
                  f"L2 weight {short(self.l2_weight.value())}",
                  f"Learning rate {short(self.lr.value())}",
                  f"{self.epochs.value()} epoch(s), {self.train_images.value():,} images"]
        self.summary.setText("\n".join(lines))

    def edit_signals(self) -> list:
        return [
            self.l1_weight.valueChanged, self.l2_weight.valueChanged, self.lr.valueChanged,
            self.weight_decay.valueChanged, self.epochs.valueChanged,
            self.batch_size.valueChanged, self.train_images.valueChanged,
            self.optimizer.currentIndexChanged, self.seed.valueChanged,
            self.penalize_biases.toggled, self.augment.toggled, self.l1_method.currentIndexChanged,
            self.compare.toggled,
        ]

    # ---- config in and out ----------------------------------------------------------------

    def config(self) -> TrainConfig:
        """The settings as a TrainConfig; raises ValueError naming the fields or the setting."""
        if problem := self._batch_problem():
            raise ValueError(problem)
        images = self.train_images.value()
        return TrainConfig(
            l1_weight=self.l1_weight.value(),
            l2_weight=self.l2_weight.value(),
            lr=self.lr.value(),
            weight_decay=self.weight_decay.value(),
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            train_subset=None if images >= MNIST_TRAIN_SIZE else images,
            optimizer=self.optimizer.currentData(),
            device=self.device.currentData(),
            seed=self.seed.value(),
            penalize_biases=self.penalize_biases.isChecked(),
            augment=self.augment.isChecked(),
            l1_method=self.l1_method.currentData(),
            l1_threshold=self.threshold.value(),
        )

    @Slot(str)
    def set_l1_method(self, method: str) -> None:
        self.l1_method.setCurrentIndex(self.l1_method.findData(method))

    def comparing(self) -> bool:
        """Whether Start trains the three models side by side."""
        return self.compare.isChecked()

    def apply_config(self, config: TrainConfig, compare: bool = False) -> None:
        """Fill the inputs (the device is kept: presets do not choose hardware)."""
        values = {key: getattr(config, key) for key in self._fields() if key not in ("train_images", "compare")}
        self._set_values({**values, "train_images": config.train_size, "compare": compare})

    def _fields(self) -> dict[str, tuple]:
        """Each persisted input: key (a TrainConfig field where there is one), getter, setter."""
        def box(combo: QComboBox) -> tuple:
            return combo.currentData, lambda v: combo.setCurrentIndex(max(combo.findData(v), 0))

        return {
            "l1_weight": (self.l1_weight.value, self.l1_weight.setValue),
            "l2_weight": (self.l2_weight.value, self.l2_weight.setValue),
            "lr": (self.lr.value, self.lr.setValue),
            "weight_decay": (self.weight_decay.value, self.weight_decay.setValue),
            "epochs": (self.epochs.value, self.epochs.setValue),
            "batch_size": (self.batch_size.value, self.batch_size.setValue),
            "train_images": (self.train_images.value, self.train_images.setValue),
            "optimizer": box(self.optimizer),
            "seed": (self.seed.value, self.seed.setValue),
            "penalize_biases": (self.penalize_biases.isChecked, self.penalize_biases.setChecked),
            "augment": (self.augment.isChecked, self.augment.setChecked),
            "l1_method": box(self.l1_method),
            "l1_threshold": (self.threshold.value, self.threshold.setValue),
            "compare": (self.compare.isChecked, self.compare.setChecked),
        }

    def _set_values(self, values: dict[str, object]) -> None:
        self._applying = True  # not a user's edit: the preset stays as it is
        try:
            fields = self._fields()
            for key, value in values.items():
                fields[key][1](value)
        finally:
            self._applying = False

    def _batch_problem(self) -> str:
        batch, images = self.batch_size.value(), self.train_images.value()
        if batch <= images:
            return ""
        return (f"Batch size {batch:,} is larger than the {images:,} training images: "
                "lower the batch size or use more images.")

    @Slot()
    def _check_batch(self) -> None:
        """Flag both fields, and say why under them, while the batch outgrows the images."""
        problem = self._batch_problem()
        for field in (self.batch_size, self.train_images):
            field.setStyleSheet("QSpinBox { border: 2px solid #d9534f; }" if problem else "")
        self.field_problem.setText(problem)
        self.field_problem.setVisible(bool(problem))

    @Slot(int)
    def _preset_chosen(self, index: int) -> None:
        key = self.preset.itemData(index)
        if key is not None:
            self.apply_config(PRESETS[key], compare=key in COMPARED_PRESETS)

    @Slot()
    def _edited(self) -> None:
        if not self._applying:
            self.preset.blockSignals(True)
            self.preset.setCurrentIndex(0)  # "Custom"
            self.preset.blockSignals(False)

    def set_devices(self, devices: list, auto_label: str) -> bool:
        """Offer `auto` (naming what it picks) and each device that exists here.

        Returns False when the device chosen before (e.g. restored) is not among them."""
        wanted = self.device.currentData()
        self.device.clear()
        self.device.addItem(f"Auto ({auto_label})", "auto")
        for info in devices:
            self.device.addItem(info.label, info.name)
        index = self.device.findData(wanted)
        self.device.setCurrentIndex(max(index, 0))
        return index >= 0

    # ---- run state --------------------------------------------------------------------------

    def render(self, can: Enabled, paused: bool) -> None:
        """Enable what the session allows now (core.session.enabled decides)."""
        self.run_buttons.render(can, paused)
        for widget in (self.preset, self.epochs, self.batch_size, self.train_images,
                       self.optimizer, self.device, self.seed, self.penalize_biases, self.augment,
                       self.l1_method, self.weight_decay, self.compare):
            widget.setEnabled(can.settings)
        self.l1_weight.setEnabled(can.live_l1)
        self.l2_weight.setEnabled(can.live_l1)
        self.lr.setEnabled(can.live_lr)

    # ---- persistence ------------------------------------------------------------------------

    def save(self, settings: QSettings) -> None:
        settings.setValue("controls/preset", self.preset.currentIndex())
        settings.setValue("controls/device", self.device.currentData())
        for key, value in self.config_values().items():
            settings.setValue(f"controls/{key}", value)

    def config_values(self) -> dict[str, object]:
        return {key: get() for key, (get, _) in self._fields().items()}

    def restore(self, settings: QSettings) -> None:
        current = self.config_values()
        stored = {key: settings.value(f"controls/{key}") for key in current}
        # An ini file gives strings back: each value takes the type of the input it fills.
        self._set_values({key: _typed(value, type(current[key]))
                          for key, value in stored.items() if value is not None})
        device = settings.value("controls/device")
        if device is not None:
            if self.device.findData(device) < 0:
                self.device.addItem(str(device), device)  # checked against the hardware later
            self.device.setCurrentIndex(self.device.findData(device))
        preset = settings.value("controls/preset")
        if preset is not None:  # a first start keeps the preset chosen in __init__
            self.preset.blockSignals(True)
            self.preset.setCurrentIndex(int(preset))
            self.preset.blockSignals(False)


def _form(rows: list[tuple[str, QWidget]]) -> QFormLayout:
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    for label, widget in rows:
        form.addRow(plain_label(label), widget)
    return form


def _typed(value: object, kind: type) -> object:
    if kind is bool:
        return str(value).lower() == "true"
    return kind(value)
