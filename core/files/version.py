"""The app's version, from the installed package's metadata (pyproject.toml is the source)."""

from __future__ import annotations

from importlib import metadata


def app_version() -> str:
    try:
        return metadata.version("l1-trainer")
    except metadata.PackageNotFoundError:  # a bundle built without the package's metadata
        return "unknown"
