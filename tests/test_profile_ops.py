"""Operation counts (MACs, SOPs, FLOPs) against hand-computed values."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode

from hashbench.profile import OpRecorder, count_ops, sdpa_macs

NEEDS = "the profiler's op counters need spikingjelly 2.x"
oc = pytest.importorskip("spikingjelly.activation_based.op_counter", reason=NEEDS)
layer = pytest.importorskip("spikingjelly.activation_based.layer", reason=NEEDS)


# small models on a shared 2-core machine (see conftest.one_torch_thread)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


class OpLog(TorchDispatchMode):
    """Names of the aten ops that reach the dispatcher."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(str(func))
        return func(*args, **(kwargs or {}))


def test_linear_exact_macs_and_flops():
    ops = count_ops(nn.Linear(20, 7), torch.randn(5, 20))
    assert ops.total_macs == 5 * 20 * 7
    assert ops.macs_per_item == 20 * 7
    assert ops.flops_per_item == 2 * ops.macs_per_item
    assert ops.total_sops == 0 and ops.total_norm_macs == 0
    assert ops.uncounted_ops == {}


@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 6), dims=st.lists(st.integers(1, 24), min_size=2, max_size=4),
       bias=st.booleans())
def test_mlp_macs_are_sum_of_weight_sizes(batch, dims, bias):
    layers = []
    for d_in, d_out in zip(dims, dims[1:], strict=False):
        layers += [nn.Linear(d_in, d_out, bias=bias), nn.Tanh()]
    ops = count_ops(nn.Sequential(*layers), torch.randn(batch, dims[0]) + 3.0)
    expected = sum(a * b for a, b in zip(dims, dims[1:], strict=False))
    assert ops.macs_per_item == expected
    assert ops.flops_per_item == 2 * expected
    assert [layer.macs for layer in ops.layers] == [
        a * b for a, b in zip(dims, dims[1:], strict=False)
    ]


def test_mlp_per_layer_breakdown_and_normalisation_apart():
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    ops = count_ops(model, torch.randn(3, 8))
    by_path = {layer.path: layer for layer in ops.layers}
    assert by_path["0"].macs == 8 * 16 and by_path["3"].macs == 16 * 4
    # BatchNorm (eval): not a weight layer, so not in MACs; its affine step is reported apart.
    assert by_path["1"].macs == 0 and by_path["1"].norm_macs == 16
    assert ops.macs_per_item == 8 * 16 + 16 * 4
    assert ops.norm_macs_per_item == 16


def test_conv2d_macs():
    ops = count_ops(nn.Conv2d(3, 5, kernel_size=3, padding=1), torch.randn(2, 3, 6, 6))
    assert ops.macs_per_item == 5 * 3 * 3 * 3 * 6 * 6


# Transformer encoder layer: d 16, 4 heads (E = 4), FF 32, batch 2, sequence length 3.
D, H, FF, B, L = 16, 4, 32, 2, 3
LAYER_MACS = (
    B * L * D * 3 * D  # in_proj (q, k, v)
    + B * H * (L * L * (D // H) + L * L * (D // H))  # Q K^T and attention x V
    + B * L * D * D  # out_proj
    + B * L * (D * FF + FF * D)  # feed-forward
)


def encoder_layer(batch_first: bool) -> nn.TransformerEncoderLayer:
    torch.manual_seed(0)
    return nn.TransformerEncoderLayer(D, H, FF, dropout=0.1, batch_first=batch_first).eval()


def layer_input(batch_first: bool) -> torch.Tensor:
    x = torch.randn(B, L, D)
    return x if batch_first else x.transpose(0, 1)


@pytest.mark.parametrize("batch_first", [True, False])
def test_transformer_layer_hand_computed(batch_first):
    model = encoder_layer(batch_first)
    ops = count_ops(model, layer_input(batch_first), items=B)
    assert ops.total_macs == LAYER_MACS
    assert ops.total_flops == 2 * LAYER_MACS
    assert ops.total_norm_macs == 2 * B * L * D  # two affine LayerNorms
    assert ops.uncounted_ops == {}
    by_path = {layer.path: layer.macs * B for layer in ops.layers}
    assert by_path["self_attn"] == B * L * 4 * D * D + B * H * 2 * L * L * (D // H)


def test_fast_path_is_taken_and_hides_matmuls_from_naive_counting():
    """Why the profiler disables it: eval + no_grad runs one fused op a counter cannot see."""
    model, x = encoder_layer(True), layer_input(True)
    assert torch.backends.mha.get_fastpath_enabled()
    with torch.no_grad(), OpLog() as log:
        model(x)
    assert "aten._transformer_encoder_layer_fwd.default" in log.names
    naive = oc.MACCounter()
    with torch.no_grad(), oc.DispatchCounterMode([naive]):
        model(x)
    assert naive.get_total() == 0


def test_counts_identical_with_and_without_fast_path():
    model, x = encoder_layer(True), layer_input(True)
    eligible = count_ops(model, x, items=B)  # eval + no_grad: fast path would be taken
    model.train()  # train mode + grad: torch never takes the fast path
    model.dropout.p = model.dropout1.p = model.dropout2.p = 0.0
    with torch.enable_grad(), OpRecorder(model) as recorder:
        model(x)
    slow = recorder.result(B)
    assert eligible.total_macs == slow.total_macs == LAYER_MACS
    assert eligible.total_flops == slow.total_flops
    assert eligible.layers == slow.layers


def test_stacked_encoder_counts_each_layer():
    torch.manual_seed(0)
    stack = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(D, H, FF, batch_first=True), num_layers=2
    ).eval()
    ops = count_ops(stack, layer_input(True), items=B)
    assert ops.total_macs == 2 * LAYER_MACS


def test_math_attention_backend_counts_the_same():
    """The math backend decomposes into bmm (counted by the stock rules); the fused CPU
    kernel is counted by the package's SDPA rule: both give the same numbers."""
    model, x = encoder_layer(False), layer_input(False)
    fused = count_ops(model, x, items=B)
    with sdpa_kernel(SDPBackend.MATH):
        math = count_ops(model, x, items=B)
    assert fused.total_macs == math.total_macs == LAYER_MACS
    assert fused.total_flops == math.total_flops


def test_fastpath_switch_restored_even_on_error():
    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    torch.backends.mha.set_fastpath_enabled(False)
    try:
        count_ops(nn.Linear(2, 2), torch.randn(1, 2))
        assert torch.backends.mha.get_fastpath_enabled() is False
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    with pytest.raises(RuntimeError, match="boom"):
        count_ops(Boom(), torch.randn(1, 2))
    assert torch.backends.mha.get_fastpath_enabled() is True


def test_sdpa_macs_formula_with_grouped_query_heads():
    # B 2, 8 query heads, L 5, S 7, E 16, Ev 12: key/value with 2 heads (GQA).
    macs = sdpa_macs((2, 8, 5, 16), (2, 2, 7, 16), (2, 2, 7, 12))
    assert macs == 2 * 8 * (5 * 7 * 16 + 5 * 7 * 12)


@pytest.mark.parametrize("bias", [True, False])
def test_spiking_linear_sops_are_nnz_times_fan_out(bias):
    torch.manual_seed(1)
    T, batch, d_in, d_out = 3, 4, 10, 7
    spikes = (torch.rand(T, batch, d_in) < 0.3).float()
    lin = layer.Linear(d_in, d_out, bias=bias, step_mode="m")
    ops = count_ops(lin, spikes, items=batch)
    assert ops.total_sops == int(spikes.count_nonzero()) * d_out
    assert ops.total_macs == 0  # binary input: accumulates only
    assert ops.total_flops == 2 * T * batch * d_in * d_out  # FLOPs stay dense
    # = firing rate x T x the layer's synaptic operations (its MACs for a dense input)
    rate = spikes.mean().item()
    assert ops.sops_per_item == pytest.approx(rate * T * d_in * d_out)


def test_uncounted_matmul_ops_are_reported():
    class Dot(nn.Module):
        def forward(self, x):
            return torch.dot(x[0], x[1])

    ops = count_ops(Dot(), torch.randn(2, 5) + 2.0)
    assert ops.total_macs == 0
    assert "aten.dot.default" in ops.uncounted_ops


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_called_directly(need_weights):
    """MHA's own fast path (eval, no_grad, batch_first) is off too; with need_weights=True it
    runs explicit bmm products instead of SDPA: same MACs either way."""

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = nn.MultiheadAttention(D, H, batch_first=True)

        def forward(self, x):
            return self.mha(x, x, x, need_weights=need_weights)[0]

    torch.manual_seed(0)
    ops = count_ops(SelfAttention().eval(), layer_input(True), items=B)
    assert ops.total_macs == B * L * 4 * D * D + B * H * 2 * L * L * (D // H)
    assert ops.uncounted_ops == {}


def test_layer_rows_sum_to_totals_with_a_shared_module():
    shared = nn.Linear(6, 6)

    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Sequential(shared, nn.Tanh())
            self.b = nn.Sequential(nn.Linear(6, 6), shared)

        def forward(self, x):
            return self.b(self.a(x))

    ops = count_ops(Shared(), torch.randn(3, 6))
    assert ops.macs_per_item == 3 * 36
    # the shared Linear ran twice: both calls under its first registered path
    assert [(layer.path, layer.macs, layer.flops) for layer in ops.layers] == [
        ("a.0", 72, 144), ("b.0", 36, 72),
    ]
