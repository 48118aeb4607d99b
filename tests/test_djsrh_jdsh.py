"""DJSRH and JDSH: network sizes against the released code, similarity and loss against hand
computations, pinned codes for a fixed seed, and both beat lsh on synth-mirflickr (quick)."""

from __future__ import annotations

import math
import sys

import pytest
import torch
from hashbench_plugins.methods._djsrh_family import (
    djsrh_joint_semantics,
    epoch_alpha,
    jdsh_joint_similarity,
)
from hashbench_plugins.methods.djsrh import DJSRH, djsrh_loss
from hashbench_plugins.methods.jdsh import JDSH, SIMILARITY_KEYS, jdsh_loss

from hashbench import MethodContext, TrainData
from tests.conftest import pinned_signs

CPU = torch.device("cpu")

# small models on a shared 2-core machine (see conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def build(cls, bits=16, protocol="mirflickr", budget="paper", dims=512, **overrides):
    params = cls.resolve_params(protocol, budget)
    params.update(overrides)
    context = MethodContext(
        bits=bits, params=params, device=CPU, seed=0, feature_dims={"image": dims, "text": dims}
    )
    return cls(context)


# Released layer shapes at the same input and code sizes (d_img = d_txt = 512, K bits):
#   image: DJSRH's fc_encode / JDSH's hash_layer, Linear(512, K) -> 512 K + K
#   text: Linear(512, 4096) -> ReLU -> Linear(4096, K) -> 512*4096 + 4096 + 4096 K + K
#   total: 2,097,152 + 4,096 + 4,610 K = 2,101,248 + 4,610 K
#   K = 16: 2,175,008   K = 32: 2,248,768   K = 64: 2,396,288   K = 128: 2,691,328
RELEASED_PARAMS = {16: 2_175_008, 32: 2_248_768, 64: 2_396_288, 128: 2_691_328}


@pytest.mark.parametrize("cls", [DJSRH, JDSH], ids=lambda c: c.info.name)
@pytest.mark.parametrize("bits", sorted(RELEASED_PARAMS))
def test_parameter_count_equals_the_released_networks(cls, bits):
    method = build(cls, bits=bits)
    assert method.num_parameters() == RELEASED_PARAMS[bits] == 2_101_248 + 4_610 * bits
    shapes = sorted(tuple(p.shape) for p in method.nets.parameters())
    assert shapes == sorted([(bits, 512), (bits,), (4096, 512), (4096,), (bits, 4096), (bits,)])


# A two-item batch worked by hand. Image features e1, e2 (orthogonal), text features e1, e1:
#   S_I = 2 cos - 1 = [[1, -1], [-1, 1]],  S_T = [[1, 1], [1, 1]].
# Codes: u = norm rows of [[1, 1], [1, -1]] (orthogonal), v = norm rows of [[1, 1], [1, 1]]:
#   u u^T = I,  v v^T = ones,  u v^T = [[1, 1], [0, 0]],  v u^T = [[1, 0], [1, 0]].
F_IMG = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
F_TXT = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
B_IMG = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64)
B_TXT = torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64)


def test_djsrh_similarity_and_loss_match_a_hand_computation():
    # beta 0.5: S~ = (S_I + S_T) / 2 = I;  S = 1.5 (0.6 I + 0.4 I I / 2) = 1.2 I
    s = djsrh_joint_semantics(F_IMG, F_TXT, beta=0.5, eta=0.4, mu=1.5)
    torch.testing.assert_close(s, 1.2 * torch.eye(2, dtype=torch.float64))
    # MSE(I, 1.2 I) = 2 * 0.04 / 4 = 0.02;  MSE([[1, 1], [0, 0]], 1.2 I) = (0.04 + 1 + 1.44) / 4
    # = 0.62;  MSE(ones, 1.2 I) = (0.04 + 1 + 1 + 0.04) / 4 = 0.52
    total, l_ii, l_it, l_tt = djsrh_loss(B_IMG, B_TXT, s, lambda1=0.1, lambda2=0.1)
    assert l_ii.item() == pytest.approx(0.02)
    assert l_it.item() == pytest.approx(0.62)
    assert l_tt.item() == pytest.approx(0.52)
    assert total.item() == pytest.approx(0.1 * 0.02 + 0.62 + 0.1 * 0.52)


def test_jdsh_similarity_weights_both_tails_like_the_released_code():
    # Image = text = e1, e2: S_I = S_T = H = [[1, -1], [-1, 1]]; 0.5 + 0.1 + 0.4 = 1, so
    # S = [[1, -1], [-1, 1]]. MIRFlickr constants: left = -0.49 - 2 * 0.019 = -0.528, right
    # = -0.49 + 4 * 0.088 = -0.138; -1 < left -> -(1 + 0.1 e^{-(-1 + 0.52)}), 1 > right ->
    # 1 + 0.2 e^{1 - 0.68}; then x mu = 1.4.
    p = {k: float(JDSH.default_params[k]) for k in SIMILARITY_KEYS}
    s = jdsh_joint_similarity(F_IMG, F_IMG, p)
    on = 1.4 * (1 + 0.2 * math.exp(0.32))
    off = -1.4 * (1 + 0.1 * math.exp(0.48))
    torch.testing.assert_close(s, torch.tensor([[on, off], [off, on]], dtype=torch.float64))
    # a value between the two thresholds is only scaled by mu
    p_mid = {**p, "sim_alpha": 0.0, "sim_beta": 0.0, "sim_lambda": 0.0}
    torch.testing.assert_close(
        jdsh_joint_similarity(F_IMG, F_IMG, p_mid), torch.zeros(2, 2).double()
    )


def test_jdsh_loss_matches_a_hand_computation():
    s = 1.2 * torch.eye(2, dtype=torch.float64)
    total, intra, cross, agreement = jdsh_loss(B_IMG, B_TXT, s, intra=0.1)
    assert intra.item() == pytest.approx(0.02 + 0.52)
    assert cross.item() == pytest.approx(0.62 + 0.62)  # u v^T and v u^T, each 0.62
    assert agreement.item() == pytest.approx(0.5)  # <u1, v1> = 1, <u2, v2> = 0
    assert total.item() == pytest.approx(0.1 * 0.54 + 1.24 - 0.5)


def test_tanh_sharpness_grows_as_released():
    assert [epoch_alpha(e) for e in range(3)] == [1.0, math.sqrt(2), math.sqrt(3)]


def _fit_tiny(cls, **overrides):
    g = torch.Generator().manual_seed(0)
    feats = {m: torch.randn(40, 8, generator=g) for m in ("image", "text")}
    torch.manual_seed(0)
    settings = {"text_hidden": 16, "epochs": 3, "batch_size": 8, **overrides}
    method = build(cls, bits=8, dims=8, **settings)
    method.fit(TrainData(features=feats, labels=None, protocol="mirflickr", num_labels=1))
    return method, feats


# Codes of the first six training items after 3 epochs (seed 0), recorded from this
# implementation: a change to the networks, losses, schedule or batching changes them.
PINNED = {
    "djsrh": {
        "image": ["----+-++", "----++++", "---+++-+", "--+-+-++", "+-+-++--", "+-+-+--+"],
        "text": ["-+---+++", "-++----+", "-+++--++", "-++-+-++", "-+++--++", "++++--++"],
    },
    "jdsh": {
        "image": ["----+-++", "----++++", "---+++--", "--+-+-++", "+-+-++--", "+-+-+--+"],
        "text": ["-+--++++", "-++---++", "-+++-+++", "--+-+-++", "-+++++++", "+++---++"],
    },
}


@pytest.mark.parametrize("cls", [DJSRH, JDSH], ids=lambda c: c.info.name)
def test_codes_are_pinned_for_a_fixed_seed(cls):
    method, feats = _fit_tiny(cls)
    signs = pinned_signs(method, feats)
    assert signs == PINNED[cls.info.name], signs
    assert len(method.loss_history["total"]) == 3


@pytest.mark.parametrize("cls", [DJSRH, JDSH], ids=lambda c: c.info.name)
def test_codes_do_not_depend_on_batch_composition(cls):
    method, feats = _fit_tiny(cls, epochs=1)
    whole = method.encode("text", feats)
    parts = torch.cat([method.encode("text", {"text": c}) for c in feats["text"].split(7)])
    assert torch.equal(whole, parts)


def test_released_settings_per_dataset():
    assert DJSRH.resolve_params("mirflickr", "paper")["beta"] == 0.9
    assert DJSRH.resolve_params("nuswide", "paper")["beta"] == 0.6
    assert DJSRH.resolve_params("mirflickr", "paper")["epochs"] == 80
    assert JDSH.resolve_params("mirflickr", "paper")["epochs"] == 300
    assert JDSH.resolve_params("nuswide", "paper")["s_max"] == 0.75
    for cls in (DJSRH, JDSH):
        assert cls.declaration_problems() == []
    assert "@6041c2d" in sys.modules[DJSRH.__module__].__doc__
    assert "@caa8224" in sys.modules[JDSH.__module__].__doc__
