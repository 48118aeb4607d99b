"""Interrupted runs: what a claim records about its run, and the command that resumes it.

A run is claimed in the store just before it starts and released when it is stored. A claim
left behind by a process that died (killed, out of memory, the machine rebooted) marks an
interrupted run. Nothing needs cleaning up: the next `hashbench run` of the same grid takes the
claim over and runs it (finished runs are skipped). `hashbench status` names these runs and
both ways to resume them: the original command, or a command for the run alone.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any


def claim_about(plan: Any) -> dict[str, Any]:
    """Which run a claim is for (a `PlannedRun`), as stored with the claim."""
    s = plan.spec
    return {
        "method": s.method,
        "dataset": s.dataset,
        "dataset_label": plan.dataset_label,
        "bits": s.bits,
        "seed": s.seed,
        "budget": s.budget,
        "overrides": dict(s.overrides),
        "protocol": plan.protocol,
    }


def describe(about: Mapping[str, Any]) -> str:
    """"spikehash / synth-mscoco / 32 bits / seed 0 / quick" ("?" for a claim without it)."""
    if not about.get("method"):
        return "? (claimed by an older hashbench: run unknown)"
    text = (
        f"{about['method']} / {about.get('dataset_label') or about.get('dataset')} / "
        f"{about.get('bits')} bits / seed {about.get('seed')} / {about.get('budget')}"
    )
    protocol = about.get("protocol", "default")
    return text if protocol == "default" else f"{text} / {protocol}"


def run_command(about: Mapping[str, Any]) -> str | None:
    """A `hashbench run` command for this run alone, or None when there is none (a tuning
    trial: its study's `hashbench tune` command resumes it). Options of the original command
    that do not change the run (data root, device, executor) are not known here."""
    protocol = about.get("protocol", "default")
    needed = ("method", "dataset", "bits", "seed", "budget")
    resumable = ("default", "tuned", "as-released")
    if any(about.get(key) is None for key in needed) or protocol not in resumable:
        return None
    args = [
        "hashbench", "run",
        "--methods", str(about["method"]),
        "--dataset", str(about["dataset"]),
        "--bits", str(about["bits"]),
        "--seeds", str(about["seed"]),
        "--budget", str(about["budget"]),
    ]  # fmt: skip
    label = str(about.get("dataset_label") or "")
    if "@" in label:
        args += ["--scale", label.partition("@")[2]]
    overrides = about.get("overrides") or {}
    if protocol == "tuned":
        args.append("--tuned")  # its parameters come from the stored study
    else:
        for name, value in sorted(overrides.items()):
            shown = value if isinstance(value, str) else json.dumps(value)
            args += ["--param", f"{about['method']}.{name}={shown}"]
    if protocol == "as-released":
        args += ["--protocol", protocol]
    return shlex.join(args)
