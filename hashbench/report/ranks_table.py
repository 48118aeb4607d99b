"""The overall ranking view of a comparison table (`hashbench table --ranks`): the table's
rows (method labels, variants kept apart as in the table) ranked over its columns (dataset x
bits x task) with `hashbench.stats.ranking`, rendered for the terminal, Markdown, LaTeX and CSV.
`hashbench plot` and the report draw the same ranking (`cd_diagram`).

Reported rows (papers' numbers, †) and as-released rows (§: selected as the released code
selects, often on the test queries) are not ranked, as in the table's marks.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping

from hashbench.report.comparison import PAIR_FUSED_NOTE, SUPERVISED_NOTE, ComparisonTable
from hashbench.report.latex_text import latex_escape, latex_note
from hashbench.report.markdown_text import markdown_escape
from hashbench.report.names import Names
from hashbench.report.variants import is_as_released
from hashbench.stats.ranking import Ranking, rank_methods

RankColumn = tuple[str, str, int]  # (task, dataset, bits)


def table_ranking(table: ComparisonTable, alpha: float = 0.05) -> Ranking:
    """The ranking of `table`'s methods over its (task, dataset, bits) columns, from the
    cells' means over seeds (InputError with fewer than 2 methods or usable columns)."""
    values: dict[str, dict[RankColumn, float]] = defaultdict(dict)
    for (task, method), (dataset, bits) in table.cells:
        if "†" in method or is_as_released(method):  # reported, or not selected fairly
            continue
        values[method][(task, dataset, bits)] = table.cells[((task, method), (dataset, bits))].mean
    return rank_methods(values, alpha)


def table_marks(table: ComparisonTable) -> dict[str, str]:
    """{row label: its marks in `table`} (pair-fused *, supervised ‡), as the table shows."""
    rows = {method for _, method in table.rows}
    return {
        m: ("*" if m in table.pair_fused else "") + ("‡" if m in table.supervised else "")
        for m in rows
        if m in table.pair_fused or m in table.supervised
    }


def column_name(column: RankColumn, names: Names) -> str:
    task, dataset, bits = column
    return f"{names.dataset(dataset)} {bits} bits, {names.task(task)}"


def _group_of(ranking: Ranking) -> dict[str, str]:
    """{method: the letters of the CD groups it belongs to} (a, b, ... in rank order)."""
    out: dict[str, str] = defaultdict(str)
    for n, group in enumerate(ranking.groups):
        for method in group:
            out[method] += chr(ord("a") + n) if n < 26 else "*"
    return out


def ranking_notes(
    ranking: Ranking, names: Names, marks: Mapping[str, str] | None = None
) -> list[str]:
    """The footnotes: the test and its result, the groups, the dropped columns and the
    table's marks (`marks`: `table_marks`)."""
    notes = [ranking.describe()]
    if ranking.rejected:
        groups = "; ".join(
            f"{chr(ord('a') + n)}: {', '.join(names.method(m) for m in group)}"
            for n, group in enumerate(ranking.groups)
        )
        alone = [m for m in ranking.methods if not any(m in g for g in ranking.groups)]
        text = (
            f"Groups not separated by CD: {groups}." if groups else "No two methods lie within CD."
        )
        if alone and groups:
            text += " Separated from every other: " + ", ".join(map(names.method, alone)) + "."
        notes.append(text)
    if ranking.dropped:
        lacking = sorted({m for _, methods in ranking.dropped for m in methods})
        notes.append(
            f"{len(ranking.dropped)} column(s) dropped: not every method has a value there "
            f"(missing: {', '.join(names.method(m) for m in lacking)})."
        )
    used = "".join((marks or {}).values())
    return notes + [PAIR_FUSED_NOTE] * ("*" in used) + [SUPERVISED_NOTE] * ("‡" in used)


def ranks_rows(ranking: Ranking) -> list[tuple[str, float, int, str]]:
    """(method, average rank, columns, groups) per method, best first."""
    groups = _group_of(ranking)
    return [
        (m, r, ranking.n, groups.get(m, ""))
        for m, r in zip(ranking.methods, ranking.average_ranks, strict=True)
    ]


def ranks_markdown(
    ranking: Ranking, metric: str, names: Names, marks: Mapping[str, str] | None = None
) -> str:
    md = markdown_escape
    lines = [
        f"| Method | Average rank ({md(names.metric(metric))}) | Columns | Group |",
        "|---|---|---|---|",
    ]
    for method, rank, n, group in ranks_rows(ranking):
        label = md(names.method(method) + (marks or {}).get(method, ""))
        lines.append(f"| {label} | {rank:.3f} | {n} | {group or '-'} |")
    notes = [md(note) for note in ranking_notes(ranking, names, marks)]
    return "\n".join(lines) + "\n\n" + "\n\n".join(notes)


def ranks_latex(
    ranking: Ranking, metric: str, names: Names, marks: Mapping[str, str] | None = None
) -> str:
    out = [
        r"\begin{tabular}{lccc}",
        r"\toprule",
        f"Method & Average rank ({latex_escape(names.metric(metric))}) & Columns & Group \\\\",
        r"\midrule",
    ]
    for method, rank, n, group in ranks_rows(ranking):
        out.append(
            f"{_latex_label(method, names, marks)} & {rank:.3f} & {n} & {group or '--'} \\\\"
        )
    out += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip"]
    out.append(r"\begin{minipage}{\linewidth}\footnotesize")
    out += [latex_note(note) + r"\par" for note in ranking_notes(ranking, names, marks)]
    out.append(r"\end{minipage}")
    return "\n".join(out) + "\n"


def _latex_label(method: str, names: Names, marks: Mapping[str, str] | None) -> str:
    mark = (marks or {}).get(method, "")
    label = latex_escape(names.method(method))
    label += "$^{*}$" if "*" in mark else ""
    return label + (r"$^{\ddagger}$" if "‡" in mark else "")


def ranks_csv(ranking: Ranking, metric: str, marks: Mapping[str, str] | None = None) -> str:
    """One line per method; the test's numbers repeat on every line (one file, no footer)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "method", "metric", "average_rank", "columns", "columns_dropped", "group",
            "friedman_chi2", "friedman_p", "iman_davenport_f", "iman_davenport_p", "alpha",
            "nemenyi_cd", "pair_fused", "supervised",
        ]
    )  # fmt: skip
    for method, rank, n, group in ranks_rows(ranking):
        writer.writerow(
            [
                method, metric, repr(rank), n, len(ranking.dropped), group,
                repr(ranking.friedman_chi2), repr(ranking.friedman_p),
                repr(ranking.iman_davenport_f), repr(ranking.iman_davenport_p),
                ranking.alpha, repr(ranking.cd),
                int("*" in (marks or {}).get(method, "")),
                int("‡" in (marks or {}).get(method, "")),
            ]
        )  # fmt: skip
    return buffer.getvalue()


def ranks_rich(ranking: Ranking, metric: str, names: Names, marks: Mapping[str, str] | None = None):
    """A rich renderable for the terminal: the table, then its notes (full width)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    out = Table(title=escape(f"Overall ranking, {names.metric(metric)}"))
    for header in ("Method", "Average rank", "Columns", "Group"):
        out.add_column(header, justify="left" if header == "Method" else "right")
    for method, rank, n, group in ranks_rows(ranking):
        label = names.method(method) + (marks or {}).get(method, "")
        out.add_row(escape(label), f"{rank:.3f}", str(n), group or "-")
    return Group(out, *(Text(note) for note in ranking_notes(ranking, names, marks)))
