"""K models in one buffer, and the penalties (L1, L2) written once for runs and sweeps."""

import pytest
import torch

from l1_trainer.core.training.model import build_model
from l1_trainer.core.training.stack import ParamStack, Penalties
from l1_trainer.core.training.weights import weight_matrices

CPU = torch.device("cpu")


def _stack(k, penalize_biases=True, seed=1, hidden=(8,)):
    return ParamStack(build_model(hidden, torch.Generator().manual_seed(seed)), k, penalize_biases, CPU)


def test_each_model_starts_as_the_template_and_reads_back_as_a_state_dict():
    template = build_model((8,), torch.Generator().manual_seed(1))
    stack = ParamStack(template, 3, True, CPU)
    states = stack.state_dicts()
    assert len(states) == 3
    for state in states:
        assert list(state) == list(template.state_dict())  # the state dict's order
        for name, tensor in template.state_dict().items():
            assert torch.equal(state[name], tensor)
    assert stack.num_penalized == stack.param.numel()
    weights_first = list(stack.blocks)
    assert weights_first == ["layers.1.weight", "layers.3.weight", "layers.1.bias", "layers.3.bias"]


@pytest.mark.parametrize("k", [1, 3])
def test_penalty_gradients_are_autograds_for_every_model_with_its_own_weights(k):
    stack = _stack(k)
    l1, l2 = [0.3, 0.0, 0.1][:k], [0.0, 0.2, 0.05][:k]
    terms = Penalties(stack, l1, l2)
    reference = [{n: t.clone().requires_grad_() for n, t in s.items()} for s in stack.state_dicts()]
    expected = [a * sum(t.abs().sum() for t in ref.values()) + b * sum((t * t).sum() for t in ref.values())
                for a, b, ref in zip(l1, l2, reference)]
    for value in expected:
        value.backward()
    stack.zero_grad()
    l1_values, l2_values, _, _ = terms.values()
    terms.add_gradients()
    assert (l1_values + l2_values).tolist() == pytest.approx([v.item() for v in expected], rel=1e-5)
    for m, ref in enumerate(reference):
        for name, t in ref.items():
            got = stack.grads[name][m]
            assert torch.allclose(got, t.grad if t.grad is not None else torch.zeros_like(got), atol=1e-6), name


def test_weights_only_penalty_skips_biases():
    stack = _stack(1, penalize_biases=False)
    terms = Penalties(stack, [1.0], [0.0])
    stack.zero_grad()
    terms.values()
    terms.add_gradients()
    assert all(g.abs().sum() == 0 for name, g in stack.grads.items() if name.endswith("bias"))
    weights = weight_matrices(stack.state_dicts()[0])
    assert all(torch.equal(stack.grads[n][0], stack.blocks[n][0].sign()) for n in weights)


def test_proximal_step_is_the_soft_threshold_and_gives_exact_zeros():
    stack = _stack(2)
    terms = Penalties(stack, [2.0, 0.0], [0.0, 0.0])
    before = stack.state_dicts()
    lr = 0.01
    terms.shrink(lr)
    after = stack.state_dicts()
    for name in before[0]:
        b = before[0][name]
        assert torch.equal(after[0][name], b.sign() * (b.abs() - lr * 2.0).clamp(min=0)), name
        assert torch.equal(after[1][name], before[1][name])  # weight 0: untouched
    zeros = sum(int((t == 0).sum()) for t in after[0].values())
    assert zeros == sum(int((t.abs() <= lr * 2.0).sum()) for t in before[0].values()) > 0


def test_models_are_checked_and_restored_one_by_one():
    stack = _stack(3)
    saved = stack.param.detach().clone()
    with torch.no_grad():
        stack.blocks["layers.3.weight"][1, 0, 0] = float("nan")
        stack.blocks["layers.1.bias"][2, 0] = 5.0
    assert stack.checks(1e-3)[0].tolist() == [1.0, 0.0, 1.0]
    stack.copy_models(stack.param.data, saved, torch.tensor([False, True, False]))
    assert stack.checks(1e-3)[0].tolist() == [1.0, 1.0, 1.0]
    assert stack.blocks["layers.1.bias"][2, 0] == 5.0  # model 2 was not restored


def test_without_l2_the_step_does_no_l2_work():
    stack = _stack(1)
    terms = Penalties(stack, [1e-3], [0.0])
    assert not terms.uses_l2 and terms.values()[1].tolist() == [0.0]
    terms.set_weights([1e-3], [1e-4])
    assert terms.uses_l2 and terms.values()[1].item() > 0


@pytest.mark.parametrize("k", [1, 3])
def test_checks_count_each_models_zeros_and_spot_a_non_finite_parameter(k):
    stack = _stack(k, hidden=(8, 5))
    with torch.no_grad():
        stack.blocks["layers.1.weight"][-1, :3] = 0.0  # three whole rows of the last model
        stack.blocks["layers.3.weight"][0, 0, :4] = 1e-4  # near zero, not zero
        stack.blocks["layers.5.bias"][-1, 2] = float("inf")  # a bias: no weight count changes
    checks = stack.checks(1e-3)
    assert checks.shape == (3, k)
    for m, state in enumerate(stack.state_dicts()):
        weights = list(weight_matrices(state).values())
        assert checks[0, m] == float(all(torch.isfinite(t).all() for t in state.values()))
        assert checks[1, m] == sum(int((w.abs() <= 1e-3).sum()) for w in weights)
        assert checks[2, m] == sum(int((w == 0).sum()) for w in weights) >= (3 * 784 if m == k - 1 else 0)
    assert checks[0].tolist() == [1.0] * (k - 1) + [0.0]
