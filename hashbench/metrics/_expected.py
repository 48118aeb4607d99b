"""Closed forms for the "expected" tie order: each metric's mean over all orders of tied items.

McSherry & Najork (ECIR 2008): when items of equal Hamming distance are ordered uniformly at
random, the expectation of a metric needs only per-distance counts (no ranking, no sort), and
it does not depend on the order the database stores its items. Vectorised over queries.

Facts used (a group = the items at one distance: n items, r relevant, preceded by s items of
which R_s relevant; its order is uniform and independent of every other group's):
- each position of the group holds a relevant item with probability r/n, and given that, each
  of the t-1 positions ahead of it in the group holds one with probability (r-1)/(n-1);
- metrics that are sums over positions (P@K, R@K, ACG, DCG, recall-normalised AP) are linear,
  so their expectation puts the group's mean value on each of its positions;
- djsrh AP@K divides by R_K, the relevant items in the top K. Only the group cut by K makes
  R_K random: j relevant among its m = K - s first positions is hypergeometric, and given j
  those m positions are a uniform order of j relevant items, so the expectation is a short sum
  over j (at most min(K, r) + 1 terms per query).
"""

from __future__ import annotations

import numpy as np

from hashbench.metrics._formulas import harmonic_gap

# Work on at most this many (query, j) cells at once: memory stays flat for any K.
_CELLS = 1 << 21


def _layout(hist_all: np.ndarray, hist_rel: np.ndarray):
    n = hist_all.astype(np.float64)
    r = hist_rel.astype(np.float64)
    return n, r, np.cumsum(n, axis=1) - n, np.cumsum(r, axis=1) - r


def run_prec_sum(r_pre, s, n, r, t) -> np.ndarray:
    """E[sum of rel(p) * P@p over the first t positions of a group] (elementwise).

    = (r/n) sum_{u=1..t} (r_pre + 1 + (u-1) c) / (s + u), c = (r-1)/(n-1), a harmonic gap.
    Zero where t = 0 or r = 0.
    """
    r_pre, s, n, r, t = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (r_pre, s, n, r, t))
    )
    out = np.zeros(n.shape)
    use = (t > 0) & (r > 0)
    if not np.any(use):
        return out
    n_, r_, s_, t_, rp = n[use], r[use], s[use], t[use], r_pre[use]
    c = np.divide(r_ - 1, n_ - 1, out=np.zeros_like(n_), where=n_ > 1)
    inner = t_ * c + (rp + 1 - c * (s_ + 1)) * harmonic_gap(s_, s_ + t_)
    out[use] = r_ / n_ * inner
    return out


def expected_hits(hist_all: np.ndarray, hist_rel: np.ndarray, k: int) -> np.ndarray:
    """(n_query,) expected relevant items in the top k: each group's share of its cut."""
    n, r, before, _ = _layout(hist_all, hist_rel)
    cut = np.clip(k - before, 0, n)
    return np.divide(r * cut, n, out=np.zeros_like(n), where=n > 0).sum(axis=1)


def _boundary(hist_all: np.ndarray, hist_rel: np.ndarray, k: int):
    """Per query: the expected P@ sum and relevant count of the groups wholly inside the top k,
    and the group cut by k (s items before it, n items, r relevant, m of its positions in the
    top k; m = 0 where k ends exactly at a group's end)."""
    n, r, before, r_before = _layout(hist_all, hist_rel)
    inside = before + n <= k
    full = np.where(inside, run_prec_sum(r_before, before, n, r, n), 0.0).sum(axis=1)
    r_in = np.where(inside, r, 0.0).sum(axis=1)
    cut = (before < k) & (before + n > k)
    has = cut.any(axis=1)
    g = np.argmax(cut, axis=1)
    rows = np.arange(len(n))
    s = np.where(has, before[rows, g], 0.0)
    n_g = np.where(has, n[rows, g], 0.0)
    r_g = np.where(has, r[rows, g], 0.0)
    m = np.where(has, k - s, 0.0)
    return full, r_in, s, n_g, r_g, m


def expected_ap_at_k(
    hist_all: np.ndarray, hist_rel: np.ndarray, k: int, convention: str, n_rel: np.ndarray | None
) -> np.ndarray:
    """(n_query,) expected AP@k over uniform tie orders, djsrh or recall convention."""
    full, r_pre, s, n_g, r_g, m = _boundary(hist_all, hist_rel, k)
    if convention == "recall":
        total = full + run_prec_sum(r_pre, s, n_g, r_g, m)
        denom = np.minimum(k, n_rel).astype(np.float64)
        return np.divide(total, denom, out=np.zeros_like(total), where=denom > 0)
    if convention != "djsrh":
        raise ValueError(f"convention {convention!r} has no expected closed form")  # misuse
    out = np.zeros(len(full))
    j_lo = np.maximum(0.0, m - (n_g - r_g))
    j_hi = np.minimum(r_g, m)
    width = int((j_hi - j_lo).max(initial=0)) + 1
    step = max(1, _CELLS // width)
    for lo in range(0, len(out), step):
        sl = slice(lo, lo + step)
        out[sl] = _djsrh_block(
            full[sl], r_pre[sl], s[sl], n_g[sl], r_g[sl], m[sl], j_lo[sl], j_hi[sl], width
        )
    return out


def _djsrh_block(full, r_pre, s, n, r, m, j_lo, j_hi, width) -> np.ndarray:
    """sum_j P(j) (E[N_pre] + E[N_cut | j]) / (R_pre + j) for a block of queries."""
    col = lambda x: x[:, None]  # noqa: E731 -- per-query values against the j axis
    j = col(j_lo) + np.arange(width, dtype=np.float64)[None, :]
    valid = j <= col(j_hi)
    # hypergeometric pmf by the ratio P(j+1)/P(j) = (r-j)(m-j) / ((j+1)(n-r-m+j+1)): a sum of
    # logs of small numbers, so no lgamma of huge arguments and no loss of precision
    step_ok = valid[:, :-1] & (j[:, :-1] < col(j_hi))
    safe = lambda x: np.where(step_ok, x, 1.0)  # noqa: E731
    jj = j[:, :-1]
    log_ratio = (
        np.log(safe(col(r) - jj))
        + np.log(safe(col(m) - jj))
        - np.log(safe(jj + 1))
        - np.log(safe(col(n) - col(r) - col(m) + jj + 1))
    )
    log_p = np.concatenate([np.zeros((len(j), 1)), np.cumsum(log_ratio, axis=1)], axis=1)
    log_p = np.where(valid, log_p, -np.inf)
    p = np.exp(log_p - log_p.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    # given j relevant among the m cut positions, in uniform order: E[their P@ sum]
    gap = col(harmonic_gap(s, s + m))
    mm = col(m)
    c = np.divide(j - 1, mm - 1, out=np.zeros_like(j), where=mm > 1)
    inner = mm * c + (col(r_pre) + 1 - c * (col(s) + 1)) * gap
    cut_sum = np.divide(j * inner, mm, out=np.zeros_like(j), where=(mm > 0) & (j > 0))
    denom = col(r_pre) + j
    term = np.divide(col(full) + cut_sum, denom, out=np.zeros_like(j), where=valid & (denom > 0))
    return (p * term).sum(axis=1)


def group_means(hist_levels: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query and distance: item count and the mean of `values[level]` over the group.

    hist_levels: (n_query, levels, distances). Returns (counts, means), each (n_query, distances);
    with `_formulas.top_levels(counts, means, k)` they give each rank's expected value.
    """
    counts = hist_levels.sum(axis=1, dtype=np.int64)
    totals = np.einsum("qld,l->qd", hist_levels.astype(np.float64), values)
    return counts, np.divide(totals, counts, out=np.zeros_like(totals), where=counts > 0)
