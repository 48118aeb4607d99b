"""Spikinghash's 3D Haar wavelet transform: the exact linear one (the paper's configuration)
and the released code's, which fires spikes between its 1-D transforms.

`haar_dwt` / `haar_idwt` are one level of the orthonormal Haar transform and its exact inverse
along any dims. `SpikingHaar3D` is the two-level transform of the released TSTH code
(DWT_IDWT_layer_level2.py / DWT_IDWT_Functions_level2.py @4cac0be, read, not copied): per
level, the 1-D transforms run over H, then W, then T, with LIF neurons (threshold 0.35) on every
band between them; their backward is the transposed linear transform, i.e. the spikes pass the
gradient straight through. Between the two levels the low band fires through an ordinary
(surrogate-gradient) LIF neuron, in both directions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

SQRT2 = math.sqrt(2.0)

# (T, B, C, H, W) tensors: the released code transforms H (dim 3), then W (4), then T (0)
RELEASED_ORDER = (3, 4, 0)
CANONICAL_ORDER = (0, 3, 4)  # how bands are numbered: first dim (T) most significant


def _split(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    even, odd = x.unflatten(dim, (x.shape[dim] // 2, 2)).unbind(dim + 1)
    return (even + odd) / SQRT2, (even - odd) / SQRT2


def _merge(low: torch.Tensor, high: torch.Tensor, dim: int) -> torch.Tensor:
    even, odd = (low + high) / SQRT2, (low - high) / SQRT2
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


def straight_through(neuron: nn.Module, bands: list[torch.Tensor]) -> list[torch.Tensor]:
    """Each band's spikes in the forward pass, the identity in the backward pass.

    The bands (time on dim 0) go through `neuron` together, stacked on dim 1: a multi-step
    neuron treats every element independently, so this equals one neuron per band.
    """
    with torch.no_grad():
        spikes = neuron(torch.stack(bands, 1)).unbind(1)
    return [band + (spike - band).detach() for band, spike in zip(bands, spikes, strict=True)]


def _permutation(order: tuple[int, ...]) -> list[int]:
    """Position in a band list built in `order` of each band numbered in CANONICAL_ORDER."""
    out = []
    for index in range(8):
        bits = {dim: (index >> (2 - k)) & 1 for k, dim in enumerate(CANONICAL_ORDER)}
        out.append(sum(bits[dim] << (2 - k) for k, dim in enumerate(order)))
    return out


class SpikingHaar3D(nn.Module):
    """The released two-level 3D Haar DWT / IDWT over (T, H, W) of (T, B, C, H, W) tensors.

    `dwt(x)` -> (low2, high1, high2), high bands (T', 7, B, C, H', W') numbered as `haar_dwt`
    numbers them; `idwt(low2, high1, high2)` inverts it, spiking the same way. Without the
    spikes both would be `haar_dwt` / `haar_idwt` twice (a test checks it).
    """

    def __init__(self, neuron: Callable[[], nn.Module]) -> None:
        """`neuron()` makes one multi-step spiking neuron (the released: LIF, threshold 0.35)."""
        super().__init__()
        # per level and direction: one neuron after the first and one after the second 1-D step
        self.sn_dwt = nn.ModuleList([neuron() for _ in range(4)])
        self.sn_idwt = nn.ModuleList([neuron() for _ in range(4)])
        self.sn_between = neuron()  # the level-1 low band, before level 2
        self.sn_ibetween = neuron()  # the rebuilt level-1 low band, before level 1
        self.perm = _permutation(RELEASED_ORDER)

    def _forward_level(self, x: torch.Tensor, level: int) -> tuple[torch.Tensor, torch.Tensor]:
        bands = [x]
        for step, dim in enumerate(RELEASED_ORDER):
            bands = [half for band in bands for half in _split(band, dim)]
            if step < 2:
                bands = straight_through(self.sn_dwt[2 * level + step], bands)
        ordered = [bands[i] for i in self.perm]
        return ordered[0], torch.stack(ordered[1:], 1)

    def _inverse_level(self, low: torch.Tensor, highs: torch.Tensor, level: int) -> torch.Tensor:
        ordered = [low, *highs.unbind(1)]
        bands = [ordered[0]] * 8
        for canonical, position in enumerate(self.perm):
            bands[position] = ordered[canonical]
        for step, dim in enumerate(reversed(RELEASED_ORDER)):
            bands = [_merge(bands[i], bands[i + 1], dim) for i in range(0, len(bands), 2)]
            if step < 2:
                bands = straight_through(self.sn_idwt[2 * level + step], bands)
        return bands[0]

    def dwt(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        low1, high1 = self._forward_level(x, 0)
        low2, high2 = self._forward_level(self.sn_between(low1), 1)
        return low2, high1, high2

    def idwt(self, low2: torch.Tensor, high1: torch.Tensor, high2: torch.Tensor) -> torch.Tensor:
        low1 = self.sn_ibetween(self._inverse_level(low2, high2, 1))
        return self._inverse_level(low1, high1, 0)
