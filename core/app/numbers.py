"""How numbers are written for people: `1e-4` rather than 0.0001."""

from __future__ import annotations


def short(value: float) -> str:
    """1e-4 rather than 0.0001; 3e-4, 0.05, 1, 0."""
    mantissa, exponent = f"{value:.2e}".split("e")
    if value == 0 or -3 < int(exponent) < 3:
        return f"{value:g}"
    return f"{float(mantissa):g}e{int(exponent)}"
