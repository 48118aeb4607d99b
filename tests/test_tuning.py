"""Tuning studies: the validation split, leakage, replay (resume, determinism), pruning, the
tuned and default test runs, bad declarations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import hashbench
from hashbench.data.types import Split
from hashbench.data.validation import Holdout, primary_score
from hashbench.errors import InputError, PluginError
from hashbench.executors import ExecutorSettings
from hashbench.runner.epochs import EpochMonitor, PruningRule
from hashbench.runner.execute import RunOptions
from hashbench.runner.grid import GridSpec
from hashbench.store import ResultStore
from hashbench.testing import tiny_dataset, tiny_unimodal_dataset
from hashbench.tuning import settings as ts
from hashbench.tuning.report import protocol_footnotes, show_study, study_summaries
from hashbench.tuning.session import run_tuned_grid, tune_grid
from hashbench.tuning.settings import TuneSettings
from tests.tuning_toys import ToyEpochs, ToyFails, ToySteady, leaky_twin, registry

pytestmark = pytest.mark.usefixtures("one_torch_thread")
OPTIONS = RunOptions(encode_batch_size=1024, profile=False)


def _grid(methods, dataset="tiny", **kw) -> GridSpec:
    return GridSpec(methods=methods, datasets=[dataset], bits=[16], budgets=["quick"], **kw)


def _tune(tmp_path, methods, trials=4, reg=None, name="s", **kw):
    settings = TuneSettings(trials=trials, **{"batch": 2, "pruner": "none", **kw})
    reg = reg or registry(ToyEpochs)
    with ResultStore(tmp_path / name / "hb.sqlite") as store:
        outcome = tune_grid(_grid(methods), settings, reg, store, OPTIONS)
    return outcome


def _trials(study):
    return [(t.number, t.state, t.value, t.params, t.run_id) for t in study.trials]


# --- the validation split -------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 300),
    fraction=st.floats(0.01, 0.99),
    max_queries=st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
    fit_share=st.floats(0.01, 1.0),
)
def test_holdout_partitions_the_training_split(n, fraction, max_queries, seed, fit_share):
    labels = (np.arange(n)[:, None] % 3 == np.arange(3)).astype(np.uint8)
    train = Split({"image": np.zeros((n, 2), np.float32)}, labels)
    holdout = Holdout(fraction, max_queries, seed, fit_share)
    val, fit, rest = holdout.indices(train, unimodal=False)
    n_val, n_db = holdout.sizes(n)
    assert len(val) == n_val == min(max_queries, max(1, round(fraction * n)), n - 1)
    assert len(fit) + len(rest) == n_db and len(fit) >= 1
    assert len(fit) == max(1, round(fit_share * n_db))  # the fit set's share of the database
    assert np.array_equal(np.sort(np.concatenate([val, fit, rest])), np.arange(n))
    assert all((np.diff(part) > 0).all() for part in (val, fit, rest))
    again = holdout.indices(train, unimodal=False)
    assert all(np.array_equal(a, b) for a, b in zip(again, (val, fit, rest), strict=True))
    whole = Holdout(fraction, max_queries, seed).indices(train, unimodal=False)
    assert np.array_equal(whole[0], val)  # the fit share never moves the queries
    strat, strat_fit, _ = holdout.indices(train, unimodal=True)  # every class keeps its share
    counts = np.bincount(labels[strat].argmax(1), minlength=3)
    assert counts.max() - counts.min() <= 1
    counts = np.bincount(labels[strat_fit].argmax(1), minlength=3)
    assert counts.max() - counts.min() <= 2


def test_validation_dataset_is_made_of_training_pairs_only():
    data = tiny_dataset()
    val = Holdout.for_dataset(data, seed=3, database="mirror").apply(data)
    rows = {tuple(r) for r in data.train.features["image"]}
    for split in (val.query, val.retrieval):
        assert all(tuple(r) in rows for r in split.features["image"])
    fitted = {tuple(r) for r in val.train.features["image"]}
    assert fitted <= {tuple(r) for r in val.retrieval.features["image"]}
    assert len(val.query) + len(val.retrieval) == len(data.train)
    share = len(data.train) / len(data.retrieval)  # the test protocol's training share
    assert 0.2 < share < 0.35 and abs(len(val.train) / len(val.retrieval) - share) < 0.01
    assert val.name.endswith(":val") and val.meta["holdout"].fit_share == share
    twin = leaky_twin(data)  # query/retrieval unread (their sizes are the twin's too)
    mirror = {"database": "mirror"}
    assert Holdout.for_dataset(twin, seed=3, **mirror).apply(twin).fingerprint == val.fingerprint
    assert Holdout.for_dataset(data, seed=4, **mirror).apply(data).fingerprint != val.fingerprint
    other = Holdout.for_dataset(data, 0.3, seed=3, **mirror).apply(data)
    assert other.fingerprint != val.fingerprint
    fit = Holdout(seed=3).apply(data)  # the default: the database is the fit set
    assert fit.train is fit.retrieval and fit.fingerprint != val.fingerprint
    assert Holdout.for_dataset(data, seed=3) == Holdout(seed=3)


def test_unimodal_validation_split_scales_the_depth_and_stratifies():
    data = tiny_unimodal_dataset()
    val = Holdout(seed=0).apply(data)
    assert val.task == "unimodal" and 1 <= val.retrieval_depth <= len(val.retrieval)
    per_class = np.bincount(val.query.labels.argmax(1), minlength=data.num_labels)
    assert per_class.max() - per_class.min() <= 1
    with pytest.raises(InputError, match="val-fraction"):
        Holdout(1.5)


def test_the_validation_score_is_the_primary_metric():
    cross = {"i2t": {"map@50": 0.5}, "t2i": {"map@50": 0.7}}
    assert primary_score(cross) == pytest.approx(0.6)
    assert primary_score({"unimodal": {"map@50": 0.1, "map@37": 0.4}}, depth=37) == 0.4


def test_pruning_scores_only_validation_data():
    with pytest.raises(InputError, match="only a validation split"):
        EpochMonitor(tiny_dataset(), lambda method: {}, PruningRule())


# --- leakage: the test --------------------------------------------------------------


def test_studies_never_see_query_or_retrieval_data(tmp_path):
    """Two datasets identical but for their query and retrieval features and labels give the
    same studies, trial by trial (and the same tuned parameters)."""
    data = tiny_dataset()
    reg_a = registry(ToyEpochs, datasets={"tiny": data})
    reg_b = registry(ToyEpochs, datasets={"tiny": leaky_twin(data)})
    a = _tune(tmp_path, ["cca-itq", "toy-epochs"], trials=4, reg=reg_a, name="a")
    b = _tune(tmp_path, ["cca-itq", "toy-epochs"], trials=4, reg=reg_b, name="b")
    for study_a, study_b in zip(a.studies, b.studies, strict=True):
        assert study_a.id == study_b.id
        assert _trials(study_a) == _trials(study_b)
    tuned = {r.method: r for r in a.records if r.protocol == "tuned"}
    twins = {r.method: r for r in b.records if r.protocol == "tuned"}
    assert {m: r.params for m, r in tuned.items()} == {m: r.params for m, r in twins.items()}
    assert tuned["cca-itq"].metrics != twins["cca-itq"].metrics  # the test data did differ


# --- replay: determinism, resume, the tuned and default rows ---------------------------------


def test_same_seed_same_study_and_resume_reuses_every_trial(tmp_path):
    first = _tune(tmp_path, ["toy-epochs"], trials=3, name="x").studies[0]
    assert [t.reused for t in first.trials] == [False] * 3
    assert first.trials[0].params == {"quality": 0.3, "epochs": 4, "center": True}  # trial 0
    with ResultStore(tmp_path / "x" / "hb.sqlite") as store:
        stamps = {t.run_id: store.get(t.run_id).created_at for t in first.trials}
    longer = _tune(tmp_path, ["toy-epochs"], trials=5, name="x").studies[0]
    assert [t.reused for t in longer.trials] == [True] * 3 + [False] * 2
    assert _trials(longer)[:3] == _trials(first)  # a longer study extends the shorter one
    with ResultStore(tmp_path / "x" / "hb.sqlite") as store:
        assert {r: store.get(r).created_at for r in stamps} == stamps  # none ran again
    fresh = _tune(tmp_path, ["toy-epochs"], trials=5, name="y").studies[0]
    assert _trials(fresh) == _trials(longer)


def test_tuned_and_default_rows(tmp_path):
    outcome = _tune(tmp_path, ["toy-epochs", "lsh"], trials=4)
    assert outcome.untunable == ["lsh"]
    rows = {(r.method, r.protocol): r for r in outcome.records}
    assert set(rows) == {("toy-epochs", "default"), ("toy-epochs", "tuned"), ("lsh", "default")}
    study = outcome.studies[0]
    tuned, default = rows["toy-epochs", "tuned"], rows["toy-epochs", "default"]
    assert tuned.params == {**default.params, **study.best.params}
    assert tuned.dataset == default.dataset == "tiny" and tuned.run_id != default.run_id
    t = tuned.tuning
    assert t["study"] == study.id and t["trials"] == 4 and t["best_trial"] == study.best.number
    assert t["validation"]["queries"] + t["validation"]["database"] == len(tiny_dataset().train)
    assert t["score"] == max(x.value for x in study.trials if x.state == "complete")
    notes = protocol_footnotes([tuned, default])
    assert len(notes) == 3 and "best of 4 trials" in notes[1] and "validation split" in notes[1]
    assert "validation database = fit set" in notes[1]  # the default database
    assert notes[2].startswith("tuning cost") and "toy-epochs 1 study, 4 trials" in notes[2]
    with ResultStore(tmp_path / "s" / "hb.sqlite") as store:
        assert {r.protocol for r in store.records()} == {"default", "tuned"}  # tables' view
        assert len(store.records(protocol="trial")) == 4
        (summary,) = study_summaries(store)
        assert summary.trials == 4 and summary.tuned[0].run_id == tuned.run_id
        view = show_study(store, study.id[:6])
        assert [row[0] for row in view.trials] == [0, 1, 2, 3]
        assert view.importances or "importances need" in view.note
        grid = _grid(["toy-epochs"], seeds=[0, 1])
        again = run_tuned_grid(grid, registry(ToyEpochs), store, OPTIONS)
        assert again.skipped == 1 and again.executed == 1  # seed 0 is the tune's own run
        assert {r.params == tuned.params for r in again.records} == {True}
        with pytest.raises(InputError, match="no tuning study of toy-epochs"):
            grid = GridSpec(["toy-epochs"], ["tiny"], [32], budgets=["quick"])
            run_tuned_grid(grid, registry(ToyEpochs), store, OPTIONS)


def test_a_study_whose_trials_all_fail(tmp_path):
    outcome = _tune(tmp_path, ["toy-fails"], trials=2, reg=registry(ToyFails))
    study, default = outcome.failed  # the study, and the default row's own run
    assert "all 2 trials failed" in study[1] and "always fails" in study[1]
    assert default[0].endswith("default run") and "always fails" in default[1]
    with ResultStore(tmp_path / "s" / "hb.sqlite") as store:
        assert not store.records(protocol="tuned")


# --- pruning --------------------------------------------------------------------------------


def test_median_pruning_stops_trials_and_replays_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(ts, "STARTUP_TRIALS", 100)  # random search: some trials are hopeless
    reg = registry(ToySteady)
    kw = {"trials": 8, "batch": 4, "pruner": "median", "name": "p", "reg": reg}
    study = _tune(tmp_path, ["toy-steady"], **kw).studies[0]
    states = [t.state for t in study.trials]
    assert "pruned" in states[4:] and "pruned" not in states[:4]  # the rule needs 4 done
    assert all(len(t.curve) == 5 for t in study.trials if t.state == "complete")
    with ResultStore(tmp_path / "p" / "hb.sqlite") as store:
        pruned = next(t for t in study.trials if t.state == "pruned")
        record = store.get(pruned.run_id)
        assert record.protocol == "trial" and "pruned" in record.metrics
        assert len(record.metrics["validation_curve"]) < 5
        assert not store.load_arrays(record)  # no codes for a pruned trial
    again = _tune(tmp_path, ["toy-steady"], **kw).studies[0]
    assert _trials(again) == _trials(study)
    assert all(t.reused for t in again.trials)


# --- declarations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "space, message",
    [
        ({"nope": hashbench.Float(0.0, 1.0)}, "search_space names 'nope'"),
        ({"quality": hashbench.Float(0.9, 0.1)}, "empty range"),
        ({"quality": hashbench.Float(0.1, None)}, "needs both bounds"),
        ({"quality": hashbench.Float(0.5, 2.0)}, "not inside its param_ranges"),
        ({"center": hashbench.UpToBudget(2)}, "default is no int"),
    ],
)
def test_bad_search_spaces_are_refused_when_the_plugin_loads(space, message):
    bad = type("Bad", (ToyEpochs,), {"search_space": space})
    loaded = registry(bad)  # the method is unavailable; the registry still loads
    assert message in loaded.broken[bad.info.name] and bad.info.name not in loaded.methods
    with pytest.raises(PluginError, match=message):
        loaded.method(bad.info.name)


def test_bad_settings():
    with pytest.raises(InputError, match="--trials 0"):
        TuneSettings(trials=0)
    with pytest.raises(InputError, match="--batch-size"):
        TuneSettings(batch=0)
    with pytest.raises(InputError, match="--pruner"):
        TuneSettings(pruner="hyperband")


@pytest.mark.slow
def test_a_study_is_the_same_on_any_executor(tmp_path):
    """Batches are asked and told whole, so 2 worker processes give the local study."""
    reg = registry()
    grid = GridSpec(["cca-itq"], ["synth-mirflickr"], [16], budgets=["quick"], scale=0.05)
    settings = TuneSettings(trials=4, batch=2, pruner="none")
    studies = []
    for name, workers in (("local", None), ("process", 2)):
        executor = reg.executor(name)(ExecutorSettings(workers=workers))
        with ResultStore(tmp_path / name / "hb.sqlite") as store:
            outcome = tune_grid(grid, settings, reg, store, OPTIONS, executor=executor)
        studies.append(_trials(outcome.studies[0]))
    assert studies[0] == studies[1]
    assert torch.get_num_threads() == 1


# --- every registered method ----------------------------------------------------------------

REGISTRY = registry()
PROTOCOLS = ("mirflickr", "nuswide", "mscoco", "cifar10", "dvs128-gesture", "cifar10-dvs")


@pytest.mark.parametrize("name", sorted(REGISTRY.methods))
def test_search_spaces_hold_every_default(name):
    """Trial 0 (the method's own values) lies inside its search space for every dataset and
    budget, and a method with tunable hyperparameters declares a space."""
    cls = REGISTRY.method(name)
    numeric = [k for k, v in cls.default_params.items() if isinstance(v, float)]
    assert cls.search_space or not numeric, f"{name}: no search space"
    for protocol in PROTOCOLS:
        for budget in ("paper", "quick"):
            params = cls.resolve_params(protocol, budget)
            for key, domain in ts.search_space(cls, params).items():
                assert domain.check(params[key]) is None, (protocol, budget, key)


def _epoch_cases():
    quick = {"lsh", "cca-itq"}
    for name in sorted(REGISTRY.methods):
        marks = () if name in quick else (pytest.mark.slow,)
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", _epoch_cases())
def test_scoring_during_training_leaves_the_codes_unchanged(name):
    """A trial scored after every epoch (for pruning) ends with the codes of a plain run, and
    the deep methods do report their epochs."""
    from dataclasses import replace

    from hashbench.runner.execute import PlannedRun, execute_run
    from hashbench.runner.spec import RunSpec

    cls = REGISTRY.method(name)
    unimodal = "cross-modal" not in cls.info.tasks
    data = Holdout(seed=0).apply(tiny_unimodal_dataset() if unimodal else tiny_dataset())
    overrides = dict(cls.test_params)
    if "epochs" in cls.default_params:
        overrides["epochs"] = 3
    plan = PlannedRun.resolve(RunSpec(name, data.name, 16, 0, "quick", overrides), cls, data)
    plain, codes = execute_run(plan, data, OPTIONS)
    scored, again = execute_run(replace(plan, pruning=PruningRule()), data, OPTIONS)
    assert codes.keys() == again.keys()
    assert all(np.array_equal(codes[k], again[k]) for k in codes)
    if "epochs" in cls.default_params:
        assert [e for e, _ in scored.metrics["validation_curve"]] == [0, 1]
