"""Where a run is while it executes: the progress steps the harness reports.

The harness reports every phase of a run as a `Step`: training (epoch k of N and the epoch's
loss, from the method's `epoch_end` calls; batch b of B inside an epoch and the items/s, from
its `batch_end` calls), encoding (items encoded of the total, and the rate), profiling and
evaluation. Observers receive the steps through `GridObserver.run_phase`; the CLI draws them
as one bar per run (terminal) or prints them as periodic plain lines (logs). A step prints as
a short phrase, e.g. "train 3/8 epochs, loss 0.421, 5m10s left", "train epoch 1/8, batch
120/400, 850 items/s, 6m12s left" or "encode 40,960/246,574 items, 1,210 items/s, 3m23s
left", so an observer that only shows text needs nothing more. "left" is the phase's time
left, estimated from its pace so far (`hashbench.runner.eta`); absent when unknown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hashbench.runner.eta import duration_text, time_left

PHASES = ("train", "encode", "profile", "evaluate")


@dataclass(frozen=True)
class Step:
    """A run's phase and, where known, how far along it is."""

    phase: str  # one of PHASES (a plugin's own phases are shown as they are)
    done: int | None = None
    total: int | None = None
    unit: str = ""  # what `done` counts: "epochs", "items", "tasks"
    loss: float | None = None  # the last finished epoch's training loss
    rate: float | None = None  # `rate_unit` (else `unit`) per second in this phase
    rate_unit: str = ""
    left: float | None = None  # seconds estimated to be left in this phase
    # A batch step (done/total batches): the epoch (from 1) of `epochs` they belong to.
    epoch: int | None = None
    epochs: int | None = None

    def __str__(self) -> str:
        text = self.phase
        counted = self.done is not None and self.total is not None
        if self.epoch is not None and self.epochs is not None:  # a batch step
            text += f" epoch {self.epoch:,}/{self.epochs:,}"
            if counted:
                text += f", batch {self.done:,}/{self.total:,}"
        elif counted:
            text += f" {self.done:,}/{self.total:,} {self.unit}".rstrip()
        if self.loss is not None:
            text += f", loss {self.loss:.4g}"
        if self.rate is not None and math.isfinite(self.rate):
            text += f", {self.rate:,.0f} {self.rate_unit or self.unit or 'units'}/s"
        if self.left is not None and math.isfinite(self.left):
            text += f", {duration_text(self.left)} left"
        return text

    @property
    def fraction(self) -> float | None:
        """How much of the phase is done, 0..1 (None when unknown); for a batch step, of the
        whole training (earlier epochs and this one's batches)."""
        if self.done is None or not self.total:
            return None
        part = min(1.0, max(0.0, self.done / self.total))
        if self.epoch is not None and self.epochs:
            return min(1.0, max(0.0, (self.epoch - 1 + part) / self.epochs))
        return part


def loss_value(losses: Mapping[str, Any]) -> float | None:
    """The loss to show from what a method passed to `epoch_end`: `loss`, else `total`, else
    the only value; floats, numpy scalars or one-element tensors (None when there is none)."""
    if not losses:
        return None
    if "loss" in losses:
        value = losses["loss"]
    elif "total" in losses:
        value = losses["total"]
    elif len(losses) == 1:
        (value,) = losses.values()
    else:
        return None
    try:
        return float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError, RuntimeError):
        return None  # not a scalar: nothing to show


class ItemCounter:
    """Counts items of a phase and reports a `Step` (done of total, rate) after each batch."""

    def __init__(
        self,
        phase: str,
        total: int,
        report: Callable[[Step], None],
        unit: str = "items",
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.phase, self.total, self.unit = phase, total, unit
        self.report, self.clock = report, clock
        self.done = 0
        self.started = clock()
        report(Step(phase, 0, total, unit))

    def add(self, items: int) -> None:
        self.done += items
        elapsed = self.clock() - self.started
        rate = self.done / elapsed if elapsed > 0 else None
        left = time_left(elapsed, self.done / self.total) if self.total else None
        self.report(Step(self.phase, self.done, self.total, self.unit, rate=rate, left=left))
