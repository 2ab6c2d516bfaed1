"""Which entries of a state dict are weight matrices. Torch-free, so that the window's modules
can import it before PyTorch has loaded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def weight_matrices(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weight matrices of a state dict or snapshot, input layer first: what L1 sparsity,
    the pruning curve and the weight images are about (biases are left out)."""
    return {name: t for name, t in state.items() if t.dim() == 2}


def hidden_sizes_of(state: Mapping[str, torch.Tensor]) -> tuple[int, ...]:
    """The hidden layer sizes a state dict implies."""
    return tuple(w.shape[0] for w in list(weight_matrices(state).values())[:-1])
