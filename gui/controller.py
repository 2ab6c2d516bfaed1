"""Between the window and the engine: it starts a job for what the user asks, and feeds what the
job reports into the session. The truth is in the session; this holds only the run's Control
and the MNIST tensors, loaded once at start and handed to every job.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.app.numbers import short
from ..core.app.records import Kind
from ..core.app.session import AppState, CurrentModel, Session
from ..core.training.config import TrainConfig
from .history import History
from .jobs import JobRunner

if TYPE_CHECKING:  # the engine pulls in PyTorch, which the window loads in the background
    from ..core.training.engine import Control

STEPS_INTERVAL_S = 0.2  # steps reach the window at most five times a second, as often as it redraws


class Controller:
    def __init__(self, session: Session, runner: JobRunner, data_dir: Path | None = None,
                 data: object | None = None) -> None:
        self.session = session
        self.runner = runner
        self.data_dir = data_dir
        self.data = data  # MnistTensors on the CPU
        self.control: Control | None = None  # the active run's
        self.history = History(session, runner, self)
        # A change of these while a run goes on reaches it from the next step.
        session.settings.events["l1_weight"].connect(self.set_l1_weight)
        session.settings.events["l2_weight"].connect(self.set_l2_weight)
        session.settings.events["lr"].connect(self.set_lr)

    # ---- start-up ----------------------------------------------------------------------------

    def load(self, ready: Callable[[list, str], None], failed: Callable[[str], None]) -> None:
        """Import PyTorch and read MNIST in the background (seconds); then `ready(devices,
        what auto picks)` and the session is IDLE. A failure leaves it BROKEN and says why."""
        need_data = self.data is None
        data_dir = self.data_dir

        def work(emit):
            import l1_trainer.core.training.engine  # noqa: F401  (torch and the engine, once)

            from ..core.files.data import load_mnist
            from ..core.training.devices import available_devices, resolve_device

            data = load_mnist("cpu", data_dir) if need_data else None
            devices = available_devices()
            auto = resolve_device("auto")
            label = next((d.label for d in devices if d.name.split(":")[0] == auto.type), "CPU")
            return devices, label, data

        def done(result):
            devices, label, data = result
            if data is not None:
                self.data = data
            ready(devices, label)
            self.session.set_state(AppState.IDLE)

        def fail(message):
            message = f"L1 Trainer cannot train: {message}"
            self.session.notify(message)
            self.session.set_state(AppState.BROKEN)
            failed(message)

        self.runner.start("load", work, done=done, fail=fail)

    # ---- runs and sweeps ---------------------------------------------------------------------

    def start(self, config: TrainConfig, l1_weights: list[float] | None = None,
              l2_weights: list[float] | None = None, steps: int | None = None,
              kind: Kind = Kind.RUN) -> bool:
        """A run, or with `l1_weights` and `l2_weights` a sweep or a comparison (`kind`): one
        model per pair, at once. `steps`: train that many mini-batches, then pause (Step)."""
        import torch

        from ..core.training.engine import Control
        from ..core.training.threads import default_threads

        if self.session.state is not AppState.IDLE or self.runner.busy:
            return False
        models = len(l1_weights) if l1_weights else 1
        # Set in this thread, the count holds in the job's thread too; the same as the CLI's.
        torch.set_num_threads(default_threads(config.batch_size, models))
        control = Control(models)
        if steps is not None:
            control.advance(steps)
        record = self.session.begin(config, l1_weights, l2_weights,
                                    kind if l1_weights else Kind.RUN)
        work = _training(config, self.data, control, l1_weights, l2_weights)
        self.control = control
        self.runner.start(JobRunner.EXCLUSIVE, work, progress=self.session.apply, done=self._ended,
                          fail=lambda message: self._crashed(record, message), cancel=control.stop)
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

    def _live(self, change: Callable[[object], None]) -> None:
        if self.control is None or self.session.state not in (AppState.RUNNING, AppState.PAUSED):
            return
        try:
            change(self.control)
        except ValueError as exc:
            self.session.notify(f"Not applied: {exc}")

    def _ended(self, ended: object) -> None:
        self.control = None
        record = self.session.active
        self.session.end(ended)
        if self.runner.closed:  # the window is closing: keep the run now, in this thread
            self.history.keep_now(record)
            return
        self.evaluate()
        self.history.keep(record)

    def _crashed(self, record: object, message: str) -> None:
        from ..core.training.events import RunEnded, RunStatus

        self._ended(RunEnded(RunStatus.FAILED, message, record.steps_done, len(record.epochs)))

    # ---- the current model -------------------------------------------------------------------

    def evaluate(self, then: Callable[[object], None] | None = None) -> None:
        """Predict the whole test set with the current model, for the gallery and the status;
        then `then(evaluation)`."""
        model = self.session.current
        if model is None:
            return
        data = self.data

        def work(emit):
            from ..core.training.inference import evaluate, model_from_state

            return evaluate(model_from_state(model.state), data.test_x, data.test_y)

        def done(evaluation: object) -> None:
            self.session.evaluated(model, evaluation)
            if then is not None:
                then(evaluation)

        self.runner.start("evaluate", work, done=done,
                          fail=lambda message: self.session.notify(f"Evaluating the model failed: {message}"))

    def prune(self) -> None:
        """Add the current model's pruning curve (computed in the background)."""
        model = self.session.current
        if model is None:
            return
        data = self.data
        label = f"{model.origin}: {model.trained_with}, {model.config.l1_method}"

        def work(emit):
            from ..core.training.inference import model_from_state
            from ..core.training.pruning import pruning_curve

            return pruning_curve(model_from_state(model.state), data.test_x, data.test_y)

        self.runner.start("prune", work, done=lambda points: self.session.add_pruning(label, points),
                          fail=lambda message: self.session.notify(f"Pruning failed: {message}"))

    def open_model(self, path: Path, origin: str = "") -> bool:
        """Make a saved model the current one; a bad file changes nothing and says why."""
        from ..core.files.modelfile import ModelFileError, load_model

        try:
            model, config, summary = load_model(path)
        except ModelFileError as exc:
            self.session.notify(f"Could not open the model: {exc}")
            return False
        trained_with = str(summary.get("schedule") or f"L1 {short(config.l1_weight)}, lr {short(config.lr)}")
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        origin = origin or path.name
        opened = f"Opened {origin}: trained with {trained_with}, {config.epochs} epoch(s)"
        self.session.notify(f"{opened}; measuring its test accuracy…", "info")
        self.use(CurrentModel(state, config, origin, trained_with,
                               int(summary.get("step") or 0), float(summary.get("epoch") or 0.0)),
                  then=lambda ev: self.session.notify(f"{opened}; test accuracy {ev.accuracy:.2%}", "info"))
        return True

    def open_sweep_model(self, record: object, model: int) -> bool:
        """Make one of a sweep's models the current one."""
        if model in record.diverged_at:
            self.session.notify(f"The model with L1 weight {record.l1_schedule(model)} diverged: "
                                "its loss stopped being finite, so there is no model to open.")
            return False
        snapshot = record.snapshots[model]
        config = record.config.replace(l1_weight=record.l1_weights[model], l2_weight=record.l2_weights[model])
        self.use(CurrentModel(snapshot.state, config, f"{record.title}: {record.model_name(model)}",
                               record.schedule(model), snapshot.step, snapshot.epoch))
        return True

    def use(self, model: CurrentModel, compared: tuple[CurrentModel, ...] = (),
             then: Callable[[object], None] | None = None) -> None:
        self.session.use_model(model, compared)
        self.evaluate(then)

    def save_model(self, path: Path) -> bool:
        """Write the current model with what it was trained with and its results."""
        from ..core.files.modelfile import ModelFileError, save_model
        from ..core.training.inference import model_from_state

        model = self.session.current
        if model is None:
            self.session.notify("There is no model to save yet: train or load one first.")
            return False
        report = self.session.sparsity()
        summary = {"step": model.step, "epoch": model.epoch, "schedule": model.trained_with,
                   "test_accuracy": model.evaluation.accuracy if model.evaluation else None,
                   "sparsity": report.fraction if report else None}
        try:
            save_model(path, model_from_state(model.state), model.config, summary)
        except (OSError, ModelFileError) as exc:
            self.session.notify(f"Could not save {path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        self.session.notify(f"Saved the model to {path}", "info")
        return True

    def shutdown(self) -> None:
        self.runner.shutdown()


def _training(config: TrainConfig, data: object, control: object, l1_weights: list[float] | None,
              l2_weights: list[float] | None):
    """The job of a run or a sweep: the engine's events, steps merged, until its RunEnded."""

    def work(emit):
        from ..core.training.engine import Trainer
        from ..core.training.events import RunEnded, coalesced

        trainer = Trainer(config, data, l1_weights=l1_weights, l2_weights=l2_weights, control=control)
        for event in coalesced(trainer.run(), STEPS_INTERVAL_S):
            if isinstance(event, RunEnded):
                return event
            emit(event)
        raise AssertionError("the engine ended without a RunEnded event")

    return work
