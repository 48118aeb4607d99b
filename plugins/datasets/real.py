"""The real cross-modal datasets: mirflickr, nuswide, mscoco, read from files under the data
root (layouts in `real_files.py`), with `hashbench data check` for them.

Pre-made splits are used as they are; unsplit data gets the standard protocol split
(2000 query, 5000 train drawn from the retrieval set) from a seed, with the indices stored.
`ucmfh_quirks` cuts every split to a multiple of 128 rows, as UCMFH's released loaders do.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import numpy as np

import hashbench
from hashbench import DatasetSpec
from hashbench.data.files import STANDARD_QUERY, STANDARD_TRAIN, stored_split
from hashbench.data.leakage import query_copies, split_hashes
from hashbench.data.types import (
    CheckReport,
    CrossModalDataset,
    DatasetOptions,
    Split,
    fingerprint_arrays,
)
from hashbench.errors import InputError

from .real_files import REAL_DATASETS, SPLITS, read_located

QUIRK_BATCH = 128  # UCMFH's loaders drop the last incomplete batch of 128


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
        indices, stored = stored_split(name, content, len(unsplit), loaded.split_sizes, options)
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
    copies = query_copies(dataset)
    if copies.size:
        raise InputError(
            f"{where}: {copies.size} query item(s) also appear in the retrieval set "
            f"(first: query row {int(copies[0])}); queries must be held out ({meta['sources']})"
        )
    train_h, query_h, retrieval_h = (
        split_hashes(getattr(dataset, s), dataset.modalities) for s in SPLITS
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


# As papers name them in tables (REAL_DATASETS' `display` says more: "NUS-WIDE (top-10 ...)").
PAPER_NAMES = {"mirflickr": "MIRFlickr-25K", "nuswide": "NUS-WIDE", "mscoco": "MS COCO"}


@hashbench.hookimpl
def hashbench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name=name,
            summary=(
                f"{info.display} from files under --data-root / $HASHBENCH_DATA (UCMFH .pkl, "
                f"CIRH .mat or generic .npz/.h5); {info.num_labels} labels"
            ),
            protocol=name,
            load=partial(load_real, name),
            check=partial(check_real, name),
            preparable=True,
            display_name=PAPER_NAMES.get(name, info.display),
        )
        for name, info in REAL_DATASETS.items()
    ]
