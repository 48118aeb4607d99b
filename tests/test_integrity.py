"""Paths that used to let a wrong number reach a table with exit code 0 (each one a test)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import hashbench
from hashbench.data.leakage import check_no_query_copies, query_copies
from hashbench.data.types import Split
from hashbench.errors import InputError, StoreError
from hashbench.params import coerce
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.report.table import build_table, to_latex, to_markdown
from hashbench.runner.execute import RunOptions
from hashbench.runner.grid import GridSpec, run_grid
from hashbench.runner.spec import parse_bits, parse_seeds, resolve_params
from hashbench.store import ResultStore, RunRecord
from hashbench.testing import check_method_conformance, run_tiny, tiny_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Vandal(hashbench.Method):
    """Changes everything it is given in place."""

    info = hashbench.MethodInfo(
        name="vandal", display_name="Vandal", reference="test", summary="mutates its inputs"
    )

    def fit(self, train):
        for features in train.features.values():
            features.mul_(-3.0).add_(1.0)

    def encode(self, modality, inputs):
        for features in inputs.values():
            features.zero_()
        return torch.ones(len(inputs[modality]), self.bits)


def _registry_with(*methods) -> Registry:
    pm = create_plugin_manager()

    class _Plugin:
        @staticmethod
        @hashbench.hookimpl
        def hashbench_register_methods():
            return list(methods)

    pm.register(_Plugin, name="test-plugin")
    return Registry.from_plugin_manager(pm)


def test_a_method_that_changes_its_inputs_cannot_change_later_runs(tmp_path):
    registry = _registry_with(_Vandal)
    grid = dict(datasets=["synth-mirflickr"], bits=[16], budgets=["quick"], scale=0.05)
    options = RunOptions(encode_batch_size=512, profile=False)
    with ResultStore(tmp_path / "a.sqlite") as store:
        after = run_grid(GridSpec(methods=["vandal", "cca-itq"], **grid), registry, store, options)
    with ResultStore(tmp_path / "b.sqlite") as store:
        alone = run_grid(GridSpec(methods=["cca-itq"], **grid), registry, store, options)
    (poisoned,) = [r for r in after.records if r.method == "cca-itq"]
    (clean,) = alone.records
    assert poisoned.run_id == clean.run_id
    assert poisoned.metrics == clean.metrics


def _stored_run(tmp_path, bits=16, seed=0):
    record, arrays = run_tiny(hashbench_lsh(), bits=bits, seed=seed)
    store = ResultStore(tmp_path / "s.sqlite")
    store.save(record, arrays)
    return store, store.get(record.run_id)


def hashbench_lsh():
    return Registry.from_plugin_manager(create_plugin_manager()).method("lsh")


def test_stored_codes_are_checked_against_their_row(tmp_path):
    store, record = _stored_run(tmp_path)
    assert record.codes_digest["bits"] == 16 and record.codes_digest["sha256"]
    store.load_arrays(record)  # intact: fine
    path = store.path.parent / record.codes_path
    # another run's codes (another seed) under this run's name
    other, arrays = run_tiny(hashbench_lsh(), bits=16, seed=1)
    np.savez(path, **arrays)
    with pytest.raises(StoreError, match=f"{path}.*does not belong to run {record.run_id}"):
        store.load_arrays(record)
    # 32-bit codes under a 16-bit run
    _, wide = run_tiny(hashbench_lsh(), bits=32, seed=0)
    np.savez(path, **wide)
    with pytest.raises(StoreError, match="shapes"):
        store.load_arrays(record)
    # a truncated file
    np.savez(path, **arrays)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(StoreError, match=f"cannot read the codes of run {record.run_id}"):
        store.load_arrays(record)


def test_runs_stored_before_checksums_are_checked_for_their_code_length(tmp_path):
    store, record = _stored_run(tmp_path)
    _, wide = run_tiny(hashbench_lsh(), bits=32, seed=0)
    np.savez(store.path.parent / record.codes_path, **wide)
    record.codes_digest = {}  # as an older store holds it
    with pytest.raises(StoreError, match="not \\(items, 2\\) for 16 bits"):
        store.load_arrays(record)


def _with_copy(dataset, query_row: int, retrieval_row: int):
    features = {m: f.copy() for m, f in dataset.retrieval.features.items()}
    for m in features:
        features[m][retrieval_row] = dataset.query.features[m][query_row]
    retrieval = Split(features=features, labels=dataset.retrieval.labels)
    return type(dataset)(**{**dataset.__dict__, "retrieval": retrieval})


def test_a_query_item_copied_into_the_retrieval_set_is_refused():
    dataset = tiny_dataset()
    check_no_query_copies(dataset, "tiny")  # clean
    leaky = _with_copy(dataset, 7, 30)
    assert query_copies(leaky).tolist() == [7]
    with pytest.raises(InputError, match="1 query item.*first: query row 7"):
        check_no_query_copies(leaky, "tiny")
    # one modality copied, the other not: a different item, not a leak
    features = {m: f.copy() for m, f in leaky.retrieval.features.items()}
    features["text"][30] += 1e-3
    near = type(leaky)(**{**leaky.__dict__, "retrieval": Split(features, leaky.retrieval.labels)})
    assert query_copies(near).size == 0


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [
        ("no", True, False),
        ("Yes", False, True),
        ("0", True, False),
        ("1", False, True),
        ("3", 0.5, 3.0),
        ("1e-3", 0.1, 0.001),
        ("7", 2, 7),
        ("word", "x", "word"),
        ("[1, 2]", None, [1, 2]),
        (2, 0.5, 2.0),  # a sweep file's typed value
    ],
)
def test_param_values_take_the_type_of_the_default(raw, default, expected):
    value = coerce("m.p", raw, default)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "default", "message"),
    [
        ("maybe", True, "expected a boolean"),
        ("abc", 0.1, "expected a number"),
        ("2.5", 3, "expected a whole number"),
        (True, 0.1, "expected a number"),
    ],
)
def test_badly_typed_param_values_are_refused(raw, default, message):
    with pytest.raises(InputError, match=message):
        coerce("m.p", raw, default)


def test_param_values_outside_a_declared_range_are_refused():
    cca = Registry.from_plugin_manager(create_plugin_manager()).method("cca-itq")
    assert resolve_params(cca, "mirflickr", "quick", {"ridge": "1"})["ridge"] == 1.0
    with pytest.raises(InputError, match=r"cca-itq.ridge=-5.0: not allowed; ridge must be"):
        resolve_params(cca, "mirflickr", "quick", {"ridge": "-5"})
    with pytest.raises(InputError, match="expected a number"):
        resolve_params(cca, "mirflickr", "quick", {"ridge": "abc"})


def test_seeds_and_bits_out_of_range_or_empty_are_refused():
    with pytest.raises(InputError, match="out of range"):
        parse_seeds(["99999999999999999999"])
    with pytest.raises(InputError, match="--seeds is empty"):
        parse_seeds([])
    with pytest.raises(InputError, match="--bits is empty"):
        parse_bits([])


def _record(run_id, method="cirh-like", seed=0, value=0.5, **changes) -> RunRecord:
    values = dict(
        run_id=run_id,
        method=method,
        dataset="synth-mirflickr",
        dataset_fingerprint="f" * 32,
        bits=32,
        seed=seed,
        budget="quick",
        params={"epochs": 20, "lr": 0.001},
        pair_fused=False,
        metrics={"i2t": {"map@50": value}},
        timings={},
        provenance={},
    )
    values.update(changes)
    return RunRecord(**values)


def test_runs_that_differ_only_in_params_get_rows_of_their_own():
    records = [
        _record(f"r{e}{s}", seed=s, value=e / 100 + s / 1000, params={"epochs": e, "lr": 0.001})
        for e in (10, 20, 60)
        for s in (0, 1)
    ]
    table = build_table(records)
    assert sorted(m for _, m in table.rows) == [
        "cirh-like [epochs=10]",
        "cirh-like [epochs=20]",
        "cirh-like [epochs=60]",
    ]
    cell = table.value(("i2t", "cirh-like [epochs=60]"), ("synth-mirflickr", 32))
    assert cell.n == 2 and cell.mean == pytest.approx(0.6005)


def test_tuned_and_default_rows_stand_side_by_side():
    records = [
        _record("d", value=0.5),
        _record("t", value=0.6, protocol="tuned", params={"epochs": 12, "lr": 0.01}),
    ]
    table = build_table(records)
    assert sorted(m for _, m in table.rows) == ["cirh-like (default)", "cirh-like (tuned)"]


def test_supervised_methods_are_marked_with_a_footnote():
    records = [_record("a", method="lsh"), _record("b", method="sup", value=0.7)]
    table = build_table(records, supervised={"sup"})
    markdown = to_markdown(table)
    assert "| sup‡ |" in markdown and "‡ supervised" in markdown
    assert r"sup$^{\ddagger}$" in to_latex(table)


class _Sloppy(hashbench.Method):
    info = hashbench.MethodInfo(
        name="sloppy", display_name="S", reference="t", summary="s", tasks=("cross_modal",)
    )

    def fit(self, train):
        pass

    def encode(self, modality, inputs):
        return torch.ones(len(inputs[modality]), self.bits)


def _variant(**info_changes):
    from dataclasses import replace

    return type("Variant", (_Sloppy,), {"info": replace(_Sloppy.info, **info_changes)})


def test_conformance_refuses_misspelled_or_empty_tasks():
    with pytest.raises(AssertionError, match="tasks .* must be a non-empty subset"):
        check_method_conformance(_Sloppy)
    with pytest.raises(AssertionError, match="tasks"):
        check_method_conformance(_variant(tasks=()))


def test_conformance_refuses_empty_metadata_and_bad_declarations():
    with pytest.raises(AssertionError, match="info.summary is empty"):
        check_method_conformance(_variant(tasks=("cross-modal",), summary=" "))
    bad = type(
        "Bad",
        (_variant(tasks=("cross-modal",)),),
        {"param_ranges": {"missing": hashbench.Float(0, 1)}},
    )
    with pytest.raises(AssertionError, match="'missing', which is not in default_params"):
        check_method_conformance(bad)


def test_conformance_refuses_a_spiking_claim_without_spiking_layers():
    class Linear(torch.nn.Module):
        def __init__(self, bits):
            super().__init__()
            self.layer = torch.nn.Linear(512, bits)

        def forward(self, image, text):
            return self.layer(image)

    claims = _variant(tasks=("cross-modal",), spiking=True)

    class NotSpiking(claims):
        def fit(self, train):
            self.model = Linear(self.bits)

        def inference_model(self):
            return self.model

    with pytest.raises(AssertionError, match="spiking=True.*no spikingjelly neuron"):
        check_method_conformance(NotSpiking)


def test_conformance_compares_encode_pairs_with_encode():
    class Mismatch(_variant(tasks=("cross-modal",), pair_fused=True)):
        def encode_pairs(self, inputs):
            n = len(inputs["image"])
            return {m: -torch.ones(n, self.bits) for m in inputs}

    with pytest.raises(AssertionError, match="encode_pairs gives other image codes"):
        check_method_conformance(Mismatch)


def test_a_method_on_a_task_it_does_not_declare_is_refused_before_any_run(tmp_path):
    registry = Registry.from_plugin_manager(create_plugin_manager())
    grid = GridSpec(methods=["cca-itq"], datasets=["synth-events"], bits=[16], scale=0.05)
    with ResultStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(InputError, match="does not support unimodal retrieval"):
            run_grid(grid, registry, store, RunOptions(profile=False))
        assert store.records() == [] and store.failures() == []
