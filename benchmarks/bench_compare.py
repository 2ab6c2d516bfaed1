"""The "L1 vs L2" preset as the window trains it: how soon and how clearly the lesson shows.

    python benchmarks/bench_compare.py [--epochs 5] [--l1 0.1] [--l2 1e-3]

Trains the preset's three models side by side (no penalty, L2 alone, L1 alone by the proximal
method) at the app's thread count, and prints after each epoch its wall time and, per model,
test accuracy, the share of weights near zero (|w| <= 1e-3) and the count exactly zero; then
when L1's exact zeros first passed 1,000 and 10,000 (from the counts taken every 25 steps).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from l1_trainer.core.app.records import Kind, RunRecord
from l1_trainer.core.files.data import load_mnist
from l1_trainer.core.training.config import PRESETS, compared_weights
from l1_trainer.core.training.engine import Trainer
from l1_trainer.core.training.events import EpochMetrics
from l1_trainer.core.training.threads import default_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    preset = PRESETS["l1-vs-l2"]
    parser.add_argument("--epochs", type=int, default=preset.epochs)
    parser.add_argument("--l1", type=float, default=preset.l1_weight)
    parser.add_argument("--l2", type=float, default=preset.l2_weight)
    args = parser.parse_args()
    config = preset.replace(epochs=args.epochs, l1_weight=args.l1, l2_weight=args.l2, device="cpu")
    torch.set_num_threads(default_threads(config.batch_size, 3))
    data = load_mnist("cpu")
    l1, l2 = compared_weights(config)
    record = RunRecord(1, config, tuple(l1), tuple(l2), Kind.COMPARISON)
    print(f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"{config.epochs} epochs of {config.train_size:,} images, lr {config.lr:g}, "
          + ", ".join(record.model_name(m) for m in range(3)))
    start = time.perf_counter()
    for event in Trainer(config, data, l1_weights=l1, l2_weights=l2).run():
        record.apply(event)
        if isinstance(event, EpochMetrics):
            cells = "  |  ".join(f"{record.model_name(m)}: {a:.2%}, {s.fraction:.1%} near 0, "
                                 f"{s.exact_zeros:,} exactly 0"
                                 for m, (a, s) in enumerate(zip(event.test_accuracy, event.sparsity)))
            print(f"epoch {event.epoch} at {time.perf_counter() - start:5.1f} s ({event.seconds:.2f} s "
                  f"training): {cells}")
    epochs, _, exact = record.zero_curves()
    counts = np.rint(exact * config.weight_count)
    for target in (1_000, 10_000):
        reached = np.flatnonzero(counts[:, 2] >= target)
        when = f"epoch {epochs[reached[0]]:.2f}" if len(reached) else "never"
        print(f"L1's exact zeros passed {target:,} at {when}")
    print(f"most exact zeros at any count: no penalty {counts[:, 0].max():,.0f}, L2 {counts[:, 1].max():,.0f}")


if __name__ == "__main__":
    main()
