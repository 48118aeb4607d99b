"""Figures of the results site, drawn with matplotlib and serialised as inline SVG.

Per dataset: the metric against code length and the Precision@K and precision-recall curves
(from the curves stored with every run; mean over seeds). The accuracy-efficiency plane is in
`site_plane.py`. Every method keeps the colour, marker and line of `hashbench.report.style`
(the same as `hashbench plot`), legends use display names with the tables' marks, and the PR
curve is the one `hashbench plot` draws: by Hamming radius, counts pooled over queries.

Figures are built on `matplotlib.figure.Figure` objects (no pyplot state). Panels have a fixed
size; the margins around them are measured from the text they hold (one text-layout pass, no
layout engine: a third of the drawing time), so tick labels never run into the axis labels;
the legend sits under the panels with an entry per drawn row and the style key as its title.
Text is 9-10 pt at the figure's own size, and a figure of one or two panels is at most as wide as
the narrowest figure column of the page (`COLUMN_PX`, report.css): never shrunk on a desktop.
Text stays text in the SVG (`svg.fonttype: none`: the browser's sans-serif, nothing fetched),
and each figure gets its own id salt so that the inlined SVGs' ids never collide.
"""

from __future__ import annotations

import io
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hashbench.report.comparison import TASK_NAMES
from hashbench.report.names import Names
from hashbench.report.style import legend_label, method_style, style_key
from hashbench.store import RunRecord

PANEL_W, PANEL_H = 3.1, 2.4  # inches, the plotting area of one panel
# Text sizes in points at the figure's own size. The page (report.css) shows a figure at
# most at its own size (1 in = 96 px) in a column at least COLUMN_PX wide, so a figure up to
# COLUMN_PX / 96 inches wide is never shrunk on a desktop window and 9 pt stays >= 9 pt.
TICK_PT, LABEL_PT, TITLE_PT, LEGEND_PT = 9, 10, 10, 9
COLUMN_PX = 780
PAD_IN = 0.1  # white space around the measured text
# record -> {task: PR curve with pooled counts}, for runs stored before they were kept
PRSource = Callable[[RunRecord], Mapping[str, Mapping[str, list]]]


@dataclass(frozen=True)
class FigureView:
    """One figure of the site: its kind, title, inline SVG and caption."""

    kind: str  # "vs-bits", "pk", "pr", "plane"
    title: str
    svg: str
    caption: str


@dataclass(frozen=True)
class Legend:
    """How a row label is named in legends: display name plus the tables' marks."""

    names: Names = field(default_factory=Names.cli)
    fused: frozenset[str] = frozenset()
    supervised: frozenset[str] = frozenset()

    def label(self, label: str) -> str:
        return legend_label(
            label, self.names, pair_fused=label in self.fused, supervised=label in self.supervised
        )


def panels(rows: int, cols: int):
    """A figure of rows x cols panels (sized later by `place`, once the legend is known)."""
    from matplotlib.figure import Figure

    fig = Figure()
    return fig, fig.subplots(rows, cols, squeeze=False)


def _fonts(grid) -> None:
    for ax in grid.ravel():
        ax.tick_params(labelsize=TICK_PT)
        ax.xaxis.label.set_fontsize(LABEL_PT)
        ax.yaxis.label.set_fontsize(LABEL_PT)
        ax.title.set_fontsize(TITLE_PT)


def _overhang(ax, renderer, dpi: float) -> tuple[float, float, float, float]:
    """How far (inches) the axis's tick labels, labels and title reach past its plotting area:
    (left, right, bottom, top)."""
    box, area = ax.get_tightbbox(renderer), ax.bbox
    return (
        max(0.0, (area.x0 - box.x0) / dpi),
        max(0.0, (box.x1 - area.x1) / dpi),
        max(0.0, (area.y0 - box.y0) / dpi),
        max(0.0, (box.y1 - area.y1) / dpi),
    )


def place(
    fig, rows: int, cols: int, handles: list, names: list[str], key: Sequence[str] = ()
) -> None:
    """Size the figure for panels of a fixed size, margins measured from the text they hold
    (tick labels never touch the axis labels), and the legend under the panels, its title the
    style key (`style.style_key`), columns as many as the panels' width holds."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    grid = np.asarray(fig.axes[: rows * cols], dtype=object).reshape(rows, cols)
    _fonts(grid)
    margin = 1.5  # generous while measuring; the panels already have their final size
    fig.set_size_inches(cols * (PANEL_W + margin) + margin, rows * (PANEL_H + margin) + margin)
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=margin / width, right=1 - margin / width, bottom=margin / height,
        top=1 - margin / height, wspace=margin / PANEL_W, hspace=margin / PANEL_H,
    )  # fmt: skip
    renderer = FigureCanvasAgg(fig).get_renderer()
    reach = [[_overhang(ax, renderer, fig.dpi) for ax in row] for row in grid]
    left = max(reach[r][0][0] for r in range(rows)) + PAD_IN
    right = max(reach[r][-1][1] for r in range(rows)) + PAD_IN
    top = max(reach[0][c][3] for c in range(cols)) + PAD_IN
    bottom = max(reach[-1][c][2] for c in range(cols)) + PAD_IN
    wgap = (
        max(
            (reach[r][c][1] + reach[r][c + 1][0] for r in range(rows) for c in range(cols - 1)),
            default=0.0,
        )
        + 2 * PAD_IN
    )
    hgap = (
        max(
            (reach[r][c][2] + reach[r + 1][c][3] for r in range(rows - 1) for c in range(cols)),
            default=0.0,
        )
        + 2 * PAD_IN
    )
    panels_w = cols * PANEL_W + (cols - 1) * wgap
    legend, legend_w, legend_h = None, 0.0, 0.0
    if names:
        legend, legend_w, legend_h = _legend_fitting(fig, handles, names, key, renderer,
                                                     left + panels_w + right)  # fmt: skip
    width = max(left + panels_w + right, legend_w + 2 * PAD_IN)
    height = top + rows * PANEL_H + (rows - 1) * hgap + bottom + legend_h
    fig.set_size_inches(width, height)
    fig.subplots_adjust(
        left=left / width,
        right=(left + panels_w) / width,
        bottom=(bottom + legend_h) / height,
        top=1 - top / height,
        wspace=wgap / PANEL_W,
        hspace=hgap / PANEL_H,
    )
    if legend is not None:
        legend.set_bbox_to_anchor(((left + panels_w / 2) / width, legend_h / height))
        if legend_w > left + panels_w + right:  # wider than the panels: centred on the figure
            legend.set_bbox_to_anchor((0.5, legend_h / height))


def _legend_fitting(fig, handles, names, key, renderer, width: float):
    """(legend, its width and height in inches) with as many columns as fit in `width`."""
    legend = None
    for ncol in range(min(len(names), 4), 0, -1):
        if legend is not None:
            legend.remove()
        legend = fig.legend(
            handles, names, loc="upper center", ncols=ncol, fontsize=LEGEND_PT,
            title="\n".join(key) or None, title_fontsize=LEGEND_PT, frameon=False,
            borderaxespad=0, columnspacing=1.2,
        )  # fmt: skip
        box = legend.get_window_extent(renderer)
        if box.width / fig.dpi <= width - 2 * PAD_IN or ncol == 1:
            break
    return legend, box.width / fig.dpi, box.height / fig.dpi + PAD_IN


def to_svg(fig, salt: str, zoom: float = 1.0) -> str:
    """The figure as an `<svg>` element to inline: no XML prolog, no metadata, scalable, shown
    at most `zoom` times its size (a figure drawn for print, 7 pt text, reads at 1.4)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)  # RDF, creator
    width = re.search(r'width="([0-9.]+)pt"', text)
    text = re.sub(r'\s(width|height)="[0-9.]+pt"', "", text, count=2)
    max_px = f"{float(width.group(1)) * 4 / 3 * zoom:.0f}px" if width else "100%"
    return text.replace("<svg", f'<svg role="img" style="max-width:{max_px}"', 1)


def _tasks(records: Sequence[RunRecord], key: str) -> list[str]:
    present = {t for r in records for t, v in r.metrics.items() if isinstance(v, dict) and key in v}
    return [t for t in TASK_NAMES if t in present] + sorted(present - set(TASK_NAMES))


def _legend(fig, grid, legend: Legend) -> None:
    """One entry per drawn row (its display name and marks), the style key as its title."""
    handles: dict[str, object] = {}
    drawn: list[str] = []
    for ax in grid.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(legend.label(label), handle)
            drawn.append(label)
    place(fig, *grid.shape, list(handles.values()), list(handles), style_key(drawn))


def _style(label: str, markers: bool = True) -> dict[str, object]:
    style = method_style(label).kwargs()
    if not markers:
        style["marker"] = None
    return style


def metric_vs_bits(
    records: Sequence[RunRecord],
    labels: Mapping[str, str],
    metric: str,
    legend: Legend,
    salt: str,
) -> FigureView | None:
    """The metric against code length, one line per variant (error bars: std over seeds)."""
    tasks = _tasks(records, metric)
    if not tasks:
        return None
    names = legend.names
    fig, grid = panels(1, len(tasks))
    all_bits = sorted({r.bits for r in records})
    for ax, task in zip(grid[0], tasks, strict=True):
        values: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r in records:
            value = r.metrics.get(task, {}).get(metric)
            if isinstance(value, int | float):
                values[labels[r.run_id]][r.bits].append(float(value))
        for label, per_bits in sorted(values.items()):
            bits = sorted(per_bits)
            means = [statistics.fmean(per_bits[b]) for b in bits]
            stds = [statistics.stdev(per_bits[b]) if len(per_bits[b]) > 1 else 0 for b in bits]
            style = {"markersize": 4, **_style(label)}  # the method's style wins
            ax.errorbar(bits, means, yerr=stds, capsize=2, label=label, **style)
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_bits, [str(b) for b in all_bits])
        ax.minorticks_off()
        ax.set_xlabel("Code length (bits)")
        ax.set_ylabel(names.metric(metric))
        ax.set_title(names.task(task), fontsize=10)
        ax.grid(alpha=0.3)
    _legend(fig, grid, legend)
    shown = names.metric(metric)
    caption = f"{shown} against code length; mean over seeds, error bars: std over seeds."
    return FigureView("vs-bits", f"{shown} vs code length", to_svg(fig, salt), caption)


def _pooled(curves: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Recall and precision per Hamming radius, averaged over seeds; radii where a seed has no
    pair within the radius (precision undefined) are left out (as `hashbench plot` does)."""
    precision = [[np.nan if v is None else v for v in c["pooled_precision"]] for c in curves]
    p = np.mean(np.asarray(precision, dtype=float), axis=0)
    r = np.mean(np.asarray([c["pooled_recall"] for c in curves], dtype=float), axis=0)
    keep = np.isfinite(p)
    return r[keep], p[keep]


def _curve(record: RunRecord, task: str, kind: str, pr_source: PRSource | None) -> dict | None:
    curve = (record.metrics.get(task, {}).get("curves") or {}).get(kind) or {}
    if kind == "pk":
        return curve if "k" in curve and "precision" in curve else None
    if "pooled_precision" not in curve and pr_source is not None:
        curve = dict((pr_source(record) or {}).get(task) or {})
    return curve if "pooled_precision" in curve and "pooled_recall" in curve else None


def curves(
    records: Sequence[RunRecord],
    labels: Mapping[str, str],
    bits: int,
    kind: str,
    legend: Legend,
    salt: str,
    pr_source: PRSource | None = None,
) -> tuple[FigureView | None, int]:
    """(P@K (kind "pk") or PR (kind "pr") curves at one code length, runs left out).

    A run is left out of the PR figure when it was stored before pooled counts were kept and
    `pr_source` (recomputation from its codes) is not given.
    """
    chosen = [r for r in records if r.bits == bits]
    found: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    left_out = set()
    for task in _tasks(chosen, "curves"):
        for r in chosen:
            curve = _curve(r, task, kind, pr_source)
            if curve is None:
                left_out.add(r.run_id)
            else:
                found[task][labels[r.run_id]].append(curve)
    tasks = [t for t in TASK_NAMES if t in found] + sorted(set(found) - set(TASK_NAMES))
    if not tasks:
        return None, len(left_out)
    names = legend.names
    fig, grid = panels(1, len(tasks))
    for ax, task in zip(grid[0], tasks, strict=True):
        for label, items in sorted(found[task].items()):
            if kind == "pk":
                same = [c for c in items if len(c["k"]) == len(items[0]["k"])]
                x = np.mean([c["k"] for c in same], axis=0)
                y = np.mean([c["precision"] for c in same], axis=0)
            else:
                n = len(items[0]["pooled_recall"])  # bits + 1 radii
                x, y = _pooled([c for c in items if len(c["pooled_recall"]) == n])
            ax.plot(x, y, lw=1.3, label=label, markevery=max(1, len(x) // 8), **_style(label))
        if kind == "pk":
            ax.set_xscale("log")
            ax.set_xlabel("Retrieved items K")
            ax.set_ylabel("Precision@K")
        else:
            ax.set_xlim(-0.02, 1.02)
            ax.set_xlabel("Recall")
            ax.set_ylabel("Precision")
        ax.set_title(names.task(task), fontsize=10)
        ax.grid(alpha=0.3)
    _legend(fig, grid, legend)
    if kind == "pk":
        title = f"Precision@K, {bits} bits"
        caption = f"Precision of the top K retrieved items at {bits} bits, mean over seeds."
    else:
        title = f"Precision-recall, {bits} bits"
        caption = (
            f"Precision against recall by Hamming radius r = 0..{bits} at {bits} bits, from "
            "counts pooled over all queries (precision: relevant pairs within r / pairs within "
            "r); radii with no pair within them are not drawn; mean over seeds."
        )
    if left_out:
        caption += f" Left out: {len(left_out)} run(s) without stored curves of this kind."
    return FigureView(kind, title, to_svg(fig, salt), caption), len(left_out)
