"""The `slurm` executor's settings, from `hashbench run --slurm KEY=VALUE` (repeatable) or a
sweep file's `[slurm]` table.

Keys of the executor itself:

    folder=PATH      where submitit keeps the jobs' scripts, pickles and logs (files named
                     by job id); default: beside the store, `<store>.slurm/`
    retries=N        resubmissions of a job that died without a result (default 2)
    cluster=slurm    `slurm` (the default: needs `sbatch`) or `local` (submitit's local
                     executor: the jobs run as processes on this machine, for tests and trials)
    poll=SECONDS     how often the scheduler looks at the jobs in flight (default 2)

Everything else is a job resource, handed to submitit: `time` (minutes), `cpus`, `gpus`,
`mem` (SLURM syntax: 16G), submitit's shared names (`timeout_min`, `cpus_per_task`,
`gpus_per_node`, `mem_gb`, `name`, ...), and any sbatch option submitit knows, with or without
its `slurm_` prefix (`partition`, `account`, `qos`, `constraint`, `exclude`, `gres`, `setup`,
...; `setup` is repeatable: one shell line each, run before the job, e.g. `module load cuda`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashbench.errors import InputError

DEFAULT_RETRIES = 2
DEFAULT_JOBS = 16  # jobs in flight (queued or running) without --workers
STARTUP_S = 300.0  # job time beyond --run-timeout: interpreter, imports, loading the data
DEFAULT_TIME_MIN = 60  # without `time` or --run-timeout

_ALIASES = {"time": "timeout_min", "cpus": "cpus_per_task", "gpus": "gpus_per_node"}
_SHARED = {  # submitit's cluster-independent parameters and their types
    "name": str,
    "timeout_min": int,
    "mem_gb": float,
    "nodes": int,
    "cpus_per_task": int,
    "gpus_per_node": int,
    "tasks_per_node": int,
    "stderr_to_stdout": bool,
}
_CLUSTERS = ("slurm", "local")


@dataclass(frozen=True)
class SlurmOptions:
    """What `--slurm KEY=VALUE` set (see the module docstring)."""

    folder: Path | None = None  # None: beside the store (`SlurmExecutor.folder`)
    retries: int = DEFAULT_RETRIES
    cluster: str = "slurm"
    poll_s: float = 2.0
    resources: Mapping[str, Any] = field(default_factory=dict)  # submitit parameters

    def job_parameters(self, cpus: float, gpus: float, run_timeout: float | None) -> dict:
        """submitit parameters of one run's job: the given ones, and defaults for the rest
        (the run's CPUs and GPUs; a time limit from --run-timeout, else an hour)."""
        from hashbench.runner.time_limit import hard_limit

        params = dict(self.resources)
        if "timeout_min" not in params and "slurm_time" not in params:
            if run_timeout:
                params["timeout_min"] = math.ceil((hard_limit(run_timeout) + STARTUP_S) / 60)
            else:
                params["timeout_min"] = DEFAULT_TIME_MIN
        if "cpus_per_task" not in params and "slurm_cpus_per_task" not in params:
            params["cpus_per_task"] = max(1, math.ceil(cpus))
        gpu_keys = ("gpus_per_node", "slurm_gpus_per_node", "slurm_gres", "slurm_gpus_per_task")
        if gpus and not any(k in params for k in gpu_keys):
            params["gpus_per_node"] = math.ceil(gpus)
        return params


def parse_slurm_options(items: Iterable[str]) -> SlurmOptions:
    """`--slurm KEY=VALUE` strings -> SlurmOptions (an InputError names the bad one)."""
    folder: Path | None = None
    own: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key, value = key.strip().replace("-", "_"), value.strip()
        if not sep or not key:
            raise InputError(f"--slurm {item!r}: expected KEY=VALUE, e.g. --slurm partition=gpu")
        if key == "folder":
            folder = Path(value).expanduser()
        elif key == "retries":
            own["retries"] = _number(key, value, int, low=0)
        elif key == "poll":
            own["poll_s"] = _number(key, value, float, low=0.05)
        elif key == "cluster":
            if value not in _CLUSTERS:
                raise InputError(f"--slurm cluster={value}: use one of {', '.join(_CLUSTERS)}")
            own["cluster"] = value
        else:
            name = _ALIASES.get(key, key)
            if name == "mem":
                name = "slurm_mem"
            if name not in _SHARED and not name.startswith("slurm_"):
                name = f"slurm_{name}"
            if name == "slurm_setup":  # shell lines before the job: repeatable
                resources.setdefault(name, []).append(value)
            else:
                resources[name] = _typed(key, name, value)
    folder = folder.absolute() if folder is not None else None
    return SlurmOptions(folder=folder, resources=resources, **own)


def _typed(key: str, name: str, value: str) -> Any:
    """The value as submitit expects it: its shared parameters are typed, sbatch's are
    numbers where they look like one, else text."""
    kind = _SHARED.get(name)
    if kind is bool:
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise InputError(f"--slurm {key}={value}: expected true or false")
        return value.lower() in ("true", "1", "yes")
    if kind is int or kind is float:
        return _number(key, value, kind, low=0)
    if kind is str:
        return value
    for parse in (int, float):
        try:
            return parse(value)
        except ValueError:
            pass
    return value


def _number(key: str, value: str, kind: type, low: float) -> Any:
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or not math.isfinite(number) or number < low:
        what = "a whole number" if kind is int else "a number"
        raise InputError(f"--slurm {key}={value}: expected {what} >= {low:g}")
    return number


def job_count(workers: int | None) -> int:
    """Jobs in flight at once: --workers, else DEFAULT_JOBS."""
    return workers or DEFAULT_JOBS
