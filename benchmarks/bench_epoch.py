"""One epoch of the seed notebook's own loop versus one epoch of the engine, in one run.

    python benchmarks/bench_epoch.py [--repeats 2] [--skip-cli]

Both use the notebook's settings (batch 64, AdamW lr 1e-4, L1 weight 1.0 over all parameters)
on the CPU with PyTorch's default thread count. The seed loop is the notebook's code unchanged:
DataLoader with ToTensor and num_workers=6, a torch.cat of all parameters, loss.item() every step.
The two alternate, epoch by epoch, and each keeps its fastest.
Then the CLI's seed run is timed in a subprocess for its wall time and its own peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torchvision import transforms
from torchvision.datasets import MNIST

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from l1_trainer.core.config import SEED_PRESET  # noqa: E402
from l1_trainer.core.data import load_mnist  # noqa: E402
from l1_trainer.core.engine import Trainer  # noqa: E402
from l1_trainer.core.events import EpochMetrics  # noqa: E402

from seed_notebook import notebook_loop, torchvision_root  # noqa: E402


def seed_epoch(root: Path) -> float:
    """The notebook's training loop (cell 6) for one epoch, its data pipeline included; seconds."""
    dataset = MNIST(str(root), download=False, transform=transforms.ToTensor())
    start = time.perf_counter()
    with warnings.catch_warnings():  # the notebook formats a tensor that requires grad
        warnings.simplefilter("ignore")
        notebook_loop(lambda: torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True,
                                                          num_workers=6), epochs=1)
    return time.perf_counter() - start


def engine_epoch(data) -> tuple[float, float]:
    """One epoch of the engine at the same settings; returns (train seconds, eval seconds)."""
    trainer = Trainer(SEED_PRESET.replace(epochs=1, device="cpu"), data)
    start = time.perf_counter()
    metrics = next(e for e in trainer.run() if isinstance(e, EpochMetrics))
    wall = time.perf_counter() - start - metrics.eval_seconds
    return wall, metrics.eval_seconds


def cli_run() -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `main.py train --preset seed` (5 epochs): the CLI's own,
    from wait4 on its process (RUSAGE_CHILDREN would take the notebook's DataLoader workers'
    peak too, which ran before it in this process)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "l1_trainer.main", "train", "--preset", "seed", "--device", "cpu"],
        stdout=subprocess.DEVNULL, cwd=REPO,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, proc.args)
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="epochs timed for each loop")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()

    root = torchvision_root(Path(tempfile.mkdtemp(prefix="l1-trainer-bench-")))
    data = load_mnist("cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    seed_times, engine_runs = [], []
    for _ in range(args.repeats):  # alternating: a burst of load elsewhere hits both sides
        seed_times.append(seed_epoch(root))
        engine_runs.append(engine_epoch(data))
    seed_s = min(seed_times)
    engine_s = min(t for t, _ in engine_runs)
    eval_s = min(e for _, e in engine_runs)
    print(f"seed notebook loop: {seed_s:6.2f} s/epoch  (runs: {', '.join(f'{t:.2f}' for t in seed_times)})")
    print(f"engine:             {engine_s:6.2f} s/epoch  (runs: {', '.join(f'{t:.2f}' for t, _ in engine_runs)})")
    print(f"speed-up:           {seed_s / engine_s:6.1f}x  (target: at least 15x)")
    print(f"test-set evaluation (10,000 images) plus train accuracy (60,000): {eval_s:.3f} s")
    if not args.skip_cli:
        wall, peak = cli_run()
        print(f"CLI `train --preset seed` (5 epochs): {wall:.1f} s wall, peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
