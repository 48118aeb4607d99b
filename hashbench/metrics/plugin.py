"""Metrics from plugins: `MetricSpec` (what a plugin registers), `MetricInputs` (what its
function gets) and the scoring of one retrieval task with every registered metric.

A plugin metric is a function from one task's `MetricInputs` to one float per query; the run
stores the mean under the metric's name beside the built-in keys and the per-query values as
`perquery.<task>.<name>`, so tables, CSV, statistics and the report read it like the others.
Its inputs are the ones the built-in metrics use: the task's codes and labels, and the engine's
products (Hamming distances, relevance, the ranking with ties by database index, first relevant
ranks, per-distance counts), computed on first use and shared by every metric of the task.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np

from hashbench.errors import PluginError
from hashbench.metrics import _engine
from hashbench.metrics._engine import Request
from hashbench.metrics._inputs import check_k, prepare
from hashbench.metrics._perquery import Context, _binary_hist

# A metric name: lowercase word, optionally "@" and a lowercase/digit argument ("hitrate@10").
# No ":" (the built-in tie-order variants use it) and no "." (stored as perquery.<task>.<name>).
NAME = re.compile(r"[a-z][a-z0-9_]*(@[a-z0-9]+)?")
MAX_NAME = 40
# Bases of the built-in metric names (any K) and keys a task's stored metrics already use.
RESERVED = frozenset(
    {"map", "p", "r", "acg", "ndcg", "tie_aware_ap", "precision", "pr", "pk"}
    | {"curves", "scoring", "groups", "distinct_query_codes", "distinct_retrieval_codes"}
    | {"validation_curve", "released_selection", "pruned"}
)


@dataclass(frozen=True)
class MetricSpec:
    """A retrieval metric a plugin adds (`hashbench_register_metrics`).

    name: how it is stored and asked for (`hashbench table --metric NAME`): lowercase letters,
    digits and "_", optionally "@" and an argument ("hitrate@10", "mrr"); not a built-in name.
    per_query: `MetricInputs` -> one finite float per query (shape (n_query,)); the stored score
    is their mean over all queries, and like every built-in score, higher is better.
    description: one line for `hashbench list metrics`.
    """

    name: str
    per_query: Callable[[MetricInputs], Any]
    description: str

    def problems(self) -> list[str]:
        """What is wrong with this spec (empty when nothing is)."""
        out = []
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            out.append(
                f"name {self.name!r} is not a metric name (lowercase letters, digits and '_', "
                "optionally '@' and an argument, e.g. 'hitrate@10')"
            )
        elif len(self.name) > MAX_NAME:
            out.append(f"name {self.name!r} is longer than {MAX_NAME} characters")
        elif self.name.split("@")[0] in RESERVED:
            out.append(
                f"name {self.name!r} clashes with the built-in metric names "
                f"({', '.join(sorted(RESERVED))} with any argument): choose another"
            )
        if not callable(self.per_query):
            out.append(f"per_query must be a function of MetricInputs; got {self.per_query!r}")
        if not isinstance(self.description, str) or not self.description.strip():
            out.append("description must be a non-empty string (one line)")
        return out


@dataclass
class MetricInputs:
    """One retrieval task as the built-in metrics see it (build with `MetricInputs.build`).

    query_codes, db_codes: (n, bits) int8 -1/+1; query_labels, db_labels: (n, c) uint8 0/1
    multi-hot. An item is relevant to a query when they share a label. k: the K of the task's
    standard set (the 50 of map@50; a unimodal dataset's retrieval depth), for metrics that
    follow it. The methods compute the engine's products on first use and keep them.
    """

    query_codes: np.ndarray
    db_codes: np.ndarray
    query_labels: np.ndarray
    db_labels: np.ndarray
    k: int
    _ctx: Context = field(repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, query_codes, db_codes, query_labels, db_labels, k: int = 50) -> MetricInputs:
        """Validate (InputError on bad input, as `hashbench.metrics` does) and wrap a task."""
        ctx = Context(prepare(query_codes, db_codes, query_labels, db_labels))
        return cls(
            query_codes=np.where(np.asarray(query_codes) > 0, 1, -1).astype(np.int8),
            db_codes=np.where(np.asarray(db_codes) > 0, 1, -1).astype(np.int8),
            query_labels=(np.asarray(query_labels) > 0).astype(np.uint8),
            db_labels=(np.asarray(db_labels) > 0).astype(np.uint8),
            k=check_k(k),
            _ctx=ctx,
        )

    @property
    def n_query(self) -> int:
        return self._ctx.problem.n_query

    @property
    def n_db(self) -> int:
        return self._ctx.problem.n_db

    @property
    def bits(self) -> int:
        return self._ctx.problem.bits

    def _once(self, key: object, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def distances(self) -> np.ndarray:
        """(n_query, n_db) int32 Hamming distances (faiss, as the engine; n_query * n_db * 4
        bytes: prefer `ranking` or `distance_counts` on large databases)."""

        def make() -> np.ndarray:
            p = self._ctx.problem
            out = np.empty((p.n_query, p.n_db), dtype=np.int32)
            faiss.hammings(
                faiss.swig_ptr(p.q_codes),
                faiss.swig_ptr(p.db_codes),
                p.n_query,
                p.n_db,
                p.q_codes.shape[1],
                faiss.swig_ptr(out),
            )
            return out

        return self._once("distances", make)

    def shared_labels(self) -> np.ndarray:
        """(n_query, n_db) int32 number of labels each pair shares (graded relevance)."""
        return self._once(
            "shared",
            lambda: self.query_labels.astype(np.int32) @ self.db_labels.T.astype(np.int32),
        )

    def relevance(self) -> np.ndarray:
        """(n_query, n_db) bool: the pair shares at least one label."""
        return self._once("relevance", lambda: self.shared_labels() > 0)

    def n_relevant(self) -> np.ndarray:
        """(n_query,) int64 relevant database items per query (R)."""
        return self._once("n_relevant", lambda: np.asarray(self._ctx.n_rel, dtype=np.int64))

    def ranking(self, k: int | None = None) -> np.ndarray:
        """(n_query, min(k, n_db)) int64 database indices of the top k (default `self.k`) in the
        engine's order: by Hamming distance, ties by ascending database index (the order of
        the built-in ":index" keys, e.g. map@50:index)."""
        k = min(check_k(self.k if k is None else k), self.n_db)
        known = self._cache.get("ranking")
        if known is None or known.shape[1] < k:  # a longer top k holds every shorter one
            p = self._ctx
            known = _engine.run(p.problem, p.labels, Request(topk=k)).topk
            self._cache["ranking"] = known
        return known[:, :k]

    def ranked_relevance(self, k: int | None = None) -> np.ndarray:
        """(n_query, min(k, n_db)) bool: whether each item of `ranking(k)` is relevant."""
        top = self.ranking(k)
        rows = np.arange(self.n_query)
        return self._ctx.labels.pair_levels(rows, top, "binary").astype(bool)

    def relevant_ranks(self, m: int = 1) -> np.ndarray:
        """(n_query, m) int64 1-based ranks of the first m relevant items in the whole ranking
        (the order of `ranking`); 0 where a query has fewer than m relevant items."""
        m = check_k(m, "m")

        def make() -> np.ndarray:
            p = self._ctx
            heads = _engine.run(p.problem, p.labels, Request(head=m, full=True)).head
            out = np.zeros((self.n_query, m), dtype=np.int64)
            out[:, : heads.shape[1]] = heads
            return out

        return self._once(("relevant_ranks", m), make)

    def distance_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(items, relevant items) at each Hamming distance, each (n_query, bits + 1) int64:
        what the built-in metrics' default tie order ("expected": the mean over all orders of
        equally distant items) is computed from."""

        def make() -> tuple[np.ndarray, np.ndarray]:
            p = self._ctx
            stats = _engine.run(p.problem, p.labels, Request(levels="binary"))
            n_all, n_hit = _binary_hist(stats)
            return n_all.astype(np.int64), n_hit.astype(np.int64)

        return self._once("distance_counts", make)


PluginMetric = tuple[str, MetricSpec]  # (the plugin that registered it, the spec)


def _fails(plugin: str, spec: MetricSpec, what: str) -> PluginError:
    return PluginError(
        f"metric '{spec.name}' of plugin '{plugin}' {what}. Fix the plugin, or block it "
        f"(HASHBENCH_BLOCK_PLUGINS={plugin})"
    )


def per_query_values(plugin: str, spec: MetricSpec, inputs: MetricInputs) -> np.ndarray:
    """The metric's (n_query,) float64 values, checked; PluginError naming plugin and metric."""
    try:
        raw = spec.per_query(inputs)
    except Exception as exc:
        raise _fails(plugin, spec, f"raised {type(exc).__name__}: {exc}") from exc
    try:
        values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _fails(plugin, spec, f"returned {type(raw).__name__}, not numbers ({exc})") from exc
    if values.shape != (inputs.n_query,):
        raise _fails(
            plugin,
            spec,
            f"returned shape {values.shape}; expected one value per query: ({inputs.n_query},)",
        )
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise _fails(plugin, spec, f"returned {values[bad]} for query {bad}; values must be finite")
    return values


def score_task(
    metrics: Sequence[PluginMetric],
    task_inputs: tuple,
    k: int,
    values: dict,
    per_query: dict[str, np.ndarray],
) -> None:
    """Add every plugin metric of one task: its mean over queries to `values` (the task's
    stored metrics), its per-query values to `per_query`. task_inputs: (query codes, database
    codes, query labels, database labels)."""
    if not metrics:
        return
    inputs = MetricInputs.build(*task_inputs, k=k)
    for plugin, spec in metrics:
        scores = per_query_values(plugin, spec, inputs)
        values[spec.name] = float(scores.mean())
        per_query[spec.name] = scores


def check_metrics(metrics: Sequence[PluginMetric]) -> None:
    """Call every metric on a small fixed task (before a run trains, so a metric that fails or
    returns the wrong shape costs no training); PluginError naming the first bad one."""
    if not metrics:
        return
    rng = np.random.default_rng(0)
    labels = rng.random((40, 4)) < 0.4
    labels[np.arange(40), np.arange(40) % 4] = True
    codes = np.where(rng.random((40, 16)) < 0.5, 1, -1)
    score_task(metrics, (codes[:8], codes[8:], labels[:8], labels[8:]), 5, {}, {})
