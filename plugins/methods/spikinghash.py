"""Spikinghash: supervised spiking hashing for images and event streams (Mei et al.; the
public reference code is named TSTH). Unimodal task: query and database from one modality.

What follows the paper (facts in ../shared/METHODS.md; code written from them, not copied):

- Backbone, tensors (T, B, C, H, W): stem Conv3x3 -> BN, then four stages, each a downsample
  [SN; Conv3x3 + BN; (MaxPool 3x3 stride 2)] followed by its blocks with residuals
  x = x + Mixer(x); x = x + MLP(x), MLP = BN(Conv1x1(SN(BN(Conv1x1(SN(x)))))) (ratio 4).
  Stages 1-2: Spiking WaveMixer (SWM); stages 3-4: Spikformer-style spiking self-attention
  (SSA: spiking Q, K, V from Conv1x1 + BN; Q K^T V x 0.125; attention neuron threshold 0.5).
- SWM: input spikes -> two-level 3D Haar DWT over (T, H, W) (exact, linear; `haar_dwt` /
  `haar_idwt`) -> per level 7 high bands, plus the level-2 low band. Low band: SN -> Hadamard
  product with a learnable W1 (C, T/4, H/4, W/4) -> SN ("global mixer"). High bands: SN ->
  Hadamard product with learnable W2 (7, T/2, H/2, W/2) / W3 (7, T/4, H/4, W/4) -> BN -> SN
  ("token mixer"), then a block-diagonal channel mix (N = 8 groups, Einsum with (N, D, D)
  plus bias) -> BN -> SN ("channel mixer"); inverse 3D DWT back to (T, H, W).
  Thresholds: 1.0 at the SWM input, 0.55 on the low band, 0.75 on the high bands.
- LIF neurons (spikingjelly, multi-step), tau 1.75, detached reset; surrogate gradients.
- Spiking hash layer: global average pool -> Linear(C, bits) -> LIF (tau 2, threshold 0.2);
  bit = 1 only when the neuron fires at every time step (AND over time), else -1. The
  time-averaged membrane potential (charge before firing) is the "hash feature" h.
- Loss: beta x cross-entropy of Linear(bits, classes) on the hash spike rate + alpha x the
  pairwise logistic loss log(1 + e^theta) - m theta, theta = <b_i, b_j> / 2 (mean over batch
  pairs), with soft pair labels m = S[y_i, y_j]. S = lambda I + (1 - lambda) S_soft; S_soft is
  rebuilt at the end of every round from the cosine similarity of h between correctly
  classified pairs of the round (per class pair: sum / count), entries <= `soft_threshold`
  zeroed. Rounds: the first `soft_start` epochs (hard labels), then every `round_epochs`
  epochs, every epoch in the last `final_rounds` epochs; lambda = 1, 0.875, 0.75, ... (1/8 less
  per round, as the reference's 1, 0.88, 0.75, 0.625, 0.5), floored at 0.
- Sizes Ti / S / M / L / XL (Table I). One block per stage and stem width D1 / 2 are what
  reproduce the paper's 3.87M (S) and 6.24M (M) parameters on 32 x 32 inputs (checked by a
  test). T = 4 for static images (image repeated), the data's frame count for event data.

Inferences and choices (not stated by the paper; labelled):
- Ti: Table I (as extracted) shows "-" for its stage-1 and stage-3 blocks and gives no D1/D3;
  we read it as *no blocks* in stages 1 and 3 and take D1 = 64, D3 = 192.
- The paper applies SN between the 1-D transforms of the 3D DWT (Eq. 8); here the DWT stays
  linear so that the inverse is exact, with SN before it and on every band after it.
- One token mixer and one channel mixer per level, as the paper's equations (the reference
  code stacks two of each).
- The pairwise loss is computed on the AND codes b = 2 prod_t s_t - 1 (Eq. 22 on b), whose
  gradient passes the surrogate gradients through the product.
- Optimiser: AdamW (stand-in for AdamP) with cosine decay.
- "nano" (dims 16/32/48/64, a stride-2 stem, max-pool in every downsample) is
  NOT a paper size: it is the quick budget's model, small enough to train on two CPU cores.
- Multi-hot labels (not in the paper) use cross-entropy against the normalised label vector.

Ablations (paper Section IV-E) as hyperparameters: `dwt="2d"` (2D DWT over (H, W) per time
step, learnable matrices without the time dimension: Spikinghash (2D-SWM)), `mixer="ssa"`
(SSA in every stage: Spikinghash (all-SSA)) and `similarity="hard"` (M_hard only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional, neuron
from torch import nn

import hashbench
from hashbench import Method, MethodInfo, TrainData

from . import _ranges

TAU = 1.75

# name -> (stage dims D1..D4, blocks per stage, max-pool in each stage's downsample)
SIZES: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[bool, ...]]] = {
    "nano": ((16, 32, 48, 64), (1, 1, 1, 1), (True, True, True, True)),
    "Ti": ((64, 128, 192, 256), (0, 1, 0, 1), (True, True, True, True)),
    "S": ((96, 192, 192, 384), (1, 1, 1, 1), (False, False, True, True)),
    "M": ((96, 192, 384, 384), (1, 1, 1, 1), (False, False, True, True)),
    "L": ((128, 256, 384, 512), (1, 1, 1, 1), (True, True, True, True)),
    "XL": ((128, 256, 512, 512), (1, 1, 1, 1), (True, True, True, True)),
}


def lif(threshold: float = 1.0, tau: float = TAU) -> neuron.LIFNode:
    return neuron.LIFNode(tau=tau, v_threshold=threshold, detach_reset=True, step_mode="m")


# --- Haar wavelet transform ---------------------------------------------------------------


def _split(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    even, odd = x.unflatten(dim, (x.shape[dim] // 2, 2)).unbind(dim + 1)
    return (even + odd) / math.sqrt(2.0), (even - odd) / math.sqrt(2.0)


def _merge(low: torch.Tensor, high: torch.Tensor, dim: int) -> torch.Tensor:
    even, odd = (low + high) / math.sqrt(2.0), (low - high) / math.sqrt(2.0)
    return torch.stack((even, odd), dim + 1).flatten(dim, dim + 1)


def haar_dwt(x: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """One level of the orthonormal Haar DWT along `dims` (each of even length).

    Returns (low band, high bands stacked on a new dim 1): 2^len(dims) - 1 high bands, ordered
    by the binary index of (low/high per dim), first dim most significant.
    """
    bands = [x]
    for dim in dims:
        bands = [half for band in bands for half in _split(band, dim)]
    return bands[0], torch.stack(bands[1:], 1)


def haar_idwt(low: torch.Tensor, highs: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """The exact inverse of `haar_dwt` (with the same `dims`)."""
    bands = [low, *highs.unbind(1)]
    for dim in reversed(dims):
        bands = [_merge(bands[i], bands[i + 1], dim) for i in range(0, len(bands), 2)]
    return bands[0]


def _bn(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over the channel dim of (..., C, H, W)."""
    return bn(x.flatten(0, -4)).view(x.shape)


def _bn1(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over the channel dim of (T, B, C, N)."""
    return bn(x.flatten(0, 1)).view(x.shape)


# --- blocks -----------------------------------------------------------------------------


class SpikingWaveMixer(nn.Module):
    """SWM on (T, B, C, H, W); `temporal=False` is the 2D-SWM ablation."""

    def __init__(
        self, dim: int, frames: int, h: int, w: int, temporal: bool = True, groups: int = 8
    ) -> None:
        super().__init__()
        if dim % groups:
            raise ValueError(f"SWM channels {dim} must be divisible by {groups} groups")
        self.temporal = temporal
        # (T, B, C, H, W): transform over T (dim 0), H (3), W (4); high bands stacked on dim 1
        self.dims = (0, 3, 4) if temporal else (3, 4)
        nbands = 7 if temporal else 3
        t1, t2 = (frames // 2, frames // 4) if temporal else (1, 1)
        self.groups, self.group_dim = groups, dim // groups
        self.sn_in = lif(1.0)
        self.sn_low = lif(0.55)
        self.sn_low_out = lif(0.55)
        self.w_low = nn.Parameter(torch.randn(t2, dim, h // 4, w // 4) * 0.02 + 1.0)
        self.w_token = nn.ParameterList(
            [
                nn.Parameter(torch.randn(t, nbands, 1, 1, h // s, w // s) * 0.02 + 1.0)
                for t, s in ((t1, 2), (t2, 4))
            ]
        )
        self.w_channel = nn.ParameterList(
            [
                nn.Parameter(torch.randn(groups, self.group_dim, self.group_dim) * 0.02)
                for _ in range(2)
            ]
        )
        self.b_channel = nn.ParameterList(
            [nn.Parameter(torch.zeros(groups, self.group_dim)) for _ in range(2)]
        )
        self.bn_token = nn.ModuleList([nn.BatchNorm2d(dim) for _ in range(2)])
        self.bn_channel = nn.ModuleList([nn.BatchNorm2d(dim) for _ in range(2)])
        self.sn_high = nn.ModuleList([lif(0.75) for _ in range(2)])
        self.sn_token = nn.ModuleList([lif(0.75) for _ in range(2)])
        self.sn_channel = nn.ModuleList([lif(0.75) for _ in range(2)])

    def _mix_high(self, level: int, high: torch.Tensor) -> torch.Tensor:
        # high: (T', bands, B, C, H', W'); the neurons run over T' (dim 0)
        high = self.sn_high[level](high) * self.w_token[level]
        high = self.sn_token[level](_bn(self.bn_token[level], high))
        grouped = high.movedim(3, -1).unflatten(-1, (self.groups, self.group_dim))
        mixed = torch.einsum("...nd,ndk->...nk", grouped, self.w_channel[level])
        mixed = (mixed + self.b_channel[level]).flatten(-2).movedim(-1, 3)
        return self.sn_channel[level](_bn(self.bn_channel[level], mixed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low1, high1 = haar_dwt(self.sn_in(x), self.dims)  # (T', B, C, H', W'), (T', 7, ...)
        low2, high2 = haar_dwt(low1, self.dims)
        low2 = self.sn_low_out(self.sn_low(low2) * self.w_low.unsqueeze(1))  # global mixer
        high1, high2 = self._mix_high(0, high1), self._mix_high(1, high2)
        return haar_idwt(haar_idwt(low2, high2, self.dims), high1, self.dims)


class SpikingSelfAttention(nn.Module):
    """Spikformer-style SSA on (T, B, C, H, W)."""

    def __init__(self, dim: int, heads: int = 8, scale: float = 0.125) -> None:
        super().__init__()
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


class SpikinghashNet(nn.Module):
    """Backbone + spiking hash layer + classification head.

    forward(x (T, B, C, H, W)) -> (spikes (T, B, bits), hash feature h (B, bits), logits).
    """

    def __init__(
        self,
        in_channels: int,
        frames: int,
        height: int,
        width: int,
        bits: int,
        num_classes: int,
        size: str = "S",
        dwt: str = "3d",
        mixer: str = "swm",
    ) -> None:
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"size {size!r} is not one of {tuple(SIZES)}")
        dims, blocks, pools = SIZES[size]
        self.frames = frames
        stride = 2 if size == "nano" else 1  # nano only: a strided stem (cheap on a CPU)
        self.stem = nn.Conv2d(in_channels, dims[0] // 2, 3, stride, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(dims[0] // 2)
        h, w = (height + stride - 1) // stride, (width + stride - 1) // stride
        stages, c_in = [], dims[0] // 2
        for i, (dim, n, pool) in enumerate(zip(dims, blocks, pools, strict=True)):
            if pool:
                h, w = (h + 1) // 2, (w + 1) // 2
            layers: list[nn.Module] = [Downsample(c_in, dim, pool)]
            for _ in range(n):
                if i < 2 and mixer == "swm":
                    mix: nn.Module = SpikingWaveMixer(dim, frames, h, w, temporal=dwt == "3d")
                else:
                    mix = SpikingSelfAttention(dim)
                layers.append(Block(mix, dim))
            stages.append(nn.Sequential(*layers))
            c_in = dim
        self.stages = nn.Sequential(*stages)
        self.hash = SpikingHashLayer(c_in, bits)
        self.head = nn.Linear(bits, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        t, b = x.shape[:2]
        x = self.stem_bn(self.stem(x.flatten(0, 1))).unflatten(0, (t, b))
        x = self.stages(x)
        spikes, feature = self.hash(x.mean((3, 4)))
        return spikes, feature, self.head(spikes.mean(0))


def and_codes(spikes: torch.Tensor) -> torch.Tensor:
    """Bitwise AND over time of (T, B, bits) spikes -> {-1, +1} codes (B, bits)."""
    return 2.0 * spikes.prod(0) - 1.0


class SpikinghashEncoder(nn.Module):
    """The inference model: flattened items -> {-1, +1} codes, in chunks (for the profiler)."""

    def __init__(self, net: SpikinghashNet, shape: tuple[int, ...], chunk: int = 128) -> None:
        super().__init__()
        self.net, self.shape, self.chunk = net, tuple(shape), chunk

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """(B, prod(shape)) -> (T, B, C, H, W); static images are repeated T times."""
        x = x.reshape(len(x), *self.shape)
        if len(self.shape) == 3:
            return x.unsqueeze(0).expand(self.net.frames, *x.shape)
        return x.transpose(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for start in range(0, len(x), self.chunk):
            functional.reset_net(self.net)
            spikes, _, _ = self.net(self.frames(x[start : start + self.chunk]))
            out.append(and_codes(spikes))
        functional.reset_net(self.net)
        return torch.cat(out)


def pairwise_loss(codes: torch.Tensor, similarity: torch.Tensor) -> torch.Tensor:
    """Mean over pairs of log(1 + e^theta) - m theta, theta = <b_i, b_j> / 2 (DPSH form)."""
    theta = codes @ codes.T / 2.0
    return (F.softplus(theta) - similarity * theta).mean()


class SoftSimilarity:
    """The dynamic soft similarity matrix S = lambda I + (1 - lambda) S_soft, in rounds."""

    def __init__(self, classes: int, threshold: float, device: torch.device) -> None:
        self.classes, self.threshold = classes, threshold
        self.soft = torch.zeros(classes, classes, device=device)
        self.rounds_done = 0
        self._reset(device)

    def _reset(self, device: torch.device) -> None:
        self.sums = torch.zeros(self.classes, self.classes, device=device)
        self.counts = torch.zeros(self.classes, self.classes, device=device)

    @property
    def weight(self) -> float:
        """lambda of the current round: 1, 0.875, 0.75, ... (floored at 0)."""
        return max(0.0, 1.0 - self.rounds_done / 8.0)

    def matrix(self) -> torch.Tensor:
        eye = torch.eye(self.classes, device=self.soft.device)
        return self.weight * eye + (1.0 - self.weight) * self.soft

    def accumulate(self, feature: torch.Tensor, y: torch.Tensor, correct: torch.Tensor) -> None:
        h = F.normalize(feature[correct].detach(), dim=1)
        yc = y[correct]
        if len(yc) < 2:
            return
        r = h @ h.T
        idx = yc[:, None] * self.classes + yc[None, :]
        self.sums.view(-1).index_add_(0, idx.flatten(), r.flatten())
        self.counts.view(-1).index_add_(0, idx.flatten(), torch.ones_like(r).flatten())

    def end_round(self) -> None:
        soft = torch.where(self.counts > 0, self.sums / self.counts.clamp(min=1), 0.0)
        self.soft = torch.where(soft > self.threshold, soft, torch.zeros_like(soft))
        self.rounds_done += 1
        self._reset(self.soft.device)


def round_ends(epochs: int, soft_start: int, round_epochs: int, final_rounds: int) -> set[int]:
    """Epochs (0-based) after which a round ends and S_soft is rebuilt."""
    ends = set()
    e = soft_start
    while e < epochs - final_rounds:
        ends.add(e - 1)
        e += round_epochs
    ends.update(range(max(soft_start, epochs - final_rounds) - 1, epochs - 1))
    return {x for x in ends if 0 <= x < epochs - 1}


def adamw_cosine(parameters, p: Mapping[str, Any], steps: int):
    """Spikinghash's optimiser: AdamW (`lr`, `weight_decay`) with cosine decay over `steps`."""
    opt = torch.optim.AdamW(parameters, lr=float(p["lr"]), weight_decay=float(p["weight_decay"]))
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))


def soft_similarity_rounds(
    p: Mapping[str, Any], classes: int, epochs: int, device: torch.device
) -> tuple[SoftSimilarity, set[int]]:
    """The soft similarity matrix and the epochs that end its rounds, from the parameters."""
    similarity = SoftSimilarity(classes, float(p["soft_threshold"]), device)
    ends = round_ends(epochs, int(p["soft_start"]), int(p["round_epochs"]), int(p["final_rounds"]))
    return similarity, ends


class Spikinghash(Method):
    info = MethodInfo(
        name="spikinghash",
        display_name="Spikinghash",
        reference="Mei et al., Spikinghash (reference code: TSTH)",
        summary="spiking WaveMixer + SSA backbone, AND-over-time spiking hash layer, "
        "dynamic soft similarity + classification loss",
        supervision="supervised",
        tasks=("unimodal",),
        spiking=True,
    )
    default_params: Mapping[str, Any] = {
        "size": "XL",
        "time_steps": 4,  # static images; event data use their own frame count
        "epochs": 200,
        "batch_size": 6,
        "lr": 5e-3,
        "weight_decay": 0.01,
        "alpha": 1e-3,
        "beta": 1.0,
        "similarity": "soft",
        "soft_start": 50,
        "round_epochs": 20,
        "final_rounds": 20,
        "soft_threshold": 0.5,
        "dwt": "3d",
        "mixer": "swm",
    }
    dataset_params: Mapping[str, Mapping[str, Any]] = {
        "cifar10": {
            "size": "M",
            "epochs": 400,
            "batch_size": 64,
            "alpha": 0.2,
            "beta": 0.8,
            "similarity": "hard",
        },
    }
    budget_params: Mapping[str, Mapping[str, Any]] = {
        "quick": {
            "size": "nano",
            "epochs": 5,  # ~1 min per run on 2 cores; 8: +0.06 mAP, 1.6x the time
            "batch_size": 32,
            "lr": 5e-3,
            "soft_start": 3,
            "round_epochs": 2,
            "final_rounds": 2,
        },
    }
    test_params: Mapping[str, Any] = {"epochs": 1, "size": "nano", "batch_size": 8}
    #: `hashbench tune` searches these (docs/tuning.md); epochs stay (the rounds follow them)
    param_ranges: Mapping[str, Any] = {
        "epochs": _ranges.EPOCHS,
        "lr": hashbench.Float(1e-9, None),
        "weight_decay": hashbench.Float(0.0, None),
        "alpha": hashbench.Float(0.0, None),
        "beta": hashbench.Float(0.0, None),
        "time_steps": _ranges.TIME_STEPS,
        "batch_size": _ranges.BATCH,
        "soft_start": _ranges.ROUNDS,
        "round_epochs": _ranges.ROUNDS,
        "final_rounds": _ranges.ROUNDS,
    }
    search_space: Mapping[str, Any] = {
        "lr": hashbench.Float(5e-4, 5e-2, log=True),
        "weight_decay": hashbench.Float(1e-4, 0.1, log=True),
        "alpha": hashbench.Float(1e-4, 1.0, log=True),
        "beta": hashbench.Float(0.1, 3.0, log=True),
    }

    @classmethod
    def complete_params(cls, params, *, bits, feature_dims, input_shapes):
        """Event data run for their own frame count, not `time_steps`: store the T used."""
        shapes = [tuple(s) for s in input_shapes.values()]
        if len(shapes) == 1 and len(shapes[0]) == 4:
            params["time_steps"] = int(shapes[0][0])
        return params

    def _shape(self, dim: int) -> tuple[int, ...]:
        shapes = dict(self.context.input_shapes)
        if len(shapes) == 1:
            return next(iter(shapes.values()))
        raise ValueError(
            "spikinghash needs the per-item input shape (T, C, H, W) or (C, H, W); the dataset "
            f"declares none (features of {dim} values)"
        )

    def fit(self, train: TrainData) -> None:
        p = self.params
        (x,) = train.features.values()
        shape = self._shape(int(x.shape[1]))
        frames = shape[0] if len(shape) == 4 else int(p["time_steps"])
        channels, height, width = shape[-3:]
        classes = int(train.num_labels)
        generator = torch.Generator().manual_seed(self.seed)
        net = SpikinghashNet(
            channels,
            frames,
            height,
            width,
            self.bits,
            classes,
            size=str(p["size"]),
            dwt=str(p["dwt"]),
            mixer=str(p["mixer"]),
        ).to(self.device)
        self.model = SpikinghashEncoder(net, shape).to(self.device)
        labels = train.labels.float()
        y = labels.argmax(1)
        target = labels / labels.sum(1, keepdim=True).clamp(min=1)
        epochs, batch = int(p["epochs"]), int(p["batch_size"])
        opt, sched = adamw_cosine(net.parameters(), p, epochs * math.ceil(len(x) / batch))
        similarity, ends = soft_similarity_rounds(p, classes, epochs, self.device)
        soft = p["similarity"] == "soft"
        alpha, beta = float(p["alpha"]), float(p["beta"])
        net.train()
        self.history: list[float] = []
        for epoch in range(epochs):
            order = torch.randperm(len(x), generator=generator).to(self.device)
            total = 0.0
            for start in range(0, len(x), batch):
                idx = order[start : start + batch]
                if len(idx) < 2:
                    continue
                functional.reset_net(net)
                spikes, feature, logits = net(self.model.frames(x[idx]))
                codes = and_codes(spikes)
                pair_labels = similarity.matrix()[y[idx]][:, y[idx]]
                loss = beta * torch.sum(-target[idx] * F.log_softmax(logits, 1), 1).mean()
                loss = loss + alpha * pairwise_loss(codes, pair_labels)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
                if soft:
                    similarity.accumulate(feature, y[idx], logits.argmax(1) == y[idx])
            self.history.append(total / len(x))
            if soft and epoch in ends:
                similarity.end_round()
            self.epoch_end(epoch, epochs, loss=self.history[-1])
        functional.reset_net(net)
        net.eval()
        self.similarity = similarity.matrix().cpu()

    def encode(self, modality: str, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.model(inputs[modality].to(self.device))

    def inference_model(self) -> nn.Module:
        return self.model


def parameter_count(size: str, shape=(3, 32, 32), bits: int = 64, classes: int = 10, **kw) -> int:
    """Parameters of Spikinghash-`size` on inputs of `shape` ((C, H, W): T = 4)."""
    frames = shape[0] if len(shape) == 4 else 4
    c, h, w = shape[-3:]
    net = SpikinghashNet(c, frames, h, w, bits, classes, size=size, **kw)
    return sum(p.numel() for p in net.parameters())


@hashbench.hookimpl
def hashbench_register_methods() -> list[type[Method]]:
    return [Spikinghash]


__all__ = [
    "Spikinghash",
    "SpikinghashNet",
    "SpikingHashLayer",
    "SoftSimilarity",
    "adamw_cosine",
    "and_codes",
    "haar_dwt",
    "haar_idwt",
    "lif",
    "pairwise_loss",
    "parameter_count",
    "round_ends",
    "soft_similarity_rounds",
]
