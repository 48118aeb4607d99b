"""Metric definitions as (engine request, per-query value) pairs.

A `Spec` names one scalar metric with its convention and tie order; `request` says what the
ranking engine must produce for it and `per_query` turns those products into one value per
query. Several specs can share one engine pass (see `merge`), which is how `evaluate` computes
the whole standard set with a single pass over the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hashbench.metrics import _expected as E
from hashbench.metrics import _formulas as F
from hashbench.metrics._engine import KNN_MAX_K, RankStats, Request
from hashbench.metrics._inputs import Problem
from hashbench.metrics._labels import LabelIndex, n_levels


@dataclass(frozen=True)
class Spec:
    """One scalar metric. kind: map, map_all, p, r, acg, ndcg, tie_aware, radius_precision."""

    kind: str
    k: int = 0
    convention: str = "djsrh"
    ties: str = "expected"  # see _inputs.TIE_ORDERS; dcmh callers resolve to "index"
    variant: str = "dsrh"  # NDCG definition: dsrh or spikinghash
    radius: int = 2


@dataclass
class Context:
    """A prepared problem plus lazily computed per-query facts that need no ranking."""

    problem: Problem
    labels: LabelIndex = field(init=False)

    def __post_init__(self) -> None:
        p = self.problem
        self.labels = LabelIndex(p.q_labels, p.db_labels, p.n_labels)

    @property
    def n(self) -> int:
        return self.problem.n_ranked

    def k_eff(self, k: int) -> int:
        return min(k, self.n)

    known_counts: dict[str, np.ndarray] = field(init=False, default_factory=dict)

    def absorb(self, stats: RankStats) -> None:
        """Keep the per-level item counts a pass produced, so they are not computed again."""
        if stats.counts is not None:
            self.known_counts[stats.counts_kind] = stats.counts
        elif stats.hist is not None:
            self.known_counts[stats.levels] = stats.hist.sum(axis=2, dtype=np.int64)
        if self.known_counts and "binary" not in self.known_counts:
            counts = next(iter(self.known_counts.values()))
            rel = counts[:, 1:].sum(axis=1)
            self.known_counts["binary"] = np.stack([counts.sum(axis=1) - rel, rel], axis=1)

    @property
    def n_rel(self) -> np.ndarray:
        """(n_query,) relevant database items per query (R)."""
        return self.level_counts("binary")[:, 1]

    def level_counts(self, kind: str) -> np.ndarray:
        """(n_query, levels) database items per relevance level (self left out if asked)."""
        if kind not in self.known_counts:
            self.known_counts[kind] = self.labels.level_counts(kind, self.problem.exclude_self)
        return self.known_counts[kind]


def merge(requests: list[Request]) -> Request:
    """One request covering all of them.

    Level kinds must agree, except that binary is implied by any finer kind (level 0 = not
    relevant in all of them), so a binary histogram merged with a finer one becomes the finer.
    """

    def one_kind(kinds: set) -> str | None:
        kinds = kinds - {None}
        if len(kinds) > 1:
            kinds.discard("binary")
        if len(kinds) > 1:
            raise ValueError(f"cannot merge level kinds {kinds}")  # internal misuse
        return kinds.pop() if kinds else None

    return Request(
        topk=max((r.topk for r in requests), default=0),
        head=max((r.head for r in requests), default=0),
        levels=one_kind({r.levels for r in requests}),
        counts=one_kind({r.counts for r in requests}),
        full=any(r.full for r in requests),
        cuts=tuple(sorted({c for r in requests for c in r.cuts})),
    )


def level_kind(spec: Spec) -> str:
    if spec.kind == "acg":
        return "grade"
    if spec.kind == "ndcg":
        return "grade" if spec.variant == "dsrh" else "spikinghash"
    return "binary"


def request(spec: Spec, ctx: Context) -> Request:
    """What the ranking engine must compute for `spec`."""
    k = ctx.k_eff(spec.k) if spec.k else 0
    if spec.kind in ("tie_aware", "radius_precision"):
        return Request(levels="binary")
    if spec.kind == "map_all":
        return Request(full=True) if spec.ties == "index" else Request(levels="binary")
    if spec.ties != "index":
        return Request(levels=level_kind(spec))
    if spec.kind in ("acg", "ndcg"):
        return Request(topk=k)
    if spec.kind == "map" and spec.convention == "dcmh":
        return Request(head=k, full=True)  # the first min(K, R) relevant items may rank past K
    if spec.kind in ("p", "r") and k > KNN_MAX_K:
        return Request(full=True, cuts=(k,))
    return Request(topk=k, head=k)


def _hits_index(stats: RankStats, k: int) -> np.ndarray:
    """Relevant items in the index-tie top k (from head ranks, or from the cut counts)."""
    if stats.head is not None and stats.head.shape[1] >= k:
        return ((stats.head > 0) & (stats.head <= k)).sum(axis=1)
    return stats.cuts[:, stats.cut_ks.index(k)]


def _binary_hist(stats: RankStats) -> tuple[np.ndarray, np.ndarray]:
    """(all items, relevant items) per distance from a level histogram (level 0: not relevant)."""
    h = stats.hist
    if h.shape[1] == 2:
        return h[:, 0] + h[:, 1], h[:, 1]
    rel = h[:, 1:].sum(axis=1)
    return h[:, 0] + rel, rel


def _gains(levels: np.ndarray, variant: str) -> np.ndarray:
    if variant == "dsrh":
        return np.exp2(levels) - 1.0  # graded relevance r = shared labels, gain 2^r - 1
    return levels / 2.0  # spikinghash levels 0/1/2 are r = 0 / 0.5 / 1


def _discounts(k: int, variant: str) -> np.ndarray:
    i = np.arange(1, k + 1, dtype=np.float64)
    if variant == "dsrh":
        return 1.0 / np.log2(i + 1.0)
    disc = np.ones(k)
    disc[1:] = 1.0 / np.log2(i[1:])  # r_1 + sum_{i>=2} r_i / log2(i)
    return disc


def _top_values(
    spec: Spec, ctx: Context, stats: RankStats, kind: str, k: int, value=lambda lev: lev
) -> np.ndarray:
    """(n_query, k) value(relevance level) at ranks 1..k under the spec's tie order; for
    "expected", each rank's expectation: the mean value of the distance group holding it."""
    if spec.ties == "expected":
        n_lev = stats.hist.shape[1]
        counts, means = E.group_means(stats.hist, value(np.arange(n_lev, dtype=np.float64)))
        return F.top_levels(counts, means, k)
    if spec.ties == "index":
        q_idx = np.arange(ctx.problem.n_query)
        levels = ctx.labels.pair_levels(q_idx, stats.topk[:, :k], kind).astype(np.float64)
    else:
        counts, values = F.runs_by_tie_order(stats.hist, spec.ties)
        levels = F.top_levels(counts, values, k)
    return value(levels)


def per_query(spec: Spec, ctx: Context, stats: RankStats) -> np.ndarray:
    """(n_query,) values of `spec` from the engine products."""
    k = ctx.k_eff(spec.k) if spec.k else 0
    if spec.kind == "tie_aware":
        return F.tie_aware_ap(*_binary_hist(stats))
    if spec.kind == "radius_precision":
        n_all, n_hit = _binary_hist(stats)
        r = min(spec.radius, ctx.problem.bits)
        inside = n_all[:, : r + 1].sum(axis=1)
        hits = n_hit[:, : r + 1].sum(axis=1)
        return np.divide(hits, inside, out=np.zeros(len(hits)), where=inside > 0)  # empty -> 0
    if spec.kind == "map_all":
        if spec.ties == "index":
            return stats.ap_all
        if spec.ties == "expected":  # over the full ranking this is the tie-aware AP
            return F.tie_aware_ap(*_binary_hist(stats))
        hits, sums = F.hits_and_prec_sum(*_binary_hist(stats), spec.ties, ctx.n)
        return F.normalise(sums, hits, None, ctx.n, "djsrh")
    if spec.kind == "map":
        n_rel = ctx.n_rel if spec.convention != "djsrh" else None
        if spec.ties == "index":
            return F.ap_from_head(stats.head, k, n_rel, spec.convention)
        n_all, n_hit = _binary_hist(stats)
        if spec.ties == "expected":
            return E.expected_ap_at_k(n_all, n_hit, k, spec.convention, n_rel)
        if spec.convention == "dcmh":
            m = np.minimum(k, ctx.n_rel)
            sums = F.first_m_prec_sum(n_all, n_hit, spec.ties, m)
            return np.divide(sums, m, out=np.zeros(len(m)), where=m > 0)
        hits, sums = F.hits_and_prec_sum(n_all, n_hit, spec.ties, k)
        return F.normalise(sums, hits, n_rel, k, spec.convention)
    if spec.kind in ("p", "r"):
        if spec.ties == "index":
            hits = _hits_index(stats, k)
        elif spec.ties == "expected":
            hits = E.expected_hits(*_binary_hist(stats), k)
        else:
            hits, _ = F.hits_and_prec_sum(*_binary_hist(stats), spec.ties, k)
        if spec.kind == "p":
            return hits / k
        return np.divide(hits, ctx.n_rel, out=np.zeros(len(hits)), where=ctx.n_rel > 0)
    if spec.kind == "acg":
        return _top_values(spec, ctx, stats, "grade", k).mean(axis=1)
    if spec.kind == "ndcg":
        kind = level_kind(spec)
        disc = _discounts(k, spec.variant)
        gains = _top_values(spec, ctx, stats, kind, k, lambda lev: _gains(lev, spec.variant))
        dcg = (gains * disc).sum(axis=1)
        counts = ctx.level_counts(kind)  # ideal order: best level first over the whole database
        n_lev = n_levels(kind, ctx.problem.n_labels)
        ideal = F.top_levels(counts[:, ::-1], np.arange(n_lev)[::-1], k)
        idcg = (_gains(ideal, spec.variant) * disc).sum(axis=1)
        return np.divide(dcg, idcg, out=np.zeros(len(dcg)), where=idcg > 0)
    raise ValueError(f"unknown metric kind {spec.kind!r}")  # internal misuse


def curve_request(kind: str, ks: tuple[int, ...], ties: str) -> Request:
    if kind == "pr" or ties != "index":
        return Request(levels="binary")
    return Request(full=True, cuts=ks)


def pk_hits(ctx: Context, stats: RankStats, ks: tuple[int, ...], ties: str) -> np.ndarray:
    """(n_query, len(ks)) relevant items in the top K for each K (K <= database size)."""
    if ties == "index":
        return stats.cuts[:, [stats.cut_ks.index(k) for k in ks]]
    n_all, n_hit = _binary_hist(stats)
    if ties == "expected":
        return np.stack([E.expected_hits(n_all, n_hit, k) for k in ks], axis=1)
    return np.stack([F.hits_and_prec_sum(n_all, n_hit, ties, k)[0] for k in ks], axis=1)


def pr_values(stats: RankStats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query and radius r = 0..bits: retrieved |{d <= r}|, relevant in it, and R."""
    n_all, n_hit = _binary_hist(stats)
    return np.cumsum(n_all, axis=1), np.cumsum(n_hit, axis=1), n_hit.sum(axis=1)
