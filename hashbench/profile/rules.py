"""aten counting rules that the stock counters lack: fused attention and normalisation.

spikingjelly's MACCounter and torch's FlopCounterMode count matrix products (mm, addmm, bmm,
baddbmm, convolution). Scaled-dot-product attention reaches the dispatcher as one fused op
(`_scaled_dot_product_*`) whose two matrix products are invisible to them; on CPU, torch 2.14
dispatches `_scaled_dot_product_flash_attention_for_cpu`, which FlopCounterMode has no formula
for either. `_scaled_dot_product_attention_math` is a composite op: it decomposes into bmm/mm
before dispatch, so its products are already counted and it needs no rule.

Normalisation layers get their own rule so they can be reported apart from the weight layers
(the papers' energy convention counts weight layers only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import Any

import torch

aten = torch.ops.aten

#: fused SDPA kernels, by name (each looked up on torch.ops.aten; some exist only on some builds)
SDPA_OPS = (
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_fused_attention_overrideable",
    "_scaled_dot_product_attention_math_for_mps",
)

#: normalisation ops -> position of the affine weight argument in their schema
NORM_OPS = {
    "native_batch_norm": 1,
    "_native_batch_norm_legit": 1,
    "_native_batch_norm_legit_no_training": 1,
    "cudnn_batch_norm": 1,
    "miopen_batch_norm": 1,
    "native_layer_norm": 2,
    "native_group_norm": 1,
}

Rule = Callable[[tuple, dict, Any], int]


def _packets(names: Sequence[str]) -> list[Any]:
    return [getattr(aten, name) for name in names if hasattr(aten, name)]


def sdpa_macs(query_shape: Sequence[int], key_shape: Sequence[int],
              value_shape: Sequence[int]) -> int:
    """MACs of softmax(Q K^T) V: (B x H x L) query rows, each S x E for the scores and S x Ev
    for the weighted sum, i.e. B*H*(L*S*E + L*S*Ev). Query heads count (grouped-query
    attention broadcasts K/V heads); a causal mask is not discounted."""
    rows = prod(query_shape[:-1])
    keys = key_shape[-2]
    return int(rows * keys * (query_shape[-1] + value_shape[-1]))


def _sdpa_mac_rule(args: tuple, kwargs: dict, out: Any) -> int:
    query, key, value = args[:3]
    return sdpa_macs(query.shape, key.shape, value.shape)


def _sdpa_flop_rule(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    # FlopCounterMode's convention: 2 FLOPs (a multiply and an add) per MAC.
    return 2 * sdpa_macs(query_shape, key_shape, value_shape)


def sdpa_mac_rules() -> dict[Any, Rule]:
    """`extra_rules` for spikingjelly's MACCounter (keys are OpOverloads)."""
    return {packet.default: _sdpa_mac_rule for packet in _packets(SDPA_OPS)}


def sdpa_flop_rules(registered: Any = ()) -> dict[Any, Callable[..., int]]:
    """`custom_mapping` for torch's FlopCounterMode, for the SDPA ops it has no formula for
    (`registered`: the ops FlopCounterMode already knows, as OpOverloadPackets)."""
    return {p: _sdpa_flop_rule for p in _packets(SDPA_OPS) if p not in registered}


def _affine_rule(weight_index: int) -> Rule:
    def rule(args: tuple, kwargs: dict, out: Any) -> int:
        # One MAC per element for gamma * x_hat + beta; the statistics are not counted.
        weight = args[weight_index] if len(args) > weight_index else None
        return int(args[0].numel()) if weight is not None else 0

    return rule


def norm_ops() -> list[Any]:
    """The normalisation OpOverloads known to this torch build."""
    return [getattr(aten, name).default for name in NORM_OPS if hasattr(aten, name)]


def norm_mac_rules() -> dict[Any, Rule]:
    """Rules for the normalisation counter: the affine transform's MACs."""
    return {
        getattr(aten, name).default: _affine_rule(index)
        for name, index in NORM_OPS.items()
        if hasattr(aten, name)
    }
