"""`hashbench compare A B`: two settings on one dataset and code length, query by query.

Each side is exactly one setting: a method name, or a row label as `hashbench table --names cli`
prints it (`"cca-itq [ridge=1.0]"`, `"cca-itq (tuned)"`). A side that matches runs of several
settings is refused with the settings found; the setting each side used is printed. A bare
method name never stands for its as-released runs (`jdsh (as released)§`, selected as the
released code selects): name that setting (the § may be left out) or pass
`--protocol as-released`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import click

from hashbench.cli.app import App, main, stderr, stdout
from hashbench.cli.options import (
    CODE_BITS,
    LEVEL,
    RESAMPLES,
    SEED,
    existing_store_path,
    open_store,
    split,
    store_option,
    stored_runs,
    variant_reference,
)
from hashbench.errors import InputError
from hashbench.report.significance import load_per_query
from hashbench.report.table import TASK_NAMES
from hashbench.runner.spec import parse_budgets
from hashbench.stats import (
    DEFAULT_RESAMPLES,
    MIN_QUERIES,
    TESTS,
    Comparison,
    StatsOptions,
    compare_methods,
)

EXAMPLE = (
    "hashbench compare cca-itq lsh --dataset synth-mirflickr --bits 32\n"
    '  hashbench compare "cca-itq [ridge=1.0]" cca-itq --dataset synth-mirflickr --bits 32'
)


def _fmt_p(p: float | None, resamples: int | None = None) -> str:
    """A p-value; the smallest Monte Carlo value (no resample as extreme) shows as a bound."""
    if p is None:
        return "n/a"
    if resamples is not None and p <= 1.0 / (resamples + 1) + 1e-15:
        return f"<= {p:.1e}"
    return f"{p:.4f}" if p >= 1e-3 else f"{p:.1e}"


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _pick(
    side: str, records: list, labels: dict[str, str], where: str, released: bool = False
) -> str:
    """The one setting (row label) `side` names among `records`, or a refusal listing them.
    released: --protocol as-released asked for (a bare name may then name such a setting)."""
    from hashbench.report.variants import AS_RELEASED_MARK, is_as_released

    found = sorted({labels[r.run_id] for r in records})
    if side in found:
        return side
    if side + AS_RELEASED_MARK in found:  # "jdsh (as released)" without the symbol
        return side + AS_RELEASED_MARK
    mine = sorted({labels[r.run_id] for r in records if r.method == side})
    fair = [label for label in mine if not is_as_released(label)]
    if fair or not released:  # never averaged with, nor silently taken for, a fair setting
        if not fair and mine:
            raise InputError(
                f"'{side}' has only as-released runs {where} (\"{mine[0]}\"); name that "
                f'setting, `hashbench compare "{mine[0]}" ...`, or pass --protocol as-released'
            )
        mine = fair
    if len(mine) == 1 and "[" not in mine[0]:  # a bare name never stands for a --param variant
        return mine[0]
    if len(mine) == 1:
        raise InputError(
            f"'{side}' has no runs at its default parameters {where}, only \"{mine[0]}\"; "
            f'name that setting to compare it: `hashbench compare "{mine[0]}" ...`'
        )
    if mine:
        listed = "; ".join(f'"{label}"' for label in mine)
        raise InputError(
            f"'{side}' has runs of {len(mine)} settings {where}: {listed}. Name one as the "
            f'side, e.g. `hashbench compare "{mine[-1]}" ...`, or narrow with --budget / '
            "--protocol"
        )
    known = ", ".join(f'"{label}"' for label in found) or "none"
    raise InputError(f"no finished runs of '{side}' {where}; settings stored there: {known}")


@main.command()
@click.argument("method_a", metavar="A", required=False)
@click.argument("method_b", metavar="B", required=False)
@click.option("--dataset", default=None, help="Dataset name as stored (e.g. synth-mirflickr).")
@click.option("--bits", default=None, type=CODE_BITS, help="Code length.")
@click.option("--metric", default="map@50", show_default=True, help="Per-query metric.")
@click.option("--budget", default=None, help="Only runs of this budget (paper or quick).")
@click.option(
    "--protocol",
    type=click.Choice(["default", "tuned", "as-released"]),
    default=None,
    help="Only runs at default or at tuned parameters, or selected as the released code "
    "selects (as-released; a bare method name then names its as-released setting).",
)
@click.option(
    "--resamples",
    default=DEFAULT_RESAMPLES,
    show_default=True,
    type=RESAMPLES,
    help="Bootstrap resamples (training seeds, then queries).",
)
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the resampling.")
@click.option("--level", default=0.95, show_default=True, type=LEVEL, help="Interval level.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def compare(
    app: App,
    method_a: str | None,
    method_b: str | None,
    dataset: str | None,
    bits: int | None,
    metric: str,
    budget: str | None,
    protocol: str | None,
    resamples: int,
    seed: int,
    level: float,
    store: Path | None,
    as_json: bool,
) -> None:
    """Compare setting A with setting B per task: mean difference (A - B), its interval and
    p-value (bootstrap over seeds and queries) and the effect size.

    Interval and p-value come from one two-level bootstrap (training seeds, then queries, the
    same query resamples for both sides), so they agree.

    A and B are method names or row labels as `hashbench table --names cli` prints them; each
    must match one setting (budget, protocol, parameters). Each side is averaged over all its
    seeds; with one seed on a side, training-seed variation is not covered (query-level). Below
    MIN_QUERIES (10) queries, interval, p-value and effect size are n/a.

    \b
    Example:
      hashbench compare cca-itq lsh --dataset synth-mirflickr --bits 32
      hashbench compare "cca-itq [ridge=1.0]" cca-itq --dataset synth-mirflickr --bits 32
    """
    given = (("A", method_a), ("B", method_b), ("--dataset", dataset), ("--bits", bits))
    missing = [name for name, value in given if value is None]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)}. Example:\n  {EXAMPLE}")
    options = StatsOptions(resamples=resamples, seed=seed, level=level)
    path = existing_store_path(store)
    where = f"on {dataset} at {bits} bits"
    with open_store(path, readonly=True) as results:
        from hashbench.report.budgets import select_budgets
        from hashbench.report.variants import variant_labels

        everything, budget_free = stored_runs(results, app)  # labels as the table shows them
        labels = variant_labels(everything, variant_reference(app), budget_free)
        budgets = parse_budgets(split(budget)) if budget else None
        records = [
            r
            for r in select_budgets(everything, budgets, budget_free)
            if r.dataset == dataset
            and r.bits == bits
            and (protocol is None or r.protocol == protocol)
        ]
        released = protocol == "as-released"
        label_a = _pick(method_a, records, labels, where, released)
        label_b = _pick(method_b, records, labels, where, released)
        if label_a == label_b:
            raise InputError(
                f'A and B are the same setting ("{label_a}"); compare two different settings'
            )
        chosen = [r for r in records if labels[r.run_id] in (label_a, label_b)]
        from hashbench.runner.rescore import stale_warning  # rows of an older scoring

        if warning := stale_warning(chosen):
            stderr.print(warning, highlight=False)
        cells, _ = load_per_query(results, chosen, metric, lambda r: labels[r.run_id])
    runs = {
        side: sorted((r for r in chosen if labels[r.run_id] == side), key=lambda r: r.seed)
        for side in (label_a, label_b)
    }
    column = (dataset, bits)
    tasks = sorted(
        {row[0] for row, _ in cells},
        key=lambda t: (list(TASK_NAMES).index(t) if t in TASK_NAMES else 99, t),
    )
    found: dict[str, Comparison] = {}
    for task in tasks:
        a, b = cells.get(((task, label_a), column)), cells.get(((task, label_b), column))
        if a is None or b is None:
            raise InputError(f"'{metric}' is not stored for both settings' {task} task")
        found[task] = compare_methods(a, b, options)
    settings = {
        key: {
            "label": label,
            "method": runs[label][0].method,
            "budget": runs[label][0].budget,
            "protocol": runs[label][0].protocol,
            "params": runs[label][0].params,
            "runs": [r.run_id for r in runs[label]],
            "seeds": [r.seed for r in runs[label]],
            "other_settings": sorted(
                {labels[r.run_id] for r in records if r.method == runs[label][0].method} - {label}
            ),
        }
        for key, label in (("a", label_a), ("b", label_b))
    }
    too_few = [t for t, c in found.items() if c.n_queries < MIN_QUERIES]
    why = (
        f"interval, p-value and effect size need at least {MIN_QUERIES} queries (fewer give "
        "degenerate intervals and a test that cannot reach small p-values)"
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "a": label_a,
                    "b": label_b,
                    "settings": settings,
                    "dataset": dataset,
                    "bits": bits,
                    "metric": metric,
                    "options": asdict(options),
                    "min_queries": MIN_QUERIES,
                    "not_available": {t: why for t in too_few},
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
    from rich.markup import escape
    from rich.table import Table

    for key, side in (("A", "a"), ("B", "b")):
        s = settings[side]
        stdout.print(
            escape(
                f"{key}: {s['label']}: {s['method']}, budget {s['budget']}, protocol "
                f"{s['protocol']}, seeds {','.join(map(str, s['seeds']))}, runs "
                f"{', '.join(s['runs'])}"
                + (
                    "; also stored: " + ", ".join(f'"{o}"' for o in s["other_settings"])
                    if s["other_settings"]
                    else ""
                )
            ),
            highlight=False,
        )
    out = Table(
        "Task",
        escape(label_a),
        escape(label_b),
        "A - B",
        f"{level:.0%} interval",
        "p (seeds+queries)",
        "effect d_z",
        "A wins / losses",
        "queries",
        "shared seeds",
        "p (seeds t-test)",
        title=escape(f"{metric}: {label_a} vs {label_b}, {dataset}, {bits} bits"),
        caption=escape(
            f"p (seeds+queries): {TESTS['queries']} ({resamples:,} resamples, seed {seed}; "
            "± its Monte-Carlo standard error); interval: A - B -/+ t quantile x the same "
            f"bootstrap standard error, so it excludes 0 exactly when p < {1 - level:.2g}; "
            "d_z: mean per-query difference / its standard deviation; "
            "p (seeds t-test): needs 2 or more shared seeds."
        ),
    )
    for task, c in found.items():
        interval = "n/a" if c.low is None else f"[{c.low:+.4f}, {c.high:+.4f}]"
        out.add_row(
            TASK_NAMES.get(task, task),
            f"{c.mean_a:.4f}",
            f"{c.mean_b:.4f}",
            f"{c.difference:+.4f}",
            interval,
            _fmt_p(c.pvalue) + ("" if c.mc_se is None else f" ±{c.mc_se:.1g}"),
            _fmt(c.effect_size, "+.3f"),
            f"{c.wins} / {c.losses}",
            str(c.n_queries),
            ",".join(map(str, c.seeds)) or "none shared",
            _fmt_p(c.seeds_pvalue),
        )
    stdout.print(out)
    caveats = _caveats(found, level) + _released_caveat(settings)
    for note in ([f"n/a: {why}."] if too_few else []) + caveats:
        stdout.print(escape(note), highlight=False)


def _caveats(found: dict[str, Comparison], level: float) -> list[str]:
    """What the reader must know about the numbers: query-level sides, disagreements."""
    out = []
    if any(c.query_level for c in found.values()):
        out.append(
            "query-level: a side has one training seed, so training-seed variation is not "
            "covered (store --seeds 0,1,2 or more)."
        )
    odd = [t for t, c in found.items() if c.pvalue is not None and not c.agree]
    if odd:
        out.append(
            f"{', '.join(odd)}: the interval and p disagree about {1 - level:.2g} only by "
            "floating-point rounding (p equals the level to the shown digits)."
        )
    return out


def _released_caveat(settings: dict) -> list[str]:
    """A line for each side that is an as-released setting."""
    return [
        f"{key.upper()} is as released (§): its model was selected as its released code selects "
        "(often on the test queries), so the difference is not a fair comparison."
        for key, s in settings.items()
        if s["protocol"] == "as-released"
    ]
