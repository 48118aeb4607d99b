"""Variants look apart in figures, and the report's figures read at the size the page shows
them (issue 31, item 4).

One rule everywhere (`hashbench.report.style`): a method keeps its colour and marker shape;
the marker's fill says the protocol (filled: default, hollow: tuned, half: as released §);
the line says the setting (dotted: quick budget, dash-dot: other parameters); the legend has
an entry per drawn row and words the rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest
from matplotlib.colors import same_color

import hashbench.report.plots as plots
import hashbench.report.site_figures as site_figures
from hashbench.report.site_figures import COLUMN_PX, LEGEND_PT, TICK_PT, Legend
from hashbench.report.style import method_style, style_key
from hashbench.store import RunRecord

matplotlib.use("Agg")

LABELS = {
    "d": "cca-itq",
    "t": "cca-itq (tuned)",
    "r": "cca-itq [ridge=1.0]",
    "a": "jdsh (as released)§",
    "l": "lsh",
}


def _records() -> list[RunRecord]:
    out = []
    for key, label in LABELS.items():
        for bits in (16, 32, 64):
            value = 0.5 + 0.1 * "dtral".index(key) + bits / 1000
            out.append(
                RunRecord(
                    run_id=f"{key}{bits}", method=label.split(" ")[0], dataset="synth-mirflickr",
                    dataset_fingerprint="f", bits=bits, seed=0, budget="paper", params={},
                    pair_fused=False, timings={}, provenance={},
                    metrics={t: {"map@50": value} for t in ("i2t", "t2i")},
                )
            )  # fmt: skip
    return out


def _labels(records) -> dict[str, str]:
    return {r.run_id: LABELS[r.run_id[0]] for r in records}


def test_the_fill_says_the_protocol_and_the_line_the_setting():
    default, tuned = method_style("cca-itq").kwargs(), method_style("cca-itq (tuned)").kwargs()
    assert default["marker"] == tuned["marker"] and default["color"] == tuned["color"]
    assert default["markerfacecolor"] == default["color"] and tuned["markerfacecolor"] == "white"
    released = method_style("jdsh (paper, as released)§").kwargs()
    assert released["fillstyle"] == "bottom"  # half-filled
    assert method_style("cirh-like (quick)").linestyle != method_style("cirh-like").linestyle
    variant = method_style("cca-itq [ridge=1.0]")
    assert variant.filled and variant.linestyle not in ("-", "--")  # dash-dot, not a twin's
    assert method_style("cca-itq (quick, tuned, 8 trials)").kwargs()["markerfacecolor"] == "white"
    assert style_key(["lsh", "cca-itq"]) == []  # nothing to explain
    key = " ".join(style_key(LABELS.values()))
    assert "hollow = tuned" in key and "half-filled = as released" in key
    assert "dash-dot = other parameters" in key


def _captured(monkeypatch) -> list:
    figures = []

    def keep(fig, out_dir, stem):
        figures.append(fig)
        return []

    monkeypatch.setattr(plots, "_save", keep)
    monkeypatch.setattr(plots._pyplot(), "close", lambda fig: None)
    return figures


def test_plot_draws_tuned_hollow_beside_default_filled_with_a_legend_entry_each(monkeypatch):
    figures = _captured(monkeypatch)
    records = _records()
    plots.plot_metric_vs_bits(records, "map@50", Path("."), labels=_labels(records))
    (fig,) = figures
    squares = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "s"]
    filled = [ln for ln in squares if same_color(ln.get_markerfacecolor(), ln.get_color())]
    hollow = [ln for ln in squares if same_color(ln.get_markerfacecolor(), "white")]
    assert len(filled) == 2 and len(hollow) == 1  # default and [ridge=1.0]; tuned
    assert all(ln.get_marker() == "s" and same_color(ln.get_color(), "black") for ln in squares)
    legend = fig.legends[0]
    shown = [t.get_text() for t in legend.get_texts()]
    assert {"cca-itq", "cca-itq (tuned)", "cca-itq [ridge=1.0]"} <= set(shown)
    assert "hollow = tuned" in legend.get_title().get_text()


def _site_figure(monkeypatch):
    seen = []
    monkeypatch.setattr(site_figures, "to_svg", lambda fig, salt: seen.append(fig) or "<svg/>")
    records = _records()
    site_figures.metric_vs_bits(records, _labels(records), "map@50", Legend(), "s")
    return seen[0]


def test_site_figure_text_never_overlaps_and_reads_at_the_page_size(monkeypatch):
    fig = _site_figure(monkeypatch)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        label = ax.yaxis.label.get_window_extent(renderer)
        ticks = [t.get_window_extent(renderer) for t in ax.get_yticklabels() if t.get_text()]
        assert ticks and not any(label.overlaps(t) for t in ticks), "y label on its tick labels"
        assert all(t.get_fontsize() >= TICK_PT for t in ax.get_yticklabels())
        assert ax.yaxis.label.get_fontsize() >= TICK_PT
        inside = fig.bbox
        assert inside.x0 <= label.x0 and ticks[0].x0 >= inside.x0  # nothing cut off
    # panels never overlap each other's labels
    right = fig.axes[1].get_tightbbox(renderer)
    left = fig.axes[0].get_tightbbox(renderer)
    assert left.x1 < right.x0
    legend = fig.legends[0]
    assert all(t.get_fontsize() >= LEGEND_PT for t in legend.get_texts())
    assert legend.get_window_extent(renderer).y1 < min(
        ax.get_tightbbox(renderer).y0 for ax in fig.axes
    )  # under the panels, clear of the x labels
    # the page never shrinks it on a desktop: it fits the narrowest figure column unscaled
    assert fig.get_size_inches()[0] * 96 <= COLUMN_PX
    css = (Path(site_figures.__file__).parent / "templates" / "report.css").read_text()
    found = re.search(r"\.figs \{[^}]*minmax\(min\(100%, (\d+)px\)", css)
    assert found and int(found.group(1)) == COLUMN_PX


@pytest.mark.parametrize("long_ticks", [False, True])
def test_wide_tick_labels_push_the_axis_label_out(monkeypatch, long_ticks):
    """Margins come from the text measured, so wide tick labels move the y label further."""
    fig, grid = site_figures.panels(1, 2)
    for ax in grid[0]:
        ax.plot([1, 2], [0.001, 1234.5678] if long_ticks else [0.1, 0.9])
        if long_ticks:
            ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.6f"))
        ax.set_ylabel("mAP@50")
    site_figures.place(fig, 1, 2, [], [])
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in grid[0]:
        label = ax.yaxis.label.get_window_extent(renderer)
        assert not any(label.overlaps(t.get_window_extent(renderer)) for t in ax.get_yticklabels())
        assert ax.get_tightbbox(renderer).x0 >= 0
    assert grid[0][0].get_tightbbox(renderer).x1 < grid[0][1].get_tightbbox(renderer).x0
