"""An atomic on-disk cache of named numpy arrays (generated or converted datasets).

An entry is a folder `$HASHBENCH_CACHE/datasets/<key>/` holding one `.npy` file per array and a
`meta.json` with the arrays' fingerprint plus whatever the caller adds. Entries are written to a
temporary folder and renamed into place, so a reader never sees half an entry, and two writers
racing for the same key keep the first. A damaged entry (missing file, fingerprint mismatch) is
removed on read and rebuilt by the caller; an unwritable cache only costs time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hashbench.data.types import DatasetOptions, fingerprint_arrays


def default_cache_dir() -> Path:
    """`HASHBENCH_CACHE`, else ~/.cache/hashbench."""
    env = os.environ.get("HASHBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "hashbench"


def cache_folder(options: DatasetOptions, key: str) -> Path:
    """The folder of cache entry `key` under the options' cache root."""
    return (options.cache_dir or default_cache_dir()) / "datasets" / key


def read_cache(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """(arrays, meta) of an entry, meta["fingerprint"] verified; None when absent or damaged
    (a damaged entry is removed)."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        arrays = {p.stem: np.load(p, allow_pickle=False) for p in folder.glob("*.npy")}
        if fingerprint_arrays(arrays) != meta["fingerprint"]:
            raise ValueError(f"cache entry {folder} does not match its fingerprint")
        return arrays, meta
    except (OSError, ValueError, KeyError, TypeError):
        shutil.rmtree(folder, ignore_errors=True)
        return None


def write_cache(
    folder: Path, arrays: Mapping[str, np.ndarray], extra: Mapping[str, Any] | None = None
) -> str:
    """Write the arrays (and `extra` into meta.json) atomically; return their fingerprint."""
    fingerprint = fingerprint_arrays(arrays)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        try:
            for key, value in arrays.items():
                np.save(tmp / f"{key}.npy", value)
            meta = {**(extra or {}), "fingerprint": fingerprint}
            (tmp / "meta.json").write_text(json.dumps(meta))
            if folder.exists():  # another process won the race; keep theirs
                shutil.rmtree(tmp)
            else:
                os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except OSError:
        pass
    return fingerprint
