"""The training engine: a generator of events that a CLI or a GUI worker thread iterates.

One engine for runs and sweeps: it trains K models on the same batches (K = 1 for a run, one
per L1 weight for a sweep), with the same events, pause, stop, live changes and divergence
check for both. The loop knows nothing of who watches it. Requests come through a `Control`,
which any thread may call (also before the Trainer exists) and which the loop reads between
steps.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence

import numpy as np
import torch

from .batches import Batches
from .config import MAX_SWEEP_MODELS, TrainConfig
from .dataset import MnistTensors
from .devices import resolve_device
from .events import (
    Diverged,
    EpochMetrics,
    EpochStarted,
    Event,
    HyperparamsChanged,
    Notice,
    Paused,
    Resumed,
    RunEnded,
    RunStatus,
    Steps,
    WeightSnapshot,
    frozen,
)
from .fast_step import FastStep
from .graphed_step import GraphedStep
from .model import build_model
from .reference_step import ReferenceStep
from .sparsity import SparsityReport, sparsity

Ending = tuple[RunStatus, str]  # how a run ends early: its status and why

STEP_VALUES = ("ce", "l1", "l2", "abs_sum", "square_sum")  # what a training step returns, (K,) each
SNAPSHOT_INTERVAL_S = 0.25  # a run's or a comparison's weights for live views, four times a second
LIVE_MODELS = 3  # models whose weights are copied out that often (a sweep's, at each epoch's end)


class Control:
    """Thread-safe requests to a run: stop, pause, resume, a new L1 weight or learning rate.

    Made by whoever starts the run, before the Trainer exists, so that a request made while it
    is being built is kept rather than dropped; the loop applies requests between steps."""

    def __init__(self, models: int = 1) -> None:
        self.models = models
        self._stop = threading.Event()
        self._signalled = False
        self._resume = threading.Event()
        self._resume.set()
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}
        self._budget: int | None = None  # steps left before pausing again (the window's Step)

    def stop(self) -> None:
        """End after the step in progress (also from a pause, which it ends)."""
        with self._lock:
            self._stop.set()
            self._resume.set()

    def stop_from_signal(self) -> None:
        """Stop, from a signal handler: only a flag is set, no lock is taken (the code the
        signal interrupted may hold it). The loop sees it between steps, not during a pause."""
        self._signalled = True

    def pause(self) -> None:
        with self._lock:
            if not self._stop.is_set():  # a stopping run is not paused again
                self._resume.clear()

    def resume(self) -> None:
        with self._lock:
            self._budget = None
        self._resume.set()

    def advance(self, steps: int = 1) -> None:
        """Train `steps` mini-batches and pause again (from a pause, or before the first step)."""
        with self._lock:
            self._budget = steps
        self._resume.set()

    def before_step(self) -> None:
        """Called by the loop before each step: pause once an advance's budget is spent."""
        if self._budget is None:
            return
        with self._lock:
            if self._budget == 0:
                self._budget = None
                if not self._stop.is_set():  # an advance's end must not outlast a Stop
                    self._resume.clear()
            else:
                self._budget -= 1

    @property
    def stopped(self) -> bool:
        return self._signalled or self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def wait_for_resume(self) -> None:
        self._resume.wait()

    def set_l1_weight(self, value: float) -> None:
        """Use a new L1 weight from the next step on (a single run only)."""
        self._set_penalty("l1_weight", value)

    def set_l2_weight(self, value: float) -> None:
        """Use a new L2 weight from the next step on (a single run only)."""
        self._set_penalty("l2_weight", value)

    def _set_penalty(self, field: str, value: float) -> None:
        if self.models > 1:
            raise ValueError("a sweep's L1 and L2 weights are fixed; only its learning rate can change")
        TrainConfig().replace(**{field: value})  # validates
        self._request(field, value)

    def set_lr(self, value: float) -> None:
        """Use a new learning rate from the next step on."""
        TrainConfig(lr=value)
        self._request("lr", value)

    def take(self) -> dict[str, float]:
        if not self._pending:  # the common case, every step: no lock needed to see it is empty
            return {}
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def _request(self, key: str, value: float) -> None:
        with self._lock:
            self._pending[key] = float(value)


class Trainer:
    """Trains K models on tensors already in memory; `run()` yields their events."""

    def __init__(
        self,
        config: TrainConfig,
        data: MnistTensors,
        initial_state: Mapping[str, torch.Tensor] | None = None,
        l1_weights: Sequence[float] | None = None,
        control: Control | None = None,
        l2_weights: Sequence[float] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """`initial_state`: weights to start from (a loaded model) instead of a fresh init.
        `l1_weights`, `l2_weights`: a sweep, model m with the m-th of each (one list alone: the
        other weight from the config); without them, one model computed as the notebook does.
        `clock`: seconds, for speeds and the snapshot interval (tests give one of their own)."""
        given = l1_weights if l1_weights is not None else l2_weights
        k = len(given) if given is not None else 1
        l1 = [float(w) for w in l1_weights] if l1_weights is not None else [config.l1_weight] * k
        l2 = [float(w) for w in l2_weights] if l2_weights is not None else [config.l2_weight] * k
        if not 1 <= k <= MAX_SWEEP_MODELS or len(l1) != len(l2):
            raise ValueError(f"a sweep trains 1 to {MAX_SWEEP_MODELS} models at once, with one L1 and "
                             f"one L2 weight each; got {len(l1)} and {len(l2)}")
        for a, b in zip(l1, l2):
            config.replace(l1_weight=a, l2_weight=b)  # validates each
        self.config, self.l1_weights, self.l2_weights, self.k = config, l1, l2, k
        self._now = clock
        self.device = resolve_device(config.device)
        self.data = data.to(self.device, train_subset=config.train_subset)
        self._rng = torch.Generator().manual_seed(config.seed)
        template = build_model(config.hidden_sizes, self._rng)  # draws as the notebook's init did
        if initial_state is not None:
            template.load_state_dict(initial_state)
        self._notices: list[str] = []  # for the user, yielded with the next readout
        # On a GPU the step is one CUDA graph: at batch 64 its kernel launches were the epoch.
        self.compute: FastStep | ReferenceStep
        if config.autograd:
            self.compute = ReferenceStep(template, config, l1, l2, self.device)
        elif self.device.type == "cuda":
            self.compute = GraphedStep(template, config, l1, l2, self.device, notify=self._notices.append)
        else:
            self.compute = FastStep(template, config, l1, l2, self.device)
        self.stack = self.compute.stack
        self.control = control or Control(self.k)
        self.lr = config.lr
        self.steps_done = 0
        self.epochs_done = 0
        self.diverged = [False] * self.k
        self._good = self.stack.param.detach().clone()  # each model's last weights checked finite
        self._snapshots = self._take_snapshots()
        self._published: int | None = None  # the step whose snapshots were last yielded

    # ---- control, from any thread -------------------------------------------------------

    def stop(self) -> None:
        self.control.stop()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    @property
    def paused(self) -> bool:
        return self.control.paused

    def set_l1_weight(self, value: float) -> None:
        self.control.set_l1_weight(value)

    def set_l2_weight(self, value: float) -> None:
        self.control.set_l2_weight(value)

    def set_lr(self, value: float) -> None:
        self.control.set_lr(value)

    def latest_weights(self, model: int = 0) -> WeightSnapshot:
        """The most recent detached CPU copy of a model's parameters (taken between steps)."""
        return self._snapshots[model]

    # ---- the loop -----------------------------------------------------------------------

    def run(self) -> Iterator[Event]:
        """Train for `config.epochs` epochs, yielding events; ends with exactly one RunEnded."""
        cfg = self.config
        # Each step's CE, L1 and L2 terms and unweighted sums, on the device until read back.
        self._buf = torch.zeros(cfg.log_every, len(STEP_VALUES), self.k, device=self.device)
        self._rows = list(self._buf)  # views made once
        self._batches = Batches(self.data, cfg, self._rng)
        for epoch in range(1, cfg.epochs + 1):
            yield EpochStarted(epoch, cfg.epochs)
            ending = yield from self._run_epoch(epoch)
            if ending is not None:
                yield from self._end(*ending)
                return
        yield from self._end(RunStatus.FINISHED, f"finished {cfg.epochs} epoch(s)")

    def _run_epoch(self, epoch: int) -> Generator[Event, None, Ending | None]:
        cfg, control = self.config, self.control
        self._batches.start_epoch()
        window: list[tuple[int, int]] = []  # (step, batch) awaiting readout
        clock = _Clock(self._now)
        for b in range(cfg.steps_per_epoch):
            control.before_step()
            if control.paused:
                # What was trained so far is shown before the pause (an advance's one batch too).
                failure = yield from self._read_out(window, epoch, clock)
                if failure is not None:
                    return failure
                yield Paused(self.steps_done)
                clock.pause()
                control.wait_for_resume()
                clock.resume()
                control.before_step()  # an advance resumes with its budget: this step is its first
                if not control.stopped:
                    yield Resumed(self.steps_done)
            if control.stopped:
                failure = yield from self._read_out(window, epoch, clock)
                return failure or (RunStatus.STOPPED, f"stopped at step {self.steps_done}")
            if changes := control.take():
                yield self._apply(changes)
            x, y = self._batches.batch(b)
            # Kept on the device; read back every log_every steps, so no host sync here.
            self._rows[len(window)].copy_(self.compute(x, y))
            self.steps_done += 1
            window.append((self.steps_done, b + 1))
            if len(window) == cfg.log_every or b == cfg.steps_per_epoch - 1:
                failure = yield from self._read_out(window, epoch, clock)
                if failure is not None:
                    return failure
        self.epochs_done = epoch
        yield self._epoch_metrics(epoch, clock.elapsed())
        yield from self._snapshot_events()
        clock.snapshot_taken()
        return None

    def _read_out(self, window: list[tuple[int, int]], epoch: int,
                  clock: _Clock) -> Generator[Event, None, Ending | None]:
        """Yield the buffered steps; mark models whose loss or weights stopped being finite.

        Returns an ending when every model has diverged."""
        while self._notices:
            yield Notice(self.steps_done, self._notices.pop(0))
        if not window:
            return None
        n, rows = len(window), len(STEP_VALUES)
        checks = self.stack.checks(self.config.l1_threshold)  # finite, near zero, exactly zero
        readout = torch.cat((self._buf[:n].transpose(0, 1).reshape(rows * n, self.k),
                             checks)).cpu().numpy()  # one host read for the whole window
        ce, l1, l2, abs_sum, square_sum = (readout[i * n : (i + 1) * n] for i in range(rows))
        finite_weights, (near, exact) = readout[rows * n] == 1, readout[rows * n + 1 :].astype(np.int64)
        finite_steps = np.isfinite(ce + l1 + l2)
        for m in range(self.k):
            if not self.diverged[m] and not (finite_steps[:, m].all() and finite_weights[m]):
                self.diverged[m] = True
                self._last_divergence = self._divergence(window, ce[:, m], l1[:, m] + l2[:, m],
                                                         finite_steps[:, m])
                self._diverged_at = self._first_bad(window, finite_steps[:, m])
                yield Diverged(self._diverged_at, m, self._last_divergence, window[0][0] - 1)
        alive = torch.tensor([not d for d in self.diverged], device=self.device)
        self.stack.copy_models(self._good, self.stack.param.detach(), alive)
        # Every step, unless all models diverged: then those before the last finite value.
        rows = finite_steps.any(1)
        shown = n if not all(self.diverged) or rows.all() else int(np.argmin(rows))
        if shown:
            steps, batches = (np.array(v[:shown]) for v in zip(*window))
            yield Steps(frozen(steps), frozen(epoch - 1 + batches / self.config.steps_per_epoch),
                        frozen(batches), frozen(ce[:shown]), frozen(l1[:shown]), frozen(l2[:shown]),
                        frozen(abs_sum[:shown]), frozen(square_sum[:shown]),
                        counted_at=frozen(steps[-1:]), near_zero=frozen(near[None]),
                        exact_zeros=frozen(exact[None]),
                        samples_per_s=n * self.config.batch_size / max(clock.lap(), 1e-9))
        window.clear()
        if all(self.diverged):
            self.steps_done = self._diverged_at  # the run ends where its last model diverged
            return RunStatus.FAILED, self._failure_reason()
        if self.k <= LIVE_MODELS and clock.since_snapshot() >= SNAPSHOT_INTERVAL_S:
            yield from self._snapshot_events()
            clock.snapshot_taken()
        return None

    @staticmethod
    def _first_bad(window: list[tuple[int, int]], finite: np.ndarray) -> int:
        return window[int(np.argmin(finite))][0] if not finite.all() else window[-1][0]

    def _divergence(self, window: list[tuple[int, int]], ce: np.ndarray, penalty: np.ndarray,
                    finite: np.ndarray) -> str:
        row = int(np.argmin(finite)) if not finite.all() else len(window) - 1
        step = window[row][0]
        last_good = window[0][0] - 1
        return (f"diverged at step {step}: loss is {ce[row] + penalty[row]} (CE {ce[row]}, "
                f"penalties {penalty[row]}); "
                f"kept the last weights checked finite (step {last_good}); try a smaller "
                f"{self._what_to_lower()} (with mild settings, check the training data)")

    def _what_to_lower(self) -> str:
        """`learning rate or L2 weight`: the settings that could have made a model diverge."""
        penalties = [f"{name} weight" for name, weights in (("L1", self.l1_weights), ("L2", self.l2_weights))
                     if any(weights)]
        return " or ".join(["learning rate", *penalties]).replace(" or ", ", ", len(penalties) - 1)

    def _failure_reason(self) -> str:
        if self.k == 1:
            return self._last_divergence
        return ("every model diverged (its loss or weights stopped being finite): try a smaller "
                f"{self._what_to_lower()}")

    def _apply(self, changes: dict[str, float]) -> HyperparamsChanged:
        if "l1_weight" in changes or "l2_weight" in changes:
            self.l1_weights = [changes.get("l1_weight", self.l1_weights[0])] * self.k
            self.l2_weights = [changes.get("l2_weight", self.l2_weights[0])] * self.k
            self.compute.set_penalties(self.l1_weights, self.l2_weights)
        if "lr" in changes:
            self.lr = changes["lr"]
            self.compute.set_lr(self.lr)
        return HyperparamsChanged(self.steps_done + 1, tuple(self.l1_weights), tuple(self.l2_weights), self.lr)

    def _epoch_metrics(self, epoch: int, train_seconds: float) -> EpochMetrics:
        start = self._now()
        data = self.data
        # Train accuracy for one model only: for a sweep it would cost K passes over 60,000.
        train = self._accuracy(data.train_images, data.train_y) if self.k == 1 else (math.nan,) * self.k
        test = self._accuracy(data.test_x, data.test_y)
        self._snapshots = self._take_snapshots()
        rate = self.config.train_size / max(train_seconds, 1e-9)
        return EpochMetrics(epoch, self.steps_done, train, test, self._sparsity(), train_seconds,
                            self._now() - start, rate)

    def _accuracy(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, ...]:
        correct = (self.compute.predict(x) == y).float().mean(1).tolist()
        return tuple(math.nan if d else c for c, d in zip(correct, self.diverged))

    def _sparsity(self) -> tuple[SparsityReport, ...]:
        return tuple(sparsity(s.weights(), self.config.l1_threshold) for s in self._snapshots)

    def _end(self, status: RunStatus, reason: str) -> Iterator[Event]:
        """Put diverged models back on their last finite weights, measure, and report."""
        bad = torch.tensor(self.diverged, device=self.device)
        if bool(bad.any()):
            self.stack.copy_models(self.stack.param.data, self._good, bad)
            self._published = -1  # the same step, other weights
        yield from self._snapshot_events()
        test = (self.compute.predict(self.data.test_x) == self.data.test_y).float().mean(1).tolist()
        yield RunEnded(status, reason, self.steps_done, self.epochs_done, tuple(test), self._sparsity(),
                       tuple(self.diverged))

    def _take_snapshots(self) -> list[WeightSnapshot]:
        source = None
        if any(self.diverged):  # a diverged model is seen with its last finite weights
            source = self.stack.param.detach().clone()
            bad = torch.tensor(self.diverged, device=self.device)
            self.stack.copy_models(source, self._good, bad)
        epoch = self.steps_done / self.config.steps_per_epoch
        return [WeightSnapshot(self.steps_done, epoch, state, m)
                for m, state in enumerate(self.stack.state_dicts(source))]

    def _snapshot_events(self) -> Iterator[WeightSnapshot]:
        """The current weights of every model, unless they were reported at this step."""
        if self._published == self.steps_done:
            return
        if self._snapshots[0].step != self.steps_done or self._published == -1:
            self._snapshots = self._take_snapshots()
        self._published = self.steps_done
        yield from self._snapshots


class _Clock:
    """Wall time of one epoch with pauses left out, and the lap time between readouts."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._start = self._lap = self._snap = now()
        self._paused_at: float | None = None
        self._paused_total = 0.0

    def pause(self) -> None:
        self._paused_at = self._now()

    def resume(self) -> None:
        if self._paused_at is not None:
            gap = self._now() - self._paused_at
            self._paused_total += gap
            self._lap += gap
            self._paused_at = None

    def lap(self) -> float:
        now = self._now()
        lap, self._lap = now - self._lap, now
        return lap

    def since_snapshot(self) -> float:
        return self._now() - self._snap

    def snapshot_taken(self) -> None:
        self._snap = self._now()

    def elapsed(self) -> float:
        return self._now() - self._start - self._paused_total
