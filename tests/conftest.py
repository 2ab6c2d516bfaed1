"""Shared fixtures. Qt runs offscreen; MNIST is read once for the whole session."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# QSettings (the window's defaults) and desktop entries go to private folders.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="l1-trainer-test-config-")
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="l1-trainer-test-data-")
# The run history too: runs the tests make never reach the user's.
os.environ["L1_TRAINER_DATA"] = tempfile.mkdtemp(prefix="l1-trainer-test-runs-")
# And the unpacked MNIST (core/files/mnist_cache.py).
os.environ["L1_TRAINER_CACHE"] = tempfile.mkdtemp(prefix="l1-trainer-test-cache-")

import pytest  # noqa: E402
import torch  # noqa: E402

# One thread, as the app trains (core/training/threads.py): a second one made steps many times slower
# whenever anything else ran on the machine. No test depends on the count.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def run(capsys):
    """The CLI in this process: (exit code, stdout, stderr). Thread settings are put back."""
    from l1_trainer import main as entry

    threads = torch.get_num_threads()

    def call(*args):
        code = entry.main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    yield call
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def mnist():
    """Both MNIST splits on the CPU, loaded once for the whole run."""
    from l1_trainer.core.files.data import load_mnist

    return load_mnist("cpu")


@pytest.fixture(scope="session")
def balanced(mnist):
    """One model trained 3 epochs at the Balanced preset, shared by the tests that need a good
    model: (its config, its weights as a CPU state dict, how its run ended)."""
    from l1_trainer.core.training.config import PRESETS
    from l1_trainer.core.training.engine import Trainer

    config = PRESETS["balanced"].replace(epochs=3, device="cpu")
    trainer = Trainer(config, mnist)
    ended = list(trainer.run())[-1]
    return config, trainer.latest_weights().state, ended


@pytest.fixture()
def small_config():
    """A quick run: 2,048 training images, batches of 64, logged every 4 steps, on the CPU."""
    from l1_trainer.core.training.config import TrainConfig

    return TrainConfig(
        l1_weight=1e-4, lr=1e-3, epochs=2, batch_size=64, train_subset=2048, device="cpu",
        log_every=4,
    )


@pytest.fixture(autouse=True)
def signals_put_back():
    """The CLI leaves Ctrl-C and SIGTERM ignored once its work is over (until the process
    exits): in this process, each test gets them back as they were."""
    from l1_trainer.cli.interrupts import SIGNALS

    handlers = {number: signal.getsignal(number) for number in SIGNALS}
    yield
    for number, handler in handlers.items():
        signal.signal(number, handler)
