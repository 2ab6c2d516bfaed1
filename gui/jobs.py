"""Background work: two kinds of job, one exclusive slot, one shutdown.

A job is a function or a generator run in its own QThread, as superqt's FunctionWorker and
GeneratorWorker: a function's return value is its result; a generator's yielded values are its
progress and its return value its result. A failure travels as the exception itself, so the
one who started the job can branch on its type and make the text where it is shown (Orange3's
pattern). A QThread subclass rather than a worker object: the work needs no event loop or slots
of its own, and the thread object, living in the GUI thread, is safe to wait on from there.

The runner holds one exclusive slot, for a run or a sweep; for every other kind of job only the
newest counts: the result of an older evaluation is dropped, never shown over a newer one.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

Function = Callable[[], Any]
Steps = Callable[[], Generator[Any, None, Any]]  # makes the generator, in the job's thread
Handler = Callable[[Any], None]
Failure = Callable[[Exception], None]


class Job(QThread):
    yielded = Signal(object)
    returned = Signal(object)
    raised = Signal(object)  # the exception

    def __init__(self, kind: str, cancel: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.cancel = cancel or (lambda: None)

    def run(self) -> None:
        try:
            result = self.work()
        except Exception as exc:  # noqa: BLE001  every failure must reach the window, not kill the thread
            self.raised.emit(exc)
        else:
            self.returned.emit(result)

    def work(self) -> Any:
        raise NotImplementedError


class FunctionJob(Job):
    def __init__(self, kind: str, function: Function) -> None:
        super().__init__(kind)
        self._function = function

    def work(self) -> Any:
        return self._function()


class GeneratorJob(Job):
    def __init__(self, kind: str, steps: Steps, cancel: Callable[[], None] | None = None) -> None:
        super().__init__(kind, cancel)
        self._steps = steps

    def work(self) -> Any:
        generator = self._steps()
        while True:
            try:
                value = next(generator)
            except StopIteration as end:
                return end.value
            self.yielded.emit(value)


@dataclass
class _Handlers:
    progress: Handler | None
    done: Handler | None
    fail: Failure | None
    outcome: tuple[bool, Any] | None = None  # (succeeded, result or exception)


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

    def call(self, kind: str, function: Function, *, done: Handler | None = None,
             fail: Failure | None = None) -> Job | None:
        """Run `function()` in a new thread; `done(result)` or `fail(exception)` follow.
        None when the runner has shut down."""
        return self._start(FunctionJob(kind, function), _Handlers(None, done, fail))

    def iterate(self, kind: str, steps: Steps, *, progress: Handler | None = None,
                done: Handler | None = None, fail: Failure | None = None,
                cancel: Callable[[], None] | None = None) -> Job | None:
        """Run the generator `steps()` in a new thread: `progress(value)` for each value it
        yields, then `done(returned)` or `fail(exception)`. None when `kind` is the exclusive
        one and it is taken, or when the runner has shut down."""
        if kind == self.EXCLUSIVE and self.busy:
            return None
        return self._start(GeneratorJob(kind, steps, cancel), _Handlers(progress, done, fail))

    def _start(self, job: Job, handlers: _Handlers) -> Job | None:
        if self._closed:
            return None
        self._handlers[job] = handlers
        self._newest[job.kind] = job
        # Bound slots of this GUI-thread object: queued from the job's thread, never run in it.
        job.yielded.connect(self._yielded)
        job.returned.connect(self._returned)
        job.raised.connect(self._raised)
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

    def _job(self) -> Job:
        job = self.sender()
        assert isinstance(job, Job)
        return job

    def _current(self, job: Job) -> _Handlers | None:
        """The job's handlers, unless a newer job of its kind has replaced it."""
        if self._newest.get(job.kind) is not job:
            return None
        return self._handlers.get(job)

    @Slot(object)
    def _yielded(self, value: Any) -> None:
        handlers = self._current(self._job())
        if handlers is not None and handlers.progress is not None:
            handlers.progress(value)

    @Slot(object)
    def _returned(self, value: Any) -> None:
        self._handlers[self._job()].outcome = (True, value)

    @Slot(object)
    def _raised(self, exc: Exception) -> None:
        self._handlers[self._job()].outcome = (False, exc)

    @Slot()
    def _finished(self) -> None:
        """The outcome is handed on only now, when the thread is over and its slot is free."""
        job = self._job()
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
