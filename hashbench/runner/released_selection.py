"""The harness side of `--protocol as-released`: score snapshots as the released code did.

A method's `released_selection` (`hashbench.ReleasedSelection`) says which split its released
code scored during training, how often, with which metric, and which snapshot it kept. For a run
planned with protocol "as-released", `ReleasedSelector` is called from the epoch hook
(`hashbench.runner.epochs.EpochMonitor`) after each epoch. At the scheduled epochs
(`hashbench.released.evaluation_epochs`) it encodes the query and retrieval splits exactly as
the pruning code does (under `untouched` and no_grad: training is not perturbed, so the model
after the last epoch is the default run's), scores the declared split with the suite's metric
functions (mean of I2T and T2I), and keeps the codes of the snapshot the declaration keeps. With
a `patience`, it stops training (`ReleasedStop`, caught by the harness) after that many scored
epochs in a row without improvement. The harness then evaluates the kept codes in full.

Only the harness scores: the method still never sees query or retrieval data or labels.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from hashbench import metrics
from hashbench.data.types import CrossModalDataset
from hashbench.errors import HashbenchError, InputError
from hashbench.methods import Method
from hashbench.released import ReleasedSelection, evaluation_epochs
from hashbench.runner.epochs import untouched

PROTOCOL = "as-released"


class ReleasedStop(HashbenchError):
    """Raised by the epoch hook when the released early stopping ends training (caught by the
    harness, which then evaluates the kept snapshot)."""

    def __init__(self, epoch: int, patience: int) -> None:
        super().__init__(
            f"stopped after epoch {epoch}: {patience} scored epochs without improvement"
        )


def selection_of(method_cls: type[Method], dataset: CrossModalDataset) -> ReleasedSelection:
    """The method's declaration, or an InputError saying why as-released cannot run."""
    selection = method_cls.released_selection
    name = method_cls.info.name
    if selection is None:
        raise InputError(
            f"--protocol {PROTOCOL}: method '{name}' declares no released selection; "
            "run it with --protocol default"
        )
    if dataset.task != "cross-modal":
        raise InputError(
            f"--protocol {PROTOCOL}: dataset '{dataset.name}' is {dataset.task}; the released "
            "selections score cross-modal retrieval (I2T and T2I) only"
        )
    return selection


def selection_score(
    codes: Mapping[str, np.ndarray], dataset: CrossModalDataset, selection: ReleasedSelection
) -> tuple[float, int]:
    """The declared metric on the declared split, mean of I2T and T2I; and the query count."""
    retrieval = dataset.retrieval
    if selection.split == "test":
        q_labels, db_labels, db_rows = dataset.query.labels, retrieval.labels, slice(None)

        def query(m: str) -> np.ndarray:
            return codes[f"query.{m}"]
    else:
        head = slice(0, min(selection.size, len(retrieval)))
        q_labels = retrieval.labels[head]
        db_rows = head if selection.split == "retrieval-head-self" else slice(None)
        db_labels = retrieval.labels[db_rows]

        def query(m: str) -> np.ndarray:
            return codes[f"retrieval.{m}"][head]

    def score(q_mod: str, db_mod: str) -> float:
        q, db = query(q_mod), codes[f"retrieval.{db_mod}"][db_rows]
        if selection.metric == "map@all":
            return metrics.map_at_all(
                q, db, q_labels, db_labels, zero_relevant=selection.zero_relevant
            )
        k = min(50, len(db))
        return metrics.map_at_k(
            q, db, q_labels, db_labels, k=k, zero_relevant=selection.zero_relevant
        )

    return (score("image", "text") + score("text", "image")) / 2, len(q_labels)


class ReleasedSelector:
    """Called after every epoch (0-based `epoch` of `epochs`); scores at the scheduled epochs and
    keeps the declared snapshot's codes."""

    def __init__(
        self,
        selection: ReleasedSelection,
        dataset: CrossModalDataset,
        encode_all: Callable[[Method], Mapping[str, np.ndarray]],
    ) -> None:
        self.selection, self.dataset, self.encode_all = selection, dataset, encode_all
        self.scored: list[list[float]] = []  # [[epoch (1-based), score], ...]
        self.epochs: int | None = None  # the run's epoch count, as its epoch_end calls say
        self.last_epoch = 0  # the last epoch (1-based) reported
        self.queries = 0
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.since_best = 0
        self.stopped_early = False
        self._kept: dict[str, np.ndarray] | None = None  # the best snapshot's codes
        self._kept_encode_s = 0.0
        self.seconds = 0.0  # spent scoring (encoding and metrics), not training

    def __call__(self, method: Method, epoch: int, epochs: int) -> None:
        self.epochs, self.last_epoch = epochs, epoch + 1
        s = self.selection
        if epoch + 1 not in evaluation_epochs(s.every, s.released_epochs, epochs):
            return
        started = time.perf_counter()
        with untouched(method), torch.no_grad():
            codes = dict(self.encode_all(method))
        encode_s = time.perf_counter() - started
        score, self.queries = selection_score(codes, self.dataset, s)
        self.seconds += time.perf_counter() - started
        self.scored.append([epoch + 1, score])
        if self.best is None or score > self.best:  # the first strict maximum
            self.best, self.best_epoch, self.since_best = score, epoch + 1, 0
            if s.keeps == "best":
                self._kept, self._kept_encode_s = codes, encode_s
        else:
            self.since_best += 1
        if s.patience is not None and self.since_best >= s.patience:
            self.stopped_early = True
            raise ReleasedStop(epoch + 1, s.patience)

    def kept_codes(self) -> tuple[dict[str, np.ndarray], float] | None:
        """The kept snapshot's codes and their encoding time; None: evaluate the final model
        ("last", or no scheduled epoch was reached)."""
        if self.selection.keeps == "best" and self._kept is not None:
            return self._kept, self._kept_encode_s
        return None

    def as_dict(self) -> dict[str, Any]:
        """What the record stores under metrics["released_selection"]."""
        s = self.selection
        kept_best = self.kept_codes() is not None
        return {
            "split": s.split,
            "size": s.size,
            "queries": self.queries,
            "metric": s.metric,
            "zero_relevant": s.zero_relevant,
            "keeps": s.keeps,
            "every": s.every,
            "released_epochs": s.released_epochs,
            "patience": s.patience,
            "source": s.source,
            "scored": [list(point) for point in self.scored],
            "kept_epoch": self.best_epoch if kept_best else self.last_epoch,
            # "best", "last", or "final": no scheduled epoch was reached, the final model is kept
            "kept": s.keeps if self.scored else "final",
            "epochs": self.epochs,
            "stopped_early": self.stopped_early,
        }
