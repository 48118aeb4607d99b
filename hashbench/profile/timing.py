"""Encode latency and throughput.

`time_calls` times a zero-argument callable (a CUDA device is synchronised after each call, so
queued kernels count). `benchmark_inference` times a query-encoding model as it runs in
production: eval mode, no_grad, torch's fused fast paths allowed, spiking state reset before
each call (the reset is inside the timed call: a real encoder must do it too).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .memory import ResourceMeter, ResourceUsage
from .state import eval_mode, fresh_spiking_state, reset_spiking_state


def throughput(items: int, seconds: float) -> float:
    """Items per second."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    return items / seconds


@dataclass(frozen=True)
class Timing:
    """Latencies of repeated calls that each encode `items_per_call` items."""

    items_per_call: int
    latencies_s: tuple[float, ...]
    warmup: int = 0

    @property
    def median_s(self) -> float:
        return statistics.median(self.latencies_s)

    @property
    def mean_s(self) -> float:
        return statistics.fmean(self.latencies_s)

    @property
    def min_s(self) -> float:
        return min(self.latencies_s)

    @property
    def items_per_s(self) -> float:
        """Throughput at the median latency."""
        return throughput(self.items_per_call, self.median_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items_per_call": self.items_per_call,
            "repeats": len(self.latencies_s),
            "warmup": self.warmup,
            "latency_median_s": self.median_s,
            "latency_mean_s": self.mean_s,
            "latency_min_s": self.min_s,
            "items_per_s": self.items_per_s,
            "latencies_s": list(self.latencies_s),
        }


def _synchronizer(device: torch.device | str | None) -> Callable[[], None]:
    if device is not None and torch.device(device).type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def time_calls(fn: Callable[[], object], items_per_call: int, *, repeats: int = 5,
               warmup: int = 1, device: torch.device | str | None = None,
               budget_s: float | None = None) -> Timing:
    """Call `fn` `warmup` times untimed, then `repeats` times timed.

    With `budget_s`, the timed calls stop early once they have taken that long in all (at
    least one timed call): a slow model is not run five times over just to be timed.
    """
    if repeats < 1 or warmup < 0 or items_per_call < 1:
        raise ValueError("need repeats >= 1, warmup >= 0 and items_per_call >= 1")
    sync = _synchronizer(device)
    for _ in range(warmup):
        fn()
        sync()
    latencies: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        latencies.append(time.perf_counter() - t0)
        if budget_s is not None and sum(latencies) >= budget_s:
            break
    return Timing(items_per_call=items_per_call, latencies_s=tuple(latencies), warmup=warmup)


@dataclass(frozen=True)
class InferenceBenchmark:
    """Latency per batch, throughput and peak memory of encoding query batches."""

    timing: Timing
    resources: ResourceUsage

    def to_dict(self) -> dict[str, Any]:
        return {"timing": self.timing.to_dict(), "resources": self.resources.to_dict()}


def benchmark_inference(model: nn.Module, image: torch.Tensor, text: torch.Tensor, *,
                        repeats: int = 5, warmup: int = 1,
                        budget_s: float | None = None) -> InferenceBenchmark:
    """Time `model(image, text)` on one batch of pairs; memory covers warm-up and repeats
    (`budget_s`: see `time_calls`)."""
    def call() -> None:
        reset_spiking_state(model)
        model(image, text)

    with eval_mode(model), fresh_spiking_state(model), torch.no_grad():
        with ResourceMeter(image.device) as meter:
            timing = time_calls(call, int(image.shape[0]), repeats=repeats, warmup=warmup,
                                device=image.device, budget_s=budget_s)
    return InferenceBenchmark(timing=timing, resources=meter.usage)
