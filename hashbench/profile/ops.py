"""Operations per encoded item: MACs, SOPs and FLOPs, in total and per layer.

One forward pass runs under three dispatch-level counters at once:

- MACs: spikingjelly's `MACCounter` (dense mm/addmm/bmm/baddbmm/convolution whose operands are
  all real-valued) plus this package's rules for fused scaled-dot-product attention.
  Normalisation is removed from it and counted apart (`norm_macs`, not in the energy).
- SOPs: spikingjelly's `SynOpCounter`: for a product with a binary (spike) operand, the number
  of non-zero spikes x the fan-out, i.e. firing rate x T x the layer's synaptic operations.
- FLOPs: torch's `FlopCounterMode` (2 per multiply-accumulate, every operand type) plus the
  SDPA formula it lacks on CPU.

torch's fused transformer fast path is disabled while counting, so a TransformerEncoder is
counted the same whether or not eval/no_grad would have taken it. Per-layer numbers are a
module's own ops (see `attribution`): the rows add up to the totals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils import flop_counter

from . import rules
from ._deps import op_counter
from .attribution import OUTSIDE, PerModule, PerModuleFlopCounter, by_path
from .state import eval_mode, fastpath_disabled, fresh_spiking_state

#: which counter produced each quantity (stored with the results)
COUNTERS = {
    "macs": "spikingjelly.activation_based.op_counter.MACCounter "
            "+ hashbench.profile.rules SDPA rule; normalisation excluded",
    "sops": "spikingjelly.activation_based.op_counter.SynOpCounter",
    "flops": "torch.utils.flop_counter.FlopCounterMode + hashbench.profile.rules SDPA rule "
             "where torch has none",
    "norm_macs": "hashbench.profile.rules affine-normalisation rule (not in the energy)",
}

# aten ops that do multiply-accumulate work: if one runs without a rule, the counts miss it.
_COMPUTE_OP = re.compile(
    r"mm|conv|matmul|linear|einsum|attention|_transformer_encoder|multi_head|\.dot\.|\.mv\.|"
    r"\.addmv\.|bilinear|lstm|gru|rnn"
)


@dataclass(frozen=True)
class LayerOps:
    """One module's own operations per item: those run by its forward itself, not by its
    children's. `flops` is None if this torch's FlopCounterMode cannot attribute them."""

    path: str
    module_type: str
    macs: float
    sops: float
    flops: float | None
    norm_macs: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "module_type": self.module_type,
            "macs": self.macs,
            "sops": self.sops,
            "flops": self.flops,
            "norm_macs": self.norm_macs,
        }


@dataclass(frozen=True)
class OpCounts:
    """Operation counts of one forward pass, totals and per item (= totals / items)."""

    items: int
    total_macs: int
    total_sops: int
    total_flops: int
    total_norm_macs: int
    layers: tuple[LayerOps, ...] = ()
    counters: dict[str, str] = field(default_factory=lambda: dict(COUNTERS))
    uncounted_ops: dict[str, int] = field(default_factory=dict)

    @property
    def macs_per_item(self) -> float:
        return self.total_macs / self.items

    @property
    def sops_per_item(self) -> float:
        return self.total_sops / self.items

    @property
    def flops_per_item(self) -> float:
        return self.total_flops / self.items

    @property
    def norm_macs_per_item(self) -> float:
        return self.total_norm_macs / self.items

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "macs_per_item": self.macs_per_item,
            "sops_per_item": self.sops_per_item,
            "flops_per_item": self.flops_per_item,
            "norm_macs_per_item": self.norm_macs_per_item,
            "total_macs": self.total_macs,
            "total_sops": self.total_sops,
            "total_flops": self.total_flops,
            "total_norm_macs": self.total_norm_macs,
            "layers": [layer.to_dict() for layer in self.layers],
            "counters": dict(self.counters),
            "uncounted_ops": dict(self.uncounted_ops),
        }


class OpRecorder:
    """Counts the ops of everything `model` runs inside the `with` block.

    Only counts: the caller chooses grad mode, train/eval mode and spiking-state handling
    (`count_ops` does all of it). The transformer fast path is disabled inside the block.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._stack: ExitStack | None = None
        self._counters: dict[str, PerModule] = {}
        self._flops: PerModuleFlopCounter | None = None
        self._dispatch: Any = None

    def __enter__(self) -> OpRecorder:
        oc = op_counter()
        macs = oc.MACCounter(extra_rules=rules.sdpa_mac_rules())
        for op in rules.norm_ops():  # reported apart: not a weight layer
            macs.rules.pop(op, None)
        norms = oc.BaseCounter()
        norms.rules.update(rules.norm_mac_rules())
        self._counters = {
            "macs": PerModule(macs),
            "sops": PerModule(oc.SynOpCounter()),
            "norm_macs": PerModule(norms),
        }
        registered = getattr(flop_counter, "flop_registry", {})
        self._flops = PerModuleFlopCounter(
            display=False, custom_mapping=rules.sdpa_flop_rules(registered)
        )
        self._dispatch = oc.DispatchCounterMode(list(self._counters.values()))
        with ExitStack() as stack:
            stack.enter_context(fastpath_disabled())
            stack.enter_context(self._flops)
            stack.enter_context(self._dispatch)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.__exit__(*exc)

    def result(self, items: int) -> OpCounts:
        """The counts of the finished block, divided over `items` encoded items."""
        if items <= 0:
            raise ValueError(f"items must be positive, got {items}")
        if self._flops is None:
            raise RuntimeError("OpRecorder.result() before the block ran")
        totals = {name: int(c.get_total()) for name, c in self._counters.items()}
        totals["flops"] = int(self._flops.get_total_flops())
        own = {name: by_path(self.model, c.own) for name, c in self._counters.items()}
        own["flops"] = by_path(self.model, self._flops.own)
        return OpCounts(
            items=items,
            total_macs=totals["macs"],
            total_sops=totals["sops"],
            total_flops=totals["flops"],
            total_norm_macs=totals["norm_macs"],
            layers=_layers(self.model, own, items,
                           flops_attributed=sum(own["flops"].values()) == totals["flops"]),
            uncounted_ops=self._uncounted(),
        )

    def _uncounted(self) -> dict[str, int]:
        skipped = self._dispatch.get_unsupported(self._counters["macs"])
        return {name: n for name, n in sorted(skipped.items()) if _COMPUTE_OP.search(name)}


def count_ops(model: nn.Module, *inputs: Any, items: int | None = None) -> OpCounts:
    """Count one forward pass `model(*inputs)` in eval mode under no_grad.

    `items` defaults to the first input's batch size. Spiking state is reset before and after.
    """
    if items is None:
        items = int(inputs[0].shape[0])
    with eval_mode(model), fresh_spiking_state(model), torch.no_grad():
        with OpRecorder(model) as recorder:
            model(*inputs)
    return recorder.result(items)


def _layers(model: nn.Module, own: Mapping[str, Mapping[str, int]], items: int, *,
            flops_attributed: bool) -> tuple[LayerOps, ...]:
    """Rows of the modules that ran ops of their own, in module registration order."""
    types = {path: type(module).__name__ for path, module in model.named_modules()}
    paths = list(types) + ([OUTSIDE] if any(OUTSIDE in v for v in own.values()) else [])
    layers = []
    for path in paths:
        counts = {name: values.get(path, 0) for name, values in own.items()}
        if any(counts.values()):
            layers.append(LayerOps(
                path=path or "(root)",
                module_type=types.get(path, "-"),
                macs=counts["macs"] / items,
                sops=counts["sops"] / items,
                flops=counts["flops"] / items if flops_attributed else None,
                norm_macs=counts["norm_macs"] / items,
            ))
    return tuple(layers)
