"""The window's costs, in one run: time to window, GUI overhead, event-loop latency, memory.

    python benchmarks/bench_gui.py [--epochs 1] [--repeats 2]

- Time to window: a fresh process that starts the app as `l1-trainer` does, until the window
  is exposed on screen (best of three; PyTorch is still loading in the background then).
- GUI overhead: one epoch at the "Balanced" preset's settings headless (the engine alone, as the
  CLI runs it) and inside the window with plots and readouts live, at the same PyTorch thread
  count, alternating, for each thread count from 1 to all cores; each side keeps its fastest.
- Responsiveness: while the window trains, a 10 ms QTimer records how late each tick fires; the
  99th percentile of that lateness is the event loop's latency, per thread count.
Runs offscreen unless QT_QPA_PLATFORM says otherwise (use xvfb-run with QT_QPA_PLATFORM=xcb for
a real X server).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

STARTUP_PROBE = """
import sys, time
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
from l1_trainer.gui.window import MainWindow
window = MainWindow(QSettings({ini!r}, QSettings.Format.IniFormat))
window.show()
window.load_torch()
while not (window.windowHandle() and window.windowHandle().isExposed()):
    app.processEvents()
app.processEvents()
print(time.time() - {start!r})
window.shutdown()  # the PyTorch import goes on in its thread: wait for it before exiting
window.close()
"""


def time_to_window(tmp: Path) -> float:
    runs = []
    for _ in range(3):
        code = STARTUP_PROBE.format(ini=str(tmp / "probe.ini"), start=time.time())
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return min(runs)


def headless_epoch(config, data) -> float:
    from l1_trainer.core.engine import Trainer
    from l1_trainer.core.events import EpochMetrics

    trainer = Trainer(config, data)
    return next(e for e in trainer.run() if isinstance(e, EpochMetrics)).seconds


def window_epoch(window, config) -> tuple[float, list[float]]:
    """Seconds of training in the window, and the event loop's lateness samples (ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    lateness: list[float] = []
    expected = [time.perf_counter() + 0.010]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, now - expected[0]) * 1000)
        expected[0] = now + 0.010

    probe = QTimer()
    probe.setTimerType(probe.timerType().PreciseTimer)
    probe.setInterval(10)
    probe.timeout.connect(tick)
    loop = QEventLoop()
    window.session.events.run_ended.connect(lambda record: loop.quit())
    window.controls.apply_config(config)
    window.start()
    record = window.session.active
    probe.start()
    loop.exec()
    probe.stop()
    return record.epochs[0].seconds, lateness


def stop_latency(window, config) -> float:
    """Seconds from Stop (pressed one second into a long run) until the run has ended and
    the window is idle again."""
    from PySide6.QtCore import QEventLoop, QTimer

    from l1_trainer.core.session import AppState

    window.controls.apply_config(config.replace(epochs=50))
    window.start()
    pressed = []
    loop = QEventLoop()

    def press() -> None:
        pressed.append(time.perf_counter())
        window.controller.stop()

    window.session.events.state.connect(lambda state: state is AppState.IDLE and loop.quit())
    QTimer.singleShot(1000, press)
    loop.exec()
    return time.perf_counter() - pressed[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tab", default="Curves", help="the tab on screen while training (e.g. Weights)")
    args = parser.parse_args()

    import tempfile

    tmp = Path(tempfile.mkdtemp())
    startup = time_to_window(tmp)

    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from l1_trainer.core.config import PRESETS
    from l1_trainer.core.data import load_mnist
    from l1_trainer.gui.window import MainWindow

    data = load_mnist("cpu")
    window = MainWindow(QSettings(str(tmp / "bench.ini"), QSettings.Format.IniFormat), data=data)
    window.resize(1400, 900)
    window.show()
    ready = QEventLoop()
    window.torchReady.connect(ready.quit)
    window.load_torch()
    ready.exec()
    import torch

    from l1_trainer.gui.window import worker_threads

    config = PRESETS["balanced"].replace(epochs=1, device="cpu")
    tabs = window.tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == args.tab))
    print(f"Qt platform {app.platformName()}, torch {torch.__version__}, {os.cpu_count()} cores, "
          f"{args.tab} tab on screen; the window trains with {worker_threads()} thread(s)")
    print(f"time to window:       {startup:.2f} s (best of 3; PyTorch still loading)")
    for threads in range(1, (os.cpu_count() or 1) + 1):
        torch.set_num_threads(threads)  # set in the GUI thread, it holds in the job threads
        headless, in_window, lateness = [], [], []
        for _ in range(args.repeats):
            headless.append(headless_epoch(config, data))
            seconds, late = window_epoch(window, config)
            in_window.append(seconds)
            lateness.extend(late)
        lateness.sort()
        p99 = lateness[int(0.99 * (len(lateness) - 1))]
        best_h, best_w = min(headless), min(in_window)
        print(f"{threads} thread(s): epoch headless {best_h:.3f} s, in the window {best_w:.3f} s: "
              f"{100 * (best_w / best_h - 1):+.1f}% (target: within 10%); event loop p50 "
              f"{lateness[len(lateness) // 2]:.1f} ms, p99 {p99:.1f} ms, max {lateness[-1]:.1f} ms "
              f"over {len(lateness)} ticks (target: p99 under 50 ms)")
    torch.set_num_threads(worker_threads())
    stops = [stop_latency(window, config) for _ in range(3)]
    window.close()
    print(f"stop latency:         {1000 * min(stops):.0f} ms from Stop to idle (runs: "
          f"{', '.join(f'{1000 * s:.0f}' for s in stops)} ms)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS) of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
