"""One setting is one row across a whole table: labels decided once per method, never per cell
(issue 27, HIGH 1), and the same labels in every format, in the report and in `compare`."""

from __future__ import annotations

import csv
import io

import pytest

from hashbench.report.variants import variant_labels
from hashbench.store import RunRecord

SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05")
DEFAULT, TUNED = "cca-itq", "cca-itq [ridge=1.0]"


def _ok(result):
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def variant_store(cli):
    """The issue's commands: the default at 16 bits, then ridge=1 at 16 and 32 bits."""
    _ok(cli("run", "--methods", "cca-itq", "--bits", "16", *SMALL))
    _ok(cli("run", "--methods", "cca-itq", "--param", "cca-itq.ridge=1", "--bits", "16,32", *SMALL))


def test_a_param_variant_is_one_named_row_in_every_format(
    cli, variant_store, monkeypatch, tmp_path
):
    rows = list(csv.DictReader(io.StringIO(cli("table", "--csv").stdout)))
    by_row = {}
    for row in rows:
        by_row.setdefault((row["task"], row["method"]), set()).add(int(row["bits"]))
    for task in ("i2t", "t2i"):
        assert by_row[(task, DEFAULT)] == {16}  # the default ran at 16 bits only
        assert by_row[(task, TUNED)] == {16, 32}  # one row over both columns
    assert {method for _, method in by_row} == {DEFAULT, TUNED}

    terminal = _ok(cli("table", "--names", "cli"))
    assert terminal.count(TUNED) == 2  # one row per task, none split
    markdown = _ok(cli("table", "--markdown", "--names", "cli")).splitlines()
    tuned_lines = [line for line in markdown if f"| {TUNED} |" in line]
    assert len(tuned_lines) == 2 and all(line.count("bits") == 0 for line in tuned_lines)
    assert all(not line.rstrip(" |").endswith("| -") for line in tuned_lines)  # 32 bits filled
    bare = [line for line in markdown if f"| {DEFAULT} |" in line]
    assert len(bare) == 2 and all(line.rstrip().endswith("| - |") for line in bare)
    latex = _ok(cli("table", "--latex", "--names", "cli"))
    tuned_tex = [line for line in latex.splitlines() if "cca-itq [ridge=1.0]" in line]
    assert len(tuned_tex) == 2 and all(not line.endswith(r"- \\") for line in tuned_tex)

    import hashbench.report.site as site_module

    seen = {}
    original = site_module.render_site

    def capture(site):
        seen["site"] = site
        return original(site)

    monkeypatch.setattr(site_module, "render_site", capture)
    _ok(cli("report", "--names", "cli", "--out", str(tmp_path / "site")))
    for table in seen["site"].tables:
        labels = {row.label: [c.text for c in row.cells] for row in table.rows}
        assert set(labels) == {DEFAULT, TUNED}
        assert labels[DEFAULT][1] == "\u2013" and "\u2013" not in labels[TUNED]  # empty


def _record(run_id: str, bits: int, params: dict, protocol: str = "default") -> RunRecord:
    return RunRecord(
        run_id=run_id, method="m", dataset="d", dataset_fingerprint="f", bits=bits, seed=0,
        budget="paper", params=params, pair_fused=False, metrics={}, timings={}, provenance={},
        protocol=protocol,
    )  # fmt: skip


def test_labels_name_every_value_that_differs_from_the_default():
    records = [
        _record("a", 16, {"x": 1, "y": 2}),
        _record("b", 16, {"x": 5, "y": 2}),
        _record("c", 32, {"x": 5, "y": 2}),  # alone in its column: still named
        _record("d", 32, {"x": 1, "y": 7}),
        _record("t", 32, {"x": 3, "y": 3}, protocol="tuned"),
    ]
    labels = variant_labels(records, lambda r: {"x": 1, "y": 2})
    assert labels == {
        "a": "m (default)",
        "b": "m (default) [x=5]",
        "c": "m (default) [x=5]",
        "d": "m (default) [y=7]",
        "t": "m (tuned)",
    }
    # without the defaults (a method that is not installed): every differing key, everywhere
    labels = variant_labels(records[:3])
    assert labels == {"a": "m [x=1]", "b": "m [x=5]", "c": "m [x=5]"}


def test_tuned_runs_tuned_differently_are_separate_rows():
    """Two tuned runs of one cell and seed (8 and 20 trials; a mirrored validation database; a
    time budget) must not share the row "(tuned)", where one would hide the other."""
    val = {"database_rule": "fit", "fraction": 0.2, "max_queries": 1000}
    tuning = {"trials": 8, "batch": 4, "pruner": {"name": "median"}, "validation": val}
    runs = {
        "t8": tuning,
        "t20": {**tuning, "trials": 20},
        "mirror": {**tuning, "validation": {**val, "database_rule": "mirror"}},
        "budget": {**tuning, "trials": 11, "time_budget_s": 600.0},
    }
    records = []
    for run_id, setting in runs.items():
        record = _record(run_id, 16, {"x": 2}, protocol="tuned")
        record.tuning = setting
        records.append(record)
    labels = variant_labels(records, lambda r: {"x": 1})
    assert labels == {
        "t8": "m (tuned, 8 trials, val database fit)",
        "t20": "m (tuned, 20 trials, val database fit)",
        "mirror": "m (tuned, 8 trials, val database mirror)",
        "budget": "m (tuned, 600 s budget, val database fit)",
    }
    one = variant_labels(records[:1], lambda r: {"x": 1})  # one tuning setting: a plain row
    assert one == {"t8": "m (tuned)"}


# --- hashbench compare: one setting per side (issue 27, HIGH 4) ------------------------------

CELL = ("--dataset", "synth-mirflickr@0.05", "--bits", "16")


def test_compare_uses_one_named_setting_per_side(cli, variant_store):
    import json

    _ok(cli("run", "--methods", "lsh", "--bits", "16", *SMALL))
    _ok(cli("run", "--methods", "lsh", "--bits", "16", "--seeds", "1", *SMALL))
    found = json.loads(_ok(cli("compare", TUNED, "lsh", *CELL, "--json")))
    assert found["a"] == TUNED and found["settings"]["a"]["params"]["ridge"] == 1.0
    assert found["settings"]["a"]["other_settings"] == [DEFAULT]
    assert found["settings"]["b"]["seeds"] == [0, 1]  # one setting, two seeds: averaged
    bare = json.loads(_ok(cli("compare", DEFAULT, "lsh", *CELL, "--json")))
    assert bare["settings"]["a"]["params"]["ridge"] == 0.1  # the bare name is the default
    assert bare["tasks"]["i2t"]["mean_a"] != found["tasks"]["i2t"]["mean_a"]
    text = _ok(cli("compare", TUNED, "lsh", *CELL))
    assert f"A: {TUNED}" in text and 'also stored: "cca-itq"' in text and "B: lsh" in text
    # at 32 bits only the ridge=1 setting ran: the bare name does not stand for it
    _ok(cli("run", "--methods", "lsh", "--bits", "32", *SMALL))
    only = cli("compare", DEFAULT, "lsh", "--dataset", "synth-mirflickr@0.05", "--bits", "32")
    assert only.exit_code != 0 and "no runs at its default parameters" in only.output
    assert f'"{TUNED}"' in only.output


def test_compare_refuses_an_ambiguous_or_repeated_side(cli, variant_store):
    # cca-itq ignores the budget: its quick run is the stored paper run, not another setting
    again = _ok(cli("run", "--methods", "cca-itq", "--budget", "quick", "--bits", "16", *SMALL))
    assert "0 run(s) executed, 1 skipped" in again
    _ok(cli("tune", "--methods", "cca-itq", "--bits", "16", "--trials", "2", *SMALL))
    _ok(cli("run", "--methods", "lsh", "--bits", "16", *SMALL))
    several = cli("compare", "cca-itq", "lsh", *CELL)
    assert several.exit_code != 0 and "Traceback" not in several.output
    for label in ("cca-itq (default)", "cca-itq (default) [ridge=1.0]", "cca-itq (tuned)"):
        assert f'"{label}"' in several.output
    assert "--budget" in several.output
    picked = cli("compare", "cca-itq (tuned)", "lsh", *CELL)
    assert picked.exit_code == 0 and "A: cca-itq (tuned)" in picked.output
    assert "B: lsh (default)" in picked.output  # lsh has one setting: its name picks it
    same = cli("compare", "lsh", "lsh", *CELL)
    assert same.exit_code != 0 and "same setting" in same.output
    unknown = cli("compare", "zz", "lsh", *CELL)
    assert unknown.exit_code != 0 and "no finished runs of 'zz'" in unknown.output
    usage = cli("compare")
    assert usage.exit_code == 2 and "hashbench compare cca-itq lsh --dataset" in usage.output
