"""The application model under the window: what the app is doing, the current model, the history
of runs. Qt-free. Views subscribe to its events and render from it; nothing is read back from
a widget. The window's job runner feeds it engine events; it decides nothing about threads.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..training.config import TrainConfig
from ..training.events import (
    Event,
    HyperparamsChanged,
    Notice,
    Paused,
    Resumed,
    RunEnded,
    RunStatus,
    WeightSnapshot,
)
from ..training.sparsity import SparsityReport, sparsity
from ..training.weights import weight_matrices
from .emitter import Emitter
from .records import MIN_STEPS, Kind, RunRecord, differing
from .settings import Settings

if TYPE_CHECKING:  # the window imports this module before PyTorch has loaded
    import torch

    from ..training.compaction import Compacted
    from ..training.inference import Evaluation
    from ..training.model import MLP


CHANCE_LIMIT = 0.2  # test accuracy below this after MIN_STEPS steps: the net only guesses
LARGE_LR = 0.1  # a learning rate this large is named as a likely cause


class AppState(enum.Enum):
    LOADING = "loading"  # PyTorch and MNIST are being loaded
    IDLE = "idle"
    RUNNING = "running"  # a run or a sweep
    PAUSED = "paused"
    STOPPING = "stopping"
    BROKEN = "broken"  # it cannot train: no PyTorch, or damaged data


@dataclass(frozen=True)
class Enabled:
    """What the user may do now."""

    start: bool  # a run or a sweep
    pause: bool
    stop: bool
    reset: bool
    open_model: bool
    save_model: bool
    prune: bool
    step: bool  # train a mini-batch (or 50), then pause
    settings: bool  # the settings that are fixed while a run goes on
    live_l1: bool  # the L1 weight: at rest, or changed live in a single run
    live_l2: bool  # the L2 weight: the same
    live_lr: bool  # the learning rate: at rest, or live in any run


def enabled(state: AppState, has_model: bool, has_history: bool, several: bool) -> Enabled:
    """The one place that decides which controls are enabled. `several`: the active run trains
    several models (a sweep or a comparison), whose penalty weights are fixed."""
    idle = state is AppState.IDLE
    active = state in (AppState.RUNNING, AppState.PAUSED)
    at_rest = idle or state is AppState.LOADING
    return Enabled(
        start=idle, pause=active, stop=active, reset=idle and (has_model or has_history),
        open_model=idle, save_model=has_model and state is not AppState.LOADING,
        prune=has_model and idle, step=idle or state is AppState.PAUSED, settings=at_rest,
        live_l1=at_rest or (active and not several), live_l2=at_rest or (active and not several),
        live_lr=at_rest or active,
    )


@dataclass(frozen=True)
class CurrentModel:
    """The model the draw panel, the weights, the gallery and File -> Save use."""

    state: dict[str, torch.Tensor]  # CPU weights, never the tensors being trained
    config: TrainConfig
    origin: str  # "run 2", "sweep 3, L1 1e-3", "model.safetensors"
    trained_with: str  # the schedule: "L1 1e-4 -> 3e-3 at step 300, lr 1e-3"
    step: int = 0
    epoch: float = 0.0
    evaluation: Evaluation | None = None  # on the test set, once measured
    colour: int | None = None  # its line's place in the palette, when it is one of a comparison
    compacted: Compacted | None = None  # with what cannot change an output taken out, once measured
    changes: tuple[tuple[int, float, float, float], ...] = ()  # its live changes: RunRecord.live_changes

    @classmethod
    def from_file(cls, model: MLP, config: TrainConfig, summary: Mapping[str, object], origin: str,
                  trained_with: str, colour: int | None = None) -> CurrentModel:
        """A model read from a model file (core/files/modelfile.load_model's three parts)."""
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        step, epoch, changes = summary.get("step"), summary.get("epoch"), summary.get("changes")
        return cls(state, config, origin, trained_with, int(step) if isinstance(step, (int, float)) else 0,
                   float(epoch) if isinstance(epoch, (int, float)) else 0.0, colour=colour,
                   changes=tuple((int(c[0]), float(c[1]), float(c[2]), float(c[3])) for c in changes)
                   if isinstance(changes, list) else ())  # each checked when the file was read

    def weights(self) -> dict[str, torch.Tensor]:
        return weight_matrices(self.state)


class SessionEvents:
    def __init__(self) -> None:
        self.state = Emitter()  # (AppState)
        self.run_started = Emitter()  # (RunRecord)
        self.run_event = Emitter()  # (RunRecord, Event): steps, epochs, changes, divergence
        self.run_ended = Emitter()  # (RunRecord)
        self.runs = Emitter()  # () runs came into the history or left it (Clear, Reset, Shown)
        self.names = Emitter()  # () the runs' names changed (a live change, a renumbering)
        self.model = Emitter()  # (CurrentModel | None) new weights, or none
        self.evaluation = Emitter()  # (CurrentModel) its test-set evaluation arrived
        self.notice = Emitter()  # (text, kind) kind: "error" or "info"
        self.diagnosis = Emitter()  # (text or "") what the app says about the current run
        self.pruning = Emitter()  # () a pruning curve was added, or all were cleared
        self.stored = Emitter()  # () the list of kept runs changed


class Session:
    def __init__(self, settings: Settings | None = None) -> None:
        self.events = SessionEvents()
        self.settings = settings or Settings()
        self.state = AppState.LOADING
        self.history: list[RunRecord] = []
        self.active: RunRecord | None = None
        self.current: CurrentModel | None = None
        # The models of a comparison, side by side (current is one of them); else empty.
        self.compared: tuple[CurrentModel, ...] = ()
        self.diagnosis = ""
        self.pruning: list[tuple[str, list]] = []  # (label, PrunePoints): one per click
        self.stored: list = []  # StoredRun: the runs kept across restarts, newest first
        self.next_number = 1  # the history id the next run will be kept under
        self._before_run: tuple[CurrentModel, tuple[CurrentModel, ...]] | None = None
        self._colours = 0  # lines drawn so far: each new one takes the next colour

    # ---- state -------------------------------------------------------------------------------

    def set_state(self, state: AppState) -> None:
        if state is not self.state:
            self.state = state
            self.events.state.emit(state)

    def enabled(self) -> Enabled:
        several = self.active is not None and self.active.k > 1
        return enabled(self.state, self.current is not None, bool(self.history), several)

    def notify(self, text: str, kind: str = "error") -> None:
        self.events.notice.emit(text, kind)

    # ---- runs --------------------------------------------------------------------------------

    def begin(self, config: TrainConfig, l1_weights: list[float] | None = None,
              l2_weights: list[float] | None = None, kind: Kind = Kind.RUN) -> RunRecord:
        """A run, or with `l1_weights` and `l2_weights` (one pair per model) a sweep or a
        comparison, starts. It is numbered as it will be kept, its models one id each."""
        l1 = tuple(l1_weights or [config.l1_weight])
        if (len(l1) > 1) != (kind is not Kind.RUN):
            raise ValueError(f"a {kind.value} trains {'one model' if kind is Kind.RUN else 'several'}, "
                             f"got {len(l1)} L1 weights")
        record = RunRecord(self.next_number, config, l1, tuple(l2_weights or [config.l2_weight] * len(l1)),
                           kind, colour=self._colours)
        self.next_number += record.k
        self._colours += record.k
        self._before_run = (self.current, self.compared) if self.current is not None else None
        self.active = record
        self.history.append(record)
        self._set_diagnosis("")
        self.set_state(AppState.RUNNING)
        self.events.run_started.emit(record)
        self.events.runs.emit()
        return record

    def apply(self, event: Event) -> None:
        """An event of the active run, in the GUI thread."""
        record = self.active
        if record is None:
            return
        if isinstance(event, (Paused, Resumed)) and self.state is not AppState.STOPPING:
            self.set_state(AppState.PAUSED if isinstance(event, Paused) else AppState.RUNNING)
        if isinstance(event, Notice):
            self.notify(f"{record.title}: {event.text}", "info")
            return
        record.apply(event)
        if isinstance(event, WeightSnapshot):
            if record.kind is Kind.RUN:
                self._show_snapshot(record, event)
            elif record.comparison and event.model == record.k - 1:  # the last of one step's
                self._show_comparison(record)
            return
        self.events.run_event.emit(record, event)
        if isinstance(event, HyperparamsChanged):
            self.events.names.emit()  # they now carry the change
        if record.epochs and record.kind is Kind.RUN:
            self._set_diagnosis(self._collapse_text(record))

    def end(self, ended: RunEnded) -> None:
        """The active run's thread has ended, with this RunEnded."""
        record = self.active
        if record is None:
            return
        record.apply(ended)
        self.active = None
        if record.kind is Kind.RUN and ended.status is not RunStatus.FAILED:
            self._set_diagnosis(self._collapse_text(record) or _chance_text(record))
        self.set_state(AppState.IDLE)
        self.events.run_ended.emit(record)
        if ended.status is RunStatus.FAILED:
            self.notify(f"Training failed: {ended.reason}")

    def lines(self) -> dict[tuple[RunRecord, int], str]:
        """Every model drawn on the curves, (record, model) -> its legend name: a run by its
        schedule and whatever else differs between runs, a comparison's models by their
        penalty. Sweeps are drawn on their own tab."""
        runs = [r for r in self.history if not r.sweep]
        fields = differing(runs)
        return {(r, m): (r.line_name(m) if r.comparison else f"{r.title}: {r.label(fields)}")
                for r in runs for m in range(r.k)}

    def reset(self) -> None:
        """Forget the model and every run (the curves, the summaries, the sweep)."""
        self.history.clear()
        self.current = None
        self._set_diagnosis("")
        self.events.runs.emit()
        self.events.stored.emit()
        self.events.model.emit(None)

    def kept(self, record: RunRecord, ids: list[int]) -> None:
        """The record was kept under `ids`: if another process kept runs meanwhile, they are not
        the ones it was named for, so it takes its real number (and so do the runs after it)."""
        self.next_number = max(self.next_number, ids[-1] + 1)
        if ids[0] != record.number:
            record.number = ids[0]
            record.title = f"{record.kind.value} #{record.number}"
            self.events.names.emit()

    def set_stored(self, runs: list) -> None:
        self.stored = runs
        self.events.stored.emit()

    def shown_ids(self) -> set[int]:
        """The kept runs whose curves are on the plots (a run of this session or one reloaded)."""
        return {i for r in self.history if not r.sweep for i in r.stored_ids}

    def show_record(self, record: RunRecord) -> None:
        """Draw a kept run's curves again, beside this session's runs, in a colour of its own."""
        record.colour = self._colours
        self._colours += record.k
        self.history.append(record)
        self.events.runs.emit()
        self.events.stored.emit()

    def hide_stored(self, run_id: int) -> None:
        self.history = [r for r in self.history if r.sweep or run_id not in r.stored_ids
                        or r is self.active]
        self.events.runs.emit()
        self.events.stored.emit()

    def add_pruning(self, label: str, points: list) -> None:
        self.pruning.append((label, points))
        self.events.pruning.emit()

    def clear_pruning(self) -> None:
        self.pruning.clear()
        self.events.pruning.emit()

    def clear_old_runs(self) -> None:
        self.history = [r for r in self.history if r is self.active]
        self.events.runs.emit()
        self.events.stored.emit()

    # ---- the current model -------------------------------------------------------------------

    def use_model(self, model: CurrentModel, compared: tuple[CurrentModel, ...] = ()) -> None:
        """`model` becomes the current one; with `compared`, the models shown beside it."""
        self.current = model
        self.compared = compared
        if self.active is None:
            self._set_diagnosis("")
        self.events.model.emit(model)

    def evaluated(self, model: CurrentModel, evaluation: Evaluation, compacted: Compacted | None = None) -> None:
        """An evaluation finished; it counts only if that model is still the current one."""
        if self.current is not None and self.current.state is model.state:
            self.current = replace(self.current, evaluation=evaluation, compacted=compacted)
            self.events.evaluation.emit(self.current)

    def sparsity(self) -> SparsityReport | None:
        """The current model's sparsity at the threshold now chosen."""
        return None if self.current is None else sparsity(self.current.weights(), self.threshold)

    @property
    def threshold(self) -> float:
        """The sparsity threshold: one, in the settings."""
        return float(self.settings["threshold"])

    def shown_models(self) -> tuple[CurrentModel, ...]:
        """What the sparsity readout and the Weights tab show: a comparison's models side by
        side, else the current model alone (none before there is one)."""
        return self.compared or ((self.current,) if self.current is not None else ())

    def _show_snapshot(self, record: RunRecord, snapshot: WeightSnapshot) -> None:
        if record.kept_at.get(0) == 0:
            # It diverged before its weights were ever checked finite: what it keeps are its
            # starting weights, no model of its own. The model before it stays the current one.
            if self._before_run is not None:
                self.use_model(*self._before_run)
            return
        self.use_model(CurrentModel(snapshot.state, record.config, record.title,
                                    record.schedule(), snapshot.step, snapshot.epoch,
                                    changes=tuple(record.live_changes())))

    def _show_comparison(self, record: RunRecord) -> None:
        """The comparison's latest weights, side by side; its L1 model (the last) is current."""
        models = tuple(CurrentModel(s.state, record.config.replace(l1_weight=record.l1_weights[m],
                                                                   l2_weight=record.l2_weights[m]),
                                    record.line_name(m), record.model_name(m), s.step, s.epoch,
                                    colour=record.colour + m, changes=tuple(record.live_changes(m)))
                       for m, s in sorted(record.snapshots.items()))
        self.use_model(models[-1], models)

    def _collapse_text(self, record: RunRecord) -> str:
        if not record.collapsed():
            return ""
        return (f"The network has collapsed to chance: test accuracy {record.test_accuracy():.1%} "
                "and cross-entropy ≈ ln 10 = 2.303 for the last steps. The L1 weight "
                f"({record.l1_schedule()}) outweighs what the data can hold up, so every weight "
                "is pulled to zero. Try 1e-4.")

    def _set_diagnosis(self, text: str) -> None:
        if text != self.diagnosis:
            self.diagnosis = text
            self.events.diagnosis.emit(text)


def _chance_text(record: RunRecord) -> str:
    """What to say of a run that ended no better than guessing, whatever its loss did (a noisy
    cross-entropy escapes the collapse rule: L1 10 at lr 1 ended at 10%)."""
    accuracy = record.test_accuracy()
    if accuracy is None or accuracy >= CHANCE_LIMIT or record.steps_done < MIN_STEPS:
        return ""
    causes = []
    if any(record.l1_weights) or record.uses_l2():
        causes.append(f"the penalty ({record.schedule().rsplit(', lr', 1)[0]}) outweighs what the data "
                      "can hold up: try an L1 weight of 1e-4")
    if record.config.lr >= LARGE_LR:
        causes.append(f"the learning rate ({record.config.lr:g}) is very large: try 1e-3")
    said = "; ".join(causes) or "try a smaller learning rate"
    return (f"The network ended at chance: test accuracy {accuracy:.1%} after {record.steps_done:,} steps, "
            f"as good as guessing. {said[0].upper()}{said[1:]}.")
