"""What tuning cost (trials per state, trial time, refit time) from the stored trials, the
`--time-budget` stopping rule, and the validation database that mirrors the test protocol."""

from __future__ import annotations

import pytest

import hashbench.tuning.study as study_module
from hashbench.data.validation import Holdout, protocol_fit_share
from hashbench.runner.execute import RunOptions
from hashbench.runner.grid import GridSpec
from hashbench.store import ResultStore
from hashbench.testing import tiny_dataset, tiny_unimodal_dataset
from hashbench.tuning.cost import cost_footnote, duration
from hashbench.tuning.report import study_summaries
from hashbench.tuning.session import run_tuned_grid, tune_grid
from hashbench.tuning.settings import TuneSettings
from tests.test_tune_cli import SMALL, _with
from tests.tuning_toys import ToyEpochs, ToyFails, ToySteady, registry

pytestmark = pytest.mark.usefixtures("one_torch_thread")
OPTIONS = RunOptions(encode_batch_size=1024, profile=False)
GRID = GridSpec(methods=["toy-epochs"], datasets=["tiny"], bits=[16], budgets=["quick"])


def _tune(path, reg=None, grid=GRID, **kw):
    settings = TuneSettings(**{"trials": 4, "batch": 2, "pruner": "none", **kw})
    with ResultStore(path) as store:
        return tune_grid(grid, settings, reg or registry(ToyEpochs), store, OPTIONS)


def _fake_time(monkeypatch, seconds_per_trial: float) -> None:
    """Every stored trial took `seconds_per_trial` (no real waiting)."""
    monkeypatch.setattr(study_module, "trial_seconds", lambda record: seconds_per_trial)


# --- what tuning cost -----------------------------------------------------------------------


def test_cost_numbers_are_the_stored_trials(tmp_path, monkeypatch):
    monkeypatch.setattr(study_module.ts, "STARTUP_TRIALS", 100)  # random search: some pruned
    path = tmp_path / "hb.sqlite"
    grid = GridSpec(["toy-steady"], ["tiny"], [16], budgets=["quick"])
    outcome = _tune(path, registry(ToySteady), grid, trials=8, batch=4, pruner="median")
    (tuned,) = [r for r in outcome.records if r.protocol == "tuned"]
    t = tuned.tuning
    with ResultStore(path) as store:
        trials = [store.get(run_id) for run_id in t["trial_runs"]]
        (summary,) = study_summaries(store)
    total = sum(r.timings["total_s"] for r in trials)
    pruned = sum("pruned" in r.metrics for r in trials)
    assert pruned >= 1 and t["trials_pruned"] == pruned and t["trials_complete"] == 8 - pruned
    assert t["trial_seconds"] == pytest.approx(total) and total > 0
    assert summary.states == {"complete": 8 - pruned, "pruned": pruned}
    assert summary.trial_seconds == pytest.approx(total)
    assert summary.refit_seconds == tuned.timings["total_s"]
    note = cost_footnote(outcome.records)
    assert f"toy-steady 1 study, 8 trials ({pruned} pruned), {duration(total)} of trials" in note
    assert f"+ {duration(tuned.timings['total_s'])} refit" in note


def test_a_study_shared_by_seeds_counts_once_and_each_refit_counts(tmp_path):
    path = tmp_path / "hb.sqlite"
    outcome = _tune(path)
    (tuned,) = [r for r in outcome.records if r.protocol == "tuned"]
    with ResultStore(path) as store:
        grid = GridSpec(["toy-epochs"], ["tiny"], [16], seeds=[0, 1], budgets=["quick"])
        again = run_tuned_grid(grid, registry(ToyEpochs), store, OPTIONS)
    refits = sum(r.timings["total_s"] for r in again.records)
    note = cost_footnote(again.records)
    assert "toy-epochs 1 study, 4 trials" in note
    assert f"{duration(tuned.tuning['trial_seconds'])} of trials" in note
    assert f"+ {duration(refits)} of 2 refits" in note
    old = {**tuned.tuning}
    del old["trial_seconds"]  # a tuned run stored before trial times were recorded
    tuned.tuning = old
    assert "trial time not recorded" in cost_footnote([tuned])


def test_a_failed_trial_counts_the_time_until_it_failed(tmp_path):
    path = tmp_path / "hb.sqlite"
    grid = GridSpec(["toy-fails"], ["tiny"], [16], budgets=["quick"])
    study = _tune(path, registry(ToyFails), grid, trials=2).studies[0]
    with ResultStore(path) as store:
        failed = [store.get(t.run_id) for t in study.trials]
        (summary,) = study_summaries(store)
    assert [r.status for r in failed] == ["failed", "failed"]
    times = [r.timings["total_s"] for r in failed]
    assert all(t > 0 for t in times) and [t.seconds for t in study.trials] == times
    assert study.trial_seconds == pytest.approx(sum(times)) == summary.trial_seconds
    assert summary.states == {"failed": 2}


def test_report_run_details_show_the_cost(tmp_path):
    from hashbench.report.site_runs import run_details

    outcome = _tune(tmp_path / "hb.sqlite", time_budget_s=1e6)
    (tuned,) = [r for r in outcome.records if r.protocol == "tuned"]
    (detail,) = run_details([tuned], {}, "map@50", {}, set())
    facts = dict(detail.tuning)
    assert facts["tuning cost"] == f"4 trials, {duration(tuned.tuning['trial_seconds'])} of trials"
    assert facts["time budget"] == f"{duration(1e6)} per study, at most 4 trials"
    assert ("total_s", tuned.timings["total_s"]) in detail.timings  # the refit's own time


# --- the time budget ------------------------------------------------------------------------


def test_a_time_budget_stops_new_batches(tmp_path, monkeypatch):
    _fake_time(monkeypatch, 10.0)
    full = _tune(tmp_path / "full.sqlite", trials=8).studies[0]
    path = tmp_path / "hb.sqlite"
    outcome = _tune(path, trials=8, time_budget_s=25)
    study = outcome.studies[0]
    # batches of 2 trials of 10 s: 20 s < 25 s, so a second batch; 40 s >= 25 s: stop
    assert len(study.trials) == 4 and study.budget_spent
    assert [t.run_id for t in study.trials] == [t.run_id for t in full.trials[:4]]
    (tuned,) = [r for r in outcome.records if r.protocol == "tuned"]
    t = tuned.tuning
    assert (t["trials"], t["time_budget_s"], t["trials_cap"], t["budget_spent"]) == (4, 25, 8, True)
    assert t["trial_seconds"] == 40
    again = _tune(path, trials=8, time_budget_s=25).studies[0]  # replays to the same stop
    assert [t.run_id for t in again.trials] == [t.run_id for t in study.trials]
    assert all(t.reused for t in again.trials)
    assert len(_tune(path, trials=8, time_budget_s=45).studies[0].trials) == 6  # extends it
    capped = _tune(path, trials=3, time_budget_s=1000).studies[0]  # --trials stays the cap
    assert len(capped.trials) == 3 and not capped.budget_spent


def test_the_first_batch_always_runs_and_earlier_trials_count(tmp_path, monkeypatch):
    _fake_time(monkeypatch, 10.0)
    path = tmp_path / "hb.sqlite"
    tiny = _tune(path, trials=8, batch=1, time_budget_s=0.5).studies[0]
    assert [t.number for t in tiny.trials] == [0]  # trial 0, the method's own values
    _tune(path, trials=6)  # an equal-trials study stored first
    resumed = _tune(path, trials=8, batch=2, time_budget_s=15).studies[0]
    assert len(resumed.trials) == 2 and all(t.reused for t in resumed.trials)


def test_time_budget_must_be_positive():
    from hashbench.errors import InputError

    for bad in (0, -5, float("inf"), float("nan")):
        with pytest.raises(InputError, match="--time-budget"):
            TuneSettings(time_budget_s=bad)
    with pytest.raises(InputError, match="--val-database"):
        TuneSettings(val_database="all")


# --- the validation database mirrors the test protocol --------------------------------------


def test_fit_share_follows_each_datasets_protocol():
    cross, uni = tiny_dataset(), tiny_unimodal_dataset()
    assert protocol_fit_share(cross) == len(cross.train) / len(cross.retrieval)
    assert protocol_fit_share(uni) == len(uni.train) / len(uni.retrieval)
    for data in (cross, uni):
        val = Holdout.for_dataset(data, seed=0, database="mirror").apply(data)
        assert len(val.train) / len(val.retrieval) == pytest.approx(
            protocol_fit_share(data), abs=1 / len(val.retrieval)
        )
        # unimodal R still scales with the database (now fit and database-only items)
        if data.retrieval_depth is not None:
            scaled = data.retrieval_depth * len(val.retrieval) / len(data.retrieval)
            assert val.retrieval_depth == max(1, round(scaled))


def test_a_database_that_is_the_training_set_keeps_the_old_split():
    from dataclasses import replace

    data = tiny_dataset()
    same = replace(data, retrieval=data.train)  # e.g. DVS128 Gesture: retrieval = training
    assert protocol_fit_share(same) == 1.0
    mirrored = Holdout.for_dataset(same, seed=2, database="mirror").apply(same)
    old = Holdout(seed=2).apply(same)
    assert mirrored.fingerprint == old.fingerprint and mirrored.train is mirrored.retrieval


def test_old_and_new_protocol_studies_never_mix(tmp_path):
    path = tmp_path / "hb.sqlite"
    old = _tune(path)  # the default: the database is the fit set
    new = _tune(path, val_database="mirror")
    assert old.studies[0].id != new.studies[0].id
    assert not {t.run_id for t in old.studies[0].trials} & {t.run_id for t in new.studies[0].trials}
    tuned = {r.tuning["validation"]["database_rule"]: r for r in old.records + new.records
             if r.protocol == "tuned"}  # fmt: skip
    assert tuned["fit"].tuning["validation"]["fit_share"] == 1.0
    assert tuned["mirror"].tuning["validation"]["fit_share"] < 0.35
    with ResultStore(path) as store:
        rules = {s.study: s.database for s in study_summaries(store)}
    assert rules[old.studies[0].id] == "fit (fit 100%)"
    assert Holdout.for_dataset(tiny_dataset()).fit_share == 1.0  # fit is the default
    share = protocol_fit_share(tiny_dataset())
    assert rules[new.studies[0].id] == f"mirror (fit {share:.0%})"
    with ResultStore(path) as store:
        grid = GridSpec(["toy-epochs"], ["tiny"], [16], seeds=[0], budgets=["quick"])
        again = run_tuned_grid(grid, registry(ToyEpochs), store, OPTIONS)
    (record,) = again.records  # `run --tuned` takes the default protocol's study
    assert record.tuning["study"] == old.studies[0].id and again.skipped == 1


# --- the CLI ----------------------------------------------------------------------------------


def test_cost_and_budget_through_the_cli(cli, tmp_path, monkeypatch):
    _with(monkeypatch, ToyEpochs)
    _fake_time(monkeypatch, 20.0)
    store = str(tmp_path / "hb.sqlite")
    args = ("tune", "--methods", "toy-epochs", *SMALL, "--store", store, "--batch-size", "2")
    result = cli(*args, "--trials", "6", "--time-budget", "50", "--val-database", "mirror")
    assert result.exit_code == 0, result.output
    assert "4 trials, 50.0 s budget: budget spent" in result.output
    with ResultStore(store) as results:
        (tuned,) = results.records(protocol="tuned")
        trials = [results.get(r) for r in tuned.tuning["trial_runs"]]
    real = sum(r.timings["total_s"] for r in trials)  # the store holds the real times
    shown = cli("tune", "--show", tuned.tuning["study"], "--store", store)
    assert shown.exit_code == 0, shown.output
    assert f"cost: 4 trials stored, {duration(real)} of trials" in shown.output
    assert "a 50.0 s time budget allowed 4 of at most 6" in shown.output
    status = cli("status", "--store", store)
    assert "trial time" in status.output and duration(real) in status.output
    assert "mirror (fit 28%)" in status.output  # synth-mirflickr@0.05: 250 of 901 items
    table = cli("table", "--store", store, "--markdown")
    assert "tuning cost" in table.output and "toy-epochs 1 study, 4 trials" in table.output
    assert "time budget per study allowed" in table.output
    bad = cli(*args, "--time-budget", "-1")
    assert bad.exit_code != 0 and "--time-budget -1" in bad.output
