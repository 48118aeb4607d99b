"""hashbench: a reproducible benchmark suite for learning-to-hash.

The public API plugins import:

- `hookimpl`: the marker for hook implementations (`@hashbench.hookimpl`).
- `Method`, `MethodInfo`, `MethodContext`, `TrainData`: the method contract.
- `DatasetSpec`, `DatasetOptions`, `CrossModalDataset`, `Split`: the data model.
- `EncoderSpec`: feature encoders.
- `Float`, `Int`, `Choice`: hyperparameter domains (`param_ranges`, `search_space`);
  `UpToBudget`: a search range up to the budget's value (e.g. epochs).
- `ReleasedSelection`: how a method's released code selects its model
  (`Method.released_selection`, reproduced by `hashbench run --protocol as-released`).
- `MetricSpec`, `MetricInputs`: a retrieval metric a plugin adds (`hashbench_register_metrics`)
  and the task it is computed from (codes, labels, the engine's rankings); docs/plugins.md.
- `RunStarted`, `SweepFinished`: what the lifecycle hooks receive (`hashbench_run_start`, ...).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hashbench.data.types import CrossModalDataset, DatasetOptions, DatasetSpec, Split
    from hashbench.encoders import EncoderSpec
    from hashbench.lifecycle import RunStarted, SweepFinished
    from hashbench.methods import Method, MethodContext, MethodInfo, TrainData
    from hashbench.metrics.plugin import MetricInputs, MetricSpec
    from hashbench.params import Choice, Float, Int, UpToBudget
    from hashbench.released import ReleasedSelection

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("hashbench")

# The API names load on first use (PEP 562), so `import hashbench` (and `hashbench --help`)
# does not import torch and numpy; `hashbench.Method` and `from hashbench import Method` work
# as always.
_LAZY = {
    "CrossModalDataset": "hashbench.data.types",
    "DatasetOptions": "hashbench.data.types",
    "DatasetSpec": "hashbench.data.types",
    "Split": "hashbench.data.types",
    "EncoderSpec": "hashbench.encoders",
    "Method": "hashbench.methods",
    "MethodContext": "hashbench.methods",
    "MethodInfo": "hashbench.methods",
    "TrainData": "hashbench.methods",
    "RunStarted": "hashbench.lifecycle",
    "SweepFinished": "hashbench.lifecycle",
    "MetricInputs": "hashbench.metrics.plugin",
    "MetricSpec": "hashbench.metrics.plugin",
    "Choice": "hashbench.params",
    "Float": "hashbench.params",
    "Int": "hashbench.params",
    "UpToBudget": "hashbench.params",
    "ReleasedSelection": "hashbench.released",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hashbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
    "MetricInputs",
    "MetricSpec",
    "RunStarted",
    "SweepFinished",
    "ReleasedSelection",
    "Split",
    "TrainData",
    "UpToBudget",
    "__version__",
    "hookimpl",
]
