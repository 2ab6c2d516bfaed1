import numpy as np
import pytest

from l1_trainer.gui.plots import Series, nice_ceiling
from l1_trainer.gui.smoothing import EmaState, smooth


def sequential(values, weight):
    last, out = 0.0, []
    for i, v in enumerate(values, 1):
        last = weight * last + (1 - weight) * v
        out.append(last / (1 - weight**i))
    return np.array(out)


@pytest.mark.parametrize("weight", [0.3, 0.6, 0.99, 0.999])
def test_blocked_smoothing_equals_tensorboards_loop(weight):
    values = np.random.default_rng(0).random(700)
    ours, _ = smooth(values, weight)
    assert np.allclose(ours, sequential(values, weight), rtol=1e-12, atol=1e-12)


def test_smoothing_resumes_from_its_state():
    values = np.random.default_rng(1).random(600)
    first, state = smooth(values[:250], 0.9)
    rest, _ = smooth(values[250:], 0.9, state)
    assert np.allclose(np.concatenate([first, rest]), sequential(values, 0.9))


def test_zero_weight_is_the_raw_series():
    values = np.array([3.0, 1.0, 2.0])
    out, state = smooth(values, 0.0, EmaState())
    assert (out == values).all() and state.count == 3


def test_series_grows_without_losing_values():
    series = Series(capacity=2)
    series.extend(np.arange(3.0), np.array([1.0, 7.0, 2.0]))
    series.extend(np.arange(3.0, 5.0), np.array([3.0, 4.0]))
    x, y = series.data()
    assert list(x) == [0, 1, 2, 3, 4] and list(y) == [1, 7, 2, 3, 4]


@pytest.mark.parametrize(("value", "top"), [(2.3026, 3.0), (0.14, 0.15), (65.4, 70.0), (1.0, 1.0), (0.0, 1.0)])
def test_nice_ceiling(value, top):
    assert nice_ceiling(value) == pytest.approx(top)
