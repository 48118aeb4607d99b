"""Writing a planned merge (`merge_plan.py` decides what to write): every codes file is copied
first under a temporary name in the target's codes folder, then the rows (`runs`), where they
came from (`merged`) and the replicates are written and the copies renamed into place in one
transaction. A failure rolls the transaction back and removes the copies; a crash leaves only
copies no row refers to (orphans, removed by `hashbench status --prune`). The target's rows
the plan read are checked again inside the transaction, so a run another process wrote
meanwhile is never overwritten by a stale decision.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hashbench.errors import StoreError
from hashbench.store import files
from hashbench.store.database import ResultStore
from hashbench.store.records import RunRecord, row_digest, to_row

if TYPE_CHECKING:
    from hashbench.store.merge_plan import Action, MergePlan


@dataclass
class _Staged:
    action: Action
    tmp: Path
    final: Path
    placed: bool = False


def _free_name(folder: Path, action: Action, taken: set[str]) -> str:
    """A codes folder name under `folder` that nothing uses: the run id, else the run id and
    its codes checksum (a replaced run whose old codes are still there). Never the bare run id
    for a replicate: `hashbench run --rerun` replaces `<run id>/`."""
    run_id, sha = action.run.record.run_id, action.run.codes_sha() or "nocodes"
    names = [f"{run_id}.{sha[:12]}"] if action.kind == "replicate" else [run_id]
    names += [f"{run_id}.{sha[:12]}", *(f"{run_id}.{sha[:12]}.{n}" for n in range(2, 100))]
    for name in names:
        if name not in taken and not (folder / name).exists():
            taken.add(name)
            return name
    raise StoreError(f"no free codes folder for run {run_id} under {folder}")


def apply_merge(plan: MergePlan) -> None:
    """Write the plan (module docstring). Refused plans (conflicts) are never written."""
    if plan.conflicts:
        raise StoreError(f"a merge with conflicts is never written to {plan.target}")
    actions = [*plan.rows.values(), *plan.replicates]
    if not actions:
        return
    staged: list[_Staged] = []
    with ResultStore(plan.target) as store, ExitStack() as undo:
        folder = store.claim_codes_folder()
        undo.callback(_unstage, staged)
        taken: set[str] = set()
        try:
            for action in actions:
                if not (action.run.done and action.run.has_codes):
                    continue
                tmp = Path(tempfile.mkdtemp(prefix=f".{action.run.record.run_id}.", dir=folder))
                staged.append(_Staged(action, tmp, tmp))
                action.run.write(tmp / files.CODES_FILE)
                staged[-1].final = folder / _free_name(folder, action, taken)
        except OSError as exc:
            raise StoreError(
                f"cannot copy codes into {folder}: {exc.strerror or exc}; nothing was merged"
            ) from exc
        codes_of = {
            id(s.action): f"{folder.name}/{s.final.name}/{files.CODES_FILE}" for s in staged
        }
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            with store._transaction():
                _check_unchanged(store, plan)
                for action in actions:
                    _write(store, action, codes_of.get(id(action), ""), now)
                for item in staged:
                    item.placed = True  # before: a rename that lands and then raises counts
                    os.replace(item.tmp, item.final)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot merge into {plan.target}: {exc}; nothing was merged") from exc
        staged.clear()  # committed: keep the codes
        _remove_replaced(store, plan, folder)


def _unstage(staged: list[_Staged]) -> None:
    """Remove the copies of a merge that did not commit (placed ones from their place: the
    name was free when chosen, so what is there is the copy)."""
    for item in staged:
        if item.tmp.exists():
            shutil.rmtree(item.tmp, ignore_errors=True)
        elif item.placed:
            shutil.rmtree(item.final, ignore_errors=True)


def _check_unchanged(store: ResultStore, plan: MergePlan) -> None:
    """Refuse (roll back) when the target's rows the plan read changed since (another
    process wrote to it meanwhile)."""
    for run_id, before in plan.before.items():
        now = store._conn.execute(
            "SELECT status, row_digest FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if (tuple(now) if now else None) != before:
            raise StoreError(
                f"run {run_id} in {plan.target} changed while merging (another process wrote "
                "it); nothing was merged: run the merge again"
            )


def _write(store: ResultStore, action: Action, codes_path: str, now: str) -> None:
    record = RunRecord(**{**action.run.record.__dict__, "codes_path": codes_path})
    record.row_digest = ""
    row = to_row(record)
    row["row_digest"] = record.row_digest = row_digest(row)
    if action.run.record.created_at:
        row["created_at"] = action.run.record.created_at
    host = str((record.provenance.get("host") or {}).get("hostname") or "")
    source = str(Path(action.run.source).resolve())
    conn = store._conn
    if action.kind == "replicate":
        conn.execute(
            "INSERT OR REPLACE INTO replicates (run_id, codes_sha256, codes_path, row, source, "
            "source_host, merged_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (record.run_id, action.run.codes_sha() or "", codes_path,
             json.dumps(row, sort_keys=True), source, host, now),
        )  # fmt: skip
        return
    conn.execute(
        f"INSERT OR REPLACE INTO runs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
        tuple(row.values()),
    )
    conn.execute(
        "INSERT OR REPLACE INTO merged (run_id, source, source_host, merged_at, with_codes, "
        "choice, row_digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (record.run_id, source, host, now, int(bool(codes_path)), action.choice, row["row_digest"]),
    )


def _remove_replaced(store: ResultStore, plan: MergePlan, folder: Path) -> None:
    """Remove the codes of rows the merge replaced, when they are in the target's own codes
    folder and nothing refers to them any more (best effort: a leftover is an orphan that
    `hashbench status --prune` removes)."""
    used = {path for (path,) in store._query("SELECT codes_path FROM runs")}
    used |= {path for (path,) in store._query("SELECT codes_path FROM replicates")}
    for action in plan.rows.values():
        old = action.old_codes
        if old and old not in used and Path(old).parent.parent.name == folder.name:
            shutil.rmtree(store.path.parent / Path(old).parent, ignore_errors=True)
