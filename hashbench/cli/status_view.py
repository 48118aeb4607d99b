"""What `hashbench status` says about claimed runs: those running now, and those interrupted
(claimed by a process that ended before storing them) with the commands that resume them."""

from __future__ import annotations

import shlex
import time

from hashbench.runner.resume import describe, run_command
from hashbench.store.claims import ClaimState


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
