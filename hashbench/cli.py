"""The `hashbench` command line: parse, call the core, render. Nothing else lives here."""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from tabulate import tabulate

from hashbench import __version__
from hashbench.cli_data import data, dataset_options_kwargs, real_data_options
from hashbench.data.types import DatasetOptions
from hashbench.errors import HashbenchError, InputError
from hashbench.executors import ExecutorSettings
from hashbench.plugins import create_plugin_manager, describe_plugins
from hashbench.profile import EnergyModel
from hashbench.registry import Registry
from hashbench.report.efficiency import EFFICIENCY_COLUMNS, build_efficiency_rows, model_counts
from hashbench.report.plots import plot_curves, plot_metric_vs_bits
from hashbench.report.reference import load_reference
from hashbench.report.table import (
    Significance,
    build_table,
    to_csv,
    to_latex,
    to_markdown,
    to_rich,
)
from hashbench.runner.execute import PlannedRun, RunOptions
from hashbench.runner.grid import GridObserver, GridSpec, dataset_label, grid_status, run_grid
from hashbench.runner.profiling import fresh_profile, stored_profile
from hashbench.runner.recompute import recompute
from hashbench.runner.spec import parse_bits, parse_budgets, parse_param_overrides, parse_seeds
from hashbench.runner.sweep_config import load_sweep
from hashbench.seeding import resolve_device
from hashbench.store import ResultStore, RunRecord, default_store_path

# Off a terminal (pipes, CI, tests) rich would cut tables at 80 columns; print them whole.
stdout = Console(width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True)


@dataclass
class App:
    """Per-invocation state: options of the top-level group and the lazily built registry."""

    debug: bool = False
    block: tuple[str, ...] = ()
    _pm: object = field(default=None, repr=False)
    _registry: Registry | None = field(default=None, repr=False)

    def plugin_manager(self):
        if self._pm is None:
            self._pm = create_plugin_manager(self.block)
        return self._pm

    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry.from_plugin_manager(self.plugin_manager())
        return self._registry


class HashbenchGroup(click.Group):
    """Turns user-facing errors into one line and a non-zero exit; tracebacks only with --debug."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HashbenchError as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(str(exc)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            stderr.print("interrupted: finished runs are in the store; rerun to resume")
            sys.exit(130)
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            stderr.print(
                f"[red]internal error:[/red] {type(exc).__name__}: {exc}\n"
                "This is a bug in hashbench or a plugin; rerun with --debug for the traceback."
            )
            sys.exit(1)


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _store(path: Path | None) -> ResultStore:
    return ResultStore(path or default_store_path())


@click.group(cls=HashbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hashbench")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.option(
    "--block-plugin",
    "block",
    multiple=True,
    metavar="NAME",
    help="Do not load this plugin (entry-point name; repeatable). Also HASHBENCH_BLOCK_PLUGINS.",
)
@click.pass_context
def main(ctx: click.Context, debug: bool, block: tuple[str, ...]) -> None:
    """hashbench: fair, reproducible, fast benchmarks of learning-to-hash methods.

    \b
    Example:
      hashbench run --methods lsh,cca-itq --dataset synth-mscoco --budget quick
      hashbench table --latex
    """
    ctx.obj = App(debug=debug, block=block)


class _ProgressObserver(GridObserver):
    """Renders grid progress on stderr with rich."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("preparing", total=None)

    def dataset_loading(self, name: str) -> None:
        self.progress.update(self.task, description=f"loading {name}")

    def grid_started(self, total: int) -> None:
        self.progress.update(self.task, total=total, description="runs")

    @staticmethod
    def _label(plan: PlannedRun) -> str:
        s = plan.spec
        return f"{s.method} / {s.dataset} / {s.bits} bits / seed {s.seed}"

    def run_started(self, plan: PlannedRun) -> None:
        self.progress.update(self.task, description=self._label(plan))

    def run_phase(self, plan: PlannedRun, phase: str) -> None:
        self.progress.update(self.task, description=f"{self._label(plan)}: {phase}")

    def run_finished(self, plan: PlannedRun, record: RunRecord, skipped: bool) -> None:
        verb = "skipped (in store)" if skipped else f"done in {record.timings['total_s']:.1f}s"
        i2t, t2i = (record.metrics.get(t, {}).get("map@50") for t in ("i2t", "t2i"))
        scores = f"  I2T {i2t:.4f}  T2I {t2i:.4f}" if i2t is not None and t2i is not None else ""
        uni = record.metrics.get("unimodal", {}).get("map@50")
        scores += f"  unimodal {uni:.4f}" if uni is not None else ""
        self.progress.console.print(f"{self._label(plan)}: {verb}{scores}  [{record.run_id}]")
        self.progress.advance(self.task)

    def run_failed(self, plan: PlannedRun, message: str) -> None:
        self.progress.console.print(
            f"[red]{self._label(plan)}: FAILED[/] {message}  "
            f"[{plan.run_id}] (traceback stored; see `hashbench status`)"
        )
        self.progress.advance(self.task)

    def run_elsewhere(self, plan: PlannedRun) -> None:
        self.progress.console.print(
            f"{self._label(plan)}: running in another process, left to it  [{plan.run_id}]"
        )
        self.progress.advance(self.task)


@main.command()
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=lambda ctx, param, value: _apply_sweep_file(ctx, value),
    help="A TOML file of these options (see docs/scheduler.md); options given here win.",
)
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
    type=float,
    help="Shrink a dataset (0 < scale <= 1), e.g. 0.1 for a fast trial: synthetic ones, and "
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
@click.option("--encode-batch-size", default=4096, show_default=True, type=click.IntRange(1))
@click.option(
    "--executor",
    default="local",
    show_default=True,
    help="Where runs execute: local (this process), process (--workers N local processes), "
    "ray (a Ray cluster, --address); see `hashbench list executors`.",
)
@click.option("--workers", type=click.IntRange(1), default=None, help="Worker processes.")
@click.option("--address", default=None, help="Ray cluster address: auto or HOST:PORT.")
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
    **data_options,
) -> None:
    """Train, encode and evaluate every combination; store the results; print a summary.

    Finished runs are skipped (--rerun forces them); a failing run is recorded with its
    traceback and the sweep goes on.

    \b
    Example:
      hashbench run --methods lsh,cca-itq --dataset synth-mscoco --bits 16,32,64,128
      hashbench run --config sweep.toml --executor process --workers 2
    """
    method_names, dataset_names = _split(methods), _split(datasets)
    if not method_names or not dataset_names:
        raise InputError("--methods and --dataset each need at least one name")
    grid = GridSpec(
        methods=method_names,
        datasets=dataset_names,
        bits=parse_bits(_split(bits)),
        seeds=parse_seeds(_split(seeds)),
        budgets=parse_budgets(_split(budget)),
        overrides=parse_param_overrides(params, method_names),
        scale=scale,
    )
    registry = app.registry()
    for name in method_names:
        registry.method(name)
    for name in dataset_names:
        registry.dataset(name)
    kwargs = dataset_options_kwargs(registry, device=resolve_device(device), **data_options)
    grid = dataclasses.replace(grid, dataset_options=kwargs)
    options = RunOptions(device=resolve_device(device), encode_batch_size=encode_batch_size)
    settings = ExecutorSettings(workers=workers, address=address, block=app.block)
    runner = registry.executor(executor)(settings)  # a bad address etc. fails before any run
    with _store(store) as results:  # opened first: an unusable store fails before training
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=stderr, transient=True) as progress:
            outcome = run_grid(
                grid,
                registry,
                results,
                options,
                rerun=rerun,
                observer=_ProgressObserver(progress),
                stop_on_failure=app.debug,  # --debug: the first failure's traceback
                executor=runner,
            )
    if outcome.records:
        stdout.print(to_rich(build_table(outcome.records), title="mAP@50 (djsrh)"))
    stderr.print(
        f"{outcome.executed} run(s) executed, {outcome.skipped} skipped (already stored), "
        f"{len(outcome.failed)} failed; store: {results.path}"
    )
    if outcome.elsewhere:
        stderr.print(
            f"{len(outcome.elsewhere)} run(s) were in progress in another process sharing the "
            "store and were left to it; run the same command later to pick up any it did not "
            "finish."
        )
    if outcome.failed:
        for plan, message in outcome.failed:  # unwrapped: one line per failed run
            click.echo(f"  failed: {_ProgressObserver._label(plan)}: {message}", err=True)
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
@click.option("--scale", default=1.0, show_default=True, type=float)
@click.option("--store", type=click.Path(path_type=Path), default=None, help="Results database.")
@click.option("--traceback", "show_traceback", is_flag=True, help="Print failed runs' tracebacks.")
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
    store: Path | None,
    show_traceback: bool,
) -> None:
    """Done / failed / pending runs: of one grid (same options as `run`), or the whole store.

    \b
    Example:
      hashbench status --methods lsh,cca-itq --dataset synth-mscoco --budget quick
      hashbench status --traceback
    """
    path = _existing_store_path(store)
    with _store(path) as results:
        if methods or datasets:
            if not (methods and datasets):
                raise InputError("status of a grid needs both --methods and --dataset")
            method_names = _split(methods)
            grid = GridSpec(
                methods=method_names,
                datasets=_split(datasets),
                bits=parse_bits(_split(bits)),
                seeds=parse_seeds(_split(seeds)),
                budgets=parse_budgets(_split(budget)),
                overrides=parse_param_overrides(params, method_names),
                scale=scale,
            )
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
    click.echo("\n" + ", ".join(f"{n} {k}" for k, n in counts.items()))
    for record in failures:
        last = record.error.strip().splitlines()[-1] if record.error.strip() else "?"
        click.echo(
            f"failed {record.run_id}: {record.method} / {record.dataset} / {record.bits} "
            f"bits / seed {record.seed}: {last}"
        )
        if show_traceback:
            click.echo(record.error)


def _existing_store_path(store: Path | None) -> Path:
    """The store to read: --store or the default; it must exist."""
    path = Path(store or default_store_path())
    if not path.exists():
        raise InputError(
            f"no results store at {path}; run `hashbench run ...` first or pass --store"
        )
    return path


def _apply_sweep_file(ctx: click.Context, path: Path | None) -> None:
    """--config: the file's values become the defaults of the command's other options."""
    if path is None:
        return
    names = [p.name for p in ctx.command.params if p.name]
    ctx.default_map = {**(ctx.default_map or {}), **load_sweep(path, names)}


@main.command()
@click.option("--store", type=click.Path(path_type=Path), default=None, help="Results database.")
@click.option("--metric", default="map@50", show_default=True, help="Stored metric to show.")
@click.option("--datasets", default=None, help="Only these datasets (comma-separated).")
@click.option("--methods", default=None, help="Only these methods (comma-separated).")
@click.option("--bits", default=None, help="Only these code lengths (comma-separated).")
@click.option("--budget", default=None, help="Only runs of this budget (paper or quick).")
@click.option("--latex", "fmt", flag_value="latex", help="Print a LaTeX (booktabs) tabular.")
@click.option("--markdown", "fmt", flag_value="markdown", help="Print a Markdown table.")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV (one line per cell).")
@click.option(
    "--marks",
    default="bold,underline,italic",
    show_default=True,
    help="LaTeX styles of best,second,third (bold, underline, italic, plain).",
)
@click.option(
    "--significance",
    is_flag=True,
    help="Mark only differences to the next method that are significant across seeds "
    "(paired t-test, p < 0.05).",
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
@click.option("--e-mac", default=4.6, show_default=True, type=float, help="pJ per MAC.")
@click.option("--e-ac", default=0.9, show_default=True, type=float, help="pJ per SOP.")
def table(
    store: Path | None,
    metric: str,
    datasets: str | None,
    methods: str | None,
    bits: str | None,
    budget: str | None,
    fmt: str | None,
    marks: str,
    significance: bool,
    tie_range: bool,
    reference: bool,
    reference_dir: Path | None,
    efficiency: bool,
    e_mac: float,
    e_ac: float,
) -> None:
    """Print stored results: rows task x method, columns dataset x bits (mean over seeds).

    Best, second and third per column and task are marked as in the papers.

    \b
    Example:
      hashbench table --latex > table.tex
      hashbench table --significance --markdown
      hashbench table --efficiency
    """
    path = _existing_store_path(store)
    with _store(path) as results:
        records = results.records(
            dataset=_split(datasets) if datasets else None,
            method=_split(methods) if methods else None,
            bits=parse_bits(_split(bits)) if bits else None,
            budget=parse_budgets(_split(budget)) if budget else None,
        )
    if not records:
        raise InputError(f"no finished runs match in {path}")
    if efficiency:
        energy = _energy_model(e_mac, e_ac)
        cells = [row.cells() for row in build_efficiency_rows(records, energy)]
        if fmt == "markdown":
            click.echo(tabulate(cells, headers=EFFICIENCY_COLUMNS, tablefmt="github"))
        elif fmt == "latex":
            click.echo(tabulate(cells, headers=EFFICIENCY_COLUMNS, tablefmt="latex_booktabs"))
        else:
            from rich.table import Table

            out = Table(*EFFICIENCY_COLUMNS, title="Efficiency", caption=energy.formula())
            for row in cells:
                out.add_row(*row)
            stdout.print(out)
            return
        click.echo(f"% {energy.formula()}" if fmt == "latex" else f"\n{energy.formula()}")
        return
    comparison = build_table(
        records,
        metric,
        significance=Significance() if significance else None,
        tie_range=tie_range,
        reference=load_reference(reference_dir) if reference else (),
    )
    if fmt == "latex":
        click.echo(to_latex(comparison, marks=tuple(_split(marks))), nl=False)
    elif fmt == "csv":
        click.echo(to_csv(comparison), nl=False)
    elif fmt == "markdown":
        click.echo(to_markdown(comparison))
    else:
        stdout.print(to_rich(comparison))


@main.command()
@click.option("--store", type=click.Path(path_type=Path), default=None, help="Results database.")
@click.option("--metric", default="map@50", show_default=True, help="Stored metric vs bits.")
@click.option("--datasets", default=None, help="Only these datasets (comma-separated).")
@click.option("--methods", default=None, help="Only these methods (comma-separated).")
@click.option("--bits", "curve_bits", type=int, default=None, help="Code length of the curves.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the figures [default: plots/ beside the store].",
)
def plot(
    store: Path | None,
    metric: str,
    datasets: str | None,
    methods: str | None,
    curve_bits: int | None,
    out: Path | None,
) -> None:
    """Draw the metric vs code length, P@K curves and PR curves (PNG and PDF).

    \b
    Example:
      hashbench plot --datasets synth-mirflickr
      hashbench plot --metric map@all --bits 64 --out figures/
    """
    path = _existing_store_path(store)
    with _store(path) as results:
        records = results.records(
            dataset=_split(datasets) if datasets else None,
            method=_split(methods) if methods else None,
        )
    if not records:
        raise InputError(f"no finished runs match in {path}")
    out_dir = out or Path(path).parent / "plots"
    written = plot_metric_vs_bits(records, metric, out_dir) + plot_curves(
        records, curve_bits, out_dir
    )
    for file in written:
        click.echo(str(file))


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
@click.option("--store", type=click.Path(path_type=Path), default=None, help="Results database.")
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
    with _store(store) as results:
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
        out.add_row(
            record.run_id, record.method, record.dataset, str(record.bits), str(record.seed), *cells
        )
    stdout.print(out)


def _energy_model(e_mac: float, e_ac: float) -> EnergyModel:
    if e_mac < 0 or e_ac < 0:
        raise InputError("--e-mac and --e-ac are energies per operation in pJ; they must be >= 0")
    return EnergyModel(e_mac_pj=e_mac, e_ac_pj=e_ac)


@main.command()
@click.option("--methods", "-m", required=True, help="Comma-separated method names.")
@click.option("--bits", "-b", default="128", show_default=True, help="Code lengths.")
@click.option(
    "--dataset",
    "-d",
    default="synth-mirflickr",
    show_default=True,
    help="Dataset whose query pairs are fed through the model.",
)
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=float,
    help="Dataset scale, as for `run` (a stored run is looked up at this scale).",
)
@click.option("--store", type=click.Path(path_type=Path), default=None, help="Results database.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--e-mac", default=4.6, show_default=True, type=float, help="pJ per MAC.")
@click.option(
    "--e-ac",
    default=0.9,
    show_default=True,
    type=float,
    help="pJ per synaptic operation (accumulate).",
)
@click.option("--layers", is_flag=True, help="Also print the per-layer breakdown.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def profile(
    app: App,
    methods: str,
    bits: str,
    dataset: str,
    scale: float,
    store: Path | None,
    device: str,
    e_mac: float,
    e_ac: float,
    layers: bool,
    as_json: bool,
) -> None:
    """Parameters, MACs, SOPs, firing rates and energy per image-text pair.

    Uses the profile of a stored trained run when the store has one for the same method,
    dataset and bits; otherwise profiles a briefly fitted model (counts do not depend on
    training; firing rates of spiking models do).

    \b
    Example:
      hashbench profile --methods lsh,cca-itq --bits 128
    """
    registry = app.registry()
    names = _split(methods)
    for name in names:
        registry.method(name)
    registry.dataset(dataset)
    energy = _energy_model(e_mac, e_ac)
    path = store or default_store_path()
    results = ResultStore(path) if Path(path).exists() else None
    reports = []
    loaded = None
    try:
        for name in names:
            for b in parse_bits(_split(bits)):
                label = dataset_label(dataset, scale)
                report = stored_profile(results, name, label, b) if results else None
                if report is None:
                    if loaded is None:
                        loaded = registry.dataset(dataset).load(DatasetOptions(scale=scale))
                    report = fresh_profile(
                        registry.method(name), loaded, b, resolve_device(device), energy=energy
                    )
                reports.append(report)
    finally:
        if results is not None:
            results.close()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "method": r.method,
                        "dataset": r.dataset,
                        "bits": r.bits,
                        "source": r.source,
                        "energy_model": {
                            "e_mac_pj": e_mac,
                            "e_ac_pj": e_ac,
                            "formula": energy.formula(),
                        },
                        "summary": model_counts(r.profile, energy),
                        "profile": r.profile,
                    }
                    for r in reports
                ],
                indent=2,
            )
        )
        return
    from rich.table import Table

    out = Table(
        "method",
        "bits",
        "params",
        "MACs/pair",
        "SOPs/pair",
        "firing rate",
        "energy uJ/pair",
        "source",
        title=f"Efficiency per image-text pair ({dataset})",
        caption=energy.formula(),
    )
    for r in reports:
        c = model_counts(r.profile, energy)
        if c["params"] is None:
            reason = r.profile.get("error") or "the method has no torch model to count"
            out.add_row(r.method, str(r.bits), "-", "-", "-", "-", "-", f"{r.source}; {reason}")
            continue
        out.add_row(
            r.method,
            str(r.bits),
            f"{c['params']:,}",
            f"{c['macs']:,.0f}",
            f"{c['sops']:,.0f}",
            "-" if c["firing_rate"] is None else f"{c['firing_rate']:.4f}",
            f"{c['energy_uj']:.2f}",
            r.source,
        )
    stdout.print(out)
    if layers:
        for r in reports:
            ops = (r.profile.get("model") or {}).get("ops") or {}
            firing = {
                f["path"]: f["rate"]
                for f in ((r.profile.get("model") or {}).get("firing") or {}).get("layers", [])
            }
            table_ = Table(
                "layer",
                "type",
                "MACs/pair",
                "SOPs/pair",
                "firing rate",
                title=f"{r.method}, {r.bits} bits: per layer",
            )
            for layer in ops.get("layers", []):
                rate = firing.get(layer["path"])
                table_.add_row(
                    layer["path"],
                    layer["module_type"],
                    f"{layer['macs']:,.0f}",
                    f"{layer['sops']:,.0f}",
                    "-" if rate is None else f"{rate:.4f}",
                )
            stdout.print(table_)


@main.command(name="list")
@click.argument("kind", type=click.Choice(["methods", "datasets", "encoders", "executors"]))
@click.argument("pattern", default="*")
@click.pass_obj
def list_(app: App, kind: str, pattern: str) -> None:
    """List registered methods, datasets, encoders or executors with a one-line description.

    \b
    Example:
      hashbench list methods
      hashbench list datasets 'synth-*'
    """
    registry = app.registry()
    if kind == "methods":
        for name in registry.list_methods(pattern):
            info = registry.methods[name].info
            flags = [info.supervision, "spiking" if info.spiking else "ann"]
            if info.pair_fused:
                flags.append("pair-fused")
            stdout.print(
                f"[bold]{name:14}[/bold] {info.display_name}: {info.summary} "
                f"({', '.join(flags)}; {info.reference})",
                highlight=False,
            )
    elif kind == "datasets":
        for name in registry.list_datasets(pattern):
            stdout.print(
                f"[bold]{name:16}[/bold] {registry.datasets[name].summary}", highlight=False
            )
    elif kind == "executors":
        for name in registry.list_executors(pattern):
            stdout.print(
                f"[bold]{name:14}[/bold] {escape(registry.executors[name].summary)}",
                highlight=False,
            )
    else:
        for name in registry.list_encoders(pattern):
            stdout.print(
                f"[bold]{name:14}[/bold] {registry.encoders[name].summary}", highlight=False
            )


@main.command()
@click.pass_obj
def plugins(app: App) -> None:
    """List every loaded plugin with its distribution, version and hooks.

    \b
    Example:
      hashbench plugins
      HASHBENCH_BLOCK_PLUGINS=baselines hashbench plugins
    """
    from rich.table import Table

    out = Table("plugin", "distribution", "version", "hooks")
    for info in describe_plugins(app.plugin_manager()):
        out.add_row(info.name, info.distribution, info.version, ", ".join(info.hooks))
    stdout.print(out)


main.add_command(data)

if __name__ == "__main__":  # pragma: no cover
    main()
