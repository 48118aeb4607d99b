"""`--protocol as-released`: the released code's model selection, reproduced by the harness.

The schedule (a property), the kept snapshot against hand-computed scores of a toy whose quality
rises then falls, training left untouched, patience, run ids, the CLI end to end, bad input,
the process executor, and every plugin's declaration.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import hashbench
from hashbench import metrics
from hashbench.errors import InputError
from hashbench.methods import MethodContext, TrainData
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.released import ReleasedSelection, evaluation_epochs
from hashbench.runner.execute import PlannedRun, RunOptions, execute_run
from hashbench.runner.spec import RunSpec, run_id
from hashbench.store import ResultStore, default_store_path
from hashbench.testing import tiny_dataset, tiny_unimodal_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# --- the schedule -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    every=st.integers(1, 60),
    released=st.integers(1, 400),
    epochs=st.integers(1, 500),
)
def test_schedule_keeps_the_released_fractions(every, released, epochs):
    if every > released:
        every = released
    released_points = tuple(range(every, released + 1, every))
    assert evaluation_epochs(every, released, released) == released_points
    points = evaluation_epochs(every, released, epochs)
    assert all(1 <= p <= epochs for p in points)
    assert all(a < b for a, b in zip(points, points[1:], strict=False))
    n = len(released_points)
    # As many evaluations as released while epochs allow: exact when the released points are at
    # least an epoch apart here, or when the released schedule ends within half an interval of
    # its last epoch (every released code: 80/40, 300/40, 100/1, 100/10, 60/10); otherwise
    # rounding may merge the first two points at most once.
    if every * epochs >= released or 2 * (released % every) <= every:
        assert len(points) == min(n, epochs)
    else:
        assert min(n, epochs) - 1 <= len(points) <= min(n, epochs)


def test_schedule_of_the_released_codes():
    assert evaluation_epochs(40, 300, 300) == (40, 80, 120, 160, 200, 240, 280)  # JDSH
    assert evaluation_epochs(40, 300, 45) == (6, 12, 18, 24, 30, 36, 42)  # quick: same fractions
    assert evaluation_epochs(40, 80, 2) == (1, 2)  # DJSRH at 2 epochs
    assert evaluation_epochs(1, 100, 3) == (1, 2, 3)  # UCCH / DGCPN: every epoch


# --- a toy whose quality rises, then falls ------------------------------------------------------

MIXES = (0.05, 0.4, 1.0, 0.2, 0.0, 0.0, 0.0, 0.0)


class RiseFall(hashbench.Method):
    """Codes from `mix` x PCA + (1 - mix) x a seeded random projection; `mix` follows MIXES,
    so the model is best at epoch 3 (1-based) and worse after it."""

    info = hashbench.MethodInfo(
        name="toy-risefall", display_name="Toy", reference="test", summary="released toy"
    )
    default_params = {"epochs": len(MIXES)}
    released_selection = ReleasedSelection(
        source="test", split="test", every=1, released_epochs=len(MIXES), keeps="best"
    )
    calls: list[int] = []  # epoch_end calls of the last fit (a test reads them)

    def fit(self, train: TrainData) -> None:
        x = torch.cat([train.features["image"], train.features["text"]])
        self.mean = x.mean(0)
        _, _, v = torch.linalg.svd(x - self.mean, full_matrices=False)
        self.pca = v[: self.bits].T
        gen = torch.Generator().manual_seed(self.seed)
        self.random = torch.randn(x.shape[1], self.bits, generator=gen)
        epochs = int(self.params["epochs"])
        type(self).calls = []
        for epoch in range(epochs):
            self.mix = MIXES[epoch]
            type(self).calls.append(epoch)
            torch.rand(3)  # draws from the global generator, which scoring must not move
            self.epoch_end(epoch, epochs, loss=1.0 - self.mix)

    def encode(self, modality, inputs):
        w = self.mix * self.pca + (1 - self.mix) * self.random / 20
        return torch.where((inputs[modality] - self.mean) @ w >= 0, 1, -1).to(torch.int8)


class RiseFallLast(RiseFall):
    info = replace(RiseFall.info, name="toy-risefall-last")
    released_selection = replace(RiseFall.released_selection, keeps="last")


class RiseFallPatience(RiseFall):
    info = replace(RiseFall.info, name="toy-risefall-patience")
    released_selection = replace(RiseFall.released_selection, patience=2)


class Drifting(RiseFallLast):
    """Trains on the global random generator and encodes through a dropout left in train mode,
    drawing from that generator: any scoring that moved the generator or the modes would
    change its final codes."""

    info = replace(RiseFall.info, name="toy-drifting")

    def fit(self, train: TrainData) -> None:
        x = torch.cat([train.features["image"], train.features["text"]])
        self.mean, self.drop = x.mean(0), torch.nn.Dropout(0.5)
        self.w = torch.zeros(x.shape[1], self.bits)
        epochs = int(self.params["epochs"])
        for epoch in range(epochs):
            self.w = self.w + torch.randn(x.shape[1], self.bits)
            self.epoch_end(epoch, epochs)

    def encode(self, modality, inputs):
        torch.rand(1)
        return torch.where((inputs[modality] - self.mean) @ self.drop(self.w) >= 0, 1, -1).to(
            torch.int8
        )


OPTIONS = RunOptions(profile=False, encode_batch_size=256)


def _run(method_cls, dataset, protocol="default"):
    spec = RunSpec(method_cls.info.name, dataset.name, 16, 0, "quick")
    plan = PlannedRun.resolve(spec, method_cls, dataset, protocol=protocol)
    return execute_run(plan, dataset, OPTIONS)


def _expected_scores(dataset):
    """Mean of I2T and T2I mAP@50 after each epoch, by hand: the toy's codes at each mix."""
    context = MethodContext(bits=16, params={"epochs": 0}, device=torch.device("cpu"), seed=0)
    method = RiseFall(context)
    features = {m: torch.as_tensor(x) for m, x in dataset.train.features.items()}
    method.fit(TrainData(features, None, dataset.protocol, dataset.num_labels))

    def encode(split, modality):  # in the harness's batches: the same sums, the same signs
        x = torch.as_tensor(getattr(dataset, split).features[modality])
        step = OPTIONS.encode_batch_size
        batches = [x[i : i + step] for i in range(0, len(x), step)]
        return np.concatenate([method.encode(modality, {modality: b}).numpy() for b in batches])

    scores, codes = [], []
    for mix in MIXES:
        method.mix = mix
        c = {f"{s}.{m}": encode(s, m) for s in ("query", "retrieval") for m in ("image", "text")}
        q, r = dataset.query.labels, dataset.retrieval.labels
        i2t = metrics.map_at_k(c["query.image"], c["retrieval.text"], q, r, k=50)
        t2i = metrics.map_at_k(c["query.text"], c["retrieval.image"], q, r, k=50)
        scores.append((i2t + t2i) / 2)
        codes.append(c)
    return scores, codes


@pytest.fixture(scope="module")
def dataset():
    return tiny_dataset()


@pytest.fixture(scope="module")
def expected(dataset):
    return _expected_scores(dataset)


@pytest.fixture(scope="module")
def default_run(dataset):
    return _run(RiseFall, dataset)


def _codes(arrays, key):
    from hashbench.codes import unpack_codes

    return unpack_codes(arrays[f"codes.{key}"], 16)


def test_best_keeps_the_best_scored_snapshot(dataset, expected, default_run):
    scores, codes = expected
    best = int(np.argmax(scores))  # the first maximum
    assert best + 1 == 3 and scores[best] > max(scores[best + 1 :])  # the toy's shape holds
    record, arrays = _run(RiseFall, dataset, "as-released")
    sel = record.metrics["released_selection"]
    assert record.protocol == "as-released"
    assert [e for e, _ in sel["scored"]] == list(range(1, len(MIXES) + 1))
    assert np.allclose([s for _, s in sel["scored"]], scores)
    assert sel["kept_epoch"] == best + 1 and sel["keeps"] == "best" and sel["kept"] == "best"
    assert sel["epochs"] == len(MIXES) and sel["stopped_early"] is False
    assert sel["queries"] == len(dataset.query)
    assert 0 < record.timings["released_scoring_s"] and record.timings["train_s"] >= 0
    for key in ("query.image", "retrieval.text"):
        assert np.array_equal(_codes(arrays, key), codes[best][key])
    # the full evaluation ran on the kept codes: its mAP@50 is the best snapshot's
    i2t = record.metrics["i2t"]["map@50"]
    assert i2t > default_run[0].metrics["i2t"]["map@50"]
    assert i2t == pytest.approx(
        metrics.map_at_k(
            codes[best]["query.image"],
            codes[best]["retrieval.text"],
            dataset.query.labels,
            dataset.retrieval.labels,
            k=50,
        )
    )


def test_last_keeps_the_final_codes_and_training_is_untouched(dataset, expected, default_run):
    scores, codes = expected
    record, arrays = _run(RiseFallLast, dataset, "as-released")
    sel = record.metrics["released_selection"]
    assert np.allclose([s for _, s in sel["scored"]], scores)  # the curve is still recorded
    assert sel["kept_epoch"] == len(MIXES) and sel["kept"] == "last"
    base_record, base_arrays = default_run
    for key in ("query.image", "query.text", "retrieval.image", "retrieval.text"):
        assert np.array_equal(arrays[f"codes.{key}"], base_arrays[f"codes.{key}"])
        assert np.array_equal(_codes(arrays, key), codes[-1][key])
    assert base_record.protocol == "default" and "released_selection" not in base_record.metrics


def test_scoring_leaves_training_untouched(dataset):
    default, default_arrays = _run(Drifting, dataset)
    released, arrays = _run(Drifting, dataset, "as-released")
    assert len(released.metrics["released_selection"]["scored"]) == len(MIXES)
    for key in ("query.image", "query.text", "retrieval.image", "retrieval.text"):
        assert np.array_equal(arrays[f"codes.{key}"], default_arrays[f"codes.{key}"])


def test_patience_stops_training(dataset, expected):
    scores, codes = expected
    record, arrays = _run(RiseFallPatience, dataset, "as-released")
    sel = record.metrics["released_selection"]
    assert RiseFallPatience.calls == [0, 1, 2, 3, 4]  # two epochs without improvement after 3
    assert sel["stopped_early"] is True and sel["kept_epoch"] == 3
    assert [e for e, _ in sel["scored"]] == [1, 2, 3, 4, 5]
    assert np.array_equal(_codes(arrays, "query.text"), codes[2]["query.text"])


def test_no_scored_epoch_keeps_the_final_model(dataset):
    class NoEpochs(RiseFall):
        info = replace(RiseFall.info, name="toy-noepochs")

        def fit(self, train):
            super().fit(train)  # reports its epochs ...

        def epoch_end(self, epoch, epochs, **losses):  # ... but never to the harness
            pass

    record, _ = _run(NoEpochs, dataset, "as-released")
    sel = record.metrics["released_selection"]
    assert sel["scored"] == [] and sel["kept"] == "final" and sel["epochs"] is None


def test_head_splits_score_the_first_retrieval_items(dataset):
    from hashbench.runner.released_selection import selection_score

    rng = np.random.default_rng(0)
    codes = {
        f"{s}.{m}": np.where(rng.random((len(getattr(dataset, s)), 8)) < 0.5, 1, -1)
        for s in ("query", "retrieval")
        for m in ("image", "text")
    }
    labels = dataset.retrieval.labels
    head = ReleasedSelection(source="t", split="retrieval-head", size=30, metric="map@all")
    self_head = replace(head, split="retrieval-head-self", zero_relevant="skip")
    score, n = selection_score(codes, dataset, head)
    i2t = metrics.map_at_all(
        codes["retrieval.image"][:30], codes["retrieval.text"], labels[:30], labels
    )
    t2i = metrics.map_at_all(
        codes["retrieval.text"][:30], codes["retrieval.image"], labels[:30], labels
    )
    assert n == 30 and score == pytest.approx((i2t + t2i) / 2)
    score, _ = selection_score(codes, dataset, self_head)
    r = {m: codes[f"retrieval.{m}"][:30] for m in ("image", "text")}
    i2t = metrics.map_at_all(r["image"], r["text"], labels[:30], labels[:30], zero_relevant="skip")
    t2i = metrics.map_at_all(r["text"], r["image"], labels[:30], labels[:30], zero_relevant="skip")
    assert score == pytest.approx((i2t + t2i) / 2)


def test_unimodal_and_undeclared_are_refused():
    from plugins.methods.baselines import LSH

    with pytest.raises(InputError, match="cross-modal"):
        _run(RiseFall, tiny_unimodal_dataset(), "as-released")
    with pytest.raises(InputError, match="declares no released selection"):
        _run(LSH, tiny_dataset(), "as-released")


# --- identity -----------------------------------------------------------------------------------


def test_run_ids_default_unchanged_as_released_different(dataset):
    # the toy's budgets resolve to the same parameters, so it is planned under "paper"
    # (Method.budget_sensitive), whose ids are the ones stored before that rule
    spec = RunSpec("toy-risefall", dataset.name, 16, 0, "paper")
    params = {"epochs": len(MIXES)}
    payload = {  # the payload every stored run id was computed from
        "method": spec.method,
        "params": params,
        "dataset_fingerprint": dataset.fingerprint,
        "bits": 16,
        "seed": 0,
        "budget": "paper",
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    old = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    assert run_id(spec, params, dataset.fingerprint) == old
    default = PlannedRun.resolve(spec, RiseFall, dataset)
    released = PlannedRun.resolve(spec, RiseFall, dataset, protocol="as-released")
    assert default.run_id == old and default.protocol == "default"
    assert released.run_id != old and released.protocol == "as-released"
    other = PlannedRun.resolve(spec, RiseFallLast, dataset, protocol="as-released")
    assert other.run_id != released.run_id  # the declaration decides the result: part of the id


# --- declarations -------------------------------------------------------------------------------

REGISTRY = Registry.from_plugin_manager(create_plugin_manager())
DECLARED = [n for n in REGISTRY.list_methods() if REGISTRY.method(n).released_selection]


def test_the_six_methods_declare_a_selection():
    assert {"djsrh", "jdsh", "dgcpn", "ucch", "ucmfh", "cirh-like"} <= set(DECLARED)


@pytest.mark.parametrize("name", DECLARED)
def test_every_declaration_is_valid(name):
    selection = REGISTRY.method(name).released_selection
    assert isinstance(selection, ReleasedSelection)
    assert selection.problems() == []
    assert selection.note and "@" in selection.source  # the commit read is named


def test_a_bad_declaration_makes_only_its_method_unavailable():
    class Bad(RiseFall):
        info = replace(RiseFall.info, name="toy-bad-selection")
        released_selection = ReleasedSelection(source="", split="val", every=0, keeps="worst")

    registry = Registry.from_plugin_manager(create_plugin_manager())
    registry._add_method(Bad, "tests")
    problem = registry.broken["toy-bad-selection"]
    for fragment in ("released_selection: source", "split 'val'", "every 0", "keeps 'worst'"):
        assert fragment in problem
    assert "djsrh" in registry.methods


# --- the command line ---------------------------------------------------------------------------

FAST_DJSRH = ("-p", "djsrh.epochs=2", "-p", "djsrh.min_iterations=0", "-p", "djsrh.text_hidden=64")
TINY = ("--dataset", "synth-mirflickr", "--scale", "0.02", "--budget", "quick", "--bits", "16")


def _records():
    with ResultStore(default_store_path()) as store:
        return {r.protocol: r for r in store.records()}


def test_cli_runs_as_released_beside_default(cli):
    first = cli("run", "--methods", "djsrh", *TINY, *FAST_DJSRH, "--protocol", "as-released")
    assert first.exit_code == 0, first.output
    second = cli("run", "--methods", "djsrh", *TINY, *FAST_DJSRH)
    assert second.exit_code == 0, second.output
    again = cli("run", "--methods", "djsrh", *TINY, *FAST_DJSRH, "--protocol", "as-released")
    assert "0 run(s) executed, 1 skipped" in again.output  # resume/skip as for other runs
    records = _records()
    released, default = records["as-released"], records["default"]
    assert released.run_id != default.run_id
    sel = released.metrics["released_selection"]
    assert sel["split"] == "test" and sel["every"] == 40 and sel["released_epochs"] == 80
    assert [e for e, _ in sel["scored"]] == [1, 2] and sel["kept_epoch"] == 2
    assert sel["keeps"] == "last" and sel["epochs"] == 2
    # DJSRH keeps the last model: scoring during training left it exactly the default run's
    assert released.metrics["i2t"] == default.metrics["i2t"]
    with ResultStore(default_store_path()) as store:
        a, b = store.load_arrays(released), store.load_arrays(default)
    for key in ("codes.query.image", "codes.retrieval.text"):
        assert np.array_equal(a[key], b[key])
    status = cli("status", "--methods", "djsrh", *TINY, *FAST_DJSRH, "--protocol", "as-released")
    assert released.run_id in status.output and default.run_id not in status.output


def test_an_interrupted_as_released_run_resumes_with_its_protocol():
    from hashbench.runner.resume import describe, run_command

    about = {"method": "jdsh", "dataset": "synth-mscoco", "bits": 32, "seed": 0}
    about |= {"budget": "quick", "overrides": {}, "protocol": "as-released"}
    assert describe(about).endswith("/ quick / as-released")
    assert run_command(about).endswith("--budget quick --protocol as-released")


def test_cli_config_file_takes_the_protocol(cli, tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text('methods = ["lsh"]\ndataset = "synth-mirflickr"\nprotocol = "as-released"\n')
    result = cli("run", "--config", str(config), "--bits", "16", "--scale", "0.02")
    assert result.exit_code != 0 and "lsh declares no released selection" in result.output


RUN = ("run", "--bits", "16", "--scale", "0.02")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (
            ("-m", "djsrh", "-d", "synth-mirflickr", "--protocol", "x"),
            "--protocol 'x' is not one of default, as-released",
        ),
        (
            ("-m", "lsh,djsrh", "-d", "synth-mirflickr", "--protocol", "as-released"),
            "lsh declares no released selection; methods that do: cirh-like, dgcpn, djsrh",
        ),
        (
            ("-m", "djsrh", "-d", "synth-mirflickr", "--protocol", "as-released", "--tuned"),
            "--protocol as-released cannot be combined with --tuned",
        ),
        (
            ("-m", "djsrh", "-d", "synth-events", "--protocol", "as-released"),
            "dataset 'synth-events' is unimodal",
        ),
    ],
)
def test_cli_bad_protocol_input_fails_before_any_data(cli, monkeypatch, args, fragment):
    def no_loading(*args, **kwargs):
        raise AssertionError("a dataset was loaded")

    monkeypatch.setattr("hashbench.runner.grid.load_datasets", no_loading)
    result = cli(*RUN, *args)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    (line,) = [line for line in result.output.splitlines() if fragment in line]
    assert len(line) < 400, line


def test_process_executor_carries_the_protocol(cli):
    args = ("run", "--methods", "jdsh", *TINY, "--protocol", "as-released")
    fast = ("-p", "jdsh.epochs=3", "-p", "jdsh.min_iterations=0", "-p", "jdsh.text_hidden=64")
    result = cli(*args, *fast, "--executor", "process", "--workers", "1")
    assert result.exit_code == 0, result.output
    record = _records()["as-released"]
    sel = record.metrics["released_selection"]  # computed in the worker process
    assert sel["keeps"] == "best" and [e for e, _ in sel["scored"]] == [1, 2, 3]
    best = max(range(3), key=lambda i: (sel["scored"][i][1], -i))
    assert sel["kept_epoch"] == best + 1
