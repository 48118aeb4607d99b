"""A complete third-party hashbench plugin: PCA projection, then the sign."""

import torch

import hashbench


class PCAHash(hashbench.Method):
    info = hashbench.MethodInfo(
        name="pca-sign",
        display_name="PCA-Sign",
        reference="an example plugin",
        summary="top principal directions of both modalities, then the sign",
    )
    default_params = {"center": True}

    def fit(self, train: hashbench.TrainData) -> None:
        both = torch.cat([train.features["image"], train.features["text"]])
        self.mean = both.mean(0) if self.params["center"] else torch.zeros_like(both[0])
        _, _, v = torch.linalg.svd(both - self.mean, full_matrices=False)
        self.directions = v[: self.bits].T

    def encode(self, modality, inputs):
        projected = (inputs[modality] - self.mean) @ self.directions
        return torch.where(projected >= 0, 1, -1)  # never 0


@hashbench.hookimpl
def hashbench_register_methods():
    return [PCAHash]
