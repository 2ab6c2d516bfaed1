"""Training steps at 1 thread and at every thread count up to the cores, idle and under load.

    python benchmarks/bench_threads.py [--steps 200] [--rounds 5] [--load 0,1]

For each batch size (64, 256, 1024) and for one model and a sweep of 8, it times `--steps`
training steps at each thread count, the counts alternating round by round in one process, with
`--load` other processes each spinning a core the whole time (a browser, a projector driver, a
second program). Reported per case: the fastest and the median round in ms per step, and each
count's median against 1 thread's. Where the default thread count comes from
(core/training/threads.py).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import time

import torch

from l1_trainer.core.files.data import load_mnist
from l1_trainer.core.training.config import PRESETS
from l1_trainer.core.training.engine import Trainer
from l1_trainer.core.training.events import EpochMetrics
from l1_trainer.core.training.threads import default_threads

BATCHES = (64, 256, 1024)
SWEEP = [0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]


def spin() -> None:
    while True:
        pass


def ms_per_step(config, data, models: int) -> float:
    """One epoch of `config` (its subset holds exactly the steps wanted), in ms per step."""
    trainer = Trainer(config, data, l1_weights=SWEEP[:models] if models > 1 else None)
    seconds = next(e.seconds for e in trainer.run() if isinstance(e, EpochMetrics))
    return 1000 * seconds / config.steps_per_epoch


def measure(data, batch: int, models: int, steps: int, rounds: int, counts: list[int]) -> dict[int, list[float]]:
    config = PRESETS["balanced"].replace(epochs=1, batch_size=batch, device="cpu",
                                         train_subset=min(60_000, steps * batch))
    times: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(rounds):
        for n in counts:  # alternating: a load burst falls on every count alike
            torch.set_num_threads(n)
            times[n].append(ms_per_step(config, data, models))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--load", default="0,1", help="busy processes beside the training, comma-separated")
    args = parser.parse_args()
    data = load_mnist("cpu")
    cores = os.cpu_count() or 1
    counts = list(range(1, cores + 1))
    print(f"{platform.processor() or platform.machine()}, {cores} cores, torch {torch.__version__}; "
          f"{args.steps} steps a round, {args.rounds} rounds, counts alternating")
    for load in (int(n) for n in args.load.split(",")):
        spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(load)]
        for process in spinners:
            process.start()
        time.sleep(0.5)
        try:
            for models in (1, 8):
                for batch in BATCHES:
                    times = measure(data, batch, models, args.steps, args.rounds, counts)
                    base = statistics.median(times[1])
                    cells = "  ".join(f"{n} thr {min(t):7.2f} / {statistics.median(t):7.2f} ms "
                                      f"({statistics.median(t) / base:5.2f}x)" for n, t in times.items())
                    print(f"load {load}  K={models}  batch {batch:5d}: {cells}  "
                          f"default {default_threads(batch, models)}")
        finally:
            for process in spinners:
                process.terminate()


if __name__ == "__main__":
    main()
