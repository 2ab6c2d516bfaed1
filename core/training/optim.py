"""AdamW and SGD with momentum over one flat parameter tensor, written out.

The arithmetic is PyTorch's own kernels', op for op, so a run matches `torch.optim.AdamW` and
`SGD` to the last bit; what is gone is the per-step Python around them (parameter groups,
hooks, state lookups), a large share of a 52,544-parameter model's step. The learning rate may
be a float or a 0-d device tensor: a CUDA graph reads the tensor at each replay, so a live
change needs no new capture.
"""

from __future__ import annotations

import torch

from .config import TrainConfig


def uses_fused_adamw(config: TrainConfig, models: int, device: torch.device) -> bool:
    """Whether AdamW runs as PyTorch's one-pass kernel: everywhere it exists (the CPU and CUDA)
    unless a single run asks for the notebook's own arithmetic (the Seed preset)."""
    return device.type in ("cpu", "cuda") and not (config.notebook_exact and models == 1)


class AdamW:
    """`fused`: PyTorch's one-pass kernel (3x faster on a flat tensor here, and the one that
    takes the learning rate as a device tensor); its rounding differs from the for-loop
    kernels' (the notebook's), which the collapsed Seed run amplifies to 0.2% in five epochs."""

    def __init__(self, param: torch.Tensor, grad: torch.Tensor, lr: float | torch.Tensor,
                 weight_decay: float, fused: bool, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.param, self.grad, self.lr, self.weight_decay = param, grad, lr, weight_decay
        self.beta1, self.beta2, self.eps = betas[0], betas[1], eps
        self.exp_avg = torch.zeros_like(param)
        self.exp_avg_sq = torch.zeros_like(param)
        self.fused = fused
        self.steps = 0
        self._steps_t = torch.zeros((), device=param.device)  # the fused kernel reads it there
        self._denom = None if fused else torch.empty_like(param)
        # The fused kernel's arguments, made once.
        self._lists: tuple[list[torch.Tensor], ...] = ([param], [grad], [self.exp_avg], [self.exp_avg_sq], [],
                                                       [self._steps_t])

    def step(self) -> None:
        if self.fused:
            self._steps_t.add_(1)  # PyTorch's optimizer counts the step before the kernel
            torch._fused_adamw_(*self._lists, lr=self.lr, beta1=self.beta1, beta2=self.beta2,
                                weight_decay=self.weight_decay, eps=self.eps, amsgrad=False,
                                maximize=False)
            return
        self.steps += 1
        lr = self.lr
        if self.weight_decay:
            self.param.mul_(1 - lr * self.weight_decay)
        self.exp_avg.lerp_(self.grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self.beta2).addcmul_(self.grad, self.grad, value=1 - self.beta2)
        step_size = lr / (1 - self.beta1**self.steps)
        correction2_sqrt = (1 - self.beta2**self.steps) ** 0.5
        torch.sqrt(self.exp_avg_sq, out=self._denom).div_(correction2_sqrt).add_(self.eps)
        self.param.addcdiv_(self.exp_avg, self._denom, value=-step_size)


class SGD:
    """SGD with momentum and coupled weight decay, as `torch.optim.SGD` computes it."""

    def __init__(self, param: torch.Tensor, grad: torch.Tensor, lr: float | torch.Tensor,
                 weight_decay: float, momentum: float) -> None:
        self.param, self.grad, self.lr = param, grad, lr
        self.weight_decay, self.momentum = weight_decay, momentum
        self.buf = torch.zeros_like(param)
        self.steps = 0

    def step(self) -> None:
        if self.weight_decay:
            self.grad.add_(self.param, alpha=self.weight_decay)
        if self.momentum:
            if self.steps == 0:  # PyTorch starts the buffer at the first gradient
                self.buf.copy_(self.grad)
            else:
                self.buf.mul_(self.momentum).add_(self.grad)
        self.steps += 1
        direction = self.buf if self.momentum else self.grad
        if isinstance(self.lr, torch.Tensor):
            self.param.addcmul_(direction, self.lr, value=-1)
        else:
            self.param.add_(direction, alpha=-self.lr)
