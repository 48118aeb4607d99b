"""Per-query scores stored with every run (and recomputed for older runs), and the commands
that show the statistics: `hashbench table --ci --significance`, `hashbench compare`."""

from __future__ import annotations

import csv
import io
import itertools
import json

import numpy as np
import pytest

from hashbench import metrics


def _ap_like(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.beta(0.6, 0.7, size=n)


# --- per-query scores stored with every run ------------------------------------------------

SMALL_RUN = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick")


def test_runs_store_per_query_scores_and_older_runs_recompute_them(cli, tmp_path):
    from hashbench.runner.recompute import per_query_scores, stored_per_query
    from hashbench.store import ResultStore

    store_path = tmp_path / "hb.sqlite"
    result = cli("run", "--methods", "lsh", *SMALL_RUN, "--bits", "16", "--store", str(store_path))
    assert result.exit_code == 0, result.output
    with ResultStore(store_path) as store:
        (record,) = store.records()
        stored = per_query_scores(store, record, "map@50")
        assert set(stored) == {"i2t", "t2i"}
        for task, values in stored.items():
            assert values.dtype == np.float32 and values.shape == (100,)
            assert values.mean() == pytest.approx(record.metrics[task]["map@50"], abs=1e-6)
        # a run stored before per-query scores were kept: recomputed from its codes
        path = store.path.parent / record.codes_path
        with np.load(path) as data:
            kept = {k: data[k] for k in data.files if not k.startswith("perquery.")}
        np.savez(path, **kept)
        assert stored_per_query(store, record, "map@50") == {}
        again = per_query_scores(store, record, "map@50")
        assert per_query_scores(store, record, "map@50", recompute_missing=False) == {}
        for task in stored:
            np.testing.assert_allclose(again[task], stored[task], atol=1e-6)
        store.load_arrays(record)  # the codes checksum does not cover per-query scores
        # a metric outside the standard set is recomputed too
        p10 = per_query_scores(store, record, "p@10")
        assert p10["i2t"].mean() == pytest.approx(
            metrics.compute("p@10", *_inputs(store, record)["i2t"]), abs=1e-6
        )


def _inputs(store, record):
    from hashbench.runner.recompute import stored_task_inputs

    return stored_task_inputs(store, record)


# --- end to end: hashbench table --ci --significance, hashbench compare --------------------


def _planted_store(path, n=300, seeds=(0,), seed_sd=0.0):
    """Runs of a, b, c on one cell with stored per-query AP@50: a and b drawn from one
    distribution (different noise), c 0.1 lower; each seed adds a training offset of sd
    seed_sd. Returns the first seed's values."""
    from hashbench.store import ResultStore, RunRecord

    rng = np.random.default_rng(13)
    base = _ap_like(rng, n)
    shifts = {"a": 0.0, "b": 0.0, "c": -0.1}
    first = {}
    with ResultStore(path) as store:
        for (method, shift), seed in itertools.product(shifts.items(), seeds):
            offset = rng.normal(0, seed_sd) if seed_sd else 0.0
            v = np.clip(base + shift + offset + rng.normal(0, 0.05, n), 0, 1)
            first.setdefault(method, v)
            record = RunRecord(
                run_id=f"{method}-run-{seed}",
                method=method,
                dataset="planted",
                dataset_fingerprint="f",
                bits=32,
                seed=seed,
                budget="quick",
                params={},
                pair_fused=False,
                metrics={"i2t": {"map@50": float(v.astype(np.float32).mean())}},
                timings={},
                provenance={},
            )
            arrays = {
                "codes.query.image": np.zeros((n, 4), np.uint8),
                "perquery.i2t.map@50": v.astype(np.float32),
            }
            store.save(record, arrays)
    return first


def test_table_ci_significance_shares_marks_end_to_end(cli, tmp_path):
    path = tmp_path / "planted.sqlite"
    values = _planted_store(path)
    out = cli("table", "--store", str(path), "--ci", "--significance", "--latex")
    assert out.exit_code == 0, out.output
    lines = {line.split("&")[1].strip(): line for line in out.output.splitlines() if "& " in line}
    assert r"\textbf{" in lines["a"] and r"\textbf{" in lines["b"]  # not separable: shared
    assert r"\underline{" in lines["c"]
    assert r"{\scriptsize $\pm$" in lines["a"]
    for word in ("bootstrap", "Holm", "alpha = 0.05", "10,000 resamples", "BCa", "query-level"):
        assert word in out.output
    csv_out = cli("table", "--store", str(path), "--ci", "--significance", "--csv").output
    header, *rows = csv_out.strip().splitlines()
    assert "ci_low,ci_high,p_adjusted,all_codes_identical,letters,marks,p_versus" in header
    row_a = dict(zip(header.split(","), rows[0].split(","), strict=True))
    assert float(row_a["ci_low"]) < values["a"].mean() < float(row_a["ci_high"])
    assert row_a["letters"] == "a" and row_a["p_versus"] == "b" and float(row_a["p_mc_se"]) > 0
    # the test over seeds cannot separate anything with one seed, and says so
    seeds = cli("table", "--store", str(path), "--significance", "seeds", "--markdown")
    assert seeds.output.count("**0.") == 0 and "fewer than 2 seeds" in seeds.output
    plain = cli("table", "--store", str(path), "--markdown").output
    assert plain.count("**0.") == 1  # without the test the display rank bolds a alone


def test_compare_end_to_end(cli, tmp_path):
    path = tmp_path / "planted.sqlite"
    values = _planted_store(path)
    out = cli(
        "compare",
        "a",
        "c",
        "--dataset",
        "planted",
        "--bits",
        "32",
        "--store",
        str(path),
        "--json",
    )
    assert out.exit_code == 0, out.output
    found = json.loads(out.output)["tasks"]["i2t"]
    d = values["a"].astype(np.float32).astype(np.float64) - values["c"].astype(np.float32)
    assert found["difference"] == pytest.approx(d.mean(), abs=1e-6)
    assert found["low"] < found["difference"] < found["high"]
    assert found["pvalue"] < 1e-3 and found["agree"] and found["mc_se"] < 1e-3
    assert found["effect_size"] == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-4)
    text = cli("compare", "a", "b", "--dataset", "planted", "--bits", "32", "--store", str(path))
    assert "Image -> Text" in text.output and "effect d_z" in text.output
    assert "query-level" in text.output  # one seed per side: training seeds not covered
    missing = cli(
        "compare", "a", "zz", "--dataset", "planted", "--bits", "32", "--store", str(path)
    )
    assert missing.exit_code != 0 and "no finished runs of 'zz'" in missing.output


def test_three_seeds_enter_table_and_compare(cli, tmp_path):
    path = tmp_path / "seeds.sqlite"
    _planted_store(path, seeds=(0, 1, 2), seed_sd=0.005)
    out = cli("table", "--store", str(path), "--ci", "--significance", "--csv")
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    letters = {r["method"]: r["letters"] for r in rows}
    assert letters["a"] == letters["b"] == "a" and letters["c"] == "b"
    assert {r["seeds"] for r in rows} == {"3"} and all(float(r["p_mc_se"]) >= 0 for r in rows)
    text = cli("table", "--store", str(path), "--significance", "--markdown").output
    assert "query-level" not in text and "^a" in text
    cmp = cli("compare", "a", "c", "--dataset", "planted", "--bits", "32", "--store", str(path),
              "--json")  # fmt: skip
    found = json.loads(cmp.output)["tasks"]["i2t"]
    assert found["seeds_a"] == [0, 1, 2] and found["agree"] and found["pvalue"] < 0.05
    assert found["low"] > 0 and found["df"] < 100  # the seed part counts, with few df
    one = cli("compare", "a", "c", "--dataset", "planted", "--bits", "32", "--store", str(path))
    assert "query-level" not in one.output


def test_table_ci_and_compare_on_real_runs(cli, tmp_path):
    path = tmp_path / "hb.sqlite"
    args = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick")
    ran = cli("run", "--methods", "lsh,cca-itq", *args, "--bits", "16", "--store", str(path))
    assert ran.exit_code == 0, ran.output
    out = cli("table", "--store", str(path), "--ci", "--significance", "--markdown")
    assert out.exit_code == 0, out.output
    assert out.output.count(" ±0.") == 4 and "bootstrap" in out.output
    cmp = cli(
        "compare",
        "cca-itq",
        "lsh",
        "--dataset",
        "synth-mirflickr@0.05",
        "--bits",
        "16",
        "--store",
        str(path),
    )
    assert cmp.exit_code == 0 and "Text -> Image" in cmp.output


# --- too few queries: n/a, and why (issue 27) ------------------------------------------------


def test_statistics_on_too_few_queries_are_na_with_the_reason(cli, tmp_path):
    from hashbench.stats import MIN_QUERIES

    path = tmp_path / "few.sqlite"
    _planted_store(path, n=3)
    args = ("--dataset", "planted", "--bits", "32", "--store", str(path))
    found = json.loads(cli("compare", "a", "c", *args, "--json").output)
    task = found["tasks"]["i2t"]
    assert task["low"] is None and task["pvalue"] is None and task["effect_size"] is None
    assert task["n_queries"] == 3 and found["min_queries"] == MIN_QUERIES == 10
    assert "at least 10 queries" in found["not_available"]["i2t"]
    text = cli("compare", "a", "c", *args)
    assert text.exit_code == 0 and "inf" not in text.output and "±0.0000" not in text.output
    assert "n/a" in text.output and "at least 10 queries" in text.output
    table = cli("table", "--store", str(path), "--ci", "--significance", "--markdown")
    assert table.exit_code == 0, table.output
    assert table.output.count("±n/a") == 3 and "**" not in table.output.split("\n\n")[0]
    assert "fewer than the 10" in table.output
    csv_out = cli("table", "--store", str(path), "--ci", "--csv").stdout
    assert all(",n/a,n/a," in row for row in csv_out.strip().splitlines()[1:])
    latex = cli("table", "--store", str(path), "--ci", "--latex").output
    assert r"$\pm$n/a" in latex and "fewer than the 10" in latex
    enough = cli("table", "--store", str(tmp_path / "x.sqlite"))  # unrelated: no store
    assert enough.exit_code != 0
