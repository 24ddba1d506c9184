"""The six-flat block over the real router: coupled flats, hybrid heat node, conservation."""

from __future__ import annotations

from collections import Counter

import pytest

from homesim.devices.bus.store import LedgerStore

from .conftest import ROOT, homesim_run

BLOCK = ROOT / "examples" / "block.yaml"
FLATS = ["ground-west", "ground-east", "first-west", "first-east", "top-west", "top-east"]


def _check_heat_summary(s: dict) -> dict:
    assert s["complete"], s.get("clock")
    h = s["heat"]
    assert sorted(h["flats"]) == sorted(FLATS)
    # conservation of every node, heat nodes included
    assert s["conservation"]["relative_residual"] <= 1e-9, s["conservation"]
    assert h["conservation_relative"] <= 1e-9
    assert s["conservation"]["unknown_nodes"] == []
    # the node delivers what it measured per flat
    assert sum(f["heat_kwh"] for f in h["flats"].values()) == pytest.approx(h["delivered_kwh"],
                                                                            rel=1e-9)
    return h


def test_block_winter_month(tmp_path):
    """January at dt = 900 s: every flat warm, middle flats need less heat than corner ones,
    the heat pump carries the load with a plausible COP, the boiler covers the cold peaks,
    and heat, gas and electricity are conserved at every node."""
    _, s = homesim_run(BLOCK, tmp_path / "jan", "--until", "31d", "--dt", "900", timeout=600)
    h = _check_heat_summary(s)
    flats = h["flats"]
    for name, f in flats.items():
        assert f["heat_kwh"] > 100, (name, f)            # January needs heating
        assert f["electricity_kwh"] > 50, (name, f)      # the kitchen (2200 kWh a year)
        assert f["degree_hours_below_setpoint"] < 1.0, (name, f)  # enough capacity: comfortable
        assert f["solar_gains_kwh"] > 0 and f["internal_gains_kwh"] > 0
    for side in ("west", "east"):
        middle = flats[f"first-{side}"]["heat_kwh"]
        assert middle < 0.95 * flats[f"top-{side}"]["heat_kwh"]     # roof
        assert middle < 0.95 * flats[f"ground-{side}"]["heat_kwh"]  # floor over the garage
    # heat through party walls and slabs is booked on both sides: it nets to zero
    assert sum(f["to_neighbours_kwh"] for f in flats.values()) == pytest.approx(0.0, abs=1e-6)
    hp = h["heat_pumps"]["heat-pump"]
    assert 1.5 < hp["scop"] < 5.0, hp
    assert hp["heat_kwh"] > 0.8 * h["delivered_kwh"]
    boiler = h["boilers"]["boiler"]
    assert boiler["heat_kwh"] > 0, "the boiler should cover the coldest hours"
    assert 0.85 < boiler["efficiency"] <= 1.0
    assert boiler["cost"] == pytest.approx(boiler["gas_kwh"] * 0.12, rel=1e-9)
    assert h["unmet_kwh"] == pytest.approx(0.0, abs=1e-6)
    # the heat pump's electricity went over the electric bus (inverter → heat pump)
    elec = {(f["source"], f["sink"]): f["kwh"] for f in s["flows"]
            if f["carrier"] == "electricity"}
    assert elec[("inverter", "heat-pump")] == pytest.approx(hp["electricity_kwh"], rel=1e-9)
    # packets on disk: heat between neighbours in both directions is booked per tick
    with LedgerStore.open(tmp_path / "jan" / "ledger.sqlite") as store:
        packets = list(store.packets())
    rows = Counter(p.carrier for p in packets)
    assert rows.get("heat", 0) > 0 and rows.get("gas", 0) > 0 and rows.get("solar", 0) > 0
    for name in FLATS:
        n = sum(1 for p in packets
                if (p.source, p.sink, p.carrier) == ("heat-node", name, "heat"))
        assert n > 0, name
    html = (tmp_path / "jan" / "report.html").read_text()
    assert "Heat by period [kWh]" in html and "Room temperature per flat" in html
    print({k: round(v["heat_kwh"], 1) for k, v in flats.items()}, hp, boiler)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_block_year_dt_60_and_900_agree(tmp_path):
    """A year of the block at dt = 900 s and at dt = 60 s: annual heat per flat within 1 %,
    heat pump SCOP within 1 %, conservation ≤ 1e-9 at both; the garage's chargers under the
    40 kW connection (peak import, throttled and unmet EV energy in the summary)."""
    _, coarse = homesim_run(BLOCK, tmp_path / "y900", "--until", "365d", "--dt", "900",
                            "--no-report", timeout=1800)
    _, fine = homesim_run(BLOCK, tmp_path / "y60", "--until", "365d", "--dt", "60",
                          "--no-report", timeout=3600)
    hc, hf = _check_heat_summary(coarse), _check_heat_summary(fine)
    for name in FLATS:
        a, b = hc["flats"][name]["heat_kwh"], hf["flats"][name]["heat_kwh"]
        assert a == pytest.approx(b, rel=0.01), (name, a, b)
    total_c = sum(f["heat_kwh"] for f in hc["flats"].values())
    total_f = sum(f["heat_kwh"] for f in hf["flats"].values())
    assert total_c == pytest.approx(total_f, rel=0.01)
    for s in (coarse, fine):
        ev = s["ev"]
        assert s["peak_import_w"] <= 40000 * (1 + 1e-9)
        assert ev["delivered_kwh"] > 1000  # two cars, a year
        assert ev["unmet_kwh"] < 0.01 * ev["delivered_kwh"]
        assert ev["throttled_kwh"] >= 0
    scop_c = hc["heat_pumps"]["heat-pump"]["scop"]
    scop_f = hf["heat_pumps"]["heat-pump"]["scop"]
    assert scop_c == pytest.approx(scop_f, rel=0.01)
    print(f"annual heat: dt=900 {total_c:.1f} kWh, dt=60 {total_f:.1f} kWh "
          f"({100 * (total_c / total_f - 1):+.3f} %); SCOP {scop_c:.3f} / {scop_f:.3f}; "
          f"clock {coarse['clock']['wall_elapsed']:.1f} s / {fine['clock']['wall_elapsed']:.1f} s;"
          f" EV {fine['ev']}; peak import {fine['peak_import_w']:.0f} W")
