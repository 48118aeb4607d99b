"""The harness side of `Method.batch_end`: progress inside an epoch (batches, items/s, time left).

A method's training loop calls `self.batch_end(epoch, epochs, batch, batches, items=n)` after
each batch (`hashbench.methods`). The harness turns the calls into progress steps, "train epoch
1/8, batch 120/400, 850 items/s, 6m12s left" (`hashbench.runner.progress.Step`), so a long epoch
no longer looks like a hang; the epoch ends (`Method.epoch_end`) get the time left too.

It is called once per batch, so it stays cheap: a clock read, a few integer checks, and a step
at most every `gap` seconds (nothing is formatted here; observers format what they show). It
never touches a tensor or a random generator, so the codes of a run do not change.

Rate: the items (or batches, when a method passes no `items`) after the epoch's first batch,
over the time since that batch, so work between epochs (a tuning trial's validation) does not
count. Time left: from the share of all planned batches done since training began (`eta`).
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from typing import Any

from hashbench.errors import PluginError
from hashbench.runner.eta import time_left, training_fraction
from hashbench.runner.progress import Step

DEFAULT_GAP_S = 0.2  # at most five batch steps a second reach the observers


class TrainingPace:
    """What `MethodContext.on_batch` calls; also makes the epoch steps (with the time left)."""

    def __init__(
        self,
        on_phase: Callable[[Step], None],
        gap: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.on_phase, self.clock = on_phase, clock
        self.gap = DEFAULT_GAP_S if gap is None else gap  # read here: tests may set it
        self.started = clock()  # training's start (the run's method is built just before)
        self.last_step = -math.inf
        self.epoch: int | None = None  # the epoch whose rate is being measured...
        self.first = 0.0  # ...since its first batch ended, then
        self.items = self.batches = 0  # items and batches reported after that one
        self.violation: PluginError | None = None

    def epoch_step(self, epoch: int, epochs: int, loss: float | None) -> Step:
        """The step of a (valid) `epoch_end` call, with the training time left."""
        now = self.clock()
        self.last_step, self.epoch = now, None  # the next epoch's rate starts afresh
        left = time_left(now - self.started, (epoch + 1) / epochs)
        return Step("train", epoch + 1, epochs, "epochs", loss=loss, left=left)

    def __call__(
        self, method: Any, epoch: int, epochs: int, batch: int, batches: int, items: int | None
    ) -> None:
        problem = _problem(epoch, epochs, batch, batches, items)
        if problem is not None:
            self.violation = PluginError(
                f"method '{method.info.name}' made a bad batch_end call: {problem}. Call "
                "self.batch_end(epoch, epochs, batch, batches, items=n) after each batch with "
                "0 <= epoch < epochs and 0 <= batch < batches (integers), items >= 0 or None"
            )
            raise self.violation
        now = self.clock()
        if epoch != self.epoch:
            self.epoch, self.first, self.items, self.batches = epoch, now, 0, 0
        else:
            self.items += items or 0
            self.batches += 1
        if now - self.last_step < self.gap:
            return
        self.last_step = now
        span = now - self.first
        rate, unit = None, ""
        if span > 0 and self.batches:
            rate, unit = (self.items / span, "items") if items is not None else (
                self.batches / span, "batches"
            )  # fmt: skip
        left = time_left(now - self.started, training_fraction(epoch, epochs, batch, batches))
        self.on_phase(
            Step(
                "train",
                batch + 1,
                batches,
                "batches",
                rate=rate,
                rate_unit=unit,
                left=left,
                epoch=epoch + 1,
                epochs=epochs,
            )
        )

    def check(self) -> None:
        """Raise the first bad call seen, even if the method caught the error."""
        if self.violation is not None:
            raise self.violation


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _problem(epoch: Any, epochs: Any, batch: Any, batches: Any, items: Any) -> str | None:
    """What is wrong with one call's arguments, or None."""
    if not (_is_int(epochs) and _is_int(epoch) and 0 <= epoch < epochs):
        return f"epoch={_short(epoch)}, epochs={_short(epochs)}: expected 0 <= epoch < epochs"
    if not (_is_int(batches) and _is_int(batch) and 0 <= batch < batches):
        return f"batch={_short(batch)}, batches={_short(batches)}: expected 0 <= batch < batches"
    if items is not None and not (_is_int(items) and items >= 0):
        return f"items={_short(items)}: expected an integer >= 0 or None"
    return None


def _short(value: Any) -> str:
    """A value as the message shows it: its repr, cut short (a tensor's can be long)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:37] + "..."
