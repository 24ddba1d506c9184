"""Issue 12's inputs over the real router: several loads (BDEW by name with holidays, a CSV
profile) and weather files other than TMY3."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import example, homesim_run, write_manifest

pytestmark = pytest.mark.integration


def _shop_csv(tmp: Path, start: str = "2025-01-01", days: int = 3) -> Path:
    """A 15-minute kW profile in naive local time (day/month/year), 0.2 kW, 0.5 kW 8-18 h."""
    idx = pd.date_range(start, periods=days * 96, freq="15min")
    kw = np.where((idx.hour >= 8) & (idx.hour < 18), 0.5, 0.2)
    p = tmp / "shop.csv"
    pd.DataFrame({"Zeit": idx.strftime("%d.%m.%Y %H:%M"), "Last": kw}).to_csv(p, index=False)
    return p


@pytest.mark.quick
def test_several_loads_with_a_csv_profile_run(tmp_path) -> None:
    """Three loads in one home (h0_dyn, g0 with US-NC holidays, a CSV shop profile): each is
    served, the shop's CSV energy arrives exactly, conservation holds."""
    _shop_csv(tmp_path)
    data = example(duration="2d", dt=900)
    data["spec"]["devices"] = [d for d in data["spec"]["devices"] if d["kind"] != "load"] + [
        {"name": "house", "kind": "load", "properties": {"profile": "h0_dyn",
                                                         "annual_kwh": 4000}},
        {"name": "office", "kind": "load", "properties": {
            "profile": "g0", "annual_kwh": 8000, "holidays": {"country": "US",
                                                              "subdivision": "NC"}}},
        {"name": "shop", "kind": "load", "properties": {"profile": "csv", "csv": {
            "file": "shop.csv", "time_column": "Zeit", "column": "Last", "unit": "kW",
            "time_format": "%d.%m.%Y %H:%M"}}},
    ]
    m = write_manifest(tmp_path, data)
    t0 = time.perf_counter()
    _, s = homesim_run(m, tmp_path / "run")
    took = time.perf_counter() - t0
    assert s["complete"] and s["ticks"] == 192
    assert s["conservation"]["relative_residual"] <= 1e-9
    import sqlite3

    con = sqlite3.connect(tmp_path / "run" / "ledger.sqlite")
    rows = dict(con.execute("SELECT device, sum(total) FROM device_metric WHERE metric = "
                            "'demand' GROUP BY device").fetchall())
    con.close()
    # shop: 2 days x (10 h x 0.5 kW + 14 h x 0.2 kW) = 15.6 kWh
    assert rows["shop"] / 3.6e6 == pytest.approx(15.6, rel=1e-12)
    assert rows["house"] > 0 and rows["office"] > 0
    print(f"3 loads (h0_dyn, g0 + holidays, CSV), 2 days at dt = 900 s: {took:.1f} s wall")


def test_open_meteo_csv_weather_and_csv_load_run(tmp_path) -> None:
    """examples/weather/open-meteo-home.yaml: a week on an Open-Meteo-style CSV (km/h, GMT,
    preceding-hour means) with a CSV workshop load, over the real router."""
    from .conftest import ROOT

    t0 = time.perf_counter()
    _, s = homesim_run(ROOT / "examples" / "weather" / "open-meteo-home.yaml", tmp_path / "run")
    took = time.perf_counter() - t0
    assert s["complete"] and s["ticks"] == 7 * 96
    assert s["conservation"]["relative_residual"] <= 1e-9
    e = s["energy_kwh"]
    assert 100 < e["pv_ac"] < 250  # 5 kWp, a June week in Greensboro NC
    csv = pd.read_csv(ROOT / "examples" / "weather" / "workshop-load.csv")
    import sqlite3

    con = sqlite3.connect(tmp_path / "run" / "ledger.sqlite")
    shop = con.execute("SELECT sum(total) FROM device_metric WHERE device = 'workshop' AND "
                       "metric = 'demand'").fetchone()[0]
    con.close()
    assert shop == pytest.approx(csv["power"].sum() * 900.0, rel=1e-12)
    print(f"Open-Meteo CSV weather + CSV load, 7 days at dt = 900 s: PV AC {e['pv_ac']:.1f} "
          f"kWh, {took:.1f} s wall")


def test_pvgis_hourly_weather_runs(tmp_path) -> None:
    """A PVGIS hourly file (2023, horizontal plane) as the weather of the example home; the
    location comes from the manifest, the file gives 2023 as it is."""
    import shutil

    from .conftest import ROOT

    shutil.copy(ROOT / "examples" / "weather" / "greensboro-pvgis-hourly-2023.csv", tmp_path)
    data = example(duration="2d", dt=600, start="2023-06-20T00:00:00")
    data["spec"]["devices"][0]["properties"] = {"file": "greensboro-pvgis-hourly-2023.csv",
                                                "format": "pvgis_hourly"}
    m = write_manifest(tmp_path, data)
    t0 = time.perf_counter()
    _, s = homesim_run(m, tmp_path / "run")
    took = time.perf_counter() - t0
    assert s["complete"] and s["ticks"] == 2 * 144
    assert s["conservation"]["relative_residual"] <= 1e-9
    assert s["energy_kwh"]["pv_ac"] > 20
    print(f"PVGIS hourly weather, 2 days at dt = 600 s: PV AC {s['energy_kwh']['pv_ac']:.1f} "
          f"kWh, {took:.1f} s wall")
