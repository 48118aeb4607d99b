"""`hashbench tune` and `hashbench run --tuned`: studies over a grid, and tuned test runs.

For every (budget, dataset, method, bits, seed) of the grid, `tune_grid` replays the study on
the seed's validation split (`hashbench.tuning.study`), then evaluates on the test protocol,
exactly like `hashbench run`, both the method at its own values (protocol "default") and the
best trial's parameters refit on the full training split (protocol "tuned", with the study in
its `tuning` field). A method with no search space gets its default row and a note.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna

from hashbench.data.types import CrossModalDataset
from hashbench.data.validation import Holdout
from hashbench.errors import InputError
from hashbench.executors import Executor, ExecutorSettings, InProcessExecutor
from hashbench.lifecycle import SweepTally
from hashbench.registry import Registry
from hashbench.runner.execute import PlannedRun, RunOptions
from hashbench.runner.grid import (
    GridObserver,
    GridSpec,
    check_params,
    load_datasets,
    plan_grid,
    run_plans,
)
from hashbench.store import ResultStore, RunRecord, default_store_path
from hashbench.tuning import settings as ts
from hashbench.tuning.study import Study, TrialResult, replay, wait_and_run


class TuneObserver(GridObserver):
    """Progress of studies (the CLI renders it); every method is a no-op here."""

    def study_started(self, study: Study) -> None: ...
    def trial_told(self, study: Study, trial: TrialResult) -> None: ...
    def study_finished(self, study: Study) -> None: ...
    def note(self, message: str) -> None: ...


@dataclass
class TuneOutcome:
    studies: list[Study] = field(default_factory=list)
    records: list[RunRecord] = field(default_factory=list)  # default and tuned test runs
    failed: list[tuple[str, str]] = field(default_factory=list)  # (what, one-line message)
    untunable: list[str] = field(default_factory=list)  # methods with no search space


def _label(plan: PlannedRun) -> str:
    s = plan.spec
    return f"{s.method} / {plan.dataset_label} / {s.bits} bits / seed {s.seed}"


def tuning_record(study: Study) -> dict[str, Any]:
    """The `tuning` field of a tuned run: how its parameters were chosen, and what it cost."""
    best = study.best
    assert best is not None
    counts = {s: study.count(s) for s in ("complete", "pruned", "failed")}
    holdout, validation = study.holdout, study.validation
    n_val, n_db = holdout.sizes(len(validation.query) + len(validation.retrieval))
    record = {
        "study": study.id,
        "trials": len(study.trials),
        **{f"trials_{state}": n for state, n in counts.items()},
        # summed stored run times of the trials (failed ones: the time until they failed)
        "trial_seconds": study.trial_seconds,
        "batch": study.settings.batch,
        "sampler": {**study.settings.sampler(study.base.spec.seed), "optuna": optuna.__version__},
        "pruner": study.settings.pruner_dict(),
        "validation": {
            **holdout.as_dict(),
            "queries": n_val,
            "database": n_db,
            "fit": len(validation.train),
            "fit_share": len(validation.train) / n_db,
            "database_rule": study.settings.val_database,
            "fingerprint": validation.fingerprint,
            "metric": "mAP@R" if validation.task == "unimodal" else "mAP@50 (I2T+T2I)/2",
        },
        "score": best.value,
        "default_score": next((t.value for t in study.trials if t.number == 0), None),
        "best_trial": best.number,
        "best_params": best.params,
        "space": {name: ts.describe(d) for name, d in study.space.items()},
        "trial_runs": [t.run_id for t in study.trials],
    }
    if study.settings.time_budget_s is not None:  # how many trials the budget allowed
        record["time_budget_s"] = study.settings.time_budget_s
        record["trials_cap"] = study.settings.trials
        record["budget_spent"] = study.budget_spent
    return record


def tuned_plan(base: PlannedRun, dataset: CrossModalDataset, tuning: dict[str, Any]) -> PlannedRun:
    """The tuned test run: `base` with the study's best parameters, its own id and label."""
    spec = replace(base.spec, overrides={**base.spec.overrides, **tuning["best_params"]})
    plan = PlannedRun.resolve(spec, base.method_cls, dataset, base.dataset_label, base.origin)
    budget = {"time_budget_s": tuning["time_budget_s"]} if "time_budget_s" in tuning else {}
    run_id = ts.derived_id(
        plan.run_id, protocol="tuned", study=tuning["study"], trials=tuning["trials"], **budget
    )
    return replace(plan, run_id=run_id, protocol="tuned", tuning=tuning)


def make_study(
    base: PlannedRun, dataset: CrossModalDataset, settings: ts.TuneSettings
) -> Study | None:
    """The study of one grid cell, or None when the method declares nothing to tune."""
    space = ts.search_space(base.method_cls, base.params)
    if not space:
        return None
    holdout = Holdout.for_dataset(
        dataset,
        settings.val_fraction,
        settings.val_max_queries,
        seed=base.spec.seed,
        database=settings.val_database,
    )
    validation = holdout.apply(dataset)
    study_id = ts.study_id(
        method=base.spec.method,
        validation_fingerprint=validation.fingerprint,
        bits=base.spec.bits,
        seed=base.spec.seed,
        budget=base.spec.budget,
        params=base.params,
        space=space,
        settings=settings,
    )
    return Study(base, validation, holdout, space, settings, study_id)


def tune_grid(
    grid: GridSpec,
    settings: ts.TuneSettings,
    registry: Registry,
    store: ResultStore,
    options: RunOptions,
    *,
    observer: TuneObserver | None = None,
    executor: Executor | None = None,
    stop_on_failure: bool = False,
) -> TuneOutcome:
    """Tune every cell of `grid` (see the module docstring); return what was stored."""
    observer = observer or TuneObserver()
    executor = executor or InProcessExecutor(ExecutorSettings())
    for name in grid.methods:
        registry.method(name)
    check_params(grid, registry)  # a bad --param fails before any dataset loads
    loaded, dataset_options = load_datasets(grid, registry, observer)
    bases = plan_grid(grid, registry, loaded)
    studies = {b.run_id: make_study(b, loaded[b.spec.dataset], settings) for b in bases}
    outcome = TuneOutcome()
    tally = SweepTally()  # every trial and test run: one sweep for the lifecycle hooks
    for name in dict.fromkeys(b.spec.method for b in bases if studies[b.run_id] is None):
        outcome.untunable.append(name)
        observer.note(f"{name} declares no tunable parameters: it gets its default row only")

    def runner(datasets: dict[str, CrossModalDataset]):
        def run(plans: Sequence[PlannedRun]) -> list[PlannedRun]:
            result = run_plans(
                plans,
                datasets,
                dataset_options,
                registry,
                store,
                options,
                observer=observer,
                stop_on_failure=stop_on_failure,
                executor=executor,
                close_executor=False,
                tally=tally,
            )
            outcome.records.extend(r for r in result.records if r.protocol != "trial")
            outcome.failed.extend(
                (f"{_label(p)}: {p.protocol} run", m)
                for p, m in result.failed
                if p.protocol != "trial"
            )
            return result.elsewhere, set(result.ran)

        return wait_and_run(run, settings.poll_s)

    try:
        for base in bases:
            study = studies[base.run_id]
            test_plans = [base]
            if study is not None:
                outcome.studies.append(study)
                observer.study_started(study)
                validation = {base.spec.dataset: study.validation}
                replay(study, store, runner(validation), observer.trial_told, stop_on_failure)
                observer.study_finished(study)
                if study.best is None:
                    first = next((t.error for t in study.trials if t.error), "all pruned")
                    outcome.failed.append(
                        (study.label, f"all {len(study.trials)} trials failed ({first})")
                    )
                else:
                    dataset = loaded[base.spec.dataset]
                    test_plans.append(tuned_plan(base, dataset, tuning_record(study)))
            runner(loaded)(test_plans)
    finally:
        try:
            executor.close()
        finally:
            registry.hooks.sweep_finish(tally.finished(str(store.path)))
    return outcome


def run_tuned_grid(
    grid: GridSpec,
    registry: Registry,
    store: ResultStore,
    options: RunOptions,
    **run_kwargs: Any,
):
    """`hashbench run --tuned`: every cell with the best parameters of its stored study.

    A cell uses a study on the default validation protocol (`--val-database fit`) over one on
    `--val-database mirror`; then the tuned run of its own seed's study when there is
    one, else the study of the lowest seed with one (so `--seeds 0,1,2` after tuning at seed 0
    repeats the tuned setting); among several, the one with the most trials. A cell without any
    fails before any run.
    """
    for name in grid.methods:
        registry.method(name)
    check_params(grid, registry)
    observer = run_kwargs.get("observer") or GridObserver()
    loaded, dataset_options = load_datasets(grid, registry, observer)
    plans = []
    for base in plan_grid(grid, registry, loaded):
        tuning = stored_tuning(store, base)
        if tuning is None:
            s = base.spec
            raise InputError(
                f"--tuned: no tuning study of {s.method} on {base.dataset_label} at {s.bits} "
                f"bits ({s.budget} budget) in {store.path}; run `{tune_hint(base, grid, store)}`"
                " first"
            )
        plans.append(tuned_plan(base, loaded[base.spec.dataset], tuning))
    observer.grid_started(len(plans))
    return run_plans(plans, loaded, dataset_options, registry, store, options, **run_kwargs)


def tune_hint(base: PlannedRun, grid: GridSpec, store: ResultStore) -> str:
    """The `hashbench tune` command whose study `run --tuned` would find for `base`'s cell: its
    cell, scale and --param values, and the data root and store where they are not the
    defaults (an encoder and other data options are for the user to add)."""
    s = base.spec
    args = ["hashbench", "tune", "--methods", s.method, "--dataset", s.dataset]
    args += ["--bits", str(s.bits), "--budget", s.budget]
    if grid.scale != 1.0:
        args += ["--scale", f"{grid.scale:g}"]
    for name, value in sorted(s.overrides.items()):
        shown = value if isinstance(value, str) else json.dumps(value)
        args += ["--param", f"{s.method}.{name}={shown}"]
    if grid.dataset_options.get("data_root") is not None:
        args += ["--data-root", str(grid.dataset_options["data_root"])]
    if Path(store.path).resolve() != default_store_path().resolve():
        args += ["--store", str(store.path)]
    return shlex.join(args)


def stored_tuning(store: ResultStore, base: PlannedRun) -> dict[str, Any] | None:
    """The `tuning` of the stored tuned run that fits `base`'s cell best (see run_tuned_grid)."""
    s = base.spec
    found = [
        r
        for r in store.records(
            method=s.method,
            dataset=base.dataset_label,
            bits=s.bits,
            budget=s.budget,
            protocol="tuned",
        )
        if r.params == {**base.params, **r.tuning.get("best_params", {})}
    ]
    if not found:
        return None
    best = min(
        found,
        key=lambda r: (
            not current_protocol(r.tuning),
            r.seed != s.seed,
            r.seed,
            -r.tuning["trials"],
        ),
    )
    return dict(best.tuning)


def current_protocol(tuning: dict[str, Any]) -> bool:
    """Whether a tuned run's study used the default validation protocol (the database is the
    fit set; studies stored before `--val-database` existed record no `database_rule` and
    used it too)."""
    return tuning.get("validation", {}).get("database_rule", "fit") == "fit"
