"""`l1-trainer export`: a model as ONNX checked by ONNX Runtime, and a run as a plain script."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest

from l1_trainer.core import lazy
from l1_trainer.core.app.records import RunRecord
from l1_trainer.core.files.modelfile import load_model, save_model
from l1_trainer.core.training.compaction import compact
from l1_trainer.core.training.config import PRESETS
from l1_trainer.core.training.engine import Control, Trainer
from l1_trainer.core.training.events import Paused
from l1_trainer.core.training.inference import model_from_state, probabilities

from conftest import REPO
from test_gui import evaluated, make_window


@pytest.fixture(scope="module")
def sparse_file(tmp_path_factory, balanced):
    """The Balanced model with 100 pixels and a first-layer unit switched off, saved."""
    config, state, ended = balanced
    sparse = {name: t.clone() for name, t in state.items()}
    sparse["layers.1.weight"][:, :100] = 0
    sparse["layers.1.weight"][5] = 0
    path = tmp_path_factory.mktemp("export") / "sparse.safetensors"
    save_model(path, model_from_state(sparse), config, {"step": ended.step, "schedule": "L1 1e-4, lr 1e-3"})
    return path


def _onnx_probabilities(path, images):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert [o.name for o in session.get_outputs()] == ["probabilities", "logits"]
    return session.run(["probabilities"], {"images": images.reshape(-1, 1, 28, 28).numpy()})[0]


def test_onnx_export_compacted_and_full_compute_the_apps_probabilities(run, sparse_file, tmp_path, mnist):
    small, full = tmp_path / "small.onnx", tmp_path / "full.onnx"
    code, out, err = run("export", sparse_file, "--onnx", small)
    assert code == 0, err
    assert out.startswith(f"Wrote {small}: 684-63-32-10 (compacted from 784-64-32-10)")
    code, out, err = run("export", sparse_file, "--onnx", full, "--no-compact")
    assert code == 0, err
    assert "784-64-32-10 (not compacted)" in out
    model, _, _ = load_model(sparse_file)
    expected = probabilities(model, mnist.test_x).numpy()
    for path in (small, full):
        assert np.abs(_onnx_probabilities(path, mnist.test_x) - expected).max() <= 1e-5
    numbers = {p: sum(int(np.prod(t.dims)) for t in onnx.load(str(p)).graph.initializer) for p in (small, full)}
    assert numbers[small] < numbers[full] and small.stat().st_size < full.stat().st_size
    stored = {p: sum(int(np.prod(t.dims)) for t in onnx.load(str(p)).graph.initializer
                     if not t.name.endswith("_shape")) for p in (small, full)}
    assert stored[small] == compact(model.state_dict()).parameter_count + 684  # and the kept pixels' indices
    assert "Input 'images': float32 [N, 1, 28, 28]" in onnx.load(str(small)).doc_string


def test_onnx_export_without_its_extra_says_how_to_install_it(run, sparse_file, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "l1_trainer.core.files.onnx_export", raising=False)
    # From the module's dict: delattr's hasattr() would run lazy's __getattr__, the import itself.
    monkeypatch.delitem(vars(lazy), "export_model", raising=False)
    code, out, err = run("export", sparse_file, "--onnx", tmp_path / "m.onnx")
    assert code == 1 and not (tmp_path / "m.onnx").exists()
    assert err == ("l1-trainer: error: ONNX export needs onnxruntime, which is not installed: "
                   "pip install 'l1-trainer[export]'\n")


def test_export_needs_something_to_write(run, sparse_file):
    code, out, err = run("export", sparse_file)
    assert code == 2 and "give --onnx PATH, --script PATH or both" in err


def test_the_exported_script_retrains_the_run_with_its_live_change(run, mnist, tmp_path):
    """A short run with a live L1 change at step 200; the script's last loss line is within
    0.1% of the app's, and the script never imports l1_trainer."""
    config = PRESETS["balanced"].replace(epochs=1, train_subset=32_000, device="cpu")
    control = Control(1)
    control.advance(199)
    trainer = Trainer(config, mnist, control=control)
    record = RunRecord(1, config, (config.l1_weight,))
    for event in trainer.run():
        record.apply(event)
        if isinstance(event, Paused):
            control.set_l1_weight(3e-3)
            control.resume()
    assert record.live_changes() == [(200, 3e-3, 0.0, config.lr)]
    model_path, script = tmp_path / "run.safetensors", tmp_path / "train_run.py"
    save_model(model_path, model_from_state(trainer.latest_weights().state), config,
               {"schedule": record.schedule(), "changes": [list(c) for c in record.live_changes()]})
    code, out, err = run("export", model_path, "--script", script)
    assert code == 0, err
    text = script.read_text()
    assert "l1_trainer" not in text and "(200, 0.003, 0.0, 0.001)," in text and "L1_WEIGHT = 0.0001" in text
    result = subprocess.run([sys.executable, str(script), "--data-dir", str(REPO / "resources" / "mnist")],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    printed = re.findall(r"^Loss after mini-batch +500: ([\d.]+) \(of which ([\d.]+) L1 loss\)$", result.stdout, re.M)
    _, ce, l1, l2 = record.curves()
    assert len(printed) == 1
    assert float(printed[0][0]) == pytest.approx(ce[-1, 0] + l1[-1, 0] + l2[-1, 0], rel=1e-3)
    assert float(printed[0][1]) == pytest.approx(l1[-1, 0], rel=1e-3)
    assert result.stdout.rstrip().endswith("Training process has finished.")


@pytest.fixture()
def window(qtbot, tmp_path, mnist, monkeypatch):
    monkeypatch.setenv("L1_TRAINER_DATA", str(tmp_path / "history"))
    return make_window(qtbot, tmp_path / "settings.ini", mnist)


def test_the_window_exports_the_current_model_as_onnx_and_its_run_as_a_script(qtbot, window, sparse_file,
                                                                               tmp_path, mnist):
    assert not window.onnx_action.isEnabled()  # no model yet
    assert window.controller.open_model(sparse_file)
    evaluated(qtbot, window)
    assert window.onnx_action.isEnabled() and window.script_action.isEnabled()
    path = tmp_path / "from the window.onnx"
    window.controller.export_onnx(path)
    qtbot.waitUntil(lambda: window.message.text().startswith("Exported"), timeout=30_000)
    assert "684-63-32-10 (compacted from 784-64-32-10)" in window.message.text()
    model, _, _ = load_model(sparse_file)
    expected = probabilities(model, mnist.test_x).numpy()
    assert np.abs(_onnx_probabilities(path, mnist.test_x) - expected).max() <= 1e-5
    script = tmp_path / "train_current.py"
    assert window.controller.export_script(script)
    assert "L1_WEIGHT = 0.0001" in script.read_text() and "sparse.safetensors" in script.read_text()


def test_a_kept_run_exports_as_a_script_with_its_live_changes(qtbot, window, tmp_path):
    from test_gui import run_to_end

    window.session.settings.set("train_images", 640)
    window.session.settings.set("epochs", 1)
    record = run_to_end(qtbot, window)
    qtbot.waitUntil(lambda: record.stored_ids != [], timeout=30_000)
    script = tmp_path / "kept.py"
    assert window.controller.history.export_script(record.stored_ids[0], script)
    text = script.read_text()
    assert f"run #{record.stored_ids[0]}" in text and "TRAIN_IMAGES = 640" in text and "EPOCHS = 1" in text
    compile(text, str(script), "exec")


def test_the_standalone_app_says_it_leaves_onnx_out(run, sparse_file, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.delitem(sys.modules, "l1_trainer.core.files.onnx_export", raising=False)
    monkeypatch.delitem(vars(lazy), "export_model", raising=False)  # not found earlier in this process
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # as in the PyInstaller bundle
    code, out, err = run("export", sparse_file, "--onnx", tmp_path / "m.onnx")
    assert code == 1 and len(err.splitlines()) == 1
    assert "this standalone copy of L1 Trainer leaves out" in err and "l1-trainer[export]" in err
