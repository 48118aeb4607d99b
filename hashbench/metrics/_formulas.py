"""Closed forms that turn per-query engine products into per-query metric values.

Everything here is vectorised over queries. The histogram-based forms (relevant-first /
relevant-last tie orders, tie-aware AP) never build a ranking: inside a group of equal distance
the relevant items sit in a known block, so sums of P@k over a block are harmonic-number
differences, evaluated without cancellation (exact table below 32, asymptotic series above).
"""

from __future__ import annotations

import numpy as np

_SMALL = 32
# H(0..32) exactly enough (error ~1e-16); read-only so it cannot become shared mutable state
_H_SMALL = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, _SMALL + 1))])
_H_SMALL.flags.writeable = False


def _h_tail(n: np.ndarray) -> np.ndarray:
    """H(n) - ln(n) - gamma for n >= 32 (asymptotic series; next term < 1e-17)."""
    inv = 1.0 / n
    inv2 = inv * inv
    return inv * 0.5 - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 / 240)))


def harmonic_gap(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """H(hi) - H(lo) = sum_{j=lo+1}^{hi} 1/j for integer arrays 0 <= lo <= hi, to ~1 ulp."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    lo_s = np.minimum(lo, _SMALL).astype(np.intp)
    hi_s = np.minimum(hi, _SMALL).astype(np.intp)
    gap = _H_SMALL[hi_s] - _H_SMALL[lo_s]  # part of the range below 32, from the table
    big = hi > _SMALL
    if np.any(big):
        a = np.maximum(lo[big], _SMALL)
        b = hi[big]
        # log1p keeps full relative precision for short runs far out (b - a << a)
        gap[big] += np.log1p((b - a) / a) + (_h_tail(b) - _h_tail(a))
    return gap


def ratio_run_sum(a: np.ndarray, b: np.ndarray, m: np.ndarray) -> np.ndarray:
    """sum_{s=1}^{m} (a + s) / (b + s) for b >= a >= 0: P@k summed over m consecutive hits."""
    a, b, m = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (a, b, m)))
    out = np.zeros(m.shape)
    run = m > 0  # most (query, distance) cells hold no hit inside the top K: skip them
    out[run] = m[run] - (b[run] - a[run]) * harmonic_gap(b[run], b[run] + m[run])
    return out


def _groups(hist_all: np.ndarray, hist_rel: np.ndarray, ties: str):
    """Start of each distance group (items, relevant items before it) and of its relevant block."""
    n_before = np.cumsum(hist_all, axis=1) - hist_all
    r_before = np.cumsum(hist_rel, axis=1) - hist_rel
    if ties == "relevant_first":
        block = n_before
    elif ties == "relevant_last":
        block = n_before + (hist_all - hist_rel)
    else:
        raise ValueError(f"tie order {ties!r} has no closed form")  # internal misuse
    return n_before, r_before, block


def hits_and_prec_sum(hist_all: np.ndarray, hist_rel: np.ndarray, ties: str, k: int):
    """Per query: relevant items in the top k and the sum of P@i over them (bracketing ties)."""
    _, r_before, block = _groups(hist_all, hist_rel, ties)
    take = np.clip(k - block, 0, hist_rel)  # relevant items of each group inside the top k
    sums = ratio_run_sum(r_before, block, take).sum(axis=1)
    return take.sum(axis=1), sums


def first_m_prec_sum(hist_all: np.ndarray, hist_rel: np.ndarray, ties: str, m: np.ndarray):
    """Per query: sum over the first m relevant items of t / rank_t (dcmh, bracketing ties)."""
    _, r_before, block = _groups(hist_all, hist_rel, ties)
    take = np.clip(m[:, None] - r_before, 0, hist_rel)
    return ratio_run_sum(r_before, block, take).sum(axis=1)


def tie_aware_ap(hist_all: np.ndarray, hist_rel: np.ndarray) -> np.ndarray:
    """Expected AP over all orders of tied items (He et al., CVPR 2018), per query.

    For a relevant item of group d (n_d items, r_d relevant, N_d items and R_d relevant
    before it) at uniform position j in the group, the expected number of other relevant items
    ahead of it in the group is (j-1)(r_d-1)/(n_d-1), so
        E[sum of P@rank over group d] = (r_d/n_d) sum_j (R_d + 1 + (j-1) s) / (N_d + j),
    s = (r_d-1)/(n_d-1), a harmonic-number closed form.
    """
    n = hist_all.astype(np.float64)
    r = hist_rel.astype(np.float64)
    n_before = np.cumsum(n, axis=1) - n
    r_before = np.cumsum(r, axis=1) - r
    s = np.divide(r - 1, n - 1, out=np.zeros_like(n), where=n > 1)
    inner = n * s + (r_before + 1 - s * (n_before + 1)) * harmonic_gap(n_before, n_before + n)
    per_group = np.divide(r * inner, n, out=np.zeros_like(n), where=(n > 0) & (r > 0))
    total_rel = r.sum(axis=1)
    return np.divide(per_group.sum(axis=1), total_rel, out=np.zeros(len(r)), where=total_rel > 0)


def ap_from_head(head: np.ndarray, k: int, n_rel: np.ndarray | None, convention: str) -> np.ndarray:
    """AP@k from 1-based ranks of the first relevant items (index ties, any convention).

    head: (n_query, m) ascending ranks, 0-padded. For dcmh it must hold the first min(k, R)
    relevant items (m >= k, from a full ranking); otherwise the ranks up to k suffice.
    """
    t = np.arange(1, head.shape[1] + 1, dtype=np.float64)
    if convention == "dcmh":
        m = np.minimum(k, n_rel)
        use = (head > 0) & (t[None, :] <= m[:, None])
        sums = np.divide(t, head, out=np.zeros(head.shape), where=use).sum(axis=1)
        return np.divide(sums, m, out=np.zeros(len(head)), where=m > 0)
    hit = (head > 0) & (head <= k)
    sums = np.divide(t, head, out=np.zeros(head.shape), where=hit).sum(axis=1)
    hits = hit.sum(axis=1)
    return normalise(sums, hits, n_rel, k, convention)


def normalise(
    prec_sum: np.ndarray, hits: np.ndarray, n_rel: np.ndarray | None, k: int, convention: str
) -> np.ndarray:
    """Divide the P@i sum by the convention's normaliser; a zero normaliser scores 0."""
    if convention == "djsrh":
        denom = hits.astype(np.float64)
    elif convention == "recall":
        denom = np.minimum(k, n_rel).astype(np.float64)
    else:
        raise ValueError(f"convention {convention!r} is not normalised here")  # internal misuse
    return np.divide(prec_sum, denom, out=np.zeros(len(prec_sum)), where=denom > 0)


def top_levels(counts: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Values of the first k items of rankings given as runs.

    counts: (n_query, B) run lengths in rank order; values: (n_query, B) or (B,) value of each
    run. Returns (n_query, k) values at ranks 1..k (0 past the end of a ranking).
    """
    n_q, n_b = counts.shape
    cum = np.cumsum(counts, axis=1)
    span = int(cum[:, -1].max()) + 1 if n_q else 1
    offset = (np.arange(n_q, dtype=np.int64) * span)[:, None]
    flat = (cum + offset).ravel()
    want = (offset + np.arange(1, k + 1, dtype=np.int64)[None, :]).ravel()
    run = np.searchsorted(flat, want, side="left").reshape(n_q, k) - np.arange(n_q)[:, None] * n_b
    past_end = run >= n_b
    run = np.minimum(run, n_b - 1)
    vals = np.broadcast_to(values, (n_q, n_b))
    got = np.take_along_axis(vals, run, axis=1).astype(np.float64)
    got[past_end] = 0.0
    return got


def runs_by_tie_order(hist_levels: np.ndarray, ties: str) -> tuple[np.ndarray, np.ndarray]:
    """Flatten (level, distance) counts into runs in rank order for a bracketing tie order.

    Returns run counts (n_query, distances * levels) and the level of each run.
    """
    n_q, n_lev, n_dist = hist_levels.shape
    by_dist = np.transpose(hist_levels, (0, 2, 1))  # (n_query, distance, level)
    levels = np.arange(n_lev)
    if ties == "relevant_first":  # best level first inside each distance group
        by_dist = by_dist[:, :, ::-1]
        levels = levels[::-1]
    return by_dist.reshape(n_q, n_dist * n_lev), np.tile(levels, n_dist)
