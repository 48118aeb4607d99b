"""The `precomputed` encoder: for datasets whose files already hold feature vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

import hashbench
from hashbench import EncoderSpec


class PrecomputedFeatures:
    """Identity encoder: checks the items are a 2-D array and returns them as float32."""

    def encode(self, modality: str, items: Any) -> np.ndarray:
        features = np.asarray(items, dtype=np.float32)
        if features.ndim != 2:
            raise hashbench.errors.InputError(
                f"precomputed {modality} features must be a 2-D array, got shape {features.shape}"
            )
        return features


@hashbench.hookimpl
def hashbench_register_encoders() -> list[EncoderSpec]:
    return [
        EncoderSpec(
            name="precomputed",
            summary="features already extracted (e.g. CLIP features stored with the dataset)",
            modalities=("image", "text"),
            create=PrecomputedFeatures,
        )
    ]
