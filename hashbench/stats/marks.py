"""Best / second / third marks that follow a significance test: shared where the data cannot
separate methods.

In one column (dataset x bits x task) the methods are ordered by their value (highest first;
equal values by name). Stage 1: the best method is tested against every other method, and the
m - 1 p-values are Holm-corrected together. Every method whose corrected p-value is >= alpha
is not separable from the best and shares the best mark. Stage 2 repeats this among the methods
the best was separated from: the highest of them leads, it is tested against each of the rest
(a new Holm family), and those not separable from it share the second mark; stage 3 likewise
for the third. Methods left after the last stage get no mark.

So a method loses the best mark only when the test separates it from the best: the table never
bolds one method and leaves another plain on a difference the data cannot support. Each mark's
boundary is one Holm family (family-wise error <= alpha within it). Because the test looks at
per-query differences and not only at means, a method with a lower mean can, rarely, share a
mark that a slightly higher but consistently worse method does not.

`table_marks` runs the stages of all columns together, so each stage of a whole table costs one
batched test (see `resampling`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np

from hashbench.stats.cells import (
    DEFAULT_OPTIONS,
    PerQuery,
    StatsOptions,
    batch_pvalues,
    seed_average,
)
from hashbench.stats.multiple import holm, seeds_ttest

N_MARKS = 3


@dataclass(frozen=True)
class ColumnMarks:
    """Marks of one column: rank 1 = best mark, 2 = second, 3 = third, None = no mark."""

    ranks: dict[str, int | None]
    leaders: tuple[str, ...]  # the method that leads each mark's stage
    pvalues: dict[str, float] = field(default_factory=dict)  # Holm-adjusted, vs its stage leader
    raw_pvalues: dict[str, float] = field(default_factory=dict)
    tests: int = 0  # tests run in the column, all stages together


PValues = Callable[[list[tuple[Hashable, str, str]]], list[float]]


def _order(values: Mapping[str, float]) -> list[str]:
    return sorted(values, key=lambda m: (-values[m], m))


def stagewise_marks(
    scores: Mapping[Hashable, Mapping[str, float]],
    pvalues: PValues,
    alpha: float,
    n_marks: int = N_MARKS,
) -> dict[Hashable, ColumnMarks]:
    """Marks of every column from `pvalues([(column, leader, other), ...])` (raw p-values).

    scores: column -> method -> the value that orders the methods (higher is better).
    """
    remaining = {col: _order(vals) for col, vals in scores.items()}
    ranks: dict = {col: dict.fromkeys(order) for col, order in remaining.items()}
    leaders: dict = defaultdict(list)
    adjusted: dict = defaultdict(dict)
    raw: dict = defaultdict(dict)
    tests: dict = defaultdict(int)
    for mark in range(1, n_marks + 1):
        requests = [(c, r[0], o) for c, r in remaining.items() if r for o in r[1:]]
        found = list(pvalues(requests)) if requests else []
        by_column: dict = defaultdict(list)
        for request, p in zip(requests, found, strict=True):
            by_column[request[0]].append((request[2], p))
        for col, order in list(remaining.items()):
            if not order:
                continue
            leader = order[0]
            ranks[col][leader] = mark
            leaders[col].append(leader)
            tested = by_column.get(col, [])
            tests[col] += len(tested)
            adj = holm([p for _, p in tested]) if tested else np.array([])
            separated = []
            for (method, p), q in zip(tested, adj, strict=True):
                raw[col][method], adjusted[col][method] = p, float(q)
                if q >= alpha:
                    ranks[col][method] = mark
                else:
                    separated.append(method)
            remaining[col] = separated
    return {
        col: ColumnMarks(
            ranks=ranks[col],
            leaders=tuple(leaders[col]),
            pvalues=dict(adjusted[col]),
            raw_pvalues=dict(raw[col]),
            tests=tests[col],
        )
        for col in scores
    }


def table_marks(
    columns: Mapping[Hashable, Mapping[str, PerQuery | np.ndarray]],
    options: StatsOptions = DEFAULT_OPTIONS,
    scores: Mapping[Hashable, Mapping[str, float]] | None = None,
    n_marks: int = N_MARKS,
) -> dict[Hashable, ColumnMarks]:
    """Marks of every column from per-query values (column -> method -> seed -> values).

    options.test "queries": the paired randomization test over queries; "seeds": the paired
    t-test over seeds of the per-seed means. scores: the values that order the methods (e.g.
    the table's displayed means); default the per-query means averaged over seeds.
    """
    order = scores or {
        col: {m: float(seed_average(cell).mean()) for m, cell in cells.items()}
        for col, cells in columns.items()
    }

    def pvalues(requests: list[tuple[Hashable, str, str]]) -> list[float]:
        pairs = {r: (columns[r[0]][r[1]], columns[r[0]][r[2]]) for r in requests}
        found = batch_pvalues(pairs, options)
        return [found[r] for r in requests]

    return stagewise_marks(order, pvalues, options.alpha, n_marks)


def column_marks(
    per_query: Mapping[str, PerQuery | np.ndarray],
    options: StatsOptions = DEFAULT_OPTIONS,
    scores: Mapping[str, float] | None = None,
    n_marks: int = N_MARKS,
) -> ColumnMarks:
    """Marks of one column: method -> (seed -> per-query values, or one array)."""
    found = table_marks({0: per_query}, options, {0: scores} if scores else None, n_marks)
    return found[0]


def seed_marks(
    by_seed: Mapping[Hashable, Mapping[str, Mapping[int, float]]],
    alpha: float = 0.05,
    scores: Mapping[Hashable, Mapping[str, float]] | None = None,
    n_marks: int = N_MARKS,
) -> dict[Hashable, ColumnMarks]:
    """Marks from the paired t-test over seeds on stored cell values (column -> method -> seed
    -> value), for runs without per-query values; default order: the means over seeds."""
    order = scores or {
        col: {m: float(np.mean(list(v.values()))) for m, v in cells.items()}
        for col, cells in by_seed.items()
    }

    def pvalues(requests: list[tuple[Hashable, str, str]]) -> list[float]:
        return [seeds_ttest(by_seed[c][a], by_seed[c][b]) for c, a, b in requests]

    return stagewise_marks(order, pvalues, alpha, n_marks)
