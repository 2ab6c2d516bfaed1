"""The seed notebook's own training loop (cell 6), the reference the engine is checked against.

Only the data source, the epoch count, the L1 weight and the learning rate are parameters (the
notebook's by default); the arithmetic is the notebook's line for line. tests/test_seed.py runs
it beside the CLI, and benchmarks/bench_epoch.py times it.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler

from l1_trainer.core.files.data import BUNDLED_MNIST, RAW_FILES
from l1_trainer.core.training.model import MLP

PRINT_EVERY = 500


def torchvision_root(folder: Path) -> Path:
    """`folder` laid out as torchvision's MNIST root (MNIST/raw), from the bundled files."""
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in RAW_FILES:
        (raw / name).write_bytes(gzip.decompress((BUNDLED_MNIST / f"{name}.gz").read_bytes()))
    return folder


def shuffled_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int = 64) -> DataLoader:
    """The batches of `DataLoader(TensorDataset(x, y), batch_size, shuffle=True)`, in its order
    and drawing from the global generator as it does (a lazy BatchSampler over a RandomSampler),
    but each fetched in one indexing instead of collated image by image: the same tensors,
    several times sooner."""

    class ByBatch(Dataset):
        def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
            return x[indices], y[indices]

        def __len__(self) -> int:
            return len(x)

    dataset = ByBatch()
    return DataLoader(dataset, sampler=BatchSampler(RandomSampler(dataset), batch_size, drop_last=False),
                      batch_size=None)


def notebook_loop(make_loader: Callable[[], Iterable], epochs: int = 5,
                  on_step: Callable[[float, float], None] | None = None, l1_weight: float = 1.0,
                  lr: float = 1e-4) -> list[str]:
    """Cell 6 of the notebook; returns the lines it prints, and gives every step's
    (loss, L1 part) to `on_step`.

    `make_loader()` is called after torch.manual_seed(42), where the notebook builds its
    DataLoader, so that the global generator is drawn from in the notebook's order."""
    lines = []
    torch.manual_seed(42)
    trainloader = make_loader()
    mlp = MLP()
    loss_function = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(mlp.parameters(), lr=lr)
    for epoch in range(0, epochs):
        lines.append(f"Starting epoch {epoch+1}")
        for i, data in enumerate(trainloader, 0):
            inputs, targets = data
            optimizer.zero_grad()
            outputs = mlp(inputs)
            loss = loss_function(outputs, targets)
            l1_parameters = []
            for parameter in mlp.parameters():
                l1_parameters.append(parameter.view(-1))
            l1 = l1_weight * torch.abs(torch.cat(l1_parameters)).sum()
            loss += l1
            loss.backward()
            optimizer.step()
            minibatch_loss = loss.item()
            if on_step is not None:
                on_step(minibatch_loss, l1.item())
            if i % PRINT_EVERY == PRINT_EVERY - 1:
                lines.append('Loss after mini-batch %5d: %.5f (of which %.5f L1 loss)'  # noqa: UP031
                             % (i + 1, minibatch_loss, l1))
    lines.append('Training process has finished.')
    return lines
