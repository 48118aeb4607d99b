"""SpikeHash: spiking cross-modal hashing (Zhang, Zhao, Nie, Wang, 2026; arXiv preprint).

SpikeHash has NO public code and its paper gives no layer sizes, equations or loss formulas.
What the paper states: CLIP image and text features are repeated over T time steps and turned
into spike sequences by PLIF neurons; a shared spiking hash state (SSHSE) is driven at each step
by both modalities' spike events and fed back to both by residual modulation; a cross-modal
spiking gated interaction (CMSGI) does directional text->image and image->text channel gating
without an attention matrix; a positive-negative readout gives each bit from the competition of
two spike channels, bit = sign(sum_t positive - sum_t negative); training is unsupervised
cross-modal contrastive alignment plus two auxiliary losses named "BAR" (weight 0.2) and "SRAL"
(weight 0.01); T = 8 at 16 bits and T = 4 at 32/64/128 bits; 2.19M parameters, 8.53M operations
and 39 uJ per pair at 128 bits. EVERYTHING ELSE BELOW IS AN INFERENCE, not a reproduction.

Inferred architecture (multi-step spikingjelly PLIF neurons, tensors (T, N, features); H = 512):

1. Spike encoding, per modality m: c_m = BN(Linear_m(x_m)) (D -> H), x_m the CLIP feature
   L2-normalised and scaled by sqrt(D) (unit mean square per dimension), repeated over T steps
   (direct, constant-current encoding: the current is the same at every step, so it is computed
   once and repeated) -> PLIF -> spikes e_m.
2. SSHSE: the shared hash state h = PLIF(BN(Linear([e_img; e_txt]))) (2H -> H): one population
   driven at each step by both modalities' spike events; its membrane potential, carried over
   the T steps, is the state that "evolves". Residual modulation back to each modality:
   u_m = c_m + BN(Linear_fb,m(h)) (the encoding current plus the state's feedback).
3. CMSGI: channel gates from the OTHER modality's spikes, one direction each:
   g_img = 2 sigmoid(Linear_t2i(e_txt)), g_txt = 2 sigmoid(Linear_i2t(e_img)) (H -> H), and the
   modality population fires from the gated current: z_m = PLIF(u_m * g_m). A gate is a
   per-channel multiplier (neutral value 1); there is no item-to-item attention matrix.
4. Positive-negative readout, ONE readout shared by both modalities (one shared Hamming space):
   r_m = PLIF(BN(Linear_out(z_m))) (H -> 2 x bits); channel b is the positive and channel
   bits + b the negative channel of bit b. Score s_m = (sum_t pos - sum_t neg) / T in [-1, 1];
   bit = sign(count_pos - count_neg).
   Tie rule (equal counts, e.g. both channels silent): the bit is the sign of the difference of
   the two channels' integrated synaptic input, sum_t (I_pos,t - I_neg,t), the evidence both
   membranes received over the window (no extra synaptic operations); if that is exactly 0 too,
   the bit is +1. Every code is therefore a valid +-1 code, and deterministic.
5. Neurons: spikingjelly ParametricLIFNode, multi-step mode, init tau 2 (learned), hard reset
   to 0 (reset detached), ATan surrogate (alpha 2); threshold 0.5 (the default 1.0 left the
   deeper populations nearly silent with T = 4 and learnt far more slowly in our trials).
   Batch norms are re-estimated after training over one pass of the training split.
6. Size: 2,237,702 parameters at 128 bits (2.2% over the reported 2.19M): encoders
   2 x 263,680, SSHSE drive 525,824, feedback 2 x 263,680, gates 2 x 262,656, readout 131,840
   (Linear + BN), one tau per PLIF population (BN scale/shift included; the paper's count may
   not include them). 16/32/64 bits: 2,122,342 / 2,138,822 / 2,171,782.

Training (inferred): L = NT-Xent(s_img, s_txt; temperature 0.5, as UCMFH)
+ bar_weight (0.2) x BAR + sral_weight (0.01) x SRAL, on the spike-count scores s, so the
objective is computed on the same quantities that the code is read from (surrogate gradients
through every spike); Adam, lr 3e-3, batch 128; network state reset before every batch (every
forward starts from rest). `soft_weight` (default 0) optionally adds an NT-Xent on
tanh(integrated readout input difference / T); it did not help in our trials.
Epochs (no published schedule): paper budget 100 (UCMFH's MIRFlickr schedule), quick 8.

- BAR, read as "bit activity regularisation": (a) bit balance, the mean over bits of the
  squared batch mean of s (each bit should split the data, as in balance terms of hashing
  losses), plus (b) a firing-activity band, squared distance of each spiking population's mean
  firing rate from [rate_low, rate_high] (0.05, 0.5). Rationale: a spiking hash head has two
  failure modes a contrastive loss does not see, constant bits and silent (or saturated)
  neurons; both are about "activity" of bits, and the weight 0.2 (larger than SRAL's) fits a
  regulariser that must act during the whole training.
- SRAL, read as "similarity relation alignment loss": MSE between the code-space cosine
  similarities (image-image, text-text, image-text) of the batch and the relation of the pairs'
  CLIP features, S = (cos(x_img) + cos(x_txt)) / 2 on mean-centred features (no labels: the
  method stays unsupervised). It aligns the Hamming space's relation structure with the input
  semantics, as the similarity-preserving losses of DJSRH-like methods do; 0.01 makes it a
  gentle prior next to the contrastive term.

Encoding. SSHSE and CMSGI couple the two modalities inside the network, so under the published
protocol a code is computed with both features of its pair present: `spikehash` is declared
`pair_fused=True` (an image query's code uses its caption; results are flagged). `spikehash-strict`
is the same model and training, but encoding a modality never reads the other one: the absent
modality is the mean training feature (as `ucmfh-strict`).

Efficiency. `inference_model()` is the trained network; the profiler counts the two input
Linear layers (real-valued input, once per pair) as MACs and every other Linear (spike input) as
SOPs = measured firing rate x T x synaptic operations, energy = 4.6 pJ x MACs + 0.9 pJ x SOPs.
The paper's 8.53M ops / 39 uJ equal 8.53M x 4.6 pJ: every layer counted densely at each of the T
steps, as MACs. Counted that way this network has 9.44M ops per pair at 128 bits (2,359,296
per step x T = 4: input layers 524,288, SSHSE 524,288, feedback 524,288, gates 524,288, the
shared readout for both modalities 262,144), i.e. 43.4 uJ at 4.6 pJ, close to the paper's
figures. The profiler's spike-aware figures are far lower (docs/methods.md has the numbers).
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
    MODALITIES,
    LossLog,
    batch_indices,
    nt_xent,
    parameter_total,
    planned_epochs,
    relation_mse,
    run_epochs,
)
from ._pair_fusion import PairFusedMethod, PartnerFill
from ._spikehash_blocks import SpikeHashNet, default_time_steps, readout_bits

__all__ = [
    "SpikeHash",
    "SpikeHashStrict",
    "SpikeHashInference",
    "default_time_steps",
    "readout_bits",
]

REFERENCE = (
    "Zhang, Zhao, Nie, Wang, 2026 (SpikeHash: Learning Binary Codes with Spiking Neural "
    "Networks for Cross-Modal Hashing Retrieval), arXiv preprint; inferred design, no public code"
)


class SpikeHashInference(PartnerFill):
    """The inference model for the profiler: `forward(image, text)` encodes a batch of pairs.

    Pair-fused: one pass with both features, both modalities read out. Strict: the image code's
    pass (image + mean text, image read out) and the text code's pass (mean image + text, text
    read out), each from a reset state.
    """

    def __init__(self, net: SpikeHashNet, fill: dict[str, torch.Tensor] | None) -> None:
        super().__init__(fill, strict=fill is not None)
        self.net = net

    def forward(self, image: torch.Tensor, text: torch.Tensor):
        if not self.strict:
            return self.net(image, text)
        n = image.shape[0]
        out = self.net(image, self.fill_text.expand(n, -1), read=("image",))
        out.update(self.net(self.fill_image.expand(n, -1), text, read=("text",)))
        return out


class SpikeHash(PairFusedMethod):
    info = MethodInfo(
        name="spikehash",
        display_name="SpikeHash",
        reference=REFERENCE,
        summary="spiking hashing: PLIF spike encoding, shared spiking hash state, cross-modal "
        "channel gating, positive-negative spike readout (published pair-fused encoding)",
        supervision="unsupervised",
        tasks=("cross-modal",),
        spiking=True,
        pair_fused=True,
    )

    default_params: Mapping[str, Any] = {
        "epochs": 100,
        "min_iterations": 0,
        "batch_size": 128,
        "drop_last": True,
        "hidden": 512,
        "time_steps": None,  # None: the paper's T (8 at 16 bits, else 4)
        "init_tau": 2.0,
        "v_threshold": 0.5,
        "readout_threshold": 0.5,
        "soft_weight": 0.0,
        "surrogate_alpha": 2.0,
        "lr": 3e-3,
        "weight_decay": 0.0,
        "temperature": 0.5,
        "contrastive_weight": 1.0,
        "bar_weight": 0.2,
        "sral_weight": 0.01,
        "rate_low": 0.05,
        "rate_high": 0.5,
    }
    budget_params: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "quick": {"epochs": 8, "min_iterations": 120},
    }
    #: conformance checks only (hashbench.testing): one short epoch, the contract not quality
    test_params: Mapping[str, Any] = {"epochs": 1, "min_iterations": 0, "hidden": 32}
    #: `hashbench tune` searches these (docs/tuning.md); epochs never beyond the budget's
    param_ranges: Mapping[str, Any] = {
        "epochs": _ranges.EPOCHS,
        "lr": hashbench.Float(1e-9, None),
        "weight_decay": hashbench.Float(0.0, None),
        "temperature": hashbench.Float(1e-3, None),
        "contrastive_weight": hashbench.Float(0.0, None),
        "bar_weight": hashbench.Float(0.0, None),
        "sral_weight": hashbench.Float(0.0, None),
        "min_iterations": _ranges.ITERATIONS,
        "batch_size": _ranges.BATCH,
        "hidden": _ranges.WIDTH,
        "time_steps": _ranges.TIME_STEPS,
    }
    search_space: Mapping[str, Any] = {
        "lr": hashbench.Float(3e-4, 3e-2, log=True),
        "temperature": hashbench.Float(0.1, 1.0, log=True),
        "bar_weight": hashbench.Float(0.02, 2.0, log=True),
        "sral_weight": hashbench.Float(1e-3, 30.0, log=True),
        "epochs": hashbench.UpToBudget(2),
    }

    @classmethod
    def complete_params(cls, params, *, bits, feature_dims, input_shapes):
        """`time_steps: None` is the paper's T for the code length: store the T used."""
        if params.get("time_steps") is None:
            params["time_steps"] = default_time_steps(bits)
        return params

    def __init__(self, context: MethodContext) -> None:
        super().__init__(context)
        p = self.params
        steps = p["time_steps"]
        self.time_steps = default_time_steps(self.bits) if steps is None else int(steps)
        if self.time_steps < 1:
            raise ValueError(f"time_steps must be >= 1, got {self.time_steps}")
        self.net = SpikeHashNet(self.dims, int(p["hidden"]), self.bits, self.time_steps, p).to(
            self.device
        )

    def num_parameters(self) -> int:
        return parameter_total(self.net)

    def _losses(self, out, x_img: torch.Tensor, x_txt: torch.Tensor):
        p = self.params
        t = self.time_steps
        s = {m: (out[m][0] - out[m][1]) / t for m in MODALITIES}
        contrastive = nt_xent(s["image"], s["text"], float(p["temperature"]))
        if float(p["soft_weight"]):
            soft = {m: torch.tanh((out[m][2] - out[m][3]) / t) for m in MODALITIES}
            contrastive = contrastive + float(p["soft_weight"]) * nt_xent(
                soft["image"], soft["text"], float(p["temperature"])
            )
        # BAR: bit balance + firing-activity band
        balance = torch.stack([s[m].mean(0).pow(2).mean() for m in MODALITIES]).mean()
        rates = torch.stack(list(self.net.rates.values()))
        low, high = float(p["rate_low"]), float(p["rate_high"])
        activity = (F.relu(low - rates).pow(2) + F.relu(rates - high).pow(2)).sum()
        bar = balance + activity
        # SRAL: code-space relations vs the pairs' CLIP relations
        with torch.no_grad():
            ci = F.normalize(x_img - self.center["image"], dim=1)
            ct = F.normalize(x_txt - self.center["text"], dim=1)
            target = 0.5 * (ci @ ci.T + ct @ ct.T)
        zi, zt = F.normalize(s["image"], dim=1), F.normalize(s["text"], dim=1)
        sral = relation_mse(zi, zt, target) / 3
        total = (
            float(p["contrastive_weight"]) * contrastive
            + float(p["bar_weight"]) * bar
            + float(p["sral_weight"]) * sral
        )
        return contrastive, bar, sral, total

    def fit(self, train: TrainData) -> None:
        p = self.params
        x = self.training_pairs(train)
        x_img, x_txt = x["image"], x["text"]
        self.center = {m: F.normalize(v, dim=1).mean(0) for m, v in x.items()}
        drop_last, n = bool(p["drop_last"]), train.size
        epochs = planned_epochs(p, n, drop_last=drop_last)
        opt = torch.optim.Adam(
            self.net.parameters(), lr=float(p["lr"]), weight_decay=float(p["weight_decay"])
        )
        log = LossLog(("contrastive", "bar", "sral", "total"), epochs, self.device)

        def step(idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = self.net(x_img[idx], x_txt[idx])  # resets the state first
            losses = self._losses(out, x_img[idx], x_txt[idx])
            opt.zero_grad(set_to_none=True)
            losses[-1].backward()
            opt.step()
            return losses

        self.net.train()
        run_epochs(self, log, n, step, drop_last=drop_last)
        self._recalibrate_batch_norm(x_img[:n], x_txt[:n], int(p["batch_size"]))
        self.net.eval()
        self.net.reset_state()
        self.loss_history = log.history()

    @torch.no_grad()
    def _recalibrate_batch_norm(
        self, x_img: torch.Tensor, x_txt: torch.Tensor, batch_size: int
    ) -> None:
        """Running statistics of every batch norm = the trained network's average batch
        statistics over one pass of the training split (the statistics accumulated during
        training mix in those of earlier weights)."""
        norms = [m for m in self.net.modules() if isinstance(m, nn.BatchNorm1d)]
        for bn in norms:
            bn.reset_running_stats()
        self.net.train()
        for idx in batch_indices(
            x_img.shape[0], batch_size, shuffle=False, drop_last=False, device=self.device
        ):
            self.net(x_img[idx], x_txt[idx])

    def _pair(self, modality: str, inputs: Mapping[str, torch.Tensor]):
        pair = self.pair(modality, inputs)
        return pair["image"], pair["text"]

    def inference_model(self) -> nn.Module:
        return SpikeHashInference(self.net, self.inference_fill())

    @torch.no_grad()
    def encode(self, modality: str, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        self.net.eval()
        image, text = self._pair(modality, inputs)
        out = self.net(image, text, read=(modality,))
        self.net.reset_state()
        return readout_bits(*out[modality])

    @torch.no_grad()
    def encode_pairs(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        """Pair-fused: one network pass over a pair reads both modalities' codes (the shared
        state and the gates see both modalities whichever one is read)."""
        if self.strict:
            return None
        self.net.eval()
        image, text = self._pair("image", inputs)
        out = self.net(image, text, read=MODALITIES)
        self.net.reset_state()
        return {m: readout_bits(*out[m]) for m in MODALITIES}


class SpikeHashStrict(SpikeHash):
    info = MethodInfo(
        name="spikehash-strict",
        display_name="SpikeHash (strict)",
        reference=REFERENCE,
        summary="SpikeHash, same training; a modality is encoded without its partner "
        "(the partner = mean training feature)",
        supervision="unsupervised",
        tasks=("cross-modal",),
        spiking=True,
        pair_fused=False,
    )
    strict = True


@hashbench.hookimpl
def hashbench_register_methods() -> list[type[Method]]:
    return [SpikeHash, SpikeHashStrict]
