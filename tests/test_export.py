"""Exports for analysis and the notebook API on a hand-made ledger (no router, no processes):
every table with UTC and local times, the wide table in kW and kWh, flows and series by local
period, CSV timestamps with their offset, and ``homesim.open_run``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import homesim
from homesim.devices.bus.store import (
    EXPORT_TABLES,
    Event,
    Flow,
    LedgerStore,
    MetricTotal,
    NodeBalance,
)
from homesim.infra.analysis import export
from homesim.infra.cli import app
from homesim.schemas.manifest import Home
from homesim.schemas.units import J_PER_KWH

# 2025-01-01T22:00:00-05:00 (local, Etc/GMT+5) = 2025-01-02T03:00:00Z: two windows of three
# ticks of one hour, across local midnight (ticks 0-1 on Jan 1, 2-5 on Jan 2 local).
START = 1735786800.0
DT = 3600.0
TZ = "Etc/GMT+5"
HOME = {
    "apiVersion": "homesim.io/v1alpha1", "kind": "Home", "metadata": {"name": "unit"},
    "spec": {
        "location": {"latitude": 36, "longitude": -80, "timezone": TZ},
        "simulation": {"start": "2025-01-01T22:00:00", "duration": "6h", "dt": DT},
        "devices": [
            {"name": "weather", "kind": "weather"}, {"name": "sun", "kind": "sun"},
            {"name": "pv", "kind": "pv"}, {"name": "inverter", "kind": "inverter"},
            {"name": "battery", "kind": "battery"}, {"name": "grid", "kind": "grid"},
            {"name": "house", "kind": "load"},
        ]}}
GRID = [3.6e6, 7.2e6, 0.0, 0.0, 1.8e6, 3.6e6]  # [J] per tick: 1, 2, 0, 0, 0.5, 1 kWh
HOUSE = [3.6e6, 7.2e6, 3.6e6, 0.0, 1.8e6, 3.6e6]
BATTERY = [0.0, 0.0, 3.6e6, 0.0, 0.0, 0.0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("run")
    st = LedgerStore.create(d / "ledger.sqlite")
    st.write_run("unit-1", "unit", START, DT, 6, Home.model_validate(HOME).model_dump_json())
    st.write_nodes([("grid", "grid", False), ("inverter", "inverter", True),
                    ("battery", "battery", True), ("house", "load", True)])
    for w, t0 in enumerate((0, 3)):
        sl = slice(t0, t0 + 3)
        flows = [Flow("grid", "inverter", "electricity", np.array(GRID[sl])),
                 Flow("battery", "inverter", "electricity", np.array(BATTERY[sl])),
                 Flow("inverter", "house", "electricity", np.array(HOUSE[sl]))]
        st.book_window(w, t0, 3, flows, [NodeBalance("inverter", 1.0, 1.0, 0.0, 0.0, 0.0, 0.0)],
                       [MetricTotal("battery", "soc", 1.5, 0.4, 0.6),
                        MetricTotal("house", "demand", sum(HOUSE[sl]), 0.0, 7.2e6)],
                       [Event(t0 + 1, "grid", "outage", "start", "test", {"planned": True})],
                       booked_at=1.7e9 + w)
    st.close()
    (d / "summary.json").write_text(json.dumps({
        "home": "unit", "dt": DT, "ticks": 6, "complete": True,
        "energy_kwh": {"grid_import": 7.5}, "self_sufficiency": 0.25, "peak_import_w": 2000.0,
        "cost": {"net": 1.5, "currency": "EUR"}, "flows": [], "ledger": {"error": None},
        "clock": {"ok": True, "message": "completed"}}))
    (d / "manifest.yaml").write_text(json.dumps(Home.model_validate(HOME).model_dump(mode="json")))
    return d


def _open(run_dir: Path) -> LedgerStore:
    return LedgerStore.open(run_dir / "ledger.sqlite")


def test_every_table_has_utc_and_local_times(run_dir: Path) -> None:
    with _open(run_dir) as st:
        for name in EXPORT_TABLES:
            df = export.table(st, name)
            if name == "node":
                assert list(df.columns) == ["name", "kind", "bounded"]
                continue
            prefix = "start" if name == "run" else "time"
            utc, local = df[f"{prefix}_utc"], df[f"{prefix}_local"]
            assert str(utc.dt.tz) == "UTC" and str(local.dt.tz) == TZ, name
            assert (utc == local).all(), name  # one instant, two zones
        pk = export.table(st, "packet")
        assert list(pk.columns) == ["tick", "sim_time", "time_utc", "time_local", "source",
                                    "sink", "carrier", "joules"]
        first = pk.iloc[0]
        assert first["time_local"].isoformat() == "2025-01-01T22:00:00-05:00"
        assert first["time_utc"].isoformat() == "2025-01-02T03:00:00+00:00"
        # zero packets are not stored: grid has 4 non-zero ticks, battery 1, house 5
        assert len(pk) == 4 + 1 + 5

        nb = export.table(st, "node_balance")
        assert list(nb[["window_index", "tick0", "n"]].itertuples(index=False, name=None)) == [
            (0, 0, 3), (1, 3, 3)]
        assert nb["sim_time"].tolist() == [START, START + 3 * DT]
        assert nb["end_local"].iloc[0].isoformat() == "2025-01-02T01:00:00-05:00"

        dm = export.table(st, "device_metric")
        soc = dm[dm.metric == "soc"].iloc[0]
        assert (soc["kind"], soc["unit"], soc["mean"]) == ("battery", "1", 0.5)
        assert dm[dm.metric == "demand"]["unit"].tolist() == ["J", "J"]

        ev = export.table(st, "event")
        assert ev["time_local"].dt.hour.tolist() == [23, 2]  # ticks 1 and 4, local time
        assert json.loads(ev["data"].iloc[0]) == {"planned": True}
        run = export.table(st, "run")
        assert run["timezone"].tolist() == [TZ]


def test_wide_has_a_row_per_tick_and_a_column_per_flow_in_kw_and_kwh(run_dir: Path) -> None:
    with _open(run_dir) as st:
        w = export.wide(st)
    flows = ["battery->inverter", "grid->inverter", "inverter->house"]
    assert list(w.columns) == ["tick", "sim_time", "time_utc", "time_local",
                               *[f"{f} kW" for f in flows], *[f"{f} kWh" for f in flows]]
    assert w.shape == (6, 4 + 2 * 3)
    assert w["tick"].tolist() == list(range(6))
    np.testing.assert_allclose(w["grid->inverter kWh"], np.array(GRID) / J_PER_KWH)
    np.testing.assert_allclose(w["grid->inverter kW"], np.array(GRID) / DT / 1000)
    assert w["battery->inverter kW"].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]  # zeros filled


def test_flows_and_series_by_local_day(run_dir: Path) -> None:
    with _open(run_dir) as st:
        per_tick = export.series(st, "kWh")
        daily = export.series(st, "kWh", "day")
        mean_kw = export.series(st, "kW", "day")
        totals = export.flows(st)
        by_day = export.flows(st, "day")
        with pytest.raises(ValueError, match="unit must be"):
            export.series(st, "MW")
        with pytest.raises(ValueError, match="by must be"):
            export.flows(st, "fortnight")
    assert per_tick.shape == (6, 3) and str(per_tick.index.tz) == TZ
    assert [d.isoformat() for d in daily.index] == ["2025-01-01T00:00:00-05:00",
                                                    "2025-01-02T00:00:00-05:00"]
    # local days, not UTC days: 22:00 and 23:00 on Jan 1, the rest on Jan 2
    np.testing.assert_allclose(daily["grid->inverter"], [3.0, 1.5])
    np.testing.assert_allclose(mean_kw["grid->inverter"], [1.5, 0.375])
    assert totals.set_index(["source", "sink"])["kwh"].to_dict() == {
        ("battery", "inverter"): 1.0, ("grid", "inverter"): 4.5, ("inverter", "house"): 5.5}
    assert list(by_day.columns) == ["period", "source", "sink", "carrier", "kwh", "joules"]
    assert by_day.groupby("source")["kwh"].sum().to_dict() == pytest.approx({
        "battery": 1.0, "grid": 4.5, "inverter": 5.5})


def test_export_command_csv_timestamps_carry_the_offset(run_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["export", str(run_dir), "--wide", "--format", "csv", "--out",
                              str(tmp_path / "w.csv")])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((tmp_path / "w.csv").open()))
    assert len(rows) == 6
    assert rows[0]["time_local"] == "2025-01-01T22:00:00-05:00"
    assert rows[0]["time_utc"] == "2025-01-02T03:00:00+00:00"
    assert float(rows[1]["grid->inverter kW"]) == 2.0
    res = runner.invoke(app, ["export", str(run_dir), "--table", "event", "--out",
                              str(tmp_path / "e.parquet")])
    assert res.exit_code == 0, res.output
    ev = pd.read_parquet(tmp_path / "e.parquet")
    assert str(ev["time_local"].dt.tz) == TZ and ev["kind"].tolist() == ["outage", "outage"]
    assert export.run_days(run_dir / "ledger.sqlite")[:2] == (
        pd.Timestamp("2025-01-01").date(), pd.Timestamp("2025-01-02").date())


def test_open_run_gives_summary_flows_and_series(run_dir: Path) -> None:
    r = homesim.open_run(run_dir)
    assert r.ok is True and r.message == "completed"
    s = r.summary
    assert list(s.columns) == ["value", "unit"]
    assert s.loc["energy_kwh.grid_import"].tolist() == [7.5, "kWh"]
    assert s.loc["cost.net"].tolist() == [1.5, "EUR"]
    assert s.loc["peak_import_w", "unit"] == "W" and s.loc["self_sufficiency", "unit"] == "1"
    assert "flows" not in s.index
    assert r.flows()["kwh"].sum() == pytest.approx(11.0)
    assert r.series("kWh", "day").sum().sum() == pytest.approx(11.0)
    assert r.table("settled_window")["n"].tolist() == [3, 3]
    assert len(r.events()) == 2 and r.home.metadata.name == "unit"
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        homesim.open_run(run_dir / "nowhere")
