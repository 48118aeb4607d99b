"""Spikinghash: wavelet transform, sizes from the paper, hash layer, loss schedule, ablations."""

from __future__ import annotations

import pytest
import torch
from hashbench_plugins.methods.dpsh_cnn import DPSHCNN
from hashbench_plugins.methods.spikinghash import (
    SIZES,
    SoftSimilarity,
    Spikinghash,
    SpikinghashNet,
    SpikingWaveMixer,
    and_codes,
    haar_dwt,
    haar_idwt,
    parameter_count,
    round_ends,
)
from spikingjelly.activation_based import functional

from hashbench.testing import run_tiny, tiny_unimodal_dataset


@pytest.mark.parametrize("dims", [(0, 3, 4), (3, 4)])
def test_two_level_haar_dwt_then_inverse_is_the_identity(dims):
    x = torch.randn(8, 3, 5, 16, 12, dtype=torch.float64)
    low1, high1 = haar_dwt(x, dims)
    low2, high2 = haar_dwt(low1, dims)
    assert high1.shape[1] == 2 ** len(dims) - 1
    assert low2.shape[0] == (2 if len(dims) == 3 else 8) and low2.shape[-1] == 3
    back = haar_idwt(haar_idwt(low2, high2, dims), high1, dims)
    torch.testing.assert_close(back, x, rtol=0, atol=1e-12)
    # orthonormal: energy is preserved, and a constant signal has only a low band
    energy = low2.pow(2).sum() + high2.pow(2).sum() + high1.pow(2).sum()
    torch.testing.assert_close(energy, x.pow(2).sum())
    low, high = haar_dwt(torch.ones(4, 1, 1, 4, 4), (0, 3, 4))
    assert high.abs().max() == 0 and low.shape == (2, 1, 1, 2, 2)


def test_3d_dwt_sees_time_order_2d_does_not():
    x = torch.zeros(4, 1, 1, 4, 4)
    x[0] = 1.0  # on at the first frame only
    _, high3 = haar_dwt(x, (0, 3, 4))
    _, high3_rev = haar_dwt(x.flip(0), (0, 3, 4))
    assert not torch.equal(high3, high3_rev)  # the temporal high band changes sign
    _, high2 = haar_dwt(x, (3, 4))
    assert torch.equal(high2.flip(0), haar_dwt(x.flip(0), (3, 4))[1])


@pytest.mark.parametrize(("size", "paper"), [("S", 3.87e6), ("M", 6.24e6)])
def test_parameter_counts_match_the_paper_on_32x32_images(size, paper):
    count = parameter_count(size, shape=(3, 32, 32), bits=64, classes=10)
    assert abs(count - paper) / paper < 0.10, count


def test_sizes_grow_from_ti_to_xl():
    counts = [parameter_count(s, shape=(3, 32, 32)) for s in ("Ti", "S", "M", "L", "XL")]
    assert counts == sorted(counts) and len(set(counts)) == 5
    assert set(SIZES) >= {"Ti", "S", "M", "L", "XL"}


def test_hash_layer_is_an_and_over_time():
    spikes = torch.tensor([[[1.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]], [[1.0, 1.0, 1.0]]])
    assert and_codes(spikes).tolist() == [[1.0, -1.0, -1.0]]


def test_forward_shapes_and_gradients_for_every_ablation():
    for kwargs in ({}, {"dwt": "2d"}, {"mixer": "ssa"}):
        net = SpikinghashNet(2, 8, 32, 32, bits=16, num_classes=4, size="nano", **kwargs)
        functional.reset_net(net)
        x = (torch.rand(8, 3, 2, 32, 32) < 0.1).float()
        spikes, feature, logits = net(x)
        assert spikes.shape == (8, 3, 16) and feature.shape == (3, 16)
        assert logits.shape == (3, 4) and set(spikes.unique().tolist()) <= {0.0, 1.0}
        logits.sum().backward()
        assert net.stem.weight.grad is not None and net.stem.weight.grad.abs().sum() > 0
    swm = [m for m in SpikinghashNet(2, 8, 32, 32, 16, 4, size="nano").modules()]
    assert any(isinstance(m, SpikingWaveMixer) for m in swm)
    ssa_only = SpikinghashNet(2, 8, 32, 32, 16, 4, size="nano", mixer="ssa")
    assert not any(isinstance(m, SpikingWaveMixer) for m in ssa_only.modules())
    flat = SpikingWaveMixer(16, 8, 8, 8, temporal=False)
    assert flat.w_low.shape[0] == 1 and flat.w_token[0].shape[0] == 1  # no time dimension


def test_round_schedule_and_soft_similarity():
    # paper schedule: hard for 50 epochs, rounds of 20, every epoch in the last 20
    ends = round_ends(200, 50, 20, 20)
    assert min(ends) == 49 and {69, 89, 169, 179, 180, 198} <= ends and 50 not in ends
    assert 199 not in ends
    sim = SoftSimilarity(3, threshold=0.5, device=torch.device("cpu"))
    assert torch.equal(sim.matrix(), torch.eye(3))  # first round: hard labels
    h = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [1.0, 0.2]])
    y = torch.tensor([0, 1, 2, 0])
    sim.accumulate(h, y, torch.ones(4, dtype=torch.bool))
    sim.end_round()
    assert sim.weight == pytest.approx(0.875)
    m = sim.matrix()
    assert m[0, 1] > 0.1 and m[0, 2] == 0  # similar classes get soft credit, others zero
    assert m[0, 0] > m[0, 1]


def test_spikinghash_trains_encodes_and_is_profiled_on_events():
    record, _ = run_tiny(
        Spikinghash,
        bits=16,
        dataset=tiny_unimodal_dataset(),
        overrides=dict(Spikinghash.test_params),
    )
    model = record.profile["model"]
    assert model["firing"]["overall"] is not None and 0 < model["firing"]["overall"] < 1
    assert model["ops"]["sops_per_item"] > 0 and model["energy"]["total_uj"] > 0
    assert 0 <= record.metrics["unimodal"]["map@100"] <= 1


def test_dpsh_cnn_has_the_backbone_size_of_spikinghash():
    from hashbench_plugins.methods.dpsh_cnn import HashCNN

    ann = sum(p.numel() for p in HashCNN((3, 32, 32), 64, "S").parameters())
    snn = parameter_count("S", shape=(3, 32, 32), bits=64, classes=10)
    assert 0.8 < ann / snn < 1.2
    record, _ = run_tiny(DPSHCNN, bits=16, dataset=tiny_unimodal_dataset(), overrides={"epochs": 1})
    assert record.profile["model"]["ops"]["macs_per_item"] > 0
