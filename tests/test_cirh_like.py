"""CIRH-like: similarity graph, augmentation, per-dataset settings, per-modality encoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hashbench_plugins.methods.cirh_like import CIRHLike, _neighbour_mix, similarity_graph

from hashbench import MethodContext, TrainData

CPU = torch.device("cpu")


# small models on a shared 2-core machine (see conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def build(bits=16, protocol="mirflickr", dims=512, **overrides):
    params = CIRHLike.resolve_params(protocol, "paper")
    params.update(overrides)
    return CIRHLike(
        MethodContext(
            bits=bits, params=params, device=CPU, seed=0, feature_dims={"image": dims, "text": dims}
        )
    )


def test_similarity_graph_follows_the_definition():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    a1, a2, k = 0.6, 0.3, 2

    def cos(m):
        m = m / np.linalg.norm(m, axis=1, keepdims=True)
        return m @ m.T

    s1 = a1 * cos(x) + (1 - a1) * cos(y)
    for row in s1:
        row[np.argsort(row)[:k]] = 0.0  # the k smallest entries of every row
    s2 = np.tanh(s1 / 2) + np.eye(6)
    s2 = (s2 + s2.T) / 2
    expected = a2 * s1 + (1 - a2) * s2
    got = similarity_graph(
        torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32), a1, a2, k
    )
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)


def test_neighbour_augmentation_mixes_third_and_fourth_ranked():
    x = torch.eye(5)
    ranked = torch.tensor([[0, 1, 2, 3]] * 5)
    mixed = _neighbour_mix(x, ranked, [0.7, 0.2, 0.1])
    np.testing.assert_allclose(mixed[4].numpy(), [0, 0, 0.2, 0.1, 0.7], atol=1e-7)


@pytest.mark.parametrize(
    ("protocol", "a1", "a2", "zeroed", "epochs", "lr1", "lr2"),
    [
        ("mirflickr", 0.6, 0.6, 3000, 60, 1e-3, 1e-4),
        ("nuswide", 0.5, 0.5, 3300, 120, 1e-4, 1e-4),
        ("mscoco", 0.1, 0.3, 3000, 100, 1e-3, 5e-4),
    ],
)
def test_paper_settings_per_dataset(protocol, a1, a2, zeroed, epochs, lr1, lr2):
    p = CIRHLike.resolve_params(protocol, "paper")
    assert (p["a1"], p["a2"], p["epochs"]) == (a1, a2, epochs)
    assert round(p["graph_zero_fraction"] * 5000) == zeroed
    assert (p["lr_stage1"], p["lr_hash"], p["batch_size"]) == (lr1, lr2, 512)


def test_stage_two_hash_functions_have_the_published_shapes():
    method = build(bits=64)
    image, text = method.hash_nets["image"], method.hash_nets["text"]
    assert (image.fc1.in_features, image.fc1.out_features, image.tohash.out_features) == (
        512,
        4096,
        64,
    )
    assert (text.fc1.in_features, text.fc1.out_features, text.tohash.out_features) == (512, 512, 64)
    assert not CIRHLike.info.pair_fused


def test_training_reduces_both_losses_and_codes_are_per_modality():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    feats = {m: torch.randn(64, 8, generator=g) for m in ("image", "text")}
    method = build(
        dims=8, epochs=30, batch_size=32, hidden=16, image_hash_hidden=16, text_hash_hidden=8
    )
    method.fit(TrainData(features=feats, labels=None, protocol="mirflickr", num_labels=1))
    for name in ("stage1", "stage2"):
        history = method.loss_history[name]
        assert len(history) == 30 and history[-1] < history[0], name
    with torch.no_grad():
        codes = method.encode("image", {"image": feats["image"][:10]})
        again = method.encode("image", {"image": feats["image"][:10], "text": feats["text"][:10]})
    assert torch.equal(codes, again) and codes.dtype == torch.int8
    assert set(codes.unique().tolist()) <= {-1, 1}


def test_info():
    info = CIRHLike.info
    assert info.name == "cirh-like" and "TKDE 2022" in info.reference
    assert info.supervision == "unsupervised" and info.tasks == ("cross-modal",)
    assert not info.spiking and not info.problems()
