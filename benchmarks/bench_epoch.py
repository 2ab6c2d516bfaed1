"""One epoch of the seed notebook's own loop versus one epoch of the engine, in one run.

    python benchmarks/bench_epoch.py [--repeats 2] [--skip-cli]

Both use the notebook's settings (batch 64, AdamW lr 1e-4, L1 weight 1.0 over all parameters)
on the CPU with PyTorch's default thread count. The seed loop is the notebook's code unchanged:
DataLoader with ToTensor and num_workers=6, a torch.cat of all parameters, loss.item() every step.
Then the CLI's seed run is timed in a subprocess for its wall time and peak memory (max RSS).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torchvision import transforms
from torchvision.datasets import MNIST

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.config import SEED_PRESET  # noqa: E402
from core.data import load_mnist, prepare_bundled  # noqa: E402
from core.engine import Trainer  # noqa: E402
from core.events import EpochMetrics  # noqa: E402
from core.model import MLP  # noqa: E402


def seed_epoch(root: Path) -> float:
    """The notebook's training loop (cell 6) for one epoch; returns seconds."""
    torch.manual_seed(42)
    dataset = MNIST(str(root), download=False, transform=transforms.ToTensor())
    trainloader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True, num_workers=6)
    mlp = MLP()
    loss_function = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=1e-4)
    start = time.perf_counter()
    for inputs, targets in trainloader:
        optimizer.zero_grad()
        outputs = mlp(inputs)
        loss = loss_function(outputs, targets)
        l1_parameters = [parameter.view(-1) for parameter in mlp.parameters()]
        l1 = 1.0 * torch.abs(torch.cat(l1_parameters)).sum()
        loss += l1
        loss.backward()
        optimizer.step()
        loss.item()
    return time.perf_counter() - start


def engine_epoch(data) -> tuple[float, float]:
    """One epoch of the engine at the same settings; returns (train seconds, eval seconds)."""
    trainer = Trainer(SEED_PRESET.replace(epochs=1, device="cpu"), data)
    start = time.perf_counter()
    metrics = next(e for e in trainer.run() if isinstance(e, EpochMetrics))
    wall = time.perf_counter() - start - metrics.eval_seconds
    return wall, metrics.eval_seconds


def cli_run() -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `main.py train --preset seed` (5 epochs)."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(REPO / "main.py"), "train", "--preset", "seed", "--device", "cpu"],
        check=True, stdout=subprocess.DEVNULL, cwd=REPO,
    )
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, peak_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="epochs timed for each loop")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()

    root = prepare_bundled()
    data = load_mnist("cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    seed_times = [seed_epoch(root) for _ in range(args.repeats)]
    engine_runs = [engine_epoch(data) for _ in range(args.repeats)]
    seed_s = min(seed_times)
    engine_s = min(t for t, _ in engine_runs)
    eval_s = min(e for _, e in engine_runs)
    print(f"seed notebook loop: {seed_s:6.2f} s/epoch  (runs: {', '.join(f'{t:.2f}' for t in seed_times)})")
    print(f"engine:             {engine_s:6.2f} s/epoch  (runs: {', '.join(f'{t:.2f}' for t, _ in engine_runs)})")
    print(f"speed-up:           {seed_s / engine_s:6.1f}x  (target: at least 12x)")
    print(f"test-set evaluation (10,000 images) plus train accuracy (60,000): {eval_s:.3f} s")
    if not args.skip_cli:
        wall, peak = cli_run()
        print(f"CLI `train --preset seed` (5 epochs): {wall:.1f} s wall, peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
