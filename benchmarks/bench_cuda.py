"""The training step on a GPU, in one run: start-up phases, the captured graph against the eager
step, sweeps against one run, and Stop/Ctrl-C on the command line.

    python benchmarks/bench_cuda.py [--device cuda] [--epochs 2] [--quick]

- Start-up: import torch, CUDA's initialisation, MNIST read on the CPU, MNIST to the device,
  the trainer built, the first four steps (three warm-up steps and the graph's capture).
- Eager against graphed: one epoch's steps at batch 64 (*Balanced* settings), the written-out
  step launching its kernels one by one against the same step replayed as one CUDA graph,
  alternating, the fastest of `--epochs` each; and the readable autograd twin for reference.
- As a user sees it: seconds per epoch of whole runs (`Trainer`), one model, and sweeps of 8
  and 64 models at once (training time per epoch, evaluation apart).
- The command line: `l1-trainer train --device cuda` interrupted by SIGINT after its first
  loss line: its exit code and how long it took to stop.
`--quick` (with `--device cpu`) is a dry run of all of it on a few hundred images.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

IMPORTED = time.perf_counter()

from l1_trainer.core.files.data import load_mnist  # noqa: E402
from l1_trainer.core.training.config import PRESETS, TrainConfig  # noqa: E402
from l1_trainer.core.training.dataset import MnistTensors, unit_float  # noqa: E402
from l1_trainer.core.training.devices import available_devices  # noqa: E402
from l1_trainer.core.training.engine import Trainer  # noqa: E402
from l1_trainer.core.training.events import EpochMetrics  # noqa: E402
from l1_trainer.core.training.fast_step import FastStep  # noqa: E402
from l1_trainer.core.training.graphed_step import GraphedStep  # noqa: E402
from l1_trainer.core.training.model import build_model  # noqa: E402
from l1_trainer.core.training.reference_step import ReferenceStep  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def start_up(device: torch.device, config: TrainConfig) -> MnistTensors:
    print(f"import torch:                 {IMPORTED - START:6.2f} s")
    t = time.perf_counter()
    torch.zeros(1, device=device)
    sync(device)
    print(f"device initialisation:        {time.perf_counter() - t:6.2f} s")
    t = time.perf_counter()
    data = load_mnist("cpu")
    print(f"MNIST read on the CPU:        {time.perf_counter() - t:6.2f} s")
    t = time.perf_counter()
    data.to(device)
    sync(device)
    print(f"MNIST to the device:          {time.perf_counter() - t:6.2f} s")
    t = time.perf_counter()
    trainer = Trainer(config.replace(epochs=1), data)
    sync(device)
    print(f"trainer built:                {time.perf_counter() - t:6.2f} s")
    t = time.perf_counter()
    run = trainer.run()
    next(run)  # EpochStarted
    trainer.control.advance(4)
    next(e for e in run if type(e).__name__ == "Paused")
    sync(device)
    print(f"first 4 steps (and capture):  {time.perf_counter() - t:6.2f} s")
    trainer.stop()
    trainer.resume()
    for _ in run:
        pass
    return data


def steps_epoch(step: FastStep | ReferenceStep, batches: list[tuple[torch.Tensor, torch.Tensor]],
                device: torch.device) -> float:
    sync(device)
    t = time.perf_counter()
    for x, y in batches:
        step(x, y)
    sync(device)
    return time.perf_counter() - t


def eager_against_graphed(data: MnistTensors, config: TrainConfig, device: torch.device, epochs: int) -> None:
    on_device = data.to(device, train_subset=config.train_subset)
    n = config.steps_per_epoch * config.batch_size
    order = torch.randperm(len(on_device.train_images), generator=torch.Generator().manual_seed(0)).to(device)
    picks = [order[i:i + config.batch_size] for i in range(0, min(n, len(order)), config.batch_size)]
    batches = [(unit_float(on_device.train_images[pick]), on_device.train_y[pick]) for pick in picks]
    template = build_model(config.hidden_sizes, torch.Generator().manual_seed(config.seed))
    lr = torch.tensor(config.lr, device=device)
    kinds = {"eager (written out)": FastStep(template, config, [config.l1_weight], [0.0], device, lr=lr),
             "one CUDA graph": GraphedStep(template, config, [config.l1_weight], [0.0], device),
             "autograd twin": ReferenceStep(template, config, [config.l1_weight], [0.0], device)}
    times: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(epochs):
        for name, step in kinds.items():
            times[name].append(steps_epoch(step, batches, device))
    graphed = min(times["one CUDA graph"])
    print(f"one epoch's {len(batches)} steps at batch {config.batch_size}, fastest of {epochs}:")
    for name, runs in times.items():
        print(f"  {name:22s} {min(runs):6.3f} s  ({', '.join(f'{t:.3f}' for t in runs)}); "
              f"{min(runs) / graphed:5.1f}x the graph")


def whole_runs(data: MnistTensors, config: TrainConfig, epochs: int) -> None:
    def epoch_seconds(l1_weights: list[float] | None) -> tuple[float, float]:
        start = time.perf_counter()
        metrics = [e for e in Trainer(config.replace(epochs=epochs), data, l1_weights=l1_weights).run()
                   if isinstance(e, EpochMetrics)]
        return min(m.seconds for m in metrics), time.perf_counter() - start

    one, one_wall = epoch_seconds(None)
    print(f"whole runs, training seconds per epoch (fastest of {epochs}):")
    print(f"  one model              {one:6.3f} s  (run {one_wall:.2f} s wall)")
    for k in (8, 64):
        weights = [float(w) for w in torch.logspace(-6, -2, k)]
        sweep, wall = epoch_seconds(weights)
        print(f"  sweep of {k:2d} at once     {sweep:6.3f} s  ({sweep / one:.2f}x one run; "
              f"{k * one / sweep:.1f}x the throughput of {k} runs in a row; run {wall:.2f} s wall)")


def interrupted_cli(device: torch.device, quick: bool) -> None:
    args = [sys.executable, "-m", "l1_trainer.main", "train", "--preset", "balanced", "--device", device.type,
            "--epochs", "2"] + (["--train-subset", "640"] if quick else [])
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith(("Loss after", "Epoch 1/")):
            break
    t = time.perf_counter()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    print(f"CLI on {device.type}, SIGINT after the first loss line: exit {child.returncode} after "
          f"{time.perf_counter() - t:.2f} s; {' | '.join(line for line in (out + err).splitlines()[-3:])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a dry run on a few hundred images")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s); devices the app "
          f"offers: {', '.join(d.label for d in available_devices())}")
    config = PRESETS["balanced"].replace(device=args.device, train_subset=640 if args.quick else None)
    data = start_up(device, config)
    eager_against_graphed(data, config, device, args.epochs)
    whole_runs(data, config, args.epochs)
    interrupted_cli(device, args.quick)


if __name__ == "__main__":
    main()
