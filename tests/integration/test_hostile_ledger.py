"""Forged and replayed messages against a running `homesim run`: the ledger drops them (the run
completes with exactly the undisturbed ledger) or fails the run naming the cause—never exit 0
with a different ledger.

The forger is an insider: a second process that joins the run's router with the credential
of a device of the home (``house``, as if that process were compromised; an anonymous client
cannot even join), and publishes the forgery when window 2 opens; the run is paced (20000x,
~18 windows) so that it is injected mid-run. What the house may not publish at all (the
clock's topics) the router refuses; what it publishes under another device's name the router
discloses as the house's, and every receiver drops it as ``forged``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from homesim.devices.bus.store import LedgerStore

from .conftest import (
    assert_same_ledger,
    example,
    homesim_run,
    start_run,
    wait_for,
    write_manifest,
)

SPEED = "20000x"
INJECT_AT = 2  # window at whose opening the forgery is published

FORGER = r"""
import json, math, os, sys
sys.modules.setdefault("_bjdata", None)
from autobahn.twisted.component import Component, run
from autobahn.wamp.types import PublishOptions, SubscribeOptions
from twisted.internet import reactor

from autobahn.wamp.exception import ApplicationError

info, mode, at = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
authid, secret = sys.argv[4], open(sys.argv[5]).read().strip()
OWN = f"homesim.packets.{authid}"  # the only packet topic the router lets it publish on
comp = Component(transports=[{"type": "rawsocket", "url": info["rs_url"],
                              "serializer": "msgpack", "max_retries": 5,
                              "initial_retry_delay": 0.5}],
                 realm=info["realm"],
                 authentication={"wampcra": {"authid": authid, "secret": secret}})
ACK = PublishOptions(acknowledge=True)
seen = {}  # (window, device) -> a settle as published

def emit(**obj):
    os.write(1, (json.dumps(obj) + "\n").encode())

def packets(w, window, publisher, flows, tick0=None):
    return {"run": w["run"], "window": window, "n": w["n"], "publisher": publisher,
            "tick0": w["tick0"] if tick0 is None else tick0,
            "flows": [{"source": a, "sink": b, "carrier": "electricity", "joules": j}
                      for a, b, j in flows]}

def burst(w):
    n = w["n"]
    big = [3.6e9] + [0.0] * (n - 1)  # 1 MWh from the grid into the house in one tick
    if mode == "future":
        return [(OWN, packets(w, w["window"] + 3, "inverter",
                                            [("grid", "house", big)], w["tick0"] + 3 * n))]
    if mode == "window_types":
        return [(OWN, packets(w, bad, "inverter", [("grid", "house", big)]))
                for bad in (str(w["window"]), True, str(w["window"] + 1), float(w["window"]))]
    if mode == "mars":
        return [(OWN, packets(w, w["window"], "inverter",
                                            [("mars", "venus", [1e6] * n)]))]
    if mode == "nan":
        return [("homesim.settle", {"run": w["run"], "window": w["window"], "tick0": w["tick0"],
                                    "n": n, "device": "battery", "packets": 0,
                                    "stored0": 1e7, "stored": [math.nan] * n,
                                    "losses": [0.0] * n})]
    if mode == "replay":  # the packet messages of earlier windows, again (a device may
        # read packets, not settles)
        return [(OWN, m) for (win, dev), m in sorted(seen.items())
                if win < w["window"]]
    if mode == "clock_window":  # windows the clock never opened: 10^9, true, a gap
        return [("homesim.clock.window", {**w, "window": 10**9, "tick0": 10**9 * n}),
                ("homesim.clock.window", {**w, "window": True}),
                ("homesim.clock.window", {**w, "window": w["window"] + 2,
                                          "tick0": w["tick0"] + 2 * n})]
    if mode == "forged_settles":  # every participant "settles" the open window at once
        names = ["weather", "sun", "pv-south", "inverter", "battery", "grid", "house",
                 "ledger"]
        return [("homesim.settle", {"run": w["run"], "window": w["window"],
                                    "tick0": w["tick0"], "n": n, "device": d, "packets": 0})
                for d in names]
    if mode == "current":
        return [(OWN, packets(w, w["window"], "inverter",
                                            [("grid", "house", big)]))]
    if mode == "inverter_topic":  # on the inverter's own topic: the router refuses it
        return [("homesim.packets.inverter", packets(w, w["window"], "inverter",
                                                     [("grid", "house", big)]))]
    if mode == "own_foreign":  # under its own name, a flow that is the inverter's
        return [(OWN, packets(w, w["window"], "house",
                                            [("grid", "battery", big)]))]
    raise SystemExit(f"unknown mode {mode}")

done = []

@comp.on_join
async def joined(session, details):
    def on_packets(m):
        if isinstance(m, dict) and m.get("window", 99) < at:
            seen[(m["window"], m["publisher"])] = m

    async def on_window(w):
        if done or w["window"] < at:
            return
        done.append(w["window"])
        msgs = burst(w)
        refused = []
        for topic, msg in msgs:
            try:
                await session.publish(topic, msg, options=ACK)
            except ApplicationError as exc:
                refused.append(exc.error)
        emit(injected=len(msgs), refused=refused, window=w["window"], mode=mode)
        session.leave()

    await session.subscribe(on_packets, "homesim.packets.",
                            options=SubscribeOptions(match="prefix"))
    await session.subscribe(on_window, "homesim.clock.window")
    emit(ready=True)

@comp.on_leave
def left(session, details):
    if reactor.running:
        reactor.stop()

run([comp], log_level="error")
"""


def _manifest(tmp: Path) -> Path:
    return write_manifest(tmp, example(dt=300, duration="2d", seed=42))


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory) -> Path:
    """The same manifest, seed and speed, nobody interfering."""
    tmp = tmp_path_factory.mktemp("undisturbed")
    _, summary = homesim_run(_manifest(tmp), tmp / "run", "--speed", SPEED)
    assert summary["ledger"] == {"error": None, "dropped_messages": {}}
    return tmp / "run" / "ledger.sqlite"


def _attacked(tmp: Path, mode: str, authid: str = "house"
              ) -> tuple[subprocess.CompletedProcess, str, dict | None]:
    """Run with the forger (as ``authid``) injecting ``mode``; returns (run result, forger
    output, summary)."""
    out = tmp / "run"
    run = start_run(_manifest(tmp), out, "--speed", SPEED)
    forger = None
    try:
        info = wait_for(lambda: (out / "router.json").exists()
                        and json.loads((out / "router.json").read_text()), 120, "router.json",
                        proc=run, out=out)
        # the router listens once the ledger has joined
        wait_for(lambda: (out / "logs" / "ledger.log").exists()
                 and "joined realm" in (out / "logs" / "ledger.log").read_text(), 120,
                 "the ledger to join", proc=run, out=out)
        forger = subprocess.Popen([sys.executable, "-c", FORGER, json.dumps(info), mode,
                                   str(INJECT_AT), authid, str(out / "secrets" / authid)],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        stdout, stderr = run.communicate(timeout=240)
        f_out, f_err = forger.communicate(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGTERM)
            run.wait()
        if forger is not None and forger.poll() is None:
            forger.kill()
            forger.wait()
    assert '"injected"' in f_out, f"the forger did not inject:\n{f_out}\n{f_err}"
    summary = None
    if (out / "summary.json").exists():
        summary = json.loads((out / "summary.json").read_text())
    res = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    return res, f_out, summary


def _totals(db: Path) -> dict[str, list]:
    with LedgerStore.open(db) as store:
        flows = store.flow_totals()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            "balances": con.execute(
                "SELECT node, sum(energy_in), sum(energy_out), sum(delta_stored), sum(losses)"
                " FROM node_balance GROUP BY node ORDER BY node").fetchall(),
            "metrics": con.execute(
                "SELECT device, metric, sum(total), min(minimum), max(maximum)"
                " FROM device_metric GROUP BY device, metric ORDER BY device, metric"
            ).fetchall(),
            "ticks": con.execute("SELECT sum(n), max(tick0 + n) FROM settled_window"
                                 ).fetchall(),
            "nodes": sorted({n for key in flows for n in key[:2]}),
        }
    finally:
        con.close()


def _assert_undisturbed(db: Path, base: Path) -> None:
    assert_same_ledger(db, base, rtol=1e-12)
    a, b = _totals(db), _totals(base)
    assert a["ticks"] == b["ticks"] and a["nodes"] == b["nodes"]
    for key in ("balances", "metrics"):
        assert [r[:-4] if key == "balances" else r[:2] for r in a[key]] == \
               [r[:-4] if key == "balances" else r[:2] for r in b[key]]
        for ra, rb in zip(a[key], b[key], strict=True):
            nums_a = [x for x in ra if isinstance(x, float)]
            nums_b = [x for x in rb if isinstance(x, float)]
            assert nums_a == pytest.approx(nums_b, rel=1e-9, abs=1e-6), (ra, rb)


def _assert_failed_loudly(res: subprocess.CompletedProcess, summary: dict | None,
                          db: Path, *causes: str) -> None:
    """Non-zero exit naming one of ``causes``; nothing forged on disk."""
    assert res.returncode != 0
    err = " ".join(res.stderr.split())  # rich wraps long lines
    assert "run failed" in err and any(c in err for c in causes), err[-3000:]
    assert summary is not None and summary["complete"] is False
    with LedgerStore.open(db) as store:
        assert not [p for p in store.packets() if p.joules >= 3.6e9 or p.source == "mars"]


@pytest.mark.parametrize("mode, reasons", [
    ("future", {"forged"}),  # grid→house 3.6e9 J for window + 3, as the inverter
    ("window_types", {"forged"}),  # "window": "N", true, 2.0, as the inverter
    ("nan", {"forged"}),  # a battery settle with NaN stored
    ("replay", {"forged"}),  # the inverter's packets of windows 0 and 1, again
    ("mars", {"forged"}),  # mars→venus as the inverter
    ("current", {"forged"}),  # a second message of the inverter for the open window
])
def test_forged_messages_are_dropped_and_the_ledger_is_undisturbed(tmp_path, undisturbed,
                                                                   mode, reasons):
    res, _, summary = _attacked(tmp_path, mode)
    assert res.returncode == 0, res.stderr[-3000:]
    assert summary is not None and summary["complete"] and summary["ledger"]["error"] is None
    dropped = summary["ledger"]["dropped_messages"]
    assert dropped and set(dropped) <= reasons, dropped
    assert summary["conservation"]["unknown_nodes"] == []
    _assert_undisturbed(tmp_path / "run" / "ledger.sqlite", undisturbed)


def test_a_device_cannot_publish_on_another_devices_packet_topic(tmp_path, undisturbed):
    """The house publishes on ``homesim.packets.inverter``: the router refuses it (a device
    may publish only on its own packet topic); the run books the undisturbed ledger."""
    res, f_out, summary = _attacked(tmp_path, "inverter_topic")
    assert '"refused": ["wamp.error.not_authorized"]' in f_out, f_out
    assert res.returncode == 0, res.stderr[-3000:]
    assert summary is not None and summary["complete"]
    assert summary["ledger"]["dropped_messages"] == {}
    _assert_undisturbed(tmp_path / "run" / "ledger.sqlite", undisturbed)


def test_a_device_cannot_book_what_it_does_not_own(tmp_path, undisturbed):
    """The house, under its own name, publishes grid→battery 3.6e9 J (a flow the inverter
    balances; the house is neither end) for the open window: the ledger refuses it as
    ``foreign_flow``; the run completes with the undisturbed ledger. (A flow into the house
    under its own name is not refused there, but its settle announced no packets, so the
    window fails loudly: "more packet messages than announced".)"""
    res, _, summary = _attacked(tmp_path, "own_foreign")
    assert res.returncode == 0, res.stderr[-3000:]
    assert summary is not None and summary["complete"]
    dropped = summary["ledger"]["dropped_messages"]
    assert set(dropped) <= {"foreign_flow", "late"} and dropped, dropped
    _assert_undisturbed(tmp_path / "run" / "ledger.sqlite", undisturbed)


def test_forged_clock_windows_do_not_open(tmp_path, undisturbed):
    """``homesim.clock.window`` with window 10^9, ``true`` or a gap: the router refuses all
    three (only the clock may publish there); before access control the grid failed with
    KeyError and the run stopped. The run completes with the undisturbed ledger."""
    res, f_out, summary = _attacked(tmp_path, "clock_window")
    assert '"refused": ["wamp.error.not_authorized", "wamp.error.not_authorized", ' \
           '"wamp.error.not_authorized"]' in f_out, f_out
    assert res.returncode == 0, res.stderr[-3000:]
    assert summary is not None and summary["complete"] and summary["ledger"]["error"] is None
    _assert_undisturbed(tmp_path / "run" / "ledger.sqlite", undisturbed)


def test_forged_settles_never_end_in_success_with_a_different_ledger(tmp_path, undisturbed):
    """Well-formed settles of every device and of the ledger for the open window (before:
    "✓ completed" with 80 of 180 windows booked). The clock cannot tell them from the real
    ones, so it may close the window early; then the run must not end in ✓ unless the
    ledger is the undisturbed one."""
    res, _, summary = _attacked(tmp_path, "forged_settles")
    db = tmp_path / "run" / "ledger.sqlite"
    if res.returncode == 0:
        assert summary is not None and summary["complete"]
        _assert_undisturbed(db, undisturbed)
        return
    err = " ".join(res.stderr.split())
    assert "run failed" in err, err[-3000:]
    assert "✓" not in res.stdout
