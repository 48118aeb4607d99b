"""Leakage between splits: query items that also sit in the retrieval set.

A query with an exact copy in the retrieval set retrieves itself at distance 0 and inflates
every retrieval metric, so `hashbench run` and `hashbench tune` refuse a cross-modal dataset
with such a copy before any run, as `hashbench data check` does (the real datasets' check in
`plugins/datasets/real.py` uses these functions too). Rows are compared by a
vectorised 64-bit hash of their bytes; rows whose hashes match are compared byte for byte, so a
hash collision never refuses a clean dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hashbench.data.types import CrossModalDataset, Split
from hashbench.errors import InputError

# Odd 64-bit multipliers, one per 8-byte word of a row, from a fixed seed (the same everywhere).
_MULTIPLIER_SEED = 0x5EED


def _bytes(array: np.ndarray) -> np.ndarray:
    """The rows of a 2-D array as rows of bytes, padded to whole 8-byte words."""
    rows = np.ascontiguousarray(array).reshape(len(array), -1).view(np.uint8)
    pad = (-rows.shape[1]) % 8
    return np.hstack([rows, np.zeros((len(rows), pad), np.uint8)]) if pad else rows


def row_hashes(rows: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of a 2-D array (of any dtype), from all of its bytes."""
    words = _bytes(rows).view(np.uint64)
    rng = np.random.default_rng(_MULTIPLIER_SEED)
    multipliers = rng.integers(0, 2**63, size=words.shape[1], dtype=np.uint64) * 2 + 1
    out = np.zeros(words.shape[0], np.uint64)
    for start in range(0, len(words), 8192):  # bounded temporaries on large splits
        chunk = words[start : start + 8192]
        np.einsum("ij,j->i", chunk, multipliers, out=out[start : start + 8192])
    return out ^ (out >> np.uint64(29))


def split_hashes(split: Split, modalities: Sequence[str]) -> np.ndarray:
    """A 64-bit hash of each item of `split` over the features of `modalities`."""
    out = np.zeros(len(split), np.uint64)
    for m in modalities:
        out = out * np.uint64(0x9E3779B97F4A7C15) + row_hashes(split.features[m])
    return out


def _same_item(a: Split, i: int, b: Split, j: int, modalities: Sequence[str]) -> bool:
    return all(np.array_equal(a.features[m][i], b.features[m][j]) for m in modalities)


def query_copies(dataset: CrossModalDataset) -> np.ndarray:
    """Indices of query items with an exact copy (every modality) in the retrieval set."""
    modalities = dataset.modalities
    query, retrieval = dataset.query, dataset.retrieval
    q_hash, r_hash = split_hashes(query, modalities), split_hashes(retrieval, modalities)
    candidates = np.flatnonzero(np.isin(q_hash, r_hash))
    if not candidates.size:
        return candidates
    by_hash: dict[int, list[int]] = {}
    wanted = set(q_hash[candidates].tolist())
    for index in np.flatnonzero(np.isin(r_hash, list(wanted))):
        by_hash.setdefault(int(r_hash[index]), []).append(int(index))
    copies = [
        q
        for q in candidates
        if any(_same_item(query, q, retrieval, r, modalities) for r in by_hash[int(q_hash[q])])
    ]
    return np.asarray(copies, dtype=np.int64)


def check_no_query_copies(dataset: CrossModalDataset, where: str) -> None:
    """Refuse a cross-modal dataset whose query items also appear in its retrieval set."""
    if dataset.task != "cross-modal":
        return  # unimodal data: `hashbench data check` reports copies as a warning only
    copies = query_copies(dataset)
    if copies.size:
        raise InputError(
            f"{where}: {copies.size} query item(s) also appear in the retrieval set (first: "
            f"query row {int(copies[0])}); queries must be held out of the retrieval set. "
            "Fix the splits of the data (`hashbench data check` shows them)"
        )
