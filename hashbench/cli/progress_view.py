"""How `hashbench run` shows progress: bars in a terminal, plain lines in a log.

In a terminal (`BarsObserver`): an overall bar (runs done of the grid, the sweep's time left)
and under it one bar per run in flight, showing its phase: "train epoch 1/8, batch 120/400, 850
items/s, 6m12s left", "train 3/8 epochs, loss 0.421, 5m10s left", "encode 40,960/246,574
items, 1,210 items/s, 3m23s left", "profile", "evaluate 1/2 tasks". A finished run leaves one
line above the bars.

Off a terminal (`LogObserver`: `> log 2>&1`, CI, pipes): plain lines, never wrapped, that
`tail -f` and `grep` can use: one line when a run starts, one when it ends (its id and scores,
or why it failed), and progress lines with the run's phase and the sweep's time left, so a slow
machine still shows that work goes on. Progress lines do not flood: per run, one when an epoch
ends unless its last epoch line is under `interval` seconds old, and otherwise one when its
last line of any kind is `interval` seconds old. Time left: `hashbench.runner.eta`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from hashbench.runner.eta import SweepClock
from hashbench.runner.grid import GridObserver
from hashbench.runner.progress import Step

DEFAULT_LOG_INTERVAL_S = 30.0


def run_label(plan) -> str:
    """A run as "spikehash / synth-mscoco / 32 bits / seed 0 / quick" (+ a protocol not default)."""
    s = plan.spec
    dataset = getattr(plan, "dataset_label", None) or s.dataset
    label = f"{s.method} / {dataset} / {s.bits} bits / seed {s.seed} / {s.budget}"
    protocol = getattr(plan, "protocol", "default")
    return label if protocol == "default" else f"{label} / {protocol}"


def scores_text(record) -> str:
    """The run's headline scores: "mAP@50 I2T 0.6012 T2I 0.5931" (or the unimodal one)."""
    parts = []
    for task, name in (("i2t", "I2T"), ("t2i", "T2I"), ("unimodal", "unimodal")):
        value = record.metrics.get(task, {}).get("map@50")
        if isinstance(value, int | float):
            parts.append(f"{name} {value:.4f}")
    text = "mAP@50 " + " ".join(parts) if parts else "no scores"
    return text + degenerate_text(record)


def degenerate_text(record) -> str:
    """A warning when a split's codes are all the same (one distinct code: every item tied)."""
    splits = sorted(
        f"{task} {split}"
        for task, values in record.task_metrics().items()
        for split in ("query", "retrieval")
        if values.get(f"distinct_{split}_codes") == 1
    )
    if not splits:
        return ""
    return f"  WARNING: one distinct code in {', '.join(splits)} (every item ties)"


def _clock_text(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class BarsObserver(GridObserver):
    """Rich bars on stderr: the grid's bar, and one bar per run in flight under it."""

    def __init__(self, progress: Progress, clock: Callable[[], float] = time.monotonic) -> None:
        self.progress, self.clock = progress, clock
        self.task = progress.add_task("preparing", total=None, detail="")
        self.done = 0
        self.total: int | None = None
        self.bars: dict[str, int] = {}
        self.sweep = SweepClock()
        self.shown = -math.inf  # when the sweep's time left was last redrawn

    @staticmethod
    def columns() -> tuple:
        return (
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
        )

    def _overall(self, description: str | None = None) -> None:
        self.shown = now = self.clock()
        detail = f"{self.done}/{self.total} runs" if self.total is not None else ""
        if self.total is not None and self.done < self.total:
            detail += f", {self.sweep.text(now)}"
        fields = {"detail": detail, "completed": self.done, "total": self.total}
        if description is not None:
            fields["description"] = escape(description)
        self.progress.update(self.task, **fields)

    def dataset_loading(self, name: str) -> None:
        self._overall(f"loading {name}")

    def grid_started(self, total: int) -> None:
        self.total = self.sweep.total = total
        self._overall("runs")

    def run_started(self, plan) -> None:
        self.sweep.started(plan.run_id, self.clock())
        self.bars[plan.run_id] = self.progress.add_task(
            escape(f"  {run_label(plan)}"), total=None, detail="starting"
        )

    def run_phase(self, plan, phase: Step | str) -> None:
        bar = self.bars.get(plan.run_id)
        if bar is None:
            return
        now = self.clock()
        self.sweep.step(plan.run_id, phase, now)
        fraction = getattr(phase, "fraction", None)  # of training, for a batch step
        self.progress.update(
            bar,
            completed=0 if fraction is None else fraction * 1000,
            total=None if fraction is None else 1000,
            detail=escape(str(phase)),
        )
        if now - self.shown >= 1.0:  # the sweep's estimate moves with the runs' steps
            self._overall()

    def _end(self, plan, line: str) -> None:
        self.sweep.ended(plan.run_id, self.clock())
        bar = self.bars.pop(plan.run_id, None)
        if bar is not None:
            self.progress.remove_task(bar)
        self.progress.console.print(line)
        self.done += 1
        self._overall()

    def run_finished(self, plan, record, skipped: bool) -> None:
        verb = "skipped (in store)" if skipped else f"done in {record.timings['total_s']:.1f}s"
        text = f"{run_label(plan)}: {verb}  {scores_text(record)}  [{record.run_id}]"
        self._end(plan, escape(text))  # ids like [ee9a..] are not markup

    def run_failed(self, plan, message: str) -> None:
        self._end(
            plan,
            f"[red]{escape(run_label(plan))}: FAILED[/] "
            + escape(f"{message}  [{plan.run_id}] (traceback stored; see `hashbench status`)"),
        )

    def run_elsewhere(self, plan) -> None:
        text = f"{run_label(plan)}: running in another process, left to it  [{plan.run_id}]"
        self._end(plan, escape(text))


def _aged(phase: Step | str, age: float) -> Step | str:
    """The step with its time left counted down to now (it was estimated `age` s ago)."""
    left = getattr(phase, "left", None)
    return phase if left is None else replace(phase, left=max(0.0, left - age))


@dataclass
class _Run:
    """A run in flight, as the log shows it."""

    label: str
    began: float
    phase: Step | str = "starting"
    phase_at: float = 0.0  # when it was reported
    line: float = field(init=False)  # when its last line was written (at first, its start)
    epoch_line: float = -math.inf  # ... and its last epoch line

    def __post_init__(self) -> None:
        self.line = self.began


class LogObserver(GridObserver):
    """Plain lines for logs: starts, ends (id and scores), and progress lines (module doc).

    `echo` receives whole lines (the CLI writes them to stderr unwrapped); `start()` begins the
    periodic lines on a daemon thread, `stop()` ends it; `tick()` writes one line per run in
    flight, `tick(only_due=True)` those whose last line is `interval` s old (tests call them
    with their own clock). `interval` 0: no progress lines.
    """

    def __init__(
        self,
        echo: Callable[[str], None],
        interval: float = DEFAULT_LOG_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.echo, self.interval, self.clock = echo, interval, clock
        self.started = clock()
        self.total: int | None = None
        self.finished = 0
        self.active: dict[str, _Run] = {}
        self.sweep = SweepClock()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _line(self, text: str) -> None:
        self.echo(f"[{_clock_text(self.clock() - self.started)}] {text}")

    def _count(self) -> str:
        return f"{self.finished}/{self.total}" if self.total is not None else str(self.finished)

    def dataset_loading(self, name: str) -> None:
        self._line(f"loading dataset {name}")

    def grid_started(self, total: int) -> None:
        self.total = self.sweep.total = total
        self._line(f"{total} run(s) in the grid (those in the store are skipped)")

    def run_started(self, plan) -> None:
        label, now = run_label(plan), self.clock()
        with self._lock:
            self.active[plan.run_id] = _Run(label, now)
            self.sweep.started(plan.run_id, now)
        self._line(f"start {label}  run {plan.run_id}")

    def run_phase(self, plan, phase: Step | str) -> None:
        """Keep the run's latest step (formatted only when a line shows it); an epoch's end
        is written at once unless the run's last epoch line is under `interval` s old."""
        now = self.clock()
        with self._lock:
            run = self.active.get(plan.run_id)
            if run is None:
                return
            run.phase, run.phase_at = phase, now
            self.sweep.step(plan.run_id, phase, now)
            epoch_end = getattr(phase, "unit", "") == "epochs"
            if not (self.interval > 0 and epoch_end and now - run.epoch_line >= self.interval):
                return
            run.epoch_line = now
        self._progress([run], now)

    def _end(self, plan, text: str) -> None:
        with self._lock:
            self.active.pop(plan.run_id, None)
            self.sweep.ended(plan.run_id, self.clock())
            self.finished += 1
        self._line(f"{text}  ({self._count()} runs)")

    def run_finished(self, plan, record, skipped: bool) -> None:
        if skipped:
            verb = "skip (in store)"
        else:
            verb = f"done in {record.timings.get('total_s', 0.0):.1f}s"
        self._end(plan, f"{verb} {run_label(plan)}  {scores_text(record)}  run {record.run_id}")

    def run_failed(self, plan, message: str) -> None:
        self._end(
            plan,
            f"FAILED {run_label(plan)}: {message}  run {plan.run_id} "
            "(traceback: `hashbench status --traceback`)",
        )

    def run_elsewhere(self, plan) -> None:
        self._end(plan, f"left to another process {run_label(plan)}  run {plan.run_id}")

    def tick(self, only_due: bool = False) -> None:
        """One progress line per run in flight (nothing when none is); `only_due`: only for
        the runs whose last line is at least `interval` s old."""
        now = self.clock()
        with self._lock:
            runs = [
                run
                for run in self.active.values()
                if not only_due or now - run.line >= self.interval
            ]
        self._progress(runs, now)

    def _progress(self, runs: list[_Run], now: float) -> None:
        with self._lock:
            sweep, count = self.sweep.text(now), self._count()
            for run in runs:
                run.line = now
        for run in runs:
            self._line(
                f"progress {run.label}: {_aged(run.phase, now - run.phase_at)} "
                f"({_clock_text(now - run.began)} in this run; {count} runs finished; {sweep})"
            )

    def _beat(self) -> None:
        while not self._stop.wait(min(self.interval, 1.0)):  # each run's lines come on time
            self.tick(only_due=True)

    def start(self) -> LogObserver:
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="hashbench-log", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


@contextmanager
def observe(console: Console, log_interval: float) -> Iterator[GridObserver]:
    """The observer of a `hashbench run`: bars when `console` (stderr) is a terminal, plain
    lines every `log_interval` seconds otherwise."""
    if console.is_terminal:
        with Progress(*BarsObserver.columns(), console=console, transient=True) as progress:
            yield BarsObserver(progress)
        return
    log = LogObserver(lambda line: click.echo(line, err=True), log_interval).start()
    try:
        yield log
    finally:
        log.stop()
