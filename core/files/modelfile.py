"""Model files: weights in safetensors (never unpickled) with the run's config as metadata.

A file is read as untrusted input: its size, its header and every tensor's name, dtype, shape
and place are checked against the architecture its metadata declares before a tensor is
allocated, and weights that are not finite are refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeGuard

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from ..app.records import MAX_LIVE_CHANGES
from ..errors import ExplainedError
from ..training.config import IMAGE_PIXELS, MAX_EPOCHS, MAX_HIDDEN_LAYERS, MAX_UNITS, NUM_CLASSES, TrainConfig
from ..training.model import MLP
from .reading import NotAFile, TooLarge, read_regular
from .writing import write_atomic

FORMAT = "l1-trainer-mlp/1"
MAX_HEADER_BYTES = 100_000  # ours are about 1 KB; the rest is room for long summaries
_DTYPES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}  # floating point only: no silent casts
_LARGEST = [IMAGE_PIXELS, *[MAX_UNITS] * MAX_HIDDEN_LAYERS, NUM_CLASSES]
# The largest file this app can write: the biggest allowed MLP in float64, plus the header.
MAX_FILE_BYTES = 8 + MAX_HEADER_BYTES + 8 * sum((a + 1) * b for a, b in zip(_LARGEST, _LARGEST[1:]))


class ModelFileError(ExplainedError):
    """A model file that cannot be used: unreadable, not ours, damaged or another architecture."""


def save_model(path: Path, model: MLP, config: TrainConfig, summary: dict[str, object]) -> None:
    """Write the weights and metadata atomically: a crash leaves the old file or none."""
    write_atomic(Path(path), model_bytes(model, config, summary))


def model_bytes(model: MLP, config: TrainConfig, summary: dict[str, object]) -> bytes:
    """The model file's bytes: the weights in safetensors, the config and summary as metadata."""
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    bad = _non_finite(state)
    if bad:
        raise ModelFileError(f"the weights in {bad} are not finite numbers; there is nothing to save")
    metadata = {
        "format": FORMAT,
        "config": json.dumps(config.to_dict()),
        "summary": json.dumps(summary),
    }
    return save(state, metadata=metadata)


def load_model(path: Path) -> tuple[MLP, TrainConfig, dict[str, object]]:
    """Read a file written by save_model; raise ModelFileError saying what is wrong."""
    path = Path(path)
    raw = _read_bounded(path)
    header = _header(raw, path)
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path} is a safetensors file, but not an L1 Trainer model")
    try:
        fields = json.loads(metadata["config"])
        config = TrainConfig(**{**fields, "hidden_sizes": tuple(fields.get("hidden_sizes", ()))})
        summary = json.loads(metadata.get("summary", "{}"))
        _check_summary(summary)
    except (KeyError, TypeError, ValueError, RecursionError, AttributeError) as exc:
        raise ModelFileError(f"{path} has unreadable metadata ({_short(exc)})") from exc
    _check_tensors(header, config, len(raw) - 8 - int.from_bytes(raw[:8], "little"), path)
    try:
        # Checked in float32, what the model computes in: 1e300 in float64 is inf there.
        state = {name: t.to(torch.float32) for name, t in load(raw).items()}
    except (SafetensorError, ValueError) as exc:
        raise ModelFileError(f"{path} is damaged ({_short(exc)})") from exc
    bad = _non_finite(state)
    if bad:
        raise ModelFileError(f"{path} holds weights that are not finite numbers (NaN or inf) in "
                             f"{bad}, or too large for float32: it was saved from a run that diverged")
    model = MLP(config.hidden_sizes)
    model.load_state_dict(state)  # names, shapes and dtypes were checked
    return model, config, summary


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, if it is a regular file no larger than this app ever writes."""
    try:
        return read_regular(path, MAX_FILE_BYTES)
    except NotAFile as exc:
        raise ModelFileError(f"{exc}; choose a .safetensors model file") from exc
    except TooLarge as exc:
        raise ModelFileError(f"{exc}, larger than any L1 Trainer model ({MAX_FILE_BYTES:,} at most)") from exc
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _header(raw: bytes, path: Path) -> dict:
    """safetensors' header: an 8-byte little-endian length, then that many bytes of JSON."""
    size = int.from_bytes(raw[:8], "little") if len(raw) >= 8 else -1
    if not 2 <= size <= min(MAX_HEADER_BYTES, len(raw) - 8):
        raise ModelFileError(f"{path} is not a safetensors model file or is damaged "
                             "(no valid header at its start)")
    try:
        header = json.loads(raw[8 : 8 + size])
    except (ValueError, RecursionError) as exc:  # RecursionError: deeply nested JSON
        raise ModelFileError(f"{path} is not a safetensors model file or is damaged "
                             f"({_short(exc)})") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{path} is not a safetensors model file (its header is not an object)")
    return header


def _check_tensors(header: dict, config: TrainConfig, data_bytes: int, path: Path) -> None:
    """Every tensor the declared architecture needs, and nothing else, in a float dtype and
    its exact shape, inside the file."""
    with torch.device("meta"):  # shapes without allocating
        expected = {name: tuple(t.shape) for name, t in MLP(config.hidden_sizes).state_dict().items()}
    if set(header) != set(expected):
        missing = sorted(set(expected) - set(header))
        extra = sorted(set(header) - set(expected))
        raise ModelFileError(
            f"{path} does not match its declared architecture {config.hidden_sizes}: "
            + "; ".join([f"missing {', '.join(missing)}"] * bool(missing)
                        + [f"unexpected {', '.join(extra[:3])}"] * bool(extra)))
    for name, shape in expected.items():
        entry = header[name]
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise ModelFileError(f"{path}: {name} is stored as {dtype!r}; only floating-point "
                                 f"weights ({', '.join(_DTYPES)}) are accepted")
        if entry.get("shape") != list(shape):
            raise ModelFileError(f"{path} does not match its declared architecture "
                                 f"{config.hidden_sizes}: {name} is {entry.get('shape')}, "
                                 f"expected {list(shape)}")
        offsets = entry.get("data_offsets")
        span = math.prod(shape) * _DTYPES[dtype]
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_bytes
                or offsets[1] - offsets[0] != span):
            raise ModelFileError(f"{path} is damaged: {name}'s data lies outside the file")


def _check_summary(summary: object) -> None:
    """A TypeError or ValueError naming the first field of the summary the app cannot use."""
    if not isinstance(summary, dict):
        raise TypeError("the summary is not a JSON object")
    for name, (usable, kind) in _SUMMARY_FIELDS.items():
        if name in summary and not usable(summary[name]):
            raise ValueError(f"its summary's {name} is {_short(repr(summary[name]))}, not {kind}")


def _count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _fraction(value: object) -> bool:
    return value is None or (_real(value) and 0 <= value <= 1)


def _real(value: object) -> TypeGuard[float]:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer of 400 digits
        return False


# The summary's fields that are read back, with what each must be (json.loads takes NaN,
# Infinity and 1e400 as floats).
_SUMMARY_FIELDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "step": (_count, "a whole number"),
    "epochs_done": (_count, "a whole number"),
    "epoch": (lambda v: _real(v) and 0 <= v <= MAX_EPOCHS, f"a number from 0 to {MAX_EPOCHS:,}"),
    "test_accuracy": (_fraction, "a fraction from 0 to 1"),
    "sparsity": (_fraction, "a fraction from 0 to 1"),
    "schedule": (lambda v: isinstance(v, str), "text"),
    "changes": (lambda v: _changes(v), f"at most {MAX_LIVE_CHANGES} live changes, each [step, L1, L2, lr]"),
    "status": (lambda v: isinstance(v, str), "text"),
}


def live_changes(summary: Mapping[str, object]) -> list[tuple[int, float, float, float]]:
    """The live changes a model file's summary carries (checked when it was read), as tuples."""
    changes = summary.get("changes")
    if not isinstance(changes, list):
        return []
    return [(int(c[0]), float(c[1]), float(c[2]), float(c[3])) for c in changes]


def _changes(value: object) -> bool:
    """[[first step, L1 weight, L2 weight, lr], ...], as RunRecord.live_changes gives them."""
    return isinstance(value, list) and len(value) <= MAX_LIVE_CHANGES and all(
        isinstance(c, list) and len(c) == 4 and _count(c[0]) and all(_real(v) and v >= 0 for v in c[1:])
        and c[3] > 0 for c in value)


def _non_finite(state: dict[str, torch.Tensor]) -> str:
    """The names of the tensors holding NaN or inf, or ''."""
    return ", ".join(name for name, t in state.items() if not torch.isfinite(t).all())


def _short(exc: BaseException | str) -> str:
    return (str(exc) or type(exc).__name__)[:200]
