"""The validation protocol: a retrieval problem carved out of the training split alone.

For a dataset and a seed, `Holdout.apply` splits the *training* pairs into validation queries
and a validation database. With `database="fit"` (the default) the database is the fit set:
every non-query training pair is fitted on. With `database="mirror"` the fit set makes up the
same share of the database as the training items make up of the dataset's retrieval set
(`protocol_fit_share`: 27.8% on MIRFlickr-25K, 4.1% on synth-mscoco; 100% where the database is
the training set), the rest being training pairs no method fits on, like the retrieval set's
non-training items at test time, so a trial is not rewarded for memorising its fit set. The
only leak-free way to get that share is a smaller fit set (the retrieval set's other items are
test data), so on NUS-WIDE and MS COCO a trial fits on a few percent of the training pairs,
unlike the refit: that is why it is an option, not the default (docs/tuning.md measures it).

Sizes: `fraction` of the training pairs are queries (default 20%), at most `max_queries`
(default 1,000), at least one; at least one fit item. Unimodal datasets are split the same
way, stratified by class, and their mAP@R depth shrinks with the database (R x database size /
retrieval size).

The result is an ordinary `CrossModalDataset` whose splits come only from training data; its
fingerprint is a hash of the training split's content, the split parameters, the seed and the
fit share, so trials on it are ordinary content-addressed runs. Nothing here reads the query
split or the retrieval split's labels or features (only the two splits' sizes: the retrieval
split's for R and the fit share).
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
DATABASES = ("mirror", "fit")  # the fit set's share of the validation database (see above)


def protocol_fit_share(dataset: CrossModalDataset) -> float:
    """The share of training items in the dataset's retrieval set, from the splits' sizes.

    Every protocol in the suite draws the training items from the retrieval set (they stay in
    it; `hashbench data check` reports where files break that), so the share is
    train / retrieval, at most 1. Only sizes are read, never the retrieval split's content.
    """
    return min(1.0, len(dataset.train) / max(1, len(dataset.retrieval)))


@dataclass(frozen=True)
class Holdout:
    """How the training split is divided into validation queries, a fit set and
    database-only items. `fit_share` is the fit set's share of the validation database
    (1: the database is the fit set); `Holdout.for_dataset` sets it from the dataset."""

    fraction: float = DEFAULT_FRACTION
    max_queries: int = DEFAULT_MAX_QUERIES
    seed: int = 0
    fit_share: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise InputError(
                f"--val-fraction {self.fraction:g}: the validation share of the training pairs "
                "must lie strictly between 0 and 1 (e.g. 0.2)"
            )
        if self.max_queries < 1:
            raise InputError(f"--val-max-queries {self.max_queries}: give 1 or more")
        if not 0 < self.fit_share <= 1:
            raise InputError(f"fit share {self.fit_share:g}: must lie in (0, 1]")

    @classmethod
    def for_dataset(
        cls,
        dataset: CrossModalDataset,
        fraction: float = DEFAULT_FRACTION,
        max_queries: int = DEFAULT_MAX_QUERIES,
        seed: int = 0,
        database: str = "fit",
    ) -> Holdout:
        """The holdout of `dataset`: with database "mirror" the fit share of its protocol."""
        if database not in DATABASES:
            raise InputError(f"--val-database {database!r}: expected one of {', '.join(DATABASES)}")
        share = protocol_fit_share(dataset) if database == "mirror" else 1.0
        return cls(fraction, max_queries, seed, share)

    def sizes(self, n_train: int) -> tuple[int, int]:
        """(validation queries, database items) for a training split of `n_train`."""
        n_val = min(self.max_queries, max(1, round(self.fraction * n_train)), n_train - 1)
        if n_train < 2:
            raise InputError(
                f"the training split has {n_train} pair(s): too few to hold out validation "
                "queries and keep a database; use a larger dataset or --scale"
            )
        return n_val, n_train - n_val

    def database_sizes(self, n_train: int) -> tuple[int, int]:
        """(fit items, database-only items) of the validation database: the fit set is
        `fit_share` of it (rounded, at least one item)."""
        _, n_db = self.sizes(n_train)
        n_fit = max(1, min(n_db, round(self.fit_share * n_db)))
        return n_fit, n_db - n_fit

    def describe(self) -> str:
        return f"{self.fraction:.0%} of the training pairs, at most {self.max_queries} queries"

    def as_dict(self) -> dict:
        out = {"fraction": self.fraction, "max_queries": self.max_queries, "seed": self.seed}
        if self.fit_share < 1:  # 1 is the protocol of before: the same splits, the same ids
            out["fit_share"] = self.fit_share
        return out

    def indices(self, train: Split, unimodal: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(validation, fit, database-only) indices into the training split, each ascending."""
        n = len(train)
        n_val, _ = self.sizes(n)
        n_fit, _ = self.database_sizes(n)
        order = np.random.default_rng([self.seed, 0x7A1]).permutation(n)
        if unimodal:  # stratify: every class keeps its share of queries and of the fit set
            classes = train.labels[order].argmax(1)
            rank = np.zeros(n)
            for c in np.unique(classes):
                where = np.flatnonzero(classes == c)
                rank[where] = (np.arange(len(where)) + 0.5) / len(where)
            order = order[np.argsort(rank, kind="stable")]
        val, fit, rest = np.split(order, [n_val, n_val + n_fit])
        return np.sort(val), np.sort(fit), np.sort(rest)

    def apply(self, dataset: CrossModalDataset) -> CrossModalDataset:
        """The validation dataset of `dataset` at this seed (training data only)."""
        train = dataset.train
        unimodal = dataset.task == "unimodal"
        val, fit, _ = self.indices(train, unimodal)
        database = np.setdiff1d(np.arange(len(train)), val)  # fit + database-only, in order
        meta = dict(dataset.meta)
        meta["holdout"] = self
        if dataset.retrieval_depth is not None:
            scaled = dataset.retrieval_depth * len(database) / max(1, len(dataset.retrieval))
            meta["retrieval_depth"] = max(1, min(len(database), round(scaled)))
        fit_split = _take(train, fit)
        return replace(
            dataset,
            name=dataset.name + SUFFIX,
            train=fit_split,
            query=_take(train, val),
            retrieval=fit_split if len(fit) == len(database) else _take(train, database),
            fingerprint=self.fingerprint(train),
            meta=meta,
        )

    def fingerprint(self, train: Split) -> str:
        """Content of the training split + split parameters + seed (+ fit share); nothing else."""
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
