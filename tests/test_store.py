"""The ledger store on real SQLite files: what is written, and every query read back against
numbers computed by hand (and against the ledger's own running totals).

The tests take the ledger's location from the ``at`` fixture; tests/integration/
test_ledger_postgres.py runs the same tests against a real PostgreSQL server."""

from __future__ import annotations

import csv
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from homesim.devices.bus.store import (
    EXPORT_TABLES,
    Event,
    Flow,
    LedgerError,
    LedgerStore,
    Meter,
    MetricTotal,
    NodeBalance,
    Series,
)
from homesim.schemas.manifest import Home
from homesim.schemas.units import J_PER_KWH

START = 1735689600.0  # 2025-01-01T00:00:00Z, on the hour
DT = 900.0
CLI = [sys.executable, "-m", "homesim.infra.cli"]

HOME = {
    "apiVersion": "homesim.io/v1alpha1", "kind": "Home", "metadata": {"name": "unit"},
    "spec": {
        "location": {"latitude": 50, "longitude": 8, "timezone": "UTC"},
        "simulation": {"start": "2025-01-01T00:00:00+00:00", "duration": "90m", "dt": DT},
        "devices": [
            {"name": "weather", "kind": "weather"}, {"name": "sun", "kind": "sun"},
            {"name": "pv", "kind": "pv"}, {"name": "inverter", "kind": "inverter"},
            {"name": "battery", "kind": "battery"}, {"name": "grid", "kind": "grid"},
            {"name": "load", "kind": "load"},
        ]}}

# Two windows of three ticks. Values are multiples of 1/4 so every sum is exact [J].
W0_FLOWS = [  # (source, sink, carrier, joules per tick)
    ("sun", "pv", "solar", [10.0, 0.0, 6.0]),
    ("pv", "inverter", "electricity", [8.0, 0.0, 4.0]),
    ("inverter", "load", "electricity", [5.0, 3.0, 4.0]),
    ("inverter", "battery", "electricity", [2.0, 0.0, 0.0]),
    ("battery", "inverter", "electricity", [0.0, 2.0, 0.0]),
    ("grid", "inverter", "electricity", [0.0, 1.0, 0.5]),
    ("inverter", "grid", "electricity", [0.5, 0.0, 0.0]),
]
W1_FLOWS = [
    ("grid", "inverter", "electricity", [1.0, 1.0, 1.25]),
    ("inverter", "load", "electricity", [1.0, 1.0, 1.0]),
    ("inverter", "grid", "electricity", [0.0, 0.0, 0.25]),
]


def _settles(tick0: int, window: int) -> dict[str, dict]:
    """Settles of every device for one window; the load's losses miss 0.5 J in tick 2 and
    0.25 J in tick 5 (residuals the ledger must find)."""
    n = 3

    def s(dev: str, **kw) -> dict:
        return {"run": "r", "window": window, "tick0": tick0, "n": n, "device": dev,
                "packets": 0, **kw}

    if window == 0:
        return {
            "weather": s("weather"), "sun": s("sun"), "grid": s(
                "grid", metrics={"cost": [0.0, 0.25, 0.125]},
                events=[{"tick": 1, "kind": "outage", "value": "start", "reason": "test",
                         "data": {"planned": True}}]),
            "pv": s("pv", losses=[2.0, 0.0, 2.0]),
            "inverter": s("inverter", losses=[0.5, 0.0, 0.5],
                          metrics={"unserved": [0.0, 0.0, 0.5]}),
            "battery": s("battery", stored0=10.0, stored=[11.75, 9.75, 9.75],
                         losses=[0.25, 0.0, 0.0], metrics={"soc": [0.75, 0.5, 0.5]}),
            "load": s("load", losses=[5.0, 3.0, 3.5],
                      metrics={"demand": [5.0, 3.0, 4.5], "unserved": [0.0, 0.0, 0.5]}),
        }
    return {
        "weather": s("weather"), "sun": s("sun"),
        "grid": s("grid", metrics={"cost": [0.25, 0.25, 0.25]}),
        "pv": s("pv"), "inverter": s("inverter"),
        "battery": s("battery", stored0=9.75, stored=[9.75, 9.75, 9.75],
                     metrics={"soc": [0.5, 0.5, 0.5]}),
        "load": s("load", losses=[1.0, 1.0, 0.75],
                  metrics={"demand": [1.0, 1.0, 1.0], "unserved": [0.0, 0.0, 0.0]}),
    }


class SqliteAt:
    """Where the tests' ledger lives: a SQLite file in ``run_dir``."""

    seq = "rowid"  # insertion order

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.target: Path | str = run_dir / "ledger.sqlite"
        self.env: dict[str, str] = {}

    def create(self) -> LedgerStore:
        return LedgerStore.create(self.target)

    def open(self) -> LedgerStore:
        return LedgerStore.open(self.target)

    def rows(self, sql: str) -> list[tuple]:
        """Rows of a raw SQL query (``{seq}``: the insertion-order column)."""
        con = sqlite3.connect(self.target)
        try:
            return con.execute(sql.format(seq=self.seq)).fetchall()
        finally:
            con.close()

    def tables(self) -> list[str]:
        return [r[0] for r in self.rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


@pytest.fixture
def at(tmp_path) -> SqliteAt:
    return SqliteAt(tmp_path)


def _packets(flows) -> list[dict]:
    return [{"flows": [{"source": a, "sink": b, "carrier": c, "joules": np.array(j)}
                       for a, b, c, j in flows]}]


@pytest.fixture
def booked(at):
    """A ledger written by the real Ledger (through the store): two windows."""
    from homesim.devices.bus.ledger import Ledger

    home = Home.model_validate(HOME)
    led = Ledger(home, "r", at.target, START, DT, 6)
    led.book(0, _settles(0, 0), _packets(W0_FLOWS))
    led.book(1, _settles(3, 1), _packets(W1_FLOWS))
    summary = led.summary()
    led.close()
    return at, led, summary


def test_rows_on_disk_are_what_the_ledger_always_wrote(booked):
    """Exact rows and insertion order (one packet row per window and flow non-zero in the
    window, its per-tick joules as little-endian float64; balance rows sorted by node;
    metrics/events as settled); the packets read back one per non-zero tick."""
    at, _, _ = booked
    assert at.tables() == ["device_metric", "event", "node", "node_balance", "packet", "run",
                           "series", "settled_window"]
    # the battery's SoC per tick (the ledger's SERIES_METRICS), one row per window
    assert [(w, t0, n, d, m, np.frombuffer(bytes(v), "<f8").tolist()) for w, t0, n, d, m, v
            in at.rows("SELECT * FROM series ORDER BY {seq}")] == [
        (0, 0, 3, "battery", "soc", [0.75, 0.5, 0.5]), (1, 3, 3, "battery", "soc", [0.5] * 3)]
    stored = [(w, t0, n, a, b, c, np.frombuffer(bytes(j), "<f8").tolist())
              for w, t0, n, a, b, c, j in at.rows("SELECT * FROM packet ORDER BY {seq}")]
    assert stored == [(w, 3 * w, 3, a, b, c, j) for w, flows in enumerate((W0_FLOWS, W1_FLOWS))
                      for a, b, c, j in flows if any(j)]
    with at.open() as st:
        packets = list(st.packets())
        assert [tuple(p) for p in st.packets(2, 4, "electricity")] == [
            p for p in packets if 2 <= p.tick < 4 and p.carrier == "electricity"]
    expected = [(tick0 + k, START + (tick0 + k) * DT, a, b, c, j[k])
                for tick0, flows in ((0, W0_FLOWS), (3, W1_FLOWS))
                for a, b, c, j in flows for k in range(3) if j[k]]
    assert packets == expected
    assert len(packets) == 19
    nodes = at.rows("SELECT * FROM node ORDER BY {seq}")
    assert nodes[:7] == [("weather", "weather", 1), ("sun", "sun", 0), ("pv", "pv", 1),
                         ("inverter", "inverter", 1), ("battery", "battery", 1),
                         ("grid", "grid", 0), ("load", "load", 1)]
    assert [n[0] for n in nodes[7:]] == ["ambient", "occupancy", "gas-grid"]
    bal = at.rows("SELECT * FROM node_balance WHERE window_index = 0 ORDER BY {seq}")
    assert [b[1] for b in bal] == ["battery", "inverter", "load", "pv", "weather"]
    assert bal[2] == (0, "load", 12.0, 0.0, 0.0, 11.5, 0.5, 0.5)
    assert bal[0] == (0, "battery", 2.0, 2.0, -0.25, 0.25, 0.0, 0.0)
    assert at.rows("SELECT * FROM device_metric WHERE window_index = 0 ORDER BY {seq}") == [
        (0, "grid", "cost", 0.375, 0.0, 0.25), (0, "inverter", "unserved", 0.5, 0.0, 0.5),
        (0, "battery", "soc", 1.75, 0.5, 0.75),
        (0, "load", "demand", 12.5, 3.0, 5.0), (0, "load", "unserved", 0.5, 0.0, 0.5)]
    assert at.rows("SELECT * FROM event") == [
        (1, START + DT, "grid", "outage", "start", "test", '{"planned": true}')]
    assert at.rows("SELECT window_index, tick0, n FROM settled_window ORDER BY 1") == [
        (0, 0, 3), (1, 3, 3)]
    run = at.rows("SELECT run_id, home, start_time, dt, ticks FROM run")
    assert run == [("r", "unit", START, DT, 6)]


def test_reads(booked):
    """Every read of the store against hand sums."""
    at, _, _ = booked
    with at.open() as st:
        run = st.run()
        assert (run.run_id, run.home, run.start, run.dt, run.ticks) == ("r", "unit", START,
                                                                         DT, 6)
        assert st.home().metadata.name == "unit"
        assert st.kinds()["battery"] == "battery" and st.kinds()["gas-grid"] == "gas-grid"
        assert [n.name for n in st.nodes() if n.bounded] == [
            "weather", "pv", "inverter", "battery", "load"]
        assert st.settled_span() == (2, 0, 6, 6)
        assert [(w.window, w.tick0, w.n) for w in st.settled_windows()] == [(0, 0, 3),
                                                                            (1, 3, 3)]

        totals = st.flow_totals()
        assert list(totals) == sorted(totals)
        assert totals[("grid", "inverter", "electricity")] == 0.0 + 1.0 + 0.5 + 3.25
        assert totals[("inverter", "load", "electricity")] == 12.0 + 3.0
        assert totals[("sun", "pv", "solar")] == 16.0
        assert st.flow_totals(3, 6) == {("grid", "inverter", "electricity"): 3.25,
                                        ("inverter", "grid", "electricity"): 0.25,
                                        ("inverter", "load", "electricity"): 3.0}
        assert st.flow_totals(1, 3, carrier="solar") == {("sun", "pv", "solar"): 6.0}

        # hours: ticks 0-3 are in the first hour, ticks 4-5 in the second
        h0 = int(START // 3600)
        hourly = {(h - h0, s, k): j for h, s, k, _, j in st.hourly_flows()}
        assert hourly[(0, "inverter", "load")] == 5 + 3 + 4 + 1
        assert hourly[(1, "inverter", "load")] == 2.0
        assert hourly[(1, "grid", "inverter")] == 2.25
        quarter = st.hourly_flows(bin_s=DT)
        assert {b.bin - int(START // DT) for b in quarter} == {0, 1, 2, 3, 4, 5}

        tf = st.tick_flows(1, 4, carrier="electricity")
        assert [t.tick for t in tf] == sorted(t.tick for t in tf)
        assert {(t.tick, t.source, t.sink): t.joules for t in tf} == {
            (1, "inverter", "load"): 3.0, (1, "battery", "inverter"): 2.0,
            (1, "grid", "inverter"): 1.0, (2, "pv", "inverter"): 4.0,
            (2, "inverter", "load"): 4.0, (2, "grid", "inverter"): 0.5,
            (3, "grid", "inverter"): 1.0, (3, "inverter", "load"): 1.0}

        m = st.per_tick([Meter("electricity", ("inverter",), ("load",)),
                         Meter("electricity", None, ("load", "battery")),
                         Meter("electricity", ("grid",)),
                         Meter("electricity", ("inverter",), ()),
                         Meter("solar", None, None)], 1, 6)
        assert m.shape == (5, 5)
        np.testing.assert_array_equal(m[:, 0], [3.0, 4.0, 1.0, 1.0, 1.0])
        np.testing.assert_array_equal(m[:, 1], [3.0, 4.0, 1.0, 1.0, 1.0])
        np.testing.assert_array_equal(m[:, 2], [1.0, 0.5, 1.0, 1.0, 1.25])
        np.testing.assert_array_equal(m[:, 3], 0.0)
        np.testing.assert_array_equal(m[:, 4], [0.0, 6.0, 0.0, 0.0, 0.0])
        np.testing.assert_array_equal(st.per_tick([Meter("electricity", None, ("battery",))],
                                                  0, 6)[:, 0], [2, 0, 0, 0, 0, 0])
        np.testing.assert_array_equal(st.flow_series("inverter", "grid", "electricity", 0, 6),
                                      [0.5, 0, 0, 0, 0, 0.25])

        bal = st.node_balances()
        assert list(bal) == ["battery", "inverter", "load", "pv", "weather"]
        assert bal["load"] == ("load", 15.0, 0.0, 0.0, 14.25, 0.75, 0.5)
        assert bal["inverter"].energy_in == 8 + 0 + 2 + 1 + 4 + 0.5 + 3.25
        assert bal["inverter"].losses == 1.0 and bal["inverter"].residual == 0.0
        assert bal["battery"].delta_stored == -0.25
        assert st.node_balances(3, 6)["load"] == ("load", 3.0, 0.0, 0.0, 2.75, 0.25, 0.25)
        assert st.node_balances(1, 6)["load"].energy_in == 3.0   # window 0 not inside

        met = st.device_metrics(metrics=("unserved", "soc"))
        assert [(r.window, r.device, r.metric) for r in met if r.metric == "unserved"] == [
            (0, "inverter", "unserved"), (0, "load", "unserved"), (1, "load", "unserved")]
        soc0 = next(r for r in met if r.metric == "soc" and r.window == 0)
        assert (soc0.tick0, soc0.n, soc0.total, soc0.minimum, soc0.maximum) == (
            0, 3, 1.75, 0.5, 0.75)
        cost = st.device_metrics(metrics=("cost",), devices=("grid",), tick0=3, tick1=6)
        assert [(r.window, r.total) for r in cost] == [(1, 0.75)]
        assert st.device_metrics(devices=("nobody",)) == []
        assert len(st.device_metrics()) == 5 + 4
        # per metric over whole windows inside the range; booked ticks in a range
        assert st.metric_totals()[("battery", "soc")] == (3.25, 0.5, 0.75)
        assert st.metric_totals(3, 6) == {("grid", "cost"): (0.75, 0.25, 0.25),
                                          ("battery", "soc"): (1.5, 0.5, 0.5),
                                          ("load", "demand"): (3.0, 1.0, 1.0),
                                          ("load", "unserved"): (0.0, 0.0, 0.0)}
        assert (st.booked_ticks(), st.booked_ticks(2, 4), st.booked_ticks(5, 99)) == (6, 2, 1)
        # per-tick series (zeros where nothing was stored), and their keys
        assert st.series_keys() == [("battery", "soc")]
        np.testing.assert_array_equal(st.series("battery", "soc", 0, 4), [0.75, 0.5, 0.5, 0.5])
        np.testing.assert_array_equal(st.series("load", "soc", 0, 2), [0.0, 0.0])

        (ev,) = st.events()
        assert ev == Event(1, "grid", "outage", "start", "test", {"planned": True},
                           START + DT)
        assert st.events(tick0=2) == [] and st.events(device="load") == []

        cols, rows = st.export_table("node_balance")
        assert cols == ["window_index", "node", "energy_in", "energy_out", "delta_stored",
                        "losses", "residual", "max_abs_residual"]
        assert len(rows) == 10
        with pytest.raises(ValueError, match="table must be one of"):
            st.export_table("sqlite_master")


def test_ledger_totals_and_summary_agree_with_the_store(booked):
    """The summary (from the ledger's running totals) and the store's reads are one ledger."""
    at, led, summary = booked
    with at.open() as st:
        assert st.flow_totals() == pytest.approx(led.flow_totals, rel=0, abs=0)
        bal = st.node_balances()
        for node, total in led.node_in.items():
            assert bal[node].energy_in == total
            assert bal[node].residual == led.node_residual[node]
        flows = st.flow_totals()
    e = summary["energy_kwh"]
    assert e["grid_import"] == flows[("grid", "inverter", "electricity")] / J_PER_KWH
    assert e["load_served"] == 15.0 / J_PER_KWH
    assert e["unserved"] == 0.5 / J_PER_KWH
    assert summary["conservation"]["worst_abs_residual_j"] == 0.5
    assert (summary["conservation"]["worst_node"], summary["conservation"]["worst_tick"]) == (
        "load", 2)
    assert summary["windows"] == 2 and summary["ticks"] == 6 and summary["complete"]
    assert summary["cost"]["net"] == 0.375 + 0.75
    assert summary["peak_import_w"] == 1.25 / DT


def _store(at: SqliteAt) -> LedgerStore:
    st = at.create()
    st.write_run("r", "unit", START, DT, 6, Home.model_validate(HOME).model_dump_json())
    st.write_nodes([("a", "load", True), ("b", "load", True)])
    return st


def test_a_failed_window_leaves_nothing_behind(at):
    """A window that cannot be written (a negative packet) is rolled back entirely; a wrong
    shape is refused before anything is written; the next window books normally."""
    st = _store(at)
    with pytest.raises(LedgerError, match="a->b .* of -1.0 J refused"):
        st.book_window(0, 0, 2, [Flow("a", "b", "electricity", np.array([1.0, -1.0]))],
                       [NodeBalance("a", 0, 1, 0, 0, -1, 1)], [MetricTotal("a", "x", 1, 0, 1)],
                       [Event(0, "a", "k")])
    for bad in (np.nan, np.inf):
        with pytest.raises(LedgerError, match="non-negative"):
            st.book_window(0, 0, 2, [Flow("a", "b", "electricity", np.array([1.0, bad]))],
                           [], [], [Event(0, "a", "k")])
    with pytest.raises(LedgerError, match="non-finite"):
        st.book_window(0, 0, 2, [], [], [], series=[Series("a", "soc", np.array([np.nan, 0]))])
    with pytest.raises(ValueError, match="expected 2"):
        st.book_window(0, 0, 2, [Flow("a", "b", "electricity", np.zeros(3))], [], [])
    assert st.settled_span() == (0, None, None, 0)
    for table in ("packet", "node_balance", "device_metric", "event", "series"):
        assert st.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,)
    assert st.book_window(0, 0, 2, [Flow("a", "b", "electricity", np.array([0.0, 2.5]))],
                          [], [], booked_at=12.5) == 1
    assert st.settled_windows()[0] == (0, 0, 2, 12.5)
    assert st.write_events([Event(1, "b", "switch", 1, None, None)]) == 1
    assert st.events() == [Event(1, "b", "switch", "1", None, {}, START + DT)]
    st.close()
    with at.open() as ro, pytest.raises(LedgerError):
        ro.write_nodes([("c", "load", True)])


def test_open_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        LedgerStore.open(tmp_path / "missing.sqlite")
    (tmp_path / "empty.sqlite").write_bytes(b"")
    with LedgerStore.open(tmp_path / "empty.sqlite") as st, pytest.raises(LedgerError,
                                                                          match="no such"):
        st.run()


def test_run_ledger_finds_a_sqlite_or_a_postgresql_ledger_of_a_run_folder(tmp_path):
    from homesim.devices.bus.store import LEDGER_FILE, PG_POINTER, run_ledger

    assert run_ledger(tmp_path) is None and run_ledger(tmp_path / "nowhere") is None
    (tmp_path / PG_POINTER).write_text('{"dsn": "postgresql://u@h/db", "schema": "s"}')
    assert run_ledger(tmp_path) == tmp_path / LEDGER_FILE  # LedgerStore.open follows it
    (tmp_path / PG_POINTER).unlink()
    (tmp_path / LEDGER_FILE).write_bytes(b"")
    assert run_ledger(tmp_path) == tmp_path / LEDGER_FILE


def test_a_ledger_of_the_old_layout_is_refused_not_misread(tmp_path):
    """A ledger written before per-window arrays (one ``packet``/``series`` row per tick):
    its per-tick reads and a writer continuing it raise a LedgerError saying to re-run;
    what did not change (run row, windows) still reads."""
    path = tmp_path / "ledger.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE packet (tick BIGINT NOT NULL, sim_time DOUBLE PRECISION NOT NULL, "
        "source TEXT NOT NULL, sink TEXT NOT NULL, carrier TEXT NOT NULL, "
        "joules DOUBLE PRECISION NOT NULL CHECK (joules >= 0));"
        "CREATE TABLE series (tick BIGINT NOT NULL, device TEXT NOT NULL, "
        "metric TEXT NOT NULL, value DOUBLE PRECISION NOT NULL);"
        "CREATE TABLE run (run_id TEXT PRIMARY KEY, home TEXT NOT NULL, created_at TEXT "
        "NOT NULL, start_time DOUBLE PRECISION NOT NULL, dt DOUBLE PRECISION NOT NULL, "
        "ticks BIGINT NOT NULL, manifest TEXT NOT NULL);")
    con.execute("INSERT INTO packet VALUES (0, ?, 'grid', 'load', 'electricity', 5.0)",
                (START,))
    con.execute("INSERT INTO run VALUES ('r', 'unit', '', ?, ?, 1, '{}')", (START, DT))
    con.commit()
    con.close()
    with pytest.raises(LedgerError, match="older homesim.*re-run"):
        LedgerStore.create(path)
    with LedgerStore.open(path) as st:
        assert st.run().run_id == "r"
        reads = [st.flow_totals, lambda: st.per_tick([Meter("electricity")], 0, 1),
                 st.hourly_flows, lambda: st.tick_flows(0, 1), lambda: list(st.packets()),
                 lambda: st.series("b", "soc", 0, 1), lambda: st.export_table("packet")]
        for read in reads:
            with pytest.raises(LedgerError, match="older homesim.*re-run"):
                read()


def test_reads_across_window_edges(at):
    """Ranges that cut windows, flows zero inside a range, sums as the ledger keeps them."""
    st = _store(at)
    rng = np.random.default_rng(7)
    a = rng.uniform(0, 1e4, 10)
    a[[0, 1, 2, 7]] = 0.0  # window 0 = ticks 0-4 non-zero only at 3, 4
    assert st.book_window(0, 0, 5, [Flow("a", "b", "electricity", a[:5])], [], []) == 2
    assert st.book_window(1, 5, 5, [Flow("a", "b", "electricity", a[5:]),
                                    Flow("b", "a", "electricity", np.zeros(5))], [], []) == 4
    st.close()
    with at.open() as ro:
        assert ro.flow_totals(0, 3) == {}  # window 0 overlaps but is zero there
        assert ro.flow_totals(1, 4) == {("a", "b", "electricity"): a[3]}
        assert ro.flow_totals(4, 9)[("a", "b", "electricity")] == pytest.approx(
            a[4:9].sum(), rel=1e-15)
        assert ro.flow_totals()[("a", "b", "electricity")] == (
            math.fsum(a[:5].tolist()) + math.fsum(a[5:].tolist()))
        np.testing.assert_array_equal(ro.flow_series("a", "b", "electricity", 2, 12),
                                      [*a[2:], 0.0, 0.0])
        assert [(t.tick, t.joules) for t in ro.tick_flows(2, 9)] == [
            (k, a[k]) for k in (3, 4, 5, 6, 8)]
        assert [p.tick for p in ro.packets(4, 7)] == [4, 5, 6]
        cols, rows = ro.export_table("packet")
        assert cols == ["tick", "sim_time", "source", "sink", "carrier", "joules"]
        assert [(r[0], r[1], r[5]) for r in rows] == [
            (k, START + k * DT, a[k]) for k in range(10) if a[k]]


def test_export_command_writes_the_table(booked, tmp_path):
    at, _, _ = booked
    env = {**os.environ, **at.env}
    for table in EXPORT_TABLES:
        target = tmp_path / f"{table}.csv"
        res = subprocess.run([*CLI, "export", str(at.run_dir), "--format", "csv", "--table",
                              table, "--out", str(target)], capture_output=True, text=True,
                             env=env)
        assert res.returncode == 0, res.stderr
        rows = list(csv.DictReader(target.open()))
        assert len(rows) == {"packet": 19, "node_balance": 10, "device_metric": 9,
                             "series": 6, "settled_window": 2, "event": 1, "node": 10,
                             "run": 1}[table], table
    rows = list(csv.DictReader((tmp_path / "packet.csv").open()))
    assert rows[0] == {"tick": "0", "sim_time": str(START),
                       "time_utc": "2025-01-01T00:00:00+00:00",
                       "time_local": "2025-01-01T00:00:00+00:00", "source": "sun", "sink": "pv",
                       "carrier": "solar", "joules": "10.0"}
    res = subprocess.run([*CLI, "export", str(at.run_dir), "--table", "sqlite_master"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 2 and "--table must be" in res.stderr


def test_store_imports_no_bus_runtime():
    """The store stays importable without autobahn/twisted or the rest of the bus."""
    code = ("import sys, homesim.devices.bus.store; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('autobahn', 'twisted') or "
            "(m.startswith('homesim.devices.') and m not in ('homesim.devices.bus', "
            "'homesim.devices.bus.store'))]; print(bad); sys.exit(bool(bad))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
