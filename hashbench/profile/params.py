"""Parameter counts of a model: total, trainable, and per top-level child module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

#: key in `ParamCount.by_child` for parameters registered on the root module itself
OWN = "(own)"


@dataclass(frozen=True)
class ParamCount:
    """Numbers of scalar parameters. Shared tensors are counted once in `total`/`trainable`."""

    total: int
    trainable: int
    by_child: dict[str, int] = field(default_factory=dict)

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "trainable": self.trainable,
            "frozen": self.frozen,
            "by_child": dict(self.by_child),
        }


def count_parameters(model: nn.Module) -> ParamCount:
    """Count `model`'s parameters (buffers such as BN running stats are not parameters)."""
    params = list(model.parameters())  # deduplicates tensors shared between submodules
    by_child = {
        name: sum(p.numel() for p in child.parameters())
        for name, child in model.named_children()
    }
    own = sum(p.numel() for p in model.parameters(recurse=False))
    if own:
        by_child[OWN] = own
    return ParamCount(
        total=sum(p.numel() for p in params),
        trainable=sum(p.numel() for p in params if p.requires_grad),
        by_child=by_child,
    )
