import json

import pytest
import torch
from safetensors.torch import save_file

from l1_trainer.core.config import TrainConfig
from l1_trainer.core.model import build_model
from l1_trainer.core.modelfile import ModelFileError, load_model, save_model


@pytest.fixture()
def saved(tmp_path):
    model = build_model((64, 32), torch.Generator().manual_seed(3))
    config = TrainConfig(l1_weight=1e-3, epochs=3)
    path = tmp_path / "m.safetensors"
    save_model(path, model, config, {"test_accuracy": 0.9})
    return path, model, config


def test_round_trip_keeps_weights_config_and_summary(saved):
    path, model, config = saved
    loaded, loaded_config, summary = load_model(path)
    assert loaded_config == config and summary == {"test_accuracy": 0.9}
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    assert not list(path.parent.glob("*.tmp")), "no temporary file is left behind"


def test_truncated_file_is_rejected(saved):
    path = saved[0]
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ModelFileError, match="not a safetensors model file or is damaged"):
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


def test_failed_write_keeps_the_old_file(saved, monkeypatch):
    path, model, config = saved
    before = path.read_bytes()
    monkeypatch.setattr("os.replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(OSError):
        save_model(path, build_model((64, 32), torch.Generator()), config, {})
    assert path.read_bytes() == before
    assert not list(path.parent.glob("*.tmp"))
    assert json.loads(json.dumps(config.to_dict()))["epochs"] == 3
