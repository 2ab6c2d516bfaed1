"""Presentation mode (F11): full screen, larger text and thicker lines, for a projector."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import pyqtgraph as pg
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QApplication, QMainWindow, QTabWidget

from .plots import LossPlots, scale_text


class Presenting(Protocol):
    def set_presenting(self, on: bool) -> None: ...

TEXT_SCALE = 1.5


class Presentation:
    """The View menu's checkable action (F11) and what it switches."""

    def __init__(self, window: QMainWindow, plots: LossPlots, panels: list[Presenting], tabs: QTabWidget) -> None:
        """`panels`: the side panels, each with set_presenting(on) (the settings give way to
        their summary, the sparsity readout widens)."""
        self.window, self.plots, self.panels, self.tabs = window, plots, panels, tabs
        self._normal_font: QFont | None = None  # the application's font before the first switch
        self.action = QAction("&Presentation mode", window)
        self.action.setShortcut("F11")
        self.action.setCheckable(True)
        self.action.setToolTip("Full screen, larger text, thicker lines: for a projector")
        self.action.toggled.connect(self.set)

    def set(self, on: bool) -> None:
        """Full screen, larger text, thicker lines (F11 again to leave)."""
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        if self._normal_font is None:
            self._normal_font = QFont(app.font())
        factor = TEXT_SCALE if on else 1.0
        font = QFont(self._normal_font)
        font.setPointSizeF(self._normal_font.pointSizeF() * factor)
        app.setFont(font)
        # The tabs keep their size: the room reads the plots, and seven larger tabs would not fit.
        self.tabs.setFont(self._normal_font)
        # Annotated: PySide6 6.8's stub does not tie findChildren's result type to its argument.
        plots: Iterable[pg.PlotWidget] = self.window.findChildren(pg.PlotWidget)
        for plot in plots:
            scale_text(plot, factor, self._normal_font.pointSizeF())
        self.plots.set_presenting(on)
        for panel in self.panels:
            panel.set_presenting(on)
        if on:
            self.window.showFullScreen()
        else:
            self.window.showNormal()
