"""A sweep is the engine with K models: each trains as its own run would."""

import threading

import numpy as np
import pytest
import torch

from l1_trainer.core.config import PRESETS, parse_l1_weights
from l1_trainer.core.engine import Trainer
from l1_trainer.core.events import Diverged, EpochMetrics, Paused, Resumed, RunStatus, Steps
from l1_trainer.core.inference import model_from_state

WEIGHTS = [0.0, 1e-4, 1e-3]


def _run(trainer):
    return list(trainer.run())


@pytest.mark.parametrize("method", ["penalty", "proximal"])
def test_each_swept_model_matches_its_single_run(mnist, method):
    weights = WEIGHTS if method == "penalty" else [0.0, 0.03, 0.3]
    config = PRESETS["balanced"].replace(epochs=2, train_subset=3200, device="cpu", l1_method=method)
    sweep = Trainer(config, mnist, l1_weights=weights)
    ended = _run(sweep)[-1]
    assert ended.status is RunStatus.FINISHED and ended.diverged == (False,) * 3
    for m, weight in enumerate(weights):
        single = Trainer(config.replace(l1_weight=weight), mnist)
        single_end = _run(single)[-1]
        assert ended.test_accuracy[m] == pytest.approx(single_end.test_accuracy[0], abs=0.005), weight
        assert ended.sparsity[m].fraction == pytest.approx(single_end.sparsity[0].fraction, abs=0.01)
        for name, tensor in single.latest_weights().state.items():
            assert torch.allclose(sweep.latest_weights(m).state[name], tensor, atol=5e-3), name


def test_a_sweep_reports_every_step_of_every_model_and_can_pause(mnist):
    config = PRESETS["balanced"].replace(epochs=1, train_subset=640, device="cpu", log_every=5)
    trainer = Trainer(config, mnist, l1_weights=WEIGHTS)
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, Steps) and event.step[-1] == 5:
            trainer.pause()
            threading.Timer(0.2, trainer.resume).start()
    steps = [e for e in events if isinstance(e, Steps)]
    assert [len(e) for e in steps] == [5, 5] and steps[0].ce.shape == (5, 3)
    assert [type(e) for e in events if isinstance(e, (Paused, Resumed))] == [Paused, Resumed]
    assert np.isfinite(steps[-1].ce).all() and (steps[-1].l1[:, 0] == 0).all()


def test_models_differ_only_by_their_l1_weight(mnist):
    config = PRESETS["balanced"].replace(epochs=1, train_subset=3200, device="cpu")
    ended = _run(Trainer(config, mnist, l1_weights=WEIGHTS))[-1]
    fractions = [s.fraction for s in ended.sparsity]
    assert fractions == sorted(fractions) and fractions[-1] > fractions[0] + 0.2


def test_a_swept_model_opens_as_a_normal_model(mnist):
    config = PRESETS["balanced"].replace(epochs=1, train_subset=3200, device="cpu")
    trainer = Trainer(config, mnist, l1_weights=WEIGHTS)
    ended = _run(trainer)[-1]
    model = model_from_state(trainer.latest_weights(1).state)
    correct = (model(mnist.test_x).argmax(1) == mnist.test_y).float().mean().item()
    assert correct == pytest.approx(ended.test_accuracy[1], abs=1e-6)


def test_a_diverged_model_is_marked_and_kept_finite_while_the_others_train_on(mnist):
    config = PRESETS["balanced"].replace(epochs=1, train_subset=3200, device="cpu")
    trainer = Trainer(config, mnist, l1_weights=WEIGHTS)
    with torch.no_grad():
        trainer.stack.blocks["layers.3.weight"][1, 0, 0] = float("nan")  # model 1 breaks at once
    events = _run(trainer)
    assert [(e.model, e.step) for e in events if isinstance(e, Diverged)] == [(1, 1)]
    ended = events[-1]
    assert ended.status is RunStatus.FINISHED and ended.diverged == (False, True, False)
    epoch = next(e for e in events if isinstance(e, EpochMetrics))
    assert np.isnan(epoch.test_accuracy[1]) and epoch.test_accuracy[0] > 0.5
    assert ended.test_accuracy[0] > 0.5 and ended.test_accuracy[2] > 0.5
    kept = trainer.latest_weights(1).state  # its last finite weights: the start's, here
    assert all(torch.isfinite(t).all() for t in kept.values())


def test_weights_are_parsed_validated_and_capped(mnist):
    assert parse_l1_weights("0, 1e-5,1e-4") == [0.0, 1e-5, 1e-4]
    with pytest.raises(ValueError, match="numbers separated by commas"):
        parse_l1_weights("0,abc")
    for bad in ("1e-4,nan", "1e-4,-1"):
        with pytest.raises(ValueError, match="l1_weight"):
            parse_l1_weights(bad)
    with pytest.raises(ValueError, match="1 to 64 L1 weights at once, got 65; split"):
        parse_l1_weights(",".join(["1e-4"] * 65))
    with pytest.raises(ValueError, match="got 0"):
        parse_l1_weights(" , ")
    with pytest.raises(ValueError, match="l1_weight"):
        Trainer(PRESETS["balanced"].replace(device="cpu"), mnist, l1_weights=[1e-4, -1.0])
