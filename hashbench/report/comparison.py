"""Comparison tables of stored runs, built: rows task x method, columns dataset x bits.

Values are means over seeds (with the standard deviation when there are several seeds).
In every column the best, second and third method of each task get a mark, as in the papers
(equal values as displayed share a rank); with a significance test, a method's mark is kept
only when it beats the next-ranked method significantly across seeds. Results of pair-fused
methods carry a footnote: their query codes were computed with the query's paired item of the
other modality.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from hashbench.errors import InputError
from hashbench.report.reference import REAL_DATASETS, ReferenceValue
from hashbench.report.variants import variant_labels
from hashbench.store import RunRecord

TASK_NAMES = {"i2t": "Image -> Text", "t2i": "Text -> Image", "unimodal": "Unimodal"}
PAIR_FUSED_NOTE = (
    "* pair-fused: a query's code was computed with its paired item of the other modality "
    "(the published protocol of these methods; a real single-modality query lacks it)."
)
SUPERVISED_NOTE = (
    "‡ supervised: trained with the training split's labels, which unsupervised methods "
    "never see."
)

MARK_NAMES = ("best", "second", "third")


@dataclass(frozen=True)
class Cell:
    mean: float
    std: float | None
    n: int
    by_seed: tuple[tuple[int, float], ...] = ()
    rank: int | None = None  # 1 = best, 2 = second, 3 = third; None = no mark
    low: float | None = None  # tie range of the metric: relevant-last value ...
    high: float | None = None  # ... and relevant-first value (means over seeds)


@dataclass(frozen=True)
class Significance:
    """Keep a mark only when the paired test against the next-ranked method gives p < alpha."""

    alpha: float = 0.05

    def describe(self) -> str:
        return (
            f"Marks are kept only where a paired t-test over seeds (scipy.stats.ttest_rel) "
            f"against the next-ranked method gives p < {self.alpha:g}."
        )


@dataclass
class ComparisonTable:
    metric: str
    columns: list[tuple[str, int]]
    rows: list[tuple[str, str]]
    cells: dict[tuple[tuple[str, str], tuple[str, int]], Cell]
    pair_fused: set[str] = field(default_factory=set)
    supervised: set[str] = field(default_factory=set)
    significance: Significance | None = None
    tie_range: bool = False
    reference_sources: tuple[str, ...] = ()  # papers whose reported numbers are rows here
    extra_notes: tuple[str, ...] = ()

    def value(self, row: tuple[str, str], column: tuple[str, int]) -> Cell | None:
        return self.cells.get((row, column))

    def method_label(self, method: str) -> str:
        return method + "".join(
            symbol for symbol, rows in (("*", self.pair_fused), ("‡", self.supervised))
            if method in rows
        )

    def notes(self) -> list[str]:
        notes = [PAIR_FUSED_NOTE] if self.pair_fused else []
        if self.supervised:
            notes.append(SUPERVISED_NOTE)
        if self.reference_sources:
            notes.append(
                "† reported: numbers published in "
                + ", ".join(self.reference_sources)
                + " (results/reference/), not run by hashbench; not ranked."
            )
        if self.tie_range:
            notes.append(
                "[low, high]: the same metric with relevant items last / first inside groups of "
                "equal Hamming distance (how much the value depends on tie order)."
            )
        if self.significance is not None:
            notes.append(self.significance.describe())
        return notes + list(self.extra_notes)


def build_table(
    records: Iterable[RunRecord],
    metric: str = "map@50",
    *,
    significance: Significance | None = None,
    tie_range: bool = False,
    digits: int = 4,
    reference: Iterable[ReferenceValue] = (),
    supervised: Iterable[str] = (),
    notes: Iterable[str] = (),
) -> ComparisonTable:
    """Aggregate finished runs into a table of `metric` (a key of the stored metrics).

    tie_range: also aggregate `<metric>:relevant_first` / `:relevant_last` (stored for mAP@K).
    Marks rank the displayed means (rounded to `digits`), higher is better.
    supervised: names of supervised methods (marked; runs stored with their supervision are
    marked too). notes: more footnotes (e.g. how tuned rows were tuned).
    """
    supervised = set(supervised)
    samples: dict[tuple, dict[int, float]] = defaultdict(dict)
    bounds: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    columns, rows, pair_fused, supervised_rows = set(), set(), set(), set()
    available: set[str] = set()
    records = list(records)
    labels = variant_labels(records)  # runs of other settings get rows of their own
    for record in records:
        column = (record.dataset, record.bits)
        method = labels[record.run_id]
        if record.method in supervised or record.provenance.get("supervision") == "supervised":
            supervised_rows.add(method)
        for task, values in record.metrics.items():
            available.update(k for k, v in values.items() if isinstance(v, int | float))
            if metric not in values:
                continue
            row = (task, method)
            samples[(row, column)][record.seed] = float(values[metric])
            first, last = (
                values.get(f"{metric}:relevant_first"),
                values.get(f"{metric}:relevant_last"),
            )
            if first is not None and last is not None:
                bounds[(row, column)].append((float(last), float(first)))
            columns.add(column)
            rows.add(row)
            if record.pair_fused:
                pair_fused.add(method)
    if available and not samples:
        raise InputError(
            f"--metric '{metric}' is not stored with these runs; stored metrics: "
            f"{', '.join(sorted(available))}"
        )
    if tie_range and samples and not bounds:
        raise InputError(
            f"--tie-range: '{metric}' has no stored relevant-first / relevant-last values "
            f"(they are stored for mAP@K, e.g. map@50)"
        )
    cells = {}
    for key, by_seed in samples.items():
        values = list(by_seed.values())
        pairs = bounds.get(key) if tie_range else None
        cells[key] = Cell(
            mean=statistics.fmean(values),
            std=statistics.stdev(values) if len(values) > 1 else None,
            n=len(values),
            by_seed=tuple(sorted(by_seed.items())),
            low=statistics.fmean(p[0] for p in pairs) if pairs else None,
            high=statistics.fmean(p[1] for p in pairs) if pairs else None,
        )
    _assign_marks(cells, digits, significance)
    sources = []
    for ref in reference:  # real datasets only: never beside synthetic results
        column = (ref.dataset, ref.bits)
        if ref.metric != metric or ref.dataset not in REAL_DATASETS or column not in columns:
            continue
        row = (ref.task, f"{ref.method}† ({ref.source})")
        cells[(row, column)] = Cell(mean=ref.value, std=None, n=0)
        rows.add(row)
        if ref.source not in sources:
            sources.append(ref.source)
    task_order = {task: i for i, task in enumerate(TASK_NAMES)}
    return ComparisonTable(
        metric=metric,
        columns=sorted(columns),
        rows=sorted(rows, key=lambda r: (task_order.get(r[0], 99), r[0], "†" in r[1], r[1])),
        cells=cells,
        pair_fused=pair_fused,
        supervised=supervised_rows,
        extra_notes=tuple(notes),
        significance=significance,
        tie_range=tie_range,
        reference_sources=tuple(sources),
    )


def _assign_marks(cells: dict, digits: int, significance: Significance | None) -> None:
    """Rank methods within each (task, column): dense ranks of the displayed means."""
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for row, column in cells:
        groups[(row[0], column)].append((row, column))
    for keys in groups.values():
        shown = {key: round(cells[key].mean, digits) for key in keys}
        levels = sorted(set(shown.values()), reverse=True)
        for key in keys:
            rank = levels.index(shown[key]) + 1
            if rank > len(MARK_NAMES):
                continue
            if significance is not None and not _significant(
                cells, keys, key, shown, levels, significance
            ):
                continue
            cells[key] = _with_rank(cells[key], rank)


def _significant(cells, keys, key, shown, levels, significance: Significance) -> bool:
    """Paired t-test of `key` against every method at the next displayed level."""
    from scipy.stats import ttest_rel

    rank = levels.index(shown[key])
    if rank + 1 >= len(levels):
        return True  # nothing ranks below it
    mine = dict(cells[key].by_seed)
    for other in (k for k in keys if shown[k] == levels[rank + 1]):
        theirs = dict(cells[other].by_seed)
        seeds = sorted(set(mine) & set(theirs))
        if len(seeds) < 2:
            return False
        a = [mine[s] for s in seeds]
        b = [theirs[s] for s in seeds]
        if all(x - y == a[0] - b[0] for x, y in zip(a, b, strict=True)):
            continue  # identical differences: zero variance, the order holds on every seed
        if not ttest_rel(a, b).pvalue < significance.alpha:
            return False
    return True


def _with_rank(cell: Cell, rank: int) -> Cell:
    return Cell(cell.mean, cell.std, cell.n, cell.by_seed, rank, cell.low, cell.high)
