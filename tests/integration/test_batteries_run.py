"""Several batteries and an AC-coupled battery over the real router (issue 12): `homesim run`
of examples/two-batteries.yaml and examples/ac-battery.yaml; the ledger of each run books
every battery on its own, within its limits, with conservation ≤ 1e-9 relative."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from homesim.devices.bus.store import LedgerStore

from .conftest import ROOT, homesim_run, write_manifest

KWH = 3.6e6


def _manifest(tmp, name: str, until: str, dt: int) -> tuple:
    data = yaml.safe_load((ROOT / "examples" / f"{name}.yaml").read_text())
    data["spec"]["simulation"].update(duration=until, dt=dt)
    return write_manifest(tmp, data), data


def _flows(db: Path, source: str, sink: str, ticks: int) -> np.ndarray:
    """Per-tick energy from ``source`` to ``sink`` (all carriers) [J], read through the store."""
    out = np.zeros(ticks)
    with LedgerStore.open(db) as store:
        for p in store.packets(0, ticks):
            if p.source == source and p.sink == sink:
                out[p.tick] += p.joules
    return out


def _soc(db: Path, device: str, ticks: int) -> np.ndarray:
    """The device's state of charge per tick [-] (0 where none was booked)."""
    with LedgerStore.open(db) as store:
        assert (device, "soc") in store.series_keys()
        return store.series(device, "soc", 0, ticks)


@pytest.mark.quick
def test_two_batteries_are_both_used_within_their_limits(tmp_path):
    dt, days = 300, 2
    m, data = _manifest(tmp_path, "two-batteries", f"{days}d", dt)
    _, s = homesim_run(m, tmp_path / "run", "--no-report", timeout=600)
    assert s["complete"]
    cons = s["conservation"]
    assert cons["relative_residual"] <= 1e-9, cons
    ticks = days * 86400 // dt
    db = tmp_path / "run" / "ledger.sqlite"
    props = {d["name"]: d["properties"] for d in data["spec"]["devices"]
             if d["kind"] == "battery"}
    assert set(props) == {"battery-a", "battery-b"}
    for name, p in props.items():
        assert cons["per_node_relative"][name] <= 1e-9
        c, d = _flows(db, "inverter", name, ticks), _flows(db, name, "inverter", ticks)
        assert c.sum() > 0.5 * KWH and d.sum() > 0.5 * KWH, name  # both take part
        assert c.max() <= p["p_charge_max"] * dt * (1 + 1e-12)
        assert d.max() <= p["p_discharge_max"] * dt * (1 + 1e-12)
        soc = _soc(db, name, ticks)
        assert len(soc) == ticks
        assert soc.min() >= p.get("soc_min", 0.05) - 1e-9
        assert soc.max() <= p.get("soc_max", 1.0) + 1e-9
    charge = sum(_flows(db, "inverter", n, ticks).sum() for n in props) / KWH
    assert s["energy_kwh"]["battery_charge"] == pytest.approx(charge, rel=1e-9)


def test_a_home_with_an_ac_coupled_battery_runs(tmp_path):
    dt, days = 300, 2
    m, data = _manifest(tmp_path, "ac-battery", f"{days}d", dt)
    _, s = homesim_run(m, tmp_path / "run", "--no-report", timeout=600)
    assert s["complete"] and s["conservation"]["relative_residual"] <= 1e-9
    ticks = days * 86400 // dt
    db = tmp_path / "run" / "ledger.sqlite"
    c, d = _flows(db, "inverter", "battery", ticks), _flows(db, "battery", "inverter", ticks)
    p_ac = 5000.0 * dt
    assert c.sum() > KWH and d.sum() > KWH
    assert c.max() <= p_ac * (1 + 1e-12) and d.max() <= p_ac * (1 + 1e-12)
    with LedgerStore.open(db) as store:
        conv = store.metric_totals()[("battery", "converter_losses")][0]
    # 4 % each way of what passed the converter
    assert conv == pytest.approx(0.04 * c.sum() + (1 / 0.96 - 1) * d.sum(), rel=1e-9)
