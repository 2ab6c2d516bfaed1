"""L1 Trainer: with no arguments it opens the window; `l1-trainer train ...` trains headless."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

DESKTOP_OPTIONS = ("--install-desktop-entry", "--uninstall-desktop-entry")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        from l1_trainer.gui.app import run  # Qt only when there is a window to show

        return run()
    previous = signal.signal(signal.SIGINT, _interrupt_once)
    try:
        if args[0] in DESKTOP_OPTIONS:
            return desktop_entry(args)
        from l1_trainer.core.cli import main as cli_main

        return cli_main(args)
    except KeyboardInterrupt:  # Ctrl-C before a command's own handler is in place
        print("l1-trainer: interrupted", file=sys.stderr)
        return 130
    finally:
        if signal.getsignal(signal.SIGINT) is _interrupt_once:  # not once stopping: ignored to the exit
            signal.signal(signal.SIGINT, previous)


def _interrupt_once(signum: int, frame: object) -> None:
    """Ctrl-C before a command's own handler: one KeyboardInterrupt, then the rest are ignored
    until the exit (a held-down key must not interrupt the message or the exit)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def main_gui() -> int:
    """The GUI launcher ([project.gui-scripts]: no console window on Windows)."""
    return main([])


def desktop_entry(args: list[str]) -> int:
    from l1_trainer.core import desktop
    from l1_trainer.core.cli import say

    if len(args) > 1:
        say(f"l1-trainer: error: {args[0]} takes no arguments, got {' '.join(args[1:])}", err=True)
        return 2
    install = args[0] == DESKTOP_OPTIONS[0]
    try:
        changed = desktop.install() if install else desktop.uninstall()
    except OSError as exc:
        say(f"l1-trainer: error: {exc}", err=True)
        return 1
    if not changed:
        say("Nothing to remove: no menu entry was installed")
        return 0
    verb = "Wrote" if install else "Removed"
    say(f"{verb} {len(changed)} file(s): {', '.join(str(p) for p in changed[:2])}"
        + (" and the icons" if len(changed) > 2 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
