"""What L1 does to the weights: the first layer as images, the input pixels it still uses, and
the |w| histogram; for a comparison, each model's side by side at one colour scale.

Drawn from the session's shown models (during a run, the engine's detached snapshots), only
while the tab is on screen and at most once a second during a run: each frame holds the GIL.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from ..core.app.session import Session
from ..core.training.sparsity import dead_inputs, dead_units
from .draw_panel import grey_pixmap
from .inputs import plain_label
from .plots import line_colour, titled_plot
from .redraw import WEIGHTS_MS, Redraw

if TYPE_CHECKING:
    import torch

TILE = 28
GAP = 2
LOG_RANGE = (-8.0, 0.5)  # log10 |w| shown in the histogram
BINS = 85
DIVERGING = pg.ColorMap([0.0, 0.5, 1.0], [(33, 102, 172), (247, 247, 247), (178, 24, 43)])


def mosaic(first_layer: np.ndarray) -> tuple[np.ndarray, int]:
    """Each unit's 784 incoming weights as a 28x28 tile, in a square grid; (image, columns)."""
    units = first_layer.shape[0]
    columns = math.ceil(math.sqrt(units))
    rows = math.ceil(units / columns)
    step = TILE + GAP
    image = np.zeros((rows * step - GAP, columns * step - GAP), np.float32)
    for unit, weights in enumerate(first_layer):
        r, c = divmod(unit, columns)
        image[r * step : r * step + TILE, c * step : c * step + TILE] = weights.reshape(TILE, TILE)
    return image, columns


MASK_PX = 112


def white_grid() -> tuple[pg.GraphicsView, pg.GraphicsLayout]:
    """A white view holding a grid: pg.GraphicsLayoutWidget without its mkQApp() call, which in
    pyqtgraph 0.13.7 asks for a unique connection to a Python function, refused by Qt with a
    warning ("unique connections require a pointer to member function") on every widget."""
    view = pg.GraphicsView(background="w")
    grid = pg.GraphicsLayout()
    view.setCentralItem(grid)
    return view, grid


class ModelColumn(QWidget):
    """One model's first layer as tiles (crossed: dead units), and the input pixels it uses."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = plain_label()
        self.title.setObjectName("weightsModelTitle")
        self.images, grid = white_grid()
        self.images.setObjectName("weightImages")
        self.images.setAccessibleName("First-layer weights as images")
        self.images.setToolTip("Each tile: the 784 weights into one hidden unit, as a 28x28 "
                               "image. Red positive, blue negative, white zero. Crossed tiles: "
                               "dead units, every weight at or below the threshold.")
        view = grid.addViewBox(row=0, col=0, lockAspect=True, invertY=True)
        view.setMouseEnabled(False, False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(DIVERGING)  # red positive, blue negative, white zero
        view.addItem(self.image)
        self.dead = pg.ScatterPlotItem(symbol="x", size=22, pen=pg.mkPen("#222", width=2), brush=None)
        view.addItem(self.dead)
        self.caption = plain_label("First layer: no weights yet.")
        self.caption.setObjectName("weightImagesCaption")
        self.caption.setWordWrap(True)
        self.input_mask = plain_label()
        self.input_mask.setObjectName("inputMask")
        self.input_mask.setAccessibleName("Input pixels the first layer still looks at")
        self.input_mask.setToolTip("28 × 28: white pixels still feed the network; black ones have lost "
                             "every weight to L1 (the empty borders of the digits go first)")
        self.input_mask.setFixedSize(MASK_PX, MASK_PX)
        self.input_mask.setStyleSheet("background: black; border: 1px solid #999;")
        self.mask_caption = plain_label("")
        self.mask_caption.setWordWrap(True)
        self.dead_count = self.ignored_count = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.images, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.input_mask, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.mask_caption)

    def show_model(self, name: str, colour: str, first: torch.Tensor, threshold: float,
                   limit: float) -> None:
        self.title.setText(name)
        self.title.setStyleSheet(f"color: {colour}; font-weight: bold;")
        image, columns = mosaic(first.numpy())
        self.image.setImage(image, levels=(-limit, limit))
        dead = dead_units(first, threshold)
        step = TILE + GAP
        self.dead.setData([(d % columns) * step + TILE / 2 for d in dead],
                          [(d // columns) * step + TILE / 2 for d in dead])
        self.dead_count = len(dead)
        self.caption.setText(f"First layer, {first.shape[0]} units: {len(dead)} dead "
                             f"(every weight |w| ≤ {threshold:g})")
        ignored = dead_inputs(first, threshold).numpy()
        self.ignored_count = int(ignored.sum())
        self.input_mask.setPixmap(grey_pixmap((~ignored).reshape(TILE, TILE).astype(np.float32), MASK_PX))
        gone = int(dead_inputs(first, 0.0).sum())
        self.mask_caption.setText(f"Pixels it still looks at: {ignored.size - self.ignored_count} of "
                                  f"{ignored.size} (black: every weight |w| ≤ {threshold:g}); "
                                  f"{gone} with every weight exactly 0")

    def clear(self) -> None:
        self.title.setText("")
        self.caption.setText("First layer: no weights yet.")
        self.image.clear()
        self.dead.setData([], [])


class WeightsView(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.columns: list[ModelColumn] = []
        self._columns = QHBoxLayout()
        self.colour_bar = pg.ColorBarItem(values=(-0.1, 0.1), colorMap=DIVERGING, interactive=False,
                                          label="weight", orientation="horizontal")
        bar, grid = white_grid()
        bar.setFixedHeight(70)
        grid.addItem(self.colour_bar)
        self.histogram = titled_plot("weightHistogram", "|w| per layer", "log10 |w|",
                                     "share of the weights (%)")
        item = self.histogram.plotItem
        item.addLegend(offset=(10, 10), labelTextSize="8pt")
        self.histogram.setXRange(*LOG_RANGE, padding=0)
        self.threshold_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", width=1, style=Qt.PenStyle.DashLine),
                                              label="threshold", labelOpts={"position": 0.55, "color": "#d62728"})
        item.addItem(self.threshold_line)
        self.curves: list[pg.PlotDataItem] = []
        self.zeros_caption = plain_label("")
        self.zeros_caption.setObjectName("histogramZeros")
        self.zeros_caption.setWordWrap(True)
        left = QVBoxLayout()
        left.addLayout(self._columns, 1)
        left.addWidget(bar)
        right = QVBoxLayout()
        right.addWidget(self.histogram, 1)
        right.addWidget(self.zeros_caption)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 3)  # the tiles get the room: they grow with the window
        layout.addLayout(right, 2)
        self._ensure_columns(1)
        self.redraw = Redraw(self, self._draw, WEIGHTS_MS)
        session.events.model.connect(self._changed)
        session.settings.events["threshold"].connect(self._changed)
        session.events.run_ended.connect(self._changed)  # the last weights, at once

    def _changed(self, *_: object) -> None:
        self.redraw.mark()
        if self.session.active is None:  # at rest: at once; during a run: the timer's pace
            self.redraw.flush()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.redraw.flush()

    def _draw(self) -> None:
        models = self.session.shown_models()
        if not models:
            self._ensure_columns(1)
            self.columns[0].clear()
            return
        self.show_models([(m.origin if len(models) > 1 else "", line_colour(m.colour or 0), m.weights())
                          for m in models], self.session.threshold)

    def show_models(self, models: list[tuple[str, str, dict]], threshold: float) -> None:
        """Each model's first-layer tiles and input mask side by side, at one colour scale, and
        the |w| histogram: per layer for one model, per model for several. (name, colour,
        weight matrices as CPU tensors) each."""
        self._ensure_columns(len(models))
        firsts = [next(iter(weights.values())) for _, _, weights in models]
        # One scale for all, rounded to 2 significant digits so the bar re-renders only now and then.
        top = max(float(np.percentile(np.abs(f.numpy()), 99.5)) for f in firsts)
        limit = float(f"{top or 1e-6:.2g}")
        if self.colour_bar.levels() != (-limit, limit):
            self.colour_bar.setLevels((-limit, limit))
        for column, (name, colour, _), first in zip(self.columns, models, firsts):
            column.show_model(name, colour, first, threshold, limit)
        if len(models) == 1:
            series = [(f"{w.shape[1]} → {w.shape[0]}", line_colour(i), w.numpy())
                      for i, w in enumerate(models[0][2].values())]
        else:
            series = [(name, colour, np.concatenate([w.numpy().ravel() for w in weights.values()]))
                      for name, colour, weights in models]
        self._histograms(series, threshold)
        item = self.histogram.plotItem
        item.setTitle("|w| per layer" if len(models) == 1 else "|w| per model", size=item.titleLabel.opts["size"])
        # Exact zeros have no logarithm: they are counted here, not drawn.
        self.zeros_caption.setText("Exactly zero, not on the log axis: " + ", ".join(
            f"{name} {int((w == 0).sum()):,}" for name, _, w in series))

    def _ensure_columns(self, count: int) -> None:
        while len(self.columns) > count:
            self.columns.pop().deleteLater()
        while len(self.columns) < count:
            self.columns.append(ModelColumn())
            self._columns.addWidget(self.columns[-1], 1)

    def _histograms(self, series: list[tuple[str, str, np.ndarray]], threshold: float) -> None:
        """A curve of log10 |w| per (name, colour, weights)."""
        edges = np.linspace(*LOG_RANGE, BINS + 1)
        legend = self.histogram.plotItem.legend
        while len(self.curves) > len(series):
            curve = self.curves.pop()
            legend.removeItem(curve)
            self.histogram.plotItem.removeItem(curve)
        while len(self.curves) < len(series):
            self.curves.append(self.histogram.plotItem.plot(stepMode="center"))
        for curve, (name, colour, w) in zip(self.curves, series):
            magnitudes = np.abs(w).ravel()
            nonzero = magnitudes[magnitudes > 0]
            counts, _ = np.histogram(np.log10(nonzero), bins=edges)
            curve.setData(edges, 100 * counts / magnitudes.size)
            curve.setPen(pg.mkPen(colour, width=1.5))
            label = html.escape(name)
            if curve.name() != label:  # re-laying out the legend is not free
                legend.removeItem(curve)
                curve.opts["name"] = label
                legend.addItem(curve, label)
        self.threshold_line.setValue(math.log10(threshold) if threshold > 0 else LOG_RANGE[0])
