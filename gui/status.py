"""The status bar's run readout: epoch and step, progress, speed and time left."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from l1_trainer.core.config import TrainConfig


class StatusReadout:
    """Widgets added to the window's status bar, fed from the worker's step signals."""

    TEXT_INTERVAL_S = 0.25  # repainting the status bar costs the training thread GIL time

    def __init__(self, bar: QStatusBar) -> None:
        self.state = QLabel("Loading PyTorch…")
        self.state.setObjectName("statusLabel")
        self.position = QLabel("")
        self.position.setObjectName("epochLabel")
        self.progress = QProgressBar()
        self.progress.setObjectName("progressBar")
        self.progress.setAccessibleName("Training progress")
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.speed = QLabel("")
        self.speed.setObjectName("speedLabel")
        bar.addWidget(self.state, 1)
        for widget in (self.position, self.progress, self.speed):
            bar.addPermanentWidget(widget)
        self._total = 1
        self._epochs = 1
        self._shown_at = 0.0
    def set_state(self, text: str) -> None:
        self.state.setText(text)

    def start(self, config: TrainConfig) -> None:
        self._epochs = config.epochs
        self._steps_per_epoch = config.steps_per_epoch
        self._total = config.epochs * config.steps_per_epoch
        self.progress.setRange(0, self._total)
        self.progress.setValue(0)
        self.position.setText(f"Epoch 1/{self._epochs} · step 0")
        self.speed.setText("")

    def update(self, step: int, samples_per_s: float, batch_size: int) -> None:
        now = time.perf_counter()
        if now - self._shown_at < self.TEXT_INTERVAL_S and step < self._total:
            return
        self._shown_at = now
        epoch = min(self._epochs, step // self._steps_per_epoch + 1)
        self.position.setText(f"Epoch {epoch}/{self._epochs} · step {step:,}")
        self.progress.setValue(step)
        left = (self._total - step) * batch_size / max(samples_per_s, 1e-9)
        self.speed.setText(f"{samples_per_s:,.0f} samples/s · {_duration(left)} left")


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
