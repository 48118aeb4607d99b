"""dvs128-gesture and cifar10-dvs: event datasets read through spikingjelly from user files.

This module assembles the benchmark dataset (cache, protocol split, metadata); finding and
reading the files, and the catalogue of the two datasets, are in `_dvs_files.py` (re-exported).

spikingjelly (2.x) prepares a neuromorphic dataset inside one folder, in stages:

    download/    the original archives (checked against spikingjelly's MD5 sums)
    extract/     the archives unpacked (made from download/)
    events_np/   one .npz of events (t, x, y, p) per sample (made from extract/)
    frames_number_<T>_split_by_number/   the events integrated into T frames of 2 x 128 x 128

download/, events_np/ or the frames folder is enough (extract/ alone is not: spikingjelly
insists on the archives); spikingjelly builds the later stages in that folder (so it must be
writable the first time). The folder is `<root>/<name>` (or an alias: `DVS128Gesture`,
`dvs_gesture`; `CIFAR10DVS`, `cifar10_dvs`), then `<root>` itself. hashbench finds the stage
*before* calling spikingjelly, so spikingjelly never reaches its download code: without files
the error lists every path looked for and how to get the data. As a second guard the
spikingjelly classes are subclassed with their download hooks replaced by errors.

Frames: spikingjelly integrates each sample's events into T = 16 frames with an equal number of
events each (`data_type='frame', frames_number=16, split_by='number'`; T = 16 as the Spikinghash
paper uses for both datasets). Each 128 x 128 frame is sum-pooled 4 x 4 to 32 x 32 (event counts
per pixel block and polarity, not normalised) to keep memory low (CIFAR10-DVS: 10,000 items x
32,768 float32 values = 1.3 GB); the per-item shape (16, 2, 32, 32) is declared in the meta.

Splits: query = the test set, database = the training set, training items = the whole
database. DVS128 Gesture: spikingjelly's official split (trials_to_train / trials_to_test:
1,176 / 288). CIFAR10-DVS has no official split; the paper splits 9:1 following Spikingformer:
per class the first 90% (ceil) in spikingjelly's sample order (sorted file names) train, the rest
test, the split `spikingjelly.datasets.split_to_train_test_set(0.9, dataset, 10)` makes (9,000 /
1,000). The paper reports only classification on these two datasets, so R = 100 is hashbench's
choice (the paper's R for HARDVS, as synth-events). `--scale s` draws round(s x n) items per
class of each split (seeded) and uses R = round(100 s).

The pooled frames are cached (as uint16 counts, uint32 if needed) under
`$HASHBENCH_CACHE/datasets/`, keyed by the folder, the frame files' names, sizes and
modification times, T and the resolution; a damaged entry is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from hashbench.data.array_cache import cache_folder, read_cache, write_cache
from hashbench.data.types import CrossModalDataset, DatasetOptions
from hashbench.data.unimodal_common import (
    assemble,
    by_class,
    check_scale,
    combine_fingerprint,
    draw,
    require_root,
    scaled,
    split_rng,
)
from hashbench.errors import InputError

from ._dvs_files import (
    CIFAR10_CLASSES,
    DVS_DATASETS,
    FRAMES,
    GESTURE_CLASSES,
    MODALITY,
    RETRIEVAL_DEPTH,
    SENSOR,
    SIZE,
    STAGES,
    DVSInfo,
    _resources,
    _spikingjelly_class,
    locate,
    pooled_frames,
    spikingjelly_samples,
    verify_downloads,
)

__all__ = [
    "CIFAR10_CLASSES",
    "DVS_DATASETS",
    "FRAMES",
    "GESTURE_CLASSES",
    "MODALITY",
    "RETRIEVAL_DEPTH",
    "SENSOR",
    "SIZE",
    "STAGES",
    "DVSInfo",
    "_resources",
    "_spikingjelly_class",
    "compact_arrays",
    "load_dvs",
    "locate",
    "pooled_frames",
    "protocol_split",
    "spikingjelly_samples",
    "verify_downloads",
]

CACHE_VERSION = 1  # bump when the cached arrays change for the same files


def _signature(info: DVSInfo, directory: Path, samples: list) -> str:
    """The frame files (folder, names, sizes, modification times), labels and settings."""
    listing = []
    for path, label, test in samples:
        stat = Path(path).stat()
        listing.append((str(Path(path).relative_to(directory)), stat.st_size, stat.st_mtime_ns,
                        int(label), bool(test)))  # fmt: skip
    settings = [info.frames, info.size, info.sensor, CACHE_VERSION, str(directory.resolve())]
    blob = json.dumps([settings, listing])
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


def compact_arrays(info: DVSInfo, directory: Path, options: DatasetOptions) -> tuple:
    """(arrays, content fingerprint, cache folder): pooled frames, class ids, is-test flags."""
    samples, loader = spikingjelly_samples(info, directory)
    if not samples:
        raise InputError(f"dataset '{info.name}': spikingjelly found no samples in {directory}")
    key = f"{info.name}-T{info.frames}-{info.size}px-v{CACHE_VERSION}"
    folder = cache_folder(options, f"{key}-{_signature(info, directory, samples)}")
    cached = read_cache(folder)
    if cached is not None:
        return cached[0], cached[1]["fingerprint"], folder
    arrays = {
        "frames": pooled_frames(
            info, [p for p, _, _ in samples], loader, directory / info.frames_dir
        ),
        "labels": np.asarray([y for _, y, _ in samples], np.uint8),
        "is_test": np.asarray([t for _, _, t in samples], bool),
    }
    return arrays, write_cache(folder, arrays), folder


def protocol_split(
    info: DVSInfo, labels: np.ndarray, is_test: np.ndarray, scale: float, seed: int
) -> dict[str, np.ndarray]:
    """Query = test items, retrieval = train = training items; class-balanced draws at scale."""
    classes = len(info.class_names)
    if scale == 1.0:
        query, retrieval = np.flatnonzero(is_test), np.flatnonzero(~is_test)
    else:
        rng = split_rng(info.name, seed)
        query = np.concatenate(
            [draw(m, scaled(m.size, scale), rng) for m in by_class(labels, classes, is_test)]
        )
        retrieval = np.concatenate(
            [draw(m, scaled(m.size, scale), rng) for m in by_class(labels, classes, ~is_test)]
        )
        query, retrieval = np.sort(query), np.sort(retrieval)
    if query.size == 0 or retrieval.size == 0:
        raise InputError(
            f"dataset '{info.name}': the split has {query.size} test (query) and "
            f"{retrieval.size} training (database) samples; both must be non-empty"
        )
    return {"query": query, "retrieval": retrieval, "train": retrieval}


def load_dvs(name: str, options: DatasetOptions) -> CrossModalDataset:
    """Load a DVS dataset through spikingjelly from the data root (never downloading)."""
    info = DVS_DATASETS[name]
    scale = check_scale(options.scale)
    root = require_root(options, name, info.display, f"{info.folders[0]}/ (spikingjelly's layout)")
    directory, stage = locate(info, root)
    arrays, content, folder = compact_arrays(info, directory, options)
    frames, labels = arrays["frames"], arrays["labels"].astype(np.int64)
    splits = protocol_split(info, labels, arrays["is_test"], scale, options.seed)
    shape = [info.frames, 2, info.size, info.size]
    split_kind = (
        "spikingjelly's train/test folders"
        if info.official_split
        else f"per class the first {info.train_ratio:.0%} (sorted file names) train, the rest test"
    )
    meta = {
        "display": info.display,
        "layout": f"spikingjelly folder (found: {stage})",
        "directory": str(directory),
        "frames_dir": str(directory / info.frames_dir),
        "cache": str(folder),
        "input_shapes": {MODALITY: shape},
        "retrieval_depth": scaled(info.retrieval_depth, scale),
        "integration": {
            "frames": info.frames,
            "split_by": "number",
            "sensor": [info.sensor, info.sensor],
            "sum_pool": info.sensor // info.size,
            "values": "event counts per pixel block, polarity and frame (not normalised)",
        },
        "scale": scale,
        "split": {
            "kind": f"{split_kind}; query = test, database = train = training items"
            + ("" if scale == 1.0 else f", class-balanced subset (scale {scale:g})"),
            "seed": options.seed,
        },
        "protocol_sizes": dict(info.protocol_sizes),
    }
    if info.label_groups:
        meta["label_groups"] = {k: list(v) for k, v in info.label_groups.items()}
    return assemble(
        name=name,
        modality=MODALITY,
        features=lambda idx: frames[idx].astype(np.float32),
        labels=labels,
        class_names=info.class_names,
        splits=splits,
        fingerprint=combine_fingerprint(content, splits),
        meta=meta,
    )
