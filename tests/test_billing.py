"""Per-flat bills from a hand-built ledger whose bills are computed by hand."""

from __future__ import annotations

import csv
import math
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homesim.devices.bus.ledger import SCHEMA
from homesim.devices.bus.store import Flow, LedgerStore, MetricTotal
from homesim.infra.analysis.billing import BillingError, bill_run, split_per_tick, write_csv
from homesim.schemas.manifest import Home

CLI = [sys.executable, "-m", "homesim.infra.cli"]
KWH = 3.6e6
START = 1735689600.0  # 2025-01-01T00:00:00Z
DT = 3600.0
TICKS = 48            # two days, one window each


def block_home() -> dict:
    """Two flats (a: 60 m², b: 40 m²), a common load, heat pump, boiler, battery; UTC; a
    time-of-use import tariff 0.10 from 00:00 to 06:00, 0.30 otherwise, export 0.05."""
    return {
        "apiVersion": "homesim.io/v1alpha1", "kind": "Home", "metadata": {"name": "house"},
        "spec": {
            "location": {"latitude": 50, "longitude": 8, "timezone": "UTC"},
            "simulation": {"start": "2025-01-01T00:00:00+00:00", "duration": "2d", "dt": DT},
            "devices": [
                {"name": "weather", "kind": "weather"}, {"name": "sun", "kind": "sun"},
                {"name": "pv", "kind": "pv"}, {"name": "inverter", "kind": "inverter"},
                {"name": "battery", "kind": "battery"},
                {"name": "grid", "kind": "grid", "properties": {
                    "tariff_import": {"flat": 0.30,
                                      "tou": [{"start": "00:00", "end": "06:00", "price": 0.10}]},
                    "tariff_export": {"flat": 0.05}, "currency": "EUR"}},
                {"name": "a", "kind": "flat", "flat": "a", "properties": {"floor_area": 60}},
                {"name": "a-load", "kind": "load", "flat": "a"},
                {"name": "b", "kind": "flat", "flat": "b", "properties": {"floor_area": 40}},
                {"name": "b-load", "kind": "load", "flat": "b"},
                {"name": "stairs", "kind": "load"},
                {"name": "node", "kind": "heat_node"},
                {"name": "hp", "kind": "heat_pump"},
                {"name": "boiler", "kind": "boiler",
                 "properties": {"gas_price": 0.12, "currency": "EUR"}},
            ]}}


# (tick, source, sink, carrier, kWh); prices: import 0.10 at ticks 0-5 and 24-29, else 0.30
PACKETS = [
    # day 1
    (1, "grid", "inverter", "electricity", 4.0),       # cost 0.40
    (1, "inverter", "a-load", "electricity", 1.0),     # a 0.10
    (1, "inverter", "b-load", "electricity", 1.0),     # b 0.10
    (1, "inverter", "hp", "electricity", 2.0),         # heat pool 0.20
    (1, "node", "a", "heat", 3.0),
    (2, "gas-grid", "boiler", "gas", 5.0),             # gas 0.60
    (2, "node", "b", "heat", 1.0),
    (10, "pv", "inverter", "electricity", 3.0),
    (10, "grid", "inverter", "electricity", 1.0),      # cost 0.30
    (10, "inverter", "a-load", "electricity", 2.0),    # a 0.15
    (10, "inverter", "stairs", "electricity", 2.0),    # shared 0.15
    (12, "inverter", "grid", "electricity", 2.0),      # revenue 0.10, nobody consumes: shared
    (20, "grid", "inverter", "electricity", 1.0),      # cost 0.30 …
    (20, "inverter", "battery", "electricity", 1.0),   # … into the battery: shared
    # day 2
    (30, "grid", "inverter", "electricity", 2.0),      # 06:00: cost 0.60
    (30, "inverter", "a-load", "electricity", 0.5),    # a 0.15
    (30, "inverter", "b-load", "electricity", 1.5),    # b 0.45
    (30, "node", "b", "heat", 2.0),
]


def make_run(folder: Path, home: dict | None = None, packets: list | None = None,
             windows: int = 2, grid_cost_booked: float | None = None) -> Path:
    """A run folder with a ledger.sqlite written like the ledger writes it (through the
    store: one window of 24 ticks per day, the first ``windows`` booked)."""
    h = Home.model_validate(home or block_home())
    folder.mkdir(parents=True, exist_ok=True)
    st = LedgerStore.create(folder / "ledger.sqlite")
    st.write_run("run-1", h.metadata.name, START, DT, TICKS, h.model_dump_json(),
                 created_at="2025-01-01T00:00:00")
    st.write_nodes([(d.name, d.kind, True) for d in h.spec.devices])
    for w in range(windows):
        flows: dict[tuple[str, str, str], np.ndarray] = {}
        for k, s, t, c, kwh in (PACKETS if packets is None else packets):
            if 24 * w <= k < 24 * (w + 1):
                flows.setdefault((s, t, c), np.zeros(24))[k - 24 * w] += kwh * KWH
        cost = ([MetricTotal("grid", "cost", grid_cost_booked, 0.0, 0.0)]
                if w == 0 and grid_cost_booked is not None else [])
        st.book_window(w, 24 * w, 24, [Flow(*key, j) for key, j in flows.items()], [], cost,
                       booked_at=0.0)
    st.close()
    return folder


def by_flat(bill) -> dict:
    return {b.flat: b for b in bill.flats}


class TestAllocation:
    def test_whole_run_by_hand(self, tmp_path):
        """Electricity per tick pro rata, heat pool by heat meters, shared pool by floor area."""
        b = bill_run(make_run(tmp_path / "r"))
        assert b.currency == "EUR" and b.shared_key == "floor area"
        assert b.grid_cost == pytest.approx(0.40 + 0.30 - 0.10 + 0.30 + 0.60, abs=1e-12)
        assert b.gas_cost == pytest.approx(0.60, abs=1e-12)
        assert b.heat_pool == pytest.approx(0.20 + 0.60, abs=1e-12)
        assert b.shared_pool == pytest.approx(0.15 - 0.10 + 0.30, abs=1e-12)
        f = by_flat(b)
        assert list(f) == ["a", "b"]
        a, bb = f["a"], f["b"]
        assert (a.electricity_kwh, bb.electricity_kwh) == pytest.approx((3.5, 2.5))
        assert (a.heat_kwh, bb.heat_kwh) == pytest.approx((3.0, 3.0))
        assert (a.gas_kwh, bb.gas_kwh) == pytest.approx((2.5, 2.5))
        assert a.electricity_cost == pytest.approx(0.10 + 0.15 + 0.15, abs=1e-12)
        assert bb.electricity_cost == pytest.approx(0.10 + 0.45, abs=1e-12)
        assert (a.heat_cost, bb.heat_cost) == pytest.approx((0.40, 0.40), abs=1e-12)
        assert (a.shared_cost, bb.shared_cost) == pytest.approx((0.21, 0.14), abs=1e-12)
        assert (a.total, bb.total) == pytest.approx((1.01, 1.09), abs=1e-12)

    def test_export_revenue_is_the_buildings_not_the_consumers(self, tmp_path):
        """A sunny tick: the common PV serves a's load and exports the rest. a pays nothing
        for that tick; the export revenue lowers the shared pool (split by floor area)."""
        packets = [(11, "pv", "inverter", "electricity", 5.0),
                   (11, "inverter", "a-load", "electricity", 1.0),
                   (11, "inverter", "grid", "electricity", 4.0)]     # revenue 0.20
        b = bill_run(make_run(tmp_path / "r", packets=packets))
        f = by_flat(b)
        assert f["a"].electricity_cost == 0.0
        assert b.shared_pool == pytest.approx(-0.20, abs=1e-12)
        assert (f["a"].shared_cost, f["b"].shared_cost) == pytest.approx((-0.12, -0.08))
        assert math.fsum(x.total for x in b.flats) == pytest.approx(b.metered_cost, abs=1e-12)

    def test_bills_sum_to_the_metered_cost(self, tmp_path):
        """Σ totals == grid net cost + gas cost; the total row sums every column."""
        b = bill_run(make_run(tmp_path / "r"))
        assert math.fsum(x.total for x in b.flats) == pytest.approx(b.metered_cost, rel=1e-12)
        assert b.metered_cost == pytest.approx(2.1, abs=1e-12)
        assert b.total.total == pytest.approx(2.1, abs=1e-12)
        assert b.total.gas_kwh == pytest.approx(5.0)
        assert b.total.electricity_kwh == pytest.approx(6.0)  # stairs and heat pump not billed

    def test_period_filter(self, tmp_path):
        """--from/--to are local days, both inclusive: only the ticks that start in them."""
        run = make_run(tmp_path / "r")
        d1 = bill_run(run, date(2025, 1, 1), date(2025, 1, 1))
        assert (d1.tick0, d1.tick1) == (0, 24)
        f = by_flat(d1)
        assert (f["a"].heat_cost, f["b"].heat_cost) == pytest.approx((0.60, 0.20), abs=1e-12)
        assert (f["a"].gas_kwh, f["b"].gas_kwh) == pytest.approx((3.75, 1.25))
        assert (f["a"].total, f["b"].total) == pytest.approx((1.06, 0.44), abs=1e-12)
        assert d1.total.total == pytest.approx(0.90 + 0.60, abs=1e-12)
        d2 = bill_run(run, first=date(2025, 1, 2))
        f = by_flat(d2)
        assert (d2.tick0, d2.tick1) == (24, 48)
        assert (f["a"].total, f["b"].total) == pytest.approx((0.15, 0.45), abs=1e-12)
        assert f["b"].heat_kwh == pytest.approx(2.0) and d2.gas_cost == 0.0
        assert d1.metered_cost + d2.metered_cost == pytest.approx(
            bill_run(run).metered_cost, abs=1e-12)

    def test_period_in_another_time_zone(self, tmp_path):
        """Days are the home's: at UTC-5 (Etc/GMT+5) day 1 starts at tick 5."""
        home = block_home()
        home["spec"]["location"]["timezone"] = "Etc/GMT+5"
        b = bill_run(make_run(tmp_path / "r", home), date(2025, 1, 1), date(2025, 1, 1))
        assert (b.tick0, b.tick1) == (5, 29)

    def test_equal_split_without_zones(self, tmp_path):
        """A flat without a flat zone: the shared pool is split equally."""
        home = block_home()
        home["spec"]["devices"].append({"name": "c-load", "kind": "load", "flat": "c"})
        b = bill_run(make_run(tmp_path / "r", home))
        assert b.shared_key == "equal"
        f = by_flat(b)
        assert f["c"].shared_cost == pytest.approx(0.35 / 3, abs=1e-12)
        assert f["c"].heat_cost == 0.0 and f["c"].electricity_cost == 0.0
        assert math.fsum(x.total for x in b.flats) == pytest.approx(2.1, abs=1e-12)

    def test_home_without_flats_gets_one_bill(self, tmp_path):
        """No device with flat and no flat zone: one bill named after the home, for it all."""
        home = block_home()
        home["spec"]["devices"] = [d for d in home["spec"]["devices"]
                                   if d["kind"] in ("inverter", "grid", "battery", "load")]
        for d in home["spec"]["devices"]:
            d.pop("flat", None)
        packets = [p for p in PACKETS if p[3] == "electricity" and p[2] != "hp"
                   and p[1] != "pv"]
        b = bill_run(make_run(tmp_path / "r", home, packets))
        assert [x.flat for x in b.flats] == ["house"]
        (only,) = b.flats
        assert only.total == pytest.approx(b.grid_cost, abs=1e-12)
        assert only.electricity_kwh == pytest.approx(1 + 1 + 2 + 2 + 0.5 + 1.5)

    def test_no_heat_in_period_splits_heat_pool_by_floor_area(self, tmp_path):
        """Gas burnt but no heat metered (e.g. into the buffer): heat pool by floor area."""
        packets = [(2, "gas-grid", "boiler", "gas", 5.0)]
        b = bill_run(make_run(tmp_path / "r", packets=packets))
        f = by_flat(b)
        assert (f["a"].heat_cost, f["b"].heat_cost) == pytest.approx((0.36, 0.24), abs=1e-12)
        assert (f["a"].gas_kwh, f["b"].gas_kwh) == pytest.approx((3.0, 2.0))
        assert any("no heat delivered" in n for n in b.notes)

    def test_live_price_change_is_noted(self, tmp_path):
        """The grid's booked window cost differs from the manifest prices: a note says so."""
        ok = bill_run(make_run(tmp_path / "ok", grid_cost_booked=0.90))
        assert ok.notes == ()
        b = bill_run(make_run(tmp_path / "r", grid_cost_booked=1.23))
        assert any("changed live" in n for n in b.notes)


class TestSplitPerTick:
    def test_idle_ticks_go_to_the_pool(self):
        """Ticks without consumption are returned apart; the rest pro rata."""
        consumption = np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
        per, idle = split_per_tick(np.array([1.0, -0.5, 2.0]), consumption)
        assert per == pytest.approx([0.25, 0.75 + 2.0, 0.0])
        assert idle == -0.5

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e7)),
                             min_size=4, max_size=4), min_size=1, max_size=40),
           st.data())
    def test_shares_add_up_to_the_cost(self, consumption, data):
        """Whatever the consumption, group shares + idle ticks == the period's cost."""
        costs = data.draw(st.lists(st.floats(-100, 100), min_size=len(consumption),
                                   max_size=len(consumption)))
        per, idle = split_per_tick(np.array(costs), np.array(consumption))
        assert math.fsum([*per, idle]) == pytest.approx(
            math.fsum(costs), rel=1e-12, abs=1e-12 * math.fsum(map(abs, costs)))


class TestErrors:
    def test_missing_folder_and_ledger(self, tmp_path):
        with pytest.raises(BillingError, match="no run folder"):
            bill_run(tmp_path / "nope")
        (tmp_path / "empty").mkdir()
        with pytest.raises(BillingError, match="no ledger"):
            bill_run(tmp_path / "empty")

    def test_ledger_without_run_row(self, tmp_path):
        (tmp_path / "r").mkdir()
        con = sqlite3.connect(tmp_path / "r" / "ledger.sqlite")
        con.executescript(SCHEMA)
        con.close()
        with pytest.raises(BillingError, match="no run row"):
            bill_run(tmp_path / "r")

    def test_incomplete_run_bills_only_booked_days(self, tmp_path):
        """One of two windows booked: the whole run is refused, day 1 can be billed."""
        run = make_run(tmp_path / "r", windows=1)
        with pytest.raises(BillingError, match="incomplete run: the ledger has booked 24 of 48"):
            bill_run(run)
        assert bill_run(run, last=date(2025, 1, 1)).total.total == pytest.approx(1.5)

    def test_period_outside_the_run(self, tmp_path):
        run = make_run(tmp_path / "r")
        with pytest.raises(BillingError, match="no tick of the run"):
            bill_run(run, date(2025, 3, 1))
        with pytest.raises(BillingError, match="before --from"):
            bill_run(run, date(2025, 1, 2), date(2025, 1, 1))


class TestCsvAndCli:
    def test_csv_rows(self, tmp_path):
        """One row per flat + total, the columns of the brief, full precision."""
        b = bill_run(make_run(tmp_path / "r"))
        rows = list(csv.DictReader(write_csv(b, tmp_path / "b.csv").open()))
        assert [r["flat"] for r in rows] == ["a", "b", "total"]
        assert list(rows[0]) == ["flat", "electricity_kwh", "heat_kwh", "gas_kwh",
                                 "electricity_cost", "heat_cost", "shared_cost", "total",
                                 "currency"]
        assert float(rows[-1]["total"]) == b.total.total
        assert {r["currency"] for r in rows} == {"EUR"}

    def test_cli_writes_the_csv(self, tmp_path):
        run = make_run(tmp_path / "r")
        res = subprocess.run([*CLI, "bill", str(run), "--to", "2025-01-01"],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        assert "floor area" in res.stdout and "total" in res.stdout
        rows = list(csv.DictReader((run / "bills.csv").open()))
        assert float(rows[-1]["total"]) == pytest.approx(1.5)

    def test_cli_exit_2(self, tmp_path):
        res = subprocess.run([*CLI, "bill", str(tmp_path / "nope")],
                             capture_output=True, text=True)
        assert res.returncode == 2 and "no run folder" in res.stderr
        run = make_run(tmp_path / "r", windows=1)
        res = subprocess.run([*CLI, "bill", str(run)], capture_output=True, text=True)
        assert res.returncode == 2 and "incomplete run" in res.stderr
        res = subprocess.run([*CLI, "bill", str(run), "--from", "1/1/2025"],
                             capture_output=True, text=True)
        assert res.returncode == 2 and "YYYY-MM-DD" in res.stderr
