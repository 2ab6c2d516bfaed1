"""The settings the next run trains with, and how its models are shown: the truth the window's
inputs write through and render from (napari's Dims and QtDims are the pattern). Qt-free.

Each field has an event of its own (`settings.events["lr"].connect(...)`), emitted with the new
value when, and only when, the value changes. A value set by the user turns the preset to
"custom"; a preset sets every field it holds. The sparsity threshold is one of them, so the
readout, a run's recorded sparsity and its exports use one threshold; the window locks it, as
every setting but the live ones, while a run goes on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..training.config import COMPARED_PRESETS, MNIST_TRAIN_SIZE, PRESETS, TrainConfig
from .emitter import Emitter

CUSTOM = ""  # the preset of settings the user changed


@dataclass(frozen=True)
class Values:
    """Every setting, once."""

    preset: str = "balanced"  # a key of PRESETS, or CUSTOM
    compare: bool = False  # train no penalty, L2 alone and L1 alone side by side
    l1_weight: float = 1e-4
    l1_method: str = "penalty"
    l2_weight: float = 0.0
    lr: float = 1e-3
    epochs: int = 10
    train_images: int = MNIST_TRAIN_SIZE
    batch_size: int = 64
    weight_decay: float = 0.01
    optimizer: str = "adamw"
    device: str = "auto"
    seed: int = 42
    penalize_biases: bool = True
    augment: bool = False
    notebook_exact: bool = False  # the Seed preset's: the notebook's arithmetic, slower
    threshold: float = 1e-3  # |w| at or below it counts as near zero

    @classmethod
    def of_preset(cls, key: str, device: str = "auto") -> Values:
        """A preset's settings (presets do not choose hardware: the device is kept)."""
        c = PRESETS[key]
        return cls(key, key in COMPARED_PRESETS, c.l1_weight, c.l1_method, c.l2_weight, c.lr, c.epochs,
                   c.train_size, c.batch_size, c.weight_decay, c.optimizer, device, c.seed,
                   c.penalize_biases, c.augment, c.notebook_exact, c.l1_threshold)


FIELDS = tuple(f.name for f in dataclasses.fields(Values))
TYPES = {f.name: type(getattr(Values(), f.name)) for f in dataclasses.fields(Values)}


class Settings:
    def __init__(self) -> None:
        self.values = Values.of_preset("balanced")  # a first start: a useful run, not a collapse
        self.events = {name: Emitter() for name in FIELDS}

    def __getitem__(self, name: str) -> Any:
        return getattr(self.values, name)

    def set(self, name: str, value: Any) -> None:
        """The user's value for one setting: checked as the run would check it (ValueError
        saying why), and the preset becomes custom."""
        self._check(name, value)
        self._update({name: value, "preset": CUSTOM} if name not in ("preset", "threshold", "device") else
                     {name: value})

    def choose_preset(self, key: str) -> None:
        """Every setting the preset holds; the device stays."""
        if key == CUSTOM:
            self._update({"preset": CUSTOM})
            return
        self._update(dataclasses.asdict(Values.of_preset(key, self.values.device)))

    def restore(self, stored: dict[str, Any]) -> None:
        """Settings kept from the last session, each of its field's type (an ini file gives
        strings back); one that cannot be read keeps its default."""
        values = {}
        for name, raw in stored.items():
            if name in TYPES and raw is not None:
                try:
                    value = _typed(raw, TYPES[name])
                    self._check(name, value)
                except (TypeError, ValueError):
                    continue
                values[name] = value
        self._update(values)

    def config(self) -> TrainConfig:
        """What the next run trains with; ValueError naming the setting that cannot be."""
        v = self.values
        if v.batch_size > v.train_images:
            raise ValueError(batch_problem(v))
        return TrainConfig(
            l1_weight=v.l1_weight, l2_weight=v.l2_weight, lr=v.lr, weight_decay=v.weight_decay,
            epochs=v.epochs, batch_size=v.batch_size,
            train_subset=None if v.train_images >= MNIST_TRAIN_SIZE else v.train_images,
            optimizer=v.optimizer, device=v.device, seed=v.seed, penalize_biases=v.penalize_biases,
            augment=v.augment, notebook_exact=v.notebook_exact, l1_method=v.l1_method,
            l1_threshold=v.threshold)

    def _check(self, name: str, value: Any) -> None:
        if name not in TYPES:
            raise ValueError(f"there is no setting {name!r}")
        if name == "preset":
            if value != CUSTOM and value not in PRESETS:
                raise ValueError(f"there is no preset {value!r}")
        elif name in _CONFIG_FIELDS:
            TrainConfig().replace(**{_CONFIG_FIELDS[name]: value})
        elif name == "train_images":
            TrainConfig(batch_size=1).replace(train_subset=value)
        elif not isinstance(value, TYPES[name]):
            raise ValueError(f"{name} must be {TYPES[name].__name__}, got {value!r}")

    def _update(self, changes: dict[str, Any]) -> None:
        changed = {k: v for k, v in changes.items() if getattr(self.values, k) != v}
        self.values = dataclasses.replace(self.values, **changed)
        for name, value in changed.items():
            self.events[name].emit(value)


def batch_problem(v: Values) -> str:
    """What is wrong when the batch outgrows the images ('' when it does not)."""
    if v.batch_size <= v.train_images:
        return ""
    return (f"Batch size {v.batch_size:,} is larger than the {v.train_images:,} training images: "
            "lower the batch size or use more images.")


# The settings that are a TrainConfig field (checked by it), by that field's name.
_CONFIG_FIELDS = {name: name for name in ("l1_weight", "l1_method", "l2_weight", "lr", "epochs", "batch_size",
                                          "weight_decay", "optimizer", "device", "seed", "penalize_biases",
                                          "augment", "notebook_exact")} | {"threshold": "l1_threshold"}


def _typed(value: Any, kind: type) -> Any:
    if kind is bool:
        return value if isinstance(value, bool) else str(value).lower() == "true"
    return kind(value)
