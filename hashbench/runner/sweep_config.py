"""Sweeps described in a TOML file (`hashbench run --config sweep.toml`).

Keys are the long options of `hashbench run` (options given on the command line win):

    methods = ["lsh", "cca-itq", "ucmfh"]
    datasets = ["synth-mirflickr", "synth-mscoco"]   # or dataset = "..."
    bits = [16, 32, 64, 128]
    seeds = [0, 1, 2]
    budget = "quick"
    executor = "process"
    workers = 2
    run_timeout = 3600   # seconds per run, like --run-timeout 3600

    [params.ucmfh]        # per-method overrides, like --param ucmfh.epochs=20
    epochs = 20

    [slurm]               # --executor slurm's settings, like --slurm partition=gpu
    partition = "gpu"
    time = 120
    setup = ["module load cuda"]
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hashbench.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_ALIASES = {"dataset": "datasets", "param": "params", "method": "methods"}


def _as_text(value: Any, key: str, path: Path) -> str:
    if isinstance(value, list):
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
            raise InputError(f"{path}: `{key}` must be a list of names or numbers")
        return ",".join(str(v) for v in value)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise InputError(f"{path}: `{key}` must be a string, a number or a list, not {value!r}")


def load_sweep(path: Path, options: Iterable[str]) -> dict[str, Any]:
    """The file as defaults for `hashbench run`'s options (names as click knows them)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"--config {path}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"--config {path}: not valid TOML ({exc})") from None
    known = set(options) - {"config"}
    defaults: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = _ALIASES.get(raw_key, raw_key).replace("-", "_")
        if key not in known:
            valid = ", ".join(sorted(known))
            raise InputError(f"{path}: unknown key `{raw_key}`; valid keys: {valid}")
        if key == "params":
            defaults[key] = _params(value, path)
        elif key == "slurm":
            defaults[key] = _settings(value, path, key)
        elif isinstance(value, bool):
            defaults[key] = value
        elif key in ("workers", "encode_batch_size"):
            if not isinstance(value, int):
                raise InputError(f"{path}: `{raw_key}` must be an integer")
            defaults[key] = value
        else:
            defaults[key] = _as_text(value, raw_key, path)
    return defaults


def _params(value: Any, path: Path) -> list[str]:
    """[params.METHOD] tables (or a list of "METHOD.NAME=VALUE") -> --param strings."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    if not isinstance(value, dict):
        raise InputError(f"{path}: `params` must be tables [params.METHOD] or a list of strings")
    out = []
    for method, table in value.items():
        if not isinstance(table, dict):
            raise InputError(f"{path}: [params.{method}] must be a table of NAME = VALUE")
        for name, item in table.items():
            text = str(item).lower() if isinstance(item, bool) else str(item)
            out.append(f"{method}.{name}={text}")
    return out


def _settings(value: Any, path: Path, key: str) -> list[str]:
    """A [slurm] table (or a list of "KEY=VALUE") -> --slurm strings (a list value: the key
    repeated, one item each)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    if not isinstance(value, dict):
        raise InputError(f"{path}: `{key}` must be a table [{key}] of KEY = VALUE")
    out = []
    for name, item in value.items():
        for one in item if isinstance(item, list) else [item]:
            if isinstance(one, dict | list):
                raise InputError(f"{path}: [{key}] {name} must be a string, number or list")
            out.append(f"{name}={str(one).lower() if isinstance(one, bool) else one}")
    return out
