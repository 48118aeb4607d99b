"""Progress inside a run (epochs with the loss, encode items and rate, profile, evaluate) and
the plain log lines `hashbench run` prints off a terminal."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import hashbench
from hashbench.cli.progress_view import LogObserver, run_label
from hashbench.runner.execute import PlannedRun, RunOptions, execute_run
from hashbench.runner.progress import ItemCounter, Step, loss_value
from hashbench.runner.spec import RunSpec
from hashbench.store import RunRecord
from hashbench.testing import tiny_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick")
LONG = "a-method-with-a-very-long-name-for-wrapping"


def test_steps_read_as_phrases():
    assert str(Step("train", 3, 8, "epochs", loss=0.42137)) == "train 3/8 epochs, loss 0.4214"
    encode = Step("encode", 40960, 246574, "items", rate=1210.4)
    assert str(encode) == "encode 40,960/246,574 items, 1,210 items/s"
    assert str(Step("profile")) == "profile" and Step("profile").fraction is None
    assert encode.fraction == pytest.approx(40960 / 246574)


def test_the_loss_shown_is_loss_then_total_then_the_only_one():
    assert loss_value({}) is None
    assert loss_value({"loss": torch.tensor(0.5), "total": 2.0}) == 0.5
    assert loss_value({"total": np.float32(1.5), "other": 3.0}) == 1.5
    assert loss_value({"contrastive": 0.25}) == 0.25
    assert loss_value({"a": 1.0, "b": 2.0}) is None  # which one? none is shown
    assert loss_value({"loss": torch.ones(3)}) is None  # not a scalar


def test_item_counter_reports_done_of_total_and_rate():
    now = [10.0]
    seen: list[Step] = []
    counter = ItemCounter("encode", 300, seen.append, clock=lambda: now[0])
    now[0] = 12.0
    counter.add(100)
    assert [str(s) for s in seen] == [
        "encode 0/300 items",
        "encode 100/300 items, 50 items/s, 4s left",  # 200 more at 50 a second
    ]


class _Toy(hashbench.Method):
    """Two epochs that report a loss, then sign codes."""

    info = hashbench.MethodInfo(
        name="toy-progress", display_name="Toy", reference="test", summary="progress test"
    )

    def fit(self, train):
        for epoch in range(2):
            self.epoch_end(epoch, 2, loss=torch.tensor(1.0 / (epoch + 1)))

    def encode(self, modality, inputs):
        x = inputs[modality][:, : self.bits]
        return torch.where(x >= 0, 1, -1)


def test_a_run_reports_every_phase_in_order():
    dataset = tiny_dataset()
    spec = RunSpec(method="toy-progress", dataset=dataset.name, bits=16, seed=0, budget="quick")
    plan = PlannedRun.resolve(spec, _Toy, dataset)
    steps: list[Step] = []
    options = RunOptions(encode_batch_size=256, profile=True)
    execute_run(plan, dataset, options, on_phase=steps.append)
    text = [str(s) for s in steps]
    assert text[0] == "train"
    assert [t.split(", ")[:2] for t in text[1:3]] == [
        ["train 1/2 epochs", "loss 1"],
        ["train 2/2 epochs", "loss 0.5"],
    ]
    assert text[2].endswith(", 0s left")  # then the time left in training
    encode = [s for s in steps if s.phase == "encode"]
    total = (len(dataset.query) + len(dataset.retrieval)) * 2
    assert encode[0].done == 0 and encode[-1].done == encode[-1].total == total
    assert all(s.rate is None or s.rate > 0 for s in encode)
    assert [s.done for s in encode] == sorted(s.done for s in encode)
    phases = [s.phase for s in steps]
    assert phases.index("profile") > phases.index("encode")
    assert [str(s) for s in steps if s.phase == "evaluate"] == [
        "evaluate 0/2 tasks",
        "evaluate 1/2 tasks",
    ]


class _Plan:
    spec = RunSpec(method=LONG, dataset="synth-mscoco", bits=128, seed=2, budget="quick")
    dataset_label = "synth-mscoco@0.5"
    protocol = "default"
    run_id = "ee9a0b1c2d3e4f50"


def _record() -> RunRecord:
    return RunRecord(
        run_id=_Plan.run_id, method=LONG, dataset="synth-mscoco@0.5", dataset_fingerprint="f",
        bits=128, seed=2, budget="quick", params={}, pair_fused=False,
        metrics={"i2t": {"map@50": 0.61234}, "t2i": {"map@50": 0.59}}, timings={"total_s": 74.1},
        provenance={},
    )  # fmt: skip


def test_log_lines_are_whole_and_carry_ids_scores_and_progress():
    now = [100.0]
    lines: list[str] = []
    log = LogObserver(lines.append, interval=30, clock=lambda: now[0])
    log.grid_started(1)
    log.run_started(_Plan)
    log.tick()  # nothing reported yet: the run is starting
    now[0] = 131.0
    log.run_phase(_Plan, Step("train", 3, 8, "epochs", loss=0.5))  # an epoch end: at once
    now[0] = 140.0
    log.tick()
    now[0] = 175.0
    log.run_finished(_Plan, _record(), skipped=False)
    log.tick()  # nothing in flight: no line
    label = run_label(_Plan)
    assert label == f"{LONG} / synth-mscoco@0.5 / 128 bits / seed 2 / quick"
    assert lines == [
        "[0:00:00] 1 run(s) in the grid (those in the store are skipped)",
        f"[0:00:00] start {label}  run ee9a0b1c2d3e4f50",
        f"[0:00:00] progress {label}: starting (0:00:00 in this run; 0/1 runs finished; "
        "sweep time left unknown)",
        f"[0:00:31] progress {label}: train 3/8 epochs, loss 0.5 (0:00:31 in this run; "
        "0/1 runs finished; sweep time left unknown)",
        f"[0:00:40] progress {label}: train 3/8 epochs, loss 0.5 (0:00:40 in this run; "
        "0/1 runs finished; sweep time left unknown)",
        f"[0:01:15] done in 74.1s {label}  mAP@50 I2T 0.6123 T2I 0.5900  run ee9a0b1c2d3e4f50"
        "  (1/1 runs)",
    ]
    assert all("\n" not in line for line in lines) and max(map(len, lines)) > 80


def test_run_off_a_terminal_prints_plain_unwrapped_lines(cli, monkeypatch):
    monkeypatch.setenv("HASHBENCH_LOG_INTERVAL", "0.02")  # CliRunner is not a terminal
    result = cli("run", "--methods", "lsh,cca-itq", *SMALL, "--bits", "16")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "\x1b[" not in out  # no terminal control codes: no bars
    starts = re.findall(r"^\[\d+:\d\d:\d\d\] start (.+?)  run ([0-9a-f]{16})$", out, re.M)
    done = re.findall(
        r"^\[\d+:\d\d:\d\d\] done in [\d.]+s (.+?)  mAP@50 I2T \d\.\d{4} T2I \d\.\d{4}  "
        r"run ([0-9a-f]{16})  \(\d/2 runs\)$",
        out,
        re.M,
    )
    assert len(starts) == 2 and sorted(starts) == sorted(done)
    assert re.search(r"^\[\d+:\d\d:\d\d\] progress lsh / .+: \w+", out, re.M), out
    summary = next(line for line in out.splitlines() if "run(s) executed" in line)
    assert "store:" in summary  # the summary line is not wrapped either
