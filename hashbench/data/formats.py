"""Readers of the file formats real datasets come in: pickle, MATLAB v5 / v7.3, .npz, HDF5.

Every reader returns plain numpy arrays by key and raises `InputError` naming the file and the
key when something is wrong (missing key, unreadable or truncated file), never a traceback.
`as_features` / `as_labels` turn raw arrays into the data model's dtypes and check their values.
"""

from __future__ import annotations

import logging
import os
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hashbench.errors import InputError

log = logging.getLogger("hashbench")

TRUST_PICKLE_ENV = "HASHBENCH_TRUST_PICKLE"


def trust_pickle_from_env() -> bool:
    return os.environ.get(TRUST_PICKLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _to_numpy(value: object, path: Path, key: str) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor inside a pickle
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise InputError(f"{path}: key '{key}' is not an array ({type(exc).__name__})") from None


def read_pickle(path: Path, keys: Sequence[str], *, trust: bool) -> dict[str, np.ndarray]:
    """A UCMFH-style pickle: a dict holding `keys`. Refused unless the user trusts pickles."""
    if not (trust or trust_pickle_from_env()):
        raise InputError(
            f"{path} is a pickle (the UCMFH layout); loading a pickle runs code stored in the "
            f"file. If you trust it, pass --trust-pickle or set {TRUST_PICKLE_ENV}=1; or convert "
            "it once to the generic .npz layout (see docs/datasets.md)."
        )
    log.warning("warning: loading pickle %s executes code stored in it (trusted by the user)", path)
    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh)  # noqa: S301 - gated by --trust-pickle above
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError) as exc:
        raise InputError(f"{path}: cannot read the pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise InputError(
            f"{path}: expected a dict with keys {list(keys)}, got {type(data).__name__}"
        )
    missing = [k for k in keys if k not in data]
    if missing:
        raise InputError(
            f"{path}: missing key '{missing[0]}' (found keys: {', '.join(map(str, data))})"
        )
    return {k: _to_numpy(data[k], path, k) for k in keys}


def is_mat_v73(path: Path) -> bool:
    """MATLAB v7.3 files are HDF5 with a MATLAB text header in the first 128 bytes."""
    with open(path, "rb") as fh:
        head = fh.read(128)
    return b"MATLAB 7.3" in head or head.startswith(b"\x89HDF\r\n\x1a\n")


def read_mat(path: Path, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """A MATLAB file, v5 (scipy) or v7.3 (HDF5, transposed back to rows x columns)."""
    try:
        v73 = is_mat_v73(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if v73:
        return read_hdf5(path, keys, transpose=True)
    import scipy.io

    try:
        present = {name for name, _, _ in scipy.io.whosmat(path)}
        missing = [k for k in keys if k not in present]
        if missing:
            raise InputError(
                f"{path}: missing key '{missing[0]}' (found keys: {', '.join(sorted(present))})"
            )
        data = scipy.io.loadmat(path, variable_names=list(keys))
    except InputError:
        raise
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError on damaged files
        raise InputError(
            f"{path}: not a readable MATLAB file, or truncated ({type(exc).__name__}: {exc})"
        ) from None
    return {k: np.asarray(data[k]) for k in keys}


def read_hdf5(path: Path, keys: Sequence[str], *, transpose: bool = False) -> dict[str, np.ndarray]:
    """Datasets `keys` of an HDF5 file; `transpose` for MATLAB v7.3 (column-major) files."""
    import h5py

    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(
            f"{path}: cannot open as HDF5; the file is truncated or damaged ({exc})"
        ) from None
    out = {}
    with fh:
        for key in keys:
            if key not in fh:
                found = ", ".join(k for k in fh if not k.startswith("#")) or "(none)"
                raise InputError(f"{path}: missing key '{key}' (found keys: {found})")
            node = fh[key]
            if not isinstance(node, h5py.Dataset):
                raise InputError(f"{path}: key '{key}' is a group, not an array")
            try:
                arr = node[()]
            except (OSError, ValueError, RuntimeError) as exc:
                raise InputError(
                    f"{path}: key '{key}' cannot be read; the file is truncated or damaged ({exc})"
                ) from None
            arr = np.asarray(arr)
            out[key] = arr.T if transpose else arr
    return out


def read_npz(path: Path, keys: Sequence[str]) -> dict[str, np.ndarray]:
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: not a readable .npz file, or truncated ({exc})") from None
    out = {}
    with npz:
        for key in keys:
            if key not in npz.files:
                raise InputError(
                    f"{path}: missing key '{key}' (found keys: {', '.join(npz.files) or '(none)'})"
                )
            try:
                out[key] = npz[key]
            except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
                raise InputError(
                    f"{path}: key '{key}' cannot be read; the file is truncated or damaged "
                    f"({type(exc).__name__}: {exc})"
                ) from None
    return out


def read_arrays(path: Path, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Dispatch on the suffix: .npz, .h5/.hdf5, .mat."""
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return read_npz(path, keys)
    if suffix in {".h5", ".hdf5"}:
        return read_hdf5(path, keys)
    if suffix == ".mat":
        return read_mat(path, keys)
    raise InputError(f"{path}: unsupported array file type '{suffix}' (use .npz, .h5 or .mat)")


def as_features(arr: np.ndarray, path: Path, key: str) -> np.ndarray:
    """float32 (n, d), finite; errors name the file and key."""
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise InputError(f"{path}: key '{key}' holds {arr.dtype} values; expected numbers")
    if arr.ndim != 2:
        raise InputError(
            f"{path}: key '{key}' has shape {arr.shape}; expected 2-D (items x feature dims)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{path}: key '{key}' is empty (shape {arr.shape})")
    out = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(out)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(axis=1))
        raise InputError(
            f"{path}: key '{key}' has NaN or inf values in {bad.size} row(s) "
            f"(first: row {int(bad[0])})"
        )
    return out


def as_labels(arr: np.ndarray, path: Path, key: str) -> np.ndarray:
    """uint8 multi-hot (n, c) with 0/1 values and at least one label set."""
    if arr.ndim != 2:
        raise InputError(
            f"{path}: key '{key}' has shape {arr.shape}; expected 2-D multi-hot labels "
            "(items x label columns)"
        )
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise InputError(f"{path}: key '{key}' holds {arr.dtype} values; expected 0/1")
    if arr.size == 0:
        raise InputError(f"{path}: key '{key}' is empty (shape {arr.shape})")
    if not np.isin(arr, (0, 1)).all():
        raise InputError(f"{path}: key '{key}' must hold multi-hot 0/1 labels")
    labels = np.ascontiguousarray(arr, dtype=np.uint8)
    if not labels.any():
        raise InputError(
            f"{path}: key '{key}' has every label zero; no item would be relevant to any other"
        )
    return labels


def check_rows(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Every array of one split must have the same number of rows."""
    counts = {key: int(arr.shape[0]) for key, arr in arrays.items()}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"'{k}' {n}" for k, n in counts.items())
        raise InputError(f"{path}: row counts differ across modalities and labels ({listed})")
