"""Built-in executors: `local` (in this process) and `process` (a pool of local processes).

Workers of the `process` executor start fresh interpreters (spawn: no forked torch or OpenMP
state), build their registry from the installed plugins and load each run's dataset themselves
(the synthetic cache makes that a file read), so a run never sees data an earlier run changed.
Each worker gets an equal share of the cores for torch. Results come back to the scheduling
process, which alone writes the store. A run that passes `--run-timeout` without stopping
itself has its worker ended and replaced (`workers.Worker`); a worker that dies fails its run
only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from multiprocessing.connection import wait

import hashbench
from hashbench.executors import DriverState, Executor, InProcessExecutor, RunTask, TaskResult
from hashbench.runner.time_limit import hard_limit, timeout_reason

from .workers import Worker, spawn_context


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class ProcessExecutor(Executor):
    """N worker processes on this machine (`--workers N`, default one per core)."""

    name = "process"
    summary = "N local worker processes (--workers N, default: one per core)"

    def map(self, tasks: Iterable[RunTask], driver: DriverState) -> Iterator[TaskResult]:
        size = self.settings.workers or _cores()
        threads = max(1, _cores() // size)
        context = spawn_context()
        draw = iter(tasks)
        idle: list[Worker] = []
        busy: list[Worker] = []
        try:
            while True:
                while len(busy) < size:  # draw (and so claim) a run only for a free worker
                    task = next(draw, None)
                    if task is None:
                        break
                    worker = idle.pop() if idle else Worker.start(context, threads)
                    try:
                        worker.give(task)
                    except OSError:  # it died while idle: a fresh one takes the run
                        worker.end()
                        worker = Worker.start(context, threads)
                        worker.give(task)
                    busy.append(worker)
                if not busy:
                    return
                wait([w.conn for w in busy], timeout=_next_deadline(busy))
                for worker in list(busy):
                    result = _collect(worker)
                    if result is None:
                        continue
                    busy.remove(worker)
                    if worker.task is None and not (result.timed_out or result.dataset_changed):
                        idle.append(worker)  # finished: it takes the next run
                    else:  # dead, out of time, or its state is suspect: a fresh one replaces it
                        worker.end()
                    yield result
        finally:
            for worker in idle + busy:
                worker.stop()


def _next_deadline(busy: list[Worker]) -> float | None:
    """Seconds until the earliest time limit of the runs in flight (None: no limit)."""
    now = time.monotonic()
    limits = [
        w.started + hard_limit(w.task.options.run_timeout) - now
        for w in busy
        if w.task is not None and w.started is not None and w.task.options.run_timeout
    ]
    waiting = [w for w in busy if w.task is not None and w.task.options.run_timeout]
    if waiting and len(limits) < len(waiting):
        limits.append(1.0)  # a worker has not started its run yet: look again soon
    return max(0.0, min(limits)) if limits else None


def _collect(worker: Worker) -> TaskResult | None:
    """The worker's result if it has one, a failure if it died or ran out of time, else None."""
    task = worker.task
    assert task is not None
    try:
        while worker.conn.poll():
            result = worker.receive()
            if result is not None:
                return result
    except (EOFError, OSError):
        return TaskResult(
            task,
            error="its worker process died (killed, or out of memory)",
            message="WorkerDied: the worker process running it died (killed, or out of memory)",
        )
    limit = task.options.run_timeout
    if (
        limit
        and worker.started is not None
        and time.monotonic() - worker.started > hard_limit(limit)
    ):
        reason = (
            f"{timeout_reason(limit)} (it did not stop at the limit, e.g. stuck in a C call; its "
            "worker process was ended and replaced)"
        )
        return TaskResult(
            task, error=f"RunTimeout: {reason}\n", message=f"RunTimeout: {reason}", timed_out=True
        )
    return None


@hashbench.hookimpl
def hashbench_register_executors() -> list:
    return [InProcessExecutor, ProcessExecutor]
