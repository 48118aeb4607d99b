"""The network of `spikehash` (an inferred design; see plugins/methods/spikehash.py, whose
docstring describes every block): PLIF spike encoding per modality, the shared spiking hash state
(SSHSE) with residual feedback, the cross-modal spiking gates (CMSGI) and the shared
positive-negative readout, plus the readout's tie rule and the paper's time steps per code length.

- `SpikeHashNet`: the network; `forward(image, text, read)` simulates T steps from rest.
- `readout_bits`: codes from the positive and negative channels' spike counts (tie rule).
- `default_time_steps`: the paper's T for a code length.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._crossmodal_common import MODALITIES


def default_time_steps(bits: int) -> int:
    """The paper's table: T = 8 at 16 bits (T = 2 collapses there), T = 4 at 32/64/128 bits."""
    return 8 if bits <= 16 else 4


def readout_bits(
    pos_counts: torch.Tensor,
    neg_counts: torch.Tensor,
    pos_input: torch.Tensor,
    neg_input: torch.Tensor,
) -> torch.Tensor:
    """Positive-negative readout with the deterministic tie rule, as int8 -1/+1.

    bit = sign(pos_counts - neg_counts); where the counts are equal, sign(pos_input -
    neg_input) (the channels' synaptic input integrated over the T steps); where that is 0 too,
    +1.
    """
    diff = pos_counts - neg_counts
    tie_break = torch.where(pos_input >= neg_input, 1, -1)
    return torch.where(diff > 0, 1, torch.where(diff < 0, -1, tie_break)).to(torch.int8)


def _plif(params: Mapping[str, Any], threshold: float | None = None) -> nn.Module:
    from spikingjelly.activation_based import neuron, surrogate

    return neuron.ParametricLIFNode(
        init_tau=float(params["init_tau"]),
        v_threshold=float(params["v_threshold"] if threshold is None else threshold),
        surrogate_function=surrogate.ATan(alpha=float(params["surrogate_alpha"])),
        detach_reset=True,
        step_mode="m",
    )


def _bn(features: int) -> nn.BatchNorm1d:
    """Batch norm whose running statistics are the cumulative average over all training
    batches (momentum None): exact after any number of iterations, so short trainings do not
    evaluate with statistics still close to their initial values."""
    return nn.BatchNorm1d(features, momentum=None)


def _seq_bn(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm1d over (T, N, C): statistics over time steps and items."""
    return bn(x.flatten(0, 1)).view_as(x)


class SpikeHashNet(nn.Module):
    """The inferred SpikeHash network (see the docstring of spikehash.py).

    `forward(image, text, read=("image", "text"))` simulates T steps from a reset state and
    returns, per read modality, (pos_counts, neg_counts, pos_input, neg_input), each (N, bits).
    `rates` (after a training-mode forward) holds each population's mean firing rate, as graph
    tensors for the activity regulariser.
    """

    def __init__(
        self,
        dims: Mapping[str, int],
        hidden: int,
        bits: int,
        time_steps: int,
        params: Mapping[str, Any],
    ) -> None:
        super().__init__()
        self.bits, self.time_steps, self.hidden = bits, time_steps, hidden
        h = hidden
        self.encode_fc = nn.ModuleDict({m: nn.Linear(dims[m], h) for m in MODALITIES})
        self.encode_bn = nn.ModuleDict({m: _bn(h) for m in MODALITIES})
        self.encode_lif = nn.ModuleDict({m: _plif(params) for m in MODALITIES})
        # SSHSE: shared hash state driven by both modalities' spikes, fed back to both.
        self.state_fc = nn.Linear(2 * h, h)
        self.state_bn = _bn(h)
        self.state_lif = _plif(params)
        self.feedback_fc = nn.ModuleDict({m: nn.Linear(h, h) for m in MODALITIES})
        self.feedback_bn = nn.ModuleDict({m: _bn(h) for m in MODALITIES})
        # CMSGI: gate of a modality's channels from the other modality's spikes.
        # "image": text -> image gate; "text": image -> text gate
        self.gate_fc = nn.ModuleDict({m: nn.Linear(h, h) for m in MODALITIES})
        self.modal_lif = nn.ModuleDict({m: _plif(params) for m in MODALITIES})
        # Positive-negative readout, shared by both modalities.
        self.readout_fc = nn.Linear(h, 2 * bits)
        self.readout_bn = _bn(2 * bits)
        self.readout_lif = _plif(params, float(params["readout_threshold"]))
        self.rates: dict[str, torch.Tensor] = {}

    def reset_state(self) -> None:
        from spikingjelly.activation_based import functional

        functional.reset_net(self)

    def forward(self, image: torch.Tensor, text: torch.Tensor, read: tuple[str, ...] = MODALITIES):
        self.reset_state()  # every forward simulates independent items from rest
        t = self.time_steps
        # L2-normalised, scaled to unit mean square per dimension (currents of order 1 from
        # the first step on, whatever the feature dimension)
        x = {
            m: F.normalize(v, dim=1) * v.shape[1] ** 0.5
            for m, v in (("image", image), ("text", text))
        }
        current, spikes = {}, {}
        for m in MODALITIES:
            current[m] = self.encode_bn[m](self.encode_fc[m](x[m]))  # (N, H), same every step
            spikes[m] = self.encode_lif[m](current[m].unsqueeze(0).expand(t, -1, -1))
        state = self.state_lif(
            _seq_bn(self.state_bn, self.state_fc(torch.cat([spikes["image"], spikes["text"]], -1)))
        )
        other = {"image": "text", "text": "image"}
        modal = {}
        for m in read:
            feedback = _seq_bn(self.feedback_bn[m], self.feedback_fc[m](state))
            gate = 2 * torch.sigmoid(self.gate_fc[m](spikes[other[m]]))
            modal[m] = self.modal_lif[m]((current[m].unsqueeze(0) + feedback) * gate)
        # one readout call over the read modalities stacked along the batch (shared weights,
        # one neuron state per item)
        z = torch.cat([modal[m] for m in read], 1)
        syn = _seq_bn(self.readout_bn, self.readout_fc(z))  # (T, kN, 2 bits)
        out = self.readout_lif(syn)
        counts, inputs = out.sum(0), syn.sum(0)
        b, n = self.bits, image.shape[0]
        if self.training:
            self.rates = {
                "encode": torch.stack([spikes[m].mean() for m in MODALITIES]).mean(),
                "state": state.mean(),
                "modal": torch.stack([modal[m].mean() for m in read]).mean(),
                "readout": out.mean(),
            }
        result = {}
        for k, m in enumerate(read):
            rows = slice(k * n, (k + 1) * n)
            result[m] = (counts[rows, :b], counts[rows, b:], inputs[rows, :b], inputs[rows, b:])
        return result
