"""`hashbench plot`: figures of stored results for a paper (vector PDF and a PNG of each)."""

from __future__ import annotations

from pathlib import Path

import click

from hashbench.cli.app import App, main, stderr
from hashbench.cli.options import (
    display_names,
    existing_store_path,
    name_filters,
    open_store,
    split_or_none,
    store_option,
)
from hashbench.errors import InputError


@main.command()
@store_option
@click.option("--metric", default="map@50", show_default=True, help="Stored metric vs bits.")
@name_filters
@click.option("--bits", "curve_bits", type=int, default=None, help="Code length of the curves.")
@click.option(
    "--layout",
    type=click.Choice(["two-column", "one-column"]),
    default="two-column",
    show_default=True,
    help="Figure width of a paper's layout: two-column 7.16 in (panels side by side) or "
    "one-column 3.5 in (panels stacked).",
)
@click.option(
    "--names",
    "names_mode",
    type=click.Choice(["display", "cli"]),
    default="display",
    show_default=True,
    help="Legend and titles: display names (SpikeHash, MS COCO (synthetic)) or the "
    "command-line names.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the figures [default: plots/ beside the store].",
)
@click.pass_obj
def plot(
    app: App,
    store: Path | None,
    metric: str,
    datasets: str | None,
    methods: str | None,
    curve_bits: int | None,
    layout: str,
    names_mode: str,
    out: Path | None,
) -> None:
    """Draw the metric vs code length, P@K curves and PR curves (PNG and PDF).

    With 2+ methods and 2+ columns also cd_diagram: the methods' average ranks over all
    columns with the Nemenyi critical difference (as `hashbench table --ranks`).

    PR curves are by Hamming radius with counts pooled over queries (docs/metrics.md).

    \b
    Example:
      hashbench plot --datasets synth-mirflickr
      hashbench plot --metric map@all --bits 64 --layout one-column --out figures/
    """
    from hashbench.cli.options import stored_runs, variant_reference
    from hashbench.report.plots import plot_curves, plot_metric_vs_bits
    from hashbench.report.variants import variant_labels
    from hashbench.runner.recompute import recompute

    path = existing_store_path(store)
    names = display_names(app, names_mode)
    out_dir = out or Path(path).parent / "plots"
    with open_store(path, readonly=True) as results:
        records, budget_free = stored_runs(
            results, app, dataset=split_or_none(datasets), method=split_or_none(methods)
        )
        if not records:
            raise InputError(f"no finished runs match in {path}")
        recomputed: list[str] = []

        def pr_source(record):  # runs stored before pooled PR counts were kept
            recomputed.append(record.run_id)
            return recompute(results, record, "pr")

        labels = variant_labels(records, variant_reference(app), budget_free)  # as `table`
        written = plot_metric_vs_bits(
            records, metric, out_dir, names=names, layout=layout, labels=labels
        )
        written += plot_curves(
            records, curve_bits, out_dir, names=names, layout=layout, pr_source=pr_source,
            labels=labels,
        )
        from hashbench.report.cd_diagram import plot_cd_diagram

        ranks, why_not = plot_cd_diagram(
            records, metric, out_dir, names=names, layout=layout, labels=labels
        )  # the overall ranking over the table's columns (Demšar 2006)
        written += ranks
    if why_not:
        stderr.print(f"no critical-difference diagram: {why_not}", highlight=False)
    if recomputed:
        stderr.print(f"PR curves of {len(recomputed)} older run(s) recomputed from stored codes")
    for file in written:
        click.echo(str(file))
