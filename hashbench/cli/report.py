"""`hashbench report`: the stored results as a self-contained static site (one HTML file).

Heavy imports (numpy, matplotlib, jinja2, the store) happen inside the command, so that
`hashbench report --help` stays fast.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource
from rich.markup import escape

from hashbench.cli.app import App, main, stderr
from hashbench.cli.options import (
    ALPHA,
    CODE_BITS,
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
from hashbench.errors import HashbenchError, InputError

if TYPE_CHECKING:
    from hashbench.report.site import PluginFacts
    from hashbench.store import RunRecord


@main.command()
@store_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of the site (index.html) [default: report/ beside the store].",
)
@click.option("--metric", default="map@50", show_default=True, help="Stored metric to show.")
@record_filters
@click.option(
    "--significance",
    type=click.Choice(["queries", "seeds"]),
    is_flag=False,
    flag_value="queries",
    default=None,
    help="Marks follow a test (as in `hashbench table --significance`).",
)
@click.option("--ci", is_flag=True, help="Show each cell's bootstrap interval over queries.")
@click.option("--alpha", default=0.05, show_default=True, type=ALPHA, help="Significance level.")
@click.option(
    "--resamples", default=None, type=RESAMPLES, help="Bootstrap resamples."
)
@click.option(
    "--curve-bits",
    type=CODE_BITS,
    default=None,
    help="Code length of the P@K and PR curves [default: the longest per dataset].",
)
@click.option(
    "--reference-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of published reference numbers [default: results/reference].",
)
@click.option("--e-mac", default=4.6, show_default=True, type=ENERGY, help="pJ per MAC.")
@click.option("--e-ac", default=0.9, show_default=True, type=ENERGY, help="pJ per SOP.")
@click.option(
    "--names",
    "names_mode",
    type=click.Choice(["display", "cli"]),
    default="display",
    show_default=True,
    help="Method and dataset names: display (SpikeHash, MS COCO (synthetic)) or cli (as typed).",
)
@click.option("--title", default="hashbench results", show_default=True, help="Page title.")
@click.pass_context
def report(
    ctx: click.Context,
    store: Path | None,
    out: Path | None,
    metric: str,
    datasets: str | None,
    methods: str | None,
    bits: str | None,
    budget: str | None,
    protocol: str | None,
    significance: str | None,
    ci: bool,
    alpha: float,
    resamples: int | None,
    curve_bits: int | None,
    reference_dir: Path | None,
    e_mac: float,
    e_ac: float,
    names_mode: str,
    title: str,
) -> None:
    """Write the stored results as a static site that opens from disk (no network).

    Comparison tables (sortable, filterable), per dataset mAP vs code length, P@K and PR
    curves and the accuracy-efficiency plane, the efficiency table, and every run with its
    parameters, provenance and the command that reproduces it.

    \b
    Example:
      hashbench report --out report/ && xdg-open report/index.html
      hashbench report --datasets synth-mscoco --significance
    """
    from hashbench.report.site import SiteOptions, build_site, render_site, write_site
    from hashbench.report.variants import variant_labels
    from hashbench.runner.recompute import recompute
    from hashbench.runner.spec import parse_bits, parse_budgets

    app: App = ctx.obj
    energy = energy_model(e_mac, e_ac)
    path = existing_store_path(store)
    filters = {
        "dataset": split_or_none(datasets),
        "method": split_or_none(methods),
        "bits": parse_bits(split(bits)) if bits else None,
        "budget": parse_budgets(split(budget)) if budget else None,
        "protocol": protocol,
    }
    with open_store(path, readonly=True) as results:
        unbudgeted = {**filters, "budget": None}  # a budget-free method's run serves any
        others = {k: v for k, v in filters.items() if k != "budget"}
        records, budget_free = stored_runs(results, app, budget, **others)
        from hashbench.runner.rescore import stale_warning  # rows of an older scoring

        if warning := stale_warning(records):
            stderr.print(warning, highlight=False)
        failures = [
            r
            for r in results.failures()
            if _matches(r, filters if r.method not in budget_free else unbudgeted)
        ]
        if not records and not failures:
            stored = sum(done + failed for _, _, done, failed in results.status_counts())
            if stored:
                raise InputError(f"no runs match these filters in {path} ({stored} stored)")
            raise InputError(f"no runs in {path} yet; run `hashbench run ...` first")
        labels = variant_labels(records, variant_reference(app), budget_free)
        per_query = (
            _per_query(results, records, metric, labels)
            if records and (ci or significance == "queries")
            else None
        )
        missing: list[str] = []
        table = (
            _table(records, metric, _Stats(significance, ci, alpha, resamples), per_query,
                   reference_dir, missing, app, labels)
            if records
            else None
        )  # fmt: skip
        recomputed: list[str] = []
        unreadable: list[str] = []

        cache: dict[str, dict] = {}

        def pr_source(record):  # runs stored before pooled PR counts were kept
            if record.run_id not in cache:
                try:
                    cache[record.run_id] = recompute(results, record, "pr")
                    recomputed.append(record.run_id)
                except (HashbenchError, KeyError, ValueError, OSError) as exc:
                    cache[record.run_id] = {}
                    unreadable.append(f"{record.run_id} ({type(exc).__name__}: {exc})")
            return cache[record.run_id]

        options = SiteOptions(
            metric=metric,
            names=display_names(app, names_mode),
            energy=energy,
            curve_bits=curve_bits,
            pr_source=pr_source,
            facts=_facts(app),
            command=_command(ctx),
            title=title,
        )
        site = build_site(
            records, failures, table, store=str(path), options=options, missing=missing,
            labels=labels,
        )
    if table is not None and any(cell.degenerate for cell in table.cells.values()):
        from hashbench.report.degenerate import degenerate_warning

        stderr.print(escape(degenerate_warning(records, metric) or ""), highlight=False)
    if recomputed:
        stderr.print(f"PR curves of {len(recomputed)} older run(s) recomputed from stored codes")
    if unreadable:
        stderr.print(
            f"PR curves of {len(unreadable)} run(s) left out: their stored codes could not be "
            f"read ({escape(unreadable[0])}{', ...' if len(unreadable) > 1 else ''})"
        )
    target = write_site(render_site(site), out or path.parent / "report")
    if not records:
        stderr.print(f"no finished runs: the report lists {len(failures)} failed run(s)")
    click.echo(str(target))


def _matches(record: RunRecord, filters: dict) -> bool:
    if record.protocol == "trial":
        return False
    return all(
        value is None or getattr(record, column) in (value if isinstance(value, list) else [value])
        for column, value in filters.items()
    )


def _per_query(results, records: list[RunRecord], metric: str, labels: dict[str, str]):
    from hashbench.report.significance import load_per_query

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
    return per_query


@dataclass(frozen=True)
class _Stats:
    """The statistics options, as `hashbench table` takes them."""

    significance: str | None
    ci: bool
    alpha: float
    resamples: int | None


def _table(
    records: list[RunRecord],
    metric: str,
    stats: _Stats,
    per_query,
    reference_dir: Path | None,
    missing: list[str],
    app: App,
    labels: dict[str, str],
):
    """`hashbench table`'s comparison table of the records, with reference rows where real
    datasets are present and the tuning protocol's footnotes where tuned runs are."""
    from hashbench.report.reference import REAL_DATASETS, load_reference
    from hashbench.report.site_runs import split_dataset_name
    from hashbench.report.table import Significance, build_table
    from hashbench.stats import DEFAULT_OPTIONS, StatsOptions

    options = StatsOptions(
        resamples=stats.resamples or DEFAULT_OPTIONS.resamples, alpha=stats.alpha
    )
    reference = []
    if any(split_dataset_name(r.dataset)[0] in REAL_DATASETS for r in records):
        try:
            reference = load_reference(reference_dir)
        except InputError as exc:
            missing.append(f"Published reference numbers not shown: {exc}")
    notes: list[str] = []
    if any(r.protocol == "tuned" for r in records):
        from hashbench.tuning.report import protocol_footnotes

        notes = protocol_footnotes(records)
    return build_table(
        records,
        metric,
        significance=(
            Significance(alpha=stats.alpha, test=stats.significance, resamples=options.resamples)
            if stats.significance
            else None
        ),
        ci=stats.ci,
        per_query=per_query,
        stats=options,
        reference=reference,
        supervised=_supervised(app, records),
        notes=notes,
        labels=labels,
    )


def _registry(app: App):
    try:
        return app.registry()
    except Exception as exc:  # a broken plugin must not stop a report of stored results
        stderr.print(f"plugins not loaded ({escape(str(exc))}); the report uses stored facts only")
        return None


def _supervised(app: App, records: list[RunRecord]) -> set[str]:
    if all("supervision" in r.provenance for r in records):
        return {r.method for r in records if r.provenance["supervision"] == "supervised"}
    registry = _registry(app)
    methods = registry.methods if registry else {}
    return {m for m in methods if methods[m].info.supervision == "supervised"}


def _facts(app: App) -> PluginFacts:
    from hashbench.report.site import PluginFacts

    registry = _registry(app)
    if registry is None:
        return PluginFacts()
    return PluginFacts(
        spiking=frozenset(n for n, m in registry.methods.items() if m.info.spiking),
        real_datasets=frozenset(n for n, d in registry.datasets.items() if not d.synthetic),
    )


def _command(ctx: click.Context) -> str:
    """This invocation as a command line (options given on it), for the page's footer."""
    words = ["hashbench", "report"]
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) != ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        flag = param.opts[0]
        if isinstance(param, click.Option) and param.is_flag and isinstance(value, bool):
            words.append(flag)
        else:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)
