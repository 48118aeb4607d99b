"""How much of a published number is protocol: each as-released result beside its fair one.

An as-released run (`hashbench run --protocol as-released`) keeps the model its method's
released code keeps (often the best of several evaluations on the test queries); its fair
counterpart is the run of protocol "default" with the same method, dataset, code length,
budget, parameters and seed, whose model is the one training ends with. Per method setting and
cell (dataset, bits, task, metric) the view pairs the two by seed and shows both means over
the paired seeds and their difference, as released minus fair (signed: a released selection
that gains nothing shows 0 or less), with the epoch each as-released run kept of those it
trained. `hashbench table --inflation` renders it (`inflation_formats`).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hashbench.errors import InputError
from hashbench.report.released import selection_words
from hashbench.report.variants import AS_RELEASED, RELEASED_SELECTION
from hashbench.store import RunRecord

_TASK_ORDER = {"i2t": 0, "t2i": 1, "unimodal": 2}


@dataclass(frozen=True)
class InflationRow:
    """One method setting in one cell: means over the seeds both protocols ran."""

    label: str  # the fair row's label in `hashbench table` (method and setting)
    method: str
    dataset: str
    bits: int
    task: str
    released: float  # as-released mean over `seeds`
    fair: float  # fair (protocol default) mean over the same seeds
    seeds: tuple[int, ...]
    kept: tuple[int | None, ...]  # per seed: the epoch the as-released run kept
    epochs: tuple[int | None, ...]  # per seed: the epochs it trained
    stopped_early: bool = False
    selection: str = ""  # how the released code selects, in words

    @property
    def difference(self) -> float:
        return self.released - self.fair

    @property
    def relative(self) -> float | None:
        """The difference as a share of the fair value (None when that is 0)."""
        return self.difference / self.fair if self.fair else None

    def kept_text(self) -> str:
        """ "40 of 300", or per seed "40, 120 of 300" (seed order), "?" where not stored."""
        kept = ", ".join("?" if k is None else str(k) for k in self.kept)
        totals = sorted({"?" if e is None else str(e) for e in self.epochs})
        early = " (stopped early)" if self.stopped_early else ""
        return f"{kept} of {'/'.join(totals)}{early}"


@dataclass(frozen=True)
class Inflation:
    metric: str
    rows: tuple[InflationRow, ...]
    skipped: tuple[str, ...] = ()  # as-released runs without a fair counterpart
    selections: Mapping[str, str] = field(default_factory=dict)  # method -> how it selects

    def notes(self) -> list[str]:
        seeds = sorted({len(r.seeds) for r in self.rows})
        out = [
            "Difference: the as-released mean minus the fair mean (protocol default, the model "
            "training ends with, of the same method, budget and parameters), both over the seeds "
            "the two ran (paired by seed; "
            + " or ".join(map(str, seeds))
            + " seed(s) per cell). Positive: the released selection flatters the method by "
            "that much.",
            "Kept: the epoch whose model each as-released run kept (per seed), of the epochs "
            "it trained.",
        ]
        out += [f"{m}: {words}." for m, words in sorted(self.selections.items())]
        if self.skipped:
            out.append(
                f"Left out, no fair run with the same method, budget, parameters and seed: "
                f"{'; '.join(self.skipped)}."
            )
        return out


def _setting(record: RunRecord) -> tuple:
    """What must match between an as-released run and its fair counterpart."""
    params = json.dumps(record.params, sort_keys=True, default=str)
    return (record.method, record.dataset, record.bits, record.budget, params, record.seed)


def _describe(record: RunRecord) -> str:
    return (
        f"{record.method} on {record.dataset}, {record.bits} bits, {record.budget} budget, "
        f"seed {record.seed}"
    )


def _task_values(record: RunRecord, metric: str) -> dict[str, float]:
    return {
        task: float(values[metric])
        for task, values in record.task_metrics().items()
        if isinstance(values.get(metric), int | float)
    }


def build_inflation(
    records: Iterable[RunRecord], metric: str, labels: Mapping[str, str] | None = None
) -> Inflation:
    """Pair every as-released run among `records` with its fair run; see the module docstring.

    labels: the fair runs' row labels (`variant_labels`, as the table shows them); default: the
    method name. InputError when there is no as-released run, when none has a fair
    counterpart, or when `metric` is stored with none of the pairs.
    """
    records = list(records)
    released = [r for r in records if r.protocol == AS_RELEASED]
    if not released:
        raise InputError(
            "no as-released runs among these runs: run `hashbench run --protocol as-released "
            "...` first"
        )
    fair = {_setting(r): r for r in records if r.protocol == "default"}
    pairs: dict[tuple[str, str, str, int], list[tuple[RunRecord, RunRecord]]] = defaultdict(list)
    skipped, selections = [], {}
    for record in sorted(released, key=_setting):
        match = fair.get(_setting(record))
        if match is None:
            skipped.append(_describe(record))
            continue
        label = labels[match.run_id] if labels else match.method
        pairs[(label, record.method, record.dataset, record.bits)].append((record, match))
        selection = record.metrics.get(RELEASED_SELECTION)
        if isinstance(selection, Mapping):
            selections[record.method] = selection_words(selection)
    if not pairs:
        raise InputError(
            "no as-released run has a fair counterpart (protocol default, same method, budget, "
            f"parameters and seed): {'; '.join(skipped)}. Run them without --protocol first"
        )
    rows = []
    for (label, method, dataset, bits), group in sorted(pairs.items()):
        rows += _rows(label, method, dataset, bits, group, metric)
    if not rows:
        raise InputError(
            f"--metric '{metric}' is stored with none of the as-released runs and their fair "
            "counterparts"
        )
    rows.sort(key=lambda r: (r.label, r.dataset, r.bits, _TASK_ORDER.get(r.task, 9), r.task))
    return Inflation(metric, tuple(rows), tuple(skipped), selections)


def _rows(
    label: str,
    method: str,
    dataset: str,
    bits: int,
    group: list[tuple[RunRecord, RunRecord]],
    metric: str,
) -> list[InflationRow]:
    """One row per task of one setting and cell, over the seeds where both runs store it."""
    by_task: dict[str, list[tuple[RunRecord, float, float]]] = defaultdict(list)
    for released, fair in sorted(group, key=lambda pair: pair[0].seed):
        mine, theirs = _task_values(released, metric), _task_values(fair, metric)
        for task in mine.keys() & theirs.keys():
            by_task[task].append((released, mine[task], theirs[task]))
    out = []
    for task, found in by_task.items():
        selection: list[Mapping[str, Any]] = [
            r.metrics.get(RELEASED_SELECTION) or {} for r, _, _ in found
        ]
        out.append(
            InflationRow(
                label=label,
                method=method,
                dataset=dataset,
                bits=bits,
                task=task,
                released=statistics.fmean(v for _, v, _ in found),
                fair=statistics.fmean(v for _, _, v in found),
                seeds=tuple(r.seed for r, _, _ in found),
                kept=tuple(s.get("kept_epoch") for s in selection),
                epochs=tuple(s.get("epochs") for s in selection),
                stopped_early=any(bool(s.get("stopped_early")) for s in selection),
                selection=selection_words(selection[0]) if selection[0] else "",
            )
        )
    return out
