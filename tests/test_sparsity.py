import pytest
import torch

from l1_trainer.core.training.sparsity import dead_inputs, dead_units, sparsity


def test_sparsity_counts_per_layer_and_overall():
    weights = {
        "first": torch.tensor([[0.0, 1e-3, -1e-3], [2e-3, -0.5, 0.0]]),
        "second": torch.tensor([[1e-4, 1.0]]),
    }
    report = sparsity(weights, threshold=1e-3)
    first, second = report.layers
    assert (first.name, first.shape, first.size, first.near_zero, first.exact_zeros) == (
        "first", (2, 3), 6, 4, 2
    )
    assert (second.size, second.near_zero, second.exact_zeros) == (2, 1, 0)
    assert first.fraction == pytest.approx(4 / 6)
    assert (report.size, report.near_zero, report.exact_zeros) == (8, 5, 2)
    assert report.fraction == pytest.approx(5 / 8)


def test_threshold_zero_counts_only_exact_zeros():
    report = sparsity({"w": torch.tensor([0.0, 1e-9, -0.0])}, threshold=0.0)
    assert report.near_zero == report.exact_zeros == 2


def test_a_unit_or_pixel_is_dead_only_when_every_weight_is_near_zero():
    # Rows are units, columns input pixels.
    w = torch.tensor([[0.0, 1e-3, -1e-4],  # every weight near zero: dead
                      [0.0, 0.5, 0.0],  # one weight alive: not dead
                      [2e-3, 0.0, 0.0]])  # just over the threshold: not dead
    assert dead_units(w, threshold=1e-3) == [0]
    assert dead_inputs(w, threshold=1e-3).tolist() == [False, False, True]
