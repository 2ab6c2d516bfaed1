import pytest
import torch

from l1_trainer.core.config import PRESETS
from l1_trainer.core.engine import Trainer
from l1_trainer.core.events import EpochMetrics
from l1_trainer.core.inference import model_from_state
from l1_trainer.core.sweep import SweepTrainer, parse_weights

WEIGHTS = [0.0, 1e-4, 1e-3]


@pytest.mark.parametrize("method", ["penalty", "proximal"])
def test_each_swept_model_matches_its_single_run(mnist, method):
    weights = WEIGHTS if method == "penalty" else [0.0, 0.03, 0.3]
    config = PRESETS["balanced"].replace(epochs=2, train_subset=3200, device="cpu", l1_method=method)
    final = list(SweepTrainer(config, weights, mnist).run())[-1]
    assert [p.l1_weight for p in final.points] == weights
    for point in final.points:
        single = Trainer(config.replace(l1_weight=point.l1_weight), mnist)
        epoch = [e for e in single.run() if isinstance(e, EpochMetrics)][-1]
        assert point.test_accuracy == pytest.approx(epoch.test_accuracy, abs=0.005), point.l1_weight
        assert point.sparsity.fraction == pytest.approx(epoch.sparsity.fraction, abs=0.01)
        for name, tensor in single.model.state_dict().items():
            assert torch.allclose(point.state[name], tensor, atol=5e-3), name


def test_models_differ_only_by_their_l1_weight(mnist):
    config = PRESETS["balanced"].replace(epochs=1, train_subset=3200, device="cpu")
    points = list(SweepTrainer(config, WEIGHTS, mnist).run())[-1].points
    fractions = [p.sparsity.fraction for p in points]
    assert fractions == sorted(fractions) and fractions[-1] > fractions[0] + 0.2


def test_a_swept_point_opens_as_a_normal_model(mnist):
    config = PRESETS["balanced"].replace(epochs=1, train_subset=3200, device="cpu")
    point = list(SweepTrainer(config, WEIGHTS, mnist).run())[-1].points[1]
    model = model_from_state(point.state)
    correct = (model(mnist.test_x).argmax(1) == mnist.test_y).float().mean().item()
    assert correct == pytest.approx(point.test_accuracy, abs=1e-6)


def test_weights_are_parsed_and_validated(mnist):
    assert parse_weights("0, 1e-5,1e-4") == [0.0, 1e-5, 1e-4]
    with pytest.raises(ValueError, match="numbers separated by commas"):
        parse_weights("0,abc")
    with pytest.raises(ValueError, match="l1_weight"):
        SweepTrainer(PRESETS["balanced"].replace(device="cpu"), [1e-4, float("nan")], mnist)
    with pytest.raises(ValueError, match="l1_weight"):
        SweepTrainer(PRESETS["balanced"].replace(device="cpu"), [1e-4, -1.0], mnist)


def test_a_diverged_model_is_marked_and_the_others_are_not(mnist):
    config = PRESETS["balanced"].replace(epochs=1, train_subset=3200, device="cpu")
    trainer = SweepTrainer(config, WEIGHTS, mnist)
    with torch.no_grad():
        trainer.params[2][1, 0] = float("nan")  # model 1's second layer breaks at once
    points = list(trainer.run())[-1].points
    assert [p.status for p in points] == ["finished", "diverged", "finished"]
    assert points[1].row()[1:3] == ("diverged", "")  # no accuracy for a NaN model in the CSV
    assert points[0].test_accuracy > 0.5 and points[2].test_accuracy > 0.5


def test_sweep_size_is_capped(mnist):
    with pytest.raises(ValueError, match="1 to 64 L1 weights at once, got 65; split"):
        parse_weights(",".join(["1e-4"] * 65))
    with pytest.raises(ValueError, match="got 0"):
        parse_weights(" , ")
