"""Executors: where the runs of a grid execute (in process, worker processes, a Ray cluster).

An executor is a plugin (hook `hashbench_register_executors`): a subclass of `Executor` with a
`name`, built from `ExecutorSettings`. The scheduler hands it `RunTask`s, each self-contained and
picklable (method and dataset by name, resolved parameters, run id, options), and stores the
`TaskResult`s it yields: workers never write to the store, so one store serves any executor.
Every run is idempotent (its id is a hash of what determines its result), so an executor may
retry a task freely.
"""

from __future__ import annotations

import functools
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hashbench.data.types import CrossModalDataset, DatasetOptions
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.runner.execute import PlannedRun, RunOptions, execute_run
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

    @classmethod
    def from_plan(
        cls,
        plan: PlannedRun,
        dataset: CrossModalDataset,
        dataset_options: DatasetOptions,
        options: RunOptions,
        block: tuple[str, ...] = (),
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

    @property
    def ok(self) -> bool:
        return self.record is not None


@dataclass
class DriverState:
    """What the scheduling process already holds."""

    registry: Registry
    datasets: Mapping[str, CrossModalDataset]
    on_phase: Callable[[RunTask, str], None] | None = None


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


class InProcessExecutor(Executor):
    """Runs one task after the other in this process, with the scheduler's loaded data."""

    name = "local"
    summary = "in this process, one run after the other (the default)"

    def map(self, tasks: Iterable[RunTask], driver: DriverState) -> Iterator[TaskResult]:
        for task in tasks:
            on_phase = None
            if driver.on_phase is not None:
                on_phase = functools.partial(driver.on_phase, task)
            yield execute_task(
                task,
                registry=driver.registry,
                dataset=driver.datasets.get(task.spec.dataset),
                on_phase=on_phase,
                keep_exception=True,
            )


def execute_task(
    task: RunTask,
    registry: Registry | None = None,
    dataset: CrossModalDataset | None = None,
    on_phase: Callable[[str], None] | None = None,
    keep_exception: bool = False,
) -> TaskResult:
    """Execute one task (in whatever process this is) and capture failures as results.

    Without `registry` / `dataset` (a worker process), they are built here: the installed
    plugins minus the blocked ones, and the dataset loaded from its options (synthetic cache,
    data files).
    """
    try:
        if registry is None:
            registry = Registry.from_plugin_manager(create_plugin_manager(task.block))
        if dataset is None:
            dataset = registry.dataset(task.spec.dataset).load(task.dataset_options)
        if dataset.fingerprint != task.dataset_fingerprint:
            raise RuntimeError(
                f"this worker loaded {task.spec.dataset} with fingerprint {dataset.fingerprint}, "
                f"the scheduler had {task.dataset_fingerprint}: the data (files, cache, "
                f"generator version) must be the same wherever runs execute"
            )
        plan = PlannedRun(
            spec=task.spec,
            dataset_label=task.dataset_label,
            method_cls=registry.method(task.spec.method),
            params=task.params,
            run_id=task.run_id,
            origin=task.origin,
        )
        if on_phase is None:
            record, arrays = execute_run(plan, dataset, task.options)
        else:
            record, arrays = execute_run(plan, dataset, task.options, on_phase=on_phase)
        return TaskResult(task, record=record, arrays=dict(arrays))
    except Exception as exc:  # the scheduler records it; the sweep goes on
        return TaskResult(
            task,
            error=traceback.format_exc(),
            message=f"{type(exc).__name__}: {exc}",
            exception=exc if keep_exception else None,  # exceptions may not pickle
        )
