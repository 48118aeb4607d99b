"""Figures of the results site, drawn with matplotlib and serialised as inline SVG.

Per dataset: the metric against code length, Precision@K and precision-recall curves (from the
curves stored with every run; mean over seeds), and the accuracy-efficiency plane: the metric
against energy per query, parameters and latency, with the Pareto front drawn and ANN and SNN
methods told apart by marker. A method variant keeps one colour in every figure.

Figures are built on `matplotlib.figure.Figure` objects (no pyplot state), text stays text in
the SVG (`svg.fonttype: none`, the browser's own sans-serif font, nothing fetched) and each
figure gets its own id salt so that the inlined SVGs' ids never collide.
"""

from __future__ import annotations

import io
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hashbench.report.comparison import TASK_NAMES
from hashbench.report.pareto import front_steps
from hashbench.report.site_model import EfficiencyPoint
from hashbench.store import RunRecord

MARKERS = {True: "^", False: "o", None: "s"}  # SNN, ANN, unknown
KIND_NAMES = {True: "SNN (spiking)", False: "ANN", None: "kind unknown"}
PLANE_AXES = (
    ("energy_uj", "energy per query (µJ)"),
    ("params", "parameters"),
    ("latency_us", "latency per query (µs)"),
)
_MAX_ANNOTATED = 40  # annotate points with their code length up to this many per panel


@dataclass(frozen=True)
class FigureView:
    """One figure of the site: its kind, title, inline SVG and caption."""

    kind: str  # "vs-bits", "pk", "pr", "plane"
    title: str
    svg: str
    caption: str


def colours(labels: Iterable[str]) -> dict[str, str]:
    """A fixed colour per row label (sorted), from matplotlib's qualitative maps."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    names = sorted(set(labels))
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    n = cmap.N
    if len(names) <= n:
        return {name: to_hex(cmap(i)) for i, name in enumerate(names)}
    hsv = colormaps["hsv"]
    return {name: to_hex(hsv(i / len(names))) for i, name in enumerate(names)}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def to_svg(fig, salt: str) -> str:
    """The figure as an `<svg>` element to inline: no XML prolog, scalable to its box."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)  # RDF, creator
    width = re.search(r'width="([0-9.]+)pt"', text)
    text = re.sub(r'\s(width|height)="[0-9.]+pt"', "", text, count=2)
    max_px = f"{float(width.group(1)) * 4 / 3:.0f}px" if width else "100%"
    return text.replace("<svg", f'<svg role="img" style="max-width:{max_px}"', 1)


def _tasks(records: Sequence[RunRecord], metric: str) -> list[str]:
    present = {
        t for r in records for t, v in r.metrics.items() if isinstance(v, dict) and metric in v
    }
    return [t for t in TASK_NAMES if t in present] + sorted(present - set(TASK_NAMES))


def _legend(fig, axes) -> None:
    handles, names = {}, []
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            if name not in handles:
                handles[name] = handle
                names.append(name)
    if names:
        fig.legend(
            [handles[n] for n in names],
            names,
            loc="outside right upper",
            fontsize=8,
            frameon=False,
        )


def metric_vs_bits(
    records: Sequence[RunRecord],
    labels: Mapping[str, str],
    metric: str,
    palette: Mapping[str, str],
    salt: str,
) -> FigureView | None:
    """The metric against code length, one line per variant (error bars: std over seeds)."""
    tasks = _tasks(records, metric)
    if not tasks:
        return None
    fig = _figure(3.9 * len(tasks) + 2.2, 3.4)
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    all_bits = sorted({r.bits for r in records})
    for ax, task in zip(axes, tasks, strict=True):
        values: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r in records:
            value = r.metrics.get(task, {}).get(metric)
            if isinstance(value, int | float):
                values[labels[r.run_id]][r.bits].append(float(value))
        for label, per_bits in sorted(values.items()):
            bits = sorted(per_bits)
            means = [statistics.fmean(per_bits[b]) for b in bits]
            stds = [statistics.stdev(per_bits[b]) if len(per_bits[b]) > 1 else 0 for b in bits]
            ax.errorbar(
                bits,
                means,
                yerr=stds,
                marker="o",
                ms=4,
                capsize=2,
                label=label,
                color=palette.get(label),
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_bits, [str(b) for b in all_bits])
        ax.minorticks_off()
        ax.set_xlabel("code length (bits)")
        ax.set_ylabel(metric)
        ax.set_title(TASK_NAMES.get(task, task), fontsize=10)
        ax.grid(alpha=0.3)
    _legend(fig, axes)
    caption = f"{metric} against code length; mean over seeds, error bars: std over seeds."
    return FigureView("vs-bits", f"{metric} vs code length", to_svg(fig, salt), caption)


def curves(
    records: Sequence[RunRecord],
    labels: Mapping[str, str],
    bits: int,
    kind: str,
    palette: Mapping[str, str],
    salt: str,
) -> FigureView | None:
    """P@K (kind "pk") or precision-recall (kind "pr") curves at one code length."""
    chosen = [r for r in records if r.bits == bits]
    tasks = [
        t
        for t in _tasks(chosen, "curves")
        if any((r.metrics[t].get("curves") or {}).get(kind) for r in chosen if t in r.metrics)
    ]
    if not tasks:
        return None
    x_key, xlabel = ("k", "K (retrieved items)") if kind == "pk" else ("recall", "recall")
    fig = _figure(3.9 * len(tasks) + 2.2, 3.4)
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    for ax, task in zip(axes, tasks, strict=True):
        found: dict[str, list[dict]] = defaultdict(list)
        for r in chosen:
            curve = (r.metrics.get(task, {}).get("curves") or {}).get(kind)
            if curve and x_key in curve and "precision" in curve:
                found[labels[r.run_id]].append(curve)
        for label, items in sorted(found.items()):
            same = [c for c in items if len(c[x_key]) == len(items[0][x_key])]
            x = np.mean([c[x_key] for c in same], axis=0)
            y = np.mean([c["precision"] for c in same], axis=0)
            ax.plot(
                x,
                y,
                marker="." if kind == "pr" else None,
                lw=1.3,
                label=label,
                color=palette.get(label),
            )
        if kind == "pk":
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("precision")
        ax.set_title(TASK_NAMES.get(task, task), fontsize=10)
        ax.grid(alpha=0.3)
    _legend(fig, axes)
    if kind == "pk":
        title, caption = (
            f"Precision@K, {bits} bits",
            f"Precision of the top K retrieved items at {bits} bits, mean over seeds.",
        )
    else:
        title, caption = (
            f"Precision-recall, {bits} bits",
            f"Precision against recall within Hamming radius 0..{bits} at {bits} bits "
            "(one point per radius), mean over seeds, as stored with the runs.",
        )
    return FigureView(kind, title, to_svg(fig, salt), caption)


def plane(
    points: Sequence[EfficiencyPoint],
    metric: str,
    formula: str,
    palette: Mapping[str, str],
    salt: str,
) -> FigureView | None:
    """The metric against energy, parameters and latency per query (log scales), one row of
    panels per task; the Pareto front (cheaper and at least as accurate) as a staircase."""
    tasks = [t for t in TASK_NAMES if any(t in p.scores for p in points)]
    tasks += sorted({t for p in points for t in p.scores} - set(tasks))
    axes_used = [(key, name) for key, name in PLANE_AXES if any(getattr(p, key) for p in points)]
    if not tasks or not axes_used:
        return None
    fig = _figure(3.5 * len(axes_used) + 2.4, 3.1 * len(tasks))
    grid = fig.subplots(len(tasks), len(axes_used), squeeze=False)
    for row, task in enumerate(tasks):
        for col, (key, name) in enumerate(axes_used):
            ax = grid[row][col]
            shown = [p for p in points if task in p.scores and (getattr(p, key) or 0) > 0]
            _plane_panel(ax, shown, key, task, palette)
            ax.set_xlabel(name)
            ax.set_ylabel(f"{metric}, {TASK_NAMES.get(task, task)}", fontsize=9)
    _kind_legend(fig, grid.ravel(), points)
    kinds = sorted({p.kind for p in points})
    caption = (
        f"{metric} against cost per query, one point per method, dataset and code length (mean "
        f"over seeds); dashed staircase: the Pareto front (no other point is cheaper and at "
        f"least as accurate). Markers: ▲ SNN (spiking layers with measured firing rates), "
        f"● ANN{', ■ unknown' if '?' in kinds else ''}. Energy: {formula}; latency: median "
        "batch latency divided by the batch size, on the device named in the efficiency table."
    )
    return FigureView("plane", "Accuracy-efficiency plane", to_svg(fig, salt), caption)


def _plane_panel(ax, shown: Sequence[EfficiencyPoint], key: str, task: str, palette) -> None:
    by_label: dict[str, list[EfficiencyPoint]] = defaultdict(list)
    for p in shown:
        by_label[p.label].append(p)
    for label, group in sorted(by_label.items()):
        group.sort(key=lambda p: p.bits)
        xs = [getattr(p, key) for p in group]
        ys = [p.scores[task] for p in group]
        ax.plot(xs, ys, color=palette.get(label), lw=0.8, alpha=0.5)
        ax.scatter(
            xs,
            ys,
            marker=MARKERS[group[0].spiking],
            s=30,
            color=palette.get(label),
            edgecolors="black",
            linewidths=0.4,
            label=label,
            zorder=3,
        )
        if len(shown) <= _MAX_ANNOTATED:
            for p, x, y in zip(group, xs, ys, strict=True):
                ax.annotate(
                    str(p.bits),
                    (x, y),
                    xytext=(3, 3),
                    textcoords="offset points",
                    fontsize=6,
                    color="#444",
                )
    if shown:
        xs, ys = front_steps([(getattr(p, key), p.scores[task]) for p in shown])
        right = max(getattr(p, key) for p in shown)
        ax.plot(
            xs + [right],
            ys + [ys[-1]],
            drawstyle="steps-post",
            color="black",
            ls="--",
            lw=1,
            label="Pareto front",
            zorder=2,
        )
        ax.set_xscale("log")
        _log_ticks(ax)
    ax.grid(alpha=0.3)


def compact(value: float) -> str:
    """A tick label: 0.08, 2, 150, 33k, 2.2M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _log_ticks(ax) -> None:
    """Ticks at 1, 2 and 5 per decade labelled plainly (log axes spanning less than a decade
    otherwise get crowded scientific minor labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _kind_legend(fig, axes, points: Sequence[EfficiencyPoint]) -> None:
    """Method colours, then one grey marker per kind present (ANN / SNN), then the front."""
    from matplotlib.lines import Line2D

    handles, names = {}, []
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            if name not in handles and name != "Pareto front":
                handles[name] = Line2D(
                    [], [], marker="o", ls="", color=handle.get_facecolor()[0], markersize=6
                )
                names.append(name)
    for spiking in sorted({p.spiking for p in points}, key=lambda s: (s is None, not s)):
        name = KIND_NAMES[spiking]
        handles[name] = Line2D(
            [],
            [],
            marker=MARKERS[spiking],
            ls="",
            color="#bbbbbb",
            markeredgecolor="black",
            markersize=7,
        )
        names.append(name)
    handles["Pareto front"] = Line2D([], [], color="black", ls="--", lw=1)
    names.append("Pareto front")
    fig.legend(
        [handles[n] for n in names], names, loc="outside right upper", fontsize=8, frameon=False
    )
