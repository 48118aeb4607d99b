"""One tuning study, replayed from the store: ask, run (or reuse) the trial, tell.

The Optuna study lives in memory only. Trial k is whatever the seeded TPE sampler asks given the
results told before it, so replaying the same study against the store asks the same trials in
the same order; each trial is an ordinary content-addressed run on the validation split, reused
when the store has it and otherwise executed through the usual executors with the store's run
claims. A killed `hashbench tune` therefore resumes by replaying, with no trial run twice, and
two processes on one store share a batch's trials and wait for each other's results.

Trials are asked `batch` at a time and told together when the whole batch is in, so the study
does not depend on how many workers run the batch or in which order they finish. The median
pruning rule of a batch is computed from the trials completed in earlier batches (Optuna's
MedianPruner rule: stop a trial after epoch e when its validation score is below the median of
the completed trials' scores after epoch e), so it is as deterministic as the rest.

With a time budget (`TuneSettings.time_budget_s`) a study asks no new batch once the stored run
times of its trials so far add up to the budget; the first batch (with trial 0, the method's
own values) always runs. The stopping point is read from the store's timings, so a replay of a
stored study stops where it stopped; a fresh study on another machine may stop elsewhere.
"""

from __future__ import annotations

import logging
import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import optuna

from hashbench.data.types import CrossModalDataset
from hashbench.data.validation import Holdout, primary_score
from hashbench.errors import RunFailedError
from hashbench.runner.epochs import PruningRule
from hashbench.runner.execute import PlannedRun
from hashbench.store import ResultStore, RunRecord
from hashbench.tuning import settings as ts
from hashbench.tuning.cost import seconds

optuna.logging.set_verbosity(logging.ERROR)


@dataclass
class TrialResult:
    """One trial as told to the study."""

    number: int
    params: dict[str, Any]  # the searched parameters' values
    run_id: str
    state: str = "pending"  # "complete", "pruned", "failed" or "pending" (not in the store)
    value: float | None = None
    curve: list[tuple[int, float]] = field(default_factory=list)
    error: str = ""
    reused: bool = False  # not executed by this process (stored before, or by another one)
    seconds: float | None = None  # the stored run's total time (None: not stored)


@dataclass
class Study:
    """One (method, dataset, bits, seed, budget) study and everything needed to replay it."""

    base: PlannedRun  # the method at its own values on the test protocol (the "default" row)
    validation: CrossModalDataset
    holdout: Holdout
    space: dict[str, ts.Domain]
    settings: ts.TuneSettings
    id: str
    trials: list[TrialResult] = field(default_factory=list)
    budget_spent: bool = False  # the time budget stopped the study before `settings.trials`

    @property
    def label(self) -> str:
        s = self.base.spec
        return f"{s.method} / {self.base.dataset_label} / {s.bits} bits / seed {s.seed}"

    @property
    def completed(self) -> list[TrialResult]:
        return [t for t in self.trials if t.state == "complete"]

    @property
    def trial_seconds(self) -> float:
        """The trials' summed run time (a trial that stored none counts 0)."""
        return sum(t.seconds or 0.0 for t in self.trials)

    def count(self, state: str) -> int:
        return sum(t.state == state for t in self.trials)

    @property
    def best(self) -> TrialResult | None:
        """The completed trial with the highest validation score (the earliest of equals)."""
        done = self.completed
        return max(done, key=lambda t: (t.value, -t.number)) if done else None

    def sampler(self) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(
            seed=self.base.spec.seed, n_startup_trials=ts.STARTUP_TRIALS
        )

    def pruning_rule(self) -> PruningRule | None:
        """The rule for the next batch, from the trials completed before it."""
        if self.settings.pruner == "none":
            return None
        done = [t for t in self.completed if t.curve]
        if len(done) < ts.PRUNE_STARTUP:
            return PruningRule()
        by_epoch: dict[int, list[float]] = {}
        for t in done:
            for epoch, score in t.curve:
                by_epoch.setdefault(epoch, []).append(score)
        return PruningRule(
            tuple(
                (epoch, statistics.median(scores))
                for epoch, scores in sorted(by_epoch.items())
                if epoch >= ts.PRUNE_WARMUP
            )
        )

    def trial_plan(self, number: int, values: dict[str, Any], rule: PruningRule | None):
        """The planned run of a trial: the method with `values` on the validation split."""
        spec = replace(self.base.spec, overrides={**self.base.spec.overrides, **values})
        plan = PlannedRun.resolve(
            spec,
            self.base.method_cls,
            self.validation,
            dataset_label=self.base.dataset_label + ":val",
            origin=self.base.origin,
        )
        run_id = plan.run_id
        if rule is not None:
            run_id = ts.derived_id(plan.run_id, pruning=rule.as_dict())
        tuning = {
            "study": self.id,
            "trial": number,
            "space": {name: ts.describe(d) for name, d in self.space.items()},
            "depth": self.validation.retrieval_depth,
            # the validation database (not part of the run id: the split's fingerprint is)
            "database_rule": self.settings.val_database,
            "fit_share": self.holdout.fit_share,
        }
        return replace(plan, run_id=run_id, protocol="trial", tuning=tuning, pruning=rule)


# (plans) -> ids of the runs this process executed: runs what the store lacks, waiting for
# the runs other processes hold
Executes = Callable[[Sequence[PlannedRun]], set[str]]


def replay(
    study: Study,
    store: ResultStore,
    execute: Executes | None,
    on_trial: Callable[[Study, TrialResult], None] = lambda study, trial: None,
    stop_on_failure: bool = False,
) -> optuna.Study:
    """Replay `study` up to `settings.trials` trials; run missing ones with `execute`.

    With `execute=None` nothing runs: the replay stops at the first trial the store lacks
    (`tune --show` of a study in progress). Returns the in-memory Optuna study.
    """
    optuna_study = optuna.create_study(direction="maximize", sampler=study.sampler())
    optuna_study.enqueue_trial(ts.start_values(study.space, study.base.params))
    study.trials, study.budget_spent = [], False
    total, batch = study.settings.trials, study.settings.batch
    budget = study.settings.time_budget_s
    while len(study.trials) < total:
        if budget is not None and study.trials and study.trial_seconds >= budget:
            study.budget_spent = True
            break
        rule = study.pruning_rule()
        asked = []
        for _ in range(min(batch, total - len(study.trials))):
            trial = optuna_study.ask()
            values = {name: d.suggest(trial, name) for name, d in study.space.items()}
            number = len(study.trials) + len(asked)
            asked.append((trial, study.trial_plan(number, values, rule), values))
        plans = [plan for _, plan, _ in asked]
        statuses = store.statuses([p.run_id for p in plans])
        ran: set[str] = set()
        if execute is not None and any(statuses.get(p.run_id) != "done" for p in plans):
            ran = execute(plans)
            statuses = store.statuses([p.run_id for p in plans])
        for trial, plan, values in asked:
            result = TrialResult(trial.number, values, plan.run_id, reused=plan.run_id not in ran)
            status = statuses.get(plan.run_id)
            if status is None or (status == "failed" and execute is None):
                return optuna_study  # not in the store (yet): a partial replay ends here
            _tell(optuna_study, trial, result, store.get(plan.run_id), study.validation)
            if result.state == "failed" and stop_on_failure:
                raise RunFailedError(f"{study.label}: trial {result.number} failed: {result.error}")
            study.trials.append(result)
            on_trial(study, result)
    return optuna_study


def _tell(
    optuna_study: optuna.Study,
    trial: optuna.Trial,
    result: TrialResult,
    record: RunRecord,
    validation: CrossModalDataset,
) -> None:
    curve, problem = _stored_curve(record.metrics.get("validation_curve", []))
    result.curve = curve
    result.seconds = trial_seconds(record)
    for epoch, score in curve:
        trial.report(score, epoch)
    if problem is not None:  # stored before epoch_end was checked: told as failed, not replayed
        result.state = "failed"
        result.error = f"stored trial {record.run_id} has an unusable validation curve ({problem})"
        optuna_study.tell(trial, state=optuna.trial.TrialState.FAIL)
    elif record.status != "done":
        result.state = "failed"
        lines = record.error.strip().splitlines()
        # the traceback's last line, without the exception's module: "PluginError: ..."
        result.error = re.sub(r"^[\w.]+\.(\w+: )", r"\1", lines[-1]) if lines else "failed"
        optuna_study.tell(trial, state=optuna.trial.TrialState.FAIL)
    elif "pruned" in record.metrics:
        result.state = "pruned"
        result.value = float(record.metrics["pruned"]["score"])
        optuna_study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        result.state = "complete"
        result.value = primary_score(record.metrics, validation.retrieval_depth)
        optuna_study.tell(trial, result.value)


def trial_seconds(record: RunRecord) -> float | None:
    """A stored run's wall time (`timings["total_s"]`; a pruned trial's is its training time,
    validation scoring included; a failed trial's is the time until it failed); None when it
    stored none (a failed run stored before failures recorded their time)."""
    return seconds(record)


def _stored_curve(raw: Any) -> tuple[list[tuple[int, float]], str | None]:
    """A stored validation curve as (epoch, score) pairs, or ([], what is wrong with it): epochs
    must be integers >= 0 going forward and scores finite."""
    curve: list[tuple[int, float]] = []
    try:
        for epoch, score in raw:
            if isinstance(epoch, bool) or int(epoch) != epoch or epoch < 0:
                return [], f"epoch {epoch!r}"
            if curve and epoch <= curve[-1][0]:
                return [], f"epoch {epoch} after {curve[-1][0]}"
            if not math.isfinite(float(score)):
                return [], f"score {score!r} at epoch {epoch}"
            curve.append((int(epoch), float(score)))
    except (TypeError, ValueError):
        return [], f"not a list of (epoch, score): {raw!r}"[:200]
    return curve, None


def wait_and_run(
    run: Callable[[Sequence[PlannedRun]], tuple[list[PlannedRun], set[str]]], poll_s: float
) -> Executes:
    """An `Executes` from `run` (which returns the plans another process holds and the ids it
    executed): run what is free, then wait for the others' results, taking over any whose
    owner died."""

    def execute(plans: Sequence[PlannedRun]) -> set[str]:
        pending, executed = list(plans), set()
        while pending:
            pending, ran = run(pending)
            executed |= ran
            if pending:
                time.sleep(poll_s)
        return executed

    return execute
