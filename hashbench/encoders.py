"""Feature encoders: raw data of one modality -> float32 feature vectors.

An encoder plugin registers an `EncoderSpec` whose `create(**options)` returns an object with
`encode(modality, items) -> np.ndarray`. The built-in `precomputed` encoder is the identity
(datasets that already hold features); the CLIP encoder arrives as its own plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class Encoder(Protocol):
    """What `EncoderSpec.create` returns."""

    def encode(self, modality: str, items: Any) -> np.ndarray:
        """Features, float32 (n, d), for `items` of `modality`."""


@dataclass(frozen=True)
class EncoderSpec:
    """An encoder a plugin registers."""

    name: str
    summary: str
    modalities: tuple[str, ...]
    create: Callable[..., Encoder]
