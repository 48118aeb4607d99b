"""DGCPN and UCCH: released network sizes, losses against hand computations, the memory bank,
pinned codes for a fixed seed, and both beat lsh on synth-mirflickr (quick budget, slow)."""

from __future__ import annotations

import math
import sys

import pytest
import torch
from hashbench_plugins.methods.dgcpn import DGCPN, dgcpn_loss, graph_similarity
from hashbench_plugins.methods.ucch import UCCH, BinaryMemory, nce_loss, ranking_loss

from hashbench import MethodContext, TrainData
from tests.conftest import pinned_signs

CPU = torch.device("cpu")

# small models on a shared 2-core machine (see conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def build(cls, bits=16, dims=512, budget="paper", **overrides):
    params = cls.resolve_params("mirflickr", budget)
    params.update(overrides)
    context = MethodContext(
        bits=bits, params=params, device=CPU, seed=0, feature_dims={"image": dims, "text": dims}
    )
    return cls(context)


# Released layer shapes (models.py) with 512-d inputs: per network Linear(512, 4096) and
# Linear(4096, bits) = 512*4096 + 4096 + 4096*bits + bits; image + text = 2 x that.
# 16 bits: 2 x (2,101,248 + 65,552) = 4,333,600; 128 bits: 2 x (2,101,248 + 524,416).
@pytest.mark.parametrize(
    ("bits", "expected"), [(16, 4_333_600), (32, 4_464_704), (64, 4_726_912), (128, 5_251_328)]
)
def test_dgcpn_parameter_count_equals_the_released_networks(bits, expected):
    torch.manual_seed(0)
    method = build(DGCPN, bits=bits)
    assert method.num_parameters() == expected
    assert method.nets["text"].fc_encode.weight.std().item() == pytest.approx(0.3, rel=0.05)


# Released nets/ImageNet.py (3 layers) and nets/TextNet.py (2 layers), hidden 8192, 512-d in:
# image 512*8192 + 8192 + 8192*8192 + 8192 + 8192*bits + bits = 71,319,552 + 8,193*bits,
# text 512*8192 + 8192 + 8192*bits + bits = 4,202,496 + 8,193*bits.
# 16 bits: 71,450,640 + 4,333,584 = 75,784,224; 128 bits: 72,368,256 + 5,251,200 = 77,619,456.
@pytest.mark.parametrize(("bits", "expected"), [(16, 75_784_224), (128, 77_619_456)])
def test_ucch_parameter_count_equals_the_released_networks(bits, expected):
    torch.manual_seed(0)
    method = build(UCCH, bits=bits)
    assert method.num_parameters() == expected
    linears = [m for m in method.nets["image"].fc if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(8192, 512), (8192, 8192), (bits, 8192)]


def test_dgcpn_loss_matches_a_hand_computation():
    # B_I = I; both text codes (1, 0): BT_BT = ones, BI_BT = [[1, 1], [0, 0]], BI_BI = I.
    # pair: ((1 - 1.5)^2 + (0 - 1.5)^2) / 2 = 1.25. Off-diagonal target 0.4:
    # dis = 0.18 (BT_BT) + 0.13 (BI_BT) + 0.08 (BI_BI) = 0.39; consistency = 4 x 0.5 = 2.
    code_i = torch.tensor([[3.0, 0.0], [0.0, 0.5]])
    code_t = torch.tensor([[2.0, 0.0], [0.7, 0.0]])
    s = torch.tensor([[9.0, 0.4], [0.4, 9.0]])  # the diagonal is masked out
    loss = dgcpn_loss(code_i, code_t, s, k=1.5, dw=2.0, cw=0.5)
    assert loss.item() == pytest.approx(1.25 + 2 * 0.39 + 0.5 * 2.0, rel=1e-6)


def test_graph_similarity_matches_a_hand_computation():
    # Image cosines: [[1, 0, r], [0, 1, r], [r, r, 1]], r = 1/sqrt(2); a1 = 0 ignores the text.
    # Keep all 3, zero each row's largest (the diagonal), normalise rows:
    # P = [[0, 0, 1], [0, 0, 1], [.5, .5, 0]]; P P^T = [[1, 1, 0], [1, 1, 0], [0, 0, .5]].
    x_img = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    x_txt = torch.randn(3, 4)
    s = graph_similarity(x_img, x_txt, a1=0.0, a2=0.5, knn=3, scale=2.0)
    r = 1 / math.sqrt(2)
    cos = torch.tensor([[1, 0, r], [0, 1, r], [r, r, 1]])
    ppt = torch.tensor([[1.0, 1, 0], [1, 1, 0], [0, 0, 0.5]])
    assert torch.allclose(s, 2 * (0.5 * cos + 0.5 * 2.0 * ppt) - 1, atol=1e-6)


def test_dgcpn_knn_equals_the_released_count_at_5000_pairs():
    p = DGCPN.resolve_params("mirflickr", "paper")
    k = round(p["knn_fraction"] * 5000)
    assert 5000 - k == 3000 and p["scale_per_knn"] * k == 4000  # train.py's knn_number, scale


def test_ucch_ranking_loss_matches_a_hand_computation():
    # scores = [[1, .8], [0, .6]]; margin .2, shift .1. Rows: row 0 keeps both (>= .8), row 1
    # lowers 0 to -.1. Columns: column 0 lowers 0 to -.1, column 1 keeps both (>= .4).
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    txt = torch.tensor([[1.0, 0.0], [0.8, 0.6]])
    e = math.exp
    by_row = (-1 + math.log(e(1) + e(0.8)) + 0.2 + -0.6 + math.log(e(-0.1) + e(0.6)) + 0.2) / 2
    by_col = (-1 + math.log(e(1) + e(-0.1)) + 0.2 + -0.6 + math.log(e(0.8) + e(0.6)) + 0.2) / 2
    got = ranking_loss(img, txt, margin=0.2, shift=0.1).item()
    assert got == pytest.approx(by_row + by_col, rel=1e-6)


def test_ucch_nce_loss_is_minus_log_softmax_of_the_positive():
    scores = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    expected = (-math.log(e2 := math.exp(2)) + math.log(e2 + 2) + math.log(1 + 2 * math.e)) / 2
    assert nce_loss(scores).item() == pytest.approx(expected, rel=1e-6)


def test_memory_bank_scores_and_momentum_update_as_released():
    torch.manual_seed(0)
    bank = BinaryMemory(10, 4, negatives=5, temperature=0.9, momentum=0.4, device=CPU)
    assert set(bank.bank.abs().unique().tolist()) == {0.5}  # normalised signs, 1/sqrt(4)
    before = bank.bank.clone()
    img = torch.nn.functional.normalize(torch.randn(3, 4), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(3, 4), dim=1)
    idx = torch.tensor([7, 2, 4])
    torch.manual_seed(1)
    out_i, out_t = bank.scores(img, txt, idx, warmup=False)
    torch.manual_seed(1)
    drawn = torch.randint(0, 10, (3, 6))
    drawn[:, 0] = idx
    weight = before[drawn].sign()  # the released B x (K+1) x bits form
    t = 0.9 * 2
    assert torch.allclose(out_i, torch.bmm(weight, img[:, :, None])[..., 0] / t, atol=1e-6)
    assert torch.allclose(out_t, torch.bmm(weight, txt[:, :, None])[..., 0] / t, atol=1e-6)
    mean = torch.nn.functional.normalize((img + txt) / 2, dim=1)
    expected = torch.nn.functional.normalize(0.4 * before[idx] + 0.6 * mean, dim=1)
    assert torch.allclose(bank.bank[idx], expected, atol=1e-6)
    untouched = torch.tensor([i for i in range(10) if i not in (7, 2, 4)])
    assert torch.equal(bank.bank[untouched], before[untouched])


def test_memory_bank_warmup_uses_the_batch_and_overwrites_rows():
    torch.manual_seed(0)
    bank = BinaryMemory(6, 2, negatives=5, temperature=1.0, momentum=0.4, device=CPU)
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, -0.8]])
    txt = img.clone()
    out_i, _ = bank.scores(img, txt, torch.tensor([0, 1, 2]), warmup=True)
    signs = img.sign()
    t = math.sqrt(2)
    # row i: own sign vector first, then the other items in batch order
    assert torch.allclose(out_i[0], torch.stack([img[0] @ signs[j] for j in (0, 1, 2)]) / t)
    assert torch.allclose(out_i[1], torch.stack([img[1] @ signs[j] for j in (1, 0, 2)]) / t)
    assert torch.allclose(out_i[2], torch.stack([img[2] @ signs[j] for j in (2, 0, 1)]) / t)
    assert torch.allclose(bank.bank[:3], img, atol=1e-6)  # momentum 0 during warm-up


def _fit_tiny(cls, **overrides):
    g = torch.Generator().manual_seed(0)
    feats = {m: torch.randn(40, 8, generator=g) for m in ("image", "text")}
    torch.manual_seed(0)
    settings = {"hidden": 16, "epochs": 3, "batch_size": 8, **overrides}
    if cls is UCCH:
        settings.setdefault("negatives", 16)
    method = build(cls, bits=8, dims=8, **settings)
    method.fit(TrainData(features=feats, labels=None, protocol="mirflickr", num_labels=1))
    return method, feats


# Codes of the first six training items after 3 epochs (seed 0), recorded from this
# implementation: a change to the networks, losses, schedule or batching changes them.
PINNED = {
    "dgcpn": {
        "image": ["-++-++++", "--+---++", "-++++--+", "+-+--+++", "+++++-++", "--+---++"],
        "text": ["+-++--++", "--++++-+", "+-++++-+", "-++--+++", "+++++--+", "+++++--+"],
    },
    "ucch": {
        "image": ["+--+++--", "++-+++--", "++---+--", "++-+++--", "++--++--", "++-+++--"],
        "text": ["-+--+-+-", "-+--+++-", "++++-++-", "+-+++++-", "++++-++-", "+-++-++-"],
    },
}


@pytest.mark.parametrize("cls", [DGCPN, UCCH], ids=lambda c: c.info.name)
def test_codes_are_pinned_for_a_fixed_seed(cls):
    method, feats = _fit_tiny(cls)
    signs = pinned_signs(method, feats)
    assert signs == PINNED[cls.info.name], signs
    assert len(method.loss_history["loss"]) == 3
    assert all(math.isfinite(v) for v in method.loss_history["loss"])


def test_ucch_lr_follows_the_released_per_epoch_multistep():
    # 40 items, batch 8: 5 iterations per epoch; milestones 1 and 3 -> epochs 0-1 at lr,
    # 2-3 at lr/10, 4 at lr/100 (the released scheduler is stepped after each epoch).
    method, _ = _fit_tiny(UCCH, epochs=5, lr_milestones=[1, 3], lr=1e-3)
    assert len(method.loss_history["loss"]) == 5
    seen: list[float] = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = spy
    try:
        _fit_tiny(UCCH, epochs=5, lr_milestones=[1, 3], lr=1e-3)
    finally:
        torch.optim.Adam.step = original
    expected = [1e-3] * 10 + [1e-4] * 10 + [1e-5] * 5
    assert seen == pytest.approx(expected, rel=1e-9)


def test_released_settings_and_docstrings():
    d = DGCPN.resolve_params("mirflickr", "paper")
    assert (d["epochs"], d["batch_size"], d["lr"], d["a1"], d["a2"]) == (100, 32, 0.005, 0.01, 0.3)
    u = UCCH.resolve_params("mirflickr", "paper")
    assert (u["epochs"], u["batch_size"], u["lr"], u["alpha"], u["negatives"]) == (
        20,
        256,
        1e-4,
        0.7,
        4096,
    )
    for cls in (DGCPN, UCCH):
        assert cls.declaration_problems() == []
        quick = cls.resolve_params("mirflickr", "quick")
        assert quick["epochs"] < cls.resolve_params("mirflickr", "paper")["epochs"]
    assert "@9f62c56" in sys.modules[DGCPN.__module__].__doc__
    assert "@0c20e62" in sys.modules[UCCH.__module__].__doc__
