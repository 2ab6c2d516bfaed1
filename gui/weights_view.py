"""What L1 does to the weights: the first layer as images, and each layer's |w| histogram.

Drawn from the session's current model (during a run, the engine's detached snapshots), only
while the tab is on screen and at most once a second during a run: each frame holds the GIL.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from l1_trainer.core.session import Session
from l1_trainer.core.sparsity import dead_inputs, dead_units
from l1_trainer.gui.draw_panel import grey_pixmap
from l1_trainer.gui.inputs import plain_label
from l1_trainer.gui.plots import RUN_COLOURS, titled_plot

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


RUNNING_INTERVAL_MS = 1000


class WeightsView(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._stale = False
        self.images = pg.GraphicsLayoutWidget()
        self.images.setBackground("w")
        self.images.setObjectName("weightImages")
        self.images.setAccessibleName("First-layer weights as images")
        self.images.setToolTip("Each tile: the 784 weights into one hidden unit, as a 28x28 "
                               "image. Red positive, blue negative, white zero. Crossed tiles: "
                               "dead units, every weight at or below the threshold.")
        view = self.images.addViewBox(row=0, col=0, lockAspect=True, invertY=True)
        view.setMouseEnabled(False, False)
        self.image = pg.ImageItem(axisOrder="row-major")
        view.addItem(self.image)
        self.dead = pg.ScatterPlotItem(symbol="x", size=22, pen=pg.mkPen("#222", width=2), brush=None)
        view.addItem(self.dead)
        self.colour_bar = pg.ColorBarItem(values=(-0.1, 0.1), colorMap=DIVERGING, interactive=False,
                                          label="weight")
        self.colour_bar.setImageItem(self.image, insert_in=None)
        self.images.addItem(self.colour_bar, row=0, col=1)
        self.caption = plain_label("First layer: no weights yet.")
        self.caption.setObjectName("weightImagesCaption")

        self.histogram = titled_plot("weightHistogram", "|w| per layer", "log10 |w|",
                                     "share of the layer's weights (%)")
        item = self.histogram.plotItem
        item.addLegend(offset=(10, 10), labelTextSize="8pt")
        self.histogram.setXRange(*LOG_RANGE, padding=0)
        self.threshold_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", width=1, style=Qt.PenStyle.DashLine),
                                              label="threshold", labelOpts={"position": 0.55, "color": "#d62728"})
        item.addItem(self.threshold_line)
        self.curves: list[pg.PlotDataItem] = []
        self.dead_count = 0

        self.mask = plain_label()
        self.mask.setObjectName("inputMask")
        self.mask.setAccessibleName("Input pixels the first layer still looks at")
        self.mask.setToolTip("28 × 28: white pixels still feed the network; black ones have lost "
                             "every weight to L1 (the empty borders of the digits go first)")
        self.mask.setFixedSize(112, 112)
        self.mask.setStyleSheet("background: black; border: 1px solid #999;")
        self.mask_caption = plain_label("")
        self.mask_caption.setWordWrap(True)
        self.ignored_count = 0
        mask_row = QHBoxLayout()
        mask_row.addWidget(self.mask)
        mask_row.addWidget(self.mask_caption, 1)
        right = QVBoxLayout()
        right.addWidget(self.histogram, 1)
        right.addLayout(mask_row)
        left = QVBoxLayout()
        left.addWidget(self.images, 1)
        left.addWidget(self.caption)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 3)  # the tiles get the room: they grow with the window
        layout.addLayout(right, 2)
        self._timer = QTimer(self)
        self._timer.setInterval(RUNNING_INTERVAL_MS)
        self._timer.timeout.connect(self._draw_if_stale)
        self._timer.start()
        session.events.model.connect(self._changed)
        session.events.threshold.connect(self._changed)

    def _changed(self, *_: object) -> None:
        self._stale = True
        if self.session.active is None:  # at rest: at once; during a run: the timer's pace
            self._draw_if_stale()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._draw_if_stale()

    @Slot()
    def _draw_if_stale(self) -> None:
        model = self.session.current
        if not self._stale or not self.isVisible():
            return
        self._stale = False
        if model is None:
            self.caption.setText("First layer: no weights yet.")
            self.image.clear()
            self.dead.setData([], [])
            return
        self.show_weights(model.weights(), self.session.threshold)

    def show_weights(self, weights: dict, threshold: float) -> None:
        """Draw the first layer's tiles, the input pixels it still uses, and every layer's
        histogram, from CPU tensors."""
        first_tensor = next(iter(weights.values()))
        matrices = [w.numpy() for w in weights.values()]
        first = matrices[0]
        image, columns = mosaic(first)
        # Rounded to 2 significant digits, so the colour bar re-renders only now and then.
        limit = float(f"{float(np.percentile(np.abs(first), 99.5)) or 1e-6:.2g}")
        self.image.setImage(image, levels=(-limit, limit))
        if self.colour_bar.levels() != (-limit, limit):
            self.colour_bar.setLevels((-limit, limit))
        dead = dead_units(first_tensor, threshold)
        step = TILE + GAP
        self.dead.setData([(d % columns) * step + TILE / 2 for d in dead],
                          [(d // columns) * step + TILE / 2 for d in dead])
        self.dead_count = len(dead)
        self.caption.setText(
            f"First layer: {first.shape[0]} units × {first.shape[1]} weights; "
            f"{len(dead)} dead (every weight |w| ≤ {threshold:g})")
        ignored = dead_inputs(first_tensor, threshold).numpy()
        self.ignored_count = int(ignored.sum())
        self.mask.setPixmap(grey_pixmap((~ignored).reshape(TILE, TILE).astype(np.float32), self.mask.width()))
        self.mask_caption.setText(f"Input pixels it still looks at: {ignored.size - self.ignored_count} of "
                                  f"{ignored.size} (black: every weight from the pixel is gone)")
        self._histograms(matrices, threshold)

    def _histograms(self, matrices: list[np.ndarray], threshold: float) -> None:
        edges = np.linspace(*LOG_RANGE, BINS + 1)
        while len(self.curves) < len(matrices):
            colour = RUN_COLOURS[len(self.curves) % len(RUN_COLOURS)]
            self.curves.append(self.histogram.plotItem.plot(stepMode="center", pen=pg.mkPen(colour, width=1.5)))
        for curve, w in zip(self.curves, matrices):
            magnitudes = np.abs(w).ravel()
            nonzero = magnitudes[magnitudes > 0]
            counts, _ = np.histogram(np.log10(nonzero), bins=edges)
            curve.setData(edges, 100 * counts / magnitudes.size)
            zeros = magnitudes.size - nonzero.size
            name = f"{w.shape[1]} → {w.shape[0]}" + (f" ({zeros:,} exact zeros)" if zeros else "")
            if curve.name() != name:  # re-laying out the legend is not free
                legend = self.histogram.plotItem.legend
                legend.removeItem(curve)
                curve.opts["name"] = name
                legend.addItem(curve, name)
        self.threshold_line.setValue(math.log10(threshold) if threshold > 0 else LOG_RANGE[0])
