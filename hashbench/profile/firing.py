"""Firing rates of spiking neurons, measured on real inputs.

Every spikingjelly neuron (`neuron.BaseNode` subclass) in the model is watched with
spikingjelly's `OutputMonitor`; each output tensor contributes its own sum (spikes) and size
(neuron-steps). A layer's rate is spikes / neuron-steps (the mean of its outputs over time
steps, items and neurons); the overall rate is total spikes / total neuron-steps, so larger
layers weigh more. Single-step models that call a neuron T times are summed over the calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ._deps import spiking_types
from .state import eval_mode, fresh_spiking_state


@dataclass(frozen=True)
class LayerFiring:
    """One neuron module's output spikes over the measured pass."""

    path: str
    module_type: str
    spikes: float
    neuron_steps: int

    @property
    def rate(self) -> float:
        return self.spikes / self.neuron_steps if self.neuron_steps else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "module_type": self.module_type,
            "spikes": self.spikes,
            "neuron_steps": self.neuron_steps,
            "rate": self.rate,
        }


@dataclass(frozen=True)
class FiringRates:
    """Per-layer and overall firing rates; empty for a model without spiking neurons."""

    layers: tuple[LayerFiring, ...] = ()

    @property
    def spikes(self) -> float:
        return float(sum(layer.spikes for layer in self.layers))

    @property
    def neuron_steps(self) -> int:
        return int(sum(layer.neuron_steps for layer in self.layers))

    @property
    def overall(self) -> float | None:
        """Total spikes / total neuron-steps; None when nothing spiking ran."""
        return self.spikes / self.neuron_steps if self.neuron_steps else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "spikes": self.spikes,
            "neuron_steps": self.neuron_steps,
            "layers": [layer.to_dict() for layer in self.layers],
        }


def _tally(output: Any) -> tuple[torch.Tensor, int] | None:
    # Keep the sum on the device: one host sync at the end, not one per neuron call.
    if not torch.is_tensor(output):
        return None
    return output.detach().sum(dtype=torch.float64), output.numel()


class FiringRecorder:
    """Records neuron outputs of everything `model` runs inside the `with` block."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._monitor: Any = None

    def __enter__(self) -> FiringRecorder:
        types = spiking_types()
        if types is not None and any(isinstance(m, types.neuron) for m in self.model.modules()):
            from spikingjelly.activation_based.monitor import OutputMonitor

            self._monitor = OutputMonitor(self.model, types.neuron, function_on_output=_tally)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._monitor is not None:
            self._monitor.remove_hooks()  # keeps the records for result()

    def result(self) -> FiringRates:
        if self._monitor is None:
            return FiringRates()
        modules = dict(self.model.named_modules())
        layers = []
        for path in self._monitor.monitored_layers:
            tallies = [t for t in self._monitor[path] if t is not None]
            if not tallies:
                continue  # this neuron did not run
            layers.append(LayerFiring(
                path=path,
                module_type=type(modules[path]).__name__,
                spikes=float(sum(s.item() for s, _ in tallies)),
                neuron_steps=int(sum(n for _, n in tallies)),
            ))
        return FiringRates(tuple(layers))


def measure_firing_rates(model: nn.Module, *inputs: Any) -> FiringRates:
    """Firing rates of one forward pass `model(*inputs)` in eval mode under no_grad, from a
    freshly reset state (and reset again afterwards)."""
    with eval_mode(model), fresh_spiking_state(model), torch.no_grad():
        with FiringRecorder(model) as recorder:
            model(*inputs)
    return recorder.result()
