"""Augmentation: what it does to the digits, that it leaves the notebook's batches alone when
off, that it trains, and the typeface digits the benchmark measures it on."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from l1_trainer.cli.commands import build_parser, config_from_args
from l1_trainer.core.app.records import RunRecord
from l1_trainer.core.training import augment
from l1_trainer.core.training.augment import Augmenter
from l1_trainer.core.training.batches import Batches, shuffled_indices
from l1_trainer.core.training.dataset import unit_float
from l1_trainer.core.training.engine import Trainer
from l1_trainer.core.training.events import EpochMetrics

from font_digits import build, font_files


def test_the_sampling_grid_is_affine_grids():
    theta = torch.randn(5, 2, 3)
    ours = (theta.view(5, 6) @ augment._grid_basis(torch.device("cpu"))).view(5, 28, 28, 2)
    assert torch.allclose(ours, F.affine_grid(theta, (5, 1, 28, 28), align_corners=False), atol=1e-6)


def augmented(images, monkeypatch, **shares):
    for name, value in shares.items():
        monkeypatch.setattr(augment, name, value)
    x = images.clone()
    Augmenter(len(x), torch.device("cpu"), seed=0)(x)
    assert x.shape == images.shape and x.min() >= 0 and x.max() <= 1
    return x


def test_strokes_grow_in_one_share_and_shrink_in_another(mnist, monkeypatch):
    original = unit_float(mnist.train_images[:1000])
    x = augmented(original, monkeypatch, WARPED=0.0, THICKER=0.3, THINNER=0.2)
    ink = x.sum(1) - original.sum(1)
    assert (ink[:300] >= 0).all() and ink[:300].mean() > 10
    assert (ink[300:500] <= 0).all() and ink[300:500].mean() < -10
    assert torch.equal(x[500:], original[500:])  # the rest stay as MNIST wrote them


def test_warps_move_ink_without_losing_it(mnist, monkeypatch):
    original = unit_float(mnist.train_images[:1000])
    x = augmented(original, monkeypatch, WARPED=0.6, THICKER=0.0, THINNER=0.0)
    kept = x[:600].sum(1) / original[:600].sum(1)
    assert 0.8 < kept.median() < 1.2  # a digit, not a blur or a blank
    assert (x[:600] != original[:600]).any(1).all()
    assert torch.equal(x[600:], original[600:])


def test_augmentation_repeats_with_its_seed_and_differs_without():
    x = torch.rand(64, 784)
    a, b, c = x.clone(), x.clone(), x.clone()
    Augmenter(64, torch.device("cpu"), 1)(a)
    Augmenter(64, torch.device("cpu"), 1)(b)
    Augmenter(64, torch.device("cpu"), 2)(c)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("batch_size", [64, 100])
def test_batches_keep_the_notebooks_shuffle_with_augmentation_on_or_off(mnist, small_config, batch_size):
    config = small_config.replace(train_subset=1000, batch_size=batch_size)
    seen = {}
    for on in (False, True):
        batches = Batches(mnist, config.replace(augment=on), torch.Generator().manual_seed(7))
        batches.start_epoch()
        parts = [[t.clone() for t in batches.batch(b)] for b in range(config.steps_per_epoch)]
        seen[on] = (torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts]))
    perm = shuffled_indices(torch.Generator().manual_seed(7), 1000)
    assert torch.equal(seen[False][0], unit_float(mnist.train_images[perm]))
    assert torch.equal(seen[False][1], mnist.train_y[perm])
    assert torch.equal(seen[True][1], mnist.train_y[perm])  # same digits in the same order
    assert not torch.equal(seen[True][0], seen[False][0])


def test_training_with_augmentation_learns_and_says_so(mnist, small_config):
    config = small_config.replace(train_subset=4096, epochs=1, augment=True, lr=1e-3)
    metrics = [e for e in Trainer(config, mnist).run() if isinstance(e, EpochMetrics)]
    assert metrics[-1].test_accuracy[0] > 0.5
    args = build_parser().parse_args(["train", "--preset", "balanced", "--augment"])
    assert config_from_args(args).augment is True
    assert config_from_args(build_parser().parse_args(["train", "--preset", "seed"])).augment is False
    with pytest.raises(ValueError, match="augment must be true or false"):
        config.replace(augment="yes")


def test_typeface_digits_go_through_the_draw_panels_preprocessing():
    fonts = font_files()[:3]
    if not fonts:
        pytest.skip("no fonts installed (fontconfig's fc-list found none)")
    x, y, used = build(fonts)
    assert used and x.shape == (len(y), 784) and x.min() >= 0 and x.max() == 1
    assert sorted(set(y.tolist())) == list(range(10))
    # Centred by mass in the 28 x 28 field, as MNIST's digits and the canvas's are.
    images = x.view(-1, 28, 28)
    rows = (images.sum(2) * torch.arange(28)).sum(1) / images.sum((1, 2))
    assert (rows - 14).abs().max() < 1.5


def test_an_augmented_run_says_so_in_what_it_was_trained_with(small_config):
    plain = RunRecord(1, small_config, (small_config.l1_weight,))
    augmented = RunRecord(2, small_config.replace(augment=True), (small_config.l1_weight,))
    assert augmented.schedule() == plain.schedule() + ", augmented"
    assert augmented.summary()["schedule"].endswith(", augmented")
