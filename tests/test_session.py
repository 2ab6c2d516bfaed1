"""The Qt-free application model: run records, labels, the collapse rule, what is enabled."""

import math

import numpy as np
import pytest

from l1_trainer.core.app.records import MIN_STEPS, SUMMARY_FIELDS, TAIL_STEPS, Kind, RunRecord, collapsed, differing
from l1_trainer.core.app.session import AppState, Session, enabled
from l1_trainer.core.training.config import PRESETS, TrainConfig, compared_weights
from l1_trainer.core.training.engine import Trainer
from l1_trainer.core.training.events import (
    EpochMetrics,
    HyperparamsChanged,
    Notice,
    Paused,
    Resumed,
    RunEnded,
    RunStatus,
    Steps,
    frozen,
)
from l1_trainer.core.training.sparsity import SparsityReport

LN10 = math.log(10)


def steps(first, ce, l1=0.1, k=1):
    n = len(ce)
    step = np.arange(first, first + n)
    column = np.asarray(ce, float).reshape(n, 1).repeat(k, 1)
    zeros = frozen(np.zeros((n, k)))
    return Steps(frozen(step), frozen(step / 100.0), frozen(step % 100 + 1), frozen(column),
                 frozen(np.full((n, k), l1)), zeros, frozen(np.full((n, k), l1 * 1e4)), zeros,
                 counted_at=frozen(step[-1:]), near_zero=frozen(np.zeros((1, k))),
                 exact_zeros=frozen(np.zeros((1, k))), samples_per_s=1000.0)


def epoch(number, accuracy, k=1):
    report = SparsityReport(1e-3, ())
    return EpochMetrics(number, 100 * number, (accuracy,) * k, (accuracy,) * k, (report,) * k, 1.0, 0.1, 1e4)


def test_the_state_machine_is_one_pure_function():
    idle = enabled(AppState.IDLE, has_model=False, has_history=False, several=False)
    assert idle.start and not idle.pause and not idle.stop and not idle.reset and idle.settings
    assert not idle.save_model and not idle.prune
    running = enabled(AppState.RUNNING, has_model=True, has_history=True, several=False)
    assert (running.start, running.pause, running.stop, running.settings) == (False, True, True, False)
    assert running.live_l1 and running.live_lr and running.save_model and not running.prune
    sweeping = enabled(AppState.RUNNING, has_model=False, has_history=True, several=True)
    assert not sweeping.live_l1 and sweeping.live_lr  # a sweep's or comparison's weights are fixed
    stopping = enabled(AppState.STOPPING, has_model=True, has_history=True, several=False)
    assert not (stopping.start or stopping.pause or stopping.stop or stopping.reset)
    loading = enabled(AppState.LOADING, has_model=False, has_history=False, several=False)
    assert not loading.start and loading.settings
    broken = enabled(AppState.BROKEN, has_model=False, has_history=False, several=False)
    assert not (broken.start or broken.open_model)
    done = enabled(AppState.IDLE, has_model=True, has_history=True, several=False)
    assert done.reset and done.prune and done.save_model


def test_a_record_holds_the_schedule_that_really_happened():
    config = PRESETS["balanced"]
    record = RunRecord(1, config, (1e-4,))
    record.apply(steps(1, [2.0] * 299))
    record.apply(HyperparamsChanged(300, (3e-3,), (0.0,), 1e-3))
    record.apply(HyperparamsChanged(500, (3e-3,), (0.0,), 3e-4))
    assert record.schedule() == "L1 1e-4 -> 3e-3 at step 300, lr 1e-3 -> 3e-4 at step 500"
    record.apply(HyperparamsChanged(700, (3e-3,), (1e-4,), 3e-4))
    assert record.schedule() == ("L1 1e-4 -> 3e-3 at step 300, L2 0 -> 1e-4 at step 700, "
                                 "lr 1e-3 -> 3e-4 at step 500")
    assert record.l1_schedule() == "1e-4 -> 3e-3 at step 300"
    report = SparsityReport(1e-3, ())
    record.apply(RunEnded(RunStatus.STOPPED, "stopped at step 512", 512, 0, (0.63,), (report,), (False,)))
    summary = record.summary()
    assert list(summary) == list(SUMMARY_FIELDS)
    assert (summary["status"], summary["steps"], summary["test_accuracy"]) == ("stopped", 512, 0.63)
    assert summary["schedule"] == record.schedule() and summary["l1_weight"] == 1e-4


def test_a_stopped_run_has_its_own_accuracy_not_the_last_runs():
    session = Session()
    session.set_state(AppState.IDLE)
    first = session.begin(PRESETS["balanced"])
    session.apply(epoch(1, 0.95))
    session.end(RunEnded(RunStatus.FINISHED, "", 100, 1, (0.95,), (SparsityReport(1e-3, ()),), (False,)))
    second = session.begin(PRESETS["sparse"])
    session.apply(steps(1, [2.0] * 10))
    session.end(RunEnded(RunStatus.STOPPED, "", 10, 0, (0.42,), (SparsityReport(1e-3, ()),), (False,)))
    assert first.test_accuracy() == 0.95 and second.test_accuracy() == 0.42


def test_labels_name_what_differs_between_runs():
    a = RunRecord(1, PRESETS["balanced"], (1e-4,))
    b = RunRecord(2, PRESETS["balanced"].replace(epochs=3, l1_method="proximal"), (1e-4,))
    assert differing([a]) == ()
    assert differing([a, b]) == ("epochs", "l1_method")
    assert b.label(differing([a, b])) == "L1 1e-4, lr 1e-3, 3 epochs, proximal"
    session = Session()
    session.set_state(AppState.IDLE)
    session.begin(PRESETS["balanced"])
    session.end(RunEnded(RunStatus.FINISHED, "", 1, 1))
    session.begin(PRESETS["balanced"].replace(batch_size=128))
    labels = list(session.lines().values())
    assert labels == ["run #1: L1 1e-4, lr 1e-3, batch 64", "run #2: L1 1e-4, lr 1e-3, batch 128"]
    compared = session.begin(PRESETS["l1-vs-l2"], *compared_weights(PRESETS["l1-vs-l2"]), kind=Kind.COMPARISON)
    assert compared.number == 3 and session.next_number == 6  # its models are kept as #3, #4, #5
    assert [session.lines()[(compared, m)] for m in range(3)] == ["#3 no penalty", "#4 L2 1e-3", "#5 L1 0.1"]
    with pytest.raises(ValueError, match="a run trains one model"):
        session.begin(PRESETS["balanced"], [0.0, 1e-3])


def test_reset_and_clear_old_runs_clear_one_history():
    session = Session()
    session.set_state(AppState.IDLE)
    seen, named = [], []
    session.events.runs.connect(lambda: seen.append(len(session.history)))
    session.events.names.connect(lambda: named.append(True))
    for _ in range(2):
        session.begin(PRESETS["balanced"])
        session.end(RunEnded(RunStatus.FINISHED, "", 1, 1))
    session.clear_old_runs()
    assert session.history == [] and seen == [1, 2, 0] and named == []  # begun, begun, cleared
    session.begin(PRESETS["balanced"])
    session.clear_old_runs()  # the live run stays
    assert len(session.history) == 1
    session.end(RunEnded(RunStatus.FINISHED, "", 1, 1))
    session.reset()
    assert session.history == [] and session.current is None


def test_collapse_needs_evidence_and_chance_level_loss():
    flat = np.full(300, LN10) + np.random.default_rng(0).normal(0, 0.003, 300)
    assert collapsed(flat, test_accuracy=0.1)
    assert not collapsed(flat[:2], test_accuracy=0.1)  # two steps: an untrained net looks the same
    assert not collapsed(flat[:150], test_accuracy=0.1)
    assert not collapsed(flat, test_accuracy=0.63)
    learning = np.linspace(2.3, 0.4, 300)
    assert not collapsed(learning, test_accuracy=0.15)
    noisy = LN10 + np.random.default_rng(1).normal(0, 0.3, 300)
    assert not collapsed(noisy, test_accuracy=0.1)


TOLERANCE, SPREAD = 0.02, 0.05  # the rule as the user guide states it


@pytest.mark.parametrize("inside", [True, False])
def test_collapse_bounds_are_the_stated_ones(inside):
    """A tail whose mean is off ln 10 by just under (over) the tolerance, and one whose spread
    is just under (over) the limit: each bound on its own decides."""
    near = 0.9 if inside else 1.1
    offset = np.full(MIN_STEPS, LN10 + near * TOLERANCE)
    assert collapsed(offset, test_accuracy=0.1) is inside
    alternating = LN10 + near * SPREAD * np.where(np.arange(MIN_STEPS) % 2, 1.0, -1.0)
    assert alternating[-TAIL_STEPS:].std() == pytest.approx(near * SPREAD)
    assert collapsed(alternating, test_accuracy=0.1) is inside


def test_each_model_of_a_sweep_has_its_own_accuracy():
    report = SparsityReport(1e-3, ())
    record = RunRecord(1, PRESETS["balanced"], (0.0, 1e-3), kind=Kind.SWEEP)
    record.apply(EpochMetrics(1, 100, (0.5, 0.7), (0.6, 0.9), (report, report), 1.0, 0.1, 1e4))
    assert [record.test_accuracy(m) for m in range(2)] == [0.6, 0.9]


def test_time_left_counts_samples_not_steps():
    config = PRESETS["balanced"].replace(epochs=1, train_subset=6400, batch_size=64)
    record = RunRecord(1, config, (1e-4,))
    record.apply(steps(1, [2.0] * 10))  # 10 of 100 steps done, at 1,000 samples a second
    assert record.seconds_left() == pytest.approx(90 * 64 / 1000.0)


def test_collapse_rule_on_real_runs(mnist):
    tiny = RunRecord(1, PRESETS["balanced"].replace(train_subset=100, epochs=1, device="cpu"), (1e-4,))
    for event in Trainer(tiny.config, mnist).run():
        tiny.apply(event)
    assert tiny.steps_done == 2 and not tiny.collapsed()  # the 100-image case: 2 steps prove nothing
    seed = RunRecord(2, PRESETS["seed"].replace(epochs=1, device="cpu"), (1.0,))
    for event in Trainer(seed.config, mnist).run():
        seed.apply(event)
    assert seed.collapsed()


def test_the_diagnosis_follows_the_current_run():
    session = Session()
    session.set_state(AppState.IDLE)
    texts = []
    session.events.diagnosis.connect(texts.append)
    session.begin(PRESETS["seed"])
    session.apply(steps(1, [LN10] * 300, l1=0.6))
    session.apply(epoch(1, 0.1))
    assert "collapsed to chance" in session.diagnosis and "(1)" in session.diagnosis
    session.end(RunEnded(RunStatus.FINISHED, "", 300, 1))
    session.begin(PRESETS["balanced"])  # a new run: the old verdict goes
    assert session.diagnosis == "" and texts[-1] == ""
    session.apply(steps(1, np.linspace(2.3, 0.5, 300)))
    session.apply(epoch(1, 0.63))
    assert session.diagnosis == ""


def test_a_run_that_ends_at_chance_is_said_whatever_its_loss_did():
    session = Session()
    session.set_state(AppState.IDLE)
    session.begin(PRESETS["balanced"].replace(l1_weight=10.0, lr=1.0, optimizer="sgd"))
    noisy = LN10 + np.random.default_rng(1).normal(0, 0.5, 300)  # no collapse by the CE rule
    session.apply(steps(1, noisy, l1=50.0))
    session.apply(epoch(1, 0.1016))
    assert session.diagnosis == ""
    session.end(RunEnded(RunStatus.FINISHED, "", 300, 1, (0.1016,)))
    assert session.diagnosis.startswith("The network ended at chance: test accuracy 10.2% after 300 steps")
    assert "L1 10, lr 1" not in session.diagnosis and "(L1 10)" in session.diagnosis
    assert "learning rate (1) is very large" in session.diagnosis


def test_runs_are_numbered_as_they_are_kept():
    session = Session()
    session.set_state(AppState.IDLE)
    session.next_number = 7  # the history's next id
    record = session.begin(PRESETS["balanced"])
    assert (record.number, record.title) == (7, "run #7")
    session.end(RunEnded(RunStatus.FINISHED, "", 1, 1))
    session.kept(record, [9])  # another process kept two runs meanwhile
    assert record.title == "run #9" and session.next_number == 10


def test_events_of_a_sweep_go_to_its_record_and_the_session_tracks_pause():
    session = Session()
    session.set_state(AppState.IDLE)
    record = session.begin(TrainConfig(), [0.0, 1e-3], kind=Kind.SWEEP)
    assert record.sweep and record.k == 2 and session.state is AppState.RUNNING
    session.apply(steps(1, [2.0] * 5, k=2))
    assert record.curves()[1].shape == (5, 2)
    session.apply(Paused(5))
    assert session.state is AppState.PAUSED and not session.enabled().live_l1
    session.apply(Resumed(5))
    assert session.state is AppState.RUNNING


def test_a_notice_from_the_engine_is_said_and_changes_no_number():
    session = Session()
    session.set_state(AppState.IDLE)
    record = session.begin(PRESETS["balanced"])
    said = []
    session.events.notice.connect(lambda text, kind: said.append((text, kind)))
    session.apply(Notice(4, "training on with the ordinary step"))
    assert said == [(f"{record.title}: training on with the ordinary step", "info")]
    assert record.steps_done == 0 and record.changes == []
