"""What a store says about its merges (`hashbench merge --list`, `hashbench status`): where the
runs brought in by `hashbench merge` came from, which of them came without codes, and the
replicates kept beside them by `--keep both` with their machines and score differences.

A `merged` row describes a run only while the run's row is the one merged (same row digest):
a run redone here later is this store's own again. A store older than schema 5 has no merges.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from hashbench.store.database import ResultStore
from hashbench.store.merge_sources import compare_machines, host_name
from hashbench.store.records import COLUMNS, RunRecord, from_row
from hashbench.store.verify import row_problem


def _has(store: ResultStore, table: str) -> bool:
    return bool(store._query("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)))


@dataclass(frozen=True)
class MergedSource:
    """The runs of this store that one merge source brought (and are still as merged)."""

    source: str
    host: str
    runs: int
    with_codes: int


def merged_sources(store: ResultStore) -> list[MergedSource]:
    if not _has(store, "merged"):
        return []
    rows = store._query(
        "SELECT m.source, m.source_host, COUNT(*), SUM(m.with_codes) FROM merged m "
        "JOIN runs r ON r.run_id = m.run_id AND r.row_digest = m.row_digest "
        "GROUP BY m.source, m.source_host ORDER BY m.source, m.source_host"
    )
    return [MergedSource(s, h, int(n), int(c or 0)) for s, h, n, c in rows]


def without_codes(store: ResultStore) -> list[str]:
    """Ids of finished runs merged without their codes (scores only)."""
    rows = store._query(
        "SELECT run_id FROM runs WHERE status = 'done' AND codes_path = '' ORDER BY run_id"
    )
    return [run_id for (run_id,) in rows]


@dataclass(frozen=True)
class Replicate:
    """A run of the same id from another source, kept beside the store's own by `--keep
    both`: its record (`problem` when its stored row fails its digest), where it came from,
    and the run `runs` holds for that id (None when that row is gone)."""

    record: RunRecord
    source: str
    merged_at: str
    primary: RunRecord | None
    problem: str | None


def replicates(store: ResultStore) -> list[Replicate]:
    if not _has(store, "replicates"):
        return []
    out = []
    rows = store._query("SELECT row, source, merged_at FROM replicates ORDER BY run_id, merged_at")
    for text, source, merged_at in rows:
        values = json.loads(text)
        row = tuple(values.get(c, "") for c in COLUMNS)
        record = from_row(row)
        primary = store._query(
            f"SELECT {store._select} FROM runs WHERE run_id = ?", (record.run_id,)
        )
        out.append(
            Replicate(
                record=record,
                source=source,
                merged_at=merged_at,
                primary=from_row(primary[0]) if primary else None,
                problem=row_problem(row),
            )
        )
    return out


def score_differences(primary: RunRecord, replicate: RunRecord, metric: str) -> str:
    """Each task's `metric` of both runs and the difference (replicate - table run), e.g.
    "i2t 0.5995 vs 0.5911 (-0.0084), t2i ..."."""
    parts = []
    theirs = replicate.task_metrics()
    for task, values in primary.task_metrics().items():
        a, b = values.get(metric), theirs.get(task, {}).get(metric)
        if isinstance(a, int | float) and isinstance(b, int | float):
            parts.append(f"{task} {a:.4f} vs {b:.4f} ({b - a:+.4f})")
    return ", ".join(parts) or f"no {metric} in both"


def list_lines(store: ResultStore, metric: str = "map@50") -> list[str]:
    """What `hashbench merge --list` prints."""
    sources = merged_sources(store)
    if not sources:
        lines = [f"no runs of {store.path} came from `hashbench merge`"]
    else:
        lines = [f"runs merged into {store.path}, by source:"]
        lines += [
            f"  {s.source} ({'host ' + s.host if s.host else 'host not recorded'}): {s.runs} "
            f"run(s), {s.with_codes} with codes"
            for s in sources
        ]
    if gone := without_codes(store):
        lines.append(
            f"{len(gone)} run(s) merged without codes (scores only: tables and "
            "--significance seeds use them; --ci, --significance queries, eval and compare need "
            f"their codes): {', '.join(gone)}"
        )
    found = replicates(store)
    if found:
        lines.append(
            f"replicates ({len(found)}): other machines' runs of a run id, kept by --keep both "
            f"beside the run in the table (never a seed of a table or statistic); {metric}, "
            "table run vs replicate:"
        )
    for rep in found:
        ours, theirs = rep.primary, rep.record
        head = f"  run {theirs.run_id} ({theirs.method} {theirs.dataset} {theirs.bits} bits "
        head += f"seed {theirs.seed}) from {rep.source} ({host_name(theirs.provenance)})"
        if rep.problem:
            lines.append(f"{head}: its stored row was changed after the merge ({rep.problem})")
        elif ours is None:
            lines.append(f"{head}: the store no longer holds a run of this id")
        else:
            machines = compare_machines(ours.provenance, theirs.provenance).text()
            lines.append(
                f"{head} vs {host_name(ours.provenance)}: {machines}; "
                f"{score_differences(ours, theirs, metric)}"
            )
    return lines


def status_lines(store: ResultStore) -> list[str]:
    """The lines `hashbench status` adds about merges (none when nothing was merged)."""
    sources, gone = merged_sources(store), without_codes(store)
    count = len(replicates(store))
    if not (sources or gone or count):
        return []
    merged = sum(s.runs for s in sources)
    text = f"\nmerged: {merged} run(s) from {len(sources)} source(s)"
    if gone:
        text += f", {len(gone)} without codes (scores only: no intervals or query-level tests)"
    if count:
        text += f"; {count} replicate(s) from other machines (not in tables)"
    return [text + "; `hashbench merge --list` shows them"]


def codes_missing_warning(gone: list[str], records: Iterable[RunRecord]) -> str:
    """The warning of a table or report whose cells lack the per-query values of the runs
    `gone`: codes deleted (`hashbench run` redoes them), or merged without codes."""
    merged = {r.run_id for r in records if r.run_id in set(gone) and not r.codes_path}
    deleted = [run_id for run_id in gone if run_id not in merged]
    effect = "their cells show n/a instead of an interval and their columns no test marks"
    parts = []
    if deleted:
        parts.append(
            f"the codes of {len(deleted)} run(s) are missing ({', '.join(deleted)}); {effect}. "
            "`hashbench status` lists them; `hashbench run` redoes them"
        )
    if merged:
        parts.append(
            f"{len(merged)} run(s) were merged without their codes ({', '.join(sorted(merged))}):"
            f" scores only, so {effect} (--significance seeds uses their scores); merge them "
            "again from an export written with --with-codes to get intervals"
        )
    return "warning: " + "; ".join(parts)
