"""The window's background jobs: functions and generators, results and exceptions handed to the
GUI thread, the newest of a kind counting, one exclusive slot, and a shutdown that keeps results."""

from __future__ import annotations

import threading

import pytest

from l1_trainer.core.errors import describe
from l1_trainer.core.files.store import StoreError
from l1_trainer.gui.jobs import JobRunner


@pytest.fixture
def runner(qtbot):
    runner = JobRunner()
    yield runner
    runner.shutdown()


def test_a_function_job_hands_its_result_to_the_gui_thread(qtbot, runner):
    got, threads = [], []
    runner.call("sum", lambda: (threads.append(threading.get_ident()), sum(range(10)))[1],
                done=got.append)
    qtbot.waitUntil(lambda: got == [45])
    assert threads != [threading.get_ident()]


def test_a_failure_arrives_as_the_exception_itself(qtbot, runner):
    failures, results = [], []

    def fails():
        raise StoreError("the history's folder is read-only")

    runner.call("keep", fails, done=results.append, fail=failures.append)
    qtbot.waitUntil(lambda: len(failures) == 1)
    assert results == []
    assert type(failures[0]) is StoreError
    assert str(failures[0]) == "the history's folder is read-only"


def test_a_generator_job_reports_each_value_then_its_return_value(qtbot, runner):
    progress, results = [], []

    def counting():
        yield from range(5)
        return "ended"

    runner.iterate("count", counting, progress=progress.append, done=results.append)
    qtbot.waitUntil(lambda: results == ["ended"])
    assert progress == [0, 1, 2, 3, 4]


def test_only_the_newest_job_of_a_kind_is_heard(qtbot, runner):
    release, results = threading.Event(), []
    runner.call("evaluate", lambda: (release.wait(10), "old")[1], done=results.append)
    runner.call("evaluate", lambda: "new", done=results.append)
    qtbot.waitUntil(lambda: results == ["new"])
    release.set()
    qtbot.waitUntil(lambda: not runner.jobs)
    assert results == ["new"]


def test_one_run_at_a_time(qtbot, runner):
    release = threading.Event()

    def run():
        release.wait(10)
        yield 1
        return "first"

    results = []
    assert runner.iterate(JobRunner.EXCLUSIVE, run, done=results.append, cancel=release.set)
    assert runner.busy
    assert runner.iterate(JobRunner.EXCLUSIVE, run, done=results.append) is None
    release.set()
    qtbot.waitUntil(lambda: results == ["first"])
    assert not runner.busy


def test_shutdown_cancels_waits_and_still_hands_on_the_result(qtbot):
    runner, stop, results = JobRunner(), threading.Event(), []

    def run():
        while not stop.wait(0.01):
            yield "step"
        return "stopped"

    runner.iterate(JobRunner.EXCLUSIVE, run, done=results.append, cancel=stop.set)
    runner.shutdown()
    assert results == ["stopped"]  # before shutdown returned: no event loop is needed
    assert runner.call("evaluate", lambda: 1) is None


def test_a_failure_becomes_one_line_where_it_is_shown():
    import torch

    assert describe(StoreError("the history's folder is read-only")) == "the history's folder is read-only"
    assert describe(ValueError("lr must be positive")) == "lr must be positive"
    assert describe(KeyError("fc1.weight")) == "KeyError: 'fc1.weight'"  # a bug: its type named
    assert describe(torch.OutOfMemoryError("CUDA out of memory")).startswith("out of memory on the training device")
