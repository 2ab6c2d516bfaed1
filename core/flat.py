"""A module's parameters as views into one contiguous buffer, weights first.

With every parameter (and its gradient) inside one tensor, the L1 value, its gradient
w * sign(p) and the optimizer step each run as one kernel instead of one per parameter: on the
CPU, for a model this small, the per-tensor overhead is most of a training step.
"""

from __future__ import annotations

import torch
from torch import nn


class FlatParameters:
    """Re-seats `module`'s parameters and gradients as views of `param` and `param.grad`.

    Autograd accumulates into an existing .grad in place, so the views stay valid as long as
    gradients are zeroed with `zero_grad()` here, never set to None."""

    def __init__(self, module: nn.Module, penalize_biases: bool) -> None:
        params = list(module.parameters())
        ordered = [p for p in params if p.dim() > 1] + [p for p in params if p.dim() <= 1]
        first = params[0]
        self.param = nn.Parameter(torch.empty(sum(p.numel() for p in params), device=first.device))
        self.param.grad = torch.zeros_like(self.param)
        offset = 0
        with torch.no_grad():
            for p in ordered:
                n = p.numel()
                self.param[offset : offset + n].copy_(p.flatten())
                p.data = self.param.data[offset : offset + n].view_as(p)
                p.grad = self.param.grad[offset : offset + n].view_as(p)
                offset += n
        self.num_weights = sum(p.numel() for p in ordered if p.dim() > 1)
        n_penalized = self.param.numel() if penalize_biases else self.num_weights
        self.penalized = self.param.data[:n_penalized]
        self._penalized_grad = self.param.grad[:n_penalized]
        self._sign = torch.empty_like(self.penalized)

    def zero_grad(self) -> None:
        self.param.grad.zero_()

    def l1_term(self, weight: float) -> torch.Tensor:
        """weight * sum(|p|) over the penalized parameters, leaving sign(p) in a buffer."""
        with torch.no_grad():
            torch.sign(self.penalized, out=self._sign)
            # sign(p) . p = sum(|p|): one BLAS dot, cheaper than a separate norm reduction.
            return weight * torch.dot(self._sign, self.penalized)

    def add_l1(self, weight: float) -> torch.Tensor:
        """Add the gradient of weight * sum(|p|) (that is, weight * sign(p)) and return the term.

        Same gradient that autograd gives for torch.abs (sign(0) = 0), without building a graph."""
        term = self.l1_term(weight)
        with torch.no_grad():
            self._penalized_grad.add_(self._sign, alpha=weight)
        return term

    def soft_threshold(self, amount: float) -> None:
        """The proximal step of amount * sum(|p|): p <- sign(p) * max(|p| - amount, 0).

        Unlike the subgradient, it lands weights on exactly zero instead of jittering around it."""
        with torch.no_grad():
            torch.sign(self.penalized, out=self._sign)
            self.penalized.abs_().sub_(amount).clamp_(min=0).mul_(self._sign)
