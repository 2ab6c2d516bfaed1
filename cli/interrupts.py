"""Ctrl-C, SIGTERM and a closed terminal's SIGHUP on the command line: the first one decides, the
rest are ignored until the process exits, and none can tear a C extension's import apart.

Inside a signal handler "ignored" is a Python handler that does nothing (`quiet`): Python runs
the handlers of signals that arrived together one after another, and one whose handler had
meanwhile become SIG_IGN raised "Signal 15 ignored due to race condition". Once the work is
over, outside any handler, it becomes SIG_IGN (`ignore_all`), which also holds while Python
shuts down, when Python puts its own handlers back to the default action (a held-down Ctrl-C
killed the process at its very end).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def quiet() -> None:
    """In a signal handler: from now on these signals do nothing."""
    for number in SIGNALS:
        signal.signal(number, _ignored)


def ignore_all() -> None:
    """Outside a handler: these signals are ignored until the exit."""
    quiet()  # one already on its way finds a handler
    for number in SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    try:  # a signal that arrived during the switch: each call first runs what is pending
        for number in SIGNALS:
            signal.signal(number, signal.SIG_IGN)
    except OSError:
        pass


def interrupt_once(signum: int, frame: object) -> None:
    """Before a command's own handler: one KeyboardInterrupt, then nothing until the exit."""
    quiet()
    raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """A signal during the block (an import of torch or numpy, whose C code aborts the process
    when a KeyboardInterrupt comes through it) is raised as KeyboardInterrupt after it."""
    caught: list[int] = []
    before = {number: signal.signal(number, lambda signum, frame: caught.append(signum)) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
    if caught:
        interrupt_once(caught[0], None)


def _ignored(signum: int, frame: object) -> None:
    pass
