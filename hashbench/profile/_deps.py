"""Optional dependency lookup: spikingjelly is needed only when a model is profiled.

Importing `hashbench.profile` never requires spikingjelly; counting operations does (its
counters are the MAC/SOP counters of record), and firing rates are only measurable on models
built from spikingjelly neurons, which cannot exist without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from hashbench.errors import HashbenchError


class ProfilingUnavailable(HashbenchError, ImportError):
    """A dependency of the profiler is missing."""


@dataclass(frozen=True)
class SpikingTypes:
    """The spikingjelly classes the profiler looks for in a model."""

    neuron: type  # spikingjelly.activation_based.neuron.BaseNode
    memory: type  # spikingjelly.activation_based.base.MemoryModule (anything with state)


def spiking_types() -> SpikingTypes | None:
    """spikingjelly's neuron and stateful-module base classes, or None if not installed."""
    try:
        from spikingjelly.activation_based import base, neuron
    except ImportError:
        return None
    return SpikingTypes(neuron=neuron.BaseNode, memory=base.MemoryModule)


def op_counter() -> ModuleType:
    """`spikingjelly.activation_based.op_counter`, or a clear error saying how to get it."""
    try:
        from spikingjelly.activation_based import op_counter as module
    except ImportError as exc:
        raise ProfilingUnavailable(
            "counting MACs and SOPs needs spikingjelly 2.x: pip install 'spikingjelly>=2.0'"
        ) from exc
    return module
