"""The mini-batches of a run: shuffled as the notebook's DataLoader shuffles, gathered on the
training device, and with `augment` changed by `Augmenter` a block of batches at a time."""

from __future__ import annotations

import torch

from .augment import Augmenter
from .config import TrainConfig
from .dataset import MnistTensors, unit_float

AUGMENT_BLOCK = 1024  # images augmented per call: enough to hide each call's fixed cost


class Batches:
    """`start_epoch()`, then `batch(b)` for b = 0, 1, ... steps_per_epoch - 1, in order."""

    def __init__(self, data: MnistTensors, config: TrainConfig, rng: torch.Generator) -> None:
        self.data, self.config, self._rng = data, config, rng
        images = data.train_images
        # Batches gathered per block: one without augmentation, as the notebook's loop does.
        self._per_block = max(1, AUGMENT_BLOCK // config.batch_size) if config.augment else 1
        self._block = size = self._per_block * config.batch_size
        self._views: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self._gathered = torch.empty(size, images.shape[1], dtype=images.dtype, device=images.device)
        self._x = torch.empty(size, images.shape[1], device=images.device)
        self._y = torch.empty(size, dtype=torch.long, device=images.device)
        # Its own random stream: switching augmentation on leaves the shuffle as it was.
        self._augment = Augmenter(size, images.device, config.seed + 1) if config.augment else None
        self._perm = torch.empty(0, dtype=torch.long)
        self._block_x, self._block_y = self._x, self._y  # the block gathered last

    def start_epoch(self) -> None:
        self._perm = shuffled_indices(self._rng, self.config.train_size).to(self.data.train_images.device)

    def batch(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        first, offset = divmod(b, self._per_block)
        if offset == 0:
            self._gather(self._perm[first * self._block : (first + 1) * self._block])
        if self._per_block == 1:
            return self._block_x, self._block_y
        start = offset * self.config.batch_size
        stop = start + self.config.batch_size
        return self._block_x[start:stop], self._block_y[start:stop]

    def _gather(self, indices: torch.Tensor) -> None:
        """The images and labels at `indices` into the block's buffers, as floats in [0, 1]."""
        n = len(indices)
        views = self._views.get(n) or self._views.setdefault(n, self._views_of(n))
        gathered, self._block_x, self._block_y = views
        torch.index_select(self.data.train_images, 0, indices, out=gathered)
        unit_float(gathered, out=self._block_x)
        torch.index_select(self.data.train_y, 0, indices, out=self._block_y)
        if self._augment is not None:
            self._augment(self._block_x)

    def _views_of(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The first n rows of each buffer: a full block's, and the epoch's last one's (views
        are made once: at batch 64, a step's Python counts)."""
        return self._gathered[:n], self._x[:n], self._y[:n]


def shuffled_indices(rng: torch.Generator, n: int) -> torch.Tensor:
    """One epoch's sample order, drawn from `rng` exactly as DataLoader(shuffle=True) draws it.

    Each new DataLoader iterator takes a base seed for its workers from the global generator;
    its RandomSampler then takes a second number to seed a fresh generator for randperm."""
    torch.empty((), dtype=torch.int64).random_(generator=rng)  # the iterator's base seed
    seed = int(torch.empty((), dtype=torch.int64).random_(generator=rng))
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))
