"""Magnitude pruning: how much accuracy survives when the smallest weights are set to zero."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .compaction import Compacted, compact
from .inference import evaluate, model_from_state
from .model import MLP
from .sparsity import sparsity
from .weights import weight_matrices

FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99)


@dataclass(frozen=True)
class PrunePoint:
    target: float  # share of weights asked to be removed
    removed: float  # share actually zero after pruning (ties at the cut are removed together)
    accuracy: float
    compacted: Compacted  # the pruned network with its idle pixels and units taken out


def prune(model: MLP, fraction: float) -> MLP:
    """A copy of `model` whose smallest-|w| weight-matrix entries (globally) are zero."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    matrices = list(weight_matrices(state).values())
    magnitudes = torch.cat([w.abs().flatten() for w in matrices])
    k = round(fraction * len(magnitudes))
    if k > 0:
        cut = magnitudes.kthvalue(k).values
        for w in matrices:
            w[w.abs() <= cut] = 0.0
    return model_from_state(state)


def pruning_curve(
    model: MLP, images: torch.Tensor, labels: torch.Tensor, fractions: tuple[float, ...] = FRACTIONS
) -> list[PrunePoint]:
    """Test accuracy after pruning each share of the weights, smallest magnitudes first, and
    the network each pruning compacts to."""
    points = []
    for fraction in fractions:
        pruned = prune(model, fraction)
        zeros = sparsity(weight_matrices(pruned.state_dict()), threshold=0.0)  # the exact zeros
        points.append(PrunePoint(fraction, zeros.fraction, evaluate(pruned, images, labels).accuracy,
                                 compact(pruned.state_dict())))
    return points
