"""The energy model of the SNN hashing papers: E = E_MAC x MACs + E_AC x SOPs.

Defaults are the 45 nm CMOS figures of Horowitz (ISSCC 2014) for 32-bit floating point:
4.6 pJ per multiply-accumulate and 0.9 pJ per accumulate. A MAC is an operation of a layer
whose input is real-valued; a SOP (synaptic operation) is the accumulate a spike triggers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PJ_PER_UJ = 1e6


@dataclass(frozen=True)
class EnergyModel:
    """Energy per operation in picojoules, and where the figures come from."""

    e_mac_pj: float = 4.6
    e_ac_pj: float = 0.9
    source: str = "45 nm, Horowitz 2014"

    def __post_init__(self) -> None:
        for name in ("e_mac_pj", "e_ac_pj"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def energy_pj(self, macs: float, sops: float) -> float:
        """Energy in picojoules of `macs` MACs and `sops` synaptic operations."""
        return self.e_mac_pj * macs + self.e_ac_pj * sops

    def energy_uj(self, macs: float, sops: float) -> float:
        """Energy in microjoules of `macs` MACs and `sops` synaptic operations."""
        return self.energy_pj(macs, sops) / PJ_PER_UJ

    def formula(self) -> str:
        """The formula as printed under tables."""
        return (
            f"E = {self.e_mac_pj:g} pJ x MACs + {self.e_ac_pj:g} pJ x SOPs ({self.source})"
        )

    def estimate(self, macs: float, sops: float) -> EnergyEstimate:
        """The energy of one item that costs `macs` MACs and `sops` SOPs, split by kind."""
        return EnergyEstimate(
            macs=float(macs),
            sops=float(sops),
            mac_uj=self.energy_uj(macs, 0.0),
            sop_uj=self.energy_uj(0.0, sops),
            model=self,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "e_mac_pj": float(self.e_mac_pj),
            "e_ac_pj": float(self.e_ac_pj),
            "source": self.source,
            "formula": self.formula(),
        }


@dataclass(frozen=True)
class EnergyEstimate:
    """Energy of one encoded item (one image-text pair), in microjoules."""

    macs: float
    sops: float
    mac_uj: float
    sop_uj: float
    model: EnergyModel

    @property
    def total_uj(self) -> float:
        return self.mac_uj + self.sop_uj

    def to_dict(self) -> dict[str, Any]:
        return {
            "macs": self.macs,
            "sops": self.sops,
            "mac_uj": self.mac_uj,
            "sop_uj": self.sop_uj,
            "total_uj": self.total_uj,
            **self.model.to_dict(),
        }
