"""Studies as the store holds them: the list for `hashbench status`, one study's trials and
parameter importances for `hashbench tune --show`, and the tables' protocol footnote.

Everything here reads stored records only: trial runs carry {"study", "trial", "space"} in
their `tuning` field, tuned runs the whole study summary (`session.tuning_record`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import optuna

from hashbench.data.validation import primary_score
from hashbench.errors import InputError
from hashbench.store import ResultStore, RunRecord
from hashbench.tuning.cost import cost_footnote, duration, seconds


def database_rule(tuning: dict[str, Any]) -> str:
    """How a trial's validation database was made: "mirror (fit 28%)", or "fit" (the database
    is the fit set; trials stored before `--val-database` existed record no rule)."""
    rule = tuning.get("database_rule")
    if rule is None:
        return "fit"
    return f"{rule} (fit {tuning.get('fit_share', 1.0):.0%})"


def trial_state(record: RunRecord) -> tuple[str, float | None]:
    """("complete" | "pruned" | "failed", validation score) of a stored trial run."""
    if record.status != "done":
        return "failed", None
    if "pruned" in record.metrics:
        return "pruned", float(record.metrics["pruned"]["score"])
    return "complete", primary_score(record.metrics, record.tuning.get("depth"))


@dataclass
class StudySummary:
    """What `hashbench status` lists about one study."""

    study: str
    method: str
    dataset: str
    bits: int
    seed: int
    budget: str
    trials: int = 0  # stored trial runs
    best: float | None = None  # best validation score so far
    tuned: list[RunRecord] = field(default_factory=list)  # tuned test runs of this study
    states: dict[str, int] = field(default_factory=dict)  # stored trials per state
    trial_seconds: float = 0.0  # the stored trials' summed run time
    database: str = ""  # the validation database's rule (see `database_rule`)

    @property
    def refit_seconds(self) -> float | None:
        """The run time of the latest tuned (refit) run of this study, if any."""
        times = [seconds(r) for r in self.tuned]
        return next((t for t in reversed(times) if t is not None), None)


def study_summaries(store: ResultStore) -> list[StudySummary]:
    """Every study the store knows of (trials stored, best validation score, tuned runs)."""
    out: dict[str, StudySummary] = {}

    def summary(record: RunRecord, study: str) -> StudySummary:
        dataset = record.dataset.removesuffix(":val")
        return out.setdefault(
            study,
            StudySummary(study, record.method, dataset, record.bits, record.seed, record.budget),
        )

    trials = store.records(protocol="trial") + store.failures()
    for record in trials:
        study = record.tuning.get("study")
        if record.protocol != "trial" or not study:
            continue
        entry = summary(record, study)
        entry.database = entry.database or database_rule(record.tuning)
        entry.trials += 1
        state, value = trial_state(record)
        entry.states[state] = entry.states.get(state, 0) + 1
        entry.trial_seconds += seconds(record) or 0.0
        if state == "complete" and (entry.best is None or value > entry.best):
            entry.best = value
    for record in store.records(protocol="tuned"):
        summary(record, record.tuning["study"]).tuned.append(record)
    return sorted(out.values(), key=lambda s: (s.dataset, s.method, s.bits, s.seed, s.study))


@dataclass
class StudyView:
    """One study for `tune --show`: its trials in order and the parameters' importances."""

    summary: StudySummary
    space: dict[str, Any]
    trials: list[tuple[int, str, float | None, dict[str, Any], str]]  # number, state, value, ...
    importances: dict[str, float] = field(default_factory=dict)
    note: str = ""


def show_study(store: ResultStore, study_id: str) -> StudyView:
    """The study whose id starts with `study_id`, from the store."""
    matches = [s for s in study_summaries(store) if s.study.startswith(study_id)]
    if len(matches) != 1:
        what = "no study" if not matches else f"{len(matches)} studies"
        raise InputError(
            f"tune --show {study_id}: {what} with that id in {store.path}; "
            "`hashbench status` lists the studies"
        )
    summary = matches[0]
    records = {}
    for record in store.records(protocol="trial") + store.failures():
        if record.tuning.get("study") == summary.study:
            records[record.tuning["trial"]] = record
    for tuned in summary.tuned:  # trials another study ran first (e.g. the defaults)
        for number, run_id in enumerate(tuned.tuning.get("trial_runs", [])):
            if number not in records:
                records[number] = store.get(run_id)
    space = next(iter(records.values())).tuning.get("space", {}) if records else {}
    rows = []
    for number in sorted(records):
        record = records[number]
        state, value = trial_state(record)
        params = {name: record.params.get(name) for name in space}
        rows.append((number, state, value, params, record.run_id))
    view = StudyView(summary, space, rows)
    view.importances, view.note = importances(space, rows)
    return view


def _distribution(domain: dict[str, Any]) -> optuna.distributions.BaseDistribution:
    if "choice" in domain:
        return optuna.distributions.CategoricalDistribution(domain["choice"])
    if "int" in domain:
        low, high = domain["int"]
        return optuna.distributions.IntDistribution(low, high, log=domain["log"])
    low, high = domain["float"]
    return optuna.distributions.FloatDistribution(low, high, log=domain["log"])


def _inside(domain: dict[str, Any], value: Any) -> bool:
    if "choice" in domain:
        return value in domain["choice"]
    low, high = domain.get("int") or domain["float"]
    return isinstance(value, int | float) and low <= value <= high


def importances(space: dict[str, Any], rows: Iterable[tuple]) -> tuple[dict[str, float], str]:
    """fANOVA importances (Optuna's default evaluator, seeded) of the completed trials inside
    the space, or ({}, why not)."""
    if len(space) < 2:
        return {}, "importances need at least two searched parameters"
    study = optuna.create_study(direction="maximize")
    distributions = {name: _distribution(d) for name, d in space.items()}
    for _, state, value, params, _ in rows:
        if state != "complete" or value is None or not math.isfinite(value):
            continue
        if not all(_inside(space[name], value) for name, value in params.items()):
            continue  # trial 0's own value may lie outside a declared range
        study.add_trial(
            optuna.trial.create_trial(params=params, distributions=distributions, value=value)
        )
    done = len(study.trials)
    if done < 3:
        return {}, f"importances need at least 3 completed trials inside the space ({done} so far)"
    if len({t.value for t in study.trials}) < 2:
        return {}, "every completed trial scored the same: no importances"
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    return dict(optuna.importance.get_param_importances(study, evaluator=evaluator)), ""


def _database_text(val: dict[str, Any]) -> str:
    """How the validation database was made, from a tuned run's `tuning["validation"]` (the
    same words for every dataset, so one footnote covers a protocol; shares: docs/tuning.md)."""
    if val.get("database_rule") == "mirror":
        return (
            "validation database: the other training pairs, of which a trial fits on the "
            "dataset's training share of the test retrieval set"
        )
    return "validation database = fit set"


def protocol_footnotes(records: Iterable[RunRecord]) -> list[str]:
    """One footnote per distinct tuning protocol among `records` (tuned runs), for the LaTeX
    and Markdown tables: trials, sampler, pruner and validation split; then what tuning cost
    (`cost_footnote`). Empty without tuned rows.

    The table code calls this with the records it shows; default rows need no note beyond the
    first sentence, which says what "default" means.
    """
    records = list(records)
    notes: list[str] = []
    for record in records:
        if record.protocol != "tuned":
            continue
        t = record.tuning
        val, sampler, pruner = t["validation"], t["sampler"], t["pruner"]
        pruning = "median pruning" if pruner.get("name") == "median" else "no pruning"
        budget = t.get("time_budget_s")
        count = (
            f"best of the trials that a {duration(budget)} time budget per study allowed "
            f"(at most {t['trials_cap']})"
            if budget is not None
            else f"best of {t['trials']} trials"
        )
        note = (
            f"tuned: {count} (Optuna TPE, seed per run seed, "
            f"{sampler['startup_trials']} start-up trials, batches of {t['batch']}, {pruning}); "
            f"the method's own values are trial 0; selected on a validation split of the "
            f"training pairs ({val['fraction']:.0%}, at most {val['max_queries']} queries; "
            f"{_database_text(val)}; score {val['metric']}), then refit on the whole training "
            "split; the query set is never used"
        )
        if note not in notes:
            notes.append(note)
    if notes:
        notes.insert(0, "default: each method's own hyperparameters for the dataset and budget")
        notes.append(cost_footnote(records))
    return notes
