"""Recompute metrics of stored runs from their stored codes (no dataset, no model needed).

Every array comes from `ResultStore.load_arrays`, which checks it against the run's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hashbench import metrics
from hashbench.codes import unpack_codes
from hashbench.runner.execute import CROSS_MODAL_TASKS, UNIMODAL_TASK
from hashbench.store import ResultStore, RunRecord
from hashbench.store.records import DERIVED_PREFIX


def stored_task_inputs(
    store: ResultStore, record: RunRecord
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """task -> (query codes, database codes, query labels, database labels), all unpacked."""
    return task_inputs(store.load_arrays(record), record)


def task_inputs(
    arrays: Mapping[str, np.ndarray], record: RunRecord
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """`stored_task_inputs` of arrays already read (and verified) by `ResultStore.load_arrays`."""
    bits, num_labels = (int(v) for v in arrays["shape"])

    def labels(split: str) -> np.ndarray:
        return np.unpackbits(arrays[f"labels.{split}"], axis=1, count=num_labels)

    query_labels, db_labels = labels("query"), labels("retrieval")
    tasks = CROSS_MODAL_TASKS
    if UNIMODAL_TASK in record.metrics:  # one modality: codes.query.<m>, codes.retrieval.<m>
        (modality,) = [k.split(".")[2] for k in arrays if k.startswith("codes.query.")]
        tasks = ((UNIMODAL_TASK, modality, modality),)
    return {
        task: (
            unpack_codes(arrays[f"codes.query.{q_mod}"], bits),
            unpack_codes(arrays[f"codes.retrieval.{db_mod}"], bits),
            query_labels,
            db_labels,
        )
        for task, q_mod, db_mod in tasks
    }


PER_QUERY_PREFIX = DERIVED_PREFIX


def stored_per_query(store: ResultStore, record: RunRecord, metric: str) -> dict[str, np.ndarray]:
    """task -> (n_query,) float32 per-query values of `metric` stored with the run, read
    through the store's checks like every stored array; {} when the run has none for it (stored
    before they were kept, or before they had a checksum of their own)."""
    return _stored(store.load_arrays(record), record, metric)


def _stored(arrays: Mapping[str, np.ndarray], record: RunRecord, metric: str) -> dict:
    wanted = {f"{PER_QUERY_PREFIX}{task}.{metric}": task for task in record.metrics}
    return {wanted[name]: array for name, array in arrays.items() if name in wanted}


def per_query_scores(
    store: ResultStore, record: RunRecord, metric: str, *, recompute_missing: bool = True
) -> dict[str, np.ndarray]:
    """task -> (n_query,) per-query values of `metric` (a scalar metric name) for a stored run.

    Stored values (`perquery.<task>.<metric>` in codes.npz) when present; otherwise, for runs
    stored before they were kept or for a metric outside the standard set, recomputed from the
    stored codes and labels (float32 like the stored ones). {} when missing and not recomputed.
    The codes file is read once, through `ResultStore.load_arrays` (verified).
    """
    arrays = store.load_arrays(record)
    found = _stored(arrays, record, metric)
    tasks = list(record.task_metrics())
    if all(task in found for task in tasks) or not recompute_missing:
        return found
    return {
        task: metrics.compute_per_query(metric, *inputs).astype(np.float32)
        for task, inputs in task_inputs(arrays, record).items()
    }


def recompute(
    store: ResultStore, record: RunRecord, metric: str, **options: Any
) -> dict[str, float | dict]:
    """`metric` (a name of `hashbench.metrics.METRIC_FORMS`) for each task of a stored run."""
    return {
        task: metrics.compute(metric, *inputs, **options)
        for task, inputs in stored_task_inputs(store, record).items()
    }
