"""Run a grid (methods x datasets x bits x seeds) against the store, skipping finished runs."""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashbench.data.leakage import check_no_query_copies
from hashbench.data.types import CrossModalDataset, DatasetOptions
from hashbench.errors import InputError, RunFailedError
from hashbench.executors import DriverState, Executor, ExecutorSettings, InProcessExecutor, RunTask
from hashbench.lifecycle import LifecycleHooks, RunStarted, SweepTally
from hashbench.registry import Registry
from hashbench.runner.execute import PlannedRun, RunOptions
from hashbench.runner.lease import LEASE_S, LeaseKeeper
from hashbench.runner.progress import Step
from hashbench.runner.resume import claim_about
from hashbench.runner.spec import RunSpec, parse_protocol, resolve_params
from hashbench.store import ClaimOwner, ResultStore, RunRecord


@dataclass(frozen=True)
class GridSpec:
    """The cartesian product to run, plus per-method hyperparameter overrides."""

    methods: Sequence[str]
    datasets: Sequence[str]
    bits: Sequence[int]
    seeds: Sequence[int] = (0,)
    budgets: Sequence[str] = ("paper",)
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scale: float = 1.0
    cache_dir: Path | None = None
    dataset_options: Mapping[str, Any] = field(default_factory=dict)  # more DatasetOptions
    protocol: str = "default"  # or "as-released": the released code's model selection

    def expand(self) -> list[RunSpec]:
        return [
            RunSpec(
                method=m,
                dataset=d,
                bits=b,
                seed=s,
                budget=budget,
                overrides=dict(self.overrides.get(m, {})),
            )
            for budget, d, m, b, s in itertools.product(
                self.budgets, self.datasets, self.methods, self.bits, self.seeds
            )
        ]


class GridObserver:
    """Receives progress; the CLI renders it. Every method is a no-op here."""

    def grid_started(self, total: int) -> None: ...
    def dataset_loading(self, name: str) -> None: ...
    def run_started(self, plan: PlannedRun) -> None: ...
    def run_phase(self, plan: PlannedRun, phase: Step) -> None: ...  # prints as a phrase
    def run_finished(self, plan: PlannedRun, record: RunRecord, skipped: bool) -> None: ...
    def run_failed(self, plan: PlannedRun, message: str) -> None: ...
    def run_elsewhere(self, plan: PlannedRun) -> None: ...


@dataclass
class GridOutcome:
    records: list[RunRecord] = field(default_factory=list)
    executed: int = 0
    skipped: int = 0
    failed: list[tuple[PlannedRun, str]] = field(default_factory=list)  # (run, one-line error)
    elsewhere: list[PlannedRun] = field(default_factory=list)  # claimed by another process
    ran: list[str] = field(default_factory=list)  # ids of the runs this process executed


def dataset_label(name: str, scale: float) -> str:
    """How a dataset is named in the store: a reduced scale is part of the name."""
    return name if scale == 1.0 else f"{name}@{scale:g}"


def plan_grid(
    grid: GridSpec, registry: Registry, datasets: Mapping[str, CrossModalDataset]
) -> list[PlannedRun]:
    """Resolve every cell: method class, parameters and run id. Fails before any training."""
    plans = []
    for spec in grid.expand():
        method_cls = registry.method(spec.method)
        dataset = datasets[spec.dataset]
        if dataset.task not in method_cls.info.tasks:
            raise InputError(
                f"method '{spec.method}' does not support {dataset.task} retrieval, the task of "
                f"dataset '{spec.dataset}' (it declares: {', '.join(method_cls.info.tasks)}); "
                "drop it from --methods or pick a dataset of its task"
            )
        limit = method_cls.max_bits(dataset.feature_dims)
        if limit is not None and spec.bits > limit:
            raise InputError(
                f"--bits {spec.bits}: method '{spec.method}' supports at most {limit} bits on "
                f"{spec.dataset} (its features have {dataset.feature_dims} dimensions)"
            )
        plans.append(
            PlannedRun.resolve(
                spec,
                method_cls,
                dataset,
                dataset_label=dataset_label(spec.dataset, grid.scale),
                origin=registry.origin("method", spec.method),
                protocol=grid.protocol,
            )
        )
    # one run per id: a method whose budget changes nothing plans one run for all budgets
    return list({plan.run_id: plan for plan in plans}.values())


def check_protocol(grid: GridSpec, registry: Registry) -> None:
    """Refuse, before any data loads, a protocol the grid's methods or datasets cannot run:
    as-released needs a method's `released_selection` and a cross-modal dataset."""
    parse_protocol(grid.protocol)
    if grid.protocol != "as-released":
        return
    missing = [m for m in grid.methods if registry.method(m).released_selection is None]
    if missing:
        declared = [n for n in registry.list_methods() if registry.method(n).released_selection]
        raise InputError(
            f"--protocol as-released: {', '.join(missing)} "
            f"{'declares' if len(missing) == 1 else 'declare'} no released selection; "
            f"methods that do: {', '.join(declared) or '(none)'}"
        )
    for name in grid.datasets:
        task = registry.dataset(name).task
        if task != "cross-modal":
            raise InputError(
                f"--protocol as-released: dataset '{name}' is {task}; the released selections "
                "score cross-modal retrieval (I2T and T2I) only"
            )


def check_params(grid: GridSpec, registry: Registry) -> None:
    """Refuse, before any data or encoder loads, a --param that no cell of the grid accepts
    (unknown name, wrong type, out of range), with the message planning would give. A dataset's
    protocol (its declared one, the same before loading) only changes default values, but
    those type a value: each override is resolved exactly as each cell will resolve it."""
    for method, overrides in grid.overrides.items():
        if not overrides:
            continue
        method_cls = registry.method(method)
        protocols = dict.fromkeys(registry.dataset(d).protocol for d in grid.datasets)
        for protocol in protocols:
            for budget in grid.budgets:
                resolve_params(method_cls, protocol, budget, overrides)


def failed_record(plan: PlannedRun, dataset: CrossModalDataset) -> RunRecord:
    """The store row of a run that raised: its grid cell, parameters and plugin origin."""
    return RunRecord(
        run_id=plan.run_id,
        method=plan.spec.method,
        dataset=plan.dataset_label,
        dataset_fingerprint=dataset.fingerprint,
        bits=plan.spec.bits,
        seed=plan.spec.seed,
        budget=plan.spec.budget,
        params=dict(plan.params),
        pair_fused=plan.method_cls.info.pair_fused,
        metrics={},
        timings={},
        provenance={"method_plugin": dict(plan.origin)},
        status="failed",
        protocol=plan.protocol,
        tuning=dict(plan.tuning),
    )


def grid_status(
    grid: GridSpec, registry: Registry, store: ResultStore
) -> list[tuple[PlannedRun, str]]:
    """Every run of the grid with its status in the store: done, failed or pending."""
    check_params(grid, registry)  # a bad --param fails before any dataset loads
    loaded, _ = load_datasets(grid, registry)
    plans = plan_grid(grid, registry, loaded)
    stored = store.statuses([p.run_id for p in plans])
    return [(plan, stored.get(plan.run_id, "pending")) for plan in plans]


def load_datasets(
    grid: GridSpec, registry: Registry, observer: GridObserver | None = None
) -> tuple[dict[str, CrossModalDataset], DatasetOptions]:
    """Load every dataset of the grid (and return the options they were loaded with)."""
    options = DatasetOptions(scale=grid.scale, cache_dir=grid.cache_dir, **grid.dataset_options)
    loaded = {}
    for name in grid.datasets:
        spec = registry.dataset(name)
        if observer is not None:
            observer.dataset_loading(name)
        dataset = spec.load(options)
        check_no_query_copies(dataset, f"dataset '{name}'")  # refuse a leak before any run
        loaded[name] = dataset
    return loaded, options


def run_grid(
    grid: GridSpec,
    registry: Registry,
    store: ResultStore,
    options: RunOptions,
    *,
    rerun: bool = False,
    observer: GridObserver | None = None,
    stop_on_failure: bool = False,
    executor: Executor | None = None,
    lease_s: float = LEASE_S,
) -> GridOutcome:
    """Run every cell not already in the store (all of them with `rerun`) on `executor`.

    Each run is claimed in the store just before it starts, so processes sharing a store never
    do the same run twice; runs another process holds are left to it. A run that raises is
    recorded as failed (with its traceback) and the sweep goes on, unless `stop_on_failure`,
    which raises after recording it.
    """
    observer = observer or GridObserver()
    for name in grid.methods:
        registry.method(name)  # unknown names fail before any data is loaded
    check_protocol(grid, registry)
    check_params(grid, registry)
    loaded, dataset_options = load_datasets(grid, registry, observer)
    plans = plan_grid(grid, registry, loaded)
    observer.grid_started(len(plans))
    return run_plans(
        plans,
        loaded,
        dataset_options,
        registry,
        store,
        options,
        rerun=rerun,
        observer=observer,
        stop_on_failure=stop_on_failure,
        executor=executor,
        lease_s=lease_s,
    )


def run_plans(
    plans: Sequence[PlannedRun],
    loaded: Mapping[str, CrossModalDataset],
    dataset_options: DatasetOptions,
    registry: Registry,
    store: ResultStore,
    options: RunOptions,
    *,
    rerun: bool = False,
    observer: GridObserver | None = None,
    stop_on_failure: bool = False,
    executor: Executor | None = None,
    lease_s: float = LEASE_S,
    close_executor: bool = True,
    tally: SweepTally | None = None,
) -> GridOutcome:
    """Run planned runs not already in the store with the store's claims (`run_grid`'s engine).

    `loaded` maps each plan's `spec.dataset` to the dataset it runs on (a tuning trial's is the
    validation split). A plan's `protocol` and `tuning` label its stored record.

    The registry's lifecycle hooks fire here: a run's start when it is handed to the executor,
    its finish after its record is stored, its failure after the failure is; and the sweep's
    finish when this call ends (also when it stops on a failure), unless it is one pass of a
    longer sweep whose caller passes a `tally` (this call's runs are added to it) and fires it.
    """
    hooks: LifecycleHooks = registry.hooks
    store_path = str(store.path)
    observer = observer or GridObserver()
    executor = executor or InProcessExecutor(ExecutorSettings())
    outcome = GridOutcome()
    by_id = {plan.run_id: plan for plan in plans}
    owner = ClaimOwner.current()
    started: dict[str, float] = {}  # when each run was handed to the executor

    def skip(plan: PlannedRun) -> None:
        record = store.get(plan.run_id)
        outcome.skipped += 1
        outcome.records.append(record)
        observer.run_finished(plan, record, skipped=True)

    with LeaseKeeper(store.path, owner, lease_s) as lease:

        def claimed_tasks():  # lazy: each run is claimed when the executor is ready for it
            for plan in plans:
                if not rerun and store.has_run(plan.run_id):
                    skip(plan)
                    continue
                state = store.claim(
                    plan.run_id, owner, lease_s, rerun=rerun, about=claim_about(plan)
                )
                if state == "done":  # finished by another process meanwhile
                    skip(plan)
                    continue
                if state == "busy":
                    outcome.elsewhere.append(plan)
                    observer.run_elsewhere(plan)
                    continue
                lease.add(plan.run_id)
                observer.run_started(plan)
                hooks.run_start(RunStarted.of(plan, store_path))
                started[plan.run_id] = time.perf_counter()
                yield RunTask.from_plan(
                    plan,
                    loaded[plan.spec.dataset],
                    dataset_options,
                    options,
                    executor.settings.block,
                    store=store_path,
                )

        driver = DriverState(
            registry=registry,
            datasets=loaded,
            on_phase=lambda task, phase: observer.run_phase(by_id[task.run_id], phase),
        )
        try:
            for result in executor.map(claimed_tasks(), driver):
                plan = by_id[result.task.run_id]
                outcome.ran.append(plan.run_id)
                hooks.report(result.hook_errors)  # the epoch hooks', wherever the run trained
                try:
                    if result.ok:
                        result.record.protocol = plan.protocol
                        result.record.tuning = dict(plan.tuning)
                        store.save(result.record, result.arrays)
                        outcome.executed += 1
                        outcome.records.append(result.record)
                        observer.run_finished(plan, result.record, skipped=False)
                        hooks.run_finish(result.record, store_path)
                        continue
                    failed = failed_record(plan, loaded[plan.spec.dataset])
                    # the time until it failed, from when it was handed over (a failed tuning
                    # trial counts toward its study's cost and --time-budget)
                    failed.timings = {"total_s": time.perf_counter() - started[plan.run_id]}
                    store.save_failure(failed, result.error)
                    outcome.failed.append((plan, result.message))
                    observer.run_failed(plan, result.message)
                    run = RunStarted.of(plan, store_path)
                    hooks.run_fail(run, result.message or "", result.error or "")
                    if stop_on_failure:
                        if result.exception is not None:
                            raise result.exception
                        raise RunFailedError(f"run {plan.run_id} failed:\n{result.error}")
                finally:
                    store.release(plan.run_id, owner)
                    lease.remove(plan.run_id)
        finally:
            try:
                if close_executor:
                    executor.close()
            finally:
                _sweep_done(hooks, outcome, tally, store_path)
    return outcome


def _sweep_done(
    hooks: LifecycleHooks, outcome: GridOutcome, tally: SweepTally | None, store: str
) -> None:
    """Add this pass to the caller's tally, or (a sweep of its own) tell the plugins it ended."""
    if tally is not None:
        tally.add(outcome)
        return
    own = SweepTally()
    own.add(outcome)
    hooks.sweep_finish(own.finished(store))
