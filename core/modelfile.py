"""Model files: weights in safetensors (never unpickled) with the run's config as metadata."""

from __future__ import annotations

import json
from pathlib import Path


from l1_trainer.core.config import TrainConfig
from l1_trainer.core.files import write_atomic
from l1_trainer.core.model import MLP

FORMAT = "l1-trainer-mlp/1"


class ModelFileError(RuntimeError):
    """A model file that cannot be used: unreadable, not ours, or another architecture."""


def save_model(path: Path, model: MLP, config: TrainConfig, summary: dict[str, object]) -> None:
    """Write the weights and metadata atomically: a crash leaves the old file or none."""
    from safetensors.torch import save

    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "config": json.dumps(config.to_dict()),
        "summary": json.dumps(summary),
    }
    write_atomic(Path(path), save(state, metadata=metadata))


def load_model(path: Path) -> tuple[MLP, TrainConfig, dict[str, object]]:
    """Read a file written by save_model; raise ModelFileError saying what is wrong."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        state = load(raw)
        metadata = _metadata(raw)
    except (SafetensorError, ValueError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path} is not a safetensors model file or is damaged ({exc})") from exc
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path} is a safetensors file, but not an L1 Trainer model")
    try:
        config = TrainConfig(**_tuple_fields(json.loads(metadata["config"])))
        summary = json.loads(metadata.get("summary", "{}"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path} has unreadable metadata ({exc})") from exc
    model = MLP(config.hidden_sizes)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(
            f"{path} does not match its declared architecture {config.hidden_sizes}: {exc}"
        ) from exc
    return model, config, summary


def _metadata(raw: bytes) -> dict[str, str]:
    # safetensors' header: 8-byte little-endian length, then JSON with "__metadata__".
    size = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + size]).get("__metadata__") or {}


def _tuple_fields(fields: dict) -> dict:
    return {**fields, "hidden_sizes": tuple(fields.get("hidden_sizes", ()))}
