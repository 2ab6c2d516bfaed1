"""Live loss and accuracy curves (pyqtgraph), finished runs kept as faded overlays.

Incoming steps only append to preallocated buffers; a 30 Hz timer redraws whatever changed,
so the plots cost the same however fast the worker reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QIODevice, Qt, QTimer, Slot
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from l1_trainer.gui.smoothing import EmaState, smooth

# 20 Hz: each frame holds the GIL while it paints, and under X it is also flushed to the server,
# which shares the cores with training (measured in benchmarks/bench_gui.py).
REDRAW_MS = 50
RUN_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def titled_plot(name: str, title: str, bottom: str, left: str) -> pg.PlotWidget:
    """A white plot with a title, axis labels, a faint grid and cached axes, named for tests
    and screen readers."""
    widget = pg.PlotWidget(background="w")
    widget.setObjectName(name)
    widget.setAccessibleName(title)
    item = widget.plotItem
    item.setTitle(title, size="10pt")
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


class Series:
    """x/y float buffers that double when full (never np.append, which copies every call)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.x = np.empty(capacity)
        self.y = np.empty(capacity)
        self.n = 0
        self.peak = 0.0  # the largest y so far, for a y range that moves only now and then

    def extend(self, xs: np.ndarray, ys: np.ndarray) -> None:
        end = self.n + len(xs)
        if end > len(self.x):
            size = max(end, 2 * len(self.x))
            self.x = np.resize(self.x, size)
            self.y = np.resize(self.y, size)
        self.x[self.n : end] = xs
        self.y[self.n : end] = ys
        self.n = end
        if len(ys):
            self.peak = max(self.peak, float(np.max(ys)))

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.n], self.y[: self.n]


@dataclass(frozen=True)
class RunCurves:
    """A finished run's raw values, kept for export."""

    label: str
    epochs: np.ndarray
    ce: np.ndarray
    l1: np.ndarray
    accuracy_epochs: np.ndarray
    accuracy: np.ndarray  # percent


class SmoothedCurve:
    """One metric of the live run: the raw values faint, the smoothed line on top."""

    def __init__(self, plot: pg.PlotItem, colour: str, weight: float) -> None:
        self.raw, self.smoothed = Series(), Series()
        self.weight, self.state = weight, EmaState()
        faint = pg.mkColor(colour)
        faint.setAlpha(35)  # thousands of overlapping steps add up; the smoothed line must win
        self.raw_item = plot.plot(pen=pg.mkPen(faint, width=1), skipFiniteCheck=True)
        self.line_item = plot.plot(pen=pg.mkPen(colour, width=1.5), skipFiniteCheck=True)
        for item in (self.raw_item, self.line_item):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)

    def extend(self, xs: np.ndarray, ys: np.ndarray) -> None:
        self.raw.extend(xs, ys)
        values, self.state = smooth(ys, self.weight, self.state)
        self.smoothed.extend(xs, values)

    def set_weight(self, weight: float) -> None:
        self.weight = weight
        x, y = self.raw.data()
        values, self.state = smooth(y, weight)
        self.smoothed = Series(max(len(x), 16))
        self.smoothed.extend(x, values)

    def redraw(self) -> None:
        self.raw_item.setData(*self.raw.data())
        self.line_item.setData(*self.smoothed.data())

    def clear(self) -> None:
        self.raw, self.smoothed, self.state = Series(), Series(), EmaState()
        self.redraw()


class LossPlots(QWidget):
    """Cross-entropy, L1 term and test accuracy against epochs, x axes linked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.smoothing = 0.9  # per-step values are noisy: TensorBoard's 0.6 leaves too much
        self.ce_widget = titled_plot("ceLossPlot", "Cross-entropy loss", "epoch", "CE")
        self.l1_widget = titled_plot("l1LossPlot", "L1 term (weight × Σ|w|)", "epoch", "L1")
        self.acc_widget = titled_plot("accuracyPlot", "Test accuracy", "epoch", "%")
        self.ce_widget.plotItem.addLegend(offset=(-10, 10), labelTextSize="8pt")
        for widget in (self.l1_widget, self.acc_widget):
            widget.setXLink(self.ce_widget)
        self.acc_widget.setYRange(0, 100)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.ce_widget, 3)
        layout.addWidget(self.l1_widget, 3)
        layout.addWidget(self.acc_widget, 2)
        self._run_index = 0
        self._label = "run"
        self._overlays: list[tuple[pg.PlotItem, pg.PlotDataItem]] = []
        self._overlay_peaks = {"ce": 0.0, "l1": 0.0}
        self._tops = {"ce": 0.0, "l1": 0.0}
        self.finished_runs: list[RunCurves] = []
        self._markers: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []
        self._new_curves()
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()


    def _colour(self) -> str:
        return RUN_COLOURS[self._run_index % len(RUN_COLOURS)]

    def _new_curves(self) -> None:
        colour = self._colour()
        self.ce = SmoothedCurve(self.ce_widget.plotItem, colour, self.smoothing)
        self.l1 = SmoothedCurve(self.l1_widget.plotItem, colour, self.smoothing)
        self.accuracy = Series(64)
        self.acc_item = self.acc_widget.plotItem.plot(
            pen=pg.mkPen(colour, width=1), symbol="o", symbolSize=6, symbolBrush=colour
        )

    # ---- feeding data -----------------------------------------------------------------------

    def start_run(self, label: str, epochs: int) -> None:
        """Name the live run in the legend and show the whole run's width on the x axis.

        A fixed x range also spares the axes from being redrawn on every frame."""
        self.ce_widget.setXRange(0, epochs, padding=0.02)
        legend = self.ce_widget.plotItem.legend
        legend.removeItem(self.ce.line_item)
        legend.addItem(self.ce.line_item, f"now: {label}")
        self._label = label

    def add_steps(self, epochs: np.ndarray, ce: np.ndarray, l1: np.ndarray) -> None:
        self.ce.extend(epochs, ce)
        self.l1.extend(epochs, l1)
        self._dirty = True

    def add_accuracy(self, epoch: float, accuracy: float) -> None:
        self.accuracy.extend(np.array([epoch]), np.array([100 * accuracy]))
        self._dirty = True

    def mark_change(self, epoch: float, text: str) -> None:
        """A dashed vertical line where the L1 weight or learning rate changed mid-run."""
        for widget in (self.ce_widget, self.l1_widget):
            line = pg.InfiniteLine(
                pos=epoch, angle=90, pen=pg.mkPen("#555", width=1, style=Qt.PenStyle.DashLine),
                label=text,
                labelOpts={"position": 0.93, "color": "#333", "fill": (255, 255, 255, 200),
                           "anchors": [(0, 0.5), (0, 0.5)]},
            )
            widget.plotItem.addItem(line)
            self._markers.append((widget.plotItem, line))

    def end_run(self) -> None:
        """Keep the finished run as a faded overlay named by its settings; start fresh curves."""
        self._redraw(force=True)
        epochs, ce = (a.copy() for a in self.ce.raw.data())
        ax, ay = (a.copy() for a in self.accuracy.data())
        self.finished_runs.append(RunCurves(self._label, epochs, ce, self.l1.raw.data()[1].copy(), ax, ay))
        colour = pg.mkColor(self._colour())
        colour.setAlpha(110)
        pen = pg.mkPen(colour, width=1)
        for key, widget, curve in (("ce", self.ce_widget, self.ce), ("l1", self.l1_widget, self.l1)):
            x, y = curve.smoothed.data()
            self._overlay_peaks[key] = max(self._overlay_peaks[key], curve.smoothed.peak)
            overlay = widget.plotItem.plot(x.copy(), y.copy(), pen=pen, skipFiniteCheck=True)
            overlay.setDownsampling(auto=True, method="peak")
            overlay.setClipToView(True)
            self._overlays.append((widget.plotItem, overlay))
        legend = self.ce_widget.plotItem.legend
        legend.removeItem(self.ce.line_item)
        legend.addItem(self._overlays[-2][1], self._label)
        ax, ay = self.accuracy.data()
        acc = self.acc_widget.plotItem.plot(
            ax.copy(), ay.copy(), pen=pen, symbol="o", symbolSize=4, symbolBrush=colour
        )
        self._overlays.append((self.acc_widget.plotItem, acc))
        for plot, line in self._markers:
            plot.removeItem(line)
        self._markers.clear()
        self._discard_live()
        self._run_index += 1
        self._new_curves()

    def clear_old_runs(self) -> None:
        legend = self.ce_widget.plotItem.legend
        for plot, overlay in self._overlays:
            plot.removeItem(overlay)
            legend.removeItem(overlay)
        self._overlays.clear()
        self._overlay_peaks = {"ce": 0.0, "l1": 0.0}
        self.finished_runs.clear()
        self._dirty = True

    def clear_live(self) -> None:
        """Forget the live run's curves and markers (Reset)."""
        for plot, line in self._markers:
            plot.removeItem(line)
        self._markers.clear()
        self.ce_widget.plotItem.legend.removeItem(self.ce.line_item)
        self._discard_live()
        self._new_curves()

    def _discard_live(self) -> None:
        for widget, curve in ((self.ce_widget, self.ce), (self.l1_widget, self.l1)):
            widget.plotItem.removeItem(curve.raw_item)
            widget.plotItem.removeItem(curve.line_item)
        self.acc_widget.plotItem.removeItem(self.acc_item)

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

    @property
    def overlay_count(self) -> int:
        """Finished runs on display."""
        return len(self._overlays) // 3

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = weight
        self.ce.set_weight(weight)
        self.l1.set_weight(weight)
        self._dirty = True

    @Slot()
    def _redraw(self, force: bool = False) -> None:
        if not (self._dirty or force):
            return
        self._dirty = False
        self.ce.redraw()
        self.l1.redraw()
        self.acc_item.setData(*self.accuracy.data())
        for key, widget, curve in (("ce", self.ce_widget, self.ce), ("l1", self.l1_widget, self.l1)):
            top = nice_ceiling(max(curve.raw.peak, self._overlay_peaks[key]))
            if top != self._tops[key]:
                self._tops[key] = top
                widget.setYRange(0, top, padding=0)


def nice_ceiling(value: float) -> float:
    """The next of 1, 1.5, 2, 3, 5, 7 or 10 times a power of ten at or above `value`."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    scale = 10 ** math.floor(math.log10(value))
    return next(m * scale for m in (1, 1.5, 2, 3, 5, 7, 10) if m * scale >= value * (1 - 1e-9))
