"""TensorBoard's debiased exponential moving average, vectorised and resumable (no Qt here)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

BLOCK = 256


@dataclass(frozen=True)
class EmaState:
    last: float = 0.0  # the biased running average
    count: int = 0  # values seen so far


def smooth(values: np.ndarray, weight: float, state: EmaState = EmaState()) -> tuple[np.ndarray, EmaState]:
    """s_i = w * s_(i-1) + (1 - w) * y_i, divided by (1 - w^i) as TensorBoard does.

    Works in blocks of BLOCK values, each one matrix product, so re-smoothing hundreds of
    thousands of points when the slider moves takes milliseconds instead of a Python loop."""
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or not len(values):
        last = float(values[-1]) if len(values) else state.last
        return values.copy(), EmaState(last, state.count + len(values))
    out = np.empty_like(values)
    lags = np.arange(BLOCK)
    decay = _decay(weight)
    last, count = state.last, state.count
    for start in range(0, len(values), BLOCK):
        block = values[start : start + BLOCK]
        n = len(block)
        powers = weight ** (lags[:n] + 1)
        biased = powers * last + (1 - weight) * (decay[:n, :n] @ block)
        out[start : start + n] = biased / (1 - weight ** (count + lags[:n] + 1))
        last, count = float(biased[-1]), count + n
    return out, EmaState(last, count)


@lru_cache(maxsize=8)
def _decay(weight: float) -> np.ndarray:
    """decay[i, j] = w^(i-j) for j <= i, else 0; built once per weight."""
    lags = np.arange(BLOCK)
    return np.tril(weight ** np.maximum(lags[:, None] - lags[None, :], 0))
