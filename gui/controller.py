"""Between the window and the engine: it starts a job for what the user asks, and feeds what the
job reports into the session. The truth is in the session; this holds only the run's Control
and the MNIST tensors, loaded once at start and handed to every job.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import lazy
from ..core.app.numbers import short
from ..core.app.records import Kind, RunRecord
from ..core.app.session import AppState, CurrentModel, Session
from ..core.errors import describe, missing_for_onnx
from ..core.files.writing import write_atomic
from ..core.training.config import TrainConfig
from ..core.training.events import Event, RunEnded, RunStatus, coalesced
from ..core.training.threads import default_threads
from .history import History
from .jobs import JobRunner

if TYPE_CHECKING:  # for the checker only: these modules import PyTorch
    from ..core.files.onnx_export import OnnxExport
    from ..core.training.compaction import Compacted
    from ..core.training.dataset import MnistTensors
    from ..core.training.devices import DeviceInfo
    from ..core.training.engine import Control, Trainer
    from ..core.training.inference import Evaluation

STEPS_INTERVAL_S = 0.2  # steps reach the window at most five times a second, as often as it redraws


class Controller:
    def __init__(self, session: Session, runner: JobRunner, data_dir: Path | None = None,
                 data: MnistTensors | None = None) -> None:
        self.session = session
        self.runner = runner
        self.data_dir = data_dir
        self.data = data  # on the CPU
        self.control: Control | None = None  # the active run's
        self.history = History(session, runner, self)
        # A change of these while a run goes on reaches it from the next step.
        session.settings.events["l1_weight"].connect(self.set_l1_weight)
        session.settings.events["l2_weight"].connect(self.set_l2_weight)
        session.settings.events["lr"].connect(self.set_lr)

    # ---- start-up ----------------------------------------------------------------------------

    def load(self, ready: Callable[[list[DeviceInfo], str], None], failed: Callable[[str], None]) -> None:
        """Import PyTorch and read MNIST in the background (seconds); then `ready(devices,
        what auto picks)` and the session is IDLE. A failure leaves it BROKEN and says why."""
        need_data = self.data is None
        data_dir = self.data_dir

        def work() -> tuple[list[DeviceInfo], str, MnistTensors | None]:
            lazy.load()
            data = lazy.load_mnist("cpu", data_dir) if need_data else None
            devices = lazy.available_devices()
            auto = lazy.resolve_device("auto")
            label = next((d.label for d in devices if d.name.split(":")[0] == auto.type), "CPU")
            return devices, label, data

        def done(result: tuple[list[DeviceInfo], str, MnistTensors | None]) -> None:
            devices, label, data = result
            if data is not None:
                self.data = data
            ready(devices, label)
            self.session.set_state(AppState.IDLE)

        def fail(exc: Exception) -> None:
            message = f"L1 Trainer cannot train: {describe(exc)}"
            self.session.notify(message)
            self.session.set_state(AppState.BROKEN)
            failed(message)

        self.runner.call("load", work, done=done, fail=fail)

    # ---- runs and sweeps ---------------------------------------------------------------------

    def start(self, config: TrainConfig, l1_weights: list[float] | None = None,
              l2_weights: list[float] | None = None, steps: int | None = None,
              kind: Kind = Kind.RUN) -> bool:
        """A run, or with `l1_weights` and `l2_weights` a sweep or a comparison (`kind`): one
        model per pair, at once. `steps`: train that many mini-batches, then pause (Step)."""
        if self.session.state is not AppState.IDLE or self.runner.busy or self.data is None:
            return False
        models = len(l1_weights) if l1_weights else 1
        # Set in this thread, the count holds in the job's thread too; the same as the CLI's.
        lazy.torch.set_num_threads(default_threads(config.batch_size, models))
        control = lazy.Control(models)
        if steps is not None:
            control.advance(steps)
        record = self.session.begin(config, l1_weights, l2_weights,
                                    kind if l1_weights else Kind.RUN)
        data = self.data

        def steps_of_run() -> Generator[Event, None, RunEnded]:
            return _training(lazy.Trainer(config, data, l1_weights=l1_weights,
                                          l2_weights=l2_weights, control=control))

        self.control = control
        self.runner.iterate(JobRunner.EXCLUSIVE, steps_of_run, progress=self.session.apply,
                            done=self._ended, fail=lambda exc: self._crashed(record, exc),
                            cancel=control.stop)
        return True

    def toggle_pause(self) -> None:
        if self.control is None:
            return
        if self.session.state is AppState.PAUSED:
            self.control.resume()
        elif self.session.state is AppState.RUNNING:
            self.control.pause()

    def advance(self, steps: int) -> None:
        """From a pause, train `steps` more mini-batches, then pause again."""
        if self.control is not None and self.session.state is AppState.PAUSED:
            self.control.advance(steps)

    def stop(self) -> None:
        if self.control is not None and self.session.state in (AppState.RUNNING, AppState.PAUSED):
            self.control.stop()
            self.session.set_state(AppState.STOPPING)

    def set_l1_weight(self, value: float) -> None:
        self._live(lambda control: control.set_l1_weight(value))

    def set_l2_weight(self, value: float) -> None:
        self._live(lambda control: control.set_l2_weight(value))

    def set_lr(self, value: float) -> None:
        self._live(lambda control: control.set_lr(value))

    def _live(self, change: Callable[[Control], None]) -> None:
        if self.control is None or self.session.state not in (AppState.RUNNING, AppState.PAUSED):
            return
        try:
            change(self.control)
        except ValueError as exc:
            self.session.notify(f"Not applied: {exc}")

    def _ended(self, ended: RunEnded) -> None:
        self.control = None
        record = self.session.active
        self.session.end(ended)
        if record is None:
            return
        if self.runner.closed:  # the window is closing: keep the run now, in this thread
            self.history.keep_now(record)
            return
        self.evaluate()
        self.history.keep(record)

    def _crashed(self, record: RunRecord, exc: Exception) -> None:
        self._ended(RunEnded(RunStatus.FAILED, describe(exc), record.steps_done, len(record.epochs)))

    # ---- the current model -------------------------------------------------------------------

    def evaluate(self, then: Callable[[Evaluation], None] | None = None) -> None:
        """Predict the whole test set with the current model, for the gallery and the status;
        then `then(evaluation)`."""
        model, data = self.session.current, self.data
        if model is None or data is None:
            return

        def work() -> tuple[Evaluation, Compacted]:
            return (lazy.evaluate(lazy.model_from_state(model.state), data.test_x, data.test_y),
                    lazy.compact(model.state))

        def done(result: tuple[Evaluation, Compacted]) -> None:
            evaluation, compacted = result
            self.session.evaluated(model, evaluation, compacted)
            if then is not None:
                then(evaluation)

        self.runner.call("evaluate", work, done=done, fail=lambda exc: self.session.notify(
            f"Evaluating the model failed: {describe(exc)}"))

    def prune(self) -> None:
        """Add the current model's pruning curve (computed in the background)."""
        model, data = self.session.current, self.data
        if model is None or data is None:
            return
        label = f"{model.origin}: {model.trained_with}, {model.config.l1_method}"
        self.runner.call("prune",
                         lambda: lazy.pruning_curve(lazy.model_from_state(model.state), data.test_x, data.test_y),
                         done=lambda points: self.session.add_pruning(label, points),
                         fail=lambda exc: self.session.notify(f"Pruning failed: {describe(exc)}"))

    def open_model(self, path: Path, origin: str = "") -> bool:
        """Make a saved model the current one; a bad file changes nothing and says why."""
        try:
            model, config, summary = lazy.load_model(path)
        except lazy.ModelFileError as exc:
            self.session.notify(f"Could not open the model: {exc}")
            return False
        trained_with = str(summary.get("schedule") or f"L1 {short(config.l1_weight)}, lr {short(config.lr)}")
        origin = origin or path.name
        opened = f"Opened {origin}: trained with {trained_with}, {config.epochs} epoch(s)"
        self.session.notify(f"{opened}; measuring its test accuracy…", "info")
        self.use(CurrentModel.from_file(model, config, summary, origin, trained_with),
                 then=lambda ev: self.session.notify(f"{opened}; test accuracy {ev.accuracy:.2%}", "info"))
        return True

    def open_sweep_model(self, record: RunRecord, model: int) -> bool:
        """Make one of a sweep's models the current one."""
        if model in record.diverged_at:
            self.session.notify(f"The model with L1 weight {record.l1_schedule(model)} diverged: "
                                "its loss stopped being finite, so there is no model to open.")
            return False
        snapshot = record.snapshots[model]
        config = record.config.replace(l1_weight=record.l1_weights[model], l2_weight=record.l2_weights[model])
        self.use(CurrentModel(snapshot.state, config, f"{record.title}: {record.model_name(model)}",
                              record.schedule(model), snapshot.step, snapshot.epoch,
                              changes=tuple(record.live_changes(model))))
        return True

    def use(self, model: CurrentModel, compared: tuple[CurrentModel, ...] = (),
            then: Callable[[Evaluation], None] | None = None) -> None:
        self.session.use_model(model, compared)
        self.evaluate(then)

    def save_model(self, path: Path) -> bool:
        """Write the current model with what it was trained with and its results."""
        model = self.session.current
        if model is None:
            self.session.notify("There is no model to save yet: train or load one first.")
            return False
        report = self.session.sparsity()
        summary = {"step": model.step, "epoch": model.epoch, "schedule": model.trained_with,
                   "changes": [list(change) for change in model.changes],
                   "test_accuracy": model.evaluation.accuracy if model.evaluation else None,
                   "sparsity": report.fraction if report else None}
        try:
            lazy.save_model(path, lazy.model_from_state(model.state), model.config, summary)
        except (OSError, lazy.ModelFileError) as exc:
            self.session.notify(f"Could not save {path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        self.session.notify(f"Saved the model to {path}", "info")
        return True

    def export_onnx(self, path: Path) -> None:
        """The current model as ONNX, compacted and checked by ONNX Runtime on the test images,
        in the background; the message bar says how it went."""
        model, data = self.session.current, self.data
        if model is None or data is None:
            self.session.notify("There is no model to export yet: train or load one first.")
            return
        try:
            export_model = lazy.export_model
        except ImportError as exc:
            self.session.notify(missing_for_onnx(exc))
            return

        def work() -> OnnxExport:
            result = export_model(lazy.model_from_state(model.state), model.trained_with, data.test_x)
            write_atomic(path, result.data)
            return result

        self.runner.call("export", work,
                         done=lambda result: self.session.notify(f"Exported {path}: {result.describe()}", "info"),
                         fail=lambda exc: self.session.notify(f"Could not export to {path}: {_reason(exc)}"))

    def export_script(self, path: Path, model: CurrentModel | None = None) -> bool:
        """A model's run (the current model's by default) as one plain PyTorch script."""
        model = model or self.session.current
        if model is None:
            self.session.notify("There is no run to export yet: train or load a model first.")
            return False
        text = lazy.run_script(model.config, model.changes, model.origin, model.origin, path.name)
        try:
            write_atomic(path, text.encode())
        except OSError as exc:
            self.session.notify(f"Could not export to {path}: {_reason(exc)}")
            return False
        self.session.notify(f"Exported {path}: run it with python {path.name} --data-dir FOLDER_WITH_MNIST", "info")
        return True

    def shutdown(self) -> None:
        self.runner.shutdown()


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or describe(exc)


def _training(trainer: Trainer) -> Generator[Event, None, RunEnded]:
    """A run's or a sweep's events, steps merged, until its RunEnded, which is the result."""
    for event in coalesced(trainer.run(), STEPS_INTERVAL_S):
        if isinstance(event, RunEnded):
            return event
        yield event
    raise AssertionError("the engine ended without a RunEnded event")
