"""Time, memory and storage helpers."""

from __future__ import annotations

import json
import mmap
import time

import pytest
import torch
from torch import nn

from hashbench.profile import (
    ResourceMeter,
    benchmark_inference,
    code_bytes_per_item,
    throughput,
    time_calls,
)

MIB = 1024 * 1024


def test_resource_meter_sees_a_transient_allocation():
    # Fresh anonymous pages, touched one by one: a heap allocation could reuse memory that
    # earlier tests freed but the allocator kept, and then RSS would not move at all.
    with ResourceMeter(interval_s=0.002) as meter:
        block = mmap.mmap(-1, 64 * MIB)
        for offset in range(0, 64 * MIB, mmap.PAGESIZE):
            block[offset] = 1
        time.sleep(0.05)
        block.close()
    usage = meter.usage
    assert usage.rss_method == "proc"
    assert usage.rss_increase_bytes >= 48 * MIB
    assert usage.wall_s >= 0.05
    assert usage.cuda_peak_bytes is None
    json.dumps(usage.to_dict())


def test_usage_only_after_the_block():
    meter = ResourceMeter()
    with pytest.raises(RuntimeError, match="after the with block"):
        meter.usage  # noqa: B018


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_resource_meter_cuda_peak():
    device = torch.device("cuda")
    with ResourceMeter(device) as meter:
        block = torch.ones(16 * MIB // 4, device=device)
        del block
    assert meter.usage.cuda_peak_bytes - meter.usage.cuda_start_bytes >= 16 * MIB


def test_time_calls_and_throughput():
    calls = []
    timing = time_calls(lambda: calls.append(time.sleep(0.01)), 100, repeats=3, warmup=2)
    assert len(calls) == 5 and len(timing.latencies_s) == 3
    assert timing.min_s >= 0.01
    assert timing.items_per_s == pytest.approx(100 / timing.median_s)
    assert throughput(512, 0.5) == 1024
    assert timing.to_dict()["repeats"] == 3
    with pytest.raises(ValueError):
        time_calls(lambda: None, 1, repeats=0)


class Pair(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.image, self.text = nn.Linear(8, 4), nn.Linear(8, 4)

    def forward(self, image, text):
        return self.image(image), self.text(text)


def test_time_calls_stops_at_its_budget_after_at_least_one_call():
    calls = []
    # every call sleeps longer than the whole budget: one timed call, then stop
    timing = time_calls(lambda: calls.append(time.sleep(0.02)), 1, repeats=5, warmup=1,
                        budget_s=0.001)
    assert len(timing.latencies_s) == 1 and len(calls) == 2
    # a budget never reached: all repeats
    timing = time_calls(lambda: None, 1, repeats=4, warmup=0, budget_s=60.0)
    assert len(timing.latencies_s) == 4


def test_benchmark_inference_restores_mode():
    model = Pair().train()
    result = benchmark_inference(model, torch.randn(16, 8), torch.randn(16, 8), repeats=2)
    assert model.training
    assert result.timing.items_per_call == 16 and result.timing.items_per_s > 0
    json.dumps(result.to_dict())


@pytest.mark.parametrize("bits, expected", [(16, 2), (32, 4), (64, 8), (128, 16), (12, 2)])
def test_code_bytes(bits, expected):
    assert code_bytes_per_item(bits) == expected


@pytest.mark.parametrize("bits", [0, -8, 8.0, True])
def test_code_bytes_rejects_non_positive_integers(bits):
    with pytest.raises(ValueError):
        code_bytes_per_item(bits)
