"""The training engine: a generator of events that a CLI or a GUI worker thread iterates.

The loop knows nothing of who watches it. Control methods (stop, pause, resume, live
hyperparameters) may be called from any thread; the loop applies them between steps.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Mapping

import torch
import torch.nn.functional as F

from l1_trainer.core.config import TrainConfig
from l1_trainer.core.data import MnistTensors
from l1_trainer.core.devices import resolve_device
from l1_trainer.core.events import (
    EpochMetrics,
    EpochStarted,
    Event,
    HyperparamsChanged,
    Paused,
    Resumed,
    RunEnded,
    RunStatus,
    StepMetrics,
    WeightSnapshot,
)
from l1_trainer.core.flat import FlatParameters
from l1_trainer.core.inference import evaluate
from l1_trainer.core.model import MLP, build_model
from l1_trainer.core.sparsity import sparsity

SNAPSHOT_INTERVAL_S = 0.1


class Trainer:
    """Trains one model on tensors already in memory; `run()` yields its events."""

    def __init__(
        self,
        config: TrainConfig,
        data: MnistTensors,
        initial_state: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        """`initial_state`: weights to start from (a loaded model) instead of a fresh init."""
        self.config = config
        self.device = resolve_device(config.device)
        self.data = data.to(self.device, train_subset=config.train_subset)
        self._rng = torch.Generator().manual_seed(config.seed)
        model = build_model(config.hidden_sizes, self._rng)  # draws as the notebook's init did
        if initial_state is not None:
            model.load_state_dict(initial_state)
        self.model: MLP = model.to(self.device)
        self.flat = FlatParameters(self.model, config.penalize_biases)
        self.optimizer = _make_optimizer(config, self.flat.param)
        self._proximal = config.l1_method == "proximal"
        self.l1_weight = config.l1_weight
        self.lr = config.lr
        self.step = 0
        self.epochs_done = 0
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}
        self._snapshot: WeightSnapshot | None = None
        self._publish_snapshot()

    # ---- control, from any thread -------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end after the step in progress."""
        self._stop.set()
        self._resume.set()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def set_l1_weight(self, value: float) -> None:
        """Use a new L1 weight from the next step on."""
        self.config.replace(l1_weight=value)  # validates
        with self._lock:
            self._pending["l1_weight"] = float(value)

    def set_lr(self, value: float) -> None:
        """Use a new learning rate from the next step on."""
        self.config.replace(lr=value)
        with self._lock:
            self._pending["lr"] = float(value)

    def latest_weights(self) -> WeightSnapshot:
        """The most recent detached CPU copy of the parameters (taken between steps)."""
        assert self._snapshot is not None
        return self._snapshot

    # ---- the loop -----------------------------------------------------------------------

    def run(self) -> Iterator[Event]:
        """Train for `config.epochs` epochs, yielding events; ends with exactly one RunEnded."""
        cfg = self.config
        k = cfg.log_every
        self._ce_buf = torch.zeros(k, device=self.device)
        self._l1_buf = torch.zeros(k, device=self.device)
        self._good = self.flat.param.detach().clone()
        batch_x = torch.empty(cfg.batch_size, self.data.train_x.shape[1], device=self.device)
        batch_y = torch.empty(cfg.batch_size, dtype=torch.long, device=self.device)
        self.model.train()
        try:
            for epoch in range(1, cfg.epochs + 1):
                yield EpochStarted(epoch, cfg.epochs)
                ended = yield from self._run_epoch(epoch, batch_x, batch_y)
                if ended is not None:
                    yield ended
                    return
            yield self._ended(RunStatus.FINISHED, f"finished {cfg.epochs} epoch(s)")
        finally:
            self._publish_snapshot()

    def _run_epoch(
        self, epoch: int, batch_x: torch.Tensor, batch_y: torch.Tensor
    ) -> Iterator[Event]:
        cfg, data = self.config, self.data
        perm = self._epoch_permutation()
        steps = cfg.steps_per_epoch
        window: list[tuple[int, int, float]] = []  # (step, batch, l1_weight) awaiting readout
        clock = _Clock()
        for b in range(steps):
            if not self._resume.is_set():
                yield Paused(self.step)
                clock.pause()
                self._resume.wait()
                clock.resume()
                if not self._stop.is_set():
                    yield Resumed(self.step)
            if self._stop.is_set():
                failure = yield from self._read_out(window, epoch, clock)
                return failure or self._ended(RunStatus.STOPPED, f"stopped at step {self.step}")
            if self._pending:
                yield self._apply_pending()
            idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            n = idx.numel()
            x = torch.index_select(data.train_x, 0, idx, out=batch_x[:n])
            y = torch.index_select(data.train_y, 0, idx, out=batch_y[:n])
            self._train_step(x, y, len(window))
            self.step += 1
            window.append((self.step, b + 1, self.l1_weight))
            if len(window) == cfg.log_every or b == steps - 1:
                failure = yield from self._read_out(window, epoch, clock)
                if failure is not None:
                    return failure
        train_seconds = clock.elapsed()
        self.epochs_done = epoch
        yield self._epoch_metrics(epoch, train_seconds)
        return None

    def _train_step(self, x: torch.Tensor, y: torch.Tensor, slot: int) -> None:
        self.flat.zero_grad()
        ce = F.cross_entropy(self.model(x), y)
        ce.backward()
        if self._proximal:
            l1 = self.flat.l1_term(self.l1_weight)
            self.optimizer.step()
            self.flat.soft_threshold(self.lr * self.l1_weight)
        else:
            # The L1 term's gradient is added directly: loss = CE + l1_weight * sum(|p|) as a whole.
            l1 = self.flat.add_l1(self.l1_weight)
            self.optimizer.step()
        # Kept on the device; read back every log_every steps, so no host sync here.
        self._ce_buf[slot] = ce.detach()
        self._l1_buf[slot] = l1.detach()

    def _read_out(
        self, window: list[tuple[int, int, float]], epoch: int, clock: _Clock
    ) -> Iterator[Event]:
        """Yield the buffered steps' metrics; on a non-finite loss, restore and fail."""
        if not window:
            return None
        n = len(window)
        ce_values = self._ce_buf[:n].tolist()  # the one host sync per window
        l1_values = self._l1_buf[:n].tolist()
        rate = n * self.config.batch_size / max(clock.lap(), 1e-9)
        steps_per_epoch = self.config.steps_per_epoch
        for (step, batch, _), ce, l1 in zip(window, ce_values, l1_values):
            total = ce + l1
            if not math.isfinite(total):
                return self._diverged(step, ce, l1)
            frac = epoch - 1 + batch / steps_per_epoch
            yield StepMetrics(step, frac, batch, ce, l1, total, rate)
        window.clear()
        self._good.copy_(self.flat.param.detach())
        if clock.since_snapshot() >= SNAPSHOT_INTERVAL_S:
            self._publish_snapshot()
            clock.snapshot_taken()
        return None

    def _diverged(self, step: int, ce: float, l1: float) -> RunEnded:
        with torch.no_grad():
            self.flat.param.copy_(self._good)
        last_good = step - 1 - ((step - 1) % self.config.log_every)
        self.step = step
        return self._ended(
            RunStatus.FAILED,
            f"diverged at step {step}: loss is {ce + l1} (CE {ce}, L1 {l1}); kept the last "
            f"weights checked finite (step {last_good}); try a smaller learning rate or L1 weight",
        )

    def _apply_pending(self) -> HyperparamsChanged:
        with self._lock:
            pending, self._pending = self._pending, {}
        self.l1_weight = pending.get("l1_weight", self.l1_weight)
        self.lr = pending.get("lr", self.lr)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        return HyperparamsChanged(self.step + 1, self.l1_weight, self.lr)

    def _epoch_permutation(self) -> torch.Tensor:
        return shuffled_indices(self._rng, self.config.train_size).to(self.device)

    def _epoch_metrics(self, epoch: int, train_seconds: float) -> EpochMetrics:
        start = time.perf_counter()
        train_acc = self.evaluate(self.data.train_x, self.data.train_y)
        test_acc = self.evaluate(self.data.test_x, self.data.test_y)
        self._publish_snapshot()
        report = sparsity(self.latest_weights().weights(), self.config.l1_threshold)
        eval_seconds = time.perf_counter() - start
        rate = self.config.train_size / max(train_seconds, 1e-9)
        return EpochMetrics(
            epoch, self.step, train_acc, test_acc, report, train_seconds, eval_seconds, rate
        )

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Classification accuracy of the current model on (x, y), in [0, 1]."""
        return evaluate(self.model, x, y).accuracy

    def _publish_snapshot(self) -> None:
        state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
        # One reference assignment: readers on other threads see the old or the new dict, whole.
        self._snapshot = WeightSnapshot(self.step, self.step / self.config.steps_per_epoch, state)

    def _ended(self, status: RunStatus, reason: str) -> RunEnded:
        return RunEnded(status, reason, self.step, self.epochs_done)


def shuffled_indices(rng: torch.Generator, n: int) -> torch.Tensor:
    """One epoch's sample order, drawn from `rng` exactly as DataLoader(shuffle=True) draws it.

    Each new DataLoader iterator takes a base seed for its workers from the global generator;
    its RandomSampler then takes a second number to seed a fresh generator for randperm."""
    torch.empty((), dtype=torch.int64).random_(generator=rng)  # the iterator's base seed
    seed = int(torch.empty((), dtype=torch.int64).random_(generator=rng))
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def _make_optimizer(cfg: TrainConfig, param: torch.nn.Parameter) -> torch.optim.Optimizer:
    # PyTorch's default (for-loop) kernels: the notebook's arithmetic exactly, and on one flat
    # tensor faster here than the fused CPU kernel (benchmarks/README figures).
    if cfg.optimizer == "sgd":
        return torch.optim.SGD([param], lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW([param], lr=cfg.lr, weight_decay=cfg.weight_decay)


class _Clock:
    """Wall time of one epoch with pauses left out, and the lap time between readouts."""

    def __init__(self) -> None:
        self._start = self._lap = self._snap = time.perf_counter()
        self._paused_at: float | None = None
        self._paused_total = 0.0

    def pause(self) -> None:
        self._paused_at = time.perf_counter()

    def resume(self) -> None:
        if self._paused_at is not None:
            gap = time.perf_counter() - self._paused_at
            self._paused_total += gap
            self._lap += gap
            self._paused_at = None

    def lap(self) -> float:
        now = time.perf_counter()
        lap, self._lap = now - self._lap, now
        return lap

    def since_snapshot(self) -> float:
        return time.perf_counter() - self._snap

    def snapshot_taken(self) -> None:
        self._snap = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self._start - self._paused_total
