"""File → Export… and the tabs' export buttons: CSV files of curves, summaries, a sweep and the
kept runs, and the plots as PNG. Each writes what the session holds, and says how it went in
the window's message bar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from ..core.app.session import Session
from ..core.files.export import write_curves, write_runs, write_summaries
from .plots import LossPlots
from .sweep_view import SweepView


class Exports:
    def __init__(self, parent: QWidget, session: Session, plots: LossPlots, sweep_view: SweepView) -> None:
        self.parent, self.session, self.plots, self.sweep_view = parent, session, plots, sweep_view

    def curves(self, path: Path) -> int:
        """Every run's per-step losses and per-epoch accuracy so far (a paused or running one's
        too), one row per point."""
        lines = {key: label for key, label in self.session.lines().items() if key[0].steps_done}
        if not lines:
            self.session.notify("There are no curves to export yet: train a model first.")
            return 0
        return self._export(path, lambda: write_curves(path, lines))

    def summaries(self, path: Path) -> int:
        """One row per run (and per model of a sweep) in the history."""
        return self._export(path, lambda: write_summaries(path, self.session.history))

    def sweep(self, path: Path) -> int:
        record = self.sweep_view.record
        return self._export(path, lambda: write_summaries(path, [record] if record else []))

    def runs(self, path: Path) -> int:
        return self._export(path, lambda: write_runs(path, self.session.stored))

    def plots_png(self, stem: Path) -> int:
        return self._export(stem, lambda: len(self.plots.export_png(stem)))

    def ask_path(self, title: str, name: str, pattern: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, title, str(Path.home() / name), pattern)
        return Path(path) if path else None

    def dialog(self, title: str, name: str, pattern: str, export: Callable[[Path], object]) -> None:
        """Ask where, then export there (with the suffix `name` has)."""
        if path := self.ask_path(title, name, pattern):
            export(path.with_suffix(Path(name).suffix))

    def _export(self, path: Path, write: Callable[[], int]) -> int:
        try:
            count = write()
        except OSError as exc:
            self.session.notify(f"Could not export to {path}: {exc.strerror or exc}")
            return 0
        self.session.notify(f"Exported to {path}", "info")
        return count
