"""DGCPN: Deep Graph-neighbor Coherence Preserving Network (Yu et al., AAAI 2021).

Read: Atmegal/DGCPN @9f62c56 (train.py, train_div.py, models.py, load_data.py, metric.py).

Faithful to the released code:

- Two hash networks, no shared weights. Image: Linear(d_img, 4096) -> ReLU -> Dropout 0.5 ->
  Linear(4096, bits) -> tanh. Text: the same on d_txt, its last layer's weight drawn from
  N(0, 0.3) (the released init); PyTorch defaults elsewhere. tanh scale alpha stays 1 (the
  released `set_alpha` calls are commented out). Code = sign of the eval-mode output.
- Similarity over the WHOLE training set, from the L2-normalised features: S_pair = a1 S_T +
  (1 - a1) S_I (cosine matrices); the graph-neighbour term zeroes, per row, all but the k
  largest entries of that mix and then the largest one (normally the item itself), divides
  each row by its sum (P) and takes scale * P P^T. S = 2 [(1 - a2) S_pair + a2 scale P P^T] - 1.
- Loss on a batch, with B the L2-normalised relaxed codes: MSE(diag(B_I B_T^T), K = 1.5) +
  dw [MSE of B_T B_T^T, B_I B_T^T, B_I B_I^T against S, diagonals masked to 0] + cw [the
  cross-modal consistency MSEs: B_I B_T^T vs B_I B_I^T, vs B_T B_T^T, B_I B_I^T vs B_T B_T^T,
  B_I B_T^T vs its transpose].
- Three updates per batch, as released: both networks on the loss; then, after a fresh forward
  pass, the image network against sign(text codes) (detached), then the text network against
  sign(image codes) of that same pass.
- SGD, lr 0.005, momentum 0.9, weight decay 5e-4 (one optimiser per network); batch 32,
  shuffled, the last incomplete batch kept; a1 = 0.01, a2 = 0.3, K = 1.5, dw = cw = 1;
  up to 100 epochs (the `paper` budget runs all 100).
- Parameters with 512-d image and text features: 2 x (512*4096 + 4096 + 4096*bits + bits),
  i.e. 4,333,600 / 4,464,704 / 4,726,912 / 5,251,328 at 16 / 32 / 64 / 128 bits. (The released
  code builds a third network, `FeatNet_I`, that is never used nor trained: not built here.)

Adapted, and why:

- Input width: the released networks read VGG-19 fc7 (4096-d) and BoW tags (1386-d on
  MIRFlickr); here they read the 512-d CLIP-like features, nothing else changes.
- The kNN size. The released `knn_number` is the count of SMALLEST entries zeroed per row
  (3000 for MIRFlickr and NUS-WIDE, whose training sets are 5000 pairs: the paper's k = 2000).
  An absolute count breaks on other training sizes (at 1000 pairs it zeroes every entry), so
  here k = round(knn_fraction * n) with knn_fraction = 0.4, and scale = scale_per_knn * k with
  scale_per_knn = 2 (P's rows hold about k entries of about 1/k, so P P^T shrinks like 1/k).
  At n = 5000, the synthetic twins' full size, both equal the released 3000 / 4000 exactly.
  Neighbours are chosen with `topk` instead of a full sort (the same set up to ties) so that
  memory stays at a few n x n float matrices.
- Released quirks not reproduced: model selection by early stopping (patience 10) on the mAP
  of a separate LABELLED validation split, and a test log that prints "MAP@50" while computing
  a top-5 precision. The harness never lets a method see labels or scores: the model after the
  last epoch is the one evaluated, with the harness's own metrics. `hashbench run --protocol
  as-released` reproduces the selection in the harness, with the first 2,000 labelled retrieval
  items standing in for the unreleased validation split; it stops after 11 evaluations in a row
  without improvement (the released `num_epoch > 10`). The per-batch "mAP" the
  released loop logs (of S against the labels) is diagnostic only and not computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import hashbench
from hashbench import Method, MethodContext, MethodInfo, TrainData

from . import _ranges
from ._crossmodal_common import (
    LossLog,
    TowerCodes,
    feature_dims,
    parameter_total,
    planned_epochs,
    run_epochs,
    training_features,
)

REFERENCE = (
    "Yu et al., AAAI 2021 (Deep Graph-neighbor Coherence Preserving Network for Unsupervised "
    "Cross-modal Hashing); https://github.com/Atmegal/DGCPN"
)


class DGCPNNet(nn.Module):
    """One modality's released hash network: Linear -> ReLU -> Dropout -> Linear -> tanh."""

    def __init__(self, in_dim: int, hidden: int, bits: int, dropout: float, head_std: float | None):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc_encode = nn.Linear(hidden, bits)
        self.dropout = nn.Dropout(dropout)
        if head_std is not None:  # the released text net: N(0, 0.3) on the code layer's weight
            nn.init.normal_(self.fc_encode.weight, mean=0.0, std=head_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc_encode(self.dropout(F.relu(self.fc1(x)))))


def graph_similarity(
    x_img: torch.Tensor, x_txt: torch.Tensor, *, a1: float, a2: float, knn: int, scale: float
) -> torch.Tensor:
    """DGCPN's target similarity over n items, in [-1, 1]-ish: 2 [(1-a2) S_pair + a2 G] - 1.

    S_pair = a1 cos(text) + (1 - a1) cos(image). G = scale * P P^T, where row i of P keeps the
    `knn` largest entries of S_pair's row minus the very largest (the item itself, normally),
    divided by their sum.
    """
    s_pair = a1 * _cos(x_txt) + (1.0 - a1) * _cos(x_img)
    n = s_pair.shape[0]
    knn = max(2, min(int(knn), n))
    values, idx = s_pair.topk(knn, dim=1)
    values[:, 0] = 0.0  # the released code also zeroes each row's largest entry
    p = torch.zeros_like(s_pair).scatter_(1, idx, values)
    p = p / p.sum(1, keepdim=True)
    s = (1.0 - a2) * s_pair + a2 * scale * (p @ p.T)
    return s * 2.0 - 1.0


def _cos(x: torch.Tensor) -> torch.Tensor:
    x = F.normalize(x, dim=1)
    return x @ x.T


def dgcpn_loss(
    code_img: torch.Tensor,
    code_txt: torch.Tensor,
    s: torch.Tensor,
    *,
    k: float,
    dw: float,
    cw: float,
) -> torch.Tensor:
    """The released `loss_cal`: pair term + dw x distance terms + cw x consistency terms."""
    b_i, b_t = F.normalize(code_img, dim=1), F.normalize(code_txt, dim=1)
    ii, tt, it = b_i @ b_i.T, b_t @ b_t.T, b_i @ b_t.T
    off = 1.0 - torch.eye(s.shape[0], device=s.device, dtype=s.dtype)
    loss_pair = F.mse_loss(it.diagonal(), torch.full_like(it.diagonal(), k))
    target = s * off
    loss_dis = sum(F.mse_loss(m * off, target) for m in (tt, it, ii))
    loss_cons = F.mse_loss(it, ii) + F.mse_loss(it, tt) + F.mse_loss(ii, tt) + F.mse_loss(it, it.T)
    return loss_pair + dw * loss_dis + cw * loss_cons


class DGCPN(TowerCodes, Method):
    info = MethodInfo(
        name="dgcpn",
        display_name="DGCPN",
        reference=REFERENCE,
        summary="graph-neighbour coherence: code similarities fit a kNN-graph + pairwise mix",
        supervision="unsupervised",
        tasks=("cross-modal",),
        spiking=False,
    )

    # The released code's model selection (`hashbench run --protocol as-released`). Its
    # labelled validation split was never released: the first 2,000 retrieval items stand in.
    released_selection = hashbench.ReleasedSelection(
        source="Atmegal/DGCPN @9f62c56 train.py main(), train_div.py eval()",
        split="retrieval-head",
        size=2000,
        every=1,
        released_epochs=100,
        metric="map@all",
        keeps="best",
        patience=11,
        note="mAP over the full ranking of a labelled validation split every epoch (the "
        "harness's stand-in: the first 2,000 retrieval items); best kept; stops after 11 "
        "evaluations without improvement",
    )

    default_params: Mapping[str, Any] = {
        "epochs": 100,
        "min_iterations": 0,
        "batch_size": 32,
        "lr": 0.005,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "a1": 0.01,
        "a2": 0.3,
        "knn_fraction": 0.4,
        "scale_per_knn": 2.0,
        "pair_target": 1.5,
        "dw": 1.0,
        "cw": 1.0,
        "hidden": 4096,
        "dropout": 0.5,
        "text_head_std": 0.3,
    }
    budget_params: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "quick": {"epochs": 12, "min_iterations": 600},
    }
    test_params: Mapping[str, Any] = {"epochs": 1, "min_iterations": 0, "hidden": 64}
    param_ranges: Mapping[str, Any] = {
        "epochs": _ranges.EPOCHS,
        "min_iterations": _ranges.ITERATIONS,
        "batch_size": _ranges.BATCH,
        "hidden": _ranges.WIDTH,
        "dropout": _ranges.FRACTION,
        "lr": hashbench.Float(1e-9, None),
        "momentum": _ranges.FRACTION,
        "weight_decay": hashbench.Float(0.0, None),
        "a1": _ranges.FRACTION,
        "a2": _ranges.FRACTION,
        "knn_fraction": _ranges.FRACTION,
        "scale_per_knn": hashbench.Float(0.0, None),
        "pair_target": hashbench.Float(0.0, None),
        "dw": hashbench.Float(0.0, None),
        "cw": hashbench.Float(0.0, None),
        "text_head_std": hashbench.Float(0.0, None),
    }
    # The knobs train.py exposes (and the paper's sensitivity study: alpha/beta weights, k, a2).
    search_space: Mapping[str, Any] = {
        "lr": hashbench.Float(1e-3, 2e-2, log=True),
        "a2": hashbench.Float(0.1, 0.6),
        "knn_fraction": hashbench.Float(0.2, 0.6),
        "dw": hashbench.Float(0.3, 3.0, log=True),
        "cw": hashbench.Float(0.3, 3.0, log=True),
        "epochs": hashbench.UpToBudget(2),
    }

    def __init__(self, context: MethodContext) -> None:
        super().__init__(context)
        p = self.params
        dims = feature_dims(context, self.info.name)
        hidden, dropout = int(p["hidden"]), float(p["dropout"])
        self.nets = nn.ModuleDict(
            {
                "image": DGCPNNet(dims["image"], hidden, self.bits, dropout, None),
                "text": DGCPNNet(
                    dims["text"], hidden, self.bits, dropout, float(p["text_head_std"])
                ),
            }
        ).to(self.device)
        self.loss_history: dict[str, list[float]] = {}

    def num_parameters(self) -> int:
        return parameter_total(self.nets)

    def similarity(self, x_img: torch.Tensor, x_txt: torch.Tensor) -> torch.Tensor:
        p = self.params
        knn = round(float(p["knn_fraction"]) * x_img.shape[0])
        return graph_similarity(
            x_img,
            x_txt,
            a1=float(p["a1"]),
            a2=float(p["a2"]),
            knn=knn,
            scale=float(p["scale_per_knn"]) * knn,
        )

    def fit(self, train: TrainData) -> None:
        p = self.params
        x = training_features(train, self.device, self.info.name)
        x_img, x_txt = x["image"], x["text"]
        s_all = self.similarity(x_img, x_txt)
        epochs = planned_epochs(p, train.size, drop_last=False)
        net_i, net_t = self.nets["image"], self.nets["text"]
        opt = {
            m: torch.optim.SGD(
                self.nets[m].parameters(),
                lr=float(p["lr"]),
                momentum=float(p["momentum"]),
                weight_decay=float(p["weight_decay"]),
            )
            for m in ("image", "text")
        }
        weights = {"k": float(p["pair_target"]), "dw": float(p["dw"]), "cw": float(p["cw"])}
        log = LossLog(("loss",), epochs, self.device)

        def step(idx: torch.Tensor) -> tuple[torch.Tensor]:
            img, txt = x_img[idx], x_txt[idx]
            s = s_all[idx][:, idx]
            loss = dgcpn_loss(net_i(img), net_t(txt), s, **weights)
            opt["image"].zero_grad(set_to_none=True)
            opt["text"].zero_grad(set_to_none=True)
            loss.backward()
            opt["image"].step()
            opt["text"].step()
            # alternate steps against the other modality's binary codes (fresh forward pass)
            code_i, code_t = net_i(img), net_t(txt)
            loss_i = dgcpn_loss(code_i, code_t.sign().detach(), s, **weights)
            opt["image"].zero_grad(set_to_none=True)
            loss_i.backward()
            opt["image"].step()
            loss_t = dgcpn_loss(code_i.sign().detach(), code_t, s, **weights)
            opt["text"].zero_grad(set_to_none=True)
            loss_t.backward()
            opt["text"].step()
            return (loss,)

        self.nets.train()
        run_epochs(self, log, train.size, step, drop_last=False, loss="loss")
        self.nets.eval()
        self.loss_history = log.history()


@hashbench.hookimpl
def hashbench_register_methods() -> list[type[Method]]:
    return [DGCPN]
