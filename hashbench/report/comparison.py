"""Comparison tables of stored runs, built: rows task x method, columns dataset x bits.

Values are means over seeds (with the standard deviation when there are several seeds).
In every column the best, second and third method of each task get a mark, as in the papers
(equal values as displayed share a rank), within one family per protocol and budget (parameter
variants and as-released rows, §, are not ranked: `released.py`); with a significance test the
marks follow the test's compact letters (`hashbench.stats.marks`), and with `ci` every cell
gets a two-level bootstrap interval over seeds and queries. Results of pair-fused methods carry
a footnote: their query codes were computed with the query's paired item of the other
modality.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from hashbench.errors import InputError
from hashbench.report.degenerate import degenerate_task
from hashbench.report.reference import ReferenceValue, reference_rows
from hashbench.report.released import released_note, row_kind
from hashbench.report.significance import CellKey, family_of, table_statistics, test_marks
from hashbench.report.variants import is_as_released, variant_labels
from hashbench.stats import DEFAULT_OPTIONS, MIN_QUERIES, StatsOptions
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
DEGENERATE_MARK = "⁰"
DEGENERATE_NOTE = (
    "⁰ all codes identical: a run of this cell gave every query (or every database item) the "
    "same code, so its ranking is all ties and the value says nothing about the method."
)


@dataclass(frozen=True)
class Cell:
    mean: float
    std: float | None
    n: int
    by_seed: tuple[tuple[int, float], ...] = ()
    rank: int | None = None  # 1 = best, 2 = second, 3 = third; None = no mark
    low: float | None = None  # tie range of the metric: relevant-last value ...
    high: float | None = None  # ... and relevant-first value (means over seeds)
    ci_low: float | None = None  # bootstrap interval over queries of the mean
    ci_high: float | None = None
    pvalue: float | None = None  # Holm-adjusted p of the test against row p_vs
    marks: tuple[int, ...] = ()  # every mark the row carries (one per letter among a, b, c)
    letters: str | None = None  # compact letter display of the test (None: no test ran)
    p_vs: str | None = None  # the row pvalue compares against (the best; the best: runner-up)
    p_mc_se: float | None = None  # Monte-Carlo standard error of pvalue
    near: bool = False  # a pair of this row lies within 3 MC standard errors of alpha
    unmarked: str | None = None  # "variant" (non-default --param) / "untestable" (too few seeds)
    few_queries: int | None = None  # queries, when below MIN_QUERIES: interval / test n/a
    ci_na: bool = False  # an interval was asked for and is n/a (few_queries)
    degenerate: bool = False  # a run's codes are all identical in a split (see `degenerate`)


@dataclass(frozen=True)
class Significance:
    """Marks follow a test: "queries" (two-level bootstrap over seeds and queries, the default)
    or "seeds" (paired t-test over seeds), all pairs of a family Holm-adjusted, as letters."""

    alpha: float = 0.05
    test: str = "queries"
    resamples: int = DEFAULT_OPTIONS.resamples
    seed: int = DEFAULT_OPTIONS.seed

    def options(self, base: StatsOptions = DEFAULT_OPTIONS) -> StatsOptions:
        return dataclasses.replace(
            base, test=self.test, alpha=self.alpha, resamples=self.resamples, seed=self.seed
        )

    def describe(self) -> str:
        return (
            "Marks follow a test; letters: rows sharing a letter are not separated by it "
            "(compact letter display). Letter a (holding the best row) is the best mark, b the "
            "second, c the third; a row carries the mark of each of its letters, so rows the "
            "test cannot separate share a mark and rows it separates never do. Rows compete "
            f"within their protocol and budget (defaults with defaults, tuned with tuned). "
            f"{self.options().describe_test()}."
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
    ci: StatsOptions | None = None  # intervals shown, computed with these options
    tie_range: bool = False
    reference_sources: tuple[str, ...] = ()  # papers whose reported numbers are rows here
    extra_notes: tuple[str, ...] = ()
    released: str | None = None  # the footnote of as-released rows (§), if any

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
        notes += [self.released] if self.released else []
        if self.tie_range:
            notes.append(
                "[low, high]: the same metric with relevant items last / first inside groups of "
                "equal Hamming distance (how much the value depends on tie order)."
            )
        if self.ci is not None:
            notes.append(f"±: the larger side of the {self.ci.describe_ci()}; CSV: both ends.")
        elif any(cell.std is not None for cell in self.cells.values()):
            seeds = sorted({cell.n for cell in self.cells.values() if cell.std is not None})
            notes.append(
                "±: standard deviation over seeds ("
                + " or ".join(str(n) for n in seeds)
                + " seeds per cell)."
            )
        if self.significance is not None:
            notes.append(self.significance.describe())
        notes += self._mark_notes()
        few = sorted({c.few_queries for c in self.cells.values() if c.few_queries is not None})
        if few and (self.ci is not None or self.significance is not None):
            notes.append(
                f"n/a: {' or '.join(map(str, few))} queries, fewer than the {MIN_QUERIES} an "
                "interval or a query-level test needs (no interval, and no marks in that column "
                "under --significance)."
            )
        if any(c.degenerate for c in self.cells.values()):
            notes.append(DEGENERATE_NOTE)
        return notes + list(self.extra_notes)


    def _mark_notes(self) -> list[str]:
        cells = self.cells.values()
        out = []
        single = any(c.n == 1 for c in cells) and (self.ci or self.significance)
        if single and (self.significance is None or self.significance.test == "queries"):
            out.append(
                "query-level: rows with one training seed have intervals and marks over queries "
                "only; training-seed variation is not covered (store --seeds 0,1,2 or more)."
            )
        if self.significance is None:
            return out
        if any(c.unmarked == "variant" for c in cells):
            out.append(
                "Rows with non-default --param values [...] are not marked: marks rank methods, "
                "not settings of one method."
            )
        if any(c.unmarked == "untestable" for c in cells):
            out.append(
                "not marked: in some columns a row has fewer than 2 seeds shared with another "
                "row of its family, which the t-test over seeds cannot test (CSV: unmarked)."
            )
        if any(c.near for c in cells):
            out.append(
                "≈ near the threshold: an adjusted p-value lies within 3 Monte-Carlo standard "
                "errors of alpha; another --seed or more --resamples may change this mark."
            )
        return out


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
    per_query: Mapping[CellKey, Mapping[int, np.ndarray]] | None = None,
    ci: bool = False,
    stats: StatsOptions = DEFAULT_OPTIONS,
    labels: Mapping[str, str] | None = None,
) -> ComparisonTable:
    """Aggregate finished runs into a table of `metric` (a key of the stored metrics).

    tie_range: also aggregate `<metric>:relevant_first` / `:relevant_last` (stored for mAP@K).
    Marks rank the displayed means (rounded to `digits`), higher is better.
    supervised: names of supervised methods (marked; runs stored with their supervision are
    marked too). notes: more footnotes (e.g. how tuned rows were tuned).
    per_query: cell -> seed -> per-query values of `metric` (`significance.load_per_query`),
    needed by `ci` (bootstrap intervals over queries, computed with `stats`) and by the
    query-level test; the seeds test uses the stored values.
    labels: each run's row label (`variants.variant_labels` of all the records, best with the
    methods' defaults); default: labels decided without the defaults.
    """
    supervised = set(supervised)
    samples: dict[tuple, dict[int, float]] = defaultdict(dict)
    bounds: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    degenerate: set[tuple] = set()  # cells with a run whose codes are all identical
    columns, rows, pair_fused, supervised_rows = set(), set(), set(), set()
    available: set[str] = set()
    records = list(records)
    if labels is None:  # runs of other settings get rows of their own
        labels = variant_labels(records)
    for record in records:
        column = (record.dataset, record.bits)
        method = labels[record.run_id]
        if record.method in supervised or record.provenance.get("supervision") == "supervised":
            supervised_rows.add(method)
        for task, values in record.task_metrics().items():
            available.update(k for k, v in values.items() if isinstance(v, int | float))
            if metric not in values:
                continue
            row = (task, method)
            samples[(row, column)][record.seed] = float(values[metric])
            if degenerate_task(values, metric):
                degenerate.add((row, column))
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
            degenerate=key in degenerate,
        )
    if significance is None:
        _assign_marks(cells, digits)
    else:
        _test_marks(cells, digits, significance, per_query, stats)
    _unmark_lonely(cells)
    for key in [k for k in cells if is_as_released(k[0][1])]:  # never ranked (released.py)
        cells[key] = dataclasses.replace(cells[key], rank=None, marks=(), unmarked="as-released")
    if ci:
        _add_intervals(cells, per_query, stats)
    measured = [(r.method, r.dataset, r.bits) for r in records]
    reported, sources, reported_notes = reference_rows(reference, metric, columns, measured)
    for (row, column), value in reported.items():  # real datasets only (reference.py)
        cells[(row, column)] = Cell(mean=value, std=None, n=0)
        rows.add(row)
    notes = [*notes, *reported_notes]
    task_order = {task: i for i, task in enumerate(TASK_NAMES)}
    return ComparisonTable(
        metric=metric,
        columns=sorted(columns),
        rows=sorted(rows, key=lambda r: (task_order.get(r[0], 99), r[0], row_kind(r[1]), r[1])),
        cells=cells,
        pair_fused=pair_fused,
        supervised=supervised_rows,
        extra_notes=tuple(notes),
        significance=significance,
        ci=stats if ci else None,
        tie_range=tie_range,
        reference_sources=tuple(sources),
        released=released_note(records),
    )


def _unmark_lonely(cells: dict) -> None:
    """A column of a task with a single method ranks nothing: its cell gets no mark."""
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for row, column in cells:
        groups[(row[0], column)].append((row, column))
    for keys in groups.values():
        if len(keys) == 1:
            cells[keys[0]] = dataclasses.replace(cells[keys[0]], rank=None, marks=(), pvalue=None)


def _assign_marks(cells: dict, digits: int) -> None:
    """Dense ranks of the displayed means within each (task, column, protocol/budget family);
    parameter variants are not ranked (`significance.family_of`)."""
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for row, column in cells:
        family = family_of(row[1])
        if family is not None:
            groups[(row[0], column, family)].append((row, column))
    for keys in groups.values():
        if len(keys) < 2:  # a family of one row ranks nothing
            continue
        shown = {key: round(cells[key].mean, digits) for key in keys}
        levels = sorted(set(shown.values()), reverse=True)
        for key in keys:
            rank = levels.index(shown[key]) + 1
            if rank <= len(MARK_NAMES):
                cells[key] = dataclasses.replace(cells[key], rank=rank, marks=(rank,))


def _needs(per_query: Mapping | None, cells: dict, what: str, some: bool = False) -> dict:
    """The per-query values of `cells`; `some`: those present (a cell whose runs' codes are
    missing has none: `load_per_query(missing=...)`), else all of them or an InputError."""
    if per_query is None:
        raise InputError(f"{what} needs the per-query values of the runs (none were given)")
    missing = [key for key in cells if key not in per_query]
    if some:
        return {key: per_query[key] for key in cells if key in per_query}
    if missing:
        (task, method), (dataset, bits) = missing[0]
        raise InputError(f"{what}: no per-query values for {method}, {task}, {dataset} {bits}")
    return {key: per_query[key] for key in cells}


def _test_marks(
    cells: dict,
    digits: int,
    significance: Significance,
    per_query: Mapping | None,
    stats: StatsOptions,
) -> None:
    """Marks that follow the test, ordered by the displayed means (`significance.test_marks`)."""
    if significance.test == "queries" and per_query is None:
        raise InputError("--significance queries needs the per-query values of the runs")
    shown = {key: round(cell.mean, digits) for key, cell in cells.items()}
    test_marks(cells, shown, significance.test, significance.options(stats), per_query)


def _n_queries(per_query: Mapping) -> dict:
    """Number of queries of each cell (all seeds of a cell share the query set)."""
    return {key: len(next(iter(by_seed.values()))) for key, by_seed in per_query.items()}


def _add_intervals(cells: dict, per_query: Mapping | None, stats: StatsOptions) -> None:
    """Bootstrap intervals; a cell of fewer than MIN_QUERIES queries gets none (n/a)."""
    needed = _needs(per_query, cells, "--ci", some=True)  # codes missing: n/a (a warning says)
    counts = _n_queries(needed)
    enough = {key: v for key, v in needed.items() if counts[key] >= MIN_QUERIES}
    found = table_statistics(enough, stats, marks=False) if enough else None
    for key, cell in cells.items():
        if key not in enough:
            cells[key] = dataclasses.replace(cell, few_queries=counts.get(key), ci_na=True)
            continue
        interval = found.intervals[key]
        cells[key] = dataclasses.replace(cell, ci_low=interval.low, ci_high=interval.high)
