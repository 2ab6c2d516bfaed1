"""The runs kept across restarts, as the window uses them: opening the history, keeping each
run as it ends (in a job; at once while the window closes), showing, opening and deleting kept
runs. The store is Qt-free (core/files/store.py); this holds it and talks to the session.

Every failure of the store is a StoreError whose message is written for the user: it is shown
in the message bar by `_told`, and what was asked does nothing more.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..core import lazy
from ..core.app.records import RunRecord
from ..core.app.session import CurrentModel, Session
from ..core.errors import describe
from ..core.files.store import RunStore, StoreError
from .jobs import JobRunner

if TYPE_CHECKING:
    from .controller import Controller

T = TypeVar("T")


class History:
    def __init__(self, session: Session, runner: JobRunner, models: Controller) -> None:
        """`models`: what opens a model file and makes models current."""
        self.session, self.runner, self.models = session, runner, models
        self.store: RunStore | None = None

    def open(self) -> None:
        """The runs kept across restarts (a damaged history is set aside and said so)."""
        self.store = self._told(RunStore, "Runs will not be kept: ")
        if self.store is None:
            return
        if self.store.notice:
            self.session.notify(self.store.notice, "info")
        # Runs are named by the id they will be kept under: one numbering everywhere.
        next_id = self._told(self.store.next_id)
        if next_id is not None:
            self.session.next_number = next_id
        self._refresh_stored()

    def keep(self, record: RunRecord) -> None:
        store = self.store
        if store is None:
            return

        def kept(ids: list[int]) -> None:
            record.stored_ids.extend(ids)
            self.session.kept(record, ids)
            self._refresh_stored()

        # A kind per run: a second run ending meanwhile must not replace this one's outcome.
        self.runner.call(f"keep {record.number}", lambda: store.add(record), done=kept,
                         fail=lambda exc: self.session.notify(f"The run was not kept: {describe(exc)}"))

    def keep_now(self, record: RunRecord) -> None:
        if self.store is None:
            return
        try:
            self.store.add(record)
        except StoreError as exc:  # the window is gone: the terminal is the one place left to say it
            print(f"l1-trainer: the run was not kept in the history: {exc}", file=sys.stderr)

    def show(self, run_id: int, shown: bool) -> None:
        """Draw a kept run's curves beside this session's runs, or take them away; a kept
        comparison's models come and go together."""
        store = self.store
        if store is None:
            return

        def change() -> None:
            for one in store.group(run_id):
                if not shown:
                    self.session.hide_stored(one)
                elif one not in self.session.shown_ids():
                    self.session.show_record(store.record(one))

        self._told(change)

    def open_run(self, run_id: int) -> bool:
        """A kept run's weights as the current model; a kept comparison's models side by side
        (their curves drawn too), its last (L1) model the current one."""
        store = self.store
        ids = self._told(store.group, args=(run_id,)) if store is not None else None
        if store is None or ids is None:
            return False
        if len(ids) == 1:
            return self.models.open_model(store.weights_file(run_id), origin=f"run #{run_id}")
        self.show(run_id, True)
        records = {r.stored_ids[0]: r for r in self.session.history if r.stored_ids}
        try:
            models = [_kept_model(store, one, records[one]) for one in ids]
        except (StoreError, lazy.ModelFileError, KeyError) as exc:
            self.session.notify(f"Could not open the comparison: {exc}")
            return False
        self.models.use(models[-1], tuple(models))
        self.session.notify(f"Opened comparison #{ids[0]}: " + ", ".join(m.trained_with for m in models)
                            + ", side by side", "info")
        return True

    def export_script(self, run_id: int, path: Path) -> bool:
        """A kept run as one plain PyTorch script, from its model file (settings, live changes)."""
        if self.store is None:
            return False
        try:
            model = CurrentModel.from_file(*lazy.load_model(self.store.weights_file(run_id)),
                                           f"run #{run_id}", "")
        except (StoreError, lazy.ModelFileError) as exc:
            self.session.notify(f"Could not export run #{run_id}: {exc}")
            return False
        return self.models.export_script(path, model)

    def delete(self, run_id: int) -> None:
        if self.store is None:
            return
        self.session.hide_stored(run_id)
        self._told(self.store.delete, args=(run_id,))
        self._refresh_stored()

    def _refresh_stored(self) -> None:
        if self.store is not None:
            runs = self._told(self.store.runs)
            if runs is not None:
                self.session.set_stored(runs)

    def _told(self, work: Callable[..., T], prefix: str = "", args: tuple = ()) -> T | None:
        """`work(*args)`, or None when the store failed, said in the message bar."""
        try:
            return work(*args)
        except StoreError as exc:
            self.session.notify(prefix + str(exc))
            return None


def _kept_model(store: RunStore, run_id: int, record: RunRecord) -> CurrentModel:
    """A kept model of a comparison, named and coloured as its curves are."""
    return CurrentModel.from_file(*lazy.load_model(store.weights_file(run_id)), record.line_name(),
                                  record.model_name(), colour=record.colour)
