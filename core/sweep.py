"""Training K models with different L1 weights at once, sharing every mini-batch.

The K parameter sets live in one (K, P) buffer; each layer is a (K, out, in) view of it, so a
step is three batched matrix products instead of K separate runs' worth of small operations.
AdamW, the L1 gradient and the proximal step are elementwise, so on the stacked buffer they are
exactly K independent runs; every model starts from the same seed and sees the same batches as
a single run with that seed would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from l1_trainer.core.config import MAX_SWEEP_MODELS, TrainConfig
from l1_trainer.core.data import MnistTensors
from l1_trainer.core.devices import resolve_device
from l1_trainer.core.engine import shuffled_indices
from l1_trainer.core.model import NUM_CLASSES, build_model
from l1_trainer.core.sparsity import SparsityReport, sparsity


CSV_HEADER = ("l1_weight", "status", "test_accuracy", "sparsity", "exact_zeros")


@dataclass(frozen=True)
class SweepPoint:
    l1_weight: float
    status: str  # finished, stopped, or diverged (a loss or weight stopped being finite)
    test_accuracy: float  # NaN when diverged
    sparsity: SparsityReport
    ce: float  # the last step's
    state: dict[str, torch.Tensor]  # CPU copy: open it as a normal model

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    def row(self) -> tuple:
        """The point as a row under CSV_HEADER; a diverged model has no accuracy."""
        accuracy = "" if self.diverged else self.test_accuracy
        return (self.l1_weight, self.status, accuracy, self.sparsity.fraction, self.sparsity.exact_zeros)


@dataclass(frozen=True)
class SweepEpoch:
    epoch: int
    seconds: float
    points: list[SweepPoint]
    ce: torch.Tensor  # (steps, K): each model's cross-entropy at every step of this epoch
    stopped: bool = False  # the run was stopped during this epoch


class SweepTrainer:
    """K copies of `config`'s model, differing only in their L1 weight."""

    def __init__(self, config: TrainConfig, l1_weights: Sequence[float], data: MnistTensors) -> None:
        if not 1 <= len(l1_weights) <= MAX_SWEEP_MODELS:
            raise ValueError(f"a sweep trains 1 to {MAX_SWEEP_MODELS} L1 weights at once, got "
                             f"{len(l1_weights)}; split a larger sweep into several")
        for weight in l1_weights:
            config.replace(l1_weight=weight)  # validates each
        self.config = config
        self.device = resolve_device(config.device)
        self.data = data.to(self.device, train_subset=config.train_subset)
        self.weights = [float(w) for w in l1_weights]
        self.l1_weights = torch.tensor(self.weights, device=self.device)
        self._rng = torch.Generator().manual_seed(config.seed)
        template = build_model(config.hidden_sizes, self._rng)  # the draws a single run makes
        k = len(self.weights)
        named = list(template.named_parameters())
        # Layer-major: each parameter is one contiguous (K, *shape) block, weight matrices first,
        # so every block is a dense view and the penalized part is a prefix.
        order = sorted(range(len(named)), key=lambda i: named[i][1].dim() < 2)
        self.names = [n for n, _ in named]
        self.flat = torch.nn.Parameter(torch.empty(k * sum(p.numel() for _, p in named), device=self.device))
        self.flat.grad = torch.zeros_like(self.flat)
        self.params: list[torch.nn.Parameter] = [None] * len(named)  # type: ignore[list-item]
        scale, offset = [], 0
        for i in order:
            _, p = named[i]
            size = k * p.numel()
            block = self.flat.data[offset : offset + size].view(k, *p.shape)
            block.copy_(p.detach().expand(k, *p.shape))
            # A leaf view whose grad is a view of flat.grad: autograd accumulates in place.
            self.params[i] = torch.nn.Parameter(block)
            self.params[i].grad = self.flat.grad[offset : offset + size].view(k, *p.shape)
            if p.dim() > 1 or config.penalize_biases:
                scale.append(self.l1_weights.repeat_interleave(p.numel()))
            offset += size
        self._scale = torch.cat(scale)  # each penalized element's own model's L1 weight
        self._penalized = slice(0, len(self._scale))
        self._sign = torch.empty_like(self._scale)
        # One fused pass over K models' parameters: faster here than the for-loop kernels at this
        # size (it was slower for one model's 52k); the same update up to rounding.
        fused = True if self.device.type in ("cpu", "cuda") else None
        self.optimizer = torch.optim.AdamW(
            [self.flat], lr=config.lr, weight_decay=config.weight_decay, fused=fused)
        self.step = 0
        self._stop = threading.Event()
        self._diverged = torch.zeros(k, dtype=torch.bool, device=self.device)

    def stop(self) -> None:
        """End after the step in progress (from any thread); the epoch so far is reported."""
        self._stop.set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (K, N, 10) of all K models for the same inputs x (N, 784)."""
        w, b = self.params[0], self.params[1]
        k, out, _ = w.shape
        # The inputs are shared, so the first (largest) layer of all K models is one big GEMM.
        h = (x @ w.reshape(k * out, -1).T).view(len(x), k, out).transpose(0, 1) + b.unsqueeze(1)
        for j in range(1, len(self.params) // 2):
            w, b = self.params[2 * j], self.params[2 * j + 1]
            h = torch.baddbmm(b.unsqueeze(1), F.relu(h), w.transpose(1, 2))
        return h

    def run(self) -> Iterator[SweepEpoch]:
        cfg, data = self.config, self.data
        k = len(self.weights)
        losses = torch.zeros(cfg.steps_per_epoch, k, device=self.device)
        batch_x = torch.empty(cfg.batch_size, data.train_x.shape[1], device=self.device)
        batch_y = torch.empty(cfg.batch_size, dtype=torch.long, device=self.device)
        for epoch in range(1, cfg.epochs + 1):
            start = time.perf_counter()
            perm = shuffled_indices(self._rng, cfg.train_size).to(self.device)
            done = 0
            for b in range(cfg.steps_per_epoch):
                if self._stop.is_set():
                    break
                idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                n = idx.numel()
                x = torch.index_select(data.train_x, 0, idx, out=batch_x[:n])
                y = torch.index_select(data.train_y, 0, idx, out=batch_y[:n])
                self.flat.grad.zero_()
                logits = self.forward(x)
                # Sum of the K mean losses: each model's gradient is its own loss's gradient.
                ce = F.cross_entropy(logits.reshape(-1, NUM_CLASSES), y.repeat(k), reduction="none")
                per_model = ce.view(k, -1).mean(1)
                losses[b] = per_model.detach()  # stays on the device: read once per epoch
                per_model.sum().backward()
                with torch.no_grad():
                    penalized = self.flat.data[self._penalized]
                    torch.sign(penalized, out=self._sign)
                    if cfg.l1_method == "penalty":
                        self.flat.grad[self._penalized].addcmul_(self._sign, self._scale)
                    self.optimizer.step()
                    if cfg.l1_method == "proximal":
                        torch.sign(penalized, out=self._sign)
                        penalized.abs_().sub_(cfg.lr * self._scale).clamp_(min=0).mul_(self._sign)
                self.step += 1
                done = b + 1
            stopped = self._stop.is_set()
            ce = losses[:done].cpu()
            yield SweepEpoch(epoch, time.perf_counter() - start, self._points(ce, stopped), ce, stopped)
            if stopped:
                return

    @torch.no_grad()
    def _points(self, ce: torch.Tensor, stopped: bool) -> list[SweepPoint]:
        k = len(self.weights)
        finite = torch.isfinite(ce).all(0).to(self.device)
        for p in self.params:
            finite &= torch.isfinite(p.detach().reshape(k, -1)).all(1)
        self._diverged |= ~finite  # a model that diverged once stays diverged
        diverged = self._diverged.tolist()
        logits = self.forward(self.data.test_x)
        correct = (logits.argmax(2) == self.data.test_y).float().mean(1).tolist()
        points = []
        for m, weight in enumerate(self.weights):
            state = {name: p.detach()[m].cpu().clone() for name, p in zip(self.names, self.params)}
            report = sparsity({n: t for n, t in state.items() if t.dim() == 2}, self.config.l1_threshold)
            last = float(ce[-1, m]) if len(ce) else float("nan")
            status = "diverged" if diverged[m] else "stopped" if stopped else "finished"
            accuracy = float("nan") if diverged[m] else correct[m]
            points.append(SweepPoint(weight, status, accuracy, report, last, state))
        return points


def parse_weights(text: str) -> list[float]:
    """'0,1e-5,1e-4' -> [0.0, 1e-05, 0.0001]; a clear ValueError for anything else."""
    try:
        weights = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError(f"the L1 weights must be numbers separated by commas, got {text[:80]!r}") from exc
    if not 1 <= len(weights) <= MAX_SWEEP_MODELS:
        raise ValueError(f"a sweep trains 1 to {MAX_SWEEP_MODELS} L1 weights at once, got {len(weights)}"
                         + ("; split a larger sweep into several" if weights else ""))
    return weights
