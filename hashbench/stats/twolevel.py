"""Two-level bootstrap over training seeds and queries: the resampling behind every interval
and test of a table or of `hashbench compare`.

A cell holds X (S x n): S training seeds of one setting, each with one value per query of a
shared query set. One resample b:

1. draws n queries with replacement (counts C[b], the *same* draw for every cell of a column:
   queries are shared units, so differences between methods stay paired), giving each seed's
   query-resampled mean Q[b, s] = C[b] @ X[s] / n and their mean over seeds Qbar[b];
2. adds the seed level, independently per cell (seed s of one method has nothing to do with
   seed s of another): M[b] = Qbar[b] + sqrt(V / S) Z[b], Z standard normal, V the seed
   variance component.

Seeds and queries are crossed (every seed scores the same queries), so the spread s^2 of the S
seed means holds the seed effect plus the seed x query noise / n, which the query draws already
carry; resampling the seed means as they are counts that noise twice (in simulation: a test at
0.05 rejecting a true null 0.5% of the time). V is therefore estimated by moments, max(0, s^2 -
sigma^2 / n), sigma^2 the seed x query interaction variance (two-way residuals). The seed level
is drawn from a normal rather than by resampling seeds (`parametric=False`: multinomial seed
weights W, rescaled to the same variance): 3 seeds have 10 distinct resamples and a bounded
range, which cannot give the t tails the interval reads. With one seed M = Qbar: the interval
and test cover queries only (the table says so).

Few seeds make the seed variance itself uncertain (3 vs 3 seeds behave like Student's t with
about 4 degrees of freedom, not like a normal), so intervals and tests read Student's t with
Welch-Satterthwaite degrees of freedom (`_df`): each cell's seed term is Welch's (s^2 / S, S - 1
df, the interaction noise included), the query term is the rest of the query variance (n - 1
df). A cell's interval is the bootstrap quantile at Phi(t_df^-1(tail)) (percentile or BCa);
a pair's test is t = difference / the bootstrap SE of the difference, p = 2 t_df(-|t|), and
its interval difference -/+ t_df x SE (see `pair_test` for why not the tail itself). With many
queries and seeds, df is large and these are the usual normal-theory bootstrap answers.

Determinism: the query draws depend on (seed, n, block), a cell's seed draws on (seed, S, block,
the cell's key), so a cell's numbers do not depend on what else is in the batch.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri, stdtr, stdtrit

from hashbench.stats.resampling import _blocks, _rng, bootstrap_weights

_SEEDS = 3  # random stream of the seed draws (1, 2: queries, signs)


def _key_code(key: Hashable) -> int:
    return zlib.crc32(repr(key).encode())


@dataclass(frozen=True)
class CellDraws:
    """Two-level bootstrap means of one cell, and what the degrees of freedom need."""

    estimate: float  # mean over seeds and queries
    draws: np.ndarray  # (B,) two-level resampled means
    query_draws: np.ndarray  # (B,) query-only resampled means (all seeds averaged)
    seed_var: float  # variance of the seed means / S, interaction included (0 with one seed)
    interaction_var: float  # seed x query interaction variance / (n S), in both parts
    n_seeds: int
    n_queries: int
    averaged: np.ndarray  # (n,) per-query values averaged over seeds (BCa's jackknife)


def column_draws(
    cells: Mapping[Hashable, np.ndarray], resamples: int, seed: int, parametric: bool = True
) -> dict[Hashable, CellDraws]:
    """Two-level draws of every cell of one query set: key -> (S x n) per-seed values.

    All cells see the same query counts C; one matrix product per block of resamples covers
    every seed of every cell."""
    keys = list(cells)
    mats = [np.atleast_2d(np.asarray(cells[k], dtype=np.float64)) for k in keys]
    components = [seed_component(x) for x in mats]
    n = mats[0].shape[1]
    stacked = np.concatenate(mats, axis=0).T  # (n, total seeds)
    bounds = np.cumsum([0] + [m.shape[0] for m in mats])
    two = [np.empty(resamples) for _ in keys]
    one = [np.empty(resamples) for _ in keys]
    start = 0
    for block, rows in _blocks(resamples):
        q = bootstrap_weights(n, rows, seed, block) @ stacked / n  # (rows, total seeds)
        for j, key in enumerate(keys):
            part = q[:, bounds[j] : bounds[j + 1]]
            s = part.shape[1]
            qbar = part.mean(axis=1)
            one[j][start : start + rows] = qbar
            if s == 1:
                two[j][start : start + rows] = qbar
                continue
            rng = _rng(seed, _SEEDS, s, block + (_key_code(key) << 20))
            if parametric:  # seed level: normal with the moment-estimated variance
                spread = np.sqrt(components[j][0] / s) * rng.standard_normal(rows)
                two[j][start : start + rows] = qbar + spread
                continue
            w = rng.multinomial(s, np.full(s, 1.0 / s), size=rows) / s
            resampled = (w * part).sum(axis=1)
            two[j][start : start + rows] = qbar + components[j][1] * (resampled - qbar)
        start += rows
    out = {}
    for j, key in enumerate(keys):
        x = mats[j]
        means = x.mean(axis=1)
        out[key] = CellDraws(
            estimate=float(x.mean()),
            draws=two[j],
            query_draws=one[j],
            seed_var=float(means.var(ddof=1)) / len(means) if len(means) > 1 else 0.0,
            interaction_var=components[j][2] / (n * len(means)),
            n_seeds=x.shape[0],
            n_queries=n,
            averaged=x.mean(axis=0),
        )
    return out


def seed_component(x: np.ndarray) -> tuple[float, float, float]:
    """(seed variance component, the scale k of the resampled seed deviations, the seed x query
    interaction variance) of X (S x n).

    Method of moments for crossed seeds x queries: the variance of the seed means, less the
    seed x query interaction variance / n it contains (already covered by the query draws)."""
    s, n = x.shape
    if s < 2:
        return 0.0, 0.0, 0.0
    means = x.mean(axis=1)
    spread = float(means.var(ddof=1))
    resid = x - means[:, None] - x.mean(axis=0)[None, :] + x.mean()
    interaction = float((resid**2).sum()) / ((s - 1) * (n - 1)) if n > 1 else 0.0
    if spread <= 0:
        return 0.0, 0.0, interaction
    component = max(0.0, spread - interaction / n)
    return component, float(np.sqrt(s / (s - 1) * component / spread)), interaction


def satterthwaite(parts: list[tuple[float, float]]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of variances: (variance, its df)."""
    total = sum(v for v, _ in parts)
    denominator = sum(v * v / d for v, d in parts if d > 0 and v > 0)
    return float("inf") if total <= 0 or denominator <= 0 else total * total / denominator


def _df(query_var: float, cells: list[CellDraws]) -> float:
    """df of a cell's (or a pair's) variance: each cell's seed-mean spread / S with S - 1 df
    (Welch's term: the interaction noise is counted here, so it is not taken to be known
    better than S seeds allow), plus the query part without that noise, n - 1 df."""
    query = max(0.0, query_var - sum(c.interaction_var for c in cells))
    parts = [(query, cells[0].n_queries - 1)]
    parts += [(c.seed_var, c.n_seeds - 1) for c in cells if c.n_seeds > 1]
    return satterthwaite(parts)


def cell_df(cell: CellDraws) -> float:
    return _df(float(cell.query_draws.var(ddof=1)), [cell])


def pair_df(a: CellDraws, b: CellDraws) -> float:
    return _df(float((a.query_draws - b.query_draws).var(ddof=1)), [a, b])


def t_tail(z: np.ndarray | float, df: float) -> np.ndarray:
    """P(T <= z) for Student's t with df degrees of freedom (normal when df is infinite)."""
    return ndtr(z) if not np.isfinite(df) else stdtr(df, z)


def t_quantile(p: np.ndarray | float, df: float) -> np.ndarray:
    return ndtri(p) if not np.isfinite(df) else stdtrit(df, p)


def _quantile(sorted_draws: np.ndarray, q: float) -> float:
    b = len(sorted_draws)
    h = min(max(q, 0.0), 1.0) * (b - 1)
    lo = int(np.floor(h))
    hi = min(lo + 1, b - 1)
    return float(sorted_draws[lo] + (h - lo) * (sorted_draws[hi] - sorted_draws[lo]))


def interval(
    estimate: float,
    draws: np.ndarray,
    df: float,
    level: float,
    method: str = "percentile",
    averaged: np.ndarray | None = None,
) -> tuple[float, float]:
    """The level interval of `estimate` from its two-level draws, tails read on t_df.

    method "bca": bias correction z0 from the draws and acceleration from the jackknife over
    queries of the seed-averaged values (`averaged`; closed form for a mean), the normal
    quantiles replaced by t_df's. With one seed and many queries this is the usual BCa; the
    seed level's skewness is not corrected (three to five seeds cannot estimate it).
    """
    boot = np.sort(draws)
    tail = (1 - level) / 2
    z = float(t_quantile(tail, df))  # negative
    if method != "bca" or averaged is None:
        return _quantile(boot, float(ndtr(z))), _quantile(boot, float(ndtr(-z)))
    b = len(boot)
    below = np.searchsorted(boot, estimate, "left") + np.searchsorted(boot, estimate, "right")
    z0 = float(ndtri(np.clip(below / (2 * b), 0.5 / b, 1 - 0.5 / b)))
    u = averaged - averaged.mean()
    s2 = float((u**2).sum())
    accel = float((u**3).sum()) / (6 * s2**1.5) if s2 > 0 else 0.0
    ends = []
    for zz in (z, -z):
        num = z0 + zz
        ends.append(_quantile(boot, float(ndtr(z0 + num / (1 - accel * num)))))
    return ends[0], ends[1]


@dataclass(frozen=True)
class PairTest:
    """The two-level bootstrap test of mean(A) - mean(B) = 0."""

    difference: float
    pvalue: float
    mc_se: float  # Monte-Carlo standard error of pvalue (from that of the bootstrap SE)
    df: float
    standard_error: float  # the standard deviation of the resampled differences
    low: float  # difference -/+ t_df quantile x standard_error: agrees with pvalue
    high: float


def pair_test(a: CellDraws, b: CellDraws, level: float = 0.95) -> PairTest:
    """Two-sided test of A - B = 0: t = difference / (bootstrap SE of the difference from the
    same two-level resamples), p = 2 t_df(-|t|), and the interval difference -/+ t_df x SE.

    Why the bootstrap SE with Student's t and not the bootstrap tail itself: Holm over all pairs
    needs p-values down to alpha / 28 and below, where a tail of 10,000 resamples is a handful of
    draws (and with 3 seeds, t_4 at 0.001 lies beyond any resample: every clear difference
    would get the same floor p and none could pass Holm). The interval and p are one inversion,
    so the interval excludes 0 exactly when p < 1 - level.
    """
    d = a.draws - b.draws
    resamples = len(d)
    df = pair_df(a, b)
    difference = a.estimate - b.estimate
    se = float(d.std(ddof=1)) if resamples > 1 else 0.0
    if se <= 0:
        p = 1.0 if difference == 0 else 0.0
        return PairTest(difference, p, 0.0, df, 0.0, difference, difference)
    z = abs(difference) / se
    p = min(1.0, 2 * float(t_tail(-z, df)))
    # MC error: the SE's relative error is about 1 / sqrt(2 B); dp/dz = 2 f_t(z)
    mc = min(1.0, 2 * _t_pdf(z, df) * z / np.sqrt(2 * (resamples - 1)))
    q = float(-t_quantile((1 - level) / 2, df))
    return PairTest(difference, p, mc, df, se, difference - q * se, difference + q * se)


def _t_pdf(z: float, df: float) -> float:
    from scipy.stats import norm, t

    return float(norm.pdf(z) if not np.isfinite(df) else t.pdf(z, df))
