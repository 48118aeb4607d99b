"""How a method's released code selects the model it reports: a declaration, and its schedule.

Most released hashing code scores its model during training on labelled data (often the test
queries themselves) and keeps the best or the last snapshot. The suite's fair protocol never
does that: the model after the last epoch is evaluated once. A method declares what its released
code did (`Method.released_selection`), and `hashbench run --protocol as-released` reproduces
it in the harness (`hashbench.runner.released_selection`), stored apart as protocol
"as-released", so a table can show how much of a published number is the protocol.

`evaluation_epochs` maps the released evaluation schedule (every `every` epochs of
`released_epochs`) onto a run with any number of epochs, at the same fractions of training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# "test": the test queries vs the retrieval set; "retrieval-head": the first `size` retrieval
# items as queries vs the whole retrieval set; "retrieval-head-self": the first `size` retrieval
# items as both queries and database.
SPLITS = ("test", "retrieval-head", "retrieval-head-self")
METRICS = ("map@50", "map@all")
KEEPS = ("best", "last")
# zero_relevant of `hashbench.metrics`: queries without a relevant item score 0, or are dropped
ZERO_RELEVANT = ("zero", "skip")


@dataclass(frozen=True)
class ReleasedSelection:
    """What a method's released code scores during training and which snapshot it keeps.

    source: the released code read ("owner/repo @commit file: function"), for the docs.
    split: which items are scored (see SPLITS); size: the query count of the head splits.
    every, released_epochs: the released code scores after every `every`-th epoch of its
    `released_epochs` (runs with other epoch counts score at the same fractions of training).
    metric: "map@50" or "map@all" (mean of I2T and T2I, the suite's metric functions).
    keeps: "best" (the first snapshot with the highest score) or "last" (the final model).
    patience: None, or how many scored epochs in a row without improvement stop training.
    zero_relevant: "zero" (such queries score 0, the suite's default) or "skip" (dropped).
    note: one line for the docs.
    """

    source: str
    split: str = "test"
    size: int = 2000
    every: int = 1
    released_epochs: int = 1
    metric: str = "map@50"
    keeps: str = "best"
    patience: int | None = None
    zero_relevant: str = "zero"
    note: str = ""

    def problems(self) -> list[str]:
        """Reasons this declaration is invalid (empty when it is fine)."""
        out = []
        if not isinstance(self.source, str) or not self.source.strip():
            out.append("source must name the released code read")
        for name, valid in (
            ("split", SPLITS),
            ("metric", METRICS),
            ("keeps", KEEPS),
            ("zero_relevant", ZERO_RELEVANT),
        ):
            if getattr(self, name) not in valid:
                out.append(f"{name} {getattr(self, name)!r} is not one of {', '.join(valid)}")
        for name in ("size", "every", "released_epochs"):
            value = getattr(self, name)
            if not _positive_int(value):
                out.append(f"{name} {value!r} must be an integer >= 1")
        if _positive_int(self.every) and _positive_int(self.released_epochs):
            if self.every > self.released_epochs:
                out.append(
                    f"every {self.every} > released_epochs {self.released_epochs}: the released "
                    "code would never score"
                )
        if self.patience is not None and not _positive_int(self.patience):
            out.append(f"patience {self.patience!r} must be None or an integer >= 1")
        if not isinstance(self.note, str):
            out.append("note must be a string")
        return out

    def identity(self) -> dict[str, Any]:
        """What decides an as-released run's result (part of its run id; not source or note)."""
        out = asdict(self)
        del out["source"], out["note"]
        return out

    def released_points(self) -> tuple[int, ...]:
        """The released code's scored epochs (1-based): every, 2 every, ... <= released_epochs."""
        return tuple(range(self.every, self.released_epochs + 1, self.every))


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def evaluation_epochs(every: int, released_epochs: int, epochs: int) -> tuple[int, ...]:
    """The 1-based epochs of a run of `epochs` epochs at which the harness scores the model.

    The released code scores after epochs every, 2 every, ... <= released_epochs; a run with E
    epochs scores at the same fractions of training: round(k every E / released_epochs) (halves
    up), clamped to 1..E, duplicates dropped. At E == released_epochs this is exactly the
    released schedule (e.g. JDSH: 40, 80, ..., 280 of 300; its last epoch is never scored).
    """
    if min(every, released_epochs, epochs) < 1:
        raise ValueError("every, released_epochs and epochs must be >= 1")
    points: list[int] = []
    for k in range(1, released_epochs // every + 1):
        # round half up in exact integer arithmetic: floor(x + 1/2) of x = k every E / R
        at = (2 * k * every * epochs + released_epochs) // (2 * released_epochs)
        at = min(max(at, 1), epochs)
        if not points or at > points[-1]:
            points.append(at)
    return tuple(points)
