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
    default_params = {"center": True, "text_weight": 1.0}
    # The values each parameter allows (`--param` is checked against them) ...
    param_ranges = {"text_weight": hashbench.Float(0.0, None)}
    # ... and what `hashbench tune` searches, inside them.
    search_space = {
        "center": hashbench.Choice([True, False]),
        "text_weight": hashbench.Float(0.25, 4.0, log=True),
    }

    def fit(self, train: hashbench.TrainData) -> None:
        text = train.features["text"] * float(self.params["text_weight"])
        both = torch.cat([train.features["image"], text])
        self.mean = both.mean(0) if self.params["center"] else torch.zeros_like(both[0])
        _, _, v = torch.linalg.svd(both - self.mean, full_matrices=False)
        self.directions = v[: self.bits].T

    def encode(self, modality, inputs):
        weight = float(self.params["text_weight"]) if modality == "text" else 1.0
        projected = (inputs[modality] * weight - self.mean) @ self.directions
        return torch.where(projected >= 0, 1, -1)  # never 0


@hashbench.hookimpl
def hashbench_register_methods():
    return [PCAHash]
