"""Wall time and peak memory of a block of code.

Peak resident memory (RSS) is sampled from `/proc/self/status` (VmRSS) by a background thread;
when the block pushes the process's lifetime high-water mark (VmHWM) up, that exact peak is used
too, so short spikes between samples are not lost. Without /proc (not Linux), the fallback is
`resource.getrusage` max RSS, which is a lifetime peak: it is the block's peak only if it rose
during the block (`rss_method` says which). On CUDA, the allocator's peak is reset at the start
and read at the end (`torch.cuda.max_memory_allocated`): tensors only, not the CUDA context.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

_STATUS = Path("/proc/self/status")


@dataclass(frozen=True)
class ResourceUsage:
    """What a block cost. Byte counts are None when they could not be measured."""

    wall_s: float
    rss_start_bytes: int | None
    rss_peak_bytes: int | None
    rss_method: str  # "proc" | "getrusage" | "getrusage-lifetime" | "unavailable"
    cuda_start_bytes: int | None = None
    cuda_peak_bytes: int | None = None

    @property
    def rss_increase_bytes(self) -> int | None:
        if self.rss_start_bytes is None or self.rss_peak_bytes is None:
            return None
        return self.rss_peak_bytes - self.rss_start_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "wall_s": self.wall_s,
            "rss_start_bytes": self.rss_start_bytes,
            "rss_peak_bytes": self.rss_peak_bytes,
            "rss_increase_bytes": self.rss_increase_bytes,
            "rss_method": self.rss_method,
            "cuda_start_bytes": self.cuda_start_bytes,
            "cuda_peak_bytes": self.cuda_peak_bytes,
        }


def _proc_status() -> dict[str, int]:
    """VmRSS and VmHWM in bytes (empty without /proc)."""
    out = {}
    try:
        text = _STATUS.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024  # reported in kB
    return out


def _getrusage_peak() -> int | None:
    if resource is None:
        return None
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _cuda_device(device: torch.device | str | None) -> torch.device | None:
    if device is None:
        return None
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    return device


class ResourceMeter:
    """`with ResourceMeter(device) as meter: ...`, then `meter.usage`.

    `device`: pass the CUDA device the block runs on to also get its peak allocated memory;
    the block is synchronised at both ends so queued kernels are timed.
    """

    def __init__(self, device: torch.device | str | None = None, *,
                 interval_s: float = 0.005) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self.device = _cuda_device(device)
        self.interval_s = interval_s
        self._usage: ResourceUsage | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak = 0
        self._start: dict[str, int] = {}
        self._rusage_start: int | None = None
        self._cuda_start: int | None = None
        self._t0 = 0.0

    @property
    def usage(self) -> ResourceUsage:
        if self._usage is None:
            raise RuntimeError("ResourceMeter.usage is available after the with block")
        return self._usage

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, _proc_status().get("VmRSS", 0))

    def __enter__(self) -> ResourceMeter:
        if self.device is not None:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._cuda_start = torch.cuda.memory_allocated(self.device)
        self._start = _proc_status()
        self._rusage_start = _getrusage_peak()
        self._peak = self._start.get("VmRSS", 0)
        if self._start:
            self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
            self._thread.start()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device is not None:
            torch.cuda.synchronize(self.device)
        wall = time.perf_counter() - self._t0
        cuda_peak = torch.cuda.max_memory_allocated(self.device) if self.device else None
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        end = _proc_status()
        if self._start and end:
            peak = max(self._peak, end.get("VmRSS", 0))
            if end.get("VmHWM", 0) > self._start.get("VmHWM", 0):
                peak = max(peak, end["VmHWM"])  # a new lifetime high: exact peak of the block
            start, method = self._start.get("VmRSS"), "proc"
        else:
            peak, start = _getrusage_peak(), None
            if peak is None or self._rusage_start is None:
                method = "unavailable"
            else:
                method = "getrusage" if peak > self._rusage_start else "getrusage-lifetime"
        self._usage = ResourceUsage(
            wall_s=wall,
            rss_start_bytes=start,
            rss_peak_bytes=peak,
            rss_method=method,
            cuda_start_bytes=self._cuda_start,
            cuda_peak_bytes=int(cuda_peak) if cuda_peak is not None else None,
        )
