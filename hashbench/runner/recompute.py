"""Recompute metrics of stored runs from their stored codes (no dataset, no model needed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hashbench import metrics
from hashbench.codes import unpack_codes
from hashbench.runner.execute import CROSS_MODAL_TASKS, UNIMODAL_TASK
from hashbench.store import ResultStore, RunRecord


def stored_task_inputs(
    store: ResultStore, record: RunRecord
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """task -> (query codes, database codes, query labels, database labels), all unpacked."""
    arrays = store.load_arrays(record)
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


def recompute(
    store: ResultStore, record: RunRecord, metric: str, **options: Any
) -> dict[str, float | dict]:
    """`metric` (a name of `hashbench.metrics.METRIC_FORMS`) for each task of a stored run."""
    return {
        task: metrics.compute(metric, *inputs, **options)
        for task, inputs in stored_task_inputs(store, record).items()
    }
