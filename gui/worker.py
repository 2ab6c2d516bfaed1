"""The training worker: runs one core Trainer in a QThread and turns its events into signals.

Pattern: a worker QObject moved to a plain QThread (as Qt's docs, superqt and pyqtgraph
recommend), so the thread object itself stays in the GUI thread and is safe to quit and wait
on from there. The worker has no parent, or moveToThread would fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from l1_trainer.core.config import TrainConfig

SPARSITY_INTERVAL_S = 0.25  # the live readout updates at least twice a second
STEPS_INTERVAL_S = 0.05  # steps go to the GUI in batches, at most 20 a second


class TrainingWorker(QObject):
    """Signals carry core's frozen dataclasses; they are queued to the GUI thread."""

    dataLoaded = Signal(object)  # MnistTensors on the CPU, for the next run to reuse
    runStarted = Signal(object)  # the Trainer's TrainConfig
    stepsReady = Signal(object)  # list[StepMetrics], the steps since the last batch
    epochStarted = Signal(object)  # EpochStarted
    epochFinished = Signal(object)  # EpochMetrics
    hyperparamsChanged = Signal(object)  # HyperparamsChanged
    pausedChanged = Signal(bool)
    weightsUpdated = Signal(object)  # (WeightSnapshot, SparsityReport)
    finished = Signal(object)  # RunEnded, always the last signal

    def __init__(self, config: TrainConfig, data: object | None = None, data_dir: Path | None = None) -> None:
        super().__init__()
        self.config = config
        self._data = data
        self._data_dir = data_dir
        self._trainer = None
        self._stop_requested = False
        self.threshold = config.l1_threshold

    # ---- called from the GUI thread; the engine's controls are thread-safe ----------------

    def stop(self) -> None:
        self._stop_requested = True
        if self._trainer is not None:
            self._trainer.stop()

    def pause(self) -> None:
        if self._trainer is not None:
            self._trainer.pause()

    def resume(self) -> None:
        if self._trainer is not None:
            self._trainer.resume()

    def set_l1_weight(self, value: float) -> None:
        if self._trainer is not None:
            self._trainer.set_l1_weight(value)

    def set_lr(self, value: float) -> None:
        if self._trainer is not None:
            self._trainer.set_lr(value)

    # ---- the worker thread ------------------------------------------------------------------

    @Slot()
    def run(self) -> None:
        from l1_trainer.core.events import RunEnded, RunStatus

        try:
            ended = self._train()
        except Exception as exc:  # noqa: BLE001  every failure must reach the window, not kill the thread
            step = self._trainer.step if self._trainer is not None else 0
            done = self._trainer.epochs_done if self._trainer is not None else 0
            ended = RunEnded(RunStatus.FAILED, describe_failure(exc), step, done)
        self.finished.emit(ended)

    def _train(self):  # -> RunEnded
        from l1_trainer.core.data import load_mnist
        from l1_trainer.core.engine import Trainer
        from l1_trainer.core.events import RunEnded, RunStatus

        if self._data is None:
            self._data = load_mnist("cpu", self._data_dir)
            self.dataLoaded.emit(self._data)
        trainer = Trainer(self.config, self._data)
        self._trainer = trainer
        if self._stop_requested:
            return RunEnded(RunStatus.STOPPED, "stopped before the first step", 0, 0)
        self.runStarted.emit(self.config)
        self._emit_weights()
        return self._forward_events(trainer)

    def _forward_events(self, trainer):  # -> RunEnded
        from l1_trainer.core.events import (
            EpochMetrics,
            EpochStarted,
            HyperparamsChanged,
            Paused,
            Resumed,
            RunEnded,
            StepMetrics,
        )

        batch: list = []
        last_steps = last_weights = time.perf_counter()
        for event in trainer.run():
            if isinstance(event, StepMetrics):
                batch.append(event)
                # Few, larger signals: every slot call in the GUI thread competes for the GIL.
                if time.perf_counter() - last_steps < STEPS_INTERVAL_S:
                    continue
            if batch:
                self.stepsReady.emit(batch)
                batch = []
                last_steps = time.perf_counter()
            if isinstance(event, EpochMetrics):
                self.epochFinished.emit(event)
                self._emit_weights()
                last_weights = time.perf_counter()
            elif isinstance(event, EpochStarted):
                self.epochStarted.emit(event)
            elif isinstance(event, HyperparamsChanged):
                self.hyperparamsChanged.emit(event)
            elif isinstance(event, (Paused, Resumed)):
                self.pausedChanged.emit(isinstance(event, Paused))
            elif isinstance(event, RunEnded):
                self._emit_weights()
                return event
            if time.perf_counter() - last_weights >= SPARSITY_INTERVAL_S:
                self._emit_weights()
                last_weights = time.perf_counter()
        raise AssertionError("the engine ended without a RunEnded event")

    def _emit_weights(self) -> None:
        from l1_trainer.core.sparsity import sparsity

        snapshot = self._trainer.latest_weights()
        self.weightsUpdated.emit((snapshot, sparsity(snapshot.weights(), self.threshold)))


def describe_failure(exc: BaseException) -> str:
    """One line a user can act on, for any exception a run can raise."""
    import torch

    from l1_trainer.core.data import DataError
    from l1_trainer.core.devices import DeviceUnavailableError

    if isinstance(exc, torch.OutOfMemoryError):
        return "out of memory on the training device: try a smaller batch size or the CPU"
    if isinstance(exc, (DataError, DeviceUnavailableError, ValueError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class TestSetJob(QThread):
    """Applies `compute(model, test_images, test_labels)` off the GUI thread, loading MNIST
    first if needed: the test-set evaluation for the gallery, the pruning curve.

    A QThread subclass: one function, no event loop or slots of its own."""

    done = Signal(object, object)  # (what compute returned, MnistTensors)
    failed = Signal(str)

    def __init__(
        self,
        state: dict,
        data: object | None,
        data_dir: Path | None,
        compute: Callable[..., object],
        what: str,
    ) -> None:
        super().__init__()
        self._state, self._data, self._data_dir = state, data, data_dir
        self._compute, self._what = compute, what

    def run(self) -> None:
        try:
            from l1_trainer.core.data import load_mnist
            from l1_trainer.core.inference import model_from_state

            data = self._data if self._data is not None else load_mnist("cpu", self._data_dir)
            model = model_from_state(self._state)
            self.done.emit(self._compute(model, data.test_x.cpu(), data.test_y.cpu()), data)
        except Exception as exc:  # noqa: BLE001  shown in the window, like a failed run
            self.failed.emit(f"{self._what} failed: {describe_failure(exc)}")


class SweepThread(QThread):
    """Runs a core SweepTrainer; one signal per epoch with every model's results.

    A QThread subclass: one loop, no slots of its own; stop() is thread-safe."""

    epochDone = Signal(object)  # core.sweep.SweepEpoch
    failed = Signal(str)

    def __init__(self, config: TrainConfig, weights: list[float], data: object | None,
                 data_dir: Path | None = None) -> None:
        super().__init__()
        self.config, self.weights = config, weights
        self._data, self._data_dir = data, data_dir
        self._trainer = None
        self._stop_requested = False

    def stop(self) -> None:
        self._stop_requested = True
        if self._trainer is not None:
            self._trainer.stop()

    def run(self) -> None:
        try:
            from l1_trainer.core.data import load_mnist
            from l1_trainer.core.sweep import SweepTrainer

            data = self._data if self._data is not None else load_mnist("cpu", self._data_dir)
            self._trainer = SweepTrainer(self.config, self.weights, data)
            if self._stop_requested:
                return
            for epoch in self._trainer.run():
                self.epochDone.emit(epoch)
        except Exception as exc:  # noqa: BLE001  shown in the window
            self.failed.emit(f"The sweep failed: {describe_failure(exc)}")
