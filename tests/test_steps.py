"""The written-out training step against autograd and torch.optim: the same numbers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from l1_trainer.core.training.config import PRESETS
from l1_trainer.core.training.fast_step import FastStep
from l1_trainer.core.training.graphed_step import GraphedStep
from l1_trainer.core.training.model import build_model


def reference_run(config, l1, l2, batches):
    """The notebook's way: nn.Linear, autograd and torch.optim, one model."""
    model = build_model(config.hidden_sizes, torch.Generator().manual_seed(config.seed))
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                              weight_decay=config.weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    for x, y in batches:
        opt.zero_grad()
        params = torch.cat([p.view(-1) for p in model.parameters()])
        loss = F.cross_entropy(model(x), y) + l1 * params.abs().sum() + l2 * params.square().sum()
        loss.backward()
        opt.step()
    return model.state_dict()


def batches(mnist, n, sizes=(64, 64, 64, 17)):
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return [(mnist.train_x[s : s + k], mnist.train_y[s : s + k]) for s, k in zip(starts, sizes)][:n]


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_one_model_is_autograd_to_the_last_bit(mnist, optimizer):
    config = PRESETS["seed"].replace(optimizer=optimizer, lr=1e-3)
    data = batches(mnist, 4)  # the last one partial, as an epoch's last batch
    step = FastStep(build_model(config.hidden_sizes, torch.Generator().manual_seed(config.seed)), config,
                [1.0], [0.0], torch.device("cpu"))
    for x, y in data:
        ce, l1, *_ = step(x, y)
    reference = reference_run(config, 1.0, 0.0, data)
    for name, value in reference.items():
        assert torch.equal(step.stack.blocks[name][0], value), name
    assert ce.shape == l1.shape == (1,)


def test_k_models_train_as_k_separate_runs(mnist):
    config = PRESETS["balanced"].replace(lr=1e-3)
    pairs = [(0.0, 0.0), (1e-3, 0.0), (1e-4, 1e-3)]
    data = batches(mnist, 4)
    step = FastStep(build_model(config.hidden_sizes, torch.Generator().manual_seed(config.seed)), config,
                [a for a, _ in pairs], [b for _, b in pairs], torch.device("cpu"))
    for x, y in data:
        blocks = [step.stack.blocks[name].reshape(3, -1).clone() for name in step.stack.penalized_names]
        _, l1, l2, abs_sum, square_sum = step(x, y)  # the sums of the weights the step started from
        assert torch.allclose(abs_sum, sum(b.abs().sum(1) for b in blocks), rtol=1e-5)
        assert torch.allclose(square_sum, sum(b.square().sum(1) for b in blocks), rtol=1e-5)
        assert torch.equal(l1, abs_sum * torch.tensor([a for a, _ in pairs]))
        assert torch.equal(l2, square_sum * torch.tensor([b for _, b in pairs]))
    for m, (l1, l2) in enumerate(pairs):
        reference = reference_run(config, l1, l2, data)
        for name, value in reference.items():
            # The fused optimizer and batched products round differently: close, not equal.
            torch.testing.assert_close(step.stack.blocks[name][m], value, rtol=1e-4, atol=1e-6)


def test_logits_for_evaluation_match_the_model(mnist):
    config = PRESETS["balanced"]
    model = build_model(config.hidden_sizes, torch.Generator().manual_seed(1))
    step = FastStep(model, config, [0.0, 0.0], [0.0, 0.0], torch.device("cpu"))
    x = mnist.test_x[:100]
    expected = model(x)
    logits = step.logits(x)
    assert logits.shape == (2, 100, 10)
    torch.testing.assert_close(logits[0], expected) and torch.testing.assert_close(logits[1], expected)


def eager_capture(calls):
    """Stands in for a CUDA graph on the CPU: replaying re-runs the step on the static buffers
    it was given, which is what a graph's replay computes."""
    def capture(step, x, y):
        calls.append(len(x))
        return lambda: step(x, y)
    return capture


@pytest.mark.parametrize("optimizer, method", [("adamw", "penalty"), ("sgd", "penalty"), ("adamw", "proximal")])
def test_the_graphed_step_trains_as_the_plain_step_and_takes_live_changes(mnist, optimizer, method):
    config = PRESETS["balanced"].replace(lr=1e-3, batch_size=64, optimizer=optimizer, l1_method=method)
    sizes = (64,) * 6 + (17,)
    data = batches(mnist, len(sizes), sizes)
    template = build_model(config.hidden_sizes, torch.Generator().manual_seed(config.seed))
    captures = []
    graphed = GraphedStep(template, config, [1e-4], [0.0], torch.device("cpu"), capture=eager_capture(captures))
    plain = FastStep(template, config, [1e-4], [0.0], torch.device("cpu"), lr=torch.tensor(1e-3))
    for i, (x, y) in enumerate(data):
        if i == 5:  # live: a new learning rate and L2 switched on (new kernels: a new capture)
            for step in (graphed, plain):
                step.set_lr(3e-3)
                step.set_penalties([1e-4], [1e-3])
        got, want = graphed(x, y), plain(x, y)
        for a, b in zip(got, want):
            assert torch.equal(a, b)
    assert captures == [64, 64]  # after the warm-up; the partial batch ran eagerly
    assert graphed.lr.item() == pytest.approx(3e-3)
    assert torch.equal(graphed.stack.param, plain.stack.param)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cuda_graph_step_matches_the_eager_step(mnist):
    config = PRESETS["balanced"].replace(lr=1e-3)
    device = torch.device("cuda")
    data = [(x.to(device), y.to(device)) for x, y in batches(mnist, 6, (64,) * 6)]
    template = build_model(config.hidden_sizes, torch.Generator().manual_seed(config.seed))
    graphed = GraphedStep(template, config, [1e-4], [0.0], device)
    eager = FastStep(template, config, [1e-4], [0.0], device, lr=torch.tensor(1e-3, device=device))
    for x, y in data:
        for a, b in zip(graphed(x, y), eager(x, y)):
            torch.testing.assert_close(a, b)
    torch.testing.assert_close(graphed.stack.param, eager.stack.param)
