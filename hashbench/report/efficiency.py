"""Efficiency tables: parameters, MACs, SOPs, energy, training time and encode throughput.

Built from the profiles stored with runs. Energy is recomputed from the stored MAC and SOP
counts with the energy model asked for, so changing the constants needs no rerun. The column T
shows what explains a spiking method's counts: its time steps (the `time_steps` parameter stored
with the run; SpikeHash uses 8 at 16 bits and 4 above, so its SOPs and energy per pair at 16 bits
are not comparable to the other lengths without it).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from hashbench.profile import EnergyModel
from hashbench.report.latex_text import latex_escape
from hashbench.report.markdown_text import markdown_escape
from hashbench.report.names import Names
from hashbench.report.variants import variant_labels
from hashbench.store import RunRecord

EFFICIENCY_COLUMNS = (
    "method",
    "dataset",
    "bits",
    "T",
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
    time_steps: int | None
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
            "-" if self.time_steps is None else str(self.time_steps),
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


def _time_steps(records: list[RunRecord]) -> int | None:
    """The time steps the runs stored (None: not a spiking method, or not recorded)."""
    values = {r.params.get("time_steps") for r in records}
    if len(values) == 1:
        (value,) = values
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def efficiency_notes(rows: Iterable[EfficiencyRow], energy: EnergyModel) -> list[str]:
    """What a reader needs to read the efficiency columns (the energy model; T where used)."""
    notes = [f"Energy per image-text pair: {energy.formula()}."]
    if any(row.time_steps is not None for row in rows):
        notes.append(
            "T: time steps of a spiking method (its SOPs and energy grow with T); "
            "-: not spiking, or not recorded with the run."
        )
    return notes


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def build_efficiency_rows(
    records: Iterable[RunRecord],
    energy: EnergyModel,
    labels: Mapping[str, str] | None = None,
) -> list[EfficiencyRow]:
    """One row per (method variant, dataset, bits); times are means over seeds.

    Runs that differ in budget, protocol or parameters are separate rows, labelled as in the
    comparison table (`hashbench.report.variants`), never averaged together.
    """
    records = list(records)
    labels = variant_labels(records) if labels is None else labels
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
                time_steps=_time_steps(group),
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


def render_efficiency(
    rows: list[EfficiencyRow], energy: EnergyModel, fmt: str, names: Names | None = None
) -> str:
    """The rows as a Markdown ("markdown") or LaTeX booktabs ("latex") table with its notes;
    `names` shows methods and datasets (default: as stored)."""
    names = names or Names.cli()
    cells = [
        (names.method(r.method), names.dataset(r.dataset), *r.cells()[2:]) for r in rows
    ]
    notes = efficiency_notes(rows, energy)
    # the cells are formatted already: no re-parsing ("0.30" stays "0.30"), numbers right-aligned
    layout = {
        "headers": EFFICIENCY_COLUMNS,
        "disable_numparse": True,
        "colalign": ("left", "left") + ("right",) * (len(EFFICIENCY_COLUMNS) - 2),
    }
    if fmt == "markdown":
        escaped = [(markdown_escape(m), markdown_escape(d), *rest) for m, d, *rest in cells]
        return tabulate(escaped, tablefmt="github", **layout) + "".join(
            f"\n\n{markdown_escape(note)}" for note in notes
        )
    body = tabulate(cells, tablefmt="latex_booktabs", **layout)
    block = "\n".join(latex_escape(note) + r"\par" for note in notes)
    return (
        f"{body}\n\\par\\smallskip\n\\begin{{minipage}}{{\\linewidth}}\\footnotesize\n"
        f"{block}\n\\end{{minipage}}"
    )
