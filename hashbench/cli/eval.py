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
    help="Metric name, e.g. map@100, map@50:index, map@all, ndcg@50, p@100, precision@radius2, "
    "pr (a :<ties> suffix sets the tie order of that metric).",
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
    default=None,
    type=click.Choice(["expected", "index", "relevant_first", "relevant_last"]),
    help="Items at equal Hamming distance: expected = the mean over all their orders (the "
    "default; independent of the order the dataset stores its items), or a fixed order. "
    "[default: expected; index for --convention dcmh, which has no expected form]",
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
    ties: str | None,
    zero_relevant: str,
    store: Path | None,
    as_json: bool,
) -> None:
    """Recompute a metric of stored runs from their stored codes.

    \b
    Example:
      hashbench eval --run 3f2a9c --metric map@100 --convention dcmh
    """
    shown_convention, shown_ties = _effective(metric, convention, ties)
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
                        "convention": shown_convention,
                        "ties": shown_ties,
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
        title=f"{metric} (convention {shown_convention}, ties {shown_ties}, "
        f"zero-relevant {zero_relevant})",
    )
    for record, values in rows:
        cells = [
            f"{v:.4f}" if isinstance(v, float) else "(curve: use --json)" for v in values.values()
        ]
        names = (record.run_id, record.method, record.dataset, str(record.bits), str(record.seed))
        out.add_row(*(escape(v) for v in names), *cells)
    stdout.print(out)


def _effective(metric: str, convention: str, ties: str | None) -> tuple[str, str]:
    """The convention and tie order a metric name is computed with: a `:<modifier>` in the
    name wins over the option; without either, ties are expected (dcmh: index)."""
    mods = [m.strip() for m in str(metric).lower().split(":")[1:]]
    convention = next((m for m in reversed(mods) if m in ("djsrh", "dcmh", "recall")), convention)
    named = [m for m in mods if m in ("expected", "index", "relevant_first", "relevant_last")]
    if named:
        return convention, named[-1]
    return convention, ties or ("index" if convention == "dcmh" else "expected")
