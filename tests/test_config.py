import math

import pytest

from l1_trainer.core.training.config import PRESETS, TrainConfig


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lr", -1e-3),
        ("lr", 0.0),
        ("lr", math.nan),
        ("lr", math.inf),
        ("epochs", 0),
        ("epochs", 2.5),
        ("batch_size", 0),
        ("batch_size", 60_001),
        ("l1_weight", -1e-5),
        ("l1_weight", math.nan),
        ("l1_threshold", -1.0),
        ("momentum", 1.5),
        ("device", "tpu"),
        ("device", "cuda:x"),
        ("optimizer", "adam"),
        ("l1_method", "lasso"),
        ("train_subset", 0),
        ("train_subset", 70_000),
        ("log_every", 0),
        ("notebook_exact", 1),
        ("hidden_sizes", ()),
        ("hidden_sizes", (64, 0)),
        ("hidden_sizes", (30_000, 30_000)),  # a crafted model file's claim: 4 GB to build
        ("hidden_sizes", (8,) * 5),
        ("lr", 1e39),  # beyond float32: the first step would crash
        ("l1_weight", 1e7),
        ("weight_decay", 1e30),
        ("epochs", 10**9),
        ("device", "cuda:99999999999999"),
        ("device", "cuda:128"),  # PyTorch would wrap it to -128
        ("device", "cuda:999"),
    ],
)
def test_invalid_value_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_batch_size_is_bounded_by_the_training_subset():
    TrainConfig(train_subset=500, batch_size=500)
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, 500\]"):
        TrainConfig(train_subset=500, batch_size=501)


def test_message_states_the_allowed_range():
    with pytest.raises(ValueError, match=r"lr must be a finite number in \(0, 1e\+06\], got -1"):
        TrainConfig(lr=-1)
    TrainConfig(lr=1e6, l1_weight=1e6)  # the bounds themselves are allowed


def test_seed_preset_is_the_notebooks_settings():
    seed = PRESETS["seed"]
    assert (seed.seed, seed.batch_size, seed.lr, seed.l1_weight, seed.epochs) == (42, 64, 1e-4, 1.0, 5)
    assert (seed.optimizer, seed.weight_decay, seed.penalize_biases) == ("adamw", 0.01, True)
    assert seed.hidden_sizes == (64, 32)
    # Only the Seed preset pays for the notebook's own AdamW arithmetic.
    assert [key for key, preset in PRESETS.items() if preset.notebook_exact] == ["seed"]


def test_replace_validates_and_counts_steps():
    config = TrainConfig(train_subset=1000, batch_size=64)
    assert config.steps_per_epoch == 16  # 15 full batches and one of 40
    with pytest.raises(ValueError, match="epochs"):
        config.replace(epochs=0)


def test_negative_zero_weights_are_zero():
    from l1_trainer.core.training.config import TrainConfig, parse_weights

    config = TrainConfig(l1_weight=-0.0, l2_weight=-0.0, weight_decay=-0.0)
    assert all(str(v) == "0.0" for v in (config.l1_weight, config.l2_weight, config.weight_decay))
    assert [str(w) for w in parse_weights("-0, 1e-4")] == ["0.0", "0.0001"]
    with pytest.raises(ValueError, match="l1_weight must be"):
        TrainConfig(l1_weight=False)


@pytest.mark.parametrize(("batch", "models", "cores", "threads"), [
    (64, 1, 2, 1), (64, 1, 64, 1), (1024, 1, 16, 1), (1024, 8, 2, 1), (1024, 8, 16, 8), (8192, 1, 3, 1),
    (8192, 1, 4, 2),
])
def test_default_threads_leave_the_machine_room(batch, models, cores, threads):
    from l1_trainer.core.training.threads import default_threads

    assert default_threads(batch, models, cores) == threads
