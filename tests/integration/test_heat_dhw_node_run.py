"""Issue 12, heat: hot water heated by the heat pump through the heat node, in a real run
(router, one process per device): examples/dhw-heat-pump.yaml."""

from __future__ import annotations

import sqlite3

import pytest

from homesim.devices.bus.store import LedgerStore
from homesim.schemas.units import J_PER_KWH

from .conftest import ROOT, homesim_run

M_CYCLE_KWH = 5.845


def test_heat_pump_heats_the_tank_in_a_real_run(tmp_path):
    """2 days at dt 300 s: the tank's and the heat node's balances close to 1e-9, every draw
    of cycle M is served, the tank stays between t_use and t_set, and the heat node's heat
    into the tank is what the tank booked."""
    out = tmp_path / "run"
    _, s = homesim_run(ROOT / "examples" / "dhw-heat-pump.yaml", out, "--until", "2d",
                       "--dt", "300", timeout=600)
    assert s["complete"]
    cons = s["conservation"]
    assert cons["relative_residual"] <= 1e-9, cons
    for node in ("hot-water", "heat-node", "heat-pump"):
        assert cons["per_node_relative"][node] <= 1e-9, (node, cons)
    con = sqlite3.connect(out / "ledger.sqlite")

    def metric(device: str, name: str) -> tuple[float, float, float]:
        row = con.execute("select sum(total), min(minimum), max(maximum) from device_metric "
                          "where device = ? and metric = ?", (device, name)).fetchone()
        return float(row[0]), float(row[1]), float(row[2])

    assert metric("hot-water", "drawn")[0] == pytest.approx(2 * M_CYCLE_KWH * J_PER_KWH,
                                                            rel=1e-12)
    assert metric("hot-water", "unmet")[0] == 0.0
    _, t_min, t_max = metric("hot-water", "temp")
    assert 40.0 <= t_min < 45.0 and t_max <= 50.0 + 1e-9
    with LedgerStore.open(out / "ledger.sqlite") as store:
        heat = sum(j for (src, snk, _), j in store.flow_totals().items()
                   if (src, snk) == ("heat-node", "hot-water"))
    assert heat > 0 and heat == pytest.approx(metric("hot-water", "heat")[0], rel=1e-12)
    assert metric("heat-pump", "t_flow")[2] == pytest.approx(55.0)  # t_set + 5 K
