"""Efficiency tables: parameters, MACs, SOPs, energy, training time and encode throughput.

Built from the profiles stored with runs. Energy is recomputed from the stored MAC and SOP
counts with the energy model asked for, so changing the constants needs no rerun.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hashbench.profile import EnergyModel
from hashbench.report.variants import variant_labels
from hashbench.store import RunRecord

EFFICIENCY_COLUMNS = (
    "method",
    "dataset",
    "bits",
    "params",
    "MACs/pair",
    "SOPs/pair",
    "energy uJ/pair",
    "firing rate",
    "train s",
    "encode items/s",
)


@dataclass(frozen=True)
class EfficiencyRow:
    method: str
    dataset: str
    bits: int
    params: int | None
    macs: float | None
    sops: float | None
    energy_uj: float | None
    firing_rate: float | None
    train_s: float | None
    encode_items_per_s: float | None
    seeds: int

    def cells(self) -> tuple[str, ...]:
        def num(value: float | None, fmt: str) -> str:
            return "-" if value is None else format(value, fmt)

        return (
            self.method,
            self.dataset,
            str(self.bits),
            num(self.params, ","),
            num(self.macs, ",.0f"),
            num(self.sops, ",.0f"),
            num(self.energy_uj, ".2f"),
            num(self.firing_rate, ".4f"),
            num(self.train_s, ".1f"),
            num(self.encode_items_per_s, ",.0f"),
        )


def model_counts(profile: dict[str, Any], energy: EnergyModel) -> dict[str, float | None]:
    """Params, MACs, SOPs, firing rate and energy per pair from a stored profile."""
    model = profile.get("model") or {}
    ops = model.get("ops") or {}
    macs, sops = ops.get("macs_per_item"), ops.get("sops_per_item")
    return {
        "params": (model.get("params") or {}).get("total"),
        "macs": macs,
        "sops": sops,
        "firing_rate": (model.get("firing") or {}).get("overall"),
        "energy_uj": energy.energy_uj(macs, sops or 0.0) if macs is not None else None,
    }


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def build_efficiency_rows(records: Iterable[RunRecord], energy: EnergyModel) -> list[EfficiencyRow]:
    """One row per (method variant, dataset, bits); times are means over seeds.

    Runs that differ in budget, protocol or parameters are separate rows, labelled as in the
    comparison table (`hashbench.report.variants`), never averaged together.
    """
    records = list(records)
    labels = variant_labels(records)
    groups: dict[tuple[str, str, int], list[RunRecord]] = defaultdict(list)
    for record in records:
        groups[(labels[record.run_id], record.dataset, record.bits)].append(record)
    rows = []
    for (method, dataset, bits), group in sorted(groups.items()):
        counts = [model_counts(r.profile, energy) for r in group]
        run = [r.profile.get("run", {}) for r in group]
        rows.append(
            EfficiencyRow(
                method=method,
                dataset=dataset,
                bits=bits,
                params=counts[0]["params"],
                macs=_mean([c["macs"] for c in counts]),
                sops=_mean([c["sops"] for c in counts]),
                energy_uj=_mean([c["energy_uj"] for c in counts]),
                firing_rate=_mean([c["firing_rate"] for c in counts]),
                train_s=_mean([r.get("train_s") for r in run]),
                encode_items_per_s=_mean([r.get("encode_items_per_s") for r in run]),
                seeds=len(group),
            )
        )
    return rows
