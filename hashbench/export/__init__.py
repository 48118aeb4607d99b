"""Results that travel: `hashbench export` writes a store's runs as files others can read.

An export folder holds `manifest.json`, `runs/<run_id>.json` (one run each, schema
`schema/run-v1.schema.json`), with `--with-codes` `codes/<run_id>.npz`, and `results.parquet`
(one row per run x task x metric). `document.py` builds and checks a run's document,
`runs_json.py` and `parquet_table.py` write the two formats, `folder.py` makes the folder
appear whole or not at all, `core.py` selects the runs, `reader.py` reads a folder back
(`iter_exported`, used by `hashbench merge`). docs/export.md describes the files.
"""

from hashbench.export.core import ExportFilters, ExportOptions, ExportSummary, export_store
from hashbench.export.document import EXPORT_SCHEMA_VERSION, load_schema
from hashbench.export.reader import ExportedRun, iter_exported

__all__ = [
    "EXPORT_SCHEMA_VERSION",
    "ExportFilters",
    "ExportOptions",
    "ExportSummary",
    "ExportedRun",
    "export_store",
    "iter_exported",
    "load_schema",
]
