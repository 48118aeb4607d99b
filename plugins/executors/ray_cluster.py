"""The `ray` executor: each run is a Ray task on a cluster (`pip install 'hashbench[ray]'`).

`--executor ray --address auto|HOST:PORT` connects to a running cluster (`ray start --head` on
one machine, `ray start --address HOST:PORT` on the others, all with hashbench and the same
plugins installed, and the same data files or synthetic cache). Each run asks Ray for its CPU
and GPU needs; runs are submitted only while the cluster has CPUs free for them, so claims in
the store stay close to the work actually running. Results come back to the scheduling process,
which alone writes the store.

`--run-timeout`: the task holds itself to the limit (`execute_task`'s timer, where Ray runs it
in a worker's main thread); a task still running a grace period after it
(`time_limit.hard_limit`) is cancelled with `ray.cancel(force=True)`, which ends its worker
process, and stored as failed with the timeout as its reason. The scheduler's clock for a task
starts when the task reports that it has loaded its data (the task is a Ray generator whose
first item says so), not when it was submitted: the time a task waits for a worker, starts one
or loads its data never counts against the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import hashbench
from hashbench.errors import InputError
from hashbench.executors import DriverState, Executor, ExecutorSettings, RunTask, TaskResult
from hashbench.runner.time_limit import hard_limit, timeout_reason

STARTED = "started"


def _execute(task: RunTask) -> Iterator[object]:
    """A Ray generator task: first `STARTED` once the data are loaded, then the result."""
    from hashbench.executors import execute_task, load_task_dataset
    from hashbench.plugins import create_plugin_manager
    from hashbench.registry import Registry

    try:
        registry = Registry.from_plugin_manager(create_plugin_manager(task.block))
        dataset = load_task_dataset(task, registry)
    except Exception:  # execute_task loads again and reports the failure as the run's result
        registry = dataset = None
    yield STARTED
    yield execute_task(task, registry=registry, dataset=dataset)


class RayExecutor(Executor):
    """Runs as Ray tasks on the cluster at --address."""

    name = "ray"
    summary = "a Ray cluster (--address auto|HOST:PORT; needs hashbench[ray])"

    def __init__(self, settings: ExecutorSettings) -> None:
        super().__init__(settings)
        try:
            import ray  # noqa: F401
        except ImportError:
            raise InputError(
                "--executor ray needs Ray: pip install 'hashbench[ray]' (and a cluster: "
                "`ray start --head`, then --address auto)"
            ) from None
        if not settings.address:
            raise InputError(
                "--executor ray needs --address: auto (the cluster this machine belongs to) or "
                "HOST:PORT of the head node"
            )
        self._connected = False

    def _connect(self) -> None:
        import ray

        try:
            ray.init(
                address=self.settings.address,
                log_to_driver=False,
                logging_level="ERROR",
                ignore_reinit_error=True,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise InputError(
                f"--address {self.settings.address}: cannot connect to a Ray cluster ({exc}). "
                "Start one with `ray start --head` or check the address."
            ) from None
        self._connected = True

    def map(self, tasks: Iterable[RunTask], driver: DriverState) -> Iterator[TaskResult]:
        import ray

        self._connect()
        remote = ray.remote(_execute)
        slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        draw = iter(tasks)
        # generator -> [task, deadline]; the deadline is set when the task reports it started
        pending: dict = {}
        started: set = set()
        while True:
            while len(pending) < slots:  # draw (and so claim) a run only when a CPU is free
                task = next(draw, None)
                if task is None:
                    break
                limit = task.options.run_timeout
                # a run that times out is not retried (max_retries=0): it would time out again
                submit = remote.options(
                    num_cpus=task.cpus,
                    num_gpus=task.gpus,
                    max_retries=0 if limit else 1,
                    num_returns="streaming",
                )
                pending[submit.remote(task)] = [task, None]
            if not pending:
                return
            deadlines = [d for _, d in pending.values() if d is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=timeout)
            for gen in ready:
                task, _ = pending[gen]
                try:
                    item = ray.get(next(gen))
                except Exception as exc:  # the task's worker died or Ray failed it
                    del pending[gen]
                    started.discard(gen)
                    yield TaskResult(task, error=repr(exc), message=f"{type(exc).__name__}: {exc}")
                    continue
                if gen not in started and item == STARTED:
                    started.add(gen)
                    limit = task.options.run_timeout
                    pending[gen][1] = time.monotonic() + hard_limit(limit) if limit else None
                    continue
                del pending[gen]
                started.discard(gen)
                yield item
            now = time.monotonic()
            for gen, (task, deadline) in list(pending.items()):
                if deadline is not None and now >= deadline:
                    del pending[gen]
                    started.discard(gen)
                    ray.cancel(gen, force=True)  # ends the worker process running it
                    yield _timed_out(task)

    def close(self) -> None:
        if self._connected:
            import ray

            ray.shutdown()
            self._connected = False


def _timed_out(task: RunTask) -> TaskResult:
    reason = (
        f"{timeout_reason(task.options.run_timeout or 0)} (it did not stop at the limit; "
        "its Ray task was cancelled with force=True)"
    )
    return TaskResult(
        task, error=f"RunTimeout: {reason}\n", message=f"RunTimeout: {reason}", timed_out=True
    )


@hashbench.hookimpl
def hashbench_register_executors() -> list:
    return [RayExecutor]
