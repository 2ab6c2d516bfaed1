"""A sweep is the engine with K models: each trains as its own run would."""

import threading

import numpy as np
import pytest
import torch

from l1_trainer.core.training.config import PRESETS, parse_weights, sweep_grid
from l1_trainer.core.training.engine import Trainer
from l1_trainer.core.training.events import Diverged, EpochMetrics, Paused, Resumed, RunStatus, Steps
from l1_trainer.core.training.inference import model_from_state

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
    assert parse_weights("0, 1e-5,1e-4") == [0.0, 1e-5, 1e-4]
    with pytest.raises(ValueError, match="L1 weights must be numbers separated by commas"):
        parse_weights("0,abc")
    for bad in ("1e-4,nan", "1e-4,-1"):
        with pytest.raises(ValueError, match="l2_weight"):
            parse_weights(bad, "l2_weight")
    with pytest.raises(ValueError, match="give at least one L1 weight"):
        parse_weights(" , ")
    assert sweep_grid([0.0, 1e-4], [0.0, 1e-3]) == ([0.0, 0.0, 1e-4, 1e-4], [0.0, 1e-3, 0.0, 1e-3])
    with pytest.raises(ValueError, match="1 to 64 models at once, got 65 .65 L1 x 1 L2"):
        sweep_grid([1e-4] * 65, [0.0])
    with pytest.raises(ValueError, match="l1_weight"):
        Trainer(PRESETS["balanced"].replace(device="cpu"), mnist, l1_weights=[1e-4, -1.0])


def test_a_sweep_can_vary_l2_and_l1_together(mnist):
    """An L1 x L2 grid: L1 makes weights exactly small, L2 only makes them small."""
    config = PRESETS["balanced"].replace(epochs=1, train_subset=3200, device="cpu")
    l1, l2 = sweep_grid([0.0, 1e-3], [0.0, 1e-2])
    trainer = Trainer(config, mnist, l1_weights=l1, l2_weights=l2)
    events = _run(trainer)
    steps = [e for e in events if isinstance(e, Steps)]
    assert (steps[0].l2[:, [0, 2]] == 0).all() and (steps[0].l2[:, [1, 3]] > 0).all()
    assert (steps[0].l1[:, [0, 1]] == 0).all() and (steps[0].l1[:, [2, 3]] > 0).all()
    sparsity = [s.fraction for s in events[-1].sparsity]
    assert sparsity[2] > sparsity[1] + 0.2  # L1 alone beats L2 alone at sparsity
    single = Trainer(config.replace(l1_weight=0.0, l2_weight=1e-2), mnist)
    assert _run(single)[-1].sparsity[0].fraction == pytest.approx(sparsity[1], abs=0.01)


def test_a_penalty_that_overflows_is_a_divergence_even_with_finite_loss_and_weights(mnist):
    """Two finite weights of 3e38 make sum(|w|) overflow float32; on pixel 0, never inked in
    MNIST, they leave the cross-entropy finite: only the penalty tells."""
    config = PRESETS["balanced"].replace(epochs=1, train_subset=640, device="cpu")
    trainer = Trainer(config, mnist, l1_weights=[1e-4, 1e-4])
    assert not mnist.train_images[:, 0].any()
    with torch.no_grad():
        trainer.stack.blocks["layers.1.weight"][1, :2, 0] = 3e38
    events = _run(trainer)
    steps = next(e for e in events if isinstance(e, Steps))
    assert np.isfinite(steps.ce[0, 1]) and not np.isfinite(steps.l1[0, 1])
    assert [(e.model, e.step) for e in events if isinstance(e, Diverged)] == [(1, 1)]
