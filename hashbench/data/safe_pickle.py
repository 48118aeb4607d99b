"""A restricted unpickler for pickles that hold only plain data and numpy arrays.

`pickle.load` calls whatever callable a file names (`os.system`, `builtins.eval`, ...), which is
why hashbench refuses ordinary pickles unless the user passes --trust-pickle. Some reference
files are pickles of plain data only: CIFAR-10's python-format batches are dicts of byte-string
keys holding a uint8 numpy array, a list of ints and lists of byte strings. `safe_load` reads
such files without trust: it rebuilds dicts, lists, tuples, strings, numbers and numpy arrays
of non-object dtypes, and refuses every other global with `pickle.UnpicklingError`.

Allowed globals (what numpy arrays and Python 3 protocol-2 byte strings are pickled with):
`numpy.core.multiarray._reconstruct` / `numpy._core.multiarray._reconstruct` (the subtype must
be `numpy.ndarray`), `numpy.ndarray`, `numpy.dtype` (object dtypes refused),
`numpy.core.numeric._frombuffer` / `numpy._core.numeric._frombuffer` (protocol-5 arrays) and
`_codecs.encode` with the latin-1 codec only.
"""

from __future__ import annotations

import codecs
import importlib
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

LATIN1 = {"latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1"}


def _numpy_function(name: str, modules: tuple[str, ...]) -> Callable[..., Any]:
    """`name` from the first of `modules` that imports (numpy 2 renamed numpy.core to _core)."""
    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"numpy has no {name} in {modules}")


def _plain_dtype(spec: Any) -> np.dtype:
    dtype = np.dtype(spec)
    if dtype.hasobject:
        raise pickle.UnpicklingError("object arrays are refused (they would unpickle objects)")
    return dtype


def _safe_dtype(spec: Any, align: bool = False, copy: bool = False) -> np.dtype:
    _plain_dtype(spec)
    return np.dtype(spec, align=bool(align), copy=bool(copy))


def _safe_reconstruct(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"only numpy.ndarray may be rebuilt, not {subtype!r}")
    reconstruct = _numpy_function(
        "_reconstruct", ("numpy._core.multiarray", "numpy.core.multiarray")
    )
    return reconstruct(np.ndarray, shape, typecode)


def _safe_frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    _plain_dtype(dtype)
    frombuffer = _numpy_function("_frombuffer", ("numpy._core.numeric", "numpy.core.numeric"))
    return frombuffer(buffer, dtype, shape, order)


def _latin1_encode(text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Python 3 pickles bytes at protocol <= 2 as _codecs.encode(text, 'latin1')."""
    if not isinstance(text, str) or str(encoding).lower() not in LATIN1:
        raise pickle.UnpicklingError("_codecs.encode is allowed only for latin-1 text")
    return codecs.encode(text, "latin1", errors)


ALLOWED: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _safe_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _safe_frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in `ALLOWED`; anything else raises UnpicklingError."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"global '{module}.{name}' is not allowed (only numpy arrays and plain data)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")


def safe_load(path: Path, *, encoding: str = "bytes") -> Any:
    """Unpickle `path` with `RestrictedUnpickler`. `encoding="bytes"` keeps Python 2 str as
    bytes (CIFAR-10's files were written by Python 2). Raises OSError, EOFError or
    pickle.UnpicklingError (also for a refused global); callers turn them into InputError."""
    with open(path, "rb") as fh:
        return RestrictedUnpickler(fh, encoding=encoding).load()
