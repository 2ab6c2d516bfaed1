"""`l1-trainer train|sweep|prune`: error paths in-process (fast), signals and pipes for real."""

import csv
import itertools
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from l1_trainer.cli import commands as cli
from l1_trainer.core.app.records import SUMMARY_FIELDS
from l1_trainer.core.files.modelfile import load_model, save_model
from l1_trainer.core.training.config import TrainConfig
from l1_trainer.core.training.model import build_model

SMALL = ["--epochs", "1", "--train-subset", "2000", "--lr", "1e-3"]


def _spawn(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "l1_trainer.main", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _csv_rows(path):
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _one_line_error(err, message):
    assert err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "nan"], "lr must be a finite number"),
        (["--lr", "1e39"], "lr must be a finite number in (0, 1e+06]"),
        (["--epochs", "0"], "epochs must be an integer in [1, 10000]"),
        (["--epochs", "1e9"], "argument --epochs: invalid int value: '1e9'"),
        (["--batch-size", "70000"], "batch_size must be an integer in [1, 60000]"),
        (["--l1-weight", "-1"], "l1_weight must be"),
        (["--device", "tpu"], "device must be one of"),
        (["--device", "cuda:99999999999999"], "device must be one of"),
        (["--threads", "0"], "--threads must be from 1 to"),
        (["--threads", "5000"], "--threads must be from 1 to"),
        (["--threads", str(2**40)], "--threads must be from 1 to"),
        (["--epochs", "two"], "argument --epochs: invalid int value"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--download"], "--download needs --data-dir"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(run, args, message):
    code, out, err = run("train", *args)
    assert code == 2 and not out
    _one_line_error(err, message)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:7"])
def test_missing_device_is_a_clear_error(run, device):
    code, _, err = run("train", "--device", device)
    assert code == 2
    _one_line_error(err, f"device '{device}' is not available")


def test_missing_data_dir_fails_before_training(run, tmp_path):
    code, out, err = run("train", "--data-dir", tmp_path)
    assert code == 1 and "Starting epoch" not in out
    _one_line_error(err, "train-images-idx3-ubyte is missing")


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.mkdir(), "it is a folder"),
    (lambda p: os.mkfifo(p), "not a regular file"),
    (lambda p: p.symlink_to("/dev/null"), "device or system file"),
    (lambda p: None, "does not exist"),
])
def test_save_and_csv_targets_are_checked_before_any_work(run, tmp_path, make, message):
    target = tmp_path / "out"
    make(target)
    if not os.path.lexists(target):
        target = tmp_path / "missing" / "out"
    for command in (["train", *SMALL, "--save", target],
                    ["sweep", "--l1-weights", "0,1e-3", *SMALL, "--csv", target]):
        code, out, err = run(*command)
        assert code == 2 and "Starting epoch" not in out and "Sweeping" not in out
        _one_line_error(err, message)
        assert err.startswith("l1-trainer: error: --save:" if command[0] == "train"
                              else "l1-trainer: error: --csv:")


def test_train_save_load_and_prune(run, tmp_path):
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    code, out, err = run("train", *SMALL, "--save", first)
    assert code == 0, err
    assert "Epoch 1/1: test accuracy" in out and f"Saved the model to {first}" in out
    model, config, summary = load_model(first)
    assert (config.epochs, config.train_subset) == (1, 2000)
    assert summary["status"] == "finished" and 0.3 < summary["test_accuracy"] <= 1.0
    assert summary["epoch"] == 1.0 and 0.0 <= summary["sparsity"] <= 1.0

    code, out, err = run("train", *SMALL, "--load", first, "--save", second)
    assert code == 0, err
    assert f"Starting from {first} (trained with {summary['schedule']})" in out  # its schedule, changes too
    # A second epoch from the first one's weights beats the first epoch alone.
    assert load_model(second)[2]["test_accuracy"] > summary["test_accuracy"]

    code, out, err = run("prune", second)
    assert code == 0, err
    assert out.startswith(f"{second}: trained with {load_model(second)[2]['schedule']}, penalty")
    rows = re.findall(r"^\s+([\d.]+)%\s+([\d.]+)%  ([\d-]+), ([\d,]+) weights$", out, re.M)
    assert len(rows) == 14 and float(rows[0][0]) == 0.0 and float(rows[-1][0]) == 99.0
    sizes = [int(r[3].replace(",", "")) for r in rows]
    assert rows[0][2] == "784-64-32-10" and sizes[0] == 52_544  # nothing pruned: nothing to take out
    assert sizes[-1] < sizes[0] // 10 and sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("command", ["train", "prune"])
def test_unusable_model_files_are_one_line_and_exit_1(run, tmp_path, command):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 50)
    nan = tmp_path / "nan.safetensors"
    save_model(nan, build_model((64, 32), torch.Generator().manual_seed(1)), TrainConfig(), {})
    raw = bytearray(nan.read_bytes())
    raw[-4:] = b"\x00\x00\xc0\x7f"  # the last float becomes NaN
    nan.write_bytes(bytes(raw))
    for path, message in ((bad, "is not a safetensors model file or is damaged"),
                          (nan, "not finite numbers (NaN or inf) in layers."),
                          ("/dev/zero", "/dev/zero is not a regular file"),
                          (tmp_path / "none.safetensors", "cannot read")):
        args = ["--load", path, "--save", tmp_path / "out.safetensors"] if command == "train" else [path]
        code, out, err = run(command, *args)
        assert code == 1 and "Starting epoch" not in out
        _one_line_error(err, message)
    assert not (tmp_path / "out.safetensors").exists()


def test_sweep_prints_the_trade_off_and_writes_csv(run, tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr("l1_trainer.cli.commands.default_threads", lambda *a: asked.append(a) or 1)
    path = tmp_path / "sweep.csv"
    code, out, err = run("sweep", "--l1-weights", "0,1e-3", "--epochs", "1", "--train-subset", "3200",
                         "--lr", "1e-3", "--csv", path)
    assert code == 0, err
    assert asked == [(64, 2)]  # the measured default for this step, as the window's
    rows = re.findall(r"^\s+([\d.e-]+)\s+([\d.e-]+)\s+([\d.]+)%\s+([\d.]+)%\s+([\d,]+)$", out, re.M)
    assert [(float(r[0]), float(r[1])) for r in rows] == [(0.0, 0.0), (1e-3, 0.0)]
    assert float(rows[1][3]) > float(rows[0][3])  # more L1, more sparsity
    table = _csv_rows(path)
    assert [r["status"] for r in table] == ["finished", "finished"]
    assert list(table[0]) == list(SUMMARY_FIELDS)
    assert [r["schedule"] for r in table] == ["L1 0, lr 1e-3", "L1 1e-3, lr 1e-3"]


def test_the_l1_vs_l2_preset_trains_three_models_side_by_side(run, tmp_path, monkeypatch):
    monkeypatch.setenv("L1_TRAINER_DATA", str(tmp_path / "history"))
    code, out, err = run("train", "--preset", "l1-vs-l2", "--epochs", "1", "--train-subset", "3200")
    assert code == 0, err
    assert out.startswith("Comparing side by side: no penalty, L2 1e-3, L1 0.1:")
    rows = re.findall(r"^\s+([\d.e-]+)\s+([\d.e-]+)\s+([\d.]+)%\s+([\d.]+)%\s+([\d,]+)$", out, re.M)
    assert [(float(r[0]), float(r[1])) for r in rows] == [(0.0, 0.0), (0.0, 1e-3), (0.1, 0.0)]
    assert [int(r[4].replace(",", "")) for r in rows][:2] == [0, 0] and int(rows[2][4].replace(",", "")) > 0
    assert "Kept as run #1 to #3" in out
    code, out, err = run("train", "--preset", "l1-vs-l2", "--save", tmp_path / "m.safetensors")
    assert code == 2 and "trains three models side by side" in err


def test_threads_given_are_used_by_train_and_sweep(run, monkeypatch):
    used = []
    monkeypatch.setattr("torch.set_num_threads", used.append)
    monkeypatch.setattr("l1_trainer.cli.commands.default_threads", lambda *a: 99)
    tiny = ["--epochs", "1", "--train-subset", "320"]
    assert run("train", *tiny, "--threads", "1")[0] == 0
    assert run("sweep", "--l1-weights", "0,1e-3", *tiny, "--threads", "1")[0] == 0
    assert run("train", *tiny, "--batch-size", "100")[0] == 0
    assert used == [1, 1, 99]


def test_sweep_that_diverges_says_so_and_exits_1(run, tmp_path):
    path = tmp_path / "sweep.csv"
    code, out, err = run("sweep", "--l1-weights", "0,1e-4", "--lr", "1e6", "--epochs", "1",
                         "--train-subset", "2000", "--csv", path)
    assert code == 1
    assert len(re.findall(r"^\s+[\d.e-]+\s+[\d.e-]+\s+diverged\s", out, re.M)) == 2
    _one_line_error(err, "every model diverged")
    assert [(r["status"], r["test_accuracy"]) for r in _csv_rows(path)] == [("diverged", "")] * 2


@pytest.mark.parametrize(("weights", "message"), [
    ("0,-1", "l1_weight must be"),
    ("0,nan", "l1_weight must be"),
    ("0,abc", "numbers separated by commas"),
    (",".join(["1e-4"] * 1000), "1 to 64 models at once, got 1000"),
    ("", "give at least one L1 weight"),  # an empty list is not the default weight
])
def test_sweep_rejects_bad_weights_with_exit_2(run, weights, message):
    code, out, err = run("sweep", "--l1-weights", weights)
    assert code == 2 and not out
    _one_line_error(err, message)


def test_help_states_the_caps(capsys):
    for command, cap in (("sweep", "at most 64"), ("train", f"1 to {os.cpu_count()}")):
        with pytest.raises(SystemExit) as exited:
            cli.main([command, "--help"])
        assert exited.value.code == 0 and cap in " ".join(capsys.readouterr().out.split())


def test_ctrl_c_while_starting_is_one_line_and_130(run, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("l1_trainer.core.lazy.load_mnist", interrupted)
    for command in (["train", *SMALL], ["sweep", "--l1-weights", "0"], ["prune", "/dev/null"]):
        monkeypatch.setattr("l1_trainer.core.lazy.load_model", interrupted)
        code, out, err = run(*command)
        assert code == 130
        _one_line_error(err, "l1-trainer: interrupted")


def test_second_ctrl_c_during_the_save_lets_it_finish(run, tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    real_save = save_model

    def save_while_interrupted(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the save
        real_save(*args, **kwargs)

    monkeypatch.setattr("l1_trainer.core.lazy.save_model", save_while_interrupted)
    code, out, err = run("train", *SMALL, "--save", path)
    assert code == 0 and f"Saved the model to {path}" in out
    assert "interrupted while writing: the files were finished first" in err and "Traceback" not in err
    assert load_model(path)[2]["status"] == "finished"


def test_a_save_that_fails_after_all_is_rescued_not_lost(run, tmp_path, monkeypatch):
    monkeypatch.setenv("L1_TRAINER_DATA", str(tmp_path / "history"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    target = tmp_path / "m.safetensors"
    guessed = tmp_path / f"l1-trainer-rescued-{os.getpid()}.safetensors"  # the old name
    guessed.symlink_to(tmp_path / "victim")
    real_save = save_model

    def disk_full_at_the_target(path, *args, **kwargs):
        if path == target:
            raise OSError(28, "No space left on device")
        real_save(path, *args, **kwargs)

    monkeypatch.setattr("l1_trainer.core.lazy.save_model", disk_full_at_the_target)
    code, out, err = run("train", *SMALL, "--save", target)
    assert code == 1
    _one_line_error(err, f"could not write the model to {target} (No space left on device); it was saved to ")
    rescued = Path(err.split("it was saved to ")[1].split(" instead")[0])
    assert rescued.parent == tmp_path and not rescued.is_symlink() and not (tmp_path / "victim").exists()
    assert load_model(rescued)[2]["status"] == "finished"
    assert "Kept as run #1" in out  # and the run is in the history all the same


def test_a_table_that_cannot_be_written_still_keeps_the_sweep(run, tmp_path, monkeypatch):
    monkeypatch.setenv("L1_TRAINER_DATA", str(tmp_path / "history"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("l1_trainer.cli.commands.write_csv", disk_full)
    code, out, err = run("sweep", "--l1-weights", "0,1e-3", *SMALL, "--csv", tmp_path / "t.csv")
    assert code == 1 and "nor to a new file in" in err and "Kept as run #1 to #2" in out
    assert not list(tmp_path.glob("l1-trainer-rescued-*"))  # the rescue failed too: no empty file left


@pytest.mark.parametrize(("args", "message"), [
    (["sweep", "--l1-weights", "-1e-4"], "written --option=VALUE"),
    (["train", "--save", "no\nsuch/folder/m.safetensors"], "no\\nsuch"),
    (["train", "--save", "{tmp}/file/"], "ends with '/'"),
    (["train", "--save", "/dev/stdout"], "device or system file"),
])
def test_awkward_arguments_get_one_line(run, tmp_path, args, message):
    (tmp_path / "file").write_bytes(b"keep")
    code, out, err = run(*[a.format(tmp=tmp_path) for a in args])
    assert code == 2
    _one_line_error(err, message)
    assert (tmp_path / "file").read_bytes() == b"keep"


def test_desktop_options_take_no_arguments(run):
    code, out, err = run("--install-desktop-entry", "--force")
    assert code == 2 and not out
    _one_line_error(err, "--install-desktop-entry takes no arguments, got --force")


# ---- real processes: the entry point, signals, pipes ------------------------------------------


def test_ctrl_c_held_down_stops_cleanly_and_keeps_the_model_and_the_run(tmp_path):
    path = tmp_path / "stopped.safetensors"
    proc = _spawn("train", "--epochs", "1000", "--save", path,
                  env={**os.environ, "L1_TRAINER_DATA": str(tmp_path / "history")})
    for line in proc.stdout:
        if line.startswith("Loss after mini-batch"):
            break
    storm = itertools.cycle([signal.SIGINT] * 8 + [signal.SIGTERM, signal.SIGHUP])
    while proc.poll() is None:  # a signal a millisecond until it exits, as a held key and more
        proc.send_signal(next(storm))
        time.sleep(0.001)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert re.search(r"Training stopped: stopped at step \d+", err)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert load_model(path)[2]["status"] == "stopped"
    assert "Kept as run #1" in out


def test_closed_stdout_stops_printing_but_still_saves(tmp_path):
    path = tmp_path / "piped.safetensors"
    proc = _spawn("train", *SMALL, "--save", path)
    assert proc.stdout.readline().startswith("Training on")
    proc.stdout.close()  # `| head -1`: the reader goes away
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err and not err
    assert load_model(path)[2]["status"] == "finished"


def test_output_that_cannot_be_written_does_not_stop_the_work(run, tmp_path, monkeypatch):
    path = tmp_path / "full.safetensors"
    with open("/dev/full", "w") as full:  # every write fails: No space left on device
        monkeypatch.setattr("sys.stdout", full)
        code, _, err = run("train", *SMALL, "--save", path)
    assert code == 0 and not err
    assert load_model(path)[2]["status"] == "finished"


def test_a_signal_during_an_import_waits_for_its_end():
    from l1_trainer.cli import interrupts

    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():  # as numpy's and torch's imports are guarded
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
            done.append(True)  # not torn off in the middle
    assert done == [True]


def test_undecodable_bytes_of_a_path_are_escaped_not_printed_raw(capsys):
    path = os.fsdecode(b"m\x9b2J\x85\xe2\x80\xa8x.safetensors")  # CSI, NEL, then U+2028
    cli.say(f"Saved the model to {path}")
    out = capsys.readouterr().out
    assert "\\udc9b2J\\udc85" in out and "\\u2028" in out
    assert not re.search("[\udc80-\udcff\u2028\x85\x9b]", out)


def test_what_the_terminal_cannot_encode_is_escaped(monkeypatch, tmp_path):
    import io

    raw = io.BytesIO()
    monkeypatch.setattr("sys.stdout", io.TextIOWrapper(raw, encoding="ascii"))
    cli.say(f"Saved the model to {tmp_path / 'é.safetensors'}")
    assert raw.getvalue().decode().endswith("\\xe9.safetensors\n")


def signal_after_first_epoch(monkeypatch, signal_number):
    """The process gets `signal_number` right after its first epoch, as from another terminal."""
    from l1_trainer.core.training.engine import Trainer
    from l1_trainer.core.training.events import EpochMetrics

    run = Trainer.run

    def run_then_signal(self):
        for event in run(self):
            yield event
            if isinstance(event, EpochMetrics) and event.epoch == 1:
                os.kill(os.getpid(), signal_number)

    monkeypatch.setattr(Trainer, "run", run_then_signal)


def test_sigterm_stops_like_ctrl_c_and_saves(run, tmp_path, monkeypatch):
    path = tmp_path / "terminated.safetensors"
    signal_after_first_epoch(monkeypatch, signal.SIGTERM)
    code, out, err = run("train", "--epochs", "1000", "--train-subset", "640", "--save", path)
    assert code == 130 and "Training stopped: stopped at step" in err
    assert load_model(path)[2]["status"] == "stopped"


def test_ctrl_c_during_a_sweep_writes_the_models_so_far(run, tmp_path, monkeypatch):
    path = tmp_path / "sweep.csv"
    signal_after_first_epoch(monkeypatch, signal.SIGINT)
    code, out, err = run("sweep", "--l1-weights", "0,1e-3", "--epochs", "1000", "--train-subset", "640",
                         "--csv", path)
    assert code == 130 and "Traceback" not in err, err
    assert "Stopped at step" in out and f"Wrote {path}" in out
    assert [r["status"] for r in _csv_rows(path)] == ["stopped", "stopped"]




def test_runs_lists_what_train_and_sweep_kept(run, tmp_path, monkeypatch):
    monkeypatch.setenv("L1_TRAINER_DATA", str(tmp_path / "history"))
    code, out, _ = run("runs")
    assert code == 0 and out.startswith("No runs kept yet")
    assert run("train", *SMALL)[1].rstrip().endswith("Kept as run #1 (l1-trainer runs)")
    code, out, _ = run("sweep", "--l1-weights", "0", "--l2-weights", "0,1e-3", *SMALL)
    assert code == 0 and "Kept as run #2 to #3" in out
    code, out, _ = run("runs")
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["#3", "#2", "#1"]
    assert "L1 0, L2 1e-3, lr 1e-3" in lines[0] and " run " in lines[2]
    code, out, _ = run("runs", "--csv", tmp_path / "runs.csv")
    assert code == 0 and len(_csv_rows(tmp_path / "runs.csv")) == 3
    hostile = "\x1b[2J\x1b]0;owned\x07\r\nforged line\u202egnp.exe\x9b"
    with sqlite3.connect(tmp_path / "history" / "runs.db") as db:
        db.execute("UPDATE runs SET schedule = ?, status = ? WHERE id = 1", (hostile, hostile))
    code, out, _ = run("runs")
    assert len(out.splitlines()) == 3 and "forged line" in out
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", out), repr(out)


def test_train_with_the_autograd_step(run):
    code, out, err = run("train", "--autograd", "--epochs", "1", "--train-subset", "640", "--lr", "1e-3")
    assert code == 0, err
    assert "autograd step" in out.splitlines()[0] and "Training process has finished." in out


@pytest.mark.parametrize(("argv", "exact"), [(["train"], False), (["train", "--notebook-exact"], True),
                                             (["train", "--preset", "seed"], True),
                                             (["sweep", "--notebook-exact"], True)])
def test_notebook_exact_arithmetic_is_the_seed_presets_or_asked_for(argv, exact):
    assert cli.config_from_args(cli.build_parser().parse_args(argv)).notebook_exact is exact


def test_download_without_torchvision_says_so_in_one_line(run, tmp_path, monkeypatch):
    """The standalone app is built without torchvision: --download names what to do instead."""
    from l1_trainer.core import lazy

    for name in ("torchvision", "torchvision.datasets"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError, as when absent
    monkeypatch.delitem(vars(lazy), "MNIST", raising=False)  # not found earlier in this process
    code, out, err = run("train", "--data-dir", tmp_path, "--download", "--epochs", "1")
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1 and "has no torchvision, which --download needs" in err
    assert str(tmp_path / "MNIST" / "raw") in err
