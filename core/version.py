"""The app's version, from the installed package's metadata (pyproject.toml is the source)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def app_version() -> str:
    try:
        return metadata.version("l1-trainer")
    except metadata.PackageNotFoundError:  # running from a checkout that was not installed
        found = re.search(r'^version = "([^"]+)"', PYPROJECT.read_text(), re.M)
        return found.group(1) if found else "unknown"
