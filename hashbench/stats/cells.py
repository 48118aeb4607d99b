"""Per-query scores of table cells: seed averaging, bootstrap intervals, pairwise comparisons.

A cell (method x dataset x bits x task) holds, for each seed it ran, one value per query of a
metric (e.g. AP@50 of every query; their mean is the cell's mAP@50). All runs of a dataset
share its query set, so query i is the same query in every seed and every method.

Several seeds: the intervals resample queries and average over seeds. One bootstrap resample
draws n query indices and uses the same indices in every seed, so the resampled statistic is
the mean over seeds of the resampled means, which equals the resampled mean of the per-query
values averaged over seeds. The interval therefore covers the uncertainty from the sample of
queries for the seed-averaged system; the spread over seeds (training randomness) is reported
separately (the std over seeds in the table, or the t-test over seeds).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from hashbench.errors import InputError
from hashbench.stats.multiple import seeds_ttest
from hashbench.stats.resampling import (
    CI_METHODS,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    bootstrap_ci,
    randomization_test,
)

PerQuery = Mapping[int, np.ndarray]
"""seed -> (n_queries,) per-query values of one cell."""

MIN_QUERIES = 10
"""Fewest queries for an interval, a query-level test or an effect size. Below it the bootstrap
has a handful of distinct resamples (an interval of ±0 on 1 query), the sign-flip test cannot
reach p < 2 / 2^n (0.0625 on 5 queries), and d_z divides by a meaningless spread. 10 is also the
smallest query split a `--scale`d synthetic dataset keeps."""

TESTS = {
    "queries": "two-sided paired randomization (sign-flip) test over queries",
    "seeds": "two-sided paired t-test over seeds",
}


@dataclass(frozen=True)
class StatsOptions:
    """How intervals and tests are computed (every field is named in the table's footnote)."""

    test: str = "queries"  # a key of TESTS
    alpha: float = 0.05
    resamples: int = DEFAULT_RESAMPLES
    level: float = 0.95
    seed: int = DEFAULT_SEED
    ci_method: str = "bca"

    def __post_init__(self) -> None:
        if self.test not in TESTS:
            raise InputError(f"unknown test {self.test!r}; choose from {', '.join(TESTS)}")
        if self.ci_method not in CI_METHODS:
            raise InputError(f"unknown interval method {self.ci_method!r}")
        if not 0 < self.alpha < 1 or not 0 < self.level < 1:
            raise InputError("alpha and the confidence level must lie in (0, 1)")
        if self.resamples < 1:
            raise InputError(f"resamples must be positive; got {self.resamples}")

    def describe_ci(self) -> str:
        kind = "BCa" if self.ci_method == "bca" else "percentile"
        return (
            f"{self.level:.0%} {kind} bootstrap interval of the mean over queries "
            f"({self.resamples:,} resamples, "
            f"seed {self.seed}; with several seeds, per-query values averaged over seeds)"
        )

    def describe_test(self) -> str:
        detail = (
            f"per-query values averaged over shared seeds; {self.resamples:,} resamples, "
            f"seed {self.seed}"
            if self.test == "queries"
            else "scipy.stats.ttest_rel; needs 2 or more shared seeds"
        )
        return (
            f"{TESTS[self.test]} ({detail}), Holm-corrected within each column and task, "
            f"alpha = {self.alpha:g}"
        )


DEFAULT_OPTIONS = StatsOptions()


def _per_seed(cell: PerQuery | np.ndarray) -> dict[int, np.ndarray]:
    if isinstance(cell, np.ndarray):
        return {0: cell}
    if not cell:
        raise InputError("a cell needs per-query values of at least one seed")
    sizes = {np.shape(v) for v in cell.values()}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1:
        raise InputError(f"per-query values of a cell must be 1-d of one length; got {sizes}")
    return dict(cell)


def seed_average(cell: PerQuery | np.ndarray, seeds: list[int] | None = None) -> np.ndarray:
    """(n_queries,) per-query values averaged over `seeds` (default: all the cell's seeds)."""
    by_seed = _per_seed(cell)
    chosen = sorted(by_seed) if seeds is None else seeds
    return np.mean([np.asarray(by_seed[s], dtype=np.float64) for s in chosen], axis=0)


def paired_difference(
    a: PerQuery | np.ndarray, b: PerQuery | np.ndarray
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Per-query a - b, each averaged over the seeds both ran, and those seeds.

    Without a shared seed each side is averaged over its own seeds (the queries still pair).
    """
    sa, sb = _per_seed(a), _per_seed(b)
    shared = sorted(set(sa) & set(sb))
    xa = seed_average(sa, shared or None)
    xb = seed_average(sb, shared or None)
    if xa.shape != xb.shape:
        raise InputError(
            f"cells have {len(xa)} and {len(xb)} queries; only cells of one query set compare"
        )
    return xa - xb, tuple(shared)


@dataclass(frozen=True)
class CellInterval:
    """A cell's mean over queries (and seeds) with its bootstrap interval."""

    mean: float
    low: float
    high: float
    n_queries: int
    n_seeds: int

    @property
    def half_width(self) -> float:
        """The larger distance from the mean to an end (a symmetric '±' that covers both)."""
        return max(self.high - self.mean, self.mean - self.low)


def _groups(columns: Mapping[Hashable, np.ndarray]) -> list[list[Hashable]]:
    """Keys grouped by number of queries (columns of one group share resamples)."""
    by_n: dict[int, list[Hashable]] = defaultdict(list)
    for key, x in columns.items():
        by_n[len(x)].append(key)
    return list(by_n.values())


def cell_intervals(
    cells: Mapping[Hashable, PerQuery | np.ndarray], options: StatsOptions = DEFAULT_OPTIONS
) -> dict[Hashable, CellInterval]:
    """Bootstrap interval of every cell; cells with the same number of queries share resamples
    (one matrix product per block of resamples for all of them)."""
    averaged = {key: seed_average(cell) for key, cell in cells.items()}
    out = {}
    for keys in _groups(averaged):
        ci = bootstrap_ci(
            np.stack([averaged[k] for k in keys], axis=1),
            level=options.level,
            resamples=options.resamples,
            seed=options.seed,
            method=options.ci_method,
        )
        for j, key in enumerate(keys):
            out[key] = CellInterval(
                mean=float(ci.mean[j]),
                low=float(ci.low[j]),
                high=float(ci.high[j]),
                n_queries=len(averaged[key]),
                n_seeds=len(_per_seed(cells[key])),
            )
    return out


def batch_pvalues(
    pairs: Mapping[Hashable, tuple[PerQuery | np.ndarray, PerQuery | np.ndarray]],
    options: StatsOptions = DEFAULT_OPTIONS,
) -> dict[Hashable, float]:
    """p-value of `options.test` for every (a, b) pair; query-level tests share resamples."""
    if options.test == "seeds":
        return {key: seeds_ttest(_seed_means(a), _seed_means(b)) for key, (a, b) in pairs.items()}
    diffs = {key: paired_difference(a, b)[0] for key, (a, b) in pairs.items()}
    out = {}
    for keys in _groups(diffs):
        p = randomization_test(
            np.stack([diffs[k] for k in keys], axis=1),
            resamples=options.resamples,
            seed=options.seed,
        )
        out.update({key: float(v) for key, v in zip(keys, p, strict=True)})
    return out


def _seed_means(cell: PerQuery | np.ndarray) -> dict[int, float]:
    return {s: float(np.mean(v)) for s, v in _per_seed(cell).items()}


@dataclass(frozen=True)
class Comparison:
    """Method A against method B on one cell (mean over queries of the seed-averaged values)."""

    mean_a: float
    mean_b: float
    difference: float  # mean of A - B
    low: float | None  # bootstrap interval of the difference (None below MIN_QUERIES)
    high: float | None
    pvalue: float | None  # paired randomization test over queries (None below MIN_QUERIES)
    effect_size: float | None  # Cohen's d_z: mean difference / std of the per-query differences
    n_queries: int
    seeds: tuple[int, ...]  # shared seeds averaged (empty: none shared)
    seeds_pvalue: float | None  # paired t-test over shared seeds (None with fewer than 2)
    wins: int  # queries where A scores higher
    losses: int  # ... and lower


def compare_methods(
    a: PerQuery | np.ndarray, b: PerQuery | np.ndarray, options: StatsOptions = DEFAULT_OPTIONS
) -> Comparison:
    """Everything `hashbench compare` prints for one task; interval, p-value and effect size
    are None below MIN_QUERIES queries."""
    d, shared = paired_difference(a, b)
    xa, xb = seed_average(a, list(shared) or None), seed_average(b, list(shared) or None)
    seeds_p = seeds_ttest(_seed_means(a), _seed_means(b)) if len(shared) >= 2 else None
    if len(d) < MIN_QUERIES:
        return Comparison(
            mean_a=float(xa.mean()), mean_b=float(xb.mean()), difference=float(d.mean()),
            low=None, high=None, pvalue=None, effect_size=None, n_queries=len(d), seeds=shared,
            seeds_pvalue=seeds_p, wins=int((d > 0).sum()), losses=int((d < 0).sum()),
        )  # fmt: skip
    ci = bootstrap_ci(
        d,
        level=options.level,
        resamples=options.resamples,
        seed=options.seed,
        method=options.ci_method,
    )
    p = randomization_test(d, resamples=options.resamples, seed=options.seed)[0]
    sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    mean = float(d.mean())
    return Comparison(
        mean_a=float(xa.mean()),
        mean_b=float(xb.mean()),
        difference=mean,
        low=float(ci.low[0]),
        high=float(ci.high[0]),
        pvalue=float(p),
        effect_size=mean / sd if sd > 0 else (0.0 if mean == 0 else float(np.sign(mean) * np.inf)),
        n_queries=len(d),
        seeds=shared,
        seeds_pvalue=seeds_p,
        wins=int((d > 0).sum()),
        losses=int((d < 0).sum()),
    )
