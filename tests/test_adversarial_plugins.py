"""Plugins that break the contract on purpose, run in a sweep before clean methods: the bad run
fails with a reason naming it, and the later methods' stored results equal a clean store's.
Also: a method whose codes are all the same is counted and warned about.

The toys (tests/adversarial_toys.py) are installed as a real plugin (an entry point on
sys.path), so the CLI and the process executor's spawned workers both load them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashbench.codes import pack_codes
from hashbench.errors import PluginError
from hashbench.runner import epochs
from hashbench.runner.dataset_guard import DatasetKeeper, content_digest
from hashbench.runner.execute import distinct_rows
from hashbench.store import ResultStore
from tests.adversarial_toys import installed

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--bits", "16", "--budget", "quick")
CLEAN = "lsh,cca-itq"


@pytest.fixture
def toys(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(installed(tmp_path / "site")))


def _stored(path: Path) -> dict[str, tuple]:
    """run id -> (method, status, metrics) of every row."""
    with ResultStore(path) as store:
        done = {r.run_id: (r.method, r.status, r.metrics) for r in store.records()}
        failed = {r.run_id: (r.method, r.status, r.error) for r in store.failures()}
    return {**done, **failed}


@pytest.fixture(scope="module")
def clean_store(tmp_path_factory, cache_dir) -> dict[str, tuple]:
    """lsh and cca-itq alone (no toy installed), in this process."""
    from click.testing import CliRunner

    from hashbench.cli import main

    path = tmp_path_factory.mktemp("clean") / "clean.sqlite"
    with pytest.MonkeyPatch.context() as env:  # the autouse isolation is per test, not module
        env.setenv("HASHBENCH_CACHE", str(cache_dir))
        env.delenv("HASHBENCH_BLOCK_PLUGINS", raising=False)
        args = ["run", "--methods", CLEAN, *SMALL, "--store", str(path)]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return _stored(path)


def _check_sweep(result, path: Path, clean: dict, bad: str, reason: str) -> None:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert reason in result.output
    rows = _stored(path)
    (failed,) = [v for v in rows.values() if v[0] == bad]
    assert failed[1] == "failed" and reason in failed[2].strip().splitlines()[-1]
    later = {run_id: v for run_id, v in rows.items() if v[0] != bad}
    assert later == clean  # same run ids, all done, the very same metrics


@pytest.mark.parametrize("executor", ["local", "process"])
def test_a_plugin_that_rewrites_the_dataset_object_poisons_nothing(
    cli, toys, tmp_path, clean_store, executor
):
    path = tmp_path / "s.sqlite"
    result = cli(
        "run", "--methods", f"toy-poison,{CLEAN}", *SMALL, "--store", str(path),
        "--executor", executor, "--workers", "1",
    )  # fmt: skip
    reason = "method 'toy-poison' changed the dataset object in place"
    _check_sweep(result, path, clean_store, "toy-poison", reason)
    assert "query labels" in result.output and "retrieval labels" in result.output


def test_nonsense_reported_to_epoch_end_fails_that_run_only(cli, toys, tmp_path, clean_store):
    path = tmp_path / "s.sqlite"
    result = cli("run", "--methods", f"toy-nonsense-epochs,{CLEAN}", *SMALL, "--store", str(path))
    reason = "method 'toy-nonsense-epochs' made a bad epoch_end call: epoch=-1, epochs=3"
    _check_sweep(result, path, clean_store, "toy-nonsense-epochs", reason)


def test_a_study_with_a_bad_epoch_end_fails_cleanly_and_can_be_rerun(cli, toys, tmp_path):
    store = str(tmp_path / "s.sqlite")
    args = ("tune", "--methods", "toy-nonsense-epochs", *SMALL, "--trials", "2", "--store", store)
    for _ in range(2):  # the rerun replays the failed trials: no crash
        result = cli(*args)
        assert result.exit_code != 0
        assert "internal error" not in result.output and "Traceback" not in result.output
        assert "all 2 trials failed" in result.output
        assert "made a bad epoch_end call: epoch=-1" in result.output


def test_a_stored_trial_with_an_unusable_curve_does_not_block_its_study(
    cli, toys, tmp_path, monkeypatch
):
    """Trials stored before epoch_end was checked hold curves like [(-1, 0.4)], which Optuna
    refuses ("step=-1 must be non-negative"): the replay tells them as failed instead."""
    store = str(tmp_path / "s.sqlite")
    args = ("tune", "--methods", "toy-nonsense-epochs", *SMALL, "--trials", "2", "--store", store)
    with monkeypatch.context() as old:  # the harness as it was: no check of the arguments
        old.setattr(epochs.EpochMonitor, "_problem", lambda self, *args: None, raising=False)
        cli(*args)
    with ResultStore(store) as results:
        curves = [r.metrics.get("validation_curve") for r in results.records(protocol="trial")]
    assert curves and all(c and c[0][0] == -1 for c in curves)
    result = cli(*args)
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert "has an unusable validation curve (epoch -1)" in result.output


def test_all_identical_codes_are_counted_and_warned_about(cli, toys, tmp_path):
    path = tmp_path / "s.sqlite"
    result = cli("run", "--methods", "toy-constant,lsh", *SMALL, "--store", str(path))
    assert result.exit_code == 0, result.output
    with ResultStore(path) as store:
        runs = {r.method: r.metrics for r in store.records()}
    for task in ("i2t", "t2i"):
        assert runs["toy-constant"][task]["distinct_query_codes"] == 1
        assert runs["toy-constant"][task]["distinct_retrieval_codes"] == 1
        assert runs["lsh"][task]["distinct_query_codes"] > 1
        assert runs["lsh"][task]["distinct_retrieval_codes"] > 1
    done = [line for line in result.output.splitlines() if line.split()[1:2] == ["done"]]
    (constant,) = [line for line in done if "toy-constant /" in line]
    assert "WARNING: one distinct code in i2t query, i2t retrieval" in constant
    assert not [line for line in done if "lsh /" in line and "WARN" in line]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 40).flatmap(
        lambda n: st.tuples(
            st.just(n), st.integers(1, 130), st.integers(1, 4), st.integers(0, 2**32 - 1)
        )
    )
)
def test_distinct_rows_counts_the_different_codes(case):
    n, bits, variety, seed = case
    rng = np.random.default_rng(seed)
    pool = np.where(rng.random((variety, bits)) < 0.5, 1, -1).astype(np.int8)
    codes = pool[rng.integers(0, variety, n)] if n else np.zeros((0, bits), np.int8)
    want = len(np.unique(codes, axis=0)) if n else 0
    assert distinct_rows(pack_codes(codes)) == want


# --- the dataset check itself ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    from hashbench.testing import tiny_dataset

    return tiny_dataset()


def _copy(dataset):
    from dataclasses import replace

    def split(s):
        features = {m: x.copy() for m, x in s.features.items()}
        return replace(s, features=features, labels=s.labels.copy())

    return replace(
        dataset, train=split(dataset.train), query=split(dataset.query),
        retrieval=split(dataset.retrieval),
    )  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_changed_byte_or_moved_row_changes_the_digest(tiny, data):
    copy = _copy(tiny)
    before = content_digest(copy)
    split_name = data.draw(st.sampled_from(["train", "query", "retrieval"]))
    split = getattr(copy, split_name)
    part = data.draw(st.sampled_from([*sorted(split.features), "labels"]))
    array = split.labels if part == "labels" else split.features[part]
    raw = array.reshape(-1).view(np.uint8)
    if data.draw(st.booleans()):  # one byte
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    else:  # two different rows swapped
        i, j = data.draw(st.lists(st.integers(0, len(array) - 1), min_size=2, max_size=2))
        if np.array_equal(array[i], array[j]):
            return
        array[[i, j]] = array[[j, i]]
    changed = content_digest(copy).changed(before)
    name = f"{split_name} labels" if part == "labels" else f"{split_name} {part} features"
    assert changed == [name]


def test_the_keeper_reloads_a_changed_dataset_for_the_next_run(tiny):
    keeper = DatasetKeeper()
    first = _copy(tiny)
    shared = {"d": first}
    dataset, digest = keeper.clean(first, lambda: _copy(tiny), shared, "d")
    assert dataset is first
    first.query.labels[:] = 1  # a run changed it
    keeper.after_run(first, unchanged=False)
    dataset, again = keeper.clean(first, lambda: _copy(tiny), shared, "d")
    assert dataset is not first and again == digest and shared["d"] is dataset
    assert content_digest(dataset) == digest
    keeper.after_run(dataset, unchanged=True)
    assert keeper.clean(first, lambda: None, shared, "d") == (dataset, digest)  # no reload
    dataset.retrieval.labels[:] = 1
    keeper.after_run(dataset, unchanged=False)
    # the reload must match the data the sweep started with (else its files or cache changed)
    with pytest.raises(PluginError, match="reloading it gives other data"):
        keeper.clean(first, lambda: first, shared, "d")
