"""Live loss, penalty, accuracy and sparsity curves (pyqtgraph), drawn from the session's run
records: one line per model (a run has one, a comparison one per model).

A live model's raw values are the record's own arrays; the view keeps only what it derives (the
smoothed line). Finished models stay, lighter, named by the session. A 5 Hz timer redraws
whatever changed, so the plots cost the same however fast steps arrive.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..core.app.numbers import short
from ..core.app.records import CHANCE_CE, RunRecord
from ..core.app.session import Session
from ..core.files.writing import check_target, write_atomic
from ..core.training.events import EpochMetrics, Event, HyperparamsChanged, Steps
from .inputs import plain_label
from .redraw import CURVES_MS, Redraw
from .smoothing import EmaState, smooth

LINE_WIDTH = 1.5  # the live run's smoothed lines; presentation mode scales it
PRESENTING_LINE_SCALE = 2.5
FINISHED_ALPHA = 150  # a finished model's lines: lighter than the live ones, still clear
# Matplotlib's tab10: ten colours no two of which are easily confused.
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22"]
PENALTY_TITLES = {False: "Penalty terms (L2 dashed)", True: "Σ|w| and Σw² (dashed), unweighted"}


TITLE_PT = 10
LEGEND_PT = 8  # pyqtgraph legends inside plots (the curves' legend is a label above them)


def scale_text(widget: pg.PlotWidget, factor: float, normal_pt: float) -> None:
    """The plot's tick labels, axis labels and legend at `factor` times their normal size
    (`normal_pt`: the application's text before presentation mode scaled it), its title less
    (a longer title would widen the plot past the screen)."""
    item = widget.plotItem
    item.setTitle(item.titleLabel.text, size=f"{TITLE_PT * (1 + (factor - 1) / 2):g}pt")
    font = QFont()
    font.setPointSizeF(normal_pt * factor)
    for axis in ("left", "bottom"):
        item.getAxis(axis).setStyle(tickFont=font)
        item.getAxis(axis).label.setFont(font)
    if item.legend is not None:
        for _, label in item.legend.items:
            label.setText(label.text, size=f"{LEGEND_PT * factor:g}pt")


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


def line_colour(index: int) -> str:
    """The index-th line's colour: each model drawn in a session takes the next one."""
    return PALETTE[index % len(PALETTE)]


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
    """One metric of one model: its raw values faint (while it trains), the smoothed line on top."""

    def __init__(self, plot: pg.PlotItem, colour: str, weight: float, width: float = LINE_WIDTH,
                 dashed: bool = False) -> None:
        self.plot = plot
        self.smoothed, self.weight, self.state = Series(), weight, EmaState()
        self.raw_x = self.raw_y = np.empty(0)
        self.peak = 0.0  # the largest value so far, for a y range that moves only now and then
        self.colour, self.style = colour, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
        faint = pg.mkColor(colour)
        faint.setAlpha(35)  # thousands of overlapping steps add up; the smoothed line must win
        self.raw_item: pg.PlotDataItem | None = plot.plot(pen=pg.mkPen(faint, width=1, style=self.style),
                                                          skipFiniteCheck=True)
        self.line_item = plot.plot(skipFiniteCheck=True)
        self.set_pen(width, 255)
        for item in (self.raw_item, self.line_item):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)

    def set_pen(self, width: float, alpha: int) -> None:
        colour = pg.mkColor(self.colour)
        colour.setAlpha(alpha)
        self.line_item.setPen(pg.mkPen(colour, width=width, style=self.style))

    def follow(self, x: np.ndarray, y: np.ndarray) -> None:
        """The record's arrays so far; only the values not seen yet are smoothed."""
        new = slice(self.smoothed.n, len(y))
        values, self.state = smooth(y[new], self.weight, self.state)
        self.smoothed.extend(x[new], values)
        self.raw_x, self.raw_y = x, y
        finite = y[new][np.isfinite(y[new])]
        if len(finite):
            self.peak = max(self.peak, float(finite.max()))

    def set_weight(self, weight: float) -> None:
        self.weight, self.state, self.smoothed = weight, EmaState(), Series(max(len(self.raw_y), 16))
        self.follow(self.raw_x, self.raw_y)

    def finish(self) -> None:
        """A finished model keeps its smoothed line only (each frame draws every line)."""
        if self.raw_item is not None:
            self.plot.removeItem(self.raw_item)
            self.raw_item = None

    def redraw(self) -> None:
        if self.raw_item is not None:
            self.raw_item.setData(self.raw_x, self.raw_y)
        self.line_item.setData(*self.smoothed.data())

    def remove(self) -> None:
        self.finish()
        self.plot.removeItem(self.line_item)


class Line:
    """One model's curves on the four plots, live while it trains, faded once it has finished."""

    def __init__(self, plots: LossPlots, record: RunRecord, model: int) -> None:
        self.plots, self.record, self.m = plots, record, model
        self.colour = line_colour(record.colour + model)
        self.finished = False
        self.dirty = False
        self.curves: dict[str, LiveCurve] = {}  # "ce", and each penalty curve shown
        self.accuracy = plots.acc_widget.plotItem.plot(symbol="o", symbolSize=5)
        self.near = plots.zeros_widget.plotItem.plot()
        self.exact = plots.zeros_widget.plotItem.plot()
        self.curves["ce"] = self._curve(plots.ce_widget, False)
        self.restyle()

    def _curve(self, widget: pg.PlotWidget, dashed: bool) -> LiveCurve:
        curve = LiveCurve(widget.plotItem, self.colour, self.plots.smoothing, self.plots.line_width, dashed)
        if self.finished:
            curve.finish()
        return curve

    def penalty_keys(self) -> list[str]:
        """The penalty curves this model has: both sums unweighted, else the terms it used."""
        if self.plots.unweighted:
            return ["abs_sum", "square_sum"]
        r, m = self.record, self.m
        used = {"l1": any(w for w in [r.l1_weights[m], *(c.l1_weights[m] for c in r.changes)]),
                "l2": r.uses_l2(m)}
        return [key for key in ("l1", "l2") if used[key]]

    def follow(self) -> None:
        """The record's values so far onto the curves."""
        r, m = self.record, self.m
        epochs, ce, l1, l2 = r.curves()
        abs_sum, square_sum = r.sums()
        values = {"ce": ce, "l1": l1, "l2": l2, "abs_sum": abs_sum, "square_sum": square_sum}
        for key in self.penalty_keys():
            if key not in self.curves:
                self.curves[key] = self._curve(self.plots.penalty_widget, key in ("l2", "square_sum"))
        for key, curve in self.curves.items():
            curve.follow(epochs, values[key][:, m])
        metrics = r.epochs
        self.accuracy.setData([e.epoch for e in metrics], [100 * e.test_accuracy[m] for e in metrics])
        counted, near, exact = r.zero_curves()
        self.near.setData(counted, 100 * near[:, m])
        self.exact.setData(counted, 100 * exact[:, m])
        self.dirty = True

    def drop_penalties(self) -> None:
        for key in [k for k in self.curves if k != "ce"]:
            self.curves.pop(key).remove()

    def finish(self) -> None:
        self.finished = True
        for curve in self.curves.values():
            curve.finish()
        self.restyle()

    def restyle(self) -> None:
        """Live lines full strength; finished ones lighter, and thicker in presentation mode."""
        plots = self.plots
        alpha = 255 if not self.finished else plots.finished_alpha
        width = plots.line_width if not self.finished else plots.line_width / LINE_WIDTH
        for curve in self.curves.values():
            curve.set_pen(width, alpha)
        colour = pg.mkColor(self.colour)
        colour.setAlpha(alpha)
        self.accuracy.setPen(pg.mkPen(colour, width=width))
        self.accuracy.setSymbolBrush(colour)
        self.accuracy.setSymbolPen(colour)
        self.near.setPen(pg.mkPen(colour, width=width))
        self.exact.setPen(pg.mkPen(colour, width=width, style=Qt.PenStyle.DashLine))

    def redraw(self) -> None:
        self.dirty = False
        for curve in self.curves.values():
            curve.redraw()

    def remove(self) -> None:
        for curve in self.curves.values():
            curve.remove()
        for item, widget in ((self.accuracy, self.plots.acc_widget), (self.near, self.plots.zeros_widget),
                             (self.exact, self.plots.zeros_widget)):
            widget.plotItem.removeItem(item)

    @property
    def diverged(self) -> bool:
        return self.m in self.record.diverged_at


class Legend(QLabel):
    """Every model on the plots, one coloured mark and name each, in lines that wrap: outside
    the plots, so it never covers a curve or a chance line. The names are escaped (a kept
    run's are made from its settings, but nothing is rendered as markup that came in)."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("curvesLegend")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self.entries: list[str] = []

    def show_entries(self, entries: list[tuple[str, str, bool]]) -> None:
        """(colour, name, live) for each model, in order."""
        self.entries = [name for _, name, _ in entries]
        self.setText("&nbsp;&nbsp; ".join(
            f"<span style='color:{colour}'>&#9632;</span>&nbsp;"
            + (f"<b>{html.escape(name)}</b>" if live else html.escape(name)).replace(" ", "&nbsp;", 2)
            for colour, name, live in entries))


class LossPlots(QWidget):
    """Cross-entropy, the penalties, test accuracy and the weights at zero against epochs, x
    axes linked, one line per model (a run's one, a comparison's each), a shared legend above.

    The penalty plot draws L1 solid and L2 dashed in the model's colour, as the terms added to
    the loss or (unweighted) as sum|w| and sum w^2, which compare models of any weights; the CE
    and accuracy plots mark chance (ln 10, 10%), the accuracy axis zooms to the data."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.smoothing = 0.9  # per-step values are noisy: TensorBoard's 0.6 leaves too much
        self.unweighted = False
        self.line_width = LINE_WIDTH
        self.finished_alpha = FINISHED_ALPHA
        self.log_penalties = False
        self.ce_widget = titled_plot("ceLossPlot", "Cross-entropy", "epoch", "CE")
        self.penalty_widget = titled_plot("penaltyPlot", PENALTY_TITLES[False], "epoch", "")
        self.acc_widget = titled_plot("accuracyPlot", "Test accuracy", "epoch", "%")
        self.zeros_widget = titled_plot("zerosPlot", "Sparsity (exact zeros dashed)", "epoch", "% of weights")
        self.legend = Legend()
        for widget in (self.penalty_widget, self.acc_widget, self.zeros_widget):
            widget.setXLink(self.ce_widget)
        for widget, level, text in ((self.ce_widget, CHANCE_CE, "chance: ln 10"),
                                    (self.acc_widget, 10.0, "chance: 10%")):
            widget.plotItem.addItem(pg.InfiniteLine(
                pos=level, angle=0, pen=pg.mkPen("#999", width=1, style=Qt.PenStyle.DotLine),
                label=text, labelOpts={"position": 0.97, "color": "#777", "anchors": [(1, 1), (1, 1)]}))
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for i, widget in enumerate((self.ce_widget, self.penalty_widget, self.acc_widget, self.zeros_widget)):
            grid.addWidget(widget, i // 2, i % 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.legend)
        layout.addLayout(grid, 1)
        self.lines: dict[tuple[RunRecord, int], Line] = {}
        self.live: RunRecord | None = None
        self.markers: dict[RunRecord, list[tuple[pg.PlotItem, pg.InfiniteLine]]] = {}
        self._ranges: dict[str, tuple[float, float]] = {}
        self.redraw = Redraw(self, self._draw, CURVES_MS)
        events = session.events
        events.run_started.connect(self._run_started)
        events.run_event.connect(self._run_event)
        events.runs.connect(self._history_changed)
        events.run_ended.connect(lambda record: self._history_changed())  # its lines, finished
        events.names.connect(self._rename)
        # The empty plots' ranges, as the first data will have them (not a cramped band round
        # the chance lines).
        self._set_range("ce", self.ce_widget, (0.0, nice_ceiling(CHANCE_CE)))
        self._set_range("penalty", self.penalty_widget, (0.0, 1.0))
        self._set_range("accuracy", self.acc_widget, accuracy_range([]))
        self._set_range("zeros", self.zeros_widget, (0.0, 100.0))

    # ---- runs in, lines out --------------------------------------------------------------

    def _run_started(self, record: RunRecord) -> None:
        if record.sweep:
            return
        self.live = record
        # A fixed x range for the whole run also spares the axes a redraw on every frame.
        self.ce_widget.setXRange(0, record.config.epochs, padding=0.02)

    def _run_event(self, record: RunRecord, event: Event) -> None:
        if record is not self.live:
            return
        if isinstance(event, HyperparamsChanged):
            self._mark(record, event)
        if isinstance(event, (Steps, EpochMetrics)):
            for m in range(record.k):
                line = self.lines.get((record, m))
                if line is not None:
                    line.follow()
        self.redraw.mark()

    def _history_changed(self) -> None:
        """One line per model the session names (a new run may rename the older ones, by what
        differs between them); a model that has finished is drawn faded from then on."""
        names = self.session.lines()
        for key in [key for key in self.lines if key not in names]:
            self.lines.pop(key).remove()
        for record in [r for r in self.markers if (r, 0) not in names]:
            for plot, line in self.markers.pop(record):
                plot.removeItem(line)
        for key in names:
            if key not in self.lines:
                self.lines[key] = line = Line(self, *key)
                line.follow()
            line = self.lines[key]
            if key[0].ended is not None and not line.finished:
                line.follow()
                line.finish()
        if self.live is not None and self.live.ended is not None:
            self.live = None
        self._rename()
        self.redraw.mark()
        self.redraw.now()  # a finished line is drawn whole at once (this happens once a run)

    def _rename(self) -> None:
        """The legend only: a live change renames its run (and maybe the others), nothing more."""
        names = self.session.lines()
        self.legend.show_entries([(line.colour, names[key], not line.finished)
                                  for key, line in self.lines.items() if key in names])

    def _mark(self, record: RunRecord, change: HyperparamsChanged) -> None:
        """A dashed vertical line where a penalty weight or the learning rate changed mid-run,
        on the CE and penalty plots, labelled with what changed; labels of nearby changes step
        down the plot so that they never overlap. Kept as long as the run's lines are."""
        before = record.changes[-2] if len(record.changes) > 1 else None
        start = (record.l1_weights[0], record.l2_weights[0], record.config.lr)
        old = (before.l1_weights[0], before.l2_weights[0], before.lr) if before else start
        new = (change.l1_weights[0], change.l2_weights[0], change.lr)
        text = ", ".join(f"{name} {short(b)}" for name, a, b in zip(("L1", "L2", "lr"), old, new) if a != b)
        epoch = (change.step - 1) / record.config.steps_per_epoch
        marks = self.markers.setdefault(record, [])
        position = 0.92 - 0.14 * ((len(marks) // 2) % 5)
        for widget in (self.ce_widget, self.penalty_widget):
            line = pg.InfiniteLine(
                pos=epoch, angle=90, pen=pg.mkPen("#555", width=1, style=Qt.PenStyle.DashLine),
                label=text if widget is self.ce_widget else None,
                labelOpts={"position": position, "color": "#333", "fill": (255, 255, 255, 200),
                           "anchors": [(0, 0.5), (0, 0.5)]},
            )
            widget.plotItem.addItem(line)
            marks.append((widget.plotItem, line))

    # ---- settings --------------------------------------------------------------------------

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = weight
        for line in self.lines.values():
            for curve in line.curves.values():
                curve.set_weight(weight)
        self.redraw.mark()

    def set_unweighted(self, on: bool) -> None:
        """The penalty plot as sum|w| and sum w^2 (on) or as the weighted terms (off)."""
        self.unweighted = on
        item = self.penalty_widget.plotItem
        item.setTitle(PENALTY_TITLES[on], size=item.titleLabel.opts["size"])
        for line in self.lines.values():
            line.drop_penalties()
            line.follow()
        self._ranges.pop("penalty", None)
        self.redraw.mark()

    def set_log_penalties(self, on: bool) -> None:
        """A log y axis for the penalties: the notebook's 0.64 plateau next to its 65 at start."""
        self.log_penalties = on
        self.penalty_widget.setLogMode(y=on)
        self._ranges.pop("penalty", None)
        self.redraw.mark()

    def set_presenting(self, on: bool) -> None:
        """Thicker lines and finished runs as clear as live ones, for a projector."""
        self.line_width = LINE_WIDTH * (PRESENTING_LINE_SCALE if on else 1.0)
        self.finished_alpha = 230 if on else FINISHED_ALPHA
        for line in self.lines.values():
            line.restyle()
        self.redraw.mark()

    def export_png(self, stem: Path) -> list[Path]:
        """Each plot as `<stem>-ce.png`, `-penalties.png`, `-accuracy.png`, `-zeros.png`, via
        pyqtgraph's exporter. All targets are checked before any is written, each atomically."""
        self.redraw.now()
        plots = (("ce", self.ce_widget), ("penalties", self.penalty_widget), ("accuracy", self.acc_widget),
                 ("zeros", self.zeros_widget))
        paths = [stem.with_name(f"{stem.name}-{suffix}.png") for suffix, _ in plots]
        for path in paths:
            check_target(path)
        for path, (_, widget) in zip(paths, plots):
            exporter = ImageExporter(widget.plotItem)
            exporter.parameters()["width"] = 1200
            buffer = QBuffer()
            buffer.open(QIODevice.OpenModeFlag.WriteOnly)
            exporter.export(toBytes=True).save(buffer, "PNG")
            write_atomic(path, bytes(buffer.data().data()))
        return paths

    # ---- drawing ---------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.redraw.flush()

    def _draw(self) -> None:
        for line in self.lines.values():
            if line.dirty:
                line.redraw()
        # Ranges from the models that did not diverge: one that ran off to 1e32 must not
        # flatten every other curve (unless every model diverged).
        lines = [line for line in self.lines.values() if not line.diverged] or list(self.lines.values())
        ce_peak = max((line.curves["ce"].peak for line in lines), default=0.0)
        penalty_peak = max((sum(c.peak for k, c in line.curves.items() if k != "ce") for line in lines),
                           default=0.0)
        self._set_range("ce", self.ce_widget, (0.0, nice_ceiling(max(ce_peak, CHANCE_CE))))
        if not self.log_penalties:  # in log mode pyqtgraph's auto range fits the decades
            self._set_range("penalty", self.penalty_widget, (0.0, nice_ceiling(penalty_peak)))
        else:
            self.penalty_widget.enableAutoRange(axis="y")
        accuracies = [100 * e.test_accuracy[line.m] for line in lines for e in line.record.epochs]
        self._set_range("accuracy", self.acc_widget, accuracy_range(accuracies))

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
        self.log_scale = QCheckBox("Log scale")
        self.log_scale.setObjectName("penaltyLogScaleCheck")
        self.log_scale.setToolTip("Penalties on a logarithmic axis: a large start and a small plateau "
                                  "(the Seed notebook's 65 and 0.64) both stay visible")
        self.unweighted = QCheckBox("Unweighted")
        self.unweighted.setObjectName("unweightedCheck")
        self.unweighted.setToolTip("Penalties as Σ|w| and Σw² themselves, not the weighted terms added "
                                   "to the loss: models trained with different weights (or none) compare")
        self.smoothing.valueChanged.connect(lambda value: self.plots.set_smoothing(value / 100))
        self.log_scale.toggled.connect(self.plots.set_log_penalties)
        self.unweighted.toggled.connect(self.plots.set_unweighted)
        self.clear_runs.clicked.connect(session.clear_old_runs)
        bar = QHBoxLayout()
        bar.addWidget(plain_label("Smoothing"))
        bar.addWidget(self.smoothing)
        bar.addWidget(self.log_scale)
        bar.addWidget(self.unweighted)
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
