"""`hashbench tune`: equal-budget tuning studies on a validation split, then tuned and default
test runs; `hashbench tune --show STUDY`: a study's trials and parameter importances."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from tabulate import tabulate

from hashbench.cli.app import App, main, stderr
from hashbench.cli.options import (
    BATCH,
    SCALE,
    TRIAL_BATCH,
    TRIALS,
    VAL_FRACTION,
    VAL_QUERIES,
    WORKERS,
    Bounded,
    build_grid,
    existing_store_path,
    open_store,
    prepare_grid,
    real_data_options,
    split,
    sweep_file_option,
)
from hashbench.cli.run import executor_settings, run_timeout_option, slurm_option
from hashbench.data.validation import (
    DATABASES,
    DEFAULT_FRACTION,
    DEFAULT_MAX_QUERIES,
    primary_score,
)
from hashbench.errors import InputError
from hashbench.runner.execute import PlannedRun, RunOptions
from hashbench.runner.time_limit import check_run_timeout
from hashbench.seeding import resolve_device
from hashbench.store import RunRecord
from hashbench.tuning.cost import duration, seconds, trial_counts
from hashbench.tuning.report import show_study
from hashbench.tuning.session import TuneObserver, tune_grid
from hashbench.tuning.settings import DEFAULT_BATCH, DEFAULT_TRIALS, PRUNERS, TuneSettings
from hashbench.tuning.study import Study, TrialResult


class _TuneProgress(TuneObserver):
    """Renders studies on stderr: a bar per study (trial k of N, best so far), the run's phase."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.current = progress.add_task("preparing", total=None)
        self.bars: dict[str, int] = {}

    def note(self, message: str) -> None:
        self.progress.console.print(escape(message), soft_wrap=True)

    def dataset_loading(self, name: str) -> None:
        self.progress.update(self.current, description=escape(f"loading {name}"))

    def study_started(self, study: Study) -> None:
        self.bars[study.id] = self.progress.add_task(
            escape(study.label), total=study.settings.trials
        )

    def trial_told(self, study: Study, trial: TrialResult) -> None:
        best = study.best
        bar = self.bars[study.id]
        text = f"{study.label}: best {best.value:.4f}" if best else study.label
        self.progress.update(bar, advance=1, description=escape(text))
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        where = "reused" if trial.reused else "ran"
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        self.progress.console.print(
            escape(f"{study.label}: trial {trial.number} {trial.state} {value} ({where}) {params}"),
            soft_wrap=True,
        )

    def run_started(self, plan: PlannedRun) -> None:
        self.progress.update(self.current, description=escape(_label(plan)))

    def run_phase(self, plan: PlannedRun, phase: str) -> None:
        self.progress.update(self.current, description=escape(f"{_label(plan)}: {phase}"))

    def run_elsewhere(self, plan: PlannedRun) -> None:
        text = f"{_label(plan)}: running in another process, waiting for it"
        self.progress.update(self.current, description=escape(text))


def _label(plan: PlannedRun) -> str:
    s = plan.spec
    what = f"trial {plan.tuning['trial']}" if plan.protocol == "trial" else plan.protocol
    return f"{s.method} / {plan.dataset_label} / {s.bits} bits / seed {s.seed}: {what}"


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


@main.command()
@sweep_file_option("A TOML file of these options; options given here win.")
@click.option("--methods", "-m", default=None, help="Comma-separated method names.")
@click.option("--dataset", "-d", "datasets", default=None, help="Dataset name(s).")
@click.option("--bits", "-b", default="16,32,64,128", show_default=True, help="Code lengths.")
@click.option("--seeds", "-s", default="0", show_default=True, help="Seeds (one study each).")
@click.option("--budget", default="paper", show_default=True, help="paper, quick or both.")
@click.option(
    "--trials",
    default=DEFAULT_TRIALS,
    show_default=True,
    type=TRIALS,
    help="Trials per study (the same for every method); trial 0 is the method's own values.",
)
@click.option(
    "--batch-size",
    "batch",
    default=DEFAULT_BATCH,
    show_default=True,
    type=TRIAL_BATCH,
    help="Trials asked together, then told together; independent of --workers, so a study is "
    "the same whatever runs it.",
)
@click.option(
    "--pruner",
    type=click.Choice(PRUNERS),
    default="median",
    show_default=True,
    help="Stop trials below the median of earlier trials after the same epoch.",
)
@click.option(
    "--val-fraction",
    default=DEFAULT_FRACTION,
    show_default=True,
    type=VAL_FRACTION,
    help="Share of the training pairs held out as validation queries.",
)
@click.option(
    "--val-max-queries",
    default=DEFAULT_MAX_QUERIES,
    show_default=True,
    type=VAL_QUERIES,
    help="At most this many validation queries.",
)
@click.option(
    "--val-database",
    type=click.Choice(DATABASES),
    default="fit",
    show_default=True,
    help="fit: the validation database is the fit set; mirror: the fit set is the same share "
    "of the validation database as the training items are of the test retrieval set, which "
    "shrinks it (to 4% of the training pairs on MS COCO; docs/tuning.md).",
)
@click.option(
    "--time-budget",
    "time_budget",
    type=Bounded(0.001, 1e8, why="seconds of trial run time per study"),
    default=None,
    metavar="SECONDS",
    help="Per study: start no new batch of trials once the trials' stored run times add up to "
    "this (--trials stays the cap; trial 0 always runs). Default: equal trials, no budget.",
)
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="METHOD.NAME=VALUE",
    help="Fix a hyperparameter (repeatable); searched ones start from it.",
)
@click.option("--scale", default=1.0, show_default=True, type=SCALE, help="Shrink datasets.")
@click.option(
    "--store",
    type=click.Path(path_type=Path),
    default=None,
    help="Results database [default: $HASHBENCH_STORE or results/hashbench.sqlite].",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--encode-batch-size", default=4096, show_default=True, type=BATCH)
@click.option(
    "--executor", default="local", show_default=True, help="local, process, ray or slurm."
)
@click.option("--workers", type=WORKERS, default=None, help="Worker processes (slurm: jobs).")
@click.option("--address", default=None, help="Ray cluster address: auto or HOST:PORT.")
@slurm_option
@run_timeout_option("a trial (or a test run)")
@click.option("--show", "show", default=None, metavar="STUDY", help="Print a stored study.")
@real_data_options
@click.pass_obj
def tune(
    app: App,
    methods: str | None,
    datasets: str | None,
    bits: str,
    seeds: str,
    budget: str,
    trials: int,
    batch: int,
    pruner: str,
    val_fraction: float,
    val_max_queries: int,
    val_database: str,
    time_budget: float | None,
    params: tuple[str, ...],
    scale: float,
    store: Path | None,
    device: str,
    encode_batch_size: int,
    executor: str,
    workers: int | None,
    address: str | None,
    slurm: tuple[str, ...],
    run_timeout: float | None,
    show: str | None,
    **data_options,
) -> None:
    """Tune every method with the same number of trials on a validation split of the training
    pairs, then evaluate its own and its tuned parameters on the test protocol.

    Trials are stored runs: a killed tune resumes where it stopped, and processes sharing a
    store share the trials. See docs/tuning.md.

    \b
    Example:
      hashbench tune --methods cca-itq,spikehash --dataset synth-mscoco --bits 32 \\
          --budget quick --trials 20
      hashbench tune --methods cca-itq,ucmfh --dataset synth-mscoco --bits 32 \\
          --budget quick --trials 50 --time-budget 1800   # equal trial time instead
      hashbench tune --show s3f2a9c    # a study's trials, cost and parameter importances
    """
    if show is not None:
        _show(store, show)
        return
    method_names, dataset_names = split(methods or ""), split(datasets or "")
    if not method_names or not dataset_names:
        raise InputError("--methods and --dataset each need at least one name")
    settings = TuneSettings(
        trials,
        batch,
        pruner,
        val_fraction,
        val_max_queries,
        val_database=val_database,
        time_budget_s=time_budget,
    )
    grid = build_grid(method_names, dataset_names, bits, seeds, budget, params, scale)
    registry, grid = prepare_grid(app, grid, device, data_options)
    options = RunOptions(
        device=resolve_device(device),
        encode_batch_size=encode_batch_size,
        run_timeout=check_run_timeout(run_timeout),
    )
    where = executor_settings(executor, workers, address, slurm, app.block)
    runner = registry.executor(executor)(where)
    with open_store(store) as results:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=stderr, transient=True) as progress:
            outcome = tune_grid(
                grid,
                settings,
                registry,
                results,
                options,
                observer=_TuneProgress(progress),
                executor=runner,
                stop_on_failure=app.debug,
            )
    _summary(outcome.studies, outcome.records)
    for name in outcome.untunable:
        click.echo(f"note: {name} declares no tunable parameters; it has its default row only")
    if outcome.failed:
        for what, message in outcome.failed:
            click.echo(f"  failed: {what}: {message}", err=True)
        stderr.print(
            "No tuned row was written for a failed study. `hashbench status --traceback` shows "
            "the trials' tracebacks; running the same command again retries what is missing."
        )
        sys.exit(1)


def _summary(studies: list[Study], records: list[RunRecord]) -> None:
    """Per study: validation scores (trial 0 vs best) and test mAP@50 (default vs tuned)."""
    by_cell: dict[tuple, dict[str, RunRecord]] = {}
    for r in records:
        by_cell.setdefault((r.method, r.dataset, r.bits, r.seed, r.budget), {})[r.protocol] = r
    rows = []
    for study in studies:
        s = study.base.spec
        test = by_cell.get((s.method, study.base.dataset_label, s.bits, s.seed, s.budget), {})
        start = next((t.value for t in study.trials if t.number == 0), None)
        best = study.best
        rows.append(
            (
                s.method,
                study.base.dataset_label,
                s.bits,
                s.seed,
                study.id,
                _trials_text(study),
                duration(study.trial_seconds),
                duration(seconds(test["tuned"])) if "tuned" in test else "-",
                _num(start),
                _num(best.value if best else None),
                best.number if best else "-",
                _num(_test(test.get("default"))),
                _num(_test(test.get("tuned"))),
            )
        )
    if rows:
        headers = [
            "method", "dataset", "bits", "seed", "study", "trials", "trial time", "refit",
            "val default", "val best", "best trial", "test default", "test tuned",
        ]  # fmt: skip
        click.echo(tabulate(rows, headers=headers))
        click.echo(
            "val: validation score; test: mAP@50, mean of I2T and T2I (mAP@R unimodal); trial "
            "time: the trials' summed run times; refit: the tuned test run's"
        )


def _trials_text(study: Study) -> str:
    """'8 trials (2 pruned)', and with a time budget what stopped the study."""
    text = trial_counts({s: study.count(s) for s in ("complete", "pruned", "failed")})
    budget = study.settings.time_budget_s
    if budget is not None:
        why = "budget spent" if study.budget_spent else f"cap {study.settings.trials}"
        text += f", {duration(budget)} budget: {why}"
    return text


def _test(record: RunRecord | None) -> float | None:
    if record is None:
        return None
    return primary_score(record.metrics, _depth(record))


def _depth(record: RunRecord) -> int | None:
    """R of a unimodal run: its mAP@R is stored beside mAP@50 (alone when R is 50)."""
    uni = record.metrics.get("unimodal", {})
    depths = [int(k[4:]) for k in uni if k.startswith("map@") and k[4:].isdigit()]
    return next((d for d in depths if d != 50), depths[0]) if depths else None


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _show(store: Path | None, study_id: str) -> None:
    with open_store(existing_store_path(store), readonly=True) as results:
        view = show_study(results, study_id)
    s = view.summary
    click.echo(
        f"study {s.study}: {s.method} / {s.dataset} / {s.bits} bits / seed {s.seed} / "
        f"{s.budget} budget; {len(view.trials)} trial(s) stored"
    )
    for name, domain in view.space.items():
        click.echo(f"  {name}: {domain}")
    names = list(view.space)
    rows = [
        (number, state, _num(value), *[_short(params[n]) for n in names], run_id)
        for number, state, value, params, run_id in view.trials
    ]
    click.echo(tabulate(rows, headers=["trial", "state", "val score", *names, "run"]))
    click.echo(
        f"cost: {trial_counts(s.states)} stored, {duration(s.trial_seconds)} of trials "
        "(summed run times, failed trials up to their failure)"
    )
    for record in s.tuned:
        t = record.tuning
        budget = t.get("time_budget_s")
        allowed = (
            f", a {duration(budget)} time budget allowed {t['trials']} of at most {t['trials_cap']}"
            if budget is not None
            else ""
        )
        click.echo(
            f"tuned run {record.run_id} ({t['trials']} trials{allowed}): best trial "
            f"{t['best_trial']}, validation {t['score']:.4f}; test {_num(_test(record))}; "
            f"refit {duration(seconds(record))}"
        )
    if view.importances:
        click.echo("parameter importances (fANOVA):")
        for name, value in view.importances.items():
            click.echo(f"  {name}: {value:.3f}")
    else:
        click.echo(f"parameter importances: {view.note}")
