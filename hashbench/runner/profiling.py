"""The efficiency profile stored with every run: the trained inference model's counts (params,
MACs, SOPs, firing rates, energy), its inference timing, and the run's time and memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from hashbench.data.types import CrossModalDataset, Split
from hashbench.errors import HashbenchError
from hashbench.methods import Method, MethodContext, TrainData
from hashbench.profile import (
    DEFAULT_ENERGY,
    DEFAULT_ITEMS,
    EnergyModel,
    benchmark_inference,
    profile_model,
)
from hashbench.runner.spec import complete_params
from hashbench.runner.tensors import private_tensor, private_tensors
from hashbench.seeding import seed_everything
from hashbench.store import ResultStore


def profile_inputs(split: Split, device: torch.device, items: int = DEFAULT_ITEMS):
    """The first `items` pairs of a split (the query set, by convention) as device tensors.

    A unimodal split (one modality) gives its one modality twice (see `_OneInput`).
    """
    n = min(items, len(split))
    modalities = ("image", "text") if len(split.features) > 1 else tuple(split.features) * 2
    return tuple(private_tensor(split.features[m][:n], device) for m in modalities)


class _OneInput(torch.nn.Module):
    """Lets the (image, text) profiler call a unimodal inference model as `model(x)`."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, _same: torch.Tensor) -> object:
        return self.model(x)


def profile_method(
    method: Method,
    query: Split,
    device: torch.device,
    *,
    energy: EnergyModel = DEFAULT_ENERGY,
    items: int = DEFAULT_ITEMS,
    task: str = "cross-modal",
) -> dict[str, Any]:
    """Counts and inference timing of a fitted method's inference model, as plain data.

    On a unimodal task the model is called as `model(x)`; op and energy figures are per item.

    A method without a torch model gets no counts. A failure of the profiler is recorded in
    the profile (key "error") rather than failing a run whose codes are fine.
    """
    try:
        model = method.inference_model()
    except Exception as exc:  # a plugin bug: say so, keep the run
        return {"model": None, "inference": None, "error": f"inference_model(): {exc}"}
    if model is None:
        return {"model": None, "inference": None}
    try:
        model = model.to(device)
        if task == "unimodal":
            model = _OneInput(model)
        image, text = profile_inputs(query, device, items)
        counts = profile_model(model, image, text, energy=energy, bits=method.bits)
        # up to 5 timed batches, fewer once 2 s are spent (slow models on a CPU)
        timing = benchmark_inference(model, image, text, repeats=5, warmup=1, budget_s=2.0)
    except (HashbenchError, RuntimeError, TypeError, ValueError) as exc:
        return {"model": None, "inference": None, "error": f"{type(exc).__name__}: {exc}"}
    return {"model": counts.to_dict(), "inference": timing.to_dict()}


@dataclass(frozen=True)
class ProfileReport:
    """The profile of one method at one code length, and where it came from."""

    method: str
    dataset: str
    bits: int
    source: str
    profile: dict[str, Any]


def stored_profile(
    store: ResultStore, method: str, dataset: str, bits: int
) -> ProfileReport | None:
    """The profile of the newest stored run of (method, dataset, bits), if there is one."""
    records = [r for r in store.records(method=method, dataset=dataset, bits=bits) if r.profile]
    if not records:
        return None
    newest = max(records, key=lambda r: r.created_at)
    source = f"stored run {newest.run_id} (trained, {newest.budget} budget, seed {newest.seed})"
    return ProfileReport(method, dataset, bits, source, newest.profile)


def fresh_profile(
    method_cls: type[Method],
    dataset: CrossModalDataset,
    bits: int,
    device: torch.device,
    *,
    energy: EnergyModel = DEFAULT_ENERGY,
    fit_items: int = 512,
    seed: int = 0,
) -> ProfileReport:
    """Profile a model fitted briefly (quick budget) on the first `fit_items` training pairs.

    Parameter and operation counts do not depend on training; firing rates of spiking models
    do, so the report says the model is not a trained result.
    """
    seed_everything(seed)
    params = complete_params(
        method_cls,
        method_cls.resolve_params(dataset.protocol, "quick"),
        bits,
        dataset.feature_dims,
        dataset.input_shapes,
    )
    context = MethodContext(
        bits=bits,
        params=params,
        device=device,
        seed=seed,
        feature_dims=dataset.feature_dims,
        input_shapes=dataset.input_shapes,
    )
    method = method_cls(context)
    n = min(fit_items, len(dataset.train))
    features = private_tensors({m: f[:n] for m, f in dataset.train.features.items()}, device)
    labels = None
    if method_cls.info.supervision == "supervised":
        labels = private_tensor(dataset.train.labels[:n], device)
    method.fit(
        TrainData(
            features=features,
            labels=labels,
            protocol=dataset.protocol,
            num_labels=dataset.num_labels,
        )
    )
    profile = profile_method(method, dataset.query, device, energy=energy, task=dataset.task)
    source = f"fitted on {n} training pairs, quick budget (not a trained result)"
    return ProfileReport(method_cls.info.name, dataset.name, bits, source, profile)
