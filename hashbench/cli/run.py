"""`hashbench run` and `hashbench status`: a grid of runs, executed or inspected, with progress
rendered on stderr (`progress_view`: bars in a terminal, plain lines in a log).

The runner, torch, the report and the tuning code are imported inside the commands, so that
`hashbench run --help` (and `hashbench --help`) stay fast: keep new heavy imports there too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from hashbench.cli.app import App, main, stderr, stdout
from hashbench.cli.options import (
    BATCH,
    LOG_INTERVAL,
    SCALE,
    WORKERS,
    build_grid,
    existing_store_path,
    open_store,
    prepare_grid,
    real_data_options,
    run_protocol_option,
    split,
    store_option,
    sweep_file_option,
)
from hashbench.errors import InputError

if TYPE_CHECKING:
    pass


def run_timeout_option(what: str):
    """--run-timeout SECONDS (`hashbench run`, `hashbench tune`)."""
    return click.option(
        "--run-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"Fail {what} that takes longer (stored as failed with that reason; the sweep goes "
        "on). Default: no limit.",
    )


slurm_option = click.option(
    "--slurm",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting of --executor slurm (repeatable), e.g. partition=gpu, time=120 (minutes), "
    "gpus=1, cpus=8, mem=32G, folder=PATH, retries=2; see docs/scheduler.md#slurm.",
)


def executor_settings(
    executor: str, workers: int | None, address: str | None, slurm: tuple[str, ...], block
):
    """`ExecutorSettings` from the executor options of `run` and `tune` (--slurm: slurm only)."""
    from hashbench.executors import ExecutorSettings

    if slurm and executor != "slurm":
        raise InputError(f"--slurm sets up --executor slurm; this run uses --executor {executor}")
    extra = {"slurm": tuple(slurm)} if slurm else {}
    return ExecutorSettings(workers=workers, address=address, block=block, extra=extra)


@main.command()
@sweep_file_option("A TOML file of these options (see docs/scheduler.md); options given here win.")
@click.option("--methods", "-m", required=True, help="Comma-separated method names.")
@click.option(
    "--dataset", "-d", "datasets", required=True, help="Dataset name(s), comma-separated."
)
@click.option("--bits", "-b", default="16,32,64,128", show_default=True, help="Code lengths.")
@click.option("--seeds", "-s", default="0", show_default=True, help="Seeds, comma-separated.")
@click.option(
    "--budget",
    default="paper",
    show_default=True,
    help="paper: the papers' schedules; quick: short; quick,paper: both.",
)
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="METHOD.NAME=VALUE",
    help="Override a hyperparameter (repeatable), e.g. ucmfh.epochs=20.",
)
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=SCALE,
    help="Shrink a dataset (0.005 <= scale <= 1), e.g. 0.1 for a fast trial: synthetic ones, and "
    "the protocol split of cifar10 and the DVS datasets.",
)
@click.option(
    "--store",
    type=click.Path(path_type=Path),
    default=None,
    help="Results database [default: $HASHBENCH_STORE or results/hashbench.sqlite].",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--rerun", is_flag=True, help="Run again even when the store has the result.")
@click.option("--encode-batch-size", default=4096, show_default=True, type=BATCH)
@click.option(
    "--executor",
    default="local",
    show_default=True,
    help="Where runs execute: local (this process), process (--workers N local processes), "
    "ray (a Ray cluster, --address), slurm (one SLURM job per run, --slurm); see "
    "`hashbench list executors`.",
)
@click.option(
    "--workers",
    type=WORKERS,
    default=None,
    help="Worker processes (process: default one per core); jobs queued or running at once "
    "(slurm: default 16).",
)
@click.option("--address", default=None, help="Ray cluster address: auto or HOST:PORT.")
@slurm_option
@run_timeout_option("a run")
@click.option(
    "--log-interval",
    default=30.0,
    show_default=True,
    type=LOG_INTERVAL,
    envvar="HASHBENCH_LOG_INTERVAL",
    help="Off a terminal (a log file, CI): seconds between progress lines of the runs in "
    "flight (0: none). In a terminal, bars show progress instead.",
)
@click.option(
    "--tuned",
    is_flag=True,
    help="Use the best parameters of each cell's stored `hashbench tune` study (rows marked "
    "tuned).",
)
@run_protocol_option
@real_data_options
@click.pass_obj
def run(
    app: App,
    methods: str,
    datasets: str,
    bits: str,
    seeds: str,
    budget: str,
    params: tuple[str, ...],
    scale: float,
    store: Path | None,
    device: str,
    rerun: bool,
    encode_batch_size: int,
    executor: str,
    workers: int | None,
    address: str | None,
    slurm: tuple[str, ...],
    run_timeout: float | None,
    log_interval: float,
    tuned: bool,
    protocol: str,
    **data_options,
) -> None:
    """Train, encode and evaluate every combination; store the results; print a summary.

    Finished runs are skipped (--rerun forces them); a failing run is recorded with its
    traceback and the sweep goes on.

    \b
    Example:
      hashbench run --methods lsh,cca-itq --dataset synth-mscoco --bits 16,32,64,128
      hashbench run --config sweep.toml --executor process --workers 2
      hashbench run --methods jdsh,ucch --dataset synth-mscoco --bits 32 --protocol as-released
    """
    from hashbench.cli.progress_view import observe, run_label
    from hashbench.report.budgets import budget_free_methods
    from hashbench.report.table import build_table, to_rich
    from hashbench.report.variants import registry_reference, variant_labels
    from hashbench.runner.execute import RunOptions
    from hashbench.runner.grid import check_protocol, run_grid
    from hashbench.runner.time_limit import check_run_timeout
    from hashbench.seeding import resolve_device
    from hashbench.tuning.session import run_tuned_grid

    method_names, dataset_names = split(methods), split(datasets)
    if not method_names or not dataset_names:
        raise InputError("--methods and --dataset each need at least one name")
    grid = build_grid(method_names, dataset_names, bits, seeds, budget, params, scale, protocol)
    if tuned and grid.protocol != "default":
        raise InputError(
            f"--protocol {grid.protocol} cannot be combined with --tuned: tuned parameters come "
            "from a validation study, the released protocol selects snapshots on labelled "
            "evaluation data; run them as two commands"
        )
    check_protocol(grid, app.registry())  # before any dataset or encoder loads
    registry, grid = prepare_grid(app, grid, device, data_options)
    options = RunOptions(
        device=resolve_device(device),
        encode_batch_size=encode_batch_size,
        run_timeout=check_run_timeout(run_timeout),
    )
    settings = executor_settings(executor, workers, address, slurm, app.block)
    runner = registry.executor(executor)(settings)  # a bad address etc. fails before any run
    with open_store(store) as results:  # opened first: an unusable store fails before training
        with observe(stderr, log_interval) as observer:
            outcome = (run_tuned_grid if tuned else run_grid)(
                grid,
                registry,
                results,
                options,
                rerun=rerun,
                observer=observer,
                stop_on_failure=app.debug,  # --debug: the first failure's traceback
                executor=runner,
            )
    if outcome.records:
        plain = not stdout.is_terminal or stdout.no_color or stdout.color_system is None
        # the rows `hashbench table` shows: labels named against the methods' defaults (a
        # value a method derives from the code length, e.g. SpikeHash's T, is no variant)
        free = budget_free_methods(registry)
        labels = variant_labels(outcome.records, registry_reference(registry), free)
        summary = build_table(outcome.records, labels=labels)
        table = to_rich(summary, title="mAP@50 (djsrh)", text_marks=plain)
        stdout.print(table)  # off a colour terminal the marks show as text
    stderr.print(
        f"{outcome.executed} run(s) executed, {outcome.skipped} skipped (already stored), "
        f"{len(outcome.failed)} failed; store: {escape(str(results.path))}"
    )
    if outcome.elsewhere:
        stderr.print(
            f"{len(outcome.elsewhere)} run(s) were in progress in another process sharing the "
            "store and were left to it; run the same command later to pick up any it did not "
            "finish."
        )
    if outcome.failed:
        for plan, message in outcome.failed:  # unwrapped: one line per failed run
            click.echo(f"  failed: {run_label(plan)}: {message}", err=True)
        stderr.print(
            "The other runs are stored. `hashbench status` shows the tracebacks; "
            "running the same command again retries only what is missing."
        )
        sys.exit(1)


@main.command()
@click.option("--methods", "-m", default=None, help="Comma-separated method names.")
@click.option("--dataset", "-d", "datasets", default=None, help="Dataset name(s).")
@click.option("--bits", "-b", default="16,32,64,128", show_default=True, help="Code lengths.")
@click.option("--seeds", "-s", default="0", show_default=True, help="Seeds, comma-separated.")
@click.option("--budget", default="paper", show_default=True, help="paper, quick or both.")
@click.option("--param", "-p", "params", multiple=True, metavar="METHOD.NAME=VALUE")
@click.option("--scale", default=1.0, show_default=True, type=SCALE)
@run_protocol_option
@store_option
@click.option("--traceback", "show_traceback", is_flag=True, help="Print failed runs' tracebacks.")
@click.option(
    "--prune",
    is_flag=True,
    help="Remove orphans: codes in the store's own codes folder that no run refers to, and "
    "leftovers of writes that never finished (never those of a run a live process holds).",
)
@click.pass_obj
def status(
    app: App,
    methods: str | None,
    datasets: str | None,
    bits: str,
    seeds: str,
    budget: str,
    params: tuple[str, ...],
    scale: float,
    protocol: str,
    store: Path | None,
    show_traceback: bool,
    prune: bool,
) -> None:
    """Done / failed / pending runs: of one grid (same options as `run`), or the whole store.

    Also lists finished runs whose codes are missing, rows changed after they were stored and
    orphaned codes (removed with --prune).

    \b
    Example:
      hashbench status --methods lsh,cca-itq --dataset synth-mscoco --budget quick
      hashbench status --traceback
      hashbench status --prune
    """
    from tabulate import tabulate

    from hashbench.cli.status_view import claim_lines, integrity_lines, tuned_runs_text
    from hashbench.runner.grid import grid_status
    from hashbench.store import default_store_path
    from hashbench.store.merge_log import status_lines
    from hashbench.tuning.cost import duration, trial_counts
    from hashbench.tuning.report import study_summaries

    path = existing_store_path(store)
    with open_store(path, readonly=True) as results:
        if methods or datasets:
            if not (methods and datasets):
                raise InputError("status of a grid needs both --methods and --dataset")
            names = split(methods), split(datasets)
            grid = build_grid(*names, bits, seeds, budget, params, scale, protocol)
            cells = grid_status(grid, app.registry(), results)
            rows = [
                (p.spec.method, p.dataset_label, p.spec.bits, p.spec.seed, state, p.run_id)
                for p, state in cells
            ]
            click.echo(
                tabulate(rows, headers=["method", "dataset", "bits", "seed", "status", "run"])
            )
            counts = {k: sum(1 for _, s in cells if s == k) for k in ("done", "failed", "pending")}
        else:
            summary = results.status_counts()
            click.echo(tabulate(summary, headers=["dataset", "method", "done", "failed"]))
            counts = {
                "done": sum(r[2] for r in summary),
                "failed": sum(r[3] for r in summary),
            }
        failures = results.failures()
        missing, damaged = results.missing_codes(), results.damaged_rows()
        orphans = results.orphans()
        studies = [] if damaged else study_summaries(results)  # it would refuse damaged rows
        claims = results.unfinished_claims()
        merges = status_lines(results)  # merged runs, runs without codes, replicates
    if prune and orphans:
        with open_store(path) as writable:
            orphans, kept = writable.prune_orphans()
        for orphan in kept:
            click.echo(f"kept {orphan.path}: run {orphan.run_id} is being written right now")
    for state in ("running", "interrupted"):
        if any(c.state == state for c in claims):
            counts[state] = sum(c.state == state for c in claims)
    click.echo("\n" + ", ".join(f"{n} {k}" for k, n in counts.items()))
    default = Path(path).resolve() == Path(default_store_path()).resolve()
    for line in claim_lines(claims, store=None if default else str(path)):
        click.echo(line)
    for line in integrity_lines(
        missing, damaged, orphans, store=None if default else str(path), pruned=prune
    ):
        click.echo(line)
    for line in merges:
        click.echo(line)
    if studies:
        click.echo("\ntuning studies (`hashbench tune --show STUDY`):")
        rows = [
            (s.study, s.method, s.dataset, s.bits, s.seed, s.budget, trial_counts(s.states),
             duration(s.trial_seconds), duration(s.refit_seconds), s.database,
             "-" if s.best is None else f"{s.best:.4f}",
             tuned_runs_text(s.tuned))
            for s in studies
        ]  # fmt: skip
        headers = ["study", "method", "dataset", "bits", "seed", "budget", "trials",
                   "trial time", "refit", "val database", "best val", "tuned runs"]  # fmt: skip
        click.echo(tabulate(rows, headers=headers))
    for record in failures:
        last = record.error.strip().splitlines()[-1] if record.error.strip() else "?"
        click.echo(
            f"failed {record.run_id}: {record.method} / {record.dataset} / {record.bits} "
            f"bits / seed {record.seed}: {last}"
        )
        if show_traceback:
            click.echo(record.error)
