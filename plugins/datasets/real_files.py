"""The real cross-modal datasets on disk (MIRFlickr-25K, NUS-WIDE, MS COCO): what each name
means, where its files are found and how each layout is read.

A data root (`--data-root DIR` or `$HASHBENCH_DATA`) holds the files; three layouts are read
as they are, tried in this order:

- generic: `<dir>/hashbench.json`, a manifest naming arrays in one `.npz` or `.h5` file (and
  optionally raw images and captions for an encoder); see docs/datasets.md for its format.
- CIRH: `<dir>/{mir,nus,COCO}_{train,query,database}.mat` with keys I_tr/T_tr/L_tr,
  I_te/T_te/L_te and I_db/T_db/L_db (MATLAB v5 through scipy, v7.3 through h5py).
- UCMFH: `<root>/{mirflickr,nus-wide,mscoco}/{train,query,retrieval}.pkl`, dicts with `image`,
  `text` and `label` (pickles run code: refused unless trusted).

`<dir>` is tried as `<root>/<alias>` for each of the dataset's folder names, then `<root>`
itself. `real.py` turns what is read into a dataset (split, quirks, checks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hashbench.data.files import DATA_ENV, STANDARD_QUERY, STANDARD_TRAIN, data_root
from hashbench.data.formats import (
    as_features,
    as_labels,
    check_rows,
    read_arrays,
    read_mat,
    read_pickle,
)
from hashbench.data.manifest import (
    MANIFEST,
    arrays_file,
    manifest_keys,
    read_manifest,
    read_raw_items,
)
from hashbench.data.types import DatasetOptions, Split
from hashbench.errors import InputError

SPLITS = ("train", "query", "retrieval")
MODALITIES = ("image", "text")


@dataclass(frozen=True)
class RealDataset:
    """What a protocol name means on disk."""

    name: str
    display: str
    num_labels: int
    total_items: int
    folders: tuple[str, ...]  # folder names tried under the data root
    ucmfh_folder: str
    cirh_prefix: str
    twin: str


REAL_DATASETS = {
    "mirflickr": RealDataset(
        "mirflickr", "MIRFlickr-25K", 24, 20015, ("mirflickr", "mir", "MIRFlickr"),
        "mirflickr", "mir", "synth-mirflickr",
    ),
    "nuswide": RealDataset(
        "nuswide", "NUS-WIDE (top-10 concepts)", 10, 186577, ("nuswide", "nus-wide", "nus"),
        "nus-wide", "nus", "synth-nuswide",
    ),
    "mscoco": RealDataset(
        "mscoco", "MS COCO", 80, 123287, ("mscoco", "coco", "COCO"), "mscoco", "COCO",
        "synth-mscoco",
    ),
}  # fmt: skip

# CIRH file suffix and key suffix of each split.
CIRH_SPLITS = {"train": ("train", "tr"), "query": ("query", "te"), "retrieval": ("database", "db")}


def candidate_dirs(info: RealDataset, root: Path) -> list[Path]:
    return [root / folder for folder in info.folders] + [root]


@dataclass
class Located:
    """A layout found on disk."""

    layout: str  # generic | cirh | ucmfh
    directory: Path
    files: dict[str, Path] = field(default_factory=dict)


def _cirh_files(info: RealDataset, directory: Path) -> dict[str, Path]:
    return {
        split: directory / f"{info.cirh_prefix}_{suffix}.mat"
        for split, (suffix, _) in CIRH_SPLITS.items()
    }


def locate(info: RealDataset, root: Path) -> Located:
    """Find the dataset's files under `root`, or fail listing everything that was looked for."""
    looked: list[str] = []
    for directory in candidate_dirs(info, root):
        manifest = directory / MANIFEST
        looked.append(f"  generic: {manifest}")
        if manifest.is_file():
            return Located("generic", directory, {"manifest": manifest})
    for directory in candidate_dirs(info, root):
        files = _cirh_files(info, directory)
        looked.append(
            f"  CIRH:    {directory / (info.cirh_prefix + '_{train,query,database}.mat')}"
        )
        present = [p for p in files.values() if p.is_file()]
        if len(present) == len(files):
            return Located("cirh", directory, files)
        if present:
            missing = ", ".join(str(p) for p in files.values() if not p.is_file())
            raise InputError(f"dataset '{info.name}': CIRH layout is incomplete, missing {missing}")
    directory = root / info.ucmfh_folder
    files = {split: directory / f"{split}.pkl" for split in SPLITS}
    looked.append(f"  UCMFH:   {directory / '{train,query,retrieval}.pkl'}")
    if all(p.is_file() for p in files.values()):
        return Located("ucmfh", directory, files)
    raise InputError(missing_files_message(info, root, looked))


def missing_files_message(info: RealDataset, root: Path | None, looked: list[str]) -> str:
    where = f"under {root}" if root is not None else "(no data root given)"
    lines = [f"dataset '{info.name}' ({info.display}): no files found {where}."]
    if root is None:
        lines.append(f"Pass --data-root DIR or set {DATA_ENV}=DIR.")
    else:
        lines.append("Looked for:")
        lines.extend(looked)
    lines.append(
        "Prepare them by copying the reference files as they are (UCMFH pickles or CIRH .mat "
        f"files), or build the generic layout from raw images: `hashbench data prepare "
        f"{info.name} --images DIR --captions FILE --labels FILE --data-root DIR` "
        "(docs/datasets.md)."
    )
    lines.append(f"Without the real files, the synthetic twin '{info.twin}' runs anywhere.")
    return "\n".join(lines)


# --- reading each layout ------------------------------------------------------------------


@dataclass
class Loaded:
    """Arrays read from disk, before the protocol split: either split or unsplit."""

    splits: dict[str, Split] | None
    unsplit: Split | None
    label_names: tuple[str, ...] | None
    sources: dict[str, str]
    split_sizes: tuple[int, int] = (STANDARD_QUERY, STANDARD_TRAIN)
    extra_meta: dict = field(default_factory=dict)


def _split_from(path: Path, arrays: Mapping[str, np.ndarray], keys: Mapping[str, str]) -> Split:
    """keys: image/text/labels -> the array name in the file."""
    checked = {
        "image": as_features(arrays[keys["image"]], path, keys["image"]),
        "text": as_features(arrays[keys["text"]], path, keys["text"]),
        "labels": as_labels(arrays[keys["labels"]], path, keys["labels"]),
    }
    check_rows(path, {keys[k]: v for k, v in checked.items()})
    return Split(features={m: checked[m] for m in MODALITIES}, labels=checked["labels"])


def _read_cirh(info: RealDataset, located: Located) -> Loaded:
    splits = {}
    for split, (_, key_suffix) in CIRH_SPLITS.items():
        path = located.files[split]
        keys = {"image": f"I_{key_suffix}", "text": f"T_{key_suffix}", "labels": f"L_{key_suffix}"}
        splits[split] = _split_from(path, read_mat(path, list(keys.values())), keys)
    sources = {split: str(p) for split, p in located.files.items()}
    return Loaded(splits=splits, unsplit=None, label_names=None, sources=sources)


def _read_ucmfh(info: RealDataset, located: Located, trust: bool) -> Loaded:
    splits = {}
    for split in SPLITS:
        path = located.files[split]
        arrays = read_pickle(path, ("image", "text", "label"), trust=trust)
        splits[split] = _split_from(
            path, arrays, {"image": "image", "text": "text", "labels": "label"}
        )
    sources = {split: str(p) for split, p in located.files.items()}
    return Loaded(splits=splits, unsplit=None, label_names=None, sources=sources)


def _read_generic(info: RealDataset, located: Located, encoder: object | None) -> Loaded:
    path = located.files["manifest"]
    manifest = read_manifest(path)
    arrays_path = arrays_file(path, manifest)
    raw = manifest.get("raw")
    use_raw = encoder is not None
    if use_raw and not raw:
        raise InputError(
            f"{path}: an encoder was requested but the manifest has no 'raw' images and "
            "captions to encode; its arrays already hold features (drop --encoder)"
        )
    label_names = manifest.get("label_names")
    label_names = tuple(label_names) if isinstance(label_names, list) else None
    sizes = manifest.get("split", {})
    split_sizes = (int(sizes.get("query", STANDARD_QUERY)), int(sizes.get("train", STANDARD_TRAIN)))
    sources = {"manifest": str(path), "file": str(arrays_path)}
    if "splits" in manifest:
        if use_raw:
            raise InputError(f"{path}: 'raw' items are supported for unsplit data only")
        splits = {}
        for split in SPLITS:
            keys = manifest_keys(manifest, path, split, need_features=True)
            loaded = read_arrays(arrays_path, [keys["image"], keys["text"], keys["labels"]])
            splits[split] = _split_from(arrays_path, loaded, keys)
        return Loaded(splits, None, label_names, sources, split_sizes)
    has_features = isinstance(manifest.get("arrays"), dict) and all(
        isinstance(manifest["arrays"].get(m), str) for m in MODALITIES
    )
    if not use_raw and not has_features:
        if raw:
            raise InputError(
                f"dataset '{info.name}' at {path.parent} holds raw images and captions; encode "
                "them with --encoder clip --clip-model NAME --clip-checkpoint FILE"
            )
        raise InputError(f"{path}: needs 'splits' or 'arrays' naming image/text/labels arrays")
    keys = manifest_keys(manifest, path, "arrays", need_features=not use_raw)
    if not use_raw:
        loaded = read_arrays(arrays_path, [keys["image"], keys["text"], keys["labels"]])
        unsplit = _split_from(arrays_path, loaded, keys)
        return Loaded(None, unsplit, label_names, sources, split_sizes)
    labels = as_labels(read_arrays(arrays_path, [keys["labels"]])[keys["labels"]], arrays_path,
                       keys["labels"])  # fmt: skip
    images, texts = read_raw_items(path, raw)
    if len(images) != labels.shape[0]:
        raise InputError(
            f"{path}: row counts differ: {len(images)} raw items but {labels.shape[0]} label rows "
            f"in {arrays_path} key '{keys['labels']}'"
        )
    feats = {
        "image": as_features(encoder.encode("image", images), path, "raw images (encoded)"),
        "text": as_features(encoder.encode("text", texts), path, "raw texts (encoded)"),
    }
    extra = {"encoder": getattr(encoder, "identity", type(encoder).__name__)}
    return Loaded(None, Split(feats, labels), label_names, sources, split_sizes, extra)


def read_located(info: RealDataset, options: DatasetOptions) -> tuple[Located, Loaded]:
    root = data_root(options)
    if root is None:
        raise InputError(missing_files_message(info, None, []))
    if not root.is_dir():
        raise InputError(f"data root {root} is not a directory (--data-root / ${DATA_ENV})")
    located = locate(info, root)
    readers: dict[str, Callable[[], Loaded]] = {
        "generic": lambda: _read_generic(info, located, options.encoder),
        "cirh": lambda: _read_cirh(info, located),
        "ucmfh": lambda: _read_ucmfh(info, located, options.trust_pickle),
    }
    if options.encoder is not None and located.layout != "generic":
        raise InputError(
            f"dataset '{info.name}': --encoder needs raw images and captions (the generic layout "
            f"from `hashbench data prepare`), but {located.directory} holds {located.layout} "
            "files that already contain features; drop --encoder"
        )
    return located, readers[located.layout]()
