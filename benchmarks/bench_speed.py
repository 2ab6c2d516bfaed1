"""Training speed against the floor and the peers, all in one run, at one thread.

    python benchmarks/bench_speed.py [--rounds 12] [--window 100] [--models 8 64] [--skip-compiled]

At the "Balanced" preset's settings (batch 64, AdamW lr 1e-3, L1 1e-4 over every parameter) on
the CPU, each contender trains in windows of `--window` steps, taking turns round by round so
that a burst of load elsewhere hits every side; each keeps its fastest window (other work only
ever adds time), and an epoch is 938 of its steps:

- floor: the step's matrix products alone at the step's shapes (3 forward, 5 backward), with
  MKL: no training is faster than its products;
- engine: L1 Trainer's loop (core/training/engine.py) as the app and the CLI run it, readouts
  included; with the "Seed notebook" preset's notebook-exact arithmetic; and with its readable
  autograd twin of the step (`--autograd`), which credits the written-out step;
- notebook: the seed notebook's loop unchanged (DataLoader, ToTensor, six workers, .item() every step);
- expert eager: what an expert writes in 30 lines: the whole set as one tensor, randperm,
  autograd, fused AdamW;
- compiled: the same loop with its forward and loss as one torch.compile(fullgraph=True) graph;
- sweep of K at once: against its own floor (its products and its optimizer pass, timed alone
  at its shapes), and its per-model throughput against K runs one after another.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision import transforms
from torchvision.datasets import MNIST

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from l1_trainer.core.files.data import load_mnist  # noqa: E402
from l1_trainer.core.training.config import PRESETS, TrainConfig  # noqa: E402
from l1_trainer.core.training.dataset import MnistTensors, unit_float  # noqa: E402
from l1_trainer.core.training.engine import Trainer  # noqa: E402
from l1_trainer.core.training.events import Steps  # noqa: E402
from l1_trainer.core.training.model import MLP  # noqa: E402

from seed_notebook import notebook_loop, torchvision_root  # noqa: E402

CONFIG = PRESETS["balanced"].replace(device="cpu", epochs=10_000)
SIZES = (784, *CONFIG.hidden_sizes, 10)
Contender = Iterator[int]  # each next() trains one window and gives the steps it trained


def floor(k: int, n: int = CONFIG.batch_size, with_optimizer: bool = False) -> Contender:
    """The products of K models' step (the first layer of all K as one product over the shared
    batch, the others batched), and with `with_optimizer` one fused AdamW pass over K models."""
    ops = _products(k, n)
    if with_optimizer:
        ops.append(_adamw_pass(k * sum(a * b + b for a, b in zip(SIZES, SIZES[1:]))))
    while True:
        for _ in range(WINDOW):
            for op in ops:
                op()
        yield WINDOW


def _products(k: int, n: int) -> list[Callable[[], torch.Tensor]]:
    x, h1 = torch.rand(n, SIZES[0]), SIZES[1]
    w1, w1_grad, first = torch.rand(SIZES[0], k * h1), torch.empty(SIZES[0], k * h1), torch.rand(n, k * h1)
    ops = [partial(torch.mm, x, w1, out=first), partial(torch.mm, x.t(), first, out=w1_grad)]
    for fan_in, fan_out in zip(SIZES[1:], SIZES[2:]):
        a, w, out = torch.rand(k, n, fan_in), torch.rand(k, fan_out, fan_in), torch.rand(k, n, fan_out)
        grad, below = torch.empty(k, fan_out, fan_in), torch.empty(k, n, fan_in)
        if k == 1:
            a, w, out, grad, below = a[0], w[0], out[0], grad[0], below[0]
            ops += [partial(torch.mm, a, w.t(), out=out), partial(torch.mm, out.t(), a, out=grad),
                    partial(torch.mm, out, w, out=below)]
        else:
            ops += [partial(torch.bmm, a, w.transpose(1, 2), out=out),
                    partial(torch.bmm, out.transpose(1, 2), a, out=grad), partial(torch.bmm, out, w, out=below)]
    return ops


def _adamw_pass(numel: int) -> Callable[[], None]:
    param, grad, avg, avg_sq = (torch.rand(numel) for _ in range(4))
    step = torch.zeros(())
    return partial(torch._fused_adamw_, [param], [grad], [avg], [avg_sq], [], [step], lr=1e-3, beta1=0.9,
                   beta2=0.999, weight_decay=0.01, eps=1e-8, amsgrad=False, maximize=False)


def engine(data: MnistTensors, config: TrainConfig = CONFIG, l1_weights: list[float] | None = None) -> Contender:
    """The Trainer's own loop; a window ends at the first readout after WINDOW steps. Windows
    that hold an epoch's end (its evaluation) do not count."""
    steps, clean = 0, True
    for event in Trainer(config, data, l1_weights=l1_weights).run():
        if isinstance(event, Steps):
            steps += len(event)
            if steps >= WINDOW:
                yield steps if clean else 0
                steps, clean = 0, True
        elif steps:
            clean = clean and type(event).__name__ not in ("EpochMetrics", "EpochStarted")


def notebook(root: Path) -> Contender:
    """The notebook's loop in a thread of its own, let through WINDOW steps at a time."""
    dataset = MNIST(str(root), download=False, transform=transforms.ToTensor())
    turn, done = threading.Semaphore(0), threading.Semaphore(0)
    steps = 0

    def on_step(loss: float, l1: float) -> None:
        nonlocal steps
        steps += 1
        if steps % WINDOW == 0:
            done.release()
            turn.acquire()

    def body() -> None:
        turn.acquire()
        with warnings.catch_warnings():  # the notebook formats a tensor that requires grad
            warnings.simplefilter("ignore")
            notebook_loop(lambda: torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True,
                                                              num_workers=6),
                          epochs=10_000, on_step=on_step, l1_weight=CONFIG.l1_weight, lr=CONFIG.lr)

    threading.Thread(target=body, daemon=True).start()
    while True:
        turn.release()
        done.acquire()
        yield WINDOW


def expert(data: MnistTensors, compiled: bool = False) -> Contender:
    """An expert's loop: the data as one tensor, randperm, autograd, fused AdamW."""
    model = MLP(CONFIG.hidden_sizes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=CONFIG.lr, fused=True)
    params = list(model.parameters())

    def loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        l1 = sum(p.abs().sum() for p in params)
        return F.cross_entropy(model(x), y) + CONFIG.l1_weight * l1

    loss_fn = torch.compile(loss_of, fullgraph=True) if compiled else loss_of
    x, y = unit_float(data.train_images), data.train_y
    steps = 0
    while True:
        for batch in torch.randperm(len(x)).split(CONFIG.batch_size):
            loss = loss_fn(x[batch], y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            if steps == WINDOW:
                yield steps
                steps = 0


def best_step_seconds(contenders: dict[str, Contender], rounds: int) -> dict[str, float]:
    """Each contender's fastest window, per step, over `rounds` rounds taken in turn."""
    for contender in contenders.values():
        next(contender)  # warm-up: first touches, worker start, compilation
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, contender in contenders.items():
            start = time.perf_counter()
            steps = next(contender)
            if steps:
                best[name] = min(best[name], (time.perf_counter() - start) / steps)
    return best


def main() -> None:
    global WINDOW
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--window", type=int, default=100, help="steps per timed window")
    parser.add_argument("--models", type=int, nargs="*", default=[8, 64], help="sweep sizes")
    parser.add_argument("--skip-compiled", action="store_true", help="torch.compile takes a minute here")
    parser.add_argument("--skip-notebook", action="store_true")
    args = parser.parse_args()
    WINDOW = args.window
    torch.set_num_threads(1)
    data = load_mnist("cpu")
    steps_per_epoch = CONFIG.steps_per_epoch
    print(f"{datetime.date.today()}, {_cpu_model()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread, batch {CONFIG.batch_size}, {steps_per_epoch} steps an epoch; "
          f"fastest window of {WINDOW} steps in {args.rounds} rounds")

    single = {"floor (products alone)": floor(1), "engine": engine(data),
              "engine, notebook-exact (Seed)": engine(data, CONFIG.replace(notebook_exact=True)),
              "engine, autograd twin": engine(data, CONFIG.replace(autograd=True)),
              "expert eager loop": expert(data)}
    if not args.skip_compiled:
        single["expert loop, torch.compile"] = expert(data, compiled=True)
    if not args.skip_notebook:
        root = torchvision_root(Path(tempfile.mkdtemp(prefix="l1-trainer-bench-")))
        single["notebook's loop"] = notebook(root)
    best = best_step_seconds(single, args.rounds)
    base, ours = best["floor (products alone)"], best["engine"]
    print(f"\n{'one run':34} {'us/step':>8} {'s/epoch':>8} {'x floor':>8} {'x engine':>9}")
    for name, seconds in best.items():
        print(f"{name:34} {seconds * 1e6:8.0f} {seconds * steps_per_epoch:8.3f} {seconds / base:8.2f} "
              f"{seconds / ours:9.2f}")
    print("goal: the engine at most 1.7x the floor")

    for k in args.models:
        weights = [float(w) for w in torch.logspace(-6, -2, k)]
        sweep = best_step_seconds({"floor": floor(k, with_optimizer=True),
                                   "sweep": engine(data, l1_weights=weights)}, args.rounds)
        s = sweep["sweep"]
        print(f"\nsweep of {k}: {s * 1e6:.0f} us/step, {s * steps_per_epoch:.3f} s/epoch, "
              f"{s / sweep['floor']:.2f}x its floor (products and optimizer alone: "
              f"{sweep['floor'] * 1e6:.0f} us; goal: at most 1.3x); per model {s / k * 1e6:.0f} us/step, "
              f"{k * ours / s:.2f}x the throughput of {k} runs one after another")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


WINDOW = 100

if __name__ == "__main__":
    main()
