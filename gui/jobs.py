"""Background work: one family of jobs, one exclusive slot, one shutdown.

Every job is one function run in its own QThread (the shape of PySide's mandelbrot example, and
of superqt's function and generator workers): it may report progress through the `emit` it is
given, and its result or failure comes back as queued signals in the GUI thread. A QThread
subclass rather than a worker object: the function needs no event loop or slots of its own,
and the thread object, living in the GUI thread, is safe to wait on from there.

The runner holds one exclusive slot, for a run or a sweep; for every other kind of job only the
newest counts: the result of an older evaluation is dropped, never shown over a newer one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

Work = Callable[[Callable[[object], None]], object]  # work(emit) -> result


class Job(QThread):
    progressed = Signal(object)
    returned = Signal(object)
    failed = Signal(str)

    def __init__(self, kind: str, work: Work, cancel: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.kind = kind
        self._work = work
        self.cancel = cancel or (lambda: None)

    def run(self) -> None:
        try:
            result = self._work(self.progressed.emit)
        except Exception as exc:  # noqa: BLE001  every failure must reach the window, not kill the thread
            self.failed.emit(describe_failure(exc))
        else:
            self.returned.emit(result)


@dataclass
class _Handlers:
    progress: Callable[[object], None] | None
    done: Callable[[object], None] | None
    fail: Callable[[str], None] | None
    outcome: tuple[bool, object] | None = None  # (succeeded, result or message)


class JobRunner(QObject):
    """Starts jobs and hands their signals to plain callbacks, in the GUI thread."""

    EXCLUSIVE = "training"  # a run or a sweep: one at a time

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._handlers: dict[Job, _Handlers] = {}
        self._newest: dict[str, Job] = {}
        self._closed = False

    @property
    def jobs(self) -> list[Job]:
        """The jobs whose threads have not been reported finished yet."""
        return list(self._handlers)

    @property
    def closed(self) -> bool:
        """Whether shutdown has begun: results still arrive, but no job starts."""
        return self._closed

    @property
    def busy(self) -> bool:
        """Whether a run or a sweep holds the exclusive slot."""
        job = self._newest.get(self.EXCLUSIVE)
        return job is not None and job in self._handlers

    def start(self, kind: str, work: Work, *, progress: Callable[[object], None] | None = None,
              done: Callable[[object], None] | None = None, fail: Callable[[str], None] | None = None,
              cancel: Callable[[], None] | None = None) -> Job | None:
        """Run `work` in a new thread; None when `kind` is the exclusive one and it is taken,
        or when the runner has shut down."""
        if self._closed or (kind == self.EXCLUSIVE and self.busy):
            return None
        job = Job(kind, work, cancel)
        self._handlers[job] = _Handlers(progress, done, fail)
        self._newest[kind] = job
        # Bound slots of this GUI-thread object: queued from the job's thread, never run in it.
        job.progressed.connect(self._progressed)
        job.returned.connect(self._returned)
        job.failed.connect(self._failed)
        job.finished.connect(self._finished)
        job.start()
        return job

    def cancel(self, kind: str) -> None:
        job = self._newest.get(kind)
        if job is not None and job in self._handlers:
            job.cancel()

    def shutdown(self) -> None:
        """Closing the window: ask every job to stop, wait for all of them, then hand on what
        they reported (a run's end must still reach the history). No job starts after this."""
        self._closed = True
        jobs = list(self._handlers)
        for job in jobs:
            job.cancel()
        for job in jobs:
            job.wait()
        # Their results and ends are queued to this object; the event loop will not run again.
        QCoreApplication.sendPostedEvents(self)

    def _current(self, job: Job) -> _Handlers | None:
        """The job's handlers, unless a newer job of its kind has replaced it."""
        if self._newest.get(job.kind) is not job:
            return None
        return self._handlers.get(job)

    @Slot(object)
    def _progressed(self, value: object) -> None:
        handlers = self._current(self.sender())
        if handlers is not None and handlers.progress is not None:
            handlers.progress(value)

    @Slot(object)
    def _returned(self, value: object) -> None:
        self._handlers[self.sender()].outcome = (True, value)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._handlers[self.sender()].outcome = (False, message)

    @Slot()
    def _finished(self) -> None:
        """The outcome is handed on only now, when the thread is over and its slot is free."""
        job = self.sender()
        handlers = self._current(job)
        self._handlers.pop(job)
        if self._newest.get(job.kind) is job:
            del self._newest[job.kind]
        job.deleteLater()
        if handlers is None or handlers.outcome is None:
            return
        succeeded, result = handlers.outcome
        callback = handlers.done if succeeded else handlers.fail
        if callback is not None:
            callback(result)


def describe_failure(exc: BaseException) -> str:
    """One line a user can act on, for any exception a job can raise."""
    import torch

    from ..core.files.data import DataError
    from ..core.training.devices import DeviceUnavailableError

    if isinstance(exc, torch.OutOfMemoryError):
        return "out of memory on the training device: try a smaller batch size or the CPU"
    if isinstance(exc, (DataError, DeviceUnavailableError, ValueError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
