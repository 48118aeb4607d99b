"""Public metric functions: one call, one number (or one curve), every convention by name.

All functions take the same four arrays first:
    query_codes (n_query, bits), db_codes (n_db, bits): {-1,+1} (any int/float dtype) or {0,1}
    query_labels (n_query, c), db_labels (n_db, c): multi-hot {0,1}
A database item is relevant to a query when they share at least one label. The ranking is by
Hamming distance; `ties` says how equal distances count: "expected" (the default: the exact mean
over all orders of tied items, so the score does not depend on the order the database stores
its items; McSherry & Najork 2008), or a fixed order: "index" (ascending database index, the
order faiss returns), "relevant_first" or "relevant_last" (these two bracket the tie effect).
The dcmh mAP convention has no expected form: it defaults to "index" and refuses "expected".
`exclude_self=True` (query i
is database item i, unimodal retrieval) leaves each query's own item out of its ranking.
`zero_relevant` says how queries without any relevant database item enter the mean: "zero"
(they score 0 and count; the default) or "skip" (left out of the mean; 0.0 if none is left).
K larger than the database is clipped to the database size. See docs/metrics.md.
"""

from __future__ import annotations

import numpy as np

from hashbench.metrics import _engine
from hashbench.metrics._inputs import (
    CONVENTIONS,
    NDCG_VARIANTS,
    ZERO_RELEVANT,
    check_k,
    check_ks,
    check_option,
    check_radius,
    prepare,
    resolve_ties,
)
from hashbench.metrics._perquery import (
    Context,
    Spec,
    curve_request,
    per_query,
    pk_hits,
    pr_values,
    request,
)
from hashbench.metrics.curves import PKCurve, PRCurve, k_grid


def _context(query_codes, db_codes, query_labels, db_labels, exclude_self) -> Context:
    return Context(prepare(query_codes, db_codes, query_labels, db_labels, exclude_self))


def _policy(zero_relevant: str) -> str:
    return check_option(zero_relevant, "zero_relevant", ZERO_RELEVANT)


def query_mask(ctx: Context, zero_relevant: str) -> np.ndarray:
    """Queries that enter the mean under the zero-relevant policy."""
    if zero_relevant == "skip":
        return ctx.n_rel > 0
    return np.ones(ctx.problem.n_query, dtype=bool)


def masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray | float:
    """Mean over the selected queries (axis 0); 0.0 when no query is selected."""
    if not mask.any():
        return 0.0 if values.ndim == 1 else np.zeros(values.shape[1:])
    return values[mask].mean(axis=0)


def _scalar(ctx: Context, spec: Spec, zero_relevant: str) -> float:
    stats = _engine.run(ctx.problem, ctx.labels, request(spec, ctx))
    return float(masked_mean(per_query(spec, ctx, stats), query_mask(ctx, zero_relevant)))


def map_at_k(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    k: int = 50,
    convention: str = "djsrh",
    ties: str | None = None,
    zero_relevant: str = "zero",
    exclude_self: bool = False,
) -> float:
    """Mean average precision over the top k.

    convention: "djsrh" (AP normalised by the relevant items found in the top k; the published
    tables' convention), "dcmh" (mean of t / rank_t over the first min(k, R) relevant items,
    wherever they rank) or "recall" (AP normalised by min(k, R)). ties: None means "expected"
    (for dcmh: "index", the only default dcmh has; see the module docstring).
    """
    k = check_k(k)
    convention = check_option(convention, "convention", CONVENTIONS)
    spec = Spec("map", k=k, convention=convention, ties=resolve_ties(ties, convention))
    zero_relevant = _policy(zero_relevant)
    return _scalar(
        _context(query_codes, db_codes, query_labels, db_labels, exclude_self), spec, zero_relevant
    )


def map_at_all(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    ties: str | None = None,
    zero_relevant: str = "zero",
    exclude_self: bool = False,
) -> float:
    """Mean average precision over the full ranking (all conventions agree when K = n)."""
    spec = Spec("map_all", ties=resolve_ties(ties))
    zero_relevant = _policy(zero_relevant)
    return _scalar(
        _context(query_codes, db_codes, query_labels, db_labels, exclude_self), spec, zero_relevant
    )


def precision_at_k(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    k: int = 50,
    ties: str | None = None,
    zero_relevant: str = "zero",
    exclude_self: bool = False,
) -> float:
    """Mean Precision@k: relevant items in the top k, divided by k."""
    spec = Spec("p", k=check_k(k), ties=resolve_ties(ties))
    zero_relevant = _policy(zero_relevant)
    return _scalar(
        _context(query_codes, db_codes, query_labels, db_labels, exclude_self), spec, zero_relevant
    )


def recall_at_k(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    k: int = 50,
    ties: str | None = None,
    zero_relevant: str = "zero",
    exclude_self: bool = False,
) -> float:
    """Mean Recall@k: relevant items in the top k, divided by R (0 when R = 0)."""
    spec = Spec("r", k=check_k(k), ties=resolve_ties(ties))
    zero_relevant = _policy(zero_relevant)
    return _scalar(
        _context(query_codes, db_codes, query_labels, db_labels, exclude_self), spec, zero_relevant
    )


def acg_at_k(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    k: int = 50,
    ties: str | None = None,
    zero_relevant: str = "zero",
    exclude_self: bool = False,
) -> float:
    """Mean ACG@k: average number of labels the top k share with the query."""
    spec = Spec("acg", k=check_k(k), ties=resolve_ties(ties))
    zero_relevant = _policy(zero_relevant)
    return _scalar(
        _context(query_codes, db_codes, query_labels, db_labels, exclude_self), spec, zero_relevant
    )


def ndcg_at_k(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    k: int = 50,
    ndcg_variant: str = "dsrh",
    ties: str | None = None,
    zero_relevant: str = "zero",
    exclude_self: bool = False,
) -> float:
    """Mean NDCG@k.

    ndcg_variant "dsrh": r = shared labels, DCG = sum (2^r - 1) / log2(i + 1), ideal DCG from
    the best ordering of the whole database. "spikinghash": r = 1 (same label set), 0.5 (shares
    some label), 0 (none), DCG = r_1 + sum_{i>=2} r_i / log2(i). A query whose ideal DCG is 0
    (no relevant item) scores 0. With bracketing tie orders, "relevant" means higher r.
    """
    spec = Spec(
        "ndcg",
        k=check_k(k),
        ties=resolve_ties(ties),
        variant=check_option(ndcg_variant, "ndcg_variant", NDCG_VARIANTS),
    )
    zero_relevant = _policy(zero_relevant)
    return _scalar(
        _context(query_codes, db_codes, query_labels, db_labels, exclude_self), spec, zero_relevant
    )


def tie_aware_ap(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    zero_relevant: str = "zero",
    exclude_self: bool = False,
) -> float:
    """Mean tie-aware AP over the full ranking (He et al., CVPR 2018): the expected AP over all
    orders of tied items, from per-distance counts alone (no tie order involved)."""
    zero_relevant = _policy(zero_relevant)
    return _scalar(
        _context(query_codes, db_codes, query_labels, db_labels, exclude_self),
        Spec("tie_aware"),
        zero_relevant,
    )


def precision_at_radius(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    radius: int = 2,
    zero_relevant: str = "zero",
    exclude_self: bool = False,
) -> float:
    """Mean precision of the Hamming ball {d <= radius}; a query with an empty ball scores 0."""
    spec = Spec("radius_precision", radius=check_radius(radius))
    zero_relevant = _policy(zero_relevant)
    return _scalar(
        _context(query_codes, db_codes, query_labels, db_labels, exclude_self), spec, zero_relevant
    )


def pk_curve(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    ks=None,
    ties: str | None = None,
    zero_relevant: str = "zero",
    exclude_self: bool = False,
) -> PKCurve:
    """Mean Precision@K and Recall@K for each K in ks (default: 1, 5, 10, 20, 50, ..., n)."""
    ties = resolve_ties(ties)
    zero_relevant = _policy(zero_relevant)
    ctx = _context(query_codes, db_codes, query_labels, db_labels, exclude_self)
    ks = k_grid(ctx.n) if ks is None else [ctx.k_eff(k) for k in check_ks(ks)]
    return _pk_curve(ctx, tuple(ks), ties, zero_relevant)


def _pk_curve(
    ctx: Context,
    ks: tuple[int, ...],
    ties: str,
    zero_relevant: str,
    stats: _engine.RankStats | None = None,
) -> PKCurve:
    if stats is None:
        stats = _engine.run(
            ctx.problem, ctx.labels, curve_request("pk", tuple(sorted(set(ks))), ties)
        )
    hits = pk_hits(ctx, stats, ks, ties).astype(np.float64)
    mask = query_mask(ctx, zero_relevant)
    prec = masked_mean(hits / np.asarray(ks, dtype=np.float64), mask)
    n_rel = ctx.n_rel[:, None].astype(np.float64)
    rec = masked_mean(np.divide(hits, n_rel, out=np.zeros_like(hits), where=n_rel > 0), mask)
    return PKCurve(
        k=[int(k) for k in ks], precision=[float(v) for v in prec], recall=[float(v) for v in rec]
    )


def pr_curve(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    zero_relevant: str = "zero",
    exclude_self: bool = False,
) -> PRCurve:
    """Mean precision and recall of {d <= r} for every Hamming radius r = 0..bits (an empty
    ball has precision 0; a query without relevant items has recall 0)."""
    zero_relevant = _policy(zero_relevant)
    ctx = _context(query_codes, db_codes, query_labels, db_labels, exclude_self)
    return _pr_curve(ctx, zero_relevant)


def _pr_curve(ctx: Context, zero_relevant: str, stats: _engine.RankStats | None = None) -> PRCurve:
    if stats is None:
        stats = _engine.run(ctx.problem, ctx.labels, curve_request("pr", (), "index"))
    inside, hits, n_rel = pr_values(stats)
    inside = inside.astype(np.float64)
    hits = hits.astype(np.float64)
    n_rel = n_rel[:, None].astype(np.float64)
    mask = query_mask(ctx, zero_relevant)
    prec = masked_mean(np.divide(hits, inside, out=np.zeros_like(hits), where=inside > 0), mask)
    rec = masked_mean(np.divide(hits, n_rel, out=np.zeros_like(hits), where=n_rel > 0), mask)
    # pooled over queries (recall_precision.m of Spectral Hashing / ITQ): no empty-ball zeros
    pairs, good = inside[mask].sum(axis=0), hits[mask].sum(axis=0)
    relevant = float(n_rel[mask].sum())
    return PRCurve(
        radius=list(range(ctx.problem.bits + 1)),
        precision=[float(v) for v in prec],
        recall=[float(v) for v in rec],
        pooled_precision=[float(g / n) if n else None for g, n in zip(good, pairs, strict=True)],
        pooled_recall=[float(g / relevant) if relevant > 0 else 0.0 for g in good],
    )
