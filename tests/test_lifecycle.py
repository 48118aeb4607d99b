"""The lifecycle hooks: when each fires, what it receives, and that a plugin's error never fails
a run (reported once per plugin and hook)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import hashbench
from hashbench.data.types import DatasetSpec
from hashbench.lifecycle import LifecycleHooks, RunStarted
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.runner.execute import RunOptions
from hashbench.runner.grid import GridSpec, run_grid
from hashbench.store import ResultStore
from hashbench.testing import tiny_dataset
from hashbench.tuning.session import tune_grid
from hashbench.tuning.settings import TuneSettings
from tests.tuning_toys import ToyEpochs, ToyFails

pytestmark = pytest.mark.usefixtures("one_torch_thread")
OPTIONS = RunOptions(encode_batch_size=1024, profile=False)


class Recorder:
    """A plugin that records every lifecycle call it gets."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    @hashbench.hookimpl
    def hashbench_run_start(self, run):
        self.events.append(("start", run))

    @hashbench.hookimpl
    def hashbench_epoch_end(self, run, epoch, epochs, losses):
        self.events.append(("epoch", run, epoch, epochs, losses))

    @hashbench.hookimpl
    def hashbench_run_finish(self, record, store):
        self.events.append(("finish", record, store))

    @hashbench.hookimpl
    def hashbench_run_fail(self, run, message, error):
        self.events.append(("fail", run, message, error))

    @hashbench.hookimpl
    def hashbench_sweep_finish(self, sweep):
        self.events.append(("sweep", sweep))

    def of(self, kind: str) -> list[tuple]:
        return [e for e in self.events if e[0] == kind]


class Raiser:
    """A plugin whose every lifecycle hook raises (with fewer arguments than the specs)."""

    @hashbench.hookimpl
    def hashbench_run_start(self):
        raise RuntimeError("start broke")

    @hashbench.hookimpl
    def hashbench_epoch_end(self, epoch):
        raise ValueError(f"epoch {epoch} broke")

    @hashbench.hookimpl
    def hashbench_run_finish(self, record):
        raise KeyError(record.run_id)

    @hashbench.hookimpl
    def hashbench_run_fail(self, message):
        raise RuntimeError("fail broke")

    @hashbench.hookimpl
    def hashbench_sweep_finish(self, sweep):
        raise RuntimeError("sweep broke")


class Gambler:
    """Draws from every random generator at each epoch end."""

    @hashbench.hookimpl
    def hashbench_epoch_end(self):
        random.random(), np.random.rand(), torch.rand(3)


class ToyWithLoss(ToyEpochs):
    """ToyEpochs that reports a tensor loss, and draws its random hyperplanes after training
    (so a plugin that used the generators during training would change its codes)."""

    info = hashbench.MethodInfo(
        name="toy-loss", display_name="Toy", reference="test", summary="lifecycle test"
    )
    default_params = {**ToyEpochs.default_params, "epochs": 3}

    def fit(self, train):
        x = torch.cat([train.features["image"], train.features["text"]])
        self.mean, self.mix, self.pca = x.mean(0), 0.0, torch.zeros(x.shape[1], self.bits)
        for epoch in range(3):
            self.epoch_end(epoch, 3, loss=torch.tensor(1.0 / (epoch + 1)), other=np.float32(2))
        self.random = torch.randn(x.shape[1], self.bits)


def _registry(*plugins: object) -> Registry:
    pm = create_plugin_manager()
    for number, plugin in enumerate(plugins):
        pm.register(plugin, name=f"{type(plugin).__name__.lower()}-{number}")
    registry = Registry.from_plugin_manager(pm)
    for method in (ToyWithLoss, ToyEpochs, ToyFails):
        registry._add_method(method, "tests")
    dataset = tiny_dataset()
    registry._add_dataset(DatasetSpec("tiny", "test", dataset.protocol, lambda o: dataset), "t")
    return registry


def _grid(methods, bits=(16,)) -> GridSpec:
    return GridSpec(methods=methods, datasets=["tiny"], bits=list(bits), budgets=["quick"])


def test_each_hook_fires_once_per_event_with_what_the_store_holds(tmp_path):
    recorder = Recorder()
    registry = _registry(recorder)
    with ResultStore(tmp_path / "s.sqlite") as store:
        outcome = run_grid(_grid(["toy-loss", "toy-fails"]), registry, store, OPTIONS)
        (done,) = outcome.records
        ((failed_plan, failed_message),) = outcome.failed
        stored = store.get(done.run_id)
    path = str(tmp_path / "s.sqlite")
    kinds = [e[0] for e in recorder.events]
    assert kinds == ["start", "epoch", "epoch", "epoch", "finish", "start", "fail", "sweep"]

    (_, started), (_, started_failed) = recorder.of("start")
    assert (started.run_id, started.method, started.bits) == (done.run_id, "toy-loss", 16)
    assert started.params == stored.params and started.budget == stored.budget
    assert started.seed == 0
    assert started.store == path and started.dataset == "tiny" and started.protocol == "default"
    assert started_failed.run_id == failed_plan.run_id and started_failed.method == "toy-fails"

    epochs = recorder.of("epoch")
    assert [(e[2], e[3]) for e in epochs] == [(0, 3), (1, 3), (2, 3)]
    assert all(e[1] == started for e in epochs)  # the same run, as it started
    assert epochs[1][4] == {"loss": 0.5, "other": 2.0}
    assert all(type(v) is float for e in epochs for v in e[4].values())

    ((_, record, store_path),) = recorder.of("finish")
    assert store_path == path and record.run_id == done.run_id
    assert record.codes_digest == stored.codes_digest and record.codes_digest["sha256"]
    assert record.metrics == stored.metrics

    ((_, run, message, error),) = recorder.of("fail")
    assert run.run_id == failed_plan.run_id and message == failed_message
    assert message.endswith("RuntimeError: this toy always fails") and "Traceback" in error

    ((_, sweep),) = recorder.of("sweep")
    assert sweep.store == path
    assert sweep.executed == (done.run_id,) and sweep.failed == (failed_plan.run_id,)
    assert sweep.skipped == () and sweep.elsewhere == ()

    recorder.events.clear()  # again: the finished run is skipped, the failed one retried
    with ResultStore(tmp_path / "s.sqlite") as store:
        run_grid(_grid(["toy-loss", "toy-fails"]), registry, store, OPTIONS)
    assert [e[0] for e in recorder.events] == ["start", "fail", "sweep"]
    ((_, sweep),) = recorder.of("sweep")
    assert sweep.skipped == (done.run_id,) and sweep.failed == (failed_plan.run_id,)


def test_a_raising_plugin_is_warned_about_once_per_hook_and_runs_are_stored(tmp_path, capsys):
    recorder = Recorder()
    registry = _registry(Raiser(), recorder)  # the recorder still hears every event
    grid = _grid(["toy-loss", "toy-fails"], bits=(16, 32))
    with ResultStore(tmp_path / "s.sqlite") as store:
        outcome = run_grid(grid, registry, store, OPTIONS)
        assert outcome.executed == 2 and len(outcome.failed) == 2
        assert all(store.has_run(r.run_id) for r in outcome.records)
    lines = [line for line in capsys.readouterr().err.splitlines() if "raiser-0" in line]
    hooks = ["run_start", "epoch_end", "run_finish", "run_fail", "sweep_finish"]
    for hook in hooks:
        (line,) = [line for line in lines if f"in hashbench_{hook}:" in line]
        assert line.startswith("warning: plugin 'raiser-0' raised in hashbench_")
    assert "ValueError: epoch 0 broke" in "".join(lines)
    assert len(lines) == len(hooks)
    counted = registry.hooks.errors
    assert counted[("raiser-0", "hashbench_epoch_end")] == 6  # 3 epochs x 2 runs, told once
    assert counted[("raiser-0", "hashbench_run_start")] == 4
    assert len(recorder.of("epoch")) == 6 and len(recorder.of("sweep")) == 1


def test_a_plugin_drawing_random_numbers_at_epoch_end_cannot_change_the_codes(tmp_path):
    digests = []
    for name, plugins in (("plain", ()), ("gambler", (Gambler(),))):
        with ResultStore(tmp_path / f"{name}.sqlite") as store:
            (record,) = run_grid(_grid(["toy-loss"]), _registry(*plugins), store, OPTIONS).records
        digests.append(record.codes_digest["sha256"])
    assert digests[0] == digests[1]


def test_a_plugin_error_is_reported_through_the_given_warn_and_counted():
    pm = create_plugin_manager()
    pm.register(Raiser(), name="raiser")
    said: list[str] = []
    hooks = LifecycleHooks(pm, warn=said.append)
    run = RunStarted("r1", "m", "d", 16, 0, "quick", "default")
    errors: list = []
    listener = hooks.epoch_listener(run, errors)
    assert listener is not None and LifecycleHooks().epoch_listener(run, []) is None
    listener(0, 2, {})
    listener(1, 2, {})
    assert said == []  # where the run trains, errors are only collected ...
    hooks.report(errors)  # ... and the scheduler reports them
    assert said == [
        "plugin 'raiser' raised in hashbench_epoch_end: ValueError: epoch 0 broke (the runs go "
        "on; later errors of this plugin in this hook are not shown)"
    ]
    assert hooks.errors[("raiser", "hashbench_epoch_end")] == 2


def test_a_tuning_session_is_one_sweep_with_its_trials_and_test_runs(tmp_path):
    recorder = Recorder()
    registry = _registry(recorder)
    settings = TuneSettings(trials=3, batch=2, pruner="none")
    with ResultStore(tmp_path / "s.sqlite") as store:
        tune_grid(_grid(["toy-epochs"]), settings, registry, store, OPTIONS)
        every = store.records(protocol=["trial", "default", "tuned"])
        protocols = {r.run_id: r.protocol for r in every}
    ((_, sweep),) = recorder.of("sweep")
    assert sorted(sweep.executed) == sorted(protocols) and not sweep.failed
    trials = [rid for rid, protocol in protocols.items() if protocol == "trial"]
    assert len(trials) == 3 and {"default", "tuned"} <= set(protocols.values())
    started = [e[1] for e in recorder.of("start")]
    assert sorted(r.run_id for r in started) == sorted(protocols)
    assert {r.protocol for r in started} == {"trial", "default", "tuned"}
    assert {e[1].run_id for e in recorder.of("epoch")} == set(protocols)  # trials train too


def test_a_sweep_stopped_by_a_failure_still_finishes_with_what_was_done(tmp_path):
    recorder = Recorder()
    grid = _grid(["toy-loss", "toy-fails", "toy-epochs"])
    with ResultStore(tmp_path / "s.sqlite") as store, pytest.raises(Exception, match="always"):
        run_grid(grid, _registry(recorder), store, OPTIONS, stop_on_failure=True)
    ((_, sweep),) = recorder.of("sweep")
    assert len(sweep.executed) == 1 and len(sweep.failed) == 1  # toy-epochs never started
    assert [e[1].method for e in recorder.of("start")] == ["toy-loss", "toy-fails"]
