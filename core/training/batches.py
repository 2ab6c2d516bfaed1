"""The mini-batches of a run: shuffled as the notebook's DataLoader shuffles, gathered on the
training device, and with `augment` changed by `Augmenter` a block of batches at a time."""

from __future__ import annotations

import torch

from .augment import Augmenter
from .config import TrainConfig
from .dataset import MnistTensors

AUGMENT_BLOCK = 1024  # images augmented per call: enough to hide each call's fixed cost


class Batches:
    """`start_epoch()`, then `batch(b)` for b = 0, 1, ... steps_per_epoch - 1, in order."""

    def __init__(self, data: MnistTensors, config: TrainConfig, rng: torch.Generator) -> None:
        self.data, self.config, self._rng = data, config, rng
        device = data.train_x.device
        # Batches gathered per block: one without augmentation, as the notebook's loop does.
        self._per_block = max(1, AUGMENT_BLOCK // config.batch_size) if config.augment else 1
        size = self._per_block * config.batch_size
        self._x = torch.empty(size, data.train_x.shape[1], device=device)
        self._y = torch.empty(size, dtype=torch.long, device=device)
        # Its own random stream: switching augmentation on leaves the shuffle as it was.
        self._augment = Augmenter(size, device, config.seed + 1) if config.augment else None
        self._perm = torch.empty(0, dtype=torch.long)

    def start_epoch(self) -> None:
        self._perm = shuffled_indices(self._rng, self.config.train_size).to(self.data.train_x.device)

    def batch(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        size = self.config.batch_size
        first, offset = divmod(b, self._per_block)
        if offset == 0:
            idx = self._perm[first * self._per_block * size : (first + 1) * self._per_block * size]
            n = idx.numel()
            torch.index_select(self.data.train_x, 0, idx, out=self._x[:n])
            torch.index_select(self.data.train_y, 0, idx, out=self._y[:n])
            if self._augment is not None:
                self._augment(self._x[:n])
        start = offset * size
        stop = min(start + size, len(self._perm) - first * self._per_block * size)
        return self._x[start:stop], self._y[start:stop]


def shuffled_indices(rng: torch.Generator, n: int) -> torch.Tensor:
    """One epoch's sample order, drawn from `rng` exactly as DataLoader(shuffle=True) draws it.

    Each new DataLoader iterator takes a base seed for its workers from the global generator;
    its RandomSampler then takes a second number to seed a fresh generator for randperm."""
    torch.empty((), dtype=torch.int64).random_(generator=rng)  # the iterator's base seed
    seed = int(torch.empty((), dtype=torch.int64).random_(generator=rng))
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))
