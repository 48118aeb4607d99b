"""The unimodal task: one-modality datasets (synth-events), evaluation at the declared R."""

from __future__ import annotations

import numpy as np
import torch
from hashbench_plugins.datasets.events import hashbench_register_datasets
from hashbench_plugins.methods.baselines import CCAITQ, LSH

import hashbench
from hashbench.data.events import CLASS_NAMES, MIRRORED_PAIRS, generate_arrays
from hashbench.errors import InputError
from hashbench.report.table import build_table
from hashbench.testing import run_tiny, tiny_unimodal_dataset


def test_synth_events_is_deterministic_balanced_and_declares_its_protocol():
    a = tiny_unimodal_dataset(seed=3)
    b = tiny_unimodal_dataset(seed=3)
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != tiny_unimodal_dataset(seed=4).fingerprint
    a.check()
    assert a.task == "unimodal" and a.modalities == ("events",)
    assert a.input_shapes == {"events": (8, 2, 32, 32)}
    assert a.retrieval_depth == 100
    for split in (a.train, a.query, a.retrieval):
        counts = split.labels.sum(0)
        assert (counts == counts[0]).all() and split.labels.sum(1).tolist() == [1] * len(split)
        assert set(np.unique(split.features["events"])) <= {0.0, 1.0}
    # training items are retrieval items
    retrieval = {row.tobytes() for row in a.retrieval.features["events"]}
    assert all(row.tobytes() in retrieval for row in a.train.features["events"])


def test_mirrored_pairs_are_identical_without_time_order_but_not_with_it():
    """The time-summed event maps of the two classes of a pair have the same mean count, while
    per-frame event counts show the order: reversed in time, one class's profile matches the
    other's (expand / contract: far better than unreversed)."""
    arrays = generate_arrays(_config(), seed=0, scale=0.3)
    x = arrays["retrieval.events"].astype(np.float64)  # (n, T, 2, H, W)
    y = arrays["retrieval.labels"].argmax(1)
    for name, (first, second) in MIRRORED_PAIRS.items():
        per_frame = [x[y == c].sum((2, 3, 4)).mean(0) for c in (first, second)]
        summed = [x[y == c].sum(1).mean() for c in (first, second)]
        assert abs(summed[0] - summed[1]) / summed[0] < 0.1, name
        reversed_gap = np.abs(per_frame[0][::-1] - per_frame[1]).sum()
        direct_gap = np.abs(per_frame[0] - per_frame[1]).sum()
        assert reversed_gap <= direct_gap + 0.05 * per_frame[0].sum(), name
        if name == "expand/contract":
            assert reversed_gap < 0.5 * direct_gap
    assert len(CLASS_NAMES) == 2 * len(MIRRORED_PAIRS)


def _config():
    from hashbench.data.events import EVENTS_CONFIGS

    return EVENTS_CONFIGS["synth-events"]


def test_lsh_runs_unimodal_and_the_record_has_map_at_r_groups_and_a_table_row():
    dataset = tiny_unimodal_dataset()
    record, arrays = run_tiny(LSH, bits=32, dataset=dataset)
    metrics = record.metrics["unimodal"]
    assert set(record.metrics) == {"unimodal", "scoring"}  # the task, how it was scored
    assert {"map@100", "map@50", "map@all", "acg@100", "ndcg@100"} <= set(metrics)
    assert set(metrics["groups"]) == set(MIRRORED_PAIRS)
    assert "codes.query.events" in arrays and "codes.retrieval.events" in arrays
    # binary event inputs count as synaptic operations: one per input event and bit
    ops = record.profile["model"]["ops"]
    events = dataset.query.features["events"].sum(1).mean()
    assert ops["macs_per_item"] == 0
    assert abs(ops["sops_per_item"] - events * 32) < 1e-3 * events * 32
    table = build_table([record], "map@100")
    assert table.rows == [("unimodal", "lsh")]


def test_cross_modal_only_methods_refuse_unimodal_datasets():
    try:
        run_tiny(CCAITQ, dataset=tiny_unimodal_dataset())
    except InputError as exc:
        assert "unimodal" in str(exc)
    else:
        raise AssertionError("cca-itq ran on a unimodal dataset")


def test_supervised_unimodal_methods_see_training_labels_only():
    seen = []

    class Spy(hashbench.Method):
        info = hashbench.MethodInfo(
            name="spy-uni",
            display_name="S",
            reference="t",
            summary="s",
            supervision="supervised",
            tasks=("unimodal",),
        )

        def fit(self, train):
            seen.append(("fit", train.labels.shape, tuple(train.features), self.context))

        def encode(self, modality, inputs):
            seen.append(("encode", modality, tuple(inputs)))
            return torch.ones(len(inputs[modality]), self.bits)

    dataset = tiny_unimodal_dataset()
    run_tiny(Spy, dataset=dataset)
    fit = seen[0]
    assert fit[1] == dataset.train.labels.shape and fit[2] == ("events",)
    assert fit[3].input_shapes == {"events": (8, 2, 32, 32)}
    assert {s for s in seen[1:]} == {("encode", "events", ("events",))}


def test_synth_events_is_registered_as_a_unimodal_dataset(tmp_path):
    (spec,) = hashbench_register_datasets()
    assert spec.name == "synth-events" and spec.task == "unimodal"
    options = hashbench.DatasetOptions(scale=0.05, cache_dir=tmp_path)
    first = spec.load(options)
    second = spec.load(options)  # from the cache
    assert first.fingerprint == second.fingerprint
    assert np.array_equal(first.train.features["events"], second.train.features["events"])
