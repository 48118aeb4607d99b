"""Multiple-comparison correction (Holm's step-down) and the paired t-test over seeds."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hashbench.errors import InputError


def holm(pvalues: np.ndarray | list[float]) -> np.ndarray:
    """Holm-adjusted p-values (Holm 1979), in the input order.

    With the m raw p-values sorted ascending, p_(1) <= ... <= p_(m), the adjusted value of the
    i-th smallest is max over j <= i of min(1, (m - j + 1) p_(j)). Rejecting where the adjusted
    value is below alpha controls the family-wise error rate at alpha under any dependence.
    Every adjusted value is >= its raw value and <= 1, and the adjustment keeps the order.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise InputError("holm expects a one-dimensional list of p-values")
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise InputError("p-values must lie in [0, 1]")
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def seeds_ttest(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    """Two-sided paired t-test over the seeds both methods ran (`scipy.stats.ttest_rel`).

    a, b: seed -> the cell's value (mean over queries) for that seed. Fewer than 2 shared seeds
    cannot be tested: p = 1. Equal differences on every seed have no variance: p = 0 when they
    are non-zero (the order holds on every seed), 1 when they are all zero.
    """
    from scipy.stats import ttest_rel

    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return 1.0
    x = np.array([a[s] for s in seeds], dtype=np.float64)
    y = np.array([b[s] for s in seeds], dtype=np.float64)
    d = x - y
    if np.all(d == d[0]):
        return 0.0 if d[0] != 0 else 1.0
    return float(ttest_rel(x, y).pvalue)
