"""The written-out training step against autograd and torch.optim: the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from l1_trainer.core.training.config import PRESETS
from l1_trainer.core.training.dataset import unit_float
from l1_trainer.core.training.fast_step import FastStep
from l1_trainer.core.training.graphed_step import GraphedStep
from l1_trainer.core.training.model import build_model
from l1_trainer.core.training.reference_step import ReferenceStep


def notebook_run(config, l1, l2, batches):
    """The notebook's way, written as it writes it: nn.Linear, autograd and torch.optim over
    each parameter, one model; AdamW fused unless the config asks for the notebook's arithmetic."""
    model = build_model(config.hidden_sizes, torch.Generator().manual_seed(config.seed))
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                              weight_decay=config.weight_decay)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                fused=not config.notebook_exact)
    for x, y in batches:
        opt.zero_grad()
        params = torch.cat([p.view(-1) for p in model.parameters()])
        loss = F.cross_entropy(model(x), y) + l1 * params.abs().sum() + l2 * params.square().sum()
        loss.backward()
        opt.step()
    return model.state_dict()


def batches(mnist, n, sizes=(64, 64, 64, 17)):
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return [(unit_float(mnist.train_images[s : s + k]), mnist.train_y[s : s + k]) for s, k in zip(starts, sizes)][:n]


def trained(step_type, config, pairs, data, **kwargs):
    template = build_model(config.hidden_sizes, torch.Generator().manual_seed(config.seed))
    step = step_type(template, config, [a for a, _ in pairs], [b for _, b in pairs], torch.device("cpu"),
                     **kwargs)
    outputs = [step(x, y) for x, y in data]
    return step, outputs


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_the_reference_step_is_the_notebooks_loop(mnist, optimizer, exact):
    config = PRESETS["balanced"].replace(optimizer=optimizer, l2_weight=1e-3, notebook_exact=exact)
    data = batches(mnist, 4)  # the last one partial, as an epoch's last batch
    step, _ = trained(ReferenceStep, config, [(1e-4, 1e-3)], data)
    for name, value in notebook_run(config, 1e-4, 1e-3, data).items():
        assert torch.equal(step.stack.blocks[name][0], value), name


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
@pytest.mark.parametrize("preset", ["seed", "balanced"])
def test_one_model_fast_is_the_reference_to_the_last_bit(mnist, optimizer, preset):
    config = PRESETS[preset].replace(optimizer=optimizer)
    data = batches(mnist, 4)
    pair = [(config.l1_weight, 0.0)]
    fast, fast_out = trained(FastStep, config, pair, data)
    reference, reference_out = trained(ReferenceStep, config, pair, data)
    for name, value in reference.stack.blocks.items():
        assert torch.equal(fast.stack.blocks[name], value), name
    for got, want in zip(fast_out[-1], reference_out[-1]):  # ce, l1, l2, sum|p|, sum p^2
        assert got.shape == want.shape == (1,)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=0.0)


@pytest.mark.parametrize("method", ["penalty", "proximal"])
def test_k_models_train_as_k_separate_runs(mnist, method):
    config = PRESETS["balanced"].replace(lr=1e-3, l1_method=method)
    pairs = [(0.0, 0.0), (1e-3, 0.0), (1e-4, 1e-3)]
    data = batches(mnist, 4)
    fast, outputs = trained(FastStep, config, pairs, data)
    together, _ = trained(ReferenceStep, config, pairs, data)
    for m, pair in enumerate(pairs):
        alone, alone_out = trained(ReferenceStep, config, [pair], data)
        for name, value in alone.stack.blocks.items():
            # K models by autograd are K runs; the fast step's fused optimizer and batched
            # products round differently: close, not equal (a weight near 0 where AdamW divides
            # by a tiny second moment moved 2.4e-6 apart on another machine's BLAS).
            assert torch.equal(together.stack.blocks[name][m], value[0]), name
            torch.testing.assert_close(fast.stack.blocks[name][m], value[0], rtol=1e-4, atol=1e-5)
        for got, want in zip(outputs[-1], alone_out[-1]):
            torch.testing.assert_close(got[m : m + 1], want, rtol=1e-4, atol=1e-6)
    _, l1, l2, abs_sum, square_sum = outputs[-1]
    assert torch.equal(l1, abs_sum * torch.tensor([a for a, _ in pairs]))
    assert torch.equal(l2, square_sum * torch.tensor([b for _, b in pairs]))


def test_the_proximal_step_lands_on_the_same_exact_zeros(mnist):
    config = PRESETS["l1-vs-l2"].replace(l2_weight=0.0)  # L1 0.1, proximal: 1e-4 off each |w| a step
    data = batches(mnist, 20, (64,) * 20)
    pair = [(config.l1_weight, 0.0)]
    fast, _ = trained(FastStep, config, pair, data)
    reference, _ = trained(ReferenceStep, config, pair, data)
    assert int((reference.stack.param == 0).sum()) > 500
    for name, value in reference.stack.blocks.items():
        assert torch.equal(fast.stack.blocks[name] == 0, value == 0), name
        torch.testing.assert_close(fast.stack.blocks[name], value, rtol=1e-5, atol=1e-7)


def test_sgd_with_a_device_learning_rate_is_torch_sgd(mnist):
    """The CUDA path's SGD reads the learning rate from a tensor (a graph replays it)."""
    config = PRESETS["balanced"].replace(optimizer="sgd", lr=0.05)
    data = batches(mnist, 4)
    fast, _ = trained(FastStep, config, [(1e-4, 0.0)], data, lr=torch.tensor(config.lr))
    reference, _ = trained(ReferenceStep, config, [(1e-4, 0.0)], data)
    for name, value in reference.stack.blocks.items():
        torch.testing.assert_close(fast.stack.blocks[name], value, rtol=1e-5, atol=1e-7)


def test_logits_for_evaluation_match_the_model(mnist):
    config = PRESETS["balanced"]
    model = build_model(config.hidden_sizes, torch.Generator().manual_seed(1))
    x = mnist.test_x[:100]
    expected = model(x)
    for step_type in (FastStep, ReferenceStep):
        logits = step_type(model, config, [0.0, 0.0], [0.0, 0.0], torch.device("cpu")).logits(x)
        assert logits.shape == (2, 100, 10)
        for m in range(2):
            torch.testing.assert_close(logits[m], expected)


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


def test_a_capture_that_fails_trains_on_eagerly_and_says_so_once(mnist):
    config = PRESETS["balanced"].replace(lr=1e-3, batch_size=64)
    data = batches(mnist, 6, (64,) * 6)
    template = build_model(config.hidden_sizes, torch.Generator().manual_seed(config.seed))
    told = []

    def refused(step, x, y):
        raise RuntimeError("operation not permitted when stream is capturing\nmore detail")

    graphed = GraphedStep(template, config, [1e-4], [0.0], torch.device("cpu"), capture=refused,
                          notify=told.append)
    plain = FastStep(template, config, [1e-4], [0.0], torch.device("cpu"), lr=torch.tensor(1e-3))
    for x, y in data:
        for a, b in zip(graphed(x, y), plain(x, y)):
            assert torch.equal(a, b)
    assert graphed.eager_only and len(told) == 1
    assert "operation not permitted when stream is capturing)" in told[0] and "more detail" not in told[0]


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
@pytest.mark.parametrize("optimizer, method", [("adamw", "penalty"), ("sgd", "penalty"), ("adamw", "proximal")])
def test_a_cuda_graph_step_matches_the_eager_step_through_live_changes(mnist, optimizer, method):
    config = PRESETS["balanced"].replace(lr=1e-3, optimizer=optimizer, l1_method=method)
    device = torch.device("cuda")
    sizes = (64,) * 8 + (17,)  # the last, partial batch runs eagerly
    data = [(x.to(device), y.to(device)) for x, y in batches(mnist, len(sizes), sizes)]
    template = build_model(config.hidden_sizes, torch.Generator().manual_seed(config.seed))
    graphed = GraphedStep(template, config, [1e-4], [0.0], device)
    eager = FastStep(template, config, [1e-4], [0.0], device, lr=torch.tensor(1e-3, device=device))
    for i, (x, y) in enumerate(data):
        if i == 6:  # live: a new learning rate and L2 switched on (a new capture)
            for step in (graphed, eager):
                step.set_lr(3e-3)
                step.set_penalties([3e-4], [1e-3])
        for a, b in zip(graphed(x, y), eager(x, y)):
            torch.testing.assert_close(a, b)
    torch.testing.assert_close(graphed.stack.param, eager.stack.param)


@cuda
@pytest.mark.parametrize("optimizer, method", [("sgd", "penalty"), ("sgd", "proximal"), ("adamw", "proximal")])
def test_the_cuda_graph_step_trains_as_torch_optim(mnist, optimizer, method):
    """SGD (a tensor learning rate) and the proximal method through the graph, against the
    readable twin (autograd, torch.optim.SGD/AdamW) on the same GPU."""
    config = PRESETS["balanced"].replace(lr=0.05 if optimizer == "sgd" else 1e-3, optimizer=optimizer,
                                         l1_method=method, l1_weight=1e-3)
    device = torch.device("cuda")
    data = [(x.to(device), y.to(device)) for x, y in batches(mnist, 12, (64,) * 12)]
    template = build_model(config.hidden_sizes, torch.Generator().manual_seed(config.seed))
    graphed = GraphedStep(template, config, [1e-3], [0.0], device)
    reference = ReferenceStep(template, config, [1e-3], [0.0], device)
    for x, y in data:
        graphed(x, y)
        reference(x, y)
    torch.testing.assert_close(graphed.stack.param, reference.stack.param, rtol=1e-4, atol=1e-6)


@cuda
def test_a_run_on_cuda_prints_the_cpus_losses(mnist):
    from l1_trainer.core.training.engine import Trainer
    from l1_trainer.core.training.events import Steps

    config = PRESETS["balanced"].replace(epochs=1, train_subset=6400)
    losses = {}
    for device in ("cpu", "cuda"):
        events = list(Trainer(config.replace(device=device), mnist).run())
        losses[device] = np.concatenate([e.total[:, 0] for e in events if isinstance(e, Steps)])
    assert len(losses["cuda"]) == len(losses["cpu"]) == 100
    np.testing.assert_allclose(losses["cuda"][:20], losses["cpu"][:20], rtol=1e-4)
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=2e-2)  # rounding grows over steps


@cuda
def test_a_run_on_cuda_whose_capture_fails_says_so_and_finishes(mnist, monkeypatch):
    from l1_trainer.core.training import graphed_step
    from l1_trainer.core.training.engine import Trainer
    from l1_trainer.core.training.events import Notice, RunEnded, RunStatus

    def refused(step, x, y):
        raise RuntimeError("CUDA graphs are not supported here")

    monkeypatch.setattr(graphed_step, "cuda_graph", refused)
    events = list(Trainer(PRESETS["balanced"].replace(epochs=1, train_subset=1280, device="cuda"), mnist).run())
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 1 and "CUDA graphs are not supported here" in notices[0].text
    assert isinstance(events[-1], RunEnded) and events[-1].status is RunStatus.FINISHED
