"""`hashbench export`: stored runs as files others can read (per-run JSON with a versioned
schema, one parquet table, codes on request); the work is in `hashbench.export`."""

from __future__ import annotations

from pathlib import Path

import click

from hashbench.cli.app import main, stderr
from hashbench.cli.options import (
    existing_store_path,
    record_filters,
    split,
    split_or_none,
    store_option,
    variant_reference,
)
from hashbench.errors import HashbenchError, InputError


@main.command()
@click.argument("out", type=click.Path(path_type=Path))
@store_option
@record_filters
@click.option(
    "--with-codes",
    is_flag=True,
    help="Also write each run's stored arrays (codes, labels, per-query values) as "
    "codes/<run_id>.npz, so that another store can recompute metrics and statistics.",
)
@click.option(
    "--format",
    "formats",
    default="json,parquet",
    show_default=True,
    help="What to write: json (runs/<run_id>.json per run), parquet (results.parquet), or both.",
)
@click.option(
    "--include-failed",
    is_flag=True,
    help="Also export failed runs (a JSON file each with the error; no scores, no parquet rows).",
)
@click.option("--force", is_flag=True, help="Replace an earlier export in OUT.")
@click.pass_obj
def export(
    app,
    out: Path,
    store: Path | None,
    datasets: str | None,
    methods: str | None,
    bits: str | None,
    budget: str | None,
    protocol: str | None,
    with_codes: bool,
    formats: str,
    include_failed: bool,
    force: bool,
) -> None:
    """Write stored runs as per-run JSON files (a versioned schema) and one parquet table.

    The runs are those `hashbench table` shows with the same filters (finished runs; failed
    ones with --include-failed). OUT is created whole or not at all. See docs/export.md.

    \b
    Example:
      hashbench export exported/
      hashbench export exported/ --datasets synth-mscoco --bits 16,32 --with-codes
      hashbench export exported/ --format parquet --force
    """
    from hashbench.export import ExportFilters, ExportOptions, export_store
    from hashbench.runner.spec import parse_bits, parse_budgets

    chosen = tuple(split(formats))
    if not chosen or set(chosen) - {"json", "parquet"}:
        raise InputError(f"--format {formats}: choose json, parquet or json,parquet")
    if out.exists() and not out.is_dir():
        raise InputError(f"OUT {out} is a file; pass a folder (new, or empty) to export into")
    path = existing_store_path(store)
    filters = ExportFilters(
        datasets=split_or_none(datasets),
        methods=split_or_none(methods),
        bits=parse_bits(split(bits)) if bits else None,
        budget=parse_budgets(split(budget)) if budget else None,
        protocol=protocol,
        budget_free=_budget_free(app),
    )
    options = ExportOptions(
        formats=chosen,
        with_codes=with_codes,
        include_failed=include_failed,
        force=force,
        filters=filters,
        reference=variant_reference(app),
    )
    done = export_store(path, out, options)
    if done.codes_missing:
        stderr.print(
            f"warning: the codes of {len(done.codes_missing)} run(s) are missing in the store "
            f"({', '.join(done.codes_missing)}): exported without "
            f"{'codes and ' if with_codes else ''}per-query summaries. `hashbench status` "
            "lists them",
            highlight=False,
        )
    written = []
    if "json" in chosen:
        written.append("runs/*.json" + (", codes/*.npz" if done.runs_with_codes else ""))
    if "parquet" in chosen:
        written.append("results.parquet")
    failed = f", {done.failed} failed" if done.failed else ""
    click.echo(
        f"exported {done.runs} runs ({done.runs_with_codes} with codes{failed}) to {out}: "
        f"{', '.join(written)}"
    )


def _budget_free(app) -> frozenset[str]:
    """Methods whose budget changes nothing (their runs count for every --budget, as in the
    tables); none when the plugins do not load."""
    from hashbench.report.budgets import budget_free_methods

    try:
        return budget_free_methods(app.registry())
    except HashbenchError:
        return frozenset()
