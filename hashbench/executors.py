"""Executors: where the runs of a grid execute (in process, worker processes, a Ray cluster).

The executor contract (`Executor`, `ExecutorSettings`, `RunTask`, `TaskResult`, `DriverState`)
lives in `hashbench.runner.executor_base`, below the registry; this module re-exports it (the
public import path stays `hashbench.executors`) and adds the in-process executor and
`execute_task`, which builds a registry in worker processes.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable, Iterable, Iterator, MutableMapping

from hashbench.data.types import CrossModalDataset
from hashbench.errors import HashbenchError, InputError, PluginError
from hashbench.lifecycle import HookError, RunStarted
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.runner.dataset_guard import DatasetKeeper, Digest, changed_message, content_digest
from hashbench.runner.execute import PlannedRun, execute_run
from hashbench.runner.executor_base import (
    DriverState,
    Executor,
    ExecutorSettings,
    RunTask,
    TaskResult,
)
from hashbench.runner.progress import Step
from hashbench.runner.time_limit import RunTimeout, can_interrupt, time_limit

__all__ = [
    "DriverState",
    "Executor",
    "ExecutorSettings",
    "InProcessExecutor",
    "RunTask",
    "TaskResult",
    "execute_task",
    "load_task_dataset",
]


class InProcessExecutor(Executor):
    """Runs one task after the other in this process, with the scheduler's loaded data.

    Every run gets a dataset verified unchanged since it was loaded (`DatasetKeeper`); a run
    that changed it fails, and the data is reloaded for the next one. `--run-timeout` is held
    by a SIGALRM timer in the main thread (`hashbench.runner.time_limit`).
    """

    name = "local"
    summary = "in this process, one run after the other (the default)"

    def __init__(self, settings: ExecutorSettings) -> None:
        super().__init__(settings)
        self._keeper = DatasetKeeper()

    def map(self, tasks: Iterable[RunTask], driver: DriverState) -> Iterator[TaskResult]:
        for task in tasks:
            try:
                dataset, digest = self._prepare(task, driver)
            except HashbenchError as exc:  # fails this run (its claim is released), not the sweep
                message = f"{type(exc).__name__}: {exc}"
                yield TaskResult(task, error=message + "\n", message=message, exception=exc)
                continue
            on_phase = None
            if driver.on_phase is not None:
                on_phase = functools.partial(driver.on_phase, task)
            result = execute_task(
                task,
                registry=driver.registry,
                dataset=dataset,
                on_phase=on_phase,
                keep_exception=True,
                digest=digest,
            )
            if dataset is not None:
                self._keeper.after_run(dataset, unchanged=not result.dataset_changed)
            yield result

    def _prepare(
        self, task: RunTask, driver: DriverState
    ) -> tuple[CrossModalDataset | None, Digest | None]:
        """The task's verified dataset and its digest (None, None: the task loads its own)."""
        if task.options.run_timeout is not None and not can_interrupt():
            raise InputError(
                "--run-timeout with --executor local needs the main thread of a platform with "
                "SIGALRM; use --executor process"
            )
        given = driver.datasets.get(task.spec.dataset)
        if given is None:
            return None, None
        shared = driver.datasets if isinstance(driver.datasets, MutableMapping) else None
        reload = functools.partial(load_task_dataset, task, driver.registry)
        return self._keeper.clean(given, reload, shared, task.spec.dataset)


def load_task_dataset(task: RunTask, registry: Registry) -> CrossModalDataset:
    """The task's dataset loaded afresh from its options (a trial's: its validation split)."""
    dataset = registry.dataset(task.spec.dataset).load(task.dataset_options)
    if task.holdout is not None:  # a tuning trial runs on the validation split
        dataset = task.holdout.apply(dataset)
    return dataset


def execute_task(
    task: RunTask,
    registry: Registry | None = None,
    dataset: CrossModalDataset | None = None,
    on_phase: Callable[[Step], None] | None = None,
    keep_exception: bool = False,
    digest: Digest | None = None,
) -> TaskResult:
    """Execute one task (in whatever process this is) and capture failures as results.

    Without `registry` / `dataset` (a worker process), they are built here: the installed
    plugins minus the blocked ones, and the dataset loaded from its options (synthetic cache,
    data files). The dataset's content digest (`digest`, taken here when not given) is checked
    again after the run: a run that changed the dataset fails. The run is held to the task's
    `run_timeout` where this thread can be interrupted (`hashbench.runner.time_limit`).
    """
    plan = None
    hook_errors: list[HookError] = []  # plugins' epoch hooks: the scheduler reports them
    try:
        if registry is None:
            registry = Registry.from_plugin_manager(create_plugin_manager(task.block))
        if dataset is None:
            dataset = load_task_dataset(task, registry)
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
            protocol=task.protocol,
        )
        digest = digest or content_digest(dataset)
        run = RunStarted.of(task, task.store)
        callbacks = {"on_epoch": registry.hooks.epoch_listener(run, hook_errors)}
        callbacks["plugin_metrics"] = registry.metric_plugins()  # scored like built-ins
        if on_phase is not None:
            callbacks["on_phase"] = on_phase
        with time_limit(task.options.run_timeout):
            record, arrays = execute_run(plan, dataset, task.options, **callbacks)
        result = TaskResult(task, record=record, arrays=dict(arrays))
    except (Exception, RunTimeout) as exc:  # the scheduler records it; the sweep goes on
        result = TaskResult(
            task,
            error=traceback.format_exc(),
            message=f"{type(exc).__name__}: {exc}",
            exception=exc if keep_exception else None,  # exceptions may not pickle
            timed_out=isinstance(exc, RunTimeout),
        )
    if plan is not None and digest is not None:
        changed = content_digest(dataset).changed(digest)
        if changed:
            message = changed_message(task.spec.method, dataset, changed)
            result = _changed_result(task, result, message, keep_exception)
    result.hook_errors = tuple(hook_errors)
    return result


def _changed_result(task: RunTask, result: TaskResult, message: str, keep: bool) -> TaskResult:
    """The result of a run that changed its dataset: failed with that reason (after its own
    traceback, if it failed too; the last line is what `hashbench status` shows)."""
    before = f"The run also failed:\n{result.error}\n" if result.error else ""
    return TaskResult(
        task,
        error=f"{before}PluginError: {message}\n",
        message=f"PluginError: {message}",
        exception=PluginError(message) if keep else None,
        dataset_changed=True,
    )
