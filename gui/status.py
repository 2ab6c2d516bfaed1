"""The status bar: what the app is doing, the run's (or sweep's) epoch and step, progress,
speed and time left; all rendered from the session, so it is never left showing an old run."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QProgressBar, QSizePolicy, QStatusBar

from ..core.app.records import RunRecord
from ..core.app.session import AppState, CurrentModel, Session
from ..core.training.events import Event, HyperparamsChanged, Paused, Steps
from .inputs import plain_label

TEXT_INTERVAL_S = 0.25  # repainting the status bar costs the training thread GIL time
READY = "Ready: pick a preset and press Start"


class StatusReadout:
    """Widgets added to the window's status bar."""

    def __init__(self, bar: QStatusBar, session: Session) -> None:
        self.session = session
        self.state = plain_label("Loading PyTorch…")
        self.state.setObjectName("statusLabel")
        # A long run name must not make the window wider: it is cut off instead.
        self.state.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.position = plain_label("")
        self.position.setObjectName("epochLabel")
        self.progress = QProgressBar()
        self.progress.setObjectName("progressBar")
        self.progress.setAccessibleName("Training progress")
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.speed = plain_label("")
        self.speed.setObjectName("speedLabel")
        bar.addWidget(self.state, 1)
        for widget in (self.position, self.progress, self.speed):
            bar.addPermanentWidget(widget)
        self._shown_at = 0.0
        self.ending = ""  # how the last run ended, in words
        events = session.events
        events.state.connect(self._state_changed)
        events.run_started.connect(self._started)
        events.run_event.connect(self._event)
        events.run_ended.connect(self._ended)
        events.runs.connect(self._history_changed)
        events.evaluation.connect(self._evaluated)

    def _state_changed(self, state: AppState) -> None:
        record = self.session.active
        text = {
            AppState.LOADING: "Loading PyTorch…",
            AppState.IDLE: READY,
            AppState.PAUSED: "Paused",
            AppState.STOPPING: "Stopping…",
            AppState.BROKEN: "Cannot train",
        }.get(state)
        if state is AppState.RUNNING and record is not None:
            text = self._what(record)
        if text is not None and not (state is AppState.IDLE and self.session.history):
            self.state.setText(text)

    def _what(self, record: RunRecord) -> str:
        if record.sweep:
            return f"{_named(record)}: {record.k} L1 weights at once"
        if record.comparison:
            return f"{_named(record)}: " + ", ".join(record.model_name(m) for m in range(record.k))
        return f"{_named(record)}: {record.schedule()}"

    def _started(self, record: RunRecord) -> None:
        self.progress.setRange(0, record.total_steps)
        self.progress.setValue(0)
        self.position.setText(f"Epoch 1/{record.config.epochs} · step 0")
        self.speed.setText("")
        self.state.setText(self._what(record))

    def _event(self, record: RunRecord, event: Event) -> None:
        if isinstance(event, HyperparamsChanged) and self.session.state is AppState.RUNNING:
            self.state.setText(self._what(record))  # the schedule, with the change
        if isinstance(event, Paused):  # where it stopped, at once; no speed while it waits
            self._show_position(record)
            self.speed.setText("")
            return
        if not isinstance(event, Steps):
            return
        now = time.perf_counter()
        if now - self._shown_at < TEXT_INTERVAL_S:
            return
        self._shown_at = now
        self._show_position(record)
        left = record.seconds_left()
        self.speed.setText(f"{record.samples_per_s:,.0f} samples/s"
                           + (f" · {duration(left)} left" if left is not None else ""))

    def _show_position(self, record: RunRecord) -> None:
        step = record.ended.step if record.ended else record.steps_done
        epoch = min(record.config.epochs, step // record.config.steps_per_epoch + 1)
        self.position.setText(f"Epoch {epoch}/{record.config.epochs} · step {step:,}")
        self.progress.setValue(step)

    def _ended(self, record: RunRecord) -> None:
        ended = record.ended
        assert ended is not None
        self._show_position(record)
        self.speed.setText("")
        name = _named(record)
        self.ending = {
            "finished": f"{name} finished {ended.epochs_done} epoch(s)",
            "stopped": f"{name} stopped at step {ended.step:,}",
        }.get(ended.status.value, f"{name} failed at step {ended.step:,}")
        self.state.setText(self.ending)

    def _history_changed(self) -> None:
        if not self.session.history and self.session.active is None:  # after Reset
            self.ending = ""
            self.state.setText(READY)
            self.position.setText("")
            self.speed.setText("")
            self.progress.setRange(0, 1)
            self.progress.setValue(0)

    def _evaluated(self, model: CurrentModel) -> None:
        """How the last run ended (if there was one), then what the current model scores."""
        if self.session.active is None:
            evaluation = model.evaluation
            if evaluation is None:
                return
            prefix = f"{self.ending}. " if self.ending and self.session.history else ""
            self.state.setText(f"{prefix}Current model ({model.origin}): test accuracy "
                               f"{evaluation.accuracy:.2%} on {len(evaluation.labels):,} test images")


def _named(record: RunRecord) -> str:
    """`Run #3`, `Comparison #7`: the title, as the Runs tab numbers it."""
    return record.title[:1].upper() + record.title[1:]


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
