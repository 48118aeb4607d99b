"""Query-level statistics of comparison tables: per-query scores from the store, intervals,
marks that follow a test, and their compact display.

The table code calls, in order: `load_per_query` (per-query values of every cell, from the
runs' codes.npz read through the store's checks, recomputed from the stored codes for runs
stored before they were kept),
`table_statistics` (intervals and marks of the whole table, batched; see `hashbench.stats`),
then `TableStatistics.rank` / `.interval` per cell (`comparison.build_table` does all of this;
`table_formats` prints the intervals as `mean ±h`, h the larger side).

Cell keys are the table's: ((task, method label), (dataset, bits)); a column for the marks is
(task, (dataset, bits)), i.e. dataset x bits x task.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from hashbench.report.variants import is_as_released
from hashbench.stats import (
    DEFAULT_OPTIONS,
    MIN_QUERIES,
    CellInterval,
    ColumnMarks,
    StatsOptions,
    cell_intervals,
    seed_marks,
    table_draws,
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
    *,
    missing: list[str] | None = None,
) -> tuple[dict[CellKey, dict[int, np.ndarray]], list[str]]:
    """(cell -> seed -> per-query values of `metric`, ids of runs whose values were recomputed).

    Every run's codes file is read through `ResultStore.load_arrays` (checked against its row:
    a foreign or damaged file raises StoreError). A run without stored values (stored before
    they were kept, or a metric outside the standard set) is recomputed from its codes.
    missing: when given, a run whose codes file is gone is appended to it and its cell left
    out (the table shows n/a there) instead of raising MissingCodesError.
    """
    from hashbench.runner.recompute import per_query_scores
    from hashbench.store import MissingCodesError

    cells: dict[CellKey, dict[int, np.ndarray]] = defaultdict(dict)
    gone: set[CellKey] = set()
    recomputed = []
    for record in records:
        tasks = [t for t, v in record.task_metrics().items() if metric in v]
        keys = {task: ((task, label(record)), (record.dataset, record.bits)) for task in tasks}
        try:
            found = per_query_scores(store, record, metric, recompute_missing=False)
            if any(t not in found for t in tasks):
                found = per_query_scores(store, record, metric)
                recomputed.append(record.run_id)
        except MissingCodesError:
            if missing is None:
                raise
            missing.append(record.run_id)
            gone.update(keys.values())
            continue
        for task, key in keys.items():
            cells[key][record.seed] = found[task]
    return {key: by_seed for key, by_seed in cells.items() if key not in gone}, recomputed


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
    draws = table_draws(per_query, options) if intervals else None
    return TableStatistics(
        options=options,
        intervals=cell_intervals(per_query, options, draws) if intervals else {},
        marks=table_marks(columns, options, dict(order) if scores is not None else None)
        if marks
        else {},
        recomputed=tuple(recomputed),
    )


def family_of(label: str) -> str | None:
    """The family a row's marks compete in: its "(budget, protocol)" tag ("" for the plain
    method); None for a row with non-default --param values (`variants`: "name [k=v]"), which
    is a setting of a method, not a method, and is not ranked, and for an as-released row
    (selected as its released code selects, often on the test queries: never ranked with
    anything)."""
    if " [" in label or is_as_released(label):
        return None
    return label[label.index(" (") :] if " (" in label else ""


def test_marks(
    cells: dict,
    shown: Mapping[CellKey, float],
    test: str,
    options: StatsOptions,
    per_query: Mapping[CellKey, Mapping[int, np.ndarray]] | None,
) -> None:
    """Set the test's marks on `cells` (CellKey -> report Cell), in place.

    One family per (task, dataset, bits, protocol/budget tag); parameter variants and families
    of one row stay unmarked. test "queries": the two-level bootstrap over per_query (a column
    with fewer than MIN_QUERIES queries, or with a cell whose codes are missing, is not
    marked); "seeds": the t-test over the cells' stored per-seed values.
    """
    families: dict[tuple, dict[str, CellKey]] = defaultdict(dict)
    for key in cells:
        (task, label), column = key
        family = family_of(label)
        cells[key] = dataclasses.replace(cells[key], rank=None, marks=(), pvalue=None)
        if family is None:
            why = "as-released" if is_as_released(label) else "variant"
            cells[key] = dataclasses.replace(cells[key], unmarked=why)
        else:
            families[(task, column, family)][label] = key
    skip: set[tuple] = set()
    if test == "queries":
        for (task, column, family), members in families.items():
            for key in members.values():
                values = (per_query or {}).get(key)
                n = len(next(iter(values.values()))) if values else None
                if n is None or n < MIN_QUERIES:
                    skip.add((task, column, family))
                if n is not None and n < MIN_QUERIES:
                    cells[key] = dataclasses.replace(cells[key], few_queries=n)
    tested = {
        f: members for f, members in families.items() if f not in skip and len(members) > 1
    }
    if not tested:
        return
    order = {f: {label: shown[key] for label, key in m.items()} for f, m in tested.items()}
    if test == "seeds":
        by_seed = {
            f: {label: dict(cells[key].by_seed) for label, key in m.items()}
            for f, m in tested.items()
        }
        marks = seed_marks(by_seed, options.alpha, order)
    else:
        values = {f: {label: per_query[key] for label, key in m.items()} for f, m in tested.items()}
        marks = table_marks(values, options, order)
    for f, members in tested.items():
        found = marks[f]
        for label, key in members.items():
            if found.untestable:
                cells[key] = dataclasses.replace(cells[key], unmarked="untestable")
                continue
            versus, p, se = found.versus(label)
            cells[key] = dataclasses.replace(
                cells[key],
                rank=found.ranks.get(label),
                marks=found.marks.get(label, ()),
                letters=found.letters.get(label),
                pvalue=p,
                p_vs=versus,
                p_mc_se=se,
                near=found.near_threshold(label),
            )
