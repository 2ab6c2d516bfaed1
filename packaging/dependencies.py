"""The app's dependencies as pyproject.toml declares them, for the packaging scripts.

    python packaging/dependencies.py floors         each at exactly its '>=' floor (floors.sh)
    python packaging/dependencies.py bundle [cuda]  all but torch, and torchvision only for a
                                                    CUDA bundle (build.sh installs torch itself)

One requirement a line, only those whose environment marker holds for this Python.
"""

import sys
import tomllib
from pathlib import Path

from pip._vendor.packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def main(mode: str, *flags: str) -> None:
    for text in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue
        if mode == "floors":
            low = [s.version for s in req.specifier if s.operator == ">="]
            if len(low) != 1:
                sys.exit(f"{text}: no single '>=' floor to test")
            print(f"{req.name}=={low[0]}")  # pip reads 2.10 as 2.10.0
        elif req.name != "torch" and (req.name != "torchvision" or "cuda" in flags):
            print(text)


if __name__ == "__main__":
    main(*sys.argv[1:])
