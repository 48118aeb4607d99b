"""The `ray` executor: each run is a Ray task on a cluster (`pip install 'hashbench[ray]'`).

`--executor ray --address auto|HOST:PORT` connects to a running cluster (`ray start --head` on
one machine, `ray start --address HOST:PORT` on the others, all with hashbench and the same
plugins installed, and the same data files or synthetic cache). Each run asks Ray for its CPU
and GPU needs; runs are submitted only while the cluster has CPUs free for them, so claims in
the store stay close to the work actually running. Results come back to the scheduling process,
which alone writes the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import hashbench
from hashbench.errors import InputError
from hashbench.executors import DriverState, Executor, ExecutorSettings, RunTask, TaskResult


def _execute(task: RunTask) -> TaskResult:
    from hashbench.executors import execute_task

    return execute_task(task)


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
        pending: dict = {}
        while True:
            while len(pending) < slots:  # draw (and so claim) a run only when a CPU is free
                task = next(draw, None)
                if task is None:
                    break
                ref = remote.options(num_cpus=task.cpus, num_gpus=task.gpus, max_retries=1)
                pending[ref.remote(task)] = task
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                task = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as exc:  # the task's worker died or Ray failed it
                    yield TaskResult(task, error=repr(exc), message=f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        if self._connected:
            import ray

            ray.shutdown()
            self._connected = False


@hashbench.hookimpl
def hashbench_register_executors() -> list:
    return [RayExecutor]
