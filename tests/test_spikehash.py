"""SpikeHash: size, time window, readout tie rule, encoding protocols, determinism, firing."""

from __future__ import annotations

import pytest
import torch
from hashbench_plugins.methods.spikehash import SpikeHash, SpikeHashStrict, readout_bits

from hashbench import MethodContext, TrainData
from hashbench.testing import tiny_dataset

CPU = torch.device("cpu")
# A tiny configuration for behavioural tests (8-d features, 16 hidden neurons).
TINY = {"hidden": 16, "batch_size": 8, "epochs": 2, "min_iterations": 0}


# small models on a shared 2-core machine (see conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def build(cls=SpikeHash, bits=16, dims=512, budget="paper", **overrides):
    params = cls.resolve_params("mirflickr", budget)
    params.update(overrides)
    context = MethodContext(
        bits=bits, params=params, device=CPU, seed=0, feature_dims={"image": dims, "text": dims}
    )
    return cls(context)


def train_data(n=32, dims=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = {m: torch.randn(n, dims, generator=g) for m in ("image", "text")}
    return TrainData(features=feats, labels=None, protocol="mirflickr", num_labels=1)


def fitted(cls=SpikeHash, seed=0, **overrides):
    torch.manual_seed(seed)
    method = build(cls, dims=8, **{**TINY, **overrides})
    method.fit(train_data())
    return method


def test_parameter_count_near_the_paper_at_128_bits():
    sizes = {bits: build(bits=bits).num_parameters() for bits in (16, 32, 64, 128)}
    assert abs(sizes[128] - 2_190_000) / 2_190_000 < 0.15, sizes
    # only the readout (hidden -> 2 x bits, + its batch norm) grows with the code length
    assert sizes[128] - sizes[64] == 64 * 2 * (512 + 1) + 2 * 64 * 2


def test_time_window_follows_the_paper():
    assert build(bits=16).time_steps == 8
    assert all(build(bits=b).time_steps == 4 for b in (32, 64, 128))
    assert build(bits=16, time_steps=2).time_steps == 2


def test_readout_rule_and_ties():
    pos = torch.tensor([[3.0, 1.0, 2.0, 2.0, 0.0]])
    neg = torch.tensor([[1.0, 2.0, 2.0, 2.0, 0.0]])
    pos_in = torch.tensor([[0.0, 5.0, 0.3, -1.0, 0.0]])
    neg_in = torch.tensor([[9.0, 0.0, 0.1, 2.0, 0.0]])
    # counts decide when they differ; a tie goes to the larger integrated input; exact -> +1
    assert readout_bits(pos, neg, pos_in, neg_in).tolist() == [[1, -1, 1, -1, 1]]


def test_constructed_tie_in_the_network_gives_a_valid_code():
    method = fitted()
    net, bits = method.net, method.bits
    with torch.no_grad():  # positive and negative channels of every bit made identical
        net.readout_fc.weight[bits:] = net.readout_fc.weight[:bits]
        net.readout_fc.bias[bits:] = net.readout_fc.bias[:bits]
        for name in ("weight", "bias", "running_mean", "running_var"):
            t = getattr(net.readout_bn, name)
            t[bits:] = t[:bits]
    g = torch.Generator().manual_seed(3)
    inputs = {"image": torch.randn(64, 8, generator=g), "text": torch.randn(64, 8, generator=g)}
    with torch.no_grad():
        pos, neg, pos_in, neg_in = net(inputs["image"], inputs["text"], read=("image",))["image"]
    assert torch.equal(pos, neg) and torch.equal(pos_in, neg_in)  # every bit is a tie
    assert (pos > 0).any()  # ties with spikes, not only silent channels
    codes = method.encode("image", inputs)
    assert codes.dtype == torch.int8 and codes.shape == (64, bits)
    assert torch.equal(codes, torch.ones_like(codes))  # exact ties -> +1
    with torch.no_grad():  # a tiny extra drive of the negative channels: still a count tie
        net.readout_bn.bias[bits:] += 1e-4
        pos, neg, _, _ = net(inputs["image"], inputs["text"], read=("image",))["image"]
    tied = pos == neg
    assert tied.float().mean() > 0.9
    codes = method.encode("image", inputs)
    assert torch.equal(codes[tied], -torch.ones_like(codes[tied]))  # the input decides


def test_codes_are_valid_and_use_both_signs():
    method = fitted()
    g = torch.Generator().manual_seed(1)
    inputs = {"image": torch.randn(50, 8, generator=g), "text": torch.randn(50, 8, generator=g)}
    for modality in ("image", "text"):
        codes = method.encode(modality, inputs)
        assert codes.shape == (50, 16) and codes.dtype == torch.int8
        assert set(codes.unique().tolist()) == {-1, 1}


def test_strict_never_reads_the_other_modality_and_pair_fused_does():
    g = torch.Generator().manual_seed(1)
    image, text_a, text_b = (torch.randn(32, 8, generator=g) for _ in range(3))
    fused, strict = fitted(SpikeHash), fitted(SpikeHashStrict)
    assert fused.info.pair_fused and not strict.info.pair_fused
    assert not torch.equal(
        fused.encode("image", {"image": image, "text": text_a}),
        fused.encode("image", {"image": image, "text": text_b}),
    )
    with pytest.raises(ValueError, match="pair-fused"):
        fused.encode("image", {"image": image})
    poison = torch.full_like(text_a, float("nan"))
    alone = strict.encode("image", {"image": image})
    assert torch.equal(alone, strict.encode("image", {"image": image, "text": poison}))
    assert torch.equal(alone, strict.encode("image", {"image": image, "text": text_a}))
    text_alone = strict.encode("text", {"text": text_a})
    assert torch.equal(text_alone, strict.encode("text", {"text": text_a, "image": poison}))


def test_same_seed_same_model_and_codes():
    a, b, c = fitted(seed=0), fitted(seed=0), fitted(seed=1)
    for (name, p), (_, q) in zip(
        a.net.state_dict().items(), b.net.state_dict().items(), strict=True
    ):
        assert torch.equal(p, q), name
    x = {"image": torch.randn(40, 8), "text": torch.randn(40, 8)}
    assert torch.equal(a.encode("text", x), b.encode("text", x))
    assert not torch.equal(a.net.readout_fc.weight, c.net.readout_fc.weight)


def test_encode_does_not_depend_on_batch_make_up():
    method = fitted()
    x = {"image": torch.randn(30, 8), "text": torch.randn(30, 8)}
    whole = method.encode("image", x)
    parts = torch.cat(
        [method.encode("image", {k: v[i : i + 7] for k, v in x.items()}) for i in range(0, 30, 7)]
    )
    assert torch.equal(whole, parts)


def test_firing_rates_are_alive_after_training_and_profiled_as_sops():
    profile = pytest.importorskip("hashbench.profile")
    data = tiny_dataset()
    feats = {m: torch.from_numpy(f) for m, f in data.train.features.items()}
    hidden = 64
    torch.manual_seed(0)
    method = build(bits=32, budget="quick", hidden=hidden, epochs=3, min_iterations=0)
    method.fit(TrainData(features=feats, labels=None, protocol="mirflickr", num_labels=1))
    assert all(len(v) == 3 for v in method.loss_history.values())
    query = {m: torch.from_numpy(f[:128]) for m, f in data.query.features.items()}
    result = profile.profile_model(method.inference_model(), query["image"], query["text"], bits=32)
    layers = {layer.path: layer.rate for layer in result.firing.layers}
    assert len(layers) == 6  # encode x2, state, modal x2, readout
    for path, rate in layers.items():
        assert 0.0 < rate < 1.0, (path, rate)  # neither dead nor saturated
    # only the two input layers see real values (once per pair); everything else is spike-driven
    assert result.ops.macs_per_item == 2 * 512 * hidden
    assert result.ops.sops_per_item > 0
    expected = 4.6e-12 * result.ops.macs_per_item + 0.9e-12 * result.ops.sops_per_item
    assert result.energy.total_uj == pytest.approx(expected * 1e6, rel=1e-6)
