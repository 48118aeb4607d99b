"""What `hashbench status` says about claimed runs (those running now, and those interrupted:
claimed by a process that ended before storing them, with the commands that resume them) and
about the store's files (runs whose codes are missing, rows changed after they were stored,
orphaned codes)."""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING

from hashbench.runner.resume import describe, run_command
from hashbench.store.claims import ClaimState

if TYPE_CHECKING:
    from hashbench.store import RunRecord
    from hashbench.store.files import Orphan


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds)) if seconds else "?"


def claim_lines(claims: list[ClaimState], store: str | None = None) -> list[str]:
    """Plain lines (never wrapped) about running and interrupted runs; [] when there are none.
    `store`: the store's path when it is not the default (added to the single-run commands)."""
    running = [c for c in claims if c.state == "running"]
    interrupted = [c for c in claims if c.state == "interrupted"]
    lines: list[str] = []
    if running:
        lines += ["", f"running now ({len(running)}):"]
        lines += [
            f"  {c.run_id}  {describe(c.about)}  (pid {c.pid} on {c.host}, since "
            f"{_when(c.claimed_at)})"
            for c in running
        ]
    if not interrupted:
        return lines
    lines += [
        "",
        f"interrupted ({len(interrupted)}): claimed by a process that ended, or stopped renewing "
        "its claim, before storing the run:",
    ]
    lines += [
        f"  {c.run_id}  {describe(c.about)}  (pid {c.pid} on {c.host}, started "
        f"{_when(c.claimed_at)})"
        for c in interrupted
    ]
    commands = list(dict.fromkeys(c.command for c in interrupted if c.command))
    lines.append(
        "resume: run the command that started them again (runs already stored are skipped; "
        "their claims are taken over)"
        + (":" if commands else "; the command was not recorded (an older hashbench).")
    )
    lines += [f"  {command}" for command in commands]
    alone = list(dict.fromkeys(filter(None, (run_command(c.about) for c in interrupted))))
    if store is not None:
        alone = [f"{command} --store {shlex.quote(store)}" for command in alone]
    if alone:
        lines.append(
            "or each run alone (add the original command's data and device options, if any):"
        )
        lines += [f"  {command}" for command in alone]
    return lines


def tuned_runs_text(tuned: list[RunRecord]) -> str:
    """The "tuned runs" cell of a study: how many tuned test runs use it, their seeds, and how
    many trials the study had when they were made ("2 (seeds 0, 1; after 4 trials)"); "-"
    without any."""
    if not tuned:
        return "-"
    seeds = sorted({r.seed for r in tuned})
    trials = sorted({r.tuning.get("trials") for r in tuned if r.tuning.get("trials") is not None})
    text = f"{len(tuned)} (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
    if trials:
        text += f"; after {', '.join(map(str, trials))} trial{'s' if trials[-1] != 1 else ''}"
    return text + ")"


def integrity_lines(
    missing: list[RunRecord],
    damaged: list[tuple[str, str]],
    orphans: list[Orphan],
    store: str | None = None,
    pruned: bool = False,
) -> list[str]:
    """Plain lines about finished runs whose codes are gone (and the commands that redo them),
    rows changed after they were stored, and orphans of the codes folder; [] when all is well.
    pruned: the orphans listed were removed (`status --prune`) rather than found."""
    suffix = "" if store is None else f" --store {shlex.quote(store)}"
    lines: list[str] = []
    if missing:
        lines += [
            "",
            f"codes missing ({len(missing)}): finished runs whose codes file is gone; "
            "`table --ci` shows n/a for their cells, and `hashbench run` redoes them:",
        ]
        lines += [f"  {r.run_id}  {_describe(r)}  ({r.codes_path})" for r in missing]
        alone = [_redo_command(r) for r in missing]
        commands = list(dict.fromkeys(f"{c}{suffix}" for c in alone if c))
        if commands:
            lines.append(
                "redo: the command that made them, or each run alone (add the --param options "
                "and data options it was run with, if any):"
            )
            lines += [f"  {command}" for command in commands]
    if damaged:
        lines += [
            "",
            f"changed after they were stored ({len(damaged)}): tables refuse these rows; "
            "rerun each with `hashbench run ... --rerun`, or delete its row:",
        ]
        lines += [f"  {run_id}  {why}" for run_id, why in damaged]
    if orphans:
        verb = "removed" if pruned else "found"
        lines += [
            "",
            f"orphans {verb} ({len(orphans)}): codes no run refers to, or a write that never "
            "finished" + ("" if pruned else f" (`hashbench status --prune{suffix}` removes them)"),
        ]
        lines += [f"  {o.path}" + ("  (unfinished write)" if o.temporary else "") for o in orphans]
    return lines


def _describe(record: RunRecord) -> str:
    return describe(_about(record))


def _about(record: RunRecord) -> dict:
    return {
        "method": record.method,
        "dataset": record.dataset.partition("@")[0],
        "dataset_label": record.dataset,
        "bits": record.bits,
        "seed": record.seed,
        "budget": record.budget,
        "protocol": record.protocol,
    }


def _redo_command(record: RunRecord) -> str | None:
    return run_command(_about(record))
