"""Rescore stored runs whose scores were computed under an older scoring convention.

A run id covers what a run computes (method, parameters, dataset, bits, seed, budget), not how
its codes were scored, so a change of convention (the default tie order became "expected": the
mean over all orders of tied items, `hashbench.metrics.SCORING`) leaves old rows under the same
keys and ids: `hashbench run` would skip them and a table would mix conventions silently. Every
run now stores its convention as `metrics["scoring"]`; a scored run without the current one is
stale. `rescore` recomputes its standard set and per-query values from its stored codes, read
and verified through `ResultStore.load_arrays`, and saves it again through `ResultStore.save`
(atomic: the old row and codes stay until the new ones are in place). The metrics of installed
plugins (`hashbench.MetricSpec`) are computed with it, and a run stored before such a plugin was
installed is rescored the same way to add them (`missing_metrics`).

`stale` and `stale_warning` import no torch (tables call them); `rescore` imports the runner.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from hashbench import metrics
from hashbench.errors import StoreError
from hashbench.store import ResultStore, RunRecord

if TYPE_CHECKING:
    from hashbench.metrics.plugin import PluginMetric

SCORING_KEY = "scoring"


def scored_tasks(record: RunRecord) -> list[str]:
    """The tasks a run holds scores for (a pruned tuning trial has none)."""
    return [t for t, v in record.task_metrics().items() if "curves" in v]


def is_stale(record: RunRecord) -> bool:
    """Whether a finished run's scores were computed under another convention than today's."""
    return bool(scored_tasks(record)) and record.metrics.get(SCORING_KEY) != metrics.SCORING


def stale(records: Iterable[RunRecord]) -> list[RunRecord]:
    """The runs among `records` scored under an older convention (see the module docstring)."""
    return [r for r in records if is_stale(r)]


def stale_warning(records: Iterable[RunRecord]) -> str | None:
    """One line for stderr when any of `records` is stale, naming the fix; None otherwise."""
    old = stale(records)
    if not old:
        return None
    return (
        f"warning: {len(old)} run(s) shown were scored under an older convention (ties by "
        f"database index, before '{metrics.SCORING}' became the default): their numbers do "
        "not compare with the others'. `hashbench rescore` recomputes them from their codes"
    )


def _depth(values: dict) -> int:
    """The K of a task's standard set, from its key names (acg@K is stored once per set)."""
    ks = [int(m.group(1)) for key in values if (m := re.fullmatch(r"acg@(\d+)", key))]
    if len(ks) != 1:  # a row from a version without ACG@K: no way to tell K, rerun it
        raise StoreError(
            f"cannot tell the K of its stored metrics ({', '.join(sorted(values))}); "
            "`hashbench run --rerun` with its options recomputes it"
        )
    return ks[0]


def _top_k(values: dict, depth: int) -> int:
    """The extra mAP@top_k a unimodal task stores beside mAP@R (R = depth), or depth."""
    others = [
        int(m.group(1))
        for key in values
        if (m := re.fullmatch(r"map@(\d+)", key)) and int(m.group(1)) != depth
    ]
    return others[0] if len(others) == 1 else depth


def _score_task(task: str, old: dict, inputs: tuple, per_query: dict) -> dict:
    from hashbench.runner.execute import UNIMODAL_TASK, evaluate_unimodal

    q_codes, db_codes, q_labels, db_labels = inputs
    depth = _depth(old)
    if task != UNIMODAL_TASK:
        return metrics.evaluate(
            q_codes, db_codes, q_labels, db_labels, k=depth, per_query=per_query
        )
    # the unimodal set: mAP@R, mAP@top_k and the label groups stored with the run
    groups = {name: g["labels"] for name, g in (old.get("groups") or {}).items()}
    data = SimpleNamespace(
        retrieval_depth=depth,
        query=SimpleNamespace(labels=q_labels),
        retrieval=SimpleNamespace(labels=db_labels),
        meta={"label_groups": groups},
    )
    return evaluate_unimodal(q_codes, db_codes, data, _top_k(old, depth), per_query)


def missing_metrics(record: RunRecord, names: Iterable[str]) -> list[str]:
    """The plugin metrics among `names` that a scored run does not store for every task."""
    tasks = [record.metrics[t] for t in scored_tasks(record)]
    return [n for n in names if tasks and any(n not in values for values in tasks)]


def rescore(
    store: ResultStore, record: RunRecord, plugin_metrics: Sequence[PluginMetric] = ()
) -> RunRecord:
    """Recompute a run's scores (the standard set and `plugin_metrics`: (plugin, MetricSpec))
    from its verified stored codes and save it again; returns the new record. Keys neither
    produces (e.g. code counts, metrics of plugins not given) are kept with their per-query
    values."""
    from hashbench.metrics.plugin import score_task
    from hashbench.runner.recompute import PER_QUERY_PREFIX, task_inputs

    arrays = store.load_arrays(record)
    inputs = task_inputs(arrays, record)
    new_arrays = {k: v for k, v in arrays.items() if not k.startswith(PER_QUERY_PREFIX)}
    new_metrics = dict(record.metrics)
    for task in scored_tasks(record):
        per_query: dict[str, np.ndarray] = {}
        old = record.metrics[task]  # old mAP keys all come again (names may have changed)
        values = _score_task(task, old, inputs[task], per_query)
        score_task(plugin_metrics, inputs[task], _depth(old), values, per_query)
        kept = {k: v for k, v in old.items() if k not in values and not k.startswith("map@")}
        new_metrics[task] = {**values, **kept}
        for m in list(per_query) + list(kept):
            name = f"{PER_QUERY_PREFIX}{task}.{m}"
            if m in per_query:
                new_arrays[name] = per_query[m].astype(np.float32)
            elif name in arrays:
                new_arrays[name] = arrays[name]
    new_metrics[SCORING_KEY] = metrics.SCORING
    new = replace(record, metrics=new_metrics)
    store.save(new, new_arrays)
    return new
