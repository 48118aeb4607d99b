"""Log every hashbench run to MLflow, through the lifecycle hooks (`hashbench.hookspecs`).

On when the tracking URI is set: `MLFLOW_TRACKING_URI` (MLflow's own variable; e.g.
`sqlite:///mlflow.db` or `http://host:5000`). The experiment is `MLFLOW_EXPERIMENT_NAME`, or
"hashbench"; it is created when missing. Off when the URI is unset, when the `mlflow` package
is not installed (`pip install 'hashbench[mlflow]'`), or with `HASHBENCH_BLOCK_PLUGINS=mlflow`.

Each execution of a run is one MLflow run, created when the run starts (tags and parameters),
given the losses of each epoch as step metrics, and closed when the run is stored (scores,
timings, codes digest: status FINISHED) or fails (the one-line reason as a tag: FAILED). A
rerun (`--rerun`) is a new MLflow run with the same `hashbench_run_id` tag. `docs/trackers.md`
lists every name.

Epoch ends may fire in a worker process (process, ray, slurm executors), which loads the plugin
afresh: there the MLflow run is found by its `hashbench_run_id` tag (the newest RUNNING one).

Logging never fails a run: every MLflow call is guarded. The first failure prints one warning
naming the tracking URI and the error; later ones are counted, and the sweep's end prints how
many runs were not logged. When the store cannot be reached at all (no experiment), the tracker
stops trying until the sweep ends, so a dead server costs one timeout, not one per run.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import hashbench
from hashbench.lifecycle import RunStarted, SweepFinished

if TYPE_CHECKING:
    from hashbench.store import RunRecord

URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
DEFAULT_EXPERIMENT = "hashbench"
RUN_ID_TAG = "hashbench_run_id"
PARAM_VALUE_LIMIT = 500  # older MLflow servers refuse longer values (3.18 takes 6000)
TAG_VALUE_LIMIT = 5000  # likewise (3.18 takes 8000)
BATCH = 100  # params and tags per log_batch call (MLflow's limit; 1000 for metrics)

# MLflow names allow letters, digits, "_", "-", ".", " ", "/" (and ":" except on Windows).
# hashbench's "@" and ":" are mapped reversibly; any other character becomes "_".
_RENAMES = (("@", "_at_"), (":", "/"))
_NOT_ALLOWED = re.compile(r"[^\w.\- /]")


def mlflow_name(*path: str) -> str:
    """The MLflow key of a hashbench name path: ("i2t", "map@50:index") -> "i2t.map_at_50/index"."""
    parts = []
    for part in path:
        for old, new in _RENAMES:
            part = part.replace(old, new)
        parts.append(_NOT_ALLOWED.sub("_", part))
    return ".".join(parts)


def hashbench_name(key: str) -> tuple[str, str]:
    """The (task, metric) of a metric key `mlflow_name` made: the inverse for every name without
    "/" or "_at_" (all of hashbench's)."""
    task, _, name = key.partition(".")
    for old, new in reversed(_RENAMES):
        name = name.replace(new, old)
    return task, name


def run_name(run: RunStarted) -> str:
    """'lsh synth-mirflickr@0.05 16b s0' (the protocol added unless it is the default)."""
    name = f"{run.method} {run.dataset} {run.bits}b s{run.seed}"
    return name if run.protocol == "default" else f"{name} {run.protocol}"


def flat_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A run's parameters as MLflow params: nested dicts flattened with ".", values as text,
    cut to PARAM_VALUE_LIMIT characters (ending in "...")."""
    flat: dict[str, str] = {}
    for name, value in params.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            flat.update(flat_params(value, f"{key}."))
            continue
        text = str(value)
        if len(text) > PARAM_VALUE_LIMIT:
            text = text[: PARAM_VALUE_LIMIT - 3] + "..."
        flat[mlflow_name(key)] = text
    return flat


def _scalars(values: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple]:
    """(path, number) for every number in nested dicts (lists, e.g. curves, and text skipped)."""
    for name, value in values.items():
        if isinstance(value, Mapping):
            yield from _scalars(value, (*path, str(name)))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield (*path, str(name)), float(value)


def record_metrics(record: RunRecord) -> dict[str, float]:
    """The record's scores (every number of `metrics`: "i2t.map_at_50", ...) and timings
    ("time.train_s", ...) as MLflow metrics."""
    metrics = {mlflow_name(*path): value for path, value in _scalars(record.metrics)}
    metrics.update({mlflow_name("time", name): v for (name,), v in _scalars(record.timings)})
    return metrics


def start_tags(run: RunStarted) -> dict[str, str]:
    """The tags a run gets when it starts: what identifies it."""
    return {
        RUN_ID_TAG: run.run_id,
        "method": run.method,
        "dataset": run.dataset,
        "bits": str(run.bits),
        "seed": str(run.seed),
        "budget": run.budget,
        "protocol": run.protocol,
        "store": run.store,
        "hashbench_version": hashbench.__version__,
    }


def record_run(record: RunRecord, store: str = "") -> RunStarted:
    """What identifies a stored run, as its start did."""
    return RunStarted(
        run_id=record.run_id,
        method=record.method,
        dataset=record.dataset,
        bits=record.bits,
        seed=record.seed,
        budget=record.budget,
        protocol=record.protocol,
        params=record.params,
        store=store,
    )


def finish_tags(record: RunRecord, store: str = "") -> dict[str, str]:
    """The tags of a stored run: the start's, as stored (the record is the truth: e.g. the
    budget of a method without one), with its codes digest, dataset fingerprint and host."""
    provenance = record.provenance or {}
    host = provenance.get("host") or {}  # {"hostname": ..., "machine_id": ...}
    if isinstance(host, Mapping):
        host = host.get("hostname") or socket.gethostname()
    versions = provenance.get("versions") or {}
    tags = {
        **start_tags(record_run(record, store)),
        "codes_sha256": str((record.codes_digest or {}).get("sha256", "")),
        "dataset_fingerprint": record.dataset_fingerprint,
        "host": str(host),
        "hashbench_version": str(versions.get("hashbench") or hashbench.__version__),
    }
    scoring = record.metrics.get("scoring")
    if isinstance(scoring, str):
        tags["scoring"] = scoring
    return tags


def _shown(text: str) -> str:
    """A URI (or a message with one) without its password: "http://user:***@host"."""
    return re.sub(r"(//[^/:@\s]*):[^/@\s]*@", r"\1:***@", text)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class MlflowTracker:
    """The plugin's state in one process: the client, which hashbench run is which MLflow run,
    and which runs could not be logged in the current sweep."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ  # None: os.environ as it is at each call
        self._client: Any = None
        self._target: tuple[str, str] | None = None  # (uri, experiment) of the client
        self._experiment_id = ""
        self._unreachable = ""  # why the store could not be reached (no more tries this sweep)
        self._open: dict[str, tuple[str, dict[str, str]]] = {}  # run id -> (MLflow id, params)
        self._seen: set[str] = set()  # hashbench runs this sweep tried to log
        self._unlogged: dict[str, str] = {}  # hashbench run id -> the first error
        self._lossless: dict[str, str] = {}  # run id -> why its epoch losses were not logged
        self._missing_package = False

    # --- hooks -----------------------------------------------------------------------------

    @hashbench.hookimpl
    def hashbench_run_start(self, run: RunStarted) -> None:
        self._guarded(run.run_id, lambda client: self._start(client, run))

    @hashbench.hookimpl
    def hashbench_epoch_end(self, run: RunStarted, epoch: int, epochs: int, losses: dict) -> None:
        if losses and run.run_id not in self._lossless:  # one failure: no more tries
            self._guarded(run.run_id, lambda c: self._epoch(c, run, epoch, losses), epoch=True)

    @hashbench.hookimpl
    def hashbench_run_finish(self, record: RunRecord, store: str) -> None:
        self._guarded(record.run_id, lambda client: self._finish(client, record, store))

    @hashbench.hookimpl
    def hashbench_run_fail(self, run: RunStarted, message: str, error: str) -> None:
        self._guarded(run.run_id, lambda client: self._fail(client, run, message, error))

    @hashbench.hookimpl
    def hashbench_sweep_finish(self, sweep: SweepFinished) -> None:
        for run_id in list(self._open):  # handed over but never ended (the sweep was stopped)
            self._guarded(run_id, lambda client, r=run_id: self._end(client, r, "KILLED"))
        target, seen, unlogged, lossless = self._target, self._seen, self._unlogged, self._lossless
        self._seen, self._unlogged, self._lossless, self._unreachable = set(), {}, {}, ""
        if not seen or target is None or self._missing_package:
            return
        where = f"{_shown(target[0])} (experiment '{target[1]}')"
        if unlogged:
            first = next(iter(unlogged.values()))
            self._say(
                f"mlflow: {len(unlogged)} of {len(seen)} run(s) not logged to {where}: {first}"
            )
        else:
            self._say(f"mlflow: {len(seen)} run(s) logged to {where}", warning=False)
        if incomplete := lossless.keys() - unlogged.keys():
            first = lossless[min(incomplete)]
            self._say(
                f"mlflow: the epoch losses of {len(incomplete)} run(s) are incomplete: {first}"
            )

    # --- what each hook logs -----------------------------------------------------------------

    def _start(self, client: Any, run: RunStarted) -> None:
        created = client.create_run(
            self._experiment_id, run_name=run_name(run), tags=start_tags(run)
        )
        mlflow_id = created.info.run_id
        params = flat_params(run.params)
        self._open[run.run_id] = (mlflow_id, params)
        self._log(client, mlflow_id, params=params)

    def _epoch(self, client: Any, run: RunStarted, epoch: int, losses: Mapping) -> None:
        mlflow_id = self._mlflow_run(client, run.run_id)
        if mlflow_id is None:  # the start was not logged (counted where it happened)
            return
        metrics = {}
        for name, value in losses.items():
            try:
                metrics[mlflow_name("epoch", str(name))] = float(value)
            except (TypeError, ValueError):
                continue  # not a number: nothing to plot
        self._log(client, mlflow_id, metrics=metrics, step=epoch)

    def _finish(self, client: Any, record: RunRecord, store: str) -> None:
        mlflow_id, logged = self._open.pop(record.run_id, ("", {}))
        if not mlflow_id:  # its start was not seen here: one run, logged at once
            self._start(client, record_run(record, store))
            mlflow_id, logged = self._open.pop(record.run_id)
        # parameters the start did not log (a key logged with another value would be refused)
        params = {k: v for k, v in flat_params(record.params).items() if k not in logged}
        tags = finish_tags(record, store)
        self._log(client, mlflow_id, metrics=record_metrics(record), params=params, tags=tags)
        status = "FINISHED" if record.status == "done" else "FAILED"
        client.set_terminated(mlflow_id, status)

    def _end(self, client: Any, run_id: str, status: str) -> None:
        if mlflow_id := self._open.pop(run_id)[0]:
            client.set_terminated(mlflow_id, status)

    def _fail(self, client: Any, run: RunStarted, message: str, error: str) -> None:
        mlflow_id, _ = self._open.pop(run.run_id, ("", {}))
        if not mlflow_id:
            self._start(client, run)
            mlflow_id, _ = self._open.pop(run.run_id)
        tags = {"error": message[:TAG_VALUE_LIMIT], "error_traceback": error[-TAG_VALUE_LIMIT:]}
        self._log(client, mlflow_id, tags=tags)
        client.set_terminated(mlflow_id, "FAILED")

    def _mlflow_run(self, client: Any, run_id: str) -> str | None:
        """The MLflow run of a hashbench run: opened here, or (in a worker) the newest RUNNING
        one with its tag, remembered."""
        if run_id not in self._open:
            found = client.search_runs(
                [self._experiment_id],
                f"tags.{RUN_ID_TAG} = '{run_id}' and attributes.status = 'RUNNING'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
            # none: its start was not logged (that counts in the scheduler); asked once
            self._open[run_id] = (found[0].info.run_id, {}) if found else ("", {})
        return self._open[run_id][0] or None

    @staticmethod
    def _log(
        client: Any,
        mlflow_id: str,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        step: int = 0,
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        metric_list = [Metric(k, v, now, step) for k, v in (metrics or {}).items()]
        for batch in _chunks(metric_list, 10 * BATCH):
            client.log_batch(mlflow_id, metrics=batch)
        for batch in _chunks([Param(k, v) for k, v in (params or {}).items()], BATCH):
            client.log_batch(mlflow_id, params=batch)
        for batch in _chunks([RunTag(k, v) for k, v in (tags or {}).items()], BATCH):
            client.log_batch(mlflow_id, tags=batch)

    # --- the client, and what happens when MLflow fails ---------------------------------------

    def _guarded(self, run_id: str, log: Any, epoch: bool = False) -> None:
        """Call `log(client)` when tracking is on; any exception is a run not logged (or, for
        an epoch's losses, a run whose losses are incomplete)."""
        env = self._environ if self._environ is not None else os.environ
        uri = env.get(URI_ENV, "").strip()
        if not uri or self._missing_package:
            return
        target = (uri, env.get(EXPERIMENT_ENV, "").strip() or DEFAULT_EXPERIMENT)
        self._seen.add(run_id)
        if run_id in self._unlogged:
            return
        try:
            client = self._connect(target)
        except ImportError:
            self._missing_package = True
            self._say(
                f"mlflow: {URI_ENV} is set but the mlflow package is not installed: runs are "
                "not logged (pip install 'hashbench[mlflow]')"
            )
            return
        except Exception as exc:
            self._unreachable = f"{type(exc).__name__}: {exc}"
        if self._unreachable:
            self._failed(run_id, target, self._unreachable, epoch)
            return
        try:
            log(client)
        except Exception as exc:  # MLflow's, the store's, the network's: never the run's
            if not epoch:
                self._open.pop(run_id, None)
            self._failed(run_id, target, f"{type(exc).__name__}: {exc}", epoch)

    def _connect(self, target: tuple[str, str]) -> Any:
        """The client for (uri, experiment), with the experiment found or created."""
        if self._target == target and self._client is not None:
            return self._client
        if self._target != target:
            self._client, self._unreachable = None, ""
        self._target = target
        if self._unreachable:
            return None
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=target[0])
        experiment = client.get_experiment_by_name(target[1])
        if experiment is None:
            try:
                self._experiment_id = client.create_experiment(target[1])
            except Exception:  # created meanwhile by another process
                experiment = client.get_experiment_by_name(target[1])
                if experiment is None:
                    raise
        if experiment is not None:
            self._experiment_id = experiment.experiment_id
        self._client = client
        return client

    def _failed(self, run_id: str, target: tuple[str, str], error: str, epoch: bool) -> None:
        error = _shown(" ".join(error.split()))  # one line, no password (MLflow's has it)
        error = error if len(error) <= 300 else error[:297] + "..."
        if not self._unlogged and not self._lossless:
            self._say(
                f"mlflow: could not log run {run_id} to {_shown(target[0])}: {error} (the run "
                "itself is unaffected; later failures are counted and summed up at the end)"
            )
        (self._lossless if epoch else self._unlogged).setdefault(run_id, error)

    @staticmethod
    def _say(line: str, warning: bool = True) -> None:
        print(f"warning: {line}" if warning else line, file=sys.stderr, flush=True)


# The plugin is this module (entry point `mlflow`): its hooks are one tracker's bound methods.
_tracker = MlflowTracker()
hashbench_run_start = _tracker.hashbench_run_start
hashbench_epoch_end = _tracker.hashbench_epoch_end
hashbench_run_finish = _tracker.hashbench_run_finish
hashbench_run_fail = _tracker.hashbench_run_fail
hashbench_sweep_finish = _tracker.hashbench_sweep_finish
