"""Query-level statistics of comparison tables: per-query scores from the store, intervals,
marks that follow a test, and their compact display.

The table code calls, in order: `load_per_query` (per-query values of every cell, from the
runs' codes.npz, recomputed from the stored codes for runs stored before they were kept),
`table_statistics` (intervals and marks of the whole table, batched; see `hashbench.stats`),
then `TableStatistics.rank` / `.interval` per cell (`comparison.build_table` does all of this;
`table_formats` prints the intervals as `mean ±h`, h the larger side).

Cell keys are the table's: ((task, method label), (dataset, bits)); a column for the marks is
(task, (dataset, bits)), i.e. dataset x bits x task.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from hashbench.stats import (
    DEFAULT_OPTIONS,
    CellInterval,
    ColumnMarks,
    StatsOptions,
    cell_intervals,
    seed_marks,
    table_marks,
)
from hashbench.store import ResultStore, RunRecord

Row = tuple[str, str]  # (task, method label)
Column = tuple[str, int]  # (dataset, bits)
CellKey = tuple[Row, Column]
SIGNIFICANCE_CHOICES = ("queries", "seeds")


def load_per_query(
    store: ResultStore,
    records: Iterable[RunRecord],
    metric: str,
    label: Callable[[RunRecord], str] = lambda record: record.method,
) -> tuple[dict[CellKey, dict[int, np.ndarray]], list[str]]:
    """(cell -> seed -> per-query values of `metric`, ids of runs whose values were recomputed).

    Stored values are read without the codes; a run without them (stored before they were
    kept, or a metric outside the standard set) is recomputed from its stored codes and labels.
    """
    from hashbench.runner.recompute import per_query_scores, stored_per_query

    cells: dict[CellKey, dict[int, np.ndarray]] = defaultdict(dict)
    recomputed = []
    for record in records:
        found = stored_per_query(store, record, metric)
        tasks = [t for t, v in record.metrics.items() if isinstance(v, dict) and metric in v]
        if any(t not in found for t in tasks):
            found = per_query_scores(store, record, metric)
            recomputed.append(record.run_id)
        for task in tasks:
            cells[((task, label(record)), (record.dataset, record.bits))][record.seed] = found[task]
    return dict(cells), recomputed


@dataclass(frozen=True)
class TableStatistics:
    """Intervals of the cells and marks of the columns of one table."""

    options: StatsOptions
    intervals: dict[CellKey, CellInterval] = field(default_factory=dict)
    marks: dict[tuple[str, Column], ColumnMarks] = field(default_factory=dict)
    recomputed: tuple[str, ...] = ()  # runs whose per-query values came from their codes

    def rank(self, row: Row, column: Column) -> int | None:
        """1 / 2 / 3 = best / second / third mark, None = no mark (or no test ran)."""
        marks = self.marks.get((row[0], column))
        return marks.ranks.get(row[1]) if marks else None

    def interval(self, row: Row, column: Column) -> CellInterval | None:
        return self.intervals.get((row, column))


def table_statistics(
    per_query: Mapping[CellKey, Mapping[int, np.ndarray]],
    options: StatsOptions = DEFAULT_OPTIONS,
    *,
    intervals: bool = True,
    marks: bool = True,
    scores: Mapping[CellKey, float] | None = None,
    recomputed: Iterable[str] = (),
) -> TableStatistics:
    """Intervals (if asked) of every cell and marks (if asked) of every column.

    scores: the values that order methods within a column (the table's displayed means); by
    default each cell's per-query mean. options.test "seeds" tests the per-seed means.
    """
    columns: dict[tuple[str, Column], dict[str, Mapping[int, np.ndarray]]] = defaultdict(dict)
    order: dict[tuple[str, Column], dict[str, float]] = defaultdict(dict)
    for (row, column), by_seed in per_query.items():
        columns[(row[0], column)][row[1]] = by_seed
        if scores is not None and (row, column) in scores:
            order[(row[0], column)][row[1]] = scores[(row, column)]
    return TableStatistics(
        options=options,
        intervals=cell_intervals(per_query, options) if intervals else {},
        marks=table_marks(columns, options, dict(order) if scores is not None else None)
        if marks
        else {},
        recomputed=tuple(recomputed),
    )


def seed_test_marks(
    by_seed: Mapping[CellKey, Mapping[int, float]],
    alpha: float = 0.05,
    scores: Mapping[CellKey, float] | None = None,
) -> dict[tuple[str, Column], ColumnMarks]:
    """Marks from the paired t-test over seeds on the stored cell values (no per-query values
    needed): the same stages and Holm families as the query-level test."""
    columns: dict = defaultdict(dict)
    order: dict = defaultdict(dict)
    for (row, column), values in by_seed.items():
        columns[(row[0], column)][row[1]] = values
        if scores is not None:
            order[(row[0], column)][row[1]] = scores[(row, column)]
    return seed_marks(columns, alpha, dict(order) if scores is not None else None)
