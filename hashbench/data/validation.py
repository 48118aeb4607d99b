"""The validation protocol: a retrieval problem carved out of the training split alone.

For a dataset and a seed, `Holdout.apply` splits the *training* pairs into a validation part
and a fit part, mirroring the test protocol: the validation queries are held-out training pairs,
and the validation database is the rest of the training pairs, which are also what methods fit
on (in the real protocols the training items are part of the retrieval set, so this is the same
shape of problem). Sizes: `fraction` of the training pairs (default 20%), at most `max_queries`
(default 1,000), at least one query and one database item. Unimodal datasets are split the same
way, stratified by class, and their mAP@R depth shrinks with the database (R x fit size /
retrieval size).

The result is an ordinary `CrossModalDataset` whose splits come only from training data; its
fingerprint is a hash of the training split's content, the split parameters and the seed, so
trials on it are ordinary content-addressed runs. Nothing here reads the query split or the
retrieval split's labels or features (only the retrieval split's size, for R).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

import numpy as np

from hashbench.data.types import CrossModalDataset, Split, fingerprint_arrays
from hashbench.errors import InputError

DEFAULT_FRACTION = 0.2
DEFAULT_MAX_QUERIES = 1000
SUFFIX = ":val"  # the store's dataset label of a validation split: "synth-mscoco:val"


@dataclass(frozen=True)
class Holdout:
    """How the training split is divided into validation queries and a fit / database part."""

    fraction: float = DEFAULT_FRACTION
    max_queries: int = DEFAULT_MAX_QUERIES
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise InputError(
                f"--val-fraction {self.fraction:g}: the validation share of the training pairs "
                "must lie strictly between 0 and 1 (e.g. 0.2)"
            )
        if self.max_queries < 1:
            raise InputError(f"--val-max-queries {self.max_queries}: give 1 or more")

    def sizes(self, n_train: int) -> tuple[int, int]:
        """(validation queries, fit / database items) for a training split of `n_train`."""
        n_val = min(self.max_queries, max(1, round(self.fraction * n_train)), n_train - 1)
        if n_train < 2:
            raise InputError(
                f"the training split has {n_train} pair(s): too few to hold out validation "
                "queries and keep a database; use a larger dataset or --scale"
            )
        return n_val, n_train - n_val

    def describe(self) -> str:
        return f"{self.fraction:.0%} of the training pairs, at most {self.max_queries} queries"

    def as_dict(self) -> dict:
        return {"fraction": self.fraction, "max_queries": self.max_queries, "seed": self.seed}

    def indices(self, train: Split, unimodal: bool) -> tuple[np.ndarray, np.ndarray]:
        """(validation indices, fit indices) into the training split, each ascending."""
        n = len(train)
        n_val, _ = self.sizes(n)
        order = np.random.default_rng([self.seed, 0x7A1]).permutation(n)
        if unimodal:  # stratify: every class keeps its share of validation queries
            classes = train.labels[order].argmax(1)
            rank = np.zeros(n)
            for c in np.unique(classes):
                where = np.flatnonzero(classes == c)
                rank[where] = (np.arange(len(where)) + 0.5) / len(where)
            order = order[np.argsort(rank, kind="stable")]
        return np.sort(order[:n_val]), np.sort(order[n_val:])

    def apply(self, dataset: CrossModalDataset) -> CrossModalDataset:
        """The validation dataset of `dataset` at this seed (training data only)."""
        train = dataset.train
        unimodal = dataset.task == "unimodal"
        val, fit = self.indices(train, unimodal)
        meta = dict(dataset.meta)
        meta["holdout"] = self
        if dataset.retrieval_depth is not None:
            scaled = dataset.retrieval_depth * len(fit) / max(1, len(dataset.retrieval))
            meta["retrieval_depth"] = max(1, min(len(fit), round(scaled)))
        fit_split = _take(train, fit)
        return replace(
            dataset,
            name=dataset.name + SUFFIX,
            train=fit_split,
            query=_take(train, val),
            retrieval=fit_split,
            fingerprint=self.fingerprint(train),
            meta=meta,
        )

    def fingerprint(self, train: Split) -> str:
        """Content of the training split + split parameters + seed; nothing else."""
        arrays = {f"features.{m}": x for m, x in train.features.items()}
        arrays["labels"] = train.labels
        payload = json.dumps({"train": fingerprint_arrays(arrays), **self.as_dict()})
        return "val-" + hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def _take(split: Split, rows: np.ndarray) -> Split:
    return Split(
        features={m: np.ascontiguousarray(x[rows]) for m, x in split.features.items()},
        labels=np.ascontiguousarray(split.labels[rows]),
    )


def primary_score(metrics: dict, depth: int | None = None, top_k: int = 50) -> float:
    """The primary metric from a run's metrics: the mean of I2T and T2I mAP@`top_k`
    (cross-modal), or mAP@R at the retrieval depth R = `depth` (unimodal)."""
    if "unimodal" in metrics:
        return float(metrics["unimodal"][f"map@{depth or top_k}"])
    return (float(metrics["i2t"][f"map@{top_k}"]) + float(metrics["t2i"][f"map@{top_k}"])) / 2
