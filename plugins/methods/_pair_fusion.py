"""Blocks of the methods whose network reads an image-text PAIR (ucmfh, ddss-like, spikehash)
and of their strict variants.

Such a network computes a code from both features of a pair. Under the published protocol
(`pair_fused=True`) an item is encoded with its own partner; the strict variant (`strict =
True`) replaces the absent partner by the mean training feature of that modality, as a real
single-modality query would be encoded.

- `PairFusedMethod`: the shared body of such a method: feature widths, the training features
  with the strict variant's partner means (`fill`), the pair or the concat(image, text) token
  to encode one modality, the halves of a fused output.
- `PartnerFill`: the base of their inference models for the profiler: the partner means as
  buffers; `FusedPairInference` adds the fusion transformer's halves of a batch of pairs.
- `pair_fusion`, `hash_heads`: UCMFH's fusion transformer over concat(image, text) and its
  per-modality hash heads (`HashHead`, image first), from a method's params.
- `TwoRateAdam`: UCMFH's optimisation (also DDSS-like's): one Adam for the fusion transformer,
  one for the rest at another learning rate, whose MultiStepLR is stepped every iteration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from hashbench import Method, MethodContext, TrainData

from ._crossmodal_common import (
    MODALITIES,
    FusionTransformer,
    HashHead,
    feature_dims,
    make_adam,
    pair_inputs,
    training_features,
)


def pair_fusion(dims: Mapping[str, int], params: Mapping, num_layers: int) -> FusionTransformer:
    """UCMFH's fusion transformer for tokens concat(image, text), with the method's `nhead`,
    `dim_feedforward` and `dropout`."""
    return FusionTransformer(
        d_model=dims["image"] + dims["text"],
        nhead=int(params["nhead"]),
        dim_feedforward=int(params["dim_feedforward"]),
        dropout=float(params["dropout"]),
        num_layers=num_layers,
    )


def hash_heads(dims: Mapping[str, int], hidden: int, bits: int, dropout: float) -> nn.ModuleDict:
    """One UCMFH hash head per modality (separate weights), built image first."""
    return nn.ModuleDict({m: HashHead(dims[m], hidden, bits, dropout) for m in MODALITIES})


class PairFusedMethod(Method):
    """A method whose network reads an image-text pair; `strict = True` encodes a modality
    without its partner (the partner is the mean training feature)."""

    strict = False

    def __init__(self, context: MethodContext) -> None:
        super().__init__(context)
        self.dims = feature_dims(context, self.info.name)
        #: the strict variant's stand-in for an absent partner: mean training feature per modality
        self.fill: dict[str, torch.Tensor] = {}
        self.loss_history: dict[str, list[float]] = {}

    def training_pairs(self, train: TrainData) -> dict[str, torch.Tensor]:
        """The training features on the device; sets the partner means (`fill`)."""
        x = training_features(train, self.device, self.info.name)
        self.fill = {m: v.mean(0) for m, v in x.items()}
        return x

    def inference_fill(self) -> dict[str, torch.Tensor] | None:
        """The partner means where encoding uses them (strict), else None."""
        return self.fill if self.strict else None

    def pair(self, modality: str, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """{"image", "text"} to encode `modality`: its partner from `inputs`, or (strict) the
        partner mean."""
        return pair_inputs(
            modality,
            inputs,
            fill=self.inference_fill(),
            device=self.device,
            method=self.info.name,
        )

    def token(self, modality: str, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """concat(image, text) of the pair that encodes `modality`."""
        pair = self.pair(modality, inputs)
        return torch.cat([pair["image"], pair["text"]], 1)

    def halves(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A fused output's image half (the first `dims["image"]` columns) and text half."""
        d = self.dims["image"]
        return z[:, :d], z[:, d:]


class PartnerFill(nn.Module):
    """Base of a pair network's inference model: with `fill`, the partner means as buffers
    `fill_image` and `fill_text`; `strict` says whether encoding uses them."""

    def __init__(self, fill: Mapping[str, torch.Tensor] | None, strict: bool) -> None:
        super().__init__()
        self.strict = strict
        if fill is not None:
            self.register_buffer("fill_image", fill["image"].detach().clone())
            self.register_buffer("fill_text", fill["text"].detach().clone())


class FusedPairInference(PartnerFill):
    """The fusion transformer's halves of a batch of pairs, through the STOCK transformer
    (query/key projections and attention included, so operation counts are comparable with
    published figures). Pair-fused: one pass per pair; strict: the image half from (image,
    mean text) and the text half from (mean image, text), two passes."""

    def __init__(
        self,
        fusion: nn.Module,
        split: int,
        fill: Mapping[str, torch.Tensor] | None,
        strict: bool,
    ) -> None:
        super().__init__(fill, strict)
        self.fusion, self.split = fusion, split

    def fused_halves(
        self, image: torch.Tensor, text: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        d, n = self.split, image.shape[0]
        if self.strict:
            z_img = self.fusion.forward_stock(torch.cat([image, self.fill_text.expand(n, -1)], 1))
            z_txt = self.fusion.forward_stock(torch.cat([self.fill_image.expand(n, -1), text], 1))
            return z_img[:, :d], z_txt[:, d:]
        z = self.fusion.forward_stock(torch.cat([image, text], 1))
        return z[:, :d], z[:, d:]


class TwoRateAdam:
    """Adam (betas `adam_betas`, no weight decay) at `lr_fusion` for the fusion parameters and
    at `lr_hash` for the rest, whose MultiStepLR (`lr_milestones`, `lr_gamma`) is stepped once
    per ITERATION, as in UCMFH's reference code. `lrs` records the rest's learning rate used at
    each iteration (host floats, no device sync)."""

    def __init__(
        self, fusion: Iterable[nn.Parameter], rest: Iterable[nn.Parameter], params: Mapping
    ) -> None:
        betas = tuple(float(b) for b in params["adam_betas"])
        self.fusion = make_adam(fusion, float(params["lr_fusion"]), betas)
        self.rest = make_adam(rest, float(params["lr_hash"]), betas)
        self.schedule = torch.optim.lr_scheduler.MultiStepLR(
            self.rest,
            milestones=[int(m) for m in params["lr_milestones"]],
            gamma=float(params["lr_gamma"]),
        )
        self.lrs: list[float] = []

    def step(self, loss: torch.Tensor) -> None:
        """One update of both parameter sets from `loss`, then the schedule's step."""
        self.fusion.zero_grad(set_to_none=True)
        self.rest.zero_grad(set_to_none=True)
        loss.backward()
        self.fusion.step()
        self.rest.step()
        self.lrs.append(self.rest.param_groups[0]["lr"])
        self.schedule.step()
