"""The `slurm` executor: each run one SLURM job through submitit (`hashbench[slurm]` extra).

`hashbench run ... --executor slurm --slurm partition=gpu --slurm time=120` on a login node:
the scheduler stays there, claims each run in the store as it submits the run's job (at most
`--workers N` jobs queued or running at once, default 16), keeps the claims alive while the
jobs wait and run, and stores each job's result as it comes back; it alone writes the store.
A job runs `execute_task` on its node: a fresh interpreter that builds the registry from the
installed plugins and loads the run's dataset itself, so every node needs hashbench, the same
plugins and the same data files or synthetic cache (a shared file system), and the Python
of the login node at the same path. Settings: `--slurm KEY=VALUE` (`slurm_options`).

GPUs: a job given GPUs (`--slurm gpus=1`, or a `gres` naming a GPU) runs its run on the GPU,
whatever `--device` resolved to on the login node (usually no GPU there: `auto` is cpu);
without them the run uses the job's CPUs. (`--device cuda` where the login node has a GPU
asks for one GPU per job.)

Jobs that die: a job that ends without a result (killed, node failure, out of memory) is
submitted again, up to `retries` times (default 2), then stored as failed with the SLURM state
of each attempt. Runs are idempotent and the run stays claimed by the scheduler throughout, so
a retry never runs beside another copy. A job that reached its time limit or was cancelled
(`scancel`) is not retried: it would end the same way, or someone meant it to stop. A run
that fails inside its job (an exception) is stored as failed at once, as with every executor.

Time: `--run-timeout S` holds the run to S seconds inside its job (`execute_task`'s timer);
the job's SLURM time limit is then S plus the grace of `hard_limit` plus 5 minutes to start
and load the data, so SLURM ends a run stuck in C code. `--slurm time=MINUTES` sets the limit
itself; without either it is an hour. The queue wait never counts: SLURM's clock starts when
the job does. Preemption needs nothing from hashbench: submitit requeues a preempted job, and
the run starts again from the beginning (no `Checkpointable`: runs keep no mid-run state to
resume from). `cluster=local` runs the jobs as processes on this machine through submitit's
local executor (tests, trying a sweep where there is no SLURM).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hashbench
from hashbench.errors import InputError
from hashbench.executors import DriverState, Executor, ExecutorSettings, RunTask, TaskResult
from hashbench.runner.progress import Step
from hashbench.runner.time_limit import timeout_reason

from .slurm_options import SlurmOptions, job_count, parse_slurm_options

INSTALL = "--executor slurm needs submitit: pip install 'hashbench[slurm]'"
TIME_UP = ("TIMEOUT", "DEADLINE")  # SLURM states of a job stopped at its time: not retried


def run_job(task: RunTask, limit_min: int | None, gpu: bool = False) -> TaskResult:
    """What a job executes on its node (module level, so submitit pickles it by name).

    gpu: the job was given GPUs, so the run uses one, whatever device the login node had
    (`--device auto` resolves to cpu on a login node without a GPU).
    """
    import torch

    from hashbench.executors import execute_task

    cpus = os.environ.get("SLURM_CPUS_PER_TASK")  # the job's share, not the node's cores
    torch.set_num_threads(int(cpus) if cpus and cpus.isdigit() else _cores())
    if gpu and task.options.device.type != "cuda":
        if not torch.cuda.is_available():
            message = (
                f"SlurmNoGpu: the job asked for GPUs but torch on {socket.gethostname()} sees "
                f"none (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')!r})"
            )
            return TaskResult(task, error=message + "\n", message=message)
        options = dataclasses.replace(task.options, device=torch.device("cuda"))
        task = dataclasses.replace(task, options=options)
    result = execute_task(task)
    # submitit ends a job near its time limit by raising UncompletedJobError in it
    if (
        result.message
        and result.message.startswith("UncompletedJobError")
        and ("timed-out" in result.message)
    ):
        reason = _time_limit_reason(task, limit_min)
        return TaskResult(task, error=f"{reason}\n", message=reason, timed_out=True)
    return result


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _time_limit_reason(task: RunTask, limit_min: int | None) -> str:
    limit = f" of {limit_min} min" if limit_min else ""
    if task.options.run_timeout:
        return (
            f"RunTimeout: {timeout_reason(task.options.run_timeout)} (it did not stop at the "
            f"limit; SLURM ended its job at the job's time limit{limit})"
        )
    return (
        f"SlurmTimeLimit: the job reached its SLURM time limit{limit}; raise it with "
        "--slurm time=MINUTES or set --run-timeout"
    )


@dataclass(eq=False)
class _Flight:
    """One run's job in flight and the jobs it has had so far."""

    task: RunTask
    job: Any  # submitit.Job
    limit_min: int | None
    attempts: list[str] = field(default_factory=list)  # "JOBID (STATE)" of jobs that died


class SlurmExecutor(Executor):
    """One submitit job per run: on SLURM, or locally with --slurm cluster=local."""

    name = "slurm"
    summary = "a SLURM cluster, one job per run (--slurm KEY=VALUE; needs hashbench[slurm])"

    def __init__(self, settings: ExecutorSettings) -> None:
        super().__init__(settings)
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise InputError(INSTALL) from None
        self.options: SlurmOptions = parse_slurm_options((settings.extra or {}).get("slurm", ()))
        missing = [c for c in ("sbatch", "srun") if shutil.which(c) is None]
        if self.options.cluster == "slurm" and missing:  # submitit's jobs need both
            raise InputError(
                f"--executor slurm: no SLURM on this machine ({' and '.join(missing)} not on "
                "PATH); run from a login node of the cluster, or pass --slurm cluster=local to "
                "run the jobs as local processes"
            )
        with tempfile.TemporaryDirectory() as scratch:  # a bad --slurm key fails now
            self._executor(self.options.job_parameters(1, 0, None), Path(scratch))
        self._flight: list[_Flight] = []

    def folder(self, task: RunTask) -> Path:
        """Where the jobs' files go: --slurm folder, else `<store>.slurm/` beside the store."""
        if self.options.folder is not None:
            return self.options.folder
        if task.store:
            return Path(f"{task.store}.slurm").absolute()
        return Path("hashbench-slurm").absolute()

    def _executor(self, parameters: dict, folder: Path) -> Any:
        """A submitit executor with these job parameters (its errors as InputError)."""
        import submitit

        executor = submitit.AutoExecutor(folder=folder, cluster=self.options.cluster)
        try:
            executor.update_parameters(**parameters)
        except (NameError, AssertionError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"--slurm: submitit refused the job parameters ({first}); see "
                "docs/scheduler.md#slurm for the keys"
            ) from None
        return executor

    def _submit(self, task: RunTask, driver: DriverState | None, attempts: list[str]) -> _Flight:
        import submitit
        from submitit.core.utils import FailedSubmissionError

        parameters = self.options.job_parameters(task.cpus, task.gpus, task.options.run_timeout)
        spec = task.spec
        parameters.setdefault("name", f"hb-{spec.method}-{spec.bits}b-s{spec.seed}")
        limit = parameters.get("timeout_min")
        try:
            executor = self._executor(parameters, self.folder(task))
            with submitit.helpers.clean_env():  # a scheduler inside a job: not its SLURM_* vars
                job = executor.submit(run_job, task, limit, _asks_gpu(parameters))
        except (FailedSubmissionError, OSError) as exc:  # sbatch refused: every run would fail
            text = " ".join(str(exc).split())[:500]
            raise InputError(
                f"--executor slurm: submitting the job of run {task.run_id} failed ({text}); "
                "check --slurm partition, time, account and the other settings"
            ) from None
        if self.options.cluster == "local":
            job._results_timeout_s = 0  # no network file system to wait for
        if driver is not None and driver.on_phase is not None:
            retry = f", retry {len(attempts)} of {self.options.retries}" if attempts else ""
            driver.on_phase(task, Step(phase=f"slurm job {job.job_id}{retry}"))
        return _Flight(task, job, limit, list(attempts))

    def map(self, tasks: Iterable[RunTask], driver: DriverState) -> Iterator[TaskResult]:
        size = job_count(self.settings.workers)
        draw = iter(tasks)
        flight = self._flight
        try:
            while True:
                while len(flight) < size:  # draw (and so claim) a run only for a free slot
                    task = next(draw, None)
                    if task is None:
                        break
                    flight.append(self._submit(task, driver, []))
                if not flight:
                    return
                finished = [f for f in flight if f.job.done()]
                if not finished:
                    time.sleep(self.options.poll_s)
                    continue
                for done in finished:
                    flight.remove(done)
                    result = self._outcome(done)
                    if result is None:  # died: the same run, a new job (still claimed)
                        flight.append(self._submit(done.task, driver, done.attempts))
                        continue
                    yield result
                    if result.ok:  # the codes are in the store now; the logs stay
                        done.job.paths.result_pickle.unlink(missing_ok=True)
        finally:
            self._cancel()

    def _outcome(self, flight: _Flight) -> TaskResult | None:
        """The finished job's result, a failure, or None when it died and may be retried."""
        from submitit.core.utils import FailedJobError, UncompletedJobError

        job, task = flight.job, flight.task
        try:
            result = job.result()
        except FailedJobError as exc:  # raised outside the run (e.g. the task did not unpickle)
            message = f"SlurmJobFailed: job {job.job_id} failed outside the run: {_last(exc)}"
            return TaskResult(task, error=f"{exc}\n{message}\n", message=message)
        except UncompletedJobError as exc:
            state = _state(job)
            flight.attempts.append(f"{job.job_id} ({state})")
            if state.startswith(TIME_UP):
                reason = _time_limit_reason(task, flight.limit_min)
                return TaskResult(task, error=f"{exc}\n{reason}\n", message=reason, timed_out=True)
            if state.startswith("CANCELLED"):  # someone meant it to stop
                message = f"SlurmJobCancelled: job {job.job_id} was cancelled ({state})"
                return TaskResult(task, error=f"{exc}\n{message}\n", message=message)
            if len(flight.attempts) <= self.options.retries:
                return None
            return _died(task, flight.attempts, self.options.retries, self.folder(task), exc)
        except Exception as exc:  # noqa: BLE001 -- e.g. a result that does not unpickle here
            message = (
                f"SlurmJobFailed: the result of job {job.job_id} could not be read "
                f"({type(exc).__name__}: {exc})"
            )
            return TaskResult(task, error=f"{message}\n", message=message)
        if not isinstance(result, TaskResult):
            message = f"SlurmJobFailed: job {job.job_id} returned {type(result).__name__}"
            return TaskResult(task, error=message + "\n", message=message)
        return result

    def _cancel(self) -> None:
        """Cancel the jobs still in flight (the sweep stopped: an error, Ctrl-C, --debug)."""
        for flight in self._flight:
            try:
                flight.job.cancel(check=False)
            except Exception:  # noqa: BLE001 -- a job that cannot be cancelled ends by itself
                pass
        self._flight.clear()

    def close(self) -> None:
        self._cancel()


def _asks_gpu(parameters: dict) -> bool:
    """Whether the job's parameters ask SLURM for a GPU."""
    counts = ("gpus_per_node", "slurm_gpus_per_node", "slurm_gpus_per_task", "slurm_num_gpus")
    if any(_positive(parameters.get(key)) for key in counts):
        return True
    return "gpu" in str(parameters.get("slurm_gres", "")).lower()


def _positive(value: Any) -> bool:
    try:
        return float(str(value).rsplit(":", 1)[-1]) > 0  # "2" or "a100:2"
    except ValueError:
        return bool(value)


def _state(job: Any) -> str:
    try:
        return str(job.state)
    except Exception:  # noqa: BLE001 -- sacct unreachable: the state is unknown
        return "UNKNOWN"


def _last(exc: Exception) -> str:
    """The last line of the job's traceback (submitit puts it between two lines of dashes)."""
    lines = str(exc).splitlines()
    rules = [i for i, line in enumerate(lines) if len(line) > 3 and set(line.strip()) == {"-"}]
    inside = lines[rules[0] + 1 : rules[1]] if len(rules) >= 2 else lines
    text = [line.strip() for line in inside if line.strip()]
    return text[-1] if text else type(exc).__name__


def _died(
    task: RunTask, attempts: list[str], retries: int, folder: Path, exc: Exception
) -> TaskResult:
    """The failure of a run whose every job died without a result."""
    hint = ""
    if any("OUT_OF_MEMORY" in a for a in attempts):
        hint = "; give it more memory with --slurm mem=..."
    message = (
        f"SlurmJobDied: {len(attempts)} job(s) of this run died without a result "
        f"({', '.join(attempts)}; --slurm retries={retries}){hint}; logs in {folder}"
    )
    return TaskResult(task, error=f"{exc}\n{message}\n", message=message)


@hashbench.hookimpl
def hashbench_register_executors() -> list:
    return [SlurmExecutor]
