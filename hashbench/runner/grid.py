"""Run a grid (methods x datasets x bits x seeds) against the store, skipping finished runs."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashbench.data.types import CrossModalDataset, DatasetOptions
from hashbench.errors import InputError
from hashbench.registry import Registry
from hashbench.runner.execute import PlannedRun, RunOptions, execute_run
from hashbench.runner.spec import RunSpec, resolve_params, run_id
from hashbench.store import ResultStore, RunRecord


@dataclass(frozen=True)
class GridSpec:
    """The cartesian product to run, plus per-method hyperparameter overrides."""

    methods: Sequence[str]
    datasets: Sequence[str]
    bits: Sequence[int]
    seeds: Sequence[int] = (0,)
    budget: str = "paper"
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    scale: float = 1.0
    cache_dir: Path | None = None

    def expand(self) -> list[RunSpec]:
        return [
            RunSpec(
                method=m,
                dataset=d,
                bits=b,
                seed=s,
                budget=self.budget,
                overrides=dict(self.overrides.get(m, {})),
            )
            for d, m, b, s in itertools.product(self.datasets, self.methods, self.bits, self.seeds)
        ]


class GridObserver:
    """Receives progress; the CLI renders it. Every method is a no-op here."""

    def grid_started(self, total: int) -> None: ...
    def dataset_loading(self, name: str) -> None: ...
    def run_started(self, plan: PlannedRun) -> None: ...
    def run_phase(self, plan: PlannedRun, phase: str) -> None: ...
    def run_finished(self, plan: PlannedRun, record: RunRecord, skipped: bool) -> None: ...


@dataclass
class GridOutcome:
    records: list[RunRecord] = field(default_factory=list)
    executed: int = 0
    skipped: int = 0


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
        limit = method_cls.max_bits(dataset.feature_dims)
        if limit is not None and spec.bits > limit:
            raise InputError(
                f"--bits {spec.bits}: method '{spec.method}' supports at most {limit} bits on "
                f"{spec.dataset} (its features have {dataset.feature_dims} dimensions)"
            )
        params = resolve_params(method_cls, dataset.protocol, spec.budget, spec.overrides)
        plans.append(
            PlannedRun(
                spec=spec,
                dataset_label=dataset_label(spec.dataset, grid.scale),
                method_cls=method_cls,
                params=params,
                run_id=run_id(spec, params, dataset.fingerprint),
                origin=registry.origin("method", spec.method),
            )
        )
    return plans


def run_grid(
    grid: GridSpec,
    registry: Registry,
    store: ResultStore,
    options: RunOptions,
    *,
    rerun: bool = False,
    observer: GridObserver | None = None,
) -> GridOutcome:
    """Run every cell not already in the store (all of them with `rerun`)."""
    observer = observer or GridObserver()
    for name in grid.methods:
        registry.method(name)  # unknown names fail before any data is loaded
    specs = {name: registry.dataset(name) for name in grid.datasets}
    loaded = {}
    for name, spec in specs.items():
        observer.dataset_loading(name)
        loaded[name] = spec.load(DatasetOptions(scale=grid.scale, cache_dir=grid.cache_dir))
    plans = plan_grid(grid, registry, loaded)
    observer.grid_started(len(plans))
    outcome = GridOutcome()
    for plan in plans:
        observer.run_started(plan)
        if not rerun and store.has_run(plan.run_id):
            record = store.get(plan.run_id)
            outcome.skipped += 1
            outcome.records.append(record)
            observer.run_finished(plan, record, skipped=True)
            continue
        record, arrays = execute_run(
            plan,
            loaded[plan.spec.dataset],
            options,
            on_phase=lambda phase, p=plan: observer.run_phase(p, phase),
        )
        store.save(record, arrays)
        outcome.executed += 1
        outcome.records.append(record)
        observer.run_finished(plan, record, skipped=False)
    return outcome
