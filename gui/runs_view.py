"""The Runs tab: every run kept across restarts, sortable by any column; show one's curves beside
this session's, open its weights as the current model, delete it, export them all as CSV."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.app.session import Session
from .inputs import named_button, plain_label

# (header, StoredRun field, how it is shown); the field's own value is what a column sorts by.
COLUMNS: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("Shown", "", str),  # the tick box
    ("#", "id", str),
    ("When", "created", str),
    ("Kind", "kind", str),
    ("Trained with", "schedule", str),
    ("Status", "status", str),
    ("Test accuracy", "test_accuracy", lambda v: f"{v:.2%}"),
    ("Sparsity", "sparsity", lambda v: f"{v:.1%}"),
    ("Epochs", "epochs", str),
    ("Batch", "batch_size", str),
    ("Images", "train_images", lambda v: f"{v:,}"),
    ("Method", "l1_method", str),
    ("Weight decay", "weight_decay", lambda v: f"{v:g}"),
)


class _Item(QTableWidgetItem):
    """A cell that sorts by its value (numbers as numbers; a missing value first)."""

    def __init__(self, text: str, value: object) -> None:
        super().__init__(text)
        self.value = value

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.value, getattr(other, "value", None)
        if a is None or b is None:
            return a is None and b is not None
        return a < b


class RunsView(QWidget):
    showRequested = Signal(int, bool)  # run id, shown
    openRequested = Signal(int)
    deleteRequested = Signal(int)
    exportRequested = Signal()
    scriptRequested = Signal(int)  # run id: export it as a script

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runsTable")
        self.table.setAccessibleName("Kept runs")
        self.table.setToolTip("Every run kept across restarts. Click a header to sort; tick "
                              "Shown to draw a run's curves beside this session's.")
        self.table.setHorizontalHeaderLabels([c[0] for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # "Trained with" carries the schedule: wide enough to read, the rest scrolls beside it.
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(4, 260)
        self.table.itemChanged.connect(self._item_changed)
        self.open_button = named_button("runsOpenButton", "Open as model", "Make the selected run's "
                                        "final weights the current model", self._open)
        self.delete_button = named_button("runsDeleteButton", "Delete", "Delete the selected run "
                                          "and its weights from the history", self._delete)
        self.export_button = named_button("runsExportButton", "Export CSV…", "Write every kept "
                                          "run to a CSV file", self.exportRequested.emit)
        self.script_button = named_button("runsScriptButton", "As script…", "Write the selected "
                                          "run as one plain PyTorch script that trains it again",
                                          self._script)
        self.summary = plain_label("")
        self.summary.setObjectName("runsSummary")
        buttons = QHBoxLayout()
        for widget in (self.open_button, self.delete_button, self.script_button, self.export_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.summary)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        self._filling = False
        session.events.stored.connect(self._fill)
        self._fill()

    def _fill(self) -> None:
        """The session's list of kept runs, with Shown ticked for those on the plots."""
        shown = self.session.shown_ids()
        self._filling = True  # ticks set here are not the user's
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.session.stored))
        for row, run in enumerate(self.session.stored):
            tick = _Item("", run.id in shown)
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled
                          | Qt.ItemFlag.ItemIsSelectable)
            tick.setCheckState(Qt.CheckState.Checked if run.id in shown else Qt.CheckState.Unchecked)
            tick.setData(Qt.ItemDataRole.UserRole, run.id)
            self.table.setItem(row, 0, tick)
            for column, (_, field, show) in enumerate(COLUMNS[1:], 1):
                value = getattr(run, field)
                self.table.setItem(row, column, _Item("" if value is None else show(value), value))
        self.table.setSortingEnabled(True)
        self._filling = False
        self.summary.setText(f"{len(self.session.stored)} run(s) kept")

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        item = self.table.item(rows[0].row(), 0) if rows else None
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    @Slot(QTableWidgetItem)
    def _item_changed(self, item: QTableWidgetItem) -> None:
        if not self._filling and item.column() == 0:
            self.showRequested.emit(item.data(Qt.ItemDataRole.UserRole),
                                    item.checkState() == Qt.CheckState.Checked)

    @Slot()
    def _open(self) -> None:
        if (run_id := self.selected_id()) is not None:
            self.openRequested.emit(run_id)

    @Slot()
    def _script(self) -> None:
        if (run_id := self.selected_id()) is not None:
            self.scriptRequested.emit(run_id)

    @Slot()
    def _delete(self) -> None:
        if (run_id := self.selected_id()) is not None:
            self.deleteRequested.emit(run_id)
