"""Issue 12's done-when: a PVWatts chain configured by the book, run through the whole bus
(a real `homesim run`), matches an independent pvlib computation within 0.1 % of the annual
AC energy."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import homesim_run, write_manifest

pytestmark = pytest.mark.integration

DT = 900.0


def _book_home() -> dict:
    return {
        "apiVersion": "homesim.io/v1alpha1", "kind": "Home", "metadata": {"name": "pvbook"},
        "spec": {
            "location": {"latitude": 36.1, "longitude": -79.95, "altitude": 270,
                         "timezone": "Etc/GMT+5"},
            "simulation": {"start": "2025-01-01T00:00:00", "dt": DT, "duration": "365d"},
            "devices": [
                {"name": "weather", "kind": "weather"},
                {"name": "sun", "kind": "sun"},
                {"name": "array", "kind": "pv", "properties": {
                    "model": "pvwatts", "pdc0": 5000, "gamma_pdc": -0.004, "surface_tilt": 30,
                    "surface_azimuth": 180, "albedo": 0.25,
                    "transposition": "isotropic",              # isotropic sky
                    "aoi_model": "no_loss",                    # no reflection losses
                    "spectral_model": "no_loss",
                    "temperature_model": "open_rack_glass_polymer",  # SAPM open rack
                    "pvwatts_losses": {}}},                    # pvwatts_losses() defaults
                {"name": "inverter", "kind": "inverter", "properties": {
                    "p_ac_max": 5000, "efficiency_model": "pvwatts", "eta_inv_nom": 0.96}},
                {"name": "grid", "kind": "grid", "properties": {"p_export_max": 1e9}},
            ],
        },
    }


def _pvlib_annual_ac_kwh() -> float:
    """Independent pvlib: the bundled TMY3 onto the run's ticks (irradiance: the hourly mean
    of the hour holding the tick; air temperature and wind: linear interpolation between
    hour midpoints, periodic over the typical year), solar position at tick midpoints, and
    ModelChain configured by the book [kWh]."""
    import pandas as pd
    import pvlib
    from pvlib.location import Location
    from pvlib.modelchain import ModelChain
    from pvlib.pvsystem import PVSystem
    from pvlib.temperature import TEMPERATURE_MODEL_PARAMETERS

    tmy3 = Path(pvlib.__file__).parent / "data" / "723170TYA.CSV"  # the weather's default
    data, _ = pvlib.iotools.read_tmy3(tmy3, coerce_year=2025, map_variables=True)
    data = data.sort_index()  # hour-ending stamps, local standard time
    t0 = pd.Timestamp("2025-01-01", tz="Etc/GMT+5")
    n = int(365 * 86400 / DT)
    mid = (np.arange(n) + 0.5) * DT  # tick midpoints, seconds after t0
    end = ((data.index - t0).total_seconds()).to_numpy()  # hour ends: 3600 … 8760 h
    hour = np.floor(mid / 3600.0).astype(int)  # record i covers [i h, (i + 1) h)
    assert np.array_equal(end, (np.arange(8760) + 1) * 3600.0)
    weather = pd.DataFrame(
        {k: data[k].to_numpy()[hour] for k in ("ghi", "dni", "dhi")},
        index=t0 + pd.to_timedelta(mid, unit="s"))
    year = 365 * 86400.0
    for k in ("temp_air", "wind_speed"):
        weather[k] = np.interp(mid, end - 1800.0, data[k].to_numpy(), period=year)
    system = PVSystem(
        surface_tilt=30, surface_azimuth=180, albedo=0.25,
        module_parameters={"pdc0": 5000, "gamma_pdc": -0.004},
        inverter_parameters={"pdc0": 5000 / 0.96, "eta_inv_nom": 0.96},
        temperature_model_parameters=TEMPERATURE_MODEL_PARAMETERS["sapm"][
            "open_rack_glass_polymer"])
    loc = Location(36.1, -79.95, tz="Etc/GMT+5", altitude=270)
    mc = ModelChain(system, loc, transposition_model="isotropic", aoi_model="no_loss",
                    spectral_model="no_loss", temperature_model="sapm", dc_model="pvwatts",
                    ac_model="pvwatts", losses_model="pvwatts")
    mc.run_model(weather)
    return float(mc.results.ac.clip(lower=0).sum()) * DT / 3.6e6


def test_pvwatts_by_the_book_over_the_bus_matches_pvlib(tmp_path) -> None:
    m = write_manifest(tmp_path, _book_home())
    t0 = time.perf_counter()
    _, s = homesim_run(m, tmp_path / "run", timeout=900)
    took = time.perf_counter() - t0
    ours = s["energy_kwh"]["pv_ac"]
    ref = _pvlib_annual_ac_kwh()
    assert s["complete"] and s["ticks"] == 35040
    assert s["energy_kwh"]["grid_export"] == pytest.approx(ours, rel=1e-9)
    diff = ours / ref - 1.0
    print(f"PVWatts by the book, a year at dt = {DT:.0f} s over the bus: homesim {ours:.3f} "
          f"kWh, pvlib {ref:.3f} kWh, diff {100 * diff:+.5f} %; run {took:.1f} s wall")
    assert abs(diff) < 0.001
