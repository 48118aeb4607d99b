"""Spikinghash as released (`spikinghash-released`): the released TSTH network's parameter
count, the class-balanced pairwise loss, label smoothing, the spikes between the 1-D Haar
transforms (straight-through), registration beside the paper's method, determinism, and a
tiny run through the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from hashbench_plugins.methods.spikinghash import (
    RELEASED,
    SpikingHaar3D,
    Spikinghash,
    SpikinghashReleased,
    balanced_pairwise_loss,
    haar_dwt,
    haar_idwt,
    lif,
    parameter_count,
    smoothed_targets,
)
from torch import nn

from hashbench import MethodContext, TrainData
from hashbench.cli import main
from hashbench.plugins import create_plugin_manager
from hashbench.registry import Registry
from hashbench.testing import tiny_unimodal_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _released_count(classes: int) -> int:
    options = Spikinghash.network_options(SpikinghashReleased.default_params)
    size = options.pop("size")
    return parameter_count(size, shape=(8, 2, 32, 32), bits=64, classes=classes, **options)


@pytest.mark.parametrize(("classes", "released"), [(101, 8_723_733), (8, 8_717_688)])
def test_released_network_has_the_released_parameter_count(classes, released):
    """TSTH @4cac0be at 64 bits, 32 x 32 two-polarity input, T = 8 (its head: 101 classes)."""
    assert _released_count(classes) == released


def test_the_paper_network_differs_from_the_released_one():
    paper = parameter_count("L", shape=(8, 2, 32, 32), bits=64, classes=101)
    # the released second token and channel mixers per level are the whole difference
    assert paper < _released_count(101)


def test_released_variant_is_registered_beside_the_paper_and_differs_one_param_at_a_time():
    registry = Registry.from_plugin_manager(create_plugin_manager())
    assert {"spikinghash", "spikinghash-released"} <= set(registry.list_methods())
    paper = Spikinghash.resolve_params("events", "paper")
    released = SpikinghashReleased.resolve_params("events", "paper")
    assert set(paper) == set(released)  # every difference is a parameter of both methods
    differs = {k for k in paper if paper[k] != released[k]}
    assert differs == {k for k in RELEASED if RELEASED[k] != Spikinghash.default_params[k]}
    assert released["smoothing"] == 0.1 and released["optimizer"] == "adamp"
    assert (released["alpha"], released["beta"], released["heads"]) == (0.01, 1.0, 16)


def test_class_balanced_pairwise_loss_by_hand():
    codes = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    classes = torch.tensor([[1.0, 0.3, 0.0], [0.3, 1.0, 0.0], [0.0, 0.0, 1.0]])
    y = torch.tensor([0, 0, 1, 2])
    similarity = classes[y][:, y]
    # positives (m == 1): the 4 diagonal pairs and (0, 1), (1, 0): S1 = 6 - 4 = 2; S0 = 10
    # S = 12: positives weighted 12 / 2 = 6, negatives 12 / 10 = 1.2
    soft = math.log(1 + math.e) - 1.0  # theta = 1, m = 1: items 0, 1
    unrelated = math.log(2.0)  # theta = 0, m = 0.3 or 0: (0, 2), (1, 2), (2, 3)
    opposite = math.log(1 + math.exp(-1.0))  # theta = -1, m = 0: (0, 3), (1, 3)
    expected = (6 * soft + 1.2 * (3 * unrelated + 2 * opposite)) / 6  # 6 unordered pairs
    got = balanced_pairwise_loss(codes, similarity)
    assert float(got) == pytest.approx(expected, rel=1e-6)
    # no positive pair but the diagonal: S1 = 0 counts as 1, S0 = 12, negatives weighted 13/12
    distinct = torch.eye(4)
    theta = codes @ codes.T / 2
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    by_hand = sum(math.log(1 + math.exp(float(theta[i, j]))) for i, j in pairs) * 13 / 12 / 6
    assert float(balanced_pairwise_loss(codes, distinct)) == pytest.approx(by_hand, rel=1e-6)


def test_label_smoothing_is_the_released_0_1():
    assert SpikinghashReleased.default_params["smoothing"] == 0.1
    assert Spikinghash.default_params["smoothing"] == 0.0
    logits = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 3, 7, 1, 1])
    target = smoothed_targets(F.one_hot(y, 8).float(), 0.1)
    assert torch.allclose(target.sum(1), torch.ones(5))
    assert float(target[0, 0]) == pytest.approx(0.9 + 0.1 / 8)
    ours = torch.sum(-target * F.log_softmax(logits, 1), 1).mean()
    torch.testing.assert_close(ours, F.cross_entropy(logits, y, label_smoothing=0.1))
    from timm.loss import LabelSmoothingCrossEntropy  # the released code's loss

    torch.testing.assert_close(ours, LabelSmoothingCrossEntropy(0.1)(logits, y))


def test_without_spikes_the_released_transform_is_the_exact_haar_pair():
    x = torch.randn(8, 2, 3, 8, 8, dtype=torch.float64)
    haar = SpikingHaar3D(nn.Identity)
    low2, high1, high2 = haar.dwt(x)
    ref_low1, ref_high1 = haar_dwt(x, (0, 3, 4))
    ref_low2, ref_high2 = haar_dwt(ref_low1, (0, 3, 4))
    for got, ref in ((low2, ref_low2), (high1, ref_high1), (high2, ref_high2)):
        torch.testing.assert_close(got, ref)  # same bands in the same order
    torch.testing.assert_close(haar.idwt(low2, high1, high2), x)
    torch.testing.assert_close(haar_idwt(ref_low1, ref_high1, (0, 3, 4)), x)


def test_spikes_between_the_haar_transforms_forward_and_straight_through_backward():
    # all ones, by hand: the H step gives sqrt 2 (low) and 0 (high); the neuron (tau 1.75,
    # threshold 0.35) fires every step on sqrt 2 / 1.75 = 0.81, so the W step sees 1 and 0,
    # gives sqrt 2 and 0, fires again, and the T step makes 2 / sqrt 2 = sqrt 2: the
    # linear transform would give 2 sqrt 2 (and zero high bands either way)
    ones = torch.ones(4, 1, 1, 4, 4)
    haar = SpikingHaar3D(lambda: lif(0.35))
    low1, high1 = haar._forward_level(ones, 0)
    torch.testing.assert_close(low1, torch.full_like(low1, math.sqrt(2.0)))
    assert high1.abs().max() == 0
    assert torch.allclose(haar_dwt(ones, (0, 3, 4))[0], torch.full_like(low1, 2 * math.sqrt(2)))
    # random input: every band is a Haar step of spikes, so x sqrt 2 lands on {-1, 0, 1, 2}
    x = torch.randn(4, 2, 3, 4, 4, generator=torch.Generator().manual_seed(1), requires_grad=True)
    low1, high1 = haar._forward_level(x, 0)
    assert set((high1 * math.sqrt(2)).round().unique().tolist()) <= {-1.0, 0.0, 1.0, 2.0}
    torch.testing.assert_close(high1 * math.sqrt(2), (high1 * math.sqrt(2)).round())
    # backward: the spikes pass the gradient straight through, i.e. that of the linear DWT
    weights = torch.randn(8, *low1.shape, generator=torch.Generator().manual_seed(2))
    (grad,) = torch.autograd.grad(
        (weights[0] * low1).sum() + (weights[1:] * high1.movedim(1, 0)).sum(), x
    )
    lin_low, lin_high = haar_dwt(x, (0, 3, 4))
    (ref,) = torch.autograd.grad(
        (weights[0] * lin_low).sum() + (weights[1:] * lin_high.movedim(1, 0)).sum(), x
    )
    torch.testing.assert_close(grad, ref)
    assert not torch.allclose(low1, lin_low)  # while the forward pass differs


def _fit_and_encode(seed: int) -> np.ndarray:
    data = tiny_unimodal_dataset()
    params = {**SpikinghashReleased.resolve_params(data.protocol, "quick")}
    params.update(SpikinghashReleased.test_params)
    torch.manual_seed(seed)
    context = MethodContext(
        bits=16,
        params=params,
        device=torch.device("cpu"),
        seed=seed,
        feature_dims=data.feature_dims,
        input_shapes=data.input_shapes,
    )
    method = SpikinghashReleased(context)
    feats = {m: torch.as_tensor(v) for m, v in data.train.features.items()}
    labels = torch.as_tensor(data.train.labels)
    method.fit(TrainData(feats, labels, data.protocol, data.num_labels))
    query = torch.as_tensor(data.query.features["events"])
    with torch.no_grad():
        return method.encode("events", {"events": query}).numpy()


@pytest.mark.slow
def test_released_variant_is_deterministic_for_a_seed():
    first = _fit_and_encode(0)
    assert set(np.unique(first)) <= {-1.0, 1.0}
    assert np.array_equal(first, _fit_and_encode(0))


@pytest.mark.slow
def test_released_variant_runs_through_the_cli_and_is_stored_under_its_own_name(tmp_path):
    """Succeeds end to end (tiny scale: 32 training items, so codes are not judged here; the
    sanity run that beats chance is in docs/methods.md)."""
    store = tmp_path / "store"
    args = ["run", "--methods", "spikinghash-released", "--dataset", "synth-events"]
    args += ["--bits", "16", "--scale", "0.02", "--budget", "quick", "--store", str(store)]
    args += ["-p", "spikinghash-released.epochs=1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    from hashbench.store import ResultStore

    with ResultStore(store, readonly=True) as db:
        (record,) = db.records()
    assert record.method == "spikinghash-released"
    assert record.params["optimizer"] == "adamp" and record.params["dwt_spikes"] is True
    assert 0.0 <= record.metrics["unimodal"]["map@100"] <= 1.0
