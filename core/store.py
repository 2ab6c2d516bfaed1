"""Runs that survive a restart: an embedded SQLite database and one weight file per run, in the
per-user data folder.

Every finished, stopped or failed run (each model of a sweep as a run of its own) is kept:
its settings with their live changes, its curves, its per-epoch metrics, how it ended and its
final weights. Disk use is bounded: at most MAX_RUNS runs (the oldest go first) and curves of at
most MAX_POINTS points (longer ones are thinned evenly), so about 75 MB at the most. A database
that cannot be read is moved aside, never deleted, and a new one is started.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l1_trainer.core.config import TrainConfig
from l1_trainer.core.events import EpochMetrics, HyperparamsChanged, RunEnded, RunStatus, Steps, frozen
from l1_trainer.core.records import RunRecord
from l1_trainer.core.sparsity import LayerSparsity, SparsityReport

MAX_RUNS = 200
MAX_POINTS = 10_000
DATA_ENV = "L1_TRAINER_DATA"  # another folder for the history (the tests use one of their own)
_COLUMNS = ("created", "kind", "schedule", "status", "steps", "epochs_done", "test_accuracy",
            "sparsity", "exact_zeros", "l1_weight", "l2_weight", "lr", "weight_decay",
            "l1_method", "epochs", "batch_size", "train_images", "seed")
_BLOBS = ("config", "changes", "epoch_metrics", "ended", "curves")
_SCHEMA = (f"CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, "
           f"{', '.join(_COLUMNS)}, config TEXT, changes TEXT, epoch_metrics TEXT, ended TEXT, "
           "curves BLOB)")


class StoreError(RuntimeError):
    """The history cannot be read or written; the message says where and what to do."""


@dataclass(frozen=True)
class StoredRun:
    """One row of the history: a run's summary, newest first in listings."""

    id: int
    created: str  # local time, "2026-11-26 23:50"
    kind: str  # "run" or "sweep"
    schedule: str
    status: str
    steps: int
    epochs_done: int
    test_accuracy: float | None
    sparsity: float | None
    exact_zeros: int | None
    l1_weight: float
    l2_weight: float
    lr: float
    weight_decay: float
    l1_method: str
    epochs: int
    batch_size: int
    train_images: int
    seed: int

    def line(self) -> str:
        """One line for the terminal (a value changed outside the app shows as '?')."""
        return (f"#{self.id:<4} {_shown(self.created, '')}  {_shown(self.kind, '5')} "
                f"{_shown(self.status, '8')} {_shown(self.test_accuracy, '6.2%')} accurate "
                f"{_shown(self.sparsity, '6.1%')} sparse  {_shown(self.schedule, '')}, "
                f"{_shown(self.epochs, '')} epochs, batch {_shown(self.batch_size, '')}, "
                f"{_shown(self.train_images, ',')} images, {_shown(self.l1_method, '')}")


def _shown(value: object, spec: str) -> str:
    """`value` formatted with `spec`; '-' for none, '?' for a value of the wrong kind."""
    if value is None:
        return format("-", spec[:1] if spec[:1].isdigit() else "")
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return "?"


@contextmanager
def _failing_as(what: str, advice: str = "") -> Iterator[None]:
    """A database error inside as a StoreError: what failed, SQLite's reason, what to do."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"{what} ({exc})" + (f"; {advice}" if advice else "")) from exc


def default_folder() -> Path:
    """The per-user data folder of L1 Trainer (or $L1_TRAINER_DATA)."""
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override)
    import platformdirs  # only here: the CLI's --help should not pay for it

    return Path(platformdirs.user_data_dir("l1-trainer"))


class RunStore:
    """The history in `folder` (runs.db and weights/). Each call opens its own connection, so
    a store may be used from any thread; SQLite serializes the writers."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_folder()
        self.path = self.folder / "runs.db"
        self.weights_folder = self.folder / "weights"
        self.notice = ""  # what happened to a damaged database, for the user
        try:
            self.weights_folder.mkdir(parents=True, exist_ok=True)
            try:
                self._open()
            except sqlite3.OperationalError as exc:
                # Busy, or not ours to open (permissions): say so and touch nothing.
                raise StoreError(f"the run history {self.path} cannot be opened ({exc}): another "
                                 "L1 Trainer may be writing it, or its permissions keep us out; "
                                 f"try again, or set {DATA_ENV} to another folder") from exc
            except sqlite3.DatabaseError:  # not a database, or not this app's table
                self._set_aside()
                self._open()
        except OSError as exc:
            raise StoreError(f"cannot keep the run history in {self.folder}: {exc.strerror or exc}; "
                             f"set {DATA_ENV} to a writable folder") from exc

    def _set_aside(self) -> None:
        """Move the damaged database and its weights aside under one new name: nothing is
        deleted, and a second damaged file in the same second gets a name of its own."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        suffix, n = stamp, 1
        while (self.path.with_name(f"runs.db.damaged-{suffix}").exists()
               or (self.folder / f"weights.damaged-{suffix}").exists()):
            n += 1
            suffix = f"{stamp}-{n}"
        aside = self.path.with_name(f"runs.db.damaged-{suffix}")
        os.replace(self.path, aside)
        os.replace(self.weights_folder, self.folder / f"weights.damaged-{suffix}")
        self.weights_folder.mkdir()
        self.notice = (f"The run history {self.path} could not be read; it was kept aside as "
                       f"{aside.name} and a new, empty history was started.")

    def _open(self) -> None:
        with self._connect() as db:
            db.execute(_SCHEMA)
            try:  # fails on a damaged file, or a table of another shape
                db.execute(f"SELECT id, {', '.join(_COLUMNS)}, {', '.join(_BLOBS)} FROM runs LIMIT 1").fetchall()
            except sqlite3.OperationalError as exc:
                if "no such column" in str(exc):
                    raise sqlite3.DatabaseError(f"not L1 Trainer's table: {exc}") from exc
                raise

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    # ---- writing -----------------------------------------------------------------------------

    def add(self, record: RunRecord) -> list[int]:
        """Keep every model of a finished record; returns their ids."""
        with _failing_as(f"cannot write the run history {self.path}",
                         f"check its permissions, or set {DATA_ENV} to a writable folder"):
            return self._add(record)

    def _add(self, record: RunRecord) -> list[int]:
        from l1_trainer.core.inference import model_from_state
        from l1_trainer.core.modelfile import save_model

        ids = []
        for m in range(record.k):
            one = record.model(m)
            summary = one.summary()
            snapshot = one.snapshots.get(0)
            with self._connect() as db:
                cursor = db.execute(
                    f"INSERT INTO runs ({', '.join(_COLUMNS)}, config, changes, epoch_metrics, ended, curves) "
                    f"VALUES ({', '.join('?' * (len(_COLUMNS) + 5))})",
                    (time.strftime("%Y-%m-%d %H:%M"), "sweep" if record.sweep else "run",
                     *(summary[c] if summary[c] != "" else None for c in _COLUMNS[2:]),
                     _json(one.config), _json(one.changes), _json(one.epochs),
                     _json(one.ended) if one.ended else None,
                     _pack(one.curves())))
                run_id = cursor.lastrowid
            if snapshot is not None:
                save_model(self._weights(run_id), model_from_state(snapshot.state), one.config,
                           {"step": snapshot.step, "epoch": snapshot.epoch, "schedule": one.schedule()})
            ids.append(run_id)
        self._prune()
        return ids

    def delete(self, run_id: int) -> None:
        with _failing_as(f"cannot delete run #{run_id} from {self.path}"), self._connect() as db:
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        self._weights(run_id).unlink(missing_ok=True)

    def _prune(self) -> None:
        with self._connect() as db:
            old = [row[0] for row in db.execute(
                "SELECT id FROM runs ORDER BY id DESC LIMIT -1 OFFSET ?", (MAX_RUNS,))]
        for run_id in old:
            self.delete(run_id)

    # ---- reading -----------------------------------------------------------------------------

    def runs(self) -> list[StoredRun]:
        """Every kept run, newest first."""
        with (_failing_as(f"cannot read the run history {self.path}",
                          f"try again, or set {DATA_ENV} to another folder"), self._connect() as db):
            rows = db.execute(f"SELECT id, {', '.join(_COLUMNS)} FROM runs ORDER BY id DESC").fetchall()
        return [StoredRun(*row) for row in rows]

    def record(self, run_id: int) -> RunRecord:
        """The run as a record, to draw its curves again."""
        with _failing_as(f"cannot read run #{run_id} from {self.path}"), self._connect() as db:
            row = db.execute("SELECT config, changes, epoch_metrics, ended, curves, schedule FROM runs "
                             "WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"run #{run_id} is no longer in the history")
        try:
            fields = json.loads(row[0])
            config = TrainConfig(**{**fields, "hidden_sizes": tuple(fields["hidden_sizes"])})
            record = RunRecord(run_id, config, (config.l1_weight,), (config.l2_weight,),
                               title=f"saved run #{run_id}", stored_ids=[run_id])
            epochs, ce, l1, l2 = _unpack(row[4])
            steps = np.rint(epochs * config.steps_per_epoch).astype(np.int64)
            record.apply(Steps(frozen(steps), frozen(epochs), frozen(steps % config.steps_per_epoch + 1),
                               frozen(ce[:, None]), frozen(l1[:, None]), frozen(l2[:, None]),
                               samples_per_s=0.0))
            for change in json.loads(row[1]):
                record.apply(HyperparamsChanged(**{k: tuple(v) if isinstance(v, list) else v
                                                   for k, v in change.items()}))
            for metrics in json.loads(row[2]):
                record.apply(_epoch_metrics(metrics))
            if row[3] is not None:
                record.apply(_run_ended(json.loads(row[3])))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # A row changed outside the app (or by a bug): that run is unreadable, not the app.
            raise StoreError(f"run #{run_id} cannot be read back ({type(exc).__name__}: {exc}); "
                             "delete it from the Runs tab") from exc
        return record

    def weights_file(self, run_id: int) -> Path:
        """The run's final weights, a model file like any other."""
        path = self._weights(run_id)
        if not path.exists():
            raise StoreError(f"the weights of run #{run_id} are missing ({path})")
        return path

    def _weights(self, run_id: int) -> Path:
        return self.weights_folder / f"{run_id}.safetensors"


def _json(value: object) -> str:
    """Dataclasses (and lists of them) as JSON; enums by their value."""
    if isinstance(value, list):
        value = [dataclasses.asdict(v) for v in value]
    elif dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    return json.dumps(value, default=lambda o: o.value)


def _pack(curves: tuple[np.ndarray, ...]) -> bytes:
    epochs, ce, l1, l2 = curves
    stride = max(1, -(-len(epochs) // MAX_POINTS))  # thin evenly beyond MAX_POINTS
    buffer = io.BytesIO()
    np.savez_compressed(buffer, epochs=epochs[::stride], ce=ce[::stride, 0], l1=l1[::stride, 0],
                        l2=l2[::stride, 0])
    return buffer.getvalue()


def _unpack(blob: bytes) -> tuple[np.ndarray, ...]:
    with np.load(io.BytesIO(blob)) as arrays:
        return tuple(arrays[name].astype(np.float64) for name in ("epochs", "ce", "l1", "l2"))


def _report(fields: dict) -> SparsityReport:
    layers = tuple(LayerSparsity(**{**layer, "shape": tuple(layer["shape"])}) for layer in fields["layers"])
    return SparsityReport(fields["threshold"], layers)


def _epoch_metrics(fields: dict) -> EpochMetrics:
    return EpochMetrics(**{**fields, "train_accuracy": tuple(fields["train_accuracy"]),
                           "test_accuracy": tuple(fields["test_accuracy"]),
                           "sparsity": tuple(_report(r) for r in fields["sparsity"])})


def _run_ended(fields: dict) -> RunEnded:
    return RunEnded(RunStatus(fields["status"]), fields["reason"], fields["step"], fields["epochs_done"],
                    tuple(fields["test_accuracy"]), tuple(_report(r) for r in fields["sparsity"]),
                    tuple(fields["diverged"]))
