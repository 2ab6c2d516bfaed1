import pytest
import torch

from l1_trainer.core.sparsity import sparsity


def l1_norm(params):
    return sum(p.abs().sum() for p in params)


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


def test_flat_parameters_give_autograds_l1_gradient():
    from l1_trainer.core.flat import FlatParameters
    from l1_trainer.core.model import build_model

    reference = build_model((8,), torch.Generator().manual_seed(1))
    model = build_model((8,), torch.Generator().manual_seed(1))
    flat = FlatParameters(model, penalize_biases=True)
    x, y = torch.rand(5, 784), torch.tensor([0, 3, 9, 1, 1])

    loss = torch.nn.functional.cross_entropy(reference(x), y)
    (loss + 0.3 * l1_norm(reference.parameters())).backward()
    flat.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    term = flat.add_l1(0.3)

    assert term.item() == pytest.approx(0.3 * l1_norm(reference.parameters()).item(), rel=1e-6)
    for (name, a), b in zip(reference.named_parameters(), model.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-7), name
        assert b.grad.data_ptr() >= flat.param.grad.data_ptr()  # still a view of the flat grad


def test_weights_only_flat_penalty_skips_biases():
    from l1_trainer.core.flat import FlatParameters
    from l1_trainer.core.model import build_model

    model = build_model((8,), torch.Generator().manual_seed(2))
    flat = FlatParameters(model, penalize_biases=False)
    flat.zero_grad()
    flat.add_l1(1.0)
    assert all(p.grad.abs().sum() == 0 for p in model.parameters() if p.dim() == 1)
    assert all(torch.equal(p.grad, p.sign()) for p in model.parameters() if p.dim() == 2)


def test_soft_threshold_is_the_proximal_formula_and_gives_exact_zeros():
    from l1_trainer.core.flat import FlatParameters
    from l1_trainer.core.model import build_model

    model = build_model((8,), torch.Generator().manual_seed(3))
    flat = FlatParameters(model, penalize_biases=True)
    before = flat.param.detach().clone()
    amount = 0.02
    flat.soft_threshold(amount)
    expected = before.sign() * (before.abs() - amount).clamp(min=0)
    assert torch.equal(flat.param.detach(), expected)
    assert (flat.param == 0).sum() == (before.abs() <= amount).sum() > 0
    assert torch.equal(model.layers[1].weight.flatten(), flat.param.detach()[: 784 * 8])
