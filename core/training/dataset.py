"""MNIST as the trainer takes it: both splits as whole tensors on one device."""

from __future__ import annotations

from dataclasses import dataclass

import torch

PIXEL_MAX = 255


@dataclass(frozen=True)
class MnistTensors:
    """Training images (N, 784) as MNIST's bytes (uint8; float in [0, 1] is taken too), test
    images (N, 784) float in [0, 1], labels int64.

    The training images stay bytes because a step gathers its batch from random rows: a quarter
    of the bytes to fetch (the gather was a tenth of a step), and a quarter of the memory."""

    train_images: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def to(self, device: torch.device | str, train_subset: int | None = None) -> MnistTensors:
        """The same data on `device`, keeping only the first `train_subset` training images."""
        n = train_subset or len(self.train_images)
        return MnistTensors(
            self.train_images[:n].to(device),
            self.train_y[:n].to(device),
            self.test_x.to(device),
            self.test_y.to(device),
        )


def unit_float(images: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Images as float32 in [0, 1]: bytes divided by 255, the values torchvision's ToTensor
    gives; float images as they are (copied into `out` when given)."""
    if images.dtype != torch.uint8:
        return images if out is None else out.copy_(images)
    # Cast, then divide in float32 (torch.div on bytes converted through a temporary: 4x slower).
    return (images.float() if out is None else out.copy_(images)).div_(PIXEL_MAX)
