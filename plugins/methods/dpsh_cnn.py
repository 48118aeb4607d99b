"""dpsh-cnn: an ANN deep-hashing baseline for the unimodal family (DPSH loss on a small CNN).

The ANN counterpart of `spikinghash` at the same backbone size, so that a table compares an
SNN with an ANN of matching width: the same stem and four stages with Spikinghash's widths
and downsampling (`size`: nano / Ti / S / M / L / XL of `spikinghash.SIZES`), but real-valued:
each stage is Conv3x3 + BN + ReLU (+ MaxPool 3x3 stride 2 where Spikinghash pools) followed by
its blocks, each a residual multi-head self-attention over positions (4 C^2 weights, as
Spikinghash's SSA) and a residual MLP (Conv1x1 ratio 4, BN, ReLU); then global average
pooling and a linear hash layer. The stem is not strided (an ANN step is cheaper than T
spiking steps). Event data enter as one image whose channels are the T x 2 frames (a usual
ANN treatment of event frames: every frame has its own input weights, so time order is
visible); static images enter as they are.

Loss: DPSH (Li, Wang, Kang, IJCAI 2016): mean over batch pairs of log(1 + e^theta) - s theta,
theta = <u_i, u_j> / 2, s = 1 when the items share a label, plus eta ||sign(u) - u||^2 (eta
0.1); the code is sign(u). No classification loss. AdamW, cosine decay.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from hashbench_plugins.methods.spikinghash import SIZES
from torch import nn

import hashbench
from hashbench import Method, MethodInfo, TrainData

from . import _ranges


class _MLP(nn.Module):
    def __init__(self, dim: int, ratio: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(dim, dim * ratio, 1),
            nn.BatchNorm2d(dim * ratio),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim * ratio, dim, 1),
            nn.BatchNorm2d(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class _Attention(nn.Module):
    """Residual multi-head self-attention over the H x W positions (the ANN counterpart of
    Spikinghash's token mixers: 4 C^2 weights, as SSA's Q, K, V and projection)."""

    def __init__(self, dim: int, heads: int = 8) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.norm(x.flatten(2).transpose(1, 2))
        out, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        return x + out.transpose(1, 2).reshape(x.shape)


class HashCNN(nn.Module):
    """Flattened items -> real-valued hash outputs u (B, bits); codes are sign(u)."""

    def __init__(self, shape: tuple[int, ...], bits: int, size: str = "nano") -> None:
        super().__init__()
        dims, blocks, pools = SIZES[size]
        self.shape = tuple(shape)
        channels = int(math.prod(shape[:-2]))  # T x C frames as channels
        layers: list[nn.Module] = [
            nn.Conv2d(channels, dims[0] // 2, 3, padding=1, bias=False),
            nn.BatchNorm2d(dims[0] // 2),
            nn.ReLU(inplace=True),
        ]
        c_in = dims[0] // 2
        for dim, n, pool in zip(dims, blocks, pools, strict=True):
            layers += [nn.Conv2d(c_in, dim, 3, padding=1, bias=False), nn.BatchNorm2d(dim)]
            layers += [nn.ReLU(inplace=True)] + ([nn.MaxPool2d(3, 2, 1)] if pool else [])
            layers += [m for _ in range(n) for m in (_Attention(dim), _MLP(dim))]
            c_in = dim
        self.features = nn.Sequential(*layers)
        self.hash = nn.Linear(c_in, bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), -1, *self.shape[-2:])
        return self.hash(self.features(x).mean((2, 3)))


class DPSHCNN(Method):
    info = MethodInfo(
        name="dpsh-cnn",
        display_name="DPSH (CNN)",
        reference="Li, Wang, Kang, IJCAI 2016 (DPSH loss); CNN at Spikinghash's widths",
        summary="ANN baseline: DPSH pairwise loss on a CNN of Spikinghash's backbone size",
        supervision="supervised",
        tasks=("unimodal",),
    )
    default_params: Mapping[str, Any] = {
        "size": "XL",
        "epochs": 200,
        "batch_size": 32,
        "lr": 1e-3,
        "weight_decay": 0.01,
        "eta": 0.1,
    }
    dataset_params: Mapping[str, Mapping[str, Any]] = {"cifar10": {"size": "M", "epochs": 400}}
    budget_params: Mapping[str, Mapping[str, Any]] = {
        "quick": {"size": "nano", "epochs": 12, "batch_size": 32, "lr": 3e-3}
    }
    test_params: Mapping[str, Any] = {"epochs": 1}
    #: `hashbench tune` searches these (docs/tuning.md)
    param_ranges: Mapping[str, Any] = {
        "epochs": _ranges.EPOCHS,
        "lr": hashbench.Float(1e-9, None),
        "weight_decay": hashbench.Float(0.0, None),
        "eta": hashbench.Float(0.0, None),
        "batch_size": _ranges.BATCH,
    }
    search_space: Mapping[str, Any] = {
        "lr": hashbench.Float(1e-4, 1e-2, log=True),
        "weight_decay": hashbench.Float(1e-4, 0.1, log=True),
        "eta": hashbench.Float(1e-3, 1.0, log=True),
        "epochs": hashbench.UpToBudget(2),
    }

    def fit(self, train: TrainData) -> None:
        p = self.params
        (x,) = train.features.values()
        shapes = dict(self.context.input_shapes)
        if len(shapes) != 1:
            raise ValueError("dpsh-cnn needs the dataset's per-item input shape")
        shape = next(iter(shapes.values()))
        self.model = HashCNN(shape, self.bits, str(p["size"])).to(self.device)
        labels = train.labels.float()
        generator = torch.Generator().manual_seed(self.seed)
        epochs, batch = int(p["epochs"]), int(p["batch_size"])
        opt = torch.optim.AdamW(
            self.model.parameters(), lr=float(p["lr"]), weight_decay=float(p["weight_decay"])
        )
        steps = epochs * math.ceil(len(x) / batch)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
        eta = float(p["eta"])
        self.model.train()
        for epoch in range(epochs):
            order = torch.randperm(len(x), generator=generator).to(self.device)
            epoch_loss, batches = torch.zeros((), device=self.device), 0  # for progress only
            for start in range(0, len(x), batch):
                idx = order[start : start + batch]
                if len(idx) < 2:
                    continue
                u = self.model(x[idx])
                s = (labels[idx] @ labels[idx].T > 0).float()
                theta = u @ u.T / 2.0
                loss = (F.softplus(theta) - s * theta).mean()
                loss = loss + eta * (torch.sign(u).detach() - u).pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                epoch_loss, batches = epoch_loss + loss.detach(), batches + 1
                self.batch_end(epoch, epochs, start // batch, -(-len(x) // batch), items=len(idx))
            self.epoch_end(epoch, epochs, loss=epoch_loss / max(1, batches))
        self.model.eval()

    def encode(self, modality: str, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        x = inputs[modality].to(self.device)
        out = [self.model(x[i : i + 256]) for i in range(0, len(x), 256)]
        return torch.where(torch.cat(out) >= 0, 1.0, -1.0)

    def inference_model(self) -> nn.Module:
        return self.model


@hashbench.hookimpl
def hashbench_register_methods() -> list[type[Method]]:
    return [DPSHCNN]
