"""`l1-trainer train|sweep|prune`: headless training that prints the seed notebook's own loss lines.

Every failure is one line on stderr and a non-zero exit: 2 for a bad argument (arguments and
output paths are all checked before any work starts), 1 for what went wrong while working,
130 when Ctrl-C stopped the work. Ctrl-C ends a run or sweep after its current step and still
saves what was trained; a save, once begun, is finished. When stdout is closed (`| head`),
printing stops quietly and the work and its files are still completed.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core import lazy
from ..core.app.records import SUMMARY_FIELDS, Kind, RunRecord
from ..core.errors import missing_for_onnx
from ..core.files.export import summary_rows, write_csv, write_runs
from ..core.files.store import RunStore, StoreError
from ..core.files.writing import TargetError, check_target, write_atomic
from ..core.training.config import (
    COMPARED_PRESETS,
    DEVICE_NAMES,
    IMAGE_PIXELS,
    MAX_SWEEP_MODELS,
    NUM_CLASSES,
    PRESETS,
    TrainConfig,
    compared_weights,
    parse_weights,
    sweep_grid,
)
from ..core.training.events import EpochMetrics, EpochStarted, HyperparamsChanged, Notice, RunEnded, Steps
from ..core.training.threads import default_threads
from . import interrupts

if TYPE_CHECKING:  # these import PyTorch, which --help and bad arguments should not wait for
    from ..core.files.onnx_export import OnnxExport
    from ..core.training.dataset import MnistTensors
    from ..core.training.engine import Trainer

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 130
SEED_LOG_EVERY = 500  # the notebook prints every 500 mini-batches
CSV_BYTES_PER_MODEL = 1_024  # a summary row, with room to spare


class CliError(Exception):
    """Ends the command with one line on stderr and `code`."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line naming the problem, not argparse's usage block (and no SystemExit).
        if "expected one argument" in message:
            message += " (a value that starts with '-' is written --option=VALUE)"
        raise CliError(message, EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="l1-trainer", description="Train an L1-regularized MLP on MNIST.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    train = sub.add_parser("train", help="train from the command line and print the losses")
    train.add_argument("--preset", choices=sorted(PRESETS), help="start from these settings")
    train.add_argument("--l1-weight", type=float, help="weight of sum(|w|) in the loss")
    train.add_argument("--l2-weight", type=float, help="weight of sum(w^2) in the loss (default 0)")
    _add_training_options(train)
    train.add_argument("--weights-only", action="store_true", help="do not penalize biases")
    train.add_argument("--download", action="store_true", help="let torchvision fetch into --data-dir")
    train.add_argument("--load", type=Path, help="start from this saved model's weights")
    # str, not Path: Path would drop a trailing '/', which the target check must see.
    train.add_argument("--save", help="write the trained model here (.safetensors)")
    sweep = sub.add_parser("sweep", help="train one model per L1 (and L2) weight at once; print the trade-off")
    sweep.add_argument("--l1-weights", help="comma-separated, e.g. 0,1e-5,1e-4,1e-3")
    sweep.add_argument("--l2-weights", help="comma-separated; with --l1-weights, every pairing is "
                       f"trained (at most {MAX_SWEEP_MODELS} models)")
    _add_training_options(sweep)
    sweep.add_argument("--csv", help="also write the results table here")
    runs = sub.add_parser("runs", help="list the kept runs, newest first (the window's Runs tab)")
    runs.add_argument("--csv", help="write them all to this CSV file instead")
    export = sub.add_parser("export", help="a saved model as ONNX (compacted), or its run as a PyTorch script")
    export.add_argument("model", type=Path, help="a model file saved with --save or the window")
    export.add_argument("--onnx", help="write the model here as ONNX (needs: pip install 'l1-trainer[export]')")
    export.add_argument("--no-compact", action="store_true",
                        help="keep every input pixel and unit in the ONNX file")
    export.add_argument("--script", help="write the run here as one plain PyTorch script")
    export.add_argument("--data-dir", type=Path, help="a torchvision-style MNIST root (to check the ONNX file)")
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
    parser.add_argument("--augment", action="store_true",
                        help="randomly rotate, shift, scale, slant and thicken the training digits")
    parser.add_argument("--autograd", action="store_true",
                        help="train with autograd and torch.optim, the readable reference step (slower)")
    parser.add_argument("--notebook-exact", action="store_true",
                        help="AdamW computed as the notebook's loop computes it, to the last digits "
                        "(slower; the seed preset's); otherwise PyTorch's fused AdamW")
    parser.add_argument("--data-dir", type=Path, help="a torchvision-style MNIST root")
    parser.add_argument("--threads", type=int,
                        help=f"CPU threads for PyTorch, 1 to {_cores()} (default: 1, or half the cores "
                        "for a step of 8,192 images x models or more; measured, see README)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The preset (or the defaults) with every option the user gave applied on top."""
    preset = getattr(args, "preset", None)
    base = PRESETS[preset] if preset else TrainConfig()
    changes = {
        field: getattr(args, field, None)
        for field in ("l1_weight", "l2_weight", "lr", "epochs", "batch_size", "optimizer", "device",
                      "seed", "l1_threshold", "train_subset", "l1_method")
        if getattr(args, field, None) is not None
    }
    if getattr(args, "weights_only", False):
        changes["penalize_biases"] = False
    for flag in ("augment", "autograd", "notebook_exact"):
        if getattr(args, flag, False):
            changes[flag] = True
    try:
        return base.replace(**changes)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    commands = {"train": train_command, "sweep": sweep_command, "prune": prune_command,
                "runs": runs_command, "export": export_command}
    try:
        args = parser.parse_args(argv)
        if args.command not in commands:
            parser.print_help()
            return EXIT_USAGE
        return commands[args.command](args)
    except CliError as exc:
        say(f"l1-trainer: error: {exc}", err=True)  # one line: say escapes a newline in a path
        return exc.code


# ---- train -----------------------------------------------------------------------------------


def train_command(args: argparse.Namespace) -> int:
    """Check everything, then train, print the notebook's lines, and save."""
    if args.download and args.data_dir is None:
        raise CliError("--download needs --data-dir (the bundled copy is already here)", EXIT_USAGE)
    _check_threads(args)
    config = config_from_args(args)
    if args.preset in COMPARED_PRESETS:
        return _compare(args, config)
    save = _checked_target(args.save, "--save", _model_bytes(config))
    initial = None
    if args.load is not None:
        try:
            model, saved, summary = lazy.load_model(args.load)
        except lazy.ModelFileError as exc:
            raise CliError(str(exc)) from exc
        config = config.replace(hidden_sizes=saved.hidden_sizes)
        initial = model.state_dict()
        say(f"Starting from {args.load} (trained with {_trained_with(saved, summary)})")
    _set_threads(args.threads, config, 1)
    data = _load_data(config.device, args.data_dir, args.download)
    return train(config, data, save, initial)


def train(config: TrainConfig, data: MnistTensors, save: Path | None,
          initial_state: dict | None = None) -> int:
    trainer = lazy.Trainer(config, data, initial_state)
    record = RunRecord(1, config, (config.l1_weight,))
    say(f"Training on {trainer.device} with {_describe(config)}")
    with _CtrlC(trainer.control.stop_from_signal) as ctrl_c:
        ended = _print_events(trainer, record)
        with ctrl_c.saving(), _kept_whatever_happens(record):
            if save is not None:
                _save(save, trainer, record)
    return {"finished": EXIT_OK, "stopped": EXIT_STOPPED}.get(ended.status.value, EXIT_FAILED)


def _print_events(trainer: Trainer, record: RunRecord) -> RunEnded:
    for event in trainer.run():
        record.apply(event)
        if isinstance(event, Steps):
            for i in np.flatnonzero(event.batch % SEED_LOG_EVERY == 0):
                l2 = f" and {event.l2[i, 0]:.5f} L2 loss" if record.uses_l2() else ""
                say(f"Loss after mini-batch {event.batch[i]:5d}: {event.total[i, 0]:.5f} "
                    f"(of which {event.l1[i, 0]:.5f} L1 loss{l2})")
        elif isinstance(event, EpochStarted):
            say(f"Starting epoch {event.epoch}")
        elif isinstance(event, EpochMetrics):
            say(_epoch_line(event, trainer.config.epochs))
        elif isinstance(event, Notice):
            say(f"l1-trainer: {event.text}", err=True)
        elif isinstance(event, HyperparamsChanged):
            say(f"From step {event.step}: L1 weight {event.l1_weights[0]:g}, "
                f"L2 weight {event.l2_weights[0]:g}, lr {event.lr:g}")
        elif isinstance(event, RunEnded):
            if event.status.value == "finished":
                say("Training process has finished.")
            else:
                say(f"Training {event.status.value}: {event.reason}", err=True)
            return event
    raise AssertionError("the engine ended without a RunEnded event")


def _epoch_line(m: EpochMetrics, epochs: int) -> str:
    s = m.sparsity[0]
    return (
        f"Epoch {m.epoch}/{epochs}: test accuracy {m.test_accuracy[0]:.2%}, "
        f"train accuracy {m.train_accuracy[0]:.2%}, sparsity {s.fraction:.1%} "
        f"(|w| <= {s.threshold:g}; {s.exact_zeros:,} exact zeros of {s.size:,}), "
        f"{m.seconds:.2f} s, {m.samples_per_s:,.0f} samples/s, eval {m.eval_seconds:.2f} s"
    )


def _save(path: Path, trainer: Trainer, record: RunRecord) -> None:
    snapshot = trainer.latest_weights()
    summary = {key: record.summary()[key] for key in ("status", "epochs_done", "schedule")}
    report = record.sparsity()
    summary.update(step=snapshot.step, epoch=snapshot.epoch, test_accuracy=record.test_accuracy(),
                   sparsity=report.fraction if report else None,
                   changes=[list(change) for change in record.live_changes()])
    model = lazy.model_from_state(snapshot.state)
    try:
        _written_or_rescued(path, "the model", lambda p: lazy.save_model(p, model, trainer.config, summary))
    except lazy.ModelFileError as exc:
        raise CliError(str(exc)) from exc
    say(f"Saved the model to {path}")


# ---- sweep and prune -------------------------------------------------------------------------


def sweep_command(args: argparse.Namespace) -> int:
    """Train one model per L1 (and L2) weight at once and print accuracy against sparsity."""
    if args.l1_weights is None and args.l2_weights is None:
        raise CliError("give --l1-weights, --l2-weights or both", EXIT_USAGE)
    _check_threads(args)
    config = config_from_args(args)
    try:
        # An empty list given is an error (parse_weights says so), not the default.
        l1, l2 = sweep_grid(
            parse_weights(args.l1_weights if args.l1_weights is not None else str(config.l1_weight)),
            parse_weights(args.l2_weights if args.l2_weights is not None else str(config.l2_weight),
                          "l2_weight"))
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    csv = _checked_target(args.csv, "--csv", CSV_BYTES_PER_MODEL * len(l1))
    _set_threads(args.threads, config, len(l1))
    data = _load_data(config.device, args.data_dir)
    return sweep(config, l1, l2, data, csv)


def _compare(args: argparse.Namespace, config: TrainConfig) -> int:
    """`train --preset l1-vs-l2`: no penalty, L2 alone and L1 alone, side by side."""
    if args.save is not None or args.load is not None:
        raise CliError(f"--preset {args.preset} trains three models side by side: --save and --load "
                       "take one (save from the window, or train each with --l1-weight/--l2-weight)",
                       EXIT_USAGE)
    l1, l2 = compared_weights(config)
    _set_threads(args.threads, config, len(l1))
    return sweep(config, l1, l2, _load_data(config.device, args.data_dir), None, Kind.COMPARISON)


def sweep(config: TrainConfig, l1: list[float], l2: list[float], data: MnistTensors,
          csv: Path | None, kind: Kind = Kind.SWEEP) -> int:
    trainer = lazy.Trainer(config, data, l1_weights=l1, l2_weights=l2)
    record = RunRecord(1, config, tuple(l1), tuple(l2), kind)
    what = "Comparing side by side: " + ", ".join(record.model_name(m) for m in range(record.k)) \
        if record.comparison else f"Sweeping {len(l1)} models at once"
    say(f"{what}: {_describe(config, l1_weight=False)}")
    with _CtrlC(trainer.control.stop_from_signal) as ctrl_c:
        for event in trainer.run():
            record.apply(event)
            if isinstance(event, EpochMetrics):
                say(f"Epoch {event.epoch}/{config.epochs}: {event.seconds:.2f} s")
            elif isinstance(event, Notice):
                say(f"l1-trainer: {event.text}", err=True)
            elif isinstance(event, RunEnded) and event.status.value == "stopped":
                say(f"Stopped at step {event.step:,}, in epoch {event.epochs_done + 1}")
        say(f"{'L1 weight':>10}  {'L2 weight':>10}  {'test accuracy':>13}  {'sparsity':>8}  {'exact zeros':>11}")
        rows = [record.summary(m) for m in range(record.k)]
        for row in rows:
            accuracy = row["status"] if row["status"] == "diverged" else f"{row['test_accuracy']:.2%}"
            say(f"{row['l1_weight']:>10g}  {row['l2_weight']:>10g}  {accuracy:>13}  "
                f"{row['sparsity']:>8.1%}  {row['exact_zeros']:>11,}")
        with ctrl_c.saving(), _kept_whatever_happens(record):
            if csv is not None:
                _written_or_rescued(csv, "the table", lambda p: write_csv(p, SUMMARY_FIELDS, summary_rows([record])))
                say(f"Wrote {csv}")
    ended = record.ended
    if ended is None:
        raise AssertionError("the engine ended without a RunEnded event")
    if ended.status.value == "failed":
        raise CliError(ended.reason)
    return EXIT_STOPPED if ended.status.value == "stopped" else EXIT_OK


def prune_command(args: argparse.Namespace) -> int:
    """Print the pruning curve of a saved model: share of weights removed, test accuracy."""
    try:
        model, config, summary = lazy.load_model(args.model)
    except lazy.ModelFileError as exc:
        raise CliError(str(exc)) from exc
    data = _load_data("cpu", args.data_dir)
    say(f"{args.model}: trained with {_trained_with(config, summary)}, {config.l1_method}")
    say("weights at zero  test accuracy  compacted to")
    for point in lazy.pruning_curve(model, data.test_x, data.test_y):
        small = point.compacted
        say(f"{point.removed:14.1%}  {point.accuracy:13.2%}  {'-'.join(map(str, small.sizes))}, "
            f"{small.weight_count:,} weights")
    return EXIT_OK


def export_command(args: argparse.Namespace) -> int:
    """Write a saved model as ONNX (checked by ONNX Runtime), or its run as a script, or both."""
    if args.onnx is None and args.script is None:
        raise CliError("give --onnx PATH, --script PATH or both", EXIT_USAGE)
    onnx_path = _checked_target(args.onnx, "--onnx", _model_bytes(TrainConfig()))
    script_path = _checked_target(args.script, "--script", 65_536)
    try:
        model, config, summary = lazy.load_model(args.model)
    except lazy.ModelFileError as exc:
        raise CliError(str(exc)) from exc
    if script_path is not None:
        text = lazy.run_script(config, lazy.live_changes(summary), f"the run saved in {args.model.name}",
                               str(args.model), script_path.name)
        _written_or_rescued(script_path, "the script", lambda p: write_atomic(p, text.encode()))
        say(f"Wrote {script_path}: the run as a plain PyTorch script "
            f"(python {script_path.name} --data-dir FOLDER_WITH_MNIST)")
    if onnx_path is not None:
        export_model = _onnx_exporter()
        data = _load_data("cpu", args.data_dir)
        result = export_model(model, _trained_with(config, summary), data.test_x, not args.no_compact)
        _written_or_rescued(onnx_path, "the ONNX model", lambda p: write_atomic(p, result.data))
        say(f"Wrote {onnx_path}: {result.describe()}")
    return EXIT_OK


def _onnx_exporter() -> Callable[..., OnnxExport]:
    """core/files/onnx_export.export_model, or one line saying how to install what it needs."""
    try:
        return lazy.export_model
    except ImportError as exc:
        raise CliError(missing_for_onnx(exc)) from exc


def runs_command(args: argparse.Namespace) -> int:
    """The kept runs, one line each, newest first; or all of them as CSV."""
    store = _store()
    try:
        runs = store.runs()
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    if args.csv is not None:
        path = Path(args.csv)
        _checked_target(args.csv, "--csv", CSV_BYTES_PER_MODEL * len(runs))
        _written_or_rescued(path, "the runs", lambda p: write_runs(p, runs))
        say(f"Wrote {len(runs)} run(s) to {path}")
        return EXIT_OK
    if not runs:
        say(f"No runs kept yet (the history is in {store.folder})")
    for run in runs:
        say(run.line())
    return EXIT_OK


def _store() -> RunStore:
    try:
        store = RunStore()
    except StoreError as exc:
        raise CliError(str(exc)) from exc
    if store.notice:
        say(f"l1-trainer: {store.notice}", err=True)
    return store


@contextmanager
def _kept_whatever_happens(record: RunRecord) -> Iterator[None]:
    """Keep the run in the history after the block, also when the block failed (a --save or
    --csv that could not be written must not lose the run)."""
    try:
        yield
    finally:
        _keep(record)


def _keep(record: RunRecord) -> None:
    """Keep a finished run in the history; a history that cannot be written is said, not fatal."""
    try:
        store = RunStore()
        ids = store.add(record)
    except (StoreError, OSError) as exc:
        say(f"l1-trainer: the run was not kept in the history: {exc}", err=True)
        return
    if store.notice:
        say(f"l1-trainer: {store.notice}", err=True)
    say(f"Kept as run #{ids[0]}" + (f" to #{ids[-1]}" if len(ids) > 1 else "") + " (l1-trainer runs)")


# ---- shared ----------------------------------------------------------------------------------


def _load_data(device_name: str, data_dir: Path | None, download: bool = False) -> MnistTensors:
    """MNIST on the CPU, after checking that `device_name` exists here."""
    try:
        lazy.resolve_device(device_name)
    except lazy.DeviceUnavailableError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    try:
        return lazy.load_mnist("cpu", data_dir, download)
    except lazy.DataError as exc:
        raise CliError(str(exc)) from exc


def _check_threads(args: argparse.Namespace) -> None:
    if args.threads is not None and not 1 <= args.threads <= _cores():
        raise CliError(f"--threads must be from 1 to {_cores()} (this machine's cores), "
                       f"got {args.threads}", EXIT_USAGE)


def _set_threads(threads: int | None, config: TrainConfig, models: int) -> None:
    """The given count, or the measured default for this step size (core/training/threads.py)."""
    lazy.torch.set_num_threads(threads or default_threads(config.batch_size, models))


def _checked_target(path: str | None, option: str, size: int) -> Path | None:
    if path is None:
        return None
    try:
        check_target(path, size)
    except TargetError as exc:
        raise CliError(f"{option}: {exc}", EXIT_USAGE) from exc
    return Path(path)


def _trained_with(config: TrainConfig, summary: dict[str, object]) -> str:
    """The schedule a model file records (with its live changes), or its settings at start."""
    return str(summary.get("schedule") or f"L1 weight {config.l1_weight:g}, lr {config.lr:g}")


def _model_bytes(config: TrainConfig) -> int:
    """About the size of a saved model: its float32 weights and a header."""
    sizes = [IMAGE_PIXELS, *config.hidden_sizes, NUM_CLASSES]
    return 4 * sum((a + 1) * b for a, b in zip(sizes, sizes[1:])) + 16_384


def _written_or_rescued(path: Path, what: str, write: Callable[[Path], object]) -> None:
    """Write with `write(path)`; if that fails after all, into the temporary folder instead,
    so that the work is not lost (the command still fails, saying where the file went)."""
    try:
        write(path)
        return
    except OSError as exc:
        reason = exc.strerror or str(exc)
    rescue = None
    try:
        # A new file of our own (O_EXCL, O_NOFOLLOW): never a name another user could plant first.
        fd, name = tempfile.mkstemp(prefix="l1-trainer-rescued-", suffix=path.suffix)
        os.close(fd)
        rescue = Path(name)
        write(rescue)
    except OSError as exc:
        if rescue is not None:
            rescue.unlink(missing_ok=True)  # not an empty file left behind
        raise CliError(f"could not write {what} to {path} ({reason}), nor to a new file in "
                       f"{tempfile.gettempdir()} ({exc.strerror or exc})") from exc
    raise CliError(f"could not write {what} to {path} ({reason}); it was saved to {rescue} instead")


class _CtrlC:
    """While work runs, Ctrl-C (or SIGTERM, or a closed terminal's SIGHUP) calls `stop`: the
    work ends after its current step and is still saved. The first signal decides; every later
    one is ignored until the process exits, so a held-down Ctrl-C never interrupts a save or
    the exit. The handler only sets flags: no lock and no printing, which the code it
    interrupts may be holding."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self._stop = stop
        self._saving = False
        self.stopping = False
        self._during_save = False

    def __enter__(self) -> _CtrlC:
        self._previous = {number: signal.signal(number, self._interrupted) for number in interrupts.SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.stopping:  # once stopping, signals stay ignored until the exit
            for number, handler in self._previous.items():
                signal.signal(number, handler)

    @contextmanager
    def saving(self) -> Iterator[None]:
        """A signal in the block is acknowledged after it, never obeyed inside it."""
        self._saving = True
        try:
            yield
        finally:
            self._saving = False
            if self._during_save:
                say("l1-trainer: interrupted while writing: the files were finished first", err=True)

    def _interrupted(self, signum: int, frame: object) -> None:
        interrupts.quiet()
        self.stopping = True
        self._during_save = self._saving
        self._stop()


def say(text: str, err: bool = False) -> None:
    """Print one line, with control characters escaped (text from files, the history and paths
    may hold any). Once the output cannot take it (a closed pipe, a full disk), print nothing
    more and go on with the work; what the terminal's encoding lacks is escaped."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:  # started with the stream closed
        return
    text = printable(text)
    try:
        try:
            print(text, file=stream, flush=True)
        except UnicodeEncodeError:
            encoding = stream.encoding or "ascii"
            print(text.encode(encoding, "backslashreplace").decode(encoding), file=stream, flush=True)
    except OSError:
        # Python's advice for a broken pipe: point the descriptor at /dev/null so that later
        # writes and the flush at exit succeed silently instead of raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


# C0 and C1 controls, DEL, line and paragraph separators, the marks that reorder text (U+202E
# makes "exe.txt" of "txt.exe"), and the surrogates a path's undecodable bytes become (printed
# back as the raw bytes: 0x9b is CSI).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                       "\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """`text` with every control character written as an escape: it cannot clear the screen,
    set the title, forge a line or turn text around."""
    return _CONTROLS.sub(lambda m: _NAMED.get(m[0]) or m[0].encode("unicode_escape").decode("ascii"), text)


def _cores() -> int:
    return os.cpu_count() or 1


def _describe(c: TrainConfig, l1_weight: bool = True) -> str:
    penalties = (f"L1 weight {c.l1_weight:g}, " + (f"L2 weight {c.l2_weight:g}, " if c.l2_weight else "")
                 if l1_weight else "")
    return (penalties + f"lr {c.lr:g}, {c.epochs} epoch(s), batch {c.batch_size}, {c.optimizer}, "
            f"{c.l1_method}, seed {c.seed}, {c.train_size:,} training images"
            + (", augmented" if c.augment else "") + (", autograd step" if c.autograd else "")
            + (", notebook-exact" if c.notebook_exact else ""))
