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
        self.num_weights = sum(self.blocks[name].numel() for name, p in ordered if p.dim() > 1)  # a prefix
        # checks(): three rows of per-element flags (the last two stay 0 past the weights), and
        # each block's view of them, (3, K, its size); with one model, one view of the whole.
        self._flags = torch.zeros(3, size, device=device)
        sizes = [block.numel() for block in self.blocks.values()] if k > 1 else [size]
        self._flag_views = [part.view(3, k, -1) for part in self._flags.split(sizes, 1)]
        self._block_flags = torch.empty(len(sizes), 3, k, device=device)
        self._checks = torch.empty(3, k, device=device)
        penalized = [name for name, p in ordered if p.dim() > 1 or penalize_biases]
        self.penalized_names = penalized
        self.num_penalized = sum(self.blocks[name].numel() for name in penalized)  # prefix length

    def checks(self, threshold: float) -> torch.Tensor:
        """(3, K) float: whether each model's parameters are all finite (1 or 0), and how many
        of its weight-matrix entries have |w| <= threshold, and how many are exactly 0.

        A dozen kernels whatever K and the number of layers: three elementwise passes (p * 0 is
        0 where p is finite, NaN elsewhere), then each block's sums per model."""
        p, flags = self.param.data, self._flags
        weights = p[: self.num_weights]
        torch.mul(p, 0, out=flags[0])
        torch.abs(weights, out=flags[1, : self.num_weights])
        torch.le(flags[1, : self.num_weights], threshold, out=flags[1, : self.num_weights])
        torch.eq(weights, 0, out=flags[2, : self.num_weights])
        for view, out in zip(self._flag_views, self._block_flags):
            torch.sum(view, 2, out=out)
        torch.sum(self._block_flags, 0, out=self._checks)
        torch.eq(self._checks[0], 0, out=self._checks[0])
        return self._checks

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

    `l1` and `l2` hold each model's weights; they may change between steps (`set_weights`).
    `out`: a (4, K) tensor that `values()` writes into (by default one of its own)."""

    def __init__(self, stack: ParamStack, l1: list[float], l2: list[float],
                 out: torch.Tensor | None = None) -> None:
        self.stack = stack
        n, k = stack.num_penalized, stack.k
        device = stack.param.device
        self.penalized = stack.param.data[:n]
        self._grad = stack.param.grad[:n]
        self._sign = torch.empty_like(self.penalized)
        self._blocks = [stack.blocks[name] for name in stack.penalized_names]
        self.out = torch.zeros(4, k, device=device) if out is None else out
        self._sums = self.out[2:]  # sum(|p|) and sum(p^2), (2, K)
        self._sum_views = (self._sums[0, 0], self._sums[1, 0])  # one model's, made once
        self._terms = self.out[:2]
        if k > 1:
            # |p| and p^2 side by side, each block's (2, K) sums, their total: a few kernels a
            # step whatever the number of blocks (per-block abs, sum and add were three dozen).
            self._values = torch.empty(2, n, device=device)
            self._block_sums = torch.empty(len(self._blocks), 2, k, device=device)
            self._block_views = self._views_by_block(self._values)
        # Made once and written into by set_weights: a captured CUDA graph reads them there.
        self._weights = torch.zeros(2, k, device=device)
        self.l1, self.l2 = self._weights
        # Each penalized element's model's l1, and d(l2 * p^2)/dp = 2 * l2 * p per element; one
        # model's weight broadcasts over all its elements.
        self._l1_scale = torch.zeros(n if k > 1 else 1, device=device)
        self._l2_slope = torch.zeros_like(self._l1_scale)
        self._amount = torch.zeros_like(self._l1_scale)  # lr * l1, the proximal step's
        self.uses_l2 = False
        self.set_weights(l1, l2)

    def set_weights(self, l1: list[float], l2: list[float]) -> None:
        """New weights, written into the same tensors."""
        self._weights.copy_(torch.tensor([l1, l2], dtype=torch.float32))
        self._l1_scale.copy_(self._per_element(self.l1))
        self._l2_slope.copy_(self._per_element(2 * self.l2))
        self.uses_l2 = any(w != 0 for w in l2)  # without it, no L2 work at all in the step

    def values(self) -> torch.Tensor:
        """(4, K): each model's L1 and L2 terms, and the unweighted sum(|p|) and sum(p^2)
        (which compare models of any weights, 0 included), in `out`; leaves sign(p) in a buffer
        for the gradient. (Here and below: views of the parameters' .data, which autograd does not see.)"""
        torch.sign(self.penalized, out=self._sign)
        self._sum_per_model()
        torch.mul(self._sums, self._weights, out=self._terms)
        return self.out

    def add_gradients(self, l1: bool = True) -> None:
        """Add the terms' gradients: l1 * sign(p), as autograd gives it for abs (sign(0) = 0),
        unless `l1` is False (the proximal step stands for it), and 2 * l2 * p.

        Call after values(), which leaves sign(p) in its buffer."""
        if l1:
            self._grad.addcmul_(self._sign, self._l1_scale)
        if self.uses_l2:
            self._grad.addcmul_(self.penalized, self._l2_slope)

    def shrink(self, lr: float | torch.Tensor) -> None:
        """L1's proximal step: p <- sign(p) * max(|p| - lr * l1, 0).

        Unlike the subgradient, it lands weights on exactly zero instead of jittering around it."""
        torch.sign(self.penalized, out=self._sign)
        torch.mul(self._l1_scale, lr, out=self._amount)
        self.penalized.abs_().sub_(self._amount).clamp_(min=0).mul_(self._sign)

    def _sum_per_model(self) -> None:
        """Each model's sum(|p|) and sum(p^2) over its penalized parameters, into `_sums`."""
        p = self.penalized
        if self.stack.k == 1:
            # Two BLAS dots (sign(p) . p = sum(|p|), p . p = sum(p^2)).
            torch.dot(self._sign, p, out=self._sum_views[0])
            torch.dot(p, p, out=self._sum_views[1])
            return
        torch.mul(self._sign, p, out=self._values[0])
        torch.mul(p, p, out=self._values[1])
        for view, out in zip(self._block_views, self._block_sums):
            torch.sum(view, 2, out=out)
        torch.sum(self._block_sums, 0, out=self._sums)

    def _views_by_block(self, values: torch.Tensor) -> list[torch.Tensor]:
        """(2, K, n) views of `values` (laid out as the penalized buffer), one per block."""
        views, offset = [], 0
        for block in self._blocks:
            size = block.numel()
            views.append(values[:, offset : offset + size].view(2, self.stack.k, -1))
            offset += size
        return views

    def _per_element(self, weights: torch.Tensor) -> torch.Tensor:
        if self.stack.k == 1:
            return weights
        return torch.cat([weights.repeat_interleave(b[0].numel()) for b in self._blocks])
