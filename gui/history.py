"""The runs kept across restarts, as the window uses them: opening the history, keeping each
run as it ends (in a job; at once while the window closes), showing, opening and deleting kept
runs. The store is Qt-free (core/store.py); this holds it and talks to the session.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..core.app.session import CurrentModel, Session
from .jobs import JobRunner

if TYPE_CHECKING:
    from ..core.app.records import RunRecord
    from ..core.files.store import RunStore
    from .controller import Controller


class History:
    def __init__(self, session: Session, runner: JobRunner, models: Controller) -> None:
        """`models`: what opens a model file and makes models current."""
        self.session, self.runner, self.models = session, runner, models
        self.store: RunStore | None = None

    def open(self) -> None:
        """The runs kept across restarts (a damaged history is set aside and said so)."""
        from ..core.files.store import RunStore, StoreError

        try:
            self.store = RunStore()
        except StoreError as exc:
            self.session.notify(f"Runs will not be kept: {exc}")
            return
        if self.store.notice:
            self.session.notify(self.store.notice, "info")
        try:  # runs are named by the id they will be kept under: one numbering everywhere
            self.session.next_number = self.store.next_id()
        except StoreError as exc:
            self.session.notify(str(exc))
        self._refresh_stored()

    def _refresh_stored(self) -> None:
        from ..core.files.store import StoreError

        try:
            self.session.set_stored(self.store.runs())
        except StoreError as exc:
            self.session.notify(str(exc))

    def keep(self, record: RunRecord) -> None:
        store = self.store
        if store is None:
            return

        def kept(ids: list[int]) -> None:
            record.stored_ids.extend(ids)
            self.session.kept(record, ids)
            self._refresh_stored()

        # A kind per run: a second run ending meanwhile must not replace this one's outcome.
        self.runner.start(f"keep {record.number}", lambda emit: store.add(record), done=kept,
                          fail=lambda message: self.session.notify(f"The run was not kept: {message}"))

    def keep_now(self, record: RunRecord) -> None:
        from ..core.files.store import StoreError

        if self.store is None:
            return
        try:
            self.store.add(record)
        except StoreError as exc:  # the window is gone: the terminal is the one place left to say it
            print(f"l1-trainer: the run was not kept in the history: {exc}", file=sys.stderr)

    def show(self, run_id: int, shown: bool) -> None:
        """Draw a kept run's curves beside this session's runs, or take them away; a kept
        comparison's models come and go together."""
        from ..core.files.store import StoreError

        try:
            ids = self.store.group(run_id)
            for one in ids:
                if not shown:
                    self.session.hide_stored(one)
                elif one not in self.session.shown_ids():
                    self.session.show_record(self.store.record(one))
        except StoreError as exc:
            self.session.notify(str(exc))

    def open_run(self, run_id: int) -> bool:
        """A kept run's weights as the current model; a kept comparison's models side by side
        (their curves drawn too), its last (L1) model the current one."""
        from ..core.files.modelfile import ModelFileError, load_model
        from ..core.files.store import StoreError

        try:
            ids = self.store.group(run_id)
            if len(ids) == 1:
                return self.models.open_model(self.store.weights_file(run_id), origin=f"run #{run_id}")
            self.show(run_id, True)
            records = {r.stored_ids[0]: r for r in self.session.history if r.stored_ids}
            models = []
            for one in ids:
                model, config, summary = load_model(self.store.weights_file(one))
                record = records[one]
                models.append(CurrentModel({k: v.detach().clone() for k, v in model.state_dict().items()},
                                           config, record.line_name(), record.model_name(),
                                           int(summary.get("step") or 0), float(summary.get("epoch") or 0.0),
                                           colour=record.colour))
        except (StoreError, ModelFileError, KeyError) as exc:
            self.session.notify(f"Could not open the comparison: {exc}")
            return False
        self.models.use(models[-1], tuple(models))
        self.session.notify(f"Opened comparison #{ids[0]}: " + ", ".join(m.trained_with for m in models)
                            + ", side by side", "info")
        return True

    def delete(self, run_id: int) -> None:
        from ..core.files.store import StoreError

        self.session.hide_stored(run_id)
        try:
            self.store.delete(run_id)
        except StoreError as exc:
            self.session.notify(str(exc))
        self._refresh_stored()
