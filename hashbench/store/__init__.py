"""The results store: the SQLite database of runs and the codes stored beside it.

`database.py` holds `ResultStore` (open, write atomically, read), `records.py` the run record,
the schema and the digests, `verify.py` the checks of what is read back (rows, codes),
`files.py` the codes folder a store owns and the atomic write of codes, `integrity.py` what
`hashbench status` checks (missing codes, changed rows, orphans), `claims.py` the per-run
claims that let several processes share one store; `merge.py` brings other stores' runs in
(`merge_sources.py` reads the sources, `merge_plan.py` decides, `merge_write.py` writes,
`merge_log.py` says what was merged).
"""

from hashbench.store.claims import ClaimOwner
from hashbench.store.database import (
    DEFAULT_STORE,
    STORE_ENV,
    MissingCodesError,
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
    "MissingCodesError",
    "ResultStore",
    "RunRecord",
    "_SCHEMA",
    "codes_digest",
    "default_store_path",
]
