"""Toy methods and registries for the tuning tests: fast, deterministic, with epochs."""

from __future__ import annotations

import types
from dataclasses import replace

import numpy as np
import torch

import hashbench
from hashbench.data.types import DatasetSpec, Split
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.testing import tiny_dataset


class ToyEpochs(hashbench.Method):
    """Codes drift from random hyperplanes to PCA directions as epochs pass; `quality` is how
    far they get. Reports every epoch, so trials can be scored and pruned mid-training."""

    info = hashbench.MethodInfo(
        name="toy-epochs", display_name="Toy", reference="test", summary="tuning test toy"
    )
    default_params = {"quality": 0.3, "epochs": 4, "center": True}
    param_ranges = {"quality": hashbench.Float(0.0, 1.0), "epochs": hashbench.Int(1, None)}
    search_space = {
        "quality": hashbench.Float(0.0, 1.0),
        "epochs": hashbench.UpToBudget(2),
        "center": hashbench.Choice([True, False]),
    }

    def fit(self, train: hashbench.TrainData) -> None:
        x = torch.cat([train.features["image"], train.features["text"]])
        self.mean = x.mean(0) if self.params["center"] else torch.zeros_like(x[0])
        _, _, v = torch.linalg.svd(x - self.mean, full_matrices=False)
        self.pca = v[: self.bits].T
        self.random = torch.randn(x.shape[1], self.bits, device=x.device)
        epochs = int(self.params["epochs"])
        for epoch in range(epochs):
            self.mix = float(self.params["quality"]) * (epoch + 1) / epochs
            self.epoch_end(epoch, epochs)

    def encode(self, modality, inputs):
        w = self.mix * self.pca + (1 - self.mix) * self.random / 20
        return torch.where((inputs[modality] - self.mean) @ w >= 0, 1, -1)


class ToySteady(ToyEpochs):
    """Always trains its 6 epochs (no epochs in the space): every trial reports 5 scores."""

    info = replace(ToyEpochs.info, name="toy-steady")
    default_params = {**ToyEpochs.default_params, "epochs": 6}
    search_space = {"quality": hashbench.Float(0.0, 1.0)}


class ToyFails(ToyEpochs):
    info = replace(ToyEpochs.info, name="toy-fails")

    def fit(self, train: hashbench.TrainData) -> None:
        raise RuntimeError("this toy always fails")


def plugin_module(*methods: type[hashbench.Method]) -> types.ModuleType:
    module = types.ModuleType("tuning_toys_plugin")
    module.hashbench_register_methods = hashbench.hookimpl(lambda: list(methods))
    return module


def leaky_twin(dataset, seed: int = 1):
    """The same training split; query and retrieval features and labels replaced (shuffled
    rows, noise added, labels permuted): what tuning must never be able to notice."""
    rng = np.random.default_rng(seed)

    def scramble(split: Split) -> Split:
        rows = rng.permutation(len(split))
        features = {
            m: (x[rows] + rng.normal(0, 1, x.shape)).astype(np.float32)
            for m, x in split.features.items()
        }
        return Split(features=features, labels=split.labels[rng.permutation(len(split))])

    return replace(
        dataset,
        query=scramble(dataset.query),
        retrieval=scramble(dataset.retrieval),
        fingerprint=dataset.fingerprint + "-twin",
    )


def registry(*methods: type[hashbench.Method], datasets: dict | None = None) -> Registry:
    """The installed plugins, plus `methods` and datasets {name: CrossModalDataset}."""
    reg = Registry.from_plugin_manager(create_plugin_manager())
    for method in methods:
        reg._add_method(method, "tests")
    for name, dataset in (datasets or {"tiny": tiny_dataset()}).items():
        spec = DatasetSpec(name, "test", dataset.protocol, lambda options, d=dataset: d)
        reg._add_dataset(spec, "tests")
    return reg
