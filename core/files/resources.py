"""The files shipped inside the package (resources/: MNIST and the icons), wherever it is installed."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

ICON_SIZES = (16, 32, 48, 64, 128, 256)  # resources/icons/l1-trainer-<size>.png


def resource(*parts: str) -> Traversable:
    """`resource("mnist", "SHA256SUMS")`: a file under resources/, as importlib.resources finds it."""
    found = files("l1_trainer") / "resources"
    for part in parts:
        found = found / part
    return found
