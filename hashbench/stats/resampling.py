"""Vectorised, seeded resampling over queries: bootstrap intervals and the paired sign-flip test.

Both work on many cells or comparisons at once: `values` / `diffs` are (n_queries, m) arrays,
one column per cell (or per pair of methods), and every column with the same number of queries
sees the same resamples. A resample is a row of weights over the queries, so the m statistics of
a block of resamples are one matrix product (BLAS) instead of m x resamples Python-level calls:

- bootstrap: row = how often each query was drawn (n draws with replacement), statistic =
  weights @ values / n, i.e. the mean of the resample.
- sign flip: row = a random sign per query, statistic = signs @ diffs / n, the mean difference
  with the two methods' values swapped on the queries whose sign is -1.

Why not `scipy.stats.bootstrap` / `scipy.stats.permutation_test`: they draw fresh resamples per
call and materialise every resample (resamples x n values per cell): at 2,000 queries and
10,000 resamples about 0.3-0.6 s per interval and 3 s per test, i.e. minutes for a table of
240 cells and its ~500 tests. Here a table needs one matrix product per block of resamples
(under 1 s for both; `benchmarks/stats_speed.py` measures all of it in one run). The
intervals are the ones scipy computes (BCa by default, or percentile; the tests compare them),
from a different random stream. numba is not used: the work is matrix products (BLAS).

Determinism: the resamples of a block depend only on (seed, kind, n_queries, block index), so a
cell's interval or a comparison's p-value does not depend on what else is in the batch, and the
same seed gives the same numbers on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from hashbench.errors import InputError

DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 0
CI_METHODS = ("bca", "percentile")
BLOCK_ROWS = 1024  # resamples per block: a (1024, n) float64 weight matrix, 16 MB at n = 2,000
_BOOTSTRAP, _SIGNS = 1, 2  # random streams


def _rng(seed: int, kind: int, n: int, block: int) -> np.random.Generator:
    return np.random.default_rng([seed, kind, n, block])


def _blocks(resamples: int) -> list[tuple[int, int]]:
    return [
        (b, min(BLOCK_ROWS, resamples - start))
        for b, start in enumerate(range(0, resamples, BLOCK_ROWS))
    ]


def _as_columns(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise InputError(f"{name} must be (n_queries,) or (n_queries, m) with n_queries >= 1")
    if not np.isfinite(array).all():
        raise InputError(f"{name} holds NaN or infinite values")
    return array


def _check(resamples: int, level: float | None = None) -> None:
    if not isinstance(resamples, int | np.integer) or resamples < 1:
        raise InputError(f"resamples must be a positive integer; got {resamples!r}")
    if level is not None and not 0 < level < 1:
        raise InputError(f"confidence level must lie in (0, 1); got {level!r}")


def bootstrap_weights(n: int, rows: int, seed: int, block: int) -> np.ndarray:
    """(rows, n) float64 draw counts of `rows` bootstrap resamples of n queries (each row sums
    to n): block `block` of the stream of `seed`."""
    draws = _rng(seed, _BOOTSTRAP, n, block).integers(0, n, size=(rows, n))
    draws += (np.arange(rows) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def bootstrap_means(
    values: np.ndarray, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """(resamples, m) means of bootstrap resamples of the queries, for every column of values."""
    _check(resamples)
    x = _as_columns(values, "values")
    n = x.shape[0]
    out = np.empty((resamples, x.shape[1]))
    start = 0
    for block, rows in _blocks(resamples):
        out[start : start + rows] = bootstrap_weights(n, rows, seed, block) @ x
        start += rows
    return out / n


@dataclass(frozen=True)
class Intervals:
    """Bootstrap intervals of the mean for m cells (arrays of shape (m,))."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    standard_error: np.ndarray  # std of the bootstrap means
    level: float
    resamples: int
    method: str


def _quantiles(sorted_boot: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per column j, the q[j] quantile (linear interpolation) of sorted_boot[:, j]."""
    b = sorted_boot.shape[0]
    h = np.clip(q, 0.0, 1.0) * (b - 1)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, b - 1)
    cols = np.arange(sorted_boot.shape[1])
    return sorted_boot[lo, cols] + (h - lo) * (sorted_boot[hi, cols] - sorted_boot[lo, cols])


def bootstrap_ci(
    values: np.ndarray,
    *,
    level: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    method: str = "bca",
) -> Intervals:
    """Bootstrap confidence intervals over queries of the mean of every column of `values`.

    method "bca" (bias-corrected and accelerated, Efron & Tibshirani 1993, 14.3; scipy's
    default) or "percentile". For the mean, the jackknife acceleration has the closed form
    a = sum(u^3) / (6 sum(u^2)^1.5) with u = x - mean(x). A column of equal values (every
    query scored the same) has the interval [mean, mean].
    """
    _check(resamples, level)
    if method not in CI_METHODS:
        raise InputError(f"bootstrap method must be one of {', '.join(CI_METHODS)}; got {method!r}")
    x = _as_columns(values, "values")
    mean = x.mean(axis=0)
    boot = np.sort(bootstrap_means(x, resamples, seed), axis=0)
    alpha = (1 - level) / 2
    q_low = np.full(x.shape[1], alpha)
    q_high = np.full(x.shape[1], 1 - alpha)
    if method == "bca":
        below = (boot < mean).sum(axis=0) + (boot <= mean).sum(axis=0)  # scipy's percentile
        z0 = ndtri(np.clip(below / (2 * resamples), 0.5 / resamples, 1 - 0.5 / resamples))
        u = x - mean
        s2 = (u**2).sum(axis=0)
        accel = np.divide((u**3).sum(axis=0), 6 * s2**1.5, out=np.zeros_like(s2), where=s2 > 0)
        for q, z in ((q_low, ndtri(alpha)), (q_high, -ndtri(alpha))):
            num = z0 + z
            q[:] = ndtr(z0 + num / (1 - accel * num))
    return Intervals(
        mean=mean,
        low=_quantiles(boot, q_low),
        high=_quantiles(boot, q_high),
        standard_error=boot.std(axis=0, ddof=1) if resamples > 1 else np.zeros_like(mean),
        level=level,
        resamples=resamples,
        method=method,
    )


def _sign_rows(n: int, rows: int, seed: int, block: int) -> np.ndarray:
    """(rows, n) float64 random signs +-1: block `block` of the sign stream of `seed`."""
    packed = _rng(seed, _SIGNS, n, block).integers(
        0, 256, size=(rows, (n + 7) // 8), dtype=np.uint8
    )
    return np.unpackbits(packed, axis=1, count=n).astype(np.float64) * 2.0 - 1.0


def _all_signs(n: int) -> np.ndarray:
    """(2^n, n) every sign vector (exact enumeration for small n)."""
    codes = np.arange(2**n, dtype=np.int64)[:, None] >> np.arange(n)
    return (codes & 1).astype(np.float64) * 2.0 - 1.0


def randomization_test(
    diffs: np.ndarray, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """Two-sided paired randomization (sign-flip) test of mean difference 0, per column.

    diffs: (n_queries,) or (n_queries, m) per-query differences of two methods (m pairs).
    Under the null the two methods are exchangeable on every query, so each difference keeps
    its size and takes a random sign; the p-value is the share of sign patterns whose mean
    difference is at least as far from 0 as the observed one (Fisher; Smucker, Allan and
    Carterette, CIKM 2007). Monte Carlo: p = (1 + hits) / (1 + resamples), never 0 (Phipson
    and Smyth 2010); exact (all 2^n patterns) when 2^n <= resamples. Returns (m,) p-values.
    """
    _check(resamples)
    d = _as_columns(diffs, "diffs")
    n = d.shape[0]
    observed = np.abs(d.sum(axis=0))
    # sums of the same terms in another order differ by rounding only: count those as ties
    threshold = observed - 1e-9 * np.abs(d).sum(axis=0)
    if 2**n <= resamples:
        null = np.abs(_all_signs(n) @ d)
        return (null >= threshold).sum(axis=0) / 2**n
    hits = np.zeros(d.shape[1], dtype=np.int64)
    for block, rows in _blocks(resamples):
        hits += (np.abs(_sign_rows(n, rows, seed, block) @ d) >= threshold).sum(axis=0)
    return (1.0 + hits) / (1.0 + resamples)
