"""DDSS-like (an inferred design): size, semantics matrix, encoding protocols."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hashbench_plugins.methods import ddss_like
from hashbench_plugins.methods.ddss_like import (
    DDSSLike,
    DDSSLikeStrict,
    NeighbourhoodGraph,
    djsrh_joint_semantics,
)

from hashbench import MethodContext, TrainData

CPU = torch.device("cpu")
REPORTED_PARAMS = 14_370_000  # DDSS at 128 bits, as quoted by the SpikeHash paper
TOLERANCE = 0.02  # the inferred design must be within 2% of the reported size
TINY = {"dim_feedforward": 16, "hash_hidden": 16, "batch_size": 8, "epochs": 2, "graph_k": 3}


# small models on a shared 2-core machine (see conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def build(cls=DDSSLike, bits=16, dims=512, **overrides):
    params = cls.resolve_params("mirflickr", "paper")
    params.update(overrides)
    return cls(
        MethodContext(
            bits=bits, params=params, device=CPU, seed=0, feature_dims={"image": dims, "text": dims}
        )
    )


def fitted(cls=DDSSLike, **overrides):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    feats = {m: torch.randn(32, 8, generator=g) for m in ("image", "text")}
    method = build(cls, dims=8, **{**TINY, **overrides})
    method.fit(TrainData(features=feats, labels=None, protocol="mirflickr", num_labels=1))
    return method


def test_parameter_count_is_close_to_the_reported_size():
    method = build(bits=128)
    n = method.num_parameters()
    assert n == 14_176_512  # transformer layer 8,399,872 + 2 graph layers + 2 UCMFH heads
    assert abs(n - REPORTED_PARAMS) / REPORTED_PARAMS < TOLERANCE


def test_djsrh_joint_semantics_matches_the_formula():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))

    def cos(m):
        m = m / np.linalg.norm(m, axis=1, keepdims=True)
        return m @ m.T

    s = 0.9 * (2 * cos(x) - 1) + 0.1 * (2 * cos(y) - 1)
    expected = 1.5 * (0.6 * s + 0.4 * s @ s.T / 5)
    got = djsrh_joint_semantics(torch.tensor(x), torch.tensor(y), beta=0.9)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-10)


def test_neighbourhood_graph_never_counts_an_item_as_its_own_neighbour():
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
    graph = NeighbourhoodGraph(bank, k=1)
    # item 0's nearest other item is item 2; a new item equal to item 1 skips its duplicate
    out = graph.aggregate(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_allclose(out.numpy(), [[0.95, 0.05], [0.45, 0.55]], atol=1e-6)


def test_strict_codes_ignore_the_partner_and_pair_fused_codes_use_it():
    fused, strict = fitted(DDSSLike), fitted(DDSSLikeStrict)
    g = torch.Generator().manual_seed(1)
    image = torch.randn(32, 8, generator=g)
    text_a, text_b = torch.randn(32, 8, generator=g), torch.randn(32, 8, generator=g)
    with torch.no_grad():
        assert not torch.equal(
            fused.encode("image", {"image": image, "text": text_a}),
            fused.encode("image", {"image": image, "text": text_b}),
        )
        alone = strict.encode("image", {"image": image})
        assert torch.equal(alone, strict.encode("image", {"image": image, "text": text_b}))
    assert DDSSLike.info.pair_fused and not DDSSLikeStrict.info.pair_fused


def test_codes_do_not_depend_on_batch_composition():
    method = fitted()
    g = torch.Generator().manual_seed(2)
    batch = {m: torch.randn(20, 8, generator=g) for m in ("image", "text")}
    with torch.no_grad():
        whole = method.encode("text", batch)
        part = method.encode("text", {m: x[3:7] for m, x in batch.items()})
    assert torch.equal(whole[3:7], part)


def test_losses_are_recorded_per_epoch():
    method = fitted(epochs=3)
    assert set(method.loss_history) == {"inter", "intra", "semantic", "hash", "total"}
    assert all(len(v) == 3 for v in method.loss_history.values())


def test_metadata_and_docstring_say_the_design_is_inferred():
    assert "THIS DESIGN IS AN INFERENCE" in " ".join(ddss_like.__doc__.split())
    for cls in (DDSSLike, DDSSLikeStrict):
        info = cls.info
        assert "inferred" in info.reference and "Information Fusion 2025" in info.reference
        assert "inferred" in info.display_name
        assert info.supervision == "unsupervised" and info.tasks == ("cross-modal",)
        assert not info.spiking and not info.problems()
