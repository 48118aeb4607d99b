"""Spikinghash's network blocks: LIF neurons, the Spiking WaveMixer (SWM), Spikformer-style
spiking self-attention (SSA), the spiking MLP, residual block, downsample and the spiking hash
layer. Tensors are (T, B, C, H, W) unless said otherwise.

The SWM covers both configurations (plugins/methods/spikinghash.py's docstring says which is
which): the paper's (exact linear 3D DWT, one token and one channel mixer per level,
multiplicative weights around 1, input threshold 1.0) and the released code's (spikes between
the 1-D Haar transforms, two mixers of each kind per level, weights and biases around 0, input
threshold 0.75).
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import neuron
from torch import nn

from ._spikinghash_wavelet import SpikingHaar3D, haar_dwt, haar_idwt

TAU = 1.75
DWT_THRESHOLD = 0.35  # the released code's neurons between the 1-D Haar transforms


def lif(threshold: float = 1.0, tau: float = TAU) -> neuron.LIFNode:
    return neuron.LIFNode(tau=tau, v_threshold=threshold, detach_reset=True, step_mode="m")


def _bn(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over the channel dim of (..., C, H, W)."""
    return bn(x.flatten(0, -4)).view(x.shape)


def _bn1(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over the channel dim of (T, B, C, N)."""
    return bn(x.flatten(0, 1)).view(x.shape)


def _weight(shape: tuple[int, ...], around: float) -> nn.Parameter:
    return nn.Parameter(torch.randn(*shape) * 0.02 + around)


class SpikingWaveMixer(nn.Module):
    """SWM on (T, B, C, H, W); `temporal=False` is the 2D-SWM ablation.

    `mixers`: token and channel mixers per level (paper 1, released 2); `init`: "default"
    (multiplicative weights N(1, 0.02^2), zero channel biases) or "released" (every weight and
    bias N(0, 0.02^2)); `in_threshold`: the input neuron's (paper 1.0, released 0.75);
    `dwt_spikes`: the released 3D DWT with spikes between its 1-D transforms (3D only).
    """

    def __init__(
        self,
        dim: int,
        frames: int,
        h: int,
        w: int,
        temporal: bool = True,
        groups: int = 8,
        *,
        mixers: int = 1,
        init: str = "default",
        in_threshold: float = 1.0,
        dwt_spikes: bool = False,
    ) -> None:
        super().__init__()
        if dim % groups:
            raise ValueError(f"SWM channels {dim} must be divisible by {groups} groups")
        if dwt_spikes and not temporal:
            raise ValueError("dwt_spikes needs the 3D DWT (dwt='3d'); the 2D-SWM has none")
        if init not in ("default", "released"):
            raise ValueError(f"init {init!r} is not 'default' or 'released'")
        self.temporal, self.mixers = temporal, mixers
        # (T, B, C, H, W): transform over T (dim 0), H (3), W (4); high bands stacked on dim 1
        self.dims = (0, 3, 4) if temporal else (3, 4)
        nbands = 7 if temporal else 3
        t1, t2 = (frames // 2, frames // 4) if temporal else (1, 1)
        self.groups, self.group_dim = groups, dim // groups
        around = 1.0 if init == "default" else 0.0
        self.sn_in = lif(in_threshold)
        self.sn_low = lif(0.55)
        self.sn_low_out = lif(0.55)
        self.w_low = _weight((t2, dim, h // 4, w // 4), around)
        levels = ((t1, 2), (t2, 4))
        self.w_token = nn.ParameterList(
            [
                _weight((t, nbands, 1, 1, h // s, w // s), around)
                for t, s in levels
                for _ in range(mixers)
            ]
        )
        gd = self.group_dim
        self.w_channel = nn.ParameterList(
            [_weight((groups, gd, gd), 0.0) for _ in range(2 * mixers)]
        )
        self.b_channel = nn.ParameterList(
            [
                nn.Parameter(torch.zeros(groups, gd))
                if init == "default"
                else _weight((groups, gd), 0.0)
                for _ in range(2 * mixers)
            ]
        )
        self.bn_token = nn.ModuleList([nn.BatchNorm2d(dim) for _ in range(2 * mixers)])
        self.bn_channel = nn.ModuleList([nn.BatchNorm2d(dim) for _ in range(2 * mixers)])
        self.sn_high = nn.ModuleList([lif(0.75) for _ in range(2)])
        self.sn_token = nn.ModuleList([lif(0.75) for _ in range(2 * mixers)])
        self.sn_channel = nn.ModuleList([lif(0.75) for _ in range(2 * mixers)])
        self.haar = SpikingHaar3D(lambda: lif(DWT_THRESHOLD)) if dwt_spikes else None

    def _mix_high(self, level: int, high: torch.Tensor) -> torch.Tensor:
        # high: (T', bands, B, C, H', W'); the neurons run over T' (dim 0)
        high = self.sn_high[level](high)
        first = level * self.mixers
        for i in range(first, first + self.mixers):  # token mixers, then channel mixers
            high = self.sn_token[i](_bn(self.bn_token[i], high * self.w_token[i]))
        for i in range(first, first + self.mixers):
            grouped = high.movedim(3, -1).unflatten(-1, (self.groups, self.group_dim))
            mixed = torch.einsum("...nd,ndk->...nk", grouped, self.w_channel[i])
            mixed = (mixed + self.b_channel[i]).flatten(-2).movedim(-1, 3)
            high = self.sn_channel[i](_bn(self.bn_channel[i], mixed))
        return high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sn_in(x)
        if self.haar is not None:
            low2, high1, high2 = self.haar.dwt(x)
        else:
            low1, high1 = haar_dwt(x, self.dims)  # (T', B, C, H', W'), (T', 7, ...)
            low2, high2 = haar_dwt(low1, self.dims)
        low2 = self.sn_low_out(self.sn_low(low2) * self.w_low.unsqueeze(1))  # global mixer
        high1, high2 = self._mix_high(0, high1), self._mix_high(1, high2)
        if self.haar is not None:
            return self.haar.idwt(low2, high1, high2)
        return haar_idwt(haar_idwt(low2, high2, self.dims), high1, self.dims)


class SpikingSelfAttention(nn.Module):
    """Spikformer-style SSA on (T, B, C, H, W)."""

    def __init__(self, dim: int, heads: int = 8, scale: float = 0.125) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"SSA channels {dim} must be divisible by {heads} heads")
        self.heads, self.scale = heads, scale
        self.sn_in = lif()
        self.qkv = nn.ModuleList([nn.Conv1d(dim, dim, 1, bias=False) for _ in range(3)])
        self.qkv_bn = nn.ModuleList([nn.BatchNorm1d(dim) for _ in range(3)])
        self.qkv_sn = nn.ModuleList([lif() for _ in range(3)])
        self.sn_attn = lif(0.5)
        self.proj = nn.Conv1d(dim, dim, 1)
        self.proj_bn = nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b, c, h, w = x.shape
        s = self.sn_in(x).flatten(3)  # (T, B, C, N)
        q, k, v = (
            sn(_bn1(bn, conv(s.flatten(0, 1)).view(s.shape)))
            .transpose(-1, -2)
            .unflatten(-1, (self.heads, c // self.heads))
            .transpose(2, 3)  # (T, B, heads, N, d)
            for conv, bn, sn in zip(self.qkv, self.qkv_bn, self.qkv_sn, strict=True)
        )
        out = (q @ (k.transpose(-2, -1) @ v)) * self.scale  # = Q K^T V s (associativity)
        out = out.transpose(2, 3).flatten(-2).transpose(-1, -2)  # (T, B, C, N)
        out = self.sn_attn(out)
        out = _bn1(self.proj_bn, self.proj(out.flatten(0, 1)).view(out.shape))
        return out.view(t, b, c, h, w)


class SpikingMLP(nn.Module):
    def __init__(self, dim: int, ratio: int = 4) -> None:
        super().__init__()
        self.sn1, self.sn2 = lif(), lif()
        self.fc1, self.bn1 = nn.Conv2d(dim, dim * ratio, 1), nn.BatchNorm2d(dim * ratio)
        self.fc2, self.bn2 = nn.Conv2d(dim * ratio, dim, 1), nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        y = self.bn1(self.fc1(self.sn1(x).flatten(0, 1))).unflatten(0, (t, b))
        return self.bn2(self.fc2(self.sn2(y).flatten(0, 1))).unflatten(0, (t, b))


class Block(nn.Module):
    def __init__(self, mixer: nn.Module, dim: int) -> None:
        super().__init__()
        self.mixer, self.mlp = mixer, SpikingMLP(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(x)
        return x + self.mlp(x)


class Downsample(nn.Module):
    def __init__(self, c_in: int, c_out: int, pool: bool) -> None:
        super().__init__()
        self.sn = lif()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.pool = nn.MaxPool2d(3, 2, 1) if pool else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        return self.pool(self.bn(self.conv(self.sn(x).flatten(0, 1)))).unflatten(0, (t, b))


class SpikingHashLayer(nn.Module):
    """Linear -> LIF (tau 2, threshold 0.2): the spiking hash layer.

    forward(x (T, B, C)) -> (spikes (T, B, bits), hash feature h (B, bits)), h being the
    time-averaged charge of the hash neurons before firing.
    """

    def __init__(self, c_in: int, bits: int) -> None:
        super().__init__()
        self.linear = nn.Linear(c_in, bits)
        self.sn = neuron.LIFNode(
            tau=2.0, v_threshold=0.2, detach_reset=True, step_mode="m", store_v_seq=True
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        current = self.linear(x)
        spikes = self.sn(current)
        # charge before firing: H[t] = V[t-1] + (X[t] - V[t-1]) / tau, V = membrane after reset
        v_prev = torch.cat([torch.zeros_like(current[:1]), self.sn.v_seq[:-1]])
        charge = v_prev + (current - v_prev) / self.sn.tau
        return spikes, charge.mean(0)
