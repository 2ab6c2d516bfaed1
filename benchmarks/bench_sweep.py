"""A K=8 L1 sweep (one process, batched models) against one single run, in one run.

    python benchmarks/bench_sweep.py [--epochs 1] [--repeats 3]

Both at the "Balanced" preset's settings on the CPU; the sweep trains L1 weights 0, 1e-5, 3e-5,
1e-4, 3e-4, 1e-3, 3e-3 and 1e-2 at once. Target: the sweep costs at most 3x one run, that is
more than 2.5x the throughput of eight runs one after another.
"""

from __future__ import annotations

import argparse
import time

import torch

from l1_trainer.core.config import PRESETS
from l1_trainer.core.data import load_mnist
from l1_trainer.core.engine import Trainer

WEIGHTS = [0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = load_mnist("cpu")
    config = PRESETS["balanced"].replace(epochs=args.epochs, device="cpu")
    single, sweep = [], []
    for _ in range(args.repeats):
        single.append(timed(lambda: list(Trainer(config, data).run())))
        sweep.append(timed(lambda: list(Trainer(config, data, l1_weights=WEIGHTS).run())))
    s, k = min(single), min(sweep)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, {args.epochs} epoch(s)")
    print(f"one run:               {s:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in single)})")
    print(f"sweep of {len(WEIGHTS)} at once:    {k:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in sweep)})")
    print(f"sweep / one run:       {k / s:.2f}x  (target: at most 3x)")
    print(f"throughput vs {len(WEIGHTS)} runs in a row: {len(WEIGHTS) * s / k:.2f}x  (target: more than 2.5x)")


if __name__ == "__main__":
    main()
