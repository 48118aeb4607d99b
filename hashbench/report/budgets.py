"""Which stored runs a `--budget` filter selects, where a method's budget changes nothing.

A method whose budgets resolve to the same parameters (`Method.budget_sensitive()` is False:
lsh, cca-itq) is run once under the canonical budget ("paper") whatever budget is asked, so
its one run serves every budget: `--budget quick` shows it too, and its row names no budget.

Stores written before that rule may hold such a method's run twice, once per budget, with
identical parameters and scores (different ids). `select_budgets` keeps one of them, the
canonical budget's, so a table never counts one seed twice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable
from typing import Any

from hashbench.methods import BUDGETS
from hashbench.report.variants import tuning_setting
from hashbench.store import RunRecord


def budget_free_methods(registry: Any) -> frozenset[str]:
    """Names of the installed methods whose budget changes nothing (a `Registry`)."""
    return frozenset(name for name, cls in registry.methods.items() if not cls.budget_sensitive())


def _setting(record: RunRecord) -> tuple:
    """What makes two runs of one method the same run but for their budget."""
    if record.protocol == "tuned":  # parameters differ by study: how it was tuned decides
        what: Any = tuning_setting(record)
    else:
        what = record.params
    return (
        record.method,
        record.dataset,
        record.dataset_fingerprint,
        record.bits,
        record.seed,
        record.protocol,
        json.dumps(what, sort_keys=True, default=str),
    )


def _order(budget: str) -> int:
    return BUDGETS.index(budget) if budget in BUDGETS else len(BUDGETS)


def select_budgets(
    records: Iterable[RunRecord],
    budgets: Collection[str] | None,
    budget_free: Collection[str],
) -> list[RunRecord]:
    """The runs of `budgets` (None: every budget), a run of a `budget_free` method counting
    for every budget, and of a budget-free method's runs that differ only in their budget the
    canonical one (the first of `BUDGETS` stored), in the order given."""
    records = list(records)
    kept = [r for r in records if budgets is None or r.budget in budgets or r.method in budget_free]
    same: dict[tuple, list[RunRecord]] = defaultdict(list)
    for r in kept:
        if r.method in budget_free:
            same[_setting(r)].append(r)
    dropped = set()
    for group in same.values():
        if len({r.budget for r in group}) > 1:
            first = min(_order(r.budget) for r in group)
            dropped.update(r.run_id for r in group if _order(r.budget) != first)
    return [r for r in kept if r.run_id not in dropped]
