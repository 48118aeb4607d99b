"""The method contract: what a hashing method plugin declares and implements.

A method declares metadata (`MethodInfo`) and default hyperparameters per dataset protocol and
per budget, and implements `fit` (training) and `encode` (features of one modality -> codes).
The harness owns everything else: seeding, device placement, batching of encode calls, timing,
validation of the codes it gets back, evaluation and storage.

What a method sees:
- in `fit`: the training split's features of every modality, and the training labels only when
  `info.supervision == "supervised"`. Never the query or retrieval split. On a unimodal dataset
  (task "unimodal": one modality, e.g. "events" or "image") there is a single modality.
- in `encode`: a batch of features of the modality being encoded. A method declared
  `pair_fused=True` also receives the paired item's other modality (the published protocol of
  UCMFH-like methods); every result of such a method is flagged pair-fused in the store.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from hashbench.params import Domain, SearchDomain, declaration_problems
from hashbench.released import ReleasedSelection

SUPERVISIONS = ("unsupervised", "supervised")
TASKS = ("cross-modal", "unimodal")
BUDGETS = ("paper", "quick")
# The budget a run is stored under when its method's budgets resolve to the same parameters
# (`Method.budget_sensitive`): "paper", so such runs keep the ids they always had.
CANONICAL_BUDGET = BUDGETS[0]
MODALITIES = ("image", "text")

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class MethodInfo:
    """Metadata every method declares. `name` is what users type on the command line."""

    name: str
    display_name: str
    reference: str
    summary: str
    supervision: str = "unsupervised"
    tasks: tuple[str, ...] = ("cross-modal",)
    spiking: bool = False
    pair_fused: bool = False

    def problems(self) -> list[str]:
        """Reasons this metadata is invalid (empty when it is fine)."""
        out = []
        if not _NAME_RE.match(self.name):
            out.append(f"name {self.name!r} must be lowercase letters, digits, '-' or '_'")
        if self.supervision not in SUPERVISIONS:
            out.append(f"supervision {self.supervision!r} is not one of {SUPERVISIONS}")
        bad_tasks = [t for t in self.tasks if t not in TASKS]
        if bad_tasks or not self.tasks:
            out.append(f"tasks {self.tasks!r} must be a non-empty subset of {TASKS}")
        return out


@dataclass(frozen=True)
class TrainData:
    """What `Method.fit` receives: training features per modality, labels only if supervised."""

    features: Mapping[str, torch.Tensor]
    labels: torch.Tensor | None
    protocol: str
    num_labels: int

    @property
    def size(self) -> int:
        return int(next(iter(self.features.values())).shape[0])


@dataclass(frozen=True)
class MethodContext:
    """What the harness hands a method at construction."""

    bits: int
    params: Mapping[str, Any]
    device: torch.device
    seed: int
    feature_dims: Mapping[str, int] = field(default_factory=dict)
    # Per-item shape of each modality's (flattened) features where the dataset declares one,
    # e.g. {"events": (T, 2, H, W)} on a unimodal event dataset; empty otherwise.
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    # The harness's epoch hook (progress; a tuning trial's intermediate validation score and
    # pruning): call it through `Method.epoch_end`. None outside the harness.
    on_epoch: Callable[[Method, int, int, Mapping[str, Any]], None] | None = None
    # The harness's batch hook (progress inside an epoch): call it through `Method.batch_end`.
    on_batch: Callable[[Method, int, int, int, int, int | None], None] | None = None


class Method(ABC):
    """Base class of every hashing method.

    Subclasses set `info`, `default_params` and optionally `dataset_params` (overrides per
    dataset protocol: "mirflickr", "nuswide", "mscoco") and `budget_params` (overrides per
    budget: "paper", "quick"), then implement `fit` and `encode`.

    `test_params` (optional) are overrides that make the conformance checks of
    `hashbench.testing` fast (e.g. one epoch of a deep model). They only ever apply there: no
    budget and no stored result uses them.

    `param_ranges` (optional) declares the values each hyperparameter allows
    (`hashbench.Float`, `Int`, `Choice`); `--param` values outside them are refused before any
    run. `search_space` (optional) declares what `hashbench tune` searches, with the same types
    and bounded ranges inside the allowed ones (see `hashbench.params`).

    `released_selection` (optional, `hashbench.ReleasedSelection`) declares how the method's
    released code scores snapshots during training and which one it keeps; `hashbench run
    --protocol as-released` reproduces that in the harness (the method itself never sees it).
    """

    info: ClassVar[MethodInfo]
    default_params: ClassVar[Mapping[str, Any]] = {}
    dataset_params: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    budget_params: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    test_params: ClassVar[Mapping[str, Any]] = {}
    param_ranges: ClassVar[Mapping[str, Domain]] = {}
    search_space: ClassVar[Mapping[str, SearchDomain]] = {}
    released_selection: ClassVar[ReleasedSelection | None] = None

    def __init__(self, context: MethodContext) -> None:
        self.context = context
        self.bits = context.bits
        self.params = dict(context.params)
        self.device = context.device
        self.seed = context.seed

    @classmethod
    def resolve_params(cls, protocol: str, budget: str) -> dict[str, Any]:
        """Defaults, then the dataset protocol's overrides, then the budget's overrides."""
        params = dict(cls.default_params)
        params.update(cls.dataset_params.get(protocol, {}))
        params.update(cls.budget_params.get(budget, {}))
        return params

    @classmethod
    def budget_sensitive(cls) -> bool:
        """Whether the budget changes anything in a run of this method.

        A method never sees the budget, only the parameters it resolves to; where every budget
        resolves to the same parameters under every dataset protocol (a method without epochs,
        e.g. lsh or cca-itq), one run serves every budget: the harness plans it under
        `CANONICAL_BUDGET` and tables show it whichever budget is asked.
        """
        protocols = {"", *cls.dataset_params}
        return any(
            len({json.dumps(cls.resolve_params(p, b), sort_keys=True, default=repr)
                 for b in BUDGETS}) > 1
            for p in protocols
        )  # fmt: skip

    @classmethod
    def complete_params(
        cls,
        params: dict[str, Any],
        *,
        bits: int,
        feature_dims: Mapping[str, int],
        input_shapes: Mapping[str, tuple[int, ...]],
    ) -> dict[str, Any]:
        """Fill in values that depend on the run, so the stored parameters are the ones used.

        A parameter whose default means "derive it" (e.g. `time_steps: None`, the paper's T
        for the code length) is replaced here by the value the method will use; the harness
        calls this before computing the run id and stores the result. Return `params` with
        the same keys. The default changes nothing.
        """
        return params

    @classmethod
    def declaration_problems(cls) -> list[str]:
        """What is wrong with the declared hyperparameters (empty when fine)."""
        known: dict[str, Any] = dict(cls.default_params)
        for overrides in (*cls.dataset_params.values(), *cls.budget_params.values()):
            for name, value in overrides.items():
                known.setdefault(name, value)
        problems = declaration_problems(cls.default_params, cls.param_ranges, cls.search_space)
        extra = sorted(set(known) - set(cls.default_params))
        if extra:
            problems.append(
                f"dataset_params/budget_params set {', '.join(extra)}, not in default_params"
            )
        selection = cls.released_selection
        if selection is not None and not isinstance(selection, ReleasedSelection):
            problems.append("released_selection must be a hashbench.ReleasedSelection or None")
        elif selection is not None:
            problems += [f"released_selection: {p}" for p in selection.problems()]
        return problems

    @classmethod
    def max_bits(cls, feature_dims: Mapping[str, int]) -> int | None:
        """The largest code length the method supports for these inputs (None: no limit)."""
        return None

    @abstractmethod
    def fit(self, train: TrainData) -> None:
        """Train on the training split."""

    def epoch_end(self, epoch: int, epochs: int, **losses: Any) -> None:
        """Call after each training epoch (`epoch` counts from 0, `epochs` in all).

        The harness shows progress ("train 3/8 epochs, loss 0.421") and, in a tuning trial,
        may score the current model on the validation split through `encode` (modes and random
        generators restored afterwards, so the codes do not change) and stop a hopeless trial
        by raising an exception: let it propagate. `losses` (floats or one-element tensors)
        are optional, for progress displays: the one named `loss` is shown (else `total`, or
        the only one given), e.g. `self.epoch_end(epoch, epochs, loss=epoch_loss)`.

        The harness checks every call: integers with epochs >= 1 and 0 <= epoch < epochs,
        epochs going forward (each call's epoch above the last one's), every loss a finite
        number. A call that breaks this fails the run with a PluginError naming the bad value
        (also when the method catches that error), so a tuning study never stores a trial with
        a curve it cannot replay.
        """
        if self.context.on_epoch is not None:
            self.context.on_epoch(self, epoch, epochs, losses)

    def batch_end(
        self, epoch: int, epochs: int, batch: int, batches: int, *, items: int | None = None
    ) -> None:
        """Optional: call after each training batch (`batch` from 0 of `batches` in epoch
        `epoch`, from 0, of `epochs`; `items` in the batch, e.g. `len(idx)`).

        The harness shows progress inside an epoch ("train epoch 1/8, batch 120/400, 850
        items/s, 6m12s left"), so a long epoch does not look like a hang; without it progress
        moves at epoch ends only. It reads a clock and nothing else (no tensor, no random
        generator), so it cannot change the codes; pass plain integers, never a tensor's
        value (that would wait for the device). The shared training loop of the built-in deep
        methods calls it. A call with values out of range fails the run with a PluginError.
        """
        if self.context.on_batch is not None:
            self.context.on_batch(self, epoch, epochs, batch, batches, items)

    def inference_model(self) -> torch.nn.Module | None:
        """The trained model that encodes queries, for the efficiency profiler (optional).

        Its `forward(image, text)` runs one batch of image-text pairs through the whole inference
        model (both modalities' paths) and may return anything. On a unimodal dataset it is
        called as `forward(x)` with one batch of the dataset's single modality. Return None if
        the method has no torch model; then only time and memory are profiled.
        """
        return None

    @abstractmethod
    def encode(
        self, modality: str, inputs: Mapping[str, torch.Tensor]
    ) -> torch.Tensor | np.ndarray:
        """Codes in {-1, +1}, shape (batch, bits), for one batch of items of `modality`.

        `inputs[modality]` holds the batch's features; a pair-fused method also finds the
        paired items' other modality in `inputs`.
        """

    def encode_pairs(
        self, inputs: Mapping[str, torch.Tensor]
    ) -> Mapping[str, torch.Tensor | np.ndarray] | None:
        """Optional, pair-fused methods only: codes of every modality of a batch of pairs.

        A pair-fused network usually computes both modalities' codes in one pass over a pair;
        encoding each modality separately would run that pass twice. Return {modality: codes}
        equal to what `encode(modality, inputs)` gives for each modality (a conformance test
        checks this), or None (the default) to let the harness call `encode` per modality.
        """
        return None
