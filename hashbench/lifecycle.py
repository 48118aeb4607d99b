"""The lifecycle hooks (`hashbench.hookspecs`): what they receive, and the harness that calls them.

`RunStarted` and `SweepFinished` are plain frozen dataclasses of names and numbers, picklable,
so that the same `RunStarted` reaches `hashbench_epoch_end` in a worker process.

`LifecycleHooks` calls every plugin's implementation of a hook one by one, each guarded: an
exception from a plugin never fails a run or a sweep. It is reported once per plugin and hook
(one "warning:" line on stderr), later ones are only counted (`LifecycleHooks.errors`).
`hashbench_epoch_end` runs where the run trains (possibly a worker process or a cluster job):
there its errors are collected (`epoch_listener`), travel back with the run's result, and the
scheduler reports them like its own, so "once" holds for the whole sweep on any executor.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

    from hashbench.store import RunRecord

EpochListener = Callable[[int, int, dict[str, float]], None]  # (epoch, epochs, losses)


@dataclass(frozen=True)
class RunStarted:
    """One run handed to an executor: what identifies it and where its record will be stored."""

    run_id: str
    method: str
    dataset: str  # as stored: a reduced scale is part of the name ("synth-mscoco@0.05")
    bits: int
    seed: int
    budget: str
    protocol: str  # "default", "tuned", "trial" or "as-released"
    params: Mapping[str, Any] = field(default_factory=dict)
    store: str = ""  # path of the results store

    @classmethod
    def of(cls, run: Any, store: str = "") -> RunStarted:
        """From a planned run or a run task (`runner.execute.PlannedRun`, `executors.RunTask`:
        both carry `spec`, `dataset_label`, `params`, `run_id` and `protocol`)."""
        spec = run.spec
        return cls(
            run_id=run.run_id,
            method=spec.method,
            dataset=run.dataset_label,
            bits=spec.bits,
            seed=spec.seed,
            budget=spec.budget,
            protocol=run.protocol,
            params=dict(run.params),
            store=store,
        )


@dataclass(frozen=True)
class SweepFinished:
    """How one sweep ended: the ids of its runs by outcome, and the store they are in."""

    store: str
    executed: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # already in the store
    failed: tuple[str, ...] = ()
    elsewhere: tuple[str, ...] = ()  # claimed by another process sharing the store


@dataclass(frozen=True)
class HookError:
    """One exception raised by one plugin's implementation of one lifecycle hook."""

    plugin: str
    hook: str
    message: str  # "ExceptionType: text"

    def line(self) -> str:
        return (
            f"plugin '{self.plugin}' raised in {self.hook}: {self.message} (the runs go on; "
            "later errors of this plugin in this hook are not shown)"
        )


def _to_stderr(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr, flush=True)  # sys.stderr as it is now


class LifecycleHooks:
    """Calls the lifecycle hooks of a plugin manager's plugins, each implementation guarded.

    Implementations are called in pluggy's order (last registered first, `tryfirst`/`trylast`
    honoured) with the arguments they name. Hook wrappers are not called: a lifecycle hook has
    no result to wrap. Without a plugin manager every call does nothing.
    """

    def __init__(
        self, pm: pluggy.PluginManager | None = None, warn: Callable[[str], None] = _to_stderr
    ) -> None:
        self._relay = pm.hook if pm is not None else None
        self.warn = warn
        self.errors: Counter[tuple[str, str]] = Counter()  # (plugin, hook) -> exceptions seen

    def run_start(self, run: RunStarted) -> None:
        self.report(self.call("hashbench_run_start", run=run))

    def run_finish(self, record: RunRecord, store: str) -> None:
        self.report(self.call("hashbench_run_finish", record=record, store=store))

    def run_fail(self, run: RunStarted, message: str, error: str) -> None:
        self.report(self.call("hashbench_run_fail", run=run, message=message, error=error))

    def sweep_finish(self, sweep: SweepFinished) -> None:
        self.report(self.call("hashbench_sweep_finish", sweep=sweep))

    def epoch_listener(self, run: RunStarted, errors: list[HookError]) -> EpochListener | None:
        """What the run's epoch monitor calls after each valid `Method.epoch_end`: the epoch
        hook for `run`, its errors appended to `errors` (for the scheduler to `report`, as they
        may happen in a worker). None when no plugin implements the hook."""
        if not self._implementations("hashbench_epoch_end"):
            return None

        def listener(epoch: int, epochs: int, losses: dict[str, float]) -> None:
            errors.extend(
                self.call("hashbench_epoch_end", run=run, epoch=epoch, epochs=epochs, losses=losses)
            )

        return listener

    def call(self, name: str, **kwargs: Any) -> list[HookError]:
        """Call every implementation of hook `name`; return the exceptions they raised."""
        errors = []
        for impl in self._implementations(name):
            try:
                impl.function(*(kwargs[arg] for arg in impl.argnames))
            except Exception as exc:  # a plugin's bug never fails a run (BaseException passes)
                errors.append(HookError(impl.plugin_name, name, f"{type(exc).__name__}: {exc}"))
        return errors

    def report(self, errors: Iterable[HookError]) -> None:
        """Warn about the first error of each (plugin, hook); count every one."""
        for error in errors:
            key = (error.plugin, error.hook)
            self.errors[key] += 1
            if self.errors[key] == 1:
                self.warn(error.line())

    def _implementations(self, name: str) -> list:
        if self._relay is None:
            return []
        impls = getattr(self._relay, name).get_hookimpls()
        return [i for i in reversed(impls) if not (i.hookwrapper or i.wrapper)]


class SweepTally:
    """The runs of one sweep by outcome, over one or more scheduler passes (`run_plans` calls:
    a tuning study runs its trials in batches); a run's last outcome counts."""

    def __init__(self) -> None:
        self._outcome: dict[str, str] = {}

    def add(self, outcome: Any) -> None:
        """Add a `runner.grid.GridOutcome`."""
        failed = {plan.run_id for plan, _ in outcome.failed}
        ran = set(outcome.ran)
        for record in outcome.records:
            self._outcome[record.run_id] = "executed" if record.run_id in ran else "skipped"
        for run_id in failed:
            self._outcome[run_id] = "failed"
        for plan in outcome.elsewhere:
            self._outcome[plan.run_id] = "elsewhere"

    def finished(self, store: str) -> SweepFinished:
        by: dict[str, list[str]] = {"executed": [], "skipped": [], "failed": [], "elsewhere": []}
        for run_id, state in self._outcome.items():
            by[state].append(run_id)
        return SweepFinished(store=store, **{state: tuple(ids) for state, ids in by.items()})
