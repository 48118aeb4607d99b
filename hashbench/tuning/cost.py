"""What tuning cost, from stored records only: trial and refit run times, trials by state.

`hashbench tune` prints it per study, `hashbench status` and `tune --show` per stored study
(`hashbench.tuning.report`), and tables and the report per method over the tuned rows they show
(`cost_footnote`). Times are the runs' stored `timings["total_s"]`, wall-clock on whatever
machine ran each run; a failed run's is the time until it failed (failed runs stored before
that have none and count 0 s). No optuna here: the report imports
this module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hashbench.store import RunRecord


def seconds(record: RunRecord) -> float | None:
    """A stored run's wall time (`timings["total_s"]`), None when it stored none."""
    value = record.timings.get("total_s")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def duration(value: float | None) -> str:
    """Seconds as people read them: 12.3 s, 41 min, 2.1 h; "-" for unknown."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f} s"
    return f"{value / 60:.0f} min" if value < 3600 else f"{value / 3600:.1f} h"


def trial_counts(states: dict[str, int]) -> str:
    """ "12 trials (3 pruned, 1 failed)" from trials per state."""
    total = sum(states.values())
    extra = [f"{states[s]} {s}" for s in ("pruned", "failed") if states.get(s)]
    return f"{total} trial{'' if total == 1 else 's'}" + (f" ({', '.join(extra)})" if extra else "")


@dataclass
class MethodCost:
    """What tuning one method cost over some tuned runs: its studies' trials and run time."""

    method: str
    studies: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> longest `tuning`
    refits: int = 0
    refit_seconds: float = 0.0

    @property
    def states(self) -> dict[str, int]:
        return {
            state: sum(t.get(f"trials_{state}", 0) for t in self.studies.values())
            for state in ("complete", "pruned", "failed")
        }

    @property
    def trial_seconds(self) -> float | None:
        """Summed trial time, None when a study was stored before trial times were recorded."""
        times = [t.get("trial_seconds") for t in self.studies.values()]
        return None if any(x is None for x in times) else float(sum(times))


def tuning_costs(records: Iterable[RunRecord]) -> list[MethodCost]:
    """Per method, over the tuned runs among `records`: its distinct studies (a study shared
    by several seeds' tuned runs counts once, at its longest) and every refit."""
    costs: dict[str, MethodCost] = {}
    for record in records:
        if record.protocol != "tuned":
            continue
        cost = costs.setdefault(record.method, MethodCost(record.method))
        t = record.tuning
        known = cost.studies.get(t["study"])
        if known is None or t["trials"] > known["trials"]:
            cost.studies[t["study"]] = t
        cost.refits += 1
        cost.refit_seconds += seconds(record) or 0.0
    return sorted(costs.values(), key=lambda c: c.method)


def cost_footnote(records: Iterable[RunRecord]) -> str:
    """ "tuning cost (...): cca-itq 1 study, 20 trials (6 pruned), 41 min of trials + 2 min
    refit; ..." over the tuned runs among `records`."""
    parts = []
    for cost in tuning_costs(records):
        n = len(cost.studies)
        trials = trial_counts(cost.states)
        spent = cost.trial_seconds
        time_text = "trial time not recorded" if spent is None else f"{duration(spent)} of trials"
        refit = "refit" if cost.refits == 1 else f"of {cost.refits} refits"
        parts.append(
            f"{cost.method} {n} {'study' if n == 1 else 'studies'}, {trials}, "
            f"{time_text} + {duration(cost.refit_seconds)} {refit}"
        )
    return (
        "tuning cost (stored run times, on the machines that ran them; a failed trial's up to "
        "its failure): " + "; ".join(parts)
    )
