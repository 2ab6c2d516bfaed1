"""The live sparsity readout: how many weights are near zero and exactly zero, for the current
model or, side by side, for each model of a comparison; and why only one L1 method gives zeros.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ..core.app.session import CurrentModel, Session
from ..core.training.sparsity import SparsityReport, sparsity
from .inputs import plain_label
from .plots import line_colour

BAR_SCALE = 1000
PRESENTING_SCALE = 1.5  # as presentation mode scales the application's text
WIDTH = {False: 210, True: 300}  # the panel's width, in presentation mode or not
EXACT_ZEROS = (
    "Exactly zero needs the proximal method. Penalty (as in the notebook) pushes every weight by "
    "the same small step towards zero and past it, so weights jitter around zero but are never "
    "exactly 0. Proximal shrinks each weight after the step and stops at zero: it stays there "
    "until the data pulls it back. L2 only shrinks weights in proportion to their size, so they "
    "get small and never reach zero.")


class SparsityReadout(QGroupBox):
    """What share of weights is near zero, and how many are exactly zero: one large figure for
    one model, a row per model for a comparison. The session computes nothing here; this view
    counts from the models it shows."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__("Sparsity", parent)
        self.session = session
        self.setObjectName("sparsityReadout")
        self.setAccessibleName("Sparsity readout")
        self.setToolTip("Share of weights whose magnitude is at or below the threshold, and how many "
                        "are exactly zero. Biases are not counted.")
        self.setFixedWidth(WIDTH[False])
        self.figure = plain_label("—")
        self.figure.setObjectName("sparsityFigure")
        self.figure.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.figure.font()
        font.setPointSize(30)
        font.setBold(True)
        self.figure.setFont(font)
        self.caption = plain_label("of weights with |w| ≤ 0.001")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)  # "of 52,544 weights with |w| ≤ 1e-05" outgrows the panel
        self.zeros = plain_label("")
        self.zeros.setObjectName("exactZeros")
        self.zeros.setAlignment(Qt.AlignmentFlag.AlignCenter)
        bold = self.zeros.font()
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.25)
        self.zeros.setFont(bold)
        self._sizes = {self.figure: self.figure.font().pointSizeF(), self.zeros: self.zeros.font().pointSizeF()}
        self._rows = QGridLayout()
        self._bars: list[tuple[QLabel, QProgressBar, QLabel]] = []
        self.compacted = plain_label("")
        self.compacted.setObjectName("compactedSize")
        self.compacted.setWordWrap(True)
        self.compacted.setToolTip("The current model with the input pixels and hidden units that cannot "
                                  "change an output taken out: the same predictions from fewer numbers "
                                  "(File → Export ONNX… writes it)")
        self.hint = plain_label(EXACT_ZEROS)
        self.hint.setObjectName("exactZerosHint")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #555;")
        self.methods = QButtonGroup(self)
        switch = QVBoxLayout()
        switch.addWidget(plain_label("L1 method:"))
        for key, text in (("penalty", "Penalty: jitters near 0"), ("proximal", "Proximal: exact zeros")):
            button = QRadioButton(text)
            button.setObjectName(f"{key}MethodRadio")
            button.setProperty("method", key)
            self.methods.addButton(button)
            switch.addWidget(button)
        self.methods.buttonClicked.connect(lambda button: session.settings.set("l1_method", button.property("method")))
        layout = QVBoxLayout(self)
        layout.addWidget(self.figure)
        layout.addWidget(self.caption)
        layout.addLayout(self._rows)
        layout.addWidget(self.zeros)
        layout.addWidget(self.compacted)
        layout.addSpacing(12)
        layout.addWidget(self.hint)
        layout.addLayout(switch)
        layout.addStretch(1)
        session.events.model.connect(self._refresh)
        session.events.model.connect(self._show_compacted)
        session.events.evaluation.connect(self._show_compacted)
        session.settings.events["threshold"].connect(self._refresh)
        # The switch and the settings' L1 method are one setting.
        session.settings.events["l1_method"].connect(self.set_method)
        self.set_method(session.settings["l1_method"])

    def _show_compacted(self, model: CurrentModel | None) -> None:
        """What the current model compacts to, once measured (with its evaluation)."""
        small = model.compacted if model is not None else None
        if small is None:
            self.compacted.setText("")
        elif small.sizes == small.original:
            self.compacted.setText("No input pixel or unit is idle yet: nothing to compact")
        else:
            self.compacted.setText(f"Compacts to {small.describe().split(' -> ')[1]}")

    def set_method(self, method: str) -> None:
        """Show the L1 method the settings hold (the switch and the settings stay as one)."""
        for button in self.methods.buttons():
            button.setChecked(button.property("method") == method)

    def set_enabled_method(self, on: bool) -> None:
        for button in self.methods.buttons():
            button.setEnabled(on)

    def set_presenting(self, on: bool) -> None:
        """Wider, and the figures (whose sizes are their own, not the application's) larger."""
        self.setFixedWidth(WIDTH[on])
        self.hint.setVisible(not on)  # a paragraph is for the teacher, not for the back row
        for label, size in self._sizes.items():
            font = label.font()
            font.setPointSizeF(size * (PRESENTING_SCALE if on else 1.0))
            label.setFont(font)
        for _, _, count in self._bars:
            count.setFont(self.zeros.font())

    def _refresh(self, *_: object) -> None:
        models = self.session.shown_models()
        threshold = self.session.threshold
        if not models:
            self.clear()
        elif len(models) == 1:
            self.show_report(sparsity(models[0].weights(), threshold))
        else:
            self.show_models([(model, sparsity(model.weights(), threshold)) for model in models])

    def show_report(self, report: SparsityReport) -> None:
        """One model: the share near zero large, a bar per layer, the exact zeros."""
        self.figure.show()
        self.caption.setText(f"of {report.size:,} weights with |w| ≤ {report.threshold:g}")
        self.figure.setText(f"{report.fraction:.1%}")
        self.figure.setAccessibleName(f"{report.fraction:.1%} of weights near zero")
        self.zeros.setText(f"{report.exact_zeros:,} exactly zero")
        self._ensure_rows(len(report.layers))
        for (label, bar, count), layer in zip(self._bars, report.layers):
            out_features, in_features = layer.shape
            label.setText(f"{in_features} → {out_features}")
            label.setStyleSheet("")
            count.hide()
            self._fill(bar, layer.fraction, f"Layer {in_features} to {out_features}")

    def show_models(self, shown: list[tuple[CurrentModel, SparsityReport]]) -> None:
        """A comparison: each model's exact zeros in bold and its share near zero as a bar."""
        self.figure.hide()
        threshold = shown[0][1].threshold
        self.caption.setText(f"near zero: |w| ≤ {threshold:g}, of {shown[0][1].size:,} weights each")
        self.zeros.setText("")
        self._ensure_rows(len(shown))
        for (label, bar, count), (model, report) in zip(self._bars, shown):
            colour = line_colour(model.colour or 0)
            label.setText(f"■ {model.trained_with}")
            label.setStyleSheet(f"color: {colour}; font-weight: bold;")
            count.setText(f"{report.exact_zeros:,} exactly zero")
            count.setAccessibleName(f"{model.trained_with}: {report.exact_zeros:,} weights exactly zero")
            count.show()
            self._fill(bar, report.fraction, model.trained_with)

    def _fill(self, bar: QProgressBar, fraction: float, what: str) -> None:
        bar.setValue(round(fraction * BAR_SCALE))
        bar.setFormat(f"{fraction:.1%} near 0")
        bar.setAccessibleName(f"{what}: {fraction:.1%} near zero")

    def clear(self) -> None:
        self.figure.show()
        self.figure.setText("—")
        self.zeros.setText("")
        self._ensure_rows(0)

    def _ensure_rows(self, count: int) -> None:
        while len(self._bars) > count:
            for widget in self._bars.pop():
                widget.deleteLater()
        while len(self._bars) < count:
            label, bar, zeros = plain_label(), QProgressBar(), plain_label()
            label.setWordWrap(True)
            zeros.setFont(self.zeros.font())  # the lesson's number: bold, larger than the text
            bar.setRange(0, BAR_SCALE)
            bar.setTextVisible(True)
            zeros.hide()
            row = 3 * len(self._bars)
            self._rows.addWidget(label, row, 0)
            self._rows.addWidget(zeros, row + 1, 0)
            self._rows.addWidget(bar, row + 2, 0)
            self._bars.append((label, bar, zeros))
