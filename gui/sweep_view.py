"""The Sweep tab: many L1 weights trained at once, the accuracy/sparsity frontier as it forms.

It renders the session's latest sweep record: per-model losses, the frontier after each epoch,
a table with each model's status, and the sweep's own progress.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QFontMetrics, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.app.numbers import short
from ..core.app.records import RunRecord
from ..core.app.session import Session
from ..core.training.events import EpochMetrics, Event, Steps
from .inputs import named_button, plain_label
from .plots import Series, line_colour, titled_plot
from .redraw import SWEEP_MS, Redraw
from .smoothing import EmaState, smooth
from .status import duration

DEFAULT_WEIGHTS = "0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2"
COLUMNS = ("L1", "L2", "status", "accuracy", "sparsity", "exact 0s")
LOSS_SMOOTHING = 0.95


# Where a label may go around its point: pyqtgraph anchors, the label's corner on the point.
CANDIDATES = ((0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0))  # above right, below right, ...
LOG_TICKS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)  # sparsity (%) on the log axis


def place_labels(points: list[tuple[float, float]], sizes: list[tuple[float, float]],
                 bounds: tuple[float, float, float, float]) -> list[tuple[float, float] | None]:
    """Anchors for labels of `sizes` (w, h) at `points` (x, y), in pixels with y down, such that
    no two labels overlap and none leaves `bounds` (left, top, right, bottom); a label with no
    such place gets None and is not drawn (the table lists every model)."""
    placed: list[tuple[float, float, float, float]] = []
    anchors: list[tuple[float, float] | None] = []
    left, top, right, bottom = bounds
    for (x, y), (w, h) in zip(points, sizes):
        chosen = None
        for ax, ay in CANDIDATES:
            box = (x - ax * w, y - ay * h, x - ax * w + w, y - ay * h + h)
            inside = left <= box[0] and box[2] <= right and top <= box[1] and box[3] <= bottom
            if inside and not any(_overlap(box, other) for other in placed):
                chosen = (ax, ay)
                placed.append(box)
                break
        anchors.append(chosen)
    return anchors


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class SweepView(QWidget):
    runRequested = Signal(str, str)  # the L1 and the L2 weights, as typed
    stopRequested = Signal()
    openRequested = Signal(object, int)  # the sweep's RunRecord, the model's index

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.record: RunRecord | None = None
        self.weights_input = QLineEdit(DEFAULT_WEIGHTS)
        self.weights_input.setObjectName("sweepWeightsInput")
        self.weights_input.setAccessibleName("L1 weights to sweep")
        self.weights_input.setToolTip("L1 weights separated by commas; every other setting comes "
                                      "from the left panel. All are trained at once.")
        self.l2_input = QLineEdit("0")
        self.l2_input.setObjectName("sweepL2WeightsInput")
        self.l2_input.setAccessibleName("L2 weights to sweep")
        self.l2_input.setToolTip("L2 weights separated by commas: every pairing with the L1 "
                                 "weights is trained (at most 64 models in all)")
        self.run_button = named_button(
            "sweepStartButton", "Run sweep",
            "Train one model per L1 weight, all at once, with the other settings on the left", self._run)
        self.stop_button = named_button("sweepStopButton", "Stop",
                                        "Stop the sweep after the current step; results so far stay",
                                        self.stopRequested.emit)
        self.open_button = named_button(
            "sweepOpenButton", "Open selected as model",
            "Make the selected row the current model: draw panel, weights, gallery, pruning", self._open)
        self.export_button = named_button("sweepExportButton", "Export CSV…",
                                          "Write the results table to a CSV file")
        self.status = plain_label("Train one model per L1 weight, all at once, and compare them.")
        self.status.setObjectName("sweepStatus")
        self.frontier = titled_plot("sweepFrontierPlot", "Accuracy against sparsity",
                                    "sparsity (%)", "test accuracy (%)")
        self.frontier.setXRange(0, 100, padding=0.02)
        self.frontier.setYRange(0, 100, padding=0.02)  # until there are points: not 0-0.8 under "%"
        self.log_sparsity = QCheckBox("Log scale for sparsity")
        self.log_sparsity.setObjectName("sweepLogSparsityCheck")
        self.log_sparsity.setToolTip("Sparsity on a logarithmic axis: models with little sparsity "
                                     "(small L1 weights) are told apart")
        self.log_sparsity.toggled.connect(self._log_sparsity)
        self.frontier_line = self.frontier.plotItem.plot(
            pen=pg.mkPen("#1f77b4", width=1.5), symbol="o", symbolSize=8, symbolBrush="#1f77b4")
        self.labels: list[pg.TextItem] = []
        # Labels are placed in pixels: again whenever the plot's size changes (or it is shown).
        self.frontier.plotItem.vb.sigResized.connect(self._replace_labels)
        self.losses = titled_plot("sweepLossPlot", "CE per model (smoothed)", "epoch", "CE")
        self.losses.plotItem.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.loss_curves: list[pg.PlotDataItem] = []
        self._smoothed: list[tuple[Series, EmaState]] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("sweepTable")
        self.table.setAccessibleName("Sweep results")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Select a row, then open it as the current model")
        self.redraw = Redraw(self, self._draw, SWEEP_MS)
        self._lay_out()
        session.events.run_started.connect(self._started)
        session.events.run_event.connect(self._event)
        session.events.run_ended.connect(self._ended)
        session.events.runs.connect(self._history_changed)

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(plain_label("L1 weights"))
        top.addWidget(self.weights_input, 3)
        top.addWidget(plain_label("L2 weights"))
        top.addWidget(self.l2_input, 1)
        for button in (self.run_button, self.stop_button):
            top.addWidget(button)
        plots = QHBoxLayout()
        frontier = QVBoxLayout()
        frontier.addWidget(self.frontier, 1)
        frontier.addWidget(self.log_sparsity)
        plots.addLayout(frontier, 1)
        plots.addWidget(self.losses, 1)
        bottom = QVBoxLayout()
        bottom.addWidget(self.table, 1)
        side = QHBoxLayout()
        side.addWidget(self.open_button)
        side.addWidget(self.export_button)
        side.addStretch(1)
        bottom.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addLayout(plots, 3)
        layout.addLayout(bottom, 2)

    def set_enabled(self, can_start: bool, running: bool) -> None:
        self.run_button.setEnabled(can_start)
        self.stop_button.setEnabled(running)
        self.weights_input.setEnabled(can_start)
        self.l2_input.setEnabled(can_start)
        finished = self.record is not None and self.record.ended is not None
        self.open_button.setEnabled(can_start and finished)
        self.export_button.setEnabled(self.record is not None and bool(self.record.epochs or finished))

    # ---- from the session --------------------------------------------------------------------

    def _started(self, record: RunRecord) -> None:
        if not record.sweep:
            return
        self._clear()
        self.record = record
        self.loss_curves = [
            self.losses.plotItem.plot(pen=pg.mkPen(line_colour(m), width=1),
                                      name=self._name(record, m), connect="finite")
            for m in range(record.k)]
        self._smoothed = [(Series(), EmaState()) for _ in record.l1_weights]
        self.status.setText(f"Training {record.k} models at once…")
        self._fill_table(record)

    def _event(self, record: RunRecord, event: Event) -> None:
        if record is not self.record:
            return
        if isinstance(event, Steps):
            for m, (series, state) in enumerate(self._smoothed):
                values, state = smooth(event.ce[:, m], LOSS_SMOOTHING, state)
                series.extend(event.epoch, values)
                self._smoothed[m] = (series, state)
            self.redraw.mark()
        elif isinstance(event, EpochMetrics):
            self._fill_table(record)
            self._draw_frontier(record)

    def _ended(self, record: RunRecord) -> None:
        if record is not self.record:
            return
        self._fill_table(record)
        self._draw_frontier(record)
        self.redraw.mark()
        self.redraw.now()
        ended = record.ended
        assert ended is not None
        self.status.setText(f"Sweep {ended.status.value} after {ended.step:,} steps "
                            f"({ended.epochs_done} full epoch(s)): pick a row to open it as a model")

    def _history_changed(self) -> None:
        if self.record is not None and self.record not in self.session.history:
            self._clear()
            self.status.setText("Train one model per L1 weight, all at once, and compare them.")

    # ---- drawing -----------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.redraw.flush()

    def _draw(self) -> None:
        record = self.record
        if record is None:
            return
        for curve, (series, _) in zip(self.loss_curves, self._smoothed):
            curve.setData(*series.data())
        if record.ended is None:
            left = record.seconds_left()
            self.status.setText(
                f"Training {record.k} models at once: step {record.steps_done:,} of "
                f"{record.total_steps:,}, {record.samples_per_s:,.0f} samples/s"
                + (f", {duration(left)} left" if left is not None else ""))

    def _draw_frontier(self, record: RunRecord) -> None:
        measured = [(m, record.test_accuracy(m), record.sparsity(m)) for m in range(record.k)]
        points = [(m, a, s) for m, a, s in measured if a is not None and s is not None]
        shown = [m for m, _, _ in points]
        sparsity = np.array([100 * s.fraction for _, _, s in points])
        accuracy = np.array([100 * a for _, a, _ in points])
        log = self.log_sparsity.isChecked()
        xs = np.log10(np.maximum(sparsity, 1e-3)) if log else sparsity
        self.frontier_line.setData(sparsity, accuracy)
        if len(shown):
            self.frontier.setXRange(xs.min(), xs.max(), padding=0.15) if log else self.frontier.setXRange(0, 100)
            self.frontier.setYRange(accuracy.min() - 1, accuracy.max() + 1, padding=0.15)
        for label in self.labels:
            self.frontier.plotItem.removeItem(label)
        self.labels = []
        box = self.frontier.plotItem.vb
        names = [self._name(record, m) for m in shown]
        metrics = QFontMetrics(self.frontier.font())
        pixels = [box.mapViewToScene(pg.Point(x, y)) for x, y in zip(xs, accuracy)]
        area = box.sceneBoundingRect()
        anchors = place_labels([(p.x(), p.y()) for p in pixels],
                               [(metrics.horizontalAdvance(n) + 6, metrics.height() + 4) for n in names],
                               (area.left(), area.top(), area.right(), area.bottom()))
        for name, x, y, anchor in zip(names, xs, accuracy, anchors):
            if anchor is not None:
                label = pg.TextItem(name, color="#333", anchor=anchor)
                label.setPos(x, y)
                self.frontier.plotItem.addItem(label)
                self.labels.append(label)

    @Slot()
    def _replace_labels(self) -> None:
        if self.record is not None and self.record.epochs:
            self._draw_frontier(self.record)

    @Slot(bool)
    def _log_sparsity(self, on: bool) -> None:
        self.frontier.setLogMode(x=on)
        # Named ticks only: pyqtgraph's log axis labels every minor tick, and they collide.
        self.frontier.getAxis("bottom").setTicks(
            [[(np.log10(t), f"{t:g}") for t in LOG_TICKS], []] if on else None)
        if not on:
            self.frontier.setXRange(0, 100, padding=0.02)
        if self.record is not None and self.record.epochs:
            self._draw_frontier(self.record)

    def _fill_table(self, record: RunRecord) -> None:
        self.table.setRowCount(record.k)
        for m in range(record.k):
            accuracy, report = record.test_accuracy(m), record.sparsity(m)
            cells = (short(record.l1_weights[m]), short(record.l2_weights[m]), record.status(m),
                     "" if accuracy is None else f"{accuracy:.2%}",
                     f"{report.fraction:.1%}" if report else "",
                     f"{report.exact_zeros:,}" if report else "")
            for column, text in enumerate(cells):
                self.table.setItem(m, column, QTableWidgetItem(text))

    def _clear(self) -> None:
        self.record = None
        self.table.setRowCount(0)
        for label in self.labels:
            self.frontier.plotItem.removeItem(label)
        self.labels = []
        self.frontier_line.setData([], [])
        for curve in self.loss_curves:
            self.losses.plotItem.removeItem(curve)
            self.losses.plotItem.legend.removeItem(curve)
        self.loss_curves, self._smoothed = [], []

    @staticmethod
    def _name(record: RunRecord, model: int) -> str:
        """`L1 1e-4`, or with L2 in the sweep `L1 1e-4, L2 1e-3`."""
        name = f"L1 {short(record.l1_weights[model])}"
        return name + (f", L2 {short(record.l2_weights[model])}" if any(record.l2_weights) else "")

    # ---- user --------------------------------------------------------------------------------

    def selected_model(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows and self.record is not None else None

    @Slot()
    def _run(self) -> None:
        self.runRequested.emit(self.weights_input.text(), self.l2_input.text())

    @Slot()
    def _open(self) -> None:
        model = self.selected_model()
        if model is not None:
            self.openRequested.emit(self.record, model)
