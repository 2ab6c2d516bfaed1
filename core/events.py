"""What a training run reports, as plain frozen dataclasses the caller can observe."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import torch

from l1_trainer.core.sparsity import SparsityReport


@dataclass(frozen=True, slots=True)
class StepMetrics:
    step: int  # global step, from 1
    epoch: float  # fractional epoch: 1.5 is halfway through the second
    batch: int  # mini-batch within the epoch, from 1
    ce: float
    l1: float  # l1_weight * sum(|p|): the part added to the loss
    total: float
    samples_per_s: float  # over the steps read back together with this one


@dataclass(frozen=True, slots=True)
class EpochStarted:
    epoch: int  # from 1
    epochs: int


@dataclass(frozen=True, slots=True)
class EpochMetrics:
    epoch: int
    step: int
    train_accuracy: float
    test_accuracy: float
    sparsity: SparsityReport
    seconds: float  # training only, pauses excluded
    eval_seconds: float
    samples_per_s: float


@dataclass(frozen=True, slots=True)
class HyperparamsChanged:
    step: int  # the first step that uses the new values
    l1_weight: float
    lr: float


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


@dataclass(frozen=True)
class WeightSnapshot:
    """A detached CPU copy of every parameter, owned by whoever holds it."""

    step: int
    epoch: float
    state: dict[str, torch.Tensor]

    def weights(self) -> dict[str, torch.Tensor]:
        """The weight matrices only (what sparsity is measured on)."""
        return {name: t for name, t in self.state.items() if t.dim() == 2}


Event = StepMetrics | EpochStarted | EpochMetrics | HyperparamsChanged | Paused | Resumed | RunEnded
