"""`hashbench table`: stored results as comparison or efficiency tables (terminal, Markdown,
LaTeX, CSV); Markdown and LaTeX with the names a paper uses (`--names`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click
from rich.markup import escape

from hashbench.cli.app import main, stderr, stdout
from hashbench.cli.options import (
    ALPHA,
    ENERGY,
    RESAMPLES,
    display_names,
    energy_model,
    existing_store_path,
    open_store,
    record_filters,
    split,
    split_or_none,
    store_option,
    stored_runs,
    variant_reference,
)
from hashbench.errors import InputError
from hashbench.report.efficiency import (
    EFFICIENCY_COLUMNS,
    build_efficiency_rows,
    efficiency_notes,
    render_efficiency,
)
from hashbench.report.reference import REAL_DATASETS, load_reference
from hashbench.report.significance import load_per_query
from hashbench.report.table import (
    Significance,
    build_table,
    to_csv,
    to_latex,
    to_markdown,
    to_rich,
)
from hashbench.report.variants import variant_labels
from hashbench.runner.spec import parse_bits
from hashbench.stats import DEFAULT_RESAMPLES, StatsOptions


@main.command()
@store_option
@click.option("--metric", default="map@50", show_default=True, help="Stored metric to show.")
@record_filters
@click.option("--latex", "fmt", flag_value="latex", help="Print a LaTeX (booktabs) tabular.")
@click.option("--markdown", "fmt", flag_value="markdown", help="Print a Markdown table.")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV (one line per cell).")
@click.option(
    "--names",
    "names_mode",
    type=click.Choice(["display", "cli"]),
    default=None,
    help="Method and dataset names: display (SpikeHash, MS COCO (synthetic)) or cli (spikehash, "
    "synth-mscoco) [default: display with --latex and --markdown, cli otherwise].",
)
@click.option(
    "--marks",
    default="bold,underline,italic",
    show_default=True,
    help="LaTeX styles of best,second,third (bold, underline, italic, plain).",
)
@click.option(
    "--latex-width",
    type=click.Choice(["natural", "linewidth"]),
    default="natural",
    show_default=True,
    help="LaTeX: the tabular at natural size (booktabs; a wide one belongs in table*) or scaled "
    "to \\linewidth with \\resizebox (needs graphicx too).",
)
@click.option(
    "--significance",
    type=click.Choice(["queries", "seeds"]),
    is_flag=False,
    flag_value="queries",
    default=None,
    help="Marks follow a test: all pairs of a column (defaults with defaults, tuned with tuned; "
    "as-released rows never) "
    "Holm-adjusted together, shown as letters; rows not separated share a letter and its mark. "
    "queries (the default): two-level bootstrap over training seeds and queries; seeds: "
    "paired t-test over seeds (a column where a row has under 2 seeds is not marked).",
)
@click.option(
    "--ci",
    is_flag=True,
    help="Show each cell's 95% two-level bootstrap interval over training seeds and queries "
    "(mean ±h) instead of the std (one-seed cells: queries only).",
)
@click.option(
    "--alpha", default=0.05, show_default=True, type=ALPHA, help="Significance level."
)
@click.option(
    "--resamples",
    default=DEFAULT_RESAMPLES,
    show_default=True,
    type=RESAMPLES,
    help="Bootstrap resamples (seeded: the same table every time).",
)
@click.option(
    "--tie-range",
    is_flag=True,
    help="Show each mAP's range over tie orders [relevant last - relevant first].",
)
@click.option(
    "--reference",
    is_flag=True,
    help="Add the papers' reported numbers (results/reference/) as rows, real datasets only.",
)
@click.option(
    "--reference-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of reference CSV files [default: results/reference].",
)
@click.option(
    "--efficiency",
    is_flag=True,
    help="Show params, MACs, SOPs, energy, train time and encode throughput instead.",
)
@click.option(
    "--ranks",
    is_flag=True,
    help="Show the methods' average ranks over all columns (dataset x bits x task), the "
    "Friedman test and the Nemenyi critical difference (Demšar 2006) instead.",
)
@click.option(
    "--inflation",
    is_flag=True,
    help="Show, per method and cell, the as-released result minus the fair one (protocol "
    "default, same method, budget and parameters, paired by seed) with the epochs the "
    "as-released runs kept, instead.",
)
@click.option("--e-mac", default=4.6, show_default=True, type=ENERGY, help="pJ per MAC.")
@click.option("--e-ac", default=0.9, show_default=True, type=ENERGY, help="pJ per SOP.")
@click.pass_obj
def table(
    app,
    store: Path | None,
    metric: str,
    datasets: str | None,
    methods: str | None,
    bits: str | None,
    budget: str | None,
    protocol: str | None,
    fmt: str | None,
    names_mode: str | None,
    marks: str,
    latex_width: str,
    significance: str | None,
    ci: bool,
    alpha: float,
    resamples: int,
    tie_range: bool,
    reference: bool,
    reference_dir: Path | None,
    efficiency: bool,
    ranks: bool,
    inflation: bool,
    e_mac: float,
    e_ac: float,
) -> None:
    """Print stored results: rows task x method, columns dataset x bits (mean over seeds).

    Best, second and third per column and task are marked as in the papers.

    \b
    Example:
      hashbench table --latex > table.tex
      hashbench table --significance --markdown
      hashbench table --ci --significance --latex
      hashbench table --significance seeds
      hashbench table --efficiency
      hashbench table --ranks
      hashbench table --inflation --markdown
    """
    if ranks and (efficiency or ci or significance or tie_range or reference):
        raise InputError(
            "--ranks shows average ranks over columns; drop --efficiency, --ci, "
            "--significance, --tie-range and --reference (they apply to the other views)"
        )
    if inflation and (efficiency or ranks or ci or significance or tie_range or reference):
        raise InputError(
            "--inflation shows as-released minus fair results; drop --efficiency, --ranks, "
            "--ci, --significance, --tie-range and --reference (they apply to the other views)"
        )
    if inflation and protocol:
        raise InputError("--inflation pairs as-released runs with default ones; drop --protocol")
    path = existing_store_path(store)
    per_query = None
    options = StatsOptions(resamples=resamples, alpha=alpha)
    with open_store(path, readonly=True) as results:
        records, budget_free = stored_runs(
            results,
            app,
            budget,
            dataset=split_or_none(datasets),
            method=split_or_none(methods),
            bits=parse_bits(split(bits)) if bits else None,
            protocol=protocol,
        )
        from hashbench.runner.rescore import stale_warning  # rows of an older scoring

        if warning := stale_warning(records):
            stderr.print(warning, highlight=False)
        labels = variant_labels(records, variant_reference(app), budget_free)
        if records and not (efficiency or inflation) and (ci or significance == "queries"):
            gone: list[str] = []  # runs whose codes file is missing: their cells show n/a
            per_query, recomputed = load_per_query(
                results, records, metric, lambda r: labels[r.run_id], missing=gone
            )
            if gone:
                from hashbench.store.merge_log import codes_missing_warning  # or merged without

                stderr.print(codes_missing_warning(gone, records), highlight=False)
            if recomputed:
                stderr.print(
                    f"per-query {escape(metric)} recomputed from the stored codes of "
                    f"{len(recomputed)} run(s) stored without it"
                )
    if not records:
        raise InputError(f"no finished runs match in {path}")
    names = display_names(app, names_mode or ("display" if fmt in ("latex", "markdown") else "cli"))
    if inflation:
        _print_inflation(records, metric, labels, fmt, names, path)
        return
    if efficiency:
        energy = energy_model(e_mac, e_ac)
        rows = build_efficiency_rows(records, energy, labels)
        if fmt in ("markdown", "latex"):
            click.echo(render_efficiency(rows, energy, fmt, names))
            return
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerows([EFFICIENCY_COLUMNS, *(r.cells() for r in rows)])
            click.echo(buffer.getvalue(), nl=False)
            return
        from rich.table import Table

        caption = "\n".join(efficiency_notes(rows, energy))
        out = Table(*EFFICIENCY_COLUMNS, title="Efficiency", caption=escape(caption))
        for row in rows:
            cells = (names.method(row.method), names.dataset(row.dataset), *row.cells()[2:])
            out.add_row(*(escape(str(c)) for c in cells))
        stdout.print(out)
        return
    if ranks:
        _print_ranks(build_table(records, metric, labels=labels), alpha, fmt, names)
        return
    comparison = build_table(
        records,
        metric,
        significance=(
            Significance(alpha=alpha, test=significance, resamples=resamples)
            if significance
            else None
        ),
        ci=ci,
        per_query=per_query,
        stats=options,
        tie_range=tie_range,
        reference=load_reference(reference_dir) if reference else (),
        supervised=_supervised_methods(app, records),
        notes=_tuning_notes(records),
        labels=labels,
    )
    if significance == "seeds" and all(c.n < 2 for c in comparison.cells.values() if c.n):
        stderr.print(
            "--significance seeds: every cell has fewer than 2 seeds, so the t-test can test "
            "nothing and no row is marked; the bootstrap test (--significance) works with one "
            "seed (query-level)"
        )
    _warn_degenerate(comparison, records, metric)
    if reference and not any(r.dataset in REAL_DATASETS for r in records):
        stderr.print(
            "--reference: reference rows exist only for the real datasets "
            f"({', '.join(REAL_DATASETS)}): none in this table",
            highlight=False,
        )
    if fmt == "latex":
        shown = to_latex(comparison, marks=tuple(split(marks)), names=names, width=latex_width)
        click.echo(shown, nl=False)
    elif fmt == "csv":
        click.echo(to_csv(comparison), nl=False)
    elif fmt == "markdown":
        click.echo(to_markdown(comparison, names=names))
    else:
        # colours are lost in a pipe, a file or under NO_COLOR: the marks then show as text
        plain = not stdout.is_terminal or stdout.no_color or stdout.color_system is None
        stdout.print(to_rich(comparison, names=names, text_marks=plain))


def _print_inflation(records, metric: str, labels, fmt: str | None, names, path: Path) -> None:
    """The inflation view of `records` (hashbench.report.inflation)."""
    from hashbench.report import inflation_formats as view
    from hashbench.report.inflation import build_inflation
    from hashbench.report.variants import AS_RELEASED

    if not any(r.protocol == AS_RELEASED for r in records):
        raise InputError(
            f"no as-released runs in {path} (among the runs these filters select): run "
            "`hashbench run --protocol as-released ...` first"
        )
    found = build_inflation(records, metric, labels)
    if found.skipped:
        stderr.print(
            f"note: {len(found.skipped)} as-released run(s) left out, no fair run with the same "
            f"method, budget, parameters and seed: {'; '.join(found.skipped)}",
            highlight=False,
        )
    if fmt == "latex":
        click.echo(view.inflation_latex(found, names), nl=False)
    elif fmt == "csv":
        click.echo(view.inflation_csv(found), nl=False)
    elif fmt == "markdown":
        click.echo(view.inflation_markdown(found, names))
    else:
        stdout.print(view.inflation_rich(found, names))


def _print_ranks(comparison, alpha: float, fmt: str | None, names) -> None:
    """The overall ranking view of `comparison` (hashbench.report.ranks_table)."""
    from hashbench.report import ranks_table as view

    ranking, marks = view.table_ranking(comparison, alpha), view.table_marks(comparison)
    if fmt == "latex":
        click.echo(view.ranks_latex(ranking, comparison.metric, names, marks), nl=False)
    elif fmt == "csv":
        click.echo(view.ranks_csv(ranking, comparison.metric, marks), nl=False)
    elif fmt == "markdown":
        click.echo(view.ranks_markdown(ranking, comparison.metric, names, marks))
    else:
        stdout.print(view.ranks_rich(ranking, comparison.metric, names, marks))


def _supervised_methods(app, records) -> set[str]:
    """Supervised methods among `records`: from each run's provenance, or (for runs stored
    before it was recorded there) from the installed plugins."""
    if all("supervision" in r.provenance for r in records):
        return {r.method for r in records if r.provenance["supervision"] == "supervised"}
    methods = app.registry().methods
    return {
        name
        for name in {r.method for r in records}
        if name in methods and methods[name].info.supervision == "supervised"
    }


def _tuning_notes(records) -> list[str]:
    """Footnotes naming how tuned rows were tuned (trials, sampler, validation split)."""
    if not any(r.protocol == "tuned" for r in records):
        return []
    from hashbench.tuning.report import protocol_footnotes

    return protocol_footnotes(records)


def _warn_degenerate(comparison, records, metric: str) -> None:
    """One warning line naming the runs whose codes are all identical (cells marked ⁰)."""
    from hashbench.report.degenerate import degenerate_warning

    line = degenerate_warning(records, metric)
    if line and any(cell.degenerate for cell in comparison.cells.values()):
        stderr.print(escape(line), highlight=False)
