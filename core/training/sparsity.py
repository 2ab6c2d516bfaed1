"""Sparsity of a network's weights, as a pure function of tensors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class LayerSparsity:
    name: str
    shape: tuple[int, ...]  # (out, in) for a weight matrix
    size: int
    near_zero: int  # |w| <= threshold
    exact_zeros: int

    @property
    def fraction(self) -> float:
        return self.near_zero / self.size if self.size else 0.0


@dataclass(frozen=True)
class SparsityReport:
    """Share of weights with |w| <= threshold, per weight matrix and overall."""

    threshold: float
    layers: tuple[LayerSparsity, ...]

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def near_zero(self) -> int:
        return sum(layer.near_zero for layer in self.layers)

    @property
    def exact_zeros(self) -> int:
        return sum(layer.exact_zeros for layer in self.layers)

    @property
    def fraction(self) -> float:
        return self.near_zero / self.size if self.size else 0.0


def sparsity(weights: Mapping[str, torch.Tensor], threshold: float) -> SparsityReport:
    """Count, for each named tensor, the entries with |w| <= threshold and those exactly 0."""
    torch = lazy.torch  # the report's types are imported by the window before PyTorch has loaded
    with torch.no_grad():
        counts = [
            torch.stack([(w.abs() <= threshold).sum(), (w == 0).sum()]) for w in weights.values()
        ]
        values = torch.stack(counts).tolist() if counts else []  # one host read for all layers
    layers = tuple(
        LayerSparsity(name, tuple(w.shape), w.numel(), near, zeros)
        for (name, w), (near, zeros) in zip(weights.items(), values)
    )
    return SparsityReport(threshold, layers)


def dead_units(matrix: torch.Tensor, threshold: float) -> list[int]:
    """The units (rows of a weight matrix, out x in) whose every incoming weight is at or below
    the threshold: L1 has switched them off."""
    return (matrix.abs() <= threshold).all(1).nonzero().flatten().tolist()


def dead_inputs(first_layer: torch.Tensor, threshold: float) -> torch.Tensor:
    """(784,) bool: input pixels whose every outgoing weight is at or below the threshold, so the
    network no longer looks at them (border pixels, which carry no ink, go first)."""
    return (first_layer.abs() <= threshold).all(0)
