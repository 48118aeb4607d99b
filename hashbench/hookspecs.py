"""Every hook a hashbench plugin can implement, one function each, grouped by phase.

A plugin is a module with functions marked `@hashbench.hookimpl` whose names match these
specs (an implementation may take fewer arguments than its spec, as in pytest). Each
registration hook returns a list; the plugin manager concatenates the lists of every plugin.
Lifecycle hooks return nothing; every implementation is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from hashbench.lifecycle import RunStarted, SweepFinished
    from hashbench.store import RunRecord

hookspec = pluggy.HookspecMarker("hashbench")


# --- Registration: what a plugin contributes -----------------------------------------------


@hookspec
def hashbench_register_methods() -> list:
    """Return hashing method classes (subclasses of `hashbench.Method`) this plugin provides."""


@hookspec
def hashbench_register_datasets() -> list:
    """Return dataset specs (`hashbench.DatasetSpec`) this plugin provides."""


@hookspec
def hashbench_register_encoders() -> list:
    """Return feature encoder specs (`hashbench.EncoderSpec`) this plugin provides."""


@hookspec
def hashbench_register_executors() -> list:
    """Return executor classes (subclasses of `hashbench.executors.Executor`): where runs go."""


@hookspec
def hashbench_register_metrics() -> list:
    """Return metric specs (`hashbench.MetricSpec`): retrieval scores computed per query from the
    codes, labels and rankings the metric engine already has, stored with every run beside the
    built-in ones, and picked up by tables, CSV, statistics and the report."""


# --- Lifecycle: what happens during `hashbench run` and `hashbench tune` ----------------------
# Called in the scheduling process (which alone writes the store), except `hashbench_epoch_end`,
# called where the run trains (a worker process or cluster job for the process, ray and slurm
# executors, each of which loads the installed plugins). An exception raised by an
# implementation is reported once per plugin and hook and never fails a run or a sweep.


@hookspec
def hashbench_run_start(run: RunStarted) -> None:
    """A run was claimed in the store and handed to the executor (`run`: its id, method, dataset,
    bits, seed, budget, protocol, parameters and the store's path)."""


@hookspec
def hashbench_epoch_end(run: RunStarted, epoch: int, epochs: int, losses: dict) -> None:
    """A training epoch of `run` ended: `epoch` counts from 0 of `epochs`; `losses` holds the
    floats the method reported (possibly none)."""


@hookspec
def hashbench_run_finish(record: RunRecord, store: str) -> None:
    """A run finished and its record (scores, timings, provenance, codes digest) is in `store`."""


@hookspec
def hashbench_run_fail(run: RunStarted, message: str, error: str) -> None:
    """A run failed: `message` is one line, `error` the traceback stored with it."""


@hookspec
def hashbench_sweep_finish(sweep: SweepFinished) -> None:
    """Every run of one `hashbench run` (or of one `hashbench tune`: its trials and test runs)
    was executed, skipped, failed or left to another process (also when the sweep stopped
    early, with what was done); `sweep` lists their ids by outcome and names the store."""
