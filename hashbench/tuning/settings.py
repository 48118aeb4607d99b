"""What defines a tuning study: its cell, the search space, the sampler, the pruner, the split.

A study is one (method, dataset, bits, seed, budget) with the method's resolved search space, a
TPE sampler seeded by the run seed, trials asked in batches of `batch` (independent of the
number of workers, so the study is the same for any executor), the validation `Holdout` and the
pruner. Its id is a hash of all of these except the number of trials: a study of 16 trials
extends the one of 8 with the same first 8 trials (the sampler never looks ahead). A time
budget only decides where a study stops, so it is not part of the id either. The validation
split's fingerprint covers the fit share of its database, so studies with `--val-database fit`
(the database is the fit set, the default) and `mirror` never share an id or a trial.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hashbench.data.validation import DATABASES, DEFAULT_FRACTION, DEFAULT_MAX_QUERIES
from hashbench.errors import InputError
from hashbench.methods import Method
from hashbench.params import Choice, Domain, Float, Int, declaration_problems, resolve_space

PRUNERS = ("median", "none")
DEFAULT_TRIALS = 20
DEFAULT_BATCH = 4
STARTUP_TRIALS = 4  # TPE's random start (trial 0, the defaults, counts among them)
PRUNE_STARTUP = 4  # the median rule prunes once this many trials completed in earlier batches
PRUNE_WARMUP = 1  # ... and never after the first epoch


@dataclass(frozen=True)
class TuneSettings:
    """The options of `hashbench tune` that define its studies."""

    trials: int = DEFAULT_TRIALS
    batch: int = DEFAULT_BATCH
    pruner: str = "median"
    val_fraction: float = DEFAULT_FRACTION
    val_max_queries: int = DEFAULT_MAX_QUERIES
    val_database: str = "fit"  # the validation database: the fit set, or "mirror" (see validation)
    # seconds of trials per study (stored trial times summed, earlier trials included): no
    # new batch starts once they are spent; `trials` stays the cap. None: equal trials only.
    time_budget_s: float | None = None
    poll_s: float = 2.0  # how often to look for trials another process is running
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise InputError(
                f"--trials {self.trials}: a study needs at least 1 trial (trial 0 is the "
                "method's defaults), e.g. --trials 20"
            )
        if self.batch < 1:
            raise InputError(f"--batch-size {self.batch}: give 1 or more trials per batch")
        if self.pruner not in PRUNERS:
            raise InputError(f"--pruner {self.pruner!r}: expected one of {', '.join(PRUNERS)}")
        if self.val_database not in DATABASES:
            raise InputError(
                f"--val-database {self.val_database!r}: expected one of {', '.join(DATABASES)}"
            )
        budget = self.time_budget_s
        if budget is not None and not (math.isfinite(budget) and budget > 0):
            raise InputError(
                f"--time-budget {budget:g}: give a positive number of seconds per study, "
                "e.g. --time-budget 600"
            )

    def sampler(self, seed: int) -> dict[str, Any]:
        return {"name": "TPE", "seed": seed, "startup_trials": STARTUP_TRIALS}

    def pruner_dict(self) -> dict[str, Any]:
        if self.pruner == "none":
            return {"name": "none"}
        return {"name": "median", "startup_trials": PRUNE_STARTUP, "warmup_epochs": PRUNE_WARMUP}


def search_space(method_cls: type[Method], params: Mapping[str, Any]) -> dict[str, Domain]:
    """The method's declared search space, made concrete for these resolved parameters."""
    problems = declaration_problems(
        method_cls.default_params, method_cls.param_ranges, method_cls.search_space
    )
    if problems:
        raise InputError(
            f"method '{method_cls.info.name}' declares a bad search space: " + "; ".join(problems)
        )
    space = resolve_space(method_cls.search_space, params)
    for name, domain in space.items():
        if isinstance(domain, Float) and domain.low > domain.high:
            raise InputError(
                f"method '{method_cls.info.name}': search_space['{name}'] is empty "
                f"({domain.describe()})"
            )
    return space


def describe(domain: Domain) -> dict[str, Any]:
    """A JSON form of a domain (part of the study id; shown by `tune --show`)."""
    if isinstance(domain, Choice):
        return {"choice": list(domain.options)}
    kind = "int" if isinstance(domain, Int) else "float"
    return {kind: [domain.low, domain.high], "log": domain.log}


def start_values(space: Mapping[str, Domain], params: Mapping[str, Any]) -> dict[str, Any]:
    """Trial 0: the method's own values (defaults for this dataset and budget, and --param)."""
    return {name: params[name] for name in space}


def study_id(
    *,
    method: str,
    validation_fingerprint: str,
    bits: int,
    seed: int,
    budget: str,
    params: Mapping[str, Any],
    space: Mapping[str, Domain],
    settings: TuneSettings,
) -> str:
    """Content address of a study (everything that decides its trials but their number)."""
    payload = {
        "method": method,
        "validation": validation_fingerprint,
        "bits": bits,
        "seed": seed,
        "budget": budget,
        "params": params,
        "space": {name: describe(d) for name, d in space.items()},
        "batch": settings.batch,
        "sampler": settings.sampler(seed),
        "pruner": settings.pruner_dict(),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return "s" + hashlib.sha256(text.encode()).hexdigest()[:11]


def derived_id(base: str, **extra: Any) -> str:
    """A run id derived from another and what sets the two apart (a tuned refit, a pruning
    rule): same inputs, same id, and never the id of the plain run."""
    text = json.dumps({"base": base, **extra}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
