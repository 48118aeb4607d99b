"""Synthetic cross-modal datasets that mirror the real benchmark protocols.

Generative model (documented in docs/datasets.md):

1. Labels. A Gaussian copula: item i has label c when b_c + w_c . z_i + e_ic > 0, with a
   low-rank latent z_i ~ N(0, I_r) (labels co-occur through shared loadings w_c), label
   popularity b_c spread Zipf-like, and independent noise e_ic ~ N(0, 1). A global offset is
   found by bisection so the mean number of labels per item matches the real dataset. Items
   with no label get their most likely one.
2. Semantics. Each label has a prototype mu_c in R^L. An item's semantic vector mixes the
   prototypes of its labels with random positive saliences, plus an item-specific component
   shared by both modalities (what makes a caption closer to its own image than to another
   image with the same labels).
3. Modalities. Each modality maps the semantics through its own random one-hidden-layer
   ReLU network into 512-d, adds modality-private nuisance factors ("style") and isotropic
   noise, adds a modality-specific offset (the modality gap of CLIP-like encoders), and
   L2-normalises, like CLIP features.
4. Protocol split. 2000 query items; the rest is the retrieval set; 5000 training items drawn
   from the retrieval set (they stay in it). `scale` < 1 shrinks every size proportionally.

Everything is drawn from a numpy Generator seeded by (seed, dataset name): the same seed gives
the same bytes on every machine. Datasets are cached on disk as .npy files.
"""

from __future__ import annotations

import math
import os
import shutil
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from hashbench.data.array_cache import cache_folder, read_cache, write_cache
from hashbench.data.types import (
    CrossModalDataset,
    DatasetOptions,
    Split,
    fingerprint_arrays,
)
from hashbench.errors import InputError

# Bump when the generator's output changes, so stale caches are never read.
GENERATOR_VERSION = 1
FEATURE_DIM = 512
MODALITIES = ("image", "text")


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes and shape of one synthetic dataset (defaults: the generator's tuned knobs)."""

    name: str
    protocol: str
    num_labels: int
    total_items: int
    mean_labels: float
    num_query: int = 2000
    num_train: int = 5000
    latent_rank: int = 6
    popularity_spread: float = 0.7  # sd of the labels' popularity offsets (flat marginals)
    semantic_dim: int = 64
    hidden_dim: int = 256
    item_specific: float = 1.0
    private_weight: float = 1.3
    style_dim: int = 16
    style_scale: float = 0.6
    noise_scale: float = 1.5
    gap_scale: float = 0.6


SYNTHETIC_CONFIGS = {
    "synth-mirflickr": SyntheticConfig(
        name="synth-mirflickr",
        protocol="mirflickr",
        num_labels=24,
        total_items=20015,
        mean_labels=3.8,
    ),
    "synth-nuswide": SyntheticConfig(
        name="synth-nuswide",
        protocol="nuswide",
        num_labels=10,
        total_items=186577,
        mean_labels=1.7,
    ),
    "synth-mscoco": SyntheticConfig(
        name="synth-mscoco",
        protocol="mscoco",
        num_labels=80,
        total_items=123287,
        mean_labels=2.9,
    ),
}


def split_sizes(config: SyntheticConfig, scale: float) -> tuple[int, int, int]:
    """(query, train, retrieval) sizes at `scale`."""
    if not 0 < scale <= 1:
        raise InputError(f"--scale must be in (0, 1], got {scale}")
    n_query = max(10, round(config.num_query * scale))
    n_train = max(20, round(config.num_train * scale))
    n_retrieval = max(n_train, round((config.total_items - config.num_query) * scale))
    return n_query, n_train, n_retrieval


def _entropy(config: SyntheticConfig, seed: int, stream: str) -> list[int]:
    return [seed, zlib.crc32(config.name.encode()), zlib.crc32(stream.encode())]


def _rng(config: SyntheticConfig, seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng(_entropy(config, seed, stream))


_NOISE_CHUNK = 16384


def _gaussian_noise(
    config: SyntheticConfig, seed: int, stream: str, shape: tuple[int, int]
) -> np.ndarray:
    """Standard normal float32 noise, drawn in fixed chunks on worker threads.

    Each chunk has its own generator spawned from one seed sequence, so the bytes do not depend
    on the number of threads; numpy releases the GIL while filling, so both cores work.
    """
    out = np.empty(shape, dtype=np.float32)
    starts = range(0, shape[0], _NOISE_CHUNK)
    children = np.random.SeedSequence(_entropy(config, seed, stream)).spawn(len(starts))

    def fill(args: tuple[int, np.random.SeedSequence]) -> None:
        start, child = args
        np.random.default_rng(child).standard_normal(
            out=out[start : start + _NOISE_CHUNK], dtype=np.float32
        )

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(fill, zip(starts, children, strict=True)))
    return out


def _sample_labels(config: SyntheticConfig, n: int, seed: int) -> np.ndarray:
    """Correlated multi-hot labels with the configured mean cardinality."""
    rng = _rng(config, seed, "labels")
    c, r = config.num_labels, config.latent_rank
    loadings = rng.normal(0.0, 0.8, size=(c, r))
    popularity = np.sort(rng.normal(0.0, config.popularity_spread, size=c))[::-1]
    z = rng.standard_normal((n, r))
    logits = z @ loadings.T + popularity + rng.standard_normal((n, c))

    sample = logits[:20000]  # the offset is fitted on a sample: plenty for 3 decimals

    def cardinality(offset: float) -> float:
        return float(np.maximum((sample + offset > 0).sum(1), 1).mean())

    lo, hi = -10.0, 10.0  # cardinality is monotone in the offset
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cardinality(mid) < config.mean_labels else (lo, mid)
    labels = (logits + (lo + hi) / 2 > 0).astype(np.uint8)
    empty = labels.sum(1) == 0
    labels[empty, logits[empty].argmax(1)] = 1
    return labels


def _semantics(config: SyntheticConfig, labels: np.ndarray, seed: int) -> np.ndarray:
    rng = _rng(config, seed, "semantics")
    n, c = labels.shape
    prototypes = rng.standard_normal((c, config.semantic_dim)).astype(np.float32)
    salience = labels * rng.gamma(2.0, 0.5, size=(n, c))
    salience /= np.sqrt((salience**2).sum(1, keepdims=True))
    item = rng.standard_normal((n, config.semantic_dim)).astype(np.float32)
    return (salience.astype(np.float32) @ prototypes + config.item_specific * item).astype(
        np.float32
    )


def _relu_map(rng: np.random.Generator, semantics: np.ndarray, hidden_dim: int) -> np.ndarray:
    """A random one-hidden-layer ReLU network R^L -> R^512, output scaled to unit variance."""
    dim = semantics.shape[1]
    w_in = rng.standard_normal((dim, hidden_dim)).astype(np.float32) / math.sqrt(dim)
    b_in = rng.normal(0.0, 0.5, size=hidden_dim).astype(np.float32)
    w_out = rng.standard_normal((hidden_dim, FEATURE_DIM)).astype(np.float32)
    hidden = semantics @ w_in
    hidden += b_in
    np.maximum(hidden, 0.0, out=hidden)
    out = hidden @ w_out
    out /= out[:4096].std()  # a sample fixes the scale and keeps this fast
    return out


def _modality_features(
    config: SyntheticConfig, semantics: np.ndarray, shared: np.ndarray, seed: int, modality: str
) -> np.ndarray:
    """Shared map + this modality's own map + style + noise + gap, L2-normalised."""
    rng = _rng(config, seed, f"modality-{modality}")
    n = semantics.shape[0]
    feats = _relu_map(rng, semantics, config.hidden_dim)
    feats *= config.private_weight
    feats += shared
    style_basis = rng.standard_normal((config.style_dim, FEATURE_DIM)).astype(np.float32)
    style_basis /= math.sqrt(config.style_dim)
    style = rng.standard_normal((n, config.style_dim)).astype(np.float32)
    feats += config.style_scale * (style @ style_basis)
    noise = _gaussian_noise(config, seed, f"noise-{modality}", (n, FEATURE_DIM))
    noise *= config.noise_scale
    feats += noise
    del noise
    gap = rng.standard_normal(FEATURE_DIM).astype(np.float32)
    feats += config.gap_scale * math.sqrt(FEATURE_DIM) * gap / np.linalg.norm(gap)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    return feats


def generate(config: SyntheticConfig, seed: int = 0, scale: float = 1.0) -> CrossModalDataset:
    """Generate the dataset in memory (no cache)."""
    n_query, n_train, n_retrieval = split_sizes(config, scale)
    n = n_query + n_retrieval
    labels = _sample_labels(config, n, seed)
    semantics = _semantics(config, labels, seed)
    shared = _relu_map(_rng(config, seed, "shared-map"), semantics, config.hidden_dim)
    feats = {m: _modality_features(config, semantics, shared, seed, m) for m in MODALITIES}
    del shared
    rng = _rng(config, seed, "split")
    order = rng.permutation(n)
    query_idx, retrieval_idx = order[:n_query], order[n_query:]
    train_in_retrieval = np.sort(rng.choice(n_retrieval, size=n_train, replace=False))

    def take(idx: np.ndarray) -> Split:
        return Split(features={m: feats[m][idx] for m in MODALITIES}, labels=labels[idx])

    query, retrieval = take(query_idx), take(retrieval_idx)
    train = take(retrieval_idx[train_in_retrieval])
    arrays = _flatten(train, query, retrieval)
    return CrossModalDataset(
        name=config.name,
        protocol=config.protocol,
        train=train,
        query=query,
        retrieval=retrieval,
        label_names=tuple(f"concept{c:02d}" for c in range(config.num_labels)),
        fingerprint=fingerprint_arrays(arrays),
        synthetic=True,
        meta={
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
            "scale": scale,
            "config": asdict(config),
        },
    )


def _flatten(train: Split, query: Split, retrieval: Split) -> dict[str, np.ndarray]:
    arrays = {}
    for split_name, split in (("train", train), ("query", query), ("retrieval", retrieval)):
        arrays[f"{split_name}.labels"] = split.labels
        for modality, values in split.features.items():
            arrays[f"{split_name}.{modality}"] = values
    return arrays


def load_cached(config: SyntheticConfig, options: DatasetOptions) -> CrossModalDataset:
    """Load from the on-disk cache, generating and caching it on first use."""
    key = f"{config.name}-seed{options.seed}-scale{options.scale:g}-v{GENERATOR_VERSION}"
    folder = cache_folder(options, key)
    cached = read_cache(folder)
    if cached is not None:
        try:
            return _from_arrays(config, *cached)
        except KeyError:  # an entry from another layout: regenerate (the new one replaces it)
            shutil.rmtree(folder, ignore_errors=True)
    dataset = generate(config, seed=options.seed, scale=options.scale)
    extra = {"meta": dataset.meta, "label_names": list(dataset.label_names)}
    write_cache(folder, _flatten(dataset.train, dataset.query, dataset.retrieval), extra)
    return dataset


def _from_arrays(
    config: SyntheticConfig, arrays: dict[str, np.ndarray], meta: dict
) -> CrossModalDataset:
    def split(name: str) -> Split:
        return Split(
            features={m: arrays[f"{name}.{m}"] for m in MODALITIES},
            labels=arrays[f"{name}.labels"],
        )

    return CrossModalDataset(
        name=config.name,
        protocol=config.protocol,
        train=split("train"),
        query=split("query"),
        retrieval=split("retrieval"),
        label_names=tuple(meta["label_names"]),
        fingerprint=meta["fingerprint"],
        synthetic=True,
        meta=meta["meta"],
    )
