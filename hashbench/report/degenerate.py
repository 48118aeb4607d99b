"""Runs whose codes say nothing: every query (or every database item) got the same code.

New runs store `distinct_query_codes` and `distinct_retrieval_codes` per task; one distinct code
in either split means the ranking is all ties. For runs stored before those counts, the stored
tie range of a metric tells the same: relevant-last 0 and relevant-first 1 (every order of the
tied items possible) means nothing was ranked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hashbench.store import RunRecord

COUNT_KEYS = ("distinct_query_codes", "distinct_retrieval_codes")


def degenerate_task(values: Mapping[str, Any], metric: str) -> bool:
    """Whether one task's stored metrics show all-identical codes (see the module docstring)."""
    counts = [values[k] for k in COUNT_KEYS if isinstance(values.get(k), int | float)]
    if counts:
        return min(counts) <= 1
    first, last = values.get(f"{metric}:relevant_first"), values.get(f"{metric}:relevant_last")
    if first is None or last is None:  # the table's metric has no bounds: any stored pair
        pairs = [
            (values.get(k), values.get(k[: -len("first")] + "last"))
            for k in values
            if k.endswith(":relevant_first")
        ]
        pairs = [(f, la) for f, la in pairs if f is not None and la is not None]
        if not pairs:
            return False
        first, last = pairs[0]
    return float(last) <= 1e-12 and float(first) >= 1 - 1e-12


def degenerate_warning(records: Iterable[RunRecord], metric: str) -> str | None:
    """The warning line `table` and `report` print when a shown run's codes are all identical
    (None when none is)."""
    runs = sorted(
        {
            r.run_id
            for r in records
            for values in r.task_metrics().values()
            if metric in values and degenerate_task(values, metric)
        }
    )
    if not runs:
        return None
    return (
        f"warning: {len(runs)} run(s) gave all queries or all database items one code (cells "
        f"marked ⁰; their values say nothing about the method): {', '.join(runs)}"
    )
