"""The critical-difference diagram of an overall ranking (Demšar, JMLR 2006, Fig. 1).

A rank axis (1 = best, on the left) with the Nemenyi CD drawn above it; each method hangs from
its average rank by an elbow to its name (the better half on the left, the rest on the right),
in the method's colour and marker of `hashbench.report.style`; thick bars under the axis join
the groups of methods whose average ranks lie within CD (none when the Friedman test does not
reject: then the caption says that no pair is separated). Drawn on a `matplotlib.figure.Figure`
(no pyplot state), sized for a paper's one- or two-column layout; `save_cd_diagram` writes a
vector PDF and a PNG (`plot_cd_diagram`: `hashbench plot`); `overall_ranking` is the report's
"Overall ranking" section (rank table, notes and the diagram as inline SVG).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hashbench.errors import InputError
from hashbench.report.comparison import ComparisonTable, build_table
from hashbench.report.names import Names
from hashbench.report.style import LAYOUTS, method_style, paper_rc
from hashbench.stats.ranking import Ranking
from hashbench.store import RunRecord

STEM = "cd_diagram"
ROW_IN = 0.17  # inches per label row
GROUP_IN = 0.07  # inches per group bar under the axis
TOP_IN = 0.62  # title, CD bar and tick labels above the axis
MAX_SIDE = 0.3  # at most this share of the width on each side for the labels
BARS_IN = 0.1  # the first group bar under the axis (clear of the markers)
SITE_ZOOM = 1.4  # the report shows the print-sized diagram this much larger: 7 pt -> 13 px


def caption(ranking: Ranking) -> str:
    """What the figure shows, for a caption or the report."""
    if ranking.rejected:
        bars = "Bars join methods whose average ranks differ by at most CD (not separated)."
    else:
        bars = (
            f"The Friedman test does not reject equal ranks (p = {ranking.friedman_p:.3g}): "
            "no pair is separated, so no bars are drawn."
        )
    return (
        f"Average ranks over {ranking.n} columns (dataset x bits x task), 1 = best; "
        f"Nemenyi CD = {ranking.cd:.3f} at alpha = {ranking.alpha:g} (Demšar 2006). {bars}"
    )


def draw_cd_diagram(
    ranking: Ranking,
    names: Names | None = None,
    layout: str = "one-column",
    marks: Mapping[str, str] | None = None,
):
    """The diagram as a matplotlib Figure of the layout's width. marks: {method: the table's
    marks} (pair-fused *, supervised ‡), explained in a note under the diagram."""
    from matplotlib.figure import Figure

    names = names or Names.cli()
    width = LAYOUTS[layout]
    k = ranking.k
    half = (k + 1) // 2  # the better half labelled on the left
    rows = max(half, k - half)
    bars = list(ranking.groups) if ranking.rejected else []
    labels = [
        f"{names.method(m)}{(marks or {}).get(m, '')} ({r:.2f})"
        for m, r in zip(ranking.methods, ranking.average_ranks, strict=True)
    ]
    # the report's inline SVG sets labels in the browser's sans-serif, often wider than the
    # font measured here: leave room for it
    needed = (1.15 * max(_text_width(s) for s in labels) + 0.25) / width
    side = min(MAX_SIDE, max(0.14, needed))
    font = max(5.0, 7.0 * min(1.0, side / needed))  # long labels: smaller text, not a tiny axis
    x0, x1 = side, 1.0 - side
    notes = _notes(set((marks or {}).values()))
    height = TOP_IN + BARS_IN + len(bars) * GROUP_IN + (rows + 0.6 + len(notes)) * ROW_IN

    def x(rank: float) -> float:
        return x0 + (rank - 1.0) / (k - 1) * (x1 - x0)

    def y(inches: float) -> float:  # inches below the axis -> axes fraction
        return 1.0 - (TOP_IN + inches) / height

    with _rc():
        fig = Figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
        axis_y = y(0.0)
        ax.plot([x0, x1], [axis_y, axis_y], color="black", lw=0.8)
        for tick in range(1, k + 1):
            ax.plot([x(tick)] * 2, [axis_y, axis_y + 0.06 / height], color="black", lw=0.6)
            ax.text(
                x(tick), axis_y + 0.09 / height, str(tick), ha="center", va="bottom", fontsize=7
            )
        cd_y = axis_y + 0.38 / height
        end = x(min(1.0 + ranking.cd, float(k)))
        ax.plot([x(1.0), end], [cd_y, cd_y], color="black", lw=0.9)
        for edge in (x(1.0), end):
            ax.plot(
                [edge, edge], [cd_y - 0.04 / height, cd_y + 0.04 / height], color="black", lw=0.9
            )
        ax.text(
            x(1.0),
            cd_y + 0.06 / height,
            f"CD = {ranking.cd:.2f}",
            ha="left",
            va="bottom",
            fontsize=7,
        )
        for n, group in enumerate(bars):
            ranks = [ranking.rank_of(m) for m in group]
            bar_y = y(BARS_IN + n * GROUP_IN)
            ax.plot(
                [x(min(ranks)) - 0.006, x(max(ranks)) + 0.006],
                [bar_y, bar_y],
                color="black",
                lw=2.2,
                solid_capstyle="butt",
            )
        below = BARS_IN + len(bars) * GROUP_IN + 0.05
        for i, (method, rank) in enumerate(
            zip(ranking.methods, ranking.average_ranks, strict=True)
        ):
            left = i < half
            row = i if left else k - 1 - i
            label_y = y(below + (row + 0.5) * ROW_IN)
            style = method_style(method)
            edge_x = x0 - 0.02 if left else x1 + 0.02
            ax.plot(
                [x(rank), x(rank), edge_x],
                [axis_y, label_y, label_y],
                color=style.color,
                lw=0.8,
                linestyle=style.linestyle,
            )
            ax.plot(
                [x(rank)],
                [axis_y],
                marker=style.marker,
                color=style.color,
                ms=6.5 if style.marker == "*" else 4,
                markerfacecolor=style.color if style.filled else "white",
                linestyle="none",
            )
            ax.text(
                edge_x + (-0.01 if left else 0.01),
                label_y,
                labels[i],
                ha="right" if left else "left",
                va="center",
                fontsize=font,
                color=style.color,
            )
        for n, note in enumerate(notes):
            ax.text(0.02, (len(notes) - n - 0.4) * ROW_IN / height, note, fontsize=6.5)
    return fig


def _notes(marks: set[str]) -> list[str]:
    from hashbench.report.plots import PAIR_FUSED_LEGEND, SUPERVISED_LEGEND

    used = "".join(marks)
    return [PAIR_FUSED_LEGEND] * ("*" in used) + [SUPERVISED_LEGEND] * ("‡" in used)


def _text_width(text: str, size: float = 7.0) -> float:
    """Width in inches of `text` at `size` points in the default font (no renderer needed)."""
    from matplotlib.textpath import TextPath

    return TextPath((0, 0), text, size=size).get_extents().width / 72.0


def _rc():
    import matplotlib

    return matplotlib.rc_context(paper_rc())


def save_cd_diagram(
    ranking: Ranking,
    out_dir: Path,
    names: Names | None = None,
    layout: str = "one-column",
    marks: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write `cd_diagram.png` and `cd_diagram.pdf` (vector, the layout's width) to `out_dir`."""
    fig = draw_cd_diagram(ranking, names, layout, marks)
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf, png = out_dir / f"{STEM}.pdf", out_dir / f"{STEM}.png"
    with _rc():
        fig.savefig(pdf, metadata={"CreationDate": None})
        fig.savefig(png, dpi=200)
    return [png, pdf]


def plot_cd_diagram(
    records: Iterable[RunRecord],
    metric: str,
    out_dir: Path,
    *,
    names: Names | None = None,
    layout: str = "one-column",
    labels: Mapping[str, str] | None = None,
    alpha: float = 0.05,
) -> tuple[list[Path], str | None]:
    """`hashbench plot`'s diagram of the table's rows (`labels`, as `hashbench table`):
    (files written, None), or ([], why not) with fewer than 2 methods or usable columns."""
    from hashbench.report.ranks_table import table_marks, table_ranking

    try:
        table = build_table(records, metric, labels=labels)
        ranking = table_ranking(table, alpha)
    except InputError as exc:
        return [], str(exc)
    return save_cd_diagram(ranking, out_dir, names, layout, table_marks(table)), None


def cd_svg(
    ranking: Ranking,
    names: Names | None = None,
    salt: str = "cd",
    marks: Mapping[str, str] | None = None,
) -> str:
    """The diagram as an inline `<svg>` for the report: drawn at the two-column width for print
    (7 pt text), shown up to SITE_ZOOM times larger so that its labels read like the page's."""
    from hashbench.report.site_figures import to_svg

    return to_svg(draw_cd_diagram(ranking, names, "two-column", marks), salt, SITE_ZOOM)


@dataclass(frozen=True)
class OverallRanking:
    """The report's "Overall ranking" section: the rank table, its notes and the CD diagram
    (`why_not` instead when the table cannot be ranked)."""

    metric: str
    rows: tuple[tuple[str, float, int, str], ...] = ()  # (label shown, rank, columns, group)
    notes: tuple[str, ...] = ()
    svg: str = ""
    caption: str = ""
    why_not: str = ""


def overall_ranking(
    table: ComparisonTable, names: Names, alpha: float = 0.05, salt: str = "rank"
) -> OverallRanking:
    """The section for `table` (its methods ranked over its columns)."""
    from hashbench.report.ranks_table import ranking_notes, ranks_rows, table_marks, table_ranking

    shown = names.metric(table.metric)
    try:
        ranking = table_ranking(table, alpha)
    except InputError as exc:
        return OverallRanking(shown, why_not=str(exc))
    marks = table_marks(table)
    return OverallRanking(
        metric=shown,
        rows=tuple(
            (names.method(m) + marks.get(m, ""), r, n, g) for m, r, n, g in ranks_rows(ranking)
        ),
        notes=tuple(ranking_notes(ranking, names, table_marks(table))),
        svg=cd_svg(ranking, names, salt, marks),
        caption=caption(ranking),
    )
