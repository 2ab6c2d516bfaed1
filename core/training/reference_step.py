"""The training step as the notebook writes it: autograd and torch.optim. The readable twin of
the written-out step (fast_step.py), which must compute the same numbers.

It is what to read first, and what the fast step is compared with: the tests train both on the
same batches (tests/test_steps.py), a benchmark times both side by side
(benchmarks/bench_epoch.py), and `l1-trainer train --autograd` trains a whole run with it.

K models that differ only in their penalty weights are K independent runs: each forward pass
uses its own model's weights, and the K losses are summed before backward, which leaves each
model's own gradient in its own parameters (no model's loss depends on another's weights).
The parameters live in the same flat buffer the fast step uses (stack.py), so the trainer's
snapshots, checks and rescue of a diverged model work on either step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import TrainConfig
from .dataset import unit_float
from .model import MLP
from .optim import uses_fused_adamw
from .stack import ParamStack


class ReferenceStep:
    """Trains K copies of `template`, model m with the m-th L1 and L2 weight, by autograd."""

    def __init__(self, template: MLP, config: TrainConfig, l1_weights: list[float],
                 l2_weights: list[float], device: torch.device) -> None:
        self.k = len(l1_weights)
        self.stack = stack = ParamStack(template, self.k, config.penalize_biases, device)
        self.proximal = config.l1_method == "proximal"
        self.set_penalties(l1_weights, l2_weights)
        # Views of the parameter itself (not of .data): autograd follows them back to it.
        self.params: dict[str, torch.Tensor] = {}
        offset = 0
        for name, block in stack.blocks.items():
            self.params[name] = stack.param[offset : offset + block.numel()].view(block.shape)
            offset += block.numel()
        self.layers = [(self.params[w], self.params[b]) for w, b in zip(stack.names[0::2], stack.names[1::2])]
        if config.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(
                [stack.param], lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
        else:
            self.optimizer = torch.optim.AdamW([stack.param], lr=config.lr, weight_decay=config.weight_decay,
                                               fused=uses_fused_adamw(config, self.k, device))

    def set_penalties(self, l1_weights: list[float], l2_weights: list[float]) -> None:
        self.l1 = torch.tensor(l1_weights, device=self.stack.param.device)
        self.l2 = torch.tensor(l2_weights, device=self.stack.param.device)

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One step on a batch; returns (5, K): each model's cross-entropy, L1 and L2 terms,
        and sum(|p|) and sum(p^2) of the weights the step started from."""
        penalized = torch.cat([self.params[n].reshape(self.k, -1) for n in self.stack.penalized_names], 1)
        abs_sum, square_sum = penalized.abs().sum(1), penalized.square().sum(1)
        ce = torch.stack([F.cross_entropy(self.forward(m, x), y) for m in range(self.k)])
        l1_term, l2_term = self.l1 * abs_sum, self.l2 * square_sum
        # The notebook's loss per model; the proximal method leaves L1 out of the gradient.
        loss = ce + l2_term + (0 if self.proximal else l1_term)
        self.optimizer.zero_grad(set_to_none=False)  # the stack's gradient views stay valid
        loss.sum().backward()
        self.optimizer.step()
        if self.proximal:
            self._shrink()
        return torch.stack((ce, l1_term, l2_term, abs_sum, square_sum)).detach()

    def forward(self, m: int, x: torch.Tensor) -> torch.Tensor:
        """Model m's logits: Linear, then ReLU and Linear for each further layer."""
        h = x
        for j, (weight, bias) in enumerate(self.layers):
            h = F.linear(h if j == 0 else F.relu(h), weight[m], bias[m])
        return h

    @torch.no_grad()
    def _shrink(self) -> None:
        """L1's proximal step on each penalized parameter: p <- sign(p) * max(|p| - lr * l1, 0)."""
        lr = self.optimizer.param_groups[0]["lr"]
        for name in self.stack.penalized_names:
            p = self.stack.blocks[name]
            amount = (lr * self.l1).view(-1, *[1] * (p.dim() - 1))
            p.copy_(p.sign() * (p.abs() - amount).clamp(min=0))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(K, N) predicted digits for images (N, 784) (bytes or floats)."""
        return self.logits(unit_float(x)).argmax(2)

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(K, N, 10) for inputs (N, 784)."""
        return torch.stack([self.forward(m, x) for m in range(self.k)])
