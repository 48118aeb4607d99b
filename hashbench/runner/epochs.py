"""The harness side of `Method.epoch_end`: per-epoch progress and intermediate validation scores.

A method calls `self.epoch_end(epoch, epochs, loss=...)` after each training epoch. The harness
always turns it into a progress step ("train 3/8 epochs, loss 0.42";
`hashbench.runner.progress`). When the run is a tuning trial with a
`PruningRule`, the harness also scores the current model on the *validation* split (the run's
dataset must be one: intermediate scores are never computed on a test query set), and stops the
trial by raising `TrialPruned` when the score falls below the rule's threshold for that epoch.

Scoring leaves training untouched: every torch module of the method gets its train/eval mode
back and the python, numpy and torch generators their state, so a trial that is not pruned
ends with exactly the codes of the same run without the rule.

An as-released run (`hashbench.runner.released_selection`) passes a `selector` that is called
after every valid epoch, the same way (it scores the declared split and may stop training).
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hashbench import metrics
from hashbench.data.types import CrossModalDataset
from hashbench.errors import HashbenchError, InputError, PluginError
from hashbench.methods import Method
from hashbench.runner.batches import TrainingPace
from hashbench.runner.progress import Step, loss_value


@dataclass(frozen=True)
class PruningRule:
    """When to stop a trial: after epoch e (0-based) with a validation score below
    `thresholds[e]`. Scores are computed after every epoch but the last (`evaluate`)."""

    thresholds: tuple[tuple[int, float], ...] = ()

    def threshold(self, epoch: int) -> float | None:
        return dict(self.thresholds).get(epoch)

    def as_dict(self) -> dict[str, Any]:
        return {"thresholds": [[e, t] for e, t in self.thresholds]}


class TrialPruned(HashbenchError):
    """Raised by the epoch hook to stop a hopeless trial (caught by the harness)."""

    def __init__(self, epoch: int, score: float, threshold: float) -> None:
        super().__init__(
            f"pruned after epoch {epoch + 1}: validation score {score:.4f} < {threshold:.4f}"
        )
        self.epoch, self.score, self.threshold = epoch, score, threshold

    def as_dict(self) -> dict[str, float]:
        return {"epoch": self.epoch, "score": self.score, "threshold": self.threshold}


def validation_score(
    codes: Mapping[str, np.ndarray], dataset: CrossModalDataset, top_k: int = 50
) -> float:
    """The primary metric of encoded query/retrieval codes ("query.image", ...): mean of I2T and
    T2I mAP@top_k, or mAP@R on a unimodal dataset."""

    def map_k(query: str, db: str, k: int) -> float:
        q_labels, db_labels = dataset.query.labels, dataset.retrieval.labels
        return metrics.map_at_k(codes[query], codes[db], q_labels, db_labels, k=k)

    if dataset.task == "unimodal":
        (m,) = dataset.modalities
        return map_k(f"query.{m}", f"retrieval.{m}", dataset.retrieval_depth or top_k)
    i2t = map_k("query.image", "retrieval.text", top_k)
    t2i = map_k("query.text", "retrieval.image", top_k)
    return (i2t + t2i) / 2


@contextmanager
def untouched(method: Method) -> Iterator[None]:
    """Run the block (an evaluation) with the method's modules in eval mode, then give them
    their train/eval modes and every random generator its state back."""
    values = list(vars(method).values())
    for v in list(values):  # one level into containers: {"image": net, ...}, [net, ...]
        if isinstance(v, dict):
            values += list(v.values())
        elif isinstance(v, list | tuple):
            values += list(v)
    modules = [v for v in values if isinstance(v, torch.nn.Module)]
    modes = [[(sub, sub.training) for sub in m.modules()] for m in modules]
    for module in modules:  # as after fit: no dropout, batch norm statistics left alone
        module.eval()
    try:
        with kept_generators():
            yield
    finally:
        for pairs in modes:
            for sub, training in pairs:
                sub.training = training


@contextmanager
def kept_generators() -> Iterator[None]:
    """Run the block, then give the python, numpy and torch generators their state back."""
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


class EpochMonitor:
    """What `MethodContext.on_epoch` calls: progress, and the pruning rule of a trial."""

    def __init__(
        self,
        dataset: CrossModalDataset,
        encode_all: Callable[[Method], Mapping[str, np.ndarray]],
        rule: PruningRule | None = None,
        on_phase: Callable[[Step], None] = lambda step: None,
        top_k: int = 50,
        selector: Callable[[Method, int, int], None] | None = None,
        listener: Callable[[int, int, dict[str, float]], None] | None = None,
    ) -> None:
        if rule is not None and "holdout" not in dataset.meta:
            raise InputError(
                "a pruning rule scores the model during training, which only a validation split "
                "allows (never a test query set)"
            )
        self.dataset, self.encode_all, self.rule = dataset, encode_all, rule
        self.on_phase, self.top_k, self.selector = on_phase, top_k, selector
        self.listener = listener  # plugins' hashbench_epoch_end (hashbench.lifecycle)
        self.pace = TrainingPace(on_phase)  # `MethodContext.on_batch`; epoch steps' time left
        self.curve: list[tuple[int, float]] = []
        self.last: tuple[int, int] | None = None  # (epoch, epochs) of the last call
        self.violation: PluginError | None = None

    def __call__(self, method: Method, epoch: int, epochs: int, losses: Mapping[str, Any]) -> None:
        problem = self._problem(epoch, epochs, losses)
        if problem is not None:
            name = method.info.name
            self.violation = PluginError(
                f"method '{name}' made a bad epoch_end call: {problem}. Call "
                "self.epoch_end(epoch, epochs, loss=...) once per epoch with epoch = 0, 1, ..., "
                "epochs - 1 (integers, epochs >= 1) and finite losses"
            )
            raise self.violation
        self.last = (epoch, epochs)
        self.on_phase(self.pace.epoch_step(epoch, epochs, loss_value(losses)))
        if self.listener is not None:  # a plugin drawing random numbers cannot change the codes
            with kept_generators():
                self.listener(epoch, epochs, {k: _scalar(v) for k, v in losses.items()})
        if self.selector is not None:  # --protocol as-released: the released code's selection
            self.selector(method, epoch, epochs)
        if self.rule is None or epoch >= epochs - 1:  # the last epoch's score is the final one
            return
        with untouched(method), torch.no_grad():
            score = validation_score(self.encode_all(method), self.dataset, self.top_k)
        self.curve.append((epoch, score))
        threshold = self.rule.threshold(epoch)
        if threshold is not None and score < threshold:
            raise TrialPruned(epoch, score, threshold)

    def check(self) -> None:
        """Raise the first contract violation seen, even if the method caught it."""
        self.pace.check()  # a bad batch_end call
        if self.violation is not None:
            raise self.violation

    def _problem(self, epoch: Any, epochs: Any, losses: Mapping[str, Any]) -> str | None:
        """What is wrong with one call's arguments ("epoch=-1, ...: ..."), or None."""
        if not _is_int(epochs) or epochs < 1:
            return f"epochs={epochs!r}: expected an integer >= 1"
        if not _is_int(epoch) or not 0 <= epoch < epochs:
            return f"epoch={epoch!r}, epochs={epochs}: expected an integer 0 <= epoch < epochs"
        if self.last is not None and epoch <= self.last[0]:
            return f"epoch={epoch} after epoch={self.last[0]}: epochs must go forward"
        for name, value in losses.items():
            number = _scalar(value)
            if number is None or not math.isfinite(number):
                return f"{name}={value!r}: losses must be finite numbers"
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _scalar(value: Any) -> float | None:
    """A loss as a float: numbers, numpy scalars, one-element tensors (None otherwise)."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, np.ndarray):
            return float(value.item()) if value.size == 1 else None
        if isinstance(value, torch.Tensor):
            return float(value.item()) if value.numel() == 1 else None
        return float(value) if isinstance(value, numbers.Real) else None
    except (TypeError, ValueError, RuntimeError):
        return None
