"""A method whose budget changes nothing is run once for every budget (issue 31, item 5).

`tune` (paper budget) then `run --budget quick` used to store cca-itq twice, with identical
parameters and scores, and tables showed two rows. Now a method whose budgets resolve to the
same parameters (`Method.budget_sensitive()`, derived from its declarations, so it cannot
disagree with them) is planned under the canonical budget ("paper": old paper runs keep their
ids), a second budget finds the run done, and tables show it under any budget, once.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from hashbench.methods import BUDGETS, CANONICAL_BUDGET, Method, MethodInfo
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.report.budgets import budget_free_methods, select_budgets
from hashbench.report.variants import variant_labels
from hashbench.runner.execute import PlannedRun
from hashbench.runner.spec import RunSpec, run_id
from hashbench.store import ResultStore, RunRecord, default_store_path
from hashbench.testing import tiny_dataset

REGISTRY = Registry.from_plugin_manager(create_plugin_manager())
SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--bits", "16")


def _resolved(method_cls, protocol: str, budget: str) -> str:
    return json.dumps(method_cls.resolve_params(protocol, budget), sort_keys=True, default=repr)


@pytest.mark.parametrize("name", sorted(REGISTRY.methods))
def test_budget_sensitivity_is_what_the_budgets_resolve_to(name):
    """Every installed method: budget-free exactly when every budget gives the same
    parameters under every dataset protocol (the declared ones and any other)."""
    cls = REGISTRY.methods[name]
    protocols = {
        "",
        "another",
        *cls.dataset_params,
        *(d.protocol for d in REGISTRY.datasets.values()),
    }
    same = all(len({_resolved(cls, p, b) for b in BUDGETS}) == 1 for p in protocols)
    assert cls.budget_sensitive() is not same


def test_the_baselines_without_epochs_are_budget_free_and_deep_methods_are_not():
    free = budget_free_methods(REGISTRY)
    assert {"lsh", "cca-itq"} <= free
    assert not {"spikehash", "ucmfh", "cirh-like", "dpsh-cnn"} & free


class _OnlyOnOneProtocol(Method):
    """Budgets differ on one dataset protocol only: sensitive."""

    info = MethodInfo(name="toy-proto", display_name="Toy", reference="-", summary="-")
    default_params = {"epochs": 3}
    dataset_params = {"mirflickr": {"epochs": 9}}
    budget_params = {"quick": {"epochs": 9}}  # = paper on mirflickr, not elsewhere

    def fit(self, train):  # pragma: no cover - never run
        pass

    def encode(self, modality, inputs):  # pragma: no cover
        pass


def test_a_budget_that_matters_on_one_protocol_makes_the_method_sensitive():
    assert _OnlyOnOneProtocol.budget_sensitive()
    paper_only = type("PaperOnly", (_OnlyOnOneProtocol,), {"budget_params": {"paper": {}}})
    assert not paper_only.budget_sensitive()  # an empty override changes nothing


def _plan(name: str, budget: str, overrides=None) -> PlannedRun:
    spec = RunSpec(name, "tiny", 16, 0, budget, overrides or {})
    return PlannedRun.resolve(spec, REGISTRY.methods[name], tiny_dataset())


def test_one_run_id_for_every_budget_and_the_paper_id_unchanged():
    data = tiny_dataset()
    for name in ("lsh", "cca-itq"):
        quick, paper = _plan(name, "quick"), _plan(name, "paper")
        assert quick.run_id == paper.run_id and quick.spec.budget == CANONICAL_BUDGET
        old = run_id(RunSpec(name, "tiny", 16, 0, "paper"), paper.params, data.fingerprint)
        assert paper.run_id == old  # runs stored before keep their ids
        tweaked = _plan(name, "quick", {"ridge": "1.0"} if name == "cca-itq" else {})
        assert tweaked.spec.budget == CANONICAL_BUDGET
    quick, paper = _plan("spikehash", "quick"), _plan("spikehash", "paper")
    assert quick.run_id != paper.run_id and quick.spec.budget == "quick"
    spec = RunSpec("spikehash", "tiny", 16, 0, "quick")
    assert quick.run_id == run_id(spec, quick.params, data.fingerprint)  # id as before


def _ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def test_paper_then_quick_stores_one_run_and_tables_show_one_row(cli):
    first = _ok(cli("run", "--methods", "cca-itq", *SMALL, "--budget", "paper"))
    assert "1 run(s) executed, 0 skipped" in first
    second = _ok(cli("run", "--methods", "cca-itq,lsh", *SMALL, "--budget", "quick"))
    assert "1 run(s) executed, 1 skipped" in second  # cca-itq found done, lsh ran
    both = _ok(cli("run", "--methods", "cca-itq,lsh", *SMALL, "--budget", "quick,paper"))
    assert "0 run(s) executed" in both
    with ResultStore(default_store_path()) as store:
        records = store.records()
    assert sorted((r.method, r.budget) for r in records) == [("cca-itq", "paper"), ("lsh", "paper")]
    for budget in ((), ("--budget", "quick"), ("--budget", "paper")):
        rows = list(csv.DictReader(io.StringIO(_ok(cli("table", "--csv", *budget)))))
        i2t = sorted(r["method"] for r in rows if r["task"] == "i2t")
        assert i2t == ["cca-itq", "lsh"], (budget, i2t)
    status = _ok(cli("status", "--methods", "cca-itq", *SMALL, "--budget", "quick"))
    assert "1 done" in status


def _record(run, method, budget, seed=0, protocol="default", value=0.5, tuning=None):
    return RunRecord(
        run_id=run, method=method, dataset="synth-mirflickr@0.05", dataset_fingerprint="f",
        bits=16, seed=seed, budget=budget, params={"ridge": 0.1}, pair_fused=False,
        metrics={"i2t": {"map@50": value}, "t2i": {"map@50": value}}, timings={},
        provenance={}, protocol=protocol, tuning=tuning or {},
    )  # fmt: skip


def test_runs_stored_twice_before_the_rule_count_once():
    """A store written before: cca-itq under both budgets (same parameters, other ids)."""
    records = [
        _record("q0", "cca-itq", "quick"),
        _record("p0", "cca-itq", "paper"),
        _record("q1", "cca-itq", "quick", seed=1),  # only quick at seed 1: kept
        _record("s-q", "spikehash", "quick"),
        _record("s-p", "spikehash", "paper"),
    ]
    free = {"cca-itq"}
    assert [r.run_id for r in select_budgets(records, None, free)] == ["p0", "q1", "s-q", "s-p"]
    quick = select_budgets(records, ["quick"], free)
    assert [r.run_id for r in quick] == ["p0", "q1", "s-q"]  # cca-itq serves the quick budget
    labels = variant_labels(select_budgets(records, None, free), budget_free=free)
    assert labels == {
        "p0": "cca-itq", "q1": "cca-itq", "s-q": "spikehash (quick)", "s-p": "spikehash (paper)",
    }  # fmt: skip
    assert variant_labels(quick, budget_free=free)["s-q"] == "spikehash"  # one budget shown
    assert variant_labels(records)["q0"] == "cca-itq (quick)"  # not known budget-free: as stored


def test_a_duplicated_old_store_shows_one_row_of_one_seed(cli):
    with ResultStore(default_store_path()) as store:
        for record in (
            _record("0123456789abcdef", "cca-itq", "quick", value=0.5),
            _record("fedcba9876543210", "cca-itq", "paper", value=0.5),
        ):
            store.save(record, {})
    rows = list(csv.DictReader(io.StringIO(_ok(cli("table", "--csv")))))
    assert [(r["task"], r["method"], r["seeds"]) for r in rows] == [
        ("i2t", "cca-itq", "1"),
        ("t2i", "cca-itq", "1"),
    ]


def test_tune_quick_then_run_tuned_paper_finds_the_same_runs(cli):
    """A study of a budget-free method serves every budget: `tune --budget quick` stores the
    default and tuned runs that `run --tuned --budget paper` and `run --budget paper` find."""
    _ok(cli("tune", "--methods", "cca-itq", *SMALL, "--budget", "quick", "--trials", "2"))
    tuned = _ok(cli("run", "--tuned", "--methods", "cca-itq", *SMALL, "--budget", "paper"))
    assert "0 run(s) executed, 1 skipped" in tuned
    default = _ok(cli("run", "--methods", "cca-itq", *SMALL, "--budget", "paper"))
    assert "0 run(s) executed, 1 skipped" in default
    rows = list(csv.DictReader(io.StringIO(_ok(cli("table", "--csv", "--budget", "quick")))))
    assert sorted(r["method"] for r in rows if r["task"] == "i2t") == [
        "cca-itq (default)",
        "cca-itq (tuned)",
    ]
