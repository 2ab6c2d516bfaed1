"""Views that follow a run redraw on a timer, not on each event: an event only marks the view
stale, and the next tick draws it once, however many events came, while it can be seen (a
hidden tab draws when it is shown again).

A frame holds the GIL while it paints, and the training thread waits for it between kernels,
so each view redraws as seldom as its readers allow (measured with benchmarks/bench_gui.py:
the curves at 10 Hz cost training 3-13 points more than at 5 Hz).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QWidget

CURVES_MS = 200  # the loss curves, which a room watches: five times a second
SWEEP_MS = 500  # a sweep's curves are a summary of up to 64 models: twice a second
WEIGHTS_MS = 1000  # the weight images, a few thousand pixels each: once a second


class Redraw(QObject):
    def __init__(self, view: QWidget, draw: Callable[[], None], interval_ms: int) -> None:
        super().__init__(view)
        self._view, self._draw = view, draw
        self.stale = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    def mark(self) -> None:
        """Something the view shows has changed: draw it on the next tick."""
        self.stale = True

    @Slot()
    def flush(self) -> None:
        """Draw now if something changed and the view can be seen (a tick, a showEvent)."""
        if self._view.isVisible():
            self.now()

    def now(self) -> None:
        """Draw now if something changed, seen or not (before an export)."""
        if self.stale:
            self.stale = False
            self._draw()
