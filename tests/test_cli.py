"""End-to-end tests through the CLI: runs, resume, tables, listings and every bad input."""

from __future__ import annotations

import json
import re
import types

import numpy as np
import pytest

import hashbench
import hashbench.cli.app
from hashbench.plugins import create_plugin_manager
from hashbench.store import ResultStore, default_store_path

SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick")


def test_run_then_table_then_resume(cli):
    first = cli("run", "--methods", "lsh,cca-itq", *SMALL, "--bits", "16,32")
    assert first.exit_code == 0, first.output
    assert "4 run(s) executed, 0 skipped" in first.output
    with ResultStore(default_store_path()) as store:
        records = store.records()
    assert {(r.method, r.bits) for r in records} == {
        ("lsh", 16),
        ("lsh", 32),
        ("cca-itq", 16),
        ("cca-itq", 32),
    }
    assert all(r.dataset == "synth-mirflickr@0.05" for r in records)
    assert all(set(r.metrics) == {"i2t", "t2i", "scoring"} for r in records)
    assert all(r.metrics["scoring"] == hashbench.metrics.SCORING for r in records)
    provenance = records[0].provenance
    assert provenance["versions"]["hashbench"] == hashbench.__version__
    assert {"commit", "dirty"} <= set(provenance["git"])

    again = cli("run", "--methods", "lsh,cca-itq", *SMALL, "--bits", "16,32")
    assert "0 run(s) executed, 4 skipped" in again.output

    forced = cli("run", "--methods", "lsh", *SMALL, "--bits", "16", "--rerun")
    assert "1 run(s) executed" in forced.output

    table = cli("table")
    assert table.exit_code == 0
    assert "cca-itq" in table.output and "lsh" in table.output
    latex = cli("table", "--latex")
    assert latex.output.startswith(r"\begin{tabular}") and r"\bottomrule" in latex.output
    value = f"{records[0].metrics['i2t']['map@50']:.4f}"
    assert value in latex.output
    markdown = cli("table", "--markdown", "--methods", "lsh")
    assert "| Image → Text | LSH |" in markdown.output and "CCA-ITQ" not in markdown.output
    typed = cli("table", "--markdown", "--methods", "lsh", "--names", "cli")
    assert "| Image -> Text | lsh |" in typed.output
    assert "synth-mirflickr@0.05 16 bits" in typed.output


def test_run_summary_has_the_rows_of_table(cli):
    """A value a method derives from the code length (SpikeHash's T: 8 at 16 bits, else 4) is
    its default, not a variant: `run`'s summary, like `table`, shows one row per task."""
    done = cli("run", "--methods", "spikehash", *SMALL, "--bits", "16,32")
    assert done.exit_code == 0, done.output
    table = cli("table", "--names", "cli")
    for output in (done.output, table.output):
        rows = [  # table rows, not the log lines of the runs
            line for line in output.splitlines() if "spikehash" in line and line[:1] != "["
        ]
        assert len(rows) == 2 and "time_steps" not in output, output


def test_same_seed_same_codes_other_seed_other_id(cli, tmp_path):
    cli("run", "--methods", "lsh", *SMALL, "--bits", "16", "--seeds", "0,1")
    with ResultStore(default_store_path()) as store:
        by_seed = {r.seed: r for r in store.records()}
        codes0 = store.load_arrays(by_seed[0])
    assert by_seed[0].run_id != by_seed[1].run_id
    other = tmp_path / "other.sqlite"
    cli("run", "--methods", "lsh", *SMALL, "--bits", "16", "--store", str(other))
    with ResultStore(other) as store:
        (record,) = store.records()
        assert record.run_id == by_seed[0].run_id
        for key, value in store.load_arrays(record).items():
            assert np.array_equal(value, codes0[key])


def test_param_overrides_are_recorded_and_change_the_id(cli):
    cli("run", "--methods", "cca-itq", *SMALL, "--bits", "16")
    cli("run", "--methods", "cca-itq", *SMALL, "--bits", "16", "--param", "cca-itq.ridge=0.5")
    with ResultStore(default_store_path()) as store:
        ridges = sorted(r.params["ridge"] for r in store.records())
    assert ridges == [0.1, 0.5]


@pytest.mark.parametrize(
    "args, message",
    [
        (("--methods", "lsj"), "unknown method 'lsj'. Did you mean 'lsh'?"),
        (("--methods", "lsh", "--dataset", "synth-mscooc"), "Did you mean 'synth-mscoco'?"),
        (("--methods", "lsh", "--bits", "0"), "--bits: 0 is out of range"),
        (("--methods", "lsh", "--bits", "-8"), "--bits: -8 is out of range"),
        (("--methods", "lsh", "--bits", "16.5"), "'16.5' is not a whole number"),
        (("--methods", "lsh", "--bits", "2048"), "from 1 to 1024"),
        (("--methods", "cca-itq", "--bits", "1024"), "at most 512 bits"),
        (("--methods", "lsh", "--seeds", "x"), "--seeds"),
        (("--methods", "lsh", "--param", "lsh"), "expected METHOD.NAME=VALUE"),
        (("--methods", "lsh", "--param", "ucmfh.epochs=3"), "not among --methods"),
        (("--methods", "cca-itq", "--param", "cca-itq.nope=3"), "has no hyperparameter nope"),
        (
            ("--methods", "lsh", "--dataset", "synth-nuswide", "--scale", "2"),
            "--scale 2: must be a finite number in [0.005, 1]",
        ),
    ],
)
def test_bad_input_is_one_clear_line(cli, args, message):
    if "--dataset" not in args:
        args = (*args, "--dataset", "synth-mirflickr", "--scale", "0.05")
    result = cli("run", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not default_store_path().exists() or ResultStore(default_store_path()).records() == []


def test_unwritable_and_corrupt_store(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("run", "--methods", "lsh", *SMALL, "--store", str(blocker / "s.sqlite"))
    assert result.exit_code != 0 and "cannot be created" in result.output
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"garbage" * 1000)
    result = cli("table", "--store", str(corrupt))
    assert result.exit_code != 0 and "cannot be used" in result.output


def _with_plugin(monkeypatch, module):
    def patched(block=()):
        pm = create_plugin_manager(block)
        pm.register(module, name=module.__name__)
        return pm

    monkeypatch.setattr(hashbench.cli.app, "create_plugin_manager", patched)


def _broken_method(name: str, encode):
    class Broken(hashbench.Method):
        info = hashbench.MethodInfo(
            name=name, display_name=name, reference="test", summary="broken on purpose"
        )

        def fit(self, train):
            pass

        def encode(self, modality, inputs):
            return encode(inputs[modality], self.bits)

    module = types.ModuleType(f"plugin_{name.replace('-', '_')}")
    module.hashbench_register_methods = hashbench.hookimpl(lambda: [Broken])
    return module


@pytest.mark.parametrize(
    "name, encode, message",
    [
        ("zeros", lambda x, b: np.zeros((len(x), b)), "method 'zeros' returned codes outside"),
        ("nans", lambda x, b: np.full((len(x), b), np.nan), "method 'nans' returned NaN"),
        ("shape", lambda x, b: np.ones((len(x), b + 1)), "method 'shape' returned codes of shape"),
        ("raises", lambda x, b: 1 / 0, "method 'raises' raised during encode"),
    ],
)
def test_broken_plugins_fail_cleanly_and_store_nothing(cli, monkeypatch, name, encode, message):
    _with_plugin(monkeypatch, _broken_method(name, encode))
    result = cli("run", "--methods", f"lsh,{name}", *SMALL, "--bits", "16")
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    with ResultStore(default_store_path()) as store:
        assert [r.method for r in store.records()] == ["lsh"], "only the finished run is stored"


def test_debug_shows_the_traceback(cli, monkeypatch):
    _with_plugin(monkeypatch, _broken_method("raises", lambda x, b: 1 / 0))
    with pytest.raises(hashbench.errors.PluginError):
        cli("--debug", "run", "--methods", "raises", *SMALL, "--bits", "16")


def test_listings(cli):
    methods = cli("list", "methods")
    assert "lsh" in methods.output and "cca-itq" in methods.output
    datasets = cli("list", "datasets")
    assert all(n in datasets.output for n in ("synth-mirflickr", "synth-nuswide", "synth-mscoco"))
    assert "precomputed" in cli("list", "encoders").output
    plugins = cli("plugins")
    assert "baselines" in plugins.output and "hashbench_register_methods" in plugins.output
    blocked = cli("--block-plugin", "baselines", "list", "methods").output
    assert "lsh" not in blocked.split() and "cca-itq" not in blocked.split()
    assert "process" in cli("list", "executors").output


@pytest.mark.parametrize("command", ["run", "table", "list", "plugins"])
def test_help_has_an_example(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0 and "Example" in result.output


def test_table_without_store_or_runs(cli, tmp_path):
    result = cli("table", "--store", str(tmp_path / "none.sqlite"))
    assert result.exit_code != 0 and "no results store" in result.output


def test_eval_recomputes_from_stored_codes(cli):
    cli("run", "--methods", "cca-itq", *SMALL, "--bits", "16")
    with ResultStore(default_store_path()) as store:
        (record,) = store.records()
    result = cli("eval", "--run", record.run_id[:8], "--metric", "map@50", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    for task in ("i2t", "t2i"):
        assert row["values"][task] == pytest.approx(record.metrics[task]["map@50"], abs=1e-12)
    dcmh = json.loads(
        cli(
            "eval", "--run", record.run_id, "--metric", "map@100", "--convention", "dcmh", "--json"
        ).output
    )[0]
    assert dcmh["convention"] == "dcmh" and 0 <= dcmh["values"]["i2t"] <= 1
    shown = cli("eval", "--run", record.run_id, "--metric", "ndcg@50")
    assert shown.exit_code == 0 and record.run_id in shown.output
    bad = cli("eval", "--run", record.run_id, "--metric", "map@-3")
    assert bad.exit_code != 0 and "valid forms" in bad.output
    missing = cli("eval", "--run", "ffffffff")
    assert missing.exit_code != 0 and "no run" in missing.output


def test_profile_uses_stored_runs_and_fresh_models(cli):
    cli("run", "--methods", "lsh", *SMALL, "--bits", "16")
    result = cli(
        "profile",
        "--methods",
        "lsh,cca-itq",
        "--bits",
        "16",
        "--dataset",
        "synth-mirflickr",
        "--scale",
        "0.05",
        "--json",
    )
    assert result.exit_code == 0, result.output
    by_method = {row["method"]: row for row in json.loads(result.output)}
    assert by_method["lsh"]["source"].startswith("stored run")
    assert "not a trained result" in by_method["cca-itq"]["source"]
    for row in by_method.values():
        summary = row["summary"]
        # two affine maps 512 -> 16: weights + biases, and 2 x 512 x 16 MACs per pair
        assert summary["params"] == 2 * (512 * 16 + 16)
        assert summary["macs"] == 2 * 512 * 16 and summary["sops"] == 0
        assert summary["energy_uj"] == pytest.approx(2 * 512 * 16 * 4.6e-6)
    cheaper = json.loads(
        cli(
            "profile",
            "--methods",
            "lsh",
            "--bits",
            "16",
            "--scale",
            "0.05",
            "--e-mac",
            "1.0",
            "--json",
        ).output
    )[0]
    assert cheaper["summary"]["energy_uj"] == pytest.approx(2 * 512 * 16 * 1e-6)
    shown = cli("profile", "--methods", "lsh", "--bits", "16", "--scale", "0.05", "--layers")
    assert "E = 4.6 pJ x MACs + 0.9 pJ x SOPs" in shown.output and "maps.image" in shown.output
    bad = cli("profile", "--methods", "lsh", "--e-ac", "-1")
    assert bad.exit_code != 0 and "--e-ac -1: must be a finite number in [0, 1e+06]" in bad.output


def test_efficiency_table(cli):
    cli("run", "--methods", "lsh,cca-itq", *SMALL, "--bits", "16")
    result = cli("table", "--efficiency")
    assert result.exit_code == 0
    assert "16,416" in result.output and "E = 4.6 pJ" in result.output
    markdown = cli("table", "--efficiency", "--markdown")
    assert "| CCA-ITQ" in markdown.output and "encode items/s" in markdown.output
    assert re.search(r"\|\s+T \|", markdown.output)  # what explains a spiking method's counts


def test_failed_run_is_recorded_and_the_sweep_goes_on(cli, monkeypatch):
    _with_plugin(monkeypatch, _broken_method("raises", lambda x, b: 1 / 0))
    result = cli("run", "--methods", "raises,lsh", *SMALL, "--bits", "16,32")
    assert result.exit_code == 1
    assert "2 run(s) executed" in result.output and "2 failed" in result.output
    with ResultStore(default_store_path()) as store:
        assert sorted(r.bits for r in store.records()) == [16, 32]  # lsh ran after the failures
        failed = store.failures()
        assert [(r.method, r.bits, r.status) for r in failed] == [
            ("raises", 16, "failed"),
            ("raises", 32, "failed"),
        ]
        assert "ZeroDivisionError" in failed[0].error and "Traceback" in failed[0].error
    status = cli("status", "--methods", "raises,lsh", *SMALL, "--bits", "16,32")
    assert "2 done, 2 failed, 0 pending" in status.output
    assert "ZeroDivisionError" in status.output
    assert "Traceback" in cli("status", "--traceback").output
    # same command again: the finished runs are skipped, only the failed ones are retried
    again = cli("run", "--methods", "raises,lsh", *SMALL, "--bits", "16,32")
    assert "0 run(s) executed, 2 skipped" in again.output and "2 failed" in again.output


def test_status_lists_pending_runs(cli):
    assert cli("run", "--methods", "lsh", *SMALL, "--bits", "16").exit_code == 0
    status = cli("status", "--methods", "lsh", *SMALL, "--bits", "16,32", "--seeds", "0,1")
    assert "1 done, 0 failed, 3 pending" in status.output
    summary = cli("status")
    assert "synth-mirflickr@0.05" in summary.output and "1 done, 0 failed" in summary.output


def test_sweep_described_in_a_toml_file(cli, tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text(
        'methods = ["lsh", "cca-itq"]\ndataset = "synth-mirflickr"\nbits = [16, 32]\n'
        'budget = "quick"\nscale = 0.05\n\n[params.cca-itq]\nitq_iterations = 7\n'
    )
    result = cli("run", "--config", str(config), "--bits", "16")  # the command line wins
    assert result.exit_code == 0, result.output
    with ResultStore(default_store_path()) as store:
        records = store.records()
    assert sorted((r.method, r.bits, r.budget) for r in records) == [
        ("cca-itq", 16, "paper"),  # both ignore the budget: stored under the canonical one
        ("lsh", 16, "paper"),
    ]
    assert next(r for r in records if r.method == "cca-itq").params["itq_iterations"] == 7
    config.write_text(config.read_text().replace('"quick"', '"fast"'))
    refused = cli("run", "--config", str(config))  # the file's budget is read
    assert refused.exit_code != 0 and "--budget: 'fast' is not one of" in refused.output


def test_bad_sweep_files(cli, tmp_path):
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('methods = ["lsh"]\ndatset = "synth-mirflickr"\n')
    result = cli("run", "--config", str(unknown))
    assert result.exit_code != 0 and "unknown key `datset`" in result.output
    broken = tmp_path / "broken.toml"
    broken.write_text("methods = [lsh\n")
    result = cli("run", "--config", str(broken))
    assert result.exit_code != 0 and "not valid TOML" in result.output
    assert "Traceback" not in result.output


def _budget_toy():
    """Random hyperplanes with an `epochs` the quick budget changes: budget-sensitive."""

    class BudgetToy(hashbench.Method):
        info = hashbench.MethodInfo(
            name="toy-budget", display_name="Toy", reference="test", summary="budgets differ"
        )
        default_params = {"epochs": 2}
        budget_params = {"quick": {"epochs": 1}}

        def fit(self, train):
            rng = np.random.default_rng(self.seed)
            self.planes = {
                m: rng.standard_normal((x.shape[1], self.bits)) for m, x in train.features.items()
            }

        def encode(self, modality, inputs):
            x = inputs[modality].double().numpy()
            return np.where(x @ self.planes[modality] >= 0, 1, -1).astype(np.int8)

    module = types.ModuleType("plugin_toy_budget")
    module.hashbench_register_methods = hashbench.hookimpl(lambda: [BudgetToy])
    return module


def test_a_sweep_over_two_budgets_keeps_them_apart(cli, monkeypatch):
    _with_plugin(monkeypatch, _budget_toy())
    args = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--bits", "16")
    result = cli("run", "--methods", "toy-budget,lsh", *args, "--budget", "quick,paper")
    assert result.exit_code == 0, result.output
    assert "3 run(s) executed" in result.output  # lsh ignores the budget: one run serves both
    table = cli("table", "--markdown").output
    assert "Toy (quick)" in table and "Toy (paper)" in table and "| LSH |" in table
    only = cli("table", "--markdown", "--budget", "quick").output
    assert "| Toy |" in only and "| LSH |" in only and "(paper)" not in only
    assert cli("run", "--methods", "lsh", *args, "--budget", "fast").exit_code != 0
