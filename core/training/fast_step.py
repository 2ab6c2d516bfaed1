"""One training step for K models, forward and backward written out: no autograd.

For a model this small the arithmetic is a few hundred microseconds and autograd's bookkeeping
(graph nodes, hooks, a fresh tensor per intermediate) was as much again. Here every
intermediate lives in a buffer allocated once per batch size, and each step is the same short
list of kernels: three matrix products forward, five backward, the softmax and the ReLU masks.
It computes what autograd computes for the notebook's loss, with the same kernels in the same
order for a single model (addmm, mm, threshold_backward, NLL's and log_softmax's backwards), so
a run matches autograd and torch.optim to the last bit (tests/test_steps.py), and with the
notebook's AdamW arithmetic the notebook's loop (tests/test_seed.py checks 0.1%).

K models that differ only in their penalty weights train on the same batches at once: the
first layer of all K is one matrix product over the shared batch, the others are batched
products, and the penalties and the optimizer are elementwise passes over one flat buffer,
which makes it exactly K independent runs. Each step's cross-entropy, L1 and L2 terms, and the
unweighted sum(|p|) and sum(p^2), come back as one (5, K) tensor left on the device, read back
once per logging window.
"""

from __future__ import annotations

from functools import partial

import torch

from .config import TrainConfig
from .dataset import unit_float
from .model import MLP
from .optim import SGD, AdamW, uses_fused_adamw
from .stack import ParamStack, Penalties

EVAL_CHUNK = 2_500  # test images per forward pass when evaluating K models at once
_relu_backward = torch.ops.aten.threshold_backward.grad_input  # autograd's own backward kernels
_log_softmax_backward = torch._log_softmax_backward_data
_nll_loss = torch._C._nn.nll_loss
_nll_loss_backward = torch.ops.aten.nll_loss_backward.grad_input
_NO_REDUCTION, _NO_IGNORED = 0, -100  # ATen's Reduction::None, and an ignore_index no label has


class FastStep:
    """Trains K copies of `template`, model m with the m-th L1 and L2 weight."""

    def __init__(self, template: MLP, config: TrainConfig, l1_weights: list[float],
                 l2_weights: list[float], device: torch.device,
                 lr: float | torch.Tensor | None = None) -> None:
        """`lr`: a 0-d device tensor for a CUDA graph to read; by default the config's float."""
        self.k = len(l1_weights)
        self.stack = stack = ParamStack(template, self.k, config.penalize_biases, device)
        # What a step gives back, (5, K): CE, the L1 and L2 terms, sum(|p|), sum(p^2).
        self.values = torch.zeros(5, self.k, device=device)
        self.penalties = Penalties(stack, l1_weights, l2_weights, out=self.values[1:])
        self.proximal = config.l1_method == "proximal"
        self.lr = config.lr if lr is None else lr
        names = stack.names  # the state dict's order: weight, bias of each layer in turn
        self.weights = [stack.blocks[n] for n in names[0::2]]
        self.biases = [stack.blocks[n] for n in names[1::2]]
        self.weight_grads = [stack.grads[n] for n in names[0::2]]
        self.bias_grads = [stack.grads[n] for n in names[1::2]]
        grad = stack.param.grad
        if config.optimizer == "sgd":
            self.optimizer: AdamW | SGD = SGD(stack.param.data, grad, self.lr, config.weight_decay,
                                              config.momentum)
        else:
            fused = uses_fused_adamw(config, self.k, device) or lr is not None
            self.optimizer = AdamW(stack.param.data, grad, self.lr, config.weight_decay, fused)
        self._plans: dict[int, _Plan] = {}  # by batch size: the full one and the last

    def set_penalties(self, l1_weights: list[float], l2_weights: list[float]) -> None:
        self.penalties.set_weights(l1_weights, l2_weights)

    def set_lr(self, lr: float) -> None:
        if isinstance(self.lr, torch.Tensor):
            self.lr.fill_(lr)
        else:
            self.lr = self.optimizer.lr = lr

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One step on a batch; returns `values`, (5, K): each model's cross-entropy, L1 and L2
        terms, and sum(|p|) and sum(p^2) of the weights the step started from."""
        n = len(x)
        plan = self._plans.get(n) or self._plans.setdefault(n, _Plan(self, n, x.device))
        plan.run(x, y)
        self.penalties.values()
        # Their gradients are added directly: loss = CE + l1 * sum(|p|) + l2 * sum(p^2) as a whole.
        self.penalties.add_gradients(l1=not self.proximal)
        self.optimizer.step()
        if self.proximal:
            self.penalties.shrink(self.lr)
        return self.values

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(K, N) predicted digits for images (N, 784) (bytes or floats), a chunk at a time."""
        return torch.cat([self.logits(unit_float(part)).argmax(2) for part in x.split(EVAL_CHUNK)], dim=1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(K, N, 10) for inputs (N, 784), in fresh tensors (for evaluation, not the step)."""
        k, w = self.k, self.weights[0]
        h = torch.addmm(self.biases[0].view(-1), x, w.view(k * w.shape[1], -1).t())
        h = h.view(len(x), k, -1).transpose(0, 1)
        for j in range(1, len(self.weights)):
            h = torch.baddbmm(self.biases[j].unsqueeze(1), h.relu(), self.weights[j].transpose(1, 2))
        return h


class _Plan:
    """One step's kernels at batch size n: every intermediate allocated once, every view made
    once, so that a step is a list of calls (most of a small step's time was Python around them)."""

    def __init__(self, step: FastStep, n: int, device: torch.device) -> None:
        k, w = step.k, step.weights
        self.k, self.n = k, n
        outs = [m.shape[1] for m in w]
        empty = dict(device=device)
        self.first = torch.empty(n, k * outs[0], **empty)  # layer 1 of all K, as one product gives it
        acts = [self.first.view(1, n, -1) if k == 1 else torch.empty(k, n, outs[0], **empty)]
        acts += [torch.empty(k, n, size, **empty) for size in outs[1:]]  # after ReLU; logits last
        deltas = [torch.empty(k, n, size, **empty) for size in outs]  # d loss / d pre-activation
        self.logits, self.deltas = acts[-1], deltas
        self.w1 = w[0].view(k * outs[0], -1).t()  # (784, K * H1): the shared first layer
        self.b1 = step.biases[0].view(-1)
        self.w1_grad = step.weight_grads[0].view(k * outs[0], -1).t()
        self.b1_grad = step.bias_grads[0]
        self.act1 = acts[0]
        self.logits_rows = self.logits.view(k * n, -1)  # the K models' rows one after another
        self.logits_grad = deltas[-1].view(k * n, -1)
        self.log_p = torch.empty(k * n, outs[-1], **empty)
        self.target = torch.empty(k, n, dtype=torch.long, **empty)
        self.picked = torch.empty(k * n, **empty)  # -log p(label), each image of each model
        self.picked_by_model = self.picked.view(k, n)
        self.ce = step.values[0]
        self.nll_grad = torch.empty(k * n, outs[-1], **empty)
        # d(mean)/d(each image's term), divided in float32 as autograd divides by the batch size
        self.inv_n = torch.ones(k * n, **empty).div_(n)
        self.inv_n_one = self.inv_n[:n]  # the mean as one product (a mean kernel was 4x slower)
        self.total_weight = torch.empty((), **empty)
        self.forward_ops, backward = [], []  # backward: each layer's kernels, first layer first
        for j in range(1, len(w)):
            a, out, delta, below = acts[j - 1], acts[j], deltas[j], deltas[j - 1]
            wj, bj, wg, bg = w[j], step.biases[j], step.weight_grads[j], step.bias_grads[j]
            if k == 1:  # mm, as nn.Linear and autograd compute it: the notebook's rounding
                self.forward_ops.append(partial(torch.addmm, bj[0], a[0], wj[0].t(), out=out[0]))
                ops = [partial(torch.mm, a[0].t(), delta[0], out=wg[0].t()),
                       partial(torch.sum, delta[0], 0, out=bg[0]),
                       partial(torch.mm, delta[0], wj[0], out=below[0])]
            else:
                self.forward_ops.append(partial(torch.baddbmm, bj.unsqueeze(1), a, wj.transpose(1, 2), out=out))
                ops = [partial(torch.bmm, delta.transpose(1, 2), a, out=wg),
                       partial(torch.sum, delta, 1, out=bg),
                       partial(torch.bmm, delta, wj, out=below)]
            backward.append([*ops, partial(_relu_backward, below, a, 0.0, grad_input=below)])
            if j < len(w) - 1:
                self.forward_ops.append(out.relu_)
        # The first layer's delta, laid out as its shared product wants it (N, K * H1).
        self.delta1 = deltas[0][0] if k == 1 else self.first
        self.backward_ops = [op for ops in reversed(backward) for op in ops]  # last layer first
        self.backward_ops.append(partial(torch.sum, deltas[0], 1, out=self.b1_grad))

    def run(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Forward and backward: the (K,) cross-entropy into the step's values, the gradients
        into the stack's."""
        torch.addmm(self.b1, x, self.w1, out=self.first)
        if self.k > 1:
            self.act1.copy_(self.first.view(self.n, self.k, -1).transpose(0, 1))
        self.act1.relu_()
        for op in self.forward_ops:
            op()
        self._cross_entropy(y)
        for op in self.backward_ops:
            op()
        if self.k > 1:
            self.first.view(self.n, self.k, -1).copy_(self.deltas[0].transpose(0, 1))
        torch.mm(x.t(), self.delta1, out=self.w1_grad)

    def _cross_entropy(self, y: torch.Tensor) -> None:
        """Each model's mean cross-entropy into `ce`; leaves its gradient w.r.t. the logits in
        the last delta. The kernels are autograd's for F.cross_entropy (log_softmax, NLL and
        their backwards), per image, so that the K models' means stay apart."""
        log_p = torch._log_softmax(self.logits_rows, 1, False, out=self.log_p)
        target = y if self.k == 1 else self.target.copy_(y.expand_as(self.target)).view(-1)
        _nll_loss(log_p, target, None, _NO_REDUCTION, _NO_IGNORED, out=self.picked)
        torch.mv(self.picked_by_model, self.inv_n_one, out=self.ce)
        _nll_loss_backward(self.inv_n, log_p, target, None, _NO_REDUCTION, _NO_IGNORED, self.total_weight,
                           grad_input=self.nll_grad)
        _log_softmax_backward(self.nll_grad, log_p, 1, log_p.dtype, out=self.logits_grad)
