"""`hashbench compare A B`: two methods on one dataset and code length, query by query."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import click

from hashbench.cli.app import main, stdout
from hashbench.cli.options import existing_store_path, open_store, split, store_option
from hashbench.errors import InputError
from hashbench.report.significance import load_per_query
from hashbench.report.table import TASK_NAMES
from hashbench.runner.spec import parse_budgets
from hashbench.stats import (
    DEFAULT_RESAMPLES,
    TESTS,
    Comparison,
    StatsOptions,
    compare_methods,
)


def _fmt_p(p: float | None, resamples: int | None = None) -> str:
    """A p-value; the smallest Monte Carlo value (no resample as extreme) shows as a bound."""
    if p is None:
        return "-"
    if resamples is not None and p <= 1.0 / (resamples + 1) + 1e-15:
        return f"<= {p:.1e}"
    return f"{p:.4f}" if p >= 1e-3 else f"{p:.1e}"


@main.command()
@click.argument("method_a")
@click.argument("method_b")
@click.option("--dataset", required=True, help="Dataset name as stored (e.g. synth-mirflickr).")
@click.option("--bits", required=True, type=int, help="Code length.")
@click.option("--metric", default="map@50", show_default=True, help="Per-query metric.")
@click.option("--budget", default=None, help="Only runs of this budget (paper or quick).")
@click.option(
    "--resamples", default=DEFAULT_RESAMPLES, show_default=True, type=int, help="Resamples."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the resampling.")
@click.option("--level", default=0.95, show_default=True, type=float, help="Interval level.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def compare(
    method_a: str,
    method_b: str,
    dataset: str,
    bits: int,
    metric: str,
    budget: str | None,
    resamples: int,
    seed: int,
    level: float,
    store: Path | None,
    as_json: bool,
) -> None:
    """Compare METHOD_A with METHOD_B per task: mean difference (A - B) over queries, its
    bootstrap interval, the paired randomization test's p-value and the effect size.

    Per-query values are averaged over the seeds both methods ran.

    \b
    Example:
      hashbench compare cca-itq lsh --dataset synth-mirflickr --bits 32
    """
    options = StatsOptions(resamples=resamples, seed=seed, level=level)
    path = existing_store_path(store)
    with open_store(path, readonly=True) as results:
        records = results.records(
            dataset=[dataset],
            method=[method_a, method_b],
            bits=[bits],
            budget=parse_budgets(split(budget)) if budget else None,
        )
        for method in (method_a, method_b):
            budgets = {r.budget for r in records if r.method == method}
            if not budgets:
                raise InputError(f"no finished runs of '{method}' on {dataset} at {bits} bits")
            if len(budgets) > 1:
                raise InputError(
                    f"'{method}' has runs of budgets {', '.join(sorted(budgets))}; "
                    "choose one with --budget"
                )
        cells, _ = load_per_query(results, records, metric)
    column = (dataset, bits)
    tasks = sorted(
        {row[0] for row, _ in cells},
        key=lambda t: (list(TASK_NAMES).index(t) if t in TASK_NAMES else 99, t),
    )
    found: dict[str, Comparison] = {}
    for task in tasks:
        a, b = cells.get(((task, method_a), column)), cells.get(((task, method_b), column))
        if a is None or b is None:
            raise InputError(f"'{metric}' is not stored for both methods' {task} task")
        found[task] = compare_methods(a, b, options)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "a": method_a,
                    "b": method_b,
                    "dataset": dataset,
                    "bits": bits,
                    "metric": metric,
                    "options": asdict(options),
                    "tasks": {
                        t: {
                            k: (None if isinstance(v, float) and math.isinf(v) else v)
                            for k, v in asdict(c).items()
                        }
                        for t, c in found.items()
                    },
                },
                indent=2,
            )
        )
        return
    from rich.table import Table

    out = Table(
        "Task",
        method_a,
        method_b,
        "A - B",
        f"{level:.0%} interval",
        "p (queries)",
        "effect d_z",
        "A wins / losses",
        "queries",
        "shared seeds",
        "p (seeds t-test)",
        title=f"{metric}: {method_a} vs {method_b}, {dataset}, {bits} bits",
        caption=(
            f"p (queries): {TESTS['queries']} ({resamples:,} resamples, seed {seed}); "
            f"interval: {options.describe_ci()}; d_z: mean per-query difference / its standard "
            "deviation; p (seeds t-test): needs 2 or more shared seeds."
        ),
    )
    for task, c in found.items():
        out.add_row(
            TASK_NAMES.get(task, task),
            f"{c.mean_a:.4f}",
            f"{c.mean_b:.4f}",
            f"{c.difference:+.4f}",
            f"[{c.low:+.4f}, {c.high:+.4f}]",
            _fmt_p(c.pvalue, resamples if 2**c.n_queries > resamples else None),
            f"{c.effect_size:+.3f}",
            f"{c.wins} / {c.losses}",
            str(c.n_queries),
            ",".join(map(str, c.seeds)) or "none shared",
            _fmt_p(c.seeds_pvalue),
        )
    stdout.print(out)
