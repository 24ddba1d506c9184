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
