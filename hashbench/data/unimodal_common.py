"""Shared pieces of the real unimodal datasets (cifar10, dvs128-gesture, cifar10-dvs).

- the data root (`--data-root DIR` or `$HASHBENCH_DATA`, as for the cross-modal real datasets)
  and `--scale` checks;
- seeded, class-balanced draws of split indices;
- assembling a unimodal `CrossModalDataset` (one modality; query / retrieval / train, training
  items inside the retrieval set) with the meta conventions of synth-events: `input_shapes`,
  `retrieval_depth` (R of mAP@R) and optional `label_groups`;
- `hashbench data check` for these datasets (`check_unimodal`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from hashbench.data.files import DATA_ENV, data_root
from hashbench.data.leakage import row_hashes
from hashbench.data.types import (
    CheckReport,
    CrossModalDataset,
    DatasetOptions,
    Split,
    fingerprint_arrays,
)
from hashbench.errors import InputError

SPLITS = ("train", "query", "retrieval")


def require_root(options: DatasetOptions, name: str, display: str, expected: str) -> Path:
    """The data root as a directory, or an InputError saying how to give one."""
    root = data_root(options)
    if root is None:
        raise InputError(
            f"dataset '{name}' ({display}) is read from files under a data root, and none was "
            f"given: pass --data-root DIR or set {DATA_ENV}=DIR, where DIR holds {expected}"
        )
    if not root.is_dir():
        raise InputError(f"data root {root} is not a directory (--data-root / ${DATA_ENV})")
    return root


def check_scale(scale: float) -> float:
    if not 0 < scale <= 1:
        raise InputError(f"--scale must be in (0, 1], got {scale}")
    return float(scale)


def scaled(count: int, scale: float) -> int:
    """`count` shrunk by `scale`, rounded half up (at least 1)."""
    return max(1, math.floor(count * scale + 0.5))


def split_rng(name: str, seed: int) -> np.random.Generator:
    """The generator of a dataset's protocol split: the data seed and the dataset's name."""
    return np.random.default_rng([seed, zlib.crc32(f"{name}-split".encode())])


def draw(indices: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` of `indices` without replacement (sorted); all of them when count >= size."""
    if count >= indices.size:
        return np.sort(indices)
    return np.sort(rng.choice(indices, size=count, replace=False))


def by_class(labels: np.ndarray, num_classes: int, where: np.ndarray | None = None) -> list:
    """Item indices of each class (restricted to the boolean mask `where`)."""
    mask = np.ones(labels.size, bool) if where is None else where
    return [np.flatnonzero(mask & (labels == c)) for c in range(num_classes)]


def combine_fingerprint(content: str, splits: Mapping[str, np.ndarray]) -> str:
    """The dataset fingerprint: its content fingerprint and the split indices."""
    arrays = {f"{k}.index": np.asarray(v, np.int64) for k, v in splits.items()}
    arrays["content"] = np.frombuffer(content.encode(), np.uint8)
    return fingerprint_arrays(arrays)


def assemble(
    *,
    name: str,
    modality: str,
    features: Callable[[np.ndarray], np.ndarray],
    labels: np.ndarray,
    class_names: tuple[str, ...],
    splits: Mapping[str, np.ndarray],
    fingerprint: str,
    meta: dict,
) -> CrossModalDataset:
    """A unimodal dataset from source items. `features(idx)` gives float32 (len(idx), d) rows
    of the source items `idx`; `labels` are class ids of every source item; `splits` holds
    sorted source indices per split, with train a subset of retrieval."""
    one_hot = np.eye(len(class_names), dtype=np.uint8)
    retrieval_idx, train_idx = splits["retrieval"], splits["train"]
    retrieval_x = features(retrieval_idx)
    if np.array_equal(train_idx, retrieval_idx):
        train_x = retrieval_x  # the same items: share the array
    else:
        train_x = retrieval_x[np.searchsorted(retrieval_idx, train_idx)]
    dataset = CrossModalDataset(
        name=name,
        protocol=name,
        train=Split({modality: train_x}, one_hot[labels[train_idx]]),
        query=Split({modality: features(splits["query"])}, one_hot[labels[splits["query"]]]),
        retrieval=Split({modality: retrieval_x}, one_hot[labels[retrieval_idx]]),
        label_names=tuple(class_names),
        fingerprint=fingerprint,
        synthetic=False,
        meta=meta,
        task="unimodal",
    )
    dataset.check()
    return dataset


# --- `hashbench data check` ---------------------------------------------------------------


def check_unimodal(name: str, dataset: CrossModalDataset) -> CheckReport:
    """Summarise and validate a loaded real unimodal dataset.

    Errors (InputError): a training item outside the retrieval set. Warnings: split sizes
    unlike the protocol's (meta `protocol_sizes`, at scale 1), classes missing from a split,
    query items whose exact copy is in the retrieval set.
    """
    meta = dataset.meta
    (modality,) = dataset.modalities
    shape = "x".join(str(d) for d in dataset.input_shapes.get(modality, ()))
    lines = [
        f"{name} ({meta.get('display', name)}): {meta.get('layout')} in {meta.get('directory')}",
        f"fingerprint {dataset.fingerprint}",
        f"task unimodal, modality '{modality}' ({shape} per item), mAP@{dataset.retrieval_depth}",
        f"split: {meta.get('split', {}).get('kind', '?')}",
    ]
    if meta.get("cache"):
        lines.append(f"cache: {meta['cache']}")
    warnings = []
    for split_name in SPLITS:
        split = getattr(dataset, split_name)
        counts = split.labels.sum(0)
        feats = split.features[modality]
        lines.append(
            f"  {split_name:9} {len(split):>7,} items; {feats.shape[1]:,} values {feats.dtype} "
            f"in [{feats.min():g}, {feats.max():g}]; per class {counts.min()}-{counts.max()}"
        )
        empty = [dataset.label_names[c] for c in np.flatnonzero(counts == 0)]
        if empty:
            warnings.append(f"{split_name}: no item of class(es) {', '.join(empty)}")
    expected = meta.get("protocol_sizes") or {}
    if meta.get("scale", 1.0) == 1.0:
        for split_name, size in expected.items():
            got = len(getattr(dataset, split_name))
            if got != size:
                warnings.append(
                    f"{split_name} split has {got:,} items; the protocol on the full dataset has "
                    f"{size:,} (the files hold a different number of items)"
                )
    for group, ids in (meta.get("label_groups") or {}).items():
        lines.append(f"  label group {group}: classes {list(ids)}")
    train_h, query_h, retrieval_h = (
        row_hashes(getattr(dataset, s).features[modality]) for s in SPLITS
    )
    if not np.isin(train_h, retrieval_h).all():
        raise InputError(f"dataset '{name}': training items are missing from the retrieval set")
    lines.append("  overlap: every training item is in the retrieval set")
    copies = int(np.isin(query_h, retrieval_h).sum())
    if copies:
        warnings.append(f"{copies} query item(s) have an exact copy in the retrieval set")
    else:
        lines.append("  overlap: no query item has an exact copy in the retrieval set")
    return CheckReport(name, lines, warnings)
