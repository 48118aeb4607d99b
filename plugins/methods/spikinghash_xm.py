"""Spikinghash-XM: an ADAPTATION of Spikinghash's hash layer and loss to unsupervised
cross-modal hashing on CLIP features. It is not a published method; read its numbers as
"Spikinghash's objective, transplanted", not as Spikinghash's.

What is taken from Spikinghash (plugins/spikinghash.py, the same code):

- the spiking hash layer: Linear -> LIF (tau 2, threshold 0.2), bit = 1 only when the neuron
  fires at every time step (AND over time), and the time-averaged charge as hash feature h;
- the loss: beta x cross-entropy of a classifier on the hash spike rate + alpha x the DPSH-form
  pairwise loss on the AND codes with soft pair labels from the dynamic soft similarity
  matrix, rebuilt in rounds (same schedule rules and `soft_threshold`).

What the adaptation chooses (none of it is in the Spikinghash paper):

- Pseudo-labels instead of labels: k-means (`clusters`, k-means++ initialisation, seeded) on
  the training pairs' concatenated [image, text] features, each modality mean-centred and
  L2-normalised first, so a cluster is a group of pairs and both halves of a pair share one
  pseudo-label. `clusters` (32) over-segments on purpose: the soft similarity learns which
  clusters are close, which is what the dynamic soft similarity is for.
- A backbone for feature vectors instead of images: per modality, the feature is repeated
  over T steps (`time_steps`, 4, Spikinghash's value for static inputs); Linear + BN (computed
  once: the input is the same at every step) -> LIF -> Linear + BN -> LIF -> hash layer. LIF
  neurons as Spikinghash's (tau 1.75, detached reset). `hidden` = 512 (small enough for a
  2-core CPU: spikingjelly's multi-step LIF is the cost there).
- One classifier shared by both modalities (so image and text codes are pushed to the same
  pseudo-classes), the cross-entropy averaged over the two modalities, and the pairwise loss
  over the batch's 2B codes of both modalities together (so image-text pairs are terms too).
- Weights alpha 0.2, beta 0.8 (Spikinghash's values for static images, CIFAR-10); soft
  similarity on. AdamW, lr 1e-3, weight decay 0.01, cosine decay, batch 128; 50 epochs
  (`paper` budget; there is no paper for it: this is the longer schedule), 10 (`quick`, with
  at least 100 iterations on a small training split, as the other quick budgets).

Each modality is encoded alone (not pair-fused).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from hashbench_plugins.methods._crossmodal_common import epochs_to_run
from hashbench_plugins.methods._spikinghash_blocks import SpikingHashLayer, lif
from hashbench_plugins.methods._spikinghash_loss import (
    adamw_cosine,
    pairwise_loss,
    soft_similarity_rounds,
)
from hashbench_plugins.methods._spikinghash_net import and_codes
from scipy.cluster.vq import kmeans2
from spikingjelly.activation_based import functional
from torch import nn

import hashbench
from hashbench import Method, MethodInfo, TrainData

from . import _ranges

MODALITIES = ("image", "text")


def pseudo_labels(
    features: Mapping[str, np.ndarray], clusters: int, iterations: int, seed: int
) -> np.ndarray:
    """k-means cluster index (int64, one per pair) of the concatenated, normalised features."""
    parts = []
    for m in MODALITIES:
        x = features[m].astype(np.float64)
        x = x - x.mean(0)
        parts.append(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12))
    data = np.concatenate(parts, axis=1)
    k = min(clusters, len(data))
    _, labels = kmeans2(data, k, iter=iterations, minit="++", rng=np.random.default_rng(seed))
    return labels.astype(np.int64)


class SpikingFeatureEncoder(nn.Module):
    """One modality: feature (B, D) -> (spikes (T, B, bits), hash feature (B, bits))."""

    def __init__(self, dim: int, hidden: int, bits: int, time_steps: int) -> None:
        super().__init__()
        self.time_steps = time_steps
        self.fc1, self.bn1, self.sn1 = nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), lif()
        self.fc2, self.bn2, self.sn2 = nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), lif()
        self.hash = SpikingHashLayer(hidden, bits)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        current = self.bn1(self.fc1(x))  # the same at every step: computed once
        s1 = self.sn1(current.unsqueeze(0).expand(self.time_steps, *current.shape))
        s2 = self.sn2(self.bn2(self.fc2(s1).flatten(0, 1)).unflatten(0, s1.shape[:2]))
        return self.hash(s2)


class XMInference(nn.Module):
    """The inference model: (image, text) features -> their {-1, +1} codes."""

    def __init__(self, encoders: nn.ModuleDict) -> None:
        super().__init__()
        self.encoders = encoders

    def code(self, modality: str, x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(self.encoders[modality])
        spikes, _ = self.encoders[modality](x)
        functional.reset_net(self.encoders[modality])
        return and_codes(spikes)

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.code("image", image), self.code("text", text)


class SpikinghashXM(Method):
    info = MethodInfo(
        name="spikinghash-xm",
        display_name="Spikinghash-XM (adaptation)",
        reference="adaptation of Spikinghash (Mei et al.) to cross-modal hashing; not published",
        summary="Spikinghash's spiking hash layer and soft-similarity loss on CLIP features, "
        "with k-means pseudo-labels (an adaptation)",
        supervision="unsupervised",
        tasks=("cross-modal",),
        spiking=True,
    )
    default_params: Mapping[str, Any] = {
        "time_steps": 4,
        "hidden": 512,
        "clusters": 32,
        "kmeans_iterations": 30,
        "epochs": 50,
        "min_iterations": 0,
        "batch_size": 128,
        "lr": 1e-3,
        "weight_decay": 0.01,
        "alpha": 0.2,
        "beta": 0.8,
        "similarity": "soft",
        "soft_start": 10,
        "round_epochs": 5,
        "final_rounds": 5,
        "soft_threshold": 0.5,
    }
    budget_params: Mapping[str, Mapping[str, Any]] = {
        "quick": {
            "epochs": 10,
            "min_iterations": 100,
            "soft_start": 4,
            "round_epochs": 2,
            "final_rounds": 2,
        },
    }
    test_params: Mapping[str, Any] = {
        "epochs": 1,
        "min_iterations": 0,
        "hidden": 64,
        "clusters": 8,
    }
    #: `hashbench tune` searches these (docs/tuning.md); epochs stay (the rounds follow them)
    param_ranges: Mapping[str, Any] = {
        "epochs": _ranges.EPOCHS,
        "lr": hashbench.Float(1e-9, None),
        "weight_decay": hashbench.Float(0.0, None),
        "alpha": hashbench.Float(0.0, None),
        "beta": hashbench.Float(0.0, None),
        "time_steps": _ranges.TIME_STEPS,
        "hidden": _ranges.WIDTH,
        "clusters": _ranges.WIDTH,
        "kmeans_iterations": _ranges.SOLVER_ITERATIONS,
        "min_iterations": _ranges.ITERATIONS,
        "batch_size": _ranges.BATCH,
        "soft_start": _ranges.ROUNDS,
        "round_epochs": _ranges.ROUNDS,
        "final_rounds": _ranges.ROUNDS,
    }
    search_space: Mapping[str, Any] = {
        "lr": hashbench.Float(1e-4, 1e-2, log=True),
        "weight_decay": hashbench.Float(1e-4, 0.1, log=True),
        "alpha": hashbench.Float(0.02, 2.0, log=True),
        "beta": hashbench.Float(0.1, 3.0, log=True),
    }

    def __init__(self, context) -> None:
        super().__init__(context)
        p = self.params
        if int(p["time_steps"]) < 1 or int(p["clusters"]) < 2:
            raise ValueError(
                f"time_steps must be >= 1 and clusters >= 2 (got {p['time_steps']}, "
                f"{p['clusters']})"
            )
        self.encoders = nn.ModuleDict(
            {
                m: SpikingFeatureEncoder(
                    int(self.context.feature_dims[m]), int(p["hidden"]), self.bits,
                    int(p["time_steps"]),
                )
                for m in MODALITIES
            }
        ).to(self.device)
        self.head = nn.Linear(self.bits, int(p["clusters"])).to(self.device)
        self.history: list[float] = []

    def fit(self, train: TrainData) -> None:
        p = self.params
        x = {m: train.features[m] for m in MODALITIES}
        labels = pseudo_labels(
            {m: v.detach().cpu().numpy() for m, v in x.items()},
            int(p["clusters"]),
            int(p["kmeans_iterations"]),
            self.seed,
        )
        y = torch.from_numpy(labels).to(self.device)
        classes = int(p["clusters"])
        batch = int(p["batch_size"])
        epochs = epochs_to_run(
            len(y), batch, drop_last=False, epochs=int(p["epochs"]),
            min_iterations=int(p["min_iterations"]),
        )
        params = [*self.encoders.parameters(), *self.head.parameters()]
        opt, sched = adamw_cosine(params, p, epochs * math.ceil(len(y) / batch))
        similarity, ends = soft_similarity_rounds(p, classes, epochs, self.device)
        soft = p["similarity"] == "soft"
        alpha, beta = float(p["alpha"]), float(p["beta"])
        generator = torch.Generator().manual_seed(self.seed)
        self.encoders.train()
        for epoch in range(epochs):
            order = torch.randperm(len(y), generator=generator).to(self.device)
            total = torch.zeros((), device=self.device)
            for start in range(0, len(y), batch):
                idx = order[start : start + batch]
                if len(idx) < 2:  # BatchNorm needs two items
                    continue
                functional.reset_net(self.encoders)
                outs = [self.encoders[m](x[m][idx]) for m in MODALITIES]
                spikes = torch.cat([s for s, _ in outs], dim=1)  # (T, 2B, bits)
                feature = torch.cat([h for _, h in outs])
                y2 = y[idx].repeat(2)
                logits = self.head(spikes.mean(0))
                pair_labels = similarity.matrix()[y2][:, y2]
                loss = beta * F.cross_entropy(logits, y2)
                loss = loss + alpha * pairwise_loss(and_codes(spikes), pair_labels)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += loss.detach() * len(idx)
                if soft:
                    similarity.accumulate(feature, y2, logits.argmax(1) == y2)
                self.batch_end(epoch, epochs, start // batch, -(-len(y) // batch), items=len(idx))
            self.history.append(float(total) / len(y))
            if soft and epoch in ends:
                similarity.end_round()
            self.epoch_end(epoch, epochs, loss=self.history[-1])
        functional.reset_net(self.encoders)
        self.encoders.eval()

    def encode(self, modality: str, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            return XMInference(self.encoders).code(modality, inputs[modality].to(self.device))

    def inference_model(self) -> nn.Module:
        return XMInference(self.encoders)

    def num_parameters(self) -> int:
        return sum(t.numel() for t in [*self.encoders.parameters(), *self.head.parameters()])


@hashbench.hookimpl
def hashbench_register_methods() -> list[type[Method]]:
    return [SpikinghashXM]
