"""Lockstep windows over a real router: equivalence, determinism, conservation, failures."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest

from homesim.devices.bus.store import LedgerStore

from .conftest import (
    assert_same_ledger,
    example,
    homesim_run,
    settled_windows,
    start_run,
    wait_for,
    write_manifest,
)


def test_one_tick_windows_equal_one_day_windows(tmp_path):
    """Windows of 1 tick and of 1 simulated day give the same ledger (≤ 1e-9 relative)."""
    m = write_manifest(tmp_path, example(dt=300, duration="3d"))  # includes a load-shedding Thu
    _, day = homesim_run(m, tmp_path / "day")
    _, tick = homesim_run(m, tmp_path / "tick", "--window", "1")
    assert day["windows"] == 3 and tick["windows"] == 864
    n = assert_same_ledger(tmp_path / "day" / "ledger.sqlite", tmp_path / "tick" / "ledger.sqlite")
    assert n > 2000
    for key in ("load_served", "unserved", "grid_import", "battery_charge"):
        assert day["energy_kwh"][key] == pytest.approx(tick["energy_kwh"][key], rel=1e-9)
    assert day["energy_kwh"]["battery_discharge"] > 0


def _burners(k: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(k)]


def test_same_seed_same_ledger_at_any_speed_and_under_load(tmp_path):
    """max speed vs paced 2400x with the CPU saturated: identical ledgers; another seed differs."""
    data = example(dt=60, duration="4h", start="2025-01-02T16:00:00", seed=7)
    m = write_manifest(tmp_path, data)
    _, fast = homesim_run(m, tmp_path / "max")
    burners = _burners(2)
    try:
        _, paced = homesim_run(m, tmp_path / "paced", "--speed", "2400x")
    finally:
        for b in burners:
            b.kill()
    assert paced["windows"] > fast["windows"]  # really different windowing
    assert_same_ledger(tmp_path / "max" / "ledger.sqlite", tmp_path / "paced" / "ledger.sqlite",
                       rtol=1e-12)
    _, other = homesim_run(m, tmp_path / "seed8", "--seed", "8")
    assert other["energy_kwh"]["load_demand"] != pytest.approx(
        fast["energy_kwh"]["load_demand"], rel=1e-9)


@pytest.mark.quick
def test_example_day_conserves_energy(tmp_path):
    """Every node balances in every tick; the summary is coherent."""
    m = write_manifest(tmp_path, example(dt=60, duration="2d"))
    _, s = homesim_run(m, tmp_path / "run")
    c = s["conservation"]
    assert c["relative_residual"] <= 1e-9
    assert c["worst_abs_residual_j"] < 1e-6
    assert c["unknown_nodes"] == []
    e = s["energy_kwh"]
    assert e["load_served"] + e["unserved"] == pytest.approx(e["load_demand"], rel=1e-9)
    assert e["pv_dc"] <= e["solar_incident"]
    con = sqlite3.connect(tmp_path / "run" / "ledger.sqlite")
    worst = con.execute("SELECT max(abs(max_abs_residual)) FROM node_balance").fetchone()[0]
    nodes = {r[0] for r in con.execute("SELECT DISTINCT node FROM node_balance")}
    assert worst < 1e-6 and {"battery", "inverter", "pv-south", "house"} <= nodes
    with LedgerStore.open(tmp_path / "run" / "ledger.sqlite") as store:
        n_packets = sum(1 for _ in store.packets())
    # exports and the plots
    import pandas as pd

    for fmt in ("csv", "parquet"):
        subprocess.run([sys.executable, "-m", "homesim.infra.cli", "export",
                        str(tmp_path / "run"), "--format", fmt], check=True,
                       capture_output=True)
    pq = pd.read_parquet(tmp_path / "run" / "packet.parquet")
    csv = pd.read_csv(tmp_path / "run" / "packet.csv")
    assert len(pq) == len(csv) == n_packets
    assert set(pq.columns) == {"tick", "sim_time", "time_utc", "time_local", "source", "sink",
                               "carrier", "joules"}
    assert (pq["joules"] >= 0).all()
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Energy on the AC bus by period" in html and "pv-south" in html


def _device_pids(out_dir) -> dict[str, int]:
    """Device/clock/ledger processes of the run writing to ``out_dir``."""
    out = {}
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = p.info["cmdline"] or []
        if "homesim.devices" in cmd and "--device" in cmd and str(out_dir) in " ".join(cmd):
            out[cmd[cmd.index("--device") + 1]] = p.info["pid"]
    return out


def test_kill_9_of_a_device_stops_the_run_naming_it(tmp_path):
    """kill -9 of one device mid-run: the run stops naming it; the ledger is intact."""
    # a year: 60 days at max speed can be over (~2 s) before the kill lands
    m = write_manifest(tmp_path, example(dt=60, duration="365d"))
    out = tmp_path / "run"
    run = start_run(m, out, "--no-report")  # the report of a failed run is not tested here
    try:
        db = out / "ledger.sqlite"
        wait_for(lambda: settled_windows(db) >= 2, 120, "two settled windows")
        pids = _device_pids(out)
        assert len(set(pids.values())) == len(pids) >= 9  # one OS process per device
        os.kill(pids["battery"], signal.SIGKILL)
        _, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGTERM)
    assert run.returncode != 0
    assert "battery" in err and "SIGKILL" in err
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    windows = con.execute("SELECT count(*) FROM settled_window").fetchone()[0]
    assert 2 <= windows < 365
    with LedgerStore.open(db) as store:
        assert next(store.packets(), None) is not None
    time.sleep(0.5)
    assert not [p for p in _device_pids(out)], "orphan device processes left"


def test_silent_device_is_named_after_the_timeout(tmp_path):
    """A device that stops answering (SIGSTOP) is named in a clear error after the timeout."""
    # 8 s: the first window also imports pvlib (pv, inverter) on a loaded machine
    m = write_manifest(tmp_path, example(dt=60, duration="365d", timeout=8))
    out = tmp_path / "run"
    run = start_run(m, out, "--no-report")  # the report of a failed run is not tested here
    pid = None
    try:
        wait_for(lambda: settled_windows(out / "ledger.sqlite") >= 1, 120, "a settled window",
                 proc=run, out=out)
        pid = _device_pids(out)["house"]
        os.kill(pid, signal.SIGSTOP)
        # the timeout (8 s), then teardown: the supervisor continues the stopped process
        # after its SIGTERM, so it does not cost the SIGKILL grace
        _, err = run.communicate(timeout=120)
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGTERM)
    assert run.returncode != 0
    # stopped between its report and its settle, or before its report: named either way
    assert ("device(s) house did not report window" in err
            or "device(s) house did not settle window" in err), err
    assert "within 8 s" in err


def test_ctrl_c_stops_everything_and_keeps_the_ledger(tmp_path):
    """SIGINT to `homesim run`: every process ends, the ledger is readable, summary incomplete."""
    m = write_manifest(tmp_path, example(dt=60, duration="365d"))  # not over before SIGINT
    out = tmp_path / "run"
    run = start_run(m, out)
    wait_for(lambda: settled_windows(out / "ledger.sqlite") >= 2, 120, "settled windows")
    pids = _device_pids(out)
    os.kill(run.pid, signal.SIGINT)
    run.communicate(timeout=120)
    assert run.returncode != 0
    time.sleep(0.5)
    assert not [p for p in pids.values() if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    con = sqlite3.connect(f"file:{out / 'ledger.sqlite'}?mode=ro", uri=True)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and summary["windows"] >= 2
