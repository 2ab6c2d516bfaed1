"""How settings are named on screen: `L1 1e-4, lr 1e-3`."""

from __future__ import annotations

from l1_trainer.core.config import TrainConfig


def run_label(config: TrainConfig) -> str:
    """How a run is named in the legend: its L1 weight and learning rate."""
    return f"L1 {short(config.l1_weight)}, lr {short(config.lr)}"


def short(value: float) -> str:
    """1e-4 rather than 0.0001; 3e-4, 0.05, 1, 0."""
    mantissa, exponent = f"{value:.2e}".split("e")
    if value == 0 or -3 < int(exponent) < 3:
        return f"{value:g}"
    return f"{float(mantissa):g}e{int(exponent)}"
