"""The executor contract: where the runs of a grid execute, as plugins implement it.

An executor is a plugin (hook `hashbench_register_executors`): a subclass of `Executor` with a
`name`, built from `ExecutorSettings`. The scheduler hands it `RunTask`s, each self-contained and
picklable (method and dataset by name, resolved parameters, run id, options), and stores the
`TaskResult`s it yields: workers never write to the store, so one store serves any executor.
Every run is idempotent (its id is a hash of what determines its result), so an executor may
retry a task freely.

This module sits below the registry (which checks executors against `Executor`) and so never
imports it; plugins import these names from `hashbench.executors`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hashbench.data.types import CrossModalDataset, DatasetOptions
from hashbench.runner.execute import PlannedRun, RunOptions
from hashbench.runner.spec import RunSpec
from hashbench.store import RunRecord


@dataclass(frozen=True)
class ExecutorSettings:
    """Options of `hashbench run` that executors read (each uses what applies to it)."""

    workers: int | None = None  # worker processes (process executor); None: one per core
    address: str | None = None  # cluster address (ray): "auto" or HOST:PORT
    block: tuple[str, ...] = ()  # plugins blocked in the driver, blocked in workers too
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunTask:
    """One run, everything a worker process needs to execute it."""

    spec: RunSpec
    dataset_label: str
    params: Mapping[str, Any]
    run_id: str
    origin: Mapping[str, str | None]
    dataset_fingerprint: str
    dataset_options: DatasetOptions
    options: RunOptions
    block: tuple[str, ...] = ()
    cpus: float = 1.0  # resources the run needs (Ray schedules by them)
    gpus: float = 0.0
    holdout: Any = None  # a tuning trial's Holdout: the worker carves the validation split
    pruning: Any = None  # a tuning trial's PruningRule
    protocol: str = "default"  # the plan's; "as-released" changes how the run selects its model
    store: str = ""  # the results store's path (lifecycle hooks name it; workers never open it)

    @classmethod
    def from_plan(
        cls,
        plan: PlannedRun,
        dataset: CrossModalDataset,
        dataset_options: DatasetOptions,
        options: RunOptions,
        block: tuple[str, ...] = (),
        store: str = "",
    ) -> RunTask:
        on_gpu = options.device.type == "cuda"
        return cls(
            spec=plan.spec,
            dataset_label=plan.dataset_label,
            params=dict(plan.params),
            run_id=plan.run_id,
            origin=dict(plan.origin),
            dataset_fingerprint=dataset.fingerprint,
            dataset_options=dataset_options,
            options=options,
            block=block,
            gpus=1.0 if on_gpu else 0.0,
            holdout=dataset.meta.get("holdout"),
            pruning=plan.pruning,
            protocol=plan.protocol,
            store=store,
        )


@dataclass
class TaskResult:
    """What came back from one task: a finished run, or the traceback of a failure."""

    task: RunTask
    record: RunRecord | None = None
    arrays: dict[str, np.ndarray] | None = None
    error: str | None = None  # formatted traceback
    message: str | None = None  # one line: "ExceptionType: text"
    exception: BaseException | None = field(default=None, repr=False)  # in-process runs only
    dataset_changed: bool = False  # the run changed the dataset it was given (it failed)
    timed_out: bool = False  # interrupted at --run-timeout: its process may be left damaged
    # exceptions of plugins' epoch hooks where the run trained (lifecycle.HookError), for the
    # scheduler to report once per plugin
    hook_errors: tuple[Any, ...] = ()

    @property
    def ok(self) -> bool:
        return self.record is not None


@dataclass
class DriverState:
    """What the scheduling process already holds."""

    registry: Any  # the scheduler's hashbench.registry.Registry (the registry imports this module)
    datasets: Mapping[str, CrossModalDataset]
    on_phase: Callable[[RunTask, Any], None] | None = None  # (task, runner.progress.Step)


class Executor(ABC):
    """Runs tasks somewhere and yields their results as they complete (any order)."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""

    def __init__(self, settings: ExecutorSettings) -> None:
        self.settings = settings

    @abstractmethod
    def map(self, tasks: Iterable[RunTask], driver: DriverState) -> Iterator[TaskResult]:
        """Execute every task; yield one result per task, as each completes.

        `tasks` is lazy: each run is claimed in the store as it is drawn, so draw a task only
        when a worker is free for it.

        driver: the scheduler's registry and loaded datasets (an in-process executor reuses
        them; others build their own in the worker) and its progress callback.
        """

    def close(self) -> None:  # noqa: B027 -- optional hook, nothing to release by default
        """Release workers or connections."""
