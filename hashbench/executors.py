"""Executors: where the runs of a grid execute (in process, worker processes, a Ray cluster).

The executor contract (`Executor`, `ExecutorSettings`, `RunTask`, `TaskResult`, `DriverState`)
lives in `hashbench.runner.executor_base`, below the registry; this module re-exports it (the
public import path stays `hashbench.executors`) and adds the in-process executor and
`execute_task`, which builds a registry in worker processes.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable, Iterable, Iterator

from hashbench.data.types import CrossModalDataset
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.runner.execute import PlannedRun, execute_run
from hashbench.runner.executor_base import (
    DriverState,
    Executor,
    ExecutorSettings,
    RunTask,
    TaskResult,
)
from hashbench.runner.progress import Step

__all__ = [
    "DriverState",
    "Executor",
    "ExecutorSettings",
    "InProcessExecutor",
    "RunTask",
    "TaskResult",
    "execute_task",
]


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
    on_phase: Callable[[Step], None] | None = None,
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
            if task.holdout is not None:  # a tuning trial runs on the validation split
                dataset = task.holdout.apply(dataset)
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
            pruning=task.pruning,
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
