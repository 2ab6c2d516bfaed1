"""Live loss and accuracy curves (pyqtgraph), drawn from the session's run records.

The live run's raw values are the record's own arrays; the view keeps only what it derives (the
smoothed line). Finished runs stay as faded overlays named by the session's labels. A 5 Hz
timer redraws whatever changed, so the plots cost the same however fast steps arrive.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QIODevice, Qt, QTimer, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QHBoxLayout,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from l1_trainer.core.events import EpochMetrics, HyperparamsChanged, Steps
from l1_trainer.core.labels import short
from l1_trainer.core.records import CHANCE_CE, RunRecord
from l1_trainer.core.session import Session
from l1_trainer.gui.inputs import plain_label
from l1_trainer.gui.smoothing import EmaState, smooth

# 5 Hz: a frame holds the GIL while it paints (1.5 px lines take 2 ms a plot), and the training
# thread waits for it between kernels; 10 Hz cost training 3-13 points more (bench_gui.py).
REDRAW_MS = 200
LINE_WIDTH = 1.5  # the live run's smoothed lines; presentation mode scales it
RUN_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


TITLE_PT = 10


def scale_text(widget: pg.PlotWidget, factor: float) -> None:
    """The plot's title and tick labels at `factor` times their normal size (presentation mode)."""
    item = widget.plotItem
    item.setTitle(item.titleLabel.text, size=f"{TITLE_PT * factor:g}pt")
    font = QFont()
    font.setPointSizeF(font.pointSizeF() * factor)
    for axis in ("left", "bottom"):
        item.getAxis(axis).setStyle(tickFont=font)
        item.getAxis(axis).label.setFont(font)


def titled_plot(name: str, title: str, bottom: str, left: str) -> pg.PlotWidget:
    """A white plot with a title, axis labels, a faint grid and cached axes, named for tests
    and screen readers."""
    widget = pg.PlotWidget(background="w")
    widget.setObjectName(name)
    widget.setAccessibleName(title)
    item = widget.plotItem
    item.setTitle(title, size=f"{TITLE_PT}pt")
    item.setLabel("bottom", bottom)
    item.setLabel("left", left)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setMenuEnabled(False)
    for axis in ("left", "bottom"):
        # The grid makes each axis span the plot, so every curve update repainted its tick
        # text; a pixmap cache turns that into a blit.
        item.getAxis(axis).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        item.getAxis(axis).enableAutoSIPrefix(False)
    return widget


def probability_chart(name: str, accessible: str) -> tuple[pg.PlotWidget, pg.BarGraphItem]:
    """A fixed bar chart of ten probabilities, digits 0-9 along the bottom."""
    chart = pg.PlotWidget(background="w")
    chart.setObjectName(name)
    chart.setAccessibleName(accessible)
    chart.setMouseEnabled(False, False)
    chart.setMenuEnabled(False)
    chart.setYRange(0, 1, padding=0.02)
    chart.setXRange(-0.6, 9.6, padding=0)
    chart.getAxis("bottom").setTicks([[(i, str(i)) for i in range(10)]])
    bars = pg.BarGraphItem(x=np.arange(10), height=np.zeros(10), width=0.7, brush="#1f77b4")
    chart.addItem(bars)
    return chart, bars


def run_colour(number: int) -> str:
    return RUN_COLOURS[(number - 1) % len(RUN_COLOURS)]


class Series:
    """x/y float buffers that double when full (never np.append, which copies every call)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.x = np.empty(capacity)
        self.y = np.empty(capacity)
        self.n = 0

    def extend(self, xs: np.ndarray, ys: np.ndarray) -> None:
        end = self.n + len(xs)
        if end > len(self.x):
            size = max(end, 2 * len(self.x))
            self.x = np.resize(self.x, size)
            self.y = np.resize(self.y, size)
        self.x[self.n : end] = xs
        self.y[self.n : end] = ys
        self.n = end

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.n], self.y[: self.n]


class LiveCurve:
    """One metric of the live run: the record's raw values faint, the smoothed line on top."""

    def __init__(self, plot: pg.PlotItem, colour: str, weight: float, width: float = 1.5,
                 dashed: bool = False) -> None:
        self.smoothed, self.weight, self.state = Series(), weight, EmaState()
        self.raw_x = self.raw_y = np.empty(0)
        self.peak = 0.0  # the largest value so far, for a y range that moves only now and then
        self.colour, self.style = colour, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
        faint = pg.mkColor(colour)
        faint.setAlpha(35)  # thousands of overlapping steps add up; the smoothed line must win
        self.raw_item = plot.plot(pen=pg.mkPen(faint, width=1, style=self.style), skipFiniteCheck=True)
        self.line_item = plot.plot(skipFiniteCheck=True)
        self.set_width(width)
        for item in (self.raw_item, self.line_item):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)

    def set_width(self, width: float) -> None:
        self.line_item.setPen(pg.mkPen(self.colour, width=width, style=self.style))

    def follow(self, x: np.ndarray, y: np.ndarray) -> None:
        """The record's arrays so far; only the values not seen yet are smoothed."""
        new = slice(self.smoothed.n, len(y))
        values, self.state = smooth(y[new], self.weight, self.state)
        self.smoothed.extend(x[new], values)
        self.raw_x, self.raw_y = x, y
        if len(values):
            self.peak = max(self.peak, float(np.max(y[new])))

    def set_weight(self, weight: float) -> None:
        self.weight, self.state, self.smoothed = weight, EmaState(), Series(max(len(self.raw_y), 16))
        self.follow(self.raw_x, self.raw_y)

    def redraw(self) -> None:
        self.raw_item.setData(self.raw_x, self.raw_y)
        self.line_item.setData(*self.smoothed.data())

    def remove(self, plot: pg.PlotItem) -> None:
        plot.removeItem(self.raw_item)
        plot.removeItem(self.line_item)


class LossPlots(QWidget):
    """Cross-entropy, the penalty terms and test accuracy against epochs, x axes linked.

    The penalty plot draws L1 solid and L2 dashed, in the run's colour; the CE and accuracy
    plots mark chance (ln 10, 10%), and the accuracy axis zooms to the data."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.smoothing = 0.9  # per-step values are noisy: TensorBoard's 0.6 leaves too much
        self.ce_widget = titled_plot("ceLossPlot", "Cross-entropy loss", "epoch", "CE")
        self.l1_widget = titled_plot("l1LossPlot", "Penalties: L1 (solid), L2 (dashed)",
                                     "epoch", "weight × Σ|w| or Σw²")
        self.acc_widget = titled_plot("accuracyPlot", "Test accuracy", "epoch", "%")
        self.acc_widget.setMinimumHeight(140)  # room for its tick labels at 1024 x 700
        self.legend = self.ce_widget.plotItem.addLegend(offset=(-10, 10), labelTextSize="8pt")
        for widget in (self.l1_widget, self.acc_widget):
            widget.setXLink(self.ce_widget)
        for widget, level, text in ((self.ce_widget, CHANCE_CE, "chance: ln 10"),
                                    (self.acc_widget, 10.0, "chance: 10%")):
            widget.plotItem.addItem(pg.InfiniteLine(
                pos=level, angle=0, pen=pg.mkPen("#999", width=1, style=Qt.PenStyle.DotLine),
                label=text, labelOpts={"position": 0.97, "color": "#777", "anchors": [(1, 1), (1, 1)]}))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.ce_widget, 3)
        layout.addWidget(self.l1_widget, 3)
        layout.addWidget(self.acc_widget, 2)
        self.line_width = LINE_WIDTH
        self.log_penalties = False
        self.live: RunRecord | None = None
        self.live_curves: dict[str, LiveCurve] = {}  # "ce", "l1", and "l2" once L2 is used
        self._accuracy: pg.PlotDataItem | None = None
        self.markers: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []
        self.overlays: dict[RunRecord, list[tuple[pg.PlotItem, pg.PlotDataItem]]] = {}
        self._overlay_peaks = {"ce": 0.0, "penalty": 0.0}
        self._ranges: dict[str, tuple[float, float]] = {}
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()
        events = session.events
        events.run_started.connect(self._run_started)
        events.run_event.connect(self._run_event)
        events.history.connect(self._history_changed)
        # The empty plots' ranges, as the first data will have them (not a cramped band round
        # the chance lines).
        self._set_range("ce", self.ce_widget, (0.0, nice_ceiling(CHANCE_CE)))
        self._set_range("penalty", self.l1_widget, (0.0, 1.0))
        self._set_range("accuracy", self.acc_widget, accuracy_range([]))

    # ---- the live run ------------------------------------------------------------------------

    def _run_started(self, record: RunRecord) -> None:
        if record.sweep:
            return
        self._drop_live()
        self.live = record
        self.live_curves = {"ce": self._live_curve(self.ce_widget, record),
                            "l1": self._live_curve(self.l1_widget, record)}
        colour = run_colour(record.number)
        self._accuracy = self.acc_widget.plotItem.plot(
            pen=pg.mkPen(colour, width=1), symbol="o", symbolSize=6, symbolBrush=colour)
        # A fixed x range for the whole run also spares the axes a redraw on every frame.
        self.ce_widget.setXRange(0, record.config.epochs, padding=0.02)

    def _live_curve(self, widget: pg.PlotWidget, record: RunRecord, dashed: bool = False) -> LiveCurve:
        return LiveCurve(widget.plotItem, run_colour(record.number), self.smoothing, self.line_width, dashed)

    def _run_event(self, record: RunRecord, event: object) -> None:
        if record is not self.live:
            return
        if isinstance(event, Steps):
            epochs, ce, l1, l2 = record.curves()
            if "l2" not in self.live_curves and record.uses_l2():
                self.live_curves["l2"] = self._live_curve(self.l1_widget, record, dashed=True)
            for key, values in (("ce", ce), ("l1", l1), ("l2", l2)):
                if key in self.live_curves:
                    self.live_curves[key].follow(epochs, values[:, 0])
        elif isinstance(event, EpochMetrics):
            self._accuracy.setData([m.epoch for m in record.epochs],
                                   [100 * m.test_accuracy[0] for m in record.epochs])
        elif isinstance(event, HyperparamsChanged):
            self._mark(record, event)
        self._dirty = True

    def _mark(self, record: RunRecord, change: HyperparamsChanged) -> None:
        """A dashed vertical line where a penalty weight or the learning rate changed mid-run."""
        epoch = (change.step - 1) / record.config.steps_per_epoch
        text = (f"L1 {short(change.l1_weights[0])}, "
                + (f"L2 {short(change.l2_weights[0])}, " if record.uses_l2() else "")
                + f"lr {short(change.lr)}")
        for widget in (self.ce_widget, self.l1_widget):
            line = pg.InfiniteLine(
                pos=epoch, angle=90, pen=pg.mkPen("#555", width=1, style=Qt.PenStyle.DashLine),
                label=text,
                labelOpts={"position": 0.93, "color": "#333", "fill": (255, 255, 255, 200),
                           "anchors": [(0, 0.5), (0, 0.5)]},
            )
            widget.plotItem.addItem(line)
            self.markers.append((widget.plotItem, line))

    def _drop_live(self) -> None:
        for plot, line in self.markers:
            plot.removeItem(line)
        self.markers.clear()
        if self.live_curves:
            self.legend.removeItem(self.live_curves["ce"].line_item)
            for key, curve in self.live_curves.items():
                curve.remove((self.ce_widget if key == "ce" else self.l1_widget).plotItem)
            self.acc_widget.plotItem.removeItem(self._accuracy)
        self.live, self.live_curves, self._accuracy = None, {}, None

    # ---- finished runs -----------------------------------------------------------------------

    def _history_changed(self) -> None:
        """Overlays for the finished runs, legends from the session's labels (they name what
        differs between runs, so a new run may change the older ones' names)."""
        labels = self.session.labels()
        if self.live is not None and self.live.ended is not None:
            self._drop_live()  # it is drawn as an overlay from now on
        for record in [r for r in self.overlays if r not in labels or r is self.live]:
            self._remove_overlay(record)
        for record in labels:
            if record.ended is not None and record not in self.overlays:
                self._add_overlay(record)
        self.legend.clear()
        for record, items in self.overlays.items():
            self.legend.addItem(items[0][1], labels[record])
        if self.live_curves:
            self.legend.addItem(self.live_curves["ce"].line_item, f"now: {labels[self.live]}")
        peaks = [(float(np.nanmax(ce)), float(np.nanmax(l1 + l2)))
                 for ce, l1, l2 in (r.curves()[1:] for r in self.overlays) if len(ce)]
        self._overlay_peaks = {"ce": max((p[0] for p in peaks), default=0.0),
                               "penalty": max((p[1] for p in peaks), default=0.0)}
        self._dirty = True

    def _add_overlay(self, record: RunRecord) -> None:
        colour = pg.mkColor(run_colour(record.number))
        colour.setAlpha(110)
        epochs, ce, l1, l2 = record.curves()
        curves = [(self.ce_widget, ce, False), (self.l1_widget, l1, False)]
        if record.uses_l2():
            curves.append((self.l1_widget, l2, True))
        items = []
        for widget, values, dashed in curves:
            pen = pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
            item = widget.plotItem.plot(epochs, smooth(values[:, 0], self.smoothing)[0], pen=pen,
                                        skipFiniteCheck=True)
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
            items.append((widget.plotItem, item))
        accuracy = self.acc_widget.plotItem.plot(
            [m.epoch for m in record.epochs], [100 * m.test_accuracy[0] for m in record.epochs],
            pen=pg.mkPen(colour, width=1), symbol="o", symbolSize=4, symbolBrush=colour)
        items.append((self.acc_widget.plotItem, accuracy))
        self.overlays[record] = items

    def _remove_overlay(self, record: RunRecord) -> None:
        for plot, item in self.overlays.pop(record):
            plot.removeItem(item)

    # ---- shared ------------------------------------------------------------------------------

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = weight
        for curve in self.live_curves.values():
            curve.set_weight(weight)
        self._rebuild_overlays()

    def set_log_penalties(self, on: bool) -> None:
        """A log y axis for the penalties: the notebook's 0.64 plateau next to its 65 at start."""
        self.log_penalties = on
        self.l1_widget.setLogMode(y=on)
        self._ranges.pop("penalty", None)
        self._dirty = True

    def set_line_width(self, width: float) -> None:
        """Thicker lines for a projector (presentation mode)."""
        self.line_width = width
        for curve in self.live_curves.values():
            curve.set_width(width)
        self._rebuild_overlays()

    def _rebuild_overlays(self) -> None:
        for record in list(self.overlays):
            self._remove_overlay(record)
        self._history_changed()

    def export_png(self, stem: Path) -> list[Path]:
        """Each plot as `<stem>-ce.png`, `-l1.png`, `-accuracy.png`, via pyqtgraph's exporter.

        All three targets are checked before any is written, and each is written atomically."""
        from pyqtgraph.exporters import ImageExporter

        from l1_trainer.core.files import check_target, write_atomic

        plots = (("ce", self.ce_widget), ("l1", self.l1_widget), ("accuracy", self.acc_widget))
        paths = [stem.with_name(f"{stem.name}-{suffix}.png") for suffix, _ in plots]
        for path in paths:
            check_target(path)
        for path, (_, widget) in zip(paths, plots):
            exporter = ImageExporter(widget.plotItem)
            exporter.parameters()["width"] = 1200
            buffer = QBuffer()
            buffer.open(QIODevice.OpenModeFlag.WriteOnly)
            exporter.export(toBytes=True).save(buffer, "PNG")
            write_atomic(path, bytes(buffer.data()))
        return paths

    @Slot()
    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for curve in self.live_curves.values():
            curve.redraw()
        live = self.live_curves
        ce_peak = max(self._overlay_peaks["ce"], live["ce"].peak if live else 0.0)
        penalty_peak = max(self._overlay_peaks["penalty"],
                           sum(live[k].peak for k in ("l1", "l2") if k in live))
        self._set_range("ce", self.ce_widget, (0.0, nice_ceiling(max(ce_peak, CHANCE_CE))))
        if not self.log_penalties:  # in log mode pyqtgraph's auto range fits the decades
            self._set_range("penalty", self.l1_widget, (0.0, nice_ceiling(penalty_peak)))
        else:
            self.l1_widget.enableAutoRange(axis="y")
        self._set_range("accuracy", self.acc_widget, accuracy_range(self._accuracies()))

    def _accuracies(self) -> list[float]:
        records = [*self.overlays, *([self.live] if self.live is not None else [])]
        return [100 * m.test_accuracy[0] for r in records for m in r.epochs]

    def _set_range(self, key: str, widget: pg.PlotWidget, span: tuple[float, float]) -> None:
        # Only when it changes: a new range repaints the axis, which costs the training thread.
        if self._ranges.get(key) != span:
            self._ranges[key] = span
            widget.setYRange(*span, padding=0)


def accuracy_range(values: list[float]) -> tuple[float, float]:
    """The accuracy axis, zoomed to the data in steps of 5 points: 93-97% is not a flat line at
    the top of 0-100; with chance-level values in it, 0-100."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 100.0
    low = max(0.0, 5 * math.floor((min(finite) - 1) / 5))
    high = min(100.0, 5 * math.ceil((max(finite) + 1) / 5))
    return low, max(high, low + 5)


class CurvesTab(QWidget):
    """The Curves tab: the plots, smoothing, a log scale for the penalties, Clear old runs."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots = LossPlots(session)
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setObjectName("smoothingInput")
        self.smoothing.setAccessibleName("Curve smoothing")
        self.smoothing.setToolTip("Exponential smoothing of the loss curves, as in TensorBoard")
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(round(100 * self.plots.smoothing))
        self.smoothing.setMinimumWidth(90)
        self.clear_runs = QPushButton("Clear old runs")
        self.clear_runs.setObjectName("clearRunsButton")
        self.clear_runs.setAccessibleName("Clear old runs")
        self.clear_runs.setToolTip("Remove the faded curves and the summaries of earlier runs")
        self.log_scale = QCheckBox("Log penalties")
        self.log_scale.setObjectName("penaltyLogScaleCheck")
        self.log_scale.setToolTip("Show the penalty terms on a logarithmic axis: a large start and "
                                  "a small plateau (the Seed notebook's 65 and 0.64) both stay visible")
        self.smoothing.valueChanged.connect(lambda value: self.plots.set_smoothing(value / 100))
        self.log_scale.toggled.connect(self.plots.set_log_penalties)
        self.clear_runs.clicked.connect(session.clear_old_runs)
        bar = QHBoxLayout()
        bar.addWidget(plain_label("Smoothing"))
        bar.addWidget(self.smoothing)
        bar.addWidget(self.log_scale)
        bar.addStretch(1)
        bar.addWidget(self.clear_runs)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plots, 1)
        layout.addLayout(bar)


def nice_ceiling(value: float) -> float:
    """The next of 1, 1.5, 2, 3, 5, 7 or 10 times a power of ten at or above `value`."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    scale = 10 ** math.floor(math.log10(value))
    return next(m * scale for m in (1, 1.5, 2, 3, 5, 7, 10) if m * scale >= value * (1 - 1e-9))
