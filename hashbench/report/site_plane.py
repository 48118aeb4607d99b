"""The accuracy-efficiency plane of the results site: the metric against energy per query,
parameters and latency per query (log scales), one row of panels per task, with the Pareto
front drawn and ANN and SNN methods told apart by marker (▲ SNN, ● ANN).

One point per method variant, dataset and code length (means over seeds, `EfficiencyPoint`);
the points of a variant are joined in order of code length and keep the variant's colour of
`hashbench.report.style`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from hashbench.report.pareto import front_steps
from hashbench.report.site_figures import FigureView, Legend, panels, place, to_svg
from hashbench.report.site_model import EfficiencyPoint
from hashbench.report.style import method_style

MARKERS = {True: "^", False: "o", None: "s"}  # SNN, ANN, unknown
KIND_NAMES = {True: "SNN (spiking)", False: "ANN", None: "kind unknown"}
PLANE_AXES = (
    ("energy_uj", "Energy per query (µJ)"),
    ("params", "Parameters"),
    ("latency_us", "Latency per query (µs)"),
)
FRONT = "Pareto front"
_MAX_ANNOTATED = 40  # label points with their code length up to this many per panel


def compact(value: float) -> str:
    """A tick label: 0.08, 2, 150, 33k, 2.2M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _log_ticks(ax, low: float, high: float) -> None:
    """Plainly labelled ticks on a log axis from `low` to `high`: at 1, 2 and 5 per decade
    over a short span, fewer over a long one (matplotlib's own crowd short spans with
    scientific minor labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    decades = math.log10(high / low) if low > 0 and high > low else 0.0
    subs = (1.0, 2.0, 5.0) if decades < 1.6 else (1.0, 3.0) if decades < 2.6 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def plane(
    points: Sequence[EfficiencyPoint],
    metric: str,
    formula: str,
    legend: Legend,
    salt: str,
) -> FigureView | None:
    """The plane of one dataset's points as inline SVG, or None when no point has a cost."""
    found = plane_figure(points, metric, formula, legend)
    if found is None:
        return None
    fig, caption = found
    return FigureView("plane", "Accuracy-efficiency plane", to_svg(fig, salt), caption)


def plane_figure(
    points: Sequence[EfficiencyPoint], metric: str, formula: str, legend: Legend
) -> tuple[object, str] | None:
    """(matplotlib Figure, caption) of the plane, for any output format (`fig.savefig`), or
    None when no point has a cost to plot."""
    tasks = sorted({t for p in points for t in p.scores}, key=lambda t: (t != "i2t", t))
    axes_used = [(key, name) for key, name in PLANE_AXES if any(getattr(p, key) for p in points)]
    if not tasks or not axes_used:
        return None
    names = legend.names
    fig, grid = panels(len(tasks), len(axes_used))
    for row, task in enumerate(tasks):
        for col, (key, name) in enumerate(axes_used):
            ax = grid[row][col]
            shown = [p for p in points if task in p.scores and (getattr(p, key) or 0) > 0]
            _panel(ax, shown, key, task)
            ax.set_xlabel(name)
            ax.set_ylabel(f"{names.metric(metric)}, {names.task(task)}", fontsize=9)
    _kind_legend(fig, grid, points, legend)
    unknown = any(p.spiking is None for p in points)
    caption = (
        f"{names.metric(metric)} against cost per query, one point per method, dataset and "
        "code length (mean over seeds; numbers: code length); dashed staircase: the Pareto "
        "front (no other point is cheaper and at least as accurate). Markers: ▲ SNN (spiking "
        f"layers with measured firing rates), ● ANN{', ■ unknown' if unknown else ''}. Energy: "
        f"{formula}; latency: median batch latency divided by the batch size, on the device "
        "named in the efficiency table."
    )
    return fig, caption


def _panel(ax, shown: Sequence[EfficiencyPoint], key: str, task: str) -> None:
    by_label: dict[str, list[EfficiencyPoint]] = defaultdict(list)
    for p in shown:
        by_label[p.label].append(p)
    for label, group in sorted(by_label.items()):
        group.sort(key=lambda p: p.bits)
        xs = [getattr(p, key) for p in group]
        ys = [p.scores[task] for p in group]
        style = method_style(label)
        ax.plot(xs, ys, color=style.color, ls=style.linestyle, lw=0.8, alpha=0.5)
        ax.scatter(
            xs,
            ys,
            marker=MARKERS[group[0].spiking],
            s=30,
            color=style.color if style.filled else "white",  # tuned, as released: hollow
            edgecolors="black" if style.filled else style.color,
            linewidths=0.4 if style.filled else 1.2,
            label=label,
            zorder=3,
        )
        if len(shown) <= _MAX_ANNOTATED:
            for p, x, y in zip(group, xs, ys, strict=True):
                ax.annotate(
                    str(p.bits), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=8
                )
    if shown:
        costs = [getattr(p, key) for p in shown]
        xs, ys = front_steps([(getattr(p, key), p.scores[task]) for p in shown])
        ax.plot(
            xs + [max(costs)],
            ys + [ys[-1]],
            drawstyle="steps-post",
            color="black",
            ls="--",
            lw=1,
            label=FRONT,
            zorder=2,
        )
        ax.set_xscale("log")
        _log_ticks(ax, min(costs), max(costs))
    ax.grid(alpha=0.3)


def _kind_legend(fig, grid, points: Sequence[EfficiencyPoint], legend: Legend) -> None:
    """Method colours, then one grey marker per kind present (ANN / SNN), then the front."""
    from matplotlib.lines import Line2D

    handles: dict[str, object] = {}
    for ax in grid.ravel():
        for label in ax.get_legend_handles_labels()[1]:
            if label != FRONT:
                style = method_style(label)
                handles.setdefault(
                    legend.label(label),
                    Line2D([], [], marker="o", ls=style.linestyle, lw=0.8, markersize=6,
                           color=style.color,
                           markerfacecolor=style.color if style.filled else "white"),
                )  # fmt: skip
    for spiking in sorted({p.spiking for p in points}, key=lambda s: (s is None, not s)):
        handles[KIND_NAMES[spiking]] = Line2D(
            [],
            [],
            marker=MARKERS[spiking],
            ls="",
            color="#bbbbbb",
            markeredgecolor="black",
            markersize=7,
        )
    handles[FRONT] = Line2D([], [], color="black", ls="--", lw=1)
    place(fig, *grid.shape, list(handles.values()), list(handles))
