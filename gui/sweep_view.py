"""The Sweep tab: many L1 weights trained at once, the accuracy/sparsity frontier as it forms."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from l1_trainer.gui.labels import short
from l1_trainer.gui.plots import RUN_COLOURS, titled_plot
from l1_trainer.gui.smoothing import smooth

DEFAULT_WEIGHTS = "0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2"
COLUMNS = ("L1 weight", "test accuracy", "sparsity", "exact zeros")
LOSS_SMOOTHING = 0.95


class SweepView(QWidget):
    runRequested = Signal(str)  # the weights as typed
    stopRequested = Signal()
    openRequested = Signal(object)  # the chosen SweepPoint

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list = []  # the latest SweepPoints
        self.weights_input = QLineEdit(DEFAULT_WEIGHTS)
        self.weights_input.setObjectName("sweepWeightsInput")
        self.weights_input.setAccessibleName("L1 weights to sweep")
        self.weights_input.setToolTip("L1 weights separated by commas; every other setting comes "
                                      "from the left panel. All are trained at once.")
        self.run_button = self._button(
            "sweepStartButton", "Run sweep", self._run,
            "Train one model per L1 weight, all at once, with the other settings on the left")
        self.stop_button = self._button("sweepStopButton", "Stop", self.stopRequested.emit,
                                        "Stop the sweep after the current step; results so far stay")
        self.open_button = self._button(
            "sweepOpenButton", "Open selected as model", self._open,
            "Make the selected row the current model: draw panel, weights, gallery, pruning")
        self.export_button = self._button("sweepExportButton", "Export CSV…", None,
                                          "Write the results table to a CSV file")
        self.status = QLabel("Train one model per L1 weight, all at once, and compare them.")
        self.frontier = titled_plot("sweepFrontierPlot", "Trade-off: accuracy against sparsity",
                                    "sparsity (% of weights |w| ≤ threshold)", "test accuracy (%)")
        item = self.frontier.plotItem
        self.frontier.setXRange(0, 108, padding=0)  # room for the last point's label
        self.frontier_line = item.plot(pen=pg.mkPen("#1f77b4", width=1.5), symbol="o",
                                       symbolSize=8, symbolBrush="#1f77b4")
        self.labels: list[pg.TextItem] = []
        self.losses = titled_plot("sweepLossPlot", "Cross-entropy per model (smoothed)", "epoch", "CE")
        self.losses.plotItem.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.loss_curves: list[pg.PlotDataItem] = []
        self._loss_x: list[np.ndarray] = []
        self._loss_y: list[np.ndarray] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("sweepTable")
        self.table.setAccessibleName("Sweep results")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("Select a row, then open it as the current model")
        self._lay_out()
        self.set_running(False)

    def _button(self, name: str, text: str, slot, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAccessibleName(text)
        button.setToolTip(tip)
        if slot is not None:
            button.clicked.connect(slot)
        return button

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("L1 weights"))
        top.addWidget(self.weights_input, 1)
        for button in (self.run_button, self.stop_button):
            top.addWidget(button)
        plots = QHBoxLayout()
        plots.addWidget(self.frontier, 1)
        plots.addWidget(self.losses, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.table, 1)
        side = QVBoxLayout()
        side.addWidget(self.open_button)
        side.addWidget(self.export_button)
        side.addStretch(1)
        bottom.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addLayout(plots, 3)
        layout.addLayout(bottom, 2)

    def set_running(self, running: bool, can_start: bool = True) -> None:
        self.run_button.setEnabled(not running and can_start)
        self.stop_button.setEnabled(running)
        self.weights_input.setEnabled(not running)
        self.open_button.setEnabled(not running and bool(self.points))
        self.export_button.setEnabled(bool(self.points))

    def start(self, weights: list[float]) -> None:
        """Empty plots and table for a new sweep of these weights."""
        self.points = []
        self.table.setRowCount(0)
        for label in self.labels:
            self.frontier.plotItem.removeItem(label)
        self.labels = []
        self.frontier_line.setData([], [])
        for curve in self.loss_curves:
            self.losses.plotItem.removeItem(curve)
            self.losses.plotItem.legend.removeItem(curve)
        self.loss_curves = [
            self.losses.plotItem.plot(pen=pg.mkPen(RUN_COLOURS[i % len(RUN_COLOURS)], width=1),
                                      name=f"L1 {short(w)}")
            for i, w in enumerate(weights)]
        self._loss_x: list[np.ndarray] = []
        self._loss_y: list[np.ndarray] = []
        self.status.setText(f"Training {len(weights)} models at once…")

    def add_epoch(self, result, steps_per_epoch: int) -> None:
        """Show one epoch's results: the frontier, the losses so far, the table."""
        self.points = result.points
        ce = result.ce.numpy()
        self._loss_x.append(result.epoch - 1 + np.arange(1, len(ce) + 1) / steps_per_epoch)
        self._loss_y.append(ce)
        x, y = np.concatenate(self._loss_x), np.concatenate(self._loss_y)
        for m, curve in enumerate(self.loss_curves):
            curve.setData(x, smooth(y[:, m], LOSS_SMOOTHING)[0])  # eight raw traces are a tangle
        shown = [p for p in self.points if not p.diverged]  # a NaN model has no accuracy to plot
        sparsity = np.array([100 * p.sparsity.fraction for p in shown])
        accuracy = np.array([100 * p.test_accuracy for p in shown])
        self.frontier_line.setData(sparsity, accuracy)
        for label in self.labels:
            self.frontier.plotItem.removeItem(label)
        self.labels = []
        for p, sx, ay in zip(shown, sparsity, accuracy):
            label = pg.TextItem(short(p.l1_weight), color="#333", anchor=(0, 1))
            label.setPos(sx, ay)
            self.frontier.plotItem.addItem(label)
            self.labels.append(label)
        self.table.setRowCount(len(self.points))
        for row, p in enumerate(self.points):
            accuracy = "diverged" if p.diverged else f"{p.test_accuracy:.2%}"
            cells = (short(p.l1_weight), accuracy, f"{p.sparsity.fraction:.1%}",
                     f"{p.sparsity.exact_zeros:,}")
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        state = "stopped in" if result.stopped else "after"
        self.status.setText(f"Results {state} epoch {result.epoch} ({result.seconds:.1f} s for the epoch)")

    def selected_point(self):
        rows = self.table.selectionModel().selectedRows()
        return self.points[rows[0].row()] if rows and self.points else None

    @Slot()
    def _run(self) -> None:
        self.runRequested.emit(self.weights_input.text())

    @Slot()
    def _open(self) -> None:
        point = self.selected_point()
        if point is not None:
            self.openRequested.emit(point)

    def rows(self) -> list[tuple]:
        return [p.row() for p in self.points]
