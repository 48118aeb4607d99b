"""Which row of a table a run belongs to: its method, and what sets it apart from its peers.

Runs of one method in one cell (dataset x bits) may differ in budget, in protocol (default or
tuned parameters) or in `--param` overrides. Each such variant gets its own row, labelled by
what differs, so a table never silently averages or overwrites runs of different settings:
`cirh-like (quick)`, `cca-itq (tuned)`, `cirh-like [epochs=10]`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from hashbench.store import RunRecord


def _value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _differing(params: list[Mapping[str, Any]]) -> list[str]:
    keys = sorted(set().union(*params))
    return [k for k in keys if len({_value(p.get(k)) for p in params}) > 1]


def variant_labels(records: Iterable[RunRecord]) -> dict[str, str]:
    """{run id: row label} for every run: the method name, plus what sets its variant apart.

    Budget and protocol are named whenever the records hold more than one of them; parameters
    only where runs of the same method, cell, budget and protocol differ in them (tuned runs
    are told apart by protocol alone: their parameters differ by design).
    """
    records = list(records)
    several_budgets = len({r.budget for r in records}) > 1
    several_protocols = len({r.protocol for r in records}) > 1
    cells: dict[tuple, list[RunRecord]] = defaultdict(list)
    for r in records:
        cells[(r.method, r.dataset, r.bits, r.budget, r.protocol)].append(r)
    param_keys: dict[str, list[str]] = {}
    for (_, _, _, _, protocol), group in cells.items():
        if protocol == "tuned":
            continue
        keys = _differing([r.params for r in group])
        for r in group:
            param_keys[r.run_id] = keys
    labels = {}
    for r in records:
        tags = []
        if several_budgets:
            tags.append(r.budget)
        if several_protocols or r.protocol != "default":
            tags.append(r.protocol)
        label = f"{r.method} ({', '.join(tags)})" if tags else r.method
        keys = param_keys.get(r.run_id) or []
        if keys:
            label += " [" + ", ".join(f"{k}={_value(r.params.get(k))}" for k in keys) + "]"
        labels[r.run_id] = label
    return labels
