"""Conformance checks for method plugins, usable by third parties against their own plugin.

    from hashbench.testing import check_method_conformance
    from my_plugin import MyMethod

    def test_my_method_conforms():
        check_method_conformance(MyMethod)

The checks validate the method's metadata and hyperparameter declarations, then run it through
the real harness on a tiny generated dataset of every task it declares: it trains, encodes every
split, returns valid codes (right shape, only -1/+1), the same seed gives the same codes, a
pair-fused method's `encode_pairs` gives exactly `encode`'s codes, a method declared
`spiking=True` has spiking neurons in its inference model, its `epoch_end` calls make sense
(integer epochs going forward from 0 below `epochs`, finite losses: the harness checks every
call and raises a PluginError naming the bad value), and it leaves the dataset object alone
(the harness's dataset check). hashbench's own test suite runs these same checks over every
registered method. A failure says what to fix.

The checks test the contract, not the quality of a method, so they apply the method's
`test_params` (e.g. `{"epochs": 1}` for a deep model) on top of the quick budget; `overrides`
passed to `check_method_conformance` take precedence over both.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from hashbench.data.synthetic import SYNTHETIC_CONFIGS, generate
from hashbench.data.types import CrossModalDataset
from hashbench.errors import PluginError
from hashbench.methods import Method, MethodContext, MethodInfo, TrainData
from hashbench.runner.dataset_guard import changed_message, content_digest
from hashbench.runner.execute import PlannedRun, RunOptions, execute_run
from hashbench.runner.spec import RunSpec
from hashbench.runner.tensors import private_tensors
from hashbench.seeding import seed_everything


def tiny_dataset(seed: int = 0) -> CrossModalDataset:
    """A small synth-mirflickr (about 1,000 retrieval items, 100 queries, 250 training pairs)."""
    config = replace(SYNTHETIC_CONFIGS["synth-mirflickr"], name="synth-tiny")
    return generate(config, seed=seed, scale=0.05)


def tiny_unimodal_dataset(seed: int = 0) -> CrossModalDataset:
    """A small synth-events (unimodal; 8 classes x (20 retrieval, 4 queries, 8 training))."""
    from hashbench.data import events  # here: keeps the cross-modal import path unchanged

    config = replace(events.EVENTS_CONFIGS["synth-events"], name="synth-events-tiny")
    return events.generate(config, seed=seed, scale=0.08)


def _plan(
    method_cls: type[Method],
    dataset: CrossModalDataset,
    bits: int,
    seed: int,
    overrides: dict | None,
) -> PlannedRun:
    spec = RunSpec(
        method=method_cls.info.name,
        dataset=dataset.name,
        bits=bits,
        seed=seed,
        budget="quick",
        overrides=overrides or {},
    )
    return PlannedRun.resolve(spec, method_cls, dataset)


def run_tiny(
    method_cls: type[Method],
    bits: int = 16,
    seed: int = 0,
    overrides: dict | None = None,
    dataset: CrossModalDataset | None = None,
    device: str = "cpu",
):
    """Run `method_cls` through the harness on the tiny dataset; return (record, arrays)."""
    dataset = dataset or tiny_dataset()
    options = RunOptions(device=torch.device(device), encode_batch_size=512)
    before = content_digest(dataset)
    out = execute_run(_plan(method_cls, dataset, bits, seed, overrides), dataset, options)
    changed = content_digest(dataset).changed(before)
    if changed:
        raise PluginError(changed_message(method_cls.info.name, dataset, changed))
    return out


def check_declarations(method_cls: type[Method]) -> None:
    """The metadata and hyperparameter declarations: what `hashbench` checks when it loads a
    plugin, plus the fields a table and the docs need."""
    info = getattr(method_cls, "info", None)
    assert isinstance(info, MethodInfo), (
        f"{method_cls.__name__}.info must be a hashbench.MethodInfo (name, display_name, "
        "reference, summary, supervision, tasks, spiking, pair_fused)"
    )
    problems = info.problems() + method_cls.declaration_problems()
    for name in ("display_name", "reference", "summary"):
        if not str(getattr(info, name)).strip():
            problems.append(f"info.{name} is empty; say what users should read")
    assert not problems, f"method '{info.name}': " + "; ".join(problems)


def check_encode_pairs(
    method_cls: type[Method], bits: int = 16, overrides: dict | None = None, device: str = "cpu"
) -> None:
    """A pair-fused method's one-pass `encode_pairs` (the harness uses it when it returns
    codes) must give exactly the codes of `encode` called for each modality."""
    data = tiny_dataset()
    plan = _plan(method_cls, data, bits, 0, overrides)
    seed_everything(0)
    context = MethodContext(
        bits=bits,
        params=dict(plan.params),
        device=torch.device(device),
        seed=0,
        feature_dims=data.feature_dims,
        input_shapes=data.input_shapes,
    )
    method = method_cls(context)
    feats = private_tensors(data.train.features, torch.device(device))
    method.fit(
        TrainData(features=feats, labels=None, protocol=data.protocol, num_labels=data.num_labels)
    )
    batch = private_tensors({m: v[:64] for m, v in data.query.features.items()}, context.device)
    with torch.no_grad():
        pairs = method.encode_pairs(batch)
        if pairs is None:
            return  # not implemented: the harness calls `encode` per modality
        for modality in data.modalities:
            one = np.asarray(torch.as_tensor(method.encode(modality, batch)).cpu())
            both = np.asarray(torch.as_tensor(pairs[modality]).cpu())
            assert np.array_equal(both, one), (
                f"method '{method_cls.info.name}': encode_pairs gives other {modality} codes "
                f"than encode('{modality}', ...); make both compute the same codes, or drop "
                "encode_pairs (returning None lets the harness call encode)"
            )


def check_method_conformance(
    method_cls: type[Method], bits: int = 16, overrides: dict | None = None, device: str = "cpu"
) -> None:
    """Raise AssertionError (or the harness's PluginError) if the method breaks the contract.

    The run uses the quick budget with the method's `test_params`, then `overrides`, applied.
    A method is checked on a tiny dataset of every task it declares ("cross-modal": a tiny
    synth-mirflickr; "unimodal": a tiny synth-events), training and encoding on `device`.
    """
    check_declarations(method_cls)
    overrides = {**method_cls.test_params, **(overrides or {})}
    if method_cls.info.pair_fused and "cross-modal" in method_cls.info.tasks:
        check_encode_pairs(method_cls, bits=bits, overrides=overrides, device=device)
    if "unimodal" in method_cls.info.tasks:
        _check_on(method_cls, bits, overrides, tiny_unimodal_dataset(), ("unimodal",), device)
    if "cross-modal" in method_cls.info.tasks:
        _check_on(method_cls, bits, overrides, tiny_dataset(), ("i2t", "t2i"), device)


def _check_on(
    method_cls: type[Method],
    bits: int,
    overrides: dict,
    dataset: CrossModalDataset,
    tasks: tuple[str, ...],
    device: str,
) -> None:
    record, arrays = run_tiny(
        method_cls, bits=bits, seed=0, overrides=overrides, dataset=dataset, device=device
    )
    sizes = {"query": len(dataset.query), "retrieval": len(dataset.retrieval)}
    for split, n in sizes.items():
        for modality in dataset.modalities:
            packed = arrays[f"codes.{split}.{modality}"]
            assert packed.shape == (n, (bits + 7) // 8), f"{split} {modality}: wrong code shape"
    for task in tasks:
        value = record.metrics[task]["map@50"]
        assert 0.0 <= value <= 1.0, f"{task} mAP@50 out of range: {value}"
    profile = record.profile
    assert "error" not in profile, f"profiling failed: {profile.get('error')}"
    if method_cls.info.spiking:
        model = profile.get("model") or {}
        assert (model.get("firing") or {}).get("overall") is not None, (
            f"method '{method_cls.info.name}' is declared spiking=True, but its "
            "inference_model() has no spikingjelly neuron that fires during inference: return "
            "the model that encodes queries (with its spiking layers), or declare spiking=False"
        )
    assert profile["run"]["encode_items_per_s"] > 0
    if profile.get("model") is not None:  # methods with a torch inference model get counts
        assert profile["model"]["params"]["total"] > 0
        assert (
            profile["model"]["ops"]["macs_per_item"] + profile["model"]["ops"]["sops_per_item"] > 0
        )
    _, again = run_tiny(
        method_cls, bits=bits, seed=0, overrides=overrides, dataset=dataset, device=device
    )
    for key, value in arrays.items():
        assert np.array_equal(value, again[key]), f"same seed gave different {key}"
