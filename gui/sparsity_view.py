"""The live sparsity readout: one large figure, a bar per layer, the count of exact zeros."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QProgressBar, QVBoxLayout, QWidget

from l1_trainer.core.session import Session
from l1_trainer.core.sparsity import SparsityReport
from l1_trainer.gui.inputs import plain_label

BAR_SCALE = 1000


class SparsityReadout(QGroupBox):
    """The current model's sparsity at the chosen threshold (the session computes it)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__("Sparsity", parent)
        self.session = session
        self.setObjectName("sparsityReadout")
        self.setAccessibleName("Sparsity readout")
        self.setToolTip(
            "Share of weights whose magnitude is at or below the threshold: the weights L1 has "
            "pushed to (almost) zero. Biases are not counted."
        )
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
        self.zeros.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint = plain_label(
            "L1 pulls every weight towards zero; the data holds up the ones it needs. Watch the "
            "first layer (784 → 64): the pixels at the image borders carry no ink, so their "
            "weights are the first to go. Too large an L1 weight takes them all, and the "
            "network can only guess."
        )
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #555;")
        self._layers = QGridLayout()
        self._bars: list[tuple[QLabel, QProgressBar]] = []
        layout = QVBoxLayout(self)
        layout.addWidget(self.figure)
        layout.addWidget(self.caption)
        layout.addLayout(self._layers)
        layout.addWidget(self.zeros)
        layout.addSpacing(16)
        layout.addWidget(self.hint)
        layout.addStretch(1)
        session.events.model.connect(self._refresh)
        session.events.threshold.connect(self._refresh)

    def _refresh(self, *_: object) -> None:
        report = self.session.sparsity()
        if report is None:
            self.clear()
        else:
            self.show_report(report)

    def show_report(self, report: SparsityReport) -> None:
        self.figure.setText(f"{report.fraction:.1%}")
        self.figure.setAccessibleName(f"{report.fraction:.1%} of weights near zero")
        self.caption.setText(f"of {report.size:,} weights with |w| ≤ {report.threshold:g}")
        self.zeros.setText(f"{report.exact_zeros:,} exactly zero")
        self._ensure_rows(len(report.layers))
        for (label, bar), layer in zip(self._bars, report.layers):
            out_features, in_features = layer.shape
            label.setText(f"{in_features} → {out_features}")
            bar.setValue(round(layer.fraction * BAR_SCALE))
            bar.setFormat(f"{layer.fraction:.1%}")
            bar.setAccessibleName(f"Layer {in_features} to {out_features}: {layer.fraction:.1%} near zero")

    def clear(self) -> None:
        self.figure.setText("—")
        self.zeros.setText("")
        self._ensure_rows(0)

    def _ensure_rows(self, count: int) -> None:
        while len(self._bars) > count:
            label, bar = self._bars.pop()
            label.deleteLater()
            bar.deleteLater()
        while len(self._bars) < count:
            label, bar = plain_label(), QProgressBar()
            bar.setRange(0, BAR_SCALE)
            bar.setTextVisible(True)
            row = len(self._bars)
            self._layers.addWidget(label, row, 0)
            self._layers.addWidget(bar, row, 1)
            self._bars.append((label, bar))
