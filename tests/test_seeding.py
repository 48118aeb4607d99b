"""Seeding and the deterministic-kernel block the harness runs every method in."""

from __future__ import annotations

import pytest
import torch

from hashbench.errors import InputError
from hashbench.seeding import deterministic_torch, resolve_device, seed_everything


def test_deterministic_block_sets_then_restores_the_callers_settings():
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.benchmark = True
    try:
        with deterministic_torch():
            assert torch.are_deterministic_algorithms_enabled()
            assert torch.backends.cudnn.deterministic
            assert not torch.backends.cudnn.benchmark
        assert not torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.benchmark
    finally:
        torch.backends.cudnn.benchmark = False


def test_deterministic_block_restores_settings_after_an_error():
    torch.use_deterministic_algorithms(False)
    with pytest.raises(RuntimeError, match="boom"), deterministic_torch():
        raise RuntimeError("boom")
    assert not torch.are_deterministic_algorithms_enabled()


def test_same_seed_same_draws():
    seed_everything(3)
    a = torch.randn(5)
    seed_everything(3)
    assert torch.equal(a, torch.randn(5))


def test_bad_device_names_are_input_errors():
    with pytest.raises(InputError, match="--device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            resolve_device("cuda")
