"""K models' parameters in one flat buffer, and the L1 term over it, written once.

Layer-major: each parameter of the MLP is one contiguous (K, *shape) block, weight matrices
first, so the penalized part is a prefix and every block is a dense view. With K = 1 a block is
the parameter itself, so one layout serves a single run and a sweep. With every parameter and
its gradient inside one tensor, the L1 value, its gradient, the proximal step and the optimizer
each run as a few kernels instead of one per parameter: for a model this small, the
per-tensor overhead is most of a training step.
"""

from __future__ import annotations

import torch
from torch import nn

from l1_trainer.core.model import MLP


class ParamStack:
    """The parameters of K copies of `template`, and their gradients, as views of one buffer.

    Autograd accumulates into an existing .grad in place, so the gradient views stay valid as
    long as gradients are zeroed with `zero_grad()` here, never set to None."""

    def __init__(self, template: MLP, k: int, penalize_biases: bool, device: torch.device) -> None:
        named = list(template.named_parameters())
        self.names = [name for name, _ in named]  # the state dict's order
        ordered = sorted(named, key=lambda item: item[1].dim() < 2)  # weights first, stable
        self.k = k
        size = k * sum(p.numel() for _, p in named)
        self.param = nn.Parameter(torch.empty(size, device=device))
        self.param.grad = torch.zeros_like(self.param)
        self.blocks: dict[str, torch.Tensor] = {}  # name -> (K, *shape) view of the buffer
        self.grads: dict[str, torch.Tensor] = {}
        offset = 0
        with torch.no_grad():
            for name, p in ordered:
                n = k * p.numel()
                self.blocks[name] = self.param.data[offset : offset + n].view(k, *p.shape)
                self.grads[name] = self.param.grad[offset : offset + n].view(k, *p.shape)
                self.blocks[name].copy_(p.detach().expand(k, *p.shape))
                offset += n
        penalized = [name for name, p in ordered if p.dim() > 1 or penalize_biases]
        self.penalized_names = penalized
        self.num_penalized = sum(self.blocks[name].numel() for name in penalized)  # prefix length

    def zero_grad(self) -> None:
        self.param.grad.zero_()

    def state_dicts(self, source: torch.Tensor | None = None) -> list[dict[str, torch.Tensor]]:
        """A detached CPU copy of each model's parameters, in the state dict's order.

        `source`: a tensor of the buffer's layout to copy instead of the parameters."""
        flat = (self.param.detach() if source is None else source).to("cpu", copy=True)
        views = {}
        offset = 0
        for name, block in self.blocks.items():
            views[name] = flat[offset : offset + block.numel()].view(block.shape)
            offset += block.numel()
        return [{name: views[name][m] for name in self.names} for m in range(self.k)]

    def finite(self) -> torch.Tensor:
        """(K,) bool: whether every parameter of each model is a finite number."""
        ok = torch.ones(self.k, dtype=torch.bool, device=self.param.device)
        for block in self.blocks.values():
            ok &= torch.isfinite(block.reshape(self.k, -1)).all(1)
        return ok

    def copy_models(self, dst: torch.Tensor, src: torch.Tensor, models: torch.Tensor) -> None:
        """dst <- src for the models where `models` (K,) is True; both are flat tensors in
        this buffer's layout (the parameters themselves, or a saved copy of them)."""
        with torch.no_grad():
            if bool(models.all()):
                dst.copy_(src)
                return
            offset = 0
            for block in self.blocks.values():
                n = block.numel()
                d, s = (t[offset : offset + n].view(block.shape) for t in (dst, src))
                d.copy_(torch.where(models.view(-1, *[1] * (block.dim() - 1)), s, d))
                offset += n


class L1Term:
    """l1_weight * sum(|p|) over each model's penalized parameters: its value, its gradient
    (the penalty, added as the notebook does) or its proximal step (which lands on exact zeros).

    `weights` holds each model's L1 weight; they may change between steps (`set_weights`)."""

    def __init__(self, stack: ParamStack, weights: list[float]) -> None:
        self.stack = stack
        n = stack.num_penalized
        self.penalized = stack.param.data[:n]
        self._grad = stack.param.grad[:n]
        self._sign = torch.empty_like(self.penalized)
        self._amount = torch.empty_like(self.penalized)
        self._blocks = [stack.blocks[name] for name in stack.penalized_names]
        self._per_model = torch.empty(stack.k, device=stack.param.device)
        self.set_weights(weights)

    def set_weights(self, weights: list[float]) -> None:
        self.weights = torch.tensor(weights, dtype=torch.float32, device=self.stack.param.device)
        # Each penalized element's own model's weight, in the buffer's layout.
        self._scale = torch.cat([self.weights.repeat_interleave(b[0].numel()) for b in self._blocks])

    def value(self) -> torch.Tensor:
        """(K,) each model's L1 term, leaving sign(p) in a buffer for the gradient."""
        with torch.no_grad():
            torch.sign(self.penalized, out=self._sign)
            if self.stack.k == 1:
                # sign(p) . p = sum(|p|): one BLAS dot, where the per-block sums below are a
                # dozen kernels, a large share of a small model's step.
                return (torch.dot(self._sign, self.penalized) * self.weights).view(1)
            self._per_model.zero_()
            for block in self._blocks:
                self._per_model += block.reshape(self.stack.k, -1).abs().sum(1)
            return self._per_model * self.weights

    def add_gradient(self) -> None:
        """Add the term's gradient, weight * sign(p), as autograd gives it for abs (sign(0) = 0).

        Call after value(), which leaves sign(p) in its buffer."""
        with torch.no_grad():
            self._grad.addcmul_(self._sign, self._scale)

    def shrink(self, lr: float) -> None:
        """The proximal step of lr * weight * sum(|p|): p <- sign(p) * max(|p| - lr * weight, 0).

        Unlike the subgradient, it lands weights on exactly zero instead of jittering around it."""
        with torch.no_grad():
            torch.sign(self.penalized, out=self._sign)
            torch.mul(self._scale, lr, out=self._amount)
            self.penalized.abs_().sub_(self._amount).clamp_(min=0).mul_(self._sign)

