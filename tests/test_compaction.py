"""Compaction: the same probabilities from a network with the idle pixels and units taken out."""

import torch

from l1_trainer.core.training.compaction import compact
from l1_trainer.core.training.config import PRESETS
from l1_trainer.core.training.engine import Trainer
from l1_trainer.core.training.inference import model_from_state, probabilities


def _state(w1, b1, w2, b2, w3, b3):
    return {"layers.1.weight": w1, "layers.1.bias": b1, "layers.3.weight": w2, "layers.3.bias": b2,
            "layers.5.weight": w3, "layers.5.bias": b3}


def test_idle_pixels_and_units_go_and_a_constant_unit_is_folded_into_the_next_biases():
    g = torch.Generator().manual_seed(0)
    w1, b1 = torch.randn(4, 6, generator=g), torch.randn(4, generator=g)
    w2, b2 = torch.randn(3, 4, generator=g), torch.randn(3, generator=g)
    w3, b3 = torch.randn(2, 3, generator=g), torch.randn(2, generator=g)
    w1[:, 5] = 0  # pixel 5: never looked at
    w1[0], b1[0] = 0, 0.7  # unit 0 of layer 1: no input, puts out ReLU(0.7) always
    w2[:, 3] = 0  # unit 3 of layer 1: no output
    w3[:, 2] = 0  # unit 2 of layer 2: no output, which leaves...
    w2[2] = 0  # ...its own inputs idle too
    w1[1, :] = 0  # unit 1 of layer 1: no input, bias negative: puts out 0
    b1[1] = -1.0
    state = _state(w1, b1, w2, b2, w3, b3)
    small = compact(state)
    assert small.sizes == (5, 1, 2, 2) and small.original == (6, 4, 3, 2)
    assert small.inputs.tolist() == [0, 1, 2, 3, 4]
    images = torch.rand(50, 6, generator=g)
    full = torch.relu(torch.relu(images @ w1.T + b1) @ w2.T + b2) @ w3.T + b3
    torch.testing.assert_close(small.logits(images), full)
    assert small.describe() == (f"6-4-3-2 -> 5-1-2-2: {small.weight_count:,} weights, "
                                f"{small.nonzero:,} of them non-zero")


def test_a_network_with_every_weight_zero_keeps_one_silent_unit_per_layer():
    zeros = _state(torch.zeros(4, 6), torch.tensor([0.5, -1.0, 2.0, 0.0]), torch.zeros(3, 4),
                   torch.tensor([0.1, 0.2, 0.3]), torch.zeros(2, 3), torch.tensor([1.0, -1.0]))
    small = compact(zeros)
    assert small.sizes == (1, 1, 1, 2) and small.nonzero == 0
    torch.testing.assert_close(small.logits(torch.rand(3, 6)), torch.tensor([[1.0, -1.0]] * 3))


def test_a_sparse_trained_model_compacts_to_the_same_probabilities(mnist):
    config = PRESETS["l1-vs-l2"].replace(l1_weight=0.3, l2_weight=0.0, epochs=1, train_subset=12800, device="cpu")
    trainer = Trainer(config, mnist)
    for _ in trainer.run():
        pass
    state = trainer.latest_weights().state
    small = compact(state)
    full = probabilities(model_from_state(state), mnist.test_x)
    mine = torch.softmax(small.logits(mnist.test_x), 1)
    assert (mine - full).abs().max().item() <= 1e-5
    assert small.sizes[0] < 784 and small.parameter_count < sum(t.numel() for t in state.values())
    assert small.sizes[-1] == 10
