"""The settings model: every setting once, an event per field, presets and custom, restored values."""

import dataclasses

import pytest

from l1_trainer.core.app.session import AppState, Session, enabled
from l1_trainer.core.app.settings import CUSTOM, FIELDS, Settings, Values
from l1_trainer.core.training.config import PRESETS
from l1_trainer.core.training.events import HyperparamsChanged


def recorder(settings):
    seen = []
    for name in FIELDS:
        settings.events[name].connect(lambda value, n=name: seen.append((n, value)))
    return seen


def test_a_setting_changed_by_the_user_emits_once_and_makes_the_preset_custom():
    settings = Settings()
    seen = recorder(settings)
    settings.set("lr", 3e-3)
    assert seen == [("lr", 3e-3), ("preset", CUSTOM)]
    settings.set("lr", 3e-3)  # the same value: nothing to say
    assert len(seen) == 2
    settings.set("threshold", 1e-2)  # how the models are shown, not what trains: no preset change
    assert seen[-1] == ("threshold", 1e-2) and settings["preset"] == CUSTOM


def test_a_preset_sets_every_field_it_holds_and_keeps_the_device():
    settings = Settings()
    settings.set("device", "cpu")
    settings.choose_preset("l1-vs-l2")
    config = settings.config()
    assert settings["compare"] and settings["device"] == "cpu" and settings["preset"] == "l1-vs-l2"
    expected = PRESETS["l1-vs-l2"].replace(device="cpu")
    assert config == expected
    settings.choose_preset("seed")
    assert not settings["compare"] and settings.config() == PRESETS["seed"].replace(device="cpu")


@pytest.mark.parametrize(("name", "value", "message"), [
    ("lr", 0.0, "lr must be"), ("epochs", 0, "epochs must be"), ("l1_method", "magic", "l1_method must be"),
    ("train_images", 70_000, "train_subset must be"), ("compare", "yes", "compare must be bool"),
    ("preset", "fast", "there is no preset"), ("colour", 1, "there is no setting"),
])
def test_a_value_a_run_cannot_take_is_refused_and_nothing_changes(name, value, message):
    settings = Settings()
    before = settings.values
    with pytest.raises(ValueError, match=message):
        settings.set(name, value)
    assert settings.values == before


def test_restored_values_take_their_fields_types_and_bad_ones_keep_the_default():
    settings = Settings()
    stored = {"lr": "0.003", "epochs": "7", "augment": "true", "compare": "false", "threshold": "nan",
              "seed": "x", "preset": "sparse", "device": "cuda:0"}
    settings.restore(stored)
    v = settings.values
    assert (v.lr, v.epochs, v.augment, v.compare, v.seed) == (0.003, 7, True, False, Values().seed)
    assert v.threshold == Values().threshold and v.preset == "sparse" and v.device == "cuda:0"


def test_the_batch_and_the_images_are_checked_together():
    settings = Settings()
    settings.set("batch_size", 128)
    settings.set("train_images", 100)
    with pytest.raises(ValueError, match="Batch size 128 is larger than the 100 training images"):
        settings.config()


def test_one_threshold_for_the_session_and_the_next_run():
    session = Session()
    session.settings.set("threshold", 0.05)
    assert session.threshold == 0.05 and session.settings.config().l1_threshold == 0.05


def test_the_l2_weight_has_its_own_live_rule_and_a_live_change_only_renames():
    several = enabled(AppState.RUNNING, has_model=True, has_history=True, several=True)
    one = enabled(AppState.RUNNING, has_model=True, has_history=True, several=False)
    assert (several.live_l1, several.live_l2, several.live_lr) == (False, False, True)
    assert one.live_l2 and not one.settings  # the threshold and the rest are locked in a run
    session = Session()
    session.set_state(AppState.IDLE)
    runs, names = [], []
    session.events.runs.connect(lambda: runs.append(1))
    session.events.names.connect(lambda: names.append(1))
    session.begin(PRESETS["balanced"])
    session.apply(HyperparamsChanged(5, (1e-3,), (0.0,), 1e-3))
    assert runs == [1] and names == [1]


def test_every_field_of_values_is_a_setting():
    assert FIELDS == tuple(f.name for f in dataclasses.fields(Values))
