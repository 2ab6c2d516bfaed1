"""The one place where PyTorch-backed code is loaded on first use.

Importing PyTorch takes seconds. The window must appear before it has loaded (its load job
imports it in the background) and `l1-trainer --help`, `runs` and a bad argument must never
wait for it. So modules that run before then reach the PyTorch-backed names through this
module: `lazy.Trainer` imports core/training/engine.py the first time it is read (a module
`__getattr__`, PEP 562; the pattern of scientific Python's lazy_loader). Everything else is
imported at the top of the module that uses it.

The checker and an editor read the same names from the imports under TYPE_CHECKING; a test
keeps them and `_HOMES` the same.
"""

# ruff: noqa: F401

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names this module gives, for the checker (ruff: they are its exports)
    import torch
    from torchvision.datasets import MNIST

    from .files.data import DataError, load_mnist
    from .files.modelfile import ModelFileError, live_changes, load_model, model_bytes, save_model
    from .files.onnx_export import export_model
    from .files.script_export import run_script
    from .training.compaction import compact
    from .training.devices import DeviceUnavailableError, available_devices, resolve_device
    from .training.engine import Control, Trainer
    from .training.inference import activations, evaluate, model_from_state, probabilities
    from .training.preprocess import preprocess_drawing
    from .training.pruning import pruning_curve

_HOMES = {
    "torch": "torch",
    "MNIST": "torchvision.datasets",
    "DataError": ".files.data",
    "load_mnist": ".files.data",
    "ModelFileError": ".files.modelfile",
    "load_model": ".files.modelfile",
    "model_bytes": ".files.modelfile",
    "save_model": ".files.modelfile",
    "live_changes": ".files.modelfile",
    "export_model": ".files.onnx_export",
    "run_script": ".files.script_export",
    "compact": ".training.compaction",
    "DeviceUnavailableError": ".training.devices",
    "available_devices": ".training.devices",
    "resolve_device": ".training.devices",
    "Control": ".training.engine",
    "Trainer": ".training.engine",
    "activations": ".training.inference",
    "evaluate": ".training.inference",
    "model_from_state": ".training.inference",
    "probabilities": ".training.inference",
    "preprocess_drawing": ".training.preprocess",
    "pruning_curve": ".training.pruning",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(home, __package__)
    value = module if name == home else getattr(module, name)
    globals()[name] = value  # found once; later reads are plain attribute reads
    return value


def load() -> None:
    """Import PyTorch and the engine now (the window's load job, in its own thread)."""
    importlib.import_module(".training.engine", __package__)
