"""cifar10: CIFAR-10 from its official python-format files, for unimodal image retrieval.

Files (as extracted from cifar-10-python.tar.gz; also torchvision's layout): a folder
`cifar-10-batches-py` with `data_batch_1` .. `data_batch_5` (50,000 training images),
`test_batch` (10,000 test images) and `batches.meta` (class names; optional). It is looked for
as `<root>/cifar-10-batches-py`, `<root>/cifar10/cifar-10-batches-py`,
`<root>/CIFAR10/cifar-10-batches-py`, `<root>/cifar10`, then `<root>` itself. Nothing is
downloaded.

The files are pickles written by Python 2. They are read with a restricted unpickler
(hashbench.data.safe_pickle: dicts, lists, byte strings and numpy arrays only), so no
--trust-pickle is needed and a file naming any other callable is refused.

Items: each image's 3,072 uint8 values (1,024 red, then green, then blue, each 32 x 32 row-major)
are the flattened (3, 32, 32) shape declared in the meta (`input_shapes`, modality `image`),
divided by 255 into float32 in [0, 1]. Labels: one-hot over the ten classes.

Protocol. The Spikinghash paper evaluates CIFAR-10 with mAP@5000 but gives no split sizes, so
the common deep-hashing split is used, drawn from the data seed: per class 100 queries from the
test batch and 500 training images from the training batches; the database (retrieval set) is
every image except the queries (59,000), training images included. 1,000 queries, 5,000 training
items, R = 5000. `--scale s` multiplies every size and R by s (at least 1 per class): the
queries and training items are drawn as above, the database holds the training items plus
randomly drawn other non-query items, round(5,900 s) per class in all.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from hashbench.data.safe_pickle import safe_load
from hashbench.data.types import CrossModalDataset, DatasetOptions, fingerprint_arrays
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

NAME = "cifar10"
DISPLAY = "CIFAR-10"
MODALITY = "image"
ITEM_SHAPE = (3, 32, 32)
FOLDER = "cifar-10-batches-py"
CANDIDATES = (FOLDER, f"cifar10/{FOLDER}", f"CIFAR10/{FOLDER}", "cifar10", ".")
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
QUERY_PER_CLASS = 100  # from the test batch
TRAIN_PER_CLASS = 500  # from the training batches
DATABASE_PER_CLASS = 5900  # every non-query image of the full dataset
RETRIEVAL_DEPTH = 5000  # mAP@5000, as in the Spikinghash paper
SPLIT_VERSION = 1  # bump when the split drawn from a seed changes
HOW_TO_GET = (
    "Download cifar-10-python.tar.gz (the 'CIFAR-10 python version', "
    "https://www.cs.toronto.edu/~kriz/cifar.html) and extract it into the data root: "
    f"`tar xzf cifar-10-python.tar.gz -C DIR` creates DIR/{FOLDER}/. hashbench never downloads."
)


def locate(root: Path) -> Path:
    """The folder holding the batch files, or an InputError listing every path looked for."""
    needed = (*TRAIN_FILES, TEST_FILE)
    looked = []
    for candidate in CANDIDATES:
        directory = (root / candidate) if candidate != "." else root
        present = [f for f in needed if (directory / f).is_file()]
        if len(present) == len(needed):
            return directory
        if present:
            missing = ", ".join(str(directory / f) for f in needed if f not in present)
            raise InputError(
                f"dataset '{NAME}': {directory} holds only part of CIFAR-10's python-format "
                f"files; missing {missing}. {HOW_TO_GET}"
            )
        looked.append(f"  {directory}/{{data_batch_1..5, test_batch}}")
    raise InputError(
        f"dataset '{NAME}' ({DISPLAY}): no files found under {root}.\nLooked for:\n"
        + "\n".join(looked)
        + f"\n{HOW_TO_GET}"
    )


def _load(path: Path) -> dict:
    try:
        data = safe_load(path)
    except pickle.UnpicklingError as exc:
        raise InputError(
            f"{path}: refused or unreadable pickle ({exc}). CIFAR-10's python-format files hold "
            "only dicts, lists, byte strings and numpy arrays; this is not an original file. "
            f"Replace it with the one from cifar-10-python.tar.gz. {HOW_TO_GET}"
        ) from None
    except (OSError, EOFError, ValueError, TypeError) as exc:
        raise InputError(
            f"{path}: cannot read the pickle; the file is truncated or damaged "
            f"({type(exc).__name__}: {exc}). {HOW_TO_GET}"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a dict (a CIFAR-10 batch), got {type(data).__name__}")
    return data


def _get(data: dict, key: str, path: Path) -> object:
    for candidate in (key.encode(), key):
        if candidate in data:
            return data[candidate]
    found = ", ".join(k.decode() if isinstance(k, bytes) else str(k) for k in data)
    raise InputError(f"{path}: missing key '{key}' (found keys: {found or '(none)'})")


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: uint8 images (n, 3072) and int64 class ids (n,)."""
    data = _load(path)
    images = _get(data, "data", path)
    labels = _get(data, "labels", path)
    size = int(np.prod(ITEM_SHAPE))
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2:
        what = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images)
        raise InputError(f"{path}: key 'data' must be a uint8 array (n, {size}), got {what}")
    if images.shape[1] != size:
        raise InputError(
            f"{path}: key 'data' has {images.shape[1]} values per image; CIFAR-10 has {size} "
            "(3 x 32 x 32)"
        )
    try:
        ids = np.asarray(labels)
    except (ValueError, TypeError):
        ids = np.asarray([], dtype=object)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise InputError(f"{path}: key 'labels' must be a list of class ids (integers 0-9)")
    if ids.size != images.shape[0]:
        raise InputError(
            f"{path}: {images.shape[0]} images but {ids.size} labels (keys 'data', 'labels')"
        )
    if ids.size and (ids.min() < 0 or ids.max() >= len(CLASS_NAMES)):
        raise InputError(f"{path}: key 'labels' holds ids outside 0-9 ({ids.min()}-{ids.max()})")
    return np.ascontiguousarray(images), ids.astype(np.int64)


def read_class_names(directory: Path) -> tuple[str, ...]:
    """batches.meta's label names (the standard names when the file is absent)."""
    path = directory / META_FILE
    if not path.is_file():
        return CLASS_NAMES
    names = _get(_load(path), "label_names", path)
    if not isinstance(names, (list, tuple)) or len(names) != len(CLASS_NAMES):
        raise InputError(f"{path}: key 'label_names' must list {len(CLASS_NAMES)} class names")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def read_all(directory: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images (uint8, training batches then the test batch), class ids and an is-test mask."""
    parts = [read_batch(directory / f) for f in (*TRAIN_FILES, TEST_FILE)]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    is_test = np.arange(labels.size) >= labels.size - parts[-1][1].size
    return images, labels, is_test


def _largest_scale(test_counts: list[int], train_counts: list[int]) -> float:
    return min(min(test_counts) / QUERY_PER_CLASS, min(train_counts) / TRAIN_PER_CLASS)


def protocol_split(
    labels: np.ndarray, is_test: np.ndarray, scale: float, seed: int, where: str
) -> dict[str, np.ndarray]:
    """Query / retrieval / train source indices (sorted), class-balanced, from the seed."""
    classes = len(CLASS_NAMES)
    n_query, n_train = scaled(QUERY_PER_CLASS, scale), scaled(TRAIN_PER_CLASS, scale)
    test_of, train_of = by_class(labels, classes, is_test), by_class(labels, classes, ~is_test)
    test_counts, train_counts = [t.size for t in test_of], [t.size for t in train_of]
    if min(test_counts) < n_query or min(train_counts) < n_train:
        largest = _largest_scale(test_counts, train_counts)
        hint = (
            f"for a trial on fewer images use --scale {np.floor(largest * 1000) / 1000:g} or less"
            if largest >= 0.001
            else "the files hold too few images for this protocol"
        )
        raise InputError(
            f"{where}: the protocol draws {n_query} queries per class from {TEST_FILE} and "
            f"{n_train} training images per class from data_batch_*, but the files hold "
            f"{min(test_counts)}-{max(test_counts)} test and {min(train_counts)}-"
            f"{max(train_counts)} training images per class ({hint})"
        )
    rng = split_rng(NAME, seed)
    query, train, retrieval = [], [], []
    for c in range(classes):
        q = draw(test_of[c], n_query, rng)
        t = draw(train_of[c], n_train, rng)
        rest = np.setdiff1d(np.concatenate([test_of[c], train_of[c]]), np.concatenate([q, t]))
        if scale < 1.0:
            rest = draw(rest, max(0, scaled(DATABASE_PER_CLASS, scale) - n_train), rng)
        query.append(q)
        train.append(t)
        retrieval.append(np.concatenate([t, rest]))
    return {
        "query": np.sort(np.concatenate(query)),
        "retrieval": np.sort(np.concatenate(retrieval)),
        "train": np.sort(np.concatenate(train)),
    }


def load_cifar10(options: DatasetOptions) -> CrossModalDataset:
    """CIFAR-10 from the python-format files under the data root, with the protocol split."""
    scale = check_scale(options.scale)
    root = require_root(options, NAME, DISPLAY, f"{FOLDER}/ (from cifar-10-python.tar.gz)")
    directory = locate(root)
    where = f"dataset '{NAME}' ({directory})"
    class_names = read_class_names(directory)
    images, labels, is_test = read_all(directory)
    splits = protocol_split(labels, is_test, scale, options.seed, where)
    content = fingerprint_arrays({"images": images, "labels": labels, "is_test": is_test})
    depth = scaled(RETRIEVAL_DEPTH, scale)
    meta = {
        "display": DISPLAY,
        "layout": "CIFAR-10 python-format batches",
        "directory": str(directory),
        "sources": [str(directory / f) for f in (*TRAIN_FILES, TEST_FILE)],
        "input_shapes": {MODALITY: list(ITEM_SHAPE)},
        "retrieval_depth": depth,
        "pixel_scale": "uint8 / 255: float32 in [0, 1]",
        "scale": scale,
        "split": {
            "kind": (
                f"per class {scaled(QUERY_PER_CLASS, scale)} queries from {TEST_FILE}, "
                f"{scaled(TRAIN_PER_CLASS, scale)} training images from data_batch_*, database = "
                + ("every non-query image" if scale == 1.0 else "a class-balanced subset")
                + f" (seed {options.seed})"
            ),
            "seed": options.seed,
            "version": SPLIT_VERSION,
        },
        "protocol_sizes": {"query": 1000, "train": 5000, "retrieval": 59000},
    }

    def features(idx: np.ndarray) -> np.ndarray:
        x = images[idx].astype(np.float32)
        x /= np.float32(255.0)
        return x

    return assemble(
        name=NAME,
        modality=MODALITY,
        features=features,
        labels=labels,
        class_names=class_names,
        splits=splits,
        fingerprint=combine_fingerprint(content, splits),
        meta=meta,
    )
