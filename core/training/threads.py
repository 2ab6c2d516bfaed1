"""How many CPU threads PyTorch trains with: chosen from measurements, the same in the window
and on the command line.

Measured on 2 cores (benchmarks/bench_threads.py, README "Threads"): idle, a second thread saved
at most a fifth of a step for one model (and cost half as much again in one round at batch 64)
and 27-45% for a sweep of 8; with one other busy process on the machine, the same second thread
made every step 1.7 to 4.6 times slower (its OpenMP workers wait for a core the other process
holds). A desktop app shares its machine, so
small steps train on one thread, and only steps of at least LARGE_STEP images times models take
more: half the cores, leaving the other half to the rest of the machine (one here)."""

from __future__ import annotations

import os

LARGE_STEP = 8_192  # images x models in one step: a sweep of 8 at batch 1024


def default_threads(batch_size: int, models: int = 1, cores: int | None = None) -> int:
    """Threads for a run (`models` = 1) or a sweep of `models` at `batch_size`."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // 2) if batch_size * models >= LARGE_STEP else 1
