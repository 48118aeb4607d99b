"""Renderings of the inflation view (`inflation.Inflation`): terminal (rich), Markdown, LaTeX
(booktabs) and CSV, one row per method setting x dataset x bits x task."""

from __future__ import annotations

import csv
import io

from hashbench.report.inflation import Inflation, InflationRow
from hashbench.report.latex_text import latex_escape
from hashbench.report.markdown_text import markdown_escape
from hashbench.report.names import Names

HEADER = (
    "Method",
    "Dataset",
    "Bits",
    "Task",
    "As released§",
    "Fair",
    "Difference",
    "Relative",
    "Seeds",
    "Kept epoch",
)
CSV_HEADER = (
    "method",
    "setting",
    "dataset",
    "bits",
    "task",
    "metric",
    "as_released",
    "fair",
    "difference",
    "relative",
    "seeds",
    "kept_epochs",
    "epochs",
    "stopped_early",
)


def _relative(row: InflationRow) -> str:
    return "n/a" if row.relative is None else f"{100 * row.relative:+.1f}%"


def _texts(row: InflationRow, names: Names, digits: int = 4) -> list[str]:
    return [
        names.method(row.label),
        names.dataset(row.dataset),
        str(row.bits),
        names.task(row.task),
        f"{row.released:.{digits}f}",
        f"{row.fair:.{digits}f}",
        f"{row.difference:+.{digits}f}",
        _relative(row),
        ",".join(map(str, row.seeds)),
        row.kept_text(),
    ]


def _title(view: Inflation, names: Names) -> str:
    return f"{names.metric(view.metric)}: as released minus fair"


def inflation_rich(view: Inflation, names: Names | None = None):
    """A rich Table for the terminal."""
    from rich.markup import escape
    from rich.table import Table

    names = names or Names.cli()
    out = Table(title=escape(_title(view, names)), caption=escape("\n".join(view.notes())))
    for i, header in enumerate(HEADER):  # the numbers right-aligned
        out.add_column(escape(header), justify="right" if i in (2, 4, 5, 6, 7) else "left")
    for row in view.rows:
        out.add_row(*(escape(text) for text in _texts(row, names)))
    return out


def inflation_markdown(view: Inflation, names: Names | None = None) -> str:
    """A Markdown table and its notes, one paragraph each."""
    names = names or Names.cli()
    md = markdown_escape
    lines = ["| " + " | ".join(md(h) for h in HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(md(t) for t in _texts(r, names)) + " |" for r in view.rows]
    notes = [f"{md(_title(view, names))}.", *(md(note) for note in view.notes())]
    return "\n".join(lines) + "\n\n" + "\n\n".join(notes)


def inflation_latex(view: Inflation, names: Names | None = None) -> str:
    r"""A booktabs tabular, then its notes in a `\footnotesize` block."""
    names = names or Names.cli()
    out = [r"\begin{tabular}{llrl" + "r" * 4 + "ll}", r"\toprule"]
    out.append(" & ".join(latex_escape(h) for h in HEADER) + r" \\")
    out.append(r"\midrule")
    for row in view.rows:
        out.append(" & ".join(latex_escape(t) for t in _texts(row, names)) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip"]
    out.append(r"\begin{minipage}{\linewidth}\footnotesize")
    out += [latex_escape(n) + r"\par" for n in [_title(view, names) + ".", *view.notes()]]
    out.append(r"\end{minipage}")
    return "\n".join(out) + "\n"


def inflation_csv(view: Inflation) -> str:
    """One line per row, full precision; seeds, kept epochs and epochs `;`-separated."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for r in view.rows:
        writer.writerow(
            [
                r.method,
                r.label,
                r.dataset,
                r.bits,
                r.task,
                view.metric,
                repr(r.released),
                repr(r.fair),
                repr(r.difference),
                "" if r.relative is None else repr(r.relative),
                ";".join(map(str, r.seeds)),
                ";".join("" if k is None else str(k) for k in r.kept),
                ";".join("" if e is None else str(e) for e in r.epochs),
                int(r.stopped_early),
            ]
        )
    return buffer.getvalue()
