"""The results store: the SQLite database of runs and the codes stored beside it.

`database.py` holds `ResultStore` (open, write atomically, read, verify stored codes),
`records.py` the run record and the schema, `claims.py` the per-run claims that let several
processes share one store.
"""

from hashbench.store.claims import ClaimOwner
from hashbench.store.database import (
    DEFAULT_STORE,
    STORE_ENV,
    ResultStore,
    default_store_path,
)
from hashbench.store.records import (
    _SCHEMA,
    COLUMNS,
    PROTOCOLS,
    SCHEMA_VERSION,
    RunRecord,
    codes_digest,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_STORE",
    "PROTOCOLS",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "ClaimOwner",
    "ResultStore",
    "RunRecord",
    "_SCHEMA",
    "codes_digest",
    "default_store_path",
]
