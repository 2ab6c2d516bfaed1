"""Digits as other hands write them: random small rotations, shifts, scale, slant and stroke
thickness, applied to a block of training images on the training device.

No per-sample Python: each image's transform comes from one random draw per block, the affine
warps of all images are one `grid_sample`, and the stroke changes are maxima of shifted views.
The images arrive in random order (the epoch's shuffle), so giving the thicker stroke to the
first quarter of a block is as random as a coin per image, and costs nothing for the others.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SIDE = 28
# Small: the draw panel already fits every digit to MNIST's 20-pixel box and centres it, so
# size and position vary little; wider ranges (0.8-1.1, 2 px, a free aspect) made narrow 2s
# and 8s that look like a serif 1, and cost 20 points on typefaces' 1s.
MAX_DEGREES = 6.0  # rotation, either way
MAX_SHIFT_PX = 1.0  # along each axis
SCALE = (0.95, 1.05)
MAX_SHEAR = 0.3  # a slant of up to about 17 degrees, as italic type or a hurried hand
# Share of images warped. Measured on typefaces over three seeds (benchmarks/bench_fonts.py):
# 0.25 read 89.9% of them, 0.5 only 87.2%, none 88.4%; MNIST's own accuracy rose a little.
WARPED = 0.25
# Stroke width matters most: typefaces' strokes are thicker or thinner than MNIST's pens.
THICKER, THINNER = 0.35, 0.2  # shares whose strokes grow or shrink by up to one pixel


class Augmenter:
    """Changes blocks of up to `capacity` images (N, 784) in [0, 1] in place."""

    def __init__(self, capacity: int, device: torch.device, seed: int) -> None:
        self._gen = torch.Generator(device=device).manual_seed(seed)
        self._draws = torch.empty(capacity, 6, device=device)
        self._basis = _grid_basis(device)
        self._grid = torch.empty(capacity, SIDE * SIDE * 2, device=device)
        self._padded = torch.zeros(capacity, SIDE + 2, SIDE + 2, device=device)
        self._neighbours = torch.empty(capacity, SIDE, SIDE, device=device)

    def __call__(self, x: torch.Tensor) -> None:
        n = len(x)
        draws = torch.rand(n, 6, generator=self._gen, device=x.device, out=self._draws[:n])
        images = x.view(n, SIDE, SIDE)
        thick, thin = round(n * THICKER), round(n * THINNER)
        self._stroke(images[:thick], draws[:thick, 5:], torch.maximum)
        self._stroke(images[thick : thick + thin], draws[thick : thick + thin, 5:], torch.minimum)
        warped = round(n * WARPED)
        if warped:
            grid = torch.mm(_affine(draws[:warped]), self._basis, out=self._grid[:warped])
            x[:warped] = F.grid_sample(images[:warped, None], grid.view(warped, SIDE, SIDE, 2),
                                       align_corners=False).view(warped, -1)

    def _stroke(self, images: torch.Tensor, amount: torch.Tensor, pick) -> None:
        """Dilate (pick=maximum) or erode (minimum) over the 4-neighbourhood, blended by
        `amount` in [0, 1) per image: a continuous change of stroke width of up to one pixel."""
        n = len(images)
        if not n:
            return
        padded, out = self._padded[:n], self._neighbours[:n]
        padded[:, 1:-1, 1:-1] = images
        if pick is torch.minimum:  # paper beyond the border must not erode the edge
            padded[:, 0], padded[:, -1], padded[:, :, 0], padded[:, :, -1] = 1.0, 1.0, 1.0, 1.0
        else:
            padded[:, 0], padded[:, -1], padded[:, :, 0], padded[:, :, -1] = 0.0, 0.0, 0.0, 0.0
        pick(padded[:, :-2, 1:-1], padded[:, 2:, 1:-1], out=out)
        pick(out, padded[:, 1:-1, :-2], out=out)
        pick(out, padded[:, 1:-1, 2:], out=out)
        images.lerp_(pick(out, images, out=out), amount.view(n, 1, 1))


def _affine(draws: torch.Tensor) -> torch.Tensor:
    """(n, 5+) uniform draws -> (n, 6) flattened 2x3 matrices mapping output to input points."""
    angle = (2 * draws[:, 0] - 1) * math.radians(MAX_DEGREES)
    scale = SCALE[0] + draws[:, 1] * (SCALE[1] - SCALE[0])
    shear = (2 * draws[:, 2] - 1) * MAX_SHEAR
    shift = (2 * draws[:, 3:5] - 1) * (MAX_SHIFT_PX * 2 / SIDE)  # grid units: the field is 2 wide
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # rotation @ shear: [[c, -s], [s, c]] @ [[1, h], [0, 1]], over the scale
    return torch.stack([cos, cos * shear - sin, shift[:, 0], sin, sin * shear + cos, shift[:, 1]], 1)


def _grid_basis(device: torch.device) -> torch.Tensor:
    """(6, 784 * 2): theta (n, 6) @ basis = the sampling grid, as `F.affine_grid` would make it
    (align_corners=False), in one product instead of its slow per-call construction."""
    coords = (torch.arange(SIDE, dtype=torch.float32) * 2 + 1) / SIDE - 1
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    points = torch.stack([x.flatten(), y.flatten(), torch.ones(SIDE * SIDE)])  # (3, 784)
    basis = torch.zeros(6, SIDE * SIDE, 2)
    basis[:3, :, 0] = points
    basis[3:, :, 1] = points
    return basis.view(6, -1).to(device)
