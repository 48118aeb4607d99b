"""Checks of what is read back from a results store: a row against its row digest, a codes file
against the checksums recorded in the run's row. Every read of stored codes or per-query values
goes through `ResultStore.load_arrays`, which applies `codes_problem`; every read of rows
through `ResultStore.records` / `get`, which apply `row_problem`.

What an older row lacks is accepted as it is: a row stored before row digests (schema 4) has no
`row_digest`, and its metrics are shown as stored; a row stored before codes checksums
(schema 3) has its codes checked for the run's code length only; a row whose codes digest has
no `derived` checksum (before schema 4) has its stored per-query values dropped on read, so
they are recomputed from its verified codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hashbench.store.records import COLUMNS, arrays_sha256, codes_digest, digested, row_digest

RERUN_HINT = "Rerun it with `hashbench run ... --rerun`"


def missing_codes_text(record: Any, path: Path) -> str:
    """Why a finished run's codes cannot be read: deleted, or merged without them."""
    if not record.codes_path:
        return (
            f"run {record.run_id} was merged without its codes (scores only: no per-query "
            "values, intervals or recomputed metrics); merge it again from an export written "
            "with --with-codes, or redo it here with `hashbench run ... --rerun`"
        )
    return (
        f"the codes of run {record.run_id} are missing ({path} does not exist). "
        "`hashbench run` with the run's options redoes it (`hashbench status` lists it)"
    )


def row_problem(row: tuple) -> str | None:
    """Why a stored row (as read, columns in COLUMNS order) is not as it was written, or None
    (also for a row stored before row digests)."""
    values = dict(zip(COLUMNS, row, strict=True))
    expected = values.get("row_digest") or ""
    if not expected:
        return None
    if row_digest(values) != expected:
        return "its stored values differ from the digest recorded when it was stored"
    return None


def codes_problem(
    record: Any, arrays: Mapping[str, np.ndarray]
) -> tuple[str | None, dict[str, np.ndarray]]:
    """(why `arrays` are not the ones stored with `record` or None, the arrays to use).

    Per-query values without a checksum of their own (rows stored before it) are left out of
    the arrays to use: they are recomputed from the verified codes instead.
    """
    expected = record.codes_digest
    derived = sorted(name for name in arrays if not digested(name))
    if not expected:
        return _width_problem(record, arrays), {n: a for n, a in arrays.items() if digested(n)}
    actual = codes_digest(arrays, record.bits)
    if actual["shapes"] != expected.get("shapes"):
        return (
            f"array shapes {actual['shapes']} differ from the recorded {expected['shapes']}",
            {},
        )
    if actual["sha256"] != expected.get("sha256"):
        return "its checksum differs from the one recorded when the run was stored", {}
    if "derived" not in expected:  # stored before per-query values had a checksum
        return None, {n: a for n, a in arrays.items() if digested(n)}
    if derived and arrays_sha256(arrays, derived) != expected["derived"]:
        return (
            "its per-query values differ from the checksum recorded when the run was stored",
            {},
        )
    return None, dict(arrays)


def _width_problem(record: Any, arrays: Mapping[str, np.ndarray]) -> str | None:
    """A row without checksums (schema < 3): the codes must at least have the run's length."""
    width = (record.bits + 7) // 8
    for name, array in arrays.items():
        if name.startswith("codes.") and (array.ndim != 2 or array.shape[1] != width):
            return f"{name} has shape {array.shape}, not (items, {width}) for {record.bits} bits"
    shape = arrays.get("shape")
    if shape is not None and int(shape[0]) != record.bits:
        return f"it holds {int(shape[0])}-bit codes; the run has {record.bits} bits"
    return None
