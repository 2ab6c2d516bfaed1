"""Runs that survive a restart: an embedded SQLite database and one weight file per run, in the
per-user data folder.

Every finished, stopped or failed run (each model of a sweep as a run of its own) is kept:
its settings with their live changes, its curves, its per-epoch metrics, how it ended and its
final weights. A run's weights are on disk before its row is committed, in one transaction: a
row never points at weights that are not there. Disk use is bounded: every part of a row is
(curves of at most MAX_POINTS points, at most MAX_EPOCHS_KEPT epochs' metrics and
MAX_CHANGES_KEPT live changes, longer ones thinned evenly with the last kept), and the history
holds at most MAX_RUNS runs and MAX_BYTES on disk, database and weights together (the oldest go
first; the newest run is always kept).

The folder is the app's own: nothing in it is followed. A database that cannot be read (not a
database, another table, a damaged page) or a link or other stranger where the database or
the weights folder should be is moved aside with the weights, never deleted, and a new history
is started.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sqlite3
import stat
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from .. import lazy
from ..app.records import Kind, RunRecord
from ..errors import ExplainedError
from ..training.config import TrainConfig
from ..training.events import EpochMetrics, HyperparamsChanged, RunEnded, RunStatus, Steps, frozen
from ..training.sparsity import LayerSparsity, SparsityReport
from .writing import write_private

MAX_RUNS = 200
MAX_BYTES = 100_000_000  # the database and the weight files together
MAX_POINTS = 10_000
MAX_EPOCHS_KEPT = 200
MAX_CHANGES_KEPT = 500
BUSY_TIMEOUT_S = 10  # seconds a call waits while another process writes the history
DATA_ENV = "L1_TRAINER_DATA"  # another folder for the history (the tests use one of their own)
_COLUMNS = ("created", "kind", "schedule", "status", "steps", "epochs_done", "test_accuracy",
            "sparsity", "exact_zeros", "l1_weight", "l2_weight", "lr", "weight_decay",
            "l1_method", "epochs", "batch_size", "train_images", "seed",
            "grp")  # a comparison's models share the id of its first: added in 0.2, see _open
_BLOBS = ("config", "changes", "epoch_metrics", "ended", "curves")
_SCHEMA = (f"CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, "
           f"{', '.join(_COLUMNS)}, config TEXT, changes TEXT, epoch_metrics TEXT, ended TEXT, "
           "curves BLOB)")


class StoreError(ExplainedError):
    """The history cannot be read or written; the message says where and what to do."""


@dataclass(frozen=True)
class StoredRun:
    """One row of the history: a run's summary, newest first in listings."""

    id: int
    created: str  # local time, "2026-11-26 23:50"
    kind: str  # "run", "sweep" or "comparison"
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
    group: int | None  # a comparison's: the id of its first model

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
    """A database or file error inside as a StoreError: what failed, the reason, what to do."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        filename = getattr(exc, "filename", None)
        where = f": {filename}" if filename else ""  # the file it was
        raise StoreError(f"{what} ({reason}{where})" + (f"; {advice}" if advice else "")) from exc


def default_folder() -> Path:
    """The per-user data folder of L1 Trainer (or $L1_TRAINER_DATA)."""
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override)
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
            self.folder.mkdir(parents=True, exist_ok=True)
            self._own_folder()
            try:
                self._open()
            except sqlite3.OperationalError as exc:
                # Busy, or not ours to open (permissions): say so and touch nothing.
                raise StoreError(f"the run history {self.path} cannot be opened ({exc}): another "
                                 "L1 Trainer may be writing it, or its permissions keep us out; "
                                 f"try again, or set {DATA_ENV} to another folder") from exc
            except sqlite3.DatabaseError as exc:  # not a database, damaged, or another's tables
                self._set_aside(f"could not be read ({exc})")
                self._open()
        except (OSError, sqlite3.Error) as exc:  # the folder, or a new database on a full disk
            raise StoreError(f"cannot keep the run history in {self.folder}: "
                             f"{getattr(exc, 'strerror', None) or exc}; free some space, or set "
                             f"{DATA_ENV} to a writable folder") from exc

    def _own_folder(self) -> bool:
        """Set aside whatever stranger holds one of the history's names, and make the weights
        folder; True if something was set aside (a new database is then to be made)."""
        stranger = self._stranger()
        if stranger:
            self._set_aside(stranger)
        self.weights_folder.mkdir(exist_ok=True)
        return bool(stranger)

    def _checked(self) -> None:
        """Before every use: a link may be planted while the app runs."""
        if self._own_folder():
            self._open()

    def _own_names(self) -> list[Path]:
        """Everything of the history's in its folder: the database, SQLite's files beside it,
        and the weights."""
        return [self.path, *(self.path.with_name(f"runs.db{s}") for s in ("-journal", "-wal", "-shm")),
                self.weights_folder]

    def _stranger(self) -> str:
        """Why one of the history's names holds something it never made (a link, a folder, a
        device), or ''. Links are never followed in the app's own folder."""
        for path in self._own_names():
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:
                continue
            wanted = stat.S_ISDIR if path == self.weights_folder else stat.S_ISREG
            if stat.S_ISLNK(mode):
                return f"has a symbolic link at {path.name}, which L1 Trainer does not follow in its own folder"
            if not wanted(mode):
                return f"has something else than its own file at {path.name}"
        return ""

    def _set_aside(self, why: str) -> None:
        """Move the database, its SQLite files and its weights aside under one new name:
        nothing is deleted or followed (a rename moves a link, not its target), and a second
        damaged history in the same second gets a name of its own."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        suffix, n = stamp, 1
        while any(os.path.lexists(f"{p}.damaged-{suffix}") for p in self._own_names()):
            n += 1
            suffix = f"{stamp}-{n}"
        for path in self._own_names():
            if os.path.lexists(path):
                os.replace(path, f"{path}.damaged-{suffix}")
        self.weights_folder.mkdir()
        self.notice = (f"The run history {self.path} {why}; it was kept aside as "
                       f"runs.db.damaged-{suffix} (with its weights) and a new, empty history was started.")

    def _open(self) -> None:
        with self._connect() as db:
            tables = {row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
            if tables and "runs" not in tables:  # another program's database: not ours to change
                raise sqlite3.DatabaseError(f"another program's database, with the tables {sorted(tables)}")
            db.execute(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            if "grp" not in columns and set(_COLUMNS[:-1]) <= columns:  # a history from before 0.2
                db.execute("ALTER TABLE runs ADD COLUMN grp")
            # A damaged page anywhere, not only where the next query looks.
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError(f"damaged: {problems[0]}")
            try:  # a table of another shape
                db.execute(f"SELECT id, {', '.join(_COLUMNS)}, {', '.join(_BLOBS)} FROM runs LIMIT 1").fetchall()
            except sqlite3.OperationalError as exc:
                if "no such column" in str(exc):
                    raise sqlite3.DatabaseError(f"not L1 Trainer's table: {exc}") from exc
                raise
            if db.execute("PRAGMA auto_vacuum").fetchone()[0] != 1:
                # Freed pages go back to the disk (MAX_BYTES counts the file): set once, with a
                # VACUUM, which is instant on a new database.
                db.execute("PRAGMA auto_vacuum = FULL")
                db.execute("VACUUM")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction: committed if the block ends well, else rolled back;
        closed in either case."""
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        # Text written outside the app may not be UTF-8: shown with a replacement mark, never an error.
        db.text_factory = lambda raw: raw.decode("utf-8", "replace")
        try:
            with db:
                yield db
        finally:
            db.close()

    # ---- writing -----------------------------------------------------------------------------

    def add(self, record: RunRecord) -> list[int]:
        """Keep every model of a finished record; returns their ids. A database damaged since
        it was opened is set aside and the record kept in a new one."""
        with _failing_as(f"cannot write the run history {self.path}",
                         f"check its permissions and free space, or set {DATA_ENV} to a writable folder"):
            self._checked()
            try:
                ids = self._add_models(record)
            except sqlite3.DatabaseError as exc:
                if type(exc) is not sqlite3.DatabaseError:  # busy, full, read-only: not damage
                    raise
                self._set_aside(f"was found damaged ({exc})")
                self._open()
                ids = self._add_models(record)
            self._prune()
        return ids

    def _add_models(self, record: RunRecord) -> list[int]:
        ids: list[int] = []
        for m in range(record.k):
            group = (ids[0] if ids else None) if record.comparison else None
            ids.append(self._add_one(record.model(m), group))
            if record.comparison and m == 0:  # the first names the group, itself included
                with self._connect() as db:
                    db.execute("UPDATE runs SET grp = id WHERE id = ?", (ids[0],))
        return ids

    def _add_one(self, one: RunRecord, group: int | None) -> int:
        """One model as one row; its weights are written inside the row's transaction, so the
        row is committed only once they are on disk, and a failure leaves neither."""
        summary = one.summary()
        weights = _weights_bytes(one)
        run_id: int | None = None
        try:
            with self._connect() as db:
                run_id = db.execute(
                    f"INSERT INTO runs ({', '.join(_COLUMNS)}, {', '.join(_BLOBS)}) "
                    f"VALUES ({', '.join('?' * (len(_COLUMNS) + len(_BLOBS)))})",
                    (time.strftime("%Y-%m-%d %H:%M"), one.kind.value,
                     *(summary[c] if summary[c] != "" else None for c in _COLUMNS[2:-1]), group,
                     _json(one.config), _json(_thinned(one.changes, MAX_CHANGES_KEPT)),
                     _json(_thinned(one.epochs, MAX_EPOCHS_KEPT)),
                     _json(one.ended) if one.ended else None, _pack(one))).lastrowid
                if run_id is None:
                    raise sqlite3.DatabaseError("the new row has no id")
                if weights is not None:
                    self._clear_name(self._weights(run_id))
                    write_private(self._weights(run_id), weights)
        except BaseException:
            if run_id is not None:  # the row was not committed: its id will be given again
                self._weights(run_id).unlink(missing_ok=True)
            raise
        return run_id

    def _clear_name(self, path: Path) -> None:
        """A folder, FIFO or device where a run's weights go is moved aside (a link or a file
        is replaced by the rename that writes them, never followed)."""
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            return
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            os.replace(path, f"{path}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
            self.notice = f"Something else than a file was at {path}; it was moved aside."

    def delete(self, run_id: int) -> None:
        with _failing_as(f"cannot delete run #{run_id} from {self.path}"), self._connect() as db:
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        self._weights(run_id).unlink(missing_ok=True)  # the row first: it never points at nothing

    def disk_use(self) -> int:
        """Bytes on disk: the database and the weight files."""
        files = [self.path, *self.weights_folder.iterdir()]
        return sum(p.lstat().st_size for p in files if p.exists())

    def _prune(self) -> None:
        """The oldest runs go until at most MAX_RUNS are kept in at most MAX_BYTES."""
        with self._connect() as db:
            ids = [row[0] for row in db.execute("SELECT id FROM runs ORDER BY id")]
        while len(ids) > 1 and (len(ids) > MAX_RUNS or self.disk_use() > MAX_BYTES):
            self.delete(ids.pop(0))

    # ---- reading -----------------------------------------------------------------------------

    def runs(self) -> list[StoredRun]:
        """Every kept run, newest first."""
        with (_failing_as(f"cannot read the run history {self.path}",
                          f"try again, or set {DATA_ENV} to another folder")):
            self._checked()
            with self._connect() as db:
                rows = db.execute(f"SELECT id, {', '.join(_COLUMNS)} FROM runs ORDER BY id DESC").fetchall()
        return [StoredRun(*row) for row in rows]

    def record(self, run_id: int) -> RunRecord:
        """The run as a record, to draw its curves again."""
        with _failing_as(f"cannot read run #{run_id} from {self.path}"):
            self._checked()
            with self._connect() as db:
                row = db.execute("SELECT config, changes, epoch_metrics, ended, curves, kind FROM runs "
                                 "WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"run #{run_id} is no longer in the history")
        try:
            fields = json.loads(row[0])
            config = TrainConfig(**{**fields, "hidden_sizes": tuple(fields["hidden_sizes"])})
            kind = Kind.COMPARISON if row[5] == Kind.COMPARISON.value else Kind.RUN
            # Named as it was in the run's session ("sweep #5" too); nothing else from the row.
            named = row[5] if row[5] in {k.value for k in Kind} else Kind.RUN.value
            record = RunRecord(run_id, config, (config.l1_weight,), (config.l2_weight,), kind,
                               title=f"{named} #{run_id}", stored_ids=[run_id])
            record.apply(_steps(_unpack(row[4]), config))
            for change in json.loads(row[1]):
                record.apply(_change(change))
            for metrics in json.loads(row[2]):
                record.apply(_epoch_metrics(metrics))
            if row[3] is not None:
                record.apply(_run_ended(json.loads(row[3])))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError, EOFError,
                OSError, zipfile.BadZipFile) as exc:
            # A row changed outside the app (or by a bug): that run is unreadable, not the app.
            raise StoreError(f"run #{run_id} cannot be read back ({type(exc).__name__}: {exc}); "
                             "delete it from the Runs tab") from exc
        return record

    def next_id(self) -> int:
        """The id the next run kept will get (unless another process keeps one first)."""
        with _failing_as(f"cannot read the run history {self.path}"), self._connect() as db:
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'runs'").fetchone()
        return (row[0] if row and isinstance(row[0], int) else 0) + 1

    def group(self, run_id: int) -> list[int]:
        """The ids of the comparison run #run_id belongs to, in order (just it, for others)."""
        with _failing_as(f"cannot read the run history {self.path}"), self._connect() as db:
            ids = [row[0] for row in db.execute(
                "SELECT id FROM runs WHERE grp = (SELECT grp FROM runs WHERE id = ?) ORDER BY id", (run_id,))]
        return ids or [run_id]

    def weights_file(self, run_id: int) -> Path:
        """The run's final weights, a model file like any other (never a link)."""
        path = self._weights(run_id)
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            raise StoreError(f"the weights of run #{run_id} are missing ({path})") from None
        if not stat.S_ISREG(mode):
            raise StoreError(f"the weights of run #{run_id} ({path}) are not a regular file (a link?); "
                             "L1 Trainer does not follow links in its own folder")
        return path

    def _weights(self, run_id: int) -> Path:
        return self.weights_folder / f"{run_id}.safetensors"


def _weights_bytes(one: RunRecord) -> bytes | None:
    """The model file of a record's final weights (None when it has none)."""
    snapshot = one.snapshots.get(0)
    if snapshot is None:
        return None
    return lazy.model_bytes(lazy.model_from_state(snapshot.state), one.config,
                            {"step": snapshot.step, "epoch": snapshot.epoch, "schedule": one.schedule(),
                             "changes": [list(change) for change in one.live_changes()]})


def _thinned(items: list | np.ndarray, most: int) -> list | np.ndarray:
    """At most `most` of `items`, evenly spaced, the last always among them."""
    if len(items) <= most:
        return items
    picks = np.linspace(0, len(items) - 1, most).round().astype(int)
    return items[picks] if isinstance(items, np.ndarray) else [items[i] for i in picks]


def _json(value: object) -> str:
    """Dataclasses (and lists of them) as JSON; enums by their value."""
    if isinstance(value, list):
        value = [dataclasses.asdict(v) for v in value]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.dumps(value, default=lambda o: o.value)


def _pack(one: RunRecord) -> bytes:
    """The curves of a one-model record, each thinned evenly to at most MAX_POINTS points, the
    last among them."""
    epochs, ce, l1, l2 = one.curves()
    abs_sum, square_sum = one.sums()
    counted, near, exact = one.zero_curves()
    kept = _thinned(np.arange(len(epochs)), MAX_POINTS)
    arrays = {name: a[kept].reshape(-1) for name, a in
              {"epochs": epochs, "ce": ce, "l1": l1, "l2": l2, "abs_sum": abs_sum, "square_sum": square_sum}.items()}
    kept = _thinned(np.arange(len(counted)), MAX_POINTS)
    arrays.update(counted=counted[kept], near_zero=near[kept, 0], exact_zeros=exact[kept, 0])
    buffer = io.BytesIO()
    # float32: curves are drawn, not computed with, and half the bytes on disk.
    halves: dict[str, Any] = {name: a.astype(np.float32) for name, a in arrays.items()}
    np.savez_compressed(buffer, **halves)
    return buffer.getvalue()


def _unpack(blob: bytes) -> dict[str, np.ndarray]:
    """The arrays _pack wrote; those a run kept by an older version lacks are NaN or empty."""
    with np.load(io.BytesIO(blob)) as arrays:
        found = {name: arrays[name].astype(np.float64) for name in arrays.files}
    n = len(found["epochs"])
    for name in ("abs_sum", "square_sum"):
        found.setdefault(name, np.full(n, np.nan))
    for name in ("counted", "near_zero", "exact_zeros"):
        found.setdefault(name, np.empty(0))
    return found


def _steps(arrays: dict[str, np.ndarray], config: TrainConfig) -> Steps:
    """A kept run's curves as one Steps event, to apply to a new record."""
    epochs, per_step = arrays["epochs"], config.steps_per_epoch
    steps = np.rint(epochs * per_step).astype(np.int64)
    size = config.weight_count
    column = {name: frozen(arrays[name][:, None]) for name in ("ce", "l1", "l2", "abs_sum", "square_sum")}
    return Steps(frozen(steps), frozen(epochs), frozen(steps % per_step + 1), **column,
                 counted_at=frozen(np.rint(arrays["counted"] * per_step).astype(np.int64)),
                 near_zero=frozen(np.rint(arrays["near_zero"] * size)[:, None]),
                 exact_zeros=frozen(np.rint(arrays["exact_zeros"] * size)[:, None]), samples_per_s=0.0)


# A kept row is read as untrusted: every value the views will format must be a number of the
# right kind, checked here, not found out by a traceback in the window.

def _number(value: object) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not a number")
    return value


def _whole(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not a whole number")
    return value


def _change(fields: dict) -> HyperparamsChanged:
    return HyperparamsChanged(_whole(fields["step"]), tuple(map(_number, fields["l1_weights"])),
                              tuple(map(_number, fields["l2_weights"])), _number(fields["lr"]))


def _report(fields: dict) -> SparsityReport:
    layers = tuple(LayerSparsity(str(layer["name"]), tuple(map(_whole, layer["shape"])), _whole(layer["size"]),
                                 _whole(layer["near_zero"]), _whole(layer["exact_zeros"]))
                   for layer in fields["layers"])
    return SparsityReport(_number(fields["threshold"]), layers)


def _epoch_metrics(fields: dict) -> EpochMetrics:
    return EpochMetrics(_whole(fields["epoch"]), _whole(fields["step"]),
                        tuple(map(_number, fields["train_accuracy"])), tuple(map(_number, fields["test_accuracy"])),
                        tuple(_report(r) for r in fields["sparsity"]), _number(fields["seconds"]),
                        _number(fields["eval_seconds"]), _number(fields["samples_per_s"]))


def _run_ended(fields: dict) -> RunEnded:
    return RunEnded(RunStatus(fields["status"]), str(fields["reason"]), _whole(fields["step"]),
                    _whole(fields["epochs_done"]), tuple(map(_number, fields["test_accuracy"])),
                    tuple(_report(r) for r in fields["sparsity"]), tuple(bool(d) for d in fields["diverged"]))
