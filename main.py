"""L1 Trainer: with no arguments it opens the window; `l1-trainer train ...` trains headless."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

from .cli import interrupts
from .core import lazy

DESKTOP_OPTIONS = ("--install-desktop-entry", "--uninstall-desktop-entry")
TORCH_COMMANDS = ("train", "sweep", "prune")  # they import PyTorch; `runs` and --help do not


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        from .gui.app import run  # Qt only when there is a window to show

        return run()
    for number in interrupts.SIGNALS:
        signal.signal(number, interrupts.interrupt_once)
    try:
        try:
            return _command(args)
        finally:
            interrupts.ignore_all()  # the work is over: nothing interrupts the last words or the exit
    except KeyboardInterrupt:  # before a command's own handler was in place, or just after it
        interrupts.ignore_all()
        print("l1-trainer: interrupted", file=sys.stderr)
        return 130


def _command(args: list[str]) -> int:
    if args[0] in DESKTOP_OPTIONS:
        return desktop_entry(args)
    with interrupts.deferred():  # numpy's and torch's imports must not be torn by a Ctrl-C
        from .cli.commands import main as cli_main

        if args[0] in TORCH_COMMANDS and not {"-h", "--help"} & set(args):
            lazy.load()
    return cli_main(args)


def main_gui() -> int:
    """The GUI launcher ([project.gui-scripts]: no console window on Windows)."""
    return main([])


def desktop_entry(args: list[str]) -> int:
    from .cli import desktop
    from .cli.commands import say

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
