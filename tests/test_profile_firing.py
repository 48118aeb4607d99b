"""Firing rates of spikingjelly neurons, measured on real inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hashbench.profile import measure_firing_rates, profile_model

NEEDS = "spiking models and the op counters need spikingjelly 2.x"
pytest.importorskip("spikingjelly.activation_based.op_counter", reason=NEEDS)
functional = pytest.importorskip("spikingjelly.activation_based.functional", reason=NEEDS)
layer = pytest.importorskip("spikingjelly.activation_based.layer", reason=NEEDS)
neuron = pytest.importorskip("spikingjelly.activation_based.neuron", reason=NEEDS)


# small models on a shared 2-core machine (see conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def reference_spikes(node: nn.Module, x: torch.Tensor) -> torch.Tensor:
    functional.reset_net(node)
    with torch.no_grad():
        out = node(x)
    functional.reset_net(node)
    return out


@pytest.mark.parametrize("make", [
    lambda: neuron.LIFNode(tau=2.0, step_mode="m"),
    lambda: neuron.ParametricLIFNode(init_tau=2.0, step_mode="m"),
])
def test_neuron_rate_equals_its_spike_mean(make):
    torch.manual_seed(0)
    node = make()
    current = torch.rand(4, 6, 32) * 3.0  # (T, batch, neurons)
    spikes = reference_spikes(node, current)
    assert 0 < spikes.mean() < 1  # a meaningful case: some neurons fire, some don't
    rates = measure_firing_rates(node, current)
    (only,) = rates.layers
    assert only.rate == pytest.approx(spikes.mean().item())
    assert only.spikes == spikes.sum().item()
    assert only.neuron_steps == spikes.numel()
    assert rates.overall == pytest.approx(spikes.mean().item())


class TwoLayerSNN(nn.Module):
    """Real-valued features repeated over T steps -> Linear -> PLIF -> Linear -> LIF."""

    def __init__(self, steps: int = 4) -> None:
        super().__init__()
        self.steps = steps
        self.encoder = layer.Linear(16, 32, step_mode="m")
        self.lif1 = neuron.ParametricLIFNode(step_mode="m")
        self.fc = layer.Linear(32, 8, step_mode="m")
        self.lif2 = neuron.LIFNode(v_threshold=0.2, step_mode="m")

    def forward(self, image, text):
        x = torch.cat([image, text], dim=-1).unsqueeze(0).repeat(self.steps, 1, 1)
        return self.lif2(self.fc(self.lif1(self.encoder(x)))).sum(0)


def snn_inputs(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return torch.randn(n, 8, generator=g) * 3, torch.randn(n, 8, generator=g) * 3


def test_spiking_model_profile_matches_manual_counts():
    torch.manual_seed(0)
    model, (image, text) = TwoLayerSNN(), snn_inputs()
    functional.reset_net(model)
    with torch.no_grad():
        x = torch.cat([image, text], dim=-1).unsqueeze(0).repeat(4, 1, 1)
        s1 = model.lif1(model.encoder(x))
        s2 = model.lif2(model.fc(s1))
    functional.reset_net(model)

    profile = profile_model(model, image, text)
    n = image.shape[0]
    assert profile.ops.macs_per_item == 4 * 16 * 32  # real-valued input, once per step
    assert profile.ops.sops_per_item == pytest.approx(s1.sum().item() * 8 / n)
    rates = {layer.path: layer.rate for layer in profile.firing.layers}
    assert rates == pytest.approx({"lif1": s1.mean().item(), "lif2": s2.mean().item()})
    overall = (s1.sum() + s2.sum()).item() / (s1.numel() + s2.numel())
    assert profile.firing.overall == pytest.approx(overall)
    e = profile.energy
    assert e.total_uj == pytest.approx((4.6 * 4 * 16 * 32 + 0.9 * s1.sum().item() * 8 / n) / 1e6)


def test_state_is_reset_before_and_after():
    torch.manual_seed(0)
    model, (image, text) = TwoLayerSNN(), snn_inputs()
    clean = profile_model(model, image, text)
    with torch.no_grad():
        model(image * 5, text * 5)  # leave membrane potentials charged
    assert torch.is_tensor(model.lif1.v)
    dirty = profile_model(model, image, text)
    assert dirty.firing.to_dict() == clean.firing.to_dict()
    assert dirty.ops.total_sops == clean.ops.total_sops
    assert model.lif1.v == 0.0 and model.lif2.v == 0.0  # reset afterwards


def test_single_step_neuron_called_per_step_is_summed():
    class SingleStep(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lif = neuron.LIFNode(step_mode="s")

        def forward(self, x):
            return torch.stack([self.lif(x[t]) for t in range(x.shape[0])])

    torch.manual_seed(2)
    model, current = SingleStep(), torch.rand(5, 3, 10) * 2.5
    functional.reset_net(model)
    with torch.no_grad():
        spikes = model(current)
    rates = measure_firing_rates(model, current)
    assert rates.layers[0].neuron_steps == 5 * 3 * 10
    assert rates.overall == pytest.approx(spikes.mean().item())


def test_non_spiking_model_has_no_firing_rates():
    rates = measure_firing_rates(nn.Linear(3, 2), torch.randn(2, 3))
    assert rates.layers == () and rates.overall is None
    assert rates.to_dict() == {"overall": None, "spikes": 0.0, "neuron_steps": 0, "layers": []}
