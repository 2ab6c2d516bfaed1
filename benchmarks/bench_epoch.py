"""One epoch of the seed notebook's own loop versus one epoch of the engine, in one run, with
the engine's written-out step and with its readable autograd twin (core/training/reference_step.py).

    python benchmarks/bench_epoch.py [--repeats 2] [--skip-cli]

Both use the notebook's settings (batch 64, AdamW lr 1e-4, L1 weight 1.0 over all parameters)
on the CPU, each with its own thread count: the notebook with PyTorch's default (every core),
the engine with the app's (core/training/threads.py). The seed loop is the notebook's code unchanged:
DataLoader with ToTensor and num_workers=6, a torch.cat of all parameters, loss.item() every step.
The two alternate, epoch by epoch, and each keeps its fastest.
Then the CLI's seed run is timed in a subprocess for its wall time and its own peak memory (max RSS).
"""

from __future__ import annotations

import argparse
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

from l1_trainer.core.files.data import load_mnist  # noqa: E402
from l1_trainer.core.training.config import SEED_PRESET  # noqa: E402
from l1_trainer.core.training.engine import Trainer  # noqa: E402
from l1_trainer.core.training.events import EpochMetrics  # noqa: E402
from l1_trainer.core.training.threads import default_threads  # noqa: E402

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


def engine_epoch(data, autograd: bool = False) -> tuple[float, float]:
    """One epoch of the engine at the same settings, with the app's thread count (the CLI's and
    the window's default); returns (train seconds, eval seconds). `autograd`: with the
    reference step instead of the written-out one."""
    notebook_threads = torch.get_num_threads()
    torch.set_num_threads(default_threads(SEED_PRESET.batch_size))
    try:
        trainer = Trainer(SEED_PRESET.replace(epochs=1, device="cpu", autograd=autograd), data)
        start = time.perf_counter()
        metrics = next(e for e in trainer.run() if isinstance(e, EpochMetrics))
    finally:
        torch.set_num_threads(notebook_threads)
    wall = time.perf_counter() - start - metrics.eval_seconds
    return wall, metrics.eval_seconds


# The CLI, reporting at exit its own peak RSS: VmHWM belongs to the process image, so it starts
# afresh at exec. (wait4's ru_maxrss would not do: Linux carries the forking parent's peak,
# this benchmark's gigabyte, across the exec into the child's.)
_CLI_WITH_PEAK = """
import atexit, sys
from l1_trainer.main import main
def peak():
    with open("/proc/self/status") as fh:
        hwm = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    with open(sys.argv[1], "w") as out:
        out.write(hwm)
atexit.register(peak)
sys.exit(main(sys.argv[2:]))
"""


def cli_run() -> tuple[float, float]:
    """Wall seconds and the CLI's own peak RSS (MiB) for `train --preset seed` (5 epochs)."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", _CLI_WITH_PEAK, report.name, "train", "--preset", "seed",
                        "--device", "cpu"], check=True, stdout=subprocess.DEVNULL, cwd=REPO)
        wall = time.perf_counter() - start
        return wall, int(report.read()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="epochs timed for each loop")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()

    root = torchvision_root(Path(tempfile.mkdtemp(prefix="l1-trainer-bench-")))
    data = load_mnist("cpu")
    print(f"torch {torch.__version__}, CPU; the notebook at PyTorch's default {torch.get_num_threads()} "
          f"thread(s), the engine at the app's {default_threads(SEED_PRESET.batch_size)}")
    seed_times, engine_runs, reference_times = [], [], []
    for _ in range(args.repeats):  # alternating: a burst of load elsewhere hits every side
        seed_times.append(seed_epoch(root))
        engine_runs.append(engine_epoch(data))
        reference_times.append(engine_epoch(data, autograd=True)[0])
    seed_s = min(seed_times)
    engine_s = min(t for t, _ in engine_runs)
    eval_s = min(e for _, e in engine_runs)
    print(f"seed notebook loop: {seed_s:6.2f} s/epoch  (runs: {', '.join(f'{t:.2f}' for t in seed_times)})")
    print(f"engine:             {engine_s:6.2f} s/epoch  (runs: {', '.join(f'{t:.2f}' for t, _ in engine_runs)})")
    reference_s = min(reference_times)
    print(f"engine, autograd:   {reference_s:6.2f} s/epoch  (runs: {', '.join(f'{t:.2f}' for t in reference_times)})")
    print(f"speed-up:           {seed_s / engine_s:6.1f}x  (target: at least 15x); "
          f"the written-out step {reference_s / engine_s:.1f}x its autograd twin")
    print(f"test-set evaluation (10,000 images) plus train accuracy (60,000): {eval_s:.3f} s")
    if not args.skip_cli:
        wall, peak = cli_run()
        print(f"CLI `train --preset seed` (5 epochs): {wall:.1f} s wall, peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
