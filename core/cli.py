"""`l1-trainer train`: headless training that prints the seed notebook's own loss lines."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from l1_trainer.core.config import DEVICE_NAMES, PRESETS, TrainConfig

if TYPE_CHECKING:  # the engine pulls in torch, which --help and bad arguments should not wait for
    from l1_trainer.core.engine import Trainer
    from l1_trainer.core.events import EpochMetrics, RunEnded

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 130
SEED_LOG_EVERY = 500  # the notebook prints every 500 mini-batches


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line naming the problem, not argparse's usage block.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="l1-trainer", description="Train an L1-regularized MLP on MNIST.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    train = sub.add_parser("train", help="train from the command line and print the losses")
    train.add_argument("--preset", choices=sorted(PRESETS), help="start from these settings")
    train.add_argument("--l1-weight", type=float, help="weight of sum(|w|) in the loss")
    _add_training_options(train)
    train.add_argument("--weights-only", action="store_true", help="do not penalize biases")
    train.add_argument("--threads", type=int, help="CPU threads for PyTorch (default: all cores)")
    train.add_argument("--download", action="store_true", help="let torchvision fetch into --data-dir")
    train.add_argument("--load", type=Path, help="start from this saved model's weights")
    train.add_argument("--save", type=Path, help="write the trained model here (.safetensors)")
    sweep = sub.add_parser("sweep", help="train one model per L1 weight at once; print the trade-off")
    sweep.add_argument("--l1-weights", required=True, help="comma-separated, e.g. 0,1e-5,1e-4,1e-3")
    _add_training_options(sweep)
    sweep.add_argument("--csv", type=Path, help="also write the results table here")
    prune = sub.add_parser("prune", help="test accuracy of a saved model as its smallest weights are removed")
    prune.add_argument("model", type=Path, help="a model file saved with --save or the window")
    prune.add_argument("--data-dir", type=Path, help="a torchvision-style MNIST root")
    return parser


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--optimizer", choices=("adamw", "sgd"))
    parser.add_argument("--device", help=f"one of {', '.join(DEVICE_NAMES)} or cuda:N")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--l1-threshold", type=float, help="|w| at or below this counts as sparse")
    parser.add_argument("--l1-method", choices=("penalty", "proximal"),
                        help="penalty: subgradient, as the notebook; proximal: soft-thresholding (exact zeros)")
    parser.add_argument("--train-subset", type=int, help="train on the first N images only")
    parser.add_argument("--data-dir", type=Path, help="a torchvision-style MNIST root")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The preset (or the defaults) with every option the user gave applied on top."""
    preset = getattr(args, "preset", None)
    base = PRESETS[preset] if preset else TrainConfig()
    changes = {
        field: getattr(args, field, None)
        for field in ("l1_weight", "lr", "epochs", "batch_size", "optimizer", "device",
                      "seed", "l1_threshold", "train_subset", "l1_method")
        if getattr(args, field, None) is not None
    }
    if getattr(args, "weights_only", False):
        changes["penalize_biases"] = False
    return base.replace(**changes)


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "prune":
        return prune(args.model, args.data_dir)
    if args.command == "sweep":
        try:
            from l1_trainer.core.sweep import parse_weights

            weights = parse_weights(args.l1_weights)
            config = config_from_args(args)
            for weight in weights:
                config.replace(l1_weight=weight)
        except ValueError as exc:
            return _fail(str(exc), EXIT_USAGE)
        return sweep(config, weights, args.data_dir, args.csv)
    if args.command != "train":
        parser.print_help()
        return EXIT_USAGE
    if args.download and args.data_dir is None:
        return _fail("--download needs --data-dir (the bundled copy is already here)", EXIT_USAGE)
    if args.threads is not None and args.threads < 1:
        return _fail(f"--threads must be at least 1, got {args.threads}", EXIT_USAGE)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    initial = None
    if args.load is not None:
        from l1_trainer.core.modelfile import ModelFileError, load_model

        try:
            model, saved, _ = load_model(args.load)
        except ModelFileError as exc:
            return _fail(str(exc), EXIT_FAILED)
        config = config.replace(hidden_sizes=saved.hidden_sizes)
        initial = model.state_dict()
        print(f"Starting from {args.load} (trained with L1 weight {saved.l1_weight:g}, lr {saved.lr:g})")
    return train(config, args.data_dir, args.download, args.save, initial)


def train(
    config: TrainConfig,
    data_dir: Path | None,
    download: bool,
    save: Path | None,
    initial_state: dict | None = None,
) -> int:
    from l1_trainer.core.data import DataError, load_mnist
    from l1_trainer.core.devices import DeviceUnavailableError, resolve_device
    from l1_trainer.core.engine import Trainer

    try:
        device = resolve_device(config.device)
    except DeviceUnavailableError as exc:
        return _fail(str(exc), EXIT_USAGE)
    try:
        data = load_mnist(device, data_dir, download)
    except DataError as exc:
        return _fail(str(exc), EXIT_FAILED)
    trainer = Trainer(config, data, initial_state)
    print(f"Training on {device} with {_describe(config)}", flush=True)
    previous = signal.signal(signal.SIGINT, lambda *_: trainer.stop())
    try:
        ended = _print_events(trainer)
    finally:
        signal.signal(signal.SIGINT, previous)
    if save is not None:
        saved = _save(save, trainer, ended)
        if saved != EXIT_OK:
            return saved
    return {"finished": EXIT_OK, "stopped": EXIT_STOPPED}.get(ended.status.value, EXIT_FAILED)


def _print_events(trainer: Trainer) -> RunEnded:
    from l1_trainer.core.events import EpochMetrics, EpochStarted, HyperparamsChanged, RunEnded, StepMetrics

    for event in trainer.run():
        if isinstance(event, StepMetrics) and event.batch % SEED_LOG_EVERY == 0:
            print("Loss after mini-batch %5d: %.5f (of which %.5f L1 loss)"
                  % (event.batch, event.total, event.l1), flush=True)
        elif isinstance(event, EpochStarted):
            print(f"Starting epoch {event.epoch}", flush=True)
        elif isinstance(event, EpochMetrics):
            print(_epoch_line(event, trainer.config.epochs), flush=True)
        elif isinstance(event, HyperparamsChanged):
            print(f"From step {event.step}: L1 weight {event.l1_weight:g}, lr {event.lr:g}")
        elif isinstance(event, RunEnded):
            if event.status.value == "finished":
                print("Training process has finished.")
            else:
                print(f"Training {event.status.value}: {event.reason}", file=sys.stderr)
            return event
    raise AssertionError("the engine ended without a RunEnded event")


def _epoch_line(m: EpochMetrics, epochs: int) -> str:
    s = m.sparsity
    return (
        f"Epoch {m.epoch}/{epochs}: test accuracy {m.test_accuracy:.2%}, "
        f"train accuracy {m.train_accuracy:.2%}, sparsity {s.fraction:.1%} "
        f"(|w| <= {s.threshold:g}; {s.exact_zeros:,} exact zeros of {s.size:,}), "
        f"{m.seconds:.2f} s, {m.samples_per_s:,.0f} samples/s, eval {m.eval_seconds:.2f} s"
    )


def _save(path: Path, trainer: Trainer, ended: RunEnded) -> int:
    from l1_trainer.core.modelfile import save_model
    from l1_trainer.core.sparsity import sparsity

    snapshot = trainer.latest_weights()
    summary = {
        "epochs_done": ended.epochs_done,
        "step": ended.step,
        "epoch": snapshot.epoch,
        "status": ended.status.value,
        "test_accuracy": trainer.evaluate(trainer.data.test_x, trainer.data.test_y),
        "sparsity": sparsity(snapshot.weights(), trainer.config.l1_threshold).fraction,
    }
    try:
        save_model(path, trainer.model, trainer.config, summary)
    except OSError as exc:
        return _fail(f"could not save the model to {path}: {exc.strerror or exc}", EXIT_FAILED)
    print(f"Saved the model to {path}")
    return EXIT_OK


def sweep(config: TrainConfig, weights: list[float], data_dir: Path | None, csv: Path | None) -> int:
    """Train one model per L1 weight at once and print accuracy against sparsity."""
    from l1_trainer.core.data import DataError, load_mnist
    from l1_trainer.core.devices import DeviceUnavailableError, resolve_device
    from l1_trainer.core.export import write_csv
    from l1_trainer.core.sweep import SweepTrainer

    try:
        data = load_mnist(resolve_device(config.device), data_dir)
    except DeviceUnavailableError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except DataError as exc:
        return _fail(str(exc), EXIT_FAILED)
    print(f"Sweeping {len(weights)} L1 weights at once: {_describe(config, l1_weight=False)}",
          flush=True)
    for result in SweepTrainer(config, weights, data).run():
        print(f"Epoch {result.epoch}/{config.epochs}: {result.seconds:.2f} s", flush=True)
    header = ("l1_weight", "test_accuracy", "sparsity", "exact_zeros")
    rows = [(p.l1_weight, p.test_accuracy, p.sparsity.fraction, p.sparsity.exact_zeros)
            for p in result.points]
    print(f"{'L1 weight':>10}  {'test accuracy':>13}  {'sparsity':>8}  {'exact zeros':>11}")
    for weight, accuracy, fraction, zeros in rows:
        print(f"{weight:>10g}  {accuracy:>13.2%}  {fraction:>8.1%}  {zeros:>11,}")
    if csv is not None:
        try:
            write_csv(csv, header, rows)
        except OSError as exc:
            return _fail(f"could not write {csv}: {exc.strerror or exc}", EXIT_FAILED)
        print(f"Wrote {csv}")
    return EXIT_OK


def prune(path: Path, data_dir: Path | None) -> int:
    """Print the pruning curve of a saved model: share of weights removed, test accuracy."""
    from l1_trainer.core.data import DataError, load_mnist
    from l1_trainer.core.modelfile import ModelFileError, load_model
    from l1_trainer.core.pruning import pruning_curve

    try:
        model, config, _ = load_model(path)
        data = load_mnist("cpu", data_dir)
    except (ModelFileError, DataError) as exc:
        return _fail(str(exc), EXIT_FAILED)
    print(f"{path}: L1 weight {config.l1_weight:g} ({config.l1_method}), lr {config.lr:g}")
    print("weights at zero  test accuracy")
    for point in pruning_curve(model, data.test_x, data.test_y):
        print(f"{point.removed:14.1%}  {point.accuracy:13.2%}")
    return EXIT_OK


def _describe(c: TrainConfig, l1_weight: bool = True) -> str:
    return ((f"L1 weight {c.l1_weight:g}, " if l1_weight else "")
            + f"lr {c.lr:g}, {c.epochs} epoch(s), batch {c.batch_size}, {c.optimizer}, "
            f"{c.l1_method}, seed {c.seed}, {c.train_size:,} training images")


def _fail(message: str, code: int) -> int:
    print(f"l1-trainer: error: {message}", file=sys.stderr)
    return code
