"""Presentation mode (F11): full screen, larger text and thicker lines, for a projector."""

from __future__ import annotations

from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QApplication, QMainWindow

from l1_trainer.gui.plots import LINE_WIDTH, LossPlots, scale_text

TEXT_SCALE = 1.5
LINE_SCALE = 2.5


class Presentation:
    """The View menu's checkable action (F11) and what it switches."""

    def __init__(self, window: QMainWindow, plots: LossPlots) -> None:
        self.window, self.plots = window, plots
        self._normal_font: QFont | None = None  # the application's font before the first switch
        self.action = QAction("&Presentation mode", window)
        self.action.setShortcut("F11")
        self.action.setCheckable(True)
        self.action.setToolTip("Full screen, larger text, thicker lines: for a projector")
        self.action.toggled.connect(self.set)

    def set(self, on: bool) -> None:
        """Full screen, larger text, thicker lines (F11 again to leave)."""
        import pyqtgraph as pg

        app = QApplication.instance()
        if self._normal_font is None:
            self._normal_font = QFont(app.font())
        factor = TEXT_SCALE if on else 1.0
        font = QFont(self._normal_font)
        font.setPointSizeF(self._normal_font.pointSizeF() * factor)
        app.setFont(font)
        for plot in self.window.findChildren(pg.PlotWidget):
            scale_text(plot, factor)
        self.plots.set_line_width(LINE_WIDTH * (LINE_SCALE if on else 1.0))
        if on:
            self.window.showFullScreen()
        else:
            self.window.showNormal()
