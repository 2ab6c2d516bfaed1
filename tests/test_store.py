"""Runs that survive a restart: the SQLite history and its weight files."""

import dataclasses
import errno
import json
import os
import sqlite3

import numpy as np
import pytest

from l1_trainer.cli import commands as cli
from l1_trainer.core.app.records import Kind, RunRecord
from l1_trainer.core.files.modelfile import load_model
from l1_trainer.core.files.store import MAX_CHANGES_KEPT, MAX_EPOCHS_KEPT, MAX_POINTS, RunStore, StoreError
from l1_trainer.core.training.config import PRESETS
from l1_trainer.core.training.engine import Trainer
from l1_trainer.core.training.events import HyperparamsChanged, Steps


def trained(mnist, l1_weights=None, epochs=1):
    config = PRESETS["balanced"].replace(epochs=epochs, train_subset=1280, device="cpu")
    trainer = Trainer(config, mnist, l1_weights=l1_weights)
    weights = tuple(l1_weights or [config.l1_weight])
    record = RunRecord(1, config, weights, kind=Kind.SWEEP if l1_weights is not None else Kind.RUN)
    for event in trainer.run():
        record.apply(event)
    return record


def test_a_kept_run_comes_back_whole(tmp_path, mnist):
    record = trained(mnist, epochs=2)
    store = RunStore(tmp_path)
    (run_id,) = store.add(record)
    again = RunStore(tmp_path).record(run_id)  # as after a restart
    assert again.schedule() == record.schedule() and again.config == record.config
    assert again.summary() == {**record.summary(), "run": run_id}
    for mine, theirs in zip(again.curves(), record.curves()):
        assert np.allclose(mine.reshape(len(mine), -1), theirs.reshape(len(theirs), -1))
    assert [e.test_accuracy for e in again.epochs] == [e.test_accuracy for e in record.epochs]
    model, config, summary = load_model(store.weights_file(run_id))
    assert summary["schedule"] == record.schedule() and summary["step"] == 40


def test_each_model_of_a_sweep_is_kept_as_a_run_and_listing_is_newest_first(tmp_path, mnist):
    store = RunStore(tmp_path)
    store.add(trained(mnist))
    sweep = trained(mnist, l1_weights=[0.0, 1e-3])
    ids = store.add(sweep)
    for m, run_id in enumerate(ids):  # each its own curves, as kept (float32)
        kept = store.record(run_id)
        for mine, theirs in zip((*kept.curves()[1:], *kept.sums()), (*sweep.curves()[1:], *sweep.sums())):
            assert np.array_equal(mine[:, 0], theirs[:, m].astype(np.float32))
    runs = store.runs()
    assert [r.id for r in runs] == [3, 2, 1] and ids == [2, 3]
    assert [(r.kind, r.l1_weight) for r in runs[:2]] == [("sweep", 1e-3), ("sweep", 0.0)]
    assert runs[0].sparsity > runs[1].sparsity and "L1 1e-3, lr 1e-3" in runs[0].line()


def test_disk_use_is_bounded(tmp_path, mnist, monkeypatch):
    monkeypatch.setattr("l1_trainer.core.files.store.MAX_RUNS", 2)
    monkeypatch.setattr("l1_trainer.core.files.store.MAX_POINTS", 7)
    store = RunStore(tmp_path)
    record = trained(mnist)
    for _ in range(3):
        store.add(record)
    assert [r.id for r in store.runs()] == [3, 2]
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == ["2.safetensors", "3.safetensors"]
    assert len(store.record(3).curves()[0]) == 7  # 20 steps thinned evenly to at most 7 points


def test_a_damaged_history_is_kept_aside_and_a_new_one_starts(tmp_path, mnist):
    store = RunStore(tmp_path)
    store.add(trained(mnist))
    (tmp_path / "runs.db").write_bytes(b"\x00garbage" * 500)
    fresh = RunStore(tmp_path)
    assert "could not be read (file is not a database); it was kept aside as runs.db.damaged-" in fresh.notice
    assert fresh.runs() == []
    assert len(list(tmp_path.glob("runs.db.damaged-*"))) == 1
    assert [p.name for p in tmp_path.glob("weights.damaged-*/*")] == ["1.safetensors"]
    with pytest.raises(StoreError, match="no longer in the history"):
        fresh.record(1)


def test_a_history_folder_that_cannot_be_made_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot keep the run history in .*set L1_TRAINER_DATA"):
        RunStore(blocker / "history")


@pytest.mark.parametrize("column, value", [
    ("config", '{"augment": "yes", "hidden_sizes": [64, 32]}'),  # a setting no run can have
    ("config", "not json"),
    ("config", '{"lr": 1' + "0" * 400 + ', "hidden_sizes": [64, 32]}'),  # beyond a float
    ("changes", '[{"step": "x"}]'),
    ("changes", '[{"step": 3, "l1_weights": ["x"], "l2_weights": [0], "lr": "y"}]'),  # formatted later
    ("epoch_metrics", '[{"epoch": 1}]'),
    ("curves", b"\x00\x01"),
    ("curves", None),
    ("curves", b"PK\x03\x04garbage"),
])
def test_a_row_changed_outside_the_app_is_one_clear_error(tmp_path, mnist, column, value):
    store = RunStore(tmp_path)
    (run_id,) = store.add(trained(mnist))
    with sqlite3.connect(tmp_path / "runs.db") as db:
        db.execute(f"UPDATE runs SET {column} = ? WHERE id = ?", (value, run_id))
    with pytest.raises(StoreError, match=f"run #{run_id} cannot be read back.*delete it"):
        store.record(run_id)
    assert [run.id for run in store.runs()] == [run_id]  # the listing still works


def test_values_of_the_wrong_kind_list_as_question_marks(tmp_path, mnist):
    store = RunStore(tmp_path)
    (run_id,) = store.add(trained(mnist))
    with sqlite3.connect(tmp_path / "runs.db") as db:
        db.execute("UPDATE runs SET test_accuracy = 'abc', kind = NULL, train_images = 'x' WHERE id = ?",
                   (run_id,))
    line = store.runs()[0].line()
    assert "? accurate" in line and "? images" in line and line.startswith(f"#{run_id}")


def test_a_table_of_another_shape_is_set_aside(tmp_path, mnist):
    RunStore(tmp_path).add(trained(mnist))
    with sqlite3.connect(tmp_path / "runs.db") as db:
        db.executescript("CREATE TABLE r2 AS SELECT id, created FROM runs; DROP TABLE runs; "
                         "ALTER TABLE r2 RENAME TO runs;")
    fresh = RunStore(tmp_path)
    assert "kept aside" in fresh.notice and fresh.runs() == []
    fresh.add(trained(mnist))  # and the new history takes runs
    assert len(fresh.runs()) == 1


def test_two_damaged_histories_in_one_second_are_both_kept(tmp_path, monkeypatch):
    monkeypatch.setattr("time.strftime", lambda *_: "20261127-000000")
    for content in (b"FIRST" * 100, b"SECOND" * 100):
        (tmp_path / "weights").mkdir(exist_ok=True)
        (tmp_path / "weights" / "x").write_text("w")
        (tmp_path / "runs.db").write_bytes(content)
        assert "kept aside" in RunStore(tmp_path).notice
    kept = sorted(p.read_bytes()[:6] for p in tmp_path.glob("runs.db.damaged-*"))
    assert kept == [b"FIRSTF", b"SECOND"] and len(list(tmp_path.glob("weights.damaged-*"))) == 2


def test_a_busy_history_is_not_taken_for_a_damaged_one(tmp_path, mnist, monkeypatch):
    RunStore(tmp_path).add(trained(mnist))
    monkeypatch.setattr("l1_trainer.core.files.store.BUSY_TIMEOUT_S", 0.1)
    holder = sqlite3.connect(tmp_path / "runs.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="cannot be opened .*locked.*try again"):
            RunStore(tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not list(tmp_path.glob("*.damaged-*")) and len(RunStore(tmp_path).runs()) == 1


def test_a_history_that_cannot_be_written_is_one_line_and_the_run_still_counts(tmp_path, mnist, monkeypatch,
                                                                                capsys):

    monkeypatch.setenv("L1_TRAINER_DATA", str(tmp_path))
    RunStore(tmp_path)

    def refused(self, record, sweep):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(RunStore, "_add_one", refused)
    with pytest.raises(StoreError, match="cannot write the run history .*attempt to write a readonly"):
        RunStore(tmp_path).add(trained(mnist))
    cli._keep(trained(mnist))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the run was not kept in the history" in err


# ---- links, damage and full disks: nothing followed, nothing lost ---------------------------


@pytest.mark.parametrize("planted", ["weights/2.safetensors", "weights", "runs.db", "runs.db-journal"])
def test_a_link_planted_in_the_history_is_never_followed(tmp_path, mnist, planted):
    history = tmp_path / "history"
    RunStore(history).add(trained(mnist))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "2.safetensors").write_bytes(b"precious")
    (victim / "precious").write_bytes(b"precious")
    link = history / planted
    if link.exists():
        link.rename(tmp_path / "moved")  # what the attacker replaced
    link.symlink_to(victim if planted == "weights" else victim / "precious")
    store = RunStore(history)
    store.add(trained(mnist))
    assert sorted(p.name for p in victim.iterdir()) == ["2.safetensors", "precious"]
    assert all(p.read_bytes() == b"precious" for p in victim.iterdir())
    assert store.runs() and store.weights_file(store.runs()[0].id).is_file()
    if planted.startswith("weights/"):  # the link itself was replaced by the run's weights
        assert not link.is_symlink() and load_model(link)[1] == trained(mnist).config
    else:  # set aside, with a line that says why
        assert "symbolic link" in store.notice
        assert [p.is_symlink() for p in history.glob(f"{link.name}.damaged-*")] == [True]


def test_weights_that_became_a_link_are_not_opened(tmp_path, mnist):
    store = RunStore(tmp_path)
    (run_id,) = store.add(trained(mnist))
    path = tmp_path / "weights" / f"{run_id}.safetensors"
    path.unlink()
    path.symlink_to("/etc/passwd")
    with pytest.raises(StoreError, match="not a regular file .*does not follow links"):
        store.weights_file(run_id)


def test_a_damaged_page_sets_the_history_aside_and_the_next_run_is_kept(tmp_path, mnist):
    store = RunStore(tmp_path)
    for _ in range(3):
        store.add(trained(mnist))
    db = tmp_path / "runs.db"
    pages = db.stat().st_size // 4096
    with db.open("r+b") as fh:  # one page in the middle, as `dd` would
        fh.seek(pages // 2 * 4096)
        fh.write(np.random.default_rng(0).bytes(4096))
    fresh = RunStore(tmp_path)
    assert "could not be read (" in fresh.notice and fresh.runs() == []
    fresh.add(trained(mnist))
    assert len(fresh.runs()) == 1 and len(list(tmp_path.glob("runs.db.damaged-*"))) == 1


def test_a_full_disk_keeps_no_row_without_its_weights(tmp_path, mnist, monkeypatch):
    store = RunStore(tmp_path)
    (kept,) = store.add(trained(mnist))

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("l1_trainer.core.files.store.write_private", full)
    with pytest.raises(StoreError, match="cannot write the run history .*No space left on device"):
        store.add(trained(mnist))
    assert [r.id for r in store.runs()] == [kept]
    assert [p.name for p in (tmp_path / "weights").iterdir()] == [f"{kept}.safetensors"]


def test_every_part_of_a_row_is_bounded(tmp_path, mnist):
    record = trained(mnist)
    epoch = record.epochs[0]
    record.epochs.extend(dataclasses.replace(epoch, epoch=e) for e in range(2, 3001))
    record.changes.extend(HyperparamsChanged(s, (1e-4 * (s % 3),), (0.0,), 1e-3) for s in range(1, 6001))
    n = 60_000
    noise = np.random.default_rng(0).random((5, n, 1))  # curves as incompressible as they come
    counts = np.random.default_rng(1).integers(0, 50_000, (2, n // 25, 1))
    record.apply(Steps(*(np.arange(n),) * 3, *noise, counted_at=np.arange(0, n, 25), near_zero=counts[0],
                       exact_zeros=counts[1], samples_per_s=1.0))
    store = RunStore(tmp_path)
    (run_id,) = store.add(record)
    with sqlite3.connect(tmp_path / "runs.db") as db:
        sizes = db.execute("SELECT length(config), length(changes), length(epoch_metrics), length(ended), "
                           "length(curves), length(schedule) FROM runs").fetchone()
        changes, epochs = (json.loads(v) for v in db.execute("SELECT changes, epoch_metrics FROM runs").fetchone())
    assert len(changes) == MAX_CHANGES_KEPT and changes[-1]["step"] == 6000
    assert len(epochs) == MAX_EPOCHS_KEPT and epochs[-1]["epoch"] == 3000
    epochs = store.record(run_id).curves()[0]
    assert len(epochs) <= MAX_POINTS and epochs[-1] == pytest.approx(record.curves()[0][-1])  # the last kept
    assert "more changes" in store.runs()[0].schedule
    assert sum(sizes) < 500_000, sizes  # README: a row is under 0.5 MB, whatever the run did
    model, _, summary = load_model(store.weights_file(run_id))  # the file it wrote opens
    assert summary["schedule"] == store.runs()[0].schedule


def test_the_history_stays_within_its_bytes(tmp_path, mnist, monkeypatch):
    record = trained(mnist)
    store = RunStore(tmp_path)
    store.add(record)
    one_run = store.disk_use()
    monkeypatch.setattr("l1_trainer.core.files.store.MAX_BYTES", int(3.5 * one_run))
    for _ in range(8):
        store.add(record)
        assert store.disk_use() <= 3.5 * one_run
    assert [r.id for r in store.runs()][0] == 9 and 2 <= len(store.runs()) <= 3
    monkeypatch.setattr("l1_trainer.core.files.store.MAX_BYTES", 1)
    store.add(record)
    assert [r.id for r in store.runs()] == [10]  # the newest is always kept


def test_a_link_planted_while_the_history_is_open_is_not_followed(tmp_path, mnist):
    history = tmp_path / "history"
    store = RunStore(history)
    store.add(trained(mnist))
    victim = tmp_path / "victim.db"
    sqlite3.connect(victim).execute("CREATE TABLE secrets (x)").connection.commit()
    before = victim.read_bytes()
    (history / "runs.db").rename(tmp_path / "moved.db")
    (history / "runs.db").symlink_to(victim)
    (run_id,) = store.add(trained(mnist))  # the same store, opened before the link was planted
    assert victim.read_bytes() == before and "symbolic link" in store.notice
    assert [r.id for r in store.runs()] == [run_id]


def test_a_folder_where_the_weights_go_is_moved_aside_and_the_run_kept(tmp_path, mnist):
    store = RunStore(tmp_path)
    (tmp_path / "weights" / "1.safetensors").mkdir()
    (run_id,) = store.add(trained(mnist))
    assert store.weights_file(run_id).is_file() and list((tmp_path / "weights").glob("1.safetensors.damaged-*"))


def test_a_damaged_history_on_a_full_disk_is_one_clear_error(tmp_path, monkeypatch):
    (tmp_path / "runs.db").write_bytes(b"garbage" * 100)
    opened = []

    def full(self):
        opened.append(1)
        if len(opened) == 1:
            raise sqlite3.DatabaseError("file is not a database")
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(RunStore, "_open", full)
    with pytest.raises(StoreError, match="cannot keep the run history in .*database or disk is full; free some"):
        RunStore(tmp_path)


def test_another_programs_database_is_set_aside_not_changed(tmp_path, mnist):
    with sqlite3.connect(tmp_path / "runs.db") as db:
        db.execute("CREATE TABLE people (name TEXT)")
    before = (tmp_path / "runs.db").read_bytes()
    store = RunStore(tmp_path)
    assert "another program's database" in store.notice
    (aside,) = tmp_path.glob("runs.db.damaged-*")
    assert aside.read_bytes() == before
    store.add(trained(mnist))
    assert len(store.runs()) == 1


def test_text_that_is_not_utf8_lists_with_a_mark_and_the_history_still_takes_runs(tmp_path, mnist):
    store = RunStore(tmp_path)
    store.add(trained(mnist))
    with sqlite3.connect(tmp_path / "runs.db") as db:
        db.execute("UPDATE runs SET schedule = CAST(x'41ff42c0' AS TEXT)")
    again = RunStore(tmp_path)
    assert again.runs()[0].schedule == "A\ufffdB\ufffd" and not again.notice
    again.add(trained(mnist))
    assert len(again.runs()) == 2


def test_a_comparison_is_kept_as_one_group_and_a_history_from_before_groups_opens(tmp_path, mnist):
    config = PRESETS["l1-vs-l2"].replace(epochs=1, train_subset=640, device="cpu")
    trainer = Trainer(config, mnist, l1_weights=[0.0, 0.0, 0.1], l2_weights=[0.0, 1e-3, 0.0])
    record = RunRecord(1, config, (0.0, 0.0, 0.1), (0.0, 1e-3, 0.0), Kind.COMPARISON)
    for event in trainer.run():
        record.apply(event)
    store = RunStore(tmp_path)
    store.add(trained(mnist))
    ids = store.add(record)
    assert ids == [2, 3, 4] and store.group(3) == ids and store.group(1) == [1]
    assert [(r.kind, r.group) for r in store.runs()[:3]] == [("comparison", 2)] * 3
    assert [store.record(i).line_name() for i in ids] == ["#2 no penalty", "#3 L2 1e-3", "#4 L1 0.1"]
    assert store.next_id() == 5
    with sqlite3.connect(tmp_path / "runs.db") as db:  # as a version before comparisons made it
        db.executescript("CREATE TABLE old AS SELECT * FROM runs; DROP TABLE runs; "
                         "ALTER TABLE old DROP COLUMN grp; ALTER TABLE old RENAME TO runs;")
    again = RunStore(tmp_path)
    assert not again.notice and [r.id for r in again.runs()] == [4, 3, 2, 1]  # kept, not set aside
