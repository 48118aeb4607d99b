"""What DJSRH and JDSH share (JDSH's released code grew out of DJSRH's): networks, similarity
matrices and the training loop, on precomputed features.

- `djsrh_joint_semantics`: DJSRH's joint-semantics matrix (DDSS-like reuses it).
- `jdsh_joint_similarity`: JDSH's joint-modal similarity with its distribution-based weighting.
- `ImageHashLayer`, `TextHashNet`: the released hash head (one Linear) and text MLP
  (Linear -> ReLU -> Linear), both ending in tanh(alpha * h) with alpha = sqrt(epoch + 1).
- `PairHashMethod`: the shared body (two SGD optimisers, batches of a shuffled epoch with the
  last incomplete one dropped, alpha set per epoch, codes = sign of the pre-tanh output).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from hashbench import Method, MethodContext, TrainData

from ._crossmodal_common import (
    LossLog,
    TwoTowerInference,
    cosine_matrix,
    feature_dims,
    parameter_total,
    planned_epochs,
    run_epochs,
    to_codes,
    training_features,
)


def djsrh_joint_semantics(
    f_img: torch.Tensor, f_txt: torch.Tensor, beta: float, eta: float = 0.4, mu: float = 1.5
) -> torch.Tensor:
    """DJSRH's joint-semantics matrix mu * ((1 - eta) S~ + eta S~ S~^T / n).

    S~ = beta S_I + (1 - beta) S_T, each S = 2 cos - 1 of a modality's features. The released
    code divides by its batch size; with the last incomplete batch dropped that is n.
    """
    s_img = 2 * cosine_matrix(f_img) - 1
    s_txt = 2 * cosine_matrix(f_txt) - 1
    s = beta * s_img + (1 - beta) * s_txt
    return mu * ((1 - eta) * s + eta * (s @ s.T) / s.shape[0])


def jdsh_joint_similarity(f_img: torch.Tensor, f_txt: torch.Tensor, p: Mapping) -> torch.Tensor:
    """JDSH's joint-modal similarity, with its distribution-based sample weighting.

    S = a S_I + b S_T + l (H + H^T) / 2, H = norm_rows(S_I) norm_rows(S_T)^T (the high-order
    term). Pairs in the left tail (S < loc_left - k_left * scale_left: dissimilar) are scaled
    by 1 + w_left exp(-(S - s_min)); then pairs in the right tail (S > loc_right + k_right *
    scale_right: similar), judged on the already re-weighted matrix as the released code does,
    by 1 + w_right exp(S - s_max). The result is multiplied by mu.
    """
    s_img = 2 * cosine_matrix(f_img) - 1
    s_txt = 2 * cosine_matrix(f_txt) - 1
    high = cosine_matrix(s_img, s_txt)
    s = p["sim_alpha"] * s_img + p["sim_beta"] * s_txt + p["sim_lambda"] * (high + high.T) / 2
    left = p["loc_left"] - p["k_left"] * p["scale_left"]
    right = p["loc_right"] + p["k_right"] * p["scale_right"]
    s = torch.where(s < left, (1 + p["w_left"] * torch.exp(-(s - p["s_min"]))) * s, s)
    s = torch.where(s > right, (1 + p["w_right"] * torch.exp(s - p["s_max"])) * s, s)
    return p["mu"] * s


def epoch_alpha(epoch: int) -> float:
    """The tanh sharpness of both released networks in epoch `epoch` (from 0): sqrt(epoch + 1)."""
    return math.pow(epoch + 1.0, 0.5)


class ImageHashLayer(nn.Module):
    """The released image network's trainable hash layer, here on the precomputed features."""

    def __init__(self, in_dim: int, bits: int) -> None:
        super().__init__()
        self.hash_layer = nn.Linear(in_dim, bits)
        self.alpha = 1.0

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return self.hash_layer(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.alpha * self.hidden(x))


class TextHashNet(nn.Module):
    """The released text network: Linear(d, hidden) -> ReLU -> Linear(hidden, bits) -> tanh."""

    def __init__(self, in_dim: int, hidden: int, bits: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, bits))
        self.alpha = 1.0

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.alpha * self.hidden(x))


class PairHashMethod(Method):
    """The DJSRH / JDSH body; subclasses give `similarity` and `loss` (and `info`, params).

    Params used here: epochs, min_iterations, batch_size, text_hidden, lr_image, lr_text,
    momentum, weight_decay.
    """

    def __init__(self, context: MethodContext) -> None:
        super().__init__(context)
        self.dims = feature_dims(context, self.info.name)
        hidden = int(self.params["text_hidden"])
        self.nets = nn.ModuleDict(
            {
                "image": ImageHashLayer(self.dims["image"], self.bits),
                "text": TextHashNet(self.dims["text"], hidden, self.bits),
            }
        ).to(self.device)
        self.loss_history: dict[str, list[float]] = {}

    def num_parameters(self) -> int:
        return parameter_total(self.nets)

    def similarity(self, f_img: torch.Tensor, f_txt: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss(
        self, b_img: torch.Tensor, b_txt: torch.Tensor, s: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """(total, *parts) for one batch; b_* are the networks' tanh outputs."""
        raise NotImplementedError

    loss_names: tuple[str, ...] = ("total",)

    def _sgd(self, module: nn.Module, lr: float) -> torch.optim.SGD:
        p = self.params
        return torch.optim.SGD(
            module.parameters(),
            lr=lr,
            momentum=float(p["momentum"]),
            weight_decay=float(p["weight_decay"]),
        )

    def fit(self, train: TrainData) -> None:
        p = self.params
        x = training_features(train, self.device, self.info.name)
        epochs = planned_epochs(p, train.size, drop_last=True)
        opt_img = self._sgd(self.nets["image"], float(p["lr_image"]))
        opt_txt = self._sgd(self.nets["text"], float(p["lr_text"]))
        log = LossLog(self.loss_names, epochs, self.device)

        def set_alpha(epoch: int) -> None:
            for net in self.nets.values():
                net.alpha = epoch_alpha(epoch)

        def step(idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
            f_img, f_txt = x["image"][idx], x["text"][idx]
            with torch.no_grad():
                s = self.similarity(f_img, f_txt)
            losses = self.loss(self.nets["image"](f_img), self.nets["text"](f_txt), s)
            opt_img.zero_grad(set_to_none=True)
            opt_txt.zero_grad(set_to_none=True)
            losses[0].backward()
            opt_img.step()
            opt_txt.step()
            return losses

        self.nets.train()
        run_epochs(self, log, train.size, step, drop_last=True, before_epoch=set_alpha)
        self.nets.eval()
        self.loss_history = log.history()

    def inference_model(self) -> nn.Module:
        return TwoTowerInference(self.nets)

    @torch.no_grad()
    def encode(self, modality: str, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        self.nets.eval()
        x = inputs[modality].to(self.device, torch.float32)
        # sign(tanh(alpha h)) = sign(h): the released codes, without tanh's saturation to 0.
        return to_codes(self.nets[modality].hidden(x))
