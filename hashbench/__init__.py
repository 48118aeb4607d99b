"""hashbench: a reproducible benchmark suite for learning-to-hash.

The public API plugins import:

- `hookimpl`: the marker for hook implementations (`@hashbench.hookimpl`).
- `Method`, `MethodInfo`, `MethodContext`, `TrainData`: the method contract.
- `DatasetSpec`, `DatasetOptions`, `CrossModalDataset`, `Split`: the data model.
- `EncoderSpec`: feature encoders.
"""

from __future__ import annotations

import pluggy

from hashbench.data.types import CrossModalDataset, DatasetOptions, DatasetSpec, Split
from hashbench.encoders import EncoderSpec
from hashbench.methods import Method, MethodContext, MethodInfo, TrainData

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("hashbench")

__all__ = [
    "CrossModalDataset",
    "DatasetOptions",
    "DatasetSpec",
    "EncoderSpec",
    "Method",
    "MethodContext",
    "MethodInfo",
    "Split",
    "TrainData",
    "__version__",
    "hookimpl",
]
