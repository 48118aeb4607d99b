"""Built-in executors: `local` (in this process) and `process` (a pool of local processes).

Workers of the `process` executor start fresh interpreters (spawn: no forked torch or OpenMP
state), build their registry from the installed plugins and load each dataset themselves (the
synthetic cache makes that a file read). Each worker gets an equal share of the cores for
torch. Results come back to the scheduling process, which alone writes the store.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import hashbench
from hashbench.executors import (
    DriverState,
    Executor,
    InProcessExecutor,
    RunTask,
    TaskResult,
    execute_task,
)


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class ProcessExecutor(Executor):
    """N worker processes on this machine (`--workers N`, default one per core)."""

    name = "process"
    summary = "N local worker processes (--workers N, default: one per core)"

    def map(self, tasks: Iterable[RunTask], driver: DriverState) -> Iterator[TaskResult]:
        workers = self.settings.workers or _cores()
        threads = max(1, _cores() // workers)
        draw = iter(tasks)
        pending: dict[Future, RunTask] = {}
        pool = self._pool(workers, threads)
        try:
            while True:
                while len(pending) < workers:  # draw (and so claim) a run only for a free worker
                    task = next(draw, None)
                    if task is None:
                        break
                    pending[pool.submit(execute_task, task)] = task
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    task = pending.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        broken = True
                        yield TaskResult(
                            task,
                            error="a worker process died (killed, or out of memory)",
                            message="BrokenProcessPool: a worker process died",
                        )
                if broken:  # every other run in flight died with it: report them, start afresh
                    for future, task in pending.items():
                        future.cancel()
                        yield TaskResult(
                            task,
                            error="its worker pool broke while it ran",
                            message="BrokenProcessPool: a worker process died",
                        )
                    pending.clear()
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool(workers, threads)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _pool(workers: int, threads: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(threads,),
        )


@hashbench.hookimpl
def hashbench_register_executors() -> list:
    return [InProcessExecutor, ProcessExecutor]
