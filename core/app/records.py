"""What a run really did: its settings at start, every live change with its step, its steps and
epochs, and how it ended. The window's history, its legends, the CSV files and the model files
are all made from records, so results are never attributed to settings that did not produce
them. Qt-free: the CLI keeps a record of its sweep the same way.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field

import numpy as np

from ..training.config import TrainConfig
from ..training.events import (
    Diverged,
    EpochMetrics,
    Event,
    HyperparamsChanged,
    RunEnded,
    Steps,
    WeightSnapshot,
)
from ..training.sparsity import SparsityReport
from .numbers import short

CHANCE_CE = math.log(10)  # the cross-entropy of a net that gives every digit 1/10
# Settings that can tell runs apart in a legend, with how each is written there.
DISTINGUISHING = {
    "epochs": lambda c: f"{c.epochs} epochs",
    "batch_size": lambda c: f"batch {c.batch_size}",
    "train_size": lambda c: f"{c.train_size:,} images",
    "l1_method": lambda c: c.l1_method,
    "optimizer": lambda c: c.optimizer,
    "seed": lambda c: f"seed {c.seed}",
    "penalize_biases": lambda c: "biases penalized" if c.penalize_biases else "weights only",
    "weight_decay": lambda c: f"weight decay {short(c.weight_decay)}",
}
SUMMARY_FIELDS = ("run", "l1_weight", "l2_weight", "schedule", "status", "steps", "epochs_done",
                  "test_accuracy", "sparsity", "exact_zeros", "lr", "weight_decay", "l1_method",
                  "epochs", "batch_size", "train_images", "seed")


class Growing:
    """Rows of floats that double their buffer when full (never np.append, which copies every call)."""

    def __init__(self, columns: int, capacity: int = 1024) -> None:
        self._data = np.empty((capacity, columns))
        self.n = 0

    def extend(self, rows: np.ndarray) -> None:
        end = self.n + len(rows)
        if end > len(self._data):
            grown = np.empty((max(end, 2 * len(self._data)), self._data.shape[1]))
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n : end] = rows
        self.n = end

    def view(self) -> np.ndarray:
        return self._data[: self.n]


class Kind(enum.Enum):
    RUN = "run"  # one model
    SWEEP = "sweep"  # one model per L1 (and L2) weight, compared on the Sweep tab
    COMPARISON = "comparison"  # no penalty, L2 alone, L1 alone: side by side everywhere


@dataclass(eq=False, repr=False)
class RunRecord:
    """One run (K = 1), or K models trained at once on the same batches: a sweep or a
    comparison."""

    number: int  # the history id its (first) model will be kept under: "#12" everywhere
    config: TrainConfig  # the settings at start
    l1_weights: tuple[float, ...]  # each model's, at start
    l2_weights: tuple[float, ...] = ()  # each model's, at start (none given: the config's)
    kind: Kind = Kind.RUN
    changes: list[HyperparamsChanged] = field(default_factory=list)
    epochs: list[EpochMetrics] = field(default_factory=list)
    diverged_at: dict[int, int] = field(default_factory=dict)  # model -> step
    kept_at: dict[int, int] = field(default_factory=dict)  # a diverged model -> its weights' step
    snapshots: dict[int, WeightSnapshot] = field(default_factory=dict)  # model -> latest weights
    ended: RunEnded | None = None
    samples_per_s: float = 0.0
    title: str = ""  # how it is named: "run #3", "comparison #7"
    stored_ids: list[int] = field(default_factory=list)  # its models' ids in the kept history
    colour: int = 0  # its first model's place in the palette; model m takes the m-th after it

    def __post_init__(self) -> None:
        self.title = self.title or f"{self.kind.value} #{self.number}"
        self.l2_weights = self.l2_weights or (self.config.l2_weight,) * self.k
        self._x = Growing(2)  # step, fractional epoch
        self._ce = Growing(self.k)
        self._l1 = Growing(self.k)
        self._l2 = Growing(self.k)
        self._abs_sum = Growing(self.k)
        self._square_sum = Growing(self.k)
        self._counted_x = Growing(2)  # step, fractional epoch of each zero count
        self._near_zero = Growing(self.k)
        self._exact_zeros = Growing(self.k)

    @property
    def k(self) -> int:
        return len(self.l1_weights)

    @property
    def sweep(self) -> bool:
        return self.kind is Kind.SWEEP

    @property
    def comparison(self) -> bool:
        return self.kind is Kind.COMPARISON

    def model_name(self, m: int = 0) -> str:
        """What tells model m apart: `no penalty`, `L2 1e-3`, `L1 0.1` (a sweep's and a
        comparison's models), or the run's schedule."""
        if self.k == 1 and not self.comparison:
            return self.schedule()
        l1, l2 = self.l1_weights[m], self.l2_weights[m]
        parts = [f"L1 {short(l1)}"] * bool(l1 or not l2) + [f"L2 {short(l2)}"] * bool(l2)
        return "no penalty" if self.comparison and not (l1 or l2) else ", ".join(parts)

    def line_name(self, m: int = 0) -> str:
        """Model m in a legend: `#9 L1 0.1` for a comparison's, the title for a run's."""
        return f"#{self.number + m} {self.model_name(m)}" if self.comparison else self.title

    def model(self, m: int) -> RunRecord:
        """Model m of a sweep or comparison as a record of its own, numbered as it is kept (a
        run's only model is itself)."""
        if self.k == 1:
            return self
        pick = _picker(m)
        one = RunRecord(self.number + m,
                        self.config.replace(l1_weight=self.l1_weights[m], l2_weight=self.l2_weights[m]),
                        (self.l1_weights[m],), (self.l2_weights[m],), self.kind,
                        [pick(c) for c in self.changes], [pick(e) for e in self.epochs],
                        diverged_at={0: self.diverged_at[m]} if m in self.diverged_at else {},
                        kept_at={0: self.kept_at[m]} if m in self.kept_at else {},
                        snapshots={0: self.snapshots[m]} if m in self.snapshots else {},
                        ended=pick(self.ended) if self.ended else None, samples_per_s=self.samples_per_s,
                        colour=self.colour + m)
        one._x.extend(self._x.view())
        one._counted_x.extend(self._counted_x.view())
        for name in _PER_MODEL:
            getattr(one, name).extend(getattr(self, name).view()[:, m : m + 1])
        return one

    def __repr__(self) -> str:
        return f"<RunRecord {self.title}: {self.schedule()}, step {self.steps_done}, {self.status()}>"

    # ---- events in ---------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        if isinstance(event, Steps):
            self._x.extend(np.column_stack((event.step, event.epoch)))
            for name in _PER_MODEL[:5]:
                getattr(self, name).extend(getattr(event, name[1:]))
            counted = event.counted_at
            self._counted_x.extend(np.column_stack((counted, counted / self.config.steps_per_epoch)))
            self._near_zero.extend(event.near_zero)
            self._exact_zeros.extend(event.exact_zeros)
            self.samples_per_s = event.samples_per_s
        elif isinstance(event, EpochMetrics):
            self.epochs.append(event)
        elif isinstance(event, HyperparamsChanged):
            self.changes.append(event)
        elif isinstance(event, Diverged):
            self.diverged_at.setdefault(event.model, event.step)
            self.kept_at.setdefault(event.model, event.kept_step)
        elif isinstance(event, WeightSnapshot):
            self.snapshots[event.model] = event
        elif isinstance(event, RunEnded):
            self.ended = event

    # ---- what it did -------------------------------------------------------------------------

    @property
    def steps_done(self) -> int:
        """The last step trained (and read back) so far."""
        return int(self._x.view()[-1, 0]) if self._x.n else 0

    @property
    def total_steps(self) -> int:
        return self.config.epochs * self.config.steps_per_epoch

    def curves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Fractional epochs (n,), and cross-entropy, L1 and L2 terms (n, K) of every step."""
        return self._x.view()[:, 1], self._ce.view(), self._l1.view(), self._l2.view()

    def sums(self) -> tuple[np.ndarray, np.ndarray]:
        """Unweighted sum(|p|) and sum(p^2) of every step, (n, K) each (NaN where not known:
        a run kept before they were recorded)."""
        return self._abs_sum.view(), self._square_sum.view()

    def zero_curves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fractional epochs (w,), and the share of weights near zero and exactly zero (w, K),
        counted every readout window during the run."""
        size = self.config.weight_count
        return (self._counted_x.view()[:, 1], self._near_zero.view() / size,
                self._exact_zeros.view() / size)

    def uses_l2(self, model: int = 0) -> bool:
        """Whether the model had an L2 weight other than 0 at any time."""
        return any(w for w in [self.l2_weights[model], *(c.l2_weights[model] for c in self.changes)])

    def seconds_left(self) -> float | None:
        if not self.samples_per_s:
            return None
        return (self.total_steps - self.steps_done) * self.config.batch_size / self.samples_per_s

    def status(self, model: int = 0) -> str:
        if model in self.diverged_at:
            return "diverged"
        return self.ended.status.value if self.ended else "running"

    def test_accuracy(self, model: int = 0) -> float | None:
        """Of the weights the run ended with, or of its last epoch while it runs."""
        if self.ended and self.ended.test_accuracy:
            value = self.ended.test_accuracy[model]
        elif self.epochs:
            value = self.epochs[-1].test_accuracy[model]
        else:
            return None
        return None if model in self.diverged_at or math.isnan(value) else value

    def sparsity(self, model: int = 0) -> SparsityReport | None:
        if self.ended and self.ended.sparsity:
            return self.ended.sparsity[model]
        return self.epochs[-1].sparsity[model] if self.epochs else None

    def l1_schedule(self, model: int = 0) -> str:
        """`1e-4 -> 3e-3 at step 300`: the model's L1 weight, with every live change."""
        return _timeline([(0, self.l1_weights[model])]
                         + [(c.step, c.l1_weights[model]) for c in self.changes])

    def schedule(self, model: int = 0) -> str:
        """`L1 1e-4 -> 3e-3 at step 300, lr 1e-3`: what the model was trained with, in order
        (L2 only when it was used; ", augmented" when the digits were)."""
        lr = _timeline([(0, self.config.lr)] + [(c.step, c.lr) for c in self.changes])
        l2 = _timeline([(0, self.l2_weights[model])] + [(c.step, c.l2_weights[model]) for c in self.changes])
        return (f"L1 {self.l1_schedule(model)}, " + (f"L2 {l2}, " if self.uses_l2(model) else "")
                + f"lr {lr}" + (", augmented" if self.config.augment else ""))

    def live_changes(self, model: int = 0) -> list[tuple[int, float, float, float]]:
        """Each live change as (first step, L1 weight, L2 weight, lr): what a model file and an
        exported script carry (at most MAX_LIVE_CHANGES, evenly thinned, the last kept)."""
        changes = [(c.step, c.l1_weights[model], c.l2_weights[model], c.lr) for c in self.changes]
        if len(changes) <= MAX_LIVE_CHANGES:
            return changes
        picks = np.linspace(0, len(changes) - 1, MAX_LIVE_CHANGES).round().astype(int)
        return [changes[i] for i in picks]

    def label(self, differing: tuple[str, ...] = (), model: int = 0) -> str:
        """The schedule, and the settings in `differing` that tell it apart from other runs."""
        extra = [DISTINGUISHING[name](self.config) for name in differing]
        return ", ".join([self.schedule(model), *extra])

    def summary(self, model: int = 0) -> dict[str, object]:
        """One row under SUMMARY_FIELDS."""
        report = self.sparsity(model)
        accuracy = self.test_accuracy(model)
        return {
            "run": self.number, "l1_weight": self.l1_weights[model],
            "l2_weight": self.l2_weights[model], "schedule": self.schedule(model),
            "status": self.status(model), "steps": self.ended.step if self.ended else self.steps_done,
            "epochs_done": self.ended.epochs_done if self.ended else len(self.epochs),
            "test_accuracy": "" if accuracy is None else accuracy,
            "sparsity": report.fraction if report else "", "exact_zeros": report.exact_zeros if report else "",
            "lr": self.config.lr, "weight_decay": self.config.weight_decay,
            "l1_method": self.config.l1_method, "epochs": self.config.epochs,
            "batch_size": self.config.batch_size, "train_images": self.config.train_size,
            "seed": self.config.seed,
        }

    def collapsed(self, model: int = 0) -> bool:
        """Whether the model has collapsed to chance (see `collapsed`)."""
        accuracy = self.test_accuracy(model)
        return accuracy is not None and collapsed(self._ce.view()[:, model], accuracy)


# The per-step and per-count arrays with one column per model, in the order Steps holds them.
_PER_MODEL = ("_ce", "_l1", "_l2", "_abs_sum", "_square_sum", "_near_zero", "_exact_zeros")


def differing(records: list[RunRecord]) -> tuple[str, ...]:
    """The distinguishing settings that are not the same in every record."""
    return tuple(name for name, show in DISTINGUISHING.items()
                 if len({show(r.config) for r in records}) > 1)


SHOWN_CHANGES = 8  # live changes written out in a schedule; the rest are counted
MAX_LIVE_CHANGES = 500  # live changes a model file carries (each a few dozen bytes)

MIN_STEPS = 200  # the evidence a collapse needs: an untrained net also sits at ln 10 at first
TAIL_STEPS = 100
CHANCE_TOLERANCE = 0.02  # how near ln 10 the tail's mean cross-entropy is
CHANCE_SPREAD = 0.05  # the most its standard deviation may be: a flat line, not a noisy one


def collapsed(ce: np.ndarray, test_accuracy: float) -> bool:
    """A net that has collapsed to chance: after at least MIN_STEPS steps, its raw
    cross-entropy has stayed at ln 10 (mean within 0.02, spread under 0.05) over the last
    TAIL_STEPS steps while test accuracy is below 20%. Every weight has then been pulled to
    zero: the logits are all equal, and the net can only guess."""
    if len(ce) < MIN_STEPS or test_accuracy >= 0.2:
        return False
    tail = ce[-TAIL_STEPS:]
    return bool(abs(tail.mean() - CHANCE_CE) < CHANCE_TOLERANCE and tail.std() < CHANCE_SPREAD)


def _picker(m: int):
    """A function giving an event with only model m's values in its per-model tuples."""
    def pick(event):
        return dataclasses.replace(event, **{
            f.name: (getattr(event, f.name)[m],) for f in dataclasses.fields(event)
            if isinstance(getattr(event, f.name), tuple) and getattr(event, f.name)})
    return pick


def _timeline(values: list[tuple[int, float]]) -> str:
    """`1e-4 -> 3e-3 at step 300`; beyond SHOWN_CHANGES changes, the first and last ones with
    how many were left out between them (names and model files stay short whatever a run did)."""
    parts, last = [short(values[0][1])], values[0][1]
    for step, value in values[1:]:
        if value != last:
            parts.append(f"{short(value)} at step {step}")
            last = value
    if len(parts) > SHOWN_CHANGES + 2:  # never "(1 more change)" in place of the change
        left_out = len(parts) - SHOWN_CHANGES - 1
        half = SHOWN_CHANGES // 2
        parts[1 + half : -half] = [f"({left_out:,} more changes)"]
    return " -> ".join(parts)
