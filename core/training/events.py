"""What a training run reports, as frozen dataclasses the caller can observe.

A run trains K models at once (K = 1 for a single run, one per L1 weight for a sweep); every
per-model value is a K-tuple, or the K columns of an array, in the order of the L1 weights.
Arrays in events are read-only: events cross threads and are never changed after they are made.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .sparsity import SparsityReport
from .weights import weight_matrices

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True, slots=True)
class Steps:
    """Consecutive steps read back together (one host sync for all of them)."""

    step: np.ndarray  # (n,) global step, from 1
    epoch: np.ndarray  # (n,) fractional epoch: 1.5 is halfway through the second
    batch: np.ndarray  # (n,) mini-batch within its epoch, from 1
    ce: np.ndarray  # (n, K)
    l1: np.ndarray  # (n, K): l1_weight * sum(|p|), a part added to the loss
    l2: np.ndarray  # (n, K): l2_weight * sum(p^2), the other part
    abs_sum: np.ndarray  # (n, K): sum(|p|) over the penalized parameters, unweighted
    square_sum: np.ndarray  # (n, K): sum(p^2), unweighted
    # Weight-matrix entries near zero (|w| <= the config's threshold) and exactly zero, counted
    # at the last step of each readout window: (w,) steps, (w, K) counts.
    counted_at: np.ndarray
    near_zero: np.ndarray
    exact_zeros: np.ndarray
    samples_per_s: float  # over these steps

    @property
    def total(self) -> np.ndarray:
        return self.ce + self.l1 + self.l2

    def __len__(self) -> int:
        return len(self.step)


def frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


_ARRAYS = ("step", "epoch", "batch", "ce", "l1", "l2", "abs_sum", "square_sum", "counted_at",
           "near_zero", "exact_zeros")


def merge_steps(parts: Sequence[Steps]) -> Steps:
    """Several windows of steps as one (the GUI takes them a few times a second)."""
    if len(parts) == 1:
        return parts[0]
    n = sum(len(p) for p in parts)
    seconds = sum(len(p) / max(p.samples_per_s, 1e-9) for p in parts)
    return Steps(**{f: frozen(np.concatenate([getattr(p, f) for p in parts])) for f in _ARRAYS},
                 samples_per_s=n / max(seconds, 1e-12) if seconds else 0.0)


def coalesced(events: Iterable[Event], interval_s: float) -> Iterator[Event]:
    """The same events, with Steps merged so that at most one goes out per `interval_s` (a
    window gets them a few times a second: each delivery costs its thread the GIL). Any other
    event first flushes the steps before it, so the order is kept."""
    pending: list[Steps] = []
    last = time.perf_counter()
    for event in events:
        if isinstance(event, Steps):
            pending.append(event)
            if time.perf_counter() - last < interval_s:
                continue
        if pending:
            yield merge_steps(pending)
            pending = []
            last = time.perf_counter()
        if not isinstance(event, Steps):
            yield event
    if pending:
        yield merge_steps(pending)


@dataclass(frozen=True, slots=True)
class EpochStarted:
    epoch: int  # from 1
    epochs: int


@dataclass(frozen=True, slots=True)
class EpochMetrics:
    epoch: int
    step: int
    train_accuracy: tuple[float, ...]  # NaN for a model that diverged
    test_accuracy: tuple[float, ...]
    sparsity: tuple[SparsityReport, ...]
    seconds: float  # training only, pauses excluded
    eval_seconds: float
    samples_per_s: float


@dataclass(frozen=True, slots=True)
class HyperparamsChanged:
    step: int  # the first step that uses the new values
    l1_weights: tuple[float, ...]
    l2_weights: tuple[float, ...]
    lr: float


@dataclass(frozen=True, slots=True)
class Diverged:
    """A model's loss or weights stopped being finite; it keeps its last finite weights."""

    step: int
    model: int
    reason: str
    kept_step: int  # the step of the weights it keeps (0: none trained: its starting weights)


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should know that changes no number: the run goes on."""

    step: int
    text: str


@dataclass(frozen=True, slots=True)
class Paused:
    step: int


@dataclass(frozen=True, slots=True)
class Resumed:
    step: int


class RunStatus(enum.Enum):
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RunEnded:
    status: RunStatus
    reason: str
    step: int
    epochs_done: int
    # Of the weights the run ends with, measured then (so a stopped run has its own numbers).
    test_accuracy: tuple[float, ...] = ()
    sparsity: tuple[SparsityReport, ...] = ()
    diverged: tuple[bool, ...] = ()


@dataclass(frozen=True)
class WeightSnapshot:
    """A detached CPU copy of one model's parameters, owned by whoever holds it."""

    step: int
    epoch: float
    state: dict[str, torch.Tensor]
    model: int = 0

    def weights(self) -> dict[str, torch.Tensor]:
        """The weight matrices only (what sparsity is measured on)."""
        return weight_matrices(self.state)


Event = (Steps | EpochStarted | EpochMetrics | HyperparamsChanged | Diverged | Notice | Paused | Resumed
         | RunEnded | WeightSnapshot)
