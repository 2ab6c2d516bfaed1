"""The seed notebook's MLP (Flatten, 784-64-ReLU-32-ReLU-10), with configurable hidden sizes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .config import IMAGE_PIXELS, NUM_CLASSES
from .weights import weight_matrices


class MLP(nn.Module):
    """Fully connected ReLU network; `layers` is an nn.Sequential like the notebook's."""

    def __init__(self, hidden_sizes: Sequence[int] = (64, 32)) -> None:
        super().__init__()
        sizes = [IMAGE_PIXELS, *hidden_sizes, NUM_CLASSES]
        modules: list[nn.Module] = [nn.Flatten()]
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            if i:
                modules.append(nn.ReLU())
            modules.append(nn.Linear(fan_in, fan_out))
        self.layers = nn.Sequential(*modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def linears(self) -> list[nn.Linear]:
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def weight_names(self) -> list[str]:
        """Names of the weight matrices, input layer first (`layers.1.weight`, ...)."""
        return list(weight_matrices(dict(self.named_parameters())))


def build_model(hidden_sizes: Sequence[int], generator: torch.Generator) -> MLP:
    """An MLP initialised from `generator` with the draws nn.Linear makes from the global RNG.

    Drawing from our own generator keeps runs independent of other threads' use of the global
    RNG, while a generator seeded like `torch.manual_seed(s)` yields the notebook's exact weights.
    """
    with torch.device("cpu"):
        model = MLP(hidden_sizes)
    with torch.no_grad():
        for layer in model.linears():
            # Same calls, in the same order, as nn.Linear.reset_parameters.
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return model
