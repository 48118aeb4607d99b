"""Figures of stored runs (matplotlib, written as PNG and PDF).

- `<metric>_vs_bits_<dataset>`: the metric against code length, one line per method (mean over
  seeds, error bars = std), one panel per task.
- `pk_<dataset>_<bits>` and `pr_<dataset>_<bits>`: Precision@K curves and precision-recall
  curves by Hamming radius, from the curves `hashbench run` stores with every run (mean over
  seeds), one panel per task.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from hashbench.errors import InputError
from hashbench.report.comparison import TASK_NAMES
from hashbench.store import RunRecord


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.{ext}" for ext in ("png", "pdf")]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return paths


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _tasks(records: list[RunRecord]) -> list[str]:
    present = {t for r in records for t in r.metrics}
    return [t for t in TASK_NAMES if t in present] + sorted(present - set(TASK_NAMES))


def plot_metric_vs_bits(records: Iterable[RunRecord], metric: str, out_dir: Path) -> list[Path]:
    plt = _pyplot()
    by_dataset: dict[str, list[RunRecord]] = defaultdict(list)
    for record in records:
        by_dataset[record.dataset].append(record)
    written = []
    for dataset, recs in sorted(by_dataset.items()):
        tasks = _tasks(recs)
        fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
        for ax, task in zip(axes[0], tasks, strict=True):
            values: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
            for r in recs:
                value = r.metrics.get(task, {}).get(metric)
                if isinstance(value, int | float):
                    values[r.method][r.bits].append(float(value))
            for method, per_bits in sorted(values.items()):
                bits = sorted(per_bits)
                means = [statistics.fmean(per_bits[b]) for b in bits]
                stds = [
                    statistics.stdev(per_bits[b]) if len(per_bits[b]) > 1 else 0.0 for b in bits
                ]
                ax.errorbar(bits, means, yerr=stds, marker="o", capsize=3, label=method)
            ax.set_xscale("log", base=2)
            ax.set_xticks(
                sorted({r.bits for r in recs}), [str(b) for b in sorted({r.bits for r in recs})]
            )
            ax.set_xlabel("code length (bits)")
            ax.set_ylabel(metric)
            ax.set_title(f"{dataset}: {TASK_NAMES.get(task, task)}")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        written += _save(fig, out_dir, _safe(f"{metric}_vs_bits_{dataset}"))
        plt.close(fig)
    return written


def plot_curves(records: Iterable[RunRecord], bits: int | None, out_dir: Path) -> list[Path]:
    """P@K and PR curves per dataset at `bits` (default: the longest code stored per dataset)."""
    plt = _pyplot()
    by_dataset: dict[str, list[RunRecord]] = defaultdict(list)
    for record in records:
        by_dataset[record.dataset].append(record)
    written = []
    for dataset, recs in sorted(by_dataset.items()):
        chosen = bits if bits is not None else max(r.bits for r in recs)
        recs = [r for r in recs if r.bits == chosen]
        if not recs:
            continue
        tasks = _tasks(recs)
        for kind, (x_key, xlabel) in {"pk": ("k", "K"), "pr": ("recall", "recall")}.items():
            fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
            for ax, task in zip(axes[0], tasks, strict=True):
                curves: dict[str, list[dict]] = defaultdict(list)
                for r in recs:
                    curve = r.metrics.get(task, {}).get("curves", {}).get(kind)
                    if curve:
                        curves[r.method].append(curve)
                for method, items in sorted(curves.items()):
                    x = np.mean([c[x_key] for c in items], axis=0)
                    y = np.mean([c["precision"] for c in items], axis=0)
                    ax.plot(x, y, marker="." if kind == "pr" else None, label=method)
                if kind == "pk":
                    ax.set_xscale("log")
                ax.set_xlabel(xlabel)
                ax.set_ylabel("precision")
                ax.set_title(f"{dataset}, {chosen} bits: {TASK_NAMES.get(task, task)}")
                ax.grid(alpha=0.3)
                ax.legend(fontsize=8)
            written += _save(fig, out_dir, _safe(f"{kind}_{dataset}_{chosen}"))
            plt.close(fig)
    if not written:
        raise InputError(f"--bits {bits}: no stored run has that code length")
    return written
