"""The pruning curve: test accuracy as the smallest weights are removed, one curve per click."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from ..core.app.session import Session
from .inputs import plain_label
from .plots import line_colour, titled_plot

SHARE_AXIS = "weights at zero after pruning (%)"
SIZE_AXIS = "weights left after compaction (thousands)"


class PruningView(QWidget):
    """The session's pruning curves, one per click of Prune."""

    pruneRequested = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.prune_button = QPushButton("Prune the current model")
        self.prune_button.setObjectName("pruneButton")
        self.prune_button.setAccessibleName("Prune the current model")
        self.prune_button.setToolTip(
            "Zero the smallest weights (0% to 99% of them) and measure test accuracy each time. "
            "An L1-trained net keeps its accuracy much longer than an unregularized one.")
        self.prune_button.setEnabled(False)
        self.clear_button = QPushButton("Clear curves")
        self.clear_button.setObjectName("clearPruningButton")
        self.clear_button.setToolTip("Remove every pruning curve from the plot")
        self.plot = titled_plot("pruningPlot", "Test accuracy after magnitude pruning",
                                SHARE_AXIS, "test accuracy (%)")
        self.by_size = QCheckBox("Against size after compaction")
        self.by_size.setObjectName("pruningBySizeCheck")
        self.by_size.setToolTip("The x axis as the weights left once the pruned network is compacted "
                                "(input pixels and units with nothing left to do taken out)")
        self.by_size.toggled.connect(self._refresh)
        item = self.plot.plotItem
        item.addLegend(offset=(10, -10), labelTextSize="8pt")  # bottom left: empty there
        self.plot.setXRange(0, 100)
        self.plot.setYRange(0, 100)
        self.curves: list[pg.PlotDataItem] = []
        self.clear_button.clicked.connect(session.clear_pruning)
        self.prune_button.clicked.connect(self.pruneRequested)
        session.events.pruning.connect(self._refresh)
        buttons = QHBoxLayout()
        buttons.addWidget(self.prune_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        buttons.addWidget(self.by_size)
        note = plain_label("Each click adds a curve for the current model; earlier ones stay to compare.")
        note.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(note)
        layout.addWidget(self.plot, 1)

    def _refresh(self) -> None:
        for curve in self.curves:
            self.plot.plotItem.removeItem(curve)
            self.plot.plotItem.legend.removeItem(curve)
        self.curves.clear()
        by_size = self.by_size.isChecked()
        self.plot.plotItem.setLabel("bottom", SIZE_AXIS if by_size else SHARE_AXIS)
        self.plot.setXRange(0, 100) if not by_size else self.plot.enableAutoRange(axis="x")
        for i, (label, points) in enumerate(self.session.pruning):
            colour = line_colour(i)
            x = np.array([p.compacted.weight_count / 1000 if by_size else 100 * p.removed for p in points])
            y = np.array([100 * p.accuracy for p in points])
            self.curves.append(self.plot.plotItem.plot(
                x, y, pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                symbolBrush=colour, name=html.escape(label)))  # legends render HTML; a file name may hold some
