"""Marks of a column that hold their error rate and their logic: all pairs, one Holm family,
compact letters.

A column here is one family of rows that compete (the table passes one family per dataset x
bits x task x protocol/budget; see `report.comparison`). Every pair of its methods is tested
(the two-level bootstrap test of `twolevel`, or the paired t-test over seeds), and the
m (m - 1) / 2 p-values are Holm-adjusted together, so the probability that any pair of equal
methods is separated, the choice of the best included, is at most alpha (Holm 1979, under any
dependence between the tests). The separated pairs give the compact letter display and the
marks (`letters`): methods the test cannot separate share a letter, hence a mark.

Monte-Carlo error: each bootstrap p-value comes with its Monte-Carlo standard error; a pair
whose adjusted p lies within 3 of them of alpha is "near the threshold" (another --seed of the
resampling could flip it), and the rows of such pairs are flagged.

`seed_marks` does the same with the t-test over seeds on stored cell values; a family where some
method has fewer than 2 seeds (or a pair shares fewer than 2) cannot be tested and is left
unmarked with the reason in `untestable`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from hashbench.stats.cells import DEFAULT_OPTIONS, PerQuery, StatsOptions, table_draws
from hashbench.stats.letters import letter_marks
from hashbench.stats.multiple import holm, seeds_ttest
from hashbench.stats.twolevel import pair_test

N_MARKS = 3
NEAR_SE = 3.0  # a mark is "near the threshold" within this many MC standard errors of alpha

Pair = tuple[str, str]


@dataclass(frozen=True)
class ColumnMarks:
    """Marks of one family: letters, marks (1 best, 2 second, 3 third) and the pair tests."""

    ranks: dict[str, int | None]  # each method's best mark (None: no mark)
    marks: dict[str, tuple[int, ...]] = field(default_factory=dict)  # every mark it carries
    letters: dict[str, str] = field(default_factory=dict)
    order: tuple[str, ...] = ()  # best first
    pvalues: dict[Pair, float] = field(default_factory=dict)  # Holm-adjusted, (better, worse)
    raw_pvalues: dict[Pair, float] = field(default_factory=dict)
    mc_se: dict[Pair, float] = field(default_factory=dict)  # MC standard error of the raw p
    near: frozenset[Pair] = frozenset()  # pairs within NEAR_SE MC errors of alpha
    tests: int = 0
    untestable: str | None = None  # why nothing is marked (too few seeds)

    @property
    def leaders(self) -> tuple[str, ...]:
        return self.order[:1]

    def versus(self, method: str) -> tuple[str | None, float | None, float | None]:
        """(the row method's p-value compares against, adjusted p, its MC standard error):
        the best row for every other row, the runner-up for the best row."""
        if len(self.order) < 2 or not self.pvalues:
            return None, None, None
        other = self.order[1] if method == self.order[0] else self.order[0]
        pair = _pair(self.order, method, other)
        adjusted = self.pvalues.get(pair)
        raw = self.raw_pvalues.get(pair)
        se = self.mc_se.get(pair)
        if adjusted is None or se is None:
            return other, adjusted, None
        return other, adjusted, se * (adjusted / raw if raw and adjusted < 1 else 1.0)

    def pvalue(self, a: str, b: str) -> float | None:
        """Holm-adjusted p-value of the pair (either order); None when it was not tested."""
        return self.pvalues.get(_pair(self.order, a, b)) if a != b else None

    def near_threshold(self, method: str) -> bool:
        return any(method in pair for pair in self.near)


def _pair(order: tuple[str, ...] | list[str], a: str, b: str) -> Pair:
    return (a, b) if order.index(a) < order.index(b) else (b, a)


def _order(values: Mapping[str, float]) -> list[str]:
    return sorted(values, key=lambda m: (-values[m], m))


def family_marks(
    scores: Mapping[str, float],
    raw: Mapping[Pair, float],
    mc_se: Mapping[Pair, float],
    alpha: float,
    n_marks: int = N_MARKS,
) -> ColumnMarks:
    """Holm over all pairs of the family, then letters and marks (scores: higher is better)."""
    order = _order(scores)
    pairs = [_pair(order, a, b) for a, b in combinations(order, 2)]
    p = np.array([raw[pair] for pair in pairs])
    adjusted = holm(p) if len(p) else p
    separated = [pair for pair, q in zip(pairs, adjusted, strict=True) if q < alpha]
    letters, marks = letter_marks(order, separated, n_marks)
    near = set()
    for pair, q, r in zip(pairs, adjusted, p, strict=True):
        se = mc_se.get(pair, 0.0) * (q / r if r > 0 and q < 1 else 1.0)
        if se > 0 and abs(q - alpha) <= NEAR_SE * se:
            near.add(pair)
    return ColumnMarks(
        ranks={m: min(marks[m]) if marks[m] else None for m in order},
        marks=marks,
        letters=letters,
        order=tuple(order),
        pvalues={pair: float(q) for pair, q in zip(pairs, adjusted, strict=True)},
        raw_pvalues={pair: float(raw[pair]) for pair in pairs},
        mc_se={pair: float(mc_se.get(pair, 0.0)) for pair in pairs},
        near=frozenset(near),
        tests=len(pairs),
    )


def unmarked(scores: Mapping[str, float], reason: str) -> ColumnMarks:
    order = _order(scores)
    return ColumnMarks(ranks=dict.fromkeys(order), order=tuple(order), untestable=reason)


def table_marks(
    columns: Mapping[Hashable, Mapping[str, PerQuery | np.ndarray]],
    options: StatsOptions = DEFAULT_OPTIONS,
    scores: Mapping[Hashable, Mapping[str, float]] | None = None,
    n_marks: int = N_MARKS,
) -> dict[Hashable, ColumnMarks]:
    """Marks of every column (family) from per-query values (column -> method -> seed ->
    values). options.test "queries": the two-level bootstrap test; "seeds": the t-test over
    seeds of the per-seed means. scores order the methods (default: the cells' means)."""
    if options.test == "seeds":
        by_seed = {
            col: {m: _seed_means(cell) for m, cell in cells.items()}
            for col, cells in columns.items()
        }
        return seed_marks(by_seed, options.alpha, scores, n_marks)
    draws = table_draws(
        {(col, m): cell for col, cells in columns.items() for m, cell in cells.items()}, options
    )
    out = {}
    for col, cells in columns.items():
        order = (scores or {}).get(col) or {m: draws[(col, m)].estimate for m in cells}
        raw, se = {}, {}
        for a, b in combinations(_order(order), 2):
            found = pair_test(draws[(col, a)], draws[(col, b)], options.level)
            raw[(a, b)], se[(a, b)] = found.pvalue, found.mc_se
        out[col] = family_marks(order, raw, se, options.alpha, n_marks)
    return out


def column_marks(
    per_query: Mapping[str, PerQuery | np.ndarray],
    options: StatsOptions = DEFAULT_OPTIONS,
    scores: Mapping[str, float] | None = None,
    n_marks: int = N_MARKS,
) -> ColumnMarks:
    """Marks of one column: method -> (seed -> per-query values, or one array)."""
    found = table_marks({0: per_query}, options, {0: scores} if scores else None, n_marks)
    return found[0]


def _seed_means(cell: PerQuery | np.ndarray) -> dict[int, float]:
    if isinstance(cell, np.ndarray):
        return {0: float(np.mean(cell))}
    return {s: float(np.mean(v)) for s, v in cell.items()}


def seed_marks(
    by_seed: Mapping[Hashable, Mapping[str, Mapping[int, float]]],
    alpha: float = 0.05,
    scores: Mapping[Hashable, Mapping[str, float]] | None = None,
    n_marks: int = N_MARKS,
) -> dict[Hashable, ColumnMarks]:
    """Marks from the paired t-test over shared seeds on stored cell values (column -> method
    -> seed -> value), all pairs Holm-adjusted; a family where a pair shares fewer than 2
    seeds is not marked (`untestable`). Default order: the means over seeds."""
    out = {}
    for col, cells in by_seed.items():
        order = (scores or {}).get(col) or {
            m: float(np.mean(list(v.values()))) for m, v in cells.items()
        }
        short: dict[str, int] = defaultdict(int)
        for a, b in combinations(sorted(cells), 2):
            shared = len(set(cells[a]) & set(cells[b]))
            if shared < 2:
                short[a] = short[b] = shared
        if short and len(cells) > 1:
            few = ", ".join(sorted(short))
            out[col] = unmarked(
                order, f"too few shared seeds for the t-test over seeds ({few}); not marked"
            )
            continue
        raw = {
            (a, b): seeds_ttest(cells[a], cells[b]) for a, b in combinations(_order(order), 2)
        }
        out[col] = family_marks(order, raw, {}, alpha, n_marks)
    return out
