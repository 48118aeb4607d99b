"""Renderings of a comparison table: terminal (rich), Markdown, LaTeX (booktabs) and CSV."""

from __future__ import annotations

import csv
import io

from hashbench.errors import InputError
from hashbench.report.comparison import MARK_NAMES, TASK_NAMES, Cell, ComparisonTable

LATEX_MARK_STYLES = {
    "bold": r"\textbf{%s}",
    "underline": r"\underline{%s}",
    "italic": r"\textit{%s}",
    "plain": "%s",
}
DEFAULT_LATEX_MARKS = ("bold", "underline", "italic")
RICH_MARK_STYLES = ("bold green", "cyan", "yellow")
MARKDOWN_MARKS = ("**%s**", "*%s*", "%s")
MARKDOWN_LEGEND = "Marks per column and task: **best**, *second*, third (plain)."


def format_cell(
    cell: Cell | None,
    digits: int = 4,
    plus_minus: str = "±",
    dash: str = "–",
    ci_format: str = " ±%s",
) -> str:
    """mean [± std over seeds | ± bootstrap half-width (ci_format)] [tie range]."""
    if cell is None:
        return "-"
    text = f"{cell.mean:.{digits}f}"
    if cell.ci_low is not None and cell.ci_high is not None:  # shown instead of the std
        half = max(cell.ci_high - cell.mean, cell.mean - cell.ci_low)
        text += ci_format % f"{half:.{digits}f}"
    elif cell.std is not None:
        text += f" {plus_minus} {cell.std:.{digits}f}"
    if cell.low is not None and cell.high is not None:
        text += f" [{cell.low:.{digits}f}{dash}{cell.high:.{digits}f}]"
    return text


def to_markdown(table: ComparisonTable) -> str:
    header = ["Task", "Method", *(f"{d} {b} bits" for d, b in table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for task, method in table.rows:
        cells = []
        for column in table.columns:
            cell = table.value((task, method), column)
            text = format_cell(cell)
            if cell is not None and cell.rank:
                text = MARKDOWN_MARKS[cell.rank - 1] % text
            cells.append(text)
        lines.append(
            "| "
            + " | ".join([TASK_NAMES.get(task, task), table.method_label(method), *cells])
            + " |"
        )
    return "\n".join(lines + ["", MARKDOWN_LEGEND, *table.notes()])


def to_csv(table: ComparisonTable) -> str:
    """One line per (task, method, dataset, bits) with mean, std, seeds, rank, tie range, the
    bootstrap interval (with --ci) and the Holm-adjusted p-value of the mark's test."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "task",
            "method",
            "dataset",
            "bits",
            "metric",
            "mean",
            "std",
            "seeds",
            "rank",
            "pair_fused",
            "tie_low",
            "tie_high",
            "ci_low",
            "ci_high",
            "p_adjusted",
        ]
    )
    for task, method in table.rows:
        for dataset, bits in table.columns:
            cell = table.value((task, method), (dataset, bits))
            if cell is None:
                continue
            writer.writerow(
                [
                    task,
                    method,
                    dataset,
                    bits,
                    table.metric,
                    repr(cell.mean),
                    "" if cell.std is None else repr(cell.std),
                    cell.n,
                    cell.rank or "",
                    int(method in table.pair_fused),
                    "" if cell.low is None else repr(cell.low),
                    "" if cell.high is None else repr(cell.high),
                    "" if cell.ci_low is None else repr(cell.ci_low),
                    "" if cell.ci_high is None else repr(cell.ci_high),
                    "" if cell.pvalue is None else repr(cell.pvalue),
                ]
            )
    return buffer.getvalue()


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


def to_latex(table: ComparisonTable, marks: tuple[str, ...] = DEFAULT_LATEX_MARKS) -> str:
    """A booktabs tabular: one column group per dataset, one column per code length.

    marks: the style of best / second / third, each one of LATEX_MARK_STYLES.
    """
    for style in marks:
        if style not in LATEX_MARK_STYLES:
            raise InputError(
                f"--marks: unknown style '{style}'; choose from {', '.join(LATEX_MARK_STYLES)}"
            )
    if len(marks) != len(MARK_NAMES):
        raise InputError(f"--marks needs {len(MARK_NAMES)} styles (best,second,third)")
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
        cells = []
        for column in table.columns:
            cell = table.value((task, method), column)
            text = format_cell(
                cell, plus_minus=r"$\pm$", dash="--", ci_format=r" {\scriptsize $\pm$%s}"
            )
            if cell is not None and cell.rank:
                text = LATEX_MARK_STYLES[marks[cell.rank - 1]] % text
            cells.append(text)
        method_label = _latex_escape(method) + "".join(
            symbol
            for symbol, rows in (("$^*$", table.pair_fused), (r"$^\ddagger$", table.supervised))
            if method in rows
        )
        out.append(" & ".join([shown_task, method_label, *cells]) + r" \\")
        previous_task = task
    out += [r"\bottomrule", r"\end{tabular}"]
    legend = ", ".join(f"{name}: {style}" for name, style in zip(MARK_NAMES, marks, strict=True))
    out.append(f"% marks per column and task: {legend}")
    out.extend("% " + note for note in table.notes())
    return "\n".join(out) + "\n"


def to_rich(table: ComparisonTable, title: str | None = None):
    """A rich Table for the terminal."""
    from rich.markup import escape
    from rich.table import Table

    legend = "Marks: " + ", ".join(
        f"[{style}]{name}[/]" for name, style in zip(MARK_NAMES, RICH_MARK_STYLES, strict=True)
    )
    caption = "\n".join([legend, *(escape(note) for note in table.notes())])
    out = Table(title=escape(title or table.metric), caption=caption)
    out.add_column("Task")
    out.add_column("Method")
    for dataset, bits in table.columns:
        out.add_column(escape(f"{dataset}\n{bits} bits"), justify="right")
    previous_task = None
    for task, method in table.rows:
        cells = []
        for column in table.columns:
            cell = table.value((task, method), column)
            text = format_cell(cell)
            if cell is not None and cell.rank:
                text = f"[{RICH_MARK_STYLES[cell.rank - 1]}]{text}[/]"
            cells.append(text)
        shown = TASK_NAMES.get(task, task) if task != previous_task else ""
        out.add_row(escape(shown), escape(table.method_label(method)), *cells)
        previous_task = task
    return out
