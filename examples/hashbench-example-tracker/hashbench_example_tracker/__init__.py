"""A tracker-style hashbench plugin: one JSON line per run event, appended to a log file.

Set HASHBENCH_EXAMPLE_TRACKER_LOG to a file path to turn it on; unset, it does nothing.
"""

import json
import os

import hashbench

LOG_ENV = "HASHBENCH_EXAMPLE_TRACKER_LOG"


def _log(event, **fields):
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    line = json.dumps({"event": event, "pid": os.getpid(), **fields}, default=str)
    # one short write in append mode: lines from worker processes do not mix
    with open(path, "a", encoding="utf-8") as log:
        log.write(line + "\n")


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@hashbench.hookimpl
def hashbench_run_start(run):
    _log(
        "run_start",
        run_id=run.run_id,
        method=run.method,
        dataset=run.dataset,
        bits=run.bits,
        seed=run.seed,
        protocol=run.protocol,
        params=dict(run.params),
    )


@hashbench.hookimpl
def hashbench_epoch_end(run, epoch, epochs, losses):
    _log("epoch_end", run_id=run.run_id, epoch=epoch, epochs=epochs, losses=losses)


@hashbench.hookimpl
def hashbench_run_finish(record, store):
    scores = {
        task: {name: value for name, value in values.items() if _number(value)}
        for task, values in record.task_metrics().items()
    }
    _log(
        "run_finish",
        run_id=record.run_id,
        store=store,
        scores=scores,
        codes_sha256=record.codes_digest.get("sha256"),
        seconds=record.timings.get("total_s"),
    )


@hashbench.hookimpl
def hashbench_run_fail(run, message):
    _log("run_fail", run_id=run.run_id, method=run.method, message=message)


@hashbench.hookimpl
def hashbench_sweep_finish(sweep):
    _log(
        "sweep_finish",
        store=sweep.store,
        executed=list(sweep.executed),
        skipped=list(sweep.skipped),
        failed=list(sweep.failed),
        elsewhere=list(sweep.elsewhere),
    )
