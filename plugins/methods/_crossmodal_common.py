"""Pieces shared by the deep cross-modal hashing plugins (ucmfh, cirh-like, ddss-like, spikehash,
djsrh, jdsh, dgcpn, ucch); the blocks of the pair-fused ones are in `_pair_fusion`.

- `nt_xent`: the NT-Xent (SimCLR) loss between two views, in the form of UCMFH's reference code.
- `relation_mse`: MSE of the image-image, text-text and image-text similarity matrices of a
  batch against one target relation (DDSS-like's semantic loss, SpikeHash's SRAL).
- `FusionTransformer`: UCMFH's fusion encoder (a stock `nn.TransformerEncoder`) with a fast path
  for the length-1 sequences it is trained and evaluated on.
- `HashHead`: UCMFH's per-modality hash function.
- `batch_indices`, `LossLog`, `planned_epochs`, `run_epochs`: the per-iteration training loop's
  plumbing (index tensors on the method's device; losses accumulated on the device, read back
  once after training; progress through `batch_end` every batch, and progress and a tuning
  trial's pruning through `epoch_end` every epoch).
- `training_features`: the training split's image and text features on the method's device.
- `to_codes`: sign with sign(0) = +1, as int8.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hashbench import Method, MethodContext, TrainData
from hashbench.profile import count_parameters

MODALITIES = ("image", "text")


@functools.lru_cache(maxsize=8)
def _eye_mask(n: int, device: torch.device) -> torch.Tensor:
    """The n x n identity as a bool mask, built once per size and device (not per batch)."""
    return torch.eye(n, dtype=torch.bool, device=device)


def nt_xent(view_a: torch.Tensor, view_b: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent between two views of a batch; row i of `view_a` and of `view_b` are positives.

    The 2B rows are compared by cosine similarity divided by `temperature`. For each row, the
    loss is -log(exp(s_pos) / sum over every other row j != self of exp(s_j)); the positive is
    part of that sum (as in SimCLR and UCMFH's code). The result is the mean over the 2B rows.
    """
    n = view_a.shape[0]
    z = F.normalize(torch.cat([view_a, view_b]), dim=1)
    sim = z @ z.T / temperature
    self_mask = _eye_mask(2 * n, sim.device)
    positives = torch.cat([torch.diagonal(sim, n), torch.diagonal(sim, -n)])
    log_denominator = torch.logsumexp(sim.masked_fill(self_mask, float("-inf")), dim=1)
    return (log_denominator - positives).mean()


def cosine_matrix(a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Pairwise cosine similarities of the rows of `a` (and `b`)."""
    a = F.normalize(a, dim=1)
    return a @ (a if b is None else F.normalize(b, dim=1)).T


def relation_mse(a: torch.Tensor, b: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE(a a^T, S) + MSE(b b^T, S) + MSE(a b^T, S): a batch's image-image, text-text and
    image-text similarities (rows of `a` and `b`, as given) against the target relation S."""
    return F.mse_loss(a @ a.T, target) + F.mse_loss(b @ b.T, target) + F.mse_loss(a @ b.T, target)


def to_codes(h: torch.Tensor) -> torch.Tensor:
    """sign(h) as int8 -1/+1, with sign(0) mapped to +1."""
    return torch.where(h >= 0, 1, -1).to(torch.int8)


def check_modalities(features: Mapping[str, torch.Tensor], method: str) -> None:
    missing = [m for m in MODALITIES if m not in features]
    if missing:
        raise ValueError(f"{method} needs 'image' and 'text' features; missing {missing}")


def pair_inputs(
    modality: str,
    inputs: Mapping[str, torch.Tensor],
    *,
    fill: Mapping[str, torch.Tensor] | None,
    device: torch.device,
    method: str,
) -> dict[str, torch.Tensor]:
    """{"image": ..., "text": ...} for encoding `modality` with a network that reads a pair.

    With `fill` (the strict variants: the mean training feature per modality) the partner is
    that mean; without it (pair-fused) the partner is the paired item's feature in `inputs`,
    and its absence is an error naming the method.
    """
    x = inputs[modality].to(device, torch.float32)
    other = "text" if modality == "image" else "image"
    if fill is not None:
        if not fill:
            raise RuntimeError(f"{method}: encode called before fit")
        partner = fill[other].expand(x.shape[0], -1)
    elif other in inputs:
        partner = inputs[other].to(device, torch.float32)
    else:
        raise ValueError(
            f"{method} is pair-fused: encoding {modality} needs the paired {other} features "
            "in inputs"
        )
    return {modality: x, other: partner}


def training_features(
    train: TrainData, device: torch.device, method: str
) -> dict[str, torch.Tensor]:
    """{"image": ..., "text": ...}: the training features as float32 on `device`."""
    check_modalities(train.features, method)
    return {m: train.features[m].to(device, torch.float32) for m in MODALITIES}


def feature_dims(context: MethodContext, method: str) -> dict[str, int]:
    """Feature width per modality (CLIP's 512 when the context does not say)."""
    dims = dict(context.feature_dims) or {m: 512 for m in MODALITIES}
    check_modalities(dims, method)
    return {m: int(dims[m]) for m in MODALITIES}


def batch_indices(
    n: int, batch_size: int, *, shuffle: bool, drop_last: bool, device: torch.device
) -> list[torch.Tensor]:
    """The index tensors of one epoch's batches, on `device`.

    With `drop_last`, the final incomplete batch is dropped (as the reference loaders do), unless
    it is the only batch. A final batch of a single item is always dropped: batch norm and the
    contrastive losses need at least two.
    """
    order = torch.randperm(n, device=device) if shuffle else torch.arange(n, device=device)
    batches = list(order.split(batch_size))
    if len(batches) > 1 and (drop_last and len(batches[-1]) < batch_size):
        batches.pop()
    if len(batches) > 1 and len(batches[-1]) < 2:
        batches.pop()
    return batches


def iterations_per_epoch(n: int, batch_size: int, *, drop_last: bool) -> int:
    """How many batches `batch_indices` yields per epoch for n items."""
    full, rest = divmod(n, batch_size)
    if full == 0:
        return 1 if n >= 2 else 0
    return full + (1 if rest >= 2 and not drop_last else 0)


def epochs_to_run(
    n: int, batch_size: int, *, drop_last: bool, epochs: int, min_iterations: int
) -> int:
    """`epochs`, raised so that training takes at least `min_iterations` iterations.

    The quick budget uses this: a few epochs on a full-size training split, and enough epochs
    for a meaningful number of updates on a small one (e.g. `--scale 0.1`).
    """
    per_epoch = iterations_per_epoch(n, batch_size, drop_last=drop_last)
    if per_epoch == 0:
        return 0
    return max(int(epochs), -(-int(min_iterations) // per_epoch))


def planned_epochs(params: Mapping, n: int, *, drop_last: bool) -> int:
    """`epochs_to_run` for n training items with a method's `batch_size`, `epochs` and
    `min_iterations` params."""
    return epochs_to_run(
        n,
        int(params["batch_size"]),
        drop_last=drop_last,
        epochs=int(params["epochs"]),
        min_iterations=int(params["min_iterations"]),
    )


class LossLog:
    """Per-epoch sums of named losses, kept on the device (no host sync inside the loop)."""

    def __init__(self, names: tuple[str, ...], epochs: int, device: torch.device) -> None:
        self.names = names
        self.sums = torch.zeros(epochs, len(names), device=device)
        self.batches = [0] * epochs

    def add(self, epoch: int, *values: torch.Tensor) -> None:
        self.sums[epoch] += torch.stack([v.detach() for v in values])
        self.batches[epoch] += 1

    def mean(self, epoch: int, name: str) -> torch.Tensor:
        """The epoch's mean of one loss over its batches, still on the device (for
        `Method.epoch_end(..., loss=...)`, which reads it once per epoch)."""
        return self.sums[epoch, self.names.index(name)] / max(1, self.batches[epoch])

    def history(self) -> dict[str, list[float]]:
        """One host transfer, after training: {name: per-epoch sum}."""
        table = self.sums.cpu().tolist()
        return {name: [row[i] for row in table] for i, name in enumerate(self.names)}


def run_epochs(
    method: Method,
    log: LossLog,
    n: int,
    step: Callable[[torch.Tensor], Sequence[torch.Tensor]],
    *,
    drop_last: bool,
    loss: str = "total",
    before_epoch: Callable[[int], None] | None = None,
) -> None:
    """The training loop: for each of the log's epochs, `before_epoch(epoch)` if given (a
    per-epoch setting such as a learning rate), then the shuffled batches of n items (the
    method's `batch_size`) each go through `step(idx)`, which updates the model and returns
    the batch's losses in `log`'s order, and `method.batch_end` is called (progress inside the
    epoch); then `method.epoch_end` gets the epoch's mean `loss` (progress; a tuning trial's
    validation and pruning)."""
    epochs, batch_size = len(log.batches), int(method.params["batch_size"])
    for epoch in range(epochs):
        if before_epoch is not None:
            before_epoch(epoch)
        batches = batch_indices(
            n, batch_size, shuffle=True, drop_last=drop_last, device=method.device
        )
        for b, idx in enumerate(batches):
            log.add(epoch, *step(idx))
            method.batch_end(epoch, epochs, b, len(batches), items=len(idx))
        method.epoch_end(epoch, epochs, loss=log.mean(epoch, loss))


def _encoder_layer_len1(layer: nn.TransformerEncoderLayer, x: torch.Tensor) -> torch.Tensor:
    """`layer` applied to B sequences of length 1, x of shape (B, d_model).

    With a single key, softmax attention weights are exactly 1, so the attention output is the
    value projection passed through the output projection: the query and key projections do not
    take part (in the stock module they get exactly zero gradient). Dropout matches the stock
    module: MultiheadAttention drops attention weights, i.e. a whole head of one item, then
    dropout1 / dropout / dropout2 as in the post-norm layer.
    """
    attn = layer.self_attn
    d = attn.embed_dim
    v = F.linear(x, attn.in_proj_weight[2 * d :], attn.in_proj_bias[2 * d :])
    if layer.training and attn.dropout > 0:
        heads, keep = attn.num_heads, 1.0 - attn.dropout
        mask = torch.empty(x.shape[0], heads, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
        v = (v.view(x.shape[0], heads, d // heads) * (mask / keep)).view_as(v)
    x = layer.norm1(x + layer.dropout1(attn.out_proj(v)))
    ff = layer.linear2(layer.dropout(layer.activation(layer.linear1(x))))
    return layer.norm2(x + layer.dropout2(ff))


class FusionTransformer(nn.Module):
    """UCMFH's fusion encoder: a stock post-norm `nn.TransformerEncoder` (ReLU, PyTorch defaults).

    Input: one token per pair, concat(image, text). Output: the encoder's output, L2-normalised
    over all its dimensions. Each pair is its own sequence of length 1 (`forward`); the released
    code's evaluation quirk, a whole batch as one sequence, is `forward_batch_as_sequence`.
    """

    def __init__(
        self, d_model: int, nhead: int, dim_feedforward: int, dropout: float, num_layers: int
    ) -> None:
        super().__init__()
        if d_model % nhead:
            raise ValueError(f"d_model {d_model} is not divisible by nhead {nhead}")
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = tokens
        for layer in self.encoder.layers:
            x = _encoder_layer_len1(layer, x)
        return F.normalize(x, dim=1)

    def forward_batch_as_sequence(self, tokens: torch.Tensor) -> torch.Tensor:
        """All rows of `tokens` as ONE sequence: rows attend to each other (released-code quirk)."""
        return F.normalize(self.encoder(tokens.unsqueeze(1)).squeeze(1), dim=1)

    def forward_stock(self, tokens: torch.Tensor) -> torch.Tensor:
        """Length-1 sequences through the stock module (reference for the fast path's tests)."""
        return F.normalize(self.encoder(tokens.unsqueeze(0)).squeeze(0), dim=1)


class HashHead(nn.Module):
    """UCMFH's hash function: L2-norm -> Linear -> ReLU -> Dropout -> Linear -> tanh -> L2-norm."""

    def __init__(self, in_dim: int, hidden: int, bits: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.dropout = nn.Dropout(dropout)
        self.tohash = nn.Linear(hidden, bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.tohash(self.dropout(F.relu(self.fc1(F.normalize(x, dim=1)))))
        return F.normalize(torch.tanh(h), dim=1)


def make_adam(params, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam without weight decay; the fused kernel where this torch build has it for the device.

    Fused Adam is several times faster on CPU (one pass over the parameters instead of one per
    elementwise op) and computes the same update.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas)


def parameter_total(*modules: nn.Module) -> int:
    """Parameters of several modules together, counted by the profiler's own counter."""
    return count_parameters(nn.ModuleList(modules)).total


class TwoTowerInference(nn.Module):
    """The inference model of a method with one network per modality (`towers["image"]`,
    `towers["text"]`), for the efficiency profiler: `forward(image, text)` runs both."""

    def __init__(self, towers: nn.ModuleDict) -> None:
        super().__init__()
        self.towers = towers

    def forward(self, image: torch.Tensor, text: torch.Tensor):
        return self.towers["image"](image), self.towers["text"](text)


class TowerCodes:
    """`encode` and `inference_model` of a method whose `self.nets` holds one network per
    modality and whose code is the sign of that network's output (DGCPN, UCCH); list it before
    `Method` among the bases."""

    nets: nn.ModuleDict
    device: torch.device

    def inference_model(self) -> nn.Module:
        return TwoTowerInference(self.nets)

    def encode(self, modality: str, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        self.nets.eval()
        return to_codes(self.nets[modality](inputs[modality].to(self.device, torch.float32)))
