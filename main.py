"""L1 Trainer: with no arguments it opens the window; `l1-trainer train ...` trains headless."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        from l1_trainer.gui.app import run  # Qt only when there is a window to show

        return run()
    if args[0] in ("--install-desktop-entry", "--uninstall-desktop-entry"):
        return desktop_entry(install=args[0] == "--install-desktop-entry")
    from l1_trainer.core.cli import main as cli_main

    return cli_main(args)


def main_gui() -> int:
    """The GUI launcher ([project.gui-scripts]: no console window on Windows)."""
    return main([])


def desktop_entry(install: bool) -> int:
    from l1_trainer.core import desktop

    try:
        changed = desktop.install() if install else desktop.uninstall()
    except OSError as exc:
        print(f"l1-trainer: error: {exc}", file=sys.stderr)
        return 1
    verb = "Wrote" if install else "Removed"
    print(f"{verb} {len(changed)} file(s): {', '.join(str(p) for p in changed[:2])}"
          + (" and the icons" if len(changed) > 2 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
