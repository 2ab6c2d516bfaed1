"""One training step for K models: the arithmetic, apart from the loop that drives it.

`ExactStep` is the notebook's arithmetic for one model: autograd through its nn.Linear layers
and PyTorch's for-loop AdamW kernels, on the flat buffer. `StackedStep` trains K models at once:
the first layer of all K is one matrix product over the shared batch, the others are batched
products, and AdamW is one fused pass over all K parameter sets; elementwise as they are, AdamW,
the penalties' gradients and the proximal step make it exactly K independent runs. Both return
each step's cross-entropy, L1 and L2 terms as (K,) tensors left on the device, so that the loop
reads them back only once per logging window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from l1_trainer.core.config import TrainConfig
from l1_trainer.core.model import MLP
from l1_trainer.core.stack import ParamStack, Penalties

EVAL_CHUNK = 2_500  # test images per forward pass when evaluating K models at once


class _Step:
    """What both steps share: the penalties (L1 as a penalty or proximal, L2) and the optimizer."""

    def __init__(self, stack: ParamStack, config: TrainConfig, l1_weights: list[float],
                 l2_weights: list[float], fused: bool | None) -> None:
        self.stack = stack
        self.penalties = Penalties(stack, l1_weights, l2_weights)
        self.proximal = config.l1_method == "proximal"
        self.lr = config.lr
        param = [stack.param]
        if config.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(
                param, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
        else:
            self.optimizer = torch.optim.AdamW(
                param, lr=config.lr, weight_decay=config.weight_decay, fused=fused)

    def set_lr(self, lr: float) -> None:
        self.lr = lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _update(self) -> tuple[torch.Tensor, torch.Tensor]:
        """After the backward pass: the penalties, then the optimizer step; returns the terms."""
        l1, l2 = self.penalties.values()
        # Their gradients are added directly: loss = CE + l1 * sum(|p|) + l2 * sum(p^2) as a whole.
        self.penalties.add_gradients(l1=not self.proximal)
        self.optimizer.step()
        if self.proximal:
            self.penalties.shrink(self.lr)
        return l1, l2


class ExactStep(_Step):
    """One model, computed as the notebook computes it."""

    def __init__(self, template: MLP, config: TrainConfig, device: torch.device) -> None:
        self.model = template.to(device)
        # PyTorch's default (for-loop) AdamW kernels: the notebook's arithmetic exactly, and on
        # one flat tensor faster here than the fused CPU kernel.
        super().__init__(ParamStack(self.model, 1, config.penalize_biases, device), config,
                         [config.l1_weight], [config.l2_weight], fused=None)
        for name, p in self.model.named_parameters():
            p.data = self.stack.blocks[name][0]
            p.grad = self.stack.grads[name][0]

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self.stack.zero_grad()
        ce = F.cross_entropy(self.model(x), y)
        ce.backward()
        return ce.detach().view(1), *self._update()

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(1, N) predicted digits."""
        return self.model(x).argmax(1).unsqueeze(0)


class StackedStep(_Step):
    """K models that differ only in their L1 and L2 weights, trained on the same batches at once."""

    def __init__(self, template: MLP, config: TrainConfig, l1_weights: list[float],
                 l2_weights: list[float], device: torch.device) -> None:
        stack = ParamStack(template, len(l1_weights), config.penalize_biases, device)
        # One fused pass over K models' parameters: faster here than the for-loop kernels at
        # this size (it was slower for one model's 52k); the same update up to rounding.
        fused = True if device.type in ("cpu", "cuda") and config.optimizer == "adamw" else None
        super().__init__(stack, config, l1_weights, l2_weights, fused)
        # Leaf views whose grads are views of the flat grad: autograd accumulates in place.
        self.params = []
        for name in stack.names:
            leaf = torch.nn.Parameter(stack.blocks[name])
            leaf.grad = stack.grads[name]
            self.params.append(leaf)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (K, N, 10) of all K models for the same inputs x (N, 784)."""
        w, b = self.params[0], self.params[1]
        k, out, _ = w.shape
        # The inputs are shared, so the first (largest) layer of all K is one big GEMM.
        h = (x @ w.reshape(k * out, -1).T).view(len(x), k, out).transpose(0, 1) + b.unsqueeze(1)
        for j in range(1, len(self.params) // 2):
            w, b = self.params[2 * j], self.params[2 * j + 1]
            h = torch.baddbmm(b.unsqueeze(1), F.relu(h), w.transpose(1, 2))
        return h

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self.stack.zero_grad()
        logits = self.forward(x)  # (K, N, 10); as (K, 10, N) it takes the targets as (K, N)
        ce = F.cross_entropy(logits.transpose(1, 2), y.expand(self.stack.k, -1), reduction="none").mean(1)
        ce.sum().backward()  # each model's gradient is its own loss's gradient
        return ce.detach(), *self._update()

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(K, N) predicted digits, a chunk of images at a time."""
        return torch.cat([self.forward(part).argmax(2) for part in x.split(EVAL_CHUNK)], dim=1)
