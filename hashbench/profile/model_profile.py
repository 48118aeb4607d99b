"""The profiler's entry point: `profile_model` and the `ModelProfile` it returns.

One forward pass over a batch of query pairs, in eval mode under no_grad with the transformer
fast path disabled, yields parameters, MACs/SOPs/FLOPs (total and per layer), firing rates and
the energy per pair; the model's train/eval flags and spiking state are left as found (state
reset). Time and memory are separate (`benchmark_inference`): counting slows a pass down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hashbench.errors import InputError

from .energy import EnergyEstimate, EnergyModel
from .firing import FiringRates, FiringRecorder
from .ops import OpCounts, OpRecorder
from .params import ParamCount, count_parameters
from .state import eval_mode, fresh_spiking_state
from .storage import code_bytes_per_item

#: the papers' energy model (frozen, so a safe default argument)
DEFAULT_ENERGY = EnergyModel()

#: how many query pairs the harness profiles on (firing rates and SOPs depend on real inputs)
DEFAULT_ITEMS = 512

#: columns of `ModelProfile.layer_rows()`
LAYER_COLUMNS = (
    "layer", "type", "MACs/pair", "SOPs/pair", "FLOPs/pair", "norm MACs/pair", "firing rate",
)


def si(value: float | None, unit: str = "") -> str:
    """22_024_192 -> '22.02 M' (None -> '-')."""
    if value is None:
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:.4g} {unit}".rstrip()


def _uj(value: float) -> str:
    return f"{value:.2f} uJ" if value >= 0.1 else f"{value:.3g} uJ"


@dataclass(frozen=True)
class ModelProfile:
    """Everything `profile_model` measured. Op and energy figures are per image-text pair."""

    model: str
    device: str
    items: int
    params: ParamCount
    ops: OpCounts
    firing: FiringRates
    energy: EnergyEstimate
    bits: int | None = None

    @property
    def code_bytes_per_item(self) -> int | None:
        return code_bytes_per_item(self.bits) if self.bits is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "device": self.device,
            "items": self.items,
            "bits": self.bits,
            "code_bytes_per_item": self.code_bytes_per_item,
            "params": self.params.to_dict(),
            "ops": self.ops.to_dict(),
            "firing": self.firing.to_dict(),
            "energy": self.energy.to_dict(),
        }

    def rows(self) -> list[tuple[str, str]]:
        """(quantity, formatted value) pairs for a two-column summary table."""
        rows = [
            ("parameters", f"{self.params.total:,}"),
            ("trainable parameters", f"{self.params.trainable:,}"),
            ("MACs / pair", si(self.ops.macs_per_item)),
            ("SOPs / pair", si(self.ops.sops_per_item)),
            ("FLOPs / pair", si(self.ops.flops_per_item)),
            ("norm MACs / pair (not in energy)", si(self.ops.norm_macs_per_item)),
            ("firing rate", "-" if self.firing.overall is None else f"{self.firing.overall:.4f}"),
            ("energy / pair", _uj(self.energy.total_uj)),
        ]
        if self.bits is not None:
            rows.append(("code bytes / item", str(self.code_bytes_per_item)))
        if self.ops.uncounted_ops:
            rows.append(("uncounted ops", ", ".join(self.ops.uncounted_ops)))
        return rows

    def layer_rows(self) -> list[tuple[str, ...]]:
        """Per-layer rows (see LAYER_COLUMNS): every module with its own ops or spikes."""
        firing = {layer.path: layer for layer in self.firing.layers}
        rows = []
        for layer in self.ops.layers:
            spiking = firing.pop(layer.path, None)
            rows.append((
                layer.path, layer.module_type, si(layer.macs), si(layer.sops), si(layer.flops),
                si(layer.norm_macs), f"{spiking.rate:.4f}" if spiking else "-",
            ))
        # neurons do no matrix products, so they usually have no ops row of their own
        rows += [(n.path, n.module_type, "-", "-", "-", "-", f"{n.rate:.4f}")
                 for n in firing.values()]
        return rows

    def summary(self) -> str:
        """Plain-text summary: the rows, aligned, then the energy formula."""
        width = max(len(name) for name, _ in self.rows())
        lines = [f"{name:<{width}}  {value}" for name, value in self.rows()]
        lines.append(self.energy.model.formula())
        return "\n".join(lines)


def _check_inputs(image: Any, text: Any) -> int:
    for name, x in (("image", image), ("text", text)):
        if not torch.is_tensor(x) or x.ndim < 1 or x.shape[0] == 0:
            raise InputError(f"{name} must be a non-empty batch tensor (items first)")
        if not x.is_floating_point():
            raise InputError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if image.shape[0] != text.shape[0]:
        raise InputError(
            f"image and text must hold the same number of pairs, got "
            f"{image.shape[0]} and {text.shape[0]}"
        )
    return int(image.shape[0])


def profile_model(model: nn.Module, image: torch.Tensor, text: torch.Tensor, *,
                  energy: EnergyModel = DEFAULT_ENERGY, bits: int | None = None) -> ModelProfile:
    """Profile the inference model that encodes queries, on one batch of query pairs.

    `model(image, text)` must run the whole inference model (both modalities' paths) for the
    batch; `image`/`text` are float tensors on the model's device, items first. Results are
    per pair = totals / batch size. `bits` only adds the code storage per item.
    """
    items = _check_inputs(image, text)
    if bits is not None:
        code_bytes_per_item(bits)  # validates early
    with eval_mode(model), fresh_spiking_state(model), torch.no_grad():
        with FiringRecorder(model) as firing, OpRecorder(model) as ops:
            model(image, text)
    counts = ops.result(items)
    return ModelProfile(
        model=type(model).__name__,
        device=str(image.device),
        items=items,
        params=count_parameters(model),
        ops=counts,
        firing=firing.result(),
        energy=energy.estimate(counts.macs_per_item, counts.sops_per_item),
        bits=bits,
    )
