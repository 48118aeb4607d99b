"""Comparison tables of stored runs: rows task x method, columns dataset x bits.

Values are means over seeds (with the standard deviation when there are several seeds).
Results of pair-fused methods carry a footnote: their query codes were computed with the
query's paired item of the other modality.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from hashbench.errors import InputError
from hashbench.store import RunRecord

TASK_NAMES = {"i2t": "Image -> Text", "t2i": "Text -> Image"}
PAIR_FUSED_NOTE = (
    "* pair-fused: a query's code was computed with its paired item of the other modality "
    "(the published protocol of these methods; a real single-modality query lacks it)."
)


@dataclass(frozen=True)
class Cell:
    mean: float
    std: float | None
    n: int


@dataclass
class ComparisonTable:
    metric: str
    columns: list[tuple[str, int]]
    rows: list[tuple[str, str]]
    cells: dict[tuple[tuple[str, str], tuple[str, int]], Cell]
    pair_fused: set[str] = field(default_factory=set)

    def value(self, row: tuple[str, str], column: tuple[str, int]) -> Cell | None:
        return self.cells.get((row, column))

    def method_label(self, method: str) -> str:
        return f"{method}*" if method in self.pair_fused else method

    def notes(self) -> list[str]:
        return [PAIR_FUSED_NOTE] if self.pair_fused else []


def build_table(records: Iterable[RunRecord], metric: str = "map@50") -> ComparisonTable:
    """Aggregate finished runs into a table of `metric` (a key of the stored metrics)."""
    samples: dict[tuple, list[float]] = defaultdict(list)
    columns, rows, pair_fused = set(), set(), set()
    available: set[str] = set()
    for record in records:
        column = (record.dataset, record.bits)
        for task, values in record.metrics.items():
            available.update(k for k, v in values.items() if isinstance(v, int | float))
            if metric not in values:
                continue
            row = (task, record.method)
            samples[(row, column)].append(float(values[metric]))
            columns.add(column)
            rows.add(row)
            if record.pair_fused:
                pair_fused.add(record.method)
    if available and not samples:
        raise InputError(
            f"--metric '{metric}' is not stored with these runs; stored metrics: "
            f"{', '.join(sorted(available))}"
        )
    cells = {
        key: Cell(
            mean=statistics.fmean(values),
            std=statistics.stdev(values) if len(values) > 1 else None,
            n=len(values),
        )
        for key, values in samples.items()
    }
    task_order = {task: i for i, task in enumerate(TASK_NAMES)}
    return ComparisonTable(
        metric=metric,
        columns=sorted(columns),
        rows=sorted(rows, key=lambda r: (task_order.get(r[0], 99), r[0], r[1])),
        cells=cells,
        pair_fused=pair_fused,
    )


def format_cell(cell: Cell | None, digits: int = 4, plus_minus: str = "±") -> str:
    if cell is None:
        return "-"
    text = f"{cell.mean:.{digits}f}"
    if cell.std is not None:
        text += f" {plus_minus} {cell.std:.{digits}f}"
    return text


def to_markdown(table: ComparisonTable) -> str:
    header = ["Task", "Method", *(f"{d} {b} bits" for d, b in table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for task, method in table.rows:
        cells = [format_cell(table.value((task, method), c)) for c in table.columns]
        lines.append(
            "| "
            + " | ".join([TASK_NAMES.get(task, task), table.method_label(method), *cells])
            + " |"
        )
    return "\n".join(lines + [""] + table.notes())


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def to_latex(table: ComparisonTable) -> str:
    """A booktabs tabular: one column group per dataset, one column per code length."""
    datasets = []
    for dataset, _ in table.columns:
        if dataset not in datasets:
            datasets.append(dataset)
    spans = {d: sum(1 for c in table.columns if c[0] == d) for d in datasets}
    out = [
        r"\begin{tabular}{ll" + "c" * len(table.columns) + "}",
        r"\toprule",
        r"Task & Method & "
        + " & ".join(rf"\multicolumn{{{spans[d]}}}{{c}}{{{_latex_escape(d)}}}" for d in datasets)
        + r" \\",
    ]
    start = 3
    rules = []
    for d in datasets:
        rules.append(rf"\cmidrule(lr){{{start}-{start + spans[d] - 1}}}")
        start += spans[d]
    out.append(" ".join(rules))
    out.append(" & & " + " & ".join(str(b) for _, b in table.columns) + r" \\")
    out.append(r"\midrule")
    previous_task = None
    for task, method in table.rows:
        if previous_task is not None and task != previous_task:
            out.append(r"\midrule")
        label = TASK_NAMES.get(task, task).replace("->", r"$\rightarrow$")
        shown_task = label if task != previous_task else ""
        cells = [
            format_cell(table.value((task, method), c), plus_minus=r"$\pm$") for c in table.columns
        ]
        method_label = _latex_escape(method) + ("$^*$" if method in table.pair_fused else "")
        out.append(" & ".join([shown_task, method_label, *cells]) + r" \\")
        previous_task = task
    out += [r"\bottomrule", r"\end{tabular}"]
    if table.pair_fused:
        out.append("% " + PAIR_FUSED_NOTE)
    return "\n".join(out) + "\n"


def to_rich(table: ComparisonTable, title: str | None = None):
    """A rich Table for the terminal."""
    from rich.table import Table

    out = Table(title=title or f"{table.metric}", caption="\n".join(table.notes()) or None)
    out.add_column("Task")
    out.add_column("Method")
    for dataset, bits in table.columns:
        out.add_column(f"{dataset}\n{bits} bits", justify="right")
    previous_task = None
    for task, method in table.rows:
        cells = [format_cell(table.value((task, method), c)) for c in table.columns]
        shown = TASK_NAMES.get(task, task) if task != previous_task else ""
        out.add_row(shown, table.method_label(method), *cells)
        previous_task = task
    return out
