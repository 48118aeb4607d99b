"""Real datasets (MIRFlickr-25K, NUS-WIDE, MS COCO) read from files as users have them.

A data root (`--data-root DIR` or `$HASHBENCH_DATA`) holds the files; three layouts are read
as they are, tried in this order:

- generic: `<dir>/hashbench.json`, a manifest naming arrays in one `.npz` or `.h5` file (and
  optionally raw images and captions for an encoder); see docs/datasets.md for its format.
- CIRH: `<dir>/{mir,nus,COCO}_{train,query,database}.mat` with keys I_tr/T_tr/L_tr,
  I_te/T_te/L_te and I_db/T_db/L_db (MATLAB v5 through scipy, v7.3 through h5py).
- UCMFH: `<root>/{mirflickr,nus-wide,mscoco}/{train,query,retrieval}.pkl`, dicts with `image`,
  `text` and `label` (pickles run code: refused unless trusted).

`<dir>` is tried as `<root>/<alias>` for each of the dataset's folder names, then `<root>`
itself. Pre-made splits are used as they are; unsplit data gets the standard protocol split
(2000 query, 5000 train drawn from the retrieval set) from a seed, with the indices stored.
`ucmfh_quirks` cuts every split to a multiple of 128 rows, as UCMFH's released loaders do.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hashbench.data.formats import (
    as_features,
    as_labels,
    check_rows,
    read_arrays,
    read_mat,
    read_pickle,
)
from hashbench.data.types import CrossModalDataset, DatasetOptions, Split, fingerprint_arrays
from hashbench.errors import InputError

DATA_ENV = "HASHBENCH_DATA"
MANIFEST = "hashbench.json"
MANIFEST_FORMAT = "hashbench-dataset"
SPLITS = ("train", "query", "retrieval")
MODALITIES = ("image", "text")
QUIRK_BATCH = 128  # UCMFH's loaders drop the last incomplete batch of 128


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
STANDARD_QUERY, STANDARD_TRAIN = 2000, 5000


def data_root(options: DatasetOptions) -> Path | None:
    if options.data_root is not None:
        return Path(options.data_root).expanduser()
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else None


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


def read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{path}: key 'format' must be \"{MANIFEST_FORMAT}\"")
    return manifest


def _manifest_keys(manifest: dict, path: Path, where: str, need_features: bool) -> dict[str, str]:
    keys = manifest.get(where) if where == "arrays" else manifest["splits"].get(where)
    if not isinstance(keys, dict):
        raise InputError(f"{path}: key '{where}' must map image/text/labels to array names")
    wanted = ("image", "text", "labels") if need_features else ("labels",)
    for name in wanted:
        if not isinstance(keys.get(name), str):
            raise InputError(f"{path}: key '{where}.{name}' is missing (the array's name)")
    return keys


def _read_generic(info: RealDataset, located: Located, encoder: object | None) -> Loaded:
    path = located.files["manifest"]
    manifest = read_manifest(path)
    data_file = manifest.get("file")
    if not isinstance(data_file, str):
        raise InputError(f"{path}: key 'file' is missing (the .npz or .h5 file, relative)")
    arrays_path = (path.parent / data_file).resolve()
    if not arrays_path.is_file():
        raise InputError(f"{path}: key 'file' names {arrays_path}, which does not exist")
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
            keys = _manifest_keys(manifest, path, split, need_features=True)
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
    keys = _manifest_keys(manifest, path, "arrays", need_features=not use_raw)
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


def read_raw_items(manifest_path: Path, raw: dict) -> tuple[list[Path], list[str]]:
    """Image paths and texts of a manifest's `raw` section (a JSON-lines file of items)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("items"), str):
        raise InputError(f"{manifest_path}: key 'raw.items' must name a JSON-lines file")
    items_path = manifest_path.parent / raw["items"]
    image_dir = Path(raw.get("image_dir", "."))
    if not image_dir.is_absolute():
        image_dir = manifest_path.parent / image_dir
    images, texts = [], []
    try:
        lines = items_path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(
            f"{manifest_path}: key 'raw.items': cannot read {items_path} ({exc})"
        ) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            images.append(image_dir / item["image"])
            texts.append(str(item["text"]))
        except (ValueError, KeyError, TypeError):
            raise InputError(
                f"{items_path}: line {number} must be JSON with keys 'image' and 'text'"
            ) from None
    missing = [p for p in images if not p.is_file()]
    if missing:
        raise InputError(f"{items_path}: {len(missing)} image(s) not found, first: {missing[0]}")
    return images, texts


# --- protocol split -----------------------------------------------------------------------


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


def _store_split(
    info: RealDataset, content: str, n: int, sizes: tuple[int, int], options: DatasetOptions
) -> tuple[dict[str, np.ndarray], Path | None]:
    """The standard split's indices, stored in the cache (reused when already there)."""
    from hashbench.data.array_cache import default_cache_dir

    seed = options.seed
    cache = (options.cache_dir or default_cache_dir()) / "splits"
    path = cache / f"{info.name}-{content[:16]}-seed{seed}-q{sizes[0]}-t{sizes[1]}.npz"
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


def apply_quirks(splits: dict[str, Split], where: str) -> dict[str, Split]:
    """UCMFH's released code: every split cut to a multiple of 128 rows (drop_last batches)."""
    out = {}
    for name, split in splits.items():
        keep = len(split) // QUIRK_BATCH * QUIRK_BATCH
        if keep == 0:
            raise InputError(
                f"{where}: --ucmfh-quirks drops incomplete batches of {QUIRK_BATCH}, but the "
                f"{name} split has only {len(split)} items"
            )
        out[name] = Split(
            features={m: f[:keep] for m, f in split.features.items()}, labels=split.labels[:keep]
        )
    return out


def _take(split: Split, idx: np.ndarray) -> Split:
    return Split(features={m: f[idx] for m, f in split.features.items()}, labels=split.labels[idx])


def load_real(name: str, options: DatasetOptions) -> CrossModalDataset:
    """Load `name` from the data root in whichever layout is there."""
    info = REAL_DATASETS[name]
    if options.scale != 1.0:
        raise InputError(
            f"--scale applies to synthetic datasets only; '{name}' is read from files at full "
            "size (use the manifest's 'split' sizes for a smaller trial)"
        )
    located, loaded = read_located(info, options)
    where = f"dataset '{name}' ({located.layout} layout, {located.directory})"
    meta: dict = {
        "layout": located.layout,
        "directory": str(located.directory),
        "sources": loaded.sources,
        **loaded.extra_meta,
    }
    if loaded.splits is not None:
        splits = loaded.splits
        meta["split"] = "pre-made (as in the files)"
    else:
        unsplit = loaded.unsplit
        content = fingerprint_arrays(
            {"image": unsplit.features["image"], "text": unsplit.features["text"],
             "labels": unsplit.labels}
        )  # fmt: skip
        indices, stored = _store_split(info, content, len(unsplit), loaded.split_sizes, options)
        splits = {split: _take(unsplit, indices[split]) for split in SPLITS}
        meta["split"] = {
            "kind": "standard protocol split",
            "seed": options.seed,
            "query": loaded.split_sizes[0],
            "train": loaded.split_sizes[1],
            "indices_file": str(stored) if stored else None,
        }
    _check_consistent(splits, where)
    if options.ucmfh_quirks:
        splits = apply_quirks(splits, where)
        meta["ucmfh_quirks"] = True
    num_labels = splits["train"].labels.shape[1]
    label_names = loaded.label_names or tuple(f"label{c:02d}" for c in range(num_labels))
    if len(label_names) != num_labels:
        raise InputError(f"{where}: {len(label_names)} label names for {num_labels} label columns")
    arrays = {}
    for split_name, split in splits.items():
        arrays[f"{split_name}.labels"] = split.labels
        for modality, values in split.features.items():
            arrays[f"{split_name}.{modality}"] = values
    dataset = CrossModalDataset(
        name=name,
        protocol=name,
        train=splits["train"],
        query=splits["query"],
        retrieval=splits["retrieval"],
        label_names=tuple(label_names),
        fingerprint=fingerprint_arrays(arrays),
        synthetic=False,
        meta=meta,
    )
    dataset.check()
    return dataset


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


def _check_consistent(splits: Mapping[str, Split], where: str) -> None:
    """Feature dimensions and label columns must agree across splits."""
    for attr, what in (("image", "image feature dims"), ("text", "text feature dims")):
        dims = {s: int(split.features[attr].shape[1]) for s, split in splits.items()}
        if len(set(dims.values())) > 1:
            raise InputError(f"{where}: {what} differ across splits: {dims}")
    cols = {s: int(split.labels.shape[1]) for s, split in splits.items()}
    if len(set(cols.values())) > 1:
        raise InputError(f"{where}: label columns differ across splits: {cols}")


# --- `hashbench data check` ---------------------------------------------------------------


def _row_hashes(split: Split) -> np.ndarray:
    """A 64-bit hash of each item's (image, text) features."""
    both = np.ascontiguousarray(np.hstack([split.features["image"], split.features["text"]]))
    return np.array(
        [int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little")
         for row in both],
        dtype=np.uint64,
    )  # fmt: skip


@dataclass
class CheckReport:
    name: str
    lines: list[str]
    warnings: list[str]


def check_real(name: str, options: DatasetOptions) -> CheckReport:
    """Load and validate; errors raise InputError, soft findings are warnings in the report."""
    info = REAL_DATASETS[name]
    dataset = load_real(name, options)
    meta = dataset.meta
    where = f"dataset '{name}'"
    lines = [
        f"{name} ({info.display}): {meta['layout']} layout in {meta['directory']}",
        f"fingerprint {dataset.fingerprint}",
    ]
    split_info = meta["split"]
    if isinstance(split_info, dict):
        lines.append(
            f"split: standard protocol split, seed {split_info['seed']}, indices stored at "
            f"{split_info['indices_file'] or '(cache not writable)'}"
        )
    else:
        lines.append(f"split: {split_info}")
    if meta.get("ucmfh_quirks"):
        lines.append("UCMFH released-code quirks on: every split cut to a multiple of 128 rows")
    warnings = []
    for split_name in SPLITS:
        split = getattr(dataset, split_name)
        per_item = split.labels.sum(1)
        dims = ", ".join(f"{m} {f.shape[1]}-d {f.dtype}" for m, f in split.features.items())
        lines.append(
            f"  {split_name:9} {len(split):>7,} items; {dims}; labels {split.labels.shape[1]} "
            f"cols uint8, {per_item.mean():.2f} per item"
        )
        empty = int((per_item == 0).sum())
        if empty:
            warnings.append(f"{split_name}: {empty} item(s) have no label (never relevant)")
    if dataset.num_labels != info.num_labels:
        warnings.append(
            f"{dataset.num_labels} label columns; the {info.display} protocol has {info.num_labels}"
        )
    unused = np.flatnonzero(
        sum(getattr(dataset, s).labels.sum(0, dtype=np.int64) for s in SPLITS) == 0
    )
    if unused.size:
        warnings.append(f"{unused.size} label column(s) are never used: {unused[:10].tolist()}")
    if not meta.get("ucmfh_quirks"):
        if len(dataset.query) != STANDARD_QUERY:
            warnings.append(f"query split has {len(dataset.query)} items; the protocol uses 2000")
        if len(dataset.train) != STANDARD_TRAIN:
            warnings.append(f"train split has {len(dataset.train)} items; the protocol uses 5000")
    expected_retrieval = info.total_items - STANDARD_QUERY
    if len(dataset.retrieval) != expected_retrieval and not meta.get("ucmfh_quirks"):
        warnings.append(
            f"retrieval split has {len(dataset.retrieval):,} items; the real {info.display} has "
            f"{expected_retrieval:,}"
        )
    train_h, query_h, retrieval_h = (_row_hashes(getattr(dataset, s)) for s in SPLITS)
    in_retrieval = np.isin(query_h, retrieval_h)
    if in_retrieval.any():
        first = int(np.flatnonzero(in_retrieval)[0])
        raise InputError(
            f"{where}: {int(in_retrieval.sum())} query item(s) also appear in the retrieval set "
            f"(first: query row {first}); queries must be held out ({meta['sources']})"
        )
    lines.append("  overlap: no query item is in the retrieval set")
    train_in = float(np.isin(train_h, retrieval_h).mean())
    lines.append(f"  overlap: {train_in:.1%} of training items are in the retrieval set")
    if train_in < 1.0:
        warnings.append(
            f"{1 - train_in:.1%} of training items are not in the retrieval set (the protocol "
            "draws training items from it)"
        )
    if np.isin(train_h, query_h).any():
        raise InputError(f"{where}: training items appear in the query set")
    return CheckReport(name, lines, warnings)
