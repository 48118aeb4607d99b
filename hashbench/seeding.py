"""Seeding: the harness seeds every random number generator a plugin may touch."""

from __future__ import annotations

import random

import numpy as np
import torch

from hashbench.errors import InputError


def seed_everything(seed: int) -> None:
    """Seed python's `random`, numpy's legacy global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cuda' without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(
            "--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu"
        )
    if name != "cpu" and not name.startswith("cuda"):
        raise InputError(f"--device must be auto, cpu or cuda[:N], got {name!r}")
    return torch.device(name)
