"""The window's costs, in one run: time to window, GUI overhead, event-loop latency, memory.

    python benchmarks/bench_gui.py [--epochs 1] [--repeats 2]

- Time to window: a fresh process that starts the app as `l1-trainer` does, until the window
  is exposed on screen (best of three; PyTorch is still loading in the background then).
- GUI overhead: the training time of a run (one epoch unless --epochs) at the "Balanced"
  preset's settings headless (the engine alone, as the CLI runs it) and inside the window with
  plots and readouts live, at the same PyTorch thread count, alternating, for each thread count
  from 1 to all cores; each side's fastest run and median are compared.
  Each run in the window starts with the earlier runs cleared from the plots (Clear old runs)
  and once the window's jobs are over: a finished run's test-image evaluation and its save to
  the history take a second more, and would land in the next measurement.
- Responsiveness: in runs of their own, a 10 ms QTimer records how late each tick fires while
  the window trains; the 99th percentile of that lateness is the event loop's latency.
Runs offscreen unless QT_QPA_PLATFORM says otherwise (use xvfb-run with QT_QPA_PLATFORM=xcb for
a real X server).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
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


def headless_run(config, data) -> float:
    from l1_trainer.core.training.engine import Trainer
    from l1_trainer.core.training.events import EpochMetrics

    trainer = Trainer(config, data)
    return sum(e.seconds for e in trainer.run() if isinstance(e, EpochMetrics))


def settle(window) -> None:
    """Wait until the window's jobs are over (a finished run's test-image evaluation and its
    save to the history go on for a second after it) and it has drawn what they brought, so
    that they do not land in the next measurement, the window's or the engine's."""
    while window.runner.jobs:
        pause(20)
    pause(300)


def pause(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def window_run(window, config, probe: bool) -> tuple[float, list[float]]:
    """Seconds of training in the window; with `probe`, also the event loop's lateness samples
    (ms) from a 10 ms timer. The probe's own ticks take the GIL a hundred times a second, so
    the overhead comes from runs without it."""
    from PySide6.QtCore import QEventLoop, QTimer

    lateness: list[float] = []
    expected = [0.0]  # when the next tick is due

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, now - expected[0]) * 1000)
        expected[0] = now + 0.010

    timer = QTimer()
    timer.setTimerType(timer.timerType().PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(tick)
    window.session.clear_old_runs()  # each finished run stays on the plots, drawn every frame
    settle(window)
    loop = QEventLoop()
    window.session.events.run_ended.connect(lambda record: loop.quit())
    window.controller.start(config)
    record = window.session.active
    if probe:
        expected[0] = time.perf_counter() + 0.010
        timer.start()
    loop.exec()
    timer.stop()
    settle(window)
    return sum(e.seconds for e in record.epochs), lateness


def stop_latency(window, config) -> float:
    """Seconds from Stop (pressed one second into a long run) until the run has ended and
    the window is idle again."""
    from PySide6.QtCore import QEventLoop, QTimer

    from l1_trainer.core.app.session import AppState

    window.controller.start(config.replace(epochs=50))
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
    parser.add_argument("--epochs", type=int, default=1, help="per run: plots grow through a run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tab", default="Curves", help="the tab on screen while training (e.g. Weights)")
    args = parser.parse_args()

    import tempfile

    tmp = Path(tempfile.mkdtemp())
    startup = time_to_window(tmp)

    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from l1_trainer.core.files.data import load_mnist
    from l1_trainer.core.training.config import PRESETS
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

    from l1_trainer.core.training import threads as thread_setting

    default = thread_setting.default_threads
    config = PRESETS["balanced"].replace(epochs=args.epochs, device="cpu")
    tabs = window.tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == args.tab))
    print(f"Qt platform {app.platformName()}, torch {torch.__version__}, {os.cpu_count()} cores, "
          f"{args.tab} tab on screen; the window trains with {default(config.batch_size)} thread(s)")
    print(f"time to window:       {startup:.2f} s (best of 3; PyTorch still loading)")
    for threads in range(1, (os.cpu_count() or 1) + 1):
        torch.set_num_threads(threads)  # set in the GUI thread, it holds in the job threads
        thread_setting.default_threads = lambda *_, n=threads: n  # what the window's runs get
        headless, in_window, lateness = [], [], []
        for _ in range(args.repeats):
            headless.append(headless_run(config, data))
            in_window.append(window_run(window, config, probe=False)[0])
            lateness.extend(window_run(window, config, probe=True)[1])
        lateness.sort()
        p99 = lateness[int(0.99 * (len(lateness) - 1))]
        (best_h, best_w), (mid_h, mid_w) = ((f(headless), f(in_window)) for f in (min, statistics.median))
        print(f"{threads} thread(s): training headless {best_h:.3f} s, in the window {best_w:.3f} s: "
              f"{100 * (best_w / best_h - 1):+.1f}% (target: within 10%; medians {mid_h:.3f} s, "
              f"{mid_w:.3f} s: {100 * (mid_w / mid_h - 1):+.1f}%); event loop p50 "
              f"{lateness[len(lateness) // 2]:.1f} ms, p99 {p99:.1f} ms, max {lateness[-1]:.1f} ms "
              f"over {len(lateness)} ticks (target: p99 under 50 ms)")
    thread_setting.default_threads = default
    stops = [stop_latency(window, config) for _ in range(3)]
    window.close()
    print(f"stop latency:         {1000 * min(stops):.0f} ms from Stop to idle (runs: "
          f"{', '.join(f'{1000 * s:.0f}' for s in stops)} ms)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS) of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
