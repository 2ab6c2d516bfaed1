"""The hidden units as the network sees a drawing: one cell per unit, brighter the more it fires;
units L1 has switched off (every incoming weight at or below the threshold) are greyed out."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

CELL = 13  # pixels a unit, gaps included
PER_ROW = 32
DEAD = QColor("#c8c8c8")


class UnitsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hiddenUnits")
        self.setAccessibleName("Hidden units' activations")
        self.setToolTip("Each cell is a hidden unit: the brighter, the more it fires for this "
                        "drawing. Grey crossed cells are dead: L1 has pulled every weight into "
                        "them to zero, so they never fire.")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.layers: list[tuple[np.ndarray, set[int]]] = []  # (activations, dead units) per layer
        self._resize()

    def show_units(self, layers: list[tuple[np.ndarray, set[int]]]) -> None:
        """Each hidden layer's activations and the indices of its dead units."""
        self.layers = layers
        self._resize()
        self.update()

    def _rows(self) -> list[tuple[int, int]]:
        """(layer, first unit) for each row of cells."""
        return [(i, start) for i, (values, _) in enumerate(self.layers) for start in range(0, len(values), PER_ROW)]

    def _resize(self) -> None:
        rows = len(self._rows()) + len(self.layers)  # a caption line above each layer
        self.setFixedHeight(max(1, rows) * (CELL + 3) + 4)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        y = 2
        for i, (values, dead) in enumerate(self.layers):
            painter.setPen(QColor("#444"))
            alive = len(values) - len(dead)
            painter.drawText(QRectF(0, y, self.width(), CELL + 2), Qt.AlignmentFlag.AlignLeft,
                             f"Hidden layer {i + 1}: {len(values)} units, {alive} alive")
            y += CELL + 3
            top = float(values.max()) or 1.0
            for start in range(0, len(values), PER_ROW):
                for k, unit in enumerate(range(start, min(start + PER_ROW, len(values)))):
                    cell = QRectF(k * CELL, y, CELL - 2, CELL - 2)
                    if unit in dead:
                        painter.fillRect(cell, DEAD)
                        painter.setPen(QPen(QColor("#999"), 1))
                        painter.drawLine(cell.topLeft(), cell.bottomRight())
                    else:
                        level = float(values[unit]) / top  # 0: silent (white) .. 1: orange
                        painter.fillRect(cell, QColor(255, round(255 - 128 * level), round(255 - 255 * level)))
                        painter.setPen(QPen(QColor("#bbb"), 1))
                        painter.drawRect(cell)
                y += CELL + 3
        painter.end()
