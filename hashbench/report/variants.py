"""Which row of a table a run belongs to: its method, and what sets its setting apart.

Runs of one method may differ in budget, in protocol (default or tuned parameters) or in
`--param` overrides. Each setting gets its own row, so a table never silently averages or
overwrites runs of different settings: `cirh-like (quick)`, `cca-itq (tuned)`,
`cca-itq [ridge=1.0]`.

A label depends only on the run's own setting, never on which other runs share its column:
one setting is one row across every dataset and code length of a table (and of the report,
the plots and `hashbench compare`, which use the same labels).

- Budget and protocol are named whenever the records hold more than one of them (a method
  whose budget changes nothing, `report.budgets`, never names one; a run of the
  released protocol always reads "as released" with the symbol §, `jdsh (as released)§`, and
  never makes the fair rows named; a tuned run is always named "tuned"; its parameters differ
  by design and are not listed, but where a
  method's tuned runs differ in how they were tuned, the trials or time budget, validation
  database or split, pruner or batch, that is named: `cca-itq (tuned, 8 trials)`).
- Parameters: with the method's own defaults known (`registry_reference`: its defaults for the
  dataset's protocol and the run's budget, completed for the code length), every value that
  differs from its default is named, and a run at the defaults is the bare method name. A
  parameter the method derives from the data itself (e.g. the frame count of event data), or
  every parameter of a method that is not installed, is named for every run of the method when
  its runs differ in it (see `_compared_keys`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from hashbench.store import RunRecord

Reference = Callable[[RunRecord], Mapping[str, Any] | None]
"""A run's parameters at its method's defaults (None: unknown); keys mapped to DERIVED are
values the method computes from the data, unknown before the run."""

AS_RELEASED = "as-released"
"""The protocol of a run whose model was selected as the method's released code selects it."""
AS_RELEASED_MARK = "§"
AS_RELEASED_TAG = "as released"
RELEASED_SELECTION = "released_selection"
"""The run-level metrics entry of an as-released run: how its model was selected."""

DERIVED = object()
# two probes of `Method.complete_params`: a key they fill in differently depends on the data
_PROBES = (({}, {}), ({"image": 8, "text": 8}, {"image": (5, 2, 8, 8)}))


def _value(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def registry_reference(registry: Any) -> Reference:
    """The reference parameters of each run from the installed methods (`Registry`): defaults,
    the dataset protocol's and the budget's values, then `complete_params` for the code length."""
    cache: dict[tuple, Mapping[str, Any] | None] = {}

    def reference(record: RunRecord) -> Mapping[str, Any] | None:
        spec = registry.datasets.get(record.dataset.split("@", 1)[0])
        key = (record.method, spec.protocol if spec else "", record.budget, record.bits)
        if key not in cache:
            cache[key] = _reference(registry.methods.get(record.method), *key[1:])
        return cache[key]

    return reference


def _reference(method_cls: Any, protocol: str, budget: str, bits: int) -> dict | None:
    if method_cls is None:
        return None
    try:
        base = method_cls.resolve_params(protocol, budget)
        probes = [
            dict(method_cls.complete_params(dict(base), bits=bits, feature_dims=f, input_shapes=s))
            for f, s in _PROBES
        ]
    except Exception:  # a plugin that cannot say: every parameter compared among runs
        return None
    out = {}
    for name in base:
        values = {_value(p.get(name)) for p in probes}
        out[name] = DERIVED if len(values) > 1 or probes[0].get(name) is None else probes[0][name]
    return out


def _compared_keys(records: list[RunRecord], reference: Reference | None) -> dict[str, set[str]]:
    """Per method: the parameters without a known default in which its runs differ: anywhere
    in the table for a method without defaults; for a parameter the method derives from the
    data, within one dataset, code length and budget (different data may derive different
    values of one setting)."""
    values: dict[tuple, set[str]] = defaultdict(set)
    for r in records:
        if r.protocol == "tuned":
            continue
        ref = reference(r) if reference else None
        for name, value in r.params.items():
            if ref is None:
                values[(r.method, name)].add(_value(value))
            elif ref.get(name, DERIVED) is DERIVED:
                values[(r.method, name, r.dataset, r.bits, r.budget)].add(_value(value))
    out: dict[str, set[str]] = defaultdict(set)
    for (method, name, *_), seen in values.items():
        if len(seen) > 1:
            out[method].add(name)
    return out


def tuning_setting(record: RunRecord) -> dict[str, str]:
    """What sets a tuned run's tuning apart from another's in the same cell and seed, as tags:
    the trials (or the time budget that decided them), the validation database and split, the
    pruner and the batch."""
    tuning = record.tuning or {}
    val = tuning.get("validation", {})
    budget = tuning.get("time_budget_s")
    pruner = (tuning.get("pruner") or {}).get("name", "median")
    return {
        "trials": f"{budget:g} s budget" if budget else f"{tuning.get('trials', '?')} trials",
        "database": f"val database {val.get('database_rule', 'fit')}",
        "split": f"val {val.get('fraction', '?')} x {val.get('max_queries', '?')}",
        "pruner": f"pruner {pruner}",
        "batch": f"batch {tuning.get('batch', '?')}",
    }


def _tuning_tags(records: list[RunRecord]) -> dict[str, list[str]]:
    """Per tuned run: the tags of `tuning_setting` in which its method's tuned runs differ
    anywhere in the table (so two tuned settings of one cell are two rows)."""
    settings = {r.run_id: tuning_setting(r) for r in records if r.protocol == "tuned"}
    by_method: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in records:
        if r.run_id in settings:
            by_method[r.method].append(settings[r.run_id])
    out = {}
    for r in records:
        if r.run_id in settings:
            seen = by_method[r.method]
            differ = [k for k in settings[r.run_id] if len({s[k] for s in seen}) > 1]
            out[r.run_id] = [settings[r.run_id][k] for k in differ]
    return out


def run_label(
    record: RunRecord,
    ref: Mapping[str, Any] | None,
    compared: set[str],
    *,
    budget: bool,
    protocol: bool,
    tuning_tags: list[str] | None = None,
) -> str:
    """One run's row label (see the module docstring)."""
    tags = []
    if budget:
        tags.append(record.budget)
    if record.protocol == AS_RELEASED:
        tags.append(AS_RELEASED_TAG)
    elif protocol or record.protocol != "default":
        tags.append(record.protocol)
    if record.protocol == "tuned":
        tags.extend(tuning_tags or [])
    label = f"{record.method} ({', '.join(tags)})" if tags else record.method
    if record.protocol == AS_RELEASED:
        label += AS_RELEASED_MARK
    if record.protocol == "tuned":
        return label
    named = []
    for name in sorted(record.params):
        value = record.params[name]
        known = ref.get(name, DERIVED) if ref is not None else DERIVED
        if (known is DERIVED and name in compared) or (
            known is not DERIVED and _value(value) != _value(known)
        ):
            named.append(f"{name}={_value(value)}")
    return label + (" [" + ", ".join(named) + "]" if named else "")


def variant_labels(
    records: Iterable[RunRecord],
    reference: Reference | None = None,
    budget_free: Collection[str] = (),
) -> dict[str, str]:
    """{run id: row label} for every run, decided once over all `records` (see the module
    docstring). `reference`: each run's default parameters (`registry_reference`); without it
    a parameter is named for every run of a method whose runs differ in it. `budget_free`:
    methods whose budget changes nothing (`report.budgets`): their rows never name a budget
    (one run serves every budget) and never make the other rows name theirs."""
    records = list(records)
    several_budgets = len({r.budget for r in records if r.method not in budget_free}) > 1
    # as-released rows are named anyway and stand apart: they never rename the fair rows
    several_protocols = len({r.protocol for r in records if r.protocol != AS_RELEASED}) > 1
    compared = _compared_keys(records, reference)
    tuning_tags = _tuning_tags(records)
    return {
        r.run_id: run_label(
            r,
            reference(r) if reference else None,
            compared.get(r.method, set()),
            budget=several_budgets and r.method not in budget_free,
            protocol=several_protocols,
            tuning_tags=tuning_tags.get(r.run_id),
        )
        for r in records
    }


def is_as_released(label: str) -> bool:
    """Whether a row label is an as-released run's (`jdsh (as released)§`, any display name)."""
    return f"{AS_RELEASED_TAG}){AS_RELEASED_MARK}" in label
