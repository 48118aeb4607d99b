"""The table side of an export: `results.parquet`, one row per run x task x metric (scalar
scores only), with the run's metadata as a JSON string column, for pandas and polars users.

Values are the stored scores as float64, non-finite ones included (as NaN / inf), so that
a mean over seeds of this table is the mean `hashbench table` shows. The file's key-value
metadata carries the export schema version and the hashbench version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hashbench import __version__
from hashbench.export.document import EXPORT_SCHEMA_VERSION, TOP_COLUMNS, is_score, nulled
from hashbench.store.records import RunRecord

PARQUET_FILE = "results.parquet"
# Run metadata in the `run` column: the record's columns shown at the top of an exported JSON
# (all but its metrics, error and codes path).
RUN_FIELDS = TOP_COLUMNS
METADATA_KEYS = {
    "schema_version": b"hashbench.export.schema_version",
    "hashbench_version": b"hashbench.version",
}


def score_rows(record: RunRecord) -> list[tuple[str, str, float]]:
    """(task, metric, value) of every scalar score of a run, in stored order."""
    return [
        (task, metric, float(value))
        for task, values in record.task_metrics().items()
        for metric, value in values.items()
        if is_score(value)
    ]


def run_json(record: RunRecord) -> str:
    """The `run` column: the run's metadata as JSON (non-finite numbers as JSON allows: null)."""
    meta: dict[str, Any] = {field: getattr(record, field) for field in RUN_FIELDS}
    return json.dumps(nulled(meta), sort_keys=True, allow_nan=False)


def write_table(
    staging: Path, records: Iterable[RunRecord], labels: Mapping[str, str] | None = None
) -> str:
    """Write `results.parquet` under `staging`; the file name written. `labels`: each run's
    row label in `hashbench table` (`variants.variant_labels`), the `setting` column: runs of
    one method with other parameters, budget or protocol are other settings, never averaged."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, list] = {
        name: []
        for name in (
            "run_id",
            "method",
            "setting",
            "dataset",
            "bits",
            "seed",
            "budget",
            "protocol",
            "task",
            "metric",
            "value",
            "run",
        )
    }
    for record in records:
        meta = run_json(record)
        for task, metric, value in score_rows(record):
            for name in ("run_id", "method", "dataset", "bits", "seed", "budget", "protocol"):
                columns[name].append(getattr(record, name))
            columns["setting"].append((labels or {}).get(record.run_id, record.method))
            columns["task"].append(task)
            columns["metric"].append(metric)
            columns["value"].append(value)
            columns["run"].append(meta)
    schema = pa.schema(
        [
            ("run_id", pa.string()),
            ("method", pa.string()),
            ("setting", pa.string()),
            ("dataset", pa.string()),
            ("bits", pa.int64()),
            ("seed", pa.int64()),
            ("budget", pa.string()),
            ("protocol", pa.string()),
            ("task", pa.string()),
            ("metric", pa.string()),
            ("value", pa.float64()),
            ("run", pa.string()),
        ],
        metadata={
            METADATA_KEYS["schema_version"]: str(EXPORT_SCHEMA_VERSION).encode(),
            METADATA_KEYS["hashbench_version"]: __version__.encode(),
        },
    )
    table = pa.Table.from_pydict(columns, schema=schema)
    pq.write_table(table, staging / PARQUET_FILE)
    return PARQUET_FILE
