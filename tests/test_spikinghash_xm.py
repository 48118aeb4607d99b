"""Spikinghash-XM (the cross-modal adaptation): pseudo-labels, the spiking encoder, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hashbench_plugins.methods.spikinghash import SpikingHashLayer, and_codes
from hashbench_plugins.methods.spikinghash_xm import (
    SpikingFeatureEncoder,
    SpikinghashXM,
    pseudo_labels,
)

from hashbench import MethodContext, TrainData

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _blobs(n_per: int, centres: int, dim: int, seed: int) -> tuple[dict, np.ndarray]:
    """Pairs drawn around `centres` well-separated centres, the same centre in both halves."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(centres), n_per)
    feats = {}
    for m in ("image", "text"):
        means = rng.standard_normal((centres, dim)) * 3.0
        feats[m] = (means[truth] + 0.1 * rng.standard_normal((len(truth), dim))).astype(np.float32)
    return feats, truth


def test_pseudo_labels_recover_planted_clusters_and_are_seeded():
    feats, truth = _blobs(40, 4, 16, seed=0)
    labels = pseudo_labels(feats, clusters=4, iterations=20, seed=0)
    assert labels.shape == truth.shape and labels.dtype == np.int64
    # the same partition up to renaming: each planted cluster maps to one label and back
    for c in range(4):
        assert len(set(labels[truth == c])) == 1
    assert len(set(labels)) == 4
    np.testing.assert_array_equal(labels, pseudo_labels(feats, 4, 20, seed=0))


def test_pseudo_labels_never_ask_for_more_clusters_than_pairs():
    feats, _ = _blobs(1, 3, 8, seed=1)
    labels = pseudo_labels(feats, clusters=32, iterations=5, seed=0)
    assert labels.max() < 3


def test_spiking_hash_layer_charge_matches_lif_dynamics():
    torch.manual_seed(0)
    layer = SpikingHashLayer(6, 5)
    x = torch.randn(4, 3, 6)
    spikes, feature = layer(x)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    # recompute the charge H[t] = V[t-1] + (X[t] - V[t-1]) / tau by hand (hard reset to 0)
    current = layer.linear(x).detach()
    v, charges = torch.zeros(3, 5), []
    for t in range(4):
        h = v + (current[t] - v) / 2.0
        charges.append(h)
        v = torch.where(h >= 0.2, torch.zeros_like(h), h)
    torch.testing.assert_close(feature.detach(), torch.stack(charges).mean(0))


def test_encoder_spikes_are_binary_and_codes_valid():
    torch.manual_seed(0)
    enc = SpikingFeatureEncoder(dim=12, hidden=32, bits=8, time_steps=4)
    spikes, feature = enc(torch.randn(5, 12))
    assert spikes.shape == (4, 5, 8) and feature.shape == (5, 8)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert set(and_codes(spikes).unique().tolist()) <= {-1.0, 1.0}


def _method(**params) -> SpikinghashXM:
    resolved = SpikinghashXM.resolve_params("mirflickr", "quick")
    resolved.update({"hidden": 64, "clusters": 4, "min_iterations": 0, **params})
    context = MethodContext(
        bits=16,
        params=resolved,
        device=torch.device("cpu"),
        seed=0,
        feature_dims={"image": 16, "text": 16},
    )
    return SpikinghashXM(context)


def test_training_lowers_the_loss_and_codes_follow_the_clusters():
    feats, truth = _blobs(48, 4, 16, seed=2)
    method = _method(epochs=40, batch_size=32, soft_start=4)
    train = {m: torch.from_numpy(v) for m, v in feats.items()}
    method.fit(TrainData(features=train, labels=None, protocol="mirflickr", num_labels=0))
    assert method.history[-1] < method.history[0]
    codes = {m: method.encode(m, train) for m in ("image", "text")}
    # a text's nearest image code (Hamming) belongs to the same planted cluster, for most texts
    distances = (codes["text"].unsqueeze(1) != codes["image"].unsqueeze(0)).sum(-1)
    nearest = distances.argmin(1).numpy()
    assert (truth[nearest] == truth).mean() > 0.9


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError, match="clusters"):
        _method(clusters=1)
