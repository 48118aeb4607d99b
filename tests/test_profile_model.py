"""profile_model end to end: a UCMFH-shaped model against the published size, ops and energy."""

from __future__ import annotations

import json
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hashbench.errors import InputError
from hashbench.profile import EnergyModel, ProfilingUnavailable, count_parameters, profile_model

pytest.importorskip("spikingjelly.activation_based.op_counter",
                    reason="the profiler's op counters need spikingjelly 2.x")


# small models on a shared 2-core machine (see conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


class HashHead(nn.Module):
    """L2-norm -> Linear 512->4096 -> ReLU -> Dropout -> Linear 4096->bits -> tanh."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(512, 4096), nn.ReLU(), nn.Dropout(0.3), nn.Linear(4096, bits), nn.Tanh()
        )

    def forward(self, x):
        return F.normalize(self.net(F.normalize(x, dim=-1)), dim=-1)


class UCMFHShaped(nn.Module):
    """concat(image 512, text 512) as a length-1 sequence -> 2-layer post-norm encoder
    (d 1024, 4 heads, FF 2048, dropout 0.1) -> L2-norm -> split -> one hash head each."""

    def __init__(self, batch_first: bool, bits: int = 128) -> None:
        super().__init__()
        self.seq_dim = 1 if batch_first else 0
        self.fusion = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(1024, 4, 2048, dropout=0.1, batch_first=batch_first),
            num_layers=2, enable_nested_tensor=False,
        )
        self.image_head = HashHead(bits)
        self.text_head = HashHead(bits)

    def forward(self, image, text):
        token = torch.cat([image, text], dim=-1).unsqueeze(self.seq_dim)
        z = F.normalize(self.fusion(token).squeeze(self.seq_dim), dim=-1)
        return self.image_head(z[:, :512]), self.text_head(z[:, 512:])


# Per pair: per layer in_proj 1024x3072 + attention 4 heads x (1x1x256 + 1x1x256) + out_proj
# 1024x1024 + FF 2 x 1024x2048; per head 512x4096 + 4096x128.
UCMFH_MACS = 2 * (1024 * 3072 + 4 * 2 * 256 + 1024 * 1024 + 2 * 1024 * 2048) + 2 * (
    512 * 4096 + 4096 * 128
)


def pairs(n: int = 4):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 512, generator=g), torch.randn(n, 512, generator=g)


@pytest.fixture(scope="module", params=[True, False], ids=["batch_first", "seq_first"])
def ucmfh_profile(request):
    torch.manual_seed(0)
    model = UCMFHShaped(batch_first=request.param)
    return profile_model(model, *pairs(), bits=128)


def test_ucmfh_matches_published_size_ops_and_energy(ucmfh_profile):
    p = ucmfh_profile
    assert p.params.total == 22_051_072
    assert p.params.by_child == {
        "fusion": 2 * 8_399_872, "image_head": 2_625_664, "text_head": 2_625_664,
    }
    assert p.ops.macs_per_item == UCMFH_MACS == 22_024_192
    assert p.ops.macs_per_item == pytest.approx(22.04e6, rel=0.01)
    assert p.ops.flops_per_item == 2 * UCMFH_MACS
    assert p.ops.sops_per_item == 0 and p.firing.overall is None
    assert p.energy.total_uj == pytest.approx(101, rel=0.01)
    assert p.energy.total_uj == pytest.approx(UCMFH_MACS * 4.6e-6)
    assert p.ops.uncounted_ops == {}
    assert p.code_bytes_per_item == 16 and p.items == 4


def test_per_layer_breakdown_adds_up(ucmfh_profile):
    layers = ucmfh_profile.ops.layers
    assert sum(layer.macs for layer in layers) == ucmfh_profile.ops.macs_per_item
    by_path = {layer.path: layer for layer in layers}
    assert by_path["fusion.layers.0.self_attn"].macs == 1024 * 4096 + 4 * 2 * 256
    assert by_path["image_head.net.3"].macs == 4096 * 128
    assert all(layer.macs >= 0 and layer.flops >= 0 for layer in layers)


def test_profile_is_json_serialisable_and_renders(ucmfh_profile):
    data = json.loads(json.dumps(ucmfh_profile.to_dict()))
    assert data["params"]["total"] == 22_051_072
    assert data["ops"]["macs_per_item"] == UCMFH_MACS
    assert data["energy"]["formula"] == EnergyModel().formula()
    assert set(data["ops"]["counters"]) == {"macs", "sops", "flops", "norm_macs"}
    rows = dict(ucmfh_profile.rows())
    assert rows["parameters"] == "22,051,072" and rows["MACs / pair"] == "22.02 M"
    assert rows["energy / pair"] == "101.31 uJ"
    assert "E = 4.6 pJ x MACs + 0.9 pJ x SOPs" in ucmfh_profile.summary()
    assert all(len(row) == 7 for row in ucmfh_profile.layer_rows())


def test_energy_model_is_configurable():
    profile = profile_model(PairLinear(), torch.randn(2, 6), torch.randn(2, 5),
                            energy=EnergyModel(e_mac_pj=1.0, e_ac_pj=0.5))
    assert profile.energy.total_uj == pytest.approx((6 * 3 + 5 * 4 + 4 * 3) * 1.0 / 1e6)
    assert profile.energy.to_dict()["e_mac_pj"] == 1.0


class PairLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Linear(6, 3)
        self.text = nn.Sequential(nn.Linear(5, 4), nn.Dropout(0.5), nn.Linear(4, 3))
        self.scale = nn.Parameter(torch.ones(1), requires_grad=False)

    def forward(self, image, text):
        return self.image(image) * self.scale, self.text(text)


def test_train_eval_flags_and_grad_mode_left_as_found():
    model = PairLinear().train()
    model.text[1].eval()  # mixed modes must come back exactly
    before = {name: m.training for name, m in model.named_modules()}
    profile = profile_model(model, torch.randn(3, 6), torch.randn(3, 5))
    assert {name: m.training for name, m in model.named_modules()} == before
    assert torch.is_grad_enabled()
    assert profile.ops.macs_per_item == 6 * 3 + 5 * 4 + 4 * 3


def test_count_parameters_total_trainable_and_children():
    counts = count_parameters(PairLinear())
    assert counts.total == 21 + 24 + 15 + 1
    assert counts.trainable == counts.total - 1 and counts.frozen == 1
    assert counts.by_child == {"image": 21, "text": 39, "(own)": 1}
    assert counts.to_dict()["by_child"]["text"] == 39


def test_shared_parameters_counted_once():
    shared = nn.Linear(4, 4)
    assert count_parameters(nn.Sequential(shared, shared)).total == 20


@pytest.mark.parametrize("image, text, match", [
    (torch.randn(3, 6), torch.randn(2, 5), "same number of pairs"),
    (torch.randn(0, 6), torch.randn(0, 5), "non-empty"),
    (torch.ones(3, 6, dtype=torch.long), torch.randn(3, 5), "floating-point"),
])
def test_bad_inputs_are_rejected(image, text, match):
    with pytest.raises(InputError, match=match):
        profile_model(PairLinear(), image, text)


def test_bad_bits_rejected():
    with pytest.raises(ValueError, match="bits"):
        profile_model(PairLinear(), torch.randn(1, 6), torch.randn(1, 5), bits=0)


def test_missing_spikingjelly_gives_a_clear_error(monkeypatch):
    import spikingjelly.activation_based as sj

    monkeypatch.delattr(sj, "op_counter")
    monkeypatch.setitem(sys.modules, "spikingjelly.activation_based.op_counter", None)
    with pytest.raises(ProfilingUnavailable, match="pip install 'spikingjelly>=2.0'"):
        profile_model(PairLinear(), torch.randn(1, 6), torch.randn(1, 5))
