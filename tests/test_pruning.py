import pytest
import torch

from l1_trainer.core.training.inference import evaluate, model_from_state
from l1_trainer.core.training.pruning import FRACTIONS, prune, pruning_curve
from l1_trainer.core.training.weights import weight_matrices


@pytest.fixture(scope="module")
def trained(balanced):
    """The shared Balanced model, as a CPU module."""
    return model_from_state(balanced[1])


def matrices(model):
    return list(weight_matrices(dict(model.named_parameters())).values())


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 0.9, 0.99])
def test_share_removed_matches_the_cut(trained, fraction):
    pruned = prune(trained, fraction)
    total = sum(w.numel() for w in matrices(pruned))
    zeros = sum(int((w == 0).sum()) for w in matrices(pruned))
    assert zeros == round(fraction * total)  # no ties: a penalty-trained net has no exact zeros
    kept = torch.cat([w.abs().flatten() for w in matrices(pruned)])
    removed = torch.cat([(w.abs() * (p == 0)).flatten() for w, p in zip(matrices(trained), matrices(pruned))])
    if 0 < fraction:
        assert removed.max() <= kept[kept > 0].min()  # the smallest ones went first


def test_pruning_leaves_the_model_and_biases_alone(trained):
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    pruned = prune(trained, 0.5)
    for key, value in trained.state_dict().items():
        assert torch.equal(value, before[key])
    for (name, a), b in zip(pruned.named_parameters(), trained.parameters()):
        if a.dim() == 1:
            assert torch.equal(a, b), name


def test_curve_starts_at_the_models_accuracy_and_falls(mnist, trained):
    points = pruning_curve(trained, mnist.test_x, mnist.test_y)
    assert [p.target for p in points] == list(FRACTIONS)
    assert points[0].removed == 0.0
    assert points[0].accuracy == pytest.approx(evaluate(trained, mnist.test_x, mnist.test_y).accuracy)
    assert points[-1].accuracy < points[0].accuracy - 0.3
    assert all(abs(p.removed - p.target) < 1e-3 for p in points)
    # Each pruned network compacts: never more weights than its non-zero ones need, fewer as
    # more are removed.
    counts = [p.compacted.weight_count for p in points]
    assert counts[0] == 52_544 and counts == sorted(counts, reverse=True) and counts[-1] < 52_544 // 10
    assert all(p.compacted.nonzero <= round((1 - p.removed) * 52_544) for p in points)
