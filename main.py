"""L1 Trainer: with no arguments it opens the window; `l1-trainer train ...` trains headless."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        from gui.app import run  # Qt only when there is a window to show

        return run()
    from core.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
