"""The data model: splits with per-modality float32 features and multi-hot labels."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hashbench.errors import InputError


@dataclass(frozen=True)
class Split:
    """One split: `features[modality]` is float32 (n, d); `labels` is uint8 multi-hot (n, c)."""

    features: Mapping[str, np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def check(self, where: str) -> None:
        """Raise InputError when shapes, dtypes or values break the data model."""
        n = self.labels.shape[0]
        if self.labels.ndim != 2:
            raise InputError(
                f"{where}: labels must be 2-D (items x labels), got {self.labels.shape}"
            )
        for modality, feats in self.features.items():
            if feats.ndim != 2 or feats.shape[0] != n:
                raise InputError(
                    f"{where}: {modality} features have shape {feats.shape}; expected "
                    f"({n}, d) to match {n} label rows"
                )
            if feats.dtype != np.float32:
                raise InputError(f"{where}: {modality} features must be float32, got {feats.dtype}")
            if not np.isfinite(feats).all():
                raise InputError(f"{where}: {modality} features contain NaN or inf")
        if not np.isin(self.labels, (0, 1)).all():
            raise InputError(f"{where}: labels must be multi-hot 0/1")


@dataclass(frozen=True)
class CrossModalDataset:
    """Train / query / retrieval splits of paired items, plus a content fingerprint."""

    name: str
    protocol: str
    train: Split
    query: Split
    retrieval: Split
    label_names: tuple[str, ...]
    fingerprint: str
    synthetic: bool = False
    meta: Mapping[str, object] = field(default_factory=dict)
    # "cross-modal" (paired modalities) or "unimodal" (one modality; query and retrieval in it).
    # A unimodal dataset's `meta` may declare "retrieval_depth" (the R of mAP@R),
    # "input_shapes" ({modality: per-item shape of the flattened features}) and
    # "label_groups" ({name: [label indices]}: subsets also evaluated on their own).
    task: str = "cross-modal"

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.train.features)

    @property
    def feature_dims(self) -> dict[str, int]:
        return {m: int(f.shape[1]) for m, f in self.train.features.items()}

    @property
    def num_labels(self) -> int:
        return int(self.train.labels.shape[1])

    @property
    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-item shape of each modality's features before flattening (declared in meta)."""
        shapes: Mapping = self.meta.get("input_shapes") or {}  # type: ignore[assignment]
        return {m: tuple(int(d) for d in shape) for m, shape in shapes.items()}

    @property
    def retrieval_depth(self) -> int | None:
        """The R of the dataset's mAP@R protocol, when it declares one."""
        depth = self.meta.get("retrieval_depth")
        return int(depth) if depth is not None else None  # type: ignore[arg-type]

    def check(self) -> None:
        if self.task == "unimodal" and len(self.modalities) != 1:
            raise InputError(
                f"dataset {self.name!r} is unimodal but has modalities {self.modalities}"
            )
        for split_name in ("train", "query", "retrieval"):
            getattr(self, split_name).check(f"dataset {self.name!r}, {split_name} split")


def fingerprint_arrays(arrays: Mapping[str, np.ndarray]) -> str:
    """A short content hash of named arrays (names, shapes, dtypes and bytes)."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        digest.update(memoryview(arr).cast("B"))
    return digest.hexdigest()


@dataclass(frozen=True)
class DatasetOptions:
    """Options a dataset loader receives. `scale` shrinks every split (1.0 = the real sizes).

    `seed` also draws the standard split of real data that comes unsplit.
    """

    scale: float = 1.0
    seed: int = 0
    cache_dir: Path | None = None
    # Datasets read from files (hashbench.data.files): where files live and how to read them.
    data_root: Path | None = None
    trust_pickle: bool = False
    ucmfh_quirks: bool = False
    encoder: object | None = None  # an Encoder for datasets that hold raw images and captions


@dataclass
class CheckReport:
    """What `hashbench data check` prints: summary lines and soft findings (warnings)."""

    name: str
    lines: list[str]
    warnings: list[str]


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset a plugin registers: a name users type and a loader.

    `check`: the dataset's own validation for `hashbench data check` (load, validate, report;
    errors raise InputError); unimodal datasets read from files get a generic check without it.
    `preparable`: the loader reads the generic layout that `hashbench data prepare` writes to
    `<data root>/<name>/`, so that command accepts this name.
    `display_name`: how tables and figures for a paper name it ("MIRFlickr-25K"; a synthetic
    twin "MIRFlickr-25K (synthetic)"); empty: the name itself.
    """

    name: str
    summary: str
    protocol: str
    load: Callable[[DatasetOptions], CrossModalDataset]
    task: str = "cross-modal"
    synthetic: bool = False
    check: Callable[[DatasetOptions], CheckReport] | None = None
    preparable: bool = False
    display_name: str = ""

    def __post_init__(self) -> None:
        if not self.display_name:
            object.__setattr__(self, "display_name", self.name)
