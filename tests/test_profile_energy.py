"""The energy model: constants, formula, configuration."""

from __future__ import annotations

import json
import math

import pytest

from hashbench.profile import EnergyModel


def test_defaults_are_horowitz_45nm():
    model = EnergyModel()
    assert (model.e_mac_pj, model.e_ac_pj) == (4.6, 0.9)
    assert model.formula() == "E = 4.6 pJ x MACs + 0.9 pJ x SOPs (45 nm, Horowitz 2014)"


def test_energy_in_microjoules():
    model = EnergyModel()
    assert model.energy_uj(1e6, 0) == pytest.approx(4.6)
    assert model.energy_uj(0, 1e6) == pytest.approx(0.9)
    assert model.energy_uj(22_040_000, 0) == pytest.approx(101.384)
    assert model.energy_pj(10, 20) == pytest.approx(46 + 18)


def test_constants_are_configurable():
    model = EnergyModel(e_mac_pj=3.1, e_ac_pj=0.1, source="28 nm, made up")
    assert model.energy_uj(1e6, 1e6) == pytest.approx(3.2)
    assert model.formula() == "E = 3.1 pJ x MACs + 0.1 pJ x SOPs (28 nm, made up)"


def test_estimate_splits_by_kind_and_serialises():
    estimate = EnergyModel().estimate(macs=2e6, sops=1e6)
    assert estimate.mac_uj == pytest.approx(9.2)
    assert estimate.sop_uj == pytest.approx(0.9)
    assert estimate.total_uj == pytest.approx(10.1)
    data = json.loads(json.dumps(estimate.to_dict()))
    assert data["e_mac_pj"] == 4.6 and data["e_ac_pj"] == 0.9
    assert data["formula"].startswith("E = 4.6 pJ x MACs")
    assert data["total_uj"] == pytest.approx(10.1)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "4.6"])
def test_invalid_constants_are_rejected(bad):
    with pytest.raises(ValueError, match="e_mac_pj"):
        EnergyModel(e_mac_pj=bad)
