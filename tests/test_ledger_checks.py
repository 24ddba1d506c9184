"""The ledger's checks of what it receives, driven through its bus handlers without a router:
strict windows, ticks, nodes, devices and arrays; drops counted, never kept; conservation
checked before commit; SQLite errors fail the run and never jam the ledger."""

from __future__ import annotations

import copy
import logging
import math
import sqlite3
from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY as PROM

from homesim.devices.bus.ledger import Ledger
from homesim.devices.bus.protocol import T
from homesim.devices.bus.store import LedgerError, LedgerStore
from homesim.schemas.manifest import Home

START = 1735689600.0
DT = 900.0
RUN = "r"
HOME = {
    "apiVersion": "homesim.io/v1alpha1", "kind": "Home", "metadata": {"name": "checks"},
    "spec": {
        "location": {"latitude": 50, "longitude": 8, "timezone": "UTC"},
        "simulation": {"start": "2025-01-01T00:00:00+00:00", "duration": "1h", "dt": DT},
        "devices": [
            {"name": "weather", "kind": "weather"}, {"name": "sun", "kind": "sun"},
            {"name": "pv", "kind": "pv"}, {"name": "inverter", "kind": "inverter"},
            {"name": "battery", "kind": "battery"}, {"name": "grid", "kind": "grid"},
            {"name": "load", "kind": "load"},
        ]}}
N = 2  # ticks per window; 2 windows = 4 ticks = the whole run


class FakeBus:
    """What the ledger publishes."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.sent.append((topic, payload))

    def settles(self) -> list[dict[str, Any]]:
        return [p for t, p in self.sent if t == T.SETTLE]


def packets(window: int, publisher: str, flows: list[tuple[str, str, str, list[float]]],
            **kw: Any) -> dict[str, Any]:
    return {"run": RUN, "window": window, "tick0": window * N, "n": N, "publisher": publisher,
            "flows": [{"source": a, "sink": b, "carrier": c, "joules": j}
                      for a, b, c, j in flows], **kw}


def window_messages(window: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One balanced window: (packet messages, settles). Values are exact in binary."""
    pk = [packets(window, "pv", [("sun", "pv", "solar", [10.0, 6.0]),
                                 ("pv", "inverter", "electricity", [8.0, 4.0])]),
          packets(window, "inverter", [("inverter", "load", "electricity", [5.0, 4.0]),
                                       ("inverter", "battery", "electricity", [2.0, 0.0]),
                                       ("grid", "inverter", "electricity", [0.0, 1.0])])]

    def s(dev: str, packets: int = 0, **kw: Any) -> dict[str, Any]:
        return {"run": RUN, "window": window, "tick0": window * N, "n": N, "device": dev,
                "packets": packets, **kw}

    st = [s("weather"), s("sun"), s("grid", metrics={"cost": [0.0, 0.25]}),
          s("pv", 1, losses=[2.0, 2.0]), s("inverter", 1, losses=[1.0, 1.0]),
          s("battery", stored0=10.0, stored=[11.5, 11.5], losses=[0.5, 0.0],
            metrics={"soc": [0.5, 0.5]}),
          s("load", losses=[5.0, 4.0], metrics={"demand": [5.0, 4.0]})]
    return pk, st


@pytest.fixture
def led(tmp_path):
    ledger = Ledger(Home.model_validate(HOME), RUN, tmp_path / "ledger.sqlite", START, DT,
                    2 * N)
    ledger.bus = FakeBus()  # type: ignore[assignment]
    yield ledger
    ledger.close()


def feed(led: Ledger, window: int, skip: str | None = None) -> None:
    pk, st = window_messages(window)
    for m in pk:
        led._on_packets(m)
    for m in st:
        if m["device"] != skip:
            led._on_settle(m)


def rows(led: Ledger, sql: str) -> list[tuple]:
    return led.store.db.execute(sql).fetchall()


def dropped_metric(reason: str) -> float:
    return PROM.get_sample_value("homesim_ledger_dropped_messages_total",
                                 {"home": "checks", "reason": reason}) or 0.0


def test_undisturbed_windows_are_booked(led):
    feed(led, 0)
    feed(led, 1)
    assert led.booked == 2 and led.ticks_booked == 4 and led.failed is None
    assert [(p["window"], p.get("error")) for p in led.bus.settles()] == [(0, None), (1, None)]
    assert rows(led, "SELECT window_index, tick0, n FROM settled_window") == [(0, 0, 2),
                                                                              (1, 2, 2)]
    assert led.worst_abs[0] == 0.0 and led.dropped == {}
    assert led._settles == {} and led._packets == {}


@pytest.mark.parametrize("bad, reason", [
    ({"window": 3}, "window"),  # a future window
    ({"window": "0"}, "malformed"),  # strict: "0" is not 0
    ({"window": True}, "malformed"),  # strict: true is not 1
    ({"window": 0.0}, "malformed"),
    ({"run": "other"}, "run"),
    ({"tick0": 1}, "ticks"),
    ({"n": 3}, "malformed"),  # the arrays have 2 values, not 3
    ({"publisher": "mallory"}, "unknown_device"),
])
def test_forged_packets_are_dropped_and_not_kept(led, bad, reason):
    before = dropped_metric(reason)
    forged = packets(0, "grid", [("grid", "load", "electricity", [3.6e9, 3.6e9])])
    forged.update(bad)
    led._on_packets(forged)
    assert led.dropped == {reason: 1}
    assert dropped_metric(reason) == before + 1
    assert led._packets == {} and led._settles == {}
    feed(led, 0)
    feed(led, 1)
    assert led.booked == 2 and led.failed is None
    assert led.flow_totals.get(("grid", "load", "electricity")) is None


def test_a_flow_from_a_device_that_neither_is_nor_balances_an_end_is_refused(led):
    """The battery may publish flows of its own; grid -> load is the inverter's to publish."""
    before = dropped_metric("foreign_flow")
    led._on_packets(packets(0, "battery", [("grid", "load", "electricity", [3.6e9, 3.6e9])]))
    assert led.dropped == {"foreign_flow": 1}
    assert dropped_metric("foreign_flow") == before + 1
    assert led._packets == {}
    feed(led, 0)
    feed(led, 1)
    assert led.booked == 2 and led.failed is None
    assert led.flow_totals.get(("grid", "load", "electricity")) is None


def test_a_message_the_router_says_is_forged_is_counted_and_booked_nowhere(led):
    """The bus drops what the disclosed publisher contradicts and tells the ledger."""
    before = dropped_metric("forged")
    led._on_forged(T.packets("load"), "inverter", "load")
    led._on_forged(T.SETTLE, "battery", None)
    assert led.dropped == {"forged": 2}
    assert dropped_metric("forged") == before + 2
    feed(led, 0)
    feed(led, 1)
    assert led.booked == 2 and led.failed is None


def test_unknown_nodes_wrong_lengths_and_non_finite_packets_are_dropped(led):
    led._on_packets(packets(0, "inverter", [("mars", "venus", "electricity", [1.0, 1.0])]))
    led._on_packets(packets(0, "inverter", [("grid", "load", "electricity", [1.0])]))
    led._on_packets(packets(0, "inverter", [("grid", "load", "electricity", [1.0, math.nan])]))
    led._on_packets(packets(0, "inverter", [("grid", "load", "plasma", [1.0, 1.0])]))
    led._on_packets(["not", "a", "message"])
    assert led.dropped == {"unknown_node": 1, "malformed": 4}
    assert led._packets == {}
    feed(led, 0)
    assert led.booked == 1 and led.unknown_nodes == set()


def test_bad_settles_are_dropped_and_the_real_one_is_booked(led):
    _, st = window_messages(0)
    battery = next(s for s in st if s["device"] == "battery")
    cases = {
        "nonfinite": [{**battery, "stored": [math.nan, 11.5]},
                      {**battery, "stored0": math.inf},
                      {**battery, "losses": [0.5, math.nan]},
                      {**battery, "metrics": {"soc": [math.nan, 0.5]}}],
        "ticks": [{**battery, "stored": [11.5]}, {**battery, "losses": [0.5, 0.0, 0.0]},
                  {**battery, "n": 1}],
        "malformed": [{**battery, "window": "0"}, {**battery, "window": True},
                      {**battery, "stored0": None}, {**battery, "extra": 1}, None],
        "unknown_device": [{**battery, "device": "mallory"}],
        "window": [{**battery, "window": 5}],
        "run": [{**battery, "run": "x"}],
    }
    for msgs in cases.values():
        for m in msgs:
            led._on_settle(m)
    assert led.dropped == {k: len(v) for k, v in cases.items()}
    assert led._settles == {}
    feed(led, 0)
    assert led.booked == 1 and led.failed is None


def test_replays_and_duplicates_are_dropped(led):
    feed(led, 0)
    _, st = window_messages(0)
    pk, _ = window_messages(0)
    led._on_settle(st[5])  # a replayed settle of a booked window
    led._on_packets(pk[1])  # replayed packets of a booked window
    assert led.dropped == {"late": 2}
    pk1, st1 = window_messages(1)
    led._on_settle(st1[0])
    led._on_settle(copy.deepcopy(st1[0]))  # the same message twice
    led._on_packets(pk1[0])
    led._on_packets(copy.deepcopy(pk1[0]))
    assert led.dropped == {"late": 2, "duplicate": 2}
    feed(led, 1)
    assert led.booked == 2 and led.failed is None
    assert rows(led, "SELECT count(*) FROM settled_window") == [(2,)]


def test_only_the_window_being_booked_and_the_next_are_kept(led):
    """Nothing else is held in memory, however many windows are forged."""
    for w in range(2, 200):
        led._on_packets(packets(w, "grid", [("grid", "load", "electricity", [1.0, 1.0])]))
        _, st = window_messages(0)
        led._on_settle({**st[0], "window": w})
    assert led._packets == {} and led._settles == {}
    assert led.dropped == {"window": 2 * 198}


def test_rate_limited_log(led, caplog):
    with caplog.at_level(logging.WARNING, logger="homesim.ledger"):
        for _ in range(50):
            led._on_packets(packets(7, "grid", []))
        led._on_packets(packets(0, "grid", [("mars", "venus", "heat", [1.0, 1.0])]))
    lines = [r.getMessage() for r in caplog.records if r.name == "homesim.ledger"]
    assert len(lines) == 2, lines
    assert "(window, 1 so far)" in lines[0] and "unknown node 'mars'" in lines[1]
    assert led.dropped == {"window": 50, "unknown_node": 1}
    assert led.status()["dropped"] == {"window": 50, "unknown_node": 1}


def test_conflicting_settles_fail_the_run(led):
    _, st = window_messages(0)
    led._on_settle(st[5])
    led._on_settle({**st[5], "stored": [11.5, 11.25]})
    (err,) = led.bus.settles()
    assert err["device"] == "ledger" and err["window"] == 0
    assert "two different settles of battery for window 0" in err["error"]
    feed(led, 0)
    assert led.booked == 0 and led.dropped["failed"] > 0
    assert rows(led, "SELECT count(*) FROM settled_window") == [(0,)]


def test_more_packet_messages_than_announced_fail_the_window(led):
    led._on_packets(packets(0, "grid", [("grid", "load", "electricity", [0.0, 0.0])]))
    feed(led, 0)
    (err,) = led.bus.settles()
    assert "more packet messages than announced for window 0: grid (1 received, 0 " \
           "announced)" in err["error"]
    assert list(led.store.packets()) == []


def test_unbalanced_node_fails_before_commit(led):
    """A forged but well-formed packet that breaks a balance: nothing of the window is
    committed; the ledger's error settle names node, tick and residual."""
    pk, st = window_messages(0)
    pk[1]["flows"].append({"source": "grid", "sink": "load", "carrier": "electricity",
                           "joules": [0.0, 3.6e9]})
    for m in pk + st:
        (led._on_packets if "flows" in m else led._on_settle)(m)
    (err,) = led.bus.settles()
    assert err["error"].startswith("WindowFailure: node load does not balance at tick 1 "
                                   "(window 0): residual 3.6e+09 J")
    assert led.booked == 0 and led.flow_totals == {}
    for table in ("packet", "node_balance", "device_metric", "settled_window"):
        assert rows(led, f"SELECT count(*) FROM {table}") == [(0,)]
    summary = led.summary()
    assert summary["ledger"]["error"] == led.failed and summary["complete"] is False


def test_tiny_float_residuals_pass(led):
    pk, st = window_messages(0)
    st[5]["stored"] = [11.5 + 1e-7, 11.5]  # far above float noise (~1e-9 J), below 1e-3 J
    for m in pk + st:
        (led._on_packets if "flows" in m else led._on_settle)(m)
    assert led.booked == 1 and led.failed is None
    assert led.worst_abs[0] == pytest.approx(1e-7, rel=1e-3)


def test_sqlite_error_fails_the_run_and_never_jams(led, tmp_path):
    path = led.store.path
    writable = led.store.db
    led.store.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    feed(led, 0)
    (err,) = led.bus.settles()
    assert "SQLITE_READONLY" in err["error"] and err["error"].startswith("LedgerError")
    assert led.booked == 0
    led.store.db.close()
    led.store.db = writable
    # the store is usable again: no transaction was left open
    assert not writable.in_transaction
    led.store.write_events([])
    assert rows(led, "SELECT count(*) FROM settled_window") == [(0,)]


def test_a_transaction_left_open_does_not_jam_the_store(tmp_path):
    st = LedgerStore.create(tmp_path / "l.sqlite")
    st.write_run("r", "h", START, DT, 4, "{}")
    st.db.execute("BEGIN")  # e.g. a failed ROLLBACK left it open
    st.db.execute("INSERT INTO settled_window VALUES (9, 0, 1, 0)")
    assert st.book_window(0, 0, 1, [], [], []) == 0
    assert st.db.execute("SELECT window_index FROM settled_window").fetchall() == [(0,)]
    with pytest.raises(LedgerError, match="UNIQUE"):
        st.book_window(0, 0, 1, [], [], [])
    assert not st.db.in_transaction
    assert st.book_window(1, 1, 1, [], [], []) == 0
    st.close()


def test_error_settle_of_a_device_stops_booking(led):
    _, st = window_messages(0)
    led._on_settle({k: v for k, v in st[6].items() if k not in ("losses", "metrics")}
                   | {"error": "ValueError: boom"})
    feed(led, 0, skip="load")
    assert led.booked == 0 and led.bus.settles() == []
    assert np.isfinite(led.worst_abs[0])
