"""Run a model for measurement and leave it as it was found.

- `eval_mode`: every module in eval mode inside the block; each module's own `training` flag
  is put back afterwards (the attribute itself, so mixed train/eval models come back intact).
- `fastpath_disabled`: turns off torch's fused inference path of nn.TransformerEncoder(Layer)
  and nn.MultiheadAttention (one aten op that hides its matrix products from op counters) and
  puts the previous setting back. The switch is process-wide in torch, so do not profile from
  two threads at once.
- `fresh_spiking_state`: resets spiking neurons' state (membrane potentials) before and after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ._deps import spiking_types


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, flag in flags:
            module.training = flag


@contextmanager
def fastpath_disabled() -> Iterator[None]:
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)


def has_spiking_state(model: nn.Module) -> bool:
    """Whether `model` holds spikingjelly stateful modules (neurons and the like)."""
    types = spiking_types()
    return types is not None and any(isinstance(m, types.memory) for m in model.modules())


def reset_spiking_state(model: nn.Module) -> None:
    """`spikingjelly.activation_based.functional.reset_net`, for spiking models only: reset_net
    calls any `reset()` it finds, which on a non-spiking module may mean something else."""
    if has_spiking_state(model):
        from spikingjelly.activation_based import functional

        functional.reset_net(model)


@contextmanager
def fresh_spiking_state(model: nn.Module) -> Iterator[None]:
    reset_spiking_state(model)
    try:
        yield
    finally:
        reset_spiking_state(model)
