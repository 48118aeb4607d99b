"""`hashbench eval`: recompute a metric of stored runs from their stored codes."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape

from hashbench.cli.app import main, stdout
from hashbench.cli.options import open_store, store_option
from hashbench.runner.recompute import recompute


@main.command(name="eval")
@click.option(
    "--run",
    "run_ids",
    multiple=True,
    required=True,
    metavar="ID",
    help="Stored run id or a unique prefix (repeatable).",
)
@click.option(
    "--metric",
    default="map@50",
    show_default=True,
    help="Metric name, e.g. map@100, map@all, ndcg@50, p@100, precision@radius2, pr.",
)
@click.option(
    "--convention",
    default="djsrh",
    show_default=True,
    type=click.Choice(["djsrh", "dcmh", "recall"]),
    help="mAP@K convention.",
)
@click.option(
    "--ties",
    default="index",
    show_default=True,
    type=click.Choice(["index", "relevant_first", "relevant_last"]),
    help="Order of items at equal Hamming distance.",
)
@click.option(
    "--zero-relevant",
    default="zero",
    show_default=True,
    type=click.Choice(["zero", "skip"]),
    help="Queries with no relevant item: count as 0, or leave out of the mean.",
)
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def eval_(
    run_ids: tuple[str, ...],
    metric: str,
    convention: str,
    ties: str,
    zero_relevant: str,
    store: Path | None,
    as_json: bool,
) -> None:
    """Recompute a metric of stored runs from their stored codes.

    \b
    Example:
      hashbench eval --run 3f2a9c --metric map@100 --convention dcmh
    """
    with open_store(store, readonly=True) as results:
        rows = []
        for run_id in run_ids:
            record = results.get(run_id)
            values = recompute(
                results,
                record,
                metric,
                convention=convention,
                ties=ties,
                zero_relevant=zero_relevant,
            )
            rows.append((record, values))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "run_id": r.run_id,
                        "method": r.method,
                        "dataset": r.dataset,
                        "bits": r.bits,
                        "seed": r.seed,
                        "metric": metric,
                        "convention": convention,
                        "ties": ties,
                        "zero_relevant": zero_relevant,
                        "values": v,
                    }
                    for r, v in rows
                ],
                indent=2,
            )
        )
        return
    from rich.table import Table

    out = Table(
        "run",
        "method",
        "dataset",
        "bits",
        "seed",
        *(t for t in rows[0][1]),
        title=f"{metric} (convention {convention}, ties {ties}, zero-relevant {zero_relevant})",
    )
    for record, values in rows:
        cells = [
            f"{v:.4f}" if isinstance(v, float) else "(curve: use --json)" for v in values.values()
        ]
        names = (record.run_id, record.method, record.dataset, str(record.bits), str(record.seed))
        out.add_row(*(escape(v) for v in names), *cells)
    stdout.print(out)
