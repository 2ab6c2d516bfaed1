"""A Qt-free signal: what the application model emits and views connect to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Emitter:
    """Callbacks connected to it are called, in order, with what is emitted."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.append(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            callback(*args)
