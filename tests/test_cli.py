import re
import signal
import subprocess
import sys

import pytest
import torch

from conftest import REPO
from l1_trainer.core.modelfile import load_model

# The notebook's printed table (seed/l1_regularization_mlp_notebook.txt): total, L1 part.
NOTEBOOK_TABLE = [
    (65.43456, 63.13525),
    (4.08177, 1.77761),
    (2.94135, 0.63876),
    (2.94091, 0.63833),
    (2.94062, 0.63803),
]
LINE = re.compile(r"^Loss after mini-batch +500: ([\d.]+) \(of which ([\d.]+) L1 loss\)$", re.M)


def _cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "l1_trainer.main", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
    )


def test_seed_preset_reproduces_the_notebooks_table():
    result = _cli("train", "--preset", "seed", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    printed = [(float(t), float(l1)) for t, l1 in LINE.findall(result.stdout)]
    assert len(printed) == len(NOTEBOOK_TABLE)
    for epoch, ((total, l1), (ref_total, ref_l1)) in enumerate(zip(printed, NOTEBOOK_TABLE), 1):
        assert total == pytest.approx(ref_total, rel=5e-3), f"epoch {epoch} total"
        assert l1 == pytest.approx(ref_l1, rel=5e-3), f"epoch {epoch} L1"
    assert [f"Starting epoch {k}" in result.stdout for k in range(1, 6)] == [True] * 5
    summaries = re.findall(r"^Epoch \d/5: test accuracy ([\d.]+)%", result.stdout, re.M)
    assert len(summaries) == 5
    # Weight 1.0 collapses the net to chance: about one digit in ten.
    assert 5.0 < float(summaries[-1]) < 15.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "nan"], "lr must be a finite number"),
        (["--epochs", "0"], "epochs must be an integer in [1, inf]"),
        (["--batch-size", "70000"], "batch_size must be an integer in [1, 60000]"),
        (["--l1-weight", "-1"], "l1_weight must be"),
        (["--device", "tpu"], "device must be one of"),
        (["--epochs", "two"], "argument --epochs: invalid int value"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--download"], "--download needs --data-dir"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, message):
    result = _cli("train", *args, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_missing_device_is_a_clear_error():
    result = _cli("train", "--device", "cuda", timeout=60)
    assert result.returncode == 2
    assert "device 'cuda' is not available" in result.stderr and "Traceback" not in result.stderr


def test_missing_data_dir_fails_before_training(tmp_path):
    result = _cli("train", "--data-dir", str(tmp_path), timeout=120)
    assert result.returncode == 1
    assert "train-images-idx3-ubyte is missing" in result.stderr
    assert "Starting epoch" not in result.stdout


def test_train_and_save(tmp_path):
    path = tmp_path / "model.safetensors"
    result = _cli("train", "--epochs", "1", "--train-subset", "2000", "--lr", "1e-3", "--save", str(path))
    assert result.returncode == 0, result.stderr
    model, config, summary = load_model(path)
    assert (config.epochs, config.train_subset) == (1, 2000)
    assert summary["status"] == "finished" and 0.3 < summary["test_accuracy"] <= 1.0
    assert summary["epoch"] == 1.0 and 0.0 <= summary["sparsity"] <= 1.0


def test_ctrl_c_stops_cleanly_and_keeps_the_model(tmp_path):
    path = tmp_path / "stopped.safetensors"
    proc = subprocess.Popen(
        [sys.executable, "-m", "l1_trainer.main", "train", "--epochs", "1000", "--save", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    for line in proc.stdout:
        if line.startswith("Loss after mini-batch"):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert re.search(r"Training stopped: stopped at step \d+", err) and "Traceback" not in err
    assert load_model(path)[2]["status"] == "stopped"


def test_load_continues_from_a_saved_model(tmp_path):
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    common = ["--epochs", "1", "--train-subset", "2000", "--lr", "1e-3"]
    assert _cli("train", *common, "--save", str(first)).returncode == 0
    result = _cli("train", *common, "--load", str(first), "--save", str(second))
    assert result.returncode == 0, result.stderr
    assert f"Starting from {first}" in result.stdout
    # A second epoch from the first one's weights beats the first epoch alone.
    assert load_model(second)[2]["test_accuracy"] > load_model(first)[2]["test_accuracy"]


def test_load_of_a_damaged_file_is_one_line_and_exit_1(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 50)
    result = _cli("train", "--load", str(bad), timeout=60)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "is not a safetensors model file or is damaged" in result.stderr


def test_prune_prints_the_curve_of_a_saved_model(tmp_path):
    path = tmp_path / "m.safetensors"
    assert _cli("train", "--epochs", "1", "--train-subset", "2000", "--lr", "1e-3",
                "--save", str(path)).returncode == 0
    result = _cli("prune", str(path), timeout=120)
    assert result.returncode == 0, result.stderr
    rows = re.findall(r"^\s+([\d.]+)%\s+([\d.]+)%$", result.stdout, re.M)
    assert len(rows) == 14 and float(rows[0][0]) == 0.0 and float(rows[-1][0]) == 99.0


def test_prune_of_a_missing_file_exits_1():
    result = _cli("prune", "/nonexistent/model.safetensors", timeout=60)
    assert result.returncode == 1 and "cannot read" in result.stderr


def test_sweep_prints_the_trade_off_and_writes_csv(tmp_path):
    path = tmp_path / "sweep.csv"
    result = _cli("sweep", "--l1-weights", "0,1e-3", "--epochs", "1", "--train-subset", "3200",
                  "--lr", "1e-3", "--csv", str(path))
    assert result.returncode == 0, result.stderr
    rows = re.findall(r"^\s+([\d.e-]+)\s+([\d.]+)%\s+([\d.]+)%\s+([\d,]+)$", result.stdout, re.M)
    assert [float(r[0]) for r in rows] == [0.0, 1e-3]
    assert float(rows[1][2]) > float(rows[0][2])  # more L1, more sparsity
    assert path.read_text().splitlines()[0] == "l1_weight,test_accuracy,sparsity,exact_zeros"


def test_sweep_rejects_bad_weights_with_exit_2():
    result = _cli("sweep", "--l1-weights", "0,-1", timeout=60)
    assert result.returncode == 2 and "l1_weight must be" in result.stderr
