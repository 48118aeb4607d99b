"""The MLflow plugin (plugins/trackers/mlflow_tracker.py) against a real local MLflow store.

Every end-to-end test runs `hashbench run` with `MLFLOW_TRACKING_URI` pointing at a SQLite file
under tmp_path and reads the runs back through MLflow's own client: no mock anywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hashbench_plugins.trackers import mlflow_tracker
from hashbench_plugins.trackers.mlflow_tracker import flat_params, hashbench_name, mlflow_name
from hypothesis import given
from hypothesis import strategies as st

from hashbench.lifecycle import RunStarted, SweepFinished
from hashbench.plugins import create_plugin_manager
from hashbench.store import ResultStore, RunRecord

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy"),  # MLflow's SQLAlchemy
]

SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--bits", "16", "--budget", "quick")
# a deep method with three short epochs: its losses become step metrics
DJSRH = ("-p", "djsrh.epochs=3", "-p", "djsrh.min_iterations=0", "-p", "djsrh.text_hidden=64")
WARNING = "warning: mlflow: could not log run"


def _env(uri: str, **extra: str) -> dict[str, str]:
    return {"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": None, **extra}


def _runs(uri: str, experiment: str = "hashbench") -> list:
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r} in {uri}"
    return client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])


def _records(store) -> dict:
    with ResultStore(store, readonly=True) as opened:
        return {record.run_id: record for record in opened.records()}


def _task_scores(record) -> dict[tuple[str, str], float]:
    """Every scalar score of every task, as the store has it."""
    return {
        (task, name): value
        for task, values in record.task_metrics().items()
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


# --- names -----------------------------------------------------------------------------------

NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_@:.-"


@given(
    task=st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12),
    name=st.text(NAME_CHARS, min_size=1, max_size=30).filter(lambda s: "_at_" not in s),
)
def test_metric_names_map_reversibly(task, name):
    key = mlflow_name(task, name)
    assert "@" not in key and ":" not in key
    assert hashbench_name(key) == (task, name)


def test_the_documented_names():
    assert mlflow_name("i2t", "map@50") == "i2t.map_at_50"
    assert mlflow_name("t2i", "map@50:relevant_first") == "t2i.map_at_50/relevant_first"
    assert hashbench_name("unimodal.precision_at_radius2") == ("unimodal", "precision@radius2")


def test_params_are_flattened_and_cut_to_500_characters():
    flat = flat_params({"lr": 0.001, "net": {"width": 64}, "note": "x" * 600, "ms": [30, 60]})
    assert flat["lr"] == "0.001" and flat["net.width"] == "64" and flat["ms"] == "[30, 60]"
    assert len(flat["note"]) == 500 and flat["note"].endswith("...")


def test_a_password_in_the_uri_is_never_printed():
    shown = mlflow_tracker._shown("request to http://ann:s3cret@host:5000/api failed")
    assert "s3cret" not in shown and "http://ann:***@host:5000/api" in shown


def test_the_entry_point_loads_the_module():
    assert create_plugin_manager().get_plugin("mlflow") is mlflow_tracker


def test_importing_the_plugin_imports_no_mlflow_and_works_without_it(tmp_path):
    """The module loads with every hashbench command; mlflow only when a run is logged. With
    the package missing (blocked here) a set URI gets one note and nothing fails."""
    code = (
        "import sys\n"
        "from hashbench_plugins.trackers import mlflow_tracker as t\n"
        "assert 'mlflow' not in sys.modules, 'imported mlflow at load time'\n"
        "sys.modules['mlflow'] = None  # as if not installed\n"
        "from hashbench.lifecycle import RunStarted, SweepFinished\n"
        "run = RunStarted('r1', 'lsh', 'synth', 16, 0, 'quick', 'default')\n"
        "for _ in range(2):\n"
        "    t.hashbench_run_start(run)\n"
        "    t.hashbench_epoch_end(run, 0, 1, {'loss': 1.0})\n"
        "    t.hashbench_run_fail(run, 'boom', 'Traceback')\n"
        "t.hashbench_sweep_finish(SweepFinished(store=''))\n"
        "print('OK')\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK"
    assert done.stderr.count("mlflow package is not installed") == 1, done.stderr
    assert not (tmp_path / "mlflow.db").exists()


# --- end to end ------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_run_is_logged_with_the_stores_numbers(cli, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = tmp_path / "results.sqlite"
    args = ("run", "--methods", "lsh,cca-itq,djsrh", *SMALL, *DJSRH, "--store", str(store))
    result = cli(*args, env=_env(uri))
    assert result.exit_code == 0, result.output
    assert f"mlflow: 3 run(s) logged to {uri} (experiment 'hashbench')" in result.output
    assert WARNING not in result.output

    records = _records(store)
    runs = _runs(uri)
    assert sorted(run.data.tags["hashbench_run_id"] for run in runs) == sorted(records)
    client = MlflowClient(tracking_uri=uri)
    for run in runs:
        record = records[run.data.tags["hashbench_run_id"]]
        assert run.info.status == "FINISHED"
        assert run.info.run_name == f"{record.method} {record.dataset} {record.bits}b s0"
        tags = run.data.tags
        assert (tags["method"], tags["dataset"], tags["budget"], tags["store"]) == (
            record.method,
            record.dataset,
            record.budget,
            str(store),
        )
        assert (tags["bits"], tags["seed"], tags["protocol"]) == ("16", "0", "default")
        assert tags["codes_sha256"] == record.codes_digest["sha256"]
        assert tags["dataset_fingerprint"] == record.dataset_fingerprint
        assert tags["host"] == record.provenance["host"]["hostname"]
        assert tags["hashbench_version"] == record.provenance["versions"]["hashbench"]
        assert run.data.params == {name: str(value) for name, value in record.params.items()}

        metrics = dict(run.data.metrics)
        timings = {k[len("time.") :]: metrics.pop(k) for k in list(metrics) if k[:5] == "time."}
        assert timings == record.timings
        losses = [k for k in metrics if k.startswith("epoch.")]
        for key in losses:
            metrics.pop(key)
        logged = {hashbench_name(key): value for key, value in metrics.items()}
        scores = _task_scores(record)
        assert len(scores) >= 20  # two tasks, ten or more scores each
        assert logged == scores  # every scalar score of every task, exactly
        if record.method == "djsrh":
            history = client.get_metric_history(run.info.run_id, "epoch.loss")
            assert sorted(point.step for point in history) == [0, 1, 2]
        else:
            assert losses == []

    # a rerun is a new MLflow run with the same hashbench run id; the old one stays
    lsh = next(r for r in records.values() if r.method == "lsh")
    again = cli("run", "--methods", "lsh", *SMALL, "--store", str(store), "--rerun", env=_env(uri))
    assert again.exit_code == 0, again.output
    logged_lsh = [r for r in _runs(uri) if r.data.tags["hashbench_run_id"] == lsh.run_id]
    assert [r.info.status for r in logged_lsh] == ["FINISHED", "FINISHED"]


@pytest.mark.slow
def test_epoch_losses_logged_from_a_worker_process(cli, tmp_path):
    """With the process executor the epoch hook fires in a worker, which loads the plugin
    afresh and finds the MLflow run the scheduler opened by its tag."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = tmp_path / "results.sqlite"
    args = ("run", "--methods", "djsrh", *SMALL, *DJSRH, "--store", str(store))
    result = cli(*args, "--executor", "process", "--workers", "1", env=_env(uri))
    assert result.exit_code == 0, result.output
    assert WARNING not in result.output
    (run,) = _runs(uri)
    (record,) = _records(store).values()
    assert run.data.tags["hashbench_run_id"] == record.run_id and run.info.status == "FINISHED"
    history = MlflowClient(tracking_uri=uri).get_metric_history(run.info.run_id, "epoch.loss")
    assert sorted(point.step for point in history) == [0, 1, 2]


def test_a_failed_run_is_logged_failed_with_its_reason(cli, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = tmp_path / "results.sqlite"
    args = ("run", "--methods", "djsrh", *SMALL, *DJSRH, "--store", str(store))
    result = cli(*args, "--run-timeout", "0.001", env=_env(uri, MLFLOW_EXPERIMENT_NAME="mine"))
    assert result.exit_code == 1 and "RunTimeout" in result.output, result.output  # as always
    with ResultStore(store, readonly=True) as opened:
        (record,) = opened.failures()
    (run,) = _runs(uri, "mine")
    assert run.info.status == "FAILED"
    assert run.data.tags["hashbench_run_id"] == record.run_id
    assert run.data.tags["error"] and "\n" not in run.data.tags["error"]
    assert run.data.params == {name: str(value) for name, value in record.params.items()}


def test_an_unusable_tracking_uri_never_fails_the_runs(cli, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    uri = f"sqlite:///{tmp_path / 'a-file' / 'sub' / 'mlflow.db'}"
    store = tmp_path / "results.sqlite"
    result = cli("run", "--methods", "lsh,cca-itq", *SMALL, "--store", str(store), env=_env(uri))
    assert result.exit_code == 0, result.output
    assert len(_records(store)) == 2  # both runs stored
    assert result.output.count(WARNING) == 1, result.output
    assert f"to {uri}:" in result.output
    assert "mlflow: 2 of 2 run(s) not logged" in result.output
    assert "Traceback" not in result.output


def test_a_store_that_refuses_each_run_is_reported_once(cli, tmp_path):
    """The store answers, but every run is refused (its experiment was deleted): one warning,
    every run counted."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    client.delete_experiment(client.create_experiment("hashbench"))
    store = tmp_path / "results.sqlite"
    result = cli("run", "--methods", "lsh,cca-itq", *SMALL, "--store", str(store), env=_env(uri))
    assert result.exit_code == 0, result.output
    assert len(_records(store)) == 2
    assert result.output.count(WARNING) == 1, result.output
    assert "mlflow: 2 of 2 run(s) not logged" in result.output


def test_without_a_tracking_uri_nothing_is_logged(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where MLflow's defaults (./mlruns, ./mlflow.db) would land
    store = tmp_path / "results.sqlite"
    result = cli("run", "--methods", "lsh", *SMALL, "--store", str(store), env=_env(None))
    assert result.exit_code == 0, result.output
    assert "mlflow" not in result.output
    assert [p.name for p in tmp_path.iterdir() if "ml" in p.name] == []


def _record(run: RunStarted, metrics: dict) -> RunRecord:
    return RunRecord(
        run_id=run.run_id,
        method=run.method,
        dataset=run.dataset,
        dataset_fingerprint="f" * 32,
        bits=run.bits,
        seed=run.seed,
        budget=run.budget,
        params=dict(run.params),
        pair_fused=False,
        metrics=metrics,
        timings={"total_s": 1.5},
        provenance={"host": {"hostname": "lab-1", "machine_id": "0" * 16}},
        codes_digest={"sha256": "c" * 64},
        protocol=run.protocol,
    )


def test_losses_refused_by_mlflow_leave_the_run_logged(tmp_path, capsys):
    """An epoch's losses that MLflow refuses (a key over its 250 characters) are reported once;
    the run itself is still logged when it finishes, and the sweep's end says what is missing."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = mlflow_tracker.MlflowTracker(environ={"MLFLOW_TRACKING_URI": uri})
    run = RunStarted("r1", "toy", "synth-x", 32, 3, "quick", "trial", params={"lr": 0.5})
    tracker.hashbench_run_start(run)
    tracker.hashbench_epoch_end(run, 0, 3, {"loss": 2.0})
    tracker.hashbench_epoch_end(run, 1, 3, {"x" * 300: 1.0})
    tracker.hashbench_epoch_end(run, 2, 3, {"y" * 300: 1.0})
    tracker.hashbench_run_finish(_record(run, {"i2t": {"map@50": 0.25}}), str(tmp_path))
    tracker.hashbench_sweep_finish(SweepFinished(store=str(tmp_path), executed=("r1",)))
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1, err
    assert "mlflow: 1 run(s) logged" in err
    assert "the epoch losses of 1 run(s) are incomplete" in err
    (logged,) = _runs(uri)
    assert logged.info.status == "FINISHED"
    assert logged.info.run_name == "toy synth-x 32b s3 trial"
    assert logged.data.params == {"lr": "0.5"}
    assert logged.data.metrics == {"i2t.map_at_50": 0.25, "time.total_s": 1.5, "epoch.loss": 2.0}
    assert logged.data.tags["host"] == "lab-1" and logged.data.tags["protocol"] == "trial"
