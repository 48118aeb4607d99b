"""Per-query scores of table cells: seed matrices, two-level bootstrap intervals, comparisons.

A cell (method x dataset x bits x task) holds, for each seed it ran, one value per query of a
metric (e.g. AP@50 of every query; their mean is the cell's mAP@50). All runs of a dataset
share its query set, so query i is the same query in every seed and every method.

Intervals and tests resample training seeds and queries together (`twolevel`): the interval of
a cell covers the variation of a retrained system (seeds) on another sample of queries. With
one seed per cell only the query part can be resampled; the descriptions say so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from hashbench.errors import InputError
from hashbench.stats.multiple import seeds_ttest
from hashbench.stats.resampling import CI_METHODS, DEFAULT_RESAMPLES, DEFAULT_SEED
from hashbench.stats.twolevel import CellDraws, cell_df, column_draws, interval, pair_test

PerQuery = Mapping[int, np.ndarray]
"""seed -> (n_queries,) per-query values of one cell."""

MIN_QUERIES = 10
"""Fewest queries for an interval, a query-level test or an effect size. Below it the bootstrap
has a handful of distinct resamples (an interval of ±0 on 1 query), the sign-flip test cannot
reach p < 2 / 2^n (0.0625 on 5 queries), and d_z divides by a meaningless spread. 10 is also the
smallest query split a `--scale`d synthetic dataset keeps."""

TESTS = {
    "queries": "two-sided t test of the mean difference with its two-level bootstrap standard "
    "error (training seeds, then queries)",
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
            f"{self.level:.0%} {kind} two-level bootstrap interval of the mean (training seeds, "
            "then queries, tails on Student's t with Welch-Satterthwaite degrees of freedom; "
            f"{self.resamples:,} resamples, seed {self.seed}; a one-seed cell covers queries "
            "only)"
        )

    def describe_test(self) -> str:
        detail = (
            "the same query resamples for every method; Student's t with Welch-Satterthwaite "
            f"degrees of freedom; {self.resamples:,} resamples, seed {self.seed}"
            if self.test == "queries"
            else "scipy.stats.ttest_rel over shared seeds; needs 2 or more shared seeds"
        )
        return (
            f"Test: {TESTS[self.test]} ({detail}), all pairs of a family Holm-adjusted "
            f"together, alpha = {self.alpha:g}"
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


def seed_matrix(cell: PerQuery | np.ndarray) -> np.ndarray:
    """(S, n) per-query values of a cell, one row per seed in seed order."""
    by_seed = _per_seed(cell)
    return np.stack([np.asarray(by_seed[s], dtype=np.float64) for s in sorted(by_seed)])


def table_draws(
    cells: Mapping[Hashable, PerQuery | np.ndarray], options: StatsOptions = DEFAULT_OPTIONS
) -> dict[Hashable, CellDraws]:
    """Two-level bootstrap draws of every cell; cells with the same number of queries share
    the query resamples (one matrix product per block of resamples for all of them)."""
    by_n: dict[int, dict[Hashable, np.ndarray]] = defaultdict(dict)
    for key, cell in cells.items():
        x = seed_matrix(cell)
        if not np.isfinite(x).all():
            raise InputError(f"per-query values of {key!r} hold NaN or infinite values")
        by_n[x.shape[1]][key] = x
    out: dict[Hashable, CellDraws] = {}
    for group in by_n.values():
        out.update(column_draws(group, options.resamples, options.seed))
    return out


def cell_intervals(
    cells: Mapping[Hashable, PerQuery | np.ndarray],
    options: StatsOptions = DEFAULT_OPTIONS,
    draws: Mapping[Hashable, CellDraws] | None = None,
) -> dict[Hashable, CellInterval]:
    """Two-level bootstrap interval of every cell (`draws`: precomputed `table_draws`)."""
    found = draws if draws is not None else table_draws(cells, options)
    out = {}
    for key in cells:
        d = found[key]
        low, high = interval(
            d.estimate, d.draws, cell_df(d), options.level, options.ci_method, d.averaged
        )
        out[key] = CellInterval(
            mean=d.estimate,
            low=min(low, d.estimate),
            high=max(high, d.estimate),
            n_queries=d.n_queries,
            n_seeds=d.n_seeds,
        )
    return out


def _seed_means(cell: PerQuery | np.ndarray) -> dict[int, float]:
    return {s: float(np.mean(v)) for s, v in _per_seed(cell).items()}


@dataclass(frozen=True)
class Comparison:
    """Setting A against setting B on one cell (means over their seeds and the queries)."""

    mean_a: float
    mean_b: float
    difference: float  # mean of A - B
    low: float | None  # interval of the difference, same resamples as pvalue (None: few queries)
    high: float | None
    pvalue: float | None  # two-level bootstrap test (None below MIN_QUERIES)
    effect_size: float | None  # Cohen's d_z on the seed-averaged per-query differences
    n_queries: int
    seeds: tuple[int, ...]  # seeds both ran
    seeds_pvalue: float | None  # paired t-test over shared seeds (None with fewer than 2)
    wins: int  # queries where A (averaged over its seeds) scores higher
    losses: int  # ... and lower
    seeds_a: tuple[int, ...] = ()
    seeds_b: tuple[int, ...] = ()
    mc_se: float | None = None  # Monte-Carlo standard error of pvalue
    df: float | None = None  # Satterthwaite degrees of freedom of the tails
    agree: bool = True  # interval excludes 0 exactly when pvalue < 1 - level

    @property
    def query_level(self) -> bool:
        """True when a side has one seed: training-seed variation of that side is not covered."""
        return min(len(self.seeds_a), len(self.seeds_b)) < 2


def compare_methods(
    a: PerQuery | np.ndarray, b: PerQuery | np.ndarray, options: StatsOptions = DEFAULT_OPTIONS
) -> Comparison:
    """Everything `hashbench compare` prints for one task: interval and p-value from the same
    two-level resamples; both (and the effect size) None below MIN_QUERIES queries."""
    sa, sb = _per_seed(a), _per_seed(b)
    xa, xb = seed_average(sa), seed_average(sb)
    if xa.shape != xb.shape:
        raise InputError(
            f"cells have {len(xa)} and {len(xb)} queries; only cells of one query set compare"
        )
    d = xa - xb
    shared = tuple(sorted(set(sa) & set(sb)))
    seeds_p = seeds_ttest(_seed_means(sa), _seed_means(sb)) if len(shared) >= 2 else None
    common = dict(
        mean_a=float(xa.mean()), mean_b=float(xb.mean()), difference=float(d.mean()),
        n_queries=len(d), seeds=shared, seeds_pvalue=seeds_p, wins=int((d > 0).sum()),
        losses=int((d < 0).sum()), seeds_a=tuple(sorted(sa)), seeds_b=tuple(sorted(sb)),
    )  # fmt: skip
    if len(d) < MIN_QUERIES:
        return Comparison(low=None, high=None, pvalue=None, effect_size=None, **common)
    draws = table_draws({"a": sa, "b": sb}, options)
    test = pair_test(draws["a"], draws["b"], options.level)
    excludes = test.low > 0 or test.high < 0
    sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    mean = float(d.mean())
    return Comparison(
        low=test.low,
        high=test.high,
        pvalue=test.pvalue,
        effect_size=mean / sd if sd > 0 else (0.0 if mean == 0 else float(np.sign(mean) * np.inf)),
        mc_se=test.mc_se,
        df=test.df,
        agree=excludes == (test.pvalue < 1 - options.level),
        **common,
    )
