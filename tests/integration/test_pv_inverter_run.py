"""Several inverters over the real router (issue 12): `homesim run` of
examples/pv-inverter.yaml (a 4.5 kWp array on a 3 kW PV inverter beside the hybrid inverter
with its own array and a battery); the ledger books the PV inverter's DC in, AC out and
conversion losses with conservation ≤ 1e-9 relative, its AC is pvlib's PVWatts inverter of
the DC drawn and clips at 3 kW; `homesim validate` refuses a pv naming a missing inverter
with the field path."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pvlib
import pytest
import yaml

from homesim.devices.bus.store import LedgerStore

from .conftest import HOMESIM, ROOT, homesim_run, write_manifest

KWH = 3.6e6


def _flows(db: Path, source: str, sink: str, ticks: int) -> np.ndarray:
    """Per-tick energy from ``source`` to ``sink`` (all carriers) [J], read through the store."""
    out = np.zeros(ticks)
    with LedgerStore.open(db) as store:
        for p in store.packets(0, ticks):
            if p.source == source and p.sink == sink:
                out[p.tick] += p.joules
    return out


@pytest.mark.quick
def test_a_pv_inverter_beside_the_hybrid_inverter_runs(tmp_path):
    dt, days = 300, 2
    data = yaml.safe_load((ROOT / "examples" / "pv-inverter.yaml").read_text())
    data["spec"]["simulation"].update(duration=f"{days}d", dt=dt)
    m = write_manifest(tmp_path, data)
    _, s = homesim_run(m, tmp_path / "run", "--no-report", timeout=600)
    assert s["complete"]
    cons = s["conservation"]
    assert cons["relative_residual"] <= 1e-9, cons
    assert cons["per_node_relative"]["string-inverter"] <= 1e-9
    ticks = days * 86400 // dt
    path = tmp_path / "run" / "ledger.sqlite"
    db = sqlite3.connect(path)
    dc = _flows(path, "pv-west", "string-inverter", ticks)
    ac = _flows(path, "string-inverter", "inverter", ticks)
    assert ac.sum() > 5 * KWH
    assert ac.max() == pytest.approx(3000.0 * dt, rel=1e-12)  # clipping at the rating
    with np.errstate(all="ignore"):
        ref = pvlib.inverter.pvwatts(dc / dt, 3000 / 0.96, 0.96)
    ref = np.minimum(np.maximum(np.nan_to_num(np.asarray(ref)), 0.0), 3000.0) * dt
    np.testing.assert_allclose(ac, ref, rtol=1e-9, atol=1e-6)
    losses = db.execute("SELECT SUM(losses) FROM node_balance WHERE node='string-inverter'"
                        ).fetchone()[0]
    assert losses == pytest.approx((dc - ac).sum(), rel=1e-9)
    clipped = db.execute("SELECT SUM(total) FROM device_metric WHERE device='string-inverter' "
                         "AND metric='clipped'").fetchone()[0]
    assert clipped > 0
    # the headline PV AC counts both inverters; PV DC counts only the arrays (no double count)
    south = _flows(path, "pv-south", "inverter", ticks)
    assert s["energy_kwh"]["pv_dc"] == pytest.approx((south.sum() + dc.sum()) / KWH, rel=1e-9)
    assert ac.sum() / KWH < s["energy_kwh"]["pv_ac"] < (ac.sum() + south.sum()) / KWH
    db.close()


def test_validate_names_the_field_of_a_missing_pv_inverter(tmp_path):
    data = yaml.safe_load((ROOT / "examples" / "pv-inverter.yaml").read_text())
    i = next(i for i, d in enumerate(data["spec"]["devices"]) if d["name"] == "pv-west")
    data["spec"]["devices"][i]["properties"]["inverter"] = "nowhere"
    m = write_manifest(tmp_path, data)
    res = subprocess.run([*HOMESIM, "validate", str(m)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert f"spec.devices[{i}].properties.inverter" in out and "nowhere" in out
