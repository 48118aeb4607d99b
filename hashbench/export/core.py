"""`export_store`: the runs of a results store that match the table filters, written as an
export folder (per-run JSON files, the parquet table, the manifest).

Which runs: finished runs, as `hashbench table` selects them (trials of tuning studies never;
a run of a method whose budget changes nothing counts for every budget, and of its duplicates
stored under two budgets the canonical one is kept, as in the tables);
failed runs only with `include_failed` (they have no scores: a JSON file each, no parquet row).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hashbench.errors import InputError, StoreError
from hashbench.export.document import digest_problem
from hashbench.export.folder import check_target, staged
from hashbench.export.parquet_table import write_table
from hashbench.export.runs_json import ExportItem, write_manifest, write_runs
from hashbench.report.variants import variant_labels
from hashbench.store import ResultStore
from hashbench.store.records import RunRecord

FORMATS = ("json", "parquet")


@dataclass
class ExportFilters:
    """The table filters (None: not given), selecting as `hashbench table` selects: a run of a
    `budget_free` method (one whose budget changes nothing) counts for every budget
    (`hashbench.report.budgets`)."""

    datasets: list[str] | None = None
    methods: list[str] | None = None
    bits: list[int] | None = None
    budget: list[str] | None = None
    protocol: str | None = None
    budget_free: frozenset[str] = frozenset()

    def given(self) -> dict[str, Any]:
        """The filters as given (for the manifest)."""
        return {
            "datasets": self.datasets,
            "methods": self.methods,
            "bits": self.bits,
            "budget": self.budget,
            "protocol": self.protocol,
        }

    def columns(self) -> dict[str, Any]:
        """The store-column filters but the budget (`ResultStore.records` keywords)."""
        return {
            "dataset": self.datasets,
            "method": self.methods,
            "bits": self.bits,
            "protocol": self.protocol,
        }

    def matches(self, record: RunRecord) -> bool:
        """Whether a failed run passes the filters (as a finished one would)."""
        if record.protocol == "trial" and self.protocol is None:
            return False
        for column, wanted in self.columns().items():
            if wanted is None:
                continue
            if getattr(record, column) not in (wanted if isinstance(wanted, list) else [wanted]):
                return False
        budgets = self.budget
        return budgets is None or record.budget in budgets or record.method in self.budget_free


@dataclass
class ExportOptions:
    """What `hashbench export` was asked for."""

    formats: tuple[str, ...] = FORMATS
    with_codes: bool = False
    include_failed: bool = False
    force: bool = False
    filters: ExportFilters = field(default_factory=ExportFilters)
    # each run's default parameters (`variants.registry_reference`), so that the parquet
    # `setting` column names exactly what a run changed, as `hashbench table` does
    reference: Any = None


@dataclass
class ExportSummary:
    """What an export wrote."""

    out: Path
    runs: int
    runs_with_codes: int
    failed: int
    codes_missing: list[str]  # finished runs whose codes the store no longer has
    files: list[str]


def select_runs(store: ResultStore, options: ExportOptions) -> list[RunRecord]:
    """The runs to export: finished ones the filters select, then (with include_failed) the
    failed ones, each row checked against its row digest."""
    from hashbench.report.budgets import select_budgets

    filters = options.filters
    records = select_budgets(
        store.records(**filters.columns()), filters.budget, filters.budget_free
    )
    if options.include_failed:
        for record in store.failures():
            if not filters.matches(record):
                continue
            if problem := digest_problem(record):
                raise StoreError(
                    f"failed run {record.run_id} in {store.path} was changed after it was "
                    f"stored ({problem}); delete its row or rerun it"
                )
            records.append(record)
    return records


def export_store(store_path: Path, out: Path, options: ExportOptions) -> ExportSummary:
    """Export the selected runs of the store at `store_path` into the folder `out`."""
    unknown = sorted(set(options.formats) - set(FORMATS))
    if unknown or not options.formats:
        raise InputError(
            f"--format {','.join(options.formats)}: choose json, parquet or both (json,parquet)"
        )
    if options.with_codes and "json" not in options.formats:
        raise InputError(
            "--with-codes writes each run's codes beside its JSON file; add json to --format"
        )
    check_target(out, options.force)
    with ResultStore(store_path, readonly=True) as store:
        records = select_runs(store, options)
        if not records:
            raise InputError(
                f"no runs match in {store_path}; see `hashbench table` for what it holds"
            )
        for record in records:  # the exported run would not rebuild with its digest intact
            if problem := digest_problem(record):
                raise StoreError(
                    f"run {record.run_id} in {store_path} cannot be exported: {problem}"
                )
        missing: list[str] = []
        files: list[str] = []
        with staged(out) as staging:
            if "json" in options.formats:
                items = _items(store, records, options.with_codes, missing)
                files += write_runs(staging, items)
            if "parquet" in options.formats:
                done = [r for r in records if r.status == "done"]
                labels = variant_labels(done, options.reference, options.filters.budget_free)
                files.append(write_table(staging, done, labels))
            with_codes = sum(f.startswith("codes/") for f in files)
            write_manifest(
                staging,
                files,
                exported_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                source_store=str(Path(store_path).resolve()),
                filters=options.filters.given(),
                formats=list(options.formats),
                with_codes=options.with_codes,
                include_failed=options.include_failed,
                runs=len(records),
                runs_with_codes=with_codes,
            )
    return ExportSummary(
        out=out,
        runs=len(records),
        runs_with_codes=with_codes,
        failed=sum(r.status == "failed" for r in records),
        codes_missing=missing,
        files=sorted(files),
    )


def _items(
    store: ResultStore, records: list[RunRecord], with_codes: bool, missing: list[str]
) -> Iterator[ExportItem]:
    """Each run with its stored arrays (read one run at a time); finished runs whose codes
    are gone are exported without them (and without per-query summaries), listed in
    `missing`."""
    for record in records:
        arrays = None  # failed runs have none
        if record.status == "done":
            if store.codes_present(record.codes_path):
                arrays = store.load_arrays(record)  # checked; a damaged file stops the export
            else:
                missing.append(record.run_id)
        yield ExportItem(record=record, arrays=arrays, with_codes=with_codes)
