"""Spikinghash's training objective and schedule: the pairwise losses (the paper's DPSH form
and the released code's class-balanced one), label smoothing, the dynamic soft similarity
matrix and its rounds, and the optimisers (the plugin's AdamW + per-step cosine; the released
code's timm AdamP + per-epoch warm-up / cosine / cooldown).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def pairwise_loss(codes: torch.Tensor, similarity: torch.Tensor) -> torch.Tensor:
    """Mean over pairs of log(1 + e^theta) - m theta, theta = <b_i, b_j> / 2 (DPSH form)."""
    theta = codes @ codes.T / 2.0
    return (F.softplus(theta) - similarity * theta).mean()


def balanced_pairwise_loss(codes: torch.Tensor, similarity: torch.Tensor) -> torch.Tensor:
    """The released code's class-balanced pairwise loss (my_loss_soft.py @2cbb40e, hash_loss).

    Per pair l_ij = log(1 + e^theta) - m_ij theta, theta = <b_i, b_j> / 2. Pairs with m_ij
    exactly 1 are positives, the others negatives; with S1 = #positives - B (the diagonal is
    assumed positive, as the released code assumes) and S0 = #negatives (each 1 when 0),
    S = S0 + S1, positives are weighted S / S1 and negatives S / S0. The diagonal is then
    dropped and the sum over the B(B-1)/2 unordered pairs divided by their number.
    """
    b = len(codes)
    theta = codes @ codes.T / 2.0
    pair = F.softplus(theta) - similarity * theta
    positive = similarity == 1
    s1 = float(positive.sum()) - b
    s0 = float((~positive).sum())
    s1, s0 = s1 or 1.0, s0 or 1.0
    total = s0 + s1
    pair = pair * torch.where(positive, total / s1, total / s0)
    off_diagonal = ~torch.eye(b, dtype=torch.bool, device=codes.device)
    return (pair * off_diagonal).sum() / 2.0 / (b * (b - 1) / 2.0)


def smoothed_targets(target: torch.Tensor, smoothing: float) -> torch.Tensor:
    """(1 - s) target + s / K: label smoothing (the released code's timm
    LabelSmoothingCrossEntropy(0.1) is cross-entropy against these for one-hot targets)."""
    if not smoothing:
        return target
    return target * (1.0 - smoothing) + smoothing / target.shape[1]


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


def soft_similarity_rounds(
    p: Mapping[str, Any], classes: int, epochs: int, device: torch.device
) -> tuple[SoftSimilarity, set[int]]:
    """The soft similarity matrix and the epochs that end its rounds, from the parameters."""
    similarity = SoftSimilarity(classes, float(p["soft_threshold"]), device)
    ends = round_ends(epochs, int(p["soft_start"]), int(p["round_epochs"]), int(p["final_rounds"]))
    return similarity, ends


def adamw_cosine(parameters, p: Mapping[str, Any], steps: int):
    """Spikinghash's optimiser: AdamW (`lr`, `weight_decay`) with cosine decay over `steps`."""
    opt = torch.optim.AdamW(parameters, lr=float(p["lr"]), weight_decay=float(p["weight_decay"]))
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))


class Schedule:
    """The optimiser and when its learning rate moves: `step()` after every batch,
    `epoch_done(e)` after every epoch; `total_epochs` is how long training runs."""

    def __init__(self, net: nn.Module, p: Mapping[str, Any], batches_per_epoch: int) -> None:
        epochs, self.cooldown = int(p["epochs"]), int(p["cooldown_epochs"])
        self.total_epochs = epochs + self.cooldown
        self.per_epoch = p["optimizer"] == "adamp"
        if not self.per_epoch:  # the plugin's: AdamW, cosine per step over every step
            self.opt, self._sched = adamw_cosine(
                net.parameters(), p, self.total_epochs * batches_per_epoch
            )
            return
        # the released train.py (timm 0.x): create_optimizer_v2(opt="adamp") -- no weight
        # decay on biases and 1-D parameters -- and a per-epoch cosine with linear warm-up
        # from `warmup_lr`, to `min_lr` at `epochs`, then `cooldown_epochs` at `min_lr`
        from timm.optim import create_optimizer_v2
        from timm.scheduler import CosineLRScheduler

        self.opt = create_optimizer_v2(
            net, opt="adamp", lr=float(p["lr"]), weight_decay=float(p["weight_decay"])
        )
        self._sched = CosineLRScheduler(
            self.opt,
            t_initial=epochs,
            lr_min=float(p["min_lr"]),
            warmup_t=int(p["warmup_epochs"]),
            warmup_lr_init=float(p["warmup_lr"]),
            cycle_limit=1,
            t_in_epochs=True,
        )
        self._sched.step(0)

    def step(self) -> None:
        self.opt.step()
        if not self.per_epoch:
            self._sched.step()

    def epoch_done(self, epoch: int) -> None:
        if self.per_epoch:
            self._sched.step(epoch + 1)

    def lr(self) -> float:
        return float(self.opt.param_groups[0]["lr"])
