"""What L1's zeros buy: the same network with everything that cannot change an output taken out.

An input pixel whose every outgoing weight is zero is never looked at. A hidden unit with no
input left puts out the constant ReLU(bias), which is folded into the next layer's biases; a
unit with no output left changes nothing. Taking such pixels and units out can leave others
without inputs or outputs, so it repeats until nothing changes. The result computes the same
probabilities as the full network (up to float rounding of the folded biases) with fewer
numbers: smaller to store, faster to run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .weights import weight_matrices


@dataclass(frozen=True)
class Compacted:
    """An MLP that reads only the input pixels `inputs` of a flattened image."""

    inputs: torch.Tensor  # (n,) int64: the kept pixels of the 784, ascending
    layers: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # (weight (out, in), bias (out,)) each
    original: tuple[int, ...]  # the full network's layer sizes: (784, 64, 32, 10)

    @property
    def sizes(self) -> tuple[int, ...]:
        return (len(self.inputs), *(w.shape[0] for w, _ in self.layers))

    @property
    def weight_count(self) -> int:
        return sum(w.numel() for w, _ in self.layers)

    @property
    def nonzero(self) -> int:
        return sum(int((w != 0).sum()) for w, _ in self.layers)

    @property
    def parameter_count(self) -> int:
        return sum(w.numel() + b.numel() for w, b in self.layers)

    def describe(self) -> str:
        """`784-64-32-10 -> 686-61-32-10: 38,120 weights, 24,000 of them non-zero`."""
        shape = "-".join(map(str, self.original)), "-".join(map(str, self.sizes))
        return f"{shape[0]} -> {shape[1]}: {self.weight_count:,} weights, {self.nonzero:,} of them non-zero"

    def module(self) -> CompactMLP:
        return CompactMLP(self)

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.module()(images)


class CompactMLP(nn.Module):
    """Takes the full image, (N, 1, 28, 28) or (N, 784), and selects its kept pixels inside."""

    def __init__(self, compacted: Compacted) -> None:
        super().__init__()
        self.register_buffer("inputs", compacted.inputs.clone())
        self.linears = nn.ModuleList()
        for weight, bias in compacted.layers:
            linear = nn.Linear(weight.shape[1], weight.shape[0])
            with torch.no_grad():
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)
            self.linears.append(linear)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        h = images.reshape(len(images), -1).index_select(1, self.inputs)
        for j, linear in enumerate(self.linears):
            h = linear(h if j == 0 else F.relu(h))
        return h


def uncompacted(state: Mapping[str, torch.Tensor]) -> Compacted:
    """The full network in the same form: every pixel and unit kept."""
    weights, biases = _layers(state)
    original = (weights[0].shape[1], *(w.shape[0] for w in weights))
    return Compacted(torch.arange(original[0]), tuple(zip(weights, biases)), original)


def _layers(state: Mapping[str, torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Copies of the weight matrices and their biases, input layer first, on the CPU."""
    names = list(weight_matrices(dict(state)))
    weights = [state[name].detach().to("cpu", torch.float32).clone() for name in names]
    biases = [state[name.removesuffix("weight") + "bias"].detach().to("cpu", torch.float32).clone()
              for name in names]
    return weights, biases


def compact(state: Mapping[str, torch.Tensor]) -> Compacted:
    """The smallest equivalent network of an MLP's state dict (weights first, then biases, in
    the layers' order, as MLP.state_dict gives them)."""
    weights, biases = _layers(state)
    original = (weights[0].shape[1], *(w.shape[0] for w in weights))
    inputs = torch.arange(weights[0].shape[1])
    while True:
        before = (len(inputs), *(w.shape[0] for w in weights))
        used = _at_least_one((weights[0] != 0).any(0))
        inputs, weights[0] = inputs[used], weights[0][:, used]
        for layer in range(len(weights) - 1):
            _drop_idle_units(weights, biases, layer)
        if (len(inputs), *(w.shape[0] for w in weights)) == before:
            return Compacted(inputs, tuple(zip(weights, biases)), original)


def _drop_idle_units(weights: list[torch.Tensor], biases: list[torch.Tensor], layer: int) -> None:
    """Hidden layer `layer`'s units: fold those with no input into the next layer's biases, then
    drop them and those with no output (in place in the lists)."""
    w, b, after = weights[layer], biases[layer], weights[layer + 1]
    no_input = (w == 0).all(1)
    if no_input.any():
        biases[layer + 1] = biases[layer + 1] + after[:, no_input] @ F.relu(b[no_input])
    keep = _at_least_one(~(no_input | (after == 0).all(0)))
    if not (~no_input & keep).any():  # the one kept is idle: make it put out exactly nothing
        w, b, after = w.clone(), b.clone(), after.clone()
        w[keep], b[keep], after[:, keep] = 0.0, 0.0, 0.0
    weights[layer], biases[layer], weights[layer + 1] = w[keep], b[keep], after[:, keep]


def _at_least_one(keep: torch.Tensor) -> torch.Tensor:
    """A layer keeps one entry even when none is needed: a network has no empty layer."""
    if not keep.any():
        keep = keep.clone()
        keep[0] = True
    return keep
