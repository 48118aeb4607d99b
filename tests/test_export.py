"""`hashbench export`: per-run JSON files that validate against the shipped schema, a parquet
table with the numbers `hashbench table --csv` shows, a round trip back to the store's records
(`iter_exported`, what `hashbench merge` reads), tampering refused, bad input refused."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from hashbench.errors import InputError
from hashbench.export import EXPORT_SCHEMA_VERSION, iter_exported, load_schema
from hashbench.export.document import record_from_object, record_object
from hashbench.store import ResultStore, RunRecord
from hashbench.store.records import COLUMNS, row_digest, to_row

GRID = (
    "--methods", "lsh,cca-itq", "--dataset", "synth-mirflickr", "--scale", "0.05",
    "--bits", "16,32", "--seeds", "0,1", "--budget", "quick",
)  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory, cache_dir) -> Path:
    """A small store: lsh and cca-itq, 16 and 32 bits, seeds 0 and 1 (8 runs, about 10 s)."""
    from click.testing import CliRunner

    from hashbench.cli import main

    path = tmp_path_factory.mktemp("export-store") / "hb.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HASHBENCH_CACHE", str(cache_dir))
        done = CliRunner().invoke(main, ["run", *GRID, "--store", str(path)])
    assert done.exit_code == 0, done.output
    return path


def _export(cli, store: Path, out: Path, *args: str):
    return cli("export", str(out), "--store", str(store), *args)


def _refused(result, *fragments: str) -> None:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def _stored(store: Path, **filters) -> list[RunRecord]:
    with ResultStore(store, readonly=True) as results:
        return results.records(**filters)


# --- the schema -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["run-v1.schema.json", "manifest-v1.schema.json"])
def test_the_shipped_schemas_are_valid_draft_2020_12(name):
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f":v{EXPORT_SCHEMA_VERSION}")
    assert schema["properties"]["schema_version"]["const"] == EXPORT_SCHEMA_VERSION


def test_the_record_in_the_schema_has_every_store_column():
    record = load_schema()["$defs"]["record"]
    assert set(record["required"]) == set(COLUMNS) == set(record["properties"])


def test_every_exported_file_validates_against_its_schema(cli, store, tmp_path):
    out = tmp_path / "out"
    result = _export(cli, store, out, "--with-codes")
    assert result.exit_code == 0, result.output
    assert f"exported 8 runs (8 with codes) to {out}" in result.output
    runs = Draft202012Validator(load_schema())
    documents = sorted((out / "runs").glob("*.json"))
    assert len(documents) == 8
    for path in documents:
        document = json.loads(path.read_text())
        assert not list(runs.iter_errors(document)), path
        assert document["scores"]["i2t"]["map@50"] > 0
        assert set(document["per_query"]) == {"i2t", "t2i"}
    manifest = json.loads((out / "manifest.json").read_text())
    Draft202012Validator(load_schema("manifest-v1.schema.json")).validate(manifest)
    assert manifest["runs"] == manifest["runs_with_codes"] == 8
    assert set(manifest["files"]) == {
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
    } - {"manifest.json"}


# --- round trip -------------------------------------------------------------------------------


def test_round_trip_with_codes_gives_the_stores_records_and_arrays(cli, store, tmp_path):
    out = tmp_path / "out"
    assert _export(cli, store, out, "--with-codes").exit_code == 0
    exported = list(iter_exported(out))
    with ResultStore(store, readonly=True) as results:
        stored = {r.run_id: r for r in results.records()}
        assert [e.record.run_id for e in exported] == sorted(stored)
        for run in exported:
            original = stored[run.record.run_id]
            assert run.record == original
            assert row_digest(to_row(run.record)) == original.row_digest
            assert run.source == f"export folder {out}, file runs/{original.run_id}.json"
            arrays = results.load_arrays(original)
            assert run.arrays is not None and set(run.arrays) == set(arrays)
            for name, array in arrays.items():
                assert run.arrays[name].dtype == array.dtype
                np.testing.assert_array_equal(run.arrays[name], array)


def test_without_codes_the_records_come_back_with_summaries_but_no_arrays(cli, store, tmp_path):
    out = tmp_path / "out"
    result = _export(cli, store, out, "--format", "json")
    assert result.exit_code == 0 and "(0 with codes)" in result.output
    assert not (out / "codes").exists() and not (out / "results.parquet").exists()
    exported = list(iter_exported(out))
    assert [e.record for e in exported] == sorted(_stored(store), key=lambda r: r.run_id)
    assert all(e.arrays is None for e in exported)
    with ResultStore(store, readonly=True) as results:  # summaries of the stored values
        record = results.records()[0]
        values = results.load_arrays(record)["perquery.t2i.map@50"].astype(np.float64)
    summary = json.loads((out / "runs" / f"{record.run_id}.json").read_text())["per_query"]
    got = summary["t2i"]["map@50"]
    assert got["n"] == values.size
    assert got["mean"] == float(values.mean()) and got["median"] == float(np.median(values))
    assert got["std"] == float(values.std()) and got["max"] == float(values.max())


# --- the parquet table against `hashbench table --csv` ----------------------------------------


@pytest.mark.parametrize(
    "filters", [(), ("--methods", "lsh", "--bits", "32")], ids=["all", "filtered"]
)
def test_parquet_reads_back_to_the_numbers_of_table_csv(cli, store, tmp_path, filters):
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    assert _export(cli, store, out, "--format", "parquet", *filters).exit_code == 0
    assert (
        pq.read_schema(out / "results.parquet").metadata[b"hashbench.export.schema_version"]
        == str(EXPORT_SCHEMA_VERSION).encode()
    )
    frame = _parquet_equals_table_csv(cli, store, out, filters, seeds=2)
    runs = {json.loads(meta)["run_id"] for meta in frame["run"]}
    assert runs == set(frame["run_id"])
    assert all(json.loads(m)["bits"] == b for m, b in zip(frame["run"], frame["bits"], strict=True))


def test_parquet_keeps_two_settings_of_one_method_apart_as_the_table_does(cli, tmp_path):
    """cca-itq at its defaults and with ridge=1.0: two rows of `table`, two `setting`s here."""
    path = tmp_path / "s.sqlite"
    grid = ("run", "--methods", "cca-itq", *GRID[2:6], *GRID[8:], "--bits", "16")
    grid += ("--store", str(path))
    assert cli(*grid).exit_code == 0 and cli(*grid, "--param", "cca-itq.ridge=1.0").exit_code == 0
    out = tmp_path / "out"
    assert _export(cli, path, out, "--format", "parquet").exit_code == 0
    frame = _parquet_equals_table_csv(cli, path, out, (), seeds=2)
    assert sorted(set(frame["setting"])) == ["cca-itq", "cca-itq [ridge=1.0]"]


def _parquet_equals_table_csv(cli, store: Path, out: Path, filters: tuple, seeds: int):
    """Every cell of `table --csv` (mean, std, seed count over a row's runs) is the same number
    computed from the parquet file grouped by setting, dataset, bits and task."""
    import pandas as pd

    frame = pd.read_parquet(out / "results.parquet")
    groups: dict[tuple, list[float]] = defaultdict(list)
    for row in frame.itertuples():
        groups[(row.task, row.setting, row.dataset, row.bits, row.metric)].append(row.value)
    for metric in ("map@50", "ndcg@50", "precision@radius2", "distinct_query_codes"):
        shown = cli("table", "--store", str(store), "--csv", "--metric", metric, *filters)
        assert shown.exit_code == 0, shown.output
        cells = list(csv.DictReader(io.StringIO(shown.output)))
        assert cells
        expected = {k: v for k, v in groups.items() if k[4] == metric}
        assert len(cells) == len(expected)
        for cell in cells:  # the table's mean over seeds, std and seed count: the same numbers
            values = expected[(cell["task"], cell["method"], cell["dataset"], int(cell["bits"]),
                               metric)]  # fmt: skip
            assert len(values) == int(cell["seeds"]) == seeds
            assert statistics.fmean(values) == float(cell["mean"])
            assert statistics.stdev(values) == float(cell["std"])
    return frame


# --- tampering --------------------------------------------------------------------------------


def _edit(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _first_run(out: Path) -> Path:
    return sorted((out / "runs").glob("*.json"))[0]


@pytest.fixture
def exported(cli, store, tmp_path) -> Path:
    out = tmp_path / "out"
    assert _export(cli, store, out, "--with-codes").exit_code == 0
    return out


def _set_score(document):
    document["scores"]["i2t"]["map@50"] = 0.99


def _set_record_score(document):
    document["record"]["metrics"]["i2t"]["map@50"] = 0.99


def _set_summary(document):
    document["per_query"]["i2t"]["map@50"]["mean"] = 0.99


def _set_seed(document):
    document["seed"] = 7


@pytest.mark.parametrize(
    "change, why",
    [
        (_set_score, "'scores' differs"),
        (_set_record_score, "row digest"),
        (_set_summary, "'per_query' differs"),
        (_set_seed, "'seed' differs"),
    ],
    ids=["score", "record", "summary", "seed"],
)
def test_a_changed_json_is_refused_naming_the_file(exported, change, why):
    path = _first_run(exported)
    _edit(path, change)
    with pytest.raises(InputError, match=why) as refused:
        list(iter_exported(exported))
    assert str(path) in str(refused.value)


def test_a_changed_codes_file_is_refused_naming_it(exported):
    path = _first_run(exported)
    codes = exported / "codes" / f"{path.stem}.npz"
    with np.load(codes) as data:
        arrays = {name: data[name].copy() for name in data.files}
    arrays["codes.query.image"][0, 0] ^= 1
    np.savez(codes, **arrays)
    with pytest.raises(InputError, match="SHA-256") as refused:
        list(iter_exported(exported))
    assert str(codes) in str(refused.value)
    # the file's checksum updated in the JSON too: the run's codes digest still refuses it
    from hashbench.export.reader import file_sha256

    _edit(path, lambda d: d["codes"].update(file_sha256=file_sha256(codes)))
    with pytest.raises(InputError, match="not the codes of run") as refused:
        list(iter_exported(exported))
    assert str(codes) in str(refused.value)


def test_a_folder_that_is_not_a_whole_export_is_refused(exported, tmp_path):
    with pytest.raises(InputError, match="no manifest.json"):
        list(iter_exported(tmp_path))
    extra = exported / "runs" / "0000000000000000.json"
    shutil.copy(_first_run(exported), extra)
    with pytest.raises(InputError, match="not listed in"):
        list(iter_exported(exported))
    extra.unlink()
    _first_run(exported).unlink()
    with pytest.raises(InputError, match="missing"):
        list(iter_exported(exported))


def test_a_newer_schema_version_is_refused_with_the_fix(exported):
    path = _first_run(exported)
    _edit(path, lambda d: d.update(schema_version=EXPORT_SCHEMA_VERSION + 1))
    with pytest.raises(InputError, match="upgrade hashbench"):
        list(iter_exported(exported))


# --- filters and failed runs ------------------------------------------------------------------


def test_filters_select_what_the_table_selects(cli, store, tmp_path):
    out = tmp_path / "out"
    result = _export(cli, store, out, "--methods", "cca-itq", "--bits", "16")
    assert result.exit_code == 0 and "exported 2 runs" in result.output
    got = {(e.record.method, e.record.bits) for e in iter_exported(out)}
    assert got == {("cca-itq", 16)}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["filters"]["methods"] == ["cca-itq"] and manifest["filters"]["bits"] == [16]
    assert manifest["source_store"] == str(store.resolve())


def test_failed_runs_only_on_request(cli, store, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(store.parent, copy)
    with ResultStore(copy / store.name) as results:
        failed = results.records()[0]
        failed.run_id, failed.metrics = "f" * 16, {}
        results.save_failure(failed, "Traceback: out of memory")
    out = tmp_path / "out"
    assert "exported 8 runs" in _export(cli, copy / store.name, out).output
    result = _export(cli, copy / store.name, out, "--include-failed", "--force")
    assert "exported 9 runs (0 with codes, 1 failed)" in result.output
    back = {e.record.run_id: e.record for e in iter_exported(out)}
    assert back["f" * 16].status == "failed" and back["f" * 16].error.endswith("out of memory")
    import pandas as pd

    assert "f" * 16 not in set(pd.read_parquet(out / "results.parquet")["run_id"])


def test_a_run_whose_codes_are_gone_is_exported_without_them(cli, store, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(store.parent, copy)
    gone = _stored(copy / store.name)[0]
    (copy / gone.codes_path).unlink()
    out = tmp_path / "out"
    result = _export(cli, copy / store.name, out, "--with-codes")
    assert result.exit_code == 0, result.output
    assert "exported 8 runs (7 with codes)" in result.output
    assert "missing" in result.output and gone.run_id in result.output
    document = json.loads((out / "runs" / f"{gone.run_id}.json").read_text())
    assert "per_query" not in document and "codes" not in document
    assert not list(Draft202012Validator(load_schema()).iter_errors(document))
    back = {e.record.run_id: e for e in iter_exported(out)}
    assert back[gone.run_id].arrays is None and back[gone.run_id].record == gone


# --- the command line refuses bad input, leaving nothing behind --------------------------------


def test_bad_input_is_refused_in_one_line(cli, store, tmp_path):
    out = tmp_path / "out"
    _refused(_export(cli, tmp_path / "none.sqlite", out), "no results store")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    _refused(_export(cli, store, a_file), "is a file")
    _refused(_export(cli, store, out, "--methods", "nosuch"), "no runs match")
    _refused(_export(cli, store, out, "--format", "csv"), "--format csv")
    _refused(_export(cli, store, out, "--format", "parquet", "--with-codes"), "add json")
    assert not out.exists()
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "paper.tex").write_text("keep me")
    _refused(_export(cli, store, foreign), "not empty", "--force")
    _refused(_export(cli, store, foreign, "--force"), "not a hashbench export")
    assert [p.name for p in foreign.iterdir()] == ["paper.tex"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "notes"]


def test_force_replaces_an_earlier_export_whole(cli, store, tmp_path):
    out = tmp_path / "out"
    assert _export(cli, store, out, "--with-codes").exit_code == 0
    _refused(_export(cli, store, out), "not empty")
    assert _export(cli, store, out, "--methods", "lsh", "--force").exit_code == 0
    assert not (out / "codes").exists()
    assert {e.record.method for e in iter_exported(out)} == {"lsh"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failure_while_writing_leaves_no_export_and_no_leftovers(
    cli, store, tmp_path, monkeypatch
):
    import hashbench.export.core as core

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(core, "write_table", full_disk)
    with pytest.raises(OSError):
        core.export_store(store, tmp_path / "out", core.ExportOptions())
    assert list(tmp_path.iterdir()) == []


# --- the record of a document -----------------------------------------------------------------

numbers = st.one_of(st.integers(-(2**53), 2**53), st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.text(max_size=5), numbers),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None)
@given(
    metrics=st.dictionaries(st.sampled_from(["i2t", "t2i", "scoring"]), json_values, max_size=3),
    timings=st.dictionaries(st.text(max_size=4), numbers, max_size=3),
)
def test_any_record_comes_back_as_the_same_row_through_strict_json(metrics, timings):
    record = RunRecord(
        run_id="abc", method="lsh", dataset="d", dataset_fingerprint="f", bits=16, seed=0,
        budget="quick", params={"a": 1.5}, pair_fused=False, metrics=metrics, timings=timings,
        provenance={}, created_at="2026-01-01T00:00:00Z",
    )  # fmt: skip
    record.row_digest = row_digest(to_row(record))
    text = json.dumps(record_object(record), allow_nan=False)  # strict JSON, NaN or not
    back = record_from_object(json.loads(text))
    assert to_row(back) == to_row(record)
    assert row_digest(to_row(back)) == record.row_digest
    if any(isinstance(v, float) and not math.isfinite(v) for v in timings.values()):
        assert isinstance(json.loads(text)["timings"], str)
