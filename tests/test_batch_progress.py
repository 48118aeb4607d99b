"""Progress inside an epoch (`Method.batch_end`), the time left in a run and in a sweep, and how
often the plain log shows them (issue 31, item 1). Clocks are injected: nothing sleeps."""

from __future__ import annotations

import io
import math
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.progress import Progress

import hashbench
from hashbench.cli.progress_view import BarsObserver, LogObserver
from hashbench.errors import PluginError
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.runner.batches import TrainingPace
from hashbench.runner.eta import SweepClock, duration_text, time_left, training_fraction
from hashbench.runner.execute import PlannedRun, RunOptions, execute_run
from hashbench.runner.progress import Step
from hashbench.runner.spec import RunSpec
from hashbench.testing import run_tiny, tiny_dataset, tiny_unimodal_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REGISTRY = Registry.from_plugin_manager(create_plugin_manager())


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- the arithmetic ---------------------------------------------------------------------------


def test_durations_read_as_short_phrases():
    assert [duration_text(s) for s in (0, 0.4, 45, 59.6, 60, 372, 3599, 3600, 7500)] == [
        "0s", "0s", "45s", "1m00s", "1m00s", "6m12s", "59m59s", "1h00m", "2h05m",
    ]  # fmt: skip


def test_time_left_assumes_the_pace_so_far_holds():
    assert time_left(30.0, 0.25) == pytest.approx(90.0)
    assert time_left(30.0, 1.0) == 0.0
    assert time_left(30.0, 0.0) is None  # nothing done: no pace to go on
    assert time_left(math.nan, 0.5) is None
    # epoch 2 (from 0) of 8, batch 99 (from 0) of 400: 2.25 epochs of 8 done
    assert training_fraction(2, 8, 99, 400) == pytest.approx(2.25 / 8)


@given(
    st.floats(0.0, 1e6, allow_nan=False),
    st.integers(1, 50),
    st.integers(1, 500),
    st.data(),
)
def test_training_estimate_is_consistent(elapsed, epochs, batches, data):
    epoch = data.draw(st.integers(0, epochs - 1))
    batch = data.draw(st.integers(0, batches - 1))
    fraction = training_fraction(epoch, epochs, batch, batches)
    assert 0.0 < fraction <= 1.0
    left = time_left(elapsed, fraction)
    assert left is not None and left >= 0.0
    assert elapsed + left == pytest.approx(elapsed / fraction, rel=1e-9, abs=1e-6)
    if epoch == epochs - 1 and batch == batches - 1:
        assert left == 0.0


def test_the_sweep_estimate_is_unknown_until_there_is_something_to_go_on():
    sweep = SweepClock(total=3)
    assert sweep.left(0.0) is None and sweep.text(0.0) == "sweep time left unknown"
    sweep.started("a", 0.0)
    sweep.step("a", Step("train"), 1.0)  # no estimate yet, no finished run
    assert sweep.left(2.0) is None
    sweep.step("a", Step("train", 1, 4, "epochs", left=30.0), 10.0)
    assert sweep.left(10.0) is None  # two runs queued and no duration to go on
    sweep.ended("a", 40.0)
    assert sweep.durations == [40.0]
    assert sweep.left(40.0) == pytest.approx(80.0)  # two queued runs of the mean, 40 s
    sweep.started("b", 40.0)
    sweep.step("b", Step("train", 1, 2, "epochs", left=20.0), 50.0)
    # b: its own estimate less the time since it was made; c (queued): the mean
    assert sweep.left(55.0) == pytest.approx(15.0 + 40.0)
    assert sweep.text(55.0) == "sweep 55s left"
    sweep.step("b", Step("evaluate", 0, 2, "tasks"), 70.0)  # no estimate: the mean less its age
    assert sweep.left(70.0) == pytest.approx(10.0 + 40.0)
    assert sweep.left(81.0) is None  # b is past the mean and has no estimate of its own


def test_skipped_runs_count_as_done_but_not_in_the_mean_and_workers_share_the_queue():
    sweep = SweepClock(total=6)
    sweep.ended("skipped", 0.0)  # in the store: never started here
    assert sweep.finished == 1 and sweep.durations == []
    sweep.started("a", 0.0)
    sweep.ended("a", 60.0)
    sweep.started("b", 60.0)
    sweep.started("c", 60.0)
    for run in ("b", "c"):
        sweep.step(run, Step("train", 1, 2, "epochs", left=30.0), 60.0)
    # two in flight (30 s each) and two queued (60 s each), shared by two workers
    assert sweep.left(60.0) == pytest.approx((30 + 30 + 60 + 60) / 2)


# --- the harness side of batch_end -----------------------------------------------------------


class _Named:
    class info:  # noqa: N801 (what TrainingPace reads of a method)
        name = "toy"


def test_batch_steps_carry_batches_rate_and_time_left_and_are_throttled():
    clock, steps = Clock(0.0), []
    pace = TrainingPace(steps.append, gap=0.5, clock=clock)
    clock.now = 2.0
    pace(_Named, 0, 4, 0, 10, 32)  # the first batch: shown at once, no rate yet
    clock.now = 2.1
    pace(_Named, 0, 4, 1, 10, 32)  # within the gap: nothing
    clock.now = 3.0
    pace(_Named, 0, 4, 2, 10, 32)
    assert [str(s) for s in steps] == [
        "train epoch 1/4, batch 1/10, 1m18s left",  # 2 s for 1/40 of the batches
        "train epoch 1/4, batch 3/10, 64 items/s, 37s left",  # 64 items in the 1 s after batch 1
    ]
    assert steps[-1].fraction == pytest.approx(3 / 40)
    clock.now = 4.0
    epoch_step = pace.epoch_step(0, 4, 0.5)
    assert str(epoch_step) == "train 1/4 epochs, loss 0.5, 12s left"  # 4 s for one of 4
    clock.now = 9.0  # e.g. a tuning trial's validation: not in the next epoch's rate
    pace(_Named, 1, 4, 0, 10, None)
    clock.now = 10.0
    pace(_Named, 1, 4, 1, 10, None)
    assert (
        str(steps[-1]) == "train epoch 2/4, batch 2/10, 1 batches/s, 23s left"
    )  # 10 s for 1.2 of 4 epochs


@pytest.mark.parametrize(
    ("args", "bad"),
    [
        ((0, 0, 0, 1, None), "epoch=0, epochs=0"),
        ((2, 2, 0, 1, None), "epoch=2, epochs=2"),
        ((0, 1, 3, 3, None), "batch=3, batches=3"),
        ((0, 1, 0, 2.0, None), "batch=0, batches=2.0"),
        ((0, 1, 0, 2, -1), "items=-1"),
        ((0, 1, 0, 2, torch.tensor(4)), "items=tensor(4)"),
    ],
)
def test_a_bad_batch_end_call_fails_the_run_even_if_caught(args, bad):
    pace = TrainingPace(lambda step: None, clock=Clock())
    with pytest.raises(PluginError, match=re.escape(bad)):
        pace(_Named, *args)
    with pytest.raises(PluginError, match="method 'toy' made a bad batch_end call"):
        pace.check()


class _Batches(hashbench.Method):
    """Three epochs of four batches that report themselves, then sign codes."""

    info = hashbench.MethodInfo(
        name="toy-batches", display_name="Toy", reference="test", summary="batch progress"
    )

    def fit(self, train):
        for epoch in range(3):
            for batch in range(4):
                self.batch_end(epoch, 3, batch, 4, items=10)
            self.epoch_end(epoch, 3, loss=1.0)

    def encode(self, modality, inputs):
        return torch.where(inputs[modality][:, : self.bits] >= 0, 1, -1)


def test_a_run_reports_batches_between_its_epochs():
    dataset = tiny_dataset()
    spec = RunSpec(method="toy-batches", dataset=dataset.name, bits=16, seed=0, budget="quick")
    steps: list[Step] = []
    execute_run(PlannedRun.resolve(spec, _Batches, dataset), dataset, RunOptions(), steps.append)
    train = [s for s in steps if s.phase == "train" and s.done is not None]
    # the first batch of a run always shows; then the 0.2 s gap (a fast toy: epochs only)
    assert str(train[0]).startswith("train epoch 1/3, batch 1/4")
    assert [s.done for s in train if s.unit == "epochs"] == [1, 2, 3]
    assert {s.epoch for s in train if s.unit == "batches"} <= {1, 2, 3}
    assert all(s.left is not None for s in train)


# --- every deep method reports its batches ----------------------------------------------------


def _deep_cases() -> list[tuple[str, str]]:
    """(method, task) of every registered method that trains in epochs."""
    return [
        (name, task)
        for name in REGISTRY.list_methods()
        if "epochs" in REGISTRY.method(name).default_params
        for task in REGISTRY.method(name).info.tasks
    ]


@pytest.mark.parametrize(
    ("name", "task"), _deep_cases(), ids=[f"{n}/{t}" for n, t in _deep_cases()]
)
def test_every_method_with_epochs_reports_its_batches(name, task, monkeypatch):
    calls: list[tuple] = []
    original = TrainingPace.__call__

    def spy(self, method, epoch, epochs, batch, batches, items):
        calls.append((epoch, epochs, batch, batches, items))
        return original(self, method, epoch, epochs, batch, batches, items)

    monkeypatch.setattr(TrainingPace, "__call__", spy)
    cls = REGISTRY.method(name)
    dataset = tiny_dataset() if task == "cross-modal" else tiny_unimodal_dataset()
    run_tiny(cls, bits=16, seed=0, overrides=dict(cls.test_params), dataset=dataset)
    assert calls, f"{name} never calls batch_end"
    epochs = {c[1] for c in calls}
    assert len(epochs) == 1
    assert {c[0] for c in calls} == set(range(epochs.pop()))  # every epoch reports batches
    assert all(isinstance(c[4], int) and c[4] > 0 for c in calls)  # items: plain integers


# --- how often the plain log shows progress ---------------------------------------------------


class _Plan:
    spec = RunSpec(method="spikehash", dataset="synth-mscoco", bits=16, seed=0, budget="quick")
    dataset_label = "synth-mscoco@0.1"
    protocol = "default"
    run_id = "8f41e620da2166f2"


def _batch(batch: int, epoch: int = 1) -> Step:
    return Step("train", batch, 400, "batches", rate=850.0, rate_unit="items", left=372.0,
                epoch=epoch, epochs=8)  # fmt: skip


def test_log_lines_come_at_most_once_per_interval_and_at_epoch_ends():
    clock, lines = Clock(0.0), []
    log = LogObserver(lines.append, interval=30, clock=clock)
    log.grid_started(2)
    log.run_started(_Plan)
    for t in range(1, 100):  # a batch step every second, the timer's check every second
        clock.now = float(t)
        if t % 40:
            log.run_phase(_Plan, _batch(t % 40, epoch=t // 40 + 1))
        else:  # an epoch of 40 s ends
            log.run_phase(_Plan, Step("train", t // 40, 8, "epochs", loss=0.5, left=280.0))
        log.tick(only_due=True)
    progress = [line for line in lines if " progress " in line]
    stamps = [line[1:8] for line in progress]
    assert stamps == ["0:00:30", "0:00:40", "0:01:10", "0:01:20"]
    assert progress[0].endswith(
        "progress spikehash / synth-mscoco@0.1 / 16 bits / seed 0 / quick: train epoch 1/8, "
        "batch 30/400, 850 items/s, 6m12s left (0:00:30 in this run; 0/2 runs finished; "
        "sweep time left unknown)"
    )
    assert "train 1/8 epochs, loss 0.5, 4m40s left" in progress[1]
    assert "train 2/8 epochs" in progress[3]


def test_fast_epochs_do_not_flood_the_log():
    clock, lines = Clock(0.0), []
    log = LogObserver(lines.append, interval=30, clock=clock)
    log.grid_started(1)
    log.run_started(_Plan)
    for epoch in range(1, 101):  # an epoch a second
        clock.now = float(epoch)
        log.run_phase(_Plan, Step("train", epoch, 100, "epochs"))
        log.tick(only_due=True)
    assert len([line for line in lines if " progress " in line]) <= 100 / 30 * 2


def test_interval_zero_writes_no_progress_lines():
    clock, lines = Clock(0.0), []
    log = LogObserver(lines.append, interval=0, clock=clock)
    log.grid_started(1)
    log.run_started(_Plan)
    clock.now = 50.0
    log.run_phase(_Plan, Step("train", 1, 8, "epochs"))
    assert not any(" progress " in line for line in lines)


def test_the_terminal_bars_show_batches_and_the_sweep_time_left():
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    clock = Clock(0.0)
    with Progress(*BarsObserver.columns(), console=console, auto_refresh=False) as progress:
        bars = BarsObserver(progress, clock=clock)
        bars.grid_started(1)
        bars.run_started(_Plan)
        clock.now = 5.0
        bars.run_phase(_Plan, _batch(120))
        tasks = {task.id: task for task in progress.tasks}
        run = tasks[bars.bars[_Plan.run_id]]
        assert run.fields["detail"] == "train epoch 1/8, batch 120/400, 850 items/s, 6m12s left"
        assert run.percentage == pytest.approx(100 * 120 / 400 / 8)  # of the whole training
        assert tasks[bars.task].fields["detail"] == "0/1 runs, sweep 6m12s left"
