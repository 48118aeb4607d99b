"""Worker processes of the `process` executor: one task at a time each, ended one by one.

A worker is a spawned interpreter (no forked torch or OpenMP state) that reads tasks from its
end of a pipe, tells the scheduler when it starts one, executes it (`execute_task`, which loads
the data, checks it was not changed, and holds the run to `--run-timeout` with its own timer)
and sends the result back. The scheduler (`ProcessExecutor`) can end one worker, the one whose
run passed its time limit without stopping itself, and start another, leaving the rest alone.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from hashbench.executors import RunTask, TaskResult


def _serve(conn: Connection, threads: int) -> None:
    """The worker's loop: a task in, ("started",), then ("result", TaskResult); None stops it."""
    import torch

    from hashbench.executors import execute_task

    torch.set_num_threads(threads)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the scheduler went away
            return
        if task is None:
            return
        conn.send(("started",))
        result = execute_task(task)
        try:
            conn.send(("result", result))
        except Exception:  # e.g. something in the record that does not pickle
            conn.send(
                ("result", TaskResult(task, error=traceback.format_exc(), message="result lost"))
            )


@dataclass(eq=False)
class Worker:
    """One worker process and the task it runs (None: idle)."""

    process: BaseProcess
    conn: Connection
    task: RunTask | None = None
    started: float | None = None  # monotonic time the worker began `task`
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def start(cls, context: Any, threads: int) -> Worker:
        ours, theirs = context.Pipe()
        # not a daemon, so a method may start processes of its own (e.g. a DataLoader's
        # workers); it exits when the scheduler's end of the pipe closes
        process = context.Process(target=_serve, args=(theirs, threads), daemon=False)
        process.start()
        theirs.close()
        return cls(process, ours)

    def give(self, task: RunTask) -> None:
        self.task, self.started = task, None
        self.conn.send(task)

    def receive(self) -> TaskResult | None:
        """Read what the worker sent: the result when the task is done (the worker is then
        idle), None for a start notice. Raises EOFError/OSError when the worker died."""
        message = self.conn.recv()
        if message[0] == "started":
            self.started = time.monotonic()
            return None
        self.task, self.started = None, None
        return message[1]

    def end(self) -> None:
        """Kill the process now (its run is abandoned)."""
        if self._closed:
            return
        self._closed = True
        self.process.kill()
        self.process.join(10)
        self.conn.close()

    def stop(self) -> None:
        """Ask an idle worker to exit; kill a busy one."""
        if self._closed:
            return
        if self.task is None and self.process.is_alive():
            try:
                self.conn.send(None)
                self.process.join(5)
            except (OSError, ValueError):
                pass
        self.end()


def spawn_context() -> Any:
    return multiprocessing.get_context("spawn")
