"""Figures of stored runs for a paper (matplotlib; vector PDF and a PNG preview of each).

- `<metric>_vs_bits_<dataset>`: the metric against code length, one line per method (mean over
  seeds, error bars = std over seeds), one panel per task.
- `pk_<dataset>_<bits>`: Precision@K against K (mean over queries, then over seeds).
- `pr_<dataset>_<bits>`: precision-recall by Hamming radius r = 0..bits, from counts pooled
  over all queries (the definition of Spectral Hashing's and ITQ's `recall_precision.m`:
  precision = relevant pairs within r / pairs within r, recall = relevant pairs within r / all
  relevant pairs). Radii with no pair within them have no precision and are not drawn, so the
  curve has no artificial drop at r = 0 (which averaging per-query precision with empty balls
  counted as 0 produces). See docs/metrics.md.

Every figure has a size of a paper's layout (`one-column`: 3.5 in wide, panels stacked;
`two-column`: 7.16 in, panels side by side), axis labels as papers write them ("mAP@50",
"Image → Text"), display names in the legend with pair-fused methods marked *, and the same
colour and marker for a method in every figure (`hashbench.report.style`), the marker's fill
for the protocol (filled: default, hollow: tuned, half: as released §) and the line for the
setting (dotted: quick budget, dash-dot: other parameters), worded in the legend.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from hashbench.errors import InputError
from hashbench.report.comparison import TASK_NAMES
from hashbench.report.names import Names
from hashbench.report.style import (
    figure_size,
    legend_label,
    method_style,
    paper_rc,
    style_key,
)
from hashbench.report.variants import variant_labels
from hashbench.store import RunRecord

# record -> {task: PR curve dict with pooled values} for runs stored without them
PRSource = Callable[[RunRecord], Mapping[str, Mapping[str, list]]]
PAIR_FUSED_LEGEND = "* pair-fused: a query coded with its paired item"
PR_LEGEND = "PR by Hamming radius, counts pooled over queries"
SUPERVISED_LEGEND = "‡ supervised (trained with labels)"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    pdf, png = out_dir / f"{stem}.pdf", out_dir / f"{stem}.png"
    fig.savefig(pdf, metadata={"CreationDate": None})  # vector, the layout's exact width
    fig.savefig(png, dpi=200)
    return [png, pdf]


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _tasks(records: list[RunRecord]) -> list[str]:
    present = {t for r in records for t in r.task_metrics()}
    return [t for t in TASK_NAMES if t in present] + sorted(present - set(TASK_NAMES))


class _Figure:
    """A figure of one panel per task in `layout`, with a legend shared under the panels."""

    def __init__(self, plt, tasks: list[str], layout: str, names: Names, title: str) -> None:
        stacked = layout == "one-column"
        rows, cols = (len(tasks), 1) if stacked else (1, len(tasks))
        self.fig = plt.figure(figsize=figure_size(layout, rows), layout="constrained")
        self.axes = list(np.atleast_1d(self.fig.subplots(rows, cols, squeeze=False)).ravel())
        self.fig.suptitle(title)
        for ax, task in zip(self.axes, tasks, strict=True):
            ax.set_title(names.task(task))
            ax.grid(True)
        self.entries: dict[str, object] = {}
        self.drawn: list[str] = []  # the row labels drawn, for the style key
        self.layout = layout

    def keep(self, shown: str, handle: object, label: str) -> None:
        """The legend entry `shown` of the row `label`: one entry per drawn row."""
        self.entries.setdefault(shown, handle)
        self.drawn.append(label)

    def legend(self, notes: list[str]) -> None:
        """One legend under the panels: the methods, and above them the notes (marks,
        definitions, the style key: `style.style_key`), one a line, as the legend's title (so
        the layout keeps them apart)."""
        handles, labels = list(self.entries.values()), list(self.entries)
        notes = notes + style_key(self.drawn)
        if handles:
            ncol = 2 if self.layout == "one-column" else min(4, len(handles))
            self.fig.legend(
                handles, labels, loc="outside lower center", ncol=ncol,
                title="\n".join(notes) or None, title_fontsize=7,
            )  # fmt: skip


def _groups(
    records: Iterable[RunRecord], labels: Mapping[str, str] | None = None
) -> tuple[dict[str, list[RunRecord]], Mapping[str, str]]:
    """Runs by dataset, and each run's row label (variants of a method kept apart; `labels`:
    the table's, default `variant_labels(records)`)."""
    records = list(records)
    labels = variant_labels(records) if labels is None else labels
    by_dataset: dict[str, list[RunRecord]] = defaultdict(list)
    for record in records:
        by_dataset[record.dataset].append(record)
    return dict(sorted(by_dataset.items())), labels


def _marks(recs: list[RunRecord], labels: Mapping[str, str]) -> tuple[set[str], set[str]]:
    fused = {labels[r.run_id] for r in recs if r.pair_fused}
    supervised = {labels[r.run_id] for r in recs if r.provenance.get("supervision") == "supervised"}
    return fused, supervised


def _notes(fused: set[str], supervised: set[str]) -> list[str]:
    return ([PAIR_FUSED_LEGEND] if fused else []) + ([SUPERVISED_LEGEND] if supervised else [])


def plot_metric_vs_bits(
    records: Iterable[RunRecord],
    metric: str,
    out_dir: Path,
    *,
    names: Names | None = None,
    layout: str = "two-column",
    labels: Mapping[str, str] | None = None,
) -> list[Path]:
    """`metric` against code length per dataset; returns the files written (PNG, PDF)."""
    names = names or Names.cli()
    plt = _pyplot()
    by_dataset, labels = _groups(records, labels)
    written = []
    with plt.rc_context(paper_rc()):
        for dataset, recs in by_dataset.items():
            tasks = _tasks(recs)
            fused, supervised = _marks(recs, labels)
            figure = _Figure(plt, tasks, layout, names, names.dataset(dataset))
            all_bits = sorted({r.bits for r in recs})
            for ax, task in zip(figure.axes, tasks, strict=True):
                values: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
                for r in recs:
                    value = r.metrics.get(task, {}).get(metric)
                    if isinstance(value, int | float):
                        values[labels[r.run_id]][r.bits].append(float(value))
                for label, per_bits in sorted(values.items()):
                    bits = sorted(per_bits)
                    means = [statistics.fmean(per_bits[b]) for b in bits]
                    stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in
                            (per_bits[b] for b in bits)]  # fmt: skip
                    shown = legend_label(
                        label, names, pair_fused=label in fused, supervised=label in supervised
                    )
                    handle = ax.errorbar(
                        bits, means, yerr=stds, capsize=2, **method_style(label).kwargs()
                    )
                    figure.keep(shown, handle, label)
                ax.set_xscale("log", base=2)
                ax.set_xticks(all_bits, [str(b) for b in all_bits])
                ax.minorticks_off()
                ax.set_xlabel("Code length (bits)")
                ax.set_ylabel(names.metric(metric))
            figure.legend(_notes(fused, supervised))
            written += _save(figure.fig, out_dir, _safe(f"{metric}_vs_bits_{dataset}"))
            plt.close(figure.fig)
    return written


def _pr_curve(record: RunRecord, task: str, pr_source: PRSource | None, cache: dict) -> dict:
    curve = record.metrics.get(task, {}).get("curves", {}).get("pr") or {}
    if "pooled_precision" in curve or pr_source is None:
        return curve
    if record.run_id not in cache:  # stored before pooled counts were kept: from its codes
        cache[record.run_id] = pr_source(record)
    return dict(cache[record.run_id].get(task) or {})


def _mean_pooled(curves: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Recall and precision per radius, averaged over seeds; radii where any seed has no pair
    within the radius are left out (precision undefined)."""
    precision = [[np.nan if v is None else v for v in c["pooled_precision"]] for c in curves]
    p = np.mean(np.asarray(precision, dtype=float), axis=0)
    r = np.mean(np.asarray([c["pooled_recall"] for c in curves], dtype=float), axis=0)
    keep = np.isfinite(p)
    return r[keep], p[keep]


def plot_curves(
    records: Iterable[RunRecord],
    bits: int | None,
    out_dir: Path,
    *,
    names: Names | None = None,
    layout: str = "two-column",
    pr_source: PRSource | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[Path]:
    """P@K and PR curves per dataset at `bits` (default: the longest code stored per dataset).

    pr_source: the PR curves (with pooled counts) of runs stored before they were kept, e.g.
    recomputed from their stored codes; without it such runs are left out of the PR figure.
    """
    names = names or Names.cli()
    plt = _pyplot()
    by_dataset, labels = _groups(records, labels)
    written: list[Path] = []
    recomputed: dict[str, dict] = {}
    with plt.rc_context(paper_rc()):
        for dataset, all_recs in by_dataset.items():
            chosen = bits if bits is not None else max(r.bits for r in all_recs)
            recs = [r for r in all_recs if r.bits == chosen]
            if not recs:
                continue
            tasks = _tasks(recs)
            fused, supervised = _marks(recs, labels)
            for kind in ("pk", "pr"):
                title = f"{names.dataset(dataset)}, {chosen} bits"
                figure = _Figure(plt, tasks, layout, names, title)
                for ax, task in zip(figure.axes, tasks, strict=True):
                    curves: dict[str, list[dict]] = defaultdict(list)
                    for r in recs:
                        if kind == "pk":
                            curve = r.metrics.get(task, {}).get("curves", {}).get("pk")
                        else:
                            curve = _pr_curve(r, task, pr_source, recomputed)
                            curve = curve if "pooled_precision" in (curve or {}) else None
                        if curve:
                            curves[labels[r.run_id]].append(curve)
                    for label, items in sorted(curves.items()):
                        if kind == "pk":
                            x = np.mean([c["k"] for c in items], axis=0)
                            y = np.mean([c["precision"] for c in items], axis=0)
                        else:
                            x, y = _mean_pooled(items)
                        style = method_style(label).kwargs()
                        (handle,) = ax.plot(x, y, markevery=max(1, len(x) // 8), **style)
                        shown = legend_label(
                            label, names, pair_fused=label in fused, supervised=label in supervised
                        )
                        figure.keep(shown, handle, label)
                    if kind == "pk":
                        ax.set_xscale("log")
                        ax.set_xlabel("Retrieved items K")
                        ax.set_ylabel("Precision@K")
                    else:
                        ax.set_xlabel("Recall")
                        ax.set_ylabel("Precision")
                        ax.set_xlim(-0.02, 1.02)
                notes = _notes(fused, supervised) + ([PR_LEGEND] if kind == "pr" else [])
                figure.legend(notes)
                written += _save(figure.fig, out_dir, _safe(f"{kind}_{dataset}_{chosen}"))
                plt.close(figure.fig)
    if not written:
        raise InputError(f"--bits {bits}: no stored run has that code length")
    return written
