"""Shared steps of datasets read from files, for any dataset plugin: where the files live (the
data root) and the standard protocol split of data that comes unsplit, stored in the cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hashbench.data.array_cache import default_cache_dir
from hashbench.data.types import DatasetOptions
from hashbench.errors import InputError

DATA_ENV = "HASHBENCH_DATA"
STANDARD_QUERY, STANDARD_TRAIN = 2000, 5000  # the cross-modal protocol's split sizes


def data_root(options: DatasetOptions) -> Path | None:
    """`--data-root`, else `$HASHBENCH_DATA`, else None."""
    if options.data_root is not None:
        return Path(options.data_root).expanduser()
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else None


def standard_split_indices(n: int, n_query: int, n_train: int, seed: int) -> dict[str, np.ndarray]:
    """The protocol split from a seed: query, retrieval (the rest), train (from retrieval)."""
    if n_query < 1 or n_train < 1:
        raise InputError(f"split sizes must be positive (query {n_query}, train {n_train})")
    if n <= n_query or n - n_query < n_train:
        raise InputError(
            f"the standard split needs {n_query} query items and {n_train} training items drawn "
            f"from the rest, but the data has only {n} items; set smaller sizes in the "
            'manifest\'s \'split\' (e.g. {"query": 200, "train": 500})'
        )
    rng = np.random.default_rng([seed, 0x5EED])
    order = rng.permutation(n)
    query, retrieval = np.sort(order[:n_query]), np.sort(order[n_query:])
    train = retrieval[np.sort(rng.choice(retrieval.size, size=n_train, replace=False))]
    return {"query": query, "retrieval": retrieval, "train": train}


def stored_split(
    name: str, content: str, n: int, sizes: tuple[int, int], options: DatasetOptions
) -> tuple[dict[str, np.ndarray], Path | None]:
    """The standard split's indices, stored in the cache (reused when already there).

    `content`: a fingerprint of the unsplit data; `sizes`: (query, train). Returns the indices
    and the file holding them (None when the cache is not writable).
    """
    seed = options.seed
    cache = (options.cache_dir or default_cache_dir()) / "splits"
    path = cache / f"{name}-{content[:16]}-seed{seed}-q{sizes[0]}-t{sizes[1]}.npz"
    if path.is_file():
        try:
            with np.load(path) as stored:
                return {k: stored[k] for k in ("query", "retrieval", "train")}, path
        except (OSError, ValueError, KeyError):
            pass  # damaged: recompute below
    indices = standard_split_indices(n, sizes[0], sizes[1], seed)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **indices)
        os.replace(tmp, path)
    except OSError:
        return indices, None
    return indices, path
