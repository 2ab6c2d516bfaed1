"""A run as one readable Python file that trains it again with plain PyTorch and autograd.

The file comes from resources/script/train.py.template: the run's settings and its live
changes as constants at the top, then MNIST read from its IDX files, the network, and a
training loop a learner can follow top to bottom. With augmentation on, the app's own
augmentation code (core/training/augment.py) is copied in, so the digits are changed as the
app changed them. The script never imports l1_trainer.
"""

from __future__ import annotations

import ast
import datetime
import json
from collections.abc import Sequence
from importlib.resources import files
from string import Template

from ..training.batches import AUGMENT_BLOCK
from ..training.config import TrainConfig
from ..training.threads import default_threads
from .resources import resource
from .version import app_version

Change = tuple[int, float, float, float]  # (first step, l1_weight, l2_weight, lr)


def run_script(config: TrainConfig, changes: Sequence[Change], title: str, source: str, file_name: str) -> str:
    """The script's text. `title` names the run ("run #12"), `source` where it came from."""
    text = Template(resource("script", "train.py.template").read_text()).substitute(
        TITLE=_one_line(title[:1].upper() + title[1:]), VERSION=app_version(),
        DATE=datetime.date.today().isoformat(), SOURCE=_one_line(source), FILE=_one_line(file_name),
        HIDDEN_TEXT="-".join(map(str, config.hidden_sizes)),
        L1_WEIGHT=repr(config.l1_weight), L2_WEIGHT=repr(config.l2_weight), L1_METHOD=json.dumps(config.l1_method),
        PENALIZE_BIASES=repr(config.penalize_biases), LR=repr(config.lr), OPTIMIZER=json.dumps(config.optimizer),
        FUSED_ADAMW=repr(not config.notebook_exact),
        WEIGHT_DECAY=repr(config.weight_decay), MOMENTUM=repr(config.momentum),
        BATCH_SIZE=repr(config.batch_size), EPOCHS=repr(config.epochs), TRAIN_IMAGES=repr(config.train_size),
        HIDDEN_SIZES=repr(tuple(config.hidden_sizes)), SEED=repr(config.seed), AUGMENT=repr(config.augment),
        THRESHOLD=repr(config.l1_threshold), THREADS=repr(default_threads(config.batch_size, 1)),
        SCHEDULE="".join(f"    ({step}, {l1!r}, {l2!r}, {lr!r}),\n" for step, l1, l2, lr in changes),
        AUGMENTATION=_augmentation() if config.augment else "")
    ast.parse(text)  # a template that no longer makes Python fails here, not in the user's hands
    return text


def _augmentation() -> str:
    """core/training/augment.py without its docstring and imports (the script has its own)."""
    code = (files("l1_trainer.core.training") / "augment.py").read_text()
    body = [line for line in code.split('"""', 2)[2].splitlines()
            if not line.startswith(("import ", "from "))]
    return ("\n\n# ---- augmentation: L1 Trainer's own (core/training/augment.py) --------------------------\n"
            f"AUGMENT_BLOCK = {AUGMENT_BLOCK}  # images changed per call, as the app does\n"
            + "\n".join(body).strip("\n") + "\n")


def _one_line(text: str) -> str:
    """Text from a file or the history, safe inside the docstring: no line breaks, no quotes
    that end it, no backslashes that escape."""
    return " ".join(text.replace("\\", "/").replace('"""', "'''").split())
