"""A K=8 L1 sweep (one process, batched models) against one single run, in one run.

    python benchmarks/bench_sweep.py [--epochs 1] [--repeats 3]

Both at the "Balanced" preset's settings on the CPU; the sweep trains L1 weights 0, 1e-5, 3e-5,
1e-4, 3e-4, 1e-3, 3e-3 and 1e-2 at once. Runs alternate, and each side keeps its fastest epoch:
other work on a shared machine only ever adds time. Reported: training time per epoch (the
target: the sweep at most 2.5x one run) and the whole run's wall time, evaluation included.
"""

from __future__ import annotations

import argparse
import time

import torch

from l1_trainer.core.files.data import load_mnist
from l1_trainer.core.training.config import PRESETS
from l1_trainer.core.training.engine import Trainer
from l1_trainer.core.training.events import EpochMetrics

WEIGHTS = [0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]


def timed(trainer: Trainer) -> tuple[float, float]:
    """(fastest epoch's training seconds, the whole run's wall seconds)."""
    start = time.perf_counter()
    epochs = [e.seconds for e in trainer.run() if isinstance(e, EpochMetrics)]
    return min(epochs), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = load_mnist("cpu")
    config = PRESETS["balanced"].replace(epochs=args.epochs, device="cpu")
    single, sweep = [], []
    for _ in range(args.repeats):
        single.append(timed(Trainer(config, data)))
        sweep.append(timed(Trainer(config, data, l1_weights=WEIGHTS)))
    (s, s_wall), (k, k_wall) = (tuple(min(column) for column in zip(*runs)) for runs in (single, sweep))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, {args.epochs} epoch(s) per run")
    print(f"one run:            {s:.3f} s/epoch training, {s_wall:.2f} s wall  "
          f"(epochs: {', '.join(f'{t:.3f}' for t, _ in single)})")
    print(f"sweep of {len(WEIGHTS)} at once: {k:.3f} s/epoch training, {k_wall:.2f} s wall  "
          f"(epochs: {', '.join(f'{t:.3f}' for t, _ in sweep)})")
    print(f"sweep / one run:    {k / s:.2f}x per epoch (target: at most 2.5x), {k_wall / s_wall:.2f}x wall")
    print(f"throughput vs {len(WEIGHTS)} runs in a row: {len(WEIGHTS) * s / k:.2f}x")


if __name__ == "__main__":
    main()
