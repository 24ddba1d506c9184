"""A simulated year over the real router: PV yield against pvlib, conservation, the example."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import EXAMPLE, HOMESIM, homesim_run, write_manifest


def _pv_only_home() -> dict:
    return {
        "apiVersion": "homesim.io/v1alpha1", "kind": "Home", "metadata": {"name": "pvonly"},
        "spec": {
            "location": {"latitude": 36.1, "longitude": -79.95, "altitude": 270,
                         "timezone": "Etc/GMT+5"},
            "simulation": {"start": "2025-01-01T00:00:00", "dt": 3600, "duration": "365d"},
            "devices": [
                {"name": "weather", "kind": "weather"},
                {"name": "sun", "kind": "sun"},
                {"name": "array", "kind": "pv", "properties": {
                    "model": "pvwatts", "pdc0": 5000, "gamma_pdc": -0.004, "surface_tilt": 30,
                    "surface_azimuth": 180, "transposition": "perez"}},
                {"name": "inverter", "kind": "inverter", "properties": {
                    "p_ac_max": 5000, "efficiency_model": "pvwatts", "eta_inv_nom": 0.96}},
                {"name": "grid", "kind": "grid", "properties": {"p_export_max": 1e9}},
            ],
        },
    }


def _pvlib_annual_ac_kwh() -> float:
    """Independent pvlib ModelChain (PVWatts) on the bundled TMY3, hour midpoints [kWh]."""
    import pandas as pd
    import pvlib
    from pvlib.location import Location
    from pvlib.modelchain import ModelChain
    from pvlib.pvsystem import PVSystem
    from pvlib.temperature import TEMPERATURE_MODEL_PARAMETERS

    from homesim.devices.models.weather import default_weather_path

    data, _ = pvlib.iotools.read_tmy3(default_weather_path(), coerce_year=2025,
                                      map_variables=True)
    weather = data[["ghi", "dni", "dhi", "temp_air", "wind_speed"]].copy()
    weather.index = weather.index - pd.Timedelta("30min")  # values are hour-ending averages
    system = PVSystem(
        surface_tilt=30, surface_azimuth=180,
        module_parameters={"pdc0": 5000, "gamma_pdc": -0.004},
        inverter_parameters={"pdc0": 5000 / 0.96, "eta_inv_nom": 0.96},
        temperature_model_parameters=TEMPERATURE_MODEL_PARAMETERS["sapm"][
            "open_rack_glass_polymer"])
    loc = Location(36.1, -79.95, tz="Etc/GMT+5", altitude=270)
    mc = ModelChain.with_pvwatts(system, loc)
    mc.run_model(weather)
    return float(mc.results.ac.clip(lower=0).sum()) / 1000.0


def test_pvwatts_annual_yield_matches_pvlib(tmp_path):
    """Annual AC yield of a PVWatts array over the bus = independent pvlib within 0.5 %."""
    m = write_manifest(tmp_path, _pv_only_home())
    _, s = homesim_run(m, tmp_path / "run")
    ours = s["energy_kwh"]["grid_export"]
    ref = _pvlib_annual_ac_kwh()
    assert s["ticks"] == 8760
    assert s["energy_kwh"]["pv_ac"] == pytest.approx(ours, rel=1e-9)
    assert ours == pytest.approx(ref, rel=0.005), (ours, ref)
    print(f"PVWatts annual AC: homesim {ours:.3f} kWh, pvlib ModelChain {ref:.3f} kWh, "
          f"diff {100 * (ours / ref - 1):+.4f} %")


@pytest.mark.slow
def test_example_home_year_at_dt_60(tmp_path):
    """The README's run: the example home, a year, dt = 60 s, speed max; conservation ≤ 1e-9;
    its report renders in headless Chromium."""
    import re
    import time

    from .test_report import _assert_png, _dump_dom, find_chromium, rendered_figures

    _, s = homesim_run(EXAMPLE, tmp_path / "year", "--until", "365d", "--dt", "60",
                       "--speed", "max", "--no-report", timeout=900)
    chromium = find_chromium()
    assert chromium, "Chromium is missing (.ci/run installs it)"
    t0 = time.perf_counter()
    res = subprocess.run([*HOMESIM, "report", str(tmp_path / "year")], capture_output=True,
                         text=True, timeout=600)
    took = time.perf_counter() - t0
    assert res.returncode == 0, res.stderr[-2000:]
    dom = _dump_dom(chromium, tmp_path / "year" / "report.html")
    assert len(re.findall(r'class="plot-container plotly"', dom)) >= 5
    drawn = rendered_figures(dom)
    assert {"sankey", "energy", "power", "soc", "cost"} <= set(drawn), drawn
    assert all(n > 0 for n in drawn.values()), drawn
    for name in ("sankey", "energy", "power"):
        _assert_png(tmp_path / "year" / "figures" / f"{name}.png")
    print(f"report of the year (HTML + 3 PNGs): {took:.1f} s")
    assert s["complete"] and s["ticks"] == 525600
    c = s["conservation"]
    assert c["relative_residual"] <= 1e-9, c
    e = s["energy_kwh"]
    assert 6000 < e["pv_ac"] < 8000  # 5 kWp in Greensboro NC
    assert e["unserved"] > 0  # the load-shedding schedule and the July outage bite
    assert 0 < s["self_sufficiency"] < 1 and 0 < s["self_consumption"] <= 1
    print({k: round(v, 1) for k, v in e.items()}, c)
