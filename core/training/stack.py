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

from .model import MLP


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

    def zero_counts(self, threshold: float) -> torch.Tensor:
        """(2, K): each model's weight-matrix entries with |w| <= threshold, and exactly 0."""
        weights = [block.reshape(self.k, -1) for block in self.blocks.values() if block.dim() > 2]
        near = sum((w.abs() <= threshold).sum(1) for w in weights)
        exact = sum((w == 0).sum(1) for w in weights)
        return torch.stack((near, exact))

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


class Penalties:
    """The L1 term, l1 * sum(|p|), and the L2 term, l2 * sum(p^2), over each model's penalized
    parameters: their values, their gradients (added as the notebook adds L1's), and L1's
    proximal step (which lands on exact zeros). Written once for a run and a sweep.

    `l1` and `l2` hold each model's weights; they may change between steps (`set_weights`)."""

    def __init__(self, stack: ParamStack, l1: list[float], l2: list[float]) -> None:
        self.stack = stack
        n = stack.num_penalized
        self.penalized = stack.param.data[:n]
        self._grad = stack.param.grad[:n]
        self._sign = torch.empty_like(self.penalized)
        self._amount = torch.empty_like(self.penalized)
        self._blocks = [stack.blocks[name] for name in stack.penalized_names]
        device = stack.param.device
        if stack.k > 1:
            # |p| and p^2 side by side, each block's (2, K) sums, their total: a few kernels a
            # step whatever the number of blocks (per-block abs, sum and add were three dozen).
            self._values = torch.empty(2, n, device=device)
            self._block_sums = torch.empty(len(self._blocks), 2, stack.k, device=device)
            self._sums = torch.empty(2, stack.k, device=device)
            self._block_views = self._views_by_block(self._values)
        # Made once and written into by set_weights: a captured CUDA graph reads them there.
        self.l1 = torch.zeros(stack.k, device=device)
        self.l2 = torch.zeros(stack.k, device=device)
        self._l1_scale = torch.zeros(n, device=device)  # each penalized element's model's l1
        self._l2_slope = torch.zeros(n, device=device)  # d(l2 * p^2)/dp = 2 * l2 * p, per element
        self.uses_l2 = False
        self.set_weights(l1, l2)

    def set_weights(self, l1: list[float], l2: list[float]) -> None:
        """New weights, written into the same tensors."""
        self.l1.copy_(torch.tensor(l1, dtype=torch.float32))
        self.l2.copy_(torch.tensor(l2, dtype=torch.float32))
        self._l1_scale.copy_(self._per_element(self.l1))
        self._l2_slope.copy_(self._per_element(2 * self.l2))
        self.uses_l2 = any(w != 0 for w in l2)  # without it, no L2 work at all in the step

    def values(self) -> tuple[torch.Tensor, ...]:
        """(K,) each model's L1 and L2 terms, and the unweighted sum(|p|) and sum(p^2) (which
        compare models of any weights, 0 included), leaving sign(p) in a buffer for the
        gradient."""
        with torch.no_grad():
            torch.sign(self.penalized, out=self._sign)
            abs_sum, square_sum = self._sums_per_model()
            return abs_sum * self.l1, square_sum * self.l2, abs_sum, square_sum

    def add_gradients(self, l1: bool = True) -> None:
        """Add the terms' gradients: l1 * sign(p), as autograd gives it for abs (sign(0) = 0),
        unless `l1` is False (the proximal step stands for it), and 2 * l2 * p.

        Call after values(), which leaves sign(p) in its buffer."""
        with torch.no_grad():
            if l1:
                self._grad.addcmul_(self._sign, self._l1_scale)
            if self.uses_l2:
                self._grad.addcmul_(self.penalized, self._l2_slope)

    def shrink(self, lr: float) -> None:
        """L1's proximal step: p <- sign(p) * max(|p| - lr * l1, 0).

        Unlike the subgradient, it lands weights on exactly zero instead of jittering around it."""
        with torch.no_grad():
            torch.sign(self.penalized, out=self._sign)
            torch.mul(self._l1_scale, lr, out=self._amount)
            self.penalized.abs_().sub_(self._amount).clamp_(min=0).mul_(self._sign)

    def _sums_per_model(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(K,) each model's sum(|p|) and sum(p^2) over its penalized parameters."""
        p = self.penalized
        if self.stack.k == 1:
            # Two BLAS dots (sign(p) . p = sum(|p|), p . p = sum(p^2)).
            return torch.dot(self._sign, p).view(1), torch.dot(p, p).view(1)
        torch.mul(self._sign, p, out=self._values[0])
        torch.mul(p, p, out=self._values[1])
        for view, out in zip(self._block_views, self._block_sums):
            torch.sum(view, 2, out=out)
        torch.sum(self._block_sums, 0, out=self._sums)
        return self._sums[0].clone(), self._sums[1].clone()

    def _views_by_block(self, values: torch.Tensor) -> list[torch.Tensor]:
        """(2, K, n) views of `values` (laid out as the penalized buffer), one per block."""
        views, offset = [], 0
        for block in self._blocks:
            size = block.numel()
            views.append(values[:, offset : offset + size].view(2, self.stack.k, -1))
            offset += size
        return views

    def _per_element(self, weights: torch.Tensor) -> torch.Tensor:
        return torch.cat([weights.repeat_interleave(b[0].numel()) for b in self._blocks])
