"""The seed's garage scenario over the real router: a 40 kW connection, six flats cooking
(~20 kW), two EVs asking 11 kW each → the load manager throttles the chargers, the
connection never exceeds 40 kW, no flat is cut, and the cars are full by the morning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from homesim.devices.bus.store import LedgerStore

from .conftest import homesim_run, write_manifest

LIMIT = 40000.0


def garage(strategy: str = "equal_share") -> dict:
    flats = [{"name": f"flat-{i}", "kind": "load", "properties": {
        "annual_kwh": 2500, "appliances": [
            {"name": "cooking", "power": 3000, "start": "17:00", "end": "20:00"}]}}
        for i in range(1, 7)]
    cars = [{"name": f"ev-{i}", "kind": "ev_charger", "properties": {
        "p_max": 11000, "p_min": 1400, "efficiency": 0.92,
        "sessions": [{"arrival": "17:30", "departure": "07:00", "energy_kwh": 60,
                      "capacity_kwh": 75}]}} for i in (1, 2)]
    return {
        "apiVersion": "homesim.io/v1alpha1", "kind": "Home", "metadata": {"name": "garage"},
        "spec": {
            "location": {"latitude": 36.1, "longitude": -79.95, "timezone": "Etc/GMT+5"},
            "simulation": {"start": "2025-01-06T12:00:00", "duration": "1d", "dt": 60},
            "devices": [
                {"name": "inverter", "kind": "inverter", "properties": {"p_ac_max": 50000}},
                {"name": "grid", "kind": "grid", "properties": {"p_import_max": LIMIT}},
                *flats, *cars,
                {"name": "load-manager", "kind": "load_manager",
                 "properties": {"strategy": strategy}},
            ],
        },
    }


def _series(db: Path, source: str, sink: str, ticks: int) -> np.ndarray:
    """Per-tick energy from ``source`` to ``sink`` (all carriers) [J], read through the store."""
    out = np.zeros(ticks)
    with LedgerStore.open(db) as store:
        for p in store.packets(0, ticks):
            if p.source == source and p.sink == sink:
                out[p.tick] += p.joules
    return out


@pytest.mark.parametrize("strategy", ["equal_share", "first_come", "departure_priority"])
def test_forty_kw_connection_two_evs(tmp_path, strategy):
    m = write_manifest(tmp_path, garage(strategy))
    _, s = homesim_run(m, tmp_path / "run", "--no-report", timeout=600)
    assert s["complete"] and s["conservation"]["relative_residual"] <= 1e-9
    ev = s["ev"]
    assert s["peak_import_w"] <= LIMIT * (1 + 1e-9)
    assert ev["throttled_kwh"] > 1.0, ev                    # the chargers were throttled
    assert ev["unmet_kwh"] == pytest.approx(0.0, abs=1e-6)  # … and still full by 07:00
    for c in ev["chargers"].values():
        assert c["delivered_kwh"] == pytest.approx(60.0, rel=1e-9)
    assert s["energy_kwh"]["unserved"] == pytest.approx(0.0, abs=1e-9)  # no flat cut
    ticks = s["ticks"]
    db = tmp_path / "run" / "ledger.sqlite"
    imp = _series(db, "grid", "inverter", ticks) / 60.0
    p1 = _series(db, "inverter", "ev-1", ticks) / 60.0
    p2 = _series(db, "inverter", "ev-2", ticks) / 60.0
    assert imp.max() <= LIMIT * (1 + 1e-9)
    # ticks from 12:00 local: 18:00–19:30 the flats cook; 20:00–21:00 they do not
    cooking = slice(6 * 60, 7 * 60 + 30)
    evening = slice(8 * 60, 9 * 60)
    assert (p1[cooking] + p2[cooking]).max() < 2 * 11000 - 1.0   # throttled while cooking
    assert imp[cooking].max() > 0.95 * LIMIT                     # … up to the limit
    assert np.all(p1[evening] + p2[evening] > 2 * 11000 - 1.0)   # released afterwards
    for p in (p1, p2):  # 0 or ≥ p_min, except the last top-up that fills the car
        last = np.flatnonzero(p)[-1]
        ok = (p == 0) | (p >= 1400 - 1e-9)
        ok[last] = True
        assert np.all(ok)
    if strategy == "equal_share":
        both = (p1 > 0) & (p2 > 0)
        assert np.allclose(p1[both], p2[both], rtol=1e-9)
    if strategy == "first_come":  # same arrival: the first charger is served first
        assert np.all(p1[cooking] == 11000.0) and np.all(p2[cooking] < 11000.0)
    print(strategy, {k: round(v, 2) if isinstance(v, float) else v for k, v in ev.items()})
