"""Seeding and determinism: the harness seeds every random number generator a plugin may
touch and, for the duration of a run, makes torch pick deterministic kernels."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from hashbench.errors import InputError


def seed_everything(seed: int) -> None:
    """Seed python's `random`, numpy's legacy global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


# cuBLAS is deterministic only with a fixed workspace (CUDA docs, "Results reproducibility").
CUBLAS_WORKSPACE = ":4096:8"


@contextmanager
def deterministic_torch() -> Iterator[None]:
    """Deterministic torch kernels inside the block, then the caller's settings back.

    On CPU this changes nothing measurable; on CUDA it stops the same seed from giving different
    codes (atomic-add reductions in backward passes, cuDNN autotuning, cuBLAS split-K). An op
    without a deterministic implementation raises torch's error naming the op, rather than
    silently giving irreproducible codes. CUBLAS_WORKSPACE_CONFIG is set only when unset: it
    is read when cuBLAS starts, so a process that already used cuBLAS keeps its own setting.
    """
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[2:]


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
