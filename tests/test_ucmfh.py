"""UCMFH: architecture size, loss, schedule, encoding protocols (pair-fused, strict, quirk)."""

from __future__ import annotations

import math

import pytest
import torch
from hashbench_plugins.methods._crossmodal_common import FusionTransformer, nt_xent
from hashbench_plugins.methods.ucmfh import UCMFH, UCMFHStrict

from hashbench import MethodContext, TrainData
from hashbench.store import ResultStore, default_store_path

CPU = torch.device("cpu")
# A tiny configuration for behavioural tests (8-d features per modality, d_model 16).
TINY = {"dim_feedforward": 16, "hash_hidden": 16, "batch_size": 4, "epochs": 1}


# small models on a shared 2-core machine (see conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def build(cls=UCMFH, bits=16, protocol="mirflickr", budget="paper", dims=512, **overrides):
    params = cls.resolve_params(protocol, budget)
    params.update(overrides)
    context = MethodContext(
        bits=bits, params=params, device=CPU, seed=0, feature_dims={"image": dims, "text": dims}
    )
    return cls(context)


def train_data(n=8, dims=8, seed=0, protocol="mirflickr"):
    g = torch.Generator().manual_seed(seed)
    feats = {m: torch.randn(n, dims, generator=g) for m in ("image", "text")}
    return TrainData(features=feats, labels=None, protocol=protocol, num_labels=1)


def test_parameter_count_at_128_bits_matches_the_paper():
    torch.manual_seed(0)
    method = build(bits=128)
    assert method.num_parameters() == 22_051_072
    layers = method.fusion.encoder.layers
    assert len(layers) == 2
    assert all(sum(p.numel() for p in layer.parameters()) == 8_399_872 for layer in layers)
    assert all(sum(p.numel() for p in h.parameters()) == 2_625_664 for h in method.heads.values())


def test_inference_model_profiles_like_the_published_figures():
    profile = pytest.importorskip("hashbench.profile")
    torch.manual_seed(0)
    method = build(bits=128)
    image, text = torch.randn(4, 512), torch.randn(4, 512)
    result = profile.profile_model(method.inference_model(), image, text, bits=128)
    assert result.params.total == 22_051_072
    assert result.ops.macs_per_item == 22_024_192  # the papers' 22.04M ops per pair
    with torch.no_grad():  # the profiled model computes what encode computes
        h_img, _ = method.inference_model().eval()(image, text)
        assert torch.equal(
            torch.where(h_img >= 0, 1, -1).to(torch.int8),
            method.encode("image", {"image": image, "text": text}),
        )


def test_nt_xent_matches_a_hand_computed_case():
    # Views (cosine): a1 = b1 (sim 1), a2 = -b2 (sim -1), a1 _|_ a2. Temperature 0.5 doubles.
    # Rows a1 and b1: -log(e^2 / (e^0 + e^2 + e^0)); rows a2 and b2: -log(e^-2 / (2 + e^-2)).
    a = torch.tensor([[3.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[0.5, 0.0], [0.0, -2.0]])
    expected = (math.log(1 + 2 * math.exp(-2)) + math.log(1 + 2 * math.exp(2))) / 2
    assert nt_xent(a, b, 0.5).item() == pytest.approx(expected, rel=1e-6)


def test_nt_xent_counts_the_positive_in_the_denominator():
    # Two identical pairs: every other row has similarity 1, so each row's loss is log(3).
    a = torch.ones(2, 4)
    assert nt_xent(a, a.clone(), 1.0).item() == pytest.approx(math.log(3), rel=1e-6)


def test_fast_length_one_path_equals_the_stock_transformer():
    torch.manual_seed(0)
    fusion = FusionTransformer(
        d_model=32, nhead=4, dim_feedforward=64, dropout=0.1, num_layers=2
    ).eval()
    x = torch.randn(10, 32)
    assert torch.allclose(fusion(x), fusion.forward_stock(x), atol=1e-6)
    params = [p for p in fusion.parameters()]
    fast = torch.autograd.grad(fusion(x).pow(3).sum(), params)
    stock = torch.autograd.grad(fusion.forward_stock(x).pow(3).sum(), params)
    for g_fast, g_stock in zip(fast, stock, strict=True):
        assert torch.allclose(g_fast, g_stock, atol=1e-5)


@pytest.mark.parametrize(
    ("protocol", "milestones", "gamma", "epochs"),
    [
        ("mirflickr", (30, 80), 1.2, 100),
        ("nuswide", (30, 80), 1.2, 150),
        ("mscoco", (200,), 0.6, 500),
    ],
)
def test_head_lr_follows_multistep_per_iteration(protocol, milestones, gamma, epochs):
    params = UCMFH.resolve_params(protocol, "paper")
    assert params["epochs"] == epochs
    assert list(params["lr_milestones"]) == list(milestones) and params["lr_gamma"] == gamma
    torch.manual_seed(0)
    # 8 pairs in batches of 4: 2 iterations per epoch, 130 epochs = 260 iterations.
    method = build(protocol=protocol, dims=8, **{**TINY, "epochs": 130})
    method.fit(train_data(protocol=protocol))
    lrs = method.head_lr_history
    assert len(lrs) == 260
    for it, lr in enumerate(lrs):
        expected = 1e-3 * gamma ** sum(it >= m for m in milestones)
        assert lr == pytest.approx(expected, rel=1e-9), it


def test_min_iterations_raises_the_number_of_epochs():
    torch.manual_seed(0)
    method = build(dims=8, **{**TINY, "epochs": 1, "min_iterations": 7})
    method.fit(train_data())
    assert len(method.head_lr_history) == 8  # 4 epochs of 2 iterations


def _fitted(cls, **overrides):
    torch.manual_seed(0)
    method = build(cls, dims=8, **{**TINY, **overrides})
    method.fit(train_data())
    return method


def test_strict_image_codes_ignore_the_paired_text_and_pair_fused_ones_use_it():
    g = torch.Generator().manual_seed(1)
    image = torch.randn(32, 8, generator=g)
    text_a, text_b = torch.randn(32, 8, generator=g), torch.randn(32, 8, generator=g)
    fused, strict = _fitted(UCMFH), _fitted(UCMFHStrict)
    with torch.no_grad():
        assert not torch.equal(
            fused.encode("image", {"image": image, "text": text_a}),
            fused.encode("image", {"image": image, "text": text_b}),
        )
        alone = strict.encode("image", {"image": image})
        assert torch.equal(alone, strict.encode("image", {"image": image, "text": text_a}))
        assert torch.equal(alone, strict.encode("image", {"image": image, "text": text_b}))
        text_alone = strict.encode("text", {"text": text_a})
        assert torch.equal(text_alone, strict.encode("text", {"text": text_a, "image": image}))


def test_same_model_and_training_for_both_variants():
    fused, strict = _fitted(UCMFH), _fitted(UCMFHStrict)
    for (name, p), (_, q) in zip(
        fused.fusion.state_dict().items(), strict.fusion.state_dict().items(), strict=True
    ):
        assert torch.equal(p, q), name
    assert UCMFH.info.pair_fused and not UCMFHStrict.info.pair_fused


def test_codes_do_not_depend_on_batch_composition_by_default():
    method = _fitted(UCMFH)
    assert method.params["batch_attention_quirk"] is False
    g = torch.Generator().manual_seed(2)
    batch = {m: torch.randn(24, 8, generator=g) for m in ("image", "text")}
    perm = torch.randperm(24, generator=g)
    with torch.no_grad():
        whole = method.encode("image", batch)
        first = method.encode("image", {m: x[:5] for m, x in batch.items()})
        shuffled = method.encode("image", {m: x[perm] for m, x in batch.items()})
    assert torch.equal(whole[:5], first)
    assert torch.equal(whole[perm], shuffled)
    assert set(whole.unique().tolist()) <= {-1, 1} and whole.dtype == torch.int8


def test_batch_attention_quirk_makes_codes_depend_on_the_batch():
    method = _fitted(UCMFH, batch_attention_quirk=True, quirk_batch_size=24, hash_dropout=0.0)
    g = torch.Generator().manual_seed(3)
    batch = {m: torch.randn(24, 8, generator=g) for m in ("image", "text")}
    with torch.no_grad():
        whole = method.fused_embedding("image", batch)
        first = method.fused_embedding("image", {m: x[:5] for m, x in batch.items()})
    assert not torch.allclose(whole[:5], first, atol=1e-4)


def test_info_and_budgets():
    for cls in (UCMFH, UCMFHStrict):
        info = cls.info
        assert info.supervision == "unsupervised" and info.tasks == ("cross-modal",)
        assert not info.spiking and "Information Fusion 2023" in info.reference
        assert not info.problems()
    quick = UCMFH.resolve_params("mirflickr", "quick")
    assert quick["epochs"] < UCMFH.resolve_params("mirflickr", "paper")["epochs"]


def test_cli_param_overrides_are_used_and_recorded(cli):
    result = cli(
        "run",
        "--methods",
        "ucmfh",
        "--dataset",
        "synth-mirflickr",
        "--scale",
        "0.05",
        "--budget",
        "quick",
        "--bits",
        "16",
        "--param",
        "ucmfh.epochs=1",
        "--param",
        "ucmfh.min_iterations=0",
        "--param",
        "ucmfh.lr_milestones=[1]",
    )
    assert result.exit_code == 0, result.output
    with ResultStore(default_store_path()) as store:
        (record,) = store.records()
    assert record.params["epochs"] == 1 and record.params["min_iterations"] == 0
    assert record.params["lr_milestones"] == [1] and record.pair_fused is True
