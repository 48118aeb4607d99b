"""`hashbench merge`: bring the runs of other stores (or export folders) into one store.

Rules, per run id (sources are taken in the order given, each against the target as it stands
after the ones before; "target" below is that state):

- not in the target: added (a failed run too, as failed);
- in the target, same codes checksum and same scores: skipped (a run the target holds without
  its codes gets them, when the source has them);
- a done run replaces a failed one; a failed run never replaces anything;
- in the target with other codes, or the same codes and other scores: a conflict. Without
  `keep` the whole merge is refused before anything is written, one line per conflict naming
  both sides and whether they ran on the same machine (`merge_sources.compare_machines`).
  `keep="target"` keeps what the target has, `"source"` takes the source's run, `"both"` keeps
  the target's run in `runs` and the source's as a replicate (the `replicates` table: never a
  seed of any table or statistic; `hashbench merge --list` shows them).

Nothing is half-merged: `merge_write.py` copies the codes first, then writes the rows and
renames the copies into place in one transaction (a crash leaves only orphaned copies).
Where each run came from goes to the `merged` table, so the run's row (and its digest) is the
source's: only `codes_path` (where the target keeps the codes) and its row digest change.
Merging the same sources again changes nothing.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from hashbench.errors import InputError, StoreError
from hashbench.store.database import ResultStore
from hashbench.store.merge_plan import KEEP_CHOICES, MergePlan, plan_merge, refusal
from hashbench.store.merge_write import apply_merge

__all__ = ["KEEP_CHOICES", "MergePlan", "apply_merge", "merge", "plan_merge"]


def merge(
    sources: list[Path], target: Path, keep: str | None = None, *, dry_run: bool = False
) -> MergePlan:
    """Plan the merge of `sources` into `target` and (unless `dry_run`) apply it; refused with
    every conflict when there is one and `keep` is None (the target untouched)."""
    if not sources:
        raise InputError("name at least one SOURCE (a results store or an export folder)")
    with ExitStack() as stack:
        stores: list[ResultStore] = []
        stack.callback(lambda: [s.close() for s in stores])
        plan = plan_merge(sources, target, keep, stores)
        if plan.conflicts:
            raise StoreError(refusal(plan))
        if not dry_run:
            apply_merge(plan)
    return plan
