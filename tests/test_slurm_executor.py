"""The `slurm` executor (submitit), with no SLURM here: through submitit's local executor (a
killed job is retried and its run stored once, a job that keeps dying is stored as failed with
the reason, --run-timeout in a job), through stand-ins for sbatch/srun/sacct
(tests/fake_slurm.py), and with stand-ins for submitit's jobs (what a dead, timed-out or
cancelled job becomes); the settings and their errors. Same stored results as `--executor
local`: tests/test_executors.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashbench.data.types import DatasetOptions
from hashbench.executors import ExecutorSettings, RunTask, TaskResult
from hashbench.runner.execute import RunOptions
from hashbench.runner.spec import RunSpec
from hashbench.runner.time_limit import hard_limit
from hashbench.store import ResultStore

pytest.importorskip("submitit", reason="the SLURM executor needs `pip install 'hashbench[slurm]'`")

from hashbench_plugins.executors import slurm  # noqa: E402
from hashbench_plugins.executors.slurm_options import STARTUP_S, parse_slurm_options  # noqa: E402

from tests import slurm_toys  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick", "--seeds", "0")
LOCAL = ("--executor", "slurm", "--slurm", "cluster=local", "--slurm", "poll=0.2")


@pytest.fixture
def toys(tmp_path, monkeypatch) -> Path:
    """The dying toy methods installed, here and in the job processes; returns the folder
    where their attempts are counted."""
    site = slurm_toys.installed(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    path = os.pathsep.join(filter(None, (str(site), str(ROOT), os.environ.get("PYTHONPATH"))))
    monkeypatch.setenv("PYTHONPATH", path)
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv(slurm_toys.MARKS, str(marks))
    return marks


def _attempts(marks: Path, method: str) -> int:
    path = slurm_toys.attempts_file(marks, method, 16, 0)
    return path.read_text().count("\n") if path.exists() else 0


@pytest.mark.slow
def test_killed_jobs_are_retried_then_failed_with_the_reason(cli, tmp_path, toys):
    """toy-killed-once: its first job is SIGKILLed, the retry stores the run once as done.
    toy-always-killed: every job dies; after 1 retry (--slurm retries=1) it is stored as failed
    saying so. No claim is left behind."""
    path = tmp_path / "s.sqlite"
    result = cli(
        "run", "--methods", "toy-killed-once,toy-always-killed", *DATA, "--bits", "16",
        "--store", str(path), *LOCAL, "--slurm", "retries=1", "--workers", "2",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert _attempts(toys, "toy-killed-once") == 2
    assert _attempts(toys, "toy-always-killed") == 2  # the first job and one retry
    with ResultStore(path) as store:
        (done,) = store.records()
        (failed,) = store.failures()
        assert store.unfinished_claims() == []
    assert done.method == "toy-killed-once" and done.metrics["i2t"]["map@50"] > 0
    assert failed.method == "toy-always-killed"
    assert "SlurmJobDied: 2 job(s) of this run died without a result" in failed.error
    assert "--slurm retries=1" in failed.error
    assert f"logs in {path}.slurm" in failed.error
    # the same command again: the done run is skipped, only the failed one is retried
    again = cli(
        "run", "--methods", "toy-killed-once", *DATA, "--bits", "16", "--store", str(path), *LOCAL
    )
    assert again.exit_code == 0 and "0 run(s) executed, 1 skipped" in again.output
    assert _attempts(toys, "toy-killed-once") == 2


@pytest.mark.slow
def test_run_timeout_holds_inside_the_job(cli, tmp_path, monkeypatch):
    """The job's own timer (its main thread, under submitit) fails the stuck run at the limit
    (it never ends, so the limit needs no margin for a busy machine)."""
    from tests.adversarial_toys import installed

    site = installed(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    path = os.pathsep.join(filter(None, (str(site), str(ROOT), os.environ.get("PYTHONPATH"))))
    monkeypatch.setenv("PYTHONPATH", path)
    store = tmp_path / "s.sqlite"
    result = cli(
        "run", "--methods", "toy-sleeps", *DATA, "--bits", "16", "--store", str(store),
        *LOCAL, "--run-timeout", "3",
    )  # fmt: skip
    assert result.exit_code == 1 and "internal error" not in result.output
    with ResultStore(store) as opened:
        assert opened.records() == []
        (failed,) = opened.failures()
        assert opened.unfinished_claims() == []
    assert failed.method == "toy-sleeps" and "exceeded --run-timeout of 3 s" in failed.error


@pytest.mark.slow
def test_through_stand_ins_for_sbatch_srun_and_sacct(cli, tmp_path, toys, monkeypatch):
    """The SLURM path itself (submitit's sbatch script, job ids, sacct's states) with the
    commands of tests/fake_slurm.py: lsh gives the same numbers as in this process, and the
    toy's job, killed on its node (srun's process: sacct says FAILED), is submitted again."""
    from tests import fake_slurm

    bin_dir, state = fake_slurm.install(tmp_path / "cluster")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_STATE", str(state))
    path = tmp_path / "s.sqlite"
    result = cli(
        "run", "--methods", "lsh,toy-killed-once", *DATA, "--bits", "16", "--store", str(path),
        "--executor", "slurm", "--slurm", "poll=0.2", "--slurm", "time=10", "--workers", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _attempts(toys, "toy-killed-once") == 2
    local = tmp_path / "local.sqlite"
    assert (
        cli("run", "--methods", "lsh", *DATA, "--bits", "16", "--store", str(local)).exit_code == 0
    )
    with ResultStore(path) as store, ResultStore(local) as here:
        assert sorted(r.method for r in store.records()) == ["lsh", "toy-killed-once"]
        assert store.unfinished_claims() == [] and store.failures() == []
        (want,) = here.records()
        assert store.get(want.run_id).metrics == want.metrics
    scripts = sorted(Path(f"{path}.slurm").glob("*_submission.sh"))
    assert len(scripts) == 3  # lsh, the toy's killed job, its retry
    assert all("#SBATCH --time=10\n" in s.read_text() for s in scripts)


def test_settings_become_sbatch_lines(tmp_path, monkeypatch):
    """What sbatch receives (no job is submitted): each setting as its #SBATCH line."""
    from tests import fake_slurm

    bin_dir, _ = fake_slurm.install(tmp_path / "cluster")  # submitit looks for srun
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    settings = ("partition=gpu", "time=90", "gpus=1", "cpus=8", "mem=32G", "account=lab",
                "qos=high", "setup=module load cuda")  # fmt: skip
    executor = slurm.SlurmExecutor(ExecutorSettings(extra={"slurm": settings}))
    params = executor.options.job_parameters(cpus=1, gpus=0, run_timeout=None)
    submitit_executor = executor._executor(params, tmp_path / "jobs")
    script = submitit_executor._executor._make_submission_file_text("python job.py", "x")
    for line in ("--partition=gpu", "--time=90", "--gpus-per-node=1", "--cpus-per-task=8",
                 "--mem=32G", "--account=lab", "--qos=high"):  # fmt: skip
        assert f"#SBATCH {line}\n" in script
    assert "\nmodule load cuda\n" in script


def test_missing_submitit_is_a_clear_error(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit -> ImportError
    result = cli("run", "--methods", "lsh", *DATA, "--bits", "16", *LOCAL)
    assert result.exit_code != 0 and "internal error" not in result.output
    assert "--executor slurm needs submitit: pip install 'hashbench[slurm]'" in result.output


def test_without_sbatch_it_points_to_cluster_local(cli, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no sbatch: not a SLURM machine
    result = cli("run", "--methods", "lsh", *DATA, "--bits", "16", "--executor", "slurm")
    assert result.exit_code != 0
    assert "no SLURM on this machine" in result.output and "cluster=local" in result.output


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("partition", "expected KEY=VALUE"),
        ("retries=-1", "--slurm retries=-1: expected a whole number >= 0"),
        ("time=soon", "--slurm time=soon: expected a whole number >= 0"),
        ("cluster=aws", "--slurm cluster=aws: use one of slurm, local"),
        ("colour=blue", "submitit refused the job parameters"),
    ],
)
def test_bad_settings_fail_before_any_run(cli, tmp_path, setting, says):
    path = tmp_path / "s.sqlite"
    result = cli("run", "--methods", "lsh", *DATA, "--store", str(path), *LOCAL, "--slurm", setting)
    assert result.exit_code != 0 and says in result.output, result.output
    assert "internal error" not in result.output and not path.exists()


def test_slurm_settings_need_the_slurm_executor(cli):
    result = cli("run", "--methods", "lsh", *DATA, "--slurm", "partition=gpu")
    assert result.exit_code != 0 and "--slurm sets up --executor slurm" in result.output


def test_tune_takes_the_same_slurm_settings(cli, tmp_path):
    """`hashbench tune` sends its trials through the same executor options as `run`."""
    path = tmp_path / "s.sqlite"
    tune = ("tune", "--methods", "cca-itq", *DATA, "--bits", "16", "--trials", "2")
    tune += ("--store", str(path))
    result = cli(*tune, "--slurm", "partition=gpu")
    assert result.exit_code != 0 and "--slurm sets up --executor slurm" in result.output
    result = cli(*tune, *LOCAL, "--slurm", "retries=-1")
    assert result.exit_code != 0 and "--slurm retries=-1: expected a whole number" in result.output
    assert "internal error" not in result.output
    done = cli(*tune, *LOCAL)  # trials and test runs as jobs of submitit's local executor
    assert done.exit_code == 0, done.output
    with ResultStore(path, readonly=True) as store:  # trials are kept out of records()
        protocols = sorted(r.protocol for r in store.records(method="cca-itq"))
    assert protocols == ["default", "tuned"], protocols


def test_settings_become_submitit_parameters():
    options = parse_slurm_options(
        ["partition=gpu", "time=90", "gpus=1", "cpus=8", "mem=32G", "account=lab",
         "setup=module load cuda", "setup=source env.sh", "folder=jobs", "retries=0"]
    )  # fmt: skip
    assert options.retries == 0 and options.folder == Path("jobs").absolute()
    assert options.job_parameters(cpus=1, gpus=0, run_timeout=None) == {
        "slurm_partition": "gpu", "timeout_min": 90, "gpus_per_node": 1, "cpus_per_task": 8,
        "slurm_mem": "32G", "slurm_account": "lab",
        "slurm_setup": ["module load cuda", "source env.sh"],
    }  # fmt: skip
    defaults = parse_slurm_options([]).job_parameters(cpus=1, gpus=1, run_timeout=None)
    assert defaults == {"timeout_min": 60, "cpus_per_task": 1, "gpus_per_node": 1}


@given(st.floats(min_value=0.01, max_value=1e6, allow_nan=False))
def test_the_job_time_limit_leaves_the_run_timeout_its_grace(run_timeout):
    """The job outlives the run's own timer and the grace after it, plus the start-up."""
    minutes = parse_slurm_options([]).job_parameters(1, 0, run_timeout)["timeout_min"]
    assert isinstance(minutes, int)
    assert minutes * 60 >= hard_limit(run_timeout) + STARTUP_S
    assert minutes * 60 < hard_limit(run_timeout) + STARTUP_S + 60


def test_a_sweep_files_slurm_table_reaches_the_executor(cli, tmp_path):
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('executor = "slurm"\n[slurm]\ncluster = "local"\nretries = -1\n')
    result = cli("run", "--config", str(sweep), "--methods", "lsh", *DATA)
    assert result.exit_code != 0 and "--slurm retries=-1: expected a whole number" in result.output


def test_sweep_file_slurm_table(tmp_path):
    from hashbench.runner.sweep_config import load_sweep

    sweep = tmp_path / "sweep.toml"
    sweep.write_text('[slurm]\npartition = "gpu"\ntime = 120\nsetup = ["module load cuda"]\n')
    assert load_sweep(sweep, ["slurm", "methods"]) == {
        "slurm": ["partition=gpu", "time=120", "setup=module load cuda"]
    }


# --- what happens to a finished job, with stand-ins for submitit's Job -----------------------


def _task(run_timeout: float | None = None) -> RunTask:
    return RunTask(
        spec=RunSpec(method="m", dataset="d", bits=16, seed=0),
        dataset_label="d",
        params={},
        run_id="r1",
        origin={},
        dataset_fingerprint="f",
        dataset_options=DatasetOptions(),
        options=RunOptions(run_timeout=run_timeout),
    )


class _Job:
    """A finished job: `result()` returns `value` or raises it; `state` as sacct reports it."""

    job_id = "42"

    def __init__(self, value, state: str = "FAILED") -> None:
        self.value, self.state = value, state

    def result(self):
        if isinstance(value := self.value, BaseException):
            raise value
        return value


def _outcome(job: _Job, attempts: int = 0, retries: int = 2, run_timeout=None):
    from submitit.core.utils import UncompletedJobError  # noqa: F401 -- submitit is installed

    executor = slurm.SlurmExecutor(
        ExecutorSettings(extra={"slurm": ("cluster=local", f"retries={retries}")})
    )
    flight = slurm._Flight(_task(run_timeout), job, 30, [f"{i} (FAILED)" for i in range(attempts)])
    return executor._outcome(flight), flight


def test_a_dead_job_is_retried_until_the_limit():
    from submitit.core.utils import UncompletedJobError

    died = UncompletedJobError("has not produced any output (state: OUT_OF_MEMORY)")
    result, flight = _outcome(_Job(died, "OUT_OF_MEMORY"), attempts=0, retries=1)
    assert result is None and flight.attempts == ["42 (OUT_OF_MEMORY)"]  # submitted again
    result, _ = _outcome(_Job(died, "OUT_OF_MEMORY"), attempts=1, retries=1)
    assert result is not None and not result.ok
    assert result.message.startswith("SlurmJobDied: 2 job(s)") and "--slurm mem=" in result.message


@pytest.mark.parametrize("state", ["TIMEOUT", "CANCELLED by 1000"])
def test_a_job_at_its_time_limit_or_cancelled_is_not_retried(state):
    from submitit.core.utils import UncompletedJobError

    result, _ = _outcome(_Job(UncompletedJobError("no output"), state), run_timeout=20)
    assert result is not None and not result.ok
    if state == "TIMEOUT":
        assert result.timed_out and "exceeded --run-timeout of 20 s" in result.message
        assert "time limit of 30 min" in result.message
    else:
        assert result.message == f"SlurmJobCancelled: job 42 was cancelled ({state})"


def test_a_job_that_failed_outside_the_run_is_not_retried():
    from submitit.core.utils import FailedJobError

    trace = "Traceback:\n  ...\nModuleNotFoundError: No module named 'hashbench'\n"
    rule = "-" * 22  # as submitit frames the job's traceback
    error = FailedJobError(f"Job (task=0) failed with trace:\n{rule}\n{trace}{rule}\nYou can check")
    result, _ = _outcome(_Job(error))
    assert result.message.startswith("SlurmJobFailed: job 42 failed outside the run")
    assert "No module named 'hashbench'" in result.message


def test_a_job_at_its_time_limit_without_run_timeout_says_how_to_raise_it():
    from submitit.core.utils import UncompletedJobError

    result, flight = _outcome(_Job(UncompletedJobError("no output"), "TIMEOUT"))
    assert result.timed_out and flight.attempts == ["42 (TIMEOUT)"]
    assert result.message == (
        "SlurmTimeLimit: the job reached its SLURM time limit of 30 min; raise it with "
        "--slurm time=MINUTES or set --run-timeout"
    )


def test_a_result_that_cannot_be_read_fails_the_run_not_the_sweep():
    result, _ = _outcome(_Job(EOFError("Ran out of input")))
    assert result.message == (
        "SlurmJobFailed: the result of job 42 could not be read (EOFError: Ran out of input)"
    )


def test_a_finished_job_gives_its_result():
    ran = TaskResult(_task(), error="x", message="ValueError: bad")
    result, _ = _outcome(_Job(ran))
    assert result is ran


@pytest.mark.parametrize(
    ("parameters", "gpu"),
    [
        ({"gpus_per_node": 1}, True),
        ({"gpus_per_node": 0, "slurm_partition": "gpu"}, False),
        ({"slurm_gres": "gpu:a100:2"}, True),
        ({"slurm_gpus_per_task": "a100:1"}, True),
        ({"slurm_gres": "nvme:1"}, False),
        ({}, False),
    ],
)
def test_which_jobs_ask_for_a_gpu(parameters, gpu):
    assert slurm._asks_gpu(parameters) is gpu


def test_a_gpu_job_without_a_visible_gpu_fails_its_run_clearly():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the run would use it")
    result = slurm.run_job(_task(), 30, gpu=True)
    assert not result.ok and result.message.startswith("SlurmNoGpu: the job asked for GPUs")
