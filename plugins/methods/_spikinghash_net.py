"""Spikinghash's network: the paper's sizes, the backbone + spiking hash layer + classifier,
the AND-over-time codes and the chunked inference model the profiler sees.

`SpikinghashNet(...)` with its defaults is the paper's configuration; the keyword arguments
`heads`, `mixers`, `init`, `in_threshold` and `dwt_spikes` select the released code's
(plugins/methods/spikinghash.py's docstring lists them). `parameter_count` counts either.
"""

from __future__ import annotations

import torch
from spikingjelly.activation_based import functional
from torch import nn

from ._spikinghash_blocks import (
    Block,
    Downsample,
    SpikingHashLayer,
    SpikingSelfAttention,
    SpikingWaveMixer,
)

# name -> (stage dims D1..D4, blocks per stage, max-pool in each stage's downsample)
SIZES: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[bool, ...]]] = {
    "nano": ((16, 32, 48, 64), (1, 1, 1, 1), (True, True, True, True)),
    "Ti": ((64, 128, 192, 256), (0, 1, 0, 1), (True, True, True, True)),
    "S": ((96, 192, 192, 384), (1, 1, 1, 1), (False, False, True, True)),
    "M": ((96, 192, 384, 384), (1, 1, 1, 1), (False, False, True, True)),
    "L": ((128, 256, 384, 512), (1, 1, 1, 1), (True, True, True, True)),
    "XL": ((128, 256, 512, 512), (1, 1, 1, 1), (True, True, True, True)),
}


class SpikinghashNet(nn.Module):
    """Backbone + spiking hash layer + classification head.

    forward(x (T, B, C, H, W)) -> (spikes (T, B, bits), hash feature h (B, bits), logits).
    `heads`: SSA heads (paper 8 as Spikformer, released 16); `mixers`, `init`, `in_threshold`,
    `dwt_spikes`: the SWM's (see `SpikingWaveMixer`); `init="released"` also draws the
    classifier's weights from a truncated normal (std 0.02) with zero bias, as the released code.
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
        *,
        heads: int = 8,
        mixers: int = 1,
        init: str = "default",
        in_threshold: float = 1.0,
        dwt_spikes: bool = False,
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
        swm = dict(mixers=mixers, init=init, in_threshold=in_threshold, dwt_spikes=dwt_spikes)
        stages, c_in = [], dims[0] // 2
        for i, (dim, n, pool) in enumerate(zip(dims, blocks, pools, strict=True)):
            if pool:
                h, w = (h + 1) // 2, (w + 1) // 2
            layers: list[nn.Module] = [Downsample(c_in, dim, pool)]
            for _ in range(n):
                if i < 2 and mixer == "swm":
                    mix: nn.Module = SpikingWaveMixer(
                        dim, frames, h, w, temporal=dwt == "3d", **swm
                    )
                else:
                    mix = SpikingSelfAttention(dim, heads)
                layers.append(Block(mix, dim))
            stages.append(nn.Sequential(*layers))
            c_in = dim
        self.stages = nn.Sequential(*stages)
        self.hash = SpikingHashLayer(c_in, bits)
        self.head = nn.Linear(bits, num_classes)
        if init == "released":
            nn.init.trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

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


def parameter_count(size: str, shape=(3, 32, 32), bits: int = 64, classes: int = 10, **kw) -> int:
    """Parameters of Spikinghash-`size` on inputs of `shape` ((C, H, W): T = 4; (T, C, H, W)),
    with a `classes`-way classifier; `kw` go to `SpikinghashNet` (e.g. the released options)."""
    frames = shape[0] if len(shape) == 4 else 4
    c, h, w = shape[-3:]
    net = SpikinghashNet(c, frames, h, w, bits, classes, size=size, **kw)
    return sum(p.numel() for p in net.parameters())
