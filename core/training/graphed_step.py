"""The training step as one CUDA graph: the whole step replayed with one launch.

At batch 64 a step is some forty kernels of a few microseconds each, so a GPU spends its time
waiting for the CPU to launch them (an epoch took as long as on that machine's CPU). Captured
once, the step replays with a single launch. What a graph needs, the step already has: every
intermediate in a buffer allocated once, no host sync, the learning rate and the penalty
weights in device tensors that a live change writes into (`FastStep.set_lr`, `Penalties.set_weights`),
AdamW's step count on the device (the fused kernel). Each batch is copied into static input
buffers first. The last, partial batch of an epoch runs eagerly: once per epoch, not worth a
graph of its own.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .config import TrainConfig
from .fast_step import FastStep
from .model import MLP

WARMUP_STEPS = 3  # eager steps before capture, on a side stream, as PyTorch's recipe asks

Replay = Callable[[], torch.Tensor]


def cuda_graph(step: Callable[..., torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> Replay:
    """Capture one step on x and y (static buffers) and return what replays it."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outputs = step(x, y)
    return lambda: (graph.replay(), outputs)[1]


class GraphedStep(FastStep):
    """A `FastStep` that replays a captured graph for every full batch after a short warm-up."""

    def __init__(self, template: MLP, config: TrainConfig, l1_weights: list[float],
                 l2_weights: list[float], device: torch.device,
                 capture: Callable[..., Replay] | None = None,
                 notify: Callable[[str], None] = lambda text: None) -> None:
        """`capture(step, x, y)`: records step(x, y) and returns what replays it (by default a
        CUDA graph, `cuda_graph`). `notify(text)`:
        told once if a capture fails (an old driver, a GPU without graphs): the step then stays
        eager for the rest of the run."""
        super().__init__(template, config, l1_weights, l2_weights, device,
                         lr=torch.tensor(config.lr, dtype=torch.float32, device=device))
        self.batch_size = config.batch_size
        self._capture = capture or cuda_graph
        self._x = torch.empty(config.batch_size, template.linears()[0].in_features, device=device)
        self._y = torch.empty(config.batch_size, dtype=torch.long, device=device)
        self._replay: Replay | None = None
        self._eager_steps = 0
        self._notify = notify
        self.eager_only = False
        self._side = torch.cuda.Stream(device) if device.type == "cuda" else None

    def set_penalties(self, l1_weights: list[float], l2_weights: list[float]) -> None:
        uses_l2 = self.penalties.uses_l2
        super().set_penalties(l1_weights, l2_weights)
        if self.penalties.uses_l2 != uses_l2:
            self._replay = None  # the graph has (or lacks) the L2 kernels: capture again

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if len(x) != self.batch_size or self.eager_only:
            return super().__call__(x, y)
        self._x.copy_(x)
        self._y.copy_(y)
        if self._replay is None:
            if self._eager_steps < WARMUP_STEPS:
                self._eager_steps += 1
                return self._warm_up()
            try:
                self._replay = self._capture(super().__call__, self._x, self._y)
            except RuntimeError as exc:  # a capture records kernels, runs none: nothing trained yet
                self.eager_only = True
                self._notify(f"this GPU could not capture the training step as a CUDA graph "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                             "training on with the ordinary step, which is slower")
                return super().__call__(x, y)
        return self._replay()

    def _warm_up(self) -> torch.Tensor:
        if self._side is None:
            return super().__call__(self._x, self._y)
        self._side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self._side):
            outputs = super().__call__(self._x, self._y)
        torch.cuda.current_stream().wait_stream(self._side)
        return outputs
