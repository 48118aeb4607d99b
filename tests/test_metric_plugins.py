"""Metric plugins (`hashbench_register_metrics`): what their function gets (`MetricInputs`, the
engine's own products, checked against brute force), what registration refuses, what a run,
`rescore`, tables, CSV, statistics and the report do with them, and the example package
(examples/hashbench-example-metric) installed for real and run through the CLI."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hashbench
from hashbench import metrics
from hashbench.errors import InputError, PluginError
from hashbench.metrics.plugin import MetricInputs, MetricSpec, per_query_values
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.store import ResultStore
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hashbench-example-metric"
SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick", "--bits", "16")


def _task(rng: np.random.Generator, n_q: int, n_db: int, bits: int, n_labels: int):
    codes = np.where(rng.random((n_q + n_db, bits)) < 0.5, 1, -1).astype(np.int8)
    labels = (rng.random((n_q + n_db, n_labels)) < 0.3).astype(np.uint8)
    return codes[:n_q], codes[n_q:], labels[:n_q], labels[n_q:]


def _brute(qc, dc, ql, dl) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distances, relevance and the ranking (distance, then database index) by hand."""
    dist = (qc[:, None, :] != dc[None, :, :]).sum(axis=2)
    rel = (ql.astype(np.int64) @ dl.T.astype(np.int64)) > 0
    return dist, rel, np.argsort(dist, axis=1, kind="stable")


def _hand_scores(qc, dc, ql, dl) -> dict[str, np.ndarray]:
    """The example plugin's two metrics computed by hand from codes and labels."""
    _, rel, order = _brute(qc, dc, ql, dl)
    ranked = np.take_along_axis(rel, order, axis=1)
    first = np.where(ranked.any(axis=1), ranked.argmax(axis=1) + 1, 0)
    mrr = np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0)
    return {"hitrate@10": ranked[:, :10].any(axis=1).astype(float), "mrr": mrr}


# --- MetricInputs: the engine's products, equal to brute force ------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_q=st.integers(1, 7),
    n_db=st.integers(1, 40),
    bits=st.sampled_from([4, 8, 16, 70]),  # few bits: many ties; 70: two words
    k=st.integers(1, 50),
    m=st.integers(1, 4),
)
def test_metric_inputs_equal_brute_force(seed, n_q, n_db, bits, k, m):
    qc, dc, ql, dl = _task(np.random.default_rng(seed), n_q, n_db, bits, 5)
    task = MetricInputs.build(qc, dc, ql, dl, k=k)
    dist, rel, order = _brute(qc, dc, ql, dl)
    assert (task.n_query, task.n_db, task.bits, task.k) == (n_q, n_db, bits, k)
    np.testing.assert_array_equal(task.distances(), dist)
    np.testing.assert_array_equal(task.relevance(), rel)
    np.testing.assert_array_equal(task.shared_labels(), ql.astype(int) @ dl.T.astype(int))
    np.testing.assert_array_equal(task.n_relevant(), rel.sum(axis=1))
    np.testing.assert_array_equal(task.ranking(), order[:, :k])  # default: the task's k
    np.testing.assert_array_equal(task.ranking(3), order[:, :3])  # shorter: from the cache
    ranked = np.take_along_axis(rel, order, axis=1)
    np.testing.assert_array_equal(task.ranked_relevance(k), ranked[:, :k])
    want = np.zeros((n_q, m), dtype=np.int64)
    for q in range(n_q):
        ranks = np.flatnonzero(ranked[q])[:m] + 1
        want[q, : len(ranks)] = ranks
    np.testing.assert_array_equal(task.relevant_ranks(m), want)
    n_all, n_hit = task.distance_counts()
    for q in range(n_q):
        np.testing.assert_array_equal(n_all[q], np.bincount(dist[q], minlength=bits + 1))
        np.testing.assert_array_equal(
            n_hit[q], np.bincount(dist[q], weights=rel[q], minlength=bits + 1)
        )


def test_ranking_is_the_engines_on_a_database_large_enough_for_faiss_knn():
    # 64 x 20000 pairs: past the engine's small-problem threshold, its k-NN pass ranks
    qc, dc, ql, dl = _task(np.random.default_rng(3), 64, 20000, 16, 6)
    task = MetricInputs.build(qc, dc, ql, dl, k=100)
    _, _, order = _brute(qc, dc, ql, dl)
    np.testing.assert_array_equal(task.ranking(), order[:, :100])


def test_inputs_give_the_builtin_metrics_per_query_values():
    """The ranking is the one behind the ":index" keys; the distance counts give the default
    ("expected") tie order: a plugin can reproduce the built-in values exactly."""
    qc, dc, ql, dl = _task(np.random.default_rng(7), 30, 200, 8, 4)
    task = MetricInputs.build(qc, dc, ql, dl, k=10)
    np.testing.assert_allclose(
        task.ranked_relevance(10).mean(axis=1),
        metrics.compute_per_query("p@10:index", qc, dc, ql, dl),
    )
    n_all, n_hit = task.distance_counts()  # expected hits in the top 10, group by group
    before = np.cumsum(n_all, axis=1) - n_all
    take = np.clip(10 - before, 0, n_all)
    expected = (take * np.divide(n_hit, n_all, out=np.zeros(n_all.shape), where=n_all > 0)).sum(1)
    np.testing.assert_allclose(expected / 10, metrics.compute_per_query("p@10", qc, dc, ql, dl))


def test_bad_inputs_are_refused_like_the_builtin_metrics():
    qc, dc, ql, dl = _task(np.random.default_rng(0), 3, 9, 8, 2)
    with pytest.raises(InputError, match="db_codes"):
        MetricInputs.build(qc, dc[:, :4], ql, dl)
    with pytest.raises(InputError, match="k must be a positive integer"):
        MetricInputs.build(qc, dc, ql, dl, k=0)


# --- registration and results: clear errors naming plugin and metric ------------------------


def _plugin(name: str, *specs: object) -> types.ModuleType:
    module = types.ModuleType(name)

    @hashbench.hookimpl
    def hashbench_register_metrics():
        return list(specs)

    module.hashbench_register_metrics = hashbench_register_metrics
    return module


def _registry(*modules: types.ModuleType) -> Registry:
    pm = create_plugin_manager()
    for module in modules:
        pm.register(module, name=module.__name__)
    return Registry.from_plugin_manager(pm)


def _ones(task):
    return np.ones(task.n_query)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (MetricSpec("map@10", _ones, "x"), "clashes with the built-in metric names"),
        (MetricSpec("ndcg", _ones, "x"), "clashes with the built-in metric names"),
        (MetricSpec("precision@radius3", _ones, "x"), "clashes with the built-in"),
        (MetricSpec("curves", _ones, "x"), "clashes with the built-in"),
        (MetricSpec("HitRate", _ones, "x"), "is not a metric name"),
        (MetricSpec("hit:rate", _ones, "x"), "is not a metric name"),
        (MetricSpec("hit.rate", _ones, "x"), "is not a metric name"),
        (MetricSpec("hitrate", 3, "x"), "per_query must be a function"),
        (MetricSpec("hitrate", _ones, " "), "description must be a non-empty string"),
        ("hitrate", "expected hashbench.MetricSpec"),
    ],
)
def test_registration_refuses_a_bad_spec_naming_plugin_and_metric(spec, problem):
    with pytest.raises(PluginError, match="toy_metrics") as err:
        _registry(_plugin("toy_metrics", spec))
    assert problem in str(err.value)
    if isinstance(spec, MetricSpec):
        assert repr(spec.name) in str(err.value)
        assert "HASHBENCH_BLOCK_PLUGINS=toy_metrics" in str(err.value)


def test_one_metric_name_from_two_plugins_names_both():
    first = _plugin("first_metrics", MetricSpec("hits", _ones, "x"))
    second = _plugin("second_metrics", MetricSpec("hits", _ones, "y"))
    with pytest.raises(PluginError, match="metric name 'hits' is registered twice") as err:
        _registry(first, second)
    assert "first_metrics" in str(err.value) and "second_metrics" in str(err.value)


def test_registered_metrics_are_listed_with_their_plugin():
    registry = _registry(_plugin("toy_metrics", MetricSpec("ones@5", _ones, "always one")))
    assert registry.list_metrics() == ["ones@5"]
    assert registry.metric_plugins() == (("toy_metrics", registry.metrics["ones@5"]),)
    assert registry.origin("metric", "ones@5")["plugin"] == "toy_metrics"


@pytest.mark.parametrize(
    ("returns", "problem"),
    [
        (lambda t: np.ones((t.n_query, 2)), "returned shape (4, 2); expected one value per query"),
        (lambda t: np.ones(t.n_query + 1), "returned shape (5,)"),
        (lambda t: 1.0, "returned shape ()"),
        (lambda t: np.full(t.n_query, np.nan), "returned nan for query 0; values must be finite"),
        (lambda t: ["a"] * t.n_query, "returned list, not numbers"),
        (lambda t: 1 / 0, "raised ZeroDivisionError"),
    ],
)
def test_a_bad_result_names_plugin_and_metric(returns, problem):
    task = MetricInputs.build(*_task(np.random.default_rng(1), 4, 10, 8, 3))
    with pytest.raises(PluginError) as err:
        per_query_values("toy_metrics", MetricSpec("bad@1", returns, "x"), task)
    assert "metric 'bad@1' of plugin 'toy_metrics'" in str(err.value)
    assert problem in str(err.value)


# --- runs through the CLI, with metric plugins registered in this process -------------------


@pytest.fixture
def with_plugins(monkeypatch):
    """Make the CLI's plugin manager also load the given plugin modules."""

    def install(*modules: types.ModuleType) -> None:
        import hashbench.cli.app as app

        def plugin_manager(block=()):
            pm = create_plugin_manager(block)
            for module in modules:
                pm.register(module, name=module.__name__)
            return pm

        monkeypatch.setattr(app, "create_plugin_manager", plugin_manager)

    return install


def test_a_broken_metric_fails_the_run_before_training(cli, with_plugins, monkeypatch):
    from hashbench_plugins.methods.baselines import LSH

    def fit(self, train):
        raise AssertionError("fit ran")

    monkeypatch.setattr(LSH, "fit", fit)
    with_plugins(_plugin("toy_metrics", MetricSpec("wide", lambda t: np.ones((t.n_query, 2)), "x")))
    result = cli("run", "--methods", "lsh", *SMALL)
    assert "1 failed" in result.output, result.output
    assert "metric 'wide' of plugin 'toy_metrics' returned shape (8, 2)" in result.output
    assert "fit ran" not in result.output


def test_plugin_metrics_change_no_run_id_and_no_code(cli, with_plugins, tmp_path):
    plain, scored = tmp_path / "plain.sqlite", tmp_path / "scored.sqlite"
    assert cli("run", "--methods", "lsh", *SMALL, "--store", str(plain)).exit_code == 0
    with_plugins(_plugin("toy_metrics", MetricSpec("ones", _ones, "always one")))
    assert cli("run", "--methods", "lsh", *SMALL, "--store", str(scored)).exit_code == 0
    with ResultStore(plain) as a, ResultStore(scored) as b:
        (before,), (after,) = a.records(), b.records()
        assert before.run_id == after.run_id
        assert before.codes_digest["sha256"] == after.codes_digest["sha256"]
        assert "ones" not in before.metrics["i2t"] and after.metrics["i2t"]["ones"] == 1.0
        arrays = b.load_arrays(after)  # checked against the row, per-query values included
    assert arrays["perquery.t2i.ones"].dtype == np.float32
    np.testing.assert_array_equal(arrays["perquery.t2i.ones"], 1.0)


def test_a_unimodal_run_scores_plugin_metrics_at_the_datasets_depth(cli, with_plugins):
    depth = MetricSpec("depth", lambda t: np.full(t.n_query, float(t.k)), "the task's k")
    hits = MetricSpec("hits@5", lambda t: t.ranked_relevance(5).sum(axis=1), "hits in top 5")
    with_plugins(_plugin("toy_metrics", depth, hits))
    args = ("--dataset", "synth-events", "--scale", "0.05", "--budget", "quick", "--bits", "16")
    assert cli("run", "--methods", "lsh", *args).exit_code == 0
    from hashbench.runner.recompute import stored_task_inputs
    from hashbench.store import default_store_path

    with ResultStore(default_store_path()) as results:
        (record,) = results.records()
        (inputs,) = stored_task_inputs(results, record).values()
    values = record.metrics["unimodal"]
    assert values["depth"] == 100.0 and "map@100" in values  # mAP@R, R = 100
    _, rel, order = _brute(*inputs)
    assert values["hits@5"] == pytest.approx(np.take_along_axis(rel, order, 1)[:, :5].sum(1).mean())


# --- the example package, installed for real ------------------------------------------------


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> Path:
    """Install examples/hashbench-example-metric into a folder only subprocesses see."""
    work = tmp_path_factory.mktemp("metric-plugin")
    shutil.copytree(EXAMPLE, work / "src")
    site = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
        + ["--no-build-isolation", "--target", str(site), str(work / "src")],
        check=True,
        capture_output=True,
        text=True,
    )
    return site


def _hashbench(site: Path, store: Path, *args: str) -> subprocess.CompletedProcess:
    env = subprocess_env(PYTHONPATH=str(site), HASHBENCH_STORE=str(store))
    return subprocess.run(
        [sys.executable, "-m", "hashbench", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _by_hand(store: Path) -> dict[tuple[str, str, int], dict[str, np.ndarray]]:
    """(task, method, seed) -> the example's per-query values from the stored codes."""
    from hashbench.runner.recompute import stored_task_inputs

    out = {}
    with ResultStore(store) as results:
        for record in results.records():
            for task, inputs in stored_task_inputs(results, record).items():
                out[(task, record.method, record.seed)] = _hand_scores(*inputs)
    return out


@pytest.mark.slow  # several runs and processes: about 20 s of CPU
def test_the_example_metric_plugin_end_to_end(installed_example, tmp_path, cli):
    store = tmp_path / "s.sqlite"
    listed = _hashbench(installed_example, store, "list", "metrics")
    assert listed.returncode == 0, listed.stderr
    assert "hitrate@10" in listed.stdout and "(plugin example_metric)" in listed.stdout
    # worker processes load the plugins themselves: the metric reaches them too
    run = _hashbench(
        installed_example, store, "run", "--methods", "lsh,cca-itq", *SMALL, "--seeds", "0,1",
        "--executor", "process", "--workers", "1",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    hand = _by_hand(store)
    with ResultStore(store) as results:
        for record in results.records():
            arrays = results.load_arrays(record)
            for task in ("i2t", "t2i"):
                for name, values in hand[(task, record.method, record.seed)].items():
                    stored = arrays[f"perquery.{task}.{name}"]
                    np.testing.assert_allclose(stored, values, rtol=1e-6)
                    assert record.metrics[task][name] == pytest.approx(values.mean())
    # tables, CSV and statistics read it like a built-in metric, with no plugin installed
    stats = ("--ci", "--significance", "--resamples", "2000")
    shown = cli("table", "--store", str(store), "--metric", "hitrate@10", *stats)
    assert shown.exit_code == 0 and "hitrate@10" in shown.output, shown.output
    table = cli("table", "--store", str(store), "--metric", "mrr", "--csv", *stats)
    assert table.exit_code == 0, table.output
    rows = list(csv.DictReader(io.StringIO(table.output)))
    assert len(rows) == 4 and {r["metric"] for r in rows} == {"mrr"}
    for row in rows:
        seeds = [hand[(row["task"], row["method"], s)]["mrr"].mean() for s in (0, 1)]
        assert float(row["mean"]) == pytest.approx(np.mean(seeds), rel=1e-6)
        assert float(row["ci_low"]) <= float(row["mean"]) <= float(row["ci_high"])
        assert row["letters"]  # the query-level test ran on the stored per-query values
    wrong = cli("table", "--store", str(store), "--metric", "hitrat@10")
    assert wrong.exit_code != 0 and "hitrate@10" in wrong.output and "mrr" in wrong.output
    site = tmp_path / "site"
    report = cli("report", "--store", str(store), "--metric", "mrr", "--out", str(site), "--ci")
    assert report.exit_code == 0, report.output
    page = (site / "index.html").read_text()
    assert "Metric: <b>mrr</b>" in page
    assert f"{float(rows[0]['mean']):.4f}" in page


def test_rescore_adds_the_example_metric_to_runs_stored_before_it(
    installed_example, tmp_path, cli, monkeypatch
):
    store = tmp_path / "s.sqlite"
    assert cli("run", "--methods", "lsh", *SMALL, "--store", str(store)).exit_code == 0
    with ResultStore(store) as results:
        (before,) = results.records()
    assert "mrr" not in before.metrics["i2t"]
    monkeypatch.syspath_prepend(str(installed_example))  # now installed: its entry point loads
    dry = cli("rescore", "--dry-run", "--store", str(store))
    assert "would rescore: 1 run(s)" in dry.output and "without hitrate@10, mrr" in dry.output
    done = cli("rescore", "--store", str(store))
    assert done.exit_code == 0 and "rescored 1 run(s)" in done.output, done.output
    assert "nothing to rescore" in cli("rescore", "--dry-run", "--store", str(store)).output
    hand = _by_hand(store)
    with ResultStore(store) as results:
        (after,) = results.records()
        arrays = results.load_arrays(after)
    assert (after.run_id, after.codes_digest["sha256"]) == (
        before.run_id,
        before.codes_digest["sha256"],
    )
    for task in ("i2t", "t2i"):
        assert after.metrics[task]["map@50"] == before.metrics[task]["map@50"]
        for name, values in hand[(task, "lsh", 0)].items():
            np.testing.assert_allclose(arrays[f"perquery.{task}.{name}"], values, rtol=1e-6)
            assert after.metrics[task][name] == pytest.approx(values.mean())
