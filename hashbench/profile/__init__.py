"""Efficiency profiling of hashing models: parameters, operations, firing rates, energy,
time and memory.

Entry point: `profile_model(model, image, text, energy=EnergyModel(), bits=None)`, where
`model(image, text)` runs one batch of query pairs through the whole inference model.
Definitions, counters and conventions: docs/profiling.md.
"""

from __future__ import annotations

from ._deps import ProfilingUnavailable
from .energy import EnergyEstimate, EnergyModel
from .firing import FiringRates, FiringRecorder, LayerFiring, measure_firing_rates
from .memory import ResourceMeter, ResourceUsage
from .model_profile import (
    DEFAULT_ENERGY,
    DEFAULT_ITEMS,
    LAYER_COLUMNS,
    ModelProfile,
    profile_model,
    si,
)
from .ops import COUNTERS, LayerOps, OpCounts, OpRecorder, count_ops
from .params import ParamCount, count_parameters
from .rules import sdpa_macs
from .state import eval_mode, fastpath_disabled, fresh_spiking_state, reset_spiking_state
from .storage import code_bytes_per_item
from .timing import InferenceBenchmark, Timing, benchmark_inference, throughput, time_calls

__all__ = [
    "COUNTERS",
    "DEFAULT_ENERGY",
    "DEFAULT_ITEMS",
    "LAYER_COLUMNS",
    "EnergyEstimate",
    "EnergyModel",
    "FiringRates",
    "FiringRecorder",
    "InferenceBenchmark",
    "LayerFiring",
    "LayerOps",
    "ModelProfile",
    "OpCounts",
    "OpRecorder",
    "ParamCount",
    "ProfilingUnavailable",
    "ResourceMeter",
    "ResourceUsage",
    "Timing",
    "benchmark_inference",
    "code_bytes_per_item",
    "count_ops",
    "count_parameters",
    "eval_mode",
    "fastpath_disabled",
    "fresh_spiking_state",
    "measure_firing_rates",
    "profile_model",
    "reset_spiking_state",
    "sdpa_macs",
    "si",
    "throughput",
    "time_calls",
]
