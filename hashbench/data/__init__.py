"""Datasets: the data model, dataset specs, and the embedded synthetic datasets."""

from hashbench.data.types import CrossModalDataset, DatasetOptions, DatasetSpec, Split

__all__ = ["CrossModalDataset", "DatasetOptions", "DatasetSpec", "Split"]
