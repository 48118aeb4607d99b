"""The command line refuses what would give a wrong number, with one line and no side effects."""

from __future__ import annotations

import importlib.metadata
import io
import sqlite3

import numpy as np
import pytest
from rich.console import Console
from rich.progress import Progress

from hashbench.cli.progress_view import BarsObserver
from hashbench.errors import PluginError
from hashbench.plugins import create_plugin_manager
from hashbench.runner.spec import RunSpec
from hashbench.store import ResultStore, RunRecord, default_store_path

SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick")


def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def test_eval_refuses_codes_that_are_not_the_runs_own(cli):
    cli("run", "--methods", "lsh", *SMALL, "--bits", "16,32", "--seeds", "0,1")
    with ResultStore(default_store_path()) as store:
        runs = {(r.bits, r.seed): r for r in store.records()}
    root = default_store_path().parent
    target = runs[(16, 0)]
    before = cli("eval", "--run", target.run_id, "--json")
    assert before.exit_code == 0
    path = root / target.codes_path
    for other in (runs[(16, 1)], runs[(32, 0)]):  # another seed; 32-bit codes
        path.write_bytes((root / other.codes_path).read_bytes())
        _one_line_error(
            cli("eval", "--run", target.run_id), str(path), f"run {target.run_id}", "--rerun"
        )
    path.write_bytes((root / runs[(32, 1)].codes_path).read_bytes()[:300])  # truncated
    _one_line_error(cli("eval", "--run", target.run_id), str(path), target.run_id)


def test_read_only_commands_create_and_change_nothing(cli, tmp_path):
    typo = tmp_path / "typo.sqlite"
    _one_line_error(cli("eval", "--run", "abc", "--store", str(typo)), "no results store")
    _one_line_error(cli("table", "--store", str(typo)), "no results store")
    assert not typo.exists()
    foreign = tmp_path / "foreign.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (x TEXT)")
    conn.commit()
    conn.close()
    before = foreign.read_bytes()
    for args in (("table",), ("status",), ("eval", "--run", "abc"), ("plot",)):
        _one_line_error(cli(*args, "--store", str(foreign)), "not a hashbench results store")
    _one_line_error(
        cli("run", "--methods", "lsh", *SMALL, "--bits", "16", "--store", str(foreign)),
        "not a hashbench results store",
    )
    assert foreign.read_bytes() == before
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--bits", ""), ("--bits is empty",)),
        (("--seeds", "99999999999999999999"), ("--seeds", "out of range")),
        (("--param", "cca-itq.ridge=abc"), ("cca-itq.ridge=abc", "expected a number")),
        (("--param", "cca-itq.ridge=-5"), ("cca-itq.ridge=-5.0", "not allowed", "ridge must be")),
        (("--param", "cca-itq.itq_iterations=2.5"), ("expected a whole number",)),
    ],
)
def test_bad_values_are_refused_before_any_run_and_leave_no_store(cli, args, fragments):
    result = cli("run", "--methods", "lsh,cca-itq", *SMALL, *args)
    _one_line_error(result, *fragments)
    assert not default_store_path().exists()


def test_a_method_on_a_task_it_does_not_declare_is_refused_before_the_sweep(cli):
    result = cli("run", "--methods", "lsh,cca-itq", "--dataset", "synth-events", "--scale", "0.05")
    _one_line_error(result, "method 'cca-itq' does not support unimodal retrieval")
    assert not default_store_path().exists()


def test_progress_lines_show_run_ids_that_look_like_markup():
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=False)
    with Progress(*BarsObserver.columns(), console=console) as progress:
        observer = BarsObserver(progress)

        class Plan:
            spec = RunSpec(method="m[x]", dataset="d", bits=16, seed=0)
            run_id = "ee9a0b1c2d3e4f50"

        record = RunRecord(
            run_id=Plan.run_id, method="m", dataset="d", dataset_fingerprint="f", bits=16, seed=0,
            budget="quick", params={}, pair_fused=False,
            metrics={"i2t": {"map@50": 0.5}, "t2i": {"map@50": 0.5}}, timings={"total_s": 1.0},
            provenance={},
        )  # fmt: skip
        observer.run_finished(Plan, record, skipped=False)
        observer.run_failed(Plan, "ValueError: [bold]not markup[/bold]")
    text = buffer.getvalue()
    assert "[ee9a0b1c2d3e4f50]" in text and "m[x] / d" in text
    assert "[bold]not markup[/bold]" in text


def test_a_plugin_that_fails_to_import_is_named(monkeypatch):
    broken = importlib.metadata.EntryPoint(
        name="broken-plugin", value="hashbench_no_such_module_xyz", group="hashbench"
    )
    real = importlib.metadata.entry_points

    def with_broken(**kwargs):
        found = list(real(**kwargs))
        return found + [broken] if kwargs.get("group") == "hashbench" else found

    monkeypatch.setattr(importlib.metadata, "entry_points", with_broken)
    with pytest.raises(PluginError, match="plugin 'broken-plugin'.*HASHBENCH_BLOCK_PLUGINS"):
        create_plugin_manager()
    create_plugin_manager(block=["broken-plugin"])  # blocking it is the way out


def test_table_marks_supervised_methods(cli):
    with ResultStore(default_store_path()) as store:
        for method, supervision in (("lsh", "unsupervised"), ("dpsh-cnn", "supervised")):
            store.save(
                RunRecord(
                    run_id=method, method=method, dataset="d", dataset_fingerprint="f", bits=16,
                    seed=0, budget="quick", params={}, pair_fused=False,
                    metrics={"unimodal": {"map@50": 0.5}}, timings={},
                    provenance={"supervision": supervision},
                ),
                {"codes.query.x": np.zeros((2, 2), np.uint8)},
            )  # fmt: skip
    out = cli("table", "--markdown", "--names", "cli").output
    assert "| dpsh-cnn‡ |" in out and "| lsh |" in out and "‡ supervised" in out
    shown = cli("table", "--markdown").output  # display names by default
    assert "| DPSH (CNN)‡ |" in shown and "| LSH |" in shown
