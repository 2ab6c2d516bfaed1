import json
import os

import pytest
import torch
from safetensors.torch import save, save_file

from l1_trainer.core.files.modelfile import MAX_FILE_BYTES, ModelFileError, load_model, save_model
from l1_trainer.core.training.config import TrainConfig
from l1_trainer.core.training.model import build_model


@pytest.fixture()
def saved(tmp_path):
    model = build_model((64, 32), torch.Generator().manual_seed(3))
    config = TrainConfig(l1_weight=1e-3, epochs=3)
    path = tmp_path / "m.safetensors"
    save_model(path, model, config, {"test_accuracy": 0.9})
    return path, model, config


def rewrite(path, change_header=None, state=None, metadata=None):
    """Write `path` again with its header (or tensors, or metadata) changed, as an attacker would."""
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header, data = json.loads(raw[8 : 8 + size]), raw[8 + size :]
    if state is not None:
        raw = save(state, metadata=metadata or header["__metadata__"])
        size = int.from_bytes(raw[:8], "little")
        header, data = json.loads(raw[8 : 8 + size]), raw[8 + size :]
    if change_header is not None:
        change_header(header)
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)


def model_state(path):
    model, _, _ = load_model(path)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_round_trip_keeps_weights_config_and_summary(saved):
    path, model, config = saved
    loaded, loaded_config, summary = load_model(path)
    assert loaded_config == config and summary == {"test_accuracy": 0.9}
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    assert not list(path.parent.glob(".*tmp")), "no temporary file is left behind"


def test_truncated_file_is_rejected(saved):
    path = saved[0]
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ModelFileError, match="is damaged: layers.1.weight's data lies outside"):
        load_model(path)


def test_foreign_safetensors_file_is_rejected(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"embedding": torch.zeros(3, 4)}, str(path))
    with pytest.raises(ModelFileError, match="not an L1 Trainer model"):
        load_model(path)


def test_pickle_file_is_rejected_without_running_it(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ModelFileError, match="not a safetensors model file"):
        load_model(path)


def test_mismatched_architecture_is_rejected(tmp_path):
    model = build_model((16,), torch.Generator().manual_seed(0))
    path = tmp_path / "m.safetensors"
    save_model(path, model, TrainConfig(), {})  # metadata claims (64, 32)
    with pytest.raises(ModelFileError, match=r"does not match its declared architecture \(64, 32\)"):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read"):
        load_model(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused_on_load_and_save(saved, bad):
    path, model, config = saved
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["layers.3.weight"][5, 7] = bad
    rewrite(path, state=state)
    with pytest.raises(ModelFileError, match="not finite numbers.*layers.3.weight.*diverged"):
        load_model(path)
    model.load_state_dict(state)
    with pytest.raises(ModelFileError, match="layers.3.weight are not finite"):
        save_model(path, model, config, {})


@pytest.mark.parametrize("sizes", [[30_000, 30_000], [200_000, 200_000], [64] * 6, [64, -1]])
def test_declared_architecture_out_of_bounds_is_refused_before_allocating(saved, sizes):
    path, _, config = saved

    def claim(header):
        header["__metadata__"]["config"] = json.dumps({**config.to_dict(), "hidden_sizes": sizes})

    rewrite(path, claim)
    with pytest.raises(ModelFileError, match="unreadable metadata.*hidden_sizes must be 1 to 4 integers"):
        load_model(path)


@pytest.mark.parametrize("dtype", ["I8", "BOOL", "U8", "I64"])
def test_non_float_tensors_are_refused_not_cast(tmp_path, saved, dtype):
    path, model, _ = saved
    torch_dtype = {"I8": torch.int8, "BOOL": torch.bool, "U8": torch.uint8, "I64": torch.int64}[dtype]
    state = {k: v.to(torch_dtype) for k, v in model.state_dict().items()}
    rewrite(path, state=state)
    with pytest.raises(ModelFileError, match=f"stored as '{dtype}'; only floating-point"):
        load_model(path)


def test_half_precision_file_loads_as_float32(saved):
    path, model, _ = saved
    rewrite(path, state={k: v.half() for k, v in model.state_dict().items()})
    loaded = model_state(path)
    assert all(t.dtype == torch.float32 for t in loaded.values())
    assert torch.allclose(loaded["layers.1.weight"], model.state_dict()["layers.1.weight"], atol=1e-3)


@pytest.mark.parametrize(("change", "message"), [
    (lambda h: h["layers.5.bias"].update(shape=[11]), r"layers.5.bias is \[11\], expected \[10\]"),
    (lambda h: h["layers.5.bias"].update(data_offsets=[0, 40]), "is damaged"),  # overlaps another
    (lambda h: h["layers.5.bias"].update(data_offsets=[0, 10**12]), "layers.5.bias's data lies outside"),
    (lambda h: h["layers.5.bias"].update(data_offsets="x"), "layers.5.bias's data lies outside"),
    (lambda h: h.pop("layers.5.bias"), "missing layers.5.bias"),
    (lambda h: h.update(extra={"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}), "unexpected extra"),
    (lambda h: h.update({"layers.1.weight": "F32"}), "stored as None"),
    (lambda h: h["__metadata__"].update(config="[1, 2]"), "unreadable metadata"),
    (lambda h: h["__metadata__"].update(config='{"lr": "fast"}'), "unreadable metadata"),
    (lambda h: h["__metadata__"].update(summary="[]"), "unreadable metadata"),
    (lambda h: h["__metadata__"].update(config="[" * 20_000 + "]" * 20_000), "unreadable metadata"),
    (lambda h: h.update(__metadata__="x"), "not an L1 Trainer model"),
    (lambda h: h["layers.1.weight"].update(dtype=["F32"]), r"stored as \['F32'\]"),
    (lambda h: h["layers.1.weight"].update(dtype={"F32": 1}), "only floating-point"),
    *[(lambda h, f=field, v=value: h["__metadata__"].update(summary=json.dumps({f: v}) if v != "raw" else
                                                           '{"step": 1e400, "epoch": NaN}'),
       f"unreadable metadata .*summary's {field} is") for field, value in [
        ("step", "y"), ("step", [1]), ("step", -1), ("step", 1.5), ("step", True), ("step", "raw"),
        ("epoch", "abc"), ("epoch", float("nan")), ("epoch", 1e9),
        ("test_accuracy", 2.0), ("sparsity", "most"), ("schedule", {"L1": 1}), ("status", 3),
        ("epoch", 10**400), ("test_accuracy", 10**400)]],
    (lambda h: h["__metadata__"].update(config='{"lr": 1' + "0" * 400 + ', "hidden_sizes": [64, 32]}'),
     "unreadable metadata .*lr must be a finite number"),
])
def test_crafted_headers_get_one_clear_message(saved, change, message):
    path = saved[0]
    rewrite(path, change)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_a_model_with_thousands_of_live_changes_saves_and_opens_again(tmp_path, mnist):
    from l1_trainer.core.app.records import RunRecord
    from l1_trainer.core.training.engine import Trainer
    from l1_trainer.core.training.events import HyperparamsChanged
    from l1_trainer.core.training.inference import model_from_state

    config = TrainConfig(epochs=1, train_subset=640, device="cpu")
    trainer = Trainer(config, mnist)
    record = RunRecord(1, config, (config.l1_weight,))
    for event in trainer.run():
        record.apply(event)
    record.changes.extend(HyperparamsChanged(s, (1e-4 * (s % 7),), (1e-5 * (s % 5),), 1e-3 * (1 + s % 3))
                          for s in range(1, 5001))
    path = tmp_path / "many.safetensors"
    save_model(path, model_from_state(trainer.latest_weights().state), config, {"schedule": record.schedule()})
    assert "more changes" in load_model(path)[2]["schedule"]  # said in the file


def test_deeply_nested_header_is_damaged_not_a_recursion_error(tmp_path):
    path = tmp_path / "nested.safetensors"
    text = b"[" * 50_000 + b"]" * 50_000
    path.write_bytes(len(text).to_bytes(8, "little") + text)
    with pytest.raises(ModelFileError, match="not a safetensors model file or is damaged"):
        load_model(path)


def test_header_length_beyond_the_file_is_refused(saved):
    path = saved[0]
    raw = path.read_bytes()
    path.write_bytes((2**62).to_bytes(8, "little") + raw[8:])
    with pytest.raises(ModelFileError, match="no valid header"):
        load_model(path)


def test_devices_and_huge_files_are_refused_before_reading(tmp_path):
    with pytest.raises(ModelFileError, match="/dev/zero is not a regular file"):
        load_model("/dev/zero")
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)  # opening it would block for ever
    with pytest.raises(ModelFileError, match="is not a regular file"):
        load_model(fifo)
    huge = tmp_path / "huge.safetensors"
    with huge.open("wb") as fh:
        fh.truncate(2 * 2**30)  # sparse: 2 GB long, no disk used
    with pytest.raises(ModelFileError, match=f"larger than any L1 Trainer model \\({MAX_FILE_BYTES:,} at most\\)"):
        load_model(huge)
    assert MAX_FILE_BYTES < 64 * 2**20


def test_failed_write_keeps_the_old_file(saved, monkeypatch):
    path, model, config = saved
    before = path.read_bytes()
    monkeypatch.setattr("os.replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(OSError):
        save_model(path, build_model((64, 32), torch.Generator()), config, {})
    assert path.read_bytes() == before
    assert not list(path.parent.glob(".*tmp"))


def test_float64_weights_too_large_for_float32_are_refused(saved):
    path, model, _ = saved
    state = {k: v.double() for k, v in model.state_dict().items()}
    state["layers.1.weight"][0, 0] = 1e300  # finite in float64, inf in float32
    rewrite(path, state=state)
    with pytest.raises(ModelFileError, match="layers.1.weight, or too large for float32"):
        load_model(path)
