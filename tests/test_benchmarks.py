"""The benchmarks' lower bound reproduces the project's models; the ratio benchmark runs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import yaml

from homesim.devices.models.battery import BatteryEnvelope
from homesim.devices.models.inverter import InverterSettings, allocate
from homesim.devices.models.pv import PVWattsArray, pv_dc
from homesim.devices.models.sun import solar_position
from homesim.devices.models.weather import read_weather

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
EXAMPLE = ROOT / "examples" / "home.yaml"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))  # the scripts import their siblings
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def lb() -> ModuleType:
    return _load("lower_bound")


@pytest.fixture(scope="module")
def three_days(lb: ModuleType) -> dict:
    # 2025-01-01 … 03 local: Thursday 2 January has load shedding 18:00-20:00 (islanded)
    return lb.simulate(days=3.0, dt=60.0)


@pytest.fixture(scope="module")
def devices() -> dict:
    return {d["kind"]: d.get("properties") or {}
            for d in yaml.safe_load(EXAMPLE.read_text())["spec"]["devices"]}


def test_pv_chain_equals_pv_dc(three_days: dict, devices: dict) -> None:
    """The hand-written pvlib chain gives pv_dc's solar and DC energy, tick by tick."""
    s = three_days["series"]
    t, dt = s["times"], 60.0
    w = read_weather(None).sample(float(t[0]), dt, 0, len(t))
    sun = solar_position(t + dt / 2, 36.1, -79.95, 270.0)
    p = devices["pv"]
    array = PVWattsArray(pdc0=p["pdc0"], surface_tilt=p["surface_tilt"],
                         surface_azimuth=p["surface_azimuth"], transposition=p["transposition"])
    ref = pv_dc(array, w["ghi"], w["dni"], w["dhi"], w["temp_air"], w["wind_speed"],
                sun["apparent_zenith"], sun["azimuth"], sun["dni_extra"], dt, 270.0)
    assert ref["dc"].sum() > 1e7  # a few sunny hours: the comparison is not of zeros
    np.testing.assert_allclose(s["solar"], ref["solar"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(s["dc"], ref["dc"], rtol=1e-12, atol=1e-9)


def test_dispatch_equals_allocate(three_days: dict, devices: dict) -> None:
    """The hand-written self-consumption loop allocates as the inverter model does."""
    s = three_days["series"]
    islanded = (s["import_max"] <= 0) & (s["export_max"] <= 0)
    assert islanded.sum() == 120  # Thursday's load shedding, 2 h of 1-minute ticks
    inv, b = devices["inverter"], devices["battery"]
    settings = InverterSettings(p_ac_max=inv["p_ac_max"], mode=inv["mode"],
                                reserve_soc=inv["reserve_soc"], tz="Etc/GMT+5")
    env = BatteryEnvelope(energy=b["soc_initial"] * b["capacity"],
                          e_min=b["soc_min"] * b["capacity"], e_max=b["soc_max"] * b["capacity"],
                          p_charge_max=b["p_charge_max"], p_discharge_max=b["p_discharge_max"],
                          eta_charge=b["eta_charge"], eta_discharge=b["eta_discharge"],
                          capacity=b["capacity"])
    a = allocate(settings, 60.0, s["times"], s["dc"], None, s["demand"], s["import_max"],
                 s["export_max"], env)
    assert a.battery_discharge.sum() > 1e6 and a.battery_charge.sum() > 1e6
    for ours, ref in (("pv_used", a.pv_ac), ("to_load", a.to_load), ("unserved", a.unserved),
                      ("charge", a.battery_charge), ("discharge", a.battery_discharge),
                      ("grid_import", a.grid_import), ("grid_export", a.grid_export),
                      ("energy", a.battery_energy)):
        np.testing.assert_allclose(s[ours], ref, rtol=0, atol=1e-6, err_msg=ours)


def test_figures_are_the_sums(three_days: dict) -> None:
    """The reported figures are the kWh sums of the series; energy balances at the AC bus."""
    s, f = three_days["series"], three_days["figures_kwh"]
    assert three_days["ticks"] == 3 * 1440
    assert f["grid_import"] == pytest.approx(s["grid_import"].sum() / 3.6e6)
    assert f["load_demand"] == pytest.approx(f["load_served"] + f["unserved"])
    bus_in = s["pv_used"] + s["discharge"] + s["grid_import"]
    bus_out = s["to_load"] + s["charge"] + s["grid_export"]
    np.testing.assert_allclose(bus_in, bus_out, rtol=0, atol=1e-6)
    assert 0 < f["pv_ac"] < f["pv_dc_available"] < f["solar_incident"]


def test_compare_flags_a_difference(lb: ModuleType, three_days: dict) -> None:
    """compare() passes identical figures and flags one beyond the tolerance."""
    energy = {k: v for k, v in three_days["figures_kwh"].items()
              if k not in ("pv_dc_available",)}
    energy.update(pv_dc=three_days["figures_kwh"]["pv_dc_available"], curtailed_dc=0.0)
    summary = {"ticks": three_days["ticks"], "dt": 60.0, "energy_kwh": energy,
               "cost": {"grid": three_days["cost"]}}
    assert all(v["ok"] for v in lb.compare(three_days, summary).values())
    assert energy["grid_import"] > 10.0  # January: mostly from the grid
    energy["grid_import"] *= 1.001
    bad = lb.compare(three_days, summary)
    assert not bad["grid_import"]["ok"] and bad["grid_export"]["ok"]
    with pytest.raises(ValueError, match="ticks"):
        lb.compare(three_days, {**summary, "ticks": 1})


@pytest.mark.integration
@pytest.mark.slow
def test_ratio_quick_runs(tmp_path: Path) -> None:
    """ratio.py times homesim and the lower bound and they agree on every figure."""
    out = tmp_path / "ratio.json"
    res = subprocess.run([sys.executable, str(BENCH / "ratio.py"), "--quick", "--days", "2",
                          "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["agreement_worst_relative"] < 1e-6
    assert r["median"]["ratio"] > 0 and r["median"]["rss_median_device_mib"] > 0
    assert {"clock", "ledger", "battery"} <= set(r["pairs_detail"][0]["homesim"]["rss_peak_mib"])
    assert "PASS" in res.stdout or "FAIL" in res.stdout


def test_window_lateness() -> None:
    """scale.py: lateness is measured against the most punctual window; catch-up is found."""
    scale = _load("scale")
    k = np.arange(10.0)
    arrival = 100.0 + k + 0.002  # on time, 2 ms transport
    arrival[1:4] = 106.0 + np.array([0.0, 0.2, 0.4])  # a slow first window, then back to back
    arrival[7] += 0.010  # one window 10 ms late
    rows = np.column_stack([arrival, k, np.ones(10), np.ones(10)])
    late = scale.lateness(rows)
    assert late.min() == 0.0
    assert late[7] == pytest.approx(0.010)
    assert late[1] == pytest.approx(4.998)
    assert scale.caught_up(rows) == pytest.approx(arrival[4])
