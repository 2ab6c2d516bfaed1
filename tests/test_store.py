"""Runs that survive a restart: the SQLite history and its weight files."""

import sqlite3

import numpy as np
import pytest

from l1_trainer.core.config import PRESETS
from l1_trainer.core.engine import Trainer
from l1_trainer.core.modelfile import load_model
from l1_trainer.core.records import RunRecord
from l1_trainer.core.store import RunStore, StoreError


def trained(mnist, l1_weights=None, epochs=1):
    config = PRESETS["balanced"].replace(epochs=epochs, train_subset=1280, device="cpu")
    trainer = Trainer(config, mnist, l1_weights=l1_weights)
    weights = tuple(l1_weights or [config.l1_weight])
    record = RunRecord(1, config, weights, sweep=l1_weights is not None)
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
    ids = store.add(trained(mnist, l1_weights=[0.0, 1e-3]))
    runs = store.runs()
    assert [r.id for r in runs] == [3, 2, 1] and ids == [2, 3]
    assert [(r.kind, r.l1_weight) for r in runs[:2]] == [("sweep", 1e-3), ("sweep", 0.0)]
    assert runs[0].sparsity > runs[1].sparsity and "L1 1e-3, lr 1e-3" in runs[0].line()


def test_disk_use_is_bounded(tmp_path, mnist, monkeypatch):
    monkeypatch.setattr("l1_trainer.core.store.MAX_RUNS", 2)
    monkeypatch.setattr("l1_trainer.core.store.MAX_POINTS", 7)
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
    assert "could not be read; it was kept aside as runs.db.damaged-" in fresh.notice
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
    ("changes", '[{"step": "x"}]'),
    ("epoch_metrics", '[{"epoch": 1}]'),
    ("curves", b"\x00\x01"),
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
    monkeypatch.setattr(RunStore, "_connect", lambda self: sqlite3.connect(self.path, timeout=0.1))
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
    from l1_trainer.core import cli

    monkeypatch.setenv("L1_TRAINER_DATA", str(tmp_path))
    RunStore(tmp_path)

    def refused(self, record):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(RunStore, "_add", refused)
    with pytest.raises(StoreError, match="cannot write the run history .*attempt to write a readonly"):
        RunStore(tmp_path).add(trained(mnist))
    cli._keep(trained(mnist))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the run was not kept in the history" in err
