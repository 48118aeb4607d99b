"""Rows scored before ties became "expected" are told apart, named on every table, and rescored.

End to end through the CLI: a store is built, its rows are rewritten as the previous version
stored them (index-tie scores under the same keys, no scoring marker, per-query values of the
index order), `table` / `compare` / `report` warn and name `hashbench rescore`, and after it
every number equals the fresh run's again.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import hashbench.metrics as M
from hashbench.runner.recompute import PER_QUERY_PREFIX, task_inputs
from hashbench.runner.rescore import is_stale, stale
from hashbench.store import ResultStore, default_store_path

SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick")
# keys the old version stored under index ties (the bounds were tie-order specific already)
OLD_INDEX_KEYS = ("map@50", "map@all", "acg@50", "ndcg@50")


def _as_old_version(store: ResultStore, record):
    """The record and arrays as the version before the marker stored them."""
    arrays = store.load_arrays(record)
    inputs = task_inputs(arrays, record)
    old_metrics = {k: v for k, v in record.metrics.items() if k != "scoring"}
    old_arrays = dict(arrays)
    for task, args in inputs.items():
        values = dict(record.metrics[task])
        values.pop("map@50:index")
        for key in OLD_INDEX_KEYS:
            values[key] = M.compute(key, *args, ties="index")
            pq = M.compute_per_query(key, *args, ties="index").astype(np.float32)
            old_arrays[f"{PER_QUERY_PREFIX}{task}.{key}"] = pq
        values["curves"] = {**values["curves"], "pk": M.compute("pk", *args, ties="index")}
        old_arrays.pop(f"{PER_QUERY_PREFIX}{task}.map@50:index")
        old_metrics[task] = values
    return replace(record, metrics=old_metrics), old_arrays


def _numbers(record) -> dict:
    return {t: v for t, v in record.metrics.items() if isinstance(v, dict)}


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return abs(a - b) <= 1e-12
    return a == b


def test_old_rows_are_flagged_and_rescored_to_the_fresh_numbers(cli, tmp_path):
    assert cli("run", "--methods", "lsh,cca-itq", *SMALL, "--bits", "16,32").exit_code == 0
    path = default_store_path()
    with ResultStore(path) as store:
        fresh = {r.run_id: r for r in store.records()}
        fresh_arrays = {rid: store.load_arrays(r) for rid, r in fresh.items()}
        assert len(fresh) == 4
        assert all(r.metrics["scoring"] == M.SCORING for r in fresh.values())
        assert not stale(fresh.values())
        for record in fresh.values():
            store.save(*_as_old_version(store, record))
        old = {r.run_id: r for r in store.records()}
    assert all(is_stale(r) for r in old.values())
    # the rewrite has teeth: index-tie values differ from the expected ones somewhere
    assert any(
        abs(old[rid].metrics[t]["map@50"] - fresh[rid].metrics[t]["map@50"]) > 1e-9
        for rid in fresh
        for t in ("i2t", "t2i")
    )

    table = cli("table")
    assert table.exit_code == 0
    assert "4 run(s) shown were scored under an older convention" in table.output
    assert "hashbench rescore" in table.output
    compare = cli("compare", "lsh", "cca-itq", "--dataset", "synth-mirflickr@0.05", "--bits",
                  "16", "--resamples", "200")
    assert "hashbench rescore" in compare.output, compare.output
    report = cli("report", "--out", str(tmp_path / "site"))
    assert report.exit_code == 0 and "hashbench rescore" in report.output

    dry = cli("rescore", "--dry-run")
    assert dry.exit_code == 0 and "would rescore: 4 run(s)" in dry.output
    with ResultStore(path) as store:
        assert all(is_stale(r) for r in store.records())  # a dry run changes nothing

    done = cli("rescore")
    assert done.exit_code == 0 and "rescored 4 run(s)" in done.output, done.output
    with ResultStore(path) as store:
        after = {r.run_id: r for r in store.records()}
        assert after.keys() == fresh.keys()
        for rid, record in after.items():
            assert record.metrics["scoring"] == M.SCORING
            assert _same(_numbers(record), _numbers(fresh[rid])), rid
            arrays = store.load_arrays(record)  # verified against the new checksums
            assert arrays.keys() == fresh_arrays[rid].keys()
            for name, value in fresh_arrays[rid].items():
                assert np.array_equal(arrays[name], value), (rid, name)
    assert "older convention" not in cli("table").output
    assert "nothing to rescore: 0 run(s)" in cli("rescore").output


def test_eval_defaults_to_expected_and_names_the_index_order(cli):
    assert cli("run", "--methods", "lsh", *SMALL, "--bits", "16").exit_code == 0
    with ResultStore(default_store_path()) as store:
        (record,) = store.records()
    import json

    def values(*args):
        result = cli("eval", "--run", record.run_id, "--json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)[0]["values"]

    for task, value in values().items():
        assert abs(value - record.metrics[task]["map@50"]) < 1e-12
    for args in (("--metric", "map@50:index"), ("--metric", "map@50", "--ties", "index")):
        for task, value in values(*args).items():
            assert abs(value - record.metrics[task]["map@50:index"]) < 1e-12
    dcmh = values("--metric", "map@50", "--convention", "dcmh")
    assert dcmh == values("--metric", "map@50:dcmh", "--ties", "index")
    refused = cli("eval", "--run", record.run_id, "--convention", "dcmh", "--ties", "expected")
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert "not available for the dcmh convention" in refused.output


def test_rescore_reproduces_a_unimodal_run_with_its_label_groups(tmp_path):
    """mAP@R, mAP@top_k and the per-group values come back from the stored codes alone."""
    from hashbench_plugins.methods.baselines import LSH

    from hashbench.runner.rescore import rescore
    from hashbench.testing import run_tiny, tiny_unimodal_dataset

    record, arrays = run_tiny(LSH, bits=16, dataset=tiny_unimodal_dataset())
    values = record.metrics["unimodal"]
    assert values["groups"] and any(k.startswith("map@") and ":" not in k for k in values)
    with ResultStore(tmp_path / "store.sqlite") as store:
        store.save(record, arrays)
        (fresh,) = store.records()
        fresh_arrays = store.load_arrays(fresh)
        old_values = {k: (v + 0.25 if isinstance(v, float) else v) for k, v in values.items()}
        old_values["groups"] = {
            n: {**g, "map@all": g["map@all"] + 0.25} for n, g in values["groups"].items()
        }
        old = replace(fresh, metrics={"unimodal": old_values})  # no marker, other numbers
        old_arrays = {k: v for k, v in fresh_arrays.items() if not k.startswith(PER_QUERY_PREFIX)}
        store.save(old, old_arrays)
        (stored_old,) = store.records()
        assert is_stale(stored_old)
        rescore(store, stored_old)
        (after,) = store.records()
        assert not is_stale(after)
        assert _same(_numbers(after), _numbers(fresh))
        got = store.load_arrays(after)
        assert got.keys() == fresh_arrays.keys()
        assert all(np.array_equal(got[k], v) for k, v in fresh_arrays.items())


def test_only_scored_rows_without_todays_marker_are_stale():
    from hashbench.store import RunRecord

    def record(metrics):
        return RunRecord(run_id="r", method="m", dataset="d", dataset_fingerprint="f", bits=16,
                         seed=0, budget="quick", params={}, pair_fused=False, metrics=metrics,
                         timings={}, provenance={})

    scored = {"i2t": {"map@50": 0.5, "curves": {}}}
    assert is_stale(record(scored))
    assert is_stale(record({**scored, "scoring": "ties=index"}))
    assert not is_stale(record({**scored, "scoring": M.SCORING}))
    pruned = {"validation_curve": [[0, 0.4]], "pruned": {"score": 0.4}}  # a pruned trial
    assert not is_stale(record(pruned))
    fresh = record({**scored, "scoring": M.SCORING})
    assert len(stale([record(scored), record(pruned), fresh])) == 1


def test_rescore_goes_on_past_a_run_whose_codes_are_gone_and_fails_at_the_end(cli):
    assert cli("run", "--methods", "lsh", *SMALL, "--bits", "16,32").exit_code == 0
    path = default_store_path()
    with ResultStore(path) as store:
        for record in store.records():
            store.save(*_as_old_version(store, record))
        first, second = store.records()
    (path.parent / first.codes_path).unlink()
    result = cli("rescore")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"not rescored {first.run_id}" in result.output
    assert "1 run(s) could not be rescored" in result.output
    with ResultStore(path) as store:
        after = {r.run_id: r for r in store.records()}
    assert is_stale(after[first.run_id]) and not is_stale(after[second.run_id])
