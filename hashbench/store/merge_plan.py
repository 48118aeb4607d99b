"""Planning a merge (`merge.py` has the rules): read every source, decide every run id against
the target as it stands (and the sources before it), collect the conflicts. Nothing is
written here; `merge_write.py` writes a plan without conflicts.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hashbench.errors import InputError, StoreError
from hashbench.store.database import ResultStore
from hashbench.store.merge_sources import (
    IncomingRun,
    compare_machines,
    environment_difference,
    host_name,
    read_source,
)
from hashbench.store.records import RunRecord
from hashbench.store.verify import row_problem

KEEP_CHOICES = ("target", "source", "both")


def describe(record: RunRecord) -> str:
    """A run in words: "lsh synth-mirflickr 16 bits seed 0, quick budget" (and its protocol
    when it is not the default one)."""
    text = f"{record.method} {record.dataset} {record.bits} bits seed {record.seed}"
    text += f", {record.budget} budget"
    return text + (f", {record.protocol}" if record.protocol != "default" else "")


@dataclass
class Held:
    """A run id as the target stands during planning: its record, where it is from (the
    target's path or a source's), whether it has codes, and its codes checksum."""

    record: RunRecord
    origin: str
    has_codes: bool
    sha: str | None
    in_target: bool
    problem: str | None = None  # a target row that fails its row digest


@dataclass(frozen=True)
class Conflict:
    """Two runs of one run id that differ (codes, or scores with the same codes)."""

    held: Held
    incoming: IncomingRun
    codes_differ: bool

    def line(self) -> str:
        ours, theirs = self.held.record, self.incoming.record
        machines = compare_machines(ours.provenance, theirs.provenance)
        what = "codes differ" if self.codes_differ else "scores differ with the same codes"
        text = (
            f"run {ours.run_id} ({describe(ours)}): {what} between {self.held.origin} "
            f"({host_name(ours.provenance)}) and {self.incoming.source} "
            f"({host_name(theirs.provenance)}): {machines.text()}"
        )
        if not self.codes_differ:
            text += ", stored under different scoring? (`hashbench rescore`)"
        elif machines.same is False:
            text += ", expected for deep methods (not bit-identical across machines)"
        elif machines.same:
            changed = environment_difference(ours.provenance, theirs.provenance)
            text += f", not expected ({'differs: ' + changed if changed else 'same software'})"
        return text + "; choose --keep target|source|both"


@dataclass
class Action:
    """One write: `kind` "add" (new run id), "replace" (the target's row is replaced: a failed
    run, a conflict with --keep source, codes for a run held without them) or "replicate"."""

    kind: str
    run: IncomingRun
    choice: str = ""  # the --keep that decided it ("" without a conflict)
    old_codes: str = ""  # the replaced row's codes path (removed after the merge)


@dataclass
class MergePlan:
    """What a merge does: the row writes (one per run id), the replicates, what is skipped."""

    target: Path
    rows: dict[str, Action] = field(default_factory=dict)
    replicates: list[Action] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    before: dict[str, tuple[str, str] | None] = field(default_factory=dict)  # target rows read

    def summary(self) -> dict[str, int]:
        """Counts by outcome: added, replaced, replicates, skipped (same codes and scores),
        kept (conflicts decided for the target), failed_kept (failed runs the target has)."""
        kinds = Counter(a.kind for a in self.rows.values())
        without = sum(1 for a in self.rows.values() if a.run.done and not a.run.has_codes)
        return {
            "added": kinds["add"],
            "replaced": kinds["replace"],
            "replicates": len(self.replicates),
            "without_codes": without,
            **self.counts,
        }


def _target_state(target: Path) -> tuple[dict[str, Held], set[tuple[str, str]]]:
    """The target's runs (as Held) and its replicates' (run id, codes checksum)."""
    if not target.exists():
        return {}, set()
    with ResultStore(target, readonly=True) as store:
        held = {}
        for row in store._query(f"SELECT {store._select} FROM runs"):
            record = store._from_row(row)
            has = bool(record.codes_path) and store.codes_present(record.codes_path)
            sha = record.codes_digest.get("sha256")
            held[record.run_id] = Held(record, str(target), has, sha, True, row_problem(row))
        replicas = set()
        if store._query("SELECT 1 FROM sqlite_master WHERE name = 'replicates'"):
            replicas = set(store._query("SELECT run_id, codes_sha256 FROM replicates"))
    return held, replicas


def plan_merge(
    sources: list[Path], target: Path, keep: str | None, stores: list[ResultStore]
) -> MergePlan:
    """Read every source and decide every run (nothing is written). Store sources stay open in
    `stores` (the caller closes them) until the plan is applied."""
    if keep not in (None, *KEEP_CHOICES):
        raise InputError(f"--keep must be one of {', '.join(KEEP_CHOICES)}, not {keep!r}")
    state, replicas = _target_state(target)
    plan = MergePlan(target=target)
    incoming = [run for source in sources for run in read_source(source, target, stores)]
    for run in incoming:
        _decide(plan, state, replicas, run, keep)
    if plan.conflicts:
        return plan  # refused: nothing more to check
    for action in [*plan.rows.values(), *plan.replicates]:
        action.run.check()  # refuse foreign or damaged codes before anything is written
    return plan


def _decide(
    plan: MergePlan,
    state: dict[str, Held],
    replicas: set[tuple[str, str]],
    run: IncomingRun,
    keep: str | None,
) -> None:
    run_id = run.record.run_id
    held = state.get(run_id)
    if run_id not in plan.before:  # the target's row as read: checked again when writing
        if held is not None and held.problem:
            raise StoreError(
                f"run {run_id} in the target {plan.target} was changed after it was stored "
                f"({held.problem}); repair the target first (`hashbench status --store "
                f"{plan.target}`)"
            )
        plan.before[run_id] = (held.record.status, held.record.row_digest) if held else None

    def take(kind: str, choice: str = "") -> None:
        old = plan.rows.get(run_id)
        if old is not None:  # a pending write of an earlier source: this one instead
            kind, old_codes = old.kind, old.old_codes
        else:
            old_codes = held.record.codes_path if held is not None and held.in_target else ""
        plan.rows[run_id] = Action(kind, run, choice, old_codes)
        state[run_id] = Held(run.record, run.source, run.has_codes, run.codes_sha(), False)

    if held is None:
        return take("add")
    if not run.done:
        plan.counts["failed_kept"] += 1  # a failed run never replaces anything
        return None
    if held.record.status != "done":
        return take("replace")  # a done run replaces a failed one
    sha = run.codes_sha()
    same_codes = sha == held.sha if sha and held.sha else True
    if same_codes and _scores(run.record) == _scores(held.record):
        if run.has_codes and not held.has_codes:
            return take("replace")  # the target held it without codes: take them
        plan.counts["skipped"] += 1
        return None
    if sha and (run_id, sha) in replicas:
        plan.counts["skipped"] += 1  # kept as a replicate by an earlier merge
        return None
    if keep is None:
        plan.conflicts.append(Conflict(held, run, codes_differ=not same_codes))
    elif keep == "target":
        plan.counts["kept"] += 1
    elif keep == "source":
        return take("replace", "source")
    else:
        plan.replicates.append(Action("replicate", run, "both"))
        replicas.add((run_id, sha or ""))
    return None


def _scores(record: RunRecord) -> str:
    """A run's stored metrics as stored (JSON text: a NaN equals a NaN)."""
    return json.dumps(record.metrics, sort_keys=True)


def refusal(plan: MergePlan) -> str:
    """The message of a merge refused for its conflicts: one line per conflict."""
    lines = [conflict.line() for conflict in plan.conflicts]
    head = f"merge refused, nothing was written to {plan.target}:"
    if len(lines) == 1:
        return f"{head} {lines[0]}"
    return "\n".join([f"{head} {len(lines)} run ids differ between sides:", *lines])
