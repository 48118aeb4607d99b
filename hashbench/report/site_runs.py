"""Per-run facts of the results site: settings, timings, provenance and the command that
reproduces a run, all read from its stored record.

Provenance (package versions, git commit, machine) repeats across the runs of a sweep, so the
site lists each distinct environment once and every run names its environment.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hashbench.store import RunRecord

_SCALED = re.compile(r"^(?P<name>.+)@(?P<scale>[0-9.eE+-]+)$")


@dataclass(frozen=True)
class Environment:
    """One distinct provenance: versions, commit, machine."""

    key: str  # "E1", "E2", ... in order of first appearance
    commit: str
    dirty: bool | None
    python: str
    platform: str
    machine: str  # CPU (x count), GPU
    device: str
    versions: tuple[tuple[str, str], ...]
    runs: int = 0


@dataclass(frozen=True)
class RunDetail:
    """What the site shows of one run."""

    run_id: str
    label: str  # the table row it feeds (method and what sets its variant apart)
    method: str
    dataset: str
    fingerprint: str
    bits: int
    seed: int
    budget: str
    protocol: str
    pair_fused: bool
    supervision: str
    params: tuple[tuple[str, str], ...]
    scores: tuple[tuple[str, float], ...]  # (task, value of the report's metric)
    timings: tuple[tuple[str, float], ...]
    environment: str  # Environment.key
    created_at: str
    command: str
    tuning: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def split_dataset_name(stored: str) -> tuple[str, float | None]:
    """("synth-mirflickr", 0.05) from "synth-mirflickr@0.05"; (name, None) at full size."""
    match = _SCALED.match(stored)
    if match:
        try:
            return match["name"], float(match["scale"])
        except ValueError:
            pass
    return stored, None


def param_text(value: Any) -> str:
    """A parameter value as `--param` accepts it: booleans lowercase, lists and None as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def reproduce_command(record: RunRecord, real_data: bool) -> str:
    """`hashbench run ...` with every stored parameter of the run given explicitly, so the
    command reproduces it even after a method's defaults change. real_data: add --data-root."""
    dataset, scale = split_dataset_name(record.dataset)
    words = [
        "hashbench",
        "run",
        "--methods",
        record.method,
        "--dataset",
        dataset,
        "--bits",
        str(record.bits),
        "--seeds",
        str(record.seed),
        "--budget",
        record.budget,
    ]
    if scale is not None:
        words += ["--scale", f"{scale:g}"]
    for key, value in sorted(record.params.items()):
        words += ["--param", f"{record.method}.{key}={param_text(value)}"]
    device = str(record.provenance.get("device") or "")
    if device:
        words += ["--device", device.split(":")[0]]
    if real_data:
        words += ["--data-root", "DIR"]
    return " ".join(shlex.quote(w) if w != "DIR" else w for w in words)


def _machine(provenance: Mapping[str, Any]) -> str:
    cpu = str(provenance.get("cpu") or "unknown CPU")
    count = provenance.get("cpu_count")
    text = f"{cpu} x {count}" if count else cpu
    gpu = provenance.get("gpu")
    if gpu:
        text += f", {gpu if isinstance(gpu, str) else json.dumps(gpu, sort_keys=True)}"
    return text


def _environment_fields(provenance: Mapping[str, Any]) -> tuple:
    git = provenance.get("git") or {}
    versions = provenance.get("versions") or {}
    return (
        str(git.get("commit") or "unknown"),
        git.get("dirty"),
        str(provenance.get("python") or "?"),
        str(provenance.get("platform") or "?"),
        _machine(provenance),
        str(provenance.get("device") or "?"),
        tuple(sorted((str(k), str(v)) for k, v in versions.items())),
    )


def environments(records: Iterable[RunRecord]) -> tuple[list[Environment], dict[str, str]]:
    """(distinct environments, {run id: environment key})."""
    keys: dict[tuple, str] = {}
    counts: dict[tuple, int] = {}
    of_run: dict[str, str] = {}
    for record in records:
        fields = _environment_fields(record.provenance)
        if fields not in keys:
            keys[fields] = f"E{len(keys) + 1}"
        counts[fields] = counts.get(fields, 0) + 1
        of_run[record.run_id] = keys[fields]
    found = [Environment(key, *fields, runs=counts[fields]) for fields, key in keys.items()]
    return found, of_run


def _tuning_facts(tuning: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    from hashbench.tuning.cost import duration, trial_counts

    facts = []
    for name in ("study", "trials", "score", "default_score", "best_trial"):
        if name in tuning:
            value = tuning[name]
            facts.append((name, f"{value:.4f}" if isinstance(value, float) else str(value)))
    if "trials_complete" in tuning:  # what tuning cost (the refit's time is the run's own)
        states = {s: tuning.get(f"trials_{s}", 0) for s in ("complete", "pruned", "failed")}
        spent = tuning.get("trial_seconds")
        time_text = "not recorded" if spent is None else duration(spent)
        facts.append(("tuning cost", f"{trial_counts(states)}, {time_text} of trials"))
    if "time_budget_s" in tuning:
        facts.append(
            ("time budget", f"{duration(tuning['time_budget_s'])} per study, at most "
             f"{tuning.get('trials_cap', '?')} trials")
        )  # fmt: skip
    best = tuning.get("best_params")
    if isinstance(best, dict):
        facts.append(("best_params", ", ".join(f"{k}={param_text(v)}" for k, v in best.items())))
    return tuple(facts)


def run_details(
    records: Iterable[RunRecord],
    labels: Mapping[str, str],
    metric: str,
    environment_of: Mapping[str, str],
    real_datasets: set[str],
) -> list[RunDetail]:
    """One RunDetail per record. real_datasets: stored dataset names read from files (their
    command needs --data-root)."""
    out = []
    for r in records:
        notes = []
        if r.protocol == "tuned":
            notes.append(
                "tuned: the command reruns the chosen parameters on the test protocol; "
                f"`hashbench tune --show {r.tuning.get('study', 'STUDY')}` shows the study"
            )
        if r.pair_fused:
            notes.append("pair-fused: a query's code uses its paired item of the other modality")
        scores = tuple(
            (task, float(values[metric]))
            for task, values in r.task_metrics().items()
            if isinstance(values.get(metric), int | float)
        )
        out.append(
            RunDetail(
                run_id=r.run_id,
                label=labels.get(r.run_id, r.method),
                method=r.method,
                dataset=r.dataset,
                fingerprint=r.dataset_fingerprint,
                bits=r.bits,
                seed=r.seed,
                budget=r.budget,
                protocol=r.protocol,
                pair_fused=r.pair_fused,
                supervision=str(r.provenance.get("supervision") or "unknown"),
                params=tuple((k, param_text(v)) for k, v in sorted(r.params.items())),
                scores=scores,
                timings=tuple(
                    (k, float(v))
                    for k, v in sorted(r.timings.items())
                    if isinstance(v, int | float)
                ),
                environment=environment_of.get(r.run_id, "?"),
                created_at=r.created_at,
                command=reproduce_command(r, split_dataset_name(r.dataset)[0] in real_datasets),
                tuning=_tuning_facts(r.tuning) if r.protocol == "tuned" else (),
                notes=tuple(notes),
            )
        )
    return out
