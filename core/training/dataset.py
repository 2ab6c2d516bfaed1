"""MNIST as the trainer takes it: both splits as whole tensors on one device."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MnistTensors:
    """Images (N, 784) float in [0, 1] and labels int64, for training and for testing."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def to(self, device: torch.device | str, train_subset: int | None = None) -> MnistTensors:
        """The same data on `device`, keeping only the first `train_subset` training images."""
        n = train_subset or len(self.train_x)
        return MnistTensors(
            self.train_x[:n].to(device),
            self.train_y[:n].to(device),
            self.test_x.to(device),
            self.test_y.to(device),
        )
