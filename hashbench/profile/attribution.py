"""Per-layer attribution: book each counted op to the module whose forward is running.

The counters record an op in every enclosing module scope (inclusive counts). Subtracting
children from parents to get a module's own ops breaks when one module is registered under
two parents (weight sharing): the trackers know it by one name only. So each op is booked
once, at count time, to the innermost running module, and the per-layer rows add up to the
totals by construction.

Scopes are torch module-tracker names: "Global", the root's class name, then dotted attribute
paths below it ("Model.fusion.layers.0.linear1"); the innermost running module is the deepest
active name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from torch import nn
from torch.utils.flop_counter import FlopCounterMode

GLOBAL = "Global"
#: path of ops that ran outside every module of the model
OUTSIDE = "(outside modules)"


def innermost(scopes: Iterable[str]) -> str:
    """The deepest active scope ("Global" only when no module is running)."""
    return max(scopes, key=lambda s: (s != GLOBAL, s.count(".")), default=GLOBAL)


class PerModule:
    """Wraps a spikingjelly counter: it counts and records as before, and also books each op's
    count to the innermost running module (`own`, by scope name)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.ignore_modules = inner.ignore_modules
        self.own: dict[str, int] = defaultdict(int)

    def has_rule(self, func: Any) -> bool:
        return self.inner.has_rule(func)

    def count(self, func: Any, args: tuple, kwargs: dict, out: Any,
              active_modules: Any = None, parent_names: Iterable[str] | None = None) -> int:
        value = self.inner.count(func, args, kwargs, out, active_modules=active_modules,
                                 parent_names=parent_names)
        self.own[innermost(parent_names or ())] += value
        return value

    def record(self, scope: str, func: Any, value: int) -> None:
        self.inner.record(scope, func, value)

    def get_total(self) -> int:
        return self.inner.get_total()


class PerModuleFlopCounter(FlopCounterMode):
    """FlopCounterMode that also books each op's FLOPs to the innermost running module.

    Hooks FlopCounterMode's per-op method; if a torch release renames it, `own` stays empty
    and the caller reports per-layer FLOPs as unavailable (totals are unaffected).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.own: dict[str, int] = defaultdict(int)

    def _count_flops(self, func_packet, out, args, kwargs):
        before = self.flop_counts[GLOBAL][func_packet]
        result = super()._count_flops(func_packet, out, args, kwargs)
        added = self.flop_counts[GLOBAL][func_packet] - before
        if added:
            self.own[innermost(self.mod_tracker.parents)] += added
        return result


def by_path(model: nn.Module, own: dict[str, int]) -> dict[str, int]:
    """Scope-name counts -> module-path counts; a module registered under several paths is
    reported under the first one `named_modules()` gives."""
    root = type(model).__name__
    first_path = {id(m): path for path, m in model.named_modules()}
    out: dict[str, int] = defaultdict(int)
    for scope, value in own.items():
        path = OUTSIDE
        if scope == root:
            path = ""
        elif scope.startswith(root + "."):
            try:
                path = first_path[id(model.get_submodule(scope[len(root) + 1:]))]
            except (AttributeError, KeyError):
                path = OUTSIDE  # a module not registered under the model
        out[path] += value
    return dict(out)
