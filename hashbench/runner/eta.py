"""Estimates of time left: in a run's phase, and in a whole sweep.

A phase (training, encoding): after a fraction p of its work took t seconds, t * (1 - p) / p
seconds are left, i.e. the pace so far holds. Training counts its work in batches: epochs done
plus the current epoch's share of its batches (a method that reports only epochs gives the
estimate at epoch ends). The time a run spends after training (encoding, evaluation) is not in
its training estimate.

A sweep (`SweepClock`): the runs in flight take their own estimate (the time left in their
current phase, less the time since it was reported) or, where they have none, the mean
duration of the runs this sweep executed less their time so far; each queued run takes that
mean duration; the sum is shared by the runs in flight (the executor's parallelism). Runs
differ (methods, code lengths), so this is a rough figure; with nothing to go on (no run
finished yet, or a run without an estimate of its own that is past the mean) it is unknown,
never invented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def duration_text(seconds: float) -> str:
    """A duration as "45s", "6m12s" or "2h05m" (whole seconds below an hour)."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def time_left(elapsed: float, fraction: float) -> float | None:
    """Seconds left when `fraction` (0..1] of the work took `elapsed` seconds (None: unknown)."""
    if not 0.0 < fraction <= 1.0 or not math.isfinite(elapsed) or elapsed < 0:
        return None
    return elapsed * (1.0 - fraction) / fraction


def training_fraction(epoch: int, epochs: int, batch: int, batches: int) -> float:
    """How much of training is done after batch `batch` (from 0) of `batches` in epoch `epoch`
    (from 0) of `epochs`."""
    return (epoch + (batch + 1) / batches) / epochs


@dataclass
class _Active:
    began: float
    left: float | None = None  # the last step's estimate...
    at: float = 0.0  # ...made at this time


@dataclass
class SweepClock:
    """Keeps what the sweep estimate needs: runs in flight, durations of finished runs."""

    total: int | None = None
    finished: int = 0
    durations: list[float] = field(default_factory=list)  # runs executed here (not skipped)
    active: dict[str, _Active] = field(default_factory=dict)

    def started(self, run_id: str, now: float) -> None:
        self.active[run_id] = _Active(now)

    def step(self, run_id: str, step: Any, now: float) -> None:
        """A run's latest step: its `left` (None when it has no estimate) is the run's."""
        run = self.active.get(run_id)
        if run is not None:
            run.left, run.at = getattr(step, "left", None), now

    def ended(self, run_id: str, now: float) -> None:
        """A run finished, failed or was skipped (its time counts only if it ran here)."""
        run = self.active.pop(run_id, None)
        if run is not None:
            self.durations.append(now - run.began)
        self.finished += 1

    def left(self, now: float) -> float | None:
        """Seconds estimated to be left in the sweep (None: unknown)."""
        if self.total is None:
            return None
        mean = sum(self.durations) / len(self.durations) if self.durations else None
        in_flight = []
        for run in self.active.values():
            if run.left is not None:
                in_flight.append(max(0.0, run.left - (now - run.at)))
            elif mean is not None and now - run.began < mean:
                in_flight.append(mean - (now - run.began))
            else:  # no estimate, and either no mean or already past it
                return None
        queued = max(0, self.total - self.finished - len(self.active))
        if queued and mean is None:
            return None
        return (sum(in_flight) + queued * (mean or 0.0)) / max(1, len(self.active))

    def text(self, now: float) -> str:
        """The estimate as a phrase: "sweep 25m10s left" or "sweep time left unknown"."""
        left = self.left(now)
        return "sweep time left unknown" if left is None else f"sweep {duration_text(left)} left"
