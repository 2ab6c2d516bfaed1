"""Turning a drawing into what the network was trained on, the way MNIST itself was made.

MNIST's digits were cropped to their ink, scaled (antialiased, aspect kept) to fit a 20x20 box,
and placed in a 28x28 field so that the centre of mass sits at the centre. Measured on the
training set here, that centre is (14.0, 14.0) in pixel-index coordinates, with a spread of
0.29 px: whole-pixel shifts.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

FIELD = 28
BOX = 20
CENTRE = 14.0
INK_FLOOR = 0.05  # lighter than this (of the darkest ink) is paper, not ink


def preprocess_drawing(ink: np.ndarray | torch.Tensor) -> torch.Tensor | None:
    """A (FIELD, FIELD) float tensor in [0, 1] (ink = 1, like training), or None if blank.

    `ink` is a 2-D image of any size whose values grow with the amount of ink: 0 is paper,
    and the largest value is full ink (uint8 0-255 or float)."""
    image = torch.as_tensor(np.asarray(ink), dtype=torch.float32)
    if image.dim() != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {tuple(image.shape)}")
    peak = float(image.max()) if image.numel() else 0.0
    if peak <= 0:
        return None
    image = image / peak
    rows = torch.nonzero((image > INK_FLOOR).any(1)).flatten()
    cols = torch.nonzero((image > INK_FLOOR).any(0)).flatten()
    crop = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scaled = _fit_box(crop)
    return _centre_by_mass(scaled)


def _fit_box(crop: torch.Tensor) -> torch.Tensor:
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    resized = F.interpolate(
        crop[None, None], size=size, mode="bilinear", antialias=True, align_corners=False
    )[0, 0].clamp_(min=0)
    # Shrinking a thin pen's stroke fades it; MNIST's strokes reach full ink, so stretch back.
    return resized / resized.max()


def _centre_by_mass(patch: torch.Tensor) -> torch.Tensor:
    h, w = patch.shape
    cy, cx = centre_of_mass(patch)
    # Whole-pixel shift, as MNIST did; kept inside the field so no ink is cut off.
    top = min(max(round(CENTRE - cy), 0), FIELD - h)
    left = min(max(round(CENTRE - cx), 0), FIELD - w)
    field = torch.zeros(FIELD, FIELD)
    field[top : top + h, left : left + w] = patch
    return field


def centre_of_mass(image: torch.Tensor) -> tuple[float, float]:
    """(row, column) of the ink's centre of mass, in pixel-index coordinates."""
    h, w = image.shape
    mass = image.sum()
    return (
        float((image.sum(1) * torch.arange(h)).sum() / mass),
        float((image.sum(0) * torch.arange(w)).sum() / mass),
    )
