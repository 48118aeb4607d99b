"""Catching a run that changed the loaded dataset, and handing later runs clean data.

A dataset is loaded once per process and shared by the runs of a sweep. Methods get private
copies of their inputs (`hashbench.runner.tensors`), but a plugin runs with the rights of the
process and can still reach the dataset object itself (e.g. through `gc.get_objects()`) and,
say, set every query label to 1: every later run would then be scored against those labels.
So the harness takes a `content_digest` of the dataset (features and labels of every split,
and its descriptive fields) before a run and again after it; a run that changed it fails, and
the next run gets the data reloaded (`DatasetKeeper`).

The digest of each array is XXH3-128 (the `xxhash` package) over its bytes in C order, with
its dtype and shape: a fast non-cryptographic hash built for exactly this (changed bytes,
moved rows), at several GB/s (`benchmarks/dataset_guard.py` measures it against a run at
synth-nuswide scale). It detects changes; it is no defence against a plugin that sets out to
forge a collision (nothing in-process is: see the plugin contract in the README).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass

import numpy as np
import xxhash

from hashbench.data.types import CrossModalDataset
from hashbench.errors import PluginError

_CHUNK_BYTES = 64 << 20  # rows hashed per update when an array is not contiguous


def _array_digest(array: np.ndarray) -> str:
    """XXH3-128 of one array's bytes in C order (a copy of a chunk only for non-contiguous
    arrays)."""
    hasher = xxhash.xxh3_128()
    if array.flags.c_contiguous:
        hasher.update(memoryview(array.reshape(-1)).cast("B"))
        return hasher.hexdigest()
    rows = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
    step = max(1, _CHUNK_BYTES // max(1, rows.shape[1] * rows.itemsize))
    for start in range(0, len(rows), step):
        chunk = np.ascontiguousarray(rows[start : start + step])
        hasher.update(memoryview(chunk.reshape(-1)).cast("B"))
    return hasher.hexdigest()


def _parts(dataset: CrossModalDataset) -> Iterator[tuple[str, np.ndarray]]:
    for split_name in ("train", "query", "retrieval"):
        split = getattr(dataset, split_name)
        for modality in sorted(split.features):
            yield f"{split_name} {modality} features", split.features[modality]
        yield f"{split_name} labels", split.labels


def part_digests(dataset: CrossModalDataset) -> dict[str, str]:
    """A digest per part of `dataset`: each split's features per modality and labels, and
    "description" (name, protocol, task, label names, fingerprint, meta)."""
    out = {}
    for name, array in _parts(dataset):
        head = f"{array.dtype.str}|{array.shape}|"
        out[name] = head + _array_digest(array)
    description = (
        dataset.name, dataset.protocol, dataset.task, tuple(dataset.label_names),
        dataset.fingerprint, sorted((str(k), repr(v)) for k, v in dataset.meta.items()),
    )  # fmt: skip
    out["description"] = hashlib.blake2b(repr(description).encode(), digest_size=8).hexdigest()
    return out


@dataclass(frozen=True)
class Digest:
    """What `content_digest` returns: comparable as a whole, and says which parts differ."""

    parts: tuple[tuple[str, str], ...]

    def changed(self, other: Digest) -> list[str]:
        """The parts that differ from `other` (all of them when the layout differs)."""
        mine, theirs = dict(self.parts), dict(other.parts)
        return [name for name in mine.keys() | theirs.keys() if mine.get(name) != theirs.get(name)]


def content_digest(dataset: CrossModalDataset) -> Digest:
    return Digest(tuple(sorted(part_digests(dataset).items())))


def changed_message(method: str, dataset: CrossModalDataset, parts: list[str]) -> str:
    """The failure reason of a run whose method changed the dataset."""
    shown = ", ".join(sorted(parts)[:6]) + (", ..." if len(parts) > 6 else "")
    return (
        f"method '{method}' changed the dataset object in place during its run ({dataset.name}: "
        f"{shown}); the run is not stored as done and later runs get the data reloaded. A "
        "method must never modify the dataset: work on the inputs `fit`/`encode` receive."
    )


class DatasetKeeper:
    """The clean datasets of an in-process executor: verified before a run unless this very
    object was verified after the previous one; reloaded when they differ from the digest taken
    when they were first seen."""

    def __init__(self) -> None:
        self._reference: dict[str, Digest] = {}  # dataset fingerprint -> digest at first sight
        self._replacement: dict[str, CrossModalDataset] = {}  # fingerprint -> a clean reload
        self._verified: CrossModalDataset | None = None  # checked clean after the last run

    def clean(
        self,
        given: CrossModalDataset,
        reload: Callable[[], CrossModalDataset],
        shared: MutableMapping[str, CrossModalDataset] | None = None,
        key: str | None = None,
    ) -> tuple[CrossModalDataset, Digest]:
        """The dataset a run should get in place of `given`, and its verified digest.

        `reload` loads it afresh; `shared[key]` (the scheduler's map of loaded datasets) is
        pointed at a reload so the rest of the sweep sees it too.
        """
        fingerprint = given.fingerprint
        dataset = self._replacement.get(fingerprint, given)
        reference = self._reference.get(fingerprint)
        if reference is None:
            reference = self._reference[fingerprint] = content_digest(dataset)
            return dataset, reference
        if dataset is self._verified:
            return dataset, reference
        if content_digest(dataset) == reference:
            return dataset, reference
        fresh = reload()
        if content_digest(fresh) != reference:
            raise PluginError(
                f"dataset '{given.name}' was changed since it was loaded and reloading it gives "
                "other data (its files or cache changed?): run the sweep again"
            )
        self._replacement[fingerprint] = fresh
        if shared is not None and key is not None:
            shared[key] = fresh
        return fresh, reference

    def after_run(self, dataset: CrossModalDataset, unchanged: bool) -> None:
        """Record the check after a run: an unchanged dataset needs no check before the next."""
        self._verified = dataset if unchanged else None
