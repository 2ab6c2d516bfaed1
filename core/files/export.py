"""CSV export of curves and run summaries, made from run records and written atomically."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..app.records import SUMMARY_FIELDS, RunRecord
from .store import StoredRun
from .writing import write_atomic

CURVE_FIELDS = ("run", "epoch", "ce", "l1", "l2", "abs_sum", "square_sum", "test_accuracy")


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write a header and rows; returns the number of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    write_atomic(Path(path), buffer.getvalue().encode())
    return count


def write_curves(path: Path, lines: dict[tuple[RunRecord, int], str]) -> int:
    """These models' curves as CSV, each under its label; returns the number of rows."""
    return write_csv(path, CURVE_FIELDS, curve_rows(lines))


def write_summaries(path: Path, records: Iterable[RunRecord]) -> int:
    """One row per model of every record, as CSV; returns the number of rows."""
    return write_csv(path, SUMMARY_FIELDS, summary_rows(records))


def write_runs(path: Path, runs: list) -> int:
    """The kept runs (core.store.StoredRun), one row each, as CSV; returns the number of rows."""
    fields = [f.name for f in dataclasses.fields(StoredRun)]
    return write_csv(path, fields, [[getattr(run, f) for f in fields] for run in runs])


def curve_rows(lines: dict[tuple[RunRecord, int], str]) -> list[tuple]:
    """Every step's losses and sums and every epoch's test accuracy of these models (model m of
    each record), so far, under CURVE_FIELDS."""
    rows: list[tuple] = []
    for (record, m), label in lines.items():
        epochs, *losses = record.curves()
        columns = [a[:, m] for a in (*losses, *record.sums())]
        rows += [(label, f"{e:.6f}", *values, "") for e, *values in zip(epochs, *columns)]
        rows += [(label, f"{e.epoch:g}", *[""] * len(columns), e.test_accuracy[m]) for e in record.epochs]
    return rows


def summary_rows(records: Iterable[RunRecord]) -> list[list[object]]:
    """One row per model of every record (a sweep has one per L1 weight), under SUMMARY_FIELDS."""
    return [[summary[f] for f in SUMMARY_FIELDS]
            for record in records for summary in (record.summary(m) for m in range(record.k))]
