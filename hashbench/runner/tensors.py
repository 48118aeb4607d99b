"""Tensors a plugin may do anything with: every array reaches a method as its own copy.

Datasets are loaded once and shared by every run of a sweep in a process. `torch.from_numpy`
shares memory with its array, and `.to("cpu")` of a CPU tensor is the same tensor, so a method
that changed its inputs in place (`x -= x.mean(0)`) would change the data of every later run.
Copying costs one memcpy per batch (a few ms per run at NUS-WIDE scale, measured in
`benchmarks/input_isolation.py`); on an accelerator the transfer is that copy already.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch


def private_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """`array` on `device`, in memory no other run shares."""
    shared = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cpu":
        return shared.clone()
    return shared.to(device)


def private_tensors(
    arrays: Mapping[str, np.ndarray], device: torch.device
) -> dict[str, torch.Tensor]:
    return {name: private_tensor(a, device) for name, a in arrays.items()}
