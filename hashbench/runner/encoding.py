"""Encoding in batches: the harness calls a method's `encode` (or `encode_pairs`) on one batch
at a time, on the run's device, and validates every code matrix it gets back.

`progress` (optional) is told how many codes each batch produced, which the run turns into
"encode k/N items" progress steps; intermediate validation scoring passes none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from hashbench.codes import validate_codes
from hashbench.data.types import CrossModalDataset, Split
from hashbench.errors import HashbenchError, PluginError
from hashbench.methods import Method
from hashbench.runner.tensors import private_tensors

Progress = Callable[[int], None] | None


class EncodeOptions(Protocol):
    """What encoding reads of the run options (`hashbench.runner.execute.RunOptions`)."""

    device: torch.device
    encode_batch_size: int


def guard(plugin: str, stage: str, fn: Callable[[], Any]) -> Any:
    """Call plugin code, turning any exception into a PluginError that names the plugin."""
    try:
        return fn()
    except HashbenchError:
        raise
    except Exception as exc:
        raise PluginError(
            f"method '{plugin}' raised during {stage}: {type(exc).__name__}: {exc}"
        ) from exc


def encode_split(
    method: Method,
    split: Split,
    modality: str,
    *,
    pair_fused: bool,
    options: EncodeOptions,
    where: str,
    progress: Progress = None,
) -> np.ndarray:
    """Codes of every item of `split` in `modality`, encoded in batches, validated."""
    name = method.info.name
    n = len(split)
    modalities = tuple(split.features) if pair_fused else (modality,)
    out = []
    for start in range(0, n, options.encode_batch_size):
        stop = min(start + options.encode_batch_size, n)
        rows = {m: split.features[m][start:stop] for m in modalities}
        batch = private_tensors(rows, options.device)
        with torch.no_grad():
            codes = guard(name, f"encode ({where})", lambda b=batch: method.encode(modality, b))
        out.append(
            validate_codes(
                codes,
                stop - start,
                method.bits,
                plugin=name,
                where=f"{where} items {start}-{stop - 1}",
            )
        )
        if progress is not None:
            progress(stop - start)
    return np.concatenate(out) if out else np.zeros((0, method.bits), np.int8)


def encode_split_pairs(
    method: Method,
    split: Split,
    *,
    options: EncodeOptions,
    where: str,
    progress: Progress = None,
) -> dict[str, np.ndarray] | None:
    """Every modality's codes of `split` from one `encode_pairs` pass per batch of pairs, or
    None when the method does not implement it (then `encode_split` runs per modality)."""
    name = method.info.name
    n = len(split)
    out: dict[str, list[np.ndarray]] = {m: [] for m in split.features}
    for start in range(0, n, options.encode_batch_size):
        stop = min(start + options.encode_batch_size, n)
        batch = private_tensors(
            {m: split.features[m][start:stop] for m in split.features}, options.device
        )
        with torch.no_grad():
            codes = guard(name, f"encode_pairs ({where})", lambda b=batch: method.encode_pairs(b))
        if codes is None:
            if start == 0:
                return None
            raise PluginError(f"plugin '{name}': encode_pairs returned None after a first batch")
        if set(codes) != set(out):
            raise PluginError(
                f"plugin '{name}': encode_pairs ({where}) returned modalities {sorted(codes)}, "
                f"expected {sorted(out)}"
            )
        for modality, values in codes.items():
            out[modality].append(
                validate_codes(
                    values,
                    stop - start,
                    method.bits,
                    plugin=name,
                    where=f"{where} {modality} items {start}-{stop - 1}",
                )
            )
        if progress is not None:
            progress((stop - start) * len(out))
    return {
        m: np.concatenate(v) if v else np.zeros((0, method.bits), np.int8) for m, v in out.items()
    }


def codes_to_encode(dataset: CrossModalDataset) -> int:
    """How many codes `encode_splits` produces: every query and retrieval item, per modality."""
    return (len(dataset.query) + len(dataset.retrieval)) * len(dataset.modalities)


def encode_splits(
    method: Method,
    dataset: CrossModalDataset,
    options: EncodeOptions,
    progress: Progress = None,
) -> dict[str, np.ndarray]:
    """Validated codes of the query and retrieval splits: {"query.image": ..., ...}."""
    info = method.info
    codes = {}
    for split_name in ("query", "retrieval"):
        split = getattr(dataset, split_name)
        # a pair-fused method may encode both modalities of a pair in one pass
        fused = (
            encode_split_pairs(method, split, options=options, where=split_name, progress=progress)
            if info.pair_fused
            else None
        )
        for modality in dataset.modalities:
            codes[f"{split_name}.{modality}"] = (
                fused[modality]
                if fused is not None
                else encode_split(
                    method,
                    split,
                    modality,
                    pair_fused=info.pair_fused,
                    options=options,
                    where=f"{split_name} {modality}",
                    progress=progress,
                )
            )
    return codes
