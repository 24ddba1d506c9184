"""The notebook API over a real router and real device processes: ``homesim.run`` runs the
example home as ``homesim run`` does, and its DataFrames agree with the ledger's summary."""

from __future__ import annotations

from pathlib import Path

import pytest

import homesim
from homesim.schemas.manifest import ManifestError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "home.yaml"


@pytest.mark.integration
def test_a_short_run_through_the_api(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="until: '7' has no unit"):
        homesim.run(EXAMPLE, until="7", out=tmp_path / "never")
    assert not (tmp_path / "never").exists()  # refused before anything started

    r = homesim.run(EXAMPLE, until="6h", dt="15 min", out=tmp_path / "run")
    assert r.ok and r.message == "completed" and r.path == tmp_path / "run"
    s = r.summary
    assert s.loc["ticks", "value"] == 24 and s.loc["dt", "value"] == 900.0
    assert s.loc["energy_kwh.grid_import", "unit"] == "kWh"

    flows = r.flows()
    assert list(flows.columns) == ["source", "sink", "carrier", "kwh", "joules"]
    booked = {(f["source"], f["sink"]): f["kwh"] for f in r.summary_dict["flows"]
              if f["kwh"] > 0}
    assert flows.set_index(["source", "sink"])["kwh"].to_dict() == pytest.approx(booked)

    per_tick = r.series("kWh")
    assert per_tick.shape == (24, len(flows)) and str(per_tick.index.tz) == "Etc/GMT+5"
    assert per_tick.index[0].isoformat() == "2025-01-01T00:00:00-05:00"
    assert per_tick.sum().to_dict() == pytest.approx(
        {f"{a}->{b}": v for (a, b), v in booked.items()})
    kw = r.series("kW")
    assert (kw.values * 0.25 == pytest.approx(per_tick.values))  # 15-min ticks

    again = homesim.open_run(r.path)
    assert again.ok and again.flows().equals(flows)
