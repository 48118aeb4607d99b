"""A third-party hashbench metric plugin: hit rate at 10 and the reciprocal rank of the first
relevant item, per query, from the ranking hashbench's own metrics use."""

import numpy as np

import hashbench


def hit_rate_at_10(task: hashbench.MetricInputs) -> np.ndarray:
    """1 where at least one of a query's 10 nearest database items is relevant, else 0."""
    return task.ranked_relevance(10).any(axis=1).astype(float)


def reciprocal_rank(task: hashbench.MetricInputs) -> np.ndarray:
    """1 / rank of a query's first relevant item in the whole ranking (0 when it has none)."""
    first = task.relevant_ranks(1)[:, 0]
    return np.divide(1.0, first, out=np.zeros(len(first)), where=first > 0)


@hashbench.hookimpl
def hashbench_register_metrics():
    return [
        hashbench.MetricSpec(
            name="hitrate@10",
            per_query=hit_rate_at_10,
            description="share of queries with a relevant item among their 10 nearest",
        ),
        hashbench.MetricSpec(
            name="mrr",
            per_query=reciprocal_rank,
            description="mean reciprocal rank of the first relevant item",
        ),
    ]
