"""Published numbers as reference rows: CSV files in results/reference/, one per paper table.

Each file has a comment header naming its source and columns task, method, venue, dataset, bits,
metric, value. They are shown (with a dagger, "reported") beside results on the real datasets
only: a number measured on synthetic data is never compared with a published one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from hashbench.errors import InputError

REAL_DATASETS = ("mirflickr", "nuswide", "mscoco")


@dataclass(frozen=True)
class ReferenceValue:
    source: str  # the file's stem, e.g. ucmfh_2023_table3
    task: str
    method: str
    dataset: str
    bits: int
    metric: str
    value: float


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
                        )
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    raise InputError(
                        f"{path}: bad row {n} ({exc}); see results/README.md"
                    ) from None
    return values
