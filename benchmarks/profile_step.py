"""Where a training step's time goes, kernel by kernel, for one model and for a sweep.

    python benchmarks/profile_step.py [--device cuda] [--models 1 64] [--rows 20]

Runs the written-out step (eager, so that each kernel shows) for 50 batches at the *Balanced*
settings after a warm-up, under torch.profiler, and prints the kernels that took the most
device time (CPU time on the CPU), with their counts per step.
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from l1_trainer.core.files.data import load_mnist
from l1_trainer.core.training.config import PRESETS
from l1_trainer.core.training.dataset import unit_float
from l1_trainer.core.training.fast_step import FastStep
from l1_trainer.core.training.model import build_model

STEPS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()
    device = torch.device(args.device)
    config = PRESETS["balanced"].replace(device=args.device)
    data = load_mnist("cpu").to(device)
    x, y = unit_float(data.train_images[: config.batch_size]), data.train_y[: config.batch_size]
    template = build_model(config.hidden_sizes, torch.Generator().manual_seed(0))
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    for k in args.models:
        weights = [float(w) for w in torch.logspace(-6, -2, k)] if k > 1 else [1e-4]
        step = FastStep(template, config, weights, [0.0] * k, device,
                        lr=torch.tensor(config.lr, device=device))
        for _ in range(10):
            step(x, y)
        with profile(activities=activities) as prof:
            for _ in range(STEPS):
                step(x, y)
            if device.type == "cuda":
                torch.cuda.synchronize()
        key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
        print(f"== {k} model(s), {STEPS} steps, sorted by {key}")
        print(prof.key_averages().table(sort_by=key, row_limit=args.rows, max_name_column_width=60))


if __name__ == "__main__":
    main()
