"""What the results site shows, as plain data: comparison tables per task, efficiency points,
and what is missing from the store. Rendering lives in `site.py`, figures in `site_figures.py`.

Everything comes from stored records: the comparison table is `build_table`'s (marks, seeds'
spread or intervals, significance, reference rows), efficiency from each run's stored profile
with energy recomputed under the chosen `EnergyModel`.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hashbench.profile import EnergyModel
from hashbench.report.comparison import MARK_NAMES, Cell, ComparisonTable
from hashbench.report.efficiency import model_counts
from hashbench.report.names import Names
from hashbench.report.table_formats import format_cell
from hashbench.report.variants import is_as_released
from hashbench.store import RunRecord


@dataclass(frozen=True)
class CellView:
    text: str
    sort: float | None  # the value sorting uses; None sorts last
    rank: int | None
    title: str  # tooltip: seeds, spread, interval, p-value
    dataset: str
    bits: int
    marks: tuple[int, ...] = ()  # every mark (one per letter a, b, c of the test's letters)


@dataclass(frozen=True)
class RowView:
    label: str  # shown, with its footnote symbols
    method: str | None  # the stored method (filtering); None for a reported (reference) row
    reported: bool
    cells: tuple[CellView, ...]
    as_released: bool = False  # selected as the released code selects (§): shown apart


@dataclass(frozen=True)
class TaskTable:
    task: str
    name: str
    columns: tuple[tuple[str, int], ...]
    groups: tuple[tuple[str, int], ...]  # (dataset, number of code lengths) for the header
    rows: tuple[RowView, ...]


@dataclass(frozen=True)
class EfficiencyPoint:
    """One method variant at one dataset and code length: means over its seeds."""

    label: str
    method: str
    dataset: str
    bits: int
    spiking: bool | None  # None: unknown (no profile and no installed plugin says)
    scores: Mapping[str, float]  # task -> mean of the report's metric
    params: float | None
    macs: float | None
    sops: float | None
    firing_rate: float | None
    energy_uj: float | None
    train_s: float | None
    encode_items_per_s: float | None
    latency_us: float | None  # median batch latency / batch size, per query item
    devices: str
    seeds: int

    @property
    def kind(self) -> str:
        return {True: "SNN", False: "ANN", None: "?"}[self.spiking]


@dataclass
class Missing:
    """What the store lacks for a full report, each as a sentence."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)


def _marks(cell: Cell | None) -> tuple[int, ...]:
    if cell is None or not cell.rank:
        return ()
    return cell.marks or (cell.rank,)


def _cell_title(cell: Cell, metric: str) -> str:
    if cell.n == 0:
        return f"reported {metric} (published, not run by hashbench)"
    parts = [f"{metric}: mean over {cell.n} seed(s) = {cell.mean:.6f}"]
    if cell.std is not None:
        parts.append(f"std over seeds {cell.std:.6f}")
    if cell.ci_low is not None and cell.ci_high is not None:
        parts.append(f"interval over seeds and queries [{cell.ci_low:.4f}, {cell.ci_high:.4f}]")
    if cell.few_queries is not None:
        parts.append(f"interval and test n/a: {cell.few_queries} queries (too few)")
    if cell.degenerate:
        parts.append("all codes identical in a run: the value says nothing")
    if cell.low is not None and cell.high is not None:
        parts.append(f"tie range [{cell.low:.4f}, {cell.high:.4f}]")
    if cell.letters:
        parts.append(f"letters {cell.letters} (rows sharing a letter are not separated)")
    if cell.pvalue is not None:
        versus = f" vs {cell.p_vs}" if cell.p_vs else ""
        se = f" (Monte-Carlo s.e. {cell.p_mc_se:.2g})" if cell.p_mc_se else ""
        parts.append(f"Holm-adjusted p{versus} {cell.pvalue:.3g}{se}")
    if cell.near:
        parts.append("near the threshold: another resampling seed may change the mark")
    if cell.unmarked == "variant":
        parts.append("not marked: a parameter variant (marks rank methods)")
    elif cell.unmarked == "as-released":
        parts.append("not marked: selected as the released code selects (§), not fairly")
    elif cell.unmarked == "untestable":
        parts.append("not marked: too few seeds for the t-test over seeds")
    if cell.by_seed:
        parts.append("seeds " + ", ".join(f"{s}: {v:.4f}" for s, v in cell.by_seed))
    for mark in _marks(cell):
        parts.append(MARK_NAMES[mark - 1])
    return "; ".join(parts)


def task_tables(
    table: ComparisonTable, methods_of: Mapping[str, str], names: Names | None = None
) -> list[TaskTable]:
    """One table per task: rows are the table's method variants, columns dataset x bits.

    methods_of: row label -> stored method name (reported rows have none). names: how methods
    and tasks are shown (default: as stored).
    """
    names = names or Names.cli()
    groups: list[tuple[str, int]] = []
    for dataset, _ in table.columns:
        if groups and groups[-1][0] == dataset:
            groups[-1] = (dataset, groups[-1][1] + 1)
        else:
            groups.append((dataset, 1))
    out = []
    tasks = list(dict.fromkeys(task for task, _ in table.rows))
    for task in tasks:
        rows = []
        for row in (r for r in table.rows if r[0] == task):
            cells = []
            for column in table.columns:
                cell = table.value(row, column)
                cells.append(
                    CellView(
                        text=format_cell(cell) if cell is not None else "–",
                        sort=None if cell is None else cell.mean,
                        rank=None if cell is None else cell.rank,
                        marks=_marks(cell),
                        title="" if cell is None else _cell_title(cell, table.metric),
                        dataset=column[0],
                        bits=column[1],
                    )
                )
            reported = row[1] not in methods_of
            marks = table.method_label(row[1])[len(row[1]) :]  # "*", "‡"
            rows.append(
                RowView(
                    label=row[1] if reported else names.method(row[1]) + marks,
                    method=methods_of.get(row[1]),
                    reported=reported,
                    cells=tuple(cells),
                    as_released=is_as_released(row[1]),
                )
            )
        out.append(
            TaskTable(
                task=task,
                name=names.task(task),
                columns=tuple(table.columns),
                groups=tuple(groups),
                rows=tuple(rows),
            )
        )
    return out


def is_spiking(record: RunRecord, spiking_methods: set[str]) -> bool | None:
    """From the run's profile (firing rates measured: spiking layers exist), else from the
    installed plugin's metadata, else unknown."""
    model = (record.profile or {}).get("model") or {}
    firing = model.get("firing")
    if isinstance(firing, dict):
        return bool(firing.get("layers")) or bool(firing.get("neuron_steps"))
    if record.method in spiking_methods:
        return True
    return None


def _latency_us(profile: Mapping[str, Any]) -> float | None:
    timing = (profile.get("inference") or {}).get("timing") or {}
    latency, items = timing.get("latency_median_s"), timing.get("items_per_call")
    if not isinstance(latency, int | float) or not items:
        return None
    return 1e6 * float(latency) / float(items)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [float(v) for v in values if isinstance(v, int | float)]
    return statistics.fmean(present) if present else None


def efficiency_points(
    records: Iterable[RunRecord],
    labels: Mapping[str, str],
    metric: str,
    energy: EnergyModel,
    spiking_methods: set[str],
    missing: Missing,
) -> list[EfficiencyPoint]:
    """One point per (variant, dataset, bits); runs without a model profile are reported in
    `missing` and count only for what they have (train time, throughput)."""
    groups: dict[tuple[str, str, int], list[RunRecord]] = defaultdict(list)
    without: dict[str, list[str]] = defaultdict(list)
    for r in records:
        groups[(labels[r.run_id], r.dataset, r.bits)].append(r)
        profile = r.profile or {}
        if not profile.get("model"):
            why = (
                f"the profiler failed ({profile['error']})"
                if profile.get("error")
                else "the method has no torch inference model"
                if "model" in profile
                else "stored without an efficiency profile"
            )
            without[why].append(f"{r.method}/{r.dataset}/{r.bits} bits/seed {r.seed}")
    for why, runs in without.items():
        shown = ", ".join(runs[:6]) + (f" and {len(runs) - 6} more" if len(runs) > 6 else "")
        missing.add(
            f"No parameters, operations or energy for {len(runs)} run(s): {why} ({shown}); "
            "they are left out of the accuracy-efficiency plane."
        )
    points = []
    for (label, dataset, bits), group in sorted(groups.items(), key=lambda kv: kv[0]):
        profiled = [r for r in group if (r.profile or {}).get("model")]
        counts = [model_counts(r.profile, energy) for r in profiled]
        scores: dict[str, list[float]] = defaultdict(list)
        for r in group:
            for task, values in r.task_metrics().items():
                if isinstance(values.get(metric), int | float):
                    scores[task].append(float(values[metric]))
        kinds = {is_spiking(r, spiking_methods) for r in group} - {None}
        runs = [(r.profile or {}).get("run") or {} for r in group]
        points.append(
            EfficiencyPoint(
                label=label,
                method=group[0].method,
                dataset=dataset,
                bits=bits,
                spiking=kinds.pop() if len(kinds) == 1 else None,
                scores={task: statistics.fmean(v) for task, v in scores.items()},
                params=_mean(c["params"] for c in counts),
                macs=_mean(c["macs"] for c in counts),
                sops=_mean(c["sops"] for c in counts),
                firing_rate=_mean(c["firing_rate"] for c in counts),
                energy_uj=_mean(c["energy_uj"] for c in counts),
                train_s=_mean(r.get("train_s") for r in runs),
                encode_items_per_s=_mean(r.get("encode_items_per_s") for r in runs),
                latency_us=_mean(_latency_us(r.profile or {}) for r in profiled),
                devices=", ".join(sorted({str(r.provenance.get("device", "?")) for r in group})),
                seeds=len(group),
            )
        )
    return points


def efficiency_cells(point: EfficiencyPoint) -> list[tuple[str, float | None]]:
    """(shown text, sort value) of each efficiency column after method, dataset, bits."""

    def num(value: float | None, fmt: str) -> tuple[str, float | None]:
        return ("–" if value is None else format(value, fmt), value)

    return [
        (point.kind, None),
        num(point.params, ",.0f"),
        num(point.macs, ",.0f"),
        num(point.sops, ",.0f"),
        num(point.firing_rate, ".4f"),
        num(point.energy_uj, ".3f"),
        num(point.train_s, ".1f"),
        num(point.encode_items_per_s, ",.0f"),
        num(point.latency_us, ".2f"),
        (point.devices, None),
        num(point.seeds, "d"),
    ]


EFFICIENCY_HEADERS = (
    "kind",
    "params",
    "MACs / query",
    "SOPs / query",
    "firing rate",
    "energy µJ / query",
    "train s",
    "encode items/s",
    "latency µs / query",
    "device",
    "seeds",
)
