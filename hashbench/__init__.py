"""hashbench: a reproducible benchmark suite for learning-to-hash.

The public API plugins import:

- `hookimpl`: the marker for hook implementations (`@hashbench.hookimpl`).
- `Method`, `MethodInfo`, `MethodContext`, `TrainData`: the method contract.
- `DatasetSpec`, `DatasetOptions`, `CrossModalDataset`, `Split`: the data model.
- `EncoderSpec`: feature encoders.
- `Float`, `Int`, `Choice`: hyperparameter domains (`param_ranges`, `search_space`).
"""

from __future__ import annotations

import pluggy

from hashbench.data.types import CrossModalDataset, DatasetOptions, DatasetSpec, Split
from hashbench.encoders import EncoderSpec
from hashbench.methods import Method, MethodContext, MethodInfo, TrainData
from hashbench.params import Choice, Float, Int

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("hashbench")

__all__ = [
    "Choice",
    "Float",
    "Int",
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
