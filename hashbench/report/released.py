"""As-released rows of comparison tables: runs whose model was kept the way the method's
released code keeps it (`hashbench run --protocol as-released`), often chosen on the test
queries themselves.

Such a row is shown apart, after the fair rows of its task, with the symbol §
(`variants.AS_RELEASED_MARK`) and a footnote that says, per method, what its released code
scores during training and what it keeps. It is never marked, never enters a significance
family, the ranks or the critical-difference diagram (`significance.family_of`,
`ranks_table.table_ranking`); `inflation` sets it beside its fair counterpart instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from hashbench.report.variants import (
    AS_RELEASED,
    AS_RELEASED_MARK,
    RELEASED_SELECTION,
    is_as_released,
)
from hashbench.store import RunRecord

_TEST_SPLITS = {"queries", "query", "test", "test-queries"}


def split_words(selection: Mapping[str, Any]) -> str:
    """Where the released code scores its snapshots, in words ("the test queries")."""
    split = str(selection.get("split", "?"))
    size = selection.get("size")
    first = f"the first {size:,}" if isinstance(size, int) else "the first"
    if split in _TEST_SPLITS:
        return "the test queries"
    if split == "retrieval-head":
        return f"labelled retrieval items ({first} as queries against the retrieval set)"
    if split == "retrieval-head-self":
        return f"labelled retrieval items ({first}, as queries and as database)"
    return f"the {split} split"


def selection_words(selection: Mapping[str, Any]) -> str:
    """How an as-released run's model was kept, in words, from its `released_selection`."""
    where = split_words(selection)
    if selection.get("keeps") == "last":
        return f"the last epoch, as the released code keeps it (it scores {where} only to log)"
    how = [f"best {selection['metric']}"] if selection.get("metric") else []
    every, of = selection.get("every"), selection.get("released_epochs")
    if isinstance(every, int) and isinstance(of, int):
        step = "after each" if every == 1 else f"every {every}"
        how.append(f"scored {step} of its {of} epochs")
    if selection.get("patience"):
        how.append(f"stopping after {selection['patience']} scores without a gain")
    return f"selected on {where}, as the released code does" + (
        f" ({', '.join(how)})" if how else ""
    )


def released_note(records: Iterable[RunRecord]) -> str | None:
    """The footnote of the § rows among `records` (None: there are none)."""
    methods: dict[str, set[str]] = defaultdict(set)
    for record in records:
        if record.protocol != AS_RELEASED:
            continue
        selection = record.metrics.get(RELEASED_SELECTION)
        words = (
            selection_words(selection)
            if isinstance(selection, Mapping)
            else "selected as the released code does (how: not stored with the run)"
        )
        methods[words].add(record.method)
    if not methods:
        return None
    parts = [
        f"{', '.join(sorted(names))}: {words}"
        for words, names in sorted(methods.items(), key=lambda item: sorted(item[1]))
    ]
    return (
        f"{AS_RELEASED_MARK} as released: " + "; ".join(parts) + ". Never marked, never "
        "tested or ranked with the fair rows; `hashbench table --inflation` shows each as-released "
        "result minus its fair one."
    )


def row_kind(label: str) -> int:
    """Where a row goes within its task: 0 fair rows, 1 as-released (§), 2 reported (†)."""
    if "†" in label:
        return 2
    return 1 if is_as_released(label) else 0
