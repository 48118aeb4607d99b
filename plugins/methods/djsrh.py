"""DJSRH: Deep Joint-Semantics Reconstructing Hashing (Su, Zhong and Zhang, ICCV 2019).

Re-implemented from the released code, zs-zhong/DJSRH @6041c2d (settings.py, models.py,
train.py, metric.py), read line by line; no line copied.

Faithful:
- Joint-semantics matrix per batch: S_I = 2 cos(F_I) - 1 and S_T = 2 cos(F_T) - 1 of the
  image and text features, S~ = beta S_I + (1 - beta) S_T, S = mu ((1 - eta) S~ + eta S~ S~^T
  / batch). mu 1.5, eta 0.4; beta 0.9 (MIRFlickr), 0.6 (NUS-WIDE). Computed without gradient.
- Loss: with B_I, B_T the row-normalised network outputs, lambda1 MSE(B_I B_I^T, S) +
  MSE(B_I B_T^T, S) + lambda2 MSE(B_T B_T^T, S); lambda1 = lambda2 = 0.1.
- Networks: the image hash layer Linear(d_img, bits) and the text MLP Linear(d_txt, 4096) ->
  ReLU -> Linear(4096, bits), both followed by tanh(alpha h) with alpha = sqrt(epoch + 1)
  (set at the start of each epoch). Codes: sign of the output (sign(0) -> +1 here).
- SGD, momentum 0.9, weight decay 5e-4; lr 0.001 (image) and 0.01 (text); batch 32, shuffled,
  last incomplete batch dropped; 80 epochs (MIRFlickr and NUS-WIDE); the model after the last
  epoch is the one kept (the released code saves it then; its evaluations every 40 epochs only
  log). The released seed (1) is not copied: the harness seeds every run. `hashbench run
  --protocol as-released` reproduces that selection (the evaluations are scored by the harness
  and logged in the record; the last model is kept, so its codes are the default run's).

Adapted, and why:
- CLIP features, as UCMFH's paper ran DJSRH (its Tables 4-5). The released image network is
  AlexNet trained end to end (a frozen second copy gives F_I, its fc7 features); here the image
  network is the released hash head alone on the precomputed 512-d image features, and F_I is
  those features. The text side is the released MLP on the text features (CLIP's here, BoW in
  the release). With 512-d inputs: 2,101,248 + 4,610 x bits parameters (see docs/methods.md).
- MS COCO has no released setting: it uses NUS-WIDE's (beta 0.6), the other large multi-label
  set. The released WIKI setting (lambda 0.3, lr 0.01) is not a harness protocol.

Released quirks not reproduced (protocol, not method; the harness owns the protocol): the
split is an unseeded, label-driven permutation (not reproducible); mAP@50 is computed with
`np.argsort` (ties in no fixed order). The harness uses its own seeded splits and metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

import hashbench
from hashbench import Method, MethodInfo

from . import _ranges
from ._djsrh_family import PairHashMethod, djsrh_joint_semantics

REFERENCE = (
    "Su et al., ICCV 2019 (Deep Joint-Semantics Reconstructing Hashing for Large-Scale "
    "Unsupervised Cross-Modal Retrieval); https://github.com/zs-zhong/DJSRH"
)


def djsrh_loss(
    b_img: torch.Tensor, b_txt: torch.Tensor, s: torch.Tensor, lambda1: float, lambda2: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, image-image, image-text, text-text): MSE of cosine code similarities to S."""
    u, v = F.normalize(b_img, dim=1), F.normalize(b_txt, dim=1)
    l_ii = F.mse_loss(u @ u.T, s)
    l_it = F.mse_loss(u @ v.T, s)
    l_tt = F.mse_loss(v @ v.T, s)
    return lambda1 * l_ii + l_it + lambda2 * l_tt, l_ii, l_it, l_tt


class DJSRH(PairHashMethod):
    info = MethodInfo(
        name="djsrh",
        display_name="DJSRH",
        reference=REFERENCE,
        summary="hash layer + text MLP reconstructing a joint-semantics matrix (released code, "
        "on CLIP features)",
        supervision="unsupervised",
        tasks=("cross-modal",),
        spiking=False,
    )
    loss_names = ("total", "image_image", "image_text", "text_text")

    # The released code's model selection (`hashbench run --protocol as-released`).
    released_selection = hashbench.ReleasedSelection(
        source="zs-zhong/DJSRH @6041c2d train.py main(), settings.py",
        split="test",
        every=40,
        released_epochs=80,
        metric="map@50",
        keeps="last",
        note="mAP@50 of the test queries every 40 of 80 epochs, only logged; the last epoch is "
        "kept",
    )

    default_params: Mapping[str, Any] = {
        "epochs": 80,
        "min_iterations": 0,
        "batch_size": 32,
        "text_hidden": 4096,
        "lr_image": 0.001,
        "lr_text": 0.01,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "beta": 0.9,
        "eta": 0.4,
        "mu": 1.5,
        "lambda1": 0.1,
        "lambda2": 0.1,
    }
    dataset_params: Mapping[str, Mapping[str, Any]] = {
        "mirflickr": {"beta": 0.9},
        "nuswide": {"beta": 0.6},
        "mscoco": {"beta": 0.6},
    }
    budget_params: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "quick": {"epochs": 45, "min_iterations": 1400},
    }
    #: conformance checks only (hashbench.testing): one short epoch, the contract not quality
    test_params: Mapping[str, Any] = {"epochs": 1, "min_iterations": 0, "text_hidden": 64}
    param_ranges: Mapping[str, Any] = {
        "epochs": _ranges.EPOCHS,
        "min_iterations": _ranges.ITERATIONS,
        "batch_size": _ranges.BATCH,
        "text_hidden": _ranges.WIDTH,
        "lr_image": hashbench.Float(0.0, None),
        "lr_text": hashbench.Float(0.0, None),
        "momentum": _ranges.FRACTION,
        "weight_decay": hashbench.Float(0.0, None),
        "beta": _ranges.FRACTION,
        "eta": _ranges.FRACTION,
        "mu": hashbench.Float(0.0, None),
        "lambda1": hashbench.Float(0.0, None),
        "lambda2": hashbench.Float(0.0, None),
    }
    #: the knobs settings.py exposes
    search_space: Mapping[str, Any] = {
        "beta": hashbench.Float(0.3, 1.0),
        "eta": hashbench.Float(0.0, 0.8),
        "mu": hashbench.Float(1.0, 2.0),
        "lambda1": hashbench.Float(0.01, 1.0, log=True),
        "lambda2": hashbench.Float(0.01, 1.0, log=True),
        "lr_image": hashbench.Float(1e-4, 1e-2, log=True),
        "lr_text": hashbench.Float(1e-3, 1e-1, log=True),
        "epochs": hashbench.UpToBudget(2),
    }

    def similarity(self, f_img: torch.Tensor, f_txt: torch.Tensor) -> torch.Tensor:
        p = self.params
        return djsrh_joint_semantics(
            f_img, f_txt, float(p["beta"]), float(p["eta"]), float(p["mu"])
        )

    def loss(self, b_img, b_txt, s):
        p = self.params
        return djsrh_loss(b_img, b_txt, s, float(p["lambda1"]), float(p["lambda2"]))


@hashbench.hookimpl
def hashbench_register_methods() -> list[type[Method]]:
    return [DJSRH]
