"""Execute one run: seed, train, encode in batches, validate, evaluate, package the record.

The harness, not the plugin, owns seeding, device placement, batching and validation. A
method never receives query or retrieval labels, and the query split is never shown to `fit`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import torch

from hashbench import metrics, provenance
from hashbench.codes import pack_codes
from hashbench.data.types import CrossModalDataset
from hashbench.errors import InputError
from hashbench.lifecycle import EpochListener
from hashbench.methods import CANONICAL_BUDGET, Method, MethodContext, TrainData
from hashbench.metrics.plugin import PluginMetric, check_metrics, score_task
from hashbench.profile import ResourceMeter, code_bytes_per_item, throughput
from hashbench.runner.encoding import (  # noqa: F401 (encode_split*: their public home was here)
    codes_to_encode,
    encode_split,
    encode_split_pairs,
    encode_splits,
)
from hashbench.runner.encoding import guard as _guard
from hashbench.runner.epochs import EpochMonitor, PruningRule, TrialPruned
from hashbench.runner.profiling import profile_method
from hashbench.runner.progress import ItemCounter, Step
from hashbench.runner.released_selection import (
    PROTOCOL,
    ReleasedSelector,
    ReleasedStop,
    selection_of,
)
from hashbench.runner.spec import RunSpec, complete_params, resolve_params, run_id
from hashbench.runner.tensors import private_tensor, private_tensors
from hashbench.runner.time_limit import check_run_timeout
from hashbench.seeding import deterministic_torch, seed_everything
from hashbench.store import RunRecord

# Cross-modal tasks: (name, query modality, database modality).
CROSS_MODAL_TASKS = (("i2t", "image", "text"), ("t2i", "text", "image"))
# The task key of a unimodal dataset (query and database from its single modality).
UNIMODAL_TASK = "unimodal"


@dataclass(frozen=True)
class RunOptions:
    """How runs execute (not part of a run's identity)."""

    device: torch.device = torch.device("cpu")
    encode_batch_size: int = 4096
    top_k: int = 50
    profile: bool = True
    run_timeout: float | None = None  # seconds per run (--run-timeout); None: no limit

    def __post_init__(self) -> None:
        check_run_timeout(self.run_timeout)


@dataclass(frozen=True)
class PlannedRun:
    """A run spec with everything resolved: the method class, parameters and id."""

    spec: RunSpec
    dataset_label: str
    method_cls: type[Method]
    params: Mapping[str, Any]
    run_id: str
    origin: Mapping[str, str | None] = field(default_factory=dict)
    # "default", "as-released" (the released code's model selection), "tuned" or "trial" (a
    # tuning trial; never tabled)
    protocol: str = "default"
    tuning: Mapping[str, Any] = field(default_factory=dict)  # how a tuned run's params were chosen
    pruning: PruningRule | None = None  # a trial's stopping rule (validation data only)

    @classmethod
    def resolve(
        cls,
        spec: RunSpec,
        method_cls: type[Method],
        dataset: CrossModalDataset,
        dataset_label: str | None = None,
        origin: Mapping[str, str | None] | None = None,
        protocol: str = "default",
    ) -> PlannedRun:
        """Resolve `spec`'s parameters (budget, protocol, overrides, then the values the method
        derives from the run: `Method.complete_params`) and its content id. `protocol`
        "as-released" plans the released selection (`runner.released_selection`): its own id.

        A method whose budgets resolve to the same parameters (`Method.budget_sensitive`) is
        planned under `CANONICAL_BUDGET` whatever budget was asked: one run, one id, serves
        every budget (a second budget finds it done)."""
        if spec.budget != CANONICAL_BUDGET and not method_cls.budget_sensitive():
            spec = replace(spec, budget=CANONICAL_BUDGET)
        params = resolve_params(method_cls, dataset.protocol, spec.budget, spec.overrides)
        params = complete_params(
            method_cls, params, spec.bits, dataset.feature_dims, dataset.input_shapes
        )
        selection = None
        if protocol == PROTOCOL:
            selection = selection_of(method_cls, dataset).identity()
        return cls(
            spec=spec,
            dataset_label=dataset_label or dataset.name,
            method_cls=method_cls,
            params=params,
            run_id=run_id(spec, params, dataset.fingerprint, protocol, selection),
            origin=origin or {},
            protocol=protocol,
        )


Phase = Callable[[Step], None]  # progress of a run (hashbench.runner.progress)



def evaluate_unimodal(
    query_codes: np.ndarray,
    db_codes: np.ndarray,
    dataset: CrossModalDataset,
    top_k: int,
    per_query: dict[str, np.ndarray] | None = None,
) -> dict:
    """The standard metric set at the dataset's retrieval depth R (mAP@R etc.), plus mAP@top_k.

    With the dataset's declared `label_groups` (e.g. temporally mirrored class pairs), each
    group is also evaluated on its own (queries and database items of the group's labels only)
    and stored under "groups": {name: {"map@R": ..., "map@all": ...}}. `per_query` is filled
    with the per-query values of the scalar keys (not of the groups), as in `metrics.evaluate`.
    """
    depth = dataset.retrieval_depth or top_k
    q_labels, db_labels = dataset.query.labels, dataset.retrieval.labels
    pq: dict[str, np.ndarray] = {}
    result = metrics.evaluate(query_codes, db_codes, q_labels, db_labels, k=depth, per_query=pq)
    if depth != top_k:  # the suite's default table metric (mAP@50) is there for every task
        extra_pq: dict[str, np.ndarray] = {}
        extra = metrics.evaluate(
            query_codes, db_codes, q_labels, db_labels, k=top_k, per_query=extra_pq
        )
        result.update({k: v for k, v in extra.items() if k.startswith(f"map@{top_k}")})
        pq.update({k: v for k, v in extra_pq.items() if k.startswith(f"map@{top_k}")})
    if per_query is not None:
        per_query.update(pq)
    groups = dataset.meta.get("label_groups") or {}
    if groups:
        result["groups"] = {}
    for name, label_ids in groups.items():  # type: ignore[union-attr]
        ids = list(label_ids)
        q_in = q_labels[:, ids].any(1)
        db_in = db_labels[:, ids].any(1)
        if not q_in.any() or not db_in.any():
            continue
        k = min(depth, int(db_in.sum()))
        sub = metrics.evaluate(
            query_codes[q_in], db_codes[db_in], q_labels[q_in], db_labels[db_in], k=k
        )
        result["groups"][name] = {
            "labels": ids,
            f"map@{depth}": sub[f"map@{k}"],
            "map@all": sub["map@all"],
            "queries": int(q_in.sum()),
        }
    return result


def distinct_rows(packed: np.ndarray) -> int:
    """How many different codes (rows) a packed code matrix holds."""
    if len(packed) == 0:
        return 0
    width = -(-packed.shape[1] // 8) * 8  # whole 64-bit words: one comparable value per row
    rows = np.zeros((len(packed), width), np.uint8)
    rows[:, : packed.shape[1]] = packed
    if width == 8:
        return int(len(np.unique(rows.view(np.uint64).ravel())))
    return int(len(np.unique(rows.view(np.dtype((np.void, width))).ravel())))


def execute_run(
    plan: PlannedRun,
    dataset: CrossModalDataset,
    options: RunOptions,
    on_phase: Phase = lambda phase: None,
    on_epoch: EpochListener | None = None,
    plugin_metrics: tuple[PluginMetric, ...] = (),
) -> tuple[RunRecord, dict[str, np.ndarray]]:
    """Train and evaluate one planned run; return its record and the arrays to store.

    `plugin_metrics`: (plugin, MetricSpec) scored beside the standard set (`Registry.
    metric_plugins`), each tried on a tiny task first so that a broken one fails before training.

    `on_epoch`: called after each valid `Method.epoch_end` with (epoch, epochs, float losses)
    (plugins' `hashbench_epoch_end`: `LifecycleHooks.epoch_listener`)."""
    info = plan.method_cls.info
    if dataset.task not in info.tasks:
        raise InputError(f"method '{info.name}' does not support {dataset.task} retrieval")
    check_metrics(plugin_metrics)
    with ResourceMeter(options.device) as meter, deterministic_torch():
        record, arrays = _train_encode_evaluate(
            plan, dataset, options, on_phase, on_epoch, plugin_metrics
        )
    record.profile["run"] = {
        **record.profile.get("run", {}),
        "peak_rss_bytes": meter.usage.rss_peak_bytes,
        "rss_increase_bytes": meter.usage.rss_increase_bytes,
        "cuda_peak_bytes": meter.usage.cuda_peak_bytes,
    }
    return record, arrays


def _train_encode_evaluate(
    plan: PlannedRun,
    dataset: CrossModalDataset,
    options: RunOptions,
    on_phase: Phase,
    on_epoch: EpochListener | None = None,
    plugin_metrics: tuple[PluginMetric, ...] = (),
) -> tuple[RunRecord, dict[str, np.ndarray]]:
    spec, method_cls = plan.spec, plan.method_cls
    info = method_cls.info
    timings: dict[str, float] = {}
    started = time.perf_counter()

    selector = None  # --protocol as-released: the released code's model selection
    if plan.protocol == PROTOCOL:
        selection = selection_of(method_cls, dataset)
        selector = ReleasedSelector(
            selection, dataset, partial(encode_splits, dataset=dataset, options=options)
        )
    seed_everything(spec.seed)
    context = MethodContext(
        bits=spec.bits,
        params=dict(plan.params),
        device=options.device,
        seed=spec.seed,
        feature_dims=dataset.feature_dims,
        input_shapes=dataset.input_shapes,
        on_epoch=(
            monitor := EpochMonitor(
                dataset,
                partial(encode_splits, dataset=dataset, options=options),
                plan.pruning,
                on_phase,
                options.top_k,
                selector,
                on_epoch,
            )
        ),
        on_batch=monitor.pace,  # progress inside an epoch (Method.batch_end)
    )
    method = _guard(info.name, "construction", lambda: method_cls(context))

    on_phase(Step("train"))
    train = TrainData(
        features=private_tensors(dataset.train.features, options.device),
        labels=(
            private_tensor(dataset.train.labels, options.device)
            if info.supervision == "supervised"
            else None
        ),
        protocol=dataset.protocol,
        num_labels=dataset.num_labels,
    )
    t0 = time.perf_counter()
    try:
        _guard(info.name, "fit", partial(method.fit, train))
    except TrialPruned as pruned:  # a trial's stopping rule: no codes, the curve so far
        monitor.check()
        timings["train_s"] = timings["total_s"] = time.perf_counter() - t0
        curve = {"validation_curve": monitor.curve, "pruned": pruned.as_dict()}
        return _record(plan, dataset, curve, timings, {}, options), {}
    except ReleasedStop:  # the released early stopping: the kept snapshot is evaluated
        pass
    monitor.check()  # bad epoch_end calls fail the run even if the plugin caught the error
    timings["train_s"] = time.perf_counter() - t0
    if selector is not None:  # training time without the harness's scoring of snapshots
        timings["released_scoring_s"] = selector.seconds
        timings["train_s"] -= selector.seconds
    del train  # frees device memory before encoding

    counter = ItemCounter("encode", codes_to_encode(dataset), on_phase)
    t0 = time.perf_counter()
    kept = selector.kept_codes() if selector is not None else None
    if kept is None:
        codes = encode_splits(method, dataset, options, progress=counter.add)
        timings["encode_s"] = time.perf_counter() - t0
    else:  # the snapshot the released code keeps, encoded when it was scored
        codes, timings["encode_s"] = kept
    encoded = sum(len(c) for c in codes.values())

    profile: dict = {}
    if options.profile:
        on_phase(Step("profile"))
        profile = profile_method(method, dataset.query, options.device, task=dataset.task)
    profile["run"] = {
        "train_s": timings["train_s"],
        "encoded_items": encoded,
        "encode_items_per_s": throughput(encoded, timings["encode_s"]),
        "code_bytes_per_item": code_bytes_per_item(spec.bits),
    }

    packed = {key: pack_codes(value) for key, value in codes.items()}
    distinct = {key: distinct_rows(value) for key, value in packed.items()}  # 1: all identical
    results = {}
    per_query: dict[str, np.ndarray] = {}  # "perquery.<task>.<metric>" -> float32 per query
    tasks = CROSS_MODAL_TASKS
    if dataset.task == UNIMODAL_TASK:
        (modality,) = dataset.modalities
        tasks = ((UNIMODAL_TASK, modality, modality),)
    for done, (task, q_mod, db_mod) in enumerate(tasks):
        on_phase(Step("evaluate", done, len(tasks), "tasks"))
        t0 = time.perf_counter()
        pq: dict[str, np.ndarray] = {}
        if task == UNIMODAL_TASK:
            results[task] = evaluate_unimodal(
                codes[f"query.{q_mod}"], codes[f"retrieval.{db_mod}"], dataset, options.top_k, pq
            )
        else:
            results[task] = metrics.evaluate(
                codes[f"query.{q_mod}"],
                codes[f"retrieval.{db_mod}"],
                dataset.query.labels,
                dataset.retrieval.labels,
                k=options.top_k,
                per_query=pq,
            )
        task_data = (codes[f"query.{q_mod}"], codes[f"retrieval.{db_mod}"])
        task_data += (dataset.query.labels, dataset.retrieval.labels)
        depth = (dataset.retrieval_depth if task == UNIMODAL_TASK else None) or options.top_k
        score_task(plugin_metrics, task_data, depth, results[task], pq)  # metrics of plugins
        per_query.update({f"perquery.{task}.{m}": v.astype(np.float32) for m, v in pq.items()})
        results[task]["distinct_query_codes"] = distinct[f"query.{q_mod}"]
        results[task]["distinct_retrieval_codes"] = distinct[f"retrieval.{db_mod}"]
        timings[f"evaluate_{task}_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - started

    if monitor.curve:  # a trial's intermediate validation scores (pruning studies)
        results["validation_curve"] = monitor.curve
    if selector is not None:
        results["released_selection"] = selector.as_dict()
    results["scoring"] = metrics.SCORING  # how the scores were computed (runner/rescore.py)
    record = _record(plan, dataset, results, timings, profile, options)
    arrays = {f"codes.{key}": value for key, value in packed.items()}
    arrays["labels.query"] = np.packbits(dataset.query.labels.astype(bool), axis=1)
    arrays["labels.retrieval"] = np.packbits(dataset.retrieval.labels.astype(bool), axis=1)
    arrays["shape"] = np.array([spec.bits, dataset.num_labels])
    arrays.update(per_query)  # not "codes.*": the codes checksum does not cover them
    return record, arrays


def _record(
    plan: PlannedRun,
    dataset: CrossModalDataset,
    results: dict,
    timings: dict[str, float],
    profile: dict,
    options: RunOptions,
) -> RunRecord:
    spec, info = plan.spec, plan.method_cls.info
    return RunRecord(
        run_id=plan.run_id,
        method=info.name,
        dataset=plan.dataset_label,
        dataset_fingerprint=dataset.fingerprint,
        bits=spec.bits,
        seed=spec.seed,
        budget=spec.budget,
        params=dict(plan.params),
        pair_fused=info.pair_fused,
        metrics=results,
        timings=timings,
        profile=profile,
        provenance={
            **provenance.collect(options.device),
            "method_plugin": dict(plan.origin),
            "supervision": info.supervision,
        },
        protocol=plan.protocol,
        tuning=dict(plan.tuning),
    )
