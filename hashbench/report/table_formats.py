"""Renderings of a comparison table: terminal (rich), Markdown, LaTeX (booktabs) and CSV."""

from __future__ import annotations

import csv
import io

from hashbench.errors import InputError
from hashbench.report.comparison import DEGENERATE_MARK, MARK_NAMES, Cell, ComparisonTable
from hashbench.report.latex_layout import (
    TASK_NOTE,
    TASK_SHORT,
    dataset_headers,
    row_labels,
    wrap_width,
)
from hashbench.report.latex_text import latex_escape, latex_note
from hashbench.report.markdown_text import markdown_escape
from hashbench.report.names import Names
from hashbench.report.variants import is_as_released

LATEX_MARK_STYLES = {
    "bold": r"\textbf{%s}",
    "underline": r"\underline{%s}",
    "italic": r"\textit{%s}",
    "plain": "%s",
}
DEFAULT_LATEX_MARKS = ("bold", "underline", "italic")
RICH_MARK_STYLES = ("bold green", "cyan", "yellow")
MARKDOWN_MARKS = ("**%s**", "*%s*", "%s")
# Off a terminal colours are lost: every marked cell also ends in its rank, " (1)", " (2)",
# " (3)" (" (1,2)" for a row holding two letters), which reads the same as plain text and in
# rendered Markdown, and cannot be taken for the superscript ⁰ or the letters ^ab.
RANK_TAG = " (%s)"
MARKDOWN_LEGEND = (
    "Marks per column and task: best **bold** (1), second *italic* (2), third (3); "
    "the number after a value is its rank."
)
TEXT_LEGEND = "Marks (rank after the value): best (1), second (2), third (3)"


def format_cell(
    cell: Cell | None,
    digits: int = 4,
    plus_minus: str = "±",
    dash: str = "–",
    ci_format: str = " ±%s",
    zero: str = DEGENERATE_MARK,
    letters: str = "^%s",
    near: str = "≈",
) -> str:
    """mean[⁰][^letters][≈] [± std over seeds | ± bootstrap half-width (ci_format) | ± n/a]
    [tie range]; `zero` marks a cell with a run whose codes are all identical, `letters` the
    test's compact letters, `near` a mark near the test's threshold."""
    if cell is None:
        return "-"
    text = f"{cell.mean:.{digits}f}" + (zero if cell.degenerate else "")
    if cell.letters:
        text += letters % cell.letters
    if cell.near:
        text += near
    if cell.ci_low is not None and cell.ci_high is not None:  # shown instead of the std
        half = max(cell.ci_high - cell.mean, cell.mean - cell.ci_low)
        text += ci_format % f"{half:.{digits}f}"
    elif cell.ci_na:  # too few queries for an interval (a footnote says why)
        text += ci_format % "n/a"
    elif cell.std is not None:
        text += f" {plus_minus} {cell.std:.{digits}f}"
    if cell.low is not None and cell.high is not None:
        text += f" [{cell.low:.{digits}f}{dash}{cell.high:.{digits}f}]"
    return text


def _marks_of(cell: Cell | None) -> tuple[int, ...]:
    """Every mark of a cell, innermost first (a row of letters "ab" is best and second)."""
    if cell is None or not cell.rank:
        return ()
    return tuple(reversed(cell.marks or (cell.rank,)))


def rank_tag(cell: Cell | None) -> str:
    """The cell's marks as text, " (1)" for best, " (1,2)" for a row that is best and second
    (a row of letters "ab"); "" for an unmarked cell."""
    marks = sorted(_marks_of(cell))
    return RANK_TAG % ",".join(map(str, marks)) if marks else ""


def _marked(table: ComparisonTable, method: str, names: Names, pair: str, sup: str) -> str:
    """The row's method, as `names` shows it, with the pair-fused and supervised marks."""
    marks = pair if method in table.pair_fused else ""
    marks += sup if method in table.supervised else ""
    return names.method(method) + marks


def to_markdown(table: ComparisonTable, names: Names | None = None) -> str:
    """A Markdown table and its footnotes, one paragraph each. `names`: display names of
    methods, datasets and tasks (default: the command-line names)."""
    names = names or Names.cli()
    md = markdown_escape
    header = ["Task", "Method", *(f"{md(names.dataset(d))} {b} bits" for d, b in table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for task, method in table.rows:
        cells = []
        for column in table.columns:
            cell = table.value((task, method), column)
            text = format_cell(cell)
            for mark in _marks_of(cell):
                text = MARKDOWN_MARKS[mark - 1] % text
            cells.append(text + rank_tag(cell))
        label = md(names.method(method))
        label += ("\\*" if method in table.pair_fused else "") + (
            "‡" if method in table.supervised else ""
        )
        lines.append("| " + " | ".join([md(names.task(task)), label, *cells]) + " |")
    # every note escaped: a leading "* " (the pair-fused mark) would start a list item
    notes = [MARKDOWN_LEGEND, *(md(n) for n in table.notes())]
    return "\n".join(lines) + "\n\n" + "\n\n".join(notes)


def _ci_end(cell: Cell, value: float | None) -> str:
    if cell.ci_na:
        return "n/a"
    return "" if value is None else repr(value)


def to_csv(table: ComparisonTable) -> str:
    """One line per (task, method, dataset, bits) with mean, std, seeds, rank, tie range, the
    bootstrap interval (with --ci; "n/a" below MIN_QUERIES queries), the Holm-adjusted p-value
    of the mark's test, whether a run of the cell had all-identical codes (1), and with a test:
    the row's letters, every mark it carries, the row its p-value compares against, the
    p-value's Monte-Carlo standard error, near the threshold (1), why it is unmarked; last,
    whether the row is an as-released run's (1: selected as its released code does, §)."""
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
            "all_codes_identical",
            "letters",
            "marks",
            "p_versus",
            "p_mc_se",
            "near_threshold",
            "unmarked",
            "as_released",
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
                    _ci_end(cell, cell.ci_low),
                    _ci_end(cell, cell.ci_high),
                    "" if cell.pvalue is None else repr(cell.pvalue),
                    int(cell.degenerate),
                    cell.letters or "",
                    ";".join(map(str, cell.marks)),
                    cell.p_vs or "",
                    "" if cell.p_mc_se is None else repr(cell.p_mc_se),
                    int(cell.near),
                    cell.unmarked or "",
                    int(is_as_released(method)),
                ]
            )
    return buffer.getvalue()


_LATEX_MARK_WORDS = {
    "bold": "in bold",
    "underline": "underlined",
    "italic": "in italics",
    "plain": "plain",
}


def to_latex(
    table: ComparisonTable,
    marks: tuple[str, ...] = DEFAULT_LATEX_MARKS,
    names: Names | None = None,
    width: str = "natural",
) -> str:
    r"""A booktabs tabular (one column group per dataset, one column per code length), then
    its footnotes as a `\footnotesize` block that prints under the table: what the values are,
    the marks, and every symbol used (pair-fused *, supervised ‡, reported †, as released §,
    ±). As-released rows follow a light rule after the fair rows of their task.

    marks: the style of best / second / third, each one of LATEX_MARK_STYLES. names: display
    names of methods, datasets and tasks (default: the command-line names). Headers and row
    labels are short, details in the footnotes (`latex_layout`). width: "natural" (needs
    `\usepackage{booktabs}`; nothing else) or "linewidth" (scaled to the line, `\resizebox`,
    needs graphicx too, with a comment on top saying so and that table* spans two columns).
    """
    for style in marks:
        if style not in LATEX_MARK_STYLES:
            raise InputError(
                f"--marks: unknown style '{style}'; choose from {', '.join(LATEX_MARK_STYLES)}"
            )
    if len(marks) != len(MARK_NAMES):
        raise InputError(f"--marks needs {len(MARK_NAMES)} styles (best,second,third)")
    names = names or Names.cli()
    datasets = []
    for dataset, _ in table.columns:
        if dataset not in datasets:
            datasets.append(dataset)
    spans = {d: sum(1 for c in table.columns if c[0] == d) for d in datasets}
    headers, dataset_notes = dataset_headers({d: names.dataset(d) for d in datasets})
    labels, label_notes = row_labels(names.method(m) for _, m in table.rows)
    if not names.display:  # --names cli: every name and label exactly as typed and stored
        labels, label_notes = {names.method(m): names.method(m) for _, m in table.rows}, []
    groups = " & ".join(
        rf"\multicolumn{{{spans[d]}}}{{c}}{{{latex_escape(headers[d])}}}" for d in datasets
    )
    # 6pt between columns instead of 12, none outside (booktabs style): 12 columns of means are
    # then about 530pt at \small, still over a table* of a two-column article (469pt), so a
    # Table I layout takes --latex-width linewidth (README, tests/test_latex_width.py)
    spec = "@{}" + r"@{\hspace{6pt}}".join("ll" + "c" * len(table.columns)) + "@{}"
    out = [r"\begin{tabular}{" + spec + "}", r"\toprule"]
    out.append(r" & & " + groups + r" \\")
    start = 3
    rules = []
    for d in datasets:
        rules.append(rf"\cmidrule(lr){{{start}-{start + spans[d] - 1}}}")
        start += spans[d]
    out.append(" ".join(rules))
    out.append(r"Task & Method & " + " & ".join(str(b) for _, b in table.columns) + r" \\")
    out.append(r"\midrule")
    previous_task = None
    for task, method in table.rows:
        if previous_task is not None and task != previous_task:
            out.append(r"\midrule")
        if _first_released(table, task, method):
            out.append(rf"\cmidrule(lr){{2-{2 + len(table.columns)}}}")
        short = TASK_SHORT.get(task) if names.display else None
        shown_task = latex_escape(short or names.task(task))
        shown_task = shown_task if task != previous_task else ""
        cells = []
        for column in table.columns:
            cell = table.value((task, method), column)
            text = format_cell(
                cell,
                plus_minus=r"$\pm$",
                dash="--",
                ci_format=r" {\scriptsize $\pm$%s}",
                zero=r"$^{0}$",
                letters=r"$^{%s}$",
                near=r"$^{\approx}$",
            )
            for mark in _marks_of(cell):
                text = LATEX_MARK_STYLES[marks[mark - 1]] % text
            cells.append(text)
        label = latex_escape(labels[names.method(method)])
        label += "$^{*}$" if method in table.pair_fused else ""
        label += r"$^{\ddagger}$" if method in table.supervised else ""
        out.append(" & ".join([shown_task, label, *cells]) + r" \\")
        previous_task = task
    out = wrap_width(out + [r"\bottomrule", r"\end{tabular}"], width, len(table.columns))
    words = [_LATEX_MARK_WORDS[style] for style in marks]
    legend = (
        f"Values: {names.metric(table.metric)}, mean over seeds; columns: dataset and code "
        "length in bits. Best per column and task "
        f"{words[0]}, second {words[1]}, third {words[2]}; a column with one method is not "
        "ranked."
        + (" A row with several letters carries each letter's mark." if table.significance else "")
    )
    tasks = [TASK_NOTE] if names.display and any(t in TASK_SHORT for t, _ in table.rows) else []
    shortened = [*dataset_notes, *label_notes, *tasks]
    notes = [latex_escape(legend), *map(latex_escape, shortened)]
    notes += [latex_note(note) for note in table.notes()]
    out += [r"\par\smallskip", r"\begin{minipage}{\linewidth}\footnotesize"]
    out += [note + r"\par" for note in notes]
    out.append(r"\end{minipage}")
    return "\n".join(out) + "\n"


def to_rich(
    table: ComparisonTable,
    title: str | None = None,
    names: Names | None = None,
    text_marks: bool = False,
):
    """A rich Table for the terminal (`names`: default, the command-line names). Marks are
    colours; with `text_marks` (for output that is not a colour terminal: a pipe, a file,
    NO_COLOR) every marked cell also ends in its rank, " (1)", and the legend says so."""
    from rich.markup import escape
    from rich.table import Table

    names = names or Names.cli()
    legend = "Marks: " + ", ".join(
        f"[{style}]{name}[/]" for name, style in zip(MARK_NAMES, RICH_MARK_STYLES, strict=True)
    )
    if text_marks:
        legend = TEXT_LEGEND
    caption = "\n".join([legend, *(escape(note) for note in table.notes())])
    out = Table(title=escape(title or table.metric), caption=caption)
    out.add_column("Task")
    out.add_column("Method")
    for dataset, bits in table.columns:
        out.add_column(escape(f"{names.dataset(dataset)}\n{bits} bits"), justify="right")
    previous_task, previous_method = None, ""
    for task, method in table.rows:
        after_released = previous_task != task and is_as_released(previous_method)
        if after_released or (_first_released(table, task, method) and previous_task == task):
            out.add_section()  # rules around the as-released rows
        cells = []
        for column in table.columns:
            cell = table.value((task, method), column)
            text = format_cell(cell)
            if cell is not None and cell.rank:
                text = f"[{RICH_MARK_STYLES[cell.rank - 1]}]{text}[/]"
                text += rank_tag(cell) if text_marks else ""
            cells.append(text)
        shown = names.task(task) if task != previous_task else ""
        out.add_row(escape(shown), escape(_marked(table, method, names, "*", "‡")), *cells)
        previous_task, previous_method = task, method
    return out


def _first_released(table: ComparisonTable, task: str, method: str) -> bool:
    """Whether (task, method) is its task's first as-released row after some other row."""
    rows = [m for t, m in table.rows if t == task]
    first = next((m for m in rows if is_as_released(m)), None)
    return method == first and rows[0] != first
