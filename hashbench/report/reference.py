"""Published numbers as reference rows: CSV files in results/reference/, one per paper table.

Each file has a comment header naming its source and columns task, method, venue, dataset, bits,
metric, value, and optionally features (which input features the paper's number was measured
on: `FEATURES`; other columns are ignored). They are shown (with a dagger, "reported", labelled
with source and features) beside results on the real datasets only: a number measured on
synthetic data is never compared with a published one. Plugins that implement a published
method (`PUBLISHED_NAMES`) get a footnote when the papers report no number for them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hashbench.errors import InputError

REAL_DATASETS = ("mirflickr", "nuswide", "mscoco")
# features column value -> (label words, footnote words)
FEATURES = {
    "clip": ("CLIP", "CLIP image and text features"),
    "cnn-bow": ("CNN/BoW", "image CNN and text bag-of-words features"),
    "other": ("other features", "not on the source's own CLIP features (its table marks those)"),
    "unstated": ("features unstated", "the source table does not say which features"),
}
# Plugins that implement a published method (from its released code) -> the papers' name.
# Inferred designs (cirh-like, ddss-like, spikehash) are not the published methods: no entry.
PUBLISHED_NAMES = {
    "djsrh": "DJSRH",
    "jdsh": "JDSH",
    "dgcpn": "DGCPN",
    "ucch": "UCCH",
    "ucmfh": "UCMFH",
}


@dataclass(frozen=True)
class ReferenceValue:
    source: str  # the file's stem, e.g. ucmfh_2023_table3
    task: str
    method: str
    dataset: str
    bits: int
    metric: str
    value: float
    features: str = ""  # a key of FEATURES; "" when the file has no features column


def default_reference_dirs() -> list[Path]:
    """results/reference under the working directory, then in the hashbench source checkout."""
    checkout = Path(__file__).resolve().parents[2]
    return [Path("results") / "reference", checkout / "results" / "reference"]


def load_reference(directory: Path | None = None) -> list[ReferenceValue]:
    """Every value of every CSV file in `directory` (or the first default dir that exists)."""
    if directory is None:
        found = [d for d in default_reference_dirs() if d.is_dir()]
        if not found:
            tried = ", ".join(str(d) for d in default_reference_dirs())
            raise InputError(f"--reference: no reference folder found (looked in {tried})")
        directory = found[0]
    if not Path(directory).is_dir():
        raise InputError(f"--reference-dir {directory}: not a folder")
    values = []
    for path in sorted(Path(directory).glob("*.csv")):
        with path.open(newline="") as fh:
            rows = csv.DictReader(line for line in fh if not line.startswith("#"))
            for n, row in enumerate(rows, start=2):
                try:
                    values.append(
                        ReferenceValue(
                            source=path.stem,
                            task=row["task"],
                            method=row["method"],
                            dataset=row["dataset"],
                            bits=int(row["bits"]),
                            metric=row["metric"],
                            value=float(row["value"]),
                            features=_features(row.get("features")),
                        )
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    raise InputError(
                        f"{path}: bad row {n} ({exc}); see results/README.md"
                    ) from None
    return values


def _features(value: str | None) -> str:
    if value is None:
        return ""
    if value not in FEATURES:
        raise ValueError(f"features '{value}' is not one of {', '.join(FEATURES)}")
    return value


def reference_label(ref: ReferenceValue) -> str:
    """The row label of a reported number: method, dagger, source and (if known) features."""
    features = f", {FEATURES[ref.features][0]}" if ref.features else ""
    return f"{ref.method}† ({ref.source}{features})"


def reference_rows(
    reference: Iterable[ReferenceValue],
    metric: str,
    columns: Iterable[tuple[str, int]],
    measured: Iterable[tuple[str, str, int]],
) -> tuple[dict[tuple[tuple[str, str], tuple[str, int]], float], list[str], list[str]]:
    """The reported numbers a table of `metric` with these (dataset, bits) columns shows, as
    {((task, label), column): value}; the sources shown; and their footnotes (`reference_notes`).
    Real datasets only: a number measured on synthetic data is never beside a published one.
    Each source and features gets its own row (never averaged). measured: (method, dataset,
    bits) of the table's runs."""
    reference, columns = list(reference), set(columns)
    cells, sources, shown = {}, [], []
    for ref in reference:
        column = (ref.dataset, ref.bits)
        if ref.metric != metric or ref.dataset not in REAL_DATASETS or column not in columns:
            continue
        cells[((ref.task, reference_label(ref)), column)] = ref.value
        shown.append(ref)
        if ref.source not in sources:
            sources.append(ref.source)
    notes = reference_notes(reference, shown, measured, metric) if reference else []
    return cells, sources, notes


def reference_notes(
    reference: Sequence[ReferenceValue],
    shown: Iterable[ReferenceValue],
    measured: Iterable[tuple[str, str, int]],
    metric: str,
) -> list[str]:
    """Footnotes of a table with reference rows: what the features in the labels mean, and one
    line per plugin of a published method (`PUBLISHED_NAMES`) whose cells on the real datasets
    have no reported number. measured: (method, dataset, bits) of the table's runs."""
    notes = []
    kinds = [key for key in FEATURES if any(ref.features == key for ref in shown)]
    if kinds:
        notes.append(
            "Features of the † rows, in their labels: "
            + "; ".join(f"{FEATURES[k][0]} = {FEATURES[k][1]}" for k in kinds)
            + ". hashbench's runs use CLIP-like features (those of the dataset files read: CLIP "
            "with UCMFH's files or the clip encoder): compare them with the CLIP rows."
        )
    cells: dict[str, dict[str, set[int]]] = {}
    for method, dataset, bits in measured:
        if method in PUBLISHED_NAMES and dataset in REAL_DATASETS:
            cells.setdefault(method, {}).setdefault(dataset, set()).add(bits)
    for method, datasets in sorted(cells.items()):
        name = PUBLISHED_NAMES[method]
        reported = {
            (r.dataset, r.bits) for r in reference if r.method == name and r.metric == metric
        }
        if not any(r.method == name for r in reference):
            notes.append(f"no published reference for {method} in the seed papers")
            continue
        for dataset, bits in sorted(datasets.items()):
            missing = sorted(b for b in bits if (dataset, b) not in reported)
            if missing:
                notes.append(
                    f"no published {metric} reference for {method} on {dataset} at "
                    f"{', '.join(map(str, missing))} bits in the seed papers"
                )
    return notes
