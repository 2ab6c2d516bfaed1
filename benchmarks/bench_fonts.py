"""Digits in other hands: the Balanced preset with and without `augment`, in one run.

    python benchmarks/bench_fonts.py [--epochs 10] [--seeds 1]

Trains the Balanced preset twice per seed, the same but for augmentation, and reports for each:
MNIST test accuracy, accuracy on 0-9 rendered in every installed font (tests/font_digits.py,
through the draw panel's preprocessing), and the fastest epoch's training time, with the ratio
(the fastest, because other work on a shared machine only ever adds time).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from l1_trainer.core.files.data import load_mnist  # noqa: E402
from l1_trainer.core.training.config import PRESETS  # noqa: E402
from l1_trainer.core.training.engine import Trainer  # noqa: E402
from l1_trainer.core.training.events import EpochMetrics, RunEnded  # noqa: E402

from font_digits import build  # noqa: E402


def train(config, data, fonts_x, fonts_y) -> tuple[float, float, float]:
    """(MNIST test accuracy %, font accuracy %, seconds of training of the fastest epoch)."""
    trainer = Trainer(config, data)
    seconds, test = [], 0.0
    for event in trainer.run():
        if isinstance(event, EpochMetrics):
            seconds.append(event.seconds)
            test = event.test_accuracy[0]
        elif isinstance(event, RunEnded):
            break
    with torch.no_grad():
        fonts = (trainer.compute.predict(fonts_x) == fonts_y).float().mean().item()
    return 100 * test, 100 * fonts, min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    fonts_x, fonts_y, used = build()
    if not len(fonts_x):
        sys.exit("no fonts found: install some, e.g. apt-get install fonts-dejavu fonts-liberation "
                 "fonts-freefont-ttf fonts-urw-base35 fonts-noto-core")
    print(f"{len(fonts_x):,} font digits from {len(used)} distinct fonts; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    data = load_mnist()
    results: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    for seed in range(42, 42 + args.seeds):
        for augment in (False, True):
            config = PRESETS["balanced"].replace(epochs=args.epochs, seed=seed, augment=augment)
            results[augment].append(train(config, data, fonts_x, fonts_y))
            test, fonts, epoch = results[augment][-1]
            print(f"seed {seed}, augment {'on ' if augment else 'off'}: MNIST test {test:.2f}%, "
                  f"fonts {fonts:.1f}%, fastest epoch {epoch:.3f} s")
    off, on = ([statistics.mean(column) for column in zip(*results[a])] for a in (False, True))
    print(f"mean  augment off: MNIST {off[0]:.2f}%, fonts {off[1]:.1f}%, {off[2]:.3f} s/epoch")
    print(f"mean  augment on : MNIST {on[0]:.2f}%, fonts {on[1]:.1f}%, {on[2]:.3f} s/epoch")
    print(f"augmentation: MNIST {on[0] - off[0]:+.2f} points, fonts {on[1] - off[1]:+.1f} points, "
          f"epoch time x{on[2] / off[2]:.2f}")


if __name__ == "__main__":
    main()
