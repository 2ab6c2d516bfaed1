"""Which compute devices exist here, and turning a device name into a usable torch.device."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ExplainedError


class DeviceUnavailableError(ExplainedError):
    """The requested device does not exist on this machine."""


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # what TrainConfig.device takes: "cpu", "cuda:0", "mps"
    label: str  # for people: "CUDA 0: NVIDIA H100"


def available_devices() -> list[DeviceInfo]:
    """CPU always, then each CUDA GPU by name, then Apple's MPS where present."""
    devices = [DeviceInfo("cpu", "CPU")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            devices.append(DeviceInfo(f"cuda:{i}", f"CUDA {i}: {torch.cuda.get_device_name(i)}"))
    if torch.backends.mps.is_available():
        devices.append(DeviceInfo("mps", "Apple GPU (MPS)"))
    return devices


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then CPU; any other name must exist here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DeviceUnavailableError(f"device {name!r} is not a device name: {exc}") from exc
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = device.index or 0
        if not 0 <= index < count:
            found = f"{count} CUDA GPU(s)" if count else "no usable CUDA GPU"
            raise DeviceUnavailableError(
                f"device {name!r} is not available: this machine has {found}; "
                "choose cpu or auto"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailableError(
            "device 'mps' is not available: it needs an Apple-silicon Mac; choose cpu or auto"
        )
    return device
